import { describe, expect, it } from "vitest";
import { CustomerDetection, type DayRow, type HourRow } from "../../../domain/detection";
import type { Signal } from "../../../domain/detectors";
import {
  churnExplained,
  dropExplained,
  type SubscriptionWindow,
  subscriptionWindows,
} from "../../../domain/detectors/lifecycle";
import { resolvePolicy } from "../../../domain/ladder";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const START = Date.UTC(2026, 8, 7); // Monday 2026-09-07
const DAYS = 42;
/** Usage stops at the start of this day (the customer left, or went quiet). */
const STOP_DAY = 24;
const STOP = START + STOP_DAY * DAY;

/** A small deterministic generator (mulberry32). */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Hourly API calls with a daily and weekly shape, about 120 an hour at the daily peak, that
 * stop at `stop`, and after `resume` come back at `resumeFactor` × for six hours. */
function hours(o: { stop: number; resume?: number; resumeFactor?: number }): HourRow[] {
  const next = rng(7);
  const rows: HourRow[] = [];
  for (let h = 0; h < DAYS * 24; h++) {
    const t = START + h * HOUR;
    const hod = h % 24;
    const dow = Math.floor(h / 24) % 7;
    const shape =
      (0.35 + 0.65 * Math.sin((Math.PI * Math.max(0, hod - 6)) / 16) ** 2) * (dow >= 5 ? 0.5 : 1);
    let mean = t < o.stop ? 120 * shape : 0;
    if (o.resume !== undefined && t >= o.resume && t < o.resume + 6 * HOUR) {
      mean = 120 * shape * (o.resumeFactor ?? 1);
    }
    if (mean <= 0) continue;
    const units = Math.max(0, Math.round(mean + Math.sqrt(mean) * 2 * (next() - 0.5) * 1.7));
    rows.push({
      start: t,
      product: "chat-api",
      metric: "api_calls",
      units,
      events: units,
      revenue: 0,
      cost: 0,
    });
  }
  return rows;
}

function daysOf(rows: readonly HourRow[]): DayRow[] {
  const by = new Map<number, DayRow>();
  for (const r of rows) {
    const start = Math.floor(r.start / DAY) * DAY;
    const d = by.get(start) ?? { start, product: r.product, metric: r.metric, units: 0 };
    d.units += r.units;
    by.set(start, d);
  }
  return [...by.values()];
}

/** Runs the registered detectors over the whole history, closing it through `until`. */
function detect(rows: HourRow[], subscriptions?: SubscriptionWindow[], until = START + DAYS * DAY) {
  const kv = new Map<string, unknown>();
  const days = daysOf(rows);
  const detection = new CustomerDetection(
    "acme",
    { get: <T>(k: string) => kv.get(k) as T | undefined, put: (k, v) => void kv.set(k, v) },
    {
      hours: (from, to) => rows.filter((r) => r.start >= from && r.start < to),
      days: (from, to) => days.filter((r) => r.start >= from && r.start < to),
      totals: () => [],
      committed: () => new Map(),
      largestEvents: () => [],
    },
    () => resolvePolicy([]).detectors,
    subscriptions,
  );
  kv.set("det:next_hour", START);
  kv.set("det:next_day", START);
  const signals: Signal[] = [];
  // Day by day, as a live actor closes them.
  for (let t = START + DAY; t <= until; t += DAY) signals.push(...detection.closeThrough(t));
  return signals;
}

const churn = (s: readonly Signal[]) => s.filter((x) => x.detector === "WeeklyChurnSignalDetector");
const anomalies = (s: readonly Signal[], direction: "drop" | "spike") =>
  s.filter((x) => x.detector === "BillableUnitAnomalyDetector" && x.direction === direction);

const sub = (id: string, start: number, end: number | null, product = "chat-api") => ({
  subscription_id: id,
  product_id: product,
  start,
  end,
});

describe("subscription windows", () => {
  it("merge a subscription's phases and a replacement that starts where the old one ended", () => {
    expect(
      subscriptionWindows([
        sub("a", START, START + 10 * DAY),
        sub("a", START + 10 * DAY, START + 20 * DAY), // a plan change: the next phase
        sub("b", START + 20 * DAY, null), // monthly → annual as a new subscription
        sub("c", START + 30 * DAY, START + 31 * DAY, "search"),
        sub("d", START + 5 * DAY, START + 5 * DAY), // an empty phase
      ]),
    ).toEqual([
      { product: "chat-api", start: START, end: null },
      { product: "search", start: START + 30 * DAY, end: START + 31 * DAY },
    ]);
  });

  it("explain churn and drops only after an end, and only for a product the customer had", () => {
    const w = subscriptionWindows([sub("a", START, STOP), sub("b", STOP + 20 * DAY, null)]);
    const day = (i: number) => START + i * DAY;
    // Live through the closing day and no end inside the 14 days: not explained.
    expect(churnExplained(w, "chat-api", day(8), day(22))).toBe(false);
    // The end falls inside the comparison window: explained, also once live again.
    expect(churnExplained(w, "chat-api", day(12), day(26))).toBe(true);
    expect(churnExplained(w, "chat-api", day(30), day(44))).toBe(true);
    expect(churnExplained(w, "chat-api", day(40), day(54))).toBe(false);
    // Never subscribed: judged as before.
    expect(churnExplained(w, "search", day(12), day(26))).toBe(false);
    expect(dropExplained(w, "chat-api", STOP - 2 * HOUR, STOP)).toBe(false);
    expect(dropExplained(w, "chat-api", STOP - HOUR, STOP + HOUR)).toBe(true);
    expect(dropExplained(w, "chat-api", STOP + 2 * HOUR, STOP + 4 * HOUR)).toBe(true);
    expect(dropExplained(w, "chat-api", STOP + 21 * DAY, STOP + 21 * DAY + HOUR)).toBe(false);
    expect(dropExplained(w, "search", STOP + HOUR, STOP + 2 * HOUR)).toBe(false);
    // Before the first subscription started, nothing ended yet.
    expect(dropExplained(w, "chat-api", START - 5 * HOUR, START - 4 * HOUR)).toBe(false);
  });
});

describe("detectors and the subscription lifecycle", () => {
  const quiet = hours({ stop: STOP });

  it("a customer with a live subscription who goes quiet is a churn risk and a drop", () => {
    const live = detect(quiet, subscriptionWindows([sub("s", START - 30 * DAY, null)]));
    expect(churn(live)).toHaveLength(1);
    expect(churn(live)[0]).toMatchObject({ customer: "acme", product: "chat-api" });
    expect(anomalies(live, "drop").length).toBeGreaterThan(0);
    // Without any subscription of the product (usage billed elsewhere): judged the same.
    const none = detect(quiet, []);
    expect(churn(none)).toHaveLength(1);
    expect(anomalies(none, "drop").length).toBe(anomalies(live, "drop").length);
    const other = detect(quiet, subscriptionWindows([sub("x", START, STOP, "search")]));
    expect(churn(other)).toHaveLength(1);
  });

  it("a customer who canceled raises no churn signal and no drop after the end", () => {
    const canceled = detect(quiet, subscriptionWindows([sub("s", START - 30 * DAY, STOP)]));
    expect(churn(canceled)).toEqual([]);
    expect(anomalies(canceled, "drop")).toEqual([]);
  });

  it("a lapsed trial raises nothing after it lapsed", () => {
    // A trial whose usage ran its last 17 days, canceled before it converted.
    const trial = hours({ stop: START + 17 * DAY });
    const lapsed = detect(
      trial,
      subscriptionWindows([sub("t", START - 4 * DAY, START + 17 * DAY)]),
    );
    expect(churn(lapsed)).toEqual([]);
    expect(anomalies(lapsed, "drop")).toEqual([]);
    // The same usage under a live subscription is found.
    expect(churn(detect(trial, subscriptionWindows([sub("t", START, null)])))).toHaveLength(1);
  });

  it("a cancel a few days after the customer went quiet explains the drop", () => {
    // Usage stopped on day 24, the subscription ended on day 26: the churn comparison (which
    // crosses the threshold around day 27) has the end inside its 14 days.
    const late = detect(quiet, subscriptionWindows([sub("s", START, STOP + 2 * DAY)]));
    expect(churn(late)).toEqual([]);
    // Drops of the hours before the cancel are still findings.
    const drops = anomalies(late, "drop");
    expect(drops.every((d) => d.window.end <= STOP + 2 * DAY)).toBe(true);
  });

  it("usage without a live subscription still raises spikes", () => {
    const back = hours({ stop: STOP, resume: STOP + 3 * DAY + 10 * HOUR, resumeFactor: 5 });
    const canceled = detect(back, subscriptionWindows([sub("s", START, STOP)]));
    const spikes = anomalies(canceled, "spike").filter((s) => s.window.start >= STOP);
    expect(spikes.length).toBeGreaterThan(0);
    expect(anomalies(canceled, "drop")).toEqual([]);
    expect(churn(canceled)).toEqual([]);
  });
});
