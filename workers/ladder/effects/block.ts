import { z } from "zod";
import { blockableSubscriptions } from "../../../store/action-targets";
import { recordStatusChange } from "../../billing/status";
import { bumpCatalog, syncGate } from "./gate";
import { applied, type EffectHandler } from "./types";

// BLOCK: the gate refuses the customer, and its subscriptions are suspended. Suspension goes
// into the subscription history (the cockpit reads it from there); reversing restores the
// standing each subscription had before.

/** What executing recorded: the subscriptions suspended and the status each had. */
const Suspended = z.object({
  suspended: z.array(z.object({ id: z.string(), previous_status: z.string() })).optional(),
});

const reasonOf = (signalId: string) => `ladder:BLOCK ${signalId}`;

export const block: EffectHandler = {
  async execute({ env, tenantId, action }) {
    const db = env.DB;
    const now = Date.now();
    const subscriptions = await blockableSubscriptions(db, tenantId, action.customer_id);
    for (const s of subscriptions) {
      await recordStatusChange(db, tenantId, s.id, "suspended", now, reasonOf(action.signal_id));
    }
    const tier = await syncGate(env, tenantId, action.customer_id, {
      id: action.id,
      rung: action.rung,
      inForce: true,
    });
    await bumpCatalog(db, tenantId);
    return applied({
      gate_tier: tier,
      suspended: subscriptions.map((s) => ({ id: s.id, previous_status: s.status })),
    });
  },

  async reverse({ env, tenantId, action }) {
    const db = env.DB;
    const now = Date.now();
    const suspended = Suspended.parse(action.detail).suspended ?? [];
    for (const s of suspended) {
      const standing = s.previous_status === "past_due" ? "past_due" : "active";
      await recordStatusChange(
        db,
        tenantId,
        s.id,
        standing,
        now,
        `${reasonOf(action.signal_id)} reversed`,
      );
    }
    const tier = await syncGate(env, tenantId, action.customer_id, {
      id: action.id,
      rung: action.rung,
      inForce: false,
    });
    await bumpCatalog(db, tenantId);
    return applied({ gate_tier: tier, restored: suspended.map((s) => s.id) });
  },
};
