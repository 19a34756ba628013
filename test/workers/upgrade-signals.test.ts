import { env, runDurableObjectAlarm } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import type { CustomerActor } from "../../durable-objects/customer-actor";
import { call, createTenant, type Tenant } from "./helpers";

// Upgrade Signals (issue 15 item 4): a customer pacing past quota is told which plan would have
// cost less for the period as projected. The whole path: events → the actor's
// QuotaPacingProjectionService → the outbox → the consumer prices the advice
// (workers/ladder/intake.ts) → the signals dataset → the template.

let tenant: Tenant;
const op = () => ({ token: tenant.operator_token });

async function plan(id: string, flat: string, included: number, unitPrice: string) {
  const res = await call("POST", "/api/plans", {
    ...op(),
    body: {
      id,
      product: "api",
      name: id === "starter" ? "Starter" : "Growth",
      currency: "USD",
      period: "month",
      components: [
        { type: "flat", amount: flat },
        { type: "included", metric: "calls", quantity: included },
        { type: "per_unit", metric: "calls", unit_price: unitPrice },
      ],
    },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
}

async function pacingSignals(customer: string, n: number) {
  await runDurableObjectAlarm(
    env.CUSTOMER_ACTOR.getByName(
      `${tenant.tenant_id}:${customer}`,
    ) as DurableObjectStub<CustomerActor>,
  );
  for (let i = 0; i < 100; i++) {
    const { results } = await env.DB.prepare(
      "SELECT details FROM signals WHERE tenant_id = ? AND customer_id = ? AND detector = 'QuotaPacingProjectionService' ORDER BY magnitude",
    )
      .bind(tenant.tenant_id, customer)
      .all<{ details: string }>();
    if (results.length >= n) return results.map((r) => JSON.parse(r.details));
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`fewer than ${n} pacing signals for ${customer}`);
}

beforeEach(async () => {
  tenant = await createTenant();
  await call("POST", "/api/products", { ...op(), body: { id: "api", name: "API" } });
  await call("POST", "/api/products/api/metrics", {
    ...op(),
    body: { id: "calls", unit: "call", aggregation: "sum" },
  });
  // Starter: $49 with 10,000 calls then 1¢; Growth: $199 with 50,000 then ½¢.
  await plan("starter", "49", 10_000, "0.01");
  await plan("growth", "199", 50_000, "0.005");
  const month = new Date();
  const start = new Date(Date.UTC(month.getUTCFullYear(), month.getUTCMonth(), 1)).toISOString();
  for (const [id, p] of [
    ["busy", "starter"],
    ["steady", "growth"],
  ]) {
    await call("POST", "/api/customers", { ...op(), body: { id, name: id } });
    const sub = await call("POST", "/api/subscriptions", {
      ...op(),
      body: { customer: id, plan: p, start },
    });
    expect(sub.status, JSON.stringify(sub.body)).toBe(201);
  }
});

describe("Upgrade Signals", () => {
  it("names the cheaper plan of a customer pacing past quota, priced on the projection", async () => {
    const time = new Date(Date.now() - 60_000).toISOString();
    const sent = await call("POST", "/v1/events", {
      token: tenant.ingest_key,
      body: [
        // Past all three thresholds of Starter's 10,000 at once: the usage itself crossed them.
        {
          id: "b1",
          customer: "busy",
          product: "api",
          metric: "calls",
          quantity: 40_000,
          time,
          cost: { usd: 1 },
        },
        // 60,000 of Growth's 50,000: past all three too, but Growth is already its cheapest plan.
        {
          id: "s1",
          customer: "steady",
          product: "api",
          metric: "calls",
          quantity: 60_000,
          time,
          cost: { usd: 1 },
        },
      ],
    });
    expect(sent.body.accepted, JSON.stringify(sent.body)).toBe(2);
    const busy = await pacingSignals("busy", 3);
    for (const d of busy) {
      expect(d).toMatchObject({ current_plan: "starter", cheaper_plan: "growth" });
      // The projection is at least the usage: Starter charges 49 + (p − 10,000) × 0.01.
      const p = Number(d.projection);
      expect(Number(d.current_charge)).toBeCloseTo(49 + (p - 10_000) * 0.01, 1);
      expect(Number(d.cheaper_charge)).toBeCloseTo(199 + Math.max(0, p - 50_000) * 0.005, 1);
      expect(Number(d.saving)).toBeCloseTo(Number(d.current_charge) - Number(d.cheaper_charge), 6);
    }
    const steady = await pacingSignals("steady", 3);
    for (const d of steady) expect(d).toMatchObject({ current_plan: "growth", cheaper_plan: null });

    const template = await call("GET", "/api/reports/tpl_upgrade_signals", op());
    expect(template.status).toBe(200);
    const run = await call("POST", "/api/reports/run", { ...op(), body: template.body.query });
    expect(run.status, JSON.stringify(run.body)).toBe(200);
    const rows = run.body.rows as Record<string, unknown>[];
    const largest = (ds: { saving: string }[]) =>
      ds.map((d) => d.saving).sort((a, b) => Number(b) - Number(a))[0];
    expect(rows).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          customer: "busy",
          plan: "starter",
          cheaper_plan: "growth",
          count: 3,
          saving: largest(busy),
        }),
        expect.objectContaining({
          customer: "steady",
          plan: "growth",
          cheaper_plan: null,
          count: 3,
          saving: "0.00",
        }),
      ]),
    );
  });
});
