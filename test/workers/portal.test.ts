import { env, exports } from "cloudflare:workers";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { projectToPeriodEnd } from "../../domain/portal/advisor";
import { sha256Hex } from "../../workers/auth";
import { say, scriptKey } from "../messages-api/client";
import { monthStart, settle, tokens } from "./billing-helpers";
import { call, createTenant, expectProblem, type Tenant } from "./helpers";

// The customer portal (issue 19 §5, docs/portal.md): an operator makes a session for one
// customer, the link moves its token into a cookie and redirects, and the portal shows that
// customer's subscriptions, usage (equal to the rollups), invoices (equal to GET /api/invoices)
// and keys — nothing of another customer, in the same tenant or another — until the session
// expires or is revoked, which takes effect on the very next request.

let tenant: Tenant;
let other: Tenant;
const NOW = Date.now();
const PERIOD_START = monthStart(NOW);
/** Inside this period and not in the future: this period's events. */
const IN_PERIOD = Math.max(PERIOD_START, NOW - 60_000);

const op = (t: Tenant = tenant) => ({ token: t.operator_token });

async function raw(path: string, init: RequestInit = {}, origin = "http://aforo.test") {
  return exports.default.fetch(`${origin}${path}`, { redirect: "manual", ...init });
}

/** Creates a session and opens its link: the cookie header the browser would send back. */
async function openPortal(customer: string, t: Tenant = tenant, body: object = {}) {
  const made = await call("POST", "/api/portal/sessions", {
    ...op(t),
    body: { customer, ...body },
  });
  expect(made.status, JSON.stringify(made.body)).toBe(201);
  const url = new URL(made.body.url);
  const token = url.pathname.split("/")[2] ?? "";
  const opened = await raw(url.pathname);
  expect(opened.status).toBe(303);
  expect(opened.headers.get("location")).toBe("/portal");
  const setCookie = opened.headers.get("set-cookie") ?? "";
  const cookie = setCookie.split(";")[0] ?? "";
  return { session: made.body, token, setCookie, cookie };
}

const overview = (cookie: string, query = "") =>
  call("GET", `/portal/api/overview${query}`, { headers: { cookie } });

async function seedTenant(t: Tenant, prefix: string) {
  const o = op(t);
  const post = async (path: string, body: unknown) => {
    const res = await call("POST", path, { ...o, body });
    if (res.status !== 201 && res.status !== 200) {
      throw new Error(`${path}: ${res.status} ${JSON.stringify(res.body)}`);
    }
    return res.body;
  };
  await post("/api/products", { id: "chat-api", name: "Chat API" });
  await post("/api/products/chat-api/metrics", { id: "input_tokens", unit: "token" });
  await post("/api/plans", {
    id: "starter",
    product: "chat-api",
    name: `${prefix} Starter`,
    currency: "USD",
    period: "month",
    components: [
      { type: "flat", amount: "49" },
      { type: "included", metric: "input_tokens", quantity: "1000000" },
      { type: "per_unit", metric: "input_tokens", unit_price: "0.000002" },
    ],
  });
  // The Usage Advisor's alternative: dearer up front, far more included.
  await post("/api/plans", {
    id: "growth",
    product: "chat-api",
    name: `${prefix} Growth`,
    currency: "USD",
    period: "month",
    components: [
      { type: "flat", amount: "99" },
      { type: "included", metric: "input_tokens", quantity: "50000000" },
      { type: "per_unit", metric: "input_tokens", unit_price: "0.000001" },
    ],
  });
  await post("/api/customers", { id: "acme", name: `${prefix} Acme Corp` });
  await post("/api/customers", { id: "initech", name: `${prefix} Initech` });
  await post("/api/customers", { id: "hooli", name: `${prefix} Hooli` });
  await post("/api/customers", { id: "globex", name: `${prefix} Globex Inc` });
  const start = new Date(monthStart(NOW, -1)).toISOString();
  for (const c of ["acme", "globex", "initech", "hooli"]) {
    await post("/api/subscriptions", { customer: c, plan: "starter", start });
  }
  const keys = {
    acme: await post("/api/customers/acme/api-keys", {
      name: `${prefix} Acme production`,
      quota: { metric: "input_tokens", limit: "500000", period: "month" },
    }),
    globex: await post("/api/customers/globex/api-keys", { name: `${prefix} Globex key` }),
  };
  // Acme: 300,000 tokens this period, 120,000 of them with its key; Globex: 777,777.
  const events = [
    tokens("acme", IN_PERIOD, 180_000),
    tokens("acme", IN_PERIOD, 120_000, { api_key: keys.acme.key }),
    tokens("globex", IN_PERIOD, 777_777, { api_key: keys.globex.key }),
    // 30,000,000 already: over Starter's 1,000,000 whatever the day of the month.
    tokens("initech", IN_PERIOD, 30_000_000, { properties: { endpoint: "/v1/chat" } }),
  ];
  const res = await call("POST", "/v1/events", { token: t.ingest_key, body: events });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expect(res.body.rejected).toEqual([]);
  await settle(t, ["acme", "globex", "initech"], 4);
  // Last month's invoices (the subscriptions started then).
  await post("/api/invoices/run", {});
  return keys;
}

let keys: Awaited<ReturnType<typeof seedTenant>>;
let otherKeys: Awaited<ReturnType<typeof seedTenant>>;

beforeAll(async () => {
  tenant = await createTenant("Portal AI");
  other = await createTenant("Portal Elsewhere");
  keys = await seedTenant(tenant, "Alpha");
  otherKeys = await seedTenant(other, "Bravo");
}, 60_000);

describe("POST /api/portal/sessions", () => {
  it("answers a URL whose token is stored only as its SHA-256, expiring in 60 minutes by default", async () => {
    const res = await call("POST", "/api/portal/sessions", { ...op(), body: { customer: "acme" } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.url).toMatch(/^http:\/\/aforo\.test\/portal\/ps_[A-Za-z0-9_-]{43}$/);
    const expires = Date.parse(res.body.expires_at);
    const created = Date.parse(res.body.created_at);
    expect(expires - created).toBe(3600 * 1000);
    const token = res.body.url.split("/").pop();
    const row = await env.DB.prepare("SELECT * FROM portal_sessions WHERE tenant_id = ? AND id = ?")
      .bind(tenant.tenant_id, res.body.id)
      .first<Record<string, unknown>>();
    expect(row).toMatchObject({
      customer_id: "acme",
      token_hash: await sha256Hex(token),
      created_by: expect.stringMatching(/^token:/),
      revoked_at: null,
    });
    expect(JSON.stringify(row)).not.toContain(token.slice(3));
    const audit = await env.DB.prepare(
      "SELECT action, detail FROM audit_log WHERE tenant_id = ? AND action = 'portal_session.create'",
    )
      .bind(tenant.tenant_id)
      .first<{ action: string; detail: string }>();
    expect(audit?.action).toBe("portal_session.create");
    expect(audit?.detail).not.toContain(token.slice(3));
  });

  it("takes expires_in in seconds", async () => {
    const res = await call("POST", "/api/portal/sessions", {
      ...op(),
      body: { customer: "acme", expires_in: 120 },
    });
    expect(res.status).toBe(201);
    expect(Date.parse(res.body.expires_at) - Date.parse(res.body.created_at)).toBe(120_000);
  });

  it("validates: expires_in from 60 to 86,400, no unknown fields, a customer that exists", async () => {
    for (const body of [
      { customer: "acme", expires_in: 59 },
      { customer: "acme", expires_in: 86_401 },
      { customer: "acme", expires_in: 90.5 },
      { customer: "acme", expires_in: "3600" },
      { customer: "acme", tenant: other.tenant_id },
      {},
    ]) {
      const res = await call("POST", "/api/portal/sessions", { ...op(), body });
      expectProblem(res, 400, "validation_failed");
    }
    expectProblem(
      await call("POST", "/api/portal/sessions", { ...op(), body: { customer: "umbrella" } }),
      404,
      "not_found",
    );
    // Another tenant's customer ids are unknown here, even when the name is the same.
    const elsewhere = await call("POST", "/api/portal/sessions", {
      ...op(other),
      body: { customer: "nobody-here" },
    });
    expectProblem(elsewhere, 404, "not_found");
  });

  it("needs an operator credential and customers:write", async () => {
    expectProblem(
      await call("POST", "/api/portal/sessions", { body: { customer: "acme" } }),
      401,
      "unauthorized",
    );
    expectProblem(
      await call("POST", "/api/portal/sessions", {
        token: tenant.ingest_key,
        body: { customer: "acme" },
      }),
      403,
      "wrong_key_kind",
    );
    const viewer = await call("POST", "/api/keys", {
      ...op(),
      body: { kind: "operator", name: "viewer", role: "viewer" },
    });
    expect(viewer.status, JSON.stringify(viewer.body)).toBe(201);
    expectProblem(
      await call("POST", "/api/portal/sessions", {
        token: viewer.body.key,
        body: { customer: "acme" },
      }),
      403,
      "forbidden",
    );
    // Reading the sessions is a read: they carry no link.
    const list = await call("GET", "/api/portal/sessions", { token: viewer.body.key });
    expect(list.status).toBe(200);
  });
});

describe("opening the link", () => {
  it("moves the token into an HttpOnly, SameSite=Lax cookie on /portal and redirects 303", async () => {
    const { setCookie, token } = await openPortal("acme");
    expect(setCookie).toContain(`aforo_portal=${token}`);
    expect(setCookie).toMatch(/Path=\/portal/);
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Lax/);
    expect(setCookie).not.toMatch(/Secure/);
    expect(setCookie).toMatch(/Max-Age=(3599|3600)/);
  });

  it("marks the cookie Secure over https", async () => {
    const made = await call("POST", "/api/portal/sessions", {
      ...op(),
      body: { customer: "acme" },
    });
    const path = new URL(made.body.url).pathname;
    const opened = await raw(path, {}, "https://aforo.test");
    expect(opened.status).toBe(303);
    expect(opened.headers.get("set-cookie")).toMatch(/Secure/);
  });

  it("serves the branded page at /portal with the customer's figures, under a nonce CSP", async () => {
    const { cookie } = await openPortal("acme");
    const page = await raw("/portal", { headers: { cookie } });
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/text\/html/);
    expect(page.headers.get("cache-control")).toBe("private, no-store");
    const csp = page.headers.get("content-security-policy") ?? "";
    expect(csp).toMatch(/style-src 'nonce-[0-9a-f]{32}'/);
    expect(csp).not.toContain("unsafe-inline");
    const html = await page.text();
    expect(html).toContain("Alpha Acme Corp");
    expect(html).toContain("Alpha Starter");
    expect(html).toContain("$49 a month");
    expect(html).toContain("300,000");
    expect(html).toContain("Alpha Acme production");
    expect(html).not.toContain("Globex");
  });

  it("refuses a malformed, unknown or tampered token with the same plain page, 410", async () => {
    const { token } = await openPortal("acme");
    const flipped = `${token.slice(0, -1)}${token.endsWith("A") ? "B" : "A"}`;
    const bodies = new Set<string>();
    for (const t of ["nope", `ps_${"A".repeat(43)}`, flipped, `${token}x`]) {
      const res = await raw(`/portal/${t}`);
      expect(res.status, t).toBe(410);
      expect(res.headers.get("set-cookie") ?? "").not.toContain(token);
      const html = await res.text();
      expect(html).toContain("This link has expired");
      bodies.add(html.replace(/nonce="[0-9a-f]+"/, ""));
    }
    expect(bodies.size).toBe(1);
  });
});

describe("GET /portal/api/overview", () => {
  it("shows the session's customer: subscriptions, usage equal to the rollups, the projection", async () => {
    const { cookie } = await openPortal("acme");
    const res = await overview(cookie);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const o = res.body;
    expect(o.customer).toEqual({ id: "acme", name: "Alpha Acme Corp" });
    expect(o.brand.name).toBe("Portal AI");
    expect(o.subscriptions).toHaveLength(1);
    const sub = o.subscriptions[0];
    expect(sub.plan).toMatchObject({
      id: "starter",
      name: "Alpha Starter",
      headline: "$49 a month",
      lines: ["includes 1,000,000 tokens a month", "then $2 per 1M tokens"],
    });
    expect(sub.period.start).toBe(new Date(PERIOD_START).toISOString());
    // Usage this period equals the operator's rollups for the customer and metric.
    const rollups = await call(
      "GET",
      `/api/rollups?group_by=customer,metric&granularity=hour&customer=acme&from=${new Date(PERIOD_START).toISOString()}`,
      op(),
    );
    const rolled = rollups.body.data
      .filter((r: { metric: string }) => r.metric === "input_tokens")
      .reduce((a: bigint, r: { units: string }) => a + BigInt(r.units), 0n);
    expect(rolled).toBe(300_000n);
    const line = sub.usage.find((u: { metric: string }) => u.metric === "input_tokens");
    expect(line).toMatchObject({
      used: "300000",
      included: "1000000",
      percent_of_included: 30,
      unit: "token",
      method: { name: "linear" },
    });
    // The run rate to period end (hand computation: used × period ÷ elapsed, to the unit).
    const periodEnd = Date.parse(sub.period.end);
    const at = Date.parse(o.generated_at);
    const expected = Math.round((300_000 * (periodEnd - PERIOD_START)) / (at - PERIOD_START));
    expect(Number(line.projection)).toBeCloseTo(Math.max(expected, 300_000), -1);
    expect(line.method.description).toMatch(/^At this period's pace so far: 300,000 tokens in/);
  });

  it("lists the invoices exactly as GET /api/invoices does for that customer", async () => {
    const { cookie } = await openPortal("acme");
    const o = (await overview(cookie)).body;
    const listed = await call("GET", "/api/invoices?customer=acme", op());
    expect(listed.body.data.length).toBeGreaterThan(0);
    expect(o.invoices).toEqual(
      listed.body.data.map((i: Record<string, unknown>) => ({
        id: i.id,
        subscription: i.subscription,
        product: i.product,
        currency: i.currency,
        status: i.status,
        period: i.period,
        total: i.total,
        amount_due: i.amount_due,
        due_at: i.due_at,
      })),
    );
    expect(o.invoices[0].total).toBe("49.00");
  });

  it("lists the customer's keys with their usage, as the keys API, without who issued them", async () => {
    const { cookie } = await openPortal("acme");
    const o = (await overview(cookie)).body;
    const listed = await call("GET", "/api/customers/acme/api-keys", op());
    expect(o.api_keys).toEqual(
      listed.body.data.map(({ created_by: _, ...k }: Record<string, unknown>) => k),
    );
    expect(o.api_keys[0]).toMatchObject({
      id: keys.acme.id,
      prefix: keys.acme.prefix,
      quota_used: { used: "120000", limit: "500000", percent_used: 24 },
    });
    expect(JSON.stringify(o)).not.toContain("token:");
  });

  it("carries nothing of the operator: no costs, revenue, margins or signals", async () => {
    const { cookie } = await openPortal("acme");
    const text = JSON.stringify((await overview(cookie)).body);
    for (const word of ["cost", "revenue", "margin", "cogs", "signal", "created_by"]) {
      expect(text.toLowerCase(), word).not.toContain(`"${word}`);
    }
  });
});

describe("isolation", () => {
  /** Everything of tenant's Globex and of the other tenant that must never show to Acme. */
  const forbidden = () => [
    "Globex",
    "globex",
    "777777",
    keys.globex.id,
    keys.globex.prefix,
    "Bravo",
    otherKeys.acme.id,
    otherKeys.acme.prefix,
    other.tenant_id,
  ];

  it("a session of Acme never shows Globex's data, whatever the query names", async () => {
    const { cookie } = await openPortal("acme");
    const globexInvoices = (await call("GET", "/api/invoices?customer=globex", op())).body.data;
    const secrets = [...forbidden(), ...globexInvoices.map((i: { id: string }) => i.id)];
    for (const query of [
      "",
      "?customer=globex",
      `?tenant=${other.tenant_id}`,
      `?customer=globex&key=${keys.globex.id}`,
    ]) {
      const res = await overview(cookie, query);
      expect(res.status).toBe(200);
      expect(res.body.customer.id).toBe("acme");
      const text = JSON.stringify(res.body);
      for (const s of secrets) expect(text, `${query} leaked ${s}`).not.toContain(s);
    }
    const page = await (await raw("/portal?customer=globex", { headers: { cookie } })).text();
    for (const s of secrets) expect(page, `the page leaked ${s}`).not.toContain(s);
  });

  it("a session of the other tenant's Acme shows that tenant's Acme only", async () => {
    const { cookie } = await openPortal("acme", other);
    const o = (await overview(cookie)).body;
    expect(o.customer).toEqual({ id: "acme", name: "Bravo Acme Corp" });
    expect(o.api_keys.map((k: { id: string }) => k.id)).toEqual([otherKeys.acme.id]);
    const text = JSON.stringify(o);
    for (const s of ["Alpha", keys.acme.id, keys.acme.prefix, tenant.tenant_id]) {
      expect(text).not.toContain(s);
    }
  });

  it("refuses forged, tampered and foreign credentials with 401", async () => {
    const { token } = await openPortal("acme");
    const flipped = `${token.slice(0, 10)}${token[10] === "A" ? "B" : "A"}${token.slice(11)}`;
    const attempts: Record<string, string>[] = [
      {},
      { cookie: `aforo_portal=ps_${"A".repeat(43)}` },
      { cookie: `aforo_portal=${flipped}` },
      { cookie: `aforo_portal=${token.toUpperCase()}` },
      { cookie: "aforo_portal=" },
      // A portal token is not an operator credential, nor the other way round.
      { authorization: `Bearer ${token}` },
      { authorization: `Bearer ${tenant.operator_token}` },
      { cookie: `aforo_portal=${tenant.operator_token}` },
      { cookie: `aforo_session=${token}` },
    ];
    for (const headers of attempts) {
      const res = await call("GET", "/portal/api/overview", { headers });
      expectProblem(res, 401, "unauthorized");
      const page = await raw("/portal", { headers });
      expect(page.status, JSON.stringify(headers)).toBe(401);
      expect(await page.text()).toContain("This link has expired");
    }
    // The portal token opens nothing of the operator API.
    expectProblem(await call("GET", "/api/customers", { token }), 401, "unauthorized");
  });

  it("the other tenant cannot list, revoke or read this tenant's sessions", async () => {
    const { session, cookie } = await openPortal("acme");
    const list = await call("GET", "/api/portal/sessions", op(other));
    expect(list.body.data.map((s: { id: string }) => s.id)).not.toContain(session.id);
    const listAcme = await call("GET", "/api/portal/sessions?customer=acme", op(other));
    expect(listAcme.body.data.map((s: { id: string }) => s.id)).not.toContain(session.id);
    expectProblem(
      await call("POST", `/api/portal/sessions/${session.id}/revoke`, op(other)),
      404,
      "not_found",
    );
    expect((await overview(cookie)).status).toBe(200);
  });
});

describe("expiry and revocation", () => {
  it("stops at expiry, at once: the page, the API and the link", async () => {
    const { session, token, cookie } = await openPortal("acme", tenant, { expires_in: 60 });
    expect((await overview(cookie)).status).toBe(200);
    await env.DB.prepare("UPDATE portal_sessions SET expires_at = ? WHERE tenant_id = ? AND id = ?")
      .bind(Date.now() - 1, tenant.tenant_id, session.id)
      .run();
    expectProblem(await overview(cookie), 401, "unauthorized");
    const page = await raw("/portal", { headers: { cookie } });
    expect(page.status).toBe(401);
    // The dead cookie is cleared.
    expect(page.headers.get("set-cookie")).toMatch(/aforo_portal=;.*Max-Age=0/);
    expect((await raw(`/portal/${token}`)).status).toBe(410);
    const listed = await call("GET", "/api/portal/sessions?customer=acme", op());
    const row = listed.body.data.find((s: { id: string }) => s.id === session.id);
    expect(row.status).toBe("expired");
  });

  it("stops when revoked, at once; revoking twice keeps the first revocation", async () => {
    const { session, token, cookie } = await openPortal("acme");
    expect((await overview(cookie)).status).toBe(200);
    const revoked = await call("POST", `/api/portal/sessions/${session.id}/revoke`, op());
    expect(revoked.status, JSON.stringify(revoked.body)).toBe(200);
    expect(revoked.body).toMatchObject({ id: session.id, customer: "acme", status: "revoked" });
    expectProblem(await overview(cookie), 401, "unauthorized");
    expect((await raw(`/portal/${token}`)).status).toBe(410);
    const again = await call("POST", `/api/portal/sessions/${session.id}/revoke`, op());
    expect(again.body.revoked_at).toBe(revoked.body.revoked_at);
    expectProblem(
      await call("POST", "/api/portal/sessions/psn_nosuchsession/revoke", op()),
      404,
      "not_found",
    );
    const audit = await env.DB.prepare(
      "SELECT count(*) AS n FROM audit_log WHERE tenant_id = ? AND action = 'portal_session.revoke' AND target_id = ?",
    )
      .bind(tenant.tenant_id, session.id)
      .first<{ n: number }>();
    expect(audit?.n).toBeGreaterThanOrEqual(1);
  });
});

describe("POST /portal/api/advisor", () => {
  const messagesApi = () => `http://127.0.0.1:${inject("messagesApiPort")}`;
  const advise = (cookie: string, body: unknown = {}) =>
    call("POST", "/portal/api/advisor", { headers: { cookie }, body });

  it("stay: no usage, so the projection is within the plan and the plan's fee is the cost", async () => {
    const { cookie } = await openPortal("hooli");
    const res = await advise(cookie);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({
      verdict: "stay",
      plan: { id: "starter" },
      overshoot_percent: -100,
      current: { plan_id: "starter", cost: "49.00" },
      alternatives: [],
      narrative: { source: "template" },
    });
    expect(res.body.narrative.text).toContain(
      "your Alpha Starter plan fits, at $49 for the period",
    );
  });

  it("upgrade: the overshoot in percent and each plan's cost for the projected usage", async () => {
    const { cookie } = await openPortal("initech");
    const before = Date.now();
    const a = (await advise(cookie)).body;
    const after = Date.now();
    expect(a.verdict).toBe("upgrade");
    // By hand: 30,000,000 at the run rate to the answer's period end, as of a moment between
    // the request and the answer (the projection only shrinks as the period goes on).
    const period = { start: PERIOD_START, end: Date.parse(a.period.end) };
    const p = BigInt(a.projections[0].projected) * 1_000_000n;
    expect(p <= projectToPeriodEnd(30_000_000_000_000n, period, before)).toBe(true);
    expect(p >= projectToPeriodEnd(30_000_000_000_000n, period, after)).toBe(true);
    const units = BigInt(a.projections[0].projected);
    expect(a.overshoot_percent).toBe(Number(((units - 1_000_000n) * 10_000n) / 1_000_000n) / 100);
    // Starter: 49 + (P − 1,000,000) × 0.000002; Growth: 99 + max(0, P − 50,000,000) × 0.000001.
    // Micro-dollars to the cent, half up, as the pricing engine rounds a total.
    const dollars = (micro: bigint) => {
      const cents = (micro + 5_000n) / 10_000n;
      return `${cents / 100n}.${String(cents % 100n).padStart(2, "0")}`;
    };
    expect(a.current.cost).toBe(dollars(49_000_000n + (units - 1_000_000n) * 2n));
    const growth = 99_000_000n + (units > 50_000_000n ? units - 50_000_000n : 0n);
    expect(a.alternatives).toEqual([
      { plan_id: "growth", name: "Alpha Growth", cost: dollars(growth) },
    ]);
    expect(a.recommended.plan_id).toBe("growth");
    expect(a.method).toMatch(/^At this period's pace so far: 30,000,000 tokens in/);
    expect(a.narrative.text).toContain("Alpha Growth would cost");
  });

  it("words the advice with the tenant's AI, dropping a wording with a number of its own", async () => {
    const { cookie } = await openPortal("hooli");
    const key = `sk-ant-test-${crypto.randomUUID()}`;
    expect(
      (await call("PUT", "/api/ai/settings", { ...op(), body: { api_key: key } })).status,
    ).toBe(200);
    await scriptKey(messagesApi(), key, [
      say("Your usage fits your plan: stay on Alpha Starter for 49.00 this period."),
      say("Stay on Alpha Starter: it will cost 4.56 this period."),
    ]);
    const grounded = (await advise(cookie)).body;
    expect(grounded.narrative).toEqual({
      text: "Your usage fits your plan: stay on Alpha Starter for 49.00 this period.",
      source: "ai",
    });
    const invented = (await advise(cookie)).body;
    expect(invented.narrative.source).toBe("template");
    expect(invented.narrative.text).not.toContain("4.56");
    expect(
      (await call("PUT", "/api/ai/settings", { ...op(), body: { api_key: null } })).status,
    ).toBe(200);
  });

  it("only the session's customer: another's subscription id is 404, no session is 401", async () => {
    const { cookie } = await openPortal("acme");
    const subs = await call("GET", "/api/subscriptions?customer=globex", op());
    const globexSub = subs.body.data[0].id;
    const res = await advise(cookie, { subscription: globexSub });
    expectProblem(res, 404, "not_found");
    expect(JSON.stringify(res.body)).not.toContain("Globex");
    expectProblem(await advise(cookie, { customer: "globex" }), 400, "validation_failed");
    expectProblem(await advise("aforo_portal=nope"), 401, "unauthorized");
    expectProblem(await advise(""), 401, "unauthorized");
  });
});

describe("POST /portal/api/onboarding", () => {
  const messagesApi = () => `http://127.0.0.1:${inject("messagesApiPort")}`;
  const ask = (cookie: string, question: string) =>
    call("POST", "/portal/api/onboarding", { headers: { cookie }, body: { question } });

  it("with no key: cites the customer's own key, quota and usage, and links where to act", async () => {
    const { cookie } = await openPortal("acme");
    const shown = (await call("GET", "/api/customers/acme/api-keys", op())).body.data[0];
    const prefix = shown.prefix as string;
    const percent = shown.quota_used.percent_used as number;
    const quota = await ask(
      cookie,
      `How much of my sk_live_${prefix.slice(0, 3)} key's quota is used?`,
    );
    expect(quota.status, JSON.stringify(quota.body)).toBe(200);
    expect(quota.body).toMatchObject({ intent: "key_quota", source: "template", note: null });
    // The keys API's own figures: 120,000 of 500,000 tokens with Acme's key, 24%.
    expect(percent).toBe(24);
    expect(quota.body.text).toContain(
      `Your sk_live_${prefix}… (Alpha Acme production) key has used 24% of this month's quota: 120,000 of 500,000 tokens.`,
    );
    expect(quota.body.links[0]).toEqual({ label: "Your API keys", href: "/portal#keys" });

    const usage = await ask(cookie, "How much have I used this month?");
    expect(usage.body.intent).toBe("usage");
    expect(usage.body.text).toContain("On Alpha Starter you have used 300,000 tokens this period");
    expect(usage.body.text).toContain("30% of the 1,000,000 included");
    const plan = await ask(cookie, "What plan am I on?");
    expect(plan.body.text).toContain("You are on Alpha Starter (chat-api): $49 a month");
    // Nothing of another customer in any answer.
    for (const a of [quota, usage, plan]) expect(JSON.stringify(a.body)).not.toMatch(/Globex|777/);
  });

  it("with the tenant's AI: the model's wording when its numbers are the customer's, else the template", async () => {
    const { cookie } = await openPortal("acme");
    const key = `sk-ant-test-${crypto.randomUUID()}`;
    expect(
      (await call("PUT", "/api/ai/settings", { ...op(), body: { api_key: key } })).status,
    ).toBe(200);
    await scriptKey(messagesApi(), key, [
      say("You have used 24% of your key's monthly quota: 120,000 of 500,000 tokens."),
      say("You have used 61% of your quota, about 305,000 tokens."),
    ]);
    const worded = (await ask(cookie, "quota?")).body;
    expect(worded).toMatchObject({
      source: "ai",
      text: "You have used 24% of your key's monthly quota: 120,000 of 500,000 tokens.",
      intent: "key_quota",
    });
    const invented = (await ask(cookie, "quota?")).body;
    expect(invented.source).toBe("template");
    expect(invented.note).toContain("not in your setup");
    expect(invented.text).toContain("24% of this month's quota");
    expect(
      (await call("PUT", "/api/ai/settings", { ...op(), body: { api_key: null } })).status,
    ).toBe(200);
  });

  it("needs a live session and a question", async () => {
    const { cookie } = await openPortal("acme");
    expectProblem(
      await call("POST", "/portal/api/onboarding", { headers: { cookie }, body: {} }),
      400,
      "validation_failed",
    );
    expectProblem(await ask("aforo_portal=nope", "quota?"), 401, "unauthorized");
  });
});
