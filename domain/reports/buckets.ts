import type { ReportGranularity } from "../../contracts/reports";
import { DAY_MS, HOUR_MS, MINUTE_MS } from "../time";

// Time buckets in an IANA time zone, DST included, computed in TypeScript so SQL only has to
// join rows to [start, end) segments (domain/reports/compile.ts). Rollups are kept per UTC hour;
// a local day, week or month is the set of UTC hours starting inside it. Offsets are found once
// per query: sampled per day over the range, each change pinned to its minute by bisection,
// then every boundary is arithmetic on those constant-offset pieces.

/** A stretch of time with one UTC offset (ms east of UTC). */
interface Piece {
  start: number;
  offset: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
    });
    formatters.set(zone, f);
  }
  return f;
}

/** Whether the runtime knows this IANA zone name. */
export function isTimeZone(zone: string): boolean {
  try {
    formatter(zone);
    return true;
  } catch {
    return false;
  }
}

/** The zone's UTC offset at instant t, in ms (whole minutes). */
export function offsetAt(zone: string, t: number): number {
  const parts: Record<string, number> = {};
  for (const p of formatter(zone).formatToParts(new Date(t))) {
    if (p.type !== "literal") parts[p.type] = Number(p.value);
  }
  const local = Date.UTC(
    parts.year ?? 1970,
    (parts.month ?? 1) - 1,
    parts.day ?? 1,
    parts.hour ?? 0,
    parts.minute ?? 0,
  );
  const floored = Math.floor(t / MINUTE_MS) * MINUTE_MS;
  return local - floored;
}

/** The zone's offsets over [from, to) as constant pieces. */
export class ZoneClock {
  private readonly pieces: Piece[];

  constructor(
    readonly zone: string,
    from: number,
    to: number,
  ) {
    // From 34 days before: segments() floors the first bucket to its month start.
    const lo = Math.floor(from / DAY_MS) * DAY_MS - 34 * DAY_MS;
    const hi = to + 2 * DAY_MS;
    const pieces: Piece[] = [{ start: Number.NEGATIVE_INFINITY, offset: offsetAt(zone, lo) }];
    let prev = pieces[0]?.offset ?? 0;
    for (let t = lo + DAY_MS / 2; t <= hi; t += DAY_MS / 2) {
      const o = offsetAt(zone, t);
      if (o === prev) continue;
      // The change lies in (t − 12 h, t]: bisect to the minute.
      let a = t - DAY_MS / 2;
      let b = t;
      while (b - a > MINUTE_MS) {
        const mid = a + Math.floor((b - a) / 2 / MINUTE_MS) * MINUTE_MS;
        if (offsetAt(zone, mid) === prev) a = mid;
        else b = mid;
      }
      pieces.push({ start: b, offset: o });
      prev = o;
    }
    this.pieces = pieces;
  }

  offset(t: number): number {
    let o = this.pieces[0]?.offset ?? 0;
    for (const p of this.pieces) {
      if (p.start > t) break;
      o = p.offset;
    }
    return o;
  }

  /** Local wall-clock fields of t (read with getUTC…). */
  local(t: number): Date {
    return new Date(t + this.offset(t));
  }

  /** Instants in [lo, hi) where local time is a whole multiple of `step` (an hour or a day) —
   * and the instant of a change that jumps over one (a DST gap at midnight). */
  boundaries(lo: number, hi: number, step: number): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.pieces.length; i++) {
      const piece = this.pieces[i] as Piece;
      const a = Math.max(lo, piece.start);
      const b = Math.min(hi, this.pieces[i + 1]?.start ?? Number.POSITIVE_INFINITY);
      if (a >= b) continue;
      const o = piece.offset;
      const before = this.pieces[i - 1];
      if (before && piece.start >= lo) {
        // Local time jumps from start+o1 to start+o2: a boundary inside [start+o1, start+o2]
        // (a midnight skipped at exactly start+o1 too: Chile, Cuba spring forward at 00:00).
        const m = Math.ceil((piece.start + before.offset) / step) * step;
        if (m <= piece.start + o) out.push(piece.start);
      }
      for (let t = Math.ceil((a + o) / step) * step - o; t < b; t += step) out.push(t);
    }
    return [...new Set(out)].sort((x, y) => x - y);
  }

  /** Bucket starts of a granularity over [lo, hi). */
  bucketStarts(lo: number, hi: number, g: ReportGranularity): number[] {
    if (g === "hour") return this.boundaries(lo, hi, HOUR_MS);
    const days = this.boundaries(lo, hi, DAY_MS);
    if (g === "day") return days;
    if (g === "week") return days.filter((t) => this.local(t).getUTCDay() === 1);
    return days.filter((t) => this.local(t).getUTCDate() === 1);
  }

  /** 0–167: Monday 00:00 local is 0. */
  hourOfWeek(t: number): number {
    const d = this.local(t);
    return ((d.getUTCDay() + 6) % 7) * 24 + d.getUTCHours();
  }

  /** ISO 8601 with the zone's offset at t: 2026-03-29T00:00:00+01:00. */
  format(t: number): string {
    const o = this.offset(t);
    const local = new Date(t + o).toISOString().slice(0, 19);
    if (o === 0) return `${local}Z`;
    const abs = Math.abs(o) / MINUTE_MS;
    const hh = String(Math.floor(abs / 60)).padStart(2, "0");
    const mm = String(abs % 60).padStart(2, "0");
    return `${local}${o < 0 ? "-" : "+"}${hh}:${mm}`;
  }
}

/** One [start, end) stretch of the range and the buckets it falls in. */
export interface Segment {
  start: number;
  end: number;
  /** Start of its time bucket (at the query's granularity). */
  time: number | null;
  /** Start of its month (invoices' billing period). */
  period: number | null;
  hour_of_week: number | null;
}

export interface SegmentNeeds {
  time?: ReportGranularity;
  period?: boolean;
  hour_of_week?: boolean;
}

/** [from, to) cut where any requested bucket changes; each piece names its buckets. */
export function segments(clock: ZoneClock, from: number, to: number, need: SegmentNeeds) {
  // Month floors reach at most 31 days back.
  const lo = from - 32 * DAY_MS;
  const timeStarts = need.time ? clock.bucketStarts(lo, to, need.time) : [];
  const periodStarts = need.period ? clock.bucketStarts(lo, to, "month") : [];
  const hourStarts = need.hour_of_week ? clock.boundaries(from, to, HOUR_MS) : [];
  const cuts = new Set<number>([from]);
  for (const list of [timeStarts, periodStarts, hourStarts]) {
    for (const t of list) if (t > from && t < to) cuts.add(t);
  }
  const sorted = [...cuts].sort((a, b) => a - b);
  const floorIn = (list: number[]) => {
    let i = 0;
    return (t: number): number | null => {
      while (i + 1 < list.length && (list[i + 1] as number) <= t) i++;
      const v = list[i];
      return v !== undefined && v <= t ? v : null;
    };
  };
  const timeOf = floorIn(timeStarts);
  const periodOf = floorIn(periodStarts);
  const out: Segment[] = [];
  for (let i = 0; i < sorted.length; i++) {
    const start = sorted[i] as number;
    out.push({
      start,
      end: sorted[i + 1] ?? to,
      time: need.time ? timeOf(start) : null,
      period: need.period ? periodOf(start) : null,
      hour_of_week: need.hour_of_week ? clock.hourOfWeek(start) : null,
    });
  }
  return out;
}

/** Approximate bucket lengths, for the "at most N buckets" rule. */
export const GRANULARITY_MS: Record<ReportGranularity, number> = {
  hour: HOUR_MS,
  day: DAY_MS,
  week: 7 * DAY_MS,
  month: 28 * DAY_MS,
};
