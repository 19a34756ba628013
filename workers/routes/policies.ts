import { createRoute, z } from "@hono/zod-openapi";
import {
  DEFAULT_POLICY,
  LADDER_SECTIONS,
  type PolicyOverrideDocument,
  RUNGS,
  resolvePolicy,
  validatePolicyDocument,
} from "../../domain/ladder";
import { segmentValues } from "../../store/budget";
import { loadTenantPolicies, upsertPolicyStatement } from "../../store/policies";
import { createRouter } from "../app";
import { runNewlyAutomatic } from "../ladder";
import { permit } from "../permit";
import { problemResponses, validationError } from "../problem";
import { Id, jsonBody, jsonResponse } from "../schemas";
import { bumpCatalogVersion, tenantCatalog } from "../tenant-catalog";

// Policies (SPEC §3 "policy"): the override documents per scope, the defaults, and the effective
// policy; replacing one scope's document. The segment scope holds budget-alert thresholds of one
// customer segment (domain/detectors/budget.ts): only `detectors.budget_margin` and
// `detectors.budget_cost_spike`, without `segment_by` (the tenant's segmentation itself).
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
    segments: z.record(z.string(), z.record(z.string(), z.unknown())).openapi({
      description: "Budget-alert overrides per segment value (scope segment)",
    }),
    segment_by: z.string().openapi({
      description: 'How the tenant segments customers: "plan" or "metadata.<key>"',
    }),
    segment_values: z
      .array(z.string())
      .openapi({ description: "The segment values known now (plans, or the attribute's values)" }),
    effective: z.record(z.string(), z.unknown()).openapi({
      description: "defaults ← tenant (← product ← customer, or ← segment, when asked)",
    }),
  })
  .openapi("Policies");

/** A segment value: a plan id, or a customer attribute's value. */
const SegmentId = z.string().min(1).max(128);
const BUDGET_SECTIONS = new Set(["budget_margin", "budget_cost_spike"]);

/** What a scope's override may not hold: a segment's anything but budget thresholds, and
 * `segment_by` anywhere but the tenant's. */
function scopeIssues(scope: string, doc: PolicyOverrideDocument) {
  const issues: { path: string; message: string }[] = [];
  if (scope === "segment") {
    for (const k of Object.keys(doc)) {
      if (k !== "detectors")
        issues.push({
          path: `policy.${k}`,
          message: "a segment policy holds only detectors.budget_margin and budget_cost_spike",
        });
    }
    for (const k of Object.keys(doc.detectors ?? {})) {
      if (!BUDGET_SECTIONS.has(k))
        issues.push({
          path: `policy.detectors.${k}`,
          message: "a segment policy holds only detectors.budget_margin and budget_cost_spike",
        });
    }
  }
  const section = (doc.detectors as Record<string, Record<string, unknown>> | undefined)
    ?.budget_margin;
  if (scope !== "tenant" && section && "segment_by" in section) {
    issues.push({
      path: "policy.detectors.budget_margin.segment_by",
      message: "is set on the tenant policy only (it defines the segments)",
    });
  }
  return issues;
}

async function policyView(
  db: D1Database,
  tenantId: string,
  product?: string,
  customer?: string,
  segment?: string,
) {
  const stored = await loadTenantPolicies(db, tenantId);
  const effective = resolvePolicy(
    segment
      ? [stored.tenant, stored.segments[segment]]
      : [
          stored.tenant,
          product ? stored.products[product] : undefined,
          customer ? stored.customers[customer] : undefined,
        ],
  );
  const segmentBy = resolvePolicy([stored.tenant]).detectors.budget_margin.segment_by;
  return {
    defaults: DEFAULT_POLICY as unknown as Record<string, unknown>,
    tenant: (stored.tenant as Record<string, unknown> | undefined) ?? null,
    products: stored.products as Record<string, Record<string, unknown>>,
    customers: stored.customers as Record<string, Record<string, unknown>>,
    segments: stored.segments as Record<string, Record<string, unknown>>,
    segment_by: segmentBy,
    segment_values: await segmentValues(db, tenantId, segmentBy),
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
    request: {
      query: z.object({
        product: Id.optional(),
        customer: Id.optional(),
        segment: SegmentId.optional(),
      }),
    },
    responses: { 200: jsonResponse(PolicyView, "Policies"), ...problemResponses },
  }),
  async (c) => {
    const q = c.req.valid("query");
    return c.json(
      await policyView(c.env.DB, c.var.tenantId, q.product, q.customer, q.segment),
      200,
    );
  },
);

policies.openapi(
  createRoute(
    permit("policies:write", "policy.update", {
      method: "put",
      path: "/policies",
      tags: ["detection"],
      summary:
        "Replace the policy override of one scope (tenant, a product, a customer, or a customer segment)",
      description:
        "Auto-actions are off by default except ALERT (which only notifies your channels). The override is validated as part of the effective policy it produces (e.g. margin L2 must be below L1, k must be positive).",
      security,
      request: {
        body: jsonBody(
          z.object({
            scope: z.enum(["tenant", "product", "customer", "segment"]).default("tenant"),
            id: SegmentId.optional().openapi({
              description:
                "The product or customer id, or the segment value (a plan id, or the value of the customer attribute named by detectors.budget_margin.segment_by); not for tenant",
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
    if ((scope === "product" || scope === "customer") && !Id.safeParse(id).success)
      throw validationError([
        { path: "id", message: "use letters, digits and . _ : @ - (start alphanumeric)" },
      ]);
    const db = c.env.DB;
    const tenantId = c.var.tenantId;
    const doc = policy as PolicyOverrideDocument;
    const misplaced = scopeIssues(scope, doc);
    if (misplaced.length > 0) throw validationError(misplaced);
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
    // A segment policy holds thresholds only: no rung is switched on by it.
    const applied =
      scope === "segment"
        ? 0
        : await runNewlyAutomatic(c.env, tenantId, scope, id, c.var.actor.ref);
    const view = await policyView(
      db,
      tenantId,
      scope === "product" ? id : undefined,
      scope === "customer" ? id : undefined,
      scope === "segment" ? id : undefined,
    );
    return c.json({ ...view, executed_queued: applied }, 200);
  },
);
