import {
  createExecutionContext,
  createMessageBatch,
  env,
  getQueueResult,
  runDurableObjectAlarm,
} from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import type { Signal } from "../../domain/detectors";
import type { CustomerActor, OutboxMessage } from "../../durable-objects/customer-actor";
import { insertSignalStatement } from "../../store/signals";
import { runCaseJobs } from "../../workers/cases";
import worker from "../../workers/index";
import { signalId } from "../../workers/ladder";
import { call, createCatalog, createTenant, expectProblem, type Tenant } from "./helpers";

// Cases (issue 12 item 3): signals grouped per customer, detector, scope and period, filed in
// the events consumer's transaction, closed by the tenant clock's jobs or by an operator.

let tenant: Tenant;
let seq = 0;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const op = () => ({ token: tenant.operator_token });
const actor = (customer = "acme") =>
  env.CUSTOMER_ACTOR.getByName(
    `${tenant.tenant_id}:${customer}`,
  ) as DurableObjectStub<CustomerActor>;

beforeEach(async () => {
  tenant = await createTenant();
  await createCatalog(tenant);
});

/** Runs the events consumer on one outbox message carrying these signals. */
async function consume(signals: Signal[], customer = "acme", usageHours: number[] = []) {
  const body: OutboxMessage = {
    batch_id: `b-${++seq}`,
    tenant_id: tenant.tenant_id,
    customer_id: customer,
    deltas: usageHours.map((hour) => ({
      hour,
      product: "chat-api",
      metric: "input_tokens",
      units: "1000000",
      revenue: "0",
      cost: "0",
      events: 1,
    })),
    signals,
  };
  const batch = createMessageBatch<OutboxMessage>("aforo-events", [
    { id: `m-${++seq}`, timestamp: new Date(), attempts: 1, body },
  ]);
  const ctx = createExecutionContext();
  await worker.queue(batch, env, ctx);
  expect((await getQueueResult(batch, ctx)).ackAll).toBe(true);
}

const anomaly = (hour: number, direction: "spike" | "drop" = "spike"): Signal => ({
  detector: "BillableUnitAnomalyDetector",
  idempotency_key: `anomaly|acme|chat-api:input_tokens|${hour}|${direction}`,
  customer: "acme",
  product: "chat-api",
  metric: "input_tokens",
  window: { start: hour, end: hour + HOUR },
  magnitude: 5,
  direction,
  details: { hours: 1, sigma: direction === "spike" ? 5 : -5 },
  source_event_ids: [],
});

const margin = (
  level: "L1" | "L2" | "L3",
  period: { start: number; end: number },
  product?: string,
): Signal => ({
  detector: "MarginGuard",
  idempotency_key: `margin|acme|${product ?? "*"}|${period.start}|${level}`,
  customer: "acme",
  ...(product ? { product } : {}),
  window: period,
  magnitude: 100,
  details: { level, margin_pct: -50, level_threshold: 0.3 },
  source_event_ids: [],
});

const cases = async (query = "") => (await call("GET", `/api/cases${query}`, op())).body;

describe("cases", () => {
  it("files a one-product customer's six margin findings (L1–L3, customer and product) into one case", async () => {
    await call("POST", "/v1/events", {
      token: tenant.ingest_key,
      body: [
        {
          id: "src-1",
          customer: "acme",
          product: "chat-api",
          metric: "input_tokens",
          quantity: 1000,
          time: new Date(Date.now() - HOUR).toISOString(),
          cost: { usd: 5000 },
        },
      ],
    });
    await runDurableObjectAlarm(actor());
    let list: { data: Record<string, unknown>[] } = { data: [] };
    for (let i = 0; i < 100 && !(list.data[0]?.signal_count === 6); i++) {
      await new Promise((r) => setTimeout(r, 50));
      list = await cases("?detector=MarginGuard");
    }
    expect(list.data).toHaveLength(1);
    const only = list.data[0] as Record<string, unknown>;
    expect(only).toMatchObject({
      customer: "acme",
      product: "chat-api",
      scope: "chat-api",
      level: "L3",
      level_rank: 3,
      signal_count: 6,
      status: "open",
      resolution: null,
    });
    const detail = await call("GET", `/api/cases/${only.id}`, op());
    expect(detail.status).toBe(200);
    expect(detail.body.signals).toHaveLength(6);
    expect(detail.body.actions).toHaveLength(6);
    expect(detail.body.ladder.map((s: { key: string; rung: string }) => [s.key, s.rung])).toEqual([
      ["L1", "ALERT"],
      ["L2", "THROTTLE"],
      ["L3", "BLOCK"],
    ]);
    // THROTTLE and BLOCK are off by default: reached, and waiting for an operator.
    expect(detail.body.ladder[1]).toMatchObject({ state: "queued", automatic: false });
    expect(detail.body.ladder[2]).toMatchObject({ state: "queued", automatic: false });
    expect(detail.body.ladder[0].trigger).toContain("30 %");
    expect(detail.body.ladder[0].signal_ids).toHaveLength(2);
    expect(detail.body.source_events[0]).toMatchObject({ id: "src-1" });
    expect(detail.body.trail.length).toBeGreaterThanOrEqual(6);
    expect(detail.body.deliveries).toMatchObject({ pending: expect.any(Number) });
    // /api/signals keeps its contract: six signals.
    expect((await call("GET", "/api/signals?detector=MarginGuard", op())).body.data).toHaveLength(
      6,
    );
  });

  it("a redelivered or replayed signal makes no second case and escalates nothing twice", async () => {
    const nov = { start: Date.UTC(2026, 10, 1), end: Date.UTC(2026, 11, 1) };
    const signals = [margin("L1", nov, "chat-api"), margin("L2", nov, "chat-api")];
    await consume(signals);
    await consume(signals); // a new batch id carrying the same signals
    await consume([margin("L1", nov, "chat-api")]);
    const list = await cases();
    expect(list.data).toHaveLength(1);
    expect(list.data[0]).toMatchObject({ signal_count: 2, level: "L2" });
    const links = await env.DB.prepare("SELECT COUNT(*) AS n FROM case_signals WHERE tenant_id = ?")
      .bind(tenant.tenant_id)
      .first<{ n: number }>();
    expect(links?.n).toBe(2);
  });

  it("groups consecutive anomaly hours into one episode, splits after quiet hours and by direction", async () => {
    const h = Math.floor(Date.now() / HOUR) * HOUR - 30 * HOUR;
    await consume([anomaly(h), anomaly(h + HOUR), anomaly(h + 2 * HOUR, "drop")]);
    let list = await cases("?sort=time");
    expect(list.data).toHaveLength(2);
    const spike = list.data.find((c: { direction: string }) => c.direction === "spike");
    expect(spike).toMatchObject({
      level: "2 h",
      signal_count: 2,
      scope: "chat-api/input_tokens · spike",
    });
    // One quiet hour is flapping, not a new story; three are.
    await consume([anomaly(h + 3 * HOUR)]);
    expect(
      (await cases(`?detector=BillableUnitAnomalyDetector&status=open`)).data.find(
        (c: { direction: string }) => c.direction === "spike",
      ),
    ).toMatchObject({ id: spike.id, level: "4 h", signal_count: 3 });
    await consume([anomaly(h + 8 * HOUR)]);
    list = await cases("?status=resolved");
    expect(list.data).toHaveLength(1);
    expect(list.data[0]).toMatchObject({
      id: spike.id,
      resolution: { by: "system", reason: "condition_cleared" },
    });
    // Its signals were resolved with it; the new episode's is open.
    const open = await call("GET", "/api/signals?status=open", op());
    expect(open.body.data).toHaveLength(2);
  });

  it("closes an episode as soon as the customer's usage passes it, and a past period's case with the next batch", async () => {
    const h = Math.floor(Date.now() / HOUR) * HOUR - 20 * HOUR;
    const oct = { start: Date.UTC(2026, 9, 1), end: Date.UTC(2026, 10, 1) };
    await consume([anomaly(h), margin("L1", oct, "chat-api")]);
    // Usage for the next hours: the episode may still go on.
    await consume([], "acme", [h + HOUR, h + 2 * HOUR, h + 3 * HOUR]);
    const open = (await cases("?status=open")).data;
    expect(open.map((c: { detector: string }) => c.detector)).toEqual([
      "BillableUnitAnomalyDetector",
    ]);
    const closed = (await cases("?status=resolved")).data;
    expect(closed[0]).toMatchObject({
      detector: "MarginGuard",
      resolution: { reason: "period_closed" },
    });
    await consume([], "acme", [h + 4 * HOUR]);
    expect((await cases("?status=open")).data).toHaveLength(0);
    const anomalyCase = (await cases("?detector=BillableUnitAnomalyDetector")).data[0];
    expect(anomalyCase.resolution).toMatchObject({ by: "system", reason: "condition_cleared" });
    const signals = (await call("GET", "/api/signals?status=resolved", op())).body.data;
    expect(signals).toHaveLength(2);
    expect(signals.map((s: { resolution: { note: string } }) => s.resolution.note).sort()).toEqual([
      "case closed: condition_cleared",
      "case closed: period_closed",
    ]);
  });

  it("the tenant clock's jobs close settled cases with the reason, and signals with them", async () => {
    const oct = { start: Date.UTC(2026, 9, 1), end: Date.UTC(2026, 10, 1) };
    const far = Date.UTC(2099, 0, 1);
    const current = { start: Date.now() - DAY, end: far };
    const h = Math.floor(Date.now() / HOUR) * HOUR - 10 * HOUR;
    await consume([margin("L1", oct, "chat-api"), margin("L1", current, "chat-api"), anomaly(h)]);
    // Usage came in for the fourth hour after the anomaly: its condition has cleared.
    await env.DB.prepare(
      `INSERT INTO rollups_daily (tenant_id, start, customer_id, product_id, metric_id, units, revenue, cost, events)
       VALUES (?, ?, 'acme', 'chat-api', 'input_tokens', 1, 0, 0, 1)`,
    )
      .bind(tenant.tenant_id, Math.floor((h + 4 * HOUR) / DAY) * DAY)
      .run();
    await env.DB.prepare(
      `INSERT INTO rollups_hourly (tenant_id, start, customer_id, product_id, metric_id, units, revenue, cost, events)
       VALUES (?, ?, 'acme', 'chat-api', 'input_tokens', 1, 0, 0, 1)`,
    )
      .bind(tenant.tenant_id, h + 4 * HOUR)
      .run();
    await runCaseJobs(env.DB, tenant.tenant_id, Date.now());
    const resolved = (await cases("?status=resolved&sort=time")).data;
    const reasons = resolved.map((c: { detector: string; resolution: { reason: string } }) => [
      c.detector,
      c.resolution.reason,
    ]);
    expect(reasons.sort()).toEqual([
      ["BillableUnitAnomalyDetector", "condition_cleared"],
      ["MarginGuard", "period_closed"],
    ]);
    const open = (await cases("?status=open")).data;
    expect(open).toHaveLength(1);
    expect(open[0].period.end).toBe(new Date(far).toISOString());
    const signals = await call("GET", "/api/signals?status=resolved", op());
    expect(signals.body.data).toHaveLength(2);
    expect(signals.body.data[0].resolution.by).toBe("system");
    // Idempotent.
    await runCaseJobs(env.DB, tenant.tenant_id, Date.now());
    expect((await cases("?status=open")).data).toHaveLength(1);
  });

  it("a churn case closes when the customer's usage comes back", async () => {
    const today = Math.floor(Date.now() / DAY) * DAY;
    const churn: Signal = {
      detector: "WeeklyChurnSignalDetector",
      idempotency_key: "churn|acme|chat-api|w",
      customer: "acme",
      product: "chat-api",
      window: { start: today - 20 * DAY, end: today - 6 * DAY },
      magnitude: 80,
      direction: "drop",
      details: { metrics: "input_tokens", threshold_pct: 50, "prev_7:input_tokens": 7000 },
      source_event_ids: [],
    };
    await consume([churn]);
    const day = (start: number, units: number) =>
      env.DB.prepare(
        `INSERT INTO rollups_daily (tenant_id, start, customer_id, product_id, metric_id, units, revenue, cost, events)
         VALUES (?, ?, 'acme', 'chat-api', 'input_tokens', ?, 0, 0, 1)`,
      ).bind(tenant.tenant_id, start, units * 1_000_000);
    // A trickle: 2,100 of the 7,000 the week before the drop — still churned.
    await env.DB.batch([1, 2, 3, 4, 5, 6, 7].map((d) => day(today - d * DAY, 300)));
    await runCaseJobs(env.DB, tenant.tenant_id, Date.now());
    expect((await cases("?status=open")).data).toHaveLength(1);
    // Back to 5,600 a week.
    await env.DB.prepare("UPDATE rollups_daily SET units = 800000000 WHERE tenant_id = ?")
      .bind(tenant.tenant_id)
      .run();
    await runCaseJobs(env.DB, tenant.tenant_id, Date.now());
    const [closed] = (await cases("?status=resolved")).data;
    expect(closed).toMatchObject({
      detector: "WeeklyChurnSignalDetector",
      resolution: { by: "system", reason: "condition_cleared" },
    });
  });

  it("operators resolve and reopen; one open case per key", async () => {
    const nov = { start: Date.UTC(2026, 10, 1), end: Date.UTC(2099, 0, 1) };
    await consume([margin("L1", nov, "chat-api")]);
    const [first] = (await cases()).data;
    const resolved = await call("POST", `/api/cases/${first.id}/resolve`, {
      ...op(),
      body: { note: "called the customer" },
    });
    expect(resolved.status).toBe(200);
    expect(resolved.body).toMatchObject({
      status: "resolved",
      resolution: { reason: "operator", note: "called the customer" },
    });
    expect(resolved.body.resolution.by).toMatch(/^token:/);
    expect((await call("GET", "/api/signals?status=open", op())).body.data).toHaveLength(0);
    expectProblem(await call("POST", `/api/cases/${first.id}/resolve`, op()), 409, "conflict");
    const reopened = await call("POST", `/api/cases/${first.id}/reopen`, op());
    expect(reopened.body).toMatchObject({ status: "open", resolution: null });
    expect((await call("GET", "/api/signals?status=open", op())).body.data).toHaveLength(1);
    expectProblem(await call("POST", `/api/cases/${first.id}/reopen`, op()), 409, "conflict");
    // Resolved, then the margin worsens: a new case opens, and the old one cannot reopen beside it.
    await call("POST", `/api/cases/${first.id}/resolve`, op());
    await consume([margin("L2", nov, "chat-api")]);
    const open = (await cases("?status=open")).data;
    expect(open).toHaveLength(1);
    expect(open[0].id).not.toBe(first.id);
    const blocked = await call("POST", `/api/cases/${first.id}/reopen`, op());
    expectProblem(blocked, 409, "conflict");
    expect(blocked.body.detail).toContain(open[0].id);
    expectProblem(
      await call("POST", `/api/cases/${first.id}/resolve`, { ...op(), body: { note: 5 } }),
      400,
      "validation_failed",
    );
  });

  it("groups signals recorded before cases existed on first read", async () => {
    const nov = { start: Date.UTC(2026, 10, 1), end: Date.UTC(2099, 0, 1) };
    const old = [margin("L1", nov, "chat-api"), margin("L1", nov), margin("L2", nov, "chat-api")];
    // As the consumer wrote signals before cases: no case rows.
    await env.DB.batch(
      await Promise.all(
        old.map(async (s, i) =>
          insertSignalStatement(
            env.DB,
            tenant.tenant_id,
            await signalId(tenant.tenant_id, s.idempotency_key),
            s,
            Date.now() - 1000 + i,
          ),
        ),
      ),
    );
    await env.DB.prepare("DELETE FROM case_backfills WHERE tenant_id = ?")
      .bind(tenant.tenant_id)
      .run();
    const list = await cases();
    // acme has one product (its subscription's): the customer-level finding is the product's.
    expect(list.data).toHaveLength(1);
    expect(list.data[0]).toMatchObject({ scope: "chat-api", level: "L2", signal_count: 3 });
    const summary = await call("GET", "/api/cases/summary", op());
    expect(summary.body).toMatchObject({
      open: 1,
      open_customers: 1,
      customers: 1,
      open_per_100_customers: 100,
    });
  });

  it("pages with cursors, filters, validates, and keeps tenants apart", async () => {
    const base = Math.floor(Date.now() / HOUR) * HOUR - 100 * HOUR;
    // Five separate episodes (three quiet hours apart).
    await consume([0, 4, 8, 12, 16].map((i) => anomaly(base + i * HOUR)));
    const all = await cases("?sort=time");
    expect(all.data).toHaveLength(5);
    const first = await cases("?sort=time&limit=2");
    expect(first.data).toHaveLength(2);
    const second = await cases(`?sort=time&limit=2&cursor=${first.next_cursor}`);
    const third = await cases(`?sort=time&limit=2&cursor=${second.next_cursor}`);
    expect(third.next_cursor).toBeNull();
    const paged = [...first.data, ...second.data, ...third.data].map((c: { id: string }) => c.id);
    expect(paged).toEqual(all.data.map((c: { id: string }) => c.id));
    expect((await cases("?status=open")).data).toHaveLength(1);
    expect((await cases("?customer=globex")).data).toHaveLength(0);
    expect((await cases("?detector=MarginGuard")).data).toHaveLength(0);
    expectProblem(await call("GET", "/api/cases?sort=sideways", op()), 400, "validation_failed");
    expectProblem(await call("GET", "/api/cases?cursor=nope", op()), 400, "validation_failed");
    expectProblem(await call("GET", "/api/cases/case_missing", op()), 404, "not_found");
    const other = await createTenant("Other");
    const theirs = { token: other.operator_token };
    expect((await call("GET", "/api/cases", theirs)).body.data).toEqual([]);
    expectProblem(await call("GET", `/api/cases/${paged[0]}`, theirs), 404, "not_found");
    expectProblem(await call("POST", `/api/cases/${paged[0]}/resolve`, theirs), 404, "not_found");
    expectProblem(
      await call("GET", "/api/cases", { token: tenant.ingest_key }),
      403,
      "wrong_key_kind",
    );
  });
});
