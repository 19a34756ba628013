// What the Revenue Cockpit and MRR routes serve (SPEC §8; docs/metrics.md): GET
// /api/metrics/cockpit, /api/metrics/mrr, /api/metrics/snapshots. The engine's figures
// (domain/kpi) as JSON: money as decimal strings, instants as ISO strings, counts and ratios as
// numbers (0.95 = 95 %). Type-only: workers/contracts-check.ts holds the API and the engine to it.

/** The instant a delta compares against. */
export interface Comparison {
  /** t − days */
  previous_at: string;
  days: number;
  /** e.g. "vs 30 days earlier" */
  label: string;
}

export interface MoneyDelta extends Comparison {
  current: string | null;
  previous: string | null;
  /** current − previous; null when either is null. */
  change: string | null;
  /** change ÷ |previous|; null when either is null or previous is 0. */
  change_ratio: number | null;
}

export interface NumberDelta extends Comparison {
  current: number | null;
  previous: number | null;
  /** current − previous (for rates: points of the ratio, 0.05 = 5 points). */
  change: number | null;
  change_ratio: number | null;
}

/** One point of a 30-day sparkline. */
export interface SeriesPoint<V> {
  at: string;
  value: V;
}

// A type, not an interface: the route's Kpi schema is an open record, and only a type alias
// is assignable to one (workers/contracts-check.ts).
export type MoneyKpi = {
  value: string;
  delta: MoneyDelta;
  series: SeriesPoint<string>[];
};

export type NrrWindow = "12m" | "90d" | "30d";
/** Subscription statuses: the donut's slices are the same sets the tiles count. */
export type HealthSlice = "active" | "trialing" | "past_due" | "suspended" | "canceled";
export type AgingBucket = "current" | "days_1_30" | "days_31_60" | "days_61_90" | "days_over_90";

export interface BucketTotal {
  count: number;
  total: string;
}

/** The subscription-health donut. */
export interface HealthBreakdown {
  at: string;
  /** Subscriptions per status; each subscription in exactly one. */
  slices: Record<HealthSlice, number>;
  total: number;
  /** Live subscriptions whose customer has an open signal, per status (an overlay on the
   * slices, not a slice). */
  at_risk: Record<Exclude<HealthSlice, "canceled">, number> & { total: number };
  /** Customers with an open signal (whatever their subscriptions' state). */
  at_risk_customers: number;
  canceled_window_days: number;
}

/** GET /api/metrics/cockpit: the eight KPIs, each with its delta and sparkline, and the donut. */
export interface Cockpit {
  as_of: string;
  computed_at: string;
  /** The periodic job's snapshot, or computed for this request. */
  source: "snapshot" | "computed";
  currency: string;
  /** Currencies left out of the figures (not the reporting currency). */
  excluded_currencies: string[];
  comparison: Comparison;
  /** value = committed + usage (trailing 30 days) */
  mrr: MoneyKpi & { committed: string; usage: string };
  arr: MoneyKpi;
  arpu: {
    value: string | null;
    paying_customers: number;
    delta: MoneyDelta;
    series: SeriesPoint<string | null>[];
  };
  nrr: {
    value: number | null;
    window: NrrWindow;
    window_start: string;
    cohort_customers: number;
    starting_mrr: string;
    current_mrr: string;
    /** Whether the usage record covers the 30 days before window_start (the starting MRR's
     * usage part); false means the ratio overstates retention. */
    usage_covered: boolean;
    delta: NumberDelta;
    series: SeriesPoint<number | null>[];
  };
  customer_churn: {
    value: number | null;
    window_days: number;
    paying_at_start: number;
    churned: number;
    churned_mrr: string;
    delta: NumberDelta;
    series: SeriesPoint<number | null>[];
  };
  trial_conversion: {
    value: number | null;
    window_days: number;
    ended: number;
    converted: number;
    lapsed: number;
    delta: NumberDelta;
    series: SeriesPoint<number | null>[];
  };
  active_subscriptions: {
    value: number;
    active: number;
    past_due: number;
    trialing: number;
    suspended: number;
    delta: NumberDelta;
    series: SeriesPoint<number>[];
  };
  outstanding_invoices: {
    count: number;
    total: string;
    buckets: Record<AgingBucket, BucketTotal>;
    /** On the total amount. */
    delta: MoneyDelta;
    count_delta: NumberDelta;
    series: SeriesPoint<string>[];
    count_series: SeriesPoint<number>[];
    /** What dunning brought back: invoices that entered dunning (a failed payment attempt) in
     * the trailing `window_days`, recovered (paid), lost (voided) or still open (retrying). */
    recovery: PaymentRecovery;
  };
  health: HealthBreakdown;
}

export type MovementType = "new" | "expansion" | "contraction" | "churn" | "reactivation";
export type MrrBasis = "total" | "committed";

/** A customer whose MRR moved in a period (with include=customers). */
export interface MrrCustomerMovement {
  customer_id: string;
  type: MovementType;
  start_mrr: string;
  end_mrr: string;
  /** end_mrr − start_mrr */
  change: string;
}

/** One month of GET /api/metrics/mrr: MRR at `start` vs at `end`, and what moved it. */
export interface MrrPeriod {
  /** "YYYY-MM" of `end` */
  label: string;
  start: string;
  end: string;
  basis: MrrBasis;
  start_mrr: string;
  end_mrr: string;
  /** MRR at `end`: committed + trailing-30-day usage. */
  mrr: { total: string; committed: string; usage: string };
  /** Signed sums per movement; net = Σ = end_mrr − start_mrr. */
  totals: Record<MovementType | "net", string>;
  counts: Record<MovementType, number>;
  customers?: MrrCustomerMovement[];
}

/** GET /api/metrics/mrr */
export interface MrrMovements {
  currency: string;
  excluded_currencies: string[];
  granularity: "month";
  basis: MrrBasis;
  from: string;
  to: string;
  periods: MrrPeriod[];
}

/** GET /api/metrics/snapshots: one stored cockpit snapshot's headline. */
export interface CockpitSnapshot {
  as_of: string;
  computed_at: string;
  mrr: string;
}

export type CockpitKpiKey =
  | "mrr"
  | "arr"
  | "arpu"
  | "nrr"
  | "customer_churn"
  | "trial_conversion"
  | "active_subscriptions"
  | "outstanding_invoices";

/** One row of a tile's list; which fields are set depends on the KPI. */
export interface CockpitKpiItem {
  customer_id: string;
  customer_name: string | null;
  subscription_id?: string;
  invoice_id?: string;
  status?: string;
  mrr?: string;
  committed?: string;
  usage?: string;
  start_mrr?: string;
  current_mrr?: string;
  change?: string;
  last_paying_at?: string;
  churned_at?: string;
  paying_at_start?: boolean;
  trial_end?: string;
  ended_at?: string;
  converted?: boolean;
  counted?: boolean;
  total?: string;
  issued_at?: string;
  due_at?: string;
  days_past_due?: number;
  aging_bucket?: string;
}

/** GET /api/metrics/cockpit/items?kpi: the rows behind a tile, and the tile at the same as_of. */
export interface CockpitKpiItems {
  kpi: CockpitKpiKey;
  as_of: string;
  currency: string;
  summary: Record<string, unknown>;
  total_items: number;
  data: CockpitKpiItem[];
  next_cursor: string | null;
}

/** The outstanding-invoices tile's recovery figures (docs/metrics.md#payment-recovery). */
export interface PaymentRecovery {
  window_days: number;
  episodes: number;
  recovered: number;
  lost: number;
  open: number;
  /** recovered ÷ (recovered + lost + open): a case still retrying is not a success. */
  recovery_rate: number | null;
  /** Money: what the recovered invoices owed when they entered dunning. */
  recovered_revenue: string;
  median_days_to_recover: number | null;
  /** Customers whose failed payments ended in a written-off invoice. */
  involuntary_churn: number;
}
