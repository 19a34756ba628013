import { createRoute, z } from "@hono/zod-openapi";
import { checkOutboundUrl } from "../../domain/outbound-url";
import {
  getProduct,
  insertMetric,
  insertProduct,
  listProducts,
  type MetricRecord,
  metricExists,
  metricsOf,
  type ProductRecord,
  productExists,
  setMetricCarriesCost,
  updateProduct,
} from "../../store/catalog";
import { createRouter } from "../app";
import { permit } from "../permit";
import {
  ApiError,
  conflictResponse,
  notFound,
  problemResponses,
  validationError,
} from "../problem";
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

export const Product = z
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

export const Metric = z
  .object({
    id: z.string(),
    product: z.string(),
    name: z.string().nullable(),
    unit: z.string(),
    aggregation: Aggregation,
    carries_cost: z.boolean().openapi({
      description:
        "Whether this metric's events are expected to carry a cost (cost.usd, or provider and model priced by the cost catalog). An event of a cost-carrying metric without one is stored flagged `uncosted`; false for metrics with no cost of their own (seats, a call whose tokens travel in another event).",
    }),
    created_at: z.string(),
  })
  .openapi("Metric");

const toMetric = (m: MetricRecord) => ({
  id: m.id,
  product: m.product_id,
  name: m.name,
  unit: m.unit,
  aggregation: m.aggregation,
  carries_cost: m.carries_cost !== 0,
  created_at: iso(m.created_at) ?? "",
});

const toProduct = (p: ProductRecord, metrics: MetricRecord[]) => ({
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
  const row = await getProduct(db, tenantId, id);
  if (!row) throw notFound("Product", id);
  return toProduct(row, (await metricsOf(db, tenantId, [id])).get(id) ?? []);
}

/** Why proxy mode may not forward to this origin (the outbound guard, domain/outbound-url.ts),
 * or null. Proxy time checks again, for origins stored before the rule. */
function proxyOriginProblem(env: Env, origin: string): string | null {
  const checked = checkOutboundUrl(origin, { localNetwork: env.AFORO_LOCAL_NETWORK });
  if (!checked.ok) return checked.reason;
  const url = new URL(checked.url);
  return url.search || url.hash ? "a base URL: no query or fragment" : null;
}

/** The bodies of POST /api/products and POST /api/products/:id/metrics (the Pricing Architect
 * holds its proposals to them too, workers/copilot/architect.ts). */
export const CreateProduct = z.object({
  id: Id,
  name: Name,
  description: z.string().max(2000).optional(),
});

export const CreateMetric = z.object({
  id: Id.openapi({ example: "input_tokens" }),
  name: Name.optional(),
  unit: z.string().trim().min(1).max(64).openapi({ example: "token" }),
  aggregation: Aggregation.default("sum"),
  carries_cost: z.boolean().default(true),
});

const ProductParams = z.object({ id: Id });
const security = [{ operatorToken: [] }];

products.openapi(
  createRoute(
    permit("pricing:write", "product.create", {
      method: "post",
      path: "/",
      tags: ["catalog"],
      summary: "Create a product",
      security,
      request: {
        body: jsonBody(CreateProduct),
      },
      responses: {
        201: jsonResponse(Product, "Created"),
        ...problemResponses,
        ...conflictResponse,
      },
    }),
  ),
  async (c) => {
    const body = c.req.valid("json");
    const now = Date.now();
    const inserted = await insertProduct(
      c.env.DB,
      c.var.tenantId,
      { id: body.id, name: body.name, description: body.description ?? null },
      now,
    );
    if (!inserted) throw new ApiError("conflict", `Product '${body.id}' already exists`);
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
    const results = await listProducts(c.env.DB, c.var.tenantId, after, limit + 1);
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
  createRoute(
    permit("pricing:write", "product.update", {
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
                  origin: z
                    .url({ protocol: /^https?$/ })
                    .max(2048)
                    .openapi({
                      description:
                        "A base URL (no query or fragment), https to a public host; loopback, over http too, only in local mode (AFORO_LOCAL_NETWORK=loopback). Private, link-local and metadata addresses are refused.",
                    }),
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
  ),
  async (c) => {
    const { id } = c.req.valid("param");
    const body = c.req.valid("json");
    if (body.proxy) {
      const problem = proxyOriginProblem(c.env, body.proxy.origin);
      if (problem) throw validationError([{ path: "proxy.origin", message: problem }]);
      if (!(await metricExists(c.env.DB, c.var.tenantId, id, body.proxy.metric))) {
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
    const updated = await updateProduct(c.env.DB, c.var.tenantId, id, body, Date.now());
    if (!updated) throw notFound("Product", id);
    return c.json(await loadProduct(c.env.DB, c.var.tenantId, id), 200);
  },
);

products.openapi(
  createRoute(
    permit("pricing:write", "metric.create", {
      method: "post",
      path: "/{id}/metrics",
      tags: ["catalog"],
      summary: "Add a billable metric to a product",
      security,
      request: {
        params: ProductParams,
        body: jsonBody(CreateMetric),
      },
      responses: { 201: jsonResponse(Metric, "Created"), ...problemResponses, ...conflictResponse },
    }),
  ),
  async (c) => {
    const { id: productId } = c.req.valid("param");
    const body = c.req.valid("json");
    const db = c.env.DB;
    if (!(await productExists(db, c.var.tenantId, productId))) throw notFound("Product", productId);
    const metric: MetricRecord = {
      product_id: productId,
      id: body.id,
      name: body.name ?? null,
      unit: body.unit,
      aggregation: body.aggregation,
      carries_cost: body.carries_cost ? 1 : 0,
      created_at: Date.now(),
    };
    if (!(await insertMetric(db, c.var.tenantId, metric))) {
      throw new ApiError(
        "conflict",
        `Metric '${body.id}' already exists on product '${productId}'`,
      );
    }
    return c.json(toMetric(metric), 201);
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

products.openapi(
  createRoute(
    permit("pricing:write", "metric.update", {
      method: "patch",
      path: "/{id}/metrics/{metric}",
      tags: ["catalog"],
      summary: "Declare whether a metric's events carry a cost",
      description:
        "Events already stored keep their flags; events from now on are costed by the new rule.",
      security,
      request: {
        params: ProductParams.extend({ metric: Id }),
        body: jsonBody(z.object({ carries_cost: z.boolean() }).strict()),
      },
      responses: { 200: jsonResponse(Metric, "Updated"), ...problemResponses },
    }),
  ),
  async (c) => {
    const { id, metric } = c.req.valid("param");
    const { carries_cost } = c.req.valid("json");
    const db = c.env.DB;
    if (!(await setMetricCarriesCost(db, c.var.tenantId, id, metric, carries_cost))) {
      throw notFound("Metric", `${id}/${metric}`);
    }
    const product = await loadProduct(db, c.var.tenantId, id);
    const updated = product.metrics.find((m) => m.id === metric);
    if (!updated) throw notFound("Metric", `${id}/${metric}`);
    return c.json(updated, 200);
  },
);
