import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { signStripePayload } from "../../domain/stripe";
import { runTenantJobs } from "../../workers/periodic";
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

// Past-due on the ladder (issue 14 item 3): an unpaid invoice is a PastDueDetector case: L1
// (ALERT) at the first failed payment, L2 (THROTTLE) and L3 (BLOCK: suspend) by days past due,
// the last two queued until switched on; a payment that settles the invoice reverses what the
// case did and closes it.

let tenant: Tenant;
let a: ReturnType<typeof api>;
let invoiceId: string;
let steadyInvoiceId: string;
let dueAt: number;
const NOW = Date.now();
const op = () => ({ token: tenant.operator_token });

beforeEach(async () => {
  tenant = await createTenant();
  a = api(tenant);
  await clockSettled(tenant);
  await product(tenant);
  await plan(tenant, "starter", [{ type: "flat", amount: "50" }]);
  for (const id of ["acme", "steady"]) {
    await customer(tenant, id);
    await subscribe(tenant, id, "starter", monthStart(NOW, -3));
  }
  await ok(a.post("/api/invoices/run", { as_of: isoOf(monthStart(NOW, -2)) }));
  const invoices = await ok(a.get("/api/invoices?customer=acme"));
  invoiceId = invoices.data[0].id;
  dueAt = Date.parse(invoices.data[0].due_at);
  // steady pays its invoice: it must never appear on the ladder.
  const steady = await ok(a.get("/api/invoices?customer=steady"));
  steadyInvoiceId = steady.data[0].id;
  await ok(
    a.post(`/api/invoices/${steadyInvoiceId}/payments`, {
      status: "succeeded",
      at: isoOf(dueAt - DAY),
      reference: "ch_steady",
    }),
  );
});

const daysPastDue = () => Math.floor((NOW - dueAt) / DAY);
const setPolicy = (scope: string, id: string | undefined, policy: unknown) =>
  call("PUT", "/api/policies", { ...op(), body: { scope, id, policy } });
interface Case {
  id: string;
  customer: string;
  scope: string;
  level: string;
  status: string;
  resolution: { reason: string; note: string | null } | null;
}
const allPastDueCases = async (status = ""): Promise<Case[]> =>
  (await ok(a.get(`/api/cases?detector=PastDueDetector${status ? `&status=${status}` : ""}`))).data;
/** The cases of the invoice under test (the periodic job also bills later months, which fall
 * due unpaid and have cases of their own). */
const pastDueCases = async (status = "") =>
  (await allPastDueCases(status)).filter((c) => c.scope === `invoice ${invoiceId}`);
/** The one case of the invoice under test. */
const theCase = async (status = "") => {
  const cases = await pastDueCases(status);
  expect(cases).toHaveLength(1);
  return cases[0] as Case;
};
const caseDetail = async (id: string) => ok(a.get(`/api/cases/${id}`));
const gate = async (customer: string) =>
  (await call("POST", "/v1/gate", { token: tenant.ingest_key, body: { customer, units: 1 } })).body;
const fail = (reference: string, at = NOW - 2 * DAY) =>
  call("POST", `/api/invoices/${invoiceId}/payments`, {
    ...op(),
    body: { status: "failed", decline_code: "insufficient_funds", at: isoOf(at), reference },
  });
const subscriptionStatus = async (customerId: string) =>
  (await ok(a.get(`/api/subscriptions?customer=${customerId}`))).data[0].status;

describe("an unpaid invoice on the ladder", () => {
  it("opens one case at ALERT on the first failure and walks to THROTTLE and BLOCK by days past due, queued while those rungs are off", async () => {
    expect(daysPastDue()).toBeGreaterThan(20);
    // Thresholds beyond today's days past due: only the failure counts yet.
    expect(
      (
        await setPolicy("tenant", undefined, {
          detectors: { past_due: { throttle_after_days: 200, block_after_days: 300 } },
        })
      ).status,
    ).toBe(200);
    expect((await fail("pi_1")).status).toBe(201);
    let only = await theCase();
    expect(only).toMatchObject({
      customer: "acme",
      scope: `invoice ${invoiceId}`,
      level: "L1",
      status: "open",
    });
    // A second failure and the periodic job add nothing: L1 is reached once.
    expect((await fail("pi_2", NOW - DAY)).status).toBe(201);
    await runTenantJobs(env, tenant.tenant_id, Date.now());
    expect((await caseDetail(only.id)).signals ?? []).toHaveLength(1);

    const days = daysPastDue();
    expect(
      (
        await setPolicy("tenant", undefined, {
          detectors: { past_due: { throttle_after_days: days - 5, block_after_days: days } },
        })
      ).status,
    ).toBe(200);
    await runTenantJobs(env, tenant.tenant_id, Date.now());
    only = await theCase();
    expect(only.level).toBe("L3");
    const detail = await caseDetail(only.id);
    const steps = Object.fromEntries(
      detail.ladder.map((s: { key: string; rung: string; state: string }) => [
        s.key,
        [s.rung, s.state],
      ]),
    );
    expect(steps.L2).toEqual(["THROTTLE", "queued"]);
    expect(steps.L3).toEqual(["BLOCK", "queued"]);
    // Queued means nothing happened to the customer.
    expect((await gate("acme")).tier).toBe("normal");
    expect(await subscriptionStatus("acme")).toBe("past_due");
    // The control customer paid that month: no case for it.
    expect(
      (await allPastDueCases()).filter((c) => c.scope === `invoice ${steadyInvoiceId}`),
    ).toHaveLength(0);
  });

  it("with THROTTLE and BLOCK switched on for that customer only, suspends it; a payment in full reverses both and closes the case", async () => {
    const days = daysPastDue();
    await setPolicy("tenant", undefined, {
      detectors: { past_due: { throttle_after_days: days - 5, block_after_days: days } },
    });
    expect(
      (await setPolicy("customer", "acme", { auto_actions: { THROTTLE: true, BLOCK: true } }))
        .status,
    ).toBe(200);
    expect((await fail("pi_1")).status).toBe(201);
    const c = await theCase();
    expect(c.level).toBe("L3");
    const executed = (await caseDetail(c.id)).ladder.filter(
      (s: { state: string }) => s.state === "executed",
    );
    expect(executed.map((s: { rung: string }) => s.rung).sort()).toEqual(["BLOCK", "THROTTLE"]);
    expect((await gate("acme")).allow).toBe(false);
    expect((await gate("acme")).tier).toBe("blocked");
    expect(await subscriptionStatus("acme")).toBe("suspended");
    // Only acme: the other customer is untouched.
    expect((await gate("steady")).tier).toBe("normal");

    // Half first: still owed, still suspended.
    const half = await call("POST", `/api/invoices/${invoiceId}/payments`, {
      ...op(),
      body: { status: "succeeded", amount: "25.00", at: isoOf(NOW - 60_000), reference: "ch_half" },
    });
    expect(half.status).toBe(201);
    expect((await pastDueCases())[0]?.status).toBe("open");
    expect((await gate("acme")).tier).toBe("blocked");

    const rest = await call("POST", `/api/invoices/${invoiceId}/payments`, {
      ...op(),
      body: { status: "succeeded", at: isoOf(NOW), reference: "ch_rest" },
    });
    expect(rest.status).toBe(201);
    expect(await pastDueCases("open")).toHaveLength(0);
    const [closed] = await pastDueCases("resolved");
    expect(closed).toMatchObject({
      id: c.id,
      status: "resolved",
      resolution: { reason: "condition_cleared", note: `invoice ${invoiceId} paid` },
    });
    const after = await caseDetail(c.id);
    expect(
      after.ladder
        .filter((s: { rung: string }) => s.rung !== "ALERT")
        .map((s: { state: string }) => s.state),
    ).toEqual(["reversed", "reversed"]);
    expect((await gate("acme")).tier).toBe("normal");
    expect((await gate("acme")).allow).toBe(true);
    // The standing it had before the suspension: the next month's invoice is overdue too.
    expect(await subscriptionStatus("acme")).toBe("past_due");
    // The retries stopped with it.
    const retries = await ok(a.get(`/api/invoices/${invoiceId}/retries`));
    expect(
      (retries.attempts ?? []).filter((r: { status: string }) => r.status === "scheduled"),
    ).toHaveLength(0);
    // A later periodic run does not reopen anything.
    await runTenantJobs(env, tenant.tenant_id, Date.now());
    expect(await pastDueCases("open")).toHaveLength(0);
  });

  it("a past-due invoice with no payment reported reaches L1 from the periodic job, and voiding it closes the case", async () => {
    await runTenantJobs(env, tenant.tenant_id, Date.now());
    const c = await theCase("open");
    expect(c).toMatchObject({ customer: "acme", scope: `invoice ${invoiceId}` });
    // Long past due by now: the default policy's L2 and L3 are reached in the same run.
    const signals: { details: Record<string, unknown> }[] = (await caseDetail(c.id)).signals;
    expect(signals.map((s) => s.details.level).sort()).toEqual(["L1", "L2", "L3"]);
    expect(signals.find((s) => s.details.level === "L1")?.details).toMatchObject({
      cause: "past_due",
      currency: "USD",
      owed: "50.00",
      failed_attempts: 0,
    });
    expect(
      (
        await call("POST", `/api/invoices/${invoiceId}/void`, {
          ...op(),
          body: { reason: "goodwill" },
        })
      ).status,
    ).toBe(200);
    expect(await pastDueCases("open")).toHaveLength(0);
  });

  it("switching BLOCK on later does not suspend a customer whose case a payment already settled", async () => {
    const days = daysPastDue();
    await setPolicy("tenant", undefined, {
      detectors: { past_due: { throttle_after_days: days - 5, block_after_days: days } },
    });
    await fail("pi_1");
    await ok(
      a.post(`/api/invoices/${invoiceId}/payments`, {
        status: "succeeded",
        at: isoOf(NOW),
        reference: "ch_all",
      }),
    );
    const on = await setPolicy("tenant", undefined, {
      detectors: { past_due: { throttle_after_days: days - 5, block_after_days: days } },
      auto_actions: { BLOCK: true },
    });
    expect(on.status).toBe(200);
    expect(on.body.executed_queued).toBe(0);
    expect((await gate("acme")).tier).toBe("normal");
  });

  it("refuses a policy that suspends before it throttles", async () => {
    const res = await setPolicy("tenant", undefined, {
      detectors: { past_due: { throttle_after_days: 20, block_after_days: 10 } },
    });
    expectProblem(res, 400, "validation_failed");
    expect(JSON.stringify(res.body.errors)).toContain("policy.detectors.past_due.block_after_days");
  });

  it("moves on the ladder through the Stripe webhook too: a signed payment_failed opens the case, a payment_succeeded closes it and lifts the block", async () => {
    const days = daysPastDue();
    await setPolicy("tenant", undefined, {
      detectors: { past_due: { throttle_after_days: days - 5, block_after_days: days } },
    });
    await setPolicy("customer", "acme", { auto_actions: { BLOCK: true } });
    const SECRET = "whsec_test_0123456789abcdefghijklmnop";
    expect((await a.put("/api/payments/stripe", { signing_secret: SECRET })).status).toBe(200);
    const nowS = Math.floor(Date.now() / 1000);
    const stripeInvoice = (over: Record<string, unknown>) => ({
      id: "in_pastdue",
      object: "invoice",
      amount_due: 5000,
      amount_paid: 0,
      amount_remaining: 5000,
      attempt_count: 1,
      currency: "usd",
      metadata: { aforo_invoice_id: invoiceId },
      status: "open",
      ...over,
    });
    const send = async (type: string, object: Record<string, unknown>) => {
      const raw = JSON.stringify({
        id: `evt_${type}`,
        object: "event",
        created: nowS - 30,
        type,
        data: { object },
      });
      return call("POST", `/v1/payments/stripe/${tenant.tenant_id}`, {
        rawBody: raw,
        headers: {
          "content-type": "application/json",
          "stripe-signature": await signStripePayload(SECRET, nowS, raw),
        },
      });
    };
    const failed = await send(
      "invoice.payment_failed",
      stripeInvoice({
        last_finalization_error: {
          type: "card_error",
          code: "card_declined",
          decline_code: "insufficient_funds",
        },
      }),
    );
    expect(failed.body.outcome).toBe("recorded");
    const c = await theCase("open");
    expect(c.level).toBe("L3");
    expect((await gate("acme")).tier).toBe("blocked");
    const paid = await send(
      "invoice.payment_succeeded",
      stripeInvoice({
        amount_paid: 5000,
        amount_remaining: 0,
        status: "paid",
        charge: "ch_pastdue",
      }),
    );
    expect(paid.body.outcome).toBe("recorded");
    expect(await pastDueCases("open")).toHaveLength(0);
    expect((await gate("acme")).tier).toBe("normal");
  });
});
