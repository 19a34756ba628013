import { snapshotCockpit } from "./cockpit";
import { settleSubscriptions } from "./history";
import { runInvoicing } from "./invoicing";
import { buildMargin } from "./margin";

// The billing part of each tenant's periodic work (TenantClock, every 5 minutes; SPEC §8 "at
// least every 5 minutes"). Each step is idempotent; one failing does not stop the others (the
// error is logged and the next tick retries).

export async function runBillingJobs(env: Env, tenantId: string, now: number): Promise<void> {
  const steps: [string, () => Promise<unknown>][] = [
    // Statuses that time decides, plan_id of the phase in force.
    ["settle subscriptions", () => settleSubscriptions(env.DB, tenantId, now)],
    // Periods that closed: drafts, finalised after the grace hour; dunning.
    ["invoicing", () => runInvoicing(env, tenantId, now, { now })],
    ["cockpit snapshot", () => snapshotCockpit(env.DB, tenantId, now)],
    ["margin read models", () => buildMargin(env.DB, tenantId, now)],
  ];
  let failed: unknown = null;
  for (const [name, step] of steps) {
    try {
      await step();
    } catch (err) {
      console.error(`billing job '${name}' failed for tenant ${tenantId}`, err);
      failed ??= err;
    }
  }
  if (failed) throw failed;
}
