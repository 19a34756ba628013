import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatMoney, toNanos } from "../../domain/money";
import {
  amountDue,
  applyAll,
  decidePayment,
  type InvoiceBalance,
  type PaymentRequest,
  refundState,
  replayDifferences,
} from "../../domain/payments";

// What a payment attempt does to an invoice (domain/payments.ts): the rules the store applies in
// one guarded batch per request.

const NOW = Date.UTC(2026, 11, 1);
const ISSUED = Date.UTC(2026, 10, 1);

const open = (total: string, paid = "0"): InvoiceBalance => ({
  id: "inv_1",
  status: "open",
  total: toNanos(total),
  paid: toNanos(paid),
  refunded: 0n,
  issued_at: ISSUED,
});

const req = (over: Partial<PaymentRequest> = {}): PaymentRequest => ({
  invoice_id: "inv_1",
  status: "succeeded",
  amount: null,
  reason: null,
  decline_code: null,
  at: ISSUED + 1000,
  ...over,
});

const decide = (b: InvoiceBalance, r: PaymentRequest) => decidePayment(b, r, NOW, formatMoney);

describe("decidePayment", () => {
  it("defaults a payment to what is due and settles the invoice with it", () => {
    expect(decide(open("50", "20"), req())).toEqual({
      ok: true,
      amount: toNanos("30"),
      paid: toNanos("30"),
      refunded: 0n,
      settles: true,
    });
  });

  it("keeps a partial payment open and refuses more than is due, to the nano", () => {
    const part = decide(open("50"), req({ amount: toNanos("20") }));
    expect(part).toMatchObject({ ok: true, settles: false, paid: toNanos("20") });
    expect(decide(open("50", "20"), req({ amount: toNanos("30.000000001") }))).toMatchObject({
      ok: false,
      code: "unprocessable",
      detail: "amount 30.000000001 is more than the 30.00 due",
    });
    expect(decide(open("50"), req({ amount: 0n }))).toMatchObject({ code: "unprocessable" });
    expect(decide(open("50"), req({ amount: -1n }))).toMatchObject({ code: "unprocessable" });
  });

  it("takes payments on open invoices only, and failures on open or paid ones", () => {
    for (const status of ["draft", "void", "paid"] as const) {
      expect(decide({ ...open("50"), status }, req())).toMatchObject({ code: "conflict" });
    }
    const failed = req({ status: "failed", decline_code: "do_not_honor" });
    expect(decide(open("50"), failed)).toMatchObject({ ok: true, paid: 0n, refunded: 0n });
    expect(decide({ ...open("50", "50"), status: "paid" }, failed)).toMatchObject({ ok: true });
    expect(decide({ ...open("50"), status: "void" }, failed)).toMatchObject({ code: "conflict" });
  });

  it("refunds a paid invoice up to what was paid and not yet refunded", () => {
    const paid: InvoiceBalance = { ...open("50", "50"), status: "paid", refunded: toNanos("10") };
    expect(decide(paid, req({ status: "refunded" }))).toMatchObject({
      ok: true,
      refunded: toNanos("40"),
      paid: 0n,
    });
    expect(decide(paid, req({ status: "refunded", amount: toNanos("40.01") }))).toMatchObject({
      code: "unprocessable",
    });
    expect(decide(open("50", "20"), req({ status: "refunded" }))).toMatchObject({
      code: "conflict",
    });
    expect(decide({ ...paid, refunded: toNanos("50") }, req({ status: "refunded" }))).toMatchObject(
      { code: "unprocessable" },
    );
  });

  it("refuses an attempt in the future or before the invoice was issued", () => {
    expect(decide(open("50"), req({ at: NOW + 10 * 60_000 }))).toMatchObject({
      code: "validation_failed",
      errors: [{ path: "at" }],
    });
    expect(decide(open("50"), req({ at: ISSUED - 1 }))).toMatchObject({
      code: "validation_failed",
    });
  });
});

describe("replayDifferences", () => {
  const recorded = { ...req({ amount: toNanos("20") }), requested_amount: toNanos("20") };
  it("finds none for the same request, and names each field that differs", () => {
    expect(replayDifferences(recorded, req({ amount: toNanos("20.000") }))).toEqual([]);
    expect(
      replayDifferences(recorded, req({ amount: null, status: "failed", invoice_id: "inv_2" })),
    ).toEqual(["invoice", "status", "amount"]);
  });
});

// ---------------------------------------------------------------------------------------------
// Properties: whatever a provider sends, in whatever order.

/** Cents, as the provider would send them. */
const cents = (max: number) => fc.integer({ min: 1, max }).map((c) => BigInt(c) * 10_000_000n);

const attempt = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      status: fc.constant("succeeded" as const),
      amount: fc.option(cents(8_000), { nil: null }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      status: fc.constant("refunded" as const),
      amount: fc.option(cents(8_000), { nil: null }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      status: fc.constant("failed" as const),
      amount: fc.option(cents(8_000), { nil: null }),
    }),
  },
);

describe("properties", () => {
  it("payments never add up past the total, refunds never past what was paid", () => {
    fc.assert(
      fc.property(cents(10_000), fc.array(attempt, { maxLength: 30 }), (total, list) => {
        const start: InvoiceBalance = { ...open("0"), total };
        const { balance } = applyAll(
          start,
          list.map((x) => req(x)),
          NOW,
        );
        expect(balance.paid <= balance.total).toBe(true);
        expect(balance.refunded <= balance.paid).toBe(true);
        expect(balance.paid >= 0n && balance.refunded >= 0n).toBe(true);
        // Paid exactly when nothing is due.
        expect(balance.status === "paid").toBe(balance.paid === balance.total);
        expect(amountDue(balance)).toBe(
          balance.status === "open" ? balance.total - balance.paid : 0n,
        );
        if (balance.refunded > 0n) expect(balance.status).toBe("paid");
      }),
    );
  });

  it("the order of partial payments does not change where the invoice ends", () => {
    fc.assert(
      fc.property(
        fc.array(cents(2_000), { minLength: 1, maxLength: 12 }),
        fc.nat(200),
        (parts, extraCents) => {
          const sum = parts.reduce((s, p) => s + p, 0n);
          // A total the partials fit in, so none is refused whatever the order.
          const total = sum + BigInt(extraCents) * 10_000_000n;
          const start: InvoiceBalance = { ...open("0"), total };
          const forward = applyAll(
            start,
            parts.map((amount) => req({ amount })),
            NOW,
          );
          const backward = applyAll(
            start,
            [...parts].reverse().map((amount) => req({ amount })),
            NOW,
          );
          expect(forward.refused).toEqual([]);
          expect(forward.balance).toEqual(backward.balance);
          expect(forward.balance.paid).toBe(sum);
          expect(forward.balance.status).toBe(extraCents === 0 ? "paid" : "open");
        },
      ),
    );
  });

  it("a failed attempt changes no money in any state", () => {
    fc.assert(
      fc.property(cents(10_000), fc.array(attempt, { maxLength: 10 }), (total, list) => {
        const { balance } = applyAll(
          { ...open("0"), total },
          list.map((x) => req(x)),
          NOW,
        );
        const after = applyAll(balance, [req({ status: "failed" })], NOW).balance;
        expect(after).toEqual(balance);
      }),
    );
  });
});

describe("refundState", () => {
  it("reads none, partial and full", () => {
    expect(refundState({ paid: 5n, refunded: 0n })).toBe("none");
    expect(refundState({ paid: 5n, refunded: 2n })).toBe("partial");
    expect(refundState({ paid: 5n, refunded: 5n })).toBe("full");
  });
});
