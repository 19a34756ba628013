import { batchContentType } from "../../domain/exports/files";
import type { Channel } from "../../store/channels";
import {
  type BatchRecord,
  claimBatch,
  type Destination,
  getDestinationSecret,
  loadBatch,
  settleBatch,
  stalledBatches,
} from "../../store/exports";
import { deliveryTimeScale } from "../chaos";
import { backoffSeconds, GIVE_UP_AFTER_MS, LEASE_MS } from "../deliveries/consumer";
import { STALL_MS } from "../deliveries/queue";
import { openSecret } from "../deliveries/secrets";
import { type SendOutcome, sendSignedBody } from "../deliveries/send";

// A webhook export's batches go out through the alert deliveries' machinery: the same queue
// (aforo-deliveries, a message `{tenant_id, delivery_id, kind: "export_batch"}` is a wake-up
// for the batch's D1 row, which is the truth), the same lease-before-send, the same URL guard
// and Standard Webhooks signature (workers/deliveries/send.ts), the same backoff (30 s doubling,
// capped at 1 h) and the same 48 h before a batch is given up as dead. A batch delivered is
// never sent again; its id (`<run id>_b<n>`) is the webhook-id of every attempt, so a receiver
// that answered 2xx to an attempt whose success we could not record drops the repeat.

export interface ExportBatchMessage {
  tenant_id: string;
  delivery_id: string;
  kind: "export_batch";
}

export type BatchVerdict = { ack: true } | { ack: false; delaySeconds: number };

const SEND_BATCH = 100;

export async function enqueueExportBatches(env: Env, tenantId: string, ids: string[]) {
  for (let i = 0; i < ids.length; i += SEND_BATCH) {
    await env.DELIVERIES_QUEUE.sendBatch(
      ids.slice(i, i + SEND_BATCH).map((id) => ({
        body: { tenant_id: tenantId, delivery_id: id, kind: "export_batch" },
        contentType: "json" as const,
      })),
    );
  }
}

/** Re-sends the wake-up of batches whose queue message was lost (periodic work). */
export async function requeueStalledExportBatches(env: Env, tenantId: string, now: number) {
  const ids = await stalledBatches(env.DB, tenantId, now - STALL_MS, now);
  await enqueueExportBatches(env, tenantId, ids);
  return ids.length;
}

/** The destination as the webhook sender's channel: its URL and opened signing secret. */
function asChannel(tenantId: string, d: Destination, secret: string): Channel {
  return {
    tenant_id: tenantId,
    id: d.id,
    type: "webhook",
    name: d.name,
    config: d.url ? { url: d.url } : {},
    secret,
    link_base: null,
    enabled: d.enabled,
    created_at: d.created_at,
    updated_at: d.updated_at,
  };
}

/** The destination ready to send to, or why not (permanent: deleted, disabled, not a webhook;
 * a secret that does not open is retried — the key may be fixed). */
export async function webhookChannel(
  env: Env,
  tenantId: string,
  destinationId: string,
  options: { allowDisabled?: boolean } = {},
): Promise<{ ok: true; channel: Channel } | { ok: false; permanent: boolean; error: string }> {
  const d = await getDestinationSecret(env.DB, tenantId, destinationId);
  if (!d) return { ok: false, permanent: true, error: "the destination was deleted" };
  if (d.type !== "webhook" || d.secret === null) {
    return { ok: false, permanent: true, error: "the destination is not a webhook" };
  }
  if (!d.enabled && !options.allowDisabled) {
    return { ok: false, permanent: true, error: "the destination is disabled" };
  }
  const opened = await openSecret(env, tenantId, d.id, d.secret);
  if (!opened.ok) return { ok: false, permanent: false, error: opened.detail };
  return { ok: true, channel: asChannel(tenantId, d, opened.value) };
}

async function attempt(env: Env, b: BatchRecord, format: "ndjson" | "json"): Promise<SendOutcome> {
  const started = Date.now();
  const failed = (error: string, permanent: boolean): SendOutcome => ({
    ok: false,
    status: null,
    error,
    permanent,
    duration_ms: Date.now() - started,
  });
  const target = await webhookChannel(env, b.tenant_id, b.destination_id);
  if (!target.ok) return failed(target.error, target.permanent);
  const object = await env.EXPORTS.get(b.object_key);
  if (!object) return failed("the batch's body is missing from the bucket", true);
  const body = await object.text();
  return sendSignedBody(env, target.channel, b.id, body, batchContentType(format));
}

/** One wake-up of one batch (called by the deliveries consumer). */
export async function deliverExportBatch(
  env: Env,
  tenantId: string,
  batchId: string,
): Promise<BatchVerdict> {
  const db = env.DB;
  const b = await loadBatch(db, tenantId, batchId);
  if (b?.status !== "pending") return { ack: true };
  const now = Date.now();
  if (b.leased_until !== null && b.leased_until > now) {
    return { ack: false, delaySeconds: Math.ceil((b.leased_until - now) / 1000) + 1 };
  }
  // A duplicate wake-up ahead of the retry already scheduled.
  if (b.next_attempt_at > now + 5_000) return { ack: true };
  const attempts = await claimBatch(db, tenantId, b.id, now, now + LEASE_MS);
  if (attempts === null) return { ack: false, delaySeconds: Math.ceil(LEASE_MS / 1000) };
  const format = b.object_key.endsWith(".ndjson") ? "ndjson" : "json";
  const outcome = await attempt(env, b, format);
  const done = Date.now();
  if (outcome.ok) {
    await settleBatch(db, tenantId, b, { status: "delivered", httpStatus: outcome.status }, done);
    return { ack: true };
  }
  const error = outcome.error ?? "failed";
  const scale = deliveryTimeScale(env);
  if (outcome.permanent || done >= b.created_at + GIVE_UP_AFTER_MS / scale) {
    const reason = outcome.permanent
      ? error
      : `gave up after 48 h and ${attempts} attempts: ${error}`;
    await settleBatch(
      db,
      tenantId,
      b,
      { status: "dead", httpStatus: outcome.status, error: reason },
      done,
    );
    return { ack: true };
  }
  const delaySeconds = Math.max(1, Math.round(backoffSeconds(attempts) / scale));
  await settleBatch(
    db,
    tenantId,
    b,
    {
      status: "pending",
      httpStatus: outcome.status,
      error,
      retryAt: done + delaySeconds * 1000,
    },
    done,
  );
  return { ack: false, delaySeconds };
}
