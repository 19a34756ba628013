import { dueSlot, resolveWindow, type ScheduleRange } from "../../domain/reports/schedule";
import {
  claimExportSlot,
  type Destination,
  dueExportSchedules,
  type ExportScheduleRecord,
  getDestination,
  insertRun,
} from "../../store/exports";
import { loadTenantSettings } from "../../store/tenants";
import { ApiError } from "../problem";
import { exportSource, runExport } from "./run";

// Scheduled exports on the tenant clock (workers/periodic.ts, every 5 minutes), with the cron,
// zone and relative windows of report schedules (domain/reports/schedule.ts): each enabled
// schedule whose slot has come is moved to its first slot after now by a compare-and-set (one
// tick wins it; slots missed while the clock was stopped collapse into the latest), and that
// slot's run is made at once, over the window resolved at the slot's own instant in the
// schedule's zone — so a late tick still exports the period the slot was due for. The run's id
// comes from the schedule and the slot, and the run table holds one run per slot. A slot whose
// run fails stays failed (its error on the run); the next slot runs as usual, and POST
// /api/exports re-runs the window on demand, to the same file names.

export const scheduledRunId = (scheduleId: string, scheduledFor: number) =>
  `exr_${scheduleId.replace(/^exs_/, "")}_${scheduledFor.toString(36)}`;

async function runSlot(
  env: Env,
  tenantId: string,
  s: ExportScheduleRecord,
  scheduledFor: number,
  zone: string,
  now: number,
) {
  const [from, to] = resolveWindow(s.range as ScheduleRange, scheduledFor, s.time_zone ?? zone);
  const runId = scheduledRunId(s.id, scheduledFor);
  const schedule = { id: s.id, scheduledFor };
  const createdBy = `schedule:${s.id}`;
  let destination: Destination | null = null;
  let refusal: string | null = null;
  if (s.destination_id !== null) {
    destination = await getDestination(env.DB, tenantId, s.destination_id);
    if (!destination) refusal = `destination ${s.destination_id} was deleted`;
    else if (!destination.enabled) refusal = `destination ${s.destination_id} is disabled`;
  }
  try {
    if (refusal !== null) throw new ApiError("unprocessable", refusal);
    const target = { dataset: s.dataset, report: s.report_id };
    const source = await exportSource(env, tenantId, target, from, to, now);
    await runExport(
      env,
      tenantId,
      { runId, schedule, source, destination, format: s.format, from, to, createdBy },
      now,
    );
  } catch (err) {
    // The slot could not start (its destination or report is gone, its report no longer runs):
    // recorded as a failed run of the slot, so the history says why.
    if (!(err instanceof ApiError)) throw err;
    await insertRun(env.DB, tenantId, {
      id: runId,
      dataset: s.dataset,
      report_id: s.report_id,
      destination_id: s.destination_id,
      destination_type: destination?.type ?? "r2",
      format: s.format,
      from_at: from,
      to_at: to,
      status: "failed",
      row_count: 0,
      byte_count: 0,
      file_count: 0,
      data_as_of: null,
      error: err.detail.slice(0, 300),
      created_by: createdBy,
      created_at: now,
      finished_at: now,
      schedule_id: s.id,
      scheduled_for: scheduledFor,
    });
  }
}

/** The periodic job: every slot that has come, run once. */
export async function runExportSchedules(env: Env, tenantId: string, now: number) {
  const due = await dueExportSchedules(env.DB, tenantId, now);
  if (due.length === 0) return { claimed: 0 };
  const zone = (await loadTenantSettings(env.DB, tenantId)).retry.time_zone;
  let claimed = 0;
  for (const s of due) {
    if (s.next_run_at === null) continue;
    const slot = dueSlot(s.cron, s.time_zone ?? zone, s.next_run_at, now);
    if (!(await claimExportSlot(env.DB, tenantId, s.id, s.next_run_at, slot.next))) continue;
    claimed++;
    try {
      await runSlot(env, tenantId, s, slot.scheduledFor, zone, now);
    } catch (err) {
      // One schedule's failure (D1, R2) does not stop the others; the run row says it failed.
      console.error(`export schedule ${s.id}: slot ${slot.scheduledFor} failed`, err);
    }
  }
  return { claimed };
}
