import type { Channel } from "../../store/channels";

// What a notification channel may be (store/channels.ts holds them in D1): the URL policy for
// alerts, the redacted Slack hint, Standard Webhooks secrets, and the escalation pseudo-channel.

/** Escalations (the ladder's `escalate`) are deliveries to one address, not to a configured
 * channel: their channel id is this prefix and the address. */
const ESCALATION_PREFIX = "escalate:";
export const escalationChannelId = (address: string) => `${ESCALATION_PREFIX}${address}`;

/** The e-mail channel an escalation delivery is sent through, or null for a channel id. */
export function escalationChannel(
  tenantId: string,
  channelId: string,
): (Channel & { type: "email" }) | null {
  if (!channelId.startsWith(ESCALATION_PREFIX)) return null;
  return {
    tenant_id: tenantId,
    id: channelId,
    type: "email",
    name: "account owner",
    config: { to: channelId.slice(ESCALATION_PREFIX.length) },
    secret: null,
    link_base: null,
    enabled: true,
    created_at: 0,
    updated_at: 0,
  };
}

export const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

/**
 * URL policy for outgoing alerts (Slack and webhooks alike): https anywhere; plain http only to
 * a loopback host, so local receivers work under `wrangler dev` and in tests while nothing
 * leaves the machine unencrypted (alerts carry customer names and revenue figures). Credentials
 * in the URL are refused (they would be shown back in listings).
 */
export function checkAlertUrl(raw: string): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return "not a valid URL";
  }
  if (url.username || url.password) return "credentials in the URL are not allowed";
  if (url.protocol === "https:") return null;
  if (url.protocol === "http:") {
    return LOOPBACK_HOSTS.has(url.hostname) || url.hostname.startsWith("127.")
      ? null
      : "use https (plain http is allowed only to a loopback address such as 127.0.0.1)";
  }
  return "use an https URL";
}

/** `https://hooks.slack.com/services/T0/B0/XXXX` → `https://hooks.slack.com/…/…XXXX` (shown in
 * listings so operators can tell channels apart without the credential). */
export function slackUrlHint(raw: string): string {
  const url = new URL(raw);
  const path = url.pathname + url.search;
  const tail = path.length > 12 ? path.slice(-4) : "";
  return `${url.origin}/…${tail ? `/…${tail}` : ""}`;
}

const base64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));

/** A new Standard Webhooks signing secret: `whsec_` + base64 of 32 random bytes. */
export function newWebhookSecret(): string {
  return `whsec_${base64(crypto.getRandomValues(new Uint8Array(32)))}`;
}

/** Decodes a `whsec_…` secret to its key bytes, or null when it is not one (the Standard
 * Webhooks convention: base64 after the prefix, 24 to 64 bytes). */
export function webhookSecretKey(secret: string): Uint8Array | null {
  const m = /^whsec_([A-Za-z0-9+/]+={0,2})$/.exec(secret);
  if (!m?.[1]) return null;
  try {
    const bin = atob(m[1]);
    if (bin.length < 24 || bin.length > 64) return null;
    return Uint8Array.from(bin, (ch) => ch.charCodeAt(0));
  } catch {
    return null;
  }
}
