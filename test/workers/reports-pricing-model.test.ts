import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { formatMoney, formatScaled, QUANTITY_SCALE } from "../../domain/money";
import {
  clockSettled,
  customer,
  DAY,
  HOUR,
  isoOf,
  plan,
  product,
  send,
  settle,
  subscribe,
  tokens,
} from "./billing-helpers";
import { ADMIN_TOKEN, call, createTenant, type Tenant } from "./helpers";

// The usage dataset's pricing_model and billing_mode (issue 15 item 2): what the plan in force
// at each hour does with the row's metric, and whether the plan is a commitment. Three
// customers on three kinds of plan, one with none; a plan change inside the range moves the
// hours after it.

let tenant: Tenant;
/** The latest UTC day whose first 15 hours are past: the scenario below sends events until
 * 14:00 of it and reads until 15:00, which must be in the past at any time of day the suite
 * runs (just after midnight UTC, today's 14:00 is not). */
const TODAY = Math.floor((Date.now() - 15 * HOUR) / DAY) * DAY;
const DAY0 = TODAY - 3 * DAY;

beforeAll(async () => {
  tenant = await createTenant("Pricing Models");
  await clockSettled(tenant);
  await product(tenant);
  // Volume tiers on input, per-unit output, a $100 minimum: a commitment.
  await plan(tenant, "committed", [
    {
      type: "tiered",
      metric: "input_tokens",
      mode: "volume",
      tiers: [
        { up_to: 1_000_000, unit_price: "0.00001" },
        { up_to: null, unit_price: "0.000005" },
      ],
    },
    { type: "per_unit", metric: "output_tokens", unit_price: "0.00002" },
    { type: "minimum", amount: "100" },
  ]);
  // A quota of input with per-unit beyond it; output only through the flat fee.
  await plan(tenant, "quota", [
    { type: "flat", amount: "20" },
    { type: "included", metric: "input_tokens", quantity: 100_000 },
    { type: "per_unit", metric: "input_tokens", unit_price: "0.00001" },
  ]);
  // Packages of input; output not priced at all.
  await plan(tenant, "packs", [
    { type: "package", metric: "input_tokens", size: 1000, price: "0.5" },
  ]);
  for (const c of ["big", "small", "loose"]) await customer(tenant, c);
  await subscribe(tenant, "big", "committed", DAY0 - 10 * DAY);
  await subscribe(tenant, "small", "quota", DAY0 - 10 * DAY);
  // "loose" has no subscription: its usage has no plan, so no pricing model either.
  await send(tenant, [
    tokens("big", DAY0 + HOUR, 1_000, { cost: { usd: 0.001 } }),
    tokens("big", DAY0 + HOUR, 200, { metric: "output_tokens", cost: { usd: 0.001 } }),
    tokens("small", DAY0 + 2 * HOUR, 3_000, { cost: { usd: 0.001 } }),
    tokens("small", DAY0 + 2 * HOUR, 700, { metric: "output_tokens", cost: { usd: 0.001 } }),
    tokens("loose", DAY0 + 3 * HOUR, 5_000, { cost: { usd: 0.001 } }),
  ]);
  await settle(tenant, ["big", "small", "loose"], 5);
});

const run = async (q: Record<string, unknown>) => {
  const res = await call("POST", "/api/reports/run", {
    token: tenant.operator_token,
    body: {
      dataset: "usage",
      time: { from: isoOf(DAY0), to: isoOf(TODAY), time_zone: "UTC" },
      ...q,
    },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
};

describe("reports: pricing model and billing mode", () => {
  it("names how the plan in force prices each metric, and whether it is a commitment", async () => {
    const r = await run({
      measures: ["units"],
      dimensions: ["customer", "metric", "pricing_model", "billing_mode"],
      order_by: [
        { field: "customer", direction: "asc" },
        { field: "metric", direction: "asc" },
      ],
    });
    expect(r.rows).toEqual([
      {
        customer: "big",
        metric: "input_tokens",
        pricing_model: "tiered_volume",
        billing_mode: "commitment",
        units: 1_000,
      },
      {
        customer: "big",
        metric: "output_tokens",
        pricing_model: "per_unit",
        billing_mode: "commitment",
        units: 200,
      },
      {
        customer: "loose",
        metric: "input_tokens",
        pricing_model: null,
        billing_mode: null,
        units: 5_000,
      },
      // The priced component, whatever quota rides on it; a metric the plan does not charge for
      // is `unpriced`.
      {
        customer: "small",
        metric: "input_tokens",
        pricing_model: "per_unit",
        billing_mode: "in_arrears",
        units: 3_000,
      },
      {
        customer: "small",
        metric: "output_tokens",
        pricing_model: "unpriced",
        billing_mode: "in_arrears",
        units: 700,
      },
    ]);
  });

  it("follows a plan change: hours after it take the new plan's model", async () => {
    await customer(tenant, "mover");
    const sub = await subscribe(tenant, "mover", "quota", DAY0 - 10 * DAY);
    const change = await call("POST", `/api/subscriptions/${sub.id}/change`, {
      token: tenant.operator_token,
      body: { plan: "packs", at: isoOf(DAY0 + 12 * HOUR) },
    });
    expect(change.status, JSON.stringify(change.body)).toBe(200);
    await send(tenant, [
      tokens("mover", DAY0 + 5 * HOUR, 100, { cost: { usd: 0.001 } }),
      tokens("mover", DAY0 + 20 * HOUR, 300, { cost: { usd: 0.001 } }),
      tokens("mover", DAY0 + 20 * HOUR, 50, { metric: "output_tokens", cost: { usd: 0.001 } }),
    ]);
    await settle(tenant, ["mover"], 8);
    const r = await run({
      measures: ["units"],
      dimensions: ["metric", "plan", "pricing_model"],
      filters: [{ dimension: "customer", op: "is", values: ["mover"] }],
      order_by: [{ field: "units", direction: "asc" }],
    });
    expect(r.rows).toEqual([
      { metric: "output_tokens", plan: "packs", pricing_model: "unpriced", units: 50 },
      { metric: "input_tokens", plan: "quota", pricing_model: "per_unit", units: 100 },
      { metric: "input_tokens", plan: "packs", pricing_model: "package", units: 300 },
    ]);
  });
});

// The plan resolved once per stretch between phase boundaries, whole UTC days and weeks read
// where none falls inside them (domain/reports/plan-source.ts), against the rule it replaced:
// each hourly row's own lookup of the phase in force at its start (REFERENCE, written here only).
// A tenant in Europe/Madrid and one in UTC, each with a change mid-day and mid-hour, overlapping
// phases, a cancel mid-hour leaving later hours with no plan, and a customer with none.

const REFERENCE = `
  SELECT x.*,
    CASE WHEN x.plan IS NULL THEN NULL
      ELSE COALESCE((SELECT CASE WHEN pc.type = 'tiered'
          THEN 'tiered_' || COALESCE(json_extract(pc.spec, '$.mode'), 'graduated') ELSE pc.type END
        FROM plan_components pc WHERE pc.tenant_id = x.tenant_id AND pc.plan_id = x.plan
          AND pc.metric_id = x.metric_id AND pc.type IN ('per_unit', 'tiered', 'package')
        ORDER BY pc.position LIMIT 1), 'unpriced') END AS pricing_model,
    CASE WHEN x.plan IS NULL THEN NULL
      WHEN EXISTS (SELECT 1 FROM plan_components m WHERE m.tenant_id = x.tenant_id
        AND m.plan_id = x.plan AND m.type = 'minimum') THEN 'commitment'
      ELSE 'in_arrears' END AS billing_mode
  FROM (SELECT r.tenant_id, r.customer_id AS customer, r.metric_id, r.units, r.revenue, r.cost,
      r.events, (SELECT sp.plan_id FROM subscriptions s
        JOIN subscription_phases sp ON sp.tenant_id = s.tenant_id AND sp.subscription_id = s.id
        JOIN plans p ON p.tenant_id = sp.tenant_id AND p.id = sp.plan_id
        WHERE s.tenant_id = r.tenant_id AND s.customer_id = r.customer_id
          AND p.product_id = r.product_id AND sp.start_at <= r.start
          AND (sp.end_at IS NULL OR sp.end_at > r.start)
        ORDER BY sp.start_at DESC LIMIT 1) AS plan
    FROM rollups_hourly r WHERE r.tenant_id = ? AND r.start >= ? AND r.start < ?) x`;

type Filter = { dimension: string; op: "is" | "is_not"; values: string[] };
interface RefRow {
  customer: string;
  plan: string | null;
  pricing_model: string | null;
  billing_mode: string | null;
  units: number;
  revenue: number;
  cost: number;
  events: number;
}

/** The per-hour answer: rows grouped in JS with exact integers, as the report formats them. */
async function reference(
  t: Tenant,
  from: number,
  to: number,
  dimensions: (keyof RefRow)[],
  filters: Filter[] = [],
) {
  const { results } = await env.DB.prepare(REFERENCE).bind(t.tenant_id, from, to).all<RefRow>();
  const kept = results.filter((r) =>
    filters.every((f) => {
      const v = r[f.dimension as keyof RefRow] as string | null;
      return f.op === "is"
        ? v !== null && f.values.includes(v)
        : v === null || !f.values.includes(v);
    }),
  );
  const groups = new Map<string, { dims: unknown[]; sums: bigint[] }>();
  for (const r of kept) {
    const dims = dimensions.map((d) => r[d]);
    const key = JSON.stringify(dims);
    const g = groups.get(key) ?? { dims, sums: [0n, 0n, 0n, 0n] };
    g.sums = [r.units, r.revenue, r.cost, r.events].map(
      (v, i) => (g.sums[i] as bigint) + BigInt(v),
    );
    groups.set(key, g);
  }
  const cells = ([units, revenue, cost, events]: bigint[]) => ({
    units: Number(formatScaled(units as bigint, QUANTITY_SCALE)),
    revenue: formatMoney(revenue as bigint),
    cogs: formatMoney(cost as bigint),
    events: Number(events),
  });
  const all = [...groups.values()];
  return {
    rows: all.map((g) => ({
      ...Object.fromEntries(dimensions.map((d, i) => [d, g.dims[i]])),
      ...cells(g.sums),
    })),
    totals: cells(
      all.reduce((a, g) => a.map((x, i) => x + (g.sums[i] as bigint)), [0n, 0n, 0n, 0n]),
    ),
  };
}
/** Rows in one order whatever their keys' order. */
const sorted = (rows: unknown[]) => {
  const canonical = (r: unknown) =>
    JSON.stringify(Object.entries(r as object).sort(([a], [b]) => a.localeCompare(b)));
  return [...rows].sort((a, b) => canonical(a).localeCompare(canonical(b)));
};

for (const zone of ["Europe/Madrid", "UTC"]) {
  describe(`reports: the plan per stretch of phases, as the per-hour lookup (${zone})`, () => {
    let z: Tenant;
    // Local midnights are never far from UTC ones; the range starts an hour before DAY0's and
    // ends mid-afternoon, so its edges are partial UTC days either way.
    const FROM = DAY0 - 4 * DAY - HOUR;
    const TO = TODAY + 15 * HOUR;
    const customers = ["midday", "overlap", "loose", "canceled"];

    beforeAll(async () => {
      const created = await call("POST", "/admin/tenants", {
        token: ADMIN_TOKEN,
        body: { name: `Plans ${zone}`, settings: { retry: { time_zone: zone } } },
      });
      expect(created.status).toBe(201);
      z = created.body;
      await clockSettled(z);
      await product(z);
      await plan(z, "committed", [
        { type: "per_unit", metric: "input_tokens", unit_price: "0.00001" },
        { type: "minimum", amount: "100" },
      ]);
      await plan(z, "quota", [
        { type: "included", metric: "input_tokens", quantity: 100_000 },
        { type: "per_unit", metric: "input_tokens", unit_price: "0.00002" },
      ]);
      await plan(z, "packs", [
        { type: "package", metric: "input_tokens", size: 1000, price: "0.5" },
      ]);
      for (const c of customers) await customer(z, c);
      // Mid-day and mid-hour: the hour of 12:00 keeps quota, 13:00 is the first on packs.
      const midday = await subscribe(z, "midday", "quota", DAY0 - 10 * DAY);
      const change = await call("POST", `/api/subscriptions/${midday.id}/change`, {
        token: z.operator_token,
        body: { plan: "packs", at: isoOf(DAY0 + DAY + 12 * HOUR + 30 * 60_000) },
      });
      expect(change.status, JSON.stringify(change.body)).toBe(200);
      // Service ends at 07:15: the hours from 08:00 have no plan.
      const canceled = await subscribe(z, "canceled", "packs", DAY0 - 10 * DAY);
      const cancel = await call("POST", `/api/subscriptions/${canceled.id}/cancel`, {
        token: z.operator_token,
        body: { at: isoOf(DAY0 + 2 * DAY + 7 * HOUR + 15 * 60_000) },
      });
      expect(cancel.status, JSON.stringify(cancel.body)).toBe(200);
      // Overlapping phases, which the API never writes for one product (a second subscription
      // is refused) but the rule decides anyway: the latest to start wins while both are in
      // force, from mid-day on DAY0 to 05:00 two days later.
      await subscribe(z, "overlap", "committed", DAY0 - 10 * DAY);
      const start = DAY0 + 12 * HOUR;
      const end = DAY0 + 2 * DAY + 5 * HOUR;
      await env.DB.batch([
        env.DB.prepare(
          "INSERT INTO subscriptions (tenant_id, id, customer_id, plan_id, status, start_at, anchor_at, end_at, created_at, updated_at) VALUES (?, 'sub_overlap_2', 'overlap', 'quota', 'canceled', ?, ?, ?, ?, ?)",
        ).bind(z.tenant_id, start, start, end, start, start),
        env.DB.prepare(
          "INSERT INTO subscription_phases (tenant_id, subscription_id, start_at, end_at, plan_id, anchor_at, created_at) VALUES (?, 'sub_overlap_2', ?, ?, 'quota', ?, ?)",
        ).bind(z.tenant_id, start, end, start, start),
      ]);
      // Every customer's usage every three hours over five days and the first hours of today,
      // both metrics; more on the hours around the changes.
      const events: unknown[] = [];
      let n = 0;
      for (let t = DAY0 - 4 * DAY; t < TODAY + 14 * HOUR; t += 3 * HOUR) {
        for (const c of customers) {
          n++;
          events.push(tokens(c, t + 60_000, 1_000 + (n % 7) * 10, { cost: { usd: 0.001 } }));
          if (n % 2 === 0) {
            events.push(
              tokens(c, t + 120_000, 100 + n, { metric: "output_tokens", cost: { usd: 0.002 } }),
            );
          }
        }
      }
      for (const at of [
        DAY0 + DAY + 12 * HOUR,
        DAY0 + DAY + 13 * HOUR,
        DAY0 + 2 * DAY + 7 * HOUR,
      ]) {
        for (const c of customers)
          events.push(tokens(c, at + 45 * 60_000, 777, { cost: { usd: 0.003 } }));
      }
      await send(z, events);
      await settle(z, customers, events.length);
    });

    const run = async (q: Record<string, unknown>) => {
      const res = await call("POST", "/api/reports/run", {
        token: z.operator_token,
        body: {
          dataset: "usage",
          measures: ["units", "revenue", "cogs", "events"],
          time: { from: isoOf(FROM), to: isoOf(TO), time_zone: zone },
          limit: 1000,
          ...q,
        },
      });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return res.body;
    };

    for (const dimensions of [
      ["pricing_model", "plan"],
      ["customer", "plan", "billing_mode"],
      ["customer", "metric", "pricing_model"],
    ] as (keyof RefRow | "metric")[][]) {
      it(`by ${dimensions.join(" × ")}: the per-hour answer to the nano, adding up to the totals`, async () => {
        const r = await run({ dimensions });
        const dims = dimensions.map((d) => (d === "metric" ? "metric_id" : d)) as (keyof RefRow)[];
        const ref = await reference(z, FROM, TO, dims);
        const renamed = ref.rows.map((row) => {
          const { metric_id, ...rest } = row as Record<string, unknown>;
          return metric_id === undefined ? rest : { ...rest, metric: metric_id };
        });
        expect(sorted(r.rows)).toEqual(sorted(renamed));
        expect(r.totals).toEqual(ref.totals);
        // Every customer and plan state shows: no plan for loose and after the cancel.
        if (dimensions.includes("customer") && dimensions.includes("plan")) {
          expect(
            r.rows
              .filter((x: { plan: unknown }) => x.plan === null)
              .map((x: { customer: string }) => x.customer)
              .sort(),
          ).toEqual(["canceled", "loose"]);
        }
      });
    }

    for (const filters of [
      [{ dimension: "plan", op: "is", values: ["packs", "quota"] }],
      [{ dimension: "pricing_model", op: "is_not", values: ["per_unit"] }],
      [{ dimension: "billing_mode", op: "is", values: ["commitment"] }],
    ] as Filter[][]) {
      it(`filtered by ${filters[0]?.dimension}: rows, totals and the previous period`, async () => {
        // From the day of the mid-day change: the period before holds the overlap's start.
        const from = DAY0 + DAY - HOUR;
        const r = await run({
          dimensions: ["customer", "plan"],
          filters,
          compare_to: "previous_period",
          time: { from: isoOf(from), to: isoOf(TO), time_zone: zone },
        });
        const ref = await reference(z, from, TO, ["customer", "plan"], filters);
        expect(sorted(r.rows)).toEqual(sorted(ref.rows));
        expect(r.totals).toEqual(ref.totals);
        const before = await reference(
          z,
          Date.parse(r.comparison.from),
          Date.parse(r.comparison.to),
          [],
          filters,
        );
        expect(r.comparison.totals).toEqual(before.totals);
        expect(before.totals.events).toBeGreaterThan(0);
      });
    }
  });
}
