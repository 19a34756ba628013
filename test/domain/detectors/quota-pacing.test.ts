import { describe, expect, it } from "vitest";
import { nthPeriod } from "../../../domain/billing-period";
import { DEFAULT_QUOTA_PACING_POLICY } from "../../../domain/detectors/policy";
import {
  newQuotaPacingState,
  observePacing,
  type PacingInput,
  type PacingSignal,
  projectLinear,
  projectWeighted,
  type QuotaPacingState,
  weekdayWeights,
} from "../../../domain/detectors/quota-pacing";
import { DAY_MS } from "../../../domain/detectors/time";

const ANCHOR = Date.UTC(2026, 10, 1); // Sunday 2026-11-01: periods Nov 1 → Dec 1 → Jan 1 …
const NOV = nthPeriod(ANCHOR, "month", 0);
const DEC = nthPeriod(ANCHOR, "month", 1);

/** Feeds one call per day close (inside the day) with cumulative usage; returns all signals. */
function run(
  daily: (day: number) => number,
  quota: number,
  periods = [NOV],
  from: QuotaPacingState = newQuotaPacingState(),
) {
  let state = from;
  const signals: PacingSignal[] = [];
  for (const period of periods) {
    let usage = 0;
    for (let day = period.start; day < period.end; day += DAY_MS) {
      usage += daily(day);
      const r = observePacing(state, {
        customer: "acme",
        metric: "output_tokens",
        at: day + DAY_MS - 1,
        usage,
        quota,
        period,
      });
      state = r.state;
      signals.push(...r.signals);
    }
  }
  return { state, signals };
}

const weekdayHeavy = (day: number) => {
  const dow = (Math.floor(day / DAY_MS) + 3) % 7;
  return dow >= 5 ? 200 : 1000;
};

describe("projections", () => {
  it("linear: usage ÷ elapsed × length", () => {
    expect(projectLinear(300, { start: 0, end: 30 * DAY_MS }, 10 * DAY_MS)).toBe(900);
    expect(projectLinear(300, { start: 0, end: 30 * DAY_MS }, 0)).toBe(300);
    expect(projectLinear(300, { start: 0, end: 30 * DAY_MS }, 40 * DAY_MS)).toBe(300);
  });

  it("weekday-weighted: quiet weekends ahead lower the projection, behind raise it", () => {
    const w = [1.4, 1.4, 1.4, 1.4, 1.4, 0, 0].map((x) => (x === 0 ? 0.02 : x));
    // Period Mon 2026-11-02 → Mon 2026-11-16 (2 weeks); at Sat 00:00 of week 1 usage is 5 days.
    const p = { start: Date.UTC(2026, 10, 2), end: Date.UTC(2026, 10, 16) };
    const sat = Date.UTC(2026, 10, 7);
    const linear = projectLinear(5000, p, sat);
    const weighted = projectWeighted(5000, p, sat, w);
    expect(linear).toBeCloseTo(14_000, 6);
    // 10 working days in the period, 5 done: the right answer is ~10,000 (+ weekend crumbs).
    expect(weighted).toBeGreaterThan(10_000);
    expect(weighted).toBeLessThan(10_200);
  });

  it("weekdayWeights: null until every weekday has been seen min_profile_weeks times", () => {
    const { state } = run(weekdayHeavy, 1e12);
    expect(weekdayWeights(state, 2)).not.toBeNull();
    expect(weekdayWeights(state, 10)).toBeNull();
    const w = weekdayWeights(state, 2) ?? [];
    expect(w.reduce((a, b) => a + b, 0) / 7).toBeCloseTo(1, 6);
    expect((w[5] ?? 0) / (w[0] ?? 1)).toBeCloseTo(0.2, 2);
    expect(weekdayWeights(newQuotaPacingState(), 1)).toBeNull();
  });
});

describe("QuotaPacingProjectionService", () => {
  it("fires 80 / 100 / 120 once each as the projection crosses them, with the projection shown", () => {
    // November: 21 weekdays × 1,000 + 9 weekend days × 200 = 22,800 units; quota 18,000 → 127 %.
    const { signals } = run(weekdayHeavy, 18_000);
    expect(signals.map((s) => s.details.threshold_pct)).toEqual([80, 100, 120]);
    const s100 = signals[1] as PacingSignal;
    expect(s100.detector).toBe("QuotaPacingProjectionService");
    expect(s100.metric).toBe("output_tokens");
    expect(s100.idempotency_key).toBe(
      "QuotaPacingProjectionService|acme|output_tokens|2026-11-01T00:00:00.000Z|100",
    );
    expect(s100.window).toEqual(NOV);
    expect(s100.details.quota).toBe(18_000);
    expect(s100.details.projection).toBeGreaterThanOrEqual(18_000);
    expect(s100.details.pct_of_quota).toBeGreaterThanOrEqual(100);
    expect(s100.magnitude).toBeCloseTo(s100.details.projection / 18_000, 3);
    expect(s100.details.method).toBe("linear"); // no weekday profile yet in the first period
    expect(s100.details.elapsed_fraction).toBeGreaterThanOrEqual(0.2);
    expect(["usage", "projection"]).toContain(s100.details.basis);
  });

  it("not before min_elapsed_fraction, unless usage itself crossed", () => {
    const policy = DEFAULT_QUOTA_PACING_POLICY;
    const input = (at: number, usage: number): PacingInput => ({
      customer: "acme",
      metric: "m",
      at,
      usage,
      quota: 1000,
      period: NOV,
    });
    // Day 3 of 30: projection 10× the quota, but too early to trust.
    let r = observePacing(newQuotaPacingState(), input(NOV.start + 3 * DAY_MS, 900), policy);
    expect(r.signals.map((s) => s.details.threshold_pct)).toEqual([80]);
    expect(r.signals[0]?.details.basis).toBe("usage");
    r = observePacing(r.state, input(NOV.start + 3 * DAY_MS + 1, 1300), policy);
    expect(r.signals.map((s) => [s.details.threshold_pct, s.details.basis])).toEqual([
      [100, "usage"],
      [120, "usage"],
    ]);
    // With min_elapsed_fraction 0 a fast start fires on the projection.
    const eager = { ...policy, min_elapsed_fraction: 0 };
    const e = observePacing(newQuotaPacingState(), input(NOV.start + 3 * DAY_MS, 200), eager);
    expect(e.signals.map((s) => s.details.basis)).toEqual([
      "projection",
      "projection",
      "projection",
    ]);
  });

  it("a customer pacing at 70 % never fires", () => {
    // 22,800 in November and 24,600 in December against a quota of 34,000.
    const { signals } = run(weekdayHeavy, 34_000, [NOV, DEC]);
    expect(signals).toEqual([]);
  });

  it("each threshold once per period; the next period re-arms them", () => {
    const { signals } = run(weekdayHeavy, 18_000, [NOV, DEC]);
    const keys = signals.map((s) => s.idempotency_key);
    expect(new Set(keys).size).toBe(keys.length);
    expect(signals.map((s) => s.details.threshold_pct)).toEqual([80, 100, 120, 80, 100, 120]);
    // December has a weekday profile from November: the weighted method is used.
    expect(signals.slice(3).every((s) => s.details.method === "weekday_weighted")).toBe(true);
  });

  it("the same event twice, or a late event of a past period, yields no duplicate", () => {
    const { state } = run(weekdayHeavy, 20_000);
    const late: PacingInput = {
      customer: "acme",
      metric: "output_tokens",
      at: NOV.end + DAY_MS,
      usage: 30_000,
      quota: 20_000,
      period: DEC,
    };
    const first = observePacing(state, late);
    expect(first.signals.map((s) => s.details.threshold_pct)).toEqual([80, 100, 120]);
    expect(observePacing(first.state, late).signals).toEqual([]);
    const old = observePacing(first.state, { ...late, period: NOV, at: NOV.end - 5 });
    expect(old.signals).toEqual([]);
    expect(old.state).toBe(first.state);
  });

  it("replay: identical signals and state from a fresh start; input state not mutated", () => {
    const a = run(weekdayHeavy, 21_000, [NOV, DEC]);
    const b = run(weekdayHeavy, 21_000, [NOV, DEC]);
    expect(b.signals).toEqual(a.signals);
    expect(b.state).toEqual(a.state);
    const frozen = JSON.stringify(a.state);
    observePacing(a.state, {
      customer: "acme",
      metric: "output_tokens",
      at: DEC.end + 3 * DAY_MS,
      usage: 1e9,
      quota: 1,
      period: nthPeriod(ANCHOR, "month", 2),
    });
    expect(JSON.stringify(a.state)).toBe(frozen);
  });

  it("no quota, no pacing", () => {
    const r = observePacing(newQuotaPacingState(), {
      customer: "acme",
      metric: "m",
      at: NOV.start + 20 * DAY_MS,
      usage: 1e9,
      quota: 0,
      period: NOV,
    });
    expect(r.signals).toEqual([]);
  });

  it("state is bounded: same shape after one period and after a year", () => {
    const one = run(weekdayHeavy, 1e12).state;
    const year = run(
      weekdayHeavy,
      1e12,
      Array.from({ length: 12 }, (_, n) => nthPeriod(ANCHOR, "month", n)),
    ).state;
    const shape = (s: QuotaPacingState) =>
      Object.entries(s).map(([k, v]) => [k, Array.isArray(v) ? v.length : typeof v]);
    expect(shape(year)).toEqual(shape(one));
    expect(JSON.stringify(year).length).toBeLessThan(600);
  });
});
