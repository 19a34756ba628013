import { HOUR_MS } from "./time";

// Aforo's own pipeline telemetry (issue 15 item 2; docs/reports.md "pipeline"): what the ingest
// and gate endpoints, the queue consumers and the invoicing job did, counted per
// (tenant, UTC hour, series, outcome) with a fixed log-scale latency histogram. Pure: the
// per-isolate recorder (workers/telemetry.ts) accumulates cells here and flushes them to D1 as
// additive upserts; the `pipeline` report dataset sums the same cells in SQL and reads
// percentiles off the summed buckets with `percentileUs`. Every operation is a sum, a count or
// a max, so cells merge in any order and any grouping (an isolate's, a flush's, a report's).

/** How long an isolate gathers before it writes (workers/telemetry.ts): the pipeline dataset's
 * answers are at most about this late. */
export const PIPELINE_FLUSH_EVERY_MS = 10_000;

/** What is counted. */
export type PipelineSeries =
  | "ingest" // POST /v1/events requests
  | "ingest_rejection" // events POST /v1/events refused, by reason
  | "gate" // POST /v1/gate and proxy-mode decisions
  | "queue" // events-queue messages the rollup consumer handled
  | "dead_letter" // messages the dead-letter consumers kept
  | "invoice_run"; // runs of the invoicing job

export const PIPELINE_SERIES: readonly PipelineSeries[] = [
  "ingest",
  "ingest_rejection",
  "gate",
  "queue",
  "dead_letter",
  "invoice_run",
];

/**
 * Upper bounds (exclusive, µs) of the latency buckets: 1-2-5 steps from 0.1 ms to 1,000 s. Log
 * scale keeps the relative error of a percentile the same at 1 ms and at 10 s; 1-2-5 steps put
 * the targets below (5 ms, 1 s) on bucket edges, so "within target" is an exact count. Bucket i
 * holds [LATENCY_BOUNDS_US[i-1], LATENCY_BOUNDS_US[i]) (from 0 for i = 0); the last bucket holds
 * everything from 1,000 s on. Never reordered or changed: stored rows are counts per position.
 */
export const LATENCY_BOUNDS_US: readonly number[] = [
  100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000, 1_000_000,
  2_000_000, 5_000_000, 10_000_000, 20_000_000, 50_000_000, 100_000_000, 200_000_000, 500_000_000,
  1_000_000_000,
];
export const LATENCY_BUCKETS = LATENCY_BOUNDS_US.length + 1;

/** The bucket a latency falls in. */
export function latencyBucket(us: number): number {
  for (let i = 0; i < LATENCY_BOUNDS_US.length; i++) {
    if (us < (LATENCY_BOUNDS_US[i] as number)) return i;
  }
  return LATENCY_BOUNDS_US.length;
}

/**
 * Latency targets per series, in µs. The gate's is SPEC §10 ("p99 under 5 ms"). SPEC §10 gives
 * ingest a throughput target, not a latency; 1 s per request is ours: a full 1,000-event batch
 * made durable end to end, the 1-2-5 edge above the soak's worst p99 on the 2-core machine
 * (571 ms, README "Soak"). Series without a target have no `within_target`.
 */
export const LATENCY_TARGET_US: Partial<Record<PipelineSeries, number>> = {
  gate: 5_000,
  ingest: 1_000_000,
};

/** The availability objective burn rates are measured against, in per mille: 99.9 %, so an
 * error share of 0.1 % spends the error budget exactly as fast as it accrues (burn rate 1). */
export const AVAILABILITY_SLO_PERMILLE = 999;

/** How many leading buckets lie wholly under `targetUs` (which must be a bucket edge). */
export function bucketsUnder(targetUs: number): number {
  const i = LATENCY_BOUNDS_US.indexOf(targetUs);
  if (i < 0) throw new RangeError(`latency target ${targetUs} µs is not a bucket edge`);
  return i + 1;
}

/** One thing that happened. `latencyUs` absent: not timed (a rejected event, a queue message
 * sent before its outbox row carried a creation time). */
export interface PipelineObservation {
  tenantId: string;
  series: PipelineSeries;
  outcome: string;
  /** Epoch ms; the cell is its UTC hour. */
  at: number;
  /** How many of these (default 1). */
  count?: number;
  /** What they carried: events sent, events applied, invoices issued (default 0). */
  items?: number;
  /** Whether they failed on Aforo's side (default false). */
  error?: boolean;
  latencyUs?: number;
}

/** The sums of one (tenant, hour, series, outcome): what a pipeline_hourly row holds. */
export interface PipelineCell {
  tenant_id: string;
  hour: number;
  series: PipelineSeries;
  outcome: string;
  count: number;
  errors: number;
  items: number;
  latency_sum_us: number;
  /** null while nothing of the cell was timed. */
  latency_max_us: number | null;
  buckets: number[];
}

const cellKey = (tenantId: string, hour: number, series: string, outcome: string) =>
  `${tenantId}\u0000${hour}\u0000${series}\u0000${outcome}`;

/** Cells being gathered (an isolate's since its last flush). */
export class PipelineAggregate {
  private cells = new Map<string, PipelineCell>();

  get size(): number {
    return this.cells.size;
  }

  add(o: PipelineObservation): void {
    const hour = o.at - (((o.at % HOUR_MS) + HOUR_MS) % HOUR_MS);
    const cell = this.cellOf(o.tenantId, hour, o.series, o.outcome);
    const n = o.count ?? 1;
    cell.count += n;
    cell.items += o.items ?? 0;
    if (o.error) cell.errors += n;
    if (o.latencyUs !== undefined && Number.isFinite(o.latencyUs)) {
      const us = Math.max(0, Math.round(o.latencyUs));
      cell.latency_sum_us += us * n;
      cell.latency_max_us = Math.max(cell.latency_max_us ?? 0, us);
      const b = latencyBucket(us);
      cell.buckets[b] = (cell.buckets[b] ?? 0) + n;
    }
  }

  /** Adds cells in (a failed flush's, put back for the next one). */
  merge(cells: readonly PipelineCell[]): void {
    for (const c of cells) {
      const cell = this.cellOf(c.tenant_id, c.hour, c.series, c.outcome);
      cell.count += c.count;
      cell.errors += c.errors;
      cell.items += c.items;
      cell.latency_sum_us += c.latency_sum_us;
      if (c.latency_max_us !== null) {
        cell.latency_max_us = Math.max(cell.latency_max_us ?? 0, c.latency_max_us);
      }
      c.buckets.forEach((n, i) => {
        cell.buckets[i] = (cell.buckets[i] ?? 0) + n;
      });
    }
  }

  /** The cells gathered so far; the aggregate starts empty again. */
  drain(): PipelineCell[] {
    const out = [...this.cells.values()];
    this.cells = new Map();
    return out;
  }

  private cellOf(tenantId: string, hour: number, series: PipelineSeries, outcome: string) {
    const key = cellKey(tenantId, hour, series, outcome);
    let cell = this.cells.get(key);
    if (!cell) {
      cell = {
        tenant_id: tenantId,
        hour,
        series,
        outcome,
        count: 0,
        errors: 0,
        items: 0,
        latency_sum_us: 0,
        latency_max_us: null,
        buckets: new Array<number>(LATENCY_BUCKETS).fill(0),
      };
      this.cells.set(key, cell);
    }
    return cell;
  }
}

/**
 * The latency at `permille` (500 = median, 990 = p99) of a histogram, in µs, as Prometheus'
 * histogram_quantile reads one: the rank permille/1000 × n falls in the first bucket whose
 * running count reaches it, and the value is interpolated linearly inside that bucket, whose top
 * is taken as `maxUs` when that is lower (and for the last, open bucket). So the answer lies in
 * the same bucket as the exact nearest-rank percentile of the latencies counted, never above the
 * largest. null: nothing counted. Ranks are compared on integers (n × permille against running
 * counts × 1000), so no float rounding moves a percentile into the next bucket.
 */
export function percentileUs(
  buckets: readonly number[],
  maxUs: number | null,
  permille: number,
): number | null {
  const n = buckets.reduce((a, b) => a + b, 0);
  if (n === 0) return null;
  const rank = n * permille;
  let before = 0;
  for (let i = 0; i < buckets.length; i++) {
    const c = buckets[i] ?? 0;
    if (c > 0 && (before + c) * 1000 >= rank) {
      const lo = i === 0 ? 0 : (LATENCY_BOUNDS_US[i - 1] as number);
      const edge = LATENCY_BOUNDS_US[i];
      const hi = Math.max(lo, Math.min(edge ?? Infinity, maxUs ?? edge ?? lo));
      return lo + ((hi - lo) * (rank - before * 1000)) / (c * 1000);
    }
    before += c;
  }
  return maxUs;
}

/** Error share → burn rate against AVAILABILITY_SLO_PERMILLE: 1 spends the budget exactly as
 * it accrues, 10 would spend a 30-day budget in 3 days. null without observations. On integers
 * up to the one division (1 − 0.999 is not exact in floating point). */
export function burnRate(errors: number, count: number): number | null {
  if (count === 0) return null;
  return (errors * 1000) / (count * (1000 - AVAILABILITY_SLO_PERMILLE));
}

// ---- Why an event was rejected ---------------------------------------------------------------

/** The fields an event's schema error is reported under (CloudEvents' named as the native
 * fields they carry): anything else counts as `invalid_event`, so the reasons stay a small,
 * fixed set whatever a sender sends. */
const EVENT_FIELDS = new Set([
  "id",
  "customer",
  "product",
  "metric",
  "quantity",
  "time",
  "cost",
  "properties",
  "specversion",
  "source",
]);
const CLOUD_FIELDS: Record<string, string> = { subject: "customer", type: "metric" };

/**
 * The reason code of a rejected event from the path of its first schema error: `invalid_<field>`
 * (`invalid_quantity`, `invalid_time`, …), `invalid_event` for a shape error of the event as a
 * whole (not an object, unknown keys). The catalog's and the clock's own reasons are
 * `unknown_product`, `unknown_metric`, `time_in_future`, `time_before_horizon`; a customer API
 * key's `unknown_api_key`, `revoked_api_key`, `api_key_mismatch`; the actor's is
 * `over_day_budget`.
 */
export function schemaRejectionReason(path: string): string {
  const parts = path.split(".");
  const top = parts[0] === "data" && parts.length > 1 ? (parts[1] as string) : (parts[0] ?? "");
  const field = CLOUD_FIELDS[top] ?? top;
  return EVENT_FIELDS.has(field) ? `invalid_${field}` : "invalid_event";
}
