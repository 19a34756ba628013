// BillableUnitAnomalyDetector (SPEC §5): a closed hour's units for one (customer, metric) deviate
// from that customer's own seasonal baseline by more than k σ, spike or drop.
//
// Method (docs/detectors.md has the measured figures):
// - Baseline, multiplicative: expected(hour) = level × dow[day of week] × hod[weekday|weekend][hour
//   of day] × how[hour of week] × today. `level` is the deseasonalised hourly level, `dow` (7,
//   mean 1) the weekly shape, `hod` (2 × 24, each row mean 1) the daily shape of weekdays and of
//   weekends, `how` (168) a slow hour-of-week correction that learns recurring slots the
//   factorised shape cannot express (a batch job every Monday 02:00; it acts only beyond a dead
//   band, so its own noise does not blur the baseline), and `today` the day's running ratio of
//   observed to expected, shrunk towards 1 (busy days are busy all day).
// - level, dow, hod and how update at each UTC day close from the day's 24 hourly values:
//   exponentially weighted, with running-mean rates while young. Once past the minimum history
//   each hour enters the baseline winsorised to ±3σ (never tighter than ±50 % of expected), so an
//   anomaly cannot poison it while a real change of shape is still learned.
// - Spread on the square-root scale, which stabilises Poisson noise: e = √(y+3/8) − √(E+3/8) is
//   the ONE-STEP-AHEAD error (E forecast before y was seen), so its spread includes the
//   baseline's own estimation error. Overdispersion is the variance function
//   4·Var(e | E) = A + B·E (A: Poisson/compound part, B: negative-binomial part), fitted by
//   exponentially weighted least squares of 4e² on E. σ = √((A + B·E)/4), z = e / σ: on ordinary
//   synthetic hours |z| > 2 about 4 % of the time, i.e. σ is honest.
// - An honest 2σ fires on ~5 % of ordinary hours, so the practical-significance gates matter:
//   a spike fires when y is ≥ k σ above expected × (1 + min_spike_pct/100) (σ taken at that
//   edge), a drop when y is ≥ k σ below expected × (1 − min_drop_pct/100); in both cases also
//   ≥ k σ from expected itself and ≥ min_delta_events events' worth of units away from it. That
//   is a test against "within a tolerable band", not against "exactly the baseline".
// - What an "event" is comes from the event counts the caller passes (unitOf): none, 1 unit;
//   several per hour (requests carrying tokens), the size-biased units per event; at most one
//   per hour and busy hours sometimes empty (a sparse customer: each event one request, or a
//   report every few hours), units per event; at most one per hour and busy hours never empty
//   (a gateway sending each hour's total), 1 unit: a whole hour's usage must not become the
//   gate's event, nor may a single request of a sparse customer count as a thousand events.
//   Unless that total comes in lumps (tool calls by session, tokens by request): the intercept
//   c of (y − E)²/E = c + b·E, fitted on the raw scale, is the size-biased act of a compound
//   Poisson total; from c ≥ LUMP_MIN the gate's event is c units, so a stop of two sessions
//   (~20 tool calls → 0, several per cent likely) is not an anomaly.
// - Window test. Anomalies last hours, and at low volume one hour cannot tell a drop from
//   noise (5 → 0 is 5 events, under the absolute gate, and happens by chance). The sums of the
//   last m = 2..max_window_hours (≤ MAX_WINDOW = 3) hours are tested against the sums of their
//   expectations (as forecast) with the same three gates at k + 0.25 (each hour is tested three
//   ways), every hour of the window leaning the same way (z beyond 1; beyond 2 when the hour
//   fires on its own, where the window must also beat the hour's own z to cover its
//   predecessors). The window sum has its own spread, fitted like the hour's (A + B·E on the
//   square-root scale, from windows of ordinary hours), so within-day correlation is in it.
//   The most significant passing window fires one signal covering all its hours, keyed by its
//   first hour and length. No window may include an hour already covered in its direction, so
//   a flagged hour never re-fires inside a window and windows never overlap as the run slides.
//   Where even a stop of the hour could not pass the absolute gate, the hour right after a
//   flagged one continues the episode (a 1-hour "continuation" signal) when it lies beyond the
//   tolerance band and 1.25 σ out in the same direction.
// - Young slots: a slot's expectation rests on the few days it has seen, so its estimation
//   error adds to the noise. The predictive variance (hour and windows) is the fitted one
//   × (1 + 1/n), n the days the hour's hour-of-day slot has seen (capped at the exponentially
//   weighted memory (2 − α)/α ≈ 19): a weekend slot seen twice is judged with 1.5× the variance.
// - Speaks only after min_history_days days, min_slot_observations complete days of the hour's
//   slot and 48 hours of forecast errors. After regime_shift_hours consecutive covered hours in
//   one direction the level is re-based on those hours: a customer that stops, or doubles for
//   good, raises a few signals, not one per hour forever.
// - A drop whose hours are past the end of the customer's subscriptions of the product is not
//   raised (they left: domain/detectors/lifecycle.ts); its hours still count in the state as if
//   it had been, so the baseline re-levels as usual. Spikes are raised regardless.
// - Hours missing between the watermark and the hour passed are closed with 0 units first (a
//   silent hour is a closed hour with 0). Gaps longer than MAX_GAP_HOURS replay only their last
//   MAX_GAP_HOURS hours (the model has converged to silence by then).
// - State: 7 + 7 weekday, 48 + 48 hour-of-day, 168 + 168 hour-of-week factors and flags, 3 × 24
//   for the open day, 5 + 10 + 5 variance sums (hour, windows of 2 and 3, raw-scale act size),
//   6 × 2 for the last two hours and a few scalars: 572 numbers whatever the history, 3-4 KB as
//   JSON (factors and sums are rounded to 6 significant digits at each day close,
//   deterministically, so replays agree bit for bit and a JSON round trip continues
//   identically). A version-1 state carries on: its window history and feed shape start empty;
//   a version-2 state without the act-size sums starts them empty.

import { dropExplained } from "./lifecycle";
import { erfc } from "./normal";
import {
  nonNegative,
  nonNegativeInt,
  num,
  type PolicyIssue,
  positive,
  positiveInt,
  type Rec,
} from "./policy-check";
import { GATE_RUNGS, type Rung } from "./rungs";
import { defineDetector } from "./spec";
import { DAY_MS, dayOfWeek, HOUR_MS, hourOfDay, isoHour } from "./time";
import { capIds, type DetectorResult, idempotencyKey, round, type Signal } from "./types";
import { fmt, num as numberAt, scopeOf, signed } from "./wording";

const DETECTOR = "BillableUnitAnomalyDetector";

export interface AnomalyPolicy {
  /** σ multiple: |z| ≥ k on the square-root scale (z is an honest one-step-ahead z-score). */
  k: number;
  /** Days of history before the detector speaks for a (customer, metric). */
  min_history_days: number;
  /** Complete days observed in the hour's slot (hour of day × weekday/weekend) before it speaks. */
  min_slot_observations: number;
  /** Tolerance band above expected: a spike must be k σ beyond expected × (1 + this / 100). */
  min_spike_pct: number;
  /** Tolerance band below expected: a drop must be k σ below expected × (1 − this / 100). */
  min_drop_pct: number;
  /** |observed − expected| must be worth at least this many events (units ÷ units per event). */
  min_delta_events: number;
  /** After this many consecutive flagged hours in one direction the baseline re-levels. */
  regime_shift_hours: number;
  /** Longest run of consecutive hours whose sum is also tested (1–3; 1 = single hours only, no
   * window or continuation signals). */
  max_window_hours: number;
}

/** The defaults measured in test/domain/detectors/anomaly-quality.test.ts and docs/detectors.md
 * (precision ≥ 0.8, recall ≥ 0.9 on seasonal, overdispersed usage). */
export const DEFAULT_ANOMALY_POLICY: AnomalyPolicy = {
  k: 2,
  min_history_days: 7,
  min_slot_observations: 2,
  min_spike_pct: 50,
  min_drop_pct: 40,
  min_delta_events: 10,
  regime_shift_hours: 6,
  max_window_hours: 3,
};

function validateAnomalyPolicy(a: Rec, path: string, issues: PolicyIssue[]) {
  num(a, path, "k", positive, issues);
  num(a, path, "min_history_days", positiveInt, issues);
  num(a, path, "min_slot_observations", nonNegativeInt, issues);
  num(a, path, "min_spike_pct", nonNegative, issues);
  num(a, path, "min_drop_pct", (x) => (x >= 0 && x <= 100 ? null : "must be in [0, 100]"), issues);
  num(a, path, "min_delta_events", nonNegative, issues);
  num(a, path, "regime_shift_hours", positiveInt, issues);
  num(
    a,
    path,
    "max_window_hours",
    (x) =>
      Number.isInteger(x) && x >= 1 && x <= 3
        ? null
        : "must be a whole number of hours from 1 to 3",
    issues,
  );
}

// Learning rates per update (running-mean rates while fewer updates have been seen). Tuned on
// the synthetic workloads of synthetic.ts; not policy, because they are not thresholds.
const ALPHA_LEVEL = 0.3; // per day
const ALPHA_DOW = 0.25; // per week, per weekday
const ALPHA_HOD = 0.1; // per day, per hour-of-day slot of that day type
const ALPHA_HOW = 0.1; // per week, per hour-of-week slot (after the first week)
const ALPHA_HOW_RECUR = 0.5; // per week, for a slot flagged the same way as the week before
const ALPHA_VAR = 0.01; // per hour: the variance fit remembers ~100 hours
const ALPHA_UPE = 0.05; // per hour with events: units per event, share of multi-event hours
/** Events count as acts of usage (units per event is the gate's unit) when at least this share
 * of the hours with events have two or more. */
const MULTI_EVENT_SHARE = 0.1;
/** A feed of at most one event per hour is sparse (each event one act: a request, a session)
 * when more than this share of the hours expected to carry ZERO_PROBE_UNITS or more carry
 * nothing; otherwise it is a dense aggregate (an event per hour, its units the counts). */
const SPARSE_ZERO_RATE = 0.03;
const ZERO_PROBE_UNITS = 5;
/** A dense aggregate's units are counts unless the data show they come in lumps of at least this
 * many (tool calls by session, tokens by request): below it the fitted act size is estimation
 * noise of a count feed (1.1–1.6 on the synthetic aggregate feed). */
const LUMP_MIN = 3;
/** Event counts per busy hour this much less dispersed than Poisson are sent on a clock. */
const BATCH_DISPERSION = 0.5;
/** Longest window of consecutive hours whose sum is tested (the policy may ask for fewer). */
export const MAX_WINDOW = 3;
/** Each hour of a window must deviate at least this much (z) in the window's direction. */
const WINDOW_EACH_Z = 1;
/** When the hour fires on its own, a window ending at it still wins if its sum is more
 * significant, but its earlier hours must each be this many σ out: the signal then covers the
 * episode's weaker first hours, never an ordinary hour that merely leans the same way. */
const EXTEND_Z = 2;
/** A window is tested at k + this (z and band z): each hour is tested up to three ways, so each
 * way needs a little more evidence for the same false-alarm rate. */
const WINDOW_K_EXTRA = 0.25;
/** An hour right after a flagged one, where even a stop could not pass the absolute gate on its
 * own, continues the episode when it is beyond the tolerance band and this many σ out. */
const CONTINUE_Z = 1.25;
/** Today's multiplier starts from a prior worth this many average hours. */
const INTRADAY_PRIOR_HOURS = 6;
/** Forecast errors of the first days (an unformed baseline) do not enter the variance fit. */
const VAR_START_DAYS = 4;
const MIN_VAR_WEIGHT = 48; // hours of one-step-ahead errors before σ is trusted
/** Baseline updates see each hour clamped to ±3σ, but never tighter than ±50 % of expected. */
const WINSOR_SIGMA = 3;
const WINSOR_REL = 0.5;
const HOW_SHRINK = 0.3; // |ln how| well below this is treated as estimation noise
const HOW_MAX_TARGET = 10;
const MAX_GAP_HOURS = 8 * 7 * 24;
const MAX_FACTOR = 1e3;
// Low enough that a slot which is always empty (a feed reporting every 3 hours) expects ~0.
const MIN_FACTOR = 1e-6;

export interface AnomalyState {
  v: 2;
  /** Watermark: start of the last closed hour folded in (epoch ms); null before any. */
  last_hour: number | null;
  /** Start of the first hour seen. */
  first_hour: number | null;
  /** Complete or partial UTC days folded in (capped at 10,000). */
  days: number;
  /** Deseasonalised units per hour. */
  level: number;
  /** Day-of-week factors, Monday = 0, mean 1. */
  dow: number[];
  dow_n: number[];
  /** Hour-of-day factors: [0..23] weekdays, [24..47] weekends; each row mean 1. */
  hod: number[];
  hod_n: number[];
  /** Hour-of-week corrections, index day × 24 + hour; each day's row mean 1. */
  how: number[];
  /** Exponentially weighted sums for the variance fit: [Σw, Σw·E, Σw·E², Σw·v, Σw·E·v]. */
  var: number[];
  /** Units per event, exponentially weighted; 0 until event counts are given (then 1 is used). */
  upe: number;
  /** Feed shape, exponentially weighted: the share of hours with events that have two or more;
   * the share of empty hours among those expected to carry ≥ ZERO_PROBE_UNITS (and how many
   * such hours were seen, capped). Together they say what an "event" is (see unitOf). */
  ev_multi: number;
  /** Variance of the units of one event, from hours with two or more events. */
  ev_var: number;
  /** Events per hour with events, exponentially weighted: mean and variance (batched). */
  ev_n?: number;
  ev_n_var?: number;
  zero_rate: number;
  zero_n: number;
  /** The current UTC day: midnight, its hours' baseline-update values (winsorised), how many. */
  day_start: number | null;
  day_y: number[];
  /** The current day's raw hourly units and flags (1 spike, -1 drop, 0 none). */
  day_raw: number[];
  day_flag: number[];
  /** Per hour-of-week slot: the flag it got the last time it closed. */
  how_flag: number[];
  day_hours: number;
  /** Sums since the day started or the level was last re-based: Σ y, Σ seasonal weight. */
  day_sum_y: number;
  day_sum_w: number;
  /** The level was re-based today: skip today's shape updates. */
  day_rebased: boolean;
  /** Current run of consecutive flags: direction (1 spike, -1 drop, 0 none), length, Σ y, Σ w. */
  run_dir: number;
  run_n: number;
  run_y: number;
  run_w: number;
  /** Last hour of the current run (runs are consecutive covered hours), or null. */
  run_last: number | null;
  /** The previous MAX_WINDOW − 1 closed hours, oldest first, for the window test: units, the
   * expectation as forecast (−1: none), single-hour z, seasonal weight, 2 = judged / 1 = learns
   * the window spread / 0 = neither, and the direction of a signal covering it (0: none). */
  win_y: number[];
  win_e: number[];
  win_z: number[];
  win_w: number[];
  win_ok: number[];
  win_flag: number[];
  /** Variance sums of window errors, 5 per window length 2..MAX_WINDOW (layout as `var`). */
  var_w: number[];
  /** Variance sums on the raw scale, (y − E)²/E on E (layout as `var`): the intercept is the
   * index of dispersion at low volume, the size-biased units of one act of usage. */
  var_raw: number[];
  /** Σw·v² of the raw-scale fit (the act size's standard error). */
  var_raw_v2?: number;
}

export interface ClosedHour {
  customer: string;
  metric: string;
  /** The metric's product, carried onto the signal (not part of the key). */
  product?: string;
  /** Start of the closed hour, epoch ms (floored to the hour). */
  hour: number;
  /** The hour's units (0 for a silent hour). */
  units: number;
  /** Number of events behind `units`, when units are not plain counts (tokens): lets the
   * detector express its absolute gate in events. Omitted: units are counted as events. */
  events?: number;
  /** Ids of the hour's largest events (capped at MAX_SOURCE_EVENT_IDS). */
  source_event_ids?: string[];
}

/** What fired: the hour alone, the sum of a window of hours, or an hour continuing an episode
 * flagged the hour before (quiet series only). */
export type AnomalyBasis = "hour" | "window" | "continuation";

export type AnomalyDetails = {
  /** Hours in the window: 1 for an hour or a continuation, 2..MAX_WINDOW for a window. */
  hours: number;
  basis: AnomalyBasis;
  /** Signed z of the hour (or of the window's sum) on the square-root scale. */
  sigma: number;
  pct_change: number | null;
  expected: number;
  observed: number;
  /** Predictive standard deviation in units around `expected` (for display). */
  spread_units: number;
  k: number;
  /** Hour of week (Monday 00:00 UTC = 0) of the window's first hour. */
  hour_of_week: number;
};

export type AnomalySignal = Signal<AnomalyDetails>;

/** A fresh state for a new (customer, metric). */
export function newAnomalyState(): AnomalyState {
  return {
    v: 2,
    last_hour: null,
    first_hour: null,
    days: 0,
    level: 0,
    dow: ones(7),
    dow_n: zeros(7),
    hod: ones(48),
    hod_n: zeros(48),
    how: ones(168),
    var: zeros(5),
    upe: 0,
    ev_multi: 0,
    ev_var: 0,
    ev_n: 0,
    ev_n_var: 0,
    zero_rate: 0,
    zero_n: 0,
    day_start: null,
    day_y: zeros(24),
    day_raw: zeros(24),
    day_flag: zeros(24),
    how_flag: zeros(168),
    day_hours: 0,
    day_sum_y: 0,
    day_sum_w: 0,
    day_rebased: false,
    run_dir: 0,
    run_n: 0,
    run_y: 0,
    run_w: 0,
    run_last: null,
    win_y: zeros(MAX_WINDOW - 1),
    win_e: new Array<number>(MAX_WINDOW - 1).fill(-1),
    win_z: zeros(MAX_WINDOW - 1),
    win_w: zeros(MAX_WINDOW - 1),
    win_ok: zeros(MAX_WINDOW - 1),
    win_flag: zeros(MAX_WINDOW - 1),
    var_w: zeros(5 * (MAX_WINDOW - 1)),
    var_raw: zeros(5),
    var_raw_v2: 0,
  };
}

/**
 * Closes one hour for a (customer, metric): evaluates it against the baseline, then folds it in.
 * Hours at or before the state's watermark are ignored (no duplicate signal on a re-delivered
 * hour); hours skipped since the watermark are closed first with 0 units. Never mutates `state`.
 */
export function evaluateHour(
  state: AnomalyState,
  input: ClosedHour,
  policy: AnomalyPolicy = DEFAULT_ANOMALY_POLICY,
): DetectorResult<AnomalyState, AnomalyDetails> {
  const hour = Math.floor(input.hour / HOUR_MS) * HOUR_MS;
  if (state.last_hour !== null && hour <= state.last_hour) return { state, signals: [] };
  const s = cloneState(state);
  const signals: AnomalySignal[] = [];
  if (s.last_hour !== null) {
    let next = s.last_hour + HOUR_MS;
    if ((hour - next) / HOUR_MS > MAX_GAP_HOURS) {
      // Long silence: drop the unfinished day and replay only the gap's last MAX_GAP_HOURS.
      next = hour - MAX_GAP_HOURS * HOUR_MS;
      s.day_start = null;
    }
    for (; next < hour; next += HOUR_MS) {
      const sig = step(
        s,
        {
          customer: input.customer,
          metric: input.metric,
          product: input.product,
          hour: next,
          units: 0,
        },
        policy,
      );
      if (sig) signals.push(sig);
    }
  }
  const sig = step(s, { ...input, hour }, policy);
  if (sig) signals.push(sig);
  return { state: s, signals };
}

/** The baseline's expectation for an hour (units), or null before the first day is folded in. */
export function expectedUnits(state: AnomalyState, hour: number): number | null {
  if (state.days === 0) return null;
  const sameDay = state.day_start === Math.floor(hour / DAY_MS) * DAY_MS;
  return state.level * seasonal(state, hour) * (sameDay ? intraday(state) : 1);
}

/** The current predictive σ on the square-root scale for an expected value, or null. */
export function predictiveSigma(state: AnomalyState, expected: number): number | null {
  const fit = fitVariance(state.var);
  return fit ? Math.sqrt(variance4(fit, expected) / 4) : null;
}

/** The predictive σ on the square-root scale of the sum of m consecutive hours (2..MAX_WINDOW)
 * whose expectations sum to `expected`, or null while that window's fit is young. */
export function predictiveWindowSigma(
  state: AnomalyState,
  m: number,
  expected: number,
): number | null {
  if (m < 2 || m > MAX_WINDOW || !state.var_w) return null;
  const off = 5 * (m - 2);
  if (at(state.var_w, off) < MIN_VAR_WEIGHT) return null;
  const fit = fitVariance(state.var_w, off);
  return fit ? Math.sqrt(variance4(fit, expected) / 4) : null;
}

// --- internals -------------------------------------------------------------------------------

interface VarianceFit {
  a: number;
  b: number;
}

function step(s: AnomalyState, input: ClosedHour, policy: AnomalyPolicy): AnomalySignal | null {
  const hour = input.hour;
  const y = Number.isFinite(input.units) && input.units > 0 ? input.units : 0;
  const dayStart = Math.floor(hour / DAY_MS) * DAY_MS;
  if (s.first_hour === null) s.first_hour = hour;
  if (s.day_start !== dayStart) startDay(s, dayStart);
  // The window history holds consecutive hours only (a long gap is replayed from its end).
  if (s.last_hour !== null && hour - s.last_hour !== HOUR_MS) clearWindow(s);

  const w = seasonal(s, hour);
  const hasForecast = s.days > 0;
  const expected = s.level * w * intraday(s);
  const infl = slotInflation(s, hour);
  const fit = hasForecast ? inflate(fitVariance(s.var), infl) : null;
  const learnVar = s.days >= VAR_START_DAYS;
  let signal: AnomalySignal | null = null;
  let flagged = 0;
  let yBaseline = y;
  let z = 0;
  let ok = 0;

  if (hasForecast && fit) {
    const var4 = variance4(fit, expected);
    const sigma = Math.sqrt(var4 / 4);
    const e = Math.sqrt(y + 0.375) - Math.sqrt(expected + 0.375);
    z = e / sigma;
    if (learnVar) ok = 1;
    if (speaks(s, hour, policy)) {
      ok = 2;
      const unit = unitOf(s);
      const dropUnit = unitOf(s, true);
      flagged = judge(y, expected, z, fit, unit, policy, policy.k, dropUnit);
      const hit =
        policy.max_window_hours > 1
          ? judgeWindow(s, y, expected, z, unit, policy, flagged, infl, dropUnit)
          : null;
      if (hit) {
        flagged = hit.dir;
        signal = makeSignal(
          input,
          hit.y,
          hit.expected,
          hit.z,
          hit.sigma,
          policy,
          hit.dir,
          hit.m,
          "window",
        );
        coverWindow(s, hour, hit.m, hit.dir, policy);
      } else if (flagged !== 0) {
        signal = makeSignal(input, y, expected, z, sigma, policy, flagged, 1, "hour");
      } else if (policy.max_window_hours > 1) {
        flagged = continues(s, y, expected, z, unit, policy);
        if (flagged !== 0) {
          signal = makeSignal(input, y, expected, z, sigma, policy, flagged, 1, "continuation");
        }
      }
    }
    // Variance fit: flagged hours stay out; the rest are winsorised.
    if (flagged === 0 && learnVar) {
      const cap = WINSOR_SIGMA * WINSOR_SIGMA * var4;
      addVariance(s.var, 0, expected, Math.min(4 * e * e, cap));
      learnWindows(s, y, expected, infl);
      learnDispersion(s, y, expected);
    }
    if (mature(s, hour, policy)) {
      // Winsorise: ±3σ on the square-root scale, but never tighter than ±WINSOR_REL of the
      // expectation, so a quiet series can still learn a real change of shape.
      const root = Math.sqrt(expected + 0.375);
      const band = WINSOR_SIGMA * sigma;
      const lo = Math.max(0, root - band);
      const loY = Math.min(lo * lo - 0.375, expected * (1 - WINSOR_REL));
      const hiY = Math.max((root + band) * (root + band) - 0.375, expected * (1 + WINSOR_REL));
      yBaseline = Math.min(Math.max(y, loY), hiY);
      if (yBaseline < 0) yBaseline = 0;
    }
  } else if (hasForecast && learnVar) {
    // Warming up the variance fit: every one-step-ahead error counts.
    const e = Math.sqrt(y + 0.375) - Math.sqrt(expected + 0.375);
    addVariance(s.var, 0, expected, 4 * e * e);
    ok = 1;
    learnWindows(s, y, expected, infl);
  }

  if (input.events !== undefined) learnFeed(s, y, input.events, hasForecast ? expected : null);

  if (flagged !== 0) extendRun(s, flagged, hour, y, w, policy);

  const h = hourOfDay(hour);
  s.day_y[h] = yBaseline;
  s.day_raw[h] = y;
  s.day_flag[h] = flagged;
  s.day_hours++;
  s.day_sum_y += yBaseline;
  s.day_sum_w += w;
  s.last_hour = hour;
  pushWindow(s, y, ok > 0 ? expected : -1, z, w, ok, flagged);
  if (h === 23) closeDay(s);
  return signal;
}

interface WindowHit {
  m: number;
  dir: number;
  y: number;
  expected: number;
  z: number;
  sigma: number;
}

/** The window test: the sum of the last m hours (m = 2..MAX_WINDOW) against the sum of their
 * expectations, with the window's own fitted spread and the same practical gates. Every hour of
 * the window must lean the same way (z beyond WINDOW_EACH_Z) and none may already be covered by
 * a signal in that direction. Of the windows that pass, the most significant wins. When the hour
 * itself fired (hourDir), a window wins only in that direction, over earlier hours EXTEND_Z σ
 * out, and if more significant than the hour alone. */
function judgeWindow(
  s: AnomalyState,
  y: number,
  expected: number,
  z: number,
  unit: number,
  policy: AnomalyPolicy,
  hourDir: number,
  infl: number,
  dropUnit = unit,
): WindowHit | null {
  const dir = z >= WINDOW_EACH_Z ? 1 : z <= -WINDOW_EACH_Z ? -1 : 0;
  if (dir === 0 || (hourDir !== 0 && hourDir !== dir)) return null;
  const each = hourDir !== 0 ? EXTEND_Z : WINDOW_EACH_Z;
  const k = policy.k + WINDOW_K_EXTRA;
  const longest = Math.min(policy.max_window_hours, MAX_WINDOW);
  let best: WindowHit | null = null;
  let sumY = y;
  let sumE = expected;
  for (let m = 2; m <= longest; m++) {
    const i = MAX_WINDOW - m; // index of the window's first hour in the history
    if (at(s.win_ok, i) !== 2 || at(s.win_flag, i) === dir) break;
    if (at(s.win_z, i) * dir < each) break;
    sumY += at(s.win_y, i);
    sumE += at(s.win_e, i);
    const off = 5 * (m - 2);
    if (at(s.var_w, off) < MIN_VAR_WEIGHT) continue;
    const fit = inflate(fitVariance(s.var_w, off), infl);
    if (!fit) continue;
    const sigma = Math.sqrt(variance4(fit, sumE) / 4);
    const zm = (Math.sqrt(sumY + 0.375) - Math.sqrt(sumE + 0.375)) / sigma;
    if (judge(sumY, sumE, zm, fit, unit, policy, k, dropUnit) !== dir) continue;
    if (hourDir !== 0 && Math.abs(zm) <= Math.abs(z)) continue;
    if (!best || Math.abs(zm) > Math.abs(best.z)) {
      best = { m, dir, y: sumY, expected: sumE, z: zm, sigma };
    }
  }
  return best;
}

/** Marks the window's earlier hours as covered (the current hour is marked when pushed) and
 * counts them into the run of flagged hours. */
function coverWindow(s: AnomalyState, hour: number, m: number, dir: number, policy: AnomalyPolicy) {
  const h = hourOfDay(hour);
  for (let j = m - 1; j >= 1; j--) {
    const i = MAX_WINDOW - 1 - j;
    s.win_flag[i] = dir;
    if (h - j >= 0) s.day_flag[h - j] = dir;
    extendRun(s, dir, hour - j * HOUR_MS, at(s.win_y, i), at(s.win_w, i), policy);
  }
}

/** Window errors of ordinary hours feed the window spread fits (winsorised like single hours). */
function learnWindows(s: AnomalyState, y: number, expected: number, infl: number) {
  let sumY = y;
  let sumE = expected;
  for (let m = 2; m <= MAX_WINDOW; m++) {
    const i = MAX_WINDOW - m;
    if (at(s.win_ok, i) === 0 || at(s.win_flag, i) !== 0) return;
    sumY += at(s.win_y, i);
    sumE += at(s.win_e, i);
    const off = 5 * (m - 2);
    const e = Math.sqrt(sumY + 0.375) - Math.sqrt(sumE + 0.375);
    let v = 4 * e * e;
    if (at(s.var_w, off) >= MIN_VAR_WEIGHT) {
      const fit = inflate(fitVariance(s.var_w, off), infl);
      if (fit) v = Math.min(v, WINSOR_SIGMA * WINSOR_SIGMA * variance4(fit, sumE));
    }
    addVariance(s.var_w, off, sumE, v);
  }
}

/** Continuation: the hour right after a flagged one, in a series so quiet that even a stop of
 * this hour could not pass the absolute gate on its own, continues the episode when it lies
 * beyond the tolerance band in the same direction and CONTINUE_Z σ out. Without it a 3-hour
 * low-volume drop found by a 2-hour window would leave its third hour unreported. */
function continues(
  s: AnomalyState,
  y: number,
  expected: number,
  z: number,
  unit: number,
  policy: AnomalyPolicy,
): number {
  const dir = at(s.win_flag, MAX_WINDOW - 2);
  if (dir === 0 || at(s.win_ok, MAX_WINDOW - 2) !== 2) return 0;
  if (expected >= policy.min_delta_events * unit || z * dir < CONTINUE_Z) return 0;
  const edge =
    dir > 0
      ? expected * (1 + policy.min_spike_pct / 100)
      : expected * (1 - policy.min_drop_pct / 100);
  return (y - edge) * dir >= 0 ? dir : 0;
}

/** Learns the feed's shape from the event counts the caller passes (see unitOf). */
function learnFeed(s: AnomalyState, y: number, events: number, expected: number | null) {
  if (events >= 1 && y > 0) {
    const dn = events - (s.ev_n ?? 0);
    s.ev_n = (s.ev_n ?? 0) > 0 ? (s.ev_n ?? 0) + ALPHA_UPE * dn : events;
    s.ev_n_var = (s.ev_n_var ?? 0) + ALPHA_UPE * (dn * dn - (s.ev_n_var ?? 0));
    const target = y / events;
    s.upe = s.upe > 0 ? s.upe + ALPHA_UPE * (target - s.upe) : target;
    s.ev_multi += ALPHA_UPE * ((events >= 2 ? 1 : 0) - s.ev_multi);
    if (events >= 2) {
      // (y − n·mean)² / n estimates the variance of one event's units (winsorised at 9×).
      const d = y - events * s.upe;
      const v = (d * d) / events;
      s.ev_var = s.ev_var > 0 ? s.ev_var + ALPHA_UPE * (Math.min(v, 9 * s.ev_var) - s.ev_var) : v;
    }
  }
  if (expected !== null && expected >= ZERO_PROBE_UNITS) {
    const a = Math.max(ALPHA_VAR, 1 / (s.zero_n + 1));
    s.zero_rate += a * ((y > 0 ? 0 : 1) - s.zero_rate);
    s.zero_n = Math.min(s.zero_n + 1, 1000);
  }
}

/** The units of the absolute gate's "event":
 * - no event counts given: 1 (units are counts);
 * - several events per hour: units per event, size-biased (mean + variance / mean), since sizes
 *   that vary make a few large events look like many; but never more than the lump size the
 *   units themselves show (the intercept c of the raw-scale variance fit, at least 1), because
 *   an event may be a batch (a collector flushing every minute or quarter hour, whose events
 *   carry more units when the load is higher: there, 4 events an hour say nothing about how
 *   lumpy the calls are). Events sent on a clock (their count per busy hour under-dispersed)
 *   are batches of counts: c when c ≥ LUMP_MIN, else 1;
 * - at most one event per hour, and hours expected to be busy are sometimes empty: each event is
 *   one act of a sparse customer (a request, a session, a report every few hours): units per
 *   event, so one more or one fewer act is never an anomaly;
 * - at most one event per hour and (almost) never an empty busy hour: a dense aggregate (a
 *   gateway sending each hour's total): 1 (units per event would be a whole hour's usage and
 *   the gate would never open), or the act size c (actUnits) when c ≥ LUMP_MIN: a total of
 *   tool calls or tokens comes in sessions or requests, not in independent units.
 * Until MIN_VAR_WEIGHT busy hours have been seen, a single-event feed is taken as sparse. */
function unitOf(s: AnomalyState, drop = false): number {
  if (!(s.upe > 0)) return 1;
  if (s.ev_multi >= MULTI_EVENT_SHARE) {
    const perEvent = drop ? s.upe : s.upe + s.ev_var / s.upe;
    if (at(s.var_raw, 0) < MIN_VAR_WEIGHT) return perEvent;
    if (batched(s)) {
      const c = actUnits(s, true);
      return Math.min(perEvent, c >= LUMP_MIN ? c : 1);
    }
    return Math.min(perEvent, Math.max(1, actUnits(s)));
  }
  if (s.zero_n < MIN_VAR_WEIGHT || s.zero_rate > SPARSE_ZERO_RATE) return s.upe;
  const c = actUnits(s);
  return c >= LUMP_MIN ? c : 1;
}

/** Events sent on a clock (a collector flushing every minute or quarter hour): their count
 * per busy hour barely varies (index of dispersion under BATCH_DISPERSION, where events that
 * are acts of usage vary at least like Poisson counts, more with the seasonal shape). Each
 * event is then a batch of units, not one act. */
function batched(s: AnomalyState): boolean {
  const m = s.ev_n ?? 0;
  // At fewer than 2 events per busy hour a sparse customer's acts look under-dispersed too
  // (a Poisson count given it is not 0: 0.7 requests an hour → variance/mean 0.3).
  return m >= 2 && (s.ev_n_var ?? 0) / m < BATCH_DISPERSION;
}

/** The size-biased units of one act of a dense aggregate: the intercept of the raw-scale fit
 * (y − E)²/E = c + b·E, or 1 while that fit is young. `lower`: its lower bound, c − 2 standard
 * errors (residual spread of the fit, EW weights as counts), for events sent on a clock, whose
 * units are counts unless the data show lumps with confidence (on a collector's calls the point
 * estimate wanders from 1 to 40 with the baseline's early errors). */
function actUnits(s: AnomalyState, lower = false): number {
  const acc = s.var_raw;
  if (!acc || at(acc, 0) < MIN_VAR_WEIGHT) return 1;
  const fit = fitVariance(acc);
  if (!fit) return 1;
  if (!lower || s.var_raw_v2 === undefined) return fit.a;
  const w = at(acc, 0);
  const sx = at(acc, 1);
  const sxx = at(acc, 2);
  const sv = at(acc, 3);
  const sxv = at(acc, 4);
  const res = Math.max(0, (s.var_raw_v2 - fit.a * sv - fit.b * sxv) / w);
  const den = w * sxx - sx * sx;
  const se = den > 0 ? Math.sqrt((res * sxx) / den) : 0;
  return Math.max(0, fit.a - 2 * se);
}

/** Ordinary hours expected to carry at least a unit feed the act-size fit (winsorised at 3σ). */
function learnDispersion(s: AnomalyState, y: number, expected: number) {
  if (!(expected >= 1)) return;
  const d = y - expected;
  let v = (d * d) / expected;
  if (at(s.var_raw, 0) >= MIN_VAR_WEIGHT) {
    const fit = fitVariance(s.var_raw);
    if (fit) v = Math.min(v, WINSOR_SIGMA * WINSOR_SIGMA * Math.max(fit.a + fit.b * expected, 1));
  }
  const keep = at(s.var_raw, 0) + 1 < 1 / ALPHA_VAR ? 1 : 1 - ALPHA_VAR;
  s.var_raw_v2 = (s.var_raw_v2 ?? 0) * keep + v * v;
  addVariance(s.var_raw, 0, expected, v);
}

function pushWindow(
  s: AnomalyState,
  y: number,
  expected: number,
  z: number,
  w: number,
  ok: number,
  flag: number,
) {
  shiftIn(s.win_y, y);
  shiftIn(s.win_e, expected);
  shiftIn(s.win_z, z);
  shiftIn(s.win_w, w);
  shiftIn(s.win_ok, ok);
  shiftIn(s.win_flag, flag);
}

/** Drops a history array's oldest value and appends x. */
function shiftIn(a: number[], x: number) {
  for (let i = 0; i < a.length - 1; i++) a[i] = at(a, i + 1);
  a[a.length - 1] = x;
}

function clearWindow(s: AnomalyState) {
  s.win_ok.fill(0);
  s.win_flag.fill(0);
  s.win_e.fill(-1);
}

/** Past the minimum history: the baseline is trusted enough to winsorise against. */
function mature(s: AnomalyState, hour: number, policy: AnomalyPolicy): boolean {
  return s.first_hour !== null && hour - s.first_hour >= policy.min_history_days * DAY_MS;
}

function speaks(s: AnomalyState, hour: number, policy: AnomalyPolicy): boolean {
  if (!mature(s, hour, policy)) return false;
  if ((s.var[0] ?? 0) < MIN_VAR_WEIGHT) return false;
  const slot = (dayOfWeek(hour) >= 5 ? 24 : 0) + hourOfDay(hour);
  return (s.hod_n[slot] ?? 0) >= policy.min_slot_observations;
}

/** 1 spike, -1 drop, 0 ordinary: |z| ≥ k, k σ beyond the tolerance band, and a deviation worth
 * min_delta_events events (`unit` units each). */
function judge(
  y: number,
  expected: number,
  z: number,
  fit: VarianceFit,
  unit: number,
  policy: AnomalyPolicy,
  k: number,
  dropUnit = unit,
): number {
  if (Math.abs(z) < k) return 0;
  // How many acts went missing counts them at their mean size; how surprising that is, at
  // their size-biased one (the variance-equivalent act of a compound total).
  if (Math.abs(y - expected) / (z < 0 ? dropUnit : unit) < policy.min_delta_events) return 0;
  if (!actsBeyond(y, expected, unit, z, policy, k)) return 0;
  if (z >= k) {
    const edge = expected * (1 + policy.min_spike_pct / 100);
    return bandZ(y, edge, fit) >= k ? 1 : 0;
  }
  const edge = expected * (1 - policy.min_drop_pct / 100);
  return -bandZ(y, edge, fit) >= k ? -1 : 0;
}

/** The low-count floor of the gates: counted in acts (units ÷ the gate's unit), the hour must
 * lie beyond the tolerance band's edge by more than Poisson noise of that many acts explains at
 * the one-sided level of k (a drop from 5 acts to 0 is 0.7 % likely at the expectation, 5 % at
 * the band's edge of 3: not news; from 10 to 0 it is 0.25 % at the edge). Above
 * ACTS_EXACT_MAX acts at the edge the normal tests decide alone. */
function actsBeyond(
  y: number,
  expected: number,
  unit: number,
  z: number,
  policy: AnomalyPolicy,
  k: number,
): boolean {
  const u = unit > 0 ? unit : 1;
  const alpha = normalTail(k);
  if (z < 0) {
    const edge = (expected * (1 - policy.min_drop_pct / 100)) / u;
    if (edge > ACTS_EXACT_MAX) return true;
    return poissonCdf(Math.floor(y / u), edge) < alpha;
  }
  const edge = (expected * (1 + policy.min_spike_pct / 100)) / u;
  if (edge > ACTS_EXACT_MAX) return true;
  const n = Math.ceil(y / u);
  return n > 0 && 1 - poissonCdf(n - 1, edge) < alpha;
}

const ACTS_EXACT_MAX = 60;

/** P(N ≤ n) for N ~ Poisson(λ), by summing terms (λ ≤ ACTS_EXACT_MAX). */
function poissonCdf(n: number, lambda: number): number {
  if (n < 0) return 0;
  if (!(lambda > 0)) return 1;
  let term = Math.exp(-lambda);
  let sum = term;
  const top = Math.min(n, 400);
  for (let i = 1; i <= top; i++) {
    term *= lambda / i;
    sum += term;
    if (term < 1e-17 * sum && i > lambda) break;
  }
  return Math.min(1, sum);
}

/** Φ(−k): one-sided normal tail (k ≥ 0), by the complementary error function. */
function normalTail(k: number): number {
  return erfc(Math.abs(k) / Math.SQRT2) / 2;
}

/** z of y against the edge of the practical band, with the spread the edge would have. */
function bandZ(y: number, edge: number, fit: VarianceFit): number {
  const sigma = Math.sqrt(variance4(fit, edge) / 4);
  return (Math.sqrt(y + 0.375) - Math.sqrt(edge + 0.375)) / sigma;
}

function makeSignal(
  input: ClosedHour,
  y: number,
  expected: number,
  z: number,
  sigma: number,
  policy: AnomalyPolicy,
  dir: number,
  hours: number,
  basis: AnomalyBasis,
): AnomalySignal {
  const end = input.hour + HOUR_MS;
  const start = end - hours * HOUR_MS;
  // σ in units around the expectation: d(y)/d(√y) = 2√y.
  const spreadUnits = 2 * Math.sqrt(expected + 0.375) * sigma;
  const series = input.product ? `${input.product}:${input.metric}` : input.metric;
  return {
    detector: DETECTOR,
    // One hour: the SPEC key (customer, metric, hour). A window: its first hour and length.
    idempotency_key: idempotencyKey(
      hours === 1
        ? [DETECTOR, input.customer, series, isoHour(start)]
        : [DETECTOR, input.customer, series, isoHour(start), `${hours}h`],
    ),
    customer: input.customer,
    ...(input.product !== undefined ? { product: input.product } : {}),
    metric: input.metric,
    window: { start, end },
    magnitude: round(Math.abs(z), 4),
    direction: dir > 0 ? "spike" : "drop",
    details: {
      hours,
      basis,
      sigma: round(z, 4),
      pct_change: expected > 0 ? round(((y - expected) / expected) * 100, 2) : null,
      expected: round(expected, 4),
      observed: y,
      spread_units: round(spreadUnits, 4),
      k: policy.k,
      hour_of_week: dayOfWeek(start) * 24 + hourOfDay(start),
    },
    source_event_ids: capIds(input.source_event_ids),
  };
}

/** Today's multiplier: today's units so far against their expectation, shrunk towards 1 by a
 * prior worth INTRADAY_PRIOR_HOURS average hours (busy days are busy all day). */
function intraday(s: AnomalyState): number {
  if (INTRADAY_PRIOR_HOURS <= 0 || !(s.level > 0)) return 1;
  return (s.day_sum_y / s.level + INTRADAY_PRIOR_HOURS) / (s.day_sum_w + INTRADAY_PRIOR_HOURS);
}

function seasonal(s: AnomalyState, hour: number): number {
  const d = dayOfWeek(hour);
  const h = hourOfDay(hour);
  return at(s.dow, d) * at(s.hod, (d >= 5 ? 24 : 0) + h) * howEffect(at(s.how, d * 24 + h));
}

/** Hour-of-week corrections are shrunk on the log scale by l ↦ l·l²/(l² + s²): small ones
 * (estimation noise) vanish, large ones (×4 every Monday 02:00) come through almost whole. */
function howEffect(how: number): number {
  const l = Math.log(how);
  const l2 = l * l;
  return Math.exp((l * l2) / (l2 + HOW_SHRINK * HOW_SHRINK));
}

/** Counts a flagged hour into the run of consecutive flagged hours in one direction; a run of
 * regime_shift_hours re-bases the level on its hours. */
function extendRun(
  s: AnomalyState,
  dir: number,
  hour: number,
  y: number,
  w: number,
  policy: AnomalyPolicy,
) {
  if (s.run_dir !== dir || s.run_last !== hour - HOUR_MS) {
    s.run_dir = dir;
    s.run_n = 0;
    s.run_y = 0;
    s.run_w = 0;
  }
  s.run_n++;
  s.run_y += y;
  s.run_w += w;
  s.run_last = hour;
  if (s.run_n >= policy.regime_shift_hours && s.run_w > 0) {
    // A new regime: re-base the level on the run and restart the day's level sums from here.
    s.level = s.run_y / s.run_w;
    s.day_sum_y = 0;
    s.day_sum_w = 0;
    s.day_rebased = true;
    s.run_dir = 0;
    s.run_n = 0;
    s.run_y = 0;
    s.run_w = 0;
    s.run_last = null;
  }
}

function startDay(s: AnomalyState, dayStart: number) {
  s.day_start = dayStart;
  s.day_y.fill(0);
  s.day_raw.fill(0);
  s.day_flag.fill(0);
  s.day_hours = 0;
  s.day_sum_y = 0;
  s.day_sum_w = 0;
  s.day_rebased = false;
}

/** Folds the finished UTC day into level, dow, hod and how. */
function closeDay(s: AnomalyState) {
  const dayStart = s.day_start;
  if (dayStart === null) return;
  const d = dayOfWeek(dayStart);
  const weekend = d >= 5 ? 24 : 0;
  if (s.day_sum_w > 0) {
    // Σy / Σ(dow·hod·how): today's level net of all seasonal factors.
    const implied = s.day_sum_y / s.day_sum_w;
    const dowNow = at(s.dow, d);
    if (s.days === 0) s.level = implied;
    else s.level += Math.max(ALPHA_LEVEL, 1 / (s.days + 1)) * (implied - s.level);
    // Weekday factor: today's level (weekday included) relative to the updated level.
    if (s.level > 0 && !s.day_rebased) {
      const n = (s.dow_n[d] ?? 0) + 1;
      const target = clampFactor((implied * dowNow) / s.level);
      s.dow[d] = dowNow + Math.max(ALPHA_DOW, 1 / n) * (target - dowNow);
      s.dow_n[d] = Math.min(n, 1000);
      normalise(s, s.dow, 0, 7, true);
    }
  }
  // Shapes: only complete days with usage and no re-basing.
  let total = 0;
  for (let h = 0; h < 24; h++) total += at(s.day_y, h);
  if (s.day_hours === 24 && total > 0 && !s.day_rebased) {
    const mean = total / 24;
    const learnHow = s.days >= 7;
    for (let h = 0; h < 24; h++) {
      const share = at(s.day_y, h) / mean;
      const slot = weekend + h;
      const n = (s.hod_n[slot] ?? 0) + 1;
      const how = at(s.how, d * 24 + h);
      const hod = at(s.hod, slot);
      s.hod[slot] = clampFactor(hod + Math.max(ALPHA_HOD, 1 / n) * (share / howEffect(how) - hod));
      s.hod_n[slot] = Math.min(n, 1000);
      const hw = d * 24 + h;
      const flag = at(s.day_flag, h);
      if (learnHow) {
        // A slot flagged the same way two weeks running is learned from its raw units, fast:
        // what is "anomalous" every week is the norm. Otherwise from the winsorised units.
        const recurring = flag !== 0 && flag === at(s.how_flag, hw);
        const y = recurring ? at(s.day_raw, h) : at(s.day_y, h);
        const target = Math.min(y / mean / at(s.hod, slot), HOW_MAX_TARGET);
        s.how[hw] = clampFactor(how + (recurring ? ALPHA_HOW_RECUR : ALPHA_HOW) * (target - how));
      }
      s.how_flag[hw] = flag;
    }
    normalise(s, s.hod, weekend, 24, false);
  }
  s.days = Math.min(s.days + 1, 10_000);
  roundState(s);
  s.day_start = null;
}

/** Rescales factors[from..from+n) to mean 1; optionally moves the scale into the level. */
function normalise(s: AnomalyState, f: number[], from: number, n: number, intoLevel: boolean) {
  let sum = 0;
  for (let i = from; i < from + n; i++) sum += at(f, i);
  const mean = sum / n;
  if (!(mean > 0)) return;
  for (let i = from; i < from + n; i++) f[i] = at(f, i) / mean;
  if (intoLevel) s.level *= mean;
}

function addVariance(acc: number[], off: number, x: number, v: number) {
  const n = at(acc, off);
  // Running mean until the window fills, then exponential forgetting.
  const keep = n + 1 < 1 / ALPHA_VAR ? 1 : 1 - ALPHA_VAR;
  acc[off] = n * keep + 1;
  acc[off + 1] = at(acc, off + 1) * keep + x;
  acc[off + 2] = at(acc, off + 2) * keep + x * x;
  acc[off + 3] = at(acc, off + 3) * keep + v;
  acc[off + 4] = at(acc, off + 4) * keep + x * v;
}

/** Weighted least squares of 4e² on E, constrained to A ≥ 0, B ≥ 0. */
function fitVariance(acc: number[], off = 0): VarianceFit | null {
  const w = at(acc, off);
  if (w <= 0) return null;
  const sx = at(acc, off + 1);
  const sxx = at(acc, off + 2);
  const sv = at(acc, off + 3);
  const sxv = at(acc, off + 4);
  const den = w * sxx - sx * sx;
  if (den > 1e-9 * w * sxx) {
    const b = (w * sxv - sx * sv) / den;
    const a = (sv - b * sx) / w;
    if (b >= 0 && a >= 0) return { a, b };
    if (b >= 0 && sxx > 0) return { a: 0, b: Math.max(0, sxv / sxx) };
  }
  return { a: sv / w, b: 0 };
}

/** How little the hour's slot knows: its expectation rests on n_eff observed days of the
 * slot (running mean while young, then exponentially weighted: (2 − α)/α days), so its
 * estimation error adds 1/n_eff of the noise variance to the predictive variance. */
function slotInflation(s: AnomalyState, hour: number): number {
  const slot = (dayOfWeek(hour) >= 5 ? 24 : 0) + hourOfDay(hour);
  const n = Math.min(at(s.hod_n, slot), (2 - ALPHA_HOD) / ALPHA_HOD);
  return 1 + 1 / Math.max(n, 1);
}

function inflate(fit: VarianceFit | null, infl: number): VarianceFit | null {
  return fit && infl !== 1 ? { a: fit.a * infl, b: fit.b * infl } : fit;
}

function variance4(fit: VarianceFit, expected: number): number {
  const v = fit.a + fit.b * expected;
  // Floor: a perfectly regular series still gets a 1 % relative spread.
  const floor = 4e-4 * (expected + 1);
  return Math.max(v, floor);
}

function clampFactor(x: number): number {
  if (!Number.isFinite(x)) return 1;
  return Math.min(Math.max(x, MIN_FACTOR), MAX_FACTOR);
}

/** Six significant digits: keeps the JSON state small; part of the algorithm, so replays agree. */
function sig6(x: number): number {
  return x === 0 || !Number.isFinite(x) ? x : Number(x.toPrecision(6));
}

function roundState(s: AnomalyState) {
  s.level = sig6(s.level);
  for (const f of [s.dow, s.hod, s.how]) for (let i = 0; i < f.length; i++) f[i] = sig6(at(f, i));
  for (const acc of [s.var, s.var_w, s.var_raw])
    for (let i = 0; i < acc.length; i++) acc[i] = sig6(at(acc, i));
  s.upe = sig6(s.upe);
  s.ev_multi = sig6(s.ev_multi);
  s.ev_var = sig6(s.ev_var);
  s.ev_n = sig6(s.ev_n ?? 0);
  s.ev_n_var = sig6(s.ev_n_var ?? 0);
  s.var_raw_v2 = sig6(s.var_raw_v2 ?? 0);
  s.zero_rate = sig6(s.zero_rate);
}

function cloneState(s: AnomalyState): AnomalyState {
  if ((s.v as number) !== 2) return upgrade(s);
  return {
    ...s,
    dow: s.dow.slice(),
    dow_n: s.dow_n.slice(),
    hod: s.hod.slice(),
    hod_n: s.hod_n.slice(),
    how: s.how.slice(),
    var: s.var.slice(),
    day_y: s.day_y.slice(),
    day_raw: s.day_raw.slice(),
    day_flag: s.day_flag.slice(),
    how_flag: s.how_flag.slice(),
    win_y: s.win_y.slice(),
    win_e: s.win_e.slice(),
    win_z: s.win_z.slice(),
    win_w: s.win_w.slice(),
    win_ok: s.win_ok.slice(),
    win_flag: s.win_flag.slice(),
    var_w: s.var_w.slice(),
    var_raw: s.var_raw ? s.var_raw.slice() : zeros(5),
  };
}

/** A state persisted by version 1 (no window test; units per event learned from every hour,
 * aggregates included) continues with its baseline; the window history and fits start empty
 * and units per event is learned afresh. */
function upgrade(old: AnomalyState): AnomalyState {
  const fresh = newAnomalyState();
  return {
    ...fresh,
    ...old,
    v: 2,
    dow: old.dow.slice(),
    dow_n: old.dow_n.slice(),
    hod: old.hod.slice(),
    hod_n: old.hod_n.slice(),
    how: old.how.slice(),
    var: old.var.slice(),
    day_y: old.day_y.slice(),
    day_raw: old.day_raw.slice(),
    day_flag: old.day_flag.slice(),
    how_flag: old.how_flag.slice(),
    upe: 0,
    ev_multi: 0,
    ev_var: 0,
    zero_rate: 0,
    zero_n: 0,
    run_last: null,
    win_y: fresh.win_y,
    win_e: fresh.win_e,
    win_z: fresh.win_z,
    win_w: fresh.win_w,
    win_ok: fresh.win_ok,
    win_flag: fresh.win_flag,
    var_w: fresh.var_w,
    var_raw: fresh.var_raw,
  };
}

const at = (a: number[], i: number): number => a[i] ?? 0;
const ones = (n: number): number[] => new Array<number>(n).fill(1);
const zeros = (n: number): number[] => new Array<number>(n).fill(0);

/** At most this many source event ids ride on a signal from the detection driver. */
const SOURCE_IDS = 5;

/** BillableUnitAnomalyDetector in the registry: each closed hour per (product, metric). */
export const anomalySpec = defineDetector({
  name: DETECTOR,
  label: "Usage anomaly",
  summary:
    "A closed hour's units for one (customer, metric) far from that customer's own seasonal baseline, spike or drop.",
  key: "anomaly",
  trigger: "closed_hour",
  policy: {
    defaults: DEFAULT_ANOMALY_POLICY,
    validate: validateAnomalyPolicy,
    fields: [
      { key: "k", help: "σ multiple: an hour deviating more than k σ from the baseline fires" },
      { key: "min_history_days", help: "days of history before the detector speaks" },
      { key: "min_slot_observations", help: "days seen in the same hour-of-week slot first" },
      { key: "min_spike_pct", help: "a spike must also exceed expected by this %" },
      { key: "min_drop_pct", help: "a drop must also fall below expected by this %" },
      { key: "min_delta_events", help: "minimum size of the deviation, in events" },
      { key: "regime_shift_hours", help: "after this many flagged hours the baseline re-levels" },
      {
        key: "max_window_hours",
        help: "also test sums of up to this many consecutive hours (1–3; 1 = single hours only)",
      },
    ],
  },
  ladder: {
    kind: "keys",
    rungs: GATE_RUNGS,
    default: { spike: "ALERT", drop: "ALERT" } as { spike: Rung; drop: Rung },
    labels: { spike: "Usage spike", drop: "Usage drop" },
    keyOf: (signal) => (signal.direction === "drop" ? "drop" : "spike"),
  },
  // Each series is (product, metric), remembered in det:series; its state in det:anomaly:<key>.
  run: ({ customer, store, reader, policy, from, to, rows, subscriptions = [] }) => {
    const series = new Map<
      string,
      { product: string; metric: string; hours: Map<number, { units: number; events: number }> }
    >();
    for (const key of store.get<string[]>("det:series") ?? []) {
      const [product = "", metric = ""] = key.split("|");
      series.set(key, { product, metric, hours: new Map() });
    }
    const known = series.size;
    for (const r of rows) {
      const key = `${r.product}|${r.metric}`;
      let s = series.get(key);
      if (!s) {
        s = { product: r.product, metric: r.metric, hours: new Map() };
        series.set(key, s);
      }
      s.hours.set(r.start, { units: r.units, events: r.events });
    }
    if (series.size !== known) store.put("det:series", [...series.keys()]);
    const signals: Signal[] = [];
    for (const [key, s] of series) {
      let state = store.get<AnomalyState>(`det:anomaly:${key}`) ?? newAnomalyState();
      // A series first seen in this range starts at its first hour, not before.
      const first = state.last_hour === null ? Math.min(...[...s.hours.keys()], to) : from;
      for (let hour = first; hour < to; hour += HOUR_MS) {
        const h = s.hours.get(hour);
        const result = evaluateHour(
          state,
          {
            customer,
            product: s.product,
            metric: s.metric,
            hour,
            units: h?.units ?? 0,
            events: h?.events ?? 0,
          },
          policy(s.product),
        );
        state = result.state;
        for (const signal of result.signals) {
          // A drop after the customer's subscriptions of the product ended is expected (they
          // left); the state still counts its hours, so the baseline re-levels as usual.
          if (
            signal.direction === "drop" &&
            dropExplained(subscriptions, s.product, signal.window.start, signal.window.end)
          ) {
            continue;
          }
          signals.push({
            ...signal,
            source_event_ids: reader.largestEvents(
              signal.window.start,
              signal.window.end,
              SOURCE_IDS,
              s.product,
              s.metric,
            ),
          });
        }
      }
      store.put(`det:anomaly:${key}`, state);
    }
    return signals;
  },
  describe: (s) => {
    const d = s.details;
    const sigma = numberAt(d, "sigma") ?? (s.direction === "drop" ? -s.magnitude : s.magnitude);
    const pct = numberAt(d, "pct_change");
    const expected = numberAt(d, "expected");
    const observed = numberAt(d, "observed");
    const title = `Usage ${s.direction === "drop" ? "drop" : "spike"}: ${s.customer} · ${s.metric ?? scopeOf(s)}`;
    let magnitude = `${signed(sigma)}σ`;
    if (pct !== null) magnitude += ` (${signed(pct)}%)`;
    if (expected !== null && observed !== null) {
      magnitude += `: ${fmt(observed)} observed vs ${fmt(expected)} expected`;
    }
    // A window signal: the numbers are sums over its hours.
    const hours = numberAt(d, "hours");
    if (hours !== null && hours > 1) magnitude += ` over ${fmt(hours)} hours`;
    return { title, magnitude };
  },
  display: { main: "{magnitude:decimal1} σ", sub: "{details.pct_change:signed_pct} vs expected" },
});
