import { createRoute, z } from "@hono/zod-openapi";
import { agingBucket, daysPastDue } from "../../domain/kpi/invoices";
import { formatMoney, formatQuantity } from "../../domain/money";
import { createRouter } from "../app";
import { bumpBillingVersion } from "../billing/history";
import { DAY_MS, runInvoicing, settleInvoiceDunning } from "../billing/invoicing";
import {
  ApiError,
  conflictResponse,
  notFound,
  problemResponses,
  validationError,
} from "../problem";
import {
  decodeCursor,
  Id,
  iso,
  jsonBody,
  jsonResponse,
  PageQuery,
  page,
  pageOf,
  Timestamp,
} from "../schemas";
import { loadTenantSettings } from "../tenant-settings";

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
});

const Invoice = z
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
    amount_due: Money,
    issued_at: z.string().nullable(),
    due_at: z.string().nullable(),
    finalized_at: z.string().nullable(),
    paid_at: z.string().nullable(),
    payment_reference: z.string().nullable(),
    voided_at: z.string().nullable(),
    void_reason: z.string().nullable(),
    days_past_due: z.number().int().nullable(),
    aging_bucket: z
      .enum(["current", "days_1_30", "days_31_60", "days_61_90", "days_over_90"])
      .nullable(),
    created_at: z.string(),
    updated_at: z.string(),
    lines: z.array(Line).optional(),
  })
  .openapi("Invoice");

interface InvoiceRow {
  id: string;
  subscription_id: string;
  customer_id: string;
  product_id: string;
  currency: string;
  status: z.infer<typeof Status>;
  period_start: number;
  period_end: number;
  closes_at: number;
  subtotal: string;
  minimum_topup: string;
  discount_total: string;
  rounding: string;
  total: string;
  usage_total: string;
  issued_at: number | null;
  due_at: number | null;
  finalized_at: number | null;
  paid_at: number | null;
  payment_reference: string | null;
  voided_at: number | null;
  void_reason: string | null;
  created_at: number;
  updated_at: number;
}

const SELECT = `SELECT id, subscription_id, customer_id, product_id, currency, status, period_start,
  period_end, closes_at, CAST(subtotal AS TEXT) AS subtotal, CAST(minimum_topup AS TEXT) AS minimum_topup,
  CAST(discount_total AS TEXT) AS discount_total, CAST(rounding AS TEXT) AS rounding,
  CAST(total AS TEXT) AS total, CAST(usage_total AS TEXT) AS usage_total, issued_at, due_at,
  finalized_at, paid_at, payment_reference, voided_at, void_reason, created_at, updated_at
  FROM invoices`;

const money = (text: string) => formatMoney(BigInt(text));

function toInvoice(r: InvoiceRow, now: number) {
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
    subtotal: money(r.subtotal),
    minimum_topup: money(r.minimum_topup),
    discount_total: money(r.discount_total),
    rounding: money(r.rounding),
    total: money(r.total),
    usage_total: money(r.usage_total),
    amount_due: r.status === "open" ? money(r.total) : "0.00",
    issued_at: iso(r.issued_at),
    due_at: iso(r.due_at),
    finalized_at: iso(r.finalized_at),
    paid_at: iso(r.paid_at),
    payment_reference: r.payment_reference,
    voided_at: iso(r.voided_at),
    void_reason: r.void_reason,
    days_past_due: days,
    aging_bucket: days === null ? null : agingBucket(days),
    created_at: iso(r.created_at) ?? "",
    updated_at: iso(r.updated_at) ?? "",
  };
}

async function readInvoice(db: D1Database, tenantId: string, id: string) {
  const [head, lines] = await db.batch([
    db.prepare(`${SELECT} WHERE tenant_id = ? AND id = ?`).bind(tenantId, id),
    db
      .prepare(
        `SELECT position, plan_id, service_from, service_to, component_index, type, metric_id,
           quantity, CAST(amount AS TEXT) AS amount, description
         FROM invoice_lines WHERE tenant_id = ? AND invoice_id = ? ORDER BY position`,
      )
      .bind(tenantId, id),
  ]);
  const row = head?.results[0] as InvoiceRow | undefined;
  if (!row) throw notFound("Invoice", id);
  return {
    ...toInvoice(row, Date.now()),
    lines: (
      (lines?.results ?? []) as {
        position: number;
        plan_id: string | null;
        service_from: number | null;
        service_to: number | null;
        component_index: number | null;
        type: string;
        metric_id: string | null;
        quantity: string;
        amount: string;
        description: string;
      }[]
    ).map((l) => ({
      position: l.position,
      plan: l.plan_id,
      service:
        l.service_from === null || l.service_to === null
          ? null
          : { from: iso(l.service_from) ?? "", to: iso(l.service_to) ?? "" },
      component_index: l.component_index,
      type: l.type,
      metric: l.metric_id,
      quantity: formatQuantity(BigInt(l.quantity)),
      amount: money(l.amount),
      description: l.description,
    })),
  };
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
    const key = decodeCursor(q.cursor, ["number", "string"]);
    let from = q.period_from ?? null;
    let to = q.period_to ?? null;
    if (q.period) {
      const [y, m] = q.period.split("-").map(Number) as [number, number];
      from = Math.max(from ?? Number.MIN_SAFE_INTEGER, Date.UTC(y, m - 1, 1));
      to = Math.min(to ?? Number.MAX_SAFE_INTEGER, Date.UTC(y, m, 1));
    }
    const { results } = await c.env.DB.prepare(
      `${SELECT} WHERE tenant_id = ?1 AND (?2 IS NULL OR customer_id = ?2)
         AND (?3 IS NULL OR subscription_id = ?3) AND (?4 IS NULL OR status = ?4)
         AND (?5 IS NULL OR period_start >= ?5) AND (?6 IS NULL OR period_start < ?6)
         AND (?7 IS NULL OR period_start < ?7 OR (period_start = ?7 AND id > ?8))
       ORDER BY period_start DESC, id LIMIT ?9`,
    )
      .bind(
        c.var.tenantId,
        q.customer ?? null,
        q.subscription ?? null,
        q.status ?? null,
        from,
        to,
        key?.[0] ?? null,
        key?.[1] ?? "",
        q.limit + 1,
      )
      .all<InvoiceRow>();
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

/** Moves an invoice between states; a transition its state does not allow is a 409. */
async function transition(
  db: D1Database,
  tenantId: string,
  id: string,
  from: readonly string[],
  verb: string,
  sql: string,
  binds: unknown[],
) {
  const row = await db
    .prepare(
      "SELECT status, issued_at, subscription_id FROM invoices WHERE tenant_id = ? AND id = ?",
    )
    .bind(tenantId, id)
    .first<{ status: string; issued_at: number | null; subscription_id: string }>();
  if (!row) throw notFound("Invoice", id);
  if (!from.includes(row.status)) {
    throw new ApiError(
      "conflict",
      `Invoice '${id}' is ${row.status}; only ${from.join(" or ")} invoices can be ${verb}`,
    );
  }
  const [res] = await db.batch([
    db
      .prepare(
        `${sql} WHERE tenant_id = ? AND id = ? AND status IN (${from.map(() => "?").join(", ")})`,
      )
      .bind(...binds, tenantId, id, ...from),
    bumpBillingVersion(db, tenantId),
  ]);
  if ((res?.meta.changes ?? 0) === 0) {
    throw new ApiError("conflict", `Invoice '${id}' changed meanwhile; read it again`);
  }
  return row;
}

invoices.openapi(
  createRoute({
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
  async (c) => {
    const { id } = c.req.valid("param");
    const body = c.req.valid("json");
    const now = Date.now();
    const at = body.at ?? now;
    const db = c.env.DB;
    const current = await db
      .prepare("SELECT issued_at FROM invoices WHERE tenant_id = ? AND id = ?")
      .bind(c.var.tenantId, id)
      .first<{ issued_at: number | null }>();
    if (current && current.issued_at !== null && at < current.issued_at) {
      throw validationError([{ path: "at", message: "at must not be before the issue date" }]);
    }
    if (at > now + 5 * 60_000) {
      throw validationError([{ path: "at", message: "at must not be in the future" }]);
    }
    const row = await transition(
      db,
      c.var.tenantId,
      id,
      ["open"],
      "paid",
      "UPDATE invoices SET status = 'paid', paid_at = ?, payment_reference = ?, updated_at = ?",
      [at, body.reference ?? null, now],
    );
    await settleInvoiceDunning(db, c.var.tenantId, row.subscription_id, id, at, now);
    return c.json(await readInvoice(db, c.var.tenantId, id), 200);
  },
);

invoices.openapi(
  createRoute({
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
  async (c) => {
    const { id } = c.req.valid("param");
    const body = c.req.valid("json");
    const now = Date.now();
    const row = await transition(
      c.env.DB,
      c.var.tenantId,
      id,
      ["draft", "open"],
      "voided",
      "UPDATE invoices SET status = 'void', voided_at = ?, void_reason = ?, updated_at = ?",
      [now, body.reason ?? null, now],
    );
    await settleInvoiceDunning(c.env.DB, c.var.tenantId, row.subscription_id, id, now, now);
    return c.json(await readInvoice(c.env.DB, c.var.tenantId, id), 200);
  },
);

invoices.openapi(
  createRoute({
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
  async (c) => {
    const { id } = c.req.valid("param");
    const db = c.env.DB;
    const now = Date.now();
    const settings = await loadTenantSettings(db, c.var.tenantId);
    const terms = settings.payment_terms_days * DAY_MS;
    await transition(
      db,
      c.var.tenantId,
      id,
      ["draft"],
      "finalised",
      `UPDATE invoices SET status = CASE WHEN total > 0 THEN 'open' ELSE 'paid' END,
         issued_at = closes_at, due_at = closes_at + ?, finalized_at = ?,
         paid_at = CASE WHEN total > 0 THEN NULL ELSE closes_at END, updated_at = ?`,
      [terms, now, now],
    );
    return c.json(await readInvoice(db, c.var.tenantId, id), 200);
  },
);

invoices.openapi(
  createRoute({
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
  async (c) => {
    const body = c.req.valid("json");
    const now = Date.now();
    const asOf = body.as_of ?? now;
    if (body.subscription) {
      const sub = await c.env.DB.prepare(
        "SELECT 1 FROM subscriptions WHERE tenant_id = ? AND id = ?",
      )
        .bind(c.var.tenantId, body.subscription)
        .first();
      if (!sub) throw notFound("Subscription", body.subscription);
    }
    if (asOf > now) {
      throw validationError([{ path: "as_of", message: "as_of must not be in the future" }]);
    }
    const res = await runInvoicing(c.env, c.var.tenantId, asOf, {
      now,
      ...(body.subscription ? { subscriptionId: body.subscription } : {}),
      ...(body.reissue_voided ? { reissueVoided: true } : {}),
    });
    return c.json({ ...res, as_of: iso(res.as_of) ?? "" }, 200);
  },
);
