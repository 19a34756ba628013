// The Documentation Hub in D1: the explanation cache (schema/0032_docs_explanations.sql, one
// row per (spec hash, operation, source), its body the explanation as JSON) and the example
// customer of a product's Getting Started guide.

export type ExplanationSource = "schema" | "ai";

export interface CachedExplanation {
  body: string;
  generated_at: number;
}

/** How long explanations of a document no longer served are kept: through a deploy's rollout,
 * when isolates on the old and the new document answer side by side. */
export const STALE_SPEC_RETENTION_MS = 7 * 24 * 3600 * 1000;

export function getExplanation(
  db: D1Database,
  specHash: string,
  operationId: string,
  source: ExplanationSource,
): Promise<CachedExplanation | null> {
  return db
    .prepare(
      `SELECT body, generated_at FROM docs_explanations
       WHERE spec_hash = ? AND operation_id = ? AND source = ?`,
    )
    .bind(specHash, operationId, source)
    .first<CachedExplanation>();
}

/**
 * Stores an explanation unless one is already there (two first readers computed the same
 * thing: the first kept wins, so every reader sees one generated_at), and forgets those of
 * documents older than the retention. Answers the row now stored.
 */
export async function putExplanation(
  db: D1Database,
  specHash: string,
  operationId: string,
  source: ExplanationSource,
  body: string,
  now: number,
): Promise<CachedExplanation> {
  const [, stored] = await db.batch<CachedExplanation>([
    db
      .prepare(
        `INSERT INTO docs_explanations (spec_hash, operation_id, source, body, generated_at)
         VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      )
      .bind(specHash, operationId, source, body, now),
    db
      .prepare(
        `SELECT body, generated_at FROM docs_explanations
         WHERE spec_hash = ? AND operation_id = ? AND source = ?`,
      )
      .bind(specHash, operationId, source),
    db
      .prepare("DELETE FROM docs_explanations WHERE spec_hash != ? AND generated_at < ?")
      .bind(specHash, now - STALE_SPEC_RETENTION_MS),
  ]);
  const row = stored?.results[0];
  if (!row) throw new Error(`explanation ${operationId} was not stored`);
  return row;
}

/** The Getting Started guide's example customer: one with a live subscription to a plan of the
 * product (the earliest by id), else the tenant's first customer; null when it has none. */
export async function exampleCustomerOf(
  db: D1Database,
  tenantId: string,
  productId: string,
): Promise<string | null> {
  const row = await db
    .prepare(
      `SELECT id FROM (
         SELECT s.customer_id AS id, 0 AS rank FROM subscriptions s
           JOIN plans p ON p.tenant_id = s.tenant_id AND p.id = s.plan_id
          WHERE s.tenant_id = ?1 AND p.product_id = ?2
            AND s.status IN ('trialing', 'active', 'past_due')
         UNION ALL
         SELECT id, 1 AS rank FROM customers WHERE tenant_id = ?1
       ) ORDER BY rank, id LIMIT 1`,
    )
    .bind(tenantId, productId)
    .first<{ id: string }>();
  return row?.id ?? null;
}
