// A published plan in plain words for the public storefront (issue 19 §2): "$49 a month,
// includes 1,000,000 tokens, then $2 per 1M tokens". Every price is the plan's own, exactly
// (bigint nanos through ./money, never a float): a per-unit price too small to read is quoted per
// 1K, 1M or 1B units, which is the same price multiplied exactly, never rounded.

import type { PlanComponent, Tier } from "../../contracts/catalog";
import { formatMoney, formatQuantity, toMicros, toNanos } from "../money";

export interface PlanToWord {
  name: string;
  currency: string;
  period: "month" | "year";
  trial_days: number;
  components: readonly PlanComponent[];
}

export interface PlanInWords {
  /** The fixed price of a period ("$49 a month"); with no flat fee its minimum ("$60,000 a year
   * minimum"), or "Pay as you go" without one either. */
  headline: string;
  /** One phrase per component besides the flat fee (the headline), in the plan's order. */
  lines: string[];
  /** The whole plan in one line: "$49 a month, includes 1,000,000 tokens a month, then $2 per
   * 1M tokens". */
  summary: string;
  /** "14-day free trial", or null. */
  trial: string | null;
}

/** Symbols of the currencies a storefront most often shows; other codes follow the amount. */
const SYMBOLS: Record<string, string> = { USD: "$", EUR: "€", GBP: "£", JPY: "¥" };

const group = (digits: string) => digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");

/** Groups the integer part of a decimal string: "1000000.5" → "1,000,000.5". */
function grouped(decimal: string): string {
  const [int, frac] = decimal.split(".");
  return frac === undefined ? group(int ?? "") : `${group(int ?? "")}.${frac}`;
}

/** An exact amount of the currency: "$49", "$0.50", "€1,200", "1,500 CHF". Whole amounts drop
 * their cents; otherwise every significant decimal is kept (at least two). */
export function moneyInWords(nanos: bigint, currency: string): string {
  const text = nanos % 1_000_000_000n === 0n ? formatMoney(nanos, 0) : formatMoney(nanos, 2);
  const symbol = SYMBOLS[currency];
  return symbol ? `${symbol}${grouped(text)}` : `${grouped(text)} ${currency}`;
}

export const quantityInWords = (micros: bigint): string => grouped(formatQuantity(micros));

/** "token" → "tokens" (a unit ending in s stays). */
export const plural = (unit: string) => (unit.endsWith("s") ? unit : `${unit}s`);

const PER_SCALES = [
  { units: 1n, label: "" },
  { units: 1_000n, label: "1K " },
  { units: 1_000_000n, label: "1M " },
  { units: 1_000_000_000n, label: "1B " },
] as const;
/** A unit price is quoted per the smallest batch of units that costs at least a cent. */
const READABLE_NANOS = 10_000_000n;

/** "$2 per 1M tokens", "$0.05 per request", "free". */
export function unitPriceInWords(unitPriceNanos: bigint, currency: string, unit: string): string {
  if (unitPriceNanos === 0n) return `free ${plural(unit)}`;
  const scale = PER_SCALES.find((s) => unitPriceNanos * s.units >= READABLE_NANOS) ?? PER_SCALES[3];
  const price = moneyInWords(unitPriceNanos * scale.units, currency);
  return scale.units === 1n ? `${price} per ${unit}` : `${price} per ${scale.label}${plural(unit)}`;
}

const PERIOD_WORD = { month: "a month", year: "a year" } as const;

function tiersInWords(tiers: readonly Tier[], currency: string, unit: string): string {
  let from = 0n;
  return tiers
    .map((t) => {
      const price = unitPriceInWords(toNanos(t.unit_price), currency, unit);
      const fee =
        t.flat_fee !== undefined && toNanos(t.flat_fee) > 0n
          ? ` plus ${moneyInWords(toNanos(t.flat_fee), currency)}`
          : "";
      if (t.up_to === null) {
        return from === 0n ? `${price}${fee}` : `above ${quantityInWords(from)}, ${price}${fee}`;
      }
      const upTo = toMicros(t.up_to);
      const range =
        from === 0n
          ? `up to ${quantityInWords(upTo)}`
          : `${quantityInWords(from)} to ${quantityInWords(upTo)}`;
      from = upTo;
      return `${range}, ${price}${fee}`;
    })
    .join("; ");
}

/**
 * The plan in words. `unitOf` names a metric's unit ("token"); the metric id is used when the
 * product does not say. Usage "then" follows an included quota of the same metric.
 */
export function planInWords(plan: PlanToWord, unitOf: (metric: string) => string): PlanInWords {
  const cur = plan.currency;
  const per = PERIOD_WORD[plan.period];
  const included = new Set(
    plan.components.flatMap((c) => (c.type === "included" ? [c.metric] : [])),
  );
  const flat = plan.components.find((c) => c.type === "flat");
  // With no flat fee a minimum is what the plan costs at the least, so it heads the card
  // ("$60,000 a year minimum") instead of a "Pay as you go" its buyer would misread.
  const minimum = flat ? undefined : plan.components.find((c) => c.type === "minimum");
  const lines = plan.components.flatMap((c): string[] =>
    c.type === "flat" || c === minimum ? [] : [phrase(c)],
  );
  function phrase(c: Exclude<PlanComponent, { type: "flat" }>): string {
    switch (c.type) {
      case "included":
        return `includes ${quantityInWords(toMicros(c.quantity))} ${plural(unitOf(c.metric))} ${per}`;
      case "per_unit": {
        const price = unitPriceInWords(toNanos(c.unit_price), cur, unitOf(c.metric));
        return included.has(c.metric) ? `then ${price}` : price;
      }
      case "tiered": {
        const unit = unitOf(c.metric);
        const how =
          c.mode === "graduated"
            ? `${plural(unit)}, each tier at its own price`
            : `${plural(unit)}, every unit at the price of the tier the ${plan.period}'s total reaches`;
        return `${included.has(c.metric) ? "then " : ""}${how}: ${tiersInWords(c.tiers, cur, unit)}`;
      }
      case "package": {
        const unit = unitOf(c.metric);
        return `${included.has(c.metric) ? "then " : ""}${moneyInWords(toNanos(c.price), cur)} per pack of ${quantityInWords(toMicros(c.size))} ${plural(unit)}`;
      }
      case "discount": {
        const percent = formatQuantity(toMicros(c.percent));
        return c.metric === undefined
          ? `${percent}% off usage charges above ${moneyInWords(toNanos(c.above), cur)} ${per}`
          : `${percent}% off ${plural(unitOf(c.metric))} above ${quantityInWords(toMicros(c.above))} used`;
      }
      default: // "minimum", the one type left
        return `a minimum of ${moneyInWords(toNanos(c.amount), cur)} ${per}`;
    }
  }
  const headline = flat
    ? `${moneyInWords(toNanos(flat.amount), cur)} ${per}`
    : minimum
      ? `${moneyInWords(toNanos(minimum.amount), cur)} ${per} minimum`
      : "Pay as you go";
  return {
    headline,
    lines,
    summary: [headline, ...lines].join(", "),
    trial: plan.trial_days > 0 ? `${plan.trial_days}-day free trial` : null,
  };
}
