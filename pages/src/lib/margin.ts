// COGS & margin rows for the dashboard: from GET /api/margin/products|customers when the server
// has them (usage revenue + recognised fees), else summed from GET /api/rollups (usage revenue
// only), saying which. Pure.

import type { RollupRow } from "../../../contracts/events";
import type { MarginPnl, MarginTrendPoint, MarginUncosted } from "../../../contracts/margin";
import { instant, num } from "./format";

/** A row (or the totals) of GET /api/margin/products|customers, as far as its P&L goes:
 * ProductMargin, CustomerMargin and MarginTotals all are one. Read defensively (any part may
 * be missing). */
export type PnlSource = Partial<MarginPnl> & {
  product?: string;
  customer?: string;
  name?: string | null;
  segments?: string[];
  known?: boolean;
  revenue_kind?: "paying" | "no_revenue";
  uncosted_events?: number;
  uncosted?: Partial<MarginUncosted>;
  unprofitable_paying?: number;
  unprofitable_no_revenue?: number;
};

/** The part of a P&L Aforo could not cost (its COGS leaves their cost out). */
export interface UncostedShare {
  events: number;
  /** Ratios (0.25 = a quarter); null without events / usage revenue. */
  eventsShare: number | null;
  revenue: number;
  revenueShare: number | null;
}

/** A day of revenue and COGS: a rollup row (start, cost) or a margin trend point (day, cogs). */
export type DaySource = Partial<Pick<RollupRow, "start" | "revenue" | "cost">> &
  Partial<MarginTrendPoint>;

export interface PnlRow {
  id: string;
  name: string | null;
  revenue: number;
  cost: number;
  /** Contribution margin: revenue − COGS. */
  margin: number;
  /** margin ÷ revenue; null without revenue. */
  marginPct: number | null;
  events: number | null;
  /** Costs more than it pays. */
  losing: boolean;
  segment: string | null;
  /** false: a customer seen only in events, not in the customer table. */
  known: boolean;
  /** No revenue in the window (a trial, a free plan, an unknown customer). */
  noRevenue: boolean;
  /** Per product and for the totals (the margin API only). */
  uncosted: UncostedShare | null;
  /** Per customer: its uncosted events. */
  uncostedEvents: number | null;
}

export interface DayPoint {
  day: number;
  revenue: number;
  cost: number;
}

export interface MarginModel {
  source: "margin-api" | "rollups";
  products: PnlRow[];
  customers: PnlRow[];
  /** All customers in the window (the list may hold only the first page of them). */
  customerCount: number;
  losingCount: number;
  /** Of the losing: with revenue, and with $0 revenue (null when the server does not say). */
  losingPaying: number | null;
  losingNoRevenue: number | null;
  /** The uncosted share of the whole window (the margin API only). */
  uncosted: UncostedShare | null;
  trend: DayPoint[];
  totals: { revenue: number; cost: number; margin: number; marginPct: number | null };
  builtAt: number | null;
}

export function pnl(
  id: string,
  revenue: number,
  cost: number,
  extra: Partial<PnlRow> = {},
): PnlRow {
  const margin = revenue - cost;
  return {
    id,
    name: null,
    revenue,
    cost,
    margin,
    marginPct: revenue > 0 ? margin / revenue : null,
    events: null,
    losing: cost > revenue,
    segment: null,
    known: true,
    noRevenue: revenue === 0,
    uncosted: null,
    uncostedEvents: null,
    ...extra,
  };
}

/** One row (or the totals) of GET /api/margin/products|customers. */
export function rowFromApi(r: PnlSource, idKey: "product" | "customer"): PnlRow {
  const revenue = num(r.revenue) ?? 0;
  const cost = num(r.cogs) ?? 0;
  const margin = num(r.contribution_margin) ?? revenue - cost;
  // margin_pct is a percentage (70.5); the dashboard keeps ratios.
  const pct = num(r.margin_pct);
  return {
    id: String(r[idKey] ?? ""),
    name: typeof r.name === "string" ? r.name : null,
    revenue,
    cost,
    margin,
    marginPct: pct !== null ? pct / 100 : null,
    events: num(r.events),
    losing:
      typeof r.costing_more_than_paying === "boolean" ? r.costing_more_than_paying : cost > revenue,
    segment: Array.isArray(r.segments) ? r.segments.join(", ") || null : null,
    known: r.known !== false,
    noRevenue: r.revenue_kind ? r.revenue_kind === "no_revenue" : revenue === 0,
    uncosted: uncostedFromApi(r.uncosted),
    uncostedEvents: num(r.uncosted_events),
  };
}

/** The API's uncosted block, or null when the server has none. */
export function uncostedFromApi(u: Partial<MarginUncosted> | undefined): UncostedShare | null {
  if (!u || typeof u !== "object") return null;
  return {
    events: num(u.events) ?? 0,
    eventsShare: num(u.events_share),
    revenue: num(u.usage_revenue) ?? 0,
    revenueShare: num(u.revenue_share),
  };
}

/** Sums rollup rows (`group_by=<key>`) per key. */
export function sumRollups(
  rows: readonly Partial<RollupRow>[],
  key: "product" | "customer",
): PnlRow[] {
  const acc = new Map<string, { revenue: number; cost: number; events: number }>();
  for (const r of rows) {
    const id = String(r[key] ?? "");
    const a = acc.get(id) ?? { revenue: 0, cost: 0, events: 0 };
    a.revenue += num(r.revenue) ?? 0;
    a.cost += num(r.cost) ?? 0;
    a.events += num(r.events) ?? 0;
    acc.set(id, a);
  }
  return [...acc].map(([id, a]) =>
    pnl(id, round2(a.revenue), round2(a.cost), { events: a.events }),
  );
}

/** Daily revenue and COGS from rollup rows (any grouping), oldest first. */
export function dailyTrend(rows: readonly DaySource[]): DayPoint[] {
  const acc = new Map<number, DayPoint>();
  for (const r of rows) {
    const day = instant(r.start ?? r.day);
    if (day === null) continue;
    const p = acc.get(day) ?? { day, revenue: 0, cost: 0 };
    p.revenue += num(r.revenue) ?? 0;
    p.cost += num(r.cogs ?? r.cost) ?? 0;
    acc.set(day, p);
  }
  return [...acc.values()]
    .map((p) => ({ ...p, revenue: round2(p.revenue), cost: round2(p.cost) }))
    .sort((a, b) => a.day - b.day);
}

export const round2 = (x: number) => Math.round(x * 100) / 100;

export function totalsOf(rows: PnlRow[]): MarginModel["totals"] {
  const revenue = round2(rows.reduce((s, r) => s + r.revenue, 0));
  const cost = round2(rows.reduce((s, r) => s + r.cost, 0));
  const margin = round2(revenue - cost);
  return { revenue, cost, margin, marginPct: revenue > 0 ? margin / revenue : null };
}

/** Customers ranked by contribution margin: worst first (losers on top) or best first. */
export function rankCustomers(rows: PnlRow[], rank: "worst" | "best"): PnlRow[] {
  const sign = rank === "worst" ? 1 : -1;
  return [...rows].sort((a, b) => sign * (a.margin - b.margin) || a.id.localeCompare(b.id));
}
