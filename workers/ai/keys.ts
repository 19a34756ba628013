import { toNanos } from "../../domain/money";
import { getAiSettings, getSealedAiKey } from "../../store/ai";
import { openSecret, sealSecret } from "../deliveries/secrets";

// Which Anthropic key a tenant's AI features use, in order: the tenant's own (sealed in
// ai_settings under AFORO_SECRETS_KEY, bound to the tenant like a channel secret), else the
// deployment's default (the ANTHROPIC_API_KEY secret, when the operator of this Aforo set one),
// else none — and with none, every feature runs its deterministic engine and says so.

/** The model a tenant uses until it picks one. */
export const DEFAULT_AI_MODEL = "claude-sonnet-4-5";
/** The daily cost cap until the tenant sets one: $5 a day. */
export const DEFAULT_DAILY_CAP_NANOS = toNanos("5");

/** The sealed value's binding: `secrets.ts` ties a value to (tenant, slot). */
const KEY_SLOT = "ai:anthropic";

export type KeySource = "tenant" | "deployment" | "none";

export interface AiConfig {
  model: string;
  daily_cap_nanos: bigint;
  key_last4: string | null;
  source: KeySource;
}

/** The tenant's settings with their defaults, and where its key would come from. */
export async function aiConfig(env: Env, tenantId: string): Promise<AiConfig> {
  const stored = await getAiSettings(env.DB, tenantId);
  const deployment = env.ANTHROPIC_API_KEY?.trim() ?? "";
  return {
    model: stored?.model ?? DEFAULT_AI_MODEL,
    daily_cap_nanos: stored?.daily_cap_nanos ?? DEFAULT_DAILY_CAP_NANOS,
    key_last4: stored?.key_set ? stored.key_last4 : null,
    source: stored?.key_set ? "tenant" : deployment ? "deployment" : "none",
  };
}

export type ResolvedKey =
  | { ok: true; apiKey: string; source: Exclude<KeySource, "none"> }
  | { ok: false; source: "none"; reason: string };

/** The key to call with. A tenant key that no longer opens (AFORO_SECRETS_KEY was rotated) is
 * "none" with the reason, never a silent fall-back to the deployment's key: the tenant chose
 * to be billed on its own key. */
export async function resolveAiKey(env: Env, tenantId: string): Promise<ResolvedKey> {
  const sealed = await getSealedAiKey(env.DB, tenantId);
  if (sealed) {
    const opened = await openSecret(env, tenantId, KEY_SLOT, sealed);
    if (opened.ok) return { ok: true, apiKey: opened.value, source: "tenant" };
    return {
      ok: false,
      source: "none",
      reason: `The workspace's Anthropic key does not open under AFORO_SECRETS_KEY (${opened.reason}); set it again under Settings → AI`,
    };
  }
  const deployment = env.ANTHROPIC_API_KEY?.trim();
  if (deployment) return { ok: true, apiKey: deployment, source: "deployment" };
  return {
    ok: false,
    source: "none",
    reason: "No Anthropic key is set for this workspace or this deployment",
  };
}

/** Seals a tenant's key for ai_settings. */
export const sealAiKey = (env: Env, tenantId: string, apiKey: string) =>
  sealSecret(env, tenantId, KEY_SLOT, apiKey);
