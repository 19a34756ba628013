import { type AlertSignal, describeSignal, signalLink } from "./signal";
import { slackEscape } from "./slack";

// The digest (README "Alerts", alert budget): when a burst of alerts passes a channel's budget,
// the ones over it go out as one message listing them — each alert's title, magnitude and link —
// instead of one message each. Every channel type says the same: how many, since when, the
// first DIGEST_LISTED of them, and a link to the signals page for the rest.

export interface Digest {
  deliveryId: string;
  /** The alerts named one by one (at most DIGEST_LISTED). */
  signals: AlertSignal[];
  /** How many alerts the digest carries in all. */
  total: number;
  /** When the digest opened (its first alert over the budget). */
  since: number;
}

const iso = (ms: number) => new Date(ms).toISOString().replace(".000Z", "Z");

export const digestTitle = (d: Digest) =>
  `${d.total} alert${d.total === 1 ? "" : "s"} since ${iso(d.since)} (over the alert budget)`;

/** The dashboard's signals page, when a public base URL is known. */
export const signalsLink = (base: string | null | undefined) =>
  base ? `${base.replace(/\/+$/, "")}/signals?status=open&sort=time` : null;

interface DigestLine {
  id: string;
  title: string;
  magnitude: string;
  url: string | null;
}

function lines(d: Digest, base: string | null | undefined): DigestLine[] {
  return d.signals.map((s) => {
    const { title, magnitude } = describeSignal(s);
    return { id: s.id, title, magnitude, url: signalLink(base, s.id) };
  });
}

const more = (d: Digest) => d.total - d.signals.length;

export function digestSlackMessage(d: Digest, base: string | null | undefined) {
  const title = digestTitle(d);
  const items = lines(d, base).map(
    (l) =>
      `• ${l.url ? `<${l.url}|${slackEscape(l.title)}>` : slackEscape(l.title)} — ${slackEscape(l.magnitude)}`,
  );
  if (more(d) > 0) items.push(`…and ${more(d)} more`);
  // A section's text is at most 3000 characters: split the list over several.
  const sections: string[] = [];
  for (const item of items) {
    const last = sections.at(-1);
    if (last !== undefined && last.length + item.length + 1 <= 2900) {
      sections[sections.length - 1] = `${last}\n${item}`;
    } else sections.push(item.slice(0, 2900));
  }
  const link = signalsLink(base);
  const blocks: unknown[] = [
    { type: "header", text: { type: "plain_text", text: title.slice(0, 150), emoji: true } },
    ...sections.map((text) => ({ type: "section", text: { type: "mrkdwn", text } })),
  ];
  if (link) {
    blocks.push({
      type: "actions",
      elements: [
        {
          type: "button",
          action_id: "open_signals",
          text: { type: "plain_text", text: "Open signals in Aforo" },
          url: link,
        },
      ],
    });
  }
  return { text: `Aforo: ${title}`, blocks };
}

export function digestWebhookBody(d: Digest, base: string | null | undefined, now: number) {
  return {
    type: "signals.digest",
    timestamp: new Date(now).toISOString(),
    data: {
      delivery_id: d.deliveryId,
      count: d.total,
      since: new Date(d.since).toISOString(),
      summary: digestTitle(d),
      url: signalsLink(base),
      signals: d.signals.map((s) => {
        const { title, magnitude } = describeSignal(s);
        return {
          id: s.id,
          detector: s.detector,
          customer: s.customer,
          product: s.product,
          metric: s.metric,
          window: {
            start: new Date(s.window.start).toISOString(),
            end: new Date(s.window.end).toISOString(),
          },
          magnitude: s.magnitude,
          summary: title,
          magnitude_text: magnitude,
          url: signalLink(base, s.id),
        };
      }),
    },
  };
}

const htmlEscape = (s: string) =>
  s
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;");

export function digestEmailContent(d: Digest, base: string | null | undefined) {
  const title = digestTitle(d);
  const ls = lines(d, base);
  const link = signalsLink(base);
  const text = [
    title,
    "",
    ...ls.map((l) => `- ${l.title}: ${l.magnitude}${l.url ? ` (${l.url})` : ""}`),
    ...(more(d) > 0 ? [`…and ${more(d)} more`] : []),
    "",
    link ? `All open signals: ${link}` : "Open the signals page of the Aforo dashboard.",
    "",
    "Alerts beyond your alert budget are grouped into one message like this one.",
  ].join("\n");
  const items = ls
    .map(
      (l) =>
        `<li>${l.url ? `<a href="${htmlEscape(l.url)}">${htmlEscape(l.title)}</a>` : htmlEscape(l.title)} — ${htmlEscape(l.magnitude)}</li>`,
    )
    .join("");
  const html = `<!doctype html><html><body style="font-family:system-ui,sans-serif;font-size:14px;color:#111">
<h2 style="font-size:18px">${htmlEscape(title)}</h2>
<ul>${items}${more(d) > 0 ? `<li>…and ${more(d)} more</li>` : ""}</ul>
${link ? `<p><a href="${htmlEscape(link)}" style="display:inline-block;padding:8px 14px;background:#1d4ed8;color:#fff;text-decoration:none;border-radius:4px">Open signals in Aforo</a></p>` : ""}
<p style="color:#777;font-size:12px">Alerts beyond your alert budget are grouped into one message like this one.</p>
</body></html>`;
  return { subject: `[Aforo] ${title}`, text, html };
}
