import { describe, expect, it } from "vitest";
import type { PricingProposal } from "../../contracts/copilot";
import { call, createTenant, expectProblem, type Tenant } from "./helpers";

// The copilot's no-key pricing routes (issue 18): POST /api/copilot/pricing/parse and POST
// /api/pricing/preview. A parsed proposal goes through the real catalog API as it is, and its
// preview equals a hand computation.

const SEED = "$2K platform fee, per-token pricing, 15% volume discount above 1M";

const post = (tenant: Tenant | string, path: string, body: unknown) =>
  call("POST", `/api${path}`, {
    token: typeof tenant === "string" ? tenant : tenant.operator_token,
    body,
  });

function expectField(res: Awaited<ReturnType<typeof call>>, path: string) {
  expectProblem(res, 400, "validation_failed");
  expect(
    res.body.errors.map((e: { path: string }) => e.path),
    JSON.stringify(res.body),
  ).toContain(path);
}

/** Creates the proposal's product, metrics and first plan through the catalog API. */
async function createFromProposal(
  tenant: Tenant,
  proposal: PricingProposal,
  productId = "chat-api",
) {
  const product = await post(tenant, "/products", { id: productId, name: "Chat API" });
  expect(product.status, JSON.stringify(product.body)).toBe(201);
  for (const m of proposal.metrics) {
    const res = await post(tenant, `/products/${productId}/metrics`, m);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  }
  const plan = proposal.plans[0];
  return post(tenant, "/plans", { ...plan, product: productId });
}

describe("POST /api/copilot/pricing/parse", () => {
  it("reads the seed sentence: the fee and the discount, and asks for the per-token price", async () => {
    const tenant = await createTenant("Copilot Seed");
    const res = await post(tenant, "/copilot/pricing/parse", { text: SEED });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const { proposal, clarifications, confidence } = res.body;
    expect(proposal.metrics).toEqual([{ id: "tokens", unit: "token", aggregation: "sum" }]);
    const plan = proposal.plans[0];
    expect(plan.period).toBe("month");
    expect(plan.currency).toBe("USD");
    expect(plan.components).toEqual([{ type: "flat", amount: "2000" }]);
    expect(plan.pending).toEqual([
      {
        clarification: "price:tokens",
        missing: ["unit_price"],
        component: { type: "per_unit", metric: "tokens" },
      },
      {
        clarification: "price:tokens",
        missing: [],
        component: { type: "discount", metric: "tokens", above: "1000000", percent: "15" },
      },
    ]);
    expect(clarifications.map((c: { id: string }) => c.id)).toEqual(["price:tokens"]);
    expect(clarifications[0].word).toContain("per-token");
    expect(confidence).toBeGreaterThan(0.4);
    expect(confidence).toBeLessThan(0.9);
    // Otherwise complete: the plan API takes it as it is.
    const created = await createFromProposal(tenant, proposal);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.components).toEqual([{ type: "flat", amount: "2000" }]);
  });

  it("a priced seed goes through the plan API as it is and previews to the hand computation", async () => {
    const tenant = await createTenant("Copilot Priced");
    const text = "$2K platform fee, $10 per million tokens, 15% volume discount above 1M";
    const res = await post(tenant, "/copilot/pricing/parse", { text });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.clarifications).toEqual([]);
    const plan = res.body.proposal.plans[0];
    expect(plan.components).toEqual([
      { type: "flat", amount: "2000" },
      { type: "per_unit", metric: "tokens", unit_price: "0.00001" },
      { type: "discount", metric: "tokens", above: "1000000", percent: "15" },
    ]);
    const created = await createFromProposal(tenant, res.body.proposal);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.components).toEqual(plan.components);

    // A sample month of 3,000,000 tokens, by hand: fee 2,000.00; tokens 3,000,000 × 0.00001 =
    // 30.00; discount 15 % × (30.00 − 1,000,000 × 0.00001 = 10.00) = 3.00 → 2,000 + 30 − 3.
    const preview = await post(tenant, "/pricing/preview", {
      currency: plan.currency,
      period: plan.period,
      components: created.body.components,
      usage: { tokens: "3000000" },
    });
    expect(preview.status, JSON.stringify(preview.body)).toBe(200);
    expect(preview.body.total).toBe("2027.00");
    expect(
      preview.body.lines.map((l: { type: string; amount: string }) => [l.type, l.amount]),
    ).toEqual([
      ["flat", "2000.00"],
      ["per_unit", "30.00"],
      ["discount", "-3.00"],
    ]);
  });

  it("several metrics, tiers and a quota become a plan the API accepts", async () => {
    const tenant = await createTenant("Copilot Tiers");
    const text =
      "$49/month platform fee, first 10,000 requests free, next 90,000 at $0.002 per request, $0.001 per request thereafter, and $0.25 per GB stored";
    const res = await post(tenant, "/copilot/pricing/parse", { text });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.clarifications).toEqual([]);
    const created = await createFromProposal(tenant, res.body.proposal, "storage-api");
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    // 150,000 requests and 40 GB: 49 + 90,000 × 0.002 (180) + 50,000 × 0.001 (50) + 40 × 0.25 (10).
    const preview = await post(tenant, "/pricing/preview", {
      components: created.body.components,
      usage: { requests: 150000, storage_gb: "40" },
    });
    expect(preview.body.total).toBe("289.00");
  });

  it("refuses empty, over-long and malformed text with problem+json naming the field", async () => {
    const tenant = await createTenant("Copilot Bad Input");
    expectField(await post(tenant, "/copilot/pricing/parse", { text: "   " }), "text");
    expectField(await post(tenant, "/copilot/pricing/parse", { text: "x".repeat(2001) }), "text");
    expectField(await post(tenant, "/copilot/pricing/parse", {}), "text");
    expectField(await post(tenant, "/copilot/pricing/parse", { text: 42 }), "text");
    expectProblem(
      await post(tenant, "/copilot/pricing/parse", { text: "$5", extra: 1 }),
      400,
      "validation_failed",
    );
  });

  it("answers nonsense with a clarification and low confidence", async () => {
    const tenant = await createTenant("Copilot Nonsense");
    const res = await post(tenant, "/copilot/pricing/parse", { text: "purple monkey dishwasher" });
    expect(res.status).toBe(200);
    expect(res.body.proposal.plans[0].components).toEqual([]);
    expect(res.body.clarifications[0].id).toBe("no-pricing");
    expect(res.body.confidence).toBeLessThanOrEqual(0.1);
  });
});

describe("POST /api/pricing/preview", () => {
  const components = [
    { type: "flat", amount: "100" },
    { type: "included", metric: "calls", quantity: 1000 },
    {
      type: "tiered",
      metric: "calls",
      mode: "volume",
      tiers: [
        { up_to: 10000, unit_price: "0.01" },
        { up_to: null, unit_price: "0.005" },
      ],
    },
    { type: "minimum", amount: "300" },
  ];

  it("prices with the engine: volume tiers above the quota, the minimum top-up, proration", async () => {
    const tenant = await createTenant("Preview Happy");
    // 21,000 calls: 20,000 billable, all in the open tier at 0.005 = 100.00; + flat 100 = 200;
    // minimum 300 → top-up 100.00; total 300.00.
    const res = await post(tenant, "/pricing/preview", { components, usage: { calls: "21000" } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({
      currency: "USD",
      period: "month",
      total: "300.00",
      subtotal: "200.00",
      minimum_topup: "100.00",
      unpriced_metrics: [],
    });
    // 15 of 30 days: flat 50.00 and minimum 150.00; 5,000 calls → 4,000 × 0.01 = 40.00;
    // subtotal 90.00, top-up 60.00 → 150.00. Usage for an unpriced metric is ignored and said.
    const half = await post(tenant, "/pricing/preview", {
      components,
      usage: { calls: 5000, gb: 3 },
      days: 15,
    });
    expect(half.body.total).toBe("150.00");
    expect(half.body.minimum_topup).toBe("60.00");
    expect(half.body.unpriced_metrics).toEqual(["gb"]);
  });

  it("names the field of every bad input", async () => {
    const tenant = await createTenant("Preview Bad");
    expectField(
      await post(tenant, "/pricing/preview", {
        components: [
          {
            type: "tiered",
            metric: "calls",
            mode: "graduated",
            tiers: [
              { up_to: 10, unit_price: 1 },
              { up_to: 5, unit_price: 1 },
              { up_to: null, unit_price: 1 },
            ],
          },
        ],
      }),
      "components.0.tiers.1.up_to",
    );
    expectField(
      await post(tenant, "/pricing/preview", { components, usage: { calls: "1.0000001" } }),
      "usage.calls",
    );
    expectField(
      await post(tenant, "/pricing/preview", { components, usage: { calls: "-5" } }),
      "usage.calls",
    );
    expectField(await post(tenant, "/pricing/preview", { components, days: 31 }), "days");
    expectField(await post(tenant, "/pricing/preview", { components: [] }), "components");
    expectField(
      await post(tenant, "/pricing/preview", { components: [{ type: "coupon", amount: 1 }] }),
      "components.0.type",
    );
    expectField(
      await post(tenant, "/pricing/preview", { components, currency: "usd" }),
      "currency",
    );
  });
});

describe("roles and tenancy", () => {
  it("a viewer may parse and preview (they store nothing); no credential is refused", async () => {
    const tenant = await createTenant("Copilot Roles");
    const issued = await post(tenant, "/keys", {
      kind: "operator",
      role: "viewer",
      name: "viewer",
    });
    expect(issued.status, JSON.stringify(issued.body)).toBe(201);
    const viewer = issued.body.key as string;
    const parsed = await post(viewer, "/copilot/pricing/parse", { text: "$20 per seat per month" });
    expect(parsed.status).toBe(200);
    expect(parsed.body.proposal.plans[0].components).toEqual([
      { type: "per_unit", metric: "seats", unit_price: "20" },
    ]);
    const preview = await post(viewer, "/pricing/preview", {
      components: parsed.body.proposal.plans[0].components,
      usage: { seats: 7 },
    });
    expect(preview.body.total).toBe("140.00");
    // …but creating the plan it proposes takes pricing:write.
    expectProblem(await post(viewer, "/products", { id: "p", name: "P" }), 403, "forbidden");
    const anonymous = await call("POST", "/api/copilot/pricing/parse", {
      body: { text: "$5 per seat" },
    });
    expectProblem(anonymous, 401, "unauthorized");
    const anonymousPreview = await call("POST", "/api/pricing/preview", { body: { components } });
    expectProblem(anonymousPreview, 401, "unauthorized");
  });
});

const components = [{ type: "flat", amount: "1" }];
