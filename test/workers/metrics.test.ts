import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import {
  api,
  clockSettled,
  customer,
  DAY,
  isoOf,
  monthStart,
  ok,
  plan,
  product,
  send,
  settle,
  subscribe,
  tokens,
} from "./billing-helpers";
import { call, createTenant, expectProblem, type Tenant } from "./helpers";

// The Revenue Cockpit and MRR movements through the API, on hand-computed cases (formulas:
// docs/metrics.md). Subscriptions may start in the past, so most cases use fixed 2025 dates;
// the usage cases use dates relative to now (events must lie inside the backfill horizon).

let tenant: Tenant;
let a: ReturnType<typeof api>;
const T = (s: string) => Date.parse(s);

beforeEach(async () => {
  tenant = await createTenant();
  a = api(tenant);
  await clockSettled(tenant);
  await product(tenant);
  await plan(tenant, "basic", [{ type: "flat", amount: "100" }]);
  await plan(tenant, "plus", [{ type: "flat", amount: "250" }]);
  await plan(tenant, "small", [{ type: "flat", amount: "50" }]);
  await plan(tenant, "annual", [{ type: "flat", amount: "1200" }], { period: "year" });
});

const cockpit = (asOf: string) =>
  ok(a.get(`/api/metrics/cockpit?as_of=${encodeURIComponent(asOf)}`));
const mrr = (query: string) => ok(a.get(`/api/metrics/mrr?${query}`));
const period = (res: { periods: { label: string }[] }, label: string) =>
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers
  res.periods.find((p) => p.label === label) as any;

describe("hand-computed cockpit cases", () => {
  it("normalises an annual plan to monthly (÷ 12) next to a monthly one", async () => {
    await customer(tenant, "yearly");
    await customer(tenant, "monthly");
    await subscribe(tenant, "yearly", "annual", T("2025-01-15T00:00:00Z"));
    await subscribe(tenant, "monthly", "small", T("2025-02-01T00:00:00Z"));
    const c = await cockpit("2025-06-01T00:00:00Z");
    // $1,200/yr → $100/mo, + $50/mo.
    expect(c.mrr).toMatchObject({ value: "150.00", committed: "150.00", usage: "0.00" });
    expect(c.arr.value).toBe("1800.00");
    expect(c.arpu).toMatchObject({ value: "75.00", paying_customers: 2 });
    expect(c.active_subscriptions).toMatchObject({ value: 2, active: 2, trialing: 0 });
    expect(c.source).toBe("computed");
    expect(c.currency).toBe("USD");
    expect(c.comparison).toEqual({
      previous_at: "2025-05-02T00:00:00.000Z",
      days: 30,
      label: "vs 30 days earlier",
    });
    // Both were paying 30 days earlier too.
    expect(c.mrr.delta).toMatchObject({ current: "150.00", previous: "150.00", change: "0.00" });
    expect(c.mrr.series).toHaveLength(30);
    expect(c.mrr.series.at(-1)).toEqual({ at: "2025-06-01T00:00:00.000Z", value: "150.00" });
  });

  it("shows a mid-month upgrade as expansion, in MRR, its delta, NRR and the movements", async () => {
    await customer(tenant, "acme");
    const sub = await subscribe(tenant, "acme", "basic", T("2025-01-01T00:00:00Z"));
    await ok(
      a.post(`/api/subscriptions/${sub.id}/change`, { plan: "plus", at: "2025-03-15T00:00:00Z" }),
    );
    const c = await cockpit("2025-04-01T00:00:00Z");
    expect(c.mrr.value).toBe("250.00");
    // 30 days earlier (Mar 2) it was still 100.
    expect(c.mrr.delta).toMatchObject({ previous: "100.00", change: "150.00", change_ratio: 1.5 });
    // History starts Jan 1 = as_of − 90 days: a 90-day window; 100 → 250.
    expect(c.nrr).toMatchObject({ value: 2.5, window: "90d", cohort_customers: 1 });
    const m = await mrr("from=2025-02&to=2025-05");
    expect(m.periods.map((p: { label: string }) => p.label)).toEqual([
      "2025-02",
      "2025-03",
      "2025-04",
      "2025-05",
    ]);
    // March 1 → April 1: +150 expansion (the upgrade took effect on Mar 15).
    expect(period(m, "2025-04")).toMatchObject({
      start_mrr: "100.00",
      end_mrr: "250.00",
      totals: { expansion: "150.00", net: "150.00", new: "0.00" },
      counts: { expansion: 1 },
    });
    // Live from Jan 1 00:00, so the Jan 1 sample has it: January's new.
    expect(period(await mrr("from=2025-01&to=2025-01"), "2025-01").totals.new).toBe("100.00");
  });

  it("shows a downgrade as contraction", async () => {
    await customer(tenant, "acme");
    const sub = await subscribe(tenant, "acme", "plus", T("2025-01-01T00:00:00Z"));
    await ok(
      a.post(`/api/subscriptions/${sub.id}/change`, { plan: "basic", at: "2025-03-15T00:00:00Z" }),
    );
    const m = await mrr("from=2025-04&to=2025-04");
    expect(period(m, "2025-04")).toMatchObject({
      start_mrr: "250.00",
      end_mrr: "100.00",
      totals: { contraction: "-150.00", net: "-150.00" },
      counts: { contraction: 1 },
    });
    expect((await cockpit("2025-03-20T00:00:00Z")).mrr.value).toBe("100.00");
  });

  it("shows a cancel as churn: MRR drops at the cancel instant, the churn rate counts it", async () => {
    await customer(tenant, "stays");
    await customer(tenant, "leaves");
    await subscribe(tenant, "stays", "basic", T("2025-01-01T00:00:00Z"));
    const sub = await subscribe(tenant, "leaves", "basic", T("2025-01-01T00:00:00Z"));
    await ok(a.post(`/api/subscriptions/${sub.id}/cancel`, { at: "2025-03-15T00:00:00Z" }));
    expect((await cockpit("2025-03-14T23:00:00Z")).mrr.value).toBe("200.00");
    const c = await cockpit("2025-04-01T00:00:00Z");
    expect(c.mrr.value).toBe("100.00");
    // Paying on Mar 2: both; on Apr 1: one → 1 of 2 churned.
    expect(c.customer_churn).toMatchObject({
      value: 0.5,
      window_days: 30,
      paying_at_start: 2,
      churned: 1,
      churned_mrr: "100.00",
    });
    expect(c.health.slices).toMatchObject({ active: 1, canceled: 1 });
    const m = await mrr("from=2025-04&to=2025-04");
    expect(period(m, "2025-04").totals).toMatchObject({ churn: "-100.00", net: "-100.00" });
    const got = await ok(a.get(`/api/subscriptions/${sub.id}`));
    expect(got).toMatchObject({ status: "canceled", end: "2025-03-15T00:00:00.000Z" });
  });

  it("shows a win-back as reactivation, not new", async () => {
    await customer(tenant, "acme");
    const first = await subscribe(tenant, "acme", "basic", T("2025-01-01T00:00:00Z"));
    await ok(a.post(`/api/subscriptions/${first.id}/cancel`, { at: "2025-03-01T00:00:00Z" }));
    await subscribe(tenant, "acme", "plus", T("2025-05-10T00:00:00Z"));
    const m = await mrr("from=2025-01&to=2025-06");
    expect(period(m, "2025-01").totals.new).toBe("100.00");
    expect(period(m, "2025-03").totals.churn).toBe("-100.00");
    expect(period(m, "2025-06")).toMatchObject({
      totals: { reactivation: "250.00", new: "0.00" },
      counts: { reactivation: 1, new: 0 },
    });
  });

  it("counts a converted and a lapsed trial in trial conversion", async () => {
    await plan(tenant, "trial-pro", [{ type: "flat", amount: "300" }], { trial_days: 14 });
    await customer(tenant, "converts");
    await customer(tenant, "lapses");
    await subscribe(tenant, "converts", "trial-pro", T("2025-03-01T00:00:00Z"));
    const lapsed = await subscribe(tenant, "lapses", "trial-pro", T("2025-03-05T00:00:00Z"));
    expect(lapsed.trial_end).toBe("2025-03-19T00:00:00.000Z");
    await ok(a.post(`/api/subscriptions/${lapsed.id}/cancel`, { at: "2025-03-12T00:00:00Z" }));
    const during = await cockpit("2025-03-10T00:00:00Z");
    // Trials carry no MRR and are counted apart from the active subscriptions.
    expect(during.mrr.value).toBe("0.00");
    expect(during.active_subscriptions).toMatchObject({ value: 0, trialing: 2 });
    expect(during.health.slices.trialing).toBe(2);
    const c = await cockpit("2025-03-31T00:00:00Z");
    expect(c.trial_conversion).toMatchObject({ value: 0.5, ended: 2, converted: 1, lapsed: 1 });
    expect(c.mrr.value).toBe("300.00");
    expect(c.active_subscriptions).toMatchObject({ value: 1, trialing: 0 });
  });

  it("adds a usage-heavy customer's trailing-30-day usage revenue to MRR, shown apart", async () => {
    await plan(tenant, "metered", [
      { type: "flat", amount: "100" },
      { type: "per_unit", metric: "input_tokens", unit_price: "0.01" },
    ]);
    await customer(tenant, "heavy");
    const now = Date.now();
    await subscribe(tenant, "heavy", "metered", monthStart(now, -3));
    // $900 of usage within the last 30 days, $500 more 40 days ago (outside the window).
    await send(tenant, [
      tokens("heavy", now - 3 * DAY, 50_000),
      tokens("heavy", now - 10 * DAY, 40_000),
      tokens("heavy", now - 40 * DAY, 50_000),
    ]);
    await settle(tenant, ["heavy"], 3);
    const c = await ok(a.get("/api/metrics/cockpit"));
    expect(c.source).toBe("computed");
    expect(c.mrr).toMatchObject({ value: "1000.00", committed: "100.00", usage: "900.00" });
    expect(c.arr.value).toBe("12000.00");
    // Served from the stored snapshot until something changes.
    const again = await ok(a.get("/api/metrics/cockpit"));
    expect(again.source).toBe("snapshot");
    expect(again.mrr.value).toBe("1000.00");
    expect(again.as_of).toBe(c.as_of);
  });

  it("ages an invoice 45 days past due into the 31–60 bucket", async () => {
    await customer(tenant, "late");
    const now = Date.now();
    const start = monthStart(now, -4);
    await subscribe(tenant, "late", "basic", start);
    await ok(a.post("/api/invoices/run", {}));
    const invoices = (await ok(a.get("/api/invoices?customer=late"))).data;
    const first = invoices.at(-1);
    expect(first.period.start).toBe(isoOf(start));
    const due = Date.parse(first.due_at);
    expect(due).toBe(monthStart(now, -3) + 30 * DAY); // issued at period close, 30-day terms
    const asOf = due + 45 * DAY;
    const c = await cockpit(isoOf(asOf));
    const o = c.outstanding_invoices;
    expect(o.buckets.days_31_60).toEqual({ count: 1, total: "100.00" });
    // The next invoices: issued a month later (1–30 days past due) and two months later
    // (not yet due, when its due date is still ahead of as_of).
    const issuedLater = invoices
      .filter((i: { issued_at: string }) => Date.parse(i.issued_at) <= asOf)
      .map(
        (i: { due_at: string }) => Math.floor(asOf / DAY) - Math.floor(Date.parse(i.due_at) / DAY),
      );
    expect(issuedLater).toContain(45);
    expect(o.count).toBe(issuedLater.length);
    expect(o.total).toBe(`${100 * issuedLater.length}.00`);
    // Dunning: the subscription went past_due when the first invoice's due date passed.
    const sub = await ok(a.get(`/api/subscriptions/${first.subscription}?include=history`));
    expect(sub.status).toBe("past_due");
    expect(sub.status_changes[0]).toMatchObject({ status: "past_due", at: first.due_at });
    expect(c.health.slices.past_due).toBe(1);
    expect(c.active_subscriptions).toMatchObject({ value: 1, past_due: 1 });
  });
});

describe("health donut", () => {
  it("counts suspended and at-risk (an open signal) subscriptions apart", async () => {
    for (const id of ["ok", "blocked", "risky"]) {
      await customer(tenant, id);
      await subscribe(tenant, id, "basic", T("2025-01-01T00:00:00Z"));
    }
    const blocked = (await ok(a.get("/api/subscriptions?customer=blocked"))).data[0];
    const res = await ok(
      a.post(`/api/subscriptions/${blocked.id}/status`, {
        status: "suspended",
        at: "2025-02-01T00:00:00Z",
        reason: "ladder:BLOCK",
      }),
    );
    expect(res.status).toBe("suspended");
    expect(res.status_changes).toEqual([
      { at: "2025-02-01T00:00:00.000Z", status: "suspended", reason: "ladder:BLOCK" },
    ]);
    await env.DB.prepare(
      `INSERT INTO signals (tenant_id, id, idempotency_key, detector, customer_id, window_start,
         window_end, magnitude, details, source_event_ids, status, created_at)
       VALUES (?, 'sig_1', 'k1', 'WeeklyChurnSignalDetector', 'risky', ?, ?, 0.6, '{}', '[]', 'open', ?)`,
    )
      .bind(tenant.tenant_id, T("2025-02-20T00:00:00Z"), T("2025-02-27T00:00:00Z"), Date.now())
      .run();
    const c = await cockpit("2025-03-01T00:00:00Z");
    expect(c.health).toMatchObject({
      slices: { active: 2, suspended: 1, past_due: 0, trialing: 0, canceled: 0 },
      total: 3,
      at_risk: { active: 1, total: 1 },
      at_risk_customers: 1,
    });
    // Suspended still bears MRR (the contract stands); it is not an active subscription.
    expect(c.mrr.value).toBe("300.00");
    expect(c.active_subscriptions).toMatchObject({ value: 2, suspended: 1 });
    // Before the suspension it was active.
    expect((await cockpit("2025-01-20T00:00:00Z")).health.slices.suspended).toBe(0);
    // Resolved now: no longer at risk from now on, still at risk on 1 March.
    await ok(a.post("/api/signals/sig_1/resolve", { note: "spoke to them" }));
    await new Promise((r) => setTimeout(r, 5));
    const now = new Date().toISOString();
    expect((await cockpit(now)).health).toMatchObject({ at_risk_customers: 0 });
    expect((await cockpit("2025-03-01T00:00:00Z")).health.at_risk_customers).toBe(1);
  });
});

describe("health donut: findings about periods still running", () => {
  it("a pacing or margin signal whose period ends later is at risk from when it was recorded", async () => {
    await customer(tenant, "racer");
    await subscribe(tenant, "racer", "basic", T("2025-01-01T00:00:00Z"));
    const now = Date.now();
    // Its window is the billing period, ending in three weeks.
    await env.DB.prepare(
      `INSERT INTO signals (tenant_id, id, idempotency_key, detector, customer_id, window_start,
         window_end, magnitude, details, source_event_ids, status, created_at)
       VALUES (?, 'sig_pace', 'kp', 'QuotaPacingProjectionService', 'racer', ?, ?, 1.2, '{}', '[]', 'open', ?)`,
    )
      .bind(tenant.tenant_id, now - 7 * 86_400_000, now + 21 * 86_400_000, now - 60_000)
      .run();
    const c = await cockpit(new Date(now).toISOString());
    expect(c.health.at_risk_customers).toBe(1);
    expect(c.health.at_risk.active).toBe(1);
    // Not before it was recorded.
    expect((await cockpit(new Date(now - 3_600_000).toISOString())).health.at_risk_customers).toBe(
      0,
    );
  });
});

describe("metrics routes: errors and security", () => {
  it("refuses a future as_of, a bad date and bad ranges", async () => {
    expectProblem(
      await a.get("/api/metrics/cockpit?as_of=2999-01-01T00:00:00Z"),
      400,
      "validation_failed",
    );
    expectProblem(await a.get("/api/metrics/cockpit?as_of=yesterday"), 400, "validation_failed");
    expectProblem(
      await a.get("/api/metrics/mrr?from=2025-06&to=2025-01"),
      400,
      "validation_failed",
    );
    expectProblem(await a.get("/api/metrics/mrr?granularity=week"), 400, "validation_failed");
  });

  it("needs an operator token; an ingest key is refused", async () => {
    for (const path of ["/api/metrics/cockpit", "/api/metrics/mrr", "/api/metrics/snapshots"]) {
      expectProblem(await call("GET", path), 401, "unauthorized");
      expectProblem(await call("GET", path, { token: tenant.ingest_key }), 403, "wrong_key_kind");
    }
    expectProblem(await call("POST", "/api/metrics/refresh"), 401, "unauthorized");
  });

  it("never shows another tenant's subscriptions", async () => {
    await customer(tenant, "acme");
    await subscribe(tenant, "acme", "basic", T("2025-01-01T00:00:00Z"));
    const other = await createTenant("Other");
    const c = await ok(api(other).get("/api/metrics/cockpit?as_of=2025-06-01T00:00:00Z"));
    expect(c.mrr.value).toBe("0.00");
    expect(c.active_subscriptions.value).toBe(0);
    const m = await ok(api(other).get("/api/metrics/mrr?from=2025-01&to=2025-06"));
    expect(m.periods.every((p: { end_mrr: string }) => p.end_mrr === "0.00")).toBe(true);
  });

  it("documents every billing route in /openapi.json", async () => {
    const doc = (await call("GET", "/openapi.json")).body;
    for (const path of [
      "/api/metrics/cockpit",
      "/api/metrics/mrr",
      "/api/metrics/refresh",
      "/api/margin/products",
      "/api/margin/customers",
      "/api/margin/customers/{id}",
      "/api/invoices",
      "/api/invoices/{id}",
      "/api/invoices/{id}/pay",
      "/api/invoices/{id}/void",
      "/api/invoices/run",
      "/api/subscriptions/{id}/change",
      "/api/subscriptions/{id}/cancel",
      "/api/subscriptions/{id}/status",
    ]) {
      expect(doc.paths[path], path).toBeDefined();
    }
  });

  it("keeps a history of snapshots and refreshes on demand", async () => {
    const r = await ok(a.post("/api/metrics/refresh"));
    expect(r.cockpit_as_of).toMatch(/Z$/);
    const list = await ok(a.get("/api/metrics/snapshots"));
    expect(list.data.length).toBeGreaterThanOrEqual(1);
    expect(list.data[0]).toMatchObject({ as_of: r.cockpit_as_of, mrr: "0.00" });
  });
});
