import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import PostalMime from "postal-mime";
import { beforeEach, describe, expect, it } from "vitest";
import { type RetryPolicy, retryPlan } from "../../domain/dunning";
import { signStripePayload } from "../../domain/stripe";
import worker from "../../workers/index";
import { runTenantJobs } from "../../workers/periodic";
import {
  api,
  clockSettled,
  customer,
  DAY,
  HOUR,
  isoOf,
  monthStart,
  ok,
  plan,
  product,
  subscribe,
} from "./billing-helpers";
import { createChannel, newHook, runConsumer, verifyStandardWebhook } from "./deliveries-helpers";
import { ADMIN_TOKEN, call, createTenant, type Tenant } from "./helpers";

// Adaptive Retry (issue 14 item 2): a failed payment on an open $50.00 invoice plans retries;
// the periodic job sends each one that falls due once, as a signed `payment.retry_due` webhook
// to the tenant's webhook channel (the tests' real HTTP receiver) and a dunning e-mail to the
// customer's address, through the delivery log and the real deliveries queue.

let tenant: Tenant;
let a: ReturnType<typeof api>;
let invoiceId: string;
let hook: ReturnType<typeof newHook>;
let secret: string;
const NOW = Date.now();
const BILLING = "billing@acme.example";

beforeEach(async () => {
  tenant = await createTenant();
  a = api(tenant);
  await clockSettled(tenant);
  await product(tenant);
  await plan(tenant, "starter", [{ type: "flat", amount: "50" }]);
  await customer(tenant, "acme");
  expect(
    (
      await call("PATCH", "/api/customers/acme", {
        token: tenant.operator_token,
        body: { email: BILLING },
      })
    ).status,
  ).toBe(200);
  await subscribe(tenant, "acme", "starter", monthStart(NOW, -3));
  const run = await ok(a.post("/api/invoices/run", { as_of: isoOf(monthStart(NOW, -2)) }));
  invoiceId = run.invoice_ids[0];
  hook = newHook("retries");
  const channel = await createChannel(tenant, { type: "webhook", name: "billing", url: hook.url });
  secret = channel.secret ?? "";
});

const pay = (body: Record<string, unknown>) =>
  call("POST", `/api/invoices/${invoiceId}/payments`, { token: tenant.operator_token, body });
const schedule = async () => ok(a.get(`/api/invoices/${invoiceId}/retries`));

interface Row {
  id: string;
  signal_id: string;
  channel_id: string;
  kind: string;
  status: string;
  attempts: number;
}
const deliveries = async () =>
  (
    await env.DB.prepare(
      `SELECT id, signal_id, channel_id, kind, status, attempts FROM deliveries
       WHERE tenant_id = ? AND kind IN ('payment_retry', 'payment_method') ORDER BY id`,
    )
      .bind(tenant.tenant_id)
      .all<Row>()
  ).results;

/** Waits until the real deliveries queue has sent every payment delivery. */
async function delivered(count: number) {
  let rows = await deliveries();
  for (
    let i = 0;
    i < 100 && !(rows.length === count && rows.every((r) => r.status !== "pending"));
    i++
  ) {
    await new Promise((r) => setTimeout(r, 100));
    rows = await deliveries();
  }
  expect(rows).toHaveLength(count);
  return rows;
}

/** A failure time whose first retry is due by now and whose second is not yet: the failure
 * was a few days ago, the clock is past its first retry only. */
function failureWithFirstRetryDue(policy?: Partial<RetryPolicy>): {
  at: number;
  attempts: number[];
} {
  for (let at = NOW - DAY; at > NOW - 10 * DAY; at -= HOUR) {
    const { attempts } = retryPlan({ failedAt: at, declineCode: "insufficient_funds", policy });
    const [first = Infinity, second = -Infinity] = attempts;
    if (first <= NOW - 60_000 && second > NOW + 30 * 60_000) return { at, attempts };
  }
  throw new Error("no failure time found");
}

const weekday = (iso: string) => new Date(iso).getUTCDay();

/** What the webhook channel got from Adaptive Retry: the same channel also gets the ladder's
 * alerts (PastDueDetector's signals about this unpaid invoice), which are not the point here. */
const paymentHooks = async () =>
  (await hook.log()).filter((r) => /^\{"type":"payment\./.test(r.body));

describe("a soft decline", () => {
  it("schedules up to 8 retries in 28 days on business days, sends each due one once, signed, and continues the schedule when that retry fails too", async () => {
    const failure = failureWithFirstRetryDue();
    const res = await pay({
      status: "failed",
      decline_code: "insufficient_funds",
      reason: "Your card has insufficient funds.",
      at: isoOf(failure.at),
      reference: "pi_fail_1",
    });
    expect(res.status).toBe(201);
    const planned = res.body.retries;
    expect(planned).toMatchObject({
      invoice: invoiceId,
      decline: "soft",
      decline_code: "insufficient_funds",
      action: "retry",
      planned_by: res.body.payment.id,
    });
    // What a customer would see: up to 8 tries, all within 28 days, a day apart at least, never
    // on a Saturday or Sunday (the tenant's zone is UTC), at 10:00 without a payment history.
    const due = planned.attempts.map((r: { due_at: string }) => r.due_at);
    expect(due.length).toBeGreaterThanOrEqual(6);
    expect(due.length).toBeLessThanOrEqual(8);
    expect(planned.planned_attempts).toBe(due.length);
    expect(planned.remaining_attempts).toBe(due.length);
    expect(due).toEqual(failure.attempts.map(isoOf));
    for (const [i, d] of due.entries()) {
      const t = Date.parse(d);
      expect(t).toBeGreaterThan(failure.at);
      expect(t).toBeLessThanOrEqual(failure.at + 28 * DAY);
      expect([1, 2, 3, 4, 5]).toContain(weekday(d));
      expect(new Date(t).getUTCHours()).toBe(10);
      if (i > 0) expect(t - Date.parse(due[i - 1])).toBeGreaterThanOrEqual(DAY);
    }
    expect(planned.next_retry_at).toBe(due[0]);
    expect(planned.attempts.map((r: { attempt: number }) => r.attempt)).toEqual(
      due.map((_: string, i: number) => i + 1),
    );
    expect(await schedule()).toEqual(planned);

    // The periodic job, with the clock past the first retry only.
    await runTenantJobs(env, tenant.tenant_id, Date.now());
    const rows = await delivered(2);
    const firstId = planned.attempts[0].id;
    expect(rows.map((r) => [r.signal_id, r.channel_id, r.status])).toEqual(
      expect.arrayContaining([
        [firstId, `bill-to:${BILLING}`, "delivered"],
        [firstId, expect.stringMatching(/^ch_/), "delivered"],
      ]),
    );
    await new Promise((r) => setTimeout(r, 200));
    const log = await paymentHooks();
    expect(log).toHaveLength(1);
    const [request] = log;
    if (!request) throw new Error("no webhook");
    expect(await verifyStandardWebhook(secret, request.headers, request.body)).toBe(
      "standardwebhooks",
    );
    const body = JSON.parse(request.body);
    expect(body).toMatchObject({
      type: "payment.retry_due",
      data: {
        id: firstId,
        invoice: invoiceId,
        customer: "acme",
        amount_due: "50.00",
        currency: "USD",
        attempt: 1,
        planned_attempts: due.length,
        decline: "soft",
        decline_code: "insufficient_funds",
        due_at: due[0],
      },
    });
    expect(request.headers["webhook-id"]).toBe(
      rows.find((r) => r.channel_id.startsWith("ch_"))?.id,
    );

    // A replayed periodic run (or the clock's own alarm) sends nothing more.
    await runTenantJobs(env, tenant.tenant_id, Date.now());
    await new Promise((r) => setTimeout(r, 300));
    expect(await paymentHooks()).toHaveLength(1);
    expect(await deliveries()).toHaveLength(2);
    const after = await schedule();
    expect(after.attempts[0]).toMatchObject({ status: "sent" });
    expect(after.remaining_attempts).toBe(due.length - 1);
    expect(after.next_retry_at).toBe(due[1]);

    // The provider retried as asked and it failed again: the same schedule goes on.
    const again = await pay({
      status: "failed",
      decline_code: "insufficient_funds",
      at: isoOf(Date.parse(due[0]) + 5 * 60_000),
      reference: "pi_fail_2",
    });
    expect(again.status).toBe(201);
    expect(again.body.retries).toMatchObject({
      planned_by: planned.planned_by,
      remaining_attempts: due.length - 1,
      next_retry_at: due[1],
    });
  });

  it("is re-planned from a new failure's own time when no retry of it was sent", async () => {
    const first = await pay({
      status: "failed",
      decline_code: "card_declined",
      at: isoOf(NOW - 2 * HOUR),
      reference: "pi_a",
    });
    const second = await pay({
      status: "failed",
      decline_code: "processing_error",
      at: isoOf(NOW - HOUR),
      reference: "pi_b",
    });
    expect(second.body.retries.planned_by).toBe(second.body.payment.id);
    expect(second.body.retries.planned_by).not.toBe(first.body.payment.id);
    const { results } = await env.DB.prepare(
      "SELECT payment_id, status, cancel_reason FROM payment_retries WHERE tenant_id = ? AND invoice_id = ?",
    )
      .bind(tenant.tenant_id, invoiceId)
      .all<{ payment_id: string; status: string; cancel_reason: string | null }>();
    const old = results.filter((r) => r.payment_id === first.body.payment.id);
    expect(old.length).toBeGreaterThan(0);
    expect(old.every((r) => r.status === "cancelled" && r.cancel_reason === "replanned")).toBe(
      true,
    );
  });
});

/** The bindings with the deliveries queue and the send_email binding captured: what the
 * periodic job or a request enqueues is kept for runConsumer, and every e-mail's raw MIME is
 * kept (then handed to the local binding, which refuses a malformed message). */
function capturingEnv() {
  const queued: string[] = [];
  const mails: { to: string; raw: string }[] = [];
  const captured = {
    ...env,
    DELIVERIES_QUEUE: {
      send: async (body: { delivery_id: string }) => {
        queued.push(body.delivery_id);
      },
      sendBatch: async (batch: { body: { delivery_id: string } }[]) => {
        for (const m of batch) queued.push(m.body.delivery_id);
      },
    },
    EMAIL: {
      send: (message: EmailMessage) => {
        // The local binding keeps the MIME under this key (miniflare's EmailMessage).
        const raw = (message as unknown as Record<string, unknown>)["EmailMessage::raw"];
        if (typeof raw !== "string") throw new Error("the e-mail's raw MIME is not readable");
        mails.push({ to: message.to, raw });
        return env.EMAIL.send(message);
      },
    },
  } as unknown as Env;
  return { env: captured, queued, mails };
}

describe("the dunning e-mail, as the customer reads it", () => {
  it("names the invoice and the amount owed, dates the retry in the tenant's zone, and after a hard decline asks for a new method without promising a retry", async () => {
    // Auckland's 10:00 is the evening before in UTC: a date read in the wrong zone shows.
    const ZONE = "Pacific/Auckland";
    const policy = await call("PUT", "/api/payments/retry-policy", {
      token: tenant.operator_token,
      body: { time_zone: ZONE },
    });
    expect(policy.status).toBe(200);
    const failure = failureWithFirstRetryDue({ time_zone: ZONE });
    const planned = await pay({
      status: "failed",
      decline_code: "insufficient_funds",
      at: isoOf(failure.at),
      reference: "pi_mail_soft",
    });
    expect(planned.status).toBe(201);
    const [firstDue = 0] = failure.attempts;
    expect(planned.body.retries.next_retry_at).toBe(isoOf(firstDue));

    const cap = capturingEnv();
    await runTenantJobs(cap.env, tenant.tenant_id, Date.now());
    expect(cap.queued.length).toBeGreaterThan(0);
    await runConsumer(tenant.tenant_id, cap.queued.splice(0), { env: cap.env });
    expect(cap.mails.map((m) => m.to)).toEqual([BILLING]);
    const retryMail = await PostalMime.parse(cap.mails[0]?.raw ?? "");
    expect(retryMail.to?.map((t) => t.address)).toEqual([BILLING]);
    expect(retryMail.subject).toContain(invoiceId);
    const text = retryMail.text ?? "";
    expect(text).toContain(`USD 50.00 for invoice ${invoiceId}`);
    const day = (zone: string) =>
      new Date(firstDue).toLocaleDateString("en-GB", {
        weekday: "long",
        day: "numeric",
        month: "long",
        year: "numeric",
        timeZone: zone,
      });
    expect(day(ZONE)).not.toBe(day("UTC"));
    expect(text).toContain(`We will try it again on ${day(ZONE)}`);
    expect(text).not.toContain(day("UTC"));
    expect(retryMail.html).toContain(day(ZONE));

    // A hard decline, reported through the worker with the same captured bindings.
    const ctx = createExecutionContext();
    const res = await worker.fetch(
      new Request(`http://aforo.test/api/invoices/${invoiceId}/payments`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${tenant.operator_token}`,
          "content-type": "application/json",
        },
        body: JSON.stringify({
          status: "failed",
          decline_code: "expired_card",
          at: isoOf(Date.now() - 60_000),
          reference: "pi_mail_hard",
        }),
      }),
      cap.env,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(res.status).toBe(201);
    expect(cap.queued).toHaveLength(1);
    await runConsumer(tenant.tenant_id, cap.queued.splice(0), { env: cap.env });
    expect(cap.mails).toHaveLength(2);
    const methodMail = await PostalMime.parse(cap.mails[1]?.raw ?? "");
    expect(methodMail.to?.map((t) => t.address)).toEqual([BILLING]);
    expect(methodMail.subject).toContain(invoiceId);
    expect(methodMail.subject).toMatch(/update your payment method/i);
    const hard = methodMail.text ?? "";
    expect(hard).toContain(`USD 50.00 for invoice ${invoiceId}`);
    expect(hard).toMatch(/please update your payment method/i);
    expect(hard).toContain("will not try the same payment method again");
    expect(hard).not.toMatch(/we will try|again on|attempt \d/i);
    for (const due of failure.attempts) {
      expect(hard).not.toContain(new Date(due).toLocaleDateString("en-GB", { timeZone: ZONE }));
    }
  });
});

describe("a hard decline", () => {
  it("schedules no retry and sends one 'update your payment method' e-mail", async () => {
    const body = {
      status: "failed",
      decline_code: "stolen_card",
      at: isoOf(NOW - HOUR),
      reference: "pi_stolen",
    };
    const res = await pay(body);
    expect(res.status).toBe(201);
    expect(res.body.retries).toMatchObject({
      decline: "hard",
      decline_code: "stolen_card",
      action: "ask_for_new_method",
      next_retry_at: null,
      remaining_attempts: 0,
      attempts: [],
    });
    // The same report again is a replay: no second e-mail.
    expect((await pay(body)).status).toBe(200);
    const rows = await delivered(1);
    expect(rows[0]).toMatchObject({
      kind: "payment_method",
      signal_id: res.body.payment.id,
      channel_id: `bill-to:${BILLING}`,
      status: "delivered",
      attempts: 1,
    });
    const retries = await env.DB.prepare(
      "SELECT COUNT(*) AS n FROM payment_retries WHERE tenant_id = ?",
    )
      .bind(tenant.tenant_id)
      .first<{ n: number }>();
    expect(retries?.n).toBe(0);
    // Not even a month later does the periodic job send a retry.
    await runTenantJobs(env, tenant.tenant_id, NOW + 30 * DAY);
    expect(await deliveries()).toHaveLength(1);
    expect(await paymentHooks()).toHaveLength(0);
  });
});

describe("a success mid-schedule", () => {
  it("a partial payment leaves the retries asking for the rest; the one that settles cancels them", async () => {
    const failure = failureWithFirstRetryDue();
    const planned = (
      await pay({
        status: "failed",
        decline_code: "insufficient_funds",
        at: isoOf(failure.at),
        reference: "pi_soft",
      })
    ).body.retries;
    await runTenantJobs(env, tenant.tenant_id, Date.now());
    await delivered(2);
    // Part of the money: the rest is still owed, so the retries go on asking for it.
    const part = await pay({
      status: "succeeded",
      amount: "1.00",
      at: isoOf(Date.now()),
      reference: "pi_part",
    });
    expect(part.body.invoice.status).toBe("open");
    expect(part.body.retries).toMatchObject({
      action: "retry",
      remaining_attempts: planned.attempts.length - 1,
    });
    const paid = await pay({ status: "succeeded", at: isoOf(Date.now()), reference: "pi_ok" });
    expect(paid.status).toBe(201);
    expect(paid.body.invoice.status).toBe("paid");
    expect(paid.body.retries).toMatchObject({
      action: null,
      remaining_attempts: 0,
      next_retry_at: null,
      planned_by: planned.planned_by,
    });
    expect(
      paid.body.retries.attempts.map((r: { status: string; cancel_reason: string | null }) => [
        r.status,
        r.cancel_reason,
      ]),
    ).toEqual([["sent", null], ...planned.attempts.slice(1).map(() => ["cancelled", "paid"])]);
    // Past the whole window: nothing more goes out.
    await runTenantJobs(env, tenant.tenant_id, failure.at + 40 * DAY);
    await new Promise((r) => setTimeout(r, 300));
    expect(await deliveries()).toHaveLength(2);
    expect(await paymentHooks()).toHaveLength(1);
  });
});

describe("the last retry failing too", () => {
  it("asks the customer for a new payment method, once", async () => {
    const created = await call("POST", "/admin/tenants", {
      token: ADMIN_TOKEN,
      body: { name: "One retry", settings: { retry: { max_attempts: 1, window_days: 28 } } },
    });
    tenant = created.body;
    a = api(tenant);
    await clockSettled(tenant);
    await product(tenant);
    await plan(tenant, "starter", [{ type: "flat", amount: "50" }]);
    await customer(tenant, "acme");
    await call("PATCH", "/api/customers/acme", {
      token: tenant.operator_token,
      body: { email: BILLING },
    });
    await subscribe(tenant, "acme", "starter", monthStart(NOW, -3));
    invoiceId = (await ok(a.post("/api/invoices/run", { as_of: isoOf(monthStart(NOW, -2)) })))
      .invoice_ids[0];
    const failedAt = NOW - 6 * DAY;
    const first = await pay({
      status: "failed",
      decline_code: "insufficient_funds",
      at: isoOf(failedAt),
      reference: "pi_first",
    });
    expect(first.body.retries.planned_attempts).toBe(1);
    await runTenantJobs(env, tenant.tenant_id, NOW);
    const sent = await delivered(1);
    expect(sent.map((r) => r.kind)).toEqual(["payment_retry"]);
    // The provider tried as asked (an hour after the retry was due) and failed again: the only
    // retry is spent.
    const retriedAt = Date.parse(first.body.retries.attempts[0].due_at) + HOUR;
    const again = await pay({
      status: "failed",
      decline_code: "insufficient_funds",
      at: isoOf(retriedAt),
      reference: "pi_again",
    });
    expect(again.status).toBe(201);
    expect(again.body.retries).toMatchObject({ remaining_attempts: 0, next_retry_at: null });
    const rows = await delivered(2);
    expect(rows.map((r) => r.kind).sort()).toEqual(["payment_method", "payment_retry"]);
    // A replayed report asks no second time.
    await pay({
      status: "failed",
      decline_code: "insufficient_funds",
      at: isoOf(retriedAt),
      reference: "pi_again",
    });
    expect(await deliveries()).toHaveLength(2);
  });
});

describe("the tenant's retry policy", () => {
  it("plans at most max_attempts within window_days, on weekdays and at 10:00 in its time zone", async () => {
    const created = await call("POST", "/admin/tenants", {
      token: ADMIN_TOKEN,
      body: {
        name: "Zoned",
        settings: { retry: { max_attempts: 4, window_days: 14, time_zone: "America/New_York" } },
      },
    });
    expect(created.status).toBe(201);
    tenant = created.body;
    a = api(tenant);
    await clockSettled(tenant);
    await product(tenant);
    await plan(tenant, "starter", [{ type: "flat", amount: "50" }]);
    await customer(tenant, "acme");
    await subscribe(tenant, "acme", "starter", monthStart(NOW, -3));
    invoiceId = (await ok(a.post("/api/invoices/run", { as_of: isoOf(monthStart(NOW, -2)) })))
      .invoice_ids[0];
    const failedAt = NOW - HOUR;
    const res = await pay({
      status: "failed",
      decline_code: "insufficient_funds",
      at: isoOf(failedAt),
      reference: "pi_zoned",
    });
    expect(res.status).toBe(201);
    const due: number[] = res.body.retries.attempts.map((r: { due_at: string }) =>
      Date.parse(r.due_at),
    );
    expect(due.length).toBeGreaterThanOrEqual(3);
    expect(due.length).toBeLessThanOrEqual(4);
    const local = new Intl.DateTimeFormat("en-US", {
      timeZone: "America/New_York",
      weekday: "short",
      hour: "numeric",
      hourCycle: "h23",
    });
    for (const t of due) {
      expect(t).toBeLessThanOrEqual(failedAt + 14 * DAY);
      const parts = Object.fromEntries(local.formatToParts(t).map((p) => [p.type, p.value]));
      expect(parts.hour).toBe("10");
      expect(["Mon", "Tue", "Wed", "Thu", "Fri"]).toContain(parts.weekday);
    }
    // A zone that does not exist is refused when the tenant is created.
    const bad = await call("POST", "/admin/tenants", {
      token: ADMIN_TOKEN,
      body: { name: "Nowhere", settings: { retry: { time_zone: "Mars/Olympus_Mons" } } },
    });
    expect(bad.status).toBe(400);
  });
});

describe("through the Stripe webhook", () => {
  it("plans the same retries for a signed invoice.payment_failed, and a hard one asks for a new method", async () => {
    const SECRET = "whsec_test_0123456789abcdefghijklmnop";
    expect((await a.put("/api/payments/stripe", { signing_secret: SECRET })).status).toBe(200);
    const nowS = Math.floor(Date.now() / 1000);
    const event = (decline_code: string, attempt_count: number) => ({
      id: `evt_${Math.random().toString(36).slice(2)}`,
      object: "event",
      created: nowS - 30,
      type: "invoice.payment_failed",
      data: {
        object: {
          id: "in_retry",
          object: "invoice",
          amount_due: 5000,
          amount_paid: 0,
          amount_remaining: 5000,
          attempt_count,
          currency: "usd",
          metadata: { aforo_invoice_id: invoiceId },
          status: "open",
          last_finalization_error: { type: "card_error", code: "card_declined", decline_code },
        },
      },
    });
    const send = async (e: Record<string, unknown>) => {
      const raw = JSON.stringify(e);
      return call("POST", `/v1/payments/stripe/${tenant.tenant_id}`, {
        rawBody: raw,
        headers: {
          "content-type": "application/json",
          "stripe-signature": await signStripePayload(SECRET, nowS, raw),
        },
      });
    };
    const soft = await send(event("insufficient_funds", 1));
    expect(soft.body.outcome).toBe("recorded");
    const planned = await schedule();
    expect(planned).toMatchObject({
      decline: "soft",
      action: "retry",
      planned_by: soft.body.payment.id,
    });
    expect(planned.remaining_attempts).toBeGreaterThanOrEqual(6);

    const hard = await send(event("expired_card", 2));
    expect(hard.body.outcome).toBe("recorded");
    const after = await schedule();
    expect(after).toMatchObject({
      decline: "hard",
      action: "ask_for_new_method",
      remaining_attempts: 0,
      next_retry_at: null,
    });
    expect(
      after.attempts.every((r: { cancel_reason: string }) => r.cancel_reason === "hard_decline"),
    ).toBe(true);
    const rows = await delivered(1);
    expect(rows[0]).toMatchObject({ kind: "payment_method", signal_id: hard.body.payment.id });
  });
});
