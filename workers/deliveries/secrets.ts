import { base64url, fromBase64 } from "../auth";

// Channel secrets at rest (a Slack incoming-webhook URL, a webhook signing secret): AES-256-GCM
// under AFORO_SECRETS_KEY (32 random bytes, base64; a Worker secret, never in wrangler.toml),
// with the tenant and channel as additional data, so a sealed value copied to another row does
// not open. Stored as `v1:<base64url(iv ‖ ciphertext)>`. A D1 dump, backup or export then holds
// nothing that sends as the tenant. Values written before sealing existed (no prefix) still open
// as they are, and are sealed the next time the channel's secret is written.

const PREFIX = "v1:";
const IV_BYTES = 12;

/** Sealing and opening either work or say why not: the key is missing or malformed
 * (`no_key`: a configuration problem, answered 503 by the routes), or a stored value does not
 * open under the key (`does_not_open`: the key was changed, or the value was copied). */
export type SecretResult =
  | { ok: true; value: string }
  | { ok: false; reason: "no_key" | "does_not_open"; detail: string };

let cached: { raw: string; key: Promise<CryptoKey> } | null = null;

function secretsKey(env: Env): { ok: true; key: Promise<CryptoKey> } | SecretFailure {
  const raw = env.AFORO_SECRETS_KEY?.trim() ?? "";
  if (!raw) {
    return {
      ok: false,
      reason: "no_key",
      detail:
        "AFORO_SECRETS_KEY is not set: channel secrets are stored encrypted (`wrangler secret put AFORO_SECRETS_KEY` with 32 random bytes in base64)",
    };
  }
  if (cached?.raw === raw) return { ok: true, key: cached.key };
  let bytes: Uint8Array;
  try {
    bytes = fromBase64(raw);
  } catch {
    bytes = new Uint8Array(0);
  }
  if (bytes.length !== 32) {
    return { ok: false, reason: "no_key", detail: "AFORO_SECRETS_KEY must be 32 bytes in base64" };
  }
  const key = crypto.subtle.importKey("raw", bytes, "AES-GCM", false, ["encrypt", "decrypt"]);
  cached = { raw, key };
  return { ok: true, key };
}

type SecretFailure = Extract<SecretResult, { ok: false }>;

const boundTo = (tenantId: string, channelId: string) =>
  new TextEncoder().encode(`${tenantId}\u0000${channelId}`);

/** Encrypts a channel secret for storage in its row. */
export async function sealSecret(
  env: Env,
  tenantId: string,
  channelId: string,
  plain: string,
): Promise<SecretResult> {
  const found = secretsKey(env);
  if (!found.ok) return found;
  const key = await found.key;
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: boundTo(tenantId, channelId) },
    key,
    new TextEncoder().encode(plain),
  );
  const out = new Uint8Array(IV_BYTES + sealed.byteLength);
  out.set(iv);
  out.set(new Uint8Array(sealed), IV_BYTES);
  return { ok: true, value: `${PREFIX}${base64url(out)}` };
}

/** The plain secret of a stored value (a value stored before sealing opens as it is). */
export async function openSecret(
  env: Env,
  tenantId: string,
  channelId: string,
  stored: string,
): Promise<SecretResult> {
  if (!stored.startsWith(PREFIX)) return { ok: true, value: stored };
  const found = secretsKey(env);
  if (!found.ok) return found;
  const key = await found.key;
  try {
    const bytes = fromBase64(stored.slice(PREFIX.length));
    const plain = await crypto.subtle.decrypt(
      {
        name: "AES-GCM",
        iv: bytes.slice(0, IV_BYTES),
        additionalData: boundTo(tenantId, channelId),
      },
      key,
      bytes.slice(IV_BYTES),
    );
    return { ok: true, value: new TextDecoder().decode(plain) };
  } catch {
    return {
      ok: false,
      reason: "does_not_open",
      detail: "The channel's secret does not open with AFORO_SECRETS_KEY (was the key changed?)",
    };
  }
}
