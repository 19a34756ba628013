// Seeded synthetic usage for measuring the detectors (tests and scripts/bench-detectors.ts share
// it, so the figures in docs/detectors.md are reproducible). Nothing here runs in production.
//
// Hourly workload per (customer, metric): mean = tier × trend(t) × weekday(d) × daily shape(h) ×
// day shock, then negative-binomial noise (gamma-Poisson: Var = μ + μ²/r). The daily shape is two
// harmonics with a customer-specific peak, flatter and lower at weekends; the day shock is an
// AR(1) on the log scale (some days are simply busier). Anomalies are injected on the mean
// before the noise: spikes ×3–×10, drops to 0–20 % of expected, 1–3 hours each.

import { DAY_MS, HOUR_MS } from "./time";

// --- random numbers --------------------------------------------------------------------------

export type Rng = () => number;

/** sfc32 seeded through splitmix32: fast, deterministic, good enough for simulation. */
export function makeRng(seed: number): Rng {
  let s = seed >>> 0;
  const split = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = split();
  let b = split();
  let c = split();
  let d = split();
  return () => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) >>> 0;
    return t / 4294967296;
  };
}

export function normal(rng: Rng): number {
  let u = rng();
  while (u <= 0) u = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

/** Gamma(shape, scale 1), Marsaglia–Tsang. */
export function gamma(rng: Rng, shape: number): number {
  if (shape < 1) return gamma(rng, shape + 1) * rng() ** (1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = normal(rng);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = rng();
    if (u < 1 - 0.0331 * x ** 4 || Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) {
      return d * v;
    }
  }
}

/** Poisson(λ): multiplication method below 30, transformed rejection (PTRS, Hörmann) above. */
export function poisson(rng: Rng, lambda: number): number {
  if (lambda <= 0) return 0;
  if (lambda < 30) {
    const limit = Math.exp(-lambda);
    let k = 0;
    let p = rng();
    while (p > limit) {
      k++;
      p *= rng();
    }
    return k;
  }
  const slam = Math.sqrt(lambda);
  const loglam = Math.log(lambda);
  const b = 0.931 + 2.53 * slam;
  const a = -0.059 + 0.02483 * b;
  const invalpha = 1.1239 + 1.1328 / (b - 3.4);
  const vr = 0.9277 - 3.6224 / (b - 2);
  for (;;) {
    const u = rng() - 0.5;
    const v = rng();
    const us = 0.5 - Math.abs(u);
    const k = Math.floor(((2 * a) / us + b) * u + lambda + 0.43);
    if (us >= 0.07 && v <= vr) return k;
    if (k < 0 || (us < 0.013 && v > us)) continue;
    if (
      Math.log(v) + Math.log(invalpha) - Math.log(a / (us * us) + b) <=
      -lambda + k * loglam - logFactorial(k)
    ) {
      return k;
    }
  }
}

function logFactorial(k: number): number {
  if (k < 2) return 0;
  // Stirling series: accurate to ~1e-10 from k = 2 on, which PTRS only needs for k ≳ 20.
  const x = k + 1;
  return (
    (x - 0.5) * Math.log(x) - x + 0.5 * Math.log(2 * Math.PI) + 1 / (12 * x) - 1 / (360 * x ** 3)
  );
}

/** ln Γ(x), Lanczos (g = 7, n = 9). */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
    -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
    1.5056327351493116e-7,
  ];
  const z = x - 1;
  let a = c[0] as number;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += (c[i] as number) / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Regularised incomplete beta I_x(a, b) (continued fraction, modified Lentz). */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(
    logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x),
  );
  if (x > (a + 1) / (a + b + 2)) return 1 - incompleteBeta(1 - x, b, a);
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let f = d;
  for (let m = 1; m <= 5000; m++) {
    const m2 = 2 * m;
    let num = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + num * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + num / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    f *= d * c;
    num = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + num * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + num / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-12) break;
  }
  return (front * f) / a;
}

/** P(Y ≤ y) for Y ~ negative binomial with mean μ and dispersion r. */
export function negativeBinomialCdf(y: number, mean: number, r: number): number {
  if (y < 0) return 0;
  if (mean <= 0) return 1;
  return incompleteBeta(r / (r + mean), r, Math.floor(y) + 1);
}

/** Negative binomial with mean μ and dispersion r (Var = μ + μ²/r), as gamma-Poisson. */
export function negativeBinomial(rng: Rng, mean: number, r: number): number {
  if (mean <= 0) return 0;
  return poisson(rng, (gamma(rng, r) * mean) / r);
}

// --- hourly workloads for the anomaly detector -----------------------------------------------

export interface HourlySeries {
  customer: string;
  metric: string;
  /** Mean units per hour of the tier the customer was drawn from. */
  tier: number;
  /** Start of the first hour, epoch ms. */
  start: number;
  /** Observed units per hour. */
  units: number[];
  /** The true mean of each hour before injection (what a perfect baseline would expect). */
  mean: number[];
  /** Per hour: 1 injected spike, -1 injected drop, 0 ordinary. */
  injected: number[];
  /** Negative-binomial dispersion r of the noise (Var = μ + μ²/r). */
  dispersion: number;
  /** Per injected hour: could an oracle that knows the true mean and noise law tell it from
   * noise at ORACLE_ALPHA false alarms per hour and side? (Always false on ordinary hours.) */
  detectable: boolean[];
  /** The same oracle, also allowed to test the sum of the hour's whole episode (it knows where
   * the episode starts and ends): detectable alone or as part of its episode. */
  detectable_window: boolean[];
}

/** The oracle's false-alarm rate per hour and side. With 1 % of hours anomalous, an oracle
 * flagging at this rate on both sides would itself have precision ≈ 0.83: the level of the
 * precision target, so "oracle-detectable" is "findable at all without breaking the target". */
export const ORACLE_ALPHA = 0.001;

export interface WorkloadOptions {
  seed: number;
  weeks?: number;
  tiers?: number[];
  customersPerTier?: number;
  /** Fraction of hours (after the warm-up) inside injected anomalies. */
  anomalyRate?: number;
  /** Anomalies start no earlier than this many days into a series. */
  warmupDays?: number;
  /** Range of the negative-binomial dispersion r (log-uniform); default [15, 80]. */
  dispersion?: [number, number];
  /** Range of the day-shock standard deviation (log scale); default [0.04, 0.1]. */
  dayShock?: [number, number];
  /** First possible day, epoch ms (UTC midnight); each customer starts 0-6 days and 0-23 hours
   * later. */
  epoch?: number;
}

export const DEFAULT_TIERS = [5, 50, 500, 5000];

export function generateHourlyWorkload(options: WorkloadOptions): HourlySeries[] {
  const weeks = options.weeks ?? 8;
  const tiers = options.tiers ?? DEFAULT_TIERS;
  const perTier = options.customersPerTier ?? 4;
  const rate = options.anomalyRate ?? 0.01;
  const warmupDays = options.warmupDays ?? 8;
  const epoch = options.epoch ?? Date.UTC(2026, 0, 5); // a Monday
  const noise: Noise = {
    dispersion: options.dispersion ?? [15, 80],
    dayShock: options.dayShock ?? [0.04, 0.1],
  };
  const rng = makeRng(options.seed);
  const out: HourlySeries[] = [];
  for (const tier of tiers) {
    for (let c = 0; c < perTier; c++) {
      out.push(hourlySeries(rng, `cust-${tier}-${c}`, tier, weeks, rate, warmupDays, epoch, noise));
    }
  }
  return out;
}

interface Noise {
  dispersion: [number, number];
  dayShock: [number, number];
}

function hourlySeries(
  rng: Rng,
  customer: string,
  tier: number,
  weeks: number,
  rate: number,
  warmupDays: number,
  epoch: number,
  noise: Noise,
): HourlySeries {
  const uniform = (lo: number, hi: number) => lo + (hi - lo) * rng();
  const start = epoch + Math.floor(rng() * 7) * DAY_MS + Math.floor(rng() * 24) * HOUR_MS;
  const n = weeks * 7 * 24;
  // Customer character.
  const amp1 = uniform(0.5, 0.9);
  const amp2 = uniform(0.1, 0.35);
  const peak1 = uniform(11, 17);
  const peak2 = uniform(0, 24);
  const weekendLevel = uniform(0.35, 0.8);
  const weekendFlatten = uniform(0.4, 1);
  const dowJitter = Array.from({ length: 5 }, () => uniform(0.9, 1.1));
  const trend = uniform(-0.25, 0.5); // relative change over the whole series
  // NB dispersion r: the relative noise at scale is 1/√r (11-26 % by default).
  const r = Math.exp(uniform(Math.log(noise.dispersion[0]), Math.log(noise.dispersion[1])));
  const shockSd = uniform(noise.dayShock[0], noise.dayShock[1]);

  const shape = (h: number, flatten: number) =>
    Math.exp(
      flatten *
        (amp1 * Math.cos((2 * Math.PI * (h - peak1)) / 24) +
          amp2 * Math.cos((4 * Math.PI * (h - peak2)) / 24)),
    );
  const norm = [0, 1].map((w) => {
    let s = 0;
    for (let h = 0; h < 24; h++) s += shape(h, w === 1 ? weekendFlatten : 1);
    return s / 24;
  });
  const weekdayMean = dowJitter.reduce((a, b) => a + b, 0) / 5;
  const dowFactor = (d: number) => (d >= 5 ? weekendLevel : (dowJitter[d] ?? 1) / weekdayMean);
  const dowNorm = (5 + 2 * weekendLevel) / 7;

  const mean: number[] = new Array(n);
  let shock = 0;
  for (let i = 0; i < n; i++) {
    const t = start + i * HOUR_MS;
    const h = Math.floor(t / HOUR_MS) % 24;
    if (h === 0 || i === 0) shock = 0.6 * shock + shockSd * normal(rng);
    const d = (Math.floor(t / DAY_MS) + 3) % 7;
    const weekend = d >= 5 ? 1 : 0;
    const daily = shape(h, weekend ? weekendFlatten : 1) / (norm[weekend] ?? 1);
    mean[i] = tier * (1 + (trend * i) / n) * (dowFactor(d) / dowNorm) * daily * Math.exp(shock);
  }

  // Injected episodes: non-overlapping, at least 6 hours apart, after the warm-up.
  const injected: number[] = new Array(n).fill(0);
  const factor: number[] = new Array(n).fill(1);
  const first = warmupDays * 24;
  const target = Math.round(rate * (n - first));
  let placed = 0;
  for (let attempts = 0; placed < target && attempts < 10_000; attempts++) {
    const len = 1 + Math.floor(rng() * 3);
    const at = first + Math.floor(rng() * (n - first - len));
    let free = true;
    for (let j = at - 6; j < at + len + 6; j++) if (injected[j]) free = false;
    if (!free) continue;
    const spike = rng() < 0.5;
    for (let j = at; j < at + len; j++) {
      injected[j] = spike ? 1 : -1;
      factor[j] = spike ? uniform(3, 10) : uniform(0, 0.2);
    }
    placed += len;
  }
  const units = mean.map((m, i) => negativeBinomial(rng, m * (factor[i] ?? 1), r));
  const detectable = units.map((y, i) => {
    const m = mean[i] ?? 0;
    if (injected[i] === 1) return 1 - negativeBinomialCdf(y - 1, m, r) < ORACLE_ALPHA;
    if (injected[i] === -1) return negativeBinomialCdf(y, m, r) < ORACLE_ALPHA;
    return false;
  });
  const detectableWindow = detectable.slice();
  for (const ep of episodes(injected)) {
    // The episode's sum against its ordinary means: a negative binomial with the sum's mean and
    // variance (Σ NB(μ_i, r) has mean Σμ_i and variance Σ(μ_i + μ_i²/r)).
    let sumY = 0;
    let sumM = 0;
    let sumV = 0;
    for (let j = ep.start; j < ep.end; j++) {
      const m = mean[j] ?? 0;
      sumY += units[j] ?? 0;
      sumM += m;
      sumV += m + (m * m) / r;
    }
    const rSum = sumV > sumM ? (sumM * sumM) / (sumV - sumM) : 1e9;
    const found =
      ep.dir === 1
        ? 1 - negativeBinomialCdf(sumY - 1, sumM, rSum) < ORACLE_ALPHA
        : negativeBinomialCdf(sumY, sumM, rSum) < ORACLE_ALPHA;
    if (found) for (let j = ep.start; j < ep.end; j++) detectableWindow[j] = true;
  }
  return {
    customer,
    metric: "api_calls",
    tier,
    start,
    units,
    mean,
    injected,
    dispersion: r,
    detectable,
    detectable_window: detectableWindow,
  };
}

/** Injected episodes: maximal runs of hours injected in the same direction, [start, end). */
export function episodes(
  injected: readonly number[],
): { start: number; end: number; dir: number }[] {
  const out: { start: number; end: number; dir: number }[] = [];
  for (let i = 0; i < injected.length; i++) {
    const dir = injected[i] ?? 0;
    if (dir === 0) continue;
    let j = i + 1;
    while (j < injected.length && injected[j] === dir) j++;
    out.push({ start: i, end: j, dir });
    i = j - 1;
  }
  return out;
}

// --- scoring ---------------------------------------------------------------------------------

export interface Score {
  tp: number;
  fp: number;
  fn: number;
  precision: number;
  /** Over all injected hours. */
  recall: number;
  /** Over the oracle-detectable injected hours (see ORACLE_ALPHA). */
  recall_detectable: number;
  /** Injected hours the oracle could detect / all injected hours. */
  detectable_share: number;
  /** Injected hours the oracle could detect alone or by their episode's sum / all injected. */
  window_detectable_share: number;
  /** Injected episodes (runs of injected hours), and those with at least one flagged hour. */
  episodes: number;
  episodes_found: number;
  /** episodes_found / episodes: what an operator experiences ("was I told?"). */
  episode_recall: number;
}

/** Precision and recall over hours: an injected hour counts as found if flagged; a flag on an
 * ordinary hour is a false positive. A signal flags every hour of its window. Episodes count as
 * found if any of their hours is flagged. */
export function scoreHours(series: readonly HourlySeries[], flags: readonly boolean[][]): Score {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let detectable = 0;
  let detectableFound = 0;
  let windowDetectable = 0;
  let eps = 0;
  let epsFound = 0;
  series.forEach((s, k) => {
    const f = flags[k] ?? [];
    for (let i = 0; i < s.units.length; i++) {
      const flagged = f[i] === true;
      if (s.injected[i] !== 0) {
        if (flagged) tp++;
        else fn++;
        if (s.detectable[i]) {
          detectable++;
          if (flagged) detectableFound++;
        }
        if (s.detectable_window[i]) windowDetectable++;
      } else if (flagged) fp++;
    }
    for (const ep of episodes(s.injected)) {
      eps++;
      if (f.slice(ep.start, ep.end).some(Boolean)) epsFound++;
    }
  });
  return {
    tp,
    fp,
    fn,
    precision: tp + fp === 0 ? 1 : tp / (tp + fp),
    recall: tp + fn === 0 ? 1 : tp / (tp + fn),
    recall_detectable: detectable === 0 ? 1 : detectableFound / detectable,
    detectable_share: tp + fn === 0 ? 1 : detectable / (tp + fn),
    window_detectable_share: tp + fn === 0 ? 1 : windowDetectable / (tp + fn),
    episodes: eps,
    episodes_found: epsFound,
    episode_recall: eps === 0 ? 1 : epsFound / eps,
  };
}

/** The strawman: a running global mean and standard deviation of all past hours of the key,
 * flag |y − mean| > k·sd once a week of history exists. No seasonality, no gates. */
export function naiveGlobalFlags(units: readonly number[], k = 2, minHours = 168): boolean[] {
  let n = 0;
  let mean = 0;
  let m2 = 0;
  return units.map((y) => {
    const sd = n > 1 ? Math.sqrt(m2 / (n - 1)) : 0;
    const flagged = n >= minHours && Math.abs(y - mean) > k * sd;
    n++;
    const d = y - mean;
    mean += d / n;
    m2 += d * (y - mean);
    return flagged;
  });
}

/** Mean absolute percentage error, in percent. */
export function mape(pairs: readonly { forecast: number; actual: number }[]): number {
  let sum = 0;
  let n = 0;
  for (const p of pairs) {
    if (p.actual === 0) continue;
    sum += Math.abs(p.forecast - p.actual) / Math.abs(p.actual);
    n++;
  }
  return n === 0 ? 0 : (sum / n) * 100;
}

// --- daily workloads for quota pacing --------------------------------------------------------

export interface DailySeries {
  customer: string;
  /** UTC midnight of the first day. */
  start: number;
  /** Units per day. */
  units: number[];
}

/** Daily usage with a strong weekly pattern (weekday-heavy or weekend-heavy customers), a slow
 * trend and multiplicative day noise: the workload the weekday-weighted projection is for. */
export function generateDailyWorkload(seed: number, customers = 20, days = 240): DailySeries[] {
  const rng = makeRng(seed);
  const uniform = (lo: number, hi: number) => lo + (hi - lo) * rng();
  const out: DailySeries[] = [];
  for (let c = 0; c < customers; c++) {
    const base = Math.exp(uniform(Math.log(200), Math.log(200_000)));
    const weekendHeavy = rng() < 0.25;
    const weekend = weekendHeavy ? uniform(1.5, 2.5) : uniform(0.15, 0.5);
    const jitter = Array.from({ length: 7 }, () => uniform(0.85, 1.15));
    const trend = uniform(-0.2, 0.4) / 240; // per day, relative
    const noise = uniform(0.05, 0.15);
    const start = Date.UTC(2026, 0, 1) + Math.floor(rng() * 7) * DAY_MS;
    const units: number[] = [];
    for (let i = 0; i < days; i++) {
      const d = (Math.floor((start + i * DAY_MS) / DAY_MS) + 3) % 7;
      const m = base * (1 + trend * i) * (d >= 5 ? weekend : 1) * (jitter[d] ?? 1);
      units.push(Math.max(0, Math.round(m * Math.exp(noise * normal(rng)))));
    }
    out.push({ customer: `pace-${c}`, start, units });
  }
  return out;
}
