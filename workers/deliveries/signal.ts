import { detectorSpec } from "../../domain/detectors";
import { loadSignal as loadStoredSignal, type SignalRecord } from "../../store/signals";

// A signal as the deliveries read it (store/signals.ts), and the words every channel uses to
// describe it: one title, one magnitude line, the same facts.

/** What a delivery says about a signal: the stored signal, or any signal-shaped record. */
export type AlertSignal = Omit<SignalRecord, "idempotency_key" | "status">;

/** The signal a delivery describes, or null when it does not exist. */
export const loadSignal = (
  db: D1Database,
  tenantId: string,
  id: string,
): Promise<AlertSignal | null> => loadStoredSignal(db, tenantId, id);

const NUMBER = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });
const fmt = (x: number) => NUMBER.format(x);

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

/** Describes a signal in words: the title and magnitude line are its detector's own
 * (domain/detectors/registry.ts; SPEC §5: σ and % for anomalies, the week-over-week drop for
 * churn, the projection and its method for quota pacing, margin and level for MarginGuard).
 * Unknown detectors fall back to the raw magnitude. */
export function describeSignal(s: AlertSignal): SignalDescription {
  // A tenant-wide finding (customer "*": a budget alert) names its scope and the customers
  // driving it instead of one customer.
  const tenantWide = s.customer === "*";
  const scopeLabel = typeof s.details.scope_label === "string" ? s.details.scope_label : null;
  const drivers = typeof s.details.customers === "string" ? s.details.customers : "";
  const scope =
    (tenantWide ? scopeLabel : null) ??
    ([s.product, s.metric].filter(Boolean).join(" / ") || "all products");
  const { title, magnitude } = detectorSpec(s.detector)?.describe(s) ?? {
    title: `${s.detector}: ${s.customer}`,
    magnitude: fmt(s.magnitude),
  };
  const sources = s.source_event_ids;
  const facts: [string, string][] = [
    ["Detector", s.detector],
    [
      tenantWide ? "Customers" : "Customer",
      tenantWide
        ? `the whole tenant; driven by ${drivers.replaceAll(",", ", ") || "none named"}`
        : s.customer,
    ],
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
