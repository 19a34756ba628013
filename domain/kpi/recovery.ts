// Payment recovery (issue 14 item 4, docs/metrics.md#payment-recovery): what dunning brings back.
// An invoice enters dunning at its first failed payment attempt while it is owed; from then it
// is recovered (paid), lost (voided: written off), or still open (retrying). A case still
// retrying is not a success: the recovery rate counts it in the denominator.

import { DAY_MS } from "../time";
import { closedAt } from "./invoices";
import { checkInstant } from "./time";
import type { InvoiceRecord } from "./types";

/** One invoice's way through dunning. */
export interface DunningEpisode {
  readonly invoice_id: string;
  readonly customer_id: string;
  /** The first failed attempt while it was owed. */
  readonly entered: number;
  /** What was owed then: the total less the partial payments before it (nanos). */
  readonly owed: bigint;
  readonly paid_at: number | null;
  readonly voided_at: number | null;
}

export interface Recovery {
  /** Episodes that entered dunning in (as_of − window_days, as_of]. */
  window_days: number;
  episodes: number;
  recovered: number;
  lost: number;
  /** Still retrying at as_of. */
  open: number;
  /** recovered ÷ (recovered + lost + open); null without episodes. */
  recovery_rate: number | null;
  /** What the recovered episodes owed when they entered dunning (nanos). */
  recovered_revenue: bigint;
  /** Median days from the first failure to the payment, over the recovered; null without. */
  median_days_to_recover: number | null;
  /** Customers with an episode lost in the window: involuntary churn, customers who meant to
   * pay and whose payments failed until the invoice was written off. */
  involuntary_churn: number;
}

/** The dunning episodes of the invoices that ever had a failed attempt while owed, by entry. */
export function dunningEpisodes(invoices: readonly InvoiceRecord[]): DunningEpisode[] {
  const out: DunningEpisode[] = [];
  for (const inv of invoices) {
    const failed = inv.first_failed_at;
    if (failed === undefined || failed === null || inv.issued_at === null) continue;
    checkInstant(`invoice ${inv.id} first_failed_at`, failed);
    const entered = Math.max(failed, inv.issued_at);
    if (entered >= closedAt(inv)) continue; // failed after it was settled: no dunning
    let owed = inv.total;
    for (const p of inv.payments ?? []) if (p.at <= entered) owed -= p.amount;
    const closed = closedAt(inv);
    const paid = inv.status === "paid" && Number.isFinite(closed) ? closed : null;
    out.push({
      invoice_id: inv.id,
      customer_id: inv.customer_id,
      entered,
      owed: owed > 0n ? owed : 0n,
      paid_at: paid,
      voided_at: inv.status === "void" ? (inv.voided_at ?? closed) : null,
    });
  }
  return out.sort((a, b) => a.entered - b.entered);
}

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Recovery as of t over the episodes that entered dunning in the trailing window. */
export function recoveryAt(
  episodes: readonly DunningEpisode[],
  t: number,
  windowDays = 90,
): Recovery {
  checkInstant("t", t);
  const from = t - windowDays * DAY_MS;
  let recovered = 0;
  let lost = 0;
  let open = 0;
  let revenue = 0n;
  const days: number[] = [];
  const churned = new Set<string>();
  for (const e of episodes) {
    if (e.entered <= from || e.entered > t) continue;
    if (e.paid_at !== null && e.paid_at <= t) {
      recovered++;
      revenue += e.owed;
      days.push(Math.round(((e.paid_at - e.entered) / DAY_MS) * 10) / 10);
    } else if (e.voided_at !== null && e.voided_at <= t) {
      lost++;
      churned.add(e.customer_id);
    } else {
      open++;
    }
  }
  const episodesCount = recovered + lost + open;
  return {
    window_days: windowDays,
    episodes: episodesCount,
    recovered,
    lost,
    open,
    recovery_rate: episodesCount === 0 ? null : recovered / episodesCount,
    recovered_revenue: revenue,
    median_days_to_recover: median(days),
    involuntary_churn: churned.size,
  };
}
