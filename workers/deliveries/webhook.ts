import { webhookSecretKey } from "./channels";
import { type AlertSignal, describeSignal } from "./signal";

// Generic webhooks signed per the Standard Webhooks convention (standardwebhooks.com):
//   webhook-id:        the message id — the delivery's idempotency id, the same on every retry
//   webhook-timestamp: integer seconds since the epoch, at sending time
//   webhook-signature: "v1," + base64(HMAC-SHA256(key, `${id}.${timestamp}.${body}`)), where key
//                      is the base64-decoded part of the channel's `whsec_…` secret
// Receivers verify the signature (e.g. `new Webhook(secret).verify(body, headers)` from the
// `standardwebhooks` package), reject stale timestamps, and drop ids they have already seen.

const base64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));

export async function signWebhook(
  secret: string,
  id: string,
  timestampSeconds: number,
  body: string,
): Promise<string> {
  const keyBytes = webhookSecretKey(secret);
  if (!keyBytes) throw new Error("the channel's signing secret is not a whsec_ secret");
  const key = await crypto.subtle.importKey(
    "raw",
    keyBytes,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = await crypto.subtle.sign(
    "HMAC",
    key,
    new TextEncoder().encode(`${id}.${timestampSeconds}.${body}`),
  );
  return `v1,${base64(new Uint8Array(mac))}`;
}

/** Headers of one signed webhook request. */
export async function webhookHeaders(
  secret: string,
  id: string,
  body: string,
  now: number,
): Promise<Record<string, string>> {
  const timestamp = Math.floor(now / 1000);
  return {
    "content-type": "application/json",
    "user-agent": "Aforo-Webhooks/1.0",
    "webhook-id": id,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": await signWebhook(secret, id, timestamp, body),
  };
}

const iso = (ms: number) => new Date(ms).toISOString();

/** `{type, timestamp, data}` as Standard Webhooks suggests; `data` is the signal itself. */
export function signalWebhookBody(
  signal: AlertSignal,
  link: string | null,
  deliveryId: string,
  now: number,
) {
  const { title, magnitude } = describeSignal(signal);
  return {
    type: "signal.created",
    timestamp: iso(now),
    data: {
      id: signal.id,
      detector: signal.detector,
      customer: signal.customer,
      product: signal.product,
      metric: signal.metric,
      window: { start: iso(signal.window.start), end: iso(signal.window.end) },
      magnitude: signal.magnitude,
      direction: signal.direction,
      details: signal.details,
      source_event_ids: signal.source_event_ids,
      created_at: iso(signal.created_at),
      summary: title,
      magnitude_text: magnitude,
      url: link,
      delivery_id: deliveryId,
    },
  };
}
