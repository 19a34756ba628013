import { describe, expect, it } from "vitest";
import { nthPeriod } from "../../../domain/billing-period";
import {
  checkMargin,
  type MarginInput,
  type MarginSignal,
  type MarginState,
  marginOf,
  newMarginState,
} from "../../../domain/detectors/margin-guard";
import { DEFAULT_MARGIN_POLICY } from "../../../domain/detectors/policy";
import { measureMarginCases } from "../../../domain/detectors/quality";
import { DAY_MS } from "../../../domain/detectors/time";

const ANCHOR = Date.UTC(2026, 10, 1);
const NOV = nthPeriod(ANCHOR, "month", 0);
const DEC = nthPeriod(ANCHOR, "month", 1);

const input = (revenue: number, cogs: number, extra: Partial<MarginInput> = {}): MarginInput => ({
  customer: "acme",
  at: NOV.start + 10 * DAY_MS,
  period: NOV,
  revenue,
  cogs,
  ...extra,
});

/** Applies updates in order from a fresh state; returns the levels fired per update. */
function steps(updates: MarginInput[], from: MarginState = newMarginState()) {
  let state = from;
  const fired: string[][] = [];
  const signals: MarginSignal[] = [];
  for (const u of updates) {
    const r = checkMargin(state, u);
    state = r.state;
    fired.push(r.signals.map((s) => s.details.level));
    signals.push(...r.signals);
  }
  return { state, fired, signals };
}

describe("MarginGuard", () => {
  it("fires each level once as the period-to-date margin falls through it", () => {
    const { fired, signals } = steps([
      input(100, 60), // 40 %
      input(200, 150), // 25 % → L1
      input(300, 240), // 20 %
      input(400, 380), // 5 % → L2
      input(500, 480), // 4 %
      input(600, 650), // −8.3 % → L3
      input(700, 800), // −14 %
    ]);
    expect(fired).toEqual([[], ["L1"], [], ["L2"], [], ["L3"], []]);
    const l2 = signals[1] as MarginSignal;
    expect(l2.detector).toBe("MarginGuard");
    expect(l2.idempotency_key).toBe("MarginGuard|acme|*|2026-11-01T00:00:00.000Z|L2");
    expect(l2.product).toBeUndefined();
    expect(l2.window).toEqual(NOV);
    expect(l2.details).toMatchObject({
      level: "L2",
      level_threshold: 0.1,
      margin: 0.05,
      margin_pct: 5,
      revenue: 400,
      cogs: 380,
      basis: "margin",
    });
    // Shortfall: COGS 380 − revenue 400 × (1 − 0.10) = 20.
    expect(l2.magnitude).toBeCloseTo(20, 9);
  });

  it("a margin below L3 straight away fires every level, each with its own key", () => {
    const { signals } = steps([input(100, 130)]);
    expect(signals.map((s) => s.details.level)).toEqual(["L1", "L2", "L3"]);
    expect(new Set(signals.map((s) => s.idempotency_key)).size).toBe(3);
  });

  it("customer × product is keyed by product", () => {
    const { signals } = steps([input(100, 95, { product: "chat-api" })]);
    expect(signals[0]?.product).toBe("chat-api");
    expect(signals[0]?.idempotency_key).toBe(
      "MarginGuard|acme|chat-api|2026-11-01T00:00:00.000Z|L1",
    );
  });

  it("no judgement on trivial revenue at the start of a period", () => {
    // $5 revenue, $8 COGS: margin −60 %, but both below the materiality gates.
    expect(steps([input(5, 8)]).signals).toEqual([]);
    // Once revenue reaches min_revenue, it is judged.
    expect(steps([input(5, 8), input(60, 70)]).fired).toEqual([[], ["L1", "L2", "L3"]]);
  });

  it("revenue 0 with COGS ≥ min_cogs is margin −∞: all levels fire, margin null", () => {
    const { fired, signals } = steps([input(0, 4), input(0, 9.99), input(0, 10), input(0, 50)]);
    expect(fired).toEqual([[], [], ["L1", "L2", "L3"], []]);
    const l3 = signals[2] as MarginSignal;
    expect(l3.details.margin).toBeNull();
    expect(l3.details.basis).toBe("no_revenue");
    expect(l3.magnitude).toBe(10);
    expect(marginOf(0, 10)).toBe(Number.NEGATIVE_INFINITY);
    expect(marginOf(0, 0)).toBeNull();
    expect(marginOf(200, 50)).toBe(0.75);
  });

  it("material COGS is never excused by small revenue", () => {
    expect(steps([input(20, 30)]).fired).toEqual([["L1", "L2", "L3"]]);
  });

  it("optional min_elapsed_fraction", () => {
    const policy = { ...DEFAULT_MARGIN_POLICY, min_elapsed_fraction: 0.5 };
    expect(checkMargin(newMarginState(), input(1000, 900), policy).signals).toEqual([]);
    const late = input(1000, 920, { at: NOV.start + 20 * DAY_MS });
    expect(checkMargin(newMarginState(), late, policy).signals).toHaveLength(2);
  });

  it("a new period re-arms the levels; a late update of the old period fires nothing", () => {
    const { state, fired } = steps([
      input(100, 95),
      input(100, 95, { period: DEC, at: DEC.start + 5 * DAY_MS }),
    ]);
    expect(fired).toEqual([
      ["L1", "L2"],
      ["L1", "L2"],
    ]);
    const late = checkMargin(state, input(100, 200));
    expect(late.signals).toEqual([]);
    expect(late.state).toBe(state);
  });

  it("the same update twice yields no duplicate; replay is identical; input not mutated", () => {
    const updates = [input(100, 60), input(200, 190), input(200, 190), input(300, 320)];
    const a = steps(updates);
    const b = steps(updates);
    expect(a.fired).toEqual([[], ["L1", "L2"], [], ["L3"]]);
    expect(b.signals).toEqual(a.signals);
    const frozen = JSON.stringify(a.state);
    checkMargin(a.state, input(1000, 5000, { period: DEC, at: DEC.start }));
    expect(JSON.stringify(a.state)).toBe(frozen);
  });

  it("state is tiny and bounded", () => {
    const { state } = steps(Array.from({ length: 500 }, (_, i) => input(100 + i, 95 + i)));
    expect(JSON.stringify(state).length).toBeLessThan(100);
  });

  it.each([1, 2, 3])("injected cases, seed %i: every level found, no false ones", (seed) => {
    const r = measureMarginCases(seed);
    expect(r.failures).toEqual([]);
    expect(r.found).toBe(r.expected);
    expect(r.false_signals).toBe(0);
  });
});
