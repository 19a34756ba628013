import {
  createExecutionContext,
  createMessageBatch,
  env,
  getQueueResult,
  runInDurableObject,
} from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { parquetMetadata, parquetReadObjects } from "hyparquet";
import { Webhook } from "standardwebhooks";
import { beforeAll, describe, expect, it } from "vitest";
import {
  type ArchiveManifest,
  archiveDate,
  manifestKey,
  parseStaged,
  partitionPrefix,
  sha256Hex,
  stagingTenantPrefix,
} from "../../domain/exports/archive-layout";
import { replayKey } from "../../domain/exports/archive-replay";
import {
  ARCHIVE_COLUMNS,
  type ArchiveRow,
  archiveParquet,
  compareArchiveRows,
  readArchiveRows,
} from "../../domain/exports/archive-rows";
import { readExactRows } from "../../domain/exports/parquet-decimal";
import { parseScaled } from "../../domain/money";
import type { ArchiveMessage } from "../../durable-objects/archive-feed";
import type { CustomerActor } from "../../durable-objects/customer-actor";
import { listArchivePartitions } from "../../store/event-archive";
import {
  archiveDayFiles,
  compactEventArchive,
  replayArchiveRollups,
} from "../../workers/event-archive";
import worker from "../../workers/index";
import { runTenantJobs } from "../../workers/periodic";
import { internals } from "./actor-internals";
import {
  actor,
  api,
  clockSettled,
  customer,
  DAY,
  HOUR,
  isoOf,
  nanos,
  ok,
  plan,
  product,
  send,
  settle,
  subscribe,
  tokens,
} from "./billing-helpers";
import { newHook } from "./deliveries-helpers";
import { createTenant, type Tenant } from "./helpers";

// The event archive (issue 16 item 1; docs/exports.md "Event archive"): every accepted event,
// rated, reaches R2 as Parquet in its UTC date's partition, once per (customer, event id),
// whatever the queue redelivers and the actors send again; compaction keeps a day to its part
// files, a re-run with nothing new leaves every byte as it was, and the manifest names the files
// a compaction changed. Read back with hyparquet, the archive sums to GET /api/rollups and
// rebuilds rollups_hourly to the nano.

let tenant: Tenant;
let other: Tenant;
const TODAY = Math.floor(Date.now() / DAY) * DAY;
const DAY_A = TODAY - 2 * DAY;
const DAY_B = TODAY - DAY;
const DATE_A = archiveDate(DAY_A);
const DATE_B = archiveDate(DAY_B);
const CUSTOMERS = ["acme", "globex"];
const m = 60_000;

const usd = (value: number) => ({
  cost: { usd: value, provider: "anthropic", model: "claude-sonnet-4-5" },
});
const first = [
  tokens("acme", DAY_A + 3 * HOUR, 1_000, usd(0.123456789)),
  tokens("acme", DAY_A + 3 * HOUR + 5 * m, 2_500, {
    ...usd(0.000000001),
    properties: { endpoint: "/v1/chat" },
  }),
  tokens("globex", DAY_A + 22 * HOUR, 7_777, { metric: "output_tokens", ...usd(1.5) }),
  tokens("acme", DAY_B + 1 * HOUR, 333, usd(0.333333333)),
  tokens("globex", DAY_B + 1 * HOUR + 30 * m, 10_000),
  tokens("globex", DAY_B + 23 * HOUR + 59 * m, 42, { metric: "output_tokens", ...usd(2) }),
];
/** Sent after the first compaction: its date's partition is already written. */
const late = tokens("globex", DAY_A + 4 * HOUR, 5_000, usd(0.05));

/** Distinct (customer, id) of the tenant's staged rows, and the staged objects. */
async function staged(t: Tenant) {
  const keys = new Set<string>();
  const objects: string[] = [];
  const list = await env.EXPORTS.list({ prefix: stagingTenantPrefix(t.tenant_id) });
  for (const o of list.objects) {
    const body = await env.EXPORTS.get(o.key);
    if (!body) continue;
    objects.push(o.key);
    for (const r of parseStaged(await body.text())) keys.add(`${r.customer_id}/${r.event_id}`);
  }
  return { keys, objects };
}

async function waitStaged(t: Tenant, rows: number) {
  for (let i = 0; i < 400; i++) {
    if ((await staged(t)).keys.size >= rows) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`the archive queue did not stage ${rows} rows`);
}

/** Every archive object of the tenant (parts and manifests) → SHA-256 of its bytes. */
async function snapshot(t: Tenant): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const list = await env.EXPORTS.list({ prefix: `tenant=${t.tenant_id}/` });
  for (const o of list.objects) {
    const body = await env.EXPORTS.get(o.key);
    if (body) out[o.key] = await sha256Hex(new Uint8Array(await body.arrayBuffer()));
  }
  return out;
}

async function manifest(t: Tenant, date: string): Promise<ArchiveManifest> {
  const object = await env.EXPORTS.get(manifestKey(t.tenant_id, date));
  if (!object) throw new Error(`no manifest for ${date}`);
  return object.json();
}

/** The tenant's archived rows, read from R2 with hyparquet, part by part. */
async function archived(t: Tenant, dates = [DATE_A, DATE_B]): Promise<ArchiveRow[]> {
  const rows: ArchiveRow[] = [];
  for (const date of dates) {
    for (const file of await archiveDayFiles(env.EXPORTS, t.tenant_id, date)) {
      const object = await env.EXPORTS.get(file.key);
      if (!object) throw new Error(`missing ${file.key}`);
      rows.push(...(await readArchiveRows(await object.arrayBuffer())));
    }
  }
  return rows;
}

async function deliver(messages: ArchiveMessage[], attempt: number) {
  const batch = createMessageBatch<ArchiveMessage>(
    "aforo-archive",
    messages.map((body, i) => ({
      id: `a-${attempt}-${i}`,
      timestamp: new Date(),
      attempts: attempt,
      body,
    })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch, env, ctx);
  const result = await getQueueResult(batch, ctx);
  expect(result.explicitAcks).toHaveLength(messages.length);
}

let acceptedAt = 0;
let stagedAfterMs = 0;
let compactionMs = 0;

beforeAll(async () => {
  tenant = await createTenant("Archive AI");
  other = await createTenant("Archive Elsewhere");
  await clockSettled(tenant);
  await clockSettled(other);
  for (const t of [tenant, other]) {
    await product(t);
    await plan(t, "payg", [
      { type: "per_unit", metric: "input_tokens", unit_price: "0.000123457" },
      { type: "per_unit", metric: "output_tokens", unit_price: "0.002" },
    ]);
  }
  for (const id of CUSTOMERS) {
    await customer(tenant, id);
    await subscribe(tenant, id, "payg", DAY_A - 10 * DAY);
  }
  await customer(other, "acme");
  await subscribe(other, "acme", "payg", DAY_A - 10 * DAY);

  acceptedAt = Date.now();
  await send(tenant, first);
  await send(other, [tokens("acme", DAY_A + 3 * HOUR, 99, usd(9))]);
  await settle(tenant, CUSTOMERS, first.length);
  await settle(other, ["acme"], 1);
  await waitStaged(tenant, first.length);
  await waitStaged(other, 1);
  stagedAfterMs = Date.now() - acceptedAt;
});

describe("the event archive", () => {
  it("archives every accepted event with its rating in its date's partition, through the tenant's tick", async () => {
    // The same staged message delivered twice (a redelivered batch): one staged object.
    const before = await staged(tenant);
    const key = before.objects[0] as string;
    const rows = parseStaged(await ((await env.EXPORTS.get(key)) as R2ObjectBody).text());
    const message: ArchiveMessage = {
      id: `${tenant.tenant_id}:redelivered`,
      tenant_id: tenant.tenant_id,
      customer_id: rows[0]?.customer_id ?? "",
      rows,
    };
    await deliver([message], 1);
    await deliver([message], 2);
    expect((await staged(tenant)).objects).toHaveLength(before.objects.length + 1);

    const started = Date.now();
    await runTenantJobs(env, tenant.tenant_id, Date.now());
    compactionMs = Date.now() - started;
    await runTenantJobs(env, other.tenant_id, Date.now());
    // Staged rows are gone once compacted.
    expect((await staged(tenant)).objects).toEqual([]);

    const a = await manifest(tenant, DATE_A);
    const b = await manifest(tenant, DATE_B);
    expect(a).toMatchObject({
      dataset: "events",
      schema_version: 1,
      tenant_id: tenant.tenant_id,
      date: DATE_A,
      rows: 3,
      files: [{ name: "part-00000.parquet", rows: 3 }],
      min_event_time: isoOf(DAY_A + 3 * HOUR),
      max_event_time: isoOf(DAY_A + 22 * HOUR),
      last_compaction: { changed: ["part-00000.parquet"], added_rows: 3 },
    });
    expect(b).toMatchObject({ rows: 3, files: [{ name: "part-00000.parquet", rows: 3 }] });
    for (const m of [a, b]) {
      for (const f of m.files) {
        const object = await env.EXPORTS.get(
          `${partitionPrefix(tenant.tenant_id, m.date)}${f.name}`,
        );
        const bytes = new Uint8Array(await (object as R2ObjectBody).arrayBuffer());
        expect(f.bytes).toBe(bytes.byteLength);
        expect(f.sha256).toBe(await sha256Hex(bytes));
      }
    }
    expect(await listArchivePartitions(env.DB, tenant.tenant_id, DATE_A, DATE_B)).toMatchObject([
      { date: DATE_A, files: 1, rows: 3 },
      { date: DATE_B, files: 1, rows: 3 },
    ]);

    // Read back with hyparquet: one row per event, with its id and rating.
    const rowsBack = await archived(tenant);
    expect(rowsBack.map((r) => r.event_id).sort()).toEqual(first.map((e) => e.id).sort());
    const stored = await ok(
      api(tenant).get(
        `/api/customers/acme/events?from=${isoOf(DAY_A)}&to=${isoOf(TODAY)}&limit=50`,
      ),
    );
    for (const e of stored.data) {
      const r = rowsBack.find((x) => x.event_id === e.id) as ArchiveRow;
      expect({
        time: isoOf(r.event_time),
        received_at: isoOf(r.received_at),
        revenue: r.revenue,
        cost: r.cost,
        cost_status: r.cost_status,
        provider: r.provider,
        model: r.model,
        subscription_id: r.subscription_id,
        flags: r.flags === "" ? [] : r.flags.split(","),
        properties: r.properties === null ? null : JSON.parse(r.properties),
      }).toEqual({
        time: e.time,
        received_at: e.received_at,
        revenue: String(nanos(e.revenue)),
        cost: String(nanos(e.cost)),
        cost_status: e.cost_status,
        provider: e.provider,
        model: e.model,
        subscription_id: e.subscription_id,
        flags: e.flags,
        properties: e.properties,
      });
    }
    // The other tenant's event is in its own prefix only.
    expect((await archived(other, [DATE_A])).map((r) => r.customer_id)).toEqual(["acme"]);
    expect(rowsBack.every((r) => CUSTOMERS.includes(r.customer_id))).toBe(true);
  });

  it("is typed Parquet: TIMESTAMP UTC, DECIMAL money and units, read by a plain reader", async () => {
    const [file] = await archiveDayFiles(env.EXPORTS, tenant.tenant_id, DATE_A);
    const bytes = await ((await env.EXPORTS.get(file?.key ?? "")) as R2ObjectBody).arrayBuffer();
    const meta = parquetMetadata(bytes);
    expect(meta.schema.slice(1).map((e) => e.name)).toEqual(ARCHIVE_COLUMNS.map((c) => c.name));
    expect(meta.schema.find((e) => e.name === "event_time")?.logical_type).toEqual({
      type: "TIMESTAMP",
      isAdjustedToUTC: true,
      unit: "MILLIS",
    });
    expect(meta.schema.find((e) => e.name === "cost")).toMatchObject({ precision: 38, scale: 9 });
    const plain = await parquetReadObjects({ file: bytes });
    expect(plain[0]?.event_time).toEqual(new Date(DAY_A + 3 * HOUR));
    expect(plain[0]?.cost).toBeCloseTo(0.123456789, 9);
  });

  it("sums to GET /api/rollups for the window, and rebuilds rollups_hourly, to the nano", async () => {
    const rollups = await ok(
      api(tenant).get(
        `/api/rollups?granularity=hour&group_by=customer,product,metric&from=${isoOf(DAY_A)}&to=${isoOf(TODAY)}`,
      ),
    );
    const rows = await archived(tenant);
    const sum = (f: (r: ArchiveRow) => string) => rows.reduce((n, r) => n + BigInt(f(r)), 0n);
    const api_ = (f: string, scale: number) =>
      (rollups.data as Record<string, string>[]).reduce(
        (n, r) => n + parseScaled(r[f] ?? "0", scale),
        0n,
      );
    expect(sum((r) => r.quantity)).toBe(api_("units", 6));
    expect(sum((r) => r.revenue)).toBe(api_("revenue", 9));
    expect(sum((r) => r.cost)).toBe(api_("cost", 9));
    expect(sum((r) => r.revenue)).toBeGreaterThan(0n);
    expect(rows).toHaveLength(
      rollups.data.reduce((n: number, r: { events: number }) => n + r.events, 0),
    );

    // The replay path: the archive's parts, read a row group at a time, summed per (customer,
    // hour, product, metric), equal D1's rollups_hourly row for row.
    const replayed = await replayArchiveRollups(env.EXPORTS, tenant.tenant_id, [DATE_A, DATE_B]);
    const { results } = await env.DB.prepare(
      `SELECT customer_id, start, product_id, metric_id, CAST(units AS TEXT) AS units,
         CAST(revenue AS TEXT) AS revenue, CAST(cost AS TEXT) AS cost, events, uncosted_events,
         CAST(uncosted_revenue AS TEXT) AS uncosted_revenue
       FROM rollups_hourly WHERE tenant_id = ? AND events > 0`,
    )
      .bind(tenant.tenant_id)
      .all<Record<string, string | number>>();
    const d1 = new Map(
      results.map((r) => [
        replayKey(
          String(r.customer_id),
          Number(r.start),
          String(r.product_id),
          String(r.metric_id),
        ),
        {
          units: BigInt(r.units ?? 0),
          revenue: BigInt(r.revenue ?? 0),
          cost: BigInt(r.cost ?? 0),
          events: Number(r.events),
          uncosted_events: Number(r.uncosted_events),
          uncosted_revenue: BigInt(r.uncosted_revenue ?? 0),
        },
      ]),
    );
    expect(replayed.size).toBe(5);
    expect(replayed).toEqual(d1);
  });

  it("exports the events of a window from the archive: rows and sums equal GET /api/rollups to the nano", async () => {
    // Hour-aligned (so the hourly rollups cover exactly the same events) but not day-aligned:
    // each of the two days has events on both sides of an edge, filtered by event time.
    const from = isoOf(DAY_A + 4 * HOUR);
    const to = isoOf(DAY_B + 23 * HOUR);
    const run = await ok(api(tenant).post("/api/exports", { dataset: "events", from, to }));
    expect(run).toMatchObject({ status: "succeeded", dataset: "events", rows: 3, files: 2 });
    expect(run.file_list.map((f: { key: string }) => f.key.split("/date=")[0])).toEqual([
      `tenant=${tenant.tenant_id}/dataset=events_export`,
      `tenant=${tenant.tenant_id}/dataset=events_export`,
    ]);
    const rows: Record<string, unknown>[] = [];
    for (const f of run.file_list) {
      const res = await exports.default.fetch(`http://aforo.test${f.download}`, {
        headers: { authorization: `Bearer ${tenant.operator_token}` },
      });
      expect(res.status).toBe(200);
      const bytes = await res.arrayBuffer();
      const meta = parquetMetadata(bytes);
      expect(meta.schema.find((e) => e.name === "revenue")?.logical_type).toEqual({
        type: "DECIMAL",
        precision: 38,
        scale: 9,
      });
      for (const r of await readExactRows(bytes)) {
        expect((r.event_time as Date).toISOString().slice(0, 10)).toBe(f.date);
        rows.push(r);
      }
    }
    expect(rows.map((r) => r.id).sort()).toEqual(
      [first[2], first[3], first[4]].map((e) => `${e?.customer}|${e?.id}`).sort(),
    );
    const rollups = await ok(
      api(tenant).get(`/api/rollups?granularity=hour&from=${from}&to=${to}`),
    );
    const total = (f: string, scale: number) =>
      (rollups.data as Record<string, string>[]).reduce(
        (n, r) => n + parseScaled(r[f] ?? "0", scale),
        0n,
      );
    const sum = (f: string) => rows.reduce((n, r) => n + BigInt(r[f] as string), 0n);
    expect(sum("quantity")).toBe(total("units", 6));
    expect(sum("revenue")).toBe(total("revenue", 9));
    expect(sum("cost")).toBe(total("cost", 9));
    expect(rows).toHaveLength(
      rollups.data.reduce((n: number, r: { events: number }) => n + r.events, 0),
    );
    // A re-run writes the same bytes.
    const again = await ok(api(tenant).post("/api/exports", { dataset: "events", from, to }));
    expect(again.file_list.map((f: { sha256: string }) => f.sha256)).toEqual(
      run.file_list.map((f: { sha256: string }) => f.sha256),
    );

    // To a webhook: one signed JSON batch with the same rows, money as exact decimal strings.
    const hook = newHook("archive-events");
    const destination = await ok(
      api(tenant).post("/api/exports/destinations", {
        type: "webhook",
        name: "Events",
        url: hook.url,
      }),
    );
    const sent = await ok(
      api(tenant).post("/api/exports", {
        dataset: "events",
        from,
        to,
        destination: destination.id,
        format: "json",
      }),
    );
    expect(sent).toMatchObject({ status: "delivering", rows: 3, files: 1 });
    const batch = createMessageBatch(
      "aforo-deliveries",
      sent.batches.map((b: { id: string }) => ({
        id: `events-${b.id}`,
        timestamp: new Date(),
        attempts: 1,
        body: { tenant_id: tenant.tenant_id, delivery_id: b.id, kind: "export_batch" },
      })),
    );
    const ctx = createExecutionContext();
    await worker.queue(batch, env, ctx);
    await getQueueResult(batch, ctx);
    const [delivered] = (await hook.log()).filter((r) => r.answered === 200);
    const body = new Webhook(destination.secret).verify(
      delivered?.body ?? "",
      delivered?.headers ?? {},
    ) as { data: { dataset: string; schema_version: number; rows: Record<string, unknown>[] } };
    expect(body.data).toMatchObject({ dataset: "events", schema_version: 2 });
    expect(body.data.rows.map((r) => r.id).sort()).toEqual(rows.map((r) => r.id).sort());
    const json = (f: string, scale: number) =>
      body.data.rows.reduce((n, r) => n + parseScaled(String(r[f]), scale), 0n);
    expect(json("quantity", 6)).toBe(total("units", 6));
    expect(json("revenue", 9)).toBe(total("revenue", 9));
    expect(json("cost", 9)).toBe(total("cost", 9));
  });

  it("adds no row for a redelivered batch, an actor's re-send or a re-run, and leaves the bytes alone", async () => {
    const before = await snapshot(tenant);
    // A re-run with nothing new.
    expect(await compactEventArchive(env, tenant.tenant_id, Date.now())).toEqual([]);
    expect(await snapshot(tenant)).toEqual(before);

    // The actor hands everything off again (its cursor lost: a crash between send and cursor).
    await runInDurableObject(actor(tenant, "acme"), async (instance: CustomerActor, state) => {
      state.storage.sql.exec("DELETE FROM meta WHERE key = 'archive_cursor'");
      await internals(instance).runTimer("flush", Date.now());
    });
    await waitStaged(tenant, 3);
    // And a queue batch delivered twice.
    const rows = (await archived(tenant)).filter((r) => r.customer_id === "globex");
    const message: ArchiveMessage = {
      id: `${tenant.tenant_id}:globex:again`,
      tenant_id: tenant.tenant_id,
      customer_id: "globex",
      rows,
    };
    await deliver([message], 1);
    await deliver([message], 2);
    const report = await compactEventArchive(env, tenant.tenant_id, Date.now());
    expect(report.map((p) => [p.date, p.added_rows, p.changed])).toEqual([
      [DATE_A, 0, []],
      [DATE_B, 0, []],
    ]);
    expect((await staged(tenant)).objects).toEqual([]);
    expect(await snapshot(tenant)).toEqual(before);
    expect(await archived(tenant)).toHaveLength(first.length);
  });

  it("puts a late event in its own date's partition, and the manifest says which file changed", async () => {
    const before = await snapshot(tenant);
    await send(tenant, [late]);
    await settle(tenant, ["globex"], first.length + 1);
    await waitStaged(tenant, 1);
    const report = await compactEventArchive(env, tenant.tenant_id, Date.now());
    expect(report.map((p) => [p.date, p.added_rows, p.changed])).toEqual([
      [DATE_A, 1, ["part-00000.parquet"]],
    ]);
    const a = await manifest(tenant, DATE_A);
    expect(a).toMatchObject({
      rows: 4,
      files: [{ name: "part-00000.parquet", rows: 4 }],
      last_compaction: { changed: ["part-00000.parquet"], added_rows: 1 },
    });
    const after = await snapshot(tenant);
    const changed = Object.keys(after).filter((k) => after[k] !== before[k]);
    expect(changed.sort()).toEqual(
      [
        `${partitionPrefix(tenant.tenant_id, DATE_A)}_manifest.json`,
        `${partitionPrefix(tenant.tenant_id, DATE_A)}part-00000.parquet`,
      ].sort(),
    );
    const rows = await archived(tenant, [DATE_A]);
    expect(rows.map((r) => r.event_time)).toEqual(
      [...rows.map((r) => r.event_time)].sort((x, y) => x - y),
    );
    expect(rows.find((r) => r.event_id === late.id)).toMatchObject({
      customer_id: "globex",
      quantity: "5000000000",
    });
  }, 30_000);

  it("recovers from a compaction that rewrote the open part and stopped before its manifest", async () => {
    const extra = tokens("acme", DAY_B + 5 * HOUR, 64, usd(0.064));
    await send(tenant, [extra]);
    await settle(tenant, ["acme"], first.length + 2);
    await waitStaged(tenant, 1);
    // What the stopped run had written: the open part with the staged row merged in.
    const stagedRows: ArchiveRow[] = [];
    for (const key of (await staged(tenant)).objects) {
      stagedRows.push(...parseStaged(await ((await env.EXPORTS.get(key)) as R2ObjectBody).text()));
    }
    const [file] = await archiveDayFiles(env.EXPORTS, tenant.tenant_id, DATE_B);
    const merged = [...(await archived(tenant, [DATE_B])), ...stagedRows].sort(compareArchiveRows);
    await env.EXPORTS.put(file?.key ?? "", archiveParquet(merged));
    const stale = await manifest(tenant, DATE_B);
    expect(stale.rows).toBe(3);

    const report = await compactEventArchive(env, tenant.tenant_id, Date.now());
    expect(report.map((p) => [p.date, p.added_rows, p.changed])).toEqual([
      [DATE_B, 0, ["part-00000.parquet"]],
    ]);
    const repaired = await manifest(tenant, DATE_B);
    const bytes = new Uint8Array(
      await ((await env.EXPORTS.get(file?.key ?? "")) as R2ObjectBody).arrayBuffer(),
    );
    expect(repaired).toMatchObject({
      rows: 4,
      files: [{ name: "part-00000.parquet", rows: 4, sha256: await sha256Hex(bytes) }],
      max_event_time: isoOf(DAY_B + 23 * HOUR + 59 * m),
    });
    const rows = await archived(tenant, [DATE_B]);
    expect(rows.filter((r) => r.event_id === extra.id)).toHaveLength(1);
    expect(rows).toHaveLength(4);
    expect((await staged(tenant)).objects).toEqual([]);
  }, 30_000);

  it("hands off an event whose seq SQLite gave out again after retention emptied the table", async () => {
    const stub = actor(tenant, "acme");
    const cursor = await runInDurableObject(stub, (_i: CustomerActor, state) => {
      const value = state.storage.sql
        .exec<{ value: string }>("SELECT value FROM meta WHERE key = 'archive_cursor'")
        .one().value;
      // Retention took every stored event (as applyRetention would, 35+ days on).
      state.storage.sql.exec("DELETE FROM events");
      return JSON.parse(value) as { seq: number };
    });
    const fresh = tokens("acme", DAY_B + 6 * HOUR, 1);
    await send(tenant, [fresh]);
    const seq = await runInDurableObject(
      stub,
      (_i: CustomerActor, state) =>
        state.storage.sql
          .exec<{ seq: number }>("SELECT seq FROM events WHERE id = ?", fresh.id)
          .one().seq,
    );
    expect(seq).toBeLessThanOrEqual(cursor.seq);
    await settle(tenant, ["acme"], first.length + 3);
    await waitStaged(tenant, 1);
    const report = await compactEventArchive(env, tenant.tenant_id, Date.now());
    expect(report.map((p) => [p.date, p.added_rows])).toEqual([[DATE_B, 1]]);
    expect((await archived(tenant, [DATE_B])).filter((r) => r.event_id === fresh.id)).toHaveLength(
      1,
    );
  }, 30_000);

  it("reaches the archive within the freshness target", () => {
    // Acceptance → staged in R2 is measured here through the real actor flush and queue; the
    // tenant's tick (every five minutes) then compacts, so the archive's bound is the staging
    // lag + one tick + the compaction's own time.
    const bound = stagedAfterMs + 5 * 60_000 + compactionMs;
    console.log(
      `archive freshness: staged ${stagedAfterMs} ms after acceptance, compaction ${compactionMs} ms; bound ${(bound / 60_000).toFixed(2)} min`,
    );
    expect(bound).toBeLessThan(10 * 60_000);
  });
});
