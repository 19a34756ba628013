import { describe, expect, it } from "vitest";
import {
  buildKpiIndex,
  customerChurnAt,
  type KpiInput,
  nrrAt,
  nrrWindowAt,
  trialConversionAt,
} from "../../../domain/kpi";
import { toNanos } from "../../../domain/money";
import { DAY, d, sub, usd } from "./fixtures";

const plans: KpiInput["plans"] = [
  { plan_id: "p100", interval: "month", committed: toNanos(100) },
  { plan_id: "p150", interval: "month", committed: toNanos(150) },
  { plan_id: "p200", interval: "month", committed: toNanos(200) },
  { plan_id: "p500", interval: "month", committed: toNanos(500) },
];

describe("NRR", () => {
  it("labels its window: 12 months when the history allows, else 90 days, else 30 days", () => {
    const t = d("2025-06-15");
    // history from 2024-06-15 = exactly t − 12 months → 12m
    expect(nrrWindowAt(d("2024-06-15"), t)).toEqual({ window: "12m", start: d("2024-06-15") });
    // one day short of 12 months, more than 90 days → 90d from t − 90 d = 2025-03-17
    expect(nrrWindowAt(d("2024-06-16"), t)).toEqual({ window: "90d", start: d("2025-03-17") });
    // exactly 90 days → 90d
    expect(nrrWindowAt(t - 90 * DAY, t).window).toBe("90d");
    // 89 days → 30d
    expect(nrrWindowAt(t - 89 * DAY, t)).toEqual({ window: "30d", start: t - 30 * DAY });
    // no data at all → 30d
    expect(nrrWindowAt(null, t).window).toBe("30d");
    // Feb 29 − 12 months clamps to Feb 28
    expect(nrrWindowAt(d("2023-01-01"), d("2024-02-29")).start).toBe(d("2023-02-28"));
  });

  it("ratio of the start cohort's MRR now to its MRR at the window start; joiners excluded", () => {
    // window 12m: 2024-06-01 → 2025-06-01 (history from 2024-01-01)
    // a: 100 → 150 (expanded)   b: 200 → 0 (churned)   d: 100 → 100
    // c: joined in the window at 500 → not in the cohort
    // NRR = (150 + 0 + 100) ÷ (100 + 200 + 100) = 250 ÷ 400 = 0.625
    const index = buildKpiIndex({
      plans,
      subscriptions: [
        sub("sa", "a", [
          ["p100", "2024-01-01", "2025-01-01"],
          ["p150", "2025-01-01", null],
        ]),
        sub("sb", "b", [["p200", "2024-01-01", "2025-03-01"]]),
        sub("sc", "c", [["p500", "2024-09-01", null]]),
        sub("sd", "d", [["p100", "2024-01-01", null]]),
      ],
    });
    const r = nrrAt(index, d("2025-06-01"));
    expect({
      window: r.window,
      start: new Date(r.window_start).toISOString().slice(0, 10),
      cohort: r.cohort_customers,
      starting: usd(r.starting_mrr),
      current: usd(r.current_mrr),
      ratio: r.ratio,
    }).toEqual({
      window: "12m",
      start: "2024-06-01",
      cohort: 3,
      starting: "400.00",
      current: "250.00",
      ratio: 0.625,
    });
  });

  it("short history: a 30-day window labelled as such, null for an empty cohort", () => {
    // history from 2025-05-20; t = 2025-06-01 (12 days) → 30d window from 2025-05-02: nobody paid
    const index = buildKpiIndex({
      plans,
      subscriptions: [sub("s", "a", [["p100", "2025-05-20", null]])],
    });
    const r = nrrAt(index, d("2025-06-01"));
    expect([r.window, r.cohort_customers, r.ratio]).toEqual(["30d", 0, null]);
    // 45 days later the 30-day window (from 2025-06-16) holds a: 100 → 100 = 1
    expect(nrrAt(index, d("2025-07-16")).ratio).toBe(1);
  });
});

describe("customer churn rate", () => {
  it("paying at the window start and not at its end ÷ paying at the start; joined-and-left excluded", () => {
    // window: 30 days ending 2025-06-01 → from 2025-05-02
    // a: paying throughout                        → stays
    // b: paying at start, canceled 2025-05-20     → churned
    // c: joined 05-05, canceled 05-25 (in window) → excluded (not paying at start)
    // e: joined 05-10, still paying               → excluded (not paying at start)
    // churn = 1 ÷ 2 = 0.5, churned MRR = b's 200
    const index = buildKpiIndex({
      plans,
      subscriptions: [
        sub("sa", "a", [["p100", "2025-01-01", null]]),
        sub("sb", "b", [["p200", "2025-01-01", "2025-05-20"]]),
        sub("sc", "c", [["p100", "2025-05-05", "2025-05-25"]]),
        sub("se", "e", [["p500", "2025-05-10", null]]),
      ],
    });
    const r = customerChurnAt(index, d("2025-06-01"));
    expect([r.paying_at_start, r.churned, r.rate, usd(r.churned_mrr), r.window_days]).toEqual([
      2,
      1,
      0.5,
      "200.00",
      30,
    ]);
    expect(r.window_start).toBe(d("2025-05-02"));
  });

  it("a customer who lapses and comes back inside the window has not churned", () => {
    const index = buildKpiIndex({
      plans,
      subscriptions: [
        sub("s1", "a", [["p100", "2025-01-01", "2025-05-10"]]),
        sub("s2", "a", [["p100", "2025-05-20", null]]),
      ],
    });
    expect(customerChurnAt(index, d("2025-06-01")).rate).toBe(0);
  });

  it("null with nobody paying at the window start; the window length is configurable", () => {
    const index = buildKpiIndex({
      plans,
      subscriptions: [sub("s", "a", [["p100", "2025-05-20", "2025-05-25"]])],
    });
    expect(customerChurnAt(index, d("2025-06-01")).rate).toBeNull();
    // 7-day window ending 05-27 starts 05-20: a pays at 05-20 00:00 and not at 05-27 → 1 of 1
    expect(customerChurnAt(index, d("2025-05-27"), { days: 7 }).rate).toBe(1);
  });
});

describe("trial conversion", () => {
  it("one converted, one lapsed in the window → 50 %", () => {
    // window: (2025-05-02, 2025-06-01]
    // t1: trial to 05-15, continues after → converted
    // t2: trial to 05-20, canceled at 05-20 (at trial end) → lapsed
    // t3: trial to 06-10 → not ended yet, not counted
    // t4: trial ended 04-20 → before the window, not counted
    // 1 converted ÷ 2 ended = 0.5
    const index = buildKpiIndex({
      plans,
      subscriptions: [
        sub("t1", "a", [["p100", "2025-05-01", null]], { trial_end: d("2025-05-15") }),
        sub("t2", "b", [["p100", "2025-05-06", "2025-05-20"]], { trial_end: d("2025-05-20") }),
        sub("t3", "c", [["p100", "2025-05-27", null]], { trial_end: d("2025-06-10") }),
        sub("t4", "e", [["p100", "2025-04-06", null]], { trial_end: d("2025-04-20") }),
        sub("s5", "f", [["p100", "2025-05-06", null]]), // no trial
      ],
    });
    const r = trialConversionAt(index, d("2025-06-01"));
    expect([r.ended, r.converted, r.lapsed, r.rate]).toEqual([2, 1, 1, 0.5]);
  });

  it("a trial canceled early ends at the cancel; converted trials that later churn still count", () => {
    // t1: trial to 06-20 but canceled 05-10 → ended (lapsed) on 05-10, inside the window
    // t2: trial to 05-12, then paid until 05-25 → converted at 05-12
    const index = buildKpiIndex({
      plans,
      subscriptions: [
        sub("t1", "a", [["p100", "2025-05-06", "2025-05-10"]], { trial_end: d("2025-06-20") }),
        sub("t2", "b", [["p100", "2025-04-28", "2025-05-25"]], { trial_end: d("2025-05-12") }),
      ],
    });
    const r = trialConversionAt(index, d("2025-06-01"));
    expect([r.ended, r.converted, r.rate]).toEqual([2, 1, 0.5]);
    // as of 05-11: only t1 has ended (t2's trial ends tomorrow) → 0 of 1
    expect(trialConversionAt(index, d("2025-05-11")).rate).toBe(0);
    // no trials ended → null
    expect(trialConversionAt(index, d("2025-04-01")).rate).toBeNull();
  });
});
