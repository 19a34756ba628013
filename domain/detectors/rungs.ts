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
/** A "keys" ladder's key for detectors whose signals carry their level (L1–L3) in
 * `details.level`: the level, or null (ALERT) for anything else. */
export const levelKey = (signal: {
  details: Record<string, unknown>;
}): "L1" | "L2" | "L3" | null => {
  const level = signal.details.level;
  return level === "L1" || level === "L2" || level === "L3" ? level : null;
};

export const CHURN_RUNGS: readonly Rung[] = ["ALERT", "extend_trial", "apply_coupon", "escalate"];
