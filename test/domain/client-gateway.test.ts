// The gateway middleware against a scripted Aforo (packages/client/src/gateway.ts, hono.ts): the
// gate's answer becomes 429/403 problem+json with its Retry-After, a forwarded call is metered
// with what the handler reported, and an Aforo that is slow or down fails open or closed.
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { Gateway, type GatewayOptions, withAforo } from "../../packages/client/src";
import { aforoGateway, reportUsage } from "../../packages/client/src/hono";

type Gate = {
  allow: boolean;
  tier: string;
  limit: number;
  remaining: number;
  retry_after_ms: number;
  customer?: string;
  api_key_id?: string;
  reason?: string;
  quota?: Record<string, string>;
};
const allow: Gate = { allow: true, tier: "normal", limit: 10, remaining: 9, retry_after_ms: 0 };

/** A fake Aforo: answers /v1/gate from `decide`, records /v1/events bodies. */
type GateBody = { customer?: string; api_key?: string; product: string; units: number };

function fakeAforo(decide: (body: GateBody) => Gate | Response | "hang" | "down") {
  const gated: GateBody[] = [];
  const events: Record<string, unknown>[] = [];
  const fetch = async (req: Request): Promise<Response> => {
    const path = new URL(req.url).pathname;
    if (path === "/v1/gate") {
      const body = (await req.json()) as GateBody;
      gated.push(body);
      const answer = decide(body);
      if (answer instanceof Response) return answer;
      if (answer === "down") throw new TypeError("fetch failed");
      if (answer === "hang") {
        // As a real fetch does: give up when the gateway's timeout aborts the request.
        return new Promise((_, reject) => {
          if (req.signal.aborted) reject(req.signal.reason);
          req.signal.addEventListener("abort", () => reject(req.signal.reason));
        });
      }
      return Response.json(answer);
    }
    const body = (await req.json()) as Record<string, unknown>[];
    events.push(...body);
    return Response.json({ accepted: body.length, duplicates: 0, rejected: [], warnings: [] });
  };
  return { fetch, gated, events };
}

function app(aforo: ReturnType<typeof fakeAforo>, options: Partial<GatewayOptions> = {}) {
  const gateway = new Gateway({
    connection: { baseUrl: "http://aforo.test", ingestKey: "aforo_ik_x", fetch: aforo.fetch },
    product: "api",
    metric: "calls",
    ...options,
  });
  const hono = new Hono();
  hono.use("*", aforoGateway(gateway));
  hono.get("/hello", (c) => c.text("hello"));
  hono.post("/chat", (c) => {
    reportUsage(c, { metric: "input_tokens", quantity: 120 });
    reportUsage(c, { metric: "output_tokens", quantity: 30, properties: { model: "m" } });
    return c.text("ok");
  });
  const call = (path = "/hello", customer: string | null = "acme", method = "GET") =>
    hono.request(path, { method, headers: customer ? { "x-customer-id": customer } : {} });
  return { call, gateway, flush: () => gateway.senderFor(undefined).flush() };
}

describe("gate decisions", () => {
  it("forwards an allowed call and meters one unit of the metric", async () => {
    const aforo = fakeAforo(() => allow);
    const { call, flush } = app(aforo);
    const res = await call();
    expect([res.status, await res.text()]).toEqual([200, "hello"]);
    await flush();
    expect(aforo.gated).toEqual([{ customer: "acme", product: "api", units: 1 }]);
    expect(aforo.events).toEqual([
      expect.objectContaining({
        customer: "acme",
        product: "api",
        metric: "calls",
        quantity: 1,
        properties: { method: "GET", path: "/hello", status: 200 },
      }),
    ]);
  });

  it("meters what the handler reports instead", async () => {
    const aforo = fakeAforo(() => allow);
    const { call, flush } = app(aforo);
    await call("/chat", "acme", "POST");
    await flush();
    expect(
      aforo.events.map((e) => [e.metric, e.quantity, (e.properties as { model?: string }).model]),
    ).toEqual([
      ["input_tokens", 120, undefined],
      ["output_tokens", 30, "m"],
    ]);
  });

  it("answers 429 with the gate's Retry-After, rounded up to seconds, and meters nothing", async () => {
    const aforo = fakeAforo(() => ({ ...allow, allow: false, remaining: 0, retry_after_ms: 1200 }));
    const { call, flush } = app(aforo);
    const res = await call();
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("2");
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(await res.json()).toMatchObject({ code: "rate_limited", status: 429 });
    await flush();
    expect(aforo.events).toEqual([]);
  });

  it("answers 403 without Retry-After to a blocked customer", async () => {
    const aforo = fakeAforo(() => ({
      allow: false,
      tier: "blocked",
      limit: 0,
      remaining: 0,
      retry_after_ms: -1,
    }));
    const res = await app(aforo).call();
    expect(res.status).toBe(403);
    expect(res.headers.get("retry-after")).toBeNull();
    expect(await res.json()).toMatchObject({ code: "forbidden" });
  });

  it("refuses a call that names no customer, or forwards it unmetered when told to", async () => {
    const aforo = fakeAforo(() => allow);
    expect((await app(aforo).call("/hello", null)).status).toBe(401);
    const lenient = app(aforo, { unidentified: "forward" });
    expect((await lenient.call("/hello", null)).status).toBe(200);
    await lenient.flush();
    expect([aforo.gated, aforo.events]).toEqual([[], []]);
  });

  it("identifies the customer through a callback", async () => {
    const aforo = fakeAforo(() => allow);
    const { call } = app(aforo, { customer: (req) => new URL(req.url).searchParams.get("c") });
    await call("/hello?c=globex", null);
    expect(aforo.gated[0]?.customer).toBe("globex");
  });
});

describe("identifying by customer API key", () => {
  const KEY = `sk_live_${"k".repeat(43)}`;
  const byKey = (aforo: ReturnType<typeof fakeAforo>, options: Partial<GatewayOptions> = {}) => {
    const { gateway, flush } = app(aforo, { identify: "api_key", ...options });
    const hono = new Hono();
    hono.use("*", aforoGateway(gateway));
    hono.get("/hello", (c) => c.text("hello"));
    const call = (headers: Record<string, string>) => hono.request("/hello", { headers });
    return { call, flush };
  };
  const problem = (status: number, code: string) =>
    new Response(JSON.stringify({ status, code, title: code, detail: code, type: code }), {
      status,
      headers: { "content-type": "application/problem+json" },
    });

  it("asks the gate with the bearer key and meters the call to the key's customer and the key", async () => {
    const aforo = fakeAforo(() => ({ ...allow, customer: "acme", api_key_id: "ck_1" }));
    const { call, flush } = byKey(aforo);
    const res = await call({ authorization: `Bearer ${KEY}` });
    expect(res.status).toBe(200);
    await flush();
    expect(aforo.gated).toEqual([{ api_key: KEY, product: "api", units: 1 }]);
    expect(aforo.events).toEqual([
      expect.objectContaining({ customer: "acme", api_key: KEY, metric: "calls", quantity: 1 }),
    ]);
  });

  it("reads x-api-key without a bearer sk_ key, or the header it is told to", async () => {
    const aforo = fakeAforo(() => ({ ...allow, customer: "acme" }));
    await byKey(aforo).call({ authorization: "Bearer not-a-customer-key", "x-api-key": KEY });
    await byKey(aforo, { apiKey: "x-customer-key" }).call({ "x-customer-key": KEY });
    expect(aforo.gated.map((g) => g.api_key)).toEqual([KEY, KEY]);
    expect((await byKey(aforo).call({})).status).toBe(401);
  });

  it("answers 401 to an unknown or revoked key, even when failing open", async () => {
    for (const code of ["unknown_api_key", "revoked_api_key"]) {
      const aforo = fakeAforo(() => problem(401, code));
      const { call, flush } = byKey(aforo);
      const res = await call({ authorization: `Bearer ${KEY}` });
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ code: "unauthorized" });
      await flush();
      expect(aforo.events).toEqual([]);
    }
  });

  it("answers 429 key_quota_exceeded with Retry-After to the quota's period end", async () => {
    const aforo = fakeAforo(() => ({
      allow: false,
      tier: "throttled",
      limit: 0,
      remaining: 0,
      retry_after_ms: 3_600_500,
      customer: "acme",
      reason: "key_quota",
      quota: { metric: "calls", limit: "100", used: "100", period: "day" },
    }));
    const res = await byKey(aforo).call({ authorization: `Bearer ${KEY}` });
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("3601");
    const body = (await res.json()) as { code: string; detail: string };
    expect(body.code).toBe("key_quota_exceeded");
    expect(body.detail).toContain("100 calls this day");
  });

  it("fails open with the key alone on the metered event (Aforo resolves it at ingest)", async () => {
    const aforo = fakeAforo(() => "down");
    const { call, flush } = byKey(aforo);
    expect((await call({ authorization: `Bearer ${KEY}` })).status).toBe(200);
    await flush();
    expect(aforo.events).toHaveLength(1);
    expect(aforo.events[0]).toMatchObject({ api_key: KEY });
    expect(aforo.events[0]).not.toHaveProperty("customer");
  });
});

describe("when Aforo cannot answer", () => {
  for (const failure of ["down", "hang"] as const) {
    it(`fails open by default (${failure}), metering the call for later`, async () => {
      const errors: unknown[] = [];
      const aforo = fakeAforo(() => failure);
      const { call, flush } = app(aforo, { timeoutMs: 50, onGateError: (e) => errors.push(e) });
      const t0 = Date.now();
      expect((await call()).status).toBe(200);
      expect(Date.now() - t0).toBeLessThan(1000);
      await flush();
      expect(errors).toHaveLength(1);
      expect(aforo.events).toHaveLength(1);
    });

    it(`fails closed when configured (${failure}): 503 with Retry-After`, async () => {
      const aforo = fakeAforo(() => failure);
      const res = await app(aforo, { timeoutMs: 50, failMode: "closed" }).call();
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).toBe("1");
      expect(await res.json()).toMatchObject({ code: "unavailable" });
    });
  }
});

it("the plain fetch wrapper gates, forwards and meters through ctx.waitUntil", async () => {
  const aforo = fakeAforo((b) =>
    b.customer === "blocked-co"
      ? { ...allow, allow: false, tier: "blocked", retry_after_ms: -1 }
      : allow,
  );
  const handler = withAforo(
    (req: Request) => {
      reportUsage(req, { quantity: 3 });
      return new Response("done", { status: 201 });
    },
    {
      connection: () => ({
        baseUrl: "http://aforo.test",
        ingestKey: "aforo_ik_x",
        fetch: aforo.fetch,
      }),
      product: "api",
      metric: "calls",
      flushIntervalMs: 10,
    },
  );
  const kept: Promise<unknown>[] = [];
  const ctx = { waitUntil: (p: Promise<unknown>) => kept.push(p) };
  const req = (customer: string) =>
    new Request("http://api.test/x", { headers: { "x-customer-id": customer } });
  expect((await handler(req("blocked-co"), {}, ctx)).status).toBe(403);
  expect((await handler(req("acme"), {}, ctx)).status).toBe(201);
  expect(kept).toHaveLength(1);
  await Promise.all(kept);
  expect(aforo.events).toEqual([expect.objectContaining({ customer: "acme", quantity: 3 })]);
});
