import { createRoute, z } from "@hono/zod-openapi";
import { actorName } from "../../durable-objects/customer-actor";
import { tenantCustomerIds } from "../../store/rollups";
import { createRouter } from "../app";
import { permit } from "../permit";
import { problemResponses } from "../problem";
import { jsonBody, jsonResponse, Timestamp } from "../schemas";
import { tenantCatalog } from "../tenant-catalog";

// Replay and backfill (SPEC §5): closing every customer's hours and days on demand, so the
// detectors run on them as they would have live.
export const replay = createRouter();
const security = [{ operatorToken: [] }];

/** Customers whose actors close hours at once. */
const CONCURRENT_ACTORS = 20;

replay.openapi(
  createRoute(
    permit("pipeline:operate", null, {
      method: "post",
      path: "/detectors/evaluate",
      tags: ["detection"],
      summary: "Close every hour and day up to as_of for all of the tenant's customers",
      description:
        "For replay and backfill: each customer's detectors run on the hours and days that end at or before as_of (silent hours count as zero). Idempotent: hours already closed are not evaluated again, and signals are kept once per idempotency key.",
      security,
      request: { body: jsonBody(z.object({ as_of: Timestamp.optional() })) },
      responses: {
        200: jsonResponse(
          z.object({ as_of: z.string(), customers: z.number(), new_signals: z.number() }),
          "Done",
        ),
        ...problemResponses,
      },
    }),
  ),
  async (c) => {
    const { as_of } = c.req.valid("json");
    const asOf = Math.min(as_of ?? Date.now(), Date.now());
    const tenantId = c.var.tenantId;
    const catalog = await tenantCatalog(c.env.DB, tenantId);
    // Every customer the catalog knows, and every one with usage on record.
    const customers = await tenantCustomerIds(c.env.DB, tenantId);
    let signals = 0;
    for (let i = 0; i < customers.length; i += CONCURRENT_ACTORS) {
      const counts = await Promise.all(
        customers
          .slice(i, i + CONCURRENT_ACTORS)
          .map((id) =>
            c.env.CUSTOMER_ACTOR.getByName(actorName(tenantId, id)).closeThrough(
              asOf,
              catalog.version,
            ),
          ),
      );
      signals += counts.reduce((a, b) => a + b, 0);
    }
    return c.json(
      { as_of: new Date(asOf).toISOString(), customers: customers.length, new_signals: signals },
      200,
    );
  },
);
