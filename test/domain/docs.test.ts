// The Documentation Hub's pure half (domain/docs) over the /openapi.json the Worker serves now
// (built the way scripts/generate-client.mjs builds it, so a new route is covered without
// anyone listing it): every operation is listed once under its tag, every one gets an
// explanation whose examples name its real method and path, and every example request body
// satisfies the operation's own request schema.

import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { exampleOf } from "../../domain/docs/example";
import {
  exampleBody,
  explainOperation,
  pythonLiteral,
  typeInWords,
} from "../../domain/docs/explain";
import { gettingStarted } from "../../domain/docs/getting-started";
import {
  type DocOperation,
  deref,
  groupByTag,
  listOperations,
  matchesSearch,
  type OpenApiDocument,
  operationIdOf,
  type SchemaNode,
  specHash,
} from "../../domain/docs/openapi";
import { servedDocument } from "../../scripts/generate-client.mjs";

let doc: OpenApiDocument;
let ops: DocOperation[];

beforeAll(async () => {
  doc = (await servedDocument()) as unknown as OpenApiDocument;
  ops = listOperations(doc);
}, 60_000);

/** A JSON schema as zod checks it (zod 4 reads JSON Schema 2020-12). */
const validator = (schema: SchemaNode) => z.fromJSONSchema(schema as never);

const byId = (id: string) => {
  const op = ops.find((o) => o.id === id);
  if (!op) throw new Error(`no operation ${id}`);
  return op;
};

describe("listing the served document", () => {
  it("lists every method of every path once, with a unique id, grouped by tag", () => {
    const declared = Object.values(doc.paths ?? {}).flatMap((item: SchemaNode) =>
      Object.keys(item).filter((m) => ["get", "post", "put", "patch", "delete"].includes(m)),
    );
    expect(ops.length).toBe(declared.length);
    expect(ops.length).toBeGreaterThan(100);
    expect(new Set(ops.map((o) => o.id)).size).toBe(ops.length);
    const groups = groupByTag(ops);
    expect(groups.map((g) => g.tag)).toEqual([...groups.map((g) => g.tag)].sort());
    expect(groups.flatMap((g) => g.operations).length).toBe(ops.length);
    expect(groups.find((g) => g.tag === "catalog")?.operations.map((o) => o.id)).toContain(
      "get_api_customers",
    );
  });

  it("reads parameters, the permission and the declared answers, with $ref resolved", () => {
    const list = byId("get_api_customers");
    expect(list).toMatchObject({ method: "get", path: "/api/customers", tag: "catalog" });
    expect(list.parameters.map((p) => [p.name, p.in, p.required])).toEqual([
      ["limit", "query", false],
      ["cursor", "query", false],
      ["q", "query", false],
    ]);
    const ok = list.responses.find((r) => r.status === "200");
    expect(ok?.schema?.properties?.data?.items?.properties?.email).toBeDefined();
    expect(JSON.stringify(list.responses)).not.toContain("$ref");
    expect(byId("post_api_customers").permission).toBe("customers:write");
    expect(byId("get_api_customers_id").parameters[0]).toMatchObject({
      name: "id",
      in: "path",
      required: true,
    });
    expect(byId("post_v1_events").requestBody?.contentTypes[0]).toBe("application/json");
  });

  it("keeps a recursive $ref a reference instead of looping", () => {
    const recursive = {
      ...doc,
      components: {
        schemas: {
          Node: { type: "object", properties: { child: { $ref: "#/components/schemas/Node" } } },
        },
      },
    } as OpenApiDocument;
    const out = deref(recursive, { $ref: "#/components/schemas/Node" });
    expect(out.properties.child).toEqual({ $ref: "#/components/schemas/Node" });
  });

  it("searches on method, path, summary and tag, every word", () => {
    const hits = ops.filter((o) => matchesSearch(o, "get customers"));
    expect(hits.map((o) => o.id)).toContain("get_api_customers");
    expect(hits.every((o) => o.method === "get")).toBe(true);
    expect(ops.filter((o) => matchesSearch(o, "no-such-word-anywhere"))).toEqual([]);
  });

  it("names an operation by its declared operationId, else by method and path", () => {
    expect(operationIdOf("get", "/api/customers/{id}/events")).toBe("get_api_customers_id_events");
    expect(operationIdOf("post", "/x", "createX")).toBe("createX");
  });

  it("hashes the document, not the origin that asked: a changed summary changes the hash", async () => {
    const hash = await specHash(doc);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(
      await specHash({ ...doc, servers: [{ url: "https://elsewhere" }] } as OpenApiDocument),
    ).toBe(hash);
    const changed = structuredClone(doc);
    const list = changed.paths?.["/api/customers"]?.get;
    if (!list) throw new Error("the spec lost GET /api/customers");
    list.summary = "List the customers";
    expect(await specHash(changed)).not.toBe(hash);
  });
});

describe("examples from schemas", () => {
  it("respects example, default, enum, formats, bounds, patterns and required", () => {
    expect(exampleOf({ type: "string", enum: ["usd", "eur"] })).toBe("usd");
    expect(exampleOf({ type: "integer", minimum: 1, maximum: 200, default: 50 })).toBe(50);
    expect(exampleOf({ type: "integer", minimum: 5, maximum: 9 })).toBe(5);
    expect(exampleOf({ type: "number", exclusiveMinimum: 0, maximum: 10 })).toBeGreaterThan(0);
    expect(exampleOf({ type: "integer", minimum: -3, maximum: -1 })).toBe(-1);
    expect(exampleOf({ type: "string", format: "date-time" })).toBe("2026-01-01T00:00:00Z");
    expect(exampleOf({ type: "string", format: "email" })).toBe("ada@example.com");
    expect(exampleOf({ type: "string", pattern: "^\\d{1,10}(\\.\\d{1,12})?$" })).toMatch(
      /^\d+(\.\d+)?$/,
    );
    expect(exampleOf({ type: "string", minLength: 12 })).toHaveLength(12);
    expect(exampleOf({ type: "string", maxLength: 2 })).toHaveLength(2);
    expect(exampleOf({ type: ["string", "null"] }, "request", "customer")).toBe("acme");
    expect(exampleOf({ anyOf: [{ type: "null" }, { type: "boolean" }] })).toBe(true);
    expect(exampleOf({ oneOf: [{ type: "integer", minimum: 3 }, { type: "string" }] })).toBe(3);
    expect(exampleOf({ type: "array", items: { type: "integer" }, minItems: 2 })).toEqual([1, 1]);
    const object = {
      type: "object",
      properties: {
        id: { type: "string" },
        note: { type: "string" },
        tag: { type: "string", example: "vip" },
      },
      required: ["id"],
    };
    expect(exampleOf(object, "request")).toEqual({ id: "acme", tag: "vip" });
    expect(exampleOf(object, "response")).toEqual({ id: "acme", note: "example", tag: "vip" });
    expect(
      exampleOf({
        allOf: [
          { type: "object", properties: { a: { type: "integer" } }, required: ["a"] },
          { type: "object", properties: { b: { type: "boolean" } }, required: ["b"] },
        ],
      }),
    ).toEqual({ a: 1, b: true });
  });

  it("gives every operation of the served spec a request body its own schema accepts", () => {
    const failures: string[] = [];
    let checked = 0;
    for (const op of ops) {
      if (!op.requestBody) continue;
      const body = exampleBody(op);
      const result = validator(op.requestBody.schema).safeParse(body);
      checked++;
      if (!result.success)
        failures.push(`${op.id}: ${JSON.stringify(body)} — ${result.error.message}`);
    }
    expect(checked).toBeGreaterThan(40);
    // The validator is a real one: a missing required field, or an id against its pattern, fails.
    const create = byId("post_api_customers").requestBody?.schema ?? {};
    expect(validator(create).safeParse({ id: "acme" }).success).toBe(false);
    expect(validator(create).safeParse({ id: "-bad id", name: "A" }).success).toBe(false);
    expect(failures).toEqual([]);
  });

  it("gives path and query parameters values their schemas accept", () => {
    const failures: string[] = [];
    for (const op of ops) {
      for (const p of op.parameters) {
        const value = exampleOf(p.schema, "request", p.name);
        if (!validator(p.schema).safeParse(value).success) {
          failures.push(`${op.id} ${p.name}=${JSON.stringify(value)}`);
        }
      }
    }
    expect(failures).toEqual([]);
  });
});

describe("the deterministic explanation", () => {
  it("explains every operation, its examples naming its real method and path", () => {
    for (const op of ops) {
      const e = explainOperation(op);
      expect(e.operation_id).toBe(op.id);
      const concretePath = e.examples.curl.match(/"\$AFORO_URL([^"?]*)/)?.[1] ?? "";
      // The curl's path is the template with each {param} filled in.
      const template = new RegExp(`^${op.path.replace(/\{[^}]+\}/g, "[^/]+")}$`);
      expect(concretePath, op.id).toMatch(template);
      expect(e.examples.curl.startsWith(`curl -X ${op.method.toUpperCase()} `), op.id).toBe(true);
      expect(e.examples.typescript, op.id).toContain(`"${op.path}"`);
      expect(e.examples.python, op.id).toContain(`requests.${op.method}(`);
      expect(e.summary.length, op.id).toBeGreaterThan(5);
      expect(e.when_to_use.length, op.id).toBeGreaterThan(20);
      expect(
        e.gotchas.some((g) => g.includes("problem+json")),
        op.id,
      ).toBe(true);
    }
  });

  it("the curl body is the example body, and it parses", () => {
    const op = byId("post_api_customers");
    const e = explainOperation(op);
    const sent = /-d '(.*)'$/m.exec(e.examples.curl)?.[1];
    expect(JSON.parse(sent ?? "null")).toEqual(exampleBody(op));
    expect(e.examples.curl).toContain('-H "Authorization: Bearer $AFORO_OPERATOR_TOKEN"');
    expect(e.examples.typescript).toContain("token: process.env.AFORO_OPERATOR_TOKEN");
    expect(e.examples.python).toContain('json={\n        "id": "acme",');
  });

  it("derives its gotchas from the schema: required fields, permission, key kind, pagination, errors", () => {
    const create = explainOperation(byId("post_api_customers"));
    expect(create.gotchas).toContain(
      "The body must carry `id`, `name`; every other field is optional.",
    );
    expect(create.gotchas.join("\n")).toMatch(
      /`customers:write` permission .* owner, admin, finance, revops hold/,
    );
    expect(create.gotchas.join("\n")).toContain("409 (Conflicts with existing state)");
    expect(create.gotchas.join("\n")).toContain("X-CSRF-Token");

    const list = explainOperation(byId("get_api_customers"));
    expect(list.gotchas.join("\n")).toContain(
      "Paginated: pass the answer's `next_cursor` as `cursor` until it is null. `limit` is at most 200 (default 50).",
    );
    expect(list.gotchas).toContain("Every role may call it (the `read` permission).");
    expect(list.examples.typescript).toContain('aforo.paginate("/api/customers"');
    expect(list.parameters.find((p) => p.name === "limit")?.type).toBe(
      "integer (1–200, default 50)",
    );

    const events = explainOperation(byId("post_v1_events"));
    expect(events.examples.curl).toContain("$AFORO_INGEST_KEY");
    expect(events.gotchas.join("\n")).toContain("wrong_key_kind");
    expect(events.gotchas.join("\n")).toContain("duplicate and changes nothing");
    expect(events.gotchas.join("\n")).toContain("Retry a 429 or 503 after its Retry-After");
  });

  it("writes Python literals, not JSON", () => {
    expect(pythonLiteral({ a: true, b: null, c: [false, 1] })).toBe(
      '{\n    "a": True,\n    "b": None,\n    "c": [\n        False,\n        1,\n    ],\n}',
    );
    expect(typeInWords({ type: ["string", "null"], maxLength: 5 })).toBe(
      "string (0–5 chars), or null",
    );
  });
});

describe("Getting Started", () => {
  const product = { id: "chat-api", name: "Chat API", description: null, proxy: null };
  const metrics = [
    { id: "input_tokens", name: "Input tokens", unit: "token", aggregation: "sum" as const },
    { id: "requests", name: null, unit: "request", aggregation: "count" as const },
  ];

  it("builds an event body of the product's metrics that POST /v1/events accepts", () => {
    const guide = gettingStarted({
      product,
      metrics,
      customer: "acme",
      plans: [],
      now: "2026-12-07T12:00:00Z",
    });
    expect(guide.event_body.events.map((e) => e.metric)).toEqual(["input_tokens", "requests"]);
    expect(
      guide.event_body.events.every((e) => e.customer === "acme" && e.product === "chat-api"),
    ).toBe(true);
    const ingest = byId("post_v1_events").requestBody?.schema ?? {};
    expect(validator(ingest).safeParse(guide.event_body).success).toBe(true);
    const gate = byId("post_v1_gate").requestBody?.schema ?? {};
    expect(validator(gate).safeParse(guide.gate_body).success).toBe(true);
    expect(guide.steps.map((s) => s.title)).toEqual([
      "1. Send usage events",
      "2. Ask the gate before each call",
      "3. See the usage",
    ]);
    expect(guide.steps[0]?.curl).toContain(JSON.stringify(guide.event_body));
  });

  it("says to define a metric first when the product has none, and shows proxy mode when set", () => {
    const guide = gettingStarted({
      product: { ...product, proxy: { origin: "https://api.example.com", metric: "requests" } },
      metrics: [],
      customer: null,
      plans: [{ id: "pro", name: "Pro", status: "active" }],
      now: "2026-12-07T12:00:00Z",
    });
    expect(guide.customer).toEqual({ id: "your-customer-id", from_catalog: false });
    expect(guide.event_body.events).toEqual([]);
    expect(guide.steps[0]?.title).toBe("1. Define a metric");
    expect(guide.steps.some((s) => s.curl.includes("/v1/proxy/chat-api/"))).toBe(true);
    expect(guide.steps.at(-1)?.text).toContain("Pro [active]");
  });
});
