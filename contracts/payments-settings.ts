// Settings → Payments: the tenant's Adaptive Retry policy (GET/PUT /api/payments/retry-policy).
// The Stripe webhook's settings are StripeSettings in ./invoices.

/** The fields of a retry policy (domain/dunning.ts RetryPolicy). */
export interface RetryPolicyFields {
  /** Retries after a soft decline, 0–8 (0: none). */
  max_attempts: number;
  /** No retry later than this many days after the failure, 1–60. */
  window_days: number;
  /** IANA time zone the paydays, weekends and hours are local to. */
  time_zone: string;
  /** Local hour (0–23) for customers without a payment history to learn one from. */
  default_hour: number;
}

/** GET/PUT /api/payments/retry-policy: the effective policy (defaults filled in), the defaults,
 * and which fields hold their default value. */
export interface RetryPolicySettings extends RetryPolicyFields {
  defaults: RetryPolicyFields;
  is_default: Record<keyof RetryPolicyFields, boolean>;
}
