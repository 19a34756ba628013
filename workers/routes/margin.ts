import { createRoute, z } from "@hono/zod-openapi";
import { formatMoney } from "../../domain/money";
import { dailyFees } from "../../domain/subscription-phases";
import { groupPhases, PHASES_ORDER, PHASES_SQL, type PhaseRow } from "../../store/subscriptions";
import { createRouter } from "../app";
import {
  type BuildState,
  buildMargin,
  buildStateStatement,
  dayStart,
  isStale,
  type WindowDays,
} from "../billing/margin";
import { loadTenantPlans } from "../billing/plans";
import { notFound, problemResponses } from "../problem";
import { decodeCursor, encodeCursor, Id, iso, jsonResponse } from "../schemas";

// COGS & Margin (SPEC §8; definitions in docs/metrics.md §COGS and margin): per product and per
// customer, over the trailing 30/60/90 UTC days, from the read models workers/billing/margin.ts
// builds out of rollups_daily and the subscription history.
export const margin = createRouter();
const security = [{ operatorToken: [] }];
const DAY_MS = 86_400_000;

const Money = z.string().openapi({ example: "1520.40" });
const Pnl = {
  revenue: Money.openapi({ description: "usage_revenue + fee_revenue" }),
  usage_revenue: Money.openapi({ description: "Rated usage (the events' revenue)" }),
  fee_revenue: Money.openapi({ description: "Flat platform fees, recognised day by day" }),
  cogs: Money.openapi({ description: "The events' provider cost" }),
  contribution_margin: Money.openapi({ description: "revenue − cogs" }),
  margin_pct: z
    .number()
    .nullable()
    .openapi({ description: "contribution_margin ÷ revenue × 100; null without revenue" }),
  usage_margin: Money.openapi({ description: "usage_revenue − cogs: does usage pay for itself?" }),
  events: z.number().int(),
  costing_more_than_paying: z.boolean().openapi({ description: "cogs > revenue" }),
};
const TrendPoint = z
  .object({ day: z.string(), revenue: Money, cogs: Money, contribution_margin: Money })
  .openapi("MarginTrendPoint");

interface Sums {
  usage: bigint;
  fees: bigint;
  cost: bigint;
  events: number;
}

function pnl(s: Sums) {
  const revenue = s.usage + s.fees;
  const cm = revenue - s.cost;
  return {
    revenue: formatMoney(revenue),
    usage_revenue: formatMoney(s.usage),
    fee_revenue: formatMoney(s.fees),
    cogs: formatMoney(s.cost),
    contribution_margin: formatMoney(cm),
    margin_pct: revenue === 0n ? null : Math.round((Number(cm) / Number(revenue)) * 10_000) / 100,
    usage_margin: formatMoney(s.usage - s.cost),
    events: s.events,
    costing_more_than_paying: s.cost > revenue,
  };
}

const share = (part: bigint, whole: bigint) =>
  whole === 0n ? null : Math.round((Number(part) / Number(whole)) * 10_000) / 10_000;

const Filters = z.object({
  days: z.coerce
    .number()
    .int()
    .refine((d) => d === 30 || d === 60 || d === 90, "days is 30, 60 or 90")
    .default(30),
  product: Id.optional(),
  segment: Id.optional().openapi({ description: "A plan id: customers whose plan it is" }),
});

interface AggRow {
  key: string;
  usage: string;
  fees: string;
  cost: string;
  events: number;
}
const sumsOf = (r: Pick<AggRow, "usage" | "fees" | "cost" | "events">): Sums => ({
  usage: BigInt(r.usage),
  fees: BigInt(r.fees),
  cost: BigInt(r.cost),
  events: r.events,
});
const ZERO: Sums = { usage: 0n, fees: 0n, cost: 0n, events: 0 };

const SUMS = `CAST(SUM(usage_revenue) AS TEXT) AS usage, CAST(SUM(fee_revenue) AS TEXT) AS fees,
  CAST(SUM(cost) AS TEXT) AS cost, SUM(events) AS events`;
const COLUMNS = `CAST(usage_revenue AS TEXT) AS usage, CAST(fee_revenue AS TEXT) AS fees,
  CAST(cost AS TEXT) AS cost, events`;

type Ctx = {
  env: Env;
  var: { tenantId: string };
  executionCtx: { waitUntil(p: Promise<unknown>): void };
};

/**
 * Runs the reads in one D1 batch together with the build state. Without a build for today the
 * read models are built first (then read again); a build older than the data (catalog or
 * rollups changed, at most every MARGIN_REFRESH_MS) is redone in the background while this
 * answer uses it (stale-while-revalidate).
 */
async function withBuild(c: Ctx, reads: (db: D1Database) => D1PreparedStatement[]) {
  const db = c.env.DB;
  const tenantId = c.var.tenantId;
  const now = Date.now();
  const run = async () => {
    const [state, ...results] = await db.batch([buildStateStatement(db, tenantId), ...reads(db)]);
    return { state: state?.results[0] as BuildState | undefined, results };
  };
  let res = await run();
  if (!res.state || res.state.day !== dayStart(now) || res.state.built_at === 0) {
    await buildMargin(db, tenantId, now, { force: true });
    res = await run();
  } else if (isStale(res.state, now)) {
    c.executionCtx.waitUntil(
      buildMargin(db, tenantId, now).catch((err) => console.error("margin build", err)),
    );
  }
  const state = res.state as BuildState;
  return { builtAt: state.built_at, currency: state.currency, results: res.results };
}

/** Daily trend rows (margin_daily), per product or all together. */
function trendStatement(
  db: D1Database,
  tenantId: string,
  days: WindowDays,
  product: string | null,
  segment: string | null,
  byProduct: boolean,
) {
  const today = dayStart(Date.now());
  return db
    .prepare(
      `SELECT day, ${byProduct ? "product_id" : "''"} AS key, ${SUMS} FROM margin_daily
       WHERE tenant_id = ?1 AND day > ?2 AND (?3 IS NULL OR product_id = ?3)
         AND (?4 IS NULL OR plan_id = ?4)
       GROUP BY day${byProduct ? ", product_id" : ""}`,
    )
    .bind(tenantId, today - days * DAY_MS, product, segment);
}

function trendOf(rows: readonly (AggRow & { day: number })[], days: number) {
  const today = dayStart(Date.now());
  const out = new Map<string, Map<number, Sums>>();
  for (const r of rows) {
    let m = out.get(r.key);
    if (!m) {
      m = new Map();
      out.set(r.key, m);
    }
    m.set(r.day, sumsOf(r));
  }
  return (key: string) => series(out.get(key), today, days);
}

/** One point per UTC day of the window, oldest first (days without data are zero). */
function series(points: ReadonlyMap<number, Sums> | undefined, today: number, days: number) {
  const out = [];
  for (let d = today - (days - 1) * DAY_MS; d <= today; d += DAY_MS) {
    const s = points?.get(d);
    const revenue = s ? s.usage + s.fees : 0n;
    const cost = s?.cost ?? 0n;
    out.push({
      day: (iso(d) ?? "").slice(0, 10),
      revenue: formatMoney(revenue),
      cogs: formatMoney(cost),
      contribution_margin: formatMoney(revenue - cost),
    });
  }
  return out;
}

const Window = z.object({
  days: z.number().int(),
  from: z.string(),
  to: z.string(),
  built_at: z.string().openapi({ description: "When the read model was built (≤ ~1 min stale)" }),
});

function windowOf(days: number, builtAt: number) {
  const today = dayStart(builtAt);
  return {
    days,
    from: iso(today - (days - 1) * DAY_MS) ?? "",
    to: iso(builtAt) ?? "",
    built_at: iso(builtAt) ?? "",
  };
}

const SortBy = z
  .enum(["contribution_margin", "margin_pct", "revenue", "cogs", "usage_margin"])
  .default("contribution_margin");

function sortKey(sort: z.infer<typeof SortBy>, s: Sums): number {
  const revenue = s.usage + s.fees;
  switch (sort) {
    case "revenue":
      return Number(revenue);
    case "cogs":
      return Number(s.cost);
    case "usage_margin":
      return Number(s.usage - s.cost);
    case "margin_pct":
      return revenue === 0n ? Number.NEGATIVE_INFINITY : Number(revenue - s.cost) / Number(revenue);
    default:
      return Number(revenue - s.cost);
  }
}

const compare = (a: number, b: number, order: "asc" | "desc") =>
  a === b ? 0 : (a < b ? -1 : 1) * (order === "asc" ? 1 : -1);

/** Where the rows of one filter live: a segment (plan) has its own rows; else a product's rows,
 * or the all-products rows (product_id ''). */
function scope(product: string | null, segment: string | null) {
  return segment !== null
    ? {
        where: "plan_id = ?3 AND (?4 IS NULL OR product_id = ?4)",
        binds: [segment, product],
      }
    : { where: "product_id = ?3 AND ?4 IS NULL", binds: [product ?? "", null] };
}

const ProductRow = z
  .object({
    product: z.string(),
    name: z.string().nullable(),
    ...Pnl,
    contribution_share: z
      .number()
      .nullable()
      .openapi({ description: "This row's contribution margin ÷ the total's" }),
    customers: z.number().int(),
    unprofitable_customers: z.number().int(),
    trend: z.array(TrendPoint),
    drilldown: z.string().openapi({ description: "Its customers, ranked" }),
  })
  .openapi("ProductMargin");

/** What both rankings answer around their rows: the window, the currency and the totals. */
const Ranked = z.object({
  window: Window,
  currency: z.string(),
  totals: z.object({
    ...Pnl,
    customers: z.number().int(),
    unprofitable_customers: z.number().int(),
    trend: z.array(TrendPoint),
  }),
});

margin.openapi(
  createRoute({
    method: "get",
    path: "/products",
    tags: ["margin"],
    summary: "P&L per product: revenue, COGS, margin %, contribution margin, daily trends",
    security,
    request: {
      query: Filters.extend({ sort: SortBy, order: z.enum(["desc", "asc"]).default("desc") }),
    },
    responses: {
      200: jsonResponse(Ranked.extend({ data: z.array(ProductRow) }), "Products ranked"),
      ...problemResponses,
    },
  }),
  async (c) => {
    const q = c.req.valid("query");
    const days = q.days as WindowDays;
    const tenantId = c.var.tenantId;
    const product = q.product ?? null;
    const segment = q.segment ?? null;
    const { builtAt, currency, results } = await withBuild(c, (db) => [
      db
        .prepare(
          `SELECT w.product_id AS key, p.name, ${COLUMNS}, w.customers, w.unprofitable
           FROM margin_product_windows w
           LEFT JOIN products p ON p.tenant_id = w.tenant_id AND p.id = w.product_id
           WHERE w.tenant_id = ?1 AND w.window_days = ?2 AND w.plan_id = ?3
             AND w.product_id <> '' AND (?4 IS NULL OR w.product_id = ?4)`,
        )
        .bind(tenantId, days, segment ?? "", product),
      // The total: one precomputed row, unless a segment spans several of its product's rows.
      db
        .prepare(
          `SELECT ${SUMS}, SUM(customers) AS customers, SUM(unprofitable) AS unprofitable
           FROM margin_product_windows WHERE tenant_id = ?1 AND window_days = ?2 AND plan_id = ?3
             AND (CASE WHEN ?3 = '' THEN product_id = COALESCE(?4, '')
                  ELSE product_id <> '' AND (?4 IS NULL OR product_id = ?4) END)`,
        )
        .bind(tenantId, days, segment ?? "", product),
      trendStatement(db, tenantId, days, product, segment, true),
      trendStatement(db, tenantId, days, product, segment, false),
    ]);
    const [rowsRes, totalRes, trendRes, allTrendRes] = results;
    const rows = (rowsRes?.results ?? []) as (AggRow & {
      name: string | null;
      customers: number;
      unprofitable: number;
    })[];
    const totalRow = totalRes?.results[0] as
      | (AggRow & { customers: number | null; unprofitable: number | null })
      | undefined;
    const total = totalRow?.usage != null ? sumsOf(totalRow) : ZERO;
    const trends = trendOf((trendRes?.results ?? []) as (AggRow & { day: number })[], days);
    const allTrend = trendOf((allTrendRes?.results ?? []) as (AggRow & { day: number })[], days);
    const totalCm = total.usage + total.fees - total.cost;
    const data = rows.map((r) => {
      const s = sumsOf(r);
      return {
        sort: sortKey(q.sort, s),
        row: {
          product: r.key,
          name: r.name,
          ...pnl(s),
          contribution_share: share(s.usage + s.fees - s.cost, totalCm),
          customers: r.customers,
          unprofitable_customers: r.unprofitable,
          trend: trends(r.key),
          drilldown: `/api/margin/customers?product=${encodeURIComponent(r.key)}&days=${days}`,
        },
      };
    });
    data.sort(
      (x, y) => compare(x.sort, y.sort, q.order) || (x.row.product < y.row.product ? -1 : 1),
    );
    return c.json(
      {
        window: windowOf(days, builtAt),
        currency,
        totals: {
          ...pnl(total),
          customers: totalRow?.customers ?? 0,
          unprofitable_customers: totalRow?.unprofitable ?? 0,
          trend: allTrend(""),
        },
        data: data.map((d) => d.row),
      },
      200,
    );
  },
);

// Qualified: the selected columns are aliased as text (exact money), never sort by those.
const ORDER_SQL: Record<z.infer<typeof SortBy>, string> = {
  contribution_margin: "m.margin",
  revenue: "(m.usage_revenue + m.fee_revenue)",
  cogs: "m.cost",
  usage_margin: "(m.usage_revenue - m.cost)",
  margin_pct: `(CASE WHEN m.usage_revenue + m.fee_revenue = 0 THEN NULL
    ELSE CAST(m.margin AS REAL) / (m.usage_revenue + m.fee_revenue) END)`,
};

const CustomerRow = z
  .object({
    customer: z.string(),
    rank: z.number().int().openapi({ description: "1 = first in the chosen order" }),
    segments: z.array(z.string()).openapi({ description: "Plans (current, per product)" }),
    ...Pnl,
    drilldown: z.string().openapi({ description: "The customer's events with price and cost" }),
    trend: z.string().openapi({ description: "The customer's own daily trend" }),
  })
  .openapi("CustomerMargin");

margin.openapi(
  createRoute({
    method: "get",
    path: "/customers",
    tags: ["margin"],
    summary: "Customers ranked by profitability, with those costing more than they pay",
    description:
      "`unprofitable=true` keeps only the customers whose COGS exceed their revenue. With `product`, each customer's P&L on that product; with `segment` (a plan), on that plan. The trend is the filtered customers' total per day; each row links to its events and its own trend.",
    security,
    request: {
      query: Filters.extend({
        unprofitable: z
          .enum(["true", "false"])
          .optional()
          .transform((v) => v === "true"),
        sort: SortBy,
        order: z.enum(["desc", "asc"]).default("desc"),
        limit: z.coerce.number().int().min(1).max(500).default(50),
        cursor: z.string().max(200).optional(),
      }),
    },
    responses: {
      200: jsonResponse(
        Ranked.extend({ data: z.array(CustomerRow), next_cursor: z.string().nullable() }),
        "Customers ranked",
      ),
      ...problemResponses,
    },
  }),
  async (c) => {
    const q = c.req.valid("query");
    const days = q.days as WindowDays;
    const tenantId = c.var.tenantId;
    const offset = decodeCursor(q.cursor, ["number"])?.[0] ?? 0;
    const product = q.product ?? null;
    const segment = q.segment ?? null;
    const where = scope(product, segment);
    const unprofitable = q.unprofitable ? "AND margin < 0" : "";
    const dir = q.order === "asc" ? "ASC" : "DESC";
    // The default order walks margin_customers_ranked (or _by_segment) backwards: no sort.
    const order =
      q.sort === "contribution_margin"
        ? `m.margin ${dir}, m.customer_id ${dir}`
        : `${ORDER_SQL[q.sort]} ${dir} NULLS LAST, m.customer_id`;
    const { builtAt, currency, results } = await withBuild(c, (db) => [
      db
        .prepare(
          `SELECT customer_id AS key, COALESCE(segments, plan_id) AS segments, ${COLUMNS}
           FROM margin_customer_windows m
           WHERE tenant_id = ?1 AND window_days = ?2 AND ${where.where} ${unprofitable}
           ORDER BY ${order} LIMIT ?5 OFFSET ?6`,
        )
        .bind(tenantId, days, ...where.binds, q.limit + 1, offset),
      q.unprofitable
        ? db
            .prepare(
              `SELECT ${SUMS}, COUNT(*) AS customers, COUNT(*) AS unprofitable
               FROM margin_customer_windows
               WHERE tenant_id = ?1 AND window_days = ?2 AND ${where.where} AND margin < 0`,
            )
            .bind(tenantId, days, ...where.binds)
        : db
            .prepare(
              `SELECT ${SUMS}, SUM(customers) AS customers, SUM(unprofitable) AS unprofitable
               FROM margin_product_windows
               WHERE tenant_id = ?1 AND window_days = ?2 AND plan_id = ?3
                 AND (CASE WHEN ?3 = '' THEN product_id = COALESCE(?4, '')
                      ELSE product_id <> '' AND (?4 IS NULL OR product_id = ?4) END)`,
            )
            .bind(tenantId, days, segment ?? "", product),
      trendStatement(db, tenantId, days, product, segment, false),
    ]);
    const [pageRes, totalRes, trendRes] = results;
    const page = (pageRes?.results ?? []) as (AggRow & { segments: string | null })[];
    const totals = totalRes?.results[0] as
      | (AggRow & { customers: number | null; unprofitable: number | null })
      | undefined;
    const more = page.length > q.limit;
    const rows = page.slice(0, q.limit).map((r, i) => ({
      customer: r.key,
      rank: offset + i + 1,
      segments: r.segments ? r.segments.split(",").sort() : [],
      ...pnl(sumsOf(r)),
      drilldown: `/api/customers/${encodeURIComponent(r.key)}/events`,
      trend: `/api/margin/customers/${encodeURIComponent(r.key)}?days=${days}`,
    }));
    const t = totals?.usage != null ? sumsOf(totals) : ZERO;
    const trend = trendOf((trendRes?.results ?? []) as (AggRow & { day: number })[], days);
    return c.json(
      {
        window: windowOf(days, builtAt),
        currency,
        totals: {
          ...pnl(t),
          customers: totals?.customers ?? 0,
          unprofitable_customers: totals?.unprofitable ?? 0,
          trend: trend(""),
        },
        data: rows,
        next_cursor: more ? encodeCursor([offset + q.limit]) : null,
      },
      200,
    );
  },
);

margin.openapi(
  createRoute({
    method: "get",
    path: "/customers/{id}",
    tags: ["margin"],
    summary: "One customer's P&L per product and daily trend (live from the rollups)",
    security,
    request: {
      params: z.object({ id: Id }),
      query: z.object({ days: Filters.shape.days }),
    },
    responses: {
      200: jsonResponse(
        z.object({
          customer: z.string(),
          window: Window,
          totals: z.object(Pnl),
          products: z.array(z.object({ product: z.string(), ...Pnl })),
          trend: z.array(TrendPoint),
          drilldown: z.string(),
        }),
        "The customer's margin",
      ),
      ...problemResponses,
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const days = c.req.valid("query").days;
    const db = c.env.DB;
    const tenantId = c.var.tenantId;
    const now = Date.now();
    const today = dayStart(now);
    const from = today - (days - 1) * DAY_MS;
    const [known, usage, phases, plans] = await Promise.all([
      db
        .prepare("SELECT 1 AS x FROM customers WHERE tenant_id = ? AND id = ?")
        .bind(tenantId, id)
        .first(),
      db
        .prepare(
          `SELECT start AS day, product_id AS key, CAST(SUM(revenue) AS TEXT) AS usage,
             '0' AS fees, CAST(SUM(cost) AS TEXT) AS cost, SUM(events) AS events
           FROM rollups_daily WHERE tenant_id = ?1 AND customer_id = ?2 AND start >= ?3
           GROUP BY start, product_id`,
        )
        .bind(tenantId, id, from)
        .all<AggRow & { day: number }>(),
      db
        .prepare(`${PHASES_SQL} WHERE s.tenant_id = ? AND s.customer_id = ? ${PHASES_ORDER}`)
        .bind(tenantId, id)
        .all<PhaseRow>(),
      loadTenantPlans(db, tenantId),
    ]);
    if (!known && usage.results.length === 0) throw notFound("Customer", id);
    const byDay = new Map<number, Sums>();
    const byProduct = new Map<string, Sums>();
    const add = (m: Map<string | number, Sums>, k: string | number, s: Partial<Sums>) => {
      const cur = m.get(k) ?? { usage: 0n, fees: 0n, cost: 0n, events: 0 };
      cur.usage += s.usage ?? 0n;
      cur.fees += s.fees ?? 0n;
      cur.cost += s.cost ?? 0n;
      cur.events += s.events ?? 0;
      m.set(k, cur);
    };
    for (const r of usage.results) {
      const s = sumsOf(r);
      add(byDay as Map<string | number, Sums>, r.day, s);
      add(byProduct as Map<string | number, Sums>, r.key, s);
    }
    const planOf = (pid: string) => {
      const p = plans.get(pid)?.plan;
      return p ? { interval: p.interval, flat: p.flat?.amount ?? 0n } : undefined;
    };
    for (const sub of groupPhases(phases.results)) {
      for (const [day, fee] of dailyFees(sub, planOf, from, Math.min(now, today + DAY_MS))) {
        add(byDay as Map<string | number, Sums>, day, { fees: fee });
        add(byProduct as Map<string | number, Sums>, sub.product_id, { fees: fee });
      }
    }
    const total: Sums = { usage: 0n, fees: 0n, cost: 0n, events: 0 };
    for (const s of byProduct.values()) {
      total.usage += s.usage;
      total.fees += s.fees;
      total.cost += s.cost;
      total.events += s.events;
    }
    return c.json(
      {
        customer: id,
        window: windowOf(days, now),
        totals: pnl(total),
        products: [...byProduct]
          .map(([product, s]) => ({ product, ...pnl(s) }))
          .sort((x, y) => (x.product < y.product ? -1 : 1)),
        trend: series(byDay, today, days),
        drilldown: `/api/customers/${encodeURIComponent(id)}/events`,
      },
      200,
    );
  },
);
