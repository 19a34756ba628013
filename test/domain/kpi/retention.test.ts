import { describe, expect, it } from "vitest";
import {
  buildKpiIndex,
  churnedCustomersAt,
  customerChurnAt,
  type KpiInput,
  nrrAt,
  nrrCohortAt,
  nrrWindowAt,
  trialConversionAt,
  trialsEndedAt,
} from "../../../domain/kpi";
import { toNanos } from "../../../domain/money";
import { DAY, d, sub, usd } from "./fixtures";

const day = (t: number) => new Date(t).toISOString().slice(0, 10);

const plans: KpiInput["plans"] = [
  { plan_id: "p100", interval: "month", committed: toNanos(100) },
  { plan_id: "p150", interval: "month", committed: toNanos(150) },
  { plan_id: "p200", interval: "month", committed: toNanos(200) },
  { plan_id: "p500", interval: "month", committed: toNanos(500) },
];

describe("NRR", () => {
  it("labels its window: 12 months when the history allows, else 90 days, else 30 days", () => {
    const t = d("2025-06-15");
    const w = (h: number | null, u: number | null = null) => {
      const r = nrrWindowAt(h, t, u);
      return { window: r.window, start: r.start, covered: r.covered };
    };
    // history from 2024-06-15 = exactly t − 12 months → 12m
    expect(w(d("2024-06-15"))).toEqual({ window: "12m", start: d("2024-06-15"), covered: true });
    // one day short of 12 months, more than 90 days → 90d from t − 90 d = 2025-03-17
    expect(w(d("2024-06-16"))).toEqual({ window: "90d", start: d("2025-03-17"), covered: true });
    // exactly 90 days → 90d
    expect(w(t - 90 * DAY).window).toBe("90d");
    // 89 days → 30d
    expect(w(t - 89 * DAY)).toEqual({ window: "30d", start: t - 30 * DAY, covered: true });
    // no data at all → 30d, not covered
    expect(w(null)).toEqual({ window: "30d", start: t - 30 * DAY, covered: false });
    // Feb 29 − 12 months clamps to Feb 28
    expect(nrrWindowAt(d("2023-01-01"), d("2024-02-29")).start).toBe(d("2023-02-28"));
  });

  it("needs the 30 days of usage before its start: a window whose starting MRR would miss usage is not chosen", () => {
    const t = d("2025-06-15");
    // Subscriptions for two years, usage recorded from exactly t − 90 d: at a 90-day start the
    // usage window (the 30 days before it) has no record → 30d, whose usage window is covered.
    expect(nrrWindowAt(d("2023-06-01"), t, t - 90 * DAY)).toMatchObject({
      window: "30d",
      covered: true,
    });
    // Usage from t − 120 d covers the 90-day start's usage window.
    expect(nrrWindowAt(d("2023-06-01"), t, t - 120 * DAY).window).toBe("90d");
    // Usage from t − 12 months − 30 d covers 12 months.
    expect(nrrWindowAt(d("2023-06-01"), t, d("2024-05-16")).window).toBe("12m");
    // Less than 60 days of usage: no window is covered → 30d, flagged.
    expect(nrrWindowAt(d("2023-06-01"), t, t - 59 * DAY)).toMatchObject({
      window: "30d",
      covered: false,
    });
  });

  it("the demo's 539 % case: usage that starts at the window start no longer inflates NRR", () => {
    // One customer, committed 100 a month for a year; usage of $10 a day from t − 90 d. Its MRR
    // is 100 + 300 = 400 at t and at any instant 30 days after usage began. A 90-day window
    // would start with 100 (no usage recorded before it) and read 400 %; the 30-day window
    // starts at 400 and reads 100 %, which is what happened.
    const t = d("2025-06-15");
    const days = Array.from({ length: 90 }, (_, i) => t - (90 - i) * DAY);
    const index = buildKpiIndex({
      plans,
      subscriptions: [sub("s", "a", [["p100", "2024-06-01", null]])],
      usage_by_customer: [{ customer_id: "a", days, revenue: days.map(() => 10_000_000_000n) }],
    });
    expect(nrrAt(index, t, { window: "90d" }).ratio).toBe(4);
    expect(nrrAt(index, t, { window: "90d" }).usage_covered).toBe(false);
    const r = nrrAt(index, t);
    expect([r.window, r.ratio, r.usage_covered]).toEqual(["30d", 1, true]);
    // The cohort list adds up to the tile's figures.
    const { result, rows } = nrrCohortAt(index, t);
    expect(result.cohort_customers).toBe(rows.length);
    expect(rows.reduce((s, x) => s + x.start_mrr, 0n)).toBe(result.starting_mrr);
    expect(rows.reduce((s, x) => s + x.current_mrr, 0n)).toBe(result.current_mrr);
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
  it("customers who stopped paying in the window and did not come back ÷ paying at its start", () => {
    // window: 30 days ending 2025-06-01 → from 2025-05-02
    // a: paying throughout                        → stays
    // b: paying at start, canceled 2025-05-20     → churned (MRR lost 200)
    // c: joined 05-05, canceled 05-25 (in window) → churned too: it stopped paying in the
    //    window (MRR lost 100), though it was not paying at the start
    // e: joined 05-10, still paying               → not churned
    // f: paying at start, canceled 05-10, back 05-20 → not churned (paying at the end)
    // churn = 2 ÷ 3 paying at the start (a, b, f)
    const index = buildKpiIndex({
      plans,
      subscriptions: [
        sub("sa", "a", [["p100", "2025-01-01", null]]),
        sub("sb", "b", [["p200", "2025-01-01", "2025-05-20"]]),
        sub("sc", "c", [["p100", "2025-05-05", "2025-05-25"]]),
        sub("se", "e", [["p500", "2025-05-10", null]]),
        sub("sf1", "f", [["p100", "2025-01-01", "2025-05-10"]]),
        sub("sf2", "f", [["p100", "2025-05-20", null]]),
      ],
    });
    const r = customerChurnAt(index, d("2025-06-01"));
    expect([r.paying_at_start, r.churned, r.rate, usd(r.churned_mrr), r.window_days]).toEqual([
      3,
      2,
      2 / 3,
      "300.00",
      30,
    ]);
    expect(r.window_start).toBe(d("2025-05-02"));
    // The list behind the tile: same count, same MRR, newest churn first.
    const { rows } = churnedCustomersAt(index, d("2025-06-01"));
    expect(
      rows.map((x) => [x.customer_id, day(x.churned_at), usd(x.mrr), x.paying_at_start]),
    ).toEqual([
      ["c", "2025-05-25", "100.00", false],
      ["b", "2025-05-20", "200.00", true],
    ]);
  });

  it("a trailing rate: a churn counts on each of the 30 days after it, not on one day", () => {
    // b paid for a single day (05-10 → 05-11). The point-in-time rule (paying at t − 30 d and
    // not at t) saw it on one day of the sparkline only; the trailing window sees it from the
    // day it churned for 30 days.
    const index = buildKpiIndex({
      plans,
      subscriptions: [
        sub("sa", "a", [["p100", "2025-01-01", null]]),
        sub("sb", "b", [["p200", "2025-05-10", "2025-05-11"]]),
      ],
    });
    const churnedOn = Array.from({ length: 45 }, (_, i) => d("2025-05-05") + i * DAY).filter(
      (t) => customerChurnAt(index, t).churned === 1,
    );
    expect(churnedOn.map(day)).toEqual(
      Array.from({ length: 30 }, (_, i) => day(d("2025-05-11") + i * DAY)),
    );
    expect(customerChurnAt(index, d("2025-05-20")).rate).toBe(1); // 1 ÷ a
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
    // The list behind the tile: the two trials that ended, converted and lapsed.
    expect(
      trialsEndedAt(index, d("2025-06-01")).map((o) => [o.subscription_id, o.converted]),
    ).toEqual([
      ["t2", false],
      ["t1", true],
    ]);
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
