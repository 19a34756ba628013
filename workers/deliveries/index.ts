// Alert delivery, separate from detection (SPEC §6 ALERT; README "Alerts").
// - `pendingDeliveryStatements` joins the D1 batch that stores a new signal;
// - `enqueueDeliveries` wakes the deliveries queue once that batch has committed;
// - `handleDeliveries` is the `aforo-deliveries` consumer (Slack, e-mail, signed webhooks);
// - `requeueStalledDeliveries` repairs a lost enqueue (periodic work).

export { pendingDeliveryStatements } from "../../store/deliveries";
export {
  BACKOFF_BASE_S,
  BACKOFF_CAP_S,
  backoffSeconds,
  GIVE_UP_AFTER_MS,
  handleDeliveries,
} from "./consumer";
export { type DeliveryMessage, enqueueDeliveries, requeueStalledDeliveries } from "./queue";
