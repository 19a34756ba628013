import { createRoute, z } from "@hono/zod-openapi";
import { validatePlan } from "../../domain/pricing";
import {
  getPlan,
  getPlanHead,
  listPlans,
  metricIdsOf,
  type PlanRecord,
  type PlanTerms,
  planInsertStatements,
  productExists,
  publishPlan,
  replaceDraftPlan,
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

// Rate plans. Components are fixed once a plan is published so its prices never change under its
// subscribers; a new price is a new plan. Name and status can change.
//
// A plan may start as a `draft` (Auto-create, the dashboard's plan wizard): priced and previewed
// like any other, but no customer can be subscribed or changed onto it until POST
// /api/plans/:id/publish makes it `active` — what the issue calls published. Having no
// subscribers, a draft never rates an event, and until it is published its terms may still be
// replaced (PATCH with components); once published they are fixed and it never goes back.
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
    published_at: z
      .string()
      .nullable()
      .openapi({ description: "When it became subscribable; null while a draft" }),
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
  status: Status.default("active").openapi({
    description: "`draft`: priced and previewed, not subscribable until published",
  }),
  components: z.array(PlanComponent).min(1).max(50),
});

const Currency = CreatePlan.shape.currency.removeDefault();

const toPlan = (p: PlanRecord) => ({
  id: p.id,
  product: p.product_id,
  name: p.name,
  currency: p.currency,
  period: p.interval,
  trial_days: p.trial_days,
  status: p.status,
  components: p.components,
  published_at: iso(p.published_at),
  created_at: iso(p.created_at) ?? "",
  updated_at: iso(p.updated_at) ?? "",
});

async function loadPlan(db: D1Database, tenantId: string, id: string) {
  const plan = await getPlan(db, tenantId, id);
  return plan ? toPlan(plan) : null;
}

const security = [{ operatorToken: [] }];

/** Validates a plan's terms as a whole: the components among themselves (domain/pricing.ts),
 * the product, and every metric they name defined on it. */
async function termErrors(db: D1Database, tenantId: string, terms: Omit<PlanTerms, "status">) {
  const errors = validatePlan({
    id: terms.id,
    currency: terms.currency,
    interval: terms.interval,
    trial_days: terms.trial_days,
    components: [...terms.components],
  });
  const [known, product] = await Promise.all([
    metricIdsOf(db, tenantId, terms.product_id),
    productExists(db, tenantId, terms.product_id),
  ]);
  if (!product)
    errors.push({ path: "product", message: `product '${terms.product_id}' does not exist` });
  terms.components.forEach((component, i) => {
    if (
      "metric" in component &&
      component.metric !== undefined &&
      product &&
      !known.has(component.metric)
    ) {
      errors.push({
        path: `components.${i}.metric`,
        message: `metric '${component.metric}' is not defined on product '${terms.product_id}'`,
      });
    }
  });
  return errors;
}

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
    const terms: PlanTerms = {
      id: body.id,
      product_id: body.product,
      name: body.name,
      currency: body.currency,
      interval: body.period,
      trial_days: body.trial_days,
      status: body.status,
      components: body.components,
    };
    const errors = await termErrors(db, tenantId, terms);
    if (errors.length > 0) throw validationError(errors);
    const statements = planInsertStatements(db, tenantId, terms, Date.now());
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

const TERM_FIELDS = ["product", "currency", "period", "trial_days", "components"] as const;

const PatchPlan = z
  .object({
    name: Name.optional(),
    status: Status.optional(),
    product: Id.optional(),
    currency: Currency.optional(),
    period: z.enum(["month", "year"]).optional(),
    trial_days: z.number().int().min(0).max(365).optional(),
    components: z.array(PlanComponent).min(1).max(50).optional(),
  })
  .strict()
  .refine((b) => Object.keys(b).length > 0, "send at least one field");

plans.openapi(
  createRoute(
    permit("pricing:write", "plan.update", {
      method: "patch",
      path: "/{id}",
      tags: ["catalog"],
      summary: "Rename a plan, change its status, or replace a draft's terms",
      description:
        "Name and status can always change, except that a published plan never goes back to `draft` (use a new plan, or archive it). A draft's terms (product, currency, period, trial_days, components) may be replaced — the fields sent, validated with the rest as POST /api/plans validates a plan; a published plan's are fixed (409): a new price is a new plan. Setting status `active` publishes a draft, like POST /api/plans/:id/publish.",
      security,
      request: { params: PlanParams, body: jsonBody(PatchPlan) },
      responses: { 200: jsonResponse(Plan, "Updated"), ...problemResponses, ...conflictResponse },
    }),
  ),
  async (c) => {
    const { id } = c.req.valid("param");
    const body = c.req.valid("json");
    const db = c.env.DB;
    const tenantId = c.var.tenantId;
    const current = await getPlan(db, tenantId, id);
    if (!current) throw notFound("Plan", id);
    const changesTerms = TERM_FIELDS.some((f) => body[f] !== undefined);
    if (current.status !== "draft" && (changesTerms || body.status === "draft")) {
      throw new ApiError(
        "conflict",
        `Plan '${id}' is ${current.status}: ${
          changesTerms
            ? "its prices are fixed once published; a new price is a new plan"
            : "a published plan never goes back to draft"
        }`,
      );
    }
    const now = Date.now();
    if (changesTerms) {
      const terms = {
        id,
        product_id: body.product ?? current.product_id,
        name: body.name ?? current.name,
        currency: body.currency ?? current.currency,
        interval: body.period ?? current.interval,
        trial_days: body.trial_days ?? current.trial_days,
        components: body.components ?? current.components,
      };
      const errors = await termErrors(db, tenantId, terms);
      if (errors.length > 0) throw validationError(errors);
      if (!(await replaceDraftPlan(db, tenantId, terms, now)))
        throw new ApiError(
          "conflict",
          `Plan '${id}' was published meanwhile; its prices are fixed`,
        );
    }
    if (body.status !== undefined || (!changesTerms && body.name !== undefined)) {
      if (!(await updatePlan(db, tenantId, id, { name: body.name, status: body.status }, now)))
        throw notFound("Plan", id);
    }
    const plan = await loadPlan(db, tenantId, id);
    if (!plan) throw notFound("Plan", id);
    return c.json(plan, 200);
  },
);

plans.openapi(
  createRoute(
    permit("pricing:write", "plan.publish", {
      method: "post",
      path: "/{id}/publish",
      tags: ["catalog"],
      summary: "Publish a draft plan: customers can then be subscribed to it",
      description:
        "Idempotent: publishing an active plan changes nothing and answers it as it is. An archived plan is refused (409); PATCH its status to bring it back.",
      security,
      request: { params: PlanParams },
      responses: {
        200: jsonResponse(Plan, "The published plan"),
        ...problemResponses,
        ...conflictResponse,
      },
    }),
  ),
  async (c) => {
    const { id } = c.req.valid("param");
    const db = c.env.DB;
    const tenantId = c.var.tenantId;
    const current = await getPlanHead(db, tenantId, id);
    if (!current) throw notFound("Plan", id);
    if (current.status === "archived")
      throw new ApiError("conflict", `Plan '${id}' is archived; only a draft can be published`);
    // A publish that lost a race with another finds the plan active: the same answer.
    if (current.status === "draft") await publishPlan(db, tenantId, id, Date.now());
    const plan = await loadPlan(db, tenantId, id);
    if (!plan) throw notFound("Plan", id);
    return c.json(plan, 200);
  },
);
