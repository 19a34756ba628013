import fc from "fast-check";

// The fuzzers' view of /openapi.json: its operations (so a new route is covered without anyone
// listing it), a matcher from a request back to the operation it reached, and fast-check
// arbitraries built from the request schemas — valid values, and valid values with one field
// broken, which get past the first validation line to where real bugs hide.

/** A JSON Schema node as @hono/zod-openapi writes it (OpenAPI 3.1). */
// biome-ignore lint/suspicious/noExplicitAny: schema nodes are arbitrary JSON
export type Schema = Record<string, any>;

export interface OpenApiDoc {
  paths: Record<string, Record<string, Schema>>;
  components: { schemas: Record<string, Schema> };
}

export interface Param {
  in: "path" | "query" | "header";
  name: string;
  required: boolean;
  schema: Schema;
}

export interface Operation {
  method: string;
  /** The OpenAPI template, e.g. /api/products/{id}. */
  path: string;
  /** `operatorToken`, `ingestKey` or `adminToken`. */
  security: string[];
  params: Param[];
  body: { schema: Schema; contentTypes: string[]; required: boolean } | null;
  /** Every documented status. */
  statuses: number[];
  /** The content types documented for each status (a download's file type, beside JSON). */
  responseTypes: Record<number, string[]>;
  /** Its success is another server's answer (the proxy): documented without a body schema. */
  passthrough: boolean;
  pattern: RegExp;
}

const METHODS = new Set(["get", "post", "put", "patch", "delete"]);

/** A trailing `{path}` parameter takes the rest of the URL (the route is Hono's `*`). */
const isRestParam = (name: string, template: string) =>
  template.endsWith(`{${name}}`) && name === "path";

export function templatePattern(template: string): RegExp {
  const source = template
    .split(/(\{[^}]+\})/)
    .map((part) => {
      const m = /^\{([^}]+)\}$/.exec(part);
      if (!m) return part.replace(/[.*+?^$()|[\]\\]/g, "\\$&");
      return isRestParam(m[1] ?? "", template) ? "(.*)" : "([^/]+)";
    })
    .join("");
  return new RegExp(`^${source}$`);
}

/** Every operation in the document, in a fixed order (path, then method). */
export function operations(doc: OpenApiDoc): Operation[] {
  const ops: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!METHODS.has(method)) continue;
      const content = op.requestBody?.content as Record<string, { schema: Schema }> | undefined;
      const contentTypes = content ? Object.keys(content) : [];
      const first = contentTypes[0];
      ops.push({
        method: method.toUpperCase(),
        path,
        security: (op.security ?? []).flatMap((s: Schema) => Object.keys(s)),
        params: (op.parameters ?? []).map((p: Schema) => ({
          in: p.in,
          name: p.name,
          required: Boolean(p.required),
          schema: p.schema ?? {},
        })),
        body:
          content && first
            ? {
                schema: content[first]?.schema ?? {},
                contentTypes,
                required: Boolean(op.requestBody?.required),
              }
            : null,
        statuses: Object.keys(op.responses ?? {}).map(Number),
        responseTypes: Object.fromEntries(
          Object.entries((op.responses ?? {}) as Record<string, { content?: Schema }>).map(
            ([status, r]) => [Number(status), Object.keys(r.content ?? {})],
          ),
        ),
        passthrough: Boolean(op.responses?.["200"] && !op.responses["200"].content),
        pattern: templatePattern(path),
      });
    }
  }
  return ops.sort((a, b) =>
    a.path === b.path ? a.method.localeCompare(b.method) : a.path.localeCompare(b.path),
  );
}

/** The documented operation a request reached, if any. */
export function matchOperation(ops: Operation[], method: string, pathname: string) {
  return ops.find((op) => op.method === method && op.pattern.test(pathname));
}

/** The resource a path parameter names: the literal segment before it (`/api/plans/{id}` →
 * `plans`), with `/v1/proxy/{product}` → `products`. */
export function paramResource(op: Operation, name: string): string {
  const segments = op.path.split("/");
  const at = segments.indexOf(`{${name}}`);
  const before = segments[at - 1] ?? "";
  if (name === "product") return "products";
  if (isRestParam(name, op.path)) return "rest";
  return before;
}

export function resolve(doc: OpenApiDoc, schema: Schema): Schema {
  let s = schema;
  for (let i = 0; i < 20 && typeof s.$ref === "string"; i++) {
    const name = (s.$ref as string).replace("#/components/schemas/", "");
    const target = doc.components.schemas[name];
    if (!target) throw new Error(`unresolved $ref ${s.$ref}`);
    s = target;
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// Values a user should never manage to store, or to crash anything with.

const HUGE_DECIMAL = "9".repeat(5_000);
const TINY_DECIMAL = `0.${"0".repeat(4_998)}1`;

function nested(depth: number): unknown {
  let v: unknown = [];
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

export const BAD_NUMBERS: unknown[] = [
  1e308,
  -1e308,
  -0,
  2 ** 53 + 1,
  -(2 ** 53 + 1),
  Number.MAX_VALUE,
  Number.MIN_VALUE,
  -1,
  0,
  0.1,
  1.5,
  1e21,
  2 ** 32,
  -(2 ** 31) - 1,
  123456.0000001,
];

export const NUMBER_STRINGS = [
  "NaN",
  "Infinity",
  "-Infinity",
  "1e999",
  "-1e999",
  "1e308",
  "2e-400",
  "0x1F",
  "1_000",
  " 42 ",
  "+1",
  "-0",
  "-1",
  "00",
  "1.",
  ".5",
  "١٢",
  "１２",
  HUGE_DECIMAL,
  TINY_DECIMAL,
  `-${HUGE_DECIMAL}`,
  `${HUGE_DECIMAL}.${HUGE_DECIMAL}`,
  "1e-7",
  "12.500000000000000000001",
  "9007199254740993",
  "99999999999999999999999999999999999999",
];

export const ODD_STRINGS = [
  "",
  " ",
  "\u0000",
  "a\u0000b",
  "x".repeat(10_240),
  "\u202Eevil\u202C",
  "مرحبا بالعالم",
  "שלום",
  "👩‍👩‍👧‍👦💸🔥",
  "../../../etc/passwd",
  "..%2F..%2Fadmin",
  "..",
  "'; DROP TABLE tenants; --",
  '" OR "1"="1',
  "1' OR '1'='1",
  "%s%n%x",
  "\r\nX-Injected: 1",
  "\ud800",
  "__proto__",
  "constructor",
  "<script>alert(1)</script>",
  "null",
  "undefined",
  "true",
  "\t",
  "a".repeat(129),
  "A".repeat(257),
  "é".repeat(600),
];

export const BAD_DATES = [
  "2026-02-30T00:00:00Z",
  "2026-11-01",
  "2026-11-01T00:00:00",
  "2026-11-01T24:00:00Z",
  "2026-13-01T00:00:00Z",
  "0000-01-01T00:00:00Z",
  "1970-01-01T00:00:00Z",
  "9999-12-31T23:59:59.999Z",
  "+275760-09-13T00:00:00Z",
  "-000001-01-01T00:00:00Z",
  "2026-11-01T00:00:00+25:00",
  "2026-11-01T00:00:00.123456789Z",
  "2100-01-01T00:00:00Z",
];

export const BAD_SHAPES: unknown[] = [
  null,
  true,
  false,
  [],
  {},
  [null],
  [[]],
  { "": "" },
  nested(200),
  new Array(2_000).fill(0),
  { a: { b: { c: { d: {} } } } },
];

/** Number literals JSON.stringify cannot write (they parse to ±Infinity or lose digits). */
export class RawJson {
  constructor(readonly text: string) {}
}
export const RAW_NUMBERS = [
  "1e999",
  "-1e999",
  `1${"0".repeat(5_000)}`,
  `0.${"0".repeat(5_000)}1`,
  "-0",
  "1E400",
  "123456789012345678901234567890",
  "1.0000000000000000000000001",
];

const b64url = (text: string) =>
  btoa(text).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");

/** Cursors no API issued: well-formed base64url JSON of the wrong key, and plain junk. */
export const BAD_CURSORS = [
  ...[
    [1.5],
    [1e300],
    [-1],
    [-0],
    [2 ** 53 + 1],
    ["x"],
    [],
    {},
    null,
    [null],
    ["a", 1],
    [1, "a"],
    [1, 2, 3],
    ["a".repeat(300)],
    { v: 1, k: [1.5] },
    { v: 99, k: [] },
    { v: 1, k: ["x", "y"] },
    "string",
  ].map((k) => b64url(JSON.stringify(k))),
  b64url("not json"),
  b64url("[1e999]"),
  "!!!",
  "====",
  "%00",
  "a".repeat(512),
  "eyJ",
];

const badScalar = fc.oneof(
  { arbitrary: fc.constantFrom(...BAD_NUMBERS), weight: 3 },
  { arbitrary: fc.constantFrom(...NUMBER_STRINGS), weight: 3 },
  { arbitrary: fc.constantFrom(...ODD_STRINGS), weight: 3 },
  { arbitrary: fc.constantFrom(...BAD_DATES), weight: 2 },
  { arbitrary: fc.constantFrom(...BAD_SHAPES), weight: 2 },
  { arbitrary: fc.constantFrom(...RAW_NUMBERS).map((t) => new RawJson(t)), weight: 2 },
  { arbitrary: fc.string({ unit: "binary", maxLength: 40 }), weight: 1 },
);

/** One bad value: a wrong type, a boundary or huge number, an odd string, a bad date. */
export const badValue = (): fc.Arbitrary<unknown> => badScalar;

/** A bad string for a query value or path segment. */
export const badString = (): fc.Arbitrary<string> =>
  fc.oneof(
    fc.constantFrom(...ODD_STRINGS),
    fc.constantFrom(...NUMBER_STRINGS),
    fc.constantFrom(...BAD_DATES),
    fc.string({ unit: "binary", maxLength: 40 }),
  );

/** JSON text of a value whose RawJson leaves become literal number text. */
export function toJson(value: unknown): string {
  const raws: string[] = [];
  const text = JSON.stringify(value, (_k, v) => {
    if (v instanceof RawJson) {
      raws.push(v.text);
      return `\u0001raw${raws.length - 1}\u0001`;
    }
    return v;
  });
  return (text ?? "null").replace(/"\\u0001raw(\d+)\\u0001"/g, (_m, i) => raws[Number(i)] ?? "0");
}

// ---------------------------------------------------------------------------------------------
// Valid values from a schema.

export interface GenContext {
  doc: OpenApiDoc;
  /** Real ids of the seeded tenant, offered wherever the schema takes an identifier. */
  ids: Record<string, string[]>;
  /** URLs a channel or proxy may point at (a local receiver). */
  urls: string[];
}

const ID_PATTERN = "^[A-Za-z0-9][A-Za-z0-9._:@-]*$";
const DECIMAL_EXAMPLE = /^\d+(\.\d+)?$/;

/** Which seeded ids a property is likely to reference, by its name. */
function idsFor(ctx: GenContext, key: string | undefined): string[] {
  const byKey: Record<string, string> = {
    product: "products",
    plan: "plans",
    customer: "customers",
    subscription: "subscriptions",
    metric: "metrics",
    signal: "signals",
    action: "actions",
    channel: "channels",
    segment: "plans",
  };
  const pool = key ? ctx.ids[byKey[key] ?? ""] : undefined;
  return pool && pool.length > 0 ? pool : Object.values(ctx.ids).flat();
}

const now = () => Date.now();

/** Decimals a schema's pattern allows, at and past the bounds the API documents (money to
 * $100M, quantities to 10^15, 40 characters, 18 places). */
const DECIMAL_EDGES = [
  "0",
  "0.000000000000000001",
  "0.0000000000000000001",
  "100000000",
  "100000000.000000000000000001",
  "99999999.999999999999999999",
  "1000000000000000",
  "1000000000000001",
  "9".repeat(40),
  `1${"0".repeat(39)}`,
  `0.${"0".repeat(37)}1`,
  "9223372036.854775807",
  "9223372036854775808",
];

const decimal = fc.oneof(
  {
    arbitrary: fc
      .tuple(fc.nat(10_000), fc.option(fc.integer({ min: 0, max: 99_999 }), { nil: undefined }))
      .map(([i, f]) => (f === undefined ? String(i) : `${i}.${f}`)),
    weight: 4,
  },
  { arbitrary: fc.constantFrom(...DECIMAL_EDGES), weight: 1 },
);

const DAY = 86_400_000;

/** Times around now, and at the edges of what the API takes: the backfill horizon (400 days),
 * 5 minutes ahead, period boundaries. */
const isoDate = () =>
  fc
    .oneof(
      { arbitrary: fc.integer({ min: Date.UTC(2025, 11, 1), max: now() }), weight: 4 },
      {
        arbitrary: fc.constantFrom(
          now() - 400 * DAY + 60_000,
          now() - 401 * DAY,
          now() + 4 * 60_000,
          now() + 6 * 60_000,
          now() + 366 * DAY,
          Date.UTC(2026, 10, 1),
          Date.UTC(2026, 11, 1) - 1,
          Date.UTC(2000, 0, 1),
          0,
        ),
        weight: 1,
      },
    )
    .map((ms) => new Date(ms).toISOString());

function stringArb(schema: Schema, ctx: GenContext, key: string | undefined): fc.Arbitrary<string> {
  const max = Math.min(schema.maxLength ?? 24, 24);
  const min = Math.min(schema.minLength ?? 0, max);
  const fit = (s: string) =>
    s.length >= (schema.minLength ?? 0) && s.length <= (schema.maxLength ?? Infinity);
  if (schema.format === "date-time") return isoDate();
  if (schema.format === "email") return fc.emailAddress().filter(fit);
  if (schema.format === "uri") return fc.constantFrom(...ctx.urls);
  if (schema.pattern === ID_PATTERN) {
    const ids = idsFor(ctx, key);
    return fc.oneof(
      { arbitrary: fc.constantFrom(...ids), weight: 4 },
      { arbitrary: fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,10}$/), weight: 1 },
    );
  }
  if (schema.pattern) {
    // At its default size fast-check repeats a pattern's `+` only a few times, so a pattern with
    // a long minimum (an API key's 20 characters) would be filtered forever: ask for long ones.
    const size = (schema.minLength ?? 0) > 8 ? "large" : undefined;
    const maxLength = schema.maxLength;
    return fc
      .stringMatching(new RegExp(schema.pattern), { ...(size ? { size } : {}), maxLength })
      .filter(fit);
  }
  if (typeof schema.example === "string" && DECIMAL_EXAMPLE.test(schema.example)) return decimal;
  return fc.string({ minLength: min, maxLength: max });
}

function numberArb(schema: Schema): fc.Arbitrary<number> {
  const integer = schema.type === "integer";
  let min: number = schema.minimum ?? 0;
  const max: number = schema.maximum ?? 1_000_000;
  if (schema.exclusiveMinimum !== undefined) min = schema.exclusiveMinimum + (integer ? 1 : 0);
  const above = (v: number) => schema.exclusiveMinimum === undefined || v > schema.exclusiveMinimum;
  const ints = fc.integer({ min: Math.ceil(min), max: Math.floor(Math.min(max, 2 ** 31)) });
  // The bounds themselves, where sums and products overflow if anything does.
  const edges = [min, max, Math.ceil(min) + 1, Math.floor(max) - 1, max / 2]
    .concat(integer ? [] : [min + 1e-9, 5e-324, 0.1, max - 0.5])
    .filter((v) => v >= min && v <= max && above(v) && (!integer || Number.isInteger(v)));
  const bounds = fc.constantFrom(...(edges.length ? edges : [min]));
  if (integer) return fc.oneof({ arbitrary: ints, weight: 3 }, { arbitrary: bounds, weight: 1 });
  const doubles = fc.double({ min, max, noNaN: true, noDefaultInfinity: true }).filter(above);
  return fc.oneof(
    { arbitrary: ints.filter(above), weight: 2 },
    { arbitrary: doubles, weight: 2 },
    { arbitrary: bounds, weight: 1 },
  );
}

/** Values the schema accepts (as far as JSON Schema can say: semantic rules come later). */
export function validValue(
  schema: Schema,
  ctx: GenContext,
  key?: string,
  depth = 0,
): fc.Arbitrary<unknown> {
  const s = resolve(ctx.doc, schema);
  if (depth > 6) return fc.constant(null);
  if (Array.isArray(s.anyOf) || Array.isArray(s.oneOf)) {
    const options = (s.anyOf ?? s.oneOf) as Schema[];
    return fc.oneof(...options.map((o) => validValue(o, ctx, key, depth + 1)));
  }
  if (Array.isArray(s.allOf)) {
    const merged: Schema = { type: "object", properties: {}, required: [] };
    for (const part of s.allOf as Schema[]) {
      const r = resolve(ctx.doc, part);
      Object.assign(merged.properties, r.properties);
      merged.required.push(...(r.required ?? []));
    }
    return validValue(merged, ctx, key, depth + 1);
  }
  if (Array.isArray(s.enum)) return fc.constantFrom(...(s.enum as unknown[]));
  if ("const" in s) return fc.constant(s.const);
  if (Array.isArray(s.type)) {
    return fc.oneof(...s.type.map((t: string) => validValue({ ...s, type: t }, ctx, key, depth)));
  }
  switch (s.type) {
    case "null":
      return fc.constant(null);
    case "boolean":
      return fc.boolean();
    case "integer":
    case "number":
      return numberArb(s);
    case "string":
      return stringArb(s, ctx, key);
    case "array":
      return fc.array(validValue(s.items ?? {}, ctx, key, depth + 1), {
        minLength: s.minItems ?? 0,
        maxLength: Math.max(s.minItems ?? 0, Math.min(s.maxItems ?? 3, 3)),
      });
    case "object": {
      const props = (s.properties ?? {}) as Record<string, Schema>;
      const keys = Object.keys(props);
      if (keys.length === 0) {
        const extra = s.additionalProperties;
        if (extra === false) return fc.constant({});
        const values =
          extra && typeof extra === "object" && Object.keys(extra).length > 0
            ? validValue(extra, ctx, undefined, depth + 1)
            : fc.jsonValue({ maxDepth: 1 });
        return fc.dictionary(fc.stringMatching(/^[a-z_]{1,12}$/), values, { maxKeys: 3 });
      }
      const model: Record<string, fc.Arbitrary<unknown>> = {};
      for (const k of keys) model[k] = validValue(props[k] ?? {}, ctx, k, depth + 1);
      return fc.record(model, { requiredKeys: (s.required ?? []) as string[] });
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

// ---------------------------------------------------------------------------------------------
// Mostly valid: one field broken.

type PathStep = string | number;

function paths(value: unknown, at: PathStep[] = [], out: PathStep[][] = []): PathStep[][] {
  out.push(at);
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) paths(v, [...at, i], out);
  } else if (value && typeof value === "object" && !(value instanceof RawJson)) {
    for (const [k, v] of Object.entries(value)) paths(v, [...at, k], out);
  }
  return out;
}

function clone(value: unknown): unknown {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

const EXTRA_KEYS = ["__proto__", "constructor", "", "x".repeat(300), "id", "tenant_id", "\u0000"];

export interface Broken {
  value: unknown;
  /** What was broken, for the failure report. */
  mutation: string;
}

/** Mutates one node of a valid value: replaced by a bad value, deleted, or a key added. */
export function breakOne(valid: unknown, pick: number, bad: unknown, kind: string): Broken {
  const value = clone(valid);
  const all = paths(value);
  const target = all[pick % all.length] ?? [];
  const where = target.length ? target.join(".") : "(root)";
  if (target.length === 0) {
    return kind === "extra" && value && typeof value === "object" && !Array.isArray(value)
      ? {
          value: withKey(value as object, EXTRA_KEYS[pick % EXTRA_KEYS.length] ?? "x", bad),
          mutation: "extra key at root",
        }
      : { value: bad, mutation: "root replaced" };
  }
  let parent = value as Record<PathStep, unknown>;
  for (const step of target.slice(0, -1)) parent = parent[step] as Record<PathStep, unknown>;
  const last = target.at(-1) as PathStep;
  if (kind === "delete" && !Array.isArray(parent)) {
    delete parent[last];
    return { value, mutation: `deleted ${where}` };
  }
  const node = parent[last];
  if (kind === "extra" && node && typeof node === "object" && !Array.isArray(node)) {
    parent[last] = withKey(node, EXTRA_KEYS[pick % EXTRA_KEYS.length] ?? "x", bad);
    return { value, mutation: `extra key under ${where}` };
  }
  parent[last] = bad;
  return { value, mutation: `replaced ${where}` };
}

function withKey(obj: object, key: string, v: unknown): object {
  const copy = { ...obj };
  // defineProperty: a plain assignment of "__proto__" would set the prototype, not a key.
  Object.defineProperty(copy, key, {
    value: v,
    enumerable: true,
    writable: true,
    configurable: true,
  });
  return copy;
}

export function brokenValue(schema: Schema, ctx: GenContext): fc.Arbitrary<Broken> {
  return fc
    .tuple(
      validValue(schema, ctx),
      fc.nat(),
      badValue(),
      fc.constantFrom("replace", "replace", "replace", "delete", "extra"),
    )
    .map(([valid, pick, bad, kind]) => breakOne(valid, pick, bad, kind));
}

// ---------------------------------------------------------------------------------------------
// A deterministic, minimal valid value (the isolation matrix: valid input, foreign ids).

export function exampleValue(schema: Schema, ctx: GenContext, key?: string, depth = 0): unknown {
  const s = resolve(ctx.doc, schema);
  if (depth > 6) return null;
  if (Array.isArray(s.anyOf) || Array.isArray(s.oneOf)) {
    return exampleValue((s.anyOf ?? s.oneOf)[0], ctx, key, depth + 1);
  }
  if ("default" in s && s.type !== "object") return s.default;
  if (Array.isArray(s.enum)) return s.enum[0];
  if ("const" in s) return s.const;
  const type = Array.isArray(s.type) ? s.type.find((t: string) => t !== "null") : s.type;
  switch (type) {
    case "boolean":
      return false;
    case "integer":
    case "number":
      return s.minimum ?? (s.exclusiveMinimum !== undefined ? s.exclusiveMinimum + 1 : 1);
    case "string":
      if (s.format === "date-time") return new Date(now() - 3_600_000).toISOString();
      if (s.format === "email") return "ops@example.com";
      if (s.format === "uri") return ctx.urls[0] ?? "https://example.com/";
      if (s.pattern === ID_PATTERN) return idsFor(ctx, key)[0] ?? "x";
      if (typeof s.example === "string") return s.example;
      return "x".repeat(Math.max(1, s.minLength ?? 1));
    case "array":
      return Array.from({ length: s.minItems ?? 0 }, () =>
        exampleValue(s.items ?? {}, ctx, key, depth + 1),
      );
    case "object": {
      const out: Record<string, unknown> = {};
      const props = Object.keys(s.properties ?? {});
      // A patch with nothing required still needs one field ("send at least one …").
      const required = (s.required ?? []) as string[];
      const fields =
        required.length > 0 || props.length === 0
          ? required
          : [props.includes("name") ? "name" : props[0]];
      for (const k of fields as string[]) {
        out[k] = exampleValue(s.properties?.[k] ?? {}, ctx, k, depth + 1);
      }
      return out;
    }
    default:
      return null;
  }
}
