// The four detection engines (SPEC §5) and their policies: pure functions over plain,
// JSON-serialisable, bounded state. See docs/detectors.md.

export * from "./anomaly";
export * from "./churn";
export * from "./margin-guard";
export * from "./policy";
export * from "./quota-pacing";
export * from "./time";
export * from "./types";
