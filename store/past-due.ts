import type { UnpaidInvoice } from "../domain/detectors/past-due";
import type { Rung } from "../domain/ladder";
import { formatMoney } from "../domain/money";
import type { ActionState } from "./actions";

// What PastDueDetector reads (domain/detectors/past-due.ts) and what settling its cases touches:
// open invoices still owed that fell due or had a payment fail, and the open past-due cases whose
// invoice no longer is owed. A past-due case's scope is `invoice <id>` (domain/cases.ts).

const DETECTOR = "PastDueDetector";
const caseScope = (invoiceId: string) => `invoice ${invoiceId}`;

/** The tenant's invoices still owed at `now` that fell due or had a payment fail (one invoice
 * only, when `invoiceId` is given). */
export async function unpaidInvoices(
  db: D1Database,
  tenantId: string,
  now: number,
  invoiceId?: string,
): Promise<UnpaidInvoice[]> {
  const { results } = await db
    .prepare(
      `SELECT i.id, i.customer_id, i.product_id, i.currency, i.period_start, i.period_end, i.due_at,
         CAST(i.total - i.amount_paid AS TEXT) AS owed,
         (SELECT COUNT(*) FROM payments p WHERE p.tenant_id = i.tenant_id AND p.invoice_id = i.id
            AND p.status = 'failed' AND p.at <= ?2) AS failed_attempts,
         (SELECT MIN(p.at) FROM payments p WHERE p.tenant_id = i.tenant_id AND p.invoice_id = i.id
            AND p.status = 'failed' AND p.at <= ?2) AS first_failure_at,
         (SELECT p.decline_code FROM payments p WHERE p.tenant_id = i.tenant_id AND p.invoice_id = i.id
            AND p.status = 'failed' AND p.at <= ?2 ORDER BY p.at LIMIT 1) AS first_decline_code,
         (SELECT p.decline_code FROM payments p WHERE p.tenant_id = i.tenant_id AND p.invoice_id = i.id
            AND p.status = 'failed' AND p.at <= ?2 ORDER BY p.at DESC LIMIT 1) AS last_decline_code
       FROM invoices i
       WHERE i.tenant_id = ?1 AND i.status = 'open' AND i.total > i.amount_paid
         AND (?3 IS NULL OR i.id = ?3)
         AND ((i.due_at IS NOT NULL AND i.due_at <= ?2) OR EXISTS (
           SELECT 1 FROM payments p WHERE p.tenant_id = i.tenant_id AND p.invoice_id = i.id
             AND p.status = 'failed' AND p.at <= ?2))
       ORDER BY i.due_at, i.id`,
    )
    .bind(tenantId, now, invoiceId ?? null)
    .all<{
      id: string;
      customer_id: string;
      product_id: string;
      currency: string;
      period_start: number;
      period_end: number;
      due_at: number | null;
      owed: string;
      failed_attempts: number;
      first_failure_at: number | null;
      first_decline_code: string | null;
      last_decline_code: string | null;
    }>();
  return results.map((r) => ({
    id: r.id,
    customer: r.customer_id,
    product: r.product_id,
    currency: r.currency,
    period: { start: r.period_start, end: r.period_end },
    due_at: r.due_at,
    owed: formatMoney(BigInt(r.owed)),
    failed_attempts: r.failed_attempts,
    first_failure:
      r.first_failure_at === null
        ? null
        : { at: r.first_failure_at, decline_code: r.first_decline_code },
    last_decline_code: r.last_decline_code,
  }));
}

/** An open past-due case whose invoice is settled: paid in full (or marked paid) or voided. */
export interface SettledPastDueCase {
  id: string;
  customer_id: string;
  invoice_id: string;
  invoice_status: "paid" | "void" | "open";
  settled_at: number | null;
}

/** The open past-due cases whose invoice is no longer owed (of one invoice, when given). */
export async function settledPastDueCases(
  db: D1Database,
  tenantId: string,
  invoiceId?: string,
): Promise<SettledPastDueCase[]> {
  const { results } = await db
    .prepare(
      `SELECT c.id, c.customer_id, i.id AS invoice_id, i.status AS invoice_status,
         COALESCE(i.paid_at, i.voided_at) AS settled_at
       FROM cases c JOIN invoices i ON i.tenant_id = c.tenant_id AND c.scope = 'invoice ' || i.id
       WHERE c.tenant_id = ?1 AND c.detector = ?2 AND c.status = 'open'
         AND (?3 IS NULL OR c.scope = ?4)
         AND (i.status IN ('paid', 'void') OR i.total <= i.amount_paid)`,
    )
    .bind(tenantId, DETECTOR, invoiceId ?? null, caseScope(invoiceId ?? ""))
    .all<SettledPastDueCase>();
  return results;
}

/** The actions of a case's signals, oldest first. */
export async function caseActions(
  db: D1Database,
  tenantId: string,
  caseId: string,
): Promise<{ id: string; rung: Rung; state: ActionState }[]> {
  const { results } = await db
    .prepare(
      `SELECT a.id, a.rung, a.state FROM actions a
       JOIN case_signals cs ON cs.tenant_id = a.tenant_id AND cs.signal_id = a.signal_id
       WHERE cs.tenant_id = ? AND cs.case_id = ? ORDER BY a.created_at, a.id`,
    )
    .bind(tenantId, caseId)
    .all<{ id: string; rung: Rung; state: ActionState }>();
  return results;
}

/** The invoice a recorded payment belongs to. */
export async function paymentInvoiceId(
  db: D1Database,
  tenantId: string,
  paymentId: string,
): Promise<string | null> {
  const row = await db
    .prepare("SELECT invoice_id FROM payments WHERE tenant_id = ? AND id = ?")
    .bind(tenantId, paymentId)
    .first<{ invoice_id: string }>();
  return row?.invoice_id ?? null;
}
