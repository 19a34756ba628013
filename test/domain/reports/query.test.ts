import { describe, expect, it } from "vitest";
import type { ReportQuery } from "../../../contracts/reports";
import { checkQuery, type QueryIssue } from "../../../domain/reports/query";

// domain/reports/query.ts: a report query checked against the catalog. One failing query per
// rule, each issue naming its field; a valid query comes back with every default filled in.

const ZONE = "Europe/Berlin";
const base = (over: Partial<ReportQuery> = {}): ReportQuery => ({
  dataset: "usage",
  measures: ["revenue"],
  dimensions: ["customer"],
  time: { from: "2026-03-01T00:00:00Z", to: "2026-04-01T00:00:00Z" },
  ...over,
});
const timeOf = (over: Partial<ReportQuery["time"]>) => ({
  time: { from: "2026-03-01T00:00:00Z", to: "2026-04-01T00:00:00Z", ...over },
});

/** The issues of a query that must fail. */
function issuesOf(q: ReportQuery): QueryIssue[] {
  const r = checkQuery(q, ZONE);
  if (r.ok) throw new Error(`expected ${JSON.stringify(q)} to be refused`);
  return r.issues;
}

describe("checkQuery refuses, naming the field", () => {
  it("an event property on a dataset without them, or with a malformed key", () => {
    expect(issuesOf(base({ dimensions: ["properties.session_id"] }))).toEqual([
      {
        path: "dimensions.0",
        message: "dimension `properties.session_id` is not available on dataset `usage`",
      },
    ]);
    const events = (over: Partial<ReportQuery>) => base({ dataset: "events", ...over });
    expect(
      issuesOf(
        events({
          dimensions: ["properties.a b", "properties."],
          filters: [{ dimension: "properties.x'y", op: "is", values: ["1"] }],
        }),
      ),
    ).toEqual([
      {
        path: "dimensions.0",
        message: "`properties.a b`: the key after `properties.` must match ^[A-Za-z0-9_.-]{1,64}$",
      },
      {
        path: "dimensions.1",
        message: "`properties.`: the key after `properties.` must match ^[A-Za-z0-9_.-]{1,64}$",
      },
      {
        path: "filters.0.dimension",
        message: "`properties.x'y`: the key after `properties.` must match ^[A-Za-z0-9_.-]{1,64}$",
      },
    ]);
    expect(issuesOf(events({ dimensions: [`properties.${"k".repeat(65)}`] }))[0]?.path).toBe(
      "dimensions.0",
    );
    const ok = checkQuery(
      events({
        dimensions: ["customer", "properties.session_id", "properties.http.route-v2"],
        filters: [{ dimension: "properties.endpoint", op: "contains", values: ["/v1"] }],
        order_by: [{ field: "properties.session_id", direction: "asc" }],
      }),
      ZONE,
    );
    expect(ok.ok ? [] : ok.issues).toEqual([]);
  });

  it("a measure the dataset does not have (by its index)", () => {
    expect(issuesOf(base({ measures: ["revenue", "amount_paid"] }))).toEqual([
      { path: "measures.1", message: "measure `amount_paid` is not available on dataset `usage`" },
    ]);
  });

  it("a measure of another dataset, and one listed twice", () => {
    expect(
      issuesOf(
        base({
          dataset: "deliveries",
          measures: ["count", "revenue", "count"],
          dimensions: ["kind"],
        }),
      ),
    ).toEqual([
      {
        path: "measures.1",
        message: "measure `revenue` is not available on dataset `deliveries`",
      },
      { path: "measures.2", message: "measure `count` is listed twice" },
    ]);
  });

  it("no measure at all", () => {
    expect(issuesOf(base({ measures: [] }))).toEqual([
      { path: "measures", message: "choose at least one measure" },
    ]);
  });

  it("a dimension the dataset does not have (the brief's example)", () => {
    expect(
      issuesOf(base({ dataset: "deliveries", measures: ["count"], dimensions: ["kind", "plan"] })),
    ).toEqual([
      {
        path: "dimensions.1",
        message: "dimension `plan` is not available on dataset `deliveries`",
      },
    ]);
  });

  it("a dimension listed twice", () => {
    expect(issuesOf(base({ dimensions: ["customer", "product", "customer"] }))).toEqual([
      { path: "dimensions.2", message: "dimension `customer` is listed twice" },
    ]);
  });

  it("time.from not before time.to (equal, and reversed)", () => {
    const message = "time.to must be after time.from";
    expect(issuesOf(base(timeOf({ to: "2026-03-01T00:00:00Z" })))).toEqual([
      { path: "time.to", message },
    ]);
    expect(issuesOf(base(timeOf({ from: "2026-05-01T00:00:00Z" })))).toEqual([
      { path: "time.to", message },
    ]);
  });

  it("a range over 400 days; exactly 400 days is allowed", () => {
    expect(
      issuesOf(base(timeOf({ from: "2025-01-01T00:00:00Z", to: "2026-02-05T00:00:01Z" }))),
    ).toEqual([{ path: "time.to", message: "the range is 401 days; at most 400" }]);
    const ok = checkQuery(
      base(timeOf({ from: "2025-01-01T00:00:00Z", to: "2026-02-05T00:00:00Z" })),
      ZONE,
    );
    expect(ok.ok).toBe(true);
  });

  it("an instant that does not parse", () => {
    expect(issuesOf(base(timeOf({ from: "yesterday" })))).toEqual([
      { path: "time.from", message: "an ISO 8601 instant, e.g. 2026-11-01T00:00:00Z" },
    ]);
  });

  it("more than 2,000 time buckets, only when time is a dimension", () => {
    // 90 days of hours: 2,160 buckets.
    const q = base({
      dimensions: ["time"],
      ...timeOf({ from: "2026-01-01T00:00:00Z", to: "2026-04-01T00:00:00Z", granularity: "hour" }),
    });
    expect(issuesOf(q)).toEqual([
      {
        path: "time.granularity",
        message:
          "hour buckets over this range make about 2160; at most 2000: choose a coarser granularity or a shorter range",
      },
    ]);
    // The same range without the time dimension makes no buckets; day buckets are 90.
    expect(checkQuery({ ...q, dimensions: ["customer"] }, ZONE).ok).toBe(true);
    expect(checkQuery({ ...q, time: { ...q.time, granularity: "day" } }, ZONE).ok).toBe(true);
  });

  it("an unknown IANA zone, given or the tenant's", () => {
    expect(issuesOf(base(timeOf({ time_zone: "Mars/Olympus_Mons" })))).toEqual([
      {
        path: "time.time_zone",
        message:
          "`Mars/Olympus_Mons` is not an IANA time zone (e.g. Europe/Berlin, America/New_York)",
      },
    ]);
    const r = checkQuery(base(), "Nowhere/Atlantis");
    expect(r.ok ? [] : r.issues.map((i) => i.path)).toEqual(["time.time_zone"]);
  });

  it("a limit outside 1–10,000 or not whole", () => {
    for (const limit of [0, 10_001, 2.5, -1]) {
      expect(issuesOf(base({ limit }))).toEqual([
        { path: "limit", message: "a whole number from 1 to 10000" },
      ]);
    }
    expect(checkQuery(base({ limit: 10_000 }), ZONE).ok).toBe(true);
  });

  it("a filter on a dimension the dataset does not have", () => {
    expect(
      issuesOf(
        base({
          filters: [
            { dimension: "customer", op: "is", values: ["cus_1"] },
            { dimension: "decline_code", op: "is", values: ["insufficient_funds"] },
          ],
        }),
      ),
    ).toEqual([
      {
        path: "filters.1.dimension",
        message: "dimension `decline_code` is not available on dataset `usage`",
      },
    ]);
  });

  it("usage cut by provider or model together with a customer-level field", () => {
    expect(issuesOf(base({ dimensions: ["customer", "model"] }))).toEqual([
      {
        path: "dimensions.1",
        message:
          "dimension `model` cannot be combined with `customer` on dataset `usage`: use dataset `events`",
      },
    ]);
    // A filter counts as much as a dimension, on either side.
    expect(
      issuesOf(
        base({
          dimensions: ["provider"],
          filters: [{ dimension: "segment", op: "is", values: ["smb"] }],
        }),
      ),
    ).toEqual([
      {
        path: "dimensions.0",
        message:
          "dimension `provider` cannot be combined with `segment` on dataset `usage`: use dataset `events`",
      },
    ]);
    expect(
      issuesOf(
        base({
          dimensions: ["plan"],
          filters: [{ dimension: "provider", op: "is", values: ["openai"] }],
        }),
      ),
    ).toEqual([
      {
        path: "filters.0.dimension",
        message:
          "dimension `provider` cannot be combined with `plan` on dataset `usage`: use dataset `events`",
      },
    ]);
    for (const other of ["pricing_model", "billing_mode"]) {
      expect(issuesOf(base({ dimensions: [other, "model"] }))[0]?.message).toContain(
        `cannot be combined with \`${other}\``,
      );
    }
    // With time, product and metric it runs; so does the events dataset with a customer.
    const ok = (q: ReportQuery) => checkQuery(q, ZONE).ok;
    expect(
      ok(base({ dimensions: ["time", "hour_of_week", "product", "metric", "provider", "model"] })),
    ).toBe(true);
    expect(ok(base({ dataset: "events", dimensions: ["customer", "model"] }))).toBe(true);
  });

  it("a filter on a time bucket", () => {
    expect(
      issuesOf(base({ filters: [{ dimension: "hour_of_week", op: "is", values: ["3"] }] })),
    ).toEqual([
      {
        path: "filters.0.dimension",
        message:
          "`hour_of_week` is a time bucket: narrow time.from and time.to instead of filtering on it",
      },
    ]);
  });

  it("a filter without values, and a comparison with more than one", () => {
    expect(
      issuesOf(
        base({
          filters: [
            { dimension: "customer", op: "is", values: [] },
            { dimension: "customer", op: "gte", values: ["a", "b"] },
          ],
        }),
      ),
    ).toEqual([
      { path: "filters.0.values", message: "give at least one value" },
      { path: "filters.1.values", message: "`gte` compares with exactly one value, not 2" },
    ]);
  });

  it("order_by on a field outside the query (even one the dataset has)", () => {
    expect(
      issuesOf(
        base({
          order_by: [
            { field: "revenue", direction: "desc" },
            { field: "cogs", direction: "asc" },
          ],
        }),
      ),
    ).toEqual([
      {
        path: "order_by.1.field",
        message: "`cogs` is not a measure or dimension of this query",
      },
    ]);
  });

  it("a granularity the dataset has no buckets of", () => {
    // Every served dataset with a time dimension takes all four; subscriptions has none.
    expect(
      issuesOf(
        base({
          dataset: "subscriptions",
          measures: ["count"],
          dimensions: ["time"],
          ...timeOf({ granularity: "month" }),
        }),
      ).map((i) => i.path),
    ).toEqual(["dimensions.0", "time.granularity"]);
  });

  it("reports every issue of a query at once", () => {
    const issues = issuesOf({
      dataset: "payments",
      measures: ["amount", "units"],
      dimensions: ["segment"],
      filters: [{ dimension: "metric", op: "is", values: ["x"] }],
      time: { from: "2026-03-01T00:00:00Z", to: "2026-03-01T00:00:00Z", time_zone: "Bad/Zone" },
      order_by: [{ field: "margin", direction: "asc" }],
      limit: 0,
    });
    expect(issues.map((i) => i.path)).toEqual([
      "measures.1",
      "dimensions.0",
      "filters.0.dimension",
      "time.to",
      "time.time_zone",
      "order_by.0.field",
      "limit",
    ]);
  });
});

describe("checkQuery fills the defaults", () => {
  it("granularity day, the tenant's zone, limit 1,000, no filters, no comparison, order by the first measure descending", () => {
    const r = checkQuery(base({ measures: ["cogs", "revenue"] }), ZONE);
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    expect(r.query).toEqual({
      dataset: "usage",
      measures: ["cogs", "revenue"],
      dimensions: ["customer"],
      filters: [],
      time: {
        from: "2026-03-01T00:00:00Z",
        to: "2026-04-01T00:00:00Z",
        granularity: "day",
        time_zone: ZONE,
      },
      compare_to: null,
      order_by: [{ field: "cogs", direction: "desc" }],
      limit: 1_000,
    });
    expect(r.from).toBe(Date.parse("2026-03-01T00:00:00Z"));
    expect(r.to).toBe(Date.parse("2026-04-01T00:00:00Z"));
  });

  it("order by time ascending when time is a dimension", () => {
    const r = checkQuery(base({ dimensions: ["customer", "time"] }), ZONE);
    expect(r.ok && r.query.order_by).toEqual([{ field: "time", direction: "asc" }]);
  });

  it("keeps what was given: zone, granularity, order, limit, comparison", () => {
    const q = base({
      dimensions: ["time", "customer"],
      ...timeOf({ granularity: "week", time_zone: "America/New_York" }),
      order_by: [{ field: "customer", direction: "desc" }],
      compare_to: "previous_year",
      limit: 25,
    });
    const r = checkQuery(q, ZONE);
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    expect(r.query.time).toEqual({ ...q.time, granularity: "week", time_zone: "America/New_York" });
    expect(r.query.order_by).toEqual([{ field: "customer", direction: "desc" }]);
    expect(r.query.compare_to).toBe("previous_year");
    expect(r.query.limit).toBe(25);
  });

  it("takes an instant with an offset", () => {
    const r = checkQuery(
      base(timeOf({ from: "2026-03-01T00:00:00-05:00", to: "2026-03-02T00:00:00-05:00" })),
      ZONE,
    );
    expect(r.ok && [r.from, r.to]).toEqual([
      Date.parse("2026-03-01T05:00:00Z"),
      Date.parse("2026-03-02T05:00:00Z"),
    ]);
  });
});
