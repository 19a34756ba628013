import { z } from "zod";
import type { CostCatalogEntry } from "../domain/costing";
import { type CompiledPlan, compilePlan, type PlanComponent } from "../domain/pricing";
import { parseStored } from "./d1";

// A tenant's catalog in D1: products and their metrics, rate plans and their components, and
// the cost catalog. Plan component specs are JSON documents read back through their schema.

// ---------------------------------------------------------------------------------------------
// Products and metrics

export type Aggregation = "sum" | "count" | "max" | "unique_count";

export interface MetricRecord {
  product_id: string;
  id: string;
  name: string | null;
  unit: string;
  aggregation: Aggregation;
  /** 1: its events are expected to carry a cost (else they are uncosted); 0: no cost applies. */
  carries_cost: number;
  created_at: number;
}

export interface ProductRecord {
  id: string;
  name: string;
  description: string | null;
  proxy_origin: string | null;
  proxy_metric: string | null;
  created_at: number;
  updated_at: number;
}

const PRODUCT_COLUMNS = "id, name, description, proxy_origin, proxy_metric, created_at, updated_at";

/** False when a product with this id already exists. */
export async function insertProduct(
  db: D1Database,
  tenantId: string,
  p: { id: string; name: string; description: string | null },
  now: number,
): Promise<boolean> {
  const inserted = await db
    .prepare(
      `INSERT INTO products (tenant_id, id, name, description, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    )
    .bind(tenantId, p.id, p.name, p.description, now, now)
    .run();
  return inserted.meta.changes > 0;
}

export async function getProduct(
  db: D1Database,
  tenantId: string,
  id: string,
): Promise<ProductRecord | null> {
  return db
    .prepare(`SELECT ${PRODUCT_COLUMNS} FROM products WHERE tenant_id = ? AND id = ?`)
    .bind(tenantId, id)
    .first<ProductRecord>();
}

export async function productExists(db: D1Database, tenantId: string, id: string) {
  const row = await db
    .prepare("SELECT id FROM products WHERE tenant_id = ? AND id = ?")
    .bind(tenantId, id)
    .first();
  return row !== null;
}

/** Products after `after` in id order, at most `limit`. */
export async function listProducts(
  db: D1Database,
  tenantId: string,
  after: string,
  limit: number,
): Promise<ProductRecord[]> {
  const { results } = await db
    .prepare(
      `SELECT ${PRODUCT_COLUMNS} FROM products WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT ?`,
    )
    .bind(tenantId, after, limit)
    .all<ProductRecord>();
  return results;
}

/** Partial update: an undefined field keeps its value; `proxy: null` clears proxy mode. False
 * when the product does not exist. */
export async function updateProduct(
  db: D1Database,
  tenantId: string,
  id: string,
  patch: {
    name?: string | undefined;
    description?: string | null | undefined;
    proxy?: { origin: string; metric: string } | null | undefined;
  },
  now: number,
): Promise<boolean> {
  const updated = await db
    .prepare(
      `UPDATE products SET name = COALESCE(?1, name),
         description = CASE WHEN ?2 THEN ?3 ELSE description END,
         proxy_origin = CASE WHEN ?4 THEN ?5 ELSE proxy_origin END,
         proxy_metric = CASE WHEN ?4 THEN ?6 ELSE proxy_metric END, updated_at = ?7
       WHERE tenant_id = ?8 AND id = ?9`,
    )
    .bind(
      patch.name ?? null,
      patch.description !== undefined ? 1 : 0,
      patch.description ?? null,
      patch.proxy !== undefined ? 1 : 0,
      patch.proxy?.origin ?? null,
      patch.proxy?.metric ?? null,
      now,
      tenantId,
      id,
    )
    .run();
  return updated.meta.changes > 0;
}

/** Where proxy mode forwards a product's calls and the metric it meters them as; null unless
 * both are configured. */
export async function productProxy(
  db: D1Database,
  tenantId: string,
  productId: string,
): Promise<{ origin: string; metric: string } | null> {
  const row = await db
    .prepare("SELECT proxy_origin, proxy_metric FROM products WHERE tenant_id = ? AND id = ?")
    .bind(tenantId, productId)
    .first<{ proxy_origin: string | null; proxy_metric: string | null }>();
  return row?.proxy_origin && row.proxy_metric
    ? { origin: row.proxy_origin, metric: row.proxy_metric }
    : null;
}

/** The metrics of the given products, by product, in id order. */
export async function metricsOf(
  db: D1Database,
  tenantId: string,
  productIds: readonly string[],
): Promise<Map<string, MetricRecord[]>> {
  const byProduct = new Map<string, MetricRecord[]>();
  if (productIds.length === 0) return byProduct;
  const { results } = await db
    .prepare(
      `SELECT product_id, id, name, unit, aggregation, carries_cost, created_at FROM metrics
       WHERE tenant_id = ? AND product_id IN (SELECT value FROM json_each(?)) ORDER BY product_id, id`,
    )
    .bind(tenantId, JSON.stringify(productIds))
    .all<MetricRecord>();
  for (const m of results) byProduct.set(m.product_id, [...(byProduct.get(m.product_id) ?? []), m]);
  return byProduct;
}

/** The ids of one product's metrics. */
export async function metricIdsOf(
  db: D1Database,
  tenantId: string,
  productId: string,
): Promise<Set<string>> {
  const { results } = await db
    .prepare("SELECT id FROM metrics WHERE tenant_id = ? AND product_id = ?")
    .bind(tenantId, productId)
    .all<{ id: string }>();
  return new Set(results.map((m) => m.id));
}

export async function metricExists(
  db: D1Database,
  tenantId: string,
  productId: string,
  metricId: string,
): Promise<boolean> {
  const row = await db
    .prepare("SELECT 1 FROM metrics WHERE tenant_id = ? AND product_id = ? AND id = ?")
    .bind(tenantId, productId, metricId)
    .first();
  return row !== null;
}

/** Every (product, metric) pair of the tenant: what the edge validates events against. */
export async function tenantMetricKeys(
  db: D1Database,
  tenantId: string,
): Promise<{ product_id: string; id: string }[]> {
  const { results } = await db
    .prepare("SELECT product_id, id FROM metrics WHERE tenant_id = ?")
    .bind(tenantId)
    .all<{ product_id: string; id: string }>();
  return results;
}

/** Sets whether a metric's events carry a cost; false when there is no such metric. */
export async function setMetricCarriesCost(
  db: D1Database,
  tenantId: string,
  productId: string,
  metricId: string,
  carriesCost: boolean,
): Promise<boolean> {
  const r = await db
    .prepare(
      "UPDATE metrics SET carries_cost = ? WHERE tenant_id = ? AND product_id = ? AND id = ?",
    )
    .bind(carriesCost ? 1 : 0, tenantId, productId, metricId)
    .run();
  return r.meta.changes > 0;
}

/** The tenant's metrics declared to carry no cost (rating's CustomerTerms.costless). */
export const costlessMetricsStatement = (db: D1Database, tenantId: string) =>
  db
    .prepare("SELECT product_id, id FROM metrics WHERE tenant_id = ? AND carries_cost = 0")
    .bind(tenantId);

/** False when the product already has a metric with this id. */
export async function insertMetric(db: D1Database, tenantId: string, m: MetricRecord) {
  const inserted = await db
    .prepare(
      `INSERT INTO metrics (tenant_id, product_id, id, name, unit, aggregation, carries_cost, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    )
    .bind(tenantId, m.product_id, m.id, m.name, m.unit, m.aggregation, m.carries_cost, m.created_at)
    .run();
  return inserted.meta.changes > 0;
}

// ---------------------------------------------------------------------------------------------
// Rate plans. Components are fixed once a plan is published (a new price is a new plan); name
// and status can change. A draft has no subscribers, so its terms may still be replaced.

/** Amounts are stored as the API normalised them: plain decimal strings. */
const StoredAmount = z.string();

/** A stored component spec: what the API validated on creation (workers/routes/plans.ts). */
const StoredPlanComponent = z.discriminatedUnion("type", [
  z.object({ type: z.literal("flat"), amount: StoredAmount }),
  z.object({ type: z.literal("per_unit"), metric: z.string(), unit_price: StoredAmount }),
  z.object({
    type: z.literal("tiered"),
    metric: z.string(),
    mode: z.enum(["graduated", "volume"]),
    tiers: z.array(
      z.object({
        up_to: StoredAmount.nullable(),
        unit_price: StoredAmount,
        flat_fee: StoredAmount.optional(),
      }),
    ),
  }),
  z.object({
    type: z.literal("package"),
    metric: z.string(),
    size: StoredAmount,
    price: StoredAmount,
  }),
  z.object({ type: z.literal("included"), metric: z.string(), quantity: StoredAmount }),
  z.object({
    type: z.literal("discount"),
    metric: z.string().optional(),
    above: StoredAmount,
    percent: StoredAmount,
  }),
  z.object({ type: z.literal("minimum"), amount: StoredAmount }),
]) satisfies z.ZodType<PlanComponent>;

const StoredComponents = z.array(StoredPlanComponent);

/** A plan component as stored (a domain PlanComponent with decimal-string amounts). */
export type StoredComponent = z.output<typeof StoredPlanComponent>;

export type PlanStatus = "draft" | "active" | "archived";
export type PlanInterval = "month" | "year";

export interface PlanRecord {
  id: string;
  product_id: string;
  name: string;
  currency: string;
  interval: PlanInterval;
  trial_days: number;
  status: PlanStatus;
  components: StoredComponent[];
  /** When it became subscribable: null while a draft. */
  published_at: number | null;
  created_at: number;
  updated_at: number;
}

interface PlanRow extends Omit<PlanRecord, "components"> {
  components: string;
}

const PLAN_SELECT = `SELECT p.id, p.product_id, p.name, p.currency, p.interval, p.trial_days, p.status,
  p.published_at, p.created_at, p.updated_at,
  (SELECT json_group_array(json(c.spec)) FROM
     (SELECT spec FROM plan_components c WHERE c.tenant_id = p.tenant_id AND c.plan_id = p.id
      ORDER BY position) c) AS components
  FROM plans p`;

const componentsOf = (row: { id: string; components: string }): StoredComponent[] =>
  parseStored(StoredComponents, row.components, `components of plan ${row.id}`);

const toPlanRecord = (row: PlanRow): PlanRecord => ({ ...row, components: componentsOf(row) });

export async function getPlan(
  db: D1Database,
  tenantId: string,
  id: string,
): Promise<PlanRecord | null> {
  const row = await db
    .prepare(`${PLAN_SELECT} WHERE p.tenant_id = ? AND p.id = ?`)
    .bind(tenantId, id)
    .first<PlanRow>();
  return row ? toPlanRecord(row) : null;
}

/** Plans after `after` in id order, at most `limit`, optionally of one product or status. */
export async function listPlans(
  db: D1Database,
  tenantId: string,
  q: { after: string; product: string | null; status: PlanStatus | null; limit: number },
): Promise<PlanRecord[]> {
  const { results } = await db
    .prepare(
      `${PLAN_SELECT} WHERE p.tenant_id = ? AND p.id > ? AND (?3 IS NULL OR p.product_id = ?3)
         AND (?4 IS NULL OR p.status = ?4) ORDER BY p.id LIMIT ?5`,
    )
    .bind(tenantId, q.after, q.product, q.status, q.limit)
    .all<PlanRow>();
  return results.map(toPlanRecord);
}

/** A plan without its components: what subscribing and changing plans check. */
export interface PlanHead {
  id: string;
  product_id: string;
  currency: string;
  interval: PlanInterval;
  trial_days: number;
  status: PlanStatus;
}

export async function getPlanHead(
  db: D1Database,
  tenantId: string,
  id: string,
): Promise<PlanHead | null> {
  return db
    .prepare(
      "SELECT id, product_id, currency, interval, trial_days, status FROM plans WHERE tenant_id = ? AND id = ?",
    )
    .bind(tenantId, id)
    .first<PlanHead>();
}

/** A plan's terms as created or, while a draft, replaced. */
export type PlanTerms = Omit<
  PlanRecord,
  "components" | "published_at" | "created_at" | "updated_at"
> & {
  components: readonly PlanComponent[];
};

const componentInsert = (
  db: D1Database,
  tenantId: string,
  planId: string,
  component: PlanComponent,
  position: number,
  onlyWhileDraft: boolean,
) =>
  db
    .prepare(
      `INSERT INTO plan_components (tenant_id, plan_id, position, type, metric_id, spec)
       SELECT ?1, ?2, ?3, ?4, ?5, ?6
       WHERE NOT ?7 OR EXISTS (SELECT 1 FROM plans WHERE tenant_id = ?1 AND id = ?2 AND status = 'draft')`,
    )
    .bind(
      tenantId,
      planId,
      position,
      component.type,
      "metric" in component ? (component.metric ?? null) : null,
      JSON.stringify(component),
      onlyWhileDraft ? 1 : 0,
    );

/** The statements that create a plan and its components (one batch; a duplicate id fails it
 * on the UNIQUE constraint). A plan created other than as a draft is published at once. */
export function planInsertStatements(
  db: D1Database,
  tenantId: string,
  plan: PlanTerms,
  now: number,
): D1PreparedStatement[] {
  return [
    db
      .prepare(
        `INSERT INTO plans (tenant_id, id, product_id, name, currency, interval, trial_days, status, published_at, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .bind(
        tenantId,
        plan.id,
        plan.product_id,
        plan.name,
        plan.currency,
        plan.interval,
        plan.trial_days,
        plan.status,
        plan.status === "draft" ? null : now,
        now,
        now,
      ),
    ...plan.components.map((component, position) =>
      componentInsert(db, tenantId, plan.id, component, position, false),
    ),
  ];
}

/** Replaces a draft's terms and components in one transaction. Every statement re-checks that
 * the plan is still a draft, so a publish that lands first leaves the published prices as they
 * were; false when nothing was replaced (no such plan, or no longer a draft). */
export async function replaceDraftPlan(
  db: D1Database,
  tenantId: string,
  plan: Omit<PlanTerms, "status">,
  now: number,
): Promise<boolean> {
  const results = await db.batch([
    db
      .prepare(
        `DELETE FROM plan_components WHERE tenant_id = ?1 AND plan_id = ?2
           AND EXISTS (SELECT 1 FROM plans WHERE tenant_id = ?1 AND id = ?2 AND status = 'draft')`,
      )
      .bind(tenantId, plan.id),
    ...plan.components.map((component, position) =>
      componentInsert(db, tenantId, plan.id, component, position, true),
    ),
    db
      .prepare(
        `UPDATE plans SET product_id = ?, name = ?, currency = ?, interval = ?, trial_days = ?, updated_at = ?
         WHERE tenant_id = ? AND id = ? AND status = 'draft'`,
      )
      .bind(
        plan.product_id,
        plan.name,
        plan.currency,
        plan.interval,
        plan.trial_days,
        now,
        tenantId,
        plan.id,
      ),
  ]);
  return (results.at(-1)?.meta.changes ?? 0) > 0;
}

/** Renames a plan or changes its status (a draft made active is published now); false when it
 * does not exist. */
export async function updatePlan(
  db: D1Database,
  tenantId: string,
  id: string,
  patch: { name?: string | undefined; status?: PlanStatus | undefined },
  now: number,
): Promise<boolean> {
  const updated = await db
    .prepare(
      `UPDATE plans SET name = COALESCE(?1, name), status = COALESCE(?2, status),
         published_at = CASE WHEN ?2 = 'active' THEN COALESCE(published_at, ?3) ELSE published_at END,
         updated_at = ?3
       WHERE tenant_id = ?4 AND id = ?5`,
    )
    .bind(patch.name ?? null, patch.status ?? null, now, tenantId, id)
    .run();
  return updated.meta.changes > 0;
}

/** Makes a draft subscribable; false when the plan is not a draft (or does not exist). */
export async function publishPlan(
  db: D1Database,
  tenantId: string,
  id: string,
  now: number,
): Promise<boolean> {
  const updated = await db
    .prepare(
      `UPDATE plans SET status = 'active', published_at = ?1, updated_at = ?1
       WHERE tenant_id = ?2 AND id = ?3 AND status = 'draft'`,
    )
    .bind(now, tenantId, id)
    .run();
  return updated.meta.changes > 0;
}

// Compiled plans, for rating and invoicing.

const COMPILED_PLAN_SELECT = `SELECT p.id, p.product_id, p.name, p.currency, p.interval, p.trial_days,
    p.status, (SELECT json_group_array(json(spec)) FROM (SELECT spec FROM plan_components c
       WHERE c.tenant_id = p.tenant_id AND c.plan_id = p.id ORDER BY position)) AS components
  FROM plans p`;

interface CompiledPlanRow {
  id: string;
  product_id: string;
  name: string;
  status: PlanStatus;
  currency: string;
  interval: PlanInterval;
  trial_days: number;
  components: string;
}

const compileRow = (r: CompiledPlanRow): CompiledPlan =>
  compilePlan(
    {
      id: r.id,
      currency: r.currency,
      interval: r.interval,
      trial_days: r.trial_days,
      components: componentsOf(r),
    },
    { stored: true },
  );

export interface TenantPlan {
  plan: CompiledPlan;
  product_id: string;
  name: string;
  status: PlanStatus;
}

/** Every plan of a tenant, compiled (plans are immutable, a tenant has few). */
export async function loadTenantPlans(
  db: D1Database,
  tenantId: string,
): Promise<Map<string, TenantPlan>> {
  const { results } = await db
    .prepare(`${COMPILED_PLAN_SELECT} WHERE p.tenant_id = ?`)
    .bind(tenantId)
    .all<CompiledPlanRow>();
  const out = new Map<string, TenantPlan>();
  for (const r of results)
    out.set(r.id, {
      product_id: r.product_id,
      name: r.name,
      status: r.status,
      plan: compileRow(r),
    });
  return out;
}

/** The statement selecting the plans a customer's subscriptions have used (any phase); read
 * its rows with compiledPlansOf. */
export const customerPlansStatement = (db: D1Database, tenantId: string, customerId: string) =>
  db
    .prepare(
      `${COMPILED_PLAN_SELECT} WHERE p.tenant_id = ?1 AND p.id IN
         (SELECT plan_id FROM subscriptions WHERE tenant_id = ?1 AND customer_id = ?2
          UNION SELECT ph.plan_id FROM subscription_phases ph JOIN subscriptions s
            ON s.tenant_id = ph.tenant_id AND s.id = ph.subscription_id
          WHERE ph.tenant_id = ?1 AND s.customer_id = ?2)`,
    )
    .bind(tenantId, customerId);

/** Rows of customerPlansStatement → compiled plans by id. */
export function compiledPlansOf(rows: readonly unknown[]): Map<string, CompiledPlan> {
  return new Map((rows as CompiledPlanRow[]).map((r) => [r.id, compileRow(r)]));
}

// ---------------------------------------------------------------------------------------------
// Cost catalog: effective-dated provider/model prices (decimal strings).

export interface CostEntryRecord {
  provider: string;
  model: string;
  input_per_million: string;
  output_per_million: string;
  cached_input_per_million: string | null;
  per_call: string | null;
  effective_from: number;
}

const COST_COLUMNS = `provider, model, input_per_million, output_per_million, cached_input_per_million,
  per_call, effective_from`;

/** The statement selecting a tenant's whole cost catalog (unordered; for batches). */
export const costCatalogStatement = (db: D1Database, tenantId: string) =>
  db.prepare(`SELECT ${COST_COLUMNS} FROM cost_catalog WHERE tenant_id = ?`).bind(tenantId);

/** Every entry, by provider, model and effective date. */
export async function loadCostCatalog(
  db: D1Database,
  tenantId: string,
): Promise<CostEntryRecord[]> {
  const { results } = await db
    .prepare(
      `SELECT ${COST_COLUMNS} FROM cost_catalog WHERE tenant_id = ?
       ORDER BY provider, model, effective_from`,
    )
    .bind(tenantId)
    .all<CostEntryRecord>();
  return results;
}

/** Adds or replaces entries in one batch: an entry with the same provider, model and
 * effective_from replaces the earlier one. */
export async function upsertCostEntries(
  db: D1Database,
  tenantId: string,
  entries: readonly CostCatalogEntry[],
  now: number,
): Promise<void> {
  await db.batch(
    entries.map((e) =>
      db
        .prepare(
          `INSERT INTO cost_catalog (tenant_id, provider, model, effective_from, input_per_million,
             output_per_million, cached_input_per_million, per_call, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (tenant_id, provider, model, effective_from) DO UPDATE SET
             input_per_million = excluded.input_per_million, output_per_million = excluded.output_per_million,
             cached_input_per_million = excluded.cached_input_per_million, per_call = excluded.per_call,
             updated_at = excluded.updated_at`,
        )
        .bind(
          tenantId,
          e.provider,
          e.model,
          e.effective_from,
          e.input_per_million,
          e.output_per_million,
          e.cached_input_per_million ?? null,
          e.per_call ?? null,
          now,
        ),
    ),
  );
}
