// Adaptive Retry (issue 14): when a payment fails, when to ask the tenant's payment provider to
// try again, adapted to why it failed. Pure: no clock, no storage; the caller passes the failure's
// time and the customer's history and gets instants back, so a schedule is replayable.
//
// - Hard declines (a stolen or closed card, fraud) are not retried: retrying cannot succeed and
//   can get the merchant flagged; the customer is asked for a new payment method instead.
// - Soft declines (insufficient funds, issuer unavailable, generic) are retried up to
//   `max_attempts` times within `window_days` (defaults 8 in 28 days: Stripe's Smart Retries
//   default is 8 tries in 2 weeks, Recurly advises a window of at least 27 days), denser early,
//   at the hour of day the customer's past payments succeeded (else 10:00), pulled onto paydays
//   (the 1st and the 15th, and the customer's own most common day of successful payment), never
//   on a Saturday or Sunday — all in the tenant's time zone.

import { DAY_MS, HOUR_MS } from "./time";

export type DeclineKind = "soft" | "hard";

/** Decline codes (Stripe's vocabulary, which most providers map to) that a retry cannot fix. */
export const HARD_DECLINES: ReadonlySet<string> = new Set([
  "account_closed",
  "card_not_supported",
  "currency_not_supported",
  "expired_card",
  "fraudulent",
  "incorrect_number",
  "invalid_account",
  "invalid_number",
  "lost_card",
  "merchant_blacklist",
  "new_account_information_available",
  "pickup_card",
  "restricted_card",
  "revocation_of_all_authorizations",
  "revocation_of_authorization",
  "security_violation",
  "stolen_card",
  "transaction_not_allowed",
]);

/** A missing or unknown code is soft: the provider declined without saying it is final. */
export function classifyDecline(code: string | null | undefined): DeclineKind {
  return code && HARD_DECLINES.has(code.trim().toLowerCase()) ? "hard" : "soft";
}

export interface RetryPolicy {
  /** Retries after the failure that started dunning. */
  max_attempts: number;
  /** No retry later than this many days after that failure. */
  window_days: number;
  /** The tenant's IANA time zone: paydays, weekends and hours are local to it. */
  time_zone: string;
  /** The local hour retries run at when the customer has no history of successful payments. */
  default_hour: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  max_attempts: 8,
  window_days: 28,
  time_zone: "UTC",
  default_hour: 10,
};

/** Nominal days after the failure for 8 retries in 28 days, denser while the failure is fresh;
 * scaled to the policy's window and thinned to its number of attempts. */
const NOMINAL_DAYS = [1, 3, 5, 8, 12, 16, 21, 27];

/** Within this many days after a nominal retry, a payday pulls the retry onto itself. */
const PAYDAY_PULL_DAYS = 3;

/** A customer's history says something once it has this many successful payments. */
const MIN_HISTORY = 3;

export interface RetryPlan {
  decline: DeclineKind;
  /** Retry (soft), or ask the customer for a new payment method (hard: no retries). */
  action: "retry" | "ask_for_new_method";
  /** When each retry is due (epoch ms), in order; empty for a hard decline. */
  attempts: number[];
  /** The local hour the retries run at, and why. */
  hour: { value: number; from: "history" | "default" };
  /** The days of the month that pull retries onto themselves. */
  paydays: number[];
}

interface LocalParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  /** 0 = Sunday … 6 = Saturday. */
  weekday: number;
}

const WEEKDAYS: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone,
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      weekday: "short",
      hourCycle: "h23",
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** The calendar date, hour and weekday of an instant in a time zone. */
export function localParts(at: number, timeZone: string): LocalParts {
  const parts: Record<string, string> = {};
  for (const p of formatter(timeZone).formatToParts(at)) parts[p.type] = p.value;
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    hour: Number(parts.hour) % 24,
    minute: Number(parts.minute),
    weekday: WEEKDAYS[parts.weekday ?? "Sun"] ?? 0,
  };
}

/** The instant a local date and hour (on the hour) denotes in a time zone. In a DST gap the hour
 * does not exist and the next one is used; in an overlap, the first. */
export function localInstant(
  date: { year: number; month: number; day: number },
  hour: number,
  timeZone: string,
): number {
  const wall = Date.UTC(date.year, date.month - 1, date.day, hour);
  const offsetAt = (t: number) => {
    const p = localParts(t, timeZone);
    return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute) - Math.floor(t / 60_000) * 60_000;
  };
  // Zones change offset at most once within a day either side: the wall time is read with the
  // offset before and the one after. Both fit in an overlap (the earlier instant wins); neither
  // fits in a gap, where the offset before carries the wall time past the gap, to the next hour.
  const before = wall - offsetAt(wall - DAY_MS);
  const after = wall - offsetAt(wall + DAY_MS);
  const fits = (t: number) => t + offsetAt(t) === wall;
  if (fits(before) && fits(after)) return Math.min(before, after);
  if (fits(before)) return before;
  if (fits(after)) return after;
  return before;
}

/** The most common value (the smallest on a tie), or null for an empty list. */
function mode(values: readonly number[]): number | null {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best: number | null = null;
  let bestCount = 0;
  for (const [v, n] of counts) {
    if (n > bestCount || (n === bestCount && best !== null && v < best)) {
      best = v;
      bestCount = n;
    }
  }
  return best;
}

const addDays = (d: { year: number; month: number; day: number }, days: number) => {
  const t = new Date(Date.UTC(d.year, d.month - 1, d.day + days));
  return { year: t.getUTCFullYear(), month: t.getUTCMonth() + 1, day: t.getUTCDate() };
};
const dayNumber = (d: { year: number; month: number; day: number }) =>
  Date.UTC(d.year, d.month - 1, d.day) / DAY_MS;
/** The date itself, or the Monday after it when it falls on a weekend. */
const businessDay = (d: { year: number; month: number; day: number }) => {
  const weekday = new Date(Date.UTC(d.year, d.month - 1, d.day)).getUTCDay();
  return weekday === 6 ? addDays(d, 2) : weekday === 0 ? addDays(d, 1) : d;
};

/** The date, or the Friday before when it falls on a weekend. */
const businessDayBefore = (d: { year: number; month: number; day: number }) => {
  const weekday = new Date(Date.UTC(d.year, d.month - 1, d.day)).getUTCDay();
  return weekday === 6 ? addDays(d, -1) : weekday === 0 ? addDays(d, -2) : d;
};

/**
 * The retry plan for a failed payment.
 * @param failedAt when the failure that starts (or continues) dunning happened
 * @param pastSuccesses when this customer's earlier payments succeeded (any order)
 */
export function retryPlan(input: {
  failedAt: number;
  declineCode?: string | null;
  pastSuccesses?: readonly number[];
  policy?: Partial<RetryPolicy>;
}): RetryPlan {
  const policy = { ...DEFAULT_RETRY_POLICY, ...input.policy };
  const tz = policy.time_zone;
  const history = (input.pastSuccesses ?? []).map((t) => localParts(t, tz));
  const learned = history.length >= MIN_HISTORY;
  const hour = {
    value: learned
      ? (mode(history.map((p) => p.hour)) ?? policy.default_hour)
      : policy.default_hour,
    from: learned ? ("history" as const) : ("default" as const),
  };
  const ownPayday = learned ? mode(history.map((p) => p.day)) : null;
  const paydays = [...new Set([1, 15, ...(ownPayday === null ? [] : [ownPayday])])].sort(
    (a, b) => a - b,
  );
  const decline = classifyDecline(input.declineCode);
  if (decline === "hard" || policy.max_attempts <= 0) {
    return {
      decline,
      action: decline === "hard" ? "ask_for_new_method" : "retry",
      attempts: [],
      hour,
      paydays,
    };
  }

  const start = localParts(input.failedAt, tz);
  const startDate = { year: start.year, month: start.month, day: start.day };
  const latest = input.failedAt + policy.window_days * DAY_MS;
  // Which nominal days to keep when fewer attempts are wanted: spread over the list.
  const n = Math.min(policy.max_attempts, NOMINAL_DAYS.length);
  const picked = Array.from(
    { length: n },
    (_, i) =>
      NOMINAL_DAYS[n === 1 ? 0 : Math.round((i * (NOMINAL_DAYS.length - 1)) / (n - 1))] ?? 1,
  );
  const scale = policy.window_days / 28;

  const attempts: number[] = [];
  let lastDate: { year: number; month: number; day: number } | null = null;
  for (const nominal of picked) {
    // Inside the window: its last day (a nominal day scaled onto a short window's end would fall
    // past it whenever the retry hour is later in the day than the failure).
    const day = Math.max(1, Math.min(policy.window_days - 1, Math.round(nominal * scale)));
    const nominalDate = addDays(startDate, day);
    // A payday within the next few days pulls the retry onto it (unless that leaves the window).
    let date = nominalDate;
    for (let ahead = 0; ahead <= PAYDAY_PULL_DAYS; ahead++) {
      const d = addDays(nominalDate, ahead);
      if (paydays.includes(d.day)) {
        if (localInstant(businessDay(d), hour.value, tz) <= latest) date = d;
        break;
      }
    }
    date = businessDay(date);
    // At least a day after the previous retry.
    if (lastDate && dayNumber(date) <= dayNumber(lastDate))
      date = businessDay(addDays(lastDate, 1));
    // A learned hour early in the day can fall within the hour of the failure itself: the next business day then.
    let at = localInstant(date, hour.value, tz);
    if (at <= input.failedAt + HOUR_MS) {
      date = businessDay(addDays(date, 1));
      at = localInstant(date, hour.value, tz);
    }
    if (at > latest) {
      // The weekend pushed it past the window's end: the business day before, if that is still
      // after the previous retry and not within the failure's hour.
      const before = businessDayBefore(nominalDate);
      at = localInstant(before, hour.value, tz);
      const free = !lastDate || dayNumber(before) > dayNumber(lastDate);
      if (!free || at > latest || at <= input.failedAt + HOUR_MS) continue;
      date = before;
    }
    attempts.push(at);
    lastDate = date;
  }
  return { decline, action: "retry", attempts, hour, paydays };
}
