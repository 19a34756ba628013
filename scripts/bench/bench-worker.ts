import type { UsageEvent } from "../../domain/usage-event";
import { actorName, CustomerActor } from "../../durable-objects/customer-actor";
import { createRouter, handleError } from "../../workers/app";
import { requireKey } from "../../workers/auth";
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

  /** The same batch insert as ingest, with nothing else (no dedupe, rating, buckets, outbox). */
  async benchInsert(events: UsageEvent[]): Promise<number> {
    const now = Date.now();
    this.ctx.storage.transactionSync(() =>
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
          provider: null,
          model: null,
          input_tokens: null,
          output_tokens: null,
          cached_input_tokens: null,
          subscription_id: null,
          flags: "",
          source: "api",
          properties: e.properties ?? null,
        })),
        now,
      ),
    );
    return events.length;
  }
}

type BenchEnv = Env & { BENCH_ACTOR: DurableObjectNamespace<BenchActor> };
const benchActor = (env: Env, tenantId: string, customer: string) =>
  (env as BenchEnv).BENCH_ACTOR.getByName(actorName(tenantId, customer));

const bench = createRouter();
bench.use("/v1/bench/*", requireKey("ingest"));

// The ingest ceiling: each customer's actor only inserts its (validated) events into SQLite.
bench.post("/v1/bench/raw-insert", async (c) => {
  const items = JSON.parse(await c.req.text()) as unknown[];
  const byCustomer = new Map<string, UsageEvent[]>();
  for (const item of items) {
    const parsed = NativeEvent.safeParse(item);
    if (!parsed.success) continue;
    const e = parsed.data;
    const list = byCustomer.get(e.customer) ?? [];
    list.push({
      id: e.id,
      customer: e.customer,
      product: e.product,
      metric: e.metric,
      quantity: e.quantity,
      time: Date.parse(e.time),
      source: "api",
      ...(e.properties ? { properties: e.properties } : {}),
    });
    byCustomer.set(e.customer, list);
  }
  const counts = await Promise.all(
    [...byCustomer].map(([customer, events]) =>
      benchActor(c.env, c.var.tenantId, customer).benchInsert(events),
    ),
  );
  return c.json({ inserted: counts.reduce((a, b) => a + b, 0) }, 200);
});

// The gate's baseline: a bare Worker → DO RPC round trip on the same path as the gate.
bench.post("/v1/bench/ping", async (c) => {
  const { customer } = (await c.req.json()) as { customer: string };
  return c.json(await benchActor(c.env, c.var.tenantId, customer).ping(), 200);
});

bench.route("/", app);
bench.notFound((c) =>
  problemResponse("not_found", `No route for ${c.req.method} ${new URL(c.req.url).pathname}`),
);
bench.onError(handleError);

export default { ...worker, fetch: bench.fetch } satisfies ExportedHandler<Env>;
