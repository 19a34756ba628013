import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { DAY_MS, HOUR_MS } from "../../domain/time";
import type { CustomerActor } from "../../durable-objects/customer-actor";
import { call, type Tenant } from "./helpers";

// Helpers shared by the billing, metrics and margin tests: catalog set-up through the API,
// events, and waiting until the rollups have caught up.

export const DAY = DAY_MS;
export const HOUR = HOUR_MS;

/** Midnight UTC on the 1st of the month `offset` months from the one containing `t`. */
export function monthStart(t: number, offset = 0): number {
  const d = new Date(t);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + offset, 1);
}

export const isoOf = (t: number) => new Date(t).toISOString();

export function api(tenant: Tenant) {
  const token = tenant.operator_token;
  return {
    get: (path: string) => call("GET", path, { token }),
    post: (path: string, body: unknown = {}) => call("POST", path, { token, body }),
    put: (path: string, body: unknown) => call("PUT", path, { token, body }),
  };
}

/** POST that must succeed; returns the body. */
export async function ok(p: Promise<{ status: number; body: unknown }>) {
  const res = await p;
  if (res.status >= 300)
    throw new Error(`expected success, got ${res.status} ${JSON.stringify(res.body)}`);
  // biome-ignore lint/suspicious/noExplicitAny: tests inspect arbitrary JSON bodies
  return res.body as any;
}

/** A product with two metrics (input_tokens, output_tokens). */
export async function product(tenant: Tenant, id = "chat-api") {
  const a = api(tenant);
  await ok(a.post("/api/products", { id, name: id }));
  await ok(a.post(`/api/products/${id}/metrics`, { id: "input_tokens", unit: "token" }));
  await ok(a.post(`/api/products/${id}/metrics`, { id: "output_tokens", unit: "token" }));
}

export async function plan(
  tenant: Tenant,
  id: string,
  components: unknown[],
  extra: Record<string, unknown> = {},
) {
  return ok(
    api(tenant).post("/api/plans", {
      id,
      product: "chat-api",
      name: id,
      currency: "USD",
      period: "month",
      components,
      ...extra,
    }),
  );
}

export async function customer(tenant: Tenant, id: string) {
  return ok(api(tenant).post("/api/customers", { id, name: id }));
}

export async function subscribe(
  tenant: Tenant,
  customerId: string,
  planId: string,
  start: number,
  extra: Record<string, unknown> = {},
) {
  return ok(
    api(tenant).post("/api/subscriptions", {
      customer: customerId,
      plan: planId,
      start: isoOf(start),
      ...extra,
    }),
  );
}

let seq = 0;
export function tokens(
  customerId: string,
  time: number,
  quantity: number,
  extra: Record<string, unknown> = {},
) {
  return {
    id: `evt_${Date.now().toString(36)}_${++seq}`,
    customer: customerId,
    product: "chat-api",
    metric: "input_tokens",
    quantity,
    time: isoOf(time),
    ...extra,
  };
}

export async function send(tenant: Tenant, events: unknown[]) {
  for (let i = 0; i < events.length; i += 1000) {
    const res = await call("POST", "/v1/events", {
      token: tenant.ingest_key,
      body: events.slice(i, i + 1000),
    });
    if (res.status !== 200 || res.body.rejected.length > 0) {
      throw new Error(`events rejected: ${JSON.stringify(res.body)}`);
    }
  }
}

export const actor = (tenant: Tenant, customerId: string) =>
  env.CUSTOMER_ACTOR.getByName(
    `${tenant.tenant_id}:${customerId}`,
  ) as DurableObjectStub<CustomerActor>;

/** Flushes the actors' outboxes and waits until the queue consumer has applied every event
 * (the tenant's daily rollups count `events` events, when given; else until they stop moving). */
export async function settle(tenant: Tenant, customers: string[], events?: number) {
  for (const c of customers) await runDurableObjectAlarm(actor(tenant, c));
  let last = -1;
  let stable = 0;
  for (let i = 0; i < 300; i++) {
    const pending = await Promise.all(customers.map((c) => actor(tenant, c).pendingOutbox()));
    const rolled = await env.DB.prepare(
      "SELECT COALESCE(SUM(events), 0) AS n FROM rollups_daily WHERE tenant_id = ?",
    )
      .bind(tenant.tenant_id)
      .first<{ n: number }>();
    const n = rolled?.n ?? 0;
    if (pending.every((p) => p === 0)) {
      if (events !== undefined ? n >= events : n > 0 && n === last && ++stable >= 6) return;
    } else if (i % 10 === 9) {
      for (const c of customers) await runDurableObjectAlarm(actor(tenant, c));
    }
    if (n !== last) stable = 0;
    last = n;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("rollups did not catch up");
}

/** Sum of a customer's events' revenue (drill-down) with time in [from, to), as nanos. */
export async function eventRevenue(
  tenant: Tenant,
  customerId: string,
  from: number,
  to: number,
): Promise<bigint> {
  let total = 0n;
  let cursor: string | null = null;
  do {
    const q: string = `from=${encodeURIComponent(isoOf(from))}&to=${encodeURIComponent(isoOf(to))}&limit=500${cursor ? `&cursor=${cursor}` : ""}`;
    const page = await ok(api(tenant).get(`/api/customers/${customerId}/events?${q}`));
    for (const e of page.data as { revenue: string }[]) total += nanos(e.revenue);
    cursor = page.next_cursor;
  } while (cursor);
  return total;
}

/** Decimal string → nanos. */
export function nanos(decimal: string): bigint {
  const [int = "0", frac = ""] = decimal.replace("-", "").split(".");
  const v = BigInt(int) * 1_000_000_000n + BigInt(`${frac}000000000`.slice(0, 9));
  return decimal.startsWith("-") ? -v : v;
}

/** Nanos → cents, half-even (invoice rounding). */
export function toCents(n: bigint): bigint {
  const q = n / 10_000_000n;
  const r = n - q * 10_000_000n;
  const twice = 2n * (r < 0n ? -r : r);
  if (twice < 10_000_000n) return q;
  const away = n < 0n ? q - 1n : q + 1n;
  if (twice > 10_000_000n) return away;
  return q % 2n === 0n ? q : away;
}

/** Waits for the tenant clock's first run (started when the tenant is created), so the
 * periodic job does not race the test's own set-up. */
export async function clockSettled(tenant: Tenant) {
  const stub = env.TENANT_CLOCK.getByName(tenant.tenant_id);
  for (let i = 0; i < 100; i++) {
    const last = await runInDurableObject(stub, (_o, state) =>
      state.storage.get<number>("lastRun"),
    );
    if (last) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}
