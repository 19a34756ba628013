// Runs the four detectors for one customer on event time (SPEC §2, §5). Pure: the customer actor
// supplies a key-value store for detector state and a reader over its own buckets and events,
// and persists whatever this returns. The same calls serve live ingestion and replay.
//
// - Hours close when the watermark (latest event time − ALLOWED_LATENESS) passes their end, or
//   when the caller closes through a wall-clock instant (a silent customer). Each closed hour
//   feeds BillableUnitAnomalyDetector per (product, metric); each closed UTC day feeds
//   WeeklyChurnSignalDetector per product. Hours and days close once; late events still count
//   for billing but are not re-evaluated.
// - QuotaPacingProjectionService runs after every batch on the period-to-date usage of each
//   metric with an included quota; MarginGuard on period-to-date revenue (usage revenue plus the
//   flat fees earned so far) and COGS per product and for the customer as a whole. Margin periods are calendar months (UTC), so every customer and
//   product is judged on the same footing whatever its billing anchor.

import {
  type AnomalyState,
  type ChurnState,
  checkMargin,
  type DetectorPolicies,
  evaluateDay,
  evaluateHour,
  type MarginState,
  newAnomalyState,
  newChurnState,
  newMarginState,
  newQuotaPacingState,
  observePacing,
  type QuotaPacingState,
  type Signal,
} from "./detectors";
import { DAY_MS, HOUR_MS } from "./usage-event";

export const ALLOWED_LATENESS_MS = 5 * 60_000;
const SOURCE_IDS = 5;

export interface DetectionStore {
  get<T>(key: string): T | undefined;
  put<T>(key: string, value: T): void;
}

export interface DetectionReader {
  /** Hourly units and event counts per (product, metric) for hours in [from, to). */
  hours(
    from: number,
    to: number,
  ): { start: number; product: string; metric: string; units: number; events: number }[];
  /** Daily units per (product, metric) for days in [from, to). */
  days(
    from: number,
    to: number,
  ): { start: number; product: string; metric: string; units: number }[];
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

export function monthStart(t: number): number {
  const d = new Date(t);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}
export function nextMonthStart(t: number): number {
  const d = new Date(t);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

const floorTo = (t: number, step: number) => Math.floor(t / step) * step;

export class CustomerDetection {
  constructor(
    private readonly customer: string,
    private readonly store: DetectionStore,
    private readonly reader: DetectionReader,
    /** Thresholds for a product of this customer (product overrides apply), or the customer's. */
    private readonly policies: (product?: string) => DetectorPolicies,
  ) {}

  /** After a batch is stored: pacing and margin on period-to-date totals, then close whatever
   * hours and days the watermark has passed. */
  afterBatch(batch: BatchSummary): Signal[] {
    const signals: Signal[] = [];
    for (const update of batch.pacing) signals.push(...this.pace(update));
    for (const [month, { at, ids }] of [...batch.months].sort((a, b) => a[0] - b[0])) {
      signals.push(...this.margins(month, at, ids));
    }
    const firstHour = this.store.get<number>("det:next_hour");
    if (firstHour === undefined) {
      // The first events this customer ever sent: detection starts at their hour and day.
      this.store.put("det:next_hour", floorTo(batch.minTime, HOUR_MS));
      this.store.put("det:next_day", floorTo(batch.minTime, DAY_MS));
    }
    signals.push(...this.closeThrough(batch.maxTime - ALLOWED_LATENESS_MS));
    return signals;
  }

  /** Closes every hour and day that ends at or before `t`. */
  closeThrough(t: number): Signal[] {
    const nextHour = this.store.get<number>("det:next_hour");
    const nextDay = this.store.get<number>("det:next_day");
    if (nextHour === undefined || nextDay === undefined) return [];
    const signals: Signal[] = [];
    const hourEnd = floorTo(t, HOUR_MS);
    if (hourEnd > nextHour) {
      signals.push(...this.closeHours(nextHour, hourEnd));
      this.store.put("det:next_hour", hourEnd);
    }
    const dayEnd = floorTo(t, DAY_MS);
    if (dayEnd > nextDay) {
      signals.push(...this.closeDays(nextDay, dayEnd));
      this.store.put("det:next_day", dayEnd);
    }
    return signals;
  }

  private closeHours(from: number, to: number): Signal[] {
    const rows = this.reader.hours(from, to);
    const series = new Map<
      string,
      { product: string; metric: string; hours: Map<number, { units: number; events: number }> }
    >();
    for (const key of this.store.get<string[]>("det:series") ?? []) {
      const [product = "", metric = ""] = key.split("|");
      series.set(key, { product, metric, hours: new Map() });
    }
    let known = series.size;
    for (const r of rows) {
      const key = `${r.product}|${r.metric}`;
      let s = series.get(key);
      if (!s) {
        s = { product: r.product, metric: r.metric, hours: new Map() };
        series.set(key, s);
      }
      s.hours.set(r.start, { units: r.units, events: r.events });
    }
    if (series.size !== known) this.store.put("det:series", [...series.keys()]);
    known = series.size;
    const signals: Signal[] = [];
    for (const [key, s] of series) {
      let state = this.store.get<AnomalyState>(`det:anomaly:${key}`) ?? newAnomalyState();
      // A series first seen in this range starts at its first hour, not before.
      const first = state.last_hour === null ? Math.min(...[...s.hours.keys()], to) : from;
      for (let hour = first; hour < to; hour += HOUR_MS) {
        const h = s.hours.get(hour);
        const result = evaluateHour(
          state,
          {
            customer: this.customer,
            product: s.product,
            metric: s.metric,
            hour,
            units: h?.units ?? 0,
            events: h?.events ?? 0,
          },
          this.policies(s.product).anomaly,
        );
        state = result.state;
        for (const signal of result.signals) {
          signals.push({
            ...signal,
            source_event_ids: this.reader.largestEvents(
              signal.window.start,
              signal.window.end,
              SOURCE_IDS,
              s.product,
              s.metric,
            ),
          });
        }
      }
      this.store.put(`det:anomaly:${key}`, state);
    }
    return signals;
  }

  private closeDays(from: number, to: number): Signal[] {
    const rows = this.reader.days(from, to);
    const products = new Map<string, Map<number, Record<string, number>>>();
    for (const p of this.store.get<string[]>("det:products") ?? []) products.set(p, new Map());
    const before = products.size;
    for (const r of rows) {
      let days = products.get(r.product);
      if (!days) {
        days = new Map();
        products.set(r.product, days);
      }
      const units = days.get(r.start) ?? {};
      units[r.metric] = (units[r.metric] ?? 0) + r.units;
      days.set(r.start, units);
    }
    if (products.size !== before) this.store.put("det:products", [...products.keys()]);
    const signals: Signal[] = [];
    for (const [product, days] of products) {
      let state = this.store.get<ChurnState>(`det:churn:${product}`) ?? newChurnState();
      const first = state.last_day === null ? Math.min(...[...days.keys()], to) : from;
      for (let day = first; day < to; day += DAY_MS) {
        const result = evaluateDay(
          state,
          { customer: this.customer, product, day, units: days.get(day) ?? {} },
          this.policies(product).churn,
        );
        state = result.state;
        for (const signal of result.signals) {
          signals.push({
            ...signal,
            // The last events before the drop: what the customer was doing when it faded.
            source_event_ids: this.reader.largestEvents(
              day - 7 * DAY_MS,
              day + DAY_MS,
              SOURCE_IDS,
              product,
            ),
          });
        }
      }
      this.store.put(`det:churn:${product}`, state);
    }
    return signals;
  }

  private pace(update: PacingUpdate): Signal[] {
    const key = `det:pacing:${update.subscription_id}|${update.metric}`;
    const state = this.store.get<QuotaPacingState>(key) ?? newQuotaPacingState();
    const result = observePacing(
      state,
      {
        customer: this.customer,
        product: update.product,
        metric: update.metric,
        at: update.at,
        usage: update.usage,
        quota: update.quota,
        period: update.period,
        source_event_ids: update.source_event_ids,
      },
      this.policies(update.product).quota_pacing,
    );
    this.store.put(key, result.state);
    return result.signals;
  }

  private margins(month: number, at: number, ids: string[]): Signal[] {
    const end = nextMonthStart(month);
    // Period-to-date revenue is usage revenue plus the flat fees earned so far this month.
    const committed = this.reader.committed(month, at);
    const byProduct = new Map<string, { revenue: number; cost: number }>();
    for (const t of this.reader.totals(month, end)) {
      byProduct.set(t.product, {
        revenue: t.revenue + (committed.get(t.product) ?? 0),
        cost: t.cost,
      });
    }
    for (const [product, revenue] of committed) {
      if (!byProduct.has(product)) byProduct.set(product, { revenue, cost: 0 });
    }
    const all = { revenue: 0, cost: 0 };
    const signals: Signal[] = [];
    const scopes: { product?: string; revenue: number; cost: number }[] = [];
    for (const [product, t] of byProduct) {
      all.revenue += t.revenue;
      all.cost += t.cost;
      scopes.push({ product, revenue: t.revenue, cost: t.cost });
    }
    scopes.push({ revenue: all.revenue, cost: all.cost });
    for (const scope of scopes) {
      const key = `det:margin:${scope.product ?? "*"}`;
      const state = this.store.get<MarginState>(key) ?? newMarginState();
      const result = checkMargin(
        state,
        {
          customer: this.customer,
          ...(scope.product !== undefined ? { product: scope.product } : {}),
          at,
          period: { start: month, end },
          revenue: scope.revenue,
          cogs: scope.cost,
          source_event_ids: ids,
        },
        this.policies(scope.product).margin,
      );
      if (result.state !== state) this.store.put(key, result.state);
      signals.push(...result.signals);
    }
    return signals;
  }
}
