import { conflict, notFound, ok, type Result } from "../../domain/result";
import { type ActionDetail, type ActionRecord, loadAction, recordStep } from "../../store/actions";
import { loadCustomerPolicies } from "../../store/policies";
import { EFFECTS, type EffectOutcome } from "./effects";

// Executing and reversing an action (SPEC §6): check the state it is in, run its rung's effect
// (./effects), and record the step on the action and its trail. `actor` is "policy" or
// "operator:<key id>".

/** The action after the step, or why there was none (not_found, conflict). */
export type ActionOutcome = Result<ActionRecord>;

/** Executes an action (from queued, reversed or failed). An effect that cannot apply (no trial,
 * nobody to escalate to) is recorded as a failed step and answered as a conflict. */
export async function executeAction(
  env: Env,
  tenantId: string,
  id: string,
  actor: string,
): Promise<ActionOutcome> {
  const action = await loadAction(env.DB, tenantId, id);
  if (!action) return notFound("Action", id);
  if (action.state === "executed") return conflict(`Action '${id}' is already executed`);
  const effect = await runEffect(env, tenantId, action, "execute");
  if (!effect.ok) {
    const failed = await step(env.DB, tenantId, action, "failed", actor, { reason: effect.detail });
    return failed.ok ? conflict(effect.detail) : failed;
  }
  return step(env.DB, tenantId, action, effect.state ?? "executed", actor, effect.detail);
}

/** Reverses an executed action: unthrottle, unblock, shorten the trial back, revoke the coupon. */
export async function reverseAction(
  env: Env,
  tenantId: string,
  id: string,
  actor: string,
): Promise<ActionOutcome> {
  const action = await loadAction(env.DB, tenantId, id);
  if (!action) return notFound("Action", id);
  if (action.state !== "executed") {
    return conflict(`Only an executed action can be reversed; '${id}' is ${action.state}`);
  }
  const effect = await runEffect(env, tenantId, action, "reverse");
  if (!effect.ok) return conflict(effect.detail);
  return step(env.DB, tenantId, action, "reversed", actor, effect.detail);
}

async function runEffect(
  env: Env,
  tenantId: string,
  action: ActionRecord,
  direction: "execute" | "reverse",
): Promise<EffectOutcome> {
  const policy = (await loadCustomerPolicies(env.DB, tenantId, action.customer_id))(
    action.product_id ?? undefined,
  );
  return EFFECTS[action.rung][direction]({ env, tenantId, action, policy });
}

/** Records a step. The action keeps what earlier steps recorded (a coupon id to revoke, the
 * statuses to restore), except a failure's reason once a later step has succeeded. */
async function step(
  db: D1Database,
  tenantId: string,
  action: ActionRecord,
  to: "executed" | "reversed" | "failed" | "no_channel",
  actor: string,
  detail: ActionDetail,
): Promise<ActionOutcome> {
  const now = Date.now();
  const earlier = { ...action.detail };
  if (to === "executed" || to === "reversed") delete earlier.reason;
  const merged = { ...earlier, ...detail };
  if (!(await recordStep(db, tenantId, action, to, actor, merged, detail, now))) {
    return conflict(`Action '${action.id}' changed meanwhile; reload and retry`);
  }
  return ok({ ...action, state: to, detail: merged, updated_at: now });
}
