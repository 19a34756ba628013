import type { ReportColumn, ReportQuery, ReportResult } from "../../contracts/reports";
import {
  DATASETS,
  decodeRow,
  type ExportColumn,
  type ExportRow,
  isTableDataset,
} from "../../domain/exports/datasets";
import {
  BATCH_ROWS,
  batchBody,
  batchFile,
  datasetPrefix,
  exportParquet,
  FILE_ROWS,
  type PartFile,
  partFile,
  utcDate,
  windowLabel,
} from "../../domain/exports/files";
import { toNanos } from "../../domain/money";
import { checkQuery } from "../../domain/reports/query";
import { templateOf, templateReport } from "../../domain/reports/templates";
import {
  type Destination,
  finishRun,
  getRun,
  insertBatchStatement,
  insertRun,
  type RunFile,
  type RunRecord,
  readDatasetPage,
  settleRunStatement,
} from "../../store/exports";
import { getReport, reportDataAsOf } from "../../store/reports";
import { loadTenantSettings } from "../../store/tenants";
import { toHex } from "../auth";
import { ApiError, validationError } from "../problem";
import { executeReport } from "../report-runner";
import { enqueueExportBatches } from "./deliver";
import { eventsSource } from "./events";
import { openS3Bucket, type S3Bucket } from "./s3";

// One export run (POST /api/exports; issue 16 items 2–4). It runs in the request that asks for
// it and reads its rows page by page in the dataset's one order (store/exports.ts
// readDatasetPage), so memory holds one page and the file (or batch) being filled, never the
// window: at most FILE_ROWS rows and one file's bytes for Parquet, BATCH_ROWS for a webhook.
// - To R2 (Aforo's bucket, the tenant's prefix): Parquet files named by window, date and part
//   (domain/exports/files.ts). A run of a window that was exported before writes the same names
//   (the same bytes when the rows are the same) and deletes the objects of earlier runs of
//   that window it did not write again: the window then holds exactly this run's rows.
// - To an s3 destination (the tenant's own bucket, workers/exports/s3.ts): the same names and
//   bytes under the destination's prefix, one signed PUT each; its windows are its own, so a
//   re-run deletes stale objects from that bucket only.
// - To a webhook: NDJSON or JSON batches, each written once to R2 (under `_webhook/`) and
//   delivered through the deliveries queue (workers/exports/deliver.ts).

const PAGE_ROWS = 5_000;
const ERROR_CHARS = 300;

export interface ExportSource {
  dataset: string;
  columns: readonly ExportColumn[];
  /** Rows in their dataset's order, page by page. */
  pages: () => AsyncIterable<ExportRow[]>;
  /** The UTC instant a row's partition is taken from. */
  timeOf: (row: ExportRow) => number;
  reportId: string | null;
  reportColumns?: ReportColumn[];
  dataAsOf: number;
}

/** A table dataset (datasets.ts) as a source. */
export async function tableSource(
  env: Env,
  tenantId: string,
  dataset: string,
  from: number,
  to: number,
  now: number,
): Promise<ExportSource> {
  if (!isTableDataset(dataset)) throw new Error(`not a table dataset: ${dataset}`);
  const def = DATASETS[dataset];
  const timeColumn = def.columns.find((c) => c.sql === def.time)?.name;
  const usage = dataset === "rollups_hourly" || dataset === "rollups_daily";
  return {
    dataset,
    columns: def.columns,
    reportId: null,
    // Rollups reflect the event feed as far as it has been applied; the other tables are the
    // source of truth as they stand when read.
    dataAsOf: usage ? await reportDataAsOf(env.DB, tenantId, "usage", now) : now,
    timeOf: (row) => Number(timeColumn ? row[timeColumn] : from),
    async *pages() {
      let cursor = null;
      do {
        const page = await readDatasetPage(env.DB, tenantId, def, { from, to }, cursor, PAGE_ROWS);
        yield page.rows.map((r) => decodeRow(def.columns, r));
        cursor = page.next;
      } while (cursor);
    },
  };
}

const REPORT_TYPES: Record<ReportColumn["type"], ExportColumn["type"]> = {
  string: "string",
  number: "double",
  percent: "double",
  money: "money",
  time: "timestamp",
  boolean: "boolean",
};

/** A saved report's output as a source: one row per report row, its id the row's dimension
 * values (the report's own grouping key), partitioned by its time bucket when it has one. */
export function reportSource(reportId: string, result: ReportResult, from: number): ExportSource {
  const dims = result.columns.filter((c) => c.kind === "dimension").map((c) => c.name);
  const columns: ExportColumn[] = [
    {
      name: "id",
      type: "string",
      nullable: false,
      description: "The row's dimension values joined by |",
    },
    ...result.columns.map((c) => ({
      name: c.name,
      type: REPORT_TYPES[c.type],
      nullable: true,
      description: c.label,
    })),
  ];
  const timeColumn = result.columns.find((c) => c.type === "time")?.name;
  const timeOf = (row: ExportRow) =>
    timeColumn && row[timeColumn] !== null ? Number(row[timeColumn]) : from;
  const rows: ExportRow[] = result.rows.map((r) => {
    const row: ExportRow = {
      id: dims.length === 0 ? "total" : dims.map((d) => String(r[d] ?? "")).join("|"),
    };
    for (const c of result.columns) {
      const v = r[c.name] ?? null;
      if (v === null) row[c.name] = null;
      else if (c.type === "time") row[c.name] = Date.parse(String(v));
      // The report's exact decimal (it holds nanos) back to nanos: DECIMAL(38,9) like the rest.
      else if (c.type === "money") row[c.name] = toNanos(String(v)).toString();
      else row[c.name] = v;
    }
    return row;
  });
  // Files are written partition by partition: the report's rows by time bucket, then by id
  // (the report's own order is by its measures; a file's is one order for the same rows).
  rows.sort((a, b) => timeOf(a) - timeOf(b) || (String(a.id) < String(b.id) ? -1 : 1));
  return {
    dataset: "report",
    columns,
    reportId,
    reportColumns: result.columns,
    dataAsOf: Date.parse(result.data_as_of),
    timeOf,
    async *pages() {
      for (let i = 0; i < rows.length; i += PAGE_ROWS) yield rows.slice(i, i + PAGE_ROWS);
    },
  };
}

/** A saved report's (or template's) output over [from, to) as a source. Throws a 400 naming
 * `report` (or the report's field) when it does not exist or does not run over the window. */
export async function reportExportSource(
  env: Env,
  tenantId: string,
  reportId: string,
  from: number,
  to: number,
  now: number,
): Promise<ExportSource> {
  const zone = (await loadTenantSettings(env.DB, tenantId)).retry.time_zone;
  const template = templateOf(reportId);
  const saved = template
    ? templateReport(template, now, zone)
    : await getReport(env.DB, tenantId, reportId);
  if (!saved) throw validationError([{ path: "report", message: `no report '${reportId}'` }]);
  const query: ReportQuery = {
    ...saved.query,
    time: {
      ...saved.query.time,
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      time_zone: saved.query.time.time_zone ?? zone,
    },
  };
  const checked = checkQuery(query, zone);
  if (!checked.ok) {
    throw validationError(
      checked.issues.map((i) => ({ path: `report.${i.path}`, message: i.message })),
    );
  }
  return reportSource(reportId, await executeReport(env, tenantId, checked, now), from);
}

/** The source of a dataset (and report) over a window. */
export const exportSource = (
  env: Env,
  tenantId: string,
  target: { dataset: string; report: string | null },
  from: number,
  to: number,
  now: number,
) =>
  target.dataset === "report" && target.report !== null
    ? reportExportSource(env, tenantId, target.report, from, to, now)
    : target.dataset === "events"
      ? eventsSource(env, tenantId, from, to, now)
      : tableSource(env, tenantId, target.dataset, from, to, now);

export interface ExportRequest {
  runId: string;
  /** A scheduled run's schedule and slot. */
  schedule?: { id: string; scheduledFor: number };
  source: ExportSource;
  /** null: the tenant's prefix in Aforo's bucket. */
  destination: Destination | null;
  format: "parquet" | "ndjson" | "json";
  from: number;
  to: number;
  createdBy: string;
}

const sha256 = async (bytes: Uint8Array) => toHex(await crypto.subtle.digest("SHA-256", bytes));

/** Deletes a finished run's stale objects: in the tenant's bucket one DELETE per key (a window
 * rarely loses more than a few files). A failed delete is logged, not raised: the run's files
 * are written and recorded by then, and the object stays in the tenant's bucket outside every
 * run's file list (docs/exports.md: the key policy needs s3:DeleteObject). */
async function deleteObjects(env: Env, bucket: S3Bucket | null, keys: string[]) {
  if (!bucket) {
    await env.EXPORTS.delete(keys);
    return;
  }
  for (const key of keys) {
    await bucket.delete(key).catch((err) => console.error("export: stale object kept", key, err));
  }
}

/** Runs an export to its end (a webhook run: until its batches are queued). */
export async function runExport(
  env: Env,
  tenantId: string,
  req: ExportRequest,
  now: number,
): Promise<RunRecord> {
  const { source, destination } = req;
  const webhook = destination?.type === "webhook";
  const s3 = destination?.type === "s3" ? destination : null;
  const run: RunRecord = {
    id: req.runId,
    dataset: source.dataset,
    report_id: source.reportId,
    destination_id: destination?.id ?? null,
    destination_type: destination?.type ?? "r2",
    format: req.format,
    from_at: req.from,
    to_at: req.to,
    status: "running",
    row_count: 0,
    byte_count: 0,
    file_count: 0,
    data_as_of: source.dataAsOf,
    error: null,
    created_by: req.createdBy,
    created_at: now,
    finished_at: null,
    schedule_id: req.schedule?.id ?? null,
    scheduled_for: req.schedule?.scheduledFor ?? null,
  };
  await insertRun(env.DB, tenantId, run);

  const window = windowLabel(req.from, req.to);
  const prefix = datasetPrefix(tenantId, source.dataset, source.reportId);
  // An s3 destination's window is its own: a run to Aforo's bucket must never replace (and
  // delete) the files of the same window in the tenant's bucket, nor the other way round.
  const windowKey = `${s3 ? `s3:${s3.id}|` : ""}${prefix}|${window}`;
  const files: RunFile[] = [];
  const batches: { id: string; seq: number; key: string; rows: number }[] = [];
  // Opened inside the run's try below: a secret that no longer opens fails the run.
  let bucket: S3Bucket | null = null;

  const putObject = async (key: string, bytes: Uint8Array, contentType: string) => {
    if (!bucket) {
      await env.EXPORTS.put(key, bytes, { httpMetadata: { contentType } });
      return key;
    }
    // The same name under the destination's prefix, and the same bytes, as in Aforo's bucket.
    const full = bucket.keyOf(key);
    await bucket.put(full, bytes, contentType);
    return full;
  };

  const record = async (file: PartFile, bytes: Uint8Array, rows: number, type: string) => {
    const key = await putObject(file.key, bytes, type);
    files.push({
      name: file.name,
      object_key: key,
      partition_date: file.date,
      row_count: rows,
      byte_count: bytes.byteLength,
      sha256: await sha256(bytes),
    });
    run.row_count += rows;
    run.byte_count += bytes.byteLength;
    run.file_count += 1;
  };

  // Parquet: one partition's rows at a time, a new part every FILE_ROWS.
  let date: string | null = null;
  const closed = new Set<string>();
  let part = 0;
  let buffer: ExportRow[] = [];
  const flushPart = async () => {
    if (buffer.length === 0 || date === null) return;
    const bytes = exportParquet(source.columns, buffer, {
      dataset: source.dataset,
      window,
      ...(source.reportColumns ? { report: source.reportColumns } : {}),
    });
    await record(
      partFile(prefix, date, window, part, "parquet"),
      bytes,
      buffer.length,
      "application/vnd.apache.parquet",
    );
    part += 1;
    buffer = [];
  };
  const flushBatch = async () => {
    if (buffer.length === 0 || req.format === "parquet") return;
    const seq = batches.length;
    const id = `${run.id}_b${seq}`;
    const body = batchBody(
      req.format,
      source.columns,
      buffer,
      { run: run.id, batch: id, seq, dataset: source.dataset, from: req.from, to: req.to },
      now,
    );
    const file = batchFile(tenantId, run.id, seq, req.format);
    await record(
      file,
      new TextEncoder().encode(body),
      buffer.length,
      req.format === "ndjson" ? "application/x-ndjson" : "application/json",
    );
    batches.push({ id, seq, key: file.key, rows: buffer.length });
    buffer = [];
  };

  try {
    if (s3) {
      const opened = await openS3Bucket(env, tenantId, s3.id);
      if (!opened.ok) throw new Error(opened.error);
      bucket = opened.bucket;
    }
    for await (const page of source.pages()) {
      for (const row of page) {
        if (webhook) {
          buffer.push(row);
          if (buffer.length >= BATCH_ROWS) await flushBatch();
          continue;
        }
        const rowDate = utcDate(source.timeOf(row));
        if (rowDate !== date) {
          await flushPart();
          // Parts are numbered within their date: a date met again would overwrite its part 0.
          if (closed.has(rowDate)) throw new Error(`rows of ${rowDate} came out of time order`);
          if (date !== null) closed.add(date);
          date = rowDate;
          part = 0;
        }
        buffer.push(row);
        if (buffer.length >= FILE_ROWS) await flushPart();
      }
    }
    if (webhook) await flushBatch();
    else await flushPart();
  } catch (err) {
    // What was written is recorded with the window, so the next run of it replaces it.
    const error = err instanceof ApiError ? err.detail : err instanceof Error ? err.message : "";
    console.error(`export ${run.id} failed`, err);
    const failed = { ...run, status: "failed" as const, error: error.slice(0, ERROR_CHARS) };
    const kept = webhook ? null : { key: windowKey, replace: false };
    await finishRun(env.DB, tenantId, { ...failed, finished_at: Date.now() }, files, kept, now);
    return { ...failed, finished_at: Date.now() };
  }

  if (webhook && destination) {
    const finished = { ...run, status: "delivering" as const };
    await finishRun(env.DB, tenantId, finished, files, null, now);
    await env.DB.batch([
      ...batches.map((b) =>
        insertBatchStatement(
          env.DB,
          tenantId,
          {
            id: b.id,
            run_id: run.id,
            destination_id: destination.id,
            seq: b.seq,
            object_key: b.key,
            row_count: b.rows,
          },
          now,
        ),
      ),
      // No rows: nothing to deliver, the run is done.
      settleRunStatement(env.DB, tenantId, run.id, now),
    ]);
    await enqueueExportBatches(
      env,
      tenantId,
      batches.map((b) => b.id),
    );
    return (await getRun(env.DB, tenantId, run.id)) ?? finished;
  }
  const finished = { ...run, status: "succeeded" as const, finished_at: Date.now() };
  const stale = await finishRun(
    env.DB,
    tenantId,
    finished,
    files,
    { key: windowKey, replace: true },
    now,
  );
  // The objects of earlier runs of this window that this one did not write again.
  if (stale.length > 0) await deleteObjects(env, bucket, stale);
  return finished;
}
