import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import {
  checkSchedule,
  nextRunAfter,
  nextRuns,
  SCHEDULE_RANGES,
} from "../../domain/reports/schedule";
import { templateOf } from "../../domain/reports/templates";
import { getChannel } from "../../store/channels";
import {
  deleteSchedule,
  getSchedule,
  insertSchedule,
  listRuns,
  listSchedules,
  type RunRecord,
  type ScheduleRecord,
  updateSchedule,
} from "../../store/report-schedules";
import { getReport } from "../../store/reports";
import { loadTenantSettings } from "../../store/tenants";
import { type AppEnv, createRouter } from "../app";
import { randomHex } from "../auth";
import { permit } from "../permit";
import { notFound, problemResponses, validationError } from "../problem";
import { iso, jsonBody, jsonResponse } from "../schemas";

// Report schedules (issue 15 item 5, docs/reports.md "Schedules"): a saved report (or a
// template) run on a cron pattern in an IANA zone and delivered to one notification channel,
// a webhook or e-mail channel of /api/channels (so the URL guard, the signing secret and the
// sealed storage are the channel's). The runs are made by the tenant clock
// (workers/report-schedules.ts); their history is read here.
export const reportSchedules = createRouter();
const security = [{ operatorToken: [] }];
const tags = ["reports"];

const Destination = z
  .object({
    channel: z.string().min(1).max(64).openapi({
      description: "A webhook or e-mail channel id from /api/channels",
    }),
  })
  .strict();
const Range = z.enum(SCHEDULE_RANGES).openapi({
  description:
    "A relative window resolved at each run's scheduled instant in the schedule's zone (whole local days before that day; last_24_hours: whole UTC hours); null keeps the report's own range",
});

export const ReportScheduleSchema = z
  .object({
    id: z.string(),
    report: z.string(),
    cron: z.string(),
    time_zone: z.string().nullable().openapi({ description: "null: the tenant's zone" }),
    runs_in: z.string().openapi({ description: "The zone the pattern is read in now" }),
    destination: z.object({
      channel: z.string(),
      type: z.enum(["webhook", "email", "slack"]).nullable(),
      name: z.string().nullable(),
    }),
    range: Range.nullable(),
    enabled: z.boolean(),
    next_runs: z
      .array(z.string())
      .openapi({ description: "The next 3 runs (UTC instants); empty when disabled" }),
    created_by: z.string(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("ReportSchedule");

export const ReportRunSchema = z
  .object({
    id: z.string().openapi({ description: "Also the delivery id: webhook-id / Message-ID" }),
    schedule: z.string(),
    scheduled_for: z.string(),
    started_at: z.string().nullable(),
    finished_at: z.string().nullable(),
    status: z.enum(["pending", "retrying", "succeeded", "failed"]),
    attempts: z.number().int(),
    next_attempt_at: z.string().nullable(),
    row_count: z.number().int().nullable(),
    error: z.string().nullable(),
    delivery_id: z.string(),
  })
  .openapi("ReportRun");

const Cron = z.string().trim().min(1).max(120).openapi({
  description: "5 fields (or 6 with seconds), read by croner; at most once every 15 minutes",
  example: "0 8 * * 1",
});
const NewSchedule = z
  .object({
    cron: Cron,
    time_zone: z.string().max(64).nullable().optional(),
    destination: Destination,
    range: Range.nullable().optional(),
    enabled: z.boolean().optional(),
  })
  .strict()
  .openapi("NewReportSchedule");
const SchedulePatch = z
  .object({
    cron: Cron.optional(),
    time_zone: z.string().max(64).nullable().optional(),
    destination: Destination.optional(),
    range: Range.nullable().optional(),
    enabled: z.boolean().optional(),
  })
  .strict()
  .refine((b) => Object.keys(b).length > 0, "send at least one field to change")
  .openapi("ReportSchedulePatch");

const Params = z.object({ id: z.string().min(1).max(64) });
const ScheduleParams = z.object({
  id: z.string().min(1).max(64),
  sid: z.string().min(1).max(64),
});

const tenantZone = async (c: Context<AppEnv>) =>
  (await loadTenantSettings(c.env.DB, c.var.tenantId)).retry.time_zone;

async function requireReport(c: Context<AppEnv>, id: string) {
  if (templateOf(id)) return;
  if (!(await getReport(c.env.DB, c.var.tenantId, id))) throw notFound("Report", id);
}

async function toSchedule(c: Context<AppEnv>, s: ScheduleRecord, zone: string) {
  const channel = await getChannel(c.env.DB, c.var.tenantId, s.channel_id);
  const runsIn = s.time_zone ?? zone;
  const upcoming =
    s.enabled && s.next_run_at !== null
      ? [s.next_run_at, ...nextRuns(s.cron, runsIn, s.next_run_at, 2)]
      : [];
  return {
    id: s.id,
    report: s.report_id,
    cron: s.cron,
    time_zone: s.time_zone,
    runs_in: runsIn,
    destination: {
      channel: s.channel_id,
      type: channel?.type ?? null,
      name: channel?.name ?? null,
    },
    range: (s.range as z.infer<typeof Range> | null) ?? null,
    enabled: s.enabled,
    next_runs: upcoming.map((t) => iso(t) ?? ""),
    created_by: s.created_by,
    created_at: iso(s.created_at) ?? "",
    updated_at: iso(s.updated_at) ?? "",
  };
}

const toRun = (r: RunRecord): z.infer<typeof ReportRunSchema> => ({
  id: r.id,
  schedule: r.schedule_id,
  scheduled_for: iso(r.scheduled_for) ?? "",
  started_at: iso(r.started_at),
  finished_at: iso(r.finished_at),
  status: r.status,
  attempts: r.attempts,
  next_attempt_at:
    r.status === "retrying" || r.status === "pending" ? iso(r.next_attempt_at) : null,
  row_count: r.row_count,
  error: r.error,
  delivery_id: r.id,
});

/** The cron, the zone and the channel of a schedule as it would be saved, or a 400 naming the
 * field: croner's own message for a pattern it cannot read. */
async function checkFields(
  c: Context<AppEnv>,
  s: Pick<ScheduleRecord, "cron" | "time_zone" | "channel_id">,
  zone: string,
  now: number,
) {
  const issues: { path: string; message: string }[] = checkSchedule(
    s.cron,
    s.time_zone ?? zone,
    now,
  );
  const channel = await getChannel(c.env.DB, c.var.tenantId, s.channel_id);
  if (!channel) {
    issues.push({
      path: "destination.channel",
      message: `no channel '${s.channel_id}' (see /api/channels)`,
    });
  } else if (channel.type === "slack") {
    issues.push({
      path: "destination.channel",
      message: "a report goes to a webhook or e-mail channel, not Slack",
    });
  }
  if (issues.length > 0) throw validationError(issues);
}

reportSchedules.openapi(
  createRoute({
    method: "get",
    path: "/reports/{id}/schedules",
    tags,
    summary: "A report's schedules, with their next 3 runs",
    security,
    request: { params: Params },
    responses: {
      200: jsonResponse(z.object({ data: z.array(ReportScheduleSchema) }), "The schedules"),
      ...problemResponses,
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    await requireReport(c, id);
    const zone = await tenantZone(c);
    const rows = await listSchedules(c.env.DB, c.var.tenantId, id);
    return c.json({ data: await Promise.all(rows.map((s) => toSchedule(c, s, zone))) }, 200);
  },
);

reportSchedules.openapi(
  createRoute(
    permit("reports:share", "report.schedule", {
      method: "post",
      path: "/reports/{id}/schedules",
      tags,
      summary: "Schedule a report: a cron pattern in a zone, delivered to a channel",
      description:
        "A pattern croner cannot read is a 400 naming `cron` with croner's message; a pattern that runs more often than every 15 minutes, or never, is refused on `cron`; an unknown zone on `time_zone`; a channel that does not exist or is Slack on `destination.channel`.",
      security,
      request: { params: Params, body: jsonBody(NewSchedule) },
      responses: {
        201: jsonResponse(ReportScheduleSchema, "The schedule"),
        ...problemResponses,
      },
    }),
  ),
  async (c) => {
    const { id } = c.req.valid("param");
    const body = c.req.valid("json");
    await requireReport(c, id);
    const zone = await tenantZone(c);
    const now = Date.now();
    const fields = {
      cron: body.cron,
      time_zone: body.time_zone ?? null,
      channel_id: body.destination.channel,
    };
    await checkFields(c, fields, zone, now);
    const enabled = body.enabled ?? true;
    const record: ScheduleRecord = {
      id: `sch_${randomHex(8)}`,
      report_id: id,
      ...fields,
      range: body.range ?? null,
      enabled,
      next_run_at: enabled ? nextRunAfter(body.cron, fields.time_zone ?? zone, now) : null,
      created_by: c.var.actor.ref,
      created_at: now,
      updated_at: now,
    };
    await insertSchedule(c.env.DB, c.var.tenantId, record);
    return c.json(await toSchedule(c, record, zone), 201);
  },
);

reportSchedules.openapi(
  createRoute(
    permit("reports:share", "report.schedule_update", {
      method: "patch",
      path: "/reports/{id}/schedules/{sid}",
      tags,
      summary: "Change a schedule's pattern, zone, destination, range or whether it runs",
      security,
      request: { params: ScheduleParams, body: jsonBody(SchedulePatch) },
      responses: { 200: jsonResponse(ReportScheduleSchema, "The schedule"), ...problemResponses },
    }),
  ),
  async (c) => {
    const { id, sid } = c.req.valid("param");
    const body = c.req.valid("json");
    const current = await getSchedule(c.env.DB, c.var.tenantId, id, sid);
    if (!current) throw notFound("Schedule", sid);
    const zone = await tenantZone(c);
    const now = Date.now();
    const next: ScheduleRecord = {
      ...current,
      cron: body.cron ?? current.cron,
      time_zone: body.time_zone === undefined ? current.time_zone : body.time_zone,
      channel_id: body.destination?.channel ?? current.channel_id,
      range: body.range === undefined ? current.range : body.range,
      enabled: body.enabled ?? current.enabled,
      updated_at: now,
    };
    await checkFields(c, next, zone, now);
    const timing =
      next.cron !== current.cron ||
      next.time_zone !== current.time_zone ||
      next.enabled !== current.enabled;
    if (timing) {
      next.next_run_at = next.enabled ? nextRunAfter(next.cron, next.time_zone ?? zone, now) : null;
    }
    if (!(await updateSchedule(c.env.DB, c.var.tenantId, next))) throw notFound("Schedule", sid);
    return c.json(await toSchedule(c, next, zone), 200);
  },
);

reportSchedules.openapi(
  createRoute(
    permit("reports:share", "report.unschedule", {
      method: "delete",
      path: "/reports/{id}/schedules/{sid}",
      tags,
      summary: "Delete a schedule and its run history",
      security,
      request: { params: ScheduleParams },
      responses: { 204: { description: "Deleted" }, ...problemResponses },
    }),
  ),
  async (c) => {
    const { id, sid } = c.req.valid("param");
    if (!(await deleteSchedule(c.env.DB, c.var.tenantId, id, sid))) {
      throw notFound("Schedule", sid);
    }
    return c.body(null, 204);
  },
);

reportSchedules.openapi(
  createRoute({
    method: "get",
    path: "/reports/{id}/schedules/{sid}/runs",
    tags,
    summary: "A schedule's run history, newest slot first (at most 100)",
    security,
    request: { params: ScheduleParams },
    responses: {
      200: jsonResponse(z.object({ data: z.array(ReportRunSchema) }), "The runs"),
      ...problemResponses,
    },
  }),
  async (c) => {
    const { id, sid } = c.req.valid("param");
    const s = await getSchedule(c.env.DB, c.var.tenantId, id, sid);
    if (!s) throw notFound("Schedule", sid);
    const runs = await listRuns(c.env.DB, c.var.tenantId, sid, 100);
    return c.json({ data: runs.map(toRun) }, 200);
  },
);
