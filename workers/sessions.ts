import type { Context } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import type { Role } from "../domain/roles";
import {
  auditInsert,
  memberSignedIn,
  type SessionPrincipal,
  sessionInsert,
  sessionPrincipal,
  sessionRevoke,
  sessionTouch,
} from "../store/members";
import type { AppEnv } from "./app";
import { base64url, randomHex, secretsEqual, sha256Hex } from "./auth";
import { ApiError } from "./problem";

// Cookie sessions for people (tokens stay for machines). The cookie holds `<id>.<secret>`: the id
// finds the row, only SHA-256(secret) is stored, and the CSRF token is derived from the secret,
// so it needs no storage and dies with the session. HttpOnly, SameSite=Strict, Path=/; over
// https also Secure with the `__Host-` prefix (no Domain, so no sibling host can set it).

/** Absolute lifetime of a session, and how long it may sit idle. */
export const SESSION_TTL_MS = 30 * 24 * 3600_000;
export const SESSION_IDLE_MS = 7 * 24 * 3600_000;
/** last_seen_at is written at most this often (not on every request). */
const TOUCH_EVERY_MS = 5 * 60_000;

const COOKIE = "aforo_session";
const secureRequest = (c: Context<AppEnv>) => new URL(c.req.url).protocol === "https:";
/** The cookie's attributes; over https Hono adds the `__Host-` prefix, Secure and no Domain. */
const cookieOptions = (c: Context<AppEnv>, maxAgeMs: number) => {
  const secure = secureRequest(c);
  return {
    httpOnly: true,
    secure,
    sameSite: "Strict" as const,
    path: "/",
    maxAge: Math.floor(maxAgeMs / 1000),
    ...(secure ? { prefix: "host" as const } : {}),
  };
};

const COOKIE_PATTERN = /^([0-9a-f]{32})\.([A-Za-z0-9_-]{43})$/;

function presentedCookie(c: Context<AppEnv>): { id: string; secret: string } | null {
  const value = getCookie(c, COOKIE, secureRequest(c) ? "host" : undefined);
  const m = value ? COOKIE_PATTERN.exec(value) : null;
  return m?.[1] && m[2] ? { id: m[1], secret: m[2] } : null;
}

export const csrfTokenOf = async (secret: string) =>
  (await sha256Hex(`csrf:${secret}`)).slice(0, 43);

export interface SessionActor {
  principal: SessionPrincipal;
  csrfToken: string;
}

/** The live session the request's cookie names, or null (no cookie, unknown, expired, revoked,
 * removed member). Refreshes last_seen_at now and then. */
export async function sessionFromCookie(c: Context<AppEnv>): Promise<SessionActor | null> {
  const cookie = presentedCookie(c);
  if (!cookie) return null;
  const db = c.env.DB;
  const p = await sessionPrincipal(db, cookie.id);
  const now = Date.now();
  const secretMatches =
    p !== null && (await secretsEqual(await sha256Hex(cookie.secret), p.secret_hash));
  if (
    !p ||
    !secretMatches ||
    p.revoked_at !== null ||
    p.expires_at <= now ||
    p.last_seen_at + SESSION_IDLE_MS <= now ||
    p.status === "removed"
  ) {
    return null;
  }
  if (now - p.last_seen_at > TOUCH_EVERY_MS) await sessionTouch(db, p.session_id, now).run();
  return { principal: p, csrfToken: await csrfTokenOf(cookie.secret) };
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * A state-changing request on a cookie session must prove it comes from the dashboard: the
 * `X-CSRF-Token` header (which only a page of this origin can read, from /api/me or the sign-in
 * answer) and, when the browser sends one, an Origin equal to this origin. SameSite=Strict
 * already keeps the cookie off cross-site requests; this is the second lock.
 */
export async function checkCsrf(c: Context<AppEnv>, csrfToken: string) {
  if (SAFE_METHODS.has(c.req.method)) return;
  const origin = c.req.header("origin");
  if (origin && origin !== new URL(c.req.url).origin) {
    throw new ApiError("csrf_failed", `Requests from ${origin} may not use this session`);
  }
  const presented = c.req.header("x-csrf-token");
  if (!presented || !(await secretsEqual(presented, csrfToken))) {
    throw new ApiError(
      "csrf_failed",
      "A signed-in browser request that changes something must carry the X-CSRF-Token header (GET /api/me gives it)",
    );
  }
}

/**
 * Starts a session for a member who just proved who they are. Any session the request still
 * carries is revoked first, so a cookie planted before sign-in (session fixation) never becomes
 * a signed-in one; the new cookie replaces it.
 */
export async function startSession(
  c: Context<AppEnv>,
  member: { tenant_id: string; id: string; email: string; name: string | null; role: Role },
  method: "magic_link" | "passkey",
): Promise<{ csrfToken: string; expiresAt: number }> {
  const db = c.env.DB;
  const now = Date.now();
  const old = await presentedSessionId(c);
  const id = randomHex(16);
  const secret = base64url(crypto.getRandomValues(new Uint8Array(32)));
  const expiresAt = now + SESSION_TTL_MS;
  await db.batch([
    ...(old ? [sessionRevoke(db, old, now)] : []),
    sessionInsert(db, {
      id,
      secretHash: await sha256Hex(secret),
      tenantId: member.tenant_id,
      memberId: member.id,
      method,
      userAgent: c.req.header("user-agent")?.slice(0, 300) ?? null,
      now,
      expiresAt,
    }),
    memberSignedIn(db, member.id, now),
    auditInsert(db, {
      tenant_id: member.tenant_id,
      at: now,
      actor: `member:${member.email}`,
      actor_name: member.name,
      actor_role: member.role,
      action: "session.sign_in",
      target_type: "member",
      target_id: member.id,
      detail: { method },
    }),
  ]);
  setCookie(c, COOKIE, `${id}.${secret}`, cookieOptions(c, SESSION_TTL_MS));
  return { csrfToken: await csrfTokenOf(secret), expiresAt };
}

/** Expires the session cookie in the browser. */
export function clearSessionCookie(c: Context<AppEnv>) {
  setCookie(c, COOKIE, "", cookieOptions(c, 0));
}

/**
 * The session the request's cookie really holds, live or not (sign-out and sign-in revoke it):
 * its id when the cookie's secret matches the stored one, else null. The id alone is half a
 * cookie and must not be enough to end somebody's session.
 */
export async function presentedSessionId(c: Context<AppEnv>): Promise<string | null> {
  const cookie = presentedCookie(c);
  if (!cookie) return null;
  const p = await sessionPrincipal(c.env.DB, cookie.id);
  const owned = p !== null && (await secretsEqual(await sha256Hex(cookie.secret), p.secret_hash));
  return owned ? cookie.id : null;
}
