import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  minorToNanos,
  readStripeEvent,
  signStripePayload,
  verifyStripeSignature,
} from "../../domain/stripe";

// The Stripe-Signature check and the reading of Stripe events (domain/stripe.ts).

const SECRET = "whsec_test_secret_value_1234567890";
const BODY = '{"id":"evt_1","type":"invoice.payment_succeeded"}';
const T = 1_764_547_200;
const NOW = T * 1000 + 10_000;

/** What Stripe's own libraries compute: HMAC-SHA256 of `t.body`, hex. */
const reference = (secret: string, t: number, body: string) =>
  createHmac("sha256", secret).update(`${t}.${body}`).digest("hex");

describe("verifyStripeSignature", () => {
  it("signs as Stripe does and accepts its own signature", async () => {
    const header = await signStripePayload(SECRET, T, BODY);
    expect(header).toBe(`t=${T},v1=${reference(SECRET, T, BODY)}`);
    expect(await verifyStripeSignature(header, BODY, SECRET, NOW)).toEqual({
      ok: true,
      timestamp: T,
    });
  });

  it("accepts any one of several v1 signatures (a secret being rolled) and ignores v0", async () => {
    const header = `t=${T},v1=${reference("whsec_old", T, BODY)},v1=${reference(SECRET, T, BODY)},v0=abc`;
    expect((await verifyStripeSignature(header, BODY, SECRET, NOW)).ok).toBe(true);
  });

  it("refuses another secret, another body, a stale or future timestamp and a bad header", async () => {
    const good = `t=${T},v1=${reference(SECRET, T, BODY)}`;
    const reasons = await Promise.all([
      verifyStripeSignature(good, BODY, "whsec_other", NOW),
      verifyStripeSignature(good, `${BODY} `, SECRET, NOW),
      verifyStripeSignature(good, BODY, SECRET, (T + 301) * 1000),
      verifyStripeSignature(good, BODY, SECRET, (T - 301) * 1000),
      verifyStripeSignature(undefined, BODY, SECRET, NOW),
      verifyStripeSignature(`t=${T}`, BODY, SECRET, NOW),
      verifyStripeSignature(`v1=${reference(SECRET, T, BODY)}`, BODY, SECRET, NOW),
    ]);
    expect(reasons.map((r) => (r.ok ? "ok" : r.reason))).toEqual([
      "mismatch",
      "mismatch",
      "stale",
      "stale",
      "missing",
      "malformed",
      "malformed",
    ]);
    // At the edge of the tolerance it is still accepted.
    expect((await verifyStripeSignature(good, BODY, SECRET, (T + 300) * 1000)).ok).toBe(true);
  });
});

describe("minorToNanos", () => {
  it("reads each currency's smallest unit", () => {
    expect(minorToNanos(5000, "usd")).toBe(50_000_000_000n);
    expect(minorToNanos(5000, "JPY")).toBe(5_000_000_000_000n);
    expect(minorToNanos(5000, "kwd")).toBe(5_000_000_000n);
    expect(minorToNanos(50.5, "usd")).toBeNull();
    expect(minorToNanos("5000", "usd")).toBeNull();
  });
});

describe("readStripeEvent", () => {
  const invoice = {
    id: "in_1",
    object: "invoice",
    amount_due: 5000,
    amount_paid: 5000,
    attempt_count: 2,
    currency: "usd",
    metadata: { aforo_invoice_id: "inv-acme-1" },
    status_transitions: { paid_at: T - 60 },
    last_finalization_error: {
      code: "card_declined",
      decline_code: "insufficient_funds",
      message: "Your card has insufficient funds.",
    },
  };
  const event = (type: string, object: Record<string, unknown>) => ({
    id: "evt_1",
    type,
    created: T,
    data: { object },
  });

  it("reads a paid invoice as a succeeded payment at its paid_at", () => {
    expect(readStripeEvent(event("invoice.payment_succeeded", invoice))).toEqual({
      kind: "payment",
      payment: {
        status: "succeeded",
        reference: "stripe:in_1:invoice.payment_succeeded",
        aforo_invoice_id: "inv-acme-1",
        stripe_invoice: "in_1",
        provider_id: "in_1",
        currency: "USD",
        amount: 50_000_000_000n,
        reason: null,
        decline_code: null,
        at: (T - 60) * 1000,
      },
    });
  });

  it("reads a failed payment with its decline code, one attempt per Stripe retry", () => {
    const r = readStripeEvent(event("invoice.payment_failed", invoice));
    expect(r).toMatchObject({
      kind: "payment",
      payment: {
        status: "failed",
        reference: "stripe:in_1:invoice.payment_failed:2",
        decline_code: "insufficient_funds",
        reason: "Your card has insufficient funds.",
      },
    });
  });

  it("reads a refunded charge's cumulative refund and the invoice it belongs to", () => {
    const r = readStripeEvent(
      event("charge.refunded", {
        id: "ch_1",
        object: "charge",
        amount: 5000,
        amount_refunded: 1500,
        currency: "usd",
        invoice: "in_1",
        metadata: {},
      }),
    );
    expect(r).toMatchObject({
      kind: "payment",
      payment: {
        status: "refunded",
        reference: "stripe:ch_1:charge.refunded:1500",
        aforo_invoice_id: null,
        stripe_invoice: "in_1",
        amount: 15_000_000_000n,
      },
    });
  });

  it("ignores other types and what is not an event", () => {
    expect(readStripeEvent(event("customer.created", { id: "cus_1" })).kind).toBe("ignored");
    expect(readStripeEvent({ hello: "world" }).kind).toBe("ignored");
    expect(
      readStripeEvent(event("invoice.payment_succeeded", { ...invoice, amount_paid: "50" })).kind,
    ).toBe("ignored");
  });
});
