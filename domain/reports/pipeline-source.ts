import { sql } from "kysely";
import {
  bucketsUnder,
  burnRate,
  LATENCY_BOUNDS_US,
  LATENCY_BUCKETS,
  LATENCY_TARGET_US,
  percentileUs,
} from "../pipeline-telemetry";
import type { AggValues, Measure, Raw, Source } from "./compile";

// The `pipeline` dataset's SQL (domain/reports/compile.ts `source()`): Aforo's own telemetry in
// pipeline_hourly (schema/0023_pipeline_telemetry.sql). SQL sums the counts and every latency
// bucket exactly (integers); the percentiles are read off the summed buckets in TypeScript
// (domain/pipeline-telemetry.ts percentileUs), so a day's p99 is the p99 of the day's requests,
// not an average of hourly p99s. Within-target counts are summed per row against its own
// series' target, so they stay right when series are mixed in one row. The constants (bucket
// edges, targets, series names) are the code's own and inlined as literals: binding them would
// pass D1's 100 parameters per statement.

const ref = (name: string) => sql.ref(name) as Raw;
const bucket = (i: number) => ref(`t.b${i}`);
/** Row-level sum of buckets [0, n). */
const bucketsBelow = (n: number): Raw =>
  n === 0
    ? sql`0`
    : sql`(${sql.join(
        Array.from({ length: n }, (_, i) => bucket(i)),
        sql` + `,
      )})`;
const TIMED = bucketsBelow(LATENCY_BUCKETS);
const TARGETS = Object.entries(LATENCY_TARGET_US) as [string, number][];
const WITHIN = sql`CASE t.series ${sql.join(
  TARGETS.map(
    ([series, us]) => sql`WHEN ${sql.lit(series)} THEN ${bucketsBelow(bucketsUnder(us))}`,
  ),
  sql` `,
)} ELSE 0 END`;
const TARGETED = sql`CASE WHEN t.series IN (${sql.join(TARGETS.map(([s]) => sql.lit(s)))}) THEN ${TIMED} ELSE 0 END`;

const num = (v: bigint | number | null | undefined) => Number(v ?? 0);
const bucketsOf = (a: AggValues) =>
  Array.from({ length: LATENCY_BUCKETS }, (_, i) => num(a[`b${i}`]));
const maxOf = (a: AggValues) =>
  a.latency_max === null || a.latency_max === undefined ? null : Number(a.latency_max);
/** µs → ms, to the µs. */
const ms = (us: number | null) => (us === null ? null : Math.round(us) / 1000);
/** A share, truncated to 6 decimals (never rounded up to 100 %). */
const share = (part: number, whole: number) =>
  whole === 0 ? null : Math.floor((part * 1_000_000) / whole) / 1_000_000;

const BUCKET_AGGS = Array.from({ length: LATENCY_BUCKETS }, (_, i) => `b${i}`);

/**
 * The SQL twin of percentileUs, for ORDER BY only (the cell is the TypeScript value): the first
 * bucket whose running count reaches the rank, interpolated inside it.
 */
function percentileOrder(permille: number): Raw {
  const total = sql`SUM(${TIMED})`;
  const rank = sql`${total} * ${sql.lit(permille)}`;
  const branches = Array.from({ length: LATENCY_BUCKETS }, (_, i) => {
    const lo = sql.lit(i === 0 ? 0 : (LATENCY_BOUNDS_US[i - 1] as number));
    const edge = LATENCY_BOUNDS_US[i];
    const top = sql`MAX(t.latency_max_us)`;
    const hi =
      edge === undefined ? top : sql`MIN(${sql.lit(edge)}, COALESCE(${top}, ${sql.lit(edge)}))`;
    return sql`WHEN SUM(${bucket(i)}) > 0 AND SUM(${bucketsBelow(i + 1)}) * 1000 >= ${rank}
      THEN ${lo} + (MAX(${lo}, ${hi}) - ${lo}) * (${rank} - SUM(${bucketsBelow(i)}) * 1000)
        / (SUM(${bucket(i)}) * 1000.0)`;
  });
  return sql`(CASE ${sql.join(branches, sql` `)} END)`;
}

const percentileMeasure = (permille: number): Measure => ({
  aggs: [...BUCKET_AGGS, "latency_max"],
  order: percentileOrder(permille),
  value: (a) => ms(percentileUs(bucketsOf(a), maxOf(a), permille)),
});

export function pipelineSource(): Source {
  return {
    table: "pipeline_hourly",
    alias: "t",
    time: "t.hour",
    dims: { series: ref("t.series"), outcome: ref("t.outcome") },
    aggs: {
      count: { kind: "count", expr: sql`SUM(t.count)` },
      errors: { kind: "count", expr: sql`SUM(t.errors)` },
      items: { kind: "count", expr: sql`SUM(t.items)` },
      latency_sum: { kind: "exact", expr: ref("t.latency_sum_us") },
      latency_max: { kind: "max", expr: sql`MAX(t.latency_max_us)` },
      within: { kind: "count", expr: sql`SUM(${WITHIN})` },
      targeted: { kind: "count", expr: sql`SUM(${TARGETED})` },
      ...Object.fromEntries(
        BUCKET_AGGS.map((b, i) => [b, { kind: "count", expr: sql`SUM(${bucket(i)})` }]),
      ),
    },
    measures: {
      count: { aggs: ["count"], order: sql`SUM(t.count)`, value: (a) => num(a.count) },
      items: { aggs: ["items"], order: sql`SUM(t.items)`, value: (a) => num(a.items) },
      error_count: { aggs: ["errors"], order: sql`SUM(t.errors)`, value: (a) => num(a.errors) },
      availability: {
        aggs: ["count", "errors"],
        order: sql`1.0 - TOTAL(t.errors) / NULLIF(TOTAL(t.count), 0)`,
        value: (a) => share(num(a.count) - num(a.errors), num(a.count)),
      },
      burn_rate: {
        aggs: ["count", "errors"],
        order: sql`TOTAL(t.errors) / NULLIF(TOTAL(t.count), 0)`,
        value: (a) => {
          const rate = burnRate(num(a.errors), num(a.count));
          return rate === null ? null : Math.round(rate * 1_000_000) / 1_000_000;
        },
      },
      p50_ms: percentileMeasure(500),
      p95_ms: percentileMeasure(950),
      p99_ms: percentileMeasure(990),
      max_ms: {
        aggs: ["latency_max"],
        order: sql`MAX(t.latency_max_us)`,
        value: (a) => ms(maxOf(a)),
      },
      mean_ms: {
        aggs: ["latency_sum", ...BUCKET_AGGS],
        order: sql`TOTAL(t.latency_sum_us) / NULLIF(SUM(${TIMED}), 0)`,
        value: (a) => {
          const n = bucketsOf(a).reduce((x, y) => x + y, 0);
          return n === 0 ? null : ms(Number(a.latency_sum ?? 0) / n);
        },
      },
      within_target: {
        aggs: ["within", "targeted"],
        order: sql`TOTAL(${WITHIN}) / NULLIF(TOTAL(${TARGETED}), 0)`,
        value: (a) => share(num(a.within), num(a.targeted)),
      },
    },
  };
}
