// The workload the ingest benchmarks share (`bench:ingest` over HTTP, `bench:fold` in Node): one
// plan with a flat fee, an included quota, graduated tiers and a volume discount, one catalog
// price, and token events of two metrics spread over the last hour.

export const BENCH_PLAN_COMPONENTS = [
  { type: "flat", amount: "500" },
  { type: "included", metric: "input_tokens", quantity: 1_000_000 },
  {
    type: "tiered",
    metric: "input_tokens",
    mode: "graduated",
    tiers: [
      { up_to: 10_000_000, unit_price: "0.000003" },
      { up_to: null, unit_price: "0.0000025" },
    ],
  },
  { type: "per_unit", metric: "output_tokens", unit_price: "0.000015" },
  { type: "discount", metric: "output_tokens", above: 5_000_000, percent: 10 },
];

export const BENCH_COST_ENTRY = {
  provider: "anthropic",
  model: "claude-sonnet-4-5",
  input_per_million: "3",
  output_per_million: "15",
  cached_input_per_million: "0.3",
};

/** The i-th event of a batch sent at `now` (epoch ms), for `customer`. */
export function benchEvent(id, customer, i, now) {
  return {
    id,
    customer,
    product: "chat-api",
    metric: i % 2 === 1 ? "output_tokens" : "input_tokens",
    quantity: 200 + (i % 1500),
    time: now - (i % 3600) * 1000,
    cost: {
      provider: "anthropic",
      model: "claude-sonnet-4-5",
      input_tokens: 1200,
      output_tokens: 300,
    },
    properties: { endpoint: "/v1/chat", region: "fra" },
  };
}
