import { checkOutboundUrl } from "../../domain/outbound-url";
import type { Channel } from "../../store/channels";
import { BILL_TO_PREFIX } from "../../store/retries";

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

/** The e-mail channel of a customer's billing address (Adaptive Retry's dunning e-mails, whose
 * deliveries' channel id is `bill-to:<address>`), else the escalation's, else null. */
export function addressChannel(
  tenantId: string,
  channelId: string,
): (Channel & { type: "email" }) | null {
  if (!channelId.startsWith(BILL_TO_PREFIX)) return escalationChannel(tenantId, channelId);
  return {
    ...(escalationChannel(tenantId, `${ESCALATION_PREFIX}x`) as Channel & { type: "email" }),
    id: channelId,
    name: "customer billing address",
    config: { to: channelId.slice(BILL_TO_PREFIX.length) },
  };
}

/**
 * URL policy for outgoing alerts (Slack and webhooks alike): the outbound guard
 * (domain/outbound-url.ts): https to a public host; loopback, over http too, only in local mode
 * (AFORO_LOCAL_NETWORK=loopback), so local receivers work under `wrangler dev` and in tests
 * while nothing leaves a deployed worker unencrypted (alerts carry customer names and revenue
 * figures) or reaches a private or metadata address. Credentials in the URL are refused (they
 * would be shown back in listings). Null when the URL may be used, else why not.
 */
export function checkAlertUrl(raw: string, env: Pick<Env, "AFORO_LOCAL_NETWORK">): string | null {
  const checked = checkOutboundUrl(raw, { localNetwork: env.AFORO_LOCAL_NETWORK });
  return checked.ok ? null : checked.reason;
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
