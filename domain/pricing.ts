// Pricing engine: turns a plan definition and a period's usage into charge lines, exactly.
// Money is bigint nanos (1e-9 of the currency unit), quantities bigint micros (1e-6 of a unit);
// see ./money. Nothing here touches the clock, storage or the Workers runtime.
//
// Rules decided here (the API and the docs rely on them):
// - Amounts arrive as decimal strings or numbers and are parsed once, exactly, in compilePlan:
//   money with at most 9 decimal places, quantities (tier bounds, package sizes, quotas, per-metric
//   discount thresholds) with at most 6, percents with at most 6. Prices are never negative.
// - Usage for a metric: billable = max(0, metered − included). Tier bounds (`up_to`) and package
//   sizes are in billable units, i.e. counted after the included quota has been used up.
// - Zero billable usage costs nothing in every model (no tier flat_fee, no package, no volume tier
//   minimum). Graduated: each tier's units at its price, plus the tier's flat_fee once any unit
//   falls in it (a tier covers (previous up_to, up_to], so usage exactly at up_to stays in it).
//   Volume: every unit at the price of the tier the billable total falls in, plus its flat_fee.
// - Each line is rounded once to nanos (half-even): quantities × prices are multiplied exactly and
//   divided at the end of the line, never per unit or per tier.
// - Volume discounts (negative lines):
//   · with a metric: `above` counts that metric's metered quantity (before the included quota,
//     unlike tier bounds: "15 % off above 1M tokens" means tokens used). The discount is
//     percent × (charge(q) − charge(min(q, above))), charge being the sum of the metric's priced
//     lines, never below zero (volume tiers are not monotone).
//   · without a metric: `above` is an amount of the plan currency; the discount is percent × the
//     part of the total usage charge (after per-metric discounts) above that amount.
// - The flat fee and the minimum commitment are per billing period and prorated by time; they are
//   not usage, so marginalRevenue never attributes them to events (see periodCharges).

import type { Amount, PlanComponent, Tier as PlanTier } from "../contracts/catalog";
import {
  divRound,
  formatMoney,
  formatQuantity,
  formatScaled,
  MICROS_PER_UNIT,
  maxBig,
  minBig,
  parseScaled,
  roundNanos,
} from "./money";

// ---------------------------------------------------------------------------------------------
// Plan definitions (plain data, validated by the API with zod, then by validatePlan)

// The component definitions are the API's wire contract (contracts/catalog.ts): one definition
// for the routes, the dashboard and this engine.
export type { Amount, PlanComponent, PlanTier };

export interface PlanDefinition {
  id: string;
  currency: string;
  interval: "month" | "year";
  trial_days?: number;
  components: PlanComponent[];
}

export interface PlanIssue {
  /** Dotted path into the plan, e.g. `components.2.tiers.1.up_to`. */
  path: string;
  message: string;
}

export class PlanError extends Error {
  readonly issues: PlanIssue[];
  constructor(issues: PlanIssue[]) {
    super(`invalid plan: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`);
    this.name = "PlanError";
    this.issues = issues;
  }
}

// ---------------------------------------------------------------------------------------------
// Compiled plans

const PERCENT_SCALE = 6;
/** percent (scaled by 10^PERCENT_SCALE) / 100 */
const PERCENT_DENOMINATOR = 100n * 10n ** BigInt(PERCENT_SCALE);
const MAX_PERCENT = 100n * 10n ** BigInt(PERCENT_SCALE);
/** The largest price, fee or minimum a plan may name (in nanos): $100 M. A plan has at most one
 * flat fee and one minimum, so a subscription's fees over a 90-day window stay far inside the
 * 64-bit nanos every per-customer total is stored in (domain/limits.ts). */
export const MAX_PLAN_AMOUNT = 100_000_000n * 1_000_000_000n;
/** The largest quantity a plan may name (tier bounds, included quotas, package sizes), in
 * micros: 10^15 units. */
export const MAX_PLAN_QUANTITY = 1_000_000_000_000_000n * 1_000_000n;

export interface CompiledTier {
  /** Exclusive lower bound, billable micros (previous tier's up_to, 0 for the first). */
  from: bigint;
  /** Inclusive upper bound, billable micros; null when open. */
  upTo: bigint | null;
  unitPrice: bigint;
  flatFee: bigint;
}

export type PricedComponent =
  | { index: number; type: "per_unit"; unitPrice: bigint }
  | { index: number; type: "tiered"; mode: "graduated" | "volume"; tiers: CompiledTier[] }
  | { index: number; type: "package"; size: bigint; price: bigint };

export interface CompiledMetric {
  readonly metric: string;
  readonly priced: readonly PricedComponent[];
  readonly included: bigint;
  readonly includedIndex: number | null;
  readonly discount: {
    index: number;
    above: bigint;
    percent: bigint;
    /** Priced charge at `above` metered units, precomputed. */
    chargeAtAbove: bigint;
  } | null;
  /** One-entry memo of metricCharge (quantity → charge) for marginalRevenue's hot path: the
   * "after" of one event is the "before" of the next. A pure cache, safe to share. */
  memoQuantity: bigint;
  memoCharge: bigint;
}

export interface CompiledPlan {
  readonly id: string;
  readonly currency: string;
  readonly interval: "month" | "year";
  readonly trialDays: number;
  /** Decimal places of the currency's minor unit (2 for USD, 0 for JPY): invoice totals. */
  readonly minorUnits: number;
  readonly flat: { index: number; amount: bigint } | null;
  readonly minimum: { index: number; amount: bigint } | null;
  /** Priced metrics, in the order they first appear in the plan. */
  readonly metricList: readonly CompiledMetric[];
  readonly metrics: ReadonlyMap<string, CompiledMetric>;
  readonly totalDiscount: { index: number; above: bigint; percent: bigint } | null;
}

export type ChargeLineType = PlanComponent["type"] | "coupon" | "rounding";

export interface ChargeLine {
  /** Index into plan.components; null for coupons and rounding. */
  component_index: number | null;
  type: ChargeLineType;
  metric?: string;
  /** Micros. Billable units for priced lines; units covered by the quota for `included`; units
   * beyond `above` for a metric discount; share of the period for flat/minimum (1_000_000 =
   * the whole period); 0 otherwise. */
  quantity: bigint;
  /** Nanos; negative for discounts and coupons. */
  amount: bigint;
  description: string;
}

/** Lists every problem in a plan (empty when valid). Checks plan-internal consistency only. */
export function validatePlan(plan: PlanDefinition): PlanIssue[] {
  return analyze(plan).issues;
}

/** Parses and checks a plan once; throws PlanError listing every issue. `stored`: a plan saved
 * before the amount bounds existed still compiles (what it would rate past Aforo's limits is
 * refused event by event, domain/limits.ts), so it never stops a customer's ingest. */
export function compilePlan(plan: PlanDefinition, o: { stored?: boolean } = {}): CompiledPlan {
  const { issues, compiled } = analyze(plan, !o.stored);
  if (compiled === null) throw new PlanError(issues);
  return compiled;
}

interface MetricDraft {
  priced: PricedComponent[];
  included: { index: number; quantity: bigint } | null;
  discount: { index: number; above: bigint; percent: bigint } | null;
}

function analyze(
  plan: PlanDefinition,
  /** false for plans already stored: no upper bounds. */
  checkBounds = true,
): { issues: PlanIssue[]; compiled: CompiledPlan | null } {
  const issues: PlanIssue[] = [];
  const issue = (path: string, message: string) => {
    issues.push({ path, message });
  };
  const parse = (
    value: unknown,
    path: string,
    scale: number,
    what: string,
    max: bigint,
  ): bigint | null => {
    if (typeof value !== "string" && typeof value !== "number") {
      issue(path, `${what} must be a decimal string or number`);
      return null;
    }
    let parsed: bigint;
    try {
      parsed = parseScaled(value, scale);
    } catch {
      const shown = String(value).length > 40 ? `${String(value).slice(0, 40)}…` : value;
      issue(path, `${what} must be a decimal with at most ${scale} decimal places (got ${shown})`);
      return null;
    }
    if (parsed < 0n) {
      issue(path, `${what} must not be negative`);
      return null;
    }
    if (checkBounds && parsed > max) {
      issue(path, `${what} must be between 0 and ${formatScaled(max, scale)}`);
      return null;
    }
    return parsed;
  };
  const money = (v: unknown, path: string) => parse(v, path, 9, "amount", MAX_PLAN_AMOUNT);
  const quantity = (v: unknown, path: string) => parse(v, path, 6, "quantity", MAX_PLAN_QUANTITY);
  const percent = (v: unknown, path: string) =>
    parse(v, path, PERCENT_SCALE, "percent", MAX_PERCENT);

  if (typeof plan.id !== "string" || plan.id === "") issue("id", "id is required");
  if (typeof plan.currency !== "string" || !/^[A-Z]{3}$/.test(plan.currency)) {
    issue("currency", "currency must be an ISO 4217 code such as USD");
  }
  if (plan.interval !== "month" && plan.interval !== "year") {
    issue("interval", 'interval must be "month" or "year"');
  }
  const trialDays = plan.trial_days ?? 0;
  if (!Number.isSafeInteger(trialDays) || trialDays < 0) {
    issue("trial_days", "trial_days must be a non-negative integer");
  }
  if (!Array.isArray(plan.components)) {
    issue("components", "components must be a list");
    return { issues, compiled: null };
  }

  let flat: CompiledPlan["flat"] = null;
  let minimum: CompiledPlan["minimum"] = null;
  let totalDiscount: CompiledPlan["totalDiscount"] = null;
  const drafts = new Map<string, MetricDraft>();
  const draftFor = (metric: string): MetricDraft => {
    let d = drafts.get(metric);
    if (d === undefined) {
      d = { priced: [], included: null, discount: null };
      drafts.set(metric, d);
    }
    return d;
  };
  // included/discount components are checked against priced metrics after the loop.
  const modifiers: { index: number; metric: string; kind: "included" | "discount" }[] = [];

  plan.components.forEach((component, i) => {
    const p = `components.${i}`;
    if (typeof component !== "object" || component === null) {
      issue(p, "component must be an object");
      return;
    }
    const metricOf = (c: { metric?: unknown }): string | null => {
      if (typeof c.metric === "string" && c.metric !== "") return c.metric;
      issue(`${p}.metric`, "metric is required");
      return null;
    };
    switch (component.type) {
      case "flat":
      case "minimum": {
        const amount = money(component.amount, `${p}.amount`);
        const existing = component.type === "flat" ? flat : minimum;
        if (existing !== null) {
          const what = component.type === "flat" ? "flat fee" : "minimum commitment";
          issue(p, `more than one ${what} (first at components.${existing.index})`);
        } else if (amount !== null) {
          if (component.type === "flat") flat = { index: i, amount };
          else minimum = { index: i, amount };
        }
        return;
      }
      case "per_unit": {
        const metric = metricOf(component);
        const unitPrice = money(component.unit_price, `${p}.unit_price`);
        if (metric !== null && unitPrice !== null) {
          draftFor(metric).priced.push({ index: i, type: "per_unit", unitPrice });
        }
        return;
      }
      case "package": {
        const metric = metricOf(component);
        const size = quantity(component.size, `${p}.size`);
        const price = money(component.price, `${p}.price`);
        if (size === 0n) issue(`${p}.size`, "package size must be greater than 0");
        if (metric !== null && size !== null && size > 0n && price !== null) {
          draftFor(metric).priced.push({ index: i, type: "package", size, price });
        }
        return;
      }
      case "tiered": {
        const metric = metricOf(component);
        if (component.mode !== "graduated" && component.mode !== "volume") {
          issue(`${p}.mode`, 'mode must be "graduated" or "volume"');
        }
        const tiers = compileTiers(component.tiers, `${p}.tiers`, issue, money, quantity);
        if (metric !== null && tiers !== null) {
          draftFor(metric).priced.push({ index: i, type: "tiered", mode: component.mode, tiers });
        }
        return;
      }
      case "included": {
        const metric = metricOf(component);
        const q = quantity(component.quantity, `${p}.quantity`);
        if (metric === null || q === null) return;
        modifiers.push({ index: i, metric, kind: "included" });
        const d = draftFor(metric);
        if (d.included !== null) {
          issue(
            p,
            `more than one included quota for ${metric} (first at components.${d.included.index})`,
          );
        } else d.included = { index: i, quantity: q };
        return;
      }
      case "discount": {
        const pct = percent(component.percent, `${p}.percent`);
        if (component.metric === undefined) {
          const above = money(component.above, `${p}.above`);
          if (totalDiscount !== null) {
            issue(
              p,
              `more than one plan-wide discount (first at components.${totalDiscount.index})`,
            );
          } else if (above !== null && pct !== null) {
            totalDiscount = { index: i, above, percent: pct };
          }
          return;
        }
        const metric = metricOf(component);
        const above = quantity(component.above, `${p}.above`);
        if (metric === null || above === null || pct === null) return;
        modifiers.push({ index: i, metric, kind: "discount" });
        const d = draftFor(metric);
        if (d.discount !== null) {
          issue(p, `more than one discount on ${metric} (first at components.${d.discount.index})`);
        } else d.discount = { index: i, above, percent: pct };
        return;
      }
      default:
        issue(
          `${p}.type`,
          `unknown component type: ${String((component as { type: unknown }).type)}`,
        );
    }
  });

  for (const m of modifiers) {
    if ((drafts.get(m.metric)?.priced.length ?? 0) > 0) continue;
    const what = m.kind === "included" ? "included quota" : "discount";
    issue(
      `components.${m.index}.metric`,
      `${what} on a metric the plan does not price (${m.metric})`,
    );
  }
  if (issues.length > 0) return { issues, compiled: null };

  const metricList: CompiledMetric[] = [...drafts.entries()]
    .filter(([, d]) => d.priced.length > 0)
    .sort(([, a], [, b]) => (a.priced[0]?.index ?? 0) - (b.priced[0]?.index ?? 0))
    .map(([metric, d]) => {
      const m: CompiledMetric = {
        metric,
        priced: d.priced,
        included: d.included?.quantity ?? 0n,
        includedIndex: d.included?.index ?? null,
        discount: null,
        memoQuantity: 0n, // nothing is charged for zero usage
        memoCharge: 0n,
      };
      const discount = d.discount && {
        ...d.discount,
        chargeAtAbove: pricedCharge(m, d.discount.above),
      };
      return { ...m, discount };
    });
  return {
    issues,
    compiled: {
      id: plan.id,
      currency: plan.currency,
      interval: plan.interval,
      trialDays,
      minorUnits: minorUnitsOf(plan.currency),
      flat,
      minimum,
      metricList,
      metrics: new Map(metricList.map((m) => [m.metric, m])),
      totalDiscount,
    },
  };
}

function compileTiers(
  tiers: unknown,
  path: string,
  issue: (path: string, message: string) => void,
  money: (v: unknown, path: string) => bigint | null,
  quantity: (v: unknown, path: string) => bigint | null,
): CompiledTier[] | null {
  if (!Array.isArray(tiers) || tiers.length === 0) {
    issue(path, "at least one tier is required");
    return null;
  }
  const out: CompiledTier[] = [];
  let ok = true;
  let from = 0n; // the last valid bound, so every tier is checked against its predecessor
  tiers.forEach((tier: PlanTier, j) => {
    const tp = `${path}.${j}`;
    if (typeof tier !== "object" || tier === null) {
      issue(tp, "tier must be an object");
      ok = false;
      return;
    }
    const last = j === tiers.length - 1;
    const unitPrice = money(tier.unit_price, `${tp}.unit_price`);
    const flatFee = tier.flat_fee === undefined ? 0n : money(tier.flat_fee, `${tp}.flat_fee`);
    let upTo: bigint | null = null;
    if (tier.up_to === null) {
      if (!last) {
        issue(`${tp}.up_to`, "only the last tier can be open (up_to: null)");
        ok = false;
      }
    } else {
      upTo = quantity(tier.up_to, `${tp}.up_to`);
      if (last) {
        issue(`${tp}.up_to`, "the last tier must be open (up_to: null)");
        ok = false;
      } else if (upTo === null) {
        ok = false;
      } else if (upTo <= from) {
        const message =
          j === 0
            ? "up_to must be greater than 0"
            : `up_to must be greater than the previous tier's (${formatQuantity(from)}): tiers overlap`;
        issue(`${tp}.up_to`, message);
        ok = false;
      }
    }
    if (ok && unitPrice !== null && flatFee !== null) {
      out.push({ from, upTo, unitPrice, flatFee });
    } else ok = false;
    if (upTo !== null && upTo > from) from = upTo;
  });
  return ok ? out : null;
}

/** Minor-unit decimals of an ISO 4217 currency (Intl knows them); 2 when unknown. */
function minorUnitsOf(currency: string): number {
  try {
    const digits = new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions()
      .maximumFractionDigits;
    return digits !== undefined && digits >= 0 && digits <= 9 ? digits : 2;
  } catch {
    return 2;
  }
}

// ---------------------------------------------------------------------------------------------
// Usage charges

/** One priced component's charge for `billable` micros, rounded once to nanos. */
function componentCharge(c: PricedComponent, billable: bigint): bigint {
  if (billable <= 0n) return 0n;
  switch (c.type) {
    case "per_unit":
      return divRound(billable * c.unitPrice, MICROS_PER_UNIT);
    case "package":
      return ((billable + c.size - 1n) / c.size) * c.price;
    case "tiered": {
      // Accumulate in nanos × micros and round once at the end of the line.
      let scaled = 0n;
      if (c.mode === "graduated") {
        for (const t of c.tiers) {
          if (billable <= t.from) break;
          const top = t.upTo === null || billable < t.upTo ? billable : t.upTo;
          scaled += (top - t.from) * t.unitPrice + t.flatFee * MICROS_PER_UNIT;
        }
      } else {
        const t = volumeTier(c.tiers, billable);
        scaled = billable * t.unitPrice + t.flatFee * MICROS_PER_UNIT;
      }
      return divRound(scaled, MICROS_PER_UNIT);
    }
  }
}

function volumeTier(tiers: readonly CompiledTier[], billable: bigint): CompiledTier {
  for (const t of tiers) if (t.upTo === null || billable <= t.upTo) return t;
  return tiers[tiers.length - 1] as CompiledTier; // unreachable: the last tier is open
}

function billableOf(m: CompiledMetric, metered: bigint): bigint {
  return metered > m.included ? metered - m.included : 0n;
}

/** Sum of a metric's priced lines at `metered` units (before its volume discount). */
function pricedCharge(m: CompiledMetric, metered: bigint): bigint {
  const billable = billableOf(m, metered);
  let total = 0n;
  for (const c of m.priced) total += componentCharge(c, billable);
  return total;
}

function metricDiscount(m: CompiledMetric, metered: bigint, priced: bigint): bigint {
  const d = m.discount;
  if (d === null || metered <= d.above || priced <= d.chargeAtAbove) return 0n;
  return divRound((priced - d.chargeAtAbove) * d.percent, PERCENT_DENOMINATOR);
}

/** A metric's charge after its own volume discount. */
function metricCharge(m: CompiledMetric, metered: bigint): bigint {
  const priced = pricedCharge(m, metered);
  return priced - metricDiscount(m, metered, priced);
}

function memoMetricCharge(m: CompiledMetric, metered: bigint): bigint {
  if (m.memoQuantity !== metered) {
    m.memoCharge = metricCharge(m, metered);
    m.memoQuantity = metered;
  }
  return m.memoCharge;
}

function totalDiscountOf(plan: CompiledPlan, usageTotal: bigint): bigint {
  const d = plan.totalDiscount;
  if (d === null || usageTotal <= d.above) return 0n;
  return divRound((usageTotal - d.above) * d.percent, PERCENT_DENOMINATOR);
}

const pct = (percent: bigint) => `${formatScaled(percent, PERCENT_SCALE)}%`;

/** Charges for a period's usage (micros per metric; metrics the plan does not price are
 * ignored). Lines come in plan order; `total` is their sum, in nanos, not rounded to cents. */
export function usageCharges(
  plan: CompiledPlan,
  usage: ReadonlyMap<string, bigint>,
): { lines: ChargeLine[]; total: bigint } {
  const cur = plan.currency;
  const lines: ChargeLine[] = [];
  let total = 0n;
  for (const m of plan.metricList) {
    const { metric } = m;
    const metered = usage.get(metric) ?? 0n;
    const billable = billableOf(m, metered);
    if (m.includedIndex !== null) {
      const covered = minBig(maxBig(metered, 0n), m.included);
      lines.push({
        component_index: m.includedIndex,
        type: "included",
        metric,
        quantity: covered,
        amount: 0n,
        description: `${metric}: ${formatQuantity(covered)} of ${formatQuantity(m.included)} included`,
      });
    }
    let priced = 0n;
    for (const c of m.priced) {
      const amount = componentCharge(c, billable);
      priced += amount;
      lines.push({
        component_index: c.index,
        type: c.type,
        metric,
        quantity: billable,
        amount,
        description: describePriced(c, metric, billable, cur),
      });
    }
    const discount = metricDiscount(m, metered, priced);
    if (m.discount !== null && discount !== 0n) {
      lines.push({
        component_index: m.discount.index,
        type: "discount",
        metric,
        quantity: metered - m.discount.above,
        amount: -discount,
        description: `${metric}: ${pct(m.discount.percent)} volume discount above ${formatQuantity(m.discount.above)}`,
      });
    }
    total += priced - discount;
  }
  const planDiscount = totalDiscountOf(plan, total);
  if (plan.totalDiscount !== null && planDiscount !== 0n) {
    lines.push({
      component_index: plan.totalDiscount.index,
      type: "discount",
      quantity: 0n,
      amount: -planDiscount,
      description: `${pct(plan.totalDiscount.percent)} volume discount on usage above ${formatMoney(plan.totalDiscount.above)} ${cur}`,
    });
    total -= planDiscount;
  }
  lines.sort((a, b) => (a.component_index ?? 0) - (b.component_index ?? 0));
  return { lines, total };
}

function describePriced(c: PricedComponent, metric: string, billable: bigint, cur: string): string {
  const q = formatQuantity(billable);
  switch (c.type) {
    case "per_unit":
      return `${metric}: ${q} × ${formatMoney(c.unitPrice)} ${cur}`;
    case "package": {
      const packs = billable <= 0n ? 0n : (billable + c.size - 1n) / c.size;
      return `${metric}: ${packs} × package of ${formatQuantity(c.size)} at ${formatMoney(c.price)} ${cur}`;
    }
    case "tiered":
      return `${metric}: ${q}, ${c.mode} tiers`;
  }
}

/** Revenue attributable to one event of `quantityMicros` on `metric`, given the period's usage
 * before it: usageCharges(after).total − usageCharges(before).total, so events' revenues sum
 * exactly to the period's usage charge (the differences telescope). 0n for a metric the plan
 * does not price. Recomputes only the event's metric (plus the others' memoized charges when a
 * plan-wide discount makes the total matter); allocates nothing. */
export function marginalRevenue(
  plan: CompiledPlan,
  usageBefore: ReadonlyMap<string, bigint>,
  metric: string,
  quantityMicros: bigint,
): bigint {
  const m = plan.metrics.get(metric);
  if (m === undefined || quantityMicros === 0n) return 0n;
  const metered = usageBefore.get(metric) ?? 0n;
  const before = memoMetricCharge(m, metered);
  const after = memoMetricCharge(m, metered + quantityMicros); // next event's "before"
  if (plan.totalDiscount === null) return after - before;
  let others = 0n;
  for (const o of plan.metricList) {
    if (o !== m) others += memoMetricCharge(o, usageBefore.get(o.metric) ?? 0n);
  }
  const totalBefore = others + before;
  const totalAfter = others + after;
  return (
    totalAfter -
    totalDiscountOf(plan, totalAfter) -
    (totalBefore - totalDiscountOf(plan, totalBefore))
  );
}

// ---------------------------------------------------------------------------------------------
// Period invoices
//
// Rules for periodCharges:
// - Billable share of the period = |[max(activeFrom, trialEnd, periodStart),
//   min(activeTo, periodEnd))| ÷ (periodEnd − periodStart), in exact bigint milliseconds. The flat
//   fee and the minimum commitment are multiplied by it with a single rounding to nanos.
//   activeTo may be Infinity (open-ended subscription); trialEnd null/undefined means no trial.
// - `usage` is the period's billable usage: the caller leaves out usage during a trial (free).
//   When the billable share is zero (period wholly in a trial, or outside the subscription), no
//   usage is charged at all and the invoice totals 0 (only a zero-amount flat line remains).
// - Usage lines as in usageCharges, volume discounts included.
// - Minimum commitment: top-up = max(0, prorated minimum − (flat + usage after volume discounts)).
// - Coupons last, in order, on the running total: a coupon's percent_off first, then its
//   amount_off; the running total never goes below zero. One negative line per coupon.
// - total = running total rounded half-even to the currency's minor unit (cents for USD); a
//   `rounding` line carries the difference, so the lines always sum to total, and
//   subtotal + minimum_topup + discount_total + rounding = total.

export interface Coupon {
  percent_off?: Amount;
  amount_off?: Amount;
  description?: string;
}

export interface PeriodInput {
  usage: ReadonlyMap<string, bigint>;
  periodStart: number;
  periodEnd: number;
  activeFrom: number;
  activeTo: number;
  trialEnd?: number | null;
  coupons?: Coupon[];
}

export interface PeriodCharges {
  lines: ChargeLine[];
  /** Flat (prorated) + usage charges after volume discounts. */
  subtotal: bigint;
  minimum_topup: bigint;
  /** Coupons, ≤ 0. */
  discount_total: bigint;
  /** total − (subtotal + minimum_topup + discount_total), from rounding to the minor unit. */
  rounding: bigint;
  /** Rounded to the currency's minor unit. */
  total: bigint;
  /** Billable share of the period, micros (1_000_000 = the whole period). */
  billable_share: bigint;
}

export function periodCharges(plan: CompiledPlan, input: PeriodInput): PeriodCharges {
  const { periodStart, periodEnd } = input;
  if (!Number.isSafeInteger(periodStart) || !Number.isSafeInteger(periodEnd)) {
    throw new RangeError("periodStart and periodEnd must be integer epoch ms");
  }
  if (periodEnd <= periodStart) throw new RangeError("periodEnd must be after periodStart");
  for (const [name, v] of [
    ["activeFrom", input.activeFrom],
    ["activeTo", input.activeTo],
  ] as const) {
    if (Number.isNaN(v) || (Number.isFinite(v) && !Number.isSafeInteger(v))) {
      throw new RangeError(`${name} must be integer epoch ms or ±Infinity`);
    }
  }
  const trialEnd = input.trialEnd ?? Number.NEGATIVE_INFINITY;
  const from = Math.max(input.activeFrom, trialEnd, periodStart);
  const to = Math.min(input.activeTo, periodEnd);
  const periodMs = BigInt(periodEnd - periodStart);
  const billableMs = to > from ? BigInt(to - from) : 0n;
  const prorate = (amount: bigint) => divRound(amount * billableMs, periodMs);
  const share = divRound(billableMs * MICROS_PER_UNIT, periodMs);
  const cur = plan.currency;

  const lines: ChargeLine[] = [];
  let subtotal = 0n;
  if (plan.flat !== null) {
    const amount = prorate(plan.flat.amount);
    const note =
      billableMs === periodMs ? "" : `, prorated to ${formatScaled(share, 4)}% of the period`;
    lines.push({
      component_index: plan.flat.index,
      type: "flat",
      quantity: share,
      amount,
      description: `Flat fee ${formatMoney(plan.flat.amount)} ${cur}${note}`,
    });
    subtotal += amount;
  }
  if (billableMs > 0n) {
    const usage = usageCharges(plan, input.usage);
    lines.push(...usage.lines);
    subtotal += usage.total;
  }
  let minimumTopup = 0n;
  if (plan.minimum !== null && billableMs > 0n) {
    const prorated = prorate(plan.minimum.amount);
    if (prorated > subtotal) {
      minimumTopup = prorated - subtotal;
      lines.push({
        component_index: plan.minimum.index,
        type: "minimum",
        quantity: share,
        amount: minimumTopup,
        description: `Minimum commitment top-up to ${formatMoney(prorated)} ${cur}`,
      });
    }
  }
  lines.sort((a, b) => (a.component_index ?? 0) - (b.component_index ?? 0));

  let running = subtotal + minimumTopup;
  let discountTotal = 0n;
  (input.coupons ?? []).forEach((coupon, i) => {
    const path = `coupons.${i}`;
    const percentOff = parseCoupon(coupon.percent_off, `${path}.percent_off`, PERCENT_SCALE);
    if (percentOff > MAX_PERCENT) {
      throw new PlanError([{ path: `${path}.percent_off`, message: "must be between 0 and 100" }]);
    }
    const amountOff = parseCoupon(coupon.amount_off, `${path}.amount_off`, 9);
    const byPercent = divRound(running * percentOff, PERCENT_DENOMINATOR);
    const afterPercent = running - minBig(byPercent, running);
    const afterAmount = afterPercent - minBig(amountOff, afterPercent);
    const off = running - afterAmount;
    running = afterAmount;
    discountTotal -= off;
    const parts = [
      coupon.percent_off !== undefined ? `${pct(percentOff)} off` : "",
      coupon.amount_off !== undefined ? `${formatMoney(amountOff)} ${cur} off` : "",
    ].filter(Boolean);
    lines.push({
      component_index: null,
      type: "coupon",
      quantity: 0n,
      amount: -off,
      description: coupon.description ?? `Coupon: ${parts.join(", then ")}`,
    });
  });

  const total = roundNanos(running, plan.minorUnits);
  const rounding = total - running;
  if (rounding !== 0n) {
    lines.push({
      component_index: null,
      type: "rounding",
      quantity: 0n,
      amount: rounding,
      description: `Rounding to ${plan.minorUnits} decimal places`,
    });
  }
  return {
    lines,
    subtotal,
    minimum_topup: minimumTopup,
    discount_total: discountTotal,
    rounding,
    total,
    billable_share: share,
  };
}

function parseCoupon(value: Amount | undefined, path: string, scale: number): bigint {
  if (value === undefined) return 0n;
  let parsed: bigint;
  try {
    parsed = parseScaled(value, scale);
  } catch {
    throw new PlanError([{ path, message: `must be a decimal with at most ${scale} places` }]);
  }
  if (parsed < 0n) throw new PlanError([{ path, message: "must not be negative" }]);
  return parsed;
}

/** End of the plan's trial for a subscription starting at `activeFrom` (null without a trial). */
export function trialEndFor(plan: CompiledPlan, activeFrom: number): number | null {
  return plan.trialDays > 0 ? activeFrom + plan.trialDays * 86_400_000 : null;
}
