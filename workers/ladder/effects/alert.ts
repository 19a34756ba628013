import { channelDeliveryCount, pendingDeliveryStatements } from "../../../store/deliveries";
import { enqueueDeliveries } from "../../deliveries/queue";
import { applied, type EffectHandler, noChannel } from "./types";

// ALERT: the operator's channels are notified through the signal's deliveries (written with the
// signal, one per channel enabled then; workers/deliveries). Executing records what that
// reached: `executed` with how many channels, or `no_channel` when there was none to send to —
// never "executed" for an alert nobody got. Executing again (after adding or enabling a channel)
// creates the deliveries the alert lacks for the channels enabled now and sends them.
export const alert: EffectHandler = {
  async execute({ env, tenantId, action }) {
    const now = Date.now();
    const [created] = await env.DB.batch(
      pendingDeliveryStatements(env.DB, tenantId, action.signal_id, now),
    );
    if ((created?.meta.changes ?? 0) > 0) {
      await enqueueDeliveries(env, tenantId, [action.signal_id], now);
    }
    const channels = await channelDeliveryCount(env.DB, tenantId, action.signal_id);
    if (channels === 0) {
      return noChannel({
        channels: 0,
        reason: "no enabled alert channel: add one on the Channels page (POST /api/channels)",
      });
    }
    return applied({ channels });
  },
  reverse: async () => applied({}),
};
