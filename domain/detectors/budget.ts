// Budget alerts (issue 14, item 5): the tenant's own P&L by product and by customer segment,
// judged on the tenant clock ("tenant" detectors; workers/budget-alerts.ts gathers the D1 reads).
//
// - BudgetMarginDetector: the period-to-date margin % (calendar month, UTC, like MarginGuard) of
//   each product and each segment, with revenue = rated usage + flat fees recognised day by day
//   and COGS = the events' cost (the formulas of the COGS & Margin page, domain/margin.ts).
//   Below `margin_floor_pct` → L1, below `critical_floor_pct` → L2; each level once per
//   (scope, month). A scope with less than `min_revenue_usd` of revenue so far is not judged
//   (the first days of a month decide nothing; a customer costing money and paying nothing is
//   MarginGuard's finding, per customer).
// - BudgetCostSpikeDetector: each closed hour's COGS of each product and each segment against
//   its own seasonal baseline, by the per-customer COGS spike engine (evaluateCostHour in
//   cost-spike.ts: 48 hour-of-day × weekday/weekend slots, median and MAD, one signal per
//   episode), its state per scope persisted by the worker.
// - Segments: a customer's plan on a product (the plan of its latest subscription to it, as the
//   margin page's segments), or `metadata.<key>` of the customer; set by the tenant scope's
//   `detectors.budget_margin.segment_by`, which the cost detector reads too (one segmentation
//   per tenant).
// - Signals concern the tenant, not one customer: `customer: "*"`; their details name the scope
//   (`scope_kind`, `scope_id`) and the customers driving it (`customers`, `drivers`).

import { marginPct, type PnlSums, revenueOf } from "../margin";
import { formatMoney, NANOS_PER_UNIT, roundNanos } from "../money";
import {
  type CostSpikePolicy,
  type CostSpikeState,
  evaluateCostHour,
  validateCostSpikePolicy,
} from "./cost-spike";
import { nonNegative, num, type PolicyIssue, type Rec } from "./policy-check";
import type { Rung } from "./rungs";
import { defineDetector } from "./spec";
import { HOUR_MS, isoHour, isoInstant } from "./time";
import { idempotencyKey, round, type Signal } from "./types";
import { fmt, num as numberAt, str } from "./wording";

export const BUDGET_MARGIN = "BudgetMarginDetector";
export const BUDGET_COST_SPIKE = "BudgetCostSpikeDetector";
/** The customer of a tenant-wide signal. */
export const TENANT_CUSTOMER = "*";
/** Customers a signal names at most. */
export const MAX_DRIVERS = 5;

export type ScopeKind = "product" | "segment";

/** `"plan"`, or `"metadata.<key>"` (letters, digits, `_` and `-`, up to 64). */
export const SEGMENT_BY_PATTERN = /^(plan|metadata\.[A-Za-z0-9_-]{1,64})$/;

/** The metadata key of a `metadata.<key>` segmentation, or null for plans. */
export const metadataKeyOf = (segmentBy: string): string | null =>
  segmentBy.startsWith("metadata.") ? segmentBy.slice("metadata.".length) : null;

/** A segment scope in words: "plan:pro", "metadata.tier:gold". */
export const segmentLabel = (segmentBy: string, value: string) => `${segmentBy}:${value}`;

export interface BudgetMarginPolicy {
  /** How customers are segmented: "plan" or "metadata.<key>" (read from the tenant scope). */
  segment_by: string;
  /** Period-to-date margin % below this → L1. */
  margin_floor_pct: number;
  /** …below this (lower) → L2. */
  critical_floor_pct: number;
  /** A scope is judged once its period-to-date revenue reaches this (USD). */
  min_revenue_usd: number;
}

export const DEFAULT_BUDGET_MARGIN_POLICY: BudgetMarginPolicy = {
  segment_by: "plan",
  margin_floor_pct: 30,
  critical_floor_pct: 0,
  min_revenue_usd: 100,
};

const floorCheck = (x: number) =>
  x < 100 && x >= -1000 ? null : "must be a margin % below 100 (and not below −1000)";

function validateBudgetMarginPolicy(c: Rec, path: string, issues: PolicyIssue[]) {
  if (typeof c.segment_by !== "string" || !SEGMENT_BY_PATTERN.test(c.segment_by)) {
    issues.push({
      path: `${path}.segment_by`,
      message: 'must be "plan" or "metadata.<key>" (key: letters, digits, _ or -)',
    });
  }
  const floor = num(c, path, "margin_floor_pct", floorCheck, issues);
  const critical = num(c, path, "critical_floor_pct", floorCheck, issues);
  if (floor !== undefined && critical !== undefined && !(critical < floor)) {
    issues.push({
      path: `${path}.critical_floor_pct`,
      message: "must be below margin_floor_pct",
    });
  }
  num(c, path, "min_revenue_usd", nonNegative, issues);
}

export type BudgetCostSpikePolicy = CostSpikePolicy;

/** A whole product or segment moves more money than one customer: the practical floor is $25
 * above the usual hour, not $5. The ratio stays at 3 × the usual: at 2 × a scope of ten
 * customers raised 0.25–0.64 false signals per 1,000 hours (docs/detectors.md). */
export const DEFAULT_BUDGET_COST_SPIKE_POLICY: BudgetCostSpikePolicy = {
  min_ratio: 3,
  min_delta_usd: 25,
  k: 4,
  min_history_days: 7,
  min_slot_observations: 4,
};

// ---- Margin ------------------------------------------------------------------------------------

/** One customer's period-to-date sums in a scope (exact nanos). */
export interface CustomerSums {
  customer: string;
  sums: PnlSums;
}

/** A product or a segment with its customers' period-to-date sums. */
export interface BudgetScope {
  kind: ScopeKind;
  /** The product id, or the segment value. */
  id: string;
  customers: readonly CustomerSums[];
}

const usd = (nanos: bigint) => formatMoney(roundNanos(nanos, 2));
const signedUsd = (nanos: bigint) =>
  `${nanos < 0n ? "−" : "+"}$${usd(nanos < 0n ? -nanos : nanos)}`;
const toUnits = (nanos: bigint) => Number(nanos) / Number(NANOS_PER_UNIT);

const addInto = (a: PnlSums, b: PnlSums): PnlSums => ({
  usage: a.usage + b.usage,
  fees: a.fees + b.fees,
  cost: a.cost + b.cost,
  events: a.events + b.events,
});
const ZERO: PnlSums = { usage: 0n, fees: 0n, cost: 0n, events: 0 };

/** The customers behind a margin dip: those whose own margin is below the floor, the lowest
 * contribution margin (revenue − COGS) first, at most MAX_DRIVERS. */
export function marginDrivers(
  customers: readonly CustomerSums[],
  floorPct: number,
): { customer: string; margin: bigint }[] {
  // Below the floor: contribution < revenue × floor (in hundredths of a percent, exact).
  const floorBp = BigInt(Math.round(floorPct * 100));
  return customers
    .map((c) => ({
      customer: c.customer,
      margin: revenueOf(c.sums) - c.sums.cost,
      below: (revenueOf(c.sums) - c.sums.cost) * 10_000n < revenueOf(c.sums) * floorBp,
    }))
    .filter((c) => c.below)
    .sort((x, y) =>
      x.margin === y.margin ? (x.customer < y.customer ? -1 : 1) : x.margin < y.margin ? -1 : 1,
    )
    .slice(0, MAX_DRIVERS)
    .map(({ customer, margin }) => ({ customer, margin }));
}

const scopeDetails = (kind: ScopeKind, id: string, segmentBy: string) => ({
  scope_kind: kind,
  scope_id: id,
  segment_by: kind === "segment" ? segmentBy : null,
  scope_label: kind === "segment" ? `segment ${segmentLabel(segmentBy, id)}` : `product ${id}`,
});

/** Every level each scope's period-to-date margin has crossed (recorded once each by key:
 * detector, scope, month, level). `policyOf` resolves the scope's thresholds. */
export function budgetMarginSignals(input: {
  scopes: readonly BudgetScope[];
  month: { start: number; end: number };
  now: number;
  segmentBy: string;
  policyOf: (kind: ScopeKind, id: string) => BudgetMarginPolicy;
}): Signal[] {
  const out: Signal[] = [];
  for (const scope of input.scopes) {
    const policy = input.policyOf(scope.kind, scope.id);
    const total = scope.customers.reduce((s, c) => addInto(s, c.sums), ZERO);
    const revenue = revenueOf(total);
    if (revenue <= 0n || toUnits(revenue) < policy.min_revenue_usd) continue;
    const pct = marginPct(total);
    if (pct === null) continue;
    const levels: { level: "L1" | "L2"; floor: number }[] = [];
    if (pct < policy.margin_floor_pct) levels.push({ level: "L1", floor: policy.margin_floor_pct });
    if (pct < policy.critical_floor_pct)
      levels.push({ level: "L2", floor: policy.critical_floor_pct });
    for (const { level, floor } of levels) {
      const drivers = marginDrivers(scope.customers, floor);
      const margin = revenue - total.cost;
      // The shortfall against the floor: revenue × floor − contribution (USD).
      const shortfall = (toUnits(revenue) * floor) / 100 - toUnits(margin);
      out.push({
        detector: BUDGET_MARGIN,
        idempotency_key: idempotencyKey([
          BUDGET_MARGIN,
          TENANT_CUSTOMER,
          scope.kind,
          scope.kind === "segment" ? segmentLabel(input.segmentBy, scope.id) : scope.id,
          isoInstant(input.month.start),
          level,
        ]),
        customer: TENANT_CUSTOMER,
        ...(scope.kind === "product" ? { product: scope.id } : {}),
        window: { start: input.month.start, end: input.month.end },
        magnitude: round(shortfall, 2),
        details: {
          ...scopeDetails(scope.kind, scope.id, input.segmentBy),
          level,
          revenue: usd(revenue),
          cost: usd(total.cost),
          contribution_margin: usd(margin),
          margin_pct: pct,
          floor_pct: floor,
          customers_in_scope: scope.customers.length,
          customers: drivers.map((d) => d.customer).join(","),
          drivers: drivers
            .map((d, i) => `${d.customer} ${signedUsd(d.margin)}${i === 0 ? " margin" : ""}`)
            .join(", "),
          as_of: isoInstant(input.now),
        },
        source_event_ids: [],
      });
    }
  }
  return out;
}

// ---- Cost spikes -------------------------------------------------------------------------------

/** One scope's closed hour. */
export interface ScopeHour {
  kind: ScopeKind;
  id: string;
  hour: number;
  /** COGS in the hour, USD. */
  cost: number;
}

/** A spike the engine found in a scope's hour, before its drivers are known. */
export interface ScopeSpike {
  kind: ScopeKind;
  id: string;
  hour: number;
  details: { cost: number; baseline: number; ratio: number | null; delta: number };
  magnitude: number;
}

/** Closes hours of one scope through the COGS spike engine (hours in order; the engine closes
 * skipped hours with COGS 0 and ignores hours at or before its watermark). */
export function scopeCostHours(
  state: CostSpikeState,
  hours: readonly ScopeHour[],
  policy: BudgetCostSpikePolicy,
): { state: CostSpikeState; spikes: ScopeSpike[] } {
  let s = state;
  const spikes: ScopeSpike[] = [];
  for (const h of hours) {
    const r = evaluateCostHour(
      s,
      { customer: TENANT_CUSTOMER, product: `${h.kind}:${h.id}`, hour: h.hour, cost: h.cost },
      policy,
    );
    s = r.state;
    for (const sig of r.signals) {
      spikes.push({
        kind: h.kind,
        id: h.id,
        hour: sig.window.start,
        magnitude: sig.magnitude,
        details: {
          cost: sig.details.cost,
          baseline: sig.details.baseline,
          ratio: sig.details.ratio,
          delta: sig.details.delta,
        },
      });
    }
  }
  return { state: s, spikes };
}

/** The customers behind a spike: whose COGS in the hour rose most against the same hour a week
 * before (USD), rises only, at most MAX_DRIVERS. */
export function costDrivers(
  hour: ReadonlyMap<string, number>,
  weekBefore: ReadonlyMap<string, number>,
): { customer: string; rise: number }[] {
  return [...hour]
    .map(([customer, cost]) => ({ customer, rise: cost - (weekBefore.get(customer) ?? 0) }))
    .filter((d) => d.rise > 0)
    .sort((a, b) => b.rise - a.rise || (a.customer < b.customer ? -1 : 1))
    .slice(0, MAX_DRIVERS);
}

/** The signal of a scope's spike, with its drivers. */
export function budgetCostSpikeSignal(
  spike: ScopeSpike,
  drivers: readonly { customer: string; rise: number }[],
  segmentBy: string,
): Signal {
  return {
    detector: BUDGET_COST_SPIKE,
    idempotency_key: idempotencyKey([
      BUDGET_COST_SPIKE,
      TENANT_CUSTOMER,
      spike.kind,
      spike.kind === "segment" ? segmentLabel(segmentBy, spike.id) : spike.id,
      isoHour(spike.hour),
    ]),
    customer: TENANT_CUSTOMER,
    ...(spike.kind === "product" ? { product: spike.id } : {}),
    window: { start: spike.hour, end: spike.hour + HOUR_MS },
    magnitude: spike.magnitude,
    direction: "spike",
    details: {
      ...scopeDetails(spike.kind, spike.id, segmentBy),
      cost: spike.details.cost,
      baseline: spike.details.baseline,
      ratio: spike.details.ratio,
      delta: spike.details.delta,
      customers: drivers.map((d) => d.customer).join(","),
      drivers: drivers
        .map((d, i) => `${d.customer} +$${d.rise.toFixed(2)}${i === 0 ? " vs a week before" : ""}`)
        .join(", "),
    },
    source_event_ids: [],
  };
}

// ---- Specs -------------------------------------------------------------------------------------

const BUDGET_RUNGS: readonly Rung[] = ["ALERT", "escalate"];

const scopeWords = (d: Record<string, unknown>) =>
  str(d, "scope_label") ?? `${str(d, "scope_kind") ?? "scope"} ${str(d, "scope_id") ?? "?"}`;
const driverWords = (d: Record<string, unknown>) => {
  const drivers = str(d, "drivers");
  return drivers ? `; driven by ${drivers}` : "";
};

export const budgetMarginSpec = defineDetector({
  name: BUDGET_MARGIN,
  label: "Budget: margin",
  summary:
    "A product's or a customer segment's period-to-date margin % below its floor, naming the customers dragging it down.",
  key: "budget_margin",
  trigger: "tenant",
  policy: {
    defaults: DEFAULT_BUDGET_MARGIN_POLICY,
    validate: validateBudgetMarginPolicy,
    optional: true,
    fields: [
      {
        key: "segment_by",
        help: 'how customers are segmented: "plan" or "metadata.<key>" (tenant scope only; the cost spikes use it too)',
      },
      { key: "margin_floor_pct", help: "period-to-date margin % below this raises L1" },
      { key: "critical_floor_pct", help: "…below this (lower) raises L2" },
      {
        key: "min_revenue_usd",
        help: "no judgement before the scope's revenue reaches this (USD)",
      },
    ],
  },
  ladder: {
    kind: "keys",
    rungs: BUDGET_RUNGS,
    default: { L1: "ALERT", L2: "ALERT" } as { L1: Rung; L2: Rung },
    labels: { L1: "Budget margin below the floor", L2: "Budget margin below the critical floor" },
    keyOf: (signal) => {
      const level = signal.details.level;
      return level === "L1" || level === "L2" ? level : null;
    },
  },
  describe: (s) => {
    const d = s.details;
    const pct = numberAt(d, "margin_pct");
    const floor = numberAt(d, "floor_pct");
    return {
      title: `Budget margin ${str(d, "level") === "L2" ? "critical" : "below floor"}: ${scopeWords(d)}`,
      magnitude: `margin ${pct === null ? "?" : fmt(pct)} % vs floor ${floor === null ? "?" : fmt(floor)} % (revenue ${str(d, "revenue") ?? "?"}, COGS ${str(d, "cost") ?? "?"})${driverWords(d)}`,
    };
  },
  display: {
    main: "{details.margin_pct:decimal1} % margin · {details.scope_label}",
    sub: "floor {details.floor_pct:decimal0} % · {details.drivers}",
    sub_fallback: "floor {details.floor_pct:decimal0} %",
  },
});

export const budgetCostSpikeSpec = defineDetector({
  name: BUDGET_COST_SPIKE,
  label: "Budget: COGS spike",
  summary:
    "A closed hour's COGS for a whole product or customer segment far above its own baseline for that hour of the week, naming the customers whose cost rose most.",
  key: "budget_cost_spike",
  trigger: "tenant",
  policy: {
    defaults: DEFAULT_BUDGET_COST_SPIKE_POLICY,
    validate: validateCostSpikePolicy,
    optional: true,
    fields: [
      { key: "min_ratio", help: "the hour's COGS must be at least this multiple of the usual" },
      { key: "min_delta_usd", help: "…and at least this much above it (USD)" },
      { key: "k", help: "…and this many robust σ above it" },
      { key: "min_history_days", help: "days of the scope's history before it speaks" },
      { key: "min_slot_observations", help: "hours seen of the same hour of day first (1–10)" },
    ],
  },
  ladder: {
    kind: "rung",
    rungs: BUDGET_RUNGS,
    default: "ALERT" as Rung,
    labels: "Budget COGS spike",
  },
  describe: (s) => {
    const d = s.details;
    const cost = numberAt(d, "cost") ?? s.magnitude;
    const baseline = numberAt(d, "baseline");
    const ratio = numberAt(d, "ratio");
    let magnitude = `${fmt(cost)} COGS in the hour`;
    if (baseline !== null) magnitude += ` vs ${fmt(baseline)} usual`;
    magnitude += ratio !== null ? ` (×${fmt(ratio)})` : " (it usually costs nothing)";
    return {
      title: `Budget COGS spike: ${scopeWords(d)}`,
      magnitude: `${magnitude}${driverWords(d)}`,
    };
  },
  display: {
    main: "{magnitude:money} above usual · {details.scope_label}",
    sub: "×{details.ratio:decimal1} · {details.drivers}",
    sub_fallback: "this hour usually costs nothing",
  },
});
