#!/usr/bin/env node
// `npm run bench:gate` — the gate on the embedded default (SPEC §10): p50/p99 latency of
// POST /v1/gate at 4 concurrent connections, and throughput at 50 next to a bare Worker → DO RPC
// round trip (same auth, same routing, the actor only answers) measured in the same run. The
// floor of the embedding is measured too: GET /healthz, a plain Worker response (no key, no
// actor), through the same `wrangler dev`.
//
// `npm run bench:gate -- --direct` runs the same worker on bare workerd through Miniflare's API
// (scripts/lib/miniflare-stack.mjs: wrangler's bundle and wrangler.toml's bindings, no
// `wrangler dev` proxy in front of the runtime) and measures on Miniflare's own HTTP server,
// where the gate's target is p99 < 5 ms at 4 connections and within 10 % of the bare round trip
// (SPEC §10). It also measures the same paths on a socket straight into the worker (without
// Miniflare's entry worker) and workerd's CPU per request, so the floor can be told apart from
// the gate. `--no-assets` leaves out wrangler.toml's static assets (and so the assets router
// Miniflare runs in front of the worker; /v1/* never reaches the assets).
import { mkdtempSync, rmSync } from "node:fs";
import { Agent, request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startMiniflare } from "./lib/miniflare-stack.mjs";
import { applyMigrations, ensureDevVars, request, startWrangler } from "./lib/stack.mjs";

const DIRECT = process.argv.includes("--direct");
const ASSETS = !process.argv.includes("--no-assets");
const PORT = Number(process.env.BENCH_PORT ?? (DIRECT ? 8794 : 8793));
const CUSTOMERS = Number(process.env.BENCH_CUSTOMERS ?? 50); // 1: one hot customer
const LATENCY_REQUESTS = Number(process.env.BENCH_LATENCY_REQUESTS ?? 4000);
/** Latency is measured in rounds that alternate the paths, so a burst of load from anything
 * else on the machine falls on all of them alike rather than on whichever ran then. */
const LATENCY_ROUNDS = 4;
const THROUGHPUT_SECONDS = Number(process.env.BENCH_SECONDS ?? 8);

const persistTo = mkdtempSync(join(tmpdir(), "aforo-bench-gate-"));
const { adminToken } = ensureDevVars();
let stack;
if (DIRECT) {
  stack = await startMiniflare({ port: PORT, directPort: PORT + 1, persistTo, assets: ASSETS });
} else {
  applyMigrations(persistTo, true);
  stack = await startWrangler({ port: PORT, persistTo, quiet: true, bench: true });
}
const front = { port: PORT };
const direct = { port: PORT + 1 };

/** POST with a JSON body, or GET when there is no key (the plain-response floor). */
function post(agent, port, path, key, body) {
  const payload = key ? JSON.stringify(body) : "";
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: "127.0.0.1",
        port,
        path,
        method: key ? "POST" : "GET",
        agent,
        headers: key
          ? {
              authorization: `Bearer ${key}`,
              "content-type": "application/json",
              "content-length": Buffer.byteLength(payload),
            }
          : {},
      },
      (res) => {
        let text = "";
        res.on("data", (d) => {
          text += d;
        });
        res.on("end", () =>
          res.statusCode === 200 ? resolve(text) : reject(new Error(`${res.statusCode} ${text}`)),
        );
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

/** Latency samples (ms) of `total` requests from `concurrency` keep-alive connections. */
async function latencySamples({ port, path, key }, concurrency, total) {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const samples = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        const started = process.hrtime.bigint();
        await post(agent, port, path, key, { customer: `c${i % CUSTOMERS}`, units: 1 });
        samples.push(Number(process.hrtime.bigint() - started) / 1e6);
      }
    }),
  );
  agent.destroy();
  return samples;
}

function percentiles(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const pct = (p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
  return { p50: pct(50), p99: pct(99) };
}

const latency = async (target, concurrency, total) =>
  percentiles(await latencySamples(target, concurrency, total));

/** p50/p99 (and workerd CPU µs per request, when known) of each target over LATENCY_ROUNDS
 * rounds, the order rotating each round. */
async function interleavedLatency(targets, concurrency, total) {
  const samples = targets.map(() => []);
  const cpuMs = targets.map(() => 0);
  for (let r = 0; r < LATENCY_ROUNDS; r++) {
    for (let k = 0; k < targets.length; k++) {
      const i = (k + r) % targets.length;
      const cpuBefore = stack.cpuMs?.() ?? 0;
      samples[i].push(
        ...(await latencySamples(targets[i], concurrency, Math.ceil(total / LATENCY_ROUNDS))),
      );
      cpuMs[i] += (stack.cpuMs?.() ?? 0) - cpuBefore;
    }
  }
  return samples.map((s, i) => ({
    ...percentiles(s),
    cpuUs: stack.cpuMs ? (cpuMs[i] * 1000) / s.length : null,
  }));
}

async function throughput({ port, path, key }, concurrency, seconds) {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const deadline = performance.now() + seconds * 1000;
  let done = 0;
  let i = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        await post(agent, port, path, key, { customer: `c${i++ % CUSTOMERS}`, units: 1 });
        done++;
      }
    }),
  );
  agent.destroy();
  return done / ((performance.now() - started) / 1000);
}

try {
  const tenant = await request(`${stack.url}/admin/tenants`, {
    method: "POST",
    token: adminToken,
    body: { name: "Gate bench" },
  });
  // A generous rate so the gate answers "allow" for the whole run (the decision path is the same).
  await request(`${stack.url}/api/policies`, {
    method: "PUT",
    token: tenant.operator_token,
    body: { policy: { gate: { rate_per_second: 1e6, burst: 1e6, throttled_rate_per_second: 10 } } },
  });
  const key = tenant.ingest_key;
  const paths = (on) => [
    { ...on, path: "/v1/gate", key },
    { ...on, path: "/v1/bench/ping", key },
    { ...on, path: "/healthz", key: null },
  ];
  const targets = [...paths(front), ...(DIRECT ? paths(direct) : [])];
  // Warm every actor and the code paths.
  for (const target of targets) await latency(target, 4, 500);

  const measured = await interleavedLatency(targets, 4, LATENCY_REQUESTS);
  const [gateLat, pingLat, plainLat] = measured;
  const single = await latency(targets[0], 1, 1000);
  const gateRates = [];
  const pingRates = [];
  for (let r = 0; r < 2; r++) {
    pingRates.push(await throughput(targets[1], 50, THROUGHPUT_SECONDS));
    gateRates.push(await throughput(targets[0], 50, THROUGHPUT_SECONDS));
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const gateRate = median(gateRates);
  const pingRate = median(pingRates);
  const fmt = (n) => Math.round(n).toLocaleString("en-US");
  const ms = (n) => `${n.toFixed(2)} ms`.padStart(8);
  const row = (label, m, note = "") =>
    `    ${label.padEnd(38)} p50 ${ms(m.p50)}   p99 ${ms(m.p99)}${
      m.cpuUs === null ? "" : `   workerd CPU ${fmt(m.cpuUs).padStart(5)} µs/request`
    }${note ? `   ${note}` : ""}`;
  const where = DIRECT
    ? `bare workerd via Miniflare (no wrangler dev proxy${ASSETS ? "" : ", no assets router"})`
    : "wrangler dev (a proxy workerd in front of the runtime)";
  const lines = [
    "",
    `Gate benchmark — ${where}, ${CUSTOMERS} customers, loopback, load generator on the same machine`,
    `  latency at 4 connections (${fmt(LATENCY_REQUESTS)} requests each, ${LATENCY_ROUNDS} alternating rounds)${DIRECT ? ", on Miniflare's HTTP server:" : ":"}`,
    row("gate", gateLat, "(target p99 < 5 ms)"),
    row("bare Worker → DO RPC", pingLat),
    row("plain Worker response (/healthz)", plainLat, "(the embedding's floor)"),
  ];
  if (DIRECT) {
    const [g, p, h] = measured.slice(3);
    lines.push(
      `    gate against the bare round trip:      p99 ×${(gateLat.p99 / pingLat.p99).toFixed(2)} (target ≤ 1.10)   p50 ×${(gateLat.p50 / pingLat.p50).toFixed(2)}`,
      "  same, on a socket straight into the worker (no Miniflare entry worker in between):",
      row("gate", g),
      row("bare Worker → DO RPC", p),
      row("plain Worker response (/healthz)", h),
      `    gate against the bare round trip:      p99 ×${(g.p99 / p.p99).toFixed(2)}   p50 ×${(g.p50 / p.p50).toFixed(2)}`,
    );
  }
  lines.push(
    `  gate at 1 connection:                    p50 ${ms(single.p50)}   p99 ${ms(single.p99)}`,
    `  throughput at 50 connections:  gate ${fmt(gateRate)} req/s [${gateRates.map(fmt).join(", ")}]`,
    `                                  bare Worker → DO RPC ${fmt(pingRate)} req/s [${pingRates.map(fmt).join(", ")}]`,
    `  ratio:                          ${(gateRate / pingRate).toFixed(2)}   (target ≥ 0.80)`,
    "",
  );
  console.log(lines.join("\n"));
} finally {
  await stack.stop();
  rmSync(persistTo, { recursive: true, force: true });
}
