import { dailyFees } from "../../domain/subscription-phases";
import { groupPhases, PHASES_ORDER, PHASES_SQL, type PhaseRow } from "../../store/subscriptions";
import { loadTenantPlans } from "./plans";

// COGS & margin read models (docs/metrics.md §COGS and margin). Built by the periodic job (and on
// demand) from rollups_daily and the subscription history, in one D1 transaction, so a reader
// sees one whole build:
// - margin_customer_windows: per customer × product, sums over the trailing 30/60/90 UTC days
//   (today, partial, included): usage revenue, recognised flat fees, COGS, events; and the
//   segment (the plan of the customer's latest subscription to the product).
// - margin_daily: per day × product × segment over the last 90 days (the trends).
// Reads (workers/routes/margin.ts) are then a few index range scans over ≤ 3 × customers rows.

export const WINDOWS = [30, 60, 90] as const;
export type WindowDays = (typeof WINDOWS)[number];
const DAY_MS = 86_400_000;
/** A build older than this, or older than the data, is rebuilt in the background. */
export const MARGIN_REFRESH_MS = 30_000;
const BUILD_LEASE_MS = 120_000;
const JSON_CHUNK = 2_000;

export const dayStart = (t: number) => Math.floor(t / DAY_MS) * DAY_MS;

const SEGMENTS_SQL = `SELECT customer_id, product_id, plan_id FROM (
    SELECT s.customer_id, p.product_id, s.plan_id, ROW_NUMBER() OVER (
      PARTITION BY s.customer_id, p.product_id ORDER BY s.start_at DESC, s.id DESC) AS rn
    FROM subscriptions s JOIN plans p ON p.tenant_id = s.tenant_id AND p.id = s.plan_id
    WHERE s.tenant_id = ?1) WHERE rn = 1`;

export interface BuildState {
  day: number;
  built_at: number;
  catalog_version: number;
  applied_at: number;
  currency: string;
  building_since: number | null;
  current_catalog: number;
  current_applied: number;
}

/** The tenant's build and what the data looks like now (one query; batch it with the reads). */
export function buildStateStatement(db: D1Database, tenantId: string) {
  return db
    .prepare(
      `SELECT b.day, b.built_at, b.catalog_version, b.applied_at, b.currency, b.building_since,
         t.catalog_version AS current_catalog,
         COALESCE((SELECT MAX(applied_at) FROM applied_batches WHERE tenant_id = t.id), 0) AS current_applied
       FROM tenants t JOIN margin_builds b ON b.tenant_id = t.id WHERE t.id = ?`,
    )
    .bind(tenantId);
}

/** Whether a build no longer reflects the data and may be redone now. */
export function isStale(s: BuildState, now: number): boolean {
  if (now - s.built_at < MARGIN_REFRESH_MS) return false;
  return (
    s.catalog_version !== s.current_catalog ||
    s.applied_at < s.current_applied ||
    now - s.built_at > 5 * 60_000
  );
}

/** Takes the build lease (so concurrent readers do not all rebuild); false if someone has it. */
async function takeLease(db: D1Database, tenantId: string, now: number): Promise<boolean> {
  const [, res] = await db.batch([
    db
      .prepare(
        `INSERT OR IGNORE INTO margin_builds (tenant_id, day, built_at, catalog_version, applied_at)
         VALUES (?, 0, 0, -1, 0)`,
      )
      .bind(tenantId),
    db
      .prepare(
        `UPDATE margin_builds SET building_since = ?2 WHERE tenant_id = ?1
           AND (building_since IS NULL OR building_since < ?3)`,
      )
      .bind(tenantId, now, now - BUILD_LEASE_MS),
  ]);
  return (res?.meta.changes ?? 0) > 0;
}

/** Builds the margin read models at `now` unless another build holds the lease (then waits for
 * none: the caller reads the previous build). `force` builds regardless of the lease. */
export async function buildMargin(
  db: D1Database,
  tenantId: string,
  now: number,
  opts: { force?: boolean } = {},
): Promise<{ built_at: number; skipped: boolean }> {
  const leased = await takeLease(db, tenantId, now);
  if (!leased && !opts.force) return { built_at: now, skipped: true };
  try {
    await build(db, tenantId, now);
  } catch (err) {
    await db
      .prepare("UPDATE margin_builds SET building_since = NULL WHERE tenant_id = ?")
      .bind(tenantId)
      .run();
    throw err;
  }
  return { built_at: now, skipped: false };
}

async function build(db: D1Database, tenantId: string, now: number) {
  const today = dayStart(now);
  const from = today - (90 - 1) * DAY_MS;
  const until = Math.min(now, today + DAY_MS);
  const [plans, head] = await Promise.all([
    loadTenantPlans(db, tenantId),
    db.batch([
      db.prepare(`${PHASES_SQL} WHERE s.tenant_id = ? ${PHASES_ORDER}`).bind(tenantId),
      db.prepare(SEGMENTS_SQL).bind(tenantId),
      db
        .prepare(
          `SELECT t.catalog_version,
             COALESCE((SELECT MAX(applied_at) FROM applied_batches WHERE tenant_id = t.id), 0) AS applied,
             COALESCE((SELECT p.currency FROM subscriptions s JOIN plans p
               ON p.tenant_id = s.tenant_id AND p.id = s.plan_id WHERE s.tenant_id = t.id
               GROUP BY p.currency ORDER BY COUNT(*) DESC, p.currency LIMIT 1), 'USD') AS currency
           FROM tenants t WHERE t.id = ?`,
        )
        .bind(tenantId),
    ]),
  ]);
  const [phaseRes, segRes, versionRes] = head;
  const versions = versionRes?.results[0] as {
    catalog_version: number;
    applied: number;
    currency: string;
  };
  const segment = new Map<string, string>();
  for (const r of (segRes?.results ?? []) as {
    customer_id: string;
    product_id: string;
    plan_id: string;
  }[]) {
    segment.set(`${r.customer_id}\u0000${r.product_id}`, r.plan_id);
  }

  // Recognised flat fees: per customer × product × window, and per day × product × segment.
  const planOf = (id: string) => {
    const p = plans.get(id)?.plan;
    return p ? { interval: p.interval, flat: p.flat?.amount ?? 0n } : undefined;
  };
  const windowFees = new Map<string, bigint[]>();
  const dayFees = new Map<string, bigint>();
  for (const sub of groupPhases((phaseRes?.results ?? []) as unknown as PhaseRow[])) {
    const fees = dailyFees(sub, planOf, from, until);
    if (fees.size === 0) continue;
    const key = `${sub.customer_id}\u0000${sub.product_id}`;
    const seg = segment.get(key) ?? "";
    let sums = windowFees.get(key);
    if (!sums) {
      sums = WINDOWS.map(() => 0n);
      windowFees.set(key, sums);
    }
    for (const [day, amount] of fees) {
      WINDOWS.forEach((w, i) => {
        if (day > today - w * DAY_MS)
          (sums as bigint[])[i] = ((sums as bigint[])[i] as bigint) + amount;
      });
      const dk = `${day}\u0000${sub.product_id}\u0000${seg}`;
      dayFees.set(dk, (dayFees.get(dk) ?? 0n) + amount);
    }
  }
  const windowRows: [number, string, string, string | null, string][] = [];
  for (const [key, sums] of windowFees) {
    const [customer = "", product = ""] = key.split("\u0000");
    WINDOWS.forEach((w, i) => {
      const fee = sums[i] as bigint;
      if (fee !== 0n)
        windowRows.push([w, customer, product, segment.get(key) ?? null, fee.toString()]);
    });
  }
  const dayRows = [...dayFees].map(([k, fee]) => {
    const [day = "0", product = "", seg = ""] = k.split("\u0000");
    return [Number(day), product, seg, fee.toString()];
  });

  const W = (col: string) =>
    `CASE w.n WHEN 30 THEN a.${col}30 WHEN 60 THEN a.${col}60 ELSE a.${col}90 END`;
  const statements: D1PreparedStatement[] = [
    db.prepare("DELETE FROM margin_customer_windows WHERE tenant_id = ?").bind(tenantId),
    db.prepare("DELETE FROM margin_product_windows WHERE tenant_id = ?").bind(tenantId),
    db.prepare("DELETE FROM margin_daily WHERE tenant_id = ?").bind(tenantId),
    // 1. Usage revenue, COGS and events per window × product × customer: one pass over the
    //    tenant's last 90 days of rollups.
    db
      .prepare(
        `WITH seg AS MATERIALIZED (${SEGMENTS_SQL}),
         agg AS MATERIALIZED (
           SELECT r.customer_id, r.product_id,
             SUM(CASE WHEN r.start >= ?2 THEN r.revenue ELSE 0 END) AS r30,
             SUM(CASE WHEN r.start >= ?2 THEN r.cost ELSE 0 END) AS c30,
             SUM(CASE WHEN r.start >= ?2 THEN r.events ELSE 0 END) AS e30,
             SUM(CASE WHEN r.start >= ?3 THEN r.revenue ELSE 0 END) AS r60,
             SUM(CASE WHEN r.start >= ?3 THEN r.cost ELSE 0 END) AS c60,
             SUM(CASE WHEN r.start >= ?3 THEN r.events ELSE 0 END) AS e60,
             SUM(r.revenue) AS r90, SUM(r.cost) AS c90, SUM(r.events) AS e90
           FROM rollups_daily r WHERE r.tenant_id = ?1 AND r.start >= ?4 AND r.start <= ?5
           GROUP BY r.customer_id, r.product_id)
         INSERT INTO margin_customer_windows (tenant_id, window_days, product_id, customer_id,
           plan_id, usage_revenue, fee_revenue, cost, events, margin)
         SELECT ?1, n, product_id, customer_id, plan_id, r, 0, c, e, r - c FROM (
           SELECT w.n, a.product_id, a.customer_id, seg.plan_id,
             ${W("r")} AS r, ${W("c")} AS c, ${W("e")} AS e
           FROM agg a CROSS JOIN (SELECT 30 AS n UNION ALL SELECT 60 UNION ALL SELECT 90) w
           LEFT JOIN seg ON seg.customer_id = a.customer_id AND seg.product_id = a.product_id)
         WHERE r <> 0 OR c <> 0 OR e <> 0`,
      )
      .bind(tenantId, today - 29 * DAY_MS, today - 59 * DAY_MS, from, today),
  ];
  // 2. Recognised flat fees into the same rows (rows with fees only are created).
  for (let i = 0; i < windowRows.length; i += JSON_CHUNK) {
    statements.push(
      db
        .prepare(
          `INSERT INTO margin_customer_windows (tenant_id, window_days, product_id, customer_id,
             plan_id, usage_revenue, fee_revenue, cost, events, margin)
           SELECT ?1, value->>0, value->>2, value->>1, value->>3, 0, CAST(value->>4 AS INTEGER), 0,
             0, CAST(value->>4 AS INTEGER)
           FROM json_each(?2) WHERE true
           ON CONFLICT (tenant_id, window_days, product_id, customer_id) DO UPDATE SET
             fee_revenue = excluded.fee_revenue, margin = margin + excluded.fee_revenue`,
        )
        .bind(tenantId, JSON.stringify(windowRows.slice(i, i + JSON_CHUNK))),
    );
  }
  statements.push(
    // 3. Each customer's total over its products (product_id ''), its plans as segments.
    db
      .prepare(
        `INSERT INTO margin_customer_windows (tenant_id, window_days, product_id, customer_id,
           plan_id, segments, usage_revenue, fee_revenue, cost, events, margin)
         SELECT tenant_id, window_days, '', customer_id, NULL, group_concat(plan_id),
           SUM(usage_revenue), SUM(fee_revenue), SUM(cost), SUM(events), SUM(margin)
         FROM margin_customer_windows WHERE tenant_id = ?1 AND product_id <> ''
         GROUP BY window_days, customer_id`,
      )
      .bind(tenantId),
    // 4. Totals per product × segment, per product, and overall ('' = all).
    db
      .prepare(
        `INSERT INTO margin_product_windows (tenant_id, window_days, product_id, plan_id,
           usage_revenue, fee_revenue, cost, events, customers, unprofitable)
         SELECT tenant_id, window_days, product_id, COALESCE(plan_id, ''), SUM(usage_revenue),
           SUM(fee_revenue), SUM(cost), SUM(events), COUNT(*), SUM(margin < 0)
         FROM margin_customer_windows WHERE tenant_id = ?1 AND product_id <> ''
           AND plan_id IS NOT NULL
         GROUP BY window_days, product_id, plan_id
         UNION ALL
         SELECT tenant_id, window_days, product_id, '', SUM(usage_revenue), SUM(fee_revenue),
           SUM(cost), SUM(events), COUNT(*), SUM(margin < 0)
         FROM margin_customer_windows WHERE tenant_id = ?1
         GROUP BY window_days, product_id`,
      )
      .bind(tenantId),
    // 5. The daily trends per product × segment.
    db
      .prepare(
        `WITH seg AS MATERIALIZED (${SEGMENTS_SQL})
         INSERT INTO margin_daily (tenant_id, day, product_id, plan_id, usage_revenue, fee_revenue,
           cost, events)
         SELECT ?1, r.start, r.product_id, COALESCE(seg.plan_id, ''), SUM(r.revenue), 0,
           SUM(r.cost), SUM(r.events)
         FROM rollups_daily r
         LEFT JOIN seg ON seg.customer_id = r.customer_id AND seg.product_id = r.product_id
         WHERE r.tenant_id = ?1 AND r.start >= ?2 AND r.start <= ?3
         GROUP BY r.start, r.product_id, COALESCE(seg.plan_id, '')`,
      )
      .bind(tenantId, from, today),
  );
  for (let i = 0; i < dayRows.length; i += JSON_CHUNK) {
    statements.push(
      db
        .prepare(
          `INSERT INTO margin_daily (tenant_id, day, product_id, plan_id, usage_revenue,
             fee_revenue, cost, events)
           SELECT ?1, value->>0, value->>1, value->>2, 0, CAST(value->>3 AS INTEGER), 0, 0
           FROM json_each(?2) WHERE true
           ON CONFLICT (tenant_id, day, product_id, plan_id)
           DO UPDATE SET fee_revenue = excluded.fee_revenue`,
        )
        .bind(tenantId, JSON.stringify(dayRows.slice(i, i + JSON_CHUNK))),
    );
  }
  statements.push(
    db
      .prepare(
        `INSERT INTO margin_builds (tenant_id, day, built_at, catalog_version, applied_at, currency,
           building_since)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL)
         ON CONFLICT (tenant_id) DO UPDATE SET day = ?2, built_at = ?3, catalog_version = ?4,
           applied_at = ?5, currency = ?6, building_since = NULL`,
      )
      .bind(tenantId, today, now, versions.catalog_version, versions.applied, versions.currency),
  );
  await db.batch(statements);
}
