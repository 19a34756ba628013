// Cases (issue 12, item 3): signals stay immutable findings (SPEC §5); a case groups the signals
// an operator works as one story. Pure rules here; D1 in store/cases.ts.
//
// - One OPEN case per (customer, detector, scope, period), the case key. The scope is what the
//   finding is about: a product (margin, churn, COGS spikes), a product's metric (pacing), or a
//   product's metric in one direction (usage anomalies: a spike and an outage are two stories).
//   The period is the billing period of period-bound detectors (margin: the calendar month;
//   pacing: the subscription's period); episode detectors (anomaly, COGS spike, churn) have none:
//   a case is one run of findings, and a finding that starts more than `gap` after the case's
//   last one begins a new case (the hours in between were judged normal: the condition cleared).
// - A customer whose margin is judged on one product only has customer-level ("*") and
//   product-level margin findings with the same numbers: both join the product's case.
// - A new signal joins the open case with its key and escalates its level (the rank): margin
//   L1 → L2 → L3 (rank 1–3), pacing 80 → 100 → 120 (rank = threshold %), anomaly and COGS spikes
//   by consecutive hours (rank = hours the case spans), churn by the deepest drop (rank = drop %).
//   The rank never goes down; it is computed where the case is written, from the case's stored
//   window and the signal's rank (spanRank), so a batch with several signals of one case is right.
// - Cases close themselves (closeDecision), with the reason: the period closed (margin, pacing),
//   the condition cleared (the customer's later hours came in with no finding), or the watch
//   expired (no new finding for a while and no later data: a silent customer, a churn episode
//   four weeks old). An operator may resolve an open case and reopen a resolved one.

import { detectorSpec, type Window } from "./detectors";
import { idempotencyKey } from "./detectors/types";
import type { PolicyDocument, Rung } from "./ladder";

export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

/** Hours without a finding that still belong to the same episode (one quiet hour between two
 * anomalous ones is flapping, not a new story). */
export const EPISODE_GAP_HOURS = 1;
/** An episode case with no new finding for this long (wall clock) and no later data closes. */
export const EPISODE_EXPIRY_MS = DAY;
/** A churn case watches the customer this long after its last finding. */
export const CHURN_WATCH_MS = 28 * DAY;

export const CASE_CLOSE_REASONS = [
  "operator",
  "condition_cleared",
  "period_closed",
  "expired",
] as const;
export type CaseCloseReason = (typeof CASE_CLOSE_REASONS)[number];

/** How a detector's signals group (by detector name; unknown detectors: one episode per
 * product/metric with a day's gap, ranked by count-free span). */
interface GroupingRule {
  /** "settled": one case per subject (the scope), closed only by what settles it (a payment,
   * the invoice voided) or an operator, never by time or later usage. */
  kind: "period" | "episode" | "settled";
  /** What the rank of a case measures. */
  rank: "level" | "threshold" | "span" | "magnitude";
  /** Episode detectors: a finding starting later than this after the case's end opens a new one. */
  gapMs: number;
  /** The scope in words when it is not the signal's product/metric: the finding's own subject
   * (an invoice; a product or segment of the tenant). */
  scopeOf?: (s: CaseSignal) => string;
}

/** A budget case's subject: "segment plan:pro", "product chat-api". */
function budgetScope(s: CaseSignal): string {
  const d = s.details;
  const id = String(d.scope_id ?? "?");
  return d.scope_kind === "segment"
    ? `segment ${String(d.segment_by ?? "plan")}:${id}`
    : `product ${id}`;
}

const RULES: Record<string, GroupingRule> = {
  MarginGuard: { kind: "period", rank: "level", gapMs: 0 },
  QuotaPacingProjectionService: { kind: "period", rank: "threshold", gapMs: 0 },
  BillableUnitAnomalyDetector: { kind: "episode", rank: "span", gapMs: EPISODE_GAP_HOURS * HOUR },
  CostSpikeDetector: { kind: "episode", rank: "span", gapMs: EPISODE_GAP_HOURS * HOUR },
  WeeklyChurnSignalDetector: { kind: "episode", rank: "magnitude", gapMs: CHURN_WATCH_MS },
  // One case per unpaid invoice: failed → throttle → suspend, closed by the payment.
  PastDueDetector: {
    kind: "settled",
    rank: "level",
    gapMs: 0,
    scopeOf: (s) => `invoice ${String(s.details.invoice_number ?? s.details.invoice_id ?? "?")}`,
  },
  // Budget alerts (customer "*": the tenant): a product's or a segment's month, L1 → L2; a
  // product's or a segment's run of spiking hours.
  BudgetMarginDetector: { kind: "period", rank: "level", gapMs: 0, scopeOf: budgetScope },
  BudgetCostSpikeDetector: {
    kind: "episode",
    rank: "span",
    gapMs: EPISODE_GAP_HOURS * HOUR,
    scopeOf: budgetScope,
  },
};
const FALLBACK_RULE: GroupingRule = { kind: "episode", rank: "magnitude", gapMs: DAY };

export const groupingRule = (detector: string): GroupingRule => RULES[detector] ?? FALLBACK_RULE;

/** What grouping reads from a signal. */
export interface CaseSignal {
  detector: string;
  customer: string;
  product?: string | null;
  metric?: string | null;
  direction?: string | null;
  window: Window;
  magnitude: number;
  details: Record<string, unknown>;
}

/** Where a signal goes: its case key and the case's fixed attributes, and its rank. */
export interface CaseAssignment {
  key: string;
  detector: string;
  customer: string;
  /** The scope in words: "chat-api", "chat-api/input_tokens · spike", "*" (the customer). */
  scope: string;
  product: string | null;
  metric: string | null;
  direction: string | null;
  period: Window | null;
  /** The signal's own rank (for "span" cases, its own length in hours). */
  rank: number;
  /** The case's rank is the hours it spans (computed where the case is written). */
  spanRank: boolean;
  /** Episode cases: the open case with this key is continued only if this signal starts at or
   * before its end + gapMs; null for period cases (the period is in the key). */
  gapMs: number | null;
}

const LEVEL_RANK: Record<string, number> = { L1: 1, L2: 2, L3: 3 };

function signalRank(rule: GroupingRule, s: CaseSignal): number {
  switch (rule.rank) {
    case "level":
      return LEVEL_RANK[String(s.details.level)] ?? 1;
    case "threshold": {
      const t = Number(s.details.threshold_pct);
      return Number.isFinite(t) ? t : 0;
    }
    case "span":
      return Math.max(1, Math.round((s.window.end - s.window.start) / HOUR));
    default:
      return Number.isFinite(s.magnitude) ? Math.round(s.magnitude * 100) / 100 : 0;
  }
}

/**
 * The case a signal belongs to. `customerProducts`: the products a customer-level margin signal's
 * period is judged on (usage and subscriptions); exactly one makes the "*" finding the product's.
 */
export function assignCase(
  s: CaseSignal,
  ctx: { customerProducts?: readonly string[] } = {},
): CaseAssignment {
  const rule = groupingRule(s.detector);
  let product = s.product ?? null;
  const metric = s.metric ?? null;
  const direction = rule.rank === "span" ? (s.direction ?? null) : null;
  if (s.detector === "MarginGuard" && product === null) {
    const products = [...new Set(ctx.customerProducts ?? [])];
    if (products.length === 1) product = products[0] ?? null;
  }
  const parts = [product ?? "*"];
  if (metric !== null) parts.push(metric);
  const scope = rule.scopeOf?.(s) ?? parts.join("/") + (direction ? ` · ${direction}` : "");
  const period = rule.kind === "period" ? { start: s.window.start, end: s.window.end } : null;
  return {
    key: idempotencyKey([
      "case",
      s.detector,
      s.customer,
      scope,
      period ? new Date(period.start).toISOString() : "",
    ]),
    detector: s.detector,
    customer: s.customer,
    scope,
    product,
    metric,
    direction,
    period,
    rank: signalRank(rule, s),
    spanRank: rule.rank === "span",
    gapMs: rule.kind === "episode" ? rule.gapMs : null,
  };
}

/** The level of a case in words, from its rank. */
export function levelLabel(detector: string, rank: number): string {
  switch (groupingRule(detector).rank) {
    case "level":
      return `L${Math.min(3, Math.max(1, Math.round(rank)))}`;
    case "threshold":
      return `${rank} %`;
    case "span":
      return `${rank} h`;
    default:
      return detector === "WeeklyChurnSignalDetector" ? `−${rank} %` : String(rank);
  }
}

/** A stored case as far as closing needs it. */
export interface CaseForClosing {
  detector: string;
  period: Window | null;
  window: Window;
  /** Wall-clock time of its last finding. */
  last_signal_at: number;
}

/** Hourly episode detectors (their cases clear when later hours pass without a finding). */
export const HOURLY_EPISODE_DETECTORS = Object.entries(RULES)
  .filter(([, r]) => r.kind === "episode" && r.rank === "span")
  .map(([name]) => name);

/** An hourly episode has cleared once the customer's usage reached the hour starting this long
 * after the case's end: the gap hour and the next have then closed (the watermark trails the
 * latest event by minutes) without a finding. */
export const CLEAR_AFTER_MS = EPISODE_GAP_HOURS * HOUR + 2 * HOUR;

/**
 * Whether an open case closes now, and why. `latestData`: the start of the customer's latest
 * hour with usage (null: none known). An hourly episode's condition has cleared once usage came
 * in for the hour CLEAR_AFTER_MS past its end.
 */
export function closeDecision(
  c: CaseForClosing,
  facts: { now: number; latestData: number | null; churnRecovered?: boolean },
): CaseCloseReason | null {
  const rule = groupingRule(c.detector);
  if (rule.kind === "settled") return null;
  if (rule.kind === "period") {
    const end = c.period?.end ?? c.window.end;
    return facts.now >= end ? "period_closed" : null;
  }
  if (c.detector === "WeeklyChurnSignalDetector") {
    if (facts.churnRecovered) return "condition_cleared";
    return facts.now >= c.window.end + CHURN_WATCH_MS ? "expired" : null;
  }
  if (facts.latestData !== null && facts.latestData >= c.window.end + CLEAR_AFTER_MS) {
    return "condition_cleared";
  }
  return facts.now - c.last_signal_at >= EPISODE_EXPIRY_MS &&
    facts.now >= c.window.end + EPISODE_EXPIRY_MS
    ? "expired"
    : null;
}

/**
 * Whether a churn case's customer has recovered: the detector's own re-arming rule
 * (domain/detectors/churn.ts) against the week before the drop its first signal recorded —
 * the mean over the signal's metrics of last-7-day units ÷ that week's (each capped at 2) is
 * above 1 − drop_pct / 100 again. `last7`: units per metric of the last 7 closed days.
 */
export function churnRecovered(
  details: Record<string, unknown>,
  last7: ReadonlyMap<string, number>,
): boolean {
  const metrics = String(details.metrics ?? "")
    .split(",")
    .filter(Boolean);
  const dropPct = Number(details.threshold_pct);
  const threshold = 1 - (Number.isFinite(dropPct) ? dropPct : 50) / 100;
  const ratios = metrics.flatMap((m) => {
    const before = Number(details[`prev_7:${m}`]);
    return before > 0 ? [Math.min((last7.get(m) ?? 0) / before, 2)] : [];
  });
  if (ratios.length === 0) return false;
  return ratios.reduce((a, b) => a + b, 0) / ratios.length > threshold;
}

/** Words for a close reason. */
export const CLOSE_REASON_TEXT: Record<CaseCloseReason, string> = {
  operator: "resolved by an operator",
  condition_cleared:
    "the condition cleared: later usage came in without a finding (a churned customer's usage recovered)",
  period_closed: "the period closed",
  expired: "no new finding for the watch period",
};

// The ladder of a case ----------------------------------------------------------------------

/** An action's state (store/actions.ts; `no_channel`: an ALERT with no enabled channel to send
 * to), or `not_reached`: no signal of the case has reached the step yet. */
export type LadderStepState =
  | "executed"
  | "no_channel"
  | "queued"
  | "reversed"
  | "failed"
  | "not_reached";

/** A signal of the case with its action, as the ladder reads them. */
export interface LadderInput {
  signal_id: string;
  direction: string | null;
  details: Record<string, unknown>;
  created_at: number;
  action: { id: string; rung: Rung; state: Exclude<LadderStepState, "not_reached"> } | null;
}

export interface LadderStep {
  /** The detector's ladder key (L1, "80", spike…) or null for a one-rung detector. */
  key: string | null;
  label: string;
  rung: Rung;
  /** What makes the case reach this step, with the policy's threshold. */
  trigger: string;
  state: LadderStepState;
  /** The policy runs this rung by itself (else it waits, queued, for an operator). */
  automatic: boolean;
  reached_at: number | null;
  signal_ids: string[];
  action_ids: string[];
}

const pct = (x: unknown) => {
  const n = Number(x);
  return Number.isFinite(n) ? `${Math.round(n * 1000) / 10} %` : "?";
};

function triggerText(
  detector: string,
  key: string | null,
  section: Record<string, unknown>,
  fallback: string,
): string {
  switch (detector) {
    case "MarginGuard": {
      const levels = (section.levels ?? {}) as Record<string, unknown>;
      return `period-to-date margin below ${pct(levels[key ?? ""])} (${key})`;
    }
    case "QuotaPacingProjectionService":
      return `projected period usage reaches ${key} % of the included quota`;
    case "BillableUnitAnomalyDetector":
      return `a closed hour's units ${key === "drop" ? "below" : "above"} the customer's baseline by more than ${section.k ?? "k"} σ`;
    case "CostSpikeDetector":
      return `an hour's COGS at least ${section.min_ratio ?? "?"}× its usual and ${section.k ?? "?"} σ above it`;
    case "WeeklyChurnSignalDetector":
      return `usage of the last 7 days fell ${section.drop_pct ?? "?"} % or more against the 7 before`;
    case "BudgetMarginDetector":
      return `the product's or segment's period-to-date margin below ${
        key === "L2" ? section.critical_floor_pct : section.margin_floor_pct
      } % (${key === "L2" ? "critical floor" : "floor"}), once its revenue reaches $${section.min_revenue_usd ?? "?"}`;
    case "BudgetCostSpikeDetector":
      return `an hour's COGS of the product or segment at least ${section.min_ratio ?? "?"}× its usual, $${section.min_delta_usd ?? "?"} and ${section.k ?? "?"} σ above it`;
    case "PastDueDetector":
      return key === "L1"
        ? "a payment failed, or none came by the due date"
        : `${key === "L2" ? section.throttle_after_days : section.block_after_days} days past the due date, still unpaid`;
    default:
      return fallback;
  }
}

const STATE_ORDER: Exclude<LadderStepState, "not_reached">[] = [
  "executed",
  "no_channel",
  "failed",
  "queued",
  "reversed",
];

/**
 * Every rung of a case's ladder with its state: the steps the detector's ladder defines for
 * this case (margin: L1, L2, L3; pacing: each policy threshold; one-rung detectors and an
 * anomaly's direction: one step), each with the rung the policy maps it to, what triggers it,
 * and whether the case reached it (the state of its signals' actions: executed if any ran,
 * else no_channel, failed, queued, reversed) or not yet.
 */
export function caseLadder(
  detector: string,
  direction: string | null,
  policy: PolicyDocument,
  signals: readonly LadderInput[],
): LadderStep[] {
  const spec = detectorSpec(detector);
  if (!spec) return [];
  const section = ((policy.detectors as Record<string, unknown>)[spec.key] ?? {}) as Record<
    string,
    unknown
  >;
  const ladder = spec.ladder;
  const labels = typeof ladder.labels === "string" ? null : ladder.labels;
  const keyOf = (s: Pick<LadderInput, "direction" | "details">) =>
    ladder.kind === "rung"
      ? null
      : (ladder.keyOf?.({
          direction: (s.direction ?? undefined) as never,
          details: s.details as never,
        }) ?? null);
  let keys: (string | null)[];
  if (ladder.kind === "rung") keys = [null];
  else if (detector === "QuotaPacingProjectionService") {
    const t = Array.isArray(section.thresholds) ? section.thresholds : [];
    keys = t.map((x) => String(x));
  } else if (ladder.kind === "keys" && spec.key === "anomaly") {
    keys = [direction === "drop" ? "drop" : "spike"];
  } else keys = Object.keys(ladder.default as Record<string, Rung>);
  // Keys the case reached that the policy no longer lists (a threshold removed since).
  for (const s of signals) {
    const k = keyOf(s);
    if (!keys.includes(k)) keys.push(k);
  }
  if (detector === "QuotaPacingProjectionService")
    keys.sort((a, b) => Number(a ?? 0) - Number(b ?? 0));
  return keys.map((key) => {
    const mine = signals.filter((s) => keyOf(s) === key);
    // The rung the policy maps the step to now (a key the policy no longer maps: ALERT).
    const mapped = (policy.ladder as Record<string, unknown>)[spec.key];
    const rungNow: Rung =
      key === null
        ? (mapped as Rung)
        : ((mapped as Record<string, Rung> | undefined)?.[key] ?? "ALERT");
    const actions = mine.flatMap((s) => (s.action ? [s.action] : []));
    const state: LadderStepState =
      mine.length === 0
        ? "not_reached"
        : (STATE_ORDER.find((st) => actions.some((a) => a.state === st)) ?? "queued");
    const rung = actions[0]?.rung ?? rungNow;
    const label =
      key === null
        ? typeof ladder.labels === "string"
          ? ladder.labels
          : spec.label
        : (labels?.[key] ??
          (typeof ladder.labels === "string" ? ladder.labels.replace("{key}", key) : key));
    return {
      key,
      label,
      rung,
      trigger: triggerText(detector, key, section, label),
      state,
      automatic: policy.auto_actions[rung] === true,
      reached_at: mine.length > 0 ? Math.min(...mine.map((s) => s.created_at)) : null,
      signal_ids: mine.map((s) => s.signal_id),
      action_ids: actions.map((a) => a.id),
    };
  });
}
