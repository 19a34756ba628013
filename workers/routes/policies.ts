import { createRoute, z } from "@hono/zod-openapi";
import {
  DEFAULT_POLICY,
  LADDER_SECTIONS,
  type PolicyOverrideDocument,
  RUNGS,
  resolvePolicy,
  validatePolicyDocument,
} from "../../domain/ladder";
import { loadTenantPolicies, upsertPolicyStatement } from "../../store/policies";
import { createRouter } from "../app";
import { runNewlyAutomatic } from "../ladder";
import { permit } from "../permit";
import { problemResponses, validationError } from "../problem";
import { Id, jsonBody, jsonResponse } from "../schemas";
import { bumpCatalogVersion, tenantCatalog } from "../tenant-catalog";

// Policies (SPEC §3 "policy"): the override documents per scope, the defaults, and the effective
// policy; replacing one scope's document.
export const policies = createRouter();
const security = [{ operatorToken: [] }];

const Rung = z.enum(RUNGS);

const PolicyOverride = z
  .object({
    detectors: z.record(z.string(), z.record(z.string(), z.unknown())).optional(),
    // Each registered detector's ladder section, in the shape its spec declares (the rungs it
    // may take are checked on the merged policy, with the field named).
    ladder: z
      .object(
        Object.fromEntries(
          LADDER_SECTIONS.map((l) => [
            l.key,
            (l.kind === "rung"
              ? Rung
              : l.kind === "keys"
                ? z.object(Object.fromEntries(l.keys.map((k) => [k, Rung.optional()]))).strict()
                : z.record(z.string().max(16), Rung)
            ).optional(),
          ]),
        ),
      )
      .strict()
      .optional(),
    auto_actions: z
      .object(Object.fromEntries(RUNGS.map((r) => [r, z.boolean().optional()])))
      .strict()
      .optional(),
    gate: z
      .object({
        rate_per_second: z.number().optional(),
        burst: z.number().optional(),
        throttled_rate_per_second: z.number().optional(),
      })
      .strict()
      .optional(),
    actions: z
      .object({
        extend_trial_days: z.number().optional(),
        coupon_percent: z.number().optional(),
        coupon_days: z.number().optional(),
        escalate_to: z
          .union([z.literal(""), z.email().max(254)])
          .optional()
          .openapi({
            description: "Who `escalate` e-mails when the customer has no account_owner",
          }),
      })
      .strict()
      .optional(),
  })
  .strict()
  .openapi("PolicyOverride");

const PolicyView = z
  .object({
    defaults: z.record(z.string(), z.unknown()),
    tenant: z.record(z.string(), z.unknown()).nullable(),
    products: z.record(z.string(), z.record(z.string(), z.unknown())),
    customers: z.record(z.string(), z.record(z.string(), z.unknown())),
    effective: z
      .record(z.string(), z.unknown())
      .openapi({ description: "defaults ← tenant (← product ← customer when asked)" }),
  })
  .openapi("Policies");

async function policyView(db: D1Database, tenantId: string, product?: string, customer?: string) {
  const stored = await loadTenantPolicies(db, tenantId);
  const effective = resolvePolicy([
    stored.tenant,
    product ? stored.products[product] : undefined,
    customer ? stored.customers[customer] : undefined,
  ]);
  return {
    defaults: DEFAULT_POLICY as unknown as Record<string, unknown>,
    tenant: (stored.tenant as Record<string, unknown> | undefined) ?? null,
    products: stored.products as Record<string, Record<string, unknown>>,
    customers: stored.customers as Record<string, Record<string, unknown>>,
    effective: effective as unknown as Record<string, unknown>,
  };
}

policies.openapi(
  createRoute({
    method: "get",
    path: "/policies",
    tags: ["detection"],
    summary: "Policies as stored per scope, the defaults, and the effective policy",
    security,
    request: { query: z.object({ product: Id.optional(), customer: Id.optional() }) },
    responses: { 200: jsonResponse(PolicyView, "Policies"), ...problemResponses },
  }),
  async (c) => {
    const q = c.req.valid("query");
    return c.json(await policyView(c.env.DB, c.var.tenantId, q.product, q.customer), 200);
  },
);

policies.openapi(
  createRoute(
    permit("policies:write", "policy.update", {
      method: "put",
      path: "/policies",
      tags: ["detection"],
      summary: "Replace the policy override of one scope (tenant, a product, or a customer)",
      description:
        "Auto-actions are off by default except ALERT (which only notifies your channels). The override is validated as part of the effective policy it produces (e.g. margin L2 must be below L1, k must be positive).",
      security,
      request: {
        body: jsonBody(
          z.object({
            scope: z.enum(["tenant", "product", "customer"]).default("tenant"),
            id: Id.optional().openapi({
              description: "The product or customer id (not for tenant)",
            }),
            policy: PolicyOverride,
          }),
        ),
      },
      responses: {
        200: jsonResponse(
          PolicyView.extend({
            executed_queued: z.number().openapi({
              description:
                "Queued actions in this scope whose rung the change switched on, executed now",
            }),
          }),
          "Policies after the change",
        ),
        ...problemResponses,
      },
    }),
  ),
  async (c) => {
    const { scope, id, policy } = c.req.valid("json");
    if (scope !== "tenant" && !id)
      throw validationError([{ path: "id", message: `a ${scope} policy needs the ${scope} id` }]);
    const db = c.env.DB;
    const tenantId = c.var.tenantId;
    const doc = policy as PolicyOverrideDocument;
    // A product or customer override is validated on top of the tenant's.
    const chain =
      scope === "tenant" ? [doc] : [(await loadTenantPolicies(db, tenantId)).tenant, doc];
    const issues = validatePolicyDocument(resolvePolicy(chain)).map((i) => ({
      ...i,
      path: `policy.${i.path}`,
    }));
    if (issues.length > 0) throw validationError(issues);
    if (scope === "product") {
      const known = (await tenantCatalog(db, tenantId)).products.has(id ?? "");
      if (!known)
        throw validationError([{ path: "id", message: `product '${id}' does not exist` }]);
    }
    await db.batch([
      upsertPolicyStatement(
        db,
        tenantId,
        scope,
        scope === "tenant" ? "" : (id ?? ""),
        doc,
        Date.now(),
      ),
      // Actors reload their policies with the catalog.
      bumpCatalogVersion(db, tenantId),
    ]);
    const applied = await runNewlyAutomatic(c.env, tenantId, scope, id, c.var.actor.ref);
    const view = await policyView(
      db,
      tenantId,
      scope === "product" ? id : undefined,
      scope === "customer" ? id : undefined,
    );
    return c.json({ ...view, executed_queued: applied }, 200);
  },
);
