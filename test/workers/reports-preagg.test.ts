import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { ReportFilter, ReportQuery } from "../../contracts/reports";
import { DAY_UNITS_LIMIT } from "../../domain/limits";
import { formatMoney } from "../../domain/money";
import { ZoneClock } from "../../domain/reports/buckets";
import { compileReport } from "../../domain/reports/compile";
import { checkQuery } from "../../domain/reports/query";
import { TEMPLATES, templateReport } from "../../domain/reports/templates";
import type { OutboxMessage } from "../../durable-objects/customer-actor";
import { joinHalves } from "../../store/exact-sum";
import { applyBatchStatements } from "../../store/rollups";
import worker from "../../workers/index";
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

// The tenant-level usage rollups (schema/0022_tenant_rollups.sql): the queue consumer keeps them
// equal to the GROUP BY of the customer rollups, once per batch however often it is delivered
// and exact past 2^63; and every usage template answers the same from them as from the
// customers' rows (forced by a customer filter that excludes no one).

let tenant: Tenant;
let other: Tenant;
const TODAY = Math.floor(Date.now() / DAY) * DAY;
const CUSTOMERS = ["acme", "globex", "initech"];
/** A customer filter that excludes no one: the query then needs the customers' rows. */
const NOBODY: ReportFilter = { dimension: "customer", op: "is_not", values: ["no-such-customer"] };

const run = (q: unknown, t: Tenant = tenant) =>
  call("POST", "/api/reports/run", { token: t.operator_token, body: q });

/** Each tenant-table row beside the GROUP BY of the customer rows it sums, exact, as text. */
async function tenantAndGrouped(grain: "hourly" | "daily", tenantId = tenant.tenant_id) {
  const halves = (col: string) =>
    `CAST(SUM(${col} / 1000000000) AS TEXT) AS ${col}_hi, CAST(SUM(${col} % 1000000000) AS TEXT) AS ${col}_lo`;
  const stored = (col: string) =>
    `CAST(${col}_hi AS TEXT) AS ${col}_hi, CAST(${col}_lo AS TEXT) AS ${col}_lo`;
  const money = ["units", "revenue", "cost", "uncosted_revenue"];
  type Row = Record<string, string | number>;
  const sum = (r: Row, m: string) => joinHalves(r[`${m}_hi`], r[`${m}_lo`]);
  const exact = (rows: Row[]) =>
    rows.map((r) => ({
      key: `${r.start}/${r.product_id}/${r.metric_id}`,
      units: sum(r, "units"),
      revenue: sum(r, "revenue"),
      cost: sum(r, "cost"),
      uncosted_revenue: sum(r, "uncosted_revenue"),
      events: Number(r.events),
      uncosted_events: Number(r.uncosted_events),
    }));
  const grouped = await env.DB.prepare(
    `SELECT start, product_id, metric_id, ${money.map(halves).join(", ")},
       SUM(events) AS events, SUM(uncosted_events) AS uncosted_events
     FROM rollups_${grain} WHERE tenant_id = ?
     GROUP BY start, product_id, metric_id ORDER BY start, product_id, metric_id`,
  )
    .bind(tenantId)
    .all<Row>();
  const kept = await env.DB.prepare(
    `SELECT start, product_id, metric_id, ${money.map(stored).join(", ")}, events, uncosted_events
     FROM rollups_tenant_${grain} WHERE tenant_id = ? ORDER BY start, product_id, metric_id`,
  )
    .bind(tenantId)
    .all<Row>();
  return { tenant: exact(kept.results), grouped: exact(grouped.results) };
}

async function expectTenantTablesEqualGroupBy(tenantId = tenant.tenant_id) {
  for (const grain of ["hourly", "daily"] as const) {
    const { tenant: kept, grouped } = await tenantAndGrouped(grain, tenantId);
    expect(grouped.length, grain).toBeGreaterThan(0);
    expect(kept, grain).toEqual(grouped);
  }
  // And each customer's weeks (schema/0029, kept by triggers on the days) are its days summed.
  const columns = "units, revenue, cost, events, uncosted_events, uncosted_revenue";
  const sums = columns
    .split(", ")
    .map((c) => `CAST(SUM(${c}) AS TEXT) AS ${c}`)
    .join(", ");
  const week = `start - (start + ${3 * DAY}) % ${7 * DAY}`;
  const [weeks, days] = await env.DB.batch([
    env.DB.prepare(
      `SELECT start, customer_id, product_id, metric_id, ${sums} FROM rollups_weekly
       WHERE tenant_id = ? AND events <> 0 GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4`,
    ).bind(tenantId),
    env.DB.prepare(
      `SELECT ${week} AS start, customer_id, product_id, metric_id, ${sums} FROM rollups_daily
       WHERE tenant_id = ? GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4`,
    ).bind(tenantId),
  ]);
  expect(weeks?.results.length).toBeGreaterThan(0);
  expect(weeks?.results).toEqual(days?.results);
}

async function deliver(messages: OutboxMessage[], attempt = 1) {
  const batch = createMessageBatch<OutboxMessage>(
    "aforo-events",
    messages.map((body, i) => ({
      id: `m-${attempt}-${i}`,
      timestamp: new Date(),
      attempts: attempt,
      body,
    })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch, env, ctx);
  expect((await getQueueResult(batch, ctx)).ackAll).toBe(true);
}

beforeAll(async () => {
  tenant = await createTenant("Preagg AI");
  other = await createTenant("Preagg Other");
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
  await ok(
    api(tenant).post("/api/customers", { id: "acme", name: "Acme", metadata: { segment: "smb" } }),
  );
  await customer(tenant, "globex");
  await customer(tenant, "initech");
  await subscribe(tenant, "acme", "payg", TODAY - 70 * DAY);
  await subscribe(tenant, "globex", "pro", TODAY - 70 * DAY);
  await subscribe(tenant, "initech", "payg", TODAY - 70 * DAY);
  await customer(other, "acme");
  await subscribe(other, "acme", "payg", TODAY - 70 * DAY);

  // Usage over the last 45 days (so the 30-day scorecard has a previous period), at varied
  // hours, both metrics, costed and uncosted, one customer-hour shared by all three customers.
  const events: unknown[] = [];
  let n = 0;
  for (const daysAgo of [44, 38, 31, 29, 20, 9, 6, 3, 2, 1]) {
    for (const [k, c] of CUSTOMERS.entries()) {
      const at = TODAY - daysAgo * DAY + ((daysAgo * 5 + k * 7) % 24) * HOUR + 60_000;
      n++;
      events.push(
        tokens(c, at, 1_000 * (k + 1) + daysAgo, n % 3 === 0 ? {} : { cost: { usd: 0.1 * k } }),
        tokens(c, at + 120_000, 250 + daysAgo, { metric: "output_tokens", cost: { usd: 0.05 } }),
        tokens(c, TODAY - daysAgo * DAY + 12 * HOUR + 30_000, 10, { cost: { usd: 0.01 } }),
      );
    }
  }
  await send(tenant, events);
  await send(other, [tokens("acme", TODAY - 2 * DAY + HOUR, 99_000, { cost: { usd: 9 } })]);
  await settle(tenant, CUSTOMERS, events.length);
  await settle(other, ["acme"], 1);
});

describe("tenant rollups: written with the customer rollups", () => {
  it("after ingest each tenant row is the GROUP BY of the customer rows, the other tenant's apart", async () => {
    await expectTenantTablesEqualGroupBy();
    await expectTenantTablesEqualGroupBy(other.tenant_id);
    const { tenant: mine } = await tenantAndGrouped("daily");
    const { tenant: theirs } = await tenantAndGrouped("daily", other.tenant_id);
    expect(theirs).toHaveLength(1);
    expect(theirs[0]?.units).toBe(99_000_000_000n);
    expect(mine.some((r) => r.units === 99_000_000_000n)).toBe(false);
    // Some events came without a cost: the uncosted share is summed too.
    expect(mine.some((r) => r.uncosted_events > 0 && r.uncosted_revenue > 0n)).toBe(true);
  });

  it("a redelivered batch, and one delivered twice in the same queue batch, count once", async () => {
    const hour = TODAY - 5 * DAY + 7 * HOUR;
    const message = (c: string, units: string): OutboxMessage => ({
      batch_id: `${tenant.tenant_id}:${c}:preagg-replay`,
      tenant_id: tenant.tenant_id,
      customer_id: c,
      deltas: [
        {
          hour,
          product: "chat-api",
          metric: "input_tokens",
          units,
          revenue: "1234567891",
          cost: "987654321",
          events: 3,
          uncosted_events: 1,
          uncosted_revenue: "5",
        },
      ],
    });
    const acme = message("acme", "7000000");
    const globex = message("globex", "9000000");
    await deliver([acme, globex]);
    await deliver([acme, globex], 2);
    const initech = message("initech", "11000000");
    await deliver([initech, initech]);
    await deliver([initech], 3);
    await expectTenantTablesEqualGroupBy();
    const row = await env.DB.prepare(
      `SELECT units_hi, units_lo, revenue_hi, revenue_lo, events, uncosted_events
       FROM rollups_tenant_hourly WHERE tenant_id = ? AND start = ? AND metric_id = 'input_tokens'`,
    )
      .bind(tenant.tenant_id, hour)
      .first<Record<string, number>>();
    expect(joinHalves(row?.units_hi, row?.units_lo)).toBe(27_000_000n);
    expect(joinHalves(row?.revenue_hi, row?.revenue_lo)).toBe(3n * 1_234_567_891n);
    expect(row).toMatchObject({ events: 9, uncosted_events: 3 });
  });

  it("keeps a tenant row past 2^63 exact, in halves, and reports read it to the nano", async () => {
    // Three customers' hours that each fit a 64-bit integer (4 × 10^18 nanos) but not their sum:
    // what a tenant with thousands of customers at domain/limits.ts's bounds reaches in an hour.
    const hour = TODAY - 8 * DAY + 3 * HOUR;
    const big = 4_000_000_000_000_000_001n;
    const batches = ["whale-a", "whale-b", "whale-c"].map((c) => ({
      batch_id: `${tenant.tenant_id}:${c}:huge`,
      tenant_id: tenant.tenant_id,
      customer_id: c,
      deltas: [
        {
          hour,
          product: "whales",
          metric: "input_tokens",
          units: big.toString(),
          revenue: big.toString(),
          cost: (big / 2n).toString(),
          events: 1,
        },
      ],
    }));
    await env.DB.batch(applyBatchStatements(env.DB, batches, Date.now()));
    await expectTenantTablesEqualGroupBy();
    const { tenant: daily } = await tenantAndGrouped("daily");
    const whales = daily.find((r) => r.key === `${hour - (hour % DAY)}/whales/input_tokens`);
    expect(whales).toMatchObject({ units: 3n * big, revenue: 3n * big, events: 3 });

    const q = {
      dataset: "usage",
      measures: ["revenue", "units"],
      dimensions: ["product"],
      filters: [{ dimension: "product", op: "is", values: ["whales"] }],
      time: { from: isoOf(hour - (hour % DAY)), to: isoOf(hour - (hour % DAY) + DAY) },
    };
    const fromTenant = await run(q);
    const fromCustomers = await run({ ...q, filters: [...q.filters, NOBODY] });
    expect(fromTenant.body.rows).toEqual([
      { product: "whales", revenue: "12000000000.000000003", units: Number(3n * big) / 1e6 },
    ]);
    expect(fromCustomers.body.rows).toEqual(fromTenant.body.rows);
    expect(fromCustomers.body.totals).toEqual(fromTenant.body.totals);
  });

  it("sums one customer past 2^63 exactly: the refused 64-bit sum is run again in halves", async () => {
    // Ten days of one customer at domain/limits.ts's daily bound (10^18 micro-units of a metric;
    // a week of them, 7 × 10^18, still fits a weekly row): their sum, 10^19, does not fit 64
    // bits. The per-customer statement sums plain integers, SQLite refuses the overflow, and the
    // runner answers from the same statements summed in halves.
    const first = TODAY - 40 * DAY;
    const batches = Array.from({ length: 10 }, (_, i) => ({
      batch_id: `${tenant.tenant_id}:whale-d:day-${i}`,
      tenant_id: tenant.tenant_id,
      customer_id: "whale-d",
      deltas: [
        {
          hour: first + i * DAY + 5 * HOUR,
          product: "whales",
          metric: "input_tokens",
          units: DAY_UNITS_LIMIT.toString(),
          revenue: "7",
          cost: "1",
          events: 1,
        },
      ],
    }));
    await env.DB.batch(applyBatchStatements(env.DB, batches, Date.now()));
    const answer = await run({
      dataset: "usage",
      measures: ["revenue", "units", "events"],
      dimensions: ["customer"],
      filters: [{ dimension: "customer", op: "is", values: ["whale-d"] }],
      time: { from: isoOf(first), to: isoOf(first + 10 * DAY) },
    });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body.rows).toEqual([
      {
        customer: "whale-d",
        revenue: "0.00000007",
        units: Number(10n * DAY_UNITS_LIMIT) / 1e6,
        events: 10,
      },
    ]);
  });
});

describe("reports: the tenant tables answer as the customer tables do", () => {
  /** Each usage template (and a few cuts beside them) in UTC (daily rollups) and New York
   * (hourly rollups for its local days, days and edge hours for the rest), as the route
   * resolves them today. */
  const queries = (): { name: string; query: ReportQuery }[] => {
    const now = Date.now();
    const out: { name: string; query: ReportQuery }[] = [];
    for (const zone of ["UTC", "America/New_York"]) {
      // Those by provider or model have no customer-level twin (the model tables'; they are
      // checked against the events dataset in reports-models.test.ts).
      const usage = TEMPLATES.filter(
        (x) =>
          x.query.dataset === "usage" &&
          !x.query.dimensions.some((d) => d === "provider" || d === "model"),
      );
      for (const t of usage) {
        out.push({ name: `${t.id} in ${zone}`, query: templateReport(t, now, zone).query });
      }
      const last10 = { from: isoOf(TODAY - 10 * DAY), to: isoOf(TODAY + DAY), time_zone: zone };
      out.push(
        {
          name: `hourly buckets by metric, ordered by units, in ${zone}`,
          query: {
            dataset: "usage",
            measures: ["units", "events", "margin"],
            dimensions: ["time", "metric"],
            time: { ...last10, granularity: "hour" },
            order_by: [{ field: "units", direction: "desc" }],
            limit: 7,
          },
        },
        {
          name: `one metric by day with a comparison, in ${zone}`,
          query: {
            dataset: "usage",
            measures: ["revenue", "cogs", "margin_pct"],
            dimensions: ["time"],
            filters: [{ dimension: "metric", op: "is", values: ["output_tokens"] }],
            time: { ...last10, granularity: "day" },
            compare_to: "previous_period",
          },
        },
      );
    }
    return out;
  };

  it("every usage template and cut: the same rows, totals and comparison both ways", async () => {
    const all = queries();
    expect(all.length).toBeGreaterThanOrEqual(12);
    const seen = new Set<string>();
    for (const { name, query } of all) {
      const forced = { ...query, filters: [...(query.filters ?? []), NOBODY] };
      const tables = [query, forced].map((q) => {
        const c = checkQuery(q, "UTC");
        if (!c.ok) throw new Error(`${name}: ${JSON.stringify(c.issues)}`);
        const r = compileReport(tenant.tenant_id, c.query, c.from, c.to, Date.now());
        return [r.table, r.totalsTable];
      });
      // The customer filter sends every statement to the customer tables.
      for (const t of tables[1] ?? []) expect(t, name).toMatch(/^rollups_(hourly|daily|weekly)$/);
      for (const t of tables[0] ?? []) seen.add(t);

      const [plain, viaCustomers] = await Promise.all([run(query), run(forced)]);
      expect(plain.status, `${name}: ${JSON.stringify(plain.body)}`).toBe(200);
      expect(viaCustomers.status, name).toBe(200);
      const answer = (b: Record<string, unknown>) => ({
        columns: b.columns,
        rows: b.rows,
        totals: b.totals,
        comparison: b.comparison,
        truncated: b.truncated,
      });
      expect(answer(plain.body), name).toEqual(answer(viaCustomers.body));
    }
    // Both tenant tables were read, for rows and for totals beside per-customer rows.
    expect([...seen]).toEqual(
      expect.arrayContaining(["rollups_tenant_daily", "rollups_tenant_hourly", "rollups_weekly"]),
    );
  });

  it("the usage templates that cut by time, product and metric only read the tenant table", async () => {
    const now = Date.now();
    const tenantLevel = TEMPLATES.filter(
      (t) =>
        t.query.dataset === "usage" &&
        [...t.query.dimensions, ...(t.query.filters ?? []).map((f) => f.dimension)].every((d) =>
          ["time", "hour_of_week", "product", "metric"].includes(d),
        ),
    );
    // revenue_summary and margin_trend at least.
    expect(tenantLevel.length).toBeGreaterThanOrEqual(2);
    for (const t of tenantLevel) {
      const q = templateReport(t, now, "UTC").query;
      const c = checkQuery(q, "UTC");
      if (!c.ok) throw new Error(t.id);
      const r = compileReport(tenant.tenant_id, c.query, c.from, c.to, now);
      expect([r.table, r.totalsTable], t.id).toEqual([
        expect.stringMatching(/^rollups_tenant_/),
        expect.stringMatching(/^rollups_tenant_/),
      ]);
      const res = await run(q);
      expect(res.body.rows.length, t.id).toBeGreaterThan(0);
    }
  });
});

describe("reports: whole UTC days from the daily rollups, the edges' hours from the hourly ones", () => {
  /** A plan filter that excludes no one: every statement reads the customers' rows through the
   * plan intervals (domain/reports/plan-source.ts), whose straddled days come from their hours —
   * another construction of the same answer (test/domain/reports/compile-plan.test.ts checks it
   * against each hour's own plan). */
  const HOURS_ONLY: ReportFilter = {
    dimension: "plan",
    op: "is_not",
    values: ["no-such-plan"],
  };
  const compiledFor = (q: ReportQuery) => {
    const c = checkQuery(q, "UTC");
    if (!c.ok) throw new Error(JSON.stringify(c.issues));
    return compileReport(tenant.tenant_id, c.query, c.from, c.to, Date.now());
  };
  /** Local midnights in `zone` over the fixture's days. */
  const localDays = (zone: string) =>
    new ZoneClock(zone, TODAY - 80 * DAY, TODAY + 2 * DAY).bucketStarts(
      TODAY - 80 * DAY,
      TODAY + 2 * DAY,
      "day",
    );
  /** Usage rows of the hourly table in [from, to), to show an edge holds data. */
  const hourlyRows = async (from: number, to: number) =>
    (
      await env.DB.prepare(
        "SELECT COUNT(*) AS n FROM rollups_hourly WHERE tenant_id = ? AND start >= ? AND start < ?",
      )
        .bind(tenant.tenant_id, from, to)
        .first<{ n: number }>()
    )?.n ?? 0;

  const queries = (zone: string): { name: string; query: ReportQuery }[] => {
    const days = localDays(zone);
    /** The local midnight starting the local date of the UTC day `daysAgo`. */
    const midnightOf = (daysAgo: number) =>
      days[days.findLastIndex((t) => t <= TODAY - daysAgo * DAY + 12 * HOUR)] as number;
    // The 30 local dates from 31 to 2 days ago, and the 30 days before them: the edges hold
    // usage (Madrid's range ends at 23:00Z on a UTC day with usage, New York's starts at 05:00Z
    // on one), so an edge dropped or counted twice changes the answer.
    const range = { from: isoOf(midnightOf(31)), to: isoOf(midnightOf(1)), time_zone: zone };
    const scorecard = TEMPLATES.find((t) => t.id === "customer_health_scorecard");
    if (!scorecard) throw new Error("customer_health_scorecard");
    const all = ["units", "events", "revenue", "cogs", "margin", "margin_pct"];
    return [
      {
        name: `customer_health_scorecard as resolved now in ${zone}`,
        query: templateReport(scorecard, Date.now(), zone).query,
      },
      {
        name: `by customer with the previous period in ${zone}`,
        query: {
          dataset: "usage",
          measures: all,
          dimensions: ["customer"],
          time: range,
          compare_to: "previous_period",
          order_by: [{ field: "revenue", direction: "desc" }],
        },
      },
      {
        name: `by product and metric (the tenant's sums) with the previous period in ${zone}`,
        query: {
          dataset: "usage",
          measures: all,
          dimensions: ["product", "metric"],
          time: range,
          compare_to: "previous_period",
        },
      },
      {
        name: `totals only, one customer's segment, in ${zone}`,
        query: {
          dataset: "usage",
          measures: ["units", "revenue", "margin"],
          dimensions: [],
          filters: [{ dimension: "segment", op: "is", values: ["smb"] }],
          time: range,
          compare_to: "previous_period",
        },
      },
      {
        name: `by day (hours in ${zone} unless its days are UTC days), totals from days`,
        query: {
          dataset: "usage",
          measures: all,
          dimensions: ["time", "customer"],
          time: { ...range, granularity: "day" },
          compare_to: "previous_period",
        },
      },
      ...(zone === "UTC"
        ? [
            {
              name: "UTC days from 09:00 on the first day",
              query: {
                dataset: "usage",
                measures: all,
                dimensions: ["time", "metric"],
                time: {
                  from: isoOf(TODAY - 31 * DAY + 9 * HOUR),
                  to: isoOf(TODAY - 2 * DAY + 13 * HOUR),
                  granularity: "day",
                  time_zone: "UTC",
                },
                compare_to: "previous_period",
              } satisfies ReportQuery,
            },
          ]
        : []),
    ];
  };

  for (const zone of ["UTC", "Europe/Madrid", "America/New_York"]) {
    it(`in ${zone}: every statement answers as from the hours alone, to the nano`, async () => {
      let edgeHours = 0;
      let daysRead = 0;
      for (const { name, query } of queries(zone)) {
        const hoursOnly = { ...query, filters: [...(query.filters ?? []), HOURS_ONLY] };
        const plain = compiledFor(query);
        const forced = compiledFor(hoursOnly);
        const scans = (r: typeof plain) => [
          ...r.reads.rows,
          ...r.reads.totals,
          ...(r.reads.comparison ?? []),
        ];
        for (const s of scans(forced)) {
          expect(s.table, name).toMatch(/^rollups_(hourly|daily|weekly)$/);
        }
        for (const s of scans(plain)) {
          if (s.table.endsWith("_daily")) daysRead++;
          // An edge: hours read as they are, or taken off their day's row.
          if (s.table.endsWith("_hourly")) edgeHours += await hourlyRows(s.from, s.to);
        }
        if (zone !== "UTC") {
          // Local midnights here are never UTC ones: the totals read days and edge hours
          // (weeks inside, where the statement reads the customers' rows).
          expect(
            plain.reads.totals
              .map((s) => s.table.replace(/^rollups_(tenant_)?/, ""))
              .filter((t) => t !== "weekly"),
          ).toEqual(expect.arrayContaining(["hourly", "daily", "hourly"]));
        }

        const [a, b] = await Promise.all([run(query), run(hoursOnly)]);
        expect(a.status, `${name}: ${JSON.stringify(a.body)}`).toBe(200);
        expect(b.status, `${name}: ${JSON.stringify(b.body)}`).toBe(200);
        const answer = (x: Record<string, unknown>) => ({
          columns: x.columns,
          rows: x.rows,
          totals: x.totals,
          comparison: x.comparison,
          truncated: x.truncated,
        });
        expect(answer(a.body), name).toEqual(answer(b.body));
        expect(a.body.totals.units, name).toBeGreaterThan(0);
        if (query.compare_to && !name.startsWith("customer_health")) {
          expect(a.body.comparison.totals.units, name).toBeGreaterThan(0);
        }
        // And the totals are the hours' of the range themselves, summed here in SQL.
        if (!query.filters?.length && query.measures.includes("revenue")) {
          const c = checkQuery(query, "UTC");
          if (!c.ok) throw new Error(name);
          const hours = await env.DB.prepare(
            `SELECT CAST(SUM(revenue / 1000000000) AS TEXT) AS hi,
               CAST(SUM(revenue % 1000000000) AS TEXT) AS lo, SUM(events) AS events
             FROM rollups_hourly WHERE tenant_id = ? AND start >= ? AND start < ?`,
          )
            .bind(tenant.tenant_id, c.from, c.to)
            .first<{ hi: string; lo: string; events: number }>();
          expect(a.body.totals.revenue, name).toBe(
            formatMoney(joinHalves(hours?.hi ?? 0, hours?.lo ?? 0)),
          );
          if (query.measures.includes("events")) {
            expect(a.body.totals.events, name).toBe(hours?.events);
          }
        }
      }
      expect(daysRead).toBeGreaterThan(0);
      // The edges held usage: had they been dropped or counted twice, the answers would differ.
      expect(edgeHours).toBeGreaterThan(0);
    });
  }
});
