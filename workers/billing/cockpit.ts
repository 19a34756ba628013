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

/** A built KPI index per tenant, reused while the data it was built from is unchanged.
 * Loading a tenant's history and building the index is most of a KPI answer's cost (about a
 * second on the demo book); the periodic job and the reads after it share one build. Bounded:
 * an index of a large tenant is tens of MB. */
interface Built {
  strict: string;
  soft: string;
  built: Promise<{ loaded: LoadedKpiInput; index: KpiIndex }>;
  /** A rebuild for newer usage in flight (stale-while-revalidate). */
  refreshing?: boolean;
}
const INDEXES = new BoundedCache<string, Built>(4);

function build(db: D1Database, tenantId: string, strict: string, soft: string): Built {
  const entry: Built = {
    strict,
    soft,
    built: loadKpiInput(db, tenantId).then((loaded) => ({
      loaded,
      index: buildKpiIndex(loaded.input),
    })),
  };
  // A failed build is not kept.
  entry.built.catch(() => {
    if (INDEXES.get(tenantId) === entry) INDEXES.delete(tenantId);
  });
  return entry;
}

/**
 * The tenant's KPI index. A change of catalog or billing (subscriptions, plans, invoices,
 * states) always rebuilds it before answering. Usage (rollups) and signals move every few
 * seconds under live traffic: with `background` (a read that may be a few seconds behind, like
 * the snapshot it sits beside), the index built on the older ones answers at once and a rebuild
 * runs in the background for the next read; without it (the periodic job, a stored snapshot)
 * the answer waits for the rebuild.
 */
export async function kpiIndexFor(
  db: D1Database,
  tenantId: string,
  opts: { background?: (p: Promise<unknown>) => void } = {},
): Promise<{ loaded: LoadedKpiInput; index: KpiIndex }> {
  const { strict, soft } = await kpiDataFingerprint(db, tenantId);
  const cached = INDEXES.get(tenantId);
  if (cached && cached.strict === strict) {
    if (cached.soft === soft) return cached.built;
    if (opts.background) {
      if (!cached.refreshing) {
        cached.refreshing = true;
        const next = build(db, tenantId, strict, soft);
        opts.background(
          next.built.then(
            () => {
              if (INDEXES.get(tenantId) === cached) INDEXES.set(tenantId, next);
            },
            () => {
              cached.refreshing = false;
            },
          ),
        );
      }
      return cached.built;
    }
  }
  const entry = build(db, tenantId, strict, soft);
  INDEXES.set(tenantId, entry);
  return entry.built;
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
  opts: {
    from: number;
    to: number;
    basis: "total" | "committed";
    customers: boolean;
    background?: (p: Promise<unknown>) => void;
  },
) {
  const { loaded, index } = await kpiIndexFor(db, tenantId, {
    ...(opts.background ? { background: opts.background } : {}),
  });
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
