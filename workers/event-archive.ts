import type { AsyncBuffer } from "hyparquet";
import {
  type ArchiveFile,
  type ArchiveManifest,
  anyTimeWithin,
  archiveFile,
  dateOfPrefix,
  dedupeStaged,
  emptyManifest,
  manifestKey,
  nextManifest,
  openPart,
  parseStaged,
  partitionPrefix,
  planParts,
  stagingPrefix,
  stagingTenantPrefix,
  strayParts,
} from "../domain/exports/archive-layout";
import {
  addReplayTotals,
  REPLAY_COLUMNS,
  type ReplayTotals,
} from "../domain/exports/archive-replay";
import {
  ArchivePartWriter,
  type ArchiveRow,
  archiveKey,
  mergeRowGroups,
  readArchiveRows,
  rowGroupEventTimes,
  rowGroupRanges,
} from "../domain/exports/archive-rows";
import { exactMetadata } from "../domain/exports/parquet-decimal";
import { type ArchiveMessage, stageArchiveMessage } from "../durable-objects/archive-feed";
import {
  leaseArchiveCompaction,
  recordArchivePartition,
  releaseArchiveCompaction,
} from "../store/event-archive";

// The event archive in R2 (docs/exports.md "Event archive"; the layout and the compaction plan
// are domain/exports/archive-layout.ts). The customer actors hand their stored events to the
// archive queue (durable-objects/archive-feed.ts); its consumer stages each message under a key
// fixed by the message's id; the tenant's periodic tick compacts what is staged into the day's
// Parquet parts, de-duplicated by (customer, event id), and then deletes what it compacted.

/** Staged bytes one compaction run reads per tenant (~50,000 events): what a run holds. */
const STAGED_BYTES_PER_RUN = 24_000_000;
/** Wall time one tick (or catch-up step) spends compacting a tenant's backlog, run after run.
 * Another run starts only while one more of the slowest so far still fits, so a step stays
 * within it: far inside a Durable Object alarm's 15-minute wall limit, and at most this much
 * CPU of an invocation's default 30 s, with the rest left to the tick's other jobs. */
const TICK_COMPACTION_MS = 20_000;
const LEASE_MS = 10 * 60_000;

/** The archive queue's consumer: stages each message, acked once its objects are written. */
export async function stageArchiveBatch(batch: MessageBatch<ArchiveMessage>, env: Env) {
  await Promise.all(
    batch.messages.map(async (m) => {
      try {
        await stageArchiveMessage(env.EXPORTS, m.body);
        m.ack();
      } catch (err) {
        console.error(`staging archive message ${m.body.id} failed; will retry`, err);
        m.retry({ delaySeconds: 2 });
      }
    }),
  );
}

export interface PartitionCompaction {
  date: string;
  /** Staged objects read (and deleted once the manifest stood). */
  staged: number;
  /** Rows new to the archive. */
  added_rows: number;
  /** Files written (new or rewritten). */
  changed: string[];
}

/** One compaction run: what it read and added, and its wall time. */
export interface ArchiveRun {
  ms: number;
  staged_bytes: number;
  staged_objects: number;
  added_rows: number;
}

export interface ArchiveCompaction {
  /** Per partition, the tick's runs added up. */
  partitions: PartitionCompaction[];
  runs: ArchiveRun[];
  /** Whether the last run left staged rows behind (its byte budget ran out) and the time
   * budget stopped the tick: the clock comes back for them (durable-objects/tenant-clock.ts). */
  backlog: boolean;
}

/** Compacts the tenant's staged rows into their partitions (what the tick reports per date). */
export async function compactEventArchive(
  env: Env,
  tenantId: string,
  now: number,
): Promise<PartitionCompaction[]> {
  return (await compactEventArchiveRuns(env, tenantId, now)).partitions;
}

/**
 * The tick's compaction: run after run, each of at most `runBytes` staged bytes, while staged
 * rows are left and another run fits in `budgetMs`, so a tenant's archive keeps up with ingest
 * far past one run's ~50,000 events per tick. One tick at a time per tenant (the lease). Each
 * run stands on its own (its manifests written, its staged objects deleted), so a tick stopped
 * anywhere loses nothing and doubles nothing.
 */
export async function compactEventArchiveRuns(
  env: Env,
  tenantId: string,
  now: number,
  o: { runBytes?: number; budgetMs?: number } = {},
): Promise<ArchiveCompaction> {
  const runBytes = o.runBytes ?? STAGED_BYTES_PER_RUN;
  const budgetMs = o.budgetMs ?? TICK_COMPACTION_MS;
  const until = now + LEASE_MS;
  const done: ArchiveCompaction = { partitions: [], runs: [], backlog: false };
  if (!(await leaseArchiveCompaction(env.DB, tenantId, now, until))) return done;
  try {
    const started = Date.now();
    let slowest = 0;
    for (;;) {
      const t0 = Date.now();
      const run = await compactRun(env, tenantId, runBytes, now + (t0 - started));
      const ms = Date.now() - t0;
      slowest = Math.max(slowest, ms);
      done.runs.push({
        ms,
        staged_bytes: run.bytesRead,
        staged_objects: run.partitions.reduce((n, p) => n + p.staged, 0),
        added_rows: run.partitions.reduce((n, p) => n + p.added_rows, 0),
      });
      for (const p of run.partitions) addPartition(done.partitions, p);
      done.backlog = run.backlog;
      if (!run.backlog || Date.now() - started + slowest > budgetMs) break;
    }
    return done;
  } finally {
    await releaseArchiveCompaction(env.DB, tenantId, until);
  }
}

function addPartition(into: PartitionCompaction[], p: PartitionCompaction) {
  const same = into.find((q) => q.date === p.date);
  if (!same) {
    into.push(p);
    return;
  }
  same.staged += p.staged;
  same.added_rows += p.added_rows;
  same.changed = [...new Set([...same.changed, ...p.changed])].sort();
}

/** One run: the staged dates oldest first, up to `runBytes` of staged rows in all. */
async function compactRun(env: Env, tenantId: string, runBytes: number, now: number) {
  const partitions: PartitionCompaction[] = [];
  let budget = runBytes;
  let bytesRead = 0;
  let backlog = false;
  for (const date of await stagedDates(env.EXPORTS, tenantId)) {
    if (budget <= 0) {
      backlog = true;
      break;
    }
    const done = await compactPartition(env, tenantId, date, budget, now);
    budget -= done.bytesRead;
    bytesRead += done.bytesRead;
    if (!done.complete) backlog = true;
    partitions.push(done.result);
  }
  return { partitions, bytesRead, backlog };
}

async function stagedDates(bucket: R2Bucket, tenantId: string): Promise<string[]> {
  const dates: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await bucket.list({
      prefix: stagingTenantPrefix(tenantId),
      delimiter: "/",
      ...(cursor ? { cursor } : {}),
    });
    for (const p of page.delimitedPrefixes) {
      const date = dateOfPrefix(p);
      if (date) dates.push(date);
    }
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return dates.sort();
}

async function compactPartition(
  env: Env,
  tenantId: string,
  date: string,
  budget: number,
  now: number,
): Promise<{ result: PartitionCompaction; bytesRead: number; complete: boolean }> {
  const bucket = env.EXPORTS;
  // The staged objects, up to the budget (at least one, so a partition always moves).
  const keys: string[] = [];
  const rows: ArchiveRow[] = [];
  let bytesRead = 0;
  let complete = false;
  let cursor: string | undefined;
  listing: do {
    const page = await bucket.list({
      prefix: stagingPrefix(tenantId, date),
      ...(cursor ? { cursor } : {}),
    });
    for (const object of page.objects) {
      if (keys.length > 0 && bytesRead + object.size > budget) break listing;
      const body = await bucket.get(object.key);
      if (!body) continue; // deleted since the listing (a finished run)
      rows.push(...parseStaged(await body.text()));
      keys.push(object.key);
      bytesRead += object.size;
    }
    cursor = page.truncated ? page.cursor : undefined;
    complete = !cursor;
  } while (cursor);

  const fresh = dedupeStaged(rows);
  const listed =
    (await readArchiveManifest(bucket, tenantId, date)) ?? emptyManifest(tenantId, date);
  const prefix = partitionPrefix(tenantId, date);
  // Parts a stopped run wrote past the manifest's last: listed from here on, as stored.
  const adopted: ArchiveFile[] = [];
  for (const name of strayParts(listed, await partNamesAfter(bucket, prefix, listed))) {
    adopted.push(await storedFile(bucket, `${prefix}${name}`, name));
  }
  const manifest = { ...listed, files: [...listed.files, ...adopted] };
  // Keys already archived: the two key columns of the row groups whose event-time span holds
  // a staged row's time, one row group at a time. The open part is always read: as stored it
  // may hold more than its manifest entry says (a run that stopped before its manifest).
  const times = [...fresh.values()].map((r) => r.event_time).sort((a, b) => a - b);
  let openRows = 0;
  const open = openPart(manifest);
  for (const file of manifest.files) {
    const spans =
      file === open ||
      anyTimeWithin(times, Date.parse(file.min_event_time), Date.parse(file.max_event_time));
    if (!spans) continue;
    const source = await r2AsyncBuffer(bucket, `${prefix}${file.name}`);
    const metadata = await exactMetadata(source);
    const groupTimes = rowGroupEventTimes(metadata);
    for (const [i, range] of rowGroupRanges(metadata).entries()) {
      const span = groupTimes[i];
      if (span && !anyTimeWithin(times, span.min, span.max)) continue;
      const keyRows = await readArchiveRows(source, {
        ...range,
        metadata,
        columns: ["customer_id", "event_id"],
      });
      for (const r of keyRows) fresh.delete(archiveKey(r));
    }
    if (file === open) openRows = Number(metadata.num_rows);
  }

  const writes = planParts(manifest, openRows, [...fresh.values()]);
  // New files first, in order, the rewritten open part last: a reader listing files meanwhile
  // never misses a row that was archived before, and a run stopped between them leaves its new
  // parts numbered on from the manifest's last, for the next run to adopt.
  const written = new Map(adopted.map((f) => [f.name, f]));
  for (const part of [...writes.filter((w) => !w.rewrite), ...writes.filter((w) => w.rewrite)]) {
    const key = `${prefix}${part.name}`;
    const writer = new ArchivePartWriter();
    const stored = part.rewrite ? partRowGroups(bucket, key) : emptyGroups();
    for await (const group of mergeRowGroups(stored, part.fresh)) writer.write(group);
    const bytes = writer.finish();
    await bucket.put(key, bytes, {
      httpMetadata: { contentType: "application/vnd.apache.parquet" },
    });
    written.set(part.name, await archiveFile(part.name, writer, bytes));
  }
  // A run that rewrote the open part and stopped before its manifest left the manifest's entry
  // behind the file: it is brought up to date with the file as stored.
  if (open && openRows !== open.rows && !writes.some((w) => w.name === open.name)) {
    written.set(open.name, await storedFile(bucket, `${prefix}${open.name}`, open.name));
  }
  if (written.size > 0) {
    const next = nextManifest(listed, [...written.values()], fresh.size, now);
    await bucket.put(manifestKey(tenantId, date), JSON.stringify(next, null, 2), {
      httpMetadata: { contentType: "application/json" },
    });
    await recordArchivePartition(env.DB, tenantId, {
      date,
      files: next.files.length,
      rows: next.rows,
      bytes: next.bytes,
      min_event_time: Date.parse(next.min_event_time ?? date),
      max_event_time: Date.parse(next.max_event_time ?? date),
      compacted_at: now,
    });
  }
  // Only now: until the manifest stands, a crash leaves the staged rows to compact again.
  for (let i = 0; i < keys.length; i += 1000) await bucket.delete(keys.slice(i, i + 1000));
  return {
    result: {
      date,
      staged: keys.length,
      added_rows: fresh.size,
      changed: [...written.keys()].sort(),
    },
    bytesRead,
    complete,
  };
}

/** The partition's object names after the manifest's last part (none but a stopped run's). */
async function partNamesAfter(
  bucket: R2Bucket,
  prefix: string,
  manifest: ArchiveManifest,
): Promise<string[]> {
  const last = manifest.files.at(-1)?.name;
  const names: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await bucket.list({
      prefix,
      ...(last ? { startAfter: `${prefix}${last}` } : {}),
      ...(cursor ? { cursor } : {}),
    });
    for (const object of page.objects) names.push(object.key.slice(prefix.length));
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return names;
}

/** The manifest entry for a part as stored. */
async function storedFile(bucket: R2Bucket, key: string, name: string): Promise<ArchiveFile> {
  const object = await bucket.get(key);
  if (!object) throw new Error(`archive part ${key} is missing`);
  const bytes = new Uint8Array(await object.arrayBuffer());
  const source = bytes.buffer as ArrayBuffer;
  const metadata = await exactMetadata(source);
  let minEventTime = Number.POSITIVE_INFINITY;
  let maxEventTime = Number.NEGATIVE_INFINITY;
  for (const range of rowGroupRanges(metadata)) {
    for (const r of await readArchiveRows(source, {
      ...range,
      metadata,
      columns: ["event_time"],
    })) {
      minEventTime = Math.min(minEventTime, r.event_time);
      maxEventTime = Math.max(maxEventTime, r.event_time);
    }
  }
  return archiveFile(name, { rows: Number(metadata.num_rows), minEventTime, maxEventTime }, bytes);
}

/** A part's rows as stored, one row group at a time. */
async function* partRowGroups(bucket: R2Bucket, key: string): AsyncGenerator<ArchiveRow[]> {
  const source = await r2AsyncBuffer(bucket, key);
  const metadata = await exactMetadata(source);
  for (const range of rowGroupRanges(metadata)) {
    yield await readArchiveRows(source, { ...range, metadata });
  }
}

async function* emptyGroups(): AsyncGenerator<ArchiveRow[]> {}

/** A partition's manifest, or null before its first compaction. */
export async function readArchiveManifest(
  bucket: R2Bucket,
  tenantId: string,
  date: string,
): Promise<ArchiveManifest | null> {
  const object = await bucket.get(manifestKey(tenantId, date));
  return object ? ((await object.json()) as ArchiveManifest) : null;
}

/** A day's part files as the manifest lists them, with their R2 keys (for downloads and
 * exports: read each with `bucket.get(key)`). Empty before the day's first compaction. */
export async function archiveDayFiles(
  bucket: R2Bucket,
  tenantId: string,
  date: string,
): Promise<(ArchiveFile & { key: string })[]> {
  const manifest = await readArchiveManifest(bucket, tenantId, date);
  const prefix = partitionPrefix(tenantId, date);
  return (manifest?.files ?? []).map((f) => ({ ...f, key: `${prefix}${f.name}` }));
}

/**
 * The replay path: the tenant's rollups per (customer, hour, product, metric) rebuilt from the
 * archive's compacted parts for the UTC dates [from, to], reading each part one row group and
 * the eight columns it needs at a time. Equal to rollups_hourly for the same hours (the archive
 * test shows it to the nano); what is staged but not yet compacted is not in it.
 */
export async function replayArchiveRollups(
  bucket: R2Bucket,
  tenantId: string,
  dates: readonly string[],
): Promise<Map<string, ReplayTotals>> {
  const totals = new Map<string, ReplayTotals>();
  for (const date of dates) {
    for (const file of await archiveDayFiles(bucket, tenantId, date)) {
      const source = await r2AsyncBuffer(bucket, file.key);
      const metadata = await exactMetadata(source);
      for (const range of rowGroupRanges(metadata)) {
        addReplayTotals(
          totals,
          await readArchiveRows(source, {
            ...range,
            metadata,
            columns: [...REPLAY_COLUMNS],
          }),
        );
      }
    }
  }
  return totals;
}

/** Whether a date has staged rows the next compaction has yet to add to its partition. */
export async function hasStagedRows(
  bucket: R2Bucket,
  tenantId: string,
  date: string,
): Promise<boolean> {
  const page = await bucket.list({ prefix: stagingPrefix(tenantId, date), limit: 1 });
  return page.objects.length > 0;
}

/** Reads an R2 object in byte ranges on demand (hyparquet's AsyncBuffer). */
export async function r2AsyncBuffer(bucket: R2Bucket, key: string): Promise<AsyncBuffer> {
  const head = await bucket.head(key);
  if (!head) throw new Error(`archive object ${key} is missing`);
  return {
    byteLength: head.size,
    async slice(start: number, end?: number) {
      const length = (end ?? head.size) - start;
      const object = await bucket.get(key, { range: { offset: start, length } });
      if (!object) throw new Error(`archive object ${key} is missing`);
      return object.arrayBuffer();
    },
  };
}
