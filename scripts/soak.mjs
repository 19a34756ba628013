#!/usr/bin/env node
// `npm run soak [-- --minutes N]` — ingest + gate + dashboard reads against a real local stack
// (its own wrangler dev, fresh temp state, a tenant seeded through the API) for N minutes (30 by
// default), printing per minute: accepted events/s and ingest latency, gate requests/s and
// latency, dashboard read latency, and the runtime workerd's RSS and the app's V8 heap. At the
// end, a verdict on memory (flat after warm-up) and on the books (every accepted event in the D1
// rollups, none twice). Exit code 1 when either fails.
//
// Options (all optional):
//   --minutes N            length of the load (30)
//   --idle N               minutes to keep sampling after the load stops (0): is memory released?
//   --events-per-second N  ingest target, in batches of --batch events (1000; 0 = flat out)
//   --gate-per-second N    gate target (100; 0 = flat out)
//   --reads-per-second N   dashboard reads target (2; 0 = flat out)
//   --ingest-clients N · --gate-clients N · --read-clients N   concurrency (4 · 2 · 1)
//   --customers N (50) · --batch N (100) · --port N (8870; the inspector is port + 1000)
//   --sample-seconds N     one row per N seconds (60)
//   --bare                 the bench worker's bare routes instead (POST /v1/bench/raw-insert for
//                          ingest, /v1/bench/ping for the gate): the runtime without the app,
//                          for comparison; no rollups to check
//   --snapshots DIR        heap snapshots into DIR after warm-up and at the end (and a summary
//                          of the biggest constructors)
//   --flat N               the memory verdict's bound, MiB per minute (1)
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { heapUsage, summarizeSnapshot, takeHeapSnapshot } from "./lib/inspector.mjs";
import {
  drainedRollups,
  gateCall,
  makeBatch,
  percentile,
  ROLLUPS_FROM,
  readCall,
  seedLoadTenant,
  sendEvents,
  sleep,
} from "./lib/load.mjs";
import { rssMiB, runtimePid } from "./lib/processes.mjs";
import { applyMigrations, ensureDevVars, startWrangler } from "./lib/stack.mjs";

const { values: args } = parseArgs({
  options: {
    minutes: { type: "string", default: "30" },
    idle: { type: "string", default: "0" },
    "events-per-second": { type: "string", default: "1000" },
    "gate-per-second": { type: "string", default: "100" },
    "reads-per-second": { type: "string", default: "2" },
    "ingest-clients": { type: "string", default: "4" },
    "gate-clients": { type: "string", default: "2" },
    "read-clients": { type: "string", default: "1" },
    customers: { type: "string", default: "50" },
    batch: { type: "string", default: "100" },
    port: { type: "string", default: "8870" },
    "sample-seconds": { type: "string", default: "60" },
    bare: { type: "boolean", default: false },
    snapshots: { type: "string" },
    flat: { type: "string", default: "1" },
  },
});
const num = (name) => {
  const n = Number(args[name]);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a number ≥ 0`);
  return n;
};
const MINUTES = num("minutes");
const IDLE_MINUTES = num("idle");
const PORT = num("port");
const SAMPLE_MS = num("sample-seconds") * 1000;
const BATCH = Math.max(1, num("batch"));
const FLAT_MIB_PER_MIN = num("flat");
const BARE = args.bare;
const INGEST_PATH = BARE ? "/v1/bench/raw-insert" : "/v1/events";
const GATE_PATH = BARE ? "/v1/bench/ping" : "/v1/gate";

const persistTo = mkdtempSync(join(tmpdir(), "aforo-soak-"));
const { adminToken } = ensureDevVars();
applyMigrations(persistTo, true);
// Frozen: a build of its own, so edits to the working tree during the soak restart nothing.
const stack = await startWrangler({
  port: PORT,
  persistTo,
  quiet: true,
  bench: BARE,
  frozen: true,
});
const inspectorPort = PORT + 1000;
let pid = runtimePid(stack.stackId);
const restarts = [];
let failed = false;

try {
  const tenant = await seedLoadTenant(stack.url, adminToken, {
    name: "Soak",
    customers: num("customers"),
  });
  const { customers, ingestKey, operatorToken } = tenant;
  const since = new Date(Date.now() - 2 * 3_600_000).toISOString();
  const READS = [
    "/api/metrics/cockpit",
    `/api/rollups?group_by=customer&granularity=hour&from=${since}`,
    "/api/margin/customers",
    "/api/signals",
    "/api/customers/c0/events?limit=50",
    `/api/rollups?group_by=product,metric&granularity=day&from=${ROLLUPS_FROM}`,
  ];

  // One window of measurements per row; the totals run for the whole soak.
  const fresh = () => ({ accepted: 0, ingest: [], gate: [], read: [], errors: 0 });
  let window = fresh();
  let accepted = 0;
  let sentEvents = 0;
  let ingestErrors = 0;
  let running = true;
  let serial = 0;

  /** Runs `once` in `clients` loops, paced so the loops together reach `perSecond` calls. */
  const loop = (clients, perSecond, once) =>
    Array.from({ length: clients }, async () => {
      const spacing = perSecond > 0 ? (1000 * clients) / perSecond : 0;
      let next = performance.now() + Math.random() * spacing;
      while (running) {
        if (spacing > 0) {
          const wait = next - performance.now();
          if (wait > 0) await sleep(wait);
          next = Math.max(next + spacing, performance.now() - spacing);
          if (!running) break;
        }
        await once();
      }
    });

  const ingestOnce = async () => {
    const batch = makeBatch(`s${serial++}`, BATCH, customers);
    const res = await sendEvents(stack.url, ingestKey, batch, INGEST_PATH);
    sentEvents += batch.length;
    if (res.ok) {
      accepted += res.accepted;
      window.accepted += res.accepted;
      window.ingest.push(res.ms);
    } else {
      // Not retried: a soak measures what the stack takes; an unacknowledged batch is counted
      // as an error, and the books check compares with what was acknowledged.
      ingestErrors++;
      window.errors++;
    }
  };
  let gateN = 0;
  const gateOnce = async () => {
    const res = await gateCall(
      stack.url,
      ingestKey,
      customers[gateN++ % customers.length],
      GATE_PATH,
    );
    if (res.ok) window.gate.push(res.ms);
    else window.errors++;
  };
  let readN = 0;
  const readOnce = async () => {
    const res = await readCall(stack.url, operatorToken, READS[readN++ % READS.length]);
    if (res.ok) window.read.push(res.ms);
    else window.errors++;
  };

  const sample = async () => {
    // wrangler starts a new runtime workerd if the old one dies: follow it, and say so.
    const now = runtimePid(stack.stackId);
    if (now !== pid) {
      restarts.push(`${pid} → ${now}`);
      console.log(`  the runtime workerd changed: pid ${pid} → ${now}`);
      pid = now;
    }
    const rss = pid ? rssMiB(pid) : null;
    const heap = await heapUsage(inspectorPort).catch(() => null);
    return { rss, heap: heap?.usedMiB ?? null };
  };
  const samples = [];
  const fmt = (n, d = 1) => (n === null || Number.isNaN(n) ? "–" : n.toFixed(d));
  const ms = (xs) => `${fmt(percentile(xs, 50))} / ${fmt(percentile(xs, 99))}`;
  const header =
    " min  events/s  ingest p50/p99 ms  gate/s  gate p50/p99 ms  read p50/p99 ms  errors  RSS MiB  heap MiB";
  const row = (label, w, seconds, m) =>
    [
      label.padStart(4),
      fmt(w.accepted / seconds, 0).padStart(9),
      ms(w.ingest).padStart(18),
      fmt(w.gate.length / seconds, 0).padStart(7),
      ms(w.gate).padStart(16),
      ms(w.read).padStart(16),
      String(w.errors).padStart(7),
      fmt(m.rss).padStart(8),
      fmt(m.heap).padStart(9),
    ].join(" ");

  const before = await sample();
  console.log(
    `\nSoak — ${MINUTES} min${IDLE_MINUTES ? ` + ${IDLE_MINUTES} min idle` : ""}, ${BARE ? "BARE runtime (bench worker's raw insert and ping)" : "the app"}, ${customers.length} customers, batches of ${BATCH}; targets ${args["events-per-second"]} events/s, ${args["gate-per-second"]} gate/s, ${args["reads-per-second"]} reads/s (0 = flat out); runtime workerd pid ${pid ?? "?"}`,
  );
  console.log(`  before load: RSS ${fmt(before.rss)} MiB, heap ${fmt(before.heap)} MiB`);
  console.log(header);
  samples.push({ minute: 0, ...before });

  const eventsPerSecond = num("events-per-second");
  const workers = [
    ...loop(num("ingest-clients"), eventsPerSecond > 0 ? eventsPerSecond / BATCH : 0, ingestOnce),
    ...loop(num("gate-clients"), num("gate-per-second"), gateOnce),
    ...loop(num("read-clients"), num("reads-per-second"), readOnce),
  ];
  const started = performance.now();
  let snapshotAt = null;
  const warmupMinutes = Math.max(1, Math.min(5, MINUTES * 0.2));
  for (let t = SAMPLE_MS; t <= MINUTES * 60_000 + 1; t += SAMPLE_MS) {
    await sleep(Math.max(0, started + t - performance.now()));
    const w = window;
    window = fresh();
    const m = await sample();
    const minute = t / 60_000;
    samples.push({ minute, ...m });
    console.log(row(fmt(minute, minute % 1 ? 1 : 0), w, SAMPLE_MS / 1000, m));
    if (args.snapshots && snapshotAt === null && minute >= warmupMinutes) {
      snapshotAt = minute;
      await snapshot(`warm-${minute}min`);
    }
  }
  running = false;
  await Promise.all(workers);

  // After the load: does the runtime give memory back?
  const idleStart = performance.now();
  for (let t = SAMPLE_MS; t <= IDLE_MINUTES * 60_000 + 1; t += SAMPLE_MS) {
    await sleep(Math.max(0, idleStart + t - performance.now()));
    const m = await sample();
    samples.push({ minute: MINUTES + t / 60_000, idle: true, ...m });
    console.log(row(`+${fmt(t / 60_000, 0)}`, fresh(), SAMPLE_MS / 1000, m));
  }
  if (args.snapshots) await snapshot("end");

  // Memory: the slope of RSS (least squares) over the second half of the loaded minutes, after
  // the warm-up; flat means under FLAT_MIB_PER_MIN.
  const loaded = samples.filter((s) => !s.idle && s.minute >= warmupMinutes && s.rss !== null);
  const half = loaded.slice(Math.floor(loaded.length / 2));
  const slope = (pts, key) => {
    const xs = pts.filter((p) => p[key] !== null);
    if (xs.length < 2) return Number.NaN;
    const mx = xs.reduce((s, p) => s + p.minute, 0) / xs.length;
    const my = xs.reduce((s, p) => s + p[key], 0) / xs.length;
    const num_ = xs.reduce((s, p) => s + (p.minute - mx) * (p[key] - my), 0);
    const den = xs.reduce((s, p) => s + (p.minute - mx) ** 2, 0);
    return num_ / den;
  };
  const rssSlope = slope(half, "rss");
  const heapSlope = slope(half, "heap");
  const flat = Number.isFinite(rssSlope) && rssSlope < FLAT_MIB_PER_MIN;
  console.log(
    `\nMemory: RSS ${fmt(before.rss)} → ${fmt(loaded.at(-1)?.rss ?? null)} MiB under load (after ${fmt(warmupMinutes)} min warm-up); slope over the last half ${fmt(rssSlope, 2)} MiB/min RSS, ${fmt(heapSlope, 2)} MiB/min heap → ${Number.isFinite(rssSlope) ? (flat ? `FLAT (< ${FLAT_MIB_PER_MIN} MiB/min)` : `GROWING (≥ ${FLAT_MIB_PER_MIN} MiB/min)`) : "not enough samples for a verdict"}`,
  );
  if (Number.isFinite(rssSlope) && !flat) failed = true;

  if (!BARE) {
    const { total } = await drainedRollups(stack.url, operatorToken, accepted, {
      timeoutMs: 300_000,
    });
    const lost = Math.max(0, accepted - total);
    const double = Math.max(0, total - accepted);
    console.log(
      `Books: ${sentEvents.toLocaleString("en-US")} events sent, ${accepted.toLocaleString("en-US")} acknowledged (${ingestErrors} batches not acknowledged, not retried), ${total.toLocaleString("en-US")} in the D1 rollups → lost ${lost}, counted twice ${double}: ${lost === 0 && double === 0 ? "OK" : "FAILED"}`,
    );
    if (lost > 0 || double > 0) failed = true;
  }
  if (restarts.length > 0 || ingestErrors > 0) {
    console.log(`\nwrangler's last output:\n${stack.output().slice(-4000)}`);
  }
  console.log(
    "(2-core machine shared with other engineers' builds and tests: throughput and latency vary with their load)",
  );
} finally {
  await stack.stop();
  rmSync(persistTo, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);

async function snapshot(label) {
  mkdirSync(args.snapshots, { recursive: true });
  const file = join(args.snapshots, `soak-${BARE ? "bare" : "app"}-${label}.heapsnapshot`);
  const bytes = await takeHeapSnapshot(inspectorPort, file);
  const { totalMiB, top } = summarizeSnapshot(readFileSync(file, "utf8"));
  console.log(
    `  heap snapshot ${file} (${(bytes / 2 ** 20).toFixed(1)} MiB file): ${totalMiB.toFixed(1)} MiB retained after collection; biggest by self size:`,
  );
  for (const t of top.slice(0, 12)) {
    console.log(
      `    ${t.name.slice(0, 48).padEnd(48)} ${String(t.count).padStart(8)} × ${t.selfMiB.toFixed(2).padStart(7)} MiB`,
    );
  }
}
