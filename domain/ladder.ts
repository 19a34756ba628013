// The policy document and the action ladder (SPEC §3 "policy", §6, §7). Pure.
//
// A tenant's policy is the defaults below overridden by the tenant's document, then the
// product's, then the customer's (objects merge, arrays and scalars replace). It holds the
// detector thresholds, which rung each kind of signal maps to, which rungs run automatically,
// and the gate's rates.
//
// Rules decided here:
// - Every rung that touches the customer (THROTTLE, BLOCK, extend_trial, apply_coupon,
//   escalate) is OFF by default: the action is recorded as queued until an operator executes
//   it or switches the rung on. ALERT only notifies the operator's own channels, so it is on by
//   default; switching it off queues alerts too.
// - Default mapping: anomaly → ALERT; churn → escalate; quota pacing 80 % and 100 % → ALERT,
//   120 % → THROTTLE; margin L1 → ALERT, L2 → THROTTLE, L3 → BLOCK.

import {
  DEFAULT_POLICIES,
  type DetectorPolicies,
  type PolicyOverride,
  resolvePolicies,
  type Signal,
  validatePolicy,
} from "./detectors";

export const RUNGS = [
  "ALERT",
  "THROTTLE",
  "BLOCK",
  "extend_trial",
  "apply_coupon",
  "escalate",
] as const;
export type Rung = (typeof RUNGS)[number];
export const GATE_RUNGS: readonly Rung[] = ["ALERT", "THROTTLE", "BLOCK"];
export const CHURN_RUNGS: readonly Rung[] = ["ALERT", "extend_trial", "apply_coupon", "escalate"];

export interface LadderPolicy {
  anomaly: { spike: Rung; drop: Rung };
  churn: Rung;
  /** Threshold percent (as a string key) → rung; thresholds not listed map to ALERT. */
  quota_pacing: Record<string, Rung>;
  margin: { L1: Rung; L2: Rung; L3: Rung };
}

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
  ladder?: Partial<Omit<LadderPolicy, "anomaly" | "margin">> & {
    anomaly?: Partial<LadderPolicy["anomaly"]>;
    margin?: Partial<LadderPolicy["margin"]>;
  };
  auto_actions?: Partial<Record<Rung, boolean>>;
  gate?: Partial<GatePolicy>;
  actions?: Partial<ActionSettings>;
}

export const DEFAULT_POLICY: PolicyDocument = {
  detectors: DEFAULT_POLICIES,
  ladder: {
    anomaly: { spike: "ALERT", drop: "ALERT" },
    churn: "escalate",
    quota_pacing: { "80": "ALERT", "100": "ALERT", "120": "THROTTLE" },
    margin: { L1: "ALERT", L2: "THROTTLE", L3: "BLOCK" },
  },
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

/** Defaults ← tenant ← product ← customer. */
export function resolvePolicy(
  overrides: readonly (PolicyOverrideDocument | undefined)[],
  base: PolicyDocument = DEFAULT_POLICY,
): PolicyDocument {
  let out = base;
  for (const o of overrides) {
    if (!o) continue;
    out = {
      detectors: resolvePolicies([o.detectors], out.detectors),
      ladder: {
        anomaly: { ...out.ladder.anomaly, ...o.ladder?.anomaly },
        churn: o.ladder?.churn ?? out.ladder.churn,
        quota_pacing: o.ladder?.quota_pacing ?? out.ladder.quota_pacing,
        margin: { ...out.ladder.margin, ...o.ladder?.margin },
      },
      auto_actions: { ...out.auto_actions, ...o.auto_actions },
      gate: { ...out.gate, ...o.gate },
      actions: { ...out.actions, ...o.actions },
    };
  }
  return out;
}

/** Everything wrong with a resolved policy, as {path, message}. */
export function validatePolicyDocument(doc: PolicyDocument): { path: string; message: string }[] {
  const issues = validatePolicy(doc.detectors).map((i) => ({ ...i, path: `detectors.${i.path}` }));
  const rung = (path: string, value: string, allowed: readonly Rung[]) => {
    if (!allowed.includes(value as Rung)) {
      issues.push({ path, message: `must be one of ${allowed.join(", ")}` });
    }
  };
  rung("ladder.anomaly.spike", doc.ladder.anomaly.spike, GATE_RUNGS);
  rung("ladder.anomaly.drop", doc.ladder.anomaly.drop, GATE_RUNGS);
  rung("ladder.churn", doc.ladder.churn, CHURN_RUNGS);
  for (const [pct, r] of Object.entries(doc.ladder.quota_pacing)) {
    if (!/^\d+(\.\d+)?$/.test(pct))
      issues.push({
        path: `ladder.quota_pacing.${pct}`,
        message: "key must be a threshold percent",
      });
    rung(`ladder.quota_pacing.${pct}`, r, GATE_RUNGS);
  }
  rung("ladder.margin.L1", doc.ladder.margin.L1, GATE_RUNGS);
  rung("ladder.margin.L2", doc.ladder.margin.L2, GATE_RUNGS);
  rung("ladder.margin.L3", doc.ladder.margin.L3, GATE_RUNGS);
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

/** The rung a signal maps to under a policy. */
export function rungFor(
  signal: Pick<Signal, "detector" | "direction" | "details">,
  ladder: LadderPolicy,
): Rung {
  switch (signal.detector) {
    case "BillableUnitAnomalyDetector":
      return signal.direction === "drop" ? ladder.anomaly.drop : ladder.anomaly.spike;
    case "WeeklyChurnSignalDetector":
      return ladder.churn;
    case "QuotaPacingProjectionService":
      return ladder.quota_pacing[String(signal.details.threshold_pct)] ?? "ALERT";
    case "MarginGuard": {
      const level = signal.details.level;
      return level === "L1" || level === "L2" || level === "L3" ? ladder.margin[level] : "ALERT";
    }
  }
}

export type GateTier = "normal" | "throttled" | "blocked";

/** The gate tier implied by the actions in force for a customer: any executed BLOCK blocks,
 * else any executed THROTTLE throttles. */
export function tierFor(inForce: readonly Rung[]): GateTier {
  if (inForce.includes("BLOCK")) return "blocked";
  if (inForce.includes("THROTTLE")) return "throttled";
  return "normal";
}
