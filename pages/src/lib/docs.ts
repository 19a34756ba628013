// The Docs page's plumbing: the served /openapi.json read into operations (domain/docs, the
// same walk the explanation route makes, so both name an operation alike), and "Try it", which
// sends a request as the signed-in dashboard does (the session cookie plus its CSRF token on a
// change, or the operator token) and keeps whatever comes back — status, type and body, a
// problem+json included — instead of throwing like the API client.

import type { ApiExplanation, GettingStartedGuide } from "../../../contracts/docs";
import { exampleOf } from "../../../domain/docs/example";
import { exampleBody } from "../../../domain/docs/explain";
import {
  type DocOperation,
  listOperations,
  type OpenApiDocument,
} from "../../../domain/docs/openapi";
import type { ApiClient } from "./api";

export type { DocOperation };

export async function loadOperations(signal: AbortSignal): Promise<DocOperation[]> {
  const res = await fetch("/openapi.json", { signal, headers: { accept: "application/json" } });
  if (!res.ok) throw new Error(`/openapi.json answered ${res.status}`);
  return listOperations((await res.json()) as OpenApiDocument);
}

export const explanationOf = (api: ApiClient, id: string, signal: AbortSignal) =>
  api.get<ApiExplanation>(`/api/docs/explanations/${encodeURIComponent(id)}`, signal);

export const guideOf = (api: ApiClient, productId: string, signal: AbortSignal) =>
  api.get<GettingStartedGuide>(
    `/api/docs/getting-started/${encodeURIComponent(productId)}`,
    signal,
  );

/** Only the operator API can be tried with the dashboard's credential: /v1 takes an ingest key,
 * /admin the platform's token, and /auth is the sign-in itself. */
export const canTry = (op: DocOperation) => op.path.startsWith("/api/");

export interface TryInput {
  /** Path and query parameter values as typed (an empty query value is left out). */
  params: Record<string, string>;
  /** The body as typed: JSON text, or "" for none. */
  body: string;
}

/** The form's first values: the schema's examples for path parameters and the body, the
 * declared examples of query parameters (a default needs no sending). */
export function initialTry(op: DocOperation): TryInput {
  const params: Record<string, string> = {};
  for (const p of op.parameters) {
    if (p.in === "path") params[p.name] = String(exampleOf(p.schema, "request", p.name));
    else if (p.in === "query") {
      const v = p.required ? exampleOf(p.schema, "request", p.name) : p.schema.example;
      params[p.name] = v === undefined || v === null ? "" : String(v);
    }
  }
  const body = exampleBody(op);
  return { params, body: body === undefined ? "" : JSON.stringify(body, null, 2) };
}

/** The request path for the form's values: path parameters filled in, then the query. */
export function tryUrl(op: DocOperation, input: TryInput): string {
  const path = op.path.replace(/\{([^}]+)\}/g, (_, name: string) =>
    encodeURIComponent(input.params[name] ?? ""),
  );
  const query = new URLSearchParams();
  for (const p of op.parameters) {
    const v = input.params[p.name];
    if (p.in === "query" && v !== undefined && v !== "") query.set(p.name, v);
  }
  const qs = query.toString();
  return qs ? `${path}?${qs}` : path;
}

export interface TryResult {
  status: number;
  contentType: string;
  /** The parsed JSON answer, or its text. */
  body: unknown;
  ms: number;
}

export async function sendTry(
  api: ApiClient,
  op: DocOperation,
  input: TryInput,
): Promise<TryResult> {
  const method = op.method.toUpperCase();
  const headers: Record<string, string> = { accept: "application/json" };
  const c = api.credential;
  if (c.kind === "token") headers.authorization = `Bearer ${c.token}`;
  else if (c.kind === "session" && method !== "GET") headers["x-csrf-token"] = c.csrfToken;
  const hasBody = op.requestBody !== null && input.body.trim() !== "";
  if (hasBody) headers["content-type"] = op.requestBody?.contentTypes[0] ?? "application/json";
  const started = performance.now();
  const res = await fetch(tryUrl(op, input), {
    method,
    headers,
    body: hasBody ? input.body : null,
    credentials: "same-origin",
  });
  const text = await res.text();
  const contentType = res.headers.get("content-type") ?? "";
  let body: unknown = text;
  if (/json/.test(contentType) && text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  return { status: res.status, contentType, body, ms: Math.round(performance.now() - started) };
}
