import type { CustomerDailyUsage } from "../domain/kpi";
import type { PnlSums } from "../domain/margin";
import { DAY_MS, HOUR_MS } from "../domain/time";
import { query } from "./batch";
import { joinHalves, sumHalves, sumIntoHalves } from "./exact-sum";
import { SEGMENTS_SQL } from "./subscription-reads";

// Usage rollups in D1 (rollups_hourly, rollups_daily, their sums over the tenant's customers,
// rollups_tenant_hourly and rollups_tenant_daily, those cut by provider and model,
// rollups_model_tenant_hourly and rollups_model_tenant_daily, the usage per agent session,
// session_rollups_hourly, and per customer API key, customer_api_key_usage_daily) and
// applied_batches: the
// events-queue consumer's exactly-once upsert, and every read of the rollups. Quantities are
// micro-units and money nanos (exact integers), `start` the UTC hour or day
// (schema/0003_ingest.sql, schema/0022_tenant_rollups.sql, schema/0024_model_rollups.sql,
// schema/0025_session_rollups.sql).

// ---- The write side: outbox batches applied exactly once -------------------------------------

/** A usage delta for one (hour, product, metric) of an outbox batch (money as integer text). */
export interface RollupDeltaRow {
  hour: number;
  product: string;
  metric: string;
  units: string;
  revenue: string;
  cost: string;
  events: number;
  /** Of those, uncosted events and their revenue; absent from batches sealed before. */
  uncosted_events?: number;
  uncosted_revenue?: string;
}

/** A delta's share for one provider and model ('' for none). */
export interface RollupFacetRow extends RollupDeltaRow {
  provider: string;
  model: string;
}

/** One session's usage in one (hour, product): amounts as integer text, times epoch ms. */
export interface RollupSessionRow {
  hour: number;
  product: string;
  session_id: string;
  events: number;
  units: string;
  revenue: string;
  cost: string;
  input_tokens: string;
  output_tokens: string;
  cached_input_tokens: string;
  first_at: number;
  last_at: number;
}

/** One customer API key's usage of one product's metric in one UTC day: units (micros) as
 * integer text. */
export interface RollupKeyUsageRow {
  day: number;
  key_id: string;
  product: string;
  metric: string;
  units: string;
  events: number;
}

/** An outbox batch: its fixed id, whose usage it is, its deltas, (sealed since
 * schema/0024_model_rollups.sql) their facets by provider and model and (since
 * schema/0025_session_rollups.sql) the usage of its events that named a session. */
export interface RollupBatch {
  batch_id: string;
  tenant_id: string;
  customer_id: string;
  deltas: readonly RollupDeltaRow[];
  facets?: readonly RollupFacetRow[];
  sessions?: readonly RollupSessionRow[];
  /** Since schema/0033_customer_api_keys.sql: the usage of its events made with a key. */
  key_usage?: readonly RollupKeyUsageRow[];
}

// One statement per table for a whole queue batch: every delta carries its batch id, and a
// delta is applied only if its batch is not yet in applied_batches.
const UPSERT = (table: string, start: string) => `
  INSERT INTO ${table} (tenant_id, start, customer_id, product_id, metric_id, units, revenue, cost, events,
    uncosted_events, uncosted_revenue)
  SELECT value->>'tenant', ${start}, value->>'customer', value->>'product', value->>'metric',
         CAST(value->>'units' AS INTEGER), CAST(value->>'revenue' AS INTEGER),
         CAST(value->>'cost' AS INTEGER), value->>'events',
         COALESCE(value->>'uncosted_events', 0), CAST(COALESCE(value->>'uncosted_revenue', '0') AS INTEGER)
  FROM json_each(?1)
  WHERE NOT EXISTS (SELECT 1 FROM applied_batches WHERE batch_id = value->>'batch')
  ON CONFLICT (tenant_id, start, customer_id, product_id, metric_id) DO UPDATE SET
    units = units + excluded.units, revenue = revenue + excluded.revenue,
    cost = cost + excluded.cost, events = events + excluded.events,
    uncosted_events = uncosted_events + excluded.uncosted_events,
    uncosted_revenue = uncosted_revenue + excluded.uncosted_revenue`;
const HALF = "1000000000"; // 10^9, the halves' base (store/exact-sum.ts)
/** The same deltas (into a model table, their facets) summed over customers into a tenant
 * table: grouped within the statement (in halves, so a chunk of large customers cannot overflow
 * the sum) and added to the stored halves with the low half's carry moved up. SET reads the row
 * as it was, so both halves add the old low half. */
const TENANT_UPSERT = (table: string, start: string, keys: "product" | "model" = "product") => {
  const v = (key: string) => `CAST(value->>'${key}' AS INTEGER)`;
  const add = (col: string) =>
    `${col}_hi = ${col}_hi + excluded.${col}_hi + (${col}_lo + excluded.${col}_lo) / ${HALF},
    ${col}_lo = (${col}_lo + excluded.${col}_lo) % ${HALF}`;
  // The model tables key each row by the cost's provider and model too.
  const byModel = keys === "model";
  return `
  INSERT INTO ${table} (tenant_id, start, product_id, metric_id, ${byModel ? "provider, model, " : ""}
    units_hi, units_lo, revenue_hi, revenue_lo, cost_hi, cost_lo, events, uncosted_events,
    uncosted_revenue_hi, uncosted_revenue_lo)
  SELECT value->>'tenant', ${start}, value->>'product', value->>'metric',
         ${byModel ? "value->>'provider', value->>'model'," : ""}
         ${sumIntoHalves(v("units"))}, ${sumIntoHalves(v("revenue"))}, ${sumIntoHalves(v("cost"))},
         SUM(value->>'events'), SUM(COALESCE(value->>'uncosted_events', 0)),
         ${sumIntoHalves("CAST(COALESCE(value->>'uncosted_revenue', '0') AS INTEGER)")}
  FROM json_each(?1)
  WHERE NOT EXISTS (SELECT 1 FROM applied_batches WHERE batch_id = value->>'batch')
  GROUP BY ${byModel ? "1, 2, 3, 4, 5, 6" : "1, 2, 3, 4"}
  ON CONFLICT (tenant_id, start, product_id, metric_id${byModel ? ", provider, model" : ""}) DO UPDATE SET
    ${add("units")}, ${add("revenue")}, ${add("cost")},
    events = events + excluded.events, uncosted_events = uncosted_events + excluded.uncosted_events,
    ${add("uncosted_revenue")}`;
};
const HOUR_START = "value->>'hour'";
const DAY_START = `(value->>'hour') - ((value->>'hour') % ${DAY_MS})`;
const HOURLY = UPSERT("rollups_hourly", HOUR_START);
const DAILY = UPSERT("rollups_daily", DAY_START);
const TENANT_HOURLY = TENANT_UPSERT("rollups_tenant_hourly", HOUR_START);
const TENANT_DAILY = TENANT_UPSERT("rollups_tenant_daily", DAY_START);
const MODEL_HOURLY = TENANT_UPSERT("rollups_model_tenant_hourly", HOUR_START, "model");
const MODEL_DAILY = TENANT_UPSERT("rollups_model_tenant_daily", DAY_START, "model");
/** A non-negative integer's decimal text split into the halves it is stored in (hi: all but
 * the last nine digits; lo: those), without ever holding the whole value in an SQLite integer. */
const textHalves = (key: string) => {
  const t = `(value->>'${key}')`;
  return `CASE WHEN length(${t}) > 9 THEN CAST(substr(${t}, 1, length(${t}) - 9) AS INTEGER) ELSE 0 END,
    CAST(substr(${t}, -9) AS INTEGER)`;
};
const SESSION_HALVES = ["units", "input_tokens", "output_tokens", "cached_input_tokens"];
/** A batch's session rows into session_rollups_hourly: one customer's row per (hour, product,
 * session), so revenue and cost are plain integer sums (schema/0025 says why they cannot
 * overflow); units and tokens add in halves with the low half's carry moved up. */
const SESSIONS = `
  INSERT INTO session_rollups_hourly (tenant_id, start, customer_id, product_id, session_id,
    events, units_hi, units_lo, revenue, cost, input_tokens_hi, input_tokens_lo,
    output_tokens_hi, output_tokens_lo, cached_input_tokens_hi, cached_input_tokens_lo,
    first_at, last_at)
  SELECT value->>'tenant', value->>'hour', value->>'customer', value->>'product',
    value->>'session_id', value->>'events', ${textHalves("units")},
    CAST(value->>'revenue' AS INTEGER), CAST(value->>'cost' AS INTEGER),
    ${textHalves("input_tokens")}, ${textHalves("output_tokens")},
    ${textHalves("cached_input_tokens")}, value->>'first_at', value->>'last_at'
  FROM json_each(?1)
  WHERE NOT EXISTS (SELECT 1 FROM applied_batches WHERE batch_id = value->>'batch')
  ON CONFLICT (tenant_id, start, customer_id, product_id, session_id) DO UPDATE SET
    events = events + excluded.events, revenue = revenue + excluded.revenue,
    cost = cost + excluded.cost,
    ${SESSION_HALVES.map(
      (c) => `${c}_hi = ${c}_hi + excluded.${c}_hi + (${c}_lo + excluded.${c}_lo) / ${HALF},
    ${c}_lo = (${c}_lo + excluded.${c}_lo) % ${HALF}`,
    ).join(", ")},
    first_at = MIN(first_at, excluded.first_at), last_at = MAX(last_at, excluded.last_at)`;
/** A batch's usage per customer API key into customer_api_key_usage_daily: plain integer sums,
 * bounded as rollups_daily's are (schema/0033_customer_api_keys.sql). */
const KEY_USAGE = `
  INSERT INTO customer_api_key_usage_daily (tenant_id, key_id, start, product_id, metric_id,
    customer_id, units, events)
  SELECT value->>'tenant', value->>'key_id', value->>'day', value->>'product', value->>'metric',
    value->>'customer', CAST(value->>'units' AS INTEGER), value->>'events'
  FROM json_each(?1)
  WHERE NOT EXISTS (SELECT 1 FROM applied_batches WHERE batch_id = value->>'batch')
  ON CONFLICT (tenant_id, key_id, start, product_id, metric_id) DO UPDATE SET
    units = units + excluded.units, events = events + excluded.events`;
const MARK_APPLIED = `INSERT INTO applied_batches (batch_id, tenant_id, applied_at)
  SELECT value->>0, value->>1, ?2 FROM json_each(?1) WHERE true ON CONFLICT DO NOTHING`;
const DELTAS_PER_STATEMENT = 2_000;

/**
 * The statements that apply outbox batches to the rollups, customer, tenant, model and session
 * tables alike, exactly once: the upserts skip deltas whose batch is already in applied_batches, and the last
 * statement marks the batches applied. Run them in ONE `db.batch()` (one D1 transaction; the
 * caller may add its own statements, e.g. the batches' signals) so a redelivered batch changes
 * nothing: either all of a batch's deltas and its mark commit, or none.
 */
export function applyBatchStatements(
  db: D1Database,
  batches: readonly RollupBatch[],
  appliedAt: number,
): D1PreparedStatement[] {
  // A batch the actor sent again can arrive in the same queue batch as its first copy; neither
  // is in applied_batches yet, so the guard alone would apply it twice.
  const seen = new Set<string>();
  const unique = batches.filter((b) => !seen.has(b.batch_id) && seen.add(b.batch_id));
  if (unique.length === 0) return [];
  const tagged = <T>(b: RollupBatch, rows: readonly T[] | undefined) =>
    (rows ?? []).map((d) => ({
      ...d,
      batch: b.batch_id,
      tenant: b.tenant_id,
      customer: b.customer_id,
    }));
  const rows = unique.flatMap((b) => tagged(b, b.deltas));
  const facets = unique.flatMap((b) => tagged(b, b.facets));
  const sessions = unique.flatMap((b) => tagged(b, b.sessions));
  const keyUsage = unique.flatMap((b) => tagged(b, b.key_usage));
  const statements: D1PreparedStatement[] = [];
  for (let i = 0; i < rows.length; i += DELTAS_PER_STATEMENT) {
    const json = JSON.stringify(rows.slice(i, i + DELTAS_PER_STATEMENT));
    statements.push(
      db.prepare(HOURLY).bind(json),
      db.prepare(DAILY).bind(json),
      db.prepare(TENANT_HOURLY).bind(json),
      db.prepare(TENANT_DAILY).bind(json),
    );
  }
  for (let i = 0; i < facets.length; i += DELTAS_PER_STATEMENT) {
    const json = JSON.stringify(facets.slice(i, i + DELTAS_PER_STATEMENT));
    statements.push(db.prepare(MODEL_HOURLY).bind(json), db.prepare(MODEL_DAILY).bind(json));
  }
  for (let i = 0; i < sessions.length; i += DELTAS_PER_STATEMENT) {
    statements.push(
      db.prepare(SESSIONS).bind(JSON.stringify(sessions.slice(i, i + DELTAS_PER_STATEMENT))),
    );
  }
  for (let i = 0; i < keyUsage.length; i += DELTAS_PER_STATEMENT) {
    statements.push(
      db.prepare(KEY_USAGE).bind(JSON.stringify(keyUsage.slice(i, i + DELTAS_PER_STATEMENT))),
    );
  }
  statements.push(
    db
      .prepare(MARK_APPLIED)
      .bind(JSON.stringify(unique.map((b) => [b.batch_id, b.tenant_id])), appliedAt),
  );
  return statements;
}

/** Which of these batch ids are already applied. */
export async function appliedBatchIds(db: D1Database, batchIds: string[]): Promise<string[]> {
  if (batchIds.length === 0) return [];
  const { results } = await db
    .prepare(
      "SELECT batch_id FROM applied_batches WHERE batch_id IN (SELECT value FROM json_each(?))",
    )
    .bind(JSON.stringify(batchIds))
    .all<{ batch_id: string }>();
  return results.map((r) => r.batch_id);
}

// ---- Reads -------------------------------------------------------------------------------------

/** End of the tenant's latest hour with usage (MAX(start) + 1 h), or null without any. */
export async function tenantFeedEnd(db: D1Database, tenantId: string): Promise<number | null> {
  const latest = await db
    .prepare("SELECT MAX(start) AS start FROM rollups_hourly WHERE tenant_id = ?")
    .bind(tenantId)
    .first<{ start: number | null }>();
  return latest?.start == null ? null : latest.start + HOUR_MS;
}

/** Every customer the catalog knows, and every customer with usage (unknown ones included). */
export async function tenantCustomerIds(db: D1Database, tenantId: string): Promise<string[]> {
  const { results } = await db
    .prepare(
      "SELECT id FROM customers WHERE tenant_id = ?1 UNION SELECT DISTINCT customer_id FROM rollups_daily WHERE tenant_id = ?1",
    )
    .bind(tenantId)
    .all<{ id: string }>();
  return results.map((r) => r.id);
}

export type RollupDimension = "customer" | "product" | "metric";
const DIMENSION_COLUMN: Record<RollupDimension, string> = {
  customer: "customer_id",
  product: "product_id",
  metric: "metric_id",
};

export interface RollupTotalsFilter {
  granularity: "hour" | "day";
  /** [from, to) on `start`. */
  from: number;
  to: number;
  groupBy: readonly RollupDimension[];
  customer?: string | null;
  product?: string | null;
  metric?: string | null;
}

export interface RollupTotal {
  start: number;
  /** The grouped dimensions' values. */
  keys: Partial<Record<RollupDimension, string>>;
  units: bigint;
  revenue: bigint;
  cost: bigint;
  events: number;
}

export const ROLLUP_TOTALS_LIMIT = 50_000;

/** Units, revenue, COGS and events per hour or day, grouped by the chosen dimensions, ordered by
 * start then the dimensions (at most ROLLUP_TOTALS_LIMIT rows). */
export async function rollupTotals(
  db: D1Database,
  tenantId: string,
  f: RollupTotalsFilter,
): Promise<RollupTotal[]> {
  const dims = f.groupBy;
  const columns = dims.map((d) => `${DIMENSION_COLUMN[d]} AS ${d}`);
  const table = f.granularity === "hour" ? "rollups_hourly" : "rollups_daily";
  const { results } = await db
    .prepare(
      `SELECT start, ${[...columns, ""].join(", ")}
         ${sumHalves("units", "units")}, ${sumHalves("revenue", "revenue")},
         ${sumHalves("cost", "cost")}, SUM(events) AS events
       FROM ${table}
       WHERE tenant_id = ?1 AND start >= ?2 AND start < ?3
         AND (?4 IS NULL OR customer_id = ?4) AND (?5 IS NULL OR product_id = ?5)
         AND (?6 IS NULL OR metric_id = ?6)
       GROUP BY start${dims.map((d) => `, ${d}`).join("")}
       ORDER BY start${dims.map((d) => `, ${d}`).join("")}
       LIMIT ${ROLLUP_TOTALS_LIMIT}`,
    )
    .bind(tenantId, f.from, f.to, f.customer ?? null, f.product ?? null, f.metric ?? null)
    .all<Record<string, string | number>>();
  return results.map((r) => ({
    start: Number(r.start),
    keys: Object.fromEntries(dims.map((d) => [d, String(r[d])])),
    units: joinHalves(r.units_hi, r.units_lo),
    revenue: joinHalves(r.revenue_hi, r.revenue_lo),
    cost: joinHalves(r.cost_hi, r.cost_lo),
    events: Number(r.events),
  }));
}

/** One customer's usage revenue, COGS and events per UTC day × product since `from` (fees 0). */
export async function customerDailyUsage(
  db: D1Database,
  tenantId: string,
  customerId: string,
  from: number,
): Promise<{ day: number; product: string; sums: PnlSums }[]> {
  const { results } = await db
    .prepare(
      `SELECT start AS day, product_id, CAST(SUM(revenue) AS TEXT) AS usage,
         CAST(SUM(cost) AS TEXT) AS cost, SUM(events) AS events
       FROM rollups_daily WHERE tenant_id = ?1 AND customer_id = ?2 AND start >= ?3
       GROUP BY start, product_id`,
    )
    .bind(tenantId, customerId, from)
    .all<{ day: number; product_id: string; usage: string; cost: string; events: number }>();
  return results.map((r) => ({
    day: r.day,
    product: r.product_id,
    sums: { usage: BigInt(r.usage), fees: 0n, cost: BigInt(r.cost), events: r.events },
  }));
}

/** Daily usage revenue per customer (the KPI engine's usage input), days with revenue only. One
 * row per customer ("day:nanos,…") keeps the result compact at scale. */
export function dailyUsageRevenueQuery(db: D1Database, tenantId: string) {
  return query<{ customer_id: string; days: string }, CustomerDailyUsage[]>(
    db
      .prepare(
        `SELECT customer_id, group_concat(day || ':' || revenue, ',') AS days FROM (
           SELECT customer_id, start / ${DAY_MS} AS day, SUM(revenue) AS revenue FROM rollups_daily
           WHERE tenant_id = ? GROUP BY customer_id, start HAVING SUM(revenue) <> 0
         ) GROUP BY customer_id`,
      )
      .bind(tenantId),
    (rows) =>
      rows.map((r) => {
        const days: number[] = [];
        const revenue: bigint[] = [];
        for (const part of r.days.split(",")) {
          const colon = part.indexOf(":");
          days.push(Number(part.slice(0, colon)) * DAY_MS);
          revenue.push(BigInt(part.slice(colon + 1)));
        }
        return { customer_id: r.customer_id, days, revenue };
      }),
  );
}

// ---- Projections into the margin read models (store/margin.ts runs them in its build) ---------

/**
 * Usage revenue, COGS and events per window (30/60/90 days) × product × customer into
 * margin_customer_windows, with each row's segment: one pass over the tenant's last 90 days of
 * rollups. `today` is the UTC day the build includes (partial).
 */
export function projectCustomerWindowsStatement(db: D1Database, tenantId: string, today: number) {
  const W = (col: string) =>
    `CASE w.n WHEN 30 THEN a.${col}30 WHEN 60 THEN a.${col}60 ELSE a.${col}90 END`;
  return db
    .prepare(
      `WITH seg AS MATERIALIZED (${SEGMENTS_SQL}),
       agg AS MATERIALIZED (
         SELECT r.customer_id, r.product_id,
           SUM(CASE WHEN r.start >= ?2 THEN r.revenue ELSE 0 END) AS r30,
           SUM(CASE WHEN r.start >= ?2 THEN r.cost ELSE 0 END) AS c30,
           SUM(CASE WHEN r.start >= ?2 THEN r.events ELSE 0 END) AS e30,
           SUM(CASE WHEN r.start >= ?2 THEN r.uncosted_events ELSE 0 END) AS ue30,
           SUM(CASE WHEN r.start >= ?2 THEN r.uncosted_revenue ELSE 0 END) AS ur30,
           SUM(CASE WHEN r.start >= ?3 THEN r.uncosted_events ELSE 0 END) AS ue60,
           SUM(CASE WHEN r.start >= ?3 THEN r.uncosted_revenue ELSE 0 END) AS ur60,
           SUM(r.uncosted_events) AS ue90, SUM(r.uncosted_revenue) AS ur90,
           SUM(CASE WHEN r.start >= ?3 THEN r.revenue ELSE 0 END) AS r60,
           SUM(CASE WHEN r.start >= ?3 THEN r.cost ELSE 0 END) AS c60,
           SUM(CASE WHEN r.start >= ?3 THEN r.events ELSE 0 END) AS e60,
           SUM(r.revenue) AS r90, SUM(r.cost) AS c90, SUM(r.events) AS e90
         FROM rollups_daily r WHERE r.tenant_id = ?1 AND r.start >= ?4 AND r.start <= ?5
         GROUP BY r.customer_id, r.product_id)
       INSERT INTO margin_customer_windows (tenant_id, window_days, product_id, customer_id,
         plan_id, usage_revenue, fee_revenue, cost, events, margin, uncosted_events,
         uncosted_revenue)
       SELECT ?1, n, product_id, customer_id, plan_id, r, 0, c, e, r - c, ue, ur FROM (
         SELECT w.n, a.product_id, a.customer_id, seg.plan_id,
           ${W("r")} AS r, ${W("c")} AS c, ${W("e")} AS e, ${W("ue")} AS ue, ${W("ur")} AS ur
         FROM agg a CROSS JOIN (SELECT 30 AS n UNION ALL SELECT 60 UNION ALL SELECT 90) w
         LEFT JOIN seg ON seg.customer_id = a.customer_id AND seg.product_id = a.product_id)
       WHERE r <> 0 OR c <> 0 OR e <> 0`,
    )
    .bind(tenantId, today - 29 * DAY_MS, today - 59 * DAY_MS, today - 89 * DAY_MS, today);
}

/** The daily trends per day × product × segment over the last 90 days into margin_daily. */
export function projectMarginDailyStatement(db: D1Database, tenantId: string, today: number) {
  return db
    .prepare(
      `WITH seg AS MATERIALIZED (${SEGMENTS_SQL})
       INSERT INTO margin_daily (tenant_id, day, product_id, plan_id, usage_revenue_hi,
         usage_revenue_lo, fee_revenue_hi, fee_revenue_lo, cost_hi, cost_lo, events)
       SELECT ?1, r.start, r.product_id, COALESCE(seg.plan_id, ''), ${sumIntoHalves("r.revenue")},
         0, 0, ${sumIntoHalves("r.cost")}, SUM(r.events)
       FROM rollups_daily r
       LEFT JOIN seg ON seg.customer_id = r.customer_id AND seg.product_id = r.product_id
       WHERE r.tenant_id = ?1 AND r.start >= ?2 AND r.start <= ?3
       GROUP BY r.start, r.product_id, COALESCE(seg.plan_id, '')`,
    )
    .bind(tenantId, today - 89 * DAY_MS, today);
}
