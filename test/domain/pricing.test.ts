import { describe, expect, it } from "vitest";
import { formatMoney, toMicros } from "../../domain/money";
import {
  type CompiledPlan,
  compilePlan,
  marginalRevenue,
  type PlanComponent,
  type PlanDefinition,
  PlanError,
  periodCharges,
  usageCharges,
  validatePlan,
} from "../../domain/pricing";

const plan = (components: PlanComponent[], extra: Partial<PlanDefinition> = {}): CompiledPlan =>
  compilePlan({ id: "p", currency: "USD", interval: "month", components, ...extra });
const usage = (u: Record<string, string | number>) =>
  new Map(Object.entries(u).map(([k, v]) => [k, toMicros(v)]));
/** Usage charge total as an invoice-style decimal string. */
const charge = (p: CompiledPlan, u: Record<string, string | number>) =>
  formatMoney(usageCharges(p, usage(u)).total);
const amounts = (lines: { type: string; amount: bigint }[]) =>
  lines.map((l) => [l.type, formatMoney(l.amount)]);

const APR_1 = Date.parse("2025-04-01T00:00:00Z");
const MAY_1 = Date.parse("2025-05-01T00:00:00Z"); // April: 30 days
const DAY = 86_400_000;
const fullApril = { periodStart: APR_1, periodEnd: MAY_1, activeFrom: APR_1, activeTo: Infinity };

describe("the named case: $2K platform fee, per-token pricing, 15 % volume discount above 1M tokens", () => {
  const p = plan([
    { type: "flat", amount: 2000 },
    { type: "per_unit", metric: "input_tokens", unit_price: "0.00001" },
    { type: "discount", metric: "input_tokens", above: 1_000_000, percent: 15 },
  ]);

  it("3,000,000 tokens → usage 30.00, discount −3.00, total 2027.00", () => {
    const inv = periodCharges(p, { ...fullApril, usage: usage({ input_tokens: 3_000_000 }) });
    expect(amounts(inv.lines)).toEqual([
      ["flat", "2000.00"],
      ["per_unit", "30.00"],
      ["discount", "-3.00"],
    ]);
    expect(inv.lines[2]?.quantity).toBe(toMicros(2_000_000));
    expect(formatMoney(inv.subtotal)).toBe("2027.00");
    expect(formatMoney(inv.total)).toBe("2027.00");
  });

  it("800,000 tokens → 2008.00, no discount line", () => {
    const inv = periodCharges(p, { ...fullApril, usage: usage({ input_tokens: 800_000 }) });
    expect(amounts(inv.lines)).toEqual([
      ["flat", "2000.00"],
      ["per_unit", "8.00"],
    ]);
    expect(formatMoney(inv.total)).toBe("2008.00");
  });
});

describe("usageCharges: component types", () => {
  it("per_unit multiplies exactly, fractional quantities included", () => {
    const p = plan([{ type: "per_unit", metric: "gb_hours", unit_price: "0.002" }]);
    expect(charge(p, { gb_hours: "1234.5" })).toBe("2.469");
    expect(charge(p, { gb_hours: "0.000001" })).toBe("0.000000002"); // 2 nanos, not rounded
    expect(charge(p, { gb_hours: "0.25" })).toBe("0.0005");
  });

  it("ignores metrics the plan does not price", () => {
    const p = plan([{ type: "per_unit", metric: "a", unit_price: 1 }]);
    expect(charge(p, { a: 2, other: 1000 })).toBe("2.00");
  });

  it("zero usage costs nothing and still lists the rate card lines", () => {
    const p = plan([
      { type: "per_unit", metric: "a", unit_price: 1 },
      { type: "package", metric: "b", size: 10, price: 5 },
      {
        type: "tiered",
        metric: "c",
        mode: "volume",
        tiers: [{ up_to: null, unit_price: 1, flat_fee: 10 }],
      },
    ]);
    const r = usageCharges(p, new Map());
    expect(r.total).toBe(0n);
    expect(amounts(r.lines)).toEqual([
      ["per_unit", "0.00"],
      ["package", "0.00"],
      ["tiered", "0.00"],
    ]);
  });

  describe("tiered, same tiers in both modes", () => {
    const tiers = [
      { up_to: 1000, unit_price: "0.01" },
      { up_to: 10000, unit_price: "0.008", flat_fee: 5 },
      { up_to: null, unit_price: "0.005", flat_fee: 20 },
    ];
    const graduated = plan([{ type: "tiered", metric: "calls", mode: "graduated", tiers }]);
    const volume = plan([{ type: "tiered", metric: "calls", mode: "volume", tiers }]);

    it.each([
      // quantity, graduated, volume
      [0, "0.00", "0.00"],
      [1, "0.01", "0.01"],
      [1000, "10.00", "10.00"], // exactly at up_to: still tier 1
      [1001, "15.008", "13.008"], // one over: tier 2 entered, its flat fee applies
      ["1000.5", "15.004", "13.004"],
      [10000, "87.00", "85.00"], // 10 + 9000 × 0.008 + 5 | 10000 × 0.008 + 5
      [10001, "107.005", "70.005"], // 87 + 0.005 + 20 | 10001 × 0.005 + 20
      [20000, "157.00", "120.00"], // 87 + 10000 × 0.005 + 20 | 100 + 20
    ])("%s calls → graduated %s, volume %s", (q, g, v) => {
      expect(charge(graduated, { calls: q })).toBe(g);
      expect(charge(volume, { calls: q })).toBe(v);
    });

    it("rounds once per line, not per tier", () => {
      // 0.0000005 in tier 1 + 0.0000006 in tier 2: each tier alone is < half a nano; the line
      // carries 1.1 nanos → 1.
      const p = plan([
        {
          type: "tiered",
          metric: "x",
          mode: "graduated",
          tiers: [
            { up_to: "0.5", unit_price: "0.000000001" },
            { up_to: null, unit_price: "0.000000001" },
          ],
        },
      ]);
      expect(usageCharges(p, usage({ x: "1.1" })).total).toBe(1n);
      expect(usageCharges(p, usage({ x: "1.5" })).total).toBe(2n); // 1.5 → 2 (half-even)
      expect(usageCharges(p, usage({ x: "2.5" })).total).toBe(2n); // 2.5 → 2 (half-even)
    });
  });

  it("package rounds up to whole packages; zero usage costs nothing", () => {
    const p = plan([{ type: "package", metric: "emails", size: 1000, price: "2.50" }]);
    expect(charge(p, { emails: 0 })).toBe("0.00");
    expect(charge(p, { emails: "0.000001" })).toBe("2.50");
    expect(charge(p, { emails: 1000 })).toBe("2.50");
    expect(charge(p, { emails: 1001 })).toBe("5.00");
    expect(charge(p, { emails: 5500 })).toBe("15.00");
    expect(usageCharges(p, usage({ emails: 1001 })).lines[0]?.description).toBe(
      "emails: 2 × package of 1000 at 2.50 USD",
    );
  });

  describe("included quota", () => {
    const p = plan([
      { type: "included", metric: "calls", quantity: 1000 },
      { type: "per_unit", metric: "calls", unit_price: "0.01" },
    ]);

    it.each([
      [500, "0.00", 500, 0],
      [1000, "0.00", 1000, 0],
      [1500, "5.00", 1000, 500],
    ])("%s calls → %s (covered %s, billable %s)", (q, total, covered, billable) => {
      const r = usageCharges(p, usage({ calls: q }));
      expect(formatMoney(r.total)).toBe(total);
      expect(r.lines.map((l) => [l.type, l.quantity])).toEqual([
        ["included", toMicros(covered)],
        ["per_unit", toMicros(billable)],
      ]);
    });

    it("tier bounds count billable units, after the quota", () => {
      const t = plan([
        { type: "included", metric: "calls", quantity: 1000 },
        {
          type: "tiered",
          metric: "calls",
          mode: "graduated",
          tiers: [
            { up_to: 1000, unit_price: "0.01" },
            { up_to: null, unit_price: "0.005" },
          ],
        },
      ]);
      expect(charge(t, { calls: 2000 })).toBe("10.00"); // billable 1000: all tier 1
      expect(charge(t, { calls: 2500 })).toBe("12.50"); // billable 1500: 10 + 500 × 0.005
    });
  });

  describe("volume discounts", () => {
    it("per metric: `above` counts metered units, quota included", () => {
      const p = plan([
        { type: "included", metric: "tokens", quantity: 100_000 },
        { type: "per_unit", metric: "tokens", unit_price: "0.00001" },
        { type: "discount", metric: "tokens", above: 1_000_000, percent: 10 },
      ]);
      // billable 2.9M → 29.00; charge at 1M metered = 9.00; 10 % of (29 − 9) = 2.00
      expect(amounts(usageCharges(p, usage({ tokens: 3_000_000 })).lines)).toEqual([
        ["included", "0.00"],
        ["per_unit", "29.00"],
        ["discount", "-2.00"],
      ]);
      expect(charge(p, { tokens: 1_000_000 })).toBe("9.00");
    });

    it("per metric over graduated tiers discounts only the charge beyond `above`", () => {
      const p = plan([
        {
          type: "tiered",
          metric: "calls",
          mode: "graduated",
          tiers: [
            { up_to: 1000, unit_price: "0.01" },
            { up_to: null, unit_price: "0.005", flat_fee: 1 },
          ],
        },
        { type: "discount", metric: "calls", above: 500, percent: "12.5" },
      ]);
      // charge(3000) = 10 + 10 + 1 = 21; charge(500) = 5; 12.5 % of 16 = 2
      expect(charge(p, { calls: 3000 })).toBe("19.00");
    });

    it("per metric never turns into a surcharge on non-monotone volume tiers", () => {
      const p = plan([
        {
          type: "tiered",
          metric: "calls",
          mode: "volume",
          tiers: [
            { up_to: 100, unit_price: 1 },
            { up_to: null, unit_price: "0.5" },
          ],
        },
        { type: "discount", metric: "calls", above: 100, percent: 50 },
      ]);
      expect(charge(p, { calls: 101 })).toBe("50.50"); // 50.50 < charge(100) = 100: no discount
      expect(charge(p, { calls: 300 })).toBe("125.00"); // 150 − 50 % of (150 − 100)
    });

    it("without a metric: percent off the usage total above an amount", () => {
      const p = plan([
        { type: "per_unit", metric: "a", unit_price: "0.01" },
        { type: "per_unit", metric: "b", unit_price: "0.02" },
        { type: "discount", above: 100, percent: 20 },
      ]);
      // 50 + 100 = 150; 20 % of 50 = 10
      const r = usageCharges(p, usage({ a: 5000, b: 5000 }));
      expect(amounts(r.lines)).toEqual([
        ["per_unit", "50.00"],
        ["per_unit", "100.00"],
        ["discount", "-10.00"],
      ]);
      expect(formatMoney(r.total)).toBe("140.00");
      expect(charge(p, { a: 5000, b: 2500 })).toBe("100.00"); // exactly at `above`
    });

    it("stacks: the plan-wide discount applies after per-metric discounts", () => {
      const p = plan([
        { type: "per_unit", metric: "a", unit_price: 1 },
        { type: "discount", metric: "a", above: 100, percent: 50 },
        { type: "discount", above: 100, percent: 10 },
      ]);
      // 300 − 50 % of 200 = 200; then 10 % of 100 = 10
      expect(charge(p, { a: 300 })).toBe("190.00");
    });
  });
});

describe("periodCharges", () => {
  it("charges the full flat fee for a full period", () => {
    const p = plan([{ type: "flat", amount: 30 }]);
    const inv = periodCharges(p, { ...fullApril, usage: new Map() });
    expect(formatMoney(inv.total)).toBe("30.00");
    expect(inv.billable_share).toBe(1_000_000n);
  });

  it("prorates the flat fee for a mid-period start: $30, 30-day month, from day 11 → $20.00", () => {
    const p = plan([{ type: "flat", amount: 30 }]);
    const inv = periodCharges(p, { ...fullApril, activeFrom: APR_1 + 10 * DAY, usage: new Map() });
    expect(formatMoney(inv.total)).toBe("20.00");
    expect(inv.lines[0]?.description).toBe(
      "Flat fee 30.00 USD, prorated to 66.6667% of the period",
    );
  });

  it("prorates for a cancellation, with one rounding and a rounding line to cents", () => {
    const p = plan([{ type: "flat", amount: 100 }]);
    // 10 of 30 days: 33.333333333 (one rounding to nanos), total 33.33
    const inv = periodCharges(p, { ...fullApril, activeTo: APR_1 + 10 * DAY, usage: new Map() });
    expect(amounts(inv.lines)).toEqual([
      ["flat", "33.333333333"],
      ["rounding", "-0.003333333"],
    ]);
    expect(formatMoney(inv.total)).toBe("33.33");
    expect(inv.lines.reduce((s, l) => s + l.amount, 0n)).toBe(inv.total);
    expect(inv.subtotal + inv.minimum_topup + inv.discount_total + inv.rounding).toBe(inv.total);
  });

  it("rounds the total half-even to cents", () => {
    const p = plan([{ type: "per_unit", metric: "a", unit_price: "0.001" }]);
    const total = (q: number) =>
      formatMoney(periodCharges(p, { ...fullApril, usage: usage({ a: q }) }).total);
    expect(total(125)).toBe("0.12");
    expect(total(135)).toBe("0.14");
    expect(total(126)).toBe("0.13");
  });

  it("rounds to the currency's minor unit (JPY has none)", () => {
    const p = plan([{ type: "per_unit", metric: "a", unit_price: "0.5" }], { currency: "JPY" });
    expect(formatMoney(periodCharges(p, { ...fullApril, usage: usage({ a: 3 }) }).total)).toBe(
      "2.00",
    );
  });

  describe("trials", () => {
    const p = plan(
      [
        { type: "flat", amount: 30 },
        { type: "per_unit", metric: "a", unit_price: 1 },
        { type: "minimum", amount: 100 },
      ],
      { trial_days: 14 },
    );

    it("a period wholly inside the trial totals 0", () => {
      const inv = periodCharges(p, {
        ...fullApril,
        activeFrom: APR_1 - 5 * DAY,
        trialEnd: MAY_1 + DAY,
        usage: usage({ a: 50 }),
      });
      expect(inv.total).toBe(0n);
      expect(inv.lines.every((l) => l.amount === 0n)).toBe(true);
    });

    it("a trial ending mid-period prorates the flat fee and the minimum", () => {
      const inv = periodCharges(p, {
        ...fullApril,
        trialEnd: APR_1 + 15 * DAY,
        usage: usage({ a: 10 }),
      });
      // flat 15/30 × 30 = 15; usage 10; minimum 15/30 × 100 = 50 → top-up 25
      expect(amounts(inv.lines)).toEqual([
        ["flat", "15.00"],
        ["per_unit", "10.00"],
        ["minimum", "25.00"],
      ]);
      expect(formatMoney(inv.total)).toBe("50.00");
    });
  });

  describe("minimum commitment", () => {
    const p = plan([
      { type: "flat", amount: 20 },
      { type: "per_unit", metric: "a", unit_price: "0.01" },
      { type: "minimum", amount: 100 },
    ]);

    it("tops up to the minimum", () => {
      const inv = periodCharges(p, { ...fullApril, usage: usage({ a: 3000 }) });
      expect(amounts(inv.lines)).toEqual([
        ["flat", "20.00"],
        ["per_unit", "30.00"],
        ["minimum", "50.00"],
      ]);
      expect(formatMoney(inv.minimum_topup)).toBe("50.00");
      expect(formatMoney(inv.total)).toBe("100.00");
    });

    it("adds nothing once exceeded", () => {
      const inv = periodCharges(p, { ...fullApril, usage: usage({ a: 15000 }) });
      expect(inv.minimum_topup).toBe(0n);
      expect(inv.lines.map((l) => l.type)).toEqual(["flat", "per_unit"]);
      expect(formatMoney(inv.total)).toBe("170.00");
    });

    it("counts usage after volume discounts", () => {
      const d = plan([
        { type: "per_unit", metric: "a", unit_price: 1 },
        { type: "discount", metric: "a", above: 0, percent: 50 },
        { type: "minimum", amount: 100 },
      ]);
      const inv = periodCharges(d, { ...fullApril, usage: usage({ a: 150 }) });
      expect(formatMoney(inv.minimum_topup)).toBe("25.00"); // 150 − 75 = 75 → top-up 25
    });
  });

  it("bills an annual plan by the year, prorated over the year's days", () => {
    const p = plan(
      [
        { type: "flat", amount: 1200 },
        { type: "per_unit", metric: "a", unit_price: 2 },
      ],
      { interval: "year" },
    );
    const start = Date.parse("2024-03-01T00:00:00Z");
    const end = Date.parse("2025-03-01T00:00:00Z"); // 365 days
    const full = periodCharges(p, {
      periodStart: start,
      periodEnd: end,
      activeFrom: start,
      activeTo: Infinity,
      usage: usage({ a: 10 }),
    });
    expect(formatMoney(full.total)).toBe("1220.00");
    // cancelled after 184 days: 1200 × 184 / 365 = 604.931506849…
    const cancelled = periodCharges(p, {
      periodStart: start,
      periodEnd: end,
      activeFrom: start,
      activeTo: Date.parse("2024-09-01T00:00:00Z"),
      usage: new Map(),
    });
    expect(formatMoney(cancelled.subtotal)).toBe("604.931506849");
    expect(formatMoney(cancelled.total)).toBe("604.93");
  });

  it("applies coupons last, in order, percent then amount, never below zero", () => {
    const p = plan([{ type: "flat", amount: 100 }]);
    const inv = periodCharges(p, {
      ...fullApril,
      usage: new Map(),
      coupons: [
        { percent_off: 10, description: "Launch week" },
        { amount_off: 5 },
        { percent_off: 50, amount_off: 1000 },
      ],
    });
    expect(amounts(inv.lines)).toEqual([
      ["flat", "100.00"],
      ["coupon", "-10.00"],
      ["coupon", "-5.00"],
      ["coupon", "-85.00"],
    ]);
    expect(inv.lines.map((l) => l.description).slice(1)).toEqual([
      "Launch week",
      "Coupon: 5.00 USD off",
      "Coupon: 50% off, then 1000.00 USD off",
    ]);
    expect(formatMoney(inv.discount_total)).toBe("-100.00");
    expect(inv.total).toBe(0n);
  });

  it("applies coupons after the minimum top-up", () => {
    const p = plan([
      { type: "per_unit", metric: "a", unit_price: 1 },
      { type: "minimum", amount: 100 },
    ]);
    const inv = periodCharges(p, {
      ...fullApril,
      usage: usage({ a: 10 }),
      coupons: [{ percent_off: "12.5", amount_off: "0.5" }],
    });
    expect(formatMoney(inv.total)).toBe("87.00"); // 100 − 12.5 − 0.5
  });

  it("rejects invalid coupons and periods", () => {
    const p = plan([{ type: "flat", amount: 1 }]);
    const bad = (coupons: { percent_off?: number; amount_off?: number }[]) => () =>
      periodCharges(p, { ...fullApril, usage: new Map(), coupons });
    expect(bad([{ percent_off: 101 }])).toThrow(PlanError);
    expect(bad([{ amount_off: -1 }])).toThrow(PlanError);
    expect(() => periodCharges(p, { ...fullApril, periodEnd: APR_1, usage: new Map() })).toThrow(
      RangeError,
    );
  });
});

describe("marginalRevenue", () => {
  // Graduated tiers + quota + per-metric discount + package + plan-wide discount.
  const components: PlanComponent[] = [
    { type: "flat", amount: 99 },
    { type: "included", metric: "tokens", quantity: 1000 },
    {
      type: "tiered",
      metric: "tokens",
      mode: "graduated",
      tiers: [
        { up_to: 5000, unit_price: "0.000003" },
        { up_to: 20000, unit_price: "0.0000021", flat_fee: "0.05" },
        { up_to: null, unit_price: "0.0000017", flat_fee: "0.1" },
      ],
    },
    { type: "discount", metric: "tokens", above: 12000, percent: "7.5" },
    { type: "package", metric: "images", size: 3, price: "0.010000001" },
    {
      type: "tiered",
      metric: "gb",
      mode: "volume",
      tiers: [
        { up_to: "0.5", unit_price: "0.123456789" },
        { up_to: null, unit_price: "0.1", flat_fee: "0.000000001" },
      ],
    },
    { type: "discount", above: "0.02", percent: "33.333333" },
  ];
  const metrics = ["tokens", "images", "gb", "unpriced"];

  function replay(p: CompiledPlan, events: [string, bigint][]) {
    const running = new Map<string, bigint>();
    let sum = 0n;
    for (const [metric, q] of events) {
      sum += marginalRevenue(p, running, metric, q);
      running.set(metric, (running.get(metric) ?? 0n) + q);
    }
    return { sum, total: usageCharges(p, running).total };
  }

  it("sums exactly to the usage charge across tier boundaries, quota and discounts", () => {
    const p = plan(components);
    const events: [string, bigint][] = [];
    for (let i = 0; i < 60; i++) events.push(["tokens", toMicros(499)]); // crosses every bound
    for (let i = 0; i < 10; i++) events.push(["images", toMicros(1)], ["gb", toMicros("0.07")]);
    const { sum, total } = replay(p, events);
    expect(sum).toBe(total);
    expect(total).toBeGreaterThan(0n);
  });

  it("prices an event on an unpriced metric, or of size zero, at 0", () => {
    const p = plan(components);
    expect(marginalRevenue(p, new Map(), "unpriced", toMicros(1000))).toBe(0n);
    expect(marginalRevenue(p, usage({ tokens: 9000 }), "tokens", 0n)).toBe(0n);
  });

  it("is usageCharges(after) − usageCharges(before) for a single event", () => {
    const p = plan(components);
    const before = usage({ tokens: 11_900, images: 4, gb: "0.3" });
    const after = usage({ tokens: 30_000, images: 4, gb: "0.3" });
    expect(marginalRevenue(p, before, "tokens", toMicros(18_100))).toBe(
      usageCharges(p, after).total - usageCharges(p, before).total,
    );
  });

  it("holds for seeded random event streams, interleaved customers sharing a compiled plan", () => {
    let seed = 20250401;
    const rand = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed / 2_147_483_648;
    };
    const p = plan(components);
    for (let round = 0; round < 20; round++) {
      const customers = [new Map<string, bigint>(), new Map<string, bigint>()];
      const sums = [0n, 0n];
      for (let i = 0; i < 300; i++) {
        const c = Math.floor(rand() * 2);
        const running = customers[c] as Map<string, bigint>;
        const metric = metrics[Math.floor(rand() * metrics.length)] as string;
        // sizes from a micro-unit to ~2000 units, fractional
        const q = BigInt(Math.floor(rand() ** 3 * 2_000_000_000) + 1);
        sums[c] = (sums[c] as bigint) + marginalRevenue(p, running, metric, q);
        running.set(metric, (running.get(metric) ?? 0n) + q);
      }
      customers.forEach((running, c) => {
        expect(sums[c]).toBe(usageCharges(p, running).total);
      });
    }
  });

  it("has no float drift: 10 million 1-token events at $0.000003 make exactly $30.00", () => {
    const p = plan([{ type: "per_unit", metric: "tokens", unit_price: "0.000003" }]);
    // Every event is worth exactly 3,000 nanos wherever it falls...
    const running = new Map<string, bigint>();
    let sum = 0n;
    let other = 0;
    for (let i = 0; i < 100_000; i++) {
      const r = marginalRevenue(p, running, "tokens", 1_000_000n);
      if (r !== 3000n) other++;
      sum += r;
      running.set("tokens", BigInt(i + 1) * 1_000_000n);
    }
    expect(other).toBe(0);
    expect(formatMoney(sum)).toBe("0.30");
    expect(marginalRevenue(p, usage({ tokens: 9_999_999 }), "tokens", 1_000_000n)).toBe(3000n);
    // ...so by telescoping the 10M events sum to the bulk charge, which is exact:
    expect(charge(p, { tokens: 10_000_000 })).toBe("30.00");
    // whereas adding the float price 10M times is not.
    let float = 0;
    for (let i = 0; i < 10_000_000; i++) float += 0.000003;
    expect(float).not.toBe(30);
  });

  it("keeps sub-nano lines exact: the line is rounded, not each event", () => {
    const p = plan([{ type: "per_unit", metric: "x", unit_price: "0.000000001" }]);
    const half = toMicros("0.5");
    const { sum, total } = replay(p, [
      ["x", half],
      ["x", half],
      ["x", half],
    ]);
    expect(total).toBe(2n); // 1.5 nanos → 2 (half-even)
    expect(sum).toBe(total); // events: 0 (0.5 → 0), 1, 1
  });
});

describe("validatePlan / compilePlan", () => {
  const def = (components: unknown[]): PlanDefinition => ({
    id: "p",
    currency: "USD",
    interval: "month",
    components: components as PlanComponent[],
  });
  const issues = (components: unknown[]) => validatePlan(def(components));
  const tiered = (tiers: unknown[]) => ({ type: "tiered", metric: "a", mode: "graduated", tiers });

  it("accepts a valid plan", () => {
    expect(
      issues([
        { type: "flat", amount: "10" },
        { type: "included", metric: "a", quantity: 5 },
        tiered([
          { up_to: 10, unit_price: 1 },
          { up_to: null, unit_price: "0.5", flat_fee: 1 },
        ]),
        { type: "discount", metric: "a", above: 100, percent: 10 },
        { type: "discount", above: 100, percent: "2.5" },
        { type: "minimum", amount: 50 },
      ]),
    ).toEqual([]);
  });

  it.each([
    [
      "overlapping tiers",
      [
        tiered([
          { up_to: 10, unit_price: 1 },
          { up_to: 10, unit_price: 1 },
          { up_to: null, unit_price: 1 },
        ]),
      ],
      "components.0.tiers.1.up_to",
      /tiers overlap/,
    ],
    [
      "a last tier that is not open",
      [tiered([{ up_to: 10, unit_price: 1 }])],
      "components.0.tiers.0.up_to",
      /last tier must be open/,
    ],
    [
      "an open tier that is not last",
      [
        tiered([
          { up_to: null, unit_price: 1 },
          { up_to: null, unit_price: 1 },
        ]),
      ],
      "components.0.tiers.0.up_to",
      /only the last tier/,
    ],
    ["no tiers", [tiered([])], "components.0.tiers", /at least one tier/],
    [
      "a negative price",
      [{ type: "per_unit", metric: "a", unit_price: "-0.01" }],
      "components.0.unit_price",
      /negative/,
    ],
    [
      "a negative tier flat fee",
      [tiered([{ up_to: null, unit_price: 1, flat_fee: -1 }])],
      "components.0.tiers.0.flat_fee",
      /negative/,
    ],
    [
      "a zero package size",
      [{ type: "package", metric: "a", size: 0, price: 1 }],
      "components.0.size",
      /greater than 0/,
    ],
    [
      "a price of 5,000 digits",
      [{ type: "per_unit", metric: "a", unit_price: "9".repeat(5000) }],
      "components.0.unit_price",
      /between 0 and 100000000/,
    ],
    [
      "a flat fee above $100 M",
      [
        { type: "flat", amount: "100000000.000000001" },
        { type: "per_unit", metric: "a", unit_price: 1 },
      ],
      "components.0.amount",
      /between 0 and 100000000/,
    ],
    [
      "a quota above 10^15 units",
      [
        { type: "per_unit", metric: "a", unit_price: 1 },
        { type: "included", metric: "a", quantity: "1000000000000001" },
      ],
      "components.1.quantity",
      /between 0 and 1000000000000000/,
    ],
    [
      "a percent over 100",
      [
        { type: "per_unit", metric: "a", unit_price: 1 },
        { type: "discount", metric: "a", above: 1, percent: 101 },
      ],
      "components.1.percent",
      /between 0 and 100/,
    ],
    [
      "two quotas on one metric",
      [
        { type: "per_unit", metric: "a", unit_price: 1 },
        { type: "included", metric: "a", quantity: 1 },
        { type: "included", metric: "a", quantity: 2 },
      ],
      "components.2",
      /more than one included quota/,
    ],
    [
      "a quota on an unpriced metric",
      [
        { type: "per_unit", metric: "a", unit_price: 1 },
        { type: "included", metric: "b", quantity: 1 },
      ],
      "components.1.metric",
      /included quota on a metric the plan does not price/,
    ],
    [
      "a discount on an unpriced metric",
      [{ type: "discount", metric: "b", above: 1, percent: 1 }],
      "components.0.metric",
      /discount on a metric the plan does not price/,
    ],
    [
      "two flat fees",
      [
        { type: "flat", amount: 1 },
        { type: "flat", amount: 2 },
      ],
      "components.1",
      /more than one flat fee/,
    ],
    [
      "an amount with 10 decimal places",
      [{ type: "per_unit", metric: "a", unit_price: "0.0000000001" }],
      "components.0.unit_price",
      /at most 9 decimal places/,
    ],
    [
      "a quantity with 7 decimal places",
      [{ type: "included", metric: "a", quantity: "0.0000001" }],
      "components.0.quantity",
      /at most 6 decimal places/,
    ],
    ["an unknown type", [{ type: "bogus" }], "components.0.type", /unknown component type/],
  ])("reports %s", (_name, components, path, message) => {
    const found = issues(components);
    expect(found.map((i) => i.path)).toContain(path);
    expect(found.find((i) => i.path === path)?.message).toMatch(message);
  });

  it("reports every issue at once, and compilePlan throws them as a PlanError", () => {
    const bad = def([
      { type: "per_unit", metric: "a", unit_price: -1 },
      { type: "package", metric: "b", size: -1, price: "x" },
    ]);
    expect(validatePlan(bad).map((i) => i.path)).toEqual([
      "components.0.unit_price",
      "components.1.size",
      "components.1.price",
    ]);
    try {
      compilePlan(bad);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(PlanError);
      expect((e as PlanError).issues).toHaveLength(3);
    }
  });

  it("checks the plan's own fields", () => {
    const found = validatePlan({
      id: "",
      currency: "usd",
      interval: "week" as "month",
      trial_days: -1,
      components: [],
    });
    expect(found.map((i) => i.path)).toEqual(["id", "currency", "interval", "trial_days"]);
  });
});

describe("plans stored before the amount bounds", () => {
  it("still compile, so a customer's ingest never stops on them", () => {
    const plan = {
      id: "old",
      currency: "USD",
      interval: "month" as const,
      components: [{ type: "per_unit" as const, metric: "a", unit_price: "9".repeat(60) }],
    };
    expect(() => compilePlan(plan)).toThrow(/between 0 and 100000000/);
    expect(compilePlan(plan, { stored: true }).metrics.get("a")).toBeDefined();
  });
});
