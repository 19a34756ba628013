import { createExecutionContext, env } from "cloudflare:test";
import { beforeAll, describe, expect, it, vi } from "vitest";
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
import { type Call, call, createTenant, expectProblem, type Tenant } from "./helpers";

// Edge hardening (issue 11, defects 3–6): cursors validated on every paginated route, the
// proxy's header policy and origin rule, the outbound-URL guard on channels and sends, body
// limits and security headers. Each block failed before its fix.

let tenant: Tenant;

beforeAll(async () => {
  tenant = await createTenant("Edge");
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
    const doc = (await call("GET", "/openapi.json")).body as {
      paths: Record<string, Record<string, { parameters?: { name: string; in: string }[] }>>;
    };
    const routes: string[] = [];
    for (const [path, ops] of Object.entries(doc.paths)) {
      const params = ops.get?.parameters ?? [];
      if (!params.some((p) => p.in === "query" && p.name === "cursor")) continue;
      const filled = path.replaceAll(/\{[^}]+\}/g, "acme");
      if (filled === "/api/signals")
        routes.push(`${filled}?sort=magnitude&`, `${filled}?sort=time&`);
      else routes.push(`${filled}?`);
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
