import { beforeEach, describe, expect, it } from "vitest";
import {
  api,
  clockSettled,
  customer,
  DAY,
  isoOf,
  monthStart,
  nanos,
  ok,
  plan,
  product,
  send,
  settle,
  subscribe,
  toCents,
  tokens,
} from "./billing-helpers";
import { call, createTenant, expectProblem, type Tenant } from "./helpers";

// COGS & margin through the API: revenue = rated usage + flat fees recognised day by day,
// COGS = the events' cost; rankings, the customers costing more than they pay, filters, trends,
// and agreement with the rollups and the invoices.

let tenant: Tenant;
let a: ReturnType<typeof api>;
const NOW = Date.now();
const START = monthStart(NOW, -3);
/** A billing period wholly inside the 90-day window: last month. */
const P = monthStart(NOW, -1);
const P_END = monthStart(NOW, 0);

beforeEach(async () => {
  tenant = await createTenant();
  a = api(tenant);
  await clockSettled(tenant);
  await product(tenant);
  await ok(a.post("/api/products", { id: "vision", name: "Vision" }));
  await ok(a.post("/api/products/vision/metrics", { id: "images", unit: "image" }));
  await plan(tenant, "pro", [
    { type: "flat", amount: "300" },
    { type: "per_unit", metric: "input_tokens", unit_price: "0.001" },
  ]);
  await plan(tenant, "payg", [{ type: "per_unit", metric: "input_tokens", unit_price: "0.002" }]);
  await ok(
    a.post("/api/plans", {
      id: "vision-std",
      product: "vision",
      name: "Vision",
      currency: "USD",
      period: "month",
      components: [{ type: "per_unit", metric: "images", unit_price: "0.01" }],
    }),
  );
  for (const [c, p] of [
    ["good", "pro"],
    ["loser", "pro"],
    ["meter", "payg"],
    ["meter", "vision-std"],
    ["steady", "pro"],
  ] as const) {
    if (p !== "vision-std") await customer(tenant, c);
    await subscribe(tenant, c, p, START);
  }
  await send(tenant, [
    tokens("good", NOW - 2 * DAY, 6_000, { cost: { usd: 1.5 } }),
    tokens("good", NOW - DAY, 4_000, { cost: { usd: 0.5 } }),
    tokens("loser", NOW - DAY, 5_000, { cost: { usd: 400 } }),
    tokens("meter", NOW - 3 * DAY, 20_000, { cost: { usd: 10 } }),
    tokens("meter", NOW - 3 * DAY, 300, { product: "vision", metric: "images", cost: { usd: 1 } }),
  ]);
  await settle(tenant, ["good", "loser", "meter"], 5);
  await ok(a.post("/api/metrics/refresh"));
});

const row = (list: { customer?: string; product?: string }[], key: string) =>
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers
  list.find((r) => r.customer === key || r.product === key) as any;

describe("GET /api/margin/customers", () => {
  it("ranks customers by contribution margin and flags those costing more than they pay", async () => {
    const res = await ok(a.get("/api/margin/customers?days=30"));
    expect(res.currency).toBe("USD");
    expect(res.window.days).toBe(30);
    expect(res.data.map((r: { customer: string }) => r.customer)).toEqual([
      "good",
      "steady",
      "meter",
      "loser",
    ]);
    const good = row(res.data, "good");
    // Usage: 10,000 tokens × $0.001; COGS: $1.50 + $0.50.
    expect(good).toMatchObject({
      rank: 1,
      usage_revenue: "10.00",
      cogs: "2.00",
      usage_margin: "8.00",
      events: 2,
      costing_more_than_paying: false,
      segments: ["pro"],
      drilldown: "/api/customers/good/events",
    });
    // The flat fee is recognised day by day: the same for good, loser and steady.
    expect(Number(good.fee_revenue)).toBeGreaterThan(0);
    expect(row(res.data, "steady").fee_revenue).toBe(good.fee_revenue);
    expect(nanos(good.revenue)).toBe(nanos(good.usage_revenue) + nanos(good.fee_revenue));
    expect(nanos(good.contribution_margin)).toBe(nanos(good.revenue) - nanos(good.cogs));
    const loser = row(res.data, "loser");
    expect(loser).toMatchObject({ usage_revenue: "5.00", cogs: "400.00", usage_margin: "-395.00" });
    expect(loser.costing_more_than_paying).toBe(true);
    expect(loser.margin_pct).toBeLessThan(0);
    const meter = row(res.data, "meter");
    // Two products: 20,000 tokens × $0.002 = $40, 300 images × $0.01 = $3; no flat fee.
    expect(meter).toMatchObject({
      revenue: "43.00",
      fee_revenue: "0.00",
      cogs: "11.00",
      contribution_margin: "32.00",
      margin_pct: 74.42,
      segments: ["payg", "vision-std"],
    });
    expect(res.totals).toMatchObject({ customers: 4, unprofitable_customers: 1, cogs: "413.00" });
    expect(res.totals.trend).toHaveLength(30);
  });

  it("filters: only the unprofitable, by product, by segment; sorts and pages", async () => {
    const bad = await ok(a.get("/api/margin/customers?days=30&unprofitable=true"));
    expect(bad.data.map((r: { customer: string }) => r.customer)).toEqual(["loser"]);
    expect(bad.totals).toMatchObject({ customers: 1, unprofitable_customers: 1 });
    const vision = await ok(a.get("/api/margin/customers?days=90&product=vision"));
    expect(vision.data).toHaveLength(1);
    expect(vision.data[0]).toMatchObject({ customer: "meter", revenue: "3.00", cogs: "1.00" });
    const payg = await ok(a.get("/api/margin/customers?segment=payg"));
    expect(payg.data).toHaveLength(1);
    expect(payg.data[0]).toMatchObject({ customer: "meter", revenue: "40.00", cogs: "10.00" });
    const byCogs = await ok(a.get("/api/margin/customers?sort=cogs&order=desc"));
    expect(byCogs.data.map((r: { customer: string }) => r.customer)).toEqual([
      "loser",
      "meter",
      "good",
      "steady",
    ]);
    const first = await ok(a.get("/api/margin/customers?limit=2"));
    expect(first.data.map((r: { rank: number }) => r.rank)).toEqual([1, 2]);
    const second = await ok(a.get(`/api/margin/customers?limit=2&cursor=${first.next_cursor}`));
    expect(
      second.data.map((r: { customer: string; rank: number }) => [r.customer, r.rank]),
    ).toEqual([
      ["meter", 3],
      ["loser", 4],
    ]);
    expect(second.next_cursor).toBeNull();
  });

  it("agrees with the rollups (usage revenue, COGS) and with the invoices (fees)", async () => {
    const rollups = await ok(
      a.get(
        `/api/rollups?group_by=customer&granularity=day&from=${encodeURIComponent(isoOf(NOW - 30 * DAY))}`,
      ),
    );
    const res = await ok(a.get("/api/margin/customers?days=30"));
    for (const c of ["good", "loser", "meter"]) {
      const rows = rollups.data.filter((r: { customer: string }) => r.customer === c);
      const revenue = rows.reduce((s: bigint, r: { revenue: string }) => s + nanos(r.revenue), 0n);
      const cost = rows.reduce((s: bigint, r: { cost: string }) => s + nanos(r.cost), 0n);
      expect(nanos(row(res.data, c).usage_revenue), c).toBe(revenue);
      expect(nanos(row(res.data, c).cogs), c).toBe(cost);
    }
    // The fees recognised over last month's days add up to that month's invoice flat line.
    await ok(a.post("/api/invoices/run", {}));
    const inv = (
      await ok(
        a.get(
          `/api/invoices?customer=steady&period_from=${encodeURIComponent(isoOf(P))}&period_to=${encodeURIComponent(isoOf(P_END))}`,
        ),
      )
    ).data[0];
    expect(inv.total).toBe("300.00");
    const mine = await ok(a.get("/api/margin/customers/steady?days=90"));
    const inPeriod = mine.trend.filter(
      (p: { day: string }) => Date.parse(p.day) >= P && Date.parse(p.day) < P_END,
    );
    const fees = inPeriod.reduce((s: bigint, p: { revenue: string }) => s + nanos(p.revenue), 0n);
    expect(toCents(fees)).toBe(toCents(nanos(inv.total)));
    // The drill-down link leads to the customer's events with price and cost.
    const events = await ok(a.get(row(res.data, "loser").drilldown));
    expect(events.data[0]).toMatchObject({ revenue: "5", cost: "400" });
  });

  it("gives one customer's P&L per product with a daily trend", async () => {
    const res = await ok(a.get("/api/margin/customers/meter?days=30"));
    expect(res.totals).toMatchObject({ revenue: "43.00", cogs: "11.00" });
    expect(
      res.products.map((p: { product: string; revenue: string }) => [p.product, p.revenue]),
    ).toEqual([
      ["chat-api", "40.00"],
      ["vision", "3.00"],
    ]);
    expect(res.trend).toHaveLength(30);
    const day = new Date(NOW - 3 * DAY).toISOString().slice(0, 10);
    expect(res.trend.find((p: { day: string }) => p.day === day)).toEqual({
      day,
      revenue: "43.00",
      cogs: "11.00",
      contribution_margin: "32.00",
    });
  });
});

describe("GET /api/margin/products", () => {
  it("gives the P&L per product with contribution shares and daily trends", async () => {
    const res = await ok(a.get("/api/margin/products?days=30"));
    expect(res.data.map((r: { product: string }) => r.product)).toEqual(["chat-api", "vision"]);
    const chat = row(res.data, "chat-api");
    expect(chat).toMatchObject({
      name: "chat-api",
      usage_revenue: "55.00",
      cogs: "412.00",
      customers: 4,
      unprofitable_customers: 1,
      drilldown: "/api/margin/customers?product=chat-api&days=30",
    });
    expect(chat.trend).toHaveLength(30);
    const vision = row(res.data, "vision");
    expect(vision).toMatchObject({
      revenue: "3.00",
      cogs: "1.00",
      contribution_margin: "2.00",
      margin_pct: 66.67,
      customers: 1,
    });
    const shares = res.data.reduce(
      (s: number, r: { contribution_share: number }) => s + r.contribution_share,
      0,
    );
    expect(shares).toBeCloseTo(1, 3);
    expect(nanos(res.totals.revenue)).toBe(nanos(chat.revenue) + nanos(vision.revenue));
    const trendDay = new Date(NOW - 3 * DAY).toISOString().slice(0, 10);
    expect(vision.trend.find((p: { day: string }) => p.day === trendDay)).toMatchObject({
      revenue: "3.00",
      cogs: "1.00",
    });
    const filtered = await ok(a.get("/api/margin/products?days=60&segment=payg"));
    expect(filtered.data).toHaveLength(1);
    expect(filtered.data[0]).toMatchObject({ product: "chat-api", revenue: "40.00", customers: 1 });
  });
});

describe("margin routes: errors and security", () => {
  it("validates days, sort and cursor", async () => {
    expectProblem(await a.get("/api/margin/products?days=45"), 400, "validation_failed");
    expectProblem(await a.get("/api/margin/customers?sort=luck"), 400, "validation_failed");
    expectProblem(await a.get("/api/margin/customers?cursor=nope"), 400, "validation_failed");
    expectProblem(await a.get("/api/margin/customers/nobody"), 404, "not_found");
  });

  it("needs an operator token; an ingest key is refused", async () => {
    for (const path of [
      "/api/margin/products",
      "/api/margin/customers",
      "/api/margin/customers/good",
    ]) {
      expectProblem(await call("GET", path), 401, "unauthorized");
      expectProblem(await call("GET", path, { token: tenant.ingest_key }), 403, "wrong_key_kind");
    }
  });

  it("never shows another tenant's customers", async () => {
    const other = await createTenant("Other");
    const o = api(other);
    expectProblem(await o.get("/api/margin/customers/good"), 404, "not_found");
    const list = await ok(o.get("/api/margin/customers?days=90"));
    expect(list.data).toEqual([]);
    const products = await ok(o.get("/api/margin/products"));
    expect(products.data).toEqual([]);
  });
});
