// CostSpikeDetector: a closed hour's COGS for one (customer, product) far above that customer's
// own recent baseline for the same kind of hour. Revenue can lag (a plan's included quota, a
// flat fee), but COGS is paid at once: a runaway agent loop, a switch to a pricier model or a
// leaked key shows up as cost before it shows up anywhere else.
//
// Method (docs/detectors.md has the measured figures):
// - Baseline: the median COGS of the last COST_RING (10) closed hours of the same hour type (hour of day ×
//   weekday/weekend: 48 slots), spread: 1.4826 × their median absolute deviation. Medians, so
//   one earlier spike in the slot neither raises the baseline nor widens the spread much.
// - Fires when the hour's COGS is all of: at least min_ratio × the baseline, at least
//   min_delta_usd above it (practical significance: cents do not page anyone), and at least
//   k robust σ above it; and only after min_history_days of history and min_slot_observations
//   hours seen in the slot. A baseline of 0 (the hour usually costs nothing) passes the ratio
//   test: then the delta decides.
// - One signal per episode: after a signal the detector re-arms only after REARM_HOURS (24)
//   consecutive hours below the gates, so two bursts an hour apart are one episode. After
//   REBASE_HOURS (6) consecutive hours above the gates the level has changed: every slot is
//   scaled by the run's median ratio, so a lasting jump raises one signal, not one per slot.
// - Hours missing between the watermark and the hour passed are closed with COGS 0 first; gaps
//   longer than MAX_GAP_HOURS replay only their last MAX_GAP_HOURS (every slot is zeros by then).
// - Key (detector, customer, product, hour). magnitude = COGS above the baseline, in currency
//   units (sorts by stakes). State: 48 rings of ≤ COST_RING (10) numbers, ≤ 6 run ratios and a few scalars, ≤ ~3 KB
//   JSON.

import {
  nonNegative,
  num,
  type PolicyIssue,
  positive,
  positiveInt,
  type Rec,
} from "./policy-check";
import { GATE_RUNGS, type Rung } from "./rungs";
import { defineDetector } from "./spec";
import { DAY_MS, HOUR_MS, hourOfDay, isoHour, isWeekend } from "./time";
import { capIds, type DetectorResult, idempotencyKey, round, type Signal } from "./types";
import { fmt, num as numberAt } from "./wording";

const DETECTOR = "CostSpikeDetector";
/** Hours of each slot the baseline remembers (two weeks of weekday hours, five weeks of
 * weekend hours). */
export const COST_RING = 10;
const SLOTS = 48;
const MAX_GAP_HOURS = 5 * 7 * 24;
const MAD_TO_SIGMA = 1.4826;
const SOURCE_IDS = 5;
/** After a signal, this many consecutive hours below the gates re-arm the detector. */
export const REARM_HOURS = 24;
/** This many consecutive hours above the gates are a new level, not a spike: every slot is
 * re-based by their median ratio to the baseline. */
export const REBASE_HOURS = 6;

export interface CostSpikePolicy {
  /** The hour's COGS must be at least this multiple of the baseline. */
  min_ratio: number;
  /** …and at least this much above it, in currency units (COGS is costed in USD). */
  min_delta_usd: number;
  /** …and at least this many robust σ (1.4826 × MAD of the slot) above it. */
  k: number;
  /** Days of history before the detector speaks for a (customer, product). */
  min_history_days: number;
  /** Hours seen in the hour's slot (hour of day × weekday/weekend) before it speaks. */
  min_slot_observations: number;
}

export const DEFAULT_COST_SPIKE_POLICY: CostSpikePolicy = {
  min_ratio: 3,
  min_delta_usd: 5,
  k: 4,
  min_history_days: 7,
  min_slot_observations: 4,
};

export function validateCostSpikePolicy(c: Rec, path: string, issues: PolicyIssue[]) {
  num(c, path, "min_ratio", (x) => (x > 1 ? null : "must be greater than 1"), issues);
  num(c, path, "min_delta_usd", nonNegative, issues);
  num(c, path, "k", positive, issues);
  num(c, path, "min_history_days", positiveInt, issues);
  num(
    c,
    path,
    "min_slot_observations",
    (x) =>
      Number.isInteger(x) && x >= 1 && x <= COST_RING
        ? null
        : `must be a whole number from 1 to ${COST_RING}`,
    issues,
  );
}

export interface CostSpikeState {
  v: 1;
  /** Watermark: start of the last closed hour folded in; null before any. */
  last_hour: number | null;
  first_hour: number | null;
  /** Per slot (weekday hours 0-23, then weekend hours 24-47): the COGS of its last ≤ COST_RING
   * closed hours, oldest first. */
  slots: number[][];
  /** Consecutive closed hours below the gates since the last signal (capped at REARM_HOURS;
   * the detector speaks again at REARM_HOURS). */
  quiet: number;
  /** Ratios (COGS ÷ baseline) of the current run of consecutive hours above the gates. */
  run: number[];
}

export interface CostHour {
  customer: string;
  product: string;
  /** Start of the closed hour (floored to the hour). */
  hour: number;
  /** The hour's COGS for the product, in currency units (0 for a silent hour). */
  cost: number;
  source_event_ids?: string[];
}

export type CostSpikeDetails = {
  cost: number;
  baseline: number;
  /** cost / baseline; null when the baseline is 0. */
  ratio: number | null;
  delta: number;
  /** Robust z of the hour; null when the slot has no spread. */
  robust_z: number | null;
  slot_observations: number;
  hour_of_day: number;
  weekend: boolean;
};

export type CostSpikeSignal = Signal<CostSpikeDetails>;

export function newCostSpikeState(): CostSpikeState {
  return {
    v: 1,
    last_hour: null,
    first_hour: null,
    slots: Array.from({ length: SLOTS }, () => []),
    quiet: REARM_HOURS,
    run: [],
  };
}

/** The slot of an hour: hour of day, +24 on weekends. */
const slotOf = (hour: number) => (isWeekend(hour) ? 24 : 0) + hourOfDay(hour);

function median(xs: readonly number[]): number {
  const a = [...xs].sort((x, y) => x - y);
  const mid = a.length >> 1;
  return a.length % 2 ? (a[mid] as number) : ((a[mid - 1] as number) + (a[mid] as number)) / 2;
}

/** The baseline and robust spread of an hour's slot as the state stands, or null before the
 * slot has been seen. */
export function costBaseline(
  state: CostSpikeState,
  hour: number,
): { baseline: number; spread: number; n: number } | null {
  const ring = state.slots[slotOf(hour)] ?? [];
  if (ring.length === 0) return null;
  const baseline = median(ring);
  return {
    baseline,
    spread: MAD_TO_SIGMA * median(ring.map((x) => Math.abs(x - baseline))),
    n: ring.length,
  };
}

/**
 * Closes one hour of a (customer, product): judges its COGS against the slot's baseline, then
 * folds it in. Hours at or before the watermark are ignored; skipped hours are closed first with
 * COGS 0. Never mutates `state`.
 */
export function evaluateCostHour(
  state: CostSpikeState,
  input: CostHour,
  policy: CostSpikePolicy = DEFAULT_COST_SPIKE_POLICY,
): DetectorResult<CostSpikeState, CostSpikeDetails> {
  const hour = Math.floor(input.hour / HOUR_MS) * HOUR_MS;
  if (state.last_hour !== null && hour <= state.last_hour) return { state, signals: [] };
  const s: CostSpikeState = {
    ...state,
    // Copy on write: step() replaces the one ring it changes.
    slots: state.slots.slice(),
    run: state.run.slice(),
  };
  const signals: CostSpikeSignal[] = [];
  if (s.last_hour !== null) {
    let next = Math.max(s.last_hour + HOUR_MS, hour - MAX_GAP_HOURS * HOUR_MS);
    for (; next < hour; next += HOUR_MS) {
      const sig = step(s, { ...input, hour: next, cost: 0, source_event_ids: [] }, policy);
      if (sig) signals.push(sig);
    }
  }
  const sig = step(s, { ...input, hour }, policy);
  if (sig) signals.push(sig);
  return { state: s, signals };
}

function step(s: CostSpikeState, input: CostHour, policy: CostSpikePolicy): CostSpikeSignal | null {
  const { hour } = input;
  const cost = Number.isFinite(input.cost) && input.cost > 0 ? input.cost : 0;
  if (s.first_hour === null) s.first_hour = hour;
  const b = costBaseline(s, hour);
  let signal: CostSpikeSignal | null = null;
  const mature = hour - s.first_hour >= policy.min_history_days * DAY_MS;
  if (b && mature && b.n >= policy.min_slot_observations) {
    const delta = cost - b.baseline;
    const z = b.spread > 0 ? delta / b.spread : delta > 0 ? Number.POSITIVE_INFINITY : 0;
    const above =
      delta > 0 &&
      delta >= policy.min_delta_usd &&
      cost >= b.baseline * policy.min_ratio &&
      z >= policy.k;
    if (!above) {
      s.quiet = Math.min(s.quiet + 1, REARM_HOURS);
      s.run = [];
    } else if (b.baseline > 0) {
      s.run.push(cost / b.baseline);
    }
    if (above && s.quiet < REARM_HOURS) s.quiet = 0;
    else if (above) {
      s.quiet = 0;
      signal = {
        detector: DETECTOR,
        idempotency_key: idempotencyKey([DETECTOR, input.customer, input.product, isoHour(hour)]),
        customer: input.customer,
        product: input.product,
        window: { start: hour, end: hour + HOUR_MS },
        magnitude: round(delta, 6),
        direction: "spike",
        details: {
          cost: round(cost, 6),
          baseline: round(b.baseline, 6),
          ratio: b.baseline > 0 ? round(cost / b.baseline, 4) : null,
          delta: round(delta, 6),
          robust_z: Number.isFinite(z) ? round(z, 3) : null,
          slot_observations: b.n,
          hour_of_day: hourOfDay(hour),
          weekend: isWeekend(hour),
        },
        source_event_ids: capIds(input.source_event_ids),
      };
    }
  }
  const slot = slotOf(hour);
  const ring = [...(s.slots[slot] ?? []), cost];
  if (ring.length > COST_RING) ring.shift();
  s.slots[slot] = ring;
  if (s.run.length >= REBASE_HOURS) {
    // A new level (a bigger workload, a pricier model for good): every slot learns it now,
    // rather than one slot at a time over weeks of signals. The run's own hours (the newest
    // value of their slots) are at the new level already.
    const factor = median(s.run);
    const fresh = new Set(s.run.map((_, i) => slotOf(hour - i * HOUR_MS)));
    s.slots = s.slots.map((r, i) =>
      r.map((x, j) => (fresh.has(i) && j === r.length - 1 ? x : round(x * factor, 6))),
    );
    s.run = [];
  }
  s.last_hour = hour;
  return signal;
}

/** CostSpikeDetector in the registry: each closed hour per product (COGS summed over its
 * metrics). */
export const costSpikeSpec = defineDetector({
  name: DETECTOR,
  label: "COGS spike",
  summary:
    "A closed hour's COGS for one (customer, product) far above that customer's own baseline for the same hour of day.",
  key: "cost_spike",
  trigger: "closed_hour",
  policy: {
    defaults: DEFAULT_COST_SPIKE_POLICY,
    validate: validateCostSpikePolicy,
    optional: true,
    fields: [
      { key: "min_ratio", help: "the hour's COGS must be at least this multiple of the usual" },
      { key: "min_delta_usd", help: "…and at least this much above it (USD)" },
      { key: "k", help: "…and this many robust σ above it" },
      { key: "min_history_days", help: "days of history before the detector speaks" },
      { key: "min_slot_observations", help: "hours seen of the same hour of day first (1–10)" },
    ],
  },
  ladder: { kind: "rung", rungs: GATE_RUNGS, default: "ALERT" as Rung, labels: "COGS spike" },
  // Products are remembered in det:cost_products; each product's state in det:cost_spike:<product>.
  run: ({ customer, store, reader, policy, from, to, rows }) => {
    const products = new Map<string, Map<number, number>>();
    for (const p of store.get<string[]>("det:cost_products") ?? []) products.set(p, new Map());
    const known = products.size;
    for (const r of rows) {
      let hours = products.get(r.product);
      if (!hours) {
        hours = new Map();
        products.set(r.product, hours);
      }
      const cost = Number.isFinite(r.cost) ? r.cost : 0;
      hours.set(r.start, (hours.get(r.start) ?? 0) + cost);
    }
    if (products.size !== known) store.put("det:cost_products", [...products.keys()]);
    const signals: Signal[] = [];
    for (const [product, hours] of products) {
      let state = store.get<CostSpikeState>(`det:cost_spike:${product}`) ?? newCostSpikeState();
      const first = state.last_hour === null ? Math.min(...hours.keys(), to) : from;
      for (let hour = first; hour < to; hour += HOUR_MS) {
        const result = evaluateCostHour(
          state,
          { customer, product, hour, cost: hours.get(hour) ?? 0 },
          policy(product),
        );
        state = result.state;
        for (const signal of result.signals) {
          signals.push({
            ...signal,
            source_event_ids: reader.largestEvents(
              signal.window.start,
              signal.window.end,
              SOURCE_IDS,
              product,
            ),
          });
        }
      }
      store.put(`det:cost_spike:${product}`, state);
    }
    return signals;
  },
  describe: (s) => {
    const d = s.details;
    const cost = numberAt(d, "cost") ?? s.magnitude;
    const baseline = numberAt(d, "baseline");
    const ratio = numberAt(d, "ratio");
    let magnitude = `${fmt(cost)} COGS in the hour`;
    if (baseline !== null) magnitude += ` vs ${fmt(baseline)} usual`;
    magnitude += ratio !== null ? ` (×${fmt(ratio)})` : " (it usually costs nothing)";
    magnitude += `; ${fmt(s.magnitude)} above`;
    return {
      title: `COGS spike: ${s.customer}${s.product ? ` · ${s.product}` : ""}`,
      magnitude,
    };
  },
  display: {
    main: "{magnitude:money} above usual",
    sub: "×{details.ratio:decimal1} the usual COGS of this hour",
    sub_fallback: "this hour usually costs nothing",
  },
});
