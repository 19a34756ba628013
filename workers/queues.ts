import type { OutboxMessage } from "../durable-objects/customer-actor";
import { enqueueDeliveries, handleDeliveries, pendingDeliveryStatements } from "./deliveries";
import { decideRung, executeAction, signalStatements } from "./ladder";

// Queue consumers, dispatched by queue name (wrangler.toml [[queues.consumers]]).

const DEAD_LETTER_QUEUES = new Set(["aforo-events-dlq", "aforo-deliveries-dlq"]);
const DAY_MS = 86_400_000;
const ANALYTICS_POINTS_PER_INVOCATION = 250;

export async function handleQueue(
  batch: MessageBatch,
  env: Env,
  _ctx?: ExecutionContext,
): Promise<void> {
  if (batch.queue === "aforo-events")
    return applyRollups(batch as MessageBatch<OutboxMessage>, env);
  if (batch.queue === "aforo-deliveries") return handleDeliveries(batch, env);
  if (DEAD_LETTER_QUEUES.has(batch.queue)) return recordDeadLetters(batch, env);
  // A queue without a consumer yet: leave messages to retry into the dead-letter queue.
  console.error(`no consumer for queue ${batch.queue}`);
  batch.retryAll();
}

// One statement per table for a whole queue batch: every delta carries its batch id, and a
// delta is applied only if its batch is not yet in applied_batches.
const UPSERT = (table: string, start: string) => `
  INSERT INTO ${table} (tenant_id, start, customer_id, product_id, metric_id, units, revenue, cost, events)
  SELECT value->>'tenant', ${start}, value->>'customer', value->>'product', value->>'metric',
         CAST(value->>'units' AS INTEGER), CAST(value->>'revenue' AS INTEGER),
         CAST(value->>'cost' AS INTEGER), value->>'events'
  FROM json_each(?1)
  WHERE NOT EXISTS (SELECT 1 FROM applied_batches WHERE batch_id = value->>'batch')
  ON CONFLICT (tenant_id, start, customer_id, product_id, metric_id) DO UPDATE SET
    units = units + excluded.units, revenue = revenue + excluded.revenue,
    cost = cost + excluded.cost, events = events + excluded.events`;
const HOURLY = UPSERT("rollups_hourly", "value->>'hour'");
const DAILY = UPSERT("rollups_daily", `(value->>'hour') - ((value->>'hour') % ${DAY_MS})`);
const MARK_APPLIED = `INSERT INTO applied_batches (batch_id, tenant_id, applied_at)
  SELECT value->>0, value->>1, ?2 FROM json_each(?1) WHERE true ON CONFLICT DO NOTHING`;
const DELTAS_PER_STATEMENT = 2_000;

/**
 * Applies outbox batches to the D1 rollups exactly once: the upserts skip deltas whose batch is
 * already in applied_batches, and the batches are marked applied in the same D1 transaction
 * (one `batch()`), so a redelivered batch changes nothing.
 */
async function applyRollups(batch: MessageBatch<OutboxMessage>, env: Env) {
  const db = env.DB;
  const ids = batch.messages.map((m) => m.body.batch_id);
  const { results: already } = await db
    .prepare(
      "SELECT batch_id FROM applied_batches WHERE batch_id IN (SELECT value FROM json_each(?))",
    )
    .bind(JSON.stringify(ids))
    .all<{ batch_id: string }>();
  const applied = new Set(already.map((r) => r.batch_id));
  const fresh = batch.messages.map((m) => m.body).filter((b) => !applied.has(b.batch_id));
  const rows = fresh.flatMap((b) =>
    b.deltas.map((d) => ({
      ...d,
      batch: b.batch_id,
      tenant: b.tenant_id,
      customer: b.customer_id,
    })),
  );
  const statements: D1PreparedStatement[] = [];
  for (let i = 0; i < rows.length; i += DELTAS_PER_STATEMENT) {
    const json = JSON.stringify(rows.slice(i, i + DELTAS_PER_STATEMENT));
    statements.push(db.prepare(HOURLY).bind(json), db.prepare(DAILY).bind(json));
  }
  // New signals, with their action at the rung the policy maps them to, in the same transaction.
  const ladder: { actionId: string; signalId: string; tenantId: string; auto: boolean }[] = [];
  const now = Date.now();
  for (const b of fresh) {
    for (const signal of b.signals ?? []) {
      const { rung, auto } = await decideRung(db, b.tenant_id, signal);
      const recorded = await signalStatements(db, b.tenant_id, signal, rung, now);
      // The signal and its pending deliveries are written together (detection ≠ delivery).
      statements.push(
        ...recorded.statements,
        ...pendingDeliveryStatements(db, b.tenant_id, recorded.signalId, now),
      );
      ladder.push({
        actionId: recorded.actionId,
        signalId: recorded.signalId,
        tenantId: b.tenant_id,
        auto,
      });
    }
  }
  if (fresh.length > 0) {
    statements.push(
      db
        .prepare(MARK_APPLIED)
        .bind(JSON.stringify(fresh.map((b) => [b.batch_id, b.tenant_id])), Date.now()),
    );
  }
  try {
    if (statements.length > 0) await db.batch(statements);
  } catch (err) {
    console.error("applying rollups failed; the batch will be retried", err);
    batch.retryAll({ delaySeconds: 2 });
    return;
  }
  writeAnalytics(env, fresh);
  const byTenant = new Map<string, string[]>();
  for (const l of ladder)
    byTenant.set(l.tenantId, [...(byTenant.get(l.tenantId) ?? []), l.signalId]);
  for (const [tenantId, ids] of byTenant) {
    // A lost enqueue is repaired by the periodic requeue of stalled deliveries.
    await enqueueDeliveries(env, tenantId, ids).catch((err) =>
      console.error("enqueue deliveries failed", err),
    );
  }
  // Rungs the policy runs automatically; a failure is recorded on the action, never retried
  // here (the signal is stored; an operator can execute it by hand).
  for (const step of ladder.filter((l) => l.auto)) {
    try {
      await executeAction(env, step.tenantId, step.actionId, "policy");
    } catch (err) {
      console.error(`automatic action ${step.actionId} did not run`, err);
    }
  }
  batch.ackAll();
}

/** Dashboards' approximation (sampled; a no-op locally). D1 stays the source of truth. */
function writeAnalytics(env: Env, bodies: OutboxMessage[]) {
  let written = 0;
  for (const body of bodies) {
    for (const d of body.deltas) {
      if (written++ >= ANALYTICS_POINTS_PER_INVOCATION) return;
      env.USAGE_ANALYTICS.writeDataPoint({
        indexes: [body.tenant_id],
        blobs: [body.customer_id, d.product, d.metric],
        doubles: [
          d.hour,
          Number(d.units) / 1e6,
          Number(d.revenue) / 1e9,
          Number(d.cost) / 1e9,
          d.events,
        ],
      });
    }
  }
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
