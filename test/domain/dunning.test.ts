import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  classifyDecline,
  DEFAULT_RETRY_POLICY,
  localInstant,
  localParts,
  retryPlan,
} from "../../domain/dunning";
import { DAY_MS } from "../../domain/time";

// Adaptive Retry's schedule (issue 14): soft declines retried within the window at the
// customer's hour, pulled onto paydays, never on weekends; hard declines not retried.

const ZONES = ["UTC", "Europe/Madrid", "America/New_York", "Asia/Kolkata", "Pacific/Auckland"];
const iso = (t: number) => new Date(t).toISOString();

describe("classifyDecline", () => {
  it("knows the codes a retry cannot fix, and calls the rest soft", () => {
    for (const code of [
      "stolen_card",
      "lost_card",
      "fraudulent",
      "expired_card",
      "ACCOUNT_CLOSED",
    ]) {
      expect(classifyDecline(code)).toBe("hard");
    }
    for (const code of [
      "insufficient_funds",
      "generic_decline",
      "try_again_later",
      "mystery",
      null,
    ]) {
      expect(classifyDecline(code)).toBe("soft");
    }
  });
});

describe("local time", () => {
  it("round-trips a local date and hour in zones with and without daylight saving", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...ZONES),
        fc.integer({ min: Date.UTC(2024, 0, 1), max: Date.UTC(2030, 0, 1) }),
        fc.integer({ min: 0, max: 23 }),
        (zone, t, hour) => {
          const p = localParts(t, zone);
          const at = localInstant(p, hour, zone);
          const back = localParts(at, zone);
          expect([back.year, back.month, back.day]).toEqual([p.year, p.month, p.day]);
          // The hour exists except in a spring-forward gap, where the next one is used.
          expect([hour, (hour + 1) % 24]).toContain(back.hour);
          // On the local hour, also in zones whose offset has minutes (Kolkata is UTC+5:30).
          expect(back.minute).toBe(0);
        },
      ),
    );
  });
});

describe("retryPlan", () => {
  it("does not retry a hard decline: it asks for a new payment method", () => {
    const plan = retryPlan({ failedAt: Date.UTC(2026, 2, 3, 9), declineCode: "stolen_card" });
    expect(plan).toMatchObject({ decline: "hard", action: "ask_for_new_method", attempts: [] });
  });

  it("retries a soft decline 8 times in 28 days at 10:00, on paydays when one is near, never on a weekend", () => {
    // Tuesday 3 March 2026, 09:00 UTC.
    const failedAt = Date.UTC(2026, 2, 3, 9);
    const plan = retryPlan({ failedAt, declineCode: "insufficient_funds" });
    expect(plan.decline).toBe("soft");
    expect(plan.hour).toEqual({ value: 10, from: "default" });
    expect(plan.attempts.map(iso)).toEqual([
      "2026-03-04T10:00:00.000Z", // +1 d
      "2026-03-06T10:00:00.000Z", // +3 d
      "2026-03-09T10:00:00.000Z", // +5 d is Sunday the 8th → Monday
      "2026-03-11T10:00:00.000Z", // +8 d
      "2026-03-16T10:00:00.000Z", // +12 d (the 15th) pulled to payday, a Sunday → Monday
      "2026-03-19T10:00:00.000Z", // +16 d
      "2026-03-24T10:00:00.000Z", // +21 d
      "2026-03-30T10:00:00.000Z", // +27 d
    ]);
  });

  it("runs at the hour the customer's payments used to succeed, and on their own payday", () => {
    const madrid = "Europe/Madrid";
    // Three earlier payments, each on the 5th at 18:xx Madrid time.
    const past = [0, 1, 2].map(
      (m) => localInstant({ year: 2025, month: 10 + m, day: 5 }, 18, madrid) + 1_800_000,
    );
    const failedAt = localInstant({ year: 2026, month: 2, day: 2 }, 9, madrid);
    const plan = retryPlan({
      failedAt,
      declineCode: "insufficient_funds",
      pastSuccesses: past,
      policy: { time_zone: madrid },
    });
    expect(plan.hour).toEqual({ value: 18, from: "history" });
    expect(plan.paydays).toEqual([1, 5, 15]);
    const local = plan.attempts.map((t) => localParts(t, madrid));
    expect(local.every((p) => p.hour === 18)).toBe(true);
    // The +3 d retry (the 5th) is on the customer's payday.
    expect(local.some((p) => p.month === 2 && p.day === 5)).toBe(true);
  });

  it("always: in order, a day apart, inside the window, never on a local weekend, at most max_attempts", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: Date.UTC(2024, 0, 1), max: Date.UTC(2030, 0, 1) }),
        fc.constantFrom(...ZONES),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 7, max: 60 }),
        fc.array(fc.integer({ min: Date.UTC(2023, 0, 1), max: Date.UTC(2024, 0, 1) }), {
          maxLength: 8,
        }),
        (failedAt, zone, maxAttempts, windowDays, past) => {
          const plan = retryPlan({
            failedAt,
            declineCode: "insufficient_funds",
            pastSuccesses: past,
            policy: { time_zone: zone, max_attempts: maxAttempts, window_days: windowDays },
          });
          expect(plan.attempts.length).toBeLessThanOrEqual(maxAttempts);
          expect(plan.attempts.length).toBeGreaterThan(0);
          for (const [i, at] of plan.attempts.entries()) {
            expect(at).toBeGreaterThan(failedAt);
            expect(at).toBeLessThanOrEqual(failedAt + windowDays * DAY_MS);
            const p = localParts(at, zone);
            expect([0, 6]).not.toContain(p.weekday);
            const prev = plan.attempts[i - 1];
            if (prev !== undefined)
              expect(at - prev).toBeGreaterThanOrEqual(DAY_MS - 2 * 3_600_000);
          }
        },
      ),
    );
  });

  it("a learned midnight hour right after a late-evening failure moves to the next business day, not out of the plan", () => {
    // Found by the property above: failed Thursday 23:00 UTC, a 7-day window with one try, and
    // history that learned 00:00: Friday 00:00 is within the hour of the failure.
    const failedAt = Date.UTC(2024, 4, 16, 23);
    const plan = retryPlan({
      failedAt,
      declineCode: "insufficient_funds",
      pastSuccesses: Array(3).fill(Date.UTC(2023, 0, 1)),
      policy: { time_zone: "UTC", max_attempts: 1, window_days: 7 },
    });
    expect(plan.hour).toEqual({ value: 0, from: "history" });
    expect(plan.attempts.map((t) => new Date(t).toISOString())).toEqual([
      "2024-05-20T00:00:00.000Z",
    ]);
  });

  it("plans every try it is asked for inside a short window, whatever the hour of the failure", () => {
    // Two tries in 14 days: the second, on the window's last day, was dropped when the retry
    // hour was later in the day than the failure.
    for (let hour = 0; hour < 24; hour++) {
      const plan = retryPlan({
        failedAt: Date.UTC(2026, 11, 7, hour),
        declineCode: "insufficient_funds",
        policy: { max_attempts: 2, window_days: 14 },
      });
      expect(plan.attempts, `failed at ${hour}:00`).toHaveLength(2);
    }
  });

  it("is a pure function of its input (replayable)", () => {
    const input = { failedAt: Date.UTC(2026, 6, 14, 23, 59), declineCode: "generic_decline" };
    expect(retryPlan(input)).toEqual(retryPlan(input));
    expect(DEFAULT_RETRY_POLICY).toMatchObject({ max_attempts: 8, window_days: 28 });
  });
});
