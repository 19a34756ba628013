import { describe, expect, it } from "vitest";
import { compilePlan, type PlanComponent } from "../../domain/pricing";
import { type PlanOption, upgradeAdvice } from "../../domain/upgrade";

const MONTH = { start: Date.UTC(2026, 10, 1), end: Date.UTC(2026, 11, 1) };

const option = (
  id: string,
  components: PlanComponent[],
  o: Partial<Pick<PlanOption, "active" | "product_id">> & { interval?: "month" | "year" } = {},
): PlanOption => ({
  id,
  name: id.toUpperCase(),
  product_id: o.product_id ?? "api",
  active: o.active ?? true,
  plan: compilePlan({ id, currency: "USD", interval: o.interval ?? "month", components }),
});

// Starter: $49 with 10,000 calls, then $0.01 each. Growth: $199 with 50,000, then $0.005.
const starter = option("starter", [
  { type: "flat", amount: 49 },
  { type: "included", metric: "calls", quantity: 10_000 },
  { type: "per_unit", metric: "calls", unit_price: "0.01" },
]);
const growth = option("growth", [
  { type: "flat", amount: 199 },
  { type: "included", metric: "calls", quantity: 50_000 },
  { type: "per_unit", metric: "calls", unit_price: "0.005" },
]);

describe("upgradeAdvice", () => {
  it("names the plan the projected period would cost less on, priced by the engine", () => {
    // 40,000 calls: Starter 49 + 30,000 × 0.01 = 349; Growth 199 (inside its quota).
    const a = upgradeAdvice(starter, [starter, growth], "calls", 40_000, MONTH);
    expect(a).toEqual({
      current_plan: "starter",
      current_charge: "349.00",
      cheaper_plan: "growth",
      cheaper_plan_name: "GROWTH",
      cheaper_charge: "199.00",
      saving: "150.00",
    });
  });

  it("keeps the current plan when it is the cheapest, or ties", () => {
    // 12,000 calls: Starter 49 + 20 = 69 < Growth 199.
    expect(upgradeAdvice(starter, [starter, growth], "calls", 12_000, MONTH)).toMatchObject({
      cheaper_plan: null,
      cheaper_charge: null,
      saving: "0.00",
    });
    // 25,000 calls: Starter 49 + 150 = 199 = Growth: no advice to move for nothing.
    expect(upgradeAdvice(starter, [starter, growth], "calls", 25_000, MONTH).cheaper_plan).toBe(
      null,
    );
  });

  it("offers only active plans of the same product, currency and interval", () => {
    const others = [
      option("archived", [{ type: "flat", amount: 1 }], { active: false }),
      option("other-product", [{ type: "flat", amount: 1 }], { product_id: "chat" }),
      option("yearly", [{ type: "flat", amount: 1 }], { interval: "year" }),
    ];
    const a = upgradeAdvice(starter, [starter, ...others], "calls", 40_000, MONTH);
    expect(a.cheaper_plan).toBe(null);
    expect(a.current_charge).toBe("349.00");
  });

  it("is exact on fractional projections and large quantities", () => {
    // 1,000,000,000.5 calls on Starter: 49 + (1e9 + 0.5 − 10,000) × 0.01 = 9,999,949.005.
    const a = upgradeAdvice(starter, [starter, growth], "calls", 1_000_000_000.5, MONTH);
    expect(a.current_charge).toBe("9999949.00");
    expect(a.cheaper_plan).toBe("growth");
    // Growth: 199 + (1e9 + 0.5 − 50,000) × 0.005 = 4,999,949.0025.
    expect(a.cheaper_charge).toBe("4999949.00");
    expect(a.saving).toBe("5000000.00");
  });
});
