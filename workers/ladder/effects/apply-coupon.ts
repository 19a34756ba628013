import { z } from "zod";
import { DAY_MS } from "../../../domain/time";
import { insertCoupon, revokeCoupon } from "../../../store/actions";
import { hashId } from "../ids";
import { bumpCatalog } from "./gate";
import { applied, type EffectHandler } from "./types";

// apply_coupon: a coupon of `actions.coupon_percent` off for `actions.coupon_days` on the
// customer's invoices (the pricing engine honours it); reversing revokes it.

/** What executing recorded: the coupon to revoke. */
const Granted = z.object({ coupon_id: z.string() });

export const applyCoupon: EffectHandler = {
  async execute({ env, tenantId, action, policy }) {
    const now = Date.now();
    const { coupon_percent: percent, coupon_days: days } = policy.actions;
    const couponId = await hashId("cpn", tenantId, action.id, String(now));
    await insertCoupon(
      env.DB,
      tenantId,
      {
        id: couponId,
        customer_id: action.customer_id,
        percent_off: String(percent),
        valid_from: now,
        valid_to: now + days * DAY_MS,
        action_id: action.id,
      },
      now,
    );
    await bumpCatalog(env.DB, tenantId);
    return applied({ coupon_id: couponId, percent_off: percent, days });
  },

  async reverse({ env, tenantId, action }) {
    const { coupon_id } = Granted.parse(action.detail);
    await revokeCoupon(env.DB, tenantId, coupon_id, Date.now());
    await bumpCatalog(env.DB, tenantId);
    return applied({ revoked_coupon_id: coupon_id });
  },
};
