#!/usr/bin/env node
// `npm run bench:ingest` — ingest throughput on the embedded default (SPEC §10).
// Starts its own local stack (fresh state, its own port), pushes 1,000-event batches from several
// concurrent clients through POST /v1/events, and compares with the bare ceiling measured in the
// same run: the same request path where each customer's actor only inserts the batch into SQLite.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { benchEvent } from "./lib/bench-workload.mjs";
import { seedLoadTenant } from "./lib/load.mjs";
import { applyMigrations, ensureDevVars, request, startWrangler } from "./lib/stack.mjs";

const PORT = Number(process.env.BENCH_PORT ?? 8791);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 4);
const BATCHES = Number(process.env.BENCH_BATCHES ?? 25); // per client per round
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CUSTOMERS = Number(process.env.BENCH_CUSTOMERS ?? 100);
const BATCH_SIZE = 1000;

const persistTo = mkdtempSync(join(tmpdir(), "aforo-bench-"));
const { adminToken } = ensureDevVars();
applyMigrations(persistTo, true);
const stack = await startWrangler({
  port: PORT,
  persistTo,
  quiet: true,
  bench: true,
});

try {
  const seeded = await seedLoadTenant(stack.url, adminToken, {
    name: "Bench",
    customers: CUSTOMERS,
  });
  const tenant = { ingest_key: seeded.ingestKey };
  const op = { token: seeded.operatorToken };

  let serial = 0;
  const makeBatch = () => {
    const now = Date.now();
    return Array.from({ length: BATCH_SIZE }, (_, i) => {
      const e = benchEvent(`b${serial++}`, `c${i % CUSTOMERS}`, i, now);
      return { ...e, time: new Date(e.time).toISOString() };
    });
  };

  const send = async (path, batch) => {
    const res = await fetch(`${stack.url}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${tenant.ingest_key}`, "content-type": "application/json" },
      body: JSON.stringify(batch),
    });
    const body = await res.json();
    if (!res.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(body)}`);
    const stored = body.accepted ?? body.inserted;
    if (stored !== batch.length) throw new Error(`${path}: stored ${stored} of ${batch.length}`);
  };

  const measure = async (path) => {
    const batches = Array.from({ length: CLIENTS }, () =>
      Array.from({ length: BATCHES }, makeBatch),
    );
    const started = performance.now();
    await Promise.all(
      batches.map(async (mine) => {
        for (const b of mine) await send(path, b);
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    return (CLIENTS * BATCHES * BATCH_SIZE) / seconds;
  };

  // Warm both paths (actors created, code JIT-compiled) before measuring.
  await measure("/v1/events");
  await measure("/v1/bench/raw-insert");
  const full = [];
  const ceiling = [];
  for (let r = 0; r < ROUNDS; r++) {
    ceiling.push(await measure("/v1/bench/raw-insert"));
    full.push(await measure("/v1/events"));
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const fullRate = median(full);
  const ceilingRate = median(ceiling);

  // Fan-out lag: how long until the D1 rollups hold every accepted event.
  const expected = (1 + ROUNDS) * CLIENTS * BATCHES * BATCH_SIZE;
  const lagStart = performance.now();
  let rolled = 0;
  while (performance.now() - lagStart < 120_000) {
    const rows = await request(
      `${stack.url}/api/rollups?granularity=day&from=2026-01-01T00:00:00Z`,
      op,
    );
    rolled = rows.data.reduce((s, r) => s + r.events, 0);
    if (rolled >= expected) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  const lag = (performance.now() - lagStart) / 1000;

  // A profile of one actor call (10 events, as in the runs above): each step run 1,000 times
  // inside the actor, timed by the worker around the RPC (BenchActor.profile).
  const PROFILE_CALLS = 1_000;
  const profileEvents = makeBatch().filter((e) => e.customer === "c0");
  // The same events as an agent's: three sessions among them (the sessions' pending rows).
  const sessionEvents = profileEvents.map((e, i) => ({
    ...e,
    properties: { ...e.properties, session_id: `ses_${i % 3}` },
  }));
  const stepMs = async (step, events = profileEvents) => {
    const times = [];
    for (let r = 0; r < 5; r++) {
      const res = await fetch(`${stack.url}/v1/bench/profile`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${tenant.ingest_key}`,
          "content-type": "application/json",
        },
        body: JSON.stringify({ customer: "c0", step, n: PROFILE_CALLS, events }),
      });
      if (!res.ok) throw new Error(`profile ${step}: ${res.status} ${await res.text()}`);
      times.push((await res.json()).ms);
    }
    return (median(times) * 1000) / PROFILE_CALLS; // µs per call
  };
  const steps = {};
  for (const step of [
    "nothing",
    "fold",
    "dedupe",
    "insert",
    "ledger",
    "buckets",
    "detect",
    "all",
    "bare",
  ]) {
    steps[step] = await stepMs(step);
  }
  steps.foldSessions = await stepMs("fold", sessionEvents);
  steps.sessions = await stepMs("sessions", sessionEvents);
  const us = (n) => `${Math.max(0, n).toFixed(0).padStart(5)} µs`;
  const profile = [
    ["rate, cost and fold the batch (pure)", steps.fold - steps.nothing],
    ["insert the events (1 statement)", steps.insert - steps.fold],
    ["write the period-to-date ledger (1 statement)", steps.ledger - steps.fold],
    ["add to buckets, and facets by model (2 statements)", steps.buckets - steps.fold],
    ["fold naming 3 sessions (the same 10 events)", steps.foldSessions - steps.fold],
    ["add to the sessions' pending rows (1 statement)", steps.sessions - steps.foldSessions],
    ["detect: five detectors, their state writes", steps.detect - steps.fold],
    ["dedupe lookup (only when a batch had duplicates)", steps.dedupe - steps.nothing],
  ];

  const fmt = (n) => Math.round(n).toLocaleString("en-US");
  console.log(`
Ingest benchmark — ${CLIENTS} concurrent clients × ${BATCHES} batches × ${BATCH_SIZE} events per round, ${CUSTOMERS} customers, median of ${ROUNDS} rounds
  end to end (validated, deduplicated, rated, costed, durable):  ${fmt(fullRate)} events/s   [${full.map(fmt).join(", ")}]
  bare ceiling (same path, actor only inserts into SQLite):       ${fmt(ceilingRate)} events/s   [${ceiling.map(fmt).join(", ")}]
  ratio:                                                          ${(fullRate / ceilingRate).toFixed(2)}   (target ≥ 0.80)
  D1 rollups caught up with all ${fmt(expected)} events ${rolled >= expected ? `${lag.toFixed(1)} s after the last batch` : `— NOT within 120 s (${fmt(rolled)})`}

One actor call of ${profileEvents.length} events, step by step inside the actor (median of 5 × ${fmt(PROFILE_CALLS)} calls, each its own transaction):
${profile.map(([what, t]) => `  ${what.padEnd(52)} ${us(t)}`).join("\n")}
  ${"all of it (an ingest call's work, without its RPC)".padEnd(52)} ${us(steps.all - steps.nothing)}
  ${"the bare ceiling's insert".padEnd(52)} ${us(steps.bare - steps.nothing)}
`);
} finally {
  await stack.stop();
  rmSync(persistTo, { recursive: true, force: true });
}
