// The detector core over any `timestamp,value` series (npm run detect:series): parse, bucket into
// UTC hours, run BillableUnitAnomalyDetector with the shipped defaults, and score every input row
// in the Numenta Anomaly Benchmark results format (timestamp,value,anomaly_score, score in [0,1]).
//
// Bucketing: the detector judges closed UTC hours, so rows are grouped by the UTC hour of their
// timestamp, whatever their interval (regular or not). An hour's units are the sum of its rows'
// values (`sum`, the billing semantics: values are quantities) or their mean (`mean`, for levels
// such as CPU % or latency); each row is one event. An hour with no rows between the first and
// the last is a silent hour (0 units), as for usage. Negative values count as 0.
// Scale: the detector's absolute gates are in units (a deviation worth 10 events), which suits
// counts; a series of small fractional values would never pass them. `auto` multiplies the
// values so that the median busy hour carries at least 1,000 units (a factor of 1 when it
// already does), which leaves the judgement to the statistical tests and tolerance bands.
// Score: every row gets its hour's score, known when the hour closes (so a row's score may use
// the rest of its hour, never a later hour). Hours inside a signal's window score 0.5 + 0.5·c,
// other hours 0.5·c (at most 0.4999), where c = 1 − 2·Φ(−|z|) is the confidence of the hour's one-step-ahead z
// (0 before the baseline forecasts). Any threshold ≥ 0.5 reproduces the detector's signals;
// lower thresholds rank the remaining hours by how unusual they were.

import {
  type AnomalyPolicy,
  DEFAULT_ANOMALY_POLICY,
  evaluateHour,
  expectedUnits,
  newAnomalyState,
  predictiveSigma,
} from "./anomaly";
import { erfc } from "./normal";
import { HOUR_MS } from "./time";

export interface SeriesRow {
  /** The timestamp as written in the input (echoed in the output). */
  raw: string;
  time: number;
  value: number;
}

export interface SeriesOptions {
  agg?: "sum" | "mean";
  /** A positive multiplier, or "auto" (see above). */
  scale?: number | "auto";
  policy?: AnomalyPolicy;
}

/** Parses an ISO 8601 timestamp (no zone = UTC), NAB's `YYYY-MM-DD HH:MM:SS` (UTC), or epoch
 * seconds / milliseconds. NaN when unreadable. */
export function parseTimestamp(s: string): number {
  const t = s.trim().replace(/^"|"$/g, "");
  if (/^\d+(\.\d+)?$/.test(t)) {
    const n = Number(t);
    return n < 1e11 ? n * 1000 : n;
  }
  const m =
    /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/.exec(
      t,
    );
  if (m) {
    const [, y, mo, d, h, mi, sec, frac, zone] = m;
    let ms = Date.UTC(
      Number(y),
      Number(mo) - 1,
      Number(d),
      Number(h),
      Number(mi),
      Number(sec ?? 0),
      frac ? Math.round(Number(frac) * 1000) : 0,
    );
    if (zone && zone !== "Z") {
      const sign = zone.startsWith("-") ? -1 : 1;
      const digits = zone.slice(1).replace(":", "");
      ms -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000;
    }
    return ms;
  }
  if (/^\d{4}-\d{2}-\d{2}$/.test(t)) return Date.parse(`${t}T00:00:00Z`);
  return Number.NaN;
}

/** Reads `timestamp,value` CSV text: a header is optional (a first line whose value is not a
 * number); with a header, the columns named timestamp and value are used, else the first two.
 * Throws on a row it cannot read, naming its line. */
export function parseSeriesCsv(text: string): SeriesRow[] {
  const lines = text.split(/\r?\n/);
  let tCol = 0;
  let vCol = 1;
  const rows: SeriesRow[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === "") return;
    const cells = line.split(",").map((c) => c.trim().replace(/^"|"$/g, ""));
    if (rows.length === 0 && i === firstContent(lines) && !isNumber(cells[vCol] ?? "")) {
      const names = cells.map((c) => c.toLowerCase());
      const ti = names.findIndex((c) => c === "timestamp" || c === "time" || c === "date");
      const vi = names.indexOf("value");
      if (ti >= 0) tCol = ti;
      if (vi >= 0) vCol = vi;
      return;
    }
    const raw = cells[tCol] ?? "";
    const time = parseTimestamp(raw);
    const value = Number(cells[vCol]);
    if (!Number.isFinite(time)) throw new Error(`line ${i + 1}: unreadable timestamp "${raw}"`);
    if (!isNumber(cells[vCol] ?? "") || !Number.isFinite(value)) {
      throw new Error(`line ${i + 1}: value "${cells[vCol] ?? ""}" is not a number`);
    }
    rows.push({ raw, time, value });
  });
  return rows;
}

function firstContent(lines: string[]): number {
  return lines.findIndex((l) => l.trim() !== "");
}

function isNumber(s: string): boolean {
  return s.trim() !== "" && Number.isFinite(Number(s));
}

export interface SeriesResult {
  /** Per input row, in input order. */
  scores: number[];
  hours: number;
  signals: number;
  scale: number;
}

/** Runs the detector over the rows (any order; scored back in input order). */
export function scoreSeries(rows: readonly SeriesRow[], options: SeriesOptions = {}): SeriesResult {
  const policy = options.policy ?? DEFAULT_ANOMALY_POLICY;
  const agg = options.agg ?? "sum";
  if (rows.length === 0) return { scores: [], hours: 0, signals: 0, scale: 1 };
  const byHour = new Map<number, { sum: number; n: number }>();
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  for (const r of rows) {
    const h = Math.floor(r.time / HOUR_MS) * HOUR_MS;
    const b = byHour.get(h) ?? { sum: 0, n: 0 };
    b.sum += Math.max(0, r.value);
    b.n++;
    byHour.set(h, b);
    first = Math.min(first, h);
    last = Math.max(last, h);
  }
  const hourUnits = (b: { sum: number; n: number }) => (agg === "mean" ? b.sum / b.n : b.sum);
  let scale = typeof options.scale === "number" ? options.scale : 1;
  if (options.scale === undefined || options.scale === "auto") {
    const busy = [...byHour.values()]
      .map(hourUnits)
      .filter((u) => u > 0)
      .sort((a, b) => a - b);
    const median = busy[Math.floor(busy.length / 2)] ?? 0;
    scale = median > 0 && median < 1000 ? 1000 / median : 1;
  }
  let state = newAnomalyState();
  const hourScore = new Map<number, number>();
  const flagged = new Set<number>();
  let signals = 0;
  for (let h = first; h <= last; h += HOUR_MS) {
    const b = byHour.get(h);
    const units = b ? hourUnits(b) * scale : 0;
    const e = expectedUnits(state, h);
    const sigma = e !== null ? predictiveSigma(state, e) : null;
    const z = e !== null && sigma ? (Math.sqrt(units + 0.375) - Math.sqrt(e + 0.375)) / sigma : 0;
    const r = evaluateHour(
      state,
      { customer: "series", metric: "value", hour: h, units, events: b?.n ?? 0 },
      policy,
    );
    state = r.state;
    hourScore.set(h, confidence(z));
    for (const sig of r.signals) {
      signals++;
      for (let t = sig.window.start; t < sig.window.end; t += HOUR_MS) flagged.add(t);
    }
  }
  const scoreOf = (h: number) => {
    const c = hourScore.get(h) ?? 0;
    return flagged.has(h) ? round4(0.5 + 0.5 * c) : Math.min(0.4999, round4(0.5 * c));
  };
  return {
    scores: rows.map((r) => scoreOf(Math.floor(r.time / HOUR_MS) * HOUR_MS)),
    hours: Math.round((last - first) / HOUR_MS) + 1,
    signals,
    scale,
  };
}

/** 1 − 2·Φ(−|z|): the two-sided confidence that the hour is not ordinary noise. */
function confidence(z: number): number {
  return Number.isFinite(z) ? 1 - erfc(Math.abs(z) / Math.SQRT2) : 0;
}

const round4 = (x: number) => Math.round(x * 1e4) / 1e4;

/** The NAB results file: timestamp,value,anomaly_score, rows in input order. */
export function formatResults(rows: readonly SeriesRow[], scores: readonly number[]): string {
  const out = ["timestamp,value,anomaly_score"];
  rows.forEach((r, i) => {
    out.push(`${r.raw},${r.value},${scores[i] ?? 0}`);
  });
  return `${out.join("\n")}\n`;
}
