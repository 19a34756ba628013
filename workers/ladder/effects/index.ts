import type { Rung } from "../../../domain/ladder";
import { alert } from "./alert";
import { applyCoupon } from "./apply-coupon";
import { block } from "./block";
import { escalate } from "./escalate";
import { extendTrial } from "./extend-trial";
import { throttle } from "./throttle";
import type { EffectHandler } from "./types";

/** The handler of each rung; a rung without one does not compile. */
export const EFFECTS: Record<Rung, EffectHandler> = {
  ALERT: alert,
  THROTTLE: throttle,
  BLOCK: block,
  extend_trial: extendTrial,
  apply_coupon: applyCoupon,
  escalate,
};

export type { EffectContext, EffectHandler, EffectOutcome } from "./types";
