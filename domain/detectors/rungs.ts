// The rungs of the action ladder (SPEC §6), defined here so each detector's spec can say which
// rungs its signals may take; domain/ladder.ts re-exports them.

export const RUNGS = [
  "ALERT",
  "THROTTLE",
  "BLOCK",
  "extend_trial",
  "apply_coupon",
  "escalate",
] as const;
export type Rung = (typeof RUNGS)[number];
/** Rungs that act on the customer's traffic (and ALERT): for usage, pacing, margin and cost. */
export const GATE_RUNGS: readonly Rung[] = ["ALERT", "THROTTLE", "BLOCK"];
/** Rungs that try to keep a customer (and ALERT): for churn. */
export const CHURN_RUNGS: readonly Rung[] = ["ALERT", "extend_trial", "apply_coupon", "escalate"];
