import { type GateTier, type Rung, tierFor } from "../../../domain/ladder";
import { actorName } from "../../../durable-objects/customer-actor";
import { executedActions } from "../../../store/actions";
import { bumpCatalogVersion } from "../../tenant-catalog";

// What THROTTLE and BLOCK share: the customer's gate tier follows every action in force.

/** The gate tier from every action in force for the customer — with `pending` counted as in
 * force or not, as the step being taken leaves it — pushed to its actor. */
export async function syncGate(
  env: Env,
  tenantId: string,
  customerId: string,
  pending: { id: string; rung: Rung; inForce: boolean },
): Promise<GateTier> {
  const inForce = await executedActions(env.DB, tenantId, customerId);
  const rungs = inForce.filter((r) => r.id !== pending.id).map((r) => r.rung);
  if (pending.inForce) rungs.push(pending.rung);
  const tier = tierFor(rungs);
  const stub = env.CUSTOMER_ACTOR.getByName(actorName(tenantId, customerId));
  await stub.identify(tenantId, customerId);
  await stub.setGateTier(tier);
  return tier;
}

/** Actors and the edge reload what they cached about the tenant (subscriptions, coupons). */
export const bumpCatalog = (db: D1Database, tenantId: string) =>
  bumpCatalogVersion(db, tenantId).run();
