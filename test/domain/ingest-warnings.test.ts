import { describe, expect, it } from "vitest";
import { costFieldsInProperties, noteWarnings } from "../../domain/ingest-warnings";

const paths = (w: { path: string }[]) => w.map((x) => x.path);

describe("costFieldsInProperties", () => {
  it("warns about cost information sitting in properties instead of cost", () => {
    const w = costFieldsInProperties({
      properties: {
        model: "gpt-4o",
        Provider: "openai",
        inputTokens: 1200,
        completion_tokens: 300,
        "cost-usd": 0.01,
        total_tokens: 1500,
        endpoint: "/v1/chat",
        region: "fra",
        max_tokens: 4096,
      },
    });
    expect(paths(w)).toEqual([
      "properties.model",
      "properties.Provider",
      "properties.inputTokens",
      "properties.completion_tokens",
      "properties.cost-usd",
      "properties.total_tokens",
    ]);
    expect(w.every((x) => x.code === "cost_in_properties")).toBe(true);
    expect(w[0]?.message).toMatch(/send it as cost\.model/);
    expect(w[4]?.message).toMatch(/cost\.usd/);
  });

  it("says nothing when the cost block already carries that field, or of ordinary properties", () => {
    expect(
      costFieldsInProperties({
        cost: { provider: "openai", model: "gpt-4o", input_tokens: 10 },
        properties: { model: "gpt-4o", provider: "openai", input_tokens: 10, price: 1 },
      }),
    ).toEqual([]);
    expect(costFieldsInProperties({ properties: { endpoint: "/x", region: "fra" } })).toEqual([]);
    expect(costFieldsInProperties({})).toEqual([]);
    // usd given: a cost-looking property is covered; a model property is not (cost has none).
    expect(
      paths(
        costFieldsInProperties({ cost: { usd: "0.1" }, properties: { cost: 0.1, model: "m" } }),
      ),
    ).toEqual(["properties.model"]);
  });
});

describe("noteWarnings", () => {
  it("turns the actor's flags into warnings with the reason", () => {
    expect(
      noteWarnings(
        { id: "e", flags: ["unknown_customer", "uncosted"], reason: "no catalog price for a/b" },
        "acme",
      ),
    ).toEqual([
      expect.objectContaining({
        code: "unknown_customer",
        path: "customer",
        message: expect.stringContaining("'acme'"),
      }),
      expect.objectContaining({
        code: "uncosted",
        path: "cost",
        message: expect.stringContaining("no catalog price for a/b"),
      }),
    ]);
  });
});
