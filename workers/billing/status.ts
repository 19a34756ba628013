import { bumpBillingVersion, settleStatement } from "./history";

// Effective-dated billing states of a subscription, for whoever decides them: the action ladder
// (BLOCK → suspended, its reversal → active), invoice dunning (an overdue invoice → past_due, its
// payment → active) and operators. The KPI engine reads the same history, so the cockpit at a
// past date shows the state as it was then (docs/metrics.md §Subscription status at t).

export type BillingStatus = "active" | "past_due" | "suspended";

export interface StatusChangeResult {
  subscription_id: string;
  /** The stored status after the change (effective now). */
  status: string;
  /** False when the history already had this status in force at `at` (nothing written). */
  recorded: boolean;
}

/**
 * Records that a subscription entered `status` at `at` (epoch ms; may be in the past or the
 * future) for `reason` (free text, e.g. "ladder:BLOCK sig_123"). `active` returns it to good
 * standing (it reads as trialing again while inside its trial). Idempotent: when the latest
 * change at or before `at` already is `status` nothing is written. Returns null when the
 * subscription does not exist in the tenant. Updates the stored status, and bumps the billing
 * version so the next cockpit read recomputes.
 */
export async function recordStatusChange(
  db: D1Database,
  tenantId: string,
  subscriptionId: string,
  status: BillingStatus,
  at: number,
  reason: string | null,
  now = Date.now(),
): Promise<StatusChangeResult | null> {
  const head = await db
    .prepare(
      `SELECT s.status,
         (SELECT c.status FROM subscription_status_changes c
           WHERE c.tenant_id = s.tenant_id AND c.subscription_id = s.id AND c.at <= ?3
           ORDER BY c.at DESC, c.seq DESC LIMIT 1) AS in_force
       FROM subscriptions s WHERE s.tenant_id = ?1 AND s.id = ?2`,
    )
    .bind(tenantId, subscriptionId, at)
    .first<{ status: string; in_force: BillingStatus | null }>();
  if (!head) return null;
  if ((head.in_force ?? "active") === status) {
    return { subscription_id: subscriptionId, status: head.status, recorded: false };
  }
  await db.batch([
    db
      .prepare(
        `INSERT INTO subscription_status_changes
           (tenant_id, subscription_id, at, seq, status, reason, created_at)
         VALUES (?1, ?2, ?3, (SELECT COALESCE(MAX(seq), 0) + 1 FROM subscription_status_changes
           WHERE tenant_id = ?1 AND subscription_id = ?2 AND at = ?3), ?4, ?5, ?6)`,
      )
      .bind(tenantId, subscriptionId, at, status, reason, now),
    settleStatement(db, tenantId, now, subscriptionId),
    bumpBillingVersion(db, tenantId),
  ]);
  const after = await db
    .prepare("SELECT status FROM subscriptions WHERE tenant_id = ? AND id = ?")
    .bind(tenantId, subscriptionId)
    .first<{ status: string }>();
  return { subscription_id: subscriptionId, status: after?.status ?? status, recorded: true };
}

/**
 * recordStatusChange for every subscription of a customer (to one product, or all) that is
 * live at `at`: what the ladder needs when it blocks or unblocks a customer.
 */
export async function recordCustomerStatusChange(
  db: D1Database,
  tenantId: string,
  customerId: string,
  productId: string | null,
  status: BillingStatus,
  at: number,
  reason: string | null,
  now = Date.now(),
): Promise<StatusChangeResult[]> {
  const { results } = await db
    .prepare(
      `SELECT s.id FROM subscriptions s JOIN plans p ON p.tenant_id = s.tenant_id AND p.id = s.plan_id
       WHERE s.tenant_id = ?1 AND s.customer_id = ?2 AND (?3 IS NULL OR p.product_id = ?3)
         AND s.start_at <= ?4 AND (s.end_at IS NULL OR s.end_at > ?4)`,
    )
    .bind(tenantId, customerId, productId, at)
    .all<{ id: string }>();
  const out: StatusChangeResult[] = [];
  for (const r of results) {
    const res = await recordStatusChange(db, tenantId, r.id, status, at, reason, now);
    if (res) out.push(res);
  }
  return out;
}

/** A subscription's status changes, oldest first (API responses). */
export async function statusChangesOf(db: D1Database, tenantId: string, subscriptionId: string) {
  const { results } = await db
    .prepare(
      `SELECT at, status, reason FROM subscription_status_changes
       WHERE tenant_id = ? AND subscription_id = ? ORDER BY at, seq`,
    )
    .bind(tenantId, subscriptionId)
    .all<{ at: number; status: BillingStatus; reason: string | null }>();
  return results;
}
