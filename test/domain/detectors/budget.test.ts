import { describe, expect, it } from "vitest";
import { assignCase } from "../../../domain/cases";
import {
  type BudgetScope,
  budgetCostSpikeSignal,
  budgetMarginSignals,
  budgetMarginSpec,
  costDrivers,
  DEFAULT_BUDGET_COST_SPIKE_POLICY,
  DEFAULT_BUDGET_MARGIN_POLICY,
  marginDrivers,
  scopeCostHours,
} from "../../../domain/detectors/budget";
import { newCostSpikeState } from "../../../domain/detectors/cost-spike";
import { gamma, makeRng, negativeBinomial } from "../../../domain/detectors/synthetic";
import { hourOfDay, isWeekend } from "../../../domain/detectors/time";
import { DEFAULT_POLICY, resolvePolicy, validatePolicyDocument } from "../../../domain/ladder";
import type { PnlSums } from "../../../domain/margin";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const B = 1_000_000_000n;
const MONTH = { start: Date.UTC(2026, 11, 1), end: Date.UTC(2027, 0, 1) };
const NOW = Date.UTC(2026, 11, 10, 12);

/** Sums from dollars: usage revenue, fees, COGS. */
const $ = (usage: number, cost: number, fees = 0): PnlSums => ({
  usage: BigInt(Math.round(usage * 100)) * (B / 100n),
  fees: BigInt(Math.round(fees * 100)) * (B / 100n),
  cost: BigInt(Math.round(cost * 100)) * (B / 100n),
  events: 1,
});

const run = (scopes: BudgetScope[], policy = DEFAULT_BUDGET_MARGIN_POLICY) =>
  budgetMarginSignals({
    scopes,
    month: MONTH,
    now: NOW,
    segmentBy: "plan",
    policyOf: () => policy,
  });

describe("BudgetMarginDetector", () => {
  const pro: BudgetScope = {
    kind: "segment",
    id: "pro",
    customers: [
      { customer: "acme", sums: $(100, 520.1) },
      { customer: "globex", sums: $(200, 295) },
      { customer: "fine", sums: $(900, 100, 100) },
    ],
  };

  it("a segment below its floor raises L1 naming the customers with the lowest margin", () => {
    // Revenue 1,300, COGS 915.10: margin 29.61 % < 30 %, above the critical 0 %.
    const [s, ...rest] = run([pro]);
    expect(rest).toEqual([]);
    expect(s).toMatchObject({
      detector: "BudgetMarginDetector",
      customer: "*",
      window: MONTH,
      details: {
        scope_kind: "segment",
        scope_id: "pro",
        scope_label: "segment plan:pro",
        level: "L1",
        revenue: "1300.00",
        cost: "915.10",
        margin_pct: 29.61,
        floor_pct: 30,
        customers: "acme,globex",
        drivers: "acme −$420.10 margin, globex −$95.00",
      },
    });
    expect(s?.product).toBeUndefined();
    // Shortfall against the floor: 1,300 × 30 % − 384.90.
    expect(s?.magnitude).toBeCloseTo(5.1, 2);
  });

  it("below the critical floor both levels fire, each once per scope and month by key", () => {
    const bad: BudgetScope = {
      kind: "product",
      id: "chat-api",
      customers: [{ customer: "acme", sums: $(150, 300) }],
    };
    const signals = run([bad]);
    expect(signals.map((s) => s.details.level)).toEqual(["L1", "L2"]);
    expect(signals[0]?.product).toBe("chat-api");
    expect(new Set(signals.map((s) => s.idempotency_key)).size).toBe(2);
    expect(run([bad]).map((s) => s.idempotency_key)).toEqual(signals.map((s) => s.idempotency_key));
  });

  it("a healthy scope, and one under min_revenue_usd, raise nothing", () => {
    const healthy: BudgetScope = {
      kind: "segment",
      id: "payg",
      customers: [{ customer: "a", sums: $(500, 100) }],
    };
    const small: BudgetScope = {
      kind: "segment",
      id: "free",
      customers: [{ customer: "b", sums: $(99, 500) }],
    };
    expect(run([healthy, small])).toEqual([]);
    expect(run([small], { ...DEFAULT_BUDGET_MARGIN_POLICY, min_revenue_usd: 50 })).toHaveLength(2);
  });

  it("the floor is the scope's own: a lower floor for the segment stays quiet", () => {
    expect(run([pro], { ...DEFAULT_BUDGET_MARGIN_POLICY, margin_floor_pct: 25 })).toEqual([]);
  });

  it("drivers: only customers below the floor, lowest contribution first, at most five", () => {
    const customers = Array.from({ length: 8 }, (_, i) => ({
      customer: `c${i}`,
      sums: $(100, 100 + i * 10),
    }));
    expect(marginDrivers(customers, 30).map((d) => d.customer)).toEqual([
      "c7",
      "c6",
      "c5",
      "c4",
      "c3",
    ]);
    expect(marginDrivers([{ customer: "ok", sums: $(100, 10) }], 30)).toEqual([]);
  });

  it("cases: one per scope and month, named for the scope", () => {
    const [l1, l2] = run([
      { kind: "segment", id: "pro", customers: [{ customer: "x", sums: $(200, 400) }] },
    ]);
    if (!l1 || !l2) throw new Error("expected two levels");
    const a1 = assignCase(l1);
    const a2 = assignCase(l2);
    expect(a1.scope).toBe("segment plan:pro");
    expect(a1.key).toBe(a2.key);
    expect(a2.rank).toBe(2);
    expect(
      budgetMarginSpec.describe({ ...l1, product: null, metric: null, direction: null }),
    ).toMatchObject({
      title: "Budget margin below floor: segment plan:pro",
    });
  });
});

describe("budget policy validation", () => {
  const issues = (budget_margin: Record<string, unknown>) =>
    validatePolicyDocument(resolvePolicy([{ detectors: { budget_margin } as never }])).map(
      (i) => i.path,
    );
  it("names a bad segment_by and floors out of order", () => {
    expect(validatePolicyDocument(DEFAULT_POLICY)).toEqual([]);
    expect(issues({ segment_by: "metadata.tier" })).toEqual([]);
    expect(issues({ segment_by: "region" })).toEqual(["detectors.budget_margin.segment_by"]);
    expect(issues({ segment_by: "metadata.a b" })).toEqual(["detectors.budget_margin.segment_by"]);
    expect(issues({ margin_floor_pct: 120 })).toEqual(["detectors.budget_margin.margin_floor_pct"]);
    expect(issues({ critical_floor_pct: 40 })).toEqual([
      "detectors.budget_margin.critical_floor_pct",
    ]);
  });
});

describe("BudgetCostSpikeDetector", () => {
  // Monday 2026-11-02 00:00 UTC: three weeks of a steady $10 an hour for a product.
  const T0 = Date.UTC(2026, 10, 2);
  const steady = Array.from({ length: 21 * 24 }, (_, i) => ({
    kind: "product" as const,
    id: "chat-api",
    hour: T0 + i * HOUR,
    cost: 10 + (i % 3),
  }));

  it("a steady scope is quiet; an hour at 6× its usual raises one spike, then one episode", () => {
    const learnt = scopeCostHours(newCostSpikeState(), steady, DEFAULT_BUDGET_COST_SPIKE_POLICY);
    expect(learnt.spikes).toEqual([]);
    const at = T0 + 21 * DAY;
    const { spikes } = scopeCostHours(
      learnt.state,
      [
        { kind: "product", id: "chat-api", hour: at, cost: 66 },
        { kind: "product", id: "chat-api", hour: at + HOUR, cost: 70 },
      ],
      DEFAULT_BUDGET_COST_SPIKE_POLICY,
    );
    expect(spikes).toHaveLength(1);
    expect(spikes[0]).toMatchObject({ kind: "product", id: "chat-api", hour: at });
    expect(spikes[0]?.details.cost).toBe(66);
  });

  it("ordinary noise of a product of ten customers raises nothing; a ×5 hour is found", () => {
    // ~$500 an hour: a daily shape, quieter weekends, ±16 % day shocks, negative-binomial
    // request counts (r 30) per customer; 8 weeks (as scripts/bench-detectors.ts for one customer).
    const series = (seed: number) => {
      const rng = makeRng(seed);
      const out: number[] = [];
      let shock = 1;
      for (let h = 0; h < 8 * 168; h++) {
        const t = T0 + h * HOUR;
        if (h % 24 === 0) shock = gamma(rng, 40) / 40;
        const shape =
          (0.35 + 0.65 * Math.max(0, Math.sin(((hourOfDay(t) - 6) / 24) * 2 * Math.PI))) *
          (isWeekend(t) ? 0.6 : 1.2);
        let sum = 0;
        for (let c = 0; c < 10; c++) sum += negativeBinomial(rng, 10 * shape * shock, 30) * 5;
        out.push(sum);
      }
      return out;
    };
    const spikeHours = (costs: number[]) =>
      scopeCostHours(
        newCostSpikeState(),
        costs.map((cost, h) => ({ kind: "product" as const, id: "p", hour: T0 + h * HOUR, cost })),
        DEFAULT_BUDGET_COST_SPIKE_POLICY,
      ).spikes.map((s) => (s.hour - T0) / HOUR);
    let falseSignals = 0;
    let found = 0;
    for (const seed of [1, 2, 3, 4, 5]) {
      const costs = series(seed);
      falseSignals += spikeHours(costs).length;
      const at = 14 * 24 + seed * 97;
      const spiked = costs.slice();
      spiked[at] = (spiked[at] ?? 0) * 5;
      if (spikeHours(spiked).includes(at)) found++;
    }
    expect(falseSignals).toBe(0);
    expect(found).toBeGreaterThanOrEqual(4);
  });

  it("a rise too small in dollars (under min_delta_usd) is not a budget spike", () => {
    const small = steady.map((h) => ({ ...h, cost: h.cost / 10 }));
    const learnt = scopeCostHours(newCostSpikeState(), small, DEFAULT_BUDGET_COST_SPIKE_POLICY);
    const at = T0 + 21 * DAY;
    const { spikes } = scopeCostHours(
      learnt.state,
      [{ kind: "product", id: "chat-api", hour: at, cost: 20 }],
      DEFAULT_BUDGET_COST_SPIKE_POLICY,
    );
    expect(spikes).toEqual([]);
  });

  it("drivers: the customers whose COGS rose most against the same hour a week before", () => {
    const drivers = costDrivers(
      new Map([
        ["acme", 50],
        ["globex", 12],
        ["flat", 5],
      ]),
      new Map([
        ["acme", 2],
        ["globex", 2],
        ["flat", 5],
      ]),
    );
    expect(drivers).toEqual([
      { customer: "acme", rise: 48 },
      { customer: "globex", rise: 10 },
    ]);
    const sig = budgetCostSpikeSignal(
      {
        kind: "segment",
        id: "pro",
        hour: Date.UTC(2026, 11, 1, 10),
        magnitude: 50,
        details: { cost: 62, baseline: 12, ratio: 5.17, delta: 50 },
      },
      drivers,
      "metadata.tier",
    );
    expect(sig.details).toMatchObject({
      scope_label: "segment metadata.tier:pro",
      customers: "acme,globex",
      drivers: "acme +$48.00 vs a week before, globex +$10.00",
    });
    expect(assignCase(sig).scope).toBe("segment metadata.tier:pro");
  });
});
