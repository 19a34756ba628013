// WeeklyChurnSignalDetector (SPEC §5): usage over the last 7 days fell ≥ drop_pct (50 %) versus
// the 7 days before, evaluated at each UTC day close; one signal per (customer, product, ISO week).
//
// What "usage" is (decided here): the caller passes the day's UNITS PER METRIC of the product.
// Summing units across metrics would let the biggest-scale metric (tokens) drown the others
// (calls, sessions), and revenue is blind to customers inside an included quota or on a flat
// fee, who are exactly the ones who churn quietly. So the detector keeps a 14-day ring per metric
// and compares week over week per metric; the product's activity index is the mean of the
// per-metric ratios last-7 / previous-7 (each capped at 2, so one growing metric cannot hide the
// collapse of the others), over the metrics with at least min_prev_week_units (overridable per
// metric) in either week: near-zero usage is noise, not churn, and a metric that newly took the
// load counts at the cap (usage moving from `api_calls` to `batch_calls` is not churn). Fires
// when 1 − index ≥ drop_pct / 100. A gentle decline (−30 %) does not fire.
//
// - Needs min_history_days (≥ 14) closed days. Days missing between the watermark and the day
//   passed are closed with no usage first: a customer that stops entirely is caught.
// - Not for a product the customer's subscription lifecycle explains (domain/detectors/
//   lifecycle.ts): no live subscription through the closing day, or one ended inside the 14-day
//   window — a cancel or a lapsed trial is customer churn already, not a risk to act on. Such a
//   day neither fires nor disarms the episode.
// - Once per ISO week of the closing day, and once per episode: after firing it re-arms only when
//   the index has recovered above the threshold, so a customer who stops raises one signal, not
//   one per week while the comparison window slides over the stop.
// - Bounded state: at most MAX_METRICS rings of 14 numbers (metrics idle for 14 days are evicted
//   first); ~0.2 KB per metric as JSON.

import { churnExplained } from "./lifecycle";
import { asRecord, nonNegative, num, type PolicyIssue, pct, type Rec } from "./policy-check";
import { CHURN_RUNGS, type Rung } from "./rungs";
import { defineDetector } from "./spec";
import { DAY_MS, isoDay, isoWeek } from "./time";
import { capIds, type DetectorResult, idempotencyKey, round, type Signal } from "./types";
import { fmt, num as numberAt } from "./wording";

export interface ChurnPolicy {
  /** Fires when the last 7 days fell at least this many percent versus the 7 before. */
  drop_pct: number;
  /** Days of history (day closes) before it speaks. */
  min_history_days: number;
  /** A metric takes part only if its previous-7-day units reach this (near-zero usage is noise). */
  min_prev_week_units: number;
  /** Per-metric overrides of min_prev_week_units (tokens need a larger floor than calls). */
  min_prev_week_units_by_metric: Record<string, number>;
}

export const DEFAULT_CHURN_POLICY: ChurnPolicy = {
  drop_pct: 50,
  min_history_days: 14,
  min_prev_week_units: 100,
  min_prev_week_units_by_metric: {},
};

function validateChurnPolicy(c: Rec, path: string, issues: PolicyIssue[]) {
  num(c, path, "drop_pct", pct, issues);
  num(
    c,
    path,
    "min_history_days",
    (x) =>
      Number.isInteger(x) && x >= 14 && x <= 3650
        ? null
        : "must be a whole number of days ≥ 14 (two full weeks are compared)",
    issues,
  );
  num(c, path, "min_prev_week_units", nonNegative, issues);
  const by = asRecord(
    c.min_prev_week_units_by_metric,
    `${path}.min_prev_week_units_by_metric`,
    issues,
  );
  if (by) {
    for (const [metric, x] of Object.entries(by)) {
      if (typeof x !== "number" || !Number.isFinite(x) || x < 0) {
        issues.push({
          path: `${path}.min_prev_week_units_by_metric.${metric}`,
          message: "must be a finite number ≥ 0",
        });
      }
    }
  }
}

const DETECTOR = "WeeklyChurnSignalDetector";
const RING = 14;
export const MAX_METRICS = 16;
const RATIO_CAP = 2;

export interface ChurnState {
  v: 1;
  /** Watermark: UTC midnight of the last closed day; null before any. */
  last_day: number | null;
  /** Days closed so far (capped). */
  days_seen: number;
  /** Per metric (sorted by name): units of the last 14 closed days, oldest first. An array, not
   * a map, so a metric called "__proto__" is just a name. */
  metrics: MetricRing[];
  /** ISO week of the last signal, e.g. "2026-W48". */
  fired_week: string | null;
  /** False after a signal until the index recovers above the threshold. */
  armed: boolean;
}

export interface MetricRing {
  metric: string;
  days: number[];
}

export interface ClosedDay {
  customer: string;
  product: string;
  /** Any instant of the closed UTC day (floored to midnight). */
  day: number;
  /** The day's units per metric of the product; a missing metric had none. */
  units: Record<string, number>;
  /** Ids of representative events of the window (e.g. the last events before the drop). */
  source_event_ids?: string[];
  /** The drop is explained by the subscription lifecycle (no live subscription through the day,
   * or one ended inside the comparison window; domain/detectors/lifecycle.ts): no signal, and
   * the episode stays armed, so a drop judged once no end explains it still fires. */
  explained?: boolean;
}

export type ChurnDetails = Record<string, number | string | null> & {
  drop_pct: number;
  activity_index: number;
  threshold_pct: number;
  metrics: string;
  iso_week: string;
};

export type ChurnSignal = Signal<ChurnDetails>;

export function newChurnState(): ChurnState {
  return { v: 1, last_day: null, days_seen: 0, metrics: [], fired_week: null, armed: true };
}

/**
 * Closes one UTC day for a (customer, product). Days at or before the watermark are ignored;
 * skipped days are closed first with no usage. Never mutates `state`.
 */
export function evaluateDay(
  state: ChurnState,
  input: ClosedDay,
  policy: ChurnPolicy = DEFAULT_CHURN_POLICY,
): DetectorResult<ChurnState, ChurnDetails> {
  const day = Math.floor(input.day / DAY_MS) * DAY_MS;
  if (state.last_day !== null && day <= state.last_day) return { state, signals: [] };
  const s: ChurnState = {
    ...state,
    metrics: state.metrics.map((r) => ({ metric: r.metric, days: r.days.slice() })),
  };
  const signals: ChurnSignal[] = [];
  if (s.last_day !== null) {
    // Beyond RING + 1 silent days the rings are all zeros: only the last ones matter.
    let next = Math.max(s.last_day + DAY_MS, day - (RING + 1) * DAY_MS);
    for (; next < day; next += DAY_MS) {
      const sig = step(
        s,
        { ...input, day: next, units: {}, source_event_ids: [], explained: input.explained },
        policy,
      );
      if (sig) signals.push(sig);
    }
  }
  const sig = step(s, { ...input, day }, policy);
  if (sig) signals.push(sig);
  return { state: s, signals };
}

/** Week-over-week comparison as it stands in `state` (for dashboards); null if not enough
 * history or no metric with material previous-week usage. */
export function activityIndex(
  state: ChurnState,
  policy: ChurnPolicy = DEFAULT_CHURN_POLICY,
): { index: number; metrics: string[] } | null {
  if (state.days_seen < policy.min_history_days) return null;
  let sum = 0;
  const used: string[] = [];
  for (const { metric, days } of state.metrics) {
    const prev = sumRange(days, 0, 7);
    const last = sumRange(days, 7, 14);
    const floor = floorFor(policy, metric);
    // A metric counts when either week is material; a new one counts at the cap, so usage that
    // moved from one metric to another is not mistaken for churn.
    if (Math.max(prev, last) <= 0 || Math.max(prev, last) < floor) continue;
    sum += prev > 0 ? Math.min(last / prev, RATIO_CAP) : RATIO_CAP;
    used.push(metric);
  }
  return used.length === 0 ? null : { index: sum / used.length, metrics: used };
}

function step(s: ChurnState, input: ClosedDay, policy: ChurnPolicy): ChurnSignal | null {
  push(s, input.units);
  s.days_seen = Math.min(s.days_seen + 1, 100_000);
  s.last_day = input.day;
  const a = activityIndex(s, policy);
  if (!a) return null;
  const threshold = 1 - policy.drop_pct / 100;
  if (a.index > threshold) {
    s.armed = true;
    return null;
  }
  if (input.explained) return null;
  const week = isoWeek(input.day);
  if (!s.armed || s.fired_week === week) return null;
  s.armed = false;
  s.fired_week = week;
  const dropPct = round((1 - a.index) * 100, 2);
  const details: ChurnDetails = {
    drop_pct: dropPct,
    activity_index: round(a.index, 4),
    threshold_pct: policy.drop_pct,
    metrics: a.metrics.join(","),
    iso_week: week,
    day: isoDay(input.day),
  };
  for (const { metric, days } of s.metrics) {
    if (!a.metrics.includes(metric)) continue;
    details[`prev_7:${metric}`] = sumRange(days, 0, 7);
    details[`last_7:${metric}`] = sumRange(days, 7, 14);
  }
  return {
    detector: DETECTOR,
    idempotency_key: idempotencyKey([DETECTOR, input.customer, input.product, week]),
    customer: input.customer,
    product: input.product,
    window: { start: input.day - (RING - 1) * DAY_MS, end: input.day + DAY_MS },
    magnitude: dropPct,
    direction: "drop",
    details,
    source_event_ids: capIds(input.source_event_ids),
  };
}

/** Shifts every ring by one day and appends the day's units (new metrics start at zeros). */
function push(s: ChurnState, units: Record<string, number>) {
  const today = new Map<string, number>();
  for (const [m, raw] of Object.entries(units)) {
    if (Number.isFinite(raw) && raw > 0) today.set(m, raw);
  }
  for (const m of [...today.keys()].sort()) {
    if (s.metrics.some((r) => r.metric === m)) continue;
    if (s.metrics.length >= MAX_METRICS && !evictIdle(s)) continue;
    s.metrics.push({ metric: m, days: new Array<number>(RING).fill(0) });
    s.metrics.sort((a, b) => (a.metric < b.metric ? -1 : a.metric > b.metric ? 1 : 0));
  }
  for (const r of s.metrics) {
    r.days.shift();
    r.days.push(today.get(r.metric) ?? 0);
  }
}

/** Drops the first metric (in name order) idle for the whole ring; false if none. */
function evictIdle(s: ChurnState): boolean {
  const i = s.metrics.findIndex((r) => sumRange(r.days, 0, RING) === 0);
  if (i < 0) return false;
  s.metrics.splice(i, 1);
  return true;
}

function floorFor(policy: ChurnPolicy, metric: string): number {
  const by = policy.min_prev_week_units_by_metric;
  const x = Object.hasOwn(by, metric) ? by[metric] : undefined;
  return typeof x === "number" ? x : policy.min_prev_week_units;
}

function sumRange(a: number[], from: number, to: number): number {
  let s = 0;
  for (let i = from; i < to; i++) s += a[i] ?? 0;
  return s;
}

const SOURCE_IDS = 5;

/** WeeklyChurnSignalDetector in the registry: each closed UTC day per product. */
export const churnSpec = defineDetector({
  name: DETECTOR,
  label: "Weekly churn",
  summary:
    "A product's usage over the last 7 days fell by drop_pct or more against the 7 days before.",
  key: "churn",
  trigger: "closed_day",
  policy: {
    defaults: DEFAULT_CHURN_POLICY,
    validate: validateChurnPolicy,
    fields: [
      { key: "drop_pct", help: "fires when the last 7 days fell this % vs the 7 before" },
      { key: "min_history_days", help: "days of history first (≥ 14)" },
      { key: "min_prev_week_units", help: "ignore metrics with less usage in the previous week" },
    ],
  },
  ladder: {
    kind: "rung",
    rungs: CHURN_RUNGS,
    default: "escalate" as Rung,
    labels: "Weekly churn",
  },
  // Products are remembered in det:products; each product's state in det:churn:<product>.
  run: ({ customer, store, reader, policy, from, to, rows, subscriptions = [] }) => {
    const products = new Map<string, Map<number, Record<string, number>>>();
    for (const p of store.get<string[]>("det:products") ?? []) products.set(p, new Map());
    const before = products.size;
    for (const r of rows) {
      let days = products.get(r.product);
      if (!days) {
        days = new Map();
        products.set(r.product, days);
      }
      const units = days.get(r.start) ?? {};
      units[r.metric] = (units[r.metric] ?? 0) + r.units;
      days.set(r.start, units);
    }
    if (products.size !== before) store.put("det:products", [...products.keys()]);
    const signals: Signal[] = [];
    for (const [product, days] of products) {
      let state = store.get<ChurnState>(`det:churn:${product}`) ?? newChurnState();
      const first = state.last_day === null ? Math.min(...[...days.keys()], to) : from;
      for (let day = first; day < to; day += DAY_MS) {
        // The comparison window: the 14 days up to the end of the closing day.
        const end = day + DAY_MS;
        const explained = churnExplained(subscriptions, product, end - RING * DAY_MS, end);
        const result = evaluateDay(
          state,
          {
            customer,
            product,
            day,
            units: days.get(day) ?? {},
            ...(explained ? { explained } : {}),
          },
          policy(product),
        );
        state = result.state;
        for (const signal of result.signals) {
          signals.push({
            ...signal,
            // The last events before the drop: what the customer was doing when it faded.
            source_event_ids: reader.largestEvents(
              day - 7 * DAY_MS,
              day + DAY_MS,
              SOURCE_IDS,
              product,
            ),
          });
        }
      }
      store.put(`det:churn:${product}`, state);
    }
    return signals;
  },
  describe: (s) => {
    const drop = numberAt(s.details, "drop_pct") ?? s.magnitude;
    return {
      title: `Churn risk: ${s.customer} usage down ${fmt(drop)}% week over week`,
      magnitude: `−${fmt(drop)}% (last 7 days vs the 7 before)`,
    };
  },
  display: { main: "{magnitude:decimal0}% drop", sub: "last 7 days vs the 7 before" },
});
