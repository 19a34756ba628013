import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { INTENTS } from "../../domain/portal/onboarding";
import { customerExists } from "../../store/customers";
import {
  getPortalSession,
  insertPortalSession,
  listPortalSessions,
  type PortalSessionGrant,
  type PortalSessionRecord,
  portalSessionByHash,
  revokePortalSession,
} from "../../store/portal-sessions";
import { type AppEnv, createRouter } from "../app";
import { base64url, randomHex, sha256Hex } from "../auth";
import { permit } from "../permit";
import { analyzeUsage } from "../portal/advisor";
import { onboardingReply } from "../portal/onboarding";
import { portalBrand, portalOverview } from "../portal/overview";
import { renderPortal, renderPortalClosed } from "../portal/page";
import { ApiError, notFound, problemResponses } from "../problem";
import { Id, iso, jsonBody, jsonResponse } from "../schemas";
import { publicOrigin } from "../sign-in-links";
import { storefrontCsp } from "../storefront/page";
import { CustomerApiKey } from "./customer-api-keys";

// The customer portal (issue 19 §5, docs/portal.md). An operator (or the tenant's backend, with
// an operator token) makes a short-lived session for one customer:
//   POST /api/portal/sessions {customer, expires_in?}  → {id, url, expires_at}; the URL's token is
//                                                        shown only here, stored as SHA-256
//   GET  /api/portal/sessions?customer                 the sessions, without their tokens
//   POST /api/portal/sessions/:id/revoke               ends one at once
// The customer opens the URL: GET /portal/<token> checks it, moves it into an HttpOnly,
// SameSite=Lax cookie on /portal and redirects (303) to /portal, so the token leaves the
// address bar and the history. GET /portal (the branded page) and GET /portal/api/overview (its
// data as JSON) re-read the session row on every request, so expiry and revocation hold at once.
// The session names the tenant and the customer; no portal route takes either as a parameter,
// so there is nothing to point at another customer's data.

export const portalSessions = createRouter();
export const portalPages = createRouter();
const security = [{ operatorToken: [] }];
const tags = ["portal"];

export const DEFAULT_PORTAL_SECONDS = 3600;
export const MIN_PORTAL_SECONDS = 60;
export const MAX_PORTAL_SECONDS = 86_400;
export const PORTAL_COOKIE = "aforo_portal";
/** `ps_` and 43 base64url characters (256 random bits). */
const TOKEN = /^ps_[A-Za-z0-9_-]{43}$/;

const NewSession = z
  .object({
    customer: Id,
    expires_in: z
      .number()
      .int()
      .min(MIN_PORTAL_SECONDS, "at least 60 seconds")
      .max(MAX_PORTAL_SECONDS, "at most 1 day (86,400 seconds)")
      .optional()
      .openapi({ description: "Seconds the portal stays open: 60 to 86,400, default 3,600" }),
  })
  .strict()
  .openapi("NewPortalSession");

const CreatedSession = z
  .object({
    id: z.string(),
    customer: z.string(),
    url: z.string().openapi({
      description: "Opens the customer's portal; its token is shown only in this response",
    }),
    expires_at: z.string(),
    created_at: z.string(),
  })
  .openapi("CreatedPortalSession");

const PortalSessionSchema = z
  .object({
    id: z.string(),
    customer: z.string(),
    status: z.enum(["active", "expired", "revoked"]),
    created_by: z.string(),
    created_at: z.string(),
    expires_at: z.string(),
    revoked_at: z.string().nullable(),
  })
  .openapi("PortalSession");

const PortalUsageSchema = z.object({
  product: z.string(),
  metric: z.string(),
  unit: z.string(),
  used: z.string().openapi({ description: "Exact decimal: this period so far" }),
  included: z.string().nullable().openapi({ description: "The plan's included quantity" }),
  percent_of_included: z.number().nullable(),
  projection: z.string().openapi({ description: "At period end, at this period's pace so far" }),
  projection_percent_of_included: z.number().nullable(),
  method: z.object({ name: z.literal("linear"), description: z.string() }),
});

const PortalOverviewSchema = z
  .object({
    customer: z.object({ id: z.string(), name: z.string() }),
    brand: z.object({ name: z.string() }),
    generated_at: z.string(),
    subscriptions: z.array(
      z.object({
        id: z.string(),
        product: z.string(),
        status: z.string(),
        start: z.string(),
        end: z.string().nullable(),
        trial_end: z.string().nullable(),
        plan: z.object({
          id: z.string(),
          name: z.string(),
          currency: z.string(),
          period: z.enum(["month", "year"]),
          headline: z.string(),
          lines: z.array(z.string()),
          summary: z.string(),
          trial: z.string().nullable(),
        }),
        period: z.object({ start: z.string(), end: z.string() }).nullable(),
        usage: z.array(PortalUsageSchema),
      }),
    ),
    invoices: z.array(
      z.object({
        id: z.string(),
        subscription: z.string(),
        product: z.string(),
        currency: z.string(),
        status: z.string(),
        period: z.object({ start: z.string(), end: z.string() }),
        total: z.string(),
        amount_due: z.string(),
        due_at: z.string().nullable(),
      }),
    ),
    api_keys: z.array(CustomerApiKey.omit({ created_by: true })),
  })
  .openapi("PortalOverview");

const toSession = (s: PortalSessionRecord, now: number) => ({
  id: s.id,
  customer: s.customer_id,
  status:
    s.revoked_at !== null
      ? ("revoked" as const)
      : s.expires_at <= now
        ? ("expired" as const)
        : ("active" as const),
  created_by: s.created_by,
  created_at: iso(s.created_at) ?? "",
  expires_at: iso(s.expires_at) ?? "",
  revoked_at: iso(s.revoked_at),
});

portalSessions.openapi(
  createRoute(
    permit("customers:write", "portal_session.create", {
      method: "post",
      path: "/portal/sessions",
      tags,
      summary: "Open a customer portal session: a short-lived link scoped to one customer",
      description:
        "The URL opens the customer's portal (subscriptions, usage against quotas with a projection to period end, invoices, API keys) without an operator credential until it expires or is revoked. Only the token's SHA-256 is stored.",
      security,
      request: { body: jsonBody(NewSession) },
      responses: { 201: jsonResponse(CreatedSession, "The session"), ...problemResponses },
    }),
  ),
  async (c) => {
    const { customer, expires_in } = c.req.valid("json");
    const db = c.env.DB;
    const tenantId = c.var.tenantId;
    if (!(await customerExists(db, tenantId, customer))) throw notFound("Customer", customer);
    const token = `ps_${base64url(crypto.getRandomValues(new Uint8Array(32)))}`;
    const now = Date.now();
    const record: PortalSessionRecord = {
      id: `psn_${randomHex(8)}`,
      customer_id: customer,
      created_by: c.var.actor.ref,
      created_at: now,
      expires_at: now + (expires_in ?? DEFAULT_PORTAL_SECONDS) * 1000,
      revoked_at: null,
      revoked_by: null,
    };
    await insertPortalSession(db, tenantId, record, await sha256Hex(token));
    c.header("cache-control", "no-store");
    return c.json(
      {
        id: record.id,
        customer,
        url: `${publicOrigin(c.env, c.req.url)}/portal/${token}`,
        expires_at: iso(record.expires_at) ?? "",
        created_at: iso(now) ?? "",
      },
      201,
    );
  },
);

portalSessions.openapi(
  createRoute({
    method: "get",
    path: "/portal/sessions",
    tags,
    summary: "Customer portal sessions, newest first: active, expired and revoked",
    description: "Never the links themselves: a session's token is shown only when it is made.",
    security,
    request: { query: z.object({ customer: Id.optional() }) },
    responses: {
      200: jsonResponse(z.object({ data: z.array(PortalSessionSchema) }), "The sessions"),
      ...problemResponses,
    },
  }),
  async (c) => {
    const { customer } = c.req.valid("query");
    const now = Date.now();
    const rows = await listPortalSessions(c.env.DB, c.var.tenantId, customer ?? null);
    return c.json({ data: rows.map((s) => toSession(s, now)) }, 200);
  },
);

portalSessions.openapi(
  createRoute(
    permit("customers:write", "portal_session.revoke", {
      method: "post",
      path: "/portal/sessions/{id}/revoke",
      tags,
      summary: "Revoke a customer portal session: its link and cookie stop working at once",
      security,
      request: { params: z.object({ id: z.string().min(1).max(64) }) },
      responses: {
        200: jsonResponse(PortalSessionSchema, "The revoked session"),
        ...problemResponses,
      },
    }),
  ),
  async (c) => {
    const { id } = c.req.valid("param");
    const db = c.env.DB;
    const tenantId = c.var.tenantId;
    const now = Date.now();
    await revokePortalSession(db, tenantId, id, c.var.actor.ref, now);
    const session = await getPortalSession(db, tenantId, id);
    if (!session) throw notFound("Portal session", id);
    return c.json(toSession(session, now), 200);
  },
);

// ---- The customer's side: /portal ---------------------------------------------------------------

/** The session a token opens now; null when it is malformed, unknown, revoked or expired. */
async function openSession(
  db: D1Database,
  token: string | undefined,
  now: number,
): Promise<PortalSessionGrant | null> {
  if (token === undefined || !TOKEN.test(token)) return null;
  const s = await portalSessionByHash(db, await sha256Hex(token));
  if (!s || s.revoked_at !== null || s.expires_at <= now) return null;
  return s;
}

/** The session's brand and its customer's overview, as every portal page and answer reads them. */
async function readPortal(db: D1Database, session: PortalSessionGrant, now: number) {
  const brand = await portalBrand(db, session.tenant_id);
  const overview = await portalOverview(db, session.tenant_id, session.customer_id, brand, now);
  return { brand, overview };
}

const sessionOf = (c: Context<AppEnv>, now: number) =>
  openSession(c.env.DB, getCookie(c, PORTAL_COOKIE), now);

function closedPage(c: Context<AppEnv>, status: 401 | 410) {
  const nonce = randomHex(16);
  c.set("pageCsp", storefrontCsp(nonce, false));
  c.header("cache-control", "no-store");
  deleteCookie(c, PORTAL_COOKIE, { path: "/portal" });
  return c.html(renderPortalClosed(nonce), status);
}

const privateAnswer = (c: Context<AppEnv>) => {
  c.header("cache-control", "private, no-store");
  c.header("referrer-policy", "no-referrer");
};

portalPages.get("/", async (c) => {
  const now = Date.now();
  const session = await sessionOf(c, now);
  if (!session) return closedPage(c, 401);
  const { brand, overview } = await readPortal(c.env.DB, session, now);
  if (!overview) return closedPage(c, 410);
  const nonce = randomHex(16);
  const { html, csp } = renderPortal({
    overview,
    brand: brand.brand,
    expiresAt: session.expires_at,
    nonce,
  });
  c.set("pageCsp", csp);
  privateAnswer(c);
  return c.html(html, 200);
});

const overviewRoute = createRoute({
  method: "get",
  path: "/api/overview",
  tags,
  summary: "The customer portal's data: the session's customer only",
  description: `Authenticated by the portal cookie (${PORTAL_COOKIE}, set by opening a session's URL), not by an operator credential. The customer's subscriptions and plans in words, this period's usage per metric against the plan's included quantity with the run-rate projection to period end and its method, invoices (as GET /api/invoices formats them), and the customer's API keys with each key's usage. 401 once the session has expired or was revoked.`,
  security: [],
  responses: {
    200: jsonResponse(PortalOverviewSchema, "The overview"),
    ...problemResponses,
  },
});

portalPages.openapi(overviewRoute, async (c) => {
  const now = Date.now();
  const session = await sessionOf(c, now);
  if (!session) throw new ApiError("unauthorized", "This portal session has ended or is not valid");
  const { overview } = await readPortal(c.env.DB, session, now);
  if (!overview)
    throw new ApiError("unauthorized", "This portal session has ended or is not valid");
  privateAnswer(c);
  return c.json(overview, 200);
});

portalPages.get("/:token", async (c) => {
  const now = Date.now();
  const token = c.req.param("token");
  const session = await openSession(c.env.DB, token, now);
  if (!session) return closedPage(c, 410);
  setCookie(c, PORTAL_COOKIE, token, {
    path: "/portal",
    httpOnly: true,
    secure: c.req.url.startsWith("https:"),
    // Lax, not Strict: the link is opened from another site (a mail, the operator's app), and a
    // browser sends no Strict cookie on a redirect chain that began elsewhere, so the portal
    // would open as expired. Lax still keeps it off every cross-site POST and subresource, so
    // another site cannot ask the portal's API anything with it.
    sameSite: "Lax",
    maxAge: Math.max(1, Math.floor((session.expires_at - now) / 1000)),
  });
  privateAnswer(c);
  return c.redirect("/portal", 303);
});

const Priced = z.object({ plan_id: z.string(), name: z.string(), cost: z.string() });

const AdviceSchema = z
  .object({
    subscription: z.string(),
    plan: z.object({ id: z.string(), name: z.string() }),
    period: z.object({ start: z.string(), end: z.string() }),
    verdict: z.enum(["stay", "upgrade", "optimize"]),
    currency: z.string(),
    method: z.string().openapi({ description: "How the projection to period end was made" }),
    overshoot_percent: z.number().nullable().openapi({
      description: "The largest projected overshoot of an included quantity, in percent",
    }),
    projections: z.array(
      z.object({
        metric: z.string(),
        unit: z.string(),
        used: z.string(),
        projected: z.string(),
        included: z.string().nullable(),
        overshoot_percent: z.number().nullable(),
      }),
    ),
    current: Priced.openapi({ description: "The current plan's cost for the projected usage" }),
    alternatives: z.array(Priced).openapi({
      description: "The product's other active plans (same currency and period), cheapest first",
    }),
    recommended: Priced.nullable(),
    top_spend: z.array(
      z.object({ kind: z.enum(["endpoint", "model"]), name: z.string(), amount: z.string() }),
    ),
    spend_events: z.object({ read: z.number().int(), complete: z.boolean() }),
    narrative: z.object({ text: z.string(), source: z.enum(["ai", "template"]) }),
  })
  .openapi("PortalAdvice");

portalPages.openapi(
  createRoute({
    method: "post",
    path: "/api/advisor",
    tags,
    summary: "Usage Advisor: the month-end projection, then stay, upgrade or optimize",
    description: `Authenticated by the portal cookie (${PORTAL_COOKIE}). For the session's customer's live subscription (the first, or \`subscription\` if it is theirs): the projection to period end with its method, then stay (within the included quantities), upgrade (the overshoot in percent and each active plan's cost for the projected usage; one costs less) or optimize (no plan costs less: the three largest spends by endpoint or model this period). Figures from Aforo; the words from the tenant's AI (feature usage_advisor, checked against the figures) or a template.`,
    security: [],
    request: {
      body: jsonBody(
        z.object({ subscription: Id.optional() }).strict().openapi("PortalAdvisorRequest"),
      ),
    },
    responses: { 200: jsonResponse(AdviceSchema, "The advice"), ...problemResponses },
  }),
  async (c) => {
    const now = Date.now();
    const session = await sessionOf(c, now);
    if (!session) {
      throw new ApiError("unauthorized", "This portal session has ended or is not valid");
    }
    const { subscription } = c.req.valid("json");
    const advice = await analyzeUsage(
      c.env,
      session.tenant_id,
      session.customer_id,
      subscription,
      now,
    );
    privateAnswer(c);
    return c.json(advice, 200);
  },
);

// ---- Smart Onboarding -------------------------------------------------------------------------

const OnboardingLink = z.object({ label: z.string(), href: z.string() });

const OnboardingReplySchema = z
  .object({
    intent: z
      .enum(INTENTS)
      .openapi({ description: "The question as the deterministic engine read it" }),
    text: z.string(),
    facts: z.array(z.string()).openapi({
      description:
        "The customer's figures the answer quotes (key prefixes, quota, usage, plan, amounts)",
    }),
    links: z.array(OnboardingLink).openapi({
      description: "Where to act next: portal sections, the storefront's plan comparison",
    }),
    source: z.enum(["ai", "template"]),
    note: z.string().nullable(),
  })
  .openapi("PortalOnboardingReply");

portalPages.openapi(
  createRoute({
    method: "post",
    path: "/api/onboarding",
    tags,
    summary: "Smart Onboarding: the portal's chat, grounded in the customer's own setup",
    description: `Authenticated by the portal cookie (${PORTAL_COOKIE}). Answers the customer's question from their own keys, quotas, usage, plan and invoices: the common questions (a key's quota, usage and its projection, the plan, upgrading, invoices, keys, getting started) by deterministic intents with no key; with the tenant's AI key the model words the answer (feature smart_onboarding, no tools), kept only when every number in it is the customer's.`,
    security: [],
    request: {
      body: jsonBody(
        z
          .object({
            question: z.string().trim().min(1).max(500),
            history: z
              .array(z.object({ role: z.enum(["user", "assistant"]), text: z.string().max(2000) }))
              .max(12)
              .optional(),
          })
          .strict()
          .openapi("PortalOnboardingRequest"),
      ),
    },
    responses: { 200: jsonResponse(OnboardingReplySchema, "The answer"), ...problemResponses },
  }),
  async (c) => {
    const now = Date.now();
    const session = await sessionOf(c, now);
    if (!session) {
      throw new ApiError("unauthorized", "This portal session has ended or is not valid");
    }
    const { question, history } = c.req.valid("json");
    const { brand, overview } = await readPortal(c.env.DB, session, now);
    if (!overview) {
      throw new ApiError("unauthorized", "This portal session has ended or is not valid");
    }
    const reply = await onboardingReply(
      c.env,
      session.tenant_id,
      overview,
      question,
      {
        gettingStarted: "/portal#getting-started",
        keys: "/portal#keys",
        usage: "/portal#usage",
        invoices: "/portal#invoices",
        upgrade: brand.slug ? `/s/${encodeURIComponent(brand.slug)}#compare` : null,
      },
      history ?? [],
    );
    privateAnswer(c);
    return c.json(reply, 200);
  },
);
