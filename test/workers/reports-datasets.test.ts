import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { call, createTenant, type Tenant } from "./helpers";

// Every measure and dimension of the report datasets beside usage (invoices, payments,
// subscriptions, signals, cases, actions, deliveries), against hand-computed figures over rows
// written straight into D1: a known world, a row just outside the range on each, and the same
// rows in another tenant that must never show. Money is checked to the nano.

let tenant: Tenant;
let other: Tenant;

const DAY = 86_400_000;
const OCT = Date.UTC(2026, 9, 1);
const NOV = Date.UTC(2026, 10, 1);
const SEP = Date.UTC(2026, 8, 15);
const NOW = Date.now();
const FROM = new Date(OCT).toISOString();
const TO = new Date(NOV).toISOString();
const B = 1_000_000_000n;
/** Dollars (decimal text) → nanos. */
const nanos = (usd: string) => {
  const [whole, frac = ""] = usd.split(".");
  return BigInt(whole as string) * B + BigInt(`${frac}000000000`.slice(0, 9));
};

type Row = Record<string, unknown>;
async function run(q: Row, t: Tenant = tenant): Promise<{ rows: Row[]; totals: Row }> {
  const res = await call("POST", "/api/reports/run", {
    token: t.operator_token,
    body: { time: { from: FROM, to: TO, time_zone: "UTC", granularity: "day" }, ...q },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}
const sorted = (q: Row) =>
  run({
    ...q,
    order_by: ((q.dimensions as string[]) ?? []).map((d) => ({ field: d, direction: "asc" })),
  });

async function seed(t: string) {
  const db = env.DB;
  const invoice = (
    id: string,
    customer: string,
    product: string,
    status: string,
    total: string,
    paid: string,
    periodStart: number,
    dueAt: number | null,
  ) =>
    db
      .prepare(
        `INSERT INTO invoices (tenant_id, id, subscription_id, customer_id, product_id, currency,
           period_start, period_end, closes_at, status, subtotal, minimum_topup, discount_total,
           rounding, total, usage_total, issued_at, due_at, created_at, updated_at, amount_paid)
         VALUES (?1, ?2, 'sub_' || ?2, ?3, ?4, 'USD', ?5, ?5 + ${30 * DAY}, ?5 + ${30 * DAY}, ?6, ?7, 0, 0,
           0, ?7, 0, ?5, ?8, ?5, ?5, ?9)`,
      )
      .bind(
        t,
        id,
        customer,
        product,
        periodStart,
        status,
        nanos(total).toString(),
        dueAt,
        nanos(paid).toString(),
      );
  const payment = (
    ref: string,
    invoiceId: string,
    status: string,
    amount: string,
    at: number,
    provider: string,
    decline: string | null,
  ) =>
    db
      .prepare(
        `INSERT INTO payments (tenant_id, reference, id, invoice_id, status, amount, currency,
           decline_code, at, provider, created_by, created_at)
         VALUES (?, ?, ?, ?, ?, ?, 'USD', ?, ?, ?, 'test', ?)`,
      )
      .bind(t, ref, `pay_${ref}`, invoiceId, status, amount, decline, at, provider, at);
  const signal = (
    id: string,
    detector: string,
    customer: string,
    product: string | null,
    magnitude: number,
    status: string,
    at: number,
    details: Row = {},
  ) =>
    db
      .prepare(
        `INSERT INTO signals (tenant_id, id, idempotency_key, detector, customer_id, product_id,
           window_start, window_end, magnitude, details, source_event_ids, status, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '[]', ?, ?)`,
      )
      .bind(
        t,
        id,
        `k_${id}`,
        detector,
        customer,
        product,
        at - DAY,
        at,
        magnitude,
        JSON.stringify(details),
        status,
        at,
      );
  const kase = (
    id: string,
    detector: string,
    customer: string,
    product: string,
    level: number,
    magnitude: number,
    status: string,
    at: number,
  ) =>
    db
      .prepare(
        `INSERT INTO cases (tenant_id, id, case_key, detector, customer_id, scope, product_id,
           window_start, window_end, level_rank, magnitude, status, opened_at, last_signal_at,
           updated_at)
         VALUES (?1, ?2, ?2, ?3, ?4, ?5, ?5, ?6, ?6, ?7, ?8, ?9, ?6, ?6, ?6)`,
      )
      .bind(t, id, detector, customer, product, at, level, magnitude, status);
  const action = (
    id: string,
    signalId: string,
    customer: string,
    rung: string,
    state: string,
    at: number,
  ) =>
    db
      .prepare(
        `INSERT INTO actions (tenant_id, id, signal_id, customer_id, rung, state, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .bind(t, id, signalId, customer, rung, state, at, at);
  const channel = (id: string, type: string) =>
    db
      .prepare(
        `INSERT INTO notification_channels (tenant_id, id, type, name, created_at, updated_at)
         VALUES (?, ?, ?, ?, 0, 0)`,
      )
      .bind(t, id, type, id);
  const delivery = (id: string, channelId: string, kind: string, status: string, at: number) =>
    db
      .prepare(
        `INSERT INTO deliveries (tenant_id, id, signal_id, channel_id, status, next_attempt_at,
           created_at, updated_at, kind)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .bind(t, id, `sig_for_${id}`, channelId, status, at, at, at, kind);

  await db.batch([
    // Invoices: the range selects on the period start.
    invoice("inv1", "acme", "api", "open", "100.00", "30.00", OCT, NOW - 45 * DAY),
    invoice("inv2", "globex", "api", "paid", "50.000000001", "50.000000001", OCT, OCT + DAY),
    invoice("inv3", "acme", "chat", "void", "20.00", "0", OCT + 14 * DAY, null),
    invoice("inv4", "globex", "api", "open", "10.00", "0", OCT + 14 * DAY, NOW + 5 * DAY),
    invoice("inv_sep", "acme", "api", "open", "999.00", "0", SEP, NOW - 80 * DAY),
    // Payments: by when they happened.
    payment("r1", "inv2", "succeeded", "50.000000001", OCT + 2 * DAY, "stripe", null),
    payment("r2", "inv1", "failed", "100.00", OCT + 3 * DAY, "api", "insufficient_funds"),
    payment("r3", "inv1", "succeeded", "30.00", OCT + 4 * DAY, "api", null),
    payment("r4", "inv2", "refunded", "5.5", OCT + 5 * DAY, "stripe", null),
    payment("r_sep", "inv_sep", "failed", "999.00", SEP, "api", "expired_card"),
    // Signals, by when they were raised.
    signal("s1", "MarginGuard", "acme", "api", 0.5, "open", OCT + DAY),
    signal("s2", "MarginGuard", "acme", "api", 0.9, "resolved", OCT + 2 * DAY),
    signal("s3", "WeeklyChurnSignalDetector", "globex", "chat", 0.6, "open", OCT + 2 * DAY),
    signal("s4", "QuotaPacingProjectionService", "globex", "api", 1.25, "open", OCT + 3 * DAY, {
      current_plan: "starter",
      cheaper_plan: "growth",
      saving: "150.000000001",
    }),
    signal("s5", "QuotaPacingProjectionService", "globex", "api", 1.5, "open", OCT + 4 * DAY, {
      current_plan: "starter",
      cheaper_plan: "growth",
      saving: "210.25",
    }),
    signal("s_sep", "MarginGuard", "acme", "api", 9, "open", SEP),
    // Cases, by when they opened.
    kase("k1", "MarginGuard", "acme", "api", 3, 0.9, "open", OCT + DAY),
    kase("k2", "WeeklyChurnSignalDetector", "globex", "chat", 1, 0.6, "resolved", OCT + 2 * DAY),
    kase("k3", "WeeklyChurnSignalDetector", "acme", "chat", 2, 0.7, "open", OCT + 2 * DAY),
    kase("k_sep", "MarginGuard", "acme", "api", 3, 9, "open", SEP),
    // Actions, by when they were queued; the detector is the signal's.
    action("a1", "s1", "acme", "ALERT", "executed", OCT + DAY),
    action("a2", "s2", "acme", "THROTTLE", "queued", OCT + 2 * DAY),
    action("a3", "s3", "globex", "ALERT", "no_channel", OCT + 2 * DAY),
    action("a_sep", "s_sep", "acme", "BLOCK", "executed", SEP),
    // Deliveries, by when they were created; the channel type is the channel's.
    channel("ch_slack", "slack"),
    channel("ch_mail", "email"),
    delivery("d1", "ch_slack", "signal", "delivered", OCT + DAY),
    delivery("d2", "ch_slack", "digest", "dead", OCT + 2 * DAY),
    delivery("d3", "ch_mail", "payment_retry", "delivered", OCT + 3 * DAY),
    delivery("d_sep", "ch_mail", "signal", "delivered", SEP),
  ]);
}

beforeAll(async () => {
  tenant = await createTenant("Datasets AI");
  other = await createTenant("Elsewhere");
  await seed(tenant.tenant_id);
  await seed(other.tenant_id);
  // The other tenant has one more of everything countable: its rows must never show here.
  await env.DB.prepare(
    `INSERT INTO cases (tenant_id, id, case_key, detector, customer_id, scope, window_start,
       window_end, status, opened_at, last_signal_at, updated_at)
     VALUES (?, 'k_x', 'k_x', 'MarginGuard', 'acme', 'acme', ?2, ?2, 'open', ?2, ?2, ?2)`,
  )
    .bind(other.tenant_id, OCT + DAY)
    .run();
});

describe("reports: invoices", () => {
  it("totals, paid and due by status, to the nano", async () => {
    const r = await sorted({
      dataset: "invoices",
      measures: ["count", "total", "amount_paid", "amount_due"],
      dimensions: ["status"],
    });
    expect(r.rows).toEqual([
      { status: "open", count: 2, total: "110.00", amount_paid: "30.00", amount_due: "80.00" },
      {
        status: "paid",
        count: 1,
        total: "50.000000001",
        amount_paid: "50.000000001",
        amount_due: "0.00",
      },
      { status: "void", count: 1, total: "20.00", amount_paid: "0.00", amount_due: "0.00" },
    ]);
    expect(r.totals).toEqual({
      count: 4,
      total: "180.000000001",
      amount_paid: "80.000000001",
      amount_due: "80.00",
    });
  });

  it("ages open invoices by days past due, and cuts by customer, product, time and period", async () => {
    const aging = await sorted({
      dataset: "invoices",
      measures: ["amount_due", "count"],
      dimensions: ["aging"],
      filters: [{ dimension: "status", op: "is", values: ["open"] }],
    });
    expect(aging.rows).toEqual([
      { aging: "31–60", amount_due: "70.00", count: 1 },
      { aging: "current", amount_due: "10.00", count: 1 },
    ]);
    const byCustomer = await sorted({
      dataset: "invoices",
      measures: ["total"],
      dimensions: ["customer", "product"],
    });
    expect(byCustomer.rows).toEqual([
      { customer: "acme", product: "api", total: "100.00" },
      { customer: "acme", product: "chat", total: "20.00" },
      { customer: "globex", product: "api", total: "60.000000001" },
    ]);
    const byTime = await sorted({
      dataset: "invoices",
      measures: ["count"],
      dimensions: ["time", "period"],
      time: { from: FROM, to: TO, time_zone: "UTC", granularity: "week" },
    });
    // Weeks start on Monday and are named by their start: 1 October 2026 is a Thursday, in the
    // week of 28 September (the range clips what it counts, not the bucket's name).
    expect(byTime.rows).toEqual([
      { time: "2026-09-28T00:00:00Z", period: "2026-10-01T00:00:00Z", count: 2 },
      { time: "2026-10-12T00:00:00Z", period: "2026-10-01T00:00:00Z", count: 2 },
    ]);
  });
});

describe("reports: payments", () => {
  it("amounts and counts by status, decline code, provider and the invoice's customer", async () => {
    const r = await sorted({
      dataset: "payments",
      measures: ["count", "amount"],
      dimensions: ["status", "decline_code", "provider", "customer"],
    });
    expect(r.rows).toEqual([
      {
        status: "failed",
        decline_code: "insufficient_funds",
        provider: "api",
        customer: "acme",
        count: 1,
        amount: "100.00",
      },
      {
        status: "refunded",
        decline_code: null,
        provider: "stripe",
        customer: "globex",
        count: 1,
        amount: "5.50",
      },
      {
        status: "succeeded",
        decline_code: null,
        provider: "api",
        customer: "acme",
        count: 1,
        amount: "30.00",
      },
      {
        status: "succeeded",
        decline_code: null,
        provider: "stripe",
        customer: "globex",
        count: 1,
        amount: "50.000000001",
      },
    ]);
    expect(r.totals).toEqual({ count: 4, amount: "185.500000001" });
    const byDay = await sorted({ dataset: "payments", measures: ["count"], dimensions: ["time"] });
    expect(byDay.rows.map((x) => x.time)).toEqual([
      "2026-10-03T00:00:00Z",
      "2026-10-04T00:00:00Z",
      "2026-10-05T00:00:00Z",
      "2026-10-06T00:00:00Z",
    ]);
  });
});

describe("reports: signals", () => {
  it("counts and the largest magnitude by detector, customer, product and status", async () => {
    const r = await sorted({
      dataset: "signals",
      measures: ["count", "magnitude"],
      dimensions: ["detector", "customer", "product", "status"],
    });
    expect(r.rows).toEqual([
      {
        detector: "MarginGuard",
        customer: "acme",
        product: "api",
        status: "open",
        count: 1,
        magnitude: 0.5,
      },
      {
        detector: "MarginGuard",
        customer: "acme",
        product: "api",
        status: "resolved",
        count: 1,
        magnitude: 0.9,
      },
      {
        detector: "QuotaPacingProjectionService",
        customer: "globex",
        product: "api",
        status: "open",
        count: 2,
        magnitude: 1.5,
      },
      {
        detector: "WeeklyChurnSignalDetector",
        customer: "globex",
        product: "chat",
        status: "open",
        count: 1,
        magnitude: 0.6,
      },
    ]);
    expect(r.totals).toEqual({ count: 5, magnitude: 1.5 });
  });

  it("the upgrade advice: plan, cheaper plan and the largest saving, exact", async () => {
    const r = await sorted({
      dataset: "signals",
      measures: ["saving", "count"],
      dimensions: ["plan", "cheaper_plan"],
    });
    expect(r.rows).toEqual([
      // Signals of other detectors carry no advice.
      { plan: null, cheaper_plan: null, saving: "0.00", count: 3 },
      { plan: "starter", cheaper_plan: "growth", saving: "210.25", count: 2 },
    ]);
    const byDay = await sorted({
      dataset: "signals",
      measures: ["saving"],
      dimensions: ["time"],
      filters: [{ dimension: "cheaper_plan", op: "is", values: ["growth"] }],
    });
    expect(byDay.rows).toEqual([
      { time: "2026-10-04T00:00:00Z", saving: "150.000000001" },
      { time: "2026-10-05T00:00:00Z", saving: "210.25" },
    ]);
  });
});

describe("reports: cases and actions", () => {
  it("cases by detector, customer, product, status and level", async () => {
    const r = await sorted({
      dataset: "cases",
      measures: ["count", "magnitude"],
      dimensions: ["detector", "customer", "product", "status", "level"],
    });
    expect(r.rows).toEqual([
      {
        detector: "MarginGuard",
        customer: "acme",
        product: "api",
        status: "open",
        level: "3.0",
        count: 1,
        magnitude: 0.9,
      },
      {
        detector: "WeeklyChurnSignalDetector",
        customer: "acme",
        product: "chat",
        status: "open",
        level: "2.0",
        count: 1,
        magnitude: 0.7,
      },
      {
        detector: "WeeklyChurnSignalDetector",
        customer: "globex",
        product: "chat",
        status: "resolved",
        level: "1.0",
        count: 1,
        magnitude: 0.6,
      },
    ]);
    const byDay = await sorted({ dataset: "cases", measures: ["count"], dimensions: ["time"] });
    expect(byDay.rows).toEqual([
      { time: "2026-10-02T00:00:00Z", count: 1 },
      { time: "2026-10-03T00:00:00Z", count: 2 },
    ]);
  });

  it("actions by rung, state, customer and the signal's detector", async () => {
    const r = await sorted({
      dataset: "actions",
      measures: ["count"],
      dimensions: ["rung", "state", "detector", "customer"],
    });
    expect(r.rows).toEqual([
      { rung: "ALERT", state: "executed", detector: "MarginGuard", customer: "acme", count: 1 },
      {
        rung: "ALERT",
        state: "no_channel",
        detector: "WeeklyChurnSignalDetector",
        customer: "globex",
        count: 1,
      },
      { rung: "THROTTLE", state: "queued", detector: "MarginGuard", customer: "acme", count: 1 },
    ]);
    expect(r.totals).toEqual({ count: 3 });
  });
});

describe("reports: deliveries and subscriptions", () => {
  it("deliveries by channel type, kind, status and day", async () => {
    const r = await sorted({
      dataset: "deliveries",
      measures: ["count"],
      dimensions: ["channel_type", "kind", "status", "time"],
    });
    expect(r.rows).toEqual([
      {
        channel_type: "email",
        kind: "payment_retry",
        status: "delivered",
        time: "2026-10-04T00:00:00Z",
        count: 1,
      },
      {
        channel_type: "slack",
        kind: "digest",
        status: "dead",
        time: "2026-10-03T00:00:00Z",
        count: 1,
      },
      {
        channel_type: "slack",
        kind: "signal",
        status: "delivered",
        time: "2026-10-02T00:00:00Z",
        count: 1,
      },
    ]);
  });

  it("subscriptions in force during the range by plan, product, status and customer", async () => {
    const op = { token: tenant.operator_token };
    await call("POST", "/api/products", { ...op, body: { id: "api", name: "API" } });
    await call("POST", "/api/products/api/metrics", {
      ...op,
      body: { id: "calls", unit: "call", aggregation: "sum" },
    });
    const plan = await call("POST", "/api/plans", {
      ...op,
      body: {
        id: "basic",
        product: "api",
        name: "Basic",
        currency: "USD",
        period: "month",
        components: [{ type: "flat", amount: "10" }],
      },
    });
    expect(plan.status).toBe(201);
    for (const [id, start] of [
      ["acme", "2026-09-01T00:00:00Z"],
      ["globex", "2026-10-20T00:00:00Z"],
      // Starts after the range: not in force during it.
      ["initech", "2026-11-05T00:00:00Z"],
    ] as const) {
      await call("POST", "/api/customers", { ...op, body: { id, name: id } });
      const sub = await call("POST", "/api/subscriptions", {
        ...op,
        body: { customer: id, plan: "basic", start },
      });
      expect(sub.status, JSON.stringify(sub.body)).toBe(201);
    }
    const r = await sorted({
      dataset: "subscriptions",
      measures: ["count"],
      dimensions: ["customer", "plan", "product", "status"],
    });
    expect(r.rows).toEqual([
      { customer: "acme", plan: "basic", product: "api", status: "active", count: 1 },
      { customer: "globex", plan: "basic", product: "api", status: "active", count: 1 },
    ]);
  });
});
