import { describe, expect, it } from "vitest";
import {
  type CaseToExplain,
  type ExplainedStep,
  explainCase,
  nextStep,
  numbersGrounded,
  templateNarrative,
} from "../../domain/copilot/signal-explainer";

// The signal explainer (issue 18 item 4): what a case says in words, the numbers it shows (the
// detector's own, with the sums re-done from them) and the rung it proposes.

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 10, 16, 14);

const step = (over: Partial<ExplainedStep>): ExplainedStep => ({
  key: null,
  label: "Usage spike",
  rung: "ALERT",
  trigger: "a closed hour's units above the customer's baseline by more than 4 σ",
  state: "not_reached",
  automatic: true,
  action_ids: [],
  ...over,
});

const base = (over: Partial<CaseToExplain>): CaseToExplain => ({
  detector: "BillableUnitAnomalyDetector",
  customer: "acme",
  scope: "chat-api/input_tokens · spike",
  level: "1 h",
  status: "open",
  signals: [],
  ladder: [],
  source_events: [],
  ...over,
});

describe("explainCase", () => {
  it("words a usage spike with its baseline, deviation and the sums behind them", () => {
    const e = explainCase(
      base({
        signals: [
          {
            id: "s1",
            created_at: T0 + HOUR,
            customer: "acme",
            product: "chat-api",
            metric: "input_tokens",
            direction: "spike",
            magnitude: 6,
            window: { start: T0, end: T0 + HOUR },
            details: {
              hours: 1,
              sigma: 6,
              pct_change: 300,
              expected: 1000,
              observed: 4000,
              spread_units: 500,
              k: 4,
            },
            source_event_ids: ["e1", "e2"],
          },
        ],
        ladder: [step({ state: "executed", action_ids: ["a1"] })],
        source_events: [
          {
            id: "e1",
            time: new Date(T0 + 60_000).toISOString(),
            metric: "input_tokens",
            quantity: "1500",
            revenue: "0.003",
            cost: "0.001",
          },
          {
            id: "e2",
            time: new Date(T0 + 120_000).toISOString(),
            metric: "input_tokens",
            quantity: "2500",
            revenue: "0.005",
            cost: "0.002",
          },
        ],
      }),
    );
    expect(e.headline).toContain("Usage spike");
    expect(e.figures).toContainEqual({ label: "Expected units (baseline)", value: "1,000" });
    expect(e.figures).toContainEqual({ label: "Observed units", value: "4,000" });
    expect(e.figures).toContainEqual({ label: "Deviation (σ)", value: "+6" });
    expect(e.arithmetic).toContain(
      "deviation = (observed − expected) / spread = (4,000 − 1,000) / 500 = +6 σ",
    );
    expect(e.arithmetic).toContain(
      "change = (observed − expected) / expected = (4,000 − 1,000) / 1,000 = +300 %",
    );
    expect(e.evidence).toMatchObject({
      signals: 1,
      source_events: 2,
      first_event_at: "2026-11-16T14:01:00.000Z",
      last_event_at: "2026-11-16T14:02:00.000Z",
    });
    expect(e.evidence.samples.map((s) => s.id)).toEqual(["e2", "e1"]);
    expect(e.what_happened.join(" ")).toContain("Already run: ALERT");
    expect(e.next_step.proposal).toBe("none");
  });

  it("writes the margin arithmetic out from revenue and COGS and proposes the queued rung", () => {
    const e = explainCase(
      base({
        detector: "MarginGuard",
        scope: "chat-api",
        level: "L2",
        signals: [
          {
            id: "m2",
            created_at: T0,
            customer: "acme",
            product: "chat-api",
            metric: null,
            direction: null,
            magnitude: 210,
            window: { start: Date.UTC(2026, 10, 1), end: Date.UTC(2026, 11, 1) },
            details: {
              level: "L2",
              level_threshold: 0.3,
              margin: 0.125,
              margin_pct: 12.5,
              revenue: 1200,
              cogs: 1050,
              shortfall: 210,
            },
            source_event_ids: [],
          },
        ],
        ladder: [
          step({ key: "L1", label: "L1", state: "executed", action_ids: ["a1"] }),
          step({
            key: "L2",
            label: "L2",
            rung: "THROTTLE",
            trigger: "period-to-date margin below 30 % (L2)",
            state: "queued",
            automatic: false,
            action_ids: ["a2"],
          }),
          step({ key: "L3", label: "L3", rung: "BLOCK", state: "not_reached", automatic: false }),
        ],
      }),
    );
    expect(e.figures).toContainEqual({ label: "Revenue, period to date", value: "$1,200.00" });
    expect(e.figures).toContainEqual({ label: "Margin", value: "12.5 %" });
    expect(e.arithmetic[0]).toBe(
      "margin = (revenue − COGS) / revenue = ($1,200.00 − $1,050.00) / $1,200.00 = 12.5 %",
    );
    expect(e.arithmetic[1]).toBe(
      "shortfall = COGS − revenue × (1 − floor) = $1,050.00 − $1,200.00 × 0.7 = $210.00",
    );
    expect(e.next_step).toMatchObject({
      rung: "THROTTLE",
      proposal: "execute_queued",
      action_id: "a2",
    });
    expect(e.next_step.why).toContain("queued for you");
    expect(templateNarrative(e)).toBe(`${e.what_happened[0]} ${e.next_step.why}`);
  });

  it("explains pacing and churn from the figures their detectors stored", () => {
    const pacing = explainCase(
      base({
        detector: "QuotaPacingProjectionService",
        scope: "chat-api/input_tokens",
        level: "100 %",
        signals: [
          {
            id: "p1",
            created_at: T0,
            customer: "acme",
            product: "chat-api",
            metric: "input_tokens",
            direction: null,
            magnitude: 1.2,
            window: { start: Date.UTC(2026, 10, 1), end: Date.UTC(2026, 11, 1) },
            details: {
              threshold_pct: 100,
              projection: 1_200_000,
              usage: 600_000,
              quota: 1_000_000,
              pct_of_quota: 120,
              elapsed_fraction: 0.5,
              method: "linear",
            },
            source_event_ids: [],
          },
        ],
      }),
    );
    expect(pacing.arithmetic).toEqual([
      "straight-line pace = used / elapsed = 600,000 / 0.5 = 1,200,000",
      "projected / quota = 1,200,000 / 1,000,000 = 120 %",
    ]);
    const churn = explainCase(
      base({
        detector: "WeeklyChurnSignalDetector",
        scope: "chat-api",
        level: "−62 %",
        signals: [
          {
            id: "c1",
            created_at: T0,
            customer: "acme",
            product: "chat-api",
            metric: null,
            direction: "drop",
            magnitude: 62.5,
            window: { start: Date.UTC(2026, 10, 3), end: Date.UTC(2026, 10, 17) },
            details: {
              drop_pct: 62.5,
              threshold_pct: 50,
              metrics: "requests",
              "prev_7:requests": 800,
              "last_7:requests": 300,
            },
            source_event_ids: [],
          },
        ],
      }),
    );
    expect(churn.arithmetic).toEqual([
      "requests: 1 − last 7 / previous 7 = 1 − 300 / 800 = 62.5 %",
    ]);
    expect(churn.what_happened[0]).toContain("2026-11-03 to 2026-11-16");
  });
});

describe("nextStep", () => {
  it("names what brings a rung not reached yet, and whether the policy runs it itself", () => {
    const auto = nextStep(
      [step({ state: "executed" }), step({ rung: "THROTTLE", automatic: true })],
      "open",
    );
    expect(auto).toMatchObject({
      rung: "THROTTLE",
      proposal: "automatic_when_triggered",
      action_id: null,
    });
    const manual = nextStep([step({ rung: "BLOCK", automatic: false })], "open");
    expect(manual.proposal).toBe("queued_when_triggered");
    expect(nextStep([step({ state: "queued", action_ids: ["a"] })], "resolved").proposal).toBe(
      "none",
    );
  });
});

describe("numbersGrounded", () => {
  const data = JSON.stringify({
    figures: [{ value: "$1,200.00" }, { value: "12.5 %" }],
    at: "2026-11-16",
  });
  it("accepts a wording that quotes the figures, with or without separators", () => {
    expect(numbersGrounded("Revenue was $1,200 and the margin 12.5 %, on 2026-11-16.", data)).toBe(
      true,
    );
    expect(numbersGrounded("Revenue was 1200.00.", data)).toBe(true);
  });
  it("refuses a wording with a number of its own", () => {
    expect(numbersGrounded("The margin fell by 7.5 points.", data)).toBe(false);
    expect(numbersGrounded("Costs were $1,050.", data)).toBe(false);
  });
});
