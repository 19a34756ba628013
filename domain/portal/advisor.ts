// The customer portal's Usage Advisor (issue 19 §7, docs/portal.md "Usage Advisor"): from this
// period's usage so far, the month-end projection (the QuotaPacingProjectionService's linear
// method, said in words), then one verdict:
//   stay      every metric's projection is within the plan's included quantity;
//   upgrade   some metric goes over, and another plan of the product would cost less for the
//             projected usage: the overshoot in percent and every alternative's cost;
//   optimize  it goes over and no other plan costs less: the three endpoints or models the
//             customer has spent the most on this period (from their events' properties).
// Every figure is computed here, exactly (bigint micro-units and nanos, the pricing engine's own
// periodCharges for each plan's cost); the words are a template, or the model's wording of these
// figures that the caller checks against them.

import { projectLinear } from "../detectors/quota-pacing";
import { formatMoney, formatQuantity, toMicros } from "../money";
import { compilePlan, type PlanComponent, periodCharges } from "../pricing";
import { moneyInWords, plural, quantityInWords } from "../storefront/words";
import { DAY_MS } from "../time";

export interface AdvisorPlan {
  id: string;
  name: string;
  currency: string;
  period: "month" | "year";
  components: readonly PlanComponent[];
}

/** What the customer spent on one endpoint or model this period (nanos of the plan's currency). */
export interface SpendItem {
  kind: "endpoint" | "model";
  name: string;
  amount: bigint;
}

export interface AdvisorInput {
  plan: AdvisorPlan;
  /** The product's other subscribable plans; only those in the plan's currency and period are
   * compared (the same period priced the same way). */
  alternatives: readonly AdvisorPlan[];
  period: { start: number; end: number };
  now: number;
  /** Period-to-date usage per metric, micro-units. */
  usage: ReadonlyMap<string, bigint>;
  unitOf: (metric: string) => string;
  spend: readonly SpendItem[];
}

export interface MetricProjection {
  metric: string;
  unit: string;
  used: bigint;
  projected: bigint;
  included: bigint | null;
  /** (projected − included) ÷ included in percent, two decimals rounded down; ≤ 0 within. */
  overshoot_percent: number | null;
}

export interface PricedPlan {
  plan_id: string;
  name: string;
  /** The period's total for the projected usage, nanos. */
  cost: bigint;
}

export interface Advice {
  verdict: "stay" | "upgrade" | "optimize";
  method: string;
  projections: MetricProjection[];
  current: PricedPlan;
  /** Every compared plan, cheapest first (with upgrade and optimize; empty with stay). */
  alternatives: PricedPlan[];
  /** The cheapest alternative that costs less than the current plan (upgrade only). */
  recommended: PricedPlan | null;
  /** The three largest spends (optimize only). */
  top_spend: SpendItem[];
  /** The largest overshoot over all metrics, or null when no metric has an included quantity. */
  overshoot_percent: number | null;
  /** The verdict in words (the method is its own field, shown beside it). */
  template: string;
}

/**
 * The linear run-rate projection to period end (projectLinear), never below the usage so far.
 * An estimate, so shown in whole units from 100 units up and to the hundredth below.
 */
export function projectToPeriodEnd(
  used: bigint,
  period: { start: number; end: number },
  now: number,
): bigint {
  const micros = projectLinear(Number(used), period, now);
  const step = micros >= 100 * 1e6 ? 1_000_000 : 10_000;
  const projected = BigInt(Math.round(micros / step)) * BigInt(step);
  return projected > used ? projected : used;
}

/** The projection's method in words, with the figures it used. */
export function projectionMethod(
  used: bigint,
  unit: string,
  period: { start: number; end: number },
  now: number,
): string {
  const elapsed = (
    Math.min(Math.max(now - period.start, 0), period.end - period.start) / DAY_MS
  ).toFixed(1);
  const days = ((period.end - period.start) / DAY_MS).toFixed(1);
  const d = (n: string) => `${n} day${n === "1.0" ? "" : "s"}`;
  return `At this period's pace so far: ${quantityInWords(used)} ${plural(unit)} in ${d(elapsed)}, carried on over the period's ${d(days)} (linear run rate).`;
}

/** `part` over `whole` in percent, two decimals, rounded toward zero. */
const percentOver = (projected: bigint, included: bigint) =>
  Number(((projected - included) * 10_000n) / included) / 100;

function cost(
  plan: AdvisorPlan,
  usage: ReadonlyMap<string, bigint>,
  period: AdvisorInput["period"],
) {
  const compiled = compilePlan(
    {
      id: plan.id,
      currency: plan.currency,
      interval: plan.period,
      components: [...plan.components],
    },
    { stored: true },
  );
  return periodCharges(compiled, {
    usage,
    periodStart: period.start,
    periodEnd: period.end,
    activeFrom: period.start,
    activeTo: period.end,
  }).total;
}

const list = (items: readonly string[]) =>
  items.length <= 1
    ? (items[0] ?? "")
    : `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;

export function advise(input: AdvisorInput): Advice {
  const { plan, period, now } = input;
  const included = new Map<string, bigint>();
  for (const c of plan.components) {
    if (c.type === "included") {
      included.set(c.metric, (included.get(c.metric) ?? 0n) + toMicros(c.quantity));
    }
  }
  const metrics = [...new Set([...included.keys(), ...input.usage.keys()])].sort();
  const projections: MetricProjection[] = metrics.map((metric) => {
    const used = input.usage.get(metric) ?? 0n;
    const projected = projectToPeriodEnd(used, period, now);
    const inc = included.get(metric) ?? null;
    return {
      metric,
      unit: input.unitOf(metric),
      used,
      projected,
      included: inc,
      overshoot_percent: inc === null || inc <= 0n ? null : percentOver(projected, inc),
    };
  });
  const overshoots = projections.flatMap((p) =>
    p.overshoot_percent === null ? [] : [p.overshoot_percent],
  );
  const overshoot = overshoots.length === 0 ? null : Math.max(...overshoots);
  const projectedUsage = new Map(projections.map((p) => [p.metric, p.projected]));
  const current: PricedPlan = {
    plan_id: plan.id,
    name: plan.name,
    cost: cost(plan, projectedUsage, period),
  };
  const money = (n: bigint) => moneyInWords(n, plan.currency);
  // The metric that goes over the most: the one the words are about.
  const worst = projections
    .filter((p) => p.overshoot_percent !== null)
    .sort((a, b) => (b.overshoot_percent ?? 0) - (a.overshoot_percent ?? 0))[0];
  const methodUsage = worst ?? projections[0];
  const method = methodUsage
    ? projectionMethod(methodUsage.used, methodUsage.unit, period, now)
    : "No usage this period yet.";
  const base = {
    method,
    projections,
    current,
    overshoot_percent: overshoot,
  };

  if (overshoot === null || overshoot <= 0 || !worst || worst.included === null) {
    const fits = projections
      .filter((p) => p.included !== null)
      .map(
        (p) =>
          `${quantityInWords(p.projected)} of your ${quantityInWords(p.included ?? 0n)} included ${plural(p.unit)}`,
      );
    return {
      ...base,
      verdict: "stay",
      alternatives: [],
      recommended: null,
      top_spend: [],
      template: `${fits.length > 0 ? `By the end of the period you would use ${list(fits)}: your` : "Your"} ${plan.name} plan fits, at ${money(current.cost)} for the period. Stay on it.`,
    };
  }

  const alternatives = input.alternatives
    .filter((a) => a.id !== plan.id && a.currency === plan.currency && a.period === plan.period)
    .map((a) => ({ plan_id: a.id, name: a.name, cost: cost(a, projectedUsage, period) }))
    .sort((a, b) => (a.cost < b.cost ? -1 : a.cost > b.cost ? 1 : a.name.localeCompare(b.name)));
  const cheaper = alternatives.find((a) => a.cost < current.cost) ?? null;
  const over = `By the end of the period you would use ${quantityInWords(worst.projected)} ${plural(worst.unit)}, ${worst.overshoot_percent?.toFixed(2)} % over the ${quantityInWords(worst.included)} your ${plan.name} plan includes, so the period would cost ${money(current.cost)}.`;
  const others = alternatives.map((a) => `${a.name} ${money(a.cost)}`);

  if (cheaper) {
    return {
      ...base,
      verdict: "upgrade",
      alternatives,
      recommended: cheaper,
      top_spend: [],
      template: `${over} ${cheaper.name} would cost ${money(cheaper.cost)} for the same usage, ${money(current.cost - cheaper.cost)} less: consider moving to it. The same usage on each plan: ${list(others)}.`,
    };
  }
  const top = [...input.spend]
    .filter((s) => s.amount > 0n)
    .sort((a, b) =>
      a.amount < b.amount ? 1 : a.amount > b.amount ? -1 : a.name.localeCompare(b.name),
    )
    .slice(0, 3);
  const spendWords = top.map((s) => `${s.kind} ${s.name} (${money(s.amount)})`);
  return {
    ...base,
    verdict: "optimize",
    alternatives,
    recommended: null,
    top_spend: top,
    template: `${over} ${alternatives.length > 0 ? `No other plan costs less for that usage (${list(others)}). ` : ""}${top.length > 0 ? `Where your spend goes this period: ${list(spendWords)}; trimming those calls lowers the bill.` : "Trimming usage is what lowers the bill."}`,
  };
}

/** The advice as plain JSON (exact decimal strings), as served and as the model reads it. */
export function adviceBody(a: Advice, currency: string) {
  const priced = (p: PricedPlan) => ({
    plan_id: p.plan_id,
    name: p.name,
    cost: formatMoney(p.cost, 2),
  });
  return {
    verdict: a.verdict,
    currency,
    method: a.method,
    overshoot_percent: a.overshoot_percent,
    projections: a.projections.map((p) => ({
      metric: p.metric,
      unit: p.unit,
      used: formatQuantity(p.used),
      projected: formatQuantity(p.projected),
      included: p.included === null ? null : formatQuantity(p.included),
      overshoot_percent: p.overshoot_percent,
    })),
    current: priced(a.current),
    alternatives: a.alternatives.map(priced),
    recommended: a.recommended && priced(a.recommended),
    top_spend: a.top_spend.map((s) => ({
      kind: s.kind,
      name: s.name,
      amount: formatMoney(s.amount, 2),
    })),
  };
}
