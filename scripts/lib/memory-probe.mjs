#!/usr/bin/env node
// Where the runtime's memory goes (docs/memory.md): a fresh frozen stack, then phases of traffic,
// and after each the runtime workerd's RSS split into anonymous memory (malloc: SQLite page
// caches, V8, workerd's own) and file-backed pages, next to the app's V8 heap (retained, from a
// heap snapshot). Run it for the app and for the bare runtime and compare:
//
//   node scripts/lib/memory-probe.mjs [--bare] [--port 8875] [--events 40000]
//
// Phases: ingest to 50 customers; as many events again to the same 50 (more data, same actors);
// as many to 50 new customers (more actors); gate calls to the first 50 (5,600, the issue's
// figure); then idle. `--bare` uses the bench worker's bare routes (raw insert, ping) on the same
// request path: the runtime without the app.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { heapUsage, summarizeSnapshot, takeHeapSnapshot } from "./inspector.mjs";
import { gateCall, makeBatch, seedLoadTenant, sendEvents, sleep } from "./load.mjs";
import { runtimePid } from "./processes.mjs";
import { applyMigrations, ensureDevVars, startWrangler } from "./stack.mjs";

const { values: args } = parseArgs({
  options: {
    bare: { type: "boolean", default: false },
    port: { type: "string", default: "8875" },
    events: { type: "string", default: "40000" },
    idle: { type: "string", default: "120" },
  },
});
const PORT = Number(args.port);
const EVENTS = Number(args.events);
const BATCH = 100;
const CLIENTS = 4;
const ingestPath = args.bare ? "/v1/bench/raw-insert" : "/v1/events";
const gatePath = args.bare ? "/v1/bench/ping" : "/v1/gate";

const persistTo = mkdtempSync(join(tmpdir(), "aforo-memprobe-"));
const { adminToken } = ensureDevVars();
applyMigrations(persistTo, true);
const stack = await startWrangler({
  port: PORT,
  persistTo,
  quiet: true,
  bench: args.bare,
  frozen: true,
});

/** /proc/<pid>/smaps_rollup: Rss, Anonymous and the file-backed rest, in MiB. */
function memory(pid) {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB$`, "m").exec(text)?.[1] ?? 0);
  const rss = kb("Rss") / 1024;
  const anon = kb("Anonymous") / 1024;
  return { rss, anon, file: rss - anon };
}

const snapshotFile = join(persistTo, "probe.heapsnapshot");
async function report(label) {
  const pid = runtimePid(stack.stackId);
  const m = memory(pid);
  const heap = await heapUsage(PORT + 1000).catch(() => null);
  await takeHeapSnapshot(PORT + 1000, snapshotFile);
  const retained = summarizeSnapshot(readFileSync(snapshotFile, "utf8")).totalMiB;
  console.log(
    `${label.padEnd(46)} RSS ${m.rss.toFixed(0).padStart(5)}  anon ${m.anon.toFixed(0).padStart(5)}  file ${m.file.toFixed(0).padStart(4)}  heap used ${heap ? heap.usedMiB.toFixed(1).padStart(5) : "    –"}  retained ${retained.toFixed(1).padStart(5)} MiB`,
  );
}

let serial = 0;
async function ingest(customers, events) {
  const batches = Math.ceil(events / BATCH);
  let next = 0;
  let failed = 0;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (next < batches) {
        next++;
        const res = await sendEvents(
          stack.url,
          tenant.ingestKey,
          makeBatch(`m${serial++}`, BATCH, customers),
          ingestPath,
        );
        if (!res.ok) failed++;
      }
    }),
  );
  if (failed) console.log(`  (${failed} batches failed)`);
}

let tenant;
try {
  tenant = await seedLoadTenant(stack.url, adminToken, { name: "Probe", customers: 100 });
  const first = tenant.customers.slice(0, 50);
  const second = tenant.customers.slice(50);
  console.log(
    `\nMemory probe — ${args.bare ? "BARE runtime (raw insert, ping)" : "the app"}; runtime workerd pid ${runtimePid(stack.stackId)}`,
  );
  await report("started, tenant seeded (100 customers)");
  await ingest(first, EVENTS);
  await report(`+${EVENTS} events to 50 customers`);
  await ingest(first, EVENTS);
  await report(`+${EVENTS} more to the same 50`);
  await ingest(second, EVENTS);
  await report(`+${EVENTS} to 50 other customers`);
  for (let i = 0; i < 5_600; ) {
    await Promise.all(
      Array.from({ length: 8 }, () =>
        gateCall(stack.url, tenant.ingestKey, first[i++ % 50], gatePath),
      ),
    );
  }
  await report("+5,600 gate calls to the first 50");
  await sleep(Number(args.idle) * 1000);
  await report(`idle ${args.idle} s`);
} finally {
  await stack.stop();
  rmSync(persistTo, { recursive: true, force: true });
}
