// Fault injection for `npm run chaos` (scripts/chaos.mjs). Every hook is off unless its variable
// is set (`wrangler dev --var …`); nothing sets them in wrangler.toml, .dev.vars or deployed, and
// unset they change nothing. The code is the deployed code: a fault is injected on the real path,
// not on a copy of it.
//
// - AFORO_CHAOS_CONSUMER_CRASH_ATTEMPTS=n: the events consumer throws after its rollup
//   transaction has committed, before the rest of its work and the ack, on every delivery of a
//   queue batch that has a message at attempt n or below — a crash after the D1 write, so the
//   queue delivers the batch again (n + 1 times in all: a redelivery storm for larger n). Keep n
//   below the queue's max_retries (10) or the batch goes to the dead-letter queue.
// - AFORO_CHAOS_TIME_SCALE=k: alert deliveries' retry schedule runs k times faster (backoff and
//   the 48 h give-up divided by k, at least 1 s between attempts), so hours of a receiver being
//   down pass in minutes.

interface ChaosEnv {
  AFORO_CHAOS_CONSUMER_CRASH_ATTEMPTS?: string;
  AFORO_CHAOS_TIME_SCALE?: string;
}

/** What the chaos consumer crash throws (the queue sees an exception, as for any crash). */
export class ChaosCrash extends Error {
  override name = "ChaosCrash";
}

const setting = (env: Env, name: keyof ChaosEnv): number => {
  const n = Number((env as Env & ChaosEnv)[name] ?? 0);
  return Number.isFinite(n) && n > 0 ? n : 0;
};

/** Throws when AFORO_CHAOS_CONSUMER_CRASH_ATTEMPTS says this delivery of the batch crashes. */
export function crashAfterRollupWrite(env: Env, batch: MessageBatch): void {
  const attempts = setting(env, "AFORO_CHAOS_CONSUMER_CRASH_ATTEMPTS");
  if (attempts === 0 || !batch.messages.some((m) => m.attempts <= attempts)) return;
  console.error(
    `chaos: consumer crash after the rollup write (${batch.messages.length} messages, attempt ${Math.min(...batch.messages.map((m) => m.attempts))})`,
  );
  throw new ChaosCrash("injected consumer crash after the rollup write");
}

/** How many times faster the delivery retry schedule runs (1 unless AFORO_CHAOS_TIME_SCALE). */
export function deliveryTimeScale(env: Env): number {
  return setting(env, "AFORO_CHAOS_TIME_SCALE") || 1;
}
