// What the invoice routes serve (SPEC §3, §11): GET /api/invoices, /api/invoices/:id (with its
// lines), /api/invoices/:id/trace and the pay / void / finalize answers. Money as decimal
// strings, instants as ISO strings. Type-only: workers/contracts-check.ts holds the routes to it.

export type InvoiceStatus = "draft" | "open" | "paid" | "void";
export type InvoiceLineKind = "usage" | "fee" | "adjustment";

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
  amount_due: string;
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
