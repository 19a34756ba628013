// Rating one usage event: which subscription phase it falls in, its marginal revenue under that
// plan given the period's usage so far, and its cost. Pure: the customer actor supplies the
// terms (phases, compiled plans, cost index) and the period-to-date ledger.
//
// Rules:
// - The phase whose product matches and whose [start, end) holds the event time applies. None:
//   revenue 0, flagged `no_subscription` (or `unknown_customer` when the catalog does not know
//   the customer at all). The event is still stored, costed and counted in usage rollups.
// - Cost: the event's own cost block (usd, or provider + model priced by the catalog). An event
//   with no cost at all is `uncosted` (flagged, cost 0, reason) unless its metric is declared
//   `carries_cost: false`; then its cost status is `none`: no cost applies.
// - Usage before a trial's end is free and does not count toward the period's tiers (flag
//   `trial`); paid usage in a period starts at the trial end.
// - Revenue is marginal: charge(usage before + this event) − charge(usage before), so the events
//   of a period sum exactly to its usage charge, whatever order they arrive in.

import { periodContaining } from "./billing-period";
import { type CostIndex, type CostResult, costEvent } from "./costing";
import { toMicros } from "./money";
import { type CompiledPlan, marginalRevenue } from "./pricing";
import type { EventFlag, UsageEvent } from "./usage-event";

export interface Phase {
  subscription_id: string;
  plan_id: string;
  product_id: string;
  start: number;
  end: number | null;
  trial_end: number | null;
  /** Billing periods are counted from here. */
  anchor: number;
}

export interface CustomerTerms {
  /** Whether the tenant's catalog has this customer. */
  known: boolean;
  phases: Phase[];
  plans: ReadonlyMap<string, CompiledPlan>;
  costs: CostIndex;
  /** `product\u0000metric` of the metrics declared `carries_cost: false` (seats, a call whose
   * tokens travel in another event): their events need no cost. Every other metric's event
   * without a cost is `uncosted` — Aforo does not know what it cost, so it does not say $0. */
  costless?: ReadonlySet<string>;
}

/** The reason an event without any cost information is uncosted. */
export const NO_COST_GIVEN =
  "no cost given: send cost.usd, or cost.provider and cost.model priced by the cost catalog (or declare the metric carries_cost: false)";

/** Costs one event: its own cost block or the catalog; none at all is `uncosted` unless its
 * metric carries no cost. */
export function costOf(terms: CustomerTerms, event: UsageEvent): CostResult {
  const cost = costEvent(terms.costs, event.cost, event.time);
  if (cost.status !== "none") return cost;
  if (terms.costless?.has(`${event.product}\u0000${event.metric}`)) return cost;
  return { status: "uncosted", nanos: 0n, reason: NO_COST_GIVEN };
}

/** Period-to-date usage per (subscription, period start): metric → micros. */
export interface UsageLedger {
  usage(subscriptionId: string, periodStart: number): Map<string, bigint>;
}

export interface Rating {
  quantity: bigint;
  revenue: bigint;
  cost: CostResult;
  subscription_id: string | null;
  period_start: number | null;
  flags: EventFlag[];
}

export function findPhase(terms: CustomerTerms, product: string, time: number): Phase | undefined {
  for (const phase of terms.phases) {
    if (
      phase.product_id === product &&
      phase.start <= time &&
      (phase.end === null || time < phase.end)
    ) {
      return phase;
    }
  }
  return undefined;
}

export function rateEvent(terms: CustomerTerms, ledger: UsageLedger, event: UsageEvent): Rating {
  const quantity = toMicros(event.quantity);
  const cost = costOf(terms, event);
  const flags: EventFlag[] = cost.status === "uncosted" ? ["uncosted"] : [];
  const phase = findPhase(terms, event.product, event.time);
  const plan = phase ? terms.plans.get(phase.plan_id) : undefined;
  if (!phase || !plan) {
    flags.push(terms.known ? "no_subscription" : "unknown_customer");
    return { quantity, revenue: 0n, cost, subscription_id: null, period_start: null, flags };
  }
  const { start } = periodContaining(phase.anchor, plan.interval, event.time);
  if (phase.trial_end !== null && event.time < phase.trial_end) {
    flags.push("trial");
    return {
      quantity,
      revenue: 0n,
      cost,
      subscription_id: phase.subscription_id,
      period_start: start,
      flags,
    };
  }
  const usage = ledger.usage(phase.subscription_id, start);
  const revenue = marginalRevenue(plan, usage, event.metric, quantity);
  usage.set(event.metric, (usage.get(event.metric) ?? 0n) + quantity);
  return {
    quantity,
    revenue,
    cost,
    subscription_id: phase.subscription_id,
    period_start: start,
    flags,
  };
}

/**
 * Committed recurring revenue (the plans' flat fees) earned in [from, to), per product, in
 * currency units: each billing period's fee spread evenly over its time, trials excluded. Usage
 * revenue is per event; this is the part of revenue that accrues with time (MarginGuard adds it
 * so a customer on a platform fee is not judged on usage revenue alone).
 */
export function committedRevenue(
  terms: CustomerTerms,
  from: number,
  to: number,
): Map<string, number> {
  const out = new Map<string, number>();
  for (const phase of terms.phases) {
    const plan = terms.plans.get(phase.plan_id);
    if (!plan?.flat || plan.flat.amount <= 0n) continue;
    const start = Math.max(from, phase.start, phase.trial_end ?? Number.NEGATIVE_INFINITY);
    const end = Math.min(to, phase.end ?? Number.POSITIVE_INFINITY);
    let earned = 0;
    for (let t = start; t < end; ) {
      const period = periodContaining(phase.anchor, plan.interval, t);
      const until = Math.min(end, period.end);
      earned += (Number(plan.flat.amount) / 1e9) * ((until - t) / (period.end - period.start));
      t = until;
    }
    if (earned > 0) out.set(phase.product_id, (out.get(phase.product_id) ?? 0) + earned);
  }
  return out;
}
