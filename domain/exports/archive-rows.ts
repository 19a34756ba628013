import type { AsyncBuffer, FileMetaData } from "hyparquet";
import { ByteWriter, type ColumnSource, ParquetWriter } from "hyparquet-writer";
import {
  decimalElement,
  decimalValues,
  type ExactMetadata,
  readExactRows,
} from "./parquet-decimal";

// The event archive's rows (docs/exports.md "Event archive"): one per accepted event with its
// rating, as the customer actor stored it, and the Parquet file they are written as.
//
// Money and quantities are DECIMAL(38,9) and DECIMAL(38,6), as in every export file
// (domain/exports/parquet-decimal.ts): every event carries its amounts at one fixed scale
// whatever the tenant or currency (nanos, micro-units), so they are held exactly and a
// warehouse sums them natively.

/** Bumped whenever the columns change (docs/exports.md "Schema evolution"): a column added at
 * the end is the next version; a rename or a type change is a new column, never an in-place
 * change. */
export const ARCHIVE_SCHEMA_VERSION = 1;

/** An archived event. Amounts are the unscaled integers as decimal text (quantity in
 * micro-units, revenue and cost in nanos), times epoch milliseconds. */
export interface ArchiveRow {
  event_id: string;
  customer_id: string;
  event_time: number;
  received_at: number;
  product: string;
  metric: string;
  quantity: string;
  revenue: string;
  cost: string;
  cost_status: string;
  provider: string | null;
  model: string | null;
  input_tokens: number | null;
  output_tokens: number | null;
  cached_input_tokens: number | null;
  subscription_id: string | null;
  /** Comma-separated flags as ingest reported them (`uncosted`, `no_subscription`, …). */
  flags: string;
  source: string;
  /** The event's properties as JSON object text (as JSON.stringify writes it), or null. */
  properties: string | null;
}

/** One archive row from a customer actor's `events` row (durable-objects/actor-schema.ts). */
export function archiveRowFromStored(
  customerId: string,
  r: Record<string, string | number | null | ArrayBuffer>,
): ArchiveRow {
  const text = (v: unknown) => (v === null || v === undefined ? null : String(v));
  const count = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return {
    event_id: String(r.id),
    customer_id: customerId,
    event_time: Number(r.time),
    received_at: Number(r.received_at),
    product: String(r.product),
    metric: String(r.metric),
    quantity: String(r.quantity),
    revenue: String(r.revenue),
    cost: String(r.cost),
    cost_status: String(r.cost_status),
    provider: text(r.provider),
    model: text(r.model),
    input_tokens: count(r.input_tokens),
    output_tokens: count(r.output_tokens),
    cached_input_tokens: count(r.cached_input_tokens),
    subscription_id: text(r.subscription_id),
    flags: String(r.flags),
    source: String(r.source),
    // As the Parquet writer encodes a JSON value, so a row reads back as it was staged.
    properties:
      r.properties === null || r.properties === undefined
        ? null
        : JSON.stringify(JSON.parse(String(r.properties))),
  };
}

/** The duplicate key: an event id is unique per (tenant, customer) — the actor's dedupe key. */
export const archiveKey = (r: Pick<ArchiveRow, "customer_id" | "event_id">) =>
  `${r.customer_id}\u0000${r.event_id}`;

/** The order rows are written in: event time, then customer and id (a total order, since the
 * key is unique in a partition), so the same rows always make the same bytes, and a reader's
 * time filter skips row groups by their statistics. */
export function compareArchiveRows(a: ArchiveRow, b: ArchiveRow): number {
  if (a.event_time !== b.event_time) return a.event_time - b.event_time;
  if (a.customer_id !== b.customer_id) return a.customer_id < b.customer_id ? -1 : 1;
  if (a.event_id !== b.event_id) return a.event_id < b.event_id ? -1 : 1;
  return 0;
}

/** Rows per row group: readers (and compaction's key scan) hold one at a time. */
export const ARCHIVE_ROW_GROUP_ROWS = 10_000;

type Column = {
  name: keyof ArchiveRow;
  kind: "string" | "json" | "timestamp" | "int64" | "quantity" | "money";
  required: boolean;
};
/** Schema version 1, in file order. */
export const ARCHIVE_COLUMNS: readonly Column[] = [
  { name: "event_id", kind: "string", required: true },
  { name: "customer_id", kind: "string", required: true },
  { name: "event_time", kind: "timestamp", required: true },
  { name: "received_at", kind: "timestamp", required: true },
  { name: "product", kind: "string", required: true },
  { name: "metric", kind: "string", required: true },
  { name: "quantity", kind: "quantity", required: true },
  { name: "revenue", kind: "money", required: true },
  { name: "cost", kind: "money", required: true },
  { name: "cost_status", kind: "string", required: true },
  { name: "provider", kind: "string", required: false },
  { name: "model", kind: "string", required: false },
  { name: "input_tokens", kind: "int64", required: false },
  { name: "output_tokens", kind: "int64", required: false },
  { name: "cached_input_tokens", kind: "int64", required: false },
  { name: "subscription_id", kind: "string", required: false },
  { name: "flags", kind: "string", required: true },
  { name: "source", kind: "string", required: true },
  { name: "properties", kind: "json", required: false },
];

function schemaElement(c: Column) {
  const repetition_type = c.required ? ("REQUIRED" as const) : ("OPTIONAL" as const);
  switch (c.kind) {
    case "string":
      return {
        name: c.name,
        type: "BYTE_ARRAY" as const,
        converted_type: "UTF8" as const,
        logical_type: { type: "STRING" as const },
        repetition_type,
      };
    case "json":
      return {
        name: c.name,
        type: "BYTE_ARRAY" as const,
        converted_type: "JSON" as const,
        logical_type: { type: "JSON" as const },
        repetition_type,
      };
    case "timestamp":
      return {
        name: c.name,
        type: "INT64" as const,
        converted_type: "TIMESTAMP_MILLIS" as const,
        logical_type: {
          type: "TIMESTAMP" as const,
          isAdjustedToUTC: true,
          unit: "MILLIS" as const,
        },
        repetition_type,
      };
    case "int64":
      return { name: c.name, type: "INT64" as const, repetition_type };
    case "quantity":
    case "money":
      return decimalElement(c.name, c.kind, repetition_type);
  }
}

function columnData(c: Column, rows: readonly ArchiveRow[]): ColumnSource {
  const values = rows.map((r) => r[c.name]);
  switch (c.kind) {
    case "timestamp":
      return { name: c.name, data: values.map((v) => BigInt(v as number)) };
    case "int64":
      return { name: c.name, data: values.map((v) => (v === null ? null : BigInt(v as number))) };
    case "quantity":
    case "money":
      return { name: c.name, data: decimalValues(values) };
    case "json":
      // The writer encodes JSON values itself.
      return {
        name: c.name,
        data: values.map((v) => (v === null ? null : JSON.parse(v as string))),
      };
    default:
      return { name: c.name, data: values };
  }
}

/**
 * A part file written a row group at a time: only the group being encoded is held as columns,
 * and the file's bytes (a few MB) as they grow. `write` takes at most ARCHIVE_ROW_GROUP_ROWS
 * rows, in order (callers sort with compareArchiveRows); the same rows in the same groups make
 * the same bytes.
 */
export class ArchivePartWriter {
  private readonly bytes = new ByteWriter();
  private readonly parquet = new ParquetWriter({
    writer: this.bytes,
    schema: [
      { name: "root", num_children: ARCHIVE_COLUMNS.length },
      ...ARCHIVE_COLUMNS.map(schemaElement),
    ],
    kvMetadata: [
      { key: "aforo.archive.dataset", value: "events" },
      { key: "aforo.archive.schema_version", value: String(ARCHIVE_SCHEMA_VERSION) },
    ],
    createdBy: "aforo event archive",
  });
  rows = 0;
  minEventTime = Number.POSITIVE_INFINITY;
  maxEventTime = Number.NEGATIVE_INFINITY;

  write(group: readonly ArchiveRow[]) {
    if (group.length === 0) return;
    if (group.length > ARCHIVE_ROW_GROUP_ROWS) throw new Error("a row group has too many rows");
    // A ByteWriter has no flush, so the write is synchronous.
    void this.parquet.write({
      columnData: ARCHIVE_COLUMNS.map((c) => columnData(c, group)),
      rowGroupSize: group.length,
    });
    this.rows += group.length;
    for (const r of group) {
      if (r.event_time < this.minEventTime) this.minEventTime = r.event_time;
      if (r.event_time > this.maxEventTime) this.maxEventTime = r.event_time;
    }
  }

  finish(): Uint8Array {
    this.parquet.finish();
    return new Uint8Array(this.bytes.getBuffer());
  }
}

/** A whole part file from sorted rows (row groups of ARCHIVE_ROW_GROUP_ROWS). */
export function archiveParquet(rows: readonly ArchiveRow[]): Uint8Array {
  const writer = new ArchivePartWriter();
  for (let i = 0; i < rows.length; i += ARCHIVE_ROW_GROUP_ROWS) {
    writer.write(rows.slice(i, i + ARCHIVE_ROW_GROUP_ROWS));
  }
  return writer.finish();
}

/**
 * Merges sorted row groups (an existing part, read a group at a time) with sorted fresh rows,
 * yielding groups of ARCHIVE_ROW_GROUP_ROWS: what archiveParquet would write for all of them,
 * holding one group of each side at a time.
 */
export async function* mergeRowGroups(
  groups: AsyncIterable<ArchiveRow[]>,
  fresh: readonly ArchiveRow[],
): AsyncGenerator<ArchiveRow[]> {
  let out: ArchiveRow[] = [];
  let f = 0;
  const take = (row: ArchiveRow) => {
    out.push(row);
    if (out.length < ARCHIVE_ROW_GROUP_ROWS) return null;
    const full = out;
    out = [];
    return full;
  };
  for await (const group of groups) {
    for (const row of group) {
      while (f < fresh.length && compareArchiveRows(fresh[f] as ArchiveRow, row) < 0) {
        const full = take(fresh[f++] as ArchiveRow);
        if (full) yield full;
      }
      const full = take(row);
      if (full) yield full;
    }
  }
  while (f < fresh.length) {
    const full = take(fresh[f++] as ArchiveRow);
    if (full) yield full;
  }
  if (out.length > 0) yield out;
}

const utf8 = new TextDecoder();
const PARSERS = {
  timestampFromMilliseconds: (ms: bigint) => Number(ms),
  jsonFromBytes: (bytes: Uint8Array) => utf8.decode(bytes),
};

/** Reads rows [rowStart, rowEnd) of a part file, exactly: the rows archiveParquet wrote.
 * `file` may fetch byte ranges on demand (an R2 object), so a read of a few columns or one row
 * group loads only those bytes; `metadata` is exactMetadata's, when the caller has it. */
export async function readArchiveRows(
  file: AsyncBuffer,
  o: {
    rowStart?: number;
    rowEnd?: number;
    columns?: (keyof ArchiveRow)[];
    metadata?: ExactMetadata;
  } = {},
): Promise<ArchiveRow[]> {
  return (await readExactRows(file, { ...o, parsers: PARSERS })) as unknown as ArchiveRow[];
}

/** Row ranges of a file's row groups, in order: what a bounded reader reads one at a time. */
export function rowGroupRanges(metadata: FileMetaData): { rowStart: number; rowEnd: number }[] {
  const ranges: { rowStart: number; rowEnd: number }[] = [];
  let start = 0;
  for (const group of metadata.row_groups) {
    const end = start + Number(group.num_rows);
    ranges.push({ rowStart: start, rowEnd: end });
    start = end;
  }
  return ranges;
}

/** Each row group's event-time span from the file's statistics, in order; null where the
 * statistics are missing (the group is then read). Compaction's key check skips a group whose
 * span holds none of its new rows. */
export function rowGroupEventTimes(
  metadata: FileMetaData,
): ({ min: number; max: number } | null)[] {
  const ms = (v: unknown) =>
    v instanceof Date
      ? v.getTime()
      : typeof v === "bigint" || typeof v === "number"
        ? Number(v)
        : null;
  return metadata.row_groups.map((group) => {
    const column = group.columns.find((c) => c.meta_data?.path_in_schema[0] === "event_time");
    const stats = column?.meta_data?.statistics;
    const min = ms(stats?.min_value);
    const max = ms(stats?.max_value);
    return min === null || max === null ? null : { min, max };
  });
}
