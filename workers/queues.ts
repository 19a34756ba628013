// Queue consumers, dispatched by queue name (wrangler.toml [[queues.consumers]]).

const DEAD_LETTER_QUEUES = new Set(["aforo-events-dlq", "aforo-deliveries-dlq"]);

export async function handleQueue(batch: MessageBatch, env: Env): Promise<void> {
  if (DEAD_LETTER_QUEUES.has(batch.queue)) return recordDeadLetters(batch, env);
  // A queue without a consumer yet: leave messages to retry into the dead-letter queue.
  console.error(`no consumer for queue ${batch.queue}`);
  batch.retryAll();
}

/** Keeps dead letters in D1 (idempotent per message id) so operators can see and replay them. */
async function recordDeadLetters(batch: MessageBatch, env: Env) {
  const now = Date.now();
  const statements = batch.messages.map((m) => {
    const body = m.body as { tenant_id?: unknown } | null;
    const tenantId = typeof body?.tenant_id === "string" ? body.tenant_id : null;
    return env.DB.prepare(
      `INSERT INTO dead_letters (queue, message_id, tenant_id, body, attempts, received_at)
       VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (queue, message_id) DO NOTHING`,
    ).bind(batch.queue, m.id, tenantId, JSON.stringify(m.body), m.attempts, now);
  });
  if (statements.length > 0) await env.DB.batch(statements);
  batch.ackAll();
}
