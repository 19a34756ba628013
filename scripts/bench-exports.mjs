#!/usr/bin/env node
// `npm run bench:exports` — exports speed and memory (issue 16 item 7), each figure next to the
// stack's own floor measured in the same run (/healthz p50/p95).
// 1. Parquet in workerd: POST /api/exports {dataset: rollups_daily} over the 10,000-customer ×
//    90-day data set (scripts/generate-scale-data.mjs, ≈ 1.07 M daily rollup rows), one request
//    per BENCH_EXPORT_WINDOW_DAYS window (default 7: a run is one request, so a deployed Worker
//    has its CPU limit, 30 s by default, for each; a 90-day run in one request is within reach
//    locally but not a limit to lean on). Rows/s over the requests' wall time, bytes, files, and
//    the runtime workerd's memory: VmRSS sampled every 100 ms during the exports and VmHWM (the
//    process's peak since it started, the data set's first reads included) from
//    /proc/<pid>/status. That is the whole runtime process (every isolate, SQLite page caches of
//    D1 and the actors, workerd itself), an upper bound of what the export holds.
// 2. The archive keeping up with ingest (SPEC §10: "keeps up with the measured ingest rate"): on
//    a fresh tenant of its own, the ingest rate is measured as bench:ingest does (1,000-event
//    batches from 4 concurrent clients), then events are sent at BENCH_ARCHIVE_FRACTION of that
//    rate (1: the full rate) for BENCH_ARCHIVE_MINUTES while the archive's compaction
//    (workers/event-archive.ts) is driven as the tenant clock drives it: a tick every
//    BENCH_TICK_SECONDS through the bench worker's /v1/bench/archive-tick, and while a tick
//    leaves a backlog, the next step CATCH_UP_MS (1 s) after it; then ticks continue until the
//    archive holds every accepted event (or BENCH_DRAIN_SECONDS pass). Under `wrangler dev` the
//    tenant clock's own alarm compacts too (the compaction lease keeps one run at a time), so
//    freshness is read from outside, whoever compacted: the events accepted (counted when each
//    batch was sent) and the events in the archive's manifests (GET /api/exports/archive, polled
//    every second) are two cumulative curves, and the k-th event's freshness is the time the
//    second reached k less the time the first did (in acceptance order: the archive takes a
//    run's events in another order, which moves an event by at most one run). Each compaction
//    run reports its wall time, staged bytes and rows, which give the per-run cost and the
//    archive's ceiling, the rate one tenant's compaction absorbs working back to back (rows per
//    second of run time, times the share of time the clock lets it run: TICK_COMPACTION_MS of
//    every TICK_COMPACTION_MS + CATCH_UP_MS). Deployed, the tick is every 5 minutes, which a run
//    with BENCH_TICK_SECONDS=300 BENCH_ARCHIVE_MINUTES=10 measures.
//
//   AFORO_SCALE_DIR=/path   reuse (or create and keep) a generated data set
//   BENCH_ONLY=archive      only part 2 (no data set: a fresh stack)
//   BENCH_PORT (8807) · BENCH_EXPORT_WINDOW_DAYS (7) · SCALE_CUSTOMERS (10000)
//   BENCH_ARCHIVE_MINUTES (3) · BENCH_ARCHIVE_FRACTION (1) · BENCH_TICK_SECONDS (60)
//   BENCH_DRAIN_SECONDS (240) · BENCH_CUSTOMERS (100, the archive tenant's customers)
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateScaleData, latestMigration } from "./generate-scale-data.mjs";
import { benchEvent } from "./lib/bench-workload.mjs";
import { seedLoadTenant } from "./lib/load.mjs";
import { runtimePid } from "./lib/processes.mjs";
import { applyMigrations, ensureDevVars, request, startWrangler } from "./lib/stack.mjs";

const PORT = Number(process.env.BENCH_PORT ?? 8807);
const WINDOW_DAYS = Number(process.env.BENCH_EXPORT_WINDOW_DAYS ?? 7);
const ARCHIVE_MINUTES = Number(process.env.BENCH_ARCHIVE_MINUTES ?? 3);
const ARCHIVE_FRACTION = Number(process.env.BENCH_ARCHIVE_FRACTION ?? 1);
const TICK_SECONDS = Number(process.env.BENCH_TICK_SECONDS ?? 60);
const DRAIN_SECONDS = Number(process.env.BENCH_DRAIN_SECONDS ?? 240);
const CUSTOMERS = Number(process.env.BENCH_CUSTOMERS ?? 100);
const CLIENTS = 4;
const BATCH_SIZE = 1000;
const RATE_BATCHES = 10; // per client, for the ingest rate
const DAY_MS = 86_400_000;
// The clock's pacing (durable-objects/tenant-clock.ts CATCH_UP_MS, workers/event-archive.ts
// TICK_COMPACTION_MS): what the ceiling's share of time comes from.
const CATCH_UP_MS = 1_000;
const TICK_COMPACTION_MS = 20_000;
const ARCHIVE_ONLY = process.env.BENCH_ONLY === "archive";

const keep = process.env.AFORO_SCALE_DIR;
const persistTo = keep ?? mkdtempSync(join(tmpdir(), "aforo-bench-exports-"));
const keysFile = join(persistTo, "aforo-scale.json");

const started = Date.now();
const reused = existsSync(keysFile);
if (ARCHIVE_ONLY && !reused) applyMigrations(persistTo, true);
const keys = ARCHIVE_ONLY
  ? null
  : reused
    ? JSON.parse(readFileSync(keysFile, "utf8"))
    : await generateScaleData({ persistTo, port: PORT - 1 });
const generatedIn = (Date.now() - started) / 1000;
if (keys && reused && keys.latest_migration !== latestMigration()) {
  throw new Error(
    `${persistTo} was generated on schema ${keys.latest_migration ?? "before 0024"}, not ${latestMigration()}: remove it (or point AFORO_SCALE_DIR at a new directory) to regenerate`,
  );
}

const { adminToken } = ensureDevVars();
const stack = await startWrangler({
  port: PORT,
  persistTo,
  quiet: true,
  bench: true,
  frozen: true,
});
const op = { token: keys?.operator_token };

const pct = (sorted, p) =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const fmt = (n) => Math.round(n).toLocaleString("en-US");
const mib = (kb) => (kb / 1024).toFixed(0);

async function healthz(n = 50) {
  const times = [];
  for (let i = 0; i < n + 3; i++) {
    const t0 = performance.now();
    const res = await fetch(`${stack.url}/healthz`);
    await res.text();
    if (i >= 3) times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { p50: pct(times, 50), p95: pct(times, 95) };
}

/** VmRSS and VmHWM of the runtime workerd, kB. */
function memoryKb(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB$`, "m").exec(status)?.[1] ?? 0);
    return { rss: kb("VmRSS"), hwm: kb("VmHWM") };
  } catch {
    return null;
  }
}

async function exportRollups() {
  // The data set's 90 days end today (UTC); a window reaching a day past both ends holds them all.
  const today = Math.floor(Date.now() / DAY_MS) * DAY_MS;
  const from = today - (keys.days + 1) * DAY_MS;
  const to = today + DAY_MS;
  const pid = runtimePid(stack.stackId);
  const before = pid ? memoryKb(pid) : null;
  let peakRss = before?.rss ?? 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling && pid) {
      const m = memoryKb(pid);
      if (m && m.rss > peakRss) peakRss = m.rss;
      await sleep(100);
    }
  })();
  const runs = [];
  const t0 = performance.now();
  for (let start = from; start < to; start += WINDOW_DAYS * DAY_MS) {
    const end = Math.min(to, start + WINDOW_DAYS * DAY_MS);
    const r0 = performance.now();
    const run = await request(`${stack.url}/api/exports`, {
      method: "POST",
      ...op,
      body: {
        dataset: "rollups_daily",
        from: new Date(start).toISOString(),
        to: new Date(end).toISOString(),
      },
    });
    if (run.status !== "succeeded") throw new Error(`export ${run.id}: ${run.status} ${run.error}`);
    runs.push({ ms: performance.now() - r0, rows: run.rows, bytes: run.bytes, files: run.files });
  }
  const wall = (performance.now() - t0) / 1000;
  sampling = false;
  await sampler;
  const after = pid ? memoryKb(pid) : null;
  const sum = (k) => runs.reduce((s, r) => s + r[k], 0);
  const ms = runs.map((r) => r.ms).sort((a, b) => a - b);
  return {
    runs: runs.length,
    rows: sum("rows"),
    bytes: sum("bytes"),
    files: sum("files"),
    wall,
    perRequest: { p50: pct(ms, 50), max: ms.at(-1) },
    maxRows: Math.max(...runs.map((r) => r.rows)),
    memory: pid ? { before, after, peakRss } : null,
  };
}

async function archiveKeepsUp() {
  const seeded = await seedLoadTenant(stack.url, adminToken, {
    name: "Bench exports",
    customers: CUSTOMERS,
  });
  const ingestKey = seeded.ingestKey;
  let serial = 0;
  let accepted = 0;
  const makeBatch = () => {
    const now = Date.now();
    return Array.from({ length: BATCH_SIZE }, (_, i) => {
      const e = benchEvent(`x${serial++}`, `c${i % CUSTOMERS}`, i, now);
      return { ...e, time: new Date(e.time).toISOString() };
    });
  };
  const send = async (batch) => {
    const res = await fetch(`${stack.url}/v1/events`, {
      method: "POST",
      headers: { authorization: `Bearer ${ingestKey}`, "content-type": "application/json" },
      body: JSON.stringify(batch),
    });
    const body = await res.json();
    if (!res.ok || body.accepted !== batch.length) {
      throw new Error(`/v1/events: ${res.status} ${JSON.stringify(body).slice(0, 300)}`);
    }
    accepted += body.accepted;
  };

  // The ingest rate, as bench:ingest measures it (after a warm-up round).
  const burst = async () => {
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        for (let b = 0; b < RATE_BATCHES; b++) await send(makeBatch());
      }),
    );
    return (CLIENTS * RATE_BATCHES * BATCH_SIZE) / ((performance.now() - t0) / 1000);
  };
  await burst();
  const ingestRate = await burst();
  const target = ingestRate * ARCHIVE_FRACTION;

  // Acceptance: the cumulative count of accepted events, each batch counted at its send.
  const acceptedCurve = [];
  const sendCounted = async (batch) => {
    const at = performance.now();
    await send(batch);
    acceptedCurve.push([at, batch.length]);
  };

  const ticks = [];
  const runs = [];
  const tick = async () => {
    const res = await fetch(`${stack.url}/v1/bench/archive-tick`, {
      method: "POST",
      headers: { authorization: `Bearer ${ingestKey}` },
    });
    const body = await res.json();
    if (!res.ok) throw new Error(`archive tick: ${res.status} ${JSON.stringify(body)}`);
    ticks.push({ ...body, at: performance.now() });
    runs.push(...body.runs);
    return body;
  };
  /** A tick, then a catch-up step CATCH_UP_MS after each one that left a backlog, as the clock. */
  const tickAndCatchUp = async (keepGoing) => {
    let t = await tick();
    while (t.backlog && keepGoing()) {
      await sleep(CATCH_UP_MS);
      t = await tick();
    }
  };
  const archived = async () => {
    const day = (t) => new Date(t).toISOString().slice(0, 10);
    const parts = await request(
      `${stack.url}/api/exports/archive?from=${day(Date.now() - DAY_MS)}&to=${day(Date.now())}`,
      { token: seeded.operatorToken },
    );
    return parts.data.reduce((s, p) => s + p.rows, 0);
  };
  // The rate bursts' events archived first, so both curves start from the same count.
  const settleStart = performance.now();
  while ((await archived()) < accepted && performance.now() - settleStart < 120_000) {
    await tickAndCatchUp(() => true);
    await sleep(2_000);
  }
  // The archive's cumulative count, polled every second from the load's start to the drain's end.
  const archivedCurve = [];
  let polling = true;
  const baseline = await archived();
  const poller = (async () => {
    while (polling) {
      const t0 = performance.now();
      archivedCurve.push([performance.now(), (await archived()) - baseline]);
      await sleep(Math.max(0, 1000 - (performance.now() - t0)));
    }
  })();

  // Paced load: each client sends a batch every CLIENTS × 1,000 / target seconds.
  const paceStart = performance.now();
  const acceptedBefore = accepted;
  const until = paceStart + ARCHIVE_MINUTES * 60_000;
  const interval = (CLIENTS * BATCH_SIZE * 1000) / target;
  let sending = true;
  const load = Promise.all(
    Array.from({ length: CLIENTS }, async (_, c) => {
      let next = paceStart + (c * interval) / CLIENTS;
      while (next < until) {
        const wait = next - performance.now();
        if (wait > 0) await sleep(wait);
        await sendCounted(makeBatch());
        next += interval;
      }
    }),
  ).finally(() => {
    sending = false;
  });
  const ticker = (async () => {
    while (sending) {
      const t0 = performance.now();
      while (sending && performance.now() - t0 < TICK_SECONDS * 1000) await sleep(200);
      if (sending) await tickAndCatchUp(() => sending);
    }
  })();
  await load;
  const paced = (accepted - acceptedBefore) / ((performance.now() - paceStart) / 1000);
  await ticker;
  const sent = accepted - acceptedBefore;
  // Drain: tick until the archive holds every accepted event.
  const drainStart = performance.now();
  let inArchive = (await archived()) - baseline;
  while (inArchive < sent && performance.now() - drainStart < DRAIN_SECONDS * 1000) {
    await sleep(2_000);
    await tickAndCatchUp(() => performance.now() - drainStart < DRAIN_SECONDS * 1000);
    inArchive = (await archived()) - baseline;
  }
  const drain = (performance.now() - drainStart) / 1000;
  await sleep(1_100);
  polling = false;
  await poller;

  // The k-th event's freshness: when the archive's count reached k less when the k-th was sent.
  const freshness = [];
  let a = 0;
  let k = 0;
  for (const [at, n] of acceptedCurve.sort((x, y) => x[0] - y[0])) {
    for (let i = 0; i < n; i += 100, k += 100) {
      while (a < archivedCurve.length && archivedCurve[a][1] < k + 1) a++;
      if (a === archivedCurve.length) break;
      freshness.push((archivedCurve[a][0] - at) / 1000);
    }
  }
  freshness.sort((x, y) => x - y);

  const ran = runs.filter((r) => r.added_rows > 0);
  const runMs = ran.map((r) => r.ms).sort((x, y) => x - y);
  const runRows = ran.reduce((s, r) => s + r.added_rows, 0);
  const runBytes = ran.reduce((s, r) => s + r.staged_bytes, 0);
  const runTime = ran.reduce((s, r) => s + r.ms, 0) / 1000;
  const throughput = runTime > 0 ? runRows / runTime : 0;
  const tickMs = ticks.map((t) => t.compaction_ms).sort((x, y) => x - y);
  return {
    ingestRate,
    target,
    paced,
    accepted: sent,
    inArchive,
    drain,
    ticks: ticks.length,
    catchUps: ticks.filter((_, i) => i > 0 && ticks[i - 1].backlog).length,
    tick: tickMs.length ? { p50: pct(tickMs, 50), max: tickMs.at(-1) } : null,
    runs: ran.length,
    run: runMs.length
      ? {
          p50: pct(runMs, 50),
          max: runMs.at(-1),
          rows: runRows / ran.length,
          bytes: runBytes / ran.length,
          usPerEvent: (runTime * 1e6) / runRows,
        }
      : null,
    throughput,
    ceiling: (throughput * TICK_COMPACTION_MS) / (TICK_COMPACTION_MS + CATCH_UP_MS),
    backlogMaxBytes: Math.max(0, ...ticks.map((t) => t.staged_bytes_left)),
    freshness: freshness.length
      ? {
          p50: pct(freshness, 50),
          p95: pct(freshness, 95),
          max: freshness.at(-1),
          samples: freshness.length,
        }
      : null,
  };
}

try {
  const floorBefore = await healthz();
  const exp = keys ? await exportRollups() : null;
  const arch = await archiveKeepsUp();
  const floorAfter = await healthz();

  const f = (n) => n.toFixed(1).padStart(6);
  const m = exp?.memory;
  const part1 = exp
    ? `Exports benchmark — ${keys.customers.toLocaleString("en-US")} customers × ${keys.days} days (${keys.rollup_rows.toLocaleString("en-US")} daily rollup rows); data set ${reused ? "reused" : `generated in ${generatedIn.toFixed(0)} s`}

1. Parquet in workerd: POST /api/exports {dataset: rollups_daily}, ${exp.runs} requests of ${WINDOW_DAYS}-day windows, one after another
  rows ${fmt(exp.rows)}  bytes ${fmt(exp.bytes)} (${(exp.bytes / exp.rows).toFixed(1)} B/row)  files ${fmt(exp.files)}  wall ${exp.wall.toFixed(1)} s
  throughput ${fmt(exp.rows / exp.wall)} rows/s (read from D1 5,000 at a time, DECIMAL money, ≤ 50,000 rows per file, written to local R2)
  per request: p50 ${(exp.perRequest.p50 / 1000).toFixed(1)} s, max ${(exp.perRequest.max / 1000).toFixed(1)} s (${fmt(exp.maxRows)} rows at most; wall time in local workerd, CPU time is at most that)
  runtime workerd memory: ${m ? `VmRSS ${mib(m.before.rss)} MiB before, peak ${mib(m.peakRss)} MiB during (sampled every 100 ms), ${mib(m.after.rss)} MiB after; VmHWM ${mib(m.before.hwm)} → ${mib(m.after.hwm)} MiB (whole process: every isolate, D1's and the actors' SQLite caches)` : "not observable (no /proc)"}`
    : "Exports benchmark, part 2 only (BENCH_ONLY=archive)";
  console.log(`
${part1}
  /healthz (the stack's own floor, same run): p50 ${f(floorBefore.p50)} ms, p95 ${f(floorBefore.p95)} ms before; p50 ${f(floorAfter.p50)} ms, p95 ${f(floorAfter.p95)} ms after

2. The archive keeping up with ingest (a tenant of its own, ${CUSTOMERS} customers, 1,000-event batches from ${CLIENTS} clients)
  ingest rate measured in this run (as bench:ingest): ${fmt(arch.ingestRate)} events/s; paced at ${ARCHIVE_FRACTION} of it (${fmt(arch.target)} events/s) for ${ARCHIVE_MINUTES} min
  accepted ${fmt(arch.paced)} events/s while paced; ${fmt(arch.accepted)} events accepted in all, ${fmt(arch.inArchive)} in the archive's manifests (GET /api/exports/archive) ${arch.inArchive >= arch.accepted ? `— all of them, ${arch.drain.toFixed(0)} s after the load stopped` : `— NOT all within ${DRAIN_SECONDS} s of the load stopping`}
  compaction as the clock drives it: a tick every ${TICK_SECONDS} s (production's: 300 s), a catch-up step ${CATCH_UP_MS / 1000} s after each that left a backlog; ${arch.ticks} ticks and steps (${arch.catchUps} catch-ups), each p50 ${arch.tick ? fmt(arch.tick.p50) : "–"} ms, max ${arch.tick ? fmt(arch.tick.max) : "–"} ms (budget ${TICK_COMPACTION_MS / 1000} s)
  per compaction run (≤ 24 MB staged): ${arch.run ? `${arch.runs} runs, p50 ${fmt(arch.run.p50)} ms, max ${fmt(arch.run.max)} ms, ${fmt(arch.run.rows)} events and ${(arch.run.bytes / 1e6).toFixed(1)} MB staged on average, ${arch.run.usPerEvent.toFixed(1)} µs per event` : "none compacted rows"}
  archive ceiling (one tenant): ${fmt(arch.throughput)} events/s of run time × ${TICK_COMPACTION_MS / 1000} s of every ${(TICK_COMPACTION_MS + CATCH_UP_MS) / 1000} s = ${fmt(arch.ceiling)} events/s, ${(arch.ceiling / arch.ingestRate).toFixed(2)}× the ingest rate (before: one run per 5-minute tick, ~170 events/s)
  staging backlog after a tick or step: max ${(arch.backlogMaxBytes / 1e6).toFixed(1)} MB
  freshness (acceptance → in a manifest), ${arch.freshness ? `${fmt(arch.freshness.samples)} samples (every 100th event): p50 ${arch.freshness.p50.toFixed(0)} s, p95 ${arch.freshness.p95.toFixed(0)} s, max ${arch.freshness.max.toFixed(0)} s` : "no events compacted"}   (target: within 600 s)
`);
} finally {
  await stack.stop();
  if (!keep) rmSync(persistTo, { recursive: true, force: true });
}
