import {
  type CustomerDailyUsage,
  type CustomerSignal,
  type InvoiceRecord,
  type KpiInput,
  type RecurringDiscount,
  type RecurringTerms,
  recurringTermsFromPlan,
  type StatusChange,
  type SubscriptionHistory,
} from "../../domain/kpi";
import { DAY_MS } from "../../domain/kpi/time";
import { groupPhases, PHASES_ORDER, PHASES_SQL, type PhaseRow } from "../../store/subscriptions";
import { loadTenantPlans, type TenantPlan, tolerateMissingTable } from "./plans";

// Loads the KPI engine's input (domain/kpi/types.ts KpiInput) for one tenant from D1: the
// subscription history, daily usage revenue from rollups_daily, invoices, signals (open, or
// resolved and when) and the ladder's coupons as recurring discounts. One reporting currency: the one most subscriptions
// bill in (subscriptions and invoices in another currency are left out and listed).

export interface LoadedKpiInput {
  input: KpiInput;
  currency: string;
  excluded_currencies: string[];
  plans: Map<string, TenantPlan>;
}

interface CouponRow {
  customer_id: string;
  subscription_id: string | null;
  percent_off: string | null;
  amount_off: string | null;
  valid_from: number;
  valid_to: number | null;
  revoked_at: number | null;
}

/** Daily usage revenue per customer, one row per customer ("day:nanos,…"), compact. */
const USAGE_SQL = `SELECT customer_id, group_concat(day || ':' || revenue, ',') AS days FROM (
    SELECT customer_id, start / ${DAY_MS} AS day, SUM(revenue) AS revenue FROM rollups_daily
    WHERE tenant_id = ? GROUP BY customer_id, start HAVING SUM(revenue) <> 0
  ) GROUP BY customer_id`;

function parseUsage(rows: readonly { customer_id: string; days: string }[]): CustomerDailyUsage[] {
  return rows.map((r) => {
    const days: number[] = [];
    const revenue: bigint[] = [];
    for (const part of r.days.split(",")) {
      const colon = part.indexOf(":");
      days.push(Number(part.slice(0, colon)) * DAY_MS);
      revenue.push(BigInt(part.slice(colon + 1)));
    }
    return { customer_id: r.customer_id, days, revenue };
  });
}

export async function loadKpiInput(db: D1Database, tenantId: string): Promise<LoadedKpiInput> {
  const [plans, batch, signals, coupons] = await Promise.all([
    loadTenantPlans(db, tenantId),
    db.batch([
      db.prepare(`${PHASES_SQL} WHERE s.tenant_id = ? ${PHASES_ORDER}`).bind(tenantId),
      db
        .prepare(
          `SELECT subscription_id, at, status FROM subscription_status_changes
           WHERE tenant_id = ? ORDER BY subscription_id, at, seq`,
        )
        .bind(tenantId),
      db.prepare(USAGE_SQL).bind(tenantId),
      // States written straight into subscriptions.status without a history row: read as a
      // change at the row's last update (recordStatusChange is the way to record them).
      db
        .prepare(
          `SELECT id AS subscription_id, updated_at AS at, status FROM subscriptions s
           WHERE tenant_id = ?1 AND status IN ('past_due', 'suspended') AND NOT EXISTS (
             SELECT 1 FROM subscription_status_changes c WHERE c.tenant_id = ?1
               AND c.subscription_id = s.id)`,
        )
        .bind(tenantId),
      db
        .prepare(
          `SELECT id, customer_id, currency, status, CAST(total AS TEXT) AS total, issued_at, due_at,
             paid_at, voided_at FROM invoices WHERE tenant_id = ? AND status <> 'draft'`,
        )
        .bind(tenantId),
    ]),
    // Detection's signals table (schema/0004, 0008): open ones, and resolved ones with when, so
    // at-risk can be told for any past date.
    tolerateMissingTable(() =>
      db
        .prepare(
          "SELECT customer_id, window_end, resolved_at FROM signals WHERE tenant_id = ? AND (status = 'open' OR resolved_at IS NOT NULL)",
        )
        .bind(tenantId)
        .all<{ customer_id: string; window_end: number; resolved_at: number | null }>(),
    ),
    tolerateMissingTable(() =>
      db
        .prepare(
          `SELECT customer_id, subscription_id, percent_off, amount_off, valid_from, valid_to,
             revoked_at FROM coupons WHERE tenant_id = ? ORDER BY valid_from, id`,
        )
        .bind(tenantId)
        .all<CouponRow>(),
    ),
  ]);
  const [phaseRes, changeRes, usageRes, directRes, invoiceRes] = batch;
  const subs = groupPhases((phaseRes?.results ?? []) as unknown as PhaseRow[]);

  // Reporting currency: the one most subscriptions bill in.
  const currencyOf = (planId: string) => plans.get(planId)?.plan.currency ?? "USD";
  const counts = new Map<string, number>();
  for (const s of subs) {
    const c = currencyOf(s.phases[0]?.plan_id ?? "");
    counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  const ranked = [...counts.entries()].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1));
  const currency = ranked[0]?.[0] ?? [...plans.values()][0]?.plan.currency ?? "USD";

  const changes = new Map<string, StatusChange[]>();
  for (const r of [...(changeRes?.results ?? []), ...(directRes?.results ?? [])] as {
    subscription_id: string;
    at: number;
    status: StatusChange["status"];
  }[]) {
    let list = changes.get(r.subscription_id);
    if (!list) {
      list = [];
      changes.set(r.subscription_id, list);
    }
    list.push({ at: r.at, status: r.status });
  }

  const couponRows = coupons?.results ?? [];
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
      status_changes: changes.get(s.subscription_id) ?? [],
      discounts: discountsFor(s.customer_id, s.subscription_id),
    });
  }
  const terms: RecurringTerms[] = [...plans.values()]
    .filter((p) => p.plan.currency === currency)
    .map((p) => recurringTermsFromPlan(p.plan));

  const invoices: InvoiceRecord[] = [];
  for (const r of (invoiceRes?.results ?? []) as {
    id: string;
    customer_id: string;
    currency: string;
    status: InvoiceRecord["status"];
    total: string;
    issued_at: number | null;
    due_at: number | null;
    paid_at: number | null;
    voided_at: number | null;
  }[]) {
    if (r.currency !== currency || r.issued_at === null || r.due_at === null) continue;
    invoices.push({
      id: r.id,
      customer_id: r.customer_id,
      status: r.status,
      total: BigInt(r.total),
      issued_at: r.issued_at,
      due_at: r.due_at,
      paid_at: r.paid_at,
      voided_at: r.voided_at,
    });
  }

  const customerSignals: CustomerSignal[] = (signals?.results ?? []).map((s) => ({
    customer_id: s.customer_id,
    opened_at: s.window_end,
    resolved_at: s.resolved_at,
  }));

  return {
    input: {
      plans: terms,
      subscriptions,
      usage_by_customer: parseUsage(
        (usageRes?.results ?? []) as { customer_id: string; days: string }[],
      ),
      invoices,
      signals: customerSignals,
    },
    currency,
    excluded_currencies: ranked.slice(1).map(([c]) => c),
    plans,
  };
}
