import { MINUTE_MS } from "../../domain/time";
import { pendingDeliveryIds, stalledDeliveries } from "../../store/deliveries";

// The producer side of delivery. The events consumer, when it stores a new signal, adds
// `pendingDeliveryStatements` to the same D1 batch (one transaction: the signal and its pending
// deliveries exist together or not at all) and calls `enqueueDeliveries` after it commits.
// A lost enqueue (crash between commit and send) is repaired by `requeueStalledDeliveries`.

export interface DeliveryMessage {
  tenant_id: string;
  delivery_id: string;
}

/** Deliveries queued but not attempted this long after they were due are sent again. */
export const STALL_MS = 15 * MINUTE_MS;
const SEND_BATCH = 100;

/** Queues allow a message to wait at most 12 hours. */
const MAX_DELAY_S = 12 * 3600;

async function sendMessages(env: Env, messages: DeliveryMessage[], delays: number[] = []) {
  for (let i = 0; i < messages.length; i += SEND_BATCH) {
    await env.DELIVERIES_QUEUE.sendBatch(
      messages.slice(i, i + SEND_BATCH).map((body, j) => {
        const delaySeconds = Math.min(MAX_DELAY_S, Math.max(0, delays[i + j] ?? 0));
        return { body, contentType: "json" as const, ...(delaySeconds ? { delaySeconds } : {}) };
      }),
    );
  }
}

/** Sends one queue message per pending delivery of these signals (`{tenant_id, delivery_id}`):
 * at once for those sent one by one, delayed until it is due for a digest they joined (over the
 * alert budget). A digest woken more than once is sent once: the consumer leases it. */
export async function enqueueDeliveries(
  env: Env,
  tenantId: string,
  signalIds: string[],
  now: number = Date.now(),
): Promise<void> {
  if (signalIds.length === 0) return;
  const due = await pendingDeliveryIds(env.DB, tenantId, signalIds);
  await sendMessages(
    env,
    due.map((d) => ({ tenant_id: tenantId, delivery_id: d.id })),
    due.map((d) => Math.ceil((d.due - now) / 1000)),
  );
}

/**
 * Re-sends the queue message of pending deliveries that were due more than STALL_MS ago and are
 * not being sent (an enqueue lost after its transaction committed, a message lost to the
 * dead-letter queue while D1 was failing). A duplicate message is harmless: the consumer drops
 * wake-ups that arrive before a delivery is due and never sends a delivery twice at once.
 * Runs from the cron (all tenants) or a tenant's periodic work (one tenant).
 */
export async function requeueStalledDeliveries(
  env: Env,
  now: number,
  tenantId?: string,
): Promise<number> {
  const results = await stalledDeliveries(env.DB, now - STALL_MS, now, tenantId);
  await sendMessages(
    env,
    results.map((r) => ({ tenant_id: r.tenant_id, delivery_id: r.id })),
  );
  return results.length;
}
