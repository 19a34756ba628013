import { describe, expect, it } from "vitest";
import type { PlanComponent } from "../../contracts/catalog";
import type { PricingPreview } from "../../contracts/copilot";
import {
  ARCHITECT_MODES,
  ARCHITECT_TOOL_NAMES,
  ARCHITECT_TOOLS,
  type ArchitectCall,
  type ArchitectMode,
  type ArchitectOutcome,
  deterministicTurn,
  MODE_TOOLS,
  runDeterministic,
  sampleUsage,
  toolAllowed,
} from "../../domain/copilot/architect-tools";
import { formatMoney, formatQuantity, toMicros } from "../../domain/money";
import { compilePlan, periodCharges } from "../../domain/pricing";

// The Pricing Architect's deterministic engine (issue 18 §2): the seed sentence, each mode's
// tool sequence against a fake executor that prices with the real pricing engine, the
// allow-lists, and that every call the engine makes fits its own tool's schema.

const SEED = "$2K platform fee, per-token pricing, 15% volume discount above 1M";
const ANSWER = "$10 per million tokens";
const MONTH_MS = 30 * 86_400_000;

/** Prices an estimate_cost call with the engine itself, as POST /api/pricing/preview does. */
function price(input: Record<string, unknown>): PricingPreview {
  const plan = compilePlan({
    id: "preview",
    currency: input.currency as string,
    interval: input.period as "month",
    components: input.components as PlanComponent[],
  });
  const usage = new Map(
    Object.entries(input.usage as Record<string, string>).map(([m, q]) => [m, toMicros(q)]),
  );
  const charges = periodCharges(plan, {
    usage,
    periodStart: 0,
    periodEnd: MONTH_MS,
    activeFrom: 0,
    activeTo: MONTH_MS,
  });
  return {
    currency: input.currency as string,
    period: "month",
    total: formatMoney(charges.total),
    subtotal: formatMoney(charges.subtotal),
    minimum_topup: formatMoney(charges.minimum_topup),
    lines: charges.lines.map((l) => ({
      component_index: l.component_index,
      type: l.type,
      ...(l.metric === undefined ? {} : { metric: l.metric }),
      quantity: formatQuantity(l.quantity),
      amount: formatMoney(l.amount),
      description: l.description,
    })),
    unpriced_metrics: [],
  };
}

/** A stand-in executor: the schema check and the pricing engine, the rest echoed. */
async function fakeExecute(call: ArchitectCall): Promise<ArchitectOutcome> {
  const parsed = ARCHITECT_TOOLS[call.name].input.safeParse(call.input);
  if (!parsed.success) {
    return {
      name: call.name,
      ok: false,
      problem: { code: "validation_failed", detail: parsed.error.message },
    };
  }
  if (call.name === "estimate_cost")
    return { name: call.name, ok: true, output: price(call.input) };
  if (call.name === "create_entities") {
    const setup = call.input as {
      product: { id: string };
      metrics: { id: string }[];
      plan: { id: string };
    };
    return {
      name: call.name,
      ok: true,
      output: {
        product: { id: setup.product.id, created: true },
        metrics: setup.metrics.map((m) => ({ id: m.id, created: true })),
        plan: { id: setup.plan.id, created: true, status: "draft" },
      },
    };
  }
  return { name: call.name, ok: true, output: { ok: true } };
}

async function run(
  mode: ArchitectMode,
  text: string,
  conversation = [] as { role: "user" | "assistant"; text: string }[],
) {
  const calls: ArchitectCall[] = [];
  const said: string[] = [];
  const outcomes = await runDeterministic(
    { text, mode, conversation },
    async (call) => {
      calls.push(call);
      return fakeExecute(call);
    },
    (turn) => {
      if (turn.say) said.push(turn.say);
    },
  );
  return { calls, said, outcomes };
}

describe("the seed sentence", () => {
  it("asks the per-token price before proposing anything, in every mode", async () => {
    for (const mode of ARCHITECT_MODES) {
      const { calls, said } = await run(mode, SEED);
      expect(calls.map((c) => c.name)).toEqual(["ask_clarification"]);
      expect(calls[0]?.input).toMatchObject({
        about: "per-token pricing",
        choices: ["$… per token", "$… per 1,000 tokens", "$… per million tokens"],
      });
      expect(said.join(" ")).toContain("Answer below");
    }
  });

  it("with the answer: $2,000 monthly fee, per-token price, 15 % off above 1M; the estimate is the hand computation", async () => {
    const { calls, said } = await run("guide", ANSWER, [
      { role: "user", text: SEED },
      { role: "assistant", text: "What is the price per token?" },
    ]);
    const propose = calls[0];
    expect(propose?.name).toBe("propose_setup");
    expect(propose?.input).toMatchObject({
      metrics: [{ id: "tokens", unit: "token", aggregation: "sum" }],
      plan: {
        currency: "USD",
        period: "month",
        components: [
          { type: "flat", amount: "2000" },
          { type: "per_unit", metric: "tokens", unit_price: "0.00001" },
          { type: "discount", metric: "tokens", above: "1000000", percent: "15" },
        ],
      },
    });
    const estimate = calls[1];
    expect(estimate?.name).toBe("estimate_cost");
    // Twice the discount's threshold, so the discount shows in the lines.
    expect(estimate?.input.usage).toEqual({ tokens: "2000000" });
    // By hand: 2,000 fee + 2,000,000 × $0.00001 = $20 of tokens, 15 % off the $10 charged for
    // the 1,000,000 tokens beyond the threshold = −$1.50 → $2,018.50.
    expect(price(estimate?.input ?? {}).total).toBe("2018.50");
    expect(said.join(" ")).toContain("the plan charges $2,018.50");
    expect(said.join(" ")).toContain("$2,000.00 per month");
    expect(said.join(" ")).toContain("15% volume discount above 1000000: −$1.50");
  });
});

describe("each mode's tool sequence", () => {
  const history = [{ role: "user" as const, text: SEED }];
  it("Guide proposes, estimates, shows the steps and navigates to the wizard", async () => {
    const { calls } = await run("guide", ANSWER, history);
    expect(calls.map((c) => c.name)).toEqual([
      "propose_setup",
      "estimate_cost",
      "update_steps",
      "navigate_user",
    ]);
    expect(calls[3]?.input.path).toBe("/catalog/plans/new");
  });

  it("Pre-fill fills the wizard instead of navigating", async () => {
    const { calls } = await run("prefill", ANSWER, history);
    expect(calls.map((c) => c.name)).toEqual([
      "propose_setup",
      "estimate_cost",
      "prefill_wizard",
      "update_steps",
    ]);
  });

  it("Auto-create creates the entities, says they are a draft, then opens the plans", async () => {
    const { calls, said } = await run("auto_create", ANSWER, history);
    expect(calls.map((c) => c.name)).toEqual([
      "propose_setup",
      "estimate_cost",
      "create_entities",
      "update_steps",
      "navigate_user",
    ]);
    expect(said.join(" ")).toContain("status draft");
    expect(said.join(" ")).toContain("Nothing is published");
  });

  it("every call is one its mode allows and fits its tool's schema", async () => {
    for (const mode of ARCHITECT_MODES) {
      const { calls } = await run(mode, ANSWER, history);
      for (const call of calls) {
        expect(toolAllowed(mode, call.name)).toBe(true);
        expect(ARCHITECT_TOOLS[call.name].input.safeParse(call.input).success).toBe(true);
      }
    }
  });

  it("stops at a refused call and says why, running nothing after it", () => {
    const turn = deterministicTurn({ text: ANSWER, mode: "auto_create", conversation: history }, [
      { name: "propose_setup", ok: true, output: {} },
      {
        name: "estimate_cost",
        ok: true,
        output: price({
          currency: "USD",
          period: "month",
          components: [{ type: "flat", amount: "1" }],
          usage: {},
        }),
      },
      {
        name: "create_entities",
        ok: false,
        problem: {
          code: "conflict",
          detail: "Plan 'proposed-plan' already exists; a new price is a new plan.",
        },
      },
    ]);
    expect(turn.call).toBeNull();
    expect(turn.say).toContain("already exists");
  });
});

describe("allow-lists", () => {
  it("Guide has five tools, Pre-fill adds prefill_wizard, Auto-create adds create_entities", () => {
    expect([...MODE_TOOLS.guide].sort()).toEqual([
      "ask_clarification",
      "estimate_cost",
      "navigate_user",
      "propose_setup",
      "update_steps",
    ]);
    expect(toolAllowed("guide", "create_entities")).toBe(false);
    expect(toolAllowed("guide", "prefill_wizard")).toBe(false);
    expect(toolAllowed("prefill", "prefill_wizard")).toBe(true);
    expect(toolAllowed("prefill", "create_entities")).toBe(false);
    expect(toolAllowed("auto_create", "create_entities")).toBe(true);
    expect(toolAllowed("auto_create", "prefill_wizard")).toBe(false);
    expect(toolAllowed("auto_create", "delete_everything")).toBe(false);
    expect(Object.keys(ARCHITECT_TOOLS).sort()).toEqual([...ARCHITECT_TOOL_NAMES].sort());
  });

  it("navigate_user takes only the listed dashboard paths", () => {
    const nav = ARCHITECT_TOOLS.navigate_user.input;
    expect(nav.safeParse({ path: "/catalog/plans/new", reason: "x" }).success).toBe(true);
    expect(nav.safeParse({ path: "https://evil.example/", reason: "x" }).success).toBe(false);
    expect(nav.safeParse({ path: "/auth/sign-out", reason: "x" }).success).toBe(false);
  });
});

describe("sampleUsage", () => {
  it("doubles the largest bound, else the first power of ten charging at least 100", () => {
    expect(
      sampleUsage([
        {
          type: "tiered",
          metric: "calls",
          mode: "graduated",
          tiers: [
            { up_to: "10000", unit_price: "0.01" },
            { up_to: null, unit_price: "0.005" },
          ],
        },
        { type: "per_unit", metric: "gb", unit_price: "0.25" },
      ]),
    ).toEqual({ calls: "20000", gb: "1000" });
    expect(sampleUsage([{ type: "flat", amount: "10" }])).toEqual({});
  });
});
