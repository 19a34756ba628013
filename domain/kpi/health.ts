// Active subscriptions and the subscription-health donut at any instant (docs/metrics.md).

import { type KpiIndex, statusOf } from "./history";
import { checkInstant, DAY_MS } from "./time";

export type HealthSlice = "active" | "trialing" | "past_due" | "at_risk" | "suspended" | "canceled";

export const HEALTH_SLICES: readonly HealthSlice[] = [
  "active",
  "trialing",
  "past_due",
  "at_risk",
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
  /** Subscriptions per slice; each subscription in exactly one. */
  slices: Record<HealthSlice, number>;
  /** Sum of the slices. */
  total: number;
  /** Customers with an open signal at t (whatever their subscriptions' state). */
  at_risk_customers: number;
  canceled_window_days: number;
}

/** One slice per subscription, first match wins: canceled (its service ended in the last 30
 * days; older cancellations are left out), suspended, past_due, at_risk (live, and its customer
 * has an open signal), trialing, active. Not-yet-started subscriptions are left out. */
export function subscriptionHealthAt(index: KpiIndex, t: number): HealthBreakdown {
  checkInstant("t", t);
  const slices = Object.fromEntries(HEALTH_SLICES.map((s) => [s, 0])) as Record<
    HealthSlice,
    number
  >;
  const since = t - RECENTLY_CANCELED_DAYS * DAY_MS;
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
    let slice: HealthSlice;
    if (s === "canceled") {
      let lastEnd = Number.NEGATIVE_INFINITY;
      for (const e of sub.serviceEnds) if (e <= t) lastEnd = e;
      if (!(lastEnd > since)) continue;
      slice = "canceled";
    } else if (s === "suspended" || s === "past_due") slice = s;
    else if (atRisk(sub.customer)) slice = "at_risk";
    else slice = s;
    slices[slice]++;
  }
  let atRiskCustomers = 0;
  for (let c = 0; c < index.customers.length; c++)
    if (hasOpenSignal(index, c, t)) atRiskCustomers++;
  const total = HEALTH_SLICES.reduce((sum, s) => sum + slices[s], 0);
  return {
    at: t,
    slices,
    total,
    at_risk_customers: atRiskCustomers,
    canceled_window_days: RECENTLY_CANCELED_DAYS,
  };
}
