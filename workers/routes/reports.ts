import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { ReportQuery, ReportResult } from "../../contracts/reports";
import { REPORT_CATALOG } from "../../domain/reports/catalog";
import { reportCsv, reportFileName, reportParquet } from "../../domain/reports/export";
import { checkQuery, DEFAULT_LIMIT, MAX_LIMIT } from "../../domain/reports/query";
import { TEMPLATES, templateOf, templateReport } from "../../domain/reports/templates";
import {
  deleteReport,
  getReport,
  insertReport,
  listReports,
  type SavedReportRecord,
  updateReport,
} from "../../store/reports";
import { loadTenantSettings } from "../../store/tenants";
import { type AppEnv, createRouter } from "../app";
import { fromBase64, randomHex } from "../auth";
import { permit } from "../permit";
import {
  ApiError,
  conflictResponse,
  fieldErrors,
  notFound,
  problemResponses,
  validationError,
} from "../problem";
import { executeReport } from "../report-runner";
import {
  decodeCursor,
  iso,
  jsonBody,
  jsonResponse,
  Name,
  PageQuery,
  page,
  pageOf,
} from "../schemas";

// Reports (issue 15, docs/reports.md): the dataset catalog, running one report query (JSON,
// CSV, Parquet) and saved reports. The query object is the one thing the builder edits, a saved
// report stores and (later) a schedule runs and a share link signs. Its shape is checked here
// (zod); domain/reports/query.ts checks it against the catalog; both answer 400 problem+json
// whose errors[] name the field (`dimensions.1`, `time.time_zone`, …).
export const reports = createRouter();
const security = [{ operatorToken: [] }];
const tags = ["reports"];

const FieldName = z.string().min(1).max(64);
/** A dimension: a field name, or `properties.<key>` on events (a key of up to 64 characters). */
const DimensionName = z.string().min(1).max(80);

export const ReportQuerySchema = z
  .object({
    dataset: z
      .enum([
        "usage",
        "events",
        "sessions",
        "invoices",
        "payments",
        "subscriptions",
        "signals",
        "cases",
        "actions",
        "deliveries",
        "pipeline",
      ])
      .openapi({ description: "GET /api/reports/datasets lists those served and their fields" }),
    measures: z.array(FieldName).min(1, "choose at least one measure").max(20),
    dimensions: z.array(DimensionName).max(6),
    filters: z
      .array(
        z
          .object({
            dimension: DimensionName,
            op: z.enum(["is", "is_not", "contains", "gt", "gte", "lt", "lte"]),
            values: z.array(z.string().max(200)).min(1, "give at least one value").max(100),
          })
          .strict(),
      )
      .max(20)
      .optional(),
    time: z
      .object({
        from: z.iso.datetime({ offset: true }).openapi({ description: "Inclusive" }),
        to: z.iso.datetime({ offset: true }).openapi({ description: "Exclusive" }),
        granularity: z.enum(["hour", "day", "week", "month"]).optional().openapi({
          description: "Default day",
        }),
        time_zone: z.string().max(64).optional().openapi({
          description:
            "IANA zone of the buckets and hour_of_week; default the tenant's (settings.retry.time_zone)",
        }),
      })
      .strict(),
    compare_to: z.enum(["previous_period", "previous_year"]).nullable().optional(),
    order_by: z
      .array(z.object({ field: DimensionName, direction: z.enum(["asc", "desc"]) }).strict())
      .max(8)
      .optional()
      .openapi({
        description:
          "Default: time ascending when time is a dimension, else the first measure descending",
      }),
    limit: z
      .number()
      .int()
      .min(1)
      .max(MAX_LIMIT)
      .optional()
      .openapi({
        description: `Rows at most, default ${DEFAULT_LIMIT}`,
      }),
  })
  .strict()
  .openapi("ReportQuery");

const Cell = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const ValueType = z.enum(["string", "number", "money", "percent", "time", "boolean"]);
const Field = z.object({
  name: z.string(),
  label: z.string(),
  type: ValueType,
  description: z.string(),
});
const Granularity = z.enum(["hour", "day", "week", "month"]);

export const ReportDatasetSchema = z
  .object({
    name: ReportQuerySchema.shape.dataset,
    label: z.string(),
    description: z.string(),
    measures: z.array(Field),
    dimensions: z.array(Field),
    dimension_families: z
      .array(
        z.object({
          prefix: z.string(),
          label: z.string(),
          type: ValueType,
          description: z.string(),
          key_pattern: z.string(),
          examples: z.array(z.string()),
        }),
      )
      .optional()
      .openapi({
        description:
          "Dimensions named `<prefix><key>` (events: `properties.session_id`), the key matching key_pattern",
      }),
    granularities: z.array(Granularity),
    retention_days: z.number().int().nullable(),
  })
  .openapi("ReportDataset");
export const ReportCatalogSchema = z
  .object({ data: z.array(ReportDatasetSchema) })
  .openapi("ReportCatalog");

export const ReportResultSchema = z
  .object({
    query: ReportQuerySchema.openapi({
      description:
        "The query as run: every default filled in (granularity, time zone, order, limit)",
    }),
    columns: z.array(
      z.object({
        name: z.string(),
        label: z.string(),
        kind: z.enum(["dimension", "measure"]),
        type: ValueType,
      }),
    ),
    rows: z.array(z.record(z.string(), Cell)),
    totals: z.record(z.string(), Cell),
    truncated: z.boolean(),
    data_as_of: z.string(),
    comparison: z
      .object({ from: z.string(), to: z.string(), totals: z.record(z.string(), Cell) })
      .nullable(),
  })
  .openapi("ReportResult");

const View = z.enum(["table", "line", "bar", "stacked_bar", "heatmap"]);
export const SavedReportSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    description: z.string(),
    query: ReportQuerySchema,
    template: z.string().nullable(),
    view: View,
    created_by: z.string(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("SavedReport");

const NewReport = z
  .object({
    name: Name,
    description: z.string().max(2000).optional(),
    query: ReportQuerySchema,
    view: View.optional().openapi({ description: "Default table" }),
  })
  .strict()
  .openapi("NewSavedReport");
const ReportPatch = z
  .object({
    name: Name.optional(),
    description: z.string().max(2000).optional(),
    query: ReportQuerySchema.optional(),
    view: View.optional(),
  })
  .strict()
  .refine((b) => Object.keys(b).length > 0, "send at least one field to change")
  .openapi("SavedReportPatch");

/** An events query over more customers than one query may read (report-runner.ts). */
const tooManyActors = {
  422: {
    description: "An events query over more than 2,000 customers' raw events: filter on customer",
    content: problemResponses[400].content,
  },
} as const;

/** GET run.csv / run.parquet: the query as base64url(JSON.stringify(query)). */
const EncodedQuery = z.object({
  q: z
    .string()
    .min(1)
    .max(16_000)
    .openapi({ description: "base64url(JSON.stringify(ReportQuery)), padding optional" }),
});

function decodeQueryParam(q: string): ReportQuery {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(fromBase64(q)));
  } catch {
    throw validationError(
      [{ path: "q", message: "base64url of the query's JSON (see docs/reports.md)" }],
      "q is not base64url-encoded JSON",
    );
  }
  const parsed = ReportQuerySchema.safeParse(value);
  if (!parsed.success) throw validationError(fieldErrors(parsed.error.issues));
  return parsed.data as ReportQuery;
}

const tenantZone = async (c: Context<AppEnv>) =>
  (await loadTenantSettings(c.env.DB, c.var.tenantId)).retry.time_zone;

/** Checks a query against the catalog, or answers 400 naming the fields (under `prefix`, e.g.
 * `query.` for the query inside a saved report). */
async function checked(c: Context<AppEnv>, query: ReportQuery, prefix = "") {
  const result = checkQuery(query, await tenantZone(c));
  if (!result.ok) {
    throw validationError(result.issues.map((i) => ({ ...i, path: `${prefix}${i.path}` })));
  }
  return result;
}

async function runReport(c: Context<AppEnv>, query: ReportQuery): Promise<ReportResult> {
  return executeReport(c.env, c.var.tenantId, await checked(c, query), Date.now());
}

reports.openapi(
  createRoute({
    method: "get",
    path: "/reports/datasets",
    tags,
    summary: "The report datasets: their measures, dimensions, granularities and retention",
    security,
    responses: { 200: jsonResponse(ReportCatalogSchema, "The catalog"), ...problemResponses },
  }),
  async (c) => {
    // Raw events are kept for the tenant's own raw_retention_days.
    const days = (await loadTenantSettings(c.env.DB, c.var.tenantId)).raw_retention_days;
    const data = REPORT_CATALOG.data.map((d) =>
      d.name === "events" ? { ...d, retention_days: days } : d,
    );
    return c.json({ data }, 200);
  },
);

reports.openapi(
  createRoute({
    method: "post",
    path: "/reports/run",
    tags,
    summary: "Run a report query: rows, totals over everything matched, freshness",
    description:
      "Validated against the catalog: a field the dataset does not have, a range over 400 days, more than 2,000 time buckets, an unknown time zone or an order on a field outside the query is a 400 naming the field. An `events` query is read from the customers' actors: one reaching past the tenant's raw_retention_days is a 400 on time.from, one over more than 2,000 customers with usage in the range a 422 (filter on customer).",
    security,
    request: { body: jsonBody(ReportQuerySchema) },
    responses: {
      200: jsonResponse(ReportResultSchema, "The answer"),
      ...problemResponses,
      ...tooManyActors,
    },
  }),
  async (c) => c.json(await runReport(c, c.req.valid("json") as ReportQuery), 200),
);

reports.openapi(
  createRoute({
    method: "get",
    path: "/reports/run.csv",
    tags,
    summary: "The same report as CSV (RFC 4180, a header row of column names)",
    security,
    request: { query: EncodedQuery },
    responses: {
      200: { description: "text/csv", content: { "text/csv": { schema: z.string() } } },
      ...problemResponses,
      ...tooManyActors,
    },
  }),
  async (c) => {
    const result = await runReport(c, decodeQueryParam(c.req.valid("query").q));
    return new Response(reportCsv(result), {
      headers: {
        "content-type": "text/csv; charset=utf-8",
        "content-disposition": `attachment; filename="${reportFileName(result.query.dataset, Date.now(), "csv")}"`,
        "x-aforo-data-as-of": result.data_as_of,
        "x-aforo-truncated": String(result.truncated),
      },
    }) as never;
  },
);

reports.openapi(
  createRoute({
    method: "get",
    path: "/reports/run.parquet",
    tags,
    summary: "The same report as Parquet (typed columns; money as exact decimal strings)",
    security,
    request: { query: EncodedQuery },
    responses: {
      200: {
        description: "Apache Parquet",
        content: {
          "application/vnd.apache.parquet": { schema: z.string().openapi({ format: "binary" }) },
        },
      },
      ...problemResponses,
      ...tooManyActors,
    },
  }),
  async (c) => {
    const result = await runReport(c, decodeQueryParam(c.req.valid("query").q));
    return new Response(reportParquet(result), {
      headers: {
        "content-type": "application/vnd.apache.parquet",
        "content-disposition": `attachment; filename="${reportFileName(result.query.dataset, Date.now(), "parquet")}"`,
        "x-aforo-data-as-of": result.data_as_of,
        "x-aforo-truncated": String(result.truncated),
      },
    }) as never;
  },
);

// ---- Saved reports ------------------------------------------------------------------------------

const toSaved = (r: SavedReportRecord): z.infer<typeof SavedReportSchema> => ({
  id: r.id,
  name: r.name,
  description: r.description,
  query: r.query as z.infer<typeof ReportQuerySchema>,
  template: r.template,
  view: r.view,
  created_by: r.created_by,
  created_at: iso(r.created_at) ?? "",
  updated_at: iso(r.updated_at) ?? "",
});

const IdParam = z.object({ id: z.string().min(1).max(64) });

/** Templates are every tenant's: changing or deleting one is refused (a copy can be saved). */
function refuseTemplate(id: string) {
  if (templateOf(id)) {
    throw new ApiError("conflict", `'${id}' is a template: save a copy to change it`);
  }
}

reports.openapi(
  createRoute({
    method: "get",
    path: "/reports",
    tags,
    summary: "Saved reports, newest first; the first page also carries the templates",
    description:
      "The templates every tenant has come first on the first page (`template` set, id `tpl_…`), their relative ranges resolved now in the tenant's time zone; they are read-only (save a copy). docs/reports.md lists them.",
    security,
    request: { query: PageQuery },
    responses: {
      200: jsonResponse(page(SavedReportSchema), "A page of reports"),
      ...problemResponses,
    },
  }),
  async (c) => {
    const q = c.req.valid("query");
    const after = decodeCursor(q.cursor, ["time", "string"]);
    const rows = await listReports(c.env.DB, c.var.tenantId, after, q.limit + 1);
    const own = pageOf(rows, q.limit, toSaved, (r) => [r.created_at, r.id]);
    if (q.cursor) return c.json(own, 200);
    const zone = await tenantZone(c);
    const now = Date.now();
    return c.json(
      { ...own, data: [...TEMPLATES.map((t) => templateReport(t, now, zone)), ...own.data] },
      200,
    );
  },
);

reports.openapi(
  createRoute(
    permit("reports:share", "report.create", {
      method: "post",
      path: "/reports",
      tags,
      summary: "Save a report (its query is checked as a run would check it)",
      security,
      request: { body: jsonBody(NewReport) },
      responses: { 201: jsonResponse(SavedReportSchema, "The saved report"), ...problemResponses },
    }),
  ),
  async (c) => {
    const body = c.req.valid("json");
    const query = body.query as ReportQuery;
    await checked(c, query, "query.");
    const now = Date.now();
    const actor = c.var.actor;
    const record: SavedReportRecord = {
      id: `rpt_${randomHex(8)}`,
      name: body.name,
      description: body.description ?? "",
      query,
      template: null,
      view: body.view ?? "table",
      created_by: actor.ref,
      created_at: now,
      updated_at: now,
    };
    await insertReport(c.env.DB, c.var.tenantId, record);
    return c.json(toSaved(record), 201);
  },
);

reports.openapi(
  createRoute({
    method: "get",
    path: "/reports/{id}",
    tags,
    summary: "One saved report",
    security,
    request: { params: IdParam },
    responses: { 200: jsonResponse(SavedReportSchema, "The report"), ...problemResponses },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const template = templateOf(id);
    if (template) return c.json(templateReport(template, Date.now(), await tenantZone(c)), 200);
    const report = await getReport(c.env.DB, c.var.tenantId, id);
    if (!report) throw notFound("Report", id);
    return c.json(toSaved(report), 200);
  },
);

reports.openapi(
  createRoute(
    permit("reports:share", "report.update", {
      method: "patch",
      path: "/reports/{id}",
      tags,
      summary: "Change a saved report's name, description, query or view",
      security,
      request: { params: IdParam, body: jsonBody(ReportPatch) },
      responses: {
        200: jsonResponse(SavedReportSchema, "The report"),
        ...conflictResponse,
        ...problemResponses,
      },
    }),
  ),
  async (c) => {
    const { id } = c.req.valid("param");
    const body = c.req.valid("json");
    refuseTemplate(id);
    const report = await getReport(c.env.DB, c.var.tenantId, id);
    if (!report) throw notFound("Report", id);
    if (body.query) await checked(c, body.query as ReportQuery, "query.");
    const next: SavedReportRecord = {
      ...report,
      name: body.name ?? report.name,
      description: body.description ?? report.description,
      query: (body.query as ReportQuery | undefined) ?? report.query,
      view: body.view ?? report.view,
      updated_at: Date.now(),
    };
    if (!(await updateReport(c.env.DB, c.var.tenantId, next))) throw notFound("Report", id);
    return c.json(toSaved(next), 200);
  },
);

reports.openapi(
  createRoute(
    permit("reports:share", "report.delete", {
      method: "delete",
      path: "/reports/{id}",
      tags,
      summary: "Delete a saved report",
      security,
      request: { params: IdParam },
      responses: { 204: { description: "Deleted" }, ...conflictResponse, ...problemResponses },
    }),
  ),
  async (c) => {
    const { id } = c.req.valid("param");
    refuseTemplate(id);
    if (!(await deleteReport(c.env.DB, c.var.tenantId, id))) throw notFound("Report", id);
    return c.body(null, 204);
  },
);
