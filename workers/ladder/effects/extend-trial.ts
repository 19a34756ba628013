import { z } from "zod";
import { DAY_MS } from "../../../domain/time";
import { latestTrial, shiftTrialEnd } from "../../../store/action-targets";
import { bumpCatalog } from "./gate";
import { applied, cannotApply, type EffectHandler } from "./types";

// extend_trial: the customer's latest trial (to the action's product, when it has one) ends
// `actions.extend_trial_days` later; reversing shortens it by what was added.

/** What executing recorded: which trial moved, and by how many days. */
const Extended = z.object({ subscription_id: z.string(), extended_days: z.number().default(0) });

export const extendTrial: EffectHandler = {
  async execute({ env, tenantId, action, policy }) {
    const days = policy.actions.extend_trial_days;
    const sub = await latestTrial(env.DB, tenantId, action.customer_id, action.product_id);
    if (!sub) return cannotApply(`Customer '${action.customer_id}' has no trial to extend`);
    await shiftTrialEnd(env.DB, tenantId, sub.id, days * DAY_MS, Date.now());
    await bumpCatalog(env.DB, tenantId);
    return applied({ subscription_id: sub.id, extended_days: days });
  },

  async reverse({ env, tenantId, action }) {
    const { subscription_id, extended_days } = Extended.parse(action.detail);
    await shiftTrialEnd(env.DB, tenantId, subscription_id, -extended_days * DAY_MS, Date.now());
    await bumpCatalog(env.DB, tenantId);
    return applied({ subscription_id, shortened_days: extended_days });
  },
};
