import { describe, expect, it } from "vitest";
import { checkQuery } from "../../../domain/reports/query";
import {
  resolveRange,
  TEMPLATES,
  templateOf,
  templateReport,
} from "../../../domain/reports/templates";

const T = (s: string) => Date.parse(s);

describe("report templates", () => {
  it("every template is a query the catalog accepts, in any zone", () => {
    const now = T("2026-12-07T10:30:00Z");
    for (const zone of ["UTC", "America/New_York", "Asia/Kolkata", "Pacific/Auckland"]) {
      for (const t of TEMPLATES) {
        const r = templateReport(t, now, zone);
        const checked = checkQuery(r.query, "UTC");
        expect(checked.ok ? [] : checked.issues, `${t.id} in ${zone}`).toEqual([]);
        expect(r.template).toBe(t.id);
        expect(templateOf(r.id)).toBe(t);
      }
    }
    expect(new Set(TEMPLATES.map((t) => t.id)).size).toBe(TEMPLATES.length);
    expect(templateOf("rpt_revenue_summary")).toBeUndefined();
  });

  it("resolves the last N days to local midnights, today included", () => {
    // 10:30 UTC is 05:30 in New York (EST): today is 7 December there.
    expect(resolveRange({ days: 7 }, T("2026-12-07T10:30:00Z"), "America/New_York")).toEqual([
      T("2026-12-01T05:00:00Z"),
      T("2026-12-08T05:00:00Z"),
    ]);
    // 03:00 UTC on 7 December is still 6 December in New York.
    expect(resolveRange({ days: 1 }, T("2026-12-07T03:00:00Z"), "America/New_York")).toEqual([
      T("2026-12-06T05:00:00Z"),
      T("2026-12-07T05:00:00Z"),
    ]);
    // Across the DST change of 1 November: the first day starts at EDT, the last ends at EST.
    expect(resolveRange({ days: 7 }, T("2026-11-04T12:00:00Z"), "America/New_York")).toEqual([
      T("2026-10-29T04:00:00Z"),
      T("2026-11-05T05:00:00Z"),
    ]);
  });

  it("resolves the last N months to local month starts, the current month included", () => {
    expect(resolveRange({ months: 12 }, T("2026-12-07T10:30:00Z"), "UTC")).toEqual([
      T("2026-01-01T00:00:00Z"),
      T("2026-12-08T00:00:00Z"),
    ]);
    expect(resolveRange({ months: 3 }, T("2026-12-07T10:30:00Z"), "Asia/Kolkata")).toEqual([
      T("2026-09-30T18:30:00Z"),
      T("2026-12-07T18:30:00Z"),
    ]);
  });
});
