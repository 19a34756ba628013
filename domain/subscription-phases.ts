// Subscription history → what rating and invoicing need. Pure: no storage, no clock.
//
// A subscription is a list of phases, one plan each, over half-open [start, end). Rules decided
// here (docs/metrics.md §Billing, README):
//
// - Billing periods of a phase count from its anchor (domain/billing-period.ts). A plan change
//   between plans of the same billing interval keeps the anchor, so the billing dates do not
//   move; a change to another interval (monthly ↔ annual) re-anchors at the change instant: the
//   old period closes there, short, and the new plan's periods count from it.
// - One plan prices one stretch of usage. The part of a period after a mid-period change is a
//   new stretch with its own usage ledger: the new plan's included quota, tiers and volume
//   discounts apply to the usage since the change, the old plan's to the usage before it. (The
//   alternative, carrying the period's usage across plans, makes an event's revenue depend on
//   the order events arrive in, so no invoice could equal the sum of its events.) The flat fee
//   and the minimum commitment of each plan are prorated to the part of the period it covers.
// - The customer actor keys its ledger by (subscription, period start of the event's phase), so
//   the stretch after a mid-period change is given to the actor as its own phase anchored at the
//   change instant: its "period start", and so its ledger key, is the change instant. From the
//   next billing date on, the phase continues with the subscription's anchor.
// - One invoice per subscription × billing period. It closes at the period end, or earlier when
//   the service ends inside the period (a cancel, or a re-anchoring change); it lists every
//   stretch's charges (pricing.ts periodCharges over that stretch's ledger), then coupons on the
//   combined amount, rounded once to the currency's minor unit.

import { type BillingInterval, nthPeriod, periodContaining, periodIndex } from "./billing-period";
import { applyDiscounts, compileDiscount } from "./kpi/committed";
import { roundNanos } from "./money";
import {
  type ChargeLine,
  type CompiledPlan,
  type Coupon,
  type PeriodCharges,
  periodCharges,
} from "./pricing";
import type { Phase } from "./rating";
import { DAY_MS } from "./time";

export interface PhaseRecord {
  plan_id: string;
  start: number;
  /** Exclusive; null while open-ended. */
  end: number | null;
  anchor: number;
}

export interface SubscriptionTerms {
  subscription_id: string;
  product_id: string;
  trial_end: number | null;
  /** Sorted by start, not overlapping. */
  phases: readonly PhaseRecord[];
}

type IntervalOf = (planId: string) => BillingInterval | undefined;

/** The anchor of a phase that starts at `at` after `previous`: kept when the billing interval
 * stays the same, the change instant otherwise. */
export function anchorForChange(
  previous: { anchor: number; interval: BillingInterval },
  next: { interval: BillingInterval },
  at: number,
): number {
  return previous.interval === next.interval ? previous.anchor : at;
}

/** The phases the customer actor rates against: each phase that starts between two billing
 * dates is split there, its first stretch anchored at its own start (a ledger of its own). */
export function ratingPhases(sub: SubscriptionTerms, intervalOf: IntervalOf): Phase[] {
  const out: Phase[] = [];
  for (const p of sub.phases) {
    if (p.end !== null && p.end <= p.start) continue;
    const base = {
      subscription_id: sub.subscription_id,
      plan_id: p.plan_id,
      product_id: sub.product_id,
      trial_end: sub.trial_end,
    };
    const interval = intervalOf(p.plan_id);
    const period = interval ? periodContaining(p.anchor, interval, p.start) : null;
    if (period === null || period.start === p.start) {
      out.push({ ...base, start: p.start, end: p.end, anchor: p.anchor });
      continue;
    }
    const cut = p.end === null ? period.end : Math.min(p.end, period.end);
    out.push({ ...base, start: p.start, end: cut, anchor: p.start });
    if (p.end === null || p.end > period.end) {
      out.push({ ...base, start: period.end, end: p.end, anchor: p.anchor });
    }
  }
  return out;
}

/** A stretch of a billing period under one plan, with the actor's ledger key for it. */
export interface PeriodPiece {
  plan_id: string;
  /** [from, to) inside the period. */
  from: number;
  to: number;
  /** periodUsage(subscription, ledger_start) holds this stretch's rated usage. */
  ledger_start: number;
}

export interface BillingPeriod {
  start: number;
  end: number;
  /** When the period is invoiced: its end, or the end of the service inside it. */
  closes_at: number;
  pieces: PeriodPiece[];
}

/** The billing periods of a subscription that start before `until`, and end after `after`
 * (default: all), in order. An open-ended subscription's periods are listed up to `until`. */
export function billingPeriods(
  sub: SubscriptionTerms,
  intervalOf: IntervalOf,
  until: number,
  after = Number.NEGATIVE_INFINITY,
): BillingPeriod[] {
  const byStart = new Map<number, BillingPeriod>();
  for (const p of sub.phases) {
    const end = p.end ?? Number.POSITIVE_INFINITY;
    if (end <= p.start) continue;
    const interval = intervalOf(p.plan_id);
    if (interval === undefined) continue;
    // The first period to list: the one holding `after` (or the phase's last instant, when the
    // phase ended before `after`: its period may still end after it).
    const probe = Math.max(p.start, Math.min(after, end - 1));
    let n = periodIndex(p.anchor, interval, probe);
    for (;;) {
      const period = nthPeriod(p.anchor, interval, n++);
      if (period.start >= end || period.start >= until) break;
      const pieceFrom = Math.max(p.start, period.start);
      const pieceTo = Math.min(end, period.end);
      if (pieceTo <= pieceFrom) continue;
      let bp = byStart.get(period.start);
      if (bp === undefined) {
        bp = { start: period.start, end: period.end, closes_at: period.end, pieces: [] };
        byStart.set(period.start, bp);
      }
      bp.pieces.push({ plan_id: p.plan_id, from: pieceFrom, to: pieceTo, ledger_start: pieceFrom });
    }
  }
  const periods = [...byStart.values()].sort((a, b) => a.start - b.start);
  for (const bp of periods) {
    bp.pieces.sort((a, b) => a.from - b.from);
    const last = bp.pieces[bp.pieces.length - 1];
    bp.closes_at = last ? Math.min(bp.end, last.to) : bp.end;
  }
  return periods.filter((bp) => bp.end > after);
}

export interface InvoiceLine extends ChargeLine {
  plan_id: string | null;
  service_from: number | null;
  service_to: number | null;
}

export interface InvoiceCharges {
  lines: InvoiceLine[];
  /** Flat fees (prorated) + usage charges after volume discounts, all stretches. */
  subtotal: bigint;
  minimum_topup: bigint;
  /** Coupons, ≤ 0. */
  discount_total: bigint;
  rounding: bigint;
  /** Rounded to the currency's minor unit. */
  total: bigint;
  /** The usage lines (after volume discounts): equals the sum of the period's events' revenue. */
  usage_total: bigint;
}

/** An invoice for one billing period: periodCharges for each stretch over its own usage, coupons
 * on the combined amount (each coupon's percent_off, then its amount_off, never below 0, as
 * pricing.ts applies them), one rounding to the currency's minor unit. */
export function invoiceCharges(
  period: BillingPeriod,
  trialEnd: number | null,
  stretches: readonly { piece: PeriodPiece; plan: CompiledPlan; usage: Map<string, bigint> }[],
  coupons: readonly Coupon[] = [],
): InvoiceCharges {
  if (stretches.length === 0) throw new RangeError("an invoice needs at least one stretch");
  const lines: InvoiceLine[] = [];
  let subtotal = 0n;
  let topup = 0n;
  let usageTotal = 0n;
  let minorUnits = 2;
  stretches.forEach(({ piece, plan, usage }, i) => {
    if (i === 0) minorUnits = plan.minorUnits;
    const charges: PeriodCharges = periodCharges(plan, {
      usage,
      periodStart: period.start,
      periodEnd: period.end,
      activeFrom: piece.from,
      activeTo: piece.to,
      trialEnd,
    });
    for (const line of charges.lines) {
      if (line.type === "rounding") continue;
      lines.push({ ...line, plan_id: plan.id, service_from: piece.from, service_to: piece.to });
      if (line.type !== "flat" && line.type !== "minimum") usageTotal += line.amount;
    }
    subtotal += charges.subtotal;
    topup += charges.minimum_topup;
  });
  let running = subtotal + topup;
  let discountTotal = 0n;
  coupons.forEach((coupon, i) => {
    const before = running;
    running = applyDiscounts(running, [compileDiscount(coupon)]);
    const off = before - running;
    discountTotal -= off;
    const parts = [
      coupon.percent_off !== undefined ? `${coupon.percent_off}% off` : "",
      coupon.amount_off !== undefined ? `${coupon.amount_off} off` : "",
    ].filter(Boolean);
    lines.push({
      component_index: null,
      type: "coupon",
      quantity: 0n,
      amount: -off,
      description: coupon.description ?? `Coupon ${i + 1}: ${parts.join(", then ")}`,
      plan_id: null,
      service_from: null,
      service_to: null,
    });
  });
  const total = roundNanos(running, minorUnits);
  const rounding = total - running;
  if (rounding !== 0n) {
    lines.push({
      component_index: null,
      type: "rounding",
      quantity: 0n,
      amount: rounding,
      description: `Rounding to ${minorUnits} decimal places`,
      plan_id: null,
      service_from: null,
      service_to: null,
    });
  }
  return {
    lines,
    subtotal,
    minimum_topup: topup,
    discount_total: discountTotal,
    rounding,
    total,
    usage_total: usageTotal,
  };
}

// ---------------------------------------------------------------------------------------------
// Editing the history (the API validates first; these assume valid input)

/** The phases after a plan change effective at `at`: the phase holding `at` ends there and the
 * new plan runs from `at` to the subscription's end. A change exactly at the last phase's start
 * replaces that phase's plan. Anchor: kept for the same billing interval, `at` otherwise. */
export function phasesAfterChange(
  phases: readonly PhaseRecord[],
  change: { plan_id: string; at: number; subscriptionEnd: number | null },
  intervalOf: IntervalOf,
): PhaseRecord[] {
  const kept = phases.filter((p) => p.start < change.at).map((p) => ({ ...p }));
  const previous = kept[kept.length - 1];
  const nextInterval = intervalOf(change.plan_id);
  let anchor = change.at;
  if (previous !== undefined && previous.plan_id === change.plan_id) {
    // Back to the plan in force before: the earlier phase simply continues.
    previous.end = change.subscriptionEnd;
    return kept;
  }
  if (previous !== undefined) {
    previous.end = change.at;
    const prevInterval = intervalOf(previous.plan_id);
    if (prevInterval !== undefined && nextInterval !== undefined) {
      anchor = anchorForChange(
        { anchor: previous.anchor, interval: prevInterval },
        { interval: nextInterval },
        change.at,
      );
    }
  }
  kept.push({ plan_id: change.plan_id, start: change.at, end: change.subscriptionEnd, anchor });
  return kept;
}

/** The phases after a cancel effective at `at`: phases starting after it are dropped (a
 * scheduled change after the cancel never happens) and the last one ends at `at`. The first
 * phase always stays (a cancel at the start leaves an empty phase: never live). */
export function phasesAfterCancel(phases: readonly PhaseRecord[], at: number): PhaseRecord[] {
  const kept = phases.filter((p, i) => i === 0 || p.start < at).map((p) => ({ ...p }));
  const last = kept[kept.length - 1];
  if (last !== undefined) last.end = Math.max(last.start, at);
  return kept;
}

// ---------------------------------------------------------------------------------------------
// Recognising recurring fees day by day (COGS & margin read models)

/**
 * A subscription's flat fees earned on each UTC day of [from, to) (day starts, epoch ms →
 * nanos): each billing period's flat fee accrues evenly over the period's billable time (after
 * the trial, while its plan is in force), so a month's days add up to the invoice's flat lines
 * (up to the half-nano rounding of each day). Minimum-commitment top-ups are not accrued (they
 * are known only when the period closes; the invoice shows them).
 */
export function dailyFees(
  sub: SubscriptionTerms,
  planOf: (planId: string) => { interval: BillingInterval; flat: bigint } | undefined,
  from: number,
  to: number,
): Map<number, bigint> {
  const out = new Map<number, bigint>();
  const intervalOf = (id: string) => planOf(id)?.interval;
  for (const period of billingPeriods(sub, intervalOf, to, from)) {
    const length = BigInt(period.end - period.start);
    for (const piece of period.pieces) {
      const flat = planOf(piece.plan_id)?.flat ?? 0n;
      if (flat === 0n) continue;
      const a = Math.max(piece.from, sub.trial_end ?? piece.from, from);
      const b = Math.min(piece.to, to);
      if (b <= a) continue;
      for (let day = Math.floor(a / DAY_MS) * DAY_MS; day < b; day += DAY_MS) {
        const ms = Math.min(b, day + DAY_MS) - Math.max(a, day);
        if (ms <= 0) continue;
        const amount = (flat * BigInt(ms) * 2n + length) / (2n * length); // half-up, ≥ 0
        out.set(day, (out.get(day) ?? 0n) + amount);
      }
    }
  }
  return out;
}
