// What the usage routes serve (SPEC §8, §11): a customer's stored events (drill-down), usage
// rollups, and the items of the live stream (GET /api/live, Server-Sent Events). Type-only.

import type { FieldError } from "./common";

/** A rated, costed event as the customer actor keeps it (GET /api/customers/:id/events). */
export interface StoredEvent {
  id: string;
  time: string;
  received_at: string;
  product: string;
  metric: string;
  quantity: string;
  revenue: string;
  cost: string;
  cost_status: string;
  model: string | null;
  provider: string | null;
  input_tokens: number | null;
  output_tokens: number | null;
  cached_input_tokens: number | null;
  subscription_id: string | null;
  flags: string[];
  source: string;
  properties: Record<string, string | number | boolean | null> | null;
}

/** Units, revenue, COGS and events of one hour or day (GET /api/rollups); the dimensions named
 * in group_by are present. */
export interface RollupRow {
  start: string;
  customer?: string;
  product?: string;
  metric?: string;
  units: string;
  revenue: string;
  cost: string;
  events: number;
}

export type LiveStatus = "accepted" | "rejected";

/** One event of the live stream: `event: accepted|rejected`, `data:` this as JSON. */
export interface LiveItem {
  status: LiveStatus;
  id: string | null;
  customer: string | null;
  product: string | null;
  metric: string | null;
  quantity: number | null;
  time: string | null;
  source: string | null;
  /** Accepted events: price, cost, costing status, the cost's provider and model, and flags
   * (`uncosted`, `unknown_customer`, `no_subscription`, `trial`). */
  revenue?: string;
  cost?: string;
  cost_status?: string;
  provider?: string | null;
  model?: string | null;
  flags?: string[];
  /** Rejected events: why, and where the event was in its batch. */
  errors?: FieldError[];
  index?: number;
  received_at: string;
  /** Sent on connect from the hub's ring of the tenant's last events (not live traffic). */
  recent?: boolean;
}

/** What a live client asked to see (GET /api/live?product&customer&metric&status). */
export interface LiveFilter {
  product?: string;
  customer?: string;
  metric?: string;
  status?: LiveStatus;
}
