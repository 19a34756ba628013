// Pacing quality (SPEC §10: "every injected case found, no false ones") and the case for the
// weekday-weighted projection: on weekly-seasonal daily usage (weekday- or weekend-heavy
// customers, day noise, slow trend, monthly periods) its MAPE against the actual period totals
// is lower than the linear run rate's. scripts/bench-detectors.ts prints the figures.

import { describe, expect, it } from "vitest";
import { measurePacingCases, measurePacingMape } from "../../../domain/detectors/quality";

describe("QuotaPacingProjectionService quality", () => {
  it.each([1, 2, 3])(
    "seed %i: the weekday-weighted projection beats the linear run rate",
    (seed) => {
      const m = measurePacingMape(seed);
      expect(m.points).toBeGreaterThan(1000);
      expect(m.weighted_mape).toBeLessThan(m.linear_mape * 0.8);
      // Early in the period, where it matters most, by a wide margin.
      const early = m.by_elapsed[0];
      expect(early?.weighted_mape).toBeLessThan((early?.linear_mape ?? 0) * 0.7);
    },
  );

  it.each([1, 2, 3, 4])("seed %i: every threshold crossing found, no false ones", (seed) => {
    const r = measurePacingCases(seed);
    expect(r.failures).toEqual([]);
    expect(r.found).toBe(r.expected);
    expect(r.false_signals).toBe(0);
    expect(r.cases).toBeGreaterThanOrEqual(30);
  });
});
