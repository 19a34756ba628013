import type { GateAnswer } from "../domain/gate";
import type { EventNote } from "../domain/ingest-batch";
import type { GateTier } from "../domain/ladder";
import type { RatedEvent, UsageEvent } from "../domain/usage-event";

// What the edge and the customer actor say to each other over native RPC.

export interface IngestRequest {
  tenantId: string;
  customerId: string;
  /** The tenant's catalog version the edge saw; a newer one makes the actor reload its terms. */
  catalogVersion: number;
  rawRetentionDays: number;
  events: UsageEvent[];
  /** Return each accepted event's rating (for the live stream); counts only otherwise. */
  detail?: boolean;
}

export interface IngestResult {
  accepted: number;
  duplicates: number;
  /** Events refused because they would pass what Aforo holds per customer and day. */
  refused?: { id: string; reason: string }[];
  /** Ids of the batch that were already stored (sent before): duplicates. */
  known?: string[];
  rated?: RatedEvent[];
  /** Stored events flagged uncosted or unknown_customer (the answer's warnings). */
  noted?: EventNote[];
}

export interface GateRequest {
  tenantId: string;
  customerId: string;
  product?: string;
  units: number;
}

export interface GateResult extends GateAnswer {
  tier: GateTier;
  /** The rate (units per second) the customer is held to right now; 0 when blocked. */
  limit: number;
}
