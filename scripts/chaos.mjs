#!/usr/bin/env node
// `npm run chaos` — fault injection against a real local stack (issue 11; SPEC §10: no accepted
// event lost across actor eviction, consumer crash and redelivery, or restart; no rollup counted
// twice). Each fault runs on a stack of its own (fresh state, a tenant seeded through the API, one
// frozen build of the deploy bundle for all of them) while clients send events and retry, with
// the same ids, until the stack acknowledges them. Then the fan-out drains and the D1 rollups are
// read back through the API, per customer, and so are the events stored in the customers'
// actors (the drill-down). Per fault:
//   sent          distinct events the clients sent
//   acknowledged  distinct events the stack answered as accepted or duplicate
//   in rollups    events the D1 rollups count (GET /api/rollups, once stable)
//   lost          acknowledged but missing from the rollups (per customer) or from the actors
//   double        counted more than once (rollups, or actors, above what was acknowledged)
// Exit code 1 when any lost or double is not 0.
//
// The faults (what is real locally, and what was used):
//   eviction  the runtime workerd killed with SIGKILL while wrangler's proxy survives (wrangler
//             starts a new one), three times mid-ingest, and once a code reload (the bundle
//             changes: every actor is evicted, as by a deploy) — actors lose their memory and any
//             call in flight, storage keeps what committed
//   consumer  the events consumer crashes after its rollup transaction committed, before the ack
//             (AFORO_CHAOS_CONSUMER_CRASH_ATTEMPTS=1, workers/chaos.ts): every batch is written,
//             crashed and delivered again
//   storm     redelivery storm: every queue batch delivered 6 times (the consumer crashes after
//             the write on attempts 1–5), and every client batch sent 4 times, 3 of them at once
//   kill      kill -9 of the whole stack (watchdog, wrangler, both workerd) twice mid-ingest; it
//             starts again on the same state while the clients keep retrying
//   webhook   an alert webhook receiver down for two hours: signals (MarginGuard) are delivered to
//             a receiver that drops every connection for 2 h of the delivery schedule's time,
//             then accepts; time runs 240× faster for the retry schedule only
//             (AFORO_CHAOS_TIME_SCALE=240: 2 h = 30 s, backoff 30 s…1 h → 1 s…15 s); every
//             delivery must arrive exactly once by its webhook-id
//
//   --only eviction,kill …   run some faults · --events N (20000 per fault) · --port N (8880)
import { appendFileSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  drainedRollups,
  makeBatch,
  ROLLUPS_FROM,
  seedLoadTenant,
  sendEvents,
  sendUntilAcknowledged,
  sleep,
  storedEvents,
} from "./lib/load.mjs";
import { runtimePid } from "./lib/processes.mjs";
import {
  applyMigrations,
  ensureDevVars,
  frozenConfig,
  request,
  startWrangler,
} from "./lib/stack.mjs";

const { values: args } = parseArgs({
  options: {
    only: { type: "string" },
    events: { type: "string", default: "20000" },
    port: { type: "string", default: "8880" },
  },
});
const EVENTS = Number(args.events);
const PORT = Number(args.port);
const BATCH = 100;
const CLIENTS = 4;
const CUSTOMERS = 20;
const DELIVERY_TIME_SCALE = 240;
const OUTAGE_SIMULATED_MS = 2 * 3_600_000;

const { adminToken } = ensureDevVars();
console.log("Building the deploy bundle once for every fault (wrangler deploy --dry-run)…");
const frozen = frozenConfig();

/** A stack of its own for one fault; `restart` starts it again on the same state. */
async function faultStack(vars = {}) {
  const persistTo = mkdtempSync(join(tmpdir(), "aforo-chaos-"));
  applyMigrations(persistTo, true);
  const start = () =>
    startWrangler({ port: PORT, persistTo, quiet: true, config: frozen.file, vars });
  let stack = await start();
  const tenant = await seedLoadTenant(stack.url, adminToken, {
    name: "Chaos",
    customers: CUSTOMERS,
  });
  return {
    tenant,
    get stack() {
      return stack;
    },
    async restart() {
      stack = await start();
    },
    async close() {
      await stack.stop();
      rmSync(persistTo, { recursive: true, force: true });
    },
  };
}

/**
 * Clients that send `EVENTS` events in batches and retry each batch (same ids) until it is
 * acknowledged. `resend` extra copies of each batch are sent too (concurrently with the first,
 * and once more after it was acknowledged). `onProgress(fraction)` lets a fault strike mid-run.
 */
async function ingestWithRetries(f, { resend = 0, onProgress = async () => {} } = {}) {
  const batches = Math.ceil(EVENTS / BATCH);
  const acked = new Map(); // customer → events acknowledged (distinct ids)
  let next = 0;
  let done = 0;
  let duplicates = 0;
  let retries = 0;
  let sent = 0;
  const url = () => f.stack.url;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (next < batches) {
        const n = next++;
        const batch = makeBatch(`chaos-${n}`, BATCH, f.tenant.customers);
        sent += batch.length;
        const copies = Array.from({ length: resend }, () =>
          sendEvents(url(), f.tenant.ingestKey, batch),
        );
        const res = await sendUntilAcknowledged(url, f.tenant.ingestKey, batch, {
          timeoutMs: 300_000,
        });
        const extra = await Promise.all(copies);
        if (resend > 0) {
          const again = await sendUntilAcknowledged(url, f.tenant.ingestKey, batch);
          duplicates += again.duplicates;
        }
        duplicates += res.duplicates + extra.reduce((s, r) => s + r.duplicates, 0);
        retries += res.attempts - 1;
        for (const e of batch) acked.set(e.customer, (acked.get(e.customer) ?? 0) + 1);
        done++;
        await onProgress(done / batches);
      }
    }),
  );
  return { sent, acked, duplicates, retries };
}

/** Compares what was acknowledged with the drained rollups, per customer. */
async function books(f, acked, sent, notes) {
  const expected = [...acked.values()].reduce((s, n) => s + n, 0);
  const { total, counts, error } = await drainedRollups(
    f.stack.url,
    f.tenant.operatorToken,
    expected,
    {
      timeoutMs: 240_000,
      stableMs: 8_000,
    },
  );
  let lost = 0;
  let double = 0;
  for (const c of new Set([...acked.keys(), ...counts.keys()])) {
    const a = acked.get(c) ?? 0;
    const r = counts.get(c) ?? 0;
    if (r < a) lost += a - r;
    if (r > a) double += r - a;
  }
  if (error) notes = `${notes}; the last rollups read failed: ${error}`;
  // The actors' own copy too: every acknowledged event stored once (the drill-down).
  const stored = await storedEvents(f.stack.url, f.tenant.operatorToken, [...acked.keys()]);
  if (stored < expected) lost = Math.max(lost, expected - stored);
  if (stored > expected) double = Math.max(double, stored - expected);
  notes = `${notes}${notes ? "; " : ""}${stored.toLocaleString("en-US")} stored in the actors`;
  return { sent, acknowledged: expected, inRollups: total, lost, double, notes };
}

const FAULTS = {
  async eviction() {
    const f = await faultStack();
    const kills = [];
    let reloaded = false;
    const bundleDir = join(frozen.dir, "worker");
    const bundle = join(bundleDir, readdirSync(bundleDir).find((n) => n.endsWith(".js")) ?? "");
    const strikes = [0.2, 0.45, 0.7];
    try {
      const run = await ingestWithRetries(f, {
        onProgress: async (p) => {
          if (strikes.length > 0 && p >= (strikes[0] ?? 1)) {
            strikes.shift();
            const pid = runtimePid(f.stack.stackId);
            if (pid) {
              process.kill(pid, "SIGKILL");
              kills.push(pid);
            }
          } else if (!reloaded && p >= 0.85) {
            reloaded = true;
            // A changed bundle: wrangler reloads the runtime with it, evicting every actor.
            appendFileSync(bundle, `\n// chaos reload ${Date.now()}\n`);
          }
        },
      });
      const after = runtimePid(f.stack.stackId);
      return await books(
        f,
        run.acked,
        run.sent,
        `runtime workerd killed ${kills.length}× (pids ${kills.join(", ")} → ${after}) + 1 code reload; ${run.retries} batch retries`,
      );
    } finally {
      await f.close();
    }
  },

  async consumer() {
    const f = await faultStack({ AFORO_CHAOS_CONSUMER_CRASH_ATTEMPTS: "1" });
    try {
      const run = await ingestWithRetries(f);
      const result = await books(f, run.acked, run.sent, "");
      const crashes = (f.stack.output().match(/chaos: consumer crash/g) ?? []).length;
      // Counted in wrangler's last 20 KB of output: a floor.
      result.notes = `consumer crashed after the D1 write on the first delivery of every queue batch (≥ ${crashes} crashes in the log); ${result.notes}`;
      return result;
    } finally {
      await f.close();
    }
  },

  async storm() {
    const f = await faultStack({ AFORO_CHAOS_CONSUMER_CRASH_ATTEMPTS: "5" });
    try {
      const run = await ingestWithRetries(f, { resend: 3 });
      const result = await books(f, run.acked, run.sent, "");
      const crashes = (f.stack.output().match(/chaos: consumer crash/g) ?? []).length;
      result.notes = `each queue batch delivered 6× (crash after the write on attempts 1–5; ≥ ${crashes} in the log); each client batch sent 4×: ${run.duplicates.toLocaleString("en-US")} events answered as duplicates; ${result.notes}`;
      return result;
    } finally {
      await f.close();
    }
  },

  async kill() {
    const f = await faultStack();
    const strikes = [0.3, 0.65];
    let restarting = null;
    try {
      const run = await ingestWithRetries(f, {
        onProgress: async (p) => {
          if (restarting || strikes.length === 0 || p < (strikes[0] ?? 1)) return;
          strikes.shift();
          // The whole stack dies at once; the clients keep retrying against the dead port
          // while it comes back on the same state.
          restarting = (async () => {
            await f.stack.stop("SIGKILL");
            await sleep(1_000);
            await f.restart();
            restarting = null;
          })();
        },
      });
      while (restarting) await restarting;
      return await books(
        f,
        run.acked,
        run.sent,
        `2× kill -9 of the whole stack mid-ingest, restarted on the same state; ${run.retries} batch retries`,
      );
    } finally {
      await f.close();
    }
  },

  async webhook() {
    const f = await faultStack({ AFORO_CHAOS_TIME_SCALE: String(DELIVERY_TIME_SCALE) });
    const received = new Map(); // webhook-id → [{answered, at}]
    let downUntil = Number.POSITIVE_INFINITY; // real ms; set at the first attempt
    let firstAttempt = 0;
    const receiver = createServer((req, res) => {
      const id = String(req.headers["webhook-id"] ?? "");
      const now = Date.now();
      if (!firstAttempt) {
        firstAttempt = now;
        downUntil = now + OUTAGE_SIMULATED_MS / DELIVERY_TIME_SCALE;
      }
      const down = now < downUntil;
      received.set(id, [...(received.get(id) ?? []), { answered: down ? "reset" : 200, at: now }]);
      req.resume();
      if (down)
        req.socket.destroy(); // not there: the connection drops without an answer
      else req.on("end", () => res.writeHead(200).end("ok"));
    });
    await new Promise((r) => receiver.listen(0, "127.0.0.1", r));
    const hookUrl = `http://127.0.0.1:${receiver.address().port}/hook`;
    try {
      const op = { token: f.tenant.operatorToken };
      await request(`${f.stack.url}/api/channels`, {
        method: "POST",
        ...op,
        body: { type: "webhook", name: "ops", url: hookUrl },
      });
      // Every alert its own delivery (the alert budget would fold most of this burst into one
      // digest): the fault is about each delivery's retries across the outage.
      await request(`${f.stack.url}/api/deliveries/budget`, {
        method: "PUT",
        ...op,
        body: { max_per_window: 1000, window_seconds: 600, digest_delay_seconds: 60 },
      });
      // One event per customer whose cost dwarfs its revenue: MarginGuard fires L1, L2 and L3.
      const hour = new Date(Date.now() - 3_600_000).toISOString();
      const events = f.tenant.customers.map((c, i) => ({
        id: `costly-${i}`,
        customer: c,
        product: "chat-api",
        metric: "input_tokens",
        quantity: 1000,
        time: hour,
        cost: { usd: 5000 },
      }));
      const sent = await sendUntilAcknowledged(f.stack.url, f.tenant.ingestKey, events);
      // One delivery per signal (one channel), written in the signal's own transaction.
      let expectedDeliveries = 0;
      // Until every delivery is delivered (or dead), then a while longer for late copies.
      const deadline = Date.now() + 300_000;
      let rows = [];
      for (;;) {
        rows = await listAll(f.stack.url, op.token, "/api/deliveries");
        expectedDeliveries = (await listAll(f.stack.url, op.token, "/api/signals")).length;
        const settled = rows.filter((d) => d.status !== "pending").length;
        if (rows.length > 0 && rows.length >= expectedDeliveries && settled === rows.length) break;
        if (Date.now() > deadline) break;
        await sleep(1_000);
      }
      await sleep(15_000);
      rows = await listAll(f.stack.url, op.token, "/api/deliveries");
      const ok = (id) => (received.get(id) ?? []).filter((r) => r.answered === 200).length;
      const delivered = rows.filter((d) => d.status === "delivered" && ok(d.id) === 1).length;
      const double = rows.reduce((s, d) => s + Math.max(0, ok(d.id) - 1), 0);
      const strays = [...received.keys()].filter((id) => !rows.some((d) => d.id === id)).length;
      const during = rows.map(
        (d) => (received.get(d.id) ?? []).filter((r) => r.answered === "reset").length,
      );
      const eventsBooks = await books(
        f,
        new Map(events.map((e) => [e.customer, 1])),
        events.length,
        "",
      );
      const simulatedMin = ((downUntil - firstAttempt) * DELIVERY_TIME_SCALE) / 60_000;
      return {
        sent: rows.length,
        acknowledged: [...received.keys()].filter((id) => ok(id) > 0).length,
        inRollups: delivered,
        lost:
          rows.length -
          delivered +
          Math.max(0, expectedDeliveries - rows.length) +
          eventsBooks.lost,
        double: double + strays + eventsBooks.double,
        notes: `deliveries (not events): ${rows.length} for the ${expectedDeliveries} signals of ${sent.accepted} costly events, receiver down ${simulatedMin.toFixed(0)} simulated min (${((downUntil - firstAttempt) / 1000).toFixed(0)} s real at ${DELIVERY_TIME_SCALE}×), ${Math.min(...during)}–${Math.max(...during)} refused attempts each, then delivered; "in rollups" = delivered exactly once by webhook-id; the ${events.length} events: ${eventsBooks.inRollups} in rollups`,
      };
    } finally {
      receiver.close();
      await f.close();
    }
  },
};

/** Every item of a paged list (`{data, next_cursor}`). */
async function listAll(url, token, path) {
  const all = [];
  let cursor = "";
  do {
    const page = await request(
      `${url}${path}${path.includes("?") ? "&" : "?"}limit=200${cursor ? `&cursor=${cursor}` : ""}`,
      { token },
    );
    all.push(...page.data);
    cursor = page.next_cursor ?? "";
  } while (cursor);
  return all;
}

const chosen = args.only ? args.only.split(",").map((s) => s.trim()) : Object.keys(FAULTS);
for (const name of chosen) {
  if (!(name in FAULTS))
    throw new Error(`unknown fault '${name}' (${Object.keys(FAULTS).join(", ")})`);
}
const results = [];
try {
  for (const name of chosen) {
    const started = Date.now();
    process.stdout.write(`fault ${name}… `);
    try {
      const r = await FAULTS[name]();
      results.push({ name, ...r, seconds: (Date.now() - started) / 1000 });
      console.log(
        `${r.lost === 0 && r.double === 0 ? "ok" : "FAILED"} (${((Date.now() - started) / 1000).toFixed(0)} s)`,
      );
    } catch (err) {
      console.log(`ERROR: ${err instanceof Error ? err.message : String(err)}`);
      results.push({ name, error: err instanceof Error ? err.message : String(err) });
    }
  }
} finally {
  rmSync(frozen.dir, { recursive: true, force: true });
}

const n = (x) => (typeof x === "number" ? x.toLocaleString("en-US") : "–");
console.log(`
Fault injection — ${EVENTS.toLocaleString("en-US")} events per fault in batches of ${BATCH} from ${CLIENTS} retrying clients, ${CUSTOMERS} customers (rollups since ${ROLLUPS_FROM.slice(0, 10)})
${"fault".padEnd(10)} ${"sent".padStart(8)} ${"acked".padStart(8)} ${"in rollups".padStart(11)} ${"lost".padStart(6)} ${"double".padStart(7)}  what happened`);
for (const r of results) {
  console.log(
    r.error
      ? `${r.name.padEnd(10)} ERROR ${r.error}`
      : `${r.name.padEnd(10)} ${n(r.sent).padStart(8)} ${n(r.acknowledged).padStart(8)} ${n(r.inRollups).padStart(11)} ${n(r.lost).padStart(6)} ${n(r.double).padStart(7)}  ${r.notes}`,
  );
}
console.log("(2-core machine shared with other engineers' work; times vary with their load)");
const failed = results.some((r) => r.error || r.lost !== 0 || r.double !== 0);
process.exit(failed ? 1 : 0);
