// Settings → Payments: the retry policy form's draft and the schedule preview. The preview runs
// the server's own planner (domain/dunning.ts retryPlan), so what it shows is what a soft
// decline failing now would be planned, for a customer without a payment history.

import type { RetryPolicyFields } from "../../../contracts/payments-settings";
import { retryPlan } from "../../../domain/dunning";

export type RetryDraft = Record<keyof RetryPolicyFields, string>;

export const RETRY_FIELDS = ["max_attempts", "window_days", "time_zone", "default_hour"] as const;

export const draftOf = (p: RetryPolicyFields): RetryDraft => ({
  max_attempts: String(p.max_attempts),
  window_days: String(p.window_days),
  time_zone: p.time_zone,
  default_hour: String(p.default_hour),
});

/** What the form sends: numbers as typed (the API says what is wrong with them). */
export function bodyOf(d: RetryDraft): Record<string, unknown> {
  const n = (v: string) => (v.trim() === "" ? Number.NaN : Number(v));
  return {
    max_attempts: n(d.max_attempts),
    window_days: n(d.window_days),
    time_zone: d.time_zone.trim(),
    default_hour: n(d.default_hour),
  };
}

export function isTimeZone(zone: string): boolean {
  if (!zone) return false;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** The draft as a policy, when every field is within the API's bounds; else null. */
export function policyOf(d: RetryDraft): RetryPolicyFields | null {
  const b = bodyOf(d);
  const int = (v: unknown, min: number, max: number) =>
    typeof v === "number" && Number.isInteger(v) && v >= min && v <= max;
  if (!int(b.max_attempts, 0, 8) || !int(b.window_days, 1, 60) || !int(b.default_hour, 0, 23))
    return null;
  if (!isTimeZone(String(b.time_zone))) return null;
  return b as unknown as RetryPolicyFields;
}

/** When the retries of a soft decline failing at `failedAt` would be due (epoch ms). */
export const previewAttempts = (policy: RetryPolicyFields, failedAt: number): number[] =>
  retryPlan({ failedAt, declineCode: "insufficient_funds", policy }).attempts;

/** "Tue 8 Dec, 10:00" in the policy's zone. */
export function inZone(t: number, zone: string, locale?: string): string {
  return new Intl.DateTimeFormat(locale, {
    timeZone: zone,
    weekday: "short",
    day: "numeric",
    month: "short",
    year: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  }).format(t);
}

/** Every IANA zone the browser knows, for the field's suggestions. */
export function timeZones(): string[] {
  const supported = (Intl as { supportedValuesOf?: (key: string) => string[] }).supportedValuesOf;
  const zones = supported ? supported("timeZone") : [];
  return zones.includes("UTC") ? zones : ["UTC", ...zones];
}
