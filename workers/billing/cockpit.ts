import { buildKpiIndex, type Cockpit, cockpitAt, mrrAt, mrrMovements } from "../../domain/kpi";
import { formatMoney } from "../../domain/money";
import { iso } from "../schemas";
import { loadKpiInput } from "./kpi-input";

// The Revenue Cockpit over D1 (formulas: domain/kpi, docs/metrics.md). The periodic job computes
// it every tick into cockpit_snapshots; GET /api/metrics/cockpit answers from the latest snapshot
// while it still reflects the data (same catalog and billing versions, at most SNAPSHOT_MAX_AGE
// old), and computes one otherwise. A past `as_of` is computed from the history on demand.

export const SNAPSHOT_MAX_AGE_MS = 10 * 60_000;
const KEEP_ALL_MS = 2 * 86_400_000;

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

export async function dataVersions(db: D1Database, tenantId: string) {
  const row = await db
    .prepare(
      `SELECT t.catalog_version, COALESCE(b.version, 0) AS billing_version FROM tenants t
       LEFT JOIN billing_versions b ON b.tenant_id = t.id WHERE t.id = ?`,
    )
    .bind(tenantId)
    .first<{ catalog_version: number; billing_version: number }>();
  return { catalog: row?.catalog_version ?? 0, billing: row?.billing_version ?? 0 };
}

/** Computes the cockpit at `now` and stores it as a snapshot (the periodic job). */
export async function snapshotCockpit(db: D1Database, tenantId: string, now: number) {
  // Versions first: a write landing during the computation makes the snapshot stale, not wrong.
  const versions = await dataVersions(db, tenantId);
  const { cockpit, body } = await computeCockpit(db, tenantId, now);
  const text = JSON.stringify(body);
  await db.batch([
    db
      .prepare(
        `INSERT OR REPLACE INTO cockpit_snapshots
           (tenant_id, as_of, computed_at, catalog_version, billing_version, mrr, body)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      )
      .bind(
        tenantId,
        now,
        Date.now(),
        versions.catalog,
        versions.billing,
        formatMoney(cockpit.mrr.value),
        text,
      ),
    // History: everything from the last two days, then the last snapshot of each UTC day.
    db
      .prepare(
        `DELETE FROM cockpit_snapshots WHERE tenant_id = ?1 AND as_of < ?2 AND as_of NOT IN (
           SELECT MAX(as_of) FROM cockpit_snapshots WHERE tenant_id = ?1 AND as_of < ?2
           GROUP BY as_of / 86400000)`,
      )
      .bind(tenantId, now - KEEP_ALL_MS),
  ]);
  return { body, text };
}

/** The latest stored snapshot if it still reflects the data, else null. */
export async function freshSnapshot(db: D1Database, tenantId: string, now: number) {
  const row = await db
    .prepare(
      `SELECT s.as_of, s.body, s.catalog_version = t.catalog_version
           AND s.billing_version = COALESCE(b.version, 0) AS current
       FROM tenants t
       JOIN cockpit_snapshots s ON s.tenant_id = t.id
       LEFT JOIN billing_versions b ON b.tenant_id = t.id
       WHERE t.id = ? ORDER BY s.as_of DESC LIMIT 1`,
    )
    .bind(tenantId)
    .first<{ as_of: number; body: string; current: number }>();
  if (!row?.current || now - row.as_of > SNAPSHOT_MAX_AGE_MS) return null;
  return row;
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
