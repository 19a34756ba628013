import { base64url, fromBase64 } from "./auth";

// The token of a report share link (issue 15 item 6, docs/reports.md "Share links"):
// `base64url(JSON [tenant, report, share, expires_at_ms]) "." base64url(HMAC-SHA-256)`. The HMAC
// key is derived from the deployment's AFORO_SECRETS_KEY with HKDF-SHA-256 under its own label,
// so no new secret is needed and the AES key that seals channel secrets is never used for
// anything else. Verifying checks the signature with crypto.subtle.verify (constant time);
// the caller then checks the stored row (same report, same expiry, not revoked, not expired).

const LABEL = new TextEncoder().encode("aforo report share links v1");

export interface ShareClaims {
  tenant: string;
  report: string;
  share: string;
  expiresAt: number;
}

let cached: { raw: string; key: Promise<CryptoKey> } | null = null;

/** The HMAC key, or null when AFORO_SECRETS_KEY is missing or not 32 bytes of base64. */
function shareKey(env: Env): Promise<CryptoKey> | null {
  const raw = env.AFORO_SECRETS_KEY?.trim() ?? "";
  if (!raw) return null;
  if (cached?.raw === raw) return cached.key;
  let bytes: Uint8Array;
  try {
    bytes = fromBase64(raw);
  } catch {
    return null;
  }
  if (bytes.length !== 32) return null;
  const key = (async () => {
    const ikm = await crypto.subtle.importKey("raw", bytes, "HKDF", false, ["deriveKey"]);
    return crypto.subtle.deriveKey(
      { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: LABEL },
      ikm,
      { name: "HMAC", hash: "SHA-256", length: 256 },
      false,
      ["sign", "verify"],
    );
  })();
  cached = { raw, key };
  return key;
}

export const shareKeyMissing =
  "AFORO_SECRETS_KEY is not set (or not 32 bytes of base64): share links are signed with a key derived from it";

/** The signed token of a share; null when there is no key. */
export async function signShare(env: Env, c: ShareClaims): Promise<string | null> {
  const key = shareKey(env);
  if (!key) return null;
  const payload = base64url(
    new TextEncoder().encode(JSON.stringify([c.tenant, c.report, c.share, c.expiresAt])),
  );
  const sig = await crypto.subtle.sign("HMAC", await key, new TextEncoder().encode(payload));
  return `${payload}.${base64url(new Uint8Array(sig))}`;
}

/** The claims of a token whose signature holds; null for anything else. */
export async function verifyShare(env: Env, token: string): Promise<ShareClaims | null> {
  const key = shareKey(env);
  if (!key) return null;
  const parts = token.split(".");
  if (parts.length !== 2 || !parts[0] || !parts[1]) return null;
  const [payload, sigText] = parts as [string, string];
  let sig: Uint8Array;
  let claims: unknown;
  try {
    sig = fromBase64(sigText);
    claims = JSON.parse(
      new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(fromBase64(payload)),
    );
  } catch {
    return null;
  }
  if (sig.length !== 32) return null;
  const ok = await crypto.subtle.verify("HMAC", await key, sig, new TextEncoder().encode(payload));
  if (!ok || !Array.isArray(claims) || claims.length !== 4) return null;
  const [tenant, report, share, expiresAt] = claims as unknown[];
  if (
    typeof tenant !== "string" ||
    typeof report !== "string" ||
    typeof share !== "string" ||
    typeof expiresAt !== "number" ||
    !Number.isSafeInteger(expiresAt)
  ) {
    return null;
  }
  return { tenant, report, share, expiresAt };
}
