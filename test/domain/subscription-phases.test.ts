import { describe, expect, it } from "vitest";
import { buildKpiIndex, mrrAt } from "../../domain/kpi";
import { divRound, roundNanos, toMicros, toNanos } from "../../domain/money";
import { compilePlan, periodCharges } from "../../domain/pricing";
import {
  billingPeriods,
  dailyFees,
  invoiceCharges,
  phasesAfterCancel,
  phasesAfterChange,
  ratingPhases,
  type SubscriptionTerms,
} from "../../domain/subscription-phases";

const T = (s: string) => Date.parse(s);
const DAY = 86_400_000;
const monthly = (id: string, flat: string, extra: object[] = []) =>
  compilePlan({
    id,
    currency: "USD",
    interval: "month",
    components: [{ type: "flat", amount: flat }, ...(extra as never[])],
  });
const PLANS = new Map([
  ["a", monthly("a", "50", [{ type: "per_unit", metric: "tokens", unit_price: "0.001" }])],
  ["b", monthly("b", "200", [{ type: "per_unit", metric: "tokens", unit_price: "0.0005" }])],
  [
    "y",
    compilePlan({
      id: "y",
      currency: "USD",
      interval: "year",
      components: [{ type: "flat", amount: "1200" }],
    }),
  ],
]);
const intervalOf = (id: string) => PLANS.get(id)?.interval;

const JAN = T("2025-01-01T00:00:00Z");
const FEB = T("2025-02-01T00:00:00Z");
const MAR = T("2025-03-01T00:00:00Z");
const APR = T("2025-04-01T00:00:00Z");
const CHANGE = T("2025-02-11T00:00:00Z");

const sub = (
  phases: SubscriptionTerms["phases"],
  trial_end: number | null = null,
): SubscriptionTerms => ({
  subscription_id: "s",
  product_id: "p",
  trial_end,
  phases,
});

describe("history edits", () => {
  it("a change keeps the anchor for the same interval and re-anchors for another", () => {
    const start = [{ plan_id: "a", start: JAN, end: null, anchor: JAN }];
    expect(
      phasesAfterChange(start, { plan_id: "b", at: CHANGE, subscriptionEnd: null }, intervalOf),
    ).toEqual([
      { plan_id: "a", start: JAN, end: CHANGE, anchor: JAN },
      { plan_id: "b", start: CHANGE, end: null, anchor: JAN },
    ]);
    expect(
      phasesAfterChange(start, { plan_id: "y", at: CHANGE, subscriptionEnd: APR }, intervalOf)[1],
    ).toEqual({
      plan_id: "y",
      start: CHANGE,
      end: APR,
      anchor: CHANGE,
    });
  });

  it("a change back to the previous plan continues it; a cancel drops later phases", () => {
    const two = [
      { plan_id: "a", start: JAN, end: MAR, anchor: JAN },
      { plan_id: "b", start: MAR, end: null, anchor: JAN },
    ];
    expect(
      phasesAfterChange(two, { plan_id: "a", at: MAR, subscriptionEnd: null }, intervalOf),
    ).toEqual([{ plan_id: "a", start: JAN, end: null, anchor: JAN }]);
    expect(phasesAfterCancel(two, CHANGE)).toEqual([
      { plan_id: "a", start: JAN, end: CHANGE, anchor: JAN },
    ]);
    expect(phasesAfterCancel(two, JAN)).toEqual([
      { plan_id: "a", start: JAN, end: JAN, anchor: JAN },
    ]);
  });
});

describe("ratingPhases", () => {
  it("gives the stretch after a mid-period change a ledger of its own until the next billing date", () => {
    const phases = ratingPhases(
      sub([
        { plan_id: "a", start: JAN, end: CHANGE, anchor: JAN },
        { plan_id: "b", start: CHANGE, end: null, anchor: JAN },
      ]),
      intervalOf,
    );
    expect(phases.map((p) => [p.plan_id, p.start, p.end, p.anchor])).toEqual([
      ["a", JAN, CHANGE, JAN],
      ["b", CHANGE, MAR, CHANGE],
      ["b", MAR, null, JAN],
    ]);
  });

  it("leaves a change on a billing date alone", () => {
    const phases = ratingPhases(
      sub([
        { plan_id: "a", start: JAN, end: FEB, anchor: JAN },
        { plan_id: "b", start: FEB, end: null, anchor: JAN },
      ]),
      intervalOf,
    );
    expect(phases).toHaveLength(2);
  });
});

describe("billingPeriods", () => {
  const changed = sub([
    { plan_id: "a", start: JAN, end: CHANGE, anchor: JAN },
    { plan_id: "b", start: CHANGE, end: APR - 10 * DAY, anchor: JAN },
  ]);

  it("lists each period once with a stretch per plan, closing early when the service ends", () => {
    const periods = billingPeriods(changed, intervalOf, APR);
    expect(periods.map((p) => [p.start, p.end, p.closes_at])).toEqual([
      [JAN, FEB, FEB],
      [FEB, MAR, MAR],
      [MAR, APR, APR - 10 * DAY],
    ]);
    expect(periods[1]?.pieces).toEqual([
      { plan_id: "a", from: FEB, to: CHANGE, ledger_start: FEB },
      { plan_id: "b", from: CHANGE, to: MAR, ledger_start: CHANGE },
    ]);
  });

  it("lists only the periods ending after `after` and starting before `until`", () => {
    expect(billingPeriods(changed, intervalOf, MAR, FEB + DAY).map((p) => p.start)).toEqual([FEB]);
    // The ended phase still contributes its stretch to the period holding `after`.
    expect(billingPeriods(changed, intervalOf, MAR, CHANGE + DAY)[0]?.pieces).toHaveLength(2);
  });
});

describe("invoiceCharges", () => {
  const period = { start: FEB, end: MAR, closes_at: MAR, pieces: [] };

  it("equals pricing.ts periodCharges for a single stretch, coupons included", () => {
    const plan = PLANS.get("a");
    if (!plan) throw new Error();
    const usage = new Map([["tokens", toMicros(12_345)]]);
    const coupons = [{ percent_off: "10" }, { amount_off: "3.33" }];
    const piece = { plan_id: "a", from: FEB + 3 * DAY, to: MAR, ledger_start: FEB + 3 * DAY };
    const mine = invoiceCharges(period, null, [{ piece, plan, usage }], coupons);
    const ref = periodCharges(plan, {
      usage,
      periodStart: FEB,
      periodEnd: MAR,
      activeFrom: piece.from,
      activeTo: piece.to,
      coupons,
    });
    expect(mine.total).toBe(ref.total);
    expect(mine.discount_total).toBe(ref.discount_total);
    expect(mine.rounding).toBe(ref.rounding);
    expect(mine.lines.map((l) => l.amount)).toEqual(ref.lines.map((l) => l.amount));
  });

  it("adds the stretches of a period and rounds once", () => {
    const a = PLANS.get("a");
    const b = PLANS.get("b");
    if (!a || !b) throw new Error();
    const res = invoiceCharges(period, null, [
      {
        piece: { plan_id: "a", from: FEB, to: CHANGE, ledger_start: FEB },
        plan: a,
        usage: new Map([["tokens", toMicros(1000)]]),
      },
      {
        piece: { plan_id: "b", from: CHANGE, to: MAR, ledger_start: CHANGE },
        plan: b,
        usage: new Map([["tokens", toMicros(10_000)]]),
      },
    ]);
    // 50 × 10/28 + 200 × 18/28 (each rounded to the nano as pricing.ts prorates) + $1 + $5.
    const flat = divRound(toNanos(50) * 10n, 28n) + divRound(toNanos(200) * 18n, 28n);
    expect(res.usage_total).toBe(toNanos(6));
    expect(res.total).toBe(roundNanos(flat + toNanos(6), 2));
    expect(res.lines.reduce((s, l) => s + l.amount, 0n)).toBe(res.total);
    expect(res.lines.map((l) => `${l.plan_id}:${l.type}`)).toContain("b:per_unit");
  });
});

describe("dailyFees", () => {
  it("recognises each period's flat fee evenly; a month's days add up to it", () => {
    const fees = dailyFees(
      sub([{ plan_id: "b", start: JAN, end: null, anchor: JAN }]),
      (id) => ({ interval: "month", flat: PLANS.get(id)?.flat?.amount ?? 0n }),
      FEB,
      MAR,
    );
    expect(fees.size).toBe(28);
    const sum = [...fees.values()].reduce((s, v) => s + v, 0n);
    expect(roundNanos(sum, 2)).toBe(toNanos(200));
  });

  it("accrues nothing during the trial", () => {
    const fees = dailyFees(
      sub([{ plan_id: "a", start: JAN, end: null, anchor: JAN }], JAN + 10 * DAY),
      (id) => ({ interval: "month", flat: PLANS.get(id)?.flat?.amount ?? 0n }),
      JAN,
      FEB,
    );
    expect(fees.get(JAN)).toBeUndefined();
    expect(fees.size).toBe(21);
  });
});

describe("KPI input: usage_by_customer", () => {
  it("is the same as one row per day", () => {
    const base = {
      plans: [{ plan_id: "a", interval: "month" as const, committed: toNanos(50) }],
      subscriptions: [
        {
          subscription_id: "s",
          customer_id: "c",
          phases: [{ plan_id: "a", start: JAN, end: null }],
        },
      ],
    };
    const rows = buildKpiIndex({
      ...base,
      usage: [
        { customer_id: "c", day: FEB - DAY, revenue: toNanos(10) },
        { customer_id: "c", day: FEB - 2 * DAY, revenue: toNanos(5) },
      ],
    });
    const columns = buildKpiIndex({
      ...base,
      usage_by_customer: [
        { customer_id: "c", days: [FEB - DAY, FEB - 2 * DAY], revenue: [toNanos(10), toNanos(5)] },
      ],
    });
    expect(mrrAt(columns, FEB)).toEqual(mrrAt(rows, FEB));
    expect(mrrAt(columns, FEB).usage).toBe(toNanos(15));
  });
});
