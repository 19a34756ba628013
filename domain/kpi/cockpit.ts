// The Revenue Cockpit (SPEC §8): the eight KPIs at `as_of`, each with a 30-point daily
// sparkline ending at as_of and a delta versus 30 days earlier, plus the health donut.
// Every per-instant value comes from the index's memoised snapshots, so the ~90 instants a
// cockpit needs (series, comparison, window starts) each cost one linear pass.

import { activeSubscriptionsAt, type HealthBreakdown, subscriptionHealthAt } from "./health";
import type { KpiIndex } from "./history";
import { type AgingBucket, type BucketTotal, outstandingOfIntervals } from "./invoices";
import { mrrAt } from "./mrr";
import { type Recovery, recoveryAt } from "./recovery";
import { customerChurnAt, type NrrWindow, nrrAt, trialConversionAt } from "./retention";
import {
  type Comparison,
  comparisonFor,
  DEFAULT_COMPARISON_DAYS,
  DEFAULT_SERIES_POINTS,
  dailySeries,
  type MoneyDelta,
  moneyDelta,
  type NumberDelta,
  numberDelta,
  type SeriesPoint,
} from "./series";
import { checkInstant } from "./time";

export interface MoneyKpi {
  value: bigint;
  delta: MoneyDelta;
  series: SeriesPoint<bigint>[];
}

export interface Cockpit {
  as_of: number;
  comparison: Comparison;
  mrr: MoneyKpi & { committed: bigint; usage: bigint };
  arr: MoneyKpi;
  arpu: {
    value: bigint | null;
    paying_customers: number;
    delta: MoneyDelta;
    series: SeriesPoint<bigint | null>[];
  };
  nrr: {
    value: number | null;
    /** The window chosen at as_of; the series and the delta use the same window. */
    window: NrrWindow;
    window_start: number;
    cohort_customers: number;
    starting_mrr: bigint;
    current_mrr: bigint;
    /** Whether the usage record covers the 30 days before window_start (NrrResult). */
    usage_covered: boolean;
    delta: NumberDelta;
    series: SeriesPoint<number | null>[];
  };
  customer_churn: {
    value: number | null;
    window_days: number;
    paying_at_start: number;
    churned: number;
    churned_mrr: bigint;
    delta: NumberDelta;
    series: SeriesPoint<number | null>[];
  };
  trial_conversion: {
    value: number | null;
    window_days: number;
    ended: number;
    converted: number;
    lapsed: number;
    delta: NumberDelta;
    series: SeriesPoint<number | null>[];
  };
  active_subscriptions: {
    value: number;
    active: number;
    past_due: number;
    trialing: number;
    suspended: number;
    delta: NumberDelta;
    series: SeriesPoint<number>[];
  };
  outstanding_invoices: {
    count: number;
    total: bigint;
    buckets: Record<AgingBucket, BucketTotal>;
    /** On the total amount. */
    delta: MoneyDelta;
    count_delta: NumberDelta;
    series: SeriesPoint<bigint>[];
    count_series: SeriesPoint<number>[];
    /** What dunning brought back over the trailing 90 days. */
    recovery: Recovery;
  };
  health: HealthBreakdown;
}

export interface CockpitOptions {
  /** Sparkline points (default 30, one per day ending at as_of). */
  points?: number;
  /** Delta comparison distance in days (default 30). */
  comparison_days?: number;
  /** Churn and trial-conversion window in days (default 30). */
  window_days?: number;
}

export function cockpitAt(index: KpiIndex, asOf: number, opts: CockpitOptions = {}): Cockpit {
  checkInstant("as_of", asOf);
  const points = opts.points ?? DEFAULT_SERIES_POINTS;
  const days = opts.window_days ?? 30;
  const cmp = comparisonFor(asOf, opts.comparison_days ?? DEFAULT_COMPARISON_DAYS);
  const prev = cmp.previous_at;

  const mrr = mrrAt(index, asOf);
  const mrrPrev = mrrAt(index, prev);
  const nrr = nrrAt(index, asOf);
  const nrrFor = (t: number) => nrrAt(index, t, { window: nrr.window }).ratio;
  const churn = customerChurnAt(index, asOf, { days });
  const churnFor = (t: number) => customerChurnAt(index, t, { days }).rate;
  const trials = trialConversionAt(index, asOf, { days });
  const trialsFor = (t: number) => trialConversionAt(index, t, { days }).rate;
  const active = activeSubscriptionsAt(index, asOf);
  const activeFor = (t: number) => activeSubscriptionsAt(index, t).count;
  const invoicesFor = (t: number) => outstandingOfIntervals(index.invoices, t);
  const invoices = invoicesFor(asOf);
  const invoicesPrev = invoicesFor(prev);
  const invoiceSeries = dailySeries(asOf, invoicesFor, points);

  return {
    as_of: asOf,
    comparison: cmp,
    mrr: {
      value: mrr.total,
      committed: mrr.committed,
      usage: mrr.usage,
      delta: moneyDelta(mrr.total, mrrPrev.total, cmp),
      series: dailySeries(asOf, (t) => mrrAt(index, t).total, points),
    },
    arr: {
      value: mrr.arr,
      delta: moneyDelta(mrr.arr, mrrPrev.arr, cmp),
      series: dailySeries(asOf, (t) => mrrAt(index, t).arr, points),
    },
    arpu: {
      value: mrr.arpu,
      paying_customers: mrr.paying_customers,
      delta: moneyDelta(mrr.arpu, mrrPrev.arpu, cmp),
      series: dailySeries(asOf, (t) => mrrAt(index, t).arpu, points),
    },
    nrr: {
      value: nrr.ratio,
      window: nrr.window,
      window_start: nrr.window_start,
      cohort_customers: nrr.cohort_customers,
      starting_mrr: nrr.starting_mrr,
      current_mrr: nrr.current_mrr,
      usage_covered: nrr.usage_covered,
      delta: numberDelta(nrr.ratio, nrrFor(prev), cmp),
      series: dailySeries(asOf, nrrFor, points),
    },
    customer_churn: {
      value: churn.rate,
      window_days: days,
      paying_at_start: churn.paying_at_start,
      churned: churn.churned,
      churned_mrr: churn.churned_mrr,
      delta: numberDelta(churn.rate, churnFor(prev), cmp),
      series: dailySeries(asOf, churnFor, points),
    },
    trial_conversion: {
      value: trials.rate,
      window_days: days,
      ended: trials.ended,
      converted: trials.converted,
      lapsed: trials.lapsed,
      delta: numberDelta(trials.rate, trialsFor(prev), cmp),
      series: dailySeries(asOf, trialsFor, points),
    },
    active_subscriptions: {
      value: active.count,
      active: active.active,
      past_due: active.past_due,
      trialing: active.trialing,
      suspended: active.suspended,
      delta: numberDelta(active.count, activeFor(prev), cmp),
      series: dailySeries(asOf, activeFor, points),
    },
    outstanding_invoices: {
      count: invoices.count,
      total: invoices.total,
      buckets: invoices.buckets,
      delta: moneyDelta(invoices.total, invoicesPrev.total, cmp),
      count_delta: numberDelta(invoices.count, invoicesPrev.count, cmp),
      series: invoiceSeries.map((p) => ({ at: p.at, value: p.value.total })),
      count_series: invoiceSeries.map((p) => ({ at: p.at, value: p.value.count })),
      recovery: recoveryAt(index.dunning, asOf),
    },
    health: subscriptionHealthAt(index, asOf),
  };
}
