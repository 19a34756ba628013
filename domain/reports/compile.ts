import {
  type CompiledQuery,
  DummyDriver,
  Kysely,
  type RawBuilder,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  sql,
} from "kysely";
import type {
  ReportCell,
  ReportColumn,
  ReportDatasetName,
  ReportResult,
} from "../../contracts/reports";
import { formatMoney, formatScaled, QUANTITY_SCALE } from "../money";
import { DAY_MS, MONDAY_OFFSET_MS, WEEK_MS } from "../time";
import { type Segment, segments, ZoneClock } from "./buckets";
import { datasetOf, TIME_DIMENSIONS } from "./catalog";
import { pipelineSource } from "./pipeline-source";
import { COMPOUND_TERMS, planResolvedFrom } from "./plan-source";
import type { FilledQuery } from "./query";
import {
  readsTenantSessionHours,
  readsWholeSessions,
  sessionsSource,
  straddlingSessionHours,
  wholeSessionsInside,
} from "./sessions-source";

// A checked report query → SQL for D1 (SQLite). Kysely is used as a query builder only: it
// composes the chosen dimensions, measures and filters without string concatenation and
// compiles to `{sql, parameters}`, which store/reports.ts runs with
// `db.prepare(sql).bind(...parameters)` (Kysely's "splitting query building and execution").
// Every value a caller sends is a bound parameter; identifiers come only from the tables below.
//
// Tenant isolation is the compiler's: the base table is always constrained to the tenant, and
// every lookup (a customer's segment, a payment's invoice) is a correlated subquery matching
// the base row's tenant_id; the plan intervals are built from the tenant's phases alone.
//
// Time buckets: the bucket boundaries in the query's zone, DST included, are computed in
// TypeScript (domain/reports/buckets.ts) and bound as one JSON array of [start, end, time,
// period, hour_of_week] segments; SQL joins each row to its segment by range. Usage is read from
// the daily rollups for the whole UTC days of the range when no bucket boundary falls inside
// one (no time bucket, or UTC days, weeks, months), and from the hourly ones for the partial days
// at its edges (a local day in Madrid or New York is never a UTC day: its range is all whole days
// but the first and last), the scans' UNION ALL summed as one table; a statement whose buckets
// cut UTC days reads only hours. A daily row is the sum of its day's hourly rows, written in the
// same transaction (store/rollups.ts), so either answers the same. The plan (and the pricing
// model and billing mode that follow from it) is the one in force at the start of each hour:
// a statement that cuts or filters by it reads the same scans, each row joined to the stretch
// between phase boundaries it lies inside, and the weeks and days that a boundary falls inside
// from their days and hours (domain/reports/plan-source.ts), the plan resolved once per stretch
// rather than once per row. Usage is read from the tenant's sums over its customers (rollups_tenant_*, a few rows
// per hour or day) when the statement needs no customer-level field, else from the customers'
// (rollups_hourly, rollups_daily); from the tenant's sums by provider and model
// (rollups_model_tenant_*) when it cuts or filters by either (never with a customer-level field:
// domain/reports/query.ts refuses that). The tenant tables are the customer tables' GROUP BY, and
// the model tables add up to the tenant tables' rows, written in the same transaction, so
// either answers the same (the model tables for the usage since schema/0024). Money and quantities
// are summed on 64-bit integers, which SQLite refuses ("integer overflow") rather than round;
// the runner then runs the statements again summing in two halves (x / 10^9 and x % 10^9,
// store/exact-sum.ts; the tenant tables store them so), exact for any row count, at twice the
// arithmetic per row. Ordering uses TOTAL(), a float, which only decides the order.

const db = new Kysely<Record<string, Record<string, unknown>>>({
  dialect: {
    createAdapter: () => new SqliteAdapter(),
    createDriver: () => new DummyDriver(),
    createIntrospector: (k) => new SqliteIntrospector(k),
    createQueryCompiler: () => new SqliteQueryCompiler(),
  },
});

export type Raw = RawBuilder<unknown>;
type AggKind = "exact" | "count" | "max" | "max_exact";
interface Agg {
  kind: AggKind;
  expr: Raw;
  /** Its value over a group of one row, read without grouping (whole sessions). */
  one?: Raw;
}
/** An exact sum of a value a table keeps in halves (<column>_hi × 10^9 + <column>_lo). */
interface HalvesAgg {
  kind: "halves";
  hi: Raw;
  lo: Raw;
}
export type AggValues = Record<string, bigint | number | null>;
export interface Measure {
  aggs: string[];
  order: Raw;
  /** `order` over a group of one row, read without grouping (whole sessions). */
  orderOne?: Raw;
  value: (a: AggValues) => ReportCell;
}
export interface Source {
  table: string;
  alias: string;
  /** The column the time range selects on (epoch ms). */
  time: string;
  /** Dimension name → SQL expression (time buckets are the segments'). */
  dims: Record<string, Raw>;
  aggs: Record<string, Agg | HalvesAgg>;
  measures: Record<string, Measure>;
  /** subscriptions: in force during the range instead of a time column inside it. */
  overlap?: { start: string; end: string };
  /** usage: the columns its dimensions, filters and sums read, which a range read from several
   * tables (whole days and edge hours) carries out of each scan. */
  columns?: string[];
  /** Of those, the ones summed: a subtracted scan carries them negated. */
  sums?: string[];
}

const B = sql.raw("1000000000");
const ref = (name: string) => sql.ref(name) as Raw;
const big = (v: bigint | number | null | undefined) => (typeof v === "bigint" ? v : BigInt(v ?? 0));
const money = (v: bigint | number | null | undefined) => formatMoney(big(v));
const count = (v: bigint | number | null | undefined) => Number(v ?? 0);

const COUNT_AGG: Agg = { kind: "count", expr: sql`COUNT(*)` };
const COUNT_MEASURE: Measure = {
  aggs: ["count"],
  order: sql`COUNT(*)`,
  value: (a) => count(a.count),
};
const moneyMeasure = (agg: string, expr: Raw): Measure => ({
  aggs: [agg],
  order: sql`TOTAL(${expr})`,
  value: (a) => money(a[agg]),
});
const maxMeasure = (agg: string, expr: Raw): Measure => ({
  aggs: [agg],
  order: sql`MAX(${expr})`,
  value: (a) => (a[agg] === null || a[agg] === undefined ? null : Number(a[agg])),
});

/** A decimal text amount ("12.50") as integer nanos, in SQL. */
const nanosOfText = (col: Raw): Raw => sql`(CAST(CASE WHEN instr(${col}, '.') > 0
    THEN substr(${col}, 1, instr(${col}, '.') - 1) ELSE ${col} END AS INTEGER) * ${B}
  + CAST(substr((CASE WHEN instr(${col}, '.') > 0 THEN substr(${col}, instr(${col}, '.') + 1)
    ELSE '' END) || '000000000', 1, 9) AS INTEGER))`;

/** The usage dimensions every rollup table has, the tenant's sums included. */
const USAGE_DIMENSIONS: Record<string, Raw> = {
  product: ref("r.product_id"),
  metric: ref("r.metric_id"),
};
/** What the tenant tables can cut by; any other usage field needs the customers' rows. */
const TENANT_USAGE_DIMENSIONS = new Set(Object.keys(USAGE_DIMENSIONS));
/** The cost's provider and model: only the model tables have them ('' where the events named
 * none, answered empty as the events dataset answers it). A query that cuts or filters by one
 * reads those, and can combine it with nothing customer-level (domain/reports/query.ts). */
const MODEL_USAGE_DIMENSIONS: Record<string, Raw> = {
  provider: sql`NULLIF(r.provider, '')`,
  model: sql`NULLIF(r.model, '')`,
};

/** The usage dimensions only a customer's rows have: the customer, and what is looked up from
 * it. A query that cuts or filters by one of these reads the customer tables. */
const PLAN_DIMENSIONS = ["plan", "pricing_model", "billing_mode"];

/** A statement that cuts or filters by the plan, or what follows from it, reads its usage rows
 * with the plan in force at their hours' start resolved once per stretch of time between phase
 * boundaries (domain/reports/plan-source.ts): these read the columns it carries. */
const CUSTOMER_USAGE_DIMENSIONS: Record<string, Raw> = {
  customer: ref("r.customer_id"),
  plan: ref("r.plan_id"),
  // How that plan prices the row's metric: its priced component (a tiered one with its mode;
  // a plan prices a metric once, and a quota only rides on a price), else `unpriced`.
  pricing_model: sql`CASE WHEN r.plan_id IS NULL THEN NULL
    ELSE COALESCE(r.priced_model, 'unpriced') END`,
  // Aforo bills every period at its close; a plan with a minimum is a commitment the usage
  // draws down, any other bills the usage as used.
  billing_mode: ref("r.billing_mode"),
  segment: sql`(SELECT CAST(json_extract(c.metadata, '$.segment') AS TEXT) FROM customers c
    WHERE c.tenant_id = r.tenant_id AND c.id = r.customer_id)`,
};

/** Per customer (schema/0003_ingest.sql), and summed over the tenant's customers
 * (schema/0022_tenant_rollups.sql). */
type UsageTable =
  | "rollups_hourly"
  | "rollups_daily"
  | "rollups_weekly"
  | "rollups_tenant_hourly"
  | "rollups_tenant_daily"
  | "rollups_model_tenant_hourly"
  | "rollups_model_tenant_daily";
/** The hourly and daily tables of one level (the customers' or the tenant's sums). */
interface UsageLevel {
  hourly: UsageTable;
  daily: UsageTable;
  /** The customers' UTC weeks (schema/0029_weekly_rollups.sql); the tenant's sums have a few
   * rows a day, so their days are read as they are. */
  weekly?: UsageTable;
}
const CUSTOMER_LEVEL: UsageLevel = {
  hourly: "rollups_hourly",
  daily: "rollups_daily",
  weekly: "rollups_weekly",
};
const TENANT_LEVEL: UsageLevel = { hourly: "rollups_tenant_hourly", daily: "rollups_tenant_daily" };
const MODEL_LEVEL: UsageLevel = {
  hourly: "rollups_model_tenant_hourly",
  daily: "rollups_model_tenant_daily",
};

function usageSource(table: UsageTable): Source {
  const byModel = table === "rollups_model_tenant_hourly" || table === "rollups_model_tenant_daily";
  const tenantWide =
    byModel || table === "rollups_tenant_hourly" || table === "rollups_tenant_daily";
  // The tenant tables keep money and units in halves: one row there can pass the 64-bit range.
  const sum = (col: string): Agg | HalvesAgg =>
    tenantWide
      ? { kind: "halves", hi: ref(`r.${col}_hi`), lo: ref(`r.${col}_lo`) }
      : { kind: "exact", expr: ref(`r.${col}`) };
  const total = (col: string): Raw =>
    tenantWide
      ? sql`(TOTAL(${ref(`r.${col}_hi`)}) * ${B} + TOTAL(${ref(`r.${col}_lo`)}))`
      : sql`TOTAL(${ref(`r.${col}`)})`;
  const revenue = total("revenue");
  const cost = total("cost");
  const sums = tenantWide
    ? [...["units", "revenue", "cost"].flatMap((c) => [`${c}_hi`, `${c}_lo`]), "events"]
    : ["units", "revenue", "cost", "events"];
  return {
    table,
    alias: "r",
    time: "r.start",
    columns: [
      ...(tenantWide
        ? [
            "tenant_id",
            "start",
            "product_id",
            "metric_id",
            ...(byModel ? ["provider", "model"] : []),
          ]
        : ["tenant_id", "start", "customer_id", "product_id", "metric_id"]),
      ...sums,
    ],
    sums,
    dims: byModel
      ? { ...USAGE_DIMENSIONS, ...MODEL_USAGE_DIMENSIONS }
      : tenantWide
        ? USAGE_DIMENSIONS
        : { ...USAGE_DIMENSIONS, ...CUSTOMER_USAGE_DIMENSIONS },
    aggs: {
      units: sum("units"),
      events: { kind: "exact", expr: ref("r.events") },
      revenue: sum("revenue"),
      cost: sum("cost"),
    },
    measures: {
      units: {
        aggs: ["units"],
        order: total("units"),
        value: (a) => Number(formatScaled(big(a.units), QUANTITY_SCALE)),
      },
      events: { aggs: ["events"], order: sql`TOTAL(r.events)`, value: (a) => count(a.events) },
      revenue: { aggs: ["revenue"], order: revenue, value: (a) => money(a.revenue) },
      cogs: { aggs: ["cost"], order: cost, value: (a) => money(a.cost) },
      margin: {
        aggs: ["revenue", "cost"],
        order: sql`${revenue} - ${cost}`,
        value: (a) => formatMoney(big(a.revenue) - big(a.cost)),
      },
      margin_pct: {
        aggs: ["revenue", "cost"],
        order: sql`(${revenue} - ${cost}) / NULLIF(${revenue}, 0)`,
        value: (a) => {
          const r = big(a.revenue);
          if (r === 0n) return null;
          // Six significant decimals of the fraction, from exact integers.
          return Number(((r - big(a.cost)) * 1_000_000n) / r) / 1_000_000;
        },
      },
    },
  };
}

const agingBucket = (now: number): Raw => sql`CASE
  WHEN i.status <> 'open' OR i.due_at IS NULL THEN NULL
  WHEN ${now} <= i.due_at THEN 'current'
  WHEN ${now} - i.due_at <= ${30 * DAY_MS} THEN '1–30'
  WHEN ${now} - i.due_at <= ${60 * DAY_MS} THEN '31–60'
  WHEN ${now} - i.due_at <= ${90 * DAY_MS} THEN '61–90'
  ELSE '90+' END`;

function source(dataset: ReportDatasetName, now: number, usage: UsageTable): Source {
  switch (dataset) {
    case "usage":
      return usageSource(usage);
    case "invoices": {
      const due = sql`CASE WHEN i.status = 'open' THEN i.total - i.amount_paid ELSE 0 END`;
      return {
        table: "invoices",
        alias: "i",
        time: "i.period_start",
        dims: {
          customer: ref("i.customer_id"),
          product: ref("i.product_id"),
          status: ref("i.status"),
          aging: agingBucket(now),
        },
        aggs: {
          count: COUNT_AGG,
          total: { kind: "exact", expr: ref("i.total") },
          amount_paid: { kind: "exact", expr: ref("i.amount_paid") },
          amount_due: { kind: "exact", expr: due },
        },
        measures: {
          count: COUNT_MEASURE,
          total: moneyMeasure("total", ref("i.total")),
          amount_paid: moneyMeasure("amount_paid", ref("i.amount_paid")),
          amount_due: moneyMeasure("amount_due", due),
        },
      };
    }
    case "payments": {
      const amount = nanosOfText(ref("p.amount"));
      return {
        table: "payments",
        alias: "p",
        time: "p.at",
        dims: {
          status: ref("p.status"),
          decline_code: ref("p.decline_code"),
          provider: ref("p.provider"),
          customer: sql`(SELECT inv.customer_id FROM invoices inv
            WHERE inv.tenant_id = p.tenant_id AND inv.id = p.invoice_id)`,
        },
        aggs: { count: COUNT_AGG, amount: { kind: "exact", expr: amount } },
        measures: { count: COUNT_MEASURE, amount: moneyMeasure("amount", amount) },
      };
    }
    case "subscriptions":
      return {
        table: "subscriptions",
        alias: "s",
        time: "s.start_at",
        overlap: { start: "s.start_at", end: "s.end_at" },
        dims: {
          plan: ref("s.plan_id"),
          product: sql`(SELECT pl.product_id FROM plans pl
            WHERE pl.tenant_id = s.tenant_id AND pl.id = s.plan_id)`,
          status: ref("s.status"),
          customer: ref("s.customer_id"),
        },
        aggs: { count: COUNT_AGG },
        measures: { count: COUNT_MEASURE },
      };
    case "signals": {
      const saving = nanosOfText(sql`COALESCE(json_extract(g.details, '$.saving'), '0')`);
      return {
        table: "signals",
        alias: "g",
        time: "g.created_at",
        dims: {
          detector: ref("g.detector"),
          customer: ref("g.customer_id"),
          product: ref("g.product_id"),
          status: ref("g.status"),
          // Quota-pacing signals carry their upgrade advice (workers/ladder/intake.ts).
          plan: sql`json_extract(g.details, '$.current_plan')`,
          cheaper_plan: sql`json_extract(g.details, '$.cheaper_plan')`,
        },
        aggs: {
          count: COUNT_AGG,
          magnitude: { kind: "max", expr: sql`MAX(g.magnitude)` },
          // The largest, not the sum: the 80, 100 and 120 % signals of one period each price
          // the same customer's advice again.
          saving: { kind: "max_exact", expr: sql`CAST(MAX(${saving}) AS TEXT)` },
        },
        measures: {
          count: COUNT_MEASURE,
          magnitude: maxMeasure("magnitude", ref("g.magnitude")),
          saving: {
            aggs: ["saving"],
            order: sql`MAX(${saving})`,
            value: (a) => (a.saving === null ? null : money(a.saving)),
          },
        },
      };
    }
    case "cases":
      return {
        table: "cases",
        alias: "k",
        time: "k.opened_at",
        dims: {
          detector: ref("k.detector"),
          customer: ref("k.customer_id"),
          product: ref("k.product_id"),
          status: ref("k.status"),
          level: sql`CAST(k.level_rank AS TEXT)`,
        },
        aggs: { count: COUNT_AGG, magnitude: { kind: "max", expr: sql`MAX(k.magnitude)` } },
        measures: { count: COUNT_MEASURE, magnitude: maxMeasure("magnitude", ref("k.magnitude")) },
      };
    case "actions":
      return {
        table: "actions",
        alias: "a",
        time: "a.created_at",
        dims: {
          rung: ref("a.rung"),
          state: ref("a.state"),
          customer: ref("a.customer_id"),
          detector: sql`(SELECT sg.detector FROM signals sg
            WHERE sg.tenant_id = a.tenant_id AND sg.id = a.signal_id)`,
        },
        aggs: { count: COUNT_AGG },
        measures: { count: COUNT_MEASURE },
      };
    case "deliveries":
      return {
        table: "deliveries",
        alias: "d",
        time: "d.created_at",
        dims: {
          channel_type: sql`(SELECT ch.type FROM notification_channels ch
            WHERE ch.tenant_id = d.tenant_id AND ch.id = d.channel_id)`,
          kind: ref("d.kind"),
          status: ref("d.status"),
        },
        aggs: { count: COUNT_AGG },
        measures: { count: COUNT_MEASURE },
      };
    case "pipeline":
      return pipelineSource();
    case "sessions":
      return sessionsSource();
    default:
      throw new RangeError(`dataset ${dataset} has no source`);
  }
}

/** One table read over [from, to) (usage: the rows whose hour or day starts in it). */
export interface TableScan {
  table: string;
  from: number;
  to: number;
  /** Taken off the statement, not added: the hours of an edge's UTC day outside the range,
   * read beside that day's row (see `edgeScans`). */
  subtract?: true;
}

/** Where t's UTC week starts (domain/time.ts). */
const weekStart = (t: number) => t - ((t + MONDAY_OFFSET_MS) % WEEK_MS);

/** The finest time boundary a statement's buckets need: `hour` when they fall inside UTC days,
 * `day` when they fall on UTC midnights inside UTC weeks, `week` when none falls inside a UTC
 * week (no buckets at all, or UTC weeks). */
type Grain = "hour" | "day" | "week";

/** A usage range's scans, coarsest inside: its whole UTC weeks from the weekly table (where the
 * level has one and `grain` allows), the whole days around them from the daily one, and the
 * hours of the partial days at either end from the hourly one; all hours for grain `hour` or
 * when no whole day lies inside. A week is its days summed and a day its hours (written in the
 * same transaction: store/rollups.ts, the weekly triggers), so the scans together hold exactly
 * the hours starting in [from, to). */
function usageScans(
  level: UsageLevel,
  from: number,
  to: number,
  grain: Grain,
  complement: boolean,
): TableScan[] {
  const dayFrom = Math.ceil(from / DAY_MS) * DAY_MS;
  const dayTo = Math.floor(to / DAY_MS) * DAY_MS;
  if (grain === "hour") return [{ table: level.hourly, from, to }];
  if (dayFrom > dayTo) return edgeScans(level, from, to, complement);
  const weekFrom = weekStart(dayFrom) === dayFrom ? dayFrom : weekStart(dayFrom) + WEEK_MS;
  const weekTo = weekStart(dayTo);
  const weeks = grain === "week" && level.weekly !== undefined && weekFrom < weekTo;
  const scans: TableScan[] = [
    ...edgeScans(level, from, dayFrom, complement),
    ...(weeks
      ? [
          { table: level.daily, from: dayFrom, to: weekFrom },
          { table: level.weekly as UsageTable, from: weekFrom, to: weekTo },
          { table: level.daily, from: weekTo, to: dayTo },
        ]
      : [{ table: level.daily, from: dayFrom, to: dayTo }]),
    ...edgeScans(level, dayTo, to, complement),
  ];
  return scans.filter((scan) => scan.from < scan.to);
}

/** The hours [from, to) of one partial UTC day: read as they are, or — when `complement` allows
 * and they are most of the day — as the day's row less its hours outside them, two or three
 * short scans instead of up to 23 hours per customer: a Madrid day ends at 23:00 UTC, so its
 * last UTC day is read as one daily row less the 23:00 hour. Only for a statement without
 * buckets: the subtracted hours lie outside the range, in no bucket of it. */
function edgeScans(level: UsageLevel, from: number, to: number, complement: boolean) {
  if (from >= to) return [];
  if (!complement || to - from <= DAY_MS / 2) return [{ table: level.hourly, from, to }];
  const day = Math.floor(from / DAY_MS) * DAY_MS;
  const scans: TableScan[] = [
    { table: level.daily, from: day, to: day + DAY_MS },
    { table: level.hourly, from: day, to: from, subtract: true },
    { table: level.hourly, from: to, to: day + DAY_MS, subtract: true },
  ];
  return scans.filter((scan) => scan.from < scan.to);
}

/** How single-integer columns are summed. `plain`: SUM(x), which SQLite computes on 64-bit
 * integers and refuses with "integer overflow" rather than round (workers/report-runner.ts then
 * runs the statements again in halves); `halves`: SUM(x / 10^9) and SUM(x % 10^9), exact for any
 * row count at twice the arithmetic. Columns a table keeps in halves are summed so in either
 * mode. */
export type SumMode = "plain" | "halves";

/** The SQL of one checked query: its rows, its totals and its comparison period's totals. */
export interface CompiledReport {
  rows: CompiledQuery;
  totals: CompiledQuery;
  comparison: { from: number; to: number; query: CompiledQuery } | null;
  /** The table the rows are read from (usage: which rollup table; the daily one when whole
   * days are read from it, the edges from its hourly twin: see `reads`). */
  table: string;
  /** The table the totals and the comparison are read from: for usage, the tenant table
   * whenever the filters allow, though the rows may need the customers' (by customer). */
  totalsTable: string;
  /** What each statement reads, table by table. */
  reads: { rows: TableScan[]; totals: TableScan[]; comparison: TableScan[] | null };
  /** Turns the statements' rows into the answer (data_as_of is the runner's). */
  decode(
    rows: Record<string, unknown>[],
    totals: Record<string, unknown> | null,
    comparison: Record<string, unknown> | null,
  ): Omit<ReportResult, "data_as_of">;
}

/** The earlier period a comparison covers: the same length just before, or the same local
 * dates and times a year earlier in the query's zone (29 February → 28 February). */
export function comparisonRange(
  from: number,
  to: number,
  compare: "previous_period" | "previous_year",
  zone = "UTC",
): { from: number; to: number } {
  if (compare === "previous_period") return { from: from - (to - from), to: from };
  const clock = new ZoneClock(zone, from - 367 * DAY_MS, to);
  const back = (t: number) => {
    const l = clock.local(t);
    const y = l.getUTCFullYear() - 1;
    const m = l.getUTCMonth();
    const day = Math.min(l.getUTCDate(), new Date(Date.UTC(y, m + 1, 0)).getUTCDate());
    const wall = Date.UTC(y, m, day, l.getUTCHours(), l.getUTCMinutes(), l.getUTCSeconds());
    return wall - clock.offset(wall - clock.offset(wall));
  };
  return { from: back(from), to: back(to) };
}

/**
 * Compiles a checked query for one tenant. `now` is the instant invoice aging is measured at.
 */
export function compileReport(
  tenantId: string,
  q: FilledQuery,
  from: number,
  to: number,
  now: number,
  sums: SumMode = "plain",
): CompiledReport {
  const dataset = datasetOf(q.dataset);
  if (!dataset) throw new RangeError(`unknown dataset ${q.dataset}`);
  const zone = q.time.time_zone;
  const clock = new ZoneClock(zone, from, to);
  const needs = {
    ...(q.dimensions.includes("time") ? { time: q.time.granularity } : {}),
    period: q.dimensions.includes("period"),
    hour_of_week: q.dimensions.includes("hour_of_week"),
  };
  const segmented = needs.time !== undefined || needs.period || needs.hour_of_week;
  const segs: Segment[] = segmented ? segments(clock, from, to, needs) : [];
  const filtered = (q.filters ?? []).map((f) => f.dimension);
  // A daily row fits a bucket only when no boundary falls inside its UTC day: true of UTC days,
  // weeks and months, never of a Madrid or New York day (local midnight is 22:00–05:00 UTC), nor
  // of hours or hours of the week; a weekly row only when none falls inside its UTC week: UTC
  // weeks, or no buckets at all. The plan, in force at each hour's start, does not decide the
  // scans: a statement that cuts or filters by it reads the same ones, each row joined to the
  // stretch of time between phase boundaries it lies inside (plan-source.ts).
  const planFiltered = PLAN_DIMENSIONS.some((d) => filtered.includes(d));
  const planRows = planFiltered || PLAN_DIMENSIONS.some((d) => q.dimensions.includes(d));
  const boundaries = segs.slice(1).map((seg) => seg.start);
  const rowsGrain: Grain = boundaries.some((t) => t % DAY_MS !== 0)
    ? "hour"
    : boundaries.some((t) => weekStart(t) !== t)
      ? "day"
      : "week";
  const totalsGrain: Grain = "week";
  /** The usage level for a statement that cuts or filters by `fields`. */
  const usageLevel = (fields: string[]): UsageLevel =>
    fields.some((d) => Object.hasOwn(MODEL_USAGE_DIMENSIONS, d))
      ? MODEL_LEVEL
      : fields.every((d) => TIME_DIMENSIONS.has(d) || TENANT_USAGE_DIMENSIONS.has(d))
        ? TENANT_LEVEL
        : CUSTOMER_LEVEL;
  const rowsLevel = usageLevel([...q.dimensions, ...filtered]);
  // The totals and the comparison have no dimensions: only the filters decide their table;
  // except that rows by provider or model are totalled from the same model table, so they add up
  // to the totals (that table holds the usage since schema/0024, the tenant's all of it).
  const totalsLevel = rowsLevel === MODEL_LEVEL ? MODEL_LEVEL : usageLevel(filtered);
  const cmpRange = q.compare_to ? comparisonRange(from, to, q.compare_to, q.time.time_zone) : null;
  const usage = q.dataset === "usage";
  const scansOf = (level: UsageLevel, a: number, b: number, grain: Grain, complement: boolean) =>
    usage ? usageScans(level, a, b, grain, complement) : null;
  const rowScans = scansOf(rowsLevel, from, to, rowsGrain, !segmented);
  const totalScans = scansOf(totalsLevel, from, to, totalsGrain, true);
  const cmpScans = cmpRange && scansOf(totalsLevel, cmpRange.from, cmpRange.to, totalsGrain, true);
  /** The table a statement's bulk is read from: the coarsest among its scans. */
  const mainTable = (scans: TableScan[]) =>
    (
      scans.find((x) => x.table.endsWith("_weekly")) ??
      scans.find((x) => x.table.endsWith("_daily")) ??
      (scans[0] as TableScan)
    ).table as UsageTable;
  const wholeSessions = readsWholeSessions(q);
  const src = wholeSessions
    ? sessionsSource("session_totals")
    : source(q.dataset, now, rowScans ? mainTable(rowScans) : "rollups_hourly");
  const aggNames = [...new Set(q.measures.flatMap((m) => src.measures[m]?.aggs ?? []))];
  // Whole sessions serve the rows by session; the totals read the range's hours as they are,
  // the tenant's sums of them when those hold what the totals sum and filter on.
  const totalsSrc = totalScans
    ? usageSource(mainTable(totalScans))
    : readsTenantSessionHours(q, aggNames)
      ? sessionsSource("session_rollups_tenant_hourly")
      : wholeSessions
        ? sessionsSource()
        : src;

  /** FROM + WHERE for a stretch: the tenant, the stretch (or the segments within it), the
   * filters. */
  const scope = (s: Source, rangeFrom: number, rangeTo: number, within: Segment[] | null) => {
    const base = `${s.table} as ${s.alias}`;
    const timeCol = ref(s.time);
    let qb = within
      ? db
          .selectFrom(sql`json_each(${JSON.stringify(within.map(segmentTuple))})`.as("b"))
          .crossJoin(base)
      : db.selectFrom(base);
    qb = qb.where(ref(`${s.alias}.tenant_id`), "=", tenantId);
    if (s.overlap) {
      const end = ref(s.overlap.end);
      qb = qb
        .where(ref(s.overlap.start), "<", rangeTo)
        .where(sql<boolean>`(${end} IS NULL OR ${end} > ${rangeFrom})`);
    } else {
      // The segments tile the stretch exactly. With them, each segment's own bounds are the
      // only range on the time column, so SQLite searches the (tenant, time) key once per
      // segment instead of scanning the whole stretch for every segment.
      qb = within
        ? qb
            .where(sql<boolean>`${timeCol} >= b.value ->> 0`)
            .where(sql<boolean>`${timeCol} < b.value ->> 1`)
        : qb.where(timeCol, ">=", rangeFrom).where(timeCol, "<", rangeTo);
    }
    for (const filter of q.filters ?? []) {
      const expr = s.dims[filter.dimension];
      if (!expr) throw new RangeError(`no expression for ${filter.dimension}`);
      qb = qb.where(filterCondition(expr, filter.op, filter.values));
    }
    return qb;
  };
  /** The query's filters, on a FROM that reads as `s`'s table. */
  const filtersOn = (s: Source) =>
    (q.filters ?? []).map((filter) => {
      const expr = s.dims[filter.dimension];
      if (!expr) throw new RangeError(`no expression for ${filter.dimension}`);
      return filterCondition(expr, filter.op, filter.values);
    });
  /** FROM + WHERE of a statement: its one scan as it is, or (usage days and edge hours) the
   * UNION ALL of its scans, each constrained on its own table's key and carrying its segment,
   * read as the one table `r` the dimensions and sums are written against. */
  const statementFrom = (
    s: Source,
    scans: TableScan[] | null,
    rangeFrom: number,
    rangeTo: number,
    withSegments: boolean,
    withPlan = false,
  ) => {
    const within = (a: number, b: number) => (withSegments ? clipSegments(segs, a, b) : null);
    if (withPlan && scans) {
      // The usage rows with their plan, one derived table `r`; the filters (the plan's among
      // them) apply to it.
      const fields = new Set([...q.dimensions, ...filtered]);
      let qb = db.selectFrom(
        planResolvedFrom({
          tenantId,
          scans,
          daily: CUSTOMER_LEVEL.daily,
          hourly: CUSTOMER_LEVEL.hourly,
          columns: s.columns ?? [],
          sums: s.sums ?? [],
          segmentsOf: withSegments
            ? (a, b) => JSON.stringify(clipSegments(segs, a, b).map(segmentTuple))
            : null,
          billingMode: fields.has("billing_mode"),
          pricingModel: fields.has("pricing_model"),
        }).as(s.alias),
      );
      for (const condition of filtersOn(s)) qb = qb.where(condition);
      return qb;
    }
    if (!scans || scans.length === 1) {
      const only = scans?.[0] ?? { table: s.table, from: rangeFrom, to: rangeTo };
      return scope({ ...s, table: only.table }, only.from, only.to, within(only.from, only.to));
    }
    const arms = scans.map((scan) =>
      scope({ ...s, table: scan.table }, scan.from, scan.to, within(scan.from, scan.to)).select([
        ...(s.columns ?? []).map((c) =>
          scan.subtract && s.sums?.includes(c)
            ? sql`-${ref(`${s.alias}.${c}`)}`.as(c)
            : ref(`${s.alias}.${c}`).as(c),
        ),
        ...(withSegments ? [sql`b.value`.as("seg")] : []),
      ]),
    );
    type Arm = (typeof arms)[number];
    // D1 caps one compound SELECT at five terms: more arms are nested, five to a subquery.
    const union = (list: Arm[]): Arm => {
      if (list.length <= COMPOUND_TERMS) {
        const [first, ...rest] = list as [Arm, ...Arm[]];
        return rest.reduce((u, arm) => u.unionAll(arm), first);
      }
      const chunks = Array.from({ length: Math.ceil(list.length / COMPOUND_TERMS) }, (_, i) =>
        list.slice(i * COMPOUND_TERMS, (i + 1) * COMPOUND_TERMS),
      );
      return union(
        chunks.map((chunk) => db.selectFrom(union(chunk).as("u")).selectAll() as unknown as Arm),
      );
    };
    return db.selectFrom(union(arms).as(s.alias));
  };

  /** A statement's aggregate columns: each one's name, its SQL over the group (`one`: over a
   * group known to be one row, read without grouping: a halves sum is its two columns, any other
   * aggregate its `one`) and whether it is read as text (an exact integer, which a JS number
   * would round). */
  const aggColumns = (s: Source, one = false) =>
    aggNames.flatMap((name): { name: string; expr: Raw; text: boolean }[] => {
      const agg = s.aggs[name] as Agg | HalvesAgg;
      if (agg.kind === "halves") {
        return [
          { name: `a_${name}_hi`, expr: one ? agg.hi : sql`SUM(${agg.hi})`, text: true },
          { name: `a_${name}_lo`, expr: one ? agg.lo : sql`SUM(${agg.lo})`, text: true },
        ];
      }
      if (one && !agg.one) throw new RangeError(`aggregate ${name} has no value of one row`);
      const value = (one ? agg.one : agg.expr) as Raw;
      const sum = (x: Raw) => (one ? x : sql`SUM(${x})`);
      if (agg.kind === "exact" && sums === "halves") {
        return [
          { name: `a_${name}_hi`, expr: sum(sql`(${value}) / ${B}`), text: true },
          { name: `a_${name}_lo`, expr: sum(sql`(${value}) % ${B}`), text: true },
        ];
      }
      if (agg.kind === "exact") return [{ name: `a_${name}`, expr: sum(value), text: true }];
      return [{ name: `a_${name}`, expr: value, text: false }];
    });
  const asText = (c: { name: string; expr: Raw; text: boolean }) =>
    (c.text ? sql`CAST(${c.expr} AS TEXT)` : c.expr).as(c.name);
  const aggSelections = (s: Source) => aggColumns(s).map(asText);
  // A row's segment: the joined json_each's, or the one its scan carried out of a UNION ALL.
  const seg = planRows || (rowScans && rowScans.length > 1) ? sql`r.seg` : sql`b.value`;
  const dimExpr = (d: string): Raw => {
    if (d === "time") return sql`${seg} ->> 2`;
    if (d === "period") return sql`${seg} ->> 3`;
    if (d === "hour_of_week") return sql`${seg} ->> 4`;
    const e = src.dims[d];
    if (!e) throw new RangeError(`no expression for ${d}`);
    return e;
  };

  /** The rows grouped by the dimensions, ordered and cut. */
  const groupedRows = () => {
    let rowsQb = statementFrom(src, rowScans, from, to, segmented, planRows).select([
      ...q.dimensions.map((d) => dimExpr(d).as(`d_${d}`)),
      ...aggSelections(src),
    ]);
    if (q.dimensions.length > 0) {
      rowsQb = rowsQb.groupBy(q.dimensions.map((d) => ref(`d_${d}`)));
    }
    for (const o of q.order_by) {
      const expr = q.dimensions.includes(o.field)
        ? ref(`d_${o.field}`)
        : (src.measures[o.field]?.order as Raw);
      rowsQb = rowsQb.orderBy(expr, o.direction);
    }
    for (const d of q.dimensions) {
      if (!q.order_by.some((o) => o.field === d)) rowsQb = rowsQb.orderBy(ref(`d_${d}`), "asc");
    }
    return rowsQb.limit(q.limit + 1).compile();
  };
  /** By customer × session every group is one session: those inside the range are one row each,
   * read as they are, the straddling ones grouped from their hours. The union is ordered and cut
   * once, by each ordering measure's value taken out of its arm (`o_<n>`), and only the rows
   * kept are turned into text. */
  const wholeSessionsRows = () => {
    const byDimension = q.order_by.map((o) => q.dimensions.includes(o.field));
    const arm = (one: boolean) => [
      ...q.dimensions.map((d) => dimExpr(d).as(`d_${d}`)),
      ...aggColumns(src, one).map((c) => c.expr.as(c.name)),
      ...q.order_by.flatMap((o, n) => {
        if (byDimension[n]) return [];
        const measure = src.measures[o.field] as Measure;
        const order = one ? measure.orderOne : measure.order;
        if (!order) throw new RangeError(`measure ${o.field} has no order of one row`);
        return [order.as(`o_${n}`)];
      }),
    ];
    const inside = wholeSessionsInside(tenantId, from, to);
    let insideQb = db.selectFrom(`${inside.table} as ${src.alias}`).where(inside.where);
    let edgesQb = db.selectFrom(straddlingSessionHours(tenantId, from, to).as(src.alias));
    for (const condition of filtersOn(src)) {
      insideQb = insideQb.where(condition);
      edgesQb = edgesQb.where(condition);
    }
    const union = insideQb
      .select(arm(true))
      .unionAll(edgesQb.select(arm(false)).groupBy([ref("s.customer_id"), ref("s.session_id")]));
    /** The answer's order over the union's columns, read as `t`. */
    const orderings = (t: string) => [
      ...q.order_by.map(
        (o, n) => [ref(byDimension[n] ? `${t}.d_${o.field}` : `${t}.o_${n}`), o.direction] as const,
      ),
      ...q.dimensions
        .filter((d) => !q.order_by.some((o) => o.field === d))
        .map((d) => [ref(`${t}.d_${d}`), "asc"] as const),
    ];
    let kept = db.selectFrom(union.as("g")).selectAll();
    for (const [expr, direction] of orderings("g")) kept = kept.orderBy(expr, direction);
    let answer = db
      .selectFrom(kept.limit(q.limit + 1).as("k"))
      .select([
        ...q.dimensions.map((d) => ref(`k.d_${d}`).as(`d_${d}`)),
        ...aggColumns(src).map((c) => asText({ ...c, expr: ref(`k.${c.name}`) })),
      ]);
    for (const [expr, direction] of orderings("k")) answer = answer.orderBy(expr, direction);
    return answer.compile();
  };
  const rows = wholeSessions ? wholeSessionsRows() : groupedRows();
  const totals = statementFrom(totalsSrc, totalScans, from, to, false, planFiltered)
    .select(aggSelections(totalsSrc))
    .compile();
  const comparison = cmpRange
    ? {
        ...cmpRange,
        query: statementFrom(totalsSrc, cmpScans, cmpRange.from, cmpRange.to, false, planFiltered)
          .select(aggSelections(totalsSrc))
          .compile(),
      }
    : null;

  /** A statement's sums, read as the source it was selected from (`s`) summed them. */
  const aggValues = (row: Record<string, unknown> | null, s: Source): AggValues => {
    const out: AggValues = {};
    for (const name of aggNames) {
      const agg = s.aggs[name] as Agg | HalvesAgg;
      if (agg.kind === "halves" || (agg.kind === "exact" && sums === "halves")) {
        out[name] =
          BigInt((row?.[`a_${name}_hi`] as string | null) ?? 0) * 1_000_000_000n +
          BigInt((row?.[`a_${name}_lo`] as string | null) ?? 0);
      } else if (agg.kind === "exact") {
        out[name] = BigInt((row?.[`a_${name}`] as string | null) ?? 0);
      } else if (agg.kind === "max_exact") {
        const v = row?.[`a_${name}`];
        out[name] = v === null || v === undefined ? null : BigInt(String(v));
      } else {
        const v = row?.[`a_${name}`];
        out[name] = v === null || v === undefined ? (agg.kind === "count" ? 0 : null) : Number(v);
      }
    }
    return out;
  };
  const measureCells = (row: Record<string, unknown> | null, s: Source) => {
    const a = aggValues(row, s);
    return Object.fromEntries(q.measures.map((m) => [m, (src.measures[m] as Measure).value(a)]));
  };
  const dimCell = (d: string, v: unknown): ReportCell => {
    if (v === null || v === undefined) return null;
    if (d === "time" || d === "period") return clock.format(Number(v));
    if (d === "hour_of_week") return Number(v);
    return String(v);
  };
  const fields = new Map([...dataset.measures, ...dataset.dimensions].map((f) => [f.name, f]));
  const columns: ReportColumn[] = [
    ...q.dimensions.map((d) => column(fields.get(d), d, "dimension")),
    ...q.measures.map((m) => column(fields.get(m), m, "measure")),
  ];

  return {
    rows,
    totals,
    comparison,
    table: src.table,
    totalsTable: totalsSrc.table,
    reads: {
      rows: rowScans ?? tableReads(src.table, from, to),
      totals: totalScans ?? tableReads(totalsSrc.table, from, to),
      comparison: cmpRange
        ? (cmpScans ?? tableReads(totalsSrc.table, cmpRange.from, cmpRange.to))
        : null,
    },
    decode(rawRows, rawTotals, rawComparison) {
      const truncated = rawRows.length > q.limit;
      const kept = truncated ? rawRows.slice(0, q.limit) : rawRows;
      return {
        query: q,
        columns,
        rows: kept.map((r) => ({
          ...Object.fromEntries(q.dimensions.map((d) => [d, dimCell(d, r[`d_${d}`])])),
          ...measureCells(r, src),
        })),
        totals: measureCells(rawTotals, totalsSrc),
        truncated,
        comparison: cmpRange
          ? {
              from: new Date(cmpRange.from).toISOString(),
              to: new Date(cmpRange.to).toISOString(),
              totals: measureCells(rawComparison, totalsSrc),
            }
          : null,
      };
    },
  };
}

/** What a statement over one table reads; whole sessions read the straddling sessions' hours
 * too. */
const tableReads = (table: string, from: number, to: number): TableScan[] =>
  table === "session_totals"
    ? [
        { table, from, to },
        { table: "session_rollups_hourly", from, to },
      ]
    : [{ table, from, to }];

const segmentTuple = (s: Segment) => [s.start, s.end, s.time, s.period, s.hour_of_week];

/** The segments' parts inside [from, to), each keeping its buckets. */
const clipSegments = (segs: Segment[], from: number, to: number): Segment[] =>
  segs
    .filter((s) => s.start < to && s.end > from)
    .map((s) => ({ ...s, start: Math.max(s.start, from), end: Math.min(s.end, to) }));

function column(
  field: { label: string; type: ReportColumn["type"] } | undefined,
  name: string,
  kind: ReportColumn["kind"],
): ReportColumn {
  return { name, label: field?.label ?? name, kind, type: field?.type ?? "string" };
}

/** A filter on a dimension's expression, every value bound (compile-events.ts uses it too). */
export function filterCondition(expr: Raw, op: string, values: string[]): RawBuilder<boolean> {
  const list = sql.join(values);
  switch (op) {
    case "is":
      return sql<boolean>`${expr} IN (${list})`;
    case "is_not":
      return sql<boolean>`(${expr} IS NULL OR ${expr} NOT IN (${list}))`;
    case "contains":
      return sql<boolean>`(${sql.join(
        values.map((v) => sql`instr(lower(${expr}), lower(${v})) > 0`),
        sql` OR `,
      )})`;
    case "gt":
      return sql<boolean>`${expr} > ${values[0]}`;
    case "gte":
      return sql<boolean>`${expr} >= ${values[0]}`;
    case "lt":
      return sql<boolean>`${expr} < ${values[0]}`;
    case "lte":
      return sql<boolean>`${expr} <= ${values[0]}`;
    default:
      throw new RangeError(`unknown filter op ${op}`);
  }
}
