import { describe, expect, it } from "vitest";
import type { PlanComponent } from "../../contracts/catalog";
import {
  type AdvisorPlan,
  adviceBody,
  advise,
  projectToPeriodEnd,
  type SpendItem,
} from "../../domain/portal/advisor";

// The Usage Advisor's figures by hand (docs/portal.md "Usage Advisor"). November 2026 has 30
// days; "now" is 10 days in, so the linear projection to period end is the usage so far × 3.

const DAY = 86_400_000;
const START = Date.UTC(2026, 10, 1);
const PERIOD = { start: START, end: Date.UTC(2026, 11, 1) };
const NOW = START + 10 * DAY;
const M = (units: number) => BigInt(units) * 1_000_000n;
const N = (dollars: number) => BigInt(dollars) * 1_000_000_000n;

const plan = (
  id: string,
  flat: string,
  included: string,
  extra: PlanComponent[] = [],
  o: Partial<AdvisorPlan> = {},
): AdvisorPlan => ({
  id,
  name: id[0]?.toUpperCase() + id.slice(1),
  currency: "USD",
  period: "month",
  components: [
    { type: "flat", amount: flat },
    { type: "included", metric: "tokens", quantity: included },
    ...extra,
  ],
  ...o,
});

const PER_UNIT = (unit_price: string): PlanComponent => ({
  type: "per_unit",
  metric: "tokens",
  unit_price,
});

// $49 with 1,000,000 tokens, then $20 per 1M tokens.
const STARTER = plan("starter", "49", "1000000", [
  { type: "per_unit", metric: "tokens", unit_price: "0.00002" },
]);
const GROWTH = plan("growth", "69", "5000000", [
  { type: "per_unit", metric: "tokens", unit_price: "0.00001" },
]);
const SCALE = plan("scale", "199", "20000000", [PER_UNIT("0.000005")]);
// Not comparable: another currency, another period.
const EURO = plan("euro", "10", "50000000", [PER_UNIT("0.000001")], { currency: "EUR" });
const YEARLY = plan("yearly", "20", "50000000", [PER_UNIT("0.000001")], { period: "year" });

const base = {
  plan: STARTER,
  period: PERIOD,
  now: NOW,
  unitOf: (m: string) => (m === "tokens" ? "token" : m),
  spend: [] as SpendItem[],
};

describe("the projection", () => {
  it("is the linear run rate to period end, in whole units from 100 up, hundredths below", () => {
    expect(projectToPeriodEnd(M(1_000_000), PERIOD, NOW)).toBe(M(3_000_000));
    // 0.5 units in a third of the period: 1.5, kept to the hundredth.
    expect(projectToPeriodEnd(500_000n, PERIOD, NOW)).toBe(1_500_000n);
    // 33.333333 units × 3 = 99.999999: under 100 units, so to the hundredth: 100.00.
    expect(projectToPeriodEnd(33_333_333n, PERIOD, NOW)).toBe(100_000_000n);
    // Never below what is used already (the period's very start).
    expect(projectToPeriodEnd(M(7), PERIOD, START)).toBe(M(7));
  });
});

describe("stay", () => {
  it("stays when the projection is within the included quantity", () => {
    // 200,000 × 3 = 600,000 ≤ 1,000,000: the plan's flat $49 is the period's cost.
    const a = advise({
      ...base,
      alternatives: [GROWTH, SCALE],
      usage: new Map([["tokens", M(200_000)]]),
    });
    expect(a.verdict).toBe("stay");
    expect(a.projections[0]).toMatchObject({
      used: M(200_000),
      projected: M(600_000),
      included: M(1_000_000),
      overshoot_percent: -40,
    });
    expect(a.current.cost).toBe(N(49));
    expect(a.alternatives).toEqual([]);
    expect(a.template).toContain("600,000 of your 1,000,000 included tokens");
    expect(a.template).toContain("your Starter plan fits, at $49 for the period");
    expect(a.method).toBe(
      "At this period's pace so far: 200,000 tokens in 10.0 days, carried on over the period's 30.0 days (linear run rate).",
    );
  });
});

describe("upgrade", () => {
  it("recommends the cheapest plan that costs less, with the overshoot and each plan's cost", () => {
    // 1,000,000 × 3 = 3,000,000: (3,000,000 − 1,000,000) ÷ 1,000,000 = 200 % over.
    // Starter: 49 + 2,000,000 × 0.00002 = $89. Growth: 69 (within its 5,000,000). Scale: 199.
    const a = advise({
      ...base,
      alternatives: [SCALE, GROWTH, EURO, YEARLY, STARTER],
      usage: new Map([["tokens", M(1_000_000)]]),
    });
    expect(a.verdict).toBe("upgrade");
    expect(a.overshoot_percent).toBe(200);
    expect(a.current).toEqual({ plan_id: "starter", name: "Starter", cost: N(89) });
    expect(a.alternatives).toEqual([
      { plan_id: "growth", name: "Growth", cost: N(69) },
      { plan_id: "scale", name: "Scale", cost: N(199) },
    ]);
    expect(a.recommended?.plan_id).toBe("growth");
    expect(a.template).toContain(
      "3,000,000 tokens, 200.00 % over the 1,000,000 your Starter plan includes, so the period would cost $89.",
    );
    expect(a.template).toContain("Growth would cost $69 for the same usage, $20 less");
    expect(a.template).toContain("Growth $69 and Scale $199");
    const body = adviceBody(a, "USD");
    expect(body.current.cost).toBe("89.00");
    expect(body.projections[0]).toMatchObject({ used: "1000000", projected: "3000000" });
  });
});

describe("optimize", () => {
  it("names the three largest spends when no plan costs less", () => {
    // 1,500,000 × 3 = 4,500,000: 350 % over; Starter 49 + 3,500,000 × 0.00002 = $119 < Scale $199.
    const spend: SpendItem[] = [
      { kind: "endpoint", name: "/v1/embed", amount: N(5) },
      { kind: "endpoint", name: "/v1/chat", amount: N(30) },
      { kind: "endpoint", name: "/v1/rare", amount: N(1) },
      { kind: "model", name: "claude-sonnet", amount: N(25) },
    ];
    const a = advise({
      ...base,
      alternatives: [SCALE],
      usage: new Map([["tokens", M(1_500_000)]]),
      spend,
    });
    expect(a.verdict).toBe("optimize");
    expect(a.overshoot_percent).toBe(350);
    expect(a.current.cost).toBe(N(119));
    expect(a.recommended).toBeNull();
    expect(a.top_spend.map((s) => s.name)).toEqual(["/v1/chat", "claude-sonnet", "/v1/embed"]);
    expect(a.template).toContain("No other plan costs less for that usage (Scale $199).");
    expect(a.template).toContain(
      "endpoint /v1/chat ($30), model claude-sonnet ($25) and endpoint /v1/embed ($5)",
    );
  });
});
