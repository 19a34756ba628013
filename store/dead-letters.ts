// Dead letters (schema dead_letters): messages a queue gave up on, kept so operators can see and
// replay them. Idempotent per (queue, message id).

export interface DeadLetter {
  queue: string;
  message_id: string;
  tenant_id: string | null;
  body: unknown;
  attempts: number;
}

/** Keeps the letters; answers those that were not kept already (a redelivered dead letter is
 * kept once). */
export async function recordDeadLetters(
  db: D1Database,
  letters: readonly DeadLetter[],
  receivedAt: number,
): Promise<DeadLetter[]> {
  if (letters.length === 0) return [];
  const results = await db.batch(
    letters.map((l) =>
      db
        .prepare(
          `INSERT INTO dead_letters (queue, message_id, tenant_id, body, attempts, received_at)
           VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (queue, message_id) DO NOTHING`,
        )
        .bind(l.queue, l.message_id, l.tenant_id, JSON.stringify(l.body), l.attempts, receivedAt),
    ),
  );
  return letters.filter((_, i) => (results[i]?.meta.changes ?? 0) > 0);
}
