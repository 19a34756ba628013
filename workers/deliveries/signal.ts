import { loadSignal as loadStoredSignal } from "../../store/signals";

// A signal as the deliveries read it (store/signals.ts), and the words every channel uses to
// describe it: one title, one magnitude line, the same facts.

export interface AlertSignal {
  id: string;
  detector: string;
  customer: string;
  product: string | null;
  metric: string | null;
  window: { start: number; end: number };
  magnitude: number;
  direction: string | null;
  details: Record<string, unknown>;
  source_event_ids: string[];
  created_at: number;
}

/** The signal a delivery describes, or null when it does not exist. */
export const loadSignal = (
  db: D1Database,
  tenantId: string,
  id: string,
): Promise<AlertSignal | null> => loadStoredSignal(db, tenantId, id);

const NUMBER = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });
const fmt = (x: number) => NUMBER.format(x);
const num = (d: Record<string, unknown>, key: string): number | null => {
  const v = d[key];
  return typeof v === "number" && Number.isFinite(v) ? v : null;
};
const str = (d: Record<string, unknown>, key: string): string | null => {
  const v = d[key];
  return typeof v === "string" ? v : null;
};
const signed = (x: number) => (x > 0 ? `+${fmt(x)}` : x < 0 ? `−${fmt(-x)}` : "0");

/** `2026-11-27T10:00:00Z → 2026-11-27T11:00:00Z` */
export function formatWindow(w: { start: number; end: number }): string {
  const t = (ms: number) => new Date(ms).toISOString().replace(".000Z", "Z");
  return `${t(w.start)} → ${t(w.end)}`;
}

export interface SignalDescription {
  /** One line: what happened to whom (header, subject). */
  title: string;
  /** The magnitude in the detector's own terms (σ, %, projection, margin). */
  magnitude: string;
  /** Label → value pairs every channel shows. */
  facts: [string, string][];
}

/** Describes a signal in words, per detector (SPEC §5: σ and % for anomalies, the week-over-week
 * drop for churn, the projection and its method for quota pacing, margin and level for
 * MarginGuard). Unknown detectors fall back to the raw magnitude. */
export function describeSignal(s: AlertSignal): SignalDescription {
  const d = s.details;
  const scope = [s.product, s.metric].filter(Boolean).join(" / ") || "all products";
  let title: string;
  let magnitude: string;
  switch (s.detector) {
    case "BillableUnitAnomalyDetector": {
      const sigma = num(d, "sigma") ?? (s.direction === "drop" ? -s.magnitude : s.magnitude);
      const pct = num(d, "pct_change");
      const expected = num(d, "expected");
      const observed = num(d, "observed");
      title = `Usage ${s.direction === "drop" ? "drop" : "spike"}: ${s.customer} · ${s.metric ?? scope}`;
      magnitude = `${signed(sigma)}σ`;
      if (pct !== null) magnitude += ` (${signed(pct)}%)`;
      if (expected !== null && observed !== null) {
        magnitude += `: ${fmt(observed)} observed vs ${fmt(expected)} expected`;
      }
      // A window signal: the numbers are sums over its hours.
      const hours = num(d, "hours");
      if (hours !== null && hours > 1) magnitude += ` over ${fmt(hours)} hours`;
      break;
    }
    case "WeeklyChurnSignalDetector": {
      const drop = num(d, "drop_pct") ?? s.magnitude;
      title = `Churn risk: ${s.customer} usage down ${fmt(drop)}% week over week`;
      magnitude = `−${fmt(drop)}% (last 7 days vs the 7 before)`;
      break;
    }
    case "QuotaPacingProjectionService": {
      const pct = num(d, "pct_of_quota") ?? s.magnitude * 100;
      const projection = num(d, "projection");
      const quota = num(d, "quota");
      const usage = num(d, "usage");
      const method = str(d, "method");
      title = `Quota pacing: ${s.customer} projected at ${fmt(pct)}% of the ${s.metric ?? scope} quota`;
      magnitude = `${fmt(pct)}% of quota`;
      if (projection !== null && quota !== null) {
        magnitude += `: ${fmt(projection)} projected of ${fmt(quota)} included`;
      }
      if (usage !== null) magnitude += `; ${fmt(usage)} used so far`;
      if (method) magnitude += ` (method: ${method})`;
      break;
    }
    case "MarginGuard": {
      const level = str(d, "level") ?? "a margin level";
      const marginPct = num(d, "margin_pct");
      const threshold = num(d, "level_threshold");
      const shortfall = num(d, "shortfall") ?? s.magnitude;
      title = `Margin below ${level}: ${s.customer}${s.product ? ` · ${s.product}` : ""}`;
      magnitude =
        marginPct === null
          ? `no revenue against ${fmt(num(d, "cogs") ?? 0)} of COGS`
          : `margin ${fmt(marginPct)}%`;
      if (threshold !== null) magnitude += ` (${level} is ${fmt(threshold * 100)}%)`;
      magnitude += `; shortfall ${fmt(shortfall)}`;
      break;
    }
    default:
      title = `${s.detector}: ${s.customer}`;
      magnitude = fmt(s.magnitude);
  }
  const sources = s.source_event_ids;
  const facts: [string, string][] = [
    ["Detector", s.detector],
    ["Customer", s.customer],
    ["Product / metric", scope],
    ["Window", formatWindow(s.window)],
    ["Magnitude", magnitude],
    [
      sources.length === 1 ? "Source event" : "Source events",
      sources.length === 0
        ? "none recorded"
        : sources.slice(0, 5).join(", ") + (sources.length > 5 ? ` (+${sources.length - 5})` : ""),
    ],
  ];
  return { title, magnitude, facts };
}

/** The dashboard page of a signal, when a public base URL is known (AFORO_PUBLIC_URL, else the
 * origin that created the channel). Messages outside the browser need an absolute URL. */
export function signalLink(base: string | null | undefined, signalId: string): string | null {
  if (!base) return null;
  return `${base.replace(/\/+$/, "")}/signals/${encodeURIComponent(signalId)}`;
}
