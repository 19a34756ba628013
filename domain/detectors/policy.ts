// Detector thresholds (SPEC §3 "policy", §5): the `detectors` section of the policy document.
// Each detector declares its own section (type, shipped defaults, validator) in its module and
// the registry lists them; this module puts them together: the defaults, the tenant → product →
// customer merge (domain/detectors/policy-merge.ts, the one merge rule) and a validator that
// names every nonsense field.

import { asRecord, type PolicyIssue } from "./policy-check";
import { mergePolicy, POLICY_MAPS, type PolicyTree } from "./policy-merge";
import { DETECTOR_SPECS, type DetectorPolicies } from "./registry";

export type { AnomalyPolicy } from "./anomaly";
export { DEFAULT_ANOMALY_POLICY } from "./anomaly";
export type { BudgetCostSpikePolicy, BudgetMarginPolicy } from "./budget";
export {
  DEFAULT_BUDGET_COST_SPIKE_POLICY,
  DEFAULT_BUDGET_MARGIN_POLICY,
} from "./budget";
export type { ChurnPolicy } from "./churn";
export { DEFAULT_CHURN_POLICY } from "./churn";
export type { CostSpikePolicy } from "./cost-spike";
export { DEFAULT_COST_SPIKE_POLICY } from "./cost-spike";
export type { MarginLevels, MarginPolicy } from "./margin-guard";
export { DEFAULT_MARGIN_POLICY } from "./margin-guard";
export type { PastDuePolicy } from "./past-due";
export { DEFAULT_PAST_DUE_POLICY } from "./past-due";
export type { PolicyIssue } from "./policy-check";
export type { QuotaPacingPolicy } from "./quota-pacing";
export { DEFAULT_QUOTA_PACING_POLICY } from "./quota-pacing";
export type { DetectorPolicies } from "./registry";

export const DEFAULT_POLICIES: DetectorPolicies = Object.fromEntries(
  DETECTOR_SPECS.map((s) => [s.key, s.policy.defaults]),
) as DetectorPolicies;

/** Every setting optional, at any depth (arrays and maps are replaced whole). */
export type DeepPartial<T> = T extends readonly unknown[]
  ? T
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T;

/** An override of the `detectors` section: any subset of any detector's settings. */
export type PolicyOverride = { [K in keyof DetectorPolicies]?: DeepPartial<DetectorPolicies[K]> };

/** POLICY_MAPS inside the `detectors` section. */
const DETECTOR_MAPS = POLICY_MAPS.filter((p) => p.startsWith("detectors.")).map((p) =>
  p.slice("detectors.".length),
);

/** Applies overrides in order (tenant, then product, then customer) over the defaults (the
 * merge rule of policy-merge.ts). Only registered detectors' sections are kept. Validate the
 * result with validatePolicy. */
export function resolvePolicies(
  overrides: readonly (PolicyOverride | undefined)[] = [],
  base: DetectorPolicies = DEFAULT_POLICIES,
): DetectorPolicies {
  const merged = mergePolicy(base as PolicyTree, overrides as PolicyTree[], DETECTOR_MAPS);
  // A fresh object: callers may keep or change it without touching the defaults.
  return structuredClone(
    Object.fromEntries(DETECTOR_SPECS.map((s) => [s.key, merged[s.key]])),
  ) as DetectorPolicies;
}

/** Every problem with a (complete) policies object, as `{path, message}` (empty when valid). */
export function validatePolicy(input: unknown): PolicyIssue[] {
  const issues: PolicyIssue[] = [];
  const root = asRecord(input, "", issues);
  if (!root) return issues;
  for (const spec of DETECTOR_SPECS) {
    const section = root[spec.key];
    if (section === undefined && "optional" in spec.policy && spec.policy.optional) continue;
    const r = asRecord(section, spec.key, issues);
    if (r) spec.policy.validate(r, spec.key, issues);
  }
  return issues;
}
