#!/usr/bin/env node
// `npm run bench:read` — dashboard read latency at scale (SPEC §10: each cockpit/margin API call
// under 100 ms p95 with 10,000 customers × 90 days).
// Generates the data set (scripts/generate-scale-data.mjs) into its own temp state dir, starts
// `wrangler dev` on it, lets the periodic job's work happen once (cockpit snapshot, margin read
// models), then times sequential HTTP requests on loopback and prints p50/p95 per endpoint.
//
//   AFORO_SCALE_DIR=/path   reuse (or create and keep) a generated data set
//   BENCH_PORT (8801) · BENCH_REQUESTS (200 per endpoint) · SCALE_CUSTOMERS (10000)
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateScaleData } from "./generate-scale-data.mjs";
import { startWrangler } from "./lib/stack.mjs";

const PORT = Number(process.env.BENCH_PORT ?? 8801);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 200);
const keep = process.env.AFORO_SCALE_DIR;
const persistTo = keep ?? mkdtempSync(join(tmpdir(), "aforo-bench-read-"));
const keysFile = join(persistTo, "aforo-scale.json");

const started = Date.now();
const keys = existsSync(keysFile)
  ? JSON.parse(readFileSync(keysFile, "utf8"))
  : await generateScaleData({ persistTo, port: PORT - 1 });
const generatedIn = (Date.now() - started) / 1000;

const stack = await startWrangler({ port: PORT, persistTo, quiet: true });
const token = keys.operator_token;

async function timed(path, method = "GET") {
  const t0 = performance.now();
  const res = await fetch(`${stack.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}` },
  });
  const body = await res.text();
  const ms = performance.now() - t0;
  if (!res.ok) throw new Error(`${path}: ${res.status} ${body.slice(0, 500)}`);
  return { ms, body };
}

const pct = (sorted, p) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

try {
  // The periodic job's work, once (it also runs on the tenant clock every 5 minutes).
  const refresh = await timed("/api/metrics/refresh", "POST");
  // The floor of the local stack: an unauthenticated route that does nothing.
  const BASELINE = "/healthz";
  const ENDPOINTS = [
    "/api/metrics/cockpit",
    "/api/margin/products?days=30",
    "/api/margin/customers?days=30",
    "/api/margin/products?days=90",
    "/api/margin/customers?days=90&unprofitable=true",
    "/api/margin/customers?days=60&segment=growth&sort=margin_pct&order=asc",
  ];
  for (const path of [BASELINE, ...ENDPOINTS]) for (let i = 0; i < 5; i++) await timed(path); // warm-up
  const results = [];
  for (const path of [BASELINE, ...ENDPOINTS]) {
    const times = [];
    let bytes = 0;
    for (let i = 0; i < REQUESTS; i++) {
      const { ms, body } = await timed(path);
      times.push(ms);
      bytes = body.length;
    }
    times.sort((a, b) => a - b);
    results.push({ path, p50: pct(times, 50), p95: pct(times, 95), p99: pct(times, 99), bytes });
  }
  // A sample of what was served, to show the data set is realistic.
  const cockpit = JSON.parse((await timed("/api/metrics/cockpit")).body);
  const customers = JSON.parse((await timed("/api/margin/customers?days=30")).body);

  const f = (n) => n.toFixed(1).padStart(7);
  console.log(`
Read benchmark — ${keys.customers.toLocaleString("en-US")} customers × ${keys.days} days (${keys.rollup_rows.toLocaleString("en-US")} daily rollup rows, ${keys.invoices.toLocaleString("en-US")} invoices), ${REQUESTS} sequential requests per endpoint on loopback
  data set ${existsSync(keysFile) && generatedIn < 5 ? "reused" : `generated in ${generatedIn.toFixed(0)} s`}; periodic job (cockpit snapshot + margin read models): ${(refresh.ms / 1000).toFixed(1)} s
  MRR ${cockpit.mrr.value} (committed ${cockpit.mrr.committed}, usage ${cockpit.mrr.usage}), ${cockpit.active_subscriptions.value} active subscriptions, ${cockpit.outstanding_invoices.count} outstanding invoices; ${customers.totals.unprofitable_customers} customers cost more than they pay

  endpoint                                                              p50 ms   p95 ms   p99 ms   bytes
${results.map((r) => `  ${r.path.padEnd(68)}${f(r.p50)}  ${f(r.p95)}  ${f(r.p99)}  ${String(r.bytes).padStart(6)}`).join("\n")}
  (${BASELINE}: the stack's own floor, wrangler dev's proxy and workerd, for comparison)
  target: p95 < 100 ms   ${results.every((r) => r.p95 < 100) ? "met" : "NOT met"}
`);
} finally {
  await stack.stop();
  if (!keep) rmSync(persistTo, { recursive: true, force: true });
}
