import { describe, expect, it } from "vitest";
import {
  assignCase,
  type CaseSignal,
  caseLadder,
  churnRecovered,
  closeDecision,
  DAY,
  HOUR,
  levelLabel,
} from "../../domain/cases";
import { DEFAULT_POLICY, resolvePolicy } from "../../domain/ladder";

const NOV = Date.UTC(2026, 10, 1);
const DEC = Date.UTC(2026, 11, 1);

const margin = (level: string, product?: string): CaseSignal => ({
  detector: "MarginGuard",
  customer: "acme",
  ...(product ? { product } : {}),
  window: { start: NOV, end: DEC },
  magnitude: 10,
  details: { level },
});

const anomaly = (hour: number, direction = "spike", hours = 1): CaseSignal => ({
  detector: "BillableUnitAnomalyDetector",
  customer: "acme",
  product: "chat",
  metric: "calls",
  direction,
  window: { start: hour - (hours - 1) * HOUR, end: hour + HOUR },
  magnitude: 4,
  details: { hours },
});

describe("assignCase", () => {
  it("groups a period's margin levels into one case and ranks them L1 < L2 < L3", () => {
    const [l1, l2, l3] = ["L1", "L2", "L3"].map((l) => assignCase(margin(l, "chat")));
    expect(l1?.key).toBe(l2?.key);
    expect(l2?.key).toBe(l3?.key);
    expect([l1?.rank, l2?.rank, l3?.rank]).toEqual([1, 2, 3]);
    expect(l1?.period).toEqual({ start: NOV, end: DEC });
    expect(l1?.gapMs).toBeNull();
    expect(levelLabel("MarginGuard", 3)).toBe("L3");
  });

  it("makes a one-product customer's customer-level margin finding the product's case", () => {
    const product = assignCase(margin("L1", "chat"));
    const one = assignCase(margin("L1"), { customerProducts: ["chat", "chat"] });
    const two = assignCase(margin("L1"), { customerProducts: ["chat", "search"] });
    const unknown = assignCase(margin("L1"));
    expect(one.key).toBe(product.key);
    expect(one.product).toBe("chat");
    expect(two.key).not.toBe(product.key);
    expect(two.scope).toBe("*");
    expect(unknown.scope).toBe("*");
  });

  it("keeps periods, customers, products and detectors apart", () => {
    const nov = assignCase(margin("L1", "chat"));
    const dec = assignCase({
      ...margin("L1", "chat"),
      window: { start: DEC, end: DEC + 31 * DAY },
    });
    const other = assignCase({ ...margin("L1", "chat"), customer: "globex" });
    const search = assignCase(margin("L1", "search"));
    expect(new Set([nov.key, dec.key, other.key, search.key]).size).toBe(4);
    // A customer id with the key separator cannot collide with another key.
    const a = assignCase({ ...margin("L1", "chat"), customer: "a|b" });
    const b = assignCase({ ...margin("L1", "b|chat"), customer: "a" });
    expect(a.key).not.toBe(b.key);
  });

  it("ranks pacing by threshold and anomalies by the hours of their own window", () => {
    const pacing = (t: number) =>
      assignCase({
        detector: "QuotaPacingProjectionService",
        customer: "acme",
        product: "chat",
        metric: "calls",
        window: { start: NOV, end: DEC },
        magnitude: 1,
        details: { threshold_pct: t },
      });
    expect(pacing(80).key).toBe(pacing(120).key);
    expect([pacing(80).rank, pacing(100).rank, pacing(120).rank]).toEqual([80, 100, 120]);
    expect(levelLabel("QuotaPacingProjectionService", 100)).toBe("100 %");
    const h = NOV + 10 * HOUR;
    expect(assignCase(anomaly(h)).rank).toBe(1);
    expect(assignCase(anomaly(h, "spike", 3)).rank).toBe(3);
    expect(assignCase(anomaly(h)).spanRank).toBe(true);
    expect(assignCase(anomaly(h)).gapMs).toBe(HOUR);
    // A spike and a drop of one metric are two stories; one metric's hours are one.
    expect(assignCase(anomaly(h)).key).toBe(assignCase(anomaly(h + 5 * HOUR)).key);
    expect(assignCase(anomaly(h)).key).not.toBe(assignCase(anomaly(h, "drop")).key);
    expect(assignCase(anomaly(h)).scope).toBe("chat/calls · spike");
  });
});

describe("closeDecision", () => {
  const c = (detector: string, window: { start: number; end: number }, period = window) => ({
    detector,
    period: detector === "MarginGuard" ? period : null,
    window,
    last_signal_at: window.end,
  });

  it("closes a period case when its period ends, not before", () => {
    const m = c("MarginGuard", { start: NOV, end: DEC });
    expect(closeDecision(m, { now: DEC - 1, latestData: DEC - HOUR })).toBeNull();
    expect(closeDecision(m, { now: DEC, latestData: null })).toBe("period_closed");
  });

  it("clears an anomaly episode once later hours came in without a finding", () => {
    const h = NOV + 10 * HOUR;
    const a = {
      ...c("BillableUnitAnomalyDetector", { start: h, end: h + HOUR }),
      last_signal_at: h,
    };
    const now = h + 3 * HOUR;
    // Usage in the gap hour, or the hour after (not closed yet), is not enough…
    expect(closeDecision(a, { now, latestData: h + 2 * HOUR })).toBeNull();
    expect(closeDecision(a, { now, latestData: h + 3 * HOUR })).toBeNull();
    // …usage in the hour after those is.
    expect(closeDecision(a, { now, latestData: h + 4 * HOUR })).toBe("condition_cleared");
    // A silent customer: the watch expires after a day without news.
    expect(closeDecision(a, { now: h + DAY, latestData: null })).toBeNull();
    expect(closeDecision(a, { now: h + 2 * DAY, latestData: h })).toBe("expired");
  });

  it("clears a churn case when usage is back above the detector's re-arming line", () => {
    const details = {
      metrics: "calls,tokens",
      threshold_pct: 50,
      "prev_7:calls": 1000,
      "prev_7:tokens": 10_000,
    };
    // Mean of 0.4 and 0.5: still churned; 0.7 and 0.5 (0.6 > 0.5): back.
    expect(
      churnRecovered(
        details,
        new Map([
          ["calls", 400],
          ["tokens", 5000],
        ]),
      ),
    ).toBe(false);
    expect(
      churnRecovered(
        details,
        new Map([
          ["calls", 700],
          ["tokens", 5000],
        ]),
      ),
    ).toBe(true);
    // One metric's growth counts at most 2×: of four metrics, three gone, still churned.
    const four = {
      ...details,
      metrics: "calls,tokens,sessions,jobs",
      "prev_7:sessions": 50,
      "prev_7:jobs": 20,
    };
    expect(churnRecovered(four, new Map([["calls", 100_000]]))).toBe(false);
    expect(churnRecovered({ metrics: "" }, new Map([["calls", 1]]))).toBe(false);
    const w = { start: NOV, end: NOV + 14 * DAY };
    const ch = {
      detector: "WeeklyChurnSignalDetector",
      period: null,
      window: w,
      last_signal_at: w.end,
    };
    expect(closeDecision(ch, { now: w.end + DAY, latestData: null, churnRecovered: true })).toBe(
      "condition_cleared",
    );
  });

  it("watches a churn case four weeks", () => {
    const w = { start: NOV, end: NOV + 14 * DAY };
    const ch = c("WeeklyChurnSignalDetector", w);
    expect(closeDecision(ch, { now: w.end + 27 * DAY, latestData: w.end + 27 * DAY })).toBeNull();
    expect(closeDecision(ch, { now: w.end + 28 * DAY, latestData: null })).toBe("expired");
  });
});

describe("caseLadder", () => {
  const input = (id: string, level: string, state: "executed" | "queued" | "no_channel") => ({
    signal_id: id,
    direction: null,
    details: { level },
    created_at: NOV + 1000,
    action: {
      id: `act_${id}`,
      rung: (level === "L1" ? "ALERT" : "THROTTLE") as "ALERT" | "THROTTLE",
      state,
    },
  });

  it("shows every margin rung with its state and its trigger", () => {
    const steps = caseLadder("MarginGuard", null, DEFAULT_POLICY, [
      input("s1", "L1", "executed"),
      input("s2", "L2", "queued"),
    ]);
    expect(steps.map((s) => [s.key, s.rung, s.state])).toEqual([
      ["L1", "ALERT", "executed"],
      ["L2", "THROTTLE", "queued"],
      ["L3", "BLOCK", "not_reached"],
    ]);
    expect(steps[0]?.trigger).toContain("30 %");
    expect(steps[2]?.trigger).toContain("0 %");
    expect(steps[0]?.automatic).toBe(true);
    expect(steps[2]?.automatic).toBe(false);
    expect(steps[1]?.signal_ids).toEqual(["s2"]);
    expect(steps[2]?.reached_at).toBeNull();
  });

  it("says no_channel when an alert reached nobody, and follows the customer's policy", () => {
    const policy = resolvePolicy([{ ladder: { margin: { L3: "ALERT" } } }]);
    const steps = caseLadder("MarginGuard", null, policy, [input("s1", "L1", "no_channel")]);
    expect(steps[0]?.state).toBe("no_channel");
    expect(steps[2]?.rung).toBe("ALERT");
  });

  it("lists the policy's pacing thresholds in order, and one step for an anomaly's direction", () => {
    const pacing = caseLadder("QuotaPacingProjectionService", null, DEFAULT_POLICY, [
      {
        signal_id: "p1",
        direction: null,
        details: { threshold_pct: 100 },
        created_at: NOV,
        action: { id: "a", rung: "ALERT", state: "executed" },
      },
    ]);
    expect(pacing.map((s) => [s.key, s.state])).toEqual([
      ["80", "not_reached"],
      ["100", "executed"],
      ["120", "not_reached"],
    ]);
    expect(pacing[2]?.rung).toBe("THROTTLE");
    const drop = caseLadder("BillableUnitAnomalyDetector", "drop", DEFAULT_POLICY, []);
    expect(drop.map((s) => s.key)).toEqual(["drop"]);
    expect(drop[0]?.trigger).toContain("below");
    const churn = caseLadder("WeeklyChurnSignalDetector", "drop", DEFAULT_POLICY, []);
    expect(churn.map((s) => [s.key, s.rung, s.state])).toEqual([[null, "escalate", "not_reached"]]);
  });
});
