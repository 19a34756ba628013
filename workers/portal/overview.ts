import type { Brand } from "../../contracts/storefront";
import { type Period, periodContaining } from "../../domain/billing-period";
import { type QuotaPeriod, quotaWindow } from "../../domain/customer-api-keys";
import { formatQuantity, toMicros } from "../../domain/money";
import { projectionMethod, projectToPeriodEnd } from "../../domain/portal/advisor";
import { type PlanInWords, planInWords } from "../../domain/storefront/words";
import { DAY_MS, HOUR_MS } from "../../domain/time";
import { getPlan, metricsOf, type PlanRecord } from "../../store/catalog";
import { keyUsageBetween, listCustomerKeys } from "../../store/customer-api-keys";
import { getCustomer } from "../../store/customers";
import { listInvoices } from "../../store/invoices";
import { rollupTotals } from "../../store/rollups";
import { storefrontOf } from "../../store/storefront";
import { listSubscriptions } from "../../store/subscriptions";
import { toKey } from "../routes/customer-api-keys";
import { toInvoice } from "../routes/invoices";
import { effectiveStatus } from "../routes/subscriptions";
import { iso } from "../schemas";

// What the customer portal shows (issue 19 §5, docs/portal.md): one customer's subscriptions and
// plans in words, this period's usage against each plan's included quantity with the
// QuotaPacingProjectionService's run-rate projection to period end, invoices as the invoices API
// formats them, and the customer's API keys with each key's usage. Every read is keyed by the
// session's (tenant, customer) and nothing else — no request parameter names a customer — and
// nothing of the operator's side leaves it: no costs or margins, no signals, no other customer,
// no member who made a key.

/** At most this many subscriptions and invoices (newest period first): a portal is a summary. */
const LIST_LIMIT = 100;

export interface PortalUsage {
  product: string;
  metric: string;
  unit: string;
  used: string;
  /** The plan's included quantity of the metric for the period; null when it includes none. */
  included: string | null;
  percent_of_included: number | null;
  projection: string;
  projection_percent_of_included: number | null;
  method: { name: "linear"; description: string };
}

export interface PortalSubscription {
  id: string;
  product: string;
  status: string;
  start: string;
  end: string | null;
  trial_end: string | null;
  plan: { id: string; name: string; currency: string; period: "month" | "year" } & PlanInWords;
  period: { start: string; end: string } | null;
  usage: PortalUsage[];
}

export interface PortalOverview {
  customer: { id: string; name: string };
  brand: { name: string };
  generated_at: string;
  subscriptions: PortalSubscription[];
  invoices: Array<{
    id: string;
    subscription: string;
    product: string;
    currency: string;
    status: string;
    period: { start: string; end: string };
    total: string;
    amount_due: string;
    due_at: string | null;
  }>;
  api_keys: Array<ReturnType<typeof portalKey>>;
}

/** Percent with two decimals, rounded down (as a key's quota reads), of exact micro-units. */
const percentOf = (part: bigint, whole: bigint) =>
  whole > 0n ? Number((part * 10_000n) / whole) / 100 : null;

/** One metric of a subscription's period: used so far, the plan's included quantity, and the
 * projection the QuotaPacingProjectionService makes (its linear method: the period-to-date
 * usage at the same rate until the period ends). */
function usageLine(
  product: string,
  metric: string,
  unit: string,
  used: bigint,
  included: bigint | null,
  period: Period,
  now: number,
): PortalUsage {
  const projection = projectToPeriodEnd(used, period, now);
  return {
    product,
    metric,
    unit,
    used: formatQuantity(used),
    included: included === null ? null : formatQuantity(included),
    percent_of_included: included === null ? null : percentOf(used, included),
    projection: formatQuantity(projection),
    projection_percent_of_included: included === null ? null : percentOf(projection, included),
    method: { name: "linear", description: projectionMethod(used, unit, period, now) },
  };
}

function portalKey(
  k: Parameters<typeof toKey>[0],
  usage: Parameters<typeof toKey>[1],
  now: number,
) {
  // The operator's key view without who issued it: that names a member of the tenant.
  const { created_by: _issuer, ...shown } = toKey(k, usage, now);
  return shown;
}

/** The customer's usage of the plan's product in the period so far, per metric (micro-units):
 * hourly rollups when the period fits their 93 days (a monthly plan), else daily ones, from the
 * hour (day) the period starts in. */
export async function periodUsage(
  db: D1Database,
  tenantId: string,
  customerId: string,
  productId: string,
  period: Period,
  now: number,
): Promise<Map<string, bigint>> {
  const hourly = period.end - period.start <= 93 * DAY_MS;
  const step = hourly ? HOUR_MS : DAY_MS;
  const rows = await rollupTotals(db, tenantId, {
    granularity: hourly ? "hour" : "day",
    from: period.start - (period.start % step),
    to: Math.min(period.end, now + step),
    groupBy: ["metric"],
    customer: customerId,
    product: productId,
  });
  const used = new Map<string, bigint>();
  for (const r of rows) {
    const metric = r.keys.metric ?? "";
    used.set(metric, (used.get(metric) ?? 0n) + r.units);
  }
  return used;
}

async function subscriptionUsage(
  db: D1Database,
  tenantId: string,
  customerId: string,
  plan: PlanRecord,
  units: ReadonlyMap<string, string>,
  period: Period,
  now: number,
): Promise<PortalUsage[]> {
  const used = await periodUsage(db, tenantId, customerId, plan.product_id, period, now);
  const included = new Map<string, bigint>();
  for (const comp of plan.components) {
    if (comp.type === "included") {
      included.set(comp.metric, (included.get(comp.metric) ?? 0n) + toMicros(comp.quantity));
    }
  }
  const metrics = [...new Set([...included.keys(), ...used.keys()])].sort();
  return metrics.map((m) =>
    usageLine(
      plan.product_id,
      m,
      units.get(m) ?? m,
      used.get(m) ?? 0n,
      included.get(m) ?? null,
      period,
      now,
    ),
  );
}

/** The portal's whole view of one customer at `now`; null when the customer is gone. */
export async function portalOverview(
  db: D1Database,
  tenantId: string,
  customerId: string,
  brand: PortalBrand,
  now: number,
): Promise<PortalOverview | null> {
  const [customer, subs, invoiceRows, keys] = await Promise.all([
    getCustomer(db, tenantId, customerId),
    listSubscriptions(db, tenantId, {
      after: "",
      customer: customerId,
      plan: null,
      product: null,
      limit: LIST_LIMIT,
    }),
    listInvoices(db, tenantId, {
      customer: customerId,
      subscription: null,
      status: null,
      periodFrom: null,
      periodTo: null,
      after: null,
      limit: LIST_LIMIT,
    }),
    listCustomerKeys(db, tenantId, customerId),
  ]);
  if (!customer) return null;
  const planIds = [...new Set(subs.map((s) => s.plan_id))];
  const plans = new Map<string, PlanRecord>();
  for (const p of await Promise.all(planIds.map((id) => getPlan(db, tenantId, id)))) {
    if (p) plans.set(p.id, p);
  }
  const metricsByProduct = await metricsOf(db, tenantId, [
    ...new Set([...plans.values()].map((p) => p.product_id)),
  ]);
  const unitsOf = (product: string) =>
    new Map((metricsByProduct.get(product) ?? []).map((m) => [m.id, m.unit]));

  const subscriptions = await Promise.all(
    subs.map(async (s): Promise<PortalSubscription | null> => {
      const plan = plans.get(s.plan_id);
      if (!plan) return null;
      const units = unitsOf(plan.product_id);
      const status = effectiveStatus(s, now);
      const live = status !== "canceled" && s.start_at <= now;
      const period = live ? periodContaining(s.start_at, plan.interval, now) : null;
      const words = planInWords(
        { ...plan, period: plan.interval },
        (metric) => units.get(metric) ?? metric,
      );
      return {
        id: s.id,
        product: s.product_id,
        status,
        start: iso(s.start_at) ?? "",
        end: iso(s.end_at),
        trial_end: iso(s.trial_end),
        plan: {
          id: plan.id,
          name: plan.name,
          currency: plan.currency,
          period: plan.interval,
          ...words,
        },
        period: period && { start: iso(period.start) ?? "", end: iso(period.end) ?? "" },
        usage: period
          ? await subscriptionUsage(db, tenantId, customerId, plan, units, period, now)
          : [],
      };
    }),
  );

  // Each key's usage in its own period (the quota's, else the calendar month), as the keys API.
  const periods = new Set<QuotaPeriod>(keys.map((k) => k.quota_period ?? "month"));
  const keyUsage = (
    await Promise.all(
      [...periods].map((period) => {
        const window = quotaWindow(period, now);
        const ids = keys.filter((k) => (k.quota_period ?? "month") === period).map((k) => k.id);
        return keyUsageBetween(db, tenantId, ids, window.from, window.to);
      }),
    )
  ).flat();

  return {
    customer: { id: customer.id, name: customer.name },
    brand: { name: brand.name },
    generated_at: iso(now) ?? "",
    subscriptions: subscriptions.filter((s): s is PortalSubscription => s !== null),
    invoices: invoiceRows.map((r) => {
      const inv = toInvoice(r, now);
      return {
        id: inv.id,
        subscription: inv.subscription,
        product: inv.product,
        currency: inv.currency,
        status: inv.status,
        period: inv.period,
        total: inv.total,
        amount_due: inv.amount_due,
        due_at: inv.due_at,
      };
    }),
    api_keys: keys.map((k) => portalKey(k, keyUsage, now)),
  };
}

export interface PortalBrand {
  /** The brand the tenant applied to its storefront; null without one (neutral colours). */
  brand: Brand | null;
  /** The brand's name, else the tenant's. */
  name: string;
  /** The public storefront's slug (its plan comparison is the upgrade path), or null. */
  slug: string | null;
}

/** The tenant's brand as its storefront shows it: the portal is branded like the storefront. */
export async function portalBrand(db: D1Database, tenantId: string): Promise<PortalBrand> {
  const [storefront, tenant] = await Promise.all([
    storefrontOf(db, tenantId),
    db.prepare("SELECT name FROM tenants WHERE id = ?").bind(tenantId).first<{ name: string }>(),
  ]);
  const brand = storefront?.brand ?? null;
  return { brand, name: brand?.name?.trim() || tenant?.name || "", slug: storefront?.slug ?? null };
}
