// Active subscriptions and the subscription-health donut at any instant (docs/metrics.md).

import { type KpiIndex, statusOf } from "./history";
import { checkInstant, DAY_MS } from "./time";

/** The donut's slices are subscription statuses, the same sets the active-subscriptions tile
 * counts (active, past_due) and names apart (trialing, suspended); at-risk is an overlay. */
export type HealthSlice = "active" | "trialing" | "past_due" | "suspended" | "canceled";

export const HEALTH_SLICES: readonly HealthSlice[] = [
  "active",
  "trialing",
  "past_due",
  "suspended",
  "canceled",
];

/** Days a canceled subscription stays in the donut's canceled slice. */
export const RECENTLY_CANCELED_DAYS = 30;

export interface ActiveSubscriptions {
  at: number;
  /** active + past_due. */
  count: number;
  active: number;
  past_due: number;
  /** Counted apart (not in count). */
  trialing: number;
  suspended: number;
}

export function activeSubscriptionsAt(index: KpiIndex, t: number): ActiveSubscriptions {
  checkInstant("t", t);
  const out = { at: t, count: 0, active: 0, past_due: 0, trialing: 0, suspended: 0 };
  for (const sub of index.subscriptions) {
    const s = statusOf(sub, t);
    if (s === "active" || s === "past_due" || s === "trialing" || s === "suspended") out[s]++;
  }
  out.count = out.active + out.past_due;
  return out;
}

/** True when the customer has a signal open at t (opened ≤ t < resolved). */
export function hasOpenSignal(index: KpiIndex, customer: number, t: number): boolean {
  const c = index.customers[customer];
  return c?.signals.some((s) => s.opened <= t && t < s.resolved) ?? false;
}

export interface HealthBreakdown {
  at: number;
  /** Subscriptions per status; each subscription in exactly one. */
  slices: Record<HealthSlice, number>;
  /** Sum of the slices. */
  total: number;
  /** Live subscriptions (any slice but canceled) whose customer has an open signal at t, per
   * slice: an overlay on the slices, not a slice of its own. */
  at_risk: Record<Exclude<HealthSlice, "canceled">, number> & { total: number };
  /** Customers with an open signal at t (whatever their subscriptions' state). */
  at_risk_customers: number;
  canceled_window_days: number;
}

/** One slice per subscription, its status at t (canceled only when its service ended in the
 * last 30 days; older cancellations are left out). Not-yet-started subscriptions are left out.
 * Live subscriptions of customers with an open signal are counted again in `at_risk`. */
export function subscriptionHealthAt(index: KpiIndex, t: number): HealthBreakdown {
  checkInstant("t", t);
  const slices = Object.fromEntries(HEALTH_SLICES.map((s) => [s, 0])) as Record<
    HealthSlice,
    number
  >;
  const since = t - RECENTLY_CANCELED_DAYS * DAY_MS;
  const risky = { active: 0, trialing: 0, past_due: 0, suspended: 0, total: 0 };
  const risk = new Map<number, boolean>();
  const atRisk = (customer: number): boolean => {
    let r = risk.get(customer);
    if (r === undefined) {
      r = hasOpenSignal(index, customer, t);
      risk.set(customer, r);
    }
    return r;
  };
  for (const sub of index.subscriptions) {
    const s = statusOf(sub, t);
    if (s === null) continue;
    if (s === "canceled") {
      let lastEnd = Number.NEGATIVE_INFINITY;
      for (const e of sub.serviceEnds) if (e <= t) lastEnd = e;
      if (lastEnd > since) slices.canceled++;
      continue;
    }
    slices[s]++;
    if (atRisk(sub.customer)) {
      risky[s]++;
      risky.total++;
    }
  }
  let atRiskCustomers = 0;
  for (let c = 0; c < index.customers.length; c++)
    if (hasOpenSignal(index, c, t)) atRiskCustomers++;
  const total = HEALTH_SLICES.reduce((sum, s) => sum + slices[s], 0);
  return {
    at: t,
    slices,
    total,
    at_risk: risky,
    at_risk_customers: atRiskCustomers,
    canceled_window_days: RECENTLY_CANCELED_DAYS,
  };
}

export interface SubscriptionAtT {
  subscription_id: string;
  customer_id: string;
  status: "active" | "past_due" | "trialing" | "suspended";
  /** Whether the tile's count includes it (active and past_due; trialing, suspended apart). */
  counted: boolean;
}

/** The live subscriptions at t behind activeSubscriptionsAt: counted ones (active, past_due)
 * first, then trialing and suspended; by status, then id. */
export function liveSubscriptionsAt(index: KpiIndex, t: number): SubscriptionAtT[] {
  checkInstant("t", t);
  const order = { past_due: 0, active: 1, trialing: 2, suspended: 3 } as const;
  const rows: SubscriptionAtT[] = [];
  for (const sub of index.subscriptions) {
    const s = statusOf(sub, t);
    if (s === "active" || s === "past_due" || s === "trialing" || s === "suspended") {
      rows.push({
        subscription_id: sub.id,
        customer_id: sub.customerId,
        status: s,
        counted: s === "active" || s === "past_due",
      });
    }
  }
  return rows.sort(
    (a, b) => order[a.status] - order[b.status] || (a.subscription_id < b.subscription_id ? -1 : 1),
  );
}
