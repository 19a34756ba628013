import { describe, expect, it } from "vitest";
import { compileCostCatalog } from "../../domain/costing";
import { compilePlan } from "../../domain/pricing";
import {
  type CustomerTerms,
  committedRevenue,
  NO_COST_GIVEN,
  rateEvent,
  type UsageLedger,
} from "../../domain/rating";

const DAY = 86_400_000;
const nov1 = Date.UTC(2026, 10, 1);

function terms(overrides: Partial<CustomerTerms["phases"][number]> = {}): CustomerTerms {
  const plan = compilePlan({
    id: "pro",
    currency: "USD",
    interval: "month",
    components: [
      { type: "flat", amount: "300" },
      { type: "per_unit", metric: "calls", unit_price: "0.01" },
    ],
  });
  return {
    known: true,
    phases: [
      {
        subscription_id: "sub_1",
        plan_id: "pro",
        product_id: "api",
        start: nov1,
        end: null,
        trial_end: null,
        anchor: nov1,
        ...overrides,
      },
    ],
    plans: new Map([["pro", plan]]),
    costs: compileCostCatalog([]),
    // calls carry no cost of their own here; every other metric does.
    costless: new Set(["api\u0000calls"]),
  };
}

const ledger = (): UsageLedger => {
  const m = new Map<string, Map<string, bigint>>();
  return {
    usage: (s, p) => {
      const key = `${s}:${p}`;
      let u = m.get(key);
      if (!u) {
        u = new Map();
        m.set(key, u);
      }
      return u;
    },
  };
};

describe("committedRevenue", () => {
  it("spreads the flat fee over its period: 10 of November's 30 days earn $100", () => {
    expect(committedRevenue(terms(), nov1, nov1 + 10 * DAY).get("api")).toBeCloseTo(100, 9);
  });

  it("earns nothing during a trial and nothing before the subscription starts", () => {
    const t = terms({ trial_end: nov1 + 15 * DAY });
    expect(committedRevenue(t, nov1, nov1 + 15 * DAY).get("api")).toBeUndefined();
    expect(committedRevenue(t, nov1, nov1 + 30 * DAY).get("api")).toBeCloseTo(150, 9);
    expect(committedRevenue(terms(), nov1 - 10 * DAY, nov1).size).toBe(0);
  });

  it("crosses billing periods: Nov 21 – Dec 11 is 10/30 of November's fee plus 10/31 of December's", () => {
    const from = nov1 + 20 * DAY;
    const to = Date.UTC(2026, 11, 11);
    expect(committedRevenue(terms(), from, to).get("api")).toBeCloseTo(100 + (300 * 10) / 31, 9);
  });
});

describe("rateEvent", () => {
  it("prices by the phase that holds the event, flags what earns nothing", () => {
    const l = ledger();
    const rated = rateEvent(terms(), l, {
      id: "e1",
      customer: "c",
      product: "api",
      metric: "calls",
      quantity: 7,
      time: nov1 + DAY,
      source: "api",
    });
    expect(rated.revenue).toBe(70_000_000n);
    expect(rated.flags).toEqual([]);
    const before = rateEvent(terms(), l, {
      id: "e0",
      customer: "c",
      product: "api",
      metric: "calls",
      quantity: 7,
      time: nov1 - DAY,
      source: "api",
    });
    expect(before).toMatchObject({ revenue: 0n, flags: ["no_subscription"] });
    const trial = rateEvent(terms({ trial_end: nov1 + 2 * DAY }), ledger(), {
      id: "e2",
      customer: "c",
      product: "api",
      metric: "calls",
      quantity: 7,
      time: nov1 + DAY,
      source: "api",
    });
    expect(trial).toMatchObject({ revenue: 0n, flags: ["trial"] });
  });

  it("flags an event without any cost uncosted unless its metric carries no cost", () => {
    const base = {
      customer: "c",
      product: "api",
      quantity: 1200,
      time: nov1 + DAY,
      source: "api",
    };
    // README's example: tokens with no cost block. Aforo does not know what it cost.
    const tokens = rateEvent(terms(), ledger(), { ...base, id: "t", metric: "input_tokens" });
    expect(tokens.cost).toMatchObject({ status: "uncosted", nanos: 0n, reason: NO_COST_GIVEN });
    expect(tokens.flags).toEqual(["uncosted"]);
    // calls are declared costless: no cost applies, nothing to flag.
    const calls = rateEvent(terms(), ledger(), { ...base, id: "c", metric: "calls" });
    expect(calls.cost).toEqual({ status: "none", nanos: 0n });
    expect(calls.flags).toEqual([]);
    // Without any declaration every metric carries cost.
    const { costless: _, ...strict } = terms();
    expect(rateEvent(strict, ledger(), { ...base, id: "s", metric: "calls" }).flags).toEqual([
      "uncosted",
    ]);
    // A cost block that names a model the catalog does not price: uncosted with that reason.
    const unknown = rateEvent(terms(), ledger(), {
      ...base,
      id: "m",
      metric: "calls",
      cost: { provider: "openai", model: "gpt-9", input_tokens: 10 },
    });
    expect(unknown.cost).toMatchObject({
      status: "uncosted",
      reason: "no catalog price for openai/gpt-9",
    });
    expect(unknown.flags).toEqual(["uncosted"]);
    // usd given: supplied, whatever the metric.
    const paid = rateEvent(terms(), ledger(), {
      ...base,
      id: "u",
      metric: "input_tokens",
      cost: { usd: "0.0123" },
    });
    expect(paid.cost).toEqual({ status: "supplied", nanos: 12_300_000n });
    expect(paid.flags).toEqual([]);
  });
});
