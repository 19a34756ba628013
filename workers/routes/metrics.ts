import { createRoute, z } from "@hono/zod-openapi";
import { DAY_MS } from "../../domain/time";
import { listSnapshots } from "../../store/cockpit";
import { customerNames } from "../../store/kpi";
import { createRouter } from "../app";
import {
  computeCockpit,
  freshSnapshot,
  kpiIndexFor,
  mrrByMonth,
  snapshotCockpit,
} from "../billing/cockpit";
import { COCKPIT_KPIS, itemJson, kpiItems } from "../billing/kpi-items";
import { buildMargin } from "../billing/margin";
import { permit } from "../permit";
import { problemResponses, validationError } from "../problem";
import { decodeCursor, encodeCursor, iso, jsonResponse, PageQuery } from "../schemas";

// Revenue Cockpit and MRR movements (SPEC §8; formulas in docs/metrics.md).
export const metrics = createRouter();
const security = [{ operatorToken: [] }];

const MONTH = /^(\d{4})-(0[1-9]|1[0-2])$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** An instant given as an ISO date-time, a date (its UTC midnight) or a month (its 1st). */
const Instant = z
  .string()
  .max(40)
  .transform((s, ctx) => {
    const m = MONTH.exec(s);
    const t = m
      ? Date.UTC(Number(m[1]), Number(m[2]) - 1, 1)
      : DATE.test(s) || s.includes("T")
        ? Date.parse(s)
        : Number.NaN;
    if (!Number.isFinite(t)) {
      ctx.addIssue({ code: "custom", message: "an ISO date-time, YYYY-MM-DD or YYYY-MM" });
      return z.NEVER;
    }
    return t;
  })
  .openapi({ type: "string", example: "2026-11-01T00:00:00Z" });

const MoneyText = z.string().openapi({ example: "12500.00" });
const Delta = z
  .object({
    current: z.union([MoneyText, z.number()]).nullable(),
    previous: z.union([MoneyText, z.number()]).nullable(),
    change: z.union([MoneyText, z.number()]).nullable(),
    change_ratio: z.number().nullable(),
    previous_at: z.string(),
    days: z.number().int(),
    label: z.string(),
  })
  .openapi("KpiDelta");
const Point = z.object({ at: z.string(), value: z.union([MoneyText, z.number()]).nullable() });
const Kpi = z
  .object({ delta: Delta, series: z.array(Point) })
  .catchall(z.unknown())
  .openapi("Kpi");

export const Cockpit = z
  .object({
    as_of: z.string(),
    computed_at: z.string(),
    source: z.enum(["snapshot", "computed"]),
    currency: z.string(),
    excluded_currencies: z.array(z.string()),
    comparison: z.object({ previous_at: z.string(), days: z.number(), label: z.string() }),
    mrr: Kpi.openapi({ description: "value = committed + usage (trailing 30 days)" }),
    arr: Kpi,
    arpu: Kpi,
    nrr: Kpi,
    customer_churn: Kpi,
    trial_conversion: Kpi,
    active_subscriptions: Kpi,
    outstanding_invoices: Kpi,
    health: z.object({
      at: z.string(),
      slices: z.record(z.string(), z.number()),
      total: z.number(),
      at_risk: z.record(z.string(), z.number()),
      at_risk_customers: z.number(),
      canceled_window_days: z.number(),
    }),
  })
  .openapi("Cockpit");

metrics.openapi(
  createRoute({
    method: "get",
    path: "/metrics/cockpit",
    tags: ["metrics"],
    summary: "The eight Revenue Cockpit KPIs with sparklines, deltas and the health donut",
    description:
      "Without `as_of`: the latest snapshot of the periodic job (every 5 minutes), or a fresh computation when the catalog or billing changed since. With `as_of` (a past instant): computed from the history. Money as decimal strings in `currency`; ratios as numbers (0.95 = 95 %).",
    security,
    request: {
      query: z.object({ as_of: Instant.optional() }),
    },
    responses: { 200: jsonResponse(Cockpit, "The cockpit"), ...problemResponses },
  }),
  async (c) => {
    const { as_of } = c.req.valid("query");
    const db = c.env.DB;
    const now = Date.now();
    if (as_of !== undefined) {
      if (as_of > now) {
        throw validationError([
          { path: "query.as_of", message: "as_of must not be in the future" },
        ]);
      }
      const { body } = await computeCockpit(db, c.var.tenantId, as_of);
      return c.json({ ...body, source: "computed" as const }, 200) as never;
    }
    const snap = await freshSnapshot(db, c.var.tenantId, now);
    // The stored JSON is sent as is (no re-parse): splice the source in front.
    const text = snap ? snap.body : (await snapshotCockpit(db, c.var.tenantId, now)).text;
    const source = snap ? "snapshot" : "computed";
    return new Response(`{"source":"${source}",${text.slice(1)}`, {
      headers: { "content-type": "application/json" },
    }) as never;
  },
);

export const KpiItem = z
  .object({
    customer_id: z.string(),
    customer_name: z.string().nullable(),
    subscription_id: z.string().optional(),
    invoice_id: z.string().optional(),
    status: z.string().optional().openapi({
      description:
        "active_subscriptions: the subscription's status; trial_conversion: converted or lapsed",
    }),
    mrr: MoneyText.optional().openapi({
      description: "mrr/arr/arpu: the customer's MRR; customer_churn: MRR at its last paying day",
    }),
    committed: MoneyText.optional(),
    usage: MoneyText.optional(),
    start_mrr: MoneyText.optional(),
    current_mrr: MoneyText.optional(),
    change: MoneyText.optional(),
    last_paying_at: z.string().optional(),
    churned_at: z.string().optional(),
    paying_at_start: z.boolean().optional(),
    trial_end: z.string().optional(),
    ended_at: z.string().optional(),
    converted: z.boolean().optional(),
    counted: z.boolean().optional().openapi({
      description: "active_subscriptions: whether the tile's count includes it (active, past due)",
    }),
    total: MoneyText.optional(),
    issued_at: z.string().optional(),
    due_at: z.string().optional(),
    days_past_due: z.number().int().optional(),
    aging_bucket: z.string().optional(),
  })
  .openapi("CockpitKpiItem");

metrics.openapi(
  createRoute({
    method: "get",
    path: "/metrics/cockpit/items",
    tags: ["metrics"],
    summary: "The list behind a cockpit tile: what its number counts or sums",
    description:
      "mrr, arr, arpu: paying customers by MRR; nrr: the cohort (customers paying at the window start) with start and current MRR; customer_churn: the customers who stopped paying in the window; trial_conversion: the trials that ended (converted or lapsed); active_subscriptions: the live subscriptions (`counted` for those in the tile); outstanding_invoices: the invoices outstanding, most overdue first. `summary` is the tile at the same `as_of` (default now): the rows add up to it. Pass the cockpit's `as_of` to open the list behind the number on screen.",
    security,
    request: {
      query: PageQuery.extend({
        kpi: z.enum(COCKPIT_KPIS).openapi({ description: "The tile" }),
        as_of: Instant.optional(),
      }),
    },
    responses: {
      200: jsonResponse(
        z.object({
          kpi: z.enum(COCKPIT_KPIS),
          as_of: z.string(),
          currency: z.string(),
          summary: z.record(z.string(), z.unknown()),
          total_items: z.number().int(),
          data: z.array(KpiItem),
          next_cursor: z.string().nullable(),
        }),
        "A page of the tile's list",
      ),
      ...problemResponses,
    },
  }),
  async (c) => {
    const q = c.req.valid("query");
    const kpi = q.kpi;
    const now = Date.now();
    if (q.as_of !== undefined && q.as_of > now) {
      throw validationError([{ path: "query.as_of", message: "as_of must not be in the future" }]);
    }
    const asOf = q.as_of ?? now;
    const offset = decodeCursor(q.cursor, ["offset"])?.[0] ?? 0;
    const db = c.env.DB;
    const { loaded, index } = await kpiIndexFor(db, c.var.tenantId, {
      background: (p) => c.executionCtx.waitUntil(p),
    });
    const { summary, rows } = kpiItems(index, kpi, asOf);
    const slice = rows.slice(offset, offset + q.limit);
    const names = await customerNames(db, c.var.tenantId, [
      ...new Set(slice.map((r) => r.customer_id)),
    ]);
    const next = offset + q.limit;
    return c.json(
      {
        kpi,
        as_of: iso(asOf) ?? "",
        currency: loaded.currency,
        summary: itemJson(summary),
        total_items: rows.length,
        data: slice.map((r) => ({
          ...(itemJson({ ...r }) as { customer_id: string }),
          customer_name: names.get(r.customer_id) ?? null,
        })),
        next_cursor: next < rows.length ? encodeCursor([next]) : null,
      },
      200,
    ) as never;
  },
);

const MovementTotals = z.object({
  new: MoneyText,
  expansion: MoneyText,
  contraction: MoneyText,
  churn: MoneyText,
  reactivation: MoneyText,
  net: MoneyText,
});

export const MrrPeriod = z
  .object({
    label: z.string().openapi({ example: "2026-03" }),
    start: z.string(),
    end: z.string(),
    basis: z.enum(["total", "committed"]),
    start_mrr: MoneyText,
    end_mrr: MoneyText,
    mrr: z.object({ total: MoneyText, committed: MoneyText, usage: MoneyText }),
    totals: MovementTotals,
    counts: z.record(z.string(), z.number()),
    customers: z
      .array(
        z.object({
          customer_id: z.string(),
          type: z.string(),
          start_mrr: MoneyText,
          end_mrr: MoneyText,
          change: MoneyText,
        }),
      )
      .optional(),
  })
  .openapi("MrrPeriod");

metrics.openapi(
  createRoute({
    method: "get",
    path: "/metrics/mrr",
    tags: ["metrics"],
    summary: "MRR and its movements per month",
    description:
      "One period per month start m in [from, to]: MRR at the previous month start vs at m (label = m's month), with new, expansion, contraction, churn and reactivation. `basis=committed` leaves usage out (the mrr-playbook's definition). `include=customers` lists each customer that moved.",
    security,
    request: {
      query: z.object({
        from: Instant.optional().openapi({ description: "Default: 12 months before `to`" }),
        to: Instant.optional().openapi({ description: "Default: now" }),
        granularity: z.enum(["month"]).default("month"),
        basis: z.enum(["total", "committed"]).default("total"),
        include: z.enum(["customers"]).optional(),
      }),
    },
    responses: {
      200: jsonResponse(
        z.object({
          currency: z.string(),
          excluded_currencies: z.array(z.string()),
          granularity: z.literal("month"),
          basis: z.enum(["total", "committed"]),
          from: z.string(),
          to: z.string(),
          periods: z.array(MrrPeriod),
        }),
        "MRR movements per month",
      ),
      ...problemResponses,
    },
  }),
  async (c) => {
    const q = c.req.valid("query");
    const to = q.to ?? Date.now();
    const d = new Date(to);
    const from = q.from ?? Date.UTC(d.getUTCFullYear() - 1, d.getUTCMonth(), 1);
    if (from > to)
      throw validationError([{ path: "query.from", message: "from must not be after to" }]);
    if (to - from > 20 * 366 * DAY_MS) {
      throw validationError([{ path: "query.from", message: "at most 20 years at a time" }]);
    }
    const res = await mrrByMonth(c.env.DB, c.var.tenantId, {
      from,
      to,
      basis: q.basis,
      customers: q.include === "customers",
      background: (p) => c.executionCtx.waitUntil(p),
    });
    return c.json(
      {
        ...res,
        granularity: "month" as const,
        basis: q.basis,
        from: iso(from) ?? "",
        to: iso(to) ?? "",
      },
      200,
    ) as never;
  },
);

metrics.openapi(
  createRoute(
    permit("pipeline:operate", "metrics.refresh", {
      method: "post",
      path: "/metrics/refresh",
      tags: ["metrics"],
      summary: "Recompute the cockpit snapshot and the margin read models now",
      description: "What the periodic job does every 5 minutes.",
      security,
      responses: {
        200: jsonResponse(
          z.object({ cockpit_as_of: z.string(), margin_built_at: z.string() }),
          "Done",
        ),
        ...problemResponses,
      },
    }),
  ),
  async (c) => {
    const now = Date.now();
    const { body } = await snapshotCockpit(c.env.DB, c.var.tenantId, now);
    const built = await buildMargin(c.env.DB, c.var.tenantId, now, { force: true });
    return c.json({ cockpit_as_of: body.as_of, margin_built_at: iso(built.built_at) ?? "" }, 200);
  },
);

metrics.openapi(
  createRoute({
    method: "get",
    path: "/metrics/snapshots",
    tags: ["metrics"],
    summary: "Stored cockpit snapshots (headline MRR), newest first",
    description:
      "Every snapshot of the last two days, then the last one of each UTC day. Fetch one in full with GET /api/metrics/cockpit?as_of=<its as_of> (recomputed from history).",
    security,
    request: {
      query: z.object({ limit: z.coerce.number().int().min(1).max(1000).default(100) }),
    },
    responses: {
      200: jsonResponse(
        z.object({
          data: z.array(z.object({ as_of: z.string(), computed_at: z.string(), mrr: MoneyText })),
        }),
        "Snapshots",
      ),
      ...problemResponses,
    },
  }),
  async (c) => {
    const { limit } = c.req.valid("query");
    const snapshots = await listSnapshots(c.env.DB, c.var.tenantId, limit);
    return c.json(
      {
        data: snapshots.map((r) => ({
          as_of: iso(r.as_of) ?? "",
          computed_at: iso(r.computed_at) ?? "",
          mrr: r.mrr,
        })),
      },
      200,
    );
  },
);
