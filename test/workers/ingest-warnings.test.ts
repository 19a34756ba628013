import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { type CustomerBatch, ingestForCustomer } from "../../workers/actor-calls";
import { call, createCatalog, createTenant, type Tenant } from "./helpers";

// Honest costing at ingest (issue 12, item 5): an event Aforo cannot cost is flagged `uncosted`,
// and the /v1/events answer says so per event, beside every error of each rejected event.

let tenant: Tenant;
let seq = 0;
const now = () => new Date(Date.now() - 60_000).toISOString();
const op = () => ({ token: tenant.operator_token });
const send = (body: unknown, headers: Record<string, string> = {}) =>
  call("POST", "/v1/events", { token: tenant.ingest_key, body, headers });
const stored = async (customer = "acme") => {
  const page = await call("GET", `/api/customers/${customer}/events?limit=100`, op());
  return Object.fromEntries(page.body.data.map((e: { id: string }) => [e.id, e]));
};
type Warned = { index: number; id: string; warnings: { code: string; path: string }[] };
const codes = (body: { warnings: Warned[] }) =>
  body.warnings.map((w) => [w.index, w.id, w.warnings.map((x) => x.code)]);

beforeEach(async () => {
  tenant = await createTenant(`Warn ${++seq}`);
  await createCatalog(tenant);
  await call("PUT", "/api/cost-catalog", {
    ...op(),
    body: [
      {
        provider: "anthropic",
        model: "claude-sonnet-4-5",
        input_per_million: "3",
        output_per_million: "15",
        effective_from: "2026-01-01T00:00:00Z",
      },
    ],
  });
});

describe("uncosted events", () => {
  it("README's example event (tokens, no cost) is stored uncosted and the answer says so", async () => {
    const res = await send([
      {
        id: "evt_1",
        customer: "acme",
        product: "chat-api",
        metric: "input_tokens",
        quantity: 1200,
        time: now(),
      },
    ]);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ accepted: 1, duplicates: 0, rejected: [] });
    expect(res.body.warnings).toEqual([
      {
        index: 0,
        id: "evt_1",
        warnings: [
          {
            code: "uncosted",
            path: "cost",
            message: expect.stringMatching(/flagged uncosted: no cost given/),
          },
        ],
      },
    ]);
    expect((await stored()).evt_1).toMatchObject({
      cost: "0",
      cost_status: "uncosted",
      flags: ["uncosted"],
    });
    // Sent again it is a duplicate: nothing new is stored, so nothing new to warn about.
    const again = await send([
      {
        id: "evt_1",
        customer: "acme",
        product: "chat-api",
        metric: "input_tokens",
        quantity: 1200,
        time: now(),
      },
    ]);
    expect(again.body).toMatchObject({ accepted: 0, duplicates: 1, warnings: [] });
  });

  it("a priced model is costed with no warning; an unpriced one is uncosted with the reason", async () => {
    const res = await send([
      {
        id: "priced",
        customer: "acme",
        product: "chat-api",
        metric: "input_tokens",
        quantity: 1200,
        time: now(),
        cost: { provider: "anthropic", model: "claude-sonnet-4-5", input_tokens: 1200 },
      },
      {
        id: "unpriced",
        customer: "acme",
        product: "chat-api",
        metric: "input_tokens",
        quantity: 10,
        time: now(),
        cost: { provider: "openai", model: "gpt-9", input_tokens: 10 },
      },
      {
        id: "usd",
        customer: "acme",
        product: "chat-api",
        metric: "output_tokens",
        quantity: 10,
        time: now(),
        cost: { usd: "0.25" },
      },
    ]);
    expect(res.body.accepted).toBe(3);
    expect(res.body.warnings).toEqual([
      {
        index: 1,
        id: "unpriced",
        warnings: [
          expect.objectContaining({
            code: "uncosted",
            message: expect.stringContaining("no catalog price for openai/gpt-9"),
          }),
        ],
      },
    ]);
    const byId = await stored();
    expect(byId.priced).toMatchObject({ cost: "0.0036", cost_status: "catalog", flags: [] });
    expect(byId.unpriced).toMatchObject({
      cost: "0",
      cost_status: "uncosted",
      flags: ["uncosted"],
    });
    expect(byId.usd).toMatchObject({ cost: "0.25", cost_status: "supplied", flags: [] });
  });

  it("a metric declared carries_cost: false needs no cost; switching it back flags its events again", async () => {
    const created = await call("POST", "/api/products/chat-api/metrics", {
      ...op(),
      body: { id: "requests", unit: "request", carries_cost: false },
    });
    expect(created.status).toBe(201);
    expect(created.body.carries_cost).toBe(false);
    const listed = await call("GET", "/api/products/chat-api/metrics", op());
    expect(
      listed.body.data.map((m: { id: string; carries_cost: boolean }) => [m.id, m.carries_cost]),
    ).toEqual([
      ["input_tokens", true],
      ["output_tokens", true],
      ["requests", false],
    ]);
    const ev = (id: string) => ({
      id,
      customer: "acme",
      product: "chat-api",
      metric: "requests",
      quantity: 1,
      time: now(),
    });
    const free = await send([ev("r1")]);
    expect(free.body).toMatchObject({ accepted: 1, warnings: [] });
    expect((await stored()).r1).toMatchObject({ cost: "0", cost_status: "none", flags: [] });

    const patched = await call("PATCH", "/api/products/chat-api/metrics/requests", {
      ...op(),
      body: { carries_cost: true },
    });
    expect(patched.status).toBe(200);
    expect(patched.body.carries_cost).toBe(true);
    const flagged = await send([ev("r2")]);
    expect(codes(flagged.body)).toEqual([[0, "r2", ["uncosted"]]]);
    expect((await stored()).r2).toMatchObject({ cost_status: "uncosted", flags: ["uncosted"] });

    const missing = await call("PATCH", "/api/products/chat-api/metrics/nope", {
      ...op(),
      body: { carries_cost: false },
    });
    expect(missing.status).toBe(404);
    expect(missing.contentType).toContain("application/problem+json");
    const bad = await call("PATCH", "/api/products/chat-api/metrics/requests", {
      ...op(),
      body: { carries_cost: "no" },
    });
    expect(bad.status).toBe(400);
  });
});

describe("per-event warnings", () => {
  it("cost information in properties, and an unknown customer, by index", async () => {
    const res = await send([
      {
        id: "props",
        customer: "acme",
        product: "chat-api",
        metric: "input_tokens",
        quantity: 1200,
        time: now(),
        properties: { model: "claude-sonnet-4-5", provider: "anthropic", endpoint: "/v1/chat" },
      },
      {
        id: "fine",
        customer: "acme",
        product: "chat-api",
        metric: "input_tokens",
        quantity: 5,
        time: now(),
        cost: { usd: "0.001" },
        properties: { endpoint: "/v1/chat" },
      },
      {
        id: "ghost-1",
        customer: "ghost",
        product: "chat-api",
        metric: "input_tokens",
        quantity: 5,
        time: now(),
        cost: { usd: "0.001" },
      },
    ]);
    expect(res.body.accepted).toBe(3);
    expect(codes(res.body)).toEqual([
      [0, "props", ["cost_in_properties", "cost_in_properties", "uncosted"]],
      [2, "ghost-1", ["unknown_customer"]],
    ]);
    const props = res.body.warnings[0].warnings;
    expect(props[0]).toMatchObject({
      path: "properties.model",
      message: expect.stringContaining("cost.model"),
    });
    expect(props[1].path).toBe("properties.provider");
    expect(res.body.warnings[1].warnings[0].message).toContain("'ghost'");
    // The ghost's event is stored, costed and flagged.
    expect((await stored("ghost"))["ghost-1"]).toMatchObject({
      cost: "0.001",
      flags: ["unknown_customer"],
    });
  });

  it("coalesced requests for one customer (one actor call) each get their own notes", async () => {
    // Through ingestForCustomer directly: the Workers pool cannot hand promises between request
    // contexts (see test/workers/hot-customer.test.ts), so concurrent HTTP requests cannot share.
    let calls = 0;
    const counting = {
      ...env,
      CUSTOMER_ACTOR: {
        getByName: (name: string) => {
          const stub = env.CUSTOMER_ACTOR.getByName(name);
          return {
            ingest: (req: unknown) => {
              calls++;
              return stub.ingest(req as never);
            },
          };
        },
      },
    } as unknown as Env;
    const t = Date.now() - 60_000;
    const ev = (id: string, cost?: { usd: string }) => ({
      id,
      customer: "acme",
      product: "chat-api",
      metric: "input_tokens",
      quantity: 3,
      time: t,
      source: "api",
      ...(cost ? { cost } : {}),
    });
    const batch = (r: number): CustomerBatch => ({
      tenantId: tenant.tenant_id,
      customerId: "acme",
      catalogVersion: 0,
      rawRetentionDays: 35,
      detail: false,
      events: [ev(`c${r}-a`, { usd: "0.01" }), ev(`c${r}-b`), ev("shared")],
    });
    const pending: Promise<unknown>[] = [];
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, r) =>
        ingestForCustomer(counting, (p) => pending.push(p), batch(r)),
      ),
    );
    await Promise.all(pending);
    expect(calls).toBeLessThan(8); // they did share calls
    // "shared" (no cost) is stored from the first request: only its answer notes it.
    expect(answers[0]?.noted.map((n) => n.id)).toEqual(["c0-b", "shared"]);
    for (const [r, a] of answers.entries()) {
      if (r > 0) expect(a.noted.map((n) => n.id)).toEqual([`c${r}-b`]);
      expect(a.noted.every((n) => n.flags.includes("uncosted"))).toBe(true);
    }
    expect(answers.reduce((n, a) => n + a.accepted, 0)).toBe(17);
    expect(answers.reduce((n, a) => n + a.duplicates, 0)).toBe(7);
  });
});

describe("every error of a rejected event", () => {
  it("reports the schema's errors and the catalog's and clock's together", async () => {
    const future = new Date(Date.now() + 3_600_000).toISOString();
    const res = await send([
      // Three errors: a negative quantity (schema), an unknown product (catalog), a time an
      // hour ahead (clock). Before, only the first was reported.
      {
        id: "bad-1",
        customer: "acme",
        product: "nope",
        metric: "input_tokens",
        quantity: -5,
        time: future,
      },
      // A known product without that metric, a quantity with too many decimals, a bad cost
      // block and a time past the backfill horizon.
      {
        id: "bad-2",
        customer: "acme",
        product: "chat-api",
        metric: "gpu_seconds",
        quantity: 0.1234567,
        time: new Date(Date.now() - 500 * 86_400_000).toISOString(),
        cost: { usd: -1 },
      },
      // CloudEvent-shaped inside a JSON array: same checks, on its own fields.
      {
        specversion: "1.0",
        id: "bad-3",
        source: "gw",
        type: "input_tokens",
        subject: "acme",
        time: future,
        data: { product: "nope", quantity: "x" },
      },
    ]);
    expect(res.status).toBe(200);
    expect(res.body.accepted).toBe(0);
    const paths = res.body.rejected.map(
      (r: { index: number; id: string; errors: { path: string }[] }) => [
        r.index,
        r.id,
        r.errors.map((e) => e.path).sort(),
      ],
    );
    expect(paths).toEqual([
      [0, "bad-1", ["product", "quantity", "time"]],
      [1, "bad-2", ["cost.usd", "metric", "quantity", "time"]],
      [2, "bad-3", ["data.quantity", "product", "time"]],
    ]);
    const [one] = res.body.rejected;
    expect(one.errors.find((e: { path: string }) => e.path === "product").message).toBe(
      "unknown product 'nope'",
    );
    expect(one.errors.find((e: { path: string }) => e.path === "time").message).toContain("future");
    expect(res.body.warnings).toEqual([]);
  });
});
