import type { Role } from "../domain/roles";

// Operator accounts in D1: members, their cookie sessions, single-use sign-in links, passkeys,
// WebAuthn challenges and the audit log (schema/0014_accounts.sql). Secrets are stored only as
// SHA-256 digests; the edge (workers/sessions.ts) makes and checks them.

export type MemberStatus = "invited" | "active" | "removed";

export interface MemberRecord {
  id: string;
  tenant_id: string;
  email: string;
  name: string | null;
  role: Role;
  status: MemberStatus;
  invited_by: string | null;
  created_at: number;
  last_sign_in_at: number | null;
}

const MEMBER_COLUMNS =
  "id, tenant_id, email, name, role, status, invited_by, created_at, last_sign_in_at";

export const memberInsert = (db: D1Database, m: Omit<MemberRecord, "last_sign_in_at">) =>
  db
    .prepare(
      `INSERT INTO members (id, tenant_id, email, name, role, status, invited_by, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .bind(m.id, m.tenant_id, m.email, m.name, m.role, m.status, m.invited_by, m.created_at);

export async function listMembers(db: D1Database, tenantId: string): Promise<MemberRecord[]> {
  const { results } = await db
    .prepare(
      `SELECT ${MEMBER_COLUMNS} FROM members WHERE tenant_id = ? AND status <> 'removed'
       ORDER BY created_at, id`,
    )
    .bind(tenantId)
    .all<MemberRecord>();
  return results;
}

export async function getMember(
  db: D1Database,
  tenantId: string,
  id: string,
): Promise<MemberRecord | null> {
  return db
    .prepare(`SELECT ${MEMBER_COLUMNS} FROM members WHERE tenant_id = ? AND id = ?`)
    .bind(tenantId, id)
    .first<MemberRecord>();
}

export async function memberByEmail(
  db: D1Database,
  tenantId: string,
  email: string,
): Promise<MemberRecord | null> {
  return db
    .prepare(`SELECT ${MEMBER_COLUMNS} FROM members WHERE tenant_id = ? AND email = ?`)
    .bind(tenantId, email)
    .first<MemberRecord>();
}

/** Every tenant membership of an address that may sign in (invited or active). */
export async function membershipsOf(db: D1Database, email: string): Promise<MemberRecord[]> {
  const { results } = await db
    .prepare(
      `SELECT ${MEMBER_COLUMNS} FROM members WHERE email = ? AND status <> 'removed'
       ORDER BY created_at`,
    )
    .bind(email)
    .all<MemberRecord>();
  return results;
}

/** Re-invites a removed member (same row, new role). */
export const memberReinstate = (
  db: D1Database,
  tenantId: string,
  id: string,
  role: Role,
  invitedBy: string,
) =>
  db
    .prepare(
      `UPDATE members SET status = 'invited', role = ?, invited_by = ?, removed_at = NULL
       WHERE tenant_id = ? AND id = ? AND status = 'removed'`,
    )
    .bind(role, invitedBy, tenantId, id);

// A change may not leave the tenant without an owner who can sign in: an owner loses the role
// or is removed only while another active owner remains (an invitation is not enough), or, in a
// tenant whose owners have not signed in yet, while another invited owner remains. The guard is
// part of the update, so two concurrent demotions cannot leave a tenant without an owner.
const KEEPS_AN_OWNER = `(role <> 'owner'
   OR EXISTS (SELECT 1 FROM members o WHERE o.tenant_id = ?2 AND o.id <> ?3
     AND o.role = 'owner' AND o.status = 'active')
   OR (NOT EXISTS (SELECT 1 FROM members a WHERE a.tenant_id = ?2
         AND a.role = 'owner' AND a.status = 'active')
       AND EXISTS (SELECT 1 FROM members o WHERE o.tenant_id = ?2 AND o.id <> ?3
         AND o.role = 'owner' AND o.status <> 'removed')))`;

/** Changes a member's role; false when it would leave the tenant without an owner. */
export async function setMemberRole(
  db: D1Database,
  tenantId: string,
  id: string,
  role: Role,
): Promise<boolean> {
  const res = await db
    .prepare(
      `UPDATE members SET role = ?1 WHERE tenant_id = ?2 AND id = ?3 AND status <> 'removed'
         AND (?1 = 'owner' OR ${KEEPS_AN_OWNER})`,
    )
    .bind(role, tenantId, id)
    .run();
  return res.meta.changes > 0;
}

/** Removes a member and ends their sessions; false when they are the last owner. */
export async function removeMember(
  db: D1Database,
  tenantId: string,
  id: string,
  now: number,
): Promise<boolean> {
  const [removed] = await db.batch([
    db
      .prepare(
        `UPDATE members SET status = 'removed', removed_at = ?1 WHERE tenant_id = ?2 AND id = ?3
           AND status <> 'removed' AND ${KEEPS_AN_OWNER}`,
      )
      .bind(now, tenantId, id),
    db
      .prepare(
        `UPDATE sessions SET revoked_at = ?1 WHERE tenant_id = ?2 AND member_id = ?3
           AND revoked_at IS NULL
           AND EXISTS (SELECT 1 FROM members WHERE id = ?3 AND status = 'removed')`,
      )
      .bind(now, tenantId, id),
  ]);
  return (removed?.meta.changes ?? 0) > 0;
}

export const memberSignedIn = (db: D1Database, id: string, now: number) =>
  db
    .prepare(
      `UPDATE members SET last_sign_in_at = ?, status = CASE status WHEN 'invited' THEN 'active'
       ELSE status END WHERE id = ? AND status <> 'removed'`,
    )
    .bind(now, id);

// ---------------------------------------------------------------------------------------------
// Sessions

export interface SessionPrincipal {
  session_id: string;
  secret_hash: string;
  tenant_id: string;
  expires_at: number;
  revoked_at: number | null;
  last_seen_at: number;
  member_id: string;
  email: string;
  name: string | null;
  role: Role;
  status: MemberStatus;
}

export const sessionInsert = (
  db: D1Database,
  s: {
    id: string;
    secretHash: string;
    tenantId: string;
    memberId: string;
    method: "magic_link" | "passkey";
    userAgent: string | null;
    now: number;
    expiresAt: number;
  },
) =>
  db
    .prepare(
      `INSERT INTO sessions (id, secret_hash, tenant_id, member_id, method, user_agent, created_at,
         last_seen_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .bind(
      s.id,
      s.secretHash,
      s.tenantId,
      s.memberId,
      s.method,
      s.userAgent,
      s.now,
      s.now,
      s.expiresAt,
    );

/** A session with the member behind it (their role is read fresh on every request). */
export async function sessionPrincipal(
  db: D1Database,
  sessionId: string,
): Promise<SessionPrincipal | null> {
  return db
    .prepare(
      `SELECT s.id AS session_id, s.secret_hash, s.tenant_id, s.expires_at, s.revoked_at,
         s.last_seen_at, m.id AS member_id, m.email, m.name, m.role, m.status
       FROM sessions s JOIN members m ON m.id = s.member_id AND m.tenant_id = s.tenant_id
       WHERE s.id = ?`,
    )
    .bind(sessionId)
    .first<SessionPrincipal>();
}

export const sessionTouch = (db: D1Database, id: string, now: number) =>
  db.prepare("UPDATE sessions SET last_seen_at = ? WHERE id = ?").bind(now, id);

export const sessionRevoke = (db: D1Database, id: string, now: number) =>
  db
    .prepare("UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
    .bind(now, id);

export const sessionsRevokeAll = (db: D1Database, memberId: string, now: number) =>
  db
    .prepare("UPDATE sessions SET revoked_at = ? WHERE member_id = ? AND revoked_at IS NULL")
    .bind(now, memberId);

export interface SessionRecord {
  id: string;
  method: string;
  user_agent: string | null;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
}

export async function activeSessions(
  db: D1Database,
  memberId: string,
  now: number,
): Promise<SessionRecord[]> {
  const { results } = await db
    .prepare(
      `SELECT id, method, user_agent, created_at, last_seen_at, expires_at FROM sessions
       WHERE member_id = ? AND revoked_at IS NULL AND expires_at > ? ORDER BY created_at DESC`,
    )
    .bind(memberId, now)
    .all<SessionRecord>();
  return results;
}

// ---------------------------------------------------------------------------------------------
// Sign-in links

export const signInLinkInsert = (
  db: D1Database,
  l: { tokenHash: string; tenantId: string; memberId: string; now: number; expiresAt: number },
) =>
  db
    .prepare(
      `INSERT INTO sign_in_links (token_hash, tenant_id, member_id, created_at, expires_at)
       VALUES (?, ?, ?, ?, ?)`,
    )
    .bind(l.tokenHash, l.tenantId, l.memberId, l.now, l.expiresAt);

/** How many links a member was sent since `since` (the per-member brake). */
export async function linksSentSince(
  db: D1Database,
  memberId: string,
  since: number,
): Promise<number> {
  const row = await db
    .prepare("SELECT COUNT(*) AS n FROM sign_in_links WHERE member_id = ? AND created_at >= ?")
    .bind(memberId, since)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

/** Uses a link once: the member it signs in, or null when unknown, used, expired or removed. */
export async function consumeSignInLink(
  db: D1Database,
  tokenHash: string,
  now: number,
): Promise<{ tenant_id: string; member_id: string } | null> {
  return db
    .prepare(
      `UPDATE sign_in_links SET used_at = ?1 WHERE token_hash = ?2 AND used_at IS NULL
         AND expires_at > ?1
         AND EXISTS (SELECT 1 FROM members m WHERE m.id = sign_in_links.member_id
                     AND m.status <> 'removed')
       RETURNING tenant_id, member_id`,
    )
    .bind(now, tokenHash)
    .first<{ tenant_id: string; member_id: string }>();
}

// ---------------------------------------------------------------------------------------------
// Passkeys and WebAuthn challenges

export interface PasskeyRecord {
  id: string;
  tenant_id: string;
  member_id: string;
  public_key: string;
  counter: number;
  transports: string;
  name: string | null;
  created_at: number;
  last_used_at: number | null;
}

export const passkeyInsert = (db: D1Database, p: Omit<PasskeyRecord, "last_used_at">) =>
  db
    .prepare(
      `INSERT INTO passkeys (id, tenant_id, member_id, public_key, counter, transports, name,
         created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .bind(
      p.id,
      p.tenant_id,
      p.member_id,
      p.public_key,
      p.counter,
      p.transports,
      p.name,
      p.created_at,
    );

export async function passkeyById(db: D1Database, id: string): Promise<PasskeyRecord | null> {
  return db.prepare("SELECT * FROM passkeys WHERE id = ?").bind(id).first<PasskeyRecord>();
}

export async function passkeysOf(db: D1Database, memberId: string): Promise<PasskeyRecord[]> {
  const { results } = await db
    .prepare("SELECT * FROM passkeys WHERE member_id = ? ORDER BY created_at")
    .bind(memberId)
    .all<PasskeyRecord>();
  return results;
}

export const passkeyUsed = (db: D1Database, id: string, counter: number, now: number) =>
  db
    .prepare("UPDATE passkeys SET counter = ?, last_used_at = ? WHERE id = ?")
    .bind(counter, now, id);

export async function deletePasskey(
  db: D1Database,
  memberId: string,
  id: string,
): Promise<boolean> {
  const res = await db
    .prepare("DELETE FROM passkeys WHERE member_id = ? AND id = ?")
    .bind(memberId, id)
    .run();
  return res.meta.changes > 0;
}

export const challengeInsert = (
  db: D1Database,
  c: {
    id: string;
    challenge: string;
    purpose: "register" | "sign_in";
    memberId: string | null;
    expiresAt: number;
  },
) =>
  db
    .prepare(
      `INSERT INTO auth_challenges (id, challenge, purpose, member_id, expires_at)
       VALUES (?, ?, ?, ?, ?)`,
    )
    .bind(c.id, c.challenge, c.purpose, c.memberId, c.expiresAt);

/** Takes a challenge once (deleted as it is read); null when unknown, expired or not for this. */
export async function takeChallenge(
  db: D1Database,
  id: string,
  purpose: "register" | "sign_in",
  now: number,
): Promise<{ challenge: string; member_id: string | null } | null> {
  return db
    .prepare(
      `DELETE FROM auth_challenges WHERE id = ? AND purpose = ? AND expires_at > ?
       RETURNING challenge, member_id`,
    )
    .bind(id, purpose, now)
    .first<{ challenge: string; member_id: string | null }>();
}

// ---------------------------------------------------------------------------------------------
// Audit log

export interface AuditEntry {
  tenant_id: string;
  at: number;
  actor: string;
  actor_name: string | null;
  actor_role: Role;
  action: string;
  target_type: string | null;
  target_id: string | null;
  detail: Record<string, unknown>;
}

export interface AuditRecord extends Omit<AuditEntry, "detail"> {
  seq: number;
  detail: string;
}

export const auditInsert = (db: D1Database, e: AuditEntry) =>
  db
    .prepare(
      `INSERT INTO audit_log (tenant_id, at, actor, actor_name, actor_role, action, target_type,
         target_id, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .bind(
      e.tenant_id,
      e.at,
      e.actor,
      e.actor_name,
      e.actor_role,
      e.action,
      e.target_type,
      e.target_id,
      JSON.stringify(e.detail),
    );

export interface AuditQuery {
  actor?: string | undefined;
  action?: string | undefined;
  target_type?: string | undefined;
  target_id?: string | undefined;
  from?: number | undefined;
  to?: number | undefined;
}

/** Newest first; `action` matches a whole name (`invoice.pay`) or a family (`invoice`). */
export async function listAudit(
  db: D1Database,
  tenantId: string,
  q: AuditQuery,
  before: number | null,
  limit: number,
): Promise<AuditRecord[]> {
  const where = ["tenant_id = ?"];
  const args: (string | number)[] = [tenantId];
  const add = (sql: string, ...values: (string | number)[]) => {
    where.push(sql);
    args.push(...values);
  };
  if (q.actor)
    add("(actor = ? OR actor = ? OR actor_name = ?)", q.actor, `member:${q.actor}`, q.actor);
  if (q.action) {
    add(
      "(action = ? OR action LIKE ? ESCAPE '\\')",
      q.action,
      `${q.action.replace(/[\\%_]/g, "\\$&")}.%`,
    );
  }
  if (q.target_type) add("target_type = ?", q.target_type);
  if (q.target_id) add("target_id = ?", q.target_id);
  if (q.from !== undefined) add("at >= ?", q.from);
  if (q.to !== undefined) add("at < ?", q.to);
  if (before !== null) add("seq < ?", before);
  const { results } = await db
    .prepare(
      `SELECT seq, tenant_id, at, actor, actor_name, actor_role, action, target_type, target_id,
         detail FROM audit_log WHERE ${where.join(" AND ")} ORDER BY seq DESC LIMIT ?`,
    )
    .bind(...args, limit)
    .all<AuditRecord>();
  return results;
}
