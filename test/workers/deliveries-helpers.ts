import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import { inject } from "vitest";
import { pendingDeliveryStatements } from "../../workers/deliveries";
import worker from "../../workers/index";
import type { ReceivedRequest } from "../global-setup-receiver";
import { call, type Tenant } from "./helpers";

// Shared by the delivery tests: the real HTTP receiver started by test/global-setup-receiver.ts,
// signals written the way the events consumer writes them, and a direct run of the consumer.

const receiver = () => `http://127.0.0.1:${inject("receiverPort")}`;
let hookSeq = 0;

/** A fresh receiver endpoint (its own log and mode) for one test. */
export function newHook(label = "hook") {
  const name = `${label}-${Date.now().toString(36)}-${++hookSeq}`;
  return {
    name,
    url: `${receiver()}/hooks/${name}`,
    async mode(mode: "ok" | "down" | number) {
      const res = await fetch(`${receiver()}/control/mode`, {
        method: "POST",
        body: JSON.stringify({ name, mode }),
      });
      await res.body?.cancel();
    },
    async log(): Promise<ReceivedRequest[]> {
      return (await fetch(`${receiver()}/control/log?name=${name}`)).json();
    },
  };
}
export type Hook = ReturnType<typeof newHook>;

let signalSeq = 0;

export interface TestSignal {
  id: string;
  detector: string;
  customer_id: string;
  product_id: string | null;
  metric_id: string | null;
  window_start: number;
  window_end: number;
  magnitude: number;
  direction: string | null;
  details: Record<string, unknown>;
  source_event_ids: string[];
  created_at: number;
}

const HOUR = 3_600_000;

export function anomalySignal(over: Partial<TestSignal> = {}): TestSignal {
  const hour = Date.UTC(2026, 10, 27, 10);
  return {
    id: `sig_${Date.now().toString(36)}_${++signalSeq}`,
    detector: "BillableUnitAnomalyDetector",
    customer_id: "acme",
    product_id: "chat-api",
    metric_id: "input_tokens",
    window_start: hour,
    window_end: hour + HOUR,
    magnitude: 4.2,
    direction: "spike",
    details: { sigma: 4.2, pct_change: 180, expected: 1000, observed: 2800, k: 2 },
    source_event_ids: ["evt_1", "evt_2"],
    created_at: Date.now(),
    ...over,
  };
}

/** The contract's `signals` table (schema/0004_detection.sql); created here only if the
 * migration is not there yet. */
export async function ensureSignalsTable() {
  await env.DB.prepare(
    `CREATE TABLE IF NOT EXISTS signals (
      tenant_id TEXT NOT NULL, id TEXT NOT NULL, idempotency_key TEXT NOT NULL,
      detector TEXT NOT NULL, customer_id TEXT NOT NULL, product_id TEXT, metric_id TEXT,
      window_start INTEGER NOT NULL, window_end INTEGER NOT NULL, magnitude REAL NOT NULL,
      direction TEXT, details TEXT NOT NULL, source_event_ids TEXT NOT NULL,
      status TEXT NOT NULL DEFAULT 'open', created_at INTEGER NOT NULL,
      PRIMARY KEY (tenant_id, id))`,
  ).run();
}

/** Stores a signal and its pending deliveries in one D1 batch, as the events consumer does. */
export async function storeSignal(tenantId: string, s: TestSignal) {
  const db = env.DB;
  await db.batch([
    db
      .prepare(
        `INSERT INTO signals (tenant_id, id, idempotency_key, detector, customer_id, product_id,
           metric_id, window_start, window_end, magnitude, direction, details, source_event_ids,
           status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?)`,
      )
      .bind(
        tenantId,
        s.id,
        `${s.detector}|${s.id}`,
        s.detector,
        s.customer_id,
        s.product_id,
        s.metric_id,
        s.window_start,
        s.window_end,
        s.magnitude,
        s.direction,
        JSON.stringify(s.details),
        JSON.stringify(s.source_event_ids),
        s.created_at,
      ),
    ...pendingDeliveryStatements(db, tenantId, s.id, s.created_at),
  ]);
  return s;
}

export interface DeliveryRow {
  id: string;
  signal_id: string;
  channel_id: string;
  status: string;
  kind: "signal" | "digest";
  digest_id: string | null;
  attempts: number;
  next_attempt_at: number;
  leased_until: number | null;
  last_error: string | null;
  last_status: number | null;
  delivered_at: number | null;
  created_at: number;
}

export async function deliveriesOf(tenantId: string, signalId: string) {
  const { results } = await env.DB.prepare(
    "SELECT * FROM deliveries WHERE tenant_id = ? AND signal_id = ? ORDER BY channel_id",
  )
    .bind(tenantId, signalId)
    .all<DeliveryRow>();
  return results;
}

let messageSeq = 0;

/** Runs the deliveries consumer on queue messages for these deliveries (each `copies` times,
 * as an at-least-once queue may) and returns the ack/retry result. */
export async function runConsumer(
  tenantId: string,
  deliveryIds: string[],
  options: { attempts?: number; copies?: number; env?: Env } = {},
) {
  const messages = deliveryIds.flatMap((id) =>
    Array.from({ length: options.copies ?? 1 }, () => ({
      id: `msg-${++messageSeq}`,
      timestamp: new Date(),
      attempts: options.attempts ?? 1,
      body: { tenant_id: tenantId, delivery_id: id },
    })),
  );
  const batch = createMessageBatch("aforo-deliveries", messages);
  // getQueueResult does not report per-message delays: record them on the way.
  const delays = new Map<string, number | undefined>();
  for (const m of batch.messages) {
    const retry = m.retry.bind(m);
    m.retry = (o?: QueueRetryOptions) => {
      delays.set(m.id, o?.delaySeconds);
      retry(o);
    };
  }
  const ctx = createExecutionContext();
  await worker.queue(batch, options.env ?? env, ctx);
  const result = await getQueueResult(batch, ctx);
  return {
    ...result,
    retryMessages: result.retryMessages.map((r) => ({
      msgId: r.msgId,
      delaySeconds: delays.get(r.msgId),
    })),
    messages,
  };
}

export async function createChannel(tenant: Tenant, body: Record<string, unknown>) {
  const res = await call("POST", "/api/channels", { token: tenant.operator_token, body });
  if (res.status !== 201) throw new Error(`channel creation failed: ${JSON.stringify(res.body)}`);
  return res.body as { id: string; secret?: string; [k: string]: unknown };
}

// --- Standard Webhooks verification ---------------------------------------------------------

/** The headers a Standard Webhooks verifier takes. */
export type WebhookHeaders = Record<
  "webhook-id" | "webhook-timestamp" | "webhook-signature",
  string
>;

/**
 * Verifies a Standard Webhooks signature with the `standardwebhooks` package when it is
 * installed (devDependency requested; see the delivery tests' header). Until then: a
 * HAND-WRITTEN STAND-IN that follows the same spec — base64 HMAC-SHA256 over
 * `${id}.${timestamp}.${body}` with the base64-decoded whsec_ key, any of the space-separated
 * `v1,` signatures, timestamp within 5 minutes, constant-time comparison.
 * Returns which verifier ran.
 */
export async function verifyStandardWebhook(
  secret: string,
  headers: Record<string, string>,
  body: string,
  nowSeconds = Math.floor(Date.now() / 1000),
): Promise<"standardwebhooks" | "hand-written"> {
  const library = await loadStandardWebhooks();
  if (library) {
    new library.Webhook(secret).verify(body, headers);
    return "standardwebhooks";
  }
  const id = headers["webhook-id"];
  const timestamp = headers["webhook-timestamp"];
  const signatures = headers["webhook-signature"];
  if (!id || !timestamp || !signatures) throw new Error("missing Standard Webhooks headers");
  const ts = Number(timestamp);
  if (!Number.isInteger(ts) || Math.abs(nowSeconds - ts) > 300) {
    throw new Error("timestamp outside the 5-minute tolerance");
  }
  const keyBytes = Uint8Array.from(atob(secret.replace(/^whsec_/, "")), (c) => c.charCodeAt(0));
  const key = await crypto.subtle.importKey(
    "raw",
    keyBytes,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const expected = new Uint8Array(
    await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${id}.${ts}.${body}`)),
  );
  for (const versioned of signatures.split(" ")) {
    const [version, sig] = versioned.split(",");
    if (version !== "v1" || !sig) continue;
    const given = Uint8Array.from(atob(sig), (c) => c.charCodeAt(0));
    if (given.length === expected.length && crypto.subtle.timingSafeEqual(given, expected)) {
      return "hand-written";
    }
  }
  throw new Error("no matching signature");
}

interface StandardWebhooksModule {
  Webhook: new (
    secret: string,
  ) => { verify(payload: string, headers: Record<string, string>): unknown };
}

async function loadStandardWebhooks(): Promise<StandardWebhooksModule | null> {
  const name = "standardwebhooks";
  try {
    return (await import(/* @vite-ignore */ name)) as StandardWebhooksModule;
  } catch {
    return null;
  }
}
