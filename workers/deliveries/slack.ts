import { type AlertSignal, describeSignal } from "./signal";

// Slack incoming webhook message (Block Kit): a header, the facts as section fields, the source
// event(s), and a button to the signal in the dashboard. `text` is the notification fallback.
// Limits honoured: header ≤ 150 chars, ≤ 10 fields of ≤ 2000 chars, button URL ≤ 3000 chars.

/** Escapes the three characters Slack's mrkdwn gives meaning to (customer ids are free text). */
export const slackEscape = (s: string) =>
  s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");

const clip = (s: string, n: number) => (s.length <= n ? s : `${s.slice(0, n - 1)}…`);

export function slackMessage(signal: AlertSignal, link: string | null) {
  const { title, facts } = describeSignal(signal);
  const fields = facts
    .filter(([label]) => !label.startsWith("Source event"))
    .map(([label, value]) => ({
      type: "mrkdwn",
      text: clip(`*${label}*\n${slackEscape(value)}`, 2000),
    }));
  const sources = signal.source_event_ids.slice(0, 10);
  const blocks: unknown[] = [
    { type: "header", text: { type: "plain_text", text: clip(title, 150), emoji: true } },
    { type: "section", fields },
    {
      type: "context",
      elements: [
        {
          type: "mrkdwn",
          text: clip(
            sources.length === 0
              ? "No source event recorded"
              : `Source event${sources.length > 1 ? "s" : ""}: ${sources
                  .map((id) => `\`${slackEscape(id)}\``)
                  .join(", ")}${signal.source_event_ids.length > 10 ? " …" : ""}`,
            2000,
          ),
        },
        { type: "mrkdwn", text: `Signal \`${slackEscape(signal.id)}\`` },
      ],
    },
  ];
  if (link && link.length <= 3000) {
    blocks.push({
      type: "actions",
      elements: [
        {
          type: "button",
          action_id: "open_signal",
          text: { type: "plain_text", text: "Open in Aforo" },
          url: link,
          style: "primary",
        },
      ],
    });
  }
  return { text: clip(`Aforo: ${title}`, 3000), blocks };
}
