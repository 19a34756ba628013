import { createRoute, z } from "@hono/zod-openapi";
import {
  DEFAULT_ALERT_BUDGET,
  type DeliveryRecord,
  listDeliveries,
  loadAlertBudget,
  saveAlertBudget,
} from "../../store/deliveries";
import { createRouter } from "../app";
import { addressChannel } from "../deliveries/channels";
import { permit } from "../permit";
import { problemResponses } from "../problem";
import { decodeCursor, iso, jsonBody, jsonResponse, page, pageOf } from "../schemas";

// The log of alert deliveries (README "Alerts"): one per signal and channel (or escalation
// address), with its status, attempts and the last error.
export const deliveries = createRouter();
const security = [{ operatorToken: [] }];

const DeliveryStatus = z.enum(["pending", "delivered", "dead", "canceled"]);
const DeliveryKind = z.enum(["signal", "digest", "payment_retry", "payment_method"]);

export const DeliverySchema = z
  .object({
    id: z.string().openapi({ description: "Idempotency id, sent as webhook-id / Message-ID" }),
    signal_id: z.string().openapi({ description: "The alert's signal; a digest: its own id" }),
    channel_id: z.string(),
    channel_type: z.enum(["slack", "email", "webhook"]).nullable(),
    status: DeliveryStatus,
    kind: DeliveryKind.openapi({
      description:
        "signal: one alert; digest: one message carrying the alerts over the budget; payment_retry: a retry due (signal_id: the retry); payment_method: a hard decline's e-mail (signal_id: the payment)",
    }),
    digest_id: z.string().nullable().openapi({
      description:
        "The digest this alert went (or goes) out in, over the alert budget; it takes the digest's outcome",
    }),
    attempts: z.number().int(),
    last_status: z.number().int().nullable(),
    last_error: z.string().nullable(),
    next_attempt_at: z.string().nullable(),
    delivered_at: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("Delivery");

const toDelivery = (tenantId: string, d: DeliveryRecord): z.infer<typeof DeliverySchema> => ({
  id: d.id,
  signal_id: d.signal_id,
  channel_id: d.channel_id,
  channel_type: d.channel_type ?? addressChannel(tenantId, d.channel_id)?.type ?? null,
  status: d.status,
  kind: d.kind,
  digest_id: d.digest_id,
  attempts: d.attempts,
  last_status: d.last_status,
  last_error: d.last_error,
  next_attempt_at: d.status === "pending" ? iso(d.next_attempt_at) : null,
  delivered_at: iso(d.delivered_at),
  created_at: iso(d.created_at) ?? "",
  updated_at: iso(d.updated_at) ?? "",
});

deliveries.openapi(
  createRoute({
    method: "get",
    path: "/",
    tags: ["alerts"],
    summary: "Alert deliveries, newest first, with status, attempts and the last error",
    security,
    request: {
      query: z.object({
        signal: z.string().max(200).optional(),
        channel: z.string().max(64).optional(),
        status: DeliveryStatus.optional(),
        kind: DeliveryKind.optional(),
        digest: z.string().max(200).optional(),
        limit: z.coerce.number().int().min(1).max(200).default(50),
        cursor: z.string().max(512).optional(),
      }),
    },
    responses: {
      200: jsonResponse(page(DeliverySchema), "A page of deliveries"),
      ...problemResponses,
    },
  }),
  async (c) => {
    const q = c.req.valid("query");
    const tenantId = c.var.tenantId;
    const after = decodeCursor(q.cursor, ["time", "string"]);
    const rows = await listDeliveries(c.env.DB, tenantId, q, after, q.limit + 1);
    return c.json(
      pageOf(
        rows,
        q.limit,
        (d) => toDelivery(tenantId, d),
        (d) => [d.created_at, d.id],
      ),
      200,
    );
  },
);

export const Budget = z
  .object({
    max_per_window: z.number().int().min(1).max(1000).openapi({
      description: "Alerts sent one by one per channel in any window",
      example: DEFAULT_ALERT_BUDGET.max_per_window,
    }),
    window_seconds: z.number().int().min(60).max(86_400).openapi({
      description: "The sliding window the budget counts over",
      example: DEFAULT_ALERT_BUDGET.window_seconds,
    }),
    digest_delay_seconds: z.number().int().min(5).max(3600).openapi({
      description:
        "How long a digest collects the alerts over the budget, from its first one, before it is sent",
      example: DEFAULT_ALERT_BUDGET.digest_delay_seconds,
    }),
  })
  .strict()
  .openapi("AlertBudget");

deliveries.openapi(
  createRoute({
    method: "get",
    path: "/budget",
    tags: ["alerts"],
    summary:
      "The tenant's alert budget: how many alerts each channel gets one by one, the rest in a digest",
    security,
    responses: {
      200: jsonResponse(Budget, "The budget (defaults until set)"),
      ...problemResponses,
    },
  }),
  async (c) => c.json(await loadAlertBudget(c.env.DB, c.var.tenantId), 200),
);

deliveries.openapi(
  createRoute(
    permit("channels:manage", "alert_budget.update", {
      method: "put",
      path: "/budget",
      tags: ["alerts"],
      summary: "Set the tenant's alert budget",
      description:
        "Per channel: at most max_per_window alerts in any window_seconds are sent one by one; the others join one digest message, sent digest_delay_seconds after its first alert.",
      security,
      request: { body: jsonBody(Budget) },
      responses: { 200: jsonResponse(Budget, "The budget now"), ...problemResponses },
    }),
  ),
  async (c) => {
    const body = c.req.valid("json");
    await saveAlertBudget(c.env.DB, c.var.tenantId, body, Date.now());
    return c.json(await loadAlertBudget(c.env.DB, c.var.tenantId), 200);
  },
);
