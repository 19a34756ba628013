import { base64url, fromBase64 } from "../auth";
import { ApiError } from "../problem";

// Channel secrets at rest (a Slack incoming-webhook URL, a webhook signing secret): AES-256-GCM
// under AFORO_SECRETS_KEY (32 random bytes, base64; a Worker secret, never in wrangler.toml),
// with the tenant and channel as additional data, so a sealed value copied to another row does
// not open. Stored as `v1:<base64url(iv ‖ ciphertext)>`. A D1 dump, backup or export then holds
// nothing that sends as the tenant. Values written before sealing existed (no prefix) still open
// as they are, and are sealed the next time the channel's secret is written.

const PREFIX = "v1:";
const IV_BYTES = 12;

let cached: { raw: string; key: Promise<CryptoKey> } | null = null;

function secretsKey(env: Env): Promise<CryptoKey> {
  const raw = env.AFORO_SECRETS_KEY?.trim() ?? "";
  if (!raw) {
    throw new ApiError(
      "unavailable",
      "AFORO_SECRETS_KEY is not set: channel secrets are stored encrypted (`wrangler secret put AFORO_SECRETS_KEY` with 32 random bytes in base64)",
    );
  }
  if (cached?.raw === raw) return cached.key;
  let bytes: Uint8Array;
  try {
    bytes = fromBase64(raw);
  } catch {
    bytes = new Uint8Array(0);
  }
  if (bytes.length !== 32) {
    throw new ApiError("unavailable", "AFORO_SECRETS_KEY must be 32 bytes in base64");
  }
  const key = crypto.subtle.importKey("raw", bytes, "AES-GCM", false, ["encrypt", "decrypt"]);
  cached = { raw, key };
  return key;
}

const boundTo = (tenantId: string, channelId: string) =>
  new TextEncoder().encode(`${tenantId}\u0000${channelId}`);

/** Encrypts a channel secret for storage in its row. */
export async function sealSecret(
  env: Env,
  tenantId: string,
  channelId: string,
  plain: string,
): Promise<string> {
  const key = await secretsKey(env);
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: boundTo(tenantId, channelId) },
    key,
    new TextEncoder().encode(plain),
  );
  const out = new Uint8Array(IV_BYTES + sealed.byteLength);
  out.set(iv);
  out.set(new Uint8Array(sealed), IV_BYTES);
  return `${PREFIX}${base64url(out)}`;
}

/** The plain secret of a stored value (null stays null); throws when it cannot be opened. */
export async function openSecret(
  env: Env,
  tenantId: string,
  channelId: string,
  stored: string | null,
): Promise<string | null> {
  if (stored === null || !stored.startsWith(PREFIX)) return stored;
  const key = await secretsKey(env);
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
    return new TextDecoder().decode(plain);
  } catch {
    throw new ApiError(
      "unavailable",
      "The channel's secret does not open with AFORO_SECRETS_KEY (was the key changed?)",
    );
  }
}
