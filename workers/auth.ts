import type { Context, MiddlewareHandler } from "hono";
import { isRole, type Role } from "../domain/roles";
import { type KeyKind, keyCredential } from "../store/tenants";
import type { Actor, AppEnv } from "./app";
import { ApiError } from "./problem";
import { checkCsrf, sessionFromCookie } from "./sessions";

// Keys look like `aforo_ik_<id>_<secret>` (ingest, /v1/*) or `aforo_op_<id>_<secret>`
// (operator, /api/*). The id locates the row; only SHA-256(secret) is stored, and the digest is
// compared in constant time. Secrets are 256 random bits, so a fast hash is the right tool.
export type { KeyKind };

const KIND_PREFIX: Record<KeyKind, string> = { ingest: "ik", operator: "op" };
const KEY_PATTERN = /^aforo_(ik|op)_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

export interface IssuedKey {
  id: string;
  kind: KeyKind;
  key: string;
  secretHash: string;
}

export const toHex = (bytes: ArrayBuffer | Uint8Array) =>
  Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");

export const base64url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replace(/=+$/, "");

/** Bytes of base64 or base64url text (padding optional); throws on anything else. */
export const fromBase64 = (text: string) =>
  Uint8Array.from(atob(text.replaceAll("-", "+").replaceAll("_", "/")), (ch) => ch.charCodeAt(0));

export const randomHex = (bytes: number) => toHex(crypto.getRandomValues(new Uint8Array(bytes)));

async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

export const sha256Hex = async (text: string) => toHex(await sha256(text));

/** Constant-time comparison of two strings of any length (compares their digests). */
export async function secretsEqual(a: string, b: string): Promise<boolean> {
  const [da, db] = await Promise.all([sha256(a), sha256(b)]);
  return crypto.subtle.timingSafeEqual(da, db);
}

export async function issueKey(kind: KeyKind): Promise<IssuedKey> {
  const id = randomHex(8);
  const secret = base64url(crypto.getRandomValues(new Uint8Array(32)));
  return {
    id,
    kind,
    key: `aforo_${KIND_PREFIX[kind]}_${id}_${secret}`,
    secretHash: toHex(await sha256(secret)),
  };
}

interface KeyRecord {
  tenantId: string;
  kind: KeyKind;
  role: Role;
  name: string | null;
  secretHash: Uint8Array;
  revoked: boolean;
}

// Per-isolate cache so the hot paths (ingest, gate) do not query D1 on every request.
// Revocation is immediate in the isolate that revokes and takes up to KEY_CACHE_MS elsewhere.
const KEY_CACHE_MS = 30_000;
const keyCache = new Map<string, { record: KeyRecord | null; expires: number }>();

export function forgetKey(id: string) {
  keyCache.delete(id);
}

async function loadKey(db: D1Database, id: string): Promise<KeyRecord | null> {
  const cached = keyCache.get(id);
  if (cached && cached.expires > Date.now()) return cached.record;
  const row = await keyCredential(db, id);
  const record = row
    ? {
        tenantId: row.tenant_id,
        kind: row.kind,
        role: isRole(row.role) ? row.role : "viewer",
        name: row.name,
        secretHash: Uint8Array.from(row.secret_hash.match(/../g) ?? [], (h) => parseInt(h, 16)),
        revoked: row.revoked_at !== null,
      }
    : null;
  if (keyCache.size > 10_000) keyCache.clear();
  keyCache.set(id, { record, expires: Date.now() + KEY_CACHE_MS });
  return record;
}

function bearer(header: string | undefined): string | undefined {
  const m = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return m?.[1];
}

/** Checks a bearer key of the given kind; the tenant, key id and record it names. */
async function keyFromBearer(db: D1Database, token: string, kind: KeyKind) {
  const m = KEY_PATTERN.exec(token);
  if (!m) throw new ApiError("unauthorized", "Malformed key");
  const [, prefix, id = "", secret = ""] = m;
  const record = await loadKey(db, id);
  const presented = await sha256(secret);
  const stored = record?.secretHash ?? new Uint8Array(32);
  const matches = crypto.subtle.timingSafeEqual(presented, stored) && record !== null;
  if (!record || !matches || record.revoked) {
    throw new ApiError("unauthorized", "Unknown or revoked key");
  }
  if (record.kind !== kind || prefix !== KIND_PREFIX[kind]) {
    throw new ApiError(
      "wrong_key_kind",
      kind === "ingest"
        ? "This path takes an ingest key (aforo_ik_…); operator tokens work only on /api/*"
        : "This path takes an operator token (aforo_op_…) or a signed-in session; ingest keys work only on /v1/*",
    );
  }
  return { id, record };
}

const presentedToken = (c: Context<AppEnv>) =>
  bearer(c.req.header("authorization")) ?? c.req.header("x-api-key");

/** Authenticates an ingest key (/v1/*); sets `tenantId`. */
export const requireIngestKey: MiddlewareHandler<AppEnv> = async (c, next) => {
  const token = presentedToken(c);
  if (!token) throw new ApiError("unauthorized", "Send the key as 'Authorization: Bearer <key>'");
  const { record } = await keyFromBearer(c.env.DB, token, "ingest");
  c.set("tenantId", record.tenantId);
  await next();
};

/**
 * Authenticates an operator on /api/*: an operator token (machines; `Authorization: Bearer`)
 * or, without one, a person's session cookie (whose state-changing requests must pass the CSRF
 * check). Sets `tenantId` and `actor`; what the actor may do is each route's `permit`.
 */
export const requireOperator: MiddlewareHandler<AppEnv> = async (c, next) => {
  const token = presentedToken(c);
  if (token) {
    const { id, record } = await keyFromBearer(c.env.DB, token, "operator");
    c.set("tenantId", record.tenantId);
    c.set("actor", {
      kind: "token",
      id,
      ref: `token:${id}`,
      name: record.name,
      email: null,
      role: record.role,
      csrfToken: null,
    } satisfies Actor);
    return next();
  }
  const session = await sessionFromCookie(c);
  if (!session) {
    throw new ApiError(
      "unauthorized",
      "Sign in (a session cookie) or send an operator token as 'Authorization: Bearer <token>'",
    );
  }
  const p = session.principal;
  await checkCsrf(c, session.csrfToken);
  c.set("tenantId", p.tenant_id);
  c.set("actor", {
    kind: "member",
    id: p.member_id,
    ref: `member:${p.email}`,
    name: p.name,
    email: p.email,
    role: isRole(p.role) ? p.role : "viewer",
    csrfToken: session.csrfToken,
    sessionId: p.session_id,
  } satisfies Actor);
  return next();
};

export const requireAdmin: MiddlewareHandler<AppEnv> = async (c, next) => {
  const token = bearer(c.req.header("authorization"));
  const expected = c.env.AFORO_ADMIN_TOKEN;
  if (!expected) throw new ApiError("internal", "AFORO_ADMIN_TOKEN is not configured");
  if (!token || !(await secretsEqual(token, expected))) {
    throw new ApiError("unauthorized", "This path takes the admin token (AFORO_ADMIN_TOKEN)");
  }
  await next();
};
