import { env, runInDurableObject } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { archiveDate, stagingTenantPrefix } from "../../domain/exports/archive-layout";
import { replayKey } from "../../domain/exports/archive-replay";
import { toMicros, toNanos } from "../../domain/money";
import { DAY_MS } from "../../domain/time";
import { hourlyRollupsOfDay, rebuildDayStatements } from "../../store/rollup-rebuild";
import { applyBatchStatements } from "../../store/rollups";
import { runTenantJobs } from "../../workers/periodic";
import {
  actor,
  api,
  clockSettled,
  customer,
  HOUR,
  isoOf,
  ok,
  plan,
  product,
  send,
  settle,
  subscribe,
  tokens,
} from "./billing-helpers";
import { call, createTenant, expectProblem, type Tenant } from "./helpers";

// Rebuilding a tenant's D1 rollups from the event archive (POST /api/exports/archive/replay,
// docs/exports.md "Replay: rollups from the archive"): events ingested and compacted, one hour
// of D1 corrupted (a row changed, one deleted, a stray one added), a dry run reports exactly
// those rows, and apply brings rollups_hourly, rollups_daily, rollups_weekly and the tenant
// rollups back to what ingest wrote, to the nano, leaving another tenant's rollups alone.

let tenant: Tenant;
let other: Tenant;
const TODAY = Math.floor(Date.now() / DAY_MS) * DAY_MS;
const DAY_A = TODAY - 2 * DAY_MS;
const DAY_B = TODAY - DAY_MS;
const DATE_A = archiveDate(DAY_A);
const DATE_B = archiveDate(DAY_B);
const m = 60_000;
const usd = (value: number) => ({
  cost: { usd: value, provider: "anthropic", model: "claude-sonnet-4-5" },
});
const events = [
  tokens("acme", DAY_A + 3 * HOUR, 1_000, usd(0.123456789)),
  tokens("acme", DAY_A + 3 * HOUR + 5 * m, 2_500, usd(0.000000001)),
  tokens("globex", DAY_A + 3 * HOUR + 10 * m, 7_777, { metric: "output_tokens", ...usd(1.5) }),
  // No cost: an uncosted event, so the uncosted columns are rebuilt too.
  tokens("globex", DAY_A + 22 * HOUR, 500),
  tokens("acme", DAY_B + 1 * HOUR, 333, usd(0.333333333)),
  tokens("globex", DAY_B + 23 * HOUR + 59 * m, 42, { metric: "output_tokens", ...usd(2) }),
];

const ROLLUP_READS = (from: number, to: number) =>
  ["hour", "day"].map(
    (g) =>
      `/api/rollups?granularity=${g}&group_by=customer,product,metric&from=${isoOf(from)}&to=${isoOf(to)}`,
  );

/** Every rollup table the rebuild keeps, as text, for the tenant (all-zero weekly rows left out:
 * a day deleted and derived again leaves its week's row at zero, which adds nothing). */
async function tables(t: Tenant) {
  const out: Record<string, unknown[]> = {};
  const read = async (name: string, sql: string) => {
    const { results } = await env.DB.prepare(sql).bind(t.tenant_id).all();
    out[name] = results;
  };
  const amounts = `CAST(units AS TEXT) AS u, CAST(revenue AS TEXT) AS r, CAST(cost AS TEXT) AS c,
    events, uncosted_events, CAST(uncosted_revenue AS TEXT) AS ur`;
  const keys = "start, customer_id, product_id, metric_id";
  for (const table of ["rollups_hourly", "rollups_daily"]) {
    await read(
      table,
      `SELECT ${keys}, ${amounts} FROM ${table} WHERE tenant_id = ? ORDER BY ${keys}`,
    );
  }
  await read(
    "rollups_weekly",
    `SELECT ${keys}, ${amounts} FROM rollups_weekly WHERE tenant_id = ?
       AND (units <> 0 OR revenue <> 0 OR cost <> 0 OR events <> 0 OR uncosted_events <> 0
         OR uncosted_revenue <> 0)
     ORDER BY ${keys}`,
  );
  for (const table of ["rollups_tenant_hourly", "rollups_tenant_daily"]) {
    await read(
      table,
      `SELECT start, product_id, metric_id, units_hi, units_lo, revenue_hi, revenue_lo, cost_hi,
         cost_lo, events, uncosted_events, uncosted_revenue_hi, uncosted_revenue_lo
       FROM ${table} WHERE tenant_id = ? ORDER BY start, product_id, metric_id`,
    );
  }
  return out;
}

async function reads(t: Tenant) {
  return Promise.all(ROLLUP_READS(DAY_A - 7 * DAY_MS, TODAY).map((p) => ok(api(t).get(p))));
}

async function waitStaged(t: Tenant) {
  for (let i = 0; i < 400; i++) {
    const list = await env.EXPORTS.list({ prefix: stagingTenantPrefix(t.tenant_id) });
    if (list.objects.length > 0) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error("the archive queue staged nothing");
}

/** Compacts until nothing of the tenant is staged (the feed may still be handing rows over). */
async function compacted(t: Tenant, count: number) {
  for (let i = 0; i < 400; i++) {
    await runTenantJobs(env, t.tenant_id, Date.now());
    const rows = await env.DB.prepare(
      "SELECT COALESCE(SUM(rows), 0) AS n FROM event_archive_partitions WHERE tenant_id = ?",
    )
      .bind(t.tenant_id)
      .first<{ n: number }>();
    const staged = await env.EXPORTS.list({ prefix: stagingTenantPrefix(t.tenant_id) });
    if (Number(rows?.n) >= count && staged.objects.length === 0) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`the archive did not reach ${count} rows`);
}

/** An outbox batch the archive never saw: its deltas reach every rollup table, as a stray
 * consumer write would. */
async function strayBatch(t: Tenant, customerId: string, hour: number, metric: string) {
  await env.DB.batch(
    applyBatchStatements(
      env.DB,
      [
        {
          batch_id: `stray-${customerId}-${hour}-${Math.random()}`,
          tenant_id: t.tenant_id,
          customer_id: customerId,
          deltas: [
            {
              hour,
              product: "chat-api",
              metric,
              units: "1",
              revenue: "1",
              cost: "3",
              events: 1,
              uncosted_events: 0,
              uncosted_revenue: "0",
            },
          ],
        },
      ],
      Date.now(),
    ),
  );
}

const replay = (t: Tenant, body: unknown) =>
  call("POST", "/api/exports/archive/replay", { token: t.operator_token, body });

let beforeTables: Record<string, unknown[]>;
let beforeReads: unknown[];
let otherTables: Record<string, unknown[]>;

beforeAll(async () => {
  tenant = await createTenant("Replay AI");
  other = await createTenant("Replay Elsewhere");
  await clockSettled(tenant);
  await clockSettled(other);
  for (const t of [tenant, other]) {
    await product(t);
    await plan(t, "payg", [
      { type: "per_unit", metric: "input_tokens", unit_price: "0.000123457" },
      { type: "per_unit", metric: "output_tokens", unit_price: "0.002" },
    ]);
  }
  for (const id of ["acme", "globex"]) {
    await customer(tenant, id);
    await subscribe(tenant, id, "payg", DAY_A - 10 * DAY_MS);
  }
  await customer(other, "acme");
  await subscribe(other, "acme", "payg", DAY_A - 10 * DAY_MS);
  await send(tenant, events);
  await send(other, [tokens("acme", DAY_A + 3 * HOUR, 99, usd(9))]);
  await settle(tenant, ["acme", "globex"], events.length);
  await settle(other, ["acme"], 1);
  await waitStaged(tenant);
  await waitStaged(other);
  await compacted(tenant, events.length);
  await compacted(other, 1);
  beforeTables = await tables(tenant);
  beforeReads = await reads(tenant);
  otherTables = await tables(other);
}, 60_000);

describe("POST /api/exports/archive/replay", () => {
  it("finds D1 equal to the archive after ingest, every column included", async () => {
    const res = await ok(replay(tenant, { from: DATE_A, to: DATE_B }));
    expect(res).toMatchObject({ from: DATE_A, to: DATE_B, applied: false, warnings: [] });
    expect(res.dates).toMatchObject([
      {
        date: DATE_A,
        archive_partition: true,
        staged: false,
        matches: true,
        rows: { matching: 3, differing: 0, missing_in_d1: 0, only_in_d1: 0 },
        samples: [],
        rebuilt: null,
      },
      { date: DATE_B, matches: true, rows: { matching: 2 }, rebuilt: null },
    ]);
    const a = res.dates[0];
    expect(a.archive).toEqual(a.d1);
    expect(a.archive.events).toBe(4);
    expect(a.archive.uncosted_events).toBe(1);
    expect(res.not_rebuilt.map((n: { table: string }) => n.table)).toContain(
      "customer_api_key_usage_daily",
    );
  });

  it("reports exactly the corrupted rows of one hour, and apply repairs every rollup to the nano", async () => {
    const hour = DAY_A + 3 * HOUR;
    // A row changed (a delta applied twice) and a stray customer's row, through the real write
    // path; a row deleted from the hour and its day (the day's trigger moves its week).
    await strayBatch(tenant, "acme", hour, "input_tokens");
    await strayBatch(tenant, "initech", hour, "input_tokens");
    const gone = await env.DB.prepare(
      `SELECT units, revenue, cost, events, uncosted_events, uncosted_revenue FROM rollups_hourly
       WHERE tenant_id = ?1 AND start = ?2 AND customer_id = 'globex' AND metric_id = 'output_tokens'`,
    )
      .bind(tenant.tenant_id, hour)
      .first<Record<string, number>>();
    expect(gone).not.toBeNull();
    await env.DB.batch([
      env.DB.prepare(
        `DELETE FROM rollups_hourly WHERE tenant_id = ?1 AND start = ?2 AND customer_id = 'globex'
           AND metric_id = 'output_tokens'`,
      ).bind(tenant.tenant_id, hour),
      env.DB.prepare(
        `UPDATE rollups_daily SET units = units - ?3, revenue = revenue - ?4, cost = cost - ?5,
           events = events - ?6
         WHERE tenant_id = ?1 AND start = ?2 AND customer_id = 'globex' AND metric_id = 'output_tokens'`,
      ).bind(tenant.tenant_id, DAY_A, gone?.units, gone?.revenue, gone?.cost, gone?.events),
    ]);
    expect(await tables(tenant)).not.toEqual(beforeTables);

    const dry = await ok(replay(tenant, { from: DATE_A, to: DATE_B }));
    const a = dry.dates[0];
    expect(a).toMatchObject({
      date: DATE_A,
      matches: false,
      rows: { matching: 1, differing: 1, missing_in_d1: 1, only_in_d1: 1 },
      rebuilt: null,
    });
    expect(a.d1.events - a.archive.events).toBe(1 + 1 - 1);
    const at = isoOf(hour);
    expect(
      a.samples.map((s: { customer: string; hour: string; metric: string; kind: string }) => [
        s.customer,
        s.hour,
        s.metric,
        s.kind,
      ]),
    ).toEqual([
      ["acme", at, "input_tokens", "differs"],
      ["globex", at, "output_tokens", "missing_in_d1"],
      ["initech", at, "input_tokens", "only_in_d1"],
    ]);
    const acme = a.samples[0];
    // The archive's row and D1's, one nano, one micro-unit and three nanos of cost apart.
    expect(acme.d1.events).toBe(acme.archive.events + 1);
    expect(toNanos(acme.d1.revenue) - toNanos(acme.archive.revenue)).toBe(1n);
    expect(toNanos(acme.d1.cost) - toNanos(acme.archive.cost)).toBe(3n);
    expect(toMicros(acme.d1.units) - toMicros(acme.archive.units)).toBe(1n);
    expect(dry.dates[1]).toMatchObject({ date: DATE_B, matches: true });
    // A dry run writes nothing.
    expect((await tables(tenant)).rollups_hourly).toHaveLength(
      beforeTables.rollups_hourly?.length ?? 0,
    );

    const applied = await ok(replay(tenant, { from: DATE_A, to: DATE_B, apply: true }));
    expect(applied).toMatchObject({ applied: true, warnings: [] });
    expect(applied.dates[0]).toMatchObject({
      date: DATE_A,
      matches: false,
      rows: { matching: 1, differing: 1, missing_in_d1: 1, only_in_d1: 1 },
      rebuilt: {
        rows_set: 2,
        rows_deleted: 1,
        matches: true,
        rows: { matching: 3, differing: 0, missing_in_d1: 0, only_in_d1: 0 },
      },
    });
    expect(applied.dates[0].rebuilt.d1).toEqual(applied.dates[0].archive);
    expect(applied.dates[1]).toMatchObject({ date: DATE_B, matches: true, rebuilt: null });

    // Every table as ingest wrote it, to the nano; the API's reads too.
    expect(await tables(tenant)).toEqual(beforeTables);
    expect(await reads(tenant)).toEqual(beforeReads);
    // The other tenant's rollups untouched.
    expect(await tables(other)).toEqual(otherTables);

    // Again: nothing differs, nothing is written.
    const again = await ok(replay(tenant, { from: DATE_A, to: DATE_B, apply: true }));
    expect(
      again.dates.map((d: { matches: boolean; rebuilt: unknown }) => [d.matches, d.rebuilt]),
    ).toEqual([
      [true, null],
      [true, null],
    ]);
  });

  it("leaves a date unchanged when live events reach it between the read and the write", async () => {
    const hour = DAY_B + HOUR;
    const read = await hourlyRollupsOfDay(env.DB, tenant.tenant_id, DAY_B);
    await strayBatch(tenant, "acme", hour, "input_tokens"); // a live batch, applied meanwhile
    const during = await tables(tenant);
    const writes = {
      set: [[replayKey("acme", hour, "chat-api", "input_tokens"), [...read.rows.values()][0]]] as [
        string,
        NonNullable<ReturnType<typeof read.rows.get>>,
      ][],
      delete: [],
    };
    await expect(
      env.DB.batch(rebuildDayStatements(env.DB, tenant.tenant_id, DAY_B, read.fingerprint, writes)),
    ).rejects.toThrow(/malformed JSON/);
    expect(await tables(tenant)).toEqual(during);
    // The route's own rebuild then repairs it.
    await ok(replay(tenant, { from: DATE_B, to: DATE_B, apply: true }));
    expect(await tables(tenant)).toEqual(beforeTables);
  });

  it("refuses a date whose usage an actor holds that D1 has not applied yet", async () => {
    const hour = DAY_B + HOUR;
    await strayBatch(tenant, "acme", hour, "input_tokens");
    // An outbox row the events queue has not delivered: its events may be archived already.
    const body = JSON.stringify({
      deltas: [
        {
          hour,
          product: "chat-api",
          metric: "input_tokens",
          units: "1",
          revenue: "1",
          cost: "0",
          events: 1,
        },
      ],
    });
    const outbox = (sql: string, ...values: SqlStorageValue[]) =>
      runInDurableObject(actor(tenant, "acme"), (_, state) => {
        state.storage.sql.exec(sql, ...values);
      });
    await outbox(
      "INSERT INTO outbox (seq, body, created_at) VALUES (999999, ?, ?)",
      body,
      Date.now(),
    );
    const during = await tables(tenant);
    const res = await replay(tenant, { from: DATE_B, to: DATE_B, apply: true });
    expectProblem(res, 409, "conflict");
    expect(res.body.detail).toContain("acme");
    expect(await tables(tenant)).toEqual(during);
    await outbox("DELETE FROM outbox WHERE seq = 999999");
    await ok(replay(tenant, { from: DATE_B, to: DATE_B, apply: true }));
    expect(await tables(tenant)).toEqual(beforeTables);
  });

  it("refuses to apply to today, to dates with staged events, and where the archive has no partition", async () => {
    const today = archiveDate(TODAY);
    expectProblem(await replay(tenant, { from: DATE_B, to: today, apply: true }), 409, "conflict");
    // A dry run of today answers, with a warning.
    const dry = await ok(replay(tenant, { from: today, to: today }));
    expect(dry.warnings).toHaveLength(1);

    // D1 usage on a date the archive never held: a rebuild would delete it.
    const old = DAY_A - 5 * DAY_MS;
    await strayBatch(tenant, "acme", old + HOUR, "input_tokens");
    const res = await replay(tenant, { from: archiveDate(old), to: archiveDate(old), apply: true });
    expectProblem(res, 422, "unprocessable");
    expect(res.body.detail).toContain(archiveDate(old));

    // A late event staged, not yet compacted: D1 counts it, the archive not yet.
    await send(tenant, [tokens("globex", DAY_A + 4 * HOUR, 5_000, usd(0.05))]);
    await settle(tenant, ["globex"], events.length + 2);
    await waitStaged(tenant);
    const lagging = await replay(tenant, { from: DATE_A, to: DATE_A, apply: true });
    expectProblem(lagging, 409, "conflict");
    expect(lagging.body.detail).toContain(DATE_A);
    const warned = await ok(replay(tenant, { from: DATE_A, to: DATE_A }));
    expect(warned.dates[0]).toMatchObject({
      staged: true,
      rows: { missing_in_d1: 0, only_in_d1: 1 },
    });
    // Compacted, the date matches again.
    await compacted(tenant, events.length + 1);
    const settled = await ok(replay(tenant, { from: DATE_A, to: DATE_A }));
    expect(settled.dates[0]).toMatchObject({ staged: false, matches: true });
  }, 30_000);

  it("answers a bad range with problem+json naming the field, and refuses a viewer", async () => {
    for (const [body, path] of [
      [{ from: "2026-13-01", to: DATE_B }, "from"],
      [{ from: DATE_B, to: DATE_A }, "from"],
      [{ from: archiveDate(DAY_B - 31 * DAY_MS), to: DATE_B }, "to"],
      [{ from: DATE_A, to: DATE_B, apply: "yes" }, "apply"],
    ] as const) {
      const res = await replay(tenant, body);
      expectProblem(res, 400, "validation_failed");
      expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(path);
    }
    const issued = await ok(
      call("POST", "/api/keys", {
        token: tenant.operator_token,
        body: { kind: "operator", role: "viewer", name: "replay viewer" },
      }),
    );
    const res = await call("POST", "/api/exports/archive/replay", {
      token: issued.key,
      body: { from: DATE_A, to: DATE_B },
    });
    expectProblem(res, 403, "forbidden");
    expect(res.body.detail).toContain("pipeline:operate");
  });
});
