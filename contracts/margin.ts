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
  trend: MarginTrendPoint[];
}

export interface ProductMargin extends MarginPnl {
  product: string;
  name: string | null;
  /** This row's contribution margin ÷ the total's. */
  contribution_share: number | null;
  customers: number;
  unprofitable_customers: number;
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
