import {
  type BillingStatus,
  bumpBillingVersion,
  liveSubscriptionIdsOf,
  settleStatement,
  statusAt,
  statusChangeInsert,
  storedStatus,
} from "../../store/subscriptions";

// Effective-dated billing states of a subscription, for whoever decides them: the action ladder
// (BLOCK → suspended, its reversal → active), invoice dunning (an overdue invoice → past_due, its
// payment → active) and operators. The KPI engine reads the same history, so the cockpit at a
// past date shows the state as it was then (docs/metrics.md §Subscription status at t).

export type { BillingStatus };

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
  const head = await statusAt(db, tenantId, subscriptionId, at);
  if (!head) return null;
  if ((head.in_force ?? "active") === status) {
    return { subscription_id: subscriptionId, status: head.status, recorded: false };
  }
  await db.batch([
    statusChangeInsert(db, tenantId, subscriptionId, { at, status, reason }, now),
    settleStatement(db, tenantId, now, subscriptionId),
    bumpBillingVersion(db, tenantId),
  ]);
  const after = await storedStatus(db, tenantId, subscriptionId);
  return { subscription_id: subscriptionId, status: after ?? status, recorded: true };
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
  const ids = await liveSubscriptionIdsOf(db, tenantId, customerId, productId, at);
  const out: StatusChangeResult[] = [];
  for (const id of ids) {
    const res = await recordStatusChange(db, tenantId, id, status, at, reason, now);
    if (res) out.push(res);
  }
  return out;
}
