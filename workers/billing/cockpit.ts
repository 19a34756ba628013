import { BoundedCache } from "../../domain/bounded-cache";
import {
  buildKpiIndex,
  type Cockpit,
  cockpitAt,
  type KpiIndex,
  mrrAt,
  mrrMovements,
} from "../../domain/kpi";
import { formatMoney } from "../../domain/money";
import { DAY_MS, MINUTE_MS } from "../../domain/time";
import {
  dataVersions,
  kpiDataFingerprint,
  latestSnapshot,
  writeSnapshot,
} from "../../store/cockpit";
import { iso } from "../schemas";
import { type LoadedKpiInput, loadKpiInput } from "./kpi-input";

// The Revenue Cockpit over D1 (formulas: domain/kpi, docs/metrics.md). The periodic job computes
// it every tick into cockpit_snapshots; GET /api/metrics/cockpit answers from the latest snapshot
// while it still reflects the data (same catalog and billing versions, at most SNAPSHOT_MAX_AGE
// old), and computes one otherwise. A past `as_of` is computed from the history on demand.

export const SNAPSHOT_MAX_AGE_MS = 10 * MINUTE_MS;
/** Every snapshot of the last two days is kept, then the last one of each UTC day. */
const KEEP_ALL_MS = 2 * DAY_MS;

/** Keys whose numbers are instants (epoch ms) in the engine's output. */
const INSTANT_KEYS = new Set(["as_of", "at", "previous_at", "window_start", "start", "end"]);

/** The engine's result as API JSON: money (bigint nanos) as decimal strings, instants as ISO
 * strings; counts and ratios stay numbers. */
export function toJson(value: unknown, key = "", instantKeys: readonly string[] = []): unknown {
  if (typeof value === "bigint") return formatMoney(value);
  if (typeof value === "number" && (INSTANT_KEYS.has(key) || instantKeys.includes(key))) {
    return iso(value);
  }
  if (Array.isArray(value)) return value.map((v) => toJson(v, "", instantKeys));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, toJson(v, k, instantKeys)]),
    );
  }
  return value;
}

export interface CockpitBody {
  as_of: string;
  computed_at: string;
  currency: string;
  excluded_currencies: string[];
  comparison: unknown;
  [kpi: string]: unknown;
}

export function cockpitBody(
  c: Cockpit,
  currency: string,
  excluded: string[],
  computedAt: number,
): CockpitBody {
  const json = toJson(c) as Record<string, unknown>;
  return {
    ...json,
    as_of: iso(c.as_of) ?? "",
    computed_at: iso(computedAt) ?? "",
    currency,
    excluded_currencies: excluded,
    comparison: json.comparison,
  };
}

/** A built KPI index per tenant, reused while the data it was built from is unchanged (same
 * fingerprint: catalog, billing, rollups, signals). Loading a tenant's history and building the
 * index is most of a KPI answer's cost (≈1 s on the demo book); the periodic job and every read
 * after it share one build until something changes. Bounded: an index of a large tenant is tens
 * of MB. */
const INDEXES = new BoundedCache<
  string,
  { fingerprint: string; built: Promise<{ loaded: LoadedKpiInput; index: KpiIndex }> }
>(4);

export async function kpiIndexFor(
  db: D1Database,
  tenantId: string,
): Promise<{ loaded: LoadedKpiInput; index: KpiIndex }> {
  const fingerprint = await kpiDataFingerprint(db, tenantId);
  const cached = INDEXES.get(tenantId);
  if (cached && cached.fingerprint === fingerprint) return cached.built;
  const built = loadKpiInput(db, tenantId).then((loaded) => ({
    loaded,
    index: buildKpiIndex(loaded.input),
  }));
  INDEXES.set(tenantId, { fingerprint, built });
  // A failed build is not kept.
  built.catch(() => {
    if (INDEXES.get(tenantId)?.built === built) INDEXES.delete(tenantId);
  });
  return built;
}

/** Computes the cockpit at `asOf` from the tenant's full history. */
export async function computeCockpit(db: D1Database, tenantId: string, asOf: number) {
  const { loaded, index } = await kpiIndexFor(db, tenantId);
  const cockpit = cockpitAt(index, asOf);
  return {
    cockpit,
    body: cockpitBody(cockpit, loaded.currency, loaded.excluded_currencies, Date.now()),
  };
}

/** Computes the cockpit at `now` and stores it as a snapshot (the periodic job). */
export async function snapshotCockpit(db: D1Database, tenantId: string, now: number) {
  // Versions first: a write landing during the computation makes the snapshot stale, not wrong.
  const versions = await dataVersions(db, tenantId);
  const { cockpit, body } = await computeCockpit(db, tenantId, now);
  const text = JSON.stringify(body);
  await writeSnapshot(
    db,
    tenantId,
    {
      as_of: now,
      computed_at: Date.now(),
      versions,
      mrr: formatMoney(cockpit.mrr.value),
      body: text,
    },
    KEEP_ALL_MS,
  );
  return { body, text };
}

/** The latest stored snapshot if it still reflects the data, else null. */
export async function freshSnapshot(db: D1Database, tenantId: string, now: number) {
  const snap = await latestSnapshot(db, tenantId);
  if (!snap?.current || now - snap.as_of > SNAPSHOT_MAX_AGE_MS) return null;
  return snap;
}

/** MRR and its movements per month (GET /api/metrics/mrr). */
export async function mrrByMonth(
  db: D1Database,
  tenantId: string,
  opts: { from: number; to: number; basis: "total" | "committed"; customers: boolean },
) {
  const { loaded, index } = await kpiIndexFor(db, tenantId);
  const periods = mrrMovements(index, { from: opts.from, to: opts.to, basis: opts.basis });
  return {
    currency: loaded.currency,
    excluded_currencies: loaded.excluded_currencies,
    periods: periods.map((p) => {
      const json = toJson(p) as Record<string, unknown>;
      const { rows, ...rest } = json;
      const at = mrrAt(index, p.end);
      const mrr = toJson({ total: at.total, committed: at.committed, usage: at.usage });
      return opts.customers ? { ...rest, mrr, customers: rows } : { ...rest, mrr };
    }),
  };
}
