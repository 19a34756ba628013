// What a Messages API call costs, in exact USD nanos, priced with Aforo's own cost catalog —
// the same `anthropic/<model>` entries that cost the tenant's customers' events (domain/costing.ts).
//
// - Rates: the tenant's catalog entry for `anthropic/<model>` valid now, when it has one; else
//   DEFAULT_CLAUDE_RATES, Anthropic's list prices for the current Claude models, so the cap holds
//   on a fresh tenant whose catalog is empty. A model in neither cannot be priced and is refused
//   (a cap that cannot price a call cannot hold it).
// - A dated model id (`claude-sonnet-4-5-20250929`) is priced as its alias when only the alias
//   has a price.
// - Anthropic reports input_tokens without the cached part: cache reads are priced at the cached
//   input rate, cache writes at 1.25 × the input rate (the API's five-minute cache write; the
//   catalog has no column for it), output at the output rate; summed exactly and rounded
//   half-even to nanos once.
// - The estimate made before a call is an upper bound: the prompt's characters / 3 as input
//   tokens (tokenizers average nearer 4; 3 errs high) and the whole max_tokens as output.

import { type CompiledPrice, type CostCatalogEntry, compileCostCatalog } from "../costing";
import { divRound, formatMoney } from "../money";

export interface TokenUsage {
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
}

export const NO_TOKENS: TokenUsage = {
  input_tokens: 0,
  output_tokens: 0,
  cache_read_tokens: 0,
  cache_write_tokens: 0,
};

/** Anthropic list prices, USD per million tokens, for when the tenant's catalog has no
 * `anthropic/<model>` entry. An entry in the tenant's catalog always wins. */
export const DEFAULT_CLAUDE_RATES: readonly CostCatalogEntry[] = [
  ["claude-opus-4-5", "5", "25", "0.50"],
  ["claude-opus-4-1", "15", "75", "1.50"],
  ["claude-opus-4", "15", "75", "1.50"],
  ["claude-sonnet-4-5", "3", "15", "0.30"],
  ["claude-sonnet-4", "3", "15", "0.30"],
  ["claude-haiku-4-5", "1", "5", "0.10"],
  ["claude-3-5-haiku", "0.80", "4", "0.08"],
].map(([model, input, output, cached]) => ({
  provider: "anthropic",
  model: model as string,
  input_per_million: input as string,
  output_per_million: output as string,
  cached_input_per_million: cached as string,
  effective_from: 0,
}));

const DEFAULT_INDEX = compileCostCatalog(DEFAULT_CLAUDE_RATES);

export interface ModelRate {
  price: CompiledPrice;
  /** Where the price came from, for the usage page and the docs. */
  source: "catalog" | "default";
}

const DATED = /-\d{8}$/;

function latestAt(versions: readonly CompiledPrice[] | undefined, at: number) {
  let found: CompiledPrice | undefined;
  for (const v of versions ?? []) if (v.effective_from <= at) found = v;
  return found;
}

/** The rate a call to `model` at `at` is priced at, or null when nothing prices it. */
export function rateFor(
  tenantCatalog: readonly CostCatalogEntry[],
  model: string,
  at: number,
): ModelRate | null {
  const tenant = compileCostCatalog(tenantCatalog, { stored: true });
  const id = model.trim().toLowerCase();
  for (const key of [id, id.replace(DATED, "")]) {
    const own = latestAt(tenant.prices.get(`anthropic/${key}`), at);
    if (own) return { price: own, source: "catalog" };
  }
  for (const key of [id, id.replace(DATED, "")]) {
    const builtIn = latestAt(DEFAULT_INDEX.prices.get(`anthropic/${key}`), at);
    if (builtIn) return { price: builtIn, source: "default" };
  }
  return null;
}

const MILLION = 1_000_000n;

/** The exact cost of reported usage, in nanos. */
export function costOf(rate: ModelRate, usage: TokenUsage): bigint {
  const p = rate.price;
  // In nanos × 1e-6, with cache writes in quarters (× 5 / 4): one rounding at the end.
  const quarterMicro =
    4n *
      (BigInt(usage.input_tokens) * p.input +
        BigInt(usage.output_tokens) * p.output +
        BigInt(usage.cache_read_tokens) * p.cached_input +
        (p.per_call === null ? 0n : p.per_call * MILLION)) +
    5n * BigInt(usage.cache_write_tokens) * p.input;
  return divRound(quarterMicro, 4n * MILLION);
}

/** Upper bound on a call's input tokens from its prompt's size. */
export const estimateInputTokens = (promptChars: number): number => Math.ceil(promptChars / 3);

/** What a call may cost at most: its estimated input and every output token it may produce. */
export const estimateCost = (rate: ModelRate, promptChars: number, maxTokens: number): bigint =>
  costOf(rate, {
    ...NO_TOKENS,
    input_tokens: estimateInputTokens(promptChars),
    output_tokens: maxTokens,
  });

export type CapCheck =
  | { ok: true; remaining_nanos: bigint }
  | { ok: false; spent_nanos: bigint; cap_nanos: bigint; needed_nanos: bigint };

/** Whether a call that may cost `needed` still fits under the day's cap. A call is allowed when
 * spend + needed stays at or under the cap: a cap of 0 turns the tenant's AI off. */
export function checkCap(spent: bigint, cap: bigint, needed: bigint): CapCheck {
  if (spent + needed <= cap) return { ok: true, remaining_nanos: cap - spent };
  return { ok: false, spent_nanos: spent, cap_nanos: cap, needed_nanos: needed };
}

/** The words a refused call shows: the cap, today's spend and what the call needed. */
export function capMessage(check: Extract<CapCheck, { ok: false }>): string {
  const usd = (n: bigint) => `$${formatMoney(n, 2)}`;
  return (
    `The daily AI cost cap of ${usd(check.cap_nanos)} is reached: today's spend is ` +
    `${usd(check.spent_nanos)} and this call may cost up to ${usd(check.needed_nanos)}. ` +
    "The cap resets at 00:00 UTC; an admin can raise it with PUT /api/ai/settings."
  );
}

/** The UTC day [start, end) containing `at`, the window the daily cap counts. */
export function utcDay(at: number): { start: number; end: number } {
  const start = Math.floor(at / 86_400_000) * 86_400_000;
  return { start, end: start + 86_400_000 };
}
