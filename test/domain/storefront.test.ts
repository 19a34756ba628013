import { describe, expect, it } from "vitest";
import {
  type ComparatorAnswers,
  type ComparedPlanInput,
  comparePlans,
  scenarioUsage,
  templateNarrative,
} from "../../domain/storefront/comparator";
import { moneyInWords, planInWords, unitPriceInWords } from "../../domain/storefront/words";
import { STOREFRONT_PLANS } from "../fixtures/storefront-plans";

// The storefront's plans in words and the Plan Comparator (issue 19 §2, §3): each expected cost
// below is worked out by hand in its comment from the plan's prices, and must equal what the
// pricing engine charges.

const M = 1_000_000n; // micros per unit
const N = 1_000_000_000n; // nanos per unit
const usd = (units: string) => {
  const [int, frac = ""] = units.split(".");
  return BigInt(int ?? "0") * N + BigInt(frac.padEnd(9, "0"));
};

const PLANS: ComparedPlanInput[] = [
  ...(STOREFRONT_PLANS as unknown as ComparedPlanInput[]),
  {
    id: "annual-lite",
    name: "Annual Lite",
    currency: "USD",
    period: "year",
    trial_days: 0,
    components: [
      { type: "flat", amount: "1000" },
      { type: "per_unit", metric: "tokens", unit_price: "0.000001" },
    ],
  },
  {
    id: "euro",
    name: "Euro",
    currency: "EUR",
    period: "month",
    trial_days: 0,
    components: [
      { type: "flat", amount: "10" },
      { type: "per_unit", metric: "tokens", unit_price: "0.000001" },
    ],
  },
];

const exact = (usage: Record<string, bigint>, team = 1): ComparatorAnswers => ({
  team_size: team,
  expected_usage: new Map(Object.entries(usage).map(([m, q]) => [m, q * M])),
  integration_depth: "production",
});

interface Row {
  name: string;
  answers: ComparatorAnswers;
  /** Monthly totals by plan id (USD, or EUR for `euro`); null: does not fit. */
  monthly: Record<string, string>;
  fits: string[];
  recommended: string | null;
}

const TABLE: Row[] = [
  {
    // 3,000,000 tokens, a team of 1:
    // Starter: 19 + (3,000,000 − 1,000,000) × 0.000004 = 19 + 8 = 27.00
    // Pro: 99 + 0 (3M inside the 10M included) + 1 seat × 5 = 104.00
    // Scale (yearly): 1200 + 12 × 3,000,000 × 0.0000015 = 1200 + 54 = 1254 / 12 = 104.50
    // Annual Lite: 1000 + 36,000,000 × 0.000001 = 1036 / 12 = 86.333… → 86.33
    // Euro: 10 + 3,000,000 × 0.000001 = 13.00 EUR, not in USD: does not fit
    name: "3M tokens: Starter",
    answers: exact({ tokens: 3_000_000n }),
    monthly: { starter: "27", pro: "104", scale: "104.5", "annual-lite": "86.33", euro: "13" },
    fits: ["starter", "pro", "scale", "annual-lite"],
    recommended: "starter",
  },
  {
    // 40,000,000 tokens, a team of 3:
    // Starter: 19 + 39,000,000 × 0.000004 = 19 + 156 = 175.00
    // Pro: 99 + 30,000,000 × 0.000002 + 3 × 5 = 99 + 60 + 15 = 174.00
    // Scale: 1200 + 480,000,000 × 0.0000015 = 1200 + 720 = 1920 / 12 = 160.00
    // Annual Lite: 1000 + 480,000,000 × 0.000001 = 1480 / 12 = 123.333… → 123.33
    name: "40M tokens, 3 people: Annual Lite",
    answers: exact({ tokens: 40_000_000n }, 3),
    monthly: { starter: "175", pro: "174", scale: "160", "annual-lite": "123.33", euro: "50" },
    fits: ["starter", "pro", "scale", "annual-lite"],
    recommended: "annual-lite",
  },
  {
    // 1,000,000 tokens and 500 requests: only Scale prices requests.
    // Scale: 1200 + 12,000,000 × 0.0000015 + 6,000 × 0.001 = 1200 + 18 + 6 = 1224 / 12 = 102.00
    // (the others still price their tokens: Starter 19 + 0 = 19; Pro 99 + 5 = 104;
    // Annual Lite 1000 + 12 = 1012 / 12 = 84.333… → 84.33; Euro 10 + 1 = 11)
    name: "tokens and requests: only Scale",
    answers: exact({ tokens: 1_000_000n, requests: 500n }),
    monthly: { starter: "19", pro: "104", scale: "102", "annual-lite": "84.33", euro: "11" },
    fits: ["scale"],
    recommended: "scale",
  },
  {
    // A level: 5 people, moderate, evaluating: a tenth of 5 × the per-person month.
    // tokens = 1,000,000 × 5 / 10 = 500,000; requests = 10,000 × 5 / 10 = 5,000
    // Scale: 1200 + 6,000,000 × 0.0000015 + 60,000 × 0.001 = 1200 + 9 + 60 = 1269 / 12 = 105.75
    // Starter: 19 (500,000 inside the 1M included); Pro: 99 + 5 × 5 = 124
    // Annual Lite: 1000 + 6 = 1006 / 12 = 83.8333… → 83.83; Euro: 10 + 0.50 = 10.50
    name: "moderate level, 5 evaluating",
    answers: { team_size: 5, expected_usage: "moderate", integration_depth: "evaluate" },
    monthly: { starter: "19", pro: "124", scale: "105.75", "annual-lite": "83.83", euro: "10.5" },
    fits: ["scale"],
    recommended: "scale",
  },
  {
    // Heavy, mission-critical, 1 person: twice the month. tokens = 5,000,000 × 2 = 10,000,000;
    // requests = 100,000 × 2 = 200,000.
    // Scale: 1200 + 120,000,000 × 0.0000015 + 2,400,000 × 0.001 = 1200 + 180 + 2400 = 3780 / 12
    //   = 315.00
    // Starter: 19 + 9,000,000 × 0.000004 = 55; Pro: 99 + 0 + 5 = 104
    // Annual Lite: 1000 + 120 = 1120 / 12 = 93.333… → 93.33; Euro: 10 + 10 = 20
    name: "heavy, mission critical",
    answers: { team_size: 1, expected_usage: "heavy", integration_depth: "mission_critical" },
    monthly: { starter: "55", pro: "104", scale: "315", "annual-lite": "93.33", euro: "20" },
    fits: ["scale"],
    recommended: "scale",
  },
  {
    // Images are priced by no plan: none fits (each plan's own price is still shown:
    // Starter 19, Pro 99 + 5 = 104, Scale 1200 / 12 = 100, Annual Lite 1000 / 12 = 83.33, Euro 10).
    name: "a metric no plan offers",
    answers: exact({ images: 10n }),
    monthly: { starter: "19", pro: "104", scale: "100", "annual-lite": "83.33", euro: "10" },
    fits: [],
    recommended: null,
  },
];

describe("comparePlans: a table of answers against the hand computation", () => {
  for (const row of TABLE) {
    it(row.name, () => {
      const c = comparePlans(PLANS, row.answers);
      const monthly = Object.fromEntries(c.plans.map((p) => [p.id, p.monthly_total]));
      expect(monthly).toEqual(
        Object.fromEntries(Object.entries(row.monthly).map(([id, v]) => [id, usd(v)])),
      );
      expect(c.plans.filter((p) => p.fits).map((p) => p.id)).toEqual(row.fits);
      expect(c.recommendation.plan_id).toBe(row.recommended);
      expect(c.currency).toBe("USD");
    });
  }

  it("says why: the cheapest that fits, by how much, and why the others are out", () => {
    const a = comparePlans(PLANS, exact({ tokens: 3_000_000n }));
    // The next cheapest fitting plan is Annual Lite at 86.33: 86.33 − 27 = 59.33.
    expect(a.recommendation.reason).toBe(
      "Starter is the cheapest plan that fits: $27 a month, $59.33 less than Annual Lite ($86.33).",
    );
    expect(a.plans.find((p) => p.id === "euro")?.why).toBe(
      "Priced in EUR; the plans are compared in USD.",
    );
    const c = comparePlans(PLANS, exact({ tokens: 1_000_000n, requests: 500n }));
    expect(c.recommendation.reason).toBe(
      "Scale is the cheapest plan that fits: $102 a month, and the only one that does.",
    );
    expect(c.plans.find((p) => p.id === "pro")?.why).toBe("Does not offer requests.");
    // A yearly plan's month is its year over 12, and it says so: 1224 / 12 = 102.
    expect(c.plans.find((p) => p.id === "scale")?.why).toBe(
      "Prices all of your usage (tokens and requests): $102 a month (billed $1,224 a year).",
    );
    const none = comparePlans(PLANS, exact({ images: 10n }));
    expect(none.unpriced).toEqual(["images"]);
    expect(none.recommendation.reason).toBe(
      "No published plan offers images, so none fits this usage.",
    );
    expect(comparePlans([], exact({ tokens: 1n })).recommendation).toEqual({
      plan_id: null,
      reason: "No plan is published yet.",
    });
  });

  it("breaks a tie with the longer trial, then the order the plans are listed in", () => {
    const flat = (id: string, trial: number): ComparedPlanInput => ({
      id,
      name: id,
      currency: "USD",
      period: "month",
      trial_days: trial,
      components: [{ type: "flat", amount: "20" }],
    });
    const answers = exact({});
    const byTrial = comparePlans([flat("A", 0), flat("B", 7)], answers);
    expect(byTrial.recommendation.plan_id).toBe("B");
    expect(byTrial.recommendation.reason).toBe(
      "B is the cheapest plan that fits: $20 a month, the same as A, with the longer free trial (7 days).",
    );
    const byOrder = comparePlans([flat("A", 0), flat("B", 0)], answers);
    expect(byOrder.recommendation.plan_id).toBe("A");
    expect(byOrder.recommendation.reason).toContain("the same as B; it is listed first.");
  });

  it("a level fills only the metrics the plans price that the table knows", () => {
    const priced = new Set(["tokens", "gpu_seconds"]);
    const u = scenarioUsage(
      { team_size: 2, expected_usage: "light", integration_depth: "production" },
      priced,
    );
    // tokens: 200,000 per person × 2 = 400,000; seats = team size; gpu_seconds: no level.
    expect(u).toEqual(
      new Map([
        ["tokens", 400_000n * M],
        ["seats", 2n * M],
      ]),
    );
    const withGpu: ComparedPlanInput = {
      ...(PLANS[0] as ComparedPlanInput),
      components: [{ type: "per_unit", metric: "gpu_seconds", unit_price: "0.01" }],
    };
    const c = comparePlans([withGpu], {
      team_size: 1,
      expected_usage: "light",
      integration_depth: "production",
    });
    expect(c.unestimated).toEqual(["gpu_seconds"]);
  });

  it("the template narrative carries only the comparison's numbers", () => {
    const c = comparePlans(PLANS, exact({ tokens: 3_000_000n }));
    expect(templateNarrative(c, (m) => (m === "seats" ? "seat" : "token"))).toBe(
      "For 3,000,000 tokens and 1 seat a month: Starter $27, Pro $104, Scale $104.50, Annual Lite $86.33, Euro does not fit. " +
        "Starter is the cheapest plan that fits: $27 a month, $59.33 less than Annual Lite ($86.33).",
    );
  });
});

describe("planInWords", () => {
  const unit = (m: string) => ({ tokens: "token", seats: "seat", requests: "request" })[m] ?? m;

  it("words each component with its exact price", () => {
    expect(planInWords(PLANS[0] as ComparedPlanInput, unit)).toEqual({
      headline: "$19 a month",
      lines: ["includes 1,000,000 tokens a month", "then $4 per 1M tokens"],
      summary: "$19 a month, includes 1,000,000 tokens a month, then $4 per 1M tokens",
      trial: "14-day free trial",
    });
    expect(planInWords(PLANS[2] as ComparedPlanInput, unit).summary).toBe(
      "$1,200 a year, $1.50 per 1M tokens, $1 per 1K requests",
    );
    expect(planInWords(PLANS[2] as ComparedPlanInput, unit).lines).toEqual([
      "$1.50 per 1M tokens",
      "$1 per 1K requests",
    ]);
  });

  it("tiers, packages, discounts and minimums", () => {
    const w = planInWords(
      {
        name: "Tiers",
        currency: "EUR",
        period: "month",
        trial_days: 0,
        components: [
          {
            type: "tiered",
            metric: "tokens",
            mode: "graduated",
            tiers: [
              { up_to: "1000000", unit_price: "0.000003" },
              { up_to: null, unit_price: "0.000001", flat_fee: "5" },
            ],
          },
          { type: "package", metric: "requests", size: "1000", price: "2.5" },
          { type: "discount", metric: "tokens", above: "5000000", percent: "12.5" },
          { type: "discount", above: "500", percent: "10" },
          { type: "minimum", amount: "100" },
        ],
      },
      unit,
    );
    // No flat fee: the minimum is the least the plan costs, so it is the headline, said once.
    expect(w.headline).toBe("€100 a month minimum");
    expect(w.lines).toEqual([
      "tokens, each tier at its own price: up to 1,000,000, €3 per 1M tokens; above 1,000,000, €1 per 1M tokens plus €5",
      "€2.50 per pack of 1,000 requests",
      "12.5% off tokens above 5,000,000 used",
      "10% off usage charges above €500 a month",
    ]);
  });

  it("a minimum beside a flat fee stays a line; a plan with neither is pay as you go", () => {
    const plan = (components: ComparedPlanInput["components"]) =>
      planInWords({ name: "P", currency: "USD", period: "year", trial_days: 0, components }, unit);
    const both = plan([
      { type: "flat", amount: "1200" },
      { type: "minimum", amount: "5000" },
    ]);
    expect(both.headline).toBe("$1,200 a year");
    expect(both.lines).toEqual(["a minimum of $5,000 a year"]);
    const usage = plan([{ type: "per_unit", metric: "tokens", unit_price: "0.000002" }]);
    expect(usage.headline).toBe("Pay as you go");
    expect(usage.lines).toEqual(["$2 per 1M tokens"]);
  });

  it("money and unit prices stay exact", () => {
    expect(moneyInWords(1_234_567_000_000n, "USD")).toBe("$1,234.567");
    expect(moneyInWords(500_000_000n, "CHF")).toBe("0.50 CHF");
    // 0.0000015 per token is 1.50 per million; a nano per token reads per billion.
    expect(unitPriceInWords(1_500n, "USD", "token")).toBe("$1.50 per 1M tokens");
    expect(unitPriceInWords(1n, "USD", "token")).toBe("$1 per 1B tokens");
    expect(unitPriceInWords(50_000_000n, "USD", "request")).toBe("$0.05 per request");
    expect(unitPriceInWords(0n, "USD", "request")).toBe("free requests");
  });
});
