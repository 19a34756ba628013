import type { DeclineKind } from "../domain/dunning";

// Adaptive Retry in D1 (schema/0017_retries.sql): the planned retries of failed payments, and
// the delivery rows their messages go out as. Every write that follows a payment is guarded by
// that payment's row existing (`paymentRecorded`), so it joins the payment's own batch and
// happens exactly when the payment was recorded; every send is guarded by the retry still being
// scheduled, so a replayed periodic run sends nothing twice.

export type RetryStatus = "scheduled" | "sent" | "cancelled";

export interface RetryRecord {
  id: string;
  invoice_id: string;
  customer_id: string;
  payment_id: string;
  attempt: number;
  planned: number;
  due_at: number;
  status: RetryStatus;
  decline: DeclineKind;
  decline_code: string | null;
  cancel_reason: string | null;
  created_at: number;
  sent_at: number | null;
}

const RETRY_SELECT = `SELECT id, invoice_id, customer_id, payment_id, attempt, planned, due_at,
  status, decline, decline_code, cancel_reason, created_at, sent_at FROM payment_retries`;

/** A retry's id: the failure that planned it and its number in the plan. */
export const retryId = (paymentId: string, attempt: number) => `rty_${paymentId}_${attempt}`;

/** The pseudo-channel of a customer's billing address (workers/deliveries/channels.ts). */
export const BILL_TO_PREFIX = "bill-to:";

const paymentRecorded = "EXISTS (SELECT 1 FROM payments WHERE tenant_id = ?1 AND id = ?2)";

/** Cancels the invoice's scheduled retries when payment `paymentId` was recorded. */
export const cancelScheduledStatement = (
  db: D1Database,
  tenantId: string,
  paymentId: string,
  invoiceId: string,
  reason: string,
  now: number,
) =>
  db
    .prepare(
      `UPDATE payment_retries SET status = 'cancelled', cancel_reason = ?4, updated_at = ?5
       WHERE tenant_id = ?1 AND invoice_id = ?3 AND status = 'scheduled' AND ${paymentRecorded}`,
    )
    .bind(tenantId, paymentId, invoiceId, reason, now);

/** One planned retry, written when payment `paymentId` was recorded on a still-open invoice. */
export const insertRetryStatement = (
  db: D1Database,
  tenantId: string,
  r: Omit<RetryRecord, "status" | "cancel_reason" | "created_at" | "sent_at">,
  now: number,
) =>
  db
    .prepare(
      `INSERT INTO payment_retries (tenant_id, id, invoice_id, customer_id, payment_id, attempt,
         planned, due_at, status, decline, decline_code, created_at, updated_at)
       SELECT ?1, ?3, ?4, ?5, ?2, ?6, ?7, ?8, 'scheduled', ?9, ?10, ?11, ?11
       WHERE ${paymentRecorded}
         AND EXISTS (SELECT 1 FROM invoices WHERE tenant_id = ?1 AND id = ?4 AND status = 'open')
       ON CONFLICT DO NOTHING`,
    )
    .bind(
      tenantId,
      r.payment_id,
      r.id,
      r.invoice_id,
      r.customer_id,
      r.attempt,
      r.planned,
      r.due_at,
      r.decline,
      r.decline_code,
      now,
    );

/** The "update your payment method" e-mail of a hard-declined payment, to the customer's address,
 * as a pending delivery (its signal_id is the payment's id), written with the payment. */
export const paymentMethodDeliveryStatement = (
  db: D1Database,
  tenantId: string,
  paymentId: string,
  customerId: string,
  now: number,
) =>
  db
    .prepare(
      `INSERT INTO deliveries (tenant_id, id, signal_id, channel_id, status, attempts,
         next_attempt_at, created_at, updated_at, kind)
       SELECT ?1, 'dlv_billto_' || ?2, ?2, '${BILL_TO_PREFIX}' || c.email, 'pending', 0, ?4, ?4, ?4,
         'payment_method'
       FROM customers c
       WHERE c.tenant_id = ?1 AND c.id = ?3 AND c.email IS NOT NULL AND c.email <> ''
         AND ${paymentRecorded}
       ON CONFLICT DO NOTHING`,
    )
    .bind(tenantId, paymentId, customerId, now);

/** An invoice's retries, every plan, in due order. */
export async function retriesOf(
  db: D1Database,
  tenantId: string,
  invoiceId: string,
): Promise<RetryRecord[]> {
  const { results } = await db
    .prepare(`${RETRY_SELECT} WHERE tenant_id = ? AND invoice_id = ? ORDER BY due_at, id`)
    .bind(tenantId, invoiceId)
    .all<RetryRecord>();
  return results;
}

/** The invoice's customer and status, and when that customer's payments succeeded before `before`
 * (on any of their invoices): the history the plan adapts to. */
export async function planInputs(
  db: D1Database,
  tenantId: string,
  invoiceId: string,
  before: number,
): Promise<{ customer_id: string; status: string; past_successes: number[] } | null> {
  const inv = await db
    .prepare("SELECT customer_id, status FROM invoices WHERE tenant_id = ? AND id = ?")
    .bind(tenantId, invoiceId)
    .first<{ customer_id: string; status: string }>();
  if (!inv) return null;
  const { results } = await db
    .prepare(
      `SELECT p.at FROM payments p JOIN invoices i ON i.tenant_id = p.tenant_id AND i.id = p.invoice_id
       WHERE p.tenant_id = ?1 AND i.customer_id = ?2 AND p.status = 'succeeded' AND p.at < ?3
       ORDER BY p.at DESC LIMIT 200`,
    )
    .bind(tenantId, inv.customer_id, before)
    .all<{ at: number }>();
  return { ...inv, past_successes: results.map((r) => r.at) };
}

/** The latest failed payment of an invoice (what its schedule answers), or null. */
export async function latestFailure(
  db: D1Database,
  tenantId: string,
  invoiceId: string,
): Promise<{ id: string; decline_code: string | null; at: number } | null> {
  return db
    .prepare(
      `SELECT id, decline_code, at FROM payments
       WHERE tenant_id = ? AND invoice_id = ? AND status = 'failed'
       ORDER BY at DESC, created_at DESC LIMIT 1`,
    )
    .bind(tenantId, invoiceId)
    .first();
}

/** Scheduled retries of invoices no longer open (paid or voided by any route) are cancelled. */
export async function cancelSettledRetries(
  db: D1Database,
  tenantId: string,
  now: number,
): Promise<number> {
  const res = await db
    .prepare(
      `UPDATE payment_retries SET status = 'cancelled', updated_at = ?2,
         cancel_reason = 'invoice_' || (SELECT i.status FROM invoices i
           WHERE i.tenant_id = payment_retries.tenant_id AND i.id = payment_retries.invoice_id)
       WHERE tenant_id = ?1 AND status = 'scheduled'
         AND EXISTS (SELECT 1 FROM invoices i WHERE i.tenant_id = ?1
           AND i.id = payment_retries.invoice_id AND i.status <> 'open')`,
    )
    .bind(tenantId, now)
    .run();
  return res.meta.changes;
}

/** Scheduled retries due at `now`, by invoice and due time, at most 500. */
export async function dueRetries(
  db: D1Database,
  tenantId: string,
  now: number,
): Promise<RetryRecord[]> {
  const { results } = await db
    .prepare(
      `${RETRY_SELECT} WHERE tenant_id = ? AND status = 'scheduled' AND due_at <= ?
       ORDER BY invoice_id, due_at, id LIMIT 500`,
    )
    .bind(tenantId, now)
    .all<RetryRecord>();
  return results;
}

/**
 * Sends retry `r`, in one batch: a pending delivery to each enabled webhook channel and one to
 * the customer's address (when it has one), then the retry marked sent. The deliveries are
 * written only while the retry is still scheduled and their ids derive from it, so a replayed or
 * concurrent run adds nothing. `superseded`: earlier retries of the same invoice that fell due
 * unsent (a failure reported late, a stopped clock); they are cancelled rather than sent in a
 * burst. Returns whether this call sent it.
 */
export async function sendRetry(
  db: D1Database,
  tenantId: string,
  r: RetryRecord,
  superseded: string[],
  now: number,
): Promise<boolean> {
  const stillScheduled =
    "EXISTS (SELECT 1 FROM payment_retries WHERE tenant_id = ?1 AND id = ?2 AND status = 'scheduled')";
  const results = await db.batch([
    db
      .prepare(
        `INSERT INTO deliveries (tenant_id, id, signal_id, channel_id, status, attempts,
           next_attempt_at, created_at, updated_at, kind)
         SELECT c.tenant_id, 'dlv_' || substr(c.id, 4) || '_' || ?2, ?2, c.id, 'pending', 0,
           ?3, ?3, ?3, 'payment_retry'
         FROM notification_channels c
         WHERE c.tenant_id = ?1 AND c.enabled = 1 AND c.type = 'webhook' AND ${stillScheduled}
         ON CONFLICT DO NOTHING`,
      )
      .bind(tenantId, r.id, now),
    db
      .prepare(
        `INSERT INTO deliveries (tenant_id, id, signal_id, channel_id, status, attempts,
           next_attempt_at, created_at, updated_at, kind)
         SELECT ?1, 'dlv_billto_' || ?2, ?2, '${BILL_TO_PREFIX}' || c.email, 'pending', 0, ?3, ?3,
           ?3, 'payment_retry'
         FROM customers c
         WHERE c.tenant_id = ?1 AND c.id = ?4 AND c.email IS NOT NULL AND c.email <> ''
           AND ${stillScheduled}
         ON CONFLICT DO NOTHING`,
      )
      .bind(tenantId, r.id, now, r.customer_id),
    db
      .prepare(
        `UPDATE payment_retries SET status = 'sent', sent_at = ?3, updated_at = ?3
         WHERE tenant_id = ?1 AND id = ?2 AND status = 'scheduled'`,
      )
      .bind(tenantId, r.id, now),
    db
      .prepare(
        `UPDATE payment_retries SET status = 'cancelled', cancel_reason = 'superseded',
           updated_at = ?2
         WHERE tenant_id = ?1 AND status = 'scheduled' AND id IN (SELECT value FROM json_each(?3))`,
      )
      .bind(tenantId, now, JSON.stringify(superseded)),
  ]);
  return (results[2]?.meta.changes ?? 0) > 0;
}

/** What a retry's or a hard decline's message says, read when it is sent. */
export interface PaymentMessage {
  /** The retry's id, or the hard-declined payment's id. */
  id: string;
  kind: "payment_retry" | "payment_method";
  tenant_name: string;
  invoice_id: string;
  invoice_status: string;
  customer_id: string;
  customer_name: string | null;
  currency: string;
  /** total - amount_paid, nanos. */
  amount_due: bigint;
  decline: DeclineKind | null;
  decline_code: string | null;
  attempt: number | null;
  planned: number | null;
  due_at: number | null;
  /** When the declined payment was tried. */
  failed_at: number | null;
}

interface MessageRow {
  id: string;
  tenant_name: string;
  invoice_id: string;
  invoice_status: string;
  customer_id: string;
  customer_name: string | null;
  currency: string;
  amount_due: string;
  decline: DeclineKind | null;
  decline_code: string | null;
  attempt: number | null;
  planned: number | null;
  due_at: number | null;
  failed_at: number | null;
}

export async function loadPaymentMessage(
  db: D1Database,
  tenantId: string,
  kind: "payment_retry" | "payment_method",
  id: string,
): Promise<PaymentMessage | null> {
  const invoiceColumns = `t.name AS tenant_name, i.id AS invoice_id, i.status AS invoice_status,
    i.customer_id, c.name AS customer_name, i.currency,
    CAST(i.total - i.amount_paid AS TEXT) AS amount_due`;
  const joins = `JOIN invoices i ON i.tenant_id = x.tenant_id AND i.id = x.invoice_id
    JOIN tenants t ON t.id = x.tenant_id
    LEFT JOIN customers c ON c.tenant_id = i.tenant_id AND c.id = i.customer_id`;
  const row =
    kind === "payment_retry"
      ? await db
          .prepare(
            `SELECT x.id, ${invoiceColumns}, x.decline, x.decline_code, x.attempt, x.planned,
               x.due_at, (SELECT at FROM payments p WHERE p.tenant_id = x.tenant_id
                 AND p.id = x.payment_id) AS failed_at
             FROM payment_retries x ${joins} WHERE x.tenant_id = ? AND x.id = ?`,
          )
          .bind(tenantId, id)
          .first<MessageRow>()
      : await db
          .prepare(
            `SELECT x.id, ${invoiceColumns}, 'hard' AS decline, x.decline_code, NULL AS attempt,
               NULL AS planned, NULL AS due_at, x.at AS failed_at
             FROM payments x ${joins} WHERE x.tenant_id = ? AND x.id = ?`,
          )
          .bind(tenantId, id)
          .first<MessageRow>();
  if (!row) return null;
  return { ...row, kind, amount_due: BigInt(row.amount_due) };
}
