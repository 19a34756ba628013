import {
  activeSubscriptionsAt,
  churnedCustomersAt,
  customerMrrAt,
  type KpiIndex,
  liveSubscriptionsAt,
  mrrAt,
  nrrCohortAt,
  outstandingListOfIntervals,
  outstandingOfIntervals,
  recoveryAt,
  trialConversionAt,
  trialsEndedAt,
} from "../../domain/kpi";
import { toJson } from "./cockpit";

// The lists behind the Revenue Cockpit's tiles (GET /api/metrics/cockpit/items?kpi): each
// computed by the same engine call as the tile, at the same instant, so the list adds up to the
// tile (count, and sum where the tile is an amount). docs/metrics.md §Drill-downs.

export const COCKPIT_KPIS = [
  "mrr",
  "arr",
  "arpu",
  "nrr",
  "customer_churn",
  "trial_conversion",
  "active_subscriptions",
  "outstanding_invoices",
] as const;
export type CockpitKpi = (typeof COCKPIT_KPIS)[number];

/** One row of a drill-down; which fields are set depends on the KPI. Money in nanos, instants
 * in epoch ms (toJson makes them decimal strings and ISO strings). */
export interface KpiItem {
  customer_id: string;
  subscription_id?: string;
  invoice_id?: string;
  status?: string;
  mrr?: bigint;
  committed?: bigint;
  usage?: bigint;
  start_mrr?: bigint;
  current_mrr?: bigint;
  change?: bigint;
  last_paying_at?: number;
  churned_at?: number;
  paying_at_start?: boolean;
  trial_end?: number;
  ended_at?: number;
  converted?: boolean;
  counted?: boolean;
  total?: bigint;
  issued_at?: number;
  due_at?: number;
  days_past_due?: number;
  aging_bucket?: string;
}

export interface KpiItems {
  /** The tile's figures at the same instant (what the rows add up to). */
  summary: Record<string, unknown>;
  rows: KpiItem[];
}

/** The rows behind one tile at `asOf`, and that tile's figures. */
export function kpiItems(index: KpiIndex, kpi: CockpitKpi, asOf: number): KpiItems {
  switch (kpi) {
    case "mrr":
    case "arr":
    case "arpu": {
      const m = mrrAt(index, asOf);
      const rows = customerMrrAt(index, asOf)
        .sort((a, b) =>
          a.total === b.total
            ? a.customer_id < b.customer_id
              ? -1
              : 1
            : a.total > b.total
              ? -1
              : 1,
        )
        .map((r) => ({
          customer_id: r.customer_id,
          mrr: r.total,
          committed: r.committed,
          usage: r.usage,
        }));
      return {
        summary: {
          mrr: m.total,
          committed: m.committed,
          usage: m.usage,
          arr: m.arr,
          arpu: m.arpu,
          paying_customers: m.paying_customers,
        },
        rows,
      };
    }
    case "nrr": {
      const { result, rows } = nrrCohortAt(index, asOf);
      return {
        summary: {
          value: result.ratio,
          window: result.window,
          window_start: result.window_start,
          cohort_customers: result.cohort_customers,
          starting_mrr: result.starting_mrr,
          current_mrr: result.current_mrr,
          usage_covered: result.usage_covered,
        },
        rows: rows.map((r) => ({
          customer_id: r.customer_id,
          start_mrr: r.start_mrr,
          current_mrr: r.current_mrr,
          change: r.current_mrr - r.start_mrr,
        })),
      };
    }
    case "customer_churn": {
      const { result, rows } = churnedCustomersAt(index, asOf);
      return {
        summary: {
          value: result.rate,
          window_days: result.window_days,
          window_start: result.window_start,
          paying_at_start: result.paying_at_start,
          churned: result.churned,
          churned_mrr: result.churned_mrr,
        },
        rows: rows.map((r) => ({
          customer_id: r.customer_id,
          mrr: r.mrr,
          last_paying_at: r.last_paying_at,
          churned_at: r.churned_at,
          paying_at_start: r.paying_at_start,
        })),
      };
    }
    case "trial_conversion": {
      const t = trialConversionAt(index, asOf);
      return {
        summary: {
          value: t.rate,
          window_days: t.window_days,
          window_start: t.window_start,
          ended: t.ended,
          converted: t.converted,
          lapsed: t.lapsed,
        },
        rows: trialsEndedAt(index, asOf).map((o) => ({
          customer_id: o.customer_id,
          subscription_id: o.subscription_id,
          trial_end: o.trial_end,
          ended_at: o.ended_at,
          converted: o.converted,
          status: o.converted ? "converted" : "lapsed",
        })),
      };
    }
    case "active_subscriptions": {
      const a = activeSubscriptionsAt(index, asOf);
      return {
        summary: {
          value: a.count,
          active: a.active,
          past_due: a.past_due,
          trialing: a.trialing,
          suspended: a.suspended,
        },
        rows: liveSubscriptionsAt(index, asOf).map((s) => ({
          customer_id: s.customer_id,
          subscription_id: s.subscription_id,
          status: s.status,
          counted: s.counted,
        })),
      };
    }
    case "outstanding_invoices": {
      const o = outstandingOfIntervals(index.invoices, asOf);
      return {
        summary: {
          count: o.count,
          total: o.total,
          buckets: o.buckets,
          recovery: recoveryAt(index.dunning, asOf),
        },
        rows: outstandingListOfIntervals(index.invoices, asOf).map((r) => ({
          customer_id: r.customer_id,
          invoice_id: r.invoice_id,
          total: r.total,
          issued_at: r.issued_at,
          due_at: r.due_at,
          days_past_due: r.days_past_due,
          aging_bucket: r.bucket,
        })),
      };
    }
  }
}

/** Keys of instants in a drill-down row or summary, for toJson. */
export const ITEM_INSTANT_KEYS = [
  "last_paying_at",
  "churned_at",
  "trial_end",
  "ended_at",
  "issued_at",
  "due_at",
  "window_start",
] as const;

/** A row or summary as API JSON: money as decimal strings, instants as ISO strings. */
export function itemJson(value: Record<string, unknown>): Record<string, unknown> {
  return toJson(value, "", ITEM_INSTANT_KEYS) as Record<string, unknown>;
}
