import { describe, expect, it } from "vitest";
import {
  dayOfWeek,
  floorDay,
  floorHour,
  hourOfDay,
  isoHour,
  isoWeek,
} from "../../../domain/detectors/time";
import { idempotencyKey } from "../../../domain/detectors/types";

const t = (iso: string) => Date.parse(iso);

describe("detector time helpers", () => {
  it("ISO weeks, including year boundaries", () => {
    expect(isoWeek(t("2026-11-27T10:03:11Z"))).toBe("2026-W48");
    expect(isoWeek(t("2026-01-01T00:00:00Z"))).toBe("2026-W01"); // a Thursday
    expect(isoWeek(t("2024-12-30T12:00:00Z"))).toBe("2025-W01"); // Monday of 2025's week 1
    expect(isoWeek(t("2021-01-03T23:59:59Z"))).toBe("2020-W53");
    expect(isoWeek(t("2020-12-31T00:00:00Z"))).toBe("2020-W53");
    expect(isoWeek(t("2027-01-03T00:00:00Z"))).toBe("2026-W53");
    expect(isoWeek(t("2027-01-04T00:00:00Z"))).toBe("2027-W01");
  });

  it("day of week (Monday 0), hour of day, floors, labels", () => {
    expect(dayOfWeek(t("2026-11-23T00:00:00Z"))).toBe(0);
    expect(dayOfWeek(t("2026-11-29T23:59:59Z"))).toBe(6);
    expect(dayOfWeek(t("1969-12-29T00:00:00Z"))).toBe(0); // before the epoch
    expect(hourOfDay(t("2026-11-27T10:03:11Z"))).toBe(10);
    expect(floorHour(t("2026-11-27T10:03:11Z"))).toBe(t("2026-11-27T10:00:00Z"));
    expect(floorDay(t("2026-11-27T10:03:11Z"))).toBe(t("2026-11-27T00:00:00Z"));
    expect(isoHour(t("2026-11-27T10:03:11Z"))).toBe("2026-11-27T10:00Z");
  });

  it("idempotency keys escape the separator inside parts", () => {
    expect(idempotencyKey(["MarginGuard", "acme", "*", "2026-11-01T00:00:00.000Z", "L2"])).toBe(
      "MarginGuard|acme|*|2026-11-01T00:00:00.000Z|L2",
    );
    expect(idempotencyKey(["D", "a|b", "c"])).not.toBe(idempotencyKey(["D", "a", "b|c"]));
    expect(idempotencyKey(["D", "50%|x"])).toBe("D|50%25%7Cx");
  });
});
