import { beforeAll, describe, expect, it } from "vitest";
import { call, createTenant, expectProblem, type Tenant } from "./helpers";

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
