// The DuckDB recipe of docs/exports.md, executed (issue 16, Done when): usage ingested into a
// real `wrangler dev`, exported as Parquet, every file downloaded through
// GET /api/exports/runs/:id/files/:name into a folder laid out as the bucket's Hive partitions,
// and the recipe's own query — read from the document, with that folder in place of `r2://` —
// run by DuckDB (@duckdb/node-api). Its sums of units, revenue and COGS equal GET /api/rollups
// exactly (DECIMAL in, DECIMAL out). One stack for the file.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { afterAll, beforeAll, expect, it } from "vitest";
import { parseScaled } from "../../domain/money";
import {
  applyMigrations,
  ensureDevVars,
  ROOT,
  request,
  type Stack,
  startWrangler,
} from "../../scripts/lib/stack.mjs";

const PORT = 8868;
const HOUR = 3_600_000;
const persistTo = mkdtempSync(join(tmpdir(), "aforo-exports-duckdb-"));
const bucket = mkdtempSync(join(tmpdir(), "aforo-exports-bucket-"));
let stack: Stack | undefined;
let url = "";
let tenant: { tenant_id: string; operator_token: string; ingest_key: string };

afterAll(async () => {
  await stack?.stop();
  rmSync(persistTo, { recursive: true, force: true });
  rmSync(bucket, { recursive: true, force: true });
});

/** The recipe's query: the block after `-- recipe: duckdb query` in docs/exports.md. */
function recipeQuery(): string {
  const doc = readFileSync(join(ROOT, "docs", "exports.md"), "utf8");
  const block = /```sql\n([\s\S]*?)```/g;
  for (const m of doc.matchAll(block)) {
    const sql = m[1] ?? "";
    const at = sql.indexOf("-- recipe: duckdb query");
    if (at >= 0) return sql.slice(at);
  }
  throw new Error("docs/exports.md has no block with `-- recipe: duckdb query`");
}

const now = Date.now();
const hourStart = now - (now % HOUR);
// Two hours ago to now: two UTC dates when run just after midnight, one otherwise.
const from = new Date(hourStart - 2 * HOUR).toISOString();
const to = new Date(hourStart + HOUR).toISOString();

beforeAll(async () => {
  const { adminToken } = ensureDevVars();
  applyMigrations(persistTo, true);
  stack = await startWrangler({ port: PORT, persistTo, quiet: true });
  url = stack.url;
  tenant = await request(`${url}/admin/tenants`, {
    method: "POST",
    token: adminToken,
    body: { name: "Warehouse" },
  });
  const op = { method: "POST", token: tenant.operator_token };
  await request(`${url}/api/products`, { ...op, body: { id: "chat-api", name: "Chat API" } });
  for (const id of ["input_tokens", "output_tokens"]) {
    await request(`${url}/api/products/chat-api/metrics`, { ...op, body: { id, unit: "token" } });
  }
  await request(`${url}/api/plans`, {
    ...op,
    body: {
      id: "payg",
      product: "chat-api",
      name: "Pay as you go",
      currency: "USD",
      period: "month",
      components: [
        { type: "per_unit", metric: "input_tokens", unit_price: "0.000123457" },
        { type: "per_unit", metric: "output_tokens", unit_price: "0.002" },
      ],
    },
  });
  for (const id of ["acme", "globex"]) {
    await request(`${url}/api/customers`, { ...op, body: { id, name: id } });
    await request(`${url}/api/subscriptions`, {
      ...op,
      body: { customer: id, plan: "payg", start: new Date(now - 30 * 86_400_000).toISOString() },
    });
  }
}, 120_000);

it("the DuckDB recipe over the downloaded Hive files sums to GET /api/rollups exactly", async () => {
  // Costs and prices that carry nanos, so a sum rounded anywhere would differ.
  const events = Array.from({ length: 60 }, (_, i) => ({
    id: `wh-${i}`,
    customer: i % 3 === 0 ? "globex" : "acme",
    product: "chat-api",
    metric: i % 2 === 0 ? "input_tokens" : "output_tokens",
    quantity: 1_000 + i * 37,
    time: new Date(hourStart - 2 * HOUR + i * 2 * 60_000).toISOString(),
    cost: {
      usd: Number(((i + 1) * 0.000123457).toFixed(9)),
      provider: "anthropic",
      model: "claude-sonnet-4-5",
    },
  }));
  const answer = await request(`${url}/v1/events`, {
    method: "POST",
    token: tenant.ingest_key,
    body: events,
  });
  expect(answer.accepted).toBe(events.length);

  const op = { token: tenant.operator_token };
  const rollupsUrl = `${url}/api/rollups?granularity=hour&from=${from}&to=${to}`;
  // The rollups once every event is in them (the actor flushes within ~10 s).
  let rollups: { units: string; revenue: string; cost: string; events: number }[] = [];
  for (let i = 0; i < 120; i++) {
    rollups = (await request(rollupsUrl, op)).data;
    if (rollups.reduce((n, r) => n + r.events, 0) >= events.length) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  const api = (field: "units" | "revenue" | "cost", scale: number) =>
    rollups.reduce((n, r) => n + parseScaled(r[field], scale), 0n);
  expect(rollups.reduce((n, r) => n + r.events, 0)).toBe(events.length);

  const run = await request(`${url}/api/exports`, {
    method: "POST",
    ...op,
    body: { dataset: "rollups_hourly", from, to },
  });
  expect(run.status).toBe("succeeded");
  expect(run.files).toBeGreaterThan(0);
  // Each file into the folder its key names: the bucket's own Hive layout.
  for (const f of run.file_list as { key: string; download: string }[]) {
    const res = await fetch(`${url}${f.download}`, {
      headers: { authorization: `Bearer ${tenant.operator_token}` },
    });
    expect(res.status).toBe(200);
    const path = join(bucket, f.key);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, new Uint8Array(await res.arrayBuffer()));
  }

  const sql = recipeQuery()
    .replace("r2://aforo-exports/", `${bucket}/`)
    .replaceAll("<tenant id>", tenant.tenant_id);
  const db = await DuckDBInstance.create(":memory:");
  const connection = await db.connect();
  try {
    const result = await connection.runAndReadAll(sql);
    const rows = result.getRowObjectsJson() as Record<string, string | number>[];
    expect(rows.length).toBeGreaterThan(0);
    // The Hive columns come from the folders.
    for (const r of rows) expect(r.tenant).toBe(tenant.tenant_id);
    const duck = (field: string, scale: number) =>
      rows.reduce((n, r) => n + parseScaled(String(r[field]), scale), 0n);
    expect(duck("units", 6)).toBe(api("units", 6));
    expect(duck("revenue", 9)).toBe(api("revenue", 9));
    expect(duck("cost", 9)).toBe(api("cost", 9));
    expect(rows.reduce((n, r) => n + Number(r.events), 0)).toBe(events.length);
    // Nanos survive: the exact sum is not a whole number of cents.
    expect(duck("revenue", 9) % 10_000_000n).not.toBe(0n);
    // DuckDB reads the money columns as its own exact DECIMAL(38,9), no cast.
    const types = await connection.runAndReadAll(
      `SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet('${bucket}/tenant=${tenant.tenant_id}/dataset=rollups_hourly/**/*.parquet'))`,
    );
    const byName = Object.fromEntries(
      (types.getRowObjectsJson() as { column_name: string; column_type: string }[]).map((t) => [
        t.column_name,
        t.column_type,
      ]),
    );
    expect(byName).toMatchObject({
      units: "DECIMAL(38,6)",
      revenue: "DECIMAL(38,9)",
      cost: "DECIMAL(38,9)",
      start: "TIMESTAMP WITH TIME ZONE",
    });
  } finally {
    connection.closeSync();
    db.closeSync();
  }
}, 180_000);
