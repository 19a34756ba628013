import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import {
  costFieldsInProperties,
  type IngestWarning,
  noteWarnings,
} from "../../domain/ingest-warnings";
import { schemaRejectionReason } from "../../domain/pipeline-telemetry";
import type { UsageEvent } from "../../domain/usage-event";
import { type CustomerAnswer, ingestForCustomer } from "../actor-calls";
import { type AppEnv, createRouter } from "../app";
import { type ResolvedCustomerKey, resolveCustomerKey } from "../customer-keys";
import { CloudEvent, KEY_ID_PROPERTY, NativeEvent } from "../ingest/event-schema";
import { liveIsWatched, liveSampleDue, publishLive } from "../live";
import { ApiError, type FieldError, fieldErrors, problemResponses } from "../problem";
import { jsonResponse } from "../schemas";
import { clockMs, observe } from "../telemetry";
import { tenantCatalog } from "../tenant-catalog";

// POST /v1/events (SPEC §4): validate each event on its own, hand the good ones to their
// customers' actors (one RPC per customer, in parallel; a hot customer's concurrent requests
// share calls, workers/actor-calls.ts), and answer only once every accepted
// event is durable. A bad event never costs a good one its place.

export const MAX_EVENTS = 1_000;
export const MAX_BYTES = 1024 * 1024;
const FUTURE_SLACK_MS = 5 * 60_000;
const DAY_MS = 86_400_000;

export const ingest = createRouter();

const Rejection = z.object({
  index: z.number().int(),
  id: z.string().nullable(),
  errors: z.array(z.object({ path: z.string(), message: z.string() })),
});
const Warned = z.object({
  index: z.number().int(),
  id: z.string(),
  warnings: z.array(
    z.object({
      code: z.enum(["uncosted", "unknown_customer", "cost_in_properties"]),
      path: z.string(),
      message: z.string(),
    }),
  ),
});
export const IngestResponse = z
  .object({
    accepted: z.number().int(),
    duplicates: z.number().int(),
    rejected: z.array(Rejection),
    warnings: z.array(Warned).openapi({
      description:
        "Events that were kept (accepted or duplicate) but that the sender should hear about, by index: `uncosted` (stored with cost 0 because its cost is not known, with the reason), `unknown_customer` (not in the catalog: no revenue), `cost_in_properties` (a property that looks like cost information the cost block does not carry)",
    }),
  })
  .openapi("IngestResponse");

type Rejected = z.infer<typeof Rejection>;
type Warned = { index: number; id: string; warnings: IngestWarning[] };
type IngestAnswer = Omit<z.infer<typeof IngestResponse>, "warnings"> & { warnings: Warned[] };

ingest.openAPIRegistry.registerPath({
  method: "post",
  path: "/events",
  tags: ["ingest"],
  summary: "Send usage events (JSON array, {events:[…]}, or CloudEvents 1.0)",
  description: `At most ${MAX_EVENTS} events and 1 MiB. Each event is validated on its own; good events are kept and bad ones reported by index. An id already received within 35 days is a duplicate and changes nothing. Events for a customer the catalog does not know are accepted and flagged \`unknown_customer\` (no subscription, so no revenue). Times may be up to 5 minutes ahead and as old as the tenant's backfill horizon (default 400 days).`,
  security: [{ ingestKey: [] }],
  request: {
    body: {
      required: true,
      content: {
        "application/json": {
          schema: z.union([z.array(NativeEvent), z.object({ events: z.array(NativeEvent) })]),
        },
        "application/cloudevents-batch+json": { schema: z.array(CloudEvent) },
        "application/cloudevents+json": { schema: CloudEvent },
      },
    },
  },
  responses: {
    200: jsonResponse(IngestResponse, "Every accepted event is durable in its customer's actor"),
    ...problemResponses,
    413: { description: "More than 1,000 events or 1 MiB" },
    415: { description: "Not a JSON or CloudEvents content type" },
    503: { description: "Some customers' actors were unavailable; retry the batch (ids dedupe)" },
  },
});

ingest.post(
  "/events",
  bodyLimit({
    maxSize: MAX_BYTES,
    onError: () => {
      throw new ApiError(
        "payload_too_large",
        "The body is larger than 1 MiB; send smaller batches",
      );
    },
  }),
  async (c) => {
    const tally = new IngestTally();
    try {
      const answer = await receive(c, tally);
      tally.answered(c, answer);
      return c.json(answer, 200);
    } catch (err) {
      tally.failed(c, err);
      throw err;
    }
  },
);

/** What one request did, for the pipeline telemetry (workers/telemetry.ts): its outcome and
 * latency, the events it carried, and each rejected event once, under the reason of its first
 * error. */
class IngestTally {
  private readonly started = clockMs();
  events = 0;
  private readonly reasons = new Map<string, number>();

  reject(reason: string) {
    this.reasons.set(reason, (this.reasons.get(reason) ?? 0) + 1);
  }

  answered(c: Context<AppEnv>, answer: IngestAnswer) {
    const refused = answer.rejected.length;
    this.record(c, refused === 0 ? "accepted" : refused < this.events ? "partial" : "rejected");
  }

  /** Refused whole (4xx: not JSON, too many events) or failed on Aforo's side (5xx). */
  failed(c: Context<AppEnv>, err: unknown) {
    const ours =
      !(err instanceof ApiError) || err.code === "internal" || err.code === "unavailable";
    this.record(c, ours ? "error" : "rejected", ours);
  }

  private record(c: Context<AppEnv>, outcome: string, error = false) {
    const keepAlive = (p: Promise<unknown>) => c.executionCtx.waitUntil(p);
    const tenantId = c.var.tenantId;
    observe(c.env.DB, keepAlive, {
      tenantId,
      series: "ingest",
      outcome,
      items: this.events,
      error,
      latencyUs: (clockMs() - this.started) * 1000,
    });
    for (const [reason, count] of this.reasons) {
      observe(c.env.DB, keepAlive, {
        tenantId,
        series: "ingest_rejection",
        outcome: reason,
        count,
      });
    }
  }
}

async function receive(c: Context<AppEnv>, tally: IngestTally): Promise<IngestAnswer> {
  const mediaType = (c.req.header("content-type") ?? "").split(";")[0]?.trim().toLowerCase();
  const isCloudEventsBatch = mediaType === "application/cloudevents-batch+json";
  const isCloudEvent = mediaType === "application/cloudevents+json";
  if (mediaType !== "application/json" && !isCloudEventsBatch && !isCloudEvent) {
    throw new ApiError(
      "unsupported_media_type",
      "Send application/json, application/cloudevents-batch+json or application/cloudevents+json",
    );
  }
  let body: unknown;
  try {
    body = JSON.parse(await c.req.text());
  } catch {
    throw new ApiError("malformed_json", "The body is not valid JSON");
  }
  const items = isCloudEvent
    ? [body]
    : Array.isArray(body)
      ? body
      : !isCloudEventsBatch &&
          body !== null &&
          typeof body === "object" &&
          Array.isArray((body as { events?: unknown }).events)
        ? (body as { events: unknown[] }).events
        : null;
  if (!items) {
    throw new ApiError(
      "validation_failed",
      'The body must be an array of events or {"events": [...]}',
      [{ path: "", message: "expected an array of events or an object with an events array" }],
    );
  }
  tally.events = items.length;
  if (items.length > MAX_EVENTS) {
    throw new ApiError(
      "payload_too_large",
      `${items.length} events in one request; the limit is ${MAX_EVENTS}`,
    );
  }

  const tenantId = c.var.tenantId;
  const catalog = await tenantCatalog(c.env.DB, tenantId);
  const now = Date.now();
  const oldest = now - catalog.settings.backfill_horizon_days * DAY_MS;
  const rejected: Rejected[] = [];
  const good: { index: number; event: UsageEvent; apiKey?: string }[] = [];
  items.forEach((item, index) => {
    const id =
      item && typeof item === "object" && typeof (item as { id?: unknown }).id === "string"
        ? (item as { id: string }).id.slice(0, 128)
        : null;
    const parsed = toUsageEvent(item, isCloudEvent || isCloudEventsBatch);
    // Every error of the event at once: the schema's, and the catalog's and the clock's on
    // whatever fields are well-formed enough to check (a bad quantity does not hide an unknown
    // product).
    const errors: FieldError[] = parsed.ok ? [] : [...parsed.errors];
    let reason = parsed.ok ? null : schemaRejectionReason(parsed.errors[0]?.path ?? "");
    const fields: CheckedFields = parsed.ok
      ? { ...parsed.event, paths: parsed.paths }
      : parsed.fields;
    const has = (path: string) => errors.some((e) => e.path === path);
    if (fields.product !== undefined && !has(fields.paths.product)) {
      if (!catalog.products.has(fields.product)) {
        errors.push({ path: "product", message: `unknown product '${fields.product}'` });
        reason ??= "unknown_product";
      } else if (
        fields.metric !== undefined &&
        !has(fields.paths.metric) &&
        !catalog.metrics.has(`${fields.product}\u0000${fields.metric}`)
      ) {
        errors.push({
          path: "metric",
          message: `product '${fields.product}' has no metric '${fields.metric}'`,
        });
        reason ??= "unknown_metric";
      }
    }
    if (parsed.ok && parsed.event.properties && KEY_ID_PROPERTY in parsed.event.properties) {
      errors.push({
        path: `${fields.paths.properties}.${KEY_ID_PROPERTY}`,
        message: "set by Aforo from the event's api_key; send api_key instead",
      });
      reason ??= "invalid_event";
    }
    if (fields.time !== undefined && Number.isFinite(fields.time) && !has("time")) {
      if (fields.time > now + FUTURE_SLACK_MS) {
        errors.push({ path: "time", message: "more than 5 minutes in the future" });
        reason ??= "time_in_future";
      } else if (fields.time < oldest) {
        errors.push({
          path: "time",
          message: `older than the backfill horizon of ${catalog.settings.backfill_horizon_days} days`,
        });
        reason ??= "time_before_horizon";
      }
    }
    if (parsed.ok && reason === null) {
      good.push({
        index,
        event: parsed.event,
        ...(parsed.apiKey !== undefined ? { apiKey: parsed.apiKey } : {}),
      });
    } else {
      tally.reject(reason ?? "invalid_event");
      rejected.push({ index, id: parsed.ok ? parsed.event.id : id, errors });
    }
  });

  const attributed = await attributeToKeys(c, good, rejected, tally);
  const byCustomer = new Map<string, { index: number; event: UsageEvent }[]>();
  for (const g of attributed) {
    const list = byCustomer.get(g.event.customer);
    if (list) list.push(g);
    else byCustomer.set(g.event.customer, [g]);
  }
  // Watched: every event goes to the live stream. Not watched: a sample now and then keeps the
  // hub's ring of recent events fresh for the next visitor (workers/live.ts).
  const watched = liveIsWatched(c.env, tenantId, c.executionCtx) || liveSampleDue(tenantId, now);
  const outcomes = await Promise.allSettled(
    [...byCustomer].map(([customerId, list]) =>
      ingestForCustomer(c.env, (p) => c.executionCtx.waitUntil(p), {
        tenantId,
        customerId,
        catalogVersion: catalog.version,
        rawRetentionDays: catalog.settings.raw_retention_days,
        events: list.map((g) => g.event),
        detail: watched,
      }),
    ),
  );
  let accepted = 0;
  let duplicates = 0;
  const warned = new Map<number, Warned>();
  const warn = (index: number, id: string, warnings: IngestWarning[]) => {
    if (warnings.length === 0) return;
    const w = warned.get(index);
    if (w) w.warnings.push(...warnings);
    else warned.set(index, { index, id, warnings: [...warnings] });
  };
  const failed: string[] = [];
  const broken: string[] = [];
  const results: CustomerAnswer[] = [];
  const lists = [...byCustomer.values()];
  outcomes.forEach((outcome, i) => {
    if (outcome.status === "fulfilled") {
      accepted += outcome.value.accepted;
      duplicates += outcome.value.duplicates;
      results.push(outcome.value);
      const list = lists[i] ?? [];
      const refusedIds = new Set<string>();
      for (const r of outcome.value.refused) {
        refusedIds.add(r.id);
        const g = list.find((g) => g.event.id === r.id);
        if (g) {
          tally.reject("over_day_budget");
          rejected.push({ index: g.index, id: r.id, errors: [{ path: "", message: r.reason }] });
        }
      }
      // A repeated id's notes belong to its first occurrence (the one that was stored).
      const firstIndex = new Map<string, number>();
      for (const g of list) {
        if (refusedIds.has(g.event.id)) continue;
        if (!firstIndex.has(g.event.id)) firstIndex.set(g.event.id, g.index);
        warn(g.index, g.event.id, costFieldsInProperties(g.event));
      }
      for (const note of outcome.value.noted) {
        const index = firstIndex.get(note.id);
        if (index !== undefined)
          warn(index, note.id, noteWarnings(note, list[0]?.event.customer ?? ""));
      }
    } else {
      const customer = [...byCustomer.keys()][i] ?? "?";
      console.error(`ingest for customer ${customer} failed`, outcome.reason);
      (retryable(outcome.reason) ? failed : broken).push(customer);
    }
  });
  if (watched) {
    c.executionCtx.waitUntil(
      publishLive(c.env, tenantId, {
        accepted: results.flatMap((r) => r.rated),
        rejected: rejected.map((r) => ({ ...r, item: withoutApiKey(items[r.index]) })),
      }),
    );
  }
  if (broken.length > 0 && failed.length === 0) {
    throw new ApiError(
      "internal",
      `Events for ${broken.length} customer(s) (${broken.slice(0, 5).join(", ")}) could not be stored because of a fault in Aforo, not in the events; nothing of theirs was stored and retrying will not help until it is fixed`,
    );
  }
  if (failed.length > 0 || broken.length > 0) {
    throw new ApiError(
      "unavailable",
      `Events for ${failed.length} customer(s) (${failed.slice(0, 5).join(", ")}) could not be stored right now; retry the whole batch — events already stored come back as duplicates`,
    );
  }
  rejected.sort((a, b) => a.index - b.index);
  const warnings = [...warned.values()].sort((a, b) => a.index - b.index);
  return { accepted, duplicates, rejected, warnings };
}

/** Events sent with a customer API key: the key names their customer (a different `customer` on
 * the event is rejected, by index) and its id rides along, on the event for the per-key usage
 * and as the `api_key_id` property for drill-down, exports and reports. An unknown or revoked
 * key rejects its events alone. */
async function attributeToKeys(
  c: Context<AppEnv>,
  good: { index: number; event: UsageEvent; apiKey?: string }[],
  rejected: Rejected[],
  tally: IngestTally,
): Promise<{ index: number; event: UsageEvent }[]> {
  const presented = [...new Set(good.flatMap((g) => (g.apiKey === undefined ? [] : [g.apiKey])))];
  if (presented.length === 0) return good;
  const resolved = new Map<string, ResolvedCustomerKey | ApiError>();
  await Promise.all(
    presented.map(async (k) => {
      try {
        resolved.set(k, await resolveCustomerKey(c.env.DB, c.var.tenantId, k));
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        resolved.set(k, err);
      }
    }),
  );
  const kept: { index: number; event: UsageEvent }[] = [];
  for (const g of good) {
    if (g.apiKey === undefined) {
      kept.push(g);
      continue;
    }
    const key = resolved.get(g.apiKey);
    const refuse = (reason: string, path: string, message: string) => {
      tally.reject(reason);
      rejected.push({ index: g.index, id: g.event.id, errors: [{ path, message }] });
    };
    if (!key || key instanceof ApiError) {
      refuse(key?.code ?? "unknown_api_key", "api_key", key?.detail ?? "unknown API key");
    } else if (g.event.customer !== "" && g.event.customer !== key.customerId) {
      refuse(
        "api_key_mismatch",
        "customer",
        `API key ${key.id} belongs to customer '${key.customerId}', not '${g.event.customer}'`,
      );
    } else {
      kept.push({
        index: g.index,
        event: {
          ...g.event,
          customer: key.customerId,
          api_key_id: key.id,
          properties: { ...g.event.properties, [KEY_ID_PROPERTY]: key.id },
        },
      });
    }
  }
  return kept;
}

/** A rejected item as the live stream shows it: a customer API key it carried is a secret, so
 * only its shown prefix goes out. */
function withoutApiKey(item: unknown): unknown {
  if (item === null || typeof item !== "object") return item;
  const masked = (v: unknown) => (typeof v === "string" ? `${v.slice(0, 16)}…` : v);
  const raw = item as Record<string, unknown>;
  if ("api_key" in raw) return { ...raw, api_key: masked(raw.api_key) };
  const data = raw.data as Record<string, unknown> | undefined;
  if (data && typeof data === "object" && "api_key" in data) {
    return { ...raw, data: { ...data, api_key: masked(data.api_key) } };
  }
  return item;
}

/** Whether retrying can work: the platform says so of its own failures (a Durable Object reset,
 * overloaded or unreachable; the coalescer's timeout is one of those). An exception the actor's
 * code threw (`remote`, not retryable) fails the same way again: 503 must mean "retry works". */
function retryable(err: unknown): boolean {
  if (!(err instanceof Error)) return true;
  const e = err as Error & { retryable?: boolean; overloaded?: boolean; remote?: boolean };
  if (e.retryable || e.overloaded) return true;
  return e.remote !== true;
}

/** The fields the catalog and clock check, and where each sits in the event as sent. */
interface CheckedFields {
  product?: string;
  metric?: string;
  time?: number;
  paths: { product: string; metric: string; properties: string };
}
const NATIVE_PATHS = { product: "product", metric: "metric", properties: "properties" };
const CLOUD_PATHS = { product: "data.product", metric: "type", properties: "data.properties" };

type Parsed =
  | { ok: true; event: UsageEvent; paths: CheckedFields["paths"]; apiKey?: string }
  | { ok: false; errors: FieldError[]; fields: CheckedFields };

/** A field of a raw item that is a string (the schema reports it otherwise). */
function text(item: unknown, ...path: string[]): string | undefined {
  let v: unknown = item;
  for (const k of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return typeof v === "string" ? v : undefined;
}

/** What of an invalid item can still be checked against the catalog and the clock. */
function rawFields(item: unknown, cloud: boolean): CheckedFields {
  const time = text(item, "time");
  const product = cloud ? text(item, "data", "product") : text(item, "product");
  const metric = cloud ? text(item, "type") : text(item, "metric");
  return {
    ...(product !== undefined ? { product } : {}),
    ...(metric !== undefined ? { metric } : {}),
    ...(time !== undefined ? { time: Date.parse(time) } : {}),
    paths: cloud ? CLOUD_PATHS : NATIVE_PATHS,
  };
}

function toUsageEvent(item: unknown, cloudEvents: boolean): Parsed {
  const looksCloud =
    cloudEvents || (item !== null && typeof item === "object" && "specversion" in (item as object));
  if (looksCloud) {
    const r = CloudEvent.safeParse(item);
    if (!r.success) {
      return { ok: false, errors: fieldErrors(r.error.issues), fields: rawFields(item, true) };
    }
    const e = r.data;
    return {
      ok: true,
      paths: CLOUD_PATHS,
      ...(e.data.api_key !== undefined ? { apiKey: e.data.api_key } : {}),
      event: {
        id: e.id,
        customer: e.subject,
        product: e.data.product,
        metric: e.type,
        quantity: e.data.quantity,
        time: Date.parse(e.time),
        source: e.source,
        ...(e.data.cost ? { cost: e.data.cost } : {}),
        ...(e.data.properties ? { properties: e.data.properties } : {}),
      },
    };
  }
  const r = NativeEvent.safeParse(item);
  if (!r.success) {
    return { ok: false, errors: fieldErrors(r.error.issues), fields: rawFields(item, false) };
  }
  const e = r.data;
  return {
    ok: true,
    paths: NATIVE_PATHS,
    ...(e.api_key !== undefined ? { apiKey: e.api_key } : {}),
    event: {
      id: e.id,
      // Filled in from the key when only the key names the customer (attributeToKeys).
      customer: e.customer ?? "",
      product: e.product,
      metric: e.metric,
      quantity: e.quantity,
      time: Date.parse(e.time),
      source: "api",
      ...(e.cost ? { cost: e.cost } : {}),
      ...(e.properties ? { properties: e.properties } : {}),
    },
  };
}
