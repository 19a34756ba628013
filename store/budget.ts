import type { CostSpikeState } from "../domain/detectors/cost-spike";
import type { PnlSums } from "../domain/margin";
import { HOUR_MS } from "../domain/time";
import { SEGMENTS_SQL, type Segments, segmentKey } from "./subscription-reads";

// What the budget alerts read (domain/detectors/budget.ts; workers/budget-alerts.ts): the
// period-to-date usage per customer × product from rollups_daily, each customer's segment (its
// plan on a product, or a metadata attribute), hourly COGS per product and per segment from
// rollups_hourly, the customers' COGS in one hour of a scope (a spike's drivers), and the COGS
// spike engine's state per scope in tenant_detector_state (schema/0018_budget_alerts.sql).
// Money in the rollups is exact nanos (integers).

/** A scope of the COGS reads: a product, or a segment under a segmentation. */
export type ScopeFilter =
  | { kind: "product"; id?: string }
  | { kind: "segment"; segmentBy: "plan"; id?: string }
  | { kind: "segment"; segmentBy: "metadata"; key: string; id?: string };

/** A JSON path for one metadata key (validated by the policy: letters, digits, _ and -). */
const metadataPath = (key: string) => `$."${key.replace(/[^A-Za-z0-9_-]/g, "")}"`;

/** Usage revenue, COGS and events per customer × product for days from `from` (fees 0). */
export async function periodUsage(
  db: D1Database,
  tenantId: string,
  from: number,
): Promise<{ customer: string; product: string; sums: PnlSums }[]> {
  const { results } = await db
    .prepare(
      `SELECT customer_id, product_id, CAST(SUM(revenue) AS TEXT) AS usage,
         CAST(SUM(cost) AS TEXT) AS cost, SUM(events) AS events
       FROM rollups_daily WHERE tenant_id = ?1 AND start >= ?2
       GROUP BY customer_id, product_id`,
    )
    .bind(tenantId, from)
    .all<{
      customer_id: string;
      product_id: string;
      usage: string;
      cost: string;
      events: number;
    }>();
  return results.map((r) => ({
    customer: r.customer_id,
    product: r.product_id,
    sums: { usage: BigInt(r.usage), fees: 0n, cost: BigInt(r.cost), events: r.events },
  }));
}

/** customer × product → plan (the margin page's segments: the latest subscription's plan). */
export async function planSegments(db: D1Database, tenantId: string): Promise<Segments> {
  const { results } = await db
    .prepare(SEGMENTS_SQL)
    .bind(tenantId)
    .all<{ customer_id: string; product_id: string; plan_id: string }>();
  return new Map(results.map((r) => [segmentKey(r.customer_id, r.product_id), r.plan_id]));
}

/** customer → the value of `metadata.<key>` (text or number; customers without it have none). */
export async function metadataSegments(
  db: D1Database,
  tenantId: string,
  key: string,
): Promise<Map<string, string>> {
  const { results } = await db
    .prepare(
      `SELECT id, CAST(json_extract(metadata, ?2) AS TEXT) AS value FROM customers
       WHERE tenant_id = ?1 AND json_type(metadata, ?2) IN ('text', 'integer', 'real')`,
    )
    .bind(tenantId, metadataPath(key))
    .all<{ id: string; value: string }>();
  return new Map(results.filter((r) => r.value !== "").map((r) => [r.id, r.value]));
}

/** The known values of a segmentation (for the policy editor's picker). */
export async function segmentValues(
  db: D1Database,
  tenantId: string,
  segmentBy: string,
): Promise<string[]> {
  if (segmentBy === "plan") {
    const { results } = await db
      .prepare("SELECT id FROM plans WHERE tenant_id = ? ORDER BY id")
      .bind(tenantId)
      .all<{ id: string }>();
    return results.map((r) => r.id);
  }
  const key = segmentBy.slice("metadata.".length);
  const { results } = await db
    .prepare(
      `SELECT DISTINCT CAST(json_extract(metadata, ?2) AS TEXT) AS value FROM customers
       WHERE tenant_id = ?1 AND json_type(metadata, ?2) IN ('text', 'integer', 'real')
       ORDER BY value LIMIT 200`,
    )
    .bind(tenantId, metadataPath(key))
    .all<{ value: string }>();
  return results.map((r) => r.value).filter((v) => v !== "");
}

/** The join and column naming a row's scope, for rollups_hourly `r`; the metadata path is bound
 * as parameter ?p (after the caller's own). */
function scopeSql(
  f: ScopeFilter,
  p: number,
): { with: string; join: string; col: string; bind: unknown[] } {
  if (f.kind === "product") return { with: "", join: "", col: "r.product_id", bind: [] };
  if (f.segmentBy === "plan") {
    return {
      with: `WITH seg AS MATERIALIZED (${SEGMENTS_SQL}) `,
      join: "JOIN seg ON seg.customer_id = r.customer_id AND seg.product_id = r.product_id",
      col: "seg.plan_id",
      bind: [],
    };
  }
  return {
    with: "",
    join: `JOIN customers c ON c.tenant_id = r.tenant_id AND c.id = r.customer_id
      AND json_type(c.metadata, ?${p}) IN ('text', 'integer', 'real')`,
    col: `CAST(json_extract(c.metadata, ?${p}) AS TEXT)`,
    bind: [metadataPath(f.key)],
  };
}

/** COGS (USD) per scope and hour for hours in [from, to). */
export async function scopeHourlyCost(
  db: D1Database,
  tenantId: string,
  f: ScopeFilter,
  from: number,
  to: number,
): Promise<{ id: string; hour: number; cost: number }[]> {
  const s = scopeSql(f, 4);
  const { results } = await db
    .prepare(
      `${s.with}SELECT r.start AS hour, ${s.col} AS id, CAST(SUM(r.cost) AS TEXT) AS cost
       FROM rollups_hourly r ${s.join}
       WHERE r.tenant_id = ?1 AND r.start >= ?2 AND r.start < ?3
       GROUP BY r.start, ${s.col} ORDER BY r.start`,
    )
    .bind(tenantId, from, to, ...s.bind)
    .all<{ hour: number; id: string | null; cost: string }>();
  return results.flatMap((r) =>
    r.id === null || r.id === "" ? [] : [{ id: r.id, hour: r.hour, cost: Number(r.cost) / 1e9 }],
  );
}

/** Each customer's COGS (USD) in one hour of one scope (a spike's drivers). */
export async function scopeCustomerCost(
  db: D1Database,
  tenantId: string,
  f: ScopeFilter & { id: string },
  hour: number,
): Promise<Map<string, number>> {
  const s = scopeSql(f, 5);
  const { results } = await db
    .prepare(
      `${s.with}SELECT r.customer_id, CAST(SUM(r.cost) AS TEXT) AS cost
       FROM rollups_hourly r ${s.join}
       WHERE r.tenant_id = ?1 AND r.start >= ?2 AND r.start < ?3 AND ${s.col} = ?4
       GROUP BY r.customer_id`,
    )
    .bind(tenantId, hour, hour + HOUR_MS, f.id, ...s.bind)
    .all<{ customer_id: string; cost: string }>();
  return new Map(results.map((r) => [r.customer_id, Number(r.cost) / 1e9]));
}

/** The start of the tenant's earliest hour with usage from `from` on, or null. */
export async function firstUsageHour(
  db: D1Database,
  tenantId: string,
  from: number,
): Promise<number | null> {
  const row = await db
    .prepare("SELECT MIN(start) AS start FROM rollups_hourly WHERE tenant_id = ? AND start >= ?")
    .bind(tenantId, from)
    .first<{ start: number | null }>();
  return row?.start ?? null;
}

/** The start of the tenant's latest hour with usage, or null. */
export async function lastUsageHour(db: D1Database, tenantId: string): Promise<number | null> {
  const row = await db
    .prepare("SELECT MAX(start) AS start FROM rollups_hourly WHERE tenant_id = ?")
    .bind(tenantId)
    .first<{ start: number | null }>();
  return row?.start ?? null;
}

// ---- State -------------------------------------------------------------------------------------

const STATE_PREFIX = "budget_cost_spike:";

/** The COGS spike engine's state per scope key ("product:<id>", "segment:<by>:<value>"). */
export async function loadCostSpikeStates(
  db: D1Database,
  tenantId: string,
): Promise<Map<string, CostSpikeState>> {
  const { results } = await db
    .prepare(
      "SELECT key, body FROM tenant_detector_state WHERE tenant_id = ? AND key >= ? AND key < ?",
    )
    .bind(tenantId, STATE_PREFIX, `${STATE_PREFIX}\uffff`)
    .all<{ key: string; body: string }>();
  const out = new Map<string, CostSpikeState>();
  for (const r of results) {
    try {
      const state = JSON.parse(r.body) as CostSpikeState;
      if (state?.v === 1 && Array.isArray(state.slots))
        out.set(r.key.slice(STATE_PREFIX.length), state);
    } catch {
      // An unreadable state is relearnt from the rollups.
    }
  }
  return out;
}

export function saveCostSpikeStateStatement(
  db: D1Database,
  tenantId: string,
  scopeKey: string,
  state: CostSpikeState,
  now: number,
): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO tenant_detector_state (tenant_id, key, body, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (tenant_id, key) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at`,
    )
    .bind(tenantId, `${STATE_PREFIX}${scopeKey}`, JSON.stringify(state), now);
}
