// Periodic work, per tenant. Called by each tenant's TenantClock alarm (every 5 minutes) and
// idempotent, so a cron poke, a retried alarm or a manual run changes nothing twice.

export async function runTenantJobs(env: Env, tenantId: string, now: number): Promise<void> {
  await settleSubscriptionStatuses(env.DB, tenantId, now);
}

/** Persists status changes that time alone decides: a trial that ended, an end date passed. */
export async function settleSubscriptionStatuses(db: D1Database, tenantId: string, now: number) {
  await db.batch([
    db
      .prepare(
        "UPDATE subscriptions SET status = 'active', updated_at = ?1 WHERE tenant_id = ?2 AND status = 'trialing' AND trial_end <= ?1",
      )
      .bind(now, tenantId),
    db
      .prepare(
        "UPDATE subscriptions SET status = 'canceled', updated_at = ?1 WHERE tenant_id = ?2 AND status <> 'canceled' AND end_at <= ?1",
      )
      .bind(now, tenantId),
  ]);
}

/** The cron trigger: make sure every tenant's clock is ticking. */
export async function pokeTenantClocks(env: Env): Promise<void> {
  const { results } = await env.DB.prepare("SELECT id FROM tenants").all<{ id: string }>();
  await Promise.all(
    results.map((t) => env.TENANT_CLOCK.get(env.TENANT_CLOCK.idFromName(t.id)).tick(t.id)),
  );
}
