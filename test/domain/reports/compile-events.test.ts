import { DatabaseSync } from "node:sqlite";
import { describe, expect, it } from "vitest";
import type { ReportQuery } from "../../../contracts/reports";
import {
  customersStatement,
  type EventsPartial,
  eventsStatement,
  MAX_ACTORS_PER_QUERY,
  mergeEvents,
  retentionIssues,
} from "../../../domain/reports/compile-events";
import { checkQuery, type FilledQuery } from "../../../domain/reports/query";
import { DAY_MS, HOUR_MS, MINUTE_MS } from "../../../domain/time";
import { ACTOR_MIGRATIONS } from "../../../durable-objects/actor-schema";

// domain/reports/compile-events.ts: the events dataset as a scatter-gather. The actor's one
// statement binds every value (property keys included) and carries no tenant or customer; it
// runs on SQLite (node:sqlite) over the actor's real schema; the Worker's merge of several
// actors' partials is exact past 2^53 and past SQLite's 64-bit SUM.

const T = (iso: string) => Date.parse(iso);
const EVIL = "x' OR 1=1 --";
const FROM = T("2026-03-01T00:00:00Z");
const TO = T("2026-03-08T00:00:00Z");

function checked(q: Partial<ReportQuery>): { query: FilledQuery; from: number; to: number } {
  const c = checkQuery(
    {
      dataset: "events",
      measures: ["events"],
      dimensions: [],
      time: { from: new Date(FROM).toISOString(), to: new Date(TO).toISOString() },
      ...q,
    },
    "UTC",
  );
  if (!c.ok) throw new Error(JSON.stringify(c.issues));
  return c;
}

/** One actor: the actor schema in SQLite, with these events. */
function actor(
  events: {
    time: number;
    product?: string;
    metric?: string;
    quantity?: bigint;
    revenue?: bigint;
    cost?: bigint;
    provider?: string | null;
    model?: string | null;
    input?: number | null;
    output?: number | null;
    properties?: Record<string, unknown> | null;
  }[],
) {
  const db = new DatabaseSync(":memory:");
  for (const ddl of ACTOR_MIGRATIONS) db.exec(ddl);
  const insert = db.prepare(
    `INSERT INTO events (id, time, received_at, product, metric, quantity, revenue, cost,
       cost_status, provider, model, input_tokens, output_tokens, cached_input_tokens,
       subscription_id, flags, source, properties)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'supplied', ?, ?, ?, ?, NULL, NULL, '', 'native', ?)`,
  );
  events.forEach((e, i) => {
    insert.run(
      `e${i}`,
      e.time,
      e.time,
      e.product ?? "agents",
      e.metric ?? "tool_calls",
      e.quantity ?? 1_000_000n,
      e.revenue ?? 0n,
      e.cost ?? 0n,
      e.provider ?? null,
      e.model ?? null,
      e.input ?? null,
      e.output ?? null,
      e.properties ? JSON.stringify(e.properties) : null,
    );
  });
  return db;
}

/** What the actor's RPC answers: its statement run on its own storage. */
function runOn(db: DatabaseSync, input: ReturnType<typeof checked>): Record<string, unknown>[] {
  const s = eventsStatement(input);
  const stmt = db.prepare(s.sql);
  stmt.setReadBigInts(false);
  return stmt.all(...(s.parameters as (string | number)[])) as Record<string, unknown>[];
}

function run(input: ReturnType<typeof checked>, actors: Record<string, DatabaseSync>) {
  const partials: EventsPartial[] = Object.entries(actors).map(([customer, db]) => ({
    customer,
    rows: runOn(db, input),
  }));
  return mergeEvents(input.query, input.from, input.to, partials);
}

describe("the actor's statement", () => {
  it("binds every value, property keys included, and names no tenant or customer", () => {
    const input = checked({
      measures: ["events", "revenue", "cogs", "sessions", "input_tokens"],
      dimensions: ["customer", "properties.session_id", "model", "time"],
      filters: [
        { dimension: "properties.endpoint", op: "is", values: [EVIL] },
        { dimension: "provider", op: "contains", values: [`${EVIL}-contains`] },
        { dimension: "customer", op: "is", values: ["acme"] },
      ],
      compare_to: "previous_period",
    });
    const s = eventsStatement(input);
    expect(s.sql).not.toContain("OR 1=1");
    expect(s.sql).not.toContain("session_id");
    expect(s.sql).not.toContain("endpoint");
    expect(s.sql).not.toMatch(/tenant|customer/);
    expect(s.parameters).toContain(EVIL);
    expect(s.parameters).toContain(`${EVIL}-contains`);
    expect(s.parameters).toContain('$."session_id"');
    expect(s.parameters).toContain('$."endpoint"');
    // The customer filter is D1's (which actors to ask), never the actor's.
    expect(s.parameters).not.toContain("acme");
    // Rows, totals and the comparison's totals in ONE statement.
    expect(s.sql.match(/union all/gi)?.length).toBe(2);
    expect(s.sql).toMatch(/json_each\(\?\)/);
  });

  it("only compiles dimensions the catalog has", () => {
    const input = checked({ dimensions: ["model"] });
    expect(() =>
      eventsStatement({ ...input, query: { ...input.query, dimensions: ["properties.a'b"] } }),
    ).toThrow(RangeError);
    expect(() =>
      eventsStatement({ ...input, query: { ...input.query, dimensions: ["seq"] } }),
    ).toThrow(RangeError);
  });

  it("is one statement per query: the same for every actor", () => {
    const input = checked({ dimensions: ["customer", "provider"] });
    expect(eventsStatement(input)).toEqual(eventsStatement(structuredClone(input)));
  });
});

describe("scatter-gather over actors", () => {
  const day = (d: number, h = 10) => FROM + d * DAY_MS + h * HOUR_MS;
  // acme: session s1 (3 calls), s2 (1 call), one call without a session; globex: session g1.
  const acme = () =>
    actor([
      {
        time: day(0),
        metric: "agent_sessions",
        revenue: 2_000_000_000n,
        cost: 500_000_000n,
        provider: "anthropic",
        model: "claude-sonnet-4-5",
        input: 1000,
        output: 200,
        properties: { session_id: "s1", endpoint: "/v1/agents" },
      },
      {
        time: day(0) + 2 * MINUTE_MS,
        revenue: 1_000_000n,
        cost: 400_000n,
        provider: "aforo-infra",
        model: "tool-runner",
        properties: { session_id: "s1" },
      },
      {
        time: day(0) + 5 * MINUTE_MS,
        metric: "agent_sessions",
        quantity: 0n,
        cost: 300_000_000n,
        provider: "anthropic",
        model: "claude-sonnet-4-5",
        input: 3000,
        output: 400,
        properties: { session_id: "s1" },
      },
      {
        time: day(2),
        metric: "agent_sessions",
        revenue: 2_000_000_000n,
        cost: 100_000_000n,
        provider: "openai",
        model: "gpt-4.1",
        input: 500,
        output: 50,
        properties: { session_id: "s2" },
      },
      { time: day(3), product: "rest", metric: "api_calls", revenue: 10_000_000n, cost: 4_000n },
      // Outside the range: never counted.
      { time: TO, revenue: 99_000_000_000n, properties: { session_id: "s1" } },
      { time: FROM - 1, revenue: 99_000_000_000n, properties: { session_id: "s1" } },
    ]);
  const globex = () =>
    actor([
      {
        time: day(1, 23),
        metric: "agent_sessions",
        revenue: 3_000_000_000n,
        cost: 3_500_000_000n,
        provider: "anthropic",
        model: "claude-sonnet-4-5",
        input: 9000,
        output: 900,
        properties: { session_id: "g1" },
      },
    ]);

  it("answers per session, hand-computed, the most expensive first", () => {
    const input = checked({
      measures: ["cogs", "revenue", "margin", "input_tokens", "output_tokens", "events"],
      dimensions: ["customer", "properties.session_id"],
      filters: [{ dimension: "properties.session_id", op: "gt", values: [""] }],
      order_by: [{ field: "cogs", direction: "desc" }],
    });
    const r = run(input, { acme: acme(), globex: globex() });
    expect(r.columns.map((c) => [c.name, c.label, c.type])).toEqual([
      ["customer", "Customer", "string"],
      ["properties.session_id", "session_id", "string"],
      ["cogs", "COGS", "money"],
      ["revenue", "Revenue", "money"],
      ["margin", "Margin", "money"],
      ["input_tokens", "Input tokens", "number"],
      ["output_tokens", "Output tokens", "number"],
      ["events", "Events (calls)", "number"],
    ]);
    expect(r.rows).toEqual([
      {
        customer: "globex",
        "properties.session_id": "g1",
        cogs: "3.50",
        revenue: "3.00",
        margin: "-0.50",
        input_tokens: 9000,
        output_tokens: 900,
        events: 1,
      },
      {
        customer: "acme",
        "properties.session_id": "s1",
        cogs: "0.8004",
        revenue: "2.001",
        margin: "1.2006",
        input_tokens: 4000,
        output_tokens: 600,
        events: 3,
      },
      {
        customer: "acme",
        "properties.session_id": "s2",
        cogs: "0.10",
        revenue: "2.00",
        margin: "1.90",
        input_tokens: 500,
        output_tokens: 50,
        events: 1,
      },
    ]);
    expect(r.totals).toEqual({
      cogs: "4.4004",
      revenue: "7.001",
      margin: "2.6006",
      input_tokens: 13_500,
      output_tokens: 1550,
      events: 5,
    });
    expect(r.truncated).toBe(false);
  });

  it("cuts by provider × model and counts sessions per customer, summed", () => {
    const input = checked({
      measures: ["cogs", "events", "sessions", "units"],
      dimensions: ["provider", "model"],
      order_by: [{ field: "cogs", direction: "desc" }],
    });
    const r = run(input, { acme: acme(), globex: globex() });
    expect(r.rows).toEqual([
      {
        provider: "anthropic",
        model: "claude-sonnet-4-5",
        cogs: "4.30",
        events: 3,
        sessions: 2,
        units: 2,
      },
      { provider: "openai", model: "gpt-4.1", cogs: "0.10", events: 1, sessions: 1, units: 1 },
      {
        provider: "aforo-infra",
        model: "tool-runner",
        cogs: "0.0004",
        events: 1,
        sessions: 1,
        units: 1,
      },
      { provider: null, model: null, cogs: "0.000004", events: 1, sessions: 0, units: 1 },
    ]);
    // acme has s1 and s2, globex g1: a session in two groups counts once in the totals.
    expect(r.totals).toMatchObject({ events: 6, sessions: 3, units: 5 });
  });

  it("buckets by day in the query's zone and filters on an event property", () => {
    const input = checked({
      measures: ["events", "revenue"],
      dimensions: ["time"],
      filters: [{ dimension: "properties.endpoint", op: "is_not", values: ["/v1/agents"] }],
      time: {
        from: new Date(FROM).toISOString(),
        to: new Date(TO).toISOString(),
        granularity: "day",
        time_zone: "Europe/Berlin",
      },
    });
    const r = run(input, { acme: acme(), globex: globex() });
    // globex's 23:00 UTC event is the next Berlin day; the /v1/agents call is filtered out.
    expect(r.rows).toEqual([
      { time: "2026-03-01T00:00:00+01:00", events: 2, revenue: "0.001" },
      { time: "2026-03-03T00:00:00+01:00", events: 2, revenue: "5.00" },
      { time: "2026-03-04T00:00:00+01:00", events: 1, revenue: "0.01" },
    ]);
  });

  it("answers one row without dimensions, and no row for an actor without events", () => {
    const empty = actor([]);
    const none = run(checked({ measures: ["events", "revenue"] }), { empty });
    expect(none.rows).toEqual([{ events: 0, revenue: "0.00" }]);
    const byCustomer = run(checked({ measures: ["events"], dimensions: ["customer"] }), {
      acme: acme(),
      empty,
    });
    expect(byCustomer.rows).toEqual([{ customer: "acme", events: 5 }]);
  });

  it("orders, limits and says when rows were left out; totals cover every row", () => {
    const input = checked({
      measures: ["revenue"],
      dimensions: ["customer", "properties.session_id"],
      order_by: [{ field: "revenue", direction: "asc" }],
      limit: 2,
    });
    const r = run(input, { acme: acme(), globex: globex() });
    expect(r.truncated).toBe(true);
    expect(r.rows).toEqual([
      { customer: "acme", "properties.session_id": null, revenue: "0.01" },
      { customer: "acme", "properties.session_id": "s2", revenue: "2.00" },
    ]);
    expect(r.totals).toEqual({ revenue: "7.011" });
  });

  it("compares with the previous period from the same statement", () => {
    const input = checked({ measures: ["revenue"], compare_to: "previous_period" });
    const before = actor([{ time: FROM - DAY_MS, revenue: 4_000_000_000n }]);
    const r = run(input, { acme: acme(), before });
    expect(r.totals).toEqual({ revenue: "4.011" });
    expect(r.comparison).toEqual({
      from: "2026-02-22T00:00:00.000Z",
      to: "2026-03-01T00:00:00.000Z",
      // acme's event 1 ms before the range is in the previous period too.
      totals: { revenue: "103.00" },
    });
  });

  it("merges exactly past 2^53 and past SQLite's 64-bit SUM", () => {
    // Three events of 4 × 10^18 nanos in one actor: 1.2 × 10^19 overflows SQLite's SUM, which
    // the two halves never do; two such actors make 2.4 × 10^19 nanos (far past 2^53).
    const big = 4_000_000_000_000_000_000n;
    const heavy = () =>
      actor(
        [0, 1, 2].map((i) => ({
          time: FROM + i * HOUR_MS,
          revenue: big,
          cost: big - 1n,
          quantity: 900_000_000_000_000n + BigInt(i),
        })),
      );
    const r = run(checked({ measures: ["revenue", "cogs", "margin", "margin_pct", "units"] }), {
      a: heavy(),
      b: heavy(),
    });
    expect(r.totals).toEqual({
      revenue: "24000000000.00",
      cogs: "23999999999.999999994",
      margin: "0.000000006",
      margin_pct: 0,
      units: 5_400_000_000.000006,
    });
  });
});

describe("which actors, and the limits", () => {
  it("asks D1 for the tenant's customers with usage in the range, its filters applied there", () => {
    const input = checked({
      dimensions: ["model"],
      filters: [
        { dimension: "customer", op: "is", values: [EVIL] },
        { dimension: "product", op: "is_not", values: ["rest"] },
        { dimension: "model", op: "is", values: ["gpt-4.1"] },
      ],
      compare_to: "previous_period",
    });
    const s = customersStatement("ten_a", input.query, input.from, input.to);
    expect(s.sql).toMatch(/from "rollups_daily" as "r"/);
    expect(s.sql).toMatch(/"r"\."tenant_id" = \?/);
    expect(s.sql).not.toContain("OR 1=1");
    expect(s.parameters).toEqual([
      "ten_a",
      // From the comparison's first UTC day to the range's end.
      T("2026-02-22T00:00:00Z"),
      TO,
      EVIL,
      "rest",
      MAX_ACTORS_PER_QUERY + 1,
    ]);
  });

  it("refuses a range or comparison past raw retention, naming the field", () => {
    const now = T("2026-03-31T12:00:00Z");
    const input = checked({ compare_to: "previous_period" });
    expect(retentionIssues(input.query, input.from, input.to, 90, now)).toEqual([]);
    expect(retentionIssues(input.query, input.from, input.to, 30, now)).toEqual([
      {
        path: "time.from",
        message:
          "raw events are kept 30 days (the tenant's raw_retention_days): dataset `events` starts at 2026-03-01T12:00:00.000Z; use `usage` for older periods",
      },
    ]);
    expect(retentionIssues(input.query, input.from, input.to, 35, now)[0]?.path).toBe("compare_to");
  });
});
