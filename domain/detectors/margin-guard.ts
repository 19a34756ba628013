// MarginGuard (SPEC §5): the period-to-date margin (revenue − COGS) / revenue of a customer, or of
// a customer × product, falls below a policy level: L1 > L2 > L3 (default 30 %, 10 %, 0 %). Each
// level fires once per period; key (detector, customer, product or "*", period start, level).
//
// - Money arrives as numbers in currency units: detectors are not billing, and a margin ratio
//   does not need nano precision.
// - No judgement on trivial amounts: evaluated once period-to-date revenue reaches min_revenue
//   OR COGS reaches min_cogs (and, optionally, min_elapsed_fraction of the period has passed).
//   The first cents of a period decide nothing, but material spend is never excused by small
//   revenue.
// - Revenue 0 (or negative) with COGS ≥ min_cogs is the worst case — the customer costs money
//   and pays nothing (a trial, no subscription, everything inside a free allowance): margin is
//   −∞, below every level, so all levels not yet signalled fire (details.margin is null,
//   basis "no_revenue").
// - A margin below L2 is also below L1: every crossed level that has not fired yet fires in the
//   same call, each its own signal, so the ladder can map levels to rungs.
// - magnitude = the shortfall in currency against the level: COGS − revenue × (1 − level), the
//   money by which costs exceed what the level allows (finite for revenue 0; sorts by stakes).
// - Updates for an earlier period than the state's (late events) are ignored, so a period's
//   level never fires twice.
// - State: the period and how many levels fired (levels fire in order: L3 implies L2 implies L1),
//   ~50 bytes as JSON per (customer, product|"*").

import {
  asRecord,
  fraction,
  nonNegative,
  num,
  type PolicyIssue,
  positive,
  type Rec,
} from "./policy-check";
import { GATE_RUNGS, levelKey, type Rung } from "./rungs";
import { defineDetector } from "./spec";
import { isoInstant, nextMonthStart } from "./time";
import {
  capIds,
  type DetectorResult,
  idempotencyKey,
  round,
  type Signal,
  type Window,
} from "./types";
import { fmt, num as numberAt, str } from "./wording";

export interface MarginLevels {
  L1: number;
  L2: number;
  L3: number;
}

export interface MarginPolicy {
  /** Margin fractions, L1 > L2 > L3: margin below L1 fires L1, below L2 fires L2, … */
  levels: MarginLevels;
  /** No margin judgement before period-to-date revenue reaches this (currency units)… */
  min_revenue: number;
  /** …unless period-to-date COGS reaches this: then revenue 0 counts as margin −∞. */
  min_cogs: number;
  /** Optionally wait for this fraction of the period (0 = off). */
  min_elapsed_fraction: number;
}

export const DEFAULT_MARGIN_POLICY: MarginPolicy = {
  levels: { L1: 0.3, L2: 0.1, L3: 0 },
  min_revenue: 50,
  min_cogs: 10,
  min_elapsed_fraction: 0,
};

function validateMarginPolicy(m: Rec, path: string, issues: PolicyIssue[]) {
  const lv = asRecord(m.levels, `${path}.levels`, issues);
  if (lv) {
    const level = (x: number) => (x < 1 ? null : "must be a margin fraction below 1 (0.3 = 30 %)");
    const at = `${path}.levels`;
    const l1 = num(lv, at, "L1", level, issues);
    const l2 = num(lv, at, "L2", level, issues);
    const l3 = num(lv, at, "L3", level, issues);
    if (l1 !== undefined && l2 !== undefined && !(l2 < l1))
      issues.push({ path: `${at}.L2`, message: "must be below L1 (L1 > L2 > L3)" });
    if (l2 !== undefined && l3 !== undefined && !(l3 < l2))
      issues.push({ path: `${at}.L3`, message: "must be below L2 (L1 > L2 > L3)" });
  }
  num(m, path, "min_revenue", nonNegative, issues);
  num(m, path, "min_cogs", positive, issues);
  num(m, path, "min_elapsed_fraction", fraction, issues);
}

const DETECTOR = "MarginGuard";
export const MARGIN_LEVELS = ["L1", "L2", "L3"] as const;
export type MarginLevel = (typeof MARGIN_LEVELS)[number];

export interface MarginState {
  v: 1;
  /** Start of the period `fired` belongs to. */
  period_start: number | null;
  /** Levels fired in that period, in order: 0 none, 1 L1, 2 L1 and L2, 3 all. */
  fired: number;
}

export interface MarginInput {
  customer: string;
  /** The product, or undefined for the customer as a whole (keyed "*"). */
  product?: string;
  /** Event time of the update, epoch ms. */
  at: number;
  period: Window;
  /** Period-to-date revenue and COGS, in currency units. */
  revenue: number;
  cogs: number;
  source_event_ids?: string[];
}

export type MarginDetails = {
  level: MarginLevel;
  level_threshold: number;
  /** (revenue − COGS) / revenue; null when revenue ≤ 0 (margin −∞). */
  margin: number | null;
  margin_pct: number | null;
  revenue: number;
  cogs: number;
  shortfall: number;
  basis: "margin" | "no_revenue";
  evaluated_at: number;
};

export type MarginSignal = Signal<MarginDetails>;

export function newMarginState(): MarginState {
  return { v: 1, period_start: null, fired: 0 };
}

/** Margin as a fraction; -Infinity when revenue ≤ 0 and COGS > 0; null when both are 0. */
export function marginOf(revenue: number, cogs: number): number | null {
  if (revenue > 0) return (revenue - cogs) / revenue;
  return cogs > 0 ? Number.NEGATIVE_INFINITY : null;
}

/**
 * Checks the period-to-date margin after an update and returns the levels newly crossed this
 * period. Never mutates `state`.
 */
export function checkMargin(
  state: MarginState,
  input: MarginInput,
  policy: MarginPolicy = DEFAULT_MARGIN_POLICY,
): DetectorResult<MarginState, MarginDetails> {
  let s = state;
  // A late update for a period already left behind decides nothing (its levels may have fired).
  if (s.period_start !== null && input.period.start < s.period_start) return { state, signals: [] };
  if (s.period_start !== input.period.start) {
    s = { v: 1, period_start: input.period.start, fired: 0 };
  }
  const revenue = Number.isFinite(input.revenue) ? input.revenue : 0;
  const cogs = Number.isFinite(input.cogs) ? input.cogs : 0;
  const length = input.period.end - input.period.start;
  const elapsed = length > 0 ? (input.at - input.period.start) / length : 1;
  if (elapsed < policy.min_elapsed_fraction) return { state: s, signals: [] };
  if (revenue < policy.min_revenue && cogs < policy.min_cogs) return { state: s, signals: [] };
  const margin = marginOf(revenue, cogs);
  if (margin === null) return { state: s, signals: [] };

  const signals: MarginSignal[] = [];
  const scope = input.product ?? "*";
  for (let i = s.fired; i < MARGIN_LEVELS.length; i++) {
    const level = MARGIN_LEVELS[i] as MarginLevel;
    const threshold = policy.levels[level];
    if (!(margin < threshold)) break;
    s = { ...s, fired: i + 1 };
    const finite = Number.isFinite(margin);
    const shortfall = cogs - Math.max(revenue, 0) * (1 - threshold);
    signals.push({
      detector: DETECTOR,
      idempotency_key: idempotencyKey([
        DETECTOR,
        input.customer,
        scope,
        isoInstant(input.period.start),
        level,
      ]),
      customer: input.customer,
      ...(input.product !== undefined ? { product: input.product } : {}),
      window: { start: input.period.start, end: input.period.end },
      magnitude: round(shortfall, 6),
      details: {
        level,
        level_threshold: threshold,
        margin: finite ? round(margin, 6) : null,
        margin_pct: finite ? round(margin * 100, 2) : null,
        revenue,
        cogs,
        shortfall: round(shortfall, 6),
        basis: finite ? "margin" : "no_revenue",
        evaluated_at: input.at,
      },
      source_event_ids: capIds(input.source_event_ids),
    });
  }
  return { state: s, signals };
}

/** MarginGuard in the registry: after each batch, on each calendar month (UTC) the batch
 * touched, per product and for the customer as a whole. */
export const marginSpec = defineDetector({
  name: DETECTOR,
  label: "Margin guard",
  summary:
    "The period-to-date margin of a customer, or of a customer × product, falls below L1 > L2 > L3.",
  key: "margin",
  trigger: "batch",
  policy: {
    defaults: DEFAULT_MARGIN_POLICY,
    validate: validateMarginPolicy,
    fields: [
      { key: "levels.L1", help: "margin fraction (0.30 = 30 %)" },
      { key: "levels.L2", help: "margin fraction, below L1" },
      { key: "levels.L3", help: "margin fraction, below L2" },
      { key: "min_revenue", help: "no judgement below this period-to-date revenue" },
      { key: "min_cogs", help: "…unless COGS reaches this" },
      { key: "min_elapsed_fraction", help: "wait for this share of the period (0 = off)" },
    ],
  },
  ladder: {
    kind: "keys",
    rungs: GATE_RUNGS,
    default: { L1: "ALERT", L2: "THROTTLE", L3: "BLOCK" } as { L1: Rung; L2: Rung; L3: Rung },
    labels: { L1: "Margin below L1", L2: "Margin below L2", L3: "Margin below L3" },
    keyOf: levelKey,
  },
  // Period-to-date revenue is usage revenue plus the flat fees earned so far this month. State
  // per scope in det:margin:<product or *>.
  run: ({ customer, store, reader, policy, batch }) => {
    const signals: Signal[] = [];
    for (const [month, { at, ids }] of [...batch.months].sort((a, b) => a[0] - b[0])) {
      const end = nextMonthStart(month);
      const committed = reader.committed(month, at);
      const byProduct = new Map<string, { revenue: number; cost: number }>();
      for (const t of reader.totals(month, end)) {
        byProduct.set(t.product, {
          revenue: t.revenue + (committed.get(t.product) ?? 0),
          cost: t.cost,
        });
      }
      for (const [product, revenue] of committed) {
        if (!byProduct.has(product)) byProduct.set(product, { revenue, cost: 0 });
      }
      const all = { revenue: 0, cost: 0 };
      const scopes: { product?: string; revenue: number; cost: number }[] = [];
      for (const [product, t] of byProduct) {
        all.revenue += t.revenue;
        all.cost += t.cost;
        scopes.push({ product, revenue: t.revenue, cost: t.cost });
      }
      scopes.push({ revenue: all.revenue, cost: all.cost });
      for (const scope of scopes) {
        const key = `det:margin:${scope.product ?? "*"}`;
        const state = store.get<MarginState>(key) ?? newMarginState();
        const result = checkMargin(
          state,
          {
            customer,
            ...(scope.product !== undefined ? { product: scope.product } : {}),
            at,
            period: { start: month, end },
            revenue: scope.revenue,
            cogs: scope.cost,
            source_event_ids: ids,
          },
          policy(scope.product),
        );
        if (result.state !== state) store.put(key, result.state);
        signals.push(...result.signals);
      }
    }
    return signals;
  },
  describe: (s) => {
    const d = s.details;
    const level = str(d, "level") ?? "a margin level";
    const marginPct = numberAt(d, "margin_pct");
    const threshold = numberAt(d, "level_threshold");
    const shortfall = numberAt(d, "shortfall") ?? s.magnitude;
    const title = `Margin below ${level}: ${s.customer}${s.product ? ` · ${s.product}` : ""}`;
    let magnitude =
      marginPct === null
        ? `no revenue against ${fmt(numberAt(d, "cogs") ?? 0)} of COGS`
        : `margin ${fmt(marginPct)}%`;
    if (threshold !== null) magnitude += ` (${level} is ${fmt(threshold * 100)}%)`;
    magnitude += `; shortfall ${fmt(shortfall)}`;
    return { title, magnitude };
  },
  display: {
    main: "{magnitude:money} short",
    sub: "margin {details.margin_pct:decimal1}% · below {details.level}",
  },
});
