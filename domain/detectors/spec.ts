// What a detector declares to be part of Aforo (domain/detectors/registry.ts lists them): its
// name and words, the trigger it runs on and how it runs there, its policy section (defaults and
// validation), its rungs on the action ladder, and how its signals read in messages and on the
// dashboard. Detection (domain/detection.ts), the ladder (domain/ladder.ts), deliveries, the
// policy route, GET /api/detectors and the dashboard all read these specs; none of them names a
// detector.

import type { SubscriptionWindow } from "./lifecycle";
import type { PolicyIssue, Rec } from "./policy-check";
import type { Rung } from "./rungs";
import type { Signal } from "./types";

/** When a detector runs: in the customer's actor after every stored batch, on each closed hour,
 * or on each closed UTC day (hours and days close on event time; domain/detection.ts); or
 * "tenant": over the tenant's records in D1, by the tenant clock's periodic jobs and the events
 * that move them (workers/tenant-detectors.ts), for findings no one customer's actor can make:
 * an invoice past due, a segment's margin. */
export type Trigger = "batch" | "closed_hour" | "closed_day" | "tenant";

/** Key-value storage for detector state, persisted by the caller (the customer actor). State is
 * immutable: a detector returns a new state object instead of changing the one `get` gave it
 * (the actor hands out its cached value, and skips the write when the same value comes back). */
export interface DetectionStore {
  get<T>(key: string): T | undefined;
  put<T>(key: string, value: T): void;
}

/** One closed hour of one (product, metric): units, events, and revenue and COGS in currency
 * units. */
export interface HourRow {
  start: number;
  product: string;
  metric: string;
  units: number;
  events: number;
  revenue: number;
  cost: number;
}

export interface DayRow {
  start: number;
  product: string;
  metric: string;
  units: number;
}

export interface DetectionReader {
  /** Hourly units, event counts, revenue and COGS per (product, metric) for hours in [from, to). */
  hours(from: number, to: number): HourRow[];
  /** Daily units per (product, metric) for days in [from, to). */
  days(from: number, to: number): DayRow[];
  /** Revenue and COGS (currency units) per product for days in [from, to). */
  totals(from: number, to: number): { product: string; revenue: number; cost: number }[];
  /** Committed recurring revenue (flat fees, currency units) per product earned in [from, to). */
  committed(from: number, to: number): Map<string, number>;
  /** Ids of the largest events in [from, to), optionally of one product/metric. */
  largestEvents(
    from: number,
    to: number,
    limit: number,
    product?: string,
    metric?: string,
  ): string[];
}

export interface PacingUpdate {
  subscription_id: string;
  product: string;
  metric: string;
  /** Period-to-date usage after the batch, in units. */
  usage: number;
  quota: number;
  period: { start: number; end: number };
  at: number;
  source_event_ids: string[];
}

export interface BatchSummary {
  /** Latest event time in the batch. */
  maxTime: number;
  /** Earliest event time in the batch. */
  minTime: number;
  /** Every calendar month (start, UTC) the batch touched, and the latest event time in it. */
  months: Map<number, { at: number; ids: string[] }>;
  pacing: PacingUpdate[];
}

/** What a detector's run gets: the customer, state storage, the reader, and its own policy
 * section for a product (product overrides applied) or for the customer. */
export interface RunContext<P> {
  customer: string;
  store: DetectionStore;
  reader: DetectionReader;
  policy: (product?: string) => P;
  /** The customer's subscription windows per product (domain/detectors/lifecycle.ts); absent:
   * none known, and lifecycle explains nothing. */
  subscriptions?: readonly SubscriptionWindow[];
}

export interface BatchRun<P> extends RunContext<P> {
  batch: BatchSummary;
}

/** Closed hours or days [from, to), with the reader's rows for that range (read once for all
 * the detectors on the trigger). */
export interface RangeRun<P, R> extends RunContext<P> {
  from: number;
  to: number;
  rows: readonly R[];
}

export type Runner<P> =
  | { trigger: "batch"; run: (ctx: BatchRun<P>) => Signal[] }
  | { trigger: "closed_hour"; run: (ctx: RangeRun<P, HourRow>) => Signal[] }
  | { trigger: "closed_day"; run: (ctx: RangeRun<P, DayRow>) => Signal[] }
  // Its pure evaluation lives in its module; the worker gathers the D1 records it reads.
  | { trigger: "tenant" };

/** A value of a detector's ladder section: one rung, or rungs by key. */
export type LadderValue = Rung | Readonly<Record<string, Rung>>;

/** Which rungs a detector's signals may take and which they take by default:
 * - "rung": one rung for every signal (`ladder.<key>: Rung`);
 * - "keys": a rung per fixed key (`ladder.<key>.<k>`), the key read from the signal;
 * - "map": a rung per data key (`ladder.<key>["80"]`, the threshold), replaced whole by an
 *   override (list it in POLICY_MAPS); keys not mapped take ALERT. */
export interface LadderSpec<L extends LadderValue> {
  kind: "rung" | "keys" | "map";
  rungs: readonly Rung[];
  default: L;
  /** "rung": the field's label; "keys": one per key; "map": `{key}` stands for the key. */
  labels: string | Readonly<Record<string, string>>;
  /** "keys" and "map": the key of a signal (null: ALERT). */
  keyOf?: (signal: Pick<Signal, "direction" | "details">) => string | null;
  /** "map": what a key must look like, and the message when it does not. */
  keyPattern?: RegExp;
  keyMessage?: string;
}

/** A setting of a policy section as the dashboard's editor shows it. Number fields appear by
 * themselves (every number in the section's defaults); list what needs more. */
export interface PolicyField {
  /** Path inside the section, e.g. "k" or "levels.L1". */
  key: string;
  help: string;
  /** The editor's label (default: the key in words). */
  label?: string;
  /** "number_list": comma-separated numbers. Default "number". */
  kind?: "number" | "number_list";
}

export interface PolicySpec<P> {
  defaults: P;
  /** Pushes an issue for every nonsense field of the section (paths start with `path`). */
  validate: (section: Rec, path: string, issues: PolicyIssue[]) => void;
  /** The section may be missing from a policies object (it is filled from the defaults by every
   * merge); detectors added after the first four say so, so older complete objects still pass. */
  optional?: boolean;
  fields: readonly PolicyField[];
}

/** A signal as deliveries read it back (D1), for the words of a message. */
export interface DescribedSignal {
  customer: string;
  product: string | null;
  metric: string | null;
  magnitude: number;
  direction: string | null;
  details: Record<string, unknown>;
}

/** How the dashboard shows a signal's magnitude: templates over the signal, where
 * `{magnitude:fmt}` or `{details.field:fmt}` is a value in a format (decimal0, decimal1, percent0
 * for fractions, signed_pct for percents, money; none: as text). A template with a missing value
 * gives `fallback` (null: nothing). */
export interface DisplaySpec {
  main: string;
  sub: string | null;
  sub_fallback?: string | null;
}

interface SpecBase<K extends string, P, L extends LadderValue> {
  /** The detector's name, as on its signals (`Signal.detector`). */
  name: string;
  label: string;
  /** One sentence: what it detects. */
  summary: string;
  /** Its section in the policy document: `detectors.<key>` and `ladder.<key>`. */
  key: K;
  policy: PolicySpec<P>;
  ladder: LadderSpec<L>;
  /** Deliveries' words: one title line and the magnitude in the detector's own terms. */
  describe: (s: DescribedSignal) => { title: string; magnitude: string };
  display: DisplaySpec;
}

export type DetectorSpec<
  K extends string = string,
  P = unknown,
  L extends LadderValue = LadderValue,
> = SpecBase<K, P, L> & Runner<P>;

/** Declares a detector's spec (keeps its literal key and types for the registry). */
export const defineDetector = <const K extends string, P, L extends LadderValue>(
  spec: DetectorSpec<K, P, L>,
): DetectorSpec<K, P, L> => spec;
