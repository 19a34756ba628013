// Share links of saved reports in D1 (schema/0020_report_shares.sql): the row a signed token is
// checked against (its report, expiry and revocation) and the link's fixed-window hit counter.

export interface ShareRecord {
  id: string;
  report_id: string;
  expires_at: number;
  revoked_at: number | null;
  revoked_by: string | null;
  created_by: string;
  created_by_name: string | null;
  created_at: number;
}

const COLUMNS =
  "id, report_id, expires_at, revoked_at, revoked_by, created_by, created_by_name, created_at";

export async function insertShare(db: D1Database, tenantId: string, s: ShareRecord) {
  await db
    .prepare(`INSERT INTO report_shares (tenant_id, ${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
    .bind(
      tenantId,
      s.id,
      s.report_id,
      s.expires_at,
      s.revoked_at,
      s.revoked_by,
      s.created_by,
      s.created_by_name,
      s.created_at,
    )
    .run();
}

export async function getShare(
  db: D1Database,
  tenantId: string,
  id: string,
): Promise<ShareRecord | null> {
  return db
    .prepare(`SELECT ${COLUMNS} FROM report_shares WHERE tenant_id = ? AND id = ?`)
    .bind(tenantId, id)
    .first<ShareRecord>();
}

/** A report's share links, newest first (active and revoked; at most `limit`). */
export async function listShares(
  db: D1Database,
  tenantId: string,
  reportId: string,
  limit = 200,
): Promise<ShareRecord[]> {
  const { results } = await db
    .prepare(
      `SELECT ${COLUMNS} FROM report_shares WHERE tenant_id = ? AND report_id = ?
       ORDER BY created_at DESC, id DESC LIMIT ?`,
    )
    .bind(tenantId, reportId, limit)
    .all<ShareRecord>();
  return results;
}

/** Revokes a link once; false when it is not the report's or was revoked already. */
export async function revokeShare(
  db: D1Database,
  tenantId: string,
  reportId: string,
  id: string,
  by: string,
  now: number,
): Promise<boolean> {
  const r = await db
    .prepare(
      `UPDATE report_shares SET revoked_at = ?, revoked_by = ?
       WHERE tenant_id = ? AND report_id = ? AND id = ? AND revoked_at IS NULL`,
    )
    .bind(now, by, tenantId, reportId, id)
    .run();
  return r.meta.changes > 0;
}

/**
 * Counts one hit in the link's fixed window of `windowMs` (one statement, so concurrent hits
 * each count): the hits so far in the current window, this one included.
 */
export async function hitShare(
  db: D1Database,
  tenantId: string,
  id: string,
  now: number,
  windowMs: number,
): Promise<number> {
  const start = now - (now % windowMs);
  const row = await db
    .prepare(
      `UPDATE report_shares
       SET window_hits = CASE WHEN window_start = ?1 THEN window_hits + 1 ELSE 1 END,
           window_start = ?1
       WHERE tenant_id = ?2 AND id = ?3
       RETURNING window_hits`,
    )
    .bind(start, tenantId, id)
    .first<{ window_hits: number }>();
  return row?.window_hits ?? 0;
}

/** The currency a tenant's money cells are in, as the dashboard reads it: its plans' most
 * common currency (USD with no plans). */
export async function reportCurrency(db: D1Database, tenantId: string): Promise<string> {
  const row = await db
    .prepare(
      `SELECT currency FROM plans WHERE tenant_id = ?
       GROUP BY currency ORDER BY count(*) DESC, currency LIMIT 1`,
    )
    .bind(tenantId)
    .first<{ currency: string }>();
  return row?.currency ?? "USD";
}
