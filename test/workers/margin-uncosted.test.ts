import { beforeEach, describe, expect, it } from "vitest";
import {
  api,
  clockSettled,
  customer,
  DAY,
  monthStart,
  ok,
  plan,
  product,
  send,
  settle,
  subscribe,
  tokens,
} from "./billing-helpers";
import { createTenant, type Tenant } from "./helpers";

// Honest costing on the margin pages (issue 12, item 5): the share of events and of revenue
// whose cost is unknown, per product and overall; customers costing more than they pay with the
// $0-revenue ones (trials, free plans, unknown customers) apart from the paying ones, and
// unknown customers labelled.

let tenant: Tenant;
let a: ReturnType<typeof api>;
const NOW = Date.now();
const START = monthStart(NOW, -3);

// biome-ignore lint/suspicious/noExplicitAny: JSON answers
const byKey = (list: any[], key: string) =>
  list.find((r) => r.customer === key || r.product === key);

beforeEach(async () => {
  tenant = await createTenant("Uncosted AI");
  a = api(tenant);
  await clockSettled(tenant);
  await product(tenant);
  await ok(a.post("/api/products", { id: "vision", name: "Vision" }));
  await ok(a.post("/api/products/vision/metrics", { id: "images", unit: "image" }));
  await plan(tenant, "payg", [{ type: "per_unit", metric: "input_tokens", unit_price: "0.001" }]);
  await plan(tenant, "free", [{ type: "flat", amount: "0" }]);
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
  await customer(tenant, "payer");
  await customer(tenant, "freebie");
  await subscribe(tenant, "payer", "payg", START);
  await subscribe(tenant, "payer", "vision-std", START);
  await subscribe(tenant, "freebie", "free", START);
  await send(tenant, [
    // payer on chat: 10,000 tokens costed ($10 revenue, $2 cost) and 5,000 with no cost ($5
    // revenue, cost unknown): a third of the chat events' revenue is uncosted.
    tokens("payer", NOW - 2 * DAY, 10_000, { cost: { usd: 2 } }),
    tokens("payer", NOW - 2 * DAY, 5_000),
    // …and a loss on vision: 100 images ($1) that cost $30, all costed.
    tokens("payer", NOW - DAY, 100, { product: "vision", metric: "images", cost: { usd: 30 } }),
    // freebie: $0 revenue, $4 of cost.
    tokens("freebie", NOW - DAY, 3_000, { cost: { usd: 4 } }),
    // acme-ghost: not in the catalog, $7 of cost, plus one event of unknown cost.
    tokens("acme-ghost", NOW - DAY, 1_000, { cost: { usd: 7 } }),
    tokens("acme-ghost", NOW - DAY, 1_000),
  ]);
  await settle(tenant, ["payer", "freebie", "acme-ghost"], 6);
  await ok(a.post("/api/metrics/refresh"));
});

describe("the uncosted share", () => {
  it("per product and overall: events and usage revenue whose cost is unknown", async () => {
    const res = await ok(a.get("/api/margin/products?days=30"));
    const chat = byKey(res.data, "chat-api");
    // chat: 5 events (2 payer, 1 freebie, 2 ghost), 2 uncosted; usage revenue $15 (payer), $5
    // of it uncosted (the ghost earns none).
    expect(chat.events).toBe(5);
    expect(chat.uncosted).toEqual({
      events: 2,
      events_share: 0.4,
      usage_revenue: "5.00",
      revenue_share: 0.333333,
    });
    expect(byKey(res.data, "vision").uncosted).toEqual({
      events: 0,
      events_share: 0,
      usage_revenue: "0.00",
      revenue_share: 0,
    });
    expect(res.totals.events).toBe(6);
    expect(res.totals.uncosted).toEqual({
      events: 2,
      events_share: 0.333333,
      usage_revenue: "5.00",
      revenue_share: 0.3125, // $5 of $16
    });
    // COGS counts only what is known: $2 + $30 + $4 + $7.
    expect(res.totals.cogs).toBe("43.00");
  });

  it("per customer, and the same totals on the customers ranking", async () => {
    const res = await ok(a.get("/api/margin/customers?days=30"));
    expect(byKey(res.data, "payer").uncosted_events).toBe(1);
    expect(byKey(res.data, "acme-ghost").uncosted_events).toBe(1);
    expect(byKey(res.data, "freebie").uncosted_events).toBe(0);
    expect(res.totals.uncosted.events).toBe(2);
    expect(res.totals.uncosted.usage_revenue).toBe("5.00");
  });
});

describe("customers costing more than they pay", () => {
  it("separates those paying from the $0-revenue ones, with counts, and labels unknown customers", async () => {
    const all = await ok(a.get("/api/margin/customers?days=30&unprofitable=true"));
    expect(all.data.map((r: { customer: string }) => r.customer).sort()).toEqual([
      "acme-ghost",
      "freebie",
      "payer",
    ]);
    expect(all.totals).toMatchObject({
      unprofitable_customers: 3,
      unprofitable_paying: 1,
      unprofitable_no_revenue: 2,
    });
    expect(byKey(all.data, "payer")).toMatchObject({ known: true, revenue_kind: "paying" });
    expect(byKey(all.data, "freebie")).toMatchObject({ known: true, revenue_kind: "no_revenue" });
    expect(byKey(all.data, "acme-ghost")).toMatchObject({
      known: false,
      revenue_kind: "no_revenue",
    });

    const paying = await ok(
      a.get("/api/margin/customers?days=30&unprofitable=true&revenue=paying"),
    );
    expect(paying.data.map((r: { customer: string }) => r.customer)).toEqual(["payer"]);
    // The list's totals are its own; the split counts still cover every unprofitable customer.
    expect(paying.totals).toMatchObject({
      customers: 1,
      cogs: "32.00",
      unprofitable_paying: 1,
      unprofitable_no_revenue: 2,
    });
    const none = await ok(a.get("/api/margin/customers?days=30&unprofitable=true&revenue=none"));
    expect(none.data.map((r: { customer: string }) => r.customer).sort()).toEqual([
      "acme-ghost",
      "freebie",
    ]);
    expect(none.totals).toMatchObject({ customers: 2, revenue: "0.00", cogs: "11.00" });

    const products = await ok(a.get("/api/margin/products?days=30"));
    expect(byKey(products.data, "chat-api")).toMatchObject({
      unprofitable_paying: 0,
      unprofitable_no_revenue: 2,
    });
    expect(byKey(products.data, "vision")).toMatchObject({
      unprofitable_paying: 1,
      unprofitable_no_revenue: 0,
    });
    expect(products.totals).toMatchObject({ unprofitable_paying: 1, unprofitable_no_revenue: 2 });
  });

  it("refuses an unknown revenue kind", async () => {
    const res = await a.get("/api/margin/customers?revenue=some");
    expect(res.status).toBe(400);
    expect(res.contentType).toContain("application/problem+json");
  });
});
