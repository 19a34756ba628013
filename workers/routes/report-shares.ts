import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { ReportQuery } from "../../contracts/reports";
import { checkQuery } from "../../domain/reports/query";
import { templateOf, templateReport } from "../../domain/reports/templates";
import {
  getShare,
  hitShare,
  insertShare,
  listShares,
  reportCurrency,
  revokeShare,
  type ShareRecord,
} from "../../store/report-shares";
import { getReport } from "../../store/reports";
import { loadTenantSettings } from "../../store/tenants";
import { type AppEnv, createRouter } from "../app";
import { randomHex } from "../auth";
import { permit } from "../permit";
import { ApiError, notFound, problemResponses } from "../problem";
import { executeReport } from "../report-runner";
import { shareKeyMissing, signShare, verifyShare } from "../report-share-token";
import { iso, jsonBody, jsonResponse } from "../schemas";
import { publicOrigin } from "../sign-in-links";
import { ReportResultSchema, SavedReportSchema } from "./reports";

// Share links of saved reports (issue 15 item 6, docs/reports.md "Share links"). An operator
// with reports:share makes a link to one saved report (or template): a signed token
// (workers/report-share-token.ts) over (tenant, report, share, expiry) whose row in
// report_shares makes it revocable. The link opens /shared/<token> in the dashboard, which
// reads GET /auth/share/reports/<token> without any credential: that report's name, description,
// view and its saved query run now — nothing else of the tenant. Every token that does not open
// (malformed, altered, unknown, revoked or expired) is the same 404 without details.

export const reportShares = createRouter();
export const sharedReports = createRouter();
const security = [{ operatorToken: [] }];
const tags = ["reports"];

export const MAX_SHARE_SECONDS = 90 * 24 * 3600;
export const DEFAULT_SHARE_SECONDS = 7 * 24 * 3600;
/** Opens of one link per minute (a fixed window counted in its row). */
export const SHARE_HITS_PER_MINUTE = 60;
const MINUTE_MS = 60_000;

const NewShare = z
  .object({
    expires_in: z
      .number()
      .int()
      .min(60, "at least 60 seconds")
      .max(MAX_SHARE_SECONDS, "at most 90 days (7,776,000 seconds)")
      .optional()
      .openapi({
        description: "Seconds the link stays open: 60 to 7,776,000 (90 days), default 7 days",
      }),
  })
  .strict()
  .openapi("NewReportShare");

export const ReportShareSchema = z
  .object({
    id: z.string(),
    report: z.string(),
    url: z.string().openapi({ description: "Opens the read-only report without signing in" }),
    status: z.enum(["active", "expired", "revoked"]),
    expires_at: z.string(),
    revoked_at: z.string().nullable(),
    created_by: z.string(),
    created_at: z.string(),
  })
  .openapi("ReportShare");

export const SharedReportSchema = z
  .object({
    name: z.string(),
    description: z.string(),
    view: SavedReportSchema.shape.view,
    result: ReportResultSchema,
    currency: z.string().openapi({ description: "The currency of the money cells" }),
    shared_by: z.string().openapi({ description: "The name (or e-mail) of who made the link" }),
    expires_at: z.string(),
  })
  .openapi("SharedReport");

const ReportParam = z.object({ id: z.string().min(1).max(64) });
const ShareParams = z.object({
  id: z.string().min(1).max(64),
  share_id: z.string().min(1).max(64),
});
const TokenParam = z.object({ token: z.string().min(1).max(2048) });

const tenantZone = async (db: D1Database, tenantId: string) =>
  (await loadTenantSettings(db, tenantId)).retry.time_zone;

/** The saved report (or template) a share names, as served now; null when it is gone. */
async function sharedReport(db: D1Database, tenantId: string, reportId: string, now: number) {
  const template = templateOf(reportId);
  if (template) return templateReport(template, now, await tenantZone(db, tenantId));
  return getReport(db, tenantId, reportId);
}

async function shareUrl(c: Context<AppEnv>, tenantId: string, s: ShareRecord) {
  const token = await signShare(c.env, {
    tenant: tenantId,
    report: s.report_id,
    share: s.id,
    expiresAt: s.expires_at,
  });
  if (token === null) throw new ApiError("unavailable", shareKeyMissing);
  return `${publicOrigin(c.env, c.req.url)}/shared/${token}`;
}

async function toShare(c: Context<AppEnv>, s: ShareRecord, now: number) {
  return {
    id: s.id,
    report: s.report_id,
    url: await shareUrl(c, c.var.tenantId, s),
    status:
      s.revoked_at !== null
        ? ("revoked" as const)
        : s.expires_at <= now
          ? ("expired" as const)
          : ("active" as const),
    expires_at: iso(s.expires_at) ?? "",
    revoked_at: iso(s.revoked_at),
    created_by: s.created_by,
    created_at: iso(s.created_at) ?? "",
  };
}

reportShares.openapi(
  createRoute(
    permit("reports:share", "report.share", {
      method: "post",
      path: "/reports/{id}/share",
      tags,
      summary: "Make a share link: the report, read-only, without signing in, until it expires",
      description:
        "The link is signed (HMAC-SHA-256) over the tenant, report, link id and expiry, can be revoked, and opens at most 60 times a minute. Templates (`tpl_…`) can be shared too.",
      security,
      request: { params: ReportParam, body: jsonBody(NewShare) },
      responses: { 201: jsonResponse(ReportShareSchema, "The link"), ...problemResponses },
    }),
  ),
  async (c) => {
    const { id } = c.req.valid("param");
    const { expires_in } = c.req.valid("json");
    const now = Date.now();
    if (!(await sharedReport(c.env.DB, c.var.tenantId, id, now))) throw notFound("Report", id);
    const actor = c.var.actor;
    const record: ShareRecord = {
      id: `shr_${randomHex(8)}`,
      report_id: id,
      expires_at: now + (expires_in ?? DEFAULT_SHARE_SECONDS) * 1000,
      revoked_at: null,
      revoked_by: null,
      created_by: actor.ref,
      created_by_name: actor.name ?? actor.email,
      created_at: now,
    };
    const share = await toShare(c, record, now); // refuses before storing when there is no key
    await insertShare(c.env.DB, c.var.tenantId, record);
    return c.json(share, 201);
  },
);

reportShares.openapi(
  createRoute(
    permit("reports:share", null, {
      method: "get",
      path: "/reports/{id}/shares",
      tags,
      summary: "A report's share links, newest first: active, expired and revoked",
      description: "Needs reports:share: the URLs listed open the report.",
      security,
      request: { params: ReportParam },
      responses: {
        200: jsonResponse(z.object({ data: z.array(ReportShareSchema) }), "The links"),
        ...problemResponses,
      },
    }),
  ),
  async (c) => {
    const { id } = c.req.valid("param");
    const now = Date.now();
    const rows = await listShares(c.env.DB, c.var.tenantId, id);
    if (rows.length === 0 && !(await sharedReport(c.env.DB, c.var.tenantId, id, now))) {
      throw notFound("Report", id);
    }
    return c.json({ data: await Promise.all(rows.map((s) => toShare(c, s, now))) }, 200);
  },
);

reportShares.openapi(
  createRoute(
    permit("reports:share", "report.unshare", {
      method: "post",
      path: "/reports/{id}/shares/{share_id}/revoke",
      tags,
      summary: "Revoke a share link: it stops opening at once",
      security,
      request: { params: ShareParams },
      responses: { 200: jsonResponse(ReportShareSchema, "The revoked link"), ...problemResponses },
    }),
  ),
  async (c) => {
    const { id, share_id } = c.req.valid("param");
    const now = Date.now();
    const current = await getShare(c.env.DB, c.var.tenantId, share_id);
    if (!current || current.report_id !== id) throw notFound("Share link", share_id);
    if (current.revoked_at === null) {
      await revokeShare(c.env.DB, c.var.tenantId, id, share_id, c.var.actor.ref, now);
    }
    const after = (await getShare(c.env.DB, c.var.tenantId, share_id)) ?? current;
    return c.json(await toShare(c, after, now), 200);
  },
);

// ---- The public side -----------------------------------------------------------------------------

const doesNotOpen = () =>
  new ApiError("not_found", "This share link does not open: it is unknown, revoked or expired");

sharedReports.openapi(
  createRoute({
    method: "get",
    path: "/reports/{token}",
    tags,
    summary: "A shared report, read-only, without a credential: its saved query run now",
    description:
      "The token is the last segment of a share link's URL. A token that does not open (altered, unknown, revoked or expired) is a 404 without details; more than 60 opens of one link in a minute a 429.",
    security: [],
    request: { params: TokenParam },
    responses: {
      200: jsonResponse(SharedReportSchema, "The report"),
      ...problemResponses,
      429: {
        description: "The link was opened too often this minute",
        content: problemResponses[400].content,
      },
    },
  }),
  async (c) => {
    const { token } = c.req.valid("param");
    const now = Date.now();
    const claims = await verifyShare(c.env, token);
    if (!claims) throw doesNotOpen();
    const db = c.env.DB;
    const share = await getShare(db, claims.tenant, claims.share);
    if (
      !share ||
      share.report_id !== claims.report ||
      share.expires_at !== claims.expiresAt ||
      share.revoked_at !== null ||
      share.expires_at <= now
    ) {
      throw doesNotOpen();
    }
    if ((await hitShare(db, claims.tenant, share.id, now, MINUTE_MS)) > SHARE_HITS_PER_MINUTE) {
      throw new ApiError("rate_limited", "This link was opened too often; try again in a minute");
    }
    const report = await sharedReport(db, claims.tenant, share.report_id, now);
    if (!report) throw doesNotOpen();
    const zone = await tenantZone(db, claims.tenant);
    const query: ReportQuery = report.query;
    const checked = checkQuery(query, zone);
    if (!checked.ok) throw new ApiError("unprocessable", "This report no longer runs");
    const [result, currency] = await Promise.all([
      executeReport(c.env, claims.tenant, checked, now).catch((err: unknown) => {
        // Past raw retention or too wide: no details of the query for a link's reader.
        if (err instanceof ApiError && err.code !== "internal") {
          throw new ApiError("unprocessable", "This report no longer runs");
        }
        throw err;
      }),
      reportCurrency(db, claims.tenant),
    ]);
    c.header("cache-control", "private, no-store");
    c.header("referrer-policy", "no-referrer");
    return c.json(
      {
        name: report.name,
        description: report.description,
        view: report.view,
        result,
        currency,
        shared_by: share.created_by_name ?? "an API token",
        expires_at: iso(share.expires_at) ?? "",
      },
      200,
    );
  },
);
