import { describe, expect, it } from "vitest";
import {
  addInterval,
  nthPeriod,
  nthPeriodStart,
  periodContaining,
  periodIndex,
} from "../../domain/billing-period";

const t = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();
const span = (p: { start: number; end: number }) => [iso(p.start), iso(p.end)];

describe("nthPeriodStart", () => {
  it("clamps a Jan 31 anchor to each month's last day without drifting", () => {
    const anchor = t("2023-01-31T00:00:00Z");
    const starts = Array.from({ length: 14 }, (_, n) =>
      iso(nthPeriodStart(anchor, "month", n)).slice(0, 10),
    );
    expect(starts).toEqual([
      "2023-01-31",
      "2023-02-28",
      "2023-03-31",
      "2023-04-30",
      "2023-05-31",
      "2023-06-30",
      "2023-07-31",
      "2023-08-31",
      "2023-09-30",
      "2023-10-31",
      "2023-11-30",
      "2023-12-31",
      "2024-01-31",
      "2024-02-29",
    ]);
  });

  it("uses Feb 29 in leap years", () => {
    const anchor = t("2024-01-30T00:00:00Z");
    expect(iso(nthPeriodStart(anchor, "month", 1))).toBe("2024-02-29T00:00:00.000Z");
    expect(iso(nthPeriodStart(anchor, "month", 2))).toBe("2024-03-30T00:00:00.000Z");
    expect(iso(nthPeriodStart(anchor, "month", 13))).toBe("2025-02-28T00:00:00.000Z");
  });

  it("keeps the anchor's time of day", () => {
    const anchor = t("2024-01-31T15:30:45.123Z");
    expect(iso(nthPeriodStart(anchor, "month", 1))).toBe("2024-02-29T15:30:45.123Z");
    expect(iso(nthPeriodStart(anchor, "month", 3))).toBe("2024-04-30T15:30:45.123Z");
  });

  it("counts backwards for negative n", () => {
    const anchor = t("2024-03-31T00:00:00Z");
    expect(iso(nthPeriodStart(anchor, "month", -1))).toBe("2024-02-29T00:00:00.000Z");
    expect(iso(nthPeriodStart(anchor, "month", -4))).toBe("2023-11-30T00:00:00.000Z");
  });
});

describe("addInterval", () => {
  it("clamps, and chaining it drifts (which is why periods count from the anchor)", () => {
    const jan31 = t("2023-01-31T00:00:00Z");
    const chained = addInterval(addInterval(jan31, "month"), "month");
    expect(iso(chained)).toBe("2023-03-28T00:00:00.000Z");
    expect(iso(addInterval(jan31, "month", 2))).toBe("2023-03-31T00:00:00.000Z");
    expect(iso(addInterval(jan31, "year"))).toBe("2024-01-31T00:00:00.000Z");
  });
});

describe("periodContaining", () => {
  const anchor = t("2023-01-31T00:00:00Z");

  it("finds clamped monthly periods", () => {
    expect(span(periodContaining(anchor, "month", t("2023-02-10T12:00:00Z")))).toEqual([
      "2023-01-31T00:00:00.000Z",
      "2023-02-28T00:00:00.000Z",
    ]);
    expect(span(periodContaining(anchor, "month", t("2023-03-15T00:00:00Z")))).toEqual([
      "2023-02-28T00:00:00.000Z",
      "2023-03-31T00:00:00.000Z",
    ]);
    expect(span(periodContaining(anchor, "month", t("2023-03-30T23:59:59.999Z")))).toEqual([
      "2023-02-28T00:00:00.000Z",
      "2023-03-31T00:00:00.000Z",
    ]);
  });

  it("puts an instant exactly on a boundary in the period that starts there", () => {
    expect(span(periodContaining(anchor, "month", t("2023-02-28T00:00:00Z")))).toEqual([
      "2023-02-28T00:00:00.000Z",
      "2023-03-31T00:00:00.000Z",
    ]);
    expect(periodContaining(anchor, "month", anchor).start).toBe(anchor);
    expect(periodContaining(anchor, "month", anchor - 1).end).toBe(anchor);
  });

  it("respects the anchor's time of day at boundaries", () => {
    const a = t("2024-01-31T15:30:00Z");
    expect(span(periodContaining(a, "month", t("2024-02-29T15:29:59.999Z")))).toEqual([
      "2024-01-31T15:30:00.000Z",
      "2024-02-29T15:30:00.000Z",
    ]);
    expect(span(periodContaining(a, "month", t("2024-02-29T15:30:00Z")))).toEqual([
      "2024-02-29T15:30:00.000Z",
      "2024-03-31T15:30:00.000Z",
    ]);
  });

  it("crosses year ends", () => {
    const a = t("2023-12-15T08:00:00Z");
    expect(span(periodContaining(a, "month", t("2024-01-03T00:00:00Z")))).toEqual([
      "2023-12-15T08:00:00.000Z",
      "2024-01-15T08:00:00.000Z",
    ]);
    expect(periodIndex(a, "month", t("2025-12-15T08:00:00Z"))).toBe(24);
  });

  it("handles annual periods, including a Feb 29 anchor", () => {
    const a = t("2024-02-29T10:00:00Z");
    expect(span(periodContaining(a, "year", t("2025-06-01T00:00:00Z")))).toEqual([
      "2025-02-28T10:00:00.000Z",
      "2026-02-28T10:00:00.000Z",
    ]);
    expect(span(periodContaining(a, "year", t("2028-02-29T09:59:59Z")))).toEqual([
      "2027-02-28T10:00:00.000Z",
      "2028-02-29T10:00:00.000Z",
    ]);
    expect(periodIndex(a, "year", t("2028-02-29T10:00:00Z"))).toBe(4);
    expect(periodIndex(a, "year", t("2025-02-28T09:00:00Z"))).toBe(0);
  });

  it("counts backwards for instants before the anchor", () => {
    expect(periodIndex(anchor, "month", t("2022-12-31T00:00:00Z"))).toBe(-1);
    expect(span(periodContaining(anchor, "month", t("2022-12-20T00:00:00Z")))).toEqual([
      "2022-11-30T00:00:00.000Z",
      "2022-12-31T00:00:00.000Z",
    ]);
  });

  it("agrees with a brute-force scan (seeded random instants)", () => {
    let seed = 42;
    const rand = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed / 2_147_483_648;
    };
    const anchors = ["2023-01-31T23:59:59Z", "2024-02-29T00:00:00Z", "2023-05-30T12:00:00Z"];
    for (const interval of ["month", "year"] as const) {
      for (const a of anchors.map(t)) {
        for (let k = 0; k < 300; k++) {
          const at = a + Math.floor((rand() - 0.2) * 6 * 365 * 86_400_000);
          let n = 0;
          while (nthPeriodStart(a, interval, n) > at) n--;
          while (nthPeriodStart(a, interval, n + 1) <= at) n++;
          expect(periodIndex(a, interval, at)).toBe(n);
          const p = periodContaining(a, interval, at);
          expect(p).toEqual(nthPeriod(a, interval, n));
          expect(p.start <= at && at < p.end).toBe(true);
        }
      }
    }
  });

  it("rejects non-integer instants", () => {
    expect(() => periodContaining(Number.NaN, "month", 0)).toThrow(RangeError);
    expect(() => periodContaining(0, "month", 1.5)).toThrow(RangeError);
  });
});
