import { type ReplayTotals, replayKey, splitReplayKey } from "../domain/exports/archive-replay";
import { DAY_MS } from "../domain/time";
import { sumIntoHalves } from "./exact-sum";

// Rebuilding a tenant's usage rollups for whole UTC dates from the event archive's totals
// (workers/routes/archive-replay.ts, docs/exports.md "Replay: rollups from the archive").
// rollups_hourly takes the archive's rows where they differ or are missing and loses the rows the
// archive does not have; then everything D1 derives from it for those dates is derived again in
// the same transaction: rollups_daily from the day's hours (its triggers move rollups_weekly by
// the same amounts, schema/0029_weekly_rollups.sql), rollups_tenant_hourly and
// rollups_tenant_daily from those. The model, session and API-key tables are kept by the
// consumer from its own facets, not from rollups_hourly, and the archive has no API key id, so
// they are left as they are (the route's answer names them).

/** Rows per json_each statement: ~300 bytes each, well inside D1's 2 MB bound value. */
const ROWS_PER_STATEMENT = 2_000;

/** What the rebuild checks before it writes: the day's row count and event sum as read. Every
 * outbox batch the consumer applies adds events, so a batch applied between the read and the
 * write changes it. */
export interface DayFingerprint {
  rows: number;
  events: number;
}

const FINGERPRINT = `SELECT COUNT(*) AS rows, COALESCE(SUM(events), 0) AS events FROM rollups_hourly
  WHERE tenant_id = ?1 AND start >= ?2 AND start < ?3`;

/** A date's rollups_hourly rows, keyed like the archive's totals, and their fingerprint. */
export async function hourlyRollupsOfDay(
  db: D1Database,
  tenantId: string,
  day: number,
): Promise<{ rows: Map<string, ReplayTotals>; fingerprint: DayFingerprint }> {
  const [read, counted] = await db.batch([
    db
      .prepare(
        `SELECT customer_id, start, product_id, metric_id, CAST(units AS TEXT) AS units,
           CAST(revenue AS TEXT) AS revenue, CAST(cost AS TEXT) AS cost, events, uncosted_events,
           CAST(uncosted_revenue AS TEXT) AS uncosted_revenue
         FROM rollups_hourly WHERE tenant_id = ?1 AND start >= ?2 AND start < ?3`,
      )
      .bind(tenantId, day, day + DAY_MS),
    db.prepare(FINGERPRINT).bind(tenantId, day, day + DAY_MS),
  ]);
  const rows = new Map<string, ReplayTotals>();
  for (const r of (read?.results ?? []) as Record<string, string | number>[]) {
    rows.set(
      replayKey(String(r.customer_id), Number(r.start), String(r.product_id), String(r.metric_id)),
      {
        units: BigInt(r.units ?? 0),
        revenue: BigInt(r.revenue ?? 0),
        cost: BigInt(r.cost ?? 0),
        events: Number(r.events),
        uncosted_events: Number(r.uncosted_events),
        uncosted_revenue: BigInt(r.uncosted_revenue ?? 0),
      },
    );
  }
  const f = (counted?.results?.[0] ?? { rows: 0, events: 0 }) as DayFingerprint;
  return { rows, fingerprint: { rows: Number(f.rows), events: Number(f.events) } };
}

/** The message the guard's failure carries (SQLite's own, for malformed JSON). */
export const REBUILD_GUARD_FAILED = /malformed JSON/i;

const SET_HOURLY = `
  INSERT INTO rollups_hourly (tenant_id, start, customer_id, product_id, metric_id, units,
    revenue, cost, events, uncosted_events, uncosted_revenue)
  SELECT ?1, value->>'hour', value->>'customer', value->>'product', value->>'metric',
    CAST(value->>'units' AS INTEGER), CAST(value->>'revenue' AS INTEGER),
    CAST(value->>'cost' AS INTEGER), value->>'events', value->>'uncosted_events',
    CAST(value->>'uncosted_revenue' AS INTEGER)
  FROM json_each(?2) WHERE true
  ON CONFLICT (tenant_id, start, customer_id, product_id, metric_id) DO UPDATE SET
    units = excluded.units, revenue = excluded.revenue, cost = excluded.cost,
    events = excluded.events, uncosted_events = excluded.uncosted_events,
    uncosted_revenue = excluded.uncosted_revenue`;

const DELETE_HOURLY = `
  DELETE FROM rollups_hourly WHERE tenant_id = ?1
    AND (start, customer_id, product_id, metric_id) IN
      (SELECT value->>'hour', value->>'customer', value->>'product', value->>'metric'
       FROM json_each(?2))`;

const TENANT_SUMS = `${sumIntoHalves("units")}, ${sumIntoHalves("revenue")}, ${sumIntoHalves("cost")},
    SUM(events), SUM(uncosted_events), ${sumIntoHalves("uncosted_revenue")}`;
const TENANT_COLUMNS = `tenant_id, start, product_id, metric_id, units_hi, units_lo, revenue_hi,
    revenue_lo, cost_hi, cost_lo, events, uncosted_events, uncosted_revenue_hi, uncosted_revenue_lo`;

/**
 * The statements that make one date's rollups equal the archive's totals, for ONE `db.batch()`
 * (one D1 transaction, so a reader sees the date before or after, never between). The first
 * statement fails the batch, changing nothing, when the date's rows no longer have the
 * fingerprint they were compared with: the consumer applied a batch meanwhile.
 */
export function rebuildDayStatements(
  db: D1Database,
  tenantId: string,
  day: number,
  fingerprint: DayFingerprint,
  writes: { set: readonly [string, ReplayTotals][]; delete: readonly string[] },
): D1PreparedStatement[] {
  const end = day + DAY_MS;
  const statements = [
    // json() of text that is not JSON raises an error: the one way to abort a D1 batch from SQL.
    db
      .prepare(
        `SELECT CASE WHEN f.rows = ?4 AND f.events = ?5 THEN 1
           ELSE json('rollups changed during the rebuild') END AS unchanged
         FROM (${FINGERPRINT}) f`,
      )
      .bind(tenantId, day, end, fingerprint.rows, fingerprint.events),
  ];
  const set = writes.set.map(([key, t]) => {
    const k = splitReplayKey(key);
    return {
      hour: k.hour,
      customer: k.customer,
      product: k.product,
      metric: k.metric,
      units: t.units.toString(),
      revenue: t.revenue.toString(),
      cost: t.cost.toString(),
      events: t.events,
      uncosted_events: t.uncosted_events,
      uncosted_revenue: t.uncosted_revenue.toString(),
    };
  });
  for (let i = 0; i < set.length; i += ROWS_PER_STATEMENT) {
    statements.push(
      db.prepare(SET_HOURLY).bind(tenantId, JSON.stringify(set.slice(i, i + ROWS_PER_STATEMENT))),
    );
  }
  const gone = writes.delete.map((key) => {
    const k = splitReplayKey(key);
    return { hour: k.hour, customer: k.customer, product: k.product, metric: k.metric };
  });
  for (let i = 0; i < gone.length; i += ROWS_PER_STATEMENT) {
    statements.push(
      db
        .prepare(DELETE_HOURLY)
        .bind(tenantId, JSON.stringify(gone.slice(i, i + ROWS_PER_STATEMENT))),
    );
  }
  statements.push(
    // The day again from its hours; each row deleted and inserted moves its week by the same
    // amounts through rollups_daily's triggers.
    db.prepare("DELETE FROM rollups_daily WHERE tenant_id = ?1 AND start = ?2").bind(tenantId, day),
    db
      .prepare(
        `INSERT INTO rollups_daily (tenant_id, start, customer_id, product_id, metric_id, units,
           revenue, cost, events, uncosted_events, uncosted_revenue)
         SELECT tenant_id, ?2, customer_id, product_id, metric_id, SUM(units), SUM(revenue),
           SUM(cost), SUM(events), SUM(uncosted_events), SUM(uncosted_revenue)
         FROM rollups_hourly WHERE tenant_id = ?1 AND start >= ?2 AND start < ?3
         GROUP BY customer_id, product_id, metric_id`,
      )
      .bind(tenantId, day, end),
    db
      .prepare(
        "DELETE FROM rollups_tenant_hourly WHERE tenant_id = ?1 AND start >= ?2 AND start < ?3",
      )
      .bind(tenantId, day, end),
    db
      .prepare(
        `INSERT INTO rollups_tenant_hourly (${TENANT_COLUMNS})
         SELECT tenant_id, start, product_id, metric_id, ${TENANT_SUMS}
         FROM rollups_hourly WHERE tenant_id = ?1 AND start >= ?2 AND start < ?3
         GROUP BY start, product_id, metric_id`,
      )
      .bind(tenantId, day, end),
    db
      .prepare("DELETE FROM rollups_tenant_daily WHERE tenant_id = ?1 AND start = ?2")
      .bind(tenantId, day),
    db
      .prepare(
        `INSERT INTO rollups_tenant_daily (${TENANT_COLUMNS})
         SELECT tenant_id, start, product_id, metric_id, ${TENANT_SUMS}
         FROM rollups_daily WHERE tenant_id = ?1 AND start = ?2
         GROUP BY start, product_id, metric_id`,
      )
      .bind(tenantId, day),
  );
  return statements;
}

/** The UTC days in [from, to) on which the tenant has rollups_hourly rows with events. */
export async function daysWithRollups(
  db: D1Database,
  tenantId: string,
  from: number,
  to: number,
): Promise<Set<number>> {
  const { results } = await db
    .prepare(
      `SELECT DISTINCT start - start % ${DAY_MS} AS day FROM rollups_hourly
       WHERE tenant_id = ?1 AND start >= ?2 AND start < ?3 AND events > 0`,
    )
    .bind(tenantId, from, to)
    .all<{ day: number }>();
  return new Set(results.map((r) => Number(r.day)));
}
