// MRR movements between sample instants (month starts by default), per customer
// (rules: docs/metrics.md §MRR movements).
//
// Each customer's MRR is sampled at every instant of a grid; between consecutive samples
// prev → cur is classified:
//   new           prev = 0, cur > 0, and the customer was paying at no earlier sample
//   reactivation  prev = 0, cur > 0, and the customer was paying at an earlier sample
//   expansion     0 < prev < cur
//   contraction   0 < cur < prev
//   churn         prev > 0, cur = 0
// Amounts are signed (contraction and churn negative), so start MRR + Σ movements = end MRR.
// The month grid starts at the month start strictly before the history's first instant, so a
// customer's first paying month is always "new", exactly as the mrr-playbook reference does.

import { customerMrrOf, type KpiIndex, snapshotAt } from "./history";
import { addMonths, checkInstant, monthLabel, monthStart } from "./time";
import type { MrrBasis } from "./types";

export type MovementType = "new" | "expansion" | "contraction" | "churn" | "reactivation";

export const MOVEMENT_TYPES: readonly MovementType[] = [
  "new",
  "expansion",
  "contraction",
  "churn",
  "reactivation",
];

export interface MovementRow {
  customer_id: string;
  type: MovementType;
  start_mrr: bigint;
  end_mrr: bigint;
  /** end_mrr − start_mrr. */
  change: bigint;
}

export interface MovementPeriod {
  /** Sample instants: MRR at start vs at end. */
  start: number;
  end: number;
  /** "YYYY-MM" of `end` (the month whose first day is the later sample). */
  label: string;
  basis: MrrBasis;
  start_mrr: bigint;
  end_mrr: bigint;
  /** Signed sums per type; net = Σ = end_mrr − start_mrr. */
  totals: Record<MovementType | "net", bigint>;
  counts: Record<MovementType, number>;
  /** Customers with a movement, by customer id. */
  rows: MovementRow[];
}

/** Classifies one customer's prev → cur; null when nothing moved. */
export function classifyMovement(
  prev: bigint,
  cur: bigint,
  paidBefore: boolean,
): MovementType | null {
  if (prev <= 0n) {
    if (cur <= 0n) return null;
    return paidBefore ? "reactivation" : "new";
  }
  if (cur <= 0n) return "churn";
  if (cur > prev) return "expansion";
  if (cur < prev) return "contraction";
  return null;
}

function emptyPeriod(start: number, end: number, basis: MrrBasis): MovementPeriod {
  return {
    start,
    end,
    label: monthLabel(end),
    basis,
    start_mrr: 0n,
    end_mrr: 0n,
    totals: { new: 0n, expansion: 0n, contraction: 0n, churn: 0n, reactivation: 0n, net: 0n },
    counts: { new: 0, expansion: 0, contraction: 0, churn: 0, reactivation: 0 },
    rows: [],
  };
}

function periodBetween(
  index: KpiIndex,
  start: number,
  end: number,
  basis: MrrBasis,
  paidBefore: (customer: number) => boolean,
): MovementPeriod {
  const p = emptyPeriod(start, end, basis);
  const a = snapshotAt(index, start);
  const b = snapshotAt(index, end);
  index.customers.forEach((c, i) => {
    const prev = customerMrrOf(a, i, basis);
    const cur = customerMrrOf(b, i, basis);
    p.start_mrr += prev;
    p.end_mrr += cur;
    const type = classifyMovement(prev, cur, prev > 0n || paidBefore(i));
    if (type === null) return;
    const change = cur - prev;
    p.totals[type] += change;
    p.totals.net += change;
    p.counts[type]++;
    p.rows.push({ customer_id: c.id, type, start_mrr: prev, end_mrr: cur, change });
  });
  p.rows.sort((x, y) =>
    x.customer_id < y.customer_id ? -1 : x.customer_id > y.customer_id ? 1 : 0,
  );
  return p;
}

/** The month grid's first sample: the month start strictly before the history's first instant. */
function gridStart(index: KpiIndex): number | null {
  return index.historyStart === null ? null : monthStart(index.historyStart - 1);
}

/** Movements per month: one period per month start m with from ≤ m ≤ to, comparing MRR at the
 * previous month start with MRR at m. Whether a customer paid before is judged on every month
 * start since the history began, not only inside [from, to]. Default basis: total. */
export function mrrMovements(
  index: KpiIndex,
  opts: { from: number; to: number; basis?: MrrBasis },
): MovementPeriod[] {
  checkInstant("from", opts.from);
  checkInstant("to", opts.to);
  const basis = opts.basis ?? "total";
  let first = monthStart(opts.from);
  if (first < opts.from) first = addMonths(first, 1);
  const hist = gridStart(index);
  let m = hist !== null && hist < first ? hist : addMonths(first, -1);
  const everPaid = new Uint8Array(index.customers.length);
  const mark = (t: number) => {
    const s = snapshotAt(index, t);
    for (let i = 0; i < everPaid.length; i++) if (customerMrrOf(s, i, basis) > 0n) everPaid[i] = 1;
  };
  const out: MovementPeriod[] = [];
  while (true) {
    const next = addMonths(m, 1);
    if (next > opts.to) break;
    if (next >= first) out.push(periodBetween(index, m, next, basis, (i) => everPaid[i] === 1));
    mark(m);
    m = next;
  }
  return out;
}

/** Movements between any two instants a < b. "Paid before" = paying at a month start of the
 * history's month grid before a (so with a month-start a this equals mrrMovements). */
export function movementsBetween(
  index: KpiIndex,
  a: number,
  b: number,
  opts: { basis?: MrrBasis } = {},
): MovementPeriod {
  checkInstant("a", a);
  checkInstant("b", b);
  if (!(a < b)) throw new RangeError("a must be before b");
  const basis = opts.basis ?? "total";
  const everPaid = new Uint8Array(index.customers.length);
  const hist = gridStart(index);
  if (hist !== null) {
    for (let m = hist; m < a; m = addMonths(m, 1)) {
      const s = snapshotAt(index, m);
      for (let i = 0; i < everPaid.length; i++)
        if (customerMrrOf(s, i, basis) > 0n) everPaid[i] = 1;
    }
  }
  const p = periodBetween(index, a, b, basis, (i) => everPaid[i] === 1);
  return p;
}
