import { beforeAll, describe, expect, it } from "vitest";
import {
  clockSettled,
  customer,
  DAY,
  HOUR,
  isoOf,
  plan,
  product,
  send,
  settle,
  subscribe,
  tokens,
} from "./billing-helpers";
import { call, createTenant, type Tenant } from "./helpers";

// The usage dataset's pricing_model and billing_mode (issue 15 item 2): what the plan in force
// at each hour does with the row's metric, and whether the plan is a commitment. Three
// customers on three kinds of plan, one with none; a plan change inside the range moves the
// hours after it.

let tenant: Tenant;
const TODAY = Math.floor(Date.now() / DAY) * DAY;
const DAY0 = TODAY - 3 * DAY;

beforeAll(async () => {
  tenant = await createTenant("Pricing Models");
  await clockSettled(tenant);
  await product(tenant);
  // Volume tiers on input, per-unit output, a $100 minimum: a commitment.
  await plan(tenant, "committed", [
    {
      type: "tiered",
      metric: "input_tokens",
      mode: "volume",
      tiers: [
        { up_to: 1_000_000, unit_price: "0.00001" },
        { up_to: null, unit_price: "0.000005" },
      ],
    },
    { type: "per_unit", metric: "output_tokens", unit_price: "0.00002" },
    { type: "minimum", amount: "100" },
  ]);
  // A quota of input with per-unit beyond it; output only through the flat fee.
  await plan(tenant, "quota", [
    { type: "flat", amount: "20" },
    { type: "included", metric: "input_tokens", quantity: 100_000 },
    { type: "per_unit", metric: "input_tokens", unit_price: "0.00001" },
  ]);
  // Packages of input; output not priced at all.
  await plan(tenant, "packs", [
    { type: "package", metric: "input_tokens", size: 1000, price: "0.5" },
  ]);
  for (const c of ["big", "small", "loose"]) await customer(tenant, c);
  await subscribe(tenant, "big", "committed", DAY0 - 10 * DAY);
  await subscribe(tenant, "small", "quota", DAY0 - 10 * DAY);
  // "loose" has no subscription: its usage has no plan, so no pricing model either.
  await send(tenant, [
    tokens("big", DAY0 + HOUR, 1_000, { cost: { usd: 0.001 } }),
    tokens("big", DAY0 + HOUR, 200, { metric: "output_tokens", cost: { usd: 0.001 } }),
    tokens("small", DAY0 + 2 * HOUR, 3_000, { cost: { usd: 0.001 } }),
    tokens("small", DAY0 + 2 * HOUR, 700, { metric: "output_tokens", cost: { usd: 0.001 } }),
    tokens("loose", DAY0 + 3 * HOUR, 5_000, { cost: { usd: 0.001 } }),
  ]);
  await settle(tenant, ["big", "small", "loose"], 5);
});

const run = async (q: Record<string, unknown>) => {
  const res = await call("POST", "/api/reports/run", {
    token: tenant.operator_token,
    body: {
      dataset: "usage",
      time: { from: isoOf(DAY0), to: isoOf(TODAY), time_zone: "UTC" },
      ...q,
    },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
};

describe("reports: pricing model and billing mode", () => {
  it("names how the plan in force prices each metric, and whether it is a commitment", async () => {
    const r = await run({
      measures: ["units"],
      dimensions: ["customer", "metric", "pricing_model", "billing_mode"],
      order_by: [
        { field: "customer", direction: "asc" },
        { field: "metric", direction: "asc" },
      ],
    });
    expect(r.rows).toEqual([
      {
        customer: "big",
        metric: "input_tokens",
        pricing_model: "tiered_volume",
        billing_mode: "commitment",
        units: 1_000,
      },
      {
        customer: "big",
        metric: "output_tokens",
        pricing_model: "per_unit",
        billing_mode: "commitment",
        units: 200,
      },
      {
        customer: "loose",
        metric: "input_tokens",
        pricing_model: null,
        billing_mode: null,
        units: 5_000,
      },
      // The priced component, whatever quota rides on it; a metric the plan does not charge for
      // is `unpriced`.
      {
        customer: "small",
        metric: "input_tokens",
        pricing_model: "per_unit",
        billing_mode: "in_arrears",
        units: 3_000,
      },
      {
        customer: "small",
        metric: "output_tokens",
        pricing_model: "unpriced",
        billing_mode: "in_arrears",
        units: 700,
      },
    ]);
  });

  it("follows a plan change: hours after it take the new plan's model", async () => {
    await customer(tenant, "mover");
    const sub = await subscribe(tenant, "mover", "quota", DAY0 - 10 * DAY);
    const change = await call("POST", `/api/subscriptions/${sub.id}/change`, {
      token: tenant.operator_token,
      body: { plan: "packs", at: isoOf(DAY0 + 12 * HOUR) },
    });
    expect(change.status, JSON.stringify(change.body)).toBe(200);
    await send(tenant, [
      tokens("mover", DAY0 + 5 * HOUR, 100, { cost: { usd: 0.001 } }),
      tokens("mover", DAY0 + 20 * HOUR, 300, { cost: { usd: 0.001 } }),
      tokens("mover", DAY0 + 20 * HOUR, 50, { metric: "output_tokens", cost: { usd: 0.001 } }),
    ]);
    await settle(tenant, ["mover"], 8);
    const r = await run({
      measures: ["units"],
      dimensions: ["metric", "plan", "pricing_model"],
      filters: [{ dimension: "customer", op: "is", values: ["mover"] }],
      order_by: [{ field: "units", direction: "asc" }],
    });
    expect(r.rows).toEqual([
      { metric: "output_tokens", plan: "packs", pricing_model: "unpriced", units: 50 },
      { metric: "input_tokens", plan: "quota", pricing_model: "per_unit", units: 100 },
      { metric: "input_tokens", plan: "packs", pricing_model: "package", units: 300 },
    ]);
  });
});
