// The event archive's D1 bookkeeping (schema/0027_event_archive.sql): the compaction lease and
// the index of compacted partitions. The archive itself is in R2 (workers/event-archive.ts).

/** Takes the tenant's compaction lease until `until`; false while another run holds it. */
export async function leaseArchiveCompaction(
  db: D1Database,
  tenantId: string,
  now: number,
  until: number,
): Promise<boolean> {
  const row = await db
    .prepare(
      `INSERT INTO event_archive_compactions (tenant_id, leased_until) VALUES (?1, ?3)
       ON CONFLICT (tenant_id) DO UPDATE SET leased_until = ?3 WHERE leased_until <= ?2
       RETURNING leased_until`,
    )
    .bind(tenantId, now, until)
    .first<{ leased_until: number }>();
  return row !== null;
}

export async function releaseArchiveCompaction(db: D1Database, tenantId: string, until: number) {
  await db
    .prepare(
      "UPDATE event_archive_compactions SET leased_until = 0 WHERE tenant_id = ? AND leased_until = ?",
    )
    .bind(tenantId, until)
    .run();
}

export interface ArchivePartition {
  date: string;
  files: number;
  rows: number;
  bytes: number;
  min_event_time: number;
  max_event_time: number;
  compacted_at: number;
}

export async function recordArchivePartition(
  db: D1Database,
  tenantId: string,
  p: ArchivePartition,
) {
  await db
    .prepare(
      `INSERT INTO event_archive_partitions
         (tenant_id, date, files, rows, bytes, min_event_time, max_event_time, compacted_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (tenant_id, date) DO UPDATE SET files = excluded.files, rows = excluded.rows,
         bytes = excluded.bytes, min_event_time = excluded.min_event_time,
         max_event_time = excluded.max_event_time, compacted_at = excluded.compacted_at`,
    )
    .bind(
      tenantId,
      p.date,
      p.files,
      p.rows,
      p.bytes,
      p.min_event_time,
      p.max_event_time,
      p.compacted_at,
    )
    .run();
}

/** The tenant's compacted partitions with dates in [from, to] (YYYY-MM-DD), oldest first. */
export async function listArchivePartitions(
  db: D1Database,
  tenantId: string,
  from: string,
  to: string,
): Promise<ArchivePartition[]> {
  const { results } = await db
    .prepare(
      `SELECT date, files, rows, bytes, min_event_time, max_event_time, compacted_at
       FROM event_archive_partitions WHERE tenant_id = ? AND date >= ? AND date <= ?
       ORDER BY date`,
    )
    .bind(tenantId, from, to)
    .all<ArchivePartition>();
  return results;
}
