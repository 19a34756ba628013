// What the ladder's effects read and change in subscriptions outside the ladder's own tables:
// the subscriptions BLOCK suspends and the trial extend_trial moves. (Suspension itself goes
// through the subscription history, workers/billing/status.ts.)

/** The customer's subscriptions that BLOCK suspends: every one not canceled or suspended. */
export async function blockableSubscriptions(
  db: D1Database,
  tenantId: string,
  customerId: string,
): Promise<{ id: string; status: string }[]> {
  const { results } = await db
    .prepare(
      "SELECT id, status FROM subscriptions WHERE tenant_id = ? AND customer_id = ? AND status NOT IN ('canceled', 'suspended')",
    )
    .bind(tenantId, customerId)
    .all<{ id: string; status: string }>();
  return results;
}

/** The customer's subscription (to the product, when given) whose trial ends last. */
export async function latestTrial(
  db: D1Database,
  tenantId: string,
  customerId: string,
  productId: string | null,
): Promise<{ id: string; trial_end: number } | null> {
  return db
    .prepare(
      `SELECT s.id, s.trial_end FROM subscriptions s JOIN plans p ON p.tenant_id = s.tenant_id AND p.id = s.plan_id
       WHERE s.tenant_id = ?1 AND s.customer_id = ?2 AND s.trial_end IS NOT NULL AND s.status <> 'canceled'
         AND (?3 IS NULL OR p.product_id = ?3)
       ORDER BY s.trial_end DESC LIMIT 1`,
    )
    .bind(tenantId, customerId, productId)
    .first<{ id: string; trial_end: number }>();
}

/** Moves a subscription's trial end by `deltaMs` (negative to shorten); an active subscription
 * whose trial now ends after `now` reads as trialing again. */
export async function shiftTrialEnd(
  db: D1Database,
  tenantId: string,
  subscriptionId: string,
  deltaMs: number,
  now: number,
): Promise<void> {
  await db
    .prepare(
      `UPDATE subscriptions SET trial_end = trial_end + ?, status = CASE WHEN trial_end + ? > ? AND status = 'active' THEN 'trialing' ELSE status END,
         updated_at = ? WHERE tenant_id = ? AND id = ?`,
    )
    .bind(deltaMs, deltaMs, now, now, tenantId, subscriptionId)
    .run();
}
