import type { SchemaNode } from "./openapi";

// An example value for a (dereferenced) JSON schema: what the Docs page prefills in "Try it" and
// what the explanation's code examples send. Deterministic (no clock, no randomness), so the
// same schema always gives the same example and a cached explanation stays right for its spec.
// Where the schema gives one, its own `example`/`examples`/`default`/`const`/first `enum` value
// wins; otherwise a value of its type inside its bounds (min/max, lengths, item counts, a
// pattern it must match), a property's name suggesting a plausible one (`customer` → "acme").
// A request example carries the required fields and the optional ones the schema gives an
// example for; a response example shows every field.

export type ExampleMode = "request" | "response";

const MAX_DEPTH = 8;

/** Strings a property's name suggests, tried before the generic ones. */
const NAMED: Record<string, string> = {
  id: "acme",
  customer: "acme",
  customer_id: "acme",
  product: "chat-api",
  product_id: "chat-api",
  metric: "requests",
  plan: "pro",
  name: "Acme Inc",
  email: "ada@example.com",
  currency: "USD",
  time_zone: "Europe/Madrid",
  tz: "Europe/Madrid",
  url: "https://example.com/hook",
  origin: "https://api.example.com",
  cron: "0 9 * * 1",
  unit: "request",
  description: "An example",
  label: "Example",
  reason: "An example reason",
};

/** Candidates for a string with a pattern, tried in order until one matches. */
const STRING_FALLBACKS = [
  "example",
  "acme",
  "12.50",
  "1",
  "2026-01-01",
  "2026-01-01T00:00:00Z",
  "USD",
  "A1",
  "a",
  "x",
];

const FORMATS: Record<string, string> = {
  "date-time": "2026-01-01T00:00:00Z",
  date: "2026-01-01",
  email: "ada@example.com",
  uri: "https://example.com/hook",
  url: "https://example.com/hook",
  uuid: "00000000-0000-4000-8000-000000000000",
  binary: "",
};

const typesOf = (schema: SchemaNode): string[] =>
  Array.isArray(schema.type) ? schema.type : typeof schema.type === "string" ? [schema.type] : [];

function patternTest(pattern: unknown): ((s: string) => boolean) | null {
  if (typeof pattern !== "string") return null;
  try {
    const re = new RegExp(pattern, "u");
    return (s) => re.test(s);
  } catch {
    return null;
  }
}

function exampleString(schema: SchemaNode, name: string | null): string {
  const min = typeof schema.minLength === "number" ? schema.minLength : 0;
  const max = typeof schema.maxLength === "number" ? schema.maxLength : Number.POSITIVE_INFINITY;
  const fits = (s: string) => s.length >= min && s.length <= max;
  const matches = patternTest(schema.pattern) ?? (() => true);
  const named = name ? NAMED[name] : undefined;
  const format = typeof schema.format === "string" ? FORMATS[schema.format] : undefined;
  // Without a pattern the plain candidates do (stretched or cut to the bounds); the others are
  // only there to satisfy one.
  const plain = [format, named, "example"];
  const candidates = (schema.pattern ? [...plain, ...STRING_FALLBACKS] : plain).filter(
    (s): s is string => s !== undefined,
  );
  for (const c of candidates) {
    if (matches(c) && fits(c)) return c;
  }
  // Stretched or cut to the bounds, still checked against the pattern.
  for (const c of candidates) {
    const sized = c.length < min ? c.padEnd(min, c.slice(-1) || "x") : c.slice(0, max);
    if (matches(sized) && fits(sized)) return sized;
  }
  return "x".repeat(Math.max(min, Math.min(max, 7)));
}

function exampleNumber(schema: SchemaNode, integer: boolean): number {
  const step =
    typeof schema.multipleOf === "number" && schema.multipleOf > 0 ? schema.multipleOf : 1;
  let low = Number.NEGATIVE_INFINITY;
  let high = Number.POSITIVE_INFINITY;
  if (typeof schema.minimum === "number") low = schema.minimum;
  if (typeof schema.exclusiveMinimum === "number") {
    low = Math.max(low, schema.exclusiveMinimum + (integer ? 1 : step));
  }
  if (typeof schema.maximum === "number") high = schema.maximum;
  if (typeof schema.exclusiveMaximum === "number") {
    high = Math.min(high, schema.exclusiveMaximum - (integer ? 1 : step));
  }
  // 1 is the plainest quantity there is; moved up to the bound when it falls below it.
  let value = Math.min(Math.max(1, low), high);
  if (!Number.isFinite(value)) value = 1;
  if (integer) value = Math.ceil(value);
  if (value % step !== 0) value = Math.ceil(value / step) * step;
  return value;
}

function mergeAllOf(schema: SchemaNode): SchemaNode {
  const { allOf, ...rest } = schema;
  const merged: SchemaNode = { ...rest };
  for (const part of allOf as SchemaNode[]) {
    const p = part.allOf ? mergeAllOf(part) : part;
    for (const [key, value] of Object.entries(p)) {
      if (key === "properties") merged.properties = { ...merged.properties, ...value };
      else if (key === "required") merged.required = [...(merged.required ?? []), ...value];
      else if (!(key in merged)) merged[key] = value;
    }
  }
  return merged;
}

/** The first branch of a oneOf/anyOf that is not just null (null when it is the only one). */
function firstBranch(branches: SchemaNode[]): SchemaNode | undefined {
  return (
    branches.find((b) => !(typesOf(b).length === 1 && typesOf(b)[0] === "null")) ?? branches[0]
  );
}

export function exampleOf(
  schema: SchemaNode | null | undefined,
  mode: ExampleMode = "request",
  name: string | null = null,
  depth = 0,
): unknown {
  if (!schema || typeof schema !== "object") return null;
  if ("example" in schema && schema.example !== undefined) return schema.example;
  if (Array.isArray(schema.examples) && schema.examples.length > 0) return schema.examples[0];
  if ("const" in schema) return schema.const;
  if ("default" in schema && schema.default !== undefined) return schema.default;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
  if (Array.isArray(schema.allOf)) return exampleOf(mergeAllOf(schema), mode, name, depth);
  for (const key of ["oneOf", "anyOf"] as const) {
    if (Array.isArray(schema[key]) && schema[key].length > 0) {
      return exampleOf(firstBranch(schema[key]), mode, name, depth);
    }
  }
  if (depth > MAX_DEPTH) return null;
  const types = typesOf(schema);
  const type =
    types.find((t) => t !== "null") ??
    types[0] ??
    (schema.properties ? "object" : schema.items ? "array" : null);
  switch (type) {
    case "null":
      return null;
    case "boolean":
      return true;
    case "integer":
      return exampleNumber(schema, true);
    case "number":
      return exampleNumber(schema, false);
    case "string":
      return exampleString(schema, name);
    case "array": {
      const min = typeof schema.minItems === "number" ? schema.minItems : 0;
      const max = typeof schema.maxItems === "number" ? schema.maxItems : Number.POSITIVE_INFINITY;
      const count = Math.min(Math.max(1, min), max);
      const item = exampleOf(schema.items, mode, name, depth + 1);
      return Array.from({ length: count }, () => item);
    }
    case "object": {
      const out: Record<string, unknown> = {};
      const required = new Set<string>(Array.isArray(schema.required) ? schema.required : []);
      for (const [key, prop] of Object.entries((schema.properties ?? {}) as SchemaNode)) {
        const shown =
          mode === "response" ||
          required.has(key) ||
          (prop && ("example" in prop || Array.isArray(prop.examples)));
        if (shown) out[key] = exampleOf(prop, mode, key, depth + 1);
      }
      const extra = schema.additionalProperties;
      if (
        Object.keys(out).length === 0 &&
        extra &&
        typeof extra === "object" &&
        mode === "response"
      ) {
        out.key = exampleOf(extra, mode, null, depth + 1);
      }
      return out;
    }
    default:
      return null;
  }
}
