import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { explainOperation, type SchemaExplanation } from "../../domain/docs/explain";
import { gettingStarted } from "../../domain/docs/getting-started";
import {
  type DocOperation,
  listOperations,
  type OpenApiDocument,
  specHash,
} from "../../domain/docs/openapi";
import { getProduct, listPlans, metricsOf } from "../../store/catalog";
import {
  type ExplanationSource,
  exampleCustomerOf,
  getExplanation,
  putExplanation,
} from "../../store/docs-explanations";
import { type AppEnv, createRouter } from "../app";
import { permit } from "../permit";
import { ApiError, notFound, problemResponses } from "../problem";
import { Id, iso, jsonResponse } from "../schemas";

// The Documentation Hub (issue 18 §3): each operation of /openapi.json explained, and a
// Getting Started guide per product from the tenant's own catalog. An explanation is computed
// once per document version (its spec hash) and kept in D1, so a deploy that changes a route
// or a schema explains it afresh while every other request reads the stored one.
//
// Where AI wording comes in: `aiWording` below, given the schema explanation, answers the AI
// platform's rewording of it (workers/copilot/docs-wording.ts), or null when there is none for
// this tenant (no key, over its cap, a wording that did not hold). Until one is stored, every
// explanation is the deterministic one, said so by `source: "schema"`.

/** The AI platform's wording of an explanation, or null when it gives none. */
export type AiWording = (
  c: Context<AppEnv>,
  explanation: SchemaExplanation,
) => Promise<SchemaExplanation | null>;

const security = [{ operatorToken: [] }];

const OperationId = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9_.-]+$/)
  .openapi({ example: "get_api_customers", description: "As the Docs page names it: method_path" });

export const ApiExplanationSchema = z
  .object({
    operation_id: z.string(),
    method: z.string(),
    path: z.string(),
    summary: z.string().openapi({ description: "What it does" }),
    when_to_use: z.string(),
    parameters: z.array(
      z.object({
        name: z.string(),
        in: z.string().openapi({ description: "path, query, header or body" }),
        required: z.boolean(),
        type: z.string(),
        description: z.string().nullable(),
      }),
    ),
    examples: z.object({ curl: z.string(), typescript: z.string(), python: z.string() }),
    gotchas: z.array(z.string()),
    source: z.enum(["schema", "ai"]).openapi({
      description:
        "schema: derived from /openapi.json alone (no AI key); ai: worded by the AI platform",
    }),
    spec_hash: z.string().openapi({ description: "SHA-256 of the /openapi.json it explains" }),
    generated_at: z.string(),
  })
  .openapi("ApiExplanation");

const Step = z.object({
  title: z.string(),
  text: z.string(),
  curl: z.string(),
  typescript: z.string(),
  python: z.string(),
});

export const GettingStartedSchema = z
  .object({
    product: z.object({ id: z.string(), name: z.string(), description: z.string().nullable() }),
    metrics: z.array(
      z.object({
        id: z.string(),
        name: z.string().nullable(),
        unit: z.string(),
        aggregation: z.enum(["sum", "count", "max", "unique_count"]),
        meaning: z.string(),
      }),
    ),
    customer: z.object({
      id: z.string(),
      from_catalog: z.boolean().openapi({ description: "false: a placeholder (no customer yet)" }),
    }),
    plans: z.array(z.object({ id: z.string(), name: z.string(), status: z.string() })),
    event_body: z
      .object({ events: z.array(z.record(z.string(), z.unknown())) })
      .openapi({ description: "A POST /v1/events body: one event per metric" }),
    gate_body: z.object({ customer: z.string(), product: z.string(), units: z.number() }),
    steps: z.array(Step),
  })
  .openapi("GettingStartedGuide");

/** The served document, its hash and its operations by id: computed on first use per isolate
 * (the route table does not change while an isolate lives). */
interface Spec {
  hash: string;
  operations: Map<string, DocOperation>;
}

export function docsRoutes(options: { document: () => OpenApiDocument; aiWording?: AiWording }) {
  const docs = createRouter();
  let spec: Promise<Spec> | null = null;
  const loadSpec = () => {
    spec ??= (async () => {
      const doc = options.document();
      return {
        hash: await specHash(doc),
        operations: new Map(listOperations(doc).map((op) => [op.id, op])),
      };
    })();
    return spec;
  };

  /** The stored explanation of this spec version, or the one just computed and stored. */
  async function cached(
    db: D1Database,
    s: Spec,
    operationId: string,
    source: ExplanationSource,
    compute: () => Promise<SchemaExplanation | null>,
  ) {
    const hit = await getExplanation(db, s.hash, operationId, source);
    if (hit)
      return { explanation: JSON.parse(hit.body) as SchemaExplanation, at: hit.generated_at };
    const fresh = await compute();
    if (!fresh) return null;
    const stored = await putExplanation(
      db,
      s.hash,
      operationId,
      source,
      JSON.stringify(fresh),
      Date.now(),
    );
    return { explanation: JSON.parse(stored.body) as SchemaExplanation, at: stored.generated_at };
  }

  docs.openapi(
    createRoute(
      permit("read", null, {
        method: "get",
        path: "/explanations/{operation_id}",
        tags: ["docs"],
        summary: "Explain one API operation",
        description:
          "What it does, when to use it, its parameters, curl / @aforo/client / Python examples and the gotchas its schema declares. Cached per version of /openapi.json (spec_hash): a changed spec is explained afresh. `source` is `schema` when the wording is derived from the document alone.",
        security,
        request: { params: z.object({ operation_id: OperationId }) },
        responses: {
          200: jsonResponse(ApiExplanationSchema, "The explanation"),
          ...problemResponses,
        },
      }),
    ),
    async (c) => {
      const { operation_id } = c.req.valid("param");
      const s = await loadSpec();
      const op = s.operations.get(operation_id);
      if (!op) throw notFound("Operation", operation_id);
      const db = c.env.DB;
      const schema = await cached(db, s, op.id, "schema", async () => explainOperation(op));
      if (!schema) throw new ApiError("internal", "The explanation could not be computed");
      const wording = options.aiWording;
      const ai = wording
        ? await cached(db, s, op.id, "ai", () => wording(c, schema.explanation))
        : null;
      const chosen = ai ?? schema;
      return c.json(
        {
          ...chosen.explanation,
          source: ai ? ("ai" as const) : ("schema" as const),
          spec_hash: s.hash,
          generated_at: iso(chosen.at) ?? "",
        },
        200,
      );
    },
  );

  docs.openapi(
    createRoute(
      permit("read", null, {
        method: "get",
        path: "/getting-started/{product_id}",
        tags: ["docs"],
        summary: "A product's Getting Started guide",
        description:
          "Built from the tenant's catalog: the product's metrics, an example POST /v1/events body with one event per metric (for a customer of the product when there is one), the gate call, proxy mode when set, and curl / @aforo/client / Python snippets.",
        security,
        request: { params: z.object({ product_id: Id }) },
        responses: { 200: jsonResponse(GettingStartedSchema, "The guide"), ...problemResponses },
      }),
    ),
    async (c) => {
      const { product_id } = c.req.valid("param");
      const db = c.env.DB;
      const tenantId = c.var.tenantId;
      const product = await getProduct(db, tenantId, product_id);
      if (!product) throw notFound("Product", product_id);
      const [metrics, plans, customer] = await Promise.all([
        metricsOf(db, tenantId, [product.id]),
        listPlans(db, tenantId, { after: "", product: product.id, status: null, limit: 50 }),
        exampleCustomerOf(db, tenantId, product.id),
      ]);
      const guide = gettingStarted({
        product: {
          id: product.id,
          name: product.name,
          description: product.description,
          proxy:
            product.proxy_origin && product.proxy_metric
              ? { origin: product.proxy_origin, metric: product.proxy_metric }
              : null,
        },
        metrics: (metrics.get(product.id) ?? []).map((m) => ({
          id: m.id,
          name: m.name,
          unit: m.unit,
          aggregation: m.aggregation,
        })),
        customer,
        plans: plans.map((p) => ({ id: p.id, name: p.name, status: p.status })),
        // Whole seconds: the example events are accepted as they are (not in the future).
        now: new Date(Math.floor(Date.now() / 1000) * 1000).toISOString().replace(".000Z", "Z"),
      });
      return c.json(guide, 200);
    },
  );

  return docs;
}
