import { formatMoney, formatQuantity } from "../money";
import { DAY_MS, HOUR_MS } from "../time";
import type { ArchiveRow } from "./archive-rows";

// Rebuilding rollups from the event archive (issue 16 item 1, the replay path): the archive
// holds every accepted event with its rating, so its rows summed per (customer, hour, product,
// metric) are what the D1 rollups hold for them (rollups_hourly), exactly, for as far back as
// the archive goes: past the actors' raw retention. Every column of rollups_hourly is rebuilt:
// units, revenue, cost and events from the rating, uncosted_events and uncosted_revenue from
// `cost_status`, the same test ingest applies (domain/ingest-batch.ts).

export interface ReplayTotals {
  units: bigint; // micros
  revenue: bigint; // nanos
  cost: bigint; // nanos
  events: number;
  uncosted_events: number;
  uncosted_revenue: bigint; // nanos
}

/** The archive columns a replay reads (each part one row group at a time). */
export const REPLAY_COLUMNS = [
  "customer_id",
  "event_time",
  "product",
  "metric",
  "quantity",
  "revenue",
  "cost",
  "cost_status",
] as const satisfies readonly (keyof ArchiveRow)[];

/** `customer \0 hour start (epoch ms) \0 product \0 metric`. */
export const replayKey = (customer: string, hour: number, product: string, metric: string) =>
  `${customer}\u0000${hour}\u0000${product}\u0000${metric}`;

export interface ReplayKeyParts {
  customer: string;
  hour: number;
  product: string;
  metric: string;
}

export function splitReplayKey(key: string): ReplayKeyParts {
  const [customer = "", hour = "0", product = "", metric = ""] = key.split("\u0000");
  return { customer, hour: Number(hour), product, metric };
}

export const emptyTotals = (): ReplayTotals => ({
  units: 0n,
  revenue: 0n,
  cost: 0n,
  events: 0,
  uncosted_events: 0,
  uncosted_revenue: 0n,
});

/** Adds `rows` into `into` (call once per row group: the totals are all that is kept). */
export function addReplayTotals(
  into: Map<string, ReplayTotals>,
  rows: Iterable<Pick<ArchiveRow, (typeof REPLAY_COLUMNS)[number]>>,
): Map<string, ReplayTotals> {
  for (const r of rows) {
    const hour = Math.floor(r.event_time / HOUR_MS) * HOUR_MS;
    const key = replayKey(r.customer_id, hour, r.product, r.metric);
    const t = into.get(key) ?? emptyTotals();
    const revenue = BigInt(r.revenue);
    t.units += BigInt(r.quantity);
    t.revenue += revenue;
    t.cost += BigInt(r.cost);
    t.events += 1;
    if (r.cost_status === "uncosted") {
      t.uncosted_events += 1;
      t.uncosted_revenue += revenue;
    }
    into.set(key, t);
  }
  return into;
}

// ---- Comparing the archive with D1 -------------------------------------------------------------

/** The longest range one replay covers. A date's archive totals and its D1 rows are held in
 * memory together, one date at a time, and an apply writes each date in its own D1 batch, so
 * the bound is on the request's duration (every part of every date is read from R2), not its
 * memory: a month answers within a request's limits at the archive's measured read rate. */
export const MAX_REPLAY_DAYS = 31;

/** How many differing rows a date's comparison shows (its counts are always complete). */
export const REPLAY_SAMPLE_LIMIT = 20;

export type ReplayRowKind = "differs" | "missing_in_d1" | "only_in_d1";

export interface ReplaySample extends ReplayKeyParts {
  kind: ReplayRowKind;
  archive: ReplayTotals | null;
  d1: ReplayTotals | null;
}

export interface DateComparison {
  date: string;
  archive: ReplayTotals;
  d1: ReplayTotals;
  rows: { matching: number; differing: number; missing_in_d1: number; only_in_d1: number };
  samples: ReplaySample[];
  /** What writing the archive's totals into D1 takes: the rows to set (differing or missing)
   * and the rows to delete (in D1 only). */
  writes: { set: [string, ReplayTotals][]; delete: string[] };
}

/** An all-zero row says nothing a missing row does not (a delta whose amounts cancelled). */
const isZero = (t: ReplayTotals) =>
  t.events === 0 &&
  t.units === 0n &&
  t.revenue === 0n &&
  t.cost === 0n &&
  t.uncosted_events === 0 &&
  t.uncosted_revenue === 0n;

export const sameTotals = (a: ReplayTotals, b: ReplayTotals) =>
  a.events === b.events &&
  a.units === b.units &&
  a.revenue === b.revenue &&
  a.cost === b.cost &&
  a.uncosted_events === b.uncosted_events &&
  a.uncosted_revenue === b.uncosted_revenue;

function addInto(sum: ReplayTotals, t: ReplayTotals) {
  sum.units += t.units;
  sum.revenue += t.revenue;
  sum.cost += t.cost;
  sum.events += t.events;
  sum.uncosted_events += t.uncosted_events;
  sum.uncosted_revenue += t.uncosted_revenue;
}

/**
 * One date's archive totals against its D1 rows (both keyed by `replayKey`, both the date's
 * hours only): the date's sums on each side, every row counted as matching, differing, missing
 * in D1 or in D1 only, the first `sampleLimit` differences in key order, and the writes that
 * make D1 equal the archive.
 */
export function compareReplayDate(
  date: string,
  archive: ReadonlyMap<string, ReplayTotals>,
  d1: ReadonlyMap<string, ReplayTotals>,
  sampleLimit = REPLAY_SAMPLE_LIMIT,
): DateComparison {
  const out: DateComparison = {
    date,
    archive: emptyTotals(),
    d1: emptyTotals(),
    rows: { matching: 0, differing: 0, missing_in_d1: 0, only_in_d1: 0 },
    samples: [],
    writes: { set: [], delete: [] },
  };
  const keys = [...new Set([...archive.keys(), ...d1.keys()])].sort();
  for (const key of keys) {
    const a = archive.get(key);
    const stored = d1.get(key);
    if (a) addInto(out.archive, a);
    if (stored) addInto(out.d1, stored);
    const present = stored && !isZero(stored) ? stored : null;
    let kind: ReplayRowKind | null;
    if (a && present) kind = sameTotals(a, present) ? null : "differs";
    else if (a) kind = "missing_in_d1";
    else kind = present ? "only_in_d1" : null;
    if (kind === null) {
      if (a) out.rows.matching += 1;
      continue;
    }
    if (kind === "differs") out.rows.differing += 1;
    else if (kind === "missing_in_d1") out.rows.missing_in_d1 += 1;
    else out.rows.only_in_d1 += 1;
    if (a) out.writes.set.push([key, a]);
    else out.writes.delete.push(key);
    if (out.samples.length < sampleLimit) {
      out.samples.push({ ...splitReplayKey(key), kind, archive: a ?? null, d1: present });
    }
  }
  return out;
}

/** Whether a date's D1 rows equal the archive's. */
export const dateMatches = (c: DateComparison) =>
  c.rows.differing === 0 && c.rows.missing_in_d1 === 0 && c.rows.only_in_d1 === 0;

/** Totals as the API shows them: money and quantities as exact decimal strings. */
export const totalsJson = (t: ReplayTotals) => ({
  events: t.events,
  units: formatQuantity(t.units),
  revenue: formatMoney(t.revenue, 0),
  cost: formatMoney(t.cost, 0),
  uncosted_events: t.uncosted_events,
  uncosted_revenue: formatMoney(t.uncosted_revenue, 0),
});

// ---- The range --------------------------------------------------------------------------------

/** The UTC dates from `from` to `to`, both inclusive (YYYY-MM-DD), or why the range is refused. */
export function replayDates(
  from: string,
  to: string,
): { dates: string[] } | { error: { path: string; message: string } } {
  const start = Date.parse(`${from}T00:00:00Z`);
  const end = Date.parse(`${to}T00:00:00Z`);
  if (end < start) return { error: { path: "from", message: "must not be after to" } };
  const days = (end - start) / DAY_MS + 1;
  if (days > MAX_REPLAY_DAYS) {
    return { error: { path: "to", message: `at most ${MAX_REPLAY_DAYS} days from from` } };
  }
  const dates: string[] = [];
  for (let t = start; t <= end; t += DAY_MS) dates.push(new Date(t).toISOString().slice(0, 10));
  return { dates };
}

/** A date's hours: [start, end) in epoch ms. */
export const dateHours = (date: string) => {
  const start = Date.parse(`${date}T00:00:00Z`);
  return { start, end: start + DAY_MS };
};
