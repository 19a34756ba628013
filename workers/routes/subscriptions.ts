import { createRoute, z } from "@hono/zod-openapi";
import { DAY_MS } from "../../domain/time";
import { getPlanHead } from "../../store/catalog";
import { customerExists } from "../../store/customers";
import { isUniqueViolation } from "../../store/d1";
import {
  getSubscription,
  listSubscriptions,
  liveSubscriptionId,
  phaseRowsOf,
  type SubscriptionRecord,
  statusChangesOf,
  subscriptionInsertStatements,
} from "../../store/subscriptions";
import { createRouter } from "../app";
import { randomHex } from "../auth";
import { cancelSubscription, changePlan, draftPlanRefusal } from "../billing/history";
import { recordStatusChange } from "../billing/status";
import { orThrow } from "../http-result";
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
  PageQuery,
  page,
  pageOf,
  Timestamp,
} from "../schemas";

// Customer ↔ plan. A customer holds at most one live subscription per product at a time.
export const subscriptions = createRouter();

const Status = z.enum(["trialing", "active", "past_due", "suspended", "canceled"]);

export const Subscription = z
  .object({
    id: z.string(),
    customer: z.string(),
    plan: z.string(),
    product: z.string(),
    status: Status,
    start: z.string(),
    trial_end: z.string().nullable(),
    end: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
    phases: z
      .array(
        z.object({
          plan: z.string(),
          start: z.string(),
          end: z.string().nullable(),
          billing_anchor: z.string(),
        }),
      )
      .optional()
      .openapi({
        description:
          "Plan history, oldest first (with include=history, and after a change, cancel or status change)",
      }),
    status_changes: z
      .array(
        z.object({
          at: z.string(),
          status: z.enum(["active", "past_due", "suspended"]),
          reason: z.string().nullable(),
        }),
      )
      .optional()
      .openapi({ description: "Effective-dated billing states, oldest first" }),
  })
  .openapi("Subscription");

/** Stored status is what was last decided; a trial that has ended reads as active. */
export function effectiveStatus(
  row: Pick<SubscriptionRecord, "status" | "trial_end" | "end_at">,
  now: number,
) {
  if (row.end_at !== null && row.end_at <= now) return "canceled" as const;
  if (row.status === "trialing" && row.trial_end !== null && row.trial_end <= now)
    return "active" as const;
  return row.status;
}

const toSubscription = (r: SubscriptionRecord, now = Date.now()) => ({
  id: r.id,
  customer: r.customer_id,
  plan: r.plan_id,
  product: r.product_id,
  status: effectiveStatus(r, now),
  start: iso(r.start_at) ?? "",
  trial_end: iso(r.trial_end),
  end: iso(r.end_at),
  created_at: iso(r.created_at) ?? "",
  updated_at: iso(r.updated_at) ?? "",
});

const security = [{ operatorToken: [] }];

subscriptions.openapi(
  createRoute(
    permit("customers:write", "subscription.create", {
      method: "post",
      path: "/",
      tags: ["catalog"],
      summary: "Subscribe a customer to a plan",
      description:
        "`start` may be in the past (history import). `trial_end` defaults to start + the plan's trial_days. A draft plan is refused (409) until it is published.",
      security,
      request: {
        body: jsonBody(
          z.object({
            customer: Id,
            plan: Id,
            start: Timestamp,
            trial_end: Timestamp.nullable().optional(),
            id: Id.optional().openapi({ description: "Defaults to a random sub_… id" }),
          }),
        ),
      },
      responses: {
        201: jsonResponse(Subscription, "Created"),
        ...problemResponses,
        ...conflictResponse,
      },
    }),
  ),
  async (c) => {
    const body = c.req.valid("json");
    const db = c.env.DB;
    const tenantId = c.var.tenantId;
    const [customer, plan] = await Promise.all([
      customerExists(db, tenantId, body.customer),
      getPlanHead(db, tenantId, body.plan),
    ]);
    const errors = [];
    if (!customer)
      errors.push({ path: "customer", message: `customer '${body.customer}' does not exist` });
    if (!plan) errors.push({ path: "plan", message: `plan '${body.plan}' does not exist` });
    else if (plan.status === "archived")
      errors.push({ path: "plan", message: `plan '${body.plan}' is archived` });
    const trialEnd =
      body.trial_end !== undefined
        ? body.trial_end
        : plan && plan.trial_days > 0
          ? body.start + plan.trial_days * DAY_MS
          : null;
    if (trialEnd !== null && trialEnd <= body.start) {
      errors.push({ path: "trial_end", message: "trial_end must be after start" });
    }
    if (errors.length > 0 || !plan) throw validationError(errors);
    if (plan.status === "draft") throw new ApiError("conflict", draftPlanRefusal(plan.id));

    const live = await liveSubscriptionId(db, tenantId, body.customer, plan.product_id, body.start);
    if (live !== null) {
      throw new ApiError(
        "conflict",
        `Customer '${body.customer}' already has subscription '${live}' to product '${plan.product_id}'; change its plan instead`,
      );
    }
    const id = body.id ?? `sub_${randomHex(8)}`;
    const now = Date.now();
    const status = trialEnd !== null && trialEnd > now ? "trialing" : "active";
    try {
      // The subscription with its history's first phase (workers/billing/history.ts).
      await db.batch(
        subscriptionInsertStatements(
          db,
          tenantId,
          {
            id,
            customer_id: body.customer,
            plan_id: body.plan,
            status,
            start_at: body.start,
            trial_end: trialEnd,
          },
          now,
        ),
      );
    } catch (err) {
      if (isUniqueViolation(err)) {
        throw new ApiError("conflict", `Subscription '${id}' already exists`);
      }
      throw err;
    }
    const row = await getSubscription(db, tenantId, id);
    if (!row) throw notFound("Subscription", id);
    return c.json(toSubscription(row, now), 201);
  },
);

subscriptions.openapi(
  createRoute({
    method: "get",
    path: "/",
    tags: ["catalog"],
    summary: "List subscriptions",
    security,
    request: {
      query: PageQuery.extend({
        customer: Id.optional(),
        plan: Id.optional(),
        product: Id.optional(),
      }),
    },
    responses: {
      200: jsonResponse(page(Subscription), "A page of subscriptions"),
      ...problemResponses,
    },
  }),
  async (c) => {
    const { limit, cursor, customer, plan, product } = c.req.valid("query");
    const after = decodeCursor(cursor, ["string"])?.[0] ?? "";
    const results = await listSubscriptions(c.env.DB, c.var.tenantId, {
      after,
      customer: customer ?? null,
      plan: plan ?? null,
      product: product ?? null,
      limit: limit + 1,
    });
    const now = Date.now();
    return c.json(
      pageOf(
        results,
        limit,
        (r) => toSubscription(r, now),
        (r) => [r.id],
      ),
      200,
    );
  },
);

subscriptions.openapi(
  createRoute({
    method: "get",
    path: "/{id}",
    tags: ["catalog"],
    summary: "Get a subscription",
    description: "`include=history` adds its plan phases and status changes.",
    security,
    request: {
      params: z.object({ id: Id }),
      query: z.object({ include: z.enum(["history"]).optional() }),
    },
    responses: { 200: jsonResponse(Subscription, "The subscription"), ...problemResponses },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const { include } = c.req.valid("query");
    const row = await getSubscription(c.env.DB, c.var.tenantId, id);
    if (!row) throw notFound("Subscription", id);
    if (include === "history") return c.json(await withHistory(c.env.DB, c.var.tenantId, row), 200);
    return c.json(toSubscription(row), 200);
  },
);

/** A subscription with its plan phases and status changes. */
async function withHistory(db: D1Database, tenantId: string, row: SubscriptionRecord) {
  const [phases, changes] = await Promise.all([
    phaseRowsOf(db, tenantId, row.id),
    statusChangesOf(db, tenantId, row.id),
  ]);
  return {
    ...toSubscription(row),
    phases: phases.map((r) => ({
      plan: r.plan_id,
      start: iso(r.start) ?? "",
      end: iso(r.end),
      billing_anchor: iso(r.anchor) ?? "",
    })),
    status_changes: changes.map((ch) => ({ ...ch, at: iso(ch.at) ?? "" })),
  };
}

async function readSubscription(db: D1Database, tenantId: string, id: string) {
  const row = await getSubscription(db, tenantId, id);
  if (!row) throw notFound("Subscription", id);
  return withHistory(db, tenantId, row);
}

// Effective-dated history (workers/billing/history.ts; rules in domain/subscription-phases.ts).
// These writes go through bumpCatalogOnWrite, so the customer actors reload their phases.

subscriptions.openapi(
  createRoute(
    permit("customers:write", "subscription.change", {
      method: "post",
      path: "/{id}/change",
      tags: ["catalog"],
      summary: "Change the plan, effective at a date",
      description:
        "The new plan must be published (a draft is refused, 409) and for the same product and currency. `at` may be in the past (history import) or the future (scheduled), not before the start nor at/after the end, and not inside an already invoiced period. Same billing interval: the billing dates stay; the old plan prices the usage before `at`, the new plan the usage after (its own quota and tiers), flat fees prorated. Another interval: the billing periods restart at `at`.",
      security,
      request: {
        params: z.object({ id: Id }),
        body: jsonBody(z.object({ plan: Id, at: Timestamp })),
      },
      responses: {
        200: jsonResponse(Subscription, "The subscription with its history"),
        ...problemResponses,
        ...conflictResponse,
      },
    }),
  ),
  async (c) => {
    const { id } = c.req.valid("param");
    const { plan, at } = c.req.valid("json");
    orThrow(await changePlan(c.env.DB, c.var.tenantId, id, plan, at, Date.now()));
    return c.json(await readSubscription(c.env.DB, c.var.tenantId, id), 200);
  },
);

subscriptions.openapi(
  createRoute(
    permit("customers:write", "subscription.cancel", {
      method: "post",
      path: "/{id}/cancel",
      tags: ["catalog"],
      summary: "Cancel, effective at a date",
      description:
        "`at` (default: now) may be in the past or the future (a scheduled cancel, movable until it has passed). Service ends at `at`: the last period is invoiced at `at`, its flat fee prorated. A change scheduled after `at` is dropped.",
      security,
      request: {
        params: z.object({ id: Id }),
        body: jsonBody(z.object({ at: Timestamp.optional() })),
      },
      responses: {
        200: jsonResponse(Subscription, "The subscription with its history"),
        ...problemResponses,
        ...conflictResponse,
      },
    }),
  ),
  async (c) => {
    const { id } = c.req.valid("param");
    const { at } = c.req.valid("json");
    const now = Date.now();
    orThrow(await cancelSubscription(c.env.DB, c.var.tenantId, id, at ?? now, now));
    return c.json(await readSubscription(c.env.DB, c.var.tenantId, id), 200);
  },
);

subscriptions.openapi(
  createRoute(
    permit("customers:write", "subscription.status", {
      method: "post",
      path: "/{id}/status",
      tags: ["catalog"],
      summary: "Record a billing state (past_due, suspended, back to active) at a date",
      description:
        "Effective-dated; the cockpit at a past date shows the state as it was. Idempotent: recording the state already in force changes nothing. The action ladder and invoice dunning record the same changes.",
      security,
      request: {
        params: z.object({ id: Id }),
        body: jsonBody(
          z.object({
            status: z.enum(["active", "past_due", "suspended"]),
            at: Timestamp.optional(),
            reason: z.string().max(500).optional(),
          }),
        ),
      },
      responses: {
        200: jsonResponse(Subscription, "The subscription with its history"),
        ...problemResponses,
      },
    }),
  ),
  async (c) => {
    const { id } = c.req.valid("param");
    const body = c.req.valid("json");
    const res = await recordStatusChange(
      c.env.DB,
      c.var.tenantId,
      id,
      body.status,
      body.at ?? Date.now(),
      body.reason ?? "operator",
    );
    if (!res) throw notFound("Subscription", id);
    return c.json(await readSubscription(c.env.DB, c.var.tenantId, id), 200);
  },
);
