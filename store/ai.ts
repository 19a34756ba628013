import type { TokenUsage } from "../domain/ai/cost";
import { joinHalves, sumHalves } from "./exact-sum";

// The AI platform in D1 (schema/0030_ai.sql): each tenant's settings and its usage log. Every
// statement is bound to the tenant. The sealed key is read only by key resolution
// (workers/ai/keys.ts); every other read selects `api_key IS NOT NULL` instead.

export interface AiSettingsRecord {
  model: string;
  daily_cap_nanos: bigint;
  key_set: boolean;
  key_last4: string | null;
  updated_at: number;
}

interface SettingsRow {
  model: string;
  daily_cap_nanos: string;
  key_set: number;
  key_last4: string | null;
  updated_at: number;
}

export async function getAiSettings(
  db: D1Database,
  tenantId: string,
): Promise<AiSettingsRecord | null> {
  const row = await db
    .prepare(
      `SELECT model, CAST(daily_cap_nanos AS TEXT) AS daily_cap_nanos, api_key IS NOT NULL AS key_set,
         key_last4, updated_at FROM ai_settings WHERE tenant_id = ?`,
    )
    .bind(tenantId)
    .first<SettingsRow>();
  if (!row) return null;
  return {
    model: row.model,
    daily_cap_nanos: BigInt(row.daily_cap_nanos),
    key_set: row.key_set === 1,
    key_last4: row.key_last4,
    updated_at: row.updated_at,
  };
}

/** The tenant's sealed key as stored, for key resolution only. */
export async function getSealedAiKey(db: D1Database, tenantId: string): Promise<string | null> {
  const row = await db
    .prepare("SELECT api_key FROM ai_settings WHERE tenant_id = ?")
    .bind(tenantId)
    .first<{ api_key: string | null }>();
  return row?.api_key ?? null;
}

/** Writes the settings; `key` undefined keeps the stored key, null removes it. */
export async function putAiSettings(
  db: D1Database,
  tenantId: string,
  settings: {
    model: string;
    daily_cap_nanos: bigint;
    key?: { sealed: string; last4: string } | null;
  },
  now: number,
): Promise<void> {
  const keep = settings.key === undefined;
  await db
    .prepare(
      `INSERT INTO ai_settings (tenant_id, api_key, key_last4, model, daily_cap_nanos, updated_at)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6)
       ON CONFLICT (tenant_id) DO UPDATE SET
         api_key = CASE WHEN ?7 THEN ai_settings.api_key ELSE excluded.api_key END,
         key_last4 = CASE WHEN ?7 THEN ai_settings.key_last4 ELSE excluded.key_last4 END,
         model = excluded.model, daily_cap_nanos = excluded.daily_cap_nanos,
         updated_at = excluded.updated_at`,
    )
    .bind(
      tenantId,
      settings.key?.sealed ?? null,
      settings.key?.last4 ?? null,
      settings.model,
      settings.daily_cap_nanos.toString(),
      now,
      keep ? 1 : 0,
    )
    .run();
}

export type AiOutcome = "ok" | "refused" | "error" | "capped";

export interface AiUsageEntry extends TokenUsage {
  id: string;
  at: number;
  feature: string;
  model: string;
  cost_nanos: bigint;
  latency_ms: number;
  attempts: number;
  outcome: AiOutcome;
  refusal_reason: string | null;
  request_id: string | null;
}

export async function insertAiUsage(
  db: D1Database,
  tenantId: string,
  e: AiUsageEntry,
): Promise<void> {
  await db
    .prepare(
      `INSERT INTO ai_usage_log (tenant_id, id, at, feature, model, input_tokens, output_tokens,
         cache_read_tokens, cache_write_tokens, cost_nanos, latency_ms, attempts, outcome,
         refusal_reason, request_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .bind(
      tenantId,
      e.id,
      e.at,
      e.feature,
      e.model,
      e.input_tokens,
      e.output_tokens,
      e.cache_read_tokens,
      e.cache_write_tokens,
      e.cost_nanos.toString(),
      e.latency_ms,
      e.attempts,
      e.outcome,
      e.refusal_reason,
      e.request_id,
    )
    .run();
}

/** The tenant's AI spend in [from, to), exact. */
export async function aiSpend(
  db: D1Database,
  tenantId: string,
  from: number,
  to: number,
): Promise<bigint> {
  const row = await db
    .prepare(
      `SELECT ${sumHalves("cost_nanos", "spent")} FROM ai_usage_log
       WHERE tenant_id = ? AND at >= ? AND at < ?`,
    )
    .bind(tenantId, from, to)
    .first<{ spent_hi: string | null; spent_lo: string | null }>();
  return joinHalves(row?.spent_hi, row?.spent_lo);
}

interface UsageRow extends Omit<AiUsageEntry, "cost_nanos"> {
  cost_nanos: string;
}

/** Log rows in [from, to), newest first, optionally of one feature. */
export async function listAiUsage(
  db: D1Database,
  tenantId: string,
  q: { from: number; to: number; feature?: string; limit: number },
): Promise<AiUsageEntry[]> {
  const { results } = await db
    .prepare(
      `SELECT id, at, feature, model, input_tokens, output_tokens, cache_read_tokens,
         cache_write_tokens, CAST(cost_nanos AS TEXT) AS cost_nanos, latency_ms, attempts, outcome,
         refusal_reason, request_id
       FROM ai_usage_log
       WHERE tenant_id = ?1 AND at >= ?2 AND at < ?3 AND (?4 IS NULL OR feature = ?4)
       ORDER BY at DESC, id DESC LIMIT ?5`,
    )
    .bind(tenantId, q.from, q.to, q.feature ?? null, q.limit)
    .all<UsageRow>();
  return results.map((r) => ({ ...r, cost_nanos: BigInt(r.cost_nanos) }));
}
