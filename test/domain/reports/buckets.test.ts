import { describe, expect, it } from "vitest";
import { isTimeZone, offsetAt, segments, ZoneClock } from "../../../domain/reports/buckets";
import { HOUR_MS } from "../../../domain/time";

// domain/reports/buckets.ts: time buckets in an IANA zone, DST included. Rollups are per UTC
// hour, so a local bucket is the set of UTC hours starting inside it: a local day is 23 or 25
// hours long on the days the clocks change.

const T = (iso: string) => Date.parse(iso);
const NY = "America/New_York";

/** Each segment as [its start in the zone, its length in hours, its bucket in the zone]. */
function described(
  zone: string,
  from: string,
  to: string,
  need: Parameters<typeof segments>[3],
): [string, number, string | null, number | null][] {
  const clock = new ZoneClock(zone, T(from), T(to));
  return segments(clock, T(from), T(to), need).map((s) => [
    clock.format(s.start),
    (s.end - s.start) / HOUR_MS,
    s.time === null ? null : clock.format(s.time),
    s.hour_of_week,
  ]);
}

describe("day buckets across a DST change", () => {
  it("New York, 2026-03-08: the spring-forward day is 23 hours", () => {
    expect(described(NY, "2026-03-07T05:00:00Z", "2026-03-10T04:00:00Z", { time: "day" })).toEqual([
      ["2026-03-07T00:00:00-05:00", 24, "2026-03-07T00:00:00-05:00", null],
      ["2026-03-08T00:00:00-05:00", 23, "2026-03-08T00:00:00-05:00", null],
      ["2026-03-09T00:00:00-04:00", 24, "2026-03-09T00:00:00-04:00", null],
    ]);
  });

  it("New York, 2026-11-01: the fall-back day is 25 hours", () => {
    expect(described(NY, "2026-10-31T04:00:00Z", "2026-11-03T05:00:00Z", { time: "day" })).toEqual([
      ["2026-10-31T00:00:00-04:00", 24, "2026-10-31T00:00:00-04:00", null],
      ["2026-11-01T00:00:00-04:00", 25, "2026-11-01T00:00:00-04:00", null],
      ["2026-11-02T00:00:00-05:00", 24, "2026-11-02T00:00:00-05:00", null],
    ]);
  });

  it("a range starting mid-day: its first segment belongs to the local day it starts in", () => {
    // 2026-03-01T00:00Z is 2026-02-28 19:00 in New York.
    expect(described(NY, "2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z", { time: "day" })).toEqual([
      ["2026-02-28T19:00:00-05:00", 5, "2026-02-28T00:00:00-05:00", null],
      ["2026-03-01T00:00:00-05:00", 19, "2026-03-01T00:00:00-05:00", null],
    ]);
  });

  it("Santiago, 2026-09-06: clocks jump from 00:00 to 01:00, and that day still has its own bucket (23 h)", () => {
    expect(
      described("America/Santiago", "2026-09-05T04:00:00Z", "2026-09-08T03:00:00Z", {
        time: "day",
      }),
    ).toEqual([
      ["2026-09-05T00:00:00-04:00", 24, "2026-09-05T00:00:00-04:00", null],
      ["2026-09-06T01:00:00-03:00", 23, "2026-09-06T01:00:00-03:00", null],
      ["2026-09-07T00:00:00-03:00", 24, "2026-09-07T00:00:00-03:00", null],
    ]);
  });

  it("every day of 2026 in New York, Santiago, Lord Howe (30-minute DST) and Kolkata is one bucket", () => {
    for (const zone of [NY, "America/Santiago", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"]) {
      const clock = new ZoneClock(zone, T("2026-01-01T00:00:00Z"), T("2027-01-01T00:00:00Z"));
      const starts = clock.bucketStarts(
        T("2026-01-02T00:00:00Z"),
        T("2026-12-30T00:00:00Z"),
        "day",
      );
      const days = starts.map((t) => clock.format(t).slice(0, 10));
      expect(new Set(days).size, zone).toBe(days.length);
      // 2026-01-02 … 2026-12-29 (local midnights inside the range): 362 or 363 of them.
      expect(days.length, zone).toBeGreaterThanOrEqual(362);
      expect(days.length, zone).toBeLessThanOrEqual(363);
      for (let i = 1; i < starts.length; i++) {
        const hours = ((starts[i] as number) - (starts[i - 1] as number)) / HOUR_MS;
        expect([23, 23.5, 24, 24.5, 25], `${zone} ${days[i - 1]}`).toContain(hours);
      }
    }
  });
});

describe("hour buckets and hour_of_week across a DST change", () => {
  it("New York, 2026-11-01: 01:00 happens twice, two hour buckets with their own offsets, one hour of week", () => {
    // Sunday: hour of week 6 × 24 + h.
    expect(
      described(NY, "2026-11-01T04:00:00Z", "2026-11-01T08:00:00Z", {
        time: "hour",
        hour_of_week: true,
      }),
    ).toEqual([
      ["2026-11-01T00:00:00-04:00", 1, "2026-11-01T00:00:00-04:00", 144],
      ["2026-11-01T01:00:00-04:00", 1, "2026-11-01T01:00:00-04:00", 145],
      ["2026-11-01T01:00:00-05:00", 1, "2026-11-01T01:00:00-05:00", 145],
      ["2026-11-01T02:00:00-05:00", 1, "2026-11-01T02:00:00-05:00", 146],
    ]);
  });

  it("New York, 2026-03-08: 02:00 never happens", () => {
    expect(
      described(NY, "2026-03-08T05:00:00Z", "2026-03-08T09:00:00Z", { time: "hour" }).map(
        (s) => s[0],
      ),
    ).toEqual([
      "2026-03-08T00:00:00-05:00",
      "2026-03-08T01:00:00-05:00",
      "2026-03-08T03:00:00-04:00",
      "2026-03-08T04:00:00-04:00",
    ]);
  });

  it("hour_of_week 0 is Monday 00:00 local and 167 Sunday 23:00 local", () => {
    const clock = new ZoneClock(NY, T("2026-03-01T00:00:00Z"), T("2026-03-20T00:00:00Z"));
    expect(clock.hourOfWeek(T("2026-03-02T05:00:00Z"))).toBe(0); // Mon 00:00 EST
    expect(clock.hourOfWeek(T("2026-03-02T04:59:00Z"))).toBe(167); // Sun 23:59 EST
    expect(clock.hourOfWeek(T("2026-03-09T04:00:00Z"))).toBe(0); // Mon 00:00 EDT
    expect(clock.hourOfWeek(T("2026-03-09T05:00:00Z"))).toBe(1);
    expect(clock.hourOfWeek(T("2026-03-08T06:00:00Z"))).toBe(145); // Sun 01:00 EST
    expect(clock.hourOfWeek(T("2026-03-08T07:00:00Z"))).toBe(147); // Sun 03:00 EDT (02:00 skipped)
    // The same instant is Monday 09:00 in Berlin (UTC+1): 9.
    const berlin = new ZoneClock(
      "Europe/Berlin",
      T("2026-03-01T00:00:00Z"),
      T("2026-03-20T00:00:00Z"),
    );
    expect(berlin.hourOfWeek(T("2026-03-02T08:00:00Z"))).toBe(9);
  });

  it("a week of hour_of_week segments covers 0–167 once each, 23 distinct hours on the short Sunday", () => {
    const s = described(NY, "2026-03-02T05:00:00Z", "2026-03-09T04:00:00Z", {
      hour_of_week: true,
    });
    const how = s.map((x) => x[3]);
    expect(how.length).toBe(167);
    expect(new Set(how).size).toBe(167);
    expect(how).not.toContain(146); // Sunday 02:00 did not exist
    expect(how[0]).toBe(0);
    expect(how.at(-1)).toBe(167);
  });
});

describe("week and month buckets", () => {
  it("weeks start on Monday 00:00 local; the one with the DST change is 167 hours", () => {
    expect(described(NY, "2026-02-23T05:00:00Z", "2026-03-16T04:00:00Z", { time: "week" })).toEqual(
      [
        ["2026-02-23T00:00:00-05:00", 168, "2026-02-23T00:00:00-05:00", null],
        ["2026-03-02T00:00:00-05:00", 167, "2026-03-02T00:00:00-05:00", null],
        ["2026-03-09T00:00:00-04:00", 168, "2026-03-09T00:00:00-04:00", null],
      ],
    );
  });

  it("months start on the 1st 00:00 local; a range starting mid-month begins with that month's bucket", () => {
    expect(
      described(NY, "2026-02-20T05:00:00Z", "2026-05-01T04:00:00Z", { time: "month" }),
    ).toEqual([
      ["2026-02-20T00:00:00-05:00", 216, "2026-02-01T00:00:00-05:00", null],
      ["2026-03-01T00:00:00-05:00", 743, "2026-03-01T00:00:00-05:00", null],
      ["2026-04-01T00:00:00-04:00", 720, "2026-04-01T00:00:00-04:00", null],
    ]);
  });

  it("period (the month) and time (the day) cut the same range together", () => {
    const clock = new ZoneClock(NY, T("2026-03-30T04:00:00Z"), T("2026-04-02T04:00:00Z"));
    const s = segments(clock, T("2026-03-30T04:00:00Z"), T("2026-04-02T04:00:00Z"), {
      time: "day",
      period: true,
    });
    expect(
      s.map((x) => [clock.format(x.time as number), clock.format(x.period as number)]),
    ).toEqual([
      ["2026-03-30T00:00:00-04:00", "2026-03-01T00:00:00-05:00"],
      ["2026-03-31T00:00:00-04:00", "2026-03-01T00:00:00-05:00"],
      ["2026-04-01T00:00:00-04:00", "2026-04-01T00:00:00-04:00"],
    ]);
  });

  it("segments tile the range with no gap or overlap", () => {
    const from = T("2026-01-01T00:00:00Z");
    const to = T("2026-12-31T00:00:00Z");
    const clock = new ZoneClock("America/Santiago", from, to);
    const s = segments(clock, from, to, { time: "day", hour_of_week: true });
    expect(s[0]?.start).toBe(from);
    expect(s.at(-1)?.end).toBe(to);
    for (let i = 1; i < s.length; i++) expect(s[i]?.start).toBe(s[i - 1]?.end);
  });
});

describe("zones and offsets", () => {
  it("knows IANA names and refuses others", () => {
    expect(isTimeZone("America/New_York")).toBe(true);
    expect(isTimeZone("UTC")).toBe(true);
    expect(isTimeZone("Asia/Kathmandu")).toBe(true);
    expect(isTimeZone("America/Gotham")).toBe(false);
    expect(isTimeZone("not a zone")).toBe(false);
  });

  it("offsets east of UTC in ms, whole minutes (Kathmandu +05:45)", () => {
    expect(offsetAt(NY, T("2026-01-15T12:00:00Z"))).toBe(-5 * HOUR_MS);
    expect(offsetAt(NY, T("2026-07-15T12:00:00Z"))).toBe(-4 * HOUR_MS);
    expect(offsetAt("Asia/Kathmandu", T("2026-07-15T12:34:56Z"))).toBe(5.75 * HOUR_MS);
  });

  it("formats with the zone's offset at the instant, Z for UTC", () => {
    const clock = new ZoneClock(NY, T("2026-03-01T00:00:00Z"), T("2026-04-01T00:00:00Z"));
    expect(clock.format(T("2026-03-08T06:59:00Z"))).toBe("2026-03-08T01:59:00-05:00");
    expect(clock.format(T("2026-03-08T07:00:00Z"))).toBe("2026-03-08T03:00:00-04:00");
    const utc = new ZoneClock("UTC", T("2026-03-01T00:00:00Z"), T("2026-04-01T00:00:00Z"));
    expect(utc.format(T("2026-03-08T07:00:00Z"))).toBe("2026-03-08T07:00:00Z");
    const kat = new ZoneClock(
      "Asia/Kathmandu",
      T("2026-03-01T00:00:00Z"),
      T("2026-04-01T00:00:00Z"),
    );
    expect(kat.format(T("2026-03-08T00:00:00Z"))).toBe("2026-03-08T05:45:00+05:45");
  });
});
