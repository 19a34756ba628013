import { HOUR_MS } from "../time";
import type { ArchiveRow } from "./archive-rows";

// Rebuilding rollups from the event archive (issue 16 item 1, the replay path): the archive
// holds every accepted event with its rating, so its rows summed per (customer, hour, product,
// metric) are what the D1 rollups hold for them (rollups_hourly), exactly, for as far back as
// the archive goes: past the actors' raw retention.

export interface ReplayTotals {
  units: bigint; // micros
  revenue: bigint; // nanos
  cost: bigint; // nanos
  events: number;
}

/** `customer \0 hour start (epoch ms) \0 product \0 metric`. */
export const replayKey = (customer: string, hour: number, product: string, metric: string) =>
  `${customer}\u0000${hour}\u0000${product}\u0000${metric}`;

/** Adds `rows` into `into` (call once per row group: the totals are all that is kept). */
export function addReplayTotals(
  into: Map<string, ReplayTotals>,
  rows: Iterable<
    Pick<
      ArchiveRow,
      "customer_id" | "event_time" | "product" | "metric" | "quantity" | "revenue" | "cost"
    >
  >,
): Map<string, ReplayTotals> {
  for (const r of rows) {
    const hour = Math.floor(r.event_time / HOUR_MS) * HOUR_MS;
    const key = replayKey(r.customer_id, hour, r.product, r.metric);
    const t = into.get(key) ?? { units: 0n, revenue: 0n, cost: 0n, events: 0 };
    t.units += BigInt(r.quantity);
    t.revenue += BigInt(r.revenue);
    t.cost += BigInt(r.cost);
    t.events += 1;
    into.set(key, t);
  }
  return into;
}
