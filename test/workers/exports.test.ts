import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { parquetMetadata } from "hyparquet";
import { Webhook } from "standardwebhooks";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { FILE_ROWS } from "../../domain/exports/files";
import { readExactRows } from "../../domain/exports/parquet-decimal";
import { runExportSchedules } from "../../workers/exports/schedules";
import worker from "../../workers/index";
import { newHook } from "./deliveries-helpers";
import { call, createTenant, expectProblem, type Tenant } from "./helpers";

// Warehouse exports (issue 16 items 2–4): rollups written straight into D1 (the tables GET
// /api/rollups reads), exported to R2 as Parquet, downloaded through the API and read back
// with a real Parquet reader (hyparquet, DECIMALs decoded exactly by the exports' one decoder);
// re-runs, late rows and a window that lost a day;
// webhook batches through the deliveries consumer to the real local receiver, verified with the
// `standardwebhooks` package; validation, tenant isolation and the viewer's refusals.

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const D0 = Date.UTC(2026, 9, 5);
const FROM = new Date(D0).toISOString();
const TO = new Date(D0 + 3 * DAY).toISOString();

let tenant: Tenant;
let other: Tenant;

afterEach(() => {
  vi.useRealTimers();
});

/** `customers` × 24 hours × 2 metrics on each of `days` days from `start`, with revenue and
 * cost carrying nanos (so a cent-rounded sum would differ), and a row on each side of the
 * window that must never be exported. */
async function seedRollups(t: string, start: number, days: number, customers: number) {
  const count = customers * 24 * 2 * days;
  await env.DB.prepare(
    `INSERT INTO rollups_hourly (tenant_id, start, customer_id, product_id, metric_id, units,
       revenue, cost, events, uncosted_events, uncosted_revenue)
     WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?3 - 1),
       d(days) AS (SELECT CAST(?4 AS INTEGER))
     SELECT ?1, ?2 + ((i / 2) % (24 * days)) * ${HOUR}, 'cust-' || (i / (48 * days)),
       'chat-api', CASE i % 2 WHEN 0 THEN 'input_tokens' ELSE 'output_tokens' END,
       (i * 7919) % 1000003 * 1000 + 123, i * 1234567 + 89, i * 345679 + 1, 1 + i % 5,
       i % 2, (i % 2) * 17
     FROM n, d`,
  )
    .bind(t, start, count, days)
    .run();
  for (const at of [start - HOUR, start + days * DAY]) {
    await env.DB.prepare(
      `INSERT INTO rollups_hourly (tenant_id, start, customer_id, product_id, metric_id, units,
         revenue, cost, events) VALUES (?, ?, 'outside', 'chat-api', 'input_tokens', 5000000, 999, 1, 1)`,
    )
      .bind(t, at)
      .run();
  }
  // The daily table as the consumer keeps it beside the hourly one (saved reports read it).
  await env.DB.prepare(
    `INSERT INTO rollups_daily (tenant_id, start, customer_id, product_id, metric_id, units,
       revenue, cost, events, uncosted_events, uncosted_revenue)
     SELECT tenant_id, start - start % ${DAY}, customer_id, product_id, metric_id, SUM(units),
       SUM(revenue), SUM(cost), SUM(events), SUM(uncosted_events), SUM(uncosted_revenue)
     FROM rollups_hourly WHERE tenant_id = ?1 AND start >= ?2 - ${DAY} AND start < ?2 + (?3 + 1) * ${DAY}
     GROUP BY 1, 2, 3, 4, 5`,
  )
    .bind(t, start, days)
    .run();
  return count;
}

const op = (t: Tenant) => ({ token: t.operator_token });

async function download(t: Tenant, path: string) {
  const res = await exports.default.fetch(`http://aforo.test${path}`, {
    headers: { authorization: `Bearer ${t.operator_token}` },
  });
  return {
    status: res.status,
    type: res.headers.get("content-type"),
    bytes: await res.arrayBuffer(),
  };
}

const sha = async (bytes: ArrayBuffer) =>
  Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)), (b) =>
    b.toString(16).padStart(2, "0"),
  ).join("");

/** A decimal string → the integer at 10^-digits (exact): nanos for money, micros for units. */
function scaled(text: string, digits: number): bigint {
  const negative = text.startsWith("-");
  const [whole, frac = ""] = (negative ? text.slice(1) : text).split(".");
  const v = BigInt(whole as string) * 10n ** BigInt(digits) + BigInt(frac.padEnd(digits, "0"));
  return negative ? -v : v;
}
const nanos = (text: string) => scaled(text, 9);
const micros = (text: string) => scaled(text, 6);

async function rollupTotals(t: Tenant, from: string, to: string) {
  const res = await call("GET", `/api/rollups?granularity=hour&from=${from}&to=${to}`, op(t));
  expect(res.status).toBe(200);
  const sum = { units: 0n, revenue: 0n, cost: 0n, events: 0 };
  for (const r of res.body.data) {
    sum.units += micros(r.units);
    sum.revenue += nanos(r.revenue);
    sum.cost += nanos(r.cost);
    sum.events += r.events;
  }
  return sum;
}

type Row = Record<string, unknown>;

/** Units (micros), revenue and COGS (nanos) — the files' DECIMALs' unscaled integers — and
 * events of export rows. */
function sums(rows: Row[]) {
  const sum = { units: 0n, revenue: 0n, cost: 0n, events: 0 };
  for (const r of rows) {
    sum.units += BigInt(r.units as string);
    sum.revenue += BigInt(r.revenue as string);
    sum.cost += BigInt(r.cost as string);
    sum.events += Number(r.events);
  }
  return sum;
}

async function exportRun(t: Tenant, body: Record<string, unknown>) {
  const res = await call("POST", "/api/exports", { ...op(t), body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

async function readFiles(t: Tenant, run: { file_list: { download: string }[] }) {
  const files: { bytes: ArrayBuffer; rows: Row[]; sha: string }[] = [];
  for (const f of run.file_list) {
    const got = await download(t, f.download);
    expect(got.status).toBe(200);
    expect(got.type).toBe("application/vnd.apache.parquet");
    files.push({
      bytes: got.bytes,
      rows: await readExactRows(got.bytes),
      sha: await sha(got.bytes),
    });
  }
  return files;
}

beforeAll(async () => {
  tenant = await createTenant("Exports Co");
  other = await createTenant("Other Exports");
  await seedRollups(tenant.tenant_id, D0, 3, 5);
  await seedRollups(other.tenant_id, D0, 3, 1);
});

describe("rollups to R2 as Parquet", () => {
  it("typed files in the Hive layout whose rows and sums equal GET /api/rollups to the nano", async () => {
    const run = await exportRun(tenant, { dataset: "rollups_hourly", from: FROM, to: TO });
    expect(run).toMatchObject({
      status: "succeeded",
      destination: null,
      destination_type: "r2",
      format: "parquet",
      rows: 5 * 24 * 2 * 3,
      files: 3,
    });
    expect(run.data_as_of).not.toBeNull();
    const window = "20261005T000000Z_20261008T000000Z";
    expect(run.file_list.map((f: { key: string }) => f.key)).toEqual(
      ["2026-10-05", "2026-10-06", "2026-10-07"].map(
        (d) =>
          `tenant=${tenant.tenant_id}/dataset=rollups_hourly/date=${d}/${window}-part-00000.parquet`,
      ),
    );
    const files = await readFiles(tenant, run);

    // The schema: timestamps are INT64 TIMESTAMP(MILLIS, UTC), money DECIMAL(38,9), units
    // DECIMAL(38,6).
    const meta = parquetMetadata(files[0]?.bytes as ArrayBuffer);
    const byName = Object.fromEntries(meta.schema.slice(1).map((e) => [e.name, e]));
    expect(byName.id).toMatchObject({ type: "BYTE_ARRAY", converted_type: "UTF8" });
    expect(byName.start).toMatchObject({
      type: "INT64",
      converted_type: "TIMESTAMP_MILLIS",
      logical_type: { type: "TIMESTAMP", isAdjustedToUTC: true, unit: "MILLIS" },
    });
    for (const [name, scale] of [
      ["units", 6],
      ["revenue", 9],
      ["cost", 9],
      ["uncosted_revenue", 9],
    ] as const) {
      expect(byName[name]).toMatchObject({
        type: "FIXED_LEN_BYTE_ARRAY",
        type_length: 16,
        logical_type: { type: "DECIMAL", precision: 38, scale },
      });
    }
    expect(byName.events).toMatchObject({ type: "INT64" });
    expect(meta.key_value_metadata).toContainEqual({
      key: "aforo.export.schema_version",
      value: "2",
    });

    const rows = files.flatMap((f) => f.rows);
    expect(rows).toHaveLength(run.rows);
    // Every row carries its id, unique, and lies in its file's UTC date and in the window.
    expect(new Set(rows.map((r) => r.id)).size).toBe(rows.length);
    files.forEach((f, i) => {
      for (const r of f.rows) {
        expect((r.start as Date).toISOString().slice(0, 10)).toBe(run.file_list[i].date);
      }
    });
    expect(rows.some((r) => r.customer === "outside")).toBe(false);

    const sum = sums(rows);
    expect(sum).toEqual(await rollupTotals(tenant, FROM, TO));
    // Not a sum that would also match rounded to cents: the nanos are there.
    expect(sum.revenue % 10_000_000n).not.toBe(0n);
  });

  it("a re-run writes the same names byte for byte; a late row changes only its day; a day that lost its rows loses its file", async () => {
    const first = await exportRun(tenant, { dataset: "rollups_hourly", from: FROM, to: TO });
    const again = await exportRun(tenant, { dataset: "rollups_hourly", from: FROM, to: TO });
    expect(again.id).not.toBe(first.id);
    const a = await readFiles(tenant, first);
    const b = await readFiles(tenant, again);
    expect(again.file_list.map((f: { key: string }) => f.key)).toEqual(
      first.file_list.map((f: { key: string }) => f.key),
    );
    expect(b.map((f) => f.sha)).toEqual(a.map((f) => f.sha));
    expect(again.file_list.map((f: { sha256: string }) => f.sha256)).toEqual(b.map((f) => f.sha));

    // A late row on the second day.
    await env.DB.prepare(
      `INSERT INTO rollups_hourly (tenant_id, start, customer_id, product_id, metric_id, units,
         revenue, cost, events) VALUES (?, ?, 'late', 'chat-api', 'input_tokens', 1000000, 5, 1, 1)`,
    )
      .bind(tenant.tenant_id, D0 + DAY + 5 * HOUR)
      .run();
    const late = await exportRun(tenant, { dataset: "rollups_hourly", from: FROM, to: TO });
    const c = await readFiles(tenant, late);
    expect(late.rows).toBe(first.rows + 1);
    expect([c[0]?.sha === a[0]?.sha, c[1]?.sha === a[1]?.sha, c[2]?.sha === a[2]?.sha]).toEqual([
      true,
      false,
      true,
    ]);
    expect(
      c[1]?.rows.filter((r) => r.id === `late|chat-api|input_tokens|${D0 + DAY + 5 * HOUR}`),
    ).toHaveLength(1);

    // The third day's rows go: the re-run removes its file, the window holds two files.
    await env.DB.prepare(
      "DELETE FROM rollups_hourly WHERE tenant_id = ? AND start >= ? AND start < ?",
    )
      .bind(tenant.tenant_id, D0 + 2 * DAY, D0 + 3 * DAY)
      .run();
    const shorter = await exportRun(tenant, { dataset: "rollups_hourly", from: FROM, to: TO });
    expect(shorter.files).toBe(2);
    const listed = await env.EXPORTS.list({
      prefix: `tenant=${tenant.tenant_id}/dataset=rollups_hourly/`,
    });
    expect(
      listed.objects
        .map((o) => o.key)
        .filter((k) => k.includes("20261005T000000Z_20261008T000000Z")),
    ).toHaveLength(2);
    // The earlier run's file of that day is gone from the bucket (404), not served stale.
    const gone = first.file_list[2];
    expect((await download(tenant, gone.download)).status).toBe(404);
    expect(sums((await readFiles(tenant, shorter)).flatMap((f) => f.rows))).toEqual(
      await rollupTotals(tenant, FROM, TO),
    );
  });

  it(`a day with more than ${FILE_ROWS.toLocaleString("en-US")} rows is split into parts, rows in one order`, {
    timeout: 60_000,
  }, async () => {
    const big = await createTenant("Big Exports");
    const day = Date.UTC(2026, 9, 20);
    // 1,250 customers × 24 h × 2 metrics = 60,000 rows in one UTC day.
    const count = await seedRollups(big.tenant_id, day, 1, 1_250);
    const started = Date.now();
    const run = await exportRun(big, {
      dataset: "rollups_hourly",
      from: new Date(day).toISOString(),
      to: new Date(day + DAY).toISOString(),
    });
    const ms = Date.now() - started;
    expect(run.rows).toBe(count);
    expect(run.file_list.map((f: { name: string; rows: number }) => [f.name, f.rows])).toEqual([
      ["2026-10-20-part-00000.parquet", FILE_ROWS],
      ["2026-10-20-part-00001.parquet", count - FILE_ROWS],
    ]);
    const rows = (await readFiles(big, run)).flatMap((f) => f.rows);
    expect(new Set(rows.map((r) => r.id)).size).toBe(count);
    // The files hold the rows in the dataset's one order: (start, customer, product, metric).
    type Key = [number, string, string];
    const keys: Key[] = rows.map((r) => [
      (r.start as Date).getTime(),
      String(r.customer),
      String(r.metric),
    ]);
    const binary = (x: Key, y: Key) =>
      x[0] - y[0] || (x[1] === y[1] ? (x[2] < y[2] ? -1 : 1) : x[1] < y[1] ? -1 : 1);
    expect(keys).toEqual([...keys].sort(binary));
    console.log(
      `exports: ${count} rollup rows → ${run.files} Parquet files, ${run.bytes} bytes, in ${ms} ms (${Math.round(count / (ms / 1000))} rows/s in workerd under vitest)`,
    );
  });
});

describe("validation", () => {
  it("bad dataset, from ≥ to, format and destination mismatches, private webhook URLs: problem+json naming the field", async () => {
    const cases: [Record<string, unknown>, string][] = [
      // The folder raw events are written to is not a dataset.
      [{ dataset: "events_export", from: FROM, to: TO }, "dataset"],
      [{ dataset: "nope", from: FROM, to: TO }, "dataset"],
      [{ dataset: "rollups_daily", from: TO, to: FROM }, "from"],
      [{ dataset: "rollups_daily", from: FROM, to: FROM }, "from"],
      [{ dataset: "rollups_daily", from: FROM, to: TO, format: "ndjson" }, "format"],
      [{ dataset: "rollups_daily", from: FROM, to: TO, destination: "exd_missing" }, "destination"],
      [{ dataset: "report", from: FROM, to: TO }, "report"],
      [{ dataset: "report", report: "rpt_missing", from: FROM, to: TO }, "report"],
    ];
    for (const [body, path] of cases) {
      const res = await call("POST", "/api/exports", { ...op(tenant), body });
      expectProblem(res, 400, "validation_failed");
      expect(
        res.body.errors.map((e: { path: string }) => e.path),
        JSON.stringify(body),
      ).toContain(path);
    }
    for (const url of [
      "http://10.0.0.5/hook",
      "https://169.254.169.254/latest/meta-data",
      "https://192.168.1.10/hook",
      "ftp://example.com/x",
    ]) {
      const res = await call("POST", "/api/exports/destinations", {
        ...op(tenant),
        body: { type: "webhook", name: "bad", url },
      });
      expectProblem(res, 400, "validation_failed");
      expect(res.body.errors[0].path).toBe("url");
    }
  });
});

describe("destinations", () => {
  it("r2 and webhook: created, tested for real, disabled, deleted; the secret shown once and sealed at rest", async () => {
    const r2 = await call("POST", "/api/exports/destinations", {
      ...op(tenant),
      body: { type: "r2", name: "Our bucket" },
    });
    expect(r2.status).toBe(201);
    expect(r2.body).toMatchObject({ type: "r2", prefix: `tenant=${tenant.tenant_id}/` });
    expect(r2.body.secret).toBeUndefined();
    const probe = await call("POST", `/api/exports/destinations/${r2.body.id}/test`, op(tenant));
    expect(probe.body).toMatchObject({ ok: true, error: null });
    expect(await env.EXPORTS.head(probe.body.probe)).toBeNull();

    const hook = newHook("export-test");
    const created = await call("POST", "/api/exports/destinations", {
      ...op(tenant),
      body: { type: "webhook", name: "Warehouse loader", url: hook.url },
    });
    expect(created.status).toBe(201);
    const secret = created.body.secret as string;
    expect(secret).toMatch(/^whsec_/);
    const stored = await env.DB.prepare(
      "SELECT secret FROM export_destinations WHERE tenant_id = ? AND id = ?",
    )
      .bind(tenant.tenant_id, created.body.id)
      .first<{ secret: string }>();
    expect(stored?.secret.startsWith("v1:")).toBe(true);
    expect(stored?.secret).not.toContain(secret.slice(6));
    const listed = await call("GET", "/api/exports/destinations", op(tenant));
    expect(JSON.stringify(listed.body)).not.toContain(secret);

    const tested = await call(
      "POST",
      `/api/exports/destinations/${created.body.id}/test`,
      op(tenant),
    );
    expect(tested.body).toMatchObject({ ok: true, status: 200 });
    const [received] = await hook.log();
    new Webhook(secret).verify(received?.body ?? "", received?.headers ?? {});
    expect(JSON.parse(received?.body ?? "{}").type).toBe("aforo.test");
    const shown = await call("GET", "/api/exports/destinations", op(tenant));
    expect(
      shown.body.data.find((d: { id: string }) => d.id === created.body.id).last_test,
    ).toMatchObject({
      ok: true,
    });

    const off = await call("PATCH", `/api/exports/destinations/${created.body.id}`, {
      ...op(tenant),
      body: { enabled: false },
    });
    expect(off.body.enabled).toBe(false);
    const refused = await call("POST", "/api/exports", {
      ...op(tenant),
      body: { dataset: "signals", from: FROM, to: TO, destination: created.body.id },
    });
    expectProblem(refused, 400, "validation_failed");
    expect(refused.body.errors[0].path).toBe("destination");
    const deleted = await call(
      "DELETE",
      `/api/exports/destinations/${created.body.id}`,
      op(tenant),
    );
    expect(deleted.status).toBe(204);
    expect(
      (
        await call("PATCH", `/api/exports/destinations/${created.body.id}`, {
          ...op(other),
          body: { enabled: true },
        })
      ).status,
    ).toBe(404);
  });
});

/** Runs the deliveries consumer on export-batch wake-ups (each `copies` times, as an
 * at-least-once queue may). */
async function runBatchConsumer(tenantId: string, ids: string[], copies = 1) {
  let seq = 0;
  const batch = createMessageBatch(
    "aforo-deliveries",
    ids.flatMap((id) =>
      Array.from({ length: copies }, () => ({
        id: `exb-msg-${id}-${++seq}-${Math.random()}`,
        timestamp: new Date(),
        attempts: 1,
        body: { tenant_id: tenantId, delivery_id: id, kind: "export_batch" },
      })),
    ),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch, env, ctx);
  return getQueueResult(batch, ctx);
}

function travel(ms: number) {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(Date.now() + ms);
}

describe("webhook exports", () => {
  it("NDJSON batches to a receiver that fails at first: every batch delivered exactly once, each signature verified", async () => {
    const hook = newHook("export-batches");
    await hook.mode(503);
    const created = await call("POST", "/api/exports/destinations", {
      ...op(other),
      body: { type: "webhook", name: "Loader", url: hook.url },
    });
    const secret = created.body.secret as string;
    const t = await createTenant("Webhook Exports");
    await seedRollups(other.tenant_id, Date.UTC(2026, 9, 10), 1, 30); // 1,440 rows
    const run = await exportRun(other, {
      dataset: "rollups_hourly",
      from: new Date(Date.UTC(2026, 9, 10)).toISOString(),
      to: new Date(Date.UTC(2026, 9, 11)).toISOString(),
      destination: created.body.id,
    });
    expect(run).toMatchObject({ status: "delivering", format: "ndjson", rows: 1_440, files: 2 });
    const ids = run.batches.map((b: { id: string }) => b.id);
    expect(ids).toEqual([`${run.id}_b0`, `${run.id}_b1`]);

    // The receiver answers 503: the attempts fail and are retried with backoff.
    await runBatchConsumer(other.tenant_id, ids);
    travel(31_000);
    await runBatchConsumer(other.tenant_id, ids);
    const failing = await call("GET", `/api/exports/runs/${run.id}`, op(other));
    expect(failing.body.status).toBe("delivering");
    for (const b of failing.body.batches) {
      expect(b).toMatchObject({ status: "pending", last_status: 503 });
      expect(b.attempts).toBeGreaterThanOrEqual(2);
    }

    // It comes back; the wake-ups arrive twice each, and once more after delivery.
    await hook.mode("ok");
    travel(70_000);
    await runBatchConsumer(other.tenant_id, ids, 2);
    await runBatchConsumer(other.tenant_id, ids, 2);
    const done = await call("GET", `/api/exports/runs/${run.id}`, op(other));
    expect(done.body.status).toBe("succeeded");
    expect(done.body.batches.map((b: { status: string }) => b.status)).toEqual([
      "delivered",
      "delivered",
    ]);

    const log = await hook.log();
    expect(log.filter((r) => r.answered === 503).length).toBeGreaterThanOrEqual(4);
    const delivered = log.filter((r) => r.answered === 200);
    expect(delivered.map((r) => r.headers["webhook-id"]).sort()).toEqual([...ids].sort());
    const rows: Row[] = [];
    for (const r of delivered) {
      // NDJSON is not one JSON document: verified, not parsed, by the library.
      new Webhook(secret).verify(r.body, r.headers, { jsonParse: false });
      expect(r.headers["content-type"]).toBe("application/x-ndjson");
      rows.push(
        ...r.body
          .trim()
          .split("\n")
          .map((line) => JSON.parse(line) as Row),
      );
    }
    // Every row once, each with its id; every attempt of a batch carried the same bytes.
    expect(rows).toHaveLength(1_440);
    expect(new Set(rows.map((r) => r.id)).size).toBe(1_440);
    for (const id of ids) {
      expect(
        new Set(log.filter((r) => r.headers["webhook-id"] === id).map((r) => r.body)).size,
      ).toBe(1);
    }
    const revenue = rows.reduce((s, r) => s + nanos(r.revenue as string), 0n);
    const expected = await rollupTotals(
      other,
      new Date(Date.UTC(2026, 9, 10)).toISOString(),
      new Date(Date.UTC(2026, 9, 11)).toISOString(),
    );
    expect(revenue).toBe(expected.revenue);
    expect(typeof rows[0]?.start).toBe("string");
    // format json: each batch one Standard Webhooks document, parsed by the library's verify.
    const json = await exportRun(other, {
      dataset: "rollups_hourly",
      from: new Date(Date.UTC(2026, 9, 10)).toISOString(),
      to: new Date(Date.UTC(2026, 9, 10, 1)).toISOString(),
      destination: created.body.id,
      format: "json",
    });
    await runBatchConsumer(
      other.tenant_id,
      json.batches.map((b: { id: string }) => b.id),
    );
    const [doc] = (await hook.log()).filter((r) => r.headers["webhook-id"] === `${json.id}_b0`);
    const parsed = new Webhook(secret).verify(doc?.body ?? "", doc?.headers ?? {}) as {
      type: string;
      data: { run_id: string; rows: Row[]; row_count: number };
    };
    expect(parsed).toMatchObject({
      type: "export.batch",
      data: { run_id: json.id, row_count: 60 },
    });
    expect(parsed.data.rows).toHaveLength(60);
    // The tenant that does not own the run sees none of it.
    expect((await call("GET", `/api/exports/runs/${run.id}`, op(t))).status).toBe(404);
  });
});

describe("isolation and roles", () => {
  it("a tenant never reads another's runs or files", async () => {
    const mine = await exportRun(tenant, { dataset: "rollups_hourly", from: FROM, to: TO });
    const file = mine.file_list[0];
    expect((await call("GET", `/api/exports/runs/${mine.id}`, op(other))).status).toBe(404);
    expect((await download(other, file.download)).status).toBe(404);
    const theirs = await call("GET", "/api/exports/runs?limit=200", op(other));
    expect(theirs.body.data.map((r: { id: string }) => r.id)).not.toContain(mine.id);
    expect((await download(tenant, file.download)).status).toBe(200);
    // A path trick in the name finds nothing.
    expect(
      (await download(tenant, `/api/exports/runs/${mine.id}/files/..%2F..%2Fx.parquet`)).status,
    ).toBe(404);
  });

  it("a viewer reads runs but is refused every write with 403", async () => {
    const issued = await call("POST", "/api/keys", {
      ...op(tenant),
      body: { kind: "operator", role: "viewer", name: "viewer" },
    });
    const viewer = { token: issued.body.key as string };
    expect((await call("GET", "/api/exports/runs", viewer)).status).toBe(200);
    for (const [method, path, body] of [
      ["POST", "/api/exports", { dataset: "signals", from: FROM, to: TO }],
      ["POST", "/api/exports/destinations", { type: "r2", name: "x" }],
    ] as const) {
      const res = await call(method, path, { ...viewer, body });
      expectProblem(res, 403, "forbidden");
      expect(res.body.detail).toContain("exports:manage");
    }
  });
});

describe("the other datasets", () => {
  it("invoices with their lines, and a saved report's output, exported with ids and exact money", async () => {
    const t = await createTenant("Datasets Co");
    const db = env.DB;
    await db
      .prepare(
        `INSERT INTO invoices (tenant_id, id, subscription_id, customer_id, product_id, currency,
           period_start, period_end, closes_at, status, subtotal, minimum_topup, discount_total,
           rounding, total, usage_total, created_at, updated_at)
         VALUES (?1, 'inv_1', 'sub_1', 'acme', 'chat-api', 'USD', ?2, ?2 + ${30 * DAY}, ?2 + ${30 * DAY},
           'open', 1234567890123, 0, 0, 0, 1234567890123, 1234567890123, ?2, ?2)`,
      )
      .bind(t.tenant_id, D0)
      .run();
    await db
      .prepare(
        `INSERT INTO invoice_lines (tenant_id, invoice_id, position, type, metric_id, quantity, amount, description)
         VALUES (?1, 'inv_1', 0, 'per_unit', 'input_tokens', '123456789', 1234567890123, 'Input tokens')`,
      )
      .bind(t.tenant_id)
      .run();
    const inv = await exportRun(t, { dataset: "invoices", from: FROM, to: TO });
    const [invoice] = (await readFiles(t, inv)).flatMap((f) => f.rows);
    expect(invoice).toMatchObject({ id: "inv_1", total: "1234567890123", status: "open" });
    expect(invoice?.period_start).toEqual(new Date(D0));
    const lines = await exportRun(t, { dataset: "invoice_lines", from: FROM, to: TO });
    const [line] = (await readFiles(t, lines)).flatMap((f) => f.rows);
    expect(line).toMatchObject({ id: "inv_1#0", quantity: "123456789", amount: "1234567890123" });

    await seedRollups(t.tenant_id, D0, 1, 2);
    const report = await call("POST", "/api/reports", {
      ...op(t),
      body: {
        name: "Revenue by customer",
        query: {
          dataset: "usage",
          measures: ["revenue"],
          dimensions: ["customer"],
          time: { from: FROM, to: TO, time_zone: "UTC" },
        },
      },
    });
    expect(report.status, JSON.stringify(report.body)).toBe(201);
    const out = await exportRun(t, {
      dataset: "report",
      report: report.body.id,
      from: FROM,
      to: TO,
    });
    expect(out.file_list[0].key).toContain(
      `/dataset=report/report=${report.body.id}/date=2026-10-05/`,
    );
    const rows = (await readFiles(t, out)).flatMap((f) => f.rows);
    // The seed's row just after its day is inside this three-day window.
    expect(rows.map((r) => r.id).sort()).toEqual(["cust-0", "cust-1", "outside"]);
    const total = rows.reduce((s, r) => s + BigInt(r.revenue as string), 0n);
    expect(total).toBe((await rollupTotals(t, FROM, TO)).revenue);

    // With a time dimension, each row lands in its bucket's date, ordered by time then id.
    const daily = await call("POST", "/api/reports", {
      ...op(t),
      body: {
        name: "Revenue by day and customer",
        query: {
          dataset: "usage",
          measures: ["revenue"],
          dimensions: ["time", "customer"],
          order_by: [{ field: "revenue", direction: "desc" }],
          time: { from: FROM, to: TO, time_zone: "UTC", granularity: "day" },
        },
      },
    });
    expect(daily.status, JSON.stringify(daily.body)).toBe(201);
    const byDay = await exportRun(t, {
      dataset: "report",
      report: daily.body.id,
      from: FROM,
      to: TO,
    });
    expect(byDay.file_list.map((f: { date: string; rows: number }) => [f.date, f.rows])).toEqual([
      ["2026-10-05", 2],
      ["2026-10-06", 1],
    ]);
    const dayRows = (await readFiles(t, byDay)).flatMap((f) => f.rows);
    expect(dayRows.map((r) => r.customer)).toEqual(["cust-0", "cust-1", "outside"]);
    expect(dayRows.reduce((s, r) => s + BigInt(r.revenue as string), 0n)).toBe(total);
  });
});

describe("schedules", () => {
  it("a cron slot in the schedule's zone runs once, over the window resolved at its instant", async () => {
    const t = await createTenant("Scheduled Exports");
    const bad: [Record<string, unknown>, string][] = [
      [{ cron: "not a cron" }, "cron"],
      [{ cron: "* * * * *" }, "cron"],
      [{ time_zone: "Mars/Olympus" }, "time_zone"],
      [{ format: "ndjson" }, "format"],
    ];
    for (const [over, path] of bad) {
      const res = await call("POST", "/api/exports/schedules", {
        ...op(t),
        body: { dataset: "rollups_hourly", cron: "0 2 * * *", range: "yesterday", ...over },
      });
      expectProblem(res, 400, "validation_failed");
      expect(res.body.errors[0].path, JSON.stringify(over)).toBe(path);
    }
    const created = await call("POST", "/api/exports/schedules", {
      ...op(t),
      body: { dataset: "rollups_hourly", cron: "0 2 * * *", time_zone: "UTC", range: "yesterday" },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.next_runs).toHaveLength(3);
    const slot = Date.parse(created.body.next_runs[0]);
    expect(new Date(slot).getUTCHours()).toBe(2);
    const yesterday = slot - 2 * HOUR - DAY;
    await seedRollups(t.tenant_id, yesterday, 1, 1);

    // A tick after the slot runs it; the same tick again, or a second one, does not.
    expect(await runExportSchedules(env, t.tenant_id, slot + 60_000)).toEqual({ claimed: 1 });
    expect(await runExportSchedules(env, t.tenant_id, slot + 60_000)).toEqual({ claimed: 0 });
    const runs = await call("GET", "/api/exports/runs", op(t));
    expect(runs.body.data).toHaveLength(1);
    expect(runs.body.data[0]).toMatchObject({
      schedule: created.body.id,
      scheduled_for: new Date(slot).toISOString(),
      from: new Date(yesterday).toISOString(),
      to: new Date(yesterday + DAY).toISOString(),
      status: "succeeded",
      rows: 48,
      files: 1,
    });
    const listed = await call("GET", "/api/exports/schedules", op(t));
    expect(listed.body.data[0].last_run).toMatchObject({ id: runs.body.data[0].id });
    expect(Date.parse(listed.body.data[0].next_runs[0])).toBe(slot + DAY);

    const off = await call("PATCH", `/api/exports/schedules/${created.body.id}`, {
      ...op(t),
      body: { enabled: false },
    });
    expect(off.body).toMatchObject({ enabled: false, next_runs: [] });
    expect(await runExportSchedules(env, t.tenant_id, slot + 2 * DAY)).toEqual({ claimed: 0 });
    expect(
      (await call("DELETE", `/api/exports/schedules/${created.body.id}`, op(other))).status,
    ).toBe(404);
    expect((await call("DELETE", `/api/exports/schedules/${created.body.id}`, op(t))).status).toBe(
      204,
    );
  });
});
