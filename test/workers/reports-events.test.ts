import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { MAX_ACTORS_PER_QUERY } from "../../domain/reports/compile-events";
import { base64url } from "../../workers/auth";
import {
  api,
  clockSettled,
  customer,
  DAY,
  HOUR,
  isoOf,
  nanos,
  ok,
  plan,
  product,
  send,
  settle,
  subscribe,
  tokens,
} from "./billing-helpers";
import { call, createTenant, expectProblem, type Tenant } from "./helpers";

// The `events` report dataset (docs/reports.md): raw events read from each customer's actor by
// scatter-gather. Events for three customers carry session ids and providers/models; the report
// by session and by provider × model must equal the usage dataset's totals (the rollups) to the
// nano over the same range; another tenant's events never appear (the same customer id, its own
// actor); a range past raw retention and a query over too many customers are refused naming
// the field; CSV goes the same way; the events template and COGS Breakdown run.

let tenant: Tenant;
let other: Tenant;

const TODAY = Math.floor(Date.now() / DAY) * DAY;
const DAY0 = TODAY - 3 * DAY;
const RANGE = { from: isoOf(DAY0), to: isoOf(TODAY), time_zone: "UTC" };
const run = (q: unknown, t: Tenant = tenant) =>
  call("POST", "/api/reports/run", { token: t.operator_token, body: q });

/** An agent run: LLM calls (input tokens, cost from the event) sharing a session id. */
const llm = (
  who: string,
  session: string | null,
  at: number,
  quantity: number,
  usd: number,
  provider = "anthropic",
  model = "claude-sonnet-4-5",
) =>
  tokens(who, at, quantity, {
    cost: { usd, provider, model, input_tokens: quantity },
    ...(session ? { properties: { session_id: session, endpoint: "/v1/agent" } } : {}),
  });

beforeAll(async () => {
  tenant = await createTenant("Events AI");
  other = await createTenant("Events Elsewhere");
  await clockSettled(tenant);
  await clockSettled(other);
  for (const t of [tenant, other]) {
    await product(t);
    await plan(t, "payg", [
      { type: "per_unit", metric: "input_tokens", unit_price: "0.001" },
      { type: "per_unit", metric: "output_tokens", unit_price: "0.002" },
    ]);
  }
  for (const id of ["acme", "globex", "initech"]) {
    await customer(tenant, id);
    await subscribe(tenant, id, "payg", DAY0 - 10 * DAY);
  }
  await customer(other, "acme");
  await subscribe(other, "acme", "payg", DAY0 - 10 * DAY);

  const m = 60_000;
  await send(tenant, [
    // acme: session a1 over 10 minutes (3 calls, two models), session a2, a call without one.
    llm("acme", "a1", DAY0 + 2 * HOUR, 1_000, 0.25),
    llm("acme", "a1", DAY0 + 2 * HOUR + 4 * m, 2_000, 0.5),
    tokens("acme", DAY0 + 2 * HOUR + 10 * m, 300, {
      metric: "output_tokens",
      cost: { usd: 0.1234, provider: "openai", model: "gpt-4.1", output_tokens: 300 },
      properties: { session_id: "a1" },
    }),
    llm("acme", "a2", DAY0 + DAY + 5 * HOUR, 500, 0.05, "openai", "gpt-4.1"),
    llm("acme", null, DAY0 + DAY + 6 * HOUR, 700, 0.07),
    // globex: one long, expensive session across an hour boundary.
    llm("globex", "g1", DAY0 + DAY + 9 * HOUR + 50 * m, 10_000, 3.333333333),
    llm("globex", "g1", DAY0 + DAY + 10 * HOUR + 5 * m, 20_000, 6.666666667),
    // initech: no cost (uncosted usage still counts its revenue and events).
    tokens("initech", DAY0 + 2 * DAY + HOUR, 4_000, { properties: { session_id: "i1" } }),
  ]);
  // The other tenant: the same customer id and session id, a provider never seen above.
  await send(other, [llm("acme", "a1", DAY0 + 2 * HOUR, 99_000, 9, "mistral", "large")]);
  await settle(tenant, ["acme", "globex", "initech"], 8);
  await settle(other, ["acme"], 1);
});

/** The usage dataset's totals over the same range (the rollups): the figures to match. */
async function usageTotals() {
  const res = await run({
    dataset: "usage",
    measures: ["units", "events", "revenue", "cogs"],
    dimensions: [],
    time: RANGE,
  });
  expect(res.status).toBe(200);
  return res.body.totals;
}

describe("reports: events", () => {
  it("answers per session, and its totals equal the usage dataset's to the nano", async () => {
    const res = await run({
      dataset: "events",
      measures: ["cogs", "revenue", "margin", "input_tokens", "output_tokens", "events", "units"],
      dimensions: ["customer", "properties.session_id"],
      time: RANGE,
      order_by: [{ field: "cogs", direction: "desc" }],
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const rows = res.body.rows;
    expect(
      rows.map((r: Record<string, unknown>) => [r.customer, r["properties.session_id"]]),
    ).toEqual([
      ["globex", "g1"],
      ["acme", "a1"],
      ["acme", null],
      ["acme", "a2"],
      ["initech", "i1"],
    ]);
    expect(rows[0]).toMatchObject({
      cogs: "10.00",
      revenue: "30.00",
      input_tokens: 30_000,
      events: 2,
    });
    expect(rows[1]).toMatchObject({
      cogs: "0.8734",
      revenue: "3.60",
      input_tokens: 3_000,
      output_tokens: 300,
      events: 3,
      units: 3_300,
    });
    expect(rows[4]).toMatchObject({ cogs: "0.00", revenue: "4.00", events: 1 });

    const usage = await usageTotals();
    const t = res.body.totals;
    expect(nanos(t.revenue)).toBe(nanos(usage.revenue));
    expect(nanos(t.cogs)).toBe(nanos(usage.cogs));
    expect(t.units).toBe(usage.units);
    expect(t.events).toBe(usage.events);
    expect(t.events).toBe(8);
    expect(Date.parse(res.body.data_as_of)).toBeGreaterThan(Date.now() - 60_000);
  });

  it("cuts COGS by provider × model × product, matching usage's totals", async () => {
    const res = await run({
      dataset: "events",
      measures: ["cogs", "revenue", "events", "sessions"],
      dimensions: ["provider", "model", "product"],
      time: RANGE,
      order_by: [{ field: "cogs", direction: "desc" }],
    });
    expect(res.status).toBe(200);
    expect(res.body.rows).toEqual([
      {
        provider: "anthropic",
        model: "claude-sonnet-4-5",
        product: "chat-api",
        cogs: "10.82",
        revenue: "33.70",
        events: 5,
        sessions: 2,
      },
      {
        provider: "openai",
        model: "gpt-4.1",
        product: "chat-api",
        cogs: "0.1734",
        revenue: "1.10",
        events: 2,
        sessions: 2,
      },
      {
        provider: null,
        model: null,
        product: "chat-api",
        cogs: "0.00",
        revenue: "4.00",
        events: 1,
        sessions: 1,
      },
    ]);
    // a1 spans two models: counted once in the totals (sessions are distinct per customer).
    expect(res.body.totals).toMatchObject({ events: 8, sessions: 4 });
    const usage = await usageTotals();
    expect(nanos(res.body.totals.cogs)).toBe(nanos(usage.cogs));
    expect(nanos(res.body.totals.revenue)).toBe(nanos(usage.revenue));
  });

  it("never shows another tenant's events, though customer and session ids are the same", async () => {
    const mine = await run({
      dataset: "events",
      measures: ["events", "revenue"],
      dimensions: ["provider"],
      filters: [{ dimension: "customer", op: "is", values: ["acme"] }],
      time: RANGE,
    });
    expect(mine.status).toBe(200);
    expect(mine.body.rows.map((r: { provider: string }) => r.provider)).not.toContain("mistral");
    expect(mine.body.totals.events).toBe(5);
    const theirs = await run(
      {
        dataset: "events",
        measures: ["events", "revenue"],
        dimensions: ["customer", "properties.session_id", "provider"],
        time: RANGE,
      },
      other,
    );
    expect(theirs.body.rows).toEqual([
      {
        customer: "acme",
        "properties.session_id": "a1",
        provider: "mistral",
        events: 1,
        revenue: "99.00",
      },
    ]);
  });

  it("filters on an event property and buckets by hour", async () => {
    const res = await run({
      dataset: "events",
      measures: ["events", "input_tokens"],
      dimensions: ["time"],
      filters: [{ dimension: "properties.session_id", op: "is", values: ["g1"] }],
      time: { ...RANGE, granularity: "hour" },
    });
    expect(res.status).toBe(200);
    expect(res.body.rows).toEqual([
      { time: isoOf(DAY0 + DAY + 9 * HOUR).replace(".000", ""), events: 1, input_tokens: 10_000 },
      { time: isoOf(DAY0 + DAY + 10 * HOUR).replace(".000", ""), events: 1, input_tokens: 20_000 },
    ]);
  });

  it("CSV of an events query holds the JSON answer's rows", async () => {
    const q = {
      dataset: "events",
      measures: ["cogs", "events"],
      dimensions: ["customer", "properties.session_id"],
      filters: [{ dimension: "properties.session_id", op: "gt", values: [""] }],
      time: RANGE,
      order_by: [{ field: "cogs", direction: "desc" }],
    };
    const json = (await run(q)).body;
    const csv = await call(
      "GET",
      `/api/reports/run.csv?q=${base64url(new TextEncoder().encode(JSON.stringify(q)))}`,
      { token: tenant.operator_token },
    );
    expect(csv.status).toBe(200);
    const lines = (csv.body as string).trim().split(/\r?\n/);
    expect(lines[0]).toBe("customer,properties.session_id,cogs,events");
    expect(lines.slice(1)).toEqual(
      json.rows.map(
        (r: Record<string, unknown>) =>
          `${r.customer},${r["properties.session_id"]},${r.cogs},${r.events}`,
      ),
    );
    expect(lines.length).toBe(5); // four sessions, the call without one left out
  });

  it("refuses a range past raw retention, naming time.from", async () => {
    const res = await run({
      dataset: "events",
      measures: ["events"],
      dimensions: [],
      time: { from: isoOf(TODAY - 100 * DAY), to: isoOf(TODAY) },
    });
    expectProblem(res, 400, "validation_failed");
    expect(res.body.errors[0].path).toBe("time.from");
    expect(res.body.errors[0].message).toContain("raw_retention_days");
  });

  it("refuses a query over more customers than one query may read, and says how to narrow it", async () => {
    const crowd = await createTenant("Crowded AI");
    // The rollups name who has usage: more customers than the cap (their actors hold nothing).
    const rows = Array.from({ length: MAX_ACTORS_PER_QUERY + 1 }, (_, i) => `c${i}`);
    const insert = env.DB.prepare(
      `INSERT INTO rollups_daily (tenant_id, start, customer_id, product_id, metric_id, units, revenue, cost, events)
       VALUES (?, ?, ?, 'chat-api', 'input_tokens', 1000000, 0, 0, 1)`,
    );
    for (let i = 0; i < rows.length; i += 500) {
      await env.DB.batch(rows.slice(i, i + 500).map((c) => insert.bind(crowd.tenant_id, DAY0, c)));
    }
    const q = { dataset: "events", measures: ["events"], dimensions: ["customer"], time: RANGE };
    const res = await run(q, crowd);
    expectProblem(res, 422, "unprocessable");
    expect(res.body.errors[0].path).toBe("filters");
    expect(res.body.detail).toMatch(/filter on customer/);
    expect(res.body.detail).toMatch(/subrequest/);
    // Narrowed to some customers, it runs (their actors have no events: no rows).
    const narrowed = await run(
      { ...q, filters: [{ dimension: "customer", op: "is", values: ["c1", "c2"] }] },
      crowd,
    );
    expect(narrowed.status).toBe(200);
    expect(narrowed.body.rows).toEqual([]);
  });

  it("serves the events dataset in the catalog, with its property family and the tenant's retention", async () => {
    const res = await api(tenant).get("/api/reports/datasets");
    const events = res.body.data.find((d: { name: string }) => d.name === "events");
    expect(events.retention_days).toBe(90);
    expect(events.dimension_families[0]).toMatchObject({ prefix: "properties." });
    expect(events.dimensions.map((d: { name: string }) => d.name)).toEqual(
      expect.arrayContaining(["provider", "model", "customer", "time", "hour_of_week"]),
    );
  });

  it("runs the Agentic Session Analysis and COGS Breakdown templates", async () => {
    const sessions = await ok(api(tenant).get("/api/reports/tpl_agentic_session_analysis"));
    // It reads the sessions dataset (reports-sessions.test.ts): the same sessions as the raw
    // events'.
    expect(sessions.query.dataset).toBe("sessions");
    const answer = await run(sessions.query);
    expect(answer.status).toBe(200);
    expect(answer.body.rows[0]).toMatchObject({ customer: "globex", session: "g1", cogs: "10.00" });
    expect(answer.body.rows).toHaveLength(4);
    // COGS Breakdown reads the usage dataset by provider and model (reports-models.test.ts):
    // the same COGS as the events dataset cut the same way, summed over its weeks.
    const cogs = await ok(api(tenant).get("/api/reports/tpl_cogs_breakdown"));
    expect(cogs.query.dataset).toBe("usage");
    const breakdown = await run(cogs.query);
    expect(breakdown.status).toBe(200);
    const anthropic = breakdown.body.rows.filter(
      (r: { provider: string | null }) => r.provider === "anthropic",
    );
    expect(anthropic.reduce((n: bigint, r: { cogs: string }) => n + nanos(r.cogs), 0n)).toBe(
      nanos("10.82"),
    );
  });
});
