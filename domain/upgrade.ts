import { formatMoney } from "./money";
import { type CompiledPlan, periodCharges } from "./pricing";

// Upgrade Signals (issue 15, the report template): when a customer paces past their quota, which
// of the product's plans would have cost them less for the period as projected. The comparison
// prices the pacing metric's projected period quantity, plus every plan's fixed fees and
// minimums, through the pricing engine itself (domain/pricing.ts periodCharges), so "cheaper"
// means what the invoice would say, not a rule of thumb. Other metrics are left out on both
// sides: the signal projects one metric, and charging the rest as zero keeps the comparison
// fair between plans (docs/reports.md "Upgrade Signals" says so).

export interface PlanOption {
  id: string;
  name: string;
  product_id: string;
  /** Only active plans are offered; the current plan is compared whatever its status. */
  active: boolean;
  plan: CompiledPlan;
}

/** What the projected period would cost on the current plan, and on the cheapest other plan of
 * the same product, currency and interval if that one costs less (money as decimal text). */
export interface UpgradeAdvice {
  current_plan: string;
  current_charge: string;
  cheaper_plan: string | null;
  cheaper_plan_name: string | null;
  cheaper_charge: string | null;
  /** current_charge − cheaper_charge; "0" without a cheaper plan. */
  saving: string;
}

/** Charges for `micros` of `metric` over a whole period on `plan`, in nanos. */
function projectedTotal(plan: CompiledPlan, metric: string, micros: bigint, period: Period) {
  return periodCharges(plan, {
    usage: new Map([[metric, micros]]),
    periodStart: period.start,
    periodEnd: period.end,
    activeFrom: period.start,
    activeTo: period.end,
  }).total;
}

interface Period {
  start: number;
  end: number;
}

/**
 * The advice for a customer on `current` projected to use `projectedUnits` of `metric` over
 * `period`. Candidates are the other active plans of the same product with the same currency
 * and interval (a yearly plan is not comparable with a month's projection). Ties keep the
 * current plan; among equally cheap candidates the first by id wins, so the answer is stable.
 */
export function upgradeAdvice(
  current: PlanOption,
  plans: readonly PlanOption[],
  metric: string,
  projectedUnits: number,
  period: Period,
): UpgradeAdvice {
  const micros = BigInt(Math.max(0, Math.round(projectedUnits * 1_000_000)));
  const currentTotal = projectedTotal(current.plan, metric, micros, period);
  let best: { option: PlanOption; total: bigint } | null = null;
  for (const option of [...plans].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) {
    if (option.id === current.id || !option.active) continue;
    if (option.product_id !== current.product_id) continue;
    if (option.plan.currency !== current.plan.currency) continue;
    if (option.plan.interval !== current.plan.interval) continue;
    const total = projectedTotal(option.plan, metric, micros, period);
    if (total < currentTotal && (best === null || total < best.total)) best = { option, total };
  }
  return {
    current_plan: current.id,
    current_charge: formatMoney(currentTotal),
    cheaper_plan: best?.option.id ?? null,
    cheaper_plan_name: best?.option.name ?? null,
    cheaper_charge: best ? formatMoney(best.total) : null,
    saving: formatMoney(best ? currentTotal - best.total : 0n),
  };
}
