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
//   ≥ k σ from expected itself and ≥ min_delta_events events' worth of units away from it (units
//   per event is learned from the caller's per-hour event counts; 1 when omitted). That is a test
//   against "within a tolerable band", not against "exactly the baseline".
// - Speaks only after min_history_days days, min_slot_observations complete days of the hour's
//   slot and 48 hours of forecast errors. After regime_shift_hours consecutive flags in one
//   direction the level is re-based on those hours: a customer that stops, or doubles for good,
//   raises a few signals, not one per hour forever.
// - Hours missing between the watermark and the hour passed are closed with 0 units first (a
//   silent hour is a closed hour with 0). Gaps longer than MAX_GAP_HOURS replay only their last
//   MAX_GAP_HOURS hours (the model has converged to silence by then).
// - State: 7 + 7 weekday, 48 + 48 hour-of-day, 168 + 168 hour-of-week factors and flags, 3 × 24
//   for the open day, 5 variance sums and a few scalars: 536 numbers whatever the history, 3-4 KB
//   as JSON (factors are rounded to 6 significant digits at each day close, deterministically,
//   so replays agree bit for bit and a JSON round trip continues identically).

import type { AnomalyPolicy } from "./policy";
import { DEFAULT_ANOMALY_POLICY } from "./policy";
import { DAY_MS, dayOfWeek, HOUR_MS, hourOfDay, isoHour } from "./time";
import { capIds, type DetectorResult, idempotencyKey, type Signal } from "./types";

const DETECTOR = "BillableUnitAnomalyDetector";

// Learning rates per update (running-mean rates while fewer updates have been seen). Tuned on
// the synthetic workloads of synthetic.ts; not policy, because they are not thresholds.
const ALPHA_LEVEL = 0.3; // per day
const ALPHA_DOW = 0.25; // per week, per weekday
const ALPHA_HOD = 0.1; // per day, per hour-of-day slot of that day type
const ALPHA_HOW = 0.1; // per week, per hour-of-week slot (after the first week)
const ALPHA_HOW_RECUR = 0.5; // per week, for a slot flagged the same way as the week before
const ALPHA_VAR = 0.01; // per hour: the variance fit remembers ~100 hours
const ALPHA_UPE = 0.05; // per hour with events: units per event
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
const MIN_FACTOR = 1e-4;

export interface AnomalyState {
  v: 1;
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

export type AnomalyDetails = {
  sigma: number;
  pct_change: number | null;
  expected: number;
  observed: number;
  /** Predictive standard deviation in units around `expected` (for display). */
  spread_units: number;
  k: number;
  /** Hour of week (Monday 00:00 UTC = 0) of the evaluated hour. */
  hour_of_week: number;
};

export type AnomalySignal = Signal<AnomalyDetails>;

/** A fresh state for a new (customer, metric). */
export function newAnomalyState(): AnomalyState {
  return {
    v: 1,
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

  const w = seasonal(s, hour);
  const hasForecast = s.days > 0;
  const expected = s.level * w * intraday(s);
  const fit = hasForecast ? fitVariance(s.var) : null;
  const learnVar = s.days >= VAR_START_DAYS;
  let signal: AnomalySignal | null = null;
  let flagged = 0;
  let yBaseline = y;

  if (hasForecast && fit) {
    const var4 = variance4(fit, expected);
    const sigma = Math.sqrt(var4 / 4);
    const e = Math.sqrt(y + 0.375) - Math.sqrt(expected + 0.375);
    const z = e / sigma;
    if (speaks(s, hour, policy)) {
      flagged = judge(y, expected, z, fit, s.upe, policy);
      if (flagged !== 0) signal = makeSignal(input, y, expected, z, sigma, policy, flagged);
    }
    // Variance fit: flagged hours stay out; the rest are winsorised.
    if (flagged === 0 && learnVar) {
      const cap = WINSOR_SIGMA * WINSOR_SIGMA * var4;
      addVariance(s, expected, Math.min(4 * e * e, cap));
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
    addVariance(s, expected, 4 * e * e);
  }

  if (input.events !== undefined && input.events > 0 && y > 0) {
    const target = y / input.events;
    s.upe = s.upe > 0 ? s.upe + ALPHA_UPE * (target - s.upe) : target;
  }

  trackRun(s, flagged, y, w, policy);

  const h = hourOfDay(hour);
  s.day_y[h] = yBaseline;
  s.day_raw[h] = y;
  s.day_flag[h] = flagged;
  s.day_hours++;
  s.day_sum_y += yBaseline;
  s.day_sum_w += w;
  s.last_hour = hour;
  if (h === 23) closeDay(s);
  return signal;
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

/** 1 spike, -1 drop, 0 ordinary. */
function judge(
  y: number,
  expected: number,
  z: number,
  fit: VarianceFit,
  upe: number,
  policy: AnomalyPolicy,
): number {
  const delta = y - expected;
  const deltaEvents = Math.abs(delta) / (upe > 0 ? upe : 1);
  if (deltaEvents < policy.min_delta_events) return 0;
  if (z >= policy.k) {
    const edge = expected * (1 + policy.min_spike_pct / 100);
    return bandZ(y, edge, fit) >= policy.k ? 1 : 0;
  }
  if (z <= -policy.k) {
    const edge = expected * (1 - policy.min_drop_pct / 100);
    return -bandZ(y, edge, fit) >= policy.k ? -1 : 0;
  }
  return 0;
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
): AnomalySignal {
  const hour = input.hour;
  // σ in units around the expectation: d(y)/d(√y) = 2√y.
  const spreadUnits = 2 * Math.sqrt(expected + 0.375) * sigma;
  return {
    detector: DETECTOR,
    idempotency_key: idempotencyKey([
      DETECTOR,
      input.customer,
      input.product ? `${input.product}:${input.metric}` : input.metric,
      isoHour(hour),
    ]),
    customer: input.customer,
    ...(input.product !== undefined ? { product: input.product } : {}),
    metric: input.metric,
    window: { start: hour, end: hour + HOUR_MS },
    magnitude: round(Math.abs(z), 4),
    direction: dir > 0 ? "spike" : "drop",
    details: {
      sigma: round(z, 4),
      pct_change: expected > 0 ? round(((y - expected) / expected) * 100, 2) : null,
      expected: round(expected, 4),
      observed: y,
      spread_units: round(spreadUnits, 4),
      k: policy.k,
      hour_of_week: dayOfWeek(hour) * 24 + hourOfDay(hour),
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

function trackRun(s: AnomalyState, flagged: number, y: number, w: number, policy: AnomalyPolicy) {
  if (flagged === 0) {
    s.run_dir = 0;
    s.run_n = 0;
    s.run_y = 0;
    s.run_w = 0;
    return;
  }
  if (flagged !== s.run_dir) {
    s.run_dir = flagged;
    s.run_n = 0;
    s.run_y = 0;
    s.run_w = 0;
  }
  s.run_n++;
  s.run_y += y;
  s.run_w += w;
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

function addVariance(s: AnomalyState, x: number, v: number) {
  const acc = s.var;
  const n = at(acc, 0);
  // Running mean until the window fills, then exponential forgetting.
  const keep = n + 1 < 1 / ALPHA_VAR ? 1 : 1 - ALPHA_VAR;
  acc[0] = n * keep + 1;
  acc[1] = at(acc, 1) * keep + x;
  acc[2] = at(acc, 2) * keep + x * x;
  acc[3] = at(acc, 3) * keep + v;
  acc[4] = at(acc, 4) * keep + x * v;
}

/** Weighted least squares of 4e² on E, constrained to A ≥ 0, B ≥ 0. */
function fitVariance(acc: number[]): VarianceFit | null {
  const w = at(acc, 0);
  if (w <= 0) return null;
  const sx = at(acc, 1);
  const sxx = at(acc, 2);
  const sv = at(acc, 3);
  const sxv = at(acc, 4);
  const den = w * sxx - sx * sx;
  if (den > 1e-9 * w * sxx) {
    const b = (w * sxv - sx * sv) / den;
    const a = (sv - b * sx) / w;
    if (b >= 0 && a >= 0) return { a, b };
    if (b >= 0 && sxx > 0) return { a: 0, b: Math.max(0, sxv / sxx) };
  }
  return { a: sv / w, b: 0 };
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
  for (let i = 0; i < s.var.length; i++) s.var[i] = sig6(at(s.var, i));
  s.upe = sig6(s.upe);
}

function cloneState(s: AnomalyState): AnomalyState {
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
  };
}

const at = (a: number[], i: number): number => a[i] ?? 0;
const ones = (n: number): number[] => new Array<number>(n).fill(1);
const zeros = (n: number): number[] => new Array<number>(n).fill(0);
const round = (x: number, digits: number): number => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};
