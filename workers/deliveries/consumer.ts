import { z } from "@hono/zod-openapi";
import { HOUR_MS, MINUTE_MS } from "../../domain/time";
import type { Channel } from "../../store/channels";
import {
  claimDelivery,
  type DeliveryToSend,
  deadLetterStatement,
  digestMembers,
  finishDelivery,
  loadDeliveryToSend,
  markDeadStatement,
  markDeliveredStatement,
  scheduleRetry,
  settleDigestMembersStatement,
} from "../../store/deliveries";
import { loadPaymentMessage } from "../../store/retries";
import { loadTenantSettings } from "../../store/tenants";
import { dunningEmailContent, retryWebhookBody } from "../billing/retries";
import { deliveryTimeScale } from "../chaos";
import { deliverExportBatch } from "../exports/deliver";
import { observe } from "../telemetry";
import { addressChannel } from "./channels";
import { openSecret } from "./secrets";
import { type Outgoing, type SendOutcome, sendToChannel } from "./send";
import { type AlertSignal, loadSignal } from "./signal";

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
// A message of kind `export_batch` wakes a webhook export's batch instead, delivered the same
// way from its own row (workers/exports/deliver.ts).

export const BACKOFF_BASE_S = 30;
export const BACKOFF_CAP_S = 3_600;
export const GIVE_UP_AFTER_MS = 48 * HOUR_MS;
/** How long a consumer owns a delivery while sending it (the send times out after 10 s). */
export const LEASE_MS = MINUTE_MS;
/** A wake-up this much earlier than the delivery is due is a duplicate message: dropped. */
const EARLY_TOLERANCE_MS = 5_000;
/** When D1 itself fails, try the message again soon. */
const ERROR_RETRY_S = 10;
/** Deliveries sent at once per batch (Workers allow 6 simultaneous outgoing connections). */
const CONCURRENCY = 6;
/** A digest names this many of its alerts one by one; the rest are counted, with a link. */
export const DIGEST_LISTED = 25;

/** Seconds to wait after the n-th failed attempt: 30 s doubling, capped at 1 h. With the cap,
 * 48 h of retries take ≈ 55 attempts (54 queue retries), within the queue's max_retries = 100 (wrangler.toml). */
export function backoffSeconds(attempts: number): number {
  const n = Math.max(1, attempts);
  return Math.min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** Math.min(n - 1, 20));
}

const Body = z.object({
  tenant_id: z.string().min(1),
  delivery_id: z.string().min(1),
  /** A webhook export's batch (workers/exports/deliver.ts), not a row of `deliveries`. */
  kind: z.literal("export_batch").optional(),
});

type Verdict = { ack: true } | { ack: false; delaySeconds: number };

async function deliverOne(env: Env, message: Message<unknown>): Promise<Verdict> {
  const parsed = Body.safeParse(message.body);
  if (!parsed.success) {
    console.error(`deliveries: dropping malformed message ${message.id}`);
    return { ack: true };
  }
  const db = env.DB;
  const { tenant_id: tenantId, delivery_id: deliveryId } = parsed.data;
  if (parsed.data.kind === "export_batch") return deliverExportBatch(env, tenantId, deliveryId);
  const d = await loadDeliveryToSend(db, tenantId, deliveryId);
  if (d?.status !== "pending") return { ack: true };
  // An alert over the budget goes out in its digest, never on its own.
  if (d.digest_id !== null) return { ack: true };
  const now = Date.now();
  if (d.leased_until !== null && d.leased_until > now) {
    // Another consumer is sending it right now: look again when its lease ends.
    return { ack: false, delaySeconds: Math.ceil((d.leased_until - now) / 1000) + 1 };
  }
  // An escalation to an account owner, or a dunning e-mail to a customer's billing address.
  const escalation = addressChannel(tenantId, d.channel_id);
  const configured = d.channel;
  if (!escalation && !configured?.enabled) {
    const why = configured === null ? "the channel was deleted" : "the channel is disabled";
    await finishDelivery(db, tenantId, d.id, "canceled", why, Date.now());
    return { ack: true };
  }
  if (d.next_attempt_at > now + EARLY_TOLERANCE_MS) {
    // A digest's wake-up that came early (each burst that joins it sends one, delayed until it
    // is due) waits; any other early message is a duplicate of the retry already scheduled.
    if (d.kind !== "digest" || d.attempts > 0) return { ack: true };
    return { ack: false, delaySeconds: Math.ceil((d.next_attempt_at - now) / 1000) };
  }

  let members: { id: string; signal_id: string }[] = [];
  let outgoing: Outgoing;
  if (d.kind === "digest") {
    const attempts = await claimDelivery(db, tenantId, deliveryId, now, now + LEASE_MS);
    if (attempts === null) return { ack: false, delaySeconds: Math.ceil(LEASE_MS / 1000) };
    // Claimed (attempts > 0): no alert joins it from here on, so this is its whole membership.
    members = await digestMembers(db, tenantId, d.id);
    if (members.length === 0) {
      await finishDelivery(db, tenantId, d.id, "canceled", "no alerts left to send", Date.now());
      return { ack: true };
    }
    const listed: AlertSignal[] = [];
    for (const m of members.slice(0, DIGEST_LISTED)) {
      const s = await loadSignal(db, tenantId, m.signal_id);
      if (s) listed.push(s);
    }
    outgoing = {
      kind: "digest",
      deliveryId: d.id,
      signals: listed,
      total: members.length,
      since: d.created_at,
    };
    return send(env, message, d, attempts, outgoing, members, escalation, configured);
  }
  if (d.kind === "payment_retry" || d.kind === "payment_method") {
    // Adaptive Retry: read when sent, so the amount is what is still due.
    const m = await loadPaymentMessage(db, tenantId, d.kind, d.signal_id);
    if (!m) {
      await finishDelivery(db, tenantId, d.id, "dead", `${d.signal_id} does not exist`, now);
      return { ack: true };
    }
    if (m.invoice_status !== "open") {
      const why = `invoice ${m.invoice_id} is ${m.invoice_status}: nothing to collect`;
      await finishDelivery(db, tenantId, d.id, "canceled", why, now);
      return { ack: true };
    }
    const attempts = await claimDelivery(db, tenantId, deliveryId, now, now + LEASE_MS);
    if (attempts === null) return { ack: false, delaySeconds: Math.ceil(LEASE_MS / 1000) };
    outgoing = {
      kind: "payment",
      deliveryId: d.id,
      webhook: retryWebhookBody(m, d.id, now),
      email: dunningEmailContent(m, (await loadTenantSettings(db, tenantId)).retry.time_zone),
      headers: { "X-Aforo-Invoice": m.invoice_id },
    };
    return send(env, message, d, attempts, outgoing, members, escalation, configured);
  }
  const signal = await loadSignal(db, tenantId, d.signal_id);
  if (!signal) {
    await finishDelivery(
      db,
      tenantId,
      d.id,
      "dead",
      `signal ${d.signal_id} does not exist`,
      Date.now(),
    );
    return { ack: true };
  }
  const attempts = await claimDelivery(db, tenantId, deliveryId, now, now + LEASE_MS);
  if (attempts === null) return { ack: false, delaySeconds: Math.ceil(LEASE_MS / 1000) };
  outgoing = {
    kind: "signal",
    signal,
    deliveryId: d.id,
    ...(escalation ? { escalation: true } : {}),
  };
  return send(env, message, d, attempts, outgoing, members, escalation, configured);
}

async function send(
  env: Env,
  message: Message<unknown>,
  d: DeliveryToSend,
  attempts: number,
  outgoing: Outgoing,
  members: { id: string }[],
  escalation: Channel | null,
  configured: Channel | null,
): Promise<Verdict> {
  const tenantId = d.tenant_id;
  // Not an escalation: the channel exists and is enabled (checked above).
  let channel: Channel = escalation ?? (configured as Channel);
  if (channel.secret !== null) {
    const opened = await openSecret(env, tenantId, d.channel_id, channel.secret);
    if (!opened.ok) {
      // A missing or changed key: retried with backoff (someone may fix the configuration).
      return record(env, message, d, attempts, members, {
        ok: false,
        status: null,
        error: opened.detail,
        permanent: false,
        duration_ms: 0,
      });
    }
    channel = { ...channel, secret: opened.value };
  }
  const outcome = await sendToChannel(env, channel, outgoing);
  return record(env, message, d, attempts, members, outcome);
}

/** Records an attempt's outcome; a digest's members (`members`, those it carried) take it
 * when it is final. */
async function record(
  env: Env,
  message: Message<unknown>,
  d: DeliveryToSend,
  attempts: number,
  members: { id: string }[],
  outcome: SendOutcome,
): Promise<Verdict> {
  const db = env.DB;
  const now = Date.now();
  const memberIds = members.map((m) => m.id);
  const settle = (status: "delivered" | "dead", error: string | null) =>
    memberIds.length === 0
      ? []
      : [
          settleDigestMembersStatement(
            db,
            d.tenant_id,
            d.id,
            memberIds,
            {
              status,
              error: error === null ? null : `in digest ${d.id}: ${error}`,
              httpStatus: outcome.status,
            },
            now,
          ),
        ];
  if (outcome.ok) {
    await db.batch([
      markDeliveredStatement(db, d.tenant_id, d.id, outcome.status, now),
      ...settle("delivered", null),
    ]);
    return { ack: true };
  }
  const error = outcome.error ?? "failed";
  const scale = deliveryTimeScale(env); // 1 unless chaos compresses time (workers/chaos.ts)
  if (outcome.permanent || now >= d.created_at + GIVE_UP_AFTER_MS / scale) {
    const reason = outcome.permanent
      ? error
      : `gave up after 48 h and ${attempts} attempts: ${error}`;
    const written = await db.batch([
      markDeadStatement(db, d.tenant_id, d.id, reason, outcome.status, now),
      ...settle("dead", reason),
      deadLetterStatement(db, "aforo-deliveries-dlq", message, d.tenant_id, now),
    ]);
    // In the pipeline telemetry as the dead-letter queue's consumer counts its own: once.
    if ((written.at(-1)?.meta.changes ?? 0) > 0) {
      observe(env.DB, null, {
        tenantId: d.tenant_id,
        series: "dead_letter",
        outcome: "deliveries",
        error: true,
      });
    }
    return { ack: true };
  }
  const delaySeconds = Math.max(1, Math.round(backoffSeconds(attempts) / scale));
  await scheduleRetry(db, d.tenant_id, d.id, error, outcome.status, now + delaySeconds * 1000, now);
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
