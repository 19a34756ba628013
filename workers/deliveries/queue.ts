// The producer side of delivery. The events consumer, when it stores a new signal, adds
// `pendingDeliveryStatements` to the same D1 batch (one transaction: the signal and its pending
// deliveries exist together or not at all) and calls `enqueueDeliveries` after it commits.
// A lost enqueue (crash between commit and send) is repaired by `requeueStalledDeliveries`.

export interface DeliveryMessage {
  tenant_id: string;
  delivery_id: string;
}

/** Deliveries queued but not attempted this long after they were due are sent again. */
export const STALL_MS = 15 * 60_000;
const SEND_BATCH = 100;

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

async function sendMessages(env: Env, messages: DeliveryMessage[]) {
  for (let i = 0; i < messages.length; i += SEND_BATCH) {
    await env.DELIVERIES_QUEUE.sendBatch(
      messages.slice(i, i + SEND_BATCH).map((body) => ({ body, contentType: "json" as const })),
    );
  }
}

/** Sends one queue message per pending delivery of these signals (`{tenant_id, delivery_id}`). */
export async function enqueueDeliveries(
  env: Env,
  tenantId: string,
  signalIds: string[],
): Promise<void> {
  if (signalIds.length === 0) return;
  const { results } = await env.DB.prepare(
    `SELECT id FROM deliveries WHERE tenant_id = ? AND status = 'pending'
       AND signal_id IN (SELECT value FROM json_each(?)) ORDER BY created_at, id`,
  )
    .bind(tenantId, JSON.stringify(signalIds))
    .all<{ id: string }>();
  await sendMessages(
    env,
    results.map((r) => ({ tenant_id: tenantId, delivery_id: r.id })),
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
  const due = now - STALL_MS;
  const stmt = tenantId
    ? env.DB.prepare(
        `SELECT tenant_id, id FROM deliveries WHERE tenant_id = ?1 AND status = 'pending'
           AND next_attempt_at < ?2 AND (leased_until IS NULL OR leased_until < ?3) LIMIT 1000`,
      ).bind(tenantId, due, now)
    : env.DB.prepare(
        `SELECT tenant_id, id FROM deliveries WHERE status = 'pending'
           AND next_attempt_at < ?1 AND (leased_until IS NULL OR leased_until < ?2) LIMIT 1000`,
      ).bind(due, now);
  const { results } = await stmt.all<{ tenant_id: string; id: string }>();
  await sendMessages(
    env,
    results.map((r) => ({ tenant_id: r.tenant_id, delivery_id: r.id })),
  );
  return results.length;
}
