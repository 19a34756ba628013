import { createExecutionContext, env } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { beforeAll, describe, expect, inject, it, vi } from "vitest";
import { checkOutboundUrl } from "../../domain/outbound-url";
import { insertChannel } from "../../store/channels";
import { newWebhookSecret } from "../../workers/deliveries/channels";
import { sealSecret } from "../../workers/deliveries/secrets";
import {
  anomalySignal,
  deliveriesOf,
  ensureSignalsTable,
  newHook,
  runConsumer,
  storeSignal,
} from "./deliveries-helpers";
import { ADMIN_TOKEN, type Call, call, createTenant, expectProblem, type Tenant } from "./helpers";

// Edge hardening (issue 11, defects 3–6): cursors validated on every paginated route, the
// proxy's header policy and origin rule, the outbound-URL guard on channels and sends, body
// limits and security headers. Each block failed before its fix.

let tenant: Tenant;

beforeAll(async () => {
  tenant = await createTenant("Edge");
  await call("POST", "/api/customers", {
    token: tenant.operator_token,
    body: { id: "acme", name: "Acme" },
  });
});

const b64url = (text: string) =>
  btoa(text).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
/** A cursor in the envelope the API issues, around a key it never issued. */
const forged = (key: unknown) => b64url(JSON.stringify({ v: 1, k: key }));

/** Replaces the global fetch (the one the worker calls, in this same isolate) with an origin
 * that answers 200 "ok", and records the URLs it was asked for. */
function spyOnFetch() {
  const urls: string[] = [];
  const spy = vi.spyOn(globalThis, "fetch").mockImplementation(async (input) => {
    urls.push(input instanceof Request ? input.url : String(input));
    return new Response("ok");
  });
  return { urls, restore: () => spy.mockRestore() };
}

// ------------------------------------------------------------------------------------------------

describe("cursors on every paginated route (defect 3)", () => {
  /** Every GET in /openapi.json that takes a `cursor`, with its path parameters filled in. */
  async function paginatedRoutes(): Promise<string[]> {
    type Param = {
      name: string;
      in: string;
      required?: boolean;
      schema?: { enum?: unknown[]; example?: unknown; default?: unknown };
    };
    const doc = (await call("GET", "/openapi.json")).body as {
      paths: Record<string, Record<string, { parameters?: Param[] }>>;
    };
    const routes: string[] = [];
    for (const [path, ops] of Object.entries(doc.paths)) {
      const params = ops.get?.parameters ?? [];
      if (!params.some((p) => p.in === "query" && p.name === "cursor")) continue;
      const filled = path.replaceAll(/\{[^}]+\}/g, "acme");
      // A required query parameter gets a valid value (its first allowed one), so that the
      // cursor is the only thing wrong.
      const required = params
        .filter((p) => p.in === "query" && p.required && p.name !== "cursor")
        .map(
          (p) =>
            `${p.name}=${encodeURIComponent(String(p.schema?.enum?.[0] ?? p.schema?.example ?? p.schema?.default))}&`,
        )
        .join("");
      if (filled === "/api/signals")
        routes.push(`${filled}?sort=magnitude&`, `${filled}?sort=time&`);
      else routes.push(`${filled}?${required}`);
    }
    return routes;
  }

  const bare = {
    "[1.5]": b64url("[1.5]"),
    "[1e+300]": b64url("[1e+300]"),
    "[-1]": b64url("[-1]"),
    '["x"]': b64url('["x"]'),
    "{}": b64url("{}"),
    "[]": b64url("[]"),
    "base64 of text": b64url("not json at all"),
    "not base64": "%%%***",
    "base64 of bytes": "____",
  };
  // Well-formed envelopes whose key no route accepts: a fraction, a number past 2^53, a negative
  // position, wrong lengths, wrong types, an over-long string.
  const wrongKeys = {
    "k [1.5]": forged([1.5]),
    "k [1e+300]": forged([1e300]),
    "k [-1]": forged([-1]),
    "k [1.5, 2]": forged([1.5, 2]),
    "k [x, x]": forged(["x", "x"]),
    "k [2^53, 1]": forged([2 ** 53, 1]),
    "k [null]": forged([null]),
    "k {}": forged({}),
    "k [1, 2, 3]": forged([1, 2, 3]),
  };

  it("finds the paginated routes in /openapi.json", async () => {
    const routes = await paginatedRoutes();
    for (const known of [
      "/api/products?",
      "/api/plans?",
      "/api/customers?",
      "/api/subscriptions?",
      "/api/invoices?",
      "/api/margin/customers?",
      "/api/customers/acme/events?",
      "/api/signals?sort=magnitude&",
      "/api/signals?sort=time&",
      "/api/actions?",
      "/api/deliveries?",
    ]) {
      expect(routes).toContain(known);
    }
  });

  it("answers 400 problem+json, never 5xx, to every bad cursor on every route", async () => {
    const routes = await paginatedRoutes();
    const failures: string[] = [];
    for (const route of routes) {
      for (const [label, cursor] of Object.entries({ ...bare, ...wrongKeys })) {
        const res = await call("GET", `${route}cursor=${encodeURIComponent(cursor)}`, {
          token: tenant.operator_token,
        });
        const paths = (res.body?.errors ?? []).map((e: { path: string }) => e.path);
        if (
          res.status !== 400 ||
          !res.contentType.startsWith("application/problem+json") ||
          res.body.code !== "validation_failed" ||
          !paths.includes("query.cursor")
        ) {
          failures.push(`${route} ${label} → ${res.status} ${JSON.stringify(res.body)}`);
        }
      }
    }
    expect(failures).toEqual([]);
  });

  it("takes each key part as the kind the query needs", async () => {
    const get = (path: string) => call("GET", path, { token: tenant.operator_token });
    const ok = async (path: string) => {
      const res = await get(path);
      expect(res.status, `${path} ${JSON.stringify(res.body)}`).toBe(200);
    };
    // An id-keyed list takes any bounded string; a number, or a string past 256 characters, not.
    await ok(`/api/products?cursor=${forged(["x"])}`);
    expectProblem(await get(`/api/products?cursor=${forged([7])}`), 400, "validation_failed");
    expectProblem(
      await get(`/api/deliveries?cursor=${forged([1, "a".repeat(257)])}`),
      400,
      "validation_failed",
    );
    // Times bind as integers: a fraction or a number past 2^53 is not one.
    await ok(`/api/deliveries?cursor=${forged([Date.now(), "d_1"])}`);
    for (const time of [1.5, 2 ** 53, 1e300]) {
      expectProblem(
        await get(`/api/deliveries?cursor=${forged([time, "d_1"])}`),
        400,
        "validation_failed",
      );
    }
    // The margin ranking's offset: a non-negative integer up to 10^7.
    await ok(`/api/margin/customers?cursor=${forged([5])}`);
    expectProblem(
      await get(`/api/margin/customers?cursor=${forged([10_000_001])}`),
      400,
      "validation_failed",
    );
    // Steps and events are keyed by row ids and times: safe integers; magnitudes are reals.
    await ok(`/api/actions?cursor=${forged([12])}`);
    await ok(`/api/customers/acme/events?cursor=${forged([Date.now(), 3])}`);
    expectProblem(
      await get(`/api/customers/acme/events?cursor=${forged([Date.now(), 0.5])}`),
      400,
      "validation_failed",
    );
    await ok(`/api/signals?sort=magnitude&cursor=${forged([4.25, "sig_x"])}`);
    expectProblem(
      await get(`/api/signals?sort=time&cursor=${forged([4.25, "sig_x"])}`),
      400,
      "validation_failed",
    );
  });

  it("still pages with the cursors it issues", async () => {
    const token = tenant.operator_token;
    for (const id of ["p1", "p2", "p3"]) {
      await call("POST", "/api/products", { token, body: { id, name: id } });
    }
    const first = await call("GET", "/api/products?limit=2", { token });
    expect(first.body.data.map((p: { id: string }) => p.id)).toEqual(["p1", "p2"]);
    const second = await call("GET", `/api/products?limit=2&cursor=${first.body.next_cursor}`, {
      token,
    });
    expect(second.body.data.map((p: { id: string }) => p.id)).toEqual(["p3"]);
    expect(second.body.next_cursor).toBeNull();
  });
});

// ------------------------------------------------------------------------------------------------

describe("outbound URLs: channels and the send path (defect 5)", () => {
  const post = (t: Tenant, body: unknown) =>
    call("POST", "/api/channels", { token: t.operator_token, body });

  function expectUrlRefused(res: Call, text: string) {
    expectProblem(res, 400, "validation_failed");
    const url = res.body.errors.find((e: { path: string }) => e.path === "url");
    expect(url?.message, JSON.stringify(res.body)).toContain(text);
  }

  it("refuses metadata, link-local, private and mapped addresses when a channel is saved", async () => {
    const t = await createTenant("SSRF");
    expectUrlRefused(
      await post(t, { type: "webhook", name: "m", url: "https://169.254.169.254/latest" }),
      "metadata",
    );
    expectUrlRefused(
      await post(t, { type: "slack", name: "m", url: "https://metadata.google.internal/x" }),
      "metadata",
    );
    expectUrlRefused(
      await post(t, { type: "webhook", name: "p", url: "https://10.1.2.3/hook" }),
      "private",
    );
    expectUrlRefused(
      await post(t, { type: "webhook", name: "v6", url: "http://[::ffff:127.0.0.1]:8080/" }),
      "IPv4-mapped",
    );
    expectUrlRefused(
      await post(t, { type: "webhook", name: "n", url: "https://0xa9fea9fe/latest" }),
      "169.254.169.254",
    );
    const fine = await post(t, { type: "webhook", name: "ok", url: "https://example.com/hook" });
    expect(fine.status).toBe(201);
    expectUrlRefused(
      await call("PATCH", `/api/channels/${fine.body.id}`, {
        token: t.operator_token,
        body: { url: "https://[fd00:ec2::254]/latest" },
      }),
      "metadata",
    );
    const listed = await call("GET", "/api/channels", { token: t.operator_token });
    expect(listed.body.data.map((c: { url: string }) => c.url)).toEqual([
      "https://example.com/hook",
    ]);
  });

  it("in local mode allows loopback receivers; deployed (no AFORO_LOCAL_NETWORK) refuses them", async () => {
    expect((env as Env).AFORO_LOCAL_NETWORK).toBe("loopback");
    const t = await createTenant("Local");
    const local = await post(t, { type: "webhook", name: "l", url: newHook().url });
    expect(local.status).toBe(201);
    // The same route on a deployed worker (the variable absent).
    const app = (await import("../../workers/index")).app;
    const refused = await app.request(
      "/api/channels",
      {
        method: "POST",
        headers: {
          authorization: `Bearer ${t.operator_token}`,
          "content-type": "application/json",
        },
        body: JSON.stringify({ type: "webhook", name: "l", url: newHook().url }),
      },
      { ...env, AFORO_LOCAL_NETWORK: undefined },
      createExecutionContext(),
    );
    expect(refused.status).toBe(400);
    const problem = (await refused.json()) as { code: string; errors: { message: string }[] };
    expect(problem.code).toBe("validation_failed");
    expect(problem.errors[0]?.message).toContain("loopback is allowed only in local mode");
  });

  it("runs the guard in workerd's own URL parser too", () => {
    for (const url of [
      "http://2130706433/",
      "http://017700000001/",
      "http://0x7f.1/",
      "http://127.1/",
      "http://%31%32%37.0.0.1/",
    ]) {
      expect(checkOutboundUrl(url)).toMatchObject({ ok: false });
      expect(checkOutboundUrl(url, { localNetwork: "loopback" })).toMatchObject({ ok: true });
    }
    expect(checkOutboundUrl("https://[::ffff:169.254.169.254]/")).toMatchObject({ ok: false });
    expect(checkOutboundUrl("https://hooks.slack.com/services/x")).toMatchObject({ ok: true });
  });

  it("refuses a stored row with such a URL at send time, without a fetch, as a permanent failure", async () => {
    await ensureSignalsTable();
    const t = await createTenant("Old rows");
    const now = Date.now();
    const hook = newHook("deployed-loopback");
    const rows = [
      { id: "ch_meta", type: "webhook", url: "https://169.254.169.254/latest", why: "metadata" },
      {
        id: "ch_gcp",
        type: "slack",
        url: "https://metadata.google.internal/computeMetadata/v1/",
        why: "metadata",
      },
      // A loopback receiver, sent by a deployed worker (no AFORO_LOCAL_NETWORK).
      { id: "ch_loop", type: "webhook", url: hook.url, why: "loopback" },
    ] as const;
    for (const r of rows) {
      const secret = r.type === "slack" ? r.url : newWebhookSecret();
      const sealed = await sealSecret(env, t.tenant_id, r.id, secret);
      if (!sealed.ok) throw new Error(sealed.detail);
      await insertChannel(
        env.DB,
        t.tenant_id,
        {
          id: r.id,
          type: r.type,
          name: r.id,
          config: { url: r.type === "slack" ? "https://metadata.google.internal/…" : r.url },
          sealedSecret: sealed.value,
          linkBase: "http://aforo.test",
          enabled: true,
        },
        20,
        now,
      );
    }
    const signal = await storeSignal(t.tenant_id, anomalySignal());
    const deliveries = await deliveriesOf(t.tenant_id, signal.id);
    expect(deliveries).toHaveLength(3);

    const fetched = spyOnFetch();
    let result: Awaited<ReturnType<typeof runConsumer>>;
    try {
      result = await runConsumer(
        t.tenant_id,
        deliveries.map((d) => d.id),
        { env: { ...env, AFORO_LOCAL_NETWORK: undefined } as unknown as Env },
      );
    } finally {
      fetched.restore();
    }
    expect(fetched.urls).toEqual([]);
    // Permanent: acknowledged, never retried.
    expect(result.retryMessages).toEqual([]);
    expect(result.explicitAcks).toHaveLength(3);
    const after = await deliveriesOf(t.tenant_id, signal.id);
    for (const r of rows) {
      const d = after.find((x) => x.channel_id === r.id);
      expect(d?.status, r.id).toBe("dead");
      expect(d?.last_error, r.id).toContain(r.why);
      expect(d?.last_error, r.id).toContain("refused");
    }
    // The Slack URL is a credential: the recorded reason names the host, not the URL.
    const slack = after.find((x) => x.channel_id === "ch_gcp");
    expect(slack?.last_error).not.toContain("computeMetadata");
    expect(await hook.log()).toEqual([]);

    // The test button goes through the same guard.
    const tested = spyOnFetch();
    try {
      const res = await call("POST", "/api/channels/ch_meta/test", { token: t.operator_token });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ ok: false, status: null });
      expect(res.body.error).toContain("metadata");
    } finally {
      tested.restore();
    }
    expect(tested.urls).toEqual([]);
  });
});

// ------------------------------------------------------------------------------------------------

describe("the proxy (defect 4)", () => {
  const receiver = () => `http://127.0.0.1:${inject("receiverPort")}`;

  async function proxyTenant(origin: string) {
    const t = await createTenant("Proxy");
    const token = t.operator_token;
    await call("POST", "/api/products", { token, body: { id: "api", name: "API" } });
    await call("POST", "/api/products/api/metrics", { token, body: { id: "calls", unit: "call" } });
    await call("POST", "/api/customers", { token, body: { id: "acme", name: "Acme" } });
    const set = await call("PATCH", "/api/products/api", {
      token,
      body: { proxy: { origin, metric: "calls" } },
    });
    expect(set.status, JSON.stringify(set.body)).toBe(200);
    return t;
  }

  it("forwards only the allowed headers: no Aforo key, cookie or Aforo header reaches the origin", async () => {
    const t = await proxyTenant(`${receiver()}/hooks`);
    const hook = newHook("proxy-headers");
    const res = await call("POST", `/v1/proxy/api/${hook.name}?q=1`, {
      token: t.ingest_key,
      body: { prompt: "hello" },
      headers: {
        "x-api-key": t.ingest_key,
        cookie: "aforo_session=s3cr3t; theme=dark",
        "x-aforo-customer": "acme",
        "x-aforo-trace": "1",
        "proxy-authorization": "Basic dXNlcjpwYXNz",
        "x-forwarded-for": "10.0.0.1",
        "x-session-token": "abc",
        "x-note": `see ${t.ingest_key}`,
        forwarded: "for=10.0.0.1",
        "x-request-id": "req-123",
        accept: "application/json",
        "accept-language": "fr-CH",
        "user-agent": "gateway/1.0",
        "idempotency-key": "idem-1",
        traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "x-model": "large",
      },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const [seen] = await hook.log();
    expect(seen?.path).toBe(`/hooks/${hook.name}`);
    expect(seen?.body).toBe('{"prompt":"hello"}');
    const headers = seen?.headers ?? {};
    for (const name of [
      "authorization",
      "x-api-key",
      "cookie",
      "x-aforo-customer",
      "x-aforo-trace",
      "proxy-authorization",
      "x-forwarded-for",
      "x-session-token",
      "x-note",
      "forwarded",
    ]) {
      expect(headers[name], name).toBeUndefined();
    }
    expect(JSON.stringify(headers)).not.toContain("aforo_");
    expect(headers).toMatchObject({
      "content-type": "application/json",
      "x-request-id": "req-123",
      accept: "application/json",
      "accept-language": "fr-CH",
      "user-agent": "gateway/1.0",
      "idempotency-key": "idem-1",
      traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
      "x-model": "large",
    });
  });

  it("keeps the whole path after the product, even when it repeats the prefix", async () => {
    const t = await proxyTenant(`${receiver()}/hooks`);
    const fetched = spyOnFetch();
    try {
      const res = await call("GET", "/v1/proxy/api/v1/proxy/api/x?y=2", {
        token: t.ingest_key,
        headers: { "x-aforo-customer": "acme" },
      });
      expect(res.status).toBe(200);
    } finally {
      fetched.restore();
    }
    expect(fetched.urls).toEqual([`${receiver()}/hooks/v1/proxy/api/x?y=2`]);
  });

  it("drops the origin's cookies and site-data orders; Aforo's security headers apply", async () => {
    const t = await proxyTenant(`${receiver()}/hooks`);
    const spy = vi.spyOn(globalThis, "fetch").mockImplementation(async () => {
      const headers = new Headers({
        "content-type": "text/html",
        "x-origin": "kept",
        "clear-site-data": '"*"',
        "content-security-policy": "default-src *",
      });
      headers.append("set-cookie", "sid=origin; Path=/");
      headers.append("set-cookie", "other=1; Path=/api");
      return new Response("<script>alert(1)</script>", { status: 201, headers });
    });
    let res: Response;
    try {
      res = await exports.default.fetch("http://aforo.test/v1/proxy/api/page", {
        headers: { authorization: `Bearer ${t.ingest_key}`, "x-aforo-customer": "acme" },
      });
    } finally {
      spy.mockRestore();
    }
    expect(res.status).toBe(201);
    expect(await res.text()).toBe("<script>alert(1)</script>");
    expect(res.headers.get("x-origin")).toBe("kept");
    expect(res.headers.get("set-cookie")).toBeNull();
    expect(res.headers.getSetCookie()).toEqual([]);
    expect(res.headers.get("clear-site-data")).toBeNull();
    // The origin's page cannot run as Aforo's origin (where the dashboard keeps its token).
    expect(res.headers.get("content-security-policy")).toContain("sandbox");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  });

  it("refuses a plain-http or private origin when it is set; loopback only in local mode", async () => {
    const t = await proxyTenant("https://api.example.com/base");
    const patch = (origin: string) =>
      call("PATCH", "/api/products/api", {
        token: t.operator_token,
        body: { proxy: { origin, metric: "calls" } },
      });
    for (const [origin, why] of [
      ["http://api.example.com", "use https"],
      ["https://169.254.169.254/latest", "metadata"],
      ["https://192.168.0.10", "private"],
      ["https://api.example.com/v1?key=1", "query"],
    ]) {
      const res = await patch(origin as string);
      expectProblem(res, 400, "validation_failed");
      const error = res.body.errors.find((e: { path: string }) => e.path === "proxy.origin");
      expect(error?.message, `${origin}: ${JSON.stringify(res.body)}`).toContain(why);
    }
    const product = await call("GET", "/api/products/api", { token: t.operator_token });
    expect(product.body.proxy.origin).toBe("https://api.example.com/base");
    expect((await patch("http://127.0.0.1:9")).status).toBe(200);
    const { app } = await import("../../workers/index");
    const deployed = await app.request(
      "/api/products/api",
      {
        method: "PATCH",
        headers: {
          authorization: `Bearer ${t.operator_token}`,
          "content-type": "application/json",
        },
        body: JSON.stringify({ proxy: { origin: "http://127.0.0.1:9", metric: "calls" } }),
      },
      { ...env, AFORO_LOCAL_NETWORK: undefined },
      createExecutionContext(),
    );
    expect(deployed.status).toBe(400);
  });

  it("re-checks a stored origin at proxy time: refused, not fetched, not metered", async () => {
    const t = await proxyTenant("https://api.example.com");
    // A row written before the rule existed.
    await env.DB.prepare("UPDATE products SET proxy_origin = ? WHERE tenant_id = ? AND id = 'api'")
      .bind("http://169.254.169.254/latest", t.tenant_id)
      .run();
    const fetched = spyOnFetch();
    let res: Call;
    try {
      res = await call("GET", "/v1/proxy/api/meta-data/iam", {
        token: t.ingest_key,
        headers: { "x-aforo-customer": "acme" },
      });
    } finally {
      fetched.restore();
    }
    expectProblem(res, 409, "conflict");
    expect(res.body.detail).toContain("metadata");
    expect(fetched.urls).toEqual([]);
    const events = await call("GET", "/api/customers/acme/events", { token: t.operator_token });
    expect(events.body.data).toEqual([]);
  });

  it("answers 502 upstream_failed, not 500, when the origin cannot be reached, and meters nothing", async () => {
    // A loopback port nothing listens on (loopback is allowed in local mode, as in the tests).
    const t = await proxyTenant("http://127.0.0.1:9");
    const res = await call("GET", "/v1/proxy/api/anything", {
      token: t.ingest_key,
      headers: { "x-aforo-customer": "acme" },
    });
    expectProblem(res, 502, "upstream_failed");
    expect(res.body.detail).toMatch(/could not be reached/);
    const events = await call("GET", "/api/customers/acme/events", { token: t.operator_token });
    expect(events.body.data).toEqual([]);
  });
});

// ------------------------------------------------------------------------------------------------

describe("body limits and security headers (defect 6)", () => {
  const MiB = 1024 * 1024;

  /** A body of `total` bytes streamed in 64 KiB chunks (no content-length), counting what the
   * worker actually pulled. */
  function streamedBody(total: number) {
    const chunk = new TextEncoder().encode(`"${"x".repeat(64 * 1024 - 2)}"`);
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (pulled >= total) return controller.close();
        pulled += chunk.length;
        controller.enqueue(chunk);
      },
    });
    return { body, pulled: () => pulled };
  }

  async function send(path: string, token: string, body: BodyInit, type = "application/json") {
    const res = await exports.default.fetch(`http://aforo.test${path}`, {
      method: path.startsWith("/api/cost-catalog") ? "PUT" : "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": type },
      body,
    });
    const text = await res.text();
    return {
      status: res.status,
      contentType: res.headers.get("content-type") ?? "",
      body: text.startsWith("{") ? JSON.parse(text) : text,
    };
  }

  const bigJson = (bytes: number) => JSON.stringify({ id: "big", name: "x".repeat(bytes) });

  it("refuses a body over 1 MiB on /api/* and /admin/* with 413 problem+json", async () => {
    for (const [path, token] of [
      ["/api/products", tenant.operator_token],
      ["/admin/tenants", ADMIN_TOKEN],
    ] as const) {
      const res = await send(path, token, bigJson(2 * MiB));
      expectProblem(res, 413, "payload_too_large");
      expect(res.body.detail).toContain("1 MiB");
    }
  });

  it("refuses a streamed 60 MB body after reading about 1 MiB of it, on /api and /v1/events", async () => {
    for (const [path, token] of [
      ["/api/products", tenant.operator_token],
      ["/admin/tenants", ADMIN_TOKEN],
      ["/v1/events", tenant.ingest_key],
    ] as const) {
      const stream = streamedBody(60 * MiB);
      const res = await send(path, token, stream.body);
      expectProblem(res, 413, "payload_too_large");
      expect(stream.pulled(), path).toBeLessThan(3 * MiB);
    }
  });

  it("refuses a gate check over 64 KiB", async () => {
    const res = await send(
      "/v1/gate",
      tenant.ingest_key,
      JSON.stringify({ customer: "acme", pad: "x".repeat(70 * 1024) }),
    );
    expectProblem(res, 413, "payload_too_large");
  });

  it("still takes the largest legitimate request: a 500-entry cost catalog", async () => {
    const t = await createTenant("Catalog");
    const long = (i: number) => `${i}`.padEnd(128, "m");
    const entries = Array.from({ length: 500 }, (_, i) => ({
      provider: long(i),
      model: long(i),
      input_per_million: "1234567890123456789012345678.9012345678",
      output_per_million: "1234567890123456789012345678.9012345678",
      cached_input_per_million: "1234567890123456789012345678.9012345678",
      per_call: "1234567890123456789012345678.9012345678",
      effective_from: "2026-01-01T00:00:00.000Z",
    }));
    const body = JSON.stringify(entries);
    expect(body.length).toBeGreaterThan(250_000);
    const res = await send("/api/cost-catalog", t.operator_token, body);
    expect(res.status, JSON.stringify(res.body).slice(0, 300)).not.toBe(413);
  });

  const SECURITY = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
  };

  it("puts security headers on every worker response, errors included; HSTS only over https", async () => {
    const responses: [string, Response][] = [];
    const get = async (url: string, init: RequestInit = {}) => {
      responses.push([`${init.method ?? "GET"} ${url}`, await exports.default.fetch(url, init)]);
    };
    const auth = { authorization: `Bearer ${tenant.operator_token}` };
    await get("http://aforo.test/healthz");
    await get("http://aforo.test/openapi.json");
    await get("http://aforo.test/api/products", { headers: auth });
    await get("http://aforo.test/api/products"); // 401
    await get("http://aforo.test/api/nope", { headers: auth }); // 404
    await get("http://aforo.test/api/products?limit=0", { headers: auth }); // 400
    await get("http://aforo.test/api/products", {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: bigJson(2 * MiB),
    }); // 413
    await get("http://aforo.test/v1/gate", {
      method: "POST",
      headers: { authorization: `Bearer ${tenant.ingest_key}`, "content-type": "application/json" },
      body: JSON.stringify({ customer: "acme" }),
    });
    const statuses = responses.map(([, r]) => r.status);
    expect(statuses).toEqual([200, 200, 200, 401, 404, 400, 413, 200]);
    for (const [what, res] of responses) {
      await res.body?.cancel();
      for (const [name, value] of Object.entries(SECURITY)) {
        expect(res.headers.get(name), `${what} ${name}`).toBe(value);
      }
      const csp = res.headers.get("content-security-policy") ?? "";
      expect(csp, what).toContain("default-src 'none'");
      expect(csp, what).toContain("frame-ancestors 'none'");
      expect(csp, what).toContain("sandbox");
      expect(res.headers.get("strict-transport-security"), what).toBeNull();
    }
    const https = await exports.default.fetch("https://aforo.example/healthz");
    await https.body?.cancel();
    expect(https.headers.get("strict-transport-security")).toBe(
      "max-age=31536000; includeSubDomains",
    );
    expect(https.headers.get("x-content-type-options")).toBe("nosniff");
  });
});
