// Report schedules and their runs in D1 (schema/0021_report_schedules.sql). A run row is
// inserted, with the schedule's next slot, in one batch before anything is sent; its unique
// (schedule, scheduled_for) key makes a slot run once. A run is leased while it is sent, so two
// ticks never send it at the same time.

type Row = Record<string, unknown>;

export interface ScheduleRecord {
  id: string;
  report_id: string;
  cron: string;
  /** null: the tenant's zone, read at every run. */
  time_zone: string | null;
  channel_id: string;
  /** A relative window (domain/reports/schedule.ts), null: the report's own range. */
  range: string | null;
  enabled: boolean;
  next_run_at: number | null;
  created_by: string;
  created_at: number;
  updated_at: number;
}

export type RunStatus = "pending" | "retrying" | "succeeded" | "failed";

export interface RunRecord {
  id: string;
  schedule_id: string;
  scheduled_for: number;
  status: RunStatus;
  attempts: number;
  next_attempt_at: number;
  started_at: number | null;
  finished_at: number | null;
  row_count: number | null;
  error: string | null;
}

const COLUMNS =
  "id, report_id, cron, time_zone, channel_id, range, enabled, next_run_at, created_by, created_at, updated_at";
const RUN_COLUMNS =
  "id, schedule_id, scheduled_for, status, attempts, next_attempt_at, started_at, finished_at, row_count, error";

const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
const str = (v: unknown) => (v === null || v === undefined ? null : String(v));

const toSchedule = (r: Row): ScheduleRecord => ({
  id: String(r.id),
  report_id: String(r.report_id),
  cron: String(r.cron),
  time_zone: str(r.time_zone),
  channel_id: String(r.channel_id),
  range: str(r.range),
  enabled: Number(r.enabled) === 1,
  next_run_at: num(r.next_run_at),
  created_by: String(r.created_by),
  created_at: Number(r.created_at),
  updated_at: Number(r.updated_at),
});

const toRun = (r: Row): RunRecord => ({
  id: String(r.id),
  schedule_id: String(r.schedule_id),
  scheduled_for: Number(r.scheduled_for),
  status: String(r.status) as RunStatus,
  attempts: Number(r.attempts),
  next_attempt_at: Number(r.next_attempt_at),
  started_at: num(r.started_at),
  finished_at: num(r.finished_at),
  row_count: num(r.row_count),
  error: str(r.error),
});

export async function insertSchedule(db: D1Database, tenantId: string, s: ScheduleRecord) {
  await db
    .prepare(
      `INSERT INTO report_schedules (tenant_id, ${COLUMNS})
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)`,
    )
    .bind(
      tenantId,
      s.id,
      s.report_id,
      s.cron,
      s.time_zone,
      s.channel_id,
      s.range,
      s.enabled ? 1 : 0,
      s.next_run_at,
      s.created_by,
      s.created_at,
      s.updated_at,
    )
    .run();
}

export async function updateSchedule(
  db: D1Database,
  tenantId: string,
  s: ScheduleRecord,
): Promise<boolean> {
  const res = await db
    .prepare(
      `UPDATE report_schedules SET cron = ?3, time_zone = ?4, channel_id = ?5, range = ?6,
         enabled = ?7, next_run_at = ?8, updated_at = ?9
       WHERE tenant_id = ?1 AND id = ?2`,
    )
    .bind(
      tenantId,
      s.id,
      s.cron,
      s.time_zone,
      s.channel_id,
      s.range,
      s.enabled ? 1 : 0,
      s.next_run_at,
      s.updated_at,
    )
    .run();
  return res.meta.changes > 0;
}

export async function getSchedule(
  db: D1Database,
  tenantId: string,
  reportId: string,
  id: string,
): Promise<ScheduleRecord | null> {
  const row = await db
    .prepare(
      `SELECT ${COLUMNS} FROM report_schedules WHERE tenant_id = ?1 AND report_id = ?2 AND id = ?3`,
    )
    .bind(tenantId, reportId, id)
    .first<Row>();
  return row ? toSchedule(row) : null;
}

/** One schedule by id alone (the periodic job's read). */
export async function scheduleById(
  db: D1Database,
  tenantId: string,
  id: string,
): Promise<ScheduleRecord | null> {
  const row = await db
    .prepare(`SELECT ${COLUMNS} FROM report_schedules WHERE tenant_id = ?1 AND id = ?2`)
    .bind(tenantId, id)
    .first<Row>();
  return row ? toSchedule(row) : null;
}

export async function listSchedules(
  db: D1Database,
  tenantId: string,
  reportId: string,
): Promise<ScheduleRecord[]> {
  const { results } = await db
    .prepare(
      `SELECT ${COLUMNS} FROM report_schedules WHERE tenant_id = ?1 AND report_id = ?2
       ORDER BY created_at, id LIMIT 100`,
    )
    .bind(tenantId, reportId)
    .all<Row>();
  return results.map(toSchedule);
}

/** Deletes a schedule and its run history. */
export async function deleteSchedule(
  db: D1Database,
  tenantId: string,
  reportId: string,
  id: string,
): Promise<boolean> {
  const [res] = await db.batch([
    db
      .prepare("DELETE FROM report_schedules WHERE tenant_id = ?1 AND report_id = ?2 AND id = ?3")
      .bind(tenantId, reportId, id),
    db
      .prepare(
        `DELETE FROM report_runs WHERE tenant_id = ?1 AND schedule_id = ?2
         AND NOT EXISTS (SELECT 1 FROM report_schedules WHERE tenant_id = ?1 AND id = ?2)`,
      )
      .bind(tenantId, id),
  ]);
  return (res?.meta.changes ?? 0) > 0;
}

/** Stops a schedule whose report is gone (its runs would all fail). */
export async function disableSchedule(db: D1Database, tenantId: string, id: string, now: number) {
  await db
    .prepare(
      `UPDATE report_schedules SET enabled = 0, next_run_at = NULL, updated_at = ?3
       WHERE tenant_id = ?1 AND id = ?2`,
    )
    .bind(tenantId, id, now)
    .run();
}

/** Enabled schedules whose next slot has come. */
export async function dueSchedules(
  db: D1Database,
  tenantId: string,
  now: number,
): Promise<ScheduleRecord[]> {
  const { results } = await db
    .prepare(
      `SELECT ${COLUMNS} FROM report_schedules
       WHERE tenant_id = ?1 AND enabled = 1 AND next_run_at IS NOT NULL AND next_run_at <= ?2
       ORDER BY next_run_at LIMIT 50`,
    )
    .bind(tenantId, now)
    .all<Row>();
  return results.map(toSchedule);
}

export const runId = (scheduleId: string, scheduledFor: number) =>
  `rrn_${scheduleId.replace(/^sch_/, "")}_${scheduledFor.toString(36)}`;

/** The slot's run row (once: the unique key) and the schedule moved to its next slot — only
 * if nobody moved it since it was read (`seen`), in one batch. */
export async function claimSlot(
  db: D1Database,
  tenantId: string,
  s: ScheduleRecord,
  seen: number,
  scheduledFor: number,
  next: number | null,
  now: number,
): Promise<void> {
  await db.batch([
    db
      .prepare(
        `INSERT INTO report_runs (tenant_id, id, schedule_id, scheduled_for, status, attempts,
           next_attempt_at, created_at)
         SELECT ?1, ?2, ?3, ?4, 'pending', 0, ?5, ?5
         WHERE EXISTS (SELECT 1 FROM report_schedules
                       WHERE tenant_id = ?1 AND id = ?3 AND next_run_at = ?6)
         ON CONFLICT (tenant_id, schedule_id, scheduled_for) DO NOTHING`,
      )
      .bind(tenantId, runId(s.id, scheduledFor), s.id, scheduledFor, now, seen),
    db
      .prepare(
        `UPDATE report_schedules SET next_run_at = ?3
         WHERE tenant_id = ?1 AND id = ?2 AND next_run_at = ?4`,
      )
      .bind(tenantId, s.id, next, seen),
  ]);
}

/** Runs not finished whose next attempt has come and which nobody is sending. */
export async function openRuns(
  db: D1Database,
  tenantId: string,
  now: number,
): Promise<RunRecord[]> {
  const { results } = await db
    .prepare(
      `SELECT ${RUN_COLUMNS} FROM report_runs
       WHERE tenant_id = ?1 AND status IN ('pending', 'retrying') AND next_attempt_at <= ?2
         AND (leased_until IS NULL OR leased_until <= ?2)
       ORDER BY next_attempt_at LIMIT 20`,
    )
    .bind(tenantId, now)
    .all<Row>();
  return results.map(toRun);
}

/** Leases a run for one attempt and counts it; null when someone else has it or it is done. */
export async function leaseRun(
  db: D1Database,
  tenantId: string,
  id: string,
  now: number,
  until: number,
): Promise<number | null> {
  const row = await db
    .prepare(
      `UPDATE report_runs SET attempts = attempts + 1, leased_until = ?4,
         started_at = COALESCE(started_at, ?3)
       WHERE tenant_id = ?1 AND id = ?2 AND status IN ('pending', 'retrying')
         AND next_attempt_at <= ?3 AND (leased_until IS NULL OR leased_until <= ?3)
       RETURNING attempts`,
    )
    .bind(tenantId, id, now, until)
    .first<{ attempts: number }>();
  return row ? Number(row.attempts) : null;
}

/** An attempt's outcome: succeeded or failed for good, or retrying at `retryAt`. */
export async function finishAttempt(
  db: D1Database,
  tenantId: string,
  id: string,
  outcome: {
    status: "succeeded" | "failed" | "retrying";
    rowCount: number | null;
    error: string | null;
    retryAt?: number;
  },
  now: number,
): Promise<void> {
  await db
    .prepare(
      `UPDATE report_runs SET status = ?3, row_count = COALESCE(?4, row_count), error = ?5,
         next_attempt_at = COALESCE(?6, next_attempt_at), leased_until = NULL,
         finished_at = CASE WHEN ?3 = 'retrying' THEN NULL ELSE ?7 END
       WHERE tenant_id = ?1 AND id = ?2`,
    )
    .bind(
      tenantId,
      id,
      outcome.status,
      outcome.rowCount,
      outcome.error,
      outcome.retryAt ?? null,
      now,
    )
    .run();
}

/** A schedule's runs, newest slot first. */
export async function listRuns(
  db: D1Database,
  tenantId: string,
  scheduleId: string,
  limit: number,
): Promise<RunRecord[]> {
  const { results } = await db
    .prepare(
      `SELECT ${RUN_COLUMNS} FROM report_runs WHERE tenant_id = ?1 AND schedule_id = ?2
       ORDER BY scheduled_for DESC LIMIT ?3`,
    )
    .bind(tenantId, scheduleId, limit)
    .all<Row>();
  return results.map(toRun);
}
