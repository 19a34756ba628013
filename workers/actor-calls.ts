import { Coalescer } from "../domain/coalesce";
import { splitBatchAnswer } from "../domain/ingest-batch";
import type { UsageEvent } from "../domain/usage-event";
import {
  actorName,
  type GateRequest,
  type GateResult,
  type IngestResult,
} from "../durable-objects/customer-actor";

// The edge's calls to a customer's actor for ingest and the gate, coalesced per isolate
// (domain/coalesce.ts): a hot customer's concurrent requests share calls, so its actor serves
// one call per round trip however many requests arrive. AFORO_COALESCE = "off" sends every
// request on its own call (benchmarks compare the two).

/** One request's events for one customer, and what the actor needs to know with them. */
export interface CustomerBatch {
  tenantId: string;
  customerId: string;
  catalogVersion: number;
  rawRetentionDays: number;
  events: UsageEvent[];
  detail: boolean;
}

export type CustomerAnswer = ReturnType<typeof splitBatchAnswer>[number];

/** Most events one coalesced call carries (each request alone is at most MAX_EVENTS). */
const MAX_EVENTS_PER_CALL = 5_000;

type CoalesceEnv = Env & { AFORO_COALESCE?: string };

const lanes = new Coalescer<CustomerBatch, CustomerAnswer>({
  maxWeight: MAX_EVENTS_PER_CALL,
  // A request waits at most this long for a call it joined (then it answers 503, retry).
  staleMs: 20_000,
  // A leader keeps calling for the others at most this long (well inside waitUntil's grace).
  leadMs: 2_000,
});

/** Stores one request's events for one customer (with others' for the same customer when they
 * arrive together) and answers for this request's events alone. */
export function ingestForCustomer(
  env: CoalesceEnv,
  /** The request's waitUntil: a call this request leads runs to its end. */
  keepAlive: (p: Promise<unknown>) => void,
  batch: CustomerBatch,
): Promise<CustomerAnswer> {
  const call = (batches: CustomerBatch[]) => callActor(env, batches);
  if (env.AFORO_COALESCE === "off") return call([batch]).then((a) => a[0] as CustomerAnswer);
  return lanes.submit(
    actorName(batch.tenantId, batch.customerId),
    batch,
    batch.events.length,
    call,
    keepAlive,
  );
}

async function callActor(env: Env, batches: CustomerBatch[]): Promise<CustomerAnswer[]> {
  const first = batches[0] as CustomerBatch;
  const latest = batches.reduce((a, b) => (b.catalogVersion > a.catalogVersion ? b : a));
  const stub = env.CUSTOMER_ACTOR.getByName(actorName(first.tenantId, first.customerId));
  const answer = (await stub.ingest({
    tenantId: first.tenantId,
    customerId: first.customerId,
    catalogVersion: latest.catalogVersion,
    rawRetentionDays: latest.rawRetentionDays,
    events: batches.length === 1 ? first.events : batches.flatMap((b) => b.events),
    detail: batches.some((b) => b.detail),
  })) as IngestResult;
  return splitBatchAnswer(
    batches.map((b) => b.events),
    answer,
  );
}

const gateLanes = new Coalescer<GateRequest, GateResult>({
  maxWeight: 500,
  staleMs: 10_000,
  leadMs: 2_000,
});

/** One gate check for one customer, sharing a call with the customer's concurrent checks. */
export function gateForCustomer(
  env: CoalesceEnv,
  keepAlive: (p: Promise<unknown>) => void,
  req: GateRequest,
): Promise<GateResult> {
  const stub = () => env.CUSTOMER_ACTOR.getByName(actorName(req.tenantId, req.customerId));
  if (env.AFORO_COALESCE === "off") return stub().gate(req) as Promise<GateResult>;
  return gateLanes.submit(
    actorName(req.tenantId, req.customerId),
    req,
    1,
    // The leader's function calls for every request of the round: use the round's, not its own.
    (reqs) => stub().gateMany(reqs) as Promise<GateResult[]>,
    keepAlive,
  );
}
