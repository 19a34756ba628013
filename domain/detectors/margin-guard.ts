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

import type { MarginPolicy } from "./policy";
import { DEFAULT_MARGIN_POLICY } from "./policy";
import { isoInstant } from "./time";
import { capIds, type DetectorResult, idempotencyKey, type Signal, type Window } from "./types";

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

const round = (x: number, digits: number): number => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};
