// MRR, ARR and ARPU at any instant (formulas and edge rules: docs/metrics.md).

import { divRound } from "../money";
import { type KpiIndex, snapshotAt } from "./history";
import type { MrrBasis } from "./types";

export interface MrrBreakdown {
  at: number;
  /** committed + usage, monthly nanos. */
  total: bigint;
  committed: bigint;
  usage: bigint;
  /** 12 × total. */
  arr: bigint;
  /** Customers with total MRR > 0 at `at`. */
  paying_customers: number;
  /** total ÷ paying_customers (half-even to the nano); null with no paying customer. */
  arpu: bigint | null;
}

export interface CustomerMrr {
  customer_id: string;
  committed: bigint;
  usage: bigint;
  total: bigint;
}

export const arrOf = (mrr: bigint): bigint => 12n * mrr;

export const arpuOf = (mrr: bigint, payingCustomers: number): bigint | null =>
  payingCustomers > 0 ? divRound(mrr, BigInt(payingCustomers)) : null;

/** Number of customers with MRR > 0 on the given basis. */
export function payingCustomersAt(index: KpiIndex, t: number, basis: MrrBasis = "total"): number {
  const snap = snapshotAt(index, t);
  return basis === "committed" ? snap.payingCommitted : snap.payingTotal;
}

export function mrrAt(index: KpiIndex, t: number): MrrBreakdown {
  const snap = snapshotAt(index, t);
  const total = snap.committedTotal + snap.usageTotal;
  const paying = snap.payingTotal;
  return {
    at: t,
    total,
    committed: snap.committedTotal,
    usage: snap.usageTotal,
    arr: arrOf(total),
    paying_customers: paying,
    arpu: arpuOf(total, paying),
  };
}

/** Customers with any MRR at t, by customer id. */
export function customerMrrAt(index: KpiIndex, t: number): CustomerMrr[] {
  const snap = snapshotAt(index, t);
  const rows: CustomerMrr[] = [];
  index.customers.forEach((c, i) => {
    const committed = snap.committed[i] ?? 0n;
    const usage = snap.usage[i] ?? 0n;
    if (committed + usage !== 0n) {
      rows.push({ customer_id: c.id, committed, usage, total: committed + usage });
    }
  });
  return rows.sort((a, b) =>
    a.customer_id < b.customer_id ? -1 : a.customer_id > b.customer_id ? 1 : 0,
  );
}
