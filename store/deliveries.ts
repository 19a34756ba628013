import { type Channel, type ChannelType, toChannel } from "./channels";

// Deliveries in D1 (schema/0005_deliveries.sql): one row per (signal, channel), the truth of
// what was sent; the deliveries queue only wakes the consumer up for a row. Every state change
// below is guarded by `status = 'pending'`, so a delivery that is done stays done.

export type DeliveryStatus = "pending" | "delivered" | "dead" | "canceled";

/**
 * One pending delivery per enabled channel of the tenant for this signal. Idempotent: a
 * (tenant, signal, channel) that already has a delivery keeps it (and its id, status and
 * attempts). The id is derived from the channel and the signal, so it is stable.
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
           next_attempt_at, created_at, updated_at)
         SELECT tenant_id, 'dlv_' || substr(id, 4) || '_' || ?2, ?2, id, 'pending', 0, ?3, ?3, ?3
         FROM notification_channels WHERE tenant_id = ?1 AND enabled = 1
         ON CONFLICT DO NOTHING`,
      )
      .bind(tenantId, signalId, now),
  ];
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

/** Ids of the pending deliveries of these signals, oldest first. */
export async function pendingDeliveryIds(
  db: D1Database,
  tenantId: string,
  signalIds: string[],
): Promise<string[]> {
  const { results } = await db
    .prepare(
      `SELECT id FROM deliveries WHERE tenant_id = ? AND status = 'pending'
         AND signal_id IN (SELECT value FROM json_each(?)) ORDER BY created_at, id`,
    )
    .bind(tenantId, JSON.stringify(signalIds))
    .all<{ id: string }>();
  return results.map((r) => r.id);
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
             AND next_attempt_at < ?2 AND (leased_until IS NULL OR leased_until < ?3) LIMIT 1000`,
        )
        .bind(tenantId, due, now)
    : db
        .prepare(
          `SELECT tenant_id, id FROM deliveries WHERE status = 'pending'
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
      `SELECT d.tenant_id, d.id, d.signal_id, d.channel_id, d.status, d.attempts,
         d.next_attempt_at, d.leased_until, d.created_at,
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

/** Ends a pending delivery without sending it (canceled, or dead before an attempt). */
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
       WHERE tenant_id = ?4 AND id = ?5 AND status = 'pending'`,
    )
    .bind(status, error, now, tenantId, id)
    .run();
}

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
  await db
    .prepare(
      `UPDATE deliveries SET status = 'delivered', delivered_at = ?1, last_status = ?2,
         last_error = NULL, leased_until = NULL, updated_at = ?1
       WHERE tenant_id = ?3 AND id = ?4 AND status = 'pending'`,
    )
    .bind(now, httpStatus, tenantId, id)
    .run();
}

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
         c.type AS channel_type, d.status, d.attempts,
         d.last_status, d.last_error, d.next_attempt_at, d.delivered_at, d.created_at, d.updated_at
       FROM deliveries d LEFT JOIN notification_channels c
         ON c.tenant_id = d.tenant_id AND c.id = d.channel_id
       WHERE d.tenant_id = ?1 AND (?2 IS NULL OR d.signal_id = ?2)
         AND (?3 IS NULL OR d.channel_id = ?3) AND (?4 IS NULL OR d.status = ?4)
         AND (?5 IS NULL OR d.created_at < ?5 OR (d.created_at = ?5 AND d.id > ?6))
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
    )
    .all<DeliveryRecord>();
  return results;
}
