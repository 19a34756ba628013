// Independent event-level workloads for BillableUnitAnomalyDetector (issue 12, item 6). Unlike
// synthetic.ts (hourly counts, one noise law, then re-delivered as other feeds), each generator
// here simulates how the usage reaches Aforo: which events are sent and how many units each
// carries. The detector sees what the actor would: per closed hour, the sum of the events'
// quantities (units) and how many events there were. Nothing here runs in production.
//
// Every generator draws customers with one of four seasonal shapes (business hours in a random
// time zone, a consumer evening peak, flat 24/7 with a nightly batch, weekend-heavy), a volume
// drawn log-uniformly from its tier range, a slow trend, day shocks and, per customer, its own
// dispersion. Injected episodes are 1-3 hours wide: spikes ×3-×6 of the true mean, drops to
// ×0-×0.05 ("an outage"), at least a day apart, from day 9 on (the detector speaks after 7 days).

import {
  type AnomalyPolicy,
  DEFAULT_ANOMALY_POLICY,
  evaluateHour,
  newAnomalyState,
} from "./anomaly";
import {
  gamma,
  type HourlySeries,
  makeRng,
  negativeBinomialCdf,
  normal,
  ORACLE_ALPHA,
  poisson,
  type Rng,
  type Score,
  scoreHours,
} from "./synthetic";
import { DAY_MS, dayOfWeek, HOUR_MS, hourOfDay } from "./time";

/** How a generator turns an hour's true mean of "acts" (calls, requests) into events. */
export type Delivery =
  /** One event per call, 1 unit each. */
  | { kind: "per_request" }
  /** A collector flushes every `flushMinutes`: one event per non-empty flush, units = calls. */
  | { kind: "flush"; flushMinutes: number }
  /** One event per hour carrying the hour's total (0 events when silent). */
  | { kind: "hourly_total" }
  /** One event per request carrying lognormal tokens (mean `meanSize`, log-sd `sd`). */
  | { kind: "tokens"; meanSize: number; sd: number }
  /** One event per hour carrying the hour's tokens of lognormal-sized requests. */
  | { kind: "hourly_tokens"; meanSize: number; sd: number };

export interface FeedGenerator {
  name: string;
  /** What it models, in a phrase (printed by the benchmark). */
  about: string;
  days: number;
  customers: number;
  /** Mean acts per hour of a customer, log-uniform in this range. */
  volume: [number, number];
  /** Negative-binomial dispersion r of the acts per hour, log-uniform (Var = μ + μ²/r). */
  dispersion: [number, number];
  /** Standard deviation of the log day shock. */
  dayShock: [number, number];
  delivery: Delivery;
  /** Injected episodes per customer (after the warm-up). */
  episodes: number;
}

/** The benchmark's generators: independent of synthetic.ts and of each other (own seasonal
 * shapes, noise, delivery). The first two reproduce the feeds the issue describes. */
export const FEED_GENERATORS: FeedGenerator[] = [
  {
    name: "flush15-calls",
    about: "calls flushed every 15 min (≈4 events/hour, 5-40 calls each), 21 days",
    days: 21,
    customers: 40,
    volume: [25, 200],
    dispersion: [8, 40],
    dayShock: [0.05, 0.15],
    delivery: { kind: "flush", flushMinutes: 15 },
    episodes: 3,
  },
  {
    name: "per-request",
    about: "one event per call, 2-60 calls/hour, 21 days",
    days: 21,
    customers: 40,
    volume: [6, 30],
    dispersion: [5, 30],
    dayShock: [0.05, 0.2],
    delivery: { kind: "per_request" },
    episodes: 3,
  },
  {
    name: "per-request-busy",
    about: "one event per call, 30-300 calls/hour, 28 days",
    days: 28,
    customers: 30,
    volume: [30, 300],
    dispersion: [8, 40],
    dayShock: [0.05, 0.15],
    delivery: { kind: "per_request" },
    episodes: 4,
  },
  {
    name: "minute-aggregates",
    about: "per-minute totals (≈60 events/hour, tens of units each), 35 days",
    days: 35,
    customers: 30,
    volume: [1500, 12000],
    dispersion: [15, 80],
    dayShock: [0.04, 0.12],
    delivery: { kind: "flush", flushMinutes: 1 },
    episodes: 4,
  },
  {
    name: "hourly-totals",
    about: "one event per hour with the hour's total (hundreds to thousands), 35 days",
    days: 35,
    customers: 30,
    volume: [200, 5000],
    dispersion: [10, 60],
    dayShock: [0.04, 0.12],
    delivery: { kind: "hourly_total" },
    episodes: 4,
  },
  {
    name: "token-requests",
    about: "one event per request carrying tokens (mean 800, heavy tail), 35 days",
    days: 35,
    customers: 30,
    volume: [15, 300],
    dispersion: [8, 50],
    dayShock: [0.05, 0.15],
    delivery: { kind: "tokens", meanSize: 800, sd: 1 },
    episodes: 4,
  },
  {
    name: "hourly-tokens",
    about: "one event per hour with the hour's tokens (10^4-10^6), 35 days",
    days: 35,
    customers: 30,
    volume: [20, 1000],
    dispersion: [10, 60],
    dayShock: [0.04, 0.12],
    delivery: { kind: "hourly_tokens", meanSize: 1200, sd: 0.8 },
    episodes: 4,
  },
];

export interface FeedSeries extends HourlySeries {
  /** Events per hour as delivered. */
  events: number[];
  shape: SeasonalShape;
}

export type SeasonalShape = "business" | "evening" | "batch" | "weekend";
const SHAPES: SeasonalShape[] = ["business", "evening", "batch", "weekend"];

/** A generator's customers for one seed. */
export function generateFeed(gen: FeedGenerator, seed: number): FeedSeries[] {
  const rng = makeRng(seed * 1_000_003 + hashName(gen.name));
  const out: FeedSeries[] = [];
  for (let c = 0; c < gen.customers; c++) out.push(feedSeries(gen, rng, c));
  return out;
}

function hashName(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619) >>> 0;
  return h % 1_000_000;
}

const logUniform = (rng: Rng, [lo, hi]: [number, number]) =>
  Math.exp(Math.log(lo) + (Math.log(hi) - Math.log(lo)) * rng());

/** Relative mean of an hour (before normalisation) for a customer's shape. */
function shapeFactor(shape: SeasonalShape, p: ShapeParams, t: number): number {
  const local = (((hourOfDay(t) + p.tz) % 24) + 24) % 24;
  const d = dayOfWeek(t + p.tz * HOUR_MS);
  const weekend = d >= 5;
  const bump = (h: number, at: number, width: number) => {
    const x = Math.min(Math.abs(h - at), 24 - Math.abs(h - at));
    return Math.exp(-(x * x) / (2 * width * width));
  };
  switch (shape) {
    case "business": {
      // A plateau from ~8 to ~18 local, logistic ramps; weekends low and flat.
      const ramp = (x: number) => 1 / (1 + Math.exp(-x));
      const day = ramp((local - p.open) * 1.5) * ramp((p.close - local) * 1.5);
      return weekend ? p.weekend * (0.3 + 0.7 * day * 0.4) : p.night + day;
    }
    case "evening":
      return (
        (p.night + bump(local, 20, 2.5) + 0.5 * bump(local, 8, 1.5)) * (weekend ? p.weekend : 1)
      );
    case "batch":
      // Flat around the clock, a nightly batch at 02:00 local.
      return 1 + p.batch * bump(local, 2, 0.6) + (weekend ? -0.2 : 0);
    case "weekend":
      return (p.night + bump(local, 15, 4)) * (weekend ? 1.8 : d === 4 ? 1.2 : 0.8);
  }
}

interface ShapeParams {
  tz: number;
  open: number;
  close: number;
  night: number;
  weekend: number;
  batch: number;
}

function feedSeries(gen: FeedGenerator, rng: Rng, index: number): FeedSeries {
  const uniform = (lo: number, hi: number) => lo + (hi - lo) * rng();
  const shape = SHAPES[Math.floor(rng() * SHAPES.length)] as SeasonalShape;
  const p: ShapeParams = {
    tz: Math.floor(uniform(-8, 10)),
    open: uniform(7, 9.5),
    close: uniform(17, 19.5),
    night: uniform(0.05, 0.25),
    weekend: uniform(0.25, 0.7),
    batch: uniform(1, 3),
  };
  const volume = logUniform(rng, gen.volume);
  const r = logUniform(rng, gen.dispersion);
  const shockSd = uniform(gen.dayShock[0], gen.dayShock[1]);
  const trend = uniform(-0.2, 0.4);
  const start = Date.UTC(2026, 2, 2) + Math.floor(rng() * 7) * DAY_MS;
  const n = gen.days * 24;
  // Normalise the shape over one week so `volume` is the mean acts per hour.
  let norm = 0;
  for (let i = 0; i < 168; i++) norm += shapeFactor(shape, p, start + i * HOUR_MS);
  norm /= 168;
  const mean = new Array<number>(n);
  let shock = 0;
  for (let i = 0; i < n; i++) {
    const t = start + i * HOUR_MS;
    if (i === 0 || hourOfDay(t) === 0) shock = 0.5 * shock + shockSd * normal(rng);
    mean[i] =
      ((volume * shapeFactor(shape, p, t)) / norm) * (1 + (trend * i) / n) * Math.exp(shock);
  }
  // Episodes: 1-3 hours, at least 24 hours apart, from day 9 on.
  const injected = new Array<number>(n).fill(0);
  const factor = new Array<number>(n).fill(1);
  const first = 9 * 24;
  let placed = 0;
  for (let tries = 0; placed < gen.episodes && tries < 1000; tries++) {
    const len = 1 + Math.floor(rng() * 3);
    const at = first + Math.floor(rng() * (n - first - len));
    let free = true;
    for (let j = at - 24; j < at + len + 24; j++) if (injected[j]) free = false;
    if (!free) continue;
    const spike = rng() < 0.5;
    const f = spike ? uniform(3, 6) : uniform(0, 0.05);
    for (let j = at; j < at + len; j++) {
      injected[j] = spike ? 1 : -1;
      factor[j] = f;
    }
    placed++;
  }
  const units = new Array<number>(n);
  const events = new Array<number>(n);
  const acts = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const mu = (mean[i] ?? 0) * (factor[i] ?? 1);
    const d = deliver(gen.delivery, rng, mu, r);
    units[i] = d.units;
    events[i] = d.events;
    acts[i] = d.acts;
  }
  const { detectable, detectableWindow } = oracle(acts, mean, injected, r);
  return {
    customer: `${gen.name}-${index}`,
    metric:
      gen.delivery.kind === "tokens" || gen.delivery.kind === "hourly_tokens" ? "tokens" : "calls",
    tier: Math.round(volume),
    start,
    units,
    events,
    mean,
    injected,
    dispersion: r,
    detectable,
    detectable_window: detectableWindow,
    shape,
  };
}

/** One hour's events: acts ~ NB(μ, r), delivered as the generator's feed. */
function deliver(
  delivery: Delivery,
  rng: Rng,
  mu: number,
  r: number,
): { units: number; events: number; acts: number } {
  // The hour's intensity (gamma), then Poisson acts within it (so flush buckets share it).
  const lambda = mu > 0 ? (gamma(rng, r) * mu) / r : 0;
  switch (delivery.kind) {
    case "per_request": {
      const k = poisson(rng, lambda);
      return { units: k, events: k, acts: k };
    }
    case "hourly_total": {
      const k = poisson(rng, lambda);
      return { units: k, events: k > 0 ? 1 : 0, acts: k };
    }
    case "flush": {
      const buckets = Math.round(60 / delivery.flushMinutes);
      let units = 0;
      let events = 0;
      for (let b = 0; b < buckets; b++) {
        const k = poisson(rng, lambda / buckets);
        if (k > 0) {
          units += k;
          events++;
        }
      }
      return { units, events, acts: units };
    }
    case "tokens":
    case "hourly_tokens": {
      const k = poisson(rng, lambda);
      const { meanSize, sd } = delivery;
      const m = Math.log(meanSize) - (sd * sd) / 2;
      let units = 0;
      if (k < 50) {
        for (let j = 0; j < k; j++)
          units += Math.max(1, Math.round(Math.exp(m + sd * normal(rng))));
      } else {
        const sdSize = meanSize * Math.sqrt(Math.exp(sd * sd) - 1);
        units = Math.max(k, Math.round(k * meanSize + Math.sqrt(k) * sdSize * normal(rng)));
      }
      return { units, events: delivery.kind === "tokens" ? k : k > 0 ? 1 : 0, acts: k };
    }
  }
}

/** Could an oracle that knows each hour's true mean of acts and the noise law (NB with
 * dispersion r) tell the injected hour from noise at ORACLE_ALPHA false alarms per hour and
 * side, alone, or by the sum of its whole episode? (It judges acts, which for token feeds is
 * easier than the units the detector sees: request sizes add noise.) */
function oracle(acts: number[], mean: number[], injected: number[], r: number) {
  const tail = (y: number, m: number, rr: number, dir: number) =>
    dir > 0 ? 1 - negativeBinomialCdf(y - 1, m, rr) : negativeBinomialCdf(y, m, rr);
  const detectable = acts.map((y, i) => {
    const dir = injected[i] ?? 0;
    return dir !== 0 && tail(y, mean[i] ?? 0, r, dir) < ORACLE_ALPHA;
  });
  const detectableWindow = detectable.slice();
  for (let i = 0; i < injected.length; i++) {
    const dir = injected[i] ?? 0;
    if (dir === 0 || injected[i - 1] === dir) continue;
    let j = i;
    let sumY = 0;
    let sumM = 0;
    let sumV = 0;
    for (; injected[j] === dir; j++) {
      const m = mean[j] ?? 0;
      sumY += acts[j] ?? 0;
      sumM += m;
      sumV += m + (m * m) / r;
    }
    const rSum = sumV > sumM ? (sumM * sumM) / (sumV - sumM) : 1e9;
    if (tail(sumY, sumM, rSum, dir) < ORACLE_ALPHA)
      for (let k = i; k < j; k++) detectableWindow[k] = true;
  }
  return { detectable, detectableWindow };
}

export interface FeedQuality {
  generator: string;
  seeds: number[];
  series: number;
  hours: number;
  score: Score;
  /** Signals whose window holds no injected hour. */
  false_signals: number;
  signals: number;
}

/** Scores flags (per series, per hour) against the injected hours. */
export function scoreFeed(series: readonly FeedSeries[], flags: readonly boolean[][]): Score {
  return scoreHours(series, flags);
}

/** Runs the detector over each series from a fresh state (units and event counts per hour, as
 * the actor passes them); every hour inside a signal's window counts as flagged. */
export function runFeed(
  series: FeedSeries,
  policy: AnomalyPolicy = DEFAULT_ANOMALY_POLICY,
): { flags: boolean[]; signals: { start: number; end: number; dir: number }[] } {
  let state = newAnomalyState();
  const flags = new Array<boolean>(series.units.length).fill(false);
  const signals: { start: number; end: number; dir: number }[] = [];
  for (let i = 0; i < series.units.length; i++) {
    const r = evaluateHour(
      state,
      {
        customer: series.customer,
        metric: series.metric,
        hour: series.start + i * HOUR_MS,
        units: series.units[i] ?? 0,
        events: series.events[i] ?? 0,
      },
      policy,
    );
    state = r.state;
    for (const sig of r.signals) {
      const from = Math.max(0, Math.round((sig.window.start - series.start) / HOUR_MS));
      const to = Math.min(flags.length, Math.round((sig.window.end - series.start) / HOUR_MS));
      for (let j = from; j < to; j++) flags[j] = true;
      signals.push({ start: from, end: to, dir: sig.direction === "drop" ? -1 : 1 });
    }
  }
  return { flags, signals };
}

/** Precision and recall of the detector on one generator over the given seeds. */
export function measureFeed(
  gen: FeedGenerator,
  seeds: readonly number[],
  policy: AnomalyPolicy = DEFAULT_ANOMALY_POLICY,
): FeedQuality {
  const all: FeedSeries[] = [];
  const flags: boolean[][] = [];
  let signals = 0;
  let falseSignals = 0;
  for (const seed of seeds) {
    for (const s of generateFeed(gen, seed)) {
      const r = runFeed(s, policy);
      all.push(s);
      flags.push(r.flags);
      signals += r.signals.length;
      for (const sig of r.signals) {
        if (!s.injected.slice(sig.start, sig.end).some(Boolean)) falseSignals++;
      }
    }
  }
  return {
    generator: gen.name,
    seeds: [...seeds],
    series: all.length,
    hours: all.reduce((n, s) => n + s.units.length, 0),
    score: scoreFeed(all, flags),
    false_signals: falseSignals,
    signals,
  };
}
