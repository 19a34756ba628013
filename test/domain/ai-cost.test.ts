import { describe, expect, it } from "vitest";
import {
  capMessage,
  checkCap,
  costOf,
  estimateCost,
  estimateInputTokens,
  type ModelRate,
  NO_TOKENS,
  rateFor,
  utcDay,
} from "../../domain/ai/cost";
import { toNanos } from "../../domain/money";

const NOW = Date.parse("2026-12-07T12:00:00Z");

/** The rate, which the test expects to exist. */
function rated(...args: Parameters<typeof rateFor>): ModelRate {
  const rate = rateFor(...args);
  if (!rate) throw new Error(`no rate for ${args[1]}`);
  return rate;
}

describe("AI call cost", () => {
  it("prices a default Claude model exactly, cache writes at 1.25 × input", () => {
    const rate = rated([], "claude-sonnet-4-5", NOW);
    expect(rate.source).toBe("default");
    // $3/M in, $15/M out, $0.30/M cache read, $3.75/M cache write.
    const cost = costOf(rate, {
      input_tokens: 1_234,
      output_tokens: 567,
      cache_read_tokens: 10_000,
      cache_write_tokens: 2_000,
    });
    // In nanos per token: $3/M is 3,000 nanos a token.
    expect(cost).toBe(1_234n * 3_000n + 567n * 15_000n + 10_000n * 300n + 2_000n * 3_750n);
  });

  it("rounds half-even once, at the end", () => {
    const rate = rated(
      [
        {
          provider: "anthropic",
          model: "claude-x",
          input_per_million: "0.000000001",
          output_per_million: "0",
          effective_from: 0,
        },
      ],
      "claude-x",
      NOW,
    );
    // One nano per million tokens: 1.5M tokens cost 1.5 nanos → 2, 2.5M → 2 (half to even).
    expect(costOf(rate, { ...NO_TOKENS, input_tokens: 1_500_000 })).toBe(2n);
    expect(costOf(rate, { ...NO_TOKENS, input_tokens: 2_500_000 })).toBe(2n);
    expect(costOf(rate, { ...NO_TOKENS, input_tokens: 2_500_001 })).toBe(3n);
  });

  it("prefers the tenant's catalog, effective-dated, and prices a dated id as its alias", () => {
    const catalog = [
      {
        provider: "Anthropic",
        model: "claude-sonnet-4-5",
        input_per_million: "2",
        output_per_million: "10",
        effective_from: 0,
      },
      {
        provider: "anthropic",
        model: "claude-sonnet-4-5",
        input_per_million: "4",
        output_per_million: "20",
        effective_from: NOW + 1,
      },
    ];
    const rate = rated(catalog, "claude-sonnet-4-5-20250929", NOW);
    expect(rate.source).toBe("catalog");
    expect(costOf(rate, { ...NO_TOKENS, input_tokens: 1_000_000 })).toBe(toNanos("2"));
    expect(rateFor(catalog, "claude-sonnet-4-5", NOW + 1)?.price.input).toBe(toNanos("4"));
    expect(rateFor([], "claude-unknown-9", NOW)).toBeNull();
  });

  it("estimates an upper bound: characters / 3 in, every max token out", () => {
    const rate = rated([], "claude-haiku-4-5", NOW);
    expect(estimateInputTokens(10)).toBe(4);
    expect(estimateCost(rate, 3_000, 1_000)).toBe(1_000n * 1_000n + 1_000n * 5_000n);
  });
});

describe("the daily cap", () => {
  it("allows a call that fits exactly and refuses one that does not", () => {
    const cap = toNanos("1");
    expect(checkCap(toNanos("0.4"), cap, toNanos("0.6"))).toEqual({
      ok: true,
      remaining_nanos: toNanos("0.6"),
    });
    const refused = checkCap(toNanos("0.4"), cap, toNanos("0.600000001"));
    expect(refused.ok).toBe(false);
    if (refused.ok) return;
    expect(capMessage(refused)).toBe(
      "The daily AI cost cap of $1.00 is reached: today's spend is $0.40 and this call may cost up to $0.600000001. The cap resets at 00:00 UTC; an admin can raise it with PUT /api/ai/settings.",
    );
  });

  it("a cap of 0 refuses every call, and sums stay exact past 2^53 nanos", () => {
    expect(checkCap(0n, 0n, 1n).ok).toBe(false);
    const big = 2n ** 60n;
    expect(checkCap(big, big + 1n, 1n).ok).toBe(true);
    expect(checkCap(big, big + 1n, 2n).ok).toBe(false);
  });

  it("counts the UTC day", () => {
    const day = utcDay(Date.parse("2026-12-07T23:59:59.999Z"));
    expect(new Date(day.start).toISOString()).toBe("2026-12-07T00:00:00.000Z");
    expect(day.end - day.start).toBe(86_400_000);
  });
});
