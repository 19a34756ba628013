import { ALLOWED_LATENESS_MS } from "../domain/detection";
import {
  type BudgetScope,
  budgetCostSpikeSignal,
  budgetMarginSignals,
  type CustomerSums,
  costDrivers,
  metadataKeyOf,
  type ScopeHour,
  type ScopeKind,
  type ScopeSpike,
  scopeCostHours,
} from "../domain/detectors/budget";
import { type CostSpikeState, newCostSpikeState } from "../domain/detectors/cost-spike";
import { monthStart, nextMonthStart } from "../domain/detectors/time";
import type { Signal } from "../domain/detectors/types";
import { type PolicyDocument, resolvePolicy } from "../domain/ladder";
import { addSums, dayStart, feeDays, type PnlSums, zeroSums } from "../domain/margin";
import { DAY_MS, HOUR_MS } from "../domain/time";
import { runQuery } from "../store/batch";
import {
  firstUsageHour,
  lastUsageHour,
  loadCostSpikeStates,
  metadataSegments,
  periodUsage,
  planSegments,
  type ScopeFilter,
  saveCostSpikeStateStatement,
  scopeCustomerCost,
  scopeHourlyCost,
} from "../store/budget";
import { loadTenantPlans } from "../store/catalog";
import { loadTenantPolicies, type TenantPolicies } from "../store/policies";
import { phasesQuery, segmentKey } from "../store/subscription-reads";
import { flatTermsOf } from "./billing/margin";
import { recordTenantSignals } from "./ladder";

// Budget alerts (domain/detectors/budget.ts): the tenant's margin and COGS per product and per
// customer segment, run by the tenant detectors (workers/tenant-detectors.ts) on the tenant clock.
// Each run is idempotent: signals are recorded once by key, and the COGS engine's state per scope
// is saved after its signals, so a run that fails between the two finds them again.

/** The first run learns the COGS baseline from at most this far back (the engine remembers
 * five weeks of weekend hours)… */
const BASELINE_DAYS = 35;
/** …and every run closes at most a week of hours, so a first run on a big tenant stays cheap
 * (the next runs, five minutes apart, catch up). */
export const MAX_CATCHUP_HOURS = 7 * 24;

interface Context {
  stored: TenantPolicies;
  segmentBy: string;
  policyOf: (kind: ScopeKind, id: string) => PolicyDocument;
}

function context(stored: TenantPolicies): Context {
  const segmentBy = resolvePolicy([stored.tenant]).detectors.budget_margin.segment_by;
  const memo = new Map<string, PolicyDocument>();
  return {
    stored,
    segmentBy,
    policyOf: (kind, id) => {
      const k = `${kind}:${id}`;
      let doc = memo.get(k);
      if (!doc) {
        doc = resolvePolicy([
          stored.tenant,
          kind === "segment" ? stored.segments[id] : stored.products[id],
        ]);
        memo.set(k, doc);
      }
      return doc;
    },
  };
}

const segmentFilter = (segmentBy: string): ScopeFilter => {
  const key = metadataKeyOf(segmentBy);
  return key === null
    ? { kind: "segment", segmentBy: "plan" }
    : { kind: "segment", segmentBy: "metadata", key };
};

/** Runs both budget detectors; returns how many signals each recorded (null: it failed, and
 * is logged: a failing budget run must not hold up the tenant's later periodic jobs, and the
 * next run, five minutes on, finds what this one missed). */
export async function runBudgetAlerts(
  env: Env,
  tenantId: string,
  now: number,
): Promise<{ margin: number | null; spikes: number | null }> {
  const ctx = context(await loadTenantPolicies(env.DB, tenantId));
  const margin = await logged("budget margin", async () => {
    const signals = await budgetMarginSignalsAt(env.DB, tenantId, ctx, now);
    return (await recordTenantSignals(env, tenantId, signals, now)).length;
  });
  const spikes = await logged("budget COGS spikes", () =>
    runBudgetCostSpikes(env, tenantId, ctx, now),
  );
  return { margin, spikes };
}

async function logged(what: string, run: () => Promise<number>): Promise<number | null> {
  try {
    return await run();
  } catch (err) {
    console.error(`${what} did not run`, err);
    return null;
  }
}

/** The period-to-date P&L of every product and segment (rated usage + flat fees recognised per
 * day − COGS, as the margin page), judged against their floors. */
async function budgetMarginSignalsAt(
  db: D1Database,
  tenantId: string,
  ctx: Context,
  now: number,
): Promise<Signal[]> {
  const month = { start: monthStart(now), end: nextMonthStart(now) };
  const metaKey = metadataKeyOf(ctx.segmentBy);
  const [usage, phases, plans, segments] = await Promise.all([
    periodUsage(db, tenantId, month.start),
    runQuery(phasesQuery(db, tenantId)),
    loadTenantPlans(db, tenantId),
    metaKey === null ? planSegments(db, tenantId) : metadataSegments(db, tenantId, metaKey),
  ]);
  // customer × product → sums.
  const cells = new Map<string, { customer: string; product: string; sums: PnlSums }>();
  const cell = (customer: string, product: string) => {
    const k = segmentKey(customer, product);
    let c = cells.get(k);
    if (!c) {
      c = { customer, product, sums: zeroSums() };
      cells.set(k, c);
    }
    return c;
  };
  for (const u of usage) addSums(cell(u.customer, u.product).sums, u.sums);
  const until = Math.min(now, dayStart(now) + DAY_MS);
  for (const f of feeDays(phases, flatTermsOf(plans), month.start, until)) {
    addSums(cell(f.customer, f.product).sums, { fees: f.fee });
  }
  // Scope → customer → sums.
  const scopes = new Map<
    string,
    { kind: ScopeKind; id: string; byCustomer: Map<string, PnlSums> }
  >();
  const add = (kind: ScopeKind, id: string, customer: string, sums: PnlSums) => {
    const k = `${kind}:${id}`;
    let s = scopes.get(k);
    if (!s) {
      s = { kind, id, byCustomer: new Map() };
      scopes.set(k, s);
    }
    const cur = s.byCustomer.get(customer) ?? zeroSums();
    s.byCustomer.set(customer, addSums(cur, sums));
  };
  for (const c of cells.values()) {
    add("product", c.product, c.customer, { ...c.sums });
    const segment =
      metaKey === null ? segments.get(segmentKey(c.customer, c.product)) : segments.get(c.customer);
    if (segment !== undefined) add("segment", segment, c.customer, { ...c.sums });
  }
  const list: BudgetScope[] = [...scopes.values()].map((s) => ({
    kind: s.kind,
    id: s.id,
    customers: [...s.byCustomer].map(([customer, sums]): CustomerSums => ({ customer, sums })),
  }));
  return budgetMarginSignals({
    scopes: list,
    month,
    now,
    segmentBy: ctx.segmentBy,
    policyOf: (kind, id) => ctx.policyOf(kind, id).detectors.budget_margin,
  });
}

/** Closes the hours the tenant's rollups are complete for, per product and per segment, through
 * the COGS spike engine; records the spikes with their drivers, then saves the engine's state. */
async function runBudgetCostSpikes(
  env: Env,
  tenantId: string,
  ctx: Context,
  now: number,
): Promise<number> {
  const db = env.DB;
  const latest = await lastUsageHour(db, tenantId);
  if (latest === null) return 0;
  // An hour is complete once the tenant's usage reached a later hour and the actors' allowed
  // lateness has passed its end (domain/detection.ts): the latest hour with usage is still open.
  const closedEnd = Math.min(latest, Math.floor((now - ALLOWED_LATENESS_MS) / HOUR_MS) * HOUR_MS);
  const states = await loadCostSpikeStates(db, tenantId);
  const segmentPrefix = `segment:${ctx.segmentBy}:`;
  const mine = [...states].filter(([k]) => k.startsWith("product:") || k.startsWith(segmentPrefix));
  let from: number;
  if (mine.length > 0) {
    from = Math.min(...mine.map(([, s]) => (s.last_hour ?? closedEnd) + HOUR_MS));
  } else {
    const first = await firstUsageHour(db, tenantId, closedEnd - BASELINE_DAYS * DAY_MS);
    if (first === null) return 0;
    from = first;
  }
  const to = Math.min(closedEnd, from + MAX_CATCHUP_HOURS * HOUR_MS);
  if (to <= from) return 0;
  const filters: { kind: ScopeKind; filter: ScopeFilter; prefix: string }[] = [
    { kind: "product", filter: { kind: "product" }, prefix: "product:" },
    { kind: "segment", filter: segmentFilter(ctx.segmentBy), prefix: segmentPrefix },
  ];
  const signals: Signal[] = [];
  const saves: D1PreparedStatement[] = [];
  for (const { kind, filter, prefix } of filters) {
    const rows = await scopeHourlyCost(db, tenantId, filter, from, to);
    const byScope = new Map<string, Map<number, number>>();
    for (const r of rows) {
      let m = byScope.get(r.id);
      if (!m) {
        m = new Map();
        byScope.set(r.id, m);
      }
      m.set(r.hour, r.cost);
    }
    for (const [k] of mine)
      if (k.startsWith(prefix))
        byScope.set(k.slice(prefix.length), byScope.get(k.slice(prefix.length)) ?? new Map());
    for (const [id, hours] of byScope) {
      const prev = states.get(`${prefix}${id}`);
      // A new scope learns from its first hour with usage; a known one from its watermark. The
      // last hour of the range is always closed, so the watermark reaches it (hours between are
      // closed with COGS 0 by the engine).
      const list: ScopeHour[] = [...hours]
        .filter(([h]) => prev?.last_hour == null || h > prev.last_hour)
        .sort(([a], [b]) => a - b)
        .map(([hour, cost]) => ({ kind, id, hour, cost }));
      const last = to - HOUR_MS;
      if (list.at(-1)?.hour !== last) list.push({ kind, id, hour: last, cost: 0 });
      const start: CostSpikeState = prev ?? newCostSpikeState();
      const policy = ctx.policyOf(kind, id).detectors.budget_cost_spike;
      const { state, spikes } = scopeCostHours(start, list, policy);
      for (const spike of spikes) signals.push(await spikeSignal(db, tenantId, filter, spike, ctx));
      if (state !== start)
        saves.push(saveCostSpikeStateStatement(db, tenantId, `${prefix}${id}`, state, now));
    }
  }
  const recorded = await recordTenantSignals(env, tenantId, signals, now);
  if (saves.length > 0) await db.batch(saves);
  return recorded.length;
}

const WEEK_MS = 7 * DAY_MS;

/** A spike's signal, naming the customers whose COGS in the hour rose most against the same
 * hour a week before. */
async function spikeSignal(
  db: D1Database,
  tenantId: string,
  filter: ScopeFilter,
  spike: ScopeSpike,
  ctx: Context,
): Promise<Signal> {
  const f = { ...filter, id: spike.id } as ScopeFilter & { id: string };
  const [hour, before] = await Promise.all([
    scopeCustomerCost(db, tenantId, f, spike.hour),
    scopeCustomerCost(db, tenantId, f, spike.hour - WEEK_MS),
  ]);
  return budgetCostSpikeSignal(spike, costDrivers(hour, before), ctx.segmentBy);
}
