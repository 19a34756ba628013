#!/usr/bin/env node
// `npm run bench:reports` — report template latency at scale (issue 15 item 9: every template's
// p50/p95 over HTTP with 10,000 customers × 90 days, next to /healthz in the same run; target
// p95 < 300 ms for each template).
// Generates the data set (scripts/generate-scale-data.mjs) into its own temp state dir, starts
// `wrangler dev` on it, reads the templates from the first page of GET /api/reports (entries with
// `template` set carry a ready query, relative range resolved now), then times sequential
// `POST /api/reports/run` per template on loopback, and one GET /api/reports/run.csv of the
// template that returns the most rows.
//
// What the data set holds (so read the row counts honestly): customers, subscriptions with plan
// changes, ~6 months of invoices (paid, open, overdue), a few hundred open signals, and 90 days of
// DAILY rollups (and their tenant-level sums, and those by provider × model). Hourly rollups only
// for a subset: this script asks the generator for the first SCALE_HOURLY_CUSTOMERS (default 100)
// customers' last SCALE_HOURLY_DAYS (default 30) days, so the templates that read hourly rollups
// (a `plan` or `hour_of_week` dimension, hour buckets; the tenant's hourly sums are of that
// slice too) scan far less data than the daily ones and see only that slice. No cases, no
// deliveries: those templates answer zero rows (they time the query path, not a heavy scan).
// The tenant is in UTC unless SCALE_TIME_ZONE names another zone; there a usage statement also
// reads the partial UTC days at its range's edges (hours, or a day's row less some hours) from
// the hourly rollups, which with the default slice hold only the first customers' usage, so time
// a non-UTC zone with hourly rollups for every customer at the edges: SCALE_TIME_ZONE=
// Europe/Madrid SCALE_HOURLY_CUSTOMERS=10000 SCALE_HOURLY_DAYS=2 (the ranges end today; their
// first local hour, 23:00 UTC 30 or 90 days ago, is left empty in the hourly table).
//
//   AFORO_SCALE_DIR=/path   reuse (or create and keep) a generated data set
//   BENCH_PORT (8803) · BENCH_REQUESTS (50 per template) · SCALE_CUSTOMERS (10000)
//   SCALE_HOURLY_CUSTOMERS (100) · SCALE_HOURLY_DAYS (30) · SCALE_TIME_ZONE (UTC)
//   BENCH_TEMPLATES=customer_health_scorecard,…   time only these templates (all by default)
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateScaleData, latestMigration } from "./generate-scale-data.mjs";
import { startWrangler } from "./lib/stack.mjs";

const PORT = Number(process.env.BENCH_PORT ?? 8803);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 50);
const WARMUP = 3;
const TARGET_MS = 300;
const ONLY = process.env.BENCH_TEMPLATES?.split(",").filter(Boolean) ?? null;
const keep = process.env.AFORO_SCALE_DIR;
const persistTo = keep ?? mkdtempSync(join(tmpdir(), "aforo-bench-reports-"));
const keysFile = join(persistTo, "aforo-scale.json");

const started = Date.now();
const reused = existsSync(keysFile);
const keys = reused
  ? JSON.parse(readFileSync(keysFile, "utf8"))
  : await generateScaleData({
      persistTo,
      port: PORT - 1,
      hourlyCustomers: Number(process.env.SCALE_HOURLY_CUSTOMERS ?? 100),
    });
const generatedIn = (Date.now() - started) / 1000;
// A data set generated before a later migration lacks that migration's rows (the model rollups
// of schema/0024 for COGS Breakdown): timing it would time empty tables.
if (reused && keys.latest_migration !== latestMigration()) {
  throw new Error(
    `${persistTo} was generated on schema ${keys.latest_migration ?? "before 0024"}, not ${latestMigration()}: remove it (or point AFORO_SCALE_DIR at a new directory) to regenerate`,
  );
}

const stack = await startWrangler({ port: PORT, persistTo, quiet: true });
const token = keys.operator_token;

/** `refusable`: a 422 is an answer too (an events template over more customers than one query
 * may read, domain/reports/compile-events.ts), timed and reported rather than thrown. */
async function timed(path, method = "GET", body, refusable = false) {
  const t0 = performance.now();
  const res = await fetch(`${stack.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body ? { "content-type": "application/json" } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  const ms = performance.now() - t0;
  if (!res.ok && !(refusable && res.status === 422)) {
    throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 500)}`);
  }
  return { ms, body: text, status: res.status };
}

const pct = (sorted, p) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

async function series(run) {
  for (let i = 0; i < WARMUP; i++) await run();
  const times = [];
  let last;
  for (let i = 0; i < REQUESTS; i++) {
    last = await run();
    times.push(last.ms);
  }
  times.sort((a, b) => a - b);
  return { p50: pct(times, 50), p95: pct(times, 95), last };
}

try {
  const list = JSON.parse((await timed("/api/reports?limit=1")).body);
  const templates = list.data.filter(
    (r) => r.template !== null && r.template !== undefined && (!ONLY || ONLY.includes(r.template)),
  );
  if (templates.length === 0) throw new Error("GET /api/reports carried no templates to time");

  const healthz = await series(() => timed("/healthz"));
  const results = [];
  for (const t of templates) {
    const s = await series(() => timed("/api/reports/run", "POST", t.query, true));
    const answer = JSON.parse(s.last.body);
    results.push({
      id: t.id,
      dataset: t.query.dataset,
      dims: t.query.dimensions.join(","),
      rows: s.last.status === 422 ? 0 : answer.rows.length,
      truncated: answer.truncated,
      refused: s.last.status === 422 ? answer.detail : null,
      p50: s.p50,
      p95: s.p95,
      query: t.query,
    });
  }
  const biggest = results.reduce((a, b) => (b.rows > a.rows ? b : a));
  const q = Buffer.from(JSON.stringify(biggest.query)).toString("base64url");
  const csv = await timed(`/api/reports/run.csv?q=${q}`);

  const f = (n) => n.toFixed(1).padStart(7);
  const hourly =
    keys.hourly_rollup_rows > 0
      ? `${keys.hourly_rollup_rows.toLocaleString("en-US")} hourly rows (first ${keys.hourly_customers} customers × last ${keys.hourly_days} days)`
      : "no hourly rollups";
  console.log(`
Reports benchmark — ${keys.customers.toLocaleString("en-US")} customers × ${keys.days} days (${keys.rollup_rows.toLocaleString("en-US")} daily rollup rows, ${hourly}, ${keys.invoices.toLocaleString("en-US")} invoices), ${REQUESTS} sequential POST /api/reports/run per template after ${WARMUP} warm-up, on loopback
  data set ${reused ? "reused" : `generated in ${generatedIn.toFixed(0)} s`}; templates resolved in the tenant's zone, ${templates[0]?.query.time?.time_zone ?? "UTC"}

  template                          dataset    dimensions                 rows   p50 ms   p95 ms  target
${results
  .map(
    (r) =>
      `  ${r.id.padEnd(34)}${r.dataset.padEnd(11)}${r.dims.slice(0, 23).padEnd(24)}${String(r.rows).padStart(7)}${r.truncated ? "+" : " "}${f(r.p50)}  ${f(r.p95)}  ${r.p95 < TARGET_MS ? "ok" : "OVER"}${r.refused ? `  refused (422): ${r.refused.slice(0, 60)}…` : ""}`,
  )
  .join("\n")}
  /healthz (the stack's own floor, same run)                                ${f(healthz.p50)}  ${f(healthz.p95)}
  GET /api/reports/run.csv of ${biggest.id} (${biggest.rows} rows, ${csv.body.length.toLocaleString("en-US")} bytes), once: ${csv.ms.toFixed(1)} ms
  target: p95 < ${TARGET_MS} ms per template   ${results.every((r) => r.p95 < TARGET_MS) ? "met" : "NOT met"}   (rows: "+" = truncated at the query's limit)
`);
} finally {
  await stack.stop();
  if (!keep) rmSync(persistTo, { recursive: true, force: true });
}
