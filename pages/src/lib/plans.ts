// Plan components in words (SPEC §11 "Plan components"), e.g. a graduated token tier reads
// "0–1M tokens: $3.00 / M, then $2.50 / M". Pure: the catalog view and the tests share it.

import type { PlanComponent, Tier } from "../../../contracts/catalog";
import { compact, num, unitMoney, words } from "./format";

// The component shapes are the API's contract; re-exported for the modules that describe them.
export type { PlanComponent, Tier };

export interface MetricInfo {
  name?: string | null;
  unit: string;
}

export interface DescribeContext {
  currency: string;
  period: "month" | "year";
  metrics: Record<string, MetricInfo | undefined>;
}

const plural = (unit: string) => (/s$/.test(unit) ? unit : `${unit}s`);

/** Unit prices below a cent read better per thousand or per million units. */
export function priceScale(prices: readonly number[]): { factor: number; label: string } {
  const positive = prices.filter((p) => p > 0);
  const smallest = positive.length ? Math.min(...positive) : 1;
  if (smallest >= 0.01) return { factor: 1, label: "" };
  if (smallest >= 0.00001) return { factor: 1_000, label: "K" };
  return { factor: 1_000_000, label: "M" };
}

function perUnit(
  price: number,
  scale: { factor: number; label: string },
  unit: string,
  currency: string,
) {
  const amount = unitMoney(Number((price * scale.factor).toPrecision(12)), currency);
  return scale.factor === 1 ? `${amount} / ${unit}` : `${amount} / ${scale.label}`;
}

export function describeComponent(c: PlanComponent, ctx: DescribeContext): string {
  const cur = ctx.currency;
  const metricName = (m: string) => ctx.metrics[m]?.name || words(m);
  const unitOf = (m: string) => ctx.metrics[m]?.unit || "unit";
  const every = ctx.period === "year" ? "per year" : "per month";
  switch (c.type) {
    case "flat":
      return `Platform fee: ${unitMoney(c.amount, cur)} ${every}`;
    case "minimum":
      return `Minimum commitment: ${unitMoney(c.amount, cur)} ${every}`;
    case "included":
      return `Included: ${compact(c.quantity)} ${plural(unitOf(c.metric))} of ${metricName(c.metric)} ${every}`;
    case "per_unit": {
      const p = num(c.unit_price) ?? 0;
      const scale = priceScale([p]);
      return `${metricName(c.metric)}: ${perUnit(p, scale, unitOf(c.metric), cur)}${scale.factor === 1 ? "" : ` ${plural(unitOf(c.metric))}`}`;
    }
    case "package":
      return `${metricName(c.metric)}: ${unitMoney(c.price, cur)} per ${compact(c.size)} ${plural(unitOf(c.metric))}`;
    case "discount": {
      if (c.metric)
        return `Volume discount: ${num(c.percent)}% off ${metricName(c.metric)} beyond ${compact(c.above)} ${plural(unitOf(c.metric))}`;
      return `Volume discount: ${num(c.percent)}% off the usage charge above ${unitMoney(c.above, cur)}`;
    }
    case "tiered":
      return `${metricName(c.metric)} (${c.mode}): ${describeTiers(c, unitOf(c.metric), cur)}`;
  }
}

export function describeTiers(
  c: { mode: "graduated" | "volume"; tiers: Tier[] },
  unit: string,
  currency: string,
): string {
  const scale = priceScale(c.tiers.map((t) => num(t.unit_price) ?? 0));
  const price = (t: Tier) => {
    const p = perUnit(num(t.unit_price) ?? 0, scale, unit, currency);
    const fee = num(t.flat_fee);
    return fee ? `${unitMoney(fee, currency)} + ${p}` : p;
  };
  const parts: string[] = [];
  let lower = 0;
  c.tiers.forEach((t, i) => {
    const upper = num(t.up_to);
    const units = i === 0 ? ` ${plural(unit)}` : "";
    if (upper === null) {
      if (c.mode === "graduated") parts.push(i === 0 ? `${price(t)}` : `then ${price(t)}`);
      else parts.push(i === 0 ? price(t) : `above ${compact(lower)}: ${price(t)}`);
    } else if (c.mode === "graduated") {
      parts.push(`${compact(lower)}–${compact(upper)}${units}: ${price(t)}`);
    } else {
      parts.push(`up to ${compact(upper)}${units}: ${price(t)}`);
    }
    lower = upper ?? lower;
  });
  const text = parts.join(", ");
  return c.mode === "volume" ? `${text} (every unit at the price of the tier reached)` : text;
}
