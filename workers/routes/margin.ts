import { createRoute, z } from "@hono/zod-openapi";
import {
  contributionMargin,
  contributionShare,
  dailyTrend,
  dayStart,
  MARGIN_SORTS,
  type PnlSums,
  pnlOf,
  rankBy,
  trendsByKey,
  type WindowDays,
  windowDays,
} from "../../domain/margin";
import { formatMoney } from "../../domain/money";
import {
  customerWindowsQuery,
  type MarginFilter,
  type MarginTotal,
  productTotalQuery,
  productWindowsQuery,
  trendQuery,
  type UncostedSums,
  unprofitableTotalQuery,
} from "../../store/margin";
import { createRouter } from "../app";
import { customerMargin, readMargin } from "../billing/margin";
import { notFound, problemResponses } from "../problem";
import { decodeCursor, encodeCursor, Id, iso, jsonResponse } from "../schemas";

// COGS & Margin (SPEC §8; definitions in docs/metrics.md §COGS and margin): per product and per
// customer, over the trailing 30/60/90 UTC days, from the read models workers/billing/margin.ts
// builds out of rollups_daily and the subscription history (store/margin.ts); the maths is
// domain/margin.ts.
export const margin = createRouter();
const security = [{ operatorToken: [] }];

const Money = z.string().openapi({ example: "1520.40" });
export const Pnl = {
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
export const Uncosted = z
  .object({
    events: z
      .number()
      .int()
      .openapi({ description: "Events Aforo could not cost (flag uncosted)" }),
    events_share: z
      .number()
      .nullable()
      .openapi({ description: "uncosted events ÷ events (0.25 = a quarter); null without events" }),
    usage_revenue: Money.openapi({ description: "The usage revenue of those events" }),
    revenue_share: z.number().nullable().openapi({
      description:
        "their usage revenue ÷ usage revenue; null without usage revenue. COGS leaves these events' cost out, so margin is overstated by their cost",
    }),
  })
  .openapi("MarginUncosted");

/** A ratio of two exact amounts, to 6 decimal places; null when the whole is 0. */
const share = (part: bigint, whole: bigint) =>
  whole === 0n ? null : Number((part * 1_000_000n) / whole) / 1e6;

/** The uncosted part of a P&L as the API shows it. */
function uncostedJson(u: UncostedSums, s: PnlSums) {
  return {
    events: u.events,
    events_share: share(BigInt(u.events), BigInt(s.events)),
    usage_revenue: formatMoney(u.revenue),
    revenue_share: share(u.revenue, s.usage),
  };
}

/** Totals' counts of customers costing more than they pay, paying and $0-revenue apart. */
const unprofitableSplit = (t: MarginTotal) => ({
  unprofitable_paying: t.unprofitablePaying,
  unprofitable_no_revenue: t.unprofitable - t.unprofitablePaying,
});

export const TrendPoint = z
  .object({ day: z.string(), revenue: Money, cogs: Money, contribution_margin: Money })
  .openapi("MarginTrendPoint");

/** A P&L as the API shows it: money as decimal strings. */
function pnl(s: PnlSums) {
  const p = pnlOf(s);
  return {
    revenue: formatMoney(p.revenue),
    usage_revenue: formatMoney(p.usage_revenue),
    fee_revenue: formatMoney(p.fee_revenue),
    cogs: formatMoney(p.cogs),
    contribution_margin: formatMoney(p.contribution_margin),
    margin_pct: p.margin_pct,
    usage_margin: formatMoney(p.usage_margin),
    events: p.events,
    costing_more_than_paying: p.costing_more_than_paying,
  };
}

const Filters = z.object({
  days: z.coerce
    .number()
    .int()
    .refine((d) => d === 30 || d === 60 || d === 90, "days is 30, 60 or 90")
    .default(30),
  product: Id.optional(),
  segment: Id.optional().openapi({ description: "A plan id: customers whose plan it is" }),
});

const filterOf = (q: { days: number; product?: string; segment?: string }): MarginFilter => ({
  days: q.days as WindowDays,
  product: q.product ?? null,
  segment: q.segment ?? null,
});

/** The daily trend of one key of trend rows, as the API shows it. */
function trendOf(rows: Parameters<typeof trendsByKey>[0], today: number, days: number) {
  const byKey = trendsByKey(rows);
  return (key: string) => trendJson(byKey.get(key), today, days);
}

function trendJson(points: ReadonlyMap<number, PnlSums> | undefined, today: number, days: number) {
  return dailyTrend(points, today, days).map((p) => ({
    day: (iso(p.day) ?? "").slice(0, 10),
    revenue: formatMoney(p.revenue),
    cogs: formatMoney(p.cogs),
    contribution_margin: formatMoney(p.contribution_margin),
  }));
}

export const Window = z.object({
  days: z.number().int(),
  from: z.string(),
  to: z.string(),
  built_at: z.string().openapi({ description: "When the read model was built (≤ ~1 min stale)" }),
});

function windowOf(days: number, builtAt: number) {
  return {
    days,
    from: iso(windowDays(days, builtAt).from) ?? "",
    to: iso(builtAt) ?? "",
    built_at: iso(builtAt) ?? "",
  };
}

const SortBy = z.enum(MARGIN_SORTS).default("contribution_margin");

export const ProductRow = z
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
    unprofitable_paying: z.number().int(),
    unprofitable_no_revenue: z.number().int(),
    uncosted: Uncosted,
    trend: z.array(TrendPoint),
    drilldown: z.string().openapi({ description: "Its customers, ranked" }),
  })
  .openapi("ProductMargin");

/** What both rankings answer around their rows: the window, the currency and the totals. */
export const Ranked = z.object({
  window: Window,
  currency: z.string(),
  totals: z.object({
    ...Pnl,
    customers: z.number().int(),
    unprofitable_customers: z.number().int(),
    unprofitable_paying: z.number().int().openapi({
      description: "Of those costing more than they pay, the ones with revenue in the window",
    }),
    unprofitable_no_revenue: z.number().int().openapi({
      description:
        "…and the ones earning $0 in the window (trials, free plans, customers only seen in events)",
    }),
    uncosted: Uncosted,
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
    const f = filterOf(q);
    const db = c.env.DB;
    const tenantId = c.var.tenantId;
    const today = dayStart(Date.now());
    const { builtAt, currency, results } = await readMargin(
      db,
      tenantId,
      [
        productWindowsQuery(db, tenantId, f),
        productTotalQuery(db, tenantId, f),
        trendQuery(db, tenantId, f, today, true),
        trendQuery(db, tenantId, f, today, false),
      ],
      (work) => c.executionCtx.waitUntil(work),
    );
    const [rows, total, trendRows, allTrendRows] = results;
    const trends = trendOf(trendRows, today, f.days);
    const totalCm = contributionMargin(total.sums);
    const data = rankBy(
      rows,
      q.sort,
      q.order,
      (r) => r.sums,
      (r) => r.product,
    ).map((r) => ({
      product: r.product,
      name: r.name,
      ...pnl(r.sums),
      contribution_share: contributionShare(contributionMargin(r.sums), totalCm),
      customers: r.customers,
      unprofitable_customers: r.unprofitable,
      ...unprofitableSplit(r),
      uncosted: uncostedJson(r.uncosted, r.sums),
      trend: trends(r.product),
      drilldown: `/api/margin/customers?product=${encodeURIComponent(r.product)}&days=${f.days}`,
    }));
    return c.json(
      {
        window: windowOf(f.days, builtAt),
        currency,
        totals: {
          ...pnl(total.sums),
          customers: total.customers,
          unprofitable_customers: total.unprofitable,
          ...unprofitableSplit(total),
          uncosted: uncostedJson(total.uncosted, total.sums),
          trend: trendOf(allTrendRows, today, f.days)(""),
        },
        data,
      },
      200,
    );
  },
);

export const CustomerRow = z
  .object({
    customer: z.string(),
    rank: z.number().int().openapi({ description: "1 = first in the chosen order" }),
    segments: z.array(z.string()).openapi({ description: "Plans (current, per product)" }),
    known: z.boolean().openapi({
      description:
        "false: an unknown customer, seen only in events (not in the customer table): no subscription, no revenue",
    }),
    revenue_kind: z.enum(["paying", "no_revenue"]).openapi({
      description:
        "no_revenue: $0 revenue in the window (a trial, a free plan, an unknown customer); its cost is acquisition or support spend, not a pricing problem",
    }),
    uncosted_events: z.number().int().openapi({ description: "Its events Aforo could not cost" }),
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
      "`unprofitable=true` keeps only the customers whose COGS exceed their revenue; `revenue=paying` those with revenue in the window, `revenue=none` those earning $0 (trials, free plans, unknown customers), so the two lists of customers costing more than they pay are apart. With `product`, each customer's P&L on that product; with `segment` (a plan), on that plan. The trend is the filtered customers' total per day; each row links to its events and its own trend.",
    security,
    request: {
      query: Filters.extend({
        unprofitable: z
          .enum(["true", "false"])
          .optional()
          .transform((v) => v === "true"),
        revenue: z.enum(["paying", "none"]).optional(),
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
    const f = filterOf(q);
    const db = c.env.DB;
    const tenantId = c.var.tenantId;
    const offset = decodeCursor(q.cursor, ["offset"])?.[0] ?? 0;
    const today = dayStart(Date.now());
    const { builtAt, currency, results } = await readMargin(
      db,
      tenantId,
      [
        customerWindowsQuery(db, tenantId, {
          ...f,
          unprofitable: q.unprofitable,
          revenue: q.revenue ?? null,
          sort: q.sort,
          order: q.order,
          limit: q.limit + 1,
          offset,
        }),
        q.unprofitable
          ? unprofitableTotalQuery(db, tenantId, { ...f, revenue: q.revenue ?? null })
          : productTotalQuery(db, tenantId, f),
        // The two unprofitable counts always cover all of them, whichever list is shown.
        unprofitableTotalQuery(db, tenantId, f),
        trendQuery(db, tenantId, f, today, false),
      ],
      (work) => c.executionCtx.waitUntil(work),
    );
    const [page, totals, unprofitable, trendRows] = results;
    const more = page.length > q.limit;
    const rows = page.slice(0, q.limit).map((r, i) => ({
      customer: r.customer,
      rank: offset + i + 1,
      segments: r.segments,
      known: r.known,
      revenue_kind: r.sums.usage + r.sums.fees > 0n ? ("paying" as const) : ("no_revenue" as const),
      uncosted_events: r.uncosted.events,
      ...pnl(r.sums),
      drilldown: `/api/customers/${encodeURIComponent(r.customer)}/events`,
      trend: `/api/margin/customers/${encodeURIComponent(r.customer)}?days=${f.days}`,
    }));
    return c.json(
      {
        window: windowOf(f.days, builtAt),
        currency,
        totals: {
          ...pnl(totals.sums),
          customers: totals.customers,
          unprofitable_customers: totals.unprofitable,
          ...unprofitableSplit(unprofitable),
          uncosted: uncostedJson(totals.uncosted, totals.sums),
          trend: trendOf(trendRows, today, f.days)(""),
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
    const now = Date.now();
    const { from, today } = windowDays(days, now);
    const p = await customerMargin(c.env.DB, c.var.tenantId, id, { from, today, now });
    if (!p) throw notFound("Customer", id);
    return c.json(
      {
        customer: id,
        window: windowOf(days, now),
        totals: pnl(p.total),
        products: [...p.byProduct]
          .map(([product, s]) => ({ product, ...pnl(s) }))
          .sort((x, y) => (x.product < y.product ? -1 : 1)),
        trend: trendJson(p.byDay, today, days),
        drilldown: `/api/customers/${encodeURIComponent(id)}/events`,
      },
      200,
    );
  },
);
