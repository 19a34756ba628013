#!/usr/bin/env node
import { mkdtempSync, rmSync } from "node:fs";
// `npm run bench:gate` — the gate on the embedded default (SPEC §10): p50/p99 latency of
// POST /v1/gate at 4 concurrent connections, and throughput at 50 next to a bare Worker → DO RPC
// round trip (same auth, same routing, the actor only answers) measured in the same run. The
// floor of the embedding is measured too: GET /healthz, a plain Worker response (no key, no
// actor), through the same `wrangler dev`.
import { Agent, request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { applyMigrations, ensureDevVars, request, startWrangler } from "./lib/stack.mjs";

const PORT = Number(process.env.BENCH_PORT ?? 8793);
const CUSTOMERS = 50;
const LATENCY_REQUESTS = Number(process.env.BENCH_LATENCY_REQUESTS ?? 4000);
const THROUGHPUT_SECONDS = Number(process.env.BENCH_SECONDS ?? 8);

const persistTo = mkdtempSync(join(tmpdir(), "aforo-bench-gate-"));
const { adminToken } = ensureDevVars();
applyMigrations(persistTo, true);
const stack = await startWrangler({
  port: PORT,
  persistTo,
  quiet: true,
  bench: true,
});

/** POST with a JSON body, or GET when there is no key (the plain-response floor). */
function post(agent, path, key, body) {
  const payload = key ? JSON.stringify(body) : "";
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: "127.0.0.1",
        port: PORT,
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

async function latency(path, key, concurrency, total) {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const samples = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        const started = process.hrtime.bigint();
        await post(agent, path, key, { customer: `c${i % CUSTOMERS}`, units: 1 });
        samples.push(Number(process.hrtime.bigint() - started) / 1e6);
      }
    }),
  );
  agent.destroy();
  samples.sort((a, b) => a - b);
  const pct = (p) => samples[Math.min(samples.length - 1, Math.floor((p / 100) * samples.length))];
  return { p50: pct(50), p99: pct(99) };
}

async function throughput(path, key, concurrency, seconds) {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const deadline = performance.now() + seconds * 1000;
  let done = 0;
  let i = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        await post(agent, path, key, { customer: `c${i++ % CUSTOMERS}`, units: 1 });
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
  // Warm every actor and the code paths.
  await latency("/v1/gate", key, 4, 500);
  await latency("/v1/bench/ping", key, 4, 500);
  await latency("/healthz", null, 4, 500);

  const lat = await latency("/v1/gate", key, 4, LATENCY_REQUESTS);
  const floor = await latency("/v1/bench/ping", key, 4, LATENCY_REQUESTS);
  const plain = await latency("/healthz", null, 4, LATENCY_REQUESTS);
  const single = await latency("/v1/gate", key, 1, 1000);
  const gateRates = [];
  const pingRates = [];
  for (let r = 0; r < 2; r++) {
    pingRates.push(await throughput("/v1/bench/ping", key, 50, THROUGHPUT_SECONDS));
    gateRates.push(await throughput("/v1/gate", key, 50, THROUGHPUT_SECONDS));
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const gateRate = median(gateRates);
  const pingRate = median(pingRates);
  const fmt = (n) => Math.round(n).toLocaleString("en-US");
  console.log(`
Gate benchmark — ${CUSTOMERS} customers, loopback, load generator on the same machine
  latency at 4 connections (${fmt(LATENCY_REQUESTS)} requests):  p50 ${lat.p50.toFixed(2)} ms   p99 ${lat.p99.toFixed(2)} ms   (target p99 < 5 ms)
    same, bare Worker → DO RPC:                p50 ${floor.p50.toFixed(2)} ms   p99 ${floor.p99.toFixed(2)} ms
    same, plain Worker response (/healthz):    p50 ${plain.p50.toFixed(2)} ms   p99 ${plain.p99.toFixed(2)} ms   (the embedding's floor)
    gate at 1 connection:                      p50 ${single.p50.toFixed(2)} ms   p99 ${single.p99.toFixed(2)} ms
  throughput at 50 connections:  gate ${fmt(gateRate)} req/s [${gateRates.map(fmt).join(", ")}]
                                  bare Worker → DO RPC ${fmt(pingRate)} req/s [${pingRates.map(fmt).join(", ")}]
  ratio:                          ${(gateRate / pingRate).toFixed(2)}   (target ≥ 0.80)
`);
} finally {
  await stack.stop();
  rmSync(persistTo, { recursive: true, force: true });
}
