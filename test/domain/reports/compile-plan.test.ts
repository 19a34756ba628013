import { readdirSync, readFileSync } from "node:fs";
import { DatabaseSync } from "node:sqlite";
import type { CompiledQuery } from "kysely";
import { beforeAll, describe, expect, it } from "vitest";
import type { ReportCell, ReportFilter, ReportQuery } from "../../../contracts/reports";
import { formatMoney, formatScaled, QUANTITY_SCALE } from "../../../domain/money";
import { compileReport } from "../../../domain/reports/compile";
import { checkQuery } from "../../../domain/reports/query";
import { DAY_MS, HOUR_MS } from "../../../domain/time";

// The plan dimensions (plan, pricing_model, billing_mode) resolved once per stretch between phase
// boundaries (domain/reports/plan-source.ts), reading whole UTC weeks and days where no boundary
// falls inside them, against the rule they replace: each hourly row's own correlated lookup of
// the phase in force at its start (REFERENCE below, written here and nowhere in production). The
// usage is every hour of four weeks for five customers, the daily and weekly rows their sums as
// the consumer and schema/0029's triggers keep them; the phases change mid-day, mid-hour, on a
// UTC Monday, overlap across subscriptions, stop and leave gaps, and one customer has none.

const T = (iso: string) => Date.parse(iso);
const TENANT = "ten_plan";
const OTHER = "ten_other";
const NOW = T("2026-04-15T12:00:00Z");

/** The plan of an hourly row as it was resolved before: per row, the latest phase to start at
 * or before the row's hour and not ended by it, of the customer's subscription to its product. */
const REFERENCE = `
  SELECT r.customer_id, r.product_id, r.metric_id, r.start, r.units, r.revenue, r.cost, r.events,
    x.plan_id AS plan,
    CASE WHEN x.plan_id IS NULL THEN NULL
      ELSE COALESCE((SELECT CASE WHEN pc.type = 'tiered'
          THEN 'tiered_' || COALESCE(json_extract(pc.spec, '$.mode'), 'graduated') ELSE pc.type END
        FROM plan_components pc WHERE pc.tenant_id = r.tenant_id AND pc.plan_id = x.plan_id
          AND pc.metric_id = r.metric_id AND pc.type IN ('per_unit', 'tiered', 'package')
        ORDER BY pc.position LIMIT 1), 'unpriced') END AS pricing_model,
    CASE WHEN x.plan_id IS NULL THEN NULL
      WHEN EXISTS (SELECT 1 FROM plan_components m WHERE m.tenant_id = r.tenant_id
        AND m.plan_id = x.plan_id AND m.type = 'minimum') THEN 'commitment'
      ELSE 'in_arrears' END AS billing_mode
  FROM (SELECT r.*, (SELECT sp.plan_id FROM subscriptions s
      JOIN subscription_phases sp ON sp.tenant_id = s.tenant_id AND sp.subscription_id = s.id
      JOIN plans p ON p.tenant_id = sp.tenant_id AND p.id = sp.plan_id
      WHERE s.tenant_id = r.tenant_id AND s.customer_id = r.customer_id
        AND p.product_id = r.product_id AND sp.start_at <= r.start
        AND (sp.end_at IS NULL OR sp.end_at > r.start)
      ORDER BY sp.start_at DESC LIMIT 1) AS plan_id
    FROM rollups_hourly r WHERE r.tenant_id = ? AND r.start >= ? AND r.start < ?) x
  JOIN rollups_hourly r ON r.tenant_id = ? AND r.start = x.start AND r.customer_id = x.customer_id
    AND r.product_id = x.product_id AND r.metric_id = x.metric_id`;

interface RefRow {
  customer_id: string;
  product_id: string;
  metric_id: string;
  start: number;
  units: number;
  revenue: number;
  cost: number;
  events: number;
  plan: string | null;
  pricing_model: string | null;
  billing_mode: string | null;
}
const DIM_COLUMN: Record<string, keyof RefRow> = {
  customer: "customer_id",
  product: "product_id",
  metric: "metric_id",
  plan: "plan",
  pricing_model: "pricing_model",
  billing_mode: "billing_mode",
};
const MEASURES = ["units", "events", "revenue", "cogs"];

describe("plan dimensions: per stretch of phases, days and weeks, as the per-hour lookup", () => {
  let db: DatabaseSync;
  const run = (q: CompiledQuery) =>
    db.prepare(q.sql).all(...(q.parameters as (string | number)[])) as Record<string, unknown>[];
  const compiled = (q: ReportQuery, zone: string, tenant = TENANT) => {
    const c = checkQuery(q, zone);
    if (!c.ok) throw new Error(JSON.stringify(c.issues));
    return { c, r: compileReport(tenant, c.query, c.from, c.to, NOW) };
  };
  const answer = (q: ReportQuery, zone: string, tenant = TENANT) => {
    const { r } = compiled(q, zone, tenant);
    return {
      reads: r.reads,
      ...r.decode(
        run(r.rows),
        run(r.totals)[0] ?? null,
        r.comparison ? (run(r.comparison.query)[0] ?? null) : null,
      ),
    };
  };

  /** The reference answer: hourly rows with their per-row plan, filtered and grouped in JS with
   * exact integers, `time` as the UTC day. */
  const reference = (
    tenant: string,
    from: number,
    to: number,
    dimensions: string[],
    filters: ReportFilter[] = [],
  ) => {
    const rows = db.prepare(REFERENCE).all(tenant, from, to, tenant) as unknown as RefRow[];
    const value = (row: RefRow, d: string): ReportCell =>
      d === "time"
        ? new Date(row.start - (row.start % DAY_MS)).toISOString().replace(".000Z", "Z")
        : (row[DIM_COLUMN[d] as keyof RefRow] as string | null);
    const kept = rows.filter((row) =>
      filters.every((f) => {
        const v = value(row, f.dimension);
        if (f.op === "is") return v !== null && f.values.includes(String(v));
        if (f.op === "is_not") return v === null || !f.values.includes(String(v));
        throw new Error(f.op);
      }),
    );
    const groups = new Map<string, { dims: ReportCell[]; sums: bigint[] }>();
    for (const row of kept) {
      const dims = dimensions.map((d) => value(row, d));
      const key = JSON.stringify(dims);
      const g = groups.get(key) ?? { dims, sums: [0n, 0n, 0n, 0n] };
      g.sums = g.sums.map(
        (s, i) => s + BigInt([row.units, row.events, row.revenue, row.cost][i] as number),
      );
      groups.set(key, g);
    }
    const cells = (sums: bigint[]) => ({
      units: Number(formatScaled(sums[0] as bigint, QUANTITY_SCALE)),
      events: Number(sums[1]),
      revenue: formatMoney(sums[2] as bigint),
      cogs: formatMoney(sums[3] as bigint),
    });
    const total = [...groups.values()].reduce(
      (acc, g) => acc.map((s, i) => s + (g.sums[i] as bigint)),
      [0n, 0n, 0n, 0n],
    );
    return {
      rows: [...groups.values()].map((g) => ({
        ...Object.fromEntries(dimensions.map((d, i) => [d, g.dims[i]])),
        ...cells(g.sums),
      })),
      totals: cells(total),
    };
  };
  const sorted = (rows: Record<string, ReportCell>[]) =>
    [...rows].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));

  beforeAll(() => {
    db = new DatabaseSync(":memory:", { enableForeignKeyConstraints: false });
    for (const f of readdirSync("schema")
      .filter((x) => x.endsWith(".sql"))
      .sort()) {
      db.exec(readFileSync(`schema/${f}`, "utf8"));
    }
    const plan = db.prepare(
      "INSERT INTO plans (tenant_id, id, product_id, name, currency, interval, created_at, updated_at) VALUES (?, ?, ?, ?, 'USD', 'month', 0, 0)",
    );
    const component = db.prepare(
      "INSERT INTO plan_components (tenant_id, plan_id, position, type, metric_id, spec) VALUES (?, ?, ?, ?, ?, ?)",
    );
    const subscription = db.prepare(
      "INSERT INTO subscriptions (tenant_id, id, customer_id, plan_id, status, start_at, anchor_at, end_at, created_at, updated_at) VALUES (?, ?, ?, ?, 'active', ?, ?, ?, 0, 0)",
    );
    const phase = db.prepare(
      "INSERT INTO subscription_phases (tenant_id, subscription_id, start_at, end_at, plan_id, anchor_at, created_at) VALUES (?, ?, ?, ?, ?, ?, 0)",
    );
    for (const tenant of [TENANT, OTHER]) {
      plan.run(tenant, "basic", "prod", "Basic");
      plan.run(tenant, "pro", "prod", "Pro");
      plan.run(tenant, "commit", "prod", "Commit");
      // Per-unit tokens; volume tiers and a minimum; packages and a minimum. `calls` is priced by
      // none of them.
      component.run(tenant, "basic", 0, "per_unit", "tokens", '{"unit_price":"0.001"}');
      component.run(tenant, "pro", 0, "flat", null, '{"amount":"10"}');
      component.run(tenant, "pro", 1, "included", "tokens", '{"quantity":100}');
      component.run(tenant, "pro", 2, "tiered", "tokens", '{"mode":"volume","tiers":[]}');
      component.run(tenant, "pro", 3, "minimum", null, '{"amount":"50"}');
      component.run(tenant, "commit", 0, "package", "tokens", '{"size":10,"price":"1"}');
      component.run(tenant, "commit", 1, "minimum", null, '{"amount":"100"}');
    }
    const sub = (
      tenant: string,
      id: string,
      customer: string,
      phases: [string, string | null, string][],
    ) => {
      const [first] = phases;
      const last = phases.at(-1);
      if (!first || !last) throw new Error(id);
      subscription.run(tenant, id, customer, last[2], T(first[0]), T(first[0]), null);
      for (const [start, end, planId] of phases) {
        phase.run(tenant, id, T(start), end === null ? null : T(end), planId, T(first[0]));
      }
    };
    // A change mid-day and mid-hour: the 10:00 hour keeps basic, 11:00 is pro's.
    sub(TENANT, "s_mid", "c_mid", [
      ["2026-02-01T00:00:00Z", "2026-03-10T10:30:00Z", "basic"],
      ["2026-03-10T10:30:00Z", null, "pro"],
    ]);
    // On the hour mid-day, then at a UTC Monday's midnight (a week boundary, no day split).
    sub(TENANT, "s_hour", "c_hour", [
      ["2026-02-01T00:00:00Z", "2026-03-05T07:00:00Z", "basic"],
      ["2026-03-05T07:00:00Z", "2026-03-16T00:00:00Z", "commit"],
      ["2026-03-16T00:00:00Z", null, "pro"],
    ]);
    // Overlapping subscriptions: the latest to start wins while both are in force, and a third
    // inside them for part of one day.
    sub(TENANT, "s_ov1", "c_overlap", [["2026-02-01T00:00:00Z", "2026-03-12T05:15:00Z", "basic"]]);
    sub(TENANT, "s_ov2", "c_overlap", [["2026-03-08T12:00:00Z", null, "commit"]]);
    sub(TENANT, "s_ov3", "c_overlap", [["2026-03-09T00:00:00Z", "2026-03-09T18:00:00Z", "pro"]]);
    // From mid-afternoon to an early-morning cancel: no plan before, nor after.
    sub(TENANT, "s_gap", "c_gap", [["2026-03-04T13:00:00Z", "2026-03-14T02:00:00Z", "pro"]]);
    // c_none has no subscription; c_mid's usage of `side` has none either. The other tenant has
    // the same customer on another plan all along.
    sub(OTHER, "s_mid", "c_mid", [["2026-01-01T00:00:00Z", null, "commit"]]);

    const hourly = db.prepare(
      "INSERT INTO rollups_hourly (tenant_id, start, customer_id, product_id, metric_id, units, revenue, cost, events) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    );
    const customers = ["c_mid", "c_hour", "c_overlap", "c_gap", "c_none"];
    let n = 0;
    for (let t = T("2026-02-23T00:00:00Z"); t < T("2026-03-30T00:00:00Z"); t += HOUR_MS) {
      for (const [i, c] of customers.entries()) {
        n++;
        // Amounts that differ by hour and customer, with nanos, so a misplaced hour shows.
        hourly.run(
          TENANT,
          t,
          c,
          "prod",
          "tokens",
          1_000_000 * (1 + (n % 7)),
          1_000_000_007 * (1 + (n % 5)) + i,
          250_000_003 * (1 + (n % 3)),
          1 + (n % 4),
        );
        if (n % 3 === 0) hourly.run(TENANT, t, c, "prod", "calls", 1_000_000, 3, 1, 1);
      }
      hourly.run(TENANT, t, "c_mid", "side", "tokens", 2_000_000, 5_000_000_001, 7, 2);
      hourly.run(OTHER, t, "c_mid", "prod", "tokens", 9_000_000, 9_000_000_000, 0, 9);
    }
    // The daily rows as the consumer writes them (their weeks follow by schema/0029's triggers),
    // and the tenant's sums (schema/0022's backfill).
    db.exec(`INSERT INTO rollups_daily (tenant_id, start, customer_id, product_id, metric_id, units,
        revenue, cost, events)
      SELECT tenant_id, start - start % ${DAY_MS}, customer_id, product_id, metric_id, SUM(units),
        SUM(revenue), SUM(cost), SUM(events)
      FROM rollups_hourly GROUP BY 1, 2, 3, 4, 5`);
    const backfill = readFileSync("schema/0022_tenant_rollups.sql", "utf8");
    db.exec(backfill.slice(backfill.indexOf("INSERT INTO rollups_tenant_hourly")));
  });

  const query = (over: Partial<ReportQuery>): ReportQuery => ({
    dataset: "usage",
    measures: MEASURES,
    dimensions: ["plan"],
    time: { from: "2026-03-02T00:00:00Z", to: "2026-03-23T00:00:00Z" },
    limit: 1000,
    ...over,
  });

  const cases: { name: string; zone: string; from: string; to: string }[] = [
    // Three whole UTC weeks: weeks, and the days and hours of the ones a boundary splits.
    { name: "UTC weeks", zone: "UTC", from: "2026-03-02T00:00:00Z", to: "2026-03-23T00:00:00Z" },
    // Madrid's local days: the edges are hours, then days, then weeks.
    {
      name: "Europe/Madrid days",
      zone: "Europe/Madrid",
      from: "2026-02-28T23:00:00Z",
      to: "2026-03-24T23:00:00Z",
    },
    // Edge days read as the day less its hours outside the range, a phase changing inside both:
    // at 07:00 on the first (c_hour), at 10:30 on the last (c_mid).
    {
      name: "UTC edge days a phase changes in",
      zone: "UTC",
      from: "2026-03-05T04:00:00Z",
      to: "2026-03-10T20:00:00Z",
    },
    {
      name: "Europe/Madrid ending on a day a phase changes in",
      zone: "Europe/Madrid",
      from: "2026-03-02T23:00:00Z",
      to: "2026-03-10T23:00:00Z",
    },
    // Mid-hour and mid-day instants at both ends.
    {
      name: "UTC from mid-hour instants",
      zone: "UTC",
      from: "2026-03-03T10:20:00Z",
      to: "2026-03-19T15:45:00Z",
    },
  ];
  const dimensionSets = [
    ["plan"],
    ["pricing_model", "plan"],
    ["billing_mode", "customer"],
    ["customer", "product", "metric", "plan", "pricing_model", "billing_mode"],
  ];

  for (const c of cases) {
    describe(c.name, () => {
      const time = { from: c.from, to: c.to, time_zone: c.zone };
      for (const dimensions of dimensionSets) {
        it(`by ${dimensions.join(" × ")}: the per-hour answer to the nano, totals adding up`, () => {
          const out = answer(query({ dimensions, time }), c.zone);
          const ref = reference(TENANT, T(c.from), T(c.to), dimensions);
          expect(sorted(out.rows)).toEqual(sorted(ref.rows));
          // The totals read the tenant's sums: the rows (plan NULL included) add up to them.
          expect(out.totals).toEqual(ref.totals);
          // Whole days and weeks, not only hours.
          expect(out.reads.rows.map((x) => x.table)).toContain(
            c.zone === "UTC" && c.from.endsWith("T00:00:00Z") ? "rollups_weekly" : "rollups_daily",
          );
          // Two edge days read as the day less its outside hours, where the range has them.
          if (c.name.includes("edge days")) {
            expect(out.reads.rows.filter((x) => x.subtract)).toHaveLength(2);
          }
        });
      }

      const filters: ReportFilter[][] = [
        [{ dimension: "plan", op: "is", values: ["pro", "commit"] }],
        [{ dimension: "plan", op: "is_not", values: ["basic"] }],
        [{ dimension: "pricing_model", op: "is", values: ["tiered_volume", "unpriced"] }],
        [{ dimension: "billing_mode", op: "is", values: ["commitment"] }],
        [
          { dimension: "billing_mode", op: "is_not", values: ["in_arrears"] },
          { dimension: "customer", op: "is_not", values: ["c_hour"] },
        ],
      ];
      for (const f of filters) {
        it(`filtered ${f.map((x) => `${x.dimension} ${x.op} ${x.values}`).join(", ")}: rows, totals and the previous period`, () => {
          const q = query({
            dimensions: ["customer", "plan"],
            filters: f,
            time,
            compare_to: "previous_period",
          });
          const { c: checked, r } = compiled(q, c.zone);
          const out = answer(q, c.zone);
          const ref = reference(TENANT, checked.from, checked.to, ["customer", "plan"], f);
          expect(sorted(out.rows)).toEqual(sorted(ref.rows));
          expect(out.totals).toEqual(ref.totals);
          const cmp = r.comparison;
          if (!cmp) throw new Error("no comparison");
          expect(out.comparison?.totals).toEqual(reference(TENANT, cmp.from, cmp.to, [], f).totals);
          // A filtered statement reads the customers' days too, not only hours.
          expect(out.reads.totals.map((x) => x.table)).not.toEqual(["rollups_hourly"]);
        });
      }
    });
  }

  it("by UTC day × plan: each day's rows as the per-hour answer, the split days from their hours", () => {
    const time = { from: "2026-03-02T00:00:00Z", to: "2026-03-23T00:00:00Z" };
    const dimensions = ["time", "plan", "pricing_model"];
    const out = answer(
      query({ dimensions, time: { ...time, granularity: "day", time_zone: "UTC" } }),
      "UTC",
    );
    const ref = reference(TENANT, T(time.from), T(time.to), dimensions);
    expect(out.rows.length).toBeGreaterThan(21);
    expect(sorted(out.rows)).toEqual(sorted(ref.rows));
  });

  it("hours on a split day follow the phase in force at their start", () => {
    const out = answer(
      query({
        dimensions: ["plan"],
        measures: ["events"],
        filters: [{ dimension: "customer", op: "is", values: ["c_mid"] }],
        time: { from: "2026-03-10T09:00:00Z", to: "2026-03-10T13:00:00Z", time_zone: "UTC" },
      }),
      "UTC",
    );
    const ref = reference(
      TENANT,
      T("2026-03-10T09:00:00Z"),
      T("2026-03-10T13:00:00Z"),
      ["plan"],
      [{ dimension: "customer", op: "is", values: ["c_mid"] }],
    );
    // 09:00 and 10:00 on basic (the change is at 10:30), 11:00 and 12:00 on pro; `side` has none.
    expect(out.rows.map((r) => r.plan).sort()).toEqual([null, "basic", "pro"].sort());
    expect(sorted(out.rows)).toEqual(sorted(ref.rows.map(({ units, revenue, cogs, ...r }) => r)));
  });

  it("another tenant's phases never apply: the same customer id has its own plan there", () => {
    const mine = answer(query({ dimensions: ["customer", "plan"] }), "UTC");
    expect(mine.rows.filter((r) => r.customer === "c_mid").map((r) => r.plan)).not.toContain(
      "commit",
    );
    const theirs = answer(query({ dimensions: ["customer", "plan"] }), "UTC", OTHER);
    expect(theirs.rows.map((r) => [r.customer, r.plan])).toEqual([["c_mid", "commit"]]);
  });

  it("every value is bound and each table read is constrained to the tenant", () => {
    const { r } = compiled(
      query({
        dimensions: ["pricing_model", "billing_mode", "plan"],
        filters: [{ dimension: "plan", op: "is", values: ["x' OR 1=1 --"] }],
        compare_to: "previous_period",
        time: {
          from: "2026-02-28T23:00:00Z",
          to: "2026-03-24T23:00:00Z",
          time_zone: "Europe/Madrid",
        },
      }),
      "Europe/Madrid",
    );
    for (const s of [r.rows, r.totals, r.comparison?.query]) {
      if (!s) throw new Error("missing statement");
      expect(s.sql).not.toContain("OR 1=1");
      expect(s.sql).not.toContain(TENANT);
      expect(s.parameters).toContain("x' OR 1=1 --");
      // Every rollup table read is constrained to the bound tenant, and so are the phases'
      // subscriptions and the plans' components; the tenant appears nowhere else.
      const scans = s.sql.match(/"rollups_\w+" r\b/g) ?? [];
      expect(scans.length, s.sql).toBeGreaterThan(0);
      expect(s.sql.match(/r\.tenant_id = \?/g)?.length, s.sql).toBe(scans.length);
      expect(s.sql).toContain("s.tenant_id = ?");
      expect(s.sql).toContain("pc.tenant_id = ?");
      expect(s.sql).toContain("p.tenant_id = ?");
      expect(s.parameters.filter((p) => p === TENANT)).toHaveLength(
        s.sql.match(/tenant_id = \?/g)?.length ?? 0,
      );
    }
  });
});
