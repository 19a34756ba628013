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
import type { ReportCell, ReportColumn, ReportResult } from "../../contracts/reports";
import { formatMoney, formatScaled, QUANTITY_SCALE } from "../money";
import { DAY_MS } from "../time";
import { type Segment, segments, ZoneClock } from "./buckets";
import { datasetOf, propertyKeyOf } from "./catalog";
import { comparisonRange, filterCondition } from "./compile";
import type { FilledQuery, QueryIssue } from "./query";

// The `events` report dataset (docs/reports.md "Datasets"): raw events live only in each
// customer's actor (durable-objects/actor-schema.ts `events`), so a report over them is a
// scatter-gather. This module is its pure part:
// - eventsStatement: the ONE SQLite statement every involved actor runs over its own `events`
//   table — the grouped partial rows (part 'r'), the totals ('t') and the comparison period's
//   totals ('c') as a UNION ALL. It has no customer column (an actor is one customer) and is the
//   same for every actor; the actor compiles it itself from the checked query, so what it runs
//   is always this compiler's SQL, never text a caller sent. Every value is a bound parameter,
//   a property key included (as its JSON path).
// - customersStatement: which actors to ask — the customers with usage in the range in D1's
//   rollups_daily, with the query's customer, product and metric filters applied there.
// - mergeEvents: the partials merged exactly (bigint sums of the hi/lo halves, counts), then
//   ordered, limited and decoded as compile.ts decodes a D1 answer.
//
// Sums are taken on integers in two halves (x / 10^9 and x % 10^9, as compile.ts does), so an
// actor's SUM never overflows SQLite's 64-bit integers, and the Worker adds the halves as bigints.

const db = new Kysely<Record<string, Record<string, unknown>>>({
  dialect: {
    createAdapter: () => new SqliteAdapter(),
    createDriver: () => new DummyDriver(),
    createIntrospector: (k) => new SqliteIntrospector(k),
    createQueryCompiler: () => new SqliteQueryCompiler(),
  },
});

type Raw = RawBuilder<unknown>;
type Row = Record<string, unknown>;
type AggValues = Record<string, bigint>;

/** Most actors one query asks: each is a subrequest of the Worker's invocation, and a Worker has
 * a bounded number of those (Cloudflare: 1,000 on the free plan, configurable up to 10 million
 * on paid, counted per invocation), besides the wall time of thousands of round trips. */
export const MAX_ACTORS_PER_QUERY = 2_000;
/** Actors asked at once. */
export const ACTOR_CONCURRENCY = 32;

/** What an actor is sent: the checked query, from which it compiles its statement. */
export interface EventsQueryInput {
  query: FilledQuery;
  from: number;
  to: number;
}

/** One actor's answer. */
export interface EventsPartial {
  customer: string;
  rows: Row[];
}

const B = sql.raw("1000000000");
const ref = (name: string) => sql.ref(name) as Raw;
const SESSION_PATH = '$."session_id"';

/** A property's value as text; the path is bound ($."key": the key is quoted, so a dot in it is
 * part of the name, not a path step; the key pattern has no quote). */
const propertyExpr = (key: string): Raw =>
  sql`CAST(json_extract(e.properties, ${`$."${key}"`}) AS TEXT)`;

const COLUMNS: Record<string, Raw> = {
  product: ref("e.product"),
  metric: ref("e.metric"),
  provider: ref("e.provider"),
  model: ref("e.model"),
  cost_status: ref("e.cost_status"),
};

/** How each aggregate is taken by an actor: an exact sum (two halves) or a count. */
const AGGS: Record<string, { kind: "exact" | "count"; expr: Raw }> = {
  events: { kind: "count", expr: sql`COUNT(*)` },
  units: { kind: "exact", expr: ref("e.quantity") },
  revenue: { kind: "exact", expr: ref("e.revenue") },
  cost: { kind: "exact", expr: ref("e.cost") },
  input_tokens: { kind: "exact", expr: sql`COALESCE(e.input_tokens, 0)` },
  output_tokens: { kind: "exact", expr: sql`COALESCE(e.output_tokens, 0)` },
  cached_input_tokens: { kind: "exact", expr: sql`COALESCE(e.cached_input_tokens, 0)` },
  // Distinct per actor, i.e. per customer: summing the actors' counts is exact because a
  // session belongs to one customer (the same id sent for two customers counts as two).
  sessions: {
    kind: "count",
    expr: sql`COUNT(DISTINCT json_extract(e.properties, ${SESSION_PATH}))`,
  },
};

interface Measure {
  aggs: string[];
  value: (a: AggValues) => ReportCell;
  /** What the rows are ordered by (exact where it can be). */
  sort: (a: AggValues) => bigint | number | null;
}

const ratio = (a: AggValues) => {
  const r = a.revenue ?? 0n;
  if (r === 0n) return null;
  // Six significant decimals of the fraction, from exact integers (as compile.ts).
  return Number(((r - (a.cost ?? 0n)) * 1_000_000n) / r) / 1_000_000;
};
const total = (name: string): Measure => ({
  aggs: [name],
  value: (a) => Number(a[name] ?? 0n),
  sort: (a) => a[name] ?? 0n,
});
const MEASURES: Record<string, Measure> = {
  events: total("events"),
  units: {
    aggs: ["units"],
    value: (a) => Number(formatScaled(a.units ?? 0n, QUANTITY_SCALE)),
    sort: (a) => a.units ?? 0n,
  },
  revenue: {
    aggs: ["revenue"],
    value: (a) => formatMoney(a.revenue ?? 0n),
    sort: (a) => a.revenue ?? 0n,
  },
  cogs: { aggs: ["cost"], value: (a) => formatMoney(a.cost ?? 0n), sort: (a) => a.cost ?? 0n },
  margin: {
    aggs: ["revenue", "cost"],
    value: (a) => formatMoney((a.revenue ?? 0n) - (a.cost ?? 0n)),
    sort: (a) => (a.revenue ?? 0n) - (a.cost ?? 0n),
  },
  margin_pct: { aggs: ["revenue", "cost"], value: ratio, sort: ratio },
  input_tokens: total("input_tokens"),
  output_tokens: total("output_tokens"),
  cached_input_tokens: total("cached_input_tokens"),
  sessions: total("sessions"),
};

/** The query's dimensions the actor groups by: all but `customer` (an actor is one). */
const actorDimensions = (q: FilledQuery) => q.dimensions.filter((d) => d !== "customer");
/** Filters D1 answers when it picks the actors (rollups_daily has these columns). */
const ROLLUP_FILTERS: Record<string, string> = {
  customer: "r.customer_id",
  product: "r.product_id",
  metric: "r.metric_id",
};

function dimensionExpr(d: string): Raw {
  if (d === "time") return sql`b.value ->> 2`;
  if (d === "hour_of_week") return sql`b.value ->> 4`;
  const column = COLUMNS[d];
  if (column) return column;
  const events = datasetOf("events");
  const key = events ? propertyKeyOf(events, d) : null;
  if (key === null) throw new RangeError(`no expression for ${d}`);
  return propertyExpr(key);
}

function segmentsOf(q: FilledQuery, from: number, to: number) {
  const clock = new ZoneClock(q.time.time_zone, from, to);
  const needs = {
    ...(q.dimensions.includes("time") ? { time: q.time.granularity } : {}),
    hour_of_week: q.dimensions.includes("hour_of_week"),
  };
  const segmented = needs.time !== undefined || needs.hour_of_week;
  const segs: Segment[] = segmented ? segments(clock, from, to, needs) : [];
  return { clock, segmented, segs };
}

/** The aggregates the query's measures need. */
const aggNamesOf = (q: FilledQuery) => [
  ...new Set(q.measures.flatMap((m) => MEASURES[m]?.aggs ?? [])),
];

/** The one statement an actor runs over its `events` table. */
export function eventsStatement({ query: q, from, to }: EventsQueryInput): CompiledQuery {
  if (q.dataset !== "events") throw new RangeError(`not an events query: ${q.dataset}`);
  const { segmented, segs } = segmentsOf(q, from, to);
  const dims = actorDimensions(q);
  const aggs = aggNamesOf(q).flatMap((name) => {
    const agg = AGGS[name];
    if (!agg) throw new RangeError(`no aggregate ${name}`);
    return agg.kind === "exact"
      ? [
          sql`CAST(SUM((${agg.expr}) / ${B}) AS TEXT)`.as(`a_${name}_hi`),
          sql`CAST(SUM((${agg.expr}) % ${B}) AS TEXT)`.as(`a_${name}_lo`),
        ]
      : [agg.expr.as(`a_${name}`)];
  });
  const filters = q.filters.filter((f) => f.dimension !== "customer");

  const scope = (rangeFrom: number, rangeTo: number, withSegments: boolean) => {
    let qb = withSegments
      ? db
          .selectFrom(
            sql`json_each(${JSON.stringify(
              segs.map((s) => [s.start, s.end, s.time, s.period, s.hour_of_week]),
            )})`.as("b"),
          )
          .crossJoin("events as e")
          // Each segment's own bounds are the range: one search of events_by_time per segment.
          .where(sql<boolean>`e.time >= b.value ->> 0`)
          .where(sql<boolean>`e.time < b.value ->> 1`)
      : db.selectFrom("events as e").where("e.time", ">=", rangeFrom).where("e.time", "<", rangeTo);
    for (const f of filters)
      qb = qb.where(filterCondition(dimensionExpr(f.dimension), f.op, f.values));
    return qb;
  };
  const nulls = dims.map((_, i) => sql`NULL`.as(`d_${i}`));

  let rows = scope(from, to, segmented).select([
    sql.lit("r").as("p"),
    ...dims.map((d, i) => dimensionExpr(d).as(`d_${i}`)),
    ...aggs,
  ]);
  rows =
    dims.length > 0
      ? rows.groupBy(dims.map((_, i) => ref(`d_${i}`)))
      : // Without groups SQLite answers one row even for no events: an actor without events in
        // the range adds no row (a customer-only report has no empty customers).
        rows.having(sql<boolean>`COUNT(*) > 0`);
  let statement = rows.unionAll(
    scope(from, to, false).select([sql.lit("t").as("p"), ...nulls, ...aggs]) as never,
  );
  if (q.compare_to) {
    const cmp = comparisonRange(from, to, q.compare_to, q.time.time_zone);
    statement = statement.unionAll(
      scope(cmp.from, cmp.to, false).select([sql.lit("c").as("p"), ...nulls, ...aggs]) as never,
    );
  }
  return statement.compile();
}

/** D1: the customers whose actors hold the query's events — those with usage in the range (and
 * the comparison's) in rollups_daily, after the query's customer, product and metric filters —
 * at most MAX_ACTORS_PER_QUERY + 1 (one more says there are too many). */
export function customersStatement(
  tenantId: string,
  q: FilledQuery,
  from: number,
  to: number,
): CompiledQuery {
  const cmp = q.compare_to ? comparisonRange(from, to, q.compare_to, q.time.time_zone) : null;
  const lo = Math.min(from, cmp?.from ?? from);
  const hi = Math.max(to, cmp?.to ?? to);
  let qb = db
    .selectFrom("rollups_daily as r")
    .select(sql.ref("r.customer_id").as("customer"))
    .distinct()
    .where("r.tenant_id", "=", tenantId)
    // Daily rows start at UTC midnight: the day holding `lo` counts.
    .where("r.start", ">=", Math.floor(lo / DAY_MS) * DAY_MS)
    .where("r.start", "<", hi);
  for (const f of q.filters) {
    const column = ROLLUP_FILTERS[f.dimension];
    if (column) qb = qb.where(filterCondition(ref(column), f.op, f.values));
  }
  return qb
    .orderBy("customer")
    .limit(MAX_ACTORS_PER_QUERY + 1)
    .compile();
}

/** Where an events query reaches past raw retention: the actors have deleted those events, so
 * the answer would be short without saying so. */
export function retentionIssues(
  q: FilledQuery,
  from: number,
  to: number,
  retentionDays: number,
  now: number,
): QueryIssue[] {
  const earliest = now - retentionDays * DAY_MS;
  const kept = `raw events are kept ${retentionDays} days (the tenant's raw_retention_days)`;
  const issues: QueryIssue[] = [];
  if (from < earliest) {
    issues.push({
      path: "time.from",
      message: `${kept}: dataset \`events\` starts at ${new Date(earliest).toISOString()}; use \`usage\` for older periods`,
    });
  }
  if (q.compare_to && issues.length === 0) {
    const cmp = comparisonRange(from, to, q.compare_to, q.time.time_zone);
    if (cmp.from < earliest) {
      issues.push({
        path: "compare_to",
        message: `${kept}: the comparison period starts at ${new Date(cmp.from).toISOString()}, before ${new Date(earliest).toISOString()}`,
      });
    }
  }
  return issues;
}

interface Group {
  dims: unknown[];
  aggs: AggValues;
}

const aggsOf = (names: string[], row: Row): AggValues => {
  const out: AggValues = {};
  for (const name of names) {
    const agg = AGGS[name];
    if (agg?.kind === "exact") {
      out[name] =
        BigInt((row[`a_${name}_hi`] as string | null) ?? 0) * 1_000_000_000n +
        BigInt((row[`a_${name}_lo`] as string | null) ?? 0);
    } else {
      out[name] = BigInt((row[`a_${name}`] as number | null) ?? 0);
    }
  }
  return out;
};

const addInto = (into: AggValues, from: AggValues) => {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0n) + v;
};

/** null first, then numbers or text in their natural order (SQLite's ascending order). */
function compareValues(x: unknown, y: unknown): number {
  if (x === y) return 0;
  if (x === null || x === undefined) return -1;
  if (y === null || y === undefined) return 1;
  if (typeof x === "bigint" || typeof x === "number") {
    const a = x as bigint | number;
    const b = y as bigint | number;
    return a < b ? -1 : a > b ? 1 : 0;
  }
  const a = String(x);
  const b = String(y);
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The actors' partials as the answer: merged exactly, ordered, limited, decoded. */
export function mergeEvents(
  q: FilledQuery,
  from: number,
  to: number,
  partials: readonly EventsPartial[],
): Omit<ReportResult, "data_as_of"> {
  const dataset = datasetOf("events");
  if (!dataset) throw new RangeError("no events dataset");
  const { clock } = segmentsOf(q, from, to);
  const names = aggNamesOf(q);
  const sqlDims = actorDimensions(q);
  const groups = new Map<string, Group>();
  const totals: AggValues = {};
  const comparison: AggValues = {};
  for (const partial of partials) {
    for (const row of partial.rows) {
      const values = aggsOf(names, row);
      if (row.p === "t") addInto(totals, values);
      else if (row.p === "c") addInto(comparison, values);
      else {
        const dims = q.dimensions.map((d) =>
          d === "customer" ? partial.customer : (row[`d_${sqlDims.indexOf(d)}`] ?? null),
        );
        const key = JSON.stringify(dims);
        const group = groups.get(key);
        if (group) addInto(group.aggs, values);
        else groups.set(key, { dims, aggs: values });
      }
    }
  }
  // No dimensions: one row of totals, as SQL answers an aggregate without GROUP BY.
  const all =
    q.dimensions.length === 0 ? [{ dims: [], aggs: { ...totals } }] : [...groups.values()];
  const dimIndex = (d: string) => q.dimensions.indexOf(d);
  const order = [
    ...q.order_by,
    ...q.dimensions
      .filter((d) => !q.order_by.some((o) => o.field === d))
      .map((d) => ({ field: d, direction: "asc" as const })),
  ];
  all.sort((x, y) => {
    for (const o of order) {
      const i = dimIndex(o.field);
      const measure = MEASURES[o.field];
      const c =
        i >= 0
          ? compareValues(numericDim(o.field, x.dims[i]), numericDim(o.field, y.dims[i]))
          : measure
            ? compareValues(measure.sort(x.aggs), measure.sort(y.aggs))
            : 0;
      if (c !== 0) return o.direction === "asc" ? c : -c;
    }
    return 0;
  });
  const truncated = all.length > q.limit;
  const kept = truncated ? all.slice(0, q.limit) : all;

  const measureCells = (a: AggValues) =>
    Object.fromEntries(q.measures.map((m) => [m, (MEASURES[m] as Measure).value(a)]));
  const dimCell = (d: string, v: unknown): ReportCell => {
    if (v === null || v === undefined) return null;
    if (d === "time") return clock.format(Number(v));
    if (d === "hour_of_week") return Number(v);
    return String(v);
  };
  const fields = new Map([...dataset.measures, ...dataset.dimensions].map((f) => [f.name, f]));
  const family = dataset.dimension_families?.[0];
  const column = (name: string, kind: ReportColumn["kind"]): ReportColumn => {
    const field = fields.get(name);
    if (field) return { name, label: field.label, kind, type: field.type };
    // A property dimension: labelled by its key.
    return { name, label: family ? name.slice(family.prefix.length) : name, kind, type: "string" };
  };
  const cmp = q.compare_to ? comparisonRange(from, to, q.compare_to, q.time.time_zone) : null;
  return {
    query: q,
    columns: [
      ...q.dimensions.map((d) => column(d, "dimension")),
      ...q.measures.map((m) => column(m, "measure")),
    ],
    rows: kept.map((g) => ({
      ...Object.fromEntries(q.dimensions.map((d, i) => [d, dimCell(d, g.dims[i])])),
      ...measureCells(g.aggs),
    })),
    totals: measureCells(totals),
    truncated,
    comparison: cmp
      ? {
          from: new Date(cmp.from).toISOString(),
          to: new Date(cmp.to).toISOString(),
          totals: measureCells(comparison),
        }
      : null,
  };
}

/** Time buckets order as instants, hours of week as numbers; the rest as text. */
const numericDim = (d: string, v: unknown) =>
  v === null || v === undefined ? null : d === "time" || d === "hour_of_week" ? Number(v) : v;
