import { buildKpiIndex, type Cockpit, cockpitAt, mrrAt, mrrMovements } from "../../domain/kpi";
import { formatMoney } from "../../domain/money";
import { DAY_MS, MINUTE_MS } from "../../domain/time";
import { dataVersions, latestSnapshot, writeSnapshot } from "../../store/cockpit";
import { iso } from "../schemas";
import { loadKpiInput } from "./kpi-input";

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
export function toJson(value: unknown, key = ""): unknown {
  if (typeof value === "bigint") return formatMoney(value);
  if (typeof value === "number" && INSTANT_KEYS.has(key)) return iso(value);
  if (Array.isArray(value)) return value.map((v) => toJson(v));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJson(v, k)]));
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

/** Computes the cockpit at `asOf` from the tenant's full history. */
export async function computeCockpit(db: D1Database, tenantId: string, asOf: number) {
  const loaded = await loadKpiInput(db, tenantId);
  const index = buildKpiIndex(loaded.input);
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
  const loaded = await loadKpiInput(db, tenantId);
  const index = buildKpiIndex(loaded.input);
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
