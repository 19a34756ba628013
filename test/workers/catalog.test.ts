import { describe, expect, it } from "vitest";
import { DAY_MS } from "../../domain/time";
import {
  type Call,
  call,
  createCatalog,
  createTenant,
  expectProblem,
  type Tenant,
} from "./helpers";

// Route tests for the catalog API (/api/products, /plans, /customers, /subscriptions,
// /cost-catalog, /keys): happy paths, validation, conflicts and tenant isolation.

const TEN_KB = "x".repeat(10 * 1024);

/** An operator client for one tenant, rooted at /api. */
function client(tenant: Tenant) {
  const token = tenant.operator_token;
  return {
    tenant,
    get: (path: string) => call("GET", `/api${path}`, { token }),
    post: (path: string, body: unknown) => call("POST", `/api${path}`, { token, body }),
    patch: (path: string, body: unknown) => call("PATCH", `/api${path}`, { token, body }),
    put: (path: string, body: unknown) => call("PUT", `/api${path}`, { token, body }),
    /** Sends the text exactly as given, so keys like "__proto__" reach the server untouched. */
    raw: (method: string, path: string, rawBody: string) =>
      call(method, `/api${path}`, {
        token,
        rawBody,
        headers: { "content-type": "application/json" },
      }),
  };
}
type Api = ReturnType<typeof client>;

async function newApi(name = "Acme AI"): Promise<Api> {
  return client(await createTenant(name));
}

/** 400 problem+json, code validation_failed, with an error entry at `path`. */
function expectValidation(res: Call, path: string) {
  expectProblem(res, 400, "validation_failed");
  expect(res.body.type).toBe("https://aforo.dev/problems/validation-failed");
  expect(res.body.status).toBe(400);
  expect(res.body.detail).toEqual(expect.any(String));
  expect(res.body.errors).toEqual(expect.any(Array));
  for (const error of res.body.errors) {
    expect(error).toEqual({ path: expect.any(String), message: expect.any(String) });
    expect(error.message.length).toBeGreaterThan(0);
  }
  const paths = res.body.errors.map((e: { path: string }) => e.path);
  expect(paths, JSON.stringify(res.body.errors)).toContain(path);
}

function expectCreated(res: Call) {
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  expect(res.contentType).toContain("application/json");
  return res.body;
}

async function seedProduct(api: Api, id = "chat-api", metrics = ["input_tokens", "output_tokens"]) {
  expectCreated(await api.post("/products", { id, name: `Product ${id}` }));
  for (const metric of metrics) {
    expectCreated(await api.post(`/products/${id}/metrics`, { id: metric, unit: "token" }));
  }
}

const perUnit = (metric = "input_tokens", unit_price: unknown = "0.00001") => ({
  type: "per_unit",
  metric,
  unit_price,
});

const tiered = (tiers: unknown[]) => ({
  type: "tiered",
  metric: "input_tokens",
  mode: "graduated",
  tiers,
});

function planBody(overrides: Record<string, unknown> = {}) {
  return {
    id: "chat-pro",
    product: "chat-api",
    name: "Chat Pro",
    components: [perUnit()],
    ...overrides,
  };
}

/** Walks every page of a list with the given limit; returns the pages' items. */
async function allPages(api: Api, path: string, limit: number) {
  const pages: { id: string }[][] = [];
  let cursor: string | null = null;
  do {
    const sep = path.includes("?") ? "&" : "?";
    const query = `limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
    const res = await api.get(`${path}${sep}${query}`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.data.length).toBeLessThanOrEqual(limit);
    pages.push(res.body.data);
    cursor = res.body.next_cursor;
    if (pages.length > 50) throw new Error("pagination does not terminate");
  } while (cursor !== null);
  return pages;
}

const idsOf = (pages: { id: string }[][]) => pages.flat().map((item) => item.id);
const sizesOf = (pages: unknown[][]) => pages.map((p) => p.length);

/** A cursor the API never issued but that decodes to a one-element JSON array. */
const forgedCursor = (key: unknown[]) =>
  btoa(JSON.stringify(key)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

// ------------------------------------------------------------------------------------------------

describe("authentication on every catalog route", () => {
  const routes: [string, string][] = [
    ["GET", "/api/products"],
    ["POST", "/api/products"],
    ["GET", "/api/products/chat-api"],
    ["PATCH", "/api/products/chat-api"],
    ["GET", "/api/products/chat-api/metrics"],
    ["POST", "/api/products/chat-api/metrics"],
    ["GET", "/api/plans"],
    ["POST", "/api/plans"],
    ["GET", "/api/plans/chat-pro"],
    ["PATCH", "/api/plans/chat-pro"],
    ["GET", "/api/customers"],
    ["POST", "/api/customers"],
    ["GET", "/api/customers/acme"],
    ["PATCH", "/api/customers/acme"],
    ["GET", "/api/subscriptions"],
    ["POST", "/api/subscriptions"],
    ["GET", "/api/subscriptions/sub_1"],
    ["GET", "/api/cost-catalog"],
    ["PUT", "/api/cost-catalog"],
    ["GET", "/api/keys"],
  ];
  const bodyFor = (method: string) => (method === "GET" ? undefined : { id: "x", name: "x" });

  it.each(routes)("%s %s without a key → 401 unauthorized", async (method, path) => {
    const res = await call(method, path, { body: bodyFor(method) });
    expectProblem(res, 401, "unauthorized");
  });

  it.each(routes)("%s %s with an ingest key → 403 wrong_key_kind", async (method, path) => {
    const t = await createTenant();
    const res = await call(method, path, { token: t.ingest_key, body: bodyFor(method) });
    expectProblem(res, 403, "wrong_key_kind");
  });

  it("writes nothing when the key is refused", async () => {
    const t = await createTenant();
    await call("POST", "/api/products", { token: t.ingest_key, body: { id: "sneaky", name: "S" } });
    await call("POST", "/api/products", { body: { id: "sneaky", name: "S" } });
    const list = await client(t).get("/products");
    expect(list.body.data).toEqual([]);
  });
});

// ------------------------------------------------------------------------------------------------

describe("products and metrics", () => {
  it("creates a product that reads back equal, alone and in the list", async () => {
    const api = await newApi();
    const created = expectCreated(
      await api.post("/products", { id: "chat-api", name: "  Chat API  ", description: "LLM" }),
    );
    expect(created).toEqual({
      id: "chat-api",
      name: "Chat API",
      description: "LLM",
      proxy: null,
      metrics: [],
      created_at: expect.stringMatching(ISO),
      updated_at: expect.stringMatching(ISO),
    });
    expect((await api.get("/products/chat-api")).body).toEqual(created);
    expect((await api.get("/products")).body).toEqual({ data: [created], next_cursor: null });
  });

  it("adds metrics, shows them on the product and lists them", async () => {
    const api = await newApi();
    expectCreated(await api.post("/products", { id: "chat-api", name: "Chat API" }));
    const input = expectCreated(
      await api.post("/products/chat-api/metrics", {
        id: "input_tokens",
        name: "Input tokens",
        unit: "token",
      }),
    );
    expect(input).toEqual({
      id: "input_tokens",
      product: "chat-api",
      name: "Input tokens",
      unit: "token",
      aggregation: "sum",
      // A metric carries cost unless declared otherwise: its events without one are uncosted.
      carries_cost: true,
      created_at: expect.stringMatching(ISO),
    });
    const users = expectCreated(
      await api.post("/products/chat-api/metrics", {
        id: "active_users",
        unit: "user",
        aggregation: "unique_count",
      }),
    );
    expect(users.name).toBeNull();
    expect(users.aggregation).toBe("unique_count");
    const metrics = await api.get("/products/chat-api/metrics");
    expect(metrics.status).toBe(200);
    expect(metrics.body).toEqual({ data: [users, input] });
    expect((await api.get("/products/chat-api")).body.metrics).toEqual([users, input]);
  });

  it("paginates with limit and next_cursor, without duplicates or gaps", async () => {
    const api = await newApi();
    const ids = ["p-a", "p-b", "p-c", "p-d", "p-e"];
    for (const id of [...ids].reverse()) {
      expectCreated(await api.post("/products", { id, name: id }));
    }
    await api.post("/products/p-c/metrics", { id: "calls", unit: "call" });
    const pages = await allPages(api, "/products", 2);
    expect(sizesOf(pages)).toEqual([2, 2, 1]);
    expect(idsOf(pages)).toEqual(ids);
    expect(pages.flat().find((p) => p.id === "p-c")).toMatchObject({
      metrics: [{ id: "calls", product: "p-c" }],
    });
    // An exact multiple of the limit ends without an empty trailing page.
    expect(sizesOf(await allPages(api, "/products", 5))).toEqual([5]);
    const one = await allPages(api, "/products", 1);
    expect(idsOf(one)).toEqual(ids);
  });

  it("renames, re-describes and clears the description", async () => {
    const api = await newApi();
    const created = expectCreated(
      await api.post("/products", { id: "chat-api", name: "Chat API", description: "old" }),
    );
    const renamed = await api.patch("/products/chat-api", { name: "Chat API v2" });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ name: "Chat API v2", description: "old" });
    expect(renamed.body.created_at).toBe(created.created_at);
    const cleared = await api.patch("/products/chat-api", { description: null });
    expect(cleared.body).toMatchObject({ name: "Chat API v2", description: null });
    expect((await api.get("/products/chat-api")).body).toEqual(cleared.body);
  });

  it("answers duplicates with 409 conflict and leaves the original alone", async () => {
    const api = await newApi();
    const first = expectCreated(await api.post("/products", { id: "chat-api", name: "First" }));
    expectProblem(await api.post("/products", { id: "chat-api", name: "Second" }), 409, "conflict");
    await api.post("/products/chat-api/metrics", { id: "calls", unit: "call" });
    expectProblem(
      await api.post("/products/chat-api/metrics", { id: "calls", unit: "request" }),
      409,
      "conflict",
    );
    const after = (await api.get("/products/chat-api")).body;
    expect(after.name).toBe(first.name);
    expect(after.metrics).toHaveLength(1);
    expect(after.metrics[0].unit).toBe("call");
  });

  it("answers unknown products with 404 on every product route", async () => {
    const api = await newApi();
    expectProblem(await api.get("/products/nope"), 404, "not_found");
    expectProblem(await api.patch("/products/nope", { name: "x" }), 404, "not_found");
    expectProblem(await api.get("/products/nope/metrics"), 404, "not_found");
    expectProblem(
      await api.post("/products/nope/metrics", { id: "calls", unit: "call" }),
      404,
      "not_found",
    );
  });

  it.each([
    ["missing id", { name: "Chat" }, "id"],
    ["missing name", { id: "chat" }, "name"],
    ["id of the wrong type", { id: 42, name: "Chat" }, "id"],
    ["name of the wrong type", { id: "chat", name: true }, "name"],
    ["blank name", { id: "chat", name: "   " }, "name"],
    ["id with a space", { id: "chat api", name: "Chat" }, "id"],
    ["id starting with a dash", { id: "-chat", name: "Chat" }, "id"],
    ["id of 129 characters", { id: "a".repeat(129), name: "Chat" }, "id"],
    ["10 KB id", { id: TEN_KB, name: "Chat" }, "id"],
    ["10 KB name", { id: "chat", name: TEN_KB }, "name"],
    ["10 KB description", { id: "chat", name: "Chat", description: TEN_KB }, "description"],
    ["description of the wrong type", { id: "chat", name: "Chat", description: 7 }, "description"],
  ])("POST /products with %s → 400 naming the field", async (_label, body, path) => {
    const api = await newApi();
    expectValidation(await api.post("/products", body), path);
    expect((await api.get("/products")).body.data).toEqual([]);
  });

  it.each([
    ["missing id", { unit: "token" }, "id"],
    ["missing unit", { id: "tokens" }, "unit"],
    ["bad id", { id: "in put", unit: "token" }, "id"],
    ["unknown aggregation", { id: "tokens", unit: "token", aggregation: "avg" }, "aggregation"],
    ["10 KB unit", { id: "tokens", unit: TEN_KB }, "unit"],
    ["10 KB name", { id: "tokens", unit: "token", name: TEN_KB }, "name"],
    ["unit of the wrong type", { id: "tokens", unit: 1 }, "unit"],
  ])("POST /products/:id/metrics with %s → 400 naming the field", async (_label, body, path) => {
    const api = await newApi();
    await seedProduct(api, "chat-api", []);
    expectValidation(await api.post("/products/chat-api/metrics", body), path);
    expect((await api.get("/products/chat-api/metrics")).body.data).toEqual([]);
  });

  it("rejects an empty or invalid PATCH and leaves the product unchanged", async () => {
    const api = await newApi();
    const created = expectCreated(await api.post("/products", { id: "chat-api", name: "Chat" }));
    const empty = await api.patch("/products/chat-api", {});
    expectValidation(empty, "");
    expect(empty.body.errors[0].message).toContain("name");
    expectValidation(await api.patch("/products/chat-api", { name: TEN_KB }), "name");
    expectValidation(await api.patch("/products/chat-api", { name: "" }), "name");
    expectValidation(await api.patch("/products/chat-api", { description: TEN_KB }), "description");
    expect((await api.get("/products/chat-api")).body).toEqual(created);
  });

  it("rejects bad ids in the path, bad limits and bad cursors", async () => {
    const api = await newApi();
    expectValidation(await api.get("/products/bad%20id"), "param.id");
    expectValidation(await api.get(`/products/${"a".repeat(129)}`), "param.id");
    expectValidation(await api.patch("/products/bad%20id", { name: "x" }), "param.id");
    expectValidation(await api.get("/products/bad%20id/metrics"), "param.id");
    expectValidation(await api.get("/products?limit=0"), "query.limit");
    expectValidation(await api.get("/products?limit=201"), "query.limit");
    expectValidation(await api.get("/products?limit=ten"), "query.limit");
    expectValidation(await api.get("/products?limit=1.5"), "query.limit");
    expectValidation(await api.get("/products?cursor=!!not-a-cursor!!"), "query.cursor");
    expectValidation(await api.get(`/products?cursor=${"A".repeat(600)}`), "query.cursor");
    expectValidation(await api.get(`/products?cursor=${forgedCursor(["a", "b"])}`), "query.cursor");
    const notAnArray = btoa(JSON.stringify({ id: "a" })).replace(/=+$/, "");
    expectValidation(await api.get(`/products?cursor=${notAnArray}`), "query.cursor");
  });

  // A forged cursor whose parts have the wrong types must not reach D1's bind().
  it("rejects a forged cursor whose key is not a string with 400", async () => {
    const api = await newApi();
    expectValidation(await api.get(`/products?cursor=${forgedCursor([{}])}`), "query.cursor");
  });

  it("answers malformed JSON with 400 malformed_json", async () => {
    const api = await newApi();
    expectProblem(await api.raw("POST", "/products", '{"id": "chat",'), 400, "malformed_json");
    expect((await api.get("/products")).body.data).toEqual([]);
  });
});

// ------------------------------------------------------------------------------------------------

describe("plans", () => {
  async function setup() {
    const api = await newApi();
    await seedProduct(api);
    return api;
  }

  it("creates a plan with every component type that reads back equal", async () => {
    const api = await setup();
    const components = [
      { type: "flat", amount: "49.00" },
      { type: "per_unit", metric: "input_tokens", unit_price: "0.000003" },
      {
        type: "tiered",
        metric: "output_tokens",
        mode: "graduated",
        tiers: [
          { up_to: "1000000", unit_price: "0.000015", flat_fee: "5" },
          { up_to: "5000000", unit_price: "0.000012" },
          { up_to: null, unit_price: "0.00001" },
        ],
      },
      { type: "included", metric: "input_tokens", quantity: "100000" },
      { type: "discount", metric: "input_tokens", above: "10000000", percent: "15" },
      { type: "discount", above: "1000", percent: "5" },
      { type: "minimum", amount: "100" },
    ];
    const created = expectCreated(
      await api.post("/plans", {
        id: "chat-pro",
        product: "chat-api",
        name: "Chat Pro",
        currency: "EUR",
        period: "year",
        trial_days: 14,
        status: "draft",
        components,
      }),
    );
    expect(created).toEqual({
      id: "chat-pro",
      product: "chat-api",
      name: "Chat Pro",
      currency: "EUR",
      period: "year",
      trial_days: 14,
      status: "draft",
      components,
      published_at: null,
      created_at: expect.stringMatching(ISO),
      updated_at: expect.stringMatching(ISO),
    });
    expect((await api.get("/plans/chat-pro")).body).toEqual(created);
  });

  it("fills in defaults: USD, monthly, no trial, active", async () => {
    const api = await setup();
    const created = expectCreated(await api.post("/plans", planBody()));
    expect(created).toMatchObject({
      currency: "USD",
      period: "month",
      trial_days: 0,
      status: "active",
    });
  });

  it("returns amounts given as numbers as decimal strings", async () => {
    const api = await setup();
    const created = expectCreated(
      await api.post(
        "/plans",
        planBody({
          components: [
            { type: "flat", amount: 2000 },
            { type: "per_unit", metric: "input_tokens", unit_price: 0.25 },
            {
              type: "tiered",
              metric: "output_tokens",
              mode: "volume",
              tiers: [
                { up_to: 1000, unit_price: 0.5, flat_fee: 10 },
                { up_to: null, unit_price: 0.125 },
              ],
            },
            { type: "discount", metric: "input_tokens", above: 1_000_000, percent: 12.5 },
          ],
        }),
      ),
    );
    expect(created.components).toEqual([
      { type: "flat", amount: "2000" },
      { type: "per_unit", metric: "input_tokens", unit_price: "0.25" },
      {
        type: "tiered",
        metric: "output_tokens",
        mode: "volume",
        tiers: [
          { up_to: "1000", unit_price: "0.5", flat_fee: "10" },
          { up_to: null, unit_price: "0.125" },
        ],
      },
      { type: "discount", metric: "input_tokens", above: "1000000", percent: "12.5" },
    ]);
    expect((await api.get("/plans/chat-pro")).body.components).toEqual(created.components);
  });

  // Numbers below 1e-6 print in exponent notation in JS; amounts must come back as decimals.
  it("returns small numeric prices as plain decimal strings, not exponent notation", async () => {
    const api = await setup();
    const created = expectCreated(
      await api.post("/plans", planBody({ components: [perUnit("input_tokens", 0.0000003)] })),
    );
    expect(created.components[0].unit_price).toBe("0.0000003");
  });

  it("lists plans in pages, filtered by product and status", async () => {
    const api = await setup();
    await seedProduct(api, "embed-api", ["vectors"]);
    const chat = ["chat-a", "chat-b", "chat-c", "chat-d", "chat-e"];
    for (const id of chat) {
      expectCreated(await api.post("/plans", planBody({ id, name: id })));
    }
    for (const id of ["embed-a", "embed-b"]) {
      expectCreated(
        await api.post(
          "/plans",
          planBody({ id, name: id, product: "embed-api", components: [perUnit("vectors")] }),
        ),
      );
    }
    await api.patch("/plans/chat-b", { status: "archived" });
    await api.patch("/plans/chat-d", { status: "archived" });

    const everything = await allPages(api, "/plans", 3);
    expect(sizesOf(everything)).toEqual([3, 3, 1]);
    expect(idsOf(everything)).toEqual([...chat, "embed-a", "embed-b"]);

    const chatOnly = await allPages(api, "/plans?product=chat-api", 2);
    expect(sizesOf(chatOnly)).toEqual([2, 2, 1]);
    expect(idsOf(chatOnly)).toEqual(chat);

    const archived = await allPages(api, "/plans?status=archived", 1);
    expect(idsOf(archived)).toEqual(["chat-b", "chat-d"]);
    const activeChat = await allPages(api, "/plans?product=chat-api&status=active", 2);
    expect(idsOf(activeChat)).toEqual(["chat-a", "chat-c", "chat-e"]);
    expect((await api.get("/plans?product=no-such-product")).body).toEqual({
      data: [],
      next_cursor: null,
    });
    expectValidation(await api.get("/plans?status=retired"), "query.status");
    expectValidation(await api.get("/plans?product=bad%20id"), "query.product");
    expectValidation(await api.get("/plans?cursor=%%%"), "query.cursor");
  });

  it("renames a plan and changes its status", async () => {
    const api = await setup();
    const created = expectCreated(await api.post("/plans", planBody()));
    const res = await api.patch("/plans/chat-pro", { name: "Chat Pro 2025", status: "archived" });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      ...created,
      name: "Chat Pro 2025",
      status: "archived",
      updated_at: expect.stringMatching(ISO),
    });
    expect((await api.get("/plans/chat-pro")).body).toEqual(res.body);
  });

  it("refuses to PATCH a published plan's components, currency or period", async () => {
    const api = await setup();
    const created = expectCreated(await api.post("/plans", planBody()));
    for (const body of [
      { components: [perUnit("input_tokens", "0.5")] },
      { name: "Cheaper", components: [perUnit("input_tokens", "0.5")] },
      { currency: "EUR" },
      { period: "year" },
      { trial_days: 30 },
    ]) {
      const res = await api.patch("/plans/chat-pro", body);
      expectProblem(res, 409, "conflict");
      expect(res.body.detail).toContain("a new price is a new plan");
    }
    expectValidation(await api.patch("/plans/chat-pro", { interval: "year" }), "");
    expectValidation(await api.patch("/plans/chat-pro", {}), "");
    expectValidation(await api.patch("/plans/chat-pro", { status: "deleted" }), "status");
    expectValidation(await api.patch("/plans/chat-pro", { name: TEN_KB }), "name");
    expect((await api.get("/plans/chat-pro")).body).toEqual(created);
  });

  it("answers a duplicate plan id with 409 and keeps the original prices", async () => {
    const api = await setup();
    const created = expectCreated(await api.post("/plans", planBody()));
    const again = await api.post(
      "/plans",
      planBody({ name: "Other", components: [perUnit("input_tokens", "9")] }),
    );
    expectProblem(again, 409, "conflict");
    expect((await api.get("/plans/chat-pro")).body).toEqual(created);
  });

  it("answers unknown plans with 404", async () => {
    const api = await setup();
    expectProblem(await api.get("/plans/nope"), 404, "not_found");
    expectProblem(await api.patch("/plans/nope", { name: "x" }), 404, "not_found");
    expectValidation(await api.get("/plans/bad%20id"), "param.id");
  });

  const flat = { type: "flat", amount: "10" };
  it.each<[string, Record<string, unknown>, string]>([
    ["missing id", { id: undefined }, "id"],
    ["an id with a space", { id: "chat pro" }, "id"],
    ["an id of the wrong type", { id: 42 }, "id"],
    ["a 10 KB name", { name: TEN_KB }, "name"],
    ["a blank name", { name: " " }, "name"],
    ["missing product", { product: undefined }, "product"],
    ["an unknown product", { product: "no-such-product" }, "product"],
    ["a lower-case currency", { currency: "usd" }, "currency"],
    ["a weekly period", { period: "week" }, "period"],
    ["negative trial_days", { trial_days: -1 }, "trial_days"],
    ["fractional trial_days", { trial_days: 1.5 }, "trial_days"],
    ["trial_days as a string", { trial_days: "14" }, "trial_days"],
    ["an unknown status", { status: "live" }, "status"],
    ["missing components", { components: undefined }, "components"],
    ["no components", { components: [] }, "components"],
    ["components that are not a list", { components: "flat" }, "components"],
    ["an unknown component type", { components: [{ type: "bogus" }] }, "components.0.type"],
    ["a flat fee without amount", { components: [{ type: "flat" }] }, "components.0.amount"],
    ["two flat fees", { components: [flat, flat] }, "components.1"],
    [
      "a negative price (string)",
      { components: [perUnit("input_tokens", "-0.01")] },
      "components.0.unit_price",
    ],
    [
      "a negative price (number)",
      { components: [perUnit("input_tokens", -0.01)] },
      "components.0.unit_price",
    ],
    [
      "a price that is not a number",
      { components: [perUnit("input_tokens", "cheap")] },
      "components.0.unit_price",
    ],
    [
      "a price with more than 9 decimals",
      { components: [perUnit("input_tokens", "0.0000000001")] },
      "components.0.unit_price",
    ],
    ["a 10 KB metric id", { components: [perUnit(TEN_KB)] }, "components.0.metric"],
    [
      "a component metric unknown to the product",
      { components: [perUnit("images")] },
      "components.0.metric",
    ],
    [
      "overlapping tiers",
      {
        components: [
          tiered([
            { up_to: 1000, unit_price: "0.02" },
            { up_to: 500, unit_price: "0.01" },
            { up_to: null, unit_price: "0.005" },
          ]),
        ],
      },
      "components.0.tiers.1.up_to",
    ],
    [
      "non-increasing tiers",
      {
        components: [
          tiered([
            { up_to: 1000, unit_price: "0.02" },
            { up_to: 1000, unit_price: "0.01" },
            { up_to: null, unit_price: "0.005" },
          ]),
        ],
      },
      "components.0.tiers.1.up_to",
    ],
    [
      "a first tier ending at 0",
      {
        components: [
          tiered([
            { up_to: 0, unit_price: "1" },
            { up_to: null, unit_price: "0" },
          ]),
        ],
      },
      "components.0.tiers.0.up_to",
    ],
    [
      "tiers without an open last tier",
      {
        components: [
          tiered([
            { up_to: 1000, unit_price: "0.02" },
            { up_to: 2000, unit_price: "0.01" },
          ]),
        ],
      },
      "components.0.tiers.1.up_to",
    ],
    [
      "an open tier that is not last",
      {
        components: [
          tiered([
            { up_to: null, unit_price: "0.02" },
            { up_to: 1000, unit_price: "0.01" },
          ]),
        ],
      },
      "components.0.tiers.0.up_to",
    ],
    ["an empty tier list", { components: [tiered([])] }, "components.0.tiers"],
    [
      "an unknown tier mode",
      {
        components: [{ ...tiered([{ up_to: null, unit_price: "1" }]), mode: "stairstep" }],
      },
      "components.0.mode",
    ],
    [
      "a negative tier flat fee",
      { components: [tiered([{ up_to: null, unit_price: "1", flat_fee: -5 }])] },
      "components.0.tiers.0.flat_fee",
    ],
    [
      "an included quota on a metric the plan does not price",
      {
        components: [
          perUnit("input_tokens"),
          { type: "included", metric: "output_tokens", quantity: 1000 },
        ],
      },
      "components.1.metric",
    ],
    [
      "a discount on a metric the plan does not price",
      {
        components: [
          perUnit("input_tokens"),
          { type: "discount", metric: "output_tokens", above: 1000, percent: 10 },
        ],
      },
      "components.1.metric",
    ],
    [
      "a discount over 100 percent",
      {
        components: [
          perUnit("input_tokens"),
          { type: "discount", metric: "input_tokens", above: 1000, percent: 101 },
        ],
      },
      "components.1.percent",
    ],
    [
      "a plan-wide discount over 100 percent",
      { components: [flat, { type: "discount", above: "100", percent: "100.5" }] },
      "components.1.percent",
    ],
    [
      "a negative percent",
      {
        components: [
          perUnit("input_tokens"),
          { type: "discount", metric: "input_tokens", above: 0, percent: -10 },
        ],
      },
      "components.1.percent",
    ],
    [
      "a package of size 0",
      { components: [{ type: "package", metric: "input_tokens", size: 0, price: "1" }] },
      "components.0.size",
    ],
    [
      'a package of size "0"',
      { components: [{ type: "package", metric: "input_tokens", size: "0", price: "1" }] },
      "components.0.size",
    ],
    [
      "a package without price",
      { components: [{ type: "package", metric: "input_tokens", size: 1000 }] },
      "components.0.price",
    ],
  ])("POST /plans with %s → 400 naming the field", async (_label, overrides, path) => {
    const api = await setup();
    expectValidation(await api.post("/plans", planBody(overrides)), path);
    expect((await api.get("/plans")).body.data).toEqual([]);
  });

  it("rejects a component metric that belongs to another product of the tenant", async () => {
    const api = await setup();
    await seedProduct(api, "embed-api", ["vectors"]);
    expectValidation(
      await api.post("/plans", planBody({ components: [perUnit("vectors")] })),
      "components.0.metric",
    );
  });

  it("lists every problem of a plan at once", async () => {
    const api = await setup();
    const res = await api.post(
      "/plans",
      planBody({
        components: [
          perUnit("images"),
          { type: "package", metric: "input_tokens", size: 0, price: "1" },
          { type: "discount", metric: "input_tokens", above: 0, percent: 150 },
        ],
      }),
    );
    expectValidation(res, "components.0.metric");
    expectValidation(res, "components.1.size");
    expectValidation(res, "components.2.percent");
  });
});

// ------------------------------------------------------------------------------------------------

describe("customers", () => {
  it("creates a customer that reads back equal", async () => {
    const api = await newApi();
    const created = expectCreated(
      await api.post("/customers", {
        id: "acme",
        name: "Acme Corp",
        email: "billing@acme.test",
        metadata: { segment: "enterprise", seats: 40, vip: true, owner: null },
      }),
    );
    expect(created).toEqual({
      id: "acme",
      name: "Acme Corp",
      email: "billing@acme.test",
      metadata: { segment: "enterprise", seats: 40, vip: true, owner: null },
      created_at: expect.stringMatching(ISO),
      updated_at: expect.stringMatching(ISO),
    });
    expect((await api.get("/customers/acme")).body).toEqual(created);
    const bare = expectCreated(await api.post("/customers", { id: "bare", name: "Bare" }));
    expect(bare).toMatchObject({ email: null, metadata: {} });
  });

  it("paginates and filters by a search on id, name or email", async () => {
    const api = await newApi();
    const people = [
      { id: "c-01", name: "Alpha Labs", email: "ops@alpha.test" },
      { id: "c-02", name: "Beta Works", email: "team@beta.test" },
      { id: "c-03", name: "Gamma", email: "gamma@labs.test" },
      { id: "c-04", name: "Delta Labs" },
      { id: "c-05", name: "100% Organic" },
      { id: "labs-06", name: "Epsilon" },
      { id: "c-07", name: "Zeta_Corp" },
    ];
    for (const p of people) expectCreated(await api.post("/customers", p));

    const all = await allPages(api, "/customers", 3);
    expect(sizesOf(all)).toEqual([3, 3, 1]);
    expect(idsOf(all)).toEqual(people.map((p) => p.id).sort());

    const labs = await allPages(api, "/customers?q=labs", 2);
    expect(sizesOf(labs)).toEqual([2, 2]);
    expect(idsOf(labs)).toEqual(["c-01", "c-03", "c-04", "labs-06"]);
    // LIKE wildcards in q are literal characters.
    expect(idsOf(await allPages(api, "/customers?q=%25", 10))).toEqual(["c-05"]);
    expect(idsOf(await allPages(api, "/customers?q=_", 10))).toEqual(["c-07"]);
    expect(idsOf(await allPages(api, "/customers?q=beta.test", 10))).toEqual(["c-02"]);
    expect((await api.get("/customers?q=nobody")).body).toEqual({ data: [], next_cursor: null });
    expectValidation(await api.get(`/customers?q=${TEN_KB}`), "query.q");
    expectValidation(await api.get("/customers?limit=-1"), "query.limit");
    expectValidation(await api.get("/customers?cursor=@@@"), "query.cursor");
  });

  it("updates name, email and metadata, and clears the email", async () => {
    const api = await newApi();
    const created = expectCreated(
      await api.post("/customers", {
        id: "acme",
        name: "Acme",
        email: "a@acme.test",
        metadata: { segment: "smb", region: "eu" },
      }),
    );
    const res = await api.patch("/customers/acme", {
      name: "Acme Corp",
      metadata: { segment: "enterprise" },
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      ...created,
      name: "Acme Corp",
      metadata: { segment: "enterprise" },
      updated_at: expect.stringMatching(ISO),
    });
    const cleared = await api.patch("/customers/acme", { email: null });
    expect(cleared.body).toMatchObject({ name: "Acme Corp", email: null });
    expect((await api.get("/customers/acme")).body).toEqual(cleared.body);
  });

  it("answers duplicates with 409 and unknown customers with 404", async () => {
    const api = await newApi();
    const created = expectCreated(await api.post("/customers", { id: "acme", name: "Acme" }));
    expectProblem(await api.post("/customers", { id: "acme", name: "Other" }), 409, "conflict");
    expect((await api.get("/customers/acme")).body).toEqual(created);
    expectProblem(await api.get("/customers/nope"), 404, "not_found");
    expectProblem(await api.patch("/customers/nope", { name: "x" }), 404, "not_found");
  });

  const fiftyOneKeys = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, i]));
  it.each<[string, Record<string, unknown>, string]>([
    ["missing id", { name: "Acme" }, "id"],
    ["missing name", { id: "acme" }, "name"],
    ["a bad id", { id: "acme corp", name: "Acme" }, "id"],
    ["an id of the wrong type", { id: ["acme"], name: "Acme" }, "id"],
    ["a 10 KB name", { id: "acme", name: TEN_KB }, "name"],
    ["an invalid email", { id: "acme", name: "Acme", email: "not-an-email" }, "email"],
    ["a 10 KB email", { id: "acme", name: "Acme", email: `${TEN_KB}@acme.test` }, "email"],
    ["metadata that is not an object", { id: "acme", name: "Acme", metadata: "vip" }, "metadata"],
    [
      "a 10 KB metadata value",
      { id: "acme", name: "Acme", metadata: { note: TEN_KB } },
      "metadata.note",
    ],
    [
      "a nested metadata value",
      { id: "acme", name: "Acme", metadata: { owner: { name: "x" } } },
      "metadata.owner",
    ],
    [
      "a metadata key of 65 characters",
      { id: "acme", name: "Acme", metadata: { ["k".repeat(65)]: "x" } },
      `metadata.${"k".repeat(65)}`,
    ],
    [
      "more than 50 metadata keys",
      { id: "acme", name: "Acme", metadata: fiftyOneKeys },
      "metadata",
    ],
  ])("POST /customers with %s → 400 naming the field", async (_label, body, path) => {
    const api = await newApi();
    expectValidation(await api.post("/customers", body), path);
    expect((await api.get("/customers")).body.data).toEqual([]);
  });

  it("rejects invalid PATCHes and leaves the customer unchanged", async () => {
    const api = await newApi();
    const created = expectCreated(await api.post("/customers", { id: "acme", name: "Acme" }));
    expectValidation(await api.patch("/customers/acme", {}), "");
    expectValidation(await api.patch("/customers/acme", { email: "nope" }), "email");
    expectValidation(await api.patch("/customers/acme", { name: TEN_KB }), "name");
    expectValidation(await api.patch("/customers/acme", { metadata: { n: TEN_KB } }), "metadata.n");
    const unknown = await api.patch("/customers/acme", { id: "renamed" });
    expectValidation(unknown, "");
    expect(unknown.body.errors[0].message).toContain("id");
    expectValidation(await api.patch("/customers/bad%20id", { name: "x" }), "param.id");
    expect((await api.get("/customers/acme")).body).toEqual(created);
  });
});

// ------------------------------------------------------------------------------------------------

describe("subscriptions", () => {
  /** chat-api with plans chat-pro (no trial), chat-trial (14 days), chat-old (archived);
   * embed-api with plan embed-basic; customers acme and beta. */
  async function setup() {
    const api = await newApi();
    await seedProduct(api);
    await seedProduct(api, "embed-api", ["vectors"]);
    expectCreated(await api.post("/plans", planBody()));
    expectCreated(await api.post("/plans", planBody({ id: "chat-trial", trial_days: 14 })));
    expectCreated(await api.post("/plans", planBody({ id: "chat-old", status: "archived" })));
    expectCreated(
      await api.post(
        "/plans",
        planBody({ id: "embed-basic", product: "embed-api", components: [perUnit("vectors")] }),
      ),
    );
    expectCreated(await api.post("/customers", { id: "acme", name: "Acme" }));
    expectCreated(await api.post("/customers", { id: "beta", name: "Beta" }));
    return api;
  }

  /** An instant `days` ago, to the second, as ISO 8601. */
  const daysAgo = (days: number) =>
    new Date(Math.floor((Date.now() - days * DAY_MS) / 1000) * 1000).toISOString();

  it("subscribes a customer and reads it back equal", async () => {
    const api = await setup();
    const created = expectCreated(
      await api.post("/subscriptions", {
        customer: "acme",
        plan: "chat-pro",
        start: "2026-11-01T00:00:00Z",
      }),
    );
    expect(created).toEqual({
      id: expect.stringMatching(/^sub_[0-9a-f]{16}$/),
      customer: "acme",
      plan: "chat-pro",
      product: "chat-api",
      status: "active",
      start: "2026-11-01T00:00:00.000Z",
      trial_end: null,
      end: null,
      created_at: expect.stringMatching(ISO),
      updated_at: expect.stringMatching(ISO),
    });
    expect((await api.get(`/subscriptions/${created.id}`)).body).toEqual(created);
    expect((await api.get("/subscriptions")).body).toEqual({ data: [created], next_cursor: null });
  });

  it("takes a chosen id and a start with an offset", async () => {
    const api = await setup();
    const created = expectCreated(
      await api.post("/subscriptions", {
        id: "acme-chat",
        customer: "acme",
        plan: "chat-pro",
        start: "2026-11-01T02:00:00+02:00",
      }),
    );
    expect(created).toMatchObject({ id: "acme-chat", start: "2026-11-01T00:00:00.000Z" });
    expect((await api.get("/subscriptions/acme-chat")).body).toEqual(created);
  });

  it("derives trial_end from a past start and the plan's trial_days, still trialing", async () => {
    const api = await setup();
    const start = daysAgo(3);
    const created = expectCreated(
      await api.post("/subscriptions", { customer: "acme", plan: "chat-trial", start }),
    );
    expect(created.start).toBe(start);
    expect(created.trial_end).toBe(new Date(Date.parse(start) + 14 * DAY_MS).toISOString());
    expect(created.status).toBe("trialing");
    expect((await api.get(`/subscriptions/${created.id}`)).body.status).toBe("trialing");
  });

  it("reads as active once a backdated trial is over", async () => {
    const api = await setup();
    const created = expectCreated(
      await api.post("/subscriptions", {
        customer: "acme",
        plan: "chat-trial",
        start: "2020-01-01T00:00:00Z",
      }),
    );
    expect(created).toMatchObject({
      start: "2020-01-01T00:00:00.000Z",
      trial_end: "2020-01-15T00:00:00.000Z",
      status: "active",
    });
    expect((await api.get(`/subscriptions/${created.id}`)).body.status).toBe("active");
  });

  it("lets an explicit trial_end override, or null remove, the plan's trial", async () => {
    const api = await setup();
    const noTrial = expectCreated(
      await api.post("/subscriptions", {
        customer: "acme",
        plan: "chat-trial",
        start: daysAgo(1),
        trial_end: null,
      }),
    );
    expect(noTrial).toMatchObject({ trial_end: null, status: "active" });
    const start = daysAgo(2);
    const trialEnd = new Date(Date.parse(start) + 30 * DAY_MS).toISOString();
    const custom = expectCreated(
      await api.post("/subscriptions", {
        customer: "beta",
        plan: "chat-pro",
        start,
        trial_end: trialEnd,
      }),
    );
    expect(custom).toMatchObject({ trial_end: trialEnd, status: "trialing" });
  });

  it("lists subscriptions in pages, filtered by customer, plan and product", async () => {
    const api = await setup();
    const extra = ["c-1", "c-2", "c-3"];
    for (const id of extra) expectCreated(await api.post("/customers", { id, name: id }));
    const made: { id: string; customer: string; plan: string }[] = [];
    for (const customer of ["acme", "beta", ...extra]) {
      made.push(
        expectCreated(
          await api.post("/subscriptions", {
            id: `s-${customer}-chat`,
            customer,
            plan: "chat-pro",
            start: "2026-01-01T00:00:00Z",
          }),
        ),
      );
    }
    made.push(
      expectCreated(
        await api.post("/subscriptions", {
          id: "s-acme-embed",
          customer: "acme",
          plan: "embed-basic",
          start: "2026-01-01T00:00:00Z",
        }),
      ),
    );
    const all = await allPages(api, "/subscriptions", 2);
    expect(sizesOf(all)).toEqual([2, 2, 2]);
    expect(idsOf(all)).toEqual(made.map((s) => s.id).sort());

    const acme = await allPages(api, "/subscriptions?customer=acme", 1);
    expect(idsOf(acme)).toEqual(["s-acme-chat", "s-acme-embed"]);
    const chat = await allPages(api, "/subscriptions?product=chat-api", 2);
    expect(sizesOf(chat)).toEqual([2, 2, 1]);
    expect(chat.flat().every((s) => (s as { product?: string }).product === "chat-api")).toBe(true);
    expect(idsOf(await allPages(api, "/subscriptions?plan=embed-basic", 5))).toEqual([
      "s-acme-embed",
    ]);
    expect(idsOf(await allPages(api, "/subscriptions?customer=beta&product=embed-api", 5))).toEqual(
      [],
    );
    expectValidation(await api.get("/subscriptions?customer=bad%20id"), "query.customer");
    expectValidation(await api.get("/subscriptions?limit=1000"), "query.limit");
    expectValidation(await api.get("/subscriptions?cursor=***"), "query.cursor");
  });

  it("refuses a second live subscription to the same product with 409", async () => {
    const api = await setup();
    const first = expectCreated(
      await api.post("/subscriptions", {
        customer: "acme",
        plan: "chat-pro",
        start: "2026-01-01T00:00:00Z",
      }),
    );
    const again = await api.post("/subscriptions", {
      customer: "acme",
      plan: "chat-trial",
      start: "2026-06-01T00:00:00Z",
    });
    expectProblem(again, 409, "conflict");
    expect(again.body.detail).toContain(first.id);
    // Another product, or another customer, is fine.
    expectCreated(
      await api.post("/subscriptions", {
        customer: "acme",
        plan: "embed-basic",
        start: "2026-01-01T00:00:00Z",
      }),
    );
    expectCreated(
      await api.post("/subscriptions", {
        customer: "beta",
        plan: "chat-pro",
        start: "2026-01-01T00:00:00Z",
      }),
    );
    expect(idsOf(await allPages(api, "/subscriptions?customer=acme&product=chat-api", 5))).toEqual([
      first.id,
    ]);
  });

  it("answers a duplicate subscription id with 409", async () => {
    const api = await setup();
    const first = expectCreated(
      await api.post("/subscriptions", {
        id: "sub-1",
        customer: "acme",
        plan: "chat-pro",
        start: "2026-01-01T00:00:00Z",
      }),
    );
    const dup = await api.post("/subscriptions", {
      id: "sub-1",
      customer: "beta",
      plan: "embed-basic",
      start: "2026-01-01T00:00:00Z",
    });
    expectProblem(dup, 409, "conflict");
    expect((await api.get("/subscriptions/sub-1")).body).toEqual(first);
  });

  it("answers unknown subscriptions with 404", async () => {
    const api = await setup();
    expectProblem(await api.get("/subscriptions/sub_0000000000000000"), 404, "not_found");
    expectValidation(await api.get("/subscriptions/bad%20id"), "param.id");
  });

  const start = "2026-01-01T00:00:00Z";
  it.each<[string, Record<string, unknown>, string]>([
    ["a missing customer field", { plan: "chat-pro", start }, "customer"],
    ["an unknown customer", { customer: "ghost", plan: "chat-pro", start }, "customer"],
    ["a missing plan field", { customer: "acme", start }, "plan"],
    ["an unknown plan", { customer: "acme", plan: "ghost", start }, "plan"],
    ["an archived plan", { customer: "acme", plan: "chat-old", start }, "plan"],
    ["a missing start", { customer: "acme", plan: "chat-pro" }, "start"],
    ["a date-only start", { customer: "acme", plan: "chat-pro", start: "2026-01-01" }, "start"],
    [
      "a start of the wrong type",
      { customer: "acme", plan: "chat-pro", start: 1767225600 },
      "start",
    ],
    ["a 10 KB start", { customer: "acme", plan: "chat-pro", start: TEN_KB }, "start"],
    [
      "trial_end before start",
      { customer: "acme", plan: "chat-pro", start, trial_end: "2025-12-31T00:00:00Z" },
      "trial_end",
    ],
    [
      "trial_end equal to start",
      { customer: "acme", plan: "chat-pro", start, trial_end: start },
      "trial_end",
    ],
    ["a bad id", { id: "sub 1", customer: "acme", plan: "chat-pro", start }, "id"],
    ["a 10 KB customer", { customer: TEN_KB, plan: "chat-pro", start }, "customer"],
    ["a customer of the wrong type", { customer: 7, plan: "chat-pro", start }, "customer"],
  ])("POST /subscriptions with %s → 400 naming the field", async (_label, body, path) => {
    const api = await setup();
    expectValidation(await api.post("/subscriptions", body), path);
    expect((await api.get("/subscriptions")).body.data).toEqual([]);
  });

  it("refuses a plan archived after creation", async () => {
    const api = await setup();
    await api.patch("/plans/chat-pro", { status: "archived" });
    expectValidation(
      await api.post("/subscriptions", { customer: "acme", plan: "chat-pro", start }),
      "plan",
    );
  });
});

// ------------------------------------------------------------------------------------------------

describe("cost catalog", () => {
  const sonnet = {
    provider: "anthropic",
    model: "claude-sonnet-4-5",
    input_per_million: "3",
    output_per_million: "15",
    cached_input_per_million: "0.30",
    per_call: null,
    effective_from: "2026-01-01T00:00:00Z",
  };
  const asStored = (e: typeof sonnet) => ({
    ...e,
    effective_from: new Date(e.effective_from).toISOString(),
  });

  it("starts empty, then returns the whole catalog after a PUT", async () => {
    const api = await newApi();
    expect((await api.get("/cost-catalog")).body).toEqual({ data: [] });
    const gpt = {
      provider: "openai",
      model: "gpt-5",
      input_per_million: "1.25",
      output_per_million: "10",
      effective_from: "2026-02-01T00:00:00Z",
    };
    const put = await api.put("/cost-catalog", [gpt, sonnet]);
    expect(put.status).toBe(200);
    const expected = [
      asStored(sonnet),
      {
        ...gpt,
        cached_input_per_million: null,
        per_call: null,
        effective_from: "2026-02-01T00:00:00.000Z",
      },
    ];
    expect(put.body).toEqual({ data: expected });
    expect((await api.get("/cost-catalog")).body).toEqual({ data: expected });
  });

  it("returns amounts given as numbers as decimal strings", async () => {
    const api = await newApi();
    const put = await api.put("/cost-catalog", [
      {
        provider: "anthropic",
        model: "claude-haiku-4-5",
        input_per_million: 1,
        output_per_million: 5,
        cached_input_per_million: 0.1,
        per_call: 0.002,
        effective_from: "2026-01-01T00:00:00Z",
      },
    ]);
    expect(put.status).toBe(200);
    expect(put.body.data[0]).toMatchObject({
      input_per_million: "1",
      output_per_million: "5",
      cached_input_per_million: "0.1",
      per_call: "0.002",
    });
  });

  it("replaces an entry with the same provider, model and effective_from, keeping other versions", async () => {
    const api = await newApi();
    const later = { ...sonnet, input_per_million: "2.5", effective_from: "2026-06-01T00:00:00Z" };
    const other = { ...sonnet, model: "claude-opus-4-5", input_per_million: "15" };
    await api.put("/cost-catalog", [sonnet, later, other]);
    const replaced = { ...sonnet, input_per_million: "3.5", output_per_million: "16" };
    const put = await api.put("/cost-catalog", [replaced]);
    expect(put.status).toBe(200);
    // Sorted by provider, model, effective_from: opus before sonnet.
    expect(put.body.data).toEqual([asStored(other), asStored(replaced), asStored(later)]);
    // The same instant written with an offset is the same version.
    const sameInstant = {
      ...sonnet,
      input_per_million: "4",
      cached_input_per_million: null,
      effective_from: "2026-01-01T01:00:00+01:00",
    };
    const again = await api.put("/cost-catalog", [sameInstant]);
    expect(again.body.data).toHaveLength(3);
    expect(again.body.data[1]).toEqual({
      ...sonnet,
      input_per_million: "4",
      cached_input_per_million: null,
      effective_from: "2026-01-01T00:00:00.000Z",
    });
    expect((await api.get("/cost-catalog")).body).toEqual(again.body);
  });

  it.each<[string, unknown, string]>([
    ["an empty list", [], ""],
    ["an object instead of a list", { ...sonnet }, ""],
    ["a missing provider", [{ ...sonnet, provider: undefined }], "0.provider"],
    ["a blank model", [{ ...sonnet, model: "  " }], "0.model"],
    ["a 10 KB provider", [{ ...sonnet, provider: TEN_KB }], "0.provider"],
    ["a missing input price", [{ ...sonnet, input_per_million: undefined }], "0.input_per_million"],
    [
      "a negative output price",
      [sonnet, { ...sonnet, output_per_million: -1 }],
      "1.output_per_million",
    ],
    ["a price as a word", [{ ...sonnet, per_call: "free" }], "0.per_call"],
    [
      "a date-only effective_from",
      [{ ...sonnet, effective_from: "2026-01-01" }],
      "0.effective_from",
    ],
    ["a missing effective_from", [{ ...sonnet, effective_from: undefined }], "0.effective_from"],
  ])(
    "PUT /cost-catalog with %s → 400 naming the field, nothing written",
    async (_l, body, path) => {
      const api = await newApi();
      expectValidation(await api.put("/cost-catalog", body), path);
      expect((await api.get("/cost-catalog")).body).toEqual({ data: [] });
    },
  );
});

// ------------------------------------------------------------------------------------------------

describe("keys list", () => {
  it("lists the tenant's keys by kind, never their secrets", async () => {
    const t = await createTenant();
    const api = client(t);
    const issued = expectCreated(await api.post("/keys", { kind: "ingest", name: "edge" }));
    const res = await api.get("/keys");
    expect(res.status).toBe(200);
    const ids = [t.ingest_key, t.operator_token].map((k) => k.split("_")[2]);
    expect(res.body.data).toHaveLength(3);
    expect(res.body.data.map((k: { id: string }) => k.id).sort()).toEqual(
      [...ids, issued.id].sort(),
    );
    for (const key of res.body.data) {
      expect(Object.keys(key).sort()).toEqual([
        "created_at",
        "id",
        "kind",
        "name",
        "revoked_at",
        "role",
      ]);
      expect(key.revoked_at).toBeNull();
    }
    expect(res.body.data.find((k: { id: string }) => k.id === issued.id)).toMatchObject({
      kind: "ingest",
      name: "edge",
    });
    const dump = JSON.stringify(res.body);
    for (const key of [t.ingest_key, t.operator_token, issued.key]) {
      expect(dump).not.toContain(key.split("_").slice(3).join("_"));
    }
  });
});

// ------------------------------------------------------------------------------------------------

describe("tenant isolation", () => {
  async function twoTenants() {
    const a = client(await createTenant("A"));
    const b = client(await createTenant("B"));
    const { subscription } = await createCatalog(a.tenant);
    await seedProduct(a, "embed-api", ["vectors"]);
    await a.put("/cost-catalog", [
      {
        provider: "anthropic",
        model: "claude-sonnet-4-5",
        input_per_million: "3",
        output_per_million: "15",
        effective_from: "2026-01-01T00:00:00Z",
      },
    ]);
    return { a, b, subscriptionId: subscription.id as string };
  }

  async function snapshot(api: Api, subscriptionId: string) {
    const paths = [
      "/products",
      "/products/chat-api",
      "/plans",
      "/plans/chat-pro",
      "/customers",
      "/customers/acme",
      "/subscriptions",
      `/subscriptions/${subscriptionId}`,
      "/cost-catalog",
      "/keys",
    ];
    const out: Record<string, unknown> = {};
    for (const path of paths) {
      const res = await api.get(path);
      expect(res.status, path).toBe(200);
      out[path] = res.body;
    }
    return out;
  }

  it("hides another tenant's catalog from reads and lists", async () => {
    const { a, b, subscriptionId } = await twoTenants();
    const before = await snapshot(a, subscriptionId);
    for (const path of [
      "/products/chat-api",
      "/products/chat-api/metrics",
      "/plans/chat-pro",
      "/customers/acme",
      `/subscriptions/${subscriptionId}`,
    ]) {
      expectProblem(await b.get(path), 404, "not_found");
    }
    const empty = { data: [], next_cursor: null };
    for (const path of [
      "/products",
      "/plans",
      "/plans?product=chat-api",
      "/customers",
      "/customers?q=acme",
      "/subscriptions",
      "/subscriptions?customer=acme",
      "/subscriptions?plan=chat-pro",
      "/subscriptions?product=chat-api",
    ]) {
      expect((await b.get(path)).body, path).toEqual(empty);
    }
    expect((await b.get("/cost-catalog")).body).toEqual({ data: [] });
    const keys = (await b.get("/keys")).body.data.map((k: { id: string }) => k.id);
    expect(keys).toHaveLength(2);
    expect(keys).not.toContain(a.tenant.operator_token.split("_")[2]);
    // A cursor from A's list does not reveal A's rows to B either.
    const page = await a.get("/products?limit=1");
    expect(page.body.next_cursor).toEqual(expect.any(String));
    const withCursor = await b.get(`/products?cursor=${page.body.next_cursor}`);
    expect(withCursor.body).toEqual({ data: [], next_cursor: null });
    expect(await snapshot(a, subscriptionId)).toEqual(before);
  });

  it("refuses updates and subscriptions across tenants, leaving A's data unchanged", async () => {
    const { a, b, subscriptionId } = await twoTenants();
    const before = await snapshot(a, subscriptionId);
    expectProblem(await b.patch("/products/chat-api", { name: "Hijacked" }), 404, "not_found");
    expectProblem(
      await b.post("/products/chat-api/metrics", { id: "stolen", unit: "x" }),
      404,
      "not_found",
    );
    expectProblem(await b.patch("/plans/chat-pro", { status: "archived" }), 404, "not_found");
    expectProblem(await b.patch("/customers/acme", { email: "evil@b.test" }), 404, "not_found");
    // B cannot price A's product, nor subscribe A's customer to A's plan.
    expectValidation(
      await b.post("/plans", planBody({ id: "b-plan", product: "chat-api" })),
      "product",
    );
    const sub = await b.post("/subscriptions", {
      customer: "acme",
      plan: "chat-pro",
      start: "2026-12-01T00:00:00Z",
    });
    expectValidation(sub, "customer");
    expectValidation(sub, "plan");
    // Nor mix its own customer with A's plan.
    expectCreated(await b.post("/customers", { id: "b-cust", name: "B customer" }));
    expectValidation(
      await b.post("/subscriptions", {
        customer: "b-cust",
        plan: "chat-pro",
        start: "2026-12-01T00:00:00Z",
      }),
      "plan",
    );
    // B's cost catalog writes stay in B.
    await b.put("/cost-catalog", [
      {
        provider: "anthropic",
        model: "claude-sonnet-4-5",
        input_per_million: "0",
        output_per_million: "0",
        effective_from: "2026-01-01T00:00:00Z",
      },
    ]);
    expect(await snapshot(a, subscriptionId)).toEqual(before);
  });

  it("lets two tenants use the same ids independently", async () => {
    const { a, b, subscriptionId } = await twoTenants();
    const before = await snapshot(a, subscriptionId);
    await createCatalog(b.tenant);
    expect((await b.get("/products/chat-api")).status).toBe(200);
    expect((await b.get("/plans")).body.data.map((p: { id: string }) => p.id)).toEqual([
      "chat-pro",
    ]);
    expect((await b.get("/subscriptions")).body.data).toHaveLength(1);
    const renamed = await b.patch("/products/chat-api", { name: "B's chat" });
    expect(renamed.body.name).toBe("B's chat");
    expect(await snapshot(a, subscriptionId)).toEqual(before);
  });
});

// ------------------------------------------------------------------------------------------------

describe("prototype-pollution keys in JSON bodies", () => {
  const pollution = '{"polluted": "yes", "description": "leaked", "email": "leak@x.test"}';

  function expectNotPolluted() {
    const probe: Record<string, unknown> = {};
    expect(probe.polluted).toBeUndefined();
    expect(probe.description).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty("polluted");
  }

  it("ignores or refuses __proto__ and constructor on product creation", async () => {
    const api = await newApi();
    for (const [id, extra] of [
      ["p1", `"__proto__": ${pollution}`],
      ["p2", `"constructor": {"prototype": ${pollution}}`],
    ]) {
      const res = await api.raw("POST", "/products", `{"id": "${id}", "name": "P", ${extra}}`);
      expect([201, 400]).toContain(res.status);
      if (res.status === 201) {
        expect(res.body.description).toBeNull();
        expect(res.body).not.toHaveProperty("polluted");
      } else {
        expectProblem(res, 400, "validation_failed");
      }
    }
    // A later, ordinary request is not affected.
    const clean = expectCreated(await api.post("/products", { id: "clean", name: "Clean" }));
    expect(clean.description).toBeNull();
    expect(clean).not.toHaveProperty("polluted");
    expectNotPolluted();
  });

  it("does not let customer metadata set a prototype or leak into other customers", async () => {
    const api = await newApi();
    const res = await api.raw(
      "POST",
      "/customers",
      `{"id": "acme", "name": "Acme", "metadata": {"__proto__": ${pollution}, "tier": "gold"}}`,
    );
    expect([201, 400]).toContain(res.status);
    if (res.status === 201) {
      const stored = (await api.get("/customers/acme")).body;
      expect(stored.email).toBeNull();
      expect(stored.metadata.tier).toBe("gold");
      expect(stored.metadata.polluted).toBeUndefined();
    }
    const ctor = await api.raw(
      "POST",
      "/customers",
      '{"id": "ctor", "name": "C", "metadata": {"constructor": "x", "prototype": "y"}}',
    );
    expect([201, 400]).toContain(ctor.status);
    const other = expectCreated(await api.post("/customers", { id: "other", name: "Other" }));
    expect(other.email).toBeNull();
    expect(other.metadata).toEqual({});
    expectNotPolluted();
  });

  it("refuses or ignores __proto__ in a plan PATCH without changing the plan", async () => {
    const api = await newApi();
    await seedProduct(api);
    const created = expectCreated(await api.post("/plans", planBody()));
    const res = await api.raw(
      "PATCH",
      "/plans/chat-pro",
      `{"__proto__": {"components": [], "status": "archived"}}`,
    );
    expect([200, 400]).toContain(res.status);
    const after = (await api.get("/plans/chat-pro")).body;
    expect(after.components).toEqual(created.components);
    expect(after.status).toBe("active");
    expectNotPolluted();
  });

  it("survives __proto__ inside plan components and cost catalog entries", async () => {
    const api = await newApi();
    await seedProduct(api);
    const plan = await api.raw(
      "POST",
      "/plans",
      JSON.stringify(planBody()).replace(
        '"type":"per_unit"',
        '"__proto__":{"type":"flat","amount":"999"},"type":"per_unit"',
      ),
    );
    expect([201, 400]).toContain(plan.status);
    if (plan.status === 201) expect(plan.body.components).toEqual([perUnit()]);
    const cost = await api.raw(
      "PUT",
      "/cost-catalog",
      '[{"__proto__": {"per_call": "1"}, "provider": "p", "model": "m", "input_per_million": "1",' +
        ' "output_per_million": "2", "effective_from": "2026-01-01T00:00:00Z"}]',
    );
    expect([200, 400]).toContain(cost.status);
    if (cost.status === 200) expect(cost.body.data[0].per_call).toBeNull();
    expectNotPolluted();
  });
});
