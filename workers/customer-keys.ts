import { BoundedCache } from "../domain/bounded-cache";
import {
  CUSTOMER_KEY_PATTERN,
  CUSTOMER_KEY_PREFIX,
  type QuotaPeriod,
  quotaWindow,
  shownPrefix,
} from "../domain/customer-api-keys";
import { customerKeyByHash, keyUsageBetween } from "../store/customer-api-keys";
import { base64url, randomHex, sha256Hex } from "./auth";
import { ApiError } from "./problem";

// Customer API keys at the edge (issue 19 §4): issuing one, and resolving a presented key to
// its customer for the gate, the proxy and ingest. Both hot paths go through a per-isolate
// cache, as the tenant's own keys do (workers/auth.ts): revoking evicts the key in the isolate
// that revoked it at once, and other isolates hold a revoked key for at most KEY_CACHE_MS.

export interface IssuedCustomerKey {
  id: string;
  key: string;
  keyHash: string;
  prefix: string;
}

export async function issueCustomerKey(): Promise<IssuedCustomerKey> {
  const key = `${CUSTOMER_KEY_PREFIX}${base64url(crypto.getRandomValues(new Uint8Array(32)))}`;
  return { id: `ck_${randomHex(8)}`, key, keyHash: await sha256Hex(key), prefix: shownPrefix(key) };
}

export interface KeyQuota {
  metric: string;
  /** Micro-units. */
  limit: bigint;
  period: QuotaPeriod;
}

/** A live (not revoked) key of one of the tenant's customers. */
export interface ResolvedCustomerKey {
  id: string;
  customerId: string;
  quota: KeyQuota | null;
}

type Cached = {
  record: { tenantId: string; key: ResolvedCustomerKey; revoked: boolean } | null;
  expires: number;
};

export const KEY_CACHE_MS = 30_000;
const keyCache = new BoundedCache<string, Cached>(10_000);

/** Drops a key from this isolate's cache (after revoking it). */
export function forgetCustomerKey(keyHash: string) {
  keyCache.delete(keyHash);
}

/**
 * The customer a presented key belongs to, within the ingest key's tenant. A key of another
 * tenant is refused exactly like one that does not exist: whether it exists elsewhere is not
 * this caller's business. Throws problem+json `unknown_api_key` / `revoked_api_key` (401).
 */
export async function resolveCustomerKey(
  db: D1Database,
  tenantId: string,
  presented: string,
): Promise<ResolvedCustomerKey> {
  if (!CUSTOMER_KEY_PATTERN.test(presented)) {
    throw new ApiError(
      "unknown_api_key",
      "That is not a customer API key (sk_live_ and 43 characters)",
    );
  }
  const hash = await sha256Hex(presented);
  const now = Date.now();
  let cached = keyCache.get(hash);
  if (!cached || cached.expires <= now) {
    const row = await customerKeyByHash(db, hash);
    cached = {
      record: row
        ? {
            tenantId: row.tenant_id,
            revoked: row.revoked_at !== null,
            key: {
              id: row.id,
              customerId: row.customer_id,
              quota:
                row.quota_metric !== null && row.quota_limit !== null && row.quota_period !== null
                  ? {
                      metric: row.quota_metric,
                      limit: BigInt(row.quota_limit),
                      period: row.quota_period,
                    }
                  : null,
            },
          }
        : null,
      expires: now + KEY_CACHE_MS,
    };
    keyCache.set(hash, cached);
  }
  const record = cached.record;
  if (!record || record.tenantId !== tenantId) {
    throw new ApiError("unknown_api_key", "No customer of this tenant holds that API key");
  }
  if (record.revoked) {
    throw new ApiError("revoked_api_key", `Customer API key ${record.key.id} has been revoked`);
  }
  return record.key;
}

/** A key's quota as it stands: used so far in the current window, and when the window ends. */
export interface QuotaStanding {
  quota: KeyQuota;
  /** Micro-units. */
  used: bigint;
  windowEnd: number;
}

// The gate reads a key's usage from D1 at most once per USAGE_CACHE_MS per isolate: the usage
// reaches D1 through the actor's outbox and the events queue (seconds), so the quota is held
// to within that lag plus this.
export const USAGE_CACHE_MS = 10_000;
const usageCache = new BoundedCache<string, { used: bigint; windowEnd: number; expires: number }>(
  10_000,
);

export async function quotaStanding(
  db: D1Database,
  tenantId: string,
  key: ResolvedCustomerKey,
  now = Date.now(),
): Promise<QuotaStanding | null> {
  const quota = key.quota;
  if (!quota) return null;
  const window = quotaWindow(quota.period, now);
  const cacheKey = `${tenantId}\u0000${key.id}`;
  const cached = usageCache.get(cacheKey);
  if (cached && cached.expires > now && cached.windowEnd === window.to) {
    return { quota, used: cached.used, windowEnd: window.to };
  }
  const rows = await keyUsageBetween(db, tenantId, [key.id], window.from, window.to);
  const used = rows.filter((r) => r.metric === quota.metric).reduce((a, r) => a + r.units, 0n);
  usageCache.set(cacheKey, { used, windowEnd: window.to, expires: now + USAGE_CACHE_MS });
  return { quota, used, windowEnd: window.to };
}
