import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { signStripePayload } from "../../domain/stripe";
import {
  api,
  clockSettled,
  customer,
  DAY,
  isoOf,
  monthStart,
  ok,
  plan,
  product,
  subscribe,
} from "./billing-helpers";
import { call, createTenant, expectProblem, type Tenant } from "./helpers";

// Payments on invoices (issue 14): attempts as the payment provider reports them, through the
// API and through a Stripe-signed webhook, against one open $50.00 invoice.

let tenant: Tenant;
let a: ReturnType<typeof api>;
const NOW = Date.now();
const S = monthStart(NOW, -3);
const P2 = monthStart(NOW, -2);

let invoiceId: string;
let subscriptionId: string;

beforeEach(async () => {
  tenant = await createTenant();
  a = api(tenant);
  await clockSettled(tenant);
  await product(tenant);
  await plan(tenant, "starter", [{ type: "flat", amount: "50" }]);
  await customer(tenant, "acme");
  const sub = await subscribe(tenant, "acme", "starter", S);
  subscriptionId = sub.id;
  // Only the first period has closed as of P2: one open invoice of $50.00, issued at P2.
  const run = await ok(a.post("/api/invoices/run", { as_of: isoOf(P2) }));
  invoiceId = run.invoice_ids[0];
  expect(await ok(a.get(`/api/invoices/${invoiceId}`))).toMatchObject({
    status: "open",
    total: "50.00",
    amount_due: "50.00",
    amount_paid: "0.00",
    payments_count: 0,
  });
});

const pay = (body: Record<string, unknown>, token = tenant.operator_token) =>
  call("POST", `/api/invoices/${invoiceId}/payments`, { token, body });
const invoice = async () => ok(a.get(`/api/invoices/${invoiceId}`));
const attempts = async () => (await ok(a.get(`/api/invoices/${invoiceId}/payments`))).data;
const tokenId = (t: string) => t.split("_")[2];

describe("POST /api/invoices/:id/payments", () => {
  it("keeps the invoice open through a partial payment and pays it with the rest, ending its dunning", async () => {
    // Overdue since P2 + 30 days: the run made the subscription past_due.
    await ok(a.post("/api/invoices/run", {}));
    expect((await ok(a.get(`/api/subscriptions/${subscriptionId}`))).status).toBe("past_due");

    const first = await pay({
      status: "succeeded",
      amount: "20.00",
      at: isoOf(P2 + 40 * DAY),
      reference: "pi_part",
    });
    expect(first.status).toBe(201);
    expect(first.body.payment).toMatchObject({
      reference: "pi_part",
      status: "succeeded",
      amount: "20.00",
      currency: "USD",
      provider: "api",
      recorded_by: `token:${tokenId(tenant.operator_token)}`,
    });
    expect(first.body.invoice).toMatchObject({
      status: "open",
      amount_due: "30.00",
      amount_paid: "20.00",
      payments_count: 1,
      paid_at: null,
    });
    // Still owing $30: still past_due.
    expect((await ok(a.get(`/api/subscriptions/${subscriptionId}`))).status).toBe("past_due");
    // The cockpit's outstanding invoices count it once, for what is still owed from the payment
    // on (the run above also issued the next period's invoice: it is there on both days).
    const outstanding = async (t: number) =>
      (await ok(a.get(`/api/metrics/cockpit?as_of=${encodeURIComponent(isoOf(t))}`)))
        .outstanding_invoices as { count: number; total: string };
    const before = await outstanding(P2 + 39 * DAY);
    const after = await outstanding(P2 + 41 * DAY);
    expect(after.count).toBe(before.count);
    expect(Number(before.total) - Number(after.total)).toBeCloseTo(20, 6);

    // No amount: what is still due.
    const rest = await pay({ status: "succeeded", at: isoOf(P2 + 45 * DAY), reference: "pi_rest" });
    expect(rest.status).toBe(201);
    expect(rest.body.payment.amount).toBe("30.00");
    expect(rest.body.invoice).toMatchObject({
      status: "paid",
      amount_due: "0.00",
      amount_paid: "50.00",
      paid_at: isoOf(P2 + 45 * DAY),
      paid_by: `token:${tokenId(tenant.operator_token)}`,
      payment_reference: "pi_rest",
      payments_count: 2,
    });
    const s = await ok(a.get(`/api/subscriptions/${subscriptionId}?include=history`));
    expect(s.status).toBe("active");
    expect(s.status_changes.at(-1)).toMatchObject({
      status: "active",
      at: isoOf(P2 + 45 * DAY),
    });

    expect((await attempts()).map((p: { reference: string }) => p.reference)).toEqual([
      "pi_part",
      "pi_rest",
    ]);
    const list = (await ok(a.get("/api/invoices"))).data;
    expect(list.find((i: { id: string }) => i.id === invoiceId)).toMatchObject({
      amount_paid: "50.00",
      payments_count: 2,
    });
    const audit = await ok(a.get("/api/audit?action=invoice.payment"));
    expect(audit.data.map((e: { target_id: string }) => e.target_id)).toEqual([
      invoiceId,
      invoiceId,
    ]);
  });

  it("answers a replayed reference with the recorded attempt and refuses it with a different body", async () => {
    const body = { status: "succeeded", amount: "20", at: isoOf(P2 + DAY), reference: "pi_once" };
    const first = await pay(body);
    expect(first.status).toBe(201);
    expect(first.body.replayed).toBe(false);

    // The same amount written differently is the same request.
    const again = await pay({ ...body, amount: "20.000" });
    expect(again.status).toBe(200);
    expect(again.body.replayed).toBe(true);
    expect(again.body.payment.id).toBe(first.body.payment.id);
    expect(again.body.invoice).toMatchObject({ amount_due: "30.00", payments_count: 1 });

    const other = await pay({ ...body, amount: "25" });
    expectProblem(other, 409, "conflict");
    expect(other.body.detail).toContain("amount");
    expectProblem(await pay({ ...body, status: "failed" }), 409, "conflict");
    expect(await invoice()).toMatchObject({ amount_due: "30.00", amount_paid: "20.00" });
    expect(await attempts()).toHaveLength(1);
  });

  it("lets only one of two concurrent payments that do not fit together through, and one of two with the same reference", async () => {
    const at = isoOf(P2 + DAY);
    // Each fits the $50 alone, not both: the batch's guard refuses the second whichever runs last.
    const both = await Promise.all([
      pay({ status: "succeeded", amount: "30", at, reference: "pi_a" }),
      pay({ status: "succeeded", amount: "30", at, reference: "pi_b" }),
    ]);
    expect(both.filter((r) => r.status === 201)).toHaveLength(1);
    const refused = both.find((r) => r.status !== 201);
    expect([409, 422]).toContain(refused?.status);
    expect(await invoice()).toMatchObject({ amount_paid: "30.00", payments_count: 1 });

    // The same request twice at once: recorded once, the other answered as its replay.
    const same = { status: "succeeded", amount: "5", at, reference: "pi_same" };
    const twice = await Promise.all([pay(same), pay(same)]);
    expect(twice.map((r) => r.status).sort()).toEqual([200, 201]);
    expect(twice[0]?.body.payment.id).toBe(twice[1]?.body.payment.id);
    expect(await invoice()).toMatchObject({ amount_paid: "35.00", payments_count: 2 });
  });

  it("refuses an amount above what is due, or not positive, up front and records nothing", async () => {
    const at = isoOf(P2 + DAY);
    for (const amount of ["50.01", "0", "-5", "0.00"]) {
      expectProblem(
        await pay({ status: "succeeded", amount, at, reference: `r-${amount}` }),
        422,
        "unprocessable",
      );
    }
    // Not a decimal string: a float, or more places than nanos hold.
    for (const amount of [20.5, "20.1234567891", "1e3"]) {
      expectProblem(
        await pay({ status: "succeeded", amount, at, reference: "r-bad" }),
        400,
        "validation_failed",
      );
    }
    await ok(pay({ status: "succeeded", amount: "20", at, reference: "r-20" }));
    const over = await pay({ status: "succeeded", amount: "30.01", at, reference: "r-over" });
    expectProblem(over, 422, "unprocessable");
    expect(over.body.detail).toBe("amount 30.01 is more than the 30.00 due");
    // Exact to the nano: a third of a cent more than due is still too much.
    expectProblem(
      await pay({ status: "succeeded", amount: "30.000000001", at, reference: "r-nano" }),
      422,
      "unprocessable",
    );
    // Before the issue date, or in the future.
    expectProblem(
      await pay({ status: "succeeded", at: isoOf(P2 - DAY), reference: "r-early" }),
      400,
      "validation_failed",
    );
    expect(await invoice()).toMatchObject({
      status: "open",
      amount_due: "30.00",
      payments_count: 1,
    });
  });

  it("records a failed attempt's reason and decline code without moving money", async () => {
    const failed = await pay({
      status: "failed",
      reason: "Your card has insufficient funds.",
      decline_code: "insufficient_funds",
      at: isoOf(P2 + DAY),
      reference: "pi_fail_1",
    });
    expect(failed.status).toBe(201);
    expect(failed.body.payment).toMatchObject({
      status: "failed",
      amount: "50.00",
      decline_code: "insufficient_funds",
      reason: "Your card has insufficient funds.",
    });
    expect(await invoice()).toMatchObject({
      status: "open",
      amount_due: "50.00",
      amount_paid: "0.00",
      paid_at: null,
      payments_count: 1,
    });
    await ok(a.post(`/api/invoices/${invoiceId}/void`, {}));
    expectProblem(
      await pay({ status: "failed", at: isoOf(P2 + DAY), reference: "pi_fail_2" }),
      409,
      "conflict",
    );
    expectProblem(
      await pay({ status: "succeeded", at: isoOf(P2 + DAY), reference: "pi_void" }),
      409,
      "conflict",
    );
  });

  it("the cockpit counts what dunning brought back: still retrying, then recovered", async () => {
    const recovery = async (t: number) => {
      const asOf = encodeURIComponent(isoOf(t));
      const tile = (await ok(a.get(`/api/metrics/cockpit?as_of=${asOf}`))).outstanding_invoices;
      const items = await ok(
        a.get(`/api/metrics/cockpit/items?kpi=outstanding_invoices&as_of=${asOf}`),
      );
      // The list behind the tile says the same.
      expect(items.summary.recovery).toEqual(tile.recovery);
      return tile.recovery;
    };
    await pay({
      status: "failed",
      decline_code: "insufficient_funds",
      at: isoOf(P2 + DAY),
      reference: "pi_dunning_fail",
    });
    expect(await recovery(P2 + 2 * DAY)).toMatchObject({
      episodes: 1,
      open: 1,
      recovered: 0,
      recovery_rate: 0,
      recovered_revenue: "0.00",
    });
    await pay({ status: "succeeded", at: isoOf(P2 + 4 * DAY), reference: "pi_dunning_ok" });
    expect(await recovery(P2 + 5 * DAY)).toMatchObject({
      window_days: 90,
      episodes: 1,
      open: 0,
      recovered: 1,
      lost: 0,
      recovery_rate: 1,
      recovered_revenue: "50.00",
      median_days_to_recover: 3,
      involuntary_churn: 0,
    });
  });

  it("refunds only a paid invoice, at most what was paid; the invoice stays paid", async () => {
    const at = isoOf(P2 + 2 * DAY);
    expectProblem(await pay({ status: "refunded", at, reference: "re_early" }), 409, "conflict");
    await ok(pay({ status: "succeeded", at: isoOf(P2 + DAY), reference: "pi_all" }));

    const part = await pay({ status: "refunded", amount: "10", at, reference: "re_1" });
    expect(part.status).toBe(201);
    expect(part.body.invoice).toMatchObject({
      status: "paid",
      amount_paid: "50.00",
      amount_refunded: "10.00",
      refund_state: "partial",
      amount_due: "0.00",
    });
    const over = await pay({ status: "refunded", amount: "40.01", at, reference: "re_2" });
    expectProblem(over, 422, "unprocessable");
    expect(over.body.detail).toBe("amount 40.01 is more than the 40.00 paid");
    // No amount: all that is left.
    const rest = await pay({ status: "refunded", at, reference: "re_3" });
    expect(rest.body.payment.amount).toBe("40.00");
    expect(rest.body.invoice).toMatchObject({
      status: "paid",
      amount_refunded: "50.00",
      refund_state: "full",
    });
    expectProblem(await pay({ status: "refunded", at, reference: "re_4" }), 422, "unprocessable");
    expect((await attempts()).map((p: { status: string }) => p.status)).toEqual([
      "succeeded",
      "refunded",
      "refunded",
    ]);
  });

  it("refuses a viewer (403) and records nothing; a viewer may read the attempts", async () => {
    const issued = await ok(
      a.post("/api/keys", { kind: "operator", name: "read only", role: "viewer" }),
    );
    const res = await pay(
      { status: "succeeded", at: isoOf(P2 + DAY), reference: "pi_viewer" },
      issued.key,
    );
    expectProblem(res, 403, "forbidden");
    expect(res.body.detail).toContain("invoices:write");
    const read = await call("GET", `/api/invoices/${invoiceId}/payments`, { token: issued.key });
    expect([read.status, read.body.data]).toEqual([200, []]);
    expect(await invoice()).toMatchObject({ status: "open", payments_count: 0 });
    expectProblem(
      await call("GET", "/api/invoices/no-such/payments", { token: issued.key }),
      404,
      "not_found",
    );
  });
});

// ---------------------------------------------------------------------------------------------

const SECRET = "whsec_test_0123456789abcdefghijklmnop";
const nowS = () => Math.floor(Date.now() / 1000);

async function stripe(
  event: Record<string, unknown>,
  o: { secret?: string; t?: number; header?: string | null; tenantId?: string } = {},
) {
  const raw = JSON.stringify(event);
  const header =
    o.header === undefined
      ? await signStripePayload(o.secret ?? SECRET, o.t ?? nowS(), raw)
      : o.header;
  return call("POST", `/v1/payments/stripe/${o.tenantId ?? tenant.tenant_id}`, {
    rawBody: raw,
    headers: {
      "content-type": "application/json; charset=utf-8",
      ...(header === null ? {} : { "stripe-signature": header }),
    },
  });
}

const stripeInvoiceEvent = (type: string, object: Record<string, unknown>) => ({
  id: `evt_${Math.random().toString(36).slice(2)}`,
  object: "event",
  api_version: "2024-06-20",
  created: nowS() - 30,
  livemode: false,
  type,
  data: {
    object: {
      id: "in_1Q2w3E",
      object: "invoice",
      amount_due: 5000,
      amount_paid: 0,
      amount_remaining: 5000,
      attempt_count: 1,
      charge: "ch_3Q2w3E",
      currency: "usd",
      customer: "cus_9s6XKzkNRiz8i3",
      metadata: { aforo_invoice_id: invoiceId },
      status: "open",
      ...object,
    },
  },
});

describe("POST /v1/payments/stripe/:tenant_id", () => {
  beforeEach(async () => {
    const set = await a.put("/api/payments/stripe", { signing_secret: SECRET });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({
      provider: "stripe",
      configured: true,
      webhook_url: `http://aforo.test/v1/payments/stripe/${tenant.tenant_id}`,
      events: ["invoice.payment_succeeded", "invoice.payment_failed", "charge.refunded"],
    });
    expect(JSON.stringify(set.body)).not.toContain(SECRET);
  });

  it("keeps the signing secret sealed: never answered, not in D1 as text, masked in the audit log", async () => {
    const read = await ok(a.get("/api/payments/stripe"));
    expect(read.configured).toBe(true);
    expect(JSON.stringify(read)).not.toContain(SECRET);
    const row = await env.DB.prepare(
      "SELECT signing_secret FROM payment_providers WHERE tenant_id = ?",
    )
      .bind(tenant.tenant_id)
      .first<{ signing_secret: string }>();
    expect(row?.signing_secret.startsWith("v1:")).toBe(true);
    expect(row?.signing_secret).not.toContain("whsec");
    const audit = await ok(a.get("/api/audit?action=payments.stripe"));
    expect(audit.data).toHaveLength(1);
    expect(JSON.stringify(audit.data)).not.toContain(SECRET);
  });

  it("records a signed failure, then the payment, then refunds, each once however often Stripe retries", async () => {
    const failed = stripeInvoiceEvent("invoice.payment_failed", {
      last_finalization_error: {
        type: "card_error",
        code: "card_declined",
        decline_code: "insufficient_funds",
        message: "Your card has insufficient funds.",
      },
    });
    const f = await stripe(failed);
    expect(f.status).toBe(200);
    expect(f.body).toMatchObject({
      received: true,
      outcome: "recorded",
      event_type: "invoice.payment_failed",
      invoice: invoiceId,
      payment: {
        status: "failed",
        decline_code: "insufficient_funds",
        reason: "Your card has insufficient funds.",
        provider: "stripe",
        provider_id: "in_1Q2w3E",
        recorded_by: "provider:stripe",
      },
    });
    expect(await invoice()).toMatchObject({ status: "open", amount_due: "50.00" });

    const paidAt = nowS() - 60;
    const succeeded = stripeInvoiceEvent("invoice.payment_succeeded", {
      amount_paid: 5000,
      amount_remaining: 0,
      status: "paid",
      status_transitions: { finalized_at: paidAt - 3600, paid_at: paidAt },
    });
    const s = await stripe(succeeded);
    expect(s.body).toMatchObject({
      outcome: "recorded",
      payment: {
        status: "succeeded",
        amount: "50.00",
        reference: "stripe:in_1Q2w3E:invoice.payment_succeeded",
      },
    });
    const paid = await invoice();
    expect(paid).toMatchObject({
      status: "paid",
      amount_due: "0.00",
      amount_paid: "50.00",
      paid_at: isoOf(paidAt * 1000),
      paid_by: "provider:stripe",
      payment_reference: "in_1Q2w3E",
      payments_count: 2,
    });

    // Stripe retries the same event (a fresh signature each delivery): nothing more happens.
    const retried = await stripe(succeeded);
    expect(retried.body).toMatchObject({ outcome: "replayed", payment: s.body.payment });
    expect(await invoice()).toMatchObject({ amount_paid: "50.00", payments_count: 2 });

    // A charge's refunds: amount_refunded is cumulative; the charge names the Stripe invoice,
    // which the payment above tied to the Aforo invoice.
    const charge = (amountRefunded: number) => ({
      id: `evt_${amountRefunded}`,
      object: "event",
      created: nowS() - 10,
      type: "charge.refunded",
      data: {
        object: {
          id: "ch_3Q2w3E",
          object: "charge",
          amount: 5000,
          amount_captured: 5000,
          amount_refunded: amountRefunded,
          currency: "usd",
          invoice: "in_1Q2w3E",
          metadata: {},
          refunded: amountRefunded === 5000,
        },
      },
    });
    const r1 = await stripe(charge(1500));
    expect(r1.body).toMatchObject({ outcome: "recorded", payment: { amount: "15.00" } });
    expect((await stripe(charge(1500))).body.outcome).toBe("replayed");
    const r2 = await stripe(charge(5000));
    expect(r2.body).toMatchObject({ outcome: "recorded", payment: { amount: "35.00" } });
    expect(await invoice()).toMatchObject({
      status: "paid",
      amount_refunded: "50.00",
      refund_state: "full",
      payments_count: 4,
    });
  });

  it("refuses a wrong, stale or missing signature with problem+json and records nothing", async () => {
    const event = stripeInvoiceEvent("invoice.payment_succeeded", {
      amount_paid: 5000,
      status: "paid",
    });
    const refusals = [
      await stripe(event, { secret: "whsec_someone_elses_secret_000000" }),
      await stripe(event, { t: nowS() - 6 * 60 }),
      await stripe(event, { t: nowS() + 6 * 60 }),
      await stripe(event, { header: null }),
      await stripe(event, { header: "t=123,v1=nothex" }),
      // Signed for another body: the amount was changed on the way.
      await stripe(event, {
        header: await signStripePayload(SECRET, nowS(), JSON.stringify({ ...event, id: "x" })),
      }),
    ];
    for (const res of refusals) expectProblem(res, 401, "unauthorized");
    expect(refusals[1]?.body.detail).toContain("300 s");
    expect(await invoice()).toMatchObject({ status: "open", payments_count: 0 });

    // Another tenant's secret, on this tenant's path, and this tenant's on one with none set.
    const other = await createTenant("Other");
    await ok(
      api(other).put("/api/payments/stripe", { signing_secret: "whsec_other_tenant_0000000000" }),
    );
    expectProblem(
      await stripe(event, { secret: "whsec_other_tenant_0000000000" }),
      401,
      "unauthorized",
    );
    const none = await createTenant("No Stripe");
    expectProblem(await stripe(event, { tenantId: none.tenant_id }), 401, "unauthorized");
    expect(await attempts()).toEqual([]);
  });

  it("answers 200 to event types it does not record, and to a payment that does not fit", async () => {
    const unknown = await stripe({
      id: "evt_c",
      object: "event",
      created: nowS(),
      type: "customer.created",
      data: { object: { id: "cus_1", object: "customer" } },
    });
    expect([unknown.status, unknown.body.outcome]).toEqual([200, "ignored"]);
    const over = await stripe(
      stripeInvoiceEvent("invoice.payment_succeeded", { amount_paid: 6000, status: "paid" }),
    );
    expect(over.status).toBe(200);
    expect(over.body).toMatchObject({ outcome: "refused", invoice: invoiceId });
    expect(over.body.detail).toBe("amount 60.00 is more than the 50.00 due");
    const euro = await stripe(
      stripeInvoiceEvent("invoice.payment_succeeded", { amount_paid: 5000, currency: "eur" }),
    );
    expect(euro.body.outcome).toBe("refused");
    expect(await invoice()).toMatchObject({ status: "open", payments_count: 0 });
  });
});
