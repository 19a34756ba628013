import { describe, expect, it } from "vitest";
import {
  COST_RING,
  type CostSpikePolicy,
  type CostSpikeState,
  costBaseline,
  costSpikeSpec,
  DEFAULT_COST_SPIKE_POLICY,
  evaluateCostHour,
  newCostSpikeState,
} from "../../../domain/detectors/cost-spike";
import { DEFAULT_POLICIES, validatePolicy } from "../../../domain/detectors/policy";
import { gamma, makeRng, negativeBinomial } from "../../../domain/detectors/synthetic";
import { DAY_MS, HOUR_MS, hourOfDay, isWeekend } from "../../../domain/detectors/time";

const START = Date.UTC(2026, 0, 5); // a Monday
const HOURS = 8 * 7 * 24;

/** Hourly COGS of one (customer, product): a daily shape (busy afternoons, quiet nights),
 * quieter weekends, day-to-day shocks and overdispersed request counts behind it. */
function noisyCost(seed: number, usdPerHour: number, dispersion = 30, hours = HOURS): number[] {
  const rng = makeRng(seed);
  const out: number[] = [];
  let shock = 1;
  for (let h = 0; h < hours; h++) {
    const t = START + h * HOUR_MS;
    if (h % 24 === 0) shock = gamma(rng, 40) / 40; // ±16 % day to day
    const shape =
      (0.35 + 0.65 * Math.max(0, Math.sin(((hourOfDay(t) - 6) / 24) * 2 * Math.PI))) *
      (isWeekend(t) ? 0.6 : 1.2);
    // ~100 requests of the hour's mean, each ~1 % of the hour's cost.
    const requests = negativeBinomial(rng, 100 * shape * shock, dispersion);
    out.push((requests * usdPerHour) / 100);
  }
  return out;
}

function feed(
  costs: readonly number[],
  policy: CostSpikePolicy = DEFAULT_COST_SPIKE_POLICY,
  state: CostSpikeState = newCostSpikeState(),
) {
  let s = state;
  const signals = [];
  for (let h = 0; h < costs.length; h++) {
    const r = evaluateCostHour(
      s,
      { customer: "acme", product: "chat-api", hour: START + h * HOUR_MS, cost: costs[h] ?? 0 },
      policy,
    );
    s = r.state;
    signals.push(...r.signals);
  }
  return { state: s, signals };
}

describe("CostSpikeDetector", () => {
  it("raises nothing on ordinary noisy COGS, whatever its scale or noise", () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      for (const usd of [2, 20, 200, 2000]) {
        // Requests per hour overdispersed (negative binomial, r 30 and 100) on top of ±16 %
        // day-to-day shocks: CV ~0.2-0.25 per hour. (Noisier still, r 12: ~0.9 false signals
        // per 1,000 hours; docs/detectors.md.)
        for (const dispersion of [30, 100]) {
          expect(feed(noisyCost(seed * 7 + usd, usd, dispersion)).signals).toEqual([]);
        }
      }
    }
  });

  it("raises one signal on an injected ×5 hour, keyed by (detector, customer, product, hour)", () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const costs = noisyCost(seed, 20);
      const at = 5 * 7 * 24 + 14; // week 6, Monday 14:00 UTC
      const usual = costs[at] as number;
      costs[at] = usual * 5;
      const { signals } = feed(costs);
      expect(signals).toHaveLength(1);
      const s = signals[0];
      expect(s?.idempotency_key).toBe("CostSpikeDetector|acme|chat-api|2026-02-09T14:00Z");
      expect(s?.window).toEqual({ start: START + at * HOUR_MS, end: START + (at + 1) * HOUR_MS });
      expect(s?.direction).toBe("spike");
      expect(s?.details.cost).toBeCloseTo(usual * 5, 6);
      expect(s?.details.ratio).toBeGreaterThan(3);
      // magnitude: the COGS above the slot's usual hour, in currency units.
      expect(s?.magnitude).toBeCloseTo((s?.details.cost ?? 0) - (s?.details.baseline ?? 0), 6);
    }
  });

  it("cents do not page anyone: a ×5 hour under min_delta_usd stays quiet", () => {
    const costs = noisyCost(3, 0.5);
    costs[5 * 7 * 24 + 14] = (costs[5 * 7 * 24 + 14] as number) * 5;
    expect(feed(costs).signals).toEqual([]);
    // With the gate lowered it is a spike like any other.
    expect(feed(costs, { ...DEFAULT_COST_SPIKE_POLICY, min_delta_usd: 0.5 }).signals).toHaveLength(
      1,
    );
  });

  it("speaks only after min_history_days", () => {
    const costs = noisyCost(4, 20, 30, 10 * 24);
    costs[3 * 24 + 14] = (costs[3 * 24 + 14] as number) * 10; // day 4: too early
    costs[9 * 24 + 14] = (costs[9 * 24 + 14] as number) * 10; // day 10
    const { signals } = feed(costs);
    expect(signals.map((s) => s.window.start)).toEqual([START + (9 * 24 + 14) * HOUR_MS]);
  });

  it("a lasting jump raises one signal for the episode, then becomes the baseline", () => {
    const costs = noisyCost(5, 20);
    const from = 5 * 7 * 24;
    for (let h = from; h < costs.length; h++) costs[h] = (costs[h] as number) * 5;
    const { signals, state } = feed(costs);
    expect(signals).toHaveLength(1);
    expect(signals[0]?.window.start).toBe(START + from * HOUR_MS);
    // Three weeks later the last hour's slot has the new level as its baseline.
    const last = START + (costs.length - 1) * HOUR_MS;
    expect(costBaseline(state, last)?.baseline).toBeGreaterThan(3 * 20 * 0.35 * 0.6); // a weekend night: 3× its old level
  });

  it("never mutates its input, ignores hours already closed, and survives a JSON round trip", () => {
    const costs = noisyCost(6, 20, 30, 14 * 24);
    const { state } = feed(costs);
    const frozen = JSON.stringify(state);
    const again = evaluateCostHour(state, {
      customer: "acme",
      product: "chat-api",
      hour: START + 3 * HOUR_MS,
      cost: 1e6,
    });
    expect(again.state).toBe(state);
    expect(again.signals).toEqual([]);
    const next = { customer: "acme", product: "chat-api", hour: START + 14 * DAY_MS, cost: 500 };
    const a = evaluateCostHour(state, next);
    const b = evaluateCostHour(JSON.parse(frozen), next);
    expect(JSON.stringify(state)).toBe(frozen);
    expect(b).toEqual(a);
    expect(a.signals).toHaveLength(1);
  });

  it("closes skipped hours as zeros and keeps bounded state", () => {
    const costs = noisyCost(7, 20, 30, 14 * 24);
    const { state } = feed(costs);
    // 60 days of silence, then one hour: at most MAX_GAP_HOURS are replayed, all zeros.
    const r = evaluateCostHour(state, {
      customer: "acme",
      product: "chat-api",
      hour: START + 74 * DAY_MS,
      cost: 0,
    });
    expect(r.signals).toEqual([]);
    expect(r.state.slots).toHaveLength(48);
    for (const ring of r.state.slots) {
      expect(ring.length).toBeLessThanOrEqual(COST_RING);
      expect(ring.every((x) => x === 0)).toBe(true);
    }
    expect(JSON.stringify(r.state).length).toBeLessThan(2500);
  });

  it("has a policy section with defaults, validated field by field", () => {
    expect(validatePolicy({ ...clonePolicies(), cost_spike: DEFAULT_COST_SPIKE_POLICY })).toEqual(
      [],
    );
    const bad = {
      min_ratio: 1,
      min_delta_usd: -1,
      k: 0,
      min_history_days: 0.5,
      min_slot_observations: 11,
    };
    expect(validatePolicy({ ...clonePolicies(), cost_spike: bad }).map((i) => i.path)).toEqual([
      "cost_spike.min_ratio",
      "cost_spike.min_delta_usd",
      "cost_spike.k",
      "cost_spike.min_history_days",
      "cost_spike.min_slot_observations",
    ]);
    expect(costSpikeSpec.ladder.default).toBe("ALERT");
  });

  it("reads in words for deliveries", () => {
    const words = costSpikeSpec.describe({
      customer: "acme",
      product: "chat-api",
      metric: null,
      magnitude: 80,
      direction: "spike",
      details: { cost: 100, baseline: 20, ratio: 5 },
    });
    expect(words).toEqual({
      title: "COGS spike: acme · chat-api",
      magnitude: "100 COGS in the hour vs 20 usual (×5); 80 above",
    });
  });
});

function clonePolicies(): Record<string, unknown> {
  const { cost_spike: _, ...rest } = JSON.parse(JSON.stringify(DEFAULT_POLICIES));
  return rest;
}
