import { DAY_MS } from "../domain/time";

// Revenue Cockpit snapshots (cockpit_snapshots; body = the API's JSON, kept as text so the
// latest one is served without a re-parse) and the data versions they are checked against:
// the tenant's catalog version and its billing version (billing_versions).

export interface DataVersions {
  catalog: number;
  billing: number;
}

export async function dataVersions(db: D1Database, tenantId: string): Promise<DataVersions> {
  const row = await db
    .prepare(
      `SELECT t.catalog_version, COALESCE(b.version, 0) AS billing_version FROM tenants t
       LEFT JOIN billing_versions b ON b.tenant_id = t.id WHERE t.id = ?`,
    )
    .bind(tenantId)
    .first<{ catalog_version: number; billing_version: number }>();
  return { catalog: row?.catalog_version ?? 0, billing: row?.billing_version ?? 0 };
}

export interface SnapshotWrite {
  as_of: number;
  computed_at: number;
  versions: DataVersions;
  /** Headline MRR (decimal string). */
  mrr: string;
  /** The cockpit's API JSON. */
  body: string;
}

/** Stores a snapshot and thins the history in the same transaction: every snapshot of the last
 * `keepAllMs`, then the last one of each UTC day. */
export async function writeSnapshot(
  db: D1Database,
  tenantId: string,
  s: SnapshotWrite,
  keepAllMs: number,
): Promise<void> {
  await db.batch([
    db
      .prepare(
        `INSERT OR REPLACE INTO cockpit_snapshots
           (tenant_id, as_of, computed_at, catalog_version, billing_version, mrr, body)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      )
      .bind(
        tenantId,
        s.as_of,
        s.computed_at,
        s.versions.catalog,
        s.versions.billing,
        s.mrr,
        s.body,
      ),
    db
      .prepare(
        `DELETE FROM cockpit_snapshots WHERE tenant_id = ?1 AND as_of < ?2 AND as_of NOT IN (
           SELECT MAX(as_of) FROM cockpit_snapshots WHERE tenant_id = ?1 AND as_of < ?2
           GROUP BY as_of / ${DAY_MS})`,
      )
      .bind(tenantId, s.as_of - keepAllMs),
  ]);
}

export interface LatestSnapshot {
  as_of: number;
  /** The stored API JSON, as text. */
  body: string;
  /** Whether it was computed on the data versions current now. */
  current: boolean;
}

/** The tenant's latest snapshot, or null without any. */
export async function latestSnapshot(
  db: D1Database,
  tenantId: string,
): Promise<LatestSnapshot | null> {
  const row = await db
    .prepare(
      `SELECT s.as_of, s.body, s.catalog_version = t.catalog_version
           AND s.billing_version = COALESCE(b.version, 0) AS current
       FROM tenants t
       JOIN cockpit_snapshots s ON s.tenant_id = t.id
       LEFT JOIN billing_versions b ON b.tenant_id = t.id
       WHERE t.id = ? ORDER BY s.as_of DESC LIMIT 1`,
    )
    .bind(tenantId)
    .first<{ as_of: number; body: string; current: number }>();
  return row ? { as_of: row.as_of, body: row.body, current: Boolean(row.current) } : null;
}

/** Stored snapshots' headline, newest first. */
export async function listSnapshots(
  db: D1Database,
  tenantId: string,
  limit: number,
): Promise<{ as_of: number; computed_at: number; mrr: string }[]> {
  const { results } = await db
    .prepare(
      `SELECT as_of, computed_at, mrr FROM cockpit_snapshots WHERE tenant_id = ?
       ORDER BY as_of DESC LIMIT ?`,
    )
    .bind(tenantId, limit)
    .all<{ as_of: number; computed_at: number; mrr: string }>();
  return results;
}

/** A fingerprint of everything the KPI engine reads for a tenant, in two parts: `strict`
 * (catalog and billing versions: subscriptions, plans, invoices, states) and `soft` (the latest
 * applied rollup batch, and the signals' count, open count and resolution times), which move
 * every few seconds under live traffic and touch only usage MRR and the at-risk overlay. Equal
 * fingerprints → the same engine input. One D1 round trip of index range scans. */
export async function kpiDataFingerprint(
  db: D1Database,
  tenantId: string,
): Promise<{ strict: string; soft: string }> {
  const row = await db
    .prepare(
      `SELECT t.catalog_version AS c, COALESCE(b.version, 0) AS b,
         COALESCE((SELECT MAX(applied_at) FROM applied_batches WHERE tenant_id = t.id), 0) AS u,
         (SELECT COUNT(*) || ':' || TOTAL(status = 'open') || ':' || TOTAL(COALESCE(resolved_at, 0))
            FROM signals WHERE tenant_id = t.id) AS s
       FROM tenants t LEFT JOIN billing_versions b ON b.tenant_id = t.id WHERE t.id = ?`,
    )
    .bind(tenantId)
    .first<{ c: number; b: number; u: number; s: string }>();
  return row
    ? { strict: `${row.c}/${row.b}`, soft: `${row.u}/${row.s}` }
    : { strict: "none", soft: "" };
}
