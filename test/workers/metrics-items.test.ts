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

// The lists behind the cockpit's tiles (GET /api/metrics/cockpit/items?kpi): every tile opens
// the rows its number counts or sums, and on a book with every kind of movement the rows add up
// to the tile of GET /api/metrics/cockpit at the same as_of, exactly.

let tenant: Tenant;
let a: ReturnType<typeof api>;
const T = (s: string) => Date.parse(s);
const cents = (s: string) => BigInt(Math.round(Number(s) * 100));
// biome-ignore lint/suspicious/noExplicitAny: JSON answers of the API under test
type Json = any;

/** Every page of a tile's list. */
async function items(kpi: string, asOf: string, limit = 3): Promise<{ first: Json; rows: Json[] }> {
  let cursor: string | null = null;
  let first: Json = null;
  const rows: Json[] = [];
  do {
    const q = new URLSearchParams({ kpi, as_of: asOf, limit: String(limit) });
    if (cursor) q.set("cursor", cursor);
    const page: Json = await ok(a.get(`/api/metrics/cockpit/items?${q}`));
    first ??= page;
    rows.push(...page.data);
    cursor = page.next_cursor;
  } while (cursor);
  return { first, rows };
}

const sum = (rows: Json[], key: string) => rows.reduce((s, r) => s + cents(r[key]), 0n);

beforeEach(async () => {
  tenant = await createTenant();
  a = api(tenant);
  await clockSettled(tenant);
  await product(tenant);
  await plan(tenant, "basic", [{ type: "flat", amount: "100" }]);
  await plan(tenant, "plus", [{ type: "flat", amount: "250" }]);
  await plan(tenant, "trial-pro", [{ type: "flat", amount: "300" }], { trial_days: 14 });
  await plan(tenant, "metered", [
    { type: "flat", amount: "20" },
    { type: "per_unit", metric: "input_tokens", unit_price: "0.01" },
  ]);
});

describe("cockpit drill-downs", () => {
  it("each tile's list adds up to the tile: MRR, NRR, churn, trials, subscriptions, invoices", async () => {
    const now = Date.now();
    const start = monthStart(now, -5);
    for (const id of ["stay", "grow", "leave", "late", "converts", "lapses", "heavy"]) {
      await customer(tenant, id);
    }
    await subscribe(tenant, "stay", "basic", start);
    const grow = await subscribe(tenant, "grow", "basic", start);
    await ok(
      a.post(`/api/subscriptions/${grow.id}/change`, { plan: "plus", at: isoOf(now - 20 * DAY) }),
    );
    const leave = await subscribe(tenant, "leave", "basic", start);
    await ok(a.post(`/api/subscriptions/${leave.id}/cancel`, { at: isoOf(now - 10 * DAY) }));
    await subscribe(tenant, "late", "plus", start);
    await subscribe(tenant, "converts", "trial-pro", now - 25 * DAY);
    const lapses = await subscribe(tenant, "lapses", "trial-pro", now - 24 * DAY);
    await ok(a.post(`/api/subscriptions/${lapses.id}/cancel`, { at: isoOf(now - 15 * DAY) }));
    await subscribe(tenant, "heavy", "metered", start);
    await send(tenant, [
      tokens("heavy", now - 3 * DAY, 30_000),
      tokens("heavy", now - 50 * DAY, 9_000),
    ]);
    await settle(tenant, ["heavy"], 2);
    await ok(a.post("/api/invoices/run", {}));
    // Pay everything but "late"'s invoices, which stay outstanding.
    const open: Json[] = (await ok(a.get("/api/invoices?status=open&limit=200"))).data;
    for (const inv of open.filter((i) => i.customer !== "late")) {
      await ok(a.post(`/api/invoices/${inv.id}/pay`, {}));
    }

    const asOf = isoOf(Date.now());
    const c: Json = await ok(a.get(`/api/metrics/cockpit?as_of=${encodeURIComponent(asOf)}`));

    // MRR (and ARR, ARPU): paying customers by MRR.
    for (const kpi of ["mrr", "arr", "arpu"]) {
      const { first, rows } = await items(kpi, asOf);
      expect(first.summary.mrr).toBe(c.mrr.value);
      expect(rows).toHaveLength(c.arpu.paying_customers);
      expect(first.total_items).toBe(rows.length);
      expect(sum(rows, "mrr")).toBe(cents(c.mrr.value));
      expect(sum(rows, "committed")).toBe(cents(c.mrr.committed));
      expect(sum(rows, "usage")).toBe(cents(c.mrr.usage));
    }
    const mrrRows = (await items("mrr", asOf, 50)).rows;
    expect(mrrRows[0]).toMatchObject({ customer_id: "heavy", customer_name: "heavy" }); // $320
    expect(mrrRows.map((r: Json) => r.customer_id)).not.toContain("leave");
    expect(mrrRows.map((r: Json) => r.customer_id)).not.toContain("lapses");

    // NRR: the cohort, start and current MRR summing to the tile's.
    const nrr = await items("nrr", asOf);
    expect(nrr.rows).toHaveLength(c.nrr.cohort_customers);
    expect(sum(nrr.rows, "start_mrr")).toBe(cents(c.nrr.starting_mrr));
    expect(sum(nrr.rows, "current_mrr")).toBe(cents(c.nrr.current_mrr));
    expect(nrr.first.summary).toMatchObject({ window: c.nrr.window, value: c.nrr.value });
    expect(nrr.rows.find((r: Json) => r.customer_id === "leave")).toMatchObject({
      start_mrr: "100.00",
      current_mrr: "0.00",
      change: "-100.00",
    });

    // Churn: the customers who stopped paying in the window.
    const churn = await items("customer_churn", asOf);
    expect(churn.rows).toHaveLength(c.customer_churn.churned);
    expect(c.customer_churn.churned).toBe(1);
    expect(churn.rows[0]).toMatchObject({
      customer_id: "leave",
      mrr: "100.00",
      paying_at_start: true,
    });
    expect(sum(churn.rows, "mrr")).toBe(cents(c.customer_churn.churned_mrr));

    // Trial conversion: the trials that ended, converted and lapsed.
    const trials = await items("trial_conversion", asOf);
    expect(trials.rows).toHaveLength(c.trial_conversion.ended);
    expect(trials.rows.filter((r: Json) => r.converted)).toHaveLength(c.trial_conversion.converted);
    expect(trials.rows.map((r: Json) => [r.customer_id, r.status]).sort()).toEqual([
      ["converts", "converted"],
      ["lapses", "lapsed"],
    ]);

    // Active subscriptions: the counted rows are the tile; the parts are the donut's slices.
    const subs = await items("active_subscriptions", asOf);
    const counted = subs.rows.filter((r: Json) => r.counted);
    expect(counted).toHaveLength(c.active_subscriptions.value);
    for (const s of ["active", "past_due", "trialing", "suspended"] as const) {
      expect(
        subs.rows.filter((r: Json) => r.status === s),
        s,
      ).toHaveLength(c.active_subscriptions[s]);
      expect(c.health.slices[s], s).toBe(c.active_subscriptions[s]);
    }

    // Outstanding invoices: "late"'s, summing to the tile, most overdue first.
    const inv = await items("outstanding_invoices", asOf);
    expect(inv.rows).toHaveLength(c.outstanding_invoices.count);
    expect(inv.rows.length).toBeGreaterThan(0);
    expect(new Set(inv.rows.map((r: Json) => r.customer_id))).toEqual(new Set(["late"]));
    expect(sum(inv.rows, "total")).toBe(cents(c.outstanding_invoices.total));
    const days = inv.rows.map((r: Json) => r.days_past_due);
    expect([...days].sort((x, y) => y - x)).toEqual(days);
    const pastDue = inv.rows.filter((r: Json) => r.days_past_due > 0);
    for (const r of pastDue) expect(r.aging_bucket).not.toBe("current");
  });

  it("a past as_of gives that date's list; a drill-down is per tenant", async () => {
    await customer(tenant, "early");
    await subscribe(tenant, "early", "basic", T("2025-01-01T00:00:00Z"));
    const then = await items("mrr", "2025-02-01");
    expect(then.rows.map((r: Json) => r.customer_id)).toEqual(["early"]);
    expect((await items("mrr", "2024-12-01")).rows).toEqual([]);
    const other = await createTenant();
    const res = await call("GET", "/api/metrics/cockpit/items?kpi=mrr&as_of=2025-02-01", {
      token: other.operator_token,
    });
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual([]);
  });

  it("refuses an unknown KPI, a future as_of and a forged cursor", async () => {
    expectProblem(await a.get("/api/metrics/cockpit/items?kpi=revenue"), 400, "validation_failed");
    expectProblem(await a.get("/api/metrics/cockpit/items"), 400, "validation_failed");
    const future = isoOf(Date.now() + 2 * DAY);
    expectProblem(
      await a.get(`/api/metrics/cockpit/items?kpi=mrr&as_of=${encodeURIComponent(future)}`),
      400,
      "validation_failed",
    );
    expectProblem(
      await a.get("/api/metrics/cockpit/items?kpi=mrr&cursor=abc"),
      400,
      "validation_failed",
    );
    const res = await call("GET", "/api/metrics/cockpit/items?kpi=mrr");
    expect(res.status).toBe(401);
  });
});
