import { createRoute, z } from "@hono/zod-openapi";
import { formatQuantity } from "../../domain/money";
import { checkOutboundUrl } from "../../domain/outbound-url";
import {
  FORWARDED_REQUEST_HEADERS,
  proxyRequestHeaders,
  proxyResponseHeaders,
} from "../../domain/proxy-headers";
import type { GateRequest, GateResult } from "../../durable-objects/customer-actor";
import { productProxy } from "../../store/catalog";
import { gateForCustomer, ingestForCustomer } from "../actor-calls";
import { createRouter } from "../app";
import {
  type QuotaStanding,
  quotaStanding,
  type ResolvedCustomerKey,
  resolveCustomerKey,
} from "../customer-keys";
import { ApiError, problemResponse, problemResponses } from "../problem";
import { Id, jsonBody, jsonResponse } from "../schemas";
import { clockMs, observe } from "../telemetry";
import { tenantCatalog } from "../tenant-catalog";

// The gate (SPEC §7): one RPC to the customer's actor, answered from its memory (a hot
// customer's concurrent checks share one, workers/actor-calls.ts). No D1 on this path: keys are
// cached per isolate and the actor holds the tier and the token bucket.
export const gate = createRouter();

const GateAnswer = z
  .object({
    allow: z.boolean(),
    tier: z.enum(["normal", "throttled", "blocked"]),
    limit: z
      .number()
      .openapi({ description: "Units per second the customer is held to (0 when blocked)" }),
    remaining: z.number().int(),
    retry_after_ms: z.number().int().openapi({
      description: "-1 when waiting will not help (blocked, or units above the burst)",
    }),
    customer: z.string().openapi({ description: "The customer decided for (the api_key's)" }),
    api_key_id: z.string().optional().openapi({ description: "When asked with an api_key" }),
    reason: z.enum(["key_quota"]).optional().openapi({
      description:
        "`key_quota`: the api_key has used its quota for the period; retry_after_ms runs to the period's end",
    }),
    quota: z
      .object({
        metric: z.string(),
        period: z.enum(["day", "week", "month"]),
        limit: z.string(),
        used: z.string(),
        resets_at: z.string(),
      })
      .optional()
      .openapi({ description: "When asked with an api_key that has a quota" }),
  })
  .openapi("GateAnswer");

type GateAnswer = z.infer<typeof GateAnswer>;

const GateBody = z
  .object({
    customer: Id.optional().openapi({ description: "The customer's id; or send api_key" }),
    api_key: z.string().max(200).optional().openapi({
      description:
        "A customer API key (sk_live_…, POST /api/customers/:id/api-keys) in place of customer",
    }),
    product: Id.optional(),
    units: z.number().positive().max(1e9).default(1),
  })
  .refine((b) => (b.customer === undefined) !== (b.api_key === undefined), {
    message: "send exactly one of customer and api_key",
    path: ["customer"],
  });

gate.openapi(
  createRoute({
    method: "post",
    path: "/gate",
    tags: ["gate"],
    summary: "May this customer make this call now?",
    description:
      "A token bucket per customer (rate and burst from the policy's gate settings). THROTTLE holds the customer to the throttled rate; BLOCK refuses. Name the customer by id or by one of its API keys (`api_key`): an unknown key, or another tenant's, is 401 `unknown_api_key`, a revoked one 401 `revoked_api_key` (at once in the isolate that revoked it, within 30 s in the others). A key over its quota is answered as a throttle: `allow: false`, `reason: \"key_quota\"`, and `retry_after_ms` to the end of the quota's period (UTC); the quota counts usage the events queue has applied (seconds behind ingest) and is re-read at most every 10 s.",
    security: [{ ingestKey: [] }],
    request: { body: jsonBody(GateBody) },
    responses: { 200: jsonResponse(GateAnswer, "The decision"), ...problemResponses },
  }),
  async (c) => {
    const body = c.req.valid("json");
    const tenantId = c.var.tenantId;
    const key =
      body.api_key === undefined
        ? null
        : await resolveCustomerKey(c.env.DB, tenantId, body.api_key);
    const customerId = key?.customerId ?? body.customer ?? "";
    const standing = key ? await quotaStanding(c.env.DB, tenantId, key) : null;
    if (key && standing && standing.used >= standing.quota.limit) {
      return c.json(overQuota(key, customerId, standing), 200);
    }
    const decision = await decide(c, {
      tenantId,
      customerId,
      units: body.units,
      ...(body.product ? { product: body.product } : {}),
    });
    return c.json(
      {
        ...decision,
        customer: customerId,
        ...(key ? { api_key_id: key.id } : {}),
        ...(standing ? { quota: quotaFigures(standing) } : {}),
      },
      200,
    );
  },
);

const quotaFigures = (s: QuotaStanding) => ({
  metric: s.quota.metric,
  period: s.quota.period,
  limit: formatQuantity(s.quota.limit),
  used: formatQuantity(s.used),
  resets_at: new Date(s.windowEnd).toISOString(),
});

/** A key whose quota is used up is held back like a throttled customer until its period ends;
 * the customer's actor is not asked (its bucket is the customer's, not the key's). */
function overQuota(key: ResolvedCustomerKey, customer: string, s: QuotaStanding): GateAnswer {
  return {
    allow: false,
    tier: "throttled",
    limit: 0,
    remaining: 0,
    retry_after_ms: Math.max(1, s.windowEnd - Date.now()),
    customer,
    api_key_id: key.id,
    reason: "key_quota",
    quota: quotaFigures(s),
  };
}

/** The customer's gate decision; when its actor cannot answer right now (reset, overloaded —
 * which must not be retried at once), 503 with Retry-After, never a 500. Each decision and its
 * latency go to the pipeline telemetry (an in-memory add; workers/telemetry.ts). */
async function decide(
  c: { env: Env; executionCtx: { waitUntil(p: Promise<unknown>): void } },
  req: GateRequest,
): Promise<GateResult> {
  const started = clockMs();
  const keepAlive = (p: Promise<unknown>) => c.executionCtx.waitUntil(p);
  const record = (outcome: string) =>
    observe(c.env.DB, keepAlive, {
      tenantId: req.tenantId,
      series: "gate",
      outcome,
      error: outcome === "error",
      latencyUs: (clockMs() - started) * 1000,
    });
  try {
    const decision = await gateForCustomer(c.env, keepAlive, req);
    record(decision.allow ? "allow" : decision.tier === "blocked" ? "block" : "throttle");
    return decision;
  } catch (err) {
    record("error");
    console.error(`gate for customer ${req.customerId} failed`, err);
    throw new ApiError(
      "unavailable",
      `The gate cannot reach customer '${req.customerId}' right now; retry in a second`,
    );
  }
}

// Proxy mode: gate, forward to the product's configured origin, then meter the call as a usage
// event of the product's proxy metric. The customer is named by the x-aforo-customer header, or
// by one of its API keys in x-aforo-api-key (Authorization carries the tenant's ingest key here).
gate.openAPIRegistry.registerPath({
  method: "get",
  path: "/proxy/{product}/{path}",
  tags: ["gate"],
  summary: "Gate, forward to the product's origin, and meter the call (any method)",
  description: [
    "Set the product's proxy_origin and proxy_metric (PATCH /api/products/:id). The caller names the customer in `x-aforo-customer`, or sends one of the customer's API keys in `x-aforo-api-key` (then the call is metered to that key too). Refused calls get 429 (throttled; `key_quota_exceeded` when the key's quota is used, Retry-After to the period's end) or 403 (blocked) problem+json with Retry-After; an unknown or revoked key 401.",
    `Headers sent to the origin (an allow-list): ${FORWARDED_REQUEST_HEADERS.join(", ")}, and the caller's own \`x-…\` headers except \`x-aforo-*\`, \`x-api-key\`, names that say credential (auth, token, key, secret, session, cookie, password, signature, credential, csrf) and \`x-forwarded-*\`, \`x-real-ip\`, \`x-client-ip\`, \`x-original-*\`, \`x-rewrite-url\`. Never sent: \`authorization\`, \`x-api-key\`, \`cookie\`, \`proxy-authorization\`, \`forwarded\`, hop-by-hop headers, or any header whose value holds an Aforo key.`,
    "The origin's response comes back as it is, except `set-cookie` (its cookies would be set on Aforo's domain), `clear-site-data`, `strict-transport-security`, `alt-svc` and hop-by-hop headers; Aforo's own security headers replace the origin's (CSP `sandbox`, so an origin's page never runs as Aforo's origin).",
    "The origin must be https to a public host (loopback only in local mode); an origin stored before that rule is refused with 409 and not called.",
  ].join("\n\n"),
  security: [{ ingestKey: [] }],
  request: { params: z.object({ product: Id, path: z.string() }) },
  responses: {
    200: { description: "The origin's response" },
    ...problemResponses,
    409: { description: "The product's stored origin is not one Aforo calls" },
  },
});

const PROXY_PREFIX = "/v1/proxy/";

gate.all("/proxy/:product/*", async (c) => {
  const tenantId = c.var.tenantId;
  const product = c.req.param("product");
  const named = c.req.header("x-aforo-customer");
  const presentedKey = c.req.header("x-aforo-api-key");
  if (named !== undefined && presentedKey !== undefined) {
    throw new ApiError(
      "validation_failed",
      "Send either x-aforo-customer or x-aforo-api-key, not both",
      [{ path: "header.x-aforo-api-key", message: "send one of the two" }],
    );
  }
  if (presentedKey === undefined && (!named || !Id.safeParse(named).success)) {
    throw new ApiError(
      "validation_failed",
      "Name the customer in the x-aforo-customer header, or send its API key in x-aforo-api-key",
      [{ path: "header.x-aforo-customer", message: "required; letters, digits and . _ : @ -" }],
    );
  }
  const key =
    presentedKey === undefined ? null : await resolveCustomerKey(c.env.DB, tenantId, presentedKey);
  const customer = key?.customerId ?? named ?? "";
  const standing = key ? await quotaStanding(c.env.DB, tenantId, key) : null;
  if (standing && standing.used >= standing.quota.limit) {
    const res = problemResponse(
      "key_quota_exceeded",
      `API key ${key?.id} has used its quota of ${formatQuantity(standing.quota.limit)} ${standing.quota.metric} this ${standing.quota.period}`,
    );
    res.headers.set("retry-after", String(Math.ceil((standing.windowEnd - Date.now()) / 1000)));
    return res;
  }
  const config = await productProxy(c.env.DB, tenantId, product);
  if (!config) {
    throw new ApiError("not_found", `Product '${product}' has no proxy origin configured`);
  }
  const url = new URL(c.req.url);
  // Everything after /v1/proxy/<product>, as the caller sent it: /v1/proxy/:product/<rest> →
  // <origin>/<rest> (the origin may carry a base path).
  const afterPrefix = url.pathname.slice(PROXY_PREFIX.length);
  const slash = afterPrefix.indexOf("/");
  const rest = slash < 0 ? "/" : afterPrefix.slice(slash);
  // Re-checked on every call: an origin stored before the outbound rule is not called.
  const target = checkOutboundUrl(config.origin.replace(/\/+$/, "") + rest + url.search, {
    localNetwork: c.env.AFORO_LOCAL_NETWORK,
  });
  if (!target.ok) {
    throw new ApiError(
      "conflict",
      `Product '${product}' has a proxy origin Aforo does not call (${target.reason}); set an https origin with PATCH /api/products/${product}`,
    );
  }
  const decision = await decide(c, { tenantId, customerId: customer, product, units: 1 });
  if (!decision.allow) {
    const blocked = decision.tier === "blocked";
    const res = problemResponse(
      blocked ? "forbidden" : "rate_limited",
      blocked
        ? `Customer '${customer}' is blocked`
        : `Customer '${customer}' is over its rate (${decision.limit}/s)`,
    );
    if (decision.retry_after_ms > 0)
      res.headers.set("retry-after", String(Math.ceil(decision.retry_after_ms / 1000)));
    return res;
  }
  let upstream: Response;
  try {
    upstream = await fetch(target.url, {
      method: c.req.method,
      headers: proxyRequestHeaders(c.req.raw.headers),
      body: ["GET", "HEAD"].includes(c.req.method) ? undefined : c.req.raw.body,
      redirect: "manual",
    });
  } catch (err) {
    // Not metered: the call never reached the origin.
    throw new ApiError(
      "upstream_failed",
      `Product '${product}''s origin could not be reached (${err instanceof Error ? err.message : String(err)})`,
    );
  }
  // Meter after the call, off the response path.
  c.executionCtx.waitUntil(
    (async () => {
      const catalog = await tenantCatalog(c.env.DB, tenantId);
      await ingestForCustomer(c.env, (p) => c.executionCtx.waitUntil(p), {
        tenantId,
        customerId: customer,
        catalogVersion: catalog.version,
        rawRetentionDays: catalog.settings.raw_retention_days,
        detail: false,
        events: [
          {
            id: `proxy_${crypto.randomUUID()}`,
            customer,
            product,
            metric: config.metric,
            quantity: 1,
            time: Date.now(),
            source: "proxy",
            ...(key ? { api_key_id: key.id } : {}),
            properties: {
              path: rest.slice(0, 512),
              method: c.req.method,
              status: upstream.status,
              ...(key ? { api_key_id: key.id } : {}),
            },
          },
        ],
      });
    })().catch((err) => console.error("proxy metering failed", err)),
  );
  return new Response(upstream.body, {
    status: upstream.status,
    statusText: upstream.statusText,
    headers: proxyResponseHeaders(upstream.headers),
  });
});
