import { createRoute, z } from "@hono/zod-openapi";
import { isRole, mayGrant, ROLES } from "../../domain/roles";
import {
  getKey,
  type KeyRecord,
  keyById,
  keyInsert,
  listKeys,
  revokeKey,
} from "../../store/tenants";
import { createRouter } from "../app";
import { forgetKey, issueKey } from "../auth";
import { permit } from "../permit";
import { ApiError, conflictResponse, notFound, problemResponses } from "../problem";
import { iso, jsonBody, jsonResponse, Name } from "../schemas";

// Key rotation for a tenant's operators: issue a new key, then revoke the old one.
export const keys = createRouter();

export const KeyKindSchema = z.enum(["ingest", "operator"]);

const RoleSchema = z.enum(ROLES);

export const IssuedKeySchema = z
  .object({
    id: z.string(),
    kind: KeyKindSchema,
    name: z.string().nullable(),
    role: RoleSchema.openapi({
      description: "What an operator token may do; ingest keys ignore it",
    }),
    key: z.string().openapi({ description: "The secret key, shown only in this response" }),
  })
  .openapi("IssuedKey");

const KeySummary = z
  .object({
    id: z.string(),
    kind: KeyKindSchema,
    name: z.string().nullable(),
    role: RoleSchema,
    created_at: z.string(),
    revoked_at: z.string().nullable(),
  })
  .openapi("ApiKey");

const toSummary = (k: KeyRecord) => ({
  id: k.id,
  kind: k.kind,
  name: k.name,
  role: isRole(k.role) ? k.role : "viewer",
  created_at: iso(k.created_at) ?? "",
  revoked_at: iso(k.revoked_at),
});

keys.openapi(
  createRoute({
    method: "get",
    path: "/",
    tags: ["keys"],
    summary: "List the tenant's keys (never their secrets)",
    security: [{ operatorToken: [] }],
    responses: {
      200: jsonResponse(z.object({ data: z.array(KeySummary) }), "Keys"),
      ...problemResponses,
    },
  }),
  async (c) => {
    const results = await listKeys(c.env.DB, c.var.tenantId);
    return c.json({ data: results.map(toSummary) }, 200);
  },
);

keys.openapi(
  createRoute(
    permit("keys:manage", "key.issue", {
      method: "post",
      path: "/",
      tags: ["keys"],
      summary: "Issue a new ingest key or operator token",
      security: [{ operatorToken: [] }],
      request: {
        body: jsonBody(
          z.object({
            kind: KeyKindSchema,
            name: Name.optional(),
            role: RoleSchema.optional().openapi({
              description: "An operator token's role; defaults to yours, and may not exceed it",
            }),
          }),
        ),
      },
      responses: {
        201: jsonResponse(IssuedKeySchema, "The new key, shown once"),
        ...problemResponses,
      },
    }),
  ),
  async (c) => {
    const { kind, name, role: asked } = c.req.valid("json");
    const role = asked ?? c.var.actor.role;
    if (!mayGrant(c.var.actor.role, role)) {
      throw new ApiError(
        "forbidden",
        `Your role (${c.var.actor.role}) cannot issue a token with the role ${role}: it holds permissions you lack`,
      );
    }
    const key = await issueKey(kind);
    await keyInsert(c.env.DB, c.var.tenantId, key, name ?? null, role).run();
    return c.json({ id: key.id, kind, name: name ?? null, role, key: key.key }, 201);
  },
);

keys.openapi(
  createRoute(
    permit("keys:manage", "key.revoke", {
      method: "post",
      path: "/{id}/revoke",
      tags: ["keys"],
      summary: "Revoke a key (the tenant's last operator token cannot be revoked)",
      security: [{ operatorToken: [] }],
      request: { params: z.object({ id: z.string().max(64) }) },
      responses: {
        200: jsonResponse(KeySummary, "The revoked key"),
        ...problemResponses,
        ...conflictResponse,
      },
    }),
  ),
  async (c) => {
    const { id } = c.req.valid("param");
    const db = c.env.DB;
    const tenantId = c.var.tenantId;
    const key = await getKey(db, tenantId, id);
    if (!key) throw notFound("Key", id);
    if (key.revoked_at === null) {
      // The last active operator token stays (the guard is part of the update).
      if (!(await revokeKey(db, tenantId, id, Date.now()))) {
        throw new ApiError(
          "conflict",
          "This is the tenant's last active operator token; issue another first",
        );
      }
      forgetKey(id);
    }
    const after = await keyById(db, id);
    return c.json(toSummary(after ?? key), 200);
  },
);
