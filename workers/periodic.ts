// Periodic work, per tenant. Called by each tenant's TenantClock alarm (every 5 minutes) and
// idempotent, so a cron poke, a retried alarm or a manual run changes nothing twice.

import { settleSubscriptions } from "./billing/history";
import { runBillingJobs } from "./billing/jobs";
import { requeueStalledDeliveries } from "./deliveries";

export async function runTenantJobs(env: Env, tenantId: string, now: number): Promise<void> {
  // Subscription statuses, invoices at period close, cockpit snapshot, margin read models.
  await runBillingJobs(env, tenantId, now);
  // Deliveries whose queue message was lost after their signal committed.
  await requeueStalledDeliveries(env, now, tenantId);
}

/** Persists what time alone decides: a trial that ended, an end date passed, a scheduled status
 * or plan change that took effect (from the subscription history, workers/billing/history.ts). */
export async function settleSubscriptionStatuses(db: D1Database, tenantId: string, now: number) {
  await settleSubscriptions(db, tenantId, now);
}

/** The cron trigger: make sure every tenant's clock is ticking. */
export async function pokeTenantClocks(env: Env): Promise<void> {
  const { results } = await env.DB.prepare("SELECT id FROM tenants").all<{ id: string }>();
  await Promise.all(
    results.map((t) => env.TENANT_CLOCK.get(env.TENANT_CLOCK.idFromName(t.id)).tick(t.id)),
  );
}
