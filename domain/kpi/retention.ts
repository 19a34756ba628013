// Net revenue retention, customer churn and trial conversion over a window ending at t
// (formulas and edge rules: docs/metrics.md).

import { addInterval } from "../billing-period";
import { customerMrrOf, type KpiIndex, type SubscriptionRecord, snapshotAt } from "./history";
import { checkInstant, DAY_MS } from "./time";
import type { MrrBasis } from "./types";

export type NrrWindow = "12m" | "90d" | "30d";

/** Days of usage behind a customer's usage MRR at an instant (history.ts usageWindow). */
const USAGE_WINDOW_MS = 30 * DAY_MS;

export interface NrrResult {
  window: NrrWindow;
  window_start: number;
  window_end: number;
  /** Customers paying at window_start (the cohort). */
  cohort_customers: number;
  /** The cohort's MRR at window_start. */
  starting_mrr: bigint;
  /** The same customers' MRR at window_end (0 for those who left). */
  current_mrr: bigint;
  /** current_mrr ÷ starting_mrr; null for an empty cohort. */
  ratio: number | null;
  /** Whether the usage record covers the 30 days before window_start, which the starting
   * MRR's usage part sums. When it does not, the starting MRR misses usage that was never
   * recorded and the ratio overstates retention. */
  usage_covered: boolean;
}

function windowStart(window: NrrWindow, t: number): number {
  return window === "12m" ? addInterval(t, "year", -1) : t - (window === "90d" ? 90 : 30) * DAY_MS;
}

/** Whether the data behind a window starting at `start` is there: the history begins at or
 * before it, and the usage record (when there is any) at or before its 30-day usage window. */
function covers(historyStart: number | null, usageStart: number | null, start: number) {
  return (
    historyStart !== null &&
    historyStart <= start &&
    (usageStart === null || usageStart <= start - USAGE_WINDOW_MS)
  );
}

/** The longest window the data covers: 12 calendar months, else 90 days, else 30 days, where a
 * window is covered when the history starts at or before its start and the usage record at or
 * before 30 days before its start (the starting MRR's usage is the 30 days before it). With
 * none covered: 30 days, `covered: false`. */
export function nrrWindowAt(
  historyStart: number | null,
  t: number,
  usageStart: number | null = null,
): { window: NrrWindow; start: number; covered: boolean } {
  for (const window of ["12m", "90d", "30d"] as const) {
    const start = windowStart(window, t);
    if (covers(historyStart, usageStart, start)) return { window, start, covered: true };
  }
  return { window: "30d", start: t - 30 * DAY_MS, covered: false };
}

export interface NrrCohortRow {
  customer_id: string;
  start_mrr: bigint;
  current_mrr: bigint;
}

function nrrParts(
  index: KpiIndex,
  t: number,
  opts: { window?: NrrWindow; basis?: MrrBasis },
  rows: NrrCohortRow[] | null,
): NrrResult {
  checkInstant("t", t);
  const basis = opts.basis ?? "total";
  const chosen = nrrWindowAt(index.historyStart, t, index.usageStart);
  const window = opts.window ?? chosen.window;
  const start = window === chosen.window ? chosen.start : windowStart(window, t);
  const before = snapshotAt(index, start);
  const now = snapshotAt(index, t);
  let cohort = 0;
  let starting = 0n;
  let current = 0n;
  for (let c = 0; c < index.customers.length; c++) {
    const then = customerMrrOf(before, c, basis);
    if (then <= 0n) continue;
    const cur = customerMrrOf(now, c, basis);
    cohort++;
    starting += then;
    current += cur;
    rows?.push({
      customer_id: (index.customers[c] as { id: string }).id,
      start_mrr: then,
      current_mrr: cur,
    });
  }
  return {
    window,
    window_start: start,
    window_end: t,
    cohort_customers: cohort,
    starting_mrr: starting,
    current_mrr: current,
    ratio: starting > 0n ? Number(current) / Number(starting) : null,
    usage_covered: covers(index.historyStart, index.usageStart, start),
  };
}

export function nrrAt(
  index: KpiIndex,
  t: number,
  opts: { window?: NrrWindow; basis?: MrrBasis } = {},
): NrrResult {
  return nrrParts(index, t, opts, null);
}

/** NRR's cohort, customer by customer: the rows add up to starting_mrr and current_mrr. Sorted
 * by the change (current − start), biggest loss first, then by id. */
export function nrrCohortAt(
  index: KpiIndex,
  t: number,
  opts: { window?: NrrWindow; basis?: MrrBasis } = {},
): { result: NrrResult; rows: NrrCohortRow[] } {
  const rows: NrrCohortRow[] = [];
  const result = nrrParts(index, t, opts, rows);
  rows.sort((a, b) => {
    const d = a.current_mrr - a.start_mrr - (b.current_mrr - b.start_mrr);
    return d < 0n ? -1 : d > 0n ? 1 : a.customer_id < b.customer_id ? -1 : 1;
  });
  return { result, rows };
}

export interface ChurnResult {
  window_start: number;
  window_end: number;
  window_days: number;
  /** Customers with MRR > 0 at window_start. */
  paying_at_start: number;
  /** Customers who stopped paying inside the window and are not paying at its end: MRR > 0 at
   * one of the daily samples window_start, window_start + 1 d, …, and 0 at window_end. */
  churned: number;
  /** churned ÷ paying_at_start; null when nobody paid at window_start. */
  rate: number | null;
  /** The churned customers' MRR at their last paying sample. */
  churned_mrr: bigint;
}

export interface ChurnedCustomer {
  customer_id: string;
  /** The last daily sample at which the customer paid. */
  last_paying_at: number;
  /** The first sample after it (the customer paid nothing from there to window_end). */
  churned_at: number;
  /** MRR at last_paying_at. */
  mrr: bigint;
  /** Whether the customer was paying at window_start (else they joined inside the window). */
  paying_at_start: boolean;
}

function churnParts(
  index: KpiIndex,
  t: number,
  opts: { days?: number; basis?: MrrBasis },
  rows: ChurnedCustomer[] | null,
): ChurnResult {
  checkInstant("t", t);
  const days = opts.days ?? 30;
  if (!Number.isSafeInteger(days) || days < 1) throw new RangeError("days must be ≥ 1");
  const basis = opts.basis ?? "total";
  const start = t - days * DAY_MS;
  // Daily samples t − days·d, …, t − 1 d (newest first), then t.
  const samples = Array.from({ length: days }, (_, k) => snapshotAt(index, t - (k + 1) * DAY_MS));
  const before = samples[days - 1] as ReturnType<typeof snapshotAt>;
  const now = snapshotAt(index, t);
  let paying = 0;
  let churned = 0;
  let churnedMrr = 0n;
  for (let c = 0; c < index.customers.length; c++) {
    const atStart = customerMrrOf(before, c, basis) > 0n;
    if (atStart) paying++;
    if (customerMrrOf(now, c, basis) > 0n) continue;
    for (let k = 0; k < days; k++) {
      const snap = samples[k] as ReturnType<typeof snapshotAt>;
      const mrr = customerMrrOf(snap, c, basis);
      if (mrr <= 0n) continue;
      churned++;
      churnedMrr += mrr;
      rows?.push({
        customer_id: (index.customers[c] as { id: string }).id,
        last_paying_at: snap.at,
        churned_at: snap.at + DAY_MS,
        mrr,
        paying_at_start: atStart,
      });
      break;
    }
  }
  return {
    window_start: start,
    window_end: t,
    window_days: days,
    paying_at_start: paying,
    churned,
    rate: paying > 0 ? churned / paying : null,
    churned_mrr: churnedMrr,
  };
}

/** Customer churn over the N days ending at t (docs/metrics.md): customers who stopped paying
 * in the window and have not come back by t, ÷ customers paying at its start. */
export function customerChurnAt(
  index: KpiIndex,
  t: number,
  opts: { days?: number; basis?: MrrBasis } = {},
): ChurnResult {
  return churnParts(index, t, opts, null);
}

/** The churned customers behind customerChurnAt, most recent churn first, then by id. */
export function churnedCustomersAt(
  index: KpiIndex,
  t: number,
  opts: { days?: number; basis?: MrrBasis } = {},
): { result: ChurnResult; rows: ChurnedCustomer[] } {
  const rows: ChurnedCustomer[] = [];
  const result = churnParts(index, t, opts, rows);
  rows.sort((a, b) => b.churned_at - a.churned_at || (a.customer_id < b.customer_id ? -1 : 1));
  return { result, rows };
}

export interface TrialOutcome {
  subscription_id: string;
  customer_id: string;
  /** When the trial ended: trial_end when it converted, else the earlier of trial_end and the
   * instant the subscription stopped. */
  ended_at: number;
  converted: boolean;
}

/** Outcome of a subscription's trial, or null when it has none (no trial_end, or a trial_end at
 * or before its first start). Converted = still live at trial_end (some phase covers it). */
export function trialOutcomeOf(sub: SubscriptionRecord): TrialOutcome | null {
  const te = sub.trialEnd;
  if (te === null || !(te > sub.firstStart)) return null;
  const converted = sub.phases.some((p) => p.start <= te && te < p.end);
  let endedAt = te;
  if (!converted) {
    const stop = sub.serviceEnds.find((e) => e > sub.firstStart);
    if (stop !== undefined && stop < te) endedAt = stop;
  }
  return { subscription_id: sub.id, customer_id: sub.customerId, ended_at: endedAt, converted };
}

export interface TrialConversionResult {
  window_start: number;
  window_end: number;
  window_days: number;
  /** Trials that ended in (window_start, window_end]. */
  ended: number;
  converted: number;
  lapsed: number;
  /** converted ÷ ended; null when no trial ended. */
  rate: number | null;
}

export function trialConversionAt(
  index: KpiIndex,
  t: number,
  opts: { days?: number } = {},
): TrialConversionResult {
  const outcomes = trialsEndedAt(index, t, opts);
  const days = opts.days ?? 30;
  const start = t - days * DAY_MS;
  const ended = outcomes.length;
  const converted = outcomes.filter((o) => o.converted).length;
  return {
    window_start: start,
    window_end: t,
    window_days: days,
    ended,
    converted,
    lapsed: ended - converted,
    rate: ended > 0 ? converted / ended : null,
  };
}

/** The trials that ended in (t − N d, t], converted or lapsed: the rows behind
 * trialConversionAt. Most recent first, then by subscription id. */
export function trialsEndedAt(
  index: KpiIndex,
  t: number,
  opts: { days?: number } = {},
): (TrialOutcome & { trial_end: number })[] {
  checkInstant("t", t);
  const days = opts.days ?? 30;
  if (!Number.isSafeInteger(days) || days < 1) throw new RangeError("days must be ≥ 1");
  const start = t - days * DAY_MS;
  const out: (TrialOutcome & { trial_end: number })[] = [];
  for (const sub of index.subscriptions) {
    const o = trialOutcomeOf(sub);
    if (o === null || o.ended_at <= start || o.ended_at > t) continue;
    out.push({ ...o, trial_end: sub.trialEnd as number });
  }
  return out.sort(
    (a, b) => b.ended_at - a.ended_at || (a.subscription_id < b.subscription_id ? -1 : 1),
  );
}
