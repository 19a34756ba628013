import { runInDurableObject } from "cloudflare:test";
import type { ActorMemory } from "../../durable-objects/actor-memory";
import type { ActorStore } from "../../durable-objects/actor-store";
import type { CustomerActor } from "../../durable-objects/customer-actor";
import type { Outbox } from "../../durable-objects/outbox";
import type { TimerName } from "../../durable-objects/timers";

// Test access to a customer actor's parts, through the instance runInDurableObject hands over.
// Production code reaches the actor only through its RPC methods.

export interface ActorInternals {
  store: ActorStore;
  memory: ActorMemory;
  outbox: Outbox;
  runTimer(name: TimerName, now: number): Promise<void>;
}

export const internals = (instance: CustomerActor) => instance as unknown as ActorInternals;

/** Totals of the actor's stored buckets per (product, metric): rollups must equal these. */
export function bucketTotals(stub: DurableObjectStub<CustomerActor>, granularity: "h" | "d" = "h") {
  return runInDurableObject(stub, (_i: CustomerActor, state) =>
    state.storage.sql
      .exec<{
        product: string;
        metric: string;
        units: string;
        revenue: string;
        cost: string;
        events: number;
      }>(
        `SELECT product, metric, CAST(SUM(units) AS TEXT) AS units, CAST(SUM(revenue) AS TEXT) AS revenue,
           CAST(SUM(cost) AS TEXT) AS cost, SUM(events) AS events
         FROM buckets WHERE granularity = ? GROUP BY product, metric ORDER BY product, metric`,
        granularity,
      )
      .toArray(),
  );
}
