import { createRoute, z } from "@hono/zod-openapi";
import { type DeliveryRecord, listDeliveries } from "../../store/deliveries";
import { createRouter } from "../app";
import { escalationChannel } from "../deliveries/channels";
import { problemResponses } from "../problem";
import { decodeCursor, iso, jsonResponse, page, pageOf } from "../schemas";

// The log of alert deliveries (README "Alerts"): one per signal and channel (or escalation
// address), with its status, attempts and the last error.
export const deliveries = createRouter();
const security = [{ operatorToken: [] }];

const DeliveryStatus = z.enum(["pending", "delivered", "dead", "canceled"]);

const DeliverySchema = z
  .object({
    id: z.string().openapi({ description: "Idempotency id, sent as webhook-id / Message-ID" }),
    signal_id: z.string(),
    channel_id: z.string(),
    channel_type: z.enum(["slack", "email", "webhook"]).nullable(),
    status: DeliveryStatus,
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
  channel_type: d.channel_type ?? escalationChannel(tenantId, d.channel_id)?.type ?? null,
  status: d.status,
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
