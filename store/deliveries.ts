import { type Channel, type ChannelType, toChannel } from "./channels";

// Deliveries in D1 (schema/0005_deliveries.sql): one row per (signal, channel), the truth of
// what was sent; the deliveries queue only wakes the consumer up for a row. Every state change
// below is guarded by `status = 'pending'`, so a delivery that is done stays done.

export type DeliveryStatus = "pending" | "delivered" | "dead" | "canceled";
/** payment_retry / payment_method: Adaptive Retry's messages (schema/0017_retries.sql), whose
 * signal_id is the retry's id / the hard-declined payment's id. */
export type DeliveryKind = "signal" | "digest" | "payment_retry" | "payment_method";

/** The alert budget (schema/0011_alert_outcomes.sql): per channel, at most `max_per_window`
 * alerts go out one by one in any `window_seconds`; the rest wait in the channel's open digest,
 * sent `digest_delay_seconds` after it opened. */
export interface AlertBudget {
  max_per_window: number;
  window_seconds: number;
  digest_delay_seconds: number;
}

export const DEFAULT_ALERT_BUDGET: AlertBudget = {
  max_per_window: 5,
  window_seconds: 600,
  digest_delay_seconds: 60,
};

/** `alert_budgets` column, else the default, as SQL over the tenant bound at ?1. */
const budgetSql = (column: keyof AlertBudget) =>
  `COALESCE((SELECT ${column} FROM alert_budgets WHERE tenant_id = ?1), ${DEFAULT_ALERT_BUDGET[column]})`;

/**
 * One pending delivery per enabled channel of the tenant for this signal. Idempotent: a
 * (tenant, signal, channel) that already has a delivery keeps it (and its id, status and
 * attempts). The id is derived from the channel and the signal, so it is stable.
 *
 * The budget is decided here, in the transaction that stores the signal (D1 runs statements one
 * at a time, so concurrent bursts cannot both pass it): when the channel already has
 * `max_per_window` alerts sent one by one in the window, the delivery joins the channel's open
 * digest (a pending digest nobody has tried to send yet) or opens one, due
 * `digest_delay_seconds` from now. A digest already being sent takes no new members: they open
 * the next one.
 */
export function pendingDeliveryStatements(
  db: D1Database,
  tenantId: string,
  signalId: string,
  now: number,
): D1PreparedStatement[] {
  return [
    db
      .prepare(
        `INSERT INTO deliveries (tenant_id, id, signal_id, channel_id, status, attempts,
           next_attempt_at, created_at, updated_at, kind, digest_id)
         SELECT c.tenant_id, 'dlv_' || substr(c.id, 4) || '_' || ?2, ?2, c.id, 'pending', 0, ?3, ?3, ?3,
           'signal',
           CASE WHEN (SELECT COUNT(*) FROM deliveries d
                      WHERE d.tenant_id = ?1 AND d.channel_id = c.id AND d.kind = 'signal'
                        AND d.digest_id IS NULL AND d.created_at > ?3 - ${budgetSql("window_seconds")} * 1000
                     ) < ${budgetSql("max_per_window")}
             THEN NULL
             ELSE COALESCE(
               (SELECT g.id FROM deliveries g
                WHERE g.tenant_id = ?1 AND g.channel_id = c.id AND g.kind = 'digest'
                  AND g.status = 'pending' AND g.attempts = 0 AND g.leased_until IS NULL
                ORDER BY g.created_at DESC LIMIT 1),
               'dgs_' || substr(c.id, 4) || '_' || ?3)
           END
         FROM notification_channels c WHERE c.tenant_id = ?1 AND c.enabled = 1
         ON CONFLICT DO NOTHING`,
      )
      .bind(tenantId, signalId, now),
    // The digests this signal opened (one joined is already there: nothing happens).
    db
      .prepare(
        `INSERT INTO deliveries (tenant_id, id, signal_id, channel_id, status, attempts,
           next_attempt_at, created_at, updated_at, kind)
         SELECT tenant_id, digest_id, digest_id, channel_id, 'pending', 0,
           ?3 + ${budgetSql("digest_delay_seconds")} * 1000, ?3, ?3, 'digest'
         FROM deliveries WHERE tenant_id = ?1 AND signal_id = ?2 AND digest_id IS NOT NULL
         ON CONFLICT DO NOTHING`,
      )
      .bind(tenantId, signalId, now),
  ];
}

/** The tenant's alert budget (defaults when it never set one). */
export async function loadAlertBudget(db: D1Database, tenantId: string): Promise<AlertBudget> {
  const row = await db
    .prepare(
      "SELECT max_per_window, window_seconds, digest_delay_seconds FROM alert_budgets WHERE tenant_id = ?",
    )
    .bind(tenantId)
    .first<AlertBudget>();
  return row ?? { ...DEFAULT_ALERT_BUDGET };
}

export async function saveAlertBudget(
  db: D1Database,
  tenantId: string,
  budget: AlertBudget,
  now: number,
): Promise<void> {
  await db
    .prepare(
      `INSERT INTO alert_budgets (tenant_id, max_per_window, window_seconds, digest_delay_seconds, updated_at)
       VALUES (?1, ?2, ?3, ?4, ?5)
       ON CONFLICT (tenant_id) DO UPDATE SET max_per_window = ?2, window_seconds = ?3,
         digest_delay_seconds = ?4, updated_at = ?5`,
    )
    .bind(tenantId, budget.max_per_window, budget.window_seconds, budget.digest_delay_seconds, now)
    .run();
}

/** How many deliveries to configured channels a signal has (escalations to an address aside):
 * zero means its alert reached nobody. */
export async function channelDeliveryCount(
  db: D1Database,
  tenantId: string,
  signalId: string,
): Promise<number> {
  const row = await db
    .prepare(
      `SELECT COUNT(*) AS n FROM deliveries
       WHERE tenant_id = ? AND signal_id = ? AND kind = 'signal' AND channel_id NOT LIKE 'escalate:%'`,
    )
    .bind(tenantId, signalId)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

/** A pending delivery to one address rather than a channel (the ladder's escalation); false
 * when it exists already. */
export async function insertAddressDelivery(
  db: D1Database,
  tenantId: string,
  delivery: { id: string; signal_id: string; channel_id: string },
  now: number,
): Promise<boolean> {
  const inserted = await db
    .prepare(
      `INSERT INTO deliveries (tenant_id, id, signal_id, channel_id, status, attempts,
         next_attempt_at, created_at, updated_at)
       VALUES (?1, ?2, ?3, ?4, 'pending', 0, ?5, ?5, ?5) ON CONFLICT DO NOTHING`,
    )
    .bind(tenantId, delivery.id, delivery.signal_id, delivery.channel_id, now)
    .run();
  return inserted.meta.changes > 0;
}

/** What to wake the consumer for after these signals were stored: their pending deliveries
 * sent one by one (now) and the digests their others joined (when due), oldest first. */
export async function pendingDeliveryIds(
  db: D1Database,
  tenantId: string,
  signalIds: string[],
): Promise<{ id: string; due: number }[]> {
  const { results } = await db
    .prepare(
      `SELECT id, next_attempt_at AS due FROM deliveries
       WHERE tenant_id = ?1 AND status = 'pending' AND digest_id IS NULL
         AND signal_id IN (SELECT value FROM json_each(?2))
       UNION
       SELECT g.id, g.next_attempt_at FROM deliveries g
       WHERE g.tenant_id = ?1 AND g.status = 'pending' AND g.kind = 'digest'
         AND g.id IN (SELECT digest_id FROM deliveries
                      WHERE tenant_id = ?1 AND signal_id IN (SELECT value FROM json_each(?2)))
       ORDER BY due, id`,
    )
    .bind(tenantId, JSON.stringify(signalIds))
    .all<{ id: string; due: number }>();
  return results;
}

/** Pending deliveries due before `due` that nobody is sending at `now` (of one tenant, or of
 * all), at most 1000. */
export async function stalledDeliveries(
  db: D1Database,
  due: number,
  now: number,
  tenantId?: string,
): Promise<{ tenant_id: string; id: string }[]> {
  const stmt = tenantId
    ? db
        .prepare(
          `SELECT tenant_id, id FROM deliveries WHERE tenant_id = ?1 AND status = 'pending'
             AND digest_id IS NULL AND next_attempt_at < ?2
             AND (leased_until IS NULL OR leased_until < ?3) LIMIT 1000`,
        )
        .bind(tenantId, due, now)
    : db
        .prepare(
          `SELECT tenant_id, id FROM deliveries WHERE status = 'pending' AND digest_id IS NULL
             AND next_attempt_at < ?1 AND (leased_until IS NULL OR leased_until < ?2) LIMIT 1000`,
        )
        .bind(due, now);
  const { results } = await stmt.all<{ tenant_id: string; id: string }>();
  return results;
}

/** A delivery as the consumer needs it, with its channel (null when the channel was deleted
 * or the delivery goes to an address; the secret still sealed). */
export interface DeliveryToSend {
  tenant_id: string;
  id: string;
  signal_id: string;
  channel_id: string;
  status: DeliveryStatus;
  /** 'digest': one message carrying the alerts that were over the budget (its members). */
  kind: DeliveryKind;
  /** The digest this alert waits in (it is not sent on its own), else null. */
  digest_id: string | null;
  attempts: number;
  next_attempt_at: number;
  leased_until: number | null;
  created_at: number;
  channel: Channel | null;
}

interface DeliveryWithChannelRow extends Omit<DeliveryToSend, "channel"> {
  // From the channel (null when it does not exist).
  type: ChannelType | null;
  name: string | null;
  config: string | null;
  secret: string | null;
  link_base: string | null;
  enabled: number | null;
  channel_created_at: number | null;
  channel_updated_at: number | null;
}

export async function loadDeliveryToSend(
  db: D1Database,
  tenantId: string,
  id: string,
): Promise<DeliveryToSend | null> {
  const d = await db
    .prepare(
      `SELECT d.tenant_id, d.id, d.signal_id, d.channel_id, d.status, d.kind, d.digest_id,
         d.attempts, d.next_attempt_at, d.leased_until, d.created_at,
         c.type, c.name, c.config, c.secret, c.link_base, c.enabled,
         c.created_at AS channel_created_at, c.updated_at AS channel_updated_at
       FROM deliveries d LEFT JOIN notification_channels c
         ON c.tenant_id = d.tenant_id AND c.id = d.channel_id
       WHERE d.tenant_id = ? AND d.id = ?`,
    )
    .bind(tenantId, id)
    .first<DeliveryWithChannelRow>();
  if (!d) return null;
  return {
    tenant_id: d.tenant_id,
    id: d.id,
    signal_id: d.signal_id,
    channel_id: d.channel_id,
    status: d.status,
    kind: d.kind,
    digest_id: d.digest_id,
    attempts: d.attempts,
    next_attempt_at: d.next_attempt_at,
    leased_until: d.leased_until,
    created_at: d.created_at,
    channel:
      d.type === null
        ? null
        : toChannel({
            tenant_id: d.tenant_id,
            id: d.channel_id,
            type: d.type,
            name: d.name ?? "",
            config: d.config ?? "{}",
            secret: d.secret,
            link_base: d.link_base,
            enabled: d.enabled ?? 0,
            created_at: d.channel_created_at ?? 0,
            updated_at: d.channel_updated_at ?? 0,
          }),
  };
}

/** Ends a pending delivery without sending it (canceled, or dead before an attempt); a
 * digest's waiting members end with it. */
export async function finishDelivery(
  db: D1Database,
  tenantId: string,
  id: string,
  status: "canceled" | "dead",
  error: string,
  now: number,
): Promise<void> {
  await db
    .prepare(
      `UPDATE deliveries SET status = ?1, last_error = ?2, leased_until = NULL, updated_at = ?3
       WHERE tenant_id = ?4 AND (id = ?5 OR digest_id = ?5) AND status = 'pending'`,
    )
    .bind(status, error, now, tenantId, id)
    .run();
}

/** The alerts waiting in a digest (pending members), oldest first. */
export async function digestMembers(
  db: D1Database,
  tenantId: string,
  digestId: string,
): Promise<{ id: string; signal_id: string }[]> {
  const { results } = await db
    .prepare(
      `SELECT id, signal_id FROM deliveries
       WHERE tenant_id = ? AND digest_id = ? AND status = 'pending' ORDER BY created_at, id`,
    )
    .bind(tenantId, digestId)
    .all<{ id: string; signal_id: string }>();
  return results;
}

/** The members a digest carried take its outcome (batch it with the digest's own update). */
export const settleDigestMembersStatement = (
  db: D1Database,
  tenantId: string,
  digestId: string,
  memberIds: string[],
  outcome: { status: "delivered" | "dead"; error: string | null; httpStatus: number | null },
  now: number,
) =>
  db
    .prepare(
      `UPDATE deliveries SET status = ?1, last_error = ?2, last_status = ?3,
         delivered_at = CASE WHEN ?1 = 'delivered' THEN ?4 ELSE NULL END,
         attempts = attempts + 1, leased_until = NULL, updated_at = ?4
       WHERE tenant_id = ?5 AND digest_id = ?6 AND status = 'pending'
         AND id IN (SELECT value FROM json_each(?7))`,
    )
    .bind(
      outcome.status,
      outcome.error,
      outcome.httpStatus,
      now,
      tenantId,
      digestId,
      JSON.stringify(memberIds),
    );

/** Leases a pending delivery until `leaseUntil` and counts the attempt, in one statement so two
 * consumers can never both hold it: the attempts so far, or null when someone else holds it. */
export async function claimDelivery(
  db: D1Database,
  tenantId: string,
  id: string,
  now: number,
  leaseUntil: number,
): Promise<number | null> {
  const claimed = await db
    .prepare(
      `UPDATE deliveries SET leased_until = ?1, attempts = attempts + 1, updated_at = ?2
       WHERE tenant_id = ?3 AND id = ?4 AND status = 'pending'
         AND (leased_until IS NULL OR leased_until <= ?2)
       RETURNING attempts`,
    )
    .bind(leaseUntil, now, tenantId, id)
    .first<{ attempts: number }>();
  return claimed?.attempts ?? null;
}

export async function markDelivered(
  db: D1Database,
  tenantId: string,
  id: string,
  httpStatus: number | null,
  now: number,
): Promise<void> {
  await markDeliveredStatement(db, tenantId, id, httpStatus, now).run();
}

export const markDeliveredStatement = (
  db: D1Database,
  tenantId: string,
  id: string,
  httpStatus: number | null,
  now: number,
) =>
  db
    .prepare(
      `UPDATE deliveries SET status = 'delivered', delivered_at = ?1, last_status = ?2,
         last_error = NULL, leased_until = NULL, updated_at = ?1
       WHERE tenant_id = ?3 AND id = ?4 AND status = 'pending'`,
    )
    .bind(now, httpStatus, tenantId, id);

/** The last attempt failed for good: the delivery is dead (batch it with its dead letter). */
export const markDeadStatement = (
  db: D1Database,
  tenantId: string,
  id: string,
  reason: string,
  httpStatus: number | null,
  now: number,
) =>
  db
    .prepare(
      `UPDATE deliveries SET status = 'dead', last_error = ?1, last_status = ?2,
         leased_until = NULL, updated_at = ?3
       WHERE tenant_id = ?4 AND id = ?5 AND status = 'pending'`,
    )
    .bind(reason, httpStatus, now, tenantId, id);

/** A message given up on, kept in dead_letters (idempotent per queue and message id). */
export const deadLetterStatement = (
  db: D1Database,
  queue: string,
  message: { id: string; body: unknown; attempts: number },
  tenantId: string | null,
  now: number,
) =>
  db
    .prepare(
      `INSERT INTO dead_letters (queue, message_id, tenant_id, body, attempts, received_at)
       VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (queue, message_id) DO NOTHING`,
    )
    .bind(queue, message.id, tenantId, JSON.stringify(message.body), message.attempts, now);

/** The attempt failed: record why and when to try again, and release the lease. */
export async function scheduleRetry(
  db: D1Database,
  tenantId: string,
  id: string,
  error: string,
  httpStatus: number | null,
  nextAttemptAt: number,
  now: number,
): Promise<void> {
  await db
    .prepare(
      `UPDATE deliveries SET last_error = ?1, last_status = ?2, leased_until = NULL,
         next_attempt_at = ?3, updated_at = ?4
       WHERE tenant_id = ?5 AND id = ?6 AND status = 'pending'`,
    )
    .bind(error, httpStatus, nextAttemptAt, now, tenantId, id)
    .run();
}

/** Cancels a channel's pending deliveries (batch it with the channel's deletion). */
export const cancelChannelDeliveriesStatement = (
  db: D1Database,
  tenantId: string,
  channelId: string,
  now: number,
) =>
  db
    .prepare(
      `UPDATE deliveries SET status = 'canceled', last_error = 'the channel was deleted',
         leased_until = NULL, updated_at = ? WHERE tenant_id = ? AND channel_id = ? AND status = 'pending'`,
    )
    .bind(now, tenantId, channelId);

export interface DeliveryRecord {
  id: string;
  signal_id: string;
  channel_id: string;
  /** The channel's type; null when the channel is gone or the delivery goes to an address. */
  channel_type: ChannelType | null;
  status: DeliveryStatus;
  kind: DeliveryKind;
  digest_id: string | null;
  attempts: number;
  last_status: number | null;
  last_error: string | null;
  next_attempt_at: number;
  delivered_at: number | null;
  created_at: number;
  updated_at: number;
}

export interface DeliveryFilter {
  signal?: string;
  channel?: string;
  status?: DeliveryStatus;
  kind?: DeliveryKind;
  digest?: string;
}

/** Deliveries newest first, after a cursor's `[created_at, id]`, `limit` rows at most. */
export async function listDeliveries(
  db: D1Database,
  tenantId: string,
  filter: DeliveryFilter,
  after: readonly [number, string] | null,
  limit: number,
): Promise<DeliveryRecord[]> {
  const { results } = await db
    .prepare(
      `SELECT d.id, d.signal_id, d.channel_id,
         c.type AS channel_type, d.status, d.kind, d.digest_id, d.attempts,
         d.last_status, d.last_error, d.next_attempt_at, d.delivered_at, d.created_at, d.updated_at
       FROM deliveries d LEFT JOIN notification_channels c
         ON c.tenant_id = d.tenant_id AND c.id = d.channel_id
       WHERE d.tenant_id = ?1 AND (?2 IS NULL OR d.signal_id = ?2)
         AND (?3 IS NULL OR d.channel_id = ?3) AND (?4 IS NULL OR d.status = ?4)
         AND (?5 IS NULL OR d.created_at < ?5 OR (d.created_at = ?5 AND d.id > ?6))
         AND (?8 IS NULL OR d.kind = ?8) AND (?9 IS NULL OR d.digest_id = ?9)
       ORDER BY d.created_at DESC, d.id LIMIT ?7`,
    )
    .bind(
      tenantId,
      filter.signal ?? null,
      filter.channel ?? null,
      filter.status ?? null,
      after?.[0] ?? null,
      after?.[1] ?? "",
      limit,
      filter.kind ?? null,
      filter.digest ?? null,
    )
    .all<DeliveryRecord>();
  return results;
}
