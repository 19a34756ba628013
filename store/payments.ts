import type { InvoiceStatus } from "../domain/invoice-states";
import { formatMoney, toNanos } from "../domain/money";
import type { InvoiceBalance, PaymentStatus } from "../domain/payments";
import { bumpBillingVersion } from "./subscriptions";

// Payment attempts on invoices in D1 (schema/0016_payments.sql) and the tenant's payment
// provider settings. Amounts are exact decimal text in the row, bigint nanos here; the invoice's
// running amount_paid / amount_refunded are integers like its total, so the guards below compare
// them in SQL inside the batch that records the attempt.

export interface PaymentRecord {
  id: string;
  reference: string;
  invoice_id: string;
  status: PaymentStatus;
  amount: bigint;
  requested_amount: bigint | null;
  currency: string;
  decline_code: string | null;
  reason: string | null;
  at: number;
  provider: string;
  provider_id: string | null;
  created_by: string;
  created_at: number;
}

type PaymentRow = Omit<PaymentRecord, "amount" | "requested_amount"> & {
  amount: string;
  requested_amount: string | null;
};

const toPayment = (r: PaymentRow): PaymentRecord => ({
  ...r,
  amount: toNanos(r.amount),
  requested_amount: r.requested_amount === null ? null : toNanos(r.requested_amount),
});

const PAYMENT_SELECT = `SELECT id, reference, invoice_id, status, amount, requested_amount, currency,
  decline_code, reason, at, provider, provider_id, created_by, created_at FROM payments`;

export interface InvoiceMoney extends InvoiceBalance {
  subscription_id: string;
  currency: string;
  due_at: number | null;
}

/** An invoice's status and balance; null when it does not exist. */
export async function invoiceMoney(
  db: D1Database,
  tenantId: string,
  id: string,
): Promise<InvoiceMoney | null> {
  const row = await db
    .prepare(
      `SELECT id, status, CAST(total AS TEXT) AS total, CAST(amount_paid AS TEXT) AS paid,
         CAST(amount_refunded AS TEXT) AS refunded, issued_at, due_at, subscription_id, currency
       FROM invoices WHERE tenant_id = ? AND id = ?`,
    )
    .bind(tenantId, id)
    .first<{
      id: string;
      status: InvoiceStatus;
      total: string;
      paid: string;
      refunded: string;
      issued_at: number | null;
      due_at: number | null;
      subscription_id: string;
      currency: string;
    }>();
  if (!row) return null;
  return {
    ...row,
    total: BigInt(row.total),
    paid: BigInt(row.paid),
    refunded: BigInt(row.refunded),
  };
}

export async function paymentByReference(
  db: D1Database,
  tenantId: string,
  reference: string,
): Promise<PaymentRecord | null> {
  const row = await db
    .prepare(`${PAYMENT_SELECT} WHERE tenant_id = ? AND reference = ?`)
    .bind(tenantId, reference)
    .first<PaymentRow>();
  return row ? toPayment(row) : null;
}

/** An invoice's attempts in the order they happened. */
export async function paymentsOf(
  db: D1Database,
  tenantId: string,
  invoiceId: string,
): Promise<PaymentRecord[]> {
  const { results } = await db
    .prepare(
      `${PAYMENT_SELECT} WHERE tenant_id = ? AND invoice_id = ? ORDER BY at, created_at, reference`,
    )
    .bind(tenantId, invoiceId)
    .all<PaymentRow>();
  return results.map(toPayment);
}

/** The invoice a provider's object was recorded against before (a Stripe invoice id that an
 * earlier payment named), for events that do not carry Aforo's invoice id themselves. */
export async function invoiceOfProviderId(
  db: D1Database,
  tenantId: string,
  provider: string,
  providerId: string,
): Promise<string | null> {
  const row = await db
    .prepare(
      `SELECT invoice_id FROM payments WHERE tenant_id = ? AND provider = ? AND provider_id = ?
       ORDER BY created_at LIMIT 1`,
    )
    .bind(tenantId, provider, providerId)
    .first<{ invoice_id: string }>();
  return row?.invoice_id ?? null;
}

/** Σ refunds already recorded from one provider object (a Stripe charge), nanos. */
export async function refundedFrom(
  db: D1Database,
  tenantId: string,
  provider: string,
  providerId: string,
): Promise<bigint> {
  const { results } = await db
    .prepare(
      `SELECT amount FROM payments WHERE tenant_id = ? AND provider = ? AND provider_id = ?
         AND status = 'refunded'`,
    )
    .bind(tenantId, provider, providerId)
    .all<{ amount: string }>();
  return results.reduce((sum, r) => sum + toNanos(r.amount), 0n);
}

/** A new attempt: what the row holds, and what it adds to the invoice (nanos). */
export interface NewPayment extends Omit<PaymentRecord, "created_at"> {
  adds: { paid: bigint; refunded: bigint };
}

/**
 * Records `p` and applies it to its invoice in one batch. The INSERT repeats the rule that
 * allowed it (domain/payments.ts) in its WHERE — the invoice's state, and for money the balance
 * it must fit — and changes nothing when the reference is already recorded or the invoice moved
 * meanwhile; the invoice's UPDATE runs only when the INSERT did (changes() > 0). A payment that
 * leaves nothing due makes the invoice paid at the payment's `at`, by its actor, with the
 * provider's id (or the reference) as its payment_reference. `also` joins the same batch (the
 * retries it plans or cancels, store/retries.ts), each guarded by the payment's row existing.
 * Returns whether it was recorded.
 */
export async function recordPayment(
  db: D1Database,
  tenantId: string,
  p: NewPayment,
  now: number,
  also: D1PreparedStatement[] = [],
): Promise<boolean> {
  const paid = Number(p.adds.paid);
  const refunded = Number(p.adds.refunded);
  // Each form names both sums (?16 paid, ?17 refunded), so the bindings are the same for all.
  const fits =
    p.status === "succeeded"
      ? "status = 'open' AND amount_paid + ?16 <= total AND ?17 = 0"
      : p.status === "refunded"
        ? "status = 'paid' AND amount_refunded + ?17 <= amount_paid AND ?16 = 0"
        : "status IN ('open', 'paid') AND ?16 = 0 AND ?17 = 0";
  const insert = db
    .prepare(
      `INSERT OR IGNORE INTO payments (tenant_id, reference, id, invoice_id, status, amount,
         requested_amount, currency, decline_code, reason, at, provider, provider_id, created_by,
         created_at)
       SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15
       WHERE EXISTS (SELECT 1 FROM invoices WHERE tenant_id = ?1 AND id = ?4 AND ${fits})`,
    )
    .bind(
      tenantId,
      p.reference,
      p.id,
      p.invoice_id,
      p.status,
      formatMoney(p.amount),
      p.requested_amount === null ? null : formatMoney(p.requested_amount),
      p.currency,
      p.decline_code,
      p.reason,
      p.at,
      p.provider,
      p.provider_id,
      p.created_by,
      now,
      paid,
      refunded,
    );
  const statements: D1PreparedStatement[] = [insert];
  if (p.status === "succeeded") {
    statements.push(
      db
        .prepare(
          `UPDATE invoices SET amount_paid = amount_paid + ?3,
             status = CASE WHEN amount_paid + ?3 >= total THEN 'paid' ELSE status END,
             paid_at = CASE WHEN amount_paid + ?3 >= total THEN ?4 ELSE paid_at END,
             paid_by = CASE WHEN amount_paid + ?3 >= total THEN ?5 ELSE paid_by END,
             payment_reference = CASE WHEN amount_paid + ?3 >= total THEN ?6
               ELSE payment_reference END,
             updated_at = ?7
           WHERE tenant_id = ?1 AND id = ?2 AND status = 'open' AND changes() > 0`,
        )
        .bind(tenantId, p.invoice_id, paid, p.at, p.created_by, p.provider_id ?? p.reference, now),
    );
  } else if (p.status === "refunded") {
    statements.push(
      db
        .prepare(
          `UPDATE invoices SET amount_refunded = amount_refunded + ?3, updated_at = ?4
           WHERE tenant_id = ?1 AND id = ?2 AND status = 'paid' AND changes() > 0`,
        )
        .bind(tenantId, p.invoice_id, refunded, now),
    );
  }
  // A failed attempt moves no money: the invoice and the billing version stay as they are.
  if (p.status !== "failed") statements.push(bumpBillingVersion(db, tenantId));
  const [res] = await db.batch([...statements, ...also]);
  return (res?.meta.changes ?? 0) > 0;
}

// ---------------------------------------------------------------------------------------------
// Payment providers (the Stripe webhook's signing secret)

export interface ProviderSettings {
  signing_secret: string;
  updated_at: number;
  updated_by: string;
}

export async function providerSettings(
  db: D1Database,
  tenantId: string,
  provider: string,
): Promise<ProviderSettings | null> {
  return db
    .prepare(
      `SELECT signing_secret, updated_at, updated_by FROM payment_providers
       WHERE tenant_id = ? AND provider = ?`,
    )
    .bind(tenantId, provider)
    .first<ProviderSettings>();
}

/** Sets (or replaces) a provider's sealed signing secret. */
export async function putProviderSecret(
  db: D1Database,
  tenantId: string,
  provider: string,
  sealed: string,
  now: number,
  by: string,
) {
  await db
    .prepare(
      `INSERT INTO payment_providers (tenant_id, provider, signing_secret, updated_at, updated_by)
       VALUES (?1, ?2, ?3, ?4, ?5)
       ON CONFLICT (tenant_id, provider) DO UPDATE SET signing_secret = ?3, updated_at = ?4,
         updated_by = ?5`,
    )
    .bind(tenantId, provider, sealed, now, by)
    .run();
}
