// The KPI index: subscription history, usage revenue, invoices and signals, sorted and grouped
// once, so that the value of any KPI at any instant is a linear pass over pre-built segments
// (no re-sorting, no re-parsing), and snapshots of per-customer MRR are memoised per instant.
//
// Per customer, MRR(t) = committed(t) + usage(t):
// - committed(t): sum over the customer's revenue-bearing phases live at t (phase start ≤ t <
//   phase end, and t ≥ trial_end) of the phase plan's committed monthly amount, net of the
//   subscription's discounts in force at t. Past-due and suspended subscriptions keep counting:
//   the contract stands until it is canceled (suspension is a reversible gate state).
// - usage(t): the customer's usage revenue over the 30 UTC days whose start lies in
//   [t − 30 days, t) (today's partial day included), minus the minimum-commitment allowance of
//   its revenue-bearing phases, floored at 0; and 0 unless the customer has at least one
//   revenue-bearing phase at t (a canceled or trial-only customer has no usage MRR, so churn
//   shows at the cancel instant, not 30 days later).

import { minBig } from "../money";
import {
  applyDiscounts,
  type CompiledDiscount,
  compileDiscount,
  normaliseMonthly,
} from "./committed";
import { type InvoiceInterval, invoiceIntervals } from "./invoices";
import { type DunningEpisode, dunningEpisodes } from "./recovery";
import { checkInstant, DAY_MS, dayIndex, lowerBound } from "./time";
import type {
  KpiInput,
  MrrBasis,
  RecurringTerms,
  StatusChange,
  SubscriptionHistory,
  SubscriptionStatus,
} from "./types";

/** A constant stretch of one subscription's committed MRR. */
export interface Segment {
  /** Inclusive, epoch ms. */
  readonly from: number;
  /** Exclusive, epoch ms (Infinity when open). */
  readonly to: number;
  /** Committed monthly nanos. */
  readonly committed: bigint;
  /** Monthly usage allowance (minimum commitment's excess), nanos. */
  readonly allowance: bigint;
}

export interface PhaseRecord {
  readonly plan_id: string;
  readonly start: number;
  /** Infinity when open. */
  readonly end: number;
}

export interface SubscriptionRecord {
  readonly id: string;
  readonly customerId: string;
  /** Ordinal into KpiIndex.customers. */
  readonly customer: number;
  readonly trialEnd: number | null;
  /** Non-empty phases, sorted, not overlapping. */
  readonly phases: readonly PhaseRecord[];
  /** Start of the first phase; Infinity when there is none. */
  readonly firstStart: number;
  /** Phase ends not continued by a phase starting at the same instant, ascending. */
  readonly serviceEnds: readonly number[];
  readonly changes: readonly StatusChange[];
}

export interface CustomerRecord {
  readonly id: string;
  /** Sorted by `from`. */
  readonly segments: readonly Segment[];
  readonly subscriptions: readonly number[];
  /** Ascending distinct UTC day indexes with usage revenue. */
  readonly usageDays: readonly number[];
  /** usagePrefix[i] = revenue of usageDays[0..i). */
  readonly usagePrefix: readonly bigint[];
  readonly signals: readonly { opened: number; resolved: number }[];
}

/** Per-customer MRR at one instant, by customer ordinal. */
export interface Snapshot {
  readonly at: number;
  readonly committed: readonly bigint[];
  readonly usage: readonly bigint[];
  readonly committedTotal: bigint;
  readonly usageTotal: bigint;
  /** Customers with committed + usage > 0. */
  readonly payingTotal: number;
  /** Customers with committed > 0. */
  readonly payingCommitted: number;
}

export interface KpiIndex {
  readonly customers: readonly CustomerRecord[];
  readonly customerIndex: ReadonlyMap<string, number>;
  readonly subscriptions: readonly SubscriptionRecord[];
  /** Outstanding intervals of the issued invoices, sorted by when they closed. */
  readonly invoices: readonly InvoiceInterval[];
  /** The invoices' ways through dunning, by when they entered it. */
  readonly dunning: readonly DunningEpisode[];
  /** Earliest instant of the data (history_start, else earliest phase start or usage day). */
  readonly historyStart: number | null;
  /** Midnight of the earliest usage day (usage_start when given); null without usage. Before
   * it Aforo has no record of usage, so a usage window reaching before it is not covered. */
  readonly usageStart: number | null;
  /** Memo of snapshots by instant; a pure cache. */
  readonly snapshots: Map<number, Snapshot>;
}

const SNAPSHOT_CACHE_LIMIT = 1024;
const ZERO = 0n;
const USAGE_WINDOW_DAYS = 30;

function lastAtOrBefore<T extends { at: number }>(sorted: readonly T[], t: number): T | undefined {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as T).at <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo === 0 ? undefined : sorted[lo - 1];
}

function normalisePhases(sub: SubscriptionHistory): PhaseRecord[] {
  const id = sub.subscription_id;
  const phases = sub.phases
    .map((p, i) => {
      checkInstant(`subscription ${id} phases.${i}.start`, p.start);
      if (p.end !== null) checkInstant(`subscription ${id} phases.${i}.end`, p.end);
      const end = p.end ?? Number.POSITIVE_INFINITY;
      if (end < p.start)
        throw new RangeError(`subscription ${id}: phase ${i} ends before it starts`);
      return { plan_id: p.plan_id, start: p.start, end };
    })
    .filter((p) => p.end > p.start)
    .sort((a, b) => a.start - b.start);
  for (let i = 1; i < phases.length; i++) {
    const prev = phases[i - 1] as PhaseRecord;
    const cur = phases[i] as PhaseRecord;
    if (cur.start < prev.end) throw new RangeError(`subscription ${id}: phases overlap`);
  }
  return phases;
}

function subscriptionRecord(sub: SubscriptionHistory, customer: number): SubscriptionRecord {
  const phases = normalisePhases(sub);
  const serviceEnds: number[] = [];
  phases.forEach((p, i) => {
    const next = phases[i + 1];
    if (Number.isFinite(p.end) && (next === undefined || next.start !== p.end)) {
      serviceEnds.push(p.end);
    }
  });
  const trialEnd = sub.trial_end ?? null;
  if (trialEnd !== null) checkInstant(`subscription ${sub.subscription_id} trial_end`, trialEnd);
  const changes = [...(sub.status_changes ?? [])];
  for (const c of changes) checkInstant(`subscription ${sub.subscription_id} status change`, c.at);
  changes.sort((a, b) => a.at - b.at); // stable: the later-listed of two equal instants wins
  return {
    id: sub.subscription_id,
    customerId: sub.customer_id,
    customer,
    trialEnd,
    phases,
    firstStart: phases[0]?.start ?? Number.POSITIVE_INFINITY,
    serviceEnds,
    changes,
  };
}

/** Status of a subscription at t; null before it starts. Rules: no live phase at t (after it
 * started) → canceled; else the latest status change at or before t if it is past_due or
 * suspended; else trialing before trial_end; else active. */
export function statusOf(sub: SubscriptionRecord, t: number): SubscriptionStatus | null {
  if (!(t >= sub.firstStart)) return null;
  let live = false;
  for (const p of sub.phases) {
    if (p.start > t) break;
    if (t < p.end) {
      live = true;
      break;
    }
  }
  if (!live) return "canceled";
  const change = lastAtOrBefore(sub.changes, t);
  if (change !== undefined && change.status !== "active") return change.status;
  if (sub.trialEnd !== null && t < sub.trialEnd) return "trialing";
  return "active";
}

/** Status of one subscription at t, straight from its history (null before it starts). */
export function subscriptionStatusAt(
  sub: SubscriptionHistory,
  t: number,
): SubscriptionStatus | null {
  checkInstant("t", t);
  return statusOf(subscriptionRecord(sub, 0), t);
}

function segmentsOf(
  sub: SubscriptionHistory,
  phases: readonly PhaseRecord[],
  trialEnd: number | null,
  plans: ReadonlyMap<string, RecurringTerms>,
): Segment[] {
  const discounts: CompiledDiscount[] = (sub.discounts ?? []).map((d, i) => {
    try {
      return compileDiscount(d);
    } catch (e) {
      throw new RangeError(`subscription ${sub.subscription_id} discounts.${i}: ${String(e)}`);
    }
  });
  const out: Segment[] = [];
  for (const p of phases) {
    const terms = plans.get(p.plan_id);
    if (terms === undefined) {
      throw new RangeError(`subscription ${sub.subscription_id}: unknown plan ${p.plan_id}`);
    }
    const from = trialEnd === null ? p.start : Math.max(p.start, trialEnd);
    const to = p.end;
    if (to <= from) continue;
    const cuts = new Set<number>([from, to]);
    for (const d of discounts) {
      if (d.from > from && d.from < to) cuts.add(d.from);
      if (d.to > from && d.to < to) cuts.add(d.to);
    }
    const bounds = [...cuts].sort((a, b) => a - b);
    for (let i = 0; i + 1 < bounds.length; i++) {
      const a = bounds[i] as number;
      const b = bounds[i + 1] as number;
      const perPeriod = applyDiscounts(
        terms.committed,
        discounts.filter((d) => d.from <= a && a < d.to),
      );
      const excess = terms.minimum_excess ?? 0n;
      out.push({
        from: a,
        to: b,
        committed: normaliseMonthly(perPeriod, terms.interval),
        allowance: normaliseMonthly(minBig(excess, perPeriod), terms.interval),
      });
    }
  }
  return out;
}

/** Distinct ascending days and prefix sums of their revenue (rows in any order; rows of one
 * day add up). Skips the sort when the rows already come ordered by day. */
function dailyPrefix(
  dayList: readonly number[],
  revenue: readonly bigint[],
): { days: number[]; prefix: bigint[] } {
  let order: number[] | null = null;
  for (let i = 1; i < dayList.length; i++) {
    if ((dayList[i] as number) < (dayList[i - 1] as number)) {
      order = dayList
        .map((_, j) => j)
        .sort((a, b) => (dayList[a] as number) - (dayList[b] as number));
      break;
    }
  }
  const days: number[] = [];
  const prefix: bigint[] = [0n];
  let running = 0n;
  for (let k = 0; k < dayList.length; k++) {
    const j = order === null ? k : (order[k] as number);
    const day = dayList[j] as number;
    running += revenue[j] as bigint;
    if (days.length > 0 && days[days.length - 1] === day) prefix[prefix.length - 1] = running;
    else {
      days.push(day);
      prefix.push(running);
    }
  }
  return { days, prefix };
}

/** Sorts and groups the input once. Throws RangeError on inconsistent data (unknown plan,
 * overlapping phases of one subscription, non-integer instants, negative amounts). */
export function buildKpiIndex(input: KpiInput): KpiIndex {
  const plans = new Map<string, RecurringTerms>();
  for (const p of input.plans) {
    if (p.committed < 0n || (p.minimum_excess ?? 0n) < 0n) {
      throw new RangeError(`plan ${p.plan_id}: amounts must not be negative`);
    }
    if ((p.minimum_excess ?? 0n) > p.committed) {
      throw new RangeError(`plan ${p.plan_id}: minimum_excess exceeds committed`);
    }
    plans.set(p.plan_id, p);
  }

  const customerIndex = new Map<string, number>();
  const drafts: {
    id: string;
    segments: Segment[];
    subscriptions: number[];
    usageDays: number[];
    usageRevenue: bigint[];
    signals: { opened: number; resolved: number }[];
  }[] = [];
  const ordinal = (id: string): number => {
    let n = customerIndex.get(id);
    if (n === undefined) {
      n = drafts.length;
      customerIndex.set(id, n);
      drafts.push({
        id,
        segments: [],
        subscriptions: [],
        usageDays: [],
        usageRevenue: [],
        signals: [],
      });
    }
    return n;
  };

  let earliest = Number.POSITIVE_INFINITY;
  let earliestUsage = Number.POSITIVE_INFINITY;
  const subscriptions: SubscriptionRecord[] = [];
  for (const sub of input.subscriptions) {
    const c = ordinal(sub.customer_id);
    const rec = subscriptionRecord(sub, c);
    const draft = drafts[c];
    if (draft === undefined) throw new Error("unreachable");
    draft.subscriptions.push(subscriptions.length);
    subscriptions.push(rec);
    draft.segments.push(...segmentsOf(sub, rec.phases, rec.trialEnd, plans));
    earliest = Math.min(earliest, rec.firstStart);
  }
  for (const u of input.usage ?? []) {
    checkInstant(`usage of ${u.customer_id} day`, u.day);
    const draft = drafts[ordinal(u.customer_id)];
    if (draft === undefined) throw new Error("unreachable");
    const day = dayIndex(u.day);
    draft.usageDays.push(day);
    draft.usageRevenue.push(u.revenue);
    if (day * DAY_MS < earliest) earliest = day * DAY_MS;
    if (day * DAY_MS < earliestUsage) earliestUsage = day * DAY_MS;
  }
  for (const u of input.usage_by_customer ?? []) {
    if (u.days.length !== u.revenue.length) {
      throw new RangeError(`usage of ${u.customer_id}: days and revenue differ in length`);
    }
    const draft = drafts[ordinal(u.customer_id)];
    if (draft === undefined) throw new Error("unreachable");
    for (let i = 0; i < u.days.length; i++) {
      const t = u.days[i] as number;
      checkInstant(`usage of ${u.customer_id} day`, t);
      const day = dayIndex(t);
      draft.usageDays.push(day);
      draft.usageRevenue.push(u.revenue[i] as bigint);
      if (day * DAY_MS < earliest) earliest = day * DAY_MS;
      if (day * DAY_MS < earliestUsage) earliestUsage = day * DAY_MS;
    }
  }
  for (const s of input.signals ?? []) {
    checkInstant(`signal of ${s.customer_id} opened_at`, s.opened_at);
    const draft = drafts[ordinal(s.customer_id)];
    if (draft === undefined) throw new Error("unreachable");
    draft.signals.push({
      opened: s.opened_at,
      resolved: s.resolved_at ?? Number.POSITIVE_INFINITY,
    });
  }

  const customers: CustomerRecord[] = drafts.map((d) => {
    const { days, prefix } = dailyPrefix(d.usageDays, d.usageRevenue);
    return {
      id: d.id,
      segments: d.segments.sort((a, b) => a.from - b.from),
      subscriptions: d.subscriptions,
      usageDays: days,
      usagePrefix: prefix,
      signals: d.signals,
    };
  });

  const invoices = invoiceIntervals(input.invoices ?? []);
  const dunning = dunningEpisodes(input.invoices ?? []);

  let historyStart: number | null = input.history_start ?? null;
  if (historyStart === null && Number.isFinite(earliest)) historyStart = earliest;
  if (historyStart !== null) checkInstant("history_start", historyStart);
  let usageStart: number | null = input.usage_start ?? null;
  if (usageStart === null && Number.isFinite(earliestUsage)) usageStart = earliestUsage;
  if (usageStart !== null) checkInstant("usage_start", usageStart);

  return {
    customers,
    customerIndex,
    subscriptions,
    invoices,
    dunning,
    historyStart,
    usageStart,
    snapshots: new Map(),
  };
}

/** The UTC day indexes [lo, hi] of the 30-day usage window at t: the 30 days whose start lies in
 * [t − 30 d, t) (the day containing t, partial, is the last one unless t is a midnight). */
export function usageWindow(t: number): { lo: number; hi: number } {
  const hi = Math.ceil(t / DAY_MS) - 1;
  return { lo: hi - (USAGE_WINDOW_DAYS - 1), hi };
}

/** Usage revenue of a customer over the 30-day window at t. */
export function trailingUsage(c: CustomerRecord, t: number): bigint {
  const { lo, hi } = usageWindow(t);
  return usageBetween(c, lo, hi);
}

function usageBetween(c: CustomerRecord, lo: number, hi: number): bigint {
  const days = c.usageDays;
  if (days.length === 0 || (days[0] as number) > hi || (days[days.length - 1] as number) < lo) {
    return 0n;
  }
  const a = lowerBound(days, lo);
  const b = lowerBound(days, hi + 1);
  return a === b ? 0n : (c.usagePrefix[b] as bigint) - (c.usagePrefix[a] as bigint);
}

/** Per-customer MRR at t (memoised per instant). */
export function snapshotAt(index: KpiIndex, t: number): Snapshot {
  checkInstant("t", t);
  const cached = index.snapshots.get(t);
  if (cached !== undefined) return cached;
  const { lo, hi } = usageWindow(t);
  const n = index.customers.length;
  const committed = new Array<bigint>(n);
  const usage = new Array<bigint>(n);
  let committedTotal = 0n;
  let usageTotal = 0n;
  let payingTotal = 0;
  let payingCommitted = 0;
  for (let i = 0; i < n; i++) {
    const c = index.customers[i] as CustomerRecord;
    // Reuses the segments' bigints where it can: a snapshot allocates little (GC is the cost).
    let sum = ZERO;
    let allowance = ZERO;
    let bearing = false;
    for (const s of c.segments) {
      if (s.from > t) break;
      if (t < s.to) {
        sum = bearing ? sum + s.committed : s.committed;
        allowance = bearing ? allowance + s.allowance : s.allowance;
        bearing = true;
      }
    }
    let u = ZERO;
    if (bearing && c.usageDays.length > 0) {
      u = usageBetween(c, lo, hi);
      if (allowance !== ZERO) u -= allowance;
      if (u < ZERO) u = ZERO;
    }
    committed[i] = sum;
    usage[i] = u;
    if (sum !== ZERO) {
      committedTotal += sum;
      payingCommitted++;
    }
    if (u !== ZERO) usageTotal += u;
    if (sum !== ZERO || u > ZERO) payingTotal++;
  }
  const snap: Snapshot = {
    at: t,
    committed,
    usage,
    committedTotal,
    usageTotal,
    payingTotal,
    payingCommitted,
  };
  if (index.snapshots.size >= SNAPSHOT_CACHE_LIMIT) index.snapshots.clear();
  index.snapshots.set(t, snap);
  return snap;
}

/** One customer's MRR in a snapshot on the given basis. */
export function customerMrrOf(snap: Snapshot, customer: number, basis: MrrBasis = "total"): bigint {
  const committed = snap.committed[customer] ?? 0n;
  return basis === "committed" ? committed : committed + (snap.usage[customer] ?? 0n);
}
