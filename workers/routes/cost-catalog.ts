import { createRoute, z } from "@hono/zod-openapi";
import { toNanos } from "../../domain/money";
import { MAX_PLAN_AMOUNT } from "../../domain/pricing";
import { type CostEntryRecord, loadCostCatalog, upsertCostEntries } from "../../store/catalog";
import { createRouter } from "../app";
import { permit } from "../permit";
import { problemResponses } from "../problem";
import { Amount, iso, jsonBody, jsonResponse, Timestamp } from "../schemas";

// Effective-dated provider/model prices (USD per million tokens, per call). PUT upserts: an
// entry with the same provider, model and effective_from replaces the earlier one.
export const costCatalog = createRouter();

const Label = z.string().trim().min(1).max(128);

/** A price costing can hold: USD to the nano (9 places), at most $100M per million tokens or
 * per call. The actor compiles the whole catalog for every batch, so one price it cannot parse
 * would fail every ingest, gate and detector run of the tenant; it is refused here instead. */
const Price = Amount.superRefine((v, ctx) => {
  let nanos: bigint;
  try {
    nanos = toNanos(v);
  } catch {
    ctx.addIssue({ code: "custom", message: "at most 9 decimal places (USD to the nano)" });
    return;
  }
  if (nanos > MAX_PLAN_AMOUNT) ctx.addIssue({ code: "custom", message: "at most 100000000" });
}).openapi({ type: "string", example: "3.00" });

const Entry = z.object({
  provider: Label.openapi({ example: "anthropic" }),
  model: Label.openapi({ example: "claude-sonnet-4-5" }),
  input_per_million: Price,
  output_per_million: Price,
  cached_input_per_million: Price.nullable().optional(),
  per_call: Price.nullable().optional(),
  effective_from: Timestamp,
});

export const EntryOut = z
  .object({
    provider: z.string(),
    model: z.string(),
    input_per_million: z.string(),
    output_per_million: z.string(),
    cached_input_per_million: z.string().nullable(),
    per_call: z.string().nullable(),
    effective_from: z.string(),
  })
  .openapi("CostCatalogEntry");

const security = [{ operatorToken: [] }];
const List = z.object({ data: z.array(EntryOut) });
const toOut = (r: CostEntryRecord) => ({ ...r, effective_from: iso(r.effective_from) ?? "" });

costCatalog.openapi(
  createRoute(
    permit("pricing:write", "cost_catalog.replace", {
      method: "put",
      path: "/",
      tags: ["catalog"],
      summary: "Add or replace model and provider prices",
      security,
      request: { body: jsonBody(z.array(Entry).min(1).max(500)) },
      responses: {
        200: jsonResponse(List, "The whole catalog after the change"),
        ...problemResponses,
      },
    }),
  ),
  async (c) => {
    const entries = c.req.valid("json");
    const db = c.env.DB;
    await upsertCostEntries(db, c.var.tenantId, entries, Date.now());
    return c.json({ data: (await loadCostCatalog(db, c.var.tenantId)).map(toOut) }, 200);
  },
);

costCatalog.openapi(
  createRoute({
    method: "get",
    path: "/",
    tags: ["catalog"],
    summary: "The cost catalog, every version",
    security,
    responses: {
      200: jsonResponse(List, "Entries by provider, model and effective date"),
      ...problemResponses,
    },
  }),
  async (c) => c.json({ data: (await loadCostCatalog(c.env.DB, c.var.tenantId)).map(toOut) }, 200),
);
