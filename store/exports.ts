import type { TableDatasetDef } from "../domain/exports/datasets";

// Warehouse exports in D1 (schema/0028_exports.sql): destinations, runs, the files a run wrote
// and a webhook run's batches; and the one keyset read every table dataset is exported through.
// Every statement is bound to the tenant. A destination's secret is read only by what signs
// with it (the batch sender, the s3 writer and download, the test action): other reads select
// `secret IS NOT NULL`.

export type DestinationType = "r2" | "webhook" | "s3";

/** An s3 destination's bucket as stored in its `config` (its secret access key is the sealed
 * `secret`). `prefix` is "" or ends with "/". */
export interface S3Settings {
  endpoint: string;
  bucket: string;
  region: string;
  prefix: string;
  path_style: boolean;
  access_key_id: string;
}

/** What `config` holds: a webhook's URL, an s3 destination's bucket, nothing for r2. */
export type DestinationConfig = { url: string } | S3Settings | Record<string, never>;

export interface Destination {
  id: string;
  type: DestinationType;
  name: string;
  url: string | null;
  s3: S3Settings | null;
  secret_set: boolean;
  enabled: boolean;
  last_test_at: number | null;
  last_test_ok: boolean | null;
  last_test_error: string | null;
  created_at: number;
  updated_at: number;
}

interface DestinationRow {
  id: string;
  type: DestinationType;
  name: string;
  config: string;
  secret_set: number;
  enabled: number;
  last_test_at: number | null;
  last_test_ok: number | null;
  last_test_error: string | null;
  created_at: number;
  updated_at: number;
}

const DESTINATION_COLUMNS =
  "id, type, name, config, secret IS NOT NULL AS secret_set, enabled, last_test_at, last_test_ok, last_test_error, created_at, updated_at";

function parseConfig(config: string): Record<string, unknown> {
  try {
    const parsed = JSON.parse(config) as unknown;
    return parsed !== null && typeof parsed === "object" ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function s3Of(type: DestinationType, config: Record<string, unknown>): S3Settings | null {
  if (type !== "s3") return null;
  const text = (v: unknown) => (typeof v === "string" ? v : "");
  return {
    endpoint: text(config.endpoint),
    bucket: text(config.bucket),
    region: text(config.region) || "auto",
    prefix: text(config.prefix),
    path_style: config.path_style !== false,
    access_key_id: text(config.access_key_id),
  };
}

const toDestination = (r: DestinationRow): Destination => {
  const config = parseConfig(r.config);
  return {
    id: r.id,
    type: r.type,
    name: r.name,
    url: typeof config.url === "string" ? config.url : null,
    s3: s3Of(r.type, config),
    secret_set: r.secret_set === 1,
    enabled: r.enabled === 1,
    last_test_at: r.last_test_at,
    last_test_ok: r.last_test_ok === null ? null : r.last_test_ok === 1,
    last_test_error: r.last_test_error,
    created_at: r.created_at,
    updated_at: r.updated_at,
  };
};
export async function listDestinations(db: D1Database, tenantId: string) {
  const { results } = await db
    .prepare(
      `SELECT ${DESTINATION_COLUMNS} FROM export_destinations WHERE tenant_id = ? ORDER BY created_at, id`,
    )
    .bind(tenantId)
    .all<DestinationRow>();
  return results.map(toDestination);
}

export async function countDestinations(db: D1Database, tenantId: string): Promise<number> {
  const row = await db
    .prepare("SELECT COUNT(*) AS n FROM export_destinations WHERE tenant_id = ?")
    .bind(tenantId)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

export async function getDestination(
  db: D1Database,
  tenantId: string,
  id: string,
): Promise<Destination | null> {
  const row = await db
    .prepare(
      `SELECT ${DESTINATION_COLUMNS} FROM export_destinations WHERE tenant_id = ? AND id = ?`,
    )
    .bind(tenantId, id)
    .first<DestinationRow>();
  return row ? toDestination(row) : null;
}

/** The destination with its sealed secret (the sender and the test action only). */
export async function getDestinationSecret(
  db: D1Database,
  tenantId: string,
  id: string,
): Promise<(Destination & { secret: string | null }) | null> {
  const row = await db
    .prepare(
      `SELECT ${DESTINATION_COLUMNS}, secret FROM export_destinations WHERE tenant_id = ? AND id = ?`,
    )
    .bind(tenantId, id)
    .first<DestinationRow & { secret: string | null }>();
  return row ? { ...toDestination(row), secret: row.secret } : null;
}

export async function insertDestination(
  db: D1Database,
  tenantId: string,
  d: {
    id: string;
    type: DestinationType;
    name: string;
    config: DestinationConfig;
    secret: string | null;
    enabled: boolean;
  },
  now: number,
): Promise<void> {
  await db
    .prepare(
      `INSERT INTO export_destinations (tenant_id, id, type, name, config, secret, enabled, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .bind(
      tenantId,
      d.id,
      d.type,
      d.name,
      JSON.stringify(d.config),
      d.secret,
      d.enabled ? 1 : 0,
      now,
      now,
    )
    .run();
}

/** Changes the fields given; `config` replaces the stored one whole, `secret` undefined keeps
 * the stored one. False when not found. */
export async function updateDestination(
  db: D1Database,
  tenantId: string,
  id: string,
  change: { name?: string; config?: DestinationConfig; enabled?: boolean; secret?: string },
  now: number,
): Promise<boolean> {
  const result = await db
    .prepare(
      `UPDATE export_destinations SET
         name = COALESCE(?3, name),
         config = COALESCE(?4, config),
         enabled = COALESCE(?5, enabled),
         secret = COALESCE(?6, secret),
         updated_at = ?7
       WHERE tenant_id = ?1 AND id = ?2`,
    )
    .bind(
      tenantId,
      id,
      change.name ?? null,
      change.config === undefined ? null : JSON.stringify(change.config),
      change.enabled === undefined ? null : change.enabled ? 1 : 0,
      change.secret ?? null,
      now,
    )
    .run();
  return result.meta.changes > 0;
}

/** Deletes a destination; its pending batches are canceled and their runs fail. */
export async function deleteDestination(
  db: D1Database,
  tenantId: string,
  id: string,
  now: number,
): Promise<boolean> {
  const [deleted] = await db.batch([
    db.prepare("DELETE FROM export_destinations WHERE tenant_id = ? AND id = ?").bind(tenantId, id),
    db
      .prepare(
        `UPDATE export_batches SET status = 'canceled', last_error = 'the destination was deleted',
           updated_at = ?3 WHERE tenant_id = ?1 AND destination_id = ?2 AND status = 'pending'`,
      )
      .bind(tenantId, id, now),
    db
      .prepare(
        `UPDATE export_runs SET status = 'failed', finished_at = ?3,
           error = COALESCE(error, 'the destination was deleted before every batch was delivered')
         WHERE tenant_id = ?1 AND destination_id = ?2 AND status = 'delivering'`,
      )
      .bind(tenantId, id, now),
  ]);
  return (deleted?.meta.changes ?? 0) > 0;
}

export async function recordDestinationTest(
  db: D1Database,
  tenantId: string,
  id: string,
  outcome: { ok: boolean; error: string | null },
  now: number,
): Promise<void> {
  await db
    .prepare(
      `UPDATE export_destinations SET last_test_at = ?3, last_test_ok = ?4, last_test_error = ?5
       WHERE tenant_id = ?1 AND id = ?2`,
    )
    .bind(tenantId, id, now, outcome.ok ? 1 : 0, outcome.error)
    .run();
}

// ---- Runs ---------------------------------------------------------------------------------------

export type RunStatus = "running" | "delivering" | "succeeded" | "failed";

export interface RunRecord {
  id: string;
  dataset: string;
  report_id: string | null;
  destination_id: string | null;
  destination_type: DestinationType;
  format: "parquet" | "ndjson" | "json";
  from_at: number;
  to_at: number;
  status: RunStatus;
  row_count: number;
  byte_count: number;
  file_count: number;
  data_as_of: number | null;
  error: string | null;
  created_by: string;
  created_at: number;
  finished_at: number | null;
  schedule_id: string | null;
  scheduled_for: number | null;
}

const RUN_COLUMNS =
  "id, dataset, report_id, destination_id, destination_type, format, from_at, to_at, status, row_count, byte_count, file_count, data_as_of, error, created_by, created_at, finished_at, schedule_id, scheduled_for";

export async function insertRun(db: D1Database, tenantId: string, r: RunRecord): Promise<void> {
  await db
    .prepare(
      `INSERT INTO export_runs (tenant_id, ${RUN_COLUMNS})
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .bind(
      tenantId,
      r.id,
      r.dataset,
      r.report_id,
      r.destination_id,
      r.destination_type,
      r.format,
      r.from_at,
      r.to_at,
      r.status,
      r.row_count,
      r.byte_count,
      r.file_count,
      r.data_as_of,
      r.error,
      r.created_by,
      r.created_at,
      r.finished_at,
      r.schedule_id,
      r.scheduled_for,
    )
    .run();
}

export async function getRun(
  db: D1Database,
  tenantId: string,
  id: string,
): Promise<RunRecord | null> {
  return db
    .prepare(`SELECT ${RUN_COLUMNS} FROM export_runs WHERE tenant_id = ? AND id = ?`)
    .bind(tenantId, id)
    .first<RunRecord>();
}

/** Newest first, keyset on (created_at, id). */
export async function listRuns(
  db: D1Database,
  tenantId: string,
  limit: number,
  after: readonly [number, string] | null,
): Promise<RunRecord[]> {
  const { results } = await db
    .prepare(
      `SELECT ${RUN_COLUMNS} FROM export_runs WHERE tenant_id = ?1
         AND (?2 IS NULL OR (created_at, id) < (?2, ?3))
       ORDER BY created_at DESC, id DESC LIMIT ?4`,
    )
    .bind(tenantId, after?.[0] ?? null, after?.[1] ?? null, limit)
    .all<RunRecord>();
  return results;
}

export interface RunFile {
  name: string;
  object_key: string;
  partition_date: string;
  row_count: number;
  byte_count: number;
  sha256: string;
}

/** The run's outcome with its files, in one transaction. The files of a run to R2 are kept
 * under their window; with `replace` (a run that finished), the objects of earlier runs of the
 * same window that this run did not write again are returned (their rows are gone from here,
 * the caller deletes the objects). */
export async function finishRun(
  db: D1Database,
  tenantId: string,
  run: Pick<RunRecord, "id" | "status" | "row_count" | "byte_count" | "file_count" | "error"> & {
    data_as_of: number | null;
    finished_at: number | null;
  },
  files: RunFile[],
  window: { key: string; replace: boolean } | null,
  now: number,
): Promise<string[]> {
  const windowKey = window?.key ?? `run:${run.id}`;
  let stale: string[] = [];
  if (window?.replace) {
    const { results } = await db
      .prepare(
        `SELECT DISTINCT object_key FROM export_files
         WHERE tenant_id = ?1 AND window_key = ?2 AND run_id <> ?3
           AND object_key NOT IN (SELECT value FROM json_each(?4))`,
      )
      .bind(tenantId, windowKey, run.id, JSON.stringify(files.map((f) => f.object_key)))
      .all<{ object_key: string }>();
    stale = results.map((r) => r.object_key);
  }
  const statements = [
    db
      .prepare(
        `UPDATE export_runs SET status = ?3, row_count = ?4, byte_count = ?5, file_count = ?6,
           data_as_of = ?7, error = ?8, finished_at = ?9 WHERE tenant_id = ?1 AND id = ?2`,
      )
      .bind(
        tenantId,
        run.id,
        run.status,
        run.row_count,
        run.byte_count,
        run.file_count,
        run.data_as_of,
        run.error,
        run.finished_at,
      ),
    ...files.map((f) =>
      db
        .prepare(
          `INSERT INTO export_files (tenant_id, run_id, name, object_key, window_key, partition_date,
             row_count, byte_count, sha256, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .bind(
          tenantId,
          run.id,
          f.name,
          f.object_key,
          windowKey,
          f.partition_date,
          f.row_count,
          f.byte_count,
          f.sha256,
          now,
        ),
    ),
  ];
  if (stale.length > 0) {
    statements.push(
      db
        .prepare(
          `DELETE FROM export_files WHERE tenant_id = ?1 AND window_key = ?2
             AND object_key IN (SELECT value FROM json_each(?3))`,
        )
        .bind(tenantId, windowKey, JSON.stringify(stale)),
    );
  }
  await db.batch(statements);
  return stale;
}

export async function runFiles(db: D1Database, tenantId: string, runId: string) {
  const { results } = await db
    .prepare(
      `SELECT name, object_key, partition_date, row_count, byte_count, sha256 FROM export_files
       WHERE tenant_id = ? AND run_id = ? ORDER BY name`,
    )
    .bind(tenantId, runId)
    .all<RunFile>();
  return results;
}

export async function runFile(db: D1Database, tenantId: string, runId: string, name: string) {
  return db
    .prepare(
      `SELECT name, object_key, partition_date, row_count, byte_count, sha256 FROM export_files
       WHERE tenant_id = ? AND run_id = ? AND name = ?`,
    )
    .bind(tenantId, runId, name)
    .first<RunFile>();
}

// ---- Schedules ----------------------------------------------------------------------------------

export interface ExportScheduleRecord {
  id: string;
  dataset: string;
  report_id: string | null;
  destination_id: string | null;
  format: "parquet" | "ndjson" | "json";
  cron: string;
  time_zone: string | null;
  range: string;
  enabled: boolean;
  next_run_at: number | null;
  created_by: string;
  created_at: number;
  updated_at: number;
}

const SCHEDULE_COLUMNS =
  "id, dataset, report_id, destination_id, format, cron, time_zone, range, enabled, next_run_at, created_by, created_at, updated_at";

type ScheduleRow = Omit<ExportScheduleRecord, "enabled"> & { enabled: number };
const toSchedule = (r: ScheduleRow): ExportScheduleRecord => ({ ...r, enabled: r.enabled === 1 });

export async function insertExportSchedule(
  db: D1Database,
  tenantId: string,
  s: ExportScheduleRecord,
): Promise<void> {
  await db
    .prepare(
      `INSERT INTO export_schedules (tenant_id, ${SCHEDULE_COLUMNS})
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .bind(
      tenantId,
      s.id,
      s.dataset,
      s.report_id,
      s.destination_id,
      s.format,
      s.cron,
      s.time_zone,
      s.range,
      s.enabled ? 1 : 0,
      s.next_run_at,
      s.created_by,
      s.created_at,
      s.updated_at,
    )
    .run();
}

export async function updateExportSchedule(
  db: D1Database,
  tenantId: string,
  s: ExportScheduleRecord,
): Promise<boolean> {
  const result = await db
    .prepare(
      `UPDATE export_schedules SET dataset = ?3, report_id = ?4, destination_id = ?5, format = ?6,
         cron = ?7, time_zone = ?8, range = ?9, enabled = ?10, next_run_at = ?11, updated_at = ?12
       WHERE tenant_id = ?1 AND id = ?2`,
    )
    .bind(
      tenantId,
      s.id,
      s.dataset,
      s.report_id,
      s.destination_id,
      s.format,
      s.cron,
      s.time_zone,
      s.range,
      s.enabled ? 1 : 0,
      s.next_run_at,
      s.updated_at,
    )
    .run();
  return result.meta.changes > 0;
}

export async function getExportSchedule(db: D1Database, tenantId: string, id: string) {
  const row = await db
    .prepare(`SELECT ${SCHEDULE_COLUMNS} FROM export_schedules WHERE tenant_id = ? AND id = ?`)
    .bind(tenantId, id)
    .first<ScheduleRow>();
  return row ? toSchedule(row) : null;
}

export async function listExportSchedules(db: D1Database, tenantId: string) {
  const { results } = await db
    .prepare(
      `SELECT ${SCHEDULE_COLUMNS} FROM export_schedules WHERE tenant_id = ? ORDER BY created_at, id`,
    )
    .bind(tenantId)
    .all<ScheduleRow>();
  return results.map(toSchedule);
}

export async function deleteExportSchedule(db: D1Database, tenantId: string, id: string) {
  const result = await db
    .prepare("DELETE FROM export_schedules WHERE tenant_id = ? AND id = ?")
    .bind(tenantId, id)
    .run();
  return result.meta.changes > 0;
}

/** Enabled schedules whose next slot has come. */
export async function dueExportSchedules(db: D1Database, tenantId: string, now: number) {
  const { results } = await db
    .prepare(
      `SELECT ${SCHEDULE_COLUMNS} FROM export_schedules
       WHERE tenant_id = ?1 AND enabled = 1 AND next_run_at IS NOT NULL AND next_run_at <= ?2
       ORDER BY next_run_at LIMIT 20`,
    )
    .bind(tenantId, now)
    .all<ScheduleRow>();
  return results.map(toSchedule);
}

/** Moves a schedule from the slot it was seen at to the next; true for the one tick that
 * did (compare-and-set on next_run_at), which then runs the slot. */
export async function claimExportSlot(
  db: D1Database,
  tenantId: string,
  id: string,
  seen: number,
  next: number | null,
): Promise<boolean> {
  const result = await db
    .prepare(
      "UPDATE export_schedules SET next_run_at = ?3 WHERE tenant_id = ?1 AND id = ?2 AND next_run_at = ?4",
    )
    .bind(tenantId, id, next, seen)
    .run();
  return result.meta.changes > 0;
}

/** The latest run of each schedule (for the listing). */
export async function lastScheduledRuns(db: D1Database, tenantId: string) {
  const { results } = await db
    .prepare(
      `SELECT r.schedule_id, r.id, r.status, r.scheduled_for FROM export_runs r
       WHERE r.tenant_id = ?1 AND r.schedule_id IS NOT NULL
         AND r.scheduled_for = (SELECT MAX(scheduled_for) FROM export_runs
                                WHERE tenant_id = ?1 AND schedule_id = r.schedule_id)`,
    )
    .bind(tenantId)
    .all<{ schedule_id: string; id: string; status: RunStatus; scheduled_for: number }>();
  return new Map(results.map((r) => [r.schedule_id, r]));
}

// ---- Webhook batches ----------------------------------------------------------------------------

export interface BatchRecord {
  tenant_id: string;
  id: string;
  run_id: string;
  destination_id: string;
  seq: number;
  object_key: string;
  row_count: number;
  status: "pending" | "delivered" | "dead" | "canceled";
  attempts: number;
  next_attempt_at: number;
  leased_until: number | null;
  last_error: string | null;
  last_status: number | null;
  delivered_at: number | null;
  created_at: number;
}

export function insertBatchStatement(
  db: D1Database,
  tenantId: string,
  b: {
    id: string;
    run_id: string;
    destination_id: string;
    seq: number;
    object_key: string;
    row_count: number;
  },
  now: number,
): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO export_batches (tenant_id, id, run_id, destination_id, seq, object_key, row_count,
         status, attempts, next_attempt_at, created_at, updated_at)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', 0, ?8, ?8, ?8) ON CONFLICT DO NOTHING`,
    )
    .bind(tenantId, b.id, b.run_id, b.destination_id, b.seq, b.object_key, b.row_count, now);
}

export async function loadBatch(db: D1Database, tenantId: string, id: string) {
  return db
    .prepare("SELECT * FROM export_batches WHERE tenant_id = ? AND id = ?")
    .bind(tenantId, id)
    .first<BatchRecord>();
}

/** Leases a pending batch for one attempt; its attempt count, or null when someone else holds
 * it or it is no longer pending (one statement, so two copies of a message never both send). */
export async function claimBatch(
  db: D1Database,
  tenantId: string,
  id: string,
  now: number,
  leaseUntil: number,
): Promise<number | null> {
  const row = await db
    .prepare(
      `UPDATE export_batches SET attempts = attempts + 1, leased_until = ?4, updated_at = ?3
       WHERE tenant_id = ?1 AND id = ?2 AND status = 'pending'
         AND (leased_until IS NULL OR leased_until < ?3)
       RETURNING attempts`,
    )
    .bind(tenantId, id, now, leaseUntil)
    .first<{ attempts: number }>();
  return row?.attempts ?? null;
}

/** An attempt's outcome: delivered, dead, or retried at `retryAt`; then the run's status from
 * its batches (delivering while any is pending; failed when one is dead or canceled). */
export async function settleBatch(
  db: D1Database,
  tenantId: string,
  b: Pick<BatchRecord, "id" | "run_id">,
  outcome:
    | { status: "delivered"; httpStatus: number | null }
    | { status: "dead"; httpStatus: number | null; error: string }
    | { status: "pending"; httpStatus: number | null; error: string; retryAt: number },
  now: number,
): Promise<void> {
  await db.batch([
    db
      .prepare(
        `UPDATE export_batches SET status = ?3, last_status = ?4, last_error = ?5,
           delivered_at = CASE WHEN ?3 = 'delivered' THEN ?6 ELSE delivered_at END,
           next_attempt_at = COALESCE(?7, next_attempt_at), leased_until = NULL, updated_at = ?6
         WHERE tenant_id = ?1 AND id = ?2 AND status = 'pending'`,
      )
      .bind(
        tenantId,
        b.id,
        outcome.status,
        outcome.httpStatus,
        outcome.status === "delivered" ? null : outcome.error,
        now,
        outcome.status === "pending" ? outcome.retryAt : null,
      ),
    settleRunStatement(db, tenantId, b.run_id, now),
  ]);
}

/** A webhook run's status from its batches. */
export function settleRunStatement(
  db: D1Database,
  tenantId: string,
  runId: string,
  now: number,
): D1PreparedStatement {
  return db
    .prepare(
      `UPDATE export_runs SET
         status = CASE
           WHEN EXISTS (SELECT 1 FROM export_batches WHERE tenant_id = ?1 AND run_id = ?2
                          AND status IN ('dead', 'canceled')) THEN 'failed'
           WHEN EXISTS (SELECT 1 FROM export_batches WHERE tenant_id = ?1 AND run_id = ?2
                          AND status = 'pending') THEN 'delivering'
           ELSE 'succeeded' END,
         error = COALESCE(error, (SELECT 'batch ' || id || ': ' || COALESCE(last_error, status)
                                  FROM export_batches WHERE tenant_id = ?1 AND run_id = ?2
                                    AND status IN ('dead', 'canceled') ORDER BY seq LIMIT 1)),
         finished_at = CASE WHEN NOT EXISTS (SELECT 1 FROM export_batches WHERE tenant_id = ?1
                          AND run_id = ?2 AND status = 'pending') THEN ?3 ELSE finished_at END
       WHERE tenant_id = ?1 AND id = ?2 AND status IN ('delivering', 'running')`,
    )
    .bind(tenantId, runId, now);
}

export async function runBatches(db: D1Database, tenantId: string, runId: string) {
  const { results } = await db
    .prepare("SELECT * FROM export_batches WHERE tenant_id = ? AND run_id = ? ORDER BY seq")
    .bind(tenantId, runId)
    .all<BatchRecord>();
  return results;
}

/** Pending batches due before `due` that nobody is sending (a lost enqueue), at most 1000. */
export async function stalledBatches(db: D1Database, tenantId: string, due: number, now: number) {
  const { results } = await db
    .prepare(
      `SELECT id FROM export_batches WHERE tenant_id = ?1 AND status = 'pending'
         AND next_attempt_at < ?2 AND (leased_until IS NULL OR leased_until < ?3) LIMIT 1000`,
    )
    .bind(tenantId, due, now)
    .all<{ id: string }>();
  return results.map((r) => r.id);
}

// ---- Dataset rows -------------------------------------------------------------------------------

/** Where the previous page ended: its last row's time and keys. */
export interface PageCursor {
  time: number;
  keys: (string | number)[];
}

/**
 * One page of a table dataset over [from, to), in (time, keys) order, after `cursor`: the
 * row-value comparison walks the table's index, so page n costs what page 1 does.
 */
export async function readDatasetPage(
  db: D1Database,
  tenantId: string,
  def: TableDatasetDef,
  range: { from: number; to: number },
  cursor: PageCursor | null,
  limit: number,
): Promise<{ rows: Record<string, unknown>[]; next: PageCursor | null }> {
  const order = [def.time, ...def.keys];
  const select = [
    ...def.columns.map((c) => `${c.sql} AS "${c.name}"`),
    `${def.time} AS _t`,
    ...def.keys.map((k, i) => `${k} AS _k${i}`),
  ].join(", ");
  const after = cursor
    ? `AND (${order.join(", ")}) > (${order.map((_, i) => `?${4 + i}`).join(", ")})`
    : "";
  const sql = `SELECT ${select} FROM ${def.source}
    WHERE ${def.tenant} = ?1 AND ${def.time} >= ?2 AND ${def.time} < ?3 ${after}
    ORDER BY ${order.join(", ")} LIMIT ${Math.floor(limit)}`;
  const params: unknown[] = [tenantId, range.from, range.to];
  if (cursor) params.push(cursor.time, ...cursor.keys);
  const { results } = await db
    .prepare(sql)
    .bind(...params)
    .all<Record<string, unknown>>();
  const last = results.at(-1);
  const next =
    last && results.length === limit
      ? {
          time: Number(last._t),
          keys: def.keys.map((_, i) => last[`_k${i}`] as string | number),
        }
      : null;
  return { rows: results, next };
}
