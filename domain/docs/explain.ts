import { PERMISSIONS, type Permission, ROLE_PERMISSIONS, ROLES } from "../roles";
import { exampleOf } from "./example";
import type { DocOperation, DocParameter, SchemaNode } from "./openapi";

// The deterministic explanation of one operation (the Docs page's "✨ AI Explanation" when no
// AI wording is available): what it does, when to use it, its parameters in words, a curl, an
// @aforo/client and a Python (requests) example, and the gotchas its schema declares (required
// fields, the permission and key it needs, pagination, idempotency, the problem+json answers).
// Everything is read from the operation itself, nothing invented: the same spec always gives
// the same explanation, which is what lets the route cache it by spec hash.

export interface ParameterExplained {
  name: string;
  /** path, query, header or body (a top-level field of the JSON body). */
  in: string;
  required: boolean;
  /** The type in words: "integer 1–200, default 50", "one of: usd, eur". */
  type: string;
  description: string | null;
}

export interface CodeExamples {
  curl: string;
  typescript: string;
  python: string;
}

export interface SchemaExplanation {
  operation_id: string;
  method: string;
  path: string;
  summary: string;
  when_to_use: string;
  parameters: ParameterExplained[];
  examples: CodeExamples;
  gotchas: string[];
}

/** The credential each security scheme takes, as the examples read it from the environment. */
const CREDENTIALS: Record<string, { env: string; what: string; clientOption: string }> = {
  operatorToken: {
    env: "AFORO_OPERATOR_TOKEN",
    what: "an operator token (aforo_op_…)",
    clientOption: "token",
  },
  ingestKey: {
    env: "AFORO_INGEST_KEY",
    what: "an ingest key (aforo_ik_…)",
    clientOption: "ingestKey",
  },
  adminToken: {
    env: "AFORO_ADMIN_TOKEN",
    what: "the admin token (AFORO_ADMIN_TOKEN)",
    clientOption: "token",
  },
};

const typesOf = (s: SchemaNode): string[] =>
  Array.isArray(s.type) ? s.type : typeof s.type === "string" ? [s.type] : [];

/** A schema's type in a few words. */
export function typeInWords(s: SchemaNode): string {
  if (Array.isArray(s.enum))
    return `one of: ${s.enum.map((v: unknown) => JSON.stringify(v)).join(", ")}`;
  for (const key of ["oneOf", "anyOf"] as const) {
    if (Array.isArray(s[key])) {
      const words = [...new Set((s[key] as SchemaNode[]).map(typeInWords))];
      return words.join(" or ");
    }
  }
  const types = typesOf(s).filter((t) => t !== "null");
  const nullable = typesOf(s).includes("null");
  let base = types.join(" or ") || (s.properties ? "object" : s.items ? "array" : "any");
  if (base === "array" && s.items) base = `array of ${typeInWords(s.items)}`;
  const bounds: string[] = [];
  if (typeof s.format === "string") bounds.push(s.format);
  const min = s.minimum ?? s.exclusiveMinimum;
  const max = s.maximum ?? s.exclusiveMaximum;
  if (min !== undefined && max !== undefined) bounds.push(`${min}–${max}`);
  else if (min !== undefined)
    bounds.push(s.exclusiveMinimum !== undefined ? `> ${min}` : `≥ ${min}`);
  else if (max !== undefined) bounds.push(`≤ ${max}`);
  if (typeof s.maxLength === "number") {
    bounds.push(`${s.minLength ?? 0}–${s.maxLength} chars`);
  } else if (typeof s.minLength === "number" && s.minLength > 0) {
    bounds.push(`at least ${s.minLength} chars`);
  }
  if (typeof s.maxItems === "number") bounds.push(`at most ${s.maxItems} items`);
  if (s.default !== undefined) bounds.push(`default ${JSON.stringify(s.default)}`);
  return `${base}${bounds.length ? ` (${bounds.join(", ")})` : ""}${nullable ? ", or null" : ""}`;
}

/** The JSON body's schema an explanation describes: the first object branch of a union. */
function bodyObject(op: DocOperation): SchemaNode | null {
  const s = op.requestBody?.schema;
  if (!s) return null;
  if (s.properties) return s;
  for (const key of ["oneOf", "anyOf"] as const) {
    const branch = (s[key] as SchemaNode[] | undefined)?.find((b) => b.properties);
    if (branch) return branch;
  }
  return null;
}

export function explainParameters(op: DocOperation): ParameterExplained[] {
  const params: ParameterExplained[] = op.parameters.map((p) => ({
    name: p.name,
    in: p.in,
    required: p.required,
    type: typeInWords(p.schema),
    description: p.description,
  }));
  const body = bodyObject(op);
  const required = new Set<string>(body?.required ?? []);
  for (const [name, prop] of Object.entries((body?.properties ?? {}) as SchemaNode)) {
    params.push({
      name,
      in: "body",
      required: required.has(name),
      type: typeInWords(prop),
      description: typeof prop.description === "string" ? prop.description : null,
    });
  }
  return params;
}

/** The parameters an example fills in: every required one, and the optional ones the schema
 * gives an example for. */
const filled = (params: DocParameter[]) =>
  params.filter((p) => p.required || p.schema.example !== undefined);

function examplePath(op: DocOperation): string {
  return op.path.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const p = op.parameters.find((q) => q.in === "path" && q.name === name);
    return encodeURIComponent(String(exampleOf(p?.schema, "request", name)));
  });
}

const exampleQuery = (op: DocOperation): [string, unknown][] =>
  filled(op.parameters.filter((p) => p.in === "query")).map((p) => [
    p.name,
    exampleOf(p.schema, "request", p.name),
  ]);

/** The example request body, or undefined for an operation without one. */
export function exampleBody(op: DocOperation): unknown {
  return op.requestBody ? exampleOf(op.requestBody.schema, "request") : undefined;
}

const credentialOf = (op: DocOperation) =>
  op.security.map((s) => CREDENTIALS[s]).find((c) => c !== undefined) ?? null;

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function curlExample(op: DocOperation): string {
  const query = exampleQuery(op);
  const qs = query.length
    ? `?${query.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`).join("&")}`
    : "";
  const lines = [`curl -X ${op.method.toUpperCase()} "$AFORO_URL${examplePath(op)}${qs}"`];
  const cred = credentialOf(op);
  if (cred) lines.push(`-H "Authorization: Bearer $${cred.env}"`);
  const body = exampleBody(op);
  if (body !== undefined) {
    lines.push(`-H "Content-Type: ${op.requestBody?.contentTypes[0] ?? "application/json"}"`);
    lines.push(`-d ${shellQuote(JSON.stringify(body))}`);
  }
  const ok = op.responses.find((r) => r.status.startsWith("2"));
  if (ok?.contentType && !/json/.test(ok.contentType)) lines.push("-o download");
  return lines.join(" \\\n  ");
}

const indent = (text: string, by: string) => text.split("\n").join(`\n${by}`);

/** A flat object as a one-line JS literal: `{ id: "acme", limit: 50 }`. */
const inlineLiteral = (value: Record<string, unknown>) =>
  `{ ${Object.entries(value)
    .map(
      ([k, v]) => `${/^[A-Za-z_$][\w$]*$/.test(k) ? k : JSON.stringify(k)}: ${JSON.stringify(v)}`,
    )
    .join(", ")} }`;

const isPaginated = (op: DocOperation) =>
  op.method === "get" &&
  op.parameters.some((p) => p.in === "query" && p.name === "cursor") &&
  op.responses.some((r) => r.schema?.properties?.next_cursor !== undefined);

function typescriptExample(op: DocOperation): string {
  const cred = credentialOf(op);
  const path = op.parameters.filter((p) => p.in === "path");
  const query = exampleQuery(op);
  const init: string[] = [];
  const params: string[] = [];
  if (path.length) {
    const values = Object.fromEntries(
      path.map((p) => [p.name, exampleOf(p.schema, "request", p.name)]),
    );
    params.push(`path: ${inlineLiteral(values)}`);
  }
  if (query.length) params.push(`query: ${inlineLiteral(Object.fromEntries(query))}`);
  if (params.length) init.push(`params: { ${params.join(", ")} }`);
  const body = exampleBody(op);
  if (body !== undefined) init.push(`body: ${indent(JSON.stringify(body, null, 2), "  ")}`);
  const args = init.length ? `, {\n  ${init.join(",\n  ")},\n}` : "";
  const call = isPaginated(op)
    ? `for await (const item of aforo.paginate("${op.path}"${args})) {\n  console.log(item);\n}`
    : `const answer = await aforo.${op.method}("${op.path}"${args});\nconsole.log(answer);`;
  const option = cred ? `\n  ${cred.clientOption}: process.env.${cred.env},` : "";
  return [
    `import { AforoError, createAforoClient } from "@aforo/client";`,
    "",
    `const aforo = createAforoClient({\n  baseUrl: process.env.AFORO_URL ?? "",${option}\n});`,
    "",
    "try {",
    `  ${indent(call, "  ")}`,
    "} catch (err) {",
    "  // problem+json: a stable code, and the field errors of a 400 by field.",
    "  if (err instanceof AforoError) console.error(err.status, err.code, err.byField());",
    "  else throw err;",
    "}",
  ].join("\n");
}

/** A JSON value as a Python literal (True, False, None). */
export function pythonLiteral(value: unknown, depth = 0): string {
  const pad = "    ".repeat(depth + 1);
  const close = "    ".repeat(depth);
  if (value === null || value === undefined) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  if (typeof value === "number" || typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    return `[\n${value.map((v) => `${pad}${pythonLiteral(v, depth + 1)},`).join("\n")}\n${close}]`;
  }
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 0) return "{}";
  return `{\n${entries.map(([k, v]) => `${pad}${JSON.stringify(k)}: ${pythonLiteral(v, depth + 1)},`).join("\n")}\n${close}}`;
}

function pythonExample(op: DocOperation): string {
  const cred = credentialOf(op);
  const args = [`    f"{os.environ['AFORO_URL']}${examplePath(op)}",`];
  if (cred) args.push(`    headers={"Authorization": f"Bearer {os.environ['${cred.env}']}"},`);
  const query = exampleQuery(op);
  if (query.length) args.push(`    params=${pythonLiteral(Object.fromEntries(query), 1)},`);
  const body = exampleBody(op);
  if (body !== undefined) args.push(`    json=${pythonLiteral(body, 1)},`);
  const ok = op.responses.find((r) => r.status.startsWith("2"));
  const answer =
    ok?.contentType && /json/.test(ok.contentType)
      ? "print(response.json())"
      : ok?.contentType
        ? 'open("download", "wb").write(response.content)'
        : "print(response.status_code)";
  return [
    "import os",
    "",
    "import requests",
    "",
    `response = requests.${op.method}(`,
    ...args,
    ")",
    "if not response.ok:",
    "    # problem+json: a stable code, and the field errors of a 400 in errors[]",
    "    problem = response.json()",
    "    raise RuntimeError(f\"{response.status_code} {problem['code']}: {problem['detail']}\")",
    answer,
  ].join("\n");
}

const lowerFirst = (s: string) => (/^[A-Z][a-z]/.test(s) ? s[0]?.toLowerCase() + s.slice(1) : s);

function whenToUse(op: DocOperation): string {
  const summary = op.summary.replace(/\.$/, "");
  const intent = summary.endsWith("?") ? `to ask “${summary}”` : `to ${lowerFirst(summary)}`;
  const cred = credentialOf(op);
  const who = op.security.includes("ingestKey")
    ? "from your product's own backend"
    : op.security.includes("adminToken")
      ? "from platform administration scripts"
      : op.security.includes("operatorToken")
        ? "from scripts and back-office tools (or the dashboard's signed-in session)"
        : "from anywhere: it takes no Aforo credential";
  const key = cred ? `, with ${cred.what}` : "";
  const filters = op.parameters
    .filter((p) => p.in === "query" && !["limit", "cursor"].includes(p.name))
    .map((p) => p.name);
  const shape = isPaginated(op)
    ? " It answers one page at a time."
    : op.method === "patch"
      ? " Fields you leave out keep their values."
      : "";
  const narrow = filters.length ? ` Narrow it with ${filters.join(", ")}.` : "";
  return `Use it ${intent} — ${who}${key}.${shape}${narrow}`;
}

const rolesWith = (permission: Permission) =>
  ROLES.filter((r) => ROLE_PERMISSIONS[r].includes(permission));

const isPermission = (p: string): p is Permission => p in PERMISSIONS;

function gotchas(op: DocOperation): string[] {
  const out: string[] = [];
  const body = bodyObject(op);
  const required: string[] = body?.required ?? [];
  if (op.requestBody) {
    out.push(
      required.length
        ? `The body must carry ${required.map((r) => `\`${r}\``).join(", ")}; every other field is optional.`
        : "Every field of the body is optional.",
    );
    if (op.requestBody.contentTypes.length > 1) {
      out.push(`It accepts ${op.requestBody.contentTypes.join(", ")} (say which in Content-Type).`);
    }
  }
  const requiredQuery = op.parameters.filter((p) => p.in === "query" && p.required);
  if (requiredQuery.length) {
    out.push(`Required query parameters: ${requiredQuery.map((p) => `\`${p.name}\``).join(", ")}.`);
  }
  if (op.permission && isPermission(op.permission)) {
    out.push(
      `Needs the \`${op.permission}\` permission (${PERMISSIONS[op.permission]}), which ${rolesWith(op.permission).join(", ")} hold; any other role gets 403 forbidden.`,
    );
  } else if (op.path.startsWith("/api/")) {
    out.push("Every role may call it (the `read` permission).");
  }
  if (op.security.includes("ingestKey")) {
    out.push(
      "Takes an ingest key, never an operator token: the wrong kind of key is 403 wrong_key_kind.",
    );
  }
  if (op.security.includes("operatorToken") && op.method !== "get") {
    out.push(
      "From a browser session (the cookie) a state-changing call must also send X-CSRF-Token.",
    );
  }
  if (isPaginated(op)) {
    const limit = op.parameters.find((p) => p.name === "limit")?.schema;
    const bounds =
      limit?.maximum !== undefined
        ? ` \`limit\` is at most ${limit.maximum}${limit.default !== undefined ? ` (default ${limit.default})` : ""}.`
        : "";
    out.push(
      `Paginated: pass the answer's \`next_cursor\` as \`cursor\` until it is null.${bounds}`,
    );
  }
  const text = op.description ?? "";
  const idempotent = text
    .split(/(?<=\.)\s+/)
    .filter((s) => /idempot|duplicate|dedupe|exactly once|returned once/i.test(s));
  out.push(...idempotent);
  const statuses = op.responses.filter((r) => !r.status.startsWith("2"));
  if (statuses.length) {
    out.push(
      `Errors are application/problem+json with a stable \`code\`: ${statuses.map((r) => `${r.status} (${r.description.replace(/\.$/, "")})`).join("; ")}.`,
    );
  }
  if (
    op.responses.some((r) => r.status === "409") &&
    op.method === "post" &&
    required.includes("id")
  ) {
    out.push(
      "The id is yours: creating one that exists answers 409 conflict, so a retry after a lost answer is safe.",
    );
  }
  if (op.responses.some((r) => r.status === "429" || r.status === "503")) {
    out.push("Retry a 429 or 503 after its Retry-After (never sooner).");
  }
  const params = explainParameters(op);
  if (params.some((p) => /date-time/.test(p.type))) {
    out.push("Times are ISO-8601 date-times (a `Z` or an offset).");
  }
  return out;
}

/** What the Docs page shows under "✨ AI Explanation" when the wording comes from the schema. */
export function explainOperation(op: DocOperation): SchemaExplanation {
  const what = op.description ? `${op.summary.replace(/\.?$/, ".")} ${op.description}` : op.summary;
  return {
    operation_id: op.id,
    method: op.method.toUpperCase(),
    path: op.path,
    summary: what,
    when_to_use: whenToUse(op),
    parameters: explainParameters(op),
    examples: {
      curl: curlExample(op),
      typescript: typescriptExample(op),
      python: pythonExample(op),
    },
    gotchas: gotchas(op),
  };
}
