import type { ArchiveMessage } from "../durable-objects/archive-feed";
import type { OutboxMessage } from "../durable-objects/customer-actor";
import { settledCaseStatements } from "../store/cases";
import { recordDeadLetters } from "../store/dead-letters";
import { appliedBatchIds, applyBatchStatements } from "../store/rollups";
import { crashAfterRollupWrite } from "./chaos";
import { handleDeliveries } from "./deliveries";
import { stageArchiveBatch } from "./event-archive";
import { type LadderStep, newSignalStatements, runLadderSteps } from "./ladder/intake";
import { flushPipelineTelemetry, observe } from "./telemetry";

// Queue consumers, dispatched by queue name (wrangler.toml [[queues.consumers]]).

const DEAD_LETTER_QUEUES = new Set([
  "aforo-events-dlq",
  "aforo-deliveries-dlq",
  "aforo-archive-dlq",
]);
const ANALYTICS_POINTS_PER_INVOCATION = 250;

export async function handleQueue(
  batch: MessageBatch,
  env: Env,
  _ctx?: ExecutionContext,
): Promise<void> {
  if (batch.queue === "aforo-events") {
    await applyRollups(batch as MessageBatch<OutboxMessage>, env);
    return flushPipelineTelemetry(env.DB);
  }
  if (batch.queue === "aforo-deliveries") {
    await handleDeliveries(batch, env);
    return flushPipelineTelemetry(env.DB);
  }
  if (batch.queue === "aforo-archive") {
    return stageArchiveBatch(batch as MessageBatch<ArchiveMessage>, env);
  }
  if (DEAD_LETTER_QUEUES.has(batch.queue)) {
    await recordDeadLetterBatch(batch, env);
    return flushPipelineTelemetry(env.DB);
  }
  // A queue without a consumer yet: leave messages to retry into the dead-letter queue.
  console.error(`no consumer for queue ${batch.queue}`);
  batch.retryAll();
}

/**
 * Applies outbox batches to the D1 rollups exactly once: the upserts skip deltas whose batch is
 * already in applied_batches, and the batches are marked applied in the same D1 transaction
 * (one `batch()`), so a redelivered batch changes nothing.
 */
async function applyRollups(batch: MessageBatch<OutboxMessage>, env: Env) {
  const db = env.DB;
  const applied = new Set(
    await appliedBatchIds(
      db,
      batch.messages.map((m) => m.body.batch_id),
    ),
  );
  const fresh = batch.messages.map((m) => m.body).filter((b) => !applied.has(b.batch_id));
  for (const m of batch.messages) {
    if (applied.has(m.body.batch_id)) queueObserved(env, m, "skipped");
  }
  // The rollup upserts and the applied marks (store/rollups.ts: exactly once).
  const statements = applyBatchStatements(db, fresh, Date.now());
  // New signals, with their action at the rung the policy maps them to, in the same transaction.
  const steps: LadderStep[] = [];
  const now = Date.now();
  for (const b of fresh) {
    // Cases this batch's data settles close first (their period ended, later hours came in).
    const latestHour = b.deltas.reduce<number | null>(
      (m, d) => (m === null || d.hour > m ? d.hour : m),
      null,
    );
    statements.push(...settledCaseStatements(db, b.tenant_id, b.customer_id, latestHour, now));
    for (const signal of b.signals ?? []) {
      const recorded = await newSignalStatements(
        db,
        b.tenant_id,
        signal,
        now,
        b.deltas
          .filter((d) => d.hour >= signal.window.start && d.hour < signal.window.end)
          .map((d) => d.product),
      );
      statements.push(...recorded.statements);
      steps.push(recorded.step);
    }
  }
  try {
    if (statements.length > 0) await db.batch(statements);
  } catch (err) {
    console.error("applying rollups failed; the batch will be retried", err);
    for (const m of batch.messages) {
      if (!applied.has(m.body.batch_id)) queueObserved(env, m, "retried");
    }
    batch.retryAll({ delaySeconds: 2 });
    return;
  }
  const appliedAt = Date.now();
  for (const m of batch.messages) {
    if (!applied.has(m.body.batch_id)) {
      queueObserved(env, m, m.attempts > 1 ? "redelivered" : "applied", appliedAt);
    }
  }
  crashAfterRollupWrite(env, batch); // fault injection, off unless configured (workers/chaos.ts)
  writeAnalytics(env, fresh);
  await runLadderSteps(env, steps);
  batch.ackAll();
}

/** One events-queue message in the pipeline telemetry: `applied` (first delivery), `redelivered`
 * (applied on a later attempt), `skipped` (its batch was already applied) or `retried` (the
 * write failed; an error). Applied ones carry their lag, apply time − the outbox row's creation
 * (the actor's clock and the consumer's; one machine locally), and the usage events applied. */
function queueObserved(
  env: Env,
  m: Message<OutboxMessage>,
  outcome: "applied" | "redelivered" | "skipped" | "retried",
  appliedAt?: number,
) {
  const lag =
    appliedAt !== undefined && m.body.created_at !== undefined
      ? { latencyUs: Math.max(0, appliedAt - m.body.created_at) * 1000 }
      : {};
  observe(env.DB, null, {
    tenantId: m.body.tenant_id,
    series: "queue",
    outcome,
    items: appliedAt !== undefined ? m.body.deltas.reduce((n, d) => n + d.events, 0) : 0,
    error: outcome === "retried",
    ...lag,
  });
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
async function recordDeadLetterBatch(batch: MessageBatch, env: Env) {
  const kept = await recordDeadLetters(
    env.DB,
    batch.messages.map((m) => {
      const body = m.body as { tenant_id?: unknown } | null;
      return {
        queue: batch.queue,
        message_id: m.id,
        tenant_id: typeof body?.tenant_id === "string" ? body.tenant_id : null,
        body: m.body,
        attempts: m.attempts,
      };
    }),
    Date.now(),
  );
  // Counted once per message: a dead letter delivered again was kept already.
  for (const letter of kept) {
    if (letter.tenant_id === null) continue;
    observe(env.DB, null, {
      tenantId: letter.tenant_id,
      series: "dead_letter",
      outcome: letter.queue.replace(/^aforo-/, "").replace(/-dlq$/, ""),
      error: true,
    });
  }
  batch.ackAll();
}
