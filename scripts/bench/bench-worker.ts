import { stagingTenantPrefix } from "../../domain/exports/archive-layout";
import { foldBatch, pacingUpdates } from "../../domain/ingest-batch";
import type { UsageEvent } from "../../domain/usage-event";
import { actorName, CustomerActor } from "../../durable-objects/customer-actor";
import { createRouter, handleError } from "../../workers/app";
import { requireIngestKey } from "../../workers/auth";
import { compactEventArchiveRuns } from "../../workers/event-archive";
import worker, { app } from "../../workers/index";
import { NativeEvent } from "../../workers/ingest/event-schema";
import { problemResponse } from "../../workers/problem";

export { CustomerActor, LiveHub, TenantClock } from "../../workers/index";

// The benchmarks' worker (SPEC §10 ceilings): the production app unchanged, plus the two bare
// paths the figures are measured against, on the same auth and request path. It runs only from
// the config scripts/lib/stack.mjs writes for `npm run bench:*`; production has neither the
// routes nor the BenchActor class.

/** A customer actor with the bench-only methods: the bare RPC and the bare insert. */
export class BenchActor extends CustomerActor {
  /** The bare Worker → DO RPC round trip the gate is measured against. */
  async ping(): Promise<{ ok: true; at: number }> {
    return { ok: true, at: Date.now() };
  }

  /**
   * Runs one step of an ingest call `n` times on fresh batches, synchronously, each in its own
   * transaction, so the caller's clock (which moves only across I/O) times just the steps: a
   * profile of one actor call in the real runtime and storage. Every step but "nothing",
   * "dedupe" and "bare" (the ceiling's insert) includes the fold; "all" is an ingest call's
   * work without its RPC.
   */
  async profile(req: {
    tenantId: string;
    customerId: string;
    step: ProfileStep;
    n: number;
    events: UsageEvent[];
  }) {
    this.memory.bind(req);
    const terms = await this.loadTerms({ ...req, catalogVersion: 0 });
    const batches = Array.from({ length: req.n }, (_, i) =>
      req.events.map((e) => ({ ...e, id: `${e.id}:${req.step}:${i}` })),
    );
    const now = Date.now();
    const step = req.step;
    const has = (part: ProfileStep) => step === part || step === "all";
    for (const events of batches) {
      this.ctx.storage.transactionSync(() => {
        if (step === "nothing") return;
        if (step === "dedupe") return this.store.knownIds(events.map((e) => e.id));
        if (step === "bare") return this.benchInsertSync(events);
        const batch = foldBatch(events, terms.value, this.store.ledger);
        if (has("insert")) this.store.insertEvents(batch.records, now);
        if (has("ledger")) this.store.writeLedger(batch.periods);
        if (has("buckets")) {
          this.store.addToBuckets(batch.deltas);
          this.store.addToFacets(batch.facets);
        }
        if (has("sessions")) this.store.addToSessions(batch.sessions);
        if (has("detect")) {
          this.detection(req.customerId, terms).afterBatch({
            minTime: batch.minTime,
            maxTime: batch.maxTime,
            months: batch.months,
            pacing: pacingUpdates(terms.value, batch.paced, (s, p, m) =>
              this.store.ledgerUsage(s, p, m),
            ),
          });
        }
      });
    }
    return req.n;
  }

  /** The same batch insert as ingest, with nothing else (no dedupe, rating, buckets, outbox):
   * the events as they came, unrated. */
  async benchInsert(events: UsageEvent[]): Promise<number> {
    this.ctx.storage.transactionSync(() => this.benchInsertSync(events));
    return events.length;
  }

  private benchInsertSync(events: UsageEvent[]) {
    const now = Date.now();
    this.store.insertEvents(
      events.map((e) => ({
        id: e.id,
        time: e.time,
        product: e.product,
        metric: e.metric,
        quantity: BigInt(Math.round(e.quantity * 1e6)),
        revenue: 0n,
        cost: 0n,
        cost_status: "none",
        // What the event itself carries is stored as it came; rating and costing (revenue,
        // cost, status, subscription, flags) are the work the ceiling leaves out.
        provider: e.cost?.provider ?? null,
        model: e.cost?.model ?? null,
        input_tokens: e.cost?.input_tokens ?? null,
        output_tokens: e.cost?.output_tokens ?? null,
        cached_input_tokens: e.cost?.cached_input_tokens ?? null,
        subscription_id: null,
        flags: "",
        source: e.source,
        properties: e.properties ?? null,
      })),
      now,
    );
  }
}

/** One step of an ingest call, timed by `profile`. */
export type ProfileStep =
  | "nothing"
  | "fold"
  | "insert"
  | "dedupe"
  | "ledger"
  | "buckets"
  | "sessions"
  | "detect"
  | "all"
  | "bare";

type BenchEnv = Env & { BENCH_ACTOR: DurableObjectNamespace<BenchActor> };
const benchActor = (env: Env, tenantId: string, customer: string) =>
  (env as BenchEnv).BENCH_ACTOR.getByName(actorName(tenantId, customer));

const bench = createRouter();
bench.use("/v1/bench/*", requireIngestKey);

// The ingest ceiling: each customer's actor only inserts its (validated) events into SQLite.
bench.post("/v1/bench/raw-insert", async (c) => {
  const items = JSON.parse(await c.req.text()) as unknown[];
  const byCustomer = new Map<string, UsageEvent[]>();
  for (const item of items) {
    const parsed = NativeEvent.safeParse(item);
    if (!parsed.success) continue;
    const e = parsed.data;
    // The ceiling is measured on events that name their customer (no key to resolve).
    const customer = e.customer;
    if (customer === undefined) continue;
    const list = byCustomer.get(customer) ?? [];
    list.push({
      id: e.id,
      customer,
      product: e.product,
      metric: e.metric,
      quantity: e.quantity,
      time: Date.parse(e.time),
      source: "api",
      ...(e.cost ? { cost: e.cost } : {}),
      ...(e.properties ? { properties: e.properties } : {}),
    });
    byCustomer.set(customer, list);
  }
  const counts = await Promise.all(
    [...byCustomer].map(([customer, events]) =>
      benchActor(c.env, c.var.tenantId, customer).benchInsert(events),
    ),
  );
  return c.json({ inserted: counts.reduce((a, b) => a + b, 0) }, 200);
});

// A profile of one ingest call, step by step, in the real runtime (see BenchActor.profile).
bench.post("/v1/bench/profile", async (c) => {
  const body = (await c.req.json()) as {
    customer: string;
    step: ProfileStep;
    n: number;
    events: UsageEvent[];
  };
  const events = body.events.map((e) => ({
    ...e,
    time: Date.parse(String(e.time)),
    source: "api",
  }));
  const started = Date.now();
  await benchActor(c.env, c.var.tenantId, body.customer).profile({
    tenantId: c.var.tenantId,
    customerId: body.customer,
    step: body.step,
    n: body.n,
    events,
  });
  return c.json({ step: body.step, n: body.n, ms: Date.now() - started }, 200);
});

// One actor's ingest throughput as callers see it: `n` real ingest calls, one after another, each
// its own RPC, input gate and storage commit (what a Durable Object serialises), on the bench
// namespace's actor for the customer. The actor's outbox later feeds the rollups, so callers
// check their books before this.
bench.post("/v1/bench/ingest-calls", async (c) => {
  const body = (await c.req.json()) as { customer: string; n: number; events: UsageEvent[] };
  const stub = benchActor(c.env, c.var.tenantId, body.customer);
  const call = (i: number) =>
    stub.ingest({
      tenantId: c.var.tenantId,
      customerId: body.customer,
      catalogVersion: 0,
      rawRetentionDays: 30,
      detail: false,
      events: body.events.map((e) => ({
        ...e,
        id: `${e.id}:call:${i}`,
        time: Date.parse(String(e.time)),
        source: "api",
      })),
    });
  await call(-1); // the actor exists and has its terms
  const started = Date.now();
  for (let i = 0; i < body.n; i++) await call(i);
  return c.json({ n: body.n, ms: Date.now() - started }, 200);
});

// The gate's baseline: a bare Worker → DO RPC round trip on the same path as the gate.
bench.post("/v1/bench/ping", async (c) => {
  const { customer } = (await c.req.json()) as { customer: string };
  return c.json(await benchActor(c.env, c.var.tenantId, customer).ping(), 200);
});

// One archive compaction step of the caller's tenant, as the tenant clock runs it (run after run
// while a backlog and the tick's time budget last), timed, with each run's cost and what it left
// staged (listed by size only: the benchmark reads freshness from outside, so this step does no
// work the clock's would not).
bench.post("/v1/bench/archive-tick", async (c) => {
  const tenantId = c.var.tenantId;
  const started = Date.now();
  const { partitions, runs, backlog } = await compactEventArchiveRuns(c.env, tenantId, started);
  const finished = Date.now();
  let stagedBytes = 0;
  let stagedObjects = 0;
  let cursor: string | undefined;
  do {
    const page = await c.env.EXPORTS.list({
      prefix: stagingTenantPrefix(tenantId),
      ...(cursor ? { cursor } : {}),
    });
    for (const object of page.objects) {
      stagedBytes += object.size;
      stagedObjects += 1;
    }
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return c.json(
    {
      compaction_ms: finished - started,
      runs,
      backlog,
      added_rows: partitions.reduce((s, p) => s + p.added_rows, 0),
      staged_objects_left: stagedObjects,
      staged_bytes_left: stagedBytes,
    },
    200,
  );
});

bench.route("/", app);
bench.notFound((c) =>
  problemResponse("not_found", `No route for ${c.req.method} ${new URL(c.req.url).pathname}`),
);
bench.onError(handleError);

export default { ...worker, fetch: bench.fetch } satisfies ExportedHandler<Env>;
