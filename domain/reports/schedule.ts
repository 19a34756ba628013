import { Cron } from "croner";
import { DAY_MS, HOUR_MS, MINUTE_MS } from "../time";
import { isTimeZone, ZoneClock } from "./buckets";

// Report schedules (issue 15 item 5, docs/reports.md "Schedules"), the pure part: a cron
// pattern read in an IANA zone by croner (its DST rules: a time the clocks skip runs at the
// first instant after the gap, a repeated hour runs once), the slot a tick should run, and the
// relative window a scheduled run reports on, resolved against the slot's own instant in the
// schedule's zone, so a late or retried run still reports on the period it was due for.

/** A schedule may not run more often than this. */
export const MIN_INTERVAL_MS = 15 * MINUTE_MS;
/** How many upcoming runs the frequency check looks at. */
const CHECKED_RUNS = 100;

export const SCHEDULE_RANGES = [
  "last_24_hours",
  "yesterday",
  "last_7_days",
  "last_30_days",
  "last_week",
  "last_month",
] as const;
export type ScheduleRange = (typeof SCHEDULE_RANGES)[number];

export interface ScheduleIssue {
  path: "cron" | "time_zone";
  message: string;
}

const cronOf = (pattern: string, zone: string) =>
  new Cron(pattern, { timezone: zone, paused: true });

/** The issues of a cron pattern in a zone: croner's own message for a pattern it cannot read,
 * an unknown zone, a pattern that never runs, or one that runs more often than every 15 min. */
export function checkSchedule(pattern: string, zone: string, now: number): ScheduleIssue[] {
  if (!isTimeZone(zone)) {
    return [{ path: "time_zone", message: `unknown time zone '${zone}' (an IANA name)` }];
  }
  let runs: number[];
  try {
    runs = nextRuns(pattern, zone, now, CHECKED_RUNS);
  } catch (err) {
    return [{ path: "cron", message: err instanceof Error ? err.message : String(err) }];
  }
  if (runs.length === 0) return [{ path: "cron", message: "the pattern never runs" }];
  for (let i = 1; i < runs.length; i++) {
    const gap = (runs[i] ?? 0) - (runs[i - 1] ?? 0);
    if (gap < MIN_INTERVAL_MS) {
      return [
        {
          path: "cron",
          message: `runs ${Math.round(gap / 1000)} s apart at ${new Date(runs[i - 1] ?? 0).toISOString()}; at most once every 15 minutes`,
        },
      ];
    }
  }
  return [];
}

/** The next `n` runs strictly after `after` (ms instants). Throws croner's error for a bad
 * pattern. */
export function nextRuns(pattern: string, zone: string, after: number, n: number): number[] {
  return cronOf(pattern, zone)
    .nextRuns(n, new Date(after))
    .map((d) => d.getTime());
}

/** The first run strictly after `after`, or null when the pattern has no more. */
export function nextRunAfter(pattern: string, zone: string, after: number): number | null {
  return cronOf(pattern, zone).nextRun(new Date(after))?.getTime() ?? null;
}

/** What a tick at `now` does with a schedule due at `nextRunAt` (≤ now): it runs the latest
 * slot that has come (missed slots after downtime collapse into that one run) and waits for
 * the first slot after now. */
export function dueSlot(
  pattern: string,
  zone: string,
  nextRunAt: number,
  now: number,
): { scheduledFor: number; next: number | null } {
  const latest = cronOf(pattern, zone)
    .previousRuns(1, new Date(now + 1))[0]
    ?.getTime();
  const scheduledFor = latest !== undefined && latest >= nextRunAt ? latest : nextRunAt;
  return { scheduledFor, next: nextRunAfter(pattern, zone, now) };
}

/** [from, to) of a relative range for a run scheduled at `at`, in `zone`: whole local days
 * (weeks from Monday, months from the 1st) ending at the local midnight that starts `at`'s
 * day; `last_24_hours` is the 24 whole UTC hours before `at`. */
export function resolveWindow(range: ScheduleRange, at: number, zone: string): [number, number] {
  if (range === "last_24_hours") {
    const to = Math.floor(at / HOUR_MS) * HOUR_MS;
    return [to - 24 * HOUR_MS, to];
  }
  const lo = at - 70 * DAY_MS;
  const clock = new ZoneClock(zone, lo, at + DAY_MS);
  const days = clock.bucketStarts(lo, at + 1, "day");
  const today = days.length - 1;
  const midnight = days[today] ?? at;
  const back = (n: number) => days[today - n] ?? midnight - n * DAY_MS;
  switch (range) {
    case "yesterday":
      return [back(1), midnight];
    case "last_7_days":
      return [back(7), midnight];
    case "last_30_days":
      return [back(30), midnight];
    case "last_week": {
      const mondays = clock.bucketStarts(lo, at + 1, "week");
      const thisWeek = mondays.at(-1) ?? midnight;
      return [mondays.at(-2) ?? thisWeek - 7 * DAY_MS, thisWeek];
    }
    case "last_month": {
      const firsts = clock.bucketStarts(lo, at + 1, "month");
      const thisMonth = firsts.at(-1) ?? midnight;
      return [firsts.at(-2) ?? thisMonth - 31 * DAY_MS, thisMonth];
    }
  }
}
