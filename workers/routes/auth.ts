import { createRoute, z } from "@hono/zod-openapi";
import {
  generateAuthenticationOptions,
  verifyAuthenticationResponse,
} from "@simplewebauthn/server";
import { isRole } from "../../domain/roles";
import {
  auditInsert,
  challengeInsert,
  consumeSignInLink,
  getMember,
  type MemberRecord,
  membershipsOf,
  passkeyById,
  passkeyUsed,
  sessionRevoke,
  sessionsRevokeAll,
  takeChallenge,
} from "../../store/members";
import { createRouter } from "../app";
import { fromBase64, randomHex } from "../auth";
import { ApiError, problemResponses } from "../problem";
import { iso, jsonBody, jsonResponse } from "../schemas";
import {
  checkCsrf,
  clearSessionCookie,
  presentedSessionId,
  sessionFromCookie,
  startSession,
} from "../sessions";
import {
  linkTokenHash,
  MAGIC_LINK_TTL_MS,
  mintSignInLink,
  publicOrigin,
  sendSignInEmail,
} from "../sign-in-links";
import { relyingParty } from "../webauthn";
import { MemberSchema, toMember } from "./members";

// Signing in and out (public: no token; issue 13). A person proves who they are with a magic
// link sent to their address or with a passkey, and gets a cookie session (workers/sessions.ts).
export const auth = createRouter();

export const SignedIn = z
  .object({
    member: MemberSchema,
    tenant: z.object({ id: z.string(), name: z.string() }),
    csrf_token: z.string(),
    expires_at: z.string(),
  })
  .openapi("SignedIn");

async function tenantOf(db: D1Database, id: string) {
  const row = await db
    .prepare("SELECT id, name FROM tenants WHERE id = ?")
    .bind(id)
    .first<{ id: string; name: string }>();
  return row ?? { id, name: id };
}

async function signedIn(
  c: Parameters<typeof startSession>[0],
  member: MemberRecord,
  method: "magic_link" | "passkey",
) {
  if (!isRole(member.role)) throw new ApiError("internal", "member has an unknown role");
  const session = await startSession(c, member, method);
  const after = (await getMember(c.env.DB, member.tenant_id, member.id)) ?? member;
  return c.json(
    {
      member: toMember(after),
      tenant: await tenantOf(c.env.DB, member.tenant_id),
      csrf_token: session.csrfToken,
      expires_at: iso(session.expiresAt) ?? "",
    },
    200,
  );
}

auth.openapi(
  createRoute({
    method: "get",
    path: "/session",
    tags: ["accounts"],
    summary:
      "Whether the browser holds a live session (the cookie is HttpOnly, so the page asks); never 401",
    responses: {
      200: jsonResponse(z.object({ signed_in: z.boolean() }), "The session's state"),
      ...problemResponses,
    },
  }),
  async (c) => c.json({ signed_in: (await sessionFromCookie(c)) !== null }, 200),
);

auth.openapi(
  createRoute({
    method: "post",
    path: "/magic-link",
    tags: ["accounts"],
    summary:
      "E-mail a sign-in link to an address (one per workspace it belongs to); always 202, so the answer tells no one whether the address is known",
    request: {
      body: jsonBody(
        z.object({
          email: z
            .email()
            .max(254)
            .transform((e) => e.toLowerCase()),
          tenant: z.string().max(128).optional().openapi({ description: "Only this workspace" }),
        }),
      ),
    },
    responses: {
      202: jsonResponse(z.object({ detail: z.string() }), "Accepted"),
      ...problemResponses,
    },
  }),
  async (c) => {
    const { email, tenant } = c.req.valid("json");
    const db = c.env.DB;
    const origin = publicOrigin(c.env, c.req.url);
    const memberships = (await membershipsOf(db, email)).filter(
      (m) => tenant === undefined || m.tenant_id === tenant,
    );
    for (const m of memberships) {
      const link = await mintSignInLink(db, m, origin, MAGIC_LINK_TTL_MS);
      if (link) {
        await sendSignInEmail(c.env, m.email, link, {
          workspace: (await tenantOf(db, m.tenant_id)).name,
        });
      }
    }
    return c.json(
      {
        detail:
          "If the address belongs to an Aforo workspace, a sign-in link is on its way; it works once, for 15 minutes",
      },
      202,
    );
  },
);

auth.openapi(
  createRoute({
    method: "post",
    path: "/magic-link/verify",
    tags: ["accounts"],
    summary:
      "Spend a sign-in link's token: starts a session (Set-Cookie) and returns the CSRF token",
    request: { body: jsonBody(z.object({ token: z.string().min(16).max(128) })) },
    responses: { 200: jsonResponse(SignedIn, "Signed in"), ...problemResponses },
  }),
  async (c) => {
    const { token } = c.req.valid("json");
    const db = c.env.DB;
    const used = await consumeSignInLink(db, await linkTokenHash(token), Date.now());
    const member = used ? await getMember(db, used.tenant_id, used.member_id) : null;
    if (!member || member.status === "removed") {
      throw new ApiError(
        "unauthorized",
        "This sign-in link is unknown, already used or expired; ask for a new one",
      );
    }
    return signedIn(c, member, "magic_link");
  },
);

const CHALLENGE_TTL_MS = 5 * 60_000;

auth.openapi(
  createRoute({
    method: "post",
    path: "/passkeys/options",
    tags: ["accounts"],
    summary: "Start signing in with a passkey: WebAuthn request options and a challenge id",
    responses: {
      200: jsonResponse(
        z.object({ challenge_id: z.string(), options: z.record(z.string(), z.unknown()) }),
        "Pass `options` to navigator.credentials.get (or @simplewebauthn/browser)",
      ),
      ...problemResponses,
    },
  }),
  async (c) => {
    const rp = relyingParty(c.env, c.req.url);
    const options = await generateAuthenticationOptions({
      rpID: rp.id,
      userVerification: "preferred",
    });
    const challengeId = randomHex(16);
    await challengeInsert(c.env.DB, {
      id: challengeId,
      challenge: options.challenge,
      purpose: "sign_in",
      memberId: null,
      expiresAt: Date.now() + CHALLENGE_TTL_MS,
    }).run();
    return c.json(
      { challenge_id: challengeId, options: options as unknown as Record<string, unknown> },
      200,
    );
  },
);

auth.openapi(
  createRoute({
    method: "post",
    path: "/passkeys/verify",
    tags: ["accounts"],
    summary: "Finish signing in with a passkey: starts a session (Set-Cookie)",
    request: {
      body: jsonBody(
        z.object({
          challenge_id: z.string().max(64),
          response: z.object({ id: z.string().max(1024) }).passthrough(),
        }),
      ),
    },
    responses: { 200: jsonResponse(SignedIn, "Signed in"), ...problemResponses },
  }),
  async (c) => {
    const body = c.req.valid("json");
    const db = c.env.DB;
    const now = Date.now();
    const challenge = await takeChallenge(db, body.challenge_id, "sign_in", now);
    if (!challenge) {
      throw new ApiError("unauthorized", "The sign-in challenge is unknown or expired; try again");
    }
    const passkey = await passkeyById(db, body.response.id);
    const member = passkey ? await getMember(db, passkey.tenant_id, passkey.member_id) : null;
    if (!passkey || !member || member.status === "removed") {
      throw new ApiError("unauthorized", "This passkey is not registered with Aforo");
    }
    const rp = relyingParty(c.env, c.req.url);
    let verified: Awaited<ReturnType<typeof verifyAuthenticationResponse>>;
    try {
      verified = await verifyAuthenticationResponse({
        response: body.response as never,
        expectedChallenge: challenge.challenge,
        expectedOrigin: rp.origin,
        expectedRPID: rp.id,
        credential: {
          id: passkey.id,
          publicKey: fromBase64(passkey.public_key),
          counter: passkey.counter,
          transports: JSON.parse(passkey.transports) as never,
        },
        requireUserVerification: false,
      });
    } catch (err) {
      throw new ApiError("unauthorized", `The passkey was not accepted: ${(err as Error).message}`);
    }
    if (!verified.verified) throw new ApiError("unauthorized", "The passkey was not accepted");
    await passkeyUsed(db, passkey.id, verified.authenticationInfo.newCounter, now).run();
    return signedIn(c, member, "passkey");
  },
);

auth.openapi(
  createRoute({
    method: "post",
    path: "/sign-out",
    tags: ["accounts"],
    summary:
      "End this session (or, with everywhere: true, every session of yours) and clear the cookie",
    request: {
      body: {
        ...jsonBody(z.object({ everywhere: z.boolean().default(false) })),
        required: false,
      },
    },
    responses: {
      200: jsonResponse(z.object({ signed_out: z.number().int() }), "Sessions ended"),
      ...problemResponses,
    },
  }),
  async (c) => {
    const everywhere =
      (c.req.valid("json") as { everywhere?: boolean } | undefined)?.everywhere ?? false;
    const db = c.env.DB;
    const now = Date.now();
    const live = await sessionFromCookie(c);
    if (!live) {
      // A dead or absent session: nothing to end, but the browser's cookie still goes.
      const id = await presentedSessionId(c);
      if (id) await sessionRevoke(db, id, now).run();
      clearSessionCookie(c);
      return c.json({ signed_out: 0 }, 200);
    }
    await checkCsrf(c, live.csrfToken);
    const p = live.principal;
    const [ended] = await db.batch([
      everywhere ? sessionsRevokeAll(db, p.member_id, now) : sessionRevoke(db, p.session_id, now),
      auditInsert(db, {
        tenant_id: p.tenant_id,
        at: now,
        actor: `member:${p.email}`,
        actor_name: p.name,
        actor_role: isRole(p.role) ? p.role : "viewer",
        action: everywhere ? "session.sign_out_everywhere" : "session.sign_out",
        target_type: "member",
        target_id: p.member_id,
        detail: {},
      }),
    ]);
    clearSessionCookie(c);
    return c.json({ signed_out: ended?.meta.changes ?? 0 }, 200);
  },
);
