// The storefront's Plan Comparator (issue 19 §3): three questions — team size, expected usage,
// integration depth — become one month of usage, priced on every published plan by the pricing
// engine itself (periodCharges, the function POST /api/pricing/preview runs), and the
// recommendation is the cheapest plan that fits. Every number here is Aforo's, exact (bigint
// nanos and micros); a model may only word the result (workers/storefront/compare.ts).
//
// Rules (docs/storefront.md "Public storefront and Plan Comparator"):
// - Usage: either a quantity per metric for the team's month, or a level (light, moderate,
//   heavy) read from USAGE_LEVELS — a quantity per team member per month for the metrics that
//   table knows, times the team size, times the depth's factor (DEPTH_FACTOR: evaluating uses a
//   tenth of a production month, mission-critical is priced at twice it for peaks). A level
//   names nothing for a metric the table lacks: give quantities for those.
// - Team size is also the quantity of the `seats` metric, for plans that price one.
// - Fits: a plan fits when it prices every metric the scenario uses (seats aside: a plan that does
//   not charge per seat takes any team) and is in the storefront's currency. Plans state no seat
//   caps, quotas that stop usage or features, so nothing else can rule a plan out; an included
//   quota is not a limit (usage beyond it is priced).
// - Monthly cost: a monthly plan's period total; a yearly plan's total for twelve such months
//   divided by 12, rounded half-even to the currency's minor unit.
// - Recommendation: the fitting plan with the lowest monthly cost; a tie goes to the longer free
//   trial, then to the plan listed first. None fits: no recommendation, and the reason says which
//   metric no plan prices or why each plan is out.

import { divRound, MICROS_PER_UNIT, roundNanos } from "../money";
import {
  type ChargeLine,
  type CompiledPlan,
  compilePlan,
  type PlanComponent,
  periodCharges,
} from "../pricing";
import { DAY_MS } from "../time";
import { moneyInWords, plural, quantityInWords } from "./words";

export type IntegrationDepth = "evaluate" | "production" | "mission_critical";
export type UsageLevel = "light" | "moderate" | "heavy";

export const INTEGRATION_DEPTHS = ["evaluate", "production", "mission_critical"] as const;
export const USAGE_LEVELS_NAMES = ["light", "moderate", "heavy"] as const;

/** The metric that team size fills. */
export const SEAT_METRIC = "seats";

/** A month of one team member's usage per level, in units (metric ids as Aforo's catalogs name
 * them). A storefront whose plans meter something else asks for quantities instead. */
export const USAGE_LEVELS: Readonly<Record<string, Readonly<Record<UsageLevel, bigint>>>> = {
  tokens: { light: 200_000n, moderate: 1_000_000n, heavy: 5_000_000n },
  input_tokens: { light: 150_000n, moderate: 750_000n, heavy: 4_000_000n },
  output_tokens: { light: 50_000n, moderate: 250_000n, heavy: 1_000_000n },
  requests: { light: 1_000n, moderate: 10_000n, heavy: 100_000n },
  api_calls: { light: 1_000n, moderate: 10_000n, heavy: 100_000n },
  images: { light: 20n, moderate: 200n, heavy: 2_000n },
  minutes: { light: 60n, moderate: 600n, heavy: 6_000n },
};

/** How much of a level's month each depth uses, as a fraction (numerator, denominator). */
export const DEPTH_FACTOR: Readonly<Record<IntegrationDepth, readonly [bigint, bigint]>> = {
  evaluate: [1n, 10n],
  production: [1n, 1n],
  mission_critical: [2n, 1n],
};

export interface ComparatorAnswers {
  team_size: number;
  /** Quantity (micros) per metric for the team's month, or a level. */
  expected_usage: ReadonlyMap<string, bigint> | UsageLevel;
  integration_depth: IntegrationDepth;
}

export interface ComparedPlanInput {
  id: string;
  name: string;
  currency: string;
  period: "month" | "year";
  trial_days: number;
  components: readonly PlanComponent[];
}

export interface ComparedPlan {
  id: string;
  name: string;
  currency: string;
  period: "month" | "year";
  /** Nanos, rounded to the currency's minor unit. */
  monthly_total: bigint;
  /** The period's total (a year's for a yearly plan), nanos. */
  period_total: bigint;
  lines: ChargeLine[];
  fits: boolean;
  why: string;
}

export interface Comparison {
  /** The month priced: quantity (micros) per metric, seats included. */
  usage: Map<string, bigint>;
  /** Metrics of the scenario that no plan prices: no plan can fit while they are used. */
  unpriced: string[];
  /** With a level: metrics the plans price that USAGE_LEVELS has no quantity for (priced at
   * zero; give quantities to price them). */
  unestimated: string[];
  /** Currency the plans are compared in. */
  currency: string;
  plans: ComparedPlan[];
  recommendation: { plan_id: string | null; reason: string };
}

const MONTH_DAYS = 30;
const YEAR_DAYS = 365;

/** The month the answers describe, in micros per metric; a level fills the metrics the plans
 * price (`priced`) that USAGE_LEVELS knows. */
export function scenarioUsage(
  answers: ComparatorAnswers,
  priced: ReadonlySet<string>,
): Map<string, bigint> {
  const usage = new Map<string, bigint>();
  const team = BigInt(answers.team_size);
  const level = answers.expected_usage;
  if (typeof level === "string") {
    const [num, den] = DEPTH_FACTOR[answers.integration_depth];
    for (const metric of priced) {
      const perMember = USAGE_LEVELS[metric]?.[level];
      if (perMember === undefined) continue;
      usage.set(metric, divRound(perMember * MICROS_PER_UNIT * team * num, den));
    }
  } else {
    for (const [metric, micros] of level) usage.set(metric, micros);
  }
  usage.set(SEAT_METRIC, team * MICROS_PER_UNIT);
  return usage;
}

/** The currency most of the plans are in (ties: alphabetical), USD with none. */
function mainCurrency(plans: readonly ComparedPlanInput[]): string {
  const counts = new Map<string, number>();
  for (const p of plans) counts.set(p.currency, (counts.get(p.currency) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0]?.[0] ?? "USD";
}

function priceMonth(plan: CompiledPlan, usage: ReadonlyMap<string, bigint>) {
  if (plan.interval === "month") {
    const charges = periodCharges(plan, {
      usage,
      periodStart: 0,
      periodEnd: MONTH_DAYS * DAY_MS,
      activeFrom: 0,
      activeTo: MONTH_DAYS * DAY_MS,
    });
    return { monthly: charges.total, period: charges.total, lines: charges.lines };
  }
  const year = new Map([...usage].map(([m, q]) => [m, q * 12n]));
  const charges = periodCharges(plan, {
    usage: year,
    periodStart: 0,
    periodEnd: YEAR_DAYS * DAY_MS,
    activeFrom: 0,
    activeTo: YEAR_DAYS * DAY_MS,
  });
  return {
    monthly: roundNanos(divRound(charges.total, 12n), plan.minorUnits),
    period: charges.total,
    lines: charges.lines,
  };
}

const list = (items: readonly string[]) =>
  items.length <= 1
    ? (items[0] ?? "")
    : `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;

/** Each plan's projected month for the answers, and the cheapest that fits. */
export function comparePlans(
  plans: readonly ComparedPlanInput[],
  answers: ComparatorAnswers,
): Comparison {
  const compiled = plans.map((p) =>
    compilePlan(
      { id: p.id, currency: p.currency, interval: p.period, components: [...p.components] },
      { stored: true },
    ),
  );
  const priced = new Set(compiled.flatMap((c) => [...c.metrics.keys()]));
  const usage = scenarioUsage(answers, priced);
  const unestimated =
    typeof answers.expected_usage === "string"
      ? [...priced].filter((m) => m !== SEAT_METRIC && !usage.has(m))
      : [];
  const currency = mainCurrency(plans);
  const used = [...usage]
    .filter(([metric, q]) => q > 0n && metric !== SEAT_METRIC)
    .map(([metric]) => metric);
  const unpriced = used.filter((m) => !compiled.some((c) => c.metrics.has(m)));
  const compared = plans.map((p, i): ComparedPlan => {
    const plan = compiled[i] as CompiledPlan;
    const { monthly, period, lines } = priceMonth(plan, usage);
    const missing = used.filter((m) => !plan.metrics.has(m));
    const base = {
      id: p.id,
      name: p.name,
      currency: p.currency,
      period: p.period,
      monthly_total: monthly,
      period_total: period,
      lines,
    };
    if (p.currency !== currency) {
      return {
        ...base,
        fits: false,
        why: `Priced in ${p.currency}; the plans are compared in ${currency}.`,
      };
    }
    if (missing.length > 0) {
      return { ...base, fits: false, why: `Does not offer ${list(missing)}.` };
    }
    const month =
      p.period === "year"
        ? `${moneyInWords(monthly, p.currency)} a month (billed ${moneyInWords(period, p.currency)} a year)`
        : `${moneyInWords(monthly, p.currency)} a month`;
    return {
      ...base,
      fits: true,
      why: used.length === 0 ? `${month}.` : `Prices all of your usage (${list(used)}): ${month}.`,
    };
  });
  return {
    usage,
    unpriced,
    unestimated,
    currency,
    plans: compared,
    recommendation: recommend(compared, plans, unpriced),
  };
}

function recommend(
  compared: readonly ComparedPlan[],
  inputs: readonly ComparedPlanInput[],
  unpriced: readonly string[],
): Comparison["recommendation"] {
  const trialOf = new Map(inputs.map((p) => [p.id, p.trial_days]));
  const fitting = compared
    .map((p, order) => ({ p, order, trial: trialOf.get(p.id) ?? 0 }))
    .filter(({ p }) => p.fits)
    .sort((a, b) =>
      a.p.monthly_total !== b.p.monthly_total
        ? a.p.monthly_total < b.p.monthly_total
          ? -1
          : 1
        : b.trial - a.trial || a.order - b.order,
    );
  const best = fitting[0];
  if (!best) {
    const reason =
      compared.length === 0
        ? "No plan is published yet."
        : unpriced.length > 0
          ? `No published plan offers ${list(unpriced)}, so none fits this usage.`
          : `No published plan fits: ${compared.map((p) => `${p.name}: ${p.why}`).join(" ")}`;
    return { plan_id: null, reason };
  }
  const cost = moneyInWords(best.p.monthly_total, best.p.currency);
  const tied = fitting.filter((f) => f.p.monthly_total === best.p.monthly_total && f !== best);
  const next = fitting.find((f) => f.p.monthly_total > best.p.monthly_total);
  let reason = `${best.p.name} is the cheapest plan that fits: ${cost} a month`;
  if (tied.length > 0) {
    const others = list(tied.map((t) => t.p.name));
    reason +=
      best.trial > (tied[0]?.trial ?? 0)
        ? `, the same as ${others}, with the longer free trial (${best.trial} days).`
        : `, the same as ${others}; it is listed first.`;
  } else if (next) {
    const saving = moneyInWords(next.p.monthly_total - best.p.monthly_total, best.p.currency);
    reason += `, ${saving} less than ${next.p.name} (${moneyInWords(next.p.monthly_total, next.p.currency)}).`;
  } else {
    reason += fitting.length === 1 ? ", and the only one that does." : ".";
  }
  return { plan_id: best.p.id, reason };
}

/** The usage priced, in words: "1,000,000 tokens and 5 seats". */
export function usageInWords(usage: ReadonlyMap<string, bigint>, unitOf: (m: string) => string) {
  const parts = [...usage]
    .filter(([, q]) => q > 0n)
    .map(
      ([m, q]) => `${quantityInWords(q)} ${q === MICROS_PER_UNIT ? unitOf(m) : plural(unitOf(m))}`,
    );
  return list(parts);
}

/** The comparison as one paragraph from templates (no model): what was priced, each plan's
 * month, and the recommendation. */
export function templateNarrative(c: Comparison, unitOf: (m: string) => string): string {
  const costs = c.plans
    .map((p) =>
      p.fits ? `${p.name} ${moneyInWords(p.monthly_total, p.currency)}` : `${p.name} does not fit`,
    )
    .join(", ");
  const priced = usageInWords(c.usage, unitOf);
  return `For ${priced} a month: ${costs}. ${c.recommendation.reason}`;
}
