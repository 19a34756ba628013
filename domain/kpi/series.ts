// Period-over-period deltas and sparkline series (docs/metrics.md §Deltas and sparklines).

import { checkInstant, DAY_MS, seriesInstants } from "./time";

export const DEFAULT_COMPARISON_DAYS = 30;
export const DEFAULT_SERIES_POINTS = 30;

export interface SeriesPoint<V> {
  at: number;
  value: V;
}

/** The value at each of `points` instants one day apart ending at t (t − 29 d, …, t). */
export function dailySeries<V>(
  t: number,
  valueAt: (at: number) => V,
  points = DEFAULT_SERIES_POINTS,
): SeriesPoint<V>[] {
  return seriesInstants(t, points).map((at) => ({ at, value: valueAt(at) }));
}

export interface Comparison {
  /** The instant compared against: t − days. */
  previous_at: number;
  days: number;
  /** e.g. "vs 30 days earlier". */
  label: string;
}

export function comparisonFor(t: number, days = DEFAULT_COMPARISON_DAYS): Comparison {
  checkInstant("t", t);
  if (!Number.isSafeInteger(days) || days < 1) throw new RangeError("days must be ≥ 1");
  return { previous_at: t - days * DAY_MS, days, label: `vs ${days} days earlier` };
}

export interface MoneyDelta extends Comparison {
  current: bigint | null;
  previous: bigint | null;
  /** current − previous; null when either is null. */
  change: bigint | null;
  /** change ÷ |previous|; null when either is null or previous is 0. */
  change_ratio: number | null;
}

export interface NumberDelta extends Comparison {
  current: number | null;
  previous: number | null;
  /** current − previous (for rates: a difference in points of the ratio, 0.05 = 5 points). */
  change: number | null;
  change_ratio: number | null;
}

export function moneyDelta(
  current: bigint | null,
  previous: bigint | null,
  comparison: Comparison,
): MoneyDelta {
  const change = current === null || previous === null ? null : current - previous;
  const base = previous === null || previous === 0n ? null : previous < 0n ? -previous : previous;
  return {
    ...comparison,
    current,
    previous,
    change,
    change_ratio: change === null || base === null ? null : Number(change) / Number(base),
  };
}

export function numberDelta(
  current: number | null,
  previous: number | null,
  comparison: Comparison,
): NumberDelta {
  const change = current === null || previous === null ? null : current - previous;
  return {
    ...comparison,
    current,
    previous,
    change,
    change_ratio:
      change === null || previous === null || previous === 0 ? null : change / Math.abs(previous),
  };
}
