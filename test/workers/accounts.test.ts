import { describe, expect, it } from "vitest";
import { ADMIN_TOKEN, call, createTenant, expectProblem } from "./helpers";

// Operator accounts (issue 13): invite, sign in by a link, the session cookie with its CSRF
// token, roles refusing what they may not do, attribution in the audit log, sign-out.

async function signInLink(tenantId: string, email: string) {
  const res = await call("POST", `/admin/tenants/${tenantId}/sign-in-links`, {
    token: ADMIN_TOKEN,
    body: { email },
  });
  expect(res.status).toBe(201);
  return new URL(res.body.url).searchParams.get("link") ?? "";
}

async function signIn(tenantId: string, email: string, headers: Record<string, string> = {}) {
  const token = await signInLink(tenantId, email);
  const { exports } = await import("cloudflare:workers");
  const res = await exports.default.fetch("http://aforo.test/auth/magic-link/verify", {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ token }),
  });
  const setCookie = res.headers.get("set-cookie") ?? "";
  const body = (await res.json()) as { csrf_token: string; member: { role: string } };
  return { status: res.status, setCookie, cookie: setCookie.split(";")[0] ?? "", body, token };
}

describe("operator accounts", () => {
  it("invites a member, who signs in by link into a cookie session that the role limits", async () => {
    const t = await createTenant();
    const owner = { token: t.operator_token };
    const invited = await call("POST", "/api/members", {
      ...owner,
      body: { email: "Viv@Example.com", role: "viewer", name: "Viv" },
    });
    expect(invited.status).toBe(201);
    expect(invited.body).toMatchObject({
      email: "viv@example.com",
      role: "viewer",
      status: "invited",
    });

    const s = await signIn(t.tenant_id, "viv@example.com");
    expect(s.status).toBe(200);
    expect(s.setCookie).toMatch(
      /^aforo_session=[0-9a-f]{32}\.[A-Za-z0-9_-]{43}; Max-Age=\d+; Path=\/; HttpOnly; SameSite=Strict$/,
    );
    const session = { headers: { cookie: s.cookie } };

    const me = await call("GET", "/api/me", session);
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({
      kind: "member",
      actor: "member:viv@example.com",
      role: "viewer",
    });
    expect(me.body.csrf_token).toBe(s.body.csrf_token);
    expect(me.body.permissions).toEqual(["read"]);

    // The link works once.
    const { exports } = await import("cloudflare:workers");
    const again = await exports.default.fetch("http://aforo.test/auth/magic-link/verify", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token: s.token }),
    });
    expect(again.status).toBe(401);

    // A viewer reads, but may not change policies, even with the CSRF token.
    expect((await call("GET", "/api/policies", session)).status).toBe(200);
    const refused = await call("PUT", "/api/policies", {
      headers: { cookie: s.cookie, "x-csrf-token": s.body.csrf_token },
      body: { scope: "tenant", document: {} },
    });
    expectProblem(refused, 403, "forbidden");
    expect(refused.body.detail).toContain("policies:write");
  });

  it("refuses a state-changing cookie request without the CSRF token or from another origin", async () => {
    const t = await createTenant();
    await call("POST", "/api/members", {
      token: t.operator_token,
      body: { email: "ops@example.com", role: "admin" },
    });
    const s = await signIn(t.tenant_id, "ops@example.com");
    const body = { id: "p1", name: "P1" };
    expectProblem(
      await call("POST", "/api/products", { headers: { cookie: s.cookie }, body }),
      403,
      "csrf_failed",
    );
    expectProblem(
      await call("POST", "/api/products", {
        headers: {
          cookie: s.cookie,
          "x-csrf-token": s.body.csrf_token,
          origin: "https://evil.example",
        },
        body,
      }),
      403,
      "csrf_failed",
    );
    const ok = await call("POST", "/api/products", {
      headers: { cookie: s.cookie, "x-csrf-token": s.body.csrf_token, origin: "http://aforo.test" },
      body,
    });
    expect(ok.status).toBe(201);
    const audit = await call("GET", "/api/audit?action=product", { token: t.operator_token });
    expect(audit.body.data[0]).toMatchObject({
      actor: "member:ops@example.com",
      actor_role: "admin",
      action: "product.create",
    });
  });

  it("rotates the session on sign-in, signs out, and keeps the last owner", async () => {
    const t = await createTenant();
    const invited = await call("POST", "/api/members", {
      token: t.operator_token,
      body: { email: "own@example.com", role: "owner" },
    });
    const first = await signIn(t.tenant_id, "own@example.com");
    // Signing in again while carrying the first cookie revokes it (no fixation).
    const second = await signIn(t.tenant_id, "own@example.com", { cookie: first.cookie });
    expect(second.cookie).not.toBe(first.cookie);
    expectProblem(
      await call("GET", "/api/me", { headers: { cookie: first.cookie } }),
      401,
      "unauthorized",
    );
    expect((await call("GET", "/api/me", { headers: { cookie: second.cookie } })).status).toBe(200);

    // The only owner member cannot be removed or demoted.
    expectProblem(
      await call("DELETE", `/api/members/${invited.body.id}`, { token: t.operator_token }),
      409,
      "conflict",
    );
    expectProblem(
      await call("PATCH", `/api/members/${invited.body.id}`, {
        token: t.operator_token,
        body: { role: "viewer" },
      }),
      409,
      "conflict",
    );

    const out = await call("POST", "/auth/sign-out", {
      headers: { cookie: second.cookie, "x-csrf-token": second.body.csrf_token },
      body: { everywhere: true },
    });
    expect(out.status).toBe(200);
    expectProblem(
      await call("GET", "/api/me", { headers: { cookie: second.cookie } }),
      401,
      "unauthorized",
    );
  });
});
