import { createRoute, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { formatMoney, toNanos } from "../../domain/money";
import {
  decidePayment,
  PAYMENT_STATUSES,
  type PaymentRefusal,
  type PaymentRequest,
  replayDifferences,
} from "../../domain/payments";
import { HANDLED_EVENTS, readStripeEvent, verifyStripeSignature } from "../../domain/stripe";
import {
  invoiceMoney,
  invoiceOfProviderId,
  type PaymentRecord,
  paymentByReference,
  paymentsOf,
  providerSettings,
  putProviderSecret,
  recordPayment,
  refundedFrom,
} from "../../store/payments";
import {
  loadTenantSettings,
  putRetrySettings,
  type RetrySettings,
  TenantSettingsDocument,
} from "../../store/tenants";
import { type AppEnv, createRouter } from "../app";
import { randomHex } from "../auth";
import { settleInvoiceDunning } from "../billing/invoicing";
import { afterAttempt, retrySchedule, retryStatementsFor } from "../billing/retries";
import { openSecret, sealSecret } from "../deliveries/secrets";
import { permit } from "../permit";
import { ApiError, conflictResponse, notFound, ProblemSchema, problemResponses } from "../problem";
import { Id, iso, jsonBody, jsonResponse, Timestamp } from "../schemas";
import { publicOrigin } from "../sign-in-links";
import { Invoice, readInvoice } from "./invoices";

// Payments on invoices (issue 14, SPEC §12). Aforo does not move money; the tenant's payment
// provider does and reports each attempt here: POST /api/invoices/:id/payments (an operator or
// their system), or the Stripe-shaped webhook POST /v1/payments/stripe/:tenant_id. Both end in
// recordAttempt: one row per reference (idempotent), the invoice's balance and status moved by
// the rules of domain/payments.ts in the same D1 batch.

export const payments = createRouter();
const security = [{ operatorToken: [] }];

const Money = z.string().openapi({ example: "50.00", description: "Decimal string" });

export const PaymentSchema = z
  .object({
    id: z.string(),
    reference: z.string(),
    invoice: z.string(),
    status: z.enum(PAYMENT_STATUSES as ["succeeded", "failed", "refunded"]),
    amount: Money.openapi({
      description: "succeeded: paid; refunded: given back; failed: what was attempted",
    }),
    currency: z.string(),
    decline_code: z.string().nullable(),
    reason: z.string().nullable(),
    at: z.string(),
    provider: z.string().openapi({ description: "`api` or `stripe`" }),
    provider_id: z
      .string()
      .nullable()
      .openapi({ description: "e.g. a Stripe invoice or charge id" }),
    recorded_by: z.string().openapi({
      description: "`member:<email>`, `token:<key id>` or `provider:stripe`",
    }),
    created_at: z.string(),
  })
  .openapi("Payment");

export const RetrySchedule = z
  .object({
    invoice: z.string(),
    decline: z.enum(["soft", "hard"]).nullable().openapi({
      description: "The latest failed payment's decline: soft is retried, hard is not",
    }),
    decline_code: z.string().nullable(),
    action: z.enum(["retry", "ask_for_new_method"]).nullable().openapi({
      description:
        "retry: retries are scheduled; ask_for_new_method: a hard decline, the customer was asked for a new payment method; null: nothing to do (paid, void, never failed, schedule over)",
    }),
    next_retry_at: z.string().nullable(),
    remaining_attempts: z.number().int(),
    planned_attempts: z.number().int(),
    planned_by: z
      .string()
      .nullable()
      .openapi({ description: "The failed payment whose time the schedule was planned from" }),
    attempts: z.array(
      z.object({
        id: z.string().openapi({ description: "The retry's id: data.id of its webhook" }),
        attempt: z.number().int(),
        due_at: z.string(),
        status: z.enum(["scheduled", "sent", "cancelled"]),
        sent_at: z.string().nullable(),
        cancel_reason: z.string().nullable().openapi({
          description:
            "paid, replanned, hard_decline, superseded (fell due unsent behind a later one), invoice_paid, invoice_void",
        }),
      }),
    ),
  })
  .openapi("RetrySchedule");

export const PaymentAnswer = z
  .object({
    payment: PaymentSchema,
    invoice: Invoice,
    replayed: z.boolean(),
    retries: RetrySchedule.openapi({
      description: "The invoice's Adaptive Retry schedule after this attempt",
    }),
  })
  .openapi("PaymentAnswer");

const toPaymentJson = (p: PaymentRecord) => ({
  id: p.id,
  reference: p.reference,
  invoice: p.invoice_id,
  status: p.status,
  amount: formatMoney(p.amount),
  currency: p.currency,
  decline_code: p.decline_code,
  reason: p.reason,
  at: iso(p.at) ?? "",
  provider: p.provider,
  provider_id: p.provider_id,
  recorded_by: p.created_by,
  created_at: iso(p.created_at) ?? "",
});

const problemContent = { "application/problem+json": { schema: ProblemSchema } };
const unprocessableResponse = {
  422: {
    description: "The amount does not fit the invoice (more than due or paid, not positive)",
    content: problemContent,
  },
} as const;
const unavailableResponse = {
  503: { description: "AFORO_SECRETS_KEY is not configured", content: problemContent },
} as const;

// ---------------------------------------------------------------------------------------------
// The one way an attempt is recorded.

interface Attempt extends PaymentRequest {
  reference: string;
  provider: string;
  provider_id: string | null;
  /** The provider's currency, when it names one: it must be the invoice's. */
  currency: string | null;
  /** Actor ref: paid_by of an invoice it settles, created_by of the row. */
  by: string;
}

type AttemptResult =
  | { ok: true; payment: PaymentRecord; replayed: boolean; notify?: boolean }
  | PaymentRefusal
  | { ok: false; code: "not_found"; detail: string };

function replay(recorded: PaymentRecord, a: Attempt): AttemptResult {
  const diff = replayDifferences(recorded, a);
  if (diff.length === 0) return { ok: true, payment: recorded, replayed: true };
  return {
    ok: false,
    code: "conflict",
    detail: `Reference '${a.reference}' is already recorded (payment ${recorded.id}) with a different ${diff.join(", ")}; a reference names one attempt`,
  };
}

async function recordAttempt(
  db: D1Database,
  tenantId: string,
  a: Attempt,
  now: number,
): Promise<AttemptResult> {
  const recorded = await paymentByReference(db, tenantId, a.reference);
  if (recorded) return replay(recorded, a);
  const inv = await invoiceMoney(db, tenantId, a.invoice_id);
  if (!inv)
    return { ok: false, code: "not_found", detail: `Invoice '${a.invoice_id}' does not exist` };
  if (a.currency !== null && a.currency.toUpperCase() !== inv.currency.toUpperCase()) {
    return {
      ok: false,
      code: "unprocessable",
      detail: `The payment is in ${a.currency}; invoice '${inv.id}' is in ${inv.currency}`,
      errors: [{ path: "currency", message: `expected ${inv.currency}` }],
    };
  }
  const d = decidePayment(inv, a, now, formatMoney);
  if (!d.ok) return d;
  const id = `pay_${randomHex(12)}`;
  // Adaptive Retry (workers/billing/retries.ts): planned, cancelled or a new method asked for in
  // the same batch, so a recorded failure always has its schedule.
  const retries = await retryStatementsFor(
    db,
    tenantId,
    {
      id,
      invoice_id: inv.id,
      status: a.status,
      decline_code: a.decline_code,
      at: a.at,
      settles: d.settles,
    },
    now,
  );
  const wrote = await recordPayment(
    db,
    tenantId,
    {
      id,
      reference: a.reference,
      invoice_id: inv.id,
      status: a.status,
      amount: d.amount,
      requested_amount: a.amount,
      currency: inv.currency,
      decline_code: a.decline_code,
      reason: a.reason,
      at: a.at,
      provider: a.provider,
      provider_id: a.provider_id,
      created_by: a.by,
      adds: { paid: d.paid, refunded: d.refunded },
    },
    now,
    retries.statements,
  );
  if (!wrote) {
    // Someone recorded the same reference, or moved the invoice, between the read and the write.
    const raced = await paymentByReference(db, tenantId, a.reference);
    if (raced) return replay(raced, a);
    return {
      ok: false,
      code: "conflict",
      detail: `Invoice '${inv.id}' changed meanwhile; read it again`,
    };
  }
  if (d.settles) {
    // As POST /pay does: a past_due subscription with no other overdue invoice returns to
    // active, at the payment's time (or at the due date, when it was paid before falling due).
    await settleInvoiceDunning(db, tenantId, inv.subscription_id, inv.id, a.at, now);
    if (inv.due_at !== null && a.at < inv.due_at && inv.due_at <= now) {
      await settleInvoiceDunning(db, tenantId, inv.subscription_id, inv.id, inv.due_at, now);
    }
  }
  const payment = await paymentByReference(db, tenantId, a.reference);
  if (!payment) throw new Error(`payment ${a.reference} vanished after it was recorded`);
  return { ok: true, payment, replayed: false, notify: retries.notify };
}

const refusalError = (r: Exclude<AttemptResult, { ok: true }>) =>
  new ApiError(r.code, r.detail, "errors" in r ? r.errors : undefined);

// ---------------------------------------------------------------------------------------------
// /api/invoices/:id/payments

const DecimalAmount = z
  .string()
  .regex(/^-?\d{1,15}(\.\d{1,9})?$/, "a decimal string, e.g. 12.50")
  .openapi({ example: "25.00" });

payments.openapi(
  createRoute(
    permit("invoices:write", "invoice.payment", {
      method: "post",
      path: "/invoices/{id}/payments",
      tags: ["billing"],
      summary: "Record a payment attempt as the payment provider reports it",
      description:
        "Idempotent by `reference` in the tenant: the same reference with the same request answers the recorded attempt (200, `replayed`, no second effect); with a different one, 409. `succeeded`: `amount` (default: what is due) must be positive and at most what is due (422 otherwise); the invoice stays open with amount_due reduced until nothing is due, then it is paid (paid_at = `at`). `failed`: records `reason` and `decline_code`, changes no money. `refunded`: money back on a paid invoice, at most what was paid and not yet refunded (default: all of it); the invoice stays paid, amount_refunded and refund_state say how much came back.",
      security,
      request: {
        params: z.object({ id: Id }),
        body: jsonBody(
          z.object({
            status: z.enum(["succeeded", "failed", "refunded"]),
            amount: DecimalAmount.optional(),
            reason: z.string().max(500).optional(),
            decline_code: z.string().max(100).optional(),
            at: Timestamp,
            reference: z
              .string()
              .min(1)
              .max(200)
              .openapi({ description: "The provider's id for this attempt; unique in the tenant" }),
          }),
        ),
      },
      responses: {
        200: jsonResponse(PaymentAnswer, "The reference was recorded before: that attempt"),
        201: jsonResponse(PaymentAnswer, "The attempt, recorded, and the invoice after it"),
        ...problemResponses,
        ...conflictResponse,
        ...unprocessableResponse,
      },
    }),
  ),
  async (c) => {
    const { id } = c.req.valid("param");
    const body = c.req.valid("json");
    const db = c.env.DB;
    const res = await recordAttempt(
      db,
      c.var.tenantId,
      {
        invoice_id: id,
        status: body.status,
        amount: body.amount === undefined ? null : toNanos(body.amount),
        reason: body.reason ?? null,
        decline_code: body.decline_code ?? null,
        at: body.at,
        reference: body.reference,
        provider: "api",
        provider_id: null,
        currency: null,
        by: c.var.actor.ref,
      },
      Date.now(),
    );
    if (!res.ok) throw refusalError(res);
    await afterAttempt(c.env, c.var.tenantId, res.payment.id, res.notify === true);
    const invoice = await readInvoice(db, c.var.tenantId, id);
    return c.json(
      {
        payment: toPaymentJson(res.payment),
        invoice,
        replayed: res.replayed,
        retries: await retrySchedule(db, c.var.tenantId, id, invoice.status),
      },
      res.replayed ? 200 : 201,
    );
  },
);

payments.openapi(
  createRoute({
    method: "get",
    path: "/invoices/{id}/payments",
    tags: ["billing"],
    summary: "An invoice's payment attempts, in the order they happened",
    security,
    request: { params: z.object({ id: Id }) },
    responses: {
      200: jsonResponse(z.object({ data: z.array(PaymentSchema) }), "The attempts"),
      ...problemResponses,
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const db = c.env.DB;
    const [inv, list] = await Promise.all([
      invoiceMoney(db, c.var.tenantId, id),
      paymentsOf(db, c.var.tenantId, id),
    ]);
    if (!inv) throw notFound("Invoice", id);
    return c.json({ data: list.map(toPaymentJson) }, 200);
  },
);

payments.openapi(
  createRoute({
    method: "get",
    path: "/invoices/{id}/retries",
    tags: ["billing"],
    summary:
      "An invoice's Adaptive Retry schedule: next retry, remaining attempts, decline, action",
    description:
      "The retries planned by the invoice's latest failed payment (README \"Adaptive Retry\"): each attempt's due time and status (scheduled, sent, cancelled and why).",
    security,
    request: { params: z.object({ id: Id }) },
    responses: {
      200: jsonResponse(RetrySchedule, "The schedule"),
      ...problemResponses,
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const db = c.env.DB;
    const inv = await invoiceMoney(db, c.var.tenantId, id);
    if (!inv) throw notFound("Invoice", id);
    return c.json(await retrySchedule(db, c.var.tenantId, id, inv.status), 200);
  },
);

// ---------------------------------------------------------------------------------------------
// The Stripe webhook's settings: /api/payments/stripe

const STRIPE = "stripe";
/** The sealed secret is bound to the tenant and this name (workers/deliveries/secrets.ts). */
const SEAL_NAME = "payments:stripe";
const STRIPE_ACTOR = "provider:stripe";

export const StripeSettings = z
  .object({
    provider: z.literal("stripe"),
    configured: z.boolean(),
    webhook_url: z.string().openapi({ description: "Where to point the Stripe webhook endpoint" }),
    events: z.array(z.string()),
    updated_at: z.string().nullable(),
    updated_by: z.string().nullable(),
  })
  .openapi("StripeSettings");

async function stripeSettingsJson(env: Env, tenantId: string, requestUrl: string) {
  const s = await providerSettings(env.DB, tenantId, STRIPE);
  return {
    provider: "stripe" as const,
    configured: s !== null,
    webhook_url: `${publicOrigin(env, requestUrl)}/v1/payments/stripe/${tenantId}`,
    events: [...HANDLED_EVENTS],
    updated_at: iso(s?.updated_at),
    updated_by: s?.updated_by ?? null,
  };
}

payments.openapi(
  createRoute({
    method: "get",
    path: "/payments/stripe",
    tags: ["billing"],
    summary: "The Stripe webhook: where to point it, which events it takes, whether it is set up",
    security,
    responses: {
      200: jsonResponse(StripeSettings, "The Stripe settings (never the secret)"),
      ...problemResponses,
    },
  }),
  async (c) => c.json(await stripeSettingsJson(c.env, c.var.tenantId, c.req.url), 200),
);

payments.openapi(
  createRoute(
    // invoices:write, not keys:manage: whoever holds this secret can mark the tenant's invoices
    // paid, so setting it is granting exactly the power invoices:write is.
    permit("invoices:write", "payments.stripe", {
      method: "put",
      path: "/payments/stripe",
      tags: ["billing"],
      summary: "Set the Stripe webhook's signing secret (sealed, never returned)",
      description:
        "The endpoint's signing secret from the Stripe dashboard (`whsec_…`). It is stored encrypted under AFORO_SECRETS_KEY; setting it again replaces it (roll it in Stripe, then here).",
      security,
      request: {
        body: jsonBody(z.object({ signing_secret: z.string().min(16).max(500) })),
      },
      responses: {
        200: jsonResponse(StripeSettings, "The Stripe settings"),
        ...problemResponses,
        ...unavailableResponse,
      },
    }),
  ),
  async (c) => {
    const { signing_secret } = c.req.valid("json");
    const sealed = await sealSecret(c.env, c.var.tenantId, SEAL_NAME, signing_secret);
    if (!sealed.ok) throw new ApiError("unavailable", sealed.detail);
    await putProviderSecret(
      c.env.DB,
      c.var.tenantId,
      STRIPE,
      sealed.value,
      Date.now(),
      c.var.actor.ref,
    );
    return c.json(await stripeSettingsJson(c.env, c.var.tenantId, c.req.url), 200);
  },
);

// ---------------------------------------------------------------------------------------------
// The tenant's Adaptive Retry policy: /api/payments/retry-policy (settings.retry)

/** The stored document's own field schemas (bounds, the IANA zone check, defaults), so the
 * route and POST /admin/tenants {settings} validate alike. Strict: a misspelt field is refused
 * rather than silently replaced by its default. */
const RetryPolicyBody = z
  .object(TenantSettingsDocument.shape.retry.unwrap().shape)
  .strict()
  .openapi("RetryPolicyInput", {
    description:
      "The whole policy: a field left out takes its default (max_attempts 8, window_days 28, time_zone UTC, default_hour 10)",
  });

const RetryPolicyFields = z.object({
  max_attempts: z.number().int(),
  window_days: z.number().int(),
  time_zone: z.string(),
  default_hour: z.number().int(),
});

export const RetryPolicySettings = RetryPolicyFields.extend({
  defaults: RetryPolicyFields.openapi({ description: "What each field is when not set" }),
  is_default: z
    .object({
      max_attempts: z.boolean(),
      window_days: z.boolean(),
      time_zone: z.boolean(),
      default_hour: z.boolean(),
    })
    .openapi({ description: "Whether each field holds its default value" }),
}).openapi("RetryPolicy");

const RETRY_DEFAULTS: RetrySettings = RetryPolicyBody.parse({});

function retryPolicyJson(policy: RetrySettings) {
  return {
    ...policy,
    defaults: RETRY_DEFAULTS,
    is_default: {
      max_attempts: policy.max_attempts === RETRY_DEFAULTS.max_attempts,
      window_days: policy.window_days === RETRY_DEFAULTS.window_days,
      time_zone: policy.time_zone === RETRY_DEFAULTS.time_zone,
      default_hour: policy.default_hour === RETRY_DEFAULTS.default_hour,
    },
  };
}

const APPLIES =
  "A change applies to retries planned from then on (the next failed payment of an invoice); retries already planned keep their schedule.";

payments.openapi(
  createRoute({
    method: "get",
    path: "/payments/retry-policy",
    tags: ["billing"],
    summary: "The Adaptive Retry policy: how many retries, over how many days, where and when",
    description: `The effective policy, defaults filled in, and which fields hold their default. ${APPLIES}`,
    security,
    responses: {
      200: jsonResponse(RetryPolicySettings, "The policy"),
      ...problemResponses,
    },
  }),
  async (c) =>
    c.json(retryPolicyJson((await loadTenantSettings(c.env.DB, c.var.tenantId)).retry), 200),
);

payments.openapi(
  createRoute(
    // The same power as the Stripe settings: how hard the tenant's invoices are collected.
    permit("invoices:write", "payments.retry_policy", {
      method: "put",
      path: "/payments/retry-policy",
      tags: ["billing"],
      summary: "Replace the Adaptive Retry policy",
      description: `Soft declines are retried at most \`max_attempts\` times (0–8; 0 retries nothing) within \`window_days\` (1–60) of the failure, on business days in \`time_zone\` (an IANA zone), at the hour the customer's payments usually succeed, else at \`default_hour\` (0–23). Stripe's Smart Retries default is 8 tries in 2 weeks; Recurly advises a window of at least 27 days. A field left out takes its default. ${APPLIES}`,
      security,
      request: { body: jsonBody(RetryPolicyBody) },
      responses: {
        200: jsonResponse(RetryPolicySettings, "The policy now in force"),
        ...problemResponses,
      },
    }),
  ),
  async (c) => {
    const policy = c.req.valid("json");
    if (!(await putRetrySettings(c.env.DB, c.var.tenantId, policy))) {
      throw notFound("Tenant", c.var.tenantId);
    }
    return c.json(retryPolicyJson((await loadTenantSettings(c.env.DB, c.var.tenantId)).retry), 200);
  },
);

// ---------------------------------------------------------------------------------------------
// POST /v1/payments/stripe/:tenant_id — authenticated by the Stripe-Signature header alone.

export const stripeWebhook = createRouter();

const unsigned = (detail: string) => new ApiError("unauthorized", detail);

/** Checks the signature over the raw body before anything parses it (the JSON validator then
 * reads the same cached text), and sets the tenant the path names. Unknown tenant and a tenant
 * without a secret answer alike. */
const verifyStripe: MiddlewareHandler<AppEnv> = async (c, next) => {
  const tenantId = c.req.param("tenant_id") ?? "";
  const settings = tenantId ? await providerSettings(c.env.DB, tenantId, STRIPE) : null;
  if (!settings) {
    throw unsigned(
      "No Stripe signing secret is set for this tenant (PUT /api/payments/stripe sets it)",
    );
  }
  const secret = await openSecret(c.env, tenantId, SEAL_NAME, settings.signing_secret);
  if (!secret.ok) {
    throw new ApiError(secret.reason === "no_key" ? "unavailable" : "unauthorized", secret.detail);
  }
  const raw = await c.req.text();
  const check = await verifyStripeSignature(
    c.req.header("stripe-signature"),
    raw,
    secret.value,
    Date.now(),
  );
  if (!check.ok) throw unsigned(check.detail);
  c.set("tenantId", tenantId);
  await next();
};

const StripeEvent = z
  .object({
    id: z.string().max(255),
    type: z.string().max(255),
    created: z.number().int().optional(),
    data: z.object({ object: z.record(z.string(), z.unknown()) }),
  })
  .loose()
  .openapi("StripeEvent", {
    description:
      "A Stripe event: invoice.payment_succeeded, invoice.payment_failed and charge.refunded are recorded; other types are answered 200 and ignored",
  });

export const StripeWebhookOutcome = z
  .object({
    received: z.literal(true),
    outcome: z.enum(["recorded", "replayed", "ignored", "refused"]),
    event_type: z.string(),
    payment: PaymentSchema.nullable(),
    invoice: z.string().nullable(),
    detail: z.string().nullable(),
  })
  .openapi("StripeWebhookOutcome");

stripeWebhook.openapi(
  createRoute({
    method: "post",
    path: "/stripe/{tenant_id}",
    tags: ["billing"],
    summary: "Stripe payment webhooks into the same payment records",
    description:
      "Point a Stripe webhook endpoint here (GET /api/payments/stripe gives the URL). Authenticated by `Stripe-Signature` (HMAC-SHA256 of `t.body` with the tenant's signing secret, 5 minutes' tolerance): missing, wrong or stale → 401. The Aforo invoice is `metadata.aforo_invoice_id` of the Stripe invoice (or, for a charge, of the charge, else the Stripe invoice an earlier payment named). Payment references are the Stripe object's id and the event type, so Stripe's retries are replays. Every signed event is answered 2xx (Stripe retries anything else): `ignored` for types Aforo does not record, `refused` with the reason when the payment does not fit the invoice.",
    security: [{ stripeSignature: [] }],
    middleware: verifyStripe,
    request: { params: z.object({ tenant_id: Id }), body: jsonBody(StripeEvent) },
    responses: {
      200: jsonResponse(StripeWebhookOutcome, "What Aforo made of the event"),
      ...problemResponses,
      ...unavailableResponse,
    },
  }),
  async (c) => {
    const event = c.req.valid("json");
    const tenantId = c.var.tenantId;
    const db = c.env.DB;
    const answer = (
      outcome: "recorded" | "replayed" | "ignored" | "refused",
      o: { payment?: PaymentRecord; invoice?: string | null; detail?: string | null } = {},
    ) =>
      c.json(
        {
          received: true as const,
          outcome,
          event_type: event.type,
          payment: o.payment ? toPaymentJson(o.payment) : null,
          invoice: o.invoice ?? o.payment?.invoice_id ?? null,
          detail: o.detail ?? null,
        },
        200,
      );

    const reading = readStripeEvent(event);
    if (reading.kind === "ignored") return answer("ignored", { detail: reading.detail });
    const p = reading.payment;
    // A retry of an event already recorded: the same attempt, nothing more to do.
    const before = await paymentByReference(db, tenantId, p.reference);
    if (before) return answer("replayed", { payment: before });

    const invoiceId =
      p.aforo_invoice_id ??
      (p.stripe_invoice ? await invoiceOfProviderId(db, tenantId, STRIPE, p.stripe_invoice) : null);
    if (!invoiceId) {
      return answer("ignored", {
        detail: `${p.provider_id} names no Aforo invoice (metadata.aforo_invoice_id) and no earlier payment does`,
      });
    }
    let amount = p.amount;
    if (p.status === "refunded") {
      // charge.refunded carries what the charge has had refunded in all.
      amount -= await refundedFrom(db, tenantId, STRIPE, p.provider_id);
      if (amount <= 0n) {
        return answer("ignored", { invoice: invoiceId, detail: "These refunds are recorded" });
      }
    }
    const res = await recordAttempt(
      db,
      tenantId,
      {
        invoice_id: invoiceId,
        status: p.status,
        amount,
        reason: p.reason,
        decline_code: p.decline_code,
        at: p.at,
        reference: p.reference,
        provider: STRIPE,
        provider_id: p.provider_id,
        currency: p.currency,
        by: STRIPE_ACTOR,
      },
      Date.now(),
    );
    if (!res.ok) return answer("refused", { invoice: invoiceId, detail: res.detail });
    await afterAttempt(c.env, tenantId, res.payment.id, res.notify === true);
    return answer(res.replayed ? "replayed" : "recorded", { payment: res.payment });
  },
);
