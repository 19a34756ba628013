import { INVOICE_TRANSITIONS, type InvoiceStatus } from "../domain/invoice-states";
import type { InvoiceCharges } from "../domain/subscription-phases";

// Invoices and their lines in D1 (SPEC §3), and the reads invoicing and dunning make. Money
// columns hold exact integers (read as TEXT, mapped to bigint).

export interface InvoiceRecord {
  id: string;
  subscription_id: string;
  customer_id: string;
  product_id: string;
  currency: string;
  status: InvoiceStatus;
  period_start: number;
  period_end: number;
  closes_at: number;
  subtotal: bigint;
  minimum_topup: bigint;
  discount_total: bigint;
  rounding: bigint;
  total: bigint;
  usage_total: bigint;
  issued_at: number | null;
  due_at: number | null;
  finalized_at: number | null;
  paid_at: number | null;
  payment_reference: string | null;
  voided_at: number | null;
  void_reason: string | null;
  /** Who paid, voided or finalised it: an actor ref (`member:<email>`, `token:<key id>`), or
   * `system` for the invoicing run's finalisation (schema/0015_invoice_actors.sql). */
  paid_by: string | null;
  voided_by: string | null;
  finalized_by: string | null;
  /** What payments brought in and refunds gave back (schema/0016_payments.sql); an invoice
   * paid with POST /pay counts as paid in full. */
  amount_paid: bigint;
  amount_refunded: bigint;
  /** Payment attempts recorded on it (GET /api/invoices/:id/payments), failed ones included. */
  payments_count: number;
  created_at: number;
  updated_at: number;
}

const MONEY = [
  "subtotal",
  "minimum_topup",
  "discount_total",
  "rounding",
  "total",
  "usage_total",
  "amount_paid",
  "amount_refunded",
] as const;

type InvoiceRow = Omit<InvoiceRecord, (typeof MONEY)[number]> &
  Record<(typeof MONEY)[number], string>;

const toInvoiceRecord = (r: InvoiceRow): InvoiceRecord => ({
  ...r,
  subtotal: BigInt(r.subtotal),
  minimum_topup: BigInt(r.minimum_topup),
  discount_total: BigInt(r.discount_total),
  rounding: BigInt(r.rounding),
  total: BigInt(r.total),
  usage_total: BigInt(r.usage_total),
  amount_paid: BigInt(r.amount_paid),
  amount_refunded: BigInt(r.amount_refunded),
});

export interface InvoiceLineRecord {
  position: number;
  plan_id: string | null;
  service_from: number | null;
  service_to: number | null;
  component_index: number | null;
  type: string;
  metric_id: string | null;
  quantity: bigint;
  amount: bigint;
  description: string;
}

type LineRow = Omit<InvoiceLineRecord, "quantity" | "amount"> & {
  quantity: string;
  amount: string;
};

const INVOICE_SELECT = `SELECT id, subscription_id, customer_id, product_id, currency, status, period_start,
  period_end, closes_at, CAST(subtotal AS TEXT) AS subtotal, CAST(minimum_topup AS TEXT) AS minimum_topup,
  CAST(discount_total AS TEXT) AS discount_total, CAST(rounding AS TEXT) AS rounding,
  CAST(total AS TEXT) AS total, CAST(usage_total AS TEXT) AS usage_total, issued_at, due_at,
  finalized_at, paid_at, payment_reference, voided_at, void_reason, paid_by, voided_by,
  finalized_by, CAST(amount_paid AS TEXT) AS amount_paid,
  CAST(amount_refunded AS TEXT) AS amount_refunded,
  (SELECT COUNT(*) FROM payments p WHERE p.tenant_id = invoices.tenant_id
    AND p.invoice_id = invoices.id) AS payments_count, created_at, updated_at
  FROM invoices`;

/** An invoice with its lines; null when it does not exist. One round trip. */
export async function getInvoiceWithLines(
  db: D1Database,
  tenantId: string,
  id: string,
): Promise<{ invoice: InvoiceRecord; lines: InvoiceLineRecord[] } | null> {
  const [head, lines] = await db.batch([
    db.prepare(`${INVOICE_SELECT} WHERE tenant_id = ? AND id = ?`).bind(tenantId, id),
    db
      .prepare(
        `SELECT position, plan_id, service_from, service_to, component_index, type, metric_id,
           quantity, CAST(amount AS TEXT) AS amount, description
         FROM invoice_lines WHERE tenant_id = ? AND invoice_id = ? ORDER BY position`,
      )
      .bind(tenantId, id),
  ]);
  const row = head?.results[0] as InvoiceRow | undefined;
  if (!row) return null;
  return {
    invoice: toInvoiceRecord(row),
    lines: ((lines?.results ?? []) as LineRow[]).map((l) => ({
      ...l,
      quantity: BigInt(l.quantity),
      amount: BigInt(l.amount),
    })),
  };
}

export interface InvoiceQuery {
  customer: string | null;
  subscription: string | null;
  status: InvoiceStatus | null;
  /** Periods starting at or after / before (epoch ms). */
  periodFrom: number | null;
  periodTo: number | null;
  /** Keyset cursor: the last (period_start, id) of the previous page. */
  after: { period_start: number; id: string } | null;
  limit: number;
}

/** Invoices newest period first, then by id. */
export async function listInvoices(
  db: D1Database,
  tenantId: string,
  q: InvoiceQuery,
): Promise<InvoiceRecord[]> {
  const { results } = await db
    .prepare(
      `${INVOICE_SELECT} WHERE tenant_id = ?1 AND (?2 IS NULL OR customer_id = ?2)
         AND (?3 IS NULL OR subscription_id = ?3) AND (?4 IS NULL OR status = ?4)
         AND (?5 IS NULL OR period_start >= ?5) AND (?6 IS NULL OR period_start < ?6)
         AND (?7 IS NULL OR period_start < ?7 OR (period_start = ?7 AND id > ?8))
       ORDER BY period_start DESC, id LIMIT ?9`,
    )
    .bind(
      tenantId,
      q.customer,
      q.subscription,
      q.status,
      q.periodFrom,
      q.periodTo,
      q.after?.period_start ?? null,
      q.after?.id ?? "",
      q.limit,
    )
    .all<InvoiceRow>();
  return results.map(toInvoiceRecord);
}

/** The latest non-void invoice covering time at or after `at`, if any: history before it is
 * settled (void the invoice to change it). */
export async function invoiceCoveringAfter(
  db: D1Database,
  tenantId: string,
  subId: string,
  at: number,
): Promise<{ id: string; period_start: number; period_end: number } | null> {
  return db
    .prepare(
      `SELECT id, period_start, period_end FROM invoices
       WHERE tenant_id = ? AND subscription_id = ? AND status <> 'void' AND period_end > ?
       ORDER BY period_start DESC LIMIT 1`,
    )
    .bind(tenantId, subId, at)
    .first<{ id: string; period_start: number; period_end: number }>();
}

// ---------------------------------------------------------------------------------------------
// State transitions (domain/invoice-states.ts). Each statement repeats the allowed source states
// in its WHERE, so a concurrent transition makes it change nothing (meta.changes = 0).

export interface InvoiceState {
  status: InvoiceStatus;
  issued_at: number | null;
  due_at: number | null;
  subscription_id: string;
}

export async function invoiceState(
  db: D1Database,
  tenantId: string,
  id: string,
): Promise<InvoiceState | null> {
  return db
    .prepare(
      "SELECT status, issued_at, due_at, subscription_id FROM invoices WHERE tenant_id = ? AND id = ?",
    )
    .bind(tenantId, id)
    .first<InvoiceState>();
}

const guarded = (from: readonly InvoiceStatus[]) =>
  `WHERE tenant_id = ? AND id = ? AND status IN (${from.map(() => "?").join(", ")})`;

const PAY_FROM = INVOICE_TRANSITIONS.pay.from;
const VOID_FROM = INVOICE_TRANSITIONS.void.from;
const FINALIZE_FROM = INVOICE_TRANSITIONS.finalize.from;

/** `finalized_by` of an invoice the invoicing run finalised: no person did, and unlike NULL
 * (before schema/0015_invoice_actors.sql) it says so. */
export const SYSTEM_ACTOR = "system";

/** Paid in full by the operator's word (POST /pay): whatever was still due counts as paid. */
export const payStatement = (
  db: D1Database,
  tenantId: string,
  id: string,
  p: { at: number; reference: string | null; now: number; by: string },
) =>
  db
    .prepare(
      `UPDATE invoices SET status = 'paid', paid_at = ?, payment_reference = ?, paid_by = ?,
         amount_paid = total, updated_at = ?
       ${guarded(PAY_FROM)}`,
    )
    .bind(p.at, p.reference, p.by, p.now, tenantId, id, ...PAY_FROM);

export const voidStatement = (
  db: D1Database,
  tenantId: string,
  id: string,
  v: { reason: string | null; now: number; by: string },
) =>
  db
    .prepare(
      `UPDATE invoices SET status = 'void', voided_at = ?, void_reason = ?, voided_by = ?,
         updated_at = ?
       ${guarded(VOID_FROM)}`,
    )
    .bind(v.now, v.reason, v.by, v.now, tenantId, id, ...VOID_FROM);

/** Issued at its period close, due `termsMs` later; a zero total is paid at once (by owing
 * nothing: paid_by stays NULL, `by` finalised it). */
export const finalizeStatement = (
  db: D1Database,
  tenantId: string,
  id: string,
  f: { termsMs: number; now: number; by: string },
) =>
  db
    .prepare(
      `UPDATE invoices SET status = CASE WHEN total > 0 THEN 'open' ELSE 'paid' END,
         issued_at = closes_at, due_at = closes_at + ?, finalized_at = ?, finalized_by = ?,
         paid_at = CASE WHEN total > 0 THEN NULL ELSE closes_at END, updated_at = ?
       ${guarded(FINALIZE_FROM)}`,
    )
    .bind(f.termsMs, f.now, f.by, f.now, tenantId, id, ...FINALIZE_FROM);

// ---------------------------------------------------------------------------------------------
// Invoicing runs (workers/billing/invoicing.ts)

export interface PeriodKey {
  subscription_id: string;
  period_start: number;
}

/** Each subscription's latest invoiced period start (any status). */
export async function lastInvoicedPeriods(
  db: D1Database,
  tenantId: string,
  subscriptionId: string | null,
): Promise<Map<string, number>> {
  const { results } = await db
    .prepare(
      `SELECT subscription_id, MAX(period_start) AS last FROM invoices
       WHERE tenant_id = ?1 AND (?2 IS NULL OR subscription_id = ?2) GROUP BY subscription_id`,
    )
    .bind(tenantId, subscriptionId)
    .all<{ subscription_id: string; last: number }>();
  return new Map(results.map((r) => [r.subscription_id, r.last]));
}

export async function draftInvoices(
  db: D1Database,
  tenantId: string,
  subscriptionId: string | null,
): Promise<(PeriodKey & { id: string })[]> {
  const { results } = await db
    .prepare(
      `SELECT id, subscription_id, period_start FROM invoices
       WHERE tenant_id = ?1 AND status = 'draft' AND (?2 IS NULL OR subscription_id = ?2)`,
    )
    .bind(tenantId, subscriptionId)
    .all<PeriodKey & { id: string }>();
  return results;
}

/** Periods whose only invoices were voided. */
export async function voidedOnlyPeriods(
  db: D1Database,
  tenantId: string,
  subscriptionId: string | null,
): Promise<PeriodKey[]> {
  const { results } = await db
    .prepare(
      `SELECT DISTINCT v.subscription_id, v.period_start FROM invoices v
       WHERE v.tenant_id = ?1 AND v.status = 'void' AND (?2 IS NULL OR v.subscription_id = ?2)
         AND NOT EXISTS (SELECT 1 FROM invoices o WHERE o.tenant_id = v.tenant_id
           AND o.subscription_id = v.subscription_id AND o.period_start = v.period_start
           AND o.status <> 'void')`,
    )
    .bind(tenantId, subscriptionId)
    .all<PeriodKey>();
  return results;
}

/** A coupon (written by the ladder's apply_coupon): decimal strings, epoch ms. */
export interface CouponRecord {
  id: string;
  subscription_id: string | null;
  percent_off: string | null;
  amount_off: string | null;
  valid_from: number;
  valid_to: number | null;
  revoked_at: number | null;
}

export async function couponsOf(db: D1Database, tenantId: string): Promise<CouponRecord[]> {
  const { results } = await db
    .prepare(
      `SELECT id, subscription_id, percent_off, amount_off, valid_from, valid_to, revoked_at
       FROM coupons WHERE tenant_id = ? ORDER BY valid_from, id`,
    )
    .bind(tenantId)
    .all<CouponRecord>();
  return results;
}

/** Where an invoice stands in its lifecycle (workers/billing/invoicing.ts decides). */
export interface InvoiceLifecycle {
  status: InvoiceStatus;
  issued_at: number | null;
  due_at: number | null;
  finalized_at: number | null;
  paid_at: number | null;
}

const moneyOf = (c: InvoiceCharges) => [
  Number(c.subtotal),
  Number(c.minimum_topup),
  Number(c.discount_total),
  Number(c.rounding),
  Number(c.total),
  Number(c.usage_total),
];

/** The invoicing run finalises an invoice past its grace hour: the system, not a person. */
const runFinalizedBy = (life: InvoiceLifecycle) =>
  life.finalized_at === null ? null : SYSTEM_ACTOR;

/** The lines of an invoice, written only while the invoice exists. */
function lineStatements(db: D1Database, tenantId: string, id: string, c: InvoiceCharges) {
  return c.lines.map((l, i) =>
    db
      .prepare(
        `INSERT OR IGNORE INTO invoice_lines (tenant_id, invoice_id, position, plan_id, service_from, service_to,
           component_index, type, metric_id, quantity, amount, description)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12
         WHERE EXISTS (SELECT 1 FROM invoices WHERE tenant_id = ?1 AND id = ?2)`,
      )
      .bind(
        tenantId,
        id,
        i,
        l.plan_id,
        l.service_from,
        l.service_to,
        l.component_index,
        l.type,
        l.metric ?? null,
        l.quantity.toString(),
        Number(l.amount),
        l.description,
      ),
  );
}

/** Recomputes a draft: its amounts, its state and its lines. The first statement changes
 * nothing when the invoice is no longer a draft, and the lines are then left alone. */
export function draftRefreshStatements(
  db: D1Database,
  tenantId: string,
  draftId: string,
  charges: InvoiceCharges,
  life: InvoiceLifecycle,
  now: number,
): D1PreparedStatement[] {
  return [
    db
      .prepare(
        `UPDATE invoices SET subtotal = ?3, minimum_topup = ?4, discount_total = ?5, rounding = ?6,
           total = ?7, usage_total = ?8, status = ?9, issued_at = ?10, due_at = ?11,
           finalized_at = ?12, paid_at = ?13, updated_at = ?14, finalized_by = ?15
         WHERE tenant_id = ?1 AND id = ?2 AND status = 'draft'`,
      )
      .bind(
        tenantId,
        draftId,
        ...moneyOf(charges),
        life.status,
        life.issued_at,
        life.due_at,
        life.finalized_at,
        life.paid_at,
        now,
        runFinalizedBy(life),
      ),
    db
      .prepare(
        `DELETE FROM invoice_lines WHERE tenant_id = ?1 AND invoice_id = ?2
         AND EXISTS (SELECT 1 FROM invoices WHERE tenant_id = ?1 AND id = ?2 AND updated_at = ?3)`,
      )
      .bind(tenantId, draftId, now),
    ...lineStatements(db, tenantId, draftId, charges),
  ];
}

/** Creates an invoice with its lines. The first statement changes nothing when the period
 * already has a non-void invoice (a partial unique index), and no lines are written then. */
export function invoiceInsertStatements(
  db: D1Database,
  tenantId: string,
  inv: {
    id: string;
    subscription_id: string;
    customer_id: string;
    product_id: string;
    currency: string;
    period_start: number;
    period_end: number;
    closes_at: number;
  },
  charges: InvoiceCharges,
  life: InvoiceLifecycle,
  now: number,
): D1PreparedStatement[] {
  return [
    db
      .prepare(
        `INSERT OR IGNORE INTO invoices (tenant_id, id, subscription_id, customer_id, product_id,
           currency, period_start, period_end, closes_at, status, subtotal, minimum_topup,
           discount_total, rounding, total, usage_total, issued_at, due_at, finalized_at, paid_at,
           created_at, updated_at, finalized_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
           ?19, ?20, ?21, ?21, ?22)`,
      )
      .bind(
        tenantId,
        inv.id,
        inv.subscription_id,
        inv.customer_id,
        inv.product_id,
        inv.currency,
        inv.period_start,
        inv.period_end,
        inv.closes_at,
        life.status,
        ...moneyOf(charges),
        life.issued_at,
        life.due_at,
        life.finalized_at,
        life.paid_at,
        now,
        runFinalizedBy(life),
      ),
    ...lineStatements(db, tenantId, inv.id, charges),
  ];
}

// ---------------------------------------------------------------------------------------------
// Dunning

/** Subscriptions (active or trialing) with an open invoice due by `now`, the earliest due date,
 * and no status recorded since it: they become past_due at that instant. */
export async function newlyOverdue(
  db: D1Database,
  tenantId: string,
  now: number,
): Promise<{ subscription_id: string; due: number; invoice_id: string }[]> {
  const { results } = await db
    .prepare(
      `SELECT x.subscription_id, x.due, x.invoice_id FROM (
         SELECT i.subscription_id, MIN(i.due_at) AS due, MIN(i.id) AS invoice_id FROM invoices i
         WHERE i.tenant_id = ?1 AND i.status = 'open' AND i.due_at <= ?2 GROUP BY i.subscription_id
       ) x JOIN subscriptions s ON s.tenant_id = ?1 AND s.id = x.subscription_id
       WHERE s.status IN ('active', 'trialing')
         AND NOT EXISTS (SELECT 1 FROM subscription_status_changes c WHERE c.tenant_id = ?1
           AND c.subscription_id = x.subscription_id AND c.at >= x.due)`,
    )
    .bind(tenantId, now)
    .all<{ subscription_id: string; due: number; invoice_id: string }>();
  return results;
}

/** At `at`: the status change in force and how many of the subscription's invoices were
 * overdue then (open now, or paid or voided only after `at`); null when the subscription does
 * not exist. */
export async function dunningStateAt(
  db: D1Database,
  tenantId: string,
  subscriptionId: string,
  at: number,
): Promise<{ in_force: string | null; overdue: number } | null> {
  return db
    .prepare(
      `SELECT s.status,
         (SELECT c.status FROM subscription_status_changes c WHERE c.tenant_id = s.tenant_id
           AND c.subscription_id = s.id AND c.at <= ?3 ORDER BY c.at DESC, c.seq DESC LIMIT 1) AS in_force,
         (SELECT COUNT(*) FROM invoices i WHERE i.tenant_id = s.tenant_id AND i.subscription_id = s.id
           AND i.due_at <= ?3 AND (i.status = 'open' OR (i.status = 'paid' AND i.paid_at > ?3)
             OR (i.status = 'void' AND i.voided_at > ?3))) AS overdue
       FROM subscriptions s WHERE s.tenant_id = ?1 AND s.id = ?2`,
    )
    .bind(tenantId, subscriptionId, at)
    .first<{ in_force: string | null; overdue: number }>();
}

// ---------------------------------------------------------------------------------------------
// Tracing an invoice's usage lines to the rollups behind them

export interface UsageTotals {
  /** Micro-units. */
  units: bigint;
  /** Nanos. */
  revenue: bigint;
  cost: bigint;
  events: number;
}

/** A customer's rollups of one product × metric over [from, to): whole UTC days from
 * rollups_daily, the partial days at either end from rollups_hourly (hours starting in the
 * range). One statement. */
export async function usageTotals(
  db: D1Database,
  tenantId: string,
  q: { customer: string; product: string; metric: string; from: number; to: number },
): Promise<UsageTotals> {
  const DAY = 86_400_000;
  const dayFrom = Math.ceil(q.from / DAY) * DAY;
  const dayTo = Math.floor(q.to / DAY) * DAY;
  const whole = dayFrom < dayTo;
  // Hours: [from, dayFrom) and [dayTo, to) around the whole days, or all of [from, to).
  const headTo = whole ? dayFrom : q.to;
  const tailFrom = whole ? dayTo : q.to;
  const row = await db
    .prepare(
      `SELECT CAST(COALESCE(SUM(units), 0) AS TEXT) AS units,
         CAST(COALESCE(SUM(revenue), 0) AS TEXT) AS revenue,
         CAST(COALESCE(SUM(cost), 0) AS TEXT) AS cost, COALESCE(SUM(events), 0) AS events
       FROM (
         SELECT units, revenue, cost, events FROM rollups_daily
         WHERE tenant_id = ?1 AND customer_id = ?2 AND start >= ?5 AND start < ?6
           AND product_id = ?3 AND metric_id = ?4
         UNION ALL
         SELECT units, revenue, cost, events FROM rollups_hourly
         WHERE tenant_id = ?1 AND ((start >= ?7 AND start < ?8) OR (start >= ?9 AND start < ?10))
           AND customer_id = ?2 AND product_id = ?3 AND metric_id = ?4
       )`,
    )
    .bind(
      tenantId,
      q.customer,
      q.product,
      q.metric,
      whole ? dayFrom : 0,
      whole ? dayTo : 0,
      q.from,
      headTo,
      tailFrom,
      q.to,
    )
    .first<{ units: string; revenue: string; cost: string; events: number }>();
  return {
    units: BigInt(row?.units ?? "0"),
    revenue: BigInt(row?.revenue ?? "0"),
    cost: BigInt(row?.cost ?? "0"),
    events: row?.events ?? 0,
  };
}
