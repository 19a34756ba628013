import {
  type CustomerPnl,
  customerPnl,
  dayStart,
  type FlatTermsOf,
  feeDays,
  recognisedFees,
} from "../../domain/margin";
import { DAY_MS, MINUTE_MS } from "../../domain/time";
import { type Query, type Results, runQueries, runQuery } from "../../store/batch";
import {
  type BuildState,
  buildStateQuery,
  customerKnown,
  loadBuildInputs,
  releaseBuildLease,
  takeBuildLease,
  writeBuild,
} from "../../store/margin";
import { customerDailyUsage } from "../../store/rollups";
import { phasesQuery, segmentKey } from "../../store/subscription-reads";
import { loadTenantPlans, type TenantPlan } from "./plans";

// COGS & margin (docs/metrics.md §COGS and margin). The read models (store/margin.ts) are built
// by the periodic job (and on demand) from rollups_daily and the subscription history, in one D1
// transaction; the maths is domain/margin.ts. Reads (workers/routes/margin.ts) are then a few
// index range scans over ≤ 3 × customers rows, batched with the build state.

/** A build older than this, or older than the data, is rebuilt in the background. */
export const MARGIN_REFRESH_MS = 30_000;
const BUILD_LEASE_MS = 120_000;
/** A build older than this is redone even when nothing changed (today moves on). */
const MAX_BUILD_AGE_MS = 5 * MINUTE_MS;

/** Whether a build no longer reflects the data and may be redone now. */
export function isStale(s: BuildState, now: number): boolean {
  if (now - s.built_at < MARGIN_REFRESH_MS) return false;
  return (
    s.catalog_version !== s.current_catalog ||
    s.applied_at < s.current_applied ||
    now - s.built_at > MAX_BUILD_AGE_MS
  );
}

export const flatTermsOf =
  (plans: ReadonlyMap<string, TenantPlan>): FlatTermsOf =>
  (id) => {
    const p = plans.get(id)?.plan;
    return p ? { interval: p.interval, flat: p.flat?.amount ?? 0n } : undefined;
  };

/** Builds the margin read models at `now` unless another build holds the lease (then waits for
 * none: the caller reads the previous build). `force` builds regardless of the lease. */
export async function buildMargin(
  db: D1Database,
  tenantId: string,
  now: number,
  opts: { force?: boolean } = {},
): Promise<{ built_at: number; skipped: boolean }> {
  const leased = await takeBuildLease(db, tenantId, now, BUILD_LEASE_MS);
  if (!leased && !opts.force) return { built_at: now, skipped: true };
  try {
    const [plans, inputs] = await Promise.all([
      loadTenantPlans(db, tenantId),
      loadBuildInputs(db, tenantId),
    ]);
    const fees = recognisedFees(
      inputs.subscriptions,
      flatTermsOf(plans),
      (customer, product) => inputs.segments.get(segmentKey(customer, product)),
      now,
    );
    await writeBuild(db, tenantId, { now, today: dayStart(now), fees, versions: inputs.versions });
  } catch (err) {
    await releaseBuildLease(db, tenantId);
    throw err;
  }
  return { built_at: now, skipped: false };
}

/**
 * Runs the reads in one D1 batch together with the build state. Without a build for today the
 * read models are built first (then read again); a build older than the data (catalog or
 * rollups changed, at most every MARGIN_REFRESH_MS) is redone in the background (`background`,
 * e.g. the request's waitUntil) while this answer uses it (stale-while-revalidate).
 */
export async function readMargin<const R extends readonly Query<unknown>[]>(
  db: D1Database,
  tenantId: string,
  reads: R,
  background: (work: Promise<unknown>) => void,
): Promise<{ builtAt: number; currency: string; results: Results<R> }> {
  const now = Date.now();
  const run = async () => {
    const [state, ...results] = await runQueries(db, [buildStateQuery(db, tenantId), ...reads]);
    return { state: state as BuildState | undefined, results: results as Results<R> };
  };
  let res = await run();
  if (!res.state || res.state.day !== dayStart(now) || res.state.built_at === 0) {
    await buildMargin(db, tenantId, now, { force: true });
    res = await run();
  } else if (isStale(res.state, now)) {
    background(buildMargin(db, tenantId, now).catch((err) => console.error("margin build", err)));
  }
  const state = res.state as BuildState;
  return { builtAt: state.built_at, currency: state.currency, results: res.results };
}

/** One customer's P&L live from the rollups and its subscriptions over the window of `days`
 * ending today; null when the customer is neither in the catalog nor in the rollups. */
export async function customerMargin(
  db: D1Database,
  tenantId: string,
  customerId: string,
  window: { from: number; today: number; now: number },
): Promise<CustomerPnl | null> {
  const { from, today, now } = window;
  const [known, usage, subscriptions, plans] = await Promise.all([
    customerKnown(db, tenantId, customerId),
    customerDailyUsage(db, tenantId, customerId, from),
    runQuery(phasesQuery(db, tenantId, customerId)),
    loadTenantPlans(db, tenantId),
  ]);
  if (!known && usage.length === 0) return null;
  const fees = feeDays(subscriptions, flatTermsOf(plans), from, Math.min(now, today + DAY_MS));
  return customerPnl(usage, fees);
}
