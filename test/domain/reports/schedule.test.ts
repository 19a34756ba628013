import { describe, expect, it } from "vitest";
import { checkSchedule, dueSlot, nextRuns, resolveWindow } from "../../../domain/reports/schedule";

const iso = (ts: number[]) => ts.map((t) => new Date(t).toISOString());
const at = (s: string) => Date.parse(s);

describe("report schedules: next runs in a zone", () => {
  it("keeps 08:00 local across New York's spring-forward and fall-back", () => {
    expect(iso(nextRuns("0 8 * * *", "America/New_York", at("2026-03-07T00:00:00Z"), 3))).toEqual([
      "2026-03-07T13:00:00.000Z",
      "2026-03-08T12:00:00.000Z",
      "2026-03-09T12:00:00.000Z",
    ]);
    expect(iso(nextRuns("0 8 * * *", "America/New_York", at("2026-10-31T00:00:00Z"), 3))).toEqual([
      "2026-10-31T12:00:00.000Z",
      "2026-11-01T13:00:00.000Z",
      "2026-11-02T13:00:00.000Z",
    ]);
  });

  it("runs a skipped 02:30 once, at the end of the gap", () => {
    expect(iso(nextRuns("30 2 * * *", "America/New_York", at("2026-03-07T00:00:00Z"), 3))).toEqual([
      "2026-03-07T07:30:00.000Z",
      "2026-03-08T07:00:00.000Z",
      "2026-03-09T06:30:00.000Z",
    ]);
  });

  it("refuses a bad pattern with croner's message, too frequent ones and unknown zones", () => {
    const now = at("2026-12-07T00:00:00Z");
    const bad = checkSchedule("61 * * * *", "UTC", now);
    expect(bad).toEqual([{ path: "cron", message: expect.stringContaining("minute: 61") }]);
    expect(checkSchedule("every day", "UTC", now)[0]?.path).toBe("cron");
    expect(checkSchedule("*/10 * * * *", "UTC", now)[0]?.message).toMatch(/every 15 minutes/);
    expect(checkSchedule("0,5 9 * * *", "UTC", now)[0]?.message).toMatch(/300 s apart/);
    expect(checkSchedule("*/15 * * * *", "UTC", now)).toEqual([]);
    expect(checkSchedule("0 0 31 2 *", "UTC", now)[0]?.message).toBe("the pattern never runs");
    expect(checkSchedule("0 8 * * 1", "Mars/Olympus", now)).toEqual([
      { path: "time_zone", message: "unknown time zone 'Mars/Olympus' (an IANA name)" },
    ]);
  });

  it("runs missed slots after downtime once, the latest, and waits for the next", () => {
    const due = at("2026-12-01T07:00:00Z"); // 08:00 Berlin, six days ago
    const now = at("2026-12-07T09:30:00Z");
    expect(dueSlot("0 8 * * *", "Europe/Berlin", due, now)).toEqual({
      scheduledFor: at("2026-12-07T07:00:00Z"),
      next: at("2026-12-08T07:00:00Z"),
    });
    // On time: the slot itself.
    expect(dueSlot("0 8 * * *", "Europe/Berlin", due, due).scheduledFor).toBe(due);
  });
});

describe("report schedules: the window of a run", () => {
  const ny = "America/New_York";
  it("yesterday and the last 7 days end at the local midnight of the run's day", () => {
    const run = at("2026-03-10T12:00:00Z"); // 08:00 EDT on Tuesday 10 March
    expect(iso(resolveWindow("yesterday", run, ny))).toEqual([
      "2026-03-09T04:00:00.000Z",
      "2026-03-10T04:00:00.000Z",
    ]);
    // 3–9 March: the 8th is 23 hours long.
    const [from, to] = resolveWindow("last_7_days", run, ny);
    expect(iso([from, to])).toEqual(["2026-03-03T05:00:00.000Z", "2026-03-10T04:00:00.000Z"]);
    expect(to - from).toBe((7 * 24 - 1) * 3_600_000);
  });

  it("a run at exactly local midnight reports on the day that just ended", () => {
    expect(iso(resolveWindow("yesterday", at("2026-12-07T05:00:00Z"), ny))).toEqual([
      "2026-12-06T05:00:00.000Z",
      "2026-12-07T05:00:00.000Z",
    ]);
  });

  it("last week is Monday to Monday, last month the 1st to the 1st, both local", () => {
    const run = at("2026-11-04T14:00:00Z"); // Wednesday 4 November, 09:00 EST
    expect(iso(resolveWindow("last_week", run, ny))).toEqual([
      "2026-10-26T04:00:00.000Z",
      "2026-11-02T05:00:00.000Z",
    ]);
    expect(iso(resolveWindow("last_month", run, ny))).toEqual([
      "2026-10-01T04:00:00.000Z",
      "2026-11-01T04:00:00.000Z",
    ]);
    expect(iso(resolveWindow("last_month", at("2026-01-15T12:00:00Z"), "UTC"))).toEqual([
      "2025-12-01T00:00:00.000Z",
      "2026-01-01T00:00:00.000Z",
    ]);
  });

  it("last 24 hours is whole UTC hours before the run", () => {
    expect(iso(resolveWindow("last_24_hours", at("2026-12-07T08:15:00Z"), ny))).toEqual([
      "2026-12-06T08:00:00.000Z",
      "2026-12-07T08:00:00.000Z",
    ]);
  });
});
