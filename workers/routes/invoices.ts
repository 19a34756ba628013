import { createRoute, z } from "@hono/zod-openapi";
import type { StoredEvent } from "../../contracts/events";
import { agingBucket, daysPastDue } from "../../domain/kpi/invoices";
import { formatMoney, formatQuantity } from "../../domain/money";
import { amountDue, refundState } from "../../domain/payments";
import { actorName } from "../../durable-objects/customer-actor";
import {
  getInvoiceWithLines,
  type InvoiceLineRecord,
  type InvoiceRecord,
  listInvoices,
} from "../../store/invoices";
import { createRouter } from "../app";
import { lineKind, traceInvoice } from "../billing/invoice-trace";
import {
  finalizeInvoice,
  payInvoice,
  requestInvoicingRun,
  voidInvoice,
} from "../billing/invoicing";
import { orThrow } from "../http-result";
import { permit } from "../permit";
import { conflictResponse, notFound, problemResponses, validationError } from "../problem";
import {
  decodeCursor,
  encodeCursor,
  Id,
  iso,
  jsonBody,
  jsonResponse,
  PageQuery,
  page,
  pageOf,
  Timestamp,
} from "../schemas";
import { runPastDue } from "../tenant-detectors";
import { StoredEventSchema } from "./usage";

// Invoices (SPEC §3): one per subscription × billing period, made by the periodic job at period
// close (workers/billing/invoicing.ts). States: draft → open → paid | void, draft → void.
export const invoices = createRouter();
const security = [{ operatorToken: [] }];

const Status = z.enum(["draft", "open", "paid", "void"]);
const Money = z.string().openapi({ example: "2000.00", description: "Decimal string" });

const Line = z.object({
  position: z.number().int(),
  plan: z.string().nullable(),
  service: z
    .object({ from: z.string(), to: z.string() })
    .nullable()
    .openapi({ description: "The part of the period this line's plan was in force" }),
  component_index: z.number().int().nullable(),
  type: z.string().openapi({
    description: "flat, per_unit, tiered, package, included, discount, minimum, coupon or rounding",
  }),
  metric: z.string().nullable(),
  quantity: z.string().openapi({
    description:
      "Billable units (usage lines), units covered (included), share of the period (flat, minimum: 1 = all of it)",
  }),
  amount: Money,
  description: z.string(),
  kind: z.enum(["usage", "fee", "adjustment"]).openapi({
    description:
      "usage: priced from the metric's events (GET /api/invoices/:id/events?line=position); fee: the plan's flat fee or minimum top-up; adjustment: coupon or rounding",
  }),
});

/** An actor as the audit log names it (workers/app.ts Actor.ref). */
const ActorRef = z.string().nullable().openapi({ example: "member:ana@example.com" });

export const Invoice = z
  .object({
    id: z.string(),
    subscription: z.string(),
    customer: z.string(),
    product: z.string(),
    currency: z.string(),
    status: Status,
    period: z.object({ start: z.string(), end: z.string() }),
    closes_at: z.string().openapi({ description: "Period end, or the end of service inside it" }),
    subtotal: Money,
    minimum_topup: Money,
    discount_total: Money,
    rounding: Money,
    total: Money,
    usage_total: Money.openapi({
      description: "The usage lines: equals the sum of the period's events' revenue",
    }),
    amount_due: Money.openapi({
      description: "What is still owed: total less amount_paid while open; 0 otherwise",
    }),
    amount_paid: Money.openapi({
      description:
        "Σ succeeded payments (POST /api/invoices/:id/payments, the Stripe webhook); an invoice paid with /pay counts as paid in full",
    }),
    amount_refunded: Money.openapi({
      description:
        "Σ refunds: money given back on the paid invoice, which stays paid (refund_state says how much of it came back)",
    }),
    refund_state: z.enum(["none", "partial", "full"]).openapi({
      description: "full: everything paid was refunded (the invoice still reads paid)",
    }),
    payments_count: z.number().int().openapi({
      description: "Payment attempts recorded on it, failed ones included",
    }),
    issued_at: z.string().nullable(),
    due_at: z.string().nullable(),
    finalized_at: z.string().nullable(),
    paid_at: z.string().nullable(),
    payment_reference: z.string().nullable(),
    voided_at: z.string().nullable(),
    void_reason: z.string().nullable(),
    paid_by: ActorRef.openapi({
      description:
        "Who recorded the payment: `member:<email>` or `token:<key id>`; null when nobody did (a zero invoice is paid by owing nothing) or before this was recorded",
    }),
    voided_by: ActorRef.openapi({
      description: "Who voided it: `member:<email>` or `token:<key id>`",
    }),
    finalized_by: ActorRef.openapi({
      description:
        "Who finalised it: `member:<email>`, `token:<key id>`, or `system` (the invoicing run, past the grace hour)",
    }),
    days_past_due: z.number().int().nullable(),
    aging_bucket: z
      .enum(["current", "days_1_30", "days_31_60", "days_61_90", "days_over_90"])
      .nullable(),
    created_at: z.string(),
    updated_at: z.string(),
    lines: z.array(Line).optional(),
  })
  .openapi("Invoice");

export function toInvoice(r: InvoiceRecord, now: number) {
  const open = r.status === "open" && r.due_at !== null;
  const days = open ? daysPastDue(r.due_at as number, now) : null;
  return {
    id: r.id,
    subscription: r.subscription_id,
    customer: r.customer_id,
    product: r.product_id,
    currency: r.currency,
    status: r.status,
    period: { start: iso(r.period_start) ?? "", end: iso(r.period_end) ?? "" },
    closes_at: iso(r.closes_at) ?? "",
    subtotal: formatMoney(r.subtotal),
    minimum_topup: formatMoney(r.minimum_topup),
    discount_total: formatMoney(r.discount_total),
    rounding: formatMoney(r.rounding),
    total: formatMoney(r.total),
    usage_total: formatMoney(r.usage_total),
    amount_due: formatMoney(amountDue({ ...r, paid: r.amount_paid, refunded: r.amount_refunded })),
    amount_paid: formatMoney(r.amount_paid),
    amount_refunded: formatMoney(r.amount_refunded),
    refund_state: refundState({ paid: r.amount_paid, refunded: r.amount_refunded }),
    payments_count: r.payments_count,
    issued_at: iso(r.issued_at),
    due_at: iso(r.due_at),
    finalized_at: iso(r.finalized_at),
    paid_at: iso(r.paid_at),
    payment_reference: r.payment_reference,
    voided_at: iso(r.voided_at),
    void_reason: r.void_reason,
    paid_by: r.paid_by,
    voided_by: r.voided_by,
    finalized_by: r.finalized_by,
    days_past_due: days,
    aging_bucket: days === null ? null : agingBucket(days),
    created_at: iso(r.created_at) ?? "",
    updated_at: iso(r.updated_at) ?? "",
  };
}

const toLine = (l: InvoiceLineRecord) => ({
  position: l.position,
  plan: l.plan_id,
  service:
    l.service_from === null || l.service_to === null
      ? null
      : { from: iso(l.service_from) ?? "", to: iso(l.service_to) ?? "" },
  component_index: l.component_index,
  type: l.type,
  metric: l.metric_id,
  quantity: formatQuantity(l.quantity),
  amount: formatMoney(l.amount),
  description: l.description,
  kind: lineKind(l),
});

/** An invoice with its lines as the API answers it; 404 when it does not exist. */
export async function readInvoice(db: D1Database, tenantId: string, id: string) {
  const found = await getInvoiceWithLines(db, tenantId, id);
  if (!found) throw notFound("Invoice", id);
  return { ...toInvoice(found.invoice, Date.now()), lines: found.lines.map(toLine) };
}

const Month = z
  .string()
  .regex(/^\d{4}-(0[1-9]|1[0-2])$/, "a month as YYYY-MM")
  .openapi({ example: "2026-11" });

invoices.openapi(
  createRoute({
    method: "get",
    path: "/",
    tags: ["billing"],
    summary: "List invoices, newest period first",
    security,
    request: {
      query: PageQuery.extend({
        customer: Id.optional(),
        subscription: Id.optional(),
        status: Status.optional(),
        period: Month.optional().openapi({ description: "Periods starting in this UTC month" }),
        period_from: Timestamp.optional().openapi({ description: "Periods starting at or after" }),
        period_to: Timestamp.optional().openapi({ description: "Periods starting before" }),
      }),
    },
    responses: { 200: jsonResponse(page(Invoice), "A page of invoices"), ...problemResponses },
  }),
  async (c) => {
    const q = c.req.valid("query");
    const key = decodeCursor(q.cursor, ["time", "string"]);
    let from = q.period_from ?? null;
    let to = q.period_to ?? null;
    if (q.period) {
      const [y, m] = q.period.split("-").map(Number) as [number, number];
      from = Math.max(from ?? Number.MIN_SAFE_INTEGER, Date.UTC(y, m - 1, 1));
      to = Math.min(to ?? Number.MAX_SAFE_INTEGER, Date.UTC(y, m, 1));
    }
    const results = await listInvoices(c.env.DB, c.var.tenantId, {
      customer: q.customer ?? null,
      subscription: q.subscription ?? null,
      status: q.status ?? null,
      periodFrom: from,
      periodTo: to,
      after: key ? { period_start: key[0], id: key[1] } : null,
      limit: q.limit + 1,
    });
    const now = Date.now();
    return c.json(
      pageOf(
        results,
        q.limit,
        (r) => toInvoice(r, now),
        (r) => [r.period_start, r.id],
      ),
      200,
    );
  },
);

invoices.openapi(
  createRoute({
    method: "get",
    path: "/{id}",
    tags: ["billing"],
    summary: "Get an invoice with its lines",
    security,
    request: { params: z.object({ id: Id }) },
    responses: { 200: jsonResponse(Invoice, "The invoice"), ...problemResponses },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    return c.json(await readInvoice(c.env.DB, c.var.tenantId, id), 200);
  },
);

const Totals = z.object({
  units: z.string().openapi({ description: "Units of the metric (decimal)" }),
  revenue: Money,
  cost: Money,
  events: z.number().int(),
});

export const Trace = z
  .object({
    invoice: z.string(),
    customer: z.string(),
    product: z.string(),
    currency: z.string(),
    total: Money,
    lines_total: Money,
    kinds: z.object({ usage: Money, fee: Money, adjustment: Money }),
    usage: z.array(
      z.object({
        metric: z.string(),
        service: z.object({ from: z.string(), to: z.string() }),
        lines: z.array(z.number().int()),
        amount: Money,
        rollups: Totals,
        matches: z.boolean().openapi({
          description: "The lines' amount equals the rollups' revenue",
        }),
      }),
    ),
  })
  .openapi("InvoiceTrace");

invoices.openapi(
  createRoute({
    method: "get",
    path: "/{id}/trace",
    tags: ["billing"],
    summary: "An invoice traced to what it was computed from",
    description:
      "Each usage line's metric and service window next to the rollups of the customer's events over that window (the usage lines of a window equal its events' revenue: `matches`), fee lines (flat fee, minimum top-up) and adjustments (coupons, rounding), and their sums; `lines_total` equals `total`. A usage line's events: GET /api/invoices/:id/events?line=position.",
    security,
    request: { params: z.object({ id: Id }) },
    responses: {
      200: jsonResponse(Trace, "The trace"),
      ...problemResponses,
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const db = c.env.DB;
    const found = await getInvoiceWithLines(db, c.var.tenantId, id);
    if (!found) throw notFound("Invoice", id);
    const { invoice: inv, lines } = found;
    const trace = await traceInvoice(db, c.var.tenantId, inv, lines);
    const sum = lines.reduce((s, l) => s + l.amount, 0n);
    return c.json(
      {
        invoice: inv.id,
        customer: inv.customer_id,
        product: inv.product_id,
        currency: inv.currency,
        total: formatMoney(inv.total),
        lines_total: formatMoney(sum),
        kinds: {
          usage: formatMoney(trace.totals.usage),
          fee: formatMoney(trace.totals.fee),
          adjustment: formatMoney(trace.totals.adjustment),
        },
        usage: trace.groups.map((g) => ({
          metric: g.metric,
          service: { from: iso(g.from) ?? "", to: iso(g.to) ?? "" },
          lines: g.positions,
          amount: formatMoney(g.amount),
          rollups: {
            units: formatQuantity(g.rollups.units),
            revenue: formatMoney(g.rollups.revenue),
            cost: formatMoney(g.rollups.cost),
            events: g.rollups.events,
          },
          matches: g.amount === g.rollups.revenue,
        })),
      },
      200,
    );
  },
);

invoices.openapi(
  createRoute({
    method: "get",
    path: "/{id}/events",
    tags: ["billing"],
    summary: "The events behind an invoice or one of its usage lines, newest first",
    description:
      "Without `line`: the customer's events of the invoice's product over its period. With `line` (a usage line's position): those of the line's metric inside the line's service window. With their revenue and cost (raw events are kept for the tenant's raw retention).",
    security,
    request: {
      params: z.object({ id: Id }),
      query: z.object({
        line: z.coerce
          .number()
          .int()
          .min(0)
          .max(100_000)
          .optional()
          .openapi({ description: "A usage line's position" }),
        limit: z.coerce.number().int().min(1).max(500).default(100),
        cursor: z.string().max(256).optional(),
      }),
    },
    responses: {
      200: jsonResponse(page(StoredEventSchema), "A page of the line's events"),
      ...problemResponses,
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const q = c.req.valid("query");
    const key = decodeCursor(q.cursor, ["time", "row"]);
    const found = await getInvoiceWithLines(c.env.DB, c.var.tenantId, id);
    if (!found) throw notFound("Invoice", id);
    const inv = found.invoice;
    let window = {
      from: inv.period_start,
      to: inv.closes_at,
      metric: undefined as string | undefined,
    };
    if (q.line !== undefined) {
      const line = found.lines.find((l) => l.position === q.line);
      if (!line) {
        throw validationError([
          { path: "query.line", message: `the invoice has no line ${q.line}` },
        ]);
      }
      if (lineKind(line) !== "usage" || line.metric_id === null) {
        throw validationError([
          {
            path: "query.line",
            message: `line ${q.line} is a ${line.type} line, not priced from events`,
          },
        ]);
      }
      window = {
        from: line.service_from ?? inv.period_start,
        to: line.service_to ?? inv.closes_at,
        metric: line.metric_id,
      };
    }
    const stub = c.env.CUSTOMER_ACTOR.getByName(actorName(c.var.tenantId, inv.customer_id));
    const res = await stub.listEvents({
      limit: q.limit,
      from: window.from,
      to: window.to,
      product: inv.product_id,
      ...(window.metric !== undefined ? { metric: window.metric } : {}),
      ...(key ? { before: { time: Number(key[0]), seq: Number(key[1]) } } : {}),
    });
    return c.json(
      {
        data: res.events as StoredEvent[],
        next_cursor: res.next ? encodeCursor([res.next.time, res.next.seq]) : null,
      },
      200,
    );
  },
);

invoices.openapi(
  createRoute(
    permit("invoices:write", "invoice.pay", {
      method: "post",
      path: "/{id}/pay",
      tags: ["billing"],
      summary: "Record payment of an open invoice",
      description:
        "`at` (default now) may be in the past, not before the issue date. A past_due subscription with no other overdue invoice returns to active.",
      security,
      request: {
        params: z.object({ id: Id }),
        body: jsonBody(
          z.object({
            at: Timestamp.optional(),
            reference: z.string().max(200).optional().openapi({ description: "e.g. a payment id" }),
          }),
        ),
      },
      responses: {
        200: jsonResponse(Invoice, "The paid invoice"),
        ...problemResponses,
        ...conflictResponse,
      },
    }),
  ),
  async (c) => {
    const { id } = c.req.valid("param");
    const body = c.req.valid("json");
    const now = Date.now();
    const db = c.env.DB;
    orThrow(
      await payInvoice(db, c.var.tenantId, id, {
        at: body.at ?? now,
        reference: body.reference ?? null,
        now,
        by: c.var.actor.ref,
      }),
    );
    // Its past-due case closes and what the ladder did is reversed (workers/tenant-detectors.ts).
    await runPastDue(c.env, c.var.tenantId, now, id);
    return c.json(await readInvoice(db, c.var.tenantId, id), 200);
  },
);

invoices.openapi(
  createRoute(
    permit("invoices:write", "invoice.void", {
      method: "post",
      path: "/{id}/void",
      tags: ["billing"],
      summary: "Void a draft or open invoice",
      description:
        "A voided period is not billed again unless a run asks for it (`reissue_voided`), e.g. after correcting the subscription's history.",
      security,
      request: {
        params: z.object({ id: Id }),
        body: jsonBody(z.object({ reason: z.string().max(500).optional() })),
      },
      responses: {
        200: jsonResponse(Invoice, "The voided invoice"),
        ...problemResponses,
        ...conflictResponse,
      },
    }),
  ),
  async (c) => {
    const { id } = c.req.valid("param");
    const body = c.req.valid("json");
    const now = Date.now();
    orThrow(
      await voidInvoice(c.env.DB, c.var.tenantId, id, {
        reason: body.reason ?? null,
        now,
        by: c.var.actor.ref,
      }),
    );
    await runPastDue(c.env, c.var.tenantId, now, id);
    return c.json(await readInvoice(c.env.DB, c.var.tenantId, id), 200);
  },
);

invoices.openapi(
  createRoute(
    permit("invoices:write", "invoice.finalize", {
      method: "post",
      path: "/{id}/finalize",
      tags: ["billing"],
      summary: "Finalise a draft now (it is issued at its period close, due by the tenant's terms)",
      security,
      request: { params: z.object({ id: Id }) },
      responses: {
        200: jsonResponse(Invoice, "The open (or, at zero, paid) invoice"),
        ...problemResponses,
        ...conflictResponse,
      },
    }),
  ),
  async (c) => {
    const { id } = c.req.valid("param");
    const db = c.env.DB;
    orThrow(await finalizeInvoice(db, c.var.tenantId, id, Date.now(), c.var.actor.ref));
    return c.json(await readInvoice(db, c.var.tenantId, id), 200);
  },
);

invoices.openapi(
  createRoute(
    permit("invoices:write", "invoice.run", {
      method: "post",
      path: "/run",
      tags: ["billing"],
      summary: "Close billing periods now (backfill, tests): what the periodic job does",
      description:
        "Invoices every period that closed at or before `as_of` (default now) and is not invoiced yet, refreshes drafts, finalises those past the grace hour, and marks subscriptions with overdue invoices past_due. Idempotent.",
      security,
      request: {
        body: jsonBody(
          z.object({
            as_of: Timestamp.optional(),
            subscription: Id.optional(),
            reissue_voided: z.boolean().optional(),
          }),
        ),
      },
      responses: {
        200: jsonResponse(
          z.object({
            as_of: z.string(),
            created: z.number().int(),
            finalized: z.number().int(),
            refreshed: z.number().int(),
            invoice_ids: z.array(z.string()),
          }),
          "What the run did",
        ),
        ...problemResponses,
      },
    }),
  ),
  async (c) => {
    const body = c.req.valid("json");
    const now = Date.now();
    const asOf = body.as_of ?? now;
    const res = orThrow(
      await requestInvoicingRun(
        c.env,
        c.var.tenantId,
        {
          asOf,
          subscriptionId: body.subscription,
          reissueVoided: body.reissue_voided,
        },
        now,
      ),
    );
    return c.json({ ...res, as_of: iso(res.as_of) ?? "" }, 200);
  },
);
