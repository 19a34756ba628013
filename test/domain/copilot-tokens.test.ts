import { describe, expect, it } from "vitest";
import { parsePricing } from "../../domain/copilot/pricing-parser";
import { tokenize } from "../../domain/copilot/tokens";

// The pricing parser's tokenizer and clause grammar: exact money and quantities, however an
// operator writes them.

const money = (text: string) =>
  tokenize(text)
    .filter((t) => t.kind === "money")
    .map((t) => (t.kind === "money" ? [t.nanos, t.currency] : null));
const quantities = (text: string) =>
  tokenize(text).flatMap((t) =>
    t.kind === "number" || t.kind === "percent" ? [[t.kind, t.micros]] : [],
  );

describe("tokenize", () => {
  it("reads money exactly in nanos, with its currency", () => {
    expect(money("$2K")).toEqual([[2_000_000_000_000n, "USD"]]);
    expect(money("$0.002")).toEqual([[2_000_000n, "USD"]]);
    expect(money("2,000 USD")).toEqual([[2_000_000_000_000n, "USD"]]);
    expect(money("USD 0.02")).toEqual([[20_000_000n, "USD"]]);
    expect(money("€15")).toEqual([[15_000_000_000n, "EUR"]]);
    expect(money("£1.5M")).toEqual([[1_500_000_000_000_000n, "GBP"]]);
    expect(money("30¢")).toEqual([[300_000_000n, "USD"]]);
    expect(money("0.5 cents")).toEqual([[5_000_000n, "USD"]]);
    expect(money("15 euros")).toEqual([[15_000_000_000n, "EUR"]]);
    expect(money("$20 CAD")).toEqual([[20_000_000_000n, "CAD"]]);
    // Finer than a nano is no amount the engine can hold: not read as money.
    expect(money("$0.0000000001")).toEqual([]);
  });

  it("reads quantities in micros and percentages, whatever the spacing", () => {
    expect(quantities("1M 10k 1,000,000 2.5 million 1B")).toEqual([
      ["number", 1_000_000_000_000n],
      ["number", 10_000_000_000n],
      ["number", 1_000_000_000_000n],
      ["number", 2_500_000_000_000n],
      ["number", 1_000_000_000_000_000n],
    ]);
    expect(quantities("15 % 15% 15 percent 2.9%")).toEqual([
      ["percent", 15_000_000n],
      ["percent", 15_000_000n],
      ["percent", 15_000_000n],
      ["percent", 2_900_000n],
    ]);
    // A comma that is no thousands separator ends the number.
    expect(quantities("10,000, 20")).toEqual([
      ["number", 10_000_000_000n],
      ["number", 20_000_000n],
    ]);
  });

  it("reads a slash as per, a dash between numbers as a range, N+ as above N", () => {
    const words = (text: string) =>
      tokenize(text).map((t) => (t.kind === "word" ? t.word : t.kind));
    expect(words("$0.10/GB")).toEqual(["money", "per", "gb"]);
    expect(words("1M–10M")).toEqual(["number", "to", "number"]);
    expect(words("5000+ seats")).toEqual(["above", "number", "seats"]);
  });
});

describe("clause grammar", () => {
  it("quotes the operator's own words in a clarification", () => {
    const result = parsePricing("$2K platform fee, per-token pricing");
    expect(result.clarifications.map((c) => c.word)).toEqual(["per-token pricing"]);
  });

  it("keeps 'between 1M and 10M' as one range", () => {
    const result = parsePricing(
      "graduated: first 1M tokens at $2 per million, between 1M and 10M tokens at $1 per million, $0.50 per million above 10M",
    );
    expect(result.proposal.plans[0]?.components).toEqual([
      {
        type: "tiered",
        metric: "tokens",
        mode: "graduated",
        tiers: [
          { up_to: "1000000", unit_price: "0.000002" },
          { up_to: "10000000", unit_price: "0.000001" },
          { up_to: null, unit_price: "0.0000005" },
        ],
      },
    ]);
  });

  it("shifts tier bounds by an included quota (the engine counts billable units)", () => {
    // Metered bounds in the text: free to 10k, $0.01 to 100k, $0.005 above; billable bounds
    // after the 10k quota: 90k.
    const result = parsePricing(
      "first 10,000 requests free, then $0.01 per request up to 100,000, $0.005 per request thereafter",
    );
    expect(result.proposal.plans[0]?.components).toEqual([
      { type: "included", metric: "requests", quantity: "10000" },
      {
        type: "tiered",
        metric: "requests",
        mode: "graduated",
        tiers: [
          { up_to: "90000", unit_price: "0.01" },
          { up_to: null, unit_price: "0.005" },
        ],
      },
    ]);
  });

  it("cuts text at the maximum length rather than reading without bound", () => {
    const long = `$5 per seat ${"and more words ".repeat(500)}`;
    expect(parsePricing(long).proposal.plans[0]?.components).toEqual([
      { type: "per_unit", metric: "seats", unit_price: "5" },
    ]);
  });
});
