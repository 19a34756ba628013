import { describe, expect, it } from "vitest";
import { ADMIN_TOKEN, call, createTenant, expectProblem } from "./helpers";

describe("POST /admin/tenants", () => {
  it("creates a tenant with prefixed keys that work on their own paths", async () => {
    const t = await createTenant();
    expect(t.tenant_id).toMatch(/^ten_[0-9a-f]{16}$/);
    expect(t.ingest_key).toMatch(/^aforo_ik_[0-9a-f]{16}_/);
    expect(t.operator_token).toMatch(/^aforo_op_[0-9a-f]{16}_/);
    expect((await call("GET", "/api/products", { token: t.operator_token })).status).toBe(200);
  });

  it("stores only hashes of the secrets", async () => {
    const t = await createTenant();
    const { env } = await import("cloudflare:test");
    const { results } = await env.DB.prepare("SELECT * FROM api_keys WHERE tenant_id = ?")
      .bind(t.tenant_id)
      .all();
    const dump = JSON.stringify(results);
    for (const key of [t.ingest_key, t.operator_token]) {
      const secret = key.split("_").slice(3).join("_");
      expect(dump).not.toContain(secret);
    }
    expect(results).toHaveLength(2);
  });

  it("refuses without the admin token, or with a tenant key", async () => {
    expectProblem(
      await call("POST", "/admin/tenants", { body: { name: "x" } }),
      401,
      "unauthorized",
    );
    const t = await createTenant();
    expectProblem(
      await call("POST", "/admin/tenants", { token: t.operator_token, body: { name: "x" } }),
      401,
      "unauthorized",
    );
  });

  it("explains invalid input and conflicts", async () => {
    const bad = await call("POST", "/admin/tenants", { token: ADMIN_TOKEN, body: { name: "" } });
    expectProblem(bad, 400, "validation_failed");
    expect(bad.body.errors[0].path).toBe("name");
    const notJson = await call("POST", "/admin/tenants", {
      token: ADMIN_TOKEN,
      rawBody: "{nope",
      headers: { "content-type": "application/json" },
    });
    expectProblem(notJson, 400, "malformed_json");
    await call("POST", "/admin/tenants", {
      token: ADMIN_TOKEN,
      body: { name: "A", id: "acme-co" },
    });
    expectProblem(
      await call("POST", "/admin/tenants", {
        token: ADMIN_TOKEN,
        body: { name: "A", id: "acme-co" },
      }),
      409,
      "conflict",
    );
  });
});

describe("key kinds and rotation", () => {
  it("keeps ingest keys off /api and operator tokens off /v1", async () => {
    const t = await createTenant();
    expectProblem(
      await call("GET", "/api/products", { token: t.ingest_key }),
      403,
      "wrong_key_kind",
    );
    expectProblem(
      await call("POST", "/v1/events", { token: t.operator_token, body: [] }),
      403,
      "wrong_key_kind",
    );
  });

  it("rejects missing, malformed and forged keys", async () => {
    const t = await createTenant();
    expectProblem(await call("GET", "/api/products"), 401, "unauthorized");
    expectProblem(await call("GET", "/api/products", { token: "nope" }), 401, "unauthorized");
    const forged = `${t.operator_token.slice(0, -4)}AAAA`;
    expectProblem(await call("GET", "/api/products", { token: forged }), 401, "unauthorized");
  });

  it("issues a new key and revokes the old one", async () => {
    const t = await createTenant();
    const issued = await call("POST", "/api/keys", {
      token: t.operator_token,
      body: { kind: "operator", name: "ci" },
    });
    expect(issued.status).toBe(201);
    const fresh = issued.body.key as string;
    const oldId = t.operator_token.split("_")[2];
    const revoked = await call("POST", `/api/keys/${oldId}/revoke`, { token: fresh });
    expect(revoked.status).toBe(200);
    expect(revoked.body.revoked_at).not.toBeNull();
    expectProblem(
      await call("GET", "/api/products", { token: t.operator_token }),
      401,
      "unauthorized",
    );
    expect((await call("GET", "/api/products", { token: fresh })).status).toBe(200);
    const list = await call("GET", "/api/keys", { token: fresh });
    expect(list.body.data).toHaveLength(3);
    // The secret is everything after the third underscore (it may contain "_" itself).
    expect(JSON.stringify(list.body)).not.toContain(fresh.split("_").slice(3).join("_"));
  });

  it("will not revoke the last operator token, nor another tenant's key", async () => {
    const a = await createTenant("A");
    const b = await createTenant("B");
    const aOp = a.operator_token.split("_")[2];
    expectProblem(
      await call("POST", `/api/keys/${aOp}/revoke`, { token: a.operator_token }),
      409,
      "conflict",
    );
    expectProblem(
      await call("POST", `/api/keys/${aOp}/revoke`, { token: b.operator_token }),
      404,
      "not_found",
    );
    const bIngest = b.ingest_key.split("_")[2];
    expectProblem(
      await call("POST", `/api/keys/${bIngest}/revoke`, { token: a.operator_token }),
      404,
      "not_found",
    );
  });

  it("lets the admin issue a recovery key", async () => {
    const t = await createTenant();
    const res = await call("POST", `/admin/tenants/${t.tenant_id}/keys`, {
      token: ADMIN_TOKEN,
      body: { kind: "operator" },
    });
    expect(res.status).toBe(201);
    expect((await call("GET", "/api/keys", { token: res.body.key })).status).toBe(200);
    expectProblem(
      await call("POST", "/admin/tenants/missing/keys", {
        token: ADMIN_TOKEN,
        body: { kind: "operator" },
      }),
      404,
      "not_found",
    );
  });
});

describe("platform routes", () => {
  it("serves the OpenAPI document", async () => {
    const res = await call("GET", "/openapi.json");
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe("3.1.0");
    expect(Object.keys(res.body.paths)).toEqual(
      expect.arrayContaining([
        "/admin/tenants",
        "/api/plans",
        "/api/subscriptions",
        "/api/cost-catalog",
      ]),
    );
  });

  it("answers unknown API paths with problem+json", async () => {
    const t = await createTenant();
    expectProblem(
      await call("GET", "/api/nothing-here", { token: t.operator_token }),
      404,
      "not_found",
    );
  });
});
