import { describe, expect, it } from "vitest";
import {
  DEFAULT_POLICIES,
  type DetectorPolicies,
  resolvePolicies,
  validatePolicy,
} from "../../../domain/detectors/policy";

const clone = (): DetectorPolicies => JSON.parse(JSON.stringify(DEFAULT_POLICIES));
const paths = (p: unknown) => validatePolicy(p).map((i) => i.path);

describe("detector policies", () => {
  it("the shipped defaults are valid and as documented", () => {
    expect(validatePolicy(DEFAULT_POLICIES)).toEqual([]);
    expect(DEFAULT_POLICIES.anomaly.k).toBe(2);
    expect(DEFAULT_POLICIES.churn.drop_pct).toBe(50);
    expect(DEFAULT_POLICIES.quota_pacing.thresholds).toEqual([80, 100, 120]);
    expect(DEFAULT_POLICIES.margin.levels).toEqual({ L1: 0.3, L2: 0.1, L3: 0 });
  });

  it("names each nonsense field", () => {
    const p = clone();
    p.anomaly.k = -1;
    p.anomaly.min_drop_pct = 120;
    p.anomaly.regime_shift_hours = 0.5;
    p.churn.drop_pct = 0;
    p.churn.min_history_days = 7;
    p.quota_pacing.thresholds = [80, 120, 100];
    p.quota_pacing.min_elapsed_fraction = 1.5;
    p.margin.levels = { L1: 0.1, L2: 0.3, L3: 0 };
    p.margin.min_cogs = 0;
    expect(paths(p)).toEqual([
      "anomaly.k",
      "anomaly.min_drop_pct",
      "anomaly.regime_shift_hours",
      "churn.drop_pct",
      "churn.min_history_days",
      "quota_pacing.thresholds.2",
      "quota_pacing.min_elapsed_fraction",
      "margin.levels.L2",
      "margin.min_cogs",
    ]);
    const byPath = Object.fromEntries(validatePolicy(p).map((i) => [i.path, i.message]));
    expect(byPath["margin.levels.L2"]).toMatch(/below L1/);
    expect(byPath["quota_pacing.thresholds.2"]).toMatch(/increasing/);
  });

  it("drop_pct must be in (0, 100]; L3 below L2; thresholds positive; types checked", () => {
    const p = clone();
    p.churn.drop_pct = 101;
    p.margin.levels.L3 = 0.1;
    p.quota_pacing.thresholds = [];
    (p.anomaly as unknown as Record<string, unknown>).k = "2";
    expect(paths(p)).toEqual([
      "anomaly.k",
      "churn.drop_pct",
      "quota_pacing.thresholds",
      "margin.levels.L3",
    ]);
    expect(paths(null)).toEqual(["(root)"]);
    expect(paths({})).toEqual(["anomaly", "churn", "quota_pacing", "margin"]);
    const q = clone();
    q.churn.min_prev_week_units_by_metric = { tokens: -5 };
    expect(paths(q)).toEqual(["churn.min_prev_week_units_by_metric.tokens"]);
  });

  it("anomaly.max_window_hours is a whole number of hours from 1 to 3 (default 3)", () => {
    expect(DEFAULT_POLICIES.anomaly.max_window_hours).toBe(3);
    for (const ok of [1, 2, 3]) {
      const p = clone();
      p.anomaly.max_window_hours = ok;
      expect(paths(p)).toEqual([]);
    }
    for (const bad of [0, 4, 2.5, -1]) {
      const p = clone();
      p.anomaly.max_window_hours = bad;
      expect(paths(p)).toEqual(["anomaly.max_window_hours"]);
    }
    expect(resolvePolicies([{ anomaly: { max_window_hours: 1 } }]).anomaly.max_window_hours).toBe(
      1,
    );
  });

  it("resolvePolicies layers tenant → product → customer overrides over the defaults", () => {
    const p = resolvePolicies([
      { anomaly: { k: 3 }, margin: { levels: { L1: 0.4 } } },
      undefined,
      { anomaly: { min_history_days: 14 }, quota_pacing: { thresholds: [90, 110] } },
    ]);
    expect(p.anomaly.k).toBe(3);
    expect(p.anomaly.min_history_days).toBe(14);
    expect(p.anomaly.min_spike_pct).toBe(DEFAULT_POLICIES.anomaly.min_spike_pct);
    expect(p.margin.levels).toEqual({ L1: 0.4, L2: 0.1, L3: 0 });
    expect(p.quota_pacing.thresholds).toEqual([90, 110]);
    expect(validatePolicy(p)).toEqual([]);
    // The defaults are untouched.
    expect(DEFAULT_POLICIES.anomaly.k).toBe(2);
    expect(validatePolicy(resolvePolicies([{ margin: { levels: { L2: 0.5 } } }]))).toEqual([
      { path: "margin.levels.L2", message: "must be below L1 (L1 > L2 > L3)" },
    ]);
  });
});
