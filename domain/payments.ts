import type { InvoiceStatus } from "./invoice-states";

// Payments on invoices (issue 14): what a payment attempt, as the tenant's payment provider
// reports it, does to an invoice's balance and status. Aforo moves no money; it records what the
// provider says happened and keeps the invoice's balance exact (bigint nanos, domain/money.ts).
//
// - succeeded: money in. amount (default: what is still due) must be positive and at most what
//   is due, so the payments of an invoice never add up past its total; the one that leaves
//   nothing due makes it `paid`. Until then it stays `open`, amount_due reduced.
// - failed: an attempt that moved no money; it records why (reason, decline_code) and nothing
//   else changes. Accepted on an open or a paid invoice: providers deliver out of order, and a
//   retry that failed before the one that succeeded still happened.
// - refunded: money back on a paid invoice, at most what was paid and not yet refunded. The
//   invoice stays `paid` (the customer owed it and settled it; giving money back is the
//   tenant's choice, not a debt that puts the customer into dunning again) and says how much
//   came back (amount_refunded; refund_state `full` once all of it did). No new status: clients
//   switch on draft | open | paid | void (SPEC §11: add fields, never rename).
//
// Idempotency: a reference names one attempt in a tenant. The same reference again with the same
// request is that attempt (no second effect); with a different request it is refused (409), so a
// client that reuses a reference by mistake learns it instead of losing a payment.

export type PaymentStatus = "succeeded" | "failed" | "refunded";

export const PAYMENT_STATUSES: readonly PaymentStatus[] = ["succeeded", "failed", "refunded"];

/** Where an invoice's money stands (nanos). */
export interface InvoiceBalance {
  id: string;
  status: InvoiceStatus;
  total: bigint;
  /** Σ succeeded payments (an invoice paid with POST /pay counts as paid in full). */
  paid: bigint;
  /** Σ refunds. */
  refunded: bigint;
  issued_at: number | null;
}

/** A payment attempt as the caller asked for it. */
export interface PaymentRequest {
  invoice_id: string;
  status: PaymentStatus;
  /** Nanos; null: the default (what is due, or what is left to refund). */
  amount: bigint | null;
  reason: string | null;
  decline_code: string | null;
  at: number;
}

export type PaymentRefusal = {
  ok: false;
  /** conflict: the invoice's state does not take it (409); unprocessable: the amount does not
   * fit the balance (422); validation_failed: a field is wrong in itself (400). */
  code: "conflict" | "unprocessable" | "validation_failed";
  detail: string;
  errors?: { path: string; message: string }[];
};

export type PaymentDecision =
  | {
      ok: true;
      /** What the attempt is for (nanos). */
      amount: bigint;
      /** What it adds to the invoice's paid and refunded sums. */
      paid: bigint;
      refunded: bigint;
      /** It leaves nothing due: the invoice becomes paid. */
      settles: boolean;
    }
  | PaymentRefusal;

/** How far in the future a provider's clock may be from ours. */
export const CLOCK_SKEW_MS = 5 * 60_000;

/** What is still owed: total − paid while open, nothing otherwise. */
export const amountDue = (b: InvoiceBalance): bigint =>
  b.status === "open" ? b.total - b.paid : 0n;

/** What may still be given back: paid − refunded. */
export const refundable = (b: InvoiceBalance): bigint => b.paid - b.refunded;

export type RefundState = "none" | "partial" | "full";

export function refundState(b: Pick<InvoiceBalance, "paid" | "refunded">): RefundState {
  if (b.refunded === 0n) return "none";
  return b.refunded >= b.paid ? "full" : "partial";
}

const unprocessable = (detail: string, path = "amount"): PaymentRefusal => ({
  ok: false,
  code: "unprocessable",
  detail,
  errors: [{ path, message: detail }],
});

const conflict = (detail: string): PaymentRefusal => ({ ok: false, code: "conflict", detail });

const invalidAt = (message: string): PaymentRefusal => ({
  ok: false,
  code: "validation_failed",
  detail: `at: ${message}`,
  errors: [{ path: "at", message }],
});

/**
 * What `req` does to the invoice `b`, or why it is refused. `format` renders nanos for the
 * refusals ("more than the 12.50 due").
 */
export function decidePayment(
  b: InvoiceBalance,
  req: PaymentRequest,
  now: number,
  format: (nanos: bigint) => string,
): PaymentDecision {
  if (req.at > now + CLOCK_SKEW_MS) return invalidAt("at must not be in the future");
  if (b.issued_at !== null && req.at < b.issued_at) {
    return invalidAt("at must not be before the issue date");
  }
  if (req.amount !== null && req.amount <= 0n) return unprocessable("amount must be positive");

  if (req.status === "succeeded") {
    if (b.status !== "open") {
      return conflict(
        b.status === "paid"
          ? `Invoice '${b.id}' is paid; nothing is due`
          : `Invoice '${b.id}' is ${b.status}; only open invoices take payments`,
      );
    }
    const due = amountDue(b);
    const amount = req.amount ?? due;
    if (amount > due) {
      return unprocessable(`amount ${format(amount)} is more than the ${format(due)} due`);
    }
    return { ok: true, amount, paid: amount, refunded: 0n, settles: amount === due };
  }

  if (req.status === "failed") {
    if (b.status !== "open" && b.status !== "paid") {
      return conflict(`Invoice '${b.id}' is ${b.status}; payments are recorded on open invoices`);
    }
    return { ok: true, amount: req.amount ?? amountDue(b), paid: 0n, refunded: 0n, settles: false };
  }

  if (b.status !== "paid") {
    return conflict(`Invoice '${b.id}' is ${b.status}; only paid invoices can be refunded`);
  }
  const left = refundable(b);
  if (left <= 0n) return unprocessable("nothing is left to refund: all of it was refunded");
  const amount = req.amount ?? left;
  if (amount > left) {
    return unprocessable(`amount ${format(amount)} is more than the ${format(left)} paid`);
  }
  return { ok: true, amount, paid: 0n, refunded: amount, settles: false };
}

/** A recorded attempt, as far as a replay is compared with it. */
export interface RecordedRequest {
  invoice_id: string;
  status: PaymentStatus;
  /** The amount as the caller sent it (nanos), null when it was left to default. */
  requested_amount: bigint | null;
  reason: string | null;
  decline_code: string | null;
  at: number;
}

/** The fields in which a replayed request differs from the recorded one (empty: the same). */
export function replayDifferences(recorded: RecordedRequest, req: PaymentRequest): string[] {
  const diff: string[] = [];
  if (recorded.invoice_id !== req.invoice_id) diff.push("invoice");
  if (recorded.status !== req.status) diff.push("status");
  if (recorded.requested_amount !== req.amount) diff.push("amount");
  if (recorded.reason !== req.reason) diff.push("reason");
  if (recorded.decline_code !== req.decline_code) diff.push("decline_code");
  if (recorded.at !== req.at) diff.push("at");
  return diff;
}

/** The balance after a sequence of attempts, each applied if allowed and skipped if refused:
 * what the store does one request at a time (the property tests fold requests through it). */
export function applyAll(
  start: InvoiceBalance,
  requests: PaymentRequest[],
  now: number,
  format: (nanos: bigint) => string = String,
): { balance: InvoiceBalance; refused: PaymentRefusal[] } {
  let b = start;
  const refused: PaymentRefusal[] = [];
  for (const req of requests) {
    const d = decidePayment(b, req, now, format);
    if (!d.ok) {
      refused.push(d);
      continue;
    }
    b = {
      ...b,
      paid: b.paid + d.paid,
      refunded: b.refunded + d.refunded,
      status: d.settles ? "paid" : b.status,
    };
  }
  return { balance: b, refused };
}
