import { syncGate } from "./gate";
import { applied, type EffectContext, type EffectHandler } from "./types";

// THROTTLE: the customer's gate runs at the policy's throttled rate while the action is in
// force (unless a BLOCK is in force too).
const setThrottle = async ({ env, tenantId, action }: EffectContext, inForce: boolean) =>
  applied({
    gate_tier: await syncGate(env, tenantId, action.customer_id, {
      id: action.id,
      rung: action.rung,
      inForce,
    }),
  });

export const throttle: EffectHandler = {
  execute: (ctx) => setThrottle(ctx, true),
  reverse: (ctx) => setThrottle(ctx, false),
};
