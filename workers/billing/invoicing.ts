import type { Coupon } from "../../domain/pricing";
import {
  type BillingPeriod,
  billingPeriods,
  type InvoiceCharges,
  invoiceCharges,
} from "../../domain/subscription-phases";
import { actorName } from "../../durable-objects/customer-actor";
import {
  groupPhases,
  PHASES_ORDER,
  PHASES_SQL,
  type PhaseRow,
  type SubscriptionHistoryTerms,
} from "../../store/subscriptions";
import { randomHex } from "../auth";
import { loadTenantSettings } from "../tenant-settings";
import { bumpBillingVersion } from "./history";
import { loadTenantPlans, pool, type TenantPlan, tolerateMissingTable } from "./plans";
import { recordStatusChange } from "./status";

// Period close → invoice (SPEC §3). Idempotent: at most one non-void invoice per subscription ×
// period start (a partial unique index), so the periodic job, a retried alarm and a manual run
// never bill a period twice.
//
// Lifecycle: an invoice is created when its period closes, as a `draft` while usage may still
// arrive (INVOICE_GRACE_MS after the close; each run recomputes a draft from the ledger), then
// finalised `open`: issued at the period close, due payment_terms_days later. An invoice that
// totals zero (a period wholly in a trial) is `paid` when finalised. `open` → `paid` or `void`,
// `draft` → `void`; every other transition is refused (409).

export const DAY_MS = 86_400_000;
/** Allowed lateness of usage after a period closes before its invoice is finalised. */
export const INVOICE_GRACE_MS = 3_600_000;
const ACTOR_CONCURRENCY = 16;

export interface RunResult {
  as_of: number;
  created: number;
  finalized: number;
  refreshed: number;
  invoice_ids: string[];
}

interface PendingPeriod {
  sub: SubscriptionHistoryTerms;
  period: BillingPeriod;
  draftId?: string;
}

async function usageOf(
  env: Env,
  tenantId: string,
  customerId: string,
  subscriptionId: string,
  ledgerStart: number,
): Promise<Map<string, bigint>> {
  const stub = env.CUSTOMER_ACTOR.getByName(actorName(tenantId, customerId));
  const usage = await stub.periodUsage(subscriptionId, ledgerStart);
  return new Map(Object.entries(usage).map(([m, q]) => [m, BigInt(q)]));
}

interface CouponRow {
  id: string;
  subscription_id: string | null;
  percent_off: string | null;
  amount_off: string | null;
  valid_from: number;
  valid_to: number | null;
  revoked_at: number | null;
}

/** Coupons (written by the ladder's apply_coupon) in force at the period close. */
function couponsFor(rows: readonly CouponRow[], subId: string, closesAt: number): Coupon[] {
  return rows
    .filter(
      (c) =>
        (c.subscription_id === null || c.subscription_id === subId) &&
        c.valid_from <= closesAt &&
        (c.valid_to === null || closesAt < c.valid_to) &&
        (c.revoked_at === null || c.revoked_at > closesAt),
    )
    .map((c) => ({
      ...(c.percent_off !== null ? { percent_off: c.percent_off } : {}),
      ...(c.amount_off !== null ? { amount_off: c.amount_off } : {}),
      description: `Coupon ${c.id}`,
    }));
}

async function chargesFor(
  env: Env,
  tenantId: string,
  plans: ReadonlyMap<string, TenantPlan>,
  coupons: readonly CouponRow[],
  p: PendingPeriod,
): Promise<InvoiceCharges> {
  const stretches = await Promise.all(
    p.period.pieces.map(async (piece) => {
      const plan = plans.get(piece.plan_id)?.plan;
      if (!plan) throw new Error(`plan ${piece.plan_id} not found`);
      const usage = await usageOf(
        env,
        tenantId,
        p.sub.customer_id,
        p.sub.subscription_id,
        piece.ledger_start,
      );
      return { piece, plan, usage };
    }),
  );
  return invoiceCharges(
    p.period,
    p.sub.trial_end,
    stretches,
    couponsFor(coupons, p.sub.subscription_id, p.period.closes_at),
  );
}

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

/** Status, issue and due dates of an invoice whose period closed at `closesAt`. */
function lifecycle(closesAt: number, total: bigint, termsDays: number, now: number) {
  if (closesAt + INVOICE_GRACE_MS > now) {
    return { status: "draft", issued_at: null, due_at: null, finalized_at: null, paid_at: null };
  }
  const due = closesAt + termsDays * DAY_MS;
  return total > 0n
    ? { status: "open", issued_at: closesAt, due_at: due, finalized_at: now, paid_at: null }
    : { status: "paid", issued_at: closesAt, due_at: due, finalized_at: now, paid_at: closesAt };
}

/**
 * Invoices every billing period of the tenant that closed at or before `asOf`, refreshes drafts
 * and finalises those past the grace, and marks subscriptions with overdue invoices past_due.
 * `subscriptionId` limits the run to one subscription; `reissueVoided` also bills periods whose
 * only invoices were voided (after correcting the history).
 */
export async function runInvoicing(
  env: Env,
  tenantId: string,
  asOf: number,
  opts: { now?: number; subscriptionId?: string; reissueVoided?: boolean } = {},
): Promise<RunResult> {
  const db = env.DB;
  const now = opts.now ?? Date.now();
  const subFilter = opts.subscriptionId ?? null;
  const [settings, plans, phaseRows, invoiced, drafts, voided, coupons] = await Promise.all([
    loadTenantSettings(db, tenantId),
    loadTenantPlans(db, tenantId),
    db
      .prepare(
        `${PHASES_SQL} WHERE s.tenant_id = ?1 AND (?2 IS NULL OR s.id = ?2) AND s.start_at < ?3 ${PHASES_ORDER}`,
      )
      .bind(tenantId, subFilter, asOf)
      .all<PhaseRow>(),
    db
      .prepare(
        `SELECT subscription_id, MAX(period_start) AS last FROM invoices
         WHERE tenant_id = ?1 AND (?2 IS NULL OR subscription_id = ?2) GROUP BY subscription_id`,
      )
      .bind(tenantId, subFilter)
      .all<{ subscription_id: string; last: number }>(),
    db
      .prepare(
        `SELECT id, subscription_id, period_start FROM invoices
         WHERE tenant_id = ?1 AND status = 'draft' AND (?2 IS NULL OR subscription_id = ?2)`,
      )
      .bind(tenantId, subFilter)
      .all<{ id: string; subscription_id: string; period_start: number }>(),
    opts.reissueVoided
      ? db
          .prepare(
            `SELECT DISTINCT v.subscription_id, v.period_start FROM invoices v
             WHERE v.tenant_id = ?1 AND v.status = 'void' AND (?2 IS NULL OR v.subscription_id = ?2)
               AND NOT EXISTS (SELECT 1 FROM invoices o WHERE o.tenant_id = v.tenant_id
                 AND o.subscription_id = v.subscription_id AND o.period_start = v.period_start
                 AND o.status <> 'void')`,
          )
          .bind(tenantId, subFilter)
          .all<{ subscription_id: string; period_start: number }>()
      : Promise.resolve({ results: [] as { subscription_id: string; period_start: number }[] }),
    tolerateMissingTable(() =>
      db
        .prepare(
          `SELECT id, subscription_id, percent_off, amount_off, valid_from, valid_to, revoked_at
           FROM coupons WHERE tenant_id = ? ORDER BY valid_from, id`,
        )
        .bind(tenantId)
        .all<CouponRow>(),
    ),
  ]);
  const couponRows = coupons?.results ?? [];
  const intervalOf = (id: string) => plans.get(id)?.plan.interval;
  const lastInvoiced = new Map(invoiced.results.map((r) => [r.subscription_id, r.last]));
  const draftBy = new Map(drafts.results.map((d) => [`${d.subscription_id}|${d.period_start}`, d]));
  const reissue = new Set(voided.results.map((v) => `${v.subscription_id}|${v.period_start}`));
  // Where each subscription's listing can start: its last invoiced period, or an earlier draft
  // or voided period to revisit (a period is listed when it ends after this instant).
  const revisit = new Map<string, number>();
  for (const r of [...drafts.results, ...voided.results]) {
    const at = Math.min(revisit.get(r.subscription_id) ?? r.period_start, r.period_start);
    revisit.set(r.subscription_id, at);
  }
  const subs = groupPhases(phaseRows.results);

  const pending: PendingPeriod[] = [];
  for (const sub of subs) {
    const last = lastInvoiced.get(sub.subscription_id);
    const after =
      last === undefined ? undefined : Math.min(last, revisit.get(sub.subscription_id) ?? last);
    for (const period of billingPeriods(sub, intervalOf, asOf, after)) {
      if (period.closes_at > asOf) continue;
      const key = `${sub.subscription_id}|${period.start}`;
      const draft = draftBy.get(key);
      if (draft) pending.push({ sub, period, draftId: draft.id });
      else if (last === undefined || period.start > last || reissue.has(key))
        pending.push({ sub, period });
    }
  }

  const result: RunResult = {
    as_of: asOf,
    created: 0,
    finalized: 0,
    refreshed: 0,
    invoice_ids: [],
  };
  const terms = settings.payment_terms_days;
  await pool(pending, ACTOR_CONCURRENCY, async (p) => {
    const charges = await chargesFor(env, tenantId, plans, couponRows, p);
    const life = lifecycle(p.period.closes_at, charges.total, terms, now);
    const money = [
      Number(charges.subtotal),
      Number(charges.minimum_topup),
      Number(charges.discount_total),
      Number(charges.rounding),
      Number(charges.total),
      Number(charges.usage_total),
    ];
    const currency = plans.get(p.period.pieces[0]?.plan_id ?? "")?.plan.currency ?? "USD";
    if (p.draftId !== undefined) {
      const res = await db.batch([
        db
          .prepare(
            `UPDATE invoices SET subtotal = ?3, minimum_topup = ?4, discount_total = ?5, rounding = ?6,
               total = ?7, usage_total = ?8, status = ?9, issued_at = ?10, due_at = ?11,
               finalized_at = ?12, paid_at = ?13, updated_at = ?14
             WHERE tenant_id = ?1 AND id = ?2 AND status = 'draft'`,
          )
          .bind(
            tenantId,
            p.draftId,
            ...money,
            life.status,
            life.issued_at,
            life.due_at,
            life.finalized_at,
            life.paid_at,
            now,
          ),
        db
          .prepare(
            `DELETE FROM invoice_lines WHERE tenant_id = ?1 AND invoice_id = ?2
             AND EXISTS (SELECT 1 FROM invoices WHERE tenant_id = ?1 AND id = ?2 AND updated_at = ?3)`,
          )
          .bind(tenantId, p.draftId, now),
        ...lineStatements(db, tenantId, p.draftId, charges),
        bumpBillingVersion(db, tenantId),
      ]);
      if ((res[0]?.meta.changes ?? 0) > 0) {
        if (life.status === "draft") result.refreshed++;
        else result.finalized++;
        result.invoice_ids.push(p.draftId);
      }
      return;
    }
    const id = `inv_${randomHex(10)}`;
    const res = await db.batch([
      db
        .prepare(
          `INSERT OR IGNORE INTO invoices (tenant_id, id, subscription_id, customer_id, product_id,
             currency, period_start, period_end, closes_at, status, subtotal, minimum_topup,
             discount_total, rounding, total, usage_total, issued_at, due_at, finalized_at, paid_at,
             created_at, updated_at)
           VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
             ?19, ?20, ?21, ?21)`,
        )
        .bind(
          tenantId,
          id,
          p.sub.subscription_id,
          p.sub.customer_id,
          p.sub.product_id,
          currency,
          p.period.start,
          p.period.end,
          p.period.closes_at,
          life.status,
          ...money,
          life.issued_at,
          life.due_at,
          life.finalized_at,
          life.paid_at,
          now,
        ),
      ...lineStatements(db, tenantId, id, charges),
      bumpBillingVersion(db, tenantId),
    ]);
    if ((res[0]?.meta.changes ?? 0) > 0) {
      result.created++;
      if (life.status !== "draft") result.finalized++;
      result.invoice_ids.push(id);
    }
  });
  await markOverdue(db, tenantId, now);
  return result;
}

/**
 * Dunning: a subscription whose open invoice is past its due date becomes past_due at that
 * instant (unless suspended or canceled, or an operator recorded a state since); paying or
 * voiding its last overdue invoice returns it to active (settleInvoiceDunning).
 */
export async function markOverdue(db: D1Database, tenantId: string, now: number) {
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
  for (const r of results) {
    await recordStatusChange(
      db,
      tenantId,
      r.subscription_id,
      "past_due",
      r.due,
      `invoice overdue: ${r.invoice_id}`,
      now,
    );
  }
}

/** After an invoice is paid or voided at `at`: back to active when no other open invoice of the
 * subscription was overdue then and it is past_due. */
export async function settleInvoiceDunning(
  db: D1Database,
  tenantId: string,
  subscriptionId: string,
  invoiceId: string,
  at: number,
  now: number,
) {
  const row = await db
    .prepare(
      `SELECT s.status,
         (SELECT c.status FROM subscription_status_changes c WHERE c.tenant_id = s.tenant_id
           AND c.subscription_id = s.id AND c.at <= ?3 ORDER BY c.at DESC, c.seq DESC LIMIT 1) AS in_force,
         (SELECT COUNT(*) FROM invoices i WHERE i.tenant_id = s.tenant_id AND i.subscription_id = s.id
           AND i.status = 'open' AND i.due_at <= ?3) AS overdue
       FROM subscriptions s WHERE s.tenant_id = ?1 AND s.id = ?2`,
    )
    .bind(tenantId, subscriptionId, at)
    .first<{ status: string; in_force: string | null; overdue: number }>();
  if (row && row.in_force === "past_due" && row.overdue === 0) {
    await recordStatusChange(
      db,
      tenantId,
      subscriptionId,
      "active",
      at,
      `invoice settled: ${invoiceId}`,
      now,
    );
  }
}
