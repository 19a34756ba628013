import { z } from "zod";
import { parseStored } from "./d1";

// The tenant's end customers in D1, identified by the tenant's own id strings. Metadata is a
// JSON document of free-form labels.

export type CustomerMetadata = Record<string, unknown>;

const StoredMetadata = z.record(z.string(), z.unknown());

export interface CustomerRecord {
  id: string;
  name: string;
  email: string | null;
  metadata: CustomerMetadata;
  created_at: number;
  updated_at: number;
}

interface CustomerRow extends Omit<CustomerRecord, "metadata"> {
  metadata: string;
}

const toRecord = (r: CustomerRow): CustomerRecord => ({
  ...r,
  metadata: parseStored(StoredMetadata, r.metadata, `metadata of customer ${r.id}`),
});

const COLUMNS = "id, name, email, metadata, created_at, updated_at";

/** False when a customer with this id already exists. */
export async function insertCustomer(
  db: D1Database,
  tenantId: string,
  c: { id: string; name: string; email: string | null; metadata: CustomerMetadata },
  now: number,
): Promise<boolean> {
  const inserted = await db
    .prepare(
      `INSERT INTO customers (tenant_id, id, name, email, metadata, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    )
    .bind(tenantId, c.id, c.name, c.email, JSON.stringify(c.metadata), now, now)
    .run();
  return inserted.meta.changes > 0;
}

export async function getCustomer(
  db: D1Database,
  tenantId: string,
  id: string,
): Promise<CustomerRecord | null> {
  const row = await db
    .prepare(`SELECT ${COLUMNS} FROM customers WHERE tenant_id = ? AND id = ?`)
    .bind(tenantId, id)
    .first<CustomerRow>();
  return row ? toRecord(row) : null;
}

/** The statement that selects one row when the customer exists (for batches). */
export const customerExistsStatement = (db: D1Database, tenantId: string, id: string) =>
  db.prepare("SELECT 1 AS known FROM customers WHERE tenant_id = ? AND id = ?").bind(tenantId, id);

export async function customerExists(db: D1Database, tenantId: string, id: string) {
  return (await customerExistsStatement(db, tenantId, id).first()) !== null;
}

/** Customers after `after` in id order, at most `limit`; `q` matches id, name or email. */
export async function listCustomers(
  db: D1Database,
  tenantId: string,
  query: { after: string; q: string | null; limit: number },
): Promise<CustomerRecord[]> {
  const like = query.q ? `%${query.q.replace(/[\\%_]/g, (m) => `\\${m}`)}%` : null;
  const { results } = await db
    .prepare(
      `SELECT ${COLUMNS} FROM customers
       WHERE tenant_id = ?1 AND id > ?2
         AND (?3 IS NULL OR id LIKE ?3 ESCAPE '\\' OR name LIKE ?3 ESCAPE '\\' OR email LIKE ?3 ESCAPE '\\')
       ORDER BY id LIMIT ?4`,
    )
    .bind(tenantId, query.after, like, query.limit)
    .all<CustomerRow>();
  return results.map(toRecord);
}

/** Partial update: an undefined field keeps its value; `email: null` clears it. False when the
 * customer does not exist. */
export async function updateCustomer(
  db: D1Database,
  tenantId: string,
  id: string,
  patch: {
    name?: string | undefined;
    email?: string | null | undefined;
    metadata?: CustomerMetadata | undefined;
  },
  now: number,
): Promise<boolean> {
  const updated = await db
    .prepare(
      `UPDATE customers SET name = COALESCE(?, name),
         email = CASE WHEN ? THEN ? ELSE email END,
         metadata = COALESCE(?, metadata), updated_at = ?
       WHERE tenant_id = ? AND id = ?`,
    )
    .bind(
      patch.name ?? null,
      patch.email !== undefined ? 1 : 0,
      patch.email ?? null,
      patch.metadata ? JSON.stringify(patch.metadata) : null,
      now,
      tenantId,
      id,
    )
    .run();
  return updated.meta.changes > 0;
}
