import { createRoute, z } from "@hono/zod-openapi";
import { createRouter } from "../app";
import { randomHex } from "../auth";
import {
  type ChannelRow,
  type ChannelType,
  checkAlertUrl,
  escalationChannel,
  newWebhookSecret,
  PUBLIC_COLUMNS,
  parseConfig,
  slackUrlHint,
  webhookSecretKey,
} from "../deliveries/channels";
import { openSecret, sealSecret } from "../deliveries/secrets";
import { sendToChannel } from "../deliveries/send";
import {
  ApiError,
  conflictResponse,
  notFound,
  problemResponses,
  validationError,
} from "../problem";
import { decodeCursor, iso, jsonBody, jsonResponse, Name, page, pageOf } from "../schemas";

// Alert channels (Slack incoming webhook, e-mail, Standard Webhooks endpoint) and the log of
// deliveries to them (README "Alerts"). A channel's secret — the webhook signing secret, or the
// Slack URL, which is itself a credential — is shown once, in the answer that creates it (or
// rotates it), and never again: every other answer says only `secret_set`.
export const channels = createRouter();
export const deliveries = createRouter();
const security = [{ operatorToken: [] }];

/** A tenant's alert fan-out is bounded: each signal becomes one delivery per channel. */
const MAX_CHANNELS = 20;

const AlertUrl = z
  .string()
  .trim()
  .max(2000)
  .superRefine((v, ctx) => {
    const problem = checkAlertUrl(v);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  })
  .openapi({
    format: "uri",
    description: "https; plain http only to a loopback address (local receivers)",
  });
const Email = z.email().max(254);
const WebhookSecret = z
  .string()
  .max(200)
  .refine(
    (s) => webhookSecretKey(s) !== null,
    "a Standard Webhooks secret: whsec_ followed by the base64 of 24 to 64 random bytes",
  );

const ChannelSchema = z
  .object({
    id: z.string(),
    type: z.enum(["slack", "email", "webhook"]),
    name: z.string(),
    enabled: z.boolean(),
    url: z.string().nullable().openapi({
      description: "webhook: the endpoint; slack: a redacted hint (the URL is a credential)",
    }),
    to: z.string().nullable().openapi({ description: "email: the recipient" }),
    from: z.string().nullable().openapi({ description: "email: the sender, if set" }),
    secret_set: z.boolean().openapi({
      description: "A secret (signing secret, Slack URL) is stored; it is never shown again",
    }),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("NotificationChannel");

const ChannelWithSecret = ChannelSchema.extend({
  secret: z.string().optional().openapi({
    description:
      "webhook: the Standard Webhooks signing secret (whsec_…), shown only in this response",
  }),
}).openapi("NotificationChannelWithSecret");

const CreateChannel = z
  .discriminatedUnion("type", [
    z
      .object({
        type: z.literal("slack"),
        name: Name,
        url: AlertUrl.openapi({
          description: "Slack incoming-webhook URL (https://hooks.slack.com/services/…)",
        }),
        enabled: z.boolean().optional(),
      })
      .strict(),
    z
      .object({
        type: z.literal("email"),
        name: Name,
        to: Email,
        from: Email.optional().openapi({
          description: "Sender; default AFORO_EMAIL_FROM. Deployed: a domain with Email Routing",
        }),
        enabled: z.boolean().optional(),
      })
      .strict(),
    z
      .object({
        type: z.literal("webhook"),
        name: Name,
        url: AlertUrl,
        secret: WebhookSecret.optional().openapi({
          description: "Signing secret (whsec_…); generated when omitted",
        }),
        enabled: z.boolean().optional(),
      })
      .strict(),
  ])
  .openapi("NewNotificationChannel");

const UpdateChannel = z
  .object({
    name: Name.optional(),
    enabled: z.boolean().optional(),
    url: AlertUrl.optional(),
    to: Email.optional(),
    from: Email.nullable().optional(),
    rotate_secret: z
      .literal(true)
      .optional()
      .openapi({ description: "webhook: issue a new signing secret (shown once)" }),
  })
  .strict()
  .refine((b) => Object.keys(b).length > 0, "send at least one field to change");

interface PublicChannelRow extends Omit<ChannelRow, "secret"> {
  secret_set: number;
}

function toChannel(row: PublicChannelRow) {
  const config = parseConfig(row.config);
  return {
    id: row.id,
    type: row.type,
    name: row.name,
    enabled: row.enabled === 1,
    url: config.url ?? null,
    to: config.to ?? null,
    from: config.from ?? null,
    secret_set: row.secret_set === 1,
    created_at: iso(row.created_at) ?? "",
    updated_at: iso(row.updated_at) ?? "",
  };
}

async function loadChannel(db: D1Database, tenantId: string, id: string) {
  const row = await db
    .prepare(`SELECT ${PUBLIC_COLUMNS} FROM notification_channels WHERE tenant_id = ? AND id = ?`)
    .bind(tenantId, id)
    .first<PublicChannelRow>();
  if (!row) throw notFound("Channel", id);
  return row;
}

const ChannelParams = z.object({ id: z.string().min(1).max(64) });

channels.openapi(
  createRoute({
    method: "get",
    path: "/",
    tags: ["alerts"],
    summary: "List alert channels (never their secrets)",
    security,
    responses: {
      200: jsonResponse(z.object({ data: z.array(ChannelSchema) }), "Channels"),
      ...problemResponses,
    },
  }),
  async (c) => {
    const { results } = await c.env.DB.prepare(
      `SELECT ${PUBLIC_COLUMNS} FROM notification_channels WHERE tenant_id = ? ORDER BY created_at, id`,
    )
      .bind(c.var.tenantId)
      .all<PublicChannelRow>();
    return c.json({ data: results.map(toChannel) }, 200);
  },
);

channels.openapi(
  createRoute({
    method: "post",
    path: "/",
    tags: ["alerts"],
    summary: "Create an alert channel: Slack incoming webhook, e-mail, or signed webhook",
    description:
      "Every new signal is delivered to every enabled channel. A webhook channel's signing secret is returned once, here.",
    security,
    request: { body: jsonBody(CreateChannel) },
    responses: {
      201: jsonResponse(ChannelWithSecret, "Created; `secret` is shown only now"),
      ...problemResponses,
      ...conflictResponse,
    },
  }),
  async (c) => {
    const body = c.req.valid("json");
    const db = c.env.DB;
    const tenantId = c.var.tenantId;
    const id = `ch_${randomHex(8)}`;
    const now = Date.now();
    let config: Record<string, string>;
    let secret: string | null = null;
    let shownSecret: string | undefined;
    switch (body.type) {
      case "slack":
        config = { url: slackUrlHint(body.url) };
        secret = body.url;
        break;
      case "email":
        config = body.from ? { to: body.to, from: body.from } : { to: body.to };
        break;
      case "webhook":
        config = { url: body.url };
        secret = body.secret ?? newWebhookSecret();
        shownSecret = secret;
        break;
    }
    const sealed = secret === null ? null : await sealSecret(c.env, tenantId, id, secret);
    // The cap and the insert are one statement, so concurrent creations cannot pass it.
    const inserted = await db
      .prepare(
        `INSERT INTO notification_channels
           (tenant_id, id, type, name, config, secret, link_base, enabled, created_at, updated_at)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9
         WHERE (SELECT COUNT(*) FROM notification_channels WHERE tenant_id = ?1) < ?10`,
      )
      .bind(
        tenantId,
        id,
        body.type,
        body.name,
        JSON.stringify(config),
        sealed,
        new URL(c.req.url).origin,
        body.enabled === false ? 0 : 1,
        now,
        MAX_CHANNELS,
      )
      .run();
    if (inserted.meta.changes === 0) {
      throw new ApiError("conflict", `A tenant has at most ${MAX_CHANNELS} alert channels`);
    }
    const channel = toChannel(await loadChannel(db, tenantId, id));
    return c.json(shownSecret ? { ...channel, secret: shownSecret } : channel, 201);
  },
);

channels.openapi(
  createRoute({
    method: "get",
    path: "/{id}",
    tags: ["alerts"],
    summary: "An alert channel (never its secret)",
    security,
    request: { params: ChannelParams },
    responses: { 200: jsonResponse(ChannelSchema, "The channel"), ...problemResponses },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    return c.json(toChannel(await loadChannel(c.env.DB, c.var.tenantId, id)), 200);
  },
);

/** Which PATCH fields apply to which channel type. */
const FIELDS_BY_TYPE: Record<ChannelType, Set<string>> = {
  slack: new Set(["name", "enabled", "url"]),
  email: new Set(["name", "enabled", "to", "from"]),
  webhook: new Set(["name", "enabled", "url", "rotate_secret"]),
};

channels.openapi(
  createRoute({
    method: "patch",
    path: "/{id}",
    tags: ["alerts"],
    summary: "Rename, enable or disable a channel, change where it sends, or rotate its secret",
    description:
      "A disabled channel gets no new deliveries, and its pending ones are canceled when their turn comes.",
    security,
    request: { params: ChannelParams, body: jsonBody(UpdateChannel) },
    responses: {
      200: jsonResponse(ChannelWithSecret, "Updated; `secret` only when rotated"),
      ...problemResponses,
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const body = c.req.valid("json");
    const db = c.env.DB;
    const tenantId = c.var.tenantId;
    const row = await loadChannel(db, tenantId, id);
    const allowed = FIELDS_BY_TYPE[row.type];
    const wrong = Object.keys(body).filter((k) => !allowed.has(k));
    if (wrong.length > 0) {
      throw validationError(
        wrong.map((k) => ({ path: k, message: `does not apply to a ${row.type} channel` })),
      );
    }
    const config = parseConfig(row.config);
    let secret: string | null = null;
    let shownSecret: string | undefined;
    if (body.url !== undefined) {
      if (row.type === "slack") {
        config.url = slackUrlHint(body.url);
        secret = body.url;
      } else config.url = body.url;
    }
    if (body.to !== undefined) config.to = body.to;
    if (body.from !== undefined) {
      if (body.from === null) delete config.from;
      else config.from = body.from;
    }
    if (body.rotate_secret) {
      secret = newWebhookSecret();
      shownSecret = secret;
    }
    await db
      .prepare(
        `UPDATE notification_channels SET name = COALESCE(?1, name),
           enabled = COALESCE(?2, enabled), config = ?3, secret = COALESCE(?4, secret),
           updated_at = ?5
         WHERE tenant_id = ?6 AND id = ?7`,
      )
      .bind(
        body.name ?? null,
        body.enabled === undefined ? null : body.enabled ? 1 : 0,
        JSON.stringify(config),
        secret === null ? null : await sealSecret(c.env, tenantId, id, secret),
        Date.now(),
        tenantId,
        id,
      )
      .run();
    const channel = toChannel(await loadChannel(db, tenantId, id));
    return c.json(shownSecret ? { ...channel, secret: shownSecret } : channel, 200);
  },
);

channels.openapi(
  createRoute({
    method: "delete",
    path: "/{id}",
    tags: ["alerts"],
    summary: "Delete a channel and its secret; its pending deliveries are canceled",
    security,
    request: { params: ChannelParams },
    responses: { 204: { description: "Deleted" }, ...problemResponses },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const db = c.env.DB;
    const tenantId = c.var.tenantId;
    await loadChannel(db, tenantId, id);
    const now = Date.now();
    await db.batch([
      db
        .prepare("DELETE FROM notification_channels WHERE tenant_id = ? AND id = ?")
        .bind(tenantId, id),
      db
        .prepare(
          `UPDATE deliveries SET status = 'canceled', last_error = 'the channel was deleted',
             leased_until = NULL, updated_at = ? WHERE tenant_id = ? AND channel_id = ? AND status = 'pending'`,
        )
        .bind(now, tenantId, id),
    ]);
    return c.body(null, 204);
  },
);

const TestResult = z
  .object({
    ok: z.boolean(),
    status: z
      .number()
      .int()
      .nullable()
      .openapi({ description: "The receiver's HTTP status (null for e-mail and network errors)" }),
    error: z.string().nullable(),
    duration_ms: z.number(),
  })
  .openapi("ChannelTestResult");

channels.openapi(
  createRoute({
    method: "post",
    path: "/{id}/test",
    tags: ["alerts"],
    summary: "Send a test message now and report how the receiver answered",
    description:
      "Sent even when the channel is disabled. Webhooks receive `{type:'aforo.test'}`, signed like any delivery.",
    security,
    request: { params: ChannelParams },
    responses: { 200: jsonResponse(TestResult, "What the receiver answered"), ...problemResponses },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const db = c.env.DB;
    const tenantId = c.var.tenantId;
    // The one read of a channel's secret outside the consumer: it is used, never returned.
    const row = await db
      .prepare(
        `SELECT tenant_id, id, type, name, config, secret, link_base, enabled, created_at, updated_at
         FROM notification_channels WHERE tenant_id = ? AND id = ?`,
      )
      .bind(tenantId, id)
      .first<ChannelRow>();
    if (!row) throw notFound("Channel", id);
    const channel = { ...row, secret: await openSecret(c.env, tenantId, id, row.secret) };
    const outcome = await sendToChannel(c.env, channel, {
      kind: "test",
      id: `test_${randomHex(12)}`,
    });
    return c.json(
      {
        ok: outcome.ok,
        status: outcome.status,
        error: outcome.error,
        duration_ms: outcome.duration_ms,
      },
      200,
    );
  },
);

// --- GET /api/deliveries ------------------------------------------------------------------

const DeliveryStatus = z.enum(["pending", "delivered", "dead", "canceled"]);

const DeliverySchema = z
  .object({
    id: z.string().openapi({ description: "Idempotency id, sent as webhook-id / Message-ID" }),
    signal_id: z.string(),
    channel_id: z.string(),
    channel_type: z.enum(["slack", "email", "webhook"]).nullable(),
    status: DeliveryStatus,
    attempts: z.number().int(),
    last_status: z.number().int().nullable(),
    last_error: z.string().nullable(),
    next_attempt_at: z.string().nullable(),
    delivered_at: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("Delivery");

interface DeliveryRow {
  id: string;
  signal_id: string;
  channel_id: string;
  channel_type: ChannelType | null;
  status: z.infer<typeof DeliveryStatus>;
  attempts: number;
  last_status: number | null;
  last_error: string | null;
  next_attempt_at: number;
  delivered_at: number | null;
  created_at: number;
  updated_at: number;
}

deliveries.openapi(
  createRoute({
    method: "get",
    path: "/",
    tags: ["alerts"],
    summary: "Alert deliveries, newest first, with status, attempts and the last error",
    security,
    request: {
      query: z.object({
        signal: z.string().max(200).optional(),
        channel: z.string().max(64).optional(),
        status: DeliveryStatus.optional(),
        limit: z.coerce.number().int().min(1).max(200).default(50),
        cursor: z.string().max(512).optional(),
      }),
    },
    responses: {
      200: jsonResponse(page(DeliverySchema), "A page of deliveries"),
      ...problemResponses,
    },
  }),
  async (c) => {
    const q = c.req.valid("query");
    const after = decodeCursor(q.cursor, ["number", "string"]);
    const { results } = await c.env.DB.prepare(
      `SELECT d.id, d.signal_id, d.channel_id,
         c.type AS channel_type, d.status, d.attempts,
         d.last_status, d.last_error, d.next_attempt_at, d.delivered_at, d.created_at, d.updated_at
       FROM deliveries d LEFT JOIN notification_channels c
         ON c.tenant_id = d.tenant_id AND c.id = d.channel_id
       WHERE d.tenant_id = ?1 AND (?2 IS NULL OR d.signal_id = ?2)
         AND (?3 IS NULL OR d.channel_id = ?3) AND (?4 IS NULL OR d.status = ?4)
         AND (?5 IS NULL OR d.created_at < ?5 OR (d.created_at = ?5 AND d.id > ?6))
       ORDER BY d.created_at DESC, d.id LIMIT ?7`,
    )
      .bind(
        c.var.tenantId,
        q.signal ?? null,
        q.channel ?? null,
        q.status ?? null,
        after?.[0] ?? null,
        after?.[1] ?? "",
        q.limit + 1,
      )
      .all<DeliveryRow>();
    return c.json(
      pageOf(
        results,
        q.limit,
        (d) => ({
          id: d.id,
          signal_id: d.signal_id,
          channel_id: d.channel_id,
          channel_type:
            d.channel_type ?? escalationChannel(c.var.tenantId, d.channel_id)?.type ?? null,
          status: d.status,
          attempts: d.attempts,
          last_status: d.last_status,
          last_error: d.last_error,
          next_attempt_at: d.status === "pending" ? iso(d.next_attempt_at) : null,
          delivered_at: iso(d.delivered_at),
          created_at: iso(d.created_at) ?? "",
          updated_at: iso(d.updated_at) ?? "",
        }),
        (d) => [d.created_at, d.id],
      ),
      200,
    );
  },
);
