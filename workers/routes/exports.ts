import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { ExportDatasetName } from "../../contracts/exports";
import { partitionPrefix } from "../../domain/exports/archive-layout";
import { EXPORT_DATASETS } from "../../domain/exports/datasets";
import { FILE_NAME, tenantPrefix } from "../../domain/exports/files";
import {
  checkSchedule,
  nextRunAfter,
  nextRuns,
  SCHEDULE_RANGES,
  type ScheduleRange,
} from "../../domain/reports/schedule";
import { DAY_MS } from "../../domain/time";
import { listArchivePartitions } from "../../store/event-archive";
import {
  type BatchRecord,
  countDestinations,
  type Destination,
  type DestinationConfig,
  deleteDestination,
  deleteExportSchedule,
  type ExportScheduleRecord,
  getDestination,
  getDestinationSecret,
  getExportSchedule,
  getRun,
  insertDestination,
  insertExportSchedule,
  lastScheduledRuns,
  listDestinations,
  listExportSchedules,
  listRuns,
  type RunFile,
  type RunRecord,
  recordDestinationTest,
  runBatches,
  runFile,
  runFiles,
  type S3Settings,
  updateDestination,
  updateExportSchedule,
} from "../../store/exports";
import { loadTenantSettings } from "../../store/tenants";
import { type AppEnv, createRouter } from "../app";
import { randomHex } from "../auth";
import { checkAlertUrl, newWebhookSecret, webhookSecretKey } from "../deliveries/channels";
import { type SecretResult, sealSecret } from "../deliveries/secrets";
import { sendSignedBody } from "../deliveries/send";
import { webhookChannel } from "../exports/deliver";
import { exportSource, runExport } from "../exports/run";
import { objectUrl, openS3Bucket, S3Error } from "../exports/s3";
import { permit } from "../permit";
import { ApiError, notFound, problemResponses, validationError } from "../problem";
import { decodeCursor, iso, jsonBody, jsonResponse, Name, PageQuery, pageOf } from "../schemas";

// Warehouse exports (issue 16 items 2–4; SPEC §8 Exports, §12): destinations (Aforo's R2 under
// the tenant's prefix, or a signed webhook), on-demand runs of a dataset over a window, their
// history and their files. Writes need `exports:manage`; reads, `read`. The run itself is
// workers/exports/run.ts; a webhook's batches are delivered by workers/exports/deliver.ts.
export const warehouseExports = createRouter();
const security = [{ operatorToken: [] }];
const tags = ["exports"];

/** A tenant's exports go to a handful of places; each run names one. */
const MAX_DESTINATIONS = 20;
/** The longest window one run covers (ten years of days; rows are streamed, not held). */
const MAX_WINDOW_DAYS = 3660;

const WebhookUrl = z.string().trim().min(1).max(2000).openapi({
  format: "uri",
  description:
    "https to a public host: private, loopback, link-local and cloud metadata addresses are refused; plain http only to a loopback receiver in local mode (AFORO_LOCAL_NETWORK=loopback)",
});
// The s3 destination's bucket (workers/exports/s3.ts). Names follow S3's bucket rules (R2 and
// MinIO take the same); the endpoint is an origin only, the bucket and keys go in the path.
const S3Endpoint = z.string().trim().min(1).max(500).openapi({
  format: "uri",
  description:
    "The S3-compatible endpoint's origin (`https://<account>.r2.cloudflarestorage.com`, `https://s3.eu-west-1.amazonaws.com`), https to a public host; no path, query or credentials. Loopback over http only in local mode (AFORO_LOCAL_NETWORK=loopback)",
});
const S3BucketName = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
    "3 to 63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit",
  );
const S3Region = z
  .string()
  .regex(/^[a-z0-9-]{1,32}$/, "a region name such as auto or us-east-1")
  .openapi({ description: 'SigV4 region; "auto" (the default) for R2' });
const S3Prefix = z
  .string()
  .max(200)
  .regex(/^[A-Za-z0-9!_.*'()=/-]*$/, "letters, digits and !_.*'()=/- only")
  .openapi({
    description:
      "Where the Hive layout starts in the bucket (a trailing / is added); '' for the root. No leading /, empty segments, . or ..",
  });
const S3AccessKeyId = z
  .string()
  .regex(/^[A-Za-z0-9+/=_-]{8,128}$/, "an access key id (8 to 128 letters and digits)");
const S3SecretKey = z.string().min(8).max(256).openapi({
  description: "Sealed at rest and never shown again; write-only",
});

const WebhookSecret = z
  .string()
  .max(200)
  .refine(
    (s) => webhookSecretKey(s) !== null,
    "a Standard Webhooks secret: whsec_ followed by the base64 of 24 to 64 random bytes",
  );

export const ExportS3SettingsSchema = z
  .object({
    endpoint: z.string(),
    bucket: z.string(),
    region: z.string(),
    prefix: z.string().openapi({ description: "'' or ending with /" }),
    path_style: z.boolean().openapi({
      description: "true: endpoint/bucket/key; false: virtual-hosted bucket.endpoint/key",
    }),
    access_key_id_last4: z.string().openapi({ description: "The access key id's last 4" }),
    secret_access_key_set: z.boolean().openapi({
      description: "A secret access key is stored (sealed); it is never shown",
    }),
  })
  .openapi("ExportS3Settings");

export const ExportDestinationSchema = z
  .object({
    id: z.string(),
    type: z.enum(["r2", "webhook", "s3"]),
    name: z.string(),
    enabled: z.boolean(),
    url: z.string().nullable().openapi({ description: "webhook: the endpoint" }),
    prefix: z
      .string()
      .nullable()
      .openapi({ description: "r2: where its files land in Aforo's bucket" }),
    secret_set: z.boolean().openapi({
      description:
        "webhook: a signing secret is stored; s3: a secret access key is. Never shown again",
    }),
    s3: ExportS3SettingsSchema.nullable().openapi({ description: "s3: the bucket" }),
    last_test: z
      .object({ at: z.string(), ok: z.boolean(), error: z.string().nullable() })
      .nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("ExportDestination");

export const ExportDestinationWithSecret = ExportDestinationSchema.extend({
  secret: z.string().optional().openapi({
    description: "webhook: the Standard Webhooks signing secret (whsec_…), shown only here",
  }),
}).openapi("ExportDestinationWithSecret");

const NewDestination = z
  .discriminatedUnion("type", [
    z.object({ type: z.literal("r2"), name: Name, enabled: z.boolean().optional() }).strict(),
    z
      .object({
        type: z.literal("webhook"),
        name: Name,
        url: WebhookUrl,
        secret: WebhookSecret.optional().openapi({
          description: "Signing secret (whsec_…); generated when omitted",
        }),
        enabled: z.boolean().optional(),
      })
      .strict(),
    z
      .object({
        type: z.literal("s3"),
        name: Name,
        endpoint: S3Endpoint,
        bucket: S3BucketName,
        region: S3Region.optional(),
        prefix: S3Prefix.optional(),
        path_style: z.boolean().optional().openapi({
          description: "Path-style addressing (the default; R2 and MinIO take it)",
        }),
        access_key_id: S3AccessKeyId,
        secret_access_key: S3SecretKey,
        enabled: z.boolean().optional(),
      })
      .strict(),
  ])
  .openapi("NewExportDestination");

const DestinationPatch = z
  .object({
    name: Name.optional(),
    enabled: z.boolean().optional().openapi({ description: "false disables it" }),
    url: WebhookUrl.optional(),
    rotate_secret: z
      .literal(true)
      .optional()
      .openapi({ description: "webhook: issue a new signing secret (shown once)" }),
    endpoint: S3Endpoint.optional(),
    bucket: S3BucketName.optional(),
    region: S3Region.optional(),
    prefix: S3Prefix.optional(),
    path_style: z.boolean().optional(),
    access_key_id: S3AccessKeyId.optional(),
    secret_access_key: S3SecretKey.optional().openapi({
      description: "s3: rotate the secret access key (write-only)",
    }),
  })
  .strict()
  .refine((b) => Object.keys(b).length > 0, "send at least one field to change")
  .openapi("ExportDestinationPatch");

export const ExportDestinationTestSchema = z
  .object({
    ok: z.boolean(),
    status: z.number().int().nullable(),
    error: z.string().nullable(),
    duration_ms: z.number(),
    probe: z.string(),
  })
  .openapi("ExportDestinationTest");

const RunStatus = z.enum(["running", "delivering", "succeeded", "failed"]);

export const ExportRunSchema = z
  .object({
    id: z.string(),
    dataset: z.enum(EXPORT_DATASETS),
    report: z.string().nullable(),
    destination: z.string().nullable().openapi({ description: "null: the tenant's R2 prefix" }),
    destination_type: z.enum(["r2", "webhook", "s3"]),
    format: z.enum(["parquet", "ndjson", "json"]),
    from: z.string(),
    to: z.string(),
    status: RunStatus,
    rows: z.number().int(),
    bytes: z.number().int(),
    files: z.number().int(),
    data_as_of: z.string().nullable().openapi({
      description: "Freshness: the data exported reflects everything up to this instant",
    }),
    error: z.string().nullable(),
    created_by: z.string(),
    created_at: z.string(),
    finished_at: z.string().nullable(),
    schedule: z.string().nullable().openapi({ description: "A scheduled run's schedule" }),
    scheduled_for: z.string().nullable().openapi({ description: "A scheduled run's slot" }),
  })
  .openapi("ExportRun");

export const ExportFileSchema = z
  .object({
    name: z.string(),
    date: z.string(),
    key: z.string().openapi({ description: "The object's key in the bucket" }),
    rows: z.number().int(),
    bytes: z.number().int(),
    sha256: z.string(),
    download: z.string(),
  })
  .openapi("ExportFile");

export const ExportBatchSchema = z
  .object({
    id: z.string().openapi({ description: "Its webhook-id on every attempt" }),
    seq: z.number().int(),
    rows: z.number().int(),
    status: z.enum(["pending", "delivered", "dead", "canceled"]),
    attempts: z.number().int(),
    last_status: z.number().int().nullable(),
    last_error: z.string().nullable(),
    next_attempt_at: z.string().nullable(),
    delivered_at: z.string().nullable(),
  })
  .openapi("ExportBatch");

export const ExportRunDetailSchema = ExportRunSchema.extend({
  file_list: z.array(ExportFileSchema),
  batches: z.array(ExportBatchSchema),
}).openapi("ExportRunDetail");

const NewExport = z
  .object({
    dataset: z.enum(EXPORT_DATASETS).openapi({
      description:
        "What to export. Raw `events` are read from the event archive (compacted events only) and written under `dataset=events_export/`",
    }),
    report: z.string().min(1).max(128).optional().openapi({
      description: "dataset report: a saved report's id or a template id",
    }),
    destination: z.string().min(1).max(64).optional().openapi({
      description: "A destination id; omitted: the tenant's prefix in Aforo's R2 bucket",
    }),
    from: z.iso
      .datetime({ offset: true })
      .openapi({ format: "date-time", example: "2026-11-01T00:00:00Z" }),
    to: z.iso
      .datetime({ offset: true })
      .openapi({ format: "date-time", example: "2026-11-08T00:00:00Z" }),
    format: z.enum(["parquet", "ndjson", "json"]).optional().openapi({
      description: "R2 and s3: parquet (the default); webhook: ndjson (the default) or json",
    }),
  })
  .strict()
  .openapi("NewExport");

const IdParams = z.object({ id: z.string().min(1).max(64) });
const FileParams = z.object({
  id: z.string().min(1).max(64),
  name: z.string().min(1).max(128),
});

const lastTest = (d: Destination) =>
  d.last_test_at === null
    ? null
    : { at: iso(d.last_test_at) ?? "", ok: d.last_test_ok === true, error: d.last_test_error };

const toDestination = (
  tenantId: string,
  d: Destination,
): z.infer<typeof ExportDestinationSchema> => ({
  id: d.id,
  type: d.type,
  name: d.name,
  enabled: d.enabled,
  url: d.url,
  prefix: d.type === "r2" ? tenantPrefix(tenantId) : null,
  secret_set: d.secret_set,
  s3: d.s3
    ? {
        endpoint: d.s3.endpoint,
        bucket: d.s3.bucket,
        region: d.s3.region,
        prefix: d.s3.prefix,
        path_style: d.s3.path_style,
        access_key_id_last4: d.s3.access_key_id.slice(-4),
        secret_access_key_set: d.secret_set,
      }
    : null,
  last_test: lastTest(d),
  created_at: iso(d.created_at) ?? "",
  updated_at: iso(d.updated_at) ?? "",
});

const toRun = (r: RunRecord): z.infer<typeof ExportRunSchema> => ({
  id: r.id,
  dataset: r.dataset as ExportDatasetName,
  report: r.report_id,
  destination: r.destination_id,
  destination_type: r.destination_type,
  format: r.format,
  from: iso(r.from_at) ?? "",
  to: iso(r.to_at) ?? "",
  status: r.status,
  rows: r.row_count,
  bytes: r.byte_count,
  files: r.file_count,
  data_as_of: iso(r.data_as_of),
  error: r.error,
  created_by: r.created_by,
  created_at: iso(r.created_at) ?? "",
  finished_at: iso(r.finished_at),
  schedule: r.schedule_id,
  scheduled_for: iso(r.scheduled_for),
});

const toFile = (runId: string, f: RunFile): z.infer<typeof ExportFileSchema> => ({
  name: f.name,
  date: f.partition_date,
  key: f.object_key,
  rows: f.row_count,
  bytes: f.byte_count,
  sha256: f.sha256,
  download: `/api/exports/runs/${encodeURIComponent(runId)}/files/${encodeURIComponent(f.name)}`,
});

const toBatch = (b: BatchRecord): z.infer<typeof ExportBatchSchema> => ({
  id: b.id,
  seq: b.seq,
  rows: b.row_count,
  status: b.status,
  attempts: b.attempts,
  last_status: b.last_status,
  last_error: b.last_error,
  next_attempt_at: b.status === "pending" ? iso(b.next_attempt_at) : null,
  delivered_at: iso(b.delivered_at),
});

async function runDetail(c: Context<AppEnv>, run: RunRecord) {
  const [files, batches] = await Promise.all([
    runFiles(c.env.DB, c.var.tenantId, run.id),
    runBatches(c.env.DB, c.var.tenantId, run.id),
  ]);
  return {
    ...toRun(run),
    file_list: files.map((f) => toFile(run.id, f)),
    batches: batches.map(toBatch),
  };
}

/** A secret that could not be sealed: the key is missing or wrong (503). */
function secretValue(result: SecretResult): string {
  if (!result.ok) throw new ApiError("unavailable", result.detail);
  return result.value;
}

function webhookUrl(env: Env, url: string): string {
  const problem = checkAlertUrl(url, env);
  if (problem) throw validationError([{ path: "url", message: problem }]);
  return url;
}

const S3_FIELDS = [
  "endpoint",
  "bucket",
  "region",
  "prefix",
  "path_style",
  "access_key_id",
  "secret_access_key",
] as const;

/** '' or ending with exactly one "/": keys are `<prefix><Hive layout>`. */
const normalPrefix = (prefix: string) =>
  prefix === "" || prefix.endsWith("/") ? prefix : `${prefix}/`;

/** An s3 destination's bucket as it will be fetched, or a 400 naming the field: the endpoint
 * an origin only, through the outbound guard, and for virtual-hosted addressing the bucket's
 * own host through it too. */
function s3Settings(env: Env, s: S3Settings): S3Settings {
  let endpoint: URL;
  try {
    endpoint = new URL(s.endpoint);
  } catch {
    throw validationError([{ path: "endpoint", message: "not a valid URL" }]);
  }
  if (endpoint.pathname !== "/" || endpoint.search || endpoint.hash) {
    throw validationError([
      { path: "endpoint", message: "only the origin: the bucket and keys go in the path" },
    ]);
  }
  const problem = checkAlertUrl(s.endpoint, env);
  if (problem) throw validationError([{ path: "endpoint", message: problem }]);
  // Checked here rather than in the schema's pattern (no lookaheads there: the route fuzzer
  // generates from it). The URL parser resolves `.` and `..` segments, so such a key would be
  // written under another name than the run records; an empty segment (`a//b`) is a key most
  // tools cannot address.
  const segments = s.prefix.replace(/\/$/, "").split("/");
  if (
    s.prefix.startsWith("/") ||
    (s.prefix !== "" && segments.some((p) => p === "" || p === "." || p === ".."))
  ) {
    throw validationError([
      { path: "prefix", message: "no leading slash, empty segments, . or .." },
    ]);
  }
  const settings = { ...s, endpoint: endpoint.origin, prefix: normalPrefix(s.prefix) };
  const target = checkAlertUrl(objectUrl(settings, "probe"), env);
  if (target) throw validationError([{ path: "bucket", message: target }]);
  return settings;
}

warehouseExports.openapi(
  createRoute({
    method: "get",
    path: "/destinations",
    tags,
    summary: "Export destinations (never their secrets)",
    security,
    responses: {
      200: jsonResponse(z.object({ data: z.array(ExportDestinationSchema) }), "Destinations"),
      ...problemResponses,
    },
  }),
  async (c) => {
    const list = await listDestinations(c.env.DB, c.var.tenantId);
    return c.json({ data: list.map((d) => toDestination(c.var.tenantId, d)) }, 200);
  },
);

warehouseExports.openapi(
  createRoute(
    permit("exports:manage", "export_destination.create", {
      method: "post",
      path: "/destinations",
      tags,
      summary:
        "Add a destination: Aforo's R2 (the tenant's prefix), a signed webhook or the tenant's own S3-compatible bucket",
      description:
        "A webhook URL and an s3 endpoint are checked like an alert channel's URL (https to a public host). A webhook's Standard Webhooks signing secret is sealed at rest and returned once, here; an s3 secret access key is sealed and never returned.",
      security,
      request: { body: jsonBody(NewDestination) },
      responses: {
        201: jsonResponse(ExportDestinationWithSecret, "Created; `secret` is shown only now"),
        ...problemResponses,
      },
    }),
  ),
  async (c) => {
    const body = c.req.valid("json");
    const db = c.env.DB;
    const tenantId = c.var.tenantId;
    if (body.type === "webhook") webhookUrl(c.env, body.url);
    const config: DestinationConfig =
      body.type === "webhook"
        ? { url: body.url }
        : body.type === "s3"
          ? s3Settings(c.env, {
              endpoint: body.endpoint,
              bucket: body.bucket,
              region: body.region ?? "auto",
              prefix: body.prefix ?? "",
              path_style: body.path_style ?? true,
              access_key_id: body.access_key_id,
            })
          : {};
    if ((await countDestinations(db, tenantId)) >= MAX_DESTINATIONS) {
      throw new ApiError("conflict", `A tenant has at most ${MAX_DESTINATIONS} destinations`);
    }
    const id = `exd_${randomHex(8)}`;
    // A webhook's signing secret is shown once, here; an s3 secret access key never is.
    const shownSecret = body.type === "webhook" ? (body.secret ?? newWebhookSecret()) : null;
    const secret = body.type === "s3" ? body.secret_access_key : shownSecret;
    const sealed =
      secret === null ? null : secretValue(await sealSecret(c.env, tenantId, id, secret));
    await insertDestination(
      db,
      tenantId,
      {
        id,
        type: body.type,
        name: body.name,
        config,
        secret: sealed,
        enabled: body.enabled !== false,
      },
      Date.now(),
    );
    const created = await getDestination(db, tenantId, id);
    if (!created) throw notFound("Destination", id);
    const shown = toDestination(tenantId, created);
    return c.json(shownSecret ? { ...shown, secret: shownSecret } : shown, 201);
  },
);

warehouseExports.openapi(
  createRoute(
    permit("exports:manage", "export_destination.update", {
      method: "patch",
      path: "/destinations/{id}",
      tags,
      summary:
        "Rename, enable or disable a destination, change its URL or bucket, or rotate its secret",
      description:
        "A disabled destination takes no new runs, and a batch not yet delivered to it is given up at its next attempt (its run fails).",
      security,
      request: { params: IdParams, body: jsonBody(DestinationPatch) },
      responses: {
        200: jsonResponse(ExportDestinationWithSecret, "Updated; `secret` only when rotated"),
        ...problemResponses,
      },
    }),
  ),
  async (c) => {
    const { id } = c.req.valid("param");
    const body = c.req.valid("json");
    const db = c.env.DB;
    const tenantId = c.var.tenantId;
    const current = await getDestination(db, tenantId, id);
    if (!current) throw notFound("Destination", id);
    if (current.type !== "webhook" && (body.url !== undefined || body.rotate_secret)) {
      const path = body.url !== undefined ? "url" : "rotate_secret";
      throw validationError([
        { path, message: `an ${current.type} destination has no URL or signing secret` },
      ]);
    }
    const s3Field = S3_FIELDS.find((f) => body[f] !== undefined);
    if (current.type !== "s3" && s3Field) {
      throw validationError([{ path: s3Field, message: "only an s3 destination has a bucket" }]);
    }
    let config: DestinationConfig | undefined;
    if (body.url !== undefined) config = { url: webhookUrl(c.env, body.url) };
    if (current.s3 && s3Field) {
      config = s3Settings(c.env, {
        endpoint: body.endpoint ?? current.s3.endpoint,
        bucket: body.bucket ?? current.s3.bucket,
        region: body.region ?? current.s3.region,
        prefix: body.prefix ?? current.s3.prefix,
        path_style: body.path_style ?? current.s3.path_style,
        access_key_id: body.access_key_id ?? current.s3.access_key_id,
      });
    }
    const shownSecret = body.rotate_secret ? newWebhookSecret() : undefined;
    const secret = shownSecret ?? body.secret_access_key;
    await updateDestination(
      db,
      tenantId,
      id,
      {
        ...(body.name !== undefined ? { name: body.name } : {}),
        ...(config !== undefined ? { config } : {}),
        ...(body.enabled !== undefined ? { enabled: body.enabled } : {}),
        ...(secret ? { secret: secretValue(await sealSecret(c.env, tenantId, id, secret)) } : {}),
      },
      Date.now(),
    );
    const updated = await getDestination(db, tenantId, id);
    if (!updated) throw notFound("Destination", id);
    const shown = toDestination(tenantId, updated);
    return c.json(shownSecret ? { ...shown, secret: shownSecret } : shown, 200);
  },
);

warehouseExports.openapi(
  createRoute(
    permit("exports:manage", "export_destination.delete", {
      method: "delete",
      path: "/destinations/{id}",
      tags,
      summary: "Delete a destination and its secret; batches not yet delivered are canceled",
      description: "Files already written stay in the bucket (and downloadable from their runs).",
      security,
      request: { params: IdParams },
      responses: { 204: { description: "Deleted" }, ...problemResponses },
    }),
  ),
  async (c) => {
    const { id } = c.req.valid("param");
    if (!(await deleteDestination(c.env.DB, c.var.tenantId, id, Date.now()))) {
      throw notFound("Destination", id);
    }
    return c.body(null, 204);
  },
);

const TEST_TEXT = "Test message from Aforo: this destination receives warehouse exports.";

warehouseExports.openapi(
  createRoute(
    permit("exports:manage", "export_destination.test", {
      method: "post",
      path: "/destinations/{id}/test",
      tags,
      summary: "Write or send a small probe now and report the outcome",
      description:
        "r2: writes `tenant=<id>/_probe/<destination>.json`, reads it back, compares and deletes it. s3: PUTs `<prefix>tenant=<id>/_probe/<destination>.json` to the tenant's bucket and DELETEs it, reporting the bucket's status and S3 error code if it refuses. webhook: sends a signed `{type:'aforo.test'}` (even when disabled) and reports the receiver's answer.",
      security,
      request: { params: IdParams },
      responses: {
        200: jsonResponse(ExportDestinationTestSchema, "The probe's outcome"),
        ...problemResponses,
      },
    }),
  ),
  async (c) => {
    const { id } = c.req.valid("param");
    const db = c.env.DB;
    const tenantId = c.var.tenantId;
    const d = await getDestinationSecret(db, tenantId, id);
    if (!d) throw notFound("Destination", id);
    const started = Date.now();
    let outcome: z.infer<typeof ExportDestinationTestSchema>;
    if (d.type === "r2") {
      const key = `${tenantPrefix(tenantId)}_probe/${d.id}.json`;
      const probe = JSON.stringify({ destination: d.id, at: new Date(started).toISOString() });
      let error: string | null = null;
      try {
        await c.env.EXPORTS.put(key, probe, { httpMetadata: { contentType: "application/json" } });
        const back = await c.env.EXPORTS.get(key);
        const text = back ? await back.text() : null;
        if (text !== probe) error = "the probe read back differs from what was written";
        await c.env.EXPORTS.delete(key);
      } catch (err) {
        error = `the bucket refused the probe: ${err instanceof Error ? err.message : String(err)}`;
      }
      outcome = {
        ok: error === null,
        status: null,
        error,
        duration_ms: Date.now() - started,
        probe: key,
      };
    } else if (d.type === "s3") {
      const opened = await openS3Bucket(c.env, tenantId, d.id);
      if (!opened.ok) throw new ApiError("unavailable", opened.error);
      const key = opened.bucket.keyOf(`${tenantPrefix(tenantId)}_probe/${d.id}.json`);
      const probe = JSON.stringify({ destination: d.id, at: new Date(started).toISOString() });
      let failure: S3Error | null = null;
      try {
        await opened.bucket.put(key, new TextEncoder().encode(probe), "application/json");
        await opened.bucket.delete(key);
      } catch (err) {
        if (!(err instanceof S3Error)) throw err;
        failure = err;
      }
      outcome = {
        ok: failure === null,
        status: failure?.status ?? null,
        error: failure?.message ?? null,
        duration_ms: Date.now() - started,
        probe: key,
      };
    } else {
      // Sent whether enabled or not: a test is how a disabled destination is checked first.
      const channel = await webhookChannel(c.env, tenantId, d.id, { allowDisabled: true });
      if (!channel.ok) throw new ApiError("unavailable", channel.error);
      const probeId = `test_${randomHex(12)}`;
      const body = JSON.stringify({
        type: "aforo.test",
        timestamp: new Date(started).toISOString(),
        data: { destination_id: d.id, message: TEST_TEXT },
      });
      const sent = await sendSignedBody(c.env, channel.channel, probeId, body, "application/json");
      outcome = {
        ok: sent.ok,
        status: sent.status,
        error: sent.error,
        duration_ms: sent.duration_ms,
        probe: probeId,
      };
    }
    await recordDestinationTest(db, tenantId, d.id, outcome, Date.now());
    return c.json(outcome, 200);
  },
);

/** What every run and schedule names: the dataset (and report), the destination and the
 * format, or a 400 naming the field. An omitted destination is the tenant's R2 prefix. */
async function checkTarget(
  c: Context<AppEnv>,
  body: {
    dataset: string;
    report?: string | undefined;
    destination?: string | null | undefined;
    format?: "parquet" | "ndjson" | "json" | undefined;
  },
) {
  if (body.dataset === "report" && !body.report) {
    throw validationError([{ path: "report", message: "dataset report needs a report id" }]);
  }
  if (body.dataset !== "report" && body.report) {
    throw validationError([{ path: "report", message: "only dataset report takes a report" }]);
  }
  let destination: Destination | null = null;
  if (body.destination) {
    destination = await getDestination(c.env.DB, c.var.tenantId, body.destination);
    if (!destination) {
      throw validationError([
        { path: "destination", message: `no destination '${body.destination}'` },
      ]);
    }
    if (!destination.enabled) {
      throw validationError([{ path: "destination", message: "the destination is disabled" }]);
    }
  }
  const webhook = destination?.type === "webhook";
  const format = body.format ?? (webhook ? "ndjson" : "parquet");
  if (webhook !== (format !== "parquet")) {
    throw validationError([
      {
        path: "format",
        message: webhook
          ? "a webhook takes ndjson or json"
          : `${destination?.type === "s3" ? "s3" : "R2"} takes parquet (ndjson and json are for webhooks)`,
      },
    ]);
  }
  return { destination, format };
}

warehouseExports.openapi(
  createRoute(
    permit("exports:manage", "export.run", {
      method: "post",
      path: "/",
      tags,
      summary: "Export a dataset over [from, to) now, to R2 as Parquet or to a webhook",
      description:
        "Runs in the request: R2 runs answer when their files are written (status succeeded or failed); webhook runs when their batches are queued (status delivering, then succeeded once every batch is delivered). Re-running a window writes the same file names (byte-identical for the same rows) and removes the window's files that the new run did not write. A bad dataset, `from` not before `to`, a window over 10 years, a format the destination does not take or a destination that does not exist or is disabled are 400s naming the field.",
      security,
      request: { body: jsonBody(NewExport) },
      responses: {
        201: jsonResponse(ExportRunDetailSchema, "The run"),
        ...problemResponses,
      },
    }),
  ),
  async (c) => {
    const body = c.req.valid("json");
    const tenantId = c.var.tenantId;
    const from = Date.parse(body.from);
    const to = Date.parse(body.to);
    if (from >= to) throw validationError([{ path: "from", message: "must be before to" }]);
    if (to - from > MAX_WINDOW_DAYS * DAY_MS) {
      throw validationError([
        { path: "to", message: `a run covers at most ${MAX_WINDOW_DAYS} days` },
      ]);
    }
    const { destination, format } = await checkTarget(c, body);
    const now = Date.now();
    const source = await exportSource(
      c.env,
      tenantId,
      { dataset: body.dataset, report: body.report ?? null },
      from,
      to,
      now,
    );
    const run = await runExport(
      c.env,
      tenantId,
      {
        runId: `exr_${randomHex(8)}`,
        source,
        destination,
        format,
        from,
        to,
        createdBy: c.var.actor.ref,
      },
      now,
    );
    return c.json(await runDetail(c, run), 201);
  },
);

warehouseExports.openapi(
  createRoute({
    method: "get",
    path: "/runs",
    tags,
    summary: "Export runs, newest first: status, rows, bytes, files and freshness",
    security,
    request: { query: PageQuery },
    responses: {
      200: jsonResponse(
        z.object({ data: z.array(ExportRunSchema), next_cursor: z.string().nullable() }),
        "A page of runs",
      ),
      ...problemResponses,
    },
  }),
  async (c) => {
    const q = c.req.valid("query");
    const after = decodeCursor(q.cursor, ["time", "string"] as const);
    const rows = await listRuns(c.env.DB, c.var.tenantId, q.limit + 1, after);
    return c.json(
      pageOf(rows, q.limit, toRun, (r) => [r.created_at, r.id]),
      200,
    );
  },
);

warehouseExports.openapi(
  createRoute({
    method: "get",
    path: "/runs/{id}",
    tags,
    summary: "One run with its files (and a webhook run's batches)",
    security,
    request: { params: IdParams },
    responses: {
      200: jsonResponse(ExportRunDetailSchema, "The run"),
      ...problemResponses,
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const run = await getRun(c.env.DB, c.var.tenantId, id);
    if (!run) throw notFound("Export run", id);
    return c.json(await runDetail(c, run), 200);
  },
);

warehouseExports.openapi(
  createRoute({
    method: "get",
    path: "/runs/{id}/files/{name}",
    tags,
    summary: "Download one of a run's files from the bucket",
    description:
      "Only the caller's tenant's runs and only objects under its own prefix. A file a later run of the same window no longer holds is 404. A run to an s3 destination streams the file back from the tenant's bucket with a signed GET (the key needs s3:GetObject); a refusal is a 502 naming the bucket's status and S3 error code, a deleted destination a 404.",
    security,
    request: { params: FileParams },
    responses: {
      200: {
        description: "The file",
        content: {
          "application/vnd.apache.parquet": { schema: z.string().openapi({ format: "binary" }) },
          "application/x-ndjson": { schema: z.string() },
        },
      },
      ...problemResponses,
    },
  }),
  async (c) => {
    const { id, name } = c.req.valid("param");
    const tenantId = c.var.tenantId;
    if (!FILE_NAME.test(name)) throw notFound("Export file", name);
    const [run, file] = await Promise.all([
      getRun(c.env.DB, tenantId, id),
      runFile(c.env.DB, tenantId, id, name),
    ]);
    if (!file || !run) throw notFound("Export file", name);
    if (run.destination_type === "s3" && run.destination_id !== null) {
      return s3Download(c, run.destination_id, file, name);
    }
    // The key is checked too: nothing outside the tenant's prefix of Aforo's bucket is served.
    if (!file.object_key.startsWith(tenantPrefix(tenantId))) throw notFound("Export file", name);
    const object = await c.env.EXPORTS.get(file.object_key);
    if (!object) throw notFound("Export file", name);
    return new Response(object.body, {
      headers: {
        "content-type": object.httpMetadata?.contentType ?? "application/octet-stream",
        "content-length": String(object.size),
        "content-disposition": `attachment; filename="${name}"`,
        etag: object.httpEtag,
      },
    });
  },
);

/** A file of a run to an s3 destination, read back from the tenant's bucket with the
 * destination's own key (so it can only ever read that bucket). */
async function s3Download(c: Context<AppEnv>, destinationId: string, file: RunFile, name: string) {
  const opened = await openS3Bucket(c.env, c.var.tenantId, destinationId);
  if (!opened.ok) {
    throw new ApiError(
      "not_found",
      `Export file '${name}' is in the tenant's bucket at '${file.object_key}', which Aforo can no longer read: ${opened.error}`,
    );
  }
  let object: Response | null;
  try {
    object = await opened.bucket.get(file.object_key);
  } catch (err) {
    if (!(err instanceof S3Error)) throw err;
    throw new ApiError("upstream_failed", `The tenant's bucket refused the file: ${err.message}`);
  }
  if (!object?.body) throw notFound("Export file", name);
  const headers = new Headers({
    "content-type": object.headers.get("content-type") ?? "application/octet-stream",
    "content-disposition": `attachment; filename="${name}"`,
  });
  for (const h of ["content-length", "etag"]) {
    const v = object.headers.get(h);
    if (v) headers.set(h, v);
  }
  return new Response(object.body, { headers });
}

// ---- Schedules ----------------------------------------------------------------------------------

const ScheduleWindow = z.enum(SCHEDULE_RANGES).openapi({
  description:
    "The window each run exports, resolved at the slot's instant in the schedule's zone: whole local days before that day (weeks from Monday, months from the 1st); last_24_hours: the 24 whole UTC hours before it",
});
const Cron = z.string().trim().min(1).max(120).openapi({
  description: "5 fields (or 6 with seconds), read by croner; at most once every 15 minutes",
  example: "0 2 * * *",
});

export const ExportScheduleSchema = z
  .object({
    id: z.string(),
    dataset: z.enum(EXPORT_DATASETS),
    report: z.string().nullable(),
    destination: z.string().nullable().openapi({ description: "null: the tenant's R2 prefix" }),
    format: z.enum(["parquet", "ndjson", "json"]),
    cron: z.string(),
    time_zone: z.string().nullable().openapi({ description: "null: the tenant's zone" }),
    runs_in: z.string().openapi({ description: "The zone the pattern is read in now" }),
    range: ScheduleWindow,
    enabled: z.boolean(),
    next_runs: z
      .array(z.string())
      .openapi({ description: "The next 3 slots (UTC instants); empty when disabled" }),
    last_run: z.object({ id: z.string(), status: RunStatus, scheduled_for: z.string() }).nullable(),
    created_by: z.string(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("ExportSchedule");

const NewSchedule = z
  .object({
    dataset: z.enum(EXPORT_DATASETS),
    report: z.string().min(1).max(128).optional(),
    destination: z.string().min(1).max(64).optional(),
    format: z.enum(["parquet", "ndjson", "json"]).optional(),
    cron: Cron,
    time_zone: z.string().max(64).nullable().optional(),
    range: ScheduleWindow,
    enabled: z.boolean().optional(),
  })
  .strict()
  .openapi("NewExportSchedule");

const SchedulePatch = z
  .object({
    destination: z.string().min(1).max(64).nullable().optional().openapi({
      description: "null: the tenant's R2 prefix",
    }),
    format: z.enum(["parquet", "ndjson", "json"]).optional(),
    cron: Cron.optional(),
    time_zone: z.string().max(64).nullable().optional(),
    range: ScheduleWindow.optional(),
    enabled: z.boolean().optional(),
  })
  .strict()
  .refine((b) => Object.keys(b).length > 0, "send at least one field to change")
  .openapi("ExportSchedulePatch");

const tenantZone = async (c: Context<AppEnv>) =>
  (await loadTenantSettings(c.env.DB, c.var.tenantId)).retry.time_zone;

function toSchedule(
  s: ExportScheduleRecord,
  zone: string,
  last: { id: string; status: RunRecord["status"]; scheduled_for: number } | undefined,
): z.infer<typeof ExportScheduleSchema> {
  const runsIn = s.time_zone ?? zone;
  const upcoming =
    s.enabled && s.next_run_at !== null
      ? [s.next_run_at, ...nextRuns(s.cron, runsIn, s.next_run_at, 2)]
      : [];
  return {
    id: s.id,
    dataset: s.dataset as ExportDatasetName,
    report: s.report_id,
    destination: s.destination_id,
    format: s.format,
    cron: s.cron,
    time_zone: s.time_zone,
    runs_in: runsIn,
    range: s.range as ScheduleRange,
    enabled: s.enabled,
    next_runs: upcoming.map((t) => iso(t) ?? ""),
    last_run: last
      ? { id: last.id, status: last.status, scheduled_for: iso(last.scheduled_for) ?? "" }
      : null,
    created_by: s.created_by,
    created_at: iso(s.created_at) ?? "",
    updated_at: iso(s.updated_at) ?? "",
  };
}

function checkTiming(
  s: Pick<ExportScheduleRecord, "cron" | "time_zone">,
  zone: string,
  now: number,
) {
  const issues = checkSchedule(s.cron, s.time_zone ?? zone, now);
  if (issues.length > 0) throw validationError(issues);
}

warehouseExports.openapi(
  createRoute({
    method: "get",
    path: "/schedules",
    tags,
    summary: "Export schedules, with their next 3 slots and last run",
    security,
    responses: {
      200: jsonResponse(z.object({ data: z.array(ExportScheduleSchema) }), "The schedules"),
      ...problemResponses,
    },
  }),
  async (c) => {
    const zone = await tenantZone(c);
    const [rows, last] = await Promise.all([
      listExportSchedules(c.env.DB, c.var.tenantId),
      lastScheduledRuns(c.env.DB, c.var.tenantId),
    ]);
    return c.json({ data: rows.map((s) => toSchedule(s, zone, last.get(s.id))) }, 200);
  },
);

warehouseExports.openapi(
  createRoute(
    permit("exports:manage", "export_schedule.create", {
      method: "post",
      path: "/schedules",
      tags,
      summary:
        "Schedule an export: a dataset, a destination, a cron pattern in a zone and a window",
      description:
        "The tenant clock runs each slot once, over `range` resolved at the slot's instant in the schedule's zone. A pattern croner cannot read, or that runs more often than every 15 minutes, is a 400 on `cron`; an unknown zone on `time_zone`; the dataset, report, destination and format are checked as POST /api/exports checks them.",
      security,
      request: { body: jsonBody(NewSchedule) },
      responses: { 201: jsonResponse(ExportScheduleSchema, "The schedule"), ...problemResponses },
    }),
  ),
  async (c) => {
    const body = c.req.valid("json");
    const { format } = await checkTarget(c, body);
    const zone = await tenantZone(c);
    const now = Date.now();
    const timeZone = body.time_zone ?? null;
    checkTiming({ cron: body.cron, time_zone: timeZone }, zone, now);
    const enabled = body.enabled ?? true;
    const record: ExportScheduleRecord = {
      id: `exs_${randomHex(8)}`,
      dataset: body.dataset,
      report_id: body.report ?? null,
      destination_id: body.destination ?? null,
      format,
      cron: body.cron,
      time_zone: timeZone,
      range: body.range,
      enabled,
      next_run_at: enabled ? nextRunAfter(body.cron, timeZone ?? zone, now) : null,
      created_by: c.var.actor.ref,
      created_at: now,
      updated_at: now,
    };
    await insertExportSchedule(c.env.DB, c.var.tenantId, record);
    return c.json(toSchedule(record, zone, undefined), 201);
  },
);

warehouseExports.openapi(
  createRoute(
    permit("exports:manage", "export_schedule.update", {
      method: "patch",
      path: "/schedules/{id}",
      tags,
      summary: "Change a schedule's destination, format, pattern, zone, window or whether it runs",
      security,
      request: { params: IdParams, body: jsonBody(SchedulePatch) },
      responses: { 200: jsonResponse(ExportScheduleSchema, "The schedule"), ...problemResponses },
    }),
  ),
  async (c) => {
    const { id } = c.req.valid("param");
    const body = c.req.valid("json");
    const db = c.env.DB;
    const current = await getExportSchedule(db, c.var.tenantId, id);
    if (!current) throw notFound("Export schedule", id);
    const zone = await tenantZone(c);
    const now = Date.now();
    const destination = body.destination === undefined ? current.destination_id : body.destination;
    const { format } = await checkTarget(c, {
      dataset: current.dataset,
      ...(current.report_id ? { report: current.report_id } : {}),
      destination,
      // A new destination of another kind takes its default format unless one is given.
      format: body.format ?? (body.destination === undefined ? current.format : undefined),
    });
    const next: ExportScheduleRecord = {
      ...current,
      destination_id: destination,
      format,
      cron: body.cron ?? current.cron,
      time_zone: body.time_zone === undefined ? current.time_zone : body.time_zone,
      range: body.range ?? current.range,
      enabled: body.enabled ?? current.enabled,
      updated_at: now,
    };
    checkTiming(next, zone, now);
    if (
      next.cron !== current.cron ||
      next.time_zone !== current.time_zone ||
      next.enabled !== current.enabled
    ) {
      next.next_run_at = next.enabled ? nextRunAfter(next.cron, next.time_zone ?? zone, now) : null;
    }
    if (!(await updateExportSchedule(db, c.var.tenantId, next))) {
      throw notFound("Export schedule", id);
    }
    const last = await lastScheduledRuns(db, c.var.tenantId);
    return c.json(toSchedule(next, zone, last.get(id)), 200);
  },
);

warehouseExports.openapi(
  createRoute(
    permit("exports:manage", "export_schedule.delete", {
      method: "delete",
      path: "/schedules/{id}",
      tags,
      summary: "Delete a schedule (its runs and files stay)",
      security,
      request: { params: IdParams },
      responses: { 204: { description: "Deleted" }, ...problemResponses },
    }),
  ),
  async (c) => {
    const { id } = c.req.valid("param");
    if (!(await deleteExportSchedule(c.env.DB, c.var.tenantId, id))) {
      throw notFound("Export schedule", id);
    }
    return c.body(null, 204);
  },
);

// ---- The event archive's partitions -------------------------------------------------------------

const ArchiveDate = z.iso
  .date()
  .openapi({ description: "A UTC date, YYYY-MM-DD", example: "2026-11-01" });

const ArchiveQuery = z.object({
  from: ArchiveDate.openapi({ description: "The first partition date (UTC), inclusive" }),
  to: ArchiveDate.openapi({ description: "The last partition date (UTC), inclusive" }),
});

export const ArchivePartitionSchema = z
  .object({
    date: z.string().openapi({ description: "The partition's UTC date (`date=` in its key)" }),
    prefix: z
      .string()
      .openapi({ description: "Where its part files and manifest are in the bucket" }),
    files: z.number().int(),
    rows: z.number().int(),
    bytes: z.number().int(),
    min_event_time: z.string(),
    max_event_time: z.string(),
    compacted_at: z.string().openapi({ description: "When the last compaction wrote it" }),
  })
  .openapi("ArchivePartition");

warehouseExports.openapi(
  createRoute({
    method: "get",
    path: "/archive",
    tags,
    summary: "The event archive's compacted partitions for a range of UTC dates, oldest first",
    description:
      "One row per date the archive holds: its part files, rows, bytes, the event-time span and the last compaction (events staged since then are not counted until the next tick compacts them). `from` after `to`, or a range over 10 years, is a 400 naming the field.",
    security,
    request: { query: ArchiveQuery },
    responses: {
      200: jsonResponse(z.object({ data: z.array(ArchivePartitionSchema) }), "The partitions"),
      ...problemResponses,
    },
  }),
  async (c) => {
    const { from, to } = c.req.valid("query");
    const days = (Date.parse(to) - Date.parse(from)) / DAY_MS;
    if (days < 0) throw validationError([{ path: "query.from", message: "must not be after to" }]);
    if (days >= MAX_WINDOW_DAYS) {
      throw validationError([{ path: "query.to", message: `at most ${MAX_WINDOW_DAYS} days` }]);
    }
    const tenantId = c.var.tenantId;
    const rows = await listArchivePartitions(c.env.DB, tenantId, from, to);
    return c.json(
      {
        data: rows.map((p) => ({
          date: p.date,
          prefix: partitionPrefix(tenantId, p.date),
          files: p.files,
          rows: p.rows,
          bytes: p.bytes,
          min_event_time: iso(p.min_event_time) ?? "",
          max_event_time: iso(p.max_event_time) ?? "",
          compacted_at: iso(p.compacted_at) ?? "",
        })),
      },
      200,
    );
  },
);
