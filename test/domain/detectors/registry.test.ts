import { describe, expect, it } from "vitest";
import { CustomerDetection, type HourRow } from "../../../domain/detection";
import {
  DETECTOR_SPECS,
  DETECTORS,
  detectorSpec,
  mergePolicy,
  POLICY_MAPS,
  RUNGS,
} from "../../../domain/detectors";
import {
  DEFAULT_POLICY,
  resolvePolicy,
  rungFor,
  validatePolicyDocument,
} from "../../../domain/ladder";

const HOUR = 3_600_000;
const START = Date.UTC(2026, 0, 5);

describe("the detector registry", () => {
  it("one spec per detector: unique names and keys, a trigger, valid defaults and rungs", () => {
    expect(DETECTORS).toEqual([
      "BillableUnitAnomalyDetector",
      "WeeklyChurnSignalDetector",
      "QuotaPacingProjectionService",
      "MarginGuard",
      "CostSpikeDetector",
      "PastDueDetector",
      "BudgetMarginDetector",
      "BudgetCostSpikeDetector",
    ]);
    expect(new Set(DETECTOR_SPECS.map((s) => s.key)).size).toBe(DETECTOR_SPECS.length);
    for (const spec of DETECTOR_SPECS) {
      expect(["batch", "closed_hour", "closed_day", "tenant"]).toContain(spec.trigger);
      expect(detectorSpec(spec.name)).toBe(spec);
      for (const r of spec.ladder.rungs) expect(RUNGS).toContain(r);
      const defaults =
        typeof spec.ladder.default === "string"
          ? [spec.ladder.default]
          : Object.values(spec.ladder.default);
      for (const r of defaults) expect(spec.ladder.rungs).toContain(r);
      for (const f of spec.policy.fields) {
        const value = f.key
          .split(".")
          .reduce<unknown>(
            (o, k) => (o as Record<string, unknown> | undefined)?.[k],
            spec.policy.defaults,
          );
        expect(value, `${spec.key}.${f.key}`).toBeDefined();
      }
    }
    expect(validatePolicyDocument(DEFAULT_POLICY)).toEqual([]);
  });

  it("every map an override replaces whole is listed once, in POLICY_MAPS", () => {
    const at = (path: string) =>
      path
        .split(".")
        .reduce<unknown>((o, k) => (o as Record<string, unknown>)?.[k], DEFAULT_POLICY);
    for (const p of POLICY_MAPS) expect(at(p), p).toBeTypeOf("object");
    for (const spec of DETECTOR_SPECS) {
      if (spec.ladder.kind === "map") expect(POLICY_MAPS).toContain(`ladder.${spec.key}`);
    }
    // The one merge: the quota map is replaced whole, a keyed section merges.
    const merged = mergePolicy(DEFAULT_POLICY, [
      { ladder: { quota_pacing: { "90": "BLOCK" }, margin: { L1: "THROTTLE" } } },
    ]);
    expect(merged.ladder.quota_pacing).toEqual({ "90": "BLOCK" });
    expect(merged.ladder.margin).toEqual({ L1: "THROTTLE", L2: "THROTTLE", L3: "BLOCK" });
    expect(resolvePolicy([{ ladder: { quota_pacing: { "90": "BLOCK" } } }]).ladder).toEqual(
      mergePolicy(DEFAULT_POLICY, [{ ladder: { quota_pacing: { "90": "BLOCK" } } }]).ladder,
    );
  });

  it("maps each detector's signals to its default rungs", () => {
    const l = DEFAULT_POLICY.ladder;
    const sig = (detector: string, direction?: "spike" | "drop", details = {}) => ({
      detector,
      ...(direction ? { direction } : {}),
      details,
    });
    expect(rungFor(sig("BillableUnitAnomalyDetector", "drop"), l)).toBe("ALERT");
    expect(rungFor(sig("WeeklyChurnSignalDetector", "drop"), l)).toBe("escalate");
    expect(rungFor(sig("QuotaPacingProjectionService", undefined, { threshold_pct: 120 }), l)).toBe(
      "THROTTLE",
    );
    expect(rungFor(sig("QuotaPacingProjectionService", undefined, { threshold_pct: 150 }), l)).toBe(
      "ALERT",
    );
    expect(rungFor(sig("MarginGuard", undefined, { level: "L3" }), l)).toBe("BLOCK");
    expect(rungFor(sig("CostSpikeDetector", "spike"), l)).toBe("ALERT");
    expect(rungFor(sig("CostSpikeDetector", "spike"), { ...l, cost_spike: "THROTTLE" })).toBe(
      "THROTTLE",
    );
  });

  it("validates a new detector's ladder and thresholds like the others'", () => {
    const doc = resolvePolicy([
      { ladder: { cost_spike: "escalate" }, detectors: { cost_spike: { min_ratio: 0.5 } } },
    ]);
    expect(validatePolicyDocument(doc)).toEqual([
      { path: "detectors.cost_spike.min_ratio", message: "must be greater than 1" },
      { path: "ladder.cost_spike", message: "must be one of ALERT, THROTTLE, BLOCK" },
    ]);
  });

  it("detection runs a closed-hour detector from the registry: COGS per product, source events", () => {
    const kv = new Map<string, unknown>();
    const rows: HourRow[] = [];
    for (let h = 0; h < 15 * 24; h++) {
      for (const metric of ["input_tokens", "output_tokens"]) {
        const cost = h === 14 * 24 + 10 ? 60 : 4 + (h % 3);
        rows.push({
          start: START + h * HOUR,
          product: "chat-api",
          metric,
          units: 1000,
          events: 10,
          revenue: 1,
          cost,
        });
      }
    }
    const detection = new CustomerDetection(
      "acme",
      { get: <T>(k: string) => kv.get(k) as T | undefined, put: (k, v) => void kv.set(k, v) },
      {
        hours: (from, to) => rows.filter((r) => r.start >= from && r.start < to),
        days: () => [],
        totals: () => [],
        committed: () => new Map(),
        largestEvents: (from) => [`evt_${(from - START) / HOUR}`],
      },
      () => resolvePolicy([]).detectors,
    );
    kv.set("det:next_hour", START);
    kv.set("det:next_day", START);
    const signals = detection.closeThrough(START + 15 * 24 * HOUR);
    const spikes = signals.filter((s) => s.detector === "CostSpikeDetector");
    expect(spikes).toHaveLength(1);
    expect(spikes[0]).toMatchObject({
      idempotency_key: "CostSpikeDetector|acme|chat-api|2026-01-19T10:00Z",
      product: "chat-api",
      source_event_ids: [`evt_${14 * 24 + 10}`],
      details: { cost: 120 },
    });
    expect(kv.get("det:cost_products")).toEqual(["chat-api"]);
    // Closing again changes nothing.
    expect(detection.closeThrough(START + 15 * 24 * HOUR)).toEqual([]);
  });
});
