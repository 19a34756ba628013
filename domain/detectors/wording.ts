// Number words for the detectors' descriptions (spec.describe): the same formatting in every
// channel (Slack, e-mail, webhooks) whatever the detector.

const NUMBER = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });

/** 1234.567 → "1,234.57". */
export const fmt = (x: number) => NUMBER.format(x);

/** A finite number at `d[key]`, else null. */
export const num = (d: Record<string, unknown>, key: string): number | null => {
  const v = d[key];
  return typeof v === "number" && Number.isFinite(v) ? v : null;
};

/** A string at `d[key]`, else null. */
export const str = (d: Record<string, unknown>, key: string): string | null => {
  const v = d[key];
  return typeof v === "string" ? v : null;
};

/** "+1.5", "−2", "0" (a true minus sign). */
export const signed = (x: number) => (x > 0 ? `+${fmt(x)}` : x < 0 ? `−${fmt(-x)}` : "0");

/** "chat-api / input_tokens", or "all products" for a signal about the customer as a whole. */
export const scopeOf = (s: { product: string | null; metric: string | null }) =>
  [s.product, s.metric].filter(Boolean).join(" / ") || "all products";
