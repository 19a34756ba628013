import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { OutboxMessage } from "../../durable-objects/customer-actor";
import worker from "../../workers/index";
import { flushPipelineTelemetry, observe } from "../../workers/telemetry";
import { call, createCatalog, createTenant, type Tenant } from "./helpers";

// The `pipeline` dataset (docs/reports.md): what POST /v1/events, the gate, the events-queue and
// dead-letter consumers and the invoicing job did, counted by the recorder (workers/telemetry.ts),
// flushed to pipeline_hourly and read back through POST /api/reports/run. Counts and rejection
// reasons are what was sent; percentiles, within-target shares and burn rates are hand-computed
// from latencies the test records itself (the Workers clock only moves on I/O, so the routes'
// own latencies are whatever the round trips took).

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
let tenant: Tenant;
let other: Tenant;
let seq = 0;

const hourOf = (t: number) => t - (t % HOUR);
const NOW = Date.now();
const range = {
  from: new Date(hourOf(NOW) - DAY).toISOString(),
  to: new Date(hourOf(NOW) + 2 * HOUR).toISOString(),
};

const event = (over: Record<string, unknown> = {}) => ({
  id: `evt_${++seq}`,
  customer: "acme",
  product: "chat-api",
  metric: "input_tokens",
  quantity: 10,
  time: new Date(NOW - 60_000).toISOString(),
  ...over,
});

const run = async (t: Tenant, q: Record<string, unknown>) => {
  const res = await call("POST", "/api/reports/run", {
    token: t.operator_token,
    body: { dataset: "pipeline", time: { ...range, time_zone: "UTC" }, ...q },
  });
  if (res.status !== 200) throw new Error(`report failed: ${JSON.stringify(res.body)}`);
  return res.body;
};

/** Rows keyed `series/outcome`, without the dimension cells. */
const byOutcome = (rows: Record<string, unknown>[]) =>
  Object.fromEntries(
    rows.map(({ series, outcome, ...measures }) => [`${series}/${outcome}`, measures]),
  );

beforeAll(async () => {
  tenant = await createTenant("Pipeline AI");
  other = await createTenant("Quiet Tenant");
  await createCatalog(tenant);
  // Whatever other requests of this isolate counted so far is written first.
  await flushPipelineTelemetry(env.DB);
});

describe("pipeline telemetry: ingest and gate through the routes", () => {
  it("counts requests by outcome, rejected events by reason, and gate decisions", async () => {
    const v1 = (path: string, body: unknown, raw?: string) =>
      call("POST", path, {
        token: tenant.ingest_key,
        ...(raw !== undefined
          ? { rawBody: raw, headers: { "content-type": "application/json" } }
          : { body }),
      });
    expect((await v1("/v1/events", [event(), event(), event()])).body.accepted).toBe(3);
    const partial = await v1("/v1/events", [
      event(),
      event({ metric: "image_generations" }),
      event({ quantity: -5 }),
      event({ product: "vision-api", quantity: -1 }), // first error: the quantity's
      event(),
    ]);
    expect(partial.body.rejected).toHaveLength(3);
    const none = await v1("/v1/events", [event({ time: new Date(NOW + HOUR).toISOString() })]);
    expect(none.body.accepted).toBe(0);
    expect((await v1("/v1/events", null, "{not json")).status).toBe(400);
    for (let i = 0; i < 5; i++) {
      expect((await v1("/v1/gate", { customer: "acme", units: 1 })).body.allow).toBe(true);
    }
    // More units than the bucket holds: refused, not blocked.
    const over = await v1("/v1/gate", { customer: "acme", units: 1e9 });
    expect(over.body).toMatchObject({ allow: false, tier: "normal" });
    await flushPipelineTelemetry(env.DB);

    const result = await run(tenant, {
      measures: ["count", "items", "error_count", "availability"],
      dimensions: ["series", "outcome"],
      filters: [{ dimension: "series", op: "is", values: ["ingest", "ingest_rejection", "gate"] }],
    });
    expect(byOutcome(result.rows)).toEqual({
      "gate/allow": { count: 5, items: 0, error_count: 0, availability: 1 },
      "gate/throttle": { count: 1, items: 0, error_count: 0, availability: 1 },
      "ingest/accepted": { count: 1, items: 3, error_count: 0, availability: 1 },
      "ingest/partial": { count: 1, items: 5, error_count: 0, availability: 1 },
      // The future event, and the body that was not JSON (no events read from it).
      "ingest/rejected": { count: 2, items: 1, error_count: 0, availability: 1 },
      "ingest_rejection/invalid_quantity": { count: 2, items: 0, error_count: 0, availability: 1 },
      "ingest_rejection/time_in_future": { count: 1, items: 0, error_count: 0, availability: 1 },
      "ingest_rejection/unknown_metric": { count: 1, items: 0, error_count: 0, availability: 1 },
    });
    expect(result.totals).toMatchObject({ count: 14, items: 9, error_count: 0 });
    // Stamped one flush window back: that is how late an isolate's counts can be.
    const asOf = Date.parse(result.data_as_of);
    expect(asOf).toBeLessThanOrEqual(Date.now() - 10_000);
    expect(asOf).toBeGreaterThan(Date.now() - 70_000);

    // Every request was timed: its percentiles are ordered and no higher than the slowest.
    const timing = await run(tenant, {
      measures: ["count", "p50_ms", "p95_ms", "p99_ms", "max_ms", "within_target"],
      dimensions: ["series"],
      filters: [{ dimension: "series", op: "is", values: ["ingest", "gate"] }],
    });
    for (const row of timing.rows) {
      expect(row.p50_ms).toBeGreaterThanOrEqual(0);
      expect(row.p50_ms).toBeLessThanOrEqual(row.p95_ms);
      expect(row.p95_ms).toBeLessThanOrEqual(row.p99_ms);
      expect(row.p99_ms).toBeLessThanOrEqual(row.max_ms);
      expect(row.within_target).toBeGreaterThanOrEqual(0);
      expect(row.within_target).toBeLessThanOrEqual(1);
    }
    const stored = await env.DB.prepare(
      "SELECT MAX(latency_max_us) AS max FROM pipeline_hourly WHERE tenant_id = ? AND series = 'gate'",
    )
      .bind(tenant.tenant_id)
      .first<{ max: number }>();
    expect(timing.rows.find((r: { series: string }) => r.series === "gate")?.max_ms).toBe(
      (stored?.max ?? -1) / 1000,
    );
  });

  it("serves another tenant none of it", async () => {
    // (Its own tenant clock's invoicing runs are its own: not asked for here.)
    const result = await run(other, {
      measures: ["count"],
      dimensions: ["series"],
      filters: [{ dimension: "series", op: "is", values: ["ingest", "ingest_rejection", "gate"] }],
    });
    expect(result.rows).toEqual([]);
    expect(result.totals).toEqual({ count: 0 });
  });
});

describe("pipeline telemetry: percentiles, targets and burn rate", () => {
  let known: Tenant;
  const at = hourOf(NOW) - 3 * HOUR;

  beforeAll(async () => {
    known = await createTenant("Known Latencies");
    const gate = (latencyUs: number, outcome = "allow", t = at) =>
      observe(env.DB, null, {
        tenantId: known.tenant_id,
        series: "gate",
        outcome,
        at: t,
        error: outcome === "error",
        latencyUs,
      });
    // Two flushes, two hours: the upserts add up, the report merges the hours' buckets.
    for (let i = 0; i < 90; i++) gate(800, "allow", i < 45 ? at : at + HOUR);
    await flushPipelineTelemetry(env.DB);
    for (let i = 0; i < 9; i++) gate(8_000, "allow", at + HOUR);
    gate(8_000, "error");
    for (let i = 0; i < 4; i++) {
      observe(env.DB, null, {
        tenantId: known.tenant_id,
        series: "ingest",
        outcome: "accepted",
        at,
        items: 100,
        latencyUs: 200_000,
      });
    }
    observe(env.DB, null, {
      tenantId: known.tenant_id,
      series: "ingest",
      outcome: "accepted",
      at,
      items: 1_000,
      latencyUs: 3_000_000,
    });
    await flushPipelineTelemetry(env.DB);
  });

  it("reads percentiles off the summed histograms, hand-computed", async () => {
    const result = await run(known, {
      measures: [
        "count",
        "error_count",
        "availability",
        "burn_rate",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "max_ms",
        "mean_ms",
        "within_target",
      ],
      dimensions: ["series"],
      // Not the tenant clock's invoicing runs, which are timed too.
      filters: [{ dimension: "series", op: "is", values: ["gate", "ingest"] }],
      order_by: [{ field: "p99_ms", direction: "desc" }],
    });
    expect(result.rows).toEqual([
      {
        // 4 × 200 ms in [200, 500) ms, 1 × 3 s in [2, 5) s, that bucket capped at the slowest
        // (3 s): rank 4.75 of 5 → 2 s + 1 s × 0.75, rank 4.95 → 2 s + 1 s × 0.95.
        series: "ingest",
        count: 5,
        error_count: 0,
        availability: 1,
        burn_rate: 0,
        p50_ms: 200 + (300 * 2.5) / 4, // rank 2.5 in [200, 500) ms, 4 there: 387.5
        p95_ms: 2_750,
        p99_ms: 2_950,
        max_ms: 3_000,
        mean_ms: 760,
        within_target: 0.8, // 4 of 5 under 1 s
      },
      {
        // 90 × 0.8 ms in [0.5, 1) ms, 10 × 8 ms in [5, 10) ms capped at 8: rank 50 → 0.5 +
        // 0.5 × 50/90; rank 95 → 5 + 3 × 5/10; rank 99 → 5 + 3 × 9/10. One error in 100: 1 %,
        // ten times the 0.1 % a 99.9 % objective allows.
        series: "gate",
        count: 100,
        error_count: 1,
        availability: 0.99,
        burn_rate: 10,
        p50_ms: 0.778,
        p95_ms: 6.5,
        p99_ms: 7.7,
        max_ms: 8,
        mean_ms: 1.52,
        within_target: 0.9, // 90 of 100 under 5 ms
      },
    ]);
    // Mixed series: each counted against its own target, (90 + 4) of (100 + 5).
    expect(result.totals.within_target).toBe(0.895238);
    expect(result.totals.count).toBe(105);
    // Ascending by p99 puts the gate first: the SQL order agrees with the cells.
    const asc = await run(known, {
      measures: ["p99_ms"],
      dimensions: ["series"],
      filters: [{ dimension: "series", op: "is", values: ["gate", "ingest"] }],
      order_by: [{ field: "p99_ms", direction: "asc" }],
    });
    expect(asc.rows.map((r: { series: string }) => r.series)).toEqual(["gate", "ingest"]);
  });

  it("cuts by hour: each hour's percentiles are its own", async () => {
    const result = await run(known, {
      measures: ["count", "p99_ms"],
      dimensions: ["time"],
      filters: [{ dimension: "series", op: "is", values: ["gate"] }],
      time: { ...range, granularity: "hour", time_zone: "UTC" },
    });
    expect(result.rows).toEqual([
      // 45 × 0.8 ms + the error at 8 ms: rank 45.54 → [5, 10) ms capped at 8, 5 + 3 × 0.54.
      { time: new Date(at).toISOString().replace(".000Z", "Z"), count: 46, p99_ms: 6.62 },
      // 45 × 0.8 ms + 9 × 8 ms: rank 53.46 → 5 + 3 × 8.46/9.
      {
        time: new Date(at + HOUR).toISOString().replace(".000Z", "Z"),
        count: 54,
        p99_ms: 7.82,
      },
    ]);
  });
});

describe("pipeline telemetry: queue consumers and invoicing", () => {
  it("counts applied, redelivered and skipped messages with their lag, and dead letters once", async () => {
    const body = (id: string, lagMs: number): OutboxMessage => ({
      batch_id: `${other.tenant_id}:acme:telemetry-${id}`,
      tenant_id: other.tenant_id,
      customer_id: "acme",
      deltas: [
        {
          hour: hourOf(NOW) - HOUR,
          product: "chat-api",
          metric: "input_tokens",
          units: "1000000",
          revenue: "0",
          cost: "0",
          events: 7,
        },
      ],
      created_at: Date.now() - lagMs,
    });
    const deliver = async (
      queue: string,
      messages: { id: string; attempts: number; body: unknown }[],
    ) => {
      const batch = createMessageBatch(
        queue,
        messages.map((m) => ({ ...m, timestamp: new Date() })),
      );
      const ctx = createExecutionContext();
      await worker.queue(batch as MessageBatch<never>, env, ctx);
      expect((await getQueueResult(batch, ctx)).ackAll).toBe(true);
    };
    const first = body("a", 60_000);
    await deliver("aforo-events", [
      { id: "q1", attempts: 1, body: first },
      { id: "q2", attempts: 3, body: body("b", 60_000) },
    ]);
    await deliver("aforo-events", [{ id: "q1", attempts: 2, body: first }]); // applied already
    const letter = { tenant_id: other.tenant_id, delivery_id: "dlv_x" };
    await deliver("aforo-deliveries-dlq", [{ id: "dl1", attempts: 1, body: letter }]);
    await deliver("aforo-deliveries-dlq", [{ id: "dl1", attempts: 2, body: letter }]);

    // The quiet tenant: no actor of its own sends anything to the queue meanwhile.
    const result = await run(other, {
      measures: ["count", "items", "error_count", "p50_ms"],
      dimensions: ["series", "outcome"],
      filters: [{ dimension: "series", op: "is", values: ["queue", "dead_letter"] }],
    });
    const rows = byOutcome(result.rows);
    expect(Object.keys(rows).sort()).toEqual([
      "dead_letter/deliveries",
      "queue/applied",
      "queue/redelivered",
      "queue/skipped",
    ]);
    expect(rows["dead_letter/deliveries"]).toEqual({
      count: 1,
      items: 0,
      error_count: 1,
      p50_ms: null,
    });
    expect(rows["queue/skipped"]).toEqual({ count: 1, items: 0, error_count: 0, p50_ms: null });
    for (const key of ["queue/applied", "queue/redelivered"]) {
      // One message of 7 events each, 60 s old when applied: in [50, 100) s, whose top is
      // that lag (60 s and the few ms the apply took), so the median is halfway: ≈ 55 s.
      expect(rows[key]).toMatchObject({ count: 1, items: 7, error_count: 0 });
      expect(rows[key]?.p50_ms).toBeGreaterThanOrEqual(55_000);
      expect(rows[key]?.p50_ms).toBeLessThan(56_000);
    }
  });

  it("counts an invoicing run with the invoices it created", async () => {
    const res = await call("POST", "/api/invoices/run", {
      token: tenant.operator_token,
      body: {},
    });
    expect(res.status).toBe(200);
    const result = await run(tenant, {
      measures: ["count", "items", "error_count", "max_ms"],
      dimensions: ["outcome"],
      filters: [{ dimension: "series", op: "is", values: ["invoice_run"] }],
    });
    const ok = result.rows.find((r: { outcome: string }) => r.outcome === "ok");
    // The tenant clock may have run the job too; the operator's run is one of them.
    expect(ok?.count).toBeGreaterThanOrEqual(1);
    expect(ok?.items).toBeGreaterThanOrEqual(res.body.created);
    expect(ok?.error_count).toBe(0);
  });
});

describe("pipeline templates", () => {
  it("SLA Compliance and Billing Pipeline Health run on what was recorded", async () => {
    for (const id of ["sla_compliance", "billing_pipeline_health"]) {
      const saved = await call("GET", `/api/reports/tpl_${id}`, { token: tenant.operator_token });
      expect(saved.status).toBe(200);
      const res = await call("POST", "/api/reports/run", {
        token: tenant.operator_token,
        body: saved.body.query,
      });
      expect(res.status).toBe(200);
      expect(res.body.rows.length).toBeGreaterThan(0);
      if (id === "sla_compliance") {
        expect(new Set(res.body.rows.map((r: { series: string }) => r.series))).toEqual(
          new Set(["gate", "ingest"]),
        );
        const gate = res.body.rows.find((r: { series: string }) => r.series === "gate");
        expect(gate).toMatchObject({ count: 6, availability: 1, burn_rate: 0 });
        expect(gate.within_target).toBeGreaterThanOrEqual(0);
        expect(gate.p99_ms).toBeGreaterThanOrEqual(gate.p95_ms);
      } else {
        const series = new Set(res.body.rows.map((r: { series: string }) => r.series));
        for (const s of ["ingest", "ingest_rejection", "gate", "invoice_run"]) {
          expect(series.has(s)).toBe(true);
        }
      }
    }
  });
});
