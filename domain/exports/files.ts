import { ByteWriter, ParquetWriter, type SchemaElement } from "hyparquet-writer";
import type { ReportColumn } from "../../contracts/reports";
import { type ExportColumn, type ExportRow, jsonRow, SCHEMA_VERSION } from "./datasets";
import { decimalElement, decimalValues } from "./parquet-decimal";

// Where export files land and what they hold (SPEC §8 Exports):
//
//   tenant=<id>/dataset=<ds>/date=YYYY-MM-DD/<window>-part-<nnnnn>.parquet
//
// Hive layout, partitioned by each row's UTC date; <window> is the run's [from, to) in compact
// UTC (`20261101T000000Z_20261108T000000Z`). Everything in a name comes from the window and
// the rows, nothing from the run (no run id, no write time), and a file's bytes depend only on
// its rows: the same rows re-exported for the same window are the same objects, byte for byte.
// A saved report's output goes to `dataset=report/report=<id>/date=…`. Raw events go to
// `dataset=events_export/`: `dataset=events/` is the event archive itself (its own day files,
// domain/exports/archive-layout.ts), and a reader's `dataset=events/**` must never see a row
// twice.

/** At most this many rows per file: the memory bound of a run (one file's rows and bytes are
 * held at a time; a day with more rows gets more parts). */
export const FILE_ROWS = 50_000;
/** Row groups inside a file. */
export const ROW_GROUP_ROWS = 10_000;
/** Rows per webhook batch (a 1,000-row batch of rollups is ≈ 250 KB of JSON). */
export const BATCH_ROWS = 1_000;

const compact = (ms: number) =>
  new Date(ms)
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}Z$/, "Z");

/** `20261101T000000Z_20261108T000000Z` (seconds: an export window has no finer edge). */
export const windowLabel = (from: number, to: number) => `${compact(from)}_${compact(to)}`;

export const utcDate = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** The prefix every object of the tenant's lives under; nothing outside it is ever read for
 * them. */
export const tenantPrefix = (tenantId: string) => `tenant=${tenantId}/`;

export function datasetPrefix(tenantId: string, dataset: string, reportId: string | null) {
  const ds =
    reportId !== null
      ? `dataset=report/report=${reportId}`
      : dataset === "events"
        ? "dataset=events_export"
        : `dataset=${dataset}`;
  return `${tenantPrefix(tenantId)}${ds}/`;
}

export interface PartFile {
  /** Unique within a run: what GET /api/exports/runs/:id/files/:name takes. */
  name: string;
  key: string;
  date: string;
}

const pad = (n: number) => String(n).padStart(5, "0");

export function partFile(
  prefix: string,
  date: string,
  window: string,
  part: number,
  ext: "parquet",
): PartFile {
  return {
    name: `${date}-part-${pad(part)}.${ext}`,
    key: `${prefix}date=${date}/${window}-part-${pad(part)}.${ext}`,
    date,
  };
}

/** A webhook run's batch bodies: kept under `_webhook/` (Hive readers skip `_` folders). */
export function batchFile(
  tenantId: string,
  runId: string,
  seq: number,
  ext: "ndjson" | "json",
): PartFile {
  const name = `batch-${pad(seq)}.${ext}`;
  return {
    name,
    key: `${tenantPrefix(tenantId)}_webhook/run=${runId}/${name}`,
    date: "",
  };
}

/** Names a download may ask for: letters, digits, dots and dashes, no path. */
export const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9.-]{0,120}$/;

// ---- Parquet ----------------------------------------------------------------------------------

function element(c: ExportColumn): SchemaElement {
  const repetition_type = c.nullable ? "OPTIONAL" : "REQUIRED";
  switch (c.type) {
    case "int":
      return { name: c.name, type: "INT64", repetition_type };
    case "double":
      return { name: c.name, type: "DOUBLE", repetition_type };
    case "boolean":
      return { name: c.name, type: "BOOLEAN", repetition_type };
    case "timestamp":
      return {
        name: c.name,
        type: "INT64",
        converted_type: "TIMESTAMP_MILLIS",
        logical_type: { type: "TIMESTAMP", isAdjustedToUTC: true, unit: "MILLIS" },
        repetition_type,
      };
    case "money":
    case "quantity":
      return decimalElement(c.name, c.type, repetition_type);
    case "json":
      return { name: c.name, type: "BYTE_ARRAY", converted_type: "JSON", repetition_type };
    default:
      return { name: c.name, type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type };
  }
}

function columnValues(c: ExportColumn, rows: readonly ExportRow[]) {
  if (c.type === "money" || c.type === "quantity") return decimalValues(rows.map((r) => r[c.name]));
  return rows.map((r) => {
    const v = r[c.name];
    if (v === null || v === undefined) return null;
    if (c.type === "int") return BigInt(v as number);
    if (c.type === "timestamp") return new Date(v as number);
    return v;
  });
}

/** One Parquet file of export rows: typed columns (see datasets.ts), SNAPPY, row groups of
 * ROW_GROUP_ROWS, and key-value metadata that names the schema version and the window only. */
export function exportParquet(
  columns: readonly ExportColumn[],
  rows: readonly ExportRow[],
  meta: { dataset: string; window: string; report?: ReportColumn[] },
): Uint8Array {
  const writer = new ByteWriter();
  const schema: SchemaElement[] = [
    { name: "root", num_children: columns.length },
    ...columns.map(element),
  ];
  const kvMetadata = [
    { key: "aforo.export.schema_version", value: String(SCHEMA_VERSION) },
    { key: "aforo.export.dataset", value: meta.dataset },
    { key: "aforo.export.window", value: meta.window },
    ...(meta.report ? [{ key: "aforo.report.columns", value: JSON.stringify(meta.report) }] : []),
  ];
  const parquet = new ParquetWriter({ writer, schema, kvMetadata, createdBy: "aforo exports" });
  parquet.write({
    columnData: columns.map((c) => ({ name: c.name, data: columnValues(c, rows) })),
    rowGroupSize: ROW_GROUP_ROWS,
  });
  parquet.finish();
  return new Uint8Array(writer.getBuffer());
}

// ---- Webhook batches ----------------------------------------------------------------------------

export interface BatchHeader {
  run: string;
  batch: string;
  seq: number;
  dataset: string;
  from: number;
  to: number;
}

/** A batch body. ndjson: one row per line (each a JSON object with its `id`); json: the
 * Standard Webhooks `{type, timestamp, data}` with the rows in data.rows. The timestamp is the
 * run's start, fixed when the batch is written: every attempt sends the same bytes (the
 * signature's own timestamp is the sending time). */
export function batchBody(
  format: "ndjson" | "json",
  columns: readonly ExportColumn[],
  rows: readonly ExportRow[],
  header: BatchHeader,
  createdAt: number,
): string {
  const json = rows.map((r) => jsonRow(columns, r));
  if (format === "ndjson") return `${json.map((r) => JSON.stringify(r)).join("\n")}\n`;
  return JSON.stringify({
    type: "export.batch",
    timestamp: new Date(createdAt).toISOString(),
    data: {
      run_id: header.run,
      batch_id: header.batch,
      seq: header.seq,
      dataset: header.dataset,
      schema_version: SCHEMA_VERSION,
      from: new Date(header.from).toISOString(),
      to: new Date(header.to).toISOString(),
      row_count: rows.length,
      rows: json,
    },
  });
}

export const batchContentType = (format: "ndjson" | "json") =>
  format === "ndjson" ? "application/x-ndjson" : "application/json";
