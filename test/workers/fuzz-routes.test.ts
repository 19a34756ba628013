import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { PROBLEM_STATUS } from "../../workers/problem";
import {
  BAD_CURSORS,
  badString,
  brokenValue,
  type GenContext,
  matchOperation,
  type OpenApiDoc,
  type Operation,
  operations,
  paramResource,
  toJson,
  validValue,
} from "./fuzz-openapi";
import {
  ASYNC_TABLES,
  changedTables,
  digest,
  type RawRequest,
  type RawResponse,
  seedWorld,
  send,
  type World,
} from "./fuzz-world";
import { ADMIN_TOKEN, call } from "./helpers";

// Property-based bad input on every route in /openapi.json (issue 11). Each request is built
// from the route's own schemas — mostly a valid body with one field broken, and also random
// JSON, malformed JSON, empty bodies, wrong content types, odd path ids, bad cursors and query
// values — and the answer must always be: no 5xx; a 4xx is problem+json with a stable code and
// the status that code maps to; a 2xx is a status the route documents; and nothing stored for
// the tenant changes unless the request was a valid write.
//
// Bounded and reproducible: a fixed seed (VITE_FUZZ_SEED overrides it; Vite passes VITE_*
// variables into the Workers runtime), VITE_FUZZ_RUNS cases per route, routes in a fixed order.
// A failure names its seed and the fast-check path of the failing case.

const SEED = Number(import.meta.env.VITE_FUZZ_SEED ?? 20261102);
const RUNS = Number(import.meta.env.VITE_FUZZ_RUNS ?? 20);
/** VITE_FUZZ_STATS=1 prints, per route, how its cases were answered (status and code). */
const STATS = Boolean(import.meta.env.VITE_FUZZ_STATS);
/** VITE_FUZZ_STATS=detail also groups refusals by their detail. */
const STATS_DETAIL = import.meta.env.VITE_FUZZ_STATS === "detail";

const doc = (await call("GET", "/openapi.json")).body as OpenApiDoc;
// /auth/* takes no credential (signing in is how one gets one); accounts.test.ts covers it.
const OPS = operations(doc).filter((op) => !op.path.startsWith("/auth/"));

/** Routes whose path ids are signals, actions or cases get a world with real ones (a costly event
 * through the actor and the queue: slower to seed, so only where they are used). */
const needsSignals = (op: Operation) => /^\/api\/(signals|actions|cases)\/\{/.test(op.path);

const CONTENT_TYPES = [
  "text/plain",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=x",
  "application/json; charset=latin1",
  "APPLICATION/JSON",
  "application/xml",
  "application/cloudevents+json",
  "application/json, text/plain",
  "",
];

const MALFORMED = [
  "{",
  "[",
  '{"a":}',
  "{'a':1}",
  "[1,]",
  '{"a":1}{}',
  "\uFEFF{}",
  "nul",
  '{"a":NaN}',
  '"unterminated',
  "\u0000",
  " ",
  `${"[".repeat(10_000)}${"]".repeat(10_000)}`,
  '{"__proto__":{"admin":true}}',
  '{"a":1,"a":2}',
];

const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"];

interface Case {
  request: RawRequest;
  /** What the case does, for the failure report. */
  what: string;
}

function tokenFor(op: Operation, world: World) {
  if (op.security.includes("adminToken")) return ADMIN_TOKEN;
  if (op.security.includes("ingestKey")) return world.tenant.ingest_key;
  return world.tenant.operator_token;
}

/** encodeURIComponent, with lone surrogates (which it refuses) made well-formed first. */
const encode = (s: string) => encodeURIComponent(s.replace(/\p{Surrogate}/gu, "\ufffd"));

const headerSafe = (s: string) => /^[\x20-\x7e]*$/.test(s);

function caseArb(op: Operation, world: World, ctx: GenContext): fc.Arbitrary<Case> {
  const pathParams = op.params.filter((p) => p.in === "path");
  const queryParams = op.params.filter((p) => p.in === "query");

  const segment = pathParams.map((p) => {
    const real = world.ids[paramResource(op, p.name)];
    if (!real) {
      throw new Error(
        `${op.method} ${op.path}: no seeded ids for {${p.name}} (${paramResource(op, p.name)}); seed them in fuzz-world.ts`,
      );
    }
    const value = fc.oneof(
      { arbitrary: fc.constantFrom(...(real.length ? real : ["none"])), weight: 6 },
      { arbitrary: badString(), weight: 2 },
      { arbitrary: fc.string({ maxLength: 30 }), weight: 1 },
    );
    return fc.tuple(value, fc.nat(9)).map(([v, n]) => (n === 0 && !/[?#]/.test(v) ? v : encode(v)));
  });

  const queryValues = fc.tuple(
    ...queryParams.map((p) =>
      fc.option(
        fc.oneof(
          { arbitrary: validValue(p.schema, ctx, p.name).map(String), weight: 3 },
          { arbitrary: badString(), weight: 2 },
          {
            arbitrary:
              p.name === "cursor" ? fc.constantFrom(...BAD_CURSORS) : fc.constantFrom("", "-1"),
            weight: p.name === "cursor" ? 3 : 1,
          },
        ),
        { nil: undefined, freq: 2 },
      ),
    ),
  );
  const queryExtra = fc.option(
    fc.tuple(fc.constantFrom("repeat", "unknown", "__proto__", "bracket"), badString()),
    { nil: undefined, freq: 4 },
  );

  const body: fc.Arbitrary<{ text?: string; what: string }> = op.body
    ? fc.oneof(
        {
          arbitrary: brokenValue(op.body.schema, ctx).map((b) => ({
            text: toJson(b.value),
            what: `schema body, ${b.mutation}`,
          })),
          weight: 6,
        },
        {
          arbitrary: validValue(op.body.schema, ctx).map((v) => ({
            text: toJson(v),
            what: "schema-valid body",
          })),
          weight: 2,
        },
        {
          arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => ({
            text: toJson(v),
            what: "random JSON",
          })),
          weight: 1,
        },
        {
          arbitrary: fc
            .constantFrom(...MALFORMED)
            .map((t) => ({ text: t, what: "malformed JSON" })),
          weight: 1,
        },
        {
          arbitrary: fc.constantFrom({ what: "no body" }, { text: "", what: "empty body" }),
          weight: 1,
        },
      )
    : op.method === "GET"
      ? fc.constant({ what: "no body" })
      : fc.oneof(
          { arbitrary: fc.constant({ what: "no body" }), weight: 3 },
          {
            arbitrary: fc.jsonValue({ maxDepth: 2 }).map((v) => ({
              text: toJson(v),
              what: "unexpected JSON body",
            })),
            weight: 1,
          },
          {
            arbitrary: fc.constantFrom(...MALFORMED).map((t) => ({ text: t, what: "malformed" })),
            weight: 1,
          },
        );

  const contentType = fc.oneof(
    { arbitrary: fc.constant(op.body?.contentTypes[0] ?? "application/json"), weight: 10 },
    { arbitrary: fc.constantFrom(...(op.body?.contentTypes ?? []), ...CONTENT_TYPES), weight: 2 },
  );

  const method = fc.oneof(
    { arbitrary: fc.constant(op.method), weight: 14 },
    { arbitrary: fc.constantFrom(...METHODS.filter((m) => m !== op.method)), weight: 1 },
  );

  const customerHeader = fc.option(
    fc.oneof(fc.constantFrom(...(world.ids.customers ?? [])), badString().filter(headerSafe)),
    { nil: undefined },
  );

  return fc
    .record({
      segment: fc.tuple(...segment),
      queryValues,
      queryExtra,
      body,
      contentType,
      method,
      customerHeader,
    })
    .map(
      ({
        segment: values,
        queryValues: values2,
        queryExtra: extra,
        body: b,
        contentType: ct,
        method: m,
        customerHeader: who,
      }) => {
        let path = op.path;
        pathParams.forEach((p, i) => {
          path = path.replace(`{${p.name}}`, values[i] ?? "");
        });
        const qs = new URLSearchParams();
        queryParams.forEach((p, i) => {
          const v = values2[i];
          if (v !== undefined) qs.append(p.name, v);
        });
        if (extra) {
          const [kind, v] = extra;
          const first = queryParams[0]?.name ?? "q";
          if (kind === "repeat") qs.append(first, v);
          else if (kind === "bracket") qs.append(`${first}[]`, v);
          else qs.append(kind === "unknown" ? "unexpected" : "__proto__", v);
        }
        const search = qs.toString();
        const headers: Record<string, string> = { authorization: `Bearer ${tokenFor(op, world)}` };
        const sendsBody = m !== "GET" && b.text !== undefined;
        if (sendsBody && ct) headers["content-type"] = ct;
        if (who !== undefined && op.security.includes("ingestKey"))
          headers["x-aforo-customer"] = who;
        return {
          request: {
            method: m,
            url: `${path}${search ? `?${search}` : ""}`,
            headers,
            ...(sendsBody ? { body: b.text } : {}),
          },
          what: `${m} with ${b.what}${sendsBody ? ` as ${ct || "no content type"}` : ""}`,
        };
      },
    );
}

const clip = (s: string, n = 300) => (s.length > n ? `${s.slice(0, n)}… (${s.length} chars)` : s);

function describeCase(c: Case, res?: RawResponse) {
  const r = c.request;
  return [
    `case: ${c.what}`,
    `request: ${r.method} ${clip(r.url)}`,
    `headers: ${clip(JSON.stringify({ ...r.headers, authorization: "Bearer …" }))}`,
    r.body !== undefined ? `body: ${clip(r.body)}` : "body: (none)",
    res ? `response: ${res.status} ${res.contentType} ${clip(res.text, 600)}` : "",
  ].join("\n");
}

/** A route's own answer, or (the proxy) its origin's: not problem+json, and a metered call. */
const fromOrigin = (op: Operation, res: RawResponse) =>
  op.passthrough && !res.contentType.startsWith("application/problem+json");

/** What a response may be, whatever the request was. */
function checkAnswer(c: Case, res: RawResponse): string | null {
  if (res.status >= 500) return "a 5xx";
  const pathname = new URL(`http://aforo.test${c.request.url}`).pathname;
  const reached = OPS.find((op) => op.pattern.test(pathname) && op.passthrough);
  if (reached && fromOrigin(reached, res)) return null;
  if (res.status >= 400) {
    if (!res.contentType.startsWith("application/problem+json"))
      return "a 4xx that is not problem+json";
    const p = res.json as Record<string, unknown> | null | undefined;
    if (!p || typeof p !== "object") return "a problem+json that is not a JSON object";
    const code = p.code as keyof typeof PROBLEM_STATUS;
    if (!(code in PROBLEM_STATUS)) return `a code outside the stable set: ${String(p.code)}`;
    if (PROBLEM_STATUS[code] !== res.status) return `code ${code} with status ${res.status}`;
    if (p.status !== res.status) return `problem.status ${String(p.status)} ≠ ${res.status}`;
    for (const k of ["type", "title", "detail"]) {
      if (typeof p[k] !== "string") return `problem without a string ${k}`;
    }
    return null;
  }
  if (res.status >= 200 && res.status < 300) {
    const op = matchOperation(OPS, c.request.method, pathname);
    if (!op) return `a ${res.status} from an undocumented route`;
    if (!op.statuses.includes(res.status)) {
      return `${res.status}, which ${op.method} ${op.path} does not document`;
    }
    const documented = op.responseTypes[res.status] ?? [];
    if (
      res.status !== 204 &&
      !/json|event-stream/.test(res.contentType) &&
      !documented.some((type) => res.contentType.startsWith(type))
    ) {
      return `a ${res.status} answered as ${res.contentType}`;
    }
    return null;
  }
  return `status ${res.status}`;
}

async function fuzzRoute(op: Operation, world: World) {
  const ctx: GenContext = { doc, ids: world.ids, urls: [world.hook, "https://example.com/hook"] };
  const tenantId = world.tenant.tenant_id;
  // After a valid write, the tables queue consumers fill in the background may still change
  // (its rollups, signals, deliveries): from then on this run compares the rest of the book.
  let tainted = false;
  const answers = new Map<string, number>();
  const property = fc.asyncProperty(caseArb(op, world, ctx), async (c) => {
    const before = await digest(tenantId);
    const res = await send(c.request);
    const after = await digest(tenantId);
    const code = (res.json as { code?: string } | null)?.code;
    const detail = STATS_DETAIL
      ? ` ${String((res.json as { detail?: string } | null)?.detail).slice(0, 70)}`
      : "";
    const key = `${res.status}${code && res.status >= 400 ? ` ${code}${detail}` : ""}`;
    answers.set(key, (answers.get(key) ?? 0) + 1);
    const wrong = checkAnswer(c, res);
    if (wrong) throw new Error(`${wrong}\n${describeCase(c, res)}`);
    // A proxied call is metered: an event for the customer actor, rolled up later.
    const wrote = (res.status < 300 && c.request.method !== "GET") || fromOrigin(op, res);
    if (!wrote) {
      const changed = changedTables(before, after, tainted ? ASYNC_TABLES : new Set());
      if (changed.length > 0) {
        throw new Error(
          `a ${res.status} answer changed stored rows in ${changed.join(", ")}\n${describeCase(c, res)}`,
        );
      }
    } else tainted = true;
  });
  const out = await fc.check(property, { seed: SEED, numRuns: RUNS, endOnFailure: true });
  if (STATS) {
    const summary = [...answers].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k}×${n}`);
    console.log(`${op.method} ${op.path}: ${summary.join(", ")}`);
  }
  if (out.failed) {
    const cause =
      out.errorInstance instanceof Error ? out.errorInstance.message : String(out.errorInstance);
    throw new Error(
      [
        `${op.method} ${op.path}: case ${out.numRuns} of ${RUNS} failed (seed ${out.seed}, path "${out.counterexamplePath}")`,
        cause,
        `Reproduce: VITE_FUZZ_SEED=${out.seed} npx vitest run --project workers test/workers/fuzz-routes.test.ts -t "${op.method} ${op.path}"`,
      ].join("\n"),
    );
  }
}

/**
 * What the valid writes of a run stored must not break anything later (issue 11's 5,000-digit
 * price was accepted, then every ingest answered 503): every read route on the world's ids, an
 * event per metric, the gate, an invoicing run, the read models and the detectors answer < 500.
 * Not the proxy: a stored origin that cannot be reached answers 500 today (its fetch has no
 * error answer, workers/routes/gate.ts; reported for issue 11, owned by another change).
 */
async function readBack(op: Operation, world: World) {
  const token = (o: Operation) => `Bearer ${tokenFor(o, world)}`;
  const failures: string[] = [];
  const probe = async (req: RawRequest) => {
    const res = await send(req);
    if (res.status >= 500)
      failures.push(`${req.method} ${req.url} → ${res.status} ${clip(res.text)}`);
  };
  for (const read of OPS.filter((o) => o.method === "GET" && !o.passthrough)) {
    let url = read.path;
    for (const p of read.params.filter((x) => x.in === "path")) {
      url = url.replace(`{${p.name}}`, encode(world.ids[paramResource(read, p.name)]?.[0] ?? "x"));
    }
    await probe({ method: "GET", url, headers: { authorization: token(read) } });
  }
  const ingestKey = {
    authorization: `Bearer ${world.tenant.ingest_key}`,
    "content-type": "application/json",
  };
  const products = (
    await call("GET", "/api/products?limit=200", { token: world.tenant.operator_token })
  ).body.data as { id: string; metrics: { id: string }[] }[];
  const events = products.flatMap((p, i) =>
    p.metrics.map((m, j) => ({
      id: `readback-${i}-${j}-${Date.now()}`,
      customer: world.ids.customers?.[0] ?? "x",
      product: p.id,
      metric: m.id,
      quantity: 1000,
      time: new Date(Date.now() - 60_000).toISOString(),
    })),
  );
  await probe({
    method: "POST",
    url: "/v1/events",
    headers: ingestKey,
    body: JSON.stringify(events.slice(0, 1000)),
  });
  for (const customer of world.ids.customers ?? []) {
    await probe({
      method: "POST",
      url: "/v1/gate",
      headers: ingestKey,
      body: JSON.stringify({ customer }),
    });
  }
  const operator = {
    authorization: `Bearer ${world.tenant.operator_token}`,
    "content-type": "application/json",
  };
  for (const url of ["/api/invoices/run", "/api/detectors/evaluate"]) {
    await probe({ method: "POST", url, headers: operator, body: "{}" });
  }
  await probe({ method: "POST", url: "/api/metrics/refresh", headers: operator });
  if (failures.length > 0) {
    throw new Error(
      `after fuzzing ${op.method} ${op.path}, what it stored breaks:\n${failures.join("\n")}`,
    );
  }
}

describe("every route in /openapi.json holds against bad input", () => {
  // Reads share one world (a read that changes it fails its own case); every write route gets
  // a fresh one, so a valid write (a revoked key, a deleted channel) never starves the next.
  let reads: World;
  beforeAll(async () => {
    reads = await seedWorld("reader", { signals: true });
  }, 60_000);

  it("walks a document with routes in it", () => {
    expect(OPS.length).toBeGreaterThan(50);
  });

  for (const op of OPS) {
    it(`${op.method} ${op.path}`, { timeout: 60_000 }, async () => {
      const readOnly = op.method === "GET" && !op.passthrough;
      const world = readOnly ? reads : await seedWorld("fuzz", { signals: needsSignals(op) });
      await fuzzRoute(op, world);
      if (!readOnly) await readBack(op, world);
    });
  }
});

// Each found by the run above, kept as a named case so the default seed cannot forget it.
describe("regressions the fuzzer found", () => {
  it("PUT /api/cost-catalog refuses a price with more than 9 decimal places instead of storing what every ingest, gate and detector run then fails on (seed 2)", async () => {
    const world = await seedWorld("regress");
    const price = `0.${"0".repeat(37)}1`;
    const res = await call("PUT", "/api/cost-catalog", {
      token: world.tenant.operator_token,
      body: [
        {
          provider: "anthropic",
          model: "tiny",
          input_per_million: "1",
          output_per_million: price,
          effective_from: "2025-01-01T00:00:00Z",
        },
      ],
    });
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.code).toBe("validation_failed");
    expect(res.body.errors[0].path).toBe("0.output_per_million");
    const ingest = await call("POST", "/v1/events", {
      token: world.tenant.ingest_key,
      body: [
        {
          id: "after-bad-price",
          customer: world.ids.customers?.[0],
          product: world.ids.products?.[0],
          metric: world.ids.metrics?.[0],
          quantity: 1,
          time: new Date().toISOString(),
        },
      ],
    });
    expect(ingest.status, JSON.stringify(ingest.body)).toBe(200);
  });
});
