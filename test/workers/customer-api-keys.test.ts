import { env, exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { quotaWindow } from "../../domain/customer-api-keys";
import { sha256Hex } from "../../workers/auth";
import { DAY, settle, tokens } from "./billing-helpers";
import { call, createCatalog, createTenant, expectProblem, type Tenant } from "./helpers";

// Customer API keys (issue 19 §4): an operator issues a key to one customer (shown once, only its
// SHA-256 at rest), the gate and the proxy take it in place of the customer's id and decide for
// that customer, a revoked key is refused at once in the isolate that revoked it, a key over its
// quota is held back until its period ends, and events sent with a key are attributed to it,
// exactly, through the actor's outbox into the per-key usage.

let tenant: Tenant;
let other: Tenant;
const op = () => ({ token: tenant.operator_token });
const NOW = Date.now();

const issue = (customer: string, body: unknown = {}, t = tenant) =>
  call("POST", `/api/customers/${customer}/api-keys`, { token: t.operator_token, body });
const listKeys = (customer: string) => call("GET", `/api/customers/${customer}/api-keys`, op());
const gate = (body: unknown, t = tenant) => call("POST", "/v1/gate", { token: t.ingest_key, body });
const ingest = (events: unknown[]) =>
  call("POST", "/v1/events", { token: tenant.ingest_key, body: events });

/** Events settled so far into the tenant's rollups (settle waits for this many). */
let settled = 0;
async function sendAndSettle(events: unknown[], customers: string[]) {
  const res = await ingest(events);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expect(res.body.rejected).toEqual([]);
  settled += res.body.accepted;
  await settle(tenant, customers, settled);
}

beforeAll(async () => {
  tenant = await createTenant("Keys AI");
  other = await createTenant("Keys Elsewhere");
  await createCatalog(tenant);
  await createCatalog(other);
  await call("POST", "/api/customers", { ...op(), body: { id: "globex", name: "Globex" } });
  // Each customer its own gate policy, so a decision shows whose it is.
  for (const [id, rate, burst] of [
    ["acme", 50, 100],
    ["globex", 5, 10],
  ] as const) {
    const put = await call("PUT", "/api/policies", {
      ...op(),
      body: {
        scope: "customer",
        id,
        policy: { gate: { rate_per_second: rate, burst, throttled_rate_per_second: 1 } },
      },
    });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
  }
});

describe("issuing and listing", () => {
  it("shows the key once, keeps only its SHA-256, and audits the issue", async () => {
    const res = await issue("acme", { name: "Production" });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const key: string = res.body.key;
    expect(key).toMatch(/^sk_live_[A-Za-z0-9_-]{43}$/);
    expect(res.body).toMatchObject({
      customer: "acme",
      name: "Production",
      prefix: key.slice(8, 16),
      quota: null,
    });

    const row = await env.DB.prepare(
      "SELECT * FROM customer_api_keys WHERE tenant_id = ? AND id = ?",
    )
      .bind(tenant.tenant_id, res.body.id)
      .first<Record<string, unknown>>();
    expect(row?.key_hash).toBe(await sha256Hex(key));
    expect(row?.created_by).toMatch(/^token:/);
    // Nothing at rest holds the key or its secret part.
    expect(JSON.stringify(row)).not.toContain(key.slice(8));

    const listed = await listKeys("acme");
    expect(listed.status).toBe(200);
    const mine = listed.body.data.find((k: { id: string }) => k.id === res.body.id);
    expect(mine).toMatchObject({ name: "Production", prefix: key.slice(8, 16), revoked_at: null });
    expect(mine).not.toHaveProperty("key");
    expect(JSON.stringify(listed.body)).not.toContain(key.slice(8));

    const audit = await call("GET", "/api/audit?action=customer_key.issue", op());
    expect(audit.body.data[0]).toMatchObject({
      action: "customer_key.issue",
      target_id: "acme",
    });
    expect(JSON.stringify(audit.body)).not.toContain(key.slice(8));
  });

  it("refuses an unknown customer, another tenant's customer, an unknown quota metric and a bad body", async () => {
    expectProblem(await issue("nobody"), 404, "not_found");
    expectProblem(await listKeys("nobody"), 404, "not_found");
    await call("POST", "/api/customers", {
      token: other.operator_token,
      body: { id: "only-there", name: "Elsewhere" },
    });
    expectProblem(await issue("only-there"), 404, "not_found");
    expectProblem(
      await issue("acme", { quota: { metric: "no_such", limit: 10, period: "day" } }),
      400,
      "validation_failed",
    );
    expectProblem(
      await issue("acme", { quota: { metric: "input_tokens", limit: 10, period: "year" } }),
      400,
      "validation_failed",
    );
    expectProblem(await issue("acme", { secret: "x" }), 400, "validation_failed");
  });

  it("a viewer may list keys but not issue or revoke them", async () => {
    const viewer = await call("POST", "/api/keys", {
      ...op(),
      body: { kind: "operator", role: "viewer" },
    });
    expect(viewer.status).toBe(201);
    const asViewer = { token: viewer.body.key };
    expect((await call("GET", "/api/customers/acme/api-keys", asViewer)).status).toBe(200);
    expectProblem(
      await call("POST", "/api/customers/acme/api-keys", { ...asViewer, body: {} }),
      403,
      "forbidden",
    );
  });
});

describe("the gate by key", () => {
  it("decides for the key's customer", async () => {
    const acmeKey = (await issue("acme")).body;
    const globexKey = (await issue("globex")).body;
    const byAcme = await gate({ api_key: acmeKey.key, product: "chat-api" });
    expect(byAcme.status, JSON.stringify(byAcme.body)).toBe(200);
    expect(byAcme.body).toMatchObject({
      allow: true,
      customer: "acme",
      api_key_id: acmeKey.id,
      limit: 50,
      remaining: 99,
    });
    const byGlobex = await gate({ api_key: globexKey.key });
    expect(byGlobex.body).toMatchObject({
      allow: true,
      customer: "globex",
      api_key_id: globexKey.id,
      limit: 5,
      remaining: 9,
    });
    // The same bucket as asking by the customer's id.
    const byId = await gate({ customer: "globex" });
    expect(byId.body).toMatchObject({ customer: "globex", limit: 5, remaining: 8 });
    expect(byId.body).not.toHaveProperty("api_key_id");
  });

  it("takes exactly one of customer and api_key", async () => {
    const { key } = (await issue("acme")).body;
    expectProblem(await gate({ customer: "acme", api_key: key }), 400, "validation_failed");
    expectProblem(await gate({ product: "chat-api" }), 400, "validation_failed");
  });

  it("refuses an unknown key, a malformed one, and another tenant's, alike", async () => {
    const unknown = `sk_live_${"A".repeat(43)}`;
    expectProblem(await gate({ api_key: unknown }), 401, "unknown_api_key");
    expectProblem(await gate({ api_key: "sk_live_short" }), 401, "unknown_api_key");
    const theirs = (await issue("acme", {}, other)).body;
    expect((await gate({ api_key: theirs.key }, other)).body).toMatchObject({ customer: "acme" });
    // Same customer id in both tenants: still never a decision for the other tenant's customer.
    const refused = await gate({ api_key: theirs.key });
    expectProblem(refused, 401, "unknown_api_key");
    expect(JSON.stringify(refused.body)).not.toContain(theirs.id);
  });

  it("refuses a revoked key at once in the isolate that revoked it", async () => {
    const issued = (await issue("acme", { name: "to revoke" })).body;
    // Cached as live by this isolate's first use.
    expect((await gate({ api_key: issued.key })).body.allow).toBe(true);
    const revoked = await call("DELETE", `/api/customers/acme/api-keys/${issued.id}`, op());
    expect(revoked.status, JSON.stringify(revoked.body)).toBe(200);
    expect(revoked.body.revoked_at).not.toBeNull();
    expectProblem(await gate({ api_key: issued.key }), 401, "revoked_api_key");
    // Revoking again, or through another customer's path, finds nothing to revoke.
    const again = await call("DELETE", `/api/customers/acme/api-keys/${issued.id}`, op());
    expect(again.body.revoked_at).toBe(revoked.body.revoked_at);
    expectProblem(
      await call("DELETE", `/api/customers/globex/api-keys/${issued.id}`, op()),
      404,
      "not_found",
    );
    const audit = await call("GET", "/api/audit?action=customer_key.revoke", op());
    expect(audit.body.data[0]).toMatchObject({ action: "customer_key.revoke", target_id: "acme" });
  });
});

describe("per-key usage", () => {
  it("attributes events sent with a key to it, rejects a mismatched customer by index, and sums exactly", async () => {
    const a = (await issue("acme", { name: "usage" })).body;
    const g = (await issue("globex")).body;
    const at = NOW - 60_000;
    const res = await ingest([
      tokens("acme", at, 1.5, { api_key: a.key }),
      // The key names the customer: no customer needed.
      { ...tokens("acme", at, 2.25, { api_key: a.key }), customer: undefined },
      // globex's key on an acme event: rejected, nothing else in the batch is.
      tokens("acme", at, 100, { api_key: g.key }),
      tokens("acme", at, 7, { api_key: `sk_live_${"B".repeat(43)}` }),
      tokens("acme", at, 0.000001, { api_key: a.key, metric: "output_tokens" }),
      tokens("acme", at, 40),
      tokens("acme", at, 1, { properties: { api_key_id: a.id } }),
    ]);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.accepted).toBe(4);
    expect(res.body.rejected.map((r: { index: number }) => r.index)).toEqual([2, 3, 6]);
    expect(res.body.rejected[0].errors[0]).toMatchObject({ path: "customer" });
    expect(res.body.rejected[0].errors[0].message).toContain("globex");
    expect(res.body.rejected[1].errors[0]).toMatchObject({ path: "api_key" });
    expect(res.body.rejected[2].errors[0]).toMatchObject({ path: "properties.api_key_id" });
    settled += 4;
    await settle(tenant, ["acme"], settled);

    const key = (await listKeys("acme")).body.data.find((k: { id: string }) => k.id === a.id);
    const month = quotaWindow("month", Date.now());
    expect(key.usage).toMatchObject({
      period: "month",
      from: new Date(month.from).toISOString(),
      events: 3,
    });
    expect(key.usage.metrics).toEqual([
      { product: "chat-api", metric: "input_tokens", units: "3.75", events: 2 },
      { product: "chat-api", metric: "output_tokens", units: "0.000001", events: 1 },
    ]);
    expect(key.quota_used).toBeNull();
    // Globex's key made nothing: the mismatched event was not counted anywhere.
    const gk = (await listKeys("globex")).body.data.find((k: { id: string }) => k.id === g.id);
    expect(gk.usage).toMatchObject({ events: 0, metrics: [] });

    // The drill-down carries the key id as a property.
    const drill = await call("GET", "/api/customers/acme/events?limit=20", op());
    const keyed = drill.body.data.filter(
      (e: { properties?: Record<string, unknown> }) => e.properties?.api_key_id === a.id,
    );
    expect(keyed).toHaveLength(3);
  }, 30_000);

  it("takes the key on CloudEvents too, the subject checked against it", async () => {
    const g = (await issue("globex")).body;
    const cloud = (id: string, subject: string) => ({
      specversion: "1.0",
      id,
      source: "gateway",
      type: "input_tokens",
      subject,
      time: new Date(NOW - 5_000).toISOString(),
      data: { product: "chat-api", quantity: 3, api_key: g.key },
    });
    const res = await call("POST", "/v1/events", {
      token: tenant.ingest_key,
      headers: { "content-type": "application/cloudevents-batch+json" },
      body: [cloud(`ce_${NOW}_a`, "acme"), cloud(`ce_${NOW}_b`, "globex")],
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.accepted).toBe(1);
    expect(res.body.rejected).toEqual([
      expect.objectContaining({
        index: 0,
        errors: [expect.objectContaining({ path: "customer" })],
      }),
    ]);
    settled += 1;
    await settle(tenant, ["globex"], settled);
  }, 30_000);

  it("counts a resent event once", async () => {
    const a = (await issue("acme")).body;
    const event = tokens("acme", NOW - 30_000, 5, { api_key: a.key });
    await sendAndSettle([event], ["acme"]);
    const again = await ingest([event]);
    expect(again.body).toMatchObject({ accepted: 0, duplicates: 1 });
    const key = (await listKeys("acme")).body.data.find((k: { id: string }) => k.id === a.id);
    expect(key.usage.metrics).toEqual([
      { product: "chat-api", metric: "input_tokens", units: "5", events: 1 },
    ]);
  }, 30_000);
});

describe("per-key quota", () => {
  it("shows the share used and holds the key back at the gate until its period ends", async () => {
    const quota = { metric: "input_tokens", limit: "1000", period: "week" };
    const issued = await issue("globex", { name: "capped", quota });
    expect(issued.status, JSON.stringify(issued.body)).toBe(201);
    expect(issued.body.quota).toEqual(quota);
    const k = issued.body;
    const under = await issue("globex", { quota: { ...quota, limit: 2000 } });

    const at = NOW - 10_000;
    await sendAndSettle(
      [
        tokens("globex", at, 600.5, { api_key: k.key }),
        tokens("globex", at, 399.5, { api_key: k.key }),
        tokens("globex", at, 999, { api_key: under.body.key, metric: "output_tokens" }),
        tokens("globex", at, 470, { api_key: under.body.key }),
      ],
      ["globex"],
    );
    const keys = (await listKeys("globex")).body.data;
    const capped = keys.find((x: { id: string }) => x.id === k.id);
    expect(capped.quota_used).toEqual({ used: "1000", limit: "1000", percent_used: 100 });
    expect(capped.usage.period).toBe("week");
    const other = keys.find((x: { id: string }) => x.id === under.body.id);
    // Only the quota's metric counts towards it: 470 of 2000.
    expect(other.quota_used).toEqual({ used: "470", limit: "2000", percent_used: 23.5 });

    const asked = Date.now();
    const week = quotaWindow("week", asked);
    const held = await gate({ api_key: k.key });
    expect(held.status).toBe(200);
    expect(held.body).toMatchObject({
      allow: false,
      tier: "throttled",
      reason: "key_quota",
      customer: "globex",
      api_key_id: k.id,
      quota: { metric: "input_tokens", limit: "1000", used: "1000", period: "week" },
    });
    expect(held.body.quota.resets_at).toBe(new Date(week.to).toISOString());
    const wait = week.to - asked;
    expect(held.body.retry_after_ms).toBeGreaterThan(wait - 5_000);
    expect(held.body.retry_after_ms).toBeLessThanOrEqual(wait);
    expect(held.body.retry_after_ms).toBeLessThanOrEqual(7 * DAY);

    const free = await gate({ api_key: under.body.key });
    expect(free.body).toMatchObject({
      allow: true,
      customer: "globex",
      quota: { used: "470", limit: "2000" },
    });
  }, 30_000);
});

describe("the proxy by key", () => {
  it("forwards for the key's customer, meters the call to the key, and refuses a used-up or revoked key", async () => {
    const token = tenant.operator_token;
    await call("POST", "/api/products", { token, body: { id: "api", name: "API" } });
    await call("POST", "/api/products/api/metrics", { token, body: { id: "calls", unit: "call" } });
    const set = await call("PATCH", "/api/products/api", {
      token,
      body: { proxy: { origin: "http://127.0.0.1:9/origin", metric: "calls" } },
    });
    expect(set.status, JSON.stringify(set.body)).toBe(200);
    const k = (await issue("acme", { quota: { metric: "calls", limit: 1, period: "day" } })).body;
    const forwarded: Request[] = [];
    const spy = vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      forwarded.push(new Request(input, init));
      return new Response("ok");
    });
    const proxied = (headers: Record<string, string>) =>
      exports.default.fetch("http://aforo.test/v1/proxy/api/hello", {
        headers: { authorization: `Bearer ${tenant.ingest_key}`, ...headers },
      });
    try {
      const res = await proxied({ "x-aforo-api-key": k.key });
      expect(res.status).toBe(200);
      expect(await res.text()).toBe("ok");
      // The customer's key never reaches the origin.
      expect([...(forwarded[0]?.headers.values() ?? [])].join(" ")).not.toContain(k.key);
      const both = await proxied({ "x-aforo-api-key": k.key, "x-aforo-customer": "acme" });
      expect(both.status).toBe(400);
      await both.body?.cancel();
      const unknown = await proxied({ "x-aforo-api-key": `sk_live_${"C".repeat(43)}` });
      expect(unknown.status).toBe(401);
      expect(((await unknown.json()) as { code: string }).code).toBe("unknown_api_key");
    } finally {
      spy.mockRestore();
    }
    settled += 1;
    await settle(tenant, ["acme"], settled);
    const key = (await listKeys("acme")).body.data.find((x: { id: string }) => x.id === k.id);
    expect(key.usage.metrics).toEqual([{ product: "api", metric: "calls", units: "1", events: 1 }]);
    expect(key.quota_used).toEqual({ used: "1", limit: "1", percent_used: 100 });

    // This isolate read the key's usage (0) a moment ago; the read is cached for up to 10 s.
    await new Promise((r) => setTimeout(r, 10_100));
    const over = await proxied({ "x-aforo-api-key": k.key });
    expect(over.status).toBe(429);
    expect(((await over.json()) as { code: string }).code).toBe("key_quota_exceeded");
    const retryAfter = Number(over.headers.get("retry-after"));
    const day = quotaWindow("day", Date.now());
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(Math.ceil((day.to - Date.now()) / 1000) + 1);

    await call("DELETE", `/api/customers/acme/api-keys/${k.id}`, op());
    const revoked = await proxied({ "x-aforo-api-key": k.key });
    expect(revoked.status).toBe(401);
    expect(((await revoked.json()) as { code: string }).code).toBe("revoked_api_key");
  }, 30_000);
});
