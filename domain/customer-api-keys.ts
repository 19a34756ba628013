import { DAY_MS, MONDAY_OFFSET_MS, WEEK_MS } from "./time";

// Customer API keys (issue 19 §4): what a key looks like, and the windows and figures of its
// optional quota. Pure, so the gate, ingest and the key routes share one definition.

/** `sk_live_` and 43 base64url characters (256 random bits). */
export const CUSTOMER_KEY_PATTERN = /^sk_live_[A-Za-z0-9_-]{43}$/;
export const CUSTOMER_KEY_PREFIX = "sk_live_";
/** Characters of the secret shown beside the key's name (the rest never leaves the issue call). */
export const SHOWN_PREFIX_LENGTH = 8;

export const shownPrefix = (key: string) =>
  key.slice(CUSTOMER_KEY_PREFIX.length, CUSTOMER_KEY_PREFIX.length + SHOWN_PREFIX_LENGTH);

export const QUOTA_PERIODS = ["day", "week", "month"] as const;
export type QuotaPeriod = (typeof QUOTA_PERIODS)[number];

/** The UTC window of `period` that holds `at`: [from, to), epoch ms. Weeks start on Monday. */
export function quotaWindow(period: QuotaPeriod, at: number): { from: number; to: number } {
  if (period === "day") {
    const from = at - (((at % DAY_MS) + DAY_MS) % DAY_MS);
    return { from, to: from + DAY_MS };
  }
  if (period === "week") {
    const from = at - ((((at + MONDAY_OFFSET_MS) % WEEK_MS) + WEEK_MS) % WEEK_MS);
    return { from, to: from + WEEK_MS };
  }
  const d = new Date(at);
  return {
    from: Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1),
    to: Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1),
  };
}

/** `used` as a share of `limit` (both micro-units), in percent with two decimals, rounded down:
 * a key at 99.999 % reads 99.99, never 100, until it is really there. */
export function percentUsed(used: bigint, limit: bigint): number {
  if (limit <= 0n) return used > 0n ? 100 : 0;
  return Number((used * 10_000n) / limit) / 100;
}
