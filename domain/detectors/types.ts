// The common shape of the detection engines (SPEC §5): pure strategies over plain data,
// `(state, closed window or event) → (state, signals)`. The same functions run live in the
// customer actor and in replay, driven by event time only, so replaying the same inputs from the
// same state yields the same signals. States are JSON-serialisable and bounded in size.

/** A registered detector's name (domain/detectors/registry.ts lists them, DETECTORS). */
export type DetectorName = string;

export type Direction = "spike" | "drop";

/** Detector-specific numbers (and a few labels such as the projection method). */
export type SignalDetails = Record<string, number | string | boolean | null>;

/** Half-open interval [start, end) in epoch ms. */
export interface Window {
  start: number;
  end: number;
}

/** A detector's finding. Immutable once emitted; the actor stores it keyed by idempotency_key. */
export interface Signal<D extends SignalDetails = SignalDetails> {
  detector: DetectorName;
  /** One signal per key however often inputs are replayed (SPEC §5 key columns). */
  idempotency_key: string;
  customer: string;
  product?: string;
  metric?: string;
  window: Window;
  /** Severity for sorting within a detector; its unit is documented per detector. */
  magnitude: number;
  direction?: Direction;
  details: D;
  /** Ids of the events in the window that tripped it (caller-supplied, capped). */
  source_event_ids: string[];
}

/** What every detector step returns: the next state (the input state is never mutated) and the
 * signals it produced, possibly none. */
export interface DetectorResult<S, D extends SignalDetails = SignalDetails> {
  state: S;
  signals: Signal<D>[];
}

/** At most this many source event ids ride on a signal. */
export const MAX_SOURCE_EVENT_IDS = 20;

/** Joins key parts with "|", escaping "%" and "|" inside parts so a customer id containing "|"
 * cannot collide with another key:
 * `["MarginGuard", "acme", "*", "2026-11-01T00:00:00.000Z", "L2"]` →
 * `"MarginGuard|acme|*|2026-11-01T00:00:00.000Z|L2"`. */
export function idempotencyKey(parts: readonly (string | number)[]): string {
  return parts.map((p) => String(p).replace(/%/g, "%25").replace(/\|/g, "%7C")).join("|");
}

/** Copies at most MAX_SOURCE_EVENT_IDS ids. */
export function capIds(ids: readonly string[] | undefined): string[] {
  if (!ids || ids.length === 0) return [];
  return ids.slice(0, MAX_SOURCE_EVENT_IDS);
}

/** `x` rounded to `digits` decimal places (what signals report). */
export const round = (x: number, digits: number): number => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};
