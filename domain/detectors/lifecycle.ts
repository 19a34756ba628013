// The customer's subscription windows, as the detectors see them: when the customer had a live
// subscription of a product. A customer whose usage stops because the subscription ended (a
// cancel, a trial that lapsed) has already churned — a KPI movement, not a risk an operator can
// act on — and usage falling after the end is expected, not an anomaly. So:
// - WeeklyChurnSignalDetector does not fire for a product without a live subscription through
//   the closing day, nor while a subscription of the product ended inside its 14-day comparison
//   window (the drop is explained);
// - BillableUnitAnomalyDetector raises no drop whose hours are past the end of the customer's
//   subscriptions of the product (spikes still: usage without a subscription is worth knowing).
// A product the customer never subscribed to (usage outside subscriptions: an unknown customer,
// a tenant that bills elsewhere) is judged as before.
//
// Live means active, trialing or past_due: every stored subscription until its end (a canceled
// one, a lapsed trial), so the windows are the subscriptions' service spans. Plan changes are
// phases of one subscription and a replacement starting where the old one ended continues the
// span: windows of one product that touch or overlap are merged.

import { DAY_MS } from "./time";

export interface SubscriptionWindow {
  product: string;
  /** Service start (epoch ms). */
  start: number;
  /** Service end (epoch ms, exclusive); null while open-ended. */
  end: number | null;
}

/** The phases a customer's terms hold (domain/rating.ts Phase), or any span of a subscription. */
export interface SubscriptionSpan {
  subscription_id: string;
  product_id: string;
  start: number;
  end: number | null;
}

const endOf = (w: { end: number | null }) => w.end ?? Number.POSITIVE_INFINITY;

/** Per product, the merged spans during which the customer had a live subscription, each
 * product's windows in start order. */
export function subscriptionWindows(spans: readonly SubscriptionSpan[]): SubscriptionWindow[] {
  const byProduct = new Map<string, { start: number; end: number }[]>();
  for (const s of spans) {
    if (s.end !== null && s.end <= s.start) continue;
    let list = byProduct.get(s.product_id);
    if (!list) {
      list = [];
      byProduct.set(s.product_id, list);
    }
    list.push({ start: s.start, end: endOf(s) });
  }
  const out: SubscriptionWindow[] = [];
  for (const product of [...byProduct.keys()].sort()) {
    const list = (byProduct.get(product) ?? []).sort((a, b) => a.start - b.start || a.end - b.end);
    let cur: { start: number; end: number } | null = null;
    for (const w of list) {
      if (cur && w.start <= cur.end) {
        cur.end = Math.max(cur.end, w.end);
        continue;
      }
      if (cur) out.push(windowOf(product, cur));
      cur = { ...w };
    }
    if (cur) out.push(windowOf(product, cur));
  }
  return out;
}

const windowOf = (product: string, w: { start: number; end: number }): SubscriptionWindow => ({
  product,
  start: w.start,
  end: Number.isFinite(w.end) ? w.end : null,
});

/** Whether the customer ever had a subscription of `product` (if not, lifecycle explains
 * nothing and the detectors judge the usage as before). */
export function hasSubscriptions(
  windows: readonly SubscriptionWindow[],
  product: string | undefined,
): boolean {
  return windows.some((w) => w.product === product);
}

/** Whether one live window of `product` covers all of [from, to). */
export function liveThrough(
  windows: readonly SubscriptionWindow[],
  product: string | undefined,
  from: number,
  to: number,
): boolean {
  return windows.some((w) => w.product === product && w.start <= from && endOf(w) >= to);
}

/** Whether a window of `product` ended in (from, to]. */
export function endedIn(
  windows: readonly SubscriptionWindow[],
  product: string | undefined,
  from: number,
  to: number,
): boolean {
  return windows.some(
    (w) => w.product === product && w.end !== null && w.end > from && w.end <= to,
  );
}

/** Whether a window of `product` ended before `t`. */
export function endedBefore(
  windows: readonly SubscriptionWindow[],
  product: string | undefined,
  t: number,
): boolean {
  return windows.some((w) => w.product === product && w.end !== null && w.end < t);
}

/** A churn comparison over [from, to) (the 14 days up to the closing day's end) is explained by
 * the subscription lifecycle: the customer subscribed to the product, and either no subscription
 * is live through the closing day [to − 1 day, to) or one ended inside the window. */
export function churnExplained(
  windows: readonly SubscriptionWindow[],
  product: string,
  from: number,
  to: number,
): boolean {
  if (!hasSubscriptions(windows, product)) return false;
  return !liveThrough(windows, product, to - DAY_MS, to) || endedIn(windows, product, from, to);
}

/** A drop over [from, to) is explained: the customer's subscriptions of the product ended
 * before `to` and none is live through the window. */
export function dropExplained(
  windows: readonly SubscriptionWindow[],
  product: string | undefined,
  from: number,
  to: number,
): boolean {
  if (!hasSubscriptions(windows, product)) return false;
  return !liveThrough(windows, product, from, to) && endedBefore(windows, product, to);
}
