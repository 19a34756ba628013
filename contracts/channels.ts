// What the alert routes serve (README "Alerts"): GET/POST /api/channels, GET/PATCH/DELETE
// /api/channels/:id, POST /api/channels/:id/test, GET /api/deliveries, GET/PUT
// /api/deliveries/budget. Type-only: the API's zod schemas must produce exactly these
// (workers/contracts-check.ts).

export type ChannelType = "slack" | "email" | "webhook";

/** An alert channel as every answer shows it: never its secret (`NotificationChannel`). */
export interface NotificationChannel {
  id: string;
  type: ChannelType;
  name: string;
  enabled: boolean;
  /** webhook: the endpoint; slack: a redacted hint (the URL is a credential). */
  url: string | null;
  /** email: the recipient. */
  to: string | null;
  from: string | null;
  secret_set: boolean;
  created_at: string;
  updated_at: string;
}

/** The answer that creates a channel or rotates its secret: the secret, shown only there. */
export interface NotificationChannelWithSecret extends NotificationChannel {
  secret?: string | undefined;
}

/** POST /api/channels/:id/test. */
export interface ChannelTestResult {
  ok: boolean;
  status: number | null;
  error: string | null;
  duration_ms: number;
}

export type DeliveryStatus = "pending" | "delivered" | "dead" | "canceled";
/** payment_retry / payment_method: Adaptive Retry's messages (a retry due, a hard decline's e-mail). */
export type DeliveryKind = "signal" | "digest" | "payment_retry" | "payment_method";

/** One alert to one channel (or one digest of alerts over the budget). */
export interface Delivery {
  id: string;
  signal_id: string;
  channel_id: string;
  channel_type: ChannelType | null;
  status: DeliveryStatus;
  kind: DeliveryKind;
  digest_id: string | null;
  attempts: number;
  last_status: number | null;
  last_error: string | null;
  next_attempt_at: string | null;
  delivered_at: string | null;
  created_at: string;
  updated_at: string;
}

/** Per channel: at most max_per_window alerts one by one in any window_seconds; the rest in one
 * digest sent digest_delay_seconds after its first alert. */
export interface AlertBudget {
  max_per_window: number;
  window_seconds: number;
  digest_delay_seconds: number;
}
