import { EmailMessage } from "cloudflare:email";
import { linksSentSince, type MemberRecord, signInLinkInsert } from "../store/members";
import { base64url, sha256Hex } from "./auth";
import { buildMime, domainOf } from "./deliveries/email";

// Single-use sign-in links: a magic link a member asks for, an invitation, or the link
// `npm start` prints for the demo owner. The token is 256 random bits; only its SHA-256 is
// stored. The link opens the dashboard's sign-in page, which POSTs the token to
// /auth/magic-link/verify — a mail scanner that follows the link (GET) cannot spend it.

export const MAGIC_LINK_TTL_MS = 15 * 60_000;
export const INVITE_TTL_MS = 7 * 24 * 3600_000;
/** At most this many links per member per window (a brake on mail bombing an address). */
const LINKS_PER_WINDOW = 5;
const LINK_WINDOW_MS = 15 * 60_000;

const DEFAULT_FROM = "aforo@localhost";

/** Where links point: AFORO_PUBLIC_URL when set (deployed), else the request's own origin. */
export const publicOrigin = (env: Env, requestUrl: string) =>
  ((env.AFORO_PUBLIC_URL as string | undefined) || new URL(requestUrl).origin).replace(/\/$/, "");

/** Mints a link for a member; null when the member was sent too many lately. */
export async function mintSignInLink(
  db: D1Database,
  member: Pick<MemberRecord, "id" | "tenant_id">,
  origin: string,
  ttlMs: number,
  now = Date.now(),
): Promise<{ url: string; expiresAt: number } | null> {
  if ((await linksSentSince(db, member.id, now - LINK_WINDOW_MS)) >= LINKS_PER_WINDOW) return null;
  const token = base64url(crypto.getRandomValues(new Uint8Array(32)));
  const expiresAt = now + ttlMs;
  await signInLinkInsert(db, {
    tokenHash: await sha256Hex(token),
    tenantId: member.tenant_id,
    memberId: member.id,
    now,
    expiresAt,
  }).run();
  return { url: `${origin}/sign-in?link=${token}`, expiresAt };
}

export const linkTokenHash = (token: string) => sha256Hex(token);

const htmlEscape = (s: string) =>
  s
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;");

/** Sends a sign-in or invitation e-mail through the send_email binding. */
export async function sendSignInEmail(
  env: Env,
  to: string,
  link: { url: string; expiresAt: number },
  context: { workspace: string; invitedBy?: string | null; role?: string },
) {
  const from = (env as { AFORO_EMAIL_FROM?: string }).AFORO_EMAIL_FROM || DEFAULT_FROM;
  const minutes = Math.round((link.expiresAt - Date.now()) / 60_000);
  const validity = minutes >= 120 ? `${Math.round(minutes / 60)} hours` : `${minutes} minutes`;
  const invite = context.role !== undefined;
  const subject = invite
    ? `You're invited to ${context.workspace} on Aforo`
    : `Your Aforo sign-in link for ${context.workspace}`;
  const lead = invite
    ? `${context.invitedBy ?? "An owner"} invited you to the ${context.workspace} workspace on Aforo as ${context.role}.`
    : `Someone (hopefully you) asked to sign in to the ${context.workspace} workspace on Aforo.`;
  const text = [
    lead,
    "",
    `Sign in: ${link.url}`,
    "",
    `The link works once and expires in ${validity}. If you did not ask for it, ignore this e-mail.`,
  ].join("\n");
  const html = `<!doctype html><html><body style="font-family:system-ui,sans-serif;font-size:14px;color:#111">
<p>${htmlEscape(lead)}</p>
<p><a href="${htmlEscape(link.url)}" style="display:inline-block;padding:8px 14px;background:#1d4ed8;color:#fff;text-decoration:none;border-radius:4px">Sign in to Aforo</a></p>
<p style="color:#777;font-size:12px">The link works once and expires in ${validity}. If you did not ask for it, ignore this e-mail.</p>
</body></html>`;
  const raw = buildMime({
    from,
    fromName: "Aforo",
    to,
    subject,
    text,
    html,
    messageId: `${crypto.randomUUID()}@${domainOf(from)}`,
    date: Date.now(),
    headers: { "X-Aforo-Sign-In": invite ? "invitation" : "magic-link" },
  });
  await env.EMAIL.send(new EmailMessage(from, to, raw));
}
