import { type InvoiceTransition, transitionRefusal } from "../../domain/invoice-states";
import type { Coupon } from "../../domain/pricing";
import { conflict, done, invalid, notFound, ok, type Result } from "../../domain/result";
import {
  type BillingPeriod,
  billingPeriods,
  type InvoiceCharges,
  invoiceCharges,
} from "../../domain/subscription-phases";
import { DAY_MS, HOUR_MS, MINUTE_MS } from "../../domain/time";
import { actorName } from "../../durable-objects/customer-actor";
import {
  type CouponRecord,
  couponsOf,
  draftInvoices,
  draftRefreshStatements,
  dunningStateAt,
  finalizeStatement,
  type InvoiceLifecycle,
  type InvoiceState,
  invoiceInsertStatements,
  invoiceState,
  lastInvoicedPeriods,
  newlyOverdue,
  payStatement,
  voidedOnlyPeriods,
  voidStatement,
} from "../../store/invoices";
import {
  bumpBillingVersion,
  type SubscriptionHistoryTerms,
  subscriptionExists,
  tenantSubscriptionHistories,
} from "../../store/subscriptions";
import { loadTenantSettings } from "../../store/tenants";
import { randomHex } from "../auth";
import { clockMs, flushPipelineTelemetry, observe } from "../telemetry";
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

/** Allowed lateness of usage after a period closes before its invoice is finalised. */
export const INVOICE_GRACE_MS = HOUR_MS;
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

/** Coupons (written by the ladder's apply_coupon) in force at the period close. */
function couponsFor(rows: readonly CouponRecord[], subId: string, closesAt: number): Coupon[] {
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
  coupons: readonly CouponRecord[],
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

/** Status, issue and due dates of an invoice whose period closed at `closesAt`. */
function lifecycle(
  closesAt: number,
  total: bigint,
  termsDays: number,
  now: number,
): InvoiceLifecycle {
  if (closesAt + INVOICE_GRACE_MS > now) {
    return { status: "draft", issued_at: null, due_at: null, finalized_at: null, paid_at: null };
  }
  const due = closesAt + termsDays * DAY_MS;
  return total > 0n
    ? { status: "open", issued_at: closesAt, due_at: due, finalized_at: now, paid_at: null }
    : { status: "paid", issued_at: closesAt, due_at: due, finalized_at: now, paid_at: closesAt };
}

type RunOptions = { now?: number; subscriptionId?: string; reissueVoided?: boolean };

/**
 * Invoices every billing period of the tenant that closed at or before `asOf`, refreshes drafts
 * and finalises those past the grace, and marks subscriptions with overdue invoices past_due.
 * `subscriptionId` limits the run to one subscription; `reissueVoided` also bills periods whose
 * only invoices were voided (after correcting the history). Each run is counted in the pipeline
 * telemetry (`invoice_run`: ok or failed, its duration, the invoices it created or finalised).
 */
export async function runInvoicing(
  env: Env,
  tenantId: string,
  asOf: number,
  opts: RunOptions = {},
): Promise<RunResult> {
  const started = clockMs();
  const record = (outcome: "ok" | "failed", items: number) =>
    observe(env.DB, null, {
      tenantId,
      series: "invoice_run",
      outcome,
      items,
      error: outcome === "failed",
      latencyUs: (clockMs() - started) * 1000,
    });
  try {
    const result = await invoicePeriods(env, tenantId, asOf, opts);
    record("ok", result.created + result.finalized);
    return result;
  } catch (err) {
    record("failed", 0);
    throw err;
  }
}

async function invoicePeriods(
  env: Env,
  tenantId: string,
  asOf: number,
  opts: RunOptions,
): Promise<RunResult> {
  const db = env.DB;
  const now = opts.now ?? Date.now();
  const subFilter = opts.subscriptionId ?? null;
  const [settings, plans, subs, lastInvoiced, drafts, voided, coupons] = await Promise.all([
    loadTenantSettings(db, tenantId),
    loadTenantPlans(db, tenantId),
    tenantSubscriptionHistories(db, tenantId, { subscriptionId: subFilter, startedBefore: asOf }),
    lastInvoicedPeriods(db, tenantId, subFilter),
    draftInvoices(db, tenantId, subFilter),
    opts.reissueVoided ? voidedOnlyPeriods(db, tenantId, subFilter) : Promise.resolve([]),
    tolerateMissingTable(() => couponsOf(db, tenantId)),
  ]);
  const couponRows = coupons ?? [];
  const intervalOf = (id: string) => plans.get(id)?.plan.interval;
  const draftBy = new Map(drafts.map((d) => [`${d.subscription_id}|${d.period_start}`, d]));
  const reissue = new Set(voided.map((v) => `${v.subscription_id}|${v.period_start}`));
  // Where each subscription's listing can start: its last invoiced period, or an earlier draft
  // or voided period to revisit (a period is listed when it ends after this instant).
  const revisit = new Map<string, number>();
  for (const r of [...drafts, ...voided]) {
    const at = Math.min(revisit.get(r.subscription_id) ?? r.period_start, r.period_start);
    revisit.set(r.subscription_id, at);
  }

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
    const currency = plans.get(p.period.pieces[0]?.plan_id ?? "")?.plan.currency ?? "USD";
    if (p.draftId !== undefined) {
      const res = await db.batch([
        ...draftRefreshStatements(db, tenantId, p.draftId, charges, life, now),
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
    const invoice = {
      id,
      subscription_id: p.sub.subscription_id,
      customer_id: p.sub.customer_id,
      product_id: p.sub.product_id,
      currency,
      period_start: p.period.start,
      period_end: p.period.end,
      closes_at: p.period.closes_at,
    };
    const res = await db.batch([
      ...invoiceInsertStatements(db, tenantId, invoice, charges, life, now),
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
  for (const r of await newlyOverdue(db, tenantId, now)) {
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
  const row = await dunningStateAt(db, tenantId, subscriptionId, at);
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

// ---------------------------------------------------------------------------------------------
// Transitions an operator asks for (POST /api/invoices/:id/pay, /void, /finalize) and manual
// runs (POST /api/invoices/run). Refusals are results; the routes map them to problem+json.

/** Applies one transition if the invoice's state allows it (domain/invoice-states.ts); the
 * statement's own guard catches a concurrent change. */
async function transition(
  db: D1Database,
  tenantId: string,
  id: string,
  current: InvoiceState | null,
  kind: InvoiceTransition,
  statement: D1PreparedStatement,
): Promise<Result<InvoiceState>> {
  if (!current) return notFound("Invoice", id);
  const refusal = transitionRefusal(id, current.status, kind);
  if (refusal !== null) return conflict(refusal);
  const [res] = await db.batch([statement, bumpBillingVersion(db, tenantId)]);
  if ((res?.meta.changes ?? 0) === 0) {
    return conflict(`Invoice '${id}' changed meanwhile; read it again`);
  }
  return ok(current);
}

/** open → paid at `at` (not before the issue date, not in the future) by the actor `by` (its
 * ref, kept as paid_by); a past_due subscription with no other overdue invoice returns to
 * active. */
export async function payInvoice(
  db: D1Database,
  tenantId: string,
  id: string,
  p: { at: number; reference: string | null; now: number; by: string },
): Promise<Result> {
  const current = await invoiceState(db, tenantId, id);
  if (current && current.issued_at !== null && p.at < current.issued_at) {
    return invalid([{ path: "at", message: "at must not be before the issue date" }]);
  }
  if (p.at > p.now + 5 * MINUTE_MS) {
    return invalid([{ path: "at", message: "at must not be in the future" }]);
  }
  const paid = await transition(
    db,
    tenantId,
    id,
    current,
    "pay",
    payStatement(db, tenantId, id, p),
  );
  if (!paid.ok) return paid;
  await settleInvoiceDunning(db, tenantId, paid.value.subscription_id, id, p.at, p.now);
  // Paid before it fell due, recorded afterwards (a history import): the past_due a run recorded
  // at its due date while it still looked unpaid did not happen; it ends there, unless another
  // invoice was overdue then.
  const due = paid.value.due_at;
  if (due !== null && p.at < due && due <= p.now) {
    await settleInvoiceDunning(db, tenantId, paid.value.subscription_id, id, due, p.now);
  }
  return done;
}

/** draft | open → void by the actor `by` (voided_by); like a payment, it may end the
 * subscription's dunning. */
export async function voidInvoice(
  db: D1Database,
  tenantId: string,
  id: string,
  v: { reason: string | null; now: number; by: string },
): Promise<Result> {
  const current = await invoiceState(db, tenantId, id);
  const voided = await transition(
    db,
    tenantId,
    id,
    current,
    "void",
    voidStatement(db, tenantId, id, v),
  );
  if (!voided.ok) return voided;
  await settleInvoiceDunning(db, tenantId, voided.value.subscription_id, id, v.now, v.now);
  return done;
}

/** draft → open now by the actor `by` (finalized_by): issued at its period close, due by the
 * tenant's payment terms (paid at once when it totals zero). */
export async function finalizeInvoice(
  db: D1Database,
  tenantId: string,
  id: string,
  now: number,
  by: string,
): Promise<Result> {
  const settings = await loadTenantSettings(db, tenantId);
  const termsMs = settings.payment_terms_days * DAY_MS;
  const current = await invoiceState(db, tenantId, id);
  const finalized = await transition(
    db,
    tenantId,
    id,
    current,
    "finalize",
    finalizeStatement(db, tenantId, id, { termsMs, now, by }),
  );
  return finalized.ok ? done : finalized;
}

/** A run an operator asks for: `asOf` not in the future, `subscriptionId` (when given) must
 * exist. */
export async function requestInvoicingRun(
  env: Env,
  tenantId: string,
  req: { asOf: number; subscriptionId?: string | undefined; reissueVoided?: boolean | undefined },
  now: number,
): Promise<Result<RunResult>> {
  if (req.subscriptionId && !(await subscriptionExists(env.DB, tenantId, req.subscriptionId))) {
    return notFound("Subscription", req.subscriptionId);
  }
  if (req.asOf > now) {
    return invalid([{ path: "as_of", message: "as_of must not be in the future" }]);
  }
  const result = await runInvoicing(env, tenantId, req.asOf, {
    now,
    ...(req.subscriptionId ? { subscriptionId: req.subscriptionId } : {}),
    ...(req.reissueVoided ? { reissueVoided: true } : {}),
  });
  await flushPipelineTelemetry(env.DB);
  return ok(result);
}
