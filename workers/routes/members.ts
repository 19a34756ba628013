import { createRoute, z } from "@hono/zod-openapi";
import { generateRegistrationOptions, verifyRegistrationResponse } from "@simplewebauthn/server";
import {
  can,
  mayGrant,
  PERMISSIONS,
  PERSONAS,
  type Permission,
  ROLES,
  type Role,
} from "../../domain/roles";
import { isUniqueViolation } from "../../store/d1";
import {
  type AuditRecord,
  activeSessions,
  challengeInsert,
  deletePasskey,
  getMember,
  listAudit,
  listMembers,
  type MemberRecord,
  memberByEmail,
  memberInsert,
  memberReinstate,
  passkeyInsert,
  passkeysOf,
  removeMember,
  setMemberRole,
  takeChallenge,
} from "../../store/members";
import { type Actor, createRouter } from "../app";
import { base64url, randomHex } from "../auth";
import { permit } from "../permit";
import { ApiError, conflictResponse, notFound, problemResponses } from "../problem";
import {
  decodeCursor,
  iso,
  jsonBody,
  jsonResponse,
  Name,
  page,
  pageOf,
  Timestamp,
} from "../schemas";
import { INVITE_TTL_MS, mintSignInLink, publicOrigin, sendSignInEmail } from "../sign-in-links";
import { relyingParty } from "../webauthn";

// Operator accounts (issue 13): who you are (GET /api/me), the tenant's members (invite by
// e-mail, change a role, remove), your passkeys, and the audit log. Roles and permissions are
// domain/roles.ts; each route below declares the permission it needs with `permit`.
export const members = createRouter();
const security: Record<string, string[]>[] = [{ operatorToken: [] }, { sessionCookie: [] }];

export const RoleSchema = z.enum(ROLES);
const PermissionSchema = z.enum(Object.keys(PERMISSIONS) as [Permission, ...Permission[]]);
const Email = z
  .email()
  .max(254)
  .transform((e) => e.toLowerCase());

export const MemberSchema = z
  .object({
    id: z.string(),
    email: z.string(),
    name: z.string().nullable(),
    role: RoleSchema,
    persona: z
      .enum(["product", "finance", "revops", "engineering"])
      .openapi({ description: "The stakeholder home this role opens by: /home/<persona>" }),
    status: z.enum(["invited", "active"]),
    invited_by: z.string().nullable(),
    created_at: z.string(),
    last_sign_in_at: z.string().nullable(),
  })
  .openapi("Member");

export const toMember = (m: MemberRecord): z.infer<typeof MemberSchema> => ({
  id: m.id,
  email: m.email,
  name: m.name,
  role: m.role,
  persona: PERSONAS[m.role],
  status: m.status === "active" ? "active" : "invited",
  invited_by: m.invited_by,
  created_at: iso(m.created_at) ?? "",
  last_sign_in_at: iso(m.last_sign_in_at),
});

export const Me = z
  .object({
    kind: z.enum(["member", "token"]),
    id: z.string(),
    actor: z.string().openapi({ description: "How trails and the audit log name you" }),
    name: z.string().nullable(),
    email: z.string().nullable(),
    role: RoleSchema,
    persona: z
      .enum(["product", "finance", "revops", "engineering"])
      .openapi({ description: "The stakeholder home this role opens by: /home/<persona>" }),
    tenant_id: z.string(),
    permissions: z.array(PermissionSchema),
    refused: z
      .record(z.string(), z.string())
      .openapi({ description: "Each permission you lack, with the sentence the dashboard shows" }),
    csrf_token: z
      .string()
      .nullable()
      .openapi({ description: "Send as X-CSRF-Token on state-changing requests (sessions)" }),
    sessions: z.number().int().nullable(),
  })
  .openapi("Me");

members.openapi(
  createRoute({
    method: "get",
    path: "/me",
    tags: ["accounts"],
    summary: "Who you are, your role and what you may do",
    security,
    responses: { 200: jsonResponse(Me, "The caller"), ...problemResponses },
  }),
  async (c) => {
    const a = c.var.actor;
    const all = Object.keys(PERMISSIONS) as Permission[];
    const sessions =
      a.kind === "member" ? (await activeSessions(c.env.DB, a.id, Date.now())).length : null;
    return c.json(
      {
        kind: a.kind,
        id: a.id,
        actor: a.ref,
        name: a.name,
        email: a.email,
        role: a.role,
        persona: PERSONAS[a.role],
        tenant_id: c.var.tenantId,
        permissions: all.filter((p) => can(a.role, p)),
        refused: Object.fromEntries(
          all
            .filter((p) => !can(a.role, p))
            .map((p) => [p, `Your role (${a.role}) may not ${PERMISSIONS[p]}`]),
        ),
        csrf_token: a.csrfToken,
        sessions,
      },
      200,
    );
  },
);

members.openapi(
  createRoute({
    method: "get",
    path: "/members",
    tags: ["accounts"],
    summary: "The tenant's members (invited and active)",
    security,
    responses: {
      200: jsonResponse(z.object({ data: z.array(MemberSchema) }), "Members"),
      ...problemResponses,
    },
  }),
  async (c) => {
    const rows = await listMembers(c.env.DB, c.var.tenantId);
    return c.json({ data: rows.map(toMember) }, 200);
  },
);

/** Refuses granting a role the caller may not give (only owners make owners). */
function assertMayGrant(actor: Actor, role: Role) {
  if (!mayGrant(actor.role, role)) {
    throw new ApiError(
      "forbidden",
      role === "owner"
        ? "Only an owner can make someone an owner"
        : `Your role (${actor.role}) cannot grant the role ${role}: it holds permissions you lack`,
    );
  }
}

async function workspaceName(db: D1Database, tenantId: string) {
  const row = await db
    .prepare("SELECT name FROM tenants WHERE id = ?")
    .bind(tenantId)
    .first<{ name: string }>();
  return row?.name ?? tenantId;
}

members.openapi(
  createRoute(
    permit("members:manage", "member.invite", {
      method: "post",
      path: "/members",
      tags: ["accounts"],
      summary: "Invite someone by e-mail: they get a sign-in link valid for 7 days",
      security,
      request: {
        body: jsonBody(z.object({ email: Email, role: RoleSchema, name: Name.optional() })),
      },
      responses: {
        201: jsonResponse(MemberSchema, "The invited member"),
        ...problemResponses,
        ...conflictResponse,
      },
    }),
  ),
  async (c) => {
    const body = c.req.valid("json");
    const actor = c.var.actor;
    assertMayGrant(actor, body.role);
    const db = c.env.DB;
    const tenantId = c.var.tenantId;
    const existing = await memberByEmail(db, tenantId, body.email);
    if (existing && existing.status !== "removed") {
      throw new ApiError("conflict", `${body.email} is already a member (${existing.role})`);
    }
    const now = Date.now();
    try {
      if (existing) {
        await memberReinstate(db, tenantId, existing.id, body.role, actor.ref).run();
      } else {
        await memberInsert(db, {
          id: `mem_${randomHex(8)}`,
          tenant_id: tenantId,
          email: body.email,
          name: body.name ?? null,
          role: body.role,
          status: "invited",
          invited_by: actor.ref,
          created_at: now,
        }).run();
      }
    } catch (err) {
      if (isUniqueViolation(err))
        throw new ApiError("conflict", `${body.email} is already a member`);
      throw err;
    }
    const member = await memberByEmail(db, tenantId, body.email);
    if (!member) throw new ApiError("internal", "the invited member was not stored");
    const link = await mintSignInLink(db, member, publicOrigin(c.env, c.req.url), INVITE_TTL_MS);
    if (link) {
      await sendSignInEmail(c.env, member.email, link, {
        workspace: await workspaceName(db, tenantId),
        invitedBy: actor.name ?? actor.email ?? "An operator",
        role: member.role,
      });
    }
    return c.json(toMember(member), 201);
  },
);

const MemberId = z.object({ id: z.string().max(64) });

members.openapi(
  createRoute(
    permit("members:manage", "member.update", {
      method: "patch",
      path: "/members/{id}",
      tags: ["accounts"],
      summary: "Change a member's role (the last owner keeps theirs)",
      security,
      request: { params: MemberId, body: jsonBody(z.object({ role: RoleSchema })) },
      responses: {
        200: jsonResponse(MemberSchema, "The member"),
        ...problemResponses,
        ...conflictResponse,
      },
    }),
  ),
  async (c) => {
    const { id } = c.req.valid("param");
    const { role } = c.req.valid("json");
    const db = c.env.DB;
    const member = await getMember(db, c.var.tenantId, id);
    if (!member || member.status === "removed") throw notFound("Member", id);
    assertMayGrant(c.var.actor, member.role);
    assertMayGrant(c.var.actor, role);
    if (!(await setMemberRole(db, c.var.tenantId, id, role))) {
      throw new ApiError(
        "conflict",
        "This is the workspace's last owner who can sign in; make someone else owner, and have them sign in once, first",
      );
    }
    const after = await getMember(db, c.var.tenantId, id);
    return c.json(toMember(after ?? member), 200);
  },
);

members.openapi(
  createRoute(
    permit("members:manage", "member.remove", {
      method: "delete",
      path: "/members/{id}",
      tags: ["accounts"],
      summary: "Remove a member and end their sessions (the last owner cannot be removed)",
      security,
      request: { params: MemberId },
      responses: {
        204: { description: "Removed" },
        ...problemResponses,
        ...conflictResponse,
      },
    }),
  ),
  async (c) => {
    const { id } = c.req.valid("param");
    const db = c.env.DB;
    const member = await getMember(db, c.var.tenantId, id);
    if (!member || member.status === "removed") throw notFound("Member", id);
    assertMayGrant(c.var.actor, member.role);
    if (!(await removeMember(db, c.var.tenantId, id, Date.now()))) {
      throw new ApiError(
        "conflict",
        "This is the workspace's last owner who can sign in; make someone else owner, and have them sign in once, first",
      );
    }
    return c.body(null, 204);
  },
);

// ---------------------------------------------------------------------------------------------
// Your passkeys (WebAuthn, @simplewebauthn/server). Registering needs a signed-in session.

export const Passkey = z
  .object({
    id: z.string(),
    name: z.string().nullable(),
    created_at: z.string(),
    last_used_at: z.string().nullable(),
  })
  .openapi("Passkey");

function sessionMember(actor: Actor) {
  if (actor.kind !== "member" || !actor.email) {
    throw new ApiError(
      "forbidden",
      "Passkeys belong to people: sign in with a session, not a token",
    );
  }
  return { id: actor.id, email: actor.email, name: actor.name };
}

const CHALLENGE_TTL_MS = 5 * 60_000;

members.openapi(
  createRoute({
    method: "get",
    path: "/me/passkeys",
    tags: ["accounts"],
    summary: "Your passkeys",
    security,
    responses: {
      200: jsonResponse(z.object({ data: z.array(Passkey) }), "Passkeys"),
      ...problemResponses,
    },
  }),
  async (c) => {
    const me = sessionMember(c.var.actor);
    const rows = await passkeysOf(c.env.DB, me.id);
    return c.json(
      {
        data: rows.map((p) => ({
          id: p.id,
          name: p.name,
          created_at: iso(p.created_at) ?? "",
          last_used_at: iso(p.last_used_at),
        })),
      },
      200,
    );
  },
);

members.openapi(
  createRoute(
    permit("read", null, {
      method: "post",
      path: "/me/passkeys/options",
      tags: ["accounts"],
      summary: "Start registering a passkey: WebAuthn creation options and a challenge id",
      security,
      responses: {
        200: jsonResponse(
          z.object({ challenge_id: z.string(), options: z.record(z.string(), z.unknown()) }),
          "Pass `options` to navigator.credentials.create (or @simplewebauthn/browser)",
        ),
        ...problemResponses,
      },
    }),
  ),
  async (c) => {
    const me = sessionMember(c.var.actor);
    const db = c.env.DB;
    const rp = relyingParty(c.env, c.req.url);
    const existing = await passkeysOf(db, me.id);
    const options = await generateRegistrationOptions({
      rpName: rp.name,
      rpID: rp.id,
      userName: me.email,
      userDisplayName: me.name ?? me.email,
      userID: Uint8Array.from(new TextEncoder().encode(me.id)),
      attestationType: "none",
      excludeCredentials: existing.map((p) => ({ id: p.id })),
      authenticatorSelection: { residentKey: "required", userVerification: "preferred" },
    });
    const challengeId = randomHex(16);
    await challengeInsert(db, {
      id: challengeId,
      challenge: options.challenge,
      purpose: "register",
      memberId: me.id,
      expiresAt: Date.now() + CHALLENGE_TTL_MS,
    }).run();
    return c.json(
      { challenge_id: challengeId, options: options as unknown as Record<string, unknown> },
      200,
    );
  },
);

members.openapi(
  createRoute(
    permit("read", "passkey.register", {
      method: "post",
      path: "/me/passkeys",
      tags: ["accounts"],
      summary: "Finish registering a passkey with the authenticator's answer",
      security,
      request: {
        body: jsonBody(
          z.object({
            challenge_id: z.string().max(64),
            response: z.record(z.string(), z.unknown()),
            name: Name.optional(),
          }),
        ),
      },
      responses: { 201: jsonResponse(Passkey, "The passkey"), ...problemResponses },
    }),
  ),
  async (c) => {
    const me = sessionMember(c.var.actor);
    const body = c.req.valid("json");
    const db = c.env.DB;
    const now = Date.now();
    const challenge = await takeChallenge(db, body.challenge_id, "register", now);
    if (!challenge || challenge.member_id !== me.id) {
      throw new ApiError(
        "validation_failed",
        "The registration challenge is unknown or expired; start again",
      );
    }
    const rp = relyingParty(c.env, c.req.url);
    let verified: Awaited<ReturnType<typeof verifyRegistrationResponse>>;
    try {
      verified = await verifyRegistrationResponse({
        response: body.response as never,
        expectedChallenge: challenge.challenge,
        expectedOrigin: rp.origin,
        expectedRPID: rp.id,
        requireUserVerification: false,
      });
    } catch (err) {
      throw new ApiError(
        "validation_failed",
        `The passkey was not accepted: ${(err as Error).message}`,
      );
    }
    if (!verified.verified) throw new ApiError("validation_failed", "The passkey was not accepted");
    const cred = verified.registrationInfo.credential;
    await passkeyInsert(db, {
      id: cred.id,
      tenant_id: c.var.tenantId,
      member_id: me.id,
      public_key: base64url(cred.publicKey),
      counter: cred.counter,
      transports: JSON.stringify(cred.transports ?? []),
      name: body.name ?? null,
      created_at: now,
    }).run();
    return c.json(
      { id: cred.id, name: body.name ?? null, created_at: iso(now) ?? "", last_used_at: null },
      201,
    );
  },
);

members.openapi(
  createRoute(
    permit("read", "passkey.delete", {
      method: "delete",
      path: "/me/passkeys/{id}",
      tags: ["accounts"],
      summary: "Delete one of your passkeys",
      security,
      request: { params: z.object({ id: z.string().max(512) }) },
      responses: { 204: { description: "Deleted" }, ...problemResponses },
    }),
  ),
  async (c) => {
    const me = sessionMember(c.var.actor);
    const { id } = c.req.valid("param");
    if (!(await deletePasskey(c.env.DB, me.id, id))) throw notFound("Passkey", id);
    return c.body(null, 204);
  },
);

// ---------------------------------------------------------------------------------------------
// The audit log

export const AuditEntrySchema = z
  .object({
    id: z.number().int(),
    at: z.string(),
    actor: z.string(),
    actor_name: z.string().nullable(),
    actor_role: z.string(),
    action: z.string(),
    target_type: z.string().nullable(),
    target_id: z.string().nullable(),
    detail: z.record(z.string(), z.unknown()),
  })
  .openapi("AuditEntry");

const toAudit = (r: AuditRecord): z.infer<typeof AuditEntrySchema> => ({
  id: r.seq,
  at: iso(r.at) ?? "",
  actor: r.actor,
  actor_name: r.actor_name,
  actor_role: r.actor_role,
  action: r.action,
  target_type: r.target_type,
  target_id: r.target_id,
  detail: JSON.parse(r.detail) as Record<string, unknown>,
});

members.openapi(
  createRoute(
    permit("audit:read", null, {
      method: "get",
      path: "/audit",
      tags: ["accounts"],
      summary: "Who did what: every operator action, sign-in and sign-out, newest first",
      security,
      request: {
        query: z.object({
          actor: z.string().max(300).optional().openapi({
            description: "member:<email>, token:<key id>, a bare e-mail or a token's name",
          }),
          action: z
            .string()
            .max(64)
            .optional()
            .openapi({ description: "An action (invoice.pay) or its family (invoice)" }),
          target_type: z.string().max(64).optional(),
          target_id: z.string().max(256).optional(),
          from: Timestamp.optional(),
          to: Timestamp.optional(),
          limit: z.coerce.number().int().min(1).max(200).default(50),
          cursor: z.string().max(200).optional(),
        }),
      },
      responses: { 200: jsonResponse(page(AuditEntrySchema), "Entries"), ...problemResponses },
    }),
  ),
  async (c) => {
    const q = c.req.valid("query");
    const before = decodeCursor(q.cursor, ["row"])?.[0] ?? null;
    const rows = await listAudit(c.env.DB, c.var.tenantId, q, before, q.limit + 1);
    return c.json(
      pageOf(rows, q.limit, toAudit, (r) => [r.seq]),
      200,
    );
  },
);
