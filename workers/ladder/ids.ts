import { toHex } from "../auth";

// Ids derived from what they identify, so a replayed signal, action, coupon or escalation gets
// the id it had: the first 12 bytes of a SHA-256 over the parts, hex, after a prefix.

export async function hashId(prefix: string, ...parts: string[]): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(parts.join("\u0000")),
  );
  return `${prefix}_${toHex(new Uint8Array(digest).slice(0, 12))}`;
}

export const signalId = (tenantId: string, idempotencyKey: string) =>
  hashId("sig", tenantId, idempotencyKey);
export const actionId = (tenantId: string, idempotencyKey: string) =>
  hashId("act", tenantId, idempotencyKey);
