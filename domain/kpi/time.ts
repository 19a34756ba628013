// UTC calendar helpers for the KPI engine. Instants are epoch ms.

import { addInterval } from "../billing-period";
import { DAY_MS } from "../time";

export { DAY_MS };

export function checkInstant(name: string, value: number): void {
  if (!Number.isSafeInteger(value)) throw new RangeError(`${name} must be integer epoch ms`);
}

/** Days since the epoch of the UTC day containing `t`. */
export const dayIndex = (t: number): number => Math.floor(t / DAY_MS);

/** Midnight UTC on the first of the month containing `t`. */
export function monthStart(t: number): number {
  const d = new Date(t);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

/** `t` plus n calendar months, day of month clamped (Mar 31 − 1 month = Feb 28/29). */
export const addMonths = (t: number, n: number): number => addInterval(t, "month", n);

/** "YYYY-MM" of the month containing `t`. */
export const monthLabel = (t: number): string => new Date(t).toISOString().slice(0, 7);

/** Month starts m with from ≤ m ≤ to, ascending. */
export function monthStartsBetween(from: number, to: number): number[] {
  const out: number[] = [];
  let m = monthStart(from);
  if (m < from) m = addMonths(m, 1);
  while (m <= to) {
    out.push(m);
    m = addMonths(m, 1);
  }
  return out;
}

/** `points` instants ending at `t`, `stepMs` apart, ascending: t − (points−1)·step, …, t. With
 * the default daily step and `t` at a UTC midnight these are the last `points` day ends. */
export function seriesInstants(t: number, points = 30, stepMs = DAY_MS): number[] {
  checkInstant("t", t);
  if (!Number.isSafeInteger(points) || points < 1) throw new RangeError("points must be ≥ 1");
  return Array.from({ length: points }, (_, i) => t - (points - 1 - i) * stepMs);
}

/** First index i with sorted[i] >= value (sorted.length when none). */
export function lowerBound(sorted: readonly number[], value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as number) < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
