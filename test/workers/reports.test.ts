import { parquetReadObjects } from "hyparquet";
import { beforeAll, describe, expect, it } from "vitest";
import { base64url } from "../../workers/auth";
import {
  api,
  clockSettled,
  customer,
  DAY,
  eventRevenue,
  HOUR,
  isoOf,
  ok,
  plan,
  product,
  send,
  settle,
  subscribe,
  tokens,
} from "./billing-helpers";
import { call, createTenant, expectProblem, type Tenant } from "./helpers";

// Reports (issue 15, docs/reports.md) through the public API: usage sent through /v1/events,
// then every usage measure and dimension against hand-computed figures and against the events
// drill-down to the cent; another tenant's rows never appear; CSV and Parquet of one query hold
// the JSON answer's rows; saved reports; and a refused query names its field.

let tenant: Tenant;
let other: Tenant;
let a: ReturnType<typeof api>;

const TODAY = Math.floor(Date.now() / DAY) * DAY;
const DAY0 = TODAY - 3 * DAY;
const FROM = isoOf(DAY0);
const TO = isoOf(TODAY);
const encode = (q: unknown) => base64url(new TextEncoder().encode(JSON.stringify(q)));

const run = (q: unknown, t: Tenant = tenant) =>
  call("POST", "/api/reports/run", { token: t.operator_token, body: q });

beforeAll(async () => {
  tenant = await createTenant("Reports AI");
  other = await createTenant("Someone Else");
  a = api(tenant);
  await clockSettled(tenant);
  await clockSettled(other);
  for (const t of [tenant, other]) {
    await product(t);
    await plan(t, "payg", [
      { type: "per_unit", metric: "input_tokens", unit_price: "0.001" },
      { type: "per_unit", metric: "output_tokens", unit_price: "0.002" },
    ]);
  }
  await plan(tenant, "pro", [{ type: "per_unit", metric: "input_tokens", unit_price: "0.0005" }]);
  await ok(a.post("/api/customers", { id: "acme", name: "Acme", metadata: { segment: "smb" } }));
  await customer(tenant, "globex");
  await subscribe(tenant, "acme", "payg", DAY0 - 10 * DAY);
  await subscribe(tenant, "globex", "pro", DAY0 - 10 * DAY);
  await customer(other, "acme");
  await subscribe(other, "acme", "payg", DAY0 - 10 * DAY);

  // acme: day 0 at 02:xx 1,000 input ($1.00, cost $0.25) and 500 output ($1.00, cost $0.40);
  //       day 1 at 05:xx 3,000 input ($3.00, cost $0.50).
  // globex (pro, $0.0005): day 0 at 02:xx 2,000 input ($1.00, cost $1.20: a loss);
  //       day 2 at 01:xx 10,000 input ($5.00, no cost given).
  await send(tenant, [
    tokens("acme", DAY0 + 2 * HOUR + 60_000, 1_000, { cost: { usd: 0.25 } }),
    tokens("acme", DAY0 + 2 * HOUR + 120_000, 500, {
      metric: "output_tokens",
      cost: { usd: 0.4 },
    }),
    tokens("acme", DAY0 + DAY + 5 * HOUR + 60_000, 3_000, { cost: { usd: 0.5 } }),
    tokens("globex", DAY0 + 2 * HOUR + 60_000, 2_000, { cost: { usd: 1.2 } }),
    tokens("globex", DAY0 + 2 * DAY + HOUR + 60_000, 10_000),
  ]);
  // The other tenant: the same customer id, a day it never shares.
  await send(other, [tokens("acme", DAY0 + 2 * HOUR + 60_000, 99_000, { cost: { usd: 9 } })]);
  await settle(tenant, ["acme", "globex"], 5);
  await settle(other, ["acme"], 1);
});

describe("reports: usage", () => {
  it("gives every measure by customer, to the cent, and the totals over all rows", async () => {
    const res = await run({
      dataset: "usage",
      measures: ["units", "events", "revenue", "cogs", "margin", "margin_pct"],
      dimensions: ["customer"],
      time: { from: FROM, to: TO, time_zone: "UTC" },
      order_by: [{ field: "customer", direction: "asc" }],
    });
    expect(res.status).toBe(200);
    const body = res.body;
    expect(body.columns.map((c: { name: string }) => c.name)).toEqual([
      "customer",
      "units",
      "events",
      "revenue",
      "cogs",
      "margin",
      "margin_pct",
    ]);
    expect(body.rows).toHaveLength(2);
    const [acme, globex] = body.rows;
    expect(acme).toMatchObject({ customer: "acme", units: 4500, events: 3 });
    expect(Number(acme.revenue)).toBeCloseTo(5, 9);
    expect(Number(acme.cogs)).toBeCloseTo(1.15, 9);
    expect(Number(acme.margin)).toBeCloseTo(3.85, 9);
    expect(Number(acme.margin_pct)).toBeCloseTo(0.77, 9); // a ratio, as the catalog says
    expect(globex).toMatchObject({ customer: "globex", units: 12_000, events: 2 });
    expect(Number(globex.revenue)).toBeCloseTo(6, 9);
    expect(Number(globex.cogs)).toBeCloseTo(1.2, 9);
    expect(body.totals).toMatchObject({ units: 16_500, events: 5 });
    expect(Number(body.totals.revenue)).toBeCloseTo(11, 9);
    expect(body.truncated).toBe(false);
    expect(body.query.limit).toBeGreaterThan(0);
    expect(Date.parse(body.data_as_of)).toBeGreaterThan(DAY0);
    // Money as exact decimal strings, not floats.
    expect(typeof acme.revenue).toBe("string");
  });

  it("revenue by customer and day equals the events' drill-down to the cent", async () => {
    const res = await run({
      dataset: "usage",
      measures: ["revenue", "events"],
      dimensions: ["customer", "time"],
      time: { from: FROM, to: TO, granularity: "day", time_zone: "UTC" },
    });
    expect(res.status).toBe(200);
    const rows = res.body.rows as { customer: string; time: string; revenue: string }[];
    expect(rows.length).toBe(4);
    for (const r of rows) {
      const start = Date.parse(r.time);
      expect(start % DAY).toBe(0);
      const drill = await eventRevenue(tenant, r.customer, start, start + DAY);
      const cents = (s: string) => Math.round(Number(s) * 100);
      expect(cents(r.revenue)).toBe(Number(drill / 10_000_000n));
    }
    // Time ascending by default when time is a dimension.
    const times = rows.map((r) => Date.parse(r.time));
    expect([...times].sort((x, y) => x - y)).toEqual(times);
  });

  it("cuts by product, metric, plan, segment and hour of week", async () => {
    const res = await run({
      dataset: "usage",
      measures: ["units"],
      dimensions: ["metric", "plan", "segment"],
      time: { from: FROM, to: TO, time_zone: "UTC" },
      order_by: [{ field: "units", direction: "desc" }],
    });
    expect(res.status).toBe(200);
    expect(res.body.rows).toEqual([
      { metric: "input_tokens", plan: "pro", segment: null, units: 12_000 },
      { metric: "input_tokens", plan: "payg", segment: "smb", units: 4_000 },
      { metric: "output_tokens", plan: "payg", segment: "smb", units: 500 },
    ]);

    const how = await run({
      dataset: "usage",
      measures: ["events"],
      dimensions: ["hour_of_week"],
      filters: [{ dimension: "customer", op: "is", values: ["acme"] }],
      time: { from: FROM, to: TO, time_zone: "UTC" },
      order_by: [{ field: "hour_of_week", direction: "asc" }],
    });
    expect(how.status).toBe(200);
    const dow = (t: number) => (new Date(t).getUTCDay() + 6) % 7; // Monday 0
    expect(how.body.rows).toEqual([
      ...[
        { hour_of_week: dow(DAY0) * 24 + 2, events: 2 },
        { hour_of_week: dow(DAY0 + DAY) * 24 + 5, events: 1 },
      ].sort((x, y) => x.hour_of_week - y.hour_of_week),
    ]);
  });

  it("filters with is_not and contains, and never shows another tenant's rows", async () => {
    const res = await run({
      dataset: "usage",
      measures: ["units"],
      dimensions: ["customer"],
      filters: [{ dimension: "customer", op: "is_not", values: ["globex"] }],
      time: { from: FROM, to: TO, time_zone: "UTC" },
    });
    expect(res.body.rows).toEqual([{ customer: "acme", units: 4500 }]);
    const theirs = await run(
      {
        dataset: "usage",
        measures: ["units"],
        dimensions: ["customer"],
        time: { from: FROM, to: TO, time_zone: "UTC" },
      },
      other,
    );
    expect(theirs.body.rows).toEqual([{ customer: "acme", units: 99_000 }]);
    const contains = await run({
      dataset: "usage",
      measures: ["units"],
      dimensions: [],
      filters: [{ dimension: "customer", op: "contains", values: ["glob"] }],
      time: { from: FROM, to: TO, time_zone: "UTC" },
    });
    expect(contains.body.totals.units).toBe(12_000);
  });

  it("compares with the previous period", async () => {
    const res = await run({
      dataset: "usage",
      measures: ["units"],
      dimensions: [],
      time: { from: isoOf(DAY0 + DAY), to: isoOf(DAY0 + 2 * DAY), time_zone: "UTC" },
      compare_to: "previous_period",
    });
    expect(res.status).toBe(200);
    expect(res.body.totals.units).toBe(3000);
    expect(res.body.comparison).toMatchObject({ from: FROM, totals: { units: 3500 } });
  });
});

describe("reports: other datasets", () => {
  it("counts subscriptions by plan", async () => {
    const res = await run({
      dataset: "subscriptions",
      measures: ["count"],
      dimensions: ["plan"],
      time: { from: FROM, to: TO, time_zone: "UTC" },
      order_by: [{ field: "plan", direction: "asc" }],
    });
    expect(res.status).toBe(200);
    expect(res.body.rows).toEqual([
      { plan: "payg", count: 1 },
      { plan: "pro", count: 1 },
    ]);
  });

  it("serves a catalog naming each dataset's measures and dimensions", async () => {
    const res = await a.get("/api/reports/datasets");
    expect(res.status).toBe(200);
    const usage = res.body.data.find((d: { name: string }) => d.name === "usage");
    expect(usage.measures.map((m: { name: string }) => m.name)).toEqual([
      "units",
      "events",
      "revenue",
      "cogs",
      "margin",
      "margin_pct",
    ]);
    for (const d of res.body.data) expect(d.measures.length).toBeGreaterThan(0);
  });
});

describe("reports: files", () => {
  const query = {
    dataset: "usage",
    measures: ["units", "revenue"],
    dimensions: ["customer", "time"],
    time: { from: FROM, to: TO, granularity: "day", time_zone: "UTC" },
  };

  it("CSV and Parquet of a query hold the JSON answer's rows", async () => {
    const json = (await run(query)).body;
    const csv = await call("GET", `/api/reports/run.csv?q=${encode(query)}`, {
      token: tenant.operator_token,
    });
    expect(csv.status).toBe(200);
    expect(csv.contentType).toContain("text/csv");
    const lines = (csv.body as string).trim().split(/\r?\n/);
    expect(lines[0]).toBe("customer,time,units,revenue");
    expect(lines.slice(1)).toEqual(
      json.rows.map(
        (r: Record<string, unknown>) => `${r.customer},${r.time},${r.units},${r.revenue}`,
      ),
    );

    const { exports } = await import("cloudflare:workers");
    const res = await exports.default.fetch(
      `http://aforo.test/api/reports/run.parquet?q=${encode(query)}`,
      { headers: { authorization: `Bearer ${tenant.operator_token}` } },
    );
    expect(res.status).toBe(200);
    expect(res.headers.get("content-disposition")).toMatch(/attachment; filename="report-usage-/);
    const rows = await parquetReadObjects({ file: await res.arrayBuffer() });
    expect(rows.length).toBe(json.rows.length);
    rows.forEach((r, i) => {
      const want = json.rows[i];
      expect(String(r.customer)).toBe(want.customer);
      expect(Number(r.units)).toBe(want.units);
      expect(String(r.revenue)).toBe(want.revenue);
      const t =
        r.time instanceof Date ? r.time.toISOString() : new Date(Number(r.time)).toISOString();
      expect(Date.parse(t)).toBe(Date.parse(want.time));
    });
  });

  it("refuses a q that is not base64url JSON", async () => {
    const res = await call("GET", "/api/reports/run.csv?q=%%%", { token: tenant.operator_token });
    expectProblem(res, 400, "validation_failed");
  });
});

describe("reports: refused queries name the field", () => {
  const base = {
    dataset: "usage",
    measures: ["units"],
    dimensions: ["customer"],
    time: { from: FROM, to: TO },
  };
  const cases: [string, unknown, string][] = [
    [
      "a dimension the dataset lacks",
      { ...base, dimensions: ["customer", "decline_code"] },
      "dimensions.1",
    ],
    ["an unknown measure", { ...base, measures: ["profit"] }, "measures.0"],
    ["a range ending before it starts", { ...base, time: { from: TO, to: FROM } }, "time"],
    [
      "an unknown time zone",
      { ...base, time: { from: FROM, to: TO, time_zone: "Mars/Olympus" } },
      "time.time_zone",
    ],
    [
      "a filter on an unknown dimension",
      { ...base, filters: [{ dimension: "colour", op: "is", values: ["red"] }] },
      "filters.0.dimension",
    ],
    [
      "an order on a field outside the query",
      { ...base, order_by: [{ field: "product", direction: "asc" }] },
      "order_by.0.field",
    ],
  ];
  for (const [what, q, path] of cases) {
    it(`refuses ${what}`, async () => {
      const res = await run(q);
      expectProblem(res, 400, "validation_failed");
      const paths = (res.body.errors as { path: string }[]).map((e) => e.path);
      expect(paths.some((p) => p === path || p.startsWith(`${path}.`))).toBe(true);
    });
  }
});

describe("reports: saved", () => {
  it("creates, lists, reads, changes and deletes a saved report, checking its query", async () => {
    const query = {
      dataset: "usage",
      measures: ["revenue"],
      dimensions: ["customer"],
      time: { from: FROM, to: TO },
    };
    const bad = await a.post("/api/reports", {
      name: "Broken",
      query: { ...query, dimensions: ["decline_code"] },
    });
    expectProblem(bad, 400, "validation_failed");
    expect(bad.body.errors[0].path).toBe("query.dimensions.0");

    const created = await ok(a.post("/api/reports", { name: "Revenue by customer", query }));
    expect(created).toMatchObject({ name: "Revenue by customer", view: "table", template: null });
    expect(created.created_by).toBeTruthy();
    const list = await ok(a.get("/api/reports"));
    expect(list.data.map((r: { id: string }) => r.id)).toContain(created.id);
    expect((await ok(a.get(`/api/reports/${created.id}`))).query).toMatchObject(query);

    const patched = await call("PATCH", `/api/reports/${created.id}`, {
      token: tenant.operator_token,
      body: { name: "Revenue, per customer", view: "bar" },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ name: "Revenue, per customer", view: "bar" });

    // Another tenant cannot see it.
    const theirs = await call("GET", `/api/reports/${created.id}`, { token: other.operator_token });
    expectProblem(theirs, 404, "not_found");

    const del = await call("DELETE", `/api/reports/${created.id}`, {
      token: tenant.operator_token,
    });
    expect(del.status).toBe(204);
    expectProblem(await a.get(`/api/reports/${created.id}`), 404, "not_found");
  });
});

describe("reports: templates", () => {
  it("lists the templates first, each runnable, read-only, their ranges ending today", async () => {
    const list = await ok(a.get("/api/reports"));
    const templates = list.data.filter((r: { template: string | null }) => r.template !== null);
    expect(templates.length).toBeGreaterThanOrEqual(10);
    expect(list.data.slice(0, templates.length)).toEqual(templates);
    for (const t of templates) {
      expect(t.id).toBe(`tpl_${t.template}`);
      expect(Date.parse(t.query.time.to)).toBeGreaterThan(Date.now());
      const res = await run(t.query);
      expect(res.status, `${t.name}: ${JSON.stringify(res.body)}`).toBe(200);
    }
    const summary = await ok(a.get("/api/reports/tpl_revenue_summary"));
    expect(summary).toMatchObject({ name: "Revenue Summary", template: "revenue_summary" });
    const answer = (await run(summary.query)).body;
    expect(Number(answer.totals.revenue)).toBeCloseTo(11, 9);

    const patch = await call("PATCH", "/api/reports/tpl_revenue_summary", {
      token: tenant.operator_token,
      body: { name: "Mine now" },
    });
    expectProblem(patch, 409, "conflict");
    const del = await call("DELETE", "/api/reports/tpl_revenue_summary", {
      token: tenant.operator_token,
    });
    expectProblem(del, 409, "conflict");
    expectProblem(await a.get("/api/reports/tpl_no_such_template"), 404, "not_found");
  });
});
