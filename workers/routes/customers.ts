import { createRoute, z } from "@hono/zod-openapi";
import {
  type CustomerRecord,
  getCustomer,
  insertCustomer,
  listCustomers,
  updateCustomer,
} from "../../store/customers";
import { createRouter } from "../app";
import { permit } from "../permit";
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

export const Customer = z
  .object({
    id: z.string(),
    name: z.string(),
    email: z.string().nullable(),
    metadata: z.record(z.string(), z.unknown()),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("Customer");

const toCustomer = (r: CustomerRecord) => ({
  id: r.id,
  name: r.name,
  email: r.email,
  metadata: r.metadata,
  created_at: iso(r.created_at) ?? "",
  updated_at: iso(r.updated_at) ?? "",
});

async function loadCustomer(db: D1Database, tenantId: string, id: string) {
  const row = await getCustomer(db, tenantId, id);
  if (!row) throw notFound("Customer", id);
  return toCustomer(row);
}

const security = [{ operatorToken: [] }];
const Email = z.email().max(254);

customers.openapi(
  createRoute(
    permit("customers:write", "customer.create", {
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
      responses: {
        201: jsonResponse(Customer, "Created"),
        ...problemResponses,
        ...conflictResponse,
      },
    }),
  ),
  async (c) => {
    const body = c.req.valid("json");
    const inserted = await insertCustomer(
      c.env.DB,
      c.var.tenantId,
      {
        id: body.id,
        name: body.name,
        email: body.email ?? null,
        metadata: body.metadata ?? {},
      },
      Date.now(),
    );
    if (!inserted) throw new ApiError("conflict", `Customer '${body.id}' already exists`);
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
    const results = await listCustomers(c.env.DB, c.var.tenantId, {
      after,
      q: q ?? null,
      limit: limit + 1,
    });
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
  createRoute(
    permit("customers:write", "customer.update", {
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
  ),
  async (c) => {
    const { id } = c.req.valid("param");
    const body = c.req.valid("json");
    const updated = await updateCustomer(c.env.DB, c.var.tenantId, id, body, Date.now());
    if (!updated) throw notFound("Customer", id);
    return c.json(await loadCustomer(c.env.DB, c.var.tenantId, id), 200);
  },
);
