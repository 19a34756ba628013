import { type RawBuilder, sql } from "kysely";
import { DAY_MS, HOUR_MS, MONDAY_OFFSET_MS, WEEK_MS } from "../time";

// The usage rows of a statement that cuts or filters by `plan`, `pricing_model` or
// `billing_mode`, each carrying the plan of the customer's subscription phase for its product in
// force at the start of its hours: the latest phase to start at or before that instant and not
// ended by it (end_at NULL or after it); no plan (NULL) when none is.
//
// The plan of a (customer, product) changes only where a phase starts or ends, so it is resolved
// once per stretch between those instants, not once per row. `cut` holds each (customer,
// product)'s boundaries inside the range, rounded up to the hour (a phase starting at 10:30 is
// first in force at the 11:00 hour's start: the hour of 10:00 keeps the plan in force at 10:00),
// and the range's own start; `iv` decomposes the range into the elementary intervals [a, b)
// between consecutive boundaries, each with the plan in force at `a` by the latest-start rule,
// which holds for every hour starting inside it (no phase starts or ends in between), however the
// phases overlap. Ties between phases starting at the same instant go to the greater plan id, so
// the answer does not depend on the order SQLite reads them in.
//
// Each of the statement's scans (whole UTC weeks, whole UTC days, the hours at the range's edges
// or an edge's day less its hours outside the range: compile.ts `usageScans`) then reads its
// table as it would without the plan, every row joined once to the interval its first hour
// starts in: a weekly or daily row that runs past that interval's end (a boundary falls inside
// its week or day) is dropped, and the days of such a week and the hours of such a day are read
// instead, by key, from the finer tables, the same test again on the days. The intervals tile
// everything the scans read (an edge's whole day too), so a subtracted hour takes the plan of
// its own hour. A (customer, product) with no phase there has no interval: its rows join none
// and keep plan NULL, as the hours no phase covers do, so the statement's rows add up to the
// usage without the plan. A week is its days summed and a day its hours (store/rollups.ts,
// schema/0029), so the answer is the hours' to the nano. One join for all the scans, after their
// UNION ALL: SQLite builds its automatic index on `iv` once, where a join in each arm of the
// compound may scan `iv` for every row.
//
// What the plan decides is looked up per plan, not per row: its billing mode (a plan with a
// minimum is a commitment the usage draws down, any other bills the usage as used) from `pb`,
// one row per plan, and how it prices a metric from `pm`, one row per (plan, metric) the plan
// prices: its priced component (a tiered one with its mode; a quota only rides on a price), the
// first by position if ever there were two.

type Raw = RawBuilder<unknown>;

/** One scan of a statement: a customer rollup table and the stretch of it to read; a subtracted
 * one (the hours of an edge's UTC day outside the range, beside that day's row) is carried
 * negated. */
export interface PlanScan {
  table: string;
  from: number;
  to: number;
  subtract?: true;
}

export interface PlanFromOptions {
  tenantId: string;
  scans: PlanScan[];
  /** The finer tables a straddled week's days and a straddled day's hours are read from. */
  daily: string;
  hourly: string;
  /** The columns each scan carries out (compile.ts `Source.columns`), and of those the summed
   * ones, negated out of a subtracted scan. */
  columns: string[];
  sums: string[];
  /** A scan's time segments ([start, end, …] tuples, JSON), or null without time buckets. */
  segmentsOf: ((from: number, to: number) => string) | null;
  /** Which of billing_mode and pricing_model the statement reads (the plan is always carried). */
  billingMode: boolean;
  pricingModel: boolean;
}

const ceilTo = (t: number, unit: number) => Math.ceil(t / unit) * unit;
const H = sql.lit(HOUR_MS);
const D = sql.lit(DAY_MS);
// UTC weeks start on Monday 00:00 UTC (domain/time.ts).
const weekOf = (t: Raw): Raw =>
  sql`(${t} - (${t} + ${sql.lit(MONDAY_OFFSET_MS)}) % ${sql.lit(WEEK_MS)})`;
const dayOf = (t: Raw): Raw => sql`(${t} - ${t} % ${D})`;
const GRAINS = { hourly: HOUR_MS, daily: DAY_MS, weekly: WEEK_MS } as const;
const grainOf = (table: string): number => {
  const suffix = table.slice(table.lastIndexOf("_") + 1) as keyof typeof GRAINS;
  const grain = GRAINS[suffix];
  if (grain === undefined) throw new RangeError(`no grain for ${table}`);
  return grain;
};
/** The starts of the days of a week or the hours of a day, from its start. */
const offsets = (unit: number, count: number) =>
  JSON.stringify(Array.from({ length: count }, (_, i) => i * unit));

/** D1 caps the terms of one compound SELECT at five: more arms are nested in compounds of
 * their own, each read as a subquery. */
export const COMPOUND_TERMS = 5;
function unionAll(arms: Raw[]): Raw {
  if (arms.length <= COMPOUND_TERMS) return sql.join(arms, sql` UNION ALL `);
  const size = Math.ceil(arms.length / COMPOUND_TERMS);
  const groups = Array.from({ length: Math.ceil(arms.length / size) }, (_, i) =>
    arms.slice(i * size, (i + 1) * size),
  );
  return unionAll(groups.map((g) => sql`SELECT * FROM (${unionAll(g)})`));
}

/** A derived table `(WITH … SELECT …)` of the statement's usage rows with their plan (`plan_id`),
 * and `billing_mode` and `priced_model` (NULL where the plan prices the metric with nothing)
 * when asked for; `seg` with time segments. */
export function planResolvedFrom(o: PlanFromOptions): Raw {
  const t = o.tenantId;
  // The intervals tile what the scans read: the range, and the whole UTC days at its edges that
  // are read as a day less its hours outside the range. Boundaries are rounded up to the hour:
  // the rows are hours (or whole days and weeks of them) starting in [from, to), which are the
  // ones starting in [ceil(from), ceil(to)).
  const rangeFrom = Math.min(...o.scans.map((scan) => scan.from));
  const rangeTo = Math.max(...o.scans.map((scan) => scan.to));
  const from = ceilTo(rangeFrom, HOUR_MS);
  const to = ceilTo(rangeTo, HOUR_MS);
  const cols = (alias: string, negated = false) =>
    sql.join(
      o.columns.map((c) =>
        negated && o.sums.includes(c)
          ? sql`-${sql.ref(`${alias}.${c}`)} AS ${sql.ref(c)}`
          : sql`${sql.ref(`${alias}.${c}`)} AS ${sql.ref(c)}`,
      ),
    );
  const seg = o.segmentsOf ? sql`, b.value AS seg` : sql``;
  /** The segment a row at `start` falls in (one: every segment boundary is on the scan's grain). */
  const segJoin = (scan: PlanScan, start: Raw) =>
    o.segmentsOf
      ? sql`CROSS JOIN json_each(${o.segmentsOf(scan.from, scan.to)}) b
          ON ${start} >= b.value ->> 0 AND ${start} < b.value ->> 1`
      : sql``;
  /** The blocks (weeks or days) of the scans that a boundary falls inside, by (customer,
   * product). */
  const straddled = (scans: PlanScan[], block: (x: Raw) => Raw) =>
    sql`(SELECT DISTINCT customer_id, product_id, ${block(sql`a`)} AS start FROM iv
      WHERE (${sql.join(
        scans.map((scan) => sql`(a > ${scan.from} AND a < ${scan.to})`),
        sql` OR `,
      )}) AND ${block(sql`a`)} <> a)`;
  /** The rows of `table` inside the scans' straddled blocks, read by key. */
  const finer = (
    scans: PlanScan[],
    table: string,
    block: (x: Raw) => Raw,
    unit: number,
    n: number,
  ) =>
    sql`SELECT ${cols("r")}, ${sql.lit(unit)} AS span${seg}
      FROM ${straddled(scans, block)} k
      CROSS JOIN json_each(${offsets(unit, n)}) o
      CROSS JOIN ${sql.table(table)} r ON r.tenant_id = ${t} AND r.start = k.start + o.value
        AND r.customer_id = k.customer_id AND r.product_id = k.product_id
      ${segJoin({ table, from: rangeFrom, to: rangeTo }, sql`r.start`)}`;

  const scans = o.scans.map((scan) => {
    const grain = grainOf(scan.table);
    return o.segmentsOf
      ? sql`SELECT ${cols("r", scan.subtract)}, ${sql.lit(grain)} AS span${seg}
          FROM json_each(${o.segmentsOf(scan.from, scan.to)}) b
          CROSS JOIN ${sql.table(scan.table)} r
          WHERE r.tenant_id = ${t} AND r.start >= b.value ->> 0 AND r.start < b.value ->> 1`
      : sql`SELECT ${cols("r", scan.subtract)}, ${sql.lit(grain)} AS span
          FROM ${sql.table(scan.table)} r
          WHERE r.tenant_id = ${t} AND r.start >= ${scan.from} AND r.start < ${scan.to}`;
  });
  const weeks = o.scans.filter((scan) => grainOf(scan.table) === WEEK_MS);
  const days = o.scans.filter((scan) => grainOf(scan.table) >= DAY_MS);
  const finerRows = [
    ...(weeks.length > 0 ? [finer(weeks, o.daily, weekOf, DAY_MS, 7)] : []),
    ...(days.length > 0 ? [finer(days, o.hourly, dayOf, HOUR_MS, 24)] : []),
  ];
  const rows = unionAll([...scans, ...finerRows]);

  return sql`(WITH ph AS MATERIALIZED (
      SELECT s.customer_id, p.product_id, sp.plan_id, sp.start_at,
        (sp.start_at + ${H} - 1) / ${H} * ${H} AS a, (sp.end_at + ${H} - 1) / ${H} * ${H} AS b
      FROM subscriptions s
      CROSS JOIN subscription_phases sp ON sp.tenant_id = s.tenant_id AND sp.subscription_id = s.id
      CROSS JOIN plans p ON p.tenant_id = sp.tenant_id AND p.id = sp.plan_id
      WHERE s.tenant_id = ${t} AND sp.start_at < ${rangeTo}
        AND (sp.end_at IS NULL OR sp.end_at > ${rangeFrom})
    ),
    cut AS (
      SELECT customer_id, product_id, ${from} AS t FROM ph
      UNION SELECT customer_id, product_id, a FROM ph WHERE a > ${from} AND a < ${to}
      UNION SELECT customer_id, product_id, b FROM ph WHERE b > ${from} AND b < ${to}
    ),
    el AS MATERIALIZED (
      SELECT customer_id, product_id, t AS a,
        COALESCE(LEAD(t) OVER (PARTITION BY customer_id, product_id ORDER BY t), ${to}) AS b
      FROM cut
    ),
    iv AS MATERIALIZED (
      SELECT el.customer_id, el.product_id, el.a, el.b,
        (SELECT ph.plan_id FROM ph WHERE ph.customer_id = el.customer_id
          AND ph.product_id = el.product_id AND ph.a <= el.a AND (ph.b IS NULL OR ph.b > el.a)
          ORDER BY ph.start_at DESC, ph.plan_id DESC LIMIT 1) AS plan_id
      FROM el
    )${
      o.billingMode
        ? sql`,
    pb AS MATERIALIZED (
      SELECT p.id AS plan_id, CASE WHEN EXISTS (SELECT 1 FROM plan_components m
          WHERE m.tenant_id = p.tenant_id AND m.plan_id = p.id AND m.type = 'minimum')
        THEN 'commitment' ELSE 'in_arrears' END AS billing_mode
      FROM plans p WHERE p.tenant_id = ${t}
    )`
        : sql``
    }${
      o.pricingModel
        ? sql`,
    pm AS MATERIALIZED (
      SELECT pc.plan_id, pc.metric_id, MIN(pc.position) AS position,
        CASE WHEN pc.type = 'tiered'
          THEN 'tiered_' || COALESCE(json_extract(pc.spec, '$.mode'), 'graduated')
          ELSE pc.type END AS priced_model
      FROM plan_components pc
      WHERE pc.tenant_id = ${t} AND pc.type IN ('per_unit', 'tiered', 'package')
      GROUP BY pc.plan_id, pc.metric_id
    )`
        : sql``
    }
    SELECT u.*, iv.plan_id${o.billingMode ? sql`, pb.billing_mode` : sql``}${
      o.pricingModel ? sql`, pm.priced_model` : sql``
    }
    FROM (${rows}) u
    LEFT JOIN iv ON iv.customer_id = u.customer_id AND iv.product_id = u.product_id
      AND iv.a <= u.start AND u.start < iv.b
    ${o.billingMode ? sql`LEFT JOIN pb ON pb.plan_id = iv.plan_id` : sql``}
    ${
      o.pricingModel
        ? sql`LEFT JOIN pm ON pm.plan_id = iv.plan_id AND pm.metric_id = u.metric_id`
        : sql``
    }
    WHERE iv.b IS NULL OR u.start + u.span <= iv.b)`;
}
