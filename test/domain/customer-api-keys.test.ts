import { describe, expect, it } from "vitest";
import {
  CUSTOMER_KEY_PATTERN,
  percentUsed,
  quotaWindow,
  shownPrefix,
} from "../../domain/customer-api-keys";

// A customer API key's quota windows (UTC day, week from Monday, calendar month) and the share
// of a quota used, which the key list and the gate report.

describe("quotaWindow", () => {
  const wed = Date.UTC(2026, 11, 9, 15, 30); // Wednesday 9 December 2026
  it("a UTC day", () => {
    expect(quotaWindow("day", wed)).toEqual({
      from: Date.UTC(2026, 11, 9),
      to: Date.UTC(2026, 11, 10),
    });
  });
  it("a week from Monday 00:00 UTC, Sunday's last millisecond still inside", () => {
    const week = { from: Date.UTC(2026, 11, 7), to: Date.UTC(2026, 11, 14) };
    expect(quotaWindow("week", wed)).toEqual(week);
    expect(quotaWindow("week", Date.UTC(2026, 11, 7))).toEqual(week);
    expect(quotaWindow("week", Date.UTC(2026, 11, 14) - 1)).toEqual(week);
  });
  it("a calendar month, across a year end", () => {
    expect(quotaWindow("month", Date.UTC(2026, 11, 31, 23))).toEqual({
      from: Date.UTC(2026, 11, 1),
      to: Date.UTC(2027, 0, 1),
    });
  });
});

describe("percentUsed", () => {
  it("two decimals, rounded down, exact for large micro-unit figures", () => {
    expect(percentUsed(470_000_000n, 2_000_000_000n)).toBe(23.5);
    expect(percentUsed(99_999n, 100_000n)).toBe(99.99);
    expect(percentUsed(1_000n, 1_000n)).toBe(100);
    expect(percentUsed(3n, 2n)).toBe(150);
    expect(percentUsed(8_999_999_999_999_999n, 9_000_000_000_000_000n)).toBe(99.99);
  });
});

it("a key's shown prefix is the 8 characters after sk_live_", () => {
  const key = `sk_live_abcdEFGH${"x".repeat(35)}`;
  expect(CUSTOMER_KEY_PATTERN.test(key)).toBe(true);
  expect(shownPrefix(key)).toBe("abcdEFGH");
  expect(CUSTOMER_KEY_PATTERN.test(`${key}x`)).toBe(false);
});
