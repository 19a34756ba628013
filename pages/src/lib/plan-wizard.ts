// The plan wizard's state and what it sends (pages/src/views/plan-wizard.tsx): a product, its
// metrics and a plan's components, saved as a DRAFT plan (POST /api/plans {status: "draft"}, or
// PATCH while it is one) and published by POST /api/plans/:id/publish. Pure: the Pricing
// Architect's hand-off is lib/wizard-prefill.ts, a `?prefill=` link is read here; either fills
// the wizard with a PlanWizardDraft (contracts/plan-wizard.ts) and the fields it set stay
// highlighted until edited.

import type {
  Amount,
  BillingInterval,
  MetricAggregation,
  Plan,
  PlanComponent,
  Product,
} from "../../../contracts/catalog";
import type { PendingComponent } from "../../../contracts/copilot";
import type { PlanWizardDraft } from "../../../contracts/plan-wizard";

export type { PlanWizardDraft };

export const WIZARD_STEPS = ["product", "metrics", "components", "review"] as const;
export type WizardStep = (typeof WIZARD_STEPS)[number];

export const COMPONENT_TYPES = [
  "flat",
  "per_unit",
  "tiered",
  "package",
  "included",
  "discount",
  "minimum",
] as const satisfies readonly PlanComponent["type"][];

export const AGGREGATIONS = [
  "sum",
  "count",
  "max",
  "unique_count",
] as const satisfies readonly MetricAggregation[];

export interface WizardMetric {
  id: string;
  unit: string;
  aggregation: MetricAggregation;
  /** Already defined on the product: used as it is, never re-created. */
  existing: boolean;
}

export interface WizardState {
  product: { id: string; name: string; existing: boolean };
  metrics: WizardMetric[];
  plan: {
    id: string;
    name: string;
    currency: string;
    period: BillingInterval;
    trial_days: string;
    components: PlanComponent[];
  };
  /** A proposal's components still waiting for an answer: shown, never sent. */
  pending: PendingComponent[];
  /** Sample usage for the preview: quantity per metric id, as typed. */
  usage: Record<string, string>;
  /** Keys of the fields a prefill set (see fieldKey), highlighted until the operator edits them. */
  prefilled: readonly string[];
}

/** How a field is named in `prefilled`: "product", "plan.name", "metric.0", "component.2",
 * "usage.tokens". */
export type FieldKey =
  | "product"
  | `plan.${"id" | "name" | "currency" | "period" | "trial_days"}`
  | `metric.${number}`
  | `component.${number}`
  | `usage.${string}`;

export function emptyWizard(): WizardState {
  return {
    product: { id: "", name: "", existing: false },
    metrics: [],
    plan: { id: "", name: "", currency: "USD", period: "month", trial_days: "0", components: [] },
    pending: [],
    usage: {},
    prefilled: [],
  };
}

const text = (v: Amount | null | undefined) => (v === null || v === undefined ? "" : String(v));

/** A component with every amount as the text its field shows (numbers from a proposal become
 * their decimal text, so an edit and a save send the same decimal strings). */
export function asFormComponent(c: PlanComponent): PlanComponent {
  switch (c.type) {
    case "flat":
    case "minimum":
      return { type: c.type, amount: text(c.amount) };
    case "per_unit":
      return { type: c.type, metric: c.metric, unit_price: text(c.unit_price) };
    case "tiered":
      return {
        type: c.type,
        metric: c.metric,
        mode: c.mode,
        tiers: c.tiers.map((t) => ({
          up_to: t.up_to === null ? null : text(t.up_to),
          unit_price: text(t.unit_price),
          ...(t.flat_fee === undefined ? {} : { flat_fee: text(t.flat_fee) }),
        })),
      };
    case "package":
      return { type: c.type, metric: c.metric, size: text(c.size), price: text(c.price) };
    case "included":
      return { type: c.type, metric: c.metric, quantity: text(c.quantity) };
    case "discount":
      return {
        type: c.type,
        ...(c.metric === undefined ? {} : { metric: c.metric }),
        above: text(c.above),
        percent: text(c.percent),
      };
  }
}

/** A new component of `type` with empty amounts, on `metric` where it meters one. */
export function newComponent(type: PlanComponent["type"], metric: string): PlanComponent {
  switch (type) {
    case "flat":
    case "minimum":
      return { type, amount: "" };
    case "per_unit":
      return { type, metric, unit_price: "" };
    case "tiered":
      return {
        type,
        metric,
        mode: "graduated",
        tiers: [
          { up_to: "", unit_price: "" },
          { up_to: null, unit_price: "" },
        ],
      };
    case "package":
      return { type, metric, size: "", price: "" };
    case "included":
      return { type, metric, quantity: "" };
    case "discount":
      return { type, metric, above: "", percent: "" };
  }
}

const metricsOfProduct = (products: readonly Product[], productId: string) =>
  products.find((p) => p.id === productId)?.metrics ?? [];

/** The wizard filled with a draft from outside; every field it set is marked prefilled. A
 * product or metric the tenant already has is used as it is. */
export function wizardFromDraft(draft: PlanWizardDraft, products: readonly Product[]): WizardState {
  const productId = draft.product?.id ?? "";
  const known = metricsOfProduct(products, productId);
  const existingProduct = products.find((p) => p.id === productId);
  const metrics: WizardMetric[] = known.map((m) => ({
    id: m.id,
    unit: m.unit,
    aggregation: m.aggregation,
    existing: true,
  }));
  for (const m of draft.metrics) {
    if (!metrics.some((x) => x.id === m.id)) metrics.push({ ...m, existing: false });
  }
  const prefilled: FieldKey[] = [];
  if (draft.product) prefilled.push("product");
  metrics.forEach((m, i) => {
    if (draft.metrics.some((d) => d.id === m.id)) prefilled.push(`metric.${i}`);
  });
  prefilled.push("plan.id", "plan.name", "plan.currency", "plan.period");
  if (draft.plan.trial_days !== undefined) prefilled.push("plan.trial_days");
  draft.plan.components.forEach((_, i) => {
    prefilled.push(`component.${i}`);
  });
  for (const m of Object.keys(draft.usage ?? {})) prefilled.push(`usage.${m}`);
  return {
    product: {
      id: productId,
      name: existingProduct?.name ?? draft.product?.name ?? "",
      existing: existingProduct !== undefined,
    },
    metrics,
    plan: {
      id: draft.plan.id,
      name: draft.plan.name,
      currency: draft.plan.currency,
      period: draft.plan.period,
      trial_days: String(draft.plan.trial_days ?? 0),
      components: draft.plan.components.map(asFormComponent),
    },
    pending: draft.plan.pending ?? [],
    usage: { ...(draft.usage ?? {}) },
    prefilled,
  };
}

/** The wizard on an existing draft plan (its product and metrics exist). */
export function wizardFromPlan(plan: Plan, products: readonly Product[]): WizardState {
  const product = products.find((p) => p.id === plan.product);
  return {
    product: { id: plan.product, name: product?.name ?? plan.product, existing: true },
    metrics: metricsOfProduct(products, plan.product).map((m) => ({
      id: m.id,
      unit: m.unit,
      aggregation: m.aggregation,
      existing: true,
    })),
    plan: {
      id: plan.id,
      name: plan.name,
      currency: plan.currency,
      period: plan.period,
      trial_days: String(plan.trial_days),
      components: plan.components.map(asFormComponent),
    },
    pending: [],
    usage: {},
    prefilled: [],
  };
}

/** Chooses a product: an existing one brings its metrics; a new one keeps the metrics typed so
 * far that are not some other product's. */
export function withProduct(
  state: WizardState,
  product: { id: string; name: string },
  products: readonly Product[],
): WizardState {
  const existing = products.find((p) => p.id === product.id);
  const known = metricsOfProduct(products, product.id).map((m) => ({
    id: m.id,
    unit: m.unit,
    aggregation: m.aggregation,
    existing: true,
  }));
  const added = state.metrics.filter((m) => !m.existing && !known.some((k) => k.id === m.id));
  return {
    ...state,
    product: { id: product.id, name: existing?.name ?? product.name, existing: !!existing },
    metrics: [...known, ...added],
  };
}

/** Drops a field's highlight: the operator has made it theirs. */
export const edited = (state: WizardState, key: FieldKey): WizardState =>
  state.prefilled.includes(key)
    ? { ...state, prefilled: state.prefilled.filter((k) => k !== key) }
    : state;

export interface WizardIssue {
  step: WizardStep;
  message: string;
}

const ID = /^[A-Za-z0-9][A-Za-z0-9._:@-]*$/;

/** What is missing before the wizard can save: required fields only. Prices are checked by the
 * API (the preview validates components as POST /api/plans does). */
export function wizardIssues(state: WizardState): WizardIssue[] {
  const issues: WizardIssue[] = [];
  const idIssue = (step: WizardStep, what: string, id: string) => {
    if (!id) issues.push({ step, message: `${what} needs an id` });
    else if (!ID.test(id))
      issues.push({
        step,
        message: `${what} id '${id}': use letters, digits and . _ : @ - (start alphanumeric)`,
      });
  };
  idIssue("product", "The product", state.product.id);
  if (!state.product.existing && !state.product.name.trim())
    issues.push({ step: "product", message: "The product needs a name" });
  state.metrics.forEach((m, i) => {
    idIssue("metrics", `Metric ${i + 1}`, m.id);
    if (!m.existing && !m.unit.trim())
      issues.push({ step: "metrics", message: `Metric '${m.id || i + 1}' needs a unit` });
  });
  const ids = state.metrics.map((m) => m.id).filter(Boolean);
  for (const id of new Set(ids.filter((id, i) => ids.indexOf(id) !== i)))
    issues.push({ step: "metrics", message: `Metric '${id}' is listed twice` });
  idIssue("components", "The plan", state.plan.id);
  if (!state.plan.name.trim())
    issues.push({ step: "components", message: "The plan needs a name" });
  if (!/^[A-Z]{3}$/.test(state.plan.currency))
    issues.push({ step: "components", message: "Currency: an ISO 4217 code such as USD" });
  if (!/^\d+$/.test(state.plan.trial_days) || Number(state.plan.trial_days) > 365)
    issues.push({ step: "components", message: "Trial days: a whole number from 0 to 365" });
  if (state.plan.components.length === 0)
    issues.push({ step: "components", message: "Add at least one component" });
  return issues;
}

/** The body of POST /api/pricing/preview for the sample usage: quantities typed for the
 * wizard's metrics (blank ones left out, as no usage). */
export function previewRequest(state: WizardState) {
  const usage: Record<string, string> = {};
  for (const m of state.metrics) {
    const q = (state.usage[m.id] ?? "").trim();
    if (m.id && q) usage[m.id] = q;
  }
  return {
    currency: state.plan.currency,
    period: state.plan.period,
    components: state.plan.components,
    usage,
  };
}

export interface WizardRequest {
  /** What it creates, for progress and errors ("product chat-api"). */
  what: string;
  method: "POST" | "PATCH";
  path: string;
  body: unknown;
}

/** The requests that save the wizard as a draft, in order: the product and metrics it does not
 * have yet, then the plan — created as a draft, or (`editing`) its terms replaced. */
export function saveRequests(state: WizardState, editing: boolean): WizardRequest[] {
  const out: WizardRequest[] = [];
  const product = state.product;
  if (!product.existing)
    out.push({
      what: `product ${product.id}`,
      method: "POST",
      path: "/api/products",
      body: { id: product.id, name: product.name.trim() },
    });
  for (const m of state.metrics.filter((x) => !x.existing))
    out.push({
      what: `metric ${m.id}`,
      method: "POST",
      path: `/api/products/${encodeURIComponent(product.id)}/metrics`,
      body: { id: m.id, unit: m.unit.trim(), aggregation: m.aggregation },
    });
  const terms = {
    product: product.id,
    name: state.plan.name.trim(),
    currency: state.plan.currency,
    period: state.plan.period,
    trial_days: Number(state.plan.trial_days),
    components: state.plan.components,
  };
  out.push(
    editing
      ? {
          what: `plan ${state.plan.id}`,
          method: "PATCH",
          path: `/api/plans/${encodeURIComponent(state.plan.id)}`,
          body: terms,
        }
      : {
          what: `plan ${state.plan.id}`,
          method: "POST",
          path: "/api/plans",
          body: { id: state.plan.id, ...terms, status: "draft" },
        },
  );
  return out;
}

/** After a request of saveRequests succeeded: what it created now exists, so a retry after a
 * later failure does not create it twice. */
export function markSaved(state: WizardState, request: WizardRequest): WizardState {
  if (request.path === "/api/products")
    return { ...state, product: { ...state.product, existing: true } };
  const metric = request.what.startsWith("metric ") ? request.what.slice("metric ".length) : null;
  if (metric === null) return state;
  return {
    ...state,
    metrics: state.metrics.map((m) => (m.id === metric ? { ...m, existing: true } : m)),
  };
}

// ---------------------------------------------------------------------------------------------
// Prefill links.

/** A draft as a `?prefill=` value: base64url of its JSON (UTF-8). */
export function encodePrefill(draft: PlanWizardDraft): string {
  const bytes = new TextEncoder().encode(JSON.stringify(draft));
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const isAmount = (v: unknown) =>
  (typeof v === "string" && v.length <= 40) || (typeof v === "number" && Number.isFinite(v));
const isId = (v: unknown): v is string => typeof v === "string" && v.length <= 128;

function isComponent(c: unknown): c is PlanComponent {
  if (!isRecord(c)) return false;
  const metric = isId(c.metric);
  switch (c.type) {
    case "flat":
    case "minimum":
      return isAmount(c.amount);
    case "per_unit":
      return metric && isAmount(c.unit_price);
    case "tiered":
      return (
        metric &&
        (c.mode === "graduated" || c.mode === "volume") &&
        Array.isArray(c.tiers) &&
        c.tiers.length <= 50 &&
        c.tiers.every(
          (t) =>
            isRecord(t) &&
            (t.up_to === null || isAmount(t.up_to)) &&
            isAmount(t.unit_price) &&
            (t.flat_fee === undefined || isAmount(t.flat_fee)),
        )
      );
    case "package":
      return metric && isAmount(c.size) && isAmount(c.price);
    case "included":
      return metric && isAmount(c.quantity);
    case "discount":
      return (c.metric === undefined || metric) && isAmount(c.above) && isAmount(c.percent);
    default:
      return false;
  }
}

/** Reads a `?prefill=` value: the draft, or why it cannot be used. A link is anyone's to craft,
 * so its shape is checked before it reaches a form (prices are then the API's to validate). */
export function decodePrefill(value: string): PlanWizardDraft | Error {
  let parsed: unknown;
  try {
    const b64 = value.replace(/-/g, "+").replace(/_/g, "/");
    const binary = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
    const bytes = Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
    parsed = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return new Error("The prefill link is not base64url-encoded JSON");
  }
  if (!isRecord(parsed) || !isRecord(parsed.plan))
    return new Error("The prefill link carries no plan");
  const { product, metrics, plan, usage } = parsed;
  if (
    product !== undefined &&
    !(isRecord(product) && isId(product.id) && typeof product.name === "string")
  )
    return new Error("The prefill link's product needs an id and a name");
  if (
    !Array.isArray(metrics) ||
    !metrics.every(
      (m) =>
        isRecord(m) &&
        isId(m.id) &&
        typeof m.unit === "string" &&
        (AGGREGATIONS as readonly unknown[]).includes(m.aggregation),
    )
  )
    return new Error("The prefill link's metrics need an id, a unit and an aggregation");
  if (
    !isId(plan.id) ||
    typeof plan.name !== "string" ||
    typeof plan.currency !== "string" ||
    (plan.period !== "month" && plan.period !== "year") ||
    (plan.trial_days !== undefined && typeof plan.trial_days !== "number") ||
    !Array.isArray(plan.components) ||
    plan.components.length > 50 ||
    !plan.components.every(isComponent)
  )
    return new Error("The prefill link's plan is not one the wizard can show");
  if (
    usage !== undefined &&
    !(isRecord(usage) && Object.values(usage).every((q) => typeof q === "string"))
  )
    return new Error("The prefill link's sample usage needs a quantity per metric");
  return {
    ...(product === undefined ? {} : { product: product as PlanWizardDraft["product"] }),
    metrics: metrics as PlanWizardDraft["metrics"],
    plan: {
      id: plan.id,
      name: plan.name,
      currency: plan.currency,
      period: plan.period,
      ...(plan.trial_days === undefined ? {} : { trial_days: plan.trial_days as number }),
      components: plan.components,
    },
    ...(usage === undefined ? {} : { usage: usage as Record<string, string> }),
  };
}

export const WIZARD_PATH = "/catalog/plans/new";
