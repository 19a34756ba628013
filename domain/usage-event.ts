import type { EventCost } from "./costing";

/** A usage event after edge validation: what the customer actor rates, costs and stores. */
export interface UsageEvent {
  id: string;
  customer: string;
  product: string;
  metric: string;
  /** Units, a finite non-negative number with at most 6 decimal places. */
  quantity: number;
  /** Event time, epoch ms. */
  time: number;
  /** Where it came from (CloudEvents `source`, or "api"). */
  source: string;
  cost?: EventCost;
  properties?: Record<string, string | number | boolean | null>;
  /** The customer API key the event was made with (resolved at the edge from its api_key, or
   * the proxy's): its usage is kept per key too (schema/0033_customer_api_keys.sql). */
  api_key_id?: string;
}

/** Flags that travel with a stored event: why it earns or costs nothing. */
export type EventFlag = "unknown_customer" | "no_subscription" | "trial" | "uncosted";

/** What ingestion decided for one accepted event. */
export interface RatedEvent {
  id: string;
  customer: string;
  product: string;
  metric: string;
  quantity: number;
  time: number;
  source: string;
  /** Decimal strings, exact. */
  revenue: string;
  cost: string;
  cost_status: "supplied" | "catalog" | "uncosted" | "none";
  /** Normalised cost provider and model, when the event named them. */
  provider: string | null;
  model: string | null;
  subscription_id: string | null;
  flags: EventFlag[];
}

import { DAY_MS, HOUR_MS } from "./time";

export { DAY_MS, HOUR_MS };
export const hourStart = (t: number) => t - (((t % HOUR_MS) + HOUR_MS) % HOUR_MS);
export const dayStart = (t: number) => t - (((t % DAY_MS) + DAY_MS) % DAY_MS);
