// `npm run bench:fold` — the customer actor's per-batch fold (domain/ingest-batch.ts) in plain
// Node: rating, costing and gathering deltas, periods, months and paced metrics, per event. The
// plan and events are the ones `npm run bench:ingest` sends (graduated tiers, a quota, a discount,
// catalog costing), so the figure is the pure-compute share of an ingest call. Next to it, in the
// same run: serialising the same batch to the JSON the storage write sends, a floor every path
// that stores events pays.

import { type CostCatalogEntry, compileCostCatalog } from "../domain/costing";
import { foldBatch, pacingUpdates } from "../domain/ingest-batch";
import { compilePlan, type PlanComponent } from "../domain/pricing";
import type { CustomerTerms, UsageLedger } from "../domain/rating";
import type { UsageEvent } from "../domain/usage-event";
// @ts-expect-error: a plain ESM module shared with bench-ingest.mjs; the parts used are typed below.
import * as benchWorkload from "./lib/bench-workload.mjs";

const workload = benchWorkload as {
  BENCH_PLAN_COMPONENTS: PlanComponent[];
  BENCH_COST_ENTRY: Omit<CostCatalogEntry, "per_call" | "effective_from">;
  benchEvent: (id: string, customer: string, i: number, now: number) => Omit<UsageEvent, "source">;
};

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const jan1 = Date.UTC(2026, 0, 1);

const terms: CustomerTerms = {
  known: true,
  phases: [
    {
      subscription_id: "sub_1",
      plan_id: "pro",
      product_id: "chat-api",
      start: jan1,
      end: null,
      trial_end: null,
      anchor: jan1,
    },
  ],
  plans: new Map([
    [
      "pro",
      compilePlan({
        id: "pro",
        currency: "USD",
        interval: "month",
        components: workload.BENCH_PLAN_COMPONENTS,
      }),
    ],
  ]),
  costs: compileCostCatalog([
    { ...workload.BENCH_COST_ENTRY, per_call: null, effective_from: jan1 },
  ]),
};

const ledgerMap = new Map<string, Map<string, bigint>>();
const ledger: UsageLedger = {
  usage: (s, p) => {
    const key = `${s}\u0000${p}`;
    let u = ledgerMap.get(key);
    if (!u) {
      u = new Map();
      ledgerMap.set(key, u);
    }
    return u;
  },
};

let serial = 0;
const now = Date.UTC(2026, 10, 27, 12);
const batch = (size: number): UsageEvent[] =>
  Array.from({ length: size }, (_, i) => ({
    ...workload.benchEvent(`b${serial++}`, "c0", i, now),
    source: "api",
  }));

function measure(size: number, calls: number) {
  const batches = Array.from({ length: calls }, () => batch(size));
  const fold: number[] = [];
  const json: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    let t = performance.now();
    const folds = batches.map((b) => {
      const f = foldBatch(b, terms, ledger);
      pacingUpdates(terms, f.paced, (s, p, m) => ledger.usage(s, p).get(m) ?? 0n);
      return f;
    });
    fold.push(((performance.now() - t) * 1000) / (size * calls));
    t = performance.now();
    for (const f of folds) {
      JSON.stringify(
        f.records.map((e) => [e.id, e.time, e.product, e.metric, Number(e.quantity), e.properties]),
      );
    }
    json.push(((performance.now() - t) * 1000) / (size * calls));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  return { fold: median(fold), json: median(json) };
}

// Warm the JIT on both shapes first.
measure(10, 200);
measure(1000, 5);
const small = measure(10, 2_000);
const large = measure(1000, 20);
const f = (n: number) => n.toFixed(2);
console.log(`
Batch fold benchmark — rating, costing and folding per event (median of ${ROUNDS} rounds)
  10-event calls (bench:ingest's shape: 1,000 events over 100 customers):  ${f(small.fold)} µs/event   (JSON of the same rows: ${f(small.json)} µs/event)
  1,000-event calls (one customer):                                         ${f(large.fold)} µs/event   (JSON of the same rows: ${f(large.json)} µs/event)
`);
