import {
  ARCHIVE_SCHEMA_VERSION,
  type ArchiveRow,
  archiveKey,
  compareArchiveRows,
} from "./archive-rows";

// Where the event archive lives in R2 and how a partition is compacted (docs/exports.md "Event
// archive"). Pure: the Worker (workers/event-archive.ts) does the reads and writes this plans.
//
//   tenant=<id>/dataset=events/date=YYYY-MM-DD/part-00000.parquet   (Hive layout)
//   tenant=<id>/dataset=events/date=YYYY-MM-DD/_manifest.json
//   _staging/events/tenant=<id>/date=YYYY-MM-DD/<message>.ndjson       (not yet compacted)
//
// A partition's last part is its open part while it holds fewer than OPEN_PART_ROWS rows:
// compaction rewrites it with the earliest new rows (up to PART_ROWS) and writes the rest as new
// parts of up to PART_ROWS. A part past OPEN_PART_ROWS is never written again, so a run
// re-encodes at most OPEN_PART_ROWS stored rows whatever the day holds, and its work stays in
// proportion to the rows it adds. A quiet day is still one file (not one per flush or per five
// minutes); a busy one is a part per run of up to PART_ROWS. Compaction reads a closed part's two
// key columns, and only in the row groups whose event times the new rows fall in, never its rows.

/** Rows per part file: 100,000 archived events make ~4 MB of Parquet. A part is written a row
 * group at a time, so this bounds the file's bytes in memory, not the rows held (docs/exports.md
 * "Memory"). */
export const PART_ROWS = 100_000;

/** A part is rewritten only while it holds fewer rows than this (one row group): what bounds
 * the stored rows a compaction re-encodes, so a busy partition's run costs its new rows, not
 * its open part's (docs/exports.md "Parts"). */
export const OPEN_PART_ROWS = 10_000;

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** The UTC date an event belongs to: its event time's, however late it arrives. */
export const archiveDate = (eventTime: number) => new Date(eventTime).toISOString().slice(0, 10);

export const isArchiveDate = (date: string) =>
  DATE.test(date) && archiveDate(Date.parse(`${date}T00:00:00Z`)) === date;

export const partitionPrefix = (tenantId: string, date: string) =>
  `tenant=${tenantId}/dataset=events/date=${date}/`;

export const manifestKey = (tenantId: string, date: string) =>
  `${partitionPrefix(tenantId, date)}_manifest.json`;

export const partName = (index: number) => `part-${String(index).padStart(5, "0")}.parquet`;

const PART_NAME = /^part-(\d{5})\.parquet$/;

/** A part's index from its name, or null for any other object (the manifest). */
export function partIndex(name: string): number | null {
  const m = PART_NAME.exec(name);
  return m?.[1] ? Number(m[1]) : null;
}

export const stagingTenantPrefix = (tenantId: string) => `_staging/events/tenant=${tenantId}/`;

export const stagingPrefix = (tenantId: string, date: string) =>
  `${stagingTenantPrefix(tenantId)}date=${date}/`;

/** A staged object's key: one per (message, date), named by a digest of the message id so a
 * redelivered message overwrites its own object with the same bytes. */
export const stagingKey = (tenantId: string, date: string, messageDigest: string) =>
  `${stagingPrefix(tenantId, date)}${messageDigest}.ndjson`;

/** The date of a `…/date=YYYY-MM-DD/` prefix, or null. */
export function dateOfPrefix(prefix: string): string | null {
  const m = /date=(\d{4}-\d{2}-\d{2})\/$/.exec(prefix);
  return m?.[1] && isArchiveDate(m[1]) ? m[1] : null;
}

/** Rows by the date partition they belong to, each date's rows in the order given. */
export function rowsByDate(rows: readonly ArchiveRow[]): Map<string, ArchiveRow[]> {
  const out = new Map<string, ArchiveRow[]>();
  for (const row of rows) {
    const date = archiveDate(row.event_time);
    const list = out.get(date);
    if (list) list.push(row);
    else out.set(date, [row]);
  }
  return out;
}

/** A staged object: one row per line, as JSON. */
export const stagedBody = (rows: readonly ArchiveRow[]) =>
  rows.map((r) => JSON.stringify(r)).join("\n");

export function parseStaged(text: string): ArchiveRow[] {
  return text
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as ArchiveRow);
}

export interface ArchiveFile {
  name: string;
  rows: number;
  bytes: number;
  /** SHA-256 of the file's bytes, hex. */
  sha256: string;
  min_event_time: string;
  max_event_time: string;
}

export interface ArchiveManifest {
  dataset: "events";
  schema_version: number;
  tenant_id: string;
  date: string;
  rows: number;
  bytes: number;
  min_event_time: string | null;
  max_event_time: string | null;
  files: ArchiveFile[];
  /** The compaction that last changed the partition: when, the files it wrote (new or
   * rewritten; every other file is byte-for-byte as before) and the rows it added. */
  last_compaction: { at: string; changed: string[]; added_rows: number };
}

/** A partition with nothing compacted yet. */
export function emptyManifest(tenantId: string, date: string): ArchiveManifest {
  return {
    dataset: "events",
    schema_version: ARCHIVE_SCHEMA_VERSION,
    tenant_id: tenantId,
    date,
    rows: 0,
    bytes: 0,
    min_event_time: null,
    max_event_time: null,
    files: [],
    last_compaction: { at: new Date(0).toISOString(), changed: [], added_rows: 0 },
  };
}

/** The open part: the last file while it is small enough to rewrite, else none (the next
 * write starts a part). */
export function openPart(manifest: ArchiveManifest): ArchiveFile | null {
  const last = manifest.files.at(-1);
  return last && last.rows < OPEN_PART_ROWS ? last : null;
}

/**
 * Part files stored past the manifest's last one, in order: a run wrote them and stopped before
 * its manifest. Their rows are archived (a reader of the Hive layout sees them), so the next run
 * lists them in the manifest and checks its staged rows against them, rather than writing those
 * rows again under other names. `names` are the partition's object names after the last listed.
 */
export function strayParts(manifest: ArchiveManifest, names: readonly string[]): string[] {
  const last = partIndex(manifest.files.at(-1)?.name ?? "") ?? -1;
  return names.filter((name) => (partIndex(name) ?? -1) > last).sort((a, b) => (a < b ? -1 : 1));
}

/** Whether any of the ascending `times` is in [min, max]: a part or row group whose event-time
 * span holds none of a run's new rows cannot hold a copy of one, since every copy the pipeline
 * makes (a redelivery, an actor's re-send, a stopped run) carries its event's own time. */
export function anyTimeWithin(times: readonly number[], min: number, max: number): boolean {
  let lo = 0;
  let hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((times[mid] as number) < min) lo = mid + 1;
    else hi = mid;
  }
  return lo < times.length && (times[lo] as number) <= max;
}

/**
 * Staged rows, one per key. A key staged more than once (a redelivered message, an actor's
 * re-sent chunk) is the same event; should two copies ever differ (an id reused after the
 * dedupe window), the earliest received wins, then the smaller serialization: the choice does
 * not depend on the order objects were listed in.
 */
export function dedupeStaged(rows: Iterable<ArchiveRow>): Map<string, ArchiveRow> {
  const out = new Map<string, ArchiveRow>();
  for (const row of rows) {
    const key = archiveKey(row);
    const kept = out.get(key);
    if (!kept || preferred(row, kept)) out.set(key, row);
  }
  return out;
}

function preferred(a: ArchiveRow, b: ArchiveRow): boolean {
  if (a.received_at !== b.received_at) return a.received_at < b.received_at;
  return JSON.stringify(a) < JSON.stringify(b);
}

export interface PartWrite {
  name: string;
  /** Whether the part is the open part, rewritten with its stored rows merged in. */
  rewrite: boolean;
  /** The fresh rows it gains, sorted. */
  fresh: ArchiveRow[];
}

/**
 * The parts to write for `fresh` rows (staged, deduplicated, and in no part yet). The open part
 * (holding `openRows` rows) gains the earliest fresh rows, up to PART_ROWS, merged in order;
 * the rest, in order, start new parts of PART_ROWS, numbered on from the last part. A row never leaves the file it was first
 * written to, so a reader listing files mid-compaction sees each row once (a rewrite replaces
 * its object with a superset), and a warehouse loading by file reloads only the files the
 * manifest names as changed. No fresh rows, no writes: a compaction with nothing new leaves
 * every file as it was.
 */
export function planParts(
  manifest: ArchiveManifest,
  openRows: number,
  fresh: readonly ArchiveRow[],
): PartWrite[] {
  if (fresh.length === 0) return [];
  const sorted = [...fresh].sort(compareArchiveRows);
  const writes: PartWrite[] = [];
  let next = (partIndex(manifest.files.at(-1)?.name ?? "") ?? -1) + 1;
  let taken = 0;
  const open = openPart(manifest);
  if (open) {
    taken = Math.min(sorted.length, Math.max(0, PART_ROWS - openRows));
    if (taken > 0) writes.push({ name: open.name, rewrite: true, fresh: sorted.slice(0, taken) });
  }
  for (; taken < sorted.length; taken += PART_ROWS) {
    writes.push({
      name: partName(next++),
      rewrite: false,
      fresh: sorted.slice(taken, taken + PART_ROWS),
    });
  }
  return writes;
}

/** The file entry for a part written as `bytes`, from its writer's counts. */
export async function archiveFile(
  name: string,
  written: { rows: number; minEventTime: number; maxEventTime: number },
  bytes: Uint8Array,
): Promise<ArchiveFile> {
  if (written.rows === 0) throw new Error(`part ${name} has no rows`);
  return {
    name,
    rows: written.rows,
    bytes: bytes.byteLength,
    sha256: await sha256Hex(bytes),
    min_event_time: new Date(written.minEventTime).toISOString(),
    max_event_time: new Date(written.maxEventTime).toISOString(),
  };
}

/** The manifest after a compaction wrote `written` (new or replacing files of the same name). */
export function nextManifest(
  before: ArchiveManifest,
  written: readonly ArchiveFile[],
  addedRows: number,
  now: number,
): ArchiveManifest {
  const byName = new Map(before.files.map((f) => [f.name, f]));
  for (const f of written) byName.set(f.name, f);
  const files = [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  const times = files.flatMap((f) => [f.min_event_time, f.max_event_time]).sort();
  return {
    ...before,
    schema_version: ARCHIVE_SCHEMA_VERSION,
    rows: files.reduce((n, f) => n + f.rows, 0),
    bytes: files.reduce((n, f) => n + f.bytes, 0),
    min_event_time: times[0] ?? null,
    max_event_time: times.at(-1) ?? null,
    files,
    last_compaction: {
      at: new Date(now).toISOString(),
      changed: written.map((f) => f.name).sort(),
      added_rows: addedRows,
    },
  };
}

export async function sha256Hex(bytes: Uint8Array | string): Promise<string> {
  const data = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
  const digest = await crypto.subtle.digest("SHA-256", data);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
