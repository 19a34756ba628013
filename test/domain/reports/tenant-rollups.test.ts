import { readdirSync, readFileSync } from "node:fs";
import { DatabaseSync } from "node:sqlite";
import type { CompiledQuery } from "kysely";
import { beforeAll, describe, expect, it } from "vitest";
import type { ReportQuery } from "../../../contracts/reports";
import { compileReport } from "../../../domain/reports/compile";
import { checkQuery } from "../../../domain/reports/query";
import { DAY_MS, HOUR_MS } from "../../../domain/time";

// schema/0022_tenant_rollups.sql on a database that already holds usage: the migration fills the
// tenant tables with the GROUP BY of the customer rollups, exact where the sum passes 2^63, so
// an existing tenant's reports read the same from them as from the customers' rows.

const TENANT = "ten_a";
const DAY0 = Date.parse("2026-03-02T00:00:00Z");
// Three customers' days that each fit 64 bits but whose sum does not.
const BIG = 4_000_000_000_000_000_001n;

let db: DatabaseSync;
const migrations = readdirSync("schema")
  .filter((f) => f.endsWith(".sql"))
  .sort();
const apply = (files: string[]) => {
  for (const f of files) db.exec(readFileSync(`schema/${f}`, "utf8"));
};

beforeAll(() => {
  db = new DatabaseSync(":memory:", { enableForeignKeyConstraints: false });
  const at = migrations.indexOf("0022_tenant_rollups.sql");
  expect(at).toBeGreaterThan(0);
  apply(migrations.slice(0, at));
  const insert = (table: string) =>
    db.prepare(
      `INSERT INTO ${table} (tenant_id, start, customer_id, product_id, metric_id, units, revenue,
         cost, events, uncosted_events, uncosted_revenue) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
  const hourly = insert("rollups_hourly");
  const daily = insert("rollups_daily");
  for (const [k, c] of ["c1", "c2", "c3"].entries()) {
    for (let h = 0; h < 48; h += 5) {
      const start = DAY0 + h * HOUR_MS;
      const units = BigInt(1_000_000 * (k + 1) + h);
      hourly.run(
        TENANT,
        start,
        c,
        "chat",
        "tokens",
        units,
        1_000_000_007n * BigInt(h + 1),
        3n,
        1,
        k,
        5n,
      );
    }
    daily.run(TENANT, DAY0, c, "chat", "tokens", BIG, BIG, BIG / 2n, 2, 1, 7n);
    daily.run(TENANT, DAY0 + DAY_MS, c, "chat", "other", 1n, -5n, 2n, 1, 0, 0n);
    daily.run("ten_b", DAY0, c, "chat", "tokens", 9n, 9n, 9n, 9, 0, 0n);
  }
  apply(migrations.slice(at));
});

const exact = (sql: string, ...params: (string | number)[]) =>
  db
    .prepare(sql)
    .all(...params)
    .map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, String(v)])));

describe("schema/0022_tenant_rollups.sql backfill", () => {
  for (const grain of ["hourly", "daily"]) {
    it(`rollups_tenant_${grain} is the GROUP BY of rollups_${grain}, to the unit`, () => {
      const money = ["units", "revenue", "cost", "uncosted_revenue"];
      // Joined in SQL as text arithmetic would overflow; compared as bigints instead.
      const grouped = exact(
        `SELECT tenant_id, start, product_id, metric_id,
           ${money.map((m) => `CAST(SUM(${m} / 1000000000) AS TEXT) AS ${m}_hi, CAST(SUM(${m} % 1000000000) AS TEXT) AS ${m}_lo`).join(", ")},
           SUM(events) AS events, SUM(uncosted_events) AS uncosted_events
         FROM rollups_${grain} GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4`,
      );
      const kept = exact(
        `SELECT tenant_id, start, product_id, metric_id,
           ${money.map((m) => `CAST(${m}_hi AS TEXT) AS ${m}_hi, CAST(${m}_lo AS TEXT) AS ${m}_lo`).join(", ")},
           events, uncosted_events
         FROM rollups_tenant_${grain} ORDER BY 1, 2, 3, 4`,
      );
      const joined = (rows: Record<string, string>[]) =>
        rows.map((r) => {
          const out: Record<string, string> = {};
          for (const [k, v] of Object.entries(r)) {
            if (k.endsWith("_lo")) continue;
            if (k.endsWith("_hi")) {
              const m = k.slice(0, -3);
              out[m] = (BigInt(v) * 1_000_000_000n + BigInt(r[`${m}_lo`] ?? 0)).toString();
            } else out[k] = v;
          }
          return out;
        });
      expect(kept.length).toBeGreaterThan(0);
      expect(joined(kept)).toEqual(joined(grouped));
      // The low half is kept under 10^9 (the carry moved up).
      for (const r of kept) expect(Math.abs(Number(r.revenue_lo))).toBeLessThan(1e9);
    });
  }

  it("holds the tenant day past 2^63 exactly", () => {
    const [row] = exact(
      `SELECT revenue_hi, revenue_lo, units_hi, units_lo FROM rollups_tenant_daily
       WHERE tenant_id = ? AND start = ? AND metric_id = 'tokens'`,
      TENANT,
      DAY0,
    );
    expect(BigInt(row?.revenue_hi ?? 0) * 1_000_000_000n + BigInt(row?.revenue_lo ?? 0)).toBe(
      3n * BIG,
    );
  });

  it("a report reads the same from the tenant tables as from the customers' rows", () => {
    const run = (q: CompiledQuery) =>
      db.prepare(q.sql).all(...(q.parameters as (string | number)[])) as Record<string, unknown>[];
    const answer = (q: ReportQuery) => {
      const c = checkQuery(q, "UTC");
      if (!c.ok) throw new Error(JSON.stringify(c.issues));
      // In halves: the customers' rows here sum past 2^63, which the runner answers by running
      // the statements again so (workers/report-runner.ts).
      const r = compileReport(TENANT, c.query, c.from, c.to, DAY0, "halves");
      const out = r.decode(
        run(r.rows),
        run(r.totals)[0] ?? null,
        r.comparison ? (run(r.comparison.query)[0] ?? null) : null,
      );
      return { tables: [r.table, r.totalsTable], rows: out.rows, totals: out.totals };
    };
    const nobody = { dimension: "customer", op: "is_not" as const, values: ["nobody"] };
    for (const zone of ["UTC", "America/New_York"]) {
      const q: ReportQuery = {
        dataset: "usage",
        measures: ["units", "events", "revenue", "cogs", "margin", "margin_pct"],
        dimensions: ["time", "metric"],
        time: {
          from: "2026-03-01T00:00:00Z",
          to: "2026-03-05T00:00:00Z",
          granularity: "day",
          time_zone: zone,
        },
        order_by: [{ field: "revenue", direction: "desc" }],
      };
      const tenantWide = answer(q);
      const perCustomer = answer({ ...q, filters: [nobody] });
      expect(tenantWide.tables[0], zone).toMatch(/^rollups_tenant_/);
      expect(perCustomer.tables[0], zone).not.toMatch(/^rollups_tenant_/);
      expect(tenantWide.rows.length, zone).toBeGreaterThan(0);
      expect(tenantWide.rows, zone).toEqual(perCustomer.rows);
      expect(tenantWide.totals, zone).toEqual(perCustomer.totals);
    }
  });
});
