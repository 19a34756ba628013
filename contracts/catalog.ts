// What the catalog routes serve (SPEC §3, §11): products and metrics, plans and their
// components, customers, subscriptions and the cost catalog. Type-only: the API's zod schemas
// must produce exactly these (workers/contracts-check.ts); domain/pricing.ts prices these
// component definitions.

/** A decimal amount. The API always answers decimal strings ("12.50", never "3e-7"); a request
 * may also send a finite non-negative number. */
export type Amount = string | number;

/** One tier of a tiered component. */
export interface Tier {
  /** Upper bound in billable units (inclusive); null for the last, open tier. */
  up_to: Amount | null;
  unit_price: Amount;
  flat_fee?: Amount;
}

/** One priced part of a plan (SPEC §11 "Plan components"). */
export type PlanComponent =
  | { type: "flat"; amount: Amount }
  | { type: "per_unit"; metric: string; unit_price: Amount }
  | { type: "tiered"; metric: string; mode: "graduated" | "volume"; tiers: Tier[] }
  | { type: "package"; metric: string; size: Amount; price: Amount }
  | { type: "included"; metric: string; quantity: Amount }
  | { type: "discount"; metric?: string; above: Amount; percent: Amount }
  | { type: "minimum"; amount: Amount };

export type MetricAggregation = "sum" | "count" | "max" | "unique_count";

export interface Metric {
  id: string;
  product: string;
  name: string | null;
  unit: string;
  aggregation: MetricAggregation;
  /** Whether its events are expected to carry a cost (else they are flagged `uncosted`). */
  carries_cost: boolean;
  created_at: string;
}

/** Proxy mode: /v1/proxy/:product/* forwards to `origin` and meters each call as `metric`. */
export interface ProductProxy {
  origin: string;
  metric: string;
}

export interface Product {
  id: string;
  name: string;
  description: string | null;
  proxy: ProductProxy | null;
  metrics: Metric[];
  created_at: string;
  updated_at: string;
}

export type BillingInterval = "month" | "year";
/** `draft`: priced and previewed, not subscribable until published (POST
 * /api/plans/:id/publish makes it `active`). */
export type PlanStatus = "draft" | "active" | "archived";

export interface Plan {
  id: string;
  product: string;
  name: string;
  currency: string;
  period: BillingInterval;
  trial_days: number;
  status: PlanStatus;
  components: PlanComponent[];
  /** When it became subscribable; null while a draft. */
  published_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface Customer {
  id: string;
  name: string;
  email: string | null;
  /** Free-form labels (segment, account_owner, …). */
  metadata: Record<string, unknown>;
  created_at: string;
  updated_at: string;
}

export type SubscriptionStatus = "trialing" | "active" | "past_due" | "suspended" | "canceled";

/** One plan of a subscription's history. */
export interface SubscriptionPhase {
  plan: string;
  start: string;
  end: string | null;
  billing_anchor: string;
}

/** An effective-dated billing state. */
export interface SubscriptionStatusChange {
  at: string;
  status: "active" | "past_due" | "suspended";
  reason: string | null;
}

export interface Subscription {
  id: string;
  customer: string;
  plan: string;
  product: string;
  status: SubscriptionStatus;
  start: string;
  trial_end: string | null;
  end: string | null;
  created_at: string;
  updated_at: string;
  /** Plan history, oldest first (with include=history, and after a change, cancel or status
   * change). */
  phases?: SubscriptionPhase[];
  /** Effective-dated billing states, oldest first. */
  status_changes?: SubscriptionStatusChange[];
}

/** An effective-dated provider/model price (USD per million tokens, per call). */
export interface CostCatalogEntry {
  provider: string;
  model: string;
  input_per_million: string;
  output_per_million: string;
  cached_input_per_million: string | null;
  per_call: string | null;
  effective_from: string;
}
