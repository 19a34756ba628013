import { describe, expect, it } from "vitest";
import {
  buildKpiIndex,
  cockpitAt,
  comparisonFor,
  type DailyUsageRevenue,
  dailySeries,
  type KpiInput,
  moneyDelta,
  mrrAt,
  numberDelta,
  seriesInstants,
} from "../../../domain/kpi";
import { formatMoney, toNanos } from "../../../domain/money";

const DAY = 86_400_000;
const d = (date: string) => Date.parse(`${date}T00:00:00Z`);
const usd = (n: bigint | null) => (n === null ? null : formatMoney(n));

describe("series and deltas", () => {
  it("30 day-ends ending at t, ascending", () => {
    const t = d("2025-03-31");
    const s = seriesInstants(t);
    expect(s).toHaveLength(30);
    expect([s[0], s[29]]).toEqual([d("2025-03-02"), t]);
    expect(dailySeries(t, (at) => at, 3).map((p) => p.value)).toEqual([t - 2 * DAY, t - DAY, t]);
  });

  it("money delta: signed change and ratio; null ratio from 0 or a missing value", () => {
    const cmp = comparisonFor(d("2025-03-31"));
    expect(cmp).toEqual({ previous_at: d("2025-03-01"), days: 30, label: "vs 30 days earlier" });
    const up = moneyDelta(toNanos(150), toNanos(100), cmp);
    expect([usd(up.change), up.change_ratio]).toEqual(["50.00", 0.5]);
    expect(moneyDelta(toNanos(150), 0n, cmp).change_ratio).toBeNull();
    expect(moneyDelta(null, toNanos(1), cmp).change).toBeNull();
  });

  it("number delta: rates change in points", () => {
    const cmp = comparisonFor(0, 7);
    const r = numberDelta(0.25, 0.2, cmp);
    expect(r.change).toBeCloseTo(0.05, 12);
    expect(r.change_ratio).toBeCloseTo(0.25, 12);
    expect(r.label).toBe("vs 7 days earlier");
    expect(numberDelta(0.1, null, cmp).change).toBeNull();
  });
});

describe("cockpit", () => {
  // Two customers on $100/month since Jan 1; b upgrades to $300 on Mar 10; c starts a 14-day
  // trial on Mar 1 and converts; a usage customer u pays $2/day from Feb 1.
  const input: KpiInput = {
    plans: [
      { plan_id: "basic", interval: "month", committed: toNanos(100) },
      { plan_id: "pro", interval: "month", committed: toNanos(300) },
      { plan_id: "usage", interval: "month", committed: 0n },
    ],
    subscriptions: [
      {
        subscription_id: "sa",
        customer_id: "a",
        phases: [{ plan_id: "basic", start: d("2025-01-01"), end: null }],
      },
      {
        subscription_id: "sb",
        customer_id: "b",
        phases: [
          { plan_id: "basic", start: d("2025-01-01"), end: d("2025-03-10") },
          { plan_id: "pro", start: d("2025-03-10"), end: null },
        ],
      },
      {
        subscription_id: "sc",
        customer_id: "c",
        trial_end: d("2025-03-15"),
        phases: [{ plan_id: "basic", start: d("2025-03-01"), end: null }],
      },
      {
        subscription_id: "su",
        customer_id: "u",
        phases: [{ plan_id: "usage", start: d("2025-01-01"), end: null }],
      },
    ],
    usage: Array.from(
      { length: 90 },
      (_, i): DailyUsageRevenue => ({
        customer_id: "u",
        day: d("2025-02-01") + i * DAY,
        revenue: toNanos(2),
      }),
    ),
    invoices: [
      {
        id: "i1",
        customer_id: "a",
        status: "open",
        total: toNanos(100),
        issued_at: d("2025-02-01"),
        due_at: d("2025-02-15"),
        paid_at: null,
      },
    ],
  };
  const asOf = d("2025-03-31");
  const c = cockpitAt(buildKpiIndex(input), asOf);

  it("MRR with its parts, ARR, ARPU", () => {
    // a 100 + b 300 + c 100 committed = 500; u: 30 days × 2 = 60 → MRR 560, ARR 6,720
    // paying: a, b, c, u → ARPU 560 ÷ 4 = 140
    expect([usd(c.mrr.value), usd(c.mrr.committed), usd(c.mrr.usage)]).toEqual([
      "560.00",
      "500.00",
      "60.00",
    ]);
    expect([usd(c.arr.value), usd(c.arpu.value), c.arpu.paying_customers]).toEqual([
      "6720.00",
      "140.00",
      4,
    ]);
    // 30 days earlier (Mar 1): a 100 + b 100 (c trialing) + u 28 days × 2 = 56 → 256
    expect([usd(c.mrr.delta.previous), usd(c.mrr.delta.change)]).toEqual(["256.00", "304.00"]);
    expect(c.mrr.delta.previous_at).toBe(d("2025-03-01"));
  });

  it("each series has 30 daily points ending at the headline value", () => {
    const index = buildKpiIndex(input);
    for (const s of [c.mrr.series, c.arr.series, c.nrr.series, c.customer_churn.series]) {
      expect(s).toHaveLength(30);
      expect(s[29]?.at).toBe(asOf);
    }
    expect(c.mrr.series[29]?.value).toBe(c.mrr.value);
    expect(c.mrr.series.map((p) => p.value)).toEqual(
      seriesInstants(asOf).map((t) => mrrAt(index, t).total),
    );
    expect(c.active_subscriptions.series[29]?.value).toBe(c.active_subscriptions.value);
    expect(c.outstanding_invoices.count_series[29]?.value).toBe(1);
  });

  it("NRR, churn, trial conversion, active subscriptions, invoices, health", () => {
    // history from Jan 1 → 89 days to Mar 31 → 30-day window from Mar 1:
    // cohort a 100, b 100, u 56 = 256 → now a 100, b 300, u 60 = 460 → 460 ÷ 256 = 1.796875
    expect([c.nrr.window, c.nrr.value]).toEqual(["30d", 1.796875]);
    expect([c.customer_churn.value, c.customer_churn.paying_at_start]).toEqual([0, 3]);
    expect([c.trial_conversion.value, c.trial_conversion.ended]).toEqual([1, 1]);
    expect([c.active_subscriptions.value, c.active_subscriptions.trialing]).toEqual([4, 0]);
    // invoice due Feb 15, as of Mar 31: 44 days → 31–60
    expect([c.outstanding_invoices.count, c.outstanding_invoices.buckets.days_31_60.count]).toEqual(
      [1, 1],
    );
    expect(c.health.slices.active).toBe(4);
  });
});
