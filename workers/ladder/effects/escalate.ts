import { z } from "zod";
import { getCustomer } from "../../../store/customers";
import { insertAddressDelivery } from "../../../store/deliveries";
import { escalationChannelId } from "../../deliveries/channels";
import { hashId } from "../ids";
import { applied, cannotApply, type EffectHandler } from "./types";

// escalate: an e-mail to the customer's account owner (`metadata.account_owner`, else the
// policy's `actions.escalate_to`), through the deliveries queue (retries, idempotent per signal
// and address). A sent e-mail cannot be taken back: reversing only records that the escalation
// is withdrawn.

/** The customer's `metadata.account_owner`, when it is an e-mail address. */
async function accountOwner(db: D1Database, tenantId: string, customerId: string) {
  const customer = await getCustomer(db, tenantId, customerId);
  const owner = z.email().safeParse(customer?.metadata.account_owner);
  return owner.success ? owner.data : null;
}

export const escalate: EffectHandler = {
  async execute({ env, tenantId, action, policy }) {
    const owner =
      (await accountOwner(env.DB, tenantId, action.customer_id)) ??
      (policy.actions.escalate_to || null);
    if (!owner) {
      return cannotApply(
        `No account owner to escalate to: set metadata.account_owner on customer '${action.customer_id}' or actions.escalate_to in the policy`,
      );
    }
    const deliveryId = await hashId("dlv", tenantId, action.signal_id, "escalate", owner);
    const inserted = await insertAddressDelivery(
      env.DB,
      tenantId,
      { id: deliveryId, signal_id: action.signal_id, channel_id: escalationChannelId(owner) },
      Date.now(),
    );
    if (inserted) {
      await env.DELIVERIES_QUEUE.send(
        { tenant_id: tenantId, delivery_id: deliveryId },
        { contentType: "json" },
      );
    }
    return applied({ escalated_to: owner, delivery_id: deliveryId });
  },

  reverse: async () => applied({ withdrawn: true }),
};
