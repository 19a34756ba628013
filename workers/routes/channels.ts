import { createRoute, z } from "@hono/zod-openapi";
import {
  type ChannelConfig,
  type ChannelType,
  deleteChannelStatement,
  getChannel,
  getChannelWithSecret,
  insertChannel,
  listChannels,
  type PublicChannel,
  updateChannel,
} from "../../store/channels";
import { cancelChannelDeliveriesStatement } from "../../store/deliveries";
import { createRouter } from "../app";
import { randomHex } from "../auth";
import {
  checkAlertUrl,
  newWebhookSecret,
  slackUrlHint,
  webhookSecretKey,
} from "../deliveries/channels";
import { openSecret, type SecretResult, sealSecret } from "../deliveries/secrets";
import { sendToChannel } from "../deliveries/send";
import { permit } from "../permit";
import {
  ApiError,
  conflictResponse,
  notFound,
  problemResponses,
  validationError,
} from "../problem";
import { iso, jsonBody, jsonResponse, Name } from "../schemas";

// Alert channels (Slack incoming webhook, e-mail, Standard Webhooks endpoint; README "Alerts").
// A channel's secret — the webhook signing secret, or the Slack URL, which is itself a
// credential — is shown once, in the answer that creates it (or rotates it), and never again:
// every other answer says only `secret_set`.
export const channels = createRouter();
const security = [{ operatorToken: [] }];

/** A tenant's alert fan-out is bounded: each signal becomes one delivery per channel. */
const MAX_CHANNELS = 20;

/** Checked against the outbound guard in the handler (`alertUrl`), which needs the env. */
const AlertUrl = z.string().trim().min(1).max(2000).openapi({
  format: "uri",
  description:
    "https to a public host: private, loopback, link-local and cloud metadata addresses are refused; plain http only to a loopback receiver in local mode (AFORO_LOCAL_NETWORK=loopback)",
});

/** The URL when the outbound guard allows it, else 400 on `url`. */
function alertUrl(env: Env, url: string): string {
  const problem = checkAlertUrl(url, env);
  if (problem) throw validationError([{ path: "url", message: problem }]);
  return url;
}
const Email = z.email().max(254);
const WebhookSecret = z
  .string()
  .max(200)
  .refine(
    (s) => webhookSecretKey(s) !== null,
    "a Standard Webhooks secret: whsec_ followed by the base64 of 24 to 64 random bytes",
  );

export const ChannelSchema = z
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

export const ChannelWithSecret = ChannelSchema.extend({
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

const toChannel = (ch: PublicChannel): z.infer<typeof ChannelSchema> => ({
  id: ch.id,
  type: ch.type,
  name: ch.name,
  enabled: ch.enabled,
  url: ch.config.url ?? null,
  to: ch.config.to ?? null,
  from: ch.config.from ?? null,
  secret_set: ch.secret_set,
  created_at: iso(ch.created_at) ?? "",
  updated_at: iso(ch.updated_at) ?? "",
});

async function loadChannel(db: D1Database, tenantId: string, id: string) {
  const channel = await getChannel(db, tenantId, id);
  if (!channel) throw notFound("Channel", id);
  return channel;
}

/** A secret that could not be sealed or opened: the key is missing or wrong (503). */
function secretValue(result: SecretResult): string {
  if (!result.ok) throw new ApiError("unavailable", result.detail);
  return result.value;
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
    const list = await listChannels(c.env.DB, c.var.tenantId);
    return c.json({ data: list.map(toChannel) }, 200);
  },
);

channels.openapi(
  createRoute(
    permit("channels:manage", "channel.create", {
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
  ),
  async (c) => {
    const body = c.req.valid("json");
    if (body.type !== "email") alertUrl(c.env, body.url);
    const db = c.env.DB;
    const tenantId = c.var.tenantId;
    const id = `ch_${randomHex(8)}`;
    const now = Date.now();
    let config: ChannelConfig;
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
    const sealed =
      secret === null ? null : secretValue(await sealSecret(c.env, tenantId, id, secret));
    const inserted = await insertChannel(
      db,
      tenantId,
      {
        id,
        type: body.type,
        name: body.name,
        config,
        sealedSecret: sealed,
        linkBase: new URL(c.req.url).origin,
        enabled: body.enabled !== false,
      },
      MAX_CHANNELS,
      now,
    );
    if (!inserted) {
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
  createRoute(
    permit("channels:manage", "channel.update", {
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
  ),
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
    const config = { ...row.config };
    let secret: string | null = null;
    let shownSecret: string | undefined;
    if (body.url !== undefined) {
      alertUrl(c.env, body.url);
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
    await updateChannel(
      db,
      tenantId,
      id,
      {
        name: body.name,
        enabled: body.enabled,
        config,
        sealedSecret:
          secret === null ? undefined : secretValue(await sealSecret(c.env, tenantId, id, secret)),
      },
      Date.now(),
    );
    const channel = toChannel(await loadChannel(db, tenantId, id));
    return c.json(shownSecret ? { ...channel, secret: shownSecret } : channel, 200);
  },
);

channels.openapi(
  createRoute(
    permit("channels:manage", "channel.delete", {
      method: "delete",
      path: "/{id}",
      tags: ["alerts"],
      summary: "Delete a channel and its secret; its pending deliveries are canceled",
      security,
      request: { params: ChannelParams },
      responses: { 204: { description: "Deleted" }, ...problemResponses },
    }),
  ),
  async (c) => {
    const { id } = c.req.valid("param");
    const db = c.env.DB;
    const tenantId = c.var.tenantId;
    await loadChannel(db, tenantId, id);
    const now = Date.now();
    await db.batch([
      deleteChannelStatement(db, tenantId, id),
      cancelChannelDeliveriesStatement(db, tenantId, id, now),
    ]);
    return c.body(null, 204);
  },
);

export const TestResult = z
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
  createRoute(
    permit("channels:manage", "channel.test", {
      method: "post",
      path: "/{id}/test",
      tags: ["alerts"],
      summary: "Send a test message now and report how the receiver answered",
      description:
        "Sent even when the channel is disabled. Webhooks receive `{type:'aforo.test'}`, signed like any delivery.",
      security,
      request: { params: ChannelParams },
      responses: {
        200: jsonResponse(TestResult, "What the receiver answered"),
        ...problemResponses,
      },
    }),
  ),
  async (c) => {
    const { id } = c.req.valid("param");
    const db = c.env.DB;
    const tenantId = c.var.tenantId;
    // The one read of a channel's secret outside the consumer: it is used, never returned.
    const row = await getChannelWithSecret(db, tenantId, id);
    if (!row) throw notFound("Channel", id);
    const channel = {
      ...row,
      secret:
        row.secret === null ? null : secretValue(await openSecret(c.env, tenantId, id, row.secret)),
    };
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
