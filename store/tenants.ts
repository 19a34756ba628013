import { z } from "zod";
import { parseStored } from "./d1";

// Tenants, their settings document and their API keys in D1.

/** Per-tenant settings, stored as JSON on the tenant row; every field has a default. The API
 * documents the same schema (workers/tenant-settings.ts), so a stored document and a request
 * body are validated alike. */
export const TenantSettingsDocument = z.object({
  backfill_horizon_days: z.number().int().min(1).max(3660).default(400).meta({
    description: "Events older than this many days are rejected (history import window)",
  }),
  raw_retention_days: z.number().int().min(1).max(3660).default(90).meta({
    description: "How long each customer actor keeps raw events for drill-down",
  }),
  payment_terms_days: z.number().int().min(0).max(365).default(30).meta({
    description: "Invoice due date = issue date + this many days",
  }),
  retry: z
    .object({
      max_attempts: z.number().int().min(0).max(8).default(8).meta({
        description:
          "Retries after a soft decline, 0 to 8 (0: none). The schedule has 8 slots, so more cannot be planned",
      }),
      window_days: z.number().int().min(1).max(60).default(28).meta({
        description:
          "No retry later than this many days after the failure, 1 to 60 (Stripe's longest Smart Retries window is 2 months)",
      }),
      time_zone: z
        .string()
        .max(64)
        .refine(isTimeZone, "an IANA time zone, e.g. Europe/Berlin")
        .default("UTC")
        .meta({ description: "IANA time zone the paydays, weekends and hours are local to" }),
      default_hour: z.number().int().min(0).max(23).default(10).meta({
        description:
          "Local hour (0 to 23) of the retries of a customer with too few successful payments to learn an hour from",
      }),
    })
    .default({ max_attempts: 8, window_days: 28, time_zone: "UTC", default_hour: 10 })
    .meta({
      description:
        "Adaptive Retry of failed payments (README): at most max_attempts retries within window_days, on business days and at hours local to time_zone",
    }),
});

export type RetrySettings = TenantSettings["retry"];

/** Replaces the tenant's retry policy (settings.retry) and nothing else of its settings: the
 * document is changed in place by SQLite, so a concurrent change of another field is kept.
 * False when the tenant row is missing. */
export async function putRetrySettings(
  db: D1Database,
  tenantId: string,
  retry: RetrySettings,
): Promise<boolean> {
  const res = await db
    .prepare("UPDATE tenants SET settings = json_set(settings, '$.retry', json(?)) WHERE id = ?")
    .bind(JSON.stringify(retry), tenantId)
    .run();
  return res.meta.changes > 0;
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

export type TenantSettings = z.output<typeof TenantSettingsDocument>;

const settingsOf = (text: string | undefined, tenantId: string): TenantSettings =>
  text === undefined
    ? TenantSettingsDocument.parse({})
    : parseStored(TenantSettingsDocument, text, `settings of tenant ${tenantId}`);

export interface TenantSummaryRecord {
  id: string;
  name: string;
  created_at: number;
}

/** The statement that creates a tenant (batched with its first keys). */
export const tenantInsert = (
  db: D1Database,
  tenant: { id: string; name: string; settings: TenantSettings; created_at: number },
) =>
  db
    .prepare("INSERT INTO tenants (id, name, settings, created_at) VALUES (?, ?, ?, ?)")
    .bind(tenant.id, tenant.name, JSON.stringify(tenant.settings), tenant.created_at);

export async function listTenants(db: D1Database): Promise<TenantSummaryRecord[]> {
  const { results } = await db
    .prepare("SELECT id, name, created_at FROM tenants ORDER BY created_at")
    .all<TenantSummaryRecord>();
  return results;
}

export async function tenantExists(db: D1Database, tenantId: string): Promise<boolean> {
  return (await db.prepare("SELECT id FROM tenants WHERE id = ?").bind(tenantId).first()) !== null;
}

/** The tenant's settings; defaults when the tenant row is missing. */
export async function loadTenantSettings(
  db: D1Database,
  tenantId: string,
): Promise<TenantSettings> {
  const row = await db
    .prepare("SELECT settings FROM tenants WHERE id = ?")
    .bind(tenantId)
    .first<{ settings: string }>();
  return settingsOf(row?.settings, tenantId);
}

/** What the edge checks on every ingest request: the catalog version (0 when the tenant row is
 * missing) and, parsed only when asked (a cache miss), the settings. */
export async function tenantCatalogHead(
  db: D1Database,
  tenantId: string,
): Promise<{ version: number; settings: () => TenantSettings }> {
  const head = await db
    .prepare("SELECT catalog_version, settings FROM tenants WHERE id = ?")
    .bind(tenantId)
    .first<{ catalog_version: number; settings: string }>();
  return {
    version: head?.catalog_version ?? 0,
    settings: () => settingsOf(head?.settings, tenantId),
  };
}

/** The statement that marks the tenant's catalog as changed (edge and actors reload it). */
export const bumpCatalogVersion = (db: D1Database, tenantId: string) =>
  db
    .prepare("UPDATE tenants SET catalog_version = catalog_version + 1 WHERE id = ?")
    .bind(tenantId);

// ---------------------------------------------------------------------------------------------
// API keys: only SHA-256(secret) is stored (workers/auth.ts issues and checks them).

export type KeyKind = "ingest" | "operator";

export interface KeyRecord {
  id: string;
  kind: KeyKind;
  name: string | null;
  /** What an operator token may do (domain/roles.ts); ingest keys ignore it. */
  role: string;
  created_at: number;
  revoked_at: number | null;
}

/** What authentication needs: whose key it is, its kind and hash, and whether it is revoked. */
export interface KeyCredential {
  tenant_id: string;
  kind: KeyKind;
  role: string;
  name: string | null;
  secret_hash: string;
  revoked_at: number | null;
}

export const keyInsert = (
  db: D1Database,
  tenantId: string,
  key: { id: string; kind: KeyKind; secretHash: string },
  name: string | null,
  role = "owner",
  now = Date.now(),
) =>
  db
    .prepare(
      "INSERT INTO api_keys (id, tenant_id, kind, secret_hash, name, role, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(key.id, tenantId, key.kind, key.secretHash, name, role, now);

export async function keyCredential(db: D1Database, id: string): Promise<KeyCredential | null> {
  return db
    .prepare(
      "SELECT tenant_id, kind, role, name, secret_hash, revoked_at FROM api_keys WHERE id = ?",
    )
    .bind(id)
    .first<KeyCredential>();
}

const KEY_COLUMNS = "id, kind, name, role, created_at, revoked_at";

export async function listKeys(db: D1Database, tenantId: string): Promise<KeyRecord[]> {
  const { results } = await db
    .prepare(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE tenant_id = ? ORDER BY created_at, id`)
    .bind(tenantId)
    .all<KeyRecord>();
  return results;
}

export async function getKey(
  db: D1Database,
  tenantId: string,
  id: string,
): Promise<KeyRecord | null> {
  return db
    .prepare(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE tenant_id = ? AND id = ?`)
    .bind(tenantId, id)
    .first<KeyRecord>();
}

/** Revokes an active key unless it is the tenant's last active operator token. The guard and
 * the update are one statement, so two concurrent revocations cannot lock the tenant out.
 * False when nothing was revoked. */
export async function revokeKey(
  db: D1Database,
  tenantId: string,
  id: string,
  now: number,
): Promise<boolean> {
  const revoked = await db
    .prepare(
      `UPDATE api_keys SET revoked_at = ?1 WHERE tenant_id = ?2 AND id = ?3 AND revoked_at IS NULL
         AND (kind <> 'operator' OR (SELECT COUNT(*) FROM api_keys
              WHERE tenant_id = ?2 AND kind = 'operator' AND revoked_at IS NULL) > 1)`,
    )
    .bind(now, tenantId, id)
    .run();
  return revoked.meta.changes > 0;
}

/** A key by id alone (after a revocation, to answer with its new state). */
export async function keyById(db: D1Database, id: string): Promise<KeyRecord | null> {
  return db.prepare(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE id = ?`).bind(id).first<KeyRecord>();
}
