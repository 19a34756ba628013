import { z } from "@hono/zod-openapi";
import { type ChannelRow, escalationChannel } from "./channels";
import { openSecret } from "./secrets";
import { type SendOutcome, sendToChannel } from "./send";
import { loadSignal } from "./signal";

// The deliveries-queue consumer. The queue is at-least-once; the effect is once per delivery:
// the D1 row is the truth and a queue message is only a wake-up for it.
// - delivered / dead / canceled → the message is acknowledged, nothing is sent again;
// - before sending, the consumer leases the row (one statement, so two copies of a message can
//   never send at the same time) and counts the attempt;
// - success → delivered (delivered_at); failure → last_error, next_attempt_at, and the message is
//   retried after the backoff; a permanent failure, or a failure 48 h after the delivery was
//   created, → dead (and recorded in dead_letters, like the dead-letter queue's consumer does).
// The receiver can still see a delivery twice if the consumer dies between the receiver's 2xx
// and the D1 update: that is why every message carries the delivery id (webhook-id, Message-ID).

export const BACKOFF_BASE_S = 30;
export const BACKOFF_CAP_S = 3_600;
export const GIVE_UP_AFTER_MS = 48 * 3_600_000;
/** How long a consumer owns a delivery while sending it (the send times out after 10 s). */
export const LEASE_MS = 60_000;
/** A wake-up this much earlier than the delivery is due is a duplicate message: dropped. */
const EARLY_TOLERANCE_MS = 5_000;
/** When D1 itself fails, try the message again soon. */
const ERROR_RETRY_S = 10;
/** Deliveries sent at once per batch (Workers allow 6 simultaneous outgoing connections). */
const CONCURRENCY = 6;

/** Seconds to wait after the n-th failed attempt: 30 s doubling, capped at 1 h. With the cap,
 * 48 h of retries take ≈ 55 attempts (54 queue retries), within the queue's max_retries = 100 (wrangler.toml). */
export function backoffSeconds(attempts: number): number {
  const n = Math.max(1, attempts);
  return Math.min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** Math.min(n - 1, 20));
}

const Body = z.object({ tenant_id: z.string().min(1), delivery_id: z.string().min(1) });

interface DeliveryWithChannel {
  tenant_id: string;
  id: string;
  signal_id: string;
  channel_id: string;
  status: "pending" | "delivered" | "dead" | "canceled";
  attempts: number;
  next_attempt_at: number;
  leased_until: number | null;
  created_at: number;
  // From the channel (null when it was deleted).
  type: ChannelRow["type"] | null;
  name: string | null;
  config: string | null;
  secret: string | null;
  link_base: string | null;
  enabled: number | null;
  channel_created_at: number | null;
  channel_updated_at: number | null;
}

async function loadDelivery(db: D1Database, tenantId: string, id: string) {
  return db
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
    .first<DeliveryWithChannel>();
}

const finish = (db: D1Database, d: DeliveryWithChannel, status: string, error: string | null) =>
  db
    .prepare(
      `UPDATE deliveries SET status = ?1, last_error = ?2, leased_until = NULL, updated_at = ?3
       WHERE tenant_id = ?4 AND id = ?5 AND status = 'pending'`,
    )
    .bind(status, error, Date.now(), d.tenant_id, d.id);

type Verdict = { ack: true } | { ack: false; delaySeconds: number };

async function deliverOne(env: Env, message: Message<unknown>): Promise<Verdict> {
  const parsed = Body.safeParse(message.body);
  if (!parsed.success) {
    console.error(`deliveries: dropping malformed message ${message.id}`);
    return { ack: true };
  }
  const db = env.DB;
  const { tenant_id: tenantId, delivery_id: deliveryId } = parsed.data;
  const d = await loadDelivery(db, tenantId, deliveryId);
  if (d?.status !== "pending") return { ack: true };
  const now = Date.now();
  if (d.leased_until !== null && d.leased_until > now) {
    // Another consumer is sending it right now: look again when its lease ends.
    return { ack: false, delaySeconds: Math.ceil((d.leased_until - now) / 1000) + 1 };
  }
  const escalation = escalationChannel(tenantId, d.channel_id);
  if (!escalation && (d.type === null || d.enabled !== 1)) {
    await finish(
      db,
      d,
      "canceled",
      d.type === null ? "the channel was deleted" : "the channel is disabled",
    ).run();
    return { ack: true };
  }
  if (d.next_attempt_at > now + EARLY_TOLERANCE_MS) return { ack: true };

  const signal = await loadSignal(db, tenantId, d.signal_id);
  if (!signal) {
    await finish(db, d, "dead", `signal ${d.signal_id} does not exist`).run();
    return { ack: true };
  }
  const claimed = await db
    .prepare(
      `UPDATE deliveries SET leased_until = ?1, attempts = attempts + 1, updated_at = ?2
       WHERE tenant_id = ?3 AND id = ?4 AND status = 'pending'
         AND (leased_until IS NULL OR leased_until <= ?2)
       RETURNING attempts`,
    )
    .bind(now + LEASE_MS, now, tenantId, deliveryId)
    .first<{ attempts: number }>();
  if (!claimed) return { ack: false, delaySeconds: Math.ceil(LEASE_MS / 1000) };

  let secret: string | null;
  try {
    secret = await openSecret(env, tenantId, d.channel_id, d.secret);
  } catch (err) {
    // A missing or changed key: retried with backoff (someone may fix the configuration).
    const error = err instanceof Error ? err.message : String(err);
    return record(env, message, d, claimed.attempts, {
      ok: false,
      status: null,
      error,
      permanent: false,
      duration_ms: 0,
    });
  }
  // Not an escalation: the channel exists and is enabled (checked above).
  const channel: ChannelRow = escalation ?? {
    tenant_id: d.tenant_id,
    id: d.channel_id,
    type: d.type as ChannelRow["type"],
    name: d.name ?? "",
    config: d.config ?? "{}",
    secret,
    link_base: d.link_base,
    enabled: 1,
    created_at: d.channel_created_at ?? 0,
    updated_at: d.channel_updated_at ?? 0,
  };
  const outcome = await sendToChannel(env, channel, {
    kind: "signal",
    signal,
    deliveryId: d.id,
    ...(escalation ? { escalation: true } : {}),
  });
  return record(env, message, d, claimed.attempts, outcome);
}

async function record(
  env: Env,
  message: Message<unknown>,
  d: DeliveryWithChannel,
  attempts: number,
  outcome: SendOutcome,
): Promise<Verdict> {
  const db = env.DB;
  const now = Date.now();
  if (outcome.ok) {
    await db
      .prepare(
        `UPDATE deliveries SET status = 'delivered', delivered_at = ?1, last_status = ?2,
           last_error = NULL, leased_until = NULL, updated_at = ?1
         WHERE tenant_id = ?3 AND id = ?4 AND status = 'pending'`,
      )
      .bind(now, outcome.status, d.tenant_id, d.id)
      .run();
    return { ack: true };
  }
  const error = outcome.error ?? "failed";
  if (outcome.permanent || now >= d.created_at + GIVE_UP_AFTER_MS) {
    const reason = outcome.permanent
      ? error
      : `gave up after 48 h and ${attempts} attempts: ${error}`;
    await db.batch([
      db
        .prepare(
          `UPDATE deliveries SET status = 'dead', last_error = ?1, last_status = ?2,
             leased_until = NULL, updated_at = ?3
           WHERE tenant_id = ?4 AND id = ?5 AND status = 'pending'`,
        )
        .bind(reason, outcome.status, now, d.tenant_id, d.id),
      db
        .prepare(
          `INSERT INTO dead_letters (queue, message_id, tenant_id, body, attempts, received_at)
           VALUES ('aforo-deliveries-dlq', ?, ?, ?, ?, ?) ON CONFLICT (queue, message_id) DO NOTHING`,
        )
        .bind(message.id, d.tenant_id, JSON.stringify(message.body), message.attempts, now),
    ]);
    return { ack: true };
  }
  const delaySeconds = backoffSeconds(attempts);
  await db
    .prepare(
      `UPDATE deliveries SET last_error = ?1, last_status = ?2, leased_until = NULL,
         next_attempt_at = ?3, updated_at = ?4
       WHERE tenant_id = ?5 AND id = ?6 AND status = 'pending'`,
    )
    .bind(error, outcome.status, now + delaySeconds * 1000, now, d.tenant_id, d.id)
    .run();
  return { ack: false, delaySeconds };
}

/** The consumer of `aforo-deliveries` (dispatched from workers/queues.ts). */
export async function handleDeliveries(batch: MessageBatch, env: Env): Promise<void> {
  const queue = [...batch.messages];
  const worker = async () => {
    for (let m = queue.shift(); m; m = queue.shift()) {
      let verdict: Verdict;
      try {
        verdict = await deliverOne(env, m);
      } catch (err) {
        // D1 unavailable or a bug: the lease (if taken) expires and the retry picks it up.
        console.error(`deliveries: message ${m.id} failed; retrying`, err);
        verdict = { ack: false, delaySeconds: ERROR_RETRY_S };
      }
      if (verdict.ack) m.ack();
      else m.retry({ delaySeconds: verdict.delaySeconds });
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, queue.length) }, worker));
}
