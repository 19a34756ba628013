import {
  env,
  evictDurableObject,
  runDurableObjectAlarm,
  runInDurableObject,
} from "cloudflare:test";
import { beforeEach, describe, expect, inject, it } from "vitest";
import type { Signal } from "../../domain/detectors";
import type { CustomerActor } from "../../durable-objects/customer-actor";
import { signalStatements } from "../../workers/ladder";
import { internals } from "./actor-internals";
import { call, createCatalog, createTenant, expectProblem, type Tenant } from "./helpers";

let tenant: Tenant;
let seq = 0;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const actor = (customer = "acme") =>
  env.CUSTOMER_ACTOR.getByName(
    `${tenant.tenant_id}:${customer}`,
  ) as DurableObjectStub<CustomerActor>;
const op = () => ({ token: tenant.operator_token });
const send = (events: unknown[]) =>
  call("POST", "/v1/events", { token: tenant.ingest_key, body: events });
const gate = (customer = "acme", units = 1) =>
  call("POST", "/v1/gate", { token: tenant.ingest_key, body: { customer, units } });

/** An event whose cost dwarfs its revenue: MarginGuard trips L1, L2 and L3 at once. */
const costly = (over: Record<string, unknown> = {}) => ({
  id: `c${++seq}`,
  customer: "acme",
  product: "chat-api",
  metric: "input_tokens",
  quantity: 1000,
  time: new Date(Date.now() - HOUR).toISOString(),
  cost: { usd: 5000 },
  ...over,
});

/** Flushes the actor's outbox and waits until D1 holds at least `n` signals. */
async function signalsInD1(n: number, customer = "acme") {
  await runDurableObjectAlarm(actor(customer));
  for (let i = 0; i < 100; i++) {
    const row = await env.DB.prepare("SELECT COUNT(*) AS n FROM signals WHERE tenant_id = ?")
      .bind(tenant.tenant_id)
      .first<{ n: number }>();
    if ((row?.n ?? 0) >= n) return row?.n ?? 0;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`fewer than ${n} signals reached D1`);
}

beforeEach(async () => {
  tenant = await createTenant();
  await createCatalog(tenant);
});

describe("signals", () => {
  it("MarginGuard fires each level once per period, carrying its source event", async () => {
    await send([costly({ id: "src-1" })]);
    await signalsInD1(6);
    const list = await call("GET", "/api/signals?detector=MarginGuard", op());
    expect(list.status).toBe(200);
    const levels = list.body.data.map(
      (s: { details: { level: string }; product: string | null }) =>
        `${s.product ?? "*"}:${s.details.level}`,
    );
    expect(levels.sort()).toEqual([
      "*:L1",
      "*:L2",
      "*:L3",
      "chat-api:L1",
      "chat-api:L2",
      "chat-api:L3",
    ]);
    const magnitudes = list.body.data.map((s: { magnitude: number }) => s.magnitude);
    expect(magnitudes).toEqual([...magnitudes].sort((a, b) => b - a));
    const one = await call("GET", `/api/signals/${list.body.data[0].id}`, op());
    expect(one.body.source_event_ids).toContain("src-1");
    expect(one.body.source_events[0]).toMatchObject({ id: "src-1", cost: "5000" });
    expect(one.body.trail[0]).toMatchObject({ step: "queued", actor: "policy" });
    // More costly events in the same month: no level fires twice.
    await send([costly(), costly()]);
    await runDurableObjectAlarm(actor());
    await new Promise((r) => setTimeout(r, 300));
    expect((await call("GET", "/api/signals?detector=MarginGuard", op())).body.data).toHaveLength(
      6,
    );
  });

  it("an actor that dies before saving its detector state fires nothing twice", async () => {
    await send([costly({ id: "d-1" })]);
    await signalsInD1(6);
    // Evicted before its next flush: the detectors' latest state was only in memory.
    await evictDurableObject(actor());
    await send([costly({ id: "d-2" })]);
    await runDurableObjectAlarm(actor());
    await new Promise((r) => setTimeout(r, 300));
    expect((await call("GET", "/api/signals?detector=MarginGuard", op())).body.data).toHaveLength(
      6,
    );
  });

  it("a replayed batch fires nothing new", async () => {
    const batch = [costly({ id: "r-1" }), costly({ id: "r-2" })];
    await send(batch);
    const before = await signalsInD1(6);
    const replay = await send(batch);
    expect(replay.body).toMatchObject({ accepted: 0, duplicates: 2 });
    await runDurableObjectAlarm(actor());
    expect(await actor().pendingOutbox()).toBe(0);
    const again = await call("POST", "/api/detectors/evaluate", { ...op(), body: {} });
    expect(again.status).toBe(200);
    expect(await signalsInD1(before)).toBe(before);
  });

  it("a silent customer is evaluated on the wall clock: its usage collapse becomes a churn signal", async () => {
    // Three weeks of steady daily usage that stopped eight days ago.
    const end = Math.floor(Date.now() / DAY) * DAY - 8 * DAY;
    const history = Array.from({ length: 21 }, (_, d) =>
      costly({
        id: `h${d}`,
        cost: undefined,
        quantity: 5000,
        time: new Date(end - d * DAY + 12 * HOUR).toISOString(),
      }),
    );
    await send(history);
    expect(
      (await call("GET", "/api/signals?detector=WeeklyChurnSignalDetector", op())).body.data,
    ).toEqual([]);
    // The silence check the alarm runs once nothing has arrived for a while.
    await runInDurableObject(actor(), async (instance: CustomerActor, state) => {
      // As after an eviction that followed the actor\'s last flush.
      state.storage.transactionSync(() => internals(instance).memory.persistDetectorState());
      state.storage.kv.put("last_ingest_at", 0);
      internals(instance).memory.forget();
      await internals(instance).runTimer("silence", Date.now());
    });
    await runDurableObjectAlarm(actor());
    for (let i = 0; i < 100; i++) {
      const churn = await call("GET", "/api/signals?detector=WeeklyChurnSignalDetector", op());
      if (churn.body.data.length > 0) {
        expect(churn.body.data[0]).toMatchObject({ customer: "acme", product: "chat-api" });
        expect(churn.body.data[0].details.drop_pct).toBeGreaterThanOrEqual(50);
        expect(churn.body.data[0].action.rung).toBe("escalate");
        return;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error("no churn signal");
  });

  it("a tenant whose whole feed is silent has an outage, not churn: hours wait for the feed", async () => {
    // acme: three weeks of steady daily usage that stopped five days ago.
    const end = Math.floor(Date.now() / DAY) * DAY - 5 * DAY;
    await send(
      Array.from({ length: 21 }, (_, d) =>
        costly({
          id: `q${d}`,
          cost: undefined,
          quantity: 5000,
          time: new Date(end - d * DAY + 12 * HOUR).toISOString(),
        }),
      ),
    );
    const latestHour = async () =>
      (
        await env.DB.prepare("SELECT MAX(start) AS start FROM rollups_hourly WHERE tenant_id = ?")
          .bind(tenant.tenant_id)
          .first<{ start: number | null }>()
      )?.start ?? 0;
    const until = async (ok: () => Promise<boolean>, what: string) => {
      for (let i = 0; i < 200; i++) {
        if (await ok()) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`timed out waiting for ${what} (latest hour ${await latestHour()})`);
    };
    await runDurableObjectAlarm(actor());
    await until(async () => (await latestHour()) >= end - DAY + 12 * HOUR, "acme's rollups");
    const silenceCheck = () =>
      runInDurableObject(actor(), async (instance: CustomerActor, state) => {
        // As after an eviction that followed the actor\'s last flush.
        state.storage.transactionSync(() => internals(instance).memory.persistDetectorState());
        state.storage.kv.put("last_ingest_at", 0);
        internals(instance).memory.forget();
        await internals(instance).runTimer("silence", Date.now());
      });
    const churn = async () =>
      (await call("GET", "/api/signals?detector=WeeklyChurnSignalDetector", op())).body.data;

    // Nobody in the tenant has sent anything for five days: only the 72 h beyond the outage's
    // allowance close as zeros (two quiet days of seven: no churn).
    await silenceCheck();
    // What the actor itself decided (D1 only follows it): no churn signal.
    const actorChurn = () =>
      runInDurableObject(
        actor(),
        (_instance: CustomerActor, state) =>
          state.storage.sql
            .exec<{ n: number }>(
              "SELECT COUNT(*) AS n FROM signals WHERE detector = 'WeeklyChurnSignalDetector'",
            )
            .one().n,
      );
    expect(await actorChurn()).toBe(0);

    // Another customer's usage arrives: the feed is up, so acme's silence is real.
    await send([
      costly({ id: "beta-now", customer: "beta", cost: undefined, time: new Date().toISOString() }),
    ]);
    await runDurableObjectAlarm(actor("beta"));
    await until(
      async () => (await latestHour()) >= Math.floor(Date.now() / HOUR) * HOUR,
      "beta's rollup",
    );
    await silenceCheck();
    expect(await actorChurn()).toBe(1);
    await runDurableObjectAlarm(actor());
    await until(async () => (await churn()).length > 0, "acme's churn signal");
    expect((await churn())[0]).toMatchObject({ customer: "acme", product: "chat-api" });
  }, 30_000);

  it("lists with filters and a cursor, and 404s other tenants' signals", async () => {
    await send([costly()]);
    await signalsInD1(6);
    const first = await call("GET", "/api/signals?limit=4", op());
    const second = await call("GET", `/api/signals?limit=4&cursor=${first.body.next_cursor}`, op());
    const ids = [...first.body.data, ...second.body.data].map((s: { id: string }) => s.id);
    expect(new Set(ids).size).toBe(6);
    expect(second.body.next_cursor).toBeNull();
    const other = await createTenant("Other");
    expect((await call("GET", "/api/signals", { token: other.operator_token })).body.data).toEqual(
      [],
    );
    expectProblem(
      await call("GET", `/api/signals/${ids[0]}`, { token: other.operator_token }),
      404,
      "not_found",
    );
    expectProblem(
      await call("GET", "/api/signals", { token: tenant.ingest_key }),
      403,
      "wrong_key_kind",
    );
    expectProblem(await call("GET", "/api/signals?sort=sideways", op()), 400, "validation_failed");
  });
  it("an operator resolves a signal with a note and can reopen it; neither touches its action", async () => {
    await send([costly()]);
    await signalsInD1(6);
    const [first, second] = (await call("GET", "/api/signals?limit=2", op())).body.data;
    const resolved = await call("POST", `/api/signals/${first.id}/resolve`, {
      ...op(),
      body: { note: "  Talked to acme: a one-off backfill  " },
    });
    expect(resolved.status).toBe(200);
    expect(resolved.body).toMatchObject({
      id: first.id,
      status: "resolved",
      resolution: {
        by: expect.stringMatching(/^token:[0-9a-f]{16}$/),
        note: "Talked to acme: a one-off backfill",
      },
      action: { id: first.action.id, state: first.action.state },
    });
    expect(Date.parse(resolved.body.resolution.at)).toBeGreaterThan(Date.now() - 60_000);
    // No body at all is fine too.
    expect((await call("POST", `/api/signals/${second.id}/resolve`, op())).body).toMatchObject({
      status: "resolved",
      resolution: { note: null },
    });
    const open = await call("GET", "/api/signals?status=open", op());
    expect(open.body.data.map((s: { id: string }) => s.id)).not.toContain(first.id);
    expect(open.body.data).toHaveLength(4);
    expect((await call("GET", "/api/signals?status=resolved", op())).body.data).toHaveLength(2);

    expectProblem(await call("POST", `/api/signals/${first.id}/resolve`, op()), 409, "conflict");
    const reopened = await call("POST", `/api/signals/${first.id}/reopen`, op());
    expect(reopened.body).toMatchObject({ status: "open", resolution: null });
    expectProblem(await call("POST", `/api/signals/${first.id}/reopen`, op()), 409, "conflict");

    expectProblem(
      await call("POST", `/api/signals/${first.id}/resolve`, {
        ...op(),
        body: { note: "x".repeat(501) },
      }),
      400,
      "validation_failed",
    );
    expectProblem(
      await call("POST", `/api/signals/${first.id}/resolve`, { ...op(), body: { note: 5 } }),
      400,
      "validation_failed",
    );
    const other = await createTenant("Other");
    expectProblem(
      await call("POST", `/api/signals/${first.id}/resolve`, { token: other.operator_token }),
      404,
      "not_found",
    );
    expectProblem(await call("POST", "/api/signals/nope/resolve", op()), 404, "not_found");
  });
});

describe("the ladder", () => {
  it("queues BLOCK with the policy off; execute blocks at the gate, reverse unblocks; every step is on the trail", async () => {
    expect((await gate()).body).toMatchObject({ allow: true, tier: "normal" });
    await send([costly()]);
    await signalsInD1(6);
    const list = await call("GET", "/api/signals?detector=MarginGuard", op());
    const l3 = list.body.data.find(
      (s: { product: string | null; details: { level: string } }) =>
        s.product === "chat-api" && s.details.level === "L3",
    );
    expect(l3.action).toMatchObject({ rung: "BLOCK", state: "queued" });
    // Queued executes nothing: the gate still allows and the subscription is untouched.
    expect((await gate()).body.allow).toBe(true);

    const executed = await call("POST", `/api/actions/${l3.action.id}/execute`, op());
    expect(executed.body).toMatchObject({ state: "executed", rung: "BLOCK" });
    expect((await gate()).body).toMatchObject({ allow: false, tier: "blocked", limit: 0 });
    const subs = await call("GET", "/api/subscriptions?customer=acme", op());
    expect(subs.body.data[0].status).toBe("suspended");
    // The suspension is in the subscription's history, where the cockpit reads it.
    const history = await call(
      "GET",
      `/api/subscriptions/${subs.body.data[0].id}?include=history`,
      op(),
    );
    expect(JSON.stringify(history.body)).toContain("ladder:BLOCK");
    expectProblem(
      await call("POST", `/api/actions/${l3.action.id}/execute`, op()),
      409,
      "conflict",
    );

    const reversed = await call("POST", `/api/actions/${l3.action.id}/reverse`, op());
    expect(reversed.body.state).toBe("reversed");
    expect((await gate()).body).toMatchObject({ allow: true, tier: "normal" });
    expect((await call("GET", "/api/subscriptions?customer=acme", op())).body.data[0].status).toBe(
      "active",
    );

    const trail = await call("GET", `/api/actions?action=${l3.action.id}`, op());
    expect(trail.body.data.map((s: { step: string }) => s.step)).toEqual([
      "reversed",
      "executed",
      "queued",
    ]);
    expect(trail.body.data[0].actor).toMatch(/^token:/);
    expect(trail.body.data[2].actor).toBe("policy");
  });

  it("with THROTTLE switched on, the policy throttles the customer at the gate by itself", async () => {
    const put = await call("PUT", "/api/policies", {
      ...op(),
      body: {
        scope: "tenant",
        policy: {
          auto_actions: { THROTTLE: true },
          gate: { rate_per_second: 50, burst: 50, throttled_rate_per_second: 2 },
        },
      },
    });
    expect(put.status).toBe(200);
    expect(put.body.effective.auto_actions.THROTTLE).toBe(true);
    await send([costly()]);
    await signalsInD1(6);
    for (let i = 0; i < 100; i++) {
      const answer = (await gate()).body;
      if (answer.tier === "throttled") {
        expect(answer.limit).toBe(2);
        const steps = await call("GET", "/api/actions?step=executed", op());
        expect(
          steps.body.data.some(
            (s: { rung: string; actor: string }) => s.rung === "THROTTLE" && s.actor === "policy",
          ),
        ).toBe(true);
        // BLOCK stays queued: only THROTTLE was switched on.
        const blocks = await call("GET", "/api/signals?detector=MarginGuard", op());
        expect(
          blocks.body.data
            .filter((s: { action: { rung: string; state: string } }) => s.action.rung === "BLOCK")
            .every((s: { action: { state: string } }) => s.action.state === "queued"),
        ).toBe(true);
        return;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error("the gate was never throttled");
  });

  it("switching a rung on runs the actions already queued at that rung", async () => {
    await send([costly()]);
    await signalsInD1(6);
    expect((await gate()).body.tier).toBe("normal");
    const put = await call("PUT", "/api/policies", {
      ...op(),
      body: { scope: "customer", id: "acme", policy: { auto_actions: { THROTTLE: true } } },
    });
    expect(put.body.executed_queued).toBe(2);
    expect((await gate()).body.tier).toBe("throttled");
    const steps = (await call("GET", "/api/actions?step=executed", op())).body.data;
    expect(steps.filter((s: { rung: string }) => s.rung === "THROTTLE")).toHaveLength(2);
    expect(steps[0].actor).toMatch(/^policy \(switched on by token:/);
  });

  it("escalate e-mails the account owner (customer metadata, else the policy's escalate_to), once", async () => {
    const put = (policy: unknown) => call("PUT", "/api/policies", { ...op(), body: { policy } });
    // A churn signal, recorded the way the events consumer records one: churn maps to escalate.
    const churn: Signal = {
      detector: "WeeklyChurnSignalDetector",
      idempotency_key: "WeeklyChurnSignalDetector|acme|chat-api|2026-W47",
      customer: "acme",
      product: "chat-api",
      window: { start: Date.now() - 14 * DAY, end: Date.now() },
      magnitude: 72,
      direction: "drop",
      details: { drop_pct: 72 },
      source_event_ids: [],
    };
    const recorded = await signalStatements(
      env.DB,
      tenant.tenant_id,
      churn,
      "escalate",
      Date.now(),
    );
    await env.DB.batch(recorded.statements);
    const l1 = (await call("GET", `/api/signals/${recorded.signalId}`, op())).body;
    expect(l1.action).toMatchObject({ rung: "escalate", state: "queued" });
    const execute = () => call("POST", `/api/actions/${l1.action.id}/execute`, op());

    // Nobody to escalate to: the step fails, and says why.
    expectProblem(await execute(), 409, "conflict");
    const failed = await call("GET", `/api/actions?action=${l1.action.id}&step=failed`, op());
    expect(failed.body.data[0].detail.reason).toContain("metadata.account_owner");

    expectProblem(
      await put({ actions: { escalate_to: "not an address" } }),
      400,
      "validation_failed",
    );
    expect((await put({ actions: { escalate_to: "cs@vendor.test" } })).status).toBe(200);
    const toPolicy = await execute();
    expect(toPolicy.body.detail.reason).toBeUndefined();
    expect(toPolicy.body).toMatchObject({
      state: "executed",
      detail: { escalated_to: "cs@vendor.test" },
    });

    // The customer's own account owner wins over the policy's address.
    await call("PATCH", "/api/customers/acme", {
      ...op(),
      body: { metadata: { account_owner: "owner@acme.test" } },
    });
    expect((await call("POST", `/api/actions/${l1.action.id}/reverse`, op())).body).toMatchObject({
      state: "reversed",
      detail: { withdrawn: true },
    });
    expect((await execute()).body.detail.escalated_to).toBe("owner@acme.test");
    await call("POST", `/api/actions/${l1.action.id}/reverse`, op());
    expect((await execute()).body.detail.escalated_to).toBe("owner@acme.test");

    // One delivery per address, each sent once by the deliveries queue, however often executed.
    for (let i = 0; i < 100; i++) {
      const { results } = await env.DB.prepare(
        "SELECT channel_id, status, attempts FROM deliveries WHERE tenant_id = ? AND signal_id = ? ORDER BY channel_id",
      )
        .bind(tenant.tenant_id, l1.id)
        .all<{ channel_id: string; status: string; attempts: number }>();
      if (results.length === 2 && results.every((d) => d.status === "delivered")) {
        expect(results).toEqual([
          { channel_id: "escalate:cs@vendor.test", status: "delivered", attempts: 1 },
          { channel_id: "escalate:owner@acme.test", status: "delivered", attempts: 1 },
        ]);
        const listed = await call("GET", `/api/deliveries?signal=${l1.id}`, op());
        expect(listed.body.data.map((d: { channel_type: string }) => d.channel_type)).toEqual([
          "email",
          "email",
        ]);
        return;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error("the escalation e-mails were not delivered");
  });

  it("refuses to reverse what was not executed, and 404s unknown actions", async () => {
    await send([costly()]);
    await signalsInD1(6);
    const signals = (await call("GET", "/api/signals", op())).body.data;
    const queued = signals.find((s: { action: { state: string } }) => s.action.state === "queued");
    expectProblem(
      await call("POST", `/api/actions/${queued.action.id}/reverse`, op()),
      409,
      "conflict",
    );
    // ALERT runs by default (it only notifies the operator's channels); this tenant has none, so
    // it is recorded as no_channel, not executed (test/workers/deliveries-budget.test.ts).
    const alert = signals.find((s: { action: { rung: string } }) => s.action.rung === "ALERT");
    expect(alert.action.state).toBe("no_channel");
    expectProblem(await call("POST", "/api/actions/act_nope/execute", op()), 404, "not_found");
  });
});

describe("policies", () => {
  it("starts from defaults with every customer-facing action off", async () => {
    const res = await call("GET", "/api/policies", op());
    expect(res.body.effective.auto_actions).toEqual({
      ALERT: true,
      THROTTLE: false,
      BLOCK: false,
      extend_trial: false,
      apply_coupon: false,
      escalate: false,
    });
    expect(res.body.effective.detectors.anomaly.k).toBe(2);
  });

  it("rejects nonsense with the field named", async () => {
    const bad = await call("PUT", "/api/policies", {
      ...op(),
      body: {
        policy: { detectors: { margin: { levels: { L1: 0.1, L2: 0.3 } }, anomaly: { k: -1 } } },
      },
    });
    expectProblem(bad, 400, "validation_failed");
    const paths = bad.body.errors.map((e: { path: string }) => e.path);
    expect(paths).toEqual(
      expect.arrayContaining(["policy.detectors.margin.levels.L2", "policy.detectors.anomaly.k"]),
    );
    const rung = await call("PUT", "/api/policies", {
      ...op(),
      body: { policy: { ladder: { churn: "BLOCK" } } },
    });
    expectProblem(rung, 400, "validation_failed");
    const noId = await call("PUT", "/api/policies", {
      ...op(),
      body: { scope: "customer", policy: {} },
    });
    expectProblem(noId, 400, "validation_failed");
  });

  it("layers product and customer overrides over the tenant's", async () => {
    await call("PUT", "/api/policies", {
      ...op(),
      body: { policy: { detectors: { anomaly: { k: 3 } } } },
    });
    await call("PUT", "/api/policies", {
      ...op(),
      body: { scope: "customer", id: "acme", policy: { auto_actions: { BLOCK: true } } },
    });
    const res = await call("GET", "/api/policies?customer=acme", op());
    expect(res.body.effective.detectors.anomaly.k).toBe(3);
    expect(res.body.effective.auto_actions.BLOCK).toBe(true);
    expect(res.body.customers.acme).toEqual({ auto_actions: { BLOCK: true } });
  });
});

describe("the gate", () => {
  it("answers from a token bucket: a burst, then a wait", async () => {
    await call("PUT", "/api/policies", {
      ...op(),
      body: { policy: { gate: { rate_per_second: 1, burst: 3, throttled_rate_per_second: 0.5 } } },
    });
    // The actor reads the policy when it first loads it.
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push((await gate("fresh-customer")).body);
    expect(answers.map((a) => a.allow)).toEqual([true, true, true, false]);
    expect(answers[3].retry_after_ms).toBeGreaterThan(0);
    expect(answers[3].retry_after_ms).toBeLessThanOrEqual(1000);
    expect(answers[0]).toMatchObject({ tier: "normal", limit: 1, remaining: 2 });
  });

  it("validates its input and takes ingest keys only", async () => {
    expectProblem(
      await call("POST", "/v1/gate", { token: tenant.ingest_key, body: { units: 1 } }),
      400,
      "validation_failed",
    );
    expectProblem(
      await call("POST", "/v1/gate", { token: tenant.operator_token, body: { customer: "acme" } }),
      403,
      "wrong_key_kind",
    );
  });
});

describe("proxy mode", () => {
  it("refuses products without a proxy origin and validates its metric", async () => {
    const res = await call("GET", "/v1/proxy/chat-api/v1/chat", {
      token: tenant.ingest_key,
      headers: { "x-aforo-customer": "acme" },
    });
    expectProblem(res, 404, "not_found");
    const noCustomer = await call("GET", "/v1/proxy/chat-api/x", { token: tenant.ingest_key });
    expectProblem(noCustomer, 400, "validation_failed");
    const bad = await call("PATCH", "/api/products/chat-api", {
      ...op(),
      body: { proxy: { origin: "https://api.example.com", metric: "nope" } },
    });
    expectProblem(bad, 400, "validation_failed");
    const ok = await call("PATCH", "/api/products/chat-api", {
      ...op(),
      body: { proxy: { origin: "https://api.example.com", metric: "input_tokens" } },
    });
    expect(ok.body.proxy).toEqual({ origin: "https://api.example.com", metric: "input_tokens" });
  });

  it("forwards to the origin with the customer's call, then meters it as an event", async () => {
    const origin = `http://127.0.0.1:${inject("receiverPort")}/hooks`;
    await call("PATCH", "/api/products/chat-api", {
      ...op(),
      body: { proxy: { origin, metric: "input_tokens" } },
    });
    const res = await call("POST", "/v1/proxy/chat-api/proxy-case?x=1", {
      token: tenant.ingest_key,
      headers: { "x-aforo-customer": "acme" },
      body: { prompt: "hello" },
    });
    expect(res.status).toBe(200);
    expect(res.body).toBe("ok");
    const log = await fetch(
      `http://127.0.0.1:${inject("receiverPort")}/control/log?name=proxy-case`,
    );
    const seen = (await log.json()) as { body: string; headers: Record<string, string> }[];
    expect(seen[0]?.body).toBe('{"prompt":"hello"}');
    expect(seen[0]?.headers.authorization).toBeUndefined();
    for (let i = 0; i < 50; i++) {
      const page = await call("GET", "/api/customers/acme/events", op());
      const metered = page.body.data.find((e: { source: string }) => e.source === "proxy");
      if (metered) {
        expect(metered).toMatchObject({ metric: "input_tokens", quantity: "1" });
        expect(metered.properties).toMatchObject({ method: "POST", status: 200 });
        return;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error("the proxied call was not metered");
  });

  it("gates before forwarding: a blocked customer never reaches the origin", async () => {
    await call("PATCH", "/api/products/chat-api", {
      ...op(),
      body: { proxy: { origin: "http://127.0.0.1:9/", metric: "input_tokens" } },
    });
    await actor("blocked-co").setGateTier("blocked");
    const res = await call("POST", "/v1/proxy/chat-api/v1/chat", {
      token: tenant.ingest_key,
      headers: { "x-aforo-customer": "blocked-co" },
      body: { prompt: "hi" },
    });
    expectProblem(res, 403, "forbidden");
  });
});
