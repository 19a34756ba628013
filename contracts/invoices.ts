// What the invoice routes serve (SPEC §3, §11): GET /api/invoices, /api/invoices/:id (with its
// lines), /api/invoices/:id/trace and the pay / void / finalize answers. Money as decimal
// strings, instants as ISO strings. Type-only: workers/contracts-check.ts holds the routes to it.

export type InvoiceStatus = "draft" | "open" | "paid" | "void";
export type InvoiceLineKind = "usage" | "fee" | "adjustment";
/** How much of what was paid came back: none, some, or all of it. */
export type RefundState = "none" | "partial" | "full";

export interface InvoiceLine {
  position: number;
  plan: string | null;
  /** The part of the period this line's plan was in force. */
  service: { from: string; to: string } | null;
  component_index: number | null;
  /** flat, per_unit, tiered, package, included, discount, minimum, coupon or rounding */
  type: string;
  metric: string | null;
  quantity: string;
  amount: string;
  description: string;
  kind: InvoiceLineKind;
}

export interface Invoice {
  id: string;
  subscription: string;
  customer: string;
  product: string;
  currency: string;
  status: InvoiceStatus;
  period: { start: string; end: string };
  closes_at: string;
  subtotal: string;
  minimum_topup: string;
  discount_total: string;
  rounding: string;
  total: string;
  usage_total: string;
  /** total − amount_paid while open; "0.00" otherwise. */
  amount_due: string;
  /** Σ succeeded payments; an invoice paid with /pay counts as paid in full. */
  amount_paid: string;
  /** Σ refunds; a refunded invoice stays paid. */
  amount_refunded: string;
  refund_state: RefundState;
  /** Payment attempts recorded on it, failed ones included. */
  payments_count: number;
  issued_at: string | null;
  due_at: string | null;
  finalized_at: string | null;
  paid_at: string | null;
  payment_reference: string | null;
  voided_at: string | null;
  void_reason: string | null;
  /** Who paid, voided or finalised it, as the audit log names actors: `member:<email>` or
   * `token:<key id>`; finalized_by is `system` when the invoicing run finalised it. Null when
   * nobody did (a zero invoice is paid by owing nothing) or before this was recorded. */
  paid_by: string | null;
  voided_by: string | null;
  finalized_by: string | null;
  days_past_due: number | null;
  aging_bucket: "current" | "days_1_30" | "days_31_60" | "days_61_90" | "days_over_90" | null;
  created_at: string;
  updated_at: string;
  lines?: InvoiceLine[];
}

/** GET /api/invoices/:id/trace */
export interface InvoiceTrace {
  invoice: string;
  customer: string;
  product: string;
  currency: string;
  total: string;
  /** Σ lines; equals total. */
  lines_total: string;
  kinds: Record<InvoiceLineKind, string>;
  usage: {
    metric: string;
    service: { from: string; to: string };
    /** Positions of the usage lines of this metric and window. */
    lines: number[];
    amount: string;
    rollups: { units: string; revenue: string; cost: string; events: number };
    /** amount = rollups.revenue */
    matches: boolean;
  }[];
}

// Payments (issue 14): attempts as the tenant's payment provider reports them.

export type PaymentStatus = "succeeded" | "failed" | "refunded";

/** One attempt: POST /api/invoices/:id/payments, GET /api/invoices/:id/payments. */
export interface Payment {
  id: string;
  /** The caller's idempotency key, unique in the tenant (`stripe:<object id>:<event type>…`
   * for the Stripe webhook). */
  reference: string;
  invoice: string;
  status: PaymentStatus;
  /** What the attempt was for (succeeded: paid; refunded: given back; failed: attempted). */
  amount: string;
  currency: string;
  decline_code: string | null;
  reason: string | null;
  at: string;
  /** `api` or `stripe`. */
  provider: string;
  /** The provider's id (a Stripe invoice or charge id). */
  provider_id: string | null;
  /** Who reported it: `member:<email>`, `token:<key id>` or `provider:stripe`. */
  recorded_by: string;
  created_at: string;
}

/** POST /api/invoices/:id/payments: the attempt and the invoice after it; `replayed` when the
 * reference was recorded before (same request: no second effect). */
export interface PaymentAnswer {
  payment: Payment;
  invoice: Invoice;
  replayed: boolean;
  /** The invoice's Adaptive Retry schedule after this attempt. */
  retries: RetrySchedule;
}

/** Adaptive Retry (GET /api/invoices/:id/retries): the retries the invoice's latest failed
 * payment planned. Soft declines are retried; a hard decline asks for a new payment method. */
export interface RetrySchedule {
  invoice: string;
  decline: "soft" | "hard" | null;
  decline_code: string | null;
  action: "retry" | "ask_for_new_method" | null;
  next_retry_at: string | null;
  remaining_attempts: number;
  planned_attempts: number;
  /** The failed payment the schedule was planned from. */
  planned_by: string | null;
  attempts: {
    /** The retry's id: `data.id` of its `payment.retry_due` webhook. */
    id: string;
    attempt: number;
    due_at: string;
    status: "scheduled" | "sent" | "cancelled";
    sent_at: string | null;
    cancel_reason: string | null;
  }[];
}

/** GET/PUT /api/payments/stripe (the signing secret is never returned). */
export interface StripeSettings {
  provider: "stripe";
  configured: boolean;
  /** Where to point the Stripe webhook endpoint. */
  webhook_url: string;
  events: string[];
  updated_at: string | null;
  updated_by: string | null;
}

/** POST /v1/payments/stripe/:tenant_id's answer to Stripe (any 2xx stops its retries). */
export interface StripeWebhookOutcome {
  received: true;
  outcome: "recorded" | "replayed" | "ignored" | "refused";
  event_type: string;
  payment: Payment | null;
  invoice: string | null;
  detail: string | null;
}
