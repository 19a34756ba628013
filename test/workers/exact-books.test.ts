import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import {
  api,
  customer,
  DAY,
  HOUR,
  isoOf,
  monthStart,
  ok,
  plan,
  product,
  settle,
  subscribe,
  tokens,
} from "./billing-helpers";
import { call, createTenant, type Tenant } from "./helpers";

// Issue 11, defect 1: money and quantities stay exact at any size the API accepts, and what
// Aforo cannot hold (domain/limits.ts) is refused up front, by index, with the reason — never
// wrapped, clamped, or failed on later (the rollups once read "0.000001" units, revenue was
// clamped at 9223372036.854775807 and the margin build answered 500 "integer overflow").

let tenant: Tenant;
const now = Date.now();
const hour = now - (now % HOUR) - HOUR; // a whole past hour, inside this month for the test
const start = monthStart(now, -1);

beforeEach(async () => {
  tenant = await createTenant("Big AI");
  await product(tenant);
  await plan(tenant, "ten-per-unit", [
    { type: "per_unit", metric: "input_tokens", unit_price: "10" },
  ]);
  await customer(tenant, "whale");
  await subscribe(tenant, "whale", "ten-per-unit", start);
});

const ingest = (events: unknown[]) =>
  call("POST", "/v1/events", { token: tenant.ingest_key, body: events });

async function hourRollup(metric: string) {
  const res = await api(tenant).get(
    `/api/rollups?granularity=hour&customer=whale&metric=${metric}&from=${isoOf(hour)}&to=${isoOf(hour + HOUR)}`,
  );
  expect(res.status).toBe(200);
  return res.body.data;
}

describe("the books at their limits", () => {
  it("holds a trillion units of one metric in one hour exactly and refuses what goes past, by index", async () => {
    // 10 batches of 1,000 events of 10^9 units (output_tokens: unpriced, so no revenue bound).
    const batches = Array.from({ length: 10 }, (_, b) =>
      Array.from({ length: 1000 }, (_, i) =>
        tokens("whale", hour + b * 1000 + i, 1e9, { metric: "output_tokens" }),
      ),
    );
    const answers = [];
    for (const batch of batches) answers.push((await ingest(batch)).body);
    // The first 10^12 units fit exactly; everything after is refused with the reason.
    expect(answers[0]).toMatchObject({ accepted: 1000, rejected: [] });
    for (const a of answers.slice(1)) {
      expect(a.accepted).toBe(0);
      expect(a.rejected).toHaveLength(1000);
      expect(a.rejected[0].index).toBe(0);
      expect(a.rejected[999].index).toBe(999);
      expect(a.rejected[0].errors[0].message).toMatch(/1000000000000 units/);
    }
    await settle(tenant, ["whale"], 1000);
    const rows = await hourRollup("output_tokens");
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ units: "1000000000000", events: 1000 });
    // A refused event was not stored: it is not a duplicate when sent again, just refused again.
    const again = (await ingest([batches[1]?.[0]])).body;
    expect(again).toMatchObject({ accepted: 0, duplicates: 0 });
    expect(again.rejected).toHaveLength(1);
  });

  it("rates up to the day's revenue bound exactly and refuses the event that would pass it", async () => {
    // 999,999 units at $10 = $9,999,990; then $10 reaches $10,000,000 exactly; then one more.
    const first = await ingest([
      tokens("whale", hour + 1, 999_999),
      tokens("whale", hour + 2, 1),
      tokens("whale", hour + 3, 1),
      tokens("whale", hour + 4, 9e8), // $9 billion in one event
    ]);
    expect(first.status).toBe(200);
    expect(first.body.accepted).toBe(2);
    expect(first.body.rejected.map((r: { index: number }) => r.index)).toEqual([2, 3]);
    expect(first.body.rejected[0].errors[0].message).toMatch(/usage revenue .* past 10000000/);
    await settle(tenant, ["whale"], 2);
    const [row] = await hourRollup("input_tokens");
    expect(row).toMatchObject({ units: "1000000", revenue: "10000000.00", events: 2 });
    // The refused events left the period's tiers alone: the ledger holds the accepted units only.
    const events = await api(tenant).get("/api/customers/whale/events?limit=10");
    expect(events.body.data).toHaveLength(2);
  });

  it("refuses a price it cannot hold when the plan is saved, so ingest never fails on it later", async () => {
    for (const unit_price of ["9".repeat(5000), `${"0.".padEnd(5000, "0")}1`, "100000000.5"]) {
      const res = await api(tenant).post("/api/plans", {
        id: "huge",
        product: "chat-api",
        name: "huge",
        currency: "USD",
        period: "month",
        components: [{ type: "per_unit", metric: "output_tokens", unit_price }],
      });
      expect(res.status, unit_price.slice(0, 20)).toBe(400);
      expect(res.contentType).toMatch(/^application\/problem\+json/);
    }
    expect((await api(tenant).get("/api/plans/huge")).status).toBe(404);
    expect((await ingest([tokens("whale", hour, 5)])).body).toMatchObject({ accepted: 1 });
  });

  it("answers 500, not 503, when retrying cannot help (a fault in Aforo, here a corrupt stored plan)", async () => {
    await env.DB.prepare(
      "UPDATE plan_components SET spec = json_set(spec, '$.unit_price', 'ten') WHERE tenant_id = ?",
    )
      .bind(tenant.tenant_id)
      .run();
    await call("PATCH", "/api/customers/whale", {
      token: tenant.operator_token,
      body: { name: "Whale Inc" }, // a catalog write: the actor reloads its terms
    });
    const res = await ingest([tokens("whale", hour, 5)]);
    expect(res.status).toBe(500);
    expect(res.body).toMatchObject({ code: "internal" });
    expect(res.body.detail).toMatch(/retrying will not help/);
  });

  it("keeps tenant-wide sums past 2^63 nanos exact in the margin read models and the rollups", async () => {
    // Three customers whose days each fit (4 × 10^18 nanos = $4 billion) but whose sum does not:
    // what a tenant with thousands of large customers reaches over a quarter.
    const day = now - (now % DAY) - DAY;
    const big = 4_000_000_000_000_000_000n;
    for (const c of ["a", "b", "c"]) {
      await customer(tenant, c);
      await env.DB.prepare(
        `INSERT INTO rollups_daily (tenant_id, customer_id, product_id, metric_id, start, units,
           revenue, cost, events) VALUES (?, ?, 'chat-api', 'input_tokens', ?, 1, ?, ?, 1)`,
      )
        .bind(tenant.tenant_id, c, day, big.toString(), (big / 2n).toString())
        .run();
    }
    const refresh = await call("POST", "/api/metrics/refresh", { token: tenant.operator_token });
    expect(refresh.status).toBeLessThan(300);
    const products = await ok(api(tenant).get("/api/margin/products?days=30"));
    const chat = products.data.find((p: { product: string }) => p.product === "chat-api");
    expect(chat).toMatchObject({ usage_revenue: "12000000000.00", cogs: "6000000000.00" });
    expect(products.totals).toMatchObject({ usage_revenue: "12000000000.00" });
    const trendDay = products.totals.trend.find(
      (t: { day: string }) => t.day === isoOf(day).slice(0, 10),
    );
    expect(trendDay).toMatchObject({ revenue: "12000000000.00", cogs: "6000000000.00" });
    const rollups = await ok(
      api(tenant).get(`/api/rollups?from=${isoOf(day)}&to=${isoOf(day + DAY)}`),
    );
    expect(rollups.data[0]).toMatchObject({ revenue: "12000000000.00", events: 3 });
    const customers = await ok(api(tenant).get("/api/margin/customers?days=30"));
    expect(customers.totals).toMatchObject({ usage_revenue: "12000000000.00" });
    expect((await api(tenant).get("/api/metrics/cockpit")).status).toBe(200);
  });
});
