// Net revenue retention, customer churn and trial conversion over a window ending at t
// (formulas and edge rules: docs/metrics.md).

import { addInterval } from "../billing-period";
import { customerMrrOf, type KpiIndex, type SubscriptionRecord, snapshotAt } from "./history";
import { checkInstant, DAY_MS } from "./time";
import type { MrrBasis } from "./types";

export type NrrWindow = "12m" | "90d" | "30d";

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
}

/** The longest window the history covers: 12 calendar months when the data starts at or before
 * t − 12 months, else 90 days when it starts at or before t − 90 days, else 30 days. */
export function nrrWindowAt(
  historyStart: number | null,
  t: number,
): { window: NrrWindow; start: number } {
  const year = addInterval(t, "year", -1);
  if (historyStart !== null && historyStart <= year) return { window: "12m", start: year };
  if (historyStart !== null && historyStart <= t - 90 * DAY_MS) {
    return { window: "90d", start: t - 90 * DAY_MS };
  }
  return { window: "30d", start: t - 30 * DAY_MS };
}

export function nrrAt(
  index: KpiIndex,
  t: number,
  opts: { window?: NrrWindow; basis?: MrrBasis } = {},
): NrrResult {
  checkInstant("t", t);
  const basis = opts.basis ?? "total";
  const chosen = nrrWindowAt(index.historyStart, t);
  const window = opts.window ?? chosen.window;
  const start =
    window === chosen.window
      ? chosen.start
      : window === "12m"
        ? addInterval(t, "year", -1)
        : t - (window === "90d" ? 90 : 30) * DAY_MS;
  const before = snapshotAt(index, start);
  const now = snapshotAt(index, t);
  let cohort = 0;
  let starting = 0n;
  let current = 0n;
  for (let c = 0; c < index.customers.length; c++) {
    const then = customerMrrOf(before, c, basis);
    if (then <= 0n) continue;
    cohort++;
    starting += then;
    current += customerMrrOf(now, c, basis);
  }
  return {
    window,
    window_start: start,
    window_end: t,
    cohort_customers: cohort,
    starting_mrr: starting,
    current_mrr: current,
    ratio: starting > 0n ? Number(current) / Number(starting) : null,
  };
}

export interface ChurnResult {
  window_start: number;
  window_end: number;
  window_days: number;
  /** Customers with MRR > 0 at window_start. */
  paying_at_start: number;
  /** Of those, customers with MRR 0 at window_end. */
  churned: number;
  /** churned ÷ paying_at_start; null when nobody paid at window_start. */
  rate: number | null;
  /** The churned customers' MRR at window_start. */
  churned_mrr: bigint;
}

export function customerChurnAt(
  index: KpiIndex,
  t: number,
  opts: { days?: number; basis?: MrrBasis } = {},
): ChurnResult {
  checkInstant("t", t);
  const days = opts.days ?? 30;
  if (!Number.isSafeInteger(days) || days < 1) throw new RangeError("days must be ≥ 1");
  const basis = opts.basis ?? "total";
  const start = t - days * DAY_MS;
  const before = snapshotAt(index, start);
  const now = snapshotAt(index, t);
  let paying = 0;
  let churned = 0;
  let churnedMrr = 0n;
  for (let c = 0; c < index.customers.length; c++) {
    const then = customerMrrOf(before, c, basis);
    if (then <= 0n) continue;
    paying++;
    if (customerMrrOf(now, c, basis) <= 0n) {
      churned++;
      churnedMrr += then;
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
  checkInstant("t", t);
  const days = opts.days ?? 30;
  if (!Number.isSafeInteger(days) || days < 1) throw new RangeError("days must be ≥ 1");
  const start = t - days * DAY_MS;
  let ended = 0;
  let converted = 0;
  for (const sub of index.subscriptions) {
    const o = trialOutcomeOf(sub);
    if (o === null || o.ended_at <= start || o.ended_at > t) continue;
    ended++;
    if (o.converted) converted++;
  }
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
