import { readdirSync, readFileSync } from "node:fs";
import { DatabaseSync } from "node:sqlite";
import type { CompiledQuery } from "kysely";
import { beforeAll, describe, expect, it } from "vitest";
import type { ReportQuery } from "../../../contracts/reports";
import { compileReport } from "../../../domain/reports/compile";
import { checkQuery } from "../../../domain/reports/query";
import { DAY_MS } from "../../../domain/time";

// domain/reports/compile.ts, usage by the cost's provider and model: read from the tenant's
// model tables (schema/0024_model_rollups.sql), daily or hourly as the buckets allow, '' answered
// empty as the events dataset answers it, exact past 2^63 (the halves), the tenant constrained.
// Executed on SQLite (node:sqlite) over the real migrations.

const T = (iso: string) => Date.parse(iso);
const TENANT = "ten_a";
const OTHER = "ten_b";
const NOW = T("2026-04-15T12:00:00Z");
const MARCH = { from: "2026-03-01T00:00:00Z", to: "2026-04-01T00:00:00Z", time_zone: "UTC" };
const B = 1_000_000_000n;

function compiled(q: ReportQuery, tenant = TENANT) {
  const c = checkQuery(q, "UTC");
  if (!c.ok) throw new Error(JSON.stringify(c.issues));
  return compileReport(tenant, c.query, c.from, c.to, NOW);
}

const byModel: ReportQuery = {
  dataset: "usage",
  measures: ["cogs", "revenue", "margin_pct", "events", "units"],
  dimensions: ["provider", "model", "product"],
  time: MARCH,
};

describe("usage by provider and model: the table", () => {
  it("reads the model tables whenever provider or model is cut or filtered on", () => {
    const table = (over: Partial<ReportQuery>) => compiled({ ...byModel, ...over }).table;
    expect(table({})).toBe("rollups_model_tenant_daily");
    expect(table({ dimensions: ["time", "model"], time: { ...MARCH, granularity: "week" } })).toBe(
      "rollups_model_tenant_daily",
    );
    // Hours of the week need hours.
    expect(table({ dimensions: ["hour_of_week", "provider"] })).toBe("rollups_model_tenant_hourly");
    expect(
      table({ dimensions: ["time", "provider"], time: { ...MARCH, granularity: "hour" } }),
    ).toBe("rollups_model_tenant_hourly");
    // A provider filter alone moves the rows and the totals there too.
    const filtered = compiled({
      ...byModel,
      dimensions: ["product"],
      filters: [{ dimension: "provider", op: "is", values: ["openai"] }],
      compare_to: "previous_period",
    });
    expect([filtered.table, filtered.totalsTable]).toEqual([
      "rollups_model_tenant_daily",
      "rollups_model_tenant_daily",
    ]);
    // Rows by model are totalled from the same table, so they add up to the totals.
    expect(compiled(byModel).totalsTable).toBe("rollups_model_tenant_daily");
    // Without provider or model, the tenant tables as before.
    expect(table({ dimensions: ["product", "metric"] })).toBe("rollups_tenant_daily");
  });

  it("binds the tenant and every value, never in the SQL text", () => {
    const r = compiled({
      ...byModel,
      filters: [{ dimension: "model", op: "is", values: ["x' OR 1=1 --"] }],
    });
    for (const s of [r.rows, r.totals]) {
      expect(s.sql).not.toContain("OR 1=1");
      expect(s.sql).not.toContain(TENANT);
      expect(s.parameters).toContain(TENANT);
    }
  });
});

describe("usage by provider and model on SQLite (the real migrations)", () => {
  let db: DatabaseSync;
  const run = (q: CompiledQuery) =>
    db.prepare(q.sql).all(...(q.parameters as (string | number)[])) as Record<string, unknown>[];
  const answer = (q: ReportQuery, tenant = TENANT) => {
    const r = compiled(q, tenant);
    return r.decode(run(r.rows), run(r.totals)[0] ?? null, null);
  };

  beforeAll(() => {
    db = new DatabaseSync(":memory:", { enableForeignKeyConstraints: false });
    for (const f of readdirSync("schema")
      .filter((x) => x.endsWith(".sql"))
      .sort()) {
      db.exec(readFileSync(`schema/${f}`, "utf8"));
    }
    const insert = (
      tenant: string,
      start: number,
      provider: string,
      model: string,
      revenue: bigint,
      cost: bigint,
      events: number,
    ) => {
      for (const grain of ["hourly", "daily"]) {
        db.prepare(
          `INSERT INTO rollups_model_tenant_${grain} (tenant_id, start, product_id, metric_id,
             provider, model, units_hi, units_lo, revenue_hi, revenue_lo, cost_hi, cost_lo, events,
             uncosted_events, uncosted_revenue_hi, uncosted_revenue_lo)
           VALUES (?, ?, 'chat', 'tokens', ?, ?, 0, ?, ?, ?, ?, ?, ?, 0, 0, 0)`,
        ).run(
          tenant,
          grain === "hourly" ? start : start - (start % DAY_MS),
          provider,
          model,
          events * 1_000_000,
          revenue / B,
          revenue % B,
          cost / B,
          cost % B,
          events,
        );
      }
    };
    // 2^63 nanos is 9.2 × 10^18: two rows of 6 × 10^18 pass it, summed to the nano.
    const huge = 6_000_000_000_000_000_001n;
    insert(TENANT, T("2026-03-02T10:00:00Z"), "anthropic", "claude", huge, huge / 2n, 3);
    insert(TENANT, T("2026-03-09T11:00:00Z"), "anthropic", "claude", huge, huge / 2n, 4);
    insert(TENANT, T("2026-03-05T12:00:00Z"), "openai", "gpt-4.1", 2n * B, 500_000_000n, 2);
    insert(TENANT, T("2026-03-06T13:00:00Z"), "", "", 7n * B, 0n, 1);
    insert(OTHER, T("2026-03-05T12:00:00Z"), "openai", "gpt-4.1", 1000n * B, 0n, 1000);
  });

  it("answers by provider × model to the nano, empty where the events named none", () => {
    const out = answer({ ...byModel, order_by: [{ field: "events", direction: "desc" }] });
    expect(out.rows).toEqual([
      {
        provider: "anthropic",
        model: "claude",
        product: "chat",
        cogs: "6000000000.00",
        revenue: "12000000000.000000002",
        margin_pct: 0.5,
        events: 7,
        units: 7,
      },
      {
        provider: "openai",
        model: "gpt-4.1",
        product: "chat",
        cogs: "0.50",
        revenue: "2.00",
        margin_pct: 0.75,
        events: 2,
        units: 2,
      },
      {
        provider: null,
        model: null,
        product: "chat",
        cogs: "0.00",
        revenue: "7.00",
        margin_pct: 1,
        events: 1,
        units: 1,
      },
    ]);
    expect(out.totals).toMatchObject({ revenue: "12000000009.000000002", events: 10 });
  });

  it("reads the same from the hourly table (hours of the week) and by week", () => {
    const weekly = answer({
      ...byModel,
      dimensions: ["time", "provider"],
      measures: ["revenue", "events"],
      time: { ...MARCH, granularity: "week" },
    });
    const anthropic = weekly.rows.filter((r) => r.provider === "anthropic");
    expect(anthropic.map((r) => [r.time, r.events])).toEqual([
      ["2026-03-02T00:00:00Z", 3],
      ["2026-03-09T00:00:00Z", 4],
    ]);
    const hourly = answer({
      ...byModel,
      dimensions: ["hour_of_week", "model"],
      measures: ["revenue", "events"],
    });
    expect(hourly.totals).toEqual(weekly.totals);
    expect(hourly.rows.find((r) => r.model === "gpt-4.1")).toMatchObject({
      hour_of_week: 3 * 24 + 12,
      revenue: "2.00",
    });
  });

  it("filters on provider, and the other tenant's copy is its own", () => {
    const openai = answer({
      ...byModel,
      dimensions: ["model"],
      filters: [{ dimension: "provider", op: "is", values: ["openai"] }],
    });
    expect(openai.rows).toEqual([
      expect.objectContaining({ model: "gpt-4.1", revenue: "2.00", events: 2 }),
    ]);
    expect(answer(byModel, OTHER).rows).toEqual([
      expect.objectContaining({ provider: "openai", revenue: "1000.00", events: 1000 }),
    ]);
  });
});
