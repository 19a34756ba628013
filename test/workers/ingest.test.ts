import {
  createExecutionContext,
  createMessageBatch,
  env,
  evictDurableObject,
  getQueueResult,
  runDurableObjectAlarm,
  runInDurableObject,
} from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import type { CustomerActor, OutboxMessage } from "../../durable-objects/customer-actor";
import worker from "../../workers/index";
import { bucketTotals, internals } from "./actor-internals";
import { call, createCatalog, createTenant, expectProblem, type Tenant } from "./helpers";

let tenant: Tenant;
let seq = 0;
const HOUR = 3_600_000;
// A time inside the current billing period of the test subscription (started 2026-11-01).
const base = Date.now() - 2 * HOUR;

const event = (over: Record<string, unknown> = {}) => ({
  id: `evt_${++seq}`,
  customer: "acme",
  product: "chat-api",
  metric: "input_tokens",
  quantity: 1000,
  time: new Date(base).toISOString(),
  ...over,
});

const send = (body: unknown, headers: Record<string, string> = {}) =>
  call("POST", "/v1/events", { token: tenant.ingest_key, body, headers });

const actor = (customer = "acme") =>
  env.CUSTOMER_ACTOR.getByName(
    `${tenant.tenant_id}:${customer}`,
  ) as DurableObjectStub<CustomerActor>;

/** Runs the actors' alarms (outbox flush) and waits until the queue consumer has applied every
 * batch they sent: no unsent usage left and each sent batch recorded in applied_batches. */
async function settle(customers: string[] = ["acme"]) {
  for (const c of customers) await runDurableObjectAlarm(actor(c));
  for (let i = 0; i < 200; i++) {
    const pending = await Promise.all(customers.map((c) => actor(c).pendingOutbox()));
    const sent = await Promise.all(
      customers.map((c) =>
        runInDurableObject(actor(c), (_i: CustomerActor, state) =>
          state.storage.sql
            .exec<{ seq: number }>("SELECT seq FROM outbox WHERE sent_at IS NOT NULL")
            .toArray()
            .map((r) => `${tenant.tenant_id}:${c}:${r.seq}`),
        ),
      ),
    );
    const ids = sent.flat();
    const applied = await env.DB.prepare(
      "SELECT COUNT(*) AS n FROM applied_batches WHERE batch_id IN (SELECT value FROM json_each(?))",
    )
      .bind(JSON.stringify(ids))
      .first<{ n: number }>();
    if (pending.every((p) => p === 0) && applied?.n === ids.length) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("outbox did not drain");
}

async function rollupTotals(customer = "acme") {
  return env.DB.prepare(
    `SELECT product_id AS product, metric_id AS metric, CAST(SUM(units) AS TEXT) AS units,
       CAST(SUM(revenue) AS TEXT) AS revenue, CAST(SUM(cost) AS TEXT) AS cost, SUM(events) AS events
     FROM rollups_hourly WHERE tenant_id = ? AND customer_id = ? GROUP BY product_id, metric_id
     ORDER BY product_id, metric_id`,
  )
    .bind(tenant.tenant_id, customer)
    .all()
    .then((r) => r.results);
}

beforeEach(async () => {
  tenant = await createTenant();
  await createCatalog(tenant);
});

describe("POST /v1/events accepts", () => {
  it("a JSON array, {events:[…]}, a CloudEvents batch and a single CloudEvent", async () => {
    // The helper's events carry no cost, so each is kept and the answer says it is uncosted.
    const first = await send([event(), event()]);
    expect(first.body).toMatchObject({ accepted: 2, duplicates: 0, rejected: [] });
    expect(first.body.warnings.map((w: { index: number }) => w.index)).toEqual([0, 1]);
    expect((await send({ events: [event()] })).body.accepted).toBe(1);
    const ce = (id: string) => ({
      specversion: "1.0",
      id,
      source: "gateway/eu-1",
      type: "input_tokens",
      subject: "acme",
      time: new Date(base).toISOString(),
      data: { product: "chat-api", quantity: 5 },
    });
    const batch = await send([ce("ce-1"), ce("ce-2")], {
      "content-type": "application/cloudevents-batch+json",
    });
    expect(batch.body).toMatchObject({ accepted: 2, duplicates: 0, rejected: [] });
    const single = await send(ce("ce-3"), { "content-type": "application/cloudevents+json" });
    expect(single.body.accepted).toBe(1);
    const page = await call("GET", "/api/customers/acme/events?limit=10", {
      token: tenant.operator_token,
    });
    expect(page.body.data.map((e: { source: string }) => e.source)).toContain("gateway/eu-1");
  });

  it("prices each event at its marginal revenue and costs it from the catalog", async () => {
    await call("PUT", "/api/cost-catalog", {
      token: tenant.operator_token,
      body: [
        {
          provider: "anthropic",
          model: "claude-sonnet-4-5",
          input_per_million: "3",
          output_per_million: "15",
          effective_from: "2026-01-01T00:00:00Z",
        },
      ],
    });
    // Plan: $0.00001/token, 15 % off tokens above 1M. 900k + 200k tokens:
    // first event 9.00; second: 100k at 0.00001 + 100k at 0.0000085 = 1.00 + 0.85 = 1.85.
    const res = await send([
      event({
        id: "a",
        quantity: 900_000,
        cost: {
          provider: "anthropic",
          model: "claude-sonnet-4-5",
          input_tokens: 1200,
          output_tokens: 332,
        },
      }),
      event({ id: "b", quantity: 200_000, cost: { usd: 0.5 } }),
      event({
        id: "c",
        quantity: 1,
        cost: { provider: "openai", model: "unknown-model", input_tokens: 10 },
      }),
    ]);
    expect(res.body.accepted).toBe(3);
    const page = await call("GET", "/api/customers/acme/events", { token: tenant.operator_token });
    const byId = Object.fromEntries(page.body.data.map((e: { id: string }) => [e.id, e]));
    expect(byId.a).toMatchObject({
      revenue: "9",
      cost: "0.00858",
      cost_status: "catalog",
      model: "claude-sonnet-4-5",
      input_tokens: 1200,
    });
    expect(byId.b).toMatchObject({ revenue: "1.85", cost: "0.5", cost_status: "supplied" });
    expect(byId.c).toMatchObject({ cost: "0", cost_status: "uncosted", flags: ["uncosted"] });
  });

  it("keeps events for customers the catalog does not know, flagged, with no revenue", async () => {
    const res = await send([event({ id: "ghost-1", customer: "ghost" })]);
    expect(res.body.accepted).toBe(1);
    const page = await call("GET", "/api/customers/ghost/events", { token: tenant.operator_token });
    expect(page.body.data[0]).toMatchObject({
      id: "ghost-1",
      revenue: "0",
      flags: ["uncosted", "unknown_customer"],
    });
  });
});

describe("duplicates count once", () => {
  it("the same batch twice, and the same id in two batches", async () => {
    const batch = [event(), event()];
    expect((await send(batch)).body).toMatchObject({ accepted: 2, duplicates: 0 });
    expect((await send(batch)).body).toMatchObject({ accepted: 0, duplicates: 2 });
    expect((await send([batch[0], event()])).body).toMatchObject({ accepted: 1, duplicates: 1 });
    expect((await send([event({ id: "twin" }), event({ id: "twin" })])).body).toMatchObject({
      accepted: 1,
      duplicates: 1,
    });
    const totals = await bucketTotals(actor());
    expect(totals[0]).toMatchObject({ events: 4, units: String(4000 * 1e6) });
  });

  it("a batch holding an already-stored event rates the rest as if the repeat were not there", async () => {
    const op = { token: tenant.operator_token };
    await call("POST", "/api/customers", { ...op, body: { id: "twin", name: "Twin" } });
    await call("POST", "/api/subscriptions", {
      ...op,
      body: { customer: "twin", plan: "chat-pro", start: "2026-11-01T00:00:00Z" },
    });
    // The plan's 15 % discount starts above 1,000,000 tokens: where the second event sits
    // depends on the first being counted exactly once.
    const first = event({ quantity: 900_000 });
    await send([first]);
    const retried = await send([first, event({ quantity: 200_000 })]);
    expect(retried.body).toMatchObject({ accepted: 1, duplicates: 1 });
    await send([
      event({ customer: "twin", quantity: 900_000 }),
      event({ customer: "twin", quantity: 200_000 }),
    ]);
    const [acme] = await bucketTotals(actor());
    const [twin] = await bucketTotals(actor("twin"));
    expect(acme).toMatchObject({ events: 2, units: String(1_100_000 * 1e6) });
    expect(acme?.revenue).toBe(twin?.revenue);
  });

  it("a batch retried after a failure inside the actor is stored exactly once", async () => {
    await send([event({ id: "warm-up" })]);
    const batch = [event({ id: "r1" }), event({ id: "r2" })];
    await runInDurableObject(actor(), (instance: CustomerActor) => {
      const { store } = internals(instance);
      const original = store.insertEvents.bind(store);
      let failed = false;
      store.insertEvents = (records, receivedAt) => {
        const inserted = original(records, receivedAt);
        if (!failed) {
          failed = true;
          // As the platform fails a call (a reset object, a storage timeout): retryable.
          throw Object.assign(new Error("simulated crash mid-transaction"), { retryable: true });
        }
        return inserted;
      };
    });
    const first = await send(batch);
    expectProblem(first, 503, "unavailable");
    // Nothing of the failed attempt survived: not the events, their dedupe keys nor the buckets.
    expect((await bucketTotals(actor()))[0]?.events).toBe(1);
    const retry = await send(batch);
    expect(retry.body).toMatchObject({ accepted: 2, duplicates: 0 });
    expect((await send(batch)).body).toMatchObject({ accepted: 0, duplicates: 2 });
    expect((await bucketTotals(actor()))[0]?.events).toBe(3);
  });

  it("an actor evicted between batches loses nothing and still dedupes", async () => {
    await send([event({ id: "e1" }), event({ id: "e2" })]);
    await evictDurableObject(actor());
    expect((await send([event({ id: "e2" }), event({ id: "e3" })])).body).toMatchObject({
      accepted: 1,
      duplicates: 1,
    });
    const page = await call("GET", "/api/customers/acme/events", { token: tenant.operator_token });
    expect(page.body.data.map((e: { id: string }) => e.id).sort()).toEqual(["e1", "e2", "e3"]);
  });
});

describe("fan-out to D1", () => {
  it("rollups equal the actors' sums", async () => {
    await send([event({ quantity: 10 }), event({ quantity: 20, metric: "output_tokens" })]);
    await send([
      event({ customer: "other", quantity: 7 }),
      event({ quantity: 5, time: new Date(base - 5 * HOUR).toISOString() }),
    ]);
    await settle(["acme", "other"]);
    for (const customer of ["acme", "other"]) {
      const fromActor = (await bucketTotals(actor(customer))).map((r) => ({
        ...r,
        events: Number(r.events),
      }));
      const fromD1 = (await rollupTotals(customer)).map((r) => ({
        ...r,
        events: Number(r.events),
      }));
      expect(fromD1).toEqual(fromActor);
    }
    const rollups = await call("GET", "/api/rollups?group_by=customer,metric&granularity=day", {
      token: tenant.operator_token,
    });
    const acmeInput = rollups.body.data.filter(
      (r: { customer: string; metric: string }) =>
        r.customer === "acme" && r.metric === "input_tokens",
    );
    expect(acmeInput.reduce((s: number, r: { events: number }) => s + r.events, 0)).toBe(2);
  });

  it("a sent batch the queue lost (a restart of the local stack) is sent again, and counted once", async () => {
    await send([event({ quantity: 11 }), event({ quantity: 22 })]);
    // Seal the batch and pretend it went out two minutes ago but never reached the consumer.
    await runInDurableObject(actor(), (instance: CustomerActor, state) => {
      (internals(instance).outbox as unknown as { sealPendingDeltas(): void }).sealPendingDeltas();
      state.storage.sql.exec("UPDATE outbox SET sent_at = ?", Date.now() - 120_000);
    });
    expect(await rollupTotals()).toEqual([]);
    await runInDurableObject(actor(), (instance: CustomerActor) =>
      internals(instance).runTimer("reconcile", Date.now()),
    );
    await settle();
    const fromActor = (await bucketTotals(actor())).map((r) => ({
      ...r,
      events: Number(r.events),
    }));
    expect((await rollupTotals()).map((r) => ({ ...r, events: Number(r.events) }))).toEqual(
      fromActor,
    );
    // Reconciling again after the consumer applied it deletes the rows and sends nothing more.
    await runInDurableObject(actor(), (instance: CustomerActor) =>
      internals(instance).runTimer("reconcile", Date.now() + 120_000),
    );
    const left = await runInDurableObject(
      actor(),
      (_i: CustomerActor, state) =>
        state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM outbox").one().n,
    );
    expect(left).toBe(0);
    expect((await rollupTotals())[0]?.events).toBe(2);
  });

  it("applying the same outbox batch twice leaves rollups unchanged", async () => {
    const message: OutboxMessage = {
      batch_id: `${tenant.tenant_id}:acme:replayed-1`,
      tenant_id: tenant.tenant_id,
      customer_id: "acme",
      deltas: [
        {
          hour: 1_700_000_000_000 - (1_700_000_000_000 % HOUR),
          product: "chat-api",
          metric: "input_tokens",
          units: "5000000",
          revenue: "50000",
          cost: "10",
          events: 5,
        },
      ],
    };
    for (let attempt = 1; attempt <= 2; attempt++) {
      const batch = createMessageBatch<OutboxMessage>("aforo-events", [
        { id: `m-${attempt}`, timestamp: new Date(), attempts: attempt, body: message },
      ]);
      const ctx = createExecutionContext();
      await worker.queue(batch, env, ctx);
      expect((await getQueueResult(batch, ctx)).ackAll).toBe(true);
    }
    const totals = await rollupTotals();
    expect(totals).toEqual([
      {
        product: "chat-api",
        metric: "input_tokens",
        units: "5000000",
        revenue: "50000",
        cost: "10",
        events: 5,
      },
    ]);
    const daily = await env.DB.prepare(
      "SELECT SUM(events) AS n FROM rollups_daily WHERE tenant_id = ?",
    )
      .bind(tenant.tenant_id)
      .first<{ n: number }>();
    expect(daily?.n).toBe(5);
  });
});

describe("bad input", () => {
  it("non-JSON, a wrong content type, and a body that is not a list", async () => {
    expectProblem(
      await call("POST", "/v1/events", {
        token: tenant.ingest_key,
        rawBody: "{not json",
        headers: { "content-type": "application/json" },
      }),
      400,
      "malformed_json",
    );
    expectProblem(
      await call("POST", "/v1/events", {
        token: tenant.ingest_key,
        rawBody: "a,b",
        headers: { "content-type": "text/csv" },
      }),
      415,
      "unsupported_media_type",
    );
    expectProblem(await send({ hello: "world" }), 400, "validation_failed");
    // NaN is not JSON.
    expectProblem(
      await call("POST", "/v1/events", {
        token: tenant.ingest_key,
        rawBody: '[{"id":"x","quantity":NaN}]',
        headers: { "content-type": "application/json" },
      }),
      400,
      "malformed_json",
    );
  });

  it("more than 1,000 events or more than 1 MiB", async () => {
    const many = Array.from({ length: 1001 }, () => event());
    expectProblem(await send(many), 413, "payload_too_large");
    const padded = [event({ properties: { pad: "x".repeat(1000) } })];
    const big = JSON.stringify(Array.from({ length: 1100 }, () => padded[0]));
    expectProblem(
      await call("POST", "/v1/events", {
        token: tenant.ingest_key,
        rawBody: big,
        headers: { "content-type": "application/json" },
      }),
      413,
      "payload_too_large",
    );
    expect(await bucketTotals(actor())).toEqual([]);
  });

  it("rejects bad events by index and keeps every good one", async () => {
    const now = Date.now();
    const batch = [
      event({ id: "good-1" }),
      event({ quantity: "12" }),
      event({ quantity: -1 }),
      event({ quantity: 1e20 }),
      event({ quantity: 0.1234567 }),
      event({ time: new Date(now + 3_600_000).toISOString() }),
      event({ time: new Date(now - 500 * 86_400_000).toISOString() }),
      event({ metric: "gpu_seconds" }),
      event({ product: "nope" }),
      event({ customer: "x".repeat(10_240) }),
      event({ id: "p1", properties: JSON.parse('{"__proto__": {"polluted": true}}') }),
      event({ id: "p2", properties: { constructor: "x" } }),
      event({ time: "yesterday" }),
      { ...event(), id: 42 },
      null,
      event({ id: "good-2", quantity: 0 }),
    ];
    const res = await send(batch);
    expect(res.status).toBe(200);
    expect(res.body.accepted).toBe(2);
    const rejectedIdx = res.body.rejected.map((r: { index: number }) => r.index);
    expect(rejectedIdx).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
    for (const r of res.body.rejected) {
      expect(r.errors.length).toBeGreaterThan(0);
      for (const e of r.errors) expect(typeof e.message).toBe("string");
    }
    const find = (i: number) => res.body.rejected.find((r: { index: number }) => r.index === i);
    expect(find(5).errors[0]).toMatchObject({
      path: "time",
      message: expect.stringContaining("future"),
    });
    expect(find(6).errors[0].message).toContain("backfill horizon");
    expect(find(7).errors[0]).toMatchObject({
      path: "metric",
      message: expect.stringContaining("gpu_seconds"),
    });
    expect(find(10).errors[0].path).toContain("properties");
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const page = await call("GET", "/api/customers/acme/events", { token: tenant.operator_token });
    expect(page.body.data.map((e: { id: string }) => e.id).sort()).toEqual(["good-1", "good-2"]);
  });

  it("takes ingest keys only", async () => {
    expectProblem(await call("POST", "/v1/events", { body: [event()] }), 401, "unauthorized");
    expectProblem(
      await call("POST", "/v1/events", { token: tenant.operator_token, body: [event()] }),
      403,
      "wrong_key_kind",
    );
  });
});

describe("tenant isolation", () => {
  it("one tenant's events never show in another's drill-down or rollups", async () => {
    await send([event({ id: "mine" })]);
    await settle();
    const other = await createTenant("Other");
    const page = await call("GET", "/api/customers/acme/events", { token: other.operator_token });
    expect(page.body.data).toEqual([]);
    const rollups = await call("GET", "/api/rollups?group_by=customer", {
      token: other.operator_token,
    });
    expect(rollups.body.data).toEqual([]);
    // The other tenant has no catalog, so the same event is rejected there, not stored.
    const res = await call("POST", "/v1/events", {
      token: other.ingest_key,
      body: [event({ id: "mine" })],
    });
    expect(res.body.rejected[0].errors[0].path).toBe("product");
  });
});

describe("drill-down", () => {
  it("pages newest first with a cursor and filters by time", async () => {
    await send(
      Array.from({ length: 25 }, (_, i) =>
        event({ id: `d${i}`, time: new Date(base - i * 60_000).toISOString() }),
      ),
    );
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const path: string = `/api/customers/acme/events?limit=10${cursor ? `&cursor=${cursor}` : ""}`;
      const page = await call("GET", path, { token: tenant.operator_token });
      seen.push(...page.body.data.map((e: { id: string }) => e.id));
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => `d${i}`));
    const from = new Date(base - 4 * 60_000).toISOString();
    const recent = await call("GET", `/api/customers/acme/events?from=${from}`, {
      token: tenant.operator_token,
    });
    expect(recent.body.data).toHaveLength(5);
    expectProblem(
      await call("GET", "/api/customers/acme/events?cursor=zzz", { token: tenant.operator_token }),
      400,
      "validation_failed",
    );
  });
});

describe("GET /api/live", () => {
  it("streams accepted and rejected events, filtered", async () => {
    const res = await exports.default.fetch("http://aforo.test/api/live?customer=acme", {
      headers: { authorization: `Bearer ${tenant.operator_token}` },
    });
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const reader = res.body?.getReader();
    if (!reader) throw new Error("no body");
    const decoder = new TextDecoder();
    let text = "";
    const readUntil = async (needle: string) => {
      while (!text.includes(needle)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended before ${needle}`);
        text += decoder.decode(value);
      }
    };
    await readUntil("event: ready");
    await send([
      event({ id: "live-1" }),
      event({ id: "live-other", customer: "someone-else" }),
      event({ id: "live-bad", quantity: -5 }),
    ]);
    await readUntil("live-bad");
    expect(text).toContain('"id":"live-1"');
    expect(text).toContain("event: rejected");
    expect(text).not.toContain("live-other");
    await reader.cancel();
  });
});
