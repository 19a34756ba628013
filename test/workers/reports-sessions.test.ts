import {
  createExecutionContext,
  createMessageBatch,
  env,
  getQueueResult,
  runInDurableObject,
} from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { ReportQuery } from "../../contracts/reports";
import { formatMoney } from "../../domain/money";
import { compileReport } from "../../domain/reports/compile";
import { checkQuery } from "../../domain/reports/query";
import type { CustomerActor, OutboxMessage } from "../../durable-objects/customer-actor";
import { joinHalves } from "../../store/exact-sum";
import worker from "../../workers/index";
import { internals } from "./actor-internals";
import {
  api,
  clockSettled,
  customer,
  DAY,
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
import { call, createTenant, type Tenant } from "./helpers";

// Usage per agent session (schema/0025_session_rollups.sql): each actor folds a batch's events
// that name a session (a non-empty string `session_id` property) per (hour, product, session),
// seals them into the same outbox rows as its deltas, and the queue consumer adds them to D1
// once per batch. The sessions dataset must answer what the events dataset (each actor's raw
// events) answers by customer × properties.session_id, to the nano and to the token; a resent
// event, and an outbox batch delivered twice, add nothing; Agentic Session Analysis runs on it.

let tenant: Tenant;
let other: Tenant;

const TODAY = Math.floor(Date.now() / DAY) * DAY;
const DAY0 = TODAY - 3 * DAY;
const RANGE = { from: isoOf(DAY0), to: isoOf(TODAY), time_zone: "UTC" };
const CUSTOMERS = ["acme", "globex", "initech", "umbrella"];
const M = 60_000;
const run = (q: unknown, t: Tenant = tenant) =>
  call("POST", "/api/reports/run", { token: t.operator_token, body: q });

/** An LLM call of a session (null: none), costed by the event. */
const llmCall = (
  who: string,
  session: unknown,
  at: number,
  quantity: number,
  cost: Record<string, unknown>,
  extra: Record<string, unknown> = {},
) =>
  tokens(who, at, quantity, {
    cost: { provider: "anthropic", model: "claude-sonnet-4-5", ...cost },
    ...(session !== null ? { properties: { session_id: session, endpoint: "/v1/agent" } } : {}),
    ...extra,
  });

/** Sent twice: the second time every id is a duplicate. */
let acmeEvents: unknown[];

beforeAll(async () => {
  tenant = await createTenant("Sessions AI");
  other = await createTenant("Sessions Elsewhere");
  await clockSettled(tenant);
  await clockSettled(other);
  for (const t of [tenant, other]) {
    await product(t);
    await product(t, "agents");
    await plan(t, "payg", [
      { type: "per_unit", metric: "input_tokens", unit_price: "0.001" },
      { type: "per_unit", metric: "output_tokens", unit_price: "0.002" },
    ]);
  }
  for (const id of CUSTOMERS) {
    await customer(tenant, id);
    await subscribe(tenant, id, "payg", DAY0 - 10 * DAY);
  }
  await customer(other, "acme");
  await subscribe(other, "acme", "payg", DAY0 - 10 * DAY);

  acmeEvents = [
    // a1: across an hour boundary, two metrics, cached input on one call.
    llmCall("acme", "a1", DAY0 + 2 * HOUR + 50 * M, 1_000, {
      usd: 0.25,
      input_tokens: 800,
      cached_input_tokens: 200,
    }),
    llmCall("acme", "a1", DAY0 + 3 * HOUR + 5 * M, 2_000, { usd: 0.5, input_tokens: 2_000 }),
    llmCall(
      "acme",
      "a1",
      DAY0 + 3 * HOUR + 9 * M,
      300,
      { provider: "openai", model: "gpt-4.1", usd: 0.1234, output_tokens: 300 },
      { metric: "output_tokens" },
    ),
    llmCall("acme", "a2", DAY0 + DAY + 5 * HOUR, 500, { usd: 0.05, input_tokens: 500 }),
    // No session, and an empty one: neither is a session.
    llmCall("acme", null, DAY0 + DAY + 6 * HOUR, 700, { usd: 0.07 }),
    llmCall("acme", "", DAY0 + DAY + 6 * HOUR + M, 70, { usd: 0.007 }),
  ];
  await send(tenant, acmeEvents);
  await send(tenant, [
    // g1: the most expensive, over two products (agents has no plan: revenue 0). Its id is
    // acme's too: another customer's session.
    llmCall("globex", "g1", DAY0 + DAY + 9 * HOUR + 50 * M, 10_000, { usd: 3.333333333 }),
    llmCall(
      "globex",
      "g1",
      DAY0 + DAY + 9 * HOUR + 55 * M,
      4_000,
      { usd: 6.666666667 },
      { product: "agents" },
    ),
    llmCall("globex", "a1", DAY0 + 2 * DAY, 100, { usd: 0.01, input_tokens: 100 }),
    // i1: no cost block (uncosted usage still counts its revenue and events).
    tokens("initech", DAY0 + 2 * DAY + HOUR, 4_000, { properties: { session_id: "i1" } }),
    // A number names no session here (the events dataset shows it as the text "42").
    llmCall("umbrella", 42, DAY0 + 2 * DAY + 2 * HOUR, 900, { usd: 0.09 }),
  ]);
  // The other tenant: the same customer and session ids.
  await send(other, [llmCall("acme", "a1", DAY0 + 2 * HOUR, 99_000, { usd: 9 })]);
  await settle(tenant, CUSTOMERS, 11);
  await settle(other, ["acme"], 1);
});

type Row = Record<string, string | number | null>;
const MEASURES = [
  "events",
  "units",
  "revenue",
  "cogs",
  "margin",
  "margin_pct",
  "input_tokens",
  "output_tokens",
  "cached_input_tokens",
  "sessions",
];
const keyOf = (r: Row) => JSON.stringify([r.time, r.customer, r.session, r.product]);
const sorted = (rows: Row[]) => [...rows].sort((a, b) => keyOf(a).localeCompare(keyOf(b)));

/** The events dataset's answer by customer × properties.session_id (sessions only, the number
 * left out), its session column named as the sessions dataset names it. */
async function fromEvents(dimensions: string[], time: Record<string, string> = RANGE) {
  const res = await run({
    dataset: "events",
    measures: MEASURES,
    dimensions: dimensions.map((d) => (d === "session" ? "properties.session_id" : d)),
    filters: [
      { dimension: "properties.session_id", op: "gt", values: [""] },
      { dimension: "customer", op: "is_not", values: ["umbrella"] },
    ],
    time,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  const rows = res.body.rows.map(({ "properties.session_id": session, ...r }: Row) => ({
    ...r,
    session,
  }));
  return { rows: sorted(rows), totals: res.body.totals };
}

async function fromSessions(dimensions: string[], time: Record<string, string> = RANGE) {
  const res = await run({ dataset: "sessions", measures: MEASURES, dimensions, time });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return { rows: sorted(res.body.rows), totals: res.body.totals, body: res.body };
}

/** A session row of the tenant in D1, its halves joined. */
async function sessionRow(customerId: string, sessionId: string, start: number) {
  const r = await env.DB.prepare(
    `SELECT events, CAST(units_hi AS TEXT) AS units_hi, CAST(units_lo AS TEXT) AS units_lo,
       CAST(revenue AS TEXT) AS revenue, CAST(cost AS TEXT) AS cost,
       CAST(input_tokens_hi AS TEXT) AS input_hi, CAST(input_tokens_lo AS TEXT) AS input_lo,
       first_at, last_at
     FROM session_rollups_hourly
     WHERE tenant_id = ? AND customer_id = ? AND session_id = ? AND start = ?`,
  )
    .bind(tenant.tenant_id, customerId, sessionId, start)
    .first<Record<string, string | number>>();
  return r
    ? {
        events: r.events,
        units: joinHalves(r.units_hi, r.units_lo),
        revenue: BigInt(r.revenue ?? 0),
        cost: BigInt(r.cost ?? 0),
        input_tokens: joinHalves(r.input_hi, r.input_lo),
        first_at: r.first_at,
        last_at: r.last_at,
      }
    : null;
}

async function deliver(messages: OutboxMessage[], attempt = 1) {
  const batch = createMessageBatch<OutboxMessage>(
    "aforo-events",
    messages.map((body, i) => ({
      id: `s-${attempt}-${i}`,
      timestamp: new Date(),
      attempts: attempt,
      body,
    })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch, env, ctx);
  expect((await getQueueResult(batch, ctx)).ackAll).toBe(true);
}

describe("reports: sessions", () => {
  it("equals the events dataset by customer × session to the nano and the token", async () => {
    const sessions = await fromSessions(["customer", "session"]);
    const events = await fromEvents(["customer", "session"]);
    expect(sessions.rows).toEqual(events.rows);
    expect(sessions.totals).toEqual(events.totals);
    expect(sessions.rows.map((r) => [r.customer, r.session])).toEqual([
      ["acme", "a1"],
      ["acme", "a2"],
      ["globex", "a1"],
      ["globex", "g1"],
      ["initech", "i1"],
    ]);
    expect(sessions.rows[0]).toMatchObject({
      events: 3,
      units: 3_300,
      revenue: "3.60",
      cogs: "0.8734",
      input_tokens: 2_800,
      output_tokens: 300,
      cached_input_tokens: 200,
      sessions: 1,
    });
    // g1 over two products: revenue only where a plan prices it.
    expect(sessions.rows[3]).toMatchObject({ events: 2, revenue: "10.00", cogs: "10.00" });
    // The same id for two customers is two sessions.
    expect(sessions.totals).toMatchObject({ events: 8, sessions: 5 });
    // Fed by the same transactions as the rollups: as fresh as usage.
    const usage = await run({
      dataset: "usage",
      measures: ["events"],
      dimensions: [],
      time: RANGE,
    });
    expect(sessions.body.data_as_of).toBe(usage.body.data_as_of);
  });

  it("by hour, product and over a local day: the events dataset's hours", async () => {
    const hourly = { ...RANGE, granularity: "hour" };
    const sessions = await fromSessions(["time", "customer", "session"], hourly);
    expect(sessions.rows).toEqual((await fromEvents(["time", "customer", "session"], hourly)).rows);
    // a1 crosses an hour: two rows.
    expect(
      sessions.rows.filter((r) => r.customer === "acme" && r.session === "a1").map((r) => r.time),
    ).toEqual([isoOf(DAY0 + 2 * HOUR), isoOf(DAY0 + 3 * HOUR)].map((t) => t.replace(".000", "")));
    const byProduct = await fromSessions(["product"]);
    expect(byProduct.rows.map((r) => [r.product, r.events])).toEqual([
      ["agents", 1],
      ["chat-api", 7],
    ]);
    // In a zone 5:30 ahead, a local day is the UTC hours starting in it (no event here is in an
    // hour that a local midnight cuts, so the events dataset's exact instants agree).
    const kolkata = { from: isoOf(DAY0 - DAY), to: isoOf(TODAY), time_zone: "Asia/Kolkata" };
    const local = await fromSessions(["time", "customer", "session"], kolkata);
    expect(local.rows.every((r) => String(r.time).endsWith("T00:00:00+05:30"))).toBe(true);
    expect(local.rows).toEqual((await fromEvents(["time", "customer", "session"], kolkata)).rows);
    expect(local.totals.events).toBe(8);
  });

  it("keeps each session's first and last event: duration in seconds", async () => {
    const res = await run({
      dataset: "sessions",
      measures: ["duration", "events"],
      dimensions: ["customer", "session"],
      filters: [{ dimension: "session", op: "is", values: ["a1"] }],
      time: RANGE,
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.rows).toEqual([
      { customer: "acme", session: "a1", duration: 19 * 60, events: 3 },
      { customer: "globex", session: "a1", duration: 0, events: 1 },
    ]);
    expect(await sessionRow("acme", "a1", DAY0 + 3 * HOUR)).toMatchObject({
      events: 2,
      first_at: DAY0 + 3 * HOUR + 5 * M,
      last_at: DAY0 + 3 * HOUR + 9 * M,
    });
  });

  it("a resent event adds nothing", async () => {
    const before = await fromSessions(["customer", "session"]);
    const res = await call("POST", "/v1/events", { token: tenant.ingest_key, body: acmeEvents });
    expect(res.status).toBe(200);
    expect(res.body.duplicates).toBe(acmeEvents.length);
    await settle(tenant, ["acme"], 11);
    expect(await fromSessions(["customer", "session"])).toEqual(before);
  });

  it("applies a batch's sessions once however often it is delivered; a batch without them still applies", async () => {
    const hour = TODAY - 20 * DAY + 7 * HOUR;
    const message = (c: string, suffix: string, withSessions: boolean): OutboxMessage => ({
      batch_id: `${tenant.tenant_id}:${c}:sessions-${suffix}`,
      tenant_id: tenant.tenant_id,
      customer_id: c,
      deltas: [
        {
          hour,
          product: "chat-api",
          metric: "input_tokens",
          units: "3000000",
          revenue: "3000000001",
          cost: "1500000000",
          events: 3,
          uncosted_events: 0,
          uncosted_revenue: "0",
        },
      ],
      ...(withSessions
        ? {
            sessions: [
              {
                hour,
                product: "chat-api",
                session_id: "replayed",
                events: 3,
                // Past 2^63 micro-units: kept exactly in halves.
                units: "9223372036854775808000",
                revenue: "3000000001",
                cost: "1500000000",
                input_tokens: "1999999999",
                output_tokens: "0",
                cached_input_tokens: "0",
                first_at: hour + 10 * M,
                last_at: hour + 20 * M,
              },
            ],
          }
        : {}),
    });
    const acme = message("acme", "replay", true);
    await deliver([acme, acme]);
    await deliver([acme], 2);
    expect(await sessionRow("acme", "replayed", hour)).toEqual({
      events: 3,
      units: 9_223_372_036_854_775_808_000n,
      revenue: 3_000_000_001n,
      cost: 1_500_000_000n,
      input_tokens: 1_999_999_999n,
      first_at: hour + 10 * M,
      last_at: hour + 20 * M,
    });
    // A second delivery of a new batch adds to the row, the low half's carry moved up.
    const more = message("acme", "more", true);
    await deliver([more, acme], 3);
    expect(await sessionRow("acme", "replayed", hour)).toMatchObject({
      events: 6,
      units: 18_446_744_073_709_551_616_000n,
      revenue: 6_000_000_002n,
      input_tokens: 3_999_999_998n,
    });
    // A row sealed before sessions were kept: the rollups take it, the session table has none.
    await deliver([message("initech", "old", false)]);
    expect(await sessionRow("initech", "replayed", hour)).toBeNull();
    const rolled = await env.DB.prepare(
      "SELECT SUM(events) AS n FROM rollups_hourly WHERE tenant_id = ? AND start = ?",
    )
      .bind(tenant.tenant_id, hour)
      .first<{ n: number }>();
    expect(rolled?.n).toBe(9);
  });

  it("never shows another tenant's sessions, though customer and session ids are the same", async () => {
    const theirs = await run(
      {
        dataset: "sessions",
        measures: ["events", "revenue", "input_tokens"],
        dimensions: ["customer", "session"],
        time: RANGE,
      },
      other,
    );
    expect(theirs.body.rows).toEqual([
      { customer: "acme", session: "a1", events: 1, revenue: "99.00", input_tokens: 0 },
    ]);
  });

  it("serves the dataset in the catalog", async () => {
    const res = await api(tenant).get("/api/reports/datasets");
    const sessions = res.body.data.find((d: { name: string }) => d.name === "sessions");
    expect(sessions.dimensions.map((d: { name: string }) => d.name)).toEqual([
      "time",
      "customer",
      "session",
      "product",
    ]);
    expect(sessions.measures.map((d: { name: string }) => d.name)).toEqual(
      expect.arrayContaining([...MEASURES, "duration"]),
    );
  });

  it("runs Agentic Session Analysis on it: the events dataset's answer to the same question", async () => {
    const template = await ok(api(tenant).get("/api/reports/tpl_agentic_session_analysis"));
    expect(template.query).toMatchObject({
      dataset: "sessions",
      dimensions: ["customer", "session"],
    });
    const answer = await run(template.query);
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    const events = await run({
      ...template.query,
      dataset: "events",
      dimensions: ["customer", "properties.session_id"],
      filters: [
        { dimension: "properties.session_id", op: "gt", values: [""] },
        { dimension: "customer", op: "is_not", values: ["umbrella"] },
      ],
    });
    expect(events.status, JSON.stringify(events.body)).toBe(200);
    expect(answer.body.rows).toEqual(
      events.body.rows.map(({ "properties.session_id": session, customer, ...r }: Row) => ({
        customer,
        session,
        ...r,
      })),
    );
    expect(answer.body.rows[0]).toMatchObject({ customer: "globex", session: "g1", cogs: "10.00" });
    expect(answer.body.totals).toEqual(events.body.totals);
  });
});

describe("sessions: sealing the pending rows", () => {
  it("sums one session's rows of several batches into one, and splits many over messages", async () => {
    const stub = env.CUSTOMER_ACTOR.getByName("sessions-seal-test");
    const sealed = await runInDurableObject(stub, (i: CustomerActor, state) => {
      const { store, outbox } = internals(i);
      const hour = DAY0 + 4 * HOUR;
      const session = (id: string, units: bigint, at: number) => ({
        hour,
        product: "chat-api",
        session_id: id,
        events: 1,
        units,
        revenue: 5n,
        cost: 2n,
        input_tokens: 7n,
        output_tokens: 0n,
        cached_input_tokens: 1n,
        first_at: at,
        last_at: at,
      });
      const delta = {
        hour,
        product: "chat-api",
        metric: "input_tokens",
        units: 1n,
        revenue: 0n,
        cost: 0n,
        events: 1,
        uncosted_events: 0,
        uncosted_revenue: 0n,
      };
      store.addToBuckets([delta]);
      // Two batches of one session: each near 2^63 micro-units, summed past it.
      store.addToSessions([session("s-big", 9_000_000_000_000_000_000n, hour + 5 * M)]);
      store.addToSessions([session("s-big", 9_000_000_000_000_000_000n, hour + M)]);
      store.addToSessions(
        Array.from({ length: 449 }, (_, k) => session(`s-${String(k).padStart(3, "0")}`, 1n, hour)),
      );
      (outbox as unknown as { sealPendingDeltas(): void }).sealPendingDeltas();
      const left = state.storage.sql
        .exec<{ n: number }>("SELECT COUNT(*) AS n FROM pending_sessions")
        .one().n;
      const bodies = state.storage.sql
        .exec<{ body: string }>("SELECT body FROM outbox ORDER BY seq")
        .toArray()
        .map((r) => JSON.parse(r.body) as Pick<OutboxMessage, "deltas" | "sessions">);
      return { left, bodies };
    });
    expect(sealed.left).toBe(0);
    expect(sealed.bodies.map((b) => [b.deltas.length, b.sessions?.length ?? 0])).toEqual([
      [1, 199],
      [0, 200],
      [0, 51],
    ]);
    const big = sealed.bodies
      .flatMap((b) => b.sessions ?? [])
      .find((s) => s.session_id === "s-big");
    expect(big).toEqual({
      hour: DAY0 + 4 * HOUR,
      product: "chat-api",
      session_id: "s-big",
      events: 2,
      units: "18000000000000000000",
      revenue: "10",
      cost: "4",
      input_tokens: "14",
      output_tokens: "0",
      cached_input_tokens: "2",
      first_at: DAY0 + 4 * HOUR + M,
      last_at: DAY0 + 4 * HOUR + 5 * M,
    });
  });
});

describe("sessions: whole sessions (schema/0036_session_totals.sql)", () => {
  it("by customer × session, a range through a session reads that session's hours inside it", async () => {
    // a1 runs from DAY0 02:50 to 03:09 (its 02:00 and 03:00 hours); g1 spans two products.
    for (const time of [
      { ...RANGE, from: isoOf(DAY0 + 3 * HOUR) },
      { ...RANGE, to: isoOf(DAY0 + 3 * HOUR) },
      { ...RANGE, from: isoOf(DAY0 + 3 * HOUR), to: isoOf(DAY0 + DAY + 10 * HOUR) },
    ]) {
      const sessions = await fromSessions(["customer", "session"], time);
      const events = await fromEvents(["customer", "session"], time);
      expect(sessions.rows).toEqual(events.rows);
      expect(sessions.totals).toEqual(events.totals);
    }
    const late = await fromSessions(["customer", "session"], {
      ...RANGE,
      from: isoOf(DAY0 + 3 * HOUR),
    });
    expect(late.rows.find((r) => r.customer === "acme" && r.session === "a1")).toMatchObject({
      events: 2,
      input_tokens: 2_000,
      output_tokens: 300,
      cached_input_tokens: 0,
    });
  });

  it("keeps a session's totals with its hours; an hour moved or deleted sends it back to its hours", async () => {
    const t = await createTenant("Sessions Totals");
    const h0 = TODAY - 2 * DAY;
    const hour = (start: number, session: string, cost: bigint, tokensLo: number) =>
      env.DB.prepare(
        `INSERT INTO session_rollups_hourly (tenant_id, start, customer_id, product_id,
           session_id, events, units_hi, units_lo, revenue, cost, input_tokens_hi,
           input_tokens_lo, output_tokens_hi, output_tokens_lo, cached_input_tokens_hi,
           cached_input_tokens_lo, first_at, last_at)
         VALUES (?1, ?2, 'acme', 'chat-api', ?3, 1, 0, 0, ?4, ?4, 0, ?5, 0, 0, 0, 0, ?6, ?7)`,
      )
        .bind(t.tenant_id, start, session, String(cost), tokensLo, start + M, start + 2 * M)
        .run();
    await hour(h0, "s1", 999_999_999n, 999_999_999);
    await hour(h0 + HOUR, "s1", 2n, 2);
    await hour(h0 + 5 * HOUR, "s2", 10_000_000_000_000_000n, 1);
    // The consumer's upsert of an hour already kept: the session's totals grow by as much.
    await env.DB.prepare(
      `UPDATE session_rollups_hourly SET events = events + 1, revenue = revenue + 999999999,
         cost = cost + 999999999, input_tokens_lo = input_tokens_lo + 999999999,
         first_at = first_at - 1
       WHERE tenant_id = ?1 AND session_id = 's1' AND start = ?2`,
    )
      .bind(t.tenant_id, h0)
      .run();
    const totals = () =>
      env.DB.prepare(
        `SELECT session_id, first_start, last_start, events,
           CAST(cost_hi AS TEXT) AS cost_hi, CAST(cost_lo AS TEXT) AS cost_lo,
           CAST(input_tokens_hi AS TEXT) AS in_hi, CAST(input_tokens_lo AS TEXT) AS in_lo, first_at
         FROM session_totals WHERE tenant_id = ?1 ORDER BY session_id`,
      )
        .bind(t.tenant_id)
        .all<Record<string, string | number>>()
        .then(({ results }) =>
          results.map((r) => ({
            session: r.session_id,
            first_start: r.first_start,
            last_start: r.last_start,
            events: r.events,
            cost: joinHalves(r.cost_hi, r.cost_lo),
            input_tokens: joinHalves(r.in_hi, r.in_lo),
            first_at: r.first_at,
          })),
        );
    expect(await totals()).toEqual([
      {
        session: "s1",
        first_start: h0,
        last_start: h0 + HOUR,
        events: 3,
        cost: 2_000_000_000n,
        input_tokens: 2_000_000_000n,
        first_at: h0 + M - 1,
      },
      {
        session: "s2",
        first_start: h0 + 5 * HOUR,
        last_start: h0 + 5 * HOUR,
        events: 1,
        cost: 10_000_000_000_000_000n,
        input_tokens: 1n,
        first_at: h0 + 5 * HOUR + M,
      },
    ]);
    const report = async () => {
      const res = await run(
        {
          dataset: "sessions",
          measures: ["cogs", "events", "input_tokens", "duration"],
          dimensions: ["session", "customer"],
          time: { from: isoOf(h0), to: isoOf(h0 + DAY), time_zone: "UTC" },
        },
        t,
      );
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return res.body as { rows: Row[]; totals: Row };
    };
    // s2 costs the most: first (the first measure, descending).
    expect((await report()).rows).toEqual([
      {
        session: "s2",
        customer: "acme",
        cogs: "10000000.00",
        events: 1,
        input_tokens: 1,
        duration: 60,
      },
      {
        session: "s1",
        customer: "acme",
        cogs: "2.00",
        events: 3,
        input_tokens: 2_000_000_000,
        duration: (HOUR + M + 1) / 1000,
      },
    ]);
    // An hour deleted: s1's bounds may be too wide now, so it is read from its hours.
    await env.DB.prepare(
      "DELETE FROM session_rollups_hourly WHERE tenant_id = ?1 AND session_id = 's1' AND start = ?2",
    )
      .bind(t.tenant_id, h0 + HOUR)
      .run();
    expect((await totals())[0]).toMatchObject({ first_start: -1, events: 2, cost: 1_999_999_998n });
    const after = await report();
    expect(after.rows[1]).toEqual({
      session: "s1",
      customer: "acme",
      cogs: "1.999999998",
      events: 2,
      input_tokens: 1_999_999_998,
      duration: (M + 1) / 1000,
    });
    expect(after.totals).toEqual({
      cogs: "10000001.999999998",
      events: 3,
      input_tokens: 1_999_999_999,
      duration: (5 * HOUR + M + 1) / 1000,
    });
    // Moved to another hour: the same.
    await env.DB.prepare(
      "UPDATE session_rollups_hourly SET start = ?2 WHERE tenant_id = ?1 AND session_id = 's2'",
    )
      .bind(t.tenant_id, h0 + 6 * HOUR)
      .run();
    expect((await totals())[1]).toMatchObject({ first_start: -1, last_start: h0 + 6 * HOUR });
    expect((await report()).rows[0]).toMatchObject({ session: "s2", cogs: "10000000.00" });
  });
});

describe("sessions: the tenant's hours (schema/0042_reports_perf.sql)", () => {
  it("each tenant hour is its session-hours' sum through late hours, upserts, moves and deletions; totals read it", async () => {
    const t = await createTenant("Sessions Tenant Hours");
    const h0 = TODAY - 2 * DAY;
    const hour = (start: number, who: string, prod: string, session: string, cost: bigint) =>
      env.DB.prepare(
        `INSERT INTO session_rollups_hourly (tenant_id, start, customer_id, product_id,
           session_id, events, units_hi, units_lo, revenue, cost, input_tokens_hi,
           input_tokens_lo, output_tokens_hi, output_tokens_lo, cached_input_tokens_hi,
           cached_input_tokens_lo, first_at, last_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 1, 1, 999999999, ?6, ?6, 0, 999999999, 0, 7, 0, 1, ?7, ?8)`,
      )
        .bind(t.tenant_id, start, who, prod, session, String(cost), start + M, start + 2 * M)
        .run();
    /** Each (hour, product) as the tenant table keeps it and as its session-hours sum, exact. */
    const both = async () => {
      const amounts = ["units", "revenue", "cost", "input_tokens", "output_tokens"] as const;
      const kept = await env.DB.prepare(
        `SELECT start, product_id, events, ${amounts
          .map((c) => `CAST(${c}_hi AS TEXT) AS ${c}_hi, CAST(${c}_lo AS TEXT) AS ${c}_lo`)
          .join(", ")}
         FROM session_rollups_tenant_hourly WHERE tenant_id = ?1
           AND NOT (events = 0 AND ${amounts.map((c) => `${c}_hi = 0 AND ${c}_lo = 0`).join(" AND ")})
         ORDER BY start, product_id`,
      )
        .bind(t.tenant_id)
        .all<Record<string, string | number>>();
      const summed = await env.DB.prepare(
        `SELECT start, product_id, SUM(events) AS events,
           CAST(SUM(units_hi) AS TEXT) AS units_hi, CAST(SUM(units_lo) AS TEXT) AS units_lo,
           CAST(SUM(revenue / 1000000000) AS TEXT) AS revenue_hi,
           CAST(SUM(revenue % 1000000000) AS TEXT) AS revenue_lo,
           CAST(SUM(cost / 1000000000) AS TEXT) AS cost_hi,
           CAST(SUM(cost % 1000000000) AS TEXT) AS cost_lo,
           CAST(SUM(input_tokens_hi) AS TEXT) AS input_tokens_hi,
           CAST(SUM(input_tokens_lo) AS TEXT) AS input_tokens_lo,
           CAST(SUM(output_tokens_hi) AS TEXT) AS output_tokens_hi,
           CAST(SUM(output_tokens_lo) AS TEXT) AS output_tokens_lo
         FROM session_rollups_hourly WHERE tenant_id = ?1
         GROUP BY start, product_id ORDER BY start, product_id`,
      )
        .bind(t.tenant_id)
        .all<Record<string, string | number>>();
      const exact = (rows: Record<string, string | number>[]) =>
        rows.map((r) => ({
          start: r.start,
          product: r.product_id,
          events: r.events,
          ...(Object.fromEntries(
            amounts.map((c) => [c, joinHalves(String(r[`${c}_hi`]), String(r[`${c}_lo`]))]),
          ) as Record<(typeof amounts)[number], bigint>),
        }));
      return { kept: exact(kept.results), summed: exact(summed.results) };
    };
    const expectKept = async () => {
      const { kept, summed } = await both();
      expect(kept).toEqual(summed);
      return kept;
    };

    // Three customers in one hour: the tenant hour passes what one customer's day may hold.
    for (const who of ["acme", "globex", "initech"]) {
      await hour(h0, who, "chat-api", `${who}-1`, 9_000_000_000_000_000_000n);
    }
    await hour(h0 + HOUR, "acme", "search-api", "acme-2", 5n);
    const first = await expectKept();
    expect(first[0]).toMatchObject({ events: 3, cost: 27_000_000_000_000_000_000n });
    // A late event in an hour already kept (the consumer's upsert), a late hour before the others,
    // a correction down, a row moved to another hour and product, a deletion.
    await env.DB.prepare(
      `UPDATE session_rollups_hourly SET events = events + 1, revenue = revenue + 999999999,
         cost = cost + 999999999, units_lo = units_lo + 999999999
       WHERE tenant_id = ?1 AND session_id = 'acme-1'`,
    )
      .bind(t.tenant_id)
      .run();
    await hour(h0 - 5 * HOUR, "umbrella", "chat-api", "u-1", 1n);
    await env.DB.prepare(
      `UPDATE session_rollups_hourly SET cost = cost - 8000000000000000001
       WHERE tenant_id = ?1 AND session_id = 'globex-1'`,
    )
      .bind(t.tenant_id)
      .run();
    await env.DB.prepare(
      `UPDATE session_rollups_hourly SET start = ?2, product_id = 'search-api'
       WHERE tenant_id = ?1 AND session_id = 'initech-1'`,
    )
      .bind(t.tenant_id, h0 + 3 * HOUR)
      .run();
    await env.DB.prepare(
      "DELETE FROM session_rollups_hourly WHERE tenant_id = ?1 AND session_id = 'acme-2'",
    )
      .bind(t.tenant_id)
      .run();
    const kept = await expectKept();
    expect(kept.map((r) => [r.start, r.product])).toEqual([
      [h0 - 5 * HOUR, "chat-api"],
      [h0, "chat-api"],
      [h0 + 3 * HOUR, "search-api"],
    ]);

    // A summing statement's totals read the tenant's hours, one measuring duration the
    // session-hours; both answer the hours' sums.
    const time = { from: isoOf(h0 - DAY), to: isoOf(h0 + DAY), time_zone: "UTC" };
    const query = (measures: string[]) => ({
      dataset: "sessions",
      measures,
      dimensions: ["customer", "session"],
      time,
    });
    for (const [measures, totalsTable] of [
      [["cogs", "revenue", "events", "output_tokens"], "session_rollups_tenant_hourly"],
      [["cogs", "revenue", "events", "output_tokens", "duration"], "session_rollups_hourly"],
    ] as const) {
      const c = checkQuery(query([...measures]) as ReportQuery, "UTC");
      if (!c.ok) throw new Error(JSON.stringify(c.issues));
      expect(compileReport(t.tenant_id, c.query, c.from, c.to, Date.now()).totalsTable).toBe(
        totalsTable,
      );
      const res = await run(query([...measures]), t);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.totals).toMatchObject({
        cogs: formatMoney(kept.reduce((sum, r) => sum + r.cost, 0n)),
        revenue: formatMoney(kept.reduce((sum, r) => sum + r.revenue, 0n)),
        events: kept.reduce((sum, r) => sum + Number(r.events), 0),
        output_tokens: Number(kept.reduce((sum, r) => sum + r.output_tokens, 0n)),
      });
    }
  });
});
