import { createRoute, z } from "@hono/zod-openapi";
import { createRouter } from "../app";
import { ApiError, conflictResponse, notFound, problemResponses } from "../problem";
import {
  decodeCursor,
  Id,
  iso,
  jsonBody,
  jsonResponse,
  Name,
  PageQuery,
  page,
  pageOf,
} from "../schemas";

// The tenant's end customers, identified by the tenant's own id strings.
export const customers = createRouter();

const Metadata = z
  .record(z.string().max(64), z.union([z.string().max(500), z.number(), z.boolean(), z.null()]))
  .refine((m) => Object.keys(m).length <= 50, "at most 50 metadata keys")
  .openapi({
    description: "Free-form labels (segment, owner, …)",
    example: { segment: "enterprise" },
  });

const Customer = z
  .object({
    id: z.string(),
    name: z.string(),
    email: z.string().nullable(),
    metadata: z.record(z.string(), z.unknown()),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("Customer");

interface CustomerRow {
  id: string;
  name: string;
  email: string | null;
  metadata: string;
  created_at: number;
  updated_at: number;
}

const toCustomer = (r: CustomerRow) => ({
  id: r.id,
  name: r.name,
  email: r.email,
  metadata: JSON.parse(r.metadata) as Record<string, unknown>,
  created_at: iso(r.created_at) ?? "",
  updated_at: iso(r.updated_at) ?? "",
});

async function loadCustomer(db: D1Database, tenantId: string, id: string) {
  const row = await db
    .prepare(
      "SELECT id, name, email, metadata, created_at, updated_at FROM customers WHERE tenant_id = ? AND id = ?",
    )
    .bind(tenantId, id)
    .first<CustomerRow>();
  if (!row) throw notFound("Customer", id);
  return toCustomer(row);
}

const security = [{ operatorToken: [] }];
const Email = z.email().max(254);

customers.openapi(
  createRoute({
    method: "post",
    path: "/",
    tags: ["catalog"],
    summary: "Create a customer",
    security,
    request: {
      body: jsonBody(
        z.object({ id: Id, name: Name, email: Email.optional(), metadata: Metadata.optional() }),
      ),
    },
    responses: { 201: jsonResponse(Customer, "Created"), ...problemResponses, ...conflictResponse },
  }),
  async (c) => {
    const body = c.req.valid("json");
    const now = Date.now();
    const inserted = await c.env.DB.prepare(
      `INSERT INTO customers (tenant_id, id, name, email, metadata, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    )
      .bind(
        c.var.tenantId,
        body.id,
        body.name,
        body.email ?? null,
        JSON.stringify(body.metadata ?? {}),
        now,
        now,
      )
      .run();
    if (inserted.meta.changes === 0)
      throw new ApiError("conflict", `Customer '${body.id}' already exists`);
    return c.json(await loadCustomer(c.env.DB, c.var.tenantId, body.id), 201);
  },
);

customers.openapi(
  createRoute({
    method: "get",
    path: "/",
    tags: ["catalog"],
    summary: "List customers",
    security,
    request: {
      query: PageQuery.extend({
        q: z.string().max(200).optional().openapi({ description: "Match on id, name or email" }),
      }),
    },
    responses: { 200: jsonResponse(page(Customer), "A page of customers"), ...problemResponses },
  }),
  async (c) => {
    const { limit, cursor, q } = c.req.valid("query");
    const after = decodeCursor(cursor, ["string"])?.[0] ?? "";
    const like = q ? `%${q.replace(/[\\%_]/g, (m) => `\\${m}`)}%` : null;
    const { results } = await c.env.DB.prepare(
      `SELECT id, name, email, metadata, created_at, updated_at FROM customers
       WHERE tenant_id = ?1 AND id > ?2
         AND (?3 IS NULL OR id LIKE ?3 ESCAPE '\\' OR name LIKE ?3 ESCAPE '\\' OR email LIKE ?3 ESCAPE '\\')
       ORDER BY id LIMIT ?4`,
    )
      .bind(c.var.tenantId, after, like, limit + 1)
      .all<CustomerRow>();
    return c.json(
      pageOf(results, limit, toCustomer, (r) => [r.id]),
      200,
    );
  },
);

const CustomerParams = z.object({ id: Id });

customers.openapi(
  createRoute({
    method: "get",
    path: "/{id}",
    tags: ["catalog"],
    summary: "Get a customer",
    security,
    request: { params: CustomerParams },
    responses: { 200: jsonResponse(Customer, "The customer"), ...problemResponses },
  }),
  async (c) => c.json(await loadCustomer(c.env.DB, c.var.tenantId, c.req.valid("param").id), 200),
);

customers.openapi(
  createRoute({
    method: "patch",
    path: "/{id}",
    tags: ["catalog"],
    summary: "Update a customer's name, email or metadata",
    security,
    request: {
      params: CustomerParams,
      body: jsonBody(
        z
          .object({
            name: Name.optional(),
            email: Email.nullable().optional(),
            metadata: Metadata.optional(),
          })
          .strict()
          .refine((b) => Object.keys(b).length > 0, "send at least one of name, email, metadata"),
      ),
    },
    responses: { 200: jsonResponse(Customer, "Updated"), ...problemResponses },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const body = c.req.valid("json");
    const updated = await c.env.DB.prepare(
      `UPDATE customers SET name = COALESCE(?, name),
         email = CASE WHEN ? THEN ? ELSE email END,
         metadata = COALESCE(?, metadata), updated_at = ?
       WHERE tenant_id = ? AND id = ?`,
    )
      .bind(
        body.name ?? null,
        body.email !== undefined ? 1 : 0,
        body.email ?? null,
        body.metadata ? JSON.stringify(body.metadata) : null,
        Date.now(),
        c.var.tenantId,
        id,
      )
      .run();
    if (updated.meta.changes === 0) throw notFound("Customer", id);
    return c.json(await loadCustomer(c.env.DB, c.var.tenantId, id), 200);
  },
);
