import type { BillingInterval } from "../../domain/billing-period";
import {
  type PhaseRecord,
  phasesAfterCancel,
  phasesAfterChange,
} from "../../domain/subscription-phases";
import { groupPhases, PHASES_ORDER, PHASES_SQL, type PhaseRow } from "../../store/subscriptions";
import { ApiError, notFound, validationError } from "../problem";
import { iso } from "../schemas";

// Subscription history in D1: plan phases (subscription_phases) and effective-dated status
// changes (subscription_status_changes). The stored subscriptions row mirrors the history at
// the last settle: status, and plan_id/anchor_at of the phase in force (settleSubscriptions).

/** Bumps the tenant's billing version: stored cockpit snapshots older than it are stale. */
export const bumpBillingVersion = (db: D1Database, tenantId: string) =>
  db
    .prepare(
      `INSERT INTO billing_versions (tenant_id, version) VALUES (?, 1)
       ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1`,
    )
    .bind(tenantId);

/**
 * Brings the stored subscriptions rows in line with their history at `now`: status (canceled
 * once the end has passed; else the latest past_due/suspended change at or before now; else
 * trialing before the trial end; else active), and plan_id/anchor_at of the phase in force
 * (the first phase before the start, the last one after the end). Touches only rows that
 * change. One subscription, or every one of the tenant.
 */
export function settleStatement(db: D1Database, tenantId: string, now: number, subId?: string) {
  return db
    .prepare(
      `UPDATE subscriptions AS s SET status = x.status, plan_id = x.plan_id,
         anchor_at = x.anchor_at, updated_at = ?1
       FROM (
         SELECT y.id, CASE
             WHEN y.end_at IS NOT NULL AND y.end_at <= ?1 THEN 'canceled'
             WHEN y.change IN ('past_due', 'suspended') THEN y.change
             -- Written directly, without a history (before recordStatusChange): kept as is.
             WHEN y.changes = 0 AND y.status IN ('past_due', 'suspended') THEN y.status
             WHEN y.trial_end IS NOT NULL AND y.trial_end > ?1 THEN 'trialing'
             ELSE 'active' END AS status,
           COALESCE(y.phase_plan, y.plan_id) AS plan_id,
           COALESCE(y.phase_anchor, y.anchor_at) AS anchor_at
         FROM (
           SELECT s2.id, s2.status, s2.end_at, s2.trial_end, s2.plan_id, s2.anchor_at,
             (SELECT COUNT(*) FROM subscription_status_changes c
               WHERE c.tenant_id = s2.tenant_id AND c.subscription_id = s2.id) AS changes,
             (SELECT c.status FROM subscription_status_changes c
               WHERE c.tenant_id = s2.tenant_id AND c.subscription_id = s2.id AND c.at <= ?1
               ORDER BY c.at DESC, c.seq DESC LIMIT 1) AS change,
             (SELECT ph.plan_id FROM subscription_phases ph
               WHERE ph.tenant_id = s2.tenant_id AND ph.subscription_id = s2.id
                 AND ph.start_at <= MAX(?1, s2.start_at)
               ORDER BY ph.start_at DESC LIMIT 1) AS phase_plan,
             (SELECT ph.anchor_at FROM subscription_phases ph
               WHERE ph.tenant_id = s2.tenant_id AND ph.subscription_id = s2.id
                 AND ph.start_at <= MAX(?1, s2.start_at)
               ORDER BY ph.start_at DESC LIMIT 1) AS phase_anchor
           FROM subscriptions s2 WHERE s2.tenant_id = ?2 AND (?3 IS NULL OR s2.id = ?3)
         ) y
       ) x
       WHERE s.tenant_id = ?2 AND s.id = x.id
         AND (s.status <> x.status OR s.plan_id <> x.plan_id OR s.anchor_at <> x.anchor_at)`,
    )
    .bind(now, tenantId, subId ?? null);
}

export async function settleSubscriptions(db: D1Database, tenantId: string, now: number) {
  await settleStatement(db, tenantId, now).run();
}

interface SubscriptionHead {
  id: string;
  customer_id: string;
  product_id: string;
  currency: string;
  start_at: number;
  end_at: number | null;
}

async function loadHead(db: D1Database, tenantId: string, id: string) {
  const [head, phases] = await db.batch([
    db
      .prepare(
        `SELECT s.id, s.customer_id, p.product_id, p.currency, s.start_at, s.end_at
         FROM subscriptions s JOIN plans p ON p.tenant_id = s.tenant_id AND p.id = s.plan_id
         WHERE s.tenant_id = ? AND s.id = ?`,
      )
      .bind(tenantId, id),
    db
      .prepare(`${PHASES_SQL} WHERE s.tenant_id = ? AND s.id = ? ${PHASES_ORDER}`)
      .bind(tenantId, id),
  ]);
  const sub = head?.results[0] as SubscriptionHead | undefined;
  if (sub === undefined) throw notFound("Subscription", id);
  const rows = (phases?.results ?? []) as unknown as PhaseRow[];
  const intervals = new Map(rows.map((r) => [r.plan_id, r.interval]));
  return { sub, phases: groupPhases(rows)[0]?.phases ?? [], intervals };
}

/** The latest non-void invoice covering time at or after `at`, if any: history before it is
 * settled (void the invoice to change it). */
async function invoicedAfter(db: D1Database, tenantId: string, subId: string, at: number) {
  return db
    .prepare(
      `SELECT id, period_start, period_end FROM invoices
       WHERE tenant_id = ? AND subscription_id = ? AND status <> 'void' AND period_end > ?
       ORDER BY period_start DESC LIMIT 1`,
    )
    .bind(tenantId, subId, at)
    .first<{ id: string; period_start: number; period_end: number }>();
}

function replacePhases(
  db: D1Database,
  tenantId: string,
  subId: string,
  phases: readonly PhaseRecord[],
  now: number,
): D1PreparedStatement[] {
  return [
    db
      .prepare("DELETE FROM subscription_phases WHERE tenant_id = ? AND subscription_id = ?")
      .bind(tenantId, subId),
    ...phases.map((p) =>
      db
        .prepare(
          `INSERT INTO subscription_phases
             (tenant_id, subscription_id, start_at, end_at, plan_id, anchor_at, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?)`,
        )
        .bind(tenantId, subId, p.start, p.end, p.plan_id, p.anchor, now),
    ),
  ];
}

const lockedError = (inv: { id: string; period_start: number; period_end: number }) =>
  new ApiError(
    "conflict",
    `Invoice '${inv.id}' already bills ${iso(inv.period_start)} – ${iso(inv.period_end)}; void it before changing that part of the history`,
  );

/** POST /api/subscriptions/:id/change: validates, then rewrites the phases (one batch). */
export async function changePlan(
  db: D1Database,
  tenantId: string,
  subId: string,
  planId: string,
  at: number,
  now: number,
): Promise<void> {
  const [{ sub, phases, intervals }, plan] = await Promise.all([
    loadHead(db, tenantId, subId),
    db
      .prepare(
        "SELECT id, product_id, currency, interval, status FROM plans WHERE tenant_id = ? AND id = ?",
      )
      .bind(tenantId, planId)
      .first<{
        id: string;
        product_id: string;
        currency: string;
        interval: BillingInterval;
        status: string;
      }>(),
  ]);
  const errors = [];
  if (!plan) errors.push({ path: "plan", message: `plan '${planId}' does not exist` });
  else if (plan.status === "archived")
    errors.push({ path: "plan", message: `plan '${planId}' is archived` });
  else if (plan.product_id !== sub.product_id)
    errors.push({
      path: "plan",
      message: `plan '${planId}' is for product '${plan.product_id}', the subscription is to '${sub.product_id}'`,
    });
  else if (plan.currency !== sub.currency)
    errors.push({
      path: "plan",
      message: `plan '${planId}' bills in ${plan.currency}, the subscription in ${sub.currency}`,
    });
  if (at < sub.start_at)
    errors.push({ path: "at", message: "at must not be before the subscription's start" });
  else if (sub.end_at !== null && at >= sub.end_at)
    errors.push({ path: "at", message: "at must be before the subscription's end" });
  if (errors.length > 0 || !plan) throw validationError(errors);

  const last = phases[phases.length - 1];
  if (last !== undefined && at < last.start) {
    throw new ApiError(
      "conflict",
      `A change is already effective at ${iso(last.start)}; changes must not precede the latest one`,
    );
  }
  const current = phases.filter((p) => p.start <= at).at(-1);
  if (current !== undefined && current.plan_id === planId && current.start < at) {
    throw new ApiError("conflict", `Subscription '${subId}' is already on plan '${planId}' then`);
  }
  const locked = await invoicedAfter(db, tenantId, subId, at);
  if (locked) throw lockedError(locked);

  intervals.set(plan.id, plan.interval);
  const next = phasesAfterChange(
    phases,
    { plan_id: planId, at, subscriptionEnd: sub.end_at },
    (id) => intervals.get(id),
  );
  await db.batch([
    ...replacePhases(db, tenantId, subId, next, now),
    settleStatement(db, tenantId, now, subId),
    bumpBillingVersion(db, tenantId),
  ]);
}

/** POST /api/subscriptions/:id/cancel: effective at `at` (now when omitted); a future date
 * schedules it and can be moved until it has passed. */
export async function cancelSubscription(
  db: D1Database,
  tenantId: string,
  subId: string,
  at: number,
  now: number,
): Promise<void> {
  const { sub, phases } = await loadHead(db, tenantId, subId);
  if (sub.end_at !== null && sub.end_at <= now) {
    throw new ApiError("conflict", `Subscription '${subId}' was canceled at ${iso(sub.end_at)}`);
  }
  if (at < sub.start_at) {
    throw validationError([
      { path: "at", message: "at must not be before the subscription's start" },
    ]);
  }
  const locked = await invoicedAfter(db, tenantId, subId, at);
  if (locked) throw lockedError(locked);
  const next = phasesAfterCancel(phases, at);
  await db.batch([
    ...replacePhases(db, tenantId, subId, next, now),
    db
      .prepare("UPDATE subscriptions SET end_at = ?, updated_at = ? WHERE tenant_id = ? AND id = ?")
      .bind(at, now, tenantId, subId),
    settleStatement(db, tenantId, now, subId),
    bumpBillingVersion(db, tenantId),
  ]);
}

/** The phases of one subscription for API responses. */
export async function phasesOf(db: D1Database, tenantId: string, subId: string) {
  const { results } = await db
    .prepare(`${PHASES_SQL} WHERE s.tenant_id = ? AND s.id = ? ${PHASES_ORDER}`)
    .bind(tenantId, subId)
    .all<PhaseRow>();
  return results.map((r) => ({
    plan: r.plan_id,
    start: iso(r.start) ?? "",
    end: iso(r.end),
    billing_anchor: iso(r.anchor) ?? "",
  }));
}
