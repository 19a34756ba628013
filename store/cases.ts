import type { CaseAssignment, CaseCloseReason } from "../domain/cases";
import { CLEAR_AFTER_MS, HOUR, HOURLY_EPISODE_DETECTORS } from "../domain/cases";

// Cases in D1 (schema/0010_cases.sql; rules in domain/cases.ts). A case row changes as signals
// join it (level, window, magnitude, count) and when it closes or reopens; the signals it groups
// are linked in case_signals, one case per signal.

export type CaseStatus = "open" | "resolved";

export interface CaseRecord {
  id: string;
  case_key: string;
  detector: string;
  customer: string;
  scope: string;
  product: string | null;
  metric: string | null;
  direction: string | null;
  period: { start: number; end: number } | null;
  window: { start: number; end: number };
  level_rank: number;
  magnitude: number;
  signal_count: number;
  latest_signal_id: string | null;
  status: CaseStatus;
  opened_at: number;
  last_signal_at: number;
  updated_at: number;
  resolution: {
    at: number;
    by: string;
    reason: CaseCloseReason;
    note: string | null;
  } | null;
}

interface CaseRow {
  id: string;
  case_key: string;
  detector: string;
  customer_id: string;
  scope: string;
  product_id: string | null;
  metric_id: string | null;
  direction: string | null;
  period_start: number | null;
  period_end: number | null;
  window_start: number;
  window_end: number;
  level_rank: number;
  magnitude: number;
  signal_count: number;
  latest_signal_id: string | null;
  status: CaseStatus;
  opened_at: number;
  last_signal_at: number;
  updated_at: number;
  resolved_at: number | null;
  resolved_by: string | null;
  close_reason: CaseCloseReason | null;
  resolution_note: string | null;
}

const toCaseRecord = (r: CaseRow): CaseRecord => ({
  id: r.id,
  case_key: r.case_key,
  detector: r.detector,
  customer: r.customer_id,
  scope: r.scope,
  product: r.product_id,
  metric: r.metric_id,
  direction: r.direction,
  period:
    r.period_start !== null && r.period_end !== null
      ? { start: r.period_start, end: r.period_end }
      : null,
  window: { start: r.window_start, end: r.window_end },
  level_rank: r.level_rank,
  magnitude: r.magnitude,
  signal_count: r.signal_count,
  latest_signal_id: r.latest_signal_id,
  status: r.status,
  opened_at: r.opened_at,
  last_signal_at: r.last_signal_at,
  updated_at: r.updated_at,
  resolution:
    r.status === "resolved" && r.resolved_at !== null
      ? {
          at: r.resolved_at,
          by: r.resolved_by ?? "",
          reason: r.close_reason ?? "operator",
          note: r.resolution_note,
        }
      : null,
});

/** What a signal contributes to its case. */
export interface CaseSignalInput {
  signalId: string;
  window: { start: number; end: number };
  magnitude: number;
}

/**
 * The statements that file a newly recorded signal into its case, for the D1 transaction that
 * records the signal (they read what earlier statements of the same transaction wrote, so several
 * signals of one case in one batch escalate it in turn). Idempotent: a signal already linked to
 * a case changes nothing (a redelivered batch), and a case is escalated only by the statement
 * right after the link that inserted a row (`changes()`).
 *
 * Episode cases: an open case whose end + gap lies before this signal's start is over (the hours
 * between came in without a finding) and is closed, with its open signals, before this one opens
 * a new case.
 */
export function caseStatements(
  db: D1Database,
  tenantId: string,
  caseId: string,
  a: CaseAssignment,
  s: CaseSignalInput,
  now: number,
): D1PreparedStatement[] {
  const unlinked =
    "NOT EXISTS (SELECT 1 FROM case_signals WHERE tenant_id = ?1 AND signal_id = ?3)";
  const statements: D1PreparedStatement[] = [];
  if (a.gapMs !== null) {
    const over =
      "c.tenant_id = ?1 AND c.case_key = ?2 AND c.status = 'open' AND c.window_end + ?4 < ?5";
    statements.push(
      db
        .prepare(
          `UPDATE signals SET status = 'resolved', resolved_at = ?6, resolved_by = 'system',
             resolution_note = 'case closed: condition_cleared'
           WHERE tenant_id = ?1 AND status = 'open' AND ${unlinked} AND id IN (
             SELECT cs.signal_id FROM case_signals cs JOIN cases c ON c.tenant_id = cs.tenant_id AND c.id = cs.case_id
             WHERE ${over})`,
        )
        .bind(tenantId, a.key, s.signalId, a.gapMs, s.window.start, now),
      db
        .prepare(
          `UPDATE cases AS c SET status = 'resolved', resolved_at = ?6, resolved_by = 'system',
             close_reason = 'condition_cleared', resolution_note = NULL, updated_at = ?6
           WHERE ${over} AND ${unlinked}`,
        )
        .bind(tenantId, a.key, s.signalId, a.gapMs, s.window.start, now),
    );
  }
  statements.push(
    db
      .prepare(
        `INSERT INTO cases (tenant_id, id, case_key, detector, customer_id, scope, product_id, metric_id,
           direction, period_start, period_end, window_start, window_end, level_rank, magnitude, signal_count,
           status, opened_at, last_signal_at, updated_at)
         SELECT ?1, ?4, ?2, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, 0, 0, 0, 'open', ?15, ?15, ?15
         WHERE ${unlinked}
           AND NOT EXISTS (SELECT 1 FROM cases WHERE tenant_id = ?1 AND case_key = ?2 AND status = 'open')`,
      )
      .bind(
        tenantId,
        a.key,
        s.signalId,
        caseId,
        a.detector,
        a.customer,
        a.scope,
        a.product,
        a.metric,
        a.direction,
        a.period?.start ?? null,
        a.period?.end ?? null,
        s.window.start,
        s.window.end,
        now,
      ),
    db
      .prepare(
        `INSERT OR IGNORE INTO case_signals (tenant_id, signal_id, case_id, added_at)
         SELECT ?1, ?3, id, ?4 FROM cases WHERE tenant_id = ?1 AND case_key = ?2 AND status = 'open'`,
      )
      .bind(tenantId, a.key, s.signalId, now),
    // Right after the link: only a link that inserted a row escalates.
    db
      .prepare(
        `UPDATE cases SET
           level_rank = CASE WHEN ?4 = 1
             THEN ROUND((MAX(window_end, ?6) - MIN(window_start, ?5)) / ${HOUR}.0)
             ELSE MAX(level_rank, ?7) END,
           window_start = MIN(window_start, ?5), window_end = MAX(window_end, ?6),
           magnitude = MAX(magnitude, ?8), signal_count = signal_count + 1,
           latest_signal_id = ?3, last_signal_at = ?9, updated_at = ?9
         WHERE tenant_id = ?1 AND case_key = ?2 AND status = 'open' AND changes() > 0`,
      )
      .bind(
        tenantId,
        a.key,
        s.signalId,
        a.spanRank ? 1 : 0,
        s.window.start,
        s.window.end,
        a.rank,
        Number.isFinite(s.magnitude) ? s.magnitude : 1e9,
        now,
      ),
  );
  return statements;
}

/**
 * Statements closing a customer's open cases that the data of an outbox batch settles, for the
 * consumer's transaction before it files the batch's signals (domain/cases.ts closeDecision,
 * applied as the data arrives so open cases never wait for the tenant clock): cases whose period
 * ended by `now` (period_closed), and hourly episodes whose customer's usage reached the hour
 * CLEAR_AFTER_MS past their end (`latestHour`: the batch's latest hour; condition_cleared).
 * Their open signals are resolved with them.
 */
export function settledCaseStatements(
  db: D1Database,
  tenantId: string,
  customerId: string,
  latestHour: number | null,
  now: number,
): D1PreparedStatement[] {
  const detectors = HOURLY_EPISODE_DETECTORS.map((_, i) => `?${i + 6}`).join(", ");
  const settled = `c.tenant_id = ?1 AND c.customer_id = ?2 AND c.status = 'open' AND (
      (c.period_end IS NOT NULL AND c.period_end <= ?3)
      OR (?4 IS NOT NULL AND c.detector IN (${detectors}) AND c.window_end + ?5 <= ?4))`;
  const reason = `CASE WHEN c.period_end IS NOT NULL AND c.period_end <= ?3 THEN 'period_closed' ELSE 'condition_cleared' END`;
  const bind = (st: D1PreparedStatement) =>
    st.bind(tenantId, customerId, now, latestHour, CLEAR_AFTER_MS, ...HOURLY_EPISODE_DETECTORS);
  return [
    bind(
      db.prepare(
        `UPDATE signals SET status = 'resolved', resolved_at = ?3, resolved_by = 'system',
           resolution_note = (SELECT 'case closed: ' || ${reason} FROM case_signals cs JOIN cases c
             ON c.tenant_id = cs.tenant_id AND c.id = cs.case_id
             WHERE cs.tenant_id = ?1 AND cs.signal_id = signals.id)
         WHERE tenant_id = ?1 AND customer_id = ?2 AND status = 'open' AND id IN (
           SELECT cs.signal_id FROM case_signals cs JOIN cases c ON c.tenant_id = cs.tenant_id AND c.id = cs.case_id
           WHERE ${settled})`,
      ),
    ),
    bind(
      db.prepare(
        `UPDATE cases AS c SET status = 'resolved', resolved_at = ?3, resolved_by = 'system',
           close_reason = ${reason}, resolution_note = NULL, updated_at = ?3
         WHERE ${settled}`,
      ),
    ),
  ];
}

/** The products a customer's margin is judged on in a period: its usage in the D1 rollups and
 * the plans of its subscriptions that overlap the period. */
export async function customerProductsInPeriod(
  db: D1Database,
  tenantId: string,
  customerId: string,
  period: { start: number; end: number },
): Promise<string[]> {
  const { results } = await db
    .prepare(
      `SELECT DISTINCT product_id FROM rollups_daily
         WHERE tenant_id = ?1 AND customer_id = ?2 AND start >= ?3 AND start < ?4
       UNION
       SELECT p.product_id FROM subscriptions s JOIN plans p ON p.tenant_id = s.tenant_id AND p.id = s.plan_id
         WHERE s.tenant_id = ?1 AND s.customer_id = ?2 AND s.start_at < ?4 AND (s.end_at IS NULL OR s.end_at > ?3)`,
    )
    .bind(tenantId, customerId, period.start, period.end)
    .all<{ product_id: string }>();
  return results.map((r) => r.product_id);
}

export interface CaseFilter {
  detector?: string;
  customer?: string;
  status?: CaseStatus;
}

export type CaseOrder = "magnitude" | "time" | "level";

/** A page of cases after a cursor's `[sort value, id]`; `limit` rows at most. */
export async function listCases(
  db: D1Database,
  tenantId: string,
  filter: CaseFilter,
  order: CaseOrder,
  after: readonly [number, string] | null,
  limit: number,
): Promise<CaseRecord[]> {
  const column =
    order === "magnitude" ? "magnitude" : order === "level" ? "level_rank" : "last_signal_at";
  const { results } = await db
    .prepare(
      `SELECT * FROM cases WHERE tenant_id = ?1 AND (?2 IS NULL OR detector = ?2)
         AND (?3 IS NULL OR customer_id = ?3) AND (?4 IS NULL OR status = ?4)
         AND (?5 IS NULL OR ${column} < ?5 OR (${column} = ?5 AND id < ?6))
       ORDER BY ${column} DESC, id DESC LIMIT ?7`,
    )
    .bind(
      tenantId,
      filter.detector ?? null,
      filter.customer ?? null,
      filter.status ?? null,
      after?.[0] ?? null,
      after?.[1] ?? "",
      limit,
    )
    .all<CaseRow>();
  return results.map(toCaseRecord);
}

export async function getCase(
  db: D1Database,
  tenantId: string,
  id: string,
): Promise<CaseRecord | null> {
  const row = await db
    .prepare("SELECT * FROM cases WHERE tenant_id = ? AND id = ?")
    .bind(tenantId, id)
    .first<CaseRow>();
  return row ? toCaseRecord(row) : null;
}

/** How many cases are open, and for how many customers (the open-case budget; a tenant-wide
 * case, customer "*", is about no one customer). */
export async function openCaseCounts(
  db: D1Database,
  tenantId: string,
): Promise<{ open: number; customers: number }> {
  const row = await db
    .prepare(
      "SELECT COUNT(*) AS open, COUNT(DISTINCT NULLIF(customer_id, '*')) AS customers FROM cases WHERE tenant_id = ? AND status = 'open'",
    )
    .bind(tenantId)
    .first<{ open: number; customers: number }>();
  return { open: row?.open ?? 0, customers: row?.customers ?? 0 };
}

/** Open cases, oldest activity first, for the periodic closing. */
export async function openCases(
  db: D1Database,
  tenantId: string,
  limit: number,
): Promise<CaseRecord[]> {
  const { results } = await db
    .prepare(
      "SELECT * FROM cases WHERE tenant_id = ? AND status = 'open' ORDER BY last_signal_at LIMIT ?",
    )
    .bind(tenantId, limit)
    .all<CaseRow>();
  return results.map(toCaseRecord);
}

/** The start of each customer's latest hour with usage in the D1 rollups (customers without
 * any are left out): the latest day from the daily rollups (an index seek per customer), then
 * the latest hour of that day. */
export async function latestUsageHours(
  db: D1Database,
  tenantId: string,
  customers: readonly string[],
): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (customers.length === 0) return out;
  const days = await db.batch<{ day: number | null }>(
    customers.map((c) =>
      db
        .prepare(
          "SELECT MAX(start) AS day FROM rollups_daily WHERE tenant_id = ? AND customer_id = ?",
        )
        .bind(tenantId, c),
    ),
  );
  const withDay = customers.flatMap((c, i) => {
    const day = days[i]?.results[0]?.day;
    return typeof day === "number" ? [{ c, day }] : [];
  });
  if (withDay.length === 0) return out;
  const hours = await db.batch<{ hour: number | null }>(
    withDay.map(({ c, day }) =>
      db
        .prepare(
          "SELECT MAX(start) AS hour FROM rollups_hourly WHERE tenant_id = ? AND start >= ? AND start < ? AND customer_id = ?",
        )
        .bind(tenantId, day, day + 24 * HOUR, c),
    ),
  );
  withDay.forEach(({ c, day }, i) => {
    const hour = hours[i]?.results[0]?.hour;
    out.set(c, typeof hour === "number" ? hour : day);
  });
  return out;
}

export interface CaseClosing {
  at: number;
  by: string;
  reason: CaseCloseReason;
  note: string | null;
}

/** Closes an open case and resolves its open signals with it (so the signals list and the
 * at-risk KPI agree with the case); false when it was not open. */
export async function closeCase(
  db: D1Database,
  tenantId: string,
  id: string,
  closing: CaseClosing,
): Promise<boolean> {
  const note = closing.note ?? `case closed: ${closing.reason}`;
  const [updated] = await db.batch([
    db
      .prepare(
        `UPDATE cases SET status = 'resolved', resolved_at = ?3, resolved_by = ?4, close_reason = ?5,
           resolution_note = ?6, updated_at = ?3
         WHERE tenant_id = ?1 AND id = ?2 AND status = 'open'`,
      )
      .bind(tenantId, id, closing.at, closing.by, closing.reason, closing.note),
    db
      .prepare(
        `UPDATE signals SET status = 'resolved', resolved_at = ?3, resolved_by = ?4, resolution_note = ?5
         WHERE tenant_id = ?1 AND status = 'open' AND changes() > 0
           AND id IN (SELECT signal_id FROM case_signals WHERE tenant_id = ?1 AND case_id = ?2)`,
      )
      .bind(tenantId, id, closing.at, closing.by, note),
  ]);
  return (updated?.meta.changes ?? 0) > 0;
}

export type CaseReopen =
  | { ok: true }
  | { ok: false; reason: "not_resolved" }
  | { ok: false; reason: "another_open"; id: string };

/** Opens a resolved case again, with the signals that were resolved when it closed. Refused
 * while another case with its key is open (one open case per key). */
export async function reopenCase(
  db: D1Database,
  tenantId: string,
  c: CaseRecord,
  now: number,
): Promise<CaseReopen> {
  if (c.status !== "resolved" || !c.resolution) return { ok: false, reason: "not_resolved" };
  const other = await db
    .prepare("SELECT id FROM cases WHERE tenant_id = ? AND case_key = ? AND status = 'open'")
    .bind(tenantId, c.case_key)
    .first<{ id: string }>();
  if (other) return { ok: false, reason: "another_open", id: other.id };
  try {
    const [updated] = await db.batch([
      db
        .prepare(
          `UPDATE cases SET status = 'open', resolved_at = NULL, resolved_by = NULL, close_reason = NULL,
             resolution_note = NULL, updated_at = ?3
           WHERE tenant_id = ?1 AND id = ?2 AND status = 'resolved' AND resolved_at = ?4`,
        )
        .bind(tenantId, c.id, now, c.resolution.at),
      db
        .prepare(
          `UPDATE signals SET status = 'open', resolved_at = NULL, resolved_by = NULL, resolution_note = NULL
           WHERE tenant_id = ?1 AND status = 'resolved' AND resolved_at = ?3 AND resolved_by = ?4 AND changes() > 0
             AND id IN (SELECT signal_id FROM case_signals WHERE tenant_id = ?1 AND case_id = ?2)`,
        )
        .bind(tenantId, c.id, c.resolution.at, c.resolution.by),
    ]);
    return (updated?.meta.changes ?? 0) > 0 ? { ok: true } : { ok: false, reason: "not_resolved" };
  } catch (err) {
    // The unique open-case index: a signal opened a case with this key meanwhile.
    if (String(err).includes("UNIQUE")) {
      const again = await db
        .prepare("SELECT id FROM cases WHERE tenant_id = ? AND case_key = ? AND status = 'open'")
        .bind(tenantId, c.case_key)
        .first<{ id: string }>();
      if (again) return { ok: false, reason: "another_open", id: again.id };
    }
    throw err;
  }
}

// Backfill: signals recorded before cases existed ---------------------------------------------

export async function casesBackfilled(db: D1Database, tenantId: string): Promise<boolean> {
  const row = await db
    .prepare("SELECT 1 AS done FROM case_backfills WHERE tenant_id = ?")
    .bind(tenantId)
    .first<{ done: number }>();
  return row !== null;
}

export async function markCasesBackfilled(
  db: D1Database,
  tenantId: string,
  now: number,
): Promise<void> {
  await db
    .prepare("INSERT OR IGNORE INTO case_backfills (tenant_id, done_at) VALUES (?, ?)")
    .bind(tenantId, now)
    .run();
}

/** The tenant's customers (the open-case budget's denominator). */
export async function customerCount(db: D1Database, tenantId: string): Promise<number> {
  const row = await db
    .prepare("SELECT COUNT(*) AS n FROM customers WHERE tenant_id = ?")
    .bind(tenantId)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

/** What happened to the alerts of a case's signals: deliveries by status (read only; the
 * deliveries are store/deliveries.ts's). */
export async function caseDeliveryCounts(
  db: D1Database,
  tenantId: string,
  caseId: string,
): Promise<Record<"pending" | "delivered" | "dead" | "canceled", number>> {
  const { results } = await db
    .prepare(
      `SELECT d.status AS status, COUNT(*) AS n FROM case_signals cs
         JOIN deliveries d ON d.tenant_id = cs.tenant_id AND d.signal_id = cs.signal_id
       WHERE cs.tenant_id = ? AND cs.case_id = ? GROUP BY d.status`,
    )
    .bind(tenantId, caseId)
    .all<{ status: string; n: number }>();
  const out = { pending: 0, delivered: 0, dead: 0, canceled: 0 };
  for (const r of results) if (r.status in out) out[r.status as keyof typeof out] = r.n;
  return out;
}

/** Units per metric (in units, not micros) of a customer's product in days [from, to) of the
 * daily rollups. */
export async function productUnitsByMetric(
  db: D1Database,
  tenantId: string,
  customerId: string,
  productId: string,
  from: number,
  to: number,
): Promise<Map<string, number>> {
  const { results } = await db
    .prepare(
      `SELECT metric_id, TOTAL(units) / 1000000.0 AS units FROM rollups_daily
       WHERE tenant_id = ? AND customer_id = ? AND product_id = ? AND start >= ? AND start < ?
       GROUP BY metric_id`,
    )
    .bind(tenantId, customerId, productId, from, to)
    .all<{ metric_id: string; units: number }>();
  return new Map(results.map((r) => [r.metric_id, r.units]));
}
