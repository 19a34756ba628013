// BillableUnitAnomalyDetector on independent event-level feeds (domain/detectors/feeds.ts): how
// the usage reaches Aforo changes what one event means, and the detector must judge the units.
// Shipped defaults, seeds 1-2 (the figures in docs/detectors.md pool seeds 1-3; the bounds here
// sit a little below them so a regression fails). Hour-level scoring as in anomaly-quality.

import { describe, expect, it } from "vitest";
import { evaluateHour, newAnomalyState } from "../../../domain/detectors/anomaly";
import { FEED_GENERATORS, generateFeed, measureFeed } from "../../../domain/detectors/feeds";
import { makeRng, normal, poisson } from "../../../domain/detectors/synthetic";

const SEEDS = [1, 2];
const gen = (name: string) => {
  const g = FEED_GENERATORS.find((x) => x.name === name);
  if (!g) throw new Error(`no generator ${name}`);
  return g;
};

// Generating and replaying a feed takes 0.5-3 s per generator; on a loaded machine more.
describe("BillableUnitAnomalyDetector on independent feeds (shipped defaults)", {
  timeout: 60_000,
}, () => {
  it("generators deliver what they claim: events per hour and units per event", () => {
    const flush = generateFeed(gen("flush15-calls"), 1);
    const busy = flush.flatMap((s) => s.events.filter((_, i) => (s.mean[i] ?? 0) > 40));
    expect(Math.max(...busy)).toBe(4);
    const perRequest = generateFeed(gen("per-request"), 1);
    for (const s of perRequest) expect(s.events).toEqual(s.units);
    const hourly = generateFeed(gen("hourly-totals"), 1);
    for (const s of hourly) for (const e of s.events) expect(e).toBeLessThanOrEqual(1);
    const tokens = generateFeed(gen("token-requests"), 1);
    const perEvent =
      tokens.reduce((n, s) => n + s.units.reduce((a, b) => a + b, 0), 0) /
      tokens.reduce((n, s) => n + s.events.reduce((a, b) => a + b, 0), 0);
    expect(perEvent).toBeGreaterThan(600);
    expect(perEvent).toBeLessThan(1000);
    // Injected: spikes and drops, 1-3 hours each, none before day 9.
    for (const s of flush) expect(s.injected.slice(0, 9 * 24).every((x) => x === 0)).toBe(true);
    expect(flush.some((s) => s.injected.includes(1))).toBe(true);
    expect(flush.some((s) => s.injected.includes(-1))).toBe(true);
  });

  it("a flushing collector (≈4 events/hour, units per event follow the load): P ≥ 0.9, R ≈ 0.9", () => {
    // Before units were judged as units: recall 0.24 (a ×3.5 spike keeps 4 events).
    const q = measureFeed(gen("flush15-calls"), SEEDS);
    expect(q.score.precision).toBeGreaterThanOrEqual(0.88);
    expect(q.score.recall).toBeGreaterThanOrEqual(0.87);
    expect(q.score.episode_recall).toBeGreaterThanOrEqual(0.88);
  });

  it("per-minute aggregates, hourly totals, one event per call at 30-300/hour: P ≥ 0.88, R ≥ 0.9", () => {
    for (const name of ["minute-aggregates", "hourly-totals", "per-request-busy"]) {
      const q = measureFeed(gen(name), SEEDS);
      expect(q.score.precision, name).toBeGreaterThanOrEqual(0.88);
      expect(q.score.recall, name).toBeGreaterThanOrEqual(0.9);
    }
  });

  it("tokens, per request or per hour: P ≥ 0.82, R ≥ 0.85", () => {
    for (const name of ["token-requests", "hourly-tokens"]) {
      const q = measureFeed(gen(name), SEEDS);
      expect(q.score.precision, name).toBeGreaterThanOrEqual(0.82);
      expect(q.score.recall, name).toBeGreaterThanOrEqual(0.85);
    }
  });

  it("one event per call at 2-60 calls/hour: precision holds; recall is bounded by the oracle", () => {
    // Before: precision 0.72 on this generator. A third of its injected hours are night hours of
    // 1-5 calls that even an oracle knowing the true mean cannot tell from noise on their own.
    const q = measureFeed(gen("per-request"), SEEDS);
    expect(q.score.precision).toBeGreaterThanOrEqual(0.8);
    expect(q.score.detectable_share).toBeLessThan(0.75);
    expect(q.score.recall_detectable).toBeGreaterThanOrEqual(0.82);
    expect(q.score.recall).toBeGreaterThanOrEqual(0.68);
  });

  describe("the issue's cases, one customer each", () => {
    const START = Date.UTC(2026, 2, 2); // a Monday
    const HOUR = 3_600_000;
    // Business-hours calls: ~170 an hour at the afternoon peak, ~45 at night, weekends lower.
    const meanCalls = (i: number) => {
      const h = i % 24;
      const weekend = Math.floor(i / 24) % 7 >= 5;
      return (45 + 125 * Math.exp(-((h - 15) ** 2) / 18)) * (weekend ? 0.6 : 1);
    };
    const run = (hours: { units: number; events: number }[]) => {
      let state = newAnomalyState();
      const flagged = new Set<number>();
      for (let i = 0; i < hours.length; i++) {
        const r = evaluateHour(state, {
          customer: "c",
          metric: "calls",
          hour: START + i * HOUR,
          units: hours[i]?.units ?? 0,
          events: hours[i]?.events ?? 0,
        });
        state = r.state;
        for (const sig of r.signals) {
          for (let t = sig.window.start; t < sig.window.end; t += HOUR)
            flagged.add((t - START) / HOUR);
        }
      }
      return flagged;
    };

    it("a collector's 4 flushes an hour: a ×3.5 spike that keeps 4 events and a 3-hour drop to ×0.03 are found", () => {
      for (const seed of [1, 2, 3]) {
        const rng = makeRng(seed);
        const spike = 16 * 24 + 15; // a Wednesday 15:00 of week 3
        const drop = [18 * 24 + 2, 18 * 24 + 3, 18 * 24 + 4]; // a Friday night
        const hours = Array.from({ length: 21 * 24 }, (_, i) => {
          const f = i === spike ? 3.5 : drop.includes(i) ? 0.03 : 1;
          let units = 0;
          let events = 0;
          for (let b = 0; b < 4; b++) {
            const k = poisson(rng, (meanCalls(i) * f) / 4);
            if (k > 0) {
              units += k;
              events++;
            }
          }
          return { units, events };
        });
        expect(hours[spike]?.events).toBe(4);
        const flagged = run(hours);
        expect(flagged.has(spike), `seed ${seed}: spike`).toBe(true);
        for (const h of drop) expect(flagged.has(h), `seed ${seed}: drop hour ${h}`).toBe(true);
        const others = [...flagged].filter((h) => h !== spike && !drop.includes(h));
        expect(others.length, `seed ${seed}: ${others}`).toBeLessThanOrEqual(1);
      }
    });

    it("~20 requests of ~800 tokens that stop for an hour are an outage, ordinary hours are not", () => {
      const rng = makeRng(7);
      const outage = 15 * 24 + 14;
      const hours = Array.from({ length: 21 * 24 }, (_, i) => {
        const n = i === outage ? 0 : poisson(rng, meanCalls(i) / 7.7); // 6-22 requests an hour
        let units = 0;
        // Lognormal sizes, σ 1 on the log scale: the size-biased request is ~2,200 tokens.
        for (let j = 0; j < n; j++) units += Math.round(800 * Math.exp(normal(rng) - 0.5));
        return { units, events: n };
      });
      const flagged = run(hours);
      expect(flagged.has(outage)).toBe(true);
      expect([...flagged].filter((h) => h !== outage).length).toBeLessThanOrEqual(1);
    });
  });
});
