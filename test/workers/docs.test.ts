import { env } from "cloudflare:test";
import { beforeAll, describe, expect, inject, it } from "vitest";
import type { SchemaExplanation } from "../../domain/docs/explain";
import { type OpenApiDocument, specHash } from "../../domain/docs/openapi";
import { type Actor, createRouter, handleError } from "../../workers/app";
import { docsRoutes } from "../../workers/routes/docs";
import { keyLog, say, scriptKey } from "../messages-api/client";
import { call, createCatalog, createTenant, expectProblem, type Tenant } from "./helpers";

// The Documentation Hub's routes (issue 18 §3): an operation's explanation is computed once per
// version of /openapi.json and then read from D1 (a tampered row is what comes back, proving the
// read); a changed document (another spec hash) is explained afresh beside the old row; the AI
// wording plugs in at one function and is cached under its own source; a product's Getting
// Started guide is the tenant's real catalog, and its example event and gate bodies are accepted
// by the real /v1 endpoints; another tenant's product is a 404.

let tenant: Tenant;
let other: Tenant;
let served: OpenApiDocument;

const asOwner = () => ({ token: tenant.operator_token });
const messagesApi = () => `http://127.0.0.1:${inject("messagesApiPort")}`;

const rowsOf = (operationId: string) =>
  env.DB.prepare(
    "SELECT spec_hash, source, body, generated_at FROM docs_explanations WHERE operation_id = ? ORDER BY generated_at",
  )
    .bind(operationId)
    .all<{ spec_hash: string; source: string; body: string; generated_at: number }>()
    .then((r) => r.results);

/** The docs routes over a given document, mounted like /api mounts them, for one tenant. */
function docsApp(
  document: OpenApiDocument,
  aiWording?: Parameters<typeof docsRoutes>[0]["aiWording"],
) {
  const app = createRouter();
  const actor: Actor = {
    kind: "token",
    id: "k",
    ref: "token:k",
    name: null,
    email: null,
    role: "viewer",
    csrfToken: null,
  };
  app.use("*", async (c, next) => {
    c.set("tenantId", tenant.tenant_id);
    c.set("actor", actor);
    await next();
  });
  app.route(
    "/api/docs",
    docsRoutes({ document: () => document, ...(aiWording ? { aiWording } : {}) }),
  );
  app.onError(handleError);
  return async (path: string) => {
    const res = await app.request(`http://aforo.test${path}`, {}, env);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
}

beforeAll(async () => {
  tenant = await createTenant("Docs Co");
  other = await createTenant("Other Co");
  await createCatalog(tenant);
  const doc = await call("GET", "/openapi.json");
  const { servers: _, ...rest } = doc.body;
  served = rest as OpenApiDocument;
});

describe("GET /api/docs/explanations/:operation_id", () => {
  it("computes the schema explanation once per spec version, then reads it from D1", async () => {
    const first = await call("GET", "/api/docs/explanations/get_api_customers", asOwner());
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({
      operation_id: "get_api_customers",
      method: "GET",
      path: "/api/customers",
      source: "schema",
      spec_hash: await specHash(served),
    });
    expect(first.body.examples.curl).toContain('curl -X GET "$AFORO_URL/api/customers?limit=50"');
    expect(first.body.gotchas.join("\n")).toContain("Paginated");
    const rows = await rowsOf("get_api_customers");
    expect(rows).toHaveLength(1);
    expect(new Date(first.body.generated_at).getTime()).toBe(rows[0]?.generated_at);

    // A read of the same version serves the stored row (altered here to prove it is read).
    const stored = JSON.parse(rows[0]?.body ?? "{}") as SchemaExplanation;
    await env.DB.prepare("UPDATE docs_explanations SET body = ? WHERE operation_id = ?")
      .bind(JSON.stringify({ ...stored, summary: "From the cache" }), "get_api_customers")
      .run();
    const again = await call("GET", "/api/docs/explanations/get_api_customers", {
      token: other.operator_token,
    });
    expect(again.status).toBe(200);
    expect(again.body.summary).toBe("From the cache");
    expect(again.body.generated_at).toBe(first.body.generated_at);
    expect(await rowsOf("get_api_customers")).toHaveLength(1);
  });

  it("explains a changed spec afresh under its new hash, keeping the old row", async () => {
    const before = await call("GET", "/api/docs/explanations/get_api_customers_id", asOwner());
    expect(before.status).toBe(200);
    const changed = structuredClone(served);
    const read = changed.paths?.["/api/customers/{id}"]?.get;
    if (!read) throw new Error("the spec lost GET /api/customers/{id}");
    read.summary = "Read one customer by its id";
    const fetchChanged = docsApp(changed);
    const after = await fetchChanged("/api/docs/explanations/get_api_customers_id");
    expect(after.status).toBe(200);
    expect(after.body.spec_hash).toBe(await specHash(changed));
    expect(after.body.spec_hash).not.toBe(before.body.spec_hash);
    expect(after.body.summary).toBe("Read one customer by its id");
    expect(after.body.source).toBe("schema");
    const rows = await rowsOf("get_api_customers_id");
    expect(rows.map((r) => r.spec_hash).sort()).toEqual(
      [before.body.spec_hash, after.body.spec_hash].sort(),
    );
    // The served document's row is untouched.
    const servedAgain = await call("GET", "/api/docs/explanations/get_api_customers_id", asOwner());
    expect(servedAgain.body.summary).toBe(before.body.summary);
  });

  it("takes the AI wording when the platform gives one, cached under source ai", async () => {
    let asked = 0;
    const worded = docsApp(served, async (_c, e) => {
      asked++;
      return { ...e, when_to_use: `Worded: ${e.when_to_use}` };
    });
    const first = await worded("/api/docs/explanations/post_api_customers");
    expect(first.status).toBe(200);
    expect(first.body.source).toBe("ai");
    expect(String(first.body.when_to_use)).toMatch(/^Worded: /);
    await worded("/api/docs/explanations/post_api_customers");
    expect(asked).toBe(1);
    expect((await rowsOf("post_api_customers")).map((r) => r.source).sort()).toEqual([
      "ai",
      "schema",
    ]);

    // No wording (no key, over the cap): the schema explanation, and nothing stored as ai.
    const none = docsApp(served, async () => null);
    const plain = await none("/api/docs/explanations/patch_api_products_id_metrics_metric");
    expect(plain.body.source).toBe("schema");
    expect((await rowsOf("patch_api_products_id_metrics_metric")).map((r) => r.source)).toEqual([
      "schema",
    ]);
  });

  it("words the prose through the AI platform, dropping a wording with an invented number", async () => {
    const op = "/api/docs/explanations/get_api_plans";
    // The schema's explanation, read by a tenant with no key (nothing asked, nothing stored as ai).
    const plain = await call("GET", op, { token: other.operator_token });
    expect(plain.body.source).toBe("schema");
    const gotchas = plain.body.gotchas as string[];
    const key = `sk-ant-docs-${crypto.randomUUID()}`;
    const put = await call("PUT", "/api/ai/settings", { ...asOwner(), body: { api_key: key } });
    expect(put.status).toBe(200);
    const answer = (summary: string) =>
      say(
        JSON.stringify({
          summary,
          when_to_use: "Use it to show the plans a customer can be put on.",
          gotchas: gotchas.map((g) => `In short: ${g}`),
        }),
      );
    await scriptKey(messagesApi(), key, [
      answer("Lists up to 9999 plans at once."),
      answer("Lists the tenant's rate plans, a page at a time."),
    ]);

    // 9999 is nowhere in the schema's explanation: the schema's wording, nothing cached as ai.
    const invented = await call("GET", op, asOwner());
    expect(invented.body).toMatchObject({ source: "schema", summary: plain.body.summary });
    expect((await rowsOf("get_api_plans")).map((r) => r.source)).toEqual(["schema"]);

    const worded = await call("GET", op, asOwner());
    expect(worded.body).toMatchObject({
      source: "ai",
      summary: "Lists the tenant's rate plans, a page at a time.",
      when_to_use: "Use it to show the plans a customer can be put on.",
      parameters: plain.body.parameters,
      examples: plain.body.examples,
    });
    expect(worded.body.gotchas).toEqual(gotchas.map((g) => `In short: ${g}`));
    const sent = (await keyLog(messagesApi(), key))[0]?.body.messages[0].content as string;
    expect(sent).toContain("GET /api/plans");
  });

  it("answers 404 for an operation the spec does not have, 400 for a malformed id", async () => {
    expectProblem(
      await call("GET", "/api/docs/explanations/get_api_nothing_here", asOwner()),
      404,
      "not_found",
    );
    expectProblem(
      await call("GET", "/api/docs/explanations/get%20api", asOwner()),
      400,
      "validation_failed",
    );
    expectProblem(
      await call("GET", "/api/docs/explanations/get_api_customers"),
      401,
      "unauthorized",
    );
  });
});

describe("GET /api/docs/getting-started/:product_id", () => {
  it("builds the guide from the tenant's catalog, its bodies accepted by /v1", async () => {
    const res = await call("GET", "/api/docs/getting-started/chat-api", asOwner());
    expect(res.status).toBe(200);
    const guide = res.body;
    expect(guide.product).toEqual({ id: "chat-api", name: "Chat API", description: null });
    expect(guide.metrics.map((m: { id: string }) => m.id)).toEqual([
      "input_tokens",
      "output_tokens",
    ]);
    expect(guide.customer).toEqual({ id: "acme", from_catalog: true });
    expect(guide.plans).toEqual([{ id: "chat-pro", name: "Chat Pro", status: expect.any(String) }]);
    expect(guide.steps[0].curl).toContain(JSON.stringify(guide.event_body));

    const ingest = await call("POST", "/v1/events", {
      token: tenant.ingest_key,
      body: guide.event_body,
    });
    expect(ingest.status).toBe(200);
    expect(ingest.body).toMatchObject({ accepted: 2, duplicates: 0, rejected: [] });
    const gate = await call("POST", "/v1/gate", {
      token: tenant.ingest_key,
      body: guide.gate_body,
    });
    expect(gate.status).toBe(200);
    expect(gate.body.allow).toBe(true);
  });

  it("names a placeholder customer when the tenant has none, and hides other tenants' products", async () => {
    const op = { token: other.operator_token };
    expectProblem(await call("GET", "/api/docs/getting-started/chat-api", op), 404, "not_found");
    await call("POST", "/api/products", { ...op, body: { id: "search", name: "Search" } });
    const bare = await call("GET", "/api/docs/getting-started/search", op);
    expect(bare.status).toBe(200);
    expect(bare.body.customer).toEqual({ id: "your-customer-id", from_catalog: false });
    expect(bare.body.metrics).toEqual([]);
    expect(bare.body.steps[0].title).toBe("1. Define a metric");
  });
});
