// The detection engines (SPEC §5), their registry and their policies: pure functions over
// plain, JSON-serialisable, bounded state. See docs/detectors.md.

export * from "./anomaly";
export * from "./churn";
export * from "./cost-spike";
export * from "./margin-guard";
export * from "./policy";
export * from "./policy-merge";
export * from "./quota-pacing";
export * from "./registry";
export * from "./rungs";
export * from "./spec";
export * from "./time";
export * from "./types";
