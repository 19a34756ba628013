// Outstanding invoices at any instant, with aging buckets (docs/metrics.md).

import { checkInstant, dayIndex } from "./time";
import type { InvoiceRecord } from "./types";

export type AgingBucket = "current" | "days_1_30" | "days_31_60" | "days_61_90" | "days_over_90";

export const AGING_BUCKETS: readonly AgingBucket[] = [
  "current",
  "days_1_30",
  "days_31_60",
  "days_61_90",
  "days_over_90",
];

/** Whole UTC calendar days from the due date to the date of t: 0 on the due date, 1 the day
 * after, negative before it. */
export const daysPastDue = (dueAt: number, t: number): number => dayIndex(t) - dayIndex(dueAt);

/** current (≤ 0 days past due: not yet due, or due today), 1–30, 31–60, 61–90, over 90. */
export function agingBucket(days: number): AgingBucket {
  if (days <= 0) return "current";
  if (days <= 30) return "days_1_30";
  if (days <= 60) return "days_31_60";
  if (days <= 90) return "days_61_90";
  return "days_over_90";
}

/** Issued at or before t, and neither paid nor voided at or before t. Drafts never are; a paid
 * invoice without paid_at counts as paid on issue, a void one without voided_at as void on
 * issue. */
export function isOutstandingAt(inv: InvoiceRecord, t: number): boolean {
  if (inv.status === "draft" || inv.issued_at === null || inv.issued_at > t) return false;
  return t < closedAt(inv);
}

export interface BucketTotal {
  count: number;
  /** Nanos. */
  total: bigint;
}

export interface OutstandingInvoices {
  at: number;
  count: number;
  /** Nanos. */
  total: bigint;
  buckets: Record<AgingBucket, BucketTotal>;
}

/** When an invoice stops being outstanding (paid or voided); Infinity while neither. */
export function closedAt(inv: InvoiceRecord): number {
  const issued = inv.issued_at ?? Number.NEGATIVE_INFINITY;
  const paidAt = inv.paid_at ?? (inv.status === "paid" ? issued : null);
  const voidedAt = inv.voided_at ?? (inv.status === "void" ? issued : null);
  return Math.min(paidAt ?? Number.POSITIVE_INFINITY, voidedAt ?? Number.POSITIVE_INFINITY);
}

/** A stretch [from, closed) of an issued invoice's outstanding time over which the amount still
 * owed (`total`) does not change: the whole [issued, closed) for an invoice paid at once; one
 * stretch per partial payment otherwise. The stretches of one invoice never overlap, so at any
 * instant an invoice counts once. */
export interface InvoiceInterval {
  readonly id: string;
  readonly customer_id: string;
  readonly issued: number;
  /** Start of this stretch: the issue, or the partial payment that began it. */
  readonly from: number;
  readonly closed: number;
  readonly due: number;
  /** What is still owed during the stretch, nanos. */
  readonly total: bigint;
}

/** Outstanding stretches of the issued invoices, sorted by `closed` (drafts dropped). */
export function invoiceIntervals(invoices: readonly InvoiceRecord[]): InvoiceInterval[] {
  const out: InvoiceInterval[] = [];
  for (const inv of invoices) {
    if (inv.status === "draft" || inv.issued_at === null) continue;
    checkInstant(`invoice ${inv.id} issued_at`, inv.issued_at);
    checkInstant(`invoice ${inv.id} due_at`, inv.due_at);
    const closed = closedAt(inv);
    if (closed <= inv.issued_at) continue; // never outstanding
    const base = {
      id: inv.id,
      customer_id: inv.customer_id,
      issued: inv.issued_at,
      due: inv.due_at,
    };
    // A payment before the issue counts from the issue; one at or after the close changes nothing.
    const partials = (inv.payments ?? [])
      .map((p) => ({ at: Math.max(p.at, inv.issued_at as number), amount: p.amount }))
      .filter((p) => p.at < closed && p.amount > 0n)
      .sort((a, b) => a.at - b.at);
    let from = inv.issued_at;
    let owed = inv.total;
    for (const p of partials) {
      if (p.at > from && owed > 0n) out.push({ ...base, from, closed: p.at, total: owed });
      owed -= p.amount;
      from = p.at;
    }
    if (owed > 0n) out.push({ ...base, from, closed, total: owed });
  }
  return out.sort((a, b) => a.closed - b.closed);
}

function emptyBuckets(): Record<AgingBucket, BucketTotal> {
  return Object.fromEntries(AGING_BUCKETS.map((b) => [b, { count: 0, total: 0n }])) as Record<
    AgingBucket,
    BucketTotal
  >;
}

/** Outstanding invoices at t over intervals sorted by `closed` (see invoiceIntervals): only the
 * invoices still unpaid after t are visited (binary search), so a sparkline of past dates costs
 * the invoices open at some point of it, not every invoice ever issued. */
export function outstandingOfIntervals(
  intervals: readonly InvoiceInterval[],
  t: number,
): OutstandingInvoices {
  checkInstant("t", t);
  let lo = 0;
  let hi = intervals.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((intervals[mid] as InvoiceInterval).closed <= t) lo = mid + 1;
    else hi = mid;
  }
  const buckets = emptyBuckets();
  let count = 0;
  let total = 0n;
  for (let i = lo; i < intervals.length; i++) {
    const inv = intervals[i] as InvoiceInterval;
    if (inv.from > t) continue;
    const b = buckets[agingBucket(daysPastDue(inv.due, t))];
    b.count++;
    b.total += inv.total;
    count++;
    total += inv.total;
  }
  return { at: t, count, total, buckets };
}

/** Outstanding invoices at t, from plain invoice records in any order. */
export function outstandingInvoicesAt(
  invoices: readonly InvoiceRecord[],
  t: number,
): OutstandingInvoices {
  return outstandingOfIntervals(invoiceIntervals(invoices), t);
}

/** One invoice outstanding at t: the rows behind the outstanding-invoices tile. */
export interface OutstandingInvoice {
  invoice_id: string;
  customer_id: string;
  /** What is still owed at t (the total less the partial payments so far), nanos. */
  total: bigint;
  issued_at: number;
  due_at: number;
  days_past_due: number;
  bucket: AgingBucket;
}

/** The invoices outstanding at t (their count and totals are outstandingOfIntervals'), most
 * days past due first, then by id. */
export function outstandingListOfIntervals(
  intervals: readonly InvoiceInterval[],
  t: number,
): OutstandingInvoice[] {
  checkInstant("t", t);
  const rows: OutstandingInvoice[] = [];
  for (const inv of intervals) {
    if (inv.from > t || inv.closed <= t) continue;
    const days = daysPastDue(inv.due, t);
    rows.push({
      invoice_id: inv.id,
      customer_id: inv.customer_id,
      total: inv.total,
      issued_at: inv.issued,
      due_at: inv.due,
      days_past_due: days,
      bucket: agingBucket(days),
    });
  }
  return rows.sort(
    (a, b) => b.days_past_due - a.days_past_due || (a.invoice_id < b.invoice_id ? -1 : 1),
  );
}
