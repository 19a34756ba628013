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
import { call, createTenant, expectProblem, type Tenant } from "./helpers";

// An invoice traced to its sources (GET /api/invoices/:id/trace, /events?line=N): usage lines to
// the rollups and the very events they were priced from, fee lines and adjustments apart, and
// the lines adding up to the total.

let tenant: Tenant;
let a: ReturnType<typeof api>;
// biome-ignore lint/suspicious/noExplicitAny: JSON answers of the API under test
type Json = any;

beforeEach(async () => {
  tenant = await createTenant();
  a = api(tenant);
  await clockSettled(tenant);
  await product(tenant);
  await plan(tenant, "metered", [
    { type: "flat", amount: "49" },
    { type: "included", metric: "input_tokens", quantity: "1000" },
    { type: "per_unit", metric: "input_tokens", unit_price: "0.01" },
  ]);
});

describe("invoice trace", () => {
  it("usage lines match the rollups and list the events they were priced from", async () => {
    const now = Date.now();
    const start = monthStart(now, -1);
    await customer(tenant, "acme");
    await subscribe(tenant, "acme", "metered", start);
    // Three events inside last month's period, one in the current one (not on that invoice).
    const inPeriod = [start + 2 * DAY, start + 5 * DAY, start + 9 * DAY];
    await send(tenant, [
      tokens("acme", inPeriod[0] as number, 800),
      tokens("acme", inPeriod[1] as number, 1200),
      tokens("acme", inPeriod[2] as number, 500),
      tokens("acme", Math.max(monthStart(now), now - 60_000), 300),
    ]);
    await settle(tenant, ["acme"], 4);
    await ok(a.post("/api/invoices/run", {}));
    const list: Json = await ok(a.get("/api/invoices?customer=acme"));
    const inv = list.data.find((i: Json) => Date.parse(i.period.start) === start);
    expect(inv).toBeDefined();
    // 2,500 tokens − 1,000 included = 1,500 × $0.01 = $15, + $49 flat.
    expect(inv.total).toBe("64.00");

    const detail: Json = await ok(a.get(`/api/invoices/${inv.id}`));
    const kinds = Object.fromEntries(detail.lines.map((l: Json) => [l.type, l.kind]));
    expect(kinds).toMatchObject({ flat: "fee", per_unit: "usage", included: "usage" });

    const trace: Json = await ok(a.get(`/api/invoices/${inv.id}/trace`));
    expect(trace.lines_total).toBe(trace.total);
    expect(trace.kinds).toEqual({ usage: "15.00", fee: "49.00", adjustment: "0.00" });
    expect(trace.usage).toHaveLength(1);
    const g = trace.usage[0];
    expect(g).toMatchObject({
      metric: "input_tokens",
      amount: "15.00",
      matches: true,
      rollups: { units: "2500", revenue: "15.00", events: 3 },
    });

    const perUnit = detail.lines.find((l: Json) => l.type === "per_unit");
    const events: Json = await ok(
      a.get(`/api/invoices/${inv.id}/events?line=${perUnit.position}&limit=2`),
    );
    expect(events.data).toHaveLength(2);
    const rest: Json = await ok(
      a.get(
        `/api/invoices/${inv.id}/events?line=${perUnit.position}&limit=2&cursor=${events.next_cursor}`,
      ),
    );
    const all = [...events.data, ...rest.data];
    expect(rest.next_cursor).toBeNull();
    expect(all.map((e: Json) => Date.parse(e.time)).sort()).toEqual([...inPeriod].sort());
    // Without a line: the same three, the whole period's events of the invoice's product.
    const whole: Json = await ok(a.get(`/api/invoices/${inv.id}/events`));
    expect(whole.data.map((e: Json) => e.id).sort()).toEqual(all.map((e: Json) => e.id).sort());
    // The events' revenue adds up to the usage lines.
    const cents = all.reduce((s: number, e: Json) => s + Math.round(Number(e.revenue) * 100), 0);
    expect(cents).toBe(1500);
  });

  it("a fee line has no events; a missing line, a missing invoice and another tenant are refused", async () => {
    const now = Date.now();
    await customer(tenant, "acme");
    await subscribe(tenant, "acme", "metered", monthStart(now, -1));
    await ok(a.post("/api/invoices/run", {}));
    const inv = (await ok(a.get("/api/invoices?customer=acme"))).data.at(-1);
    const detail: Json = await ok(a.get(`/api/invoices/${inv.id}`));
    const flat = detail.lines.find((l: Json) => l.type === "flat");
    expectProblem(
      await a.get(`/api/invoices/${inv.id}/events?line=${flat.position}`),
      400,
      "validation_failed",
    );
    expectProblem(await a.get(`/api/invoices/${inv.id}/events?line=999`), 400, "validation_failed");
    // Without a line: the invoice's period and product, every metric (none sent here).
    expect((await ok(a.get(`/api/invoices/${inv.id}/events`))).data).toEqual([]);
    expectProblem(await a.get("/api/invoices/inv_nope/trace"), 404, "not_found");
    const other = await createTenant();
    const res = await call("GET", `/api/invoices/${inv.id}/trace`, { token: other.operator_token });
    expectProblem(res, 404, "not_found");
  });
});
