// Event-time helpers shared by the detectors. Everything is UTC epoch milliseconds: an hour is
// [h, h + 1 h), a day [midnight, midnight + 24 h), weeks are ISO 8601 (Monday first; week 1 holds
// the year's first Thursday). No wall clock anywhere: callers pass event time.

import { DAY_MS, HOUR_MS, WEEK_MS } from "../time";

export { DAY_MS, HOUR_MS, WEEK_MS };

/** Start of the UTC hour containing `t`. */
export const floorHour = (t: number): number => Math.floor(t / HOUR_MS) * HOUR_MS;

/** UTC midnight of the day containing `t`. */
export const floorDay = (t: number): number => Math.floor(t / DAY_MS) * DAY_MS;

/** Day of week of `t` in UTC, Monday = 0 … Sunday = 6 (1970-01-01 was a Thursday). */
export function dayOfWeek(t: number): number {
  const d = (Math.floor(t / DAY_MS) + 3) % 7;
  return d < 0 ? d + 7 : d;
}

/** UTC hour of day 0-23. */
export function hourOfDay(t: number): number {
  const h = Math.floor(t / HOUR_MS) % 24;
  return h < 0 ? h + 24 : h;
}

/** Saturday and Sunday (UTC). */
export const isWeekend = (t: number): boolean => dayOfWeek(t) >= 5;

/** ISO 8601 week label of `t` (UTC), e.g. "2026-W48"; the year is the ISO week-numbering year. */
export function isoWeek(t: number): string {
  const day = Math.floor(t / DAY_MS);
  // The Thursday of this ISO week decides the year.
  const thursday = day - dayOfWeek(t) + 3;
  const year = new Date(thursday * DAY_MS).getUTCFullYear();
  const jan1 = Math.floor(Date.UTC(year, 0, 1) / DAY_MS);
  const week = Math.floor((thursday - jan1) / 7) + 1;
  return `${year}-W${week < 10 ? "0" : ""}${week}`;
}

/** Compact ISO label of an hour, e.g. "2026-11-27T10:00Z" (used in idempotency keys). */
export const isoHour = (t: number): string =>
  `${new Date(floorHour(t)).toISOString().slice(0, 13)}:00Z`;

/** ISO label of a day, e.g. "2026-11-27". */
export const isoDay = (t: number): string => new Date(floorDay(t)).toISOString().slice(0, 10);

/** Full ISO instant, e.g. "2026-11-01T00:00:00.000Z" (period starts in keys). */
export const isoInstant = (t: number): string => new Date(t).toISOString();

/** UTC midnight of the first day of the calendar month containing `t`. */
export function monthStart(t: number): number {
  const d = new Date(t);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

/** UTC midnight of the first day of the next calendar month. */
export function nextMonthStart(t: number): number {
  const d = new Date(t);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}
