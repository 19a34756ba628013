#!/usr/bin/env node
// `npm run bench:hot` — one hot customer (issue 11). A Durable Object serves one call at a time,
// so a customer's ceiling is its actor's calls per second times the events each call carries.
// 1. The actor's side: consecutive real ingest calls from a Worker (/v1/bench/ingest-calls, each
//    with its RPC, input gate and storage commit, as a Durable Object serialises them): the time
//    of one call of EVENTS events, as one request sends them, and of one call of
//    CLIENTS × EVENTS, as the edge coalesces them — the events per second one actor absorbs
//    each way.
// 2. End to end: CLIENTS clients send EVENTS-event requests for ONE customer as fast as they can,
//    each request its own actor call (AFORO_COALESCE=off), then coalesced (the default,
//    workers/actor-calls.ts). Each run has its own fresh stack; afterwards the rollups
//    must hold every accepted event exactly once. Locally the edge, the actor and wrangler's proxy
//    share one machine, so end-to-end rates show the edge's per-request cost as much as the
//    actor's; deployed, the edge runs on many isolates and only the actor is one.
//
//   BENCH_CLIENTS (64) · BENCH_EVENTS (10 per request) · BENCH_SECONDS (8) · BENCH_PORT (8781)
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { drainedRollups, seedLoadTenant } from "./lib/load.mjs";
import { applyMigrations, ensureDevVars, startWrangler } from "./lib/stack.mjs";

const PORT = Number(process.env.BENCH_PORT ?? 8781);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 64);
const EVENTS = Number(process.env.BENCH_EVENTS ?? 10);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);

const { adminToken } = ensureDevVars();
const pct = (sorted, p) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;

async function run(coalesce) {
  const persistTo = mkdtempSync(join(tmpdir(), "aforo-bench-hot-"));
  applyMigrations(persistTo, true);
  const stack = await startWrangler({
    port: PORT,
    persistTo,
    quiet: true,
    bench: true,
    vars: coalesce ? {} : { AFORO_COALESCE: "off" },
  });
  try {
    const seeded = await seedLoadTenant(stack.url, adminToken, { name: "Hot", customers: 1 });
    const tenant = { ingest_key: seeded.ingestKey };
    const [hot] = seeded.customers;

    let serial = 0;
    const batchOf = (size) => {
      const time = new Date(Date.now() - 1000).toISOString();
      return Array.from({ length: size }, () => ({
        id: `h${serial++}`,
        customer: hot,
        product: "chat-api",
        metric: "input_tokens",
        quantity: 1000,
        time,
      }));
    };
    const batch = () => batchOf(EVENTS);
    const send = async (events) => {
      const t0 = performance.now();
      const res = await fetch(`${stack.url}/v1/events`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${tenant.ingest_key}`,
          "content-type": "application/json",
        },
        body: JSON.stringify(events),
      });
      const body = await res.json();
      if (!res.ok) throw new Error(`POST /v1/events: ${res.status} ${JSON.stringify(body)}`);
      return { ms: performance.now() - t0, accepted: body.accepted };
    };
    const load = async (seconds) => {
      const until = performance.now() + seconds * 1000;
      const times = [];
      let accepted = 0;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: CLIENTS }, async () => {
          while (performance.now() < until) {
            const r = await send(batch());
            times.push(r.ms);
            accepted += r.accepted;
          }
        }),
      );
      const elapsed = (performance.now() - started) / 1000;
      times.sort((a, b) => a - b);
      return {
        requests: times.length / elapsed,
        events: accepted / elapsed,
        accepted,
        p50: pct(times, 50),
        p99: pct(times, 99),
      };
    };

    const warm = await load(2); // actor created, code compiled
    const r = await load(SECONDS);
    const expected = warm.accepted + r.accepted;
    // Every accepted event in the rollups, and still so a few seconds later (a late double).
    const rolled = (await drainedRollups(stack.url, seeded.operatorToken, expected)).total;
    // One actor's time per ingest call as its callers see it (RPC, input gate, commit included),
    // small and coalesced; measured after the books, since these events reach the rollups too.
    // Once: it does not depend on the mode.
    const callUs = async (size) => {
      const n = Math.max(10, Math.round(4000 / size));
      const times = [];
      for (let k = 0; k < 5; k++) {
        const res = await fetch(`${stack.url}/v1/bench/ingest-calls`, {
          method: "POST",
          headers: {
            authorization: `Bearer ${tenant.ingest_key}`,
            "content-type": "application/json",
          },
          body: JSON.stringify({ customer: hot, n, events: batchOf(size) }),
        });
        if (!res.ok) throw new Error(`ingest-calls: ${res.status} ${await res.text()}`);
        times.push(((await res.json()).ms * 1000) / n);
      }
      return times.sort((a, b) => a - b)[2];
    };
    const actor = coalesce
      ? { small: await callUs(EVENTS), coalesced: await callUs(EVENTS * CLIENTS) }
      : null;
    return { ...r, expected, rolled, actor };
  } finally {
    await stack.stop();
    rmSync(persistTo, { recursive: true, force: true });
  }
}

const alone = await run(false);
const coalesced = await run(true);
const f = (n, d = 0) => n.toLocaleString("en-US", { maximumFractionDigits: d });
const books = (r) =>
  `accepted ${f(r.expected)}, in rollups ${f(r.rolled)}: lost ${f(Math.max(0, r.expected - r.rolled))}, double ${f(Math.max(0, r.rolled - r.expected))}`;
const a = coalesced.actor;
const small = (EVENTS * 1e6) / a.small;
const big = (EVENTS * CLIENTS * 1e6) / a.coalesced;
console.log(`
Hot customer — one customer
  one actor, per ingest call (RPC and commit included): ${EVENTS} events ${a.small.toFixed(0)} µs → ${f(small)} events/s; ${EVENTS * CLIENTS} events (coalesced) ${f(a.coalesced)} µs → ${f(big)} events/s
  one customer at ${(big / small).toFixed(1)}× one actor's throughput at ${EVENTS}-event calls   target: several times (≥ 3×)   ${big >= 3 * small ? "met" : "NOT met"}
  end to end, ${CLIENTS} clients × ${EVENTS}-event requests for ${SECONDS} s:
    one actor call per request (AFORO_COALESCE=off): ${f(alone.requests)} req/s, ${f(alone.events)} events/s, p50 ${alone.p50.toFixed(1)} ms / p99 ${alone.p99.toFixed(1)} ms
    coalesced at the edge (default):                ${f(coalesced.requests)} req/s, ${f(coalesced.events)} events/s, p50 ${coalesced.p50.toFixed(1)} ms / p99 ${coalesced.p99.toFixed(1)} ms
    books, per call:  ${books(alone)}
    books, coalesced: ${books(coalesced)}
`);
if (alone.rolled !== alone.expected || coalesced.rolled !== coalesced.expected) process.exit(1);
