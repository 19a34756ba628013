// Time constants, defined once. Instants everywhere are UTC epoch milliseconds.

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;
export const WEEK_MS = 7 * DAY_MS;
/** A UTC week (schema/0029_weekly_rollups.sql) starts on Monday 00:00 UTC: 1970-01-01 was a
 * Thursday, this far after a Monday. The start of t's week is t - (t + offset) % WEEK_MS. */
export const MONDAY_OFFSET_MS = 3 * DAY_MS;
