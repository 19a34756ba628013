import { createRoute, z } from "@hono/zod-openapi";
import { createRouter } from "../app";
import { problemResponses } from "../problem";
import { Amount, iso, jsonBody, jsonResponse, Timestamp } from "../schemas";

// Effective-dated provider/model prices (USD per million tokens, per call). PUT upserts: an
// entry with the same provider, model and effective_from replaces the earlier one.
export const costCatalog = createRouter();

const Label = z.string().trim().min(1).max(128);

const Entry = z.object({
  provider: Label.openapi({ example: "anthropic" }),
  model: Label.openapi({ example: "claude-sonnet-4-5" }),
  input_per_million: Amount,
  output_per_million: Amount,
  cached_input_per_million: Amount.nullable().optional(),
  per_call: Amount.nullable().optional(),
  effective_from: Timestamp,
});

const EntryOut = z
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

interface EntryRow {
  provider: string;
  model: string;
  input_per_million: string;
  output_per_million: string;
  cached_input_per_million: string | null;
  per_call: string | null;
  effective_from: number;
}

export async function loadCostCatalog(db: D1Database, tenantId: string) {
  const { results } = await db
    .prepare(
      `SELECT provider, model, input_per_million, output_per_million, cached_input_per_million, per_call, effective_from
       FROM cost_catalog WHERE tenant_id = ? ORDER BY provider, model, effective_from`,
    )
    .bind(tenantId)
    .all<EntryRow>();
  return results;
}

const security = [{ operatorToken: [] }];
const List = z.object({ data: z.array(EntryOut) });
const toOut = (r: EntryRow) => ({ ...r, effective_from: iso(r.effective_from) ?? "" });

costCatalog.openapi(
  createRoute({
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
  async (c) => {
    const entries = c.req.valid("json");
    const db = c.env.DB;
    const now = Date.now();
    await db.batch(
      entries.map((e) =>
        db
          .prepare(
            `INSERT INTO cost_catalog (tenant_id, provider, model, effective_from, input_per_million,
               output_per_million, cached_input_per_million, per_call, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (tenant_id, provider, model, effective_from) DO UPDATE SET
               input_per_million = excluded.input_per_million, output_per_million = excluded.output_per_million,
               cached_input_per_million = excluded.cached_input_per_million, per_call = excluded.per_call,
               updated_at = excluded.updated_at`,
          )
          .bind(
            c.var.tenantId,
            e.provider,
            e.model,
            e.effective_from,
            e.input_per_million,
            e.output_per_million,
            e.cached_input_per_million ?? null,
            e.per_call ?? null,
            now,
          ),
      ),
    );
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
