// The gate's rate limiter (SPEC §7): a token bucket per customer, held in the customer actor's
// memory. A token bucket rather than a sliding window because it needs two numbers per customer,
// answers in O(1), lets a quiet customer burst up to `burst`, and changes rate the moment a
// THROTTLE lands (the bucket is simply refilled at the new rate from then on).

export interface TokenBucket {
  tokens: number;
  /** When `tokens` was last brought up to date, epoch ms. */
  at: number;
}

export interface GateAnswer {
  allow: boolean;
  /** Units left in the bucket after this request (floored). */
  remaining: number;
  /** When a refused request could next succeed; 0 when allowed. */
  retry_after_ms: number;
}

export function fullBucket(burst: number, now: number): TokenBucket {
  return { tokens: burst, at: now };
}

/** Refills at `rate` per second up to `burst`, then takes `units` if they are there. Mutates
 * the bucket (it lives in one actor's memory and nowhere else). */
export function takeTokens(
  bucket: TokenBucket,
  now: number,
  rate: number,
  burst: number,
  units: number,
): GateAnswer {
  const elapsed = Math.max(0, now - bucket.at);
  bucket.tokens = Math.min(burst, bucket.tokens + (elapsed * rate) / 1000);
  bucket.at = now;
  if (units <= bucket.tokens) {
    bucket.tokens -= units;
    return { allow: true, remaining: Math.floor(bucket.tokens), retry_after_ms: 0 };
  }
  const missing = units - bucket.tokens;
  const retry = units > burst ? -1 : Math.ceil((missing / rate) * 1000);
  return { allow: false, remaining: Math.floor(bucket.tokens), retry_after_ms: retry };
}
