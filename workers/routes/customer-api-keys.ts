import { createRoute, z } from "@hono/zod-openapi";
import {
  percentUsed,
  QUOTA_PERIODS,
  type QuotaPeriod,
  quotaWindow,
} from "../../domain/customer-api-keys";
import { formatQuantity, toMicros } from "../../domain/money";
import {
  type CustomerKeyRecord,
  getCustomerKey,
  insertCustomerKey,
  type KeyUsage,
  keyUsageBetween,
  listCustomerKeys,
  revokeCustomerKey,
} from "../../store/customer-api-keys";
import { customerExists } from "../../store/customers";
import { createRouter } from "../app";
import { forgetCustomerKey, issueCustomerKey } from "../customer-keys";
import { permit } from "../permit";
import { ApiError, notFound, problemResponses } from "../problem";
import { Id, iso, jsonBody, jsonResponse, Name } from "../schemas";
import { tenantCatalog } from "../tenant-catalog";

// Keys an operator issues to one of the tenant's customers (issue 19 §4): `sk_live_…`, shown
// once, stored as SHA-256 only, revocable, with an optional quota on one metric. The gate, the
// proxy and ingest accept one in place of the customer's id (workers/customer-keys.ts), and the
// usage of the events made with it is kept per key (schema/0033_customer_api_keys.sql).
export const customerApiKeys = createRouter();

const security = [{ operatorToken: [] }];

const QuotaPeriodSchema = z.enum(QUOTA_PERIODS).openapi({
  description: "UTC day, UTC week (from Monday 00:00) or calendar month",
});

// 9 × 10^15 micro-units: under 2^53, so the limit is exact as a D1 number both ways.
const MAX_QUOTA_MICROS = 9_000_000_000_000_000n;

const Units = z
  .union([z.number().finite().positive(), z.string().regex(/^\d+(\.\d+)?$/)])
  .transform((v, ctx) => {
    try {
      const micros = toMicros(v);
      // Plain decimal text, not the bigint: the audit log keeps the validated body as JSON.
      if (micros > 0n && micros <= MAX_QUOTA_MICROS) return formatQuantity(micros);
      ctx.addIssue({ code: "custom", message: "between 0.000001 and 9 billion units" });
    } catch {
      ctx.addIssue({ code: "custom", message: "at most 6 decimal places" });
    }
    return z.NEVER;
  })
  .openapi({ type: "string", example: "1000000" });

const QuotaInput = z
  .object({ metric: Id, limit: Units, period: QuotaPeriodSchema })
  .strict()
  .openapi({
    description: "The most units of `metric` (over every product) the key may use a period",
  });

const Quota = z
  .object({ metric: z.string(), limit: z.string(), period: QuotaPeriodSchema })
  .openapi("CustomerApiKeyQuota");

export const IssuedCustomerApiKey = z
  .object({
    id: z.string(),
    customer: z.string(),
    name: z.string().nullable(),
    prefix: z
      .string()
      .openapi({ description: "The 8 characters after sk_live_, for telling keys apart" }),
    key: z.string().openapi({ description: "The key, shown only in this response" }),
    quota: Quota.nullable(),
    created_at: z.string(),
  })
  .openapi("IssuedCustomerApiKey");

const KeyUsageLine = z.object({
  product: z.string(),
  metric: z.string(),
  units: z.string().openapi({ description: "Exact decimal" }),
  events: z.number().int(),
});

export const CustomerApiKey = z
  .object({
    id: z.string(),
    customer: z.string(),
    name: z.string().nullable(),
    prefix: z.string(),
    created_by: z.string(),
    created_at: z.string(),
    revoked_at: z.string().nullable(),
    quota: Quota.nullable(),
    usage: z
      .object({
        period: QuotaPeriodSchema,
        from: z.string(),
        to: z.string(),
        events: z.number().int(),
        metrics: z.array(KeyUsageLine),
      })
      .openapi({
        description:
          "The events made with this key in the current period (the quota's, else the calendar month), as the events queue has applied them (seconds behind ingest)",
      }),
    quota_used: z
      .object({
        used: z.string(),
        limit: z.string(),
        percent_used: z.number().openapi({ description: "Two decimals, rounded down" }),
      })
      .nullable(),
  })
  .openapi("CustomerApiKey");

const quotaOf = (k: CustomerKeyRecord) =>
  k.quota_metric !== null && k.quota_limit !== null && k.quota_period !== null
    ? {
        metric: k.quota_metric,
        limit: formatQuantity(BigInt(k.quota_limit)),
        period: k.quota_period,
      }
    : null;

export function toKey(k: CustomerKeyRecord, usage: readonly KeyUsage[], now: number) {
  const period: QuotaPeriod = k.quota_period ?? "month";
  const window = quotaWindow(period, now);
  const mine = usage.filter((u) => u.key_id === k.id);
  const quota = quotaOf(k);
  const used =
    quota === null
      ? null
      : mine.filter((u) => u.metric === quota.metric).reduce((a, u) => a + u.units, 0n);
  return {
    id: k.id,
    customer: k.customer_id,
    name: k.name,
    prefix: k.prefix,
    created_by: k.created_by,
    created_at: iso(k.created_at) ?? "",
    revoked_at: iso(k.revoked_at),
    quota,
    usage: {
      period,
      from: iso(window.from) ?? "",
      to: iso(window.to) ?? "",
      events: mine.reduce((a, u) => a + u.events, 0),
      metrics: mine.map((u) => ({
        product: u.product,
        metric: u.metric,
        units: formatQuantity(u.units),
        events: u.events,
      })),
    },
    quota_used:
      quota === null || used === null || k.quota_limit === null
        ? null
        : {
            used: formatQuantity(used),
            limit: quota.limit,
            percent_used: percentUsed(used, BigInt(k.quota_limit)),
          },
  };
}

const CustomerParams = z.object({ id: Id });

async function requireCustomer(db: D1Database, tenantId: string, id: string) {
  if (!(await customerExists(db, tenantId, id))) throw notFound("Customer", id);
}

customerApiKeys.openapi(
  createRoute(
    permit("customers:write", "customer_key.issue", {
      method: "post",
      path: "/{id}/api-keys",
      tags: ["catalog"],
      summary: "Issue an API key to a customer (shown once)",
      description:
        "The key (`sk_live_…`) identifies the customer at `POST /v1/gate {api_key}`, in the proxy (`Authorization: Bearer sk_live_…` or `x-aforo-api-key`) and on events (`api_key`); only its SHA-256 is stored. With a quota, the gate refuses the key once `limit` units of `metric` are used in the period.",
      security,
      request: {
        params: CustomerParams,
        body: jsonBody(z.object({ name: Name.optional(), quota: QuotaInput.optional() }).strict()),
      },
      responses: {
        201: jsonResponse(IssuedCustomerApiKey, "The new key, shown only here"),
        ...problemResponses,
      },
    }),
  ),
  async (c) => {
    const { id: customerId } = c.req.valid("param");
    const { name, quota } = c.req.valid("json");
    const db = c.env.DB;
    const tenantId = c.var.tenantId;
    await requireCustomer(db, tenantId, customerId);
    if (quota) {
      const catalog = await tenantCatalog(db, tenantId);
      const known = [...catalog.metrics].some((m) => m.endsWith(`\u0000${quota.metric}`));
      if (!known) {
        throw new ApiError("validation_failed", `No product has a metric '${quota.metric}'`, [
          { path: "quota.metric", message: `unknown metric '${quota.metric}'` },
        ]);
      }
    }
    const issued = await issueCustomerKey();
    const now = Date.now();
    await insertCustomerKey(db, tenantId, {
      id: issued.id,
      customer_id: customerId,
      key_hash: issued.keyHash,
      prefix: issued.prefix,
      name: name ?? null,
      created_by: c.var.actor.ref,
      created_at: now,
      quota_metric: quota?.metric ?? null,
      quota_limit: quota ? Number(toMicros(quota.limit)) : null,
      quota_period: quota?.period ?? null,
    });
    return c.json(
      {
        id: issued.id,
        customer: customerId,
        name: name ?? null,
        prefix: issued.prefix,
        key: issued.key,
        quota: quota ? { metric: quota.metric, limit: quota.limit, period: quota.period } : null,
        created_at: iso(now) ?? "",
      },
      201,
    );
  },
);

customerApiKeys.openapi(
  createRoute({
    method: "get",
    path: "/{id}/api-keys",
    tags: ["catalog"],
    summary: "A customer's API keys (never the keys themselves), with each key's usage",
    security,
    request: { params: CustomerParams },
    responses: {
      200: jsonResponse(z.object({ data: z.array(CustomerApiKey) }), "Keys, newest first"),
      ...problemResponses,
    },
  }),
  async (c) => {
    const { id: customerId } = c.req.valid("param");
    const db = c.env.DB;
    const tenantId = c.var.tenantId;
    await requireCustomer(db, tenantId, customerId);
    const keys = await listCustomerKeys(db, tenantId, customerId);
    const now = Date.now();
    // Each key's usage is for its own period: one read per period the keys use.
    const periods = new Set<QuotaPeriod>(keys.map((k) => k.quota_period ?? "month"));
    const usage = (
      await Promise.all(
        [...periods].map((period) => {
          const window = quotaWindow(period, now);
          const ids = keys.filter((k) => (k.quota_period ?? "month") === period).map((k) => k.id);
          return keyUsageBetween(db, tenantId, ids, window.from, window.to);
        }),
      )
    ).flat();
    return c.json({ data: keys.map((k) => toKey(k, usage, now)) }, 200);
  },
);

customerApiKeys.openapi(
  createRoute(
    permit("customers:write", "customer_key.revoke", {
      method: "delete",
      path: "/{id}/api-keys/{key_id}",
      tags: ["catalog"],
      summary: "Revoke a customer's API key",
      description:
        "Refused at once by the isolate that revoked it, and by every other within 30 seconds (their key caches' lifetime).",
      security,
      request: { params: CustomerParams.extend({ key_id: z.string().min(1).max(64) }) },
      responses: { 200: jsonResponse(CustomerApiKey, "The revoked key"), ...problemResponses },
    }),
  ),
  async (c) => {
    const { id: customerId, key_id: keyId } = c.req.valid("param");
    const db = c.env.DB;
    const tenantId = c.var.tenantId;
    const now = Date.now();
    const revokedHash = await revokeCustomerKey(db, tenantId, customerId, keyId, now);
    if (revokedHash !== null) forgetCustomerKey(revokedHash);
    const key = await getCustomerKey(db, tenantId, customerId, keyId);
    if (!key) throw notFound("API key", keyId);
    const period: QuotaPeriod = key.quota_period ?? "month";
    const window = quotaWindow(period, now);
    const usage = await keyUsageBetween(db, tenantId, [key.id], window.from, window.to);
    return c.json(toKey(key, usage, now), 200);
  },
);
