import { createRoute, z } from "@hono/zod-openapi";
import { formatMoney, formatQuantity } from "../../domain/money";
import { actorName, type StoredEvent } from "../../durable-objects/customer-actor";
import { createRouter } from "../app";
import { type LiveFilter, subscribeLive } from "../live";
import { ApiError, problemResponses } from "../problem";
import { decodeCursor, encodeCursor, Id, jsonResponse, page, Timestamp } from "../schemas";

// The read side of ingestion: a customer's raw events (drill-down), usage rollups, and the
// live stream.
export const usage = createRouter();
const security = [{ operatorToken: [] }];

const StoredEventSchema = z
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
    const key = decodeCursor(cursor, ["number", "number"]);
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
const DIMENSION_COLUMN = {
  customer: "customer_id",
  product: "product_id",
  metric: "metric_id",
} as const;

const RollupRow = z
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
    const to = q.to ?? Date.now() + 3_600_000;
    const from = q.from ?? to - 30 * 86_400_000;
    if (from >= to) {
      throw new ApiError("validation_failed", "from must be before to", [
        { path: "query.from", message: "must be before to" },
      ]);
    }
    const span = (to - from) / (q.granularity === "hour" ? 3_600_000 : 86_400_000);
    if (span > (q.granularity === "hour" ? 24 * 93 : 3660)) {
      throw new ApiError("validation_failed", "time range too long for this granularity", [
        { path: "query.from", message: "at most 93 days of hours or 10 years of days" },
      ]);
    }
    const dims = q.group_by ?? [];
    const columns = dims.map((d) => `${DIMENSION_COLUMN[d]} AS ${d}`);
    const table = q.granularity === "hour" ? "rollups_hourly" : "rollups_daily";
    const { results } = await c.env.DB.prepare(
      `SELECT start, ${[...columns, ""].join(", ")}
         CAST(SUM(units) AS TEXT) AS units, CAST(SUM(revenue) AS TEXT) AS revenue,
         CAST(SUM(cost) AS TEXT) AS cost, SUM(events) AS events
       FROM ${table}
       WHERE tenant_id = ?1 AND start >= ?2 AND start < ?3
         AND (?4 IS NULL OR customer_id = ?4) AND (?5 IS NULL OR product_id = ?5)
         AND (?6 IS NULL OR metric_id = ?6)
       GROUP BY start${dims.map((d) => `, ${d}`).join("")}
       ORDER BY start${dims.map((d) => `, ${d}`).join("")}
       LIMIT 50000`,
    )
      .bind(c.var.tenantId, from, to, q.customer ?? null, q.product ?? null, q.metric ?? null)
      .all<Record<string, string | number>>();
    return c.json(
      {
        data: results.map((r) => ({
          start: new Date(Number(r.start)).toISOString(),
          ...Object.fromEntries(dims.map((d) => [d, String(r[d])])),
          units: formatQuantity(BigInt(r.units ?? 0)),
          revenue: formatMoney(BigInt(r.revenue ?? 0), 2),
          cost: formatMoney(BigInt(r.cost ?? 0), 2),
          events: Number(r.events),
        })),
      },
      200,
    );
  },
);

usage.openAPIRegistry.registerPath({
  method: "get",
  path: "/live",
  tags: ["usage"],
  summary: "Server-Sent Events of events as they are processed, accepted and rejected",
  description:
    "Events: `accepted` and `rejected` (data: JSON with customer, product, metric, quantity, revenue, cost, flags or errors), `dropped` (this client was too slow; count of events it missed), heartbeats every 15 s as comments.",
  security,
  request: {
    query: z.object({
      product: Id.optional(),
      customer: Id.optional(),
      metric: Id.optional(),
      status: z.enum(["accepted", "rejected"]).optional(),
    }),
  },
  responses: { 200: { description: "text/event-stream" }, ...problemResponses },
});

const LiveQuery = z.object({
  product: Id.optional(),
  customer: Id.optional(),
  metric: Id.optional(),
  status: z.enum(["accepted", "rejected"]).optional(),
});

usage.get("/live", async (c) => {
  const parsed = LiveQuery.safeParse(c.req.query());
  if (!parsed.success) {
    throw new ApiError(
      "validation_failed",
      "invalid filter",
      parsed.error.issues.map((i) => ({ path: `query.${i.path.join(".")}`, message: i.message })),
    );
  }
  const stream = await subscribeLive(c.env, c.var.tenantId, parsed.data as LiveFilter);
  return new Response(stream, {
    headers: {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      "x-accel-buffering": "no",
    },
  });
});
