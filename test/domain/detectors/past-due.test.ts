import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_PAST_DUE_POLICY,
  pastDueLevels,
  pastDueSignals,
  pastDueSpec,
  type UnpaidInvoice,
} from "../../../domain/detectors/past-due";
import { DEFAULT_POLICY, resolvePolicy, validatePolicyDocument } from "../../../domain/ladder";
import { DAY_MS } from "../../../domain/time";

// PastDueDetector's pure evaluation: which levels an unpaid invoice reached on the tenant clock.

const DUE = Date.UTC(2026, 10, 1);
const invoice = (over: Partial<UnpaidInvoice> = {}): UnpaidInvoice => ({
  id: "inv_1",
  customer: "acme",
  product: "chat-api",
  currency: "EUR",
  period: { start: Date.UTC(2026, 9, 1), end: DUE },
  due_at: DUE,
  owed: "1250.50",
  failed_attempts: 0,
  first_failure: null,
  last_decline_code: null,
  ...over,
});
const policy = { throttle_after_days: 14, block_after_days: 30 };

describe("pastDueLevels", () => {
  it("nothing before the due date without a failure; L1 at the due date; L2 and L3 on their days", () => {
    expect(pastDueLevels(invoice(), policy, DUE - 1)).toEqual([]);
    expect(pastDueLevels(invoice(), policy, DUE)).toEqual([{ level: "L1", at: DUE }]);
    expect(pastDueLevels(invoice(), policy, DUE + 14 * DAY_MS - 1).map((l) => l.level)).toEqual([
      "L1",
    ]);
    expect(pastDueLevels(invoice(), policy, DUE + 14 * DAY_MS)).toEqual([
      { level: "L1", at: DUE },
      { level: "L2", at: DUE + 14 * DAY_MS },
    ]);
    expect(pastDueLevels(invoice(), policy, DUE + 30 * DAY_MS).map((l) => l.level)).toEqual([
      "L1",
      "L2",
      "L3",
    ]);
  });

  it("a failure before the due date reaches L1 at once; the days still count from the due date", () => {
    const failed = invoice({
      first_failure: { at: DUE - 5 * DAY_MS, decline_code: "insufficient_funds" },
      failed_attempts: 1,
      last_decline_code: "insufficient_funds",
    });
    expect(pastDueLevels(failed, policy, DUE - 4 * DAY_MS)).toEqual([
      { level: "L1", at: DUE - 5 * DAY_MS },
    ]);
    const signal = pastDueSignals([failed], () => policy, DUE - 4 * DAY_MS)[0];
    if (!signal) throw new Error("no signal");
    expect(signal).toMatchObject({
      detector: "PastDueDetector",
      customer: "acme",
      idempotency_key: "PastDueDetector|acme|inv_1|L1",
      magnitude: 1250.5,
      details: { level: "L1", cause: "payment_failed", owed: "1250.50", currency: "EUR" },
    });
    expect(
      pastDueSpec.describe({ ...signal, product: null, metric: null, direction: null }),
    ).toEqual({
      title: "Payment failed: acme · invoice inv_1",
      magnitude: "1250.50 EUR owed; payment failed (insufficient_funds)",
    });
  });

  it("always: levels in order L1 ≤ L2 ≤ L3 in time, none in the future, L2/L3 only once due", () => {
    fc.assert(
      fc.property(
        fc.option(fc.integer({ min: -40, max: 40 }), { nil: null }),
        fc.option(fc.integer({ min: -40, max: 40 }), { nil: null }),
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: -60, max: 90 }),
        (dueDay, failDay, throttle, extra, nowDay) => {
          const inv = invoice({
            due_at: dueDay === null ? null : DUE + dueDay * DAY_MS,
            first_failure:
              failDay === null ? null : { at: DUE + failDay * DAY_MS, decline_code: null },
          });
          const now = DUE + nowDay * DAY_MS;
          const levels = pastDueLevels(
            inv,
            { throttle_after_days: throttle, block_after_days: throttle + extra },
            now,
          );
          expect(levels.map((l) => l.level)).toEqual(["L1", "L2", "L3"].slice(0, levels.length));
          for (const l of levels) expect(l.at).toBeLessThanOrEqual(now);
          for (let i = 1; i < levels.length; i++)
            expect(levels[i]?.at).toBeGreaterThanOrEqual(levels[i - 1]?.at ?? 0);
          if (levels.length > 1) expect(inv.due_at).not.toBeNull();
        },
      ),
    );
  });
});

describe("the past_due policy", () => {
  it("defaults to throttle after 14 days and suspend after 30, and refuses suspending first", () => {
    expect(DEFAULT_POLICY.detectors.past_due).toEqual(DEFAULT_PAST_DUE_POLICY);
    expect(DEFAULT_POLICY.ladder.past_due).toEqual({ L1: "ALERT", L2: "THROTTLE", L3: "BLOCK" });
    expect(DEFAULT_POLICY.auto_actions).toMatchObject({ THROTTLE: false, BLOCK: false });
    const bad = resolvePolicy([
      { detectors: { past_due: { throttle_after_days: 10, block_after_days: 10 } } },
    ]);
    expect(validatePolicyDocument(bad)).toEqual([
      expect.objectContaining({ path: "detectors.past_due.block_after_days" }),
    ]);
  });
});
