import { describe, expect, it } from "vitest";
import {
  activityIndex,
  type ChurnSignal,
  type ChurnState,
  evaluateDay,
  MAX_METRICS,
  newChurnState,
} from "../../../domain/detectors/churn";
import { type ChurnPolicy, DEFAULT_CHURN_POLICY } from "../../../domain/detectors/policy";
import { measureChurnCases } from "../../../domain/detectors/quality";
import { DAY_MS } from "../../../domain/detectors/time";

const START = Date.UTC(2026, 9, 5); // Monday 2026-10-05
const dayAt = (i: number) => START + i * DAY_MS;

type Units = Record<string, number>;

function feed(
  days: readonly Units[],
  policy: ChurnPolicy = DEFAULT_CHURN_POLICY,
  from: ChurnState = newChurnState(),
  offset = 0,
) {
  let state = from;
  const signals: ChurnSignal[] = [];
  const at: number[] = [];
  days.forEach((units, k) => {
    const r = evaluateDay(
      state,
      { customer: "acme", product: "chat", day: dayAt(offset + k), units },
      policy,
    );
    state = r.state;
    for (const s of r.signals) {
      signals.push(s);
      at.push(offset + k);
    }
  });
  return { state, signals, at };
}

/** Weekday-heavy usage: calls and tokens, with `factor(i)` applied from day i on. */
function usage(n: number, factor: (i: number) => number = () => 1): Units[] {
  return Array.from({ length: n }, (_, i) => {
    const dow = i % 7;
    const f = (dow >= 5 ? 0.4 : 1) * factor(i) * (1 + 0.05 * Math.sin(i * 1.7));
    return { api_calls: Math.round(1200 * f), output_tokens: Math.round(2_500_000 * f) };
  });
}

describe("WeeklyChurnSignalDetector", () => {
  it("fires once on a drop ≥ 50 %, keyed by ISO week, with per-metric details", () => {
    const { signals, at } = feed(usage(42, (i) => (i >= 28 ? 0.3 : 1)));
    expect(signals).toHaveLength(1);
    const s = signals[0] as ChurnSignal;
    expect(at[0]).toBeGreaterThanOrEqual(28);
    expect(at[0]).toBeLessThan(35);
    expect(s.detector).toBe("WeeklyChurnSignalDetector");
    expect(s.direction).toBe("drop");
    expect(s.product).toBe("chat");
    expect(s.details.drop_pct).toBeGreaterThanOrEqual(50);
    expect(s.magnitude).toBe(s.details.drop_pct);
    expect(s.details.metrics).toBe("api_calls,output_tokens");
    expect(s.details["prev_7:api_calls"]).toBeGreaterThan(s.details["last_7:api_calls"] as number);
    const week = s.details.iso_week;
    expect(week).toMatch(/^2026-W\d\d$/);
    expect(s.idempotency_key).toBe(`WeeklyChurnSignalDetector|acme|chat|${week}`);
    const day = dayAt(at[0] as number);
    expect(s.window).toEqual({ start: day - 13 * DAY_MS, end: day + DAY_MS });
  });

  it("a gentle decline (−30 %) does not fire", () => {
    expect(feed(usage(56, (i) => (i >= 28 ? 0.7 : 1))).signals).toEqual([]);
    expect(feed(usage(70, (i) => 1 - 0.3 * Math.min(1, Math.max(0, i - 28) / 14))).signals).toEqual(
      [],
    );
  });

  it("the threshold is policy: drop_pct 25 catches the −30 % customer", () => {
    const policy = { ...DEFAULT_CHURN_POLICY, drop_pct: 25 };
    expect(
      feed(
        usage(56, (i) => (i >= 28 ? 0.7 : 1)),
        policy,
      ).signals,
    ).toHaveLength(1);
  });

  it("cold start: no signal before 14 days of history", () => {
    // Stops on day 7: by day 13 the week-over-week drop is total, but history is short.
    const { at } = feed(usage(30, (i) => (i >= 7 ? 0 : 1)));
    expect(at.every((i) => i >= 13)).toBe(true);
    expect(feed(usage(13, (i) => (i >= 7 ? 0 : 1))).signals).toEqual([]);
  });

  it("near-zero customers are noise, not churn", () => {
    const tiny = Array.from({ length: 60 }, (_, i) => ({ api_calls: i % 9 === 0 ? 5 : i % 4 }));
    expect(feed(tiny).signals).toEqual([]);
  });

  it("silence: a customer that stops entirely is caught through skipped days", () => {
    const { state } = feed(usage(30));
    // No day closes are passed for 10 days, then one.
    const r = evaluateDay(state, { customer: "acme", product: "chat", day: dayAt(40), units: {} });
    expect(r.signals).toHaveLength(1);
    expect(r.signals[0]?.details.drop_pct).toBeGreaterThanOrEqual(50);
    expect(r.state.last_day).toBe(dayAt(40));
    // The same as passing the empty days one by one.
    const explicit = feed(
      Array.from({ length: 11 }, () => ({})),
      DEFAULT_CHURN_POLICY,
      state,
      30,
    );
    expect(explicit.signals).toEqual(r.signals);
    expect(explicit.state).toEqual(r.state);
  });

  it("a stop raises one signal, not one per week while the window slides over it", () => {
    const { signals } = feed(usage(70, (i) => (i >= 30 ? 0 : 1)));
    expect(signals).toHaveLength(1);
  });

  it("re-arms after recovery: a second churn episode weeks later fires again", () => {
    const { signals } = feed(usage(91, (i) => (i >= 28 && i < 42 ? 0.2 : i >= 70 ? 0.2 : 1)));
    expect(signals).toHaveLength(2);
    expect(signals[0]?.details.iso_week).not.toBe(signals[1]?.details.iso_week);
  });

  it("usage moving to another metric of the product is not churn", () => {
    const days = usage(56).map((u, i) =>
      i >= 28 ? { batch_calls: u.api_calls ?? 0, output_tokens: u.output_tokens ?? 0 } : u,
    );
    expect(feed(days).signals).toEqual([]);
  });

  it("metrics weigh the same whatever their scale: calls collapsing is half the product's activity", () => {
    // Calls stop, tokens −10 %: mean of ratios (0, 0.9) = 0.45, a 55 % drop, though the tokens
    // (2,000× the units) barely moved.
    const callsStop = usage(56).map((u, i) =>
      i >= 28 ? { api_calls: 0, output_tokens: Math.round((u.output_tokens ?? 0) * 0.9) } : u,
    );
    expect(feed(callsStop).signals).toHaveLength(1);
    const tokensHalf = usage(56).map((u, i) =>
      i >= 28 ? { ...u, output_tokens: Math.round((u.output_tokens ?? 0) * 0.8) } : u,
    );
    expect(feed(tokensHalf).signals).toEqual([]);
  });

  it("replay: same days from a fresh state give identical signals and state", () => {
    const days = usage(60, (i) => (i >= 33 ? 0.1 : 1));
    const a = feed(days);
    const b = feed(days);
    expect(a.signals).toHaveLength(1);
    expect(b.signals).toEqual(a.signals);
    expect(b.state).toEqual(a.state);
  });

  it("a re-delivered day yields nothing and leaves the state as it was; the input is not mutated", () => {
    const days = usage(40, (i) => (i >= 30 ? 0 : 1));
    const before = feed(days.slice(0, 34));
    const frozen = JSON.stringify(before.state);
    const input = { customer: "acme", product: "chat", day: dayAt(34), units: {} };
    const first = evaluateDay(before.state, input);
    expect(JSON.stringify(before.state)).toBe(frozen);
    const again = evaluateDay(first.state, input);
    expect(again.signals).toEqual([]);
    expect(again.state).toBe(first.state);
    expect(evaluateDay(first.state, { ...input, day: dayAt(20) }).signals).toEqual([]);
  });

  it("state is bounded: 14 days per metric, at most MAX_METRICS metrics, same size after a year", () => {
    const short = feed(usage(20)).state;
    const long = feed(usage(400)).state;
    expect(long.metrics.map((m) => m.days.length)).toEqual([14, 14]);
    expect(JSON.stringify(long).length).toBeLessThan(JSON.stringify(short).length + 40);
    const many: Units[] = Array.from({ length: 30 }, (_, i) => ({ [`m${i}`]: 500, base: 100 }));
    expect(feed(many).state.metrics.length).toBeLessThanOrEqual(MAX_METRICS);
  });

  it("a metric named __proto__ is just a name", () => {
    const days = Array.from({ length: 30 }, (_, i) =>
      JSON.parse(`{"__proto__": ${i < 20 ? 900 : 0}}`),
    );
    const { signals, state } = feed(days);
    expect(state.metrics.map((m) => m.metric)).toEqual(["__proto__"]);
    expect(signals).toHaveLength(1);
  });

  it("activityIndex exposes the comparison for dashboards", () => {
    const { state } = feed(usage(28, (i) => (i >= 21 ? 0.5 : 1)));
    const a = activityIndex(state);
    expect(a?.metrics).toEqual(["api_calls", "output_tokens"]);
    expect(a?.index).toBeGreaterThan(0.45);
    expect(a?.index).toBeLessThan(0.55);
    expect(activityIndex(newChurnState())).toBeNull();
  });

  it.each([1, 2, 3])(
    "injected cases, seed %i: every churn found within 7 days, no false ones",
    (seed) => {
      const r = measureChurnCases(seed);
      expect(r.failures).toEqual([]);
      expect(r.found).toBe(r.expected);
      expect(r.false_signals).toBe(0);
      expect(r.cases).toBe(42);
    },
  );
});
