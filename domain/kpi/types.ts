// Input shapes of the KPI engine (see docs/metrics.md). Plain data: the HTTP/D1 layer loads
// them, the engine never touches storage or the clock.
//
// Conventions:
// - Instants are epoch milliseconds (UTC). Intervals are half-open [start, end): a subscription
//   whose phase ends at t is no longer live at t.
// - Money is bigint nanos (1e-9 of the currency unit, see ../money). One currency per call: the
//   caller converts or filters to the tenant's reporting currency first.

import type { Coupon } from "../pricing";

export type Instant = number;

export type SubscriptionStatus = "trialing" | "active" | "past_due" | "suspended" | "canceled";

/** Billing-state changes recorded on a subscription. `active` returns it to good standing
 * (trialing again while still inside the trial). */
export type BillingStatus = "active" | "past_due" | "suspended";

/** A plan's recurring committed terms, per billing period (see recurringTermsFromPlan). */
export interface RecurringTerms {
  plan_id: string;
  interval: "month" | "year";
  /** Committed recurring amount per billing period, nanos (flat fee + the minimum
   * commitment's excess over the flat fee). */
  committed: bigint;
  /** Part of `committed` that usage draws down before usage counts as extra revenue (the minimum
   * commitment's excess over the flat fee), nanos per billing period. Default 0. */
  minimum_excess?: bigint;
}

/** A recurring discount on a subscription's committed amount, per billing period: percent_off
 * first, then amount_off (a decimal amount of the currency), as pricing.ts applies coupons.
 * Effective on [from, to) when given; always otherwise. */
export interface RecurringDiscount extends Coupon {
  from?: Instant | null;
  to?: Instant | null;
}

/** One plan on one subscription over [start, end). A plan change at t ends one phase at t and
 * starts the next at t; a cancel effective at t ends the last phase at t. */
export interface SubscriptionPhase {
  plan_id: string;
  start: Instant;
  /** Exclusive; null while open-ended. */
  end: Instant | null;
}

export interface StatusChange {
  at: Instant;
  status: BillingStatus;
}

export interface SubscriptionHistory {
  subscription_id: string;
  customer_id: string;
  /** [first start, trial_end) is the trial: no committed MRR, counted as trialing. */
  trial_end?: Instant | null;
  phases: readonly SubscriptionPhase[];
  /** Past-due / suspended / back-to-active changes, effective-dated. */
  status_changes?: readonly StatusChange[];
  discounts?: readonly RecurringDiscount[];
}

/** Rated usage revenue of one customer on one UTC day (all products), nanos. */
export interface DailyUsageRevenue {
  customer_id: string;
  /** Any instant inside the UTC day (normally its midnight). */
  day: Instant;
  revenue: bigint;
}

/** One customer's daily usage revenue: days[i] (any instant in the UTC day) earned revenue[i]
 * nanos. */
export interface CustomerDailyUsage {
  customer_id: string;
  days: readonly Instant[];
  revenue: readonly bigint[];
}

export type InvoiceStatus = "draft" | "open" | "paid" | "void";

export interface InvoiceRecord {
  id: string;
  customer_id: string;
  /** Current status; the *_at instants decide the status as of a past date. */
  status: InvoiceStatus;
  /** Amount due, nanos. */
  total: bigint;
  /** null while draft. */
  issued_at: Instant | null;
  due_at: Instant;
  paid_at: Instant | null;
  /** When it was voided; when status is void and this is missing the invoice is treated as
   * never outstanding. */
  voided_at?: Instant | null;
  /** Partial payments received (succeeded, nanos): from each one on, that much less is
   * outstanding. The payment that settles the invoice is paid_at. */
  payments?: readonly { at: Instant; amount: bigint }[];
  /** The first failed payment attempt (schema/0016), when there was one: dunning starts then. */
  first_failed_at?: Instant | null;
}

/** A detector signal on a customer, open on [opened_at, resolved_at). */
export interface CustomerSignal {
  customer_id: string;
  opened_at: Instant;
  resolved_at: Instant | null;
}

export interface KpiInput {
  plans: readonly RecurringTerms[];
  subscriptions: readonly SubscriptionHistory[];
  usage?: readonly DailyUsageRevenue[];
  /** The same kind of rows as `usage`, grouped per customer in parallel arrays (compact: a
   * large tenant's daily usage without one object per row). Both may be given; rows add up. */
  usage_by_customer?: readonly CustomerDailyUsage[];
  invoices?: readonly InvoiceRecord[];
  signals?: readonly CustomerSignal[];
  /** Earliest instant the data covers (NRR window choice, movement grid). Default: the earliest
   * phase start or usage day. */
  history_start?: Instant;
  /** When the usage record begins (NRR's usage coverage). Default: the earliest usage day. */
  usage_start?: Instant;
}

/** Which MRR a calculation uses: committed + usage ("total") or committed only. */
export type MrrBasis = "total" | "committed";
