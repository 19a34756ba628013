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

async function signIn(
  tenantId: string,
  email: string,
  headers: Record<string, string> = {},
  origin = "http://aforo.test",
) {
  const token = await signInLink(tenantId, email);
  const { exports } = await import("cloudflare:workers");
  const res = await exports.default.fetch(`${origin}/auth/magic-link/verify`, {
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
    // The page cannot read the HttpOnly cookie; it asks whether it holds a live one, without a
    // 401 when it does not.
    expect((await call("GET", "/auth/session")).body).toEqual({ signed_in: false });
    expect((await call("GET", "/auth/session", session)).body).toEqual({ signed_in: true });
    expect(
      (await call("GET", "/auth/session", { headers: { cookie: `${s.cookie.slice(0, -2)}xx` } }))
        .body,
    ).toEqual({ signed_in: false });

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

// ---------------------------------------------------------------------------------------------
// Session security: what the cookie looks like, fixation, tenants, forgery, CSRF, the last owner.

/** A raw request to any origin (helpers.call always speaks http://aforo.test). */
async function at(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
) {
  const { exports } = await import("cloudflare:workers");
  const res = await exports.default.fetch(url, {
    method: init.method ?? "GET",
    headers: {
      ...(init.body !== undefined ? { "content-type": "application/json" } : {}),
      ...init.headers,
    },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  const contentType = res.headers.get("content-type") ?? "";
  const text = await res.text();
  return {
    status: res.status,
    contentType,
    setCookie: res.headers.get("set-cookie") ?? "",
    body: text && contentType.includes("json") ? JSON.parse(text) : text,
  };
}

async function member(token: string, email: string, role: string) {
  const res = await call("POST", "/api/members", { token, body: { email, role } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
}

/** The products a caller sees, by id. */
async function productIds(options: { token?: string; headers?: Record<string, string> }) {
  const res = await call("GET", "/api/products", options);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return (res.body.data as { id: string }[]).map((p) => p.id);
}

describe("session security", () => {
  it("over https the cookie is __Host-aforo_session, Secure, SameSite=Strict, Path=/ and no Domain; over http it is aforo_session without Secure", async () => {
    const t = await createTenant();
    await member(t.operator_token, "sec@example.com", "viewer");

    const s = await signIn(t.tenant_id, "sec@example.com", {}, "https://aforo.test");
    expect(s.status).toBe(200);
    expect(s.setCookie).toMatch(
      /^__Host-aforo_session=[0-9a-f]{32}\.[A-Za-z0-9_-]{43}; Max-Age=\d+; Path=\/; HttpOnly; Secure; SameSite=Strict$/,
    );
    expect(s.setCookie).not.toMatch(/domain/i);
    const me = await at("https://aforo.test/api/me", { headers: { cookie: s.cookie } });
    expect([me.status, me.body.actor]).toEqual([200, "member:sec@example.com"]);
    // Over https only the prefixed name counts: the bare name is what a sibling or plain-http
    // page could have set, so the same value under it is no session.
    const bare = s.cookie.replace(/^__Host-/, "");
    expectProblem(
      { ...(await at("https://aforo.test/api/me", { headers: { cookie: bare } })) },
      401,
      "unauthorized",
    );
    // Signing out over https expires the prefixed cookie, with the same attributes.
    const out = await at("https://aforo.test/auth/sign-out", {
      method: "POST",
      headers: {
        cookie: s.cookie,
        "x-csrf-token": s.body.csrf_token,
        origin: "https://aforo.test",
      },
      body: {},
    });
    expect(out.status).toBe(200);
    expect(out.setCookie).toMatch(
      /^__Host-aforo_session=; Max-Age=0; Path=\/; HttpOnly; Secure; SameSite=Strict$/,
    );

    const plain = await signIn(t.tenant_id, "sec@example.com");
    expect(plain.setCookie).toMatch(
      /^aforo_session=[0-9a-f]{32}\.[A-Za-z0-9_-]{43}; Max-Age=\d+; Path=\/; HttpOnly; SameSite=Strict$/,
    );
    expect(plain.setCookie).not.toMatch(/secure|domain/i);
  });

  it("a cookie planted before sign-in (someone else's, or made up) is revoked and never adopted", async () => {
    const t = await createTenant();
    await member(t.operator_token, "mallory@example.com", "viewer");
    await member(t.operator_token, "victim@example.com", "admin");
    // Mallory's own live session, planted in the victim's browser before the victim signs in.
    const planted = await signIn(t.tenant_id, "mallory@example.com");
    const victim = await signIn(t.tenant_id, "victim@example.com", { cookie: planted.cookie });
    const idOf = (cookie: string) => cookie.split("=")[1]?.split(".")[0];
    expect(idOf(victim.cookie)).not.toBe(idOf(planted.cookie));
    expectProblem(
      await call("GET", "/api/me", { headers: { cookie: planted.cookie } }),
      401,
      "unauthorized",
    );
    const me = await call("GET", "/api/me", { headers: { cookie: victim.cookie } });
    expect([me.body.actor, me.body.role]).toEqual(["member:victim@example.com", "admin"]);

    // A well-formed cookie the attacker made up: signing in does not take it over either.
    const madeUp = `aforo_session=${"ab".repeat(16)}.${"Z".repeat(43)}`;
    const again = await signIn(t.tenant_id, "victim@example.com", { cookie: madeUp });
    expect(again.status).toBe(200);
    expect(idOf(again.cookie)).not.toBe("ab".repeat(16));
    expectProblem(
      await call("GET", "/api/me", { headers: { cookie: madeUp } }),
      401,
      "unauthorized",
    );
    expect((await call("GET", "/api/me", { headers: { cookie: again.cookie } })).status).toBe(200);
  });

  it("a cookie with a live session's id but not its secret cannot end that session", async () => {
    const t = await createTenant();
    await member(t.operator_token, "vic@example.com", "admin");
    await member(t.operator_token, "mal@example.com", "viewer");
    const victim = await signIn(t.tenant_id, "vic@example.com");
    const [name, value = ""] = victim.cookie.split("=");
    const halfKnown = `${name}=${value.split(".")[0]}.${"Q".repeat(43)}`;
    const alive = async () =>
      (await call("GET", "/api/me", { headers: { cookie: victim.cookie } })).status;

    const out = await call("POST", "/auth/sign-out", { headers: { cookie: halfKnown }, body: {} });
    expect([out.status, out.body.signed_out]).toEqual([200, 0]);
    expect(await alive()).toBe(200);
    // Nor does signing oneself in while carrying it (the fixation guard revokes only a cookie
    // that is really the browser's own session).
    expect((await signIn(t.tenant_id, "mal@example.com", { cookie: halfKnown })).status).toBe(200);
    expect(await alive()).toBe(200);
  });

  it("a session of tenant A sees only A; beside B's token it is ignored; a tampered cookie is nobody", async () => {
    const a = await createTenant("Alpha Sessions");
    const b = await createTenant("Bravo Sessions");
    await call("POST", "/api/products", {
      token: a.operator_token,
      body: { id: "alpha-only", name: "Alpha Only" },
    });
    await call("POST", "/api/products", {
      token: b.operator_token,
      body: { id: "bravo-only", name: "Bravo Only" },
    });
    await member(a.operator_token, "amy@alpha.example", "admin");
    const s = await signIn(a.tenant_id, "amy@alpha.example");
    const session = { cookie: s.cookie, "x-csrf-token": s.body.csrf_token };

    // B's ids are not found, read or written, and the list is A's.
    const read = await call("GET", "/api/products/bravo-only", { headers: session });
    expectProblem(read, 404, "not_found");
    expect(JSON.stringify(read.body)).not.toContain("Bravo Only");
    expectProblem(
      await call("PATCH", "/api/products/bravo-only", {
        headers: session,
        body: { name: "Amy's" },
      }),
      404,
      "not_found",
    );
    expect(await productIds({ headers: session })).toEqual(["alpha-only"]);
    const bravo = await call("GET", "/api/products/bravo-only", { token: b.operator_token });
    expect(bravo.body.name).toBe("Bravo Only");

    // Cookie and bearer together: the token decides (workers/auth.ts requireOperator), whole.
    // The caller is B's token, not Amy, in B: there is no "B with A's person".
    const both = { token: b.operator_token, headers: { cookie: s.cookie } };
    const me = await call("GET", "/api/me", both);
    expect(me.body).toMatchObject({
      kind: "token",
      tenant_id: b.tenant_id,
      email: null,
      csrf_token: null,
      role: "owner",
    });
    expect(me.body.actor).toMatch(/^token:[0-9a-f]{16}$/);
    const made = await call("POST", "/api/products", {
      ...both,
      body: { id: "both", name: "Both" },
    });
    expect(made.status).toBe(201);
    expect(await productIds({ token: b.operator_token })).toContain("both");
    expect(await productIds({ headers: session })).toEqual(["alpha-only"]);
    const trail = await call("GET", "/api/audit?action=product", { token: b.operator_token });
    expect(trail.body.data[0]).toMatchObject({ action: "product.create", actor: me.body.actor });
    expect(JSON.stringify(trail.body)).not.toContain("amy@alpha.example");
    // A bad token beside a good cookie is refused, not quietly replaced by the cookie.
    expectProblem(
      await call("GET", "/api/me", { token: "aforo_op_garbage", headers: { cookie: s.cookie } }),
      401,
      "unauthorized",
    );

    // Tampering with the cookie's secret or its id leaves no session.
    const [name, value = ""] = s.cookie.split("=");
    const [id = "", secret = ""] = value.split(".");
    const flip = (ch: string) => (ch === "A" ? "B" : "A");
    const tampered = [
      `${name}=${id}.${flip(secret[0] ?? "")}${secret.slice(1)}`,
      `${name}=${id}.${secret.slice(0, -1)}${flip(secret.at(-1) ?? "")}`,
      `${name}=${id.slice(0, -1)}${id.at(-1) === "0" ? "1" : "0"}.${secret}`,
      `${name}=${id}`,
    ];
    for (const cookie of tampered) {
      expectProblem(await call("GET", "/api/me", { headers: { cookie } }), 401, "unauthorized");
    }
    expect((await call("GET", "/api/me", { headers: { cookie: s.cookie } })).status).toBe(200);
  });

  it("CSRF: a write without this session's token, or from another origin, is refused and does not happen; reads need no token", async () => {
    const t = await createTenant();
    await member(t.operator_token, "one@example.com", "admin");
    await member(t.operator_token, "two@example.com", "admin");
    const one = await signIn(t.tenant_id, "one@example.com");
    const two = await signIn(t.tenant_id, "two@example.com");
    const same = "http://aforo.test";
    const refused: [string, Record<string, string>][] = [
      ["no token", { origin: same }],
      ["a wrong token", { "x-csrf-token": "x".repeat(43), origin: same }],
      ["an empty token", { "x-csrf-token": "", origin: same }],
      ["another session's token", { "x-csrf-token": two.body.csrf_token, origin: same }],
      ["a cross origin", { "x-csrf-token": one.body.csrf_token, origin: "https://evil.example" }],
      ["the opaque origin", { "x-csrf-token": one.body.csrf_token, origin: "null" }],
      [
        "this host over https",
        { "x-csrf-token": one.body.csrf_token, origin: "https://aforo.test" },
      ],
    ];
    const twoId = (await call("GET", "/api/me", { headers: { cookie: two.cookie } })).body.id;
    const trailBefore = await call("GET", "/api/audit", { token: t.operator_token });
    for (const [i, [what, headers]] of refused.entries()) {
      const created = await call("POST", "/api/products", {
        headers: { cookie: one.cookie, ...headers },
        body: { id: `csrf-${i}`, name: what },
      });
      expect([created.status, created.body.code], what).toEqual([403, "csrf_failed"]);
      expectProblem(created, 403, "csrf_failed");
      const removed = await call("DELETE", `/api/members/${twoId}`, {
        headers: { cookie: one.cookie, ...headers },
      });
      expect([removed.status, removed.body.code], what).toEqual([403, "csrf_failed"]);
    }
    // Nothing was written: no product, nobody removed (two's session lives), no audit entry.
    expect(await productIds({ headers: { cookie: one.cookie } })).toEqual([]);
    const people = await call("GET", "/api/members", { headers: { cookie: one.cookie } });
    expect(people.body.data.map((m: { status: string }) => m.status)).toEqual(["active", "active"]);
    expect((await call("GET", "/api/me", { headers: { cookie: two.cookie } })).status).toBe(200);
    const trailAfter = await call("GET", "/api/audit", { token: t.operator_token });
    expect(trailAfter.body).toEqual(trailBefore.body);

    // Reads take the cookie alone, whatever the origin says.
    expect((await call("GET", "/api/me", { headers: { cookie: one.cookie } })).status).toBe(200);
    expect(
      (
        await call("GET", "/api/products", {
          headers: { cookie: one.cookie, origin: "https://evil.example" },
        })
      ).status,
    ).toBe(200);
    // The session's own token passes, with this origin or none (a non-browser client).
    for (const [i, origin] of [
      [0, same],
      [1, undefined],
    ] as const) {
      const ok = await call("POST", "/api/products", {
        headers: {
          cookie: one.cookie,
          "x-csrf-token": one.body.csrf_token,
          ...(origin ? { origin } : {}),
        },
        body: { id: `fine-${i}`, name: "Fine" },
      });
      expect(ok.status, JSON.stringify(ok.body)).toBe(201);
    }
    expect((await productIds({ headers: { cookie: one.cookie } })).sort()).toEqual([
      "fine-0",
      "fine-1",
    ]);
  });

  it("the last owner can neither be demoted nor removed, by themselves or an admin; a second owner who has signed in makes it possible", async () => {
    const t = await createTenant();
    const ownerId = await member(t.operator_token, "own@example.com", "owner");
    await member(t.operator_token, "adm@example.com", "admin");
    const own = await signIn(t.tenant_id, "own@example.com");
    const adm = await signIn(t.tenant_id, "adm@example.com");
    const as = (s: typeof own) => ({ cookie: s.cookie, "x-csrf-token": s.body.csrf_token });

    // Themselves: the workspace would have no owner left.
    expectProblem(
      await call("PATCH", `/api/members/${ownerId}`, { headers: as(own), body: { role: "admin" } }),
      409,
      "conflict",
    );
    expectProblem(
      await call("DELETE", `/api/members/${ownerId}`, { headers: as(own) }),
      409,
      "conflict",
    );
    // An admin may manage members, but only an owner touches an owner (or makes one).
    for (const res of [
      await call("PATCH", `/api/members/${ownerId}`, {
        headers: as(adm),
        body: { role: "viewer" },
      }),
      await call("DELETE", `/api/members/${ownerId}`, { headers: as(adm) }),
      await call("POST", "/api/members", {
        headers: as(adm),
        body: { email: "sneak@example.com", role: "owner" },
      }),
    ]) {
      expectProblem(res, 403, "forbidden");
    }
    const still = await call("GET", "/api/me", { headers: { cookie: own.cookie } });
    expect(still.body.role).toBe("owner");

    // An invited second owner is not enough: the workspace would be left with an owner who has
    // never signed in. Once they have, the first may step down; the second is then the last one.
    const secondId = await member(t.operator_token, "own2@example.com", "owner");
    expectProblem(
      await call("PATCH", `/api/members/${ownerId}`, { headers: as(own), body: { role: "admin" } }),
      409,
      "conflict",
    );
    await signIn(t.tenant_id, "own2@example.com");
    const down = await call("PATCH", `/api/members/${ownerId}`, {
      headers: as(own),
      body: { role: "admin" },
    });
    expect([down.status, down.body.role]).toEqual([200, "admin"]);
    expectProblem(
      await call("DELETE", `/api/members/${secondId}`, { token: t.operator_token }),
      409,
      "conflict",
    );
    expectProblem(
      await call("PATCH", `/api/members/${secondId}`, {
        token: t.operator_token,
        body: { role: "viewer" },
      }),
      409,
      "conflict",
    );
  });
});
