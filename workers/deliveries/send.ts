import { EmailMessage } from "cloudflare:email";
import { checkOutboundUrl } from "../../domain/outbound-url";
import type { Channel } from "../../store/channels";
import { type Digest, digestEmailContent, digestSlackMessage, digestWebhookBody } from "./digest";
import { alertEmailContent, buildMime, domainOf } from "./email";
import { type AlertSignal, signalLink } from "./signal";
import { slackMessage } from "./slack";
import { signalWebhookBody, webhookHeaders } from "./webhook";

// One attempt to send one message to one channel. Never throws: every failure becomes an
// outcome the consumer can record (with the channel's secret and URL scrubbed from the error,
// since last_error is shown to operators and may be logged).

export type Outgoing =
  | { kind: "signal"; signal: AlertSignal; deliveryId: string; escalation?: boolean }
  | {
      /** Adaptive Retry (workers/billing/retries.ts): a retry due, or a new method asked for. */
      kind: "payment";
      deliveryId: string;
      webhook: { type: string; timestamp: string; data: Record<string, unknown> };
      email: { subject: string; text: string; html: string; fromName: string };
      headers: Record<string, string>;
    }
  | ({ kind: "digest" } & Digest)
  | { kind: "test"; id: string };

export interface SendOutcome {
  ok: boolean;
  /** The receiver's HTTP status (null for email and network errors). */
  status: number | null;
  error: string | null;
  /** True when retrying cannot help (see `isPermanent`). */
  permanent: boolean;
  duration_ms: number;
}

const TIMEOUT_MS = 10_000;
const ERROR_CHARS = 300;
const DEFAULT_FROM = "aforo@localhost";

/**
 * Which HTTP failures are not worth retrying for 48 hours:
 * - Slack documents its incoming-webhook errors (400 invalid_payload, 403 invalid_token /
 *   action_prohibited, 404 no_service / channel_not_found, 410 channel_is_archived) as
 *   configuration problems: every 4xx but 408 and 429 is permanent.
 * - A generic webhook is the tenant's own endpoint, which may answer 4xx for a while during a
 *   deploy or a secret rotation: like Stripe and Svix we retry every non-2xx except 410 Gone.
 */
export function isPermanent(type: Channel["type"], status: number): boolean {
  if (status === 410) return true;
  if (type === "slack") return status >= 400 && status < 500 && status !== 408 && status !== 429;
  return false;
}

function scrub(message: string, channel: Channel): string {
  let out = message;
  for (const secret of [channel.secret, channel.config.url]) {
    if (secret) out = out.replaceAll(secret, "[redacted]");
  }
  return out.slice(0, ERROR_CHARS);
}

const linkBase = (env: Env, channel: Channel) =>
  (env.AFORO_PUBLIC_URL as string | undefined) || channel.link_base;

const misconfigured = (error: string, started: number): SendOutcome => ({
  ok: false,
  status: null,
  error,
  permanent: true,
  duration_ms: Date.now() - started,
});

async function post(
  env: Env,
  channel: Channel,
  url: string,
  body: string,
  headers: Record<string, string>,
  started: number,
): Promise<SendOutcome> {
  // Checked again at every send: a row saved before the guard (or under another local-mode
  // setting) must not reach a private or metadata address. Refused is permanent, not retried;
  // the reason names the host only (a Slack URL is itself a credential).
  const checked = checkOutboundUrl(url, { localNetwork: env.AFORO_LOCAL_NETWORK });
  if (!checked.ok) return misconfigured(scrub(`refused: ${checked.reason}`, channel), started);
  try {
    const res = await fetch(checked.url, {
      method: "POST",
      headers,
      body,
      // A redirect is a configuration change the operator should make, not one to follow blind.
      redirect: "manual",
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    const duration_ms = Date.now() - started;
    if (res.status >= 200 && res.status < 300) {
      await res.body?.cancel();
      return { ok: true, status: res.status, error: null, permanent: false, duration_ms };
    }
    const text = (await res.text().catch(() => "")).slice(0, ERROR_CHARS).trim();
    return {
      ok: false,
      status: res.status,
      error: scrub(`HTTP ${res.status}${text ? `: ${text}` : ""}`, channel),
      permanent: isPermanent(channel.type, res.status),
      duration_ms,
    };
  } catch (err) {
    const reason =
      err instanceof Error && err.name === "TimeoutError"
        ? `no answer within ${TIMEOUT_MS / 1000} s`
        : err instanceof Error
          ? err.message
          : String(err);
    return {
      ok: false,
      status: null,
      error: scrub(`network error: ${reason}`, channel),
      permanent: false,
      duration_ms: Date.now() - started,
    };
  }
}

/** A ready-made body (a webhook export's batch, workers/exports/deliver.ts) to a webhook,
 * signed and guarded like every other webhook message; `id` is its webhook-id. */
export async function sendSignedBody(
  env: Env,
  channel: Channel,
  id: string,
  body: string,
  contentType: string,
  now: number = Date.now(),
): Promise<SendOutcome> {
  const started = Date.now();
  if (!channel.config.url || !channel.secret) {
    return misconfigured("the webhook has no URL or signing secret", started);
  }
  let headers: Record<string, string>;
  try {
    headers = {
      ...(await webhookHeaders(channel.secret, id, body, now)),
      "content-type": contentType,
    };
  } catch {
    return misconfigured("the webhook's signing secret is not valid", started);
  }
  return post(env, channel, channel.config.url, body, headers, started);
}

const TEST_TEXT = "Test message from Aforo: this channel receives alerts when signals fire.";

export async function sendToChannel(
  env: Env,
  channel: Channel,
  message: Outgoing,
  now: number = Date.now(),
): Promise<SendOutcome> {
  const started = Date.now();
  const config = channel.config;
  const base = linkBase(env, channel);
  const link = message.kind === "signal" ? signalLink(base, message.signal.id) : null;
  const messageId = message.kind === "test" ? message.id : message.deliveryId;
  switch (channel.type) {
    case "slack": {
      if (!channel.secret) return misconfigured("the channel has no Slack webhook URL", started);
      const body =
        message.kind === "signal"
          ? slackMessage(message.signal, link)
          : message.kind === "digest"
            ? digestSlackMessage(message, base)
            : message.kind === "payment"
              ? { text: message.email.subject }
              : {
                  text: TEST_TEXT,
                  blocks: [
                    { type: "section", text: { type: "mrkdwn", text: `:wave: ${TEST_TEXT}` } },
                  ],
                };
      return post(
        env,
        channel,
        channel.secret,
        JSON.stringify(body),
        { "content-type": "application/json", "user-agent": "Aforo-Alerts/1.0" },
        started,
      );
    }
    case "webhook": {
      if (!config.url || !channel.secret) {
        return misconfigured("the channel has no URL or signing secret", started);
      }
      const body = JSON.stringify(
        message.kind === "signal"
          ? signalWebhookBody(message.signal, link, messageId, now)
          : message.kind === "digest"
            ? digestWebhookBody(message, base, now)
            : message.kind === "payment"
              ? message.webhook
              : {
                  type: "aforo.test",
                  timestamp: new Date(now).toISOString(),
                  data: { channel_id: channel.id, message: TEST_TEXT },
                },
      );
      let headers: Record<string, string>;
      try {
        headers = await webhookHeaders(channel.secret, messageId, body, now);
      } catch {
        return misconfigured("the channel's signing secret is not valid", started);
      }
      return post(env, channel, config.url, body, headers, started);
    }
    case "email": {
      if (!config.to) return misconfigured("the channel has no recipient", started);
      const from = config.from || env.AFORO_EMAIL_FROM || DEFAULT_FROM;
      const content =
        message.kind === "signal"
          ? alertEmailContent(
              message.signal,
              link,
              message.escalation ? "account_owner" : "channel",
            )
          : message.kind === "digest"
            ? digestEmailContent(message, base)
            : message.kind === "payment"
              ? message.email
              : { subject: "[Aforo] Test message", text: TEST_TEXT, html: `<p>${TEST_TEXT}</p>` };
      const raw = buildMime({
        from,
        fromName: message.kind === "payment" ? message.email.fromName : "Aforo alerts",
        subject: content.subject,
        text: content.text,
        html: content.html,
        to: config.to,
        messageId: `${messageId}@${domainOf(from)}`,
        date: now,
        headers:
          message.kind === "signal"
            ? { "X-Aforo-Signal": message.signal.id, "X-Aforo-Delivery": messageId }
            : message.kind === "digest"
              ? { "X-Aforo-Digest": String(message.total), "X-Aforo-Delivery": messageId }
              : message.kind === "payment"
                ? { ...message.headers, "X-Aforo-Delivery": messageId }
                : {},
      });
      try {
        await env.EMAIL.send(new EmailMessage(from, config.to, raw));
        return {
          ok: true,
          status: null,
          error: null,
          permanent: false,
          duration_ms: Date.now() - started,
        };
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        return {
          ok: false,
          status: null,
          error: scrub(`send_email failed: ${reason}`, channel),
          permanent: false,
          duration_ms: Date.now() - started,
        };
      }
    }
  }
}
