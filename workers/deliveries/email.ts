import { type AlertSignal, describeSignal } from "./signal";

// Alert e-mail as a hand-built RFC 5322 / MIME message (no dependency): multipart/alternative
// with a text/plain and a text/html part, UTF-8, base64 bodies, RFC 2047 encoded subject.
// Sent through the `send_email` binding (`new EmailMessage(from, to, raw)`); under `wrangler dev`
// the message is written to a local .eml file whose path is logged (PLATFORM.md). Deployed, the
// sender must be on a domain of the account with Email Routing and the recipient a verified
// destination address.

const CRLF = "\r\n";

/** Strips CR/LF and other control characters, so no value can start a header of its own. */
const headerSafe = (s: string) =>
  Array.from(s, (ch) => {
    const code = ch.charCodeAt(0);
    return code < 0x20 || code === 0x7f ? " " : ch;
  })
    .join("")
    .trim();

function utf8Base64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

/** base64 folded to 76-character lines (RFC 2045). */
const foldedBase64 = (text: string) => (utf8Base64(text).match(/.{1,76}/g) ?? []).join(CRLF);

/** RFC 2047 encoded-words for non-ASCII header text, each ≤ 75 chars, folded. */
export function encodeHeaderText(text: string): string {
  const clean = headerSafe(text);
  if (/^[\x20-\x7e]*$/.test(clean) && clean.length <= 900) return clean;
  const words: string[] = [];
  let chunk = "";
  for (const ch of clean) {
    // ≤ 39 UTF-8 bytes → ≤ 52 base64 chars + 12 of framing: a word stays under the 75-char
    // limit and a line, even after "Subject: ", under 78.
    if (new TextEncoder().encode(chunk + ch).length > 39) {
      words.push(`=?UTF-8?B?${utf8Base64(chunk)}?=`);
      chunk = "";
    }
    chunk += ch;
  }
  if (chunk) words.push(`=?UTF-8?B?${utf8Base64(chunk)}?=`);
  return words.join(`${CRLF} `);
}

/** RFC 5322 date: `Fri, 27 Nov 2026 10:03:11 +0000`. */
export const rfc5322Date = (ms: number) => new Date(ms).toUTCString().replace(/GMT$/, "+0000");

export const htmlEscape = (s: string) =>
  s
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;");

export interface MimeInput {
  from: string;
  fromName?: string;
  to: string;
  subject: string;
  text: string;
  html: string;
  /** Without angle brackets: `<local>@<domain>`; the same on every retry of one delivery. */
  messageId: string;
  date: number;
  headers?: Record<string, string>;
  /** Files sent with it: the message becomes multipart/mixed of the text/HTML and these. */
  attachments?: { filename: string; contentType: string; content: string }[];
}

export function buildMime(m: MimeInput): string {
  const boundary = `aforo-${crypto.randomUUID()}`;
  const from = m.fromName ? `${encodeHeaderText(m.fromName)} <${m.from}>` : m.from;
  const headers = [
    `From: ${from}`,
    `To: ${headerSafe(m.to)}`,
    `Subject: ${encodeHeaderText(m.subject)}`,
    `Date: ${rfc5322Date(m.date)}`,
    `Message-ID: <${headerSafe(m.messageId)}>`,
    "MIME-Version: 1.0",
    ...Object.entries(m.headers ?? {}).map(([k, v]) => `${headerSafe(k)}: ${headerSafe(v)}`),
  ];
  const part = (type: string, body: string) =>
    [
      `--${boundary}`,
      `Content-Type: ${type}; charset=utf-8`,
      "Content-Transfer-Encoding: base64",
      "",
      foldedBase64(body),
    ].join(CRLF);
  const alternative = [
    part("text/plain", m.text),
    part("text/html", m.html),
    `--${boundary}--`,
  ].join(CRLF);
  const files = m.attachments ?? [];
  if (files.length === 0) {
    return [
      headers.join(CRLF),
      `Content-Type: multipart/alternative;${CRLF} boundary="${boundary}"`,
      "",
      "This is a multipart message in MIME format.",
      alternative,
      "",
    ].join(CRLF);
  }
  const mixed = `aforo-m-${crypto.randomUUID()}`;
  const name = (f: { filename: string }) => headerSafe(f.filename).replaceAll('"', "");
  return [
    headers.join(CRLF),
    `Content-Type: multipart/mixed;${CRLF} boundary="${mixed}"`,
    "",
    "This is a multipart message in MIME format.",
    `--${mixed}`,
    `Content-Type: multipart/alternative;${CRLF} boundary="${boundary}"`,
    "",
    alternative,
    ...files.map((f) =>
      [
        `--${mixed}`,
        `Content-Type: ${headerSafe(f.contentType)}; name="${name(f)}"`,
        `Content-Disposition: attachment; filename="${name(f)}"`,
        "Content-Transfer-Encoding: base64",
        "",
        foldedBase64(f.content),
      ].join(CRLF),
    ),
    `--${mixed}--`,
    "",
  ].join(CRLF);
}

/** Domain of an address, for Message-IDs. */
export const domainOf = (address: string) => address.split("@").pop() || "aforo.invalid";

/** Subject, text and HTML of a signal's alert e-mail. */
export function alertEmailContent(
  signal: AlertSignal,
  link: string | null,
  audience: "channel" | "account_owner" = "channel",
) {
  const described = describeSignal(signal);
  const escalated = audience === "account_owner";
  const title = escalated ? `Escalated to you: ${described.title}` : described.title;
  const facts = described.facts;
  const why = escalated
    ? `You receive this because you are the account owner of ${signal.customer} in Aforo, and the signal was escalated to you.`
    : "You receive this because this address is an alert channel of your Aforo workspace.";
  const text = [
    title,
    "",
    ...facts.map(([label, value]) => `${label}: ${value}`),
    `Signal: ${signal.id}`,
    "",
    link ? `Open in Aforo: ${link}` : "Open the signal in the Aforo dashboard.",
    "",
    why,
  ].join("\n");
  const rows = facts
    .map(
      ([label, value]) =>
        `<tr><th align="left" style="padding:4px 12px 4px 0;color:#555">${htmlEscape(label)}</th><td style="padding:4px 0">${htmlEscape(value)}</td></tr>`,
    )
    .join("");
  const html = `<!doctype html><html><body style="font-family:system-ui,sans-serif;font-size:14px;color:#111">
<h2 style="font-size:18px">${htmlEscape(title)}</h2>
<table cellspacing="0" cellpadding="0">${rows}<tr><th align="left" style="padding:4px 12px 4px 0;color:#555">Signal</th><td><code>${htmlEscape(signal.id)}</code></td></tr></table>
${link ? `<p><a href="${htmlEscape(link)}" style="display:inline-block;padding:8px 14px;background:#1d4ed8;color:#fff;text-decoration:none;border-radius:4px">Open in Aforo</a></p>` : ""}
<p style="color:#777;font-size:12px">${htmlEscape(why)}</p>
</body></html>`;
  return { subject: `[Aforo] ${title}`, text, html };
}
