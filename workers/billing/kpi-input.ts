import {
  type InvoiceRecord,
  type KpiInput,
  type RecurringDiscount,
  type RecurringTerms,
  recurringTermsFromPlan,
  type SubscriptionHistory,
} from "../../domain/kpi";
import { type KpiCoupon, kpiCoupons, kpiSignals, loadKpiRows } from "../../store/kpi";
import { loadTenantPlans, type TenantPlan, tolerateMissingTable } from "./plans";

// Loads the KPI engine's input (domain/kpi/types.ts KpiInput) for one tenant (store/kpi.ts): the
// subscription history, daily usage revenue from the rollups, invoices, signals (open, or
// resolved and when) and the ladder's coupons as recurring discounts. One reporting currency:
// the one most subscriptions bill in (subscriptions and invoices in another currency are left
// out and listed).

export interface LoadedKpiInput {
  input: KpiInput;
  currency: string;
  excluded_currencies: string[];
  plans: Map<string, TenantPlan>;
}

export async function loadKpiInput(db: D1Database, tenantId: string): Promise<LoadedKpiInput> {
  const [plans, rows, signals, coupons] = await Promise.all([
    loadTenantPlans(db, tenantId),
    loadKpiRows(db, tenantId),
    tolerateMissingTable(() => kpiSignals(db, tenantId)),
    tolerateMissingTable(() => kpiCoupons(db, tenantId)),
  ]);
  const subs = rows.subscriptions;

  // Reporting currency: the one most subscriptions bill in.
  const currencyOf = (planId: string) => plans.get(planId)?.plan.currency ?? "USD";
  const counts = new Map<string, number>();
  for (const s of subs) {
    const c = currencyOf(s.phases[0]?.plan_id ?? "");
    counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  const ranked = [...counts.entries()].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1));
  const currency = ranked[0]?.[0] ?? [...plans.values()][0]?.plan.currency ?? "USD";

  const couponRows: KpiCoupon[] = coupons ?? [];
  const discountsFor = (customerId: string, subId: string): RecurringDiscount[] =>
    couponRows
      .filter(
        (c) =>
          c.customer_id === customerId &&
          (c.subscription_id === null || c.subscription_id === subId),
      )
      .map((c) => ({
        ...(c.percent_off !== null ? { percent_off: c.percent_off } : {}),
        ...(c.amount_off !== null ? { amount_off: c.amount_off } : {}),
        from: c.valid_from,
        to: Math.min(
          c.valid_to ?? Number.POSITIVE_INFINITY,
          c.revoked_at ?? Number.POSITIVE_INFINITY,
        ),
      }))
      .filter((d) => (d.to as number) > (d.from as number))
      .map((d) => (Number.isFinite(d.to) ? d : { ...d, to: null }));

  const subscriptions: SubscriptionHistory[] = [];
  for (const s of subs) {
    if (currencyOf(s.phases[0]?.plan_id ?? "") !== currency) continue;
    subscriptions.push({
      subscription_id: s.subscription_id,
      customer_id: s.customer_id,
      trial_end: s.trial_end,
      phases: s.phases.map((p) => ({ plan_id: p.plan_id, start: p.start, end: p.end })),
      status_changes: rows.statusChanges.get(s.subscription_id) ?? [],
      discounts: discountsFor(s.customer_id, s.subscription_id),
    });
  }
  const terms: RecurringTerms[] = [...plans.values()]
    .filter((p) => p.plan.currency === currency)
    .map((p) => recurringTermsFromPlan(p.plan));

  const invoices: InvoiceRecord[] = [];
  for (const r of rows.invoices) {
    if (r.currency !== currency || r.issued_at === null || r.due_at === null) continue;
    invoices.push({
      id: r.id,
      customer_id: r.customer_id,
      status: r.status,
      total: r.total,
      issued_at: r.issued_at,
      due_at: r.due_at,
      paid_at: r.paid_at,
      voided_at: r.voided_at,
      ...(r.payments ? { payments: r.payments } : {}),
      ...(r.first_failed_at ? { first_failed_at: r.first_failed_at } : {}),
    });
  }

  return {
    input: {
      plans: terms,
      subscriptions,
      usage_by_customer: rows.usage,
      invoices,
      signals: signals ?? [],
    },
    currency,
    excluded_currencies: ranked.slice(1).map(([c]) => c),
    plans,
  };
}
