import {
  createExecutionContext,
  createMessageBatch,
  env,
  getQueueResult,
  runInDurableObject,
} from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { CustomerActor, OutboxMessage } from "../../durable-objects/customer-actor";
import { joinHalves } from "../../store/exact-sum";
import worker from "../../workers/index";
import { internals } from "./actor-internals";
import {
  actor,
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

// Usage by the cost's provider and model (schema/0024_model_rollups.sql): each actor keeps its
// pending deltas by provider and model and seals them into the same outbox row as the deltas;
// the queue consumer sums them over the tenant's customers in the same transaction, once per
// batch. The usage dataset by provider × model must answer what the events dataset (each
// actor's raw events) answers, to the nano, and add up to the customer rollups; cutting it by a
// customer-level field is refused naming the field; COGS Breakdown runs on it.

let tenant: Tenant;
let other: Tenant;

const TODAY = Math.floor(Date.now() / DAY) * DAY;
const DAY0 = TODAY - 3 * DAY;
const RANGE = { from: isoOf(DAY0), to: isoOf(TODAY), time_zone: "UTC" };
const CUSTOMERS = ["acme", "globex", "initech", "umbrella"];
const run = (q: unknown, t: Tenant = tenant) =>
  call("POST", "/api/reports/run", { token: t.operator_token, body: q });

const llm = (
  who: string,
  at: number,
  quantity: number,
  cost: Record<string, unknown>,
  metric = "input_tokens",
) => tokens(who, at, quantity, { metric, cost });

beforeAll(async () => {
  tenant = await createTenant("Models AI");
  other = await createTenant("Models Elsewhere");
  await clockSettled(tenant);
  await clockSettled(other);
  for (const t of [tenant, other]) {
    await product(t);
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

  const m = 60_000;
  const sonnet = { provider: "anthropic", model: "claude-sonnet-4-5" };
  const gpt = { provider: "openai", model: "gpt-4.1" };
  await send(tenant, [
    // acme and umbrella share an hour and a model: one tenant row summing two customers.
    llm("acme", DAY0 + 2 * HOUR, 1_000, { ...sonnet, usd: 0.25, input_tokens: 1_000 }),
    llm("acme", DAY0 + 2 * HOUR + 4 * m, 2_000, { ...sonnet, usd: 0.5, input_tokens: 2_000 }),
    llm(
      "acme",
      DAY0 + 2 * HOUR + 10 * m,
      300,
      { ...gpt, usd: 0.1234, output_tokens: 300 },
      "output_tokens",
    ),
    llm("umbrella", DAY0 + 2 * HOUR + 30 * m, 500, { ...gpt, usd: 0.05, input_tokens: 500 }),
    // globex: two models across an hour boundary.
    llm("globex", DAY0 + DAY + 9 * HOUR + 50 * m, 10_000, { ...sonnet, usd: 3.333333333 }),
    llm("globex", DAY0 + DAY + 10 * HOUR + 5 * m, 20_000, {
      provider: "anthropic",
      model: "claude-haiku-4-5",
      usd: 0.666666667,
    }),
    // initech: a cost without a provider, no cost block at all, and a model Aforo cannot price
    // (uncosted: its revenue still counts, in the uncosted share).
    llm("initech", DAY0 + 2 * DAY + HOUR, 700, { usd: 0.07 }),
    tokens("initech", DAY0 + 2 * DAY + HOUR + 5 * m, 4_000),
    llm("initech", DAY0 + 2 * DAY + 3 * HOUR, 100, {
      provider: "mistral",
      model: "large",
      input_tokens: 100,
    }),
  ]);
  await send(other, [
    llm("acme", DAY0 + 2 * HOUR, 99_000, { ...sonnet, usd: 9, input_tokens: 99_000 }),
  ]);
  await settle(tenant, CUSTOMERS, 9);
  await settle(other, ["acme"], 1);
});

type Row = Record<string, string | number | null>;
const keyOf = (r: Row) => JSON.stringify([r.provider, r.model, r.product, r.metric]);
const sorted = (rows: Row[]) => [...rows].sort((a, b) => keyOf(a).localeCompare(keyOf(b)));

/** The tenant's model rows summed per (start, product, metric), beside its tenant rows. */
async function modelSumsAndTenantRows(grain: "hourly" | "daily", tenantId = tenant.tenant_id) {
  const cols = ["units", "revenue", "cost", "uncosted_revenue"];
  const read = async (table: string) => {
    const { results } = await env.DB.prepare(
      `SELECT start, product_id, metric_id, ${cols
        .map((c) => `CAST(${c}_hi AS TEXT) AS ${c}_hi, CAST(${c}_lo AS TEXT) AS ${c}_lo`)
        .join(", ")}, events, uncosted_events FROM ${table} WHERE tenant_id = ?`,
    )
      .bind(tenantId)
      .all<Record<string, string | number>>();
    const out = new Map<string, Record<string, bigint>>();
    for (const r of results) {
      const key = `${r.start}/${r.product_id}/${r.metric_id}`;
      const acc = out.get(key) ?? {};
      for (const c of cols) acc[c] = (acc[c] ?? 0n) + joinHalves(r[`${c}_hi`], r[`${c}_lo`]);
      acc.events = (acc.events ?? 0n) + BigInt(r.events ?? 0);
      acc.uncosted_events = (acc.uncosted_events ?? 0n) + BigInt(r.uncosted_events ?? 0);
      out.set(key, acc);
    }
    return Object.fromEntries([...out].sort(([a], [b]) => a.localeCompare(b)));
  };
  return {
    models: await read(`rollups_model_tenant_${grain}`),
    tenant: await read(`rollups_tenant_${grain}`),
  };
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

describe("usage by provider and model", () => {
  it("equals the events dataset by provider × model to the nano, and the customer rollups", async () => {
    const q = {
      measures: ["units", "events", "revenue", "cogs", "margin"],
      dimensions: ["provider", "model", "product", "metric"],
      time: RANGE,
    };
    const [usage, events] = await Promise.all([
      run({ ...q, dataset: "usage" }),
      run({ ...q, dataset: "events" }),
    ]);
    expect(usage.status, JSON.stringify(usage.body)).toBe(200);
    expect(events.status, JSON.stringify(events.body)).toBe(200);
    expect(sorted(usage.body.rows)).toEqual(sorted(events.body.rows));
    expect(usage.body.totals).toEqual(events.body.totals);
    expect(usage.body.rows).toHaveLength(6);
    expect(
      usage.body.rows.find(
        (r: Row) => r.model === "claude-sonnet-4-5" && r.metric === "input_tokens",
      ),
    ).toMatchObject({ provider: "anthropic", units: 13_000, events: 3, cogs: "4.083333333" });
    expect(
      usage.body.rows.find((r: Row) => r.model === "gpt-4.1" && r.metric === "input_tokens"),
    ).toMatchObject({ units: 500, events: 1, cogs: "0.05" });
    // The cost without a provider and the event without a cost share the empty provider.
    expect(usage.body.rows.find((r: Row) => r.provider === null)).toMatchObject({
      model: null,
      units: 4_700,
      events: 2,
      cogs: "0.07",
    });

    // The totals are the tenant's whole usage: the same as the tenant table's and the sum of
    // its customer rollups, to the nano.
    const plain = await run({ ...q, dataset: "usage", dimensions: [] });
    expect(plain.body.totals).toEqual(usage.body.totals);
    const summed = await env.DB.prepare(
      `SELECT CAST(SUM(revenue) AS TEXT) AS revenue, CAST(SUM(cost) AS TEXT) AS cost,
         SUM(events) AS events FROM rollups_daily WHERE tenant_id = ? AND start >= ? AND start < ?`,
    )
      .bind(tenant.tenant_id, DAY0, TODAY)
      .first<{ revenue: string; cost: string; events: number }>();
    expect(nanos(usage.body.totals.revenue)).toBe(BigInt(summed?.revenue ?? "x"));
    expect(nanos(usage.body.totals.cogs)).toBe(BigInt(summed?.cost ?? "x"));
    expect(usage.body.totals.events).toBe(9);
  });

  it("in D1, each tenant row is the sum of its model rows, hourly and daily, uncosted share included", async () => {
    for (const grain of ["hourly", "daily"] as const) {
      const { models, tenant: rows } = await modelSumsAndTenantRows(grain);
      expect(Object.keys(rows).length, grain).toBeGreaterThan(0);
      expect(models, grain).toEqual(rows);
    }
    const { models } = await modelSumsAndTenantRows("daily");
    expect(Object.values(models).some((r) => (r.uncosted_events ?? 0n) > 0n)).toBe(true);
    expect(Object.values(models).some((r) => (r.uncosted_revenue ?? 0n) > 0n)).toBe(true);
    // The other tenant's usage is its own.
    const theirs = await run(
      {
        dataset: "usage",
        measures: ["units", "cogs"],
        dimensions: ["provider", "model"],
        time: RANGE,
      },
      other,
    );
    expect(theirs.body.rows).toEqual([
      { provider: "anthropic", model: "claude-sonnet-4-5", units: 99_000, cogs: "9.00" },
    ]);
  });

  it("applies a batch's facets once however often it is delivered; a batch without them still applies", async () => {
    const hour = TODAY - 20 * DAY + 7 * HOUR;
    const slice = { hour, product: "chat-api", metric: "input_tokens" };
    const message = (c: string, suffix: string, withFacets: boolean): OutboxMessage => ({
      batch_id: `${tenant.tenant_id}:${c}:models-${suffix}`,
      tenant_id: tenant.tenant_id,
      customer_id: c,
      deltas: [
        {
          ...slice,
          units: "3000000",
          revenue: "3000000001",
          cost: "1500000000",
          events: 3,
          uncosted_events: 1,
          uncosted_revenue: "1",
        },
      ],
      ...(withFacets
        ? {
            facets: [
              {
                ...slice,
                provider: "anthropic",
                model: "claude-sonnet-4-5",
                units: "2000000",
                revenue: "2000000000",
                cost: "1500000000",
                events: 2,
                uncosted_events: 0,
                uncosted_revenue: "0",
              },
              {
                ...slice,
                provider: "mistral",
                model: "large",
                units: "1000000",
                revenue: "1000000001",
                cost: "0",
                events: 1,
                uncosted_events: 1,
                uncosted_revenue: "1",
              },
            ],
          }
        : {}),
    });
    const acme = message("acme", "replay", true);
    await deliver([acme, acme]);
    await deliver([acme], 2);
    const globex = message("globex", "replay", true);
    await deliver([globex]);
    await deliver([globex, acme], 3);
    const rowsAt = async () =>
      (
        await env.DB.prepare(
          `SELECT provider, model, CAST(units_hi AS TEXT) AS units_hi, CAST(units_lo AS TEXT) AS units_lo,
             CAST(revenue_hi AS TEXT) AS revenue_hi, CAST(revenue_lo AS TEXT) AS revenue_lo,
             events, uncosted_events
           FROM rollups_model_tenant_hourly WHERE tenant_id = ? AND start = ? ORDER BY provider`,
        )
          .bind(tenant.tenant_id, hour)
          .all<Record<string, string | number>>()
      ).results.map((r) => ({
        provider: r.provider,
        model: r.model,
        units: joinHalves(r.units_hi, r.units_lo),
        revenue: joinHalves(r.revenue_hi, r.revenue_lo),
        events: r.events,
        uncosted_events: r.uncosted_events,
      }));
    // acme and globex once each.
    expect(await rowsAt()).toEqual([
      {
        provider: "anthropic",
        model: "claude-sonnet-4-5",
        units: 4_000_000n,
        revenue: 4_000_000_000n,
        events: 4,
        uncosted_events: 0,
      },
      {
        provider: "mistral",
        model: "large",
        units: 2_000_000n,
        revenue: 2_000_000_002n,
        events: 2,
        uncosted_events: 2,
      },
    ]);
    // A row sealed before facets were kept: the customer and tenant rollups take it, the model
    // tables cannot (they then trail the tenant table by exactly that usage).
    await deliver([message("initech", "old", false)]);
    expect(await rowsAt()).toHaveLength(2);
    const tenantRow = await env.DB.prepare(
      "SELECT events FROM rollups_tenant_hourly WHERE tenant_id = ? AND start = ?",
    )
      .bind(tenant.tenant_id, hour)
      .first<{ events: number }>();
    expect(tenantRow?.events).toBe(9);
  });

  it("refuses provider or model with a customer-level field, naming both and the events dataset", async () => {
    const res = await run({
      dataset: "usage",
      measures: ["cogs"],
      dimensions: ["customer", "model"],
      time: RANGE,
    });
    expectProblem(res, 400, "validation_failed");
    expect(res.body.errors).toEqual([
      {
        path: "dimensions.1",
        message:
          "dimension `model` cannot be combined with `customer` on dataset `usage`: use dataset `events`",
      },
    ]);
    const filtered = await run({
      dataset: "usage",
      measures: ["cogs"],
      dimensions: ["provider"],
      filters: [{ dimension: "segment", op: "is", values: ["smb"] }],
      time: RANGE,
    });
    expectProblem(filtered, 400, "validation_failed");
    expect(filtered.body.errors[0].message).toContain(
      "`provider` cannot be combined with `segment`",
    );
  });

  it("runs the COGS Breakdown template on usage: weekly rows by provider × model × product", async () => {
    const template = await ok(api(tenant).get("/api/reports/tpl_cogs_breakdown"));
    expect(template.query).toMatchObject({
      dataset: "usage",
      dimensions: ["time", "provider", "model", "product"],
      time: { granularity: "week" },
    });
    const res = await run(template.query);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const rows = res.body.rows as Row[];
    expect(rows.every((r) => typeof r.time === "string")).toBe(true);
    // Its range holds this test's replayed hour too (20 days ago): against the events dataset
    // over the same range, the rows of RANGE, by provider and model, summed over weeks.
    const cogsOf = (provider: string, model: string) =>
      rows
        .filter((r) => r.provider === provider && r.model === model)
        .reduce((n, r) => n + nanos(String(r.cogs)), 0n);
    expect(cogsOf("anthropic", "claude-haiku-4-5")).toBe(666_666_667n);
    expect(cogsOf("openai", "gpt-4.1")).toBe(173_400_000n);
    expect(cogsOf("anthropic", "claude-sonnet-4-5")).toBe(4_083_333_333n + 3_000_000_000n);
    expect(rows.find((r) => r.provider === "mistral")).toMatchObject({ cogs: "0.00" });
  });
});

describe("usage by provider and model: a slice with more facets than a message holds", () => {
  it("splits them over several outbox rows, and the model rows still sum to the tenant row", async () => {
    const many = await createTenant("Models Many");
    await clockSettled(many);
    await product(many);
    await plan(many, "payg", [{ type: "per_unit", metric: "input_tokens", unit_price: "0.001" }]);
    await customer(many, "zoo");
    await subscribe(many, "zoo", "payg", DAY0 - 10 * DAY);
    const models = 450;
    await send(
      many,
      Array.from({ length: models }, (_, i) =>
        llm("zoo", DAY0 + 5 * HOUR + i * 1_000, 10 + i, {
          provider: "p",
          model: `m-${String(i).padStart(3, "0")}`,
          usd: (i + 1) / 100,
        }),
      ),
    );
    // Seal what is pending, as the flush does first, and read the rows it made.
    const sealed = await runInDurableObject(actor(many, "zoo"), (i: CustomerActor, state) => {
      (internals(i).outbox as unknown as { sealPendingDeltas(): void }).sealPendingDeltas();
      const left = state.storage.sql
        .exec<{ n: number }>("SELECT COUNT(*) AS n FROM pending_facets")
        .one().n;
      const rows = state.storage.sql
        .exec<{ body: string }>("SELECT body FROM outbox WHERE sent_at IS NULL ORDER BY seq")
        .toArray()
        .map((r) => JSON.parse(r.body) as { deltas?: unknown[]; facets?: unknown[] })
        .filter((b) => b.deltas);
      return { left, rows: rows.map((b) => [b.deltas?.length ?? 0, b.facets?.length ?? 0]) };
    });
    // One delta and 450 facets at 200 rows a message, the delta with its first facets.
    expect(sealed).toEqual({
      left: 0,
      rows: [
        [1, 199],
        [0, 200],
        [0, 51],
      ],
    });
    await settle(many, ["zoo"], models);
    for (const grain of ["hourly", "daily"] as const) {
      const { models: summed, tenant: rows } = await modelSumsAndTenantRows(grain, many.tenant_id);
      expect(summed, grain).toEqual(rows);
    }
    const res = await run(
      { dataset: "usage", measures: ["cogs", "events"], dimensions: ["model"], time: RANGE },
      many,
    );
    expect(res.body.rows).toHaveLength(models);
    // 1 + 2 + … + 450 cents.
    expect(res.body.totals).toEqual({ cogs: "1014.75", events: models });
  });
});
