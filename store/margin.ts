import type { MarginSort, PnlSums, RecognisedFees, SortOrder, WindowDays } from "../domain/margin";
import { DAY_MS } from "../domain/time";
import { type Query, query, runQueries } from "./batch";
import { joinHalves, sumHalves, sumIntoHalves, toHalves } from "./exact-sum";
import { projectCustomerWindowsStatement, projectMarginDailyStatement } from "./rollups";
import { phasesQuery, segmentsQuery } from "./subscription-reads";

// COGS & margin read models (schema/0006_billing.sql; docs/metrics.md §COGS and margin), rebuilt
// from rollups_daily and the subscription history in one D1 transaction, so a reader sees one
// whole build:
// - margin_customer_windows: per window (30/60/90 days) × product × customer, with the segment;
//   product '' is the customer's total over its products (its plans in `segments`);
// - margin_product_windows: per window × product × segment ('' = all), the totals;
// - margin_daily: per day × product × segment over the last 90 days (the trends);
// - margin_builds: when the tenant's build ran, on which data, and the build lease.
// Reads are a few index range scans over ≤ 3 × customers rows, batched with the build state.

const JSON_CHUNK = 2_000;

// ---- Build state and lease ---------------------------------------------------------------------

export interface BuildState {
  day: number;
  built_at: number;
  catalog_version: number;
  applied_at: number;
  currency: string;
  building_since: number | null;
  /** The tenant's catalog version now. */
  current_catalog: number;
  /** The latest rollup batch applied now. */
  current_applied: number;
}

/** The tenant's build and what the data looks like now (batch it with the reads). */
export function buildStateQuery(db: D1Database, tenantId: string): Query<BuildState | undefined> {
  return query<BuildState, BuildState | undefined>(
    db
      .prepare(
        `SELECT b.day, b.built_at, b.catalog_version, b.applied_at, b.currency, b.building_since,
           t.catalog_version AS current_catalog,
           COALESCE((SELECT MAX(applied_at) FROM applied_batches WHERE tenant_id = t.id), 0) AS current_applied
         FROM tenants t JOIN margin_builds b ON b.tenant_id = t.id WHERE t.id = ?`,
      )
      .bind(tenantId),
    (rows) => rows[0],
  );
}

/** Takes the build lease (so concurrent readers do not all rebuild): false while another build
 * younger than `leaseMs` holds it. */
export async function takeBuildLease(
  db: D1Database,
  tenantId: string,
  now: number,
  leaseMs: number,
): Promise<boolean> {
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
      .bind(tenantId, now, now - leaseMs),
  ]);
  return (res?.meta.changes ?? 0) > 0;
}

export async function releaseBuildLease(db: D1Database, tenantId: string): Promise<void> {
  await db
    .prepare("UPDATE margin_builds SET building_since = NULL WHERE tenant_id = ?")
    .bind(tenantId)
    .run();
}

// ---- The build ---------------------------------------------------------------------------------

export interface BuildVersions {
  catalog_version: number;
  /** The latest applied rollup batch. */
  applied: number;
  /** The reporting currency: the one most subscriptions bill in (USD without any). */
  currency: string;
}

/** What a build starts from besides the plans: the subscription history, each customer's
 * segment per product, and the data versions it will reflect (one D1 batch). */
export async function loadBuildInputs(db: D1Database, tenantId: string) {
  const [subscriptions, segments, versions] = await runQueries(db, [
    phasesQuery(db, tenantId),
    segmentsQuery(db, tenantId),
    query<BuildVersions, BuildVersions | undefined>(
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
      (rows) => rows[0],
    ),
  ]);
  return { subscriptions, segments, versions: versions as BuildVersions };
}

/** Replaces the tenant's read models with a build at `now` (one D1 transaction): usage from the
 * rollups (store/rollups.ts projections), the recognised `fees`, then the totals. */
export async function writeBuild(
  db: D1Database,
  tenantId: string,
  b: { now: number; today: number; fees: RecognisedFees; versions: BuildVersions },
): Promise<void> {
  const windowRows = b.fees.windows.map((f) => [
    f.window,
    f.customer,
    f.product,
    f.segment,
    f.fee.toString(),
  ]);
  const dayRows = b.fees.days.map((f) => [f.day, f.product, f.segment, ...toHalves(f.fee)]);
  const statements: D1PreparedStatement[] = [
    db.prepare("DELETE FROM margin_customer_windows WHERE tenant_id = ?").bind(tenantId),
    db.prepare("DELETE FROM margin_product_windows WHERE tenant_id = ?").bind(tenantId),
    db.prepare("DELETE FROM margin_daily WHERE tenant_id = ?").bind(tenantId),
    // 1. Usage revenue, COGS and events per window × product × customer.
    projectCustomerWindowsStatement(db, tenantId, b.today),
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
           plan_id, segments, usage_revenue, fee_revenue, cost, events, margin, uncosted_events,
           uncosted_revenue)
         SELECT tenant_id, window_days, '', customer_id, NULL, group_concat(plan_id),
           SUM(usage_revenue), SUM(fee_revenue), SUM(cost), SUM(events), SUM(margin),
           SUM(uncosted_events), SUM(uncosted_revenue)
         FROM margin_customer_windows WHERE tenant_id = ?1 AND product_id <> ''
         GROUP BY window_days, customer_id`,
      )
      .bind(tenantId),
    // 4. Totals per product × segment, per product, and overall ('' = all): sums across
    //    customers, so in exact halves.
    db
      .prepare(
        `INSERT INTO margin_product_windows (tenant_id, window_days, product_id, plan_id,
           ${SPLIT_TARGETS}, events, customers, unprofitable, ${UNCOSTED_TARGETS})
         SELECT tenant_id, window_days, product_id, COALESCE(plan_id, ''), ${SPLIT_SOURCES},
           SUM(events), COUNT(*), SUM(margin < 0), ${UNCOSTED_SOURCES}
         FROM margin_customer_windows WHERE tenant_id = ?1 AND product_id <> ''
           AND plan_id IS NOT NULL
         GROUP BY window_days, product_id, plan_id
         UNION ALL
         SELECT tenant_id, window_days, product_id, '', ${SPLIT_SOURCES},
           SUM(events), COUNT(*), SUM(margin < 0), ${UNCOSTED_SOURCES}
         FROM margin_customer_windows WHERE tenant_id = ?1
         GROUP BY window_days, product_id`,
      )
      .bind(tenantId),
    // 5. The daily trends per product × segment.
    projectMarginDailyStatement(db, tenantId, b.today),
  );
  for (let i = 0; i < dayRows.length; i += JSON_CHUNK) {
    statements.push(
      db
        .prepare(
          `INSERT INTO margin_daily (tenant_id, day, product_id, plan_id, usage_revenue_hi,
             usage_revenue_lo, fee_revenue_hi, fee_revenue_lo, cost_hi, cost_lo, events)
           SELECT ?1, value->>0, value->>1, value->>2, 0, 0, CAST(value->>3 AS INTEGER),
             CAST(value->>4 AS INTEGER), 0, 0, 0
           FROM json_each(?2) WHERE true
           ON CONFLICT (tenant_id, day, product_id, plan_id) DO UPDATE SET
             fee_revenue_hi = excluded.fee_revenue_hi, fee_revenue_lo = excluded.fee_revenue_lo`,
        )
        .bind(tenantId, JSON.stringify(dayRows.slice(i, i + JSON_CHUNK))),
    );
  }
  const v = b.versions;
  statements.push(
    db
      .prepare(
        `INSERT INTO margin_builds (tenant_id, day, built_at, catalog_version, applied_at, currency,
           building_since)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL)
         ON CONFLICT (tenant_id) DO UPDATE SET day = ?2, built_at = ?3, catalog_version = ?4,
           applied_at = ?5, currency = ?6, building_since = NULL`,
      )
      .bind(tenantId, b.today, b.now, v.catalog_version, v.applied, v.currency),
  );
  await db.batch(statements);
}

// ---- Reads (batch them with buildStateQuery) ---------------------------------------------------

/** A filter of the read models: the window, and optionally one product and/or one segment. */
export interface MarginFilter {
  days: WindowDays;
  product: string | null;
  /** A plan id: the customers whose plan it is. */
  segment: string | null;
}

/** Money as exact halves (store/exact-sum.ts); a per-customer row has no high half. */
interface SumsRow {
  usage_hi: string | null;
  usage_lo: string;
  fees_hi: string | null;
  fees_lo: string;
  cost_hi: string | null;
  cost_lo: string;
  events: number;
}
const sumsOf = (r: SumsRow): PnlSums => ({
  usage: joinHalves(r.usage_hi, r.usage_lo),
  fees: joinHalves(r.fees_hi, r.fees_lo),
  cost: joinHalves(r.cost_hi, r.cost_lo),
  events: r.events,
});
const ZERO: PnlSums = { usage: 0n, fees: 0n, cost: 0n, events: 0 };

const MONEY = [
  ["usage_revenue", "usage"],
  ["fee_revenue", "fees"],
  ["cost", "cost"],
] as const;
/** Per-customer rows (margin_customer_windows): single integers. */
const COLUMNS = `${MONEY.map(([c, a]) => `NULL AS ${a}_hi, CAST(${c} AS TEXT) AS ${a}_lo`).join(", ")}, events`;
/** Their sums across customers, in halves. */
const SUMS = `${MONEY.map(([c, a]) => sumHalves(c, a)).join(", ")}, SUM(events) AS events`;
/** Tenant-wide rows (margin_product_windows, margin_daily): stored in halves. */
const SPLIT_COLUMNS = MONEY.map(
  ([c, a]) => `CAST(${c}_hi AS TEXT) AS ${a}_hi, CAST(${c}_lo AS TEXT) AS ${a}_lo`,
).join(", ");
const SPLIT_SUMS = `${MONEY.map(
  ([c, a]) => `CAST(SUM(${c}_hi) AS TEXT) AS ${a}_hi, CAST(SUM(${c}_lo) AS TEXT) AS ${a}_lo`,
).join(", ")}, SUM(events) AS events`;
/** Writing sums across customers into a tenant-wide row. */
const SPLIT_TARGETS = MONEY.map(([c]) => `${c}_hi, ${c}_lo`).join(", ");
const SPLIT_SOURCES = MONEY.map(([c]) => sumIntoHalves(c)).join(", ");

/** Of a P&L's events, those Aforo could not cost, and their usage revenue (nanos). */
export interface UncostedSums {
  events: number;
  revenue: bigint;
}

/** The uncosted part as the reads select it: events and revenue in halves. */
interface UncostedRow {
  u_events: number | null;
  u_rev_hi: string | null;
  u_rev_lo: string | null;
}
const uncostedOf = (r: UncostedRow | undefined): UncostedSums => ({
  events: r?.u_events ?? 0,
  revenue: joinHalves(r?.u_rev_hi, r?.u_rev_lo),
});
/** Writing the uncosted sums (and the paying unprofitable count) into a tenant-wide row. */
const UNCOSTED_TARGETS =
  "uncosted_events, uncosted_revenue_hi, uncosted_revenue_lo, unprofitable_paying";
const UNCOSTED_SOURCES = `SUM(uncosted_events), ${sumIntoHalves("uncosted_revenue")},
  SUM(margin < 0 AND usage_revenue + fee_revenue > 0)`;
const UNCOSTED_SPLIT_COLUMNS =
  "uncosted_events AS u_events, CAST(uncosted_revenue_hi AS TEXT) AS u_rev_hi, CAST(uncosted_revenue_lo AS TEXT) AS u_rev_lo, unprofitable_paying";
const UNCOSTED_SPLIT_SUMS =
  "SUM(uncosted_events) AS u_events, CAST(SUM(uncosted_revenue_hi) AS TEXT) AS u_rev_hi, CAST(SUM(uncosted_revenue_lo) AS TEXT) AS u_rev_lo, SUM(unprofitable_paying) AS unprofitable_paying";

export interface MarginTotal {
  sums: PnlSums;
  customers: number;
  unprofitable: number;
  /** Of the unprofitable, those with revenue in the window (the rest earn $0: trials, free
   * plans, customers only seen in events). */
  unprofitablePaying: number;
  uncosted: UncostedSums;
}

type TotalRow = { [K in keyof SumsRow]: SumsRow[K] | null } & {
  customers: number | null;
  unprofitable: number | null;
  unprofitable_paying: number | null;
} & UncostedRow;
const totalOf = (rows: readonly TotalRow[]): MarginTotal => {
  const r = rows[0];
  return {
    sums: r?.usage_lo != null ? sumsOf(r as SumsRow) : ZERO,
    customers: r?.customers ?? 0,
    unprofitable: r?.unprofitable ?? 0,
    unprofitablePaying: r?.unprofitable_paying ?? 0,
    uncosted: uncostedOf(r),
  };
};

export interface ProductWindow extends MarginTotal {
  product: string;
  name: string | null;
}

/** The products of the filter (each on the segment's rows, or over all). */
export function productWindowsQuery(db: D1Database, tenantId: string, f: MarginFilter) {
  return query<
    SumsRow &
      UncostedRow & {
        key: string;
        name: string | null;
        customers: number;
        unprofitable: number;
        unprofitable_paying: number;
      },
    ProductWindow[]
  >(
    db
      .prepare(
        `SELECT w.product_id AS key, p.name, ${SPLIT_COLUMNS}, w.events, w.customers,
           w.unprofitable, ${UNCOSTED_SPLIT_COLUMNS}
         FROM margin_product_windows w
         LEFT JOIN products p ON p.tenant_id = w.tenant_id AND p.id = w.product_id
         WHERE w.tenant_id = ?1 AND w.window_days = ?2 AND w.plan_id = ?3
           AND w.product_id <> '' AND (?4 IS NULL OR w.product_id = ?4)`,
      )
      .bind(tenantId, f.days, f.segment ?? "", f.product),
    (rows) =>
      rows.map((r) => ({
        product: r.key,
        name: r.name,
        sums: sumsOf(r),
        customers: r.customers,
        unprofitable: r.unprofitable,
        unprofitablePaying: r.unprofitable_paying,
        uncosted: uncostedOf(r),
      })),
  );
}

/** The filter's total: one precomputed row, unless a segment spans several of its product's
 * rows. */
export function productTotalQuery(db: D1Database, tenantId: string, f: MarginFilter) {
  return query<TotalRow, MarginTotal>(
    db
      .prepare(
        `SELECT ${SPLIT_SUMS}, SUM(customers) AS customers, SUM(unprofitable) AS unprofitable,
           ${UNCOSTED_SPLIT_SUMS}
         FROM margin_product_windows WHERE tenant_id = ?1 AND window_days = ?2 AND plan_id = ?3
           AND (CASE WHEN ?3 = '' THEN product_id = COALESCE(?4, '')
                ELSE product_id <> '' AND (?4 IS NULL OR product_id = ?4) END)`,
      )
      .bind(tenantId, f.days, f.segment ?? "", f.product),
    totalOf,
  );
}

/** Where the customer rows of one filter live: a segment (plan) has its own rows; else a
 * product's rows, or the all-products rows (product_id ''). */
function scope(f: MarginFilter) {
  return f.segment !== null
    ? {
        where: "plan_id = ?3 AND (?4 IS NULL OR product_id = ?4)",
        binds: [f.segment, f.product],
      }
    : { where: "product_id = ?3 AND ?4 IS NULL", binds: [f.product ?? "", null] };
}

/** Which customers by revenue: those paying anything in the window, or those earning $0. */
export type RevenueFilter = "paying" | "none" | null;
const REVENUE_SQL = {
  paying: "AND usage_revenue + fee_revenue > 0",
  none: "AND usage_revenue + fee_revenue = 0",
} as const;

/** The total of the filter's customers costing more than they pay (of one revenue kind). */
export function unprofitableTotalQuery(
  db: D1Database,
  tenantId: string,
  f: MarginFilter & { revenue?: RevenueFilter },
) {
  const where = scope(f);
  return query<TotalRow, MarginTotal>(
    db
      .prepare(
        `SELECT ${SUMS}, COUNT(*) AS customers, COUNT(*) AS unprofitable,
           SUM(usage_revenue + fee_revenue > 0) AS unprofitable_paying,
           SUM(uncosted_events) AS u_events, ${sumHalves("uncosted_revenue", "u_rev")}
         FROM margin_customer_windows
         WHERE tenant_id = ?1 AND window_days = ?2 AND ${where.where} AND margin < 0
           ${f.revenue ? REVENUE_SQL[f.revenue] : ""}`,
      )
      .bind(tenantId, f.days, ...where.binds),
    totalOf,
  );
}

// Qualified: the selected columns are aliased as text (exact money), never sort by those.
const ORDER_SQL: Record<MarginSort, string> = {
  contribution_margin: "m.margin",
  revenue: "(m.usage_revenue + m.fee_revenue)",
  cogs: "m.cost",
  usage_margin: "(m.usage_revenue - m.cost)",
  margin_pct: `(CASE WHEN m.usage_revenue + m.fee_revenue = 0 THEN NULL
    ELSE CAST(m.margin AS REAL) / (m.usage_revenue + m.fee_revenue) END)`,
};

export interface CustomerWindow {
  customer: string;
  /** Its plans (sorted). */
  segments: string[];
  sums: PnlSums;
  uncosted: UncostedSums;
  /** Whether the catalog has the customer (else it exists only in events). */
  known: boolean;
}

/** One page of the filter's customers ranked in SQL (`limit` rows from `offset`). */
export function customerWindowsQuery(
  db: D1Database,
  tenantId: string,
  f: MarginFilter & {
    unprofitable: boolean;
    revenue?: RevenueFilter;
    sort: MarginSort;
    order: SortOrder;
    limit: number;
    offset: number;
  },
) {
  const where = scope(f);
  const unprofitable = `${f.unprofitable ? "AND margin < 0" : ""} ${f.revenue ? REVENUE_SQL[f.revenue] : ""}`;
  const dir = f.order === "asc" ? "ASC" : "DESC";
  // The default order walks margin_customers_ranked (or _by_segment) backwards: no sort.
  const order =
    f.sort === "contribution_margin"
      ? `m.margin ${dir}, m.customer_id ${dir}`
      : `${ORDER_SQL[f.sort]} ${dir} NULLS LAST, m.customer_id`;
  return query<
    SumsRow & UncostedRow & { key: string; segments: string | null; known: number },
    CustomerWindow[]
  >(
    db
      .prepare(
        `SELECT customer_id AS key, COALESCE(segments, plan_id) AS segments, ${COLUMNS},
           uncosted_events AS u_events, NULL AS u_rev_hi, CAST(uncosted_revenue AS TEXT) AS u_rev_lo,
           EXISTS (SELECT 1 FROM customers c WHERE c.tenant_id = m.tenant_id
             AND c.id = m.customer_id) AS known
         FROM margin_customer_windows m
         WHERE tenant_id = ?1 AND window_days = ?2 AND ${where.where} ${unprofitable}
         ORDER BY ${order} LIMIT ?5 OFFSET ?6`,
      )
      .bind(tenantId, f.days, ...where.binds, f.limit, f.offset),
    (rows) =>
      rows.map((r) => ({
        customer: r.key,
        segments: r.segments ? r.segments.split(",").sort() : [],
        sums: sumsOf(r),
        uncosted: uncostedOf(r),
        known: r.known === 1,
      })),
  );
}

/** Daily sums of the filter's window ending `today` (margin_daily), per product (key = product)
 * or all together (key ''). */
export function trendQuery(
  db: D1Database,
  tenantId: string,
  f: MarginFilter,
  today: number,
  byProduct: boolean,
) {
  return query<
    SumsRow & { day: number; key: string },
    { day: number; key: string; sums: PnlSums }[]
  >(
    db
      .prepare(
        `SELECT day, ${byProduct ? "product_id" : "''"} AS key, ${SPLIT_SUMS} FROM margin_daily
         WHERE tenant_id = ?1 AND day > ?2 AND (?3 IS NULL OR product_id = ?3)
           AND (?4 IS NULL OR plan_id = ?4)
         GROUP BY day${byProduct ? ", product_id" : ""}`,
      )
      .bind(tenantId, today - f.days * DAY_MS, f.product, f.segment),
    (rows) => rows.map((r) => ({ day: r.day, key: r.key, sums: sumsOf(r) })),
  );
}

/** Whether the tenant's catalog knows the customer. */
export async function customerKnown(
  db: D1Database,
  tenantId: string,
  customerId: string,
): Promise<boolean> {
  const row = await db
    .prepare("SELECT 1 AS x FROM customers WHERE tenant_id = ? AND id = ?")
    .bind(tenantId, customerId)
    .first();
  return row !== null;
}
