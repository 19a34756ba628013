// Traffic against a running stack, shared by `npm run soak` and `npm run chaos`: a tenant seeded
// through the API with the benchmarks' workload (scripts/lib/bench-workload.mjs), ingest and gate
// calls that say what the stack acknowledged, latency percentiles, and the rollup totals read
// back through the API once the fan-out has drained.
import { BENCH_COST_ENTRY, BENCH_PLAN_COMPONENTS, benchEvent } from "./bench-workload.mjs";
import { request } from "./stack.mjs";

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Rollups are read from this day on (the subscriptions start here). */
export const ROLLUPS_FROM = "2026-01-01T00:00:00Z";

/**
 * Creates a tenant with the benchmarks' catalog (chat-api: input_tokens and output_tokens, the
 * bench plan, one cost entry) and `customers` subscribed customers `c0…`.
 * @returns {Promise<{tenantId: string, ingestKey: string, operatorToken: string, customers: string[]}>}
 */
export async function seedLoadTenant(url, adminToken, { name = "Load", customers = 20 } = {}) {
  const tenant = await request(`${url}/admin/tenants`, {
    method: "POST",
    token: adminToken,
    body: { name },
  });
  const op = { token: tenant.operator_token };
  const post = (path, body) => request(`${url}${path}`, { method: "POST", ...op, body });
  await post("/api/products", { id: "chat-api", name: "Chat API" });
  await post("/api/products/chat-api/metrics", { id: "input_tokens", unit: "token" });
  await post("/api/products/chat-api/metrics", { id: "output_tokens", unit: "token" });
  await post("/api/plans", {
    id: "pro",
    product: "chat-api",
    name: "Pro",
    components: BENCH_PLAN_COMPONENTS,
  });
  await request(`${url}/api/cost-catalog`, {
    method: "PUT",
    ...op,
    body: [{ ...BENCH_COST_ENTRY, effective_from: "2025-01-01T00:00:00Z" }],
  });
  const ids = Array.from({ length: customers }, (_, i) => `c${i}`);
  for (const id of ids) {
    await post("/api/customers", { id, name: `Customer ${id}` });
    await post("/api/subscriptions", { customer: id, plan: "pro", start: ROLLUPS_FROM });
  }
  return {
    tenantId: tenant.tenant_id,
    ingestKey: tenant.ingest_key,
    operatorToken: tenant.operator_token,
    customers: ids,
  };
}

/** A batch of `size` bench events with ids `${prefix}-${n}` spread over `customers`. */
export function makeBatch(prefix, size, customers, now = Date.now()) {
  return Array.from({ length: size }, (_, i) => {
    const e = benchEvent(`${prefix}-${i}`, customers[i % customers.length], i, now);
    // Within the last 20 minutes, so every event lands in an hour the run can read back.
    return { ...e, time: new Date(now - (i % 1200) * 1000).toISOString() };
  });
}

/**
 * POSTs a batch to /v1/events. Never throws: `{ok, status, accepted, duplicates, ms}` (a network
 * error is status 0). `accepted + duplicates === batch.length` on a 200 means every event is
 * durable (new or already stored).
 */
export async function sendEvents(url, ingestKey, batch, path = "/v1/events") {
  const started = performance.now();
  try {
    const res = await fetch(`${url}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${ingestKey}`, "content-type": "application/json" },
      body: JSON.stringify(batch),
      signal: AbortSignal.timeout(60_000),
    });
    const body = await res.json().catch(() => null);
    const ms = performance.now() - started;
    if (!res.ok) return { ok: false, status: res.status, accepted: 0, duplicates: 0, ms, body };
    // The bench worker's bare insert answers {inserted}.
    const accepted = body?.accepted ?? body?.inserted ?? 0;
    return { ok: true, status: res.status, accepted, duplicates: body?.duplicates ?? 0, ms, body };
  } catch (err) {
    return {
      ok: false,
      status: 0,
      accepted: 0,
      duplicates: 0,
      ms: performance.now() - started,
      error: err instanceof Error ? err.message : String(err),
    };
  }
}

/**
 * Sends a batch until the stack acknowledges every event in it (accepted or duplicate), as a
 * client with a retry policy does: same ids every time, so a retry never counts twice.
 * @returns {Promise<{accepted: number, duplicates: number, attempts: number}>}
 */
export async function sendUntilAcknowledged(url, ingestKey, batch, o = {}) {
  const deadline = Date.now() + (o.timeoutMs ?? 180_000);
  let accepted = 0;
  let duplicates = 0;
  for (let attempt = 1; ; attempt++) {
    const res = await sendEvents(typeof url === "function" ? url() : url, ingestKey, batch);
    if (res.ok && res.accepted + res.duplicates === batch.length) {
      accepted += res.accepted;
      duplicates += res.duplicates;
      return { accepted, duplicates, attempts: attempt };
    }
    // A partial answer (some customers' actors failed, 503) also stored some events: they come
    // back as duplicates on the retry, so only the final full answer is counted.
    if (Date.now() > deadline) {
      throw new Error(`batch not acknowledged after ${attempt} attempts (last ${res.status})`);
    }
    await sleep(Math.min(2_000, 100 * attempt));
  }
}

/** POST /v1/gate for one customer; `{ok, status, allow, ms}`. */
export async function gateCall(url, ingestKey, customer, path = "/v1/gate") {
  const started = performance.now();
  try {
    const res = await fetch(`${url}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${ingestKey}`, "content-type": "application/json" },
      body: JSON.stringify({ customer, units: 1 }),
      signal: AbortSignal.timeout(30_000),
    });
    const body = await res.json().catch(() => null);
    return { ok: res.ok, status: res.status, allow: body?.allow, ms: performance.now() - started };
  } catch {
    return { ok: false, status: 0, allow: undefined, ms: performance.now() - started };
  }
}

/** GET with the operator token; `{ok, status, ms}`. */
export async function readCall(url, token, path) {
  const started = performance.now();
  try {
    const res = await fetch(`${url}${path}`, {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(30_000),
    });
    await res.arrayBuffer();
    return { ok: res.ok, status: res.status, ms: performance.now() - started };
  } catch {
    return { ok: false, status: 0, ms: performance.now() - started };
  }
}

/** Percentile of a list of numbers (nearest rank); NaN for an empty list. */
export function percentile(values, p) {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** Events per customer in the D1 rollups (daily, from ROLLUPS_FROM), read through the API. */
export async function rollupEvents(url, operatorToken) {
  const rows = await request(
    `${url}/api/rollups?group_by=customer&granularity=day&from=${ROLLUPS_FROM}`,
    { token: operatorToken },
  );
  const by = new Map();
  for (const r of rows.data) by.set(r.customer, (by.get(r.customer) ?? 0) + r.events);
  return by;
}

const total = (map) => [...map.values()].reduce((s, n) => s + n, 0);

/**
 * Polls the rollups until they reach `expected` events and stay the same for `stableMs` (or
 * until `timeoutMs`): the fan-out has drained. Returns the last total, per-customer counts, and
 * the last read's error if it failed.
 */
export async function drainedRollups(url, operatorToken, expected, o = {}) {
  const deadline = Date.now() + (o.timeoutMs ?? 180_000);
  const stableMs = o.stableMs ?? 6_000;
  let last = -1;
  let since = Date.now();
  let counts = new Map();
  let error = null;
  for (;;) {
    try {
      counts = await rollupEvents(url, operatorToken);
      error = null;
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
    }
    const now = total(counts);
    if (now !== last) {
      last = now;
      since = Date.now();
    }
    if (now >= expected && Date.now() - since >= stableMs) break;
    if (Date.now() > deadline) break;
    await sleep(500);
  }
  return { total: last, counts, error };
}

/** Events stored in the customers' actors (the drill-down), counted page by page. */
export async function storedEvents(url, operatorToken, customers) {
  let stored = 0;
  for (const c of customers) {
    let cursor = "";
    do {
      const page = await request(
        `${url}/api/customers/${c}/events?limit=500${cursor ? `&cursor=${cursor}` : ""}`,
        { token: operatorToken },
      );
      stored += page.data.length;
      cursor = page.next_cursor ?? "";
    } while (cursor);
  }
  return stored;
}
