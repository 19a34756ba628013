import { z } from "zod";
import type { Signal } from "../domain/detectors";
import { type ActionRecord, type ActionRow, toActionRecord } from "./actions";
import { parseStored } from "./d1";

// Signals in D1 (`signals`, schema/0004_detection.sql and 0008): written once per idempotency
// key with their action (store/actions.ts), immutable but for their open/resolved status.

/** A stored signal as the app reads it: ids and instants as stored, its JSON parsed. */
export interface SignalRecord {
  id: string;
  idempotency_key: string;
  detector: string;
  customer: string;
  product: string | null;
  metric: string | null;
  window: { start: number; end: number };
  magnitude: number;
  direction: string | null;
  details: Record<string, unknown>;
  source_event_ids: string[];
  status: "open" | "resolved";
  created_at: number;
}

export interface SignalResolution {
  at: number;
  by: string;
  note: string | null;
}

/** A signal with who closed it (null while open) and its ladder action (null if it has none). */
export interface SignalWithAction extends SignalRecord {
  resolution: SignalResolution | null;
  action: ActionRecord | null;
}

const Details = z.record(z.string(), z.unknown());
const EventIds = z.array(z.string());

interface SignalRow {
  id: string;
  idempotency_key: string;
  detector: string;
  customer_id: string;
  product_id: string | null;
  metric_id: string | null;
  window_start: number;
  window_end: number;
  magnitude: number;
  direction: string | null;
  details: string;
  source_event_ids: string;
  status: "open" | "resolved";
  created_at: number;
}

const SIGNAL_COLUMNS =
  "id, idempotency_key, detector, customer_id, product_id, metric_id, window_start, window_end, magnitude, direction, details, source_event_ids, status, created_at";

function toSignalRecord(r: SignalRow): SignalRecord {
  return {
    id: r.id,
    idempotency_key: r.idempotency_key,
    detector: r.detector,
    customer: r.customer_id,
    product: r.product_id,
    metric: r.metric_id,
    window: { start: r.window_start, end: r.window_end },
    magnitude: r.magnitude,
    direction: r.direction,
    details: parseStored(Details, r.details, `signal ${r.id} details`),
    source_event_ids: parseStored(EventIds, r.source_event_ids, `signal ${r.id} source events`),
    status: r.status,
    created_at: r.created_at,
  };
}

/** The signal and its resolution and action (LEFT JOIN, so the a_* may be null). */
interface SignalActionRow extends SignalRow {
  resolved_at: number | null;
  resolved_by: string | null;
  resolution_note: string | null;
  a_id: string | null;
  a_rung: ActionRow["rung"] | null;
  a_state: ActionRow["state"] | null;
  a_detail: string | null;
  a_created_at: number | null;
  a_updated_at: number | null;
}

const SIGNAL_SELECT = `SELECT s.*, a.id AS a_id, a.rung AS a_rung, a.state AS a_state, a.detail AS a_detail,
  a.created_at AS a_created_at, a.updated_at AS a_updated_at
  FROM signals s LEFT JOIN actions a ON a.tenant_id = s.tenant_id AND a.signal_id = s.id`;

function toSignalWithAction(r: SignalActionRow): SignalWithAction {
  return {
    ...toSignalRecord(r),
    resolution:
      r.status === "resolved" && r.resolved_at !== null
        ? { at: r.resolved_at, by: r.resolved_by ?? "", note: r.resolution_note }
        : null,
    action:
      r.a_id && r.a_rung && r.a_state
        ? toActionRecord({
            id: r.a_id,
            signal_id: r.id,
            customer_id: r.customer_id,
            product_id: r.product_id,
            rung: r.a_rung,
            state: r.a_state,
            detail: r.a_detail ?? "{}",
            created_at: r.a_created_at ?? 0,
            updated_at: r.a_updated_at ?? 0,
          })
        : null,
  };
}

/** The statement that records a new signal (open); a replayed idempotency key changes nothing. */
export function insertSignalStatement(
  db: D1Database,
  tenantId: string,
  signalId: string,
  signal: Signal,
  now: number,
): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO signals (tenant_id, id, idempotency_key, detector, customer_id, product_id, metric_id,
         window_start, window_end, magnitude, direction, details, source_event_ids, status, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?) ON CONFLICT DO NOTHING`,
    )
    .bind(
      tenantId,
      signalId,
      signal.idempotency_key,
      signal.detector,
      signal.customer,
      signal.product ?? null,
      signal.metric ?? null,
      signal.window.start,
      signal.window.end,
      Number.isFinite(signal.magnitude) ? signal.magnitude : 1e9,
      signal.direction ?? null,
      JSON.stringify(signal.details),
      JSON.stringify(signal.source_event_ids),
      now,
    );
}

/** Which of these idempotency keys the tenant's signals already have. */
export async function recordedSignalKeys(
  db: D1Database,
  tenantId: string,
  keys: readonly string[],
): Promise<Set<string>> {
  const found = new Set<string>();
  // D1 binds at most 100 parameters per statement.
  for (let i = 0; i < keys.length; i += 90) {
    const chunk = keys.slice(i, i + 90);
    const { results } = await db
      .prepare(
        `SELECT idempotency_key FROM signals WHERE tenant_id = ? AND idempotency_key IN (${chunk.map(() => "?").join(", ")})`,
      )
      .bind(tenantId, ...chunk)
      .all<{ idempotency_key: string }>();
    for (const r of results) found.add(r.idempotency_key);
  }
  return found;
}

/** One signal, as the deliveries describe it. */
export async function loadSignal(
  db: D1Database,
  tenantId: string,
  id: string,
): Promise<SignalRecord | null> {
  const row = await db
    .prepare(`SELECT ${SIGNAL_COLUMNS} FROM signals WHERE tenant_id = ? AND id = ?`)
    .bind(tenantId, id)
    .first<SignalRow>();
  return row ? toSignalRecord(row) : null;
}

/** One signal with its resolution and action. */
export async function getSignalWithAction(
  db: D1Database,
  tenantId: string,
  id: string,
): Promise<SignalWithAction | null> {
  const row = await db
    .prepare(`${SIGNAL_SELECT} WHERE s.tenant_id = ? AND s.id = ?`)
    .bind(tenantId, id)
    .first<SignalActionRow>();
  return row ? toSignalWithAction(row) : null;
}

export interface SignalFilter {
  detector?: string;
  customer?: string;
  product?: string;
  status?: "open" | "resolved";
  direction?: string;
}

export type SignalOrder = "magnitude" | "time";

/** A page of signals, newest or largest first, after a cursor's `[magnitude | created_at, id]`;
 * `limit` rows at most (ask one more than the page to learn whether another follows). */
export async function listSignals(
  db: D1Database,
  tenantId: string,
  filter: SignalFilter,
  order: SignalOrder,
  after: readonly [number, string] | null,
  limit: number,
): Promise<SignalWithAction[]> {
  const byMagnitude = order === "magnitude";
  const orderBy = byMagnitude ? "s.magnitude DESC, s.id DESC" : "s.created_at DESC, s.id DESC";
  const afterSql = byMagnitude
    ? "(?7 IS NULL OR s.magnitude < ?7 OR (s.magnitude = ?7 AND s.id < ?8))"
    : "(?7 IS NULL OR s.created_at < ?7 OR (s.created_at = ?7 AND s.id < ?8))";
  const { results } = await db
    .prepare(
      `${SIGNAL_SELECT} WHERE s.tenant_id = ?1 AND (?2 IS NULL OR s.detector = ?2) AND (?3 IS NULL OR s.customer_id = ?3)
         AND (?4 IS NULL OR s.status = ?4) AND (?5 IS NULL OR s.product_id = ?5) AND (?6 IS NULL OR s.direction = ?6)
         AND ${afterSql}
       ORDER BY ${orderBy} LIMIT ?9`,
    )
    .bind(
      tenantId,
      filter.detector ?? null,
      filter.customer ?? null,
      filter.status ?? null,
      filter.product ?? null,
      filter.direction ?? null,
      after?.[0] ?? null,
      after?.[1] ?? "",
      limit,
    )
    .all<SignalActionRow>();
  return results.map(toSignalWithAction);
}

export type SignalStatusChange =
  | { ok: true; signal: SignalWithAction }
  | { ok: false; reason: "not_found" }
  | { ok: false; reason: "conflict"; status: "open" | "resolved" };

/** Moves a signal open → resolved (with a resolution) or back (null); a conflict when it is not
 * in the state the step starts from. */
export async function setSignalStatus(
  db: D1Database,
  tenantId: string,
  id: string,
  resolution: SignalResolution | null,
): Promise<SignalStatusChange> {
  const changed = await (resolution
    ? db
        .prepare(
          "UPDATE signals SET status = 'resolved', resolved_at = ?, resolved_by = ?, resolution_note = ? WHERE tenant_id = ? AND id = ? AND status = 'open'",
        )
        .bind(resolution.at, resolution.by, resolution.note, tenantId, id)
    : db
        .prepare(
          "UPDATE signals SET status = 'open', resolved_at = NULL, resolved_by = NULL, resolution_note = NULL WHERE tenant_id = ? AND id = ? AND status = 'resolved'",
        )
        .bind(tenantId, id)
  ).run();
  const signal = await getSignalWithAction(db, tenantId, id);
  if (!signal) return { ok: false, reason: "not_found" };
  if (changed.meta.changes === 0) return { ok: false, reason: "conflict", status: signal.status };
  return { ok: true, signal };
}

/** The signals of a case with their resolution and action, in window order. */
export async function signalsOfCase(
  db: D1Database,
  tenantId: string,
  caseId: string,
  limit = 500,
): Promise<SignalWithAction[]> {
  const { results } = await db
    .prepare(
      `${SIGNAL_SELECT} JOIN case_signals cs ON cs.tenant_id = s.tenant_id AND cs.signal_id = s.id
       WHERE s.tenant_id = ? AND cs.case_id = ? ORDER BY s.window_start, s.created_at, s.id LIMIT ?`,
    )
    .bind(tenantId, caseId, limit)
    .all<SignalActionRow>();
  return results.map(toSignalWithAction);
}

/** Signals not filed into any case yet (recorded before cases existed), oldest window first. */
export async function unfiledSignals(
  db: D1Database,
  tenantId: string,
  limit: number,
): Promise<SignalRecord[]> {
  const { results } = await db
    .prepare(
      `SELECT ${SIGNAL_COLUMNS} FROM signals s WHERE tenant_id = ?
         AND NOT EXISTS (SELECT 1 FROM case_signals cs WHERE cs.tenant_id = s.tenant_id AND cs.signal_id = s.id)
       ORDER BY window_start, created_at, id LIMIT ?`,
    )
    .bind(tenantId, limit)
    .all<SignalRow>();
  return results.map(toSignalRecord);
}
