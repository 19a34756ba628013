import { describe, expect, it } from "vitest";
import {
  buildKpiIndex,
  committedMonthly,
  mrrAt,
  recurringTermsFromPlan,
} from "../../../domain/kpi";
import { formatMoney, toNanos } from "../../../domain/money";
import { compilePlan } from "../../../domain/pricing";

const d = (date: string) => Date.parse(`${date}T00:00:00Z`);
const usd = (n: bigint) => formatMoney(n);

describe("committed recurring amount of a plan", () => {
  it("annual plan normalisation: $1,200/yr → $100 MRR", () => {
    // 1,200 ÷ 12 = 100.00
    expect(
      usd(committedMonthly({ plan_id: "a", interval: "year", committed: toNanos(1200) })),
    ).toBe("100.00");
    const index = buildKpiIndex({
      plans: [{ plan_id: "annual", interval: "year", committed: toNanos(1200) }],
      subscriptions: [
        {
          subscription_id: "s1",
          customer_id: "c1",
          phases: [{ plan_id: "annual", start: d("2025-01-01"), end: null }],
        },
      ],
    });
    const mrr = mrrAt(index, d("2025-06-15"));
    expect(usd(mrr.committed)).toBe("100.00");
    expect(usd(mrr.arr)).toBe("1200.00"); // ARR = 12 × 100
  });

  it("an annual amount not divisible by 12 rounds half-even to the nano once", () => {
    // 1,000 ÷ 12 = 83.3333333333… → 83.333333333 (nanos)
    const m = committedMonthly({ plan_id: "a", interval: "year", committed: toNanos(1000) });
    expect(formatMoney(m, 9)).toBe("83.333333333");
  });

  it("flat fee plus the minimum commitment's excess over it", () => {
    // flat 200, minimum 500 → committed 200 + (500 − 200) = 500, of which 300 is a usage allowance
    const both = recurringTermsFromPlan(
      compilePlan({
        id: "p",
        currency: "USD",
        interval: "month",
        components: [
          { type: "flat", amount: 200 },
          { type: "per_unit", metric: "calls", unit_price: "0.01" },
          { type: "minimum", amount: 500 },
        ],
      }),
    );
    expect([usd(both.committed), usd(both.minimum_excess ?? 0n)]).toEqual(["500.00", "300.00"]);
    // flat 500 ≥ minimum 200 → committed 500, no allowance (the minimum never tops up)
    const flatWins = recurringTermsFromPlan({
      id: "q",
      currency: "USD",
      interval: "year",
      components: [
        { type: "flat", amount: 500 },
        { type: "minimum", amount: 200 },
      ],
    });
    expect([
      usd(flatWins.committed),
      usd(flatWins.minimum_excess ?? 0n),
      flatWins.interval,
    ]).toEqual(["500.00", "0.00", "year"]);
    // usage only → nothing committed
    const usageOnly = recurringTermsFromPlan({
      id: "u",
      currency: "USD",
      interval: "month",
      components: [{ type: "per_unit", metric: "calls", unit_price: 1 }],
    });
    expect(usageOnly.committed).toBe(0n);
  });

  it("recurring discounts: percent first, then amount, in order, never below zero", () => {
    const terms = { plan_id: "p", interval: "month" as const, committed: toNanos(100) };
    // 100 − 20 % = 80, − 10 = 70
    expect(usd(committedMonthly(terms, [{ percent_off: 20, amount_off: 10 }]))).toBe("70.00");
    // two coupons: 100 − 10 = 90, then 90 − 50 % = 45
    expect(usd(committedMonthly(terms, [{ amount_off: 10 }, { percent_off: 50 }]))).toBe("45.00");
    // 100 − 150 → 0
    expect(usd(committedMonthly(terms, [{ amount_off: 150 }]))).toBe("0.00");
    // annual: (1,200 − 25 %) ÷ 12 = 900 ÷ 12 = 75
    const annual = { plan_id: "a", interval: "year" as const, committed: toNanos(1200) };
    expect(usd(committedMonthly(annual, [{ percent_off: 25 }]))).toBe("75.00");
  });

  it("an effective-dated discount only counts while it is in force", () => {
    // 50 % off for February only: 100 in January, 50 in February, 100 again in March
    const index = buildKpiIndex({
      plans: [{ plan_id: "m", interval: "month", committed: toNanos(100) }],
      subscriptions: [
        {
          subscription_id: "s1",
          customer_id: "c1",
          phases: [{ plan_id: "m", start: d("2025-01-01"), end: null }],
          discounts: [{ percent_off: 50, from: d("2025-02-01"), to: d("2025-03-01") }],
        },
      ],
    });
    const at = (date: string) => usd(mrrAt(index, d(date)).committed);
    expect([at("2025-01-31"), at("2025-02-01"), at("2025-02-28"), at("2025-03-01")]).toEqual([
      "100.00",
      "50.00",
      "50.00",
      "100.00",
    ]);
  });

  it("rejects bad discounts and unknown plans", () => {
    const terms = { plan_id: "p", interval: "month" as const, committed: toNanos(100) };
    expect(() => committedMonthly(terms, [{ percent_off: 120 }])).toThrow(RangeError);
    expect(() => committedMonthly(terms, [{ amount_off: -1 }])).toThrow(RangeError);
    expect(() =>
      buildKpiIndex({
        plans: [],
        subscriptions: [
          {
            subscription_id: "s",
            customer_id: "c",
            phases: [{ plan_id: "nope", start: 0, end: null }],
          },
        ],
      }),
    ).toThrow(/unknown plan nope/);
  });
});
