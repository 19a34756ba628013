// Committed recurring MRR of a plan: what the customer owes every month whatever they use.
//
// Rules decided here:
// - Committed amount per billing period = flat fee + max(0, minimum commitment − flat fee), i.e.
//   max(flat, minimum). A plan with only usage components commits nothing (its revenue shows in
//   usage MRR). The minimum's excess over the flat fee is also the usage allowance: usage
//   revenue first fills it (pricing.ts tops up to the minimum) and only the usage above it
//   counts as usage MRR, so flat + usage + top-up is never double counted.
// - Recurring discounts apply to the per-period committed amount, in order: each one's
//   percent_off on the running amount, then its amount_off; never below zero (as pricing.ts
//   applies coupons). They do not touch usage revenue, which is taken as rated.
// - Normalised monthly: a monthly plan's amount as is, an annual plan's ÷ 12, rounded half-even
//   to the nano once per phase (at most half a nano of drift per annual subscription).

import { divRound, parseScaled } from "../money";
import { type CompiledPlan, compilePlan, type PlanDefinition } from "../pricing";
import type { RecurringDiscount, RecurringTerms } from "./types";

const PERCENT_SCALE = 6;
const PERCENT_DENOMINATOR = 100n * 10n ** BigInt(PERCENT_SCALE);

/** Committed recurring terms of a plan (compiled or as defined). */
export function recurringTermsFromPlan(plan: CompiledPlan | PlanDefinition): RecurringTerms {
  const p = "components" in plan ? compilePlan(plan) : plan;
  const flat = p.flat?.amount ?? 0n;
  const minimum = p.minimum?.amount ?? 0n;
  const excess = minimum > flat ? minimum - flat : 0n;
  return { plan_id: p.id, interval: p.interval, committed: flat + excess, minimum_excess: excess };
}

export interface CompiledDiscount {
  /** Inclusive, epoch ms (−Infinity when always). */
  from: number;
  /** Exclusive, epoch ms (Infinity when open). */
  to: number;
  /** Percent scaled by 10^6. */
  percent: bigint;
  /** Nanos per billing period. */
  amount: bigint;
}

function parseNonNegative(value: string | number, scale: number, what: string): bigint {
  let parsed: bigint;
  try {
    parsed = parseScaled(value, scale);
  } catch {
    throw new RangeError(`${what} must be a decimal with at most ${scale} places (got ${value})`);
  }
  if (parsed < 0n) throw new RangeError(`${what} must not be negative`);
  return parsed;
}

export function compileDiscount(d: RecurringDiscount): CompiledDiscount {
  const percent =
    d.percent_off === undefined
      ? 0n
      : parseNonNegative(d.percent_off, PERCENT_SCALE, "percent_off");
  if (percent > PERCENT_DENOMINATOR) throw new RangeError("percent_off must be between 0 and 100");
  const amount = d.amount_off === undefined ? 0n : parseNonNegative(d.amount_off, 9, "amount_off");
  const from = d.from ?? Number.NEGATIVE_INFINITY;
  const to = d.to ?? Number.POSITIVE_INFINITY;
  if (to < from) throw new RangeError("discount ends before it starts");
  return { from, to, percent, amount };
}

/** Applies discounts in order to a per-period amount (percent, then amount, floor 0). */
export function applyDiscounts(amount: bigint, discounts: readonly CompiledDiscount[]): bigint {
  let running = amount;
  for (const d of discounts) {
    running -= divRound(running * d.percent, PERCENT_DENOMINATOR);
    running = running > d.amount ? running - d.amount : 0n;
  }
  return running;
}

/** A per-period amount as a monthly one: annual ÷ 12, rounded half-even to the nano. */
export function normaliseMonthly(amount: bigint, interval: "month" | "year"): bigint {
  if (interval === "month") return amount;
  if (interval === "year") return divRound(amount, 12n);
  throw new RangeError(`unknown billing interval: ${String(interval)}`);
}

/** Committed recurring MRR of one subscription on `terms`, net of `discounts` (all applied). */
export function committedMonthly(
  terms: RecurringTerms,
  discounts: readonly RecurringDiscount[] = [],
): bigint {
  return normaliseMonthly(
    applyDiscounts(terms.committed, discounts.map(compileDiscount)),
    terms.interval,
  );
}
