// QuotaPacingProjectionService (SPEC §5): for a metric with an included quota, project the
// end-of-period consumption and fire when the projection crosses 80 / 100 / 120 % of the quota
// (policy thresholds), each once per period. The projection and its method ride on the signal.
//
// Projections (both exported, both on every signal):
// - linear: usage so far ÷ elapsed time × period length (run rate).
// - weekday_weighted: the customer's own weekday profile w[d] (mean daily usage per weekday,
//   learned from the usage increments this service sees, exponentially weighted across periods)
//   weights time: projection = usage × W(start, end) / W(start, now), where W integrates w over
//   the days (fractions of days at the ends). Usage so far fixes the level; the profile spreads
//   the rest of the period over busy and quiet days. A weekday-heavy customer at Friday night
//   is not extrapolated as if the weekend were as busy; a weekend-heavy one is not under-projected
//   from a quiet Monday. Used once every weekday has min_profile_weeks complete observations,
//   else linear. test/domain/detectors/quota-pacing-quality.test.ts measures both (MAPE).
//
// Firing: a threshold fires when usage itself has crossed it (a fact, at any time), or when the
// projection has crossed it by more than confidence_z standard errors and at least
// min_elapsed_fraction of the period has elapsed (early projections are noise). The standard
// error is relative: cv × (1 − f) × √(1/elapsed days + 1/remaining days), with cv the customer's
// day-to-day deviation from their weekday profile (learned; 50 % until 7 days are known) and f
// the elapsed fraction: the level is known from the days so far, the rest is still to come. Several thresholds can fire at once, each its own key
// (detector, customer, metric, period start, threshold). A new period (period.start changes)
// re-arms them; calls for an earlier period than the state's (late events) are ignored.
//
// Called per event (usage = period-to-date units after the event) or at hour/day closes; cheap:
// O(1) per call. State: 7 + 7 numbers and a few scalars, fixed size (~0.4 KB as JSON). Crossing a
// threshold implies crossing every lower one, so "fired this period" is one number: the highest
// threshold fired.

import { fraction, num, type PolicyIssue, positiveInt, type Rec } from "./policy-check";
import { GATE_RUNGS, type Rung } from "./rungs";
import { defineDetector } from "./spec";
import { DAY_MS, dayOfWeek, isoInstant } from "./time";
import {
  capIds,
  type DetectorResult,
  idempotencyKey,
  round,
  type Signal,
  type Window,
} from "./types";
import { fmt, num as numberAt, scopeOf, str } from "./wording";

export interface QuotaPacingPolicy {
  /** Percent of the included quota; each fires once per period. Strictly increasing. */
  thresholds: number[];
  /** Projections are not trusted before this fraction of the period has elapsed (usage that has
   * already crossed a threshold fires regardless: that is a fact, not a projection). */
  min_elapsed_fraction: number;
  /** Complete observations of every weekday before the weekday-weighted projection is used. */
  min_profile_weeks: number;
  /** A projection fires only when it is past the threshold by this many standard errors. */
  confidence_z: number;
}

export const DEFAULT_QUOTA_PACING_POLICY: QuotaPacingPolicy = {
  thresholds: [80, 100, 120],
  min_elapsed_fraction: 0.2,
  min_profile_weeks: 2,
  confidence_z: 1,
};

function validateQuotaPacingPolicy(q: Rec, path: string, issues: PolicyIssue[]) {
  const t = q.thresholds;
  if (!Array.isArray(t) || t.length === 0) {
    issues.push({ path: `${path}.thresholds`, message: "must be a non-empty array" });
  } else {
    t.forEach((x, i) => {
      if (typeof x !== "number" || !Number.isFinite(x) || x <= 0) {
        issues.push({ path: `${path}.thresholds.${i}`, message: "must be a percent > 0" });
      } else if (i > 0 && typeof t[i - 1] === "number" && x <= (t[i - 1] as number)) {
        issues.push({
          path: `${path}.thresholds.${i}`,
          message: "thresholds must be strictly increasing",
        });
      }
    });
    if (t.length > 10)
      issues.push({ path: `${path}.thresholds`, message: "at most 10 thresholds" });
  }
  num(q, path, "min_elapsed_fraction", fraction, issues);
  num(q, path, "min_profile_weeks", positiveInt, issues);
  num(q, path, "confidence_z", (x) => (x >= 0 && x <= 5 ? null : "must be in [0, 5]"), issues);
}

const DETECTOR = "QuotaPacingProjectionService";
const ALPHA_DOW = 0.3; // per completed day of that weekday
const MIN_WEIGHT = 0.02; // weekday weights are floored at 2 % of the mean (no division by ~0)
const ALPHA_DEV = 0.1; // per completed day
const PRIOR_CV = 0.5; // day-to-day deviation assumed until MIN_DEV_DAYS are known
const MIN_DEV_DAYS = 7;

export type ProjectionMethod = "weekday_weighted" | "linear";

export interface QuotaPacingState {
  v: 1;
  /** Start of the period `fired_pct` belongs to. */
  period_start: number | null;
  /** The highest threshold (percent) fired in that period; 0 before any. */
  fired_pct: number;
  /** Period-to-date usage at the last call. */
  last_usage: number;
  /** The UTC day being accumulated, its usage so far, and whether it began mid-day (the very
   * first day: not representative, not folded into the profile). */
  day_start: number | null;
  day_units: number;
  day_partial: boolean;
  /** Mean daily usage per weekday (Monday = 0), exponentially weighted; and observation counts. */
  dow_units: number[];
  dow_n: number[];
  /** Squared relative deviation of a day from its weekday's mean, exponentially weighted. */
  dev_var: number;
  dev_n: number;
}

export interface PacingInput {
  customer: string;
  metric: string;
  /** The metric's product, carried onto the signal (not part of the key). */
  product?: string;
  /** Event time (or the close time of an hour/day), epoch ms. */
  at: number;
  /** Period-to-date usage of the metric after this event. */
  usage: number;
  /** Included quantity of the period (the plan's `included` component). */
  quota: number;
  period: Window;
  source_event_ids?: string[];
}

export type PacingDetails = {
  threshold_pct: number;
  projection: number;
  method: ProjectionMethod;
  linear_projection: number;
  usage: number;
  quota: number;
  pct_of_quota: number;
  elapsed_fraction: number;
  /** Relative standard error of the projection. */
  projection_se: number;
  /** "usage" when usage itself crossed the threshold, "projection" otherwise. */
  basis: "usage" | "projection";
  evaluated_at: number;
};

export type PacingSignal = Signal<PacingDetails>;

export function newQuotaPacingState(): QuotaPacingState {
  return {
    v: 1,
    period_start: null,
    fired_pct: 0,
    last_usage: 0,
    day_start: null,
    day_units: 0,
    day_partial: true,
    dow_units: new Array<number>(7).fill(0),
    dow_n: new Array<number>(7).fill(0),
    dev_var: 0,
    dev_n: 0,
  };
}

/** Linear run rate: usage ÷ elapsed × period length. */
export function projectLinear(usage: number, period: Window, at: number): number {
  const length = period.end - period.start;
  const elapsed = Math.min(Math.max(at - period.start, 0), length);
  if (elapsed <= 0) return usage;
  return (usage * length) / elapsed;
}

/** Weekday-weighted projection: usage × W(start, end) / W(start, at), w indexed Monday = 0. */
export function projectWeighted(
  usage: number,
  period: Window,
  at: number,
  weights: readonly number[],
): number {
  const now = Math.min(Math.max(at, period.start), period.end);
  const elapsed = weightedDays(period.start, now, weights);
  if (elapsed <= 0) return projectLinear(usage, period, at);
  return (usage * weightedDays(period.start, period.end, weights)) / elapsed;
}

/** The weekday weights (mean 1) if every weekday has `minWeeks` observations, else null. */
export function weekdayWeights(state: QuotaPacingState, minWeeks: number): number[] | null {
  let sum = 0;
  for (let d = 0; d < 7; d++) {
    if ((state.dow_n[d] ?? 0) < minWeeks) return null;
    sum += state.dow_units[d] ?? 0;
  }
  if (!(sum > 0)) return null;
  const mean = sum / 7;
  return state.dow_units.map((u) => Math.max(u / mean, MIN_WEIGHT));
}

/**
 * Takes the period-to-date usage of one metric after an event (or at a close) and returns the
 * threshold crossings not yet signalled this period. Never mutates `state`.
 */
export function observePacing(
  state: QuotaPacingState,
  input: PacingInput,
  policy: QuotaPacingPolicy = DEFAULT_QUOTA_PACING_POLICY,
): DetectorResult<QuotaPacingState, PacingDetails> {
  // A late event for a period already left behind: its thresholds may have fired; ignore it.
  if (state.period_start !== null && input.period.start < state.period_start) {
    return { state, signals: [] };
  }
  const s: QuotaPacingState = {
    ...state,
    dow_units: state.dow_units,
    dow_n: state.dow_n,
  };
  const usage = Number.isFinite(input.usage) && input.usage > 0 ? input.usage : 0;
  const newPeriod = s.period_start !== input.period.start;
  accountUsage(s, input.at, newPeriod ? usage : Math.max(0, usage - s.last_usage));
  if (newPeriod) {
    s.period_start = input.period.start;
    s.fired_pct = 0;
  }
  s.last_usage = usage;

  const { period, quota } = input;
  const length = period.end - period.start;
  if (!(quota > 0) || !(length > 0)) return { state: s, signals: [] };
  const elapsedFraction = Math.min(Math.max((input.at - period.start) / length, 0), 1);
  const linear = projectLinear(usage, period, input.at);
  const weights = weekdayWeights(s, policy.min_profile_weeks);
  const method: ProjectionMethod = weights ? "weekday_weighted" : "linear";
  const projection = weights ? projectWeighted(usage, period, input.at, weights) : linear;
  const se = projectionSe(s, elapsedFraction, length);
  const trusted = elapsedFraction >= policy.min_elapsed_fraction;
  const confident = projection * (1 - policy.confidence_z * se);

  const signals: PacingSignal[] = [];
  for (const t of policy.thresholds) {
    if (t <= s.fired_pct) continue;
    const level = (quota * t) / 100;
    const basis = usage >= level ? "usage" : trusted && confident >= level ? "projection" : null;
    if (!basis) continue;
    s.fired_pct = t;
    const shown = Math.max(projection, usage);
    signals.push({
      detector: DETECTOR,
      idempotency_key: idempotencyKey([
        DETECTOR,
        input.customer,
        input.metric,
        isoInstant(period.start),
        t,
      ]),
      customer: input.customer,
      ...(input.product !== undefined ? { product: input.product } : {}),
      metric: input.metric,
      window: { start: period.start, end: period.end },
      magnitude: round(shown / quota, 4),
      details: {
        threshold_pct: t,
        projection: round(shown, 4),
        method,
        linear_projection: round(Math.max(linear, usage), 4),
        usage,
        quota,
        pct_of_quota: round((shown / quota) * 100, 2),
        elapsed_fraction: round(elapsedFraction, 4),
        projection_se: round(se, 4),
        basis,
        evaluated_at: input.at,
      },
      source_event_ids: capIds(input.source_event_ids),
    });
  }
  return { state: s, signals };
}

/** Attributes a usage increment to the UTC day of `at`, folding finished days into the
 * weekday profile (days without any call count as 0). Late events count towards the current
 * day. Copies the profile arrays before writing. */
function accountUsage(s: QuotaPacingState, at: number, increment: number) {
  const day = Math.floor(at / DAY_MS) * DAY_MS;
  if (s.day_start === null) {
    s.day_start = day;
    s.day_units = 0;
    s.day_partial = true;
  } else if (day > s.day_start) {
    s.dow_units = s.dow_units.slice();
    s.dow_n = s.dow_n.slice();
    if (!s.day_partial) fold(s, s.day_start, s.day_units);
    // Whole days without a call: zero usage (at most a week of them matters).
    const firstEmpty = Math.max(s.day_start + DAY_MS, day - 7 * DAY_MS);
    for (let d = firstEmpty; d < day; d += DAY_MS) fold(s, d, 0);
    s.day_start = day;
    s.day_units = 0;
    s.day_partial = false;
  }
  s.day_units += increment;
}

/** Relative standard error of the end-of-period projection at elapsed fraction f. */
function projectionSe(s: QuotaPacingState, f: number, length: number): number {
  const cv = s.dev_n >= MIN_DEV_DAYS ? Math.sqrt(s.dev_var) : PRIOR_CV;
  const days = length / DAY_MS;
  const elapsed = Math.max(f * days, 1);
  const remaining = Math.max((1 - f) * days, 1);
  return cv * (1 - f) * Math.sqrt(1 / elapsed + 1 / remaining);
}

function fold(s: QuotaPacingState, day: number, units: number) {
  const d = dayOfWeek(day);
  const n = (s.dow_n[d] ?? 0) + 1;
  const prev = s.dow_units[d] ?? 0;
  if (n > 1 && prev > 0) {
    const r = Math.min(Math.max(units / prev - 1, -1), 3);
    s.dev_n = Math.min(s.dev_n + 1, 1000);
    s.dev_var += Math.max(ALPHA_DEV, 1 / s.dev_n) * (r * r - s.dev_var);
  }
  s.dow_units[d] = prev + Math.max(ALPHA_DOW, 1 / n) * (units - prev);
  s.dow_n[d] = Math.min(n, 1000);
}

/** ∫ w[weekday(t)] dt over [a, b), in days. O(1): whole weeks, then at most 8 day pieces. */
function weightedDays(a: number, b: number, w: readonly number[]): number {
  if (b <= a) return 0;
  let week = 0;
  for (let d = 0; d < 7; d++) week += w[d] ?? 0;
  const span = b - a;
  const weeks = Math.floor(span / (7 * DAY_MS));
  let total = weeks * week;
  let t = a + weeks * 7 * DAY_MS;
  while (t < b) {
    const next = Math.min(Math.floor(t / DAY_MS) * DAY_MS + DAY_MS, b);
    total += ((w[dayOfWeek(t)] ?? 0) * (next - t)) / DAY_MS;
    t = next;
  }
  return total;
}

/** QuotaPacingProjectionService in the registry: after each batch, per (subscription, metric
 * with an included quota), on the period-to-date usage. */
export const quotaPacingSpec = defineDetector({
  name: DETECTOR,
  label: "Quota pacing",
  summary:
    "The projected end-of-period use of an included quota crosses 80 / 100 / 120 % (each once per period).",
  key: "quota_pacing",
  trigger: "batch",
  policy: {
    defaults: DEFAULT_QUOTA_PACING_POLICY,
    validate: validateQuotaPacingPolicy,
    fields: [
      {
        key: "thresholds",
        label: "Thresholds (%)",
        kind: "number_list",
        help: "percent of the included quota, comma-separated",
      },
      { key: "min_elapsed_fraction", help: "do not project before this share of the period" },
      { key: "min_profile_weeks", help: "weeks of weekday profile before weighting" },
      { key: "confidence_z", help: "standard errors past the threshold before firing" },
    ],
  },
  ladder: {
    kind: "map",
    rungs: GATE_RUNGS,
    default: { "80": "ALERT", "100": "ALERT", "120": "THROTTLE" } as Record<string, Rung>,
    labels: "Quota pacing {key}%",
    keyOf: (signal) => String(signal.details.threshold_pct),
    keyPattern: /^\d+(\.\d+)?$/,
    keyMessage: "key must be a threshold percent",
  },
  // State per (subscription, metric) in det:pacing:<subscription>|<metric>.
  run: ({ customer, store, policy, batch }) => {
    const signals: Signal[] = [];
    for (const update of batch.pacing) {
      const key = `det:pacing:${update.subscription_id}|${update.metric}`;
      const state = store.get<QuotaPacingState>(key) ?? newQuotaPacingState();
      const result = observePacing(
        state,
        {
          customer,
          product: update.product,
          metric: update.metric,
          at: update.at,
          usage: update.usage,
          quota: update.quota,
          period: update.period,
          source_event_ids: update.source_event_ids,
        },
        policy(update.product),
      );
      store.put(key, result.state);
      signals.push(...result.signals);
    }
    return signals;
  },
  describe: (s) => {
    const d = s.details;
    const pct = numberAt(d, "pct_of_quota") ?? s.magnitude * 100;
    const projection = numberAt(d, "projection");
    const quota = numberAt(d, "quota");
    const usage = numberAt(d, "usage");
    const method = str(d, "method");
    const title = `Quota pacing: ${s.customer} projected at ${fmt(pct)}% of the ${s.metric ?? scopeOf(s)} quota`;
    let magnitude = `${fmt(pct)}% of quota`;
    if (projection !== null && quota !== null) {
      magnitude += `: ${fmt(projection)} projected of ${fmt(quota)} included`;
    }
    if (usage !== null) magnitude += `; ${fmt(usage)} used so far`;
    if (method) magnitude += ` (method: ${method})`;
    // Priced when the signal was recorded (workers/ladder/intake.ts, domain/upgrade.ts).
    const cheaper = str(d, "cheaper_plan");
    if (cheaper) {
      magnitude += `; on ${str(d, "cheaper_plan_name") ?? cheaper} the projected period would cost ${str(d, "cheaper_charge")} instead of ${str(d, "current_charge")}`;
    }
    return { title, magnitude };
  },
  display: {
    main: "{magnitude:percent0} of quota",
    sub: "projected · crosses {details.threshold_pct}%",
    sub_fallback: "projected",
  },
});
