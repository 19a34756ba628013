import { describe, expect, it } from "vitest";
import { type CostCatalogEntry, compileCostCatalog, costEvent } from "../../domain/costing";
import { formatMoney } from "../../domain/money";

const JAN1 = Date.UTC(2025, 0, 1);
const JUN1 = Date.UTC(2025, 5, 1);
const MID = Date.UTC(2025, 2, 15);

const sonnet: CostCatalogEntry = {
  provider: "anthropic",
  model: "claude-sonnet",
  input_per_million: "3",
  output_per_million: "15",
  cached_input_per_million: "0.30",
  effective_from: JAN1,
};

const catalog = compileCostCatalog([
  sonnet,
  // No cached price: cached input falls back to the input price.
  {
    provider: "openai",
    model: "gpt-x",
    input_per_million: 2.5,
    output_per_million: 10,
    effective_from: JAN1,
  },
  // Per-call only.
  {
    provider: "search",
    model: "web",
    input_per_million: 0,
    output_per_million: 0,
    per_call: "0.002",
    effective_from: JAN1,
  },
]);

const usd = (r: { nanos: bigint }) => formatMoney(r.nanos, 6);

describe("costEvent: catalog pricing", () => {
  it("prices input and output tokens: 1200 × $3/M + 332 × $15/M = $0.008580", () => {
    const r = costEvent(
      catalog,
      { provider: "anthropic", model: "claude-sonnet", input_tokens: 1200, output_tokens: 332 },
      MID,
    );
    // 1200 × 3000 nanos/1000 = 3,600,000 + 332 × 15,000 nanos/1000 = 4,980,000.
    expect(r).toEqual({
      status: "catalog",
      nanos: 8_580_000n,
      provider: "anthropic",
      model: "claude-sonnet",
      price_effective_from: JAN1,
    });
    expect(usd(r)).toBe("0.008580");
  });

  it("prices cached input at the cached price", () => {
    const r = costEvent(
      catalog,
      {
        provider: "anthropic",
        model: "claude-sonnet",
        input_tokens: 1000,
        cached_input_tokens: 10_000,
        output_tokens: 100,
      },
      MID,
    );
    // 1000 × $3/M = $0.003; 10,000 × $0.30/M = $0.003; 100 × $15/M = $0.0015.
    expect(usd(r)).toBe("0.007500");
  });

  it("prices cached input at the input price when the entry has no cached price", () => {
    const r = costEvent(
      catalog,
      { provider: "openai", model: "gpt-x", cached_input_tokens: 4000, output_tokens: 1000 },
      MID,
    );
    // 4000 × $2.50/M = $0.01; 1000 × $10/M = $0.01.
    expect(r.status).toBe("catalog");
    expect(usd(r)).toBe("0.020000");
  });

  it("adds a per-call price: calls default to 1", () => {
    const one = costEvent(catalog, { provider: "search", model: "web" }, MID);
    expect(one.status).toBe("catalog");
    expect(one.nanos).toBe(2_000_000n);
    const ten = costEvent(catalog, { provider: "search", model: "web", calls: 10 }, MID);
    expect(usd(ten)).toBe("0.020000");
    const zero = costEvent(catalog, { provider: "search", model: "web", calls: 0 }, MID);
    expect(zero.nanos).toBe(0n);
  });

  it("combines per-call and token prices", () => {
    const idx = compileCostCatalog([{ ...sonnet, per_call: "0.01" }]);
    const r = costEvent(
      idx,
      {
        provider: "anthropic",
        model: "claude-sonnet",
        input_tokens: 1200,
        output_tokens: 332,
        calls: 2,
      },
      MID,
    );
    expect(usd(r)).toBe("0.028580");
  });

  it("ignores calls on an entry without a per-call price", () => {
    const r = costEvent(
      catalog,
      { provider: "anthropic", model: "claude-sonnet", input_tokens: 1_000_000, calls: 5 },
      MID,
    );
    expect(r.nanos).toBe(3_000_000_000n);
  });

  it("matches provider and model case- and whitespace-insensitively", () => {
    const idx = compileCostCatalog([
      { ...sonnet, provider: " Anthropic ", model: "Claude-Sonnet" },
    ]);
    const r = costEvent(
      idx,
      { provider: "ANTHROPIC", model: "  claude-SONNET\t", input_tokens: 1200, output_tokens: 332 },
      MID,
    );
    expect(r).toMatchObject({ status: "catalog", provider: "anthropic", model: "claude-sonnet" });
    expect(r.nanos).toBe(8_580_000n);
  });

  it("stays exact for 10^12 tokens", () => {
    const r = costEvent(
      catalog,
      {
        provider: "anthropic",
        model: "claude-sonnet",
        input_tokens: 1e12,
        output_tokens: 1e12,
        cached_input_tokens: 1e12,
      },
      MID,
    );
    // 1e6 millions × ($3 + $15 + $0.30) = $18,300,000 exactly.
    expect(r.nanos).toBe(18_300_000n * 1_000_000_000n);
    expect(formatMoney(r.nanos)).toBe("18300000.00");
  });

  it("rounds half-even once, on the sum, not per component", () => {
    const idx = compileCostCatalog([
      {
        provider: "p",
        model: "m",
        input_per_million: "0.0005",
        output_per_million: "0.0005",
        effective_from: 0,
      },
    ]);
    // $0.0005/M is 0.5 nanos a token. 0.5 + 0.5 nanos = 1 nano (rounding each part half-even
    // would give 0 + 0).
    const both = costEvent(
      idx,
      { provider: "p", model: "m", input_tokens: 1, output_tokens: 1 },
      1,
    );
    expect(both.nanos).toBe(1n);
    // Ties go to even: 0.5 → 0, 1.5 → 2, 2.5 → 2.
    const at = (n: number) =>
      costEvent(idx, { provider: "p", model: "m", input_tokens: n }, 1).nanos;
    expect([at(1), at(3), at(5)]).toEqual([0n, 2n, 2n]);
  });

  it("gives a catalog cost of 0 to a known model with no counts", () => {
    const r = costEvent(catalog, { provider: "anthropic", model: "claude-sonnet" }, MID);
    expect(r).toMatchObject({ status: "catalog", nanos: 0n });
  });
});

describe("costEvent: effective dating", () => {
  const idx = compileCostCatalog([
    // Deliberately out of order: compile sorts by effective_from.
    {
      provider: "p",
      model: "m",
      input_per_million: "2",
      output_per_million: "0",
      effective_from: JUN1,
    },
    {
      provider: "p",
      model: "m",
      input_per_million: "1",
      output_per_million: "0",
      effective_from: JAN1,
    },
  ]);
  const million = { provider: "p", model: "m", input_tokens: 1_000_000 };

  it("uses price A up to the last millisecond before B takes effect", () => {
    const r = costEvent(idx, million, Date.UTC(2025, 4, 31, 23, 59, 59, 999));
    expect(r).toMatchObject({
      status: "catalog",
      nanos: 1_000_000_000n,
      price_effective_from: JAN1,
    });
  });

  it("uses price B from its first millisecond", () => {
    const r = costEvent(idx, million, JUN1);
    expect(r).toMatchObject({
      status: "catalog",
      nanos: 2_000_000_000n,
      price_effective_from: JUN1,
    });
    expect(costEvent(idx, million, Date.UTC(2030, 0, 1)).nanos).toBe(2_000_000_000n);
  });

  it("uses price A from exactly its effective_from", () => {
    expect(costEvent(idx, million, JAN1).nanos).toBe(1_000_000_000n);
  });

  it("leaves an event before the first price uncosted, saying so", () => {
    const r = costEvent(idx, million, JAN1 - 1);
    expect(r).toMatchObject({ status: "uncosted", nanos: 0n, provider: "p", model: "m" });
    expect(r.reason).toContain("before the first price for p/m");
    expect(r.reason).toContain("2025-01-01T00:00:00.000Z");
  });

  it("lets the later input entry win on a duplicate (provider, model, effective_from)", () => {
    const dup = compileCostCatalog([
      {
        provider: "p",
        model: "m",
        input_per_million: "1",
        output_per_million: "0",
        effective_from: JAN1,
      },
      {
        provider: "p",
        model: "m",
        input_per_million: "9",
        output_per_million: "0",
        effective_from: JUN1,
      },
      {
        provider: "P ",
        model: "M",
        input_per_million: "4",
        output_per_million: "0",
        effective_from: JAN1,
      },
    ]);
    expect(dup.prices.get("p/m")?.map((v) => v.effective_from)).toEqual([JAN1, JUN1]);
    expect(costEvent(dup, million, MID).nanos).toBe(4_000_000_000n);
    expect(costEvent(dup, million, JUN1).nanos).toBe(9_000_000_000n);
  });

  it("finds the right version among many", () => {
    const many = compileCostCatalog(
      Array.from({ length: 50 }, (_, i) => ({
        provider: "p",
        model: "m",
        input_per_million: i + 1,
        output_per_million: 0,
        effective_from: i * 1000,
      })),
    );
    for (const [at, dollars] of [
      [0, 1],
      [999, 1],
      [1000, 2],
      [24_500, 25],
      [49_000, 50],
      [1e12, 50],
    ]) {
      expect(costEvent(many, million, at as number).nanos).toBe(
        BigInt(dollars as number) * 10n ** 9n,
      );
    }
    expect(costEvent(many, million, -1).status).toBe("uncosted");
  });
});

describe("costEvent: supplied, uncosted and none", () => {
  it("takes a supplied usd over the catalog, even for a known model", () => {
    const r = costEvent(
      catalog,
      { usd: "0.0123", provider: "anthropic", model: "claude-sonnet", input_tokens: 1200 },
      MID,
    );
    expect(r).toEqual({ status: "supplied", nanos: 12_300_000n });
  });

  it("parses supplied usd exactly from numbers and strings", () => {
    expect(costEvent(catalog, { usd: 0.000000001 }, MID).nanos).toBe(1n);
    expect(costEvent(catalog, { usd: "12.5" }, MID).nanos).toBe(12_500_000_000n);
    expect(costEvent(catalog, { usd: 0 }, MID)).toEqual({ status: "supplied", nanos: 0n });
  });

  it("rounds a supplied usd past 9 decimals half-even, once", () => {
    expect(costEvent(catalog, { usd: 0.1 + 0.2 }, MID).nanos).toBe(300_000_000n);
    expect(costEvent(catalog, { usd: "0.0000000025" }, MID).nanos).toBe(2n);
    expect(costEvent(catalog, { usd: "0.0000000035" }, MID).nanos).toBe(4n);
    expect(costEvent(catalog, { usd: 1e-20 }, MID)).toEqual({ status: "supplied", nanos: 0n });
  });

  it("flags negative, non-finite and malformed usd as uncosted", () => {
    for (const bad of [
      -0.01,
      "-1",
      "-0.0000000001",
      Number.NaN,
      Number.POSITIVE_INFINITY,
      "",
      "abc",
    ]) {
      const r = costEvent(
        catalog,
        { usd: bad, provider: "anthropic", model: "claude-sonnet" },
        MID,
      );
      expect(r.status, String(bad)).toBe("uncosted");
      expect(r.nanos).toBe(0n);
      expect(r.reason).toMatch(/usd/);
    }
  });

  it("flags an unknown model as uncosted, with nanos 0 and a reason", () => {
    const r = costEvent(
      catalog,
      { provider: "anthropic", model: "claude-opus", input_tokens: 10 },
      MID,
    );
    expect(r).toEqual({
      status: "uncosted",
      nanos: 0n,
      provider: "anthropic",
      model: "claude-opus",
      reason: "no catalog price for anthropic/claude-opus",
    });
  });

  it("flags only one of provider/model", () => {
    const noModel = costEvent(catalog, { provider: "anthropic", input_tokens: 10 }, MID);
    expect(noModel).toMatchObject({ status: "uncosted", nanos: 0n, provider: "anthropic" });
    expect(noModel.reason).toMatch(/model missing/);
    const noProvider = costEvent(catalog, { model: "claude-sonnet", provider: "  " }, MID);
    expect(noProvider.status).toBe("uncosted");
    expect(noProvider.reason).toMatch(/provider missing/);
  });

  it("flags token counts without provider and model", () => {
    const r = costEvent(catalog, { input_tokens: 10, output_tokens: 5 }, MID);
    expect(r.status).toBe("uncosted");
    expect(r.reason).toBe("input_tokens, output_tokens given without provider and model");
  });

  it("flags fractional, negative or unsafe counts", () => {
    const base = { provider: "anthropic", model: "claude-sonnet" };
    for (const [field, value] of [
      ["input_tokens", 1.5],
      ["output_tokens", -1],
      ["cached_input_tokens", Number.NaN],
      ["calls", 2 ** 53],
    ] as const) {
      const r = costEvent(catalog, { ...base, [field]: value }, MID);
      expect(r.status, field).toBe("uncosted");
      expect(r.nanos).toBe(0n);
      expect(r.reason).toContain(`${field} must be a non-negative integer`);
    }
  });

  it("returns none without a cost block, or with an empty one", () => {
    expect(costEvent(catalog, undefined, MID)).toEqual({ status: "none", nanos: 0n });
    expect(costEvent(catalog, {}, MID)).toEqual({ status: "none", nanos: 0n });
  });

  it("flags a non-finite event time", () => {
    const r = costEvent(catalog, { provider: "anthropic", model: "claude-sonnet" }, Number.NaN);
    expect(r.status).toBe("uncosted");
  });
});

describe("compileCostCatalog", () => {
  it("parses amounts once into nanos per million", () => {
    const idx = compileCostCatalog([sonnet]);
    expect(idx.prices.get("anthropic/claude-sonnet")).toEqual([
      {
        effective_from: JAN1,
        input: 3_000_000_000n,
        output: 15_000_000_000n,
        cached_input: 300_000_000n,
        per_call: null,
      },
    ]);
  });

  it("leaves out a stored entry that no longer compiles, so the tenant's ingest goes on", () => {
    const bad = { ...sonnet, model: "odd", input_per_million: `0.${"1".repeat(38)}` };
    expect(() => compileCostCatalog([sonnet, bad])).toThrow(/input_per_million/);
    const idx = compileCostCatalog([sonnet, bad], { stored: true });
    expect([...idx.prices.keys()]).toEqual(["anthropic/claude-sonnet"]);
  });

  it("rejects malformed entries loudly", () => {
    expect(() => compileCostCatalog([{ ...sonnet, input_per_million: "abc" }])).toThrow(
      /entry 0 .*input_per_million/,
    );
    expect(() => compileCostCatalog([{ ...sonnet, output_per_million: -1 }])).toThrow(/negative/);
    expect(() => compileCostCatalog([{ ...sonnet, model: " " }])).toThrow(/required/);
    expect(() => compileCostCatalog([{ ...sonnet, effective_from: Number.NaN }])).toThrow(
      /effective_from/,
    );
  });
});
