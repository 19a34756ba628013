import { z } from "@hono/zod-openapi";
import type { ArchitectAction, ArchitectStep } from "../../contracts/architect";
import type { Plan, PlanComponent, Product } from "../../contracts/catalog";
import type { Problem } from "../../contracts/common";
import type { PlanWizardDraft } from "../../contracts/plan-wizard";
import {
  ARCHITECT_TOOLS,
  type ArchitectMode,
  type ArchitectOutcome,
  type ArchitectSetup,
  type ArchitectToolName,
  type CreatedEntities,
  MODE_LABELS,
  MODE_TOOLS,
  sampleUsage,
  toolAllowed,
  WIZARD_PATH,
} from "../../domain/copilot/architect-tools";
import { toNanos } from "../../domain/money";
import { validatePlan } from "../../domain/pricing";
import { metricIdsOf } from "../../store/catalog";
import { type Actor, createRouter, handleError } from "../app";
import { ApiError, type FieldError, fieldErrors, problemBody } from "../problem";
import { plans } from "../routes/plans";
import { PreviewRequest, previewPricing } from "../routes/pricing-preview";
import { CreateMetric, CreateProduct, products } from "../routes/products";
import { Id, Name } from "../schemas";
import { bumpCatalogOnWrite } from "../tenant-catalog";

// The Pricing Architect's executor (issue 18 §2): every tool call — the model's, through the AI
// platform, or the deterministic engine's — comes here, is refused when its mode does not allow
// the tool, is parsed with the tool's schema and then held to the catalog API's own rules, and
// runs for the caller's tenant only.
//
// Writes go through the catalog routes themselves (POST /api/products, /products/:id/metrics,
// /plans) on an in-process app that carries the caller's tenant and actor: the same body
// schemas, whole-plan rules, permission guard (pricing:write) and audit row as a person's own
// request, and the catalog version bump the customer actors reload on. Before anything is
// written, the whole setup is held to the same route schemas and whole-plan rules (so a refusal
// comes back at once, field by field, and no half-made setup is left); the one check of its
// own is that every metric a component names is one the setup defines or the product has, as
// the plan route checks against the stored product once the metrics exist.

/** Whom the tools run for: the signed-in member (or token) of one tenant. */
export interface ArchitectScope {
  env: Env;
  tenantId: string;
  actor: Actor;
  /** A plan id taken by a plan with other terms: a model reads the conflict and proposes another
   * id; the deterministic engine cannot, so for it create_entities takes the next free
   * `<id>-2`, `<id>-3`, … (a new price is a new plan either way). */
  nextFreePlanId?: boolean;
}

export interface ToolRun {
  outcome: ArchitectOutcome;
  /** What the dashboard should do, for the tools that act on it. */
  action?: ArchitectAction;
}

const fail = (name: ArchitectToolName, problem: Problem): ToolRun => ({
  outcome: { name, ok: false, problem },
});
const ok = (name: ArchitectToolName, output: unknown, action?: ArchitectAction): ToolRun => ({
  outcome: { name, ok: true, output },
  ...(action ? { action } : {}),
});

// ---------------------------------------------------------------------------------------------
// The catalog routes, in process

function catalogApp(scope: ArchitectScope) {
  const app = createRouter();
  app.use("*", async (c, next) => {
    c.set("tenantId", scope.tenantId);
    c.set("actor", scope.actor);
    await next();
  });
  app.use("*", bumpCatalogOnWrite);
  app.route("/products", products);
  app.route("/plans", plans);
  app.onError(handleError);
  return app;
}

interface RouteAnswer {
  status: number;
  body: unknown;
}

async function catalogCall(
  app: ReturnType<typeof catalogApp>,
  scope: ArchitectScope,
  method: "GET" | "POST",
  path: string,
  body?: unknown,
): Promise<RouteAnswer> {
  const res = await app.request(
    path,
    body === undefined
      ? { method }
      : { method, headers: { "content-type": "application/json" }, body: JSON.stringify(body) },
    scope.env,
  );
  return { status: res.status, body: await res.json() };
}

// ---------------------------------------------------------------------------------------------
// A setup, held to the catalog API's rules

/** A proposal's plan as POST /api/plans would read it (the route's own field schemas). */
const ProposedPlan = z.object({
  id: Id,
  name: Name,
  currency: PreviewRequest.shape.currency,
  period: PreviewRequest.shape.period,
  components: PreviewRequest.shape.components,
});

/**
 * Why the catalog routes would refuse this setup, field by field (paths into the tool's input):
 * the product and metric bodies, the plan's fields and whole-plan rules, and every metric a
 * component names being one the setup defines or the product already has.
 */
async function setupErrors(scope: ArchitectScope, setup: ArchitectSetup): Promise<FieldError[]> {
  const errors: FieldError[] = [];
  const product = CreateProduct.safeParse(setup.product);
  if (!product.success) errors.push(...fieldErrors(product.error.issues, "product"));
  const defined = new Set<string>();
  setup.metrics.forEach((m, i) => {
    const parsed = CreateMetric.safeParse(m);
    if (!parsed.success) errors.push(...fieldErrors(parsed.error.issues, `metrics.${i}`));
    if (defined.has(m.id)) errors.push({ path: `metrics.${i}.id`, message: `'${m.id}' twice` });
    defined.add(m.id);
  });
  const plan = ProposedPlan.safeParse(setup.plan);
  if (!plan.success) {
    errors.push(...fieldErrors(plan.error.issues, "plan"));
    return errors;
  }
  for (const issue of validatePlan({
    id: plan.data.id,
    currency: plan.data.currency,
    interval: plan.data.period,
    trial_days: 0,
    components: plan.data.components,
  })) {
    errors.push({ path: `plan.${issue.path}`, message: issue.message });
  }
  const existing = product.success
    ? await metricIdsOf(scope.env.DB, scope.tenantId, setup.product.id)
    : new Set<string>();
  plan.data.components.forEach((c, i) => {
    if (
      "metric" in c &&
      c.metric !== undefined &&
      !defined.has(c.metric) &&
      !existing.has(c.metric)
    ) {
      errors.push({
        path: `plan.components.${i}.metric`,
        message: `metric '${c.metric}' is neither in the setup's metrics nor defined on product '${setup.product.id}'`,
      });
    }
  });
  return errors;
}

const invalid = (errors: FieldError[]) =>
  problemBody(
    "validation_failed",
    errors.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message)).join("; "),
    errors,
  );

/** Components compared by value: amounts as exact nanos, keys in one order. */
function canonical(components: readonly unknown[]): string {
  return JSON.stringify(components, (_key, value) => {
    if (typeof value === "number" || (typeof value === "string" && /^\d+(\.\d+)?$/.test(value))) {
      return toNanos(value).toString();
    }
    if (value && typeof value === "object" && !Array.isArray(value)) {
      return Object.fromEntries(Object.entries(value).sort(([a], [b]) => a.localeCompare(b)));
    }
    return value;
  });
}

/**
 * create_entities: the product, its metrics and the plan (as a draft), each through its route.
 * Idempotent on ids: an entity already there as proposed is kept, not duplicated; one there with
 * different terms is a conflict, found before anything is written.
 */
const samePlan = (plan: Plan, setup: ArchitectSetup) =>
  plan.product === setup.product.id &&
  plan.currency === setup.plan.currency &&
  plan.period === setup.plan.period &&
  canonical(plan.components) === canonical(setup.plan.components);

/** The first of `<id>-2` … `<id>-20` no plan has, or null. */
async function nextFreePlanId(
  app: ReturnType<typeof catalogApp>,
  scope: ArchitectScope,
  id: string,
): Promise<string | null> {
  for (let n = 2; n <= 20; n++) {
    const candidate = `${id}-${n}`;
    const answer = await catalogCall(app, scope, "GET", `/plans/${encodeURIComponent(candidate)}`);
    if (answer.status === 404) return candidate;
  }
  return null;
}

async function createEntities(scope: ArchitectScope, proposed: ArchitectSetup): Promise<ToolRun> {
  let setup = proposed;
  const name = "create_entities";
  const errors = await setupErrors(scope, setup);
  if (errors.length > 0) return fail(name, invalid(errors));
  const app = catalogApp(scope);
  const productId = encodeURIComponent(setup.product.id);
  const [productAnswer, planAnswer] = await Promise.all([
    catalogCall(app, scope, "GET", `/products/${productId}`),
    catalogCall(app, scope, "GET", `/plans/${encodeURIComponent(setup.plan.id)}`),
  ]);
  const existingProduct = productAnswer.status === 200 ? (productAnswer.body as Product) : null;
  let existingPlan = planAnswer.status === 200 ? (planAnswer.body as Plan) : null;
  if (existingPlan && scope.nextFreePlanId && !samePlan(existingPlan, setup)) {
    const free = await nextFreePlanId(app, scope, setup.plan.id);
    if (free) {
      setup = { ...setup, plan: { ...setup.plan, id: free } };
      existingPlan = null;
    }
  }

  const conflicts: string[] = [];
  for (const m of setup.metrics) {
    const there = existingProduct?.metrics.find((x) => x.id === m.id);
    if (there && (there.unit !== m.unit || there.aggregation !== m.aggregation)) {
      conflicts.push(
        `metric '${m.id}' exists on product '${setup.product.id}' as ${there.unit}/${there.aggregation}, not ${m.unit}/${m.aggregation}`,
      );
    }
  }
  if (existingPlan) {
    if (!samePlan(existingPlan, setup)) {
      conflicts.push(
        `plan '${setup.plan.id}' already exists with other terms; a new price is a new plan: propose another plan id`,
      );
    }
  }
  if (conflicts.length > 0) return fail(name, problemBody("conflict", conflicts.join("; ")));

  const write = async (path: string, body: unknown) => {
    const answer = await catalogCall(app, scope, "POST", path, body);
    return answer.status === 201 ? null : (answer.body as Problem);
  };
  const created: CreatedEntities = {
    product: { id: setup.product.id, created: existingProduct === null },
    metrics: [],
    plan: {
      id: setup.plan.id,
      created: existingPlan === null,
      status: existingPlan?.status ?? "draft",
    },
  };
  if (!existingProduct) {
    const problem = await write("/products", setup.product);
    if (problem) return fail(name, problem);
  }
  for (const m of setup.metrics) {
    const there = existingProduct?.metrics.some((x) => x.id === m.id) ?? false;
    created.metrics.push({ id: m.id, created: !there });
    if (there) continue;
    const problem = await write(`/products/${productId}/metrics`, m);
    if (problem) return fail(name, problem);
  }
  if (!existingPlan) {
    const problem = await write("/plans", {
      id: setup.plan.id,
      product: setup.product.id,
      name: setup.plan.name,
      currency: setup.plan.currency,
      period: setup.plan.period,
      status: "draft",
      components: setup.plan.components,
    });
    if (problem) return fail(name, problem);
  }
  return ok(name, created);
}

/** The plan wizard's prefill (contracts/plan-wizard.ts) for a setup that passed setupErrors,
 * with the estimate's sample usage for its live preview. */
function wizardDraftOf(setup: ArchitectSetup): PlanWizardDraft {
  const components = setup.plan.components as PlanComponent[];
  return {
    product: setup.product,
    metrics: setup.metrics,
    plan: { ...setup.plan, components },
    usage: sampleUsage(components),
  };
}

/** The wizard's address carrying the draft (`?prefill=<base64url JSON>`), so the page opens
 * filled in even when reloaded or opened from the link. */
function wizardHref(draft: PlanWizardDraft): string {
  const bytes = new TextEncoder().encode(JSON.stringify(draft));
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  const encoded = btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
  return `${WIZARD_PATH}?prefill=${encoded}`;
}

// ---------------------------------------------------------------------------------------------
// The executor

/** A tool call's outcome for this mode and tenant (never throws for a refused input). */
export async function runArchitectTool(
  scope: ArchitectScope,
  mode: ArchitectMode,
  name: string,
  input: unknown,
): Promise<ToolRun> {
  if (!toolAllowed(mode, name)) {
    const tool = name as ArchitectToolName;
    return fail(
      tool,
      problemBody(
        "forbidden",
        `The tool '${name.slice(0, 64)}' is not available in ${MODE_LABELS[mode]} mode (it offers ${MODE_TOOLS[mode].join(", ")}); it was not run.`,
      ),
    );
  }
  const parsed = ARCHITECT_TOOLS[name].input.safeParse(input);
  if (!parsed.success) return fail(name, invalid(fieldErrors(parsed.error.issues)));
  const data = parsed.data as Record<string, unknown>;
  switch (name) {
    case "ask_clarification":
      return ok(name, {
        shown: true,
        note: "The question is shown to the operator; end the turn and wait for the answer.",
      });
    case "propose_setup": {
      const errors = await setupErrors(scope, data as ArchitectSetup);
      return errors.length > 0
        ? fail(name, invalid(errors))
        : ok(name, { valid: true, note: "Aforo's catalog rules accept this setup." });
    }
    case "estimate_cost": {
      const request = PreviewRequest.safeParse(data);
      if (!request.success) return fail(name, invalid(fieldErrors(request.error.issues)));
      try {
        return ok(name, previewPricing(request.data));
      } catch (err) {
        return fail(name, problemOf(err));
      }
    }
    case "navigate_user": {
      const nav = data as { path: string; reason: string };
      return ok(name, { opened: nav.path }, { type: "navigate", ...nav });
    }
    case "update_steps": {
      const steps = (data as { steps: ArchitectStep[] }).steps;
      return ok(name, { shown: steps.length }, { type: "steps", steps });
    }
    case "prefill_wizard": {
      const setup = data as ArchitectSetup;
      const errors = await setupErrors(scope, setup);
      if (errors.length > 0) return fail(name, invalid(errors));
      const draft = wizardDraftOf(setup);
      return ok(
        name,
        {
          opened: WIZARD_PATH,
          note: "The wizard is filled in; nothing is saved until the operator saves it.",
        },
        { type: "prefill", path: wizardHref(draft), draft },
      );
    }
    case "create_entities":
      return createEntities(scope, data as ArchitectSetup);
  }
}

/** A route's own refusal (an ApiError) as its problem+json body; anything else is a fault. */
function problemOf(err: unknown): Problem {
  if (err instanceof ApiError) return problemBody(err.code, err.detail, err.errors);
  throw err;
}
