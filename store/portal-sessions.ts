// Customer portal sessions in D1 (schema/0039_portal_sessions.sql): the row a portal token is
// checked against on every request. The token itself is never stored, only its SHA-256.

export interface PortalSessionRecord {
  id: string;
  customer_id: string;
  created_by: string;
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
  revoked_by: string | null;
}

/** A session found by its token: the tenant and customer it opens. */
export interface PortalSessionGrant extends PortalSessionRecord {
  tenant_id: string;
}

const COLUMNS = "id, customer_id, created_by, created_at, expires_at, revoked_at, revoked_by";

export async function insertPortalSession(
  db: D1Database,
  tenantId: string,
  s: PortalSessionRecord,
  tokenHash: string,
) {
  await db
    .prepare(
      `INSERT INTO portal_sessions (tenant_id, ${COLUMNS}, token_hash)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .bind(
      tenantId,
      s.id,
      s.customer_id,
      s.created_by,
      s.created_at,
      s.expires_at,
      s.revoked_at,
      s.revoked_by,
      tokenHash,
    )
    .run();
}

/** The session a token hash names, whatever its state (the caller checks expiry and revocation). */
export async function portalSessionByHash(
  db: D1Database,
  tokenHash: string,
): Promise<PortalSessionGrant | null> {
  return db
    .prepare(`SELECT tenant_id, ${COLUMNS} FROM portal_sessions WHERE token_hash = ?`)
    .bind(tokenHash)
    .first<PortalSessionGrant>();
}

export async function getPortalSession(
  db: D1Database,
  tenantId: string,
  id: string,
): Promise<PortalSessionRecord | null> {
  return db
    .prepare(`SELECT ${COLUMNS} FROM portal_sessions WHERE tenant_id = ? AND id = ?`)
    .bind(tenantId, id)
    .first<PortalSessionRecord>();
}

/** The tenant's sessions (of one customer, or all), newest first, at most `limit`. */
export async function listPortalSessions(
  db: D1Database,
  tenantId: string,
  customerId: string | null,
  limit = 200,
): Promise<PortalSessionRecord[]> {
  const { results } = await db
    .prepare(
      `SELECT ${COLUMNS} FROM portal_sessions WHERE tenant_id = ?1 AND (?2 IS NULL OR customer_id = ?2)
       ORDER BY created_at DESC, id DESC LIMIT ?3`,
    )
    .bind(tenantId, customerId, limit)
    .all<PortalSessionRecord>();
  return results;
}

/** Revokes a session once; false when it is unknown or was revoked already. */
export async function revokePortalSession(
  db: D1Database,
  tenantId: string,
  id: string,
  by: string,
  now: number,
): Promise<boolean> {
  const r = await db
    .prepare(
      `UPDATE portal_sessions SET revoked_at = ?, revoked_by = ?
       WHERE tenant_id = ? AND id = ? AND revoked_at IS NULL`,
    )
    .bind(now, by, tenantId, id)
    .run();
  return r.meta.changes > 0;
}
