import { createRoute, z } from "@hono/zod-openapi";
import { createRouter } from "../app";
import { ApiError, conflictResponse, notFound, problemResponses } from "../problem";
import {
  decodeCursor,
  Id,
  iso,
  jsonBody,
  jsonResponse,
  Name,
  PageQuery,
  page,
  pageOf,
} from "../schemas";

// Products and their billable metrics.
export const products = createRouter();

const Product = z
  .object({
    id: z.string(),
    name: z.string(),
    description: z.string().nullable(),
    proxy: z.object({ origin: z.string(), metric: z.string() }).nullable().openapi({
      description:
        "Proxy mode: /v1/proxy/:product/* forwards here and meters each call as this metric",
    }),
    metrics: z.array(z.lazy(() => Metric)),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("Product");

const Aggregation = z.enum(["sum", "count", "max", "unique_count"]);

const Metric = z
  .object({
    id: z.string(),
    product: z.string(),
    name: z.string().nullable(),
    unit: z.string(),
    aggregation: Aggregation,
    created_at: z.string(),
  })
  .openapi("Metric");

interface ProductRow {
  id: string;
  name: string;
  description: string | null;
  proxy_origin: string | null;
  proxy_metric: string | null;
  created_at: number;
  updated_at: number;
}
interface MetricRow {
  product_id: string;
  id: string;
  name: string | null;
  unit: string;
  aggregation: z.infer<typeof Aggregation>;
  created_at: number;
}

const toMetric = (m: MetricRow) => ({
  id: m.id,
  product: m.product_id,
  name: m.name,
  unit: m.unit,
  aggregation: m.aggregation,
  created_at: iso(m.created_at) ?? "",
});

async function metricsOf(db: D1Database, tenantId: string, productIds: string[]) {
  if (productIds.length === 0) return new Map<string, MetricRow[]>();
  const { results } = await db
    .prepare(
      `SELECT product_id, id, name, unit, aggregation, created_at FROM metrics
       WHERE tenant_id = ? AND product_id IN (SELECT value FROM json_each(?)) ORDER BY product_id, id`,
    )
    .bind(tenantId, JSON.stringify(productIds))
    .all<MetricRow>();
  const byProduct = new Map<string, MetricRow[]>();
  for (const m of results) byProduct.set(m.product_id, [...(byProduct.get(m.product_id) ?? []), m]);
  return byProduct;
}

const toProduct = (p: ProductRow, metrics: MetricRow[]) => ({
  id: p.id,
  name: p.name,
  description: p.description,
  proxy:
    p.proxy_origin && p.proxy_metric ? { origin: p.proxy_origin, metric: p.proxy_metric } : null,
  metrics: metrics.map(toMetric),
  created_at: iso(p.created_at) ?? "",
  updated_at: iso(p.updated_at) ?? "",
});

async function loadProduct(db: D1Database, tenantId: string, id: string) {
  const row = await db
    .prepare(
      "SELECT id, name, description, proxy_origin, proxy_metric, created_at, updated_at FROM products WHERE tenant_id = ? AND id = ?",
    )
    .bind(tenantId, id)
    .first<ProductRow>();
  if (!row) throw notFound("Product", id);
  return toProduct(row, (await metricsOf(db, tenantId, [id])).get(id) ?? []);
}

const ProductParams = z.object({ id: Id });
const security = [{ operatorToken: [] }];

products.openapi(
  createRoute({
    method: "post",
    path: "/",
    tags: ["catalog"],
    summary: "Create a product",
    security,
    request: {
      body: jsonBody(
        z.object({ id: Id, name: Name, description: z.string().max(2000).optional() }),
      ),
    },
    responses: { 201: jsonResponse(Product, "Created"), ...problemResponses, ...conflictResponse },
  }),
  async (c) => {
    const body = c.req.valid("json");
    const now = Date.now();
    const inserted = await c.env.DB.prepare(
      `INSERT INTO products (tenant_id, id, name, description, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    )
      .bind(c.var.tenantId, body.id, body.name, body.description ?? null, now, now)
      .run();
    if (inserted.meta.changes === 0)
      throw new ApiError("conflict", `Product '${body.id}' already exists`);
    return c.json(await loadProduct(c.env.DB, c.var.tenantId, body.id), 201);
  },
);

products.openapi(
  createRoute({
    method: "get",
    path: "/",
    tags: ["catalog"],
    summary: "List products with their metrics",
    security,
    request: { query: PageQuery },
    responses: { 200: jsonResponse(page(Product), "A page of products"), ...problemResponses },
  }),
  async (c) => {
    const { limit, cursor } = c.req.valid("query");
    const after = decodeCursor(cursor, ["string"])?.[0] ?? "";
    const { results } = await c.env.DB.prepare(
      `SELECT id, name, description, proxy_origin, proxy_metric, created_at, updated_at FROM products
       WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT ?`,
    )
      .bind(c.var.tenantId, after, limit + 1)
      .all<ProductRow>();
    const metrics = await metricsOf(
      c.env.DB,
      c.var.tenantId,
      results.map((p) => p.id),
    );
    return c.json(
      pageOf(
        results,
        limit,
        (p) => toProduct(p, metrics.get(p.id) ?? []),
        (p) => [p.id],
      ),
      200,
    );
  },
);

products.openapi(
  createRoute({
    method: "get",
    path: "/{id}",
    tags: ["catalog"],
    summary: "Get a product",
    security,
    request: { params: ProductParams },
    responses: { 200: jsonResponse(Product, "The product"), ...problemResponses },
  }),
  async (c) => c.json(await loadProduct(c.env.DB, c.var.tenantId, c.req.valid("param").id), 200),
);

products.openapi(
  createRoute({
    method: "patch",
    path: "/{id}",
    tags: ["catalog"],
    summary: "Rename or describe a product",
    security,
    request: {
      params: ProductParams,
      body: jsonBody(
        z
          .object({
            name: Name.optional(),
            description: z.string().max(2000).nullable().optional(),
            proxy: z
              .object({
                origin: z.url({ protocol: /^https?$/ }).max(2048),
                metric: Id,
              })
              .nullable()
              .optional(),
          })
          .strict()
          .refine(
            (b) => Object.keys(b).length > 0,
            "send at least one of name, description, proxy",
          ),
      ),
    },
    responses: { 200: jsonResponse(Product, "Updated"), ...problemResponses },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const body = c.req.valid("json");
    if (body.proxy) {
      const metric = await c.env.DB.prepare(
        "SELECT 1 FROM metrics WHERE tenant_id = ? AND product_id = ? AND id = ?",
      )
        .bind(c.var.tenantId, id, body.proxy.metric)
        .first();
      if (!metric) {
        throw new ApiError(
          "validation_failed",
          `product '${id}' has no metric '${body.proxy.metric}'`,
          [
            {
              path: "proxy.metric",
              message: `product '${id}' has no metric '${body.proxy.metric}'`,
            },
          ],
        );
      }
    }
    const updated = await c.env.DB.prepare(
      `UPDATE products SET name = COALESCE(?1, name),
         description = CASE WHEN ?2 THEN ?3 ELSE description END,
         proxy_origin = CASE WHEN ?4 THEN ?5 ELSE proxy_origin END,
         proxy_metric = CASE WHEN ?4 THEN ?6 ELSE proxy_metric END, updated_at = ?7
       WHERE tenant_id = ?8 AND id = ?9`,
    )
      .bind(
        body.name ?? null,
        body.description !== undefined ? 1 : 0,
        body.description ?? null,
        body.proxy !== undefined ? 1 : 0,
        body.proxy?.origin ?? null,
        body.proxy?.metric ?? null,
        Date.now(),
        c.var.tenantId,
        id,
      )
      .run();
    if (updated.meta.changes === 0) throw notFound("Product", id);
    return c.json(await loadProduct(c.env.DB, c.var.tenantId, id), 200);
  },
);

products.openapi(
  createRoute({
    method: "post",
    path: "/{id}/metrics",
    tags: ["catalog"],
    summary: "Add a billable metric to a product",
    security,
    request: {
      params: ProductParams,
      body: jsonBody(
        z.object({
          id: Id.openapi({ example: "input_tokens" }),
          name: Name.optional(),
          unit: z.string().trim().min(1).max(64).openapi({ example: "token" }),
          aggregation: Aggregation.default("sum"),
        }),
      ),
    },
    responses: { 201: jsonResponse(Metric, "Created"), ...problemResponses, ...conflictResponse },
  }),
  async (c) => {
    const { id: productId } = c.req.valid("param");
    const body = c.req.valid("json");
    const db = c.env.DB;
    const product = await db
      .prepare("SELECT id FROM products WHERE tenant_id = ? AND id = ?")
      .bind(c.var.tenantId, productId)
      .first();
    if (!product) throw notFound("Product", productId);
    const now = Date.now();
    const inserted = await db
      .prepare(
        `INSERT INTO metrics (tenant_id, product_id, id, name, unit, aggregation, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      )
      .bind(c.var.tenantId, productId, body.id, body.name ?? null, body.unit, body.aggregation, now)
      .run();
    if (inserted.meta.changes === 0) {
      throw new ApiError(
        "conflict",
        `Metric '${body.id}' already exists on product '${productId}'`,
      );
    }
    return c.json(
      toMetric({
        product_id: productId,
        id: body.id,
        name: body.name ?? null,
        unit: body.unit,
        aggregation: body.aggregation,
        created_at: now,
      }),
      201,
    );
  },
);

products.openapi(
  createRoute({
    method: "get",
    path: "/{id}/metrics",
    tags: ["catalog"],
    summary: "List a product's metrics",
    security,
    request: { params: ProductParams },
    responses: {
      200: jsonResponse(z.object({ data: z.array(Metric) }), "Metrics"),
      ...problemResponses,
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const product = await loadProduct(c.env.DB, c.var.tenantId, id);
    return c.json({ data: product.metrics }, 200);
  },
);
