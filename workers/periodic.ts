// Periodic work, per tenant. Called by each tenant's TenantClock alarm (every 5 minutes) and
// idempotent, so a cron poke, a retried alarm or a manual run changes nothing twice.

import type { ClockRun } from "../durable-objects/tenant-clock";
import { listTenants } from "../store/tenants";
import { runBillingJobs } from "./billing/jobs";
import { runRetryJobs } from "./billing/retries";
import { runCaseJobs } from "./cases";
import { requeueStalledDeliveries } from "./deliveries";
import { compactEventArchiveRuns } from "./event-archive";
import { requeueStalledExportBatches } from "./exports/deliver";
import { runExportSchedules } from "./exports/schedules";
import { runReportSchedules } from "./report-schedules";
import { flushPipelineTelemetry } from "./telemetry";
import { runTenantDetectors } from "./tenant-detectors";

export async function runTenantJobs(env: Env, tenantId: string, now: number): Promise<ClockRun> {
  try {
    return await runJobs(env, tenantId, now);
  } finally {
    // The tick's invoicing run, failed or not (and whatever else this isolate counted), into
    // pipeline_hourly: nothing outlives the tick to flush it.
    await flushPipelineTelemetry(env.DB);
  }
}

/** Between ticks: the event archive's staged backlog, one tick's compaction budget at a time. */
export async function catchUpTenantJobs(
  env: Env,
  tenantId: string,
  now: number,
): Promise<ClockRun> {
  return { backlog: (await compactEventArchiveRuns(env, tenantId, now)).backlog };
}

async function runJobs(env: Env, tenantId: string, now: number): Promise<ClockRun> {
  // Subscription statuses, invoices at period close, cockpit snapshot, margin read models.
  await runBillingJobs(env, tenantId, now);
  // Adaptive Retry: the payment retries that fell due, each sent once (after billing, which may
  // have settled their invoices).
  await runRetryJobs(env, tenantId, now);
  // Tenant detectors (past-due invoices on the ladder), after billing and payments moved them.
  await runTenantDetectors(env, tenantId, now);
  // Cases: group signals from before cases existed (once), close what has settled.
  await runCaseJobs(env.DB, tenantId, now);
  // Deliveries whose queue message was lost after their signal committed.
  await requeueStalledDeliveries(env, now, tenantId);
  // Webhook export batches whose queue message was lost the same way.
  await requeueStalledExportBatches(env, tenantId, now);
  // Scheduled reports: each slot that has come run once, failed sends retried on later ticks.
  await runReportSchedules(env, tenantId, now);
  // Scheduled exports: each slot that has come run once, over its window.
  await runExportSchedules(env, tenantId, now);
  // The event archive: what the actors handed off since the last tick, into the day's Parquet
  // parts (one tick, five minutes, is most of the archive's freshness). A backlog past the
  // tick's compaction budget brings the clock back for it within a second.
  return { backlog: (await compactEventArchiveRuns(env, tenantId, now)).backlog };
}

/** The cron trigger: make sure every tenant's clock is ticking. */
export async function pokeTenantClocks(env: Env): Promise<void> {
  const tenants = await listTenants(env.DB);
  await Promise.all(
    tenants.map((t) => env.TENANT_CLOCK.get(env.TENANT_CLOCK.idFromName(t.id)).tick(t.id)),
  );
}
