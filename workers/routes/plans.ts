import { createRoute, z } from "@hono/zod-openapi";
import { type PlanDefinition, validatePlan } from "../../domain/pricing";
import { createRouter } from "../app";
import {
  ApiError,
  conflictResponse,
  notFound,
  problemResponses,
  validationError,
} from "../problem";
import {
  Amount,
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

// Rate plans. Components are fixed at creation so a plan's prices never change under its
// subscribers; a new price is a new plan. Name and status can change.
export const plans = createRouter();

const Tier = z.object({
  up_to: Amount.nullable().openapi({
    description: "Upper bound in billable units; null = open last tier",
  }),
  unit_price: Amount,
  flat_fee: Amount.optional(),
});

export const PlanComponent = z
  .discriminatedUnion("type", [
    z
      .object({ type: z.literal("flat"), amount: Amount })
      .openapi({ description: "Fee per billing period, prorated by time" }),
    z.object({ type: z.literal("per_unit"), metric: Id, unit_price: Amount }),
    z.object({
      type: z.literal("tiered"),
      metric: Id,
      mode: z.enum(["graduated", "volume"]),
      tiers: z.array(Tier).min(1).max(50),
    }),
    z.object({ type: z.literal("package"), metric: Id, size: Amount, price: Amount }),
    z.object({ type: z.literal("included"), metric: Id, quantity: Amount }).openapi({
      description: "Included quota: the metric's priced components apply above it",
    }),
    z
      .object({
        type: z.literal("discount"),
        metric: Id.optional(),
        above: Amount,
        percent: Amount,
      })
      .openapi({
        description:
          "Volume discount: percent off the charge for units beyond `above` (with metric), or off the usage charge above `above` in currency (without)",
      }),
    z
      .object({ type: z.literal("minimum"), amount: Amount })
      .openapi({ description: "Minimum commitment per period" }),
  ])
  .openapi("PlanComponent");

const Status = z.enum(["draft", "active", "archived"]);

const Plan = z
  .object({
    id: z.string(),
    product: z.string(),
    name: z.string(),
    currency: z.string(),
    period: z.enum(["month", "year"]),
    trial_days: z.number().int(),
    status: Status,
    components: z.array(PlanComponent),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("Plan");

const CreatePlan = z.object({
  id: Id,
  product: Id,
  name: Name,
  currency: z
    .string()
    .regex(/^[A-Z]{3}$/, "an ISO 4217 code such as USD")
    .default("USD"),
  period: z.enum(["month", "year"]).default("month"),
  trial_days: z.number().int().min(0).max(365).default(0),
  status: Status.default("active"),
  components: z.array(PlanComponent).min(1).max(50),
});

interface PlanRow {
  id: string;
  product_id: string;
  name: string;
  currency: string;
  interval: "month" | "year";
  trial_days: number;
  status: z.infer<typeof Status>;
  created_at: number;
  updated_at: number;
  components: string;
}

const PLAN_SELECT = `SELECT p.id, p.product_id, p.name, p.currency, p.interval, p.trial_days, p.status,
  p.created_at, p.updated_at,
  (SELECT json_group_array(json(c.spec)) FROM
     (SELECT spec FROM plan_components c WHERE c.tenant_id = p.tenant_id AND c.plan_id = p.id
      ORDER BY position) c) AS components
  FROM plans p`;

const toPlan = (p: PlanRow) => ({
  id: p.id,
  product: p.product_id,
  name: p.name,
  currency: p.currency,
  period: p.interval,
  trial_days: p.trial_days,
  status: p.status,
  components: JSON.parse(p.components) as z.infer<typeof PlanComponent>[],
  created_at: iso(p.created_at) ?? "",
  updated_at: iso(p.updated_at) ?? "",
});

/** The plan as the pricing engine takes it. */
export function planDefinition(plan: ReturnType<typeof toPlan>): PlanDefinition {
  return {
    id: plan.id,
    currency: plan.currency,
    interval: plan.period,
    trial_days: plan.trial_days,
    components: plan.components,
  };
}

export async function loadPlan(db: D1Database, tenantId: string, id: string) {
  const row = await db
    .prepare(`${PLAN_SELECT} WHERE p.tenant_id = ? AND p.id = ?`)
    .bind(tenantId, id)
    .first<PlanRow>();
  return row ? toPlan(row) : null;
}

const security = [{ operatorToken: [] }];

plans.openapi(
  createRoute({
    method: "post",
    path: "/",
    tags: ["catalog"],
    summary: "Create a rate plan",
    description:
      "Validates the plan as a whole: tiers strictly increasing with an open last tier, quotas and discounts only on metrics the plan prices, and every metric defined on the plan's product.",
    security,
    request: { body: jsonBody(CreatePlan) },
    responses: { 201: jsonResponse(Plan, "Created"), ...problemResponses, ...conflictResponse },
  }),
  async (c) => {
    const body = c.req.valid("json");
    const db = c.env.DB;
    const tenantId = c.var.tenantId;
    const errors = validatePlan({
      id: body.id,
      currency: body.currency,
      interval: body.period,
      trial_days: body.trial_days,
      components: body.components,
    });
    const { results: metricRows } = await db
      .prepare("SELECT id FROM metrics WHERE tenant_id = ? AND product_id = ?")
      .bind(tenantId, body.product)
      .all<{ id: string }>();
    const product = await db
      .prepare("SELECT id FROM products WHERE tenant_id = ? AND id = ?")
      .bind(tenantId, body.product)
      .first();
    if (!product)
      errors.push({ path: "product", message: `product '${body.product}' does not exist` });
    const known = new Set(metricRows.map((m) => m.id));
    body.components.forEach((component, i) => {
      if (
        "metric" in component &&
        component.metric !== undefined &&
        product &&
        !known.has(component.metric)
      ) {
        errors.push({
          path: `components.${i}.metric`,
          message: `metric '${component.metric}' is not defined on product '${body.product}'`,
        });
      }
    });
    if (errors.length > 0) throw validationError(errors);
    const now = Date.now();
    const statements = [
      db
        .prepare(
          `INSERT INTO plans (tenant_id, id, product_id, name, currency, interval, trial_days, status, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .bind(
          tenantId,
          body.id,
          body.product,
          body.name,
          body.currency,
          body.period,
          body.trial_days,
          body.status,
          now,
          now,
        ),
      ...body.components.map((component, position) =>
        db
          .prepare(
            "INSERT INTO plan_components (tenant_id, plan_id, position, type, metric_id, spec) VALUES (?, ?, ?, ?, ?, ?)",
          )
          .bind(
            tenantId,
            body.id,
            position,
            component.type,
            "metric" in component ? (component.metric ?? null) : null,
            JSON.stringify(component),
          ),
      ),
    ];
    try {
      await db.batch(statements);
    } catch (err) {
      if (String(err).includes("UNIQUE constraint failed")) {
        throw new ApiError(
          "conflict",
          `Plan '${body.id}' already exists; a new price is a new plan`,
        );
      }
      throw err;
    }
    const plan = await loadPlan(db, tenantId, body.id);
    if (!plan) throw notFound("Plan", body.id);
    return c.json(plan, 201);
  },
);

plans.openapi(
  createRoute({
    method: "get",
    path: "/",
    tags: ["catalog"],
    summary: "List plans",
    security,
    request: {
      query: PageQuery.extend({ product: Id.optional(), status: Status.optional() }),
    },
    responses: { 200: jsonResponse(page(Plan), "A page of plans"), ...problemResponses },
  }),
  async (c) => {
    const { limit, cursor, product, status } = c.req.valid("query");
    const after = decodeCursor(cursor, ["string"])?.[0] ?? "";
    const { results } = await c.env.DB.prepare(
      `${PLAN_SELECT} WHERE p.tenant_id = ? AND p.id > ? AND (?3 IS NULL OR p.product_id = ?3)
         AND (?4 IS NULL OR p.status = ?4) ORDER BY p.id LIMIT ?5`,
    )
      .bind(c.var.tenantId, after, product ?? null, status ?? null, limit + 1)
      .all<PlanRow>();
    return c.json(
      pageOf(results, limit, toPlan, (p) => [p.id]),
      200,
    );
  },
);

const PlanParams = z.object({ id: Id });

plans.openapi(
  createRoute({
    method: "get",
    path: "/{id}",
    tags: ["catalog"],
    summary: "Get a plan",
    security,
    request: { params: PlanParams },
    responses: { 200: jsonResponse(Plan, "The plan"), ...problemResponses },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const plan = await loadPlan(c.env.DB, c.var.tenantId, id);
    if (!plan) throw notFound("Plan", id);
    return c.json(plan, 200);
  },
);

plans.openapi(
  createRoute({
    method: "patch",
    path: "/{id}",
    tags: ["catalog"],
    summary: "Rename a plan or change its status (prices are immutable)",
    security,
    request: {
      params: PlanParams,
      body: jsonBody(
        z
          .object({ name: Name.optional(), status: Status.optional() })
          .strict()
          .refine((b) => Object.keys(b).length > 0, "send at least one of name, status"),
      ),
    },
    responses: { 200: jsonResponse(Plan, "Updated"), ...problemResponses },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const body = c.req.valid("json");
    const updated = await c.env.DB.prepare(
      "UPDATE plans SET name = COALESCE(?, name), status = COALESCE(?, status), updated_at = ? WHERE tenant_id = ? AND id = ?",
    )
      .bind(body.name ?? null, body.status ?? null, Date.now(), c.var.tenantId, id)
      .run();
    if (updated.meta.changes === 0) throw notFound("Plan", id);
    const plan = await loadPlan(c.env.DB, c.var.tenantId, id);
    if (!plan) throw notFound("Plan", id);
    return c.json(plan, 200);
  },
);
