import { createRoute, z } from "@hono/zod-openapi";
import type { StoredEvent } from "../../contracts/events";
import { formatMoney, formatQuantity } from "../../domain/money";
import { DAY_MS, HOUR_MS } from "../../domain/time";
import { actorName } from "../../durable-objects/customer-actor";
import { rollupTotals } from "../../store/rollups";
import { createRouter } from "../app";
import { type LiveFilter, subscribeLive } from "../live";
import { problemResponses, validationError } from "../problem";
import { decodeCursor, encodeCursor, Id, jsonResponse, page, Timestamp } from "../schemas";

// The read side of ingestion: a customer's raw events (drill-down), usage rollups, and the
// live stream.
export const usage = createRouter();
const security = [{ operatorToken: [] }];

export const StoredEventSchema = z
  .object({
    id: z.string(),
    time: z.string(),
    received_at: z.string(),
    product: z.string(),
    metric: z.string(),
    quantity: z.string(),
    revenue: z.string(),
    cost: z.string(),
    cost_status: z.string(),
    model: z.string().nullable(),
    provider: z.string().nullable(),
    input_tokens: z.number().nullable(),
    output_tokens: z.number().nullable(),
    cached_input_tokens: z.number().nullable(),
    subscription_id: z.string().nullable(),
    flags: z.array(z.string()),
    source: z.string(),
    properties: z.record(z.string(), z.unknown()).nullable(),
  })
  .openapi("StoredEvent");

usage.openapi(
  createRoute({
    method: "get",
    path: "/customers/{id}/events",
    tags: ["usage"],
    summary: "A customer's events, newest first, with revenue and cost (drill-down)",
    description: "Raw events are kept for the tenant's raw_retention_days (default 90).",
    security,
    request: {
      params: z.object({ id: Id }),
      query: z.object({
        from: Timestamp.optional(),
        to: Timestamp.optional(),
        limit: z.coerce.number().int().min(1).max(500).default(100),
        cursor: z.string().max(256).optional(),
      }),
    },
    responses: {
      200: jsonResponse(page(StoredEventSchema), "A page of events"),
      ...problemResponses,
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const { from, to, limit, cursor } = c.req.valid("query");
    const key = decodeCursor(cursor, ["time", "row"]);
    const stub = c.env.CUSTOMER_ACTOR.getByName(actorName(c.var.tenantId, id));
    const page = await stub.listEvents({
      limit,
      ...(from !== undefined ? { from } : {}),
      ...(to !== undefined ? { to } : {}),
      ...(key ? { before: { time: Number(key[0]), seq: Number(key[1]) } } : {}),
    });
    return c.json(
      {
        data: page.events as StoredEvent[],
        next_cursor: page.next ? encodeCursor([page.next.time, page.next.seq]) : null,
      },
      200,
    );
  },
);

const Dimension = z.enum(["customer", "product", "metric"]);

export const RollupRow = z
  .object({
    start: z.string(),
    customer: z.string().optional(),
    product: z.string().optional(),
    metric: z.string().optional(),
    units: z.string(),
    revenue: z.string(),
    cost: z.string(),
    events: z.number(),
  })
  .openapi("RollupRow");

usage.openapi(
  createRoute({
    method: "get",
    path: "/rollups",
    tags: ["usage"],
    summary: "Units, revenue, COGS and events by customer/product/metric per hour or day",
    security,
    request: {
      query: z.object({
        group_by: z
          .string()
          .max(64)
          .optional()
          .transform((s, ctx) => {
            const parts = s
              ? s
                  .split(",")
                  .map((p) => p.trim())
                  .filter(Boolean)
              : [];
            const dims: z.infer<typeof Dimension>[] = [];
            for (const p of parts) {
              const d = Dimension.safeParse(p);
              if (!d.success) {
                ctx.addIssue({
                  code: "custom",
                  message: `cannot group by '${p}' (customer, product, metric)`,
                });
                return z.NEVER;
              }
              if (!dims.includes(d.data)) dims.push(d.data);
            }
            return dims;
          })
          .openapi({ type: "string", example: "customer,metric" }),
        granularity: z.enum(["hour", "day"]).default("day"),
        from: Timestamp.optional(),
        to: Timestamp.optional(),
        customer: Id.optional(),
        product: Id.optional(),
        metric: Id.optional(),
      }),
    },
    responses: {
      200: jsonResponse(z.object({ data: z.array(RollupRow) }), "Rows ordered by start"),
      ...problemResponses,
    },
  }),
  async (c) => {
    const q = c.req.valid("query");
    const to = q.to ?? Date.now() + HOUR_MS;
    const from = q.from ?? to - 30 * DAY_MS;
    if (from >= to) {
      throw validationError(
        [{ path: "query.from", message: "must be before to" }],
        "from must be before to",
      );
    }
    const span = (to - from) / (q.granularity === "hour" ? HOUR_MS : DAY_MS);
    if (span > (q.granularity === "hour" ? 24 * 93 : 3660)) {
      throw validationError(
        [{ path: "query.from", message: "at most 93 days of hours or 10 years of days" }],
        "time range too long for this granularity",
      );
    }
    const rows = await rollupTotals(c.env.DB, c.var.tenantId, {
      granularity: q.granularity,
      from,
      to,
      groupBy: q.group_by ?? [],
      customer: q.customer ?? null,
      product: q.product ?? null,
      metric: q.metric ?? null,
    });
    return c.json(
      {
        data: rows.map((r) => ({
          start: new Date(r.start).toISOString(),
          ...r.keys,
          units: formatQuantity(r.units),
          revenue: formatMoney(r.revenue, 2),
          cost: formatMoney(r.cost, 2),
          events: r.events,
        })),
      },
      200,
    );
  },
);

export const LiveQuery = z.object({
  product: Id.optional(),
  customer: Id.optional(),
  metric: Id.optional(),
  status: z.enum(["accepted", "rejected"]).optional(),
});

usage.openapi(
  createRoute({
    method: "get",
    path: "/live",
    tags: ["usage"],
    summary: "Server-Sent Events of events as they are processed, accepted and rejected",
    description:
      "Events: `accepted` and `rejected` (data: JSON with customer, product, metric, quantity, revenue, cost, flags or errors), `dropped` (this client was too slow; count of events it missed), heartbeats every 15 s as comments.",
    security,
    request: { query: LiveQuery },
    responses: { 200: { description: "text/event-stream" }, ...problemResponses },
  }),
  async (c) => {
    const filter: LiveFilter = c.req.valid("query");
    const stream = await subscribeLive(c.env, c.var.tenantId, filter);
    return new Response(stream, {
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache, no-transform",
        "x-accel-buffering": "no",
      },
    });
  },
);
