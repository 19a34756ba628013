// Costing: what one usage event cost us (COGS), in exact nanos, from the event's own cost block
// or from an effective-dated provider/model price catalog.
//
// Rules:
// - Catalog keys are `provider/model`, trimmed and lower-cased, so "Anthropic " and "anthropic"
//   match. Each key keeps its price versions sorted by effective_from; an event gets the latest
//   version with effective_from <= event time (binary search). Two entries with the same key and
//   effective_from: the later one in the input wins. Amounts are parsed once, at compile time;
//   a malformed or negative catalog entry throws (a catalog is config, fail loudly).
// - `usd` on the event wins over the catalog ("supplied"). It is parsed exactly and rounded
//   half-even to nanos only if it has more than 9 decimal places. Negative, non-finite or
//   non-decimal → "uncosted" with a reason.
// - Otherwise provider + model are priced from the catalog ("catalog"):
//     tokens × per-million price / 1e6 for input, output and cached input (cached falls back to
//     the input price), plus per_call × (calls ?? 1) when the entry has a per_call price
//     (calls is ignored for entries without one; missing token counts are 0),
//   summed exactly and rounded half-even to nanos once, at the end.
// - costEvent never throws and never drops an event: anything unpriceable (unknown model, event
//   before the first price, only one of provider/model, tokens without provider/model, negative
//   or fractional counts) is "uncosted" with nanos 0n and a reason, for the caller to flag.
// - No cost block, or one with nothing in it → "none", 0n.
// - Results name the normalised provider/model; "catalog" results also the price's
//   effective_from, so an invoice line can be traced to the price that made it.

import { divRound, toNanos } from "./money";

export type Amount = string | number;

export interface CostCatalogEntry {
  provider: string;
  model: string;
  input_per_million: Amount;
  output_per_million: Amount;
  cached_input_per_million?: Amount | null;
  per_call?: Amount | null;
  /** Epoch ms. */
  effective_from: number;
}

export interface EventCost {
  usd?: number | string;
  provider?: string;
  model?: string;
  input_tokens?: number;
  output_tokens?: number;
  cached_input_tokens?: number;
  calls?: number;
}

export interface CostResult {
  status: "supplied" | "catalog" | "uncosted" | "none";
  nanos: bigint;
  /** Normalised (trimmed, lower-case) provider/model, when the event named them. */
  provider?: string;
  model?: string;
  /** effective_from of the catalog price used. */
  price_effective_from?: number;
  reason?: string;
}

/** One price version, amounts in nanos per million tokens (per_call in nanos per call). */
export interface CompiledPrice {
  readonly effective_from: number;
  readonly input: bigint;
  readonly output: bigint;
  readonly cached_input: bigint;
  readonly per_call: bigint | null;
}

export interface CostIndex {
  /** Normalised `provider/model` → versions sorted by effective_from, unique. */
  readonly prices: ReadonlyMap<string, readonly CompiledPrice[]>;
}

const MILLION = 1_000_000n;

const norm = (s: string): string => s.trim().toLowerCase();
const keyOf = (provider: string, model: string): string => `${norm(provider)}/${norm(model)}`;

export function compileCostCatalog(
  entries: readonly CostCatalogEntry[],
  /** stored: an entry saved before today's rules that no longer compiles is left out (events
   * of that model are uncosted) instead of failing every batch of the tenant. */
  o: { stored?: boolean } = {},
): CostIndex {
  const grouped = new Map<string, CompiledPrice[]>();
  entries.forEach((e, i) => {
    if (o.stored) {
      try {
        compileCostCatalog([e]);
      } catch {
        return;
      }
    }
    const where = `cost catalog entry ${i} (${e.provider}/${e.model})`;
    if (!norm(e.provider ?? "") || !norm(e.model ?? "")) {
      throw new RangeError(`${where}: provider and model are required`);
    }
    if (!Number.isFinite(e.effective_from)) {
      throw new RangeError(`${where}: effective_from must be epoch ms`);
    }
    const price = (name: string, value: Amount): bigint => {
      let nanos: bigint;
      try {
        nanos = toNanos(value);
      } catch (err) {
        throw new RangeError(`${where}: ${name}: ${(err as Error).message}`);
      }
      if (nanos < 0n) throw new RangeError(`${where}: ${name} is negative`);
      return nanos;
    };
    const input = price("input_per_million", e.input_per_million);
    const key = keyOf(e.provider, e.model);
    let versions = grouped.get(key);
    if (!versions) {
      versions = [];
      grouped.set(key, versions);
    }
    versions.push({
      effective_from: e.effective_from,
      input,
      output: price("output_per_million", e.output_per_million),
      cached_input:
        e.cached_input_per_million == null
          ? input
          : price("cached_input_per_million", e.cached_input_per_million),
      per_call: e.per_call == null ? null : price("per_call", e.per_call),
    });
  });
  const prices = new Map<string, readonly CompiledPrice[]>();
  for (const [key, versions] of grouped) {
    versions.sort((a, b) => a.effective_from - b.effective_from); // stable: input order kept
    // Keep the last of each run of equal effective_from: the later input entry wins.
    prices.set(
      key,
      versions.filter((v, i) => versions[i + 1]?.effective_from !== v.effective_from),
    );
  }
  return { prices };
}

/** Latest version with effective_from <= at, or undefined. */
function priceAt(versions: readonly CompiledPrice[], at: number): CompiledPrice | undefined {
  let lo = 0;
  let hi = versions.length; // invariant: versions[< lo] <= at, versions[>= hi] > at
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((versions[mid] as CompiledPrice).effective_from <= at) lo = mid + 1;
    else hi = mid;
  }
  return versions[lo - 1];
}

const uncosted = (reason: string, extra?: Partial<CostResult>): CostResult => ({
  status: "uncosted",
  nanos: 0n,
  ...extra,
  reason,
});

const iso = (ms: number): string =>
  Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : String(ms); // Date's range

/** Exact usd → nanos, rounded half-even only past 9 decimal places (e.g. 0.1 + 0.2).
 * Throws RangeError on anything that is not a finite decimal. */
function usdToNanos(usd: number | string): bigint {
  try {
    return toNanos(usd);
  } catch (err) {
    if (!/decimal places/.test((err as Error).message)) throw err;
    // Parse at scale 40 (shift the exponent by 31, exact on the text), then round once to 9.
    const text = typeof usd === "number" ? String(usd) : usd.trim();
    const [, mantissa, exp] = /^(.*?)(?:[eE]([+-]?\d+))?$/.exec(text) as RegExpExecArray;
    const fine = toNanos(`${mantissa}e${Number(exp ?? 0) + 31}`);
    return fine < 0n ? fine : divRound(fine, 10n ** 31n);
  }
}

const COUNTS = ["input_tokens", "output_tokens", "cached_input_tokens", "calls"] as const;

export function costEvent(index: CostIndex, cost: EventCost | undefined, at: number): CostResult {
  if (!cost) return { status: "none", nanos: 0n };

  if (cost.usd != null) {
    let nanos: bigint;
    try {
      nanos = usdToNanos(cost.usd);
    } catch (err) {
      return uncosted(`invalid usd: ${(err as Error).message}`);
    }
    if (nanos < 0n) return uncosted(`usd is negative: ${cost.usd}`);
    return { status: "supplied", nanos };
  }

  const provider = typeof cost.provider === "string" ? norm(cost.provider) : "";
  const model = typeof cost.model === "string" ? norm(cost.model) : "";
  const named: Partial<CostResult> = {};
  if (provider) named.provider = provider;
  if (model) named.model = model;
  const given = COUNTS.filter((name) => cost[name] != null);

  if (!provider && !model) {
    if (given.length === 0) return { status: "none", nanos: 0n };
    return uncosted(`${given.join(", ")} given without provider and model`);
  }
  if (!provider || !model) {
    return uncosted(`${provider ? "model" : "provider"} missing: need both to price`, named);
  }

  for (const name of given) {
    const n = cost[name] as number;
    if (!Number.isSafeInteger(n) || n < 0) {
      return uncosted(`${name} must be a non-negative integer, got ${n}`, named);
    }
  }

  const key = `${provider}/${model}`;
  const versions = index.prices.get(key);
  if (!versions) return uncosted(`no catalog price for ${key}`, named);
  if (!Number.isFinite(at)) return uncosted(`invalid event time: ${at}`, named);
  const price = priceAt(versions, at);
  if (!price) {
    const first = (versions[0] as CompiledPrice).effective_from;
    const reason = `event at ${iso(at)} is before the first price for ${key} (${iso(first)})`;
    return uncosted(reason, named);
  }

  // Sum in nanos × 1e-6 (tokens × nanos-per-million), round once.
  let micro =
    BigInt(cost.input_tokens ?? 0) * price.input +
    BigInt(cost.output_tokens ?? 0) * price.output +
    BigInt(cost.cached_input_tokens ?? 0) * price.cached_input;
  if (price.per_call !== null) micro += BigInt(cost.calls ?? 1) * price.per_call * MILLION;
  return {
    status: "catalog",
    nanos: divRound(micro, MILLION),
    provider,
    model,
    price_effective_from: price.effective_from,
  };
}
