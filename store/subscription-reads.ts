import { query } from "./batch";
import {
  groupPhases,
  PHASES_ORDER,
  PHASES_SQL,
  type PhaseRow,
  type SubscriptionHistoryTerms,
} from "./subscriptions";

// Subscription reads the read models share (margin, KPIs): the phase history as batchable
// queries, and each customer's segment. The subscription write side and the phase SQL itself
// live in store/subscriptions.ts.

/** Every phase of the tenant's subscriptions (or one customer's), grouped per subscription. */
export function phasesQuery(db: D1Database, tenantId: string, customerId?: string) {
  const statement =
    customerId === undefined
      ? db.prepare(`${PHASES_SQL} WHERE s.tenant_id = ? ${PHASES_ORDER}`).bind(tenantId)
      : db
          .prepare(`${PHASES_SQL} WHERE s.tenant_id = ? AND s.customer_id = ? ${PHASES_ORDER}`)
          .bind(tenantId, customerId);
  return query<PhaseRow, SubscriptionHistoryTerms[]>(statement, groupPhases);
}

/** A customer's segment on a product: the plan of its latest subscription to that product
 * (`?1` = tenant). A CTE of the margin build's projections, and read on its own by
 * segmentsQuery. */
export const SEGMENTS_SQL = `SELECT customer_id, product_id, plan_id FROM (
    SELECT s.customer_id, p.product_id, s.plan_id, ROW_NUMBER() OVER (
      PARTITION BY s.customer_id, p.product_id ORDER BY s.start_at DESC, s.id DESC) AS rn
    FROM subscriptions s JOIN plans p ON p.tenant_id = s.tenant_id AND p.id = s.plan_id
    WHERE s.tenant_id = ?1) WHERE rn = 1`;

/** customer × product → segment (plan id). */
export type Segments = ReadonlyMap<string, string>;
export const segmentKey = (customer: string, product: string) => `${customer}\u0000${product}`;

export function segmentsQuery(db: D1Database, tenantId: string) {
  return query<{ customer_id: string; product_id: string; plan_id: string }, Segments>(
    db.prepare(SEGMENTS_SQL).bind(tenantId),
    (rows) => new Map(rows.map((r) => [segmentKey(r.customer_id, r.product_id), r.plan_id])),
  );
}

/** The plan of the customer's subscription phase to `product` in force at `at` (the latest to
 * start), or null without one. */
export async function planInForce(
  db: D1Database,
  tenantId: string,
  customerId: string,
  productId: string,
  at: number,
): Promise<string | null> {
  const row = await db
    .prepare(
      `SELECT sp.plan_id FROM subscriptions s
         CROSS JOIN subscription_phases sp ON sp.tenant_id = s.tenant_id AND sp.subscription_id = s.id
         CROSS JOIN plans p ON p.tenant_id = sp.tenant_id AND p.id = sp.plan_id
       WHERE s.tenant_id = ?1 AND s.customer_id = ?2 AND p.product_id = ?3
         AND sp.start_at <= ?4 AND (sp.end_at IS NULL OR sp.end_at > ?4)
       ORDER BY sp.start_at DESC LIMIT 1`,
    )
    .bind(tenantId, customerId, productId, at)
    .first<{ plan_id: string }>();
  return row?.plan_id ?? null;
}
