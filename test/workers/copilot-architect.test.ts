import { env, exports } from "cloudflare:workers";
import { describe, expect, inject, it } from "vitest";
import type { ArchitectEvent } from "../../contracts/architect";
import { runArchitectTool } from "../../workers/copilot/architect";
import { ESTIMATE, SEED_SENTENCE, SETUP } from "../fixtures/architect-seed";
import { keyLog, say, scriptKey, toolUse as use } from "../messages-api/client";
import type { LoggedRequest, Step } from "../messages-api/server";
import { call, createTenant, expectProblem, type Tenant } from "./helpers";

// The Pricing Architect's route with no AI key (issue 18 §2): the deterministic engine's run in
// each mode as the panel reads it (Server-Sent Events), what each mode leaves in the catalog
// (Guide and Pre-fill nothing, Auto-create a DRAFT plan, nothing published), idempotence on
// ids, conflicts found before anything is written, the allow-lists and the permission.

const ANSWER = "$10 per million tokens";
const HISTORY = [
  { role: "user", text: SEED_SENTENCE },
  { role: "assistant", text: "What is the price per token? The text does not say." },
];

/** Sends a run and reads its whole stream into events. */
async function architect(tenant: Tenant | string, body: unknown) {
  const token = typeof tenant === "string" ? tenant : tenant.operator_token;
  const res = await exports.default.fetch("http://aforo.test/api/copilot/architect", {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  const events: ArchitectEvent[] = [];
  for (const block of text.split("\n\n")) {
    const event = /^event: (.+)$/m.exec(block)?.[1];
    const data = /^data: (.+)$/m.exec(block)?.[1];
    if (event && data) events.push({ event, data: JSON.parse(data) } as ArchitectEvent);
  }
  return { status: res.status, contentType: res.headers.get("content-type") ?? "", text, events };
}

const named = <E extends ArchitectEvent["event"]>(events: ArchitectEvent[], e: E) =>
  events.filter((x): x is Extract<ArchitectEvent, { event: E }> => x.event === e);
const toolNames = (events: ArchitectEvent[]) => named(events, "tool_call").map((e) => e.data.name);
const resultOf = (events: ArchitectEvent[], name: string) =>
  named(events, "tool_result").find((e) => e.data.name === name)?.data;

const catalogOf = async (t: Tenant) => ({
  products: (await call("GET", "/api/products", { token: t.operator_token })).body.data,
  plans: (await call("GET", "/api/plans", { token: t.operator_token })).body.data,
});

/** A setup the executor tests create, and the scope they run the executor in. */
const setup = {
  product: { id: "chat", name: "Chat" },
  metrics: [{ id: "tokens", unit: "token", aggregation: "sum" }],
  plan: {
    id: "chat-draft",
    name: "Chat draft",
    currency: "USD",
    period: "month",
    components: [{ type: "per_unit", metric: "tokens", unit_price: "0.00001" }],
  },
};
const scopeOf = (t: Tenant) => ({
  env,
  tenantId: t.tenant_id,
  actor: {
    kind: "token" as const,
    id: "test",
    ref: "token:test",
    name: null,
    email: null,
    role: "owner" as const,
    csrfToken: null,
  },
});

describe("POST /api/copilot/architect with no key", () => {
  it("asks the seed sentence's open price instead of guessing, and says it runs without a key", async () => {
    const t = await createTenant();
    const run = await architect(t, { text: SEED_SENTENCE, mode: "guide" });
    expect(run.status).toBe(200);
    expect(run.contentType).toContain("text/event-stream");
    const start = named(run.events, "start")[0]?.data;
    expect(start?.source).toBe("deterministic");
    expect(start?.reason).toBeTruthy();
    expect(toolNames(run.events)).toEqual(["ask_clarification"]);
    expect(named(run.events, "tool_call")[0]?.data.input).toMatchObject({
      about: "per-token pricing",
    });
    expect(run.events.at(-1)).toEqual({
      event: "done",
      data: { source: "deterministic", mode: "guide" },
    });
  });

  it("Guide: proposes, estimates the hand-computed $2,018.50, navigates to the wizard, writes nothing", async () => {
    const t = await createTenant();
    const run = await architect(t, { text: ANSWER, mode: "guide", conversation: HISTORY });
    expect(toolNames(run.events)).toEqual([
      "propose_setup",
      "estimate_cost",
      "update_steps",
      "navigate_user",
    ]);
    expect(resultOf(run.events, "propose_setup")?.ok).toBe(true);
    // 2,000 fee + 2,000,000 tokens × $0.00001 = $20, less 15 % of the $10 beyond 1M = $2,018.50.
    expect(resultOf(run.events, "estimate_cost")?.output).toMatchObject({ total: "2018.50" });
    const text = named(run.events, "text")
      .map((e) => e.data.delta)
      .join("");
    expect(text).toContain("$2,018.50");
    expect(named(run.events, "action").map((a) => a.data)).toEqual([
      expect.objectContaining({ type: "steps" }),
      expect.objectContaining({ type: "navigate", path: "/catalog/plans/new" }),
    ]);
    expect(await catalogOf(t)).toEqual({ products: [], plans: [] });
  });

  it("Pre-fill: hands the wizard the proposal (and a ?prefill= link to it), writes nothing", async () => {
    const t = await createTenant();
    const run = await architect(t, { text: ANSWER, mode: "prefill", conversation: HISTORY });
    expect(toolNames(run.events)).toEqual([
      "propose_setup",
      "estimate_cost",
      "prefill_wizard",
      "update_steps",
    ]);
    const prefill = named(run.events, "action").find((a) => a.data.type === "prefill")?.data;
    expect(prefill).toMatchObject({
      type: "prefill",
      draft: {
        product: { id: "proposed-product" },
        metrics: [{ id: "tokens", unit: "token", aggregation: "sum" }],
        plan: {
          id: "proposed-plan",
          currency: "USD",
          period: "month",
          components: [
            { type: "flat", amount: "2000" },
            { type: "per_unit", metric: "tokens", unit_price: "0.00001" },
            { type: "discount", metric: "tokens", above: "1000000", percent: "15" },
          ],
        },
        usage: { tokens: "2000000" },
      },
    });
    const path = prefill?.type === "prefill" ? prefill.path : "";
    expect(path.startsWith("/catalog/plans/new?prefill=")).toBe(true);
    const encoded = path.split("prefill=")[1] ?? "";
    const decoded = JSON.parse(
      new TextDecoder().decode(
        Uint8Array.from(atob(encoded.replaceAll("-", "+").replaceAll("_", "/")), (ch) =>
          ch.charCodeAt(0),
        ),
      ),
    );
    expect(decoded).toEqual(prefill?.type === "prefill" ? prefill.draft : null);
    expect(await catalogOf(t)).toEqual({ products: [], plans: [] });
  });

  it("Auto-create: product, metric and a DRAFT plan through the catalog routes, audited; a rerun keeps them", async () => {
    const t = await createTenant();
    const run = await architect(t, { text: ANSWER, mode: "auto_create", conversation: HISTORY });
    expect(toolNames(run.events)).toEqual([
      "propose_setup",
      "estimate_cost",
      "create_entities",
      "update_steps",
      "navigate_user",
    ]);
    expect(resultOf(run.events, "create_entities")?.output).toEqual({
      product: { id: "proposed-product", created: true },
      metrics: [{ id: "tokens", created: true }],
      plan: { id: "proposed-plan", created: true, status: "draft" },
    });
    const { products, plans } = await catalogOf(t);
    expect(products.map((p: { id: string }) => p.id)).toEqual(["proposed-product"]);
    expect(products[0].metrics.map((m: { id: string }) => m.id)).toEqual(["tokens"]);
    expect(plans).toHaveLength(1);
    expect(plans[0]).toMatchObject({
      id: "proposed-plan",
      status: "draft",
      product: "proposed-product",
    });
    // Nothing published.
    expect(plans.filter((p: { status: string }) => p.status === "active")).toEqual([]);
    const text = named(run.events, "text")
      .map((e) => e.data.delta)
      .join("");
    expect(text).toContain("Nothing is published");

    // The writes are the routes' own, so their audit rows are too, as the caller.
    const audit = await call("GET", "/api/audit", { token: t.operator_token });
    const actions = audit.body.data.map((r: { action: string }) => r.action);
    expect(actions).toEqual(
      expect.arrayContaining(["product.create", "metric.create", "plan.create"]),
    );

    const again = await architect(t, { text: ANSWER, mode: "auto_create", conversation: HISTORY });
    expect(resultOf(again.events, "create_entities")?.output).toEqual({
      product: { id: "proposed-product", created: false },
      metrics: [{ id: "tokens", created: false }],
      plan: { id: "proposed-plan", created: false, status: "draft" },
    });
    const after = await catalogOf(t);
    expect(after.plans).toHaveLength(1);
    expect(after.products[0].metrics).toHaveLength(1);
  });

  it("a plan id taken with other prices: a conflict for the model, the next free id for the engine", async () => {
    const t = await createTenant();
    const op = { token: t.operator_token };
    await call("POST", "/api/products", { ...op, body: { id: "other", name: "Other" } });
    await call("POST", "/api/plans", {
      ...op,
      body: {
        id: "proposed-plan",
        product: "other",
        name: "Taken",
        components: [{ type: "flat", amount: "5" }],
      },
    });
    // The tool as a model calls it: refused before anything is written, the model must propose
    // another id.
    const taken = { ...setup, plan: { ...setup.plan, id: "proposed-plan" } };
    const refused = await runArchitectTool(scopeOf(t), "auto_create", "create_entities", taken);
    expect(refused.outcome.ok ? null : refused.outcome.problem.code).toBe("conflict");
    expect((await catalogOf(t)).products.map((p: { id: string }) => p.id)).toEqual(["other"]);

    // The engine cannot read the conflict, so its run takes proposed-plan-2 and says so; the
    // taken plan is untouched.
    const run = await architect(t, { text: ANSWER, mode: "auto_create", conversation: HISTORY });
    expect(resultOf(run.events, "create_entities")?.output).toMatchObject({
      plan: { id: "proposed-plan-2", created: true, status: "draft" },
    });
    expect(run.text).toContain("plan proposed-plan-2 created");
    const { plans } = await catalogOf(t);
    expect(plans.map((p: { id: string; name: string }) => [p.id, p.name]).sort()).toEqual([
      ["proposed-plan", "Taken"],
      ["proposed-plan-2", "Proposed plan"],
    ]);
  });

  it("Auto-create needs pricing:write; a viewer may still run Guide", async () => {
    const t = await createTenant();
    const viewer = await call("POST", "/api/keys", {
      token: t.operator_token,
      body: { kind: "operator", role: "viewer", name: "viewer" },
    });
    const refused = await call("POST", "/api/copilot/architect", {
      token: viewer.body.key,
      body: { text: ANSWER, mode: "auto_create", conversation: HISTORY },
    });
    expectProblem(refused, 403, "forbidden");
    expect(refused.body.detail).toContain("pricing:write");
    const guide = await architect(viewer.body.key, {
      text: ANSWER,
      mode: "guide",
      conversation: HISTORY,
    });
    expect(toolNames(guide.events)).toContain("navigate_user");
  });

  it("validates the body as problem+json", async () => {
    const t = await createTenant();
    const res = await call("POST", "/api/copilot/architect", {
      token: t.operator_token,
      body: { text: "", mode: "sideways" },
    });
    expectProblem(res, 400, "validation_failed");
    expect(res.body.errors.map((e: { path: string }) => e.path)).toEqual(
      expect.arrayContaining(["text", "mode"]),
    );
  });
});

describe("the executor", () => {
  it("refuses a tool outside the mode's allow-list and never runs it", async () => {
    const t = await createTenant();
    for (const mode of ["guide", "prefill"] as const) {
      const run = await runArchitectTool(scopeOf(t), mode, "create_entities", setup);
      expect(run.outcome.ok).toBe(false);
      expect(run.outcome.ok ? null : run.outcome.problem).toMatchObject({ code: "forbidden" });
    }
    const made = await runArchitectTool(scopeOf(t), "guide", "drop_tables", {});
    expect(made.outcome.ok).toBe(false);
    expect(await catalogOf(t)).toEqual({ products: [], plans: [] });
  });

  it("holds a proposal to the catalog API's rules: field errors back, nothing written", async () => {
    const t = await createTenant();
    const bad = {
      ...setup,
      plan: {
        ...setup.plan,
        components: [
          { type: "per_unit", metric: "images", unit_price: "0.01" },
          {
            type: "tiered",
            metric: "tokens",
            mode: "graduated",
            tiers: [{ up_to: "10", unit_price: "1" }],
          },
        ],
      },
    };
    const run = await runArchitectTool(scopeOf(t), "auto_create", "create_entities", bad);
    expect(run.outcome.ok).toBe(false);
    const problem = run.outcome.ok ? null : run.outcome.problem;
    expect(problem?.code).toBe("validation_failed");
    const paths = problem?.errors?.map((e) => e.path) ?? [];
    expect(paths).toContain("plan.components.0.metric");
    expect(paths.some((p) => p.startsWith("plan.components.1"))).toBe(true);
    expect(await catalogOf(t)).toEqual({ products: [], plans: [] });
  });

  it("writes only the caller's tenant: the same ids in another tenant are its own", async () => {
    const [a, b] = await Promise.all([createTenant("A"), createTenant("B")]);
    const inA = await runArchitectTool(scopeOf(a), "auto_create", "create_entities", setup);
    const inB = await runArchitectTool(scopeOf(b), "auto_create", "create_entities", setup);
    expect(inA.outcome.ok && inB.outcome.ok).toBe(true);
    expect(inB.outcome.ok ? inB.outcome.output : null).toMatchObject({ plan: { created: true } });
    expect((await catalogOf(a)).plans).toHaveLength(1);
    expect((await catalogOf(b)).plans).toHaveLength(1);
  });
});

// ---------------------------------------------------------------------------------------------
// The model's path, against the local Messages API (test/messages-api/server.ts)

const messagesApi = () => `http://127.0.0.1:${inject("messagesApiPort")}`;

const script = (key: string, steps: Step[]) => scriptKey(messagesApi(), key, steps);
const serverLog = (key: string) => keyLog(messagesApi(), key);

async function tenantWithKey(cap?: string) {
  const t = await createTenant();
  const key = `sk-ant-test-${crypto.randomUUID()}`;
  const res = await call("PUT", "/api/ai/settings", {
    token: t.operator_token,
    body: { api_key: key, ...(cap ? { daily_cost_cap_usd: cap } : {}) },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return { t, key };
}

/** The tool results the model was sent back, per request, as the SDK wrote them. */
function toolResultsSent(log: LoggedRequest[]) {
  return log.map((r) => {
    const last = r.body.messages.at(-1);
    return Array.isArray(last?.content)
      ? last.content.filter((b: { type: string }) => b.type === "tool_result")
      : [];
  });
}

describe("POST /api/copilot/architect with the model", () => {
  it("Guide: a multi-turn loop streams words and steps, navigates, is offered only Guide's tools", async () => {
    const { t, key } = await tenantWithKey();
    await script(key, [
      use(
        "propose_setup",
        SETUP,
        "A $2,000 platform fee with per-token pricing and a volume discount.",
      ),
      use("estimate_cost", ESTIMATE),
      use("navigate_user", { path: "/catalog/plans/new", reason: "Enter the plan in the wizard" }),
      say("The plan wizard is open: enter these fields and save the plan as a draft."),
    ]);
    const run = await architect(t, { text: SEED_SENTENCE, mode: "guide" });
    expect(run.status).toBe(200);
    expect(named(run.events, "start")[0]?.data).toEqual({ mode: "guide", source: "ai" });
    expect(toolNames(run.events)).toEqual(["propose_setup", "estimate_cost", "navigate_user"]);
    expect(resultOf(run.events, "estimate_cost")?.output).toMatchObject({ total: "2018.50" });
    const deltas = named(run.events, "text").map((e) => e.data.delta);
    expect(deltas.length).toBeGreaterThan(3);
    expect(deltas.join("")).toContain("The plan wizard is open");
    expect(named(run.events, "action").map((a) => a.data)).toEqual([
      { type: "navigate", path: "/catalog/plans/new", reason: "Enter the plan in the wizard" },
    ]);
    const done = run.events.at(-1);
    expect(done?.event).toBe("done");
    expect(done?.event === "done" ? done.data : null).toMatchObject({
      source: "ai",
      mode: "guide",
    });
    expect(done?.event === "done" ? Number(done.data.usage?.cost_usd) : 0).toBeGreaterThan(0);

    const log = await serverLog(key);
    expect(log).toHaveLength(4);
    expect(log[0]?.body.tools.map((x: { name: string }) => x.name).sort()).toEqual([
      "ask_clarification",
      "estimate_cost",
      "navigate_user",
      "propose_setup",
      "update_steps",
    ]);
    // The model read Aforo's numbers back: the estimate's total is in the tool result it got.
    expect(JSON.stringify(toolResultsSent(log)[2])).toContain("2018.50");
    expect(await catalogOf(t)).toEqual({ products: [], plans: [] });
  });

  it("Pre-fill: the model fills the wizard; nothing is saved", async () => {
    const { t, key } = await tenantWithKey();
    await script(key, [
      use("propose_setup", SETUP),
      use("prefill_wizard", SETUP),
      say("The wizard is filled in for you to review."),
    ]);
    const run = await architect(t, { text: SEED_SENTENCE, mode: "prefill" });
    expect(toolNames(run.events)).toEqual(["propose_setup", "prefill_wizard"]);
    const prefill = named(run.events, "action")[0]?.data;
    expect(prefill).toMatchObject({
      type: "prefill",
      draft: { product: SETUP.product, metrics: SETUP.metrics, plan: SETUP.plan },
    });
    expect(await catalogOf(t)).toEqual({ products: [], plans: [] });
  });

  it("Auto-create: the model's create_entities leaves a DRAFT plan and nothing published", async () => {
    const { t, key } = await tenantWithKey();
    await script(key, [
      use("propose_setup", SETUP),
      use("estimate_cost", ESTIMATE),
      use("create_entities", SETUP),
      say("Created as a draft."),
    ]);
    const run = await architect(t, { text: SEED_SENTENCE, mode: "auto_create" });
    expect(toolNames(run.events)).toEqual(["propose_setup", "estimate_cost", "create_entities"]);
    expect(resultOf(run.events, "create_entities")?.output).toMatchObject({
      plan: { id: "chat-growth", created: true, status: "draft" },
    });
    const { products, plans } = await catalogOf(t);
    expect(products.map((p: { id: string }) => p.id)).toEqual(["chat-api"]);
    expect(plans.map((p: { id: string; status: string }) => [p.id, p.status])).toEqual([
      ["chat-growth", "draft"],
    ]);
  });

  it("answers a proposal the catalog rules refuse with their field errors, and the model fixes it", async () => {
    const { t, key } = await tenantWithKey();
    const wrong = {
      ...SETUP,
      plan: {
        ...SETUP.plan,
        components: [{ type: "per_unit", metric: "images", unit_price: "0.01" }],
      },
    };
    await script(key, [use("propose_setup", wrong), use("propose_setup", SETUP), say("Fixed.")]);
    const run = await architect(t, { text: SEED_SENTENCE, mode: "guide" });
    const results = named(run.events, "tool_result").map((e) => e.data.ok);
    expect(results).toEqual([false, true]);
    const sent = toolResultsSent(await serverLog(key))[1]?.[0];
    expect(sent?.is_error).toBe(true);
    expect(JSON.stringify(sent)).toContain("plan.components.0.metric");
  });

  it("refuses a tool outside the mode's allow-list: shown as refused, never run", async () => {
    const { t, key } = await tenantWithKey();
    await script(key, [use("create_entities", SETUP), say("I cannot create in Guide mode.")]);
    const run = await architect(t, { text: SEED_SENTENCE, mode: "guide" });
    const refused = resultOf(run.events, "create_entities");
    expect(refused).toMatchObject({ ok: false, problem: { code: "forbidden" } });
    expect(await catalogOf(t)).toEqual({ products: [], plans: [] });
    const usage = await call("GET", "/api/ai/usage", { token: t.operator_token });
    expect(usage.body.data.map((r: { outcome: string }) => r.outcome)).toContain("refused");
  });

  it("once the day's spend passes the cap, the next run is refused with problem+json naming the cap", async () => {
    const { t, key } = await tenantWithKey("0.05");
    await script(key, [
      {
        content: [{ type: "text", text: "Done." }],
        usage: { input_tokens: 20_000, output_tokens: 1_000 },
      },
    ]);
    const first = await architect(t, { text: SEED_SENTENCE, mode: "guide" });
    expect(first.status).toBe(200);
    const second = await exports.default.fetch("http://aforo.test/api/copilot/architect", {
      method: "POST",
      headers: { authorization: `Bearer ${t.operator_token}`, "content-type": "application/json" },
      body: JSON.stringify({ text: SEED_SENTENCE, mode: "guide" }),
    });
    expect(second.status).toBe(429);
    expect(second.headers.get("content-type")).toBe("application/problem+json");
    const problem = (await second.json()) as { code: string; cap_usd: string; detail: string };
    expect(problem).toMatchObject({ code: "ai_cap_reached", cap_usd: "0.05" });
    expect(problem.detail).toContain("resets at 00:00 UTC");
    expect(await serverLog(key)).toHaveLength(1);
  });
});
