import type {
  CustomerDailyUsage,
  CustomerSignal,
  InvoiceRecord,
  StatusChange,
} from "../domain/kpi";
import { toNanos } from "../domain/money";
import { query, runQueries } from "./batch";
import { dailyUsageRevenueQuery } from "./rollups";
import { phasesQuery } from "./subscription-reads";
import type { SubscriptionHistoryTerms } from "./subscriptions";

// The KPI engine's input as D1 holds it (domain/kpi/types.ts KpiInput): the subscription history
// with its billing states, daily usage revenue (store/rollups.ts), invoices, signals and the
// ladder's coupons. Read side only; workers/billing/kpi-input.ts picks the reporting currency and
// assembles the engine's input.

/** An issued-or-later invoice with its currency (drafts are left out). */
export interface KpiInvoice extends Omit<InvoiceRecord, "due_at"> {
  currency: string;
  due_at: number | null;
}

interface PaymentRow {
  invoice_id: string;
  failed: boolean;
  at: number;
  amount: bigint;
}

export interface KpiRows {
  subscriptions: SubscriptionHistoryTerms[];
  /** Per subscription, its billing states in order. */
  statusChanges: Map<string, StatusChange[]>;
  usage: CustomerDailyUsage[];
  invoices: KpiInvoice[];
}

type StatusRow = { subscription_id: string; at: number; status: StatusChange["status"] };

/** The subscription history, billing states, daily usage and invoices, in one D1 batch (one
 * consistent snapshot). */
export async function loadKpiRows(db: D1Database, tenantId: string): Promise<KpiRows> {
  const [subscriptions, changes, usage, direct, invoices, payments] = await runQueries(db, [
    phasesQuery(db, tenantId),
    query<StatusRow, StatusRow[]>(
      db
        .prepare(
          `SELECT subscription_id, at, status FROM subscription_status_changes
           WHERE tenant_id = ? ORDER BY subscription_id, at, seq`,
        )
        .bind(tenantId),
      (rows) => [...rows],
    ),
    dailyUsageRevenueQuery(db, tenantId),
    // States written straight into subscriptions.status without a history row: read as a
    // change at the row's last update (recordStatusChange is the way to record them).
    query<StatusRow, StatusRow[]>(
      db
        .prepare(
          `SELECT id AS subscription_id, updated_at AS at, status FROM subscriptions s
           WHERE tenant_id = ?1 AND status IN ('past_due', 'suspended') AND NOT EXISTS (
             SELECT 1 FROM subscription_status_changes c WHERE c.tenant_id = ?1
               AND c.subscription_id = s.id)`,
        )
        .bind(tenantId),
      (rows) => [...rows],
    ),
    query<Omit<KpiInvoice, "total"> & { total: string }, KpiInvoice[]>(
      db
        .prepare(
          `SELECT id, customer_id, currency, status, CAST(total AS TEXT) AS total, issued_at, due_at,
             paid_at, voided_at FROM invoices WHERE tenant_id = ? AND status <> 'draft'`,
        )
        .bind(tenantId),
      (rows) =>
        rows.map((r) => ({
          id: r.id,
          customer_id: r.customer_id,
          currency: r.currency,
          status: r.status,
          total: BigInt(r.total),
          issued_at: r.issued_at,
          due_at: r.due_at,
          paid_at: r.paid_at,
          voided_at: r.voided_at,
        })),
    ),
    // Payment attempts (schema/0016): a partial payment lowers what is outstanding from its time
    // on; the first failed one starts the invoice's dunning.
    query<{ invoice_id: string; status: string; amount: string; at: number }, PaymentRow[]>(
      db
        .prepare(
          `SELECT invoice_id, status, amount, at FROM payments
           WHERE tenant_id = ? AND status IN ('succeeded', 'failed')`,
        )
        .bind(tenantId),
      (rows) =>
        rows.map((r) => ({
          invoice_id: r.invoice_id,
          failed: r.status === "failed",
          at: r.at,
          amount: toNanos(r.amount),
        })),
    ),
  ]);
  const paymentsOf = new Map<string, { at: number; amount: bigint }[]>();
  const firstFailure = new Map<string, number>();
  for (const p of payments) {
    if (p.failed) {
      firstFailure.set(p.invoice_id, Math.min(p.at, firstFailure.get(p.invoice_id) ?? p.at));
      continue;
    }
    const list = paymentsOf.get(p.invoice_id) ?? [];
    list.push({ at: p.at, amount: p.amount });
    paymentsOf.set(p.invoice_id, list);
  }
  for (const inv of invoices) {
    const list = paymentsOf.get(inv.id);
    if (list) inv.payments = list;
    const failed = firstFailure.get(inv.id);
    if (failed !== undefined) inv.first_failed_at = failed;
  }
  const statusChanges = new Map<string, StatusChange[]>();
  for (const r of [...changes, ...direct]) {
    let list = statusChanges.get(r.subscription_id);
    if (!list) {
      list = [];
      statusChanges.set(r.subscription_id, list);
    }
    list.push({ at: r.at, status: r.status });
  }
  return { subscriptions, statusChanges, usage, invoices };
}

/** Detection's signals (schema/0004, 0008): open ones, and resolved ones with when, so at-risk
 * can be told for any past date. A signal counts from the end of the window it judged (a replayed
 * finding about last month counts from then) or from when it was recorded, whichever is first:
 * a pacing or margin finding judges a period that ends in the future, and is open now. Tenant-wide
 * findings (customer "*": a budget alert) put no customer at risk. */
export async function kpiSignals(db: D1Database, tenantId: string): Promise<CustomerSignal[]> {
  const { results } = await db
    .prepare(
      "SELECT customer_id, MIN(window_end, created_at) AS opened_at, resolved_at FROM signals WHERE tenant_id = ? AND customer_id <> '*' AND (status = 'open' OR resolved_at IS NOT NULL)",
    )
    .bind(tenantId)
    .all<{ customer_id: string; opened_at: number; resolved_at: number | null }>();
  return results.map((s) => ({
    customer_id: s.customer_id,
    opened_at: s.opened_at,
    resolved_at: s.resolved_at,
  }));
}

/** A coupon the ladder granted (decimal strings; ends at valid_to or at its revocation). */
export interface KpiCoupon {
  customer_id: string;
  subscription_id: string | null;
  percent_off: string | null;
  amount_off: string | null;
  valid_from: number;
  valid_to: number | null;
  revoked_at: number | null;
}

export async function kpiCoupons(db: D1Database, tenantId: string): Promise<KpiCoupon[]> {
  const { results } = await db
    .prepare(
      `SELECT customer_id, subscription_id, percent_off, amount_off, valid_from, valid_to,
         revoked_at FROM coupons WHERE tenant_id = ? ORDER BY valid_from, id`,
    )
    .bind(tenantId)
    .all<KpiCoupon>();
  return results;
}

/** Names of the given customers of a tenant (a drill-down page's ids, at most a few hundred). */
export async function customerNames(
  db: D1Database,
  tenantId: string,
  ids: readonly string[],
): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const { results } = await db
    .prepare(
      `SELECT c.id, c.name FROM json_each(?2) j
       JOIN customers c ON c.tenant_id = ?1 AND c.id = j.value`,
    )
    .bind(tenantId, JSON.stringify(ids))
    .all<{ id: string; name: string }>();
  return new Map(results.map((r) => [r.id, r.name]));
}
