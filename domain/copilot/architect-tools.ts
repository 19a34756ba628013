// The Pricing Architect's tools, modes and deterministic engine (SPEC §8 AI copilot, issue 18
// §2). The model — or, with no key, the engine below — proposes tool calls; Aforo validates each
// against the catalog API's own rules and runs it (workers/copilot/architect.ts). Pure; no
// Workers imports.
//
// The schemas here are what the model is shown: the shape of each tool's input. Components are
// described, not re-declared: the executor holds every component to POST /api/plans' own schema
// and whole-plan rules, so a wrong one comes back to the model as that route's field errors.
//
// The engine plays the model's part turn by turn — given the outcomes of the calls so far it
// returns what to say and the next call — so both paths run through the same executor, the
// same allow-lists and the same events. Its words come from templates; every number in them is
// the parser's or the pricing engine's, never its own.

import { z } from "zod";
import type { ArchitectMode, ArchitectToolName } from "../../contracts/architect";
import type { PlanComponent } from "../../contracts/catalog";
import type { PricingParseResult, PricingPreview, ProposedMetric } from "../../contracts/copilot";
import { formatQuantity, MICROS_PER_UNIT, maxBig, minBig, toMicros, toNanos } from "../money";
import { parsePricing } from "./pricing-parser";

export type { ArchitectMode, ArchitectToolName };

export const ARCHITECT_MODES = [
  "guide",
  "prefill",
  "auto_create",
] as const satisfies readonly ArchitectMode[];

export const MODE_LABELS: Record<ArchitectMode, string> = {
  guide: "Guide",
  prefill: "Pre-fill",
  auto_create: "Auto-create",
};

export const ARCHITECT_TOOL_NAMES = [
  "ask_clarification",
  "propose_setup",
  "navigate_user",
  "create_entities",
  "prefill_wizard",
  "update_steps",
  "estimate_cost",
] as const satisfies readonly ArchitectToolName[];

const GUIDE_TOOLS = [
  "ask_clarification",
  "propose_setup",
  "navigate_user",
  "update_steps",
  "estimate_cost",
] as const satisfies readonly ArchitectToolName[];

/** What each mode may run: Guide explains and navigates, Pre-fill also fills the plan wizard,
 * Auto-create also writes the product, metrics and plan (as a draft). */
export const MODE_TOOLS: Record<ArchitectMode, readonly ArchitectToolName[]> = {
  guide: GUIDE_TOOLS,
  prefill: [...GUIDE_TOOLS, "prefill_wizard"],
  auto_create: [...GUIDE_TOOLS, "create_entities"],
};

export const toolAllowed = (mode: ArchitectMode, name: string): name is ArchitectToolName =>
  (MODE_TOOLS[mode] as readonly string[]).includes(name);

/** Dashboard pages navigate_user may open: a closed set, so a model cannot send the operator
 * anywhere else (another origin, a sign-out link). */
export const ARCHITECT_DESTINATIONS = [
  "/home",
  "/cockpit",
  "/margin",
  "/invoices",
  "/signals",
  "/reports",
  "/exports",
  "/live",
  "/catalog",
  "/catalog?tab=products",
  "/catalog?tab=plans",
  "/catalog/plans/new",
  "/policies",
  "/channels",
  "/settings",
] as const;
export type ArchitectDestination = (typeof ARCHITECT_DESTINATIONS)[number];

/** The plan wizard's page, where Pre-fill puts the proposal for the operator to review. */
export const WIZARD_PATH = "/catalog/plans/new" satisfies ArchitectDestination;

const COMPONENT_TYPES = [
  "flat",
  "per_unit",
  "tiered",
  "package",
  "included",
  "discount",
  "minimum",
] as const;

const Slug = z
  .string()
  .min(1)
  .max(128)
  .describe("letters, digits and . _ : @ - (start alphanumeric)");

const ComponentInput = z
  .object({ type: z.enum(COMPONENT_TYPES) })
  .catchall(z.unknown())
  .describe(
    'A plan component exactly as POST /api/plans takes it: {type:"flat",amount} · {type:"per_unit",metric,unit_price} · {type:"tiered",metric,mode:"graduated"|"volume",tiers:[{up_to|null,unit_price,flat_fee?}]} · {type:"package",metric,size,price} · {type:"included",metric,quantity} · {type:"discount",metric?,above,percent} · {type:"minimum",amount}. Amounts are decimal strings.',
  );

const SetupInput = z.object({
  product: z.object({ id: Slug, name: z.string().min(1).max(200) }),
  metrics: z
    .array(
      z.object({
        id: Slug,
        unit: z.string().min(1).max(64),
        aggregation: z.enum(["sum", "count", "max", "unique_count"]),
      }),
    )
    .max(20)
    .describe("The billable metrics the plan's components meter"),
  plan: z.object({
    id: Slug,
    name: z.string().min(1).max(200),
    currency: z.string().regex(/^[A-Z]{3}$/),
    period: z.enum(["month", "year"]),
    components: z.array(ComponentInput).min(1).max(50),
  }),
});
export type ArchitectSetup = z.infer<typeof SetupInput>;

const Step = z.object({
  id: Slug,
  label: z.string().min(1).max(120),
  status: z.enum(["pending", "active", "done"]),
});
export type ArchitectStep = z.infer<typeof Step>;

/** Every tool's input schema and the description the model reads. */
export const ARCHITECT_TOOLS = {
  ask_clarification: {
    description:
      "Ask the operator one question when the description leaves something open (a price without its unit, tiers that say neither graduated nor volume). Never guess a number; the turn ends and the answer comes as the next message.",
    input: z.object({
      question: z.string().min(1).max(500),
      choices: z.array(z.string().min(1).max(120)).max(6),
      about: z.string().max(200).optional().describe("The words of the description it is about"),
    }),
  },
  propose_setup: {
    description:
      "Propose the product, billable metrics and plan the description configures. Aforo checks it with the catalog API's own rules and answers the problems, if any; call it again fixed.",
    input: SetupInput.extend({
      notes: z.array(z.string().max(500)).max(20).optional(),
    }),
  },
  navigate_user: {
    description: "Open a page of the dashboard for the operator (one of the listed paths).",
    input: z.object({
      path: z.enum(ARCHITECT_DESTINATIONS),
      reason: z.string().min(1).max(300),
    }),
  },
  create_entities: {
    description:
      "Create the proposed product, metrics and plan in the catalog. The plan is saved as a DRAFT: priced and previewed, not subscribable until the operator publishes it. Ids already present with the same definition are kept, not duplicated.",
    input: SetupInput,
  },
  prefill_wizard: {
    description:
      "Fill the plan wizard's fields with the proposal and open it, for the operator to review and save. Nothing is saved by this tool.",
    input: SetupInput,
  },
  update_steps: {
    description:
      "Show the operator the steps of the setup and where they stand (pending, active, done).",
    input: z.object({ steps: z.array(Step).min(1).max(12) }),
  },
  estimate_cost: {
    description:
      "Price a usage scenario with plan components through Aforo's pricing engine (POST /api/pricing/preview): the invoice lines and total for one period. Quote only the numbers it returns.",
    input: z.object({
      currency: z.string().regex(/^[A-Z]{3}$/),
      period: z.enum(["month", "year"]),
      components: z.array(ComponentInput).min(1).max(50),
      usage: z
        .record(Slug, z.string().max(40))
        .describe('Metered quantity per metric for the period, e.g. {"tokens": "2000000"}'),
      days: z.number().int().min(1).max(365).optional(),
    }),
  },
} as const satisfies Record<ArchitectToolName, { description: string; input: z.ZodType }>;

export interface ArchitectCall {
  name: ArchitectToolName;
  input: Record<string, unknown>;
}

/** What create_entities reports for each entity: created now, or already there as proposed. */
export interface CreatedEntities {
  product: { id: string; created: boolean };
  metrics: { id: string; created: boolean }[];
  plan: { id: string; created: boolean; status: string };
}

/** A run call's outcome, as the executor hands it back (and the model reads it). */
export type ArchitectOutcome =
  | { name: ArchitectToolName; ok: true; output: unknown }
  | {
      name: ArchitectToolName;
      ok: false;
      /** The problem+json the catalog route (or the executor) answered. */
      problem: { code: string; detail: string; errors?: { path: string; message: string }[] };
    };

export interface ArchitectTurn {
  /** What to say before the call (or to close the run). */
  say: string | null;
  /** The next call, or null: the run is over. */
  call: ArchitectCall | null;
}

export interface ConversationTurn {
  role: "user" | "assistant";
  text: string;
}

/** The operator's description so far: their earlier messages and this one, read as one text
 * (an answer to a clarification completes the sentence it was asked about). */
export function describedText(text: string, conversation: readonly ConversationTurn[] = []) {
  return [...conversation.filter((t) => t.role === "user").map((t) => t.text), text]
    .map((t) => t.trim().replace(/[.\s]+$/, ""))
    .filter(Boolean)
    .join(". ");
}

/** The product a proposal names, or the one the engine proposes when the text names none. */
const DEFAULT_PRODUCT = { id: "proposed-product", name: "Proposed product" };

/** The setup a parse proposes: its product, the metrics its components meter and its plan. */
export function setupOf(parse: PricingParseResult): ArchitectSetup | null {
  const plan = parse.proposal.plans[0];
  if (!plan || plan.components.length === 0) return null;
  return {
    product: parse.proposal.product ?? DEFAULT_PRODUCT,
    metrics: parse.proposal.metrics.map((m) => ({ ...m })),
    plan: {
      id: plan.id,
      name: plan.name,
      currency: plan.currency,
      period: plan.period,
      components: plan.components.map((c) => ({ ...c })),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The sample period estimate_cost prices

const SAMPLE_CHARGE_NANOS = 100n * 1_000_000_000n;
const MAX_SAMPLE_MICROS = 10n ** 18n;

/** Quantities a bound names for a metric: a tier's end, a discount's threshold, a quota. */
function boundsOf(c: PlanComponent, metric: string): bigint[] {
  if (!("metric" in c) || c.metric !== metric) return [];
  if (c.type === "tiered") {
    return c.tiers.flatMap((t) => (t.up_to === null ? [] : [toMicros(t.up_to)]));
  }
  if (c.type === "discount") return [toMicros(c.above)];
  if (c.type === "included") return [toMicros(c.quantity)];
  return [];
}

function unitPriceOf(c: PlanComponent, metric: string): bigint | null {
  if (!("metric" in c) || c.metric !== metric) return null;
  if (c.type === "per_unit") return toNanos(c.unit_price);
  if (c.type === "tiered") return c.tiers[0] ? toNanos(c.tiers[0].unit_price) : null;
  if (c.type === "package") {
    const size = toMicros(c.size);
    return size === 0n ? null : (toNanos(c.price) * MICROS_PER_UNIT) / size;
  }
  return null;
}

/**
 * The usage of a sample period for each metric the components price: twice the largest bound
 * any component names (so every tier, quota and discount shows in the lines), else the smallest
 * power of ten that charges at least 100 in the currency at the metric's first price.
 */
export function sampleUsage(components: readonly PlanComponent[]): Record<string, string> {
  const metrics = new Set<string>();
  for (const c of components) if ("metric" in c && c.metric !== undefined) metrics.add(c.metric);
  const usage: Record<string, string> = {};
  for (const metric of metrics) {
    const bounds = components.flatMap((c) => boundsOf(c, metric));
    let micros: bigint;
    if (bounds.length > 0) {
      micros = 2n * bounds.reduce(maxBig);
    } else {
      const price = components.map((c) => unitPriceOf(c, metric)).find((p) => p !== null) ?? null;
      micros = MICROS_PER_UNIT;
      while (price !== null && price > 0n && micros < MAX_SAMPLE_MICROS) {
        if ((micros * price) / MICROS_PER_UNIT >= SAMPLE_CHARGE_NANOS) break;
        micros *= 10n;
      }
    }
    usage[metric] = formatQuantity(minBig(micros, MAX_SAMPLE_MICROS));
  }
  return usage;
}

// ---------------------------------------------------------------------------------------------
// Words

const grouped = (digits: string) => digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");

/** A decimal string with thousands separators: "2000000" → "2,000,000". */
export function groupedNumber(value: string): string {
  const [whole = "0", fraction] = value.split(".");
  return fraction === undefined ? grouped(whole) : `${grouped(whole)}.${fraction}`;
}

/** An amount in words: "$2,018.50", "1,200.00 EUR". */
export function moneyWords(amount: string, currency: string): string {
  const negative = amount.startsWith("-");
  const [whole = "0", fraction = ""] = (negative ? amount.slice(1) : amount).split(".");
  const shown = `${grouped(whole)}.${fraction.padEnd(2, "0")}`;
  return `${negative ? "−" : ""}${currency === "USD" ? `$${shown}` : `${shown} ${currency}`}`;
}

const unitOf = (metrics: readonly ProposedMetric[], id: string) =>
  metrics.find((m) => m.id === id)?.unit ?? id;

/** One component in words, from its own amounts. */
export function componentWords(
  c: PlanComponent,
  setup: Pick<ArchitectSetup, "metrics" | "plan">,
): string {
  const { currency, period } = setup.plan;
  const money = (a: string | number) => moneyWords(String(a), currency);
  const qty = (a: string | number) => groupedNumber(String(a));
  const unit = (m: string) => unitOf(setup.metrics, m);
  switch (c.type) {
    case "flat":
      return `${money(c.amount)} per ${period}`;
    case "per_unit":
      return `${money(c.unit_price)} per ${unit(c.metric)}`;
    case "tiered":
      return `${c.mode} tiers on ${c.metric} (${c.tiers.length})`;
    case "package":
      return `${money(c.price)} per block of ${qty(c.size)} ${unit(c.metric)}s`;
    case "included":
      return `${qty(c.quantity)} ${unit(c.metric)}s included`;
    case "discount":
      return c.metric === undefined
        ? `${c.percent}% off the usage charge above ${money(c.above)}`
        : `${c.percent}% off the ${c.metric} charge beyond ${qty(c.above)} ${unit(c.metric)}s`;
    case "minimum":
      return `a minimum commitment of ${money(c.amount)}`;
  }
}

// ---------------------------------------------------------------------------------------------
// The deterministic engine

export interface ArchitectRequest {
  text: string;
  mode: ArchitectMode;
  conversation?: readonly ConversationTurn[];
}

interface Script {
  parse: PricingParseResult;
  setup: ArchitectSetup | null;
  calls: ArchitectCall[];
}

function stepsCall(
  mode: ArchitectMode,
  done: readonly string[],
  active: string | null,
): ArchitectCall {
  const labels: [string, string][] = [
    ["describe", "Describe the pricing"],
    ["propose", "Propose product, metrics and plan"],
    ["estimate", "Estimate a sample period"],
    ...(mode === "guide"
      ? ([["wizard", "Enter the plan in the plan wizard"]] as [string, string][])
      : mode === "prefill"
        ? ([["review", "Review the pre-filled wizard and save the draft"]] as [string, string][])
        : ([["create", "Create product, metrics and a DRAFT plan"]] as [string, string][])),
    ["publish", "Publish the plan to make it subscribable"],
  ];
  return {
    name: "update_steps",
    input: {
      steps: labels.map(([id, label]) => ({
        id,
        label,
        status: done.includes(id) ? "done" : id === active ? "active" : "pending",
      })),
    },
  };
}

/** The calls a model would make for this description and mode, in order. */
function scriptFor(request: ArchitectRequest): Script {
  const parse = parsePricing(describedText(request.text, request.conversation));
  const setup = setupOf(parse);
  if (parse.clarifications.length > 0 || setup === null) {
    return {
      parse,
      setup,
      calls: parse.clarifications.map((q) => ({
        name: "ask_clarification",
        input: { question: q.question, choices: q.choices, about: q.word },
      })),
    };
  }
  const components = setup.plan.components as PlanComponent[];
  const estimate: ArchitectCall = {
    name: "estimate_cost",
    input: {
      currency: setup.plan.currency,
      period: setup.plan.period,
      components: setup.plan.components,
      usage: sampleUsage(components),
    },
  };
  const calls: ArchitectCall[] = [
    { name: "propose_setup", input: { ...setup, notes: parse.proposal.notes } },
    estimate,
  ];
  if (request.mode === "guide") {
    calls.push(stepsCall("guide", ["describe", "propose", "estimate"], "wizard"), {
      name: "navigate_user",
      input: {
        path: WIZARD_PATH,
        reason: "Enter the proposed plan in the plan wizard and save it as a draft.",
      },
    });
  } else if (request.mode === "prefill") {
    calls.push(
      { name: "prefill_wizard", input: setup },
      stepsCall("prefill", ["describe", "propose", "estimate"], "review"),
    );
  } else {
    calls.push(
      { name: "create_entities", input: setup },
      stepsCall("auto_create", ["describe", "propose", "estimate", "create"], "publish"),
      {
        name: "navigate_user",
        input: {
          path: "/catalog?tab=plans",
          reason: "Review the DRAFT plan and publish it when it is right.",
        },
      },
    );
  }
  return { parse, setup, calls };
}

function proposalWords(setup: ArchitectSetup): string {
  const metrics = setup.metrics.map((m) => `${m.id} (per ${m.unit}, ${m.aggregation})`);
  const parts = (setup.plan.components as PlanComponent[]).map((c) => componentWords(c, setup));
  return [
    `Product “${setup.product.name}” (${setup.product.id})`,
    metrics.length ? `, metered by ${metrics.join(", ")}` : "",
    `; plan “${setup.plan.name}” (${setup.plan.id}) billing ${setup.plan.period === "month" ? "monthly" : "yearly"} in ${setup.plan.currency}: ${parts.join("; ")}.`,
  ].join("");
}

function estimateWords(
  preview: PricingPreview,
  usage: Record<string, string>,
  setup: ArchitectSetup,
) {
  const scenario = Object.entries(usage)
    .map(([m, q]) => `${groupedNumber(q)} ${unitOf(setup.metrics, m)}s`)
    .join(" and ");
  const lines = preview.lines
    .filter((l) => l.amount !== "0.00" || l.type === "discount")
    .map((l) => `${l.description}: ${moneyWords(l.amount, preview.currency)}`)
    .join("; ");
  return `For a sample ${preview.period}${scenario ? ` of ${scenario}` : ""} the plan charges ${moneyWords(preview.total, preview.currency)} (${lines}).`;
}

function createdWords(created: CreatedEntities): string {
  const what = (e: { id: string; created: boolean }, kind: string) =>
    `${kind} ${e.id} ${e.created ? "created" : "already there as proposed, kept"}`;
  return [
    what(created.product, "Product"),
    ...created.metrics.map((m) => what(m, "metric")),
    `${what(created.plan, "plan")} — status ${created.plan.status}`,
  ].join("; ");
}

/** What to say once a call's outcome is known (numbers only from the outcome itself). */
function afterOutcome(
  call: ArchitectCall,
  outcome: ArchitectOutcome,
  script: Script,
  mode: ArchitectMode,
): string | null {
  if (!outcome.ok) return null;
  const setup = script.setup;
  switch (call.name) {
    case "propose_setup":
      return setup ? `${proposalWords(setup)} Aforo's catalog rules accept it.` : null;
    case "estimate_cost":
      return setup
        ? estimateWords(
            outcome.output as PricingPreview,
            call.input.usage as Record<string, string>,
            setup,
          )
        : null;
    case "create_entities":
      return `${createdWords(outcome.output as CreatedEntities)}. Nothing is published: the plan is a DRAFT, priced and previewed but not subscribable until you publish it.`;
    case "prefill_wizard":
      return "The plan wizard is open with these fields filled in. Review them and save: nothing is saved until you do.";
    case "navigate_user":
      return mode === "guide"
        ? "The plan wizard is open: enter the product, the metrics and the components above, then save the plan as a draft and publish it."
        : null;
    default:
      return null;
  }
}

/**
 * The engine's next turn, given the outcomes of its calls so far (in order). It stops at the
 * first refused or failed call and says why, as a model reading the problem would.
 */
export function deterministicTurn(
  request: ArchitectRequest,
  outcomes: readonly ArchitectOutcome[],
): ArchitectTurn {
  const script = scriptFor(request);
  const { calls } = script;
  const say: string[] = [];
  if (outcomes.length === 0) {
    if (script.parse.clarifications.length > 0) {
      say.push(
        script.parse.proposal.plans[0]?.components.length
          ? "I read part of it, but I need an answer before I can propose a setup:"
          : "I need an answer before I can propose a setup:",
      );
    } else {
      say.push(`Reading “${describedText(request.text, request.conversation)}”.`);
    }
  } else {
    const last = outcomes[outcomes.length - 1] as ArchitectOutcome;
    const lastCall = calls[outcomes.length - 1];
    if (!last.ok) {
      return {
        say: `Aforo refused ${last.name}: ${last.problem.detail} I stopped there; nothing after it ran.`,
        call: null,
      };
    }
    if (lastCall) {
      const words = afterOutcome(lastCall, last, script, request.mode);
      if (words) say.push(words);
    }
  }
  const next = calls[outcomes.length] ?? null;
  if (next === null && script.parse.clarifications.length > 0) {
    say.push("Answer below and I will continue from there.");
  }
  return { say: say.length ? say.join(" ") : null, call: next };
}

/** The engine's whole run against an executor: what the route drives, and tests replay. */
export async function runDeterministic(
  request: ArchitectRequest,
  execute: (call: ArchitectCall) => Promise<ArchitectOutcome>,
  onTurn: (turn: ArchitectTurn) => void | Promise<void> = () => {},
): Promise<ArchitectOutcome[]> {
  const outcomes: ArchitectOutcome[] = [];
  for (let i = 0; i <= ARCHITECT_TOOL_NAMES.length * 2; i++) {
    const turn = deterministicTurn(request, outcomes);
    await onTurn(turn);
    if (turn.call === null) break;
    outcomes.push(await execute(turn.call));
  }
  return outcomes;
}
