export interface RetryOptions {
  /** Sends of one batch before its events are given up as `undeliverable` (default 12). */
  maxAttempts?: number;
  /** The first retry's ceiling, doubled each attempt (default 250 ms). */
  baseDelayMs?: number;
  /** The ceiling no computed delay passes; a longer Retry-After is still honoured (default 30 s). */
  maxDelayMs?: number;
}

export const DEFAULT_RETRY: Required<RetryOptions> = {
  maxAttempts: 12,
  baseDelayMs: 250,
  maxDelayMs: 30_000,
};

/**
 * The wait before retry number `attempt` (1 = the first retry): "full jitter", a uniform draw in
 * [0, min(max, base·2^(attempt-1))], so senders that failed together do not come back together;
 * never less than what the server asked for in Retry-After.
 */
export function retryDelay(
  attempt: number,
  retryAfterMs: number | null,
  options: Required<RetryOptions> = DEFAULT_RETRY,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (attempt - 1));
  const jittered = Math.floor(random() * ceiling);
  return Math.max(jittered, retryAfterMs ?? 0);
}

/** Whether an answer with this status is worth sending again unchanged: overload or Aforo's side. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 408 || status >= 500;
}
