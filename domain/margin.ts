import type { BillingInterval } from "./billing-period";
import { dailyFees, type SubscriptionTerms } from "./subscription-phases";
import { DAY_MS } from "./time";

// COGS & margin maths (SPEC §8; definitions in docs/metrics.md §COGS and margin). Money is exact
// bigint nanos; the read models (store/margin.ts) hold the sums, this module turns sums into a
// P&L, ranks them, fills daily trends and recognises flat fees per window and per day.

/** The trailing windows the read models keep (UTC days, today included). */
export const WINDOWS = [30, 60, 90] as const;
export type WindowDays = (typeof WINDOWS)[number];

export const dayStart = (t: number) => Math.floor(t / DAY_MS) * DAY_MS;

/** Sums of one scope (a customer, a product, a day, …). */
export interface PnlSums {
  /** Rated usage: the events' revenue. */
  usage: bigint;
  /** Flat platform fees recognised day by day. */
  fees: bigint;
  /** COGS: the events' provider cost. */
  cost: bigint;
  events: number;
}

export const zeroSums = (): PnlSums => ({ usage: 0n, fees: 0n, cost: 0n, events: 0 });

/** Adds `s` into `into` (in place) and returns it. */
export function addSums(into: PnlSums, s: Partial<PnlSums>): PnlSums {
  into.usage += s.usage ?? 0n;
  into.fees += s.fees ?? 0n;
  into.cost += s.cost ?? 0n;
  into.events += s.events ?? 0;
  return into;
}

export const revenueOf = (s: PnlSums) => s.usage + s.fees;
/** Contribution margin = revenue − COGS. */
export const contributionMargin = (s: PnlSums) => s.usage + s.fees - s.cost;

/** Margin % = contribution margin ÷ revenue × 100, to 2 decimals; null without revenue. */
export function marginPct(s: PnlSums): number | null {
  const revenue = revenueOf(s);
  if (revenue === 0n) return null;
  return Math.round((Number(revenue - s.cost) / Number(revenue)) * 10_000) / 100;
}

/** A row's share of the total contribution margin, to 4 decimals; null when the total is 0. */
export const contributionShare = (part: bigint, whole: bigint) =>
  whole === 0n ? null : Math.round((Number(part) / Number(whole)) * 10_000) / 10_000;

export interface Pnl {
  revenue: bigint;
  usage_revenue: bigint;
  fee_revenue: bigint;
  cogs: bigint;
  contribution_margin: bigint;
  margin_pct: number | null;
  /** usage revenue − COGS: does usage pay for itself? */
  usage_margin: bigint;
  events: number;
  /** COGS > revenue: the customer (or product) costs more than it pays. */
  costing_more_than_paying: boolean;
}

export function pnlOf(s: PnlSums): Pnl {
  const revenue = revenueOf(s);
  return {
    revenue,
    usage_revenue: s.usage,
    fee_revenue: s.fees,
    cogs: s.cost,
    contribution_margin: revenue - s.cost,
    margin_pct: marginPct(s),
    usage_margin: s.usage - s.cost,
    events: s.events,
    costing_more_than_paying: s.cost > revenue,
  };
}

export const MARGIN_SORTS = [
  "contribution_margin",
  "margin_pct",
  "revenue",
  "cogs",
  "usage_margin",
] as const;
export type MarginSort = (typeof MARGIN_SORTS)[number];
export type SortOrder = "asc" | "desc";

/** The number a ranking sorts on; a row without revenue has no margin % and ranks last. */
export function sortKey(sort: MarginSort, s: PnlSums): number {
  const revenue = revenueOf(s);
  switch (sort) {
    case "revenue":
      return Number(revenue);
    case "cogs":
      return Number(s.cost);
    case "usage_margin":
      return Number(s.usage - s.cost);
    case "margin_pct":
      return revenue === 0n ? Number.NEGATIVE_INFINITY : Number(revenue - s.cost) / Number(revenue);
    default:
      return Number(revenue - s.cost);
  }
}

/** Ranks rows by `sort` in `order`, ties by id ascending (a new array). */
export function rankBy<T>(
  rows: readonly T[],
  sort: MarginSort,
  order: SortOrder,
  sums: (row: T) => PnlSums,
  id: (row: T) => string,
): T[] {
  const keyed = rows.map((row) => ({ row, key: sortKey(sort, sums(row)), id: id(row) }));
  keyed.sort((x, y) => {
    const c = x.key === y.key ? 0 : (x.key < y.key ? -1 : 1) * (order === "asc" ? 1 : -1);
    return c || (x.id < y.id ? -1 : 1);
  });
  return keyed.map((k) => k.row);
}

/** The first and last UTC day of a window of `days` ending on the day of `at`. */
export function windowDays(days: number, at: number): { from: number; today: number } {
  const today = dayStart(at);
  return { from: today - (days - 1) * DAY_MS, today };
}

export interface TrendPoint {
  day: number;
  revenue: bigint;
  cogs: bigint;
  contribution_margin: bigint;
}

/** One point per UTC day of the window ending `today`, oldest first (days without data are 0). */
export function dailyTrend(
  points: ReadonlyMap<number, PnlSums> | undefined,
  today: number,
  days: number,
): TrendPoint[] {
  const out: TrendPoint[] = [];
  for (let d = today - (days - 1) * DAY_MS; d <= today; d += DAY_MS) {
    const s = points?.get(d);
    const revenue = s ? s.usage + s.fees : 0n;
    const cogs = s?.cost ?? 0n;
    out.push({ day: d, revenue, cogs, contribution_margin: revenue - cogs });
  }
  return out;
}

/** Groups (day, key) sums by key, so each key's trend can be filled. */
export function trendsByKey(
  rows: Iterable<{ day: number; key: string; sums: PnlSums }>,
): Map<string, Map<number, PnlSums>> {
  const out = new Map<string, Map<number, PnlSums>>();
  for (const r of rows) {
    let m = out.get(r.key);
    if (!m) {
      m = new Map();
      out.set(r.key, m);
    }
    m.set(r.day, r.sums);
  }
  return out;
}

/** One customer's P&L over a window: per day, per product and in total. */
export interface CustomerPnl {
  byDay: Map<number, PnlSums>;
  byProduct: Map<string, PnlSums>;
  total: PnlSums;
}

/** Sums a customer's daily usage per (day, product) and its recognised fees per (day, product). */
export function customerPnl(
  usage: Iterable<{ day: number; product: string; sums: PnlSums }>,
  fees: Iterable<{ day: number; product: string; fee: bigint }>,
): CustomerPnl {
  const byDay = new Map<number, PnlSums>();
  const byProduct = new Map<string, PnlSums>();
  const add = <K>(m: Map<K, PnlSums>, k: K, s: Partial<PnlSums>) => {
    let cur = m.get(k);
    if (!cur) {
      cur = zeroSums();
      m.set(k, cur);
    }
    addSums(cur, s);
  };
  for (const u of usage) {
    add(byDay, u.day, u.sums);
    add(byProduct, u.product, u.sums);
  }
  for (const f of fees) {
    add(byDay, f.day, { fees: f.fee });
    add(byProduct, f.product, { fees: f.fee });
  }
  const total = zeroSums();
  for (const s of byProduct.values()) addSums(total, s);
  return { byDay, byProduct, total };
}

export type FlatTermsOf = (
  planId: string,
) => { interval: BillingInterval; flat: bigint } | undefined;

export interface SubscriptionFees extends SubscriptionTerms {
  customer_id: string;
}

/** Each subscription's flat fees recognised per UTC day in [from, until), with its product. */
export function* feeDays(
  subs: Iterable<SubscriptionFees>,
  planOf: FlatTermsOf,
  from: number,
  until: number,
): Generator<{ customer: string; product: string; day: number; fee: bigint }> {
  for (const sub of subs) {
    for (const [day, fee] of dailyFees(sub, planOf, from, until)) {
      yield { customer: sub.customer_id, product: sub.product_id, day, fee };
    }
  }
}

/** Recognised fees as the read models store them. */
export interface RecognisedFees {
  /** Per window × customer × product (non-zero only), with the customer's segment. */
  windows: {
    window: WindowDays;
    customer: string;
    product: string;
    segment: string | null;
    fee: bigint;
  }[];
  /** Per day × product × segment ('' = no segment). */
  days: { day: number; product: string; segment: string; fee: bigint }[];
}

/**
 * Recognised flat fees of the last 90 days (to `until`), summed per trailing window (a day counts
 * in a window of w days when it is after today − w days) and per day × product × segment.
 * `segmentOf(customer, product)` is the plan of the customer's latest subscription to it.
 */
export function recognisedFees(
  subs: Iterable<SubscriptionFees>,
  planOf: FlatTermsOf,
  segmentOf: (customer: string, product: string) => string | undefined,
  now: number,
): RecognisedFees {
  const today = dayStart(now);
  const from = today - (90 - 1) * DAY_MS;
  const until = Math.min(now, today + DAY_MS);
  const windowFees = new Map<string, { customer: string; product: string; sums: bigint[] }>();
  const dayFees = new Map<string, { day: number; product: string; segment: string; fee: bigint }>();
  for (const sub of subs) {
    const fees = dailyFees(sub, planOf, from, until);
    if (fees.size === 0) continue;
    const key = `${sub.customer_id}\u0000${sub.product_id}`;
    const seg = segmentOf(sub.customer_id, sub.product_id) ?? "";
    let entry = windowFees.get(key);
    if (!entry) {
      entry = { customer: sub.customer_id, product: sub.product_id, sums: WINDOWS.map(() => 0n) };
      windowFees.set(key, entry);
    }
    const sums = entry.sums;
    for (const [day, amount] of fees) {
      WINDOWS.forEach((w, i) => {
        if (day > today - w * DAY_MS) sums[i] = (sums[i] ?? 0n) + amount;
      });
      const dk = `${day}\u0000${sub.product_id}\u0000${seg}`;
      const cur = dayFees.get(dk);
      if (cur) cur.fee += amount;
      else dayFees.set(dk, { day, product: sub.product_id, segment: seg, fee: amount });
    }
  }
  const windows: RecognisedFees["windows"] = [];
  for (const { customer, product, sums } of windowFees.values()) {
    WINDOWS.forEach((window, i) => {
      const fee = sums[i] ?? 0n;
      if (fee !== 0n) {
        windows.push({
          window,
          customer,
          product,
          segment: segmentOf(customer, product) ?? null,
          fee,
        });
      }
    });
  }
  return { windows, days: [...dayFees.values()] };
}
