import type { AsyncBuffer } from "hyparquet";
import {
  type ArchiveFile,
  type ArchiveManifest,
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
} from "../domain/exports/archive-layout";
import { addReplayTotals, type ReplayTotals } from "../domain/exports/archive-replay";
import {
  ArchivePartWriter,
  type ArchiveRow,
  archiveKey,
  mergeRowGroups,
  readArchiveRows,
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

/** Staged bytes one compaction reads per tenant: what is left waits for the next tick. */
const STAGED_BYTES_PER_RUN = 24_000_000;
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

/** Compacts the tenant's staged rows into their partitions; one run at a time per tenant. */
export async function compactEventArchive(
  env: Env,
  tenantId: string,
  now: number,
): Promise<PartitionCompaction[]> {
  const until = now + LEASE_MS;
  if (!(await leaseArchiveCompaction(env.DB, tenantId, now, until))) return [];
  try {
    const out: PartitionCompaction[] = [];
    let budget = STAGED_BYTES_PER_RUN;
    for (const date of await stagedDates(env.EXPORTS, tenantId)) {
      if (budget <= 0) break;
      const done = await compactPartition(env, tenantId, date, budget, now);
      budget -= done.bytesRead;
      out.push(done.result);
    }
    return out;
  } finally {
    await releaseArchiveCompaction(env.DB, tenantId, until);
  }
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
): Promise<{ result: PartitionCompaction; bytesRead: number }> {
  const bucket = env.EXPORTS;
  // The staged objects, up to the budget (at least one, so a partition always moves).
  const keys: string[] = [];
  const rows: ArchiveRow[] = [];
  let bytesRead = 0;
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
  } while (cursor);

  const fresh = dedupeStaged(rows);
  const manifest =
    (await readArchiveManifest(bucket, tenantId, date)) ?? emptyManifest(tenantId, date);
  const prefix = partitionPrefix(tenantId, date);
  // Keys already archived: each part's two key columns, one row group at a time.
  let openRows = 0;
  const open = openPart(manifest);
  for (const file of manifest.files) {
    const source = await r2AsyncBuffer(bucket, `${prefix}${file.name}`);
    const metadata = await exactMetadata(source);
    for (const range of rowGroupRanges(metadata)) {
      const keyRows = await readArchiveRows(source, {
        ...range,
        metadata,
        columns: ["customer_id", "event_id"],
      });
      for (const r of keyRows) fresh.delete(archiveKey(r));
    }
    // As stored: more than the manifest says after a run that stopped before its manifest.
    if (file === open) openRows = Number(metadata.num_rows);
  }

  const writes = planParts(manifest, openRows, [...fresh.values()]);
  // New files first, the rewritten open part last: a reader listing files meanwhile never
  // misses a row that was archived before.
  const written: ArchiveFile[] = [];
  for (const part of [...writes].reverse()) {
    const key = `${prefix}${part.name}`;
    const writer = new ArchivePartWriter();
    const stored = part.rewrite ? partRowGroups(bucket, key) : emptyGroups();
    for await (const group of mergeRowGroups(stored, part.fresh)) writer.write(group);
    const bytes = writer.finish();
    await bucket.put(key, bytes, {
      httpMetadata: { contentType: "application/vnd.apache.parquet" },
    });
    written.unshift(await archiveFile(part.name, writer, bytes));
  }
  // A run that rewrote the open part and stopped before its manifest left the manifest's entry
  // behind the file: it is brought up to date with the file as stored.
  if (open && openRows !== open.rows && !writes.some((w) => w.name === open.name)) {
    written.push(await storedFile(bucket, `${prefix}${open.name}`, open.name));
  }
  if (written.length > 0) {
    const next = nextManifest(manifest, written, fresh.size, now);
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
      changed: written.map((f) => f.name),
    },
    bytesRead,
  };
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
 * the seven columns it needs at a time. Equal to rollups_hourly for the same hours (the archive
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
            columns: [
              "customer_id",
              "event_time",
              "product",
              "metric",
              "quantity",
              "revenue",
              "cost",
            ],
          }),
        );
      }
    }
  }
  return totals;
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
