import { queuedActionsInScope } from "../../store/actions";
import { loadCustomerPolicies, type PolicyResolver } from "../../store/policies";
import { executeAction } from "./orchestrate";

/** How many waiting actions one policy change runs at most. */
const MAX_QUEUED = 500;

/** Switching a rung on applies to what is already waiting: queued actions in the scope whose
 * rung is now automatic run, by policy (the operator who switched it is on the trail). Returns
 * how many ran. */
export async function runNewlyAutomatic(
  env: Env,
  tenantId: string,
  scope: "tenant" | "product" | "customer",
  scopeId: string | undefined,
  by: string,
): Promise<number> {
  const queued = await queuedActionsInScope(env.DB, tenantId, scope, scopeId ?? "", MAX_QUEUED);
  let executed = 0;
  const resolvers = new Map<string, PolicyResolver>();
  for (const a of queued) {
    let resolve = resolvers.get(a.customer_id);
    if (!resolve) {
      resolve = await loadCustomerPolicies(env.DB, tenantId, a.customer_id);
      resolvers.set(a.customer_id, resolve);
    }
    if (!resolve(a.product_id ?? undefined).auto_actions[a.rung]) continue;
    try {
      const outcome = await executeAction(env, tenantId, a.id, `policy (switched on by ${by})`);
      if (outcome.ok) executed++;
      else console.error(`queued action ${a.id} did not run: ${outcome.detail}`);
    } catch (err) {
      console.error(`queued action ${a.id} did not run`, err);
    }
  }
  return executed;
}
