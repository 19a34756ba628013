// The policy document and the action ladder (SPEC §3 "policy", §6, §7). Pure.
//
// A tenant's policy is the defaults below overridden by the tenant's document, then the
// product's, then the customer's (domain/detectors/policy-merge.ts: objects merge, arrays and
// scalars replace, maps replace whole). It holds the detector thresholds, which rung each kind of
// signal maps to, which rungs run automatically, and the gate's rates. The detector parts (the
// `detectors` and `ladder` sections: defaults, allowed rungs, validation, which rung a signal
// takes) come from each detector's spec in domain/detectors/registry.ts.
//
// Rules decided here:
// - Every rung that touches the customer (THROTTLE, BLOCK, extend_trial, apply_coupon,
//   escalate) is OFF by default: the action is recorded as queued until an operator executes
//   it or switches the rung on. ALERT only notifies the operator's own channels, so it is on by
//   default; switching it off queues alerts too.
// - Default mapping (the specs' defaults): anomaly → ALERT; churn → escalate; quota pacing 80 %
//   and 100 % → ALERT, 120 % → THROTTLE; margin L1 → ALERT, L2 → THROTTLE, L3 → BLOCK; COGS
//   spike → ALERT.

import {
  DEFAULT_POLICIES,
  DETECTOR_SPECS,
  type DeepPartial,
  type DetectorPolicies,
  detectorSpec,
  type LadderPolicy,
  mergePolicy,
  type PolicyOverride,
  type PolicyTree,
  type Rung,
  type Signal,
  validatePolicy,
} from "./detectors";

export type { LadderPolicy } from "./detectors";
export { CHURN_RUNGS, GATE_RUNGS, RUNGS, type Rung } from "./detectors";

/** The shape of each detector's `ladder.<key>` section (from the registry), for the policy
 * route's schema: one rung, a rung per fixed key, or a map of rungs replaced whole. */
export const LADDER_SECTIONS: readonly {
  key: string;
  kind: "rung" | "keys" | "map";
  keys: string[];
}[] = DETECTOR_SPECS.map((d) => ({
  key: d.key,
  kind: d.ladder.kind,
  keys: d.ladder.kind === "keys" ? Object.keys(d.ladder.default) : [],
}));

export interface GatePolicy {
  /** Token bucket: sustained requests (or units) per second and burst size. */
  rate_per_second: number;
  burst: number;
  /** The reduced rate while THROTTLE is in force. */
  throttled_rate_per_second: number;
}

export interface ActionSettings {
  extend_trial_days: number;
  coupon_percent: number;
  /** How long an applied coupon lasts, in days. */
  coupon_days: number;
  /** Where `escalate` sends a churn signal when the customer names no account owner
   * (`metadata.account_owner`): an e-mail address (the policy API checks it), or "" for nobody
   * (the step then fails). */
  escalate_to: string;
}

export interface PolicyDocument {
  detectors: DetectorPolicies;
  ladder: LadderPolicy;
  auto_actions: Record<Rung, boolean>;
  gate: GatePolicy;
  actions: ActionSettings;
}

export interface PolicyOverrideDocument {
  detectors?: PolicyOverride;
  ladder?: DeepPartial<LadderPolicy>;
  auto_actions?: Partial<Record<Rung, boolean>>;
  gate?: Partial<GatePolicy>;
  actions?: Partial<ActionSettings>;
}

export const DEFAULT_POLICY: PolicyDocument = {
  detectors: DEFAULT_POLICIES,
  ladder: Object.fromEntries(DETECTOR_SPECS.map((d) => [d.key, d.ladder.default])) as LadderPolicy,
  auto_actions: {
    ALERT: true,
    THROTTLE: false,
    BLOCK: false,
    extend_trial: false,
    apply_coupon: false,
    escalate: false,
  },
  gate: { rate_per_second: 100, burst: 200, throttled_rate_per_second: 5 },
  actions: { extend_trial_days: 14, coupon_percent: 20, coupon_days: 30, escalate_to: "" },
};

/** Defaults ← tenant ← product ← customer (the one merge rule, policy-merge.ts); only the
 * registered detectors' sections are kept. */
export function resolvePolicy(
  overrides: readonly (PolicyOverrideDocument | undefined)[],
  base: PolicyDocument = DEFAULT_POLICY,
): PolicyDocument {
  if (overrides.every((o) => !o)) return base;
  const merged = mergePolicy(base as unknown as PolicyTree, overrides as PolicyTree[]);
  const pick = (section: PolicyTree) =>
    Object.fromEntries(DETECTOR_SPECS.map((d) => [d.key, section[d.key]]));
  return {
    detectors: pick(merged.detectors) as DetectorPolicies,
    ladder: pick(merged.ladder) as LadderPolicy,
    auto_actions: merged.auto_actions,
    gate: merged.gate,
    actions: merged.actions,
  };
}

/** Everything wrong with a resolved policy, as {path, message}. */
export function validatePolicyDocument(doc: PolicyDocument): { path: string; message: string }[] {
  const issues = validatePolicy(doc.detectors).map((i) => ({ ...i, path: `detectors.${i.path}` }));
  const rung = (path: string, value: unknown, allowed: readonly Rung[]) => {
    if (!allowed.includes(value as Rung)) {
      issues.push({ path, message: `must be one of ${allowed.join(", ")}` });
    }
  };
  for (const d of DETECTOR_SPECS) {
    const spec = d.ladder;
    const path = `ladder.${d.key}`;
    const value = (doc.ladder as Record<string, unknown>)[d.key];
    if (spec.kind === "rung") {
      rung(path, value, spec.rungs);
    } else if (spec.kind === "keys") {
      const section = (value ?? {}) as Record<string, unknown>;
      for (const key of Object.keys(spec.default)) rung(`${path}.${key}`, section[key], spec.rungs);
    } else {
      for (const [key, r] of Object.entries((value ?? {}) as Record<string, unknown>)) {
        if (spec.keyPattern && !spec.keyPattern.test(key))
          issues.push({ path: `${path}.${key}`, message: spec.keyMessage ?? "unknown key" });
        rung(`${path}.${key}`, r, spec.rungs);
      }
    }
  }
  const g = doc.gate;
  if (!(g.rate_per_second > 0))
    issues.push({ path: "gate.rate_per_second", message: "must be greater than 0" });
  if (!(g.burst >= 1)) issues.push({ path: "gate.burst", message: "must be at least 1" });
  if (!(g.throttled_rate_per_second > 0 && g.throttled_rate_per_second < g.rate_per_second)) {
    issues.push({
      path: "gate.throttled_rate_per_second",
      message: "must be greater than 0 and below gate.rate_per_second",
    });
  }
  const a = doc.actions;
  if (
    !(
      Number.isInteger(a.extend_trial_days) &&
      a.extend_trial_days >= 1 &&
      a.extend_trial_days <= 365
    )
  ) {
    issues.push({
      path: "actions.extend_trial_days",
      message: "must be a whole number of days, 1–365",
    });
  }
  if (!(a.coupon_percent > 0 && a.coupon_percent <= 100)) {
    issues.push({ path: "actions.coupon_percent", message: "must be in (0, 100]" });
  }
  if (!(Number.isInteger(a.coupon_days) && a.coupon_days >= 1)) {
    issues.push({ path: "actions.coupon_days", message: "must be a whole number of days ≥ 1" });
  }
  return issues;
}

/** The rung a signal maps to under a policy: its detector's ladder section, by the key its spec
 * reads from the signal (no key, no entry or an unknown detector: ALERT). */
export function rungFor(
  signal: Pick<Signal, "detector" | "direction" | "details">,
  ladder: LadderPolicy,
): Rung {
  const spec = detectorSpec(signal.detector);
  if (!spec) return "ALERT";
  const section = (ladder as Record<string, unknown>)[spec.key];
  if (spec.ladder.kind === "rung") return section as Rung;
  const key = spec.ladder.keyOf?.(signal) ?? null;
  const mapped = key === null ? undefined : (section as Record<string, Rung>)[key];
  return mapped ?? "ALERT";
}

export type GateTier = "normal" | "throttled" | "blocked";

/** The gate tier implied by the actions in force for a customer: any executed BLOCK blocks,
 * else any executed THROTTLE throttles. */
export function tierFor(inForce: readonly Rung[]): GateTier {
  if (inForce.includes("BLOCK")) return "blocked";
  if (inForce.includes("THROTTLE")) return "throttled";
  return "normal";
}
