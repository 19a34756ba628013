// @aforo/client against a real `wrangler dev` (issue 17): the batching sender keeps every event
// exactly once through bad events, a 429 storm, lost answers and the stack killed and restarted
// mid-stream; the gateway middleware throttles a throttled customer, blocks a blocked one, meters
// what it forwards, and fails open or closed as configured when Aforo is down. One stack for the
// file; it is killed only in the last test.
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AforoClient,
  AforoError,
  createAforoClient,
  createSender,
  Gateway,
  type Rejection,
  withAforo,
} from "../../packages/client/src";
import { aforoGateway, reportUsage } from "../../packages/client/src/hono";
import {
  applyMigrations,
  ensureDevVars,
  request,
  type Stack,
  startWrangler,
} from "../../scripts/lib/stack.mjs";

const PORT = 8799;
const DAY = 86_400_000;
const persistTo = mkdtempSync(join(tmpdir(), "aforo-client-"));
let stack: Stack | undefined;
let url: string;
let ingestKey: string;
let operatorToken: string;
let aforo: AforoClient;
const servers: Server[] = [];
const today = new Date(Math.floor(Date.now() / DAY) * DAY).toISOString();

const monthStart = (offset: number) => {
  const d = new Date();
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + offset, 1)).toISOString();
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  const { adminToken } = ensureDevVars();
  applyMigrations(persistTo, true);
  stack = await startWrangler({ port: PORT, persistTo, quiet: true });
  url = stack.url;
  const tenant = await request(`${url}/admin/tenants`, {
    method: "POST",
    token: adminToken,
    body: { name: "Client SDK" },
  });
  ingestKey = tenant.ingest_key;
  operatorToken = tenant.operator_token;
  aforo = createAforoClient({ baseUrl: url, token: tenant.operator_token, ingestKey });
  await aforo.post("/api/products", { body: { id: "api", name: "API" } });
  for (const [id, unit] of [
    ["calls", "call"],
    ["tokens", "token"],
  ] as const) {
    await aforo.post("/api/products/{id}/metrics", {
      params: { path: { id: "api" } },
      body: { id, unit, carries_cost: false },
    });
  }
  await aforo.post("/api/plans", {
    body: {
      id: "starter",
      product: "api",
      name: "Starter",
      currency: "USD",
      period: "month",
      components: [
        { type: "flat", amount: "50" },
        { type: "per_unit", metric: "calls", unit_price: "0.001" },
      ],
    },
  });
  for (const id of ["bad", "storm", "crash", "fast", "bursty", "slowco", "blockco", "perf"]) {
    await aforo.post("/api/customers", { body: { id, name: id } });
    await aforo.post("/api/subscriptions", {
      body: { customer: id, plan: "starter", start: monthStart(-3) },
    });
  }
}, 180_000);

afterAll(async () => {
  for (const s of servers) s.close();
  await stack?.stop();
  rmSync(persistTo, { recursive: true, force: true });
});

/** Events the D1 rollups hold for a customer today, once they stop changing. */
async function rolledUp(customer: string, expected: number): Promise<number> {
  let events = -1;
  for (let i = 0; i < 120; i++) {
    const rows = await aforo.get("/api/rollups", {
      params: { query: { group_by: "customer", granularity: "day", from: today } },
    });
    events = rows.data
      .filter((r) => r.customer === customer)
      .reduce((s, r) => s + Number(r.events), 0);
    if (events >= expected) break;
    await sleep(500);
  }
  // Past the expected count nothing more may arrive: a double would show up here.
  await sleep(1500);
  const rows = await aforo.get("/api/rollups", {
    params: { query: { group_by: "customer", granularity: "day", from: today } },
  });
  return rows.data.filter((r) => r.customer === customer).reduce((s, r) => s + Number(r.events), 0);
}

/** Every stored event of a customer, through the client's pagination helper. */
async function storedIds(customer: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const e of aforo.paginate("/api/customers/{id}/events", {
    params: { path: { id: customer }, query: { limit: 200 } },
  })) {
    ids.push(e.id);
  }
  return ids;
}

/** A local HTTP server in front of the stack; `answer` decides each /v1/events request. */
async function frontOf(
  answer: (n: number) => "forward" | "429" | "lose-answer",
): Promise<{ url: string; seen: string[] }> {
  const seen: string[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const what = answer(seen.length);
    seen.push(what);
    if (what === "429") {
      res.writeHead(429, { "content-type": "application/problem+json", "retry-after": "1" });
      res.end(
        JSON.stringify({
          type: "about:blank",
          title: "Too many",
          status: 429,
          detail: "storm",
          code: "rate_limited",
        }),
      );
      return;
    }
    const upstream = await fetch(`${url}${req.url}`, {
      method: req.method,
      headers: {
        authorization: req.headers.authorization ?? "",
        "content-type": "application/json",
      },
      body: Buffer.concat(chunks),
    });
    const body = await upstream.text();
    // Stored, but the answer never reaches the sender: it must send the same ids again.
    if (what === "lose-answer") res.destroy();
    else {
      res.writeHead(upstream.status, { "content-type": "application/json" });
      res.end(body);
    }
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

const event = (customer: string, i: number) => ({
  customer,
  product: "api",
  metric: "calls",
  quantity: 1,
  properties: { i },
});

describe("the batching sender", () => {
  it("keeps the good events of a batch and reports the bad ones, once, by event", async () => {
    const rejections: Rejection[] = [];
    const sender = createSender({
      baseUrl: url,
      ingestKey,
      onRejected: (r) => rejections.push(...r),
    });
    const bad = new Set<string>();
    for (let i = 0; i < 50; i++) {
      if (i % 10 === 3) bad.add(sender.track({ ...event("bad", i), metric: "no-such-metric" }));
      else if (i % 10 === 7) bad.add(sender.track({ ...event("bad", i), quantity: -5 }));
      else sender.track(event("bad", i));
    }
    await sender.flush();
    expect(new Set(rejections.map((r) => r.event.id))).toEqual(bad);
    expect(rejections.every((r) => r.reason === "rejected" && r.errors.length > 0)).toBe(true);
    expect(rejections.find((r) => r.event.metric === "no-such-metric")?.errors[0]?.path).toBe(
      "metric",
    );
    expect(sender.stats()).toMatchObject({ accepted: 40, rejected: 10, retries: 0 });
    expect(await rolledUp("bad", 40)).toBe(40);
  });

  it("rides out a 429 storm and lost answers, and counts every event once", async () => {
    const started = Date.now();
    const front = await frontOf((n) =>
      Date.now() - started < 2500 ? "429" : n % 3 === 0 ? "lose-answer" : "forward",
    );
    const rejections: Rejection[] = [];
    const sender = createSender({
      baseUrl: front.url,
      ingestKey,
      maxBatch: 250,
      onRejected: (r) => rejections.push(...r),
      retry: { maxAttempts: 40, maxDelayMs: 1000 },
    });
    const ids = Array.from({ length: 2000 }, (_, i) => sender.track(event("storm", i)));
    await sender.flush();
    expect(rejections).toEqual([]);
    expect(front.seen.filter((s) => s === "429").length).toBeGreaterThan(1);
    expect(front.seen.filter((s) => s === "lose-answer").length).toBeGreaterThan(0);
    const stats = sender.stats();
    // A lost answer's batch was stored: sent again, its events come back as duplicates.
    expect(stats.accepted + stats.duplicates).toBe(2000);
    expect(stats.duplicates).toBeGreaterThan(0);
    expect(await rolledUp("storm", 2000)).toBe(2000);
    expect(new Set(await storedIds("storm"))).toEqual(new Set(ids));
  });
});

describe("the gateway middleware", () => {
  const makeApp = (gateway: Gateway) => {
    const app = new Hono();
    app.use("/api/*", aforoGateway(gateway));
    app.get("/api/hello", (c) => c.text("hello"));
    app.post("/api/complete", (c) => {
      reportUsage(c, { metric: "tokens", quantity: 1234 });
      return c.json({ ok: true });
    });
    return app;
  };
  const call = (app: Hono, customer: string, path = "/api/hello", method = "GET") =>
    app.request(path, { method, headers: { "x-customer-id": customer } });

  it("forwards and meters a customer in good standing, with what the handler reports", async () => {
    const gateway = new Gateway({
      connection: { baseUrl: url, ingestKey },
      product: "api",
      metric: "calls",
    });
    const app = makeApp(gateway);
    for (let i = 0; i < 5; i++) expect((await call(app, "fast")).status).toBe(200);
    expect((await call(app, "fast", "/api/complete", "POST")).status).toBe(200);
    expect((await app.request("/api/hello")).status).toBe(401);
    await gateway.senderFor(undefined).flush();
    expect(gateway.senderFor(undefined).stats()).toMatchObject({ accepted: 6, rejected: 0 });
    const metered = [];
    for await (const e of aforo.paginate("/api/customers/{id}/events", {
      params: { path: { id: "fast" } },
    }))
      metered.push([e.metric, Number(e.quantity)]);
    expect(metered.sort()).toEqual(
      [
        ["calls", 1],
        ["calls", 1],
        ["calls", 1],
        ["calls", 1],
        ["calls", 1],
        ["tokens", 1234],
      ].sort(),
    );
  });

  it("identifies a customer by its API key, meters the call to the key, and refuses a revoked key", async () => {
    await aforo.post("/api/customers", { body: { id: "keyed", name: "Keyed" } });
    const keysPath = `${url}/api/customers/keyed/api-keys`;
    const issued = await request(keysPath, {
      method: "POST",
      token: operatorToken,
      body: { name: "stack", quota: { metric: "calls", limit: 100, period: "day" } },
    });
    const gateway = new Gateway({
      timeoutMs: 5000,
      connection: { baseUrl: url, ingestKey },
      product: "api",
      metric: "calls",
      identify: "api_key",
    });
    const app = makeApp(gateway);
    const withKey = (key: string) =>
      app.request("/api/hello", { headers: { authorization: `Bearer ${key}` } });
    for (let i = 0; i < 3; i++) expect((await withKey(issued.key)).status).toBe(200);
    expect((await withKey(`sk_live_${"x".repeat(43)}`)).status).toBe(401);
    await gateway.senderFor(undefined).flush();
    expect(gateway.senderFor(undefined).stats()).toMatchObject({ accepted: 3, rejected: 0 });
    const stored = [];
    for await (const e of aforo.paginate("/api/customers/{id}/events", {
      params: { path: { id: "keyed" } },
    }))
      stored.push(e.properties?.api_key_id);
    expect(stored).toEqual([issued.id, issued.id, issued.id]);
    // The per-key usage arrives through the actor's outbox and the events queue.
    let listed: { id: string; quota_used: { used: string; percent_used: number } }[] = [];
    for (let i = 0; i < 60; i++) {
      listed = (await request(keysPath, { token: operatorToken })).data;
      if (listed[0]?.quota_used.used === "3") break;
      await sleep(500);
    }
    expect(listed[0]).toMatchObject({ id: issued.id, quota_used: { used: "3", percent_used: 3 } });

    await request(`${keysPath}/${issued.id}`, { method: "DELETE", token: operatorToken });
    const refused = await withKey(issued.key);
    expect(refused.status).toBe(401);
  }, 60_000);

  it("answers 429 with the gate's Retry-After to a customer over its rate, and does not meter it", async () => {
    await aforo.put("/api/policies", {
      body: {
        scope: "customer",
        id: "bursty",
        policy: { gate: { rate_per_second: 0.5, burst: 2, throttled_rate_per_second: 0.25 } },
      },
    });
    const gateway = new Gateway({
      // Decisions under test: a slow gate on a busy machine must not fail open here.
      timeoutMs: 5000,
      connection: { baseUrl: url, ingestKey },
      product: "api",
      metric: "calls",
    });
    const app = makeApp(gateway);
    const statuses = [];
    let refused = new Response();
    for (let i = 0; i < 4; i++) {
      const res = await call(app, "bursty");
      statuses.push(res.status);
      if (res.status === 429) refused = res;
    }
    expect(statuses).toEqual([200, 200, 429, 429]);
    expect(refused.headers.get("content-type")).toBe("application/problem+json");
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(((await refused.json()) as { code: string }).code).toBe("rate_limited");
    await gateway.senderFor(undefined).flush();
    expect(gateway.senderFor(undefined).stats().accepted).toBe(2);
  });

  it("throttles a customer the ladder throttled and blocks one it blocked", async () => {
    // Both customers' first month unpaid and its payment failed, far enough past due for L3;
    // THROTTLE runs for both, BLOCK only where the policy switched it on (README: the ladder).
    await aforo.post("/api/invoices/run", { body: { as_of: monthStart(-2) } });
    const invoices = await aforo.get("/api/invoices", { params: { query: { status: "open" } } });
    const dueAt = Math.min(...invoices.data.map((inv) => Date.parse(inv.due_at ?? "")));
    const days = Math.floor((Date.now() - dueAt) / DAY);
    expect(days).toBeGreaterThan(10);
    await aforo.put("/api/policies", {
      body: {
        scope: "tenant",
        policy: {
          detectors: { past_due: { throttle_after_days: days - 5, block_after_days: days - 1 } },
        },
      },
    });
    await aforo.put("/api/policies", {
      body: {
        scope: "customer",
        id: "slowco",
        policy: { auto_actions: { THROTTLE: true }, gate: { throttled_rate_per_second: 0.5 } },
      },
    });
    await aforo.put("/api/policies", {
      body: {
        scope: "customer",
        id: "blockco",
        policy: { auto_actions: { THROTTLE: true, BLOCK: true } },
      },
    });
    for (const customer of ["slowco", "blockco"]) {
      const inv = invoices.data.find((i) => i.customer === customer);
      await aforo.post("/api/invoices/{id}/payments", {
        params: { path: { id: inv?.id ?? "" } },
        body: {
          status: "failed",
          decline_code: "insufficient_funds",
          at: new Date().toISOString(),
          reference: `pi_${customer}`,
        },
      });
    }
    const tier = async (customer: string) =>
      (await aforo.post("/v1/gate", { body: { customer, units: 0.001 } })).tier;
    for (
      let i = 0;
      i < 60 && ((await tier("slowco")) !== "throttled" || (await tier("blockco")) !== "blocked");
      i++
    )
      await sleep(500);
    expect([await tier("slowco"), await tier("blockco")]).toEqual(["throttled", "blocked"]);

    const gateway = new Gateway({
      // Decisions under test: a slow gate on a busy machine must not fail open here.
      timeoutMs: 5000,
      connection: { baseUrl: url, ingestKey },
      product: "api",
      metric: "calls",
    });
    const app = makeApp(gateway);
    await sleep(2100); // the throttled bucket (0.5/s, burst 1) refills after the probes above
    const slow = [await call(app, "slowco"), await call(app, "slowco")];
    expect(slow.map((r) => r.status)).toEqual([200, 429]);
    expect(Number(slow[1]?.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    const blocked = await call(app, "blockco");
    expect(blocked.status).toBe(403);
    expect(blocked.headers.get("retry-after")).toBeNull();
    expect(await blocked.json()).toMatchObject({ code: "forbidden", status: 403 });
    // The plain fetch wrapper decides the same.
    const handler = withAforo(() => new Response("ok"), gateway);
    const viaFetch = await handler(
      new Request("http://api.test/x", { headers: { "x-customer-id": "blockco" } }),
      undefined,
    );
    expect(viaFetch.status).toBe(403);
  });

  it("measures the middleware's cost per request against the same app without it", async () => {
    let gateErrors = 0;
    const gateway = new Gateway({
      connection: { baseUrl: url, ingestKey },
      product: "api",
      metric: "calls",
      onGateError: () => gateErrors++,
    });
    const gated = makeApp(gateway);
    const bare = new Hono();
    bare.get("/api/hello", (c) => c.text("hello"));
    const timings = async (app: Hono, n: number) => {
      const ms: number[] = [];
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        expect((await call(app, "perf")).status).toBe(200);
        ms.push(performance.now() - t0);
      }
      ms.sort((a, b) => a - b);
      return { p50: ms[Math.floor(n / 2)] ?? 0, p95: ms[Math.floor(n * 0.95)] ?? 0 };
    };
    await timings(gated, 20); // warm: the gate's key cache and the customer's actor
    const on = await timings(gated, 150);
    const off = await timings(bare, 150);
    console.log(
      `[client-sdk] middleware on: p50 ${on.p50.toFixed(2)} ms, p95 ${on.p95.toFixed(2)} ms; off: p50 ${off.p50.toFixed(3)} ms, p95 ${off.p95.toFixed(3)} ms (wrangler dev on 127.0.0.1; ${gateErrors} gate calls over the 150 ms timeout)`,
    );
    await gateway.senderFor(undefined).flush();
    expect(gateway.senderFor(undefined).stats()).toMatchObject({ accepted: 170, rejected: 0 });
  });

  it("gives up on a gate that does not answer within its timeout", async () => {
    const hanging = createServer(() => {});
    servers.push(hanging);
    await new Promise<void>((r) => hanging.listen(0, "127.0.0.1", r));
    const slowUrl = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}`;
    const errors: unknown[] = [];
    const open = new Gateway({
      connection: { baseUrl: slowUrl, ingestKey },
      product: "api",
      metric: "calls",
      timeoutMs: 150,
      onGateError: (e) => errors.push(e),
    });
    const t0 = Date.now();
    const res = await makeApp(open).request("/api/hello", { headers: { "x-customer-id": "fast" } });
    const took = Date.now() - t0;
    expect(res.status).toBe(200);
    expect(took).toBeGreaterThanOrEqual(140);
    expect(took).toBeLessThan(1000);
    expect(errors).toHaveLength(1);
  });
});

it("keeps every event exactly once across the stack killed and restarted mid-stream, and fails open or closed meanwhile", async () => {
  const rejections: Rejection[] = [];
  const sender = createSender({
    baseUrl: url,
    ingestKey,
    maxBatch: 200,
    flushIntervalMs: 50,
    onRejected: (r) => rejections.push(...r),
    retry: { maxAttempts: 200, maxDelayMs: 1000 },
  });
  const ids: string[] = [];
  // A steady stream: 20 events every 10 ms for about 3 s; the crash comes in the middle of it.
  const stream = (async () => {
    for (let i = 0; i < 300; i++) {
      for (let j = 0; j < 20; j++) ids.push(sender.track(event("crash", i * 20 + j)));
      await sleep(10);
    }
  })();
  await sleep(1200);
  await stack?.stop("SIGKILL");

  // Aforo down: a fail-open gateway forwards (and meters later), a fail-closed one refuses.
  const open = new Gateway({
    connection: { baseUrl: url, ingestKey },
    product: "api",
    metric: "calls",
  });
  const closed = new Gateway({
    connection: { baseUrl: url, ingestKey },
    product: "api",
    metric: "calls",
    failMode: "closed",
  });
  const app = (g: Gateway) => {
    const a = new Hono();
    a.use("*", aforoGateway(g));
    a.get("/x", (c) => c.text("ok"));
    return a;
  };
  const down = { headers: { "x-customer-id": "crash" } };
  expect((await app(open).request("/x", down)).status).toBe(200);
  const refused = await app(closed).request("/x", down);
  expect(refused.status).toBe(503);
  expect(refused.headers.get("retry-after")).toBe("1");
  expect(((await refused.json()) as { code: string }).code).toBe("unavailable");
  await expect(aforo.get("/api/products")).rejects.toThrow(TypeError);

  await stream;
  stack = await startWrangler({ port: PORT, persistTo, quiet: true });
  await Promise.all([sender.flush(), open.senderFor(undefined).flush()]);
  expect(rejections).toEqual([]);
  expect(sender.stats().retries).toBeGreaterThan(0);
  expect(sender.stats().accepted + sender.stats().duplicates).toBe(6000);
  // 6,000 streamed and one call the fail-open gateway forwarded while Aforo was down.
  expect(await rolledUp("crash", 6001)).toBe(6001);
  const stored = await storedIds("crash");
  expect(stored).toHaveLength(6001);
  expect(new Set(stored).size).toBe(6001);
  for (const id of ids) expect(stored).toContain(id);

  // Errors through the typed client are problem+json with their code.
  const err = await aforo
    .get("/api/customers/{id}", { params: { path: { id: "nobody" } } })
    .catch((e: unknown) => e);
  expect(err).toBeInstanceOf(AforoError);
  expect([(err as AforoError).status, (err as AforoError).code]).toEqual([404, "not_found"]);
}, 240_000);
