// Runs the registered detectors for one customer on event time (SPEC §2, §5). Pure: the
// customer actor supplies a key-value store for detector state and a reader over its own buckets
// and events, and persists whatever this returns. The same calls serve live ingestion and replay.
//
// Which detector runs when is the registry's (domain/detectors/registry.ts), by trigger:
// - "batch" detectors after every stored batch, on period-to-date totals (quota pacing,
//   margin: calendar months, UTC);
// - "closed_hour" detectors on each closed hour (anomaly per (product, metric), COGS spikes per
//   product), "closed_day" ones on each closed UTC day (churn per product). Hours close when the
//   watermark (latest event time − ALLOWED_LATENESS) passes their end, or when the caller closes
//   through a wall-clock instant (a silent customer). Hours and days close once; late events
//   still count for billing but are not re-evaluated.
// - Detectors see the customer's subscription windows: a customer who canceled or whose trial
//   lapsed raises no churn risk and no usage drop for it (domain/detectors/lifecycle.ts).

import {
  type AnyDetectorSpec,
  type BatchSummary,
  type DetectionReader,
  type DetectionStore,
  type DetectorPolicies,
  detectorsOn,
  type Signal,
} from "./detectors";
import type { SubscriptionWindow } from "./detectors/lifecycle";
import { DAY_MS, HOUR_MS, MINUTE_MS } from "./time";

export type {
  BatchSummary,
  DayRow,
  DetectionReader,
  DetectionStore,
  HourRow,
  PacingUpdate,
} from "./detectors";
export { monthStart, nextMonthStart } from "./detectors";

export const ALLOWED_LATENESS_MS = 5 * MINUTE_MS;

const floorTo = (t: number, step: number) => Math.floor(t / step) * step;

export class CustomerDetection {
  constructor(
    private readonly customer: string,
    private readonly store: DetectionStore,
    private readonly reader: DetectionReader,
    /** Thresholds for a product of this customer (product overrides apply), or the customer's. */
    private readonly policies: (product?: string) => DetectorPolicies,
    /** The customer's subscription windows (domain/detectors/lifecycle.ts): churn and drops
     * that the end of a subscription explains are not findings. */
    private readonly subscriptions: readonly SubscriptionWindow[] = [],
  ) {}

  /** What every detector's run gets, with its own policy section. */
  private context(spec: AnyDetectorSpec) {
    const key = spec.key as keyof DetectorPolicies;
    return {
      customer: this.customer,
      store: this.store,
      reader: this.reader,
      policy: (product?: string) => this.policies(product)[key],
      subscriptions: this.subscriptions,
    };
  }

  /** After a batch is stored: the batch detectors on period-to-date totals, then close whatever
   * hours and days the watermark has passed. */
  afterBatch(batch: BatchSummary): Signal[] {
    const signals: Signal[] = [];
    for (const spec of detectorsOn("batch")) {
      if (spec.trigger === "batch") signals.push(...spec.run({ ...this.context(spec), batch }));
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
      const rows = this.reader.hours(nextHour, hourEnd);
      for (const spec of detectorsOn("closed_hour")) {
        if (spec.trigger !== "closed_hour") continue;
        signals.push(...spec.run({ ...this.context(spec), from: nextHour, to: hourEnd, rows }));
      }
      this.store.put("det:next_hour", hourEnd);
    }
    const dayEnd = floorTo(t, DAY_MS);
    if (dayEnd > nextDay) {
      const rows = this.reader.days(nextDay, dayEnd);
      for (const spec of detectorsOn("closed_day")) {
        if (spec.trigger !== "closed_day") continue;
        signals.push(...spec.run({ ...this.context(spec), from: nextDay, to: dayEnd, rows }));
      }
      this.store.put("det:next_day", dayEnd);
    }
    return signals;
  }
}
