import { readdirSync, readFileSync } from "node:fs";
import { DatabaseSync } from "node:sqlite";
import type { CompiledQuery } from "kysely";
import { beforeAll, describe, expect, it } from "vitest";
import type { ReportQuery } from "../../../contracts/reports";
import { DATASETS, TIME_DIMENSIONS } from "../../../domain/reports/catalog";
import { comparisonRange, compileReport, type SumMode } from "../../../domain/reports/compile";
import { checkQuery } from "../../../domain/reports/query";
import { DAY_MS, HOUR_MS } from "../../../domain/time";

// domain/reports/compile.ts: a checked query → SQL. Every value a caller sends is a bound
// parameter, the tenant is always constrained (and is a parameter too), and the SQL runs: the
// last part executes it on SQLite (node:sqlite) over the real migrations in schema/.

const T = (iso: string) => Date.parse(iso);
const TENANT = "ten_a";
const OTHER = "ten_b";
const NOW = T("2026-04-15T12:00:00Z");
const EVIL = "x' OR 1=1 --";

function compiled(q: ReportQuery, tenant = TENANT, zone = "UTC", sums: SumMode = "plain") {
  const c = checkQuery(q, zone);
  if (!c.ok) throw new Error(JSON.stringify(c.issues));
  return compileReport(tenant, c.query, c.from, c.to, NOW, sums);
}
const statements = (r: ReturnType<typeof compiled>): CompiledQuery[] => [
  r.rows,
  r.totals,
  ...(r.comparison ? [r.comparison.query] : []),
];
const MARCH = { from: "2026-03-01T00:00:00Z", to: "2026-04-01T00:00:00Z" };
const ceilDay = (iso: string) => new Date(Math.ceil(T(iso) / DAY_MS) * DAY_MS).toISOString();
const floorDay = (iso: string) => new Date(Math.floor(T(iso) / DAY_MS) * DAY_MS).toISOString();

/** Every measure and dimension of a dataset, and a filter of each op on its first dimension. */
function everything(name: string): ReportQuery {
  const d = DATASETS.find((x) => x.name === name);
  if (!d) throw new Error(name);
  const filterable = d.dimensions.filter((x) => !TIME_DIMENSIONS.has(x.name));
  const on = filterable[0]?.name as string;
  return {
    dataset: d.name,
    measures: d.measures.map((m) => m.name),
    // usage's provider and model do not combine with its customer-level dimensions
    // (compile-models.test.ts covers them); its plan, pricing model and billing mode read the
    // usage through the plan intervals' derived table (compile-plan.test.ts covers them).
    dimensions: d.dimensions
      .map((x) => x.name)
      .filter(
        (x) =>
          name !== "usage" ||
          !["provider", "model", "plan", "pricing_model", "billing_mode"].includes(x),
      ),
    filters: [
      { dimension: on, op: "is", values: [EVIL, "b"] },
      { dimension: on, op: "is_not", values: [`${EVIL}-is_not`] },
      { dimension: on, op: "contains", values: [`${EVIL}-contains`] },
      { dimension: on, op: "gt", values: [`${EVIL}-gt`] },
      { dimension: on, op: "lte", values: [`${EVIL}-lte`] },
    ],
    time: { ...MARCH, granularity: "week", time_zone: "America/New_York" },
    compare_to: "previous_period",
  };
}

describe("compiled SQL binds every value and constrains the tenant", () => {
  // `events` is read from the customers' actors, compiled by compile-events.ts (its own test).
  for (const dataset of DATASETS.filter((d) => d.name !== "events")) {
    it(`${dataset.name}: user values only in parameters, tenant_id = ? on the base table and in every lookup`, () => {
      const r = compiled(everything(dataset.name));
      for (const s of statements(r)) {
        expect(s.sql).not.toContain("OR 1=1");
        expect(s.sql).not.toContain("'x'");
        expect(s.sql).not.toContain(TENANT);
        expect(s.sql).not.toContain("America/New_York");
        expect(s.parameters).toContain(TENANT);
        expect(s.parameters).toContain(`${EVIL}-is_not`);
        expect(s.parameters).toContain(`${EVIL}-contains`);
        expect(s.parameters).toContain(`${EVIL}-gt`);
        expect(s.parameters).toContain(`${EVIL}-lte`);
        expect(s.parameters).toContain(EVIL);
        // The base table, by its alias, is constrained to the bound tenant.
        const alias = /"(\w+)"\."tenant_id" = \?/.exec(s.sql)?.[1];
        expect(alias, s.sql).toBeDefined();
        // Every correlated lookup names the base row's tenant.
        const lookups = (s.sql.match(/\(SELECT/g) ?? []).length;
        const correlated = (
          s.sql.match(new RegExp(`\\.tenant_id = ${alias}\\.tenant_id`, "g")) ?? []
        ).length;
        expect(correlated, s.sql).toBeGreaterThanOrEqual(lookups);
      }
    });
  }

  it("the tenant is the caller's: another tenant's id appears nowhere", () => {
    const r = compiled(everything("usage"), OTHER);
    for (const s of statements(r)) {
      expect(s.parameters).toContain(OTHER);
      expect(s.parameters).not.toContain(TENANT);
    }
  });

  it("the range, the limit (+1 to detect truncation) and the aging instant are parameters", () => {
    const r = compiled({
      dataset: "invoices",
      measures: ["amount_due"],
      dimensions: ["aging"],
      time: MARCH,
      limit: 37,
    });
    expect(r.rows.parameters).toEqual(
      expect.arrayContaining([TENANT, T(MARCH.from), T(MARCH.to), NOW, 38]),
    );
    expect(r.rows.sql).not.toMatch(/\b1772323200000\b|\b38\b/);
  });

  it("time buckets are one bound JSON array of [start, end, bucket, period, hour_of_week] segments", () => {
    // New York days around 2026-03-08 (23 h).
    const r = compiled(
      {
        dataset: "usage",
        measures: ["units"],
        dimensions: ["time"],
        time: {
          from: "2026-03-07T05:00:00Z",
          to: "2026-03-10T04:00:00Z",
          time_zone: "America/New_York",
        },
      },
      TENANT,
    );
    expect(r.table).toBe("rollups_tenant_hourly");
    const segs = JSON.parse(r.rows.parameters[0] as string) as number[][];
    expect(segs.map(([s, e]) => ((e as number) - (s as number)) / HOUR_MS)).toEqual([24, 23, 24]);
    expect(segs.map((s) => s[2])).toEqual([
      T("2026-03-07T05:00:00Z"),
      T("2026-03-08T05:00:00Z"),
      T("2026-03-09T04:00:00Z"),
    ]);
    expect(r.rows.sql).toContain("json_each(?)");
  });

  it("reads whole UTC days from the daily rollups unless a bucket boundary needs hours", () => {
    const q: ReportQuery = {
      dataset: "usage",
      measures: ["revenue"],
      dimensions: ["time"],
      time: { ...MARCH, time_zone: "UTC" },
    };
    const table = (over: Partial<ReportQuery>) => compiled({ ...q, ...over }).table;
    expect(table({})).toBe("rollups_tenant_daily");
    expect(table({ time: { ...q.time, granularity: "week" } })).toBe("rollups_tenant_daily");
    // London's winter midnights are UTC midnights; Berlin's never are.
    const january = { from: "2026-01-01T00:00:00Z", to: "2026-02-01T00:00:00Z" };
    expect(table({ time: { ...q.time, ...january, time_zone: "Europe/London" } })).toBe(
      "rollups_tenant_daily",
    );
    expect(table({ time: { ...q.time, granularity: "hour" } })).toBe("rollups_tenant_hourly");
    expect(table({ time: { ...q.time, time_zone: "Europe/Berlin" } })).toBe(
      "rollups_tenant_hourly",
    );
    for (const granularity of ["week", "month"] as const) {
      expect(table({ time: { ...q.time, granularity, time_zone: "Europe/Madrid" } })).toBe(
        "rollups_tenant_hourly",
      );
    }
    expect(table({ dimensions: ["hour_of_week"] })).toBe("rollups_tenant_hourly");
    // The plan, in force at each hour's start, is resolved per stretch between phase boundaries:
    // it reads the customers' days as any customer-level field does.
    expect(table({ dimensions: ["time", "plan"] })).toBe("rollups_daily");
    expect(table({ filters: [{ dimension: "plan", op: "is", values: ["pro"] }] })).toBe(
      "rollups_daily",
    );
  });

  describe("whole UTC days from the daily table, the partial days at the edges from the hourly one", () => {
    // 30 local days in Madrid (CET, UTC+1): 2026-02-01 00:00 → 2026-03-03 00:00 local.
    const MADRID = {
      from: "2026-01-31T23:00:00Z",
      to: "2026-03-02T23:00:00Z",
      time_zone: "Europe/Madrid",
    };
    const scorecard: ReportQuery = {
      dataset: "usage",
      measures: ["revenue", "margin_pct", "events", "units"],
      dimensions: ["customer"],
      time: MADRID,
      compare_to: "previous_period",
      order_by: [{ field: "revenue", direction: "desc" }],
    };
    const scan = (table: string, from: string, to: string) => ({ table, from: T(from), to: T(to) });

    it("a per-customer table in Madrid: whole weeks, the days around them and the edge hours; the tenant's totals days and edge hours", () => {
      const r = compiled(scorecard);
      // The local range starts at 23:00Z (one hour of a UTC day: read as it is) and ends at
      // 23:00Z (23 hours: that UTC day's row less its last hour, which lies after the range).
      const less = (table: string, from: string, to: string) => ({
        ...scan(table, from, to),
        subtract: true,
      });
      const lastDay = (level: "" | "tenant_", to: string) => [
        scan(`rollups_${level}daily`, floorDay(to), ceilDay(to)),
        less(`rollups_${level}hourly`, to, ceilDay(to)),
      ];
      const split = (level: "" | "tenant_", from: string, to: string) => [
        scan(`rollups_${level}hourly`, from, ceilDay(from)),
        scan(`rollups_${level}daily`, ceilDay(from), floorDay(to)),
        ...lastDay(level, to),
      ];
      // 1 February 2026 is a Sunday, 2 February and 2 March Mondays: the Sunday from the daily
      // rollups, the four weeks between from the weekly ones, then the last day.
      expect(r.reads.rows).toEqual([
        scan("rollups_hourly", MADRID.from, "2026-02-01T00:00:00Z"),
        scan("rollups_daily", "2026-02-01T00:00:00Z", "2026-02-02T00:00:00Z"),
        scan("rollups_weekly", "2026-02-02T00:00:00Z", "2026-03-02T00:00:00Z"),
        ...lastDay("", MADRID.to),
      ]);
      expect(r.reads.totals).toEqual(split("tenant_", MADRID.from, MADRID.to));
      // The 30 days before: from 2026-01-01 23:00Z.
      expect(r.reads.comparison).toEqual(
        split("tenant_", "2026-01-01T23:00:00Z", "2026-01-31T23:00:00Z"),
      );
      expect([r.table, r.totalsTable]).toEqual(["rollups_weekly", "rollups_tenant_daily"]);
      for (const [s, scans] of [
        [r.rows, 5],
        [r.totals, 4],
        [r.comparison?.query, 4],
      ] as const) {
        if (!s) throw new Error("no comparison");
        expect(s.sql.match(/union all/g), s.sql).toHaveLength(scans - 1);
        // Each scan is constrained on its own table's key: the tenant and its stretch.
        expect(s.sql.match(/"r"\."tenant_id" = \?/g), s.sql).toHaveLength(scans);
        expect(s.sql.match(/"r"\."start" >= \?/g), s.sql).toHaveLength(scans);
      }
      expect(r.rows.parameters).toEqual(
        expect.arrayContaining(r.reads.rows.flatMap((x) => [x.from, x.to])),
      );
    });

    it("weeks only where no bucket boundary falls inside one: UTC weeks yes, UTC days no", () => {
      const utc = { from: "2026-02-01T00:00:00Z", to: "2026-03-03T00:00:00Z", time_zone: "UTC" };
      const byCustomer = { ...scorecard, compare_to: undefined, time: utc };
      const weekly = compiled({
        ...byCustomer,
        dimensions: ["customer", "time"],
        time: { ...utc, granularity: "week" },
      });
      expect(weekly.reads.rows.map((x) => x.table)).toEqual([
        "rollups_daily",
        "rollups_weekly",
        "rollups_daily",
      ]);
      const daily = compiled({
        ...byCustomer,
        dimensions: ["customer", "time"],
        time: { ...utc, granularity: "day" },
      });
      expect(daily.reads.rows).toEqual([scan("rollups_daily", utc.from, utc.to)]);
      const monthly = compiled({
        ...byCustomer,
        dimensions: ["customer", "time"],
        time: { ...utc, granularity: "month" },
      });
      expect(monthly.reads.rows.map((x) => x.table)).toEqual(["rollups_daily"]);
    });

    it("a customer filter is applied inside every scan, its values bound", () => {
      const r = compiled({
        ...scorecard,
        filters: [
          { dimension: "segment", op: "is", values: ["smb"] },
          { dimension: "customer", op: "is_not", values: [EVIL] },
        ],
      });
      expect(r.reads.totals.map((x) => x.table)).toEqual([
        "rollups_hourly",
        "rollups_daily",
        "rollups_weekly",
        "rollups_daily",
        "rollups_hourly",
      ]);
      const scans = [r.reads.rows, r.reads.totals, r.reads.comparison ?? []];
      for (const [i, s] of statements(r).entries()) {
        const n = scans[i]?.length ?? 0;
        expect(s.sql.match(/json_extract\(c\.metadata, '\$\.segment'\)/g), s.sql).toHaveLength(n);
        expect(s.parameters.filter((p) => p === "smb")).toHaveLength(n);
        expect(s.parameters.filter((p) => p === EVIL)).toHaveLength(n);
        expect(s.parameters.filter((p) => p === TENANT)).toHaveLength(n);
        expect(s.sql).not.toContain("OR 1=1");
        // The segment lookup in each scan names that scan's row's tenant.
        expect(s.sql.match(/c\.tenant_id = r\.tenant_id/g), s.sql).toHaveLength(n);
      }
    });

    it("local days in Madrid are never UTC days: by day the rows read hours, the totals still days", () => {
      const r = compiled({ ...scorecard, dimensions: ["time"], time: { ...MADRID } });
      expect(r.reads.rows).toEqual([scan("rollups_tenant_hourly", MADRID.from, MADRID.to)]);
      expect(r.reads.totals.map((x) => x.table)).toEqual([
        "rollups_tenant_hourly",
        "rollups_tenant_daily",
        "rollups_tenant_daily",
        "rollups_tenant_hourly",
      ]);
    });

    it("UTC days from a mid-day instant: the first day's hours, then days, each scan with its share of the segments", () => {
      const r = compiled({
        ...scorecard,
        dimensions: ["time"],
        time: { from: "2026-03-01T06:00:00Z", to: "2026-03-04T00:00:00Z", time_zone: "UTC" },
      });
      expect(r.reads.rows).toEqual([
        scan("rollups_tenant_hourly", "2026-03-01T06:00:00Z", "2026-03-02T00:00:00Z"),
        scan("rollups_tenant_daily", "2026-03-02T00:00:00Z", "2026-03-04T00:00:00Z"),
      ]);
      const segs = r.rows.parameters
        .filter((p): p is string => typeof p === "string" && p.startsWith("[["))
        .map((p) => JSON.parse(p) as number[][]);
      expect(segs.map((list) => list.map(([a, b, time]) => [a, b, time]))).toEqual([
        [[T("2026-03-01T06:00:00Z"), T("2026-03-02T00:00:00Z"), T("2026-03-01T00:00:00Z")]],
        [
          [T("2026-03-02T00:00:00Z"), T("2026-03-03T00:00:00Z"), T("2026-03-02T00:00:00Z")],
          [T("2026-03-03T00:00:00Z"), T("2026-03-04T00:00:00Z"), T("2026-03-03T00:00:00Z")],
        ],
      ]);
      expect(r.rows.sql).toContain("r.seg ->> 2");
    });

    it("the plan reads what any customer-level field reads; only hours when no whole UTC day lies inside", () => {
      const byPlan = compiled({ ...scorecard, dimensions: ["plan"] });
      expect(byPlan.reads.rows).toEqual(compiled(scorecard).reads.rows);
      // The totals do not cut by the plan: they read the tenant's sums.
      expect(byPlan.reads.totals).toEqual(compiled(scorecard).reads.totals);
      const planFiltered = compiled({
        ...scorecard,
        filters: [{ dimension: "plan", op: "is_not", values: ["none"] }],
      });
      const customerFiltered = compiled({
        ...scorecard,
        filters: [{ dimension: "customer", op: "is_not", values: ["none"] }],
      });
      expect(planFiltered.reads).toEqual(customerFiltered.reads);
      expect(planFiltered.reads.totals.map((x) => x.table)).toContain("rollups_weekly");
      const oneDay = compiled({
        ...scorecard,
        time: {
          from: "2026-03-01T23:00:00Z",
          to: "2026-03-02T23:00:00Z",
          time_zone: "Europe/Madrid",
        },
      });
      // No whole UTC day inside: the first day's last hour, then the second day's row less its
      // last hour.
      expect(oneDay.reads.rows).toEqual([
        scan("rollups_hourly", "2026-03-01T23:00:00Z", "2026-03-02T00:00:00Z"),
        scan("rollups_daily", "2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z"),
        {
          ...scan("rollups_hourly", "2026-03-02T23:00:00Z", "2026-03-03T00:00:00Z"),
          subtract: true,
        },
      ]);
    });

    it("UTC Mondays at both ends: one weekly scan; UTC midnights inside a week: one daily scan", () => {
      const weeks = { from: "2026-03-02T00:00:00Z", to: "2026-03-30T00:00:00Z", time_zone: "UTC" };
      const r = compiled({ ...scorecard, time: weeks });
      expect(r.reads.rows).toEqual([scan("rollups_weekly", weeks.from, weeks.to)]);
      expect(statements(r)[0]?.sql).not.toContain("union all");
      const days = { from: "2026-03-03T00:00:00Z", to: "2026-03-07T00:00:00Z", time_zone: "UTC" };
      const d = compiled({ ...scorecard, time: days });
      expect(d.reads.rows).toEqual([scan("rollups_daily", days.from, days.to)]);
      for (const s of statements(d)) expect(s.sql).not.toContain("union all");
    });
  });

  it("reads the tenant's sums unless a statement cuts or filters by a customer-level field", () => {
    const q: ReportQuery = {
      dataset: "usage",
      measures: ["revenue", "units"],
      dimensions: ["time", "product", "metric"],
      filters: [{ dimension: "product", op: "is", values: ["chat-api"] }],
      time: { ...MARCH, time_zone: "UTC" },
      compare_to: "previous_period",
    };
    const tables = (over: Partial<ReportQuery>) => {
      const r = compiled({ ...q, ...over });
      return [r.table, r.totalsTable];
    };
    expect(tables({})).toEqual(["rollups_tenant_daily", "rollups_tenant_daily"]);
    // By customer: the rows need the customers' rows, the totals and comparison do not.
    expect(tables({ dimensions: ["customer"] })).toEqual([
      "rollups_weekly",
      "rollups_tenant_daily",
    ]);
    expect(tables({ dimensions: ["segment"] })).toEqual(["rollups_weekly", "rollups_tenant_daily"]);
    // A customer-level filter narrows every statement to some customers' rows.
    for (const dimension of ["customer", "segment", "plan"]) {
      const filters = [{ dimension, op: "is_not" as const, values: ["nobody"] }];
      expect(tables({ filters })[1], dimension).toMatch(/^rollups_(weekly|daily|hourly)$/);
      expect(tables({ filters })[0], dimension).toMatch(/^rollups_(weekly|daily|hourly)$/);
    }
    const r = compiled({ ...q, dimensions: ["time", "product"] });
    for (const s of statements(r)) {
      expect(s.sql).toContain('"rollups_tenant_daily" as "r"');
      expect(s.sql).toContain('SUM("r"."revenue_hi")');
      expect(s.sql).not.toContain("customer_id");
    }
  });
});

describe("comparisonRange", () => {
  it("previous_period: the same length ending where the range starts", () => {
    expect(
      comparisonRange(T("2026-03-10T00:00:00Z"), T("2026-03-17T00:00:00Z"), "previous_period"),
    ).toEqual({ from: T("2026-03-03T00:00:00Z"), to: T("2026-03-10T00:00:00Z") });
    // A 31-day March is compared with the 31 days before it (from 2026-01-29).
    expect(comparisonRange(T(MARCH.from), T(MARCH.to), "previous_period")).toEqual({
      from: T(MARCH.from) - 31 * DAY_MS,
      to: T(MARCH.from),
    });
  });

  it("previous_year: the same calendar dates a year before", () => {
    expect(comparisonRange(T(MARCH.from), T(MARCH.to), "previous_year")).toEqual({
      from: T("2025-03-01T00:00:00Z"),
      to: T("2025-04-01T00:00:00Z"),
    });
    expect(
      comparisonRange(T("2026-03-01T05:00:00Z"), T("2026-04-01T04:00:00Z"), "previous_year"),
    ).toEqual({ from: T("2025-03-01T05:00:00Z"), to: T("2025-04-01T04:00:00Z") });
  });

  it("previous_year in the query's zone: the same local times, across DST and 29 February", () => {
    // New York 2026-03-09 00:00 EDT (04:00Z) a year back is 2025-03-09 00:00 EST (05:00Z):
    // DST began on 8 March in 2026 but on 9 March 02:00 in 2025.
    expect(
      comparisonRange(
        T("2026-03-09T04:00:00Z"),
        T("2026-03-10T04:00:00Z"),
        "previous_year",
        "America/New_York",
      ),
    ).toEqual({ from: T("2025-03-09T05:00:00Z"), to: T("2025-03-10T04:00:00Z") });
    // 29 February 2028 (a whole local day in Kolkata) compares with 28 February 2027.
    expect(
      comparisonRange(
        T("2028-02-28T18:30:00Z"),
        T("2028-02-29T18:30:00Z"),
        "previous_year",
        "Asia/Kolkata",
      ),
    ).toEqual({ from: T("2027-02-27T18:30:00Z"), to: T("2027-02-28T18:30:00Z") });
  });

  it("is what the compiled comparison runs over, and what the answer names", () => {
    const r = compiled({
      dataset: "payments",
      measures: ["count"],
      dimensions: [],
      time: MARCH,
      compare_to: "previous_year",
    });
    expect(r.comparison?.from).toBe(T("2025-03-01T00:00:00Z"));
    expect(r.comparison?.query.parameters).toEqual(
      expect.arrayContaining([TENANT, T("2025-03-01T00:00:00Z"), T("2025-04-01T00:00:00Z")]),
    );
    expect(r.decode([], null, null).comparison).toEqual({
      from: "2025-03-01T00:00:00.000Z",
      to: "2025-04-01T00:00:00.000Z",
      totals: { count: 0 },
    });
  });
});

describe("decode", () => {
  it("reads a plain 64-bit sum as the exact integer, and the same query in halves sums both halves", () => {
    const q: ReportQuery = {
      dataset: "usage",
      measures: ["revenue", "units"],
      dimensions: ["customer"],
      time: MARCH,
    };
    const plain = compiled(q);
    expect(plain.rows.sql).toMatch(/CAST\(SUM\("r"\."revenue"\) AS TEXT\)/);
    const out = plain.decode(
      [{ d_customer: "c1", a_revenue: "9223372036854775807", a_units: "1500000" }],
      {
        a_revenue_hi: "9223372036",
        a_revenue_lo: "854775807",
        a_units_hi: "0",
        a_units_lo: "1500000",
      },
      null,
    );
    expect(out.rows).toEqual([{ customer: "c1", revenue: "9223372036.854775807", units: 1.5 }]);
    // The totals come from the tenant table, kept in halves, whichever way the rows summed.
    expect(out.totals).toEqual({ revenue: "9223372036.854775807", units: 1.5 });
    const halves = compiled(q, TENANT, "UTC", "halves");
    expect(halves.rows.sql).toMatch(/SUM\(\("r"\."revenue"\) \/ 1000000000\)/);
    expect(halves.rows.sql).not.toMatch(/SUM\("r"\."revenue"\)/);
  });

  it("sums money exactly from the halves, margin % from integers (null at zero revenue), truncates past the limit", () => {
    const r = compiled(
      {
        dataset: "usage",
        measures: ["revenue", "cogs", "margin", "margin_pct", "units"],
        dimensions: ["customer"],
        time: MARCH,
        limit: 1,
      },
      TENANT,
      "UTC",
      "halves",
    );
    // 123,456,789.123456789 revenue: hi 123456789, lo 123456789 nanos.
    const row = (
      customer: string,
      revHi: string,
      revLo: string,
      costHi: string,
      costLo: string,
    ) => ({
      d_customer: customer,
      a_revenue_hi: revHi,
      a_revenue_lo: revLo,
      a_cost_hi: costHi,
      a_cost_lo: costLo,
      a_units_hi: "2",
      a_units_lo: "500000",
    });
    const out = r.decode(
      [row("c1", "123456789", "123456789", "0", "500000000"), row("c2", "0", "0", "1", "0")],
      row("", "123456789", "123456789", "1", "500000000"),
      null,
    );
    expect(out.truncated).toBe(true);
    expect(out.rows).toEqual([
      {
        customer: "c1",
        revenue: "123456789.123456789",
        cogs: "0.50",
        margin: "123456788.623456789",
        margin_pct: 0.999999,
        // units are micros: 2 × 10^9 + 500,000 µ = 2,000.5
        units: 2000.5,
      },
    ]);
    expect(out.totals.cogs).toBe("1.50");
    const zero = r.decode([row("c2", "0", "0", "1", "0")], null, null);
    expect(zero.rows[0]).toMatchObject({ revenue: "0.00", margin: "-1.00", margin_pct: null });
    expect(zero.truncated).toBe(false);
    expect(zero.totals).toEqual({
      revenue: "0.00",
      cogs: "0.00",
      margin: "0.00",
      margin_pct: null,
      units: 0,
    });
  });
});

// ---- Executed on SQLite ----------------------------------------------------------------------

describe("compiled SQL on SQLite (the real migrations)", () => {
  let db: DatabaseSync;
  const run = (q: CompiledQuery) =>
    db.prepare(q.sql).all(...(q.parameters as (string | number)[])) as Record<string, unknown>[];
  const answer = (q: ReportQuery, tenant = TENANT, zone = "America/New_York") => {
    const r = compiled(q, tenant, zone);
    return r.decode(
      run(r.rows),
      run(r.totals)[0] ?? null,
      r.comparison ? (run(r.comparison.query)[0] ?? null) : null,
    );
  };
  const NANO = 1_000_000_000;

  beforeAll(() => {
    db = new DatabaseSync(":memory:", { enableForeignKeyConstraints: false });
    for (const f of readdirSync("schema")
      .filter((x) => x.endsWith(".sql"))
      .sort()) {
      db.exec(readFileSync(`schema/${f}`, "utf8"));
    }
    const insert = db.prepare(
      "INSERT INTO rollups_hourly (tenant_id, start, customer_id, product_id, metric_id, units, revenue, cost, events) VALUES (?, ?, ?, 'prod', 'tokens', ?, ?, ?, ?)",
    );
    // Every UTC hour from 2026-03-07 05:00Z to 2026-03-10 04:00Z (New York's 7th, 8th, 9th):
    // ten_a's cus_1 1 unit and 1.000000001 revenue (0.25 cost) an hour; ten_b the same
    // customer id with 1,000 × that.
    for (let t = T("2026-03-07T05:00:00Z"); t < T("2026-03-10T04:00:00Z"); t += HOUR_MS) {
      insert.run(TENANT, t, "cus_1", 1_000_000, NANO + 1, NANO / 4, 1);
      insert.run(OTHER, t, "cus_1", 1_000_000_000, 1000 * NANO, 0, 1000);
    }
    insert.run(TENANT, T("2026-03-08T12:00:00Z"), EVIL, 5_000_000, 5 * NANO, 0, 5);
    db.prepare(
      "INSERT INTO customers (tenant_id, id, name, metadata, created_at, updated_at) VALUES (?, 'cus_1', 'One', ?, 0, 0)",
    ).run(TENANT, JSON.stringify({ segment: "smb" }));
    db.prepare(
      "INSERT INTO customers (tenant_id, id, name, metadata, created_at, updated_at) VALUES (?, 'cus_1', 'One', ?, 0, 0)",
    ).run(OTHER, JSON.stringify({ segment: "enterprise" }));
    // The daily rows and the tenant's sums as the queue consumer keeps them: a UTC day's hours
    // summed, and schema/0022's backfill (the tenant tables' GROUP BY).
    db.exec(`INSERT INTO rollups_daily (tenant_id, start, customer_id, product_id, metric_id, units,
        revenue, cost, events)
      SELECT tenant_id, start - start % ${DAY_MS}, customer_id, product_id, metric_id, SUM(units),
        SUM(revenue), SUM(cost), SUM(events)
      FROM rollups_hourly GROUP BY 1, 2, 3, 4, 5`);
    const backfill = readFileSync("schema/0022_tenant_rollups.sql", "utf8");
    db.exec(backfill.slice(backfill.indexOf("INSERT INTO rollups_tenant_hourly")));
  });

  const byDay: ReportQuery = {
    dataset: "usage",
    measures: ["units", "events", "revenue", "cogs", "margin"],
    dimensions: ["time"],
    filters: [{ dimension: "customer", op: "is", values: ["cus_1"] }],
    time: { from: "2026-03-07T05:00:00Z", to: "2026-03-10T04:00:00Z" },
  };

  it("New York days across the spring-forward hold 24, 23 and 24 hours of usage, to the nano", () => {
    const out = answer(byDay);
    expect(out.rows).toEqual([
      {
        time: "2026-03-07T00:00:00-05:00",
        units: 24,
        events: 24,
        revenue: "24.000000024",
        cogs: "6.00",
        margin: "18.000000024",
      },
      {
        time: "2026-03-08T00:00:00-05:00",
        units: 23,
        events: 23,
        revenue: "23.000000023",
        cogs: "5.75",
        margin: "17.250000023",
      },
      {
        time: "2026-03-09T00:00:00-04:00",
        units: 24,
        events: 24,
        revenue: "24.000000024",
        cogs: "6.00",
        margin: "18.000000024",
      },
    ]);
    expect(out.totals).toMatchObject({ units: 71, revenue: "71.000000071" });
  });

  it("another tenant's rows and metadata never appear, though it has the same customer id", () => {
    const mine = answer({
      dataset: "usage",
      measures: ["units"],
      dimensions: ["customer", "segment"],
      time: byDay.time,
    });
    expect(mine.rows).toEqual([
      { customer: "cus_1", segment: "smb", units: 71 },
      { customer: EVIL, segment: null, units: 5 },
    ]);
    const theirs = answer({ ...byDay, dimensions: ["segment"] }, OTHER);
    expect(theirs.rows).toEqual([
      {
        segment: "enterprise",
        units: 71_000,
        events: 71_000,
        revenue: "71000.00",
        cogs: "0.00",
        margin: "71000.00",
      },
    ]);
  });

  it("a filter value that looks like SQL matches only that literal value", () => {
    const out = answer({
      ...byDay,
      filters: [{ dimension: "customer", op: "is", values: [EVIL] }],
    });
    expect(out.rows.map((r) => r.units)).toEqual([5]);
    const none = answer({
      ...byDay,
      filters: [{ dimension: "customer", op: "is", values: ["' OR '1'='1"] }],
    });
    expect(none.rows).toEqual([]);
    expect(none.totals.units).toBe(0);
  });

  it("hour_of_week in New York: Sunday 2026-03-08 has no 02:00 (146), Monday 00:00 EDT is 0", () => {
    const out = answer({
      ...byDay,
      measures: ["units"],
      dimensions: ["hour_of_week"],
      order_by: [{ field: "hour_of_week", direction: "asc" }],
    });
    const hours = out.rows.map((r) => r.hour_of_week);
    // Saturday 00:00 (120) … Monday 23:00 (23): 71 local hours, 2 × 24 + 23.
    expect(hours).toHaveLength(71);
    expect(hours).not.toContain(146);
    expect(hours.slice(0, 3)).toEqual([0, 1, 2]);
    expect(out.rows.every((r) => r.units === 1)).toBe(true);
  });

  it("days and edge hours answer as the hours alone, to the nano: by customer, totals and comparison", () => {
    // Madrid's 9 and 10 March (CET): 2026-03-08 23:00Z → 2026-03-10 23:00Z, the usage's last
    // hour 03:00Z on the 10th; the previous period 2026-03-06 23:00Z → 2026-03-08 23:00Z. A plan
    // filter that excludes no one (no customer here has one) reads every statement through the
    // plan intervals (domain/reports/plan-source.ts), another construction of the same rows.
    const q: ReportQuery = {
      dataset: "usage",
      measures: ["units", "events", "revenue", "cogs", "margin", "margin_pct"],
      dimensions: ["customer"],
      time: {
        from: "2026-03-08T23:00:00Z",
        to: "2026-03-10T23:00:00Z",
        time_zone: "Europe/Madrid",
      },
      compare_to: "previous_period",
    };
    const byPlanPath: ReportQuery = {
      ...q,
      filters: [{ dimension: "plan", op: "is_not", values: ["no-such-plan"] }],
    };
    const reads = compiled(q, TENANT, "Europe/Madrid").reads;
    // The first local day's one UTC hour; the whole UTC day; the last UTC day as its daily row
    // less its 23:00 hour, which lies after the range.
    for (const scans of [reads.rows, reads.totals, reads.comparison ?? []]) {
      expect(
        scans.map((x) => `${x.table.replace(/^rollups_(tenant_)?/, "")}${x.subtract ? " −" : ""}`),
      ).toEqual(["hourly", "daily", "daily", "hourly −"]);
    }
    const out = answer(q, TENANT, "Europe/Madrid");
    // 23:00Z on the 8th, the 24 hours of the 9th, 00:00–03:00Z on the 10th.
    expect(out.rows).toEqual([
      {
        customer: "cus_1",
        units: 29,
        events: 29,
        revenue: "29.000000029",
        cogs: "7.25",
        margin: "21.750000029",
        margin_pct: 0.75,
      },
    ]);
    const { customer: _, ...cells } = out.rows[0] ?? {};
    expect(out.totals).toEqual(cells);
    // 05:00Z–23:00Z on the 7th (19 hours), 00:00–22:00Z on the 8th (23), and the 5 units at noon.
    expect(out.comparison?.totals).toMatchObject({
      units: 47,
      events: 47,
      revenue: "47.000000042",
    });
    const planPath = answer(byPlanPath, TENANT, "Europe/Madrid");
    expect([out.rows, out.totals, out.comparison]).toEqual([
      planPath.rows,
      planPath.totals,
      planPath.comparison,
    ]);
    // The other tenant's copy, read the same way, is its own.
    expect(answer(q, OTHER, "Europe/Madrid").totals).toMatchObject({ units: 29_000 });
  });

  it("UTC days from a mid-day instant: the first day's hours in its bucket, then whole days", () => {
    const q: ReportQuery = {
      ...byDay,
      filters: [],
      time: { from: "2026-03-07T10:00:00Z", to: "2026-03-10T00:00:00Z", time_zone: "UTC" },
    };
    const out = answer(q, TENANT, "UTC");
    expect(out.rows.map((r) => [r.time, r.units])).toEqual([
      ["2026-03-07T00:00:00Z", 14],
      ["2026-03-08T00:00:00Z", 29],
      ["2026-03-09T00:00:00Z", 24],
    ]);
    const planPath = answer(
      { ...q, filters: [{ dimension: "plan", op: "is_not", values: ["no-such-plan"] }] },
      TENANT,
      "UTC",
    );
    expect(out.rows).toEqual(planPath.rows);
    expect(out.totals).toEqual(planPath.totals);
  });

  it("previous_period totals come from the period before (empty here), comparison range named", () => {
    const out = answer({ ...byDay, compare_to: "previous_period" });
    expect(out.comparison).toEqual({
      from: "2026-03-04T06:00:00.000Z",
      to: "2026-03-07T05:00:00.000Z",
      totals: { units: 0, events: 0, revenue: "0.00", cogs: "0.00", margin: "0.00" },
    });
  });
});
