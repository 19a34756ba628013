import {
  createExecutionContext,
  createMessageBatch,
  env,
  getQueueResult,
  runInDurableObject,
} from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import {
  type ArchiveManifest,
  archiveDate,
  manifestKey,
  OPEN_PART_ROWS,
  parseStaged,
  partitionPrefix,
  partName,
  sha256Hex,
  stagingTenantPrefix,
} from "../../domain/exports/archive-layout";
import {
  type ArchiveRow,
  archiveKey,
  archiveParquet,
  compareArchiveRows,
  readArchiveRows,
} from "../../domain/exports/archive-rows";
import type { ArchiveMessage } from "../../durable-objects/archive-feed";
import { CATCH_UP_MS, type ClockRun, TICK_MS } from "../../durable-objects/tenant-clock";
import { archiveDayFiles, compactEventArchiveRuns } from "../../workers/event-archive";
import worker from "../../workers/index";
import type { TenantClock } from "../../workers/tenant-clock";
import { clockSettled, DAY } from "./billing-helpers";
import { createTenant, type Tenant } from "./helpers";

// The event archive under a backlog (issue 16: the archive keeps up with sustained ingest;
// docs/exports.md "Compaction"): one tick compacts run after run while staged rows are left and
// its time budget lasts, each run standing on its own; a part closes at OPEN_PART_ROWS and is
// never rewritten, so a run writes only its own rows; a tick cut short by its budget leaves the
// rest staged for the next; and the parts a run wrote before stopping short of its manifest are
// adopted, not written again. Across all of it every staged event is archived exactly once.
// Rows are staged through the real queue consumer, as the actors' archive feed sends them.

let tenant: Tenant;
const DATE = archiveDate(Math.floor(Date.now() / DAY) * DAY - DAY);
const T0 = Date.parse(`${DATE}T01:00:00Z`);
const ROWS_PER_MESSAGE = 3_000;
/** Rows from here on are twelve hours later than every earlier one (the last test's). */
const LATE_FROM = 54_000;

function row(i: number): ArchiveRow {
  return {
    event_id: `evt_${String(i).padStart(7, "0")}`,
    customer_id: `c${i % 7}`,
    // Interleaved across messages, so a later run's rows fall among an earlier run's times.
    event_time:
      i >= LATE_FROM
        ? T0 + 12 * 3_600_000 + (i - LATE_FROM) * 1_000
        : T0 + (i % ROWS_PER_MESSAGE) * 1_000 + Math.floor(i / ROWS_PER_MESSAGE),
    received_at: T0 + 3_600_000 + i,
    product: "chat-api",
    metric: "input_tokens",
    quantity: String(1_000_000 * (i + 1)),
    revenue: String(123_456_789 * (i + 1)),
    cost: String(3_333 * i),
    cost_status: "priced",
    provider: "anthropic",
    model: "claude-sonnet-4-5",
    input_tokens: 1_000 + i,
    output_tokens: 200,
    cached_input_tokens: null,
    subscription_id: "sub_1",
    flags: "",
    source: "api",
    properties: null,
  };
}

/** Message `m` of the feed: rows [m × ROWS_PER_MESSAGE, (m + 1) × ROWS_PER_MESSAGE). */
function message(m: number): ArchiveMessage {
  const rows = Array.from({ length: ROWS_PER_MESSAGE }, (_, i) => row(m * ROWS_PER_MESSAGE + i));
  return {
    id: `${tenant.tenant_id}:feed:${m}`,
    tenant_id: tenant.tenant_id,
    customer_id: "c0",
    rows,
  };
}

async function deliver(messages: ArchiveMessage[]) {
  const batch = createMessageBatch<ArchiveMessage>(
    "aforo-archive",
    messages.map((body, i) => ({
      id: `b-${body.id}-${i}`,
      timestamp: new Date(),
      attempts: 1,
      body,
    })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch, env, ctx);
  const result = await getQueueResult(batch, ctx);
  expect(result.explicitAcks).toHaveLength(messages.length);
}

async function stagedObjects(): Promise<{ key: string; size: number }[]> {
  const list = await env.EXPORTS.list({ prefix: stagingTenantPrefix(tenant.tenant_id) });
  return list.objects.map((o) => ({ key: o.key, size: o.size }));
}

/** The keys of the rows still staged. */
async function stagedKeys(): Promise<Set<string>> {
  const keys = new Set<string>();
  for (const { key } of await stagedObjects()) {
    const body = (await env.EXPORTS.get(key)) as R2ObjectBody;
    for (const r of parseStaged(await body.text())) keys.add(archiveKey(r));
  }
  return keys;
}

async function manifest(): Promise<ArchiveManifest> {
  const object = await env.EXPORTS.get(manifestKey(tenant.tenant_id, DATE));
  if (!object) throw new Error(`no manifest for ${DATE}`);
  return object.json();
}

/** Every part object of the partition (listed or not) → its rows, read back with hyparquet. */
async function storedParts(): Promise<Map<string, ArchiveRow[]>> {
  const prefix = partitionPrefix(tenant.tenant_id, DATE);
  const out = new Map<string, ArchiveRow[]>();
  const list = await env.EXPORTS.list({ prefix });
  for (const o of list.objects) {
    if (!o.key.endsWith(".parquet")) continue;
    const body = (await env.EXPORTS.get(o.key)) as R2ObjectBody;
    out.set(o.key.slice(prefix.length), await readArchiveRows(await body.arrayBuffer()));
  }
  return out;
}

async function digests(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const list = await env.EXPORTS.list({ prefix: partitionPrefix(tenant.tenant_id, DATE) });
  for (const o of list.objects) {
    const body = (await env.EXPORTS.get(o.key)) as R2ObjectBody;
    out[o.key] = await sha256Hex(new Uint8Array(await body.arrayBuffer()));
  }
  return out;
}

/** The archive holds each of rows [0, n) but the `staged` ones exactly once, in the files the
 * manifest lists (and nowhere else), each file sorted, and the manifest's entries are the files
 * as stored. */
async function expectArchivedOnce(n: number, staged: ReadonlySet<string> = new Set()) {
  const m = await manifest();
  const parts = await storedParts();
  expect([...parts.keys()].sort()).toEqual(m.files.map((f) => f.name));
  const keys: string[] = [];
  for (const file of await archiveDayFiles(env.EXPORTS, tenant.tenant_id, DATE)) {
    const rows = parts.get(file.name) ?? [];
    expect(rows).toHaveLength(file.rows);
    expect(rows).toEqual([...rows].sort(compareArchiveRows));
    const body = (await env.EXPORTS.get(file.key)) as R2ObjectBody;
    expect(file.sha256).toBe(await sha256Hex(new Uint8Array(await body.arrayBuffer())));
    keys.push(...rows.map(archiveKey));
  }
  const expected = Array.from({ length: n }, (_, i) => archiveKey(row(i))).filter(
    (k) => !staged.has(k),
  );
  expect(keys).toHaveLength(expected.length);
  expect(new Set(keys)).toEqual(new Set(expected));
  expect(m.rows).toBe(expected.length);
}

beforeAll(async () => {
  tenant = await createTenant("Archive Backlog");
  await clockSettled(tenant);
});

describe("the event archive under a backlog", () => {
  it("compacts run after run within one tick, closing parts at OPEN_PART_ROWS", async () => {
    // Ten messages, 30,000 events; each run may read two staged objects (6,000 events).
    await deliver(Array.from({ length: 10 }, (_, m) => message(m)));
    const objects = await stagedObjects();
    expect(objects).toHaveLength(10);
    const runBytes = 2 * Math.max(...objects.map((o) => o.size));

    const tick = await compactEventArchiveRuns(env, tenant.tenant_id, Date.now(), { runBytes });
    expect(tick.backlog).toBe(false);
    expect(tick.runs.map((r) => [r.staged_objects, r.added_rows])).toEqual([
      [2, 6_000],
      [2, 6_000],
      [2, 6_000],
      [2, 6_000],
      [2, 6_000],
    ]);
    expect(tick.runs.every((r) => r.ms >= 0 && r.staged_bytes > 0)).toBe(true);
    expect(tick.partitions).toEqual([
      {
        date: DATE,
        staged: 10,
        added_rows: 30_000,
        changed: [partName(0), partName(1), partName(2)],
      },
    ]);
    expect(await stagedObjects()).toEqual([]);
    // Run 1 starts part 0 (6,000 rows: open), run 2 fills it past OPEN_PART_ROWS (closed), run 3
    // starts part 1, and so on: no part was rewritten once it held OPEN_PART_ROWS.
    expect((await manifest()).files.map((f) => f.rows)).toEqual([12_000, 12_000, 6_000]);
    expect(OPEN_PART_ROWS).toBeLessThan(12_000);
    await expectArchivedOnce(30_000);
  }, 120_000);

  it("never rewrites a closed part, and adds nothing for a redelivered message", async () => {
    const before = await digests();
    const prefix = partitionPrefix(tenant.tenant_id, DATE);
    // Two more messages, and message 3 again (a redelivery: its rows are archived already).
    await deliver([message(10), message(11), message(3)]);
    const tick = await compactEventArchiveRuns(env, tenant.tenant_id, Date.now());
    expect(tick.runs).toHaveLength(1);
    expect(tick.partitions).toEqual([
      { date: DATE, staged: 3, added_rows: 6_000, changed: [partName(2)] },
    ]);
    const after = await digests();
    expect(after[`${prefix}${partName(0)}`]).toBe(before[`${prefix}${partName(0)}`]);
    expect(after[`${prefix}${partName(1)}`]).toBe(before[`${prefix}${partName(1)}`]);
    expect(after[`${prefix}${partName(2)}`]).not.toBe(before[`${prefix}${partName(2)}`]);
    await expectArchivedOnce(36_000);

    // The same redelivery once part 2 is closed too: nothing added, not a byte changed.
    await deliver([message(11)]);
    const again = await compactEventArchiveRuns(env, tenant.tenant_id, Date.now());
    expect(again.partitions).toEqual([{ date: DATE, staged: 1, added_rows: 0, changed: [] }]);
    expect(await digests()).toEqual(after);
    expect(await stagedObjects()).toEqual([]);
  }, 120_000);

  it("leaves the rest staged when the tick's time budget runs out, for the next tick", async () => {
    await deliver([message(12), message(13), message(14)]);
    const runBytes = Math.max(...(await stagedObjects()).map((o) => o.size));
    const cut = await compactEventArchiveRuns(env, tenant.tenant_id, Date.now(), {
      runBytes,
      budgetMs: 0,
    });
    expect(cut.runs).toHaveLength(1);
    expect(cut.backlog).toBe(true);
    expect(await stagedObjects()).toHaveLength(2);
    const left = await stagedKeys();
    expect(left.size).toBe(2 * ROWS_PER_MESSAGE);
    await expectArchivedOnce(45_000, left);

    const next = await compactEventArchiveRuns(env, tenant.tenant_id, Date.now(), { runBytes });
    expect(next.runs).toHaveLength(2);
    expect(next.backlog).toBe(false);
    expect(await stagedObjects()).toEqual([]);
    await expectArchivedOnce(45_000);
  }, 120_000);

  it("adopts the parts a run wrote and stopped before its manifest, writing none of their rows again", async () => {
    // The open part (9,000 rows) gets message 15 and closes.
    await deliver([message(15)]);
    await compactEventArchiveRuns(env, tenant.tenant_id, Date.now());
    const listed = await manifest();
    expect(listed.files.map((f) => f.rows)).toEqual([12_000, 12_000, 12_000, 12_000]);

    // A run with messages 16 and 17 put a new part with message 16's rows, then stopped.
    await deliver([message(16), message(17)]);
    const stray = partName(4);
    const strayKey = `${partitionPrefix(tenant.tenant_id, DATE)}${stray}`;
    await env.EXPORTS.put(strayKey, archiveParquet(message(16).rows.sort(compareArchiveRows)));

    const tick = await compactEventArchiveRuns(env, tenant.tenant_id, Date.now());
    // The stray part is listed, its rows not staged again: only message 17's rows are new, and
    // they join it (the last part, and small enough to be open).
    expect(tick.partitions).toEqual([
      { date: DATE, staged: 2, added_rows: ROWS_PER_MESSAGE, changed: [stray] },
    ]);
    const m = await manifest();
    expect(m.files.map((f) => [f.name, f.rows])).toEqual([
      [partName(0), 12_000],
      [partName(1), 12_000],
      [partName(2), 12_000],
      [partName(3), 12_000],
      [stray, 2 * ROWS_PER_MESSAGE],
    ]);
    expect(m.last_compaction).toMatchObject({ added_rows: ROWS_PER_MESSAGE });
    await expectArchivedOnce(54_000);
  }, 120_000);

  it("reads only the parts whose event times a run's rows fall in (and always the open part)", async () => {
    await deliver([message(18)]);
    const reads = new Set<string>();
    const bucket = new Proxy(env.EXPORTS, {
      get(target, prop) {
        const value = Reflect.get(target, prop);
        if (prop === "get" || prop === "head") {
          return (key: string, o?: R2GetOptions) => {
            reads.add(key);
            return prop === "get" ? target.get(key, o) : target.head(key);
          };
        }
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const tick = await compactEventArchiveRuns(
      { ...env, EXPORTS: bucket },
      tenant.tenant_id,
      Date.now(),
    );
    expect(tick.partitions).toEqual([
      { date: DATE, staged: 1, added_rows: ROWS_PER_MESSAGE, changed: [partName(4)] },
    ]);
    const prefix = partitionPrefix(tenant.tenant_id, DATE);
    const partsRead = [...reads].filter((k) => k.startsWith(prefix) && k.endsWith(".parquet"));
    expect(partsRead).toEqual([`${prefix}${partName(4)}`]);
    await expectArchivedOnce(57_000);

    // And a copy of one of them, staged again, is still found (its time is its event's).
    await deliver([message(18)]);
    const again = await compactEventArchiveRuns(env, tenant.tenant_id, Date.now());
    expect(again.partitions).toEqual([{ date: DATE, staged: 1, added_rows: 0, changed: [] }]);
    await expectArchivedOnce(57_000);
  }, 120_000);
});

describe("the tenant clock under a backlog", () => {
  it("comes back within a second while a run leaves a backlog, for the backlog alone, until the tick is due", async () => {
    const stub = env.TENANT_CLOCK.getByName(tenant.tenant_id);
    await runInDurableObject(stub, async (clock: TenantClock, state) => {
      // The clock's own timing around stand-in jobs that report a backlog while `backlog` holds.
      // The alarm it arms (a second on) may also fire while this runs: counted, not listed.
      const calls: string[] = [];
      const count = (call: string) => calls.filter((c) => c === call).length;
      let backlog = true;
      const jobs = clock as unknown as Record<"runJobs" | "catchUp", () => Promise<ClockRun>>;
      jobs.runJobs = async () => {
        calls.push("tick");
        return { backlog };
      };
      jobs.catchUp = async () => {
        calls.push("catch-up");
        return { backlog };
      };
      try {
        await state.storage.put("lastRun", Date.now() - TICK_MS);
        const t0 = Date.now();
        await clock.alarm();
        const last = (await state.storage.get<number>("lastRun")) as number;
        expect(calls).toEqual(["tick"]);
        expect(last).toBeGreaterThanOrEqual(t0);
        const soon = (await state.storage.getAlarm()) as number;
        expect(soon).toBeGreaterThanOrEqual(t0 + CATCH_UP_MS);
        expect(soon).toBeLessThanOrEqual(Date.now() + CATCH_UP_MS);

        // Before the tick is due: the backlog only, and the tick's time stays where it was.
        await clock.alarm();
        expect([count("tick"), calls.at(-1)]).toEqual([1, "catch-up"]);
        expect(await state.storage.getAlarm()).toBeLessThanOrEqual(Date.now() + CATCH_UP_MS);
        backlog = false;
        await clock.alarm();
        expect([count("tick"), calls.at(-1)]).toEqual([1, "catch-up"]);
        expect(await state.storage.get("lastRun")).toBe(last);
        expect(await state.storage.getAlarm()).toBe(last + TICK_MS);

        // A backlog never pushes the tick back: once it is due, the tick runs.
        backlog = true;
        await state.storage.put("lastRun", Date.now() - TICK_MS);
        await clock.alarm();
        expect(calls.at(-1)).toBe("tick");

        // The cron's poke runs a due tick too, and a backlog it leaves brings the alarm forward.
        await state.storage.put("lastRun", Date.now() - TICK_MS);
        await state.storage.setAlarm(Date.now() + TICK_MS);
        const poked = await clock.tick(tenant.tenant_id);
        expect(poked.ran).toBe(true);
        expect(calls.at(-1)).toBe("tick");
        expect(poked.next).toBeLessThanOrEqual(Date.now() + CATCH_UP_MS);
        expect(await state.storage.getAlarm()).toBe(poked.next);
      } finally {
        delete (jobs as Partial<typeof jobs>).runJobs;
        delete (jobs as Partial<typeof jobs>).catchUp;
        await state.storage.setAlarm(Date.now() + TICK_MS);
      }
    });
  });
});
