// Reading the OpenAPI 3.1 document the edge serves at /openapi.json (issue 18 §3, the
// Documentation Hub): its operations grouped by tag, each with its parameters, request body and
// declared answers, and $ref resolved against components. Pure: the dashboard walks the same
// document the explanation route does, so both name an operation by the same id.

/** A JSON Schema node as @hono/zod-openapi writes it (OpenAPI 3.1 is JSON Schema 2020-12). */
// biome-ignore lint/suspicious/noExplicitAny: schema nodes are arbitrary JSON
export type SchemaNode = Record<string, any>;

export interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string; description?: string };
  /** Path items by template (absent in a document without routes). */
  // biome-ignore lint/suspicious/noExplicitAny: path items are arbitrary JSON
  paths?: Record<string, any>;
  components?: {
    schemas?: Record<string, SchemaNode>;
    securitySchemes?: Record<string, SchemaNode>;
  };
}

export const HTTP_METHODS = ["get", "post", "put", "patch", "delete"] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

export interface DocParameter {
  name: string;
  in: "path" | "query" | "header" | "cookie";
  required: boolean;
  description: string | null;
  schema: SchemaNode;
}

export interface DocResponse {
  status: string;
  description: string;
  /** The first content type it declares (JSON before the others), null for an empty answer. */
  contentType: string | null;
  schema: SchemaNode | null;
}

export interface DocOperation {
  /** Stable across deploys while the method and path stay: `get_api_customers_id`. */
  id: string;
  method: HttpMethod;
  /** The OpenAPI template, e.g. /api/customers/{id}. */
  path: string;
  tag: string;
  summary: string;
  description: string | null;
  /** `x-aforo-permission`; null where the route declares none (then `read`, or not /api). */
  permission: string | null;
  /** The security schemes it accepts (operatorToken, ingestKey, adminToken…). */
  security: string[];
  parameters: DocParameter[];
  requestBody: {
    required: boolean;
    /** Every content type it accepts, application/json first when it is one. */
    contentTypes: string[];
    schema: SchemaNode;
  } | null;
  responses: DocResponse[];
}

const UNTAGGED = "other";

/** `get /api/customers/{id}` → `get_api_customers_id`, or the operationId the route declares. */
export function operationIdOf(method: string, path: string, declared?: unknown): string {
  if (typeof declared === "string" && declared) return declared;
  const slug = path
    .replace(/[{}]/g, "")
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .join("_")
    .toLowerCase();
  return `${method.toLowerCase()}_${slug}`;
}

/** The node a local `$ref` (#/components/…) points at; null when it points nowhere. */
export function resolveRef(doc: OpenApiDocument, ref: string): SchemaNode | null {
  if (!ref.startsWith("#/")) return null;
  let node: unknown = doc;
  for (const raw of ref.slice(2).split("/")) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (!node || typeof node !== "object") return null;
    node = (node as Record<string, unknown>)[key];
  }
  return node && typeof node === "object" ? (node as SchemaNode) : null;
}

/** The component name of a `#/components/schemas/X` reference. */
export const refName = (ref: string) => ref.split("/").pop() ?? ref;

/**
 * The schema with every $ref replaced by what it names, recursively. A reference met again
 * inside itself (a recursive schema) stays a $ref there, so the result is always finite.
 */
export function deref(doc: OpenApiDocument, schema: SchemaNode, seen: string[] = []): SchemaNode {
  if (typeof schema !== "object" || schema === null) return schema;
  if (Array.isArray(schema)) return schema.map((s) => deref(doc, s, seen)) as unknown as SchemaNode;
  if (typeof schema.$ref === "string") {
    const ref = schema.$ref;
    const target = seen.includes(ref) ? null : resolveRef(doc, ref);
    if (!target) return { ...schema };
    const { $ref: _, ...siblings } = schema;
    return { ...deref(doc, target, [...seen, ref]), ...siblings };
  }
  const out: SchemaNode = {};
  for (const [key, value] of Object.entries(schema)) {
    // `example`, `examples`, `default` and `enum` are data, not schemas: copied as they are.
    if (key === "example" || key === "examples" || key === "default" || key === "enum") {
      out[key] = value;
    } else if (value && typeof value === "object") {
      out[key] = deref(doc, value as SchemaNode, seen);
    } else {
      out[key] = value;
    }
  }
  return out;
}

const jsonFirst = (types: string[]) =>
  [...types].sort((a, b) => Number(b === "application/json") - Number(a === "application/json"));

/** Every operation of the document, in path order then method order. */
export function listOperations(doc: OpenApiDocument): DocOperation[] {
  const out: DocOperation[] = [];
  const paths = doc.paths ?? {};
  for (const path of Object.keys(paths).sort()) {
    const item: SchemaNode = paths[path] ?? {};
    const shared = Array.isArray(item.parameters) ? item.parameters : [];
    for (const method of HTTP_METHODS) {
      const op = item[method];
      if (!op) continue;
      const params = [...shared, ...(Array.isArray(op.parameters) ? op.parameters : [])].map(
        (p: SchemaNode) => (typeof p.$ref === "string" ? (resolveRef(doc, p.$ref) ?? p) : p),
      );
      const body = op.requestBody?.$ref ? resolveRef(doc, op.requestBody.$ref) : op.requestBody;
      const bodyTypes = jsonFirst(Object.keys(body?.content ?? {}));
      const firstType = bodyTypes[0];
      out.push({
        id: operationIdOf(method, path, op.operationId),
        method,
        path,
        tag: Array.isArray(op.tags) && typeof op.tags[0] === "string" ? op.tags[0] : UNTAGGED,
        summary: typeof op.summary === "string" ? op.summary : `${method.toUpperCase()} ${path}`,
        description: typeof op.description === "string" ? op.description : null,
        permission: typeof op["x-aforo-permission"] === "string" ? op["x-aforo-permission"] : null,
        security: (Array.isArray(op.security) ? op.security : []).flatMap((s: SchemaNode) =>
          Object.keys(s),
        ),
        parameters: params.map((p: SchemaNode) => ({
          name: String(p.name),
          in: p.in,
          required: p.required === true || p.in === "path",
          description:
            typeof p.description === "string"
              ? p.description
              : typeof p.schema?.description === "string"
                ? p.schema.description
                : null,
          schema: deref(doc, p.schema ?? {}),
        })),
        requestBody:
          body && firstType
            ? {
                required: body.required === true,
                contentTypes: bodyTypes,
                schema: deref(doc, body.content[firstType]?.schema ?? {}),
              }
            : null,
        responses: Object.keys(op.responses ?? {})
          .sort()
          .map((status) => {
            const r = op.responses[status]?.$ref
              ? (resolveRef(doc, op.responses[status].$ref) ?? {})
              : (op.responses[status] ?? {});
            const type = jsonFirst(Object.keys(r.content ?? {}))[0] ?? null;
            const schema = type ? r.content[type]?.schema : undefined;
            return {
              status,
              description: typeof r.description === "string" ? r.description : "",
              contentType: type,
              schema: schema ? deref(doc, schema) : null,
            };
          }),
      });
    }
  }
  return out;
}

/** Operations by their first tag, tags in alphabetical order. */
export function groupByTag(
  ops: readonly DocOperation[],
): { tag: string; operations: DocOperation[] }[] {
  const byTag = new Map<string, DocOperation[]>();
  for (const op of ops) byTag.set(op.tag, [...(byTag.get(op.tag) ?? []), op]);
  return [...byTag.keys()].sort().map((tag) => ({ tag, operations: byTag.get(tag) ?? [] }));
}

/** Whether an operation matches a search: every word is in its method, path, summary or tag. */
export function matchesSearch(op: DocOperation, query: string): boolean {
  const hay = `${op.method} ${op.path} ${op.summary} ${op.tag} ${op.id}`.toLowerCase();
  return query
    .toLowerCase()
    .split(/\s+/)
    .filter(Boolean)
    .every((word) => hay.includes(word));
}

/** Keys sorted at every level: the same document always serializes to the same text. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/**
 * SHA-256 (hex) of the document without `servers`, which names whoever asked: the same routes
 * and schemas hash the same on every origin, and any change to them changes the hash.
 */
export async function specHash(doc: OpenApiDocument): Promise<string> {
  const { servers: _, ...rest } = doc as OpenApiDocument & { servers?: unknown };
  const bytes = new TextEncoder().encode(canonicalJson(rest));
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
