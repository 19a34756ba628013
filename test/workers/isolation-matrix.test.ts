import { beforeAll, describe, expect, it } from "vitest";
import { app } from "../../workers/index";
import { PROBLEM_STATUS } from "../../workers/problem";
import {
  exampleValue,
  type GenContext,
  type OpenApiDoc,
  type Operation,
  operations,
  paramResource,
  toJson,
} from "./fuzz-openapi";
import { changedTables, digest, type RawResponse, seedWorld, send, type World } from "./fuzz-world";
import { ADMIN_TOKEN, call } from "./helpers";

// Tenant isolation, generated from /openapi.json (issue 11): tenant B's credentials on every
// one of tenant A's ids, on every route that takes an id, and every kind of credential on every
// route. A route the app serves but does not document fails here, so nothing escapes the matrix
// by being left out of the document.

const doc = (await call("GET", "/openapi.json")).body as OpenApiDoc;
const ALL_OPS = operations(doc);
// /auth/* takes no credential (signing in is how one gets one); accounts.test.ts covers it.
// /portal/* takes a customer's portal cookie, never a tenant key; portal.test.ts proves its
// isolation (another customer, another tenant, forged and tampered cookies, expiry, revocation).
const OPS = ALL_OPS.filter(
  (op) => !op.path.startsWith("/auth/") && !op.path.startsWith("/portal/"),
);

/** Not JSON API operations: the health check, the document itself and the storefront's HTML
 * page (`/s/:tenant_slug`, workers/storefront/page.ts; its comparator is documented). */
const UNDOCUMENTED_ON_PURPOSE = new Set([
  "GET /healthz",
  "GET /openapi.json",
  "GET /s/{}",
  // The customer portal's page and the link that opens it (workers/routes/portal.ts).
  "GET /portal",
  "GET /portal/{}",
]);

/**
 * Routes where any id is a valid question: ingest accepts events for customers the catalog does
 * not know, so a drill-down is a page of that id's events in the caller's own tenant — empty for
 * an id it never used (test/workers/ingest.test.ts, "tenant isolation"). B asking for A's id must
 * get exactly that empty page.
 */
const EMPTY_PAGE_FOR_ANY_ID = new Set(["GET /api/customers/{id}/events"]);

/**
 * Routes whose path id names nothing of any tenant's: an operation of the public API document
 * (the Documentation Hub, workers/routes/docs.ts). Every tenant gets the same explanation; what
 * is checked is that it carries nothing of A's and changes nothing of A's.
 */
const PUBLIC_ID = new Set(["GET /api/docs/explanations/{operation_id}"]);

/**
 * Public routes whose path names a tenant's public face: the storefront's Plan Comparator
 * answers anyone with that tenant's published plans (test/workers/storefront-public.test.ts holds
 * what it may show). What is checked here is that B's credentials get exactly what no credential
 * gets, and change nothing of A's.
 */
const PUBLIC_FACE = new Set(["POST /v1/storefront/{tenant_slug}/compare"]);

let A: World;
let B: World;

beforeAll(async () => {
  // Both with a full catalog, invoices, channels, signals and actions; every id and name of A
  // starts with "alpha", every one of B with "bravo".
  A = await seedWorld("alpha", { signals: true });
  B = await seedWorld("bravo", { signals: true });
}, 60_000);

/** A's rows only: B's valid writes (its catalog version, its keys) are B's own business. */
const digestA = () => digest(A.tenant.tenant_id, { whole: false });

const ctxOf = (w: World): GenContext => ({ doc, ids: w.ids, urls: [w.hook] });

/** stripeSignature: the Stripe webhook, which takes no key at all, only a signature made with
 * the tenant's signing secret; no credential below is one, so each is 401 unauthorized. */
type Kind = "operatorToken" | "ingestKey" | "adminToken" | "stripeSignature";
const kindOf = (op: Operation): Kind => (op.security[0] as Kind | undefined) ?? "operatorToken";

function tokenOf(w: World, kind: Kind) {
  if (kind === "adminToken") return ADMIN_TOKEN;
  return kind === "ingestKey" ? w.tenant.ingest_key : w.tenant.operator_token;
}

/** The route's path with `ids` for its parameters and a valid body whose references are
 * `refs`' own: only the path (or the credential) can stop the request. */
function requestFor(op: Operation, ids: World, refs: World, pick = 0) {
  let path = op.path;
  for (const p of op.params.filter((x) => x.in === "path")) {
    const pool = ids.ids[paramResource(op, p.name)] ?? [];
    if (pool.length === 0) throw new Error(`${op.path}: no seeded ids for {${p.name}}`);
    path = path.replace(`{${p.name}}`, encodeURIComponent(pool[pick % pool.length] ?? ""));
  }
  const body = op.body ? toJson(exampleValue(op.body.schema, ctxOf(refs))) : undefined;
  return { path, body };
}

async function sendAs(
  op: Operation,
  req: { path: string; body?: string | undefined },
  headers: Record<string, string>,
  refs: World,
) {
  return send({
    method: op.method,
    url: req.path,
    headers: {
      ...headers,
      // The proxy names its customer in a header: the caller's own, so only the product differs.
      ...(kindOf(op) === "ingestKey" ? { "x-aforo-customer": refs.ids.customers?.[0] ?? "" } : {}),
      ...(req.body !== undefined ? { "content-type": "application/json" } : {}),
    },
    ...(req.body !== undefined ? { body: req.body } : {}),
  });
}

/** A's names and ids that the request itself did not carry. */
function leaked(res: RawResponse, sent: string) {
  return A.secrets.filter((s) => !sent.includes(s) && res.text.includes(s));
}

function expectProblem(res: RawResponse, statuses: number[], op: Operation, what: string) {
  const p = res.json as { code?: keyof typeof PROBLEM_STATUS; status?: number } | null;
  const ok =
    statuses.includes(res.status) &&
    res.contentType.startsWith("application/problem+json") &&
    p?.code !== undefined &&
    PROBLEM_STATUS[p.code] === res.status &&
    op.statuses.includes(res.status);
  if (!ok) {
    throw new Error(
      `${what}: expected ${statuses.join(" or ")} problem+json documented by ${op.method} ${op.path}, got ${res.status} ${res.contentType} ${res.text.slice(0, 400)}`,
    );
  }
}

describe("the routes the app serves are the routes /openapi.json documents", () => {
  // Hono lists every handler of every route; a route's last handler takes only the context,
  // while middleware (auth, validation, catalog bumps) also takes `next`.
  const served = app.routes
    .filter((r) => r.handler.length < 2)
    .map((r) => ({ method: r.method, shape: r.path.replace(/:[^/]+|\*/g, "{}") }));
  const documented = ALL_OPS.map((op) => ({
    method: op.method,
    shape: op.path.replace(/\{[^}]+\}/g, "{}"),
  }));

  it("serves no route that is not documented", () => {
    const missing = served.filter(
      (r) =>
        !UNDOCUMENTED_ON_PURPOSE.has(`${r.method} ${r.shape}`) &&
        !documented.some(
          (d) => d.shape === r.shape && (r.method === "ALL" || d.method === r.method),
        ),
    );
    expect(missing.map((r) => `${r.method} ${r.shape}`)).toEqual([]);
    expect(served.length).toBeGreaterThan(50);
  });

  it("documents no route it does not serve", () => {
    const unserved = documented.filter(
      (d) =>
        !served.some((r) => r.shape === d.shape && (r.method === "ALL" || r.method === d.method)),
    );
    expect(unserved.map((d) => `${d.method} ${d.shape}`)).toEqual([]);
  });
});

describe("tenant B's credentials on tenant A's ids", () => {
  // Admin routes act on any tenant by design (the platform's token); every other route with a
  // path id is scoped to the caller's tenant.
  const withIds = OPS.filter(
    (op) => op.params.some((p) => p.in === "path") && kindOf(op) !== "adminToken",
  );

  it("covers every route with a path id", () => {
    expect(withIds.length).toBeGreaterThan(25);
  });

  it("A's ids are real: A's own token reads every one of them", async () => {
    for (const op of withIds.filter((o) => o.method === "GET" && !o.passthrough)) {
      const pools = op.params
        .filter((p) => p.in === "path")
        .map((p) => A.ids[paramResource(op, p.name)] ?? []);
      for (let i = 0; i < Math.max(...pools.map((p) => p.length)); i++) {
        const req = requestFor(op, A, A, i);
        const res = await sendAs(op, req, { authorization: `Bearer ${tokenOf(A, kindOf(op))}` }, A);
        expect(res.status, `${op.method} ${req.path}: ${res.text.slice(0, 200)}`).toBe(200);
      }
    }
  });

  for (const op of withIds) {
    it(`${op.method} ${op.path}`, async () => {
      const pools = op.params
        .filter((p) => p.in === "path")
        .map((p) => A.ids[paramResource(op, p.name)] ?? []);
      const count = Math.max(...pools.map((p) => p.length));
      for (let i = 0; i < count; i++) {
        const req = requestFor(op, A, B, i);
        const before = await digestA();
        const res = await sendAs(op, req, { authorization: `Bearer ${tokenOf(B, kindOf(op))}` }, B);
        const what = `B on ${op.method} ${req.path}`;
        if (PUBLIC_FACE.has(`${op.method} ${op.path}`)) {
          const anonymous = await sendAs(op, req, {}, B);
          expect([res.status, res.json], what).toEqual([anonymous.status, anonymous.json]);
          expect(res.status, what).toBe(200);
          expect(changedTables(before, await digestA()), `${what} changed A's rows`).toEqual([]);
          continue;
        }
        if (PUBLIC_ID.has(`${op.method} ${op.path}`)) {
          expect(res.status, what).toBe(200);
        } else if (EMPTY_PAGE_FOR_ANY_ID.has(`${op.method} ${op.path}`)) {
          expect([res.status, res.json], what).toEqual([200, { data: [], next_cursor: null }]);
        } else expectProblem(res, kindOf(op) === "stripeSignature" ? [401] : [404, 403], op, what);
        expect(leaked(res, req.path + (req.body ?? "")), `${what} leaked A's data`).toEqual([]);
        const after = await digestA();
        expect(changedTables(before, after), `${what} changed A's rows`).toEqual([]);
      }
    });
  }

  // Filters that take an id: B naming A's ids gets nothing of A's (an empty page, or a 4xx).
  const ID_QUERIES: Record<string, string> = {
    customer: "customers",
    product: "products",
    plan: "plans",
    subscription: "subscriptions",
    segment: "plans",
    signal: "signals",
    action: "actions",
    channel: "channels",
  };
  const filtered = OPS.filter(
    (op) =>
      op.method === "GET" &&
      kindOf(op) === "operatorToken" &&
      !op.path.includes("{") &&
      op.params.some((p) => p.in === "query" && p.name in ID_QUERIES),
  );

  it("covers the list routes that filter by id", () => {
    expect(filtered.length).toBeGreaterThan(8);
  });

  for (const op of filtered) {
    it(`${op.method} ${op.path}?<A's ids>`, async () => {
      for (const p of op.params.filter((x) => x.in === "query" && x.name in ID_QUERIES)) {
        for (const id of A.ids[ID_QUERIES[p.name] ?? ""] ?? []) {
          const url = `${op.path}?${new URLSearchParams({ [p.name]: id })}`;
          const res = await send({
            method: "GET",
            url,
            headers: { authorization: `Bearer ${B.tenant.operator_token}` },
          });
          const what = `B on GET ${url}`;
          expect(res.status, `${what}: ${res.text.slice(0, 300)}`).toBeLessThan(500);
          if (res.status >= 400) expectProblem(res, [400, 404], op, what);
          expect(leaked(res, url), `${what} leaked A's data`).toEqual([]);
        }
      }
    });
  }
});

describe("tenant B's writes naming A's ids in the body", () => {
  // Ids are the tenant's own namespace: B may create its own product called "alpha-chat-api",
  // but no write of B's may reach A's rows, and no answer may carry A's data.
  const writes = OPS.filter((op) => op.body && op.method !== "GET" && kindOf(op) !== "adminToken");

  it("covers every write with a body", () => {
    expect(writes.length).toBeGreaterThan(20);
  });

  for (const op of writes) {
    it(`${op.method} ${op.path}`, async () => {
      // Path ids B's own (so the route is reached), body references A's.
      const req = requestFor(op, B, A);
      const before = await digestA();
      const res = await sendAs(op, req, { authorization: `Bearer ${tokenOf(B, kindOf(op))}` }, B);
      const what = `B on ${op.method} ${req.path} with ${req.body?.slice(0, 200)}`;
      expect(res.status, `${what}: ${res.text.slice(0, 300)}`).toBeLessThan(500);
      if (res.status >= 400) expectProblem(res, [res.status], op, what);
      expect(leaked(res, req.path + (req.body ?? "")), `${what} leaked A's data`).toEqual([]);
      const after = await digestA();
      expect(changedTables(before, after), `${what} changed A's rows`).toEqual([]);
    });
  }
});

describe("every credential kind on every route family", () => {
  const forged = (key: string) => `${key.split("_").slice(0, 3).join("_")}_${"A".repeat(43)}`;
  let revoked: string;

  beforeAll(async () => {
    const issued = await call("POST", "/api/keys", {
      token: A.tenant.operator_token,
      body: { kind: "operator", name: "alpha revoked key" },
    });
    revoked = issued.body.key;
    const id = revoked.split("_")[2];
    const res = await call("POST", `/api/keys/${id}/revoke`, { token: A.tenant.operator_token });
    if (res.status !== 200) throw new Error(`revoking: ${JSON.stringify(res.body)}`);
  });

  /** Every credential a caller might present, and which kind of key it is (if any). */
  const credentials = (): {
    name: string;
    headers: Record<string, string>;
    kind: Kind | null;
  }[] => [
    { name: "no credentials", headers: {}, kind: null },
    { name: "a garbage token", headers: { authorization: "Bearer garbage" }, kind: null },
    { name: "a non-Bearer scheme", headers: { authorization: `Basic ${btoa("a:b")}` }, kind: null },
    {
      name: "a forged operator token",
      headers: { authorization: `Bearer ${forged(A.tenant.operator_token)}` },
      kind: null,
    },
    {
      name: "a forged ingest key",
      headers: { authorization: `Bearer ${forged(A.tenant.ingest_key)}` },
      kind: null,
    },
    {
      name: "a revoked operator token",
      headers: { authorization: `Bearer ${revoked}` },
      kind: null,
    },
    {
      name: "A's ingest key",
      headers: { authorization: `Bearer ${A.tenant.ingest_key}` },
      kind: "ingestKey",
    },
    {
      name: "A's ingest key as x-api-key",
      headers: { "x-api-key": A.tenant.ingest_key },
      kind: "ingestKey",
    },
    {
      name: "A's operator token",
      headers: { authorization: `Bearer ${A.tenant.operator_token}` },
      kind: "operatorToken",
    },
    {
      name: "the admin token",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      kind: "adminToken",
    },
  ];

  it("covers every route", () => {
    expect(OPS.length).toBeGreaterThan(50);
  });

  for (const op of OPS) {
    it(`${op.method} ${op.path}`, async () => {
      const needs = kindOf(op);
      const req = requestFor(op, A, A);
      if (PUBLIC_FACE.has(`${op.method} ${op.path}`)) {
        // It takes no credential: whatever one is presented, the answer is the anonymous one.
        const anonymous = await sendAs(op, req, {}, A);
        expect(anonymous.status, `${op.method} ${req.path}`).toBe(200);
        for (const cred of credentials()) {
          const res = await sendAs(op, req, cred.headers, A);
          expect([res.status, res.json], `${cred.name} on ${req.path}`).toEqual([
            anonymous.status,
            anonymous.json,
          ]);
        }
        return;
      }
      for (const cred of credentials().filter((c) => c.kind !== needs)) {
        // The admin path knows no tenant keys: every one of them is simply not its credential.
        // A tenant path told a key of the other kind says so (403 wrong_key_kind).
        const wrongKind =
          needs !== "adminToken" &&
          needs !== "stripeSignature" &&
          (cred.kind === "ingestKey" || cred.kind === "operatorToken");
        // Entire tenants and keys tables: a refused admin call creates no tenant or key anywhere.
        const before = await digest(A.tenant.tenant_id);
        const res = await sendAs(op, req, cred.headers, A);
        const what = `${cred.name} on ${op.method} ${req.path}`;
        expectProblem(res, [wrongKind ? 403 : 401], op, what);
        expect((res.json as { code: string }).code, what).toBe(
          wrongKind ? "wrong_key_kind" : "unauthorized",
        );
        const after = await digest(A.tenant.tenant_id);
        expect(changedTables(before, after), `${what} changed stored rows`).toEqual([]);
        expect(leaked(res, req.path + (req.body ?? "")), `${what} leaked A's data`).toEqual([]);
      }
    });
  }
});
