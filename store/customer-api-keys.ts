import type { QuotaPeriod } from "../domain/customer-api-keys";
import { joinHalves, sumHalves } from "./exact-sum";

// Customer API keys and their usage in D1 (schema/0033_customer_api_keys.sql). The key itself is
// never stored: rows hold SHA-256 of it and the few characters shown beside its name. The usage
// table is written by the events-queue consumer (store/rollups.ts); this reads it.

export interface CustomerKeyRecord {
  id: string;
  customer_id: string;
  prefix: string;
  name: string | null;
  created_by: string;
  created_at: number;
  revoked_at: number | null;
  quota_metric: string | null;
  /** Micro-units. */
  quota_limit: number | null;
  quota_period: QuotaPeriod | null;
}

const COLUMNS =
  "id, customer_id, prefix, name, created_by, created_at, revoked_at, quota_metric, quota_limit, quota_period";

export async function insertCustomerKey(
  db: D1Database,
  tenantId: string,
  key: Omit<CustomerKeyRecord, "revoked_at"> & { key_hash: string },
): Promise<void> {
  await db
    .prepare(
      `INSERT INTO customer_api_keys (tenant_id, id, customer_id, key_hash, prefix, name,
         created_by, created_at, quota_metric, quota_limit, quota_period)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .bind(
      tenantId,
      key.id,
      key.customer_id,
      key.key_hash,
      key.prefix,
      key.name,
      key.created_by,
      key.created_at,
      key.quota_metric,
      key.quota_limit,
      key.quota_period,
    )
    .run();
}

/** The customer's keys, newest first, revoked ones included (they keep their usage). */
export async function listCustomerKeys(
  db: D1Database,
  tenantId: string,
  customerId: string,
): Promise<CustomerKeyRecord[]> {
  const { results } = await db
    .prepare(
      `SELECT ${COLUMNS} FROM customer_api_keys WHERE tenant_id = ? AND customer_id = ?
       ORDER BY created_at DESC, id`,
    )
    .bind(tenantId, customerId)
    .all<CustomerKeyRecord>();
  return results;
}

export async function getCustomerKey(
  db: D1Database,
  tenantId: string,
  customerId: string,
  id: string,
): Promise<CustomerKeyRecord | null> {
  return db
    .prepare(
      `SELECT ${COLUMNS} FROM customer_api_keys WHERE tenant_id = ? AND customer_id = ? AND id = ?`,
    )
    .bind(tenantId, customerId, id)
    .first<CustomerKeyRecord>();
}

/** Revokes the key and returns its hash (so the caller can evict it from the isolate's cache),
 * or null when it was not an active key of this customer. */
export async function revokeCustomerKey(
  db: D1Database,
  tenantId: string,
  customerId: string,
  id: string,
  now: number,
): Promise<string | null> {
  const row = await db
    .prepare(
      `UPDATE customer_api_keys SET revoked_at = ?
       WHERE tenant_id = ? AND customer_id = ? AND id = ? AND revoked_at IS NULL
       RETURNING key_hash`,
    )
    .bind(now, tenantId, customerId, id)
    .first<{ key_hash: string }>();
  return row?.key_hash ?? null;
}

/** What the gate and ingest need of a presented key, found by its hash (any tenant: the caller
 * compares the tenant with the ingest key's). */
export interface KeyCredentialRow {
  tenant_id: string;
  id: string;
  customer_id: string;
  revoked_at: number | null;
  quota_metric: string | null;
  quota_limit: number | null;
  quota_period: QuotaPeriod | null;
}

export async function customerKeyByHash(
  db: D1Database,
  keyHash: string,
): Promise<KeyCredentialRow | null> {
  return db
    .prepare(
      `SELECT tenant_id, id, customer_id, revoked_at, quota_metric, quota_limit, quota_period
       FROM customer_api_keys WHERE key_hash = ?`,
    )
    .bind(keyHash)
    .first<KeyCredentialRow>();
}

/** One key's usage of one product's metric over a window, exact. */
export interface KeyUsage {
  key_id: string;
  product: string;
  metric: string;
  /** Micro-units. */
  units: bigint;
  events: number;
}

/** The keys' usage per product and metric in days [from, to) (UTC day starts). */
export async function keyUsageBetween(
  db: D1Database,
  tenantId: string,
  keyIds: readonly string[],
  from: number,
  to: number,
): Promise<KeyUsage[]> {
  if (keyIds.length === 0) return [];
  const { results } = await db
    .prepare(
      `SELECT key_id, product_id, metric_id, ${sumHalves("units", "units")}, SUM(events) AS events
       FROM customer_api_key_usage_daily
       WHERE tenant_id = ?1 AND key_id IN (SELECT value FROM json_each(?2))
         AND start >= ?3 AND start < ?4
       GROUP BY key_id, product_id, metric_id ORDER BY key_id, product_id, metric_id`,
    )
    .bind(tenantId, JSON.stringify(keyIds), from, to)
    .all<{
      key_id: string;
      product_id: string;
      metric_id: string;
      units_hi: string;
      units_lo: string;
      events: number;
    }>();
  return results.map((r) => ({
    key_id: r.key_id,
    product: r.product_id,
    metric: r.metric_id,
    units: joinHalves(r.units_hi, r.units_lo),
    events: Number(r.events),
  }));
}
