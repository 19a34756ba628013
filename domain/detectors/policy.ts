// Detector thresholds (SPEC §3 "policy", §5): plain typed objects with shipped defaults, a merge
// for tenant → product → customer overrides, and a validator that names every nonsense field.
// The anomaly defaults are the ones measured in test/domain/detectors/anomaly-quality.test.ts
// and docs/detectors.md (precision ≥ 0.8, recall ≥ 0.9 on seasonal, overdispersed usage).

export interface AnomalyPolicy {
  /** σ multiple: |z| ≥ k on the square-root scale (z is an honest one-step-ahead z-score). */
  k: number;
  /** Days of history before the detector speaks for a (customer, metric). */
  min_history_days: number;
  /** Complete days observed in the hour's slot (hour of day × weekday/weekend) before it speaks. */
  min_slot_observations: number;
  /** Tolerance band above expected: a spike must be k σ beyond expected × (1 + this / 100). */
  min_spike_pct: number;
  /** Tolerance band below expected: a drop must be k σ below expected × (1 − this / 100). */
  min_drop_pct: number;
  /** |observed − expected| must be worth at least this many events (units ÷ units per event). */
  min_delta_events: number;
  /** After this many consecutive flagged hours in one direction the baseline re-levels. */
  regime_shift_hours: number;
  /** Longest run of consecutive hours whose sum is also tested (1–3; 1 = single hours only, no
   * window or continuation signals). */
  max_window_hours: number;
}

export interface ChurnPolicy {
  /** Fires when the last 7 days fell at least this many percent versus the 7 before. */
  drop_pct: number;
  /** Days of history (day closes) before it speaks. */
  min_history_days: number;
  /** A metric takes part only if its previous-7-day units reach this (near-zero usage is noise). */
  min_prev_week_units: number;
  /** Per-metric overrides of min_prev_week_units (tokens need a larger floor than calls). */
  min_prev_week_units_by_metric: Record<string, number>;
}

export interface QuotaPacingPolicy {
  /** Percent of the included quota; each fires once per period. Strictly increasing. */
  thresholds: number[];
  /** Projections are not trusted before this fraction of the period has elapsed (usage that has
   * already crossed a threshold fires regardless: that is a fact, not a projection). */
  min_elapsed_fraction: number;
  /** Complete observations of every weekday before the weekday-weighted projection is used. */
  min_profile_weeks: number;
  /** A projection fires only when it is past the threshold by this many standard errors. */
  confidence_z: number;
}

export interface MarginLevels {
  L1: number;
  L2: number;
  L3: number;
}

export interface MarginPolicy {
  /** Margin fractions, L1 > L2 > L3: margin below L1 fires L1, below L2 fires L2, … */
  levels: MarginLevels;
  /** No margin judgement before period-to-date revenue reaches this (currency units)… */
  min_revenue: number;
  /** …unless period-to-date COGS reaches this: then revenue 0 counts as margin −∞. */
  min_cogs: number;
  /** Optionally wait for this fraction of the period (0 = off). */
  min_elapsed_fraction: number;
}

export interface DetectorPolicies {
  anomaly: AnomalyPolicy;
  churn: ChurnPolicy;
  quota_pacing: QuotaPacingPolicy;
  margin: MarginPolicy;
}

export const DEFAULT_ANOMALY_POLICY: AnomalyPolicy = {
  k: 2,
  min_history_days: 7,
  min_slot_observations: 2,
  min_spike_pct: 50,
  min_drop_pct: 40,
  min_delta_events: 10,
  regime_shift_hours: 6,
  max_window_hours: 3,
};

export const DEFAULT_CHURN_POLICY: ChurnPolicy = {
  drop_pct: 50,
  min_history_days: 14,
  min_prev_week_units: 100,
  min_prev_week_units_by_metric: {},
};

export const DEFAULT_QUOTA_PACING_POLICY: QuotaPacingPolicy = {
  thresholds: [80, 100, 120],
  min_elapsed_fraction: 0.2,
  min_profile_weeks: 2,
  confidence_z: 1,
};

export const DEFAULT_MARGIN_POLICY: MarginPolicy = {
  levels: { L1: 0.3, L2: 0.1, L3: 0 },
  min_revenue: 50,
  min_cogs: 10,
  min_elapsed_fraction: 0,
};

export const DEFAULT_POLICIES: DetectorPolicies = {
  anomaly: DEFAULT_ANOMALY_POLICY,
  churn: DEFAULT_CHURN_POLICY,
  quota_pacing: DEFAULT_QUOTA_PACING_POLICY,
  margin: DEFAULT_MARGIN_POLICY,
};

export interface PolicyOverride {
  anomaly?: Partial<AnomalyPolicy>;
  churn?: Partial<ChurnPolicy>;
  quota_pacing?: Partial<QuotaPacingPolicy>;
  margin?: Partial<Omit<MarginPolicy, "levels">> & { levels?: Partial<MarginLevels> };
}

/** Applies overrides in order (tenant, then product, then customer) over the defaults. Arrays
 * and maps are replaced, not merged. Validate the result with validatePolicy. */
export function resolvePolicies(
  overrides: readonly (PolicyOverride | undefined)[] = [],
  base: DetectorPolicies = DEFAULT_POLICIES,
): DetectorPolicies {
  let out: DetectorPolicies = {
    anomaly: { ...base.anomaly },
    churn: { ...base.churn },
    quota_pacing: { ...base.quota_pacing, thresholds: [...base.quota_pacing.thresholds] },
    margin: { ...base.margin, levels: { ...base.margin.levels } },
  };
  for (const o of overrides) {
    if (!o) continue;
    out = {
      anomaly: { ...out.anomaly, ...o.anomaly },
      churn: { ...out.churn, ...o.churn },
      quota_pacing: { ...out.quota_pacing, ...o.quota_pacing },
      margin: {
        ...out.margin,
        ...o.margin,
        levels: { ...out.margin.levels, ...o.margin?.levels },
      },
    };
  }
  return out;
}

export interface PolicyIssue {
  path: string;
  message: string;
}

/** Every problem with a (complete) policies object, as `{path, message}` (empty when valid). */
export function validatePolicy(input: unknown): PolicyIssue[] {
  const issues: PolicyIssue[] = [];
  const root = asRecord(input, "", issues);
  if (!root) return issues;
  const num = (obj: Rec, section: string, key: string, check: (x: number) => string | null) => {
    const path = `${section}.${key}`;
    const x = obj[key];
    if (typeof x !== "number" || !Number.isFinite(x)) {
      issues.push({ path, message: "must be a finite number" });
      return undefined;
    }
    const problem = check(x);
    if (problem) issues.push({ path, message: problem });
    return problem ? undefined : x;
  };
  const positive = (x: number) => (x > 0 ? null : "must be greater than 0");
  const nonNegative = (x: number) => (x >= 0 ? null : "must not be negative");
  const fraction = (x: number) => (x >= 0 && x < 1 ? null : "must be in [0, 1)");
  const pct = (x: number) => (x > 0 && x <= 100 ? null : "must be in (0, 100]");
  const positiveInt = (x: number) =>
    Number.isInteger(x) && x >= 1 ? null : "must be a whole number ≥ 1";
  const nonNegativeInt = (x: number) =>
    Number.isInteger(x) && x >= 0 ? null : "must be a whole number ≥ 0";

  const a = asRecord(root.anomaly, "anomaly", issues);
  if (a) {
    num(a, "anomaly", "k", positive);
    num(a, "anomaly", "min_history_days", positiveInt);
    num(a, "anomaly", "min_slot_observations", nonNegativeInt);
    num(a, "anomaly", "min_spike_pct", nonNegative);
    num(a, "anomaly", "min_drop_pct", (x) => (x >= 0 && x <= 100 ? null : "must be in [0, 100]"));
    num(a, "anomaly", "min_delta_events", nonNegative);
    num(a, "anomaly", "regime_shift_hours", positiveInt);
    num(a, "anomaly", "max_window_hours", (x) =>
      Number.isInteger(x) && x >= 1 && x <= 3
        ? null
        : "must be a whole number of hours from 1 to 3",
    );
  }

  const c = asRecord(root.churn, "churn", issues);
  if (c) {
    num(c, "churn", "drop_pct", pct);
    num(c, "churn", "min_history_days", (x) =>
      Number.isInteger(x) && x >= 14 && x <= 3650
        ? null
        : "must be a whole number of days ≥ 14 (two full weeks are compared)",
    );
    num(c, "churn", "min_prev_week_units", nonNegative);
    const by = asRecord(
      c.min_prev_week_units_by_metric,
      "churn.min_prev_week_units_by_metric",
      issues,
    );
    if (by) {
      for (const [metric, x] of Object.entries(by)) {
        if (typeof x !== "number" || !Number.isFinite(x) || x < 0) {
          issues.push({
            path: `churn.min_prev_week_units_by_metric.${metric}`,
            message: "must be a finite number ≥ 0",
          });
        }
      }
    }
  }

  const q = asRecord(root.quota_pacing, "quota_pacing", issues);
  if (q) {
    const t = q.thresholds;
    if (!Array.isArray(t) || t.length === 0) {
      issues.push({ path: "quota_pacing.thresholds", message: "must be a non-empty array" });
    } else {
      t.forEach((x, i) => {
        if (typeof x !== "number" || !Number.isFinite(x) || x <= 0) {
          issues.push({ path: `quota_pacing.thresholds.${i}`, message: "must be a percent > 0" });
        } else if (i > 0 && typeof t[i - 1] === "number" && x <= (t[i - 1] as number)) {
          issues.push({
            path: `quota_pacing.thresholds.${i}`,
            message: "thresholds must be strictly increasing",
          });
        }
      });
      if (t.length > 10)
        issues.push({ path: "quota_pacing.thresholds", message: "at most 10 thresholds" });
    }
    num(q, "quota_pacing", "min_elapsed_fraction", fraction);
    num(q, "quota_pacing", "min_profile_weeks", positiveInt);
    num(q, "quota_pacing", "confidence_z", (x) => (x >= 0 && x <= 5 ? null : "must be in [0, 5]"));
  }

  const m = asRecord(root.margin, "margin", issues);
  if (m) {
    const lv = asRecord(m.levels, "margin.levels", issues);
    if (lv) {
      const level = (x: number) =>
        x < 1 ? null : "must be a margin fraction below 1 (0.3 = 30 %)";
      const l1 = num(lv, "margin.levels", "L1", level);
      const l2 = num(lv, "margin.levels", "L2", level);
      const l3 = num(lv, "margin.levels", "L3", level);
      if (l1 !== undefined && l2 !== undefined && !(l2 < l1))
        issues.push({ path: "margin.levels.L2", message: "must be below L1 (L1 > L2 > L3)" });
      if (l2 !== undefined && l3 !== undefined && !(l3 < l2))
        issues.push({ path: "margin.levels.L3", message: "must be below L2 (L1 > L2 > L3)" });
    }
    num(m, "margin", "min_revenue", nonNegative);
    num(m, "margin", "min_cogs", positive);
    num(m, "margin", "min_elapsed_fraction", fraction);
  }
  return issues;
}

type Rec = Record<string, unknown>;

function asRecord(x: unknown, path: string, issues: PolicyIssue[]): Rec | null {
  if (typeof x === "object" && x !== null && !Array.isArray(x)) return x as Rec;
  issues.push({ path: path || "(root)", message: "must be an object" });
  return null;
}
