import { createRoute, z } from "@hono/zod-openapi";
import { validatePlan } from "../../domain/pricing";
import {
  getPlan,
  listPlans,
  metricIdsOf,
  type PlanRecord,
  planInsertStatements,
  productExists,
  updatePlan,
} from "../../store/catalog";
import { isUniqueViolation } from "../../store/d1";
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

export const Plan = z
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

const toPlan = (p: PlanRecord) => ({
  id: p.id,
  product: p.product_id,
  name: p.name,
  currency: p.currency,
  period: p.interval,
  trial_days: p.trial_days,
  status: p.status,
  components: p.components,
  created_at: iso(p.created_at) ?? "",
  updated_at: iso(p.updated_at) ?? "",
});

async function loadPlan(db: D1Database, tenantId: string, id: string) {
  const plan = await getPlan(db, tenantId, id);
  return plan ? toPlan(plan) : null;
}

const security = [{ operatorToken: [] }];

plans.openapi(
  createRoute(
    permit("pricing:write", "plan.create", {
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
  ),
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
    const [known, product] = await Promise.all([
      metricIdsOf(db, tenantId, body.product),
      productExists(db, tenantId, body.product),
    ]);
    if (!product)
      errors.push({ path: "product", message: `product '${body.product}' does not exist` });
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
    const statements = planInsertStatements(
      db,
      tenantId,
      {
        id: body.id,
        product_id: body.product,
        name: body.name,
        currency: body.currency,
        interval: body.period,
        trial_days: body.trial_days,
        status: body.status,
        components: body.components,
      },
      now,
    );
    try {
      await db.batch(statements);
    } catch (err) {
      if (isUniqueViolation(err)) {
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
    const results = await listPlans(c.env.DB, c.var.tenantId, {
      after,
      product: product ?? null,
      status: status ?? null,
      limit: limit + 1,
    });
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
  createRoute(
    permit("pricing:write", "plan.update", {
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
  ),
  async (c) => {
    const { id } = c.req.valid("param");
    const body = c.req.valid("json");
    if (!(await updatePlan(c.env.DB, c.var.tenantId, id, body, Date.now())))
      throw notFound("Plan", id);
    const plan = await loadPlan(c.env.DB, c.var.tenantId, id);
    if (!plan) throw notFound("Plan", id);
    return c.json(plan, 200);
  },
);
