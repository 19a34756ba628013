// What the COGS & Margin routes serve (SPEC §8; docs/metrics.md §COGS and margin): GET
// /api/margin/products, /api/margin/customers and /api/margin/customers/:id. Money as decimal
// strings in the tenant's currency. Type-only: workers/contracts-check.ts holds the API to it.

/** The P&L of a product, a customer or a total over the window. */
export interface MarginPnl {
  /** usage_revenue + fee_revenue */
  revenue: string;
  /** Rated usage (the events' revenue). */
  usage_revenue: string;
  /** Flat platform fees, recognised day by day. */
  fee_revenue: string;
  /** The events' provider cost. */
  cogs: string;
  /** revenue − cogs */
  contribution_margin: string;
  /** contribution_margin ÷ revenue × 100 (a percentage, 70.5); null without revenue. */
  margin_pct: number | null;
  /** usage_revenue − cogs: does usage pay for itself? */
  usage_margin: string;
  events: number;
  /** cogs > revenue */
  costing_more_than_paying: boolean;
}

/** The events of a P&L that Aforo could not cost (flag `uncosted`): COGS leaves their cost out,
 * so the margin is overstated by it. */
export interface MarginUncosted {
  events: number;
  /** uncosted events ÷ events (0.25 = a quarter); null without events. */
  events_share: number | null;
  /** Their usage revenue. */
  usage_revenue: string;
  /** Their usage revenue ÷ usage revenue; null without usage revenue. */
  revenue_share: number | null;
}

export interface MarginTrendPoint {
  day: string;
  revenue: string;
  cogs: string;
  contribution_margin: string;
}

/** The trailing window the figures cover and when its read model was built. */
export interface MarginWindow {
  days: number;
  from: string;
  to: string;
  built_at: string;
}

export interface MarginTotals extends MarginPnl {
  customers: number;
  unprofitable_customers: number;
  /** Of those costing more than they pay: with revenue in the window… */
  unprofitable_paying: number;
  /** …and earning $0 (trials, free plans, customers only seen in events). */
  unprofitable_no_revenue: number;
  uncosted: MarginUncosted;
  trend: MarginTrendPoint[];
}

export interface ProductMargin extends MarginPnl {
  product: string;
  name: string | null;
  /** This row's contribution margin ÷ the total's. */
  contribution_share: number | null;
  customers: number;
  unprofitable_customers: number;
  unprofitable_paying: number;
  unprofitable_no_revenue: number;
  uncosted: MarginUncosted;
  trend: MarginTrendPoint[];
  /** Its customers, ranked (a URL of this API). */
  drilldown: string;
}

export interface CustomerMargin extends MarginPnl {
  customer: string;
  /** 1 = first in the chosen order. */
  rank: number;
  /** Plans (current, per product). */
  segments: string[];
  /** false: an unknown customer, seen only in events (not in the customer table). */
  known: boolean;
  /** no_revenue: $0 revenue in the window (a trial, a free plan, an unknown customer). */
  revenue_kind: "paying" | "no_revenue";
  /** Its events Aforo could not cost. */
  uncosted_events: number;
  /** The customer's events with price and cost (a URL of this API). */
  drilldown: string;
  /** The customer's own daily trend (a URL of this API). */
  trend: string;
}

/** GET /api/margin/products */
export interface ProductMarginList {
  window: MarginWindow;
  currency: string;
  totals: MarginTotals;
  data: ProductMargin[];
}

/** GET /api/margin/customers */
export interface CustomerMarginList {
  window: MarginWindow;
  currency: string;
  totals: MarginTotals;
  data: CustomerMargin[];
  next_cursor: string | null;
}

/** GET /api/margin/customers/:id: one customer's P&L per product and daily trend. */
export interface CustomerMarginDetail {
  customer: string;
  window: MarginWindow;
  totals: MarginPnl;
  products: (MarginPnl & { product: string })[];
  trend: MarginTrendPoint[];
  drilldown: string;
}
