import { createRoute, z } from "@hono/zod-openapi";
import { ROLES } from "../../domain/roles";
import { isUniqueViolation } from "../../store/d1";
import { memberByEmail, memberInsert } from "../../store/members";
import { keyInsert, listTenants, tenantExists, tenantInsert } from "../../store/tenants";
import { createRouter } from "../app";
import { type IssuedKey, issueKey, randomHex, requireAdmin } from "../auth";
import { ApiError, conflictResponse, notFound, problemResponses } from "../problem";
import { Id, iso, jsonBody, jsonResponse, Name } from "../schemas";
import { mintSignInLink, publicOrigin } from "../sign-in-links";
import { TenantSettings } from "../tenant-settings";
import { IssuedKeySchema, KeyKindSchema } from "./keys";
import { MemberSchema, toMember } from "./members";

// Platform administration: creating tenants and recovering their keys (admin token only).
export const admin = createRouter();
admin.use("*", requireAdmin);

const TenantCreated = z
  .object({
    tenant_id: z.string(),
    name: z.string(),
    ingest_key: z.string().openapi({ description: "For /v1/*; shown once, stored only hashed" }),
    operator_token: z
      .string()
      .openapi({ description: "For /api/*, with owner rights; shown once, stored only hashed" }),
    owner: MemberSchema.nullable().openapi({
      description: "The owner member made from `owner_email` (sign in with POST /auth/magic-link)",
    }),
  })
  .openapi("TenantCreated");

const Email = z
  .email()
  .max(254)
  .transform((e) => e.toLowerCase());

admin.openapi(
  createRoute({
    method: "post",
    path: "/tenants",
    tags: ["admin"],
    summary: "Create a tenant with its first ingest key and operator token",
    security: [{ adminToken: [] }],
    request: {
      body: jsonBody(
        z.object({
          name: Name,
          id: Id.optional().openapi({ description: "Defaults to a random id" }),
          settings: TenantSettings.partial().optional(),
          owner_email: Email.optional().openapi({
            description: "The first person, an owner, who signs in by magic link or passkey",
          }),
          owner_name: Name.optional(),
        }),
      ),
    },
    responses: {
      201: jsonResponse(TenantCreated, "The tenant and its keys"),
      ...problemResponses,
      ...conflictResponse,
    },
  }),
  async (c) => {
    const body = c.req.valid("json");
    const tenantId = body.id ?? `ten_${randomHex(8)}`;
    const settings = TenantSettings.parse(body.settings ?? {});
    const [ingest, operator] = await Promise.all([issueKey("ingest"), issueKey("operator")]);
    const db = c.env.DB;
    const now = Date.now();
    const owner = body.owner_email
      ? {
          id: `mem_${randomHex(8)}`,
          tenant_id: tenantId,
          email: body.owner_email,
          name: body.owner_name ?? null,
          role: "owner" as const,
          status: "invited" as const,
          invited_by: "admin",
          created_at: now,
          last_sign_in_at: null,
        }
      : null;
    try {
      // One transaction: a tenant never exists without its keys.
      await db.batch([
        tenantInsert(db, { id: tenantId, name: body.name, settings, created_at: Date.now() }),
        keyInsert(db, tenantId, ingest, "initial"),
        keyInsert(db, tenantId, operator, "initial"),
        ...(owner ? [memberInsert(db, owner)] : []),
      ]);
    } catch (err) {
      if (isUniqueViolation(err)) {
        throw new ApiError("conflict", `Tenant '${tenantId}' already exists`);
      }
      throw err;
    }
    // Start the tenant's periodic work (a DO alarm; the cron only re-arms it).
    c.executionCtx.waitUntil(c.env.TENANT_CLOCK.getByName(tenantId).tick(tenantId));
    return c.json(
      {
        tenant_id: tenantId,
        name: body.name,
        ingest_key: ingest.key,
        operator_token: operator.key,
        owner: owner ? toMember(owner) : null,
      },
      201,
    );
  },
);

const TenantSummary = z
  .object({ id: z.string(), name: z.string(), created_at: z.string() })
  .openapi("TenantSummary");

admin.openapi(
  createRoute({
    method: "get",
    path: "/tenants",
    tags: ["admin"],
    summary: "List tenants",
    security: [{ adminToken: [] }],
    responses: {
      200: jsonResponse(z.object({ data: z.array(TenantSummary) }), "All tenants"),
      ...problemResponses,
    },
  }),
  async (c) => {
    const results = await listTenants(c.env.DB);
    return c.json(
      {
        data: results.map((t) => ({ id: t.id, name: t.name, created_at: iso(t.created_at) ?? "" })),
      },
      200,
    );
  },
);

admin.openapi(
  createRoute({
    method: "post",
    path: "/tenants/{id}/keys",
    tags: ["admin"],
    summary: "Issue a key for a tenant (recovery when its operator tokens are lost)",
    security: [{ adminToken: [] }],
    request: {
      params: z.object({ id: Id }),
      body: jsonBody(
        z.object({
          kind: KeyKindSchema,
          name: Name.optional(),
          role: z.enum(ROLES).default("owner"),
        }),
      ),
    },
    responses: {
      201: jsonResponse(IssuedKeySchema, "The new key, shown once"),
      ...problemResponses,
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const { kind, name, role } = c.req.valid("json");
    if (!(await tenantExists(c.env.DB, id))) throw notFound("Tenant", id);
    const key: IssuedKey = await issueKey(kind);
    await keyInsert(c.env.DB, id, key, name ?? "admin-issued", role).run();
    return c.json({ id: key.id, kind, role, key: key.key, name: name ?? "admin-issued" }, 201);
  },
);

admin.openapi(
  createRoute({
    method: "post",
    path: "/tenants/{id}/sign-in-links",
    tags: ["admin"],
    summary:
      "Mint a single-use sign-in link for a member (recovery, and the link `npm start` prints)",
    security: [{ adminToken: [] }],
    request: {
      params: z.object({ id: Id }),
      body: jsonBody(
        z.object({
          email: Email,
          expires_in: z
            .number()
            .int()
            .min(60)
            .max(7 * 24 * 3600)
            .default(24 * 3600)
            .openapi({ description: "Seconds the link stays valid" }),
        }),
      ),
    },
    responses: {
      201: jsonResponse(z.object({ url: z.string(), expires_at: z.string() }), "The link"),
      ...problemResponses,
      ...conflictResponse,
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const { email, expires_in } = c.req.valid("json");
    const member = await memberByEmail(c.env.DB, id, email);
    if (!member || member.status === "removed") throw notFound("Member", email);
    const link = await mintSignInLink(
      c.env.DB,
      member,
      publicOrigin(c.env, c.req.url),
      expires_in * 1000,
    );
    if (!link) throw new ApiError("rate_limited", "Too many sign-in links for this member lately");
    return c.json({ url: link.url, expires_at: iso(link.expiresAt) ?? "" }, 201);
  },
);
