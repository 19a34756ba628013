// Billing periods: calendar months (or years) counted from a subscription's anchor instant, in UTC,
// as half-open intervals [start, end) of epoch milliseconds.
//
// Rules decided here:
// - Period n starts at anchor + n×(1 or 12) calendar months, with the day of month clamped to the
//   target month's length. It is always computed from the anchor, never chained from the previous
//   period, so clamping does not drift: anchor Jan 31 → Jan 31, Feb 28/29, Mar 31, Apr 30, ...
// - The anchor's time of day (UTC) is kept on every boundary.
// - An instant exactly on a boundary belongs to the period that starts there.
// - Instants before the anchor are allowed: they fall in periods with a negative index, counted
//   backwards with the same rule (period -1 of a Mar 31 anchor is [Feb 28/29, Mar 31)).
// - O(1): the period index comes from the year/month difference, with at most one correction.

export type BillingInterval = "month" | "year";

export interface Period {
  /** Inclusive, epoch ms. */
  start: number;
  /** Exclusive, epoch ms. */
  end: number;
}

const MS_PER_DAY = 86_400_000;
const MONTHS: Record<BillingInterval, number> = { month: 1, year: 12 };
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

interface Parts {
  year: number;
  month: number; // 0-11
  day: number; // 1-31
  timeOfDay: number; // ms since UTC midnight
}

function checkInstant(name: string, value: number): void {
  if (!Number.isSafeInteger(value)) throw new RangeError(`${name} must be integer epoch ms`);
}

function monthsOf(interval: BillingInterval): number {
  const months = MONTHS[interval];
  if (months === undefined) throw new RangeError(`unknown billing interval: ${interval}`);
  return months;
}

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

export function daysInMonth(year: number, month: number): number {
  return month === 1 && isLeapYear(year) ? 29 : (DAYS_IN_MONTH[month] as number);
}

function utcMidnight(year: number, month: number, day: number): number {
  // Date.UTC maps years 0-99 to 1900-1999; go through setUTCFullYear for those.
  if (year >= 0 && year < 100) return new Date(0).setUTCFullYear(year, month, day);
  return Date.UTC(year, month, day);
}

function partsOf(instant: number): Parts {
  const d = new Date(instant);
  const year = d.getUTCFullYear();
  const month = d.getUTCMonth();
  const day = d.getUTCDate();
  const timeOfDay = instant - Math.floor(instant / MS_PER_DAY) * MS_PER_DAY;
  return { year, month, day, timeOfDay };
}

function addMonthsToParts(p: Parts, months: number): number {
  const total = p.month + months;
  const year = p.year + Math.floor(total / 12);
  const month = total - Math.floor(total / 12) * 12;
  const day = Math.min(p.day, daysInMonth(year, month));
  return utcMidnight(year, month, day) + p.timeOfDay;
}

/** `instant` + count intervals, clamping the day of month (Jan 31 + 1 month = Feb 28/29) and
 * keeping the time of day. Chaining this drifts (Jan 31 → Feb 28 → Mar 28): for period
 * boundaries use `nthPeriodStart`/`nthPeriod`, which always count from the anchor. */
export function addInterval(instant: number, interval: BillingInterval, count = 1): number {
  checkInstant("instant", instant);
  if (!Number.isSafeInteger(count)) throw new RangeError("count must be an integer");
  return addMonthsToParts(partsOf(instant), count * monthsOf(interval));
}

/** Start of period n (n = 0 starts at the anchor; negative n counts backwards). */
export function nthPeriodStart(anchor: number, interval: BillingInterval, n: number): number {
  return addInterval(anchor, interval, n);
}

/** Period n: [start of n, start of n + 1). */
export function nthPeriod(anchor: number, interval: BillingInterval, n: number): Period {
  checkInstant("anchor", anchor);
  if (!Number.isSafeInteger(n)) throw new RangeError("n must be an integer");
  const p = partsOf(anchor);
  const step = monthsOf(interval);
  return { start: addMonthsToParts(p, n * step), end: addMonthsToParts(p, (n + 1) * step) };
}

/** Index of the period containing `at` (0 for the first period, negative before the anchor). */
export function periodIndex(anchor: number, interval: BillingInterval, at: number): number {
  checkInstant("anchor", anchor);
  checkInstant("at", at);
  const step = monthsOf(interval);
  const a = partsOf(anchor);
  const t = new Date(at);
  const monthDiff = (t.getUTCFullYear() - a.year) * 12 + (t.getUTCMonth() - a.month);
  // Period floor(monthDiff / step) starts in the same calendar month as `at` or earlier, and the
  // next one starts in a later month, so only the first can be past `at` (same month, later day
  // or time): step back once in that case.
  let n = Math.floor(monthDiff / step);
  if (addMonthsToParts(a, n * step) > at) n--;
  return n;
}

/** The period [start, end) containing `at`; works backwards for instants before the anchor.
 * Rating asks for every event, and a batch's events mostly share one period: the last answer is
 * kept and reused while `at` falls inside it (the result is a fresh object either way). */
export function periodContaining(anchor: number, interval: BillingInterval, at: number): Period {
  const last = lastPeriod;
  if (
    last?.anchor === anchor &&
    last.interval === interval &&
    Number.isSafeInteger(at) &&
    at >= last.start &&
    at < last.end
  ) {
    return { start: last.start, end: last.end };
  }
  const period = nthPeriod(anchor, interval, periodIndex(anchor, interval, at));
  lastPeriod = { anchor, interval, start: period.start, end: period.end };
  return period;
}
let lastPeriod: { anchor: number; interval: BillingInterval; start: number; end: number } | null =
  null;
