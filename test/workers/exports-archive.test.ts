import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { ArchivePartition } from "../../contracts/exports";
import { archiveDate } from "../../domain/exports/archive-layout";
import { compactEventArchive } from "../../workers/event-archive";
import {
  clockSettled,
  customer,
  DAY,
  HOUR,
  plan,
  product,
  send,
  settle,
  subscribe,
  tokens,
} from "./billing-helpers";
import { call, createTenant, expectProblem, type Tenant } from "./helpers";

// GET /api/exports/archive (issue 16 item 6, the Exports page's archive section): the event
// archive's compacted partitions for a range of UTC dates, read from the index the compaction
// keeps, for the caller's tenant only (query errors named `query.x` like the other read routes). Events go the real way: accepted, rated, handed to the
// archive queue by the actors, staged, then compacted as the tenant's tick does.

let tenant: Tenant;
let other: Tenant;
const TODAY = Math.floor(Date.now() / DAY) * DAY;
const DAY_A = TODAY - 3 * DAY;
const DAY_B = TODAY - DAY;
const DATE_A = archiveDate(DAY_A);
const DATE_B = archiveDate(DAY_B);

const events = [
  tokens("acme", DAY_A + 2 * HOUR, 1_000),
  tokens("acme", DAY_A + 9 * HOUR, 2_000),
  tokens("acme", DAY_B + 5 * HOUR, 3_000),
];

async function setUp(t: Tenant) {
  await clockSettled(t);
  await product(t);
  await plan(t, "payg", [{ type: "per_unit", metric: "input_tokens", unit_price: "0.0001" }]);
  await customer(t, "acme");
  await subscribe(t, "acme", "payg", DAY_A - 10 * DAY);
}

/** Compacts (as the tick does) until the index holds `rows` rows for the tenant. */
async function compactUntil(t: Tenant, rows: number) {
  for (let i = 0; i < 400; i++) {
    await compactEventArchive(env, t.tenant_id, Date.now());
    const n = await env.DB.prepare(
      "SELECT COALESCE(SUM(rows), 0) AS n FROM event_archive_partitions WHERE tenant_id = ?",
    )
      .bind(t.tenant_id)
      .first<{ n: number }>();
    if ((n?.n ?? 0) >= rows) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`the archive did not compact ${rows} rows`);
}

const archive = (t: Tenant, query: string) =>
  call("GET", `/api/exports/archive?${query}`, { token: t.operator_token });

beforeAll(async () => {
  tenant = await createTenant("Archive Page AI");
  other = await createTenant("Archive Page Elsewhere");
  await setUp(tenant);
  await setUp(other);
  await send(tenant, events);
  await send(other, [tokens("acme", DAY_B + 1 * HOUR, 50)]);
  await settle(tenant, ["acme"], events.length);
  await settle(other, ["acme"], 1);
  await compactUntil(tenant, events.length);
  await compactUntil(other, 1);
});

describe("GET /api/exports/archive", () => {
  it("lists the tenant's compacted partitions in the range, oldest first, with their figures", async () => {
    const res = await archive(tenant, `from=${DATE_A}&to=${DATE_B}`);
    expect(res.status).toBe(200);
    const data = res.body.data as ArchivePartition[];
    expect(data.map((p) => [p.date, p.rows])).toEqual([
      [DATE_A, 2],
      [DATE_B, 1],
    ]);
    const [a] = data;
    expect(a?.prefix).toBe(`tenant=${tenant.tenant_id}/dataset=events/date=${DATE_A}/`);
    expect(a?.files).toBeGreaterThanOrEqual(1);
    expect(a?.min_event_time).toBe(new Date(DAY_A + 2 * HOUR).toISOString());
    expect(a?.max_event_time).toBe(new Date(DAY_A + 9 * HOUR).toISOString());
    expect(Date.parse(a?.compacted_at ?? "")).toBeGreaterThan(TODAY - DAY);
    // The bytes are the part files' sizes in the bucket (the manifest is not counted).
    const listed = await env.EXPORTS.list({ prefix: a?.prefix ?? "-" });
    const parts = listed.objects.filter((o) => o.key.endsWith(".parquet"));
    expect(parts).toHaveLength(a?.files ?? -1);
    expect(a?.bytes).toBe(parts.reduce((s, o) => s + o.size, 0));
  });

  it("keeps to the range's dates, both ends inclusive", async () => {
    const one = await archive(tenant, `from=${DATE_B}&to=${DATE_B}`);
    expect((one.body.data as ArchivePartition[]).map((p) => p.date)).toEqual([DATE_B]);
    const none = await archive(tenant, `from=${archiveDate(TODAY)}&to=${archiveDate(TODAY)}`);
    expect(none.body.data).toEqual([]);
  });

  it("shows a tenant only its own partitions", async () => {
    const res = await archive(other, `from=${DATE_A}&to=${DATE_B}`);
    const data = res.body.data as ArchivePartition[];
    expect(data.map((p) => [p.date, p.rows])).toEqual([[DATE_B, 1]]);
    expect(data[0]?.prefix).toContain(`tenant=${other.tenant_id}/`);
  });

  it("refuses a bad range with a problem naming the field", async () => {
    const backwards = await archive(tenant, `from=${DATE_B}&to=${DATE_A}`);
    expectProblem(backwards, 400, "validation_failed");
    expect(backwards.body.errors[0].path).toBe("query.from");
    const long = await archive(tenant, "from=2000-01-01&to=2026-01-01");
    expectProblem(long, 400, "validation_failed");
    expect(long.body.errors[0].path).toBe("query.to");
    const malformed = await archive(tenant, `from=2026-02-30&to=${DATE_B}`);
    expectProblem(malformed, 400, "validation_failed");
    expect(malformed.body.errors[0].path).toBe("query.from");
    expectProblem(await archive(tenant, `from=${DATE_A}`), 400, "validation_failed");
  });

  it("is readable by a viewer, and by nobody without a credential", async () => {
    const issued = await call("POST", "/api/keys", {
      token: tenant.operator_token,
      body: { kind: "operator", role: "viewer", name: "archive viewer" },
    });
    const viewer = await call("GET", `/api/exports/archive?from=${DATE_A}&to=${DATE_B}`, {
      token: issued.body.key as string,
    });
    expect(viewer.status).toBe(200);
    expect(viewer.body.data).toHaveLength(2);
    const anonymous = await call("GET", `/api/exports/archive?from=${DATE_A}&to=${DATE_B}`);
    expect(anonymous.status).toBe(401);
  });
});
