// The one API client of the dashboard: same origin, JSON in and out, problem+json errors turned
// into ApiError (with the field errors of a 422), and an AbortSignal on every call so a
// navigation cancels what the previous view still had in flight. It speaks for a signed-in
// member (the HttpOnly session cookie, plus the CSRF token on every request that changes
// something) or for an operator API token (a Bearer header).

import { createContext } from "preact";
import { useContext } from "preact/hooks";
import type { FieldError, Page, Problem } from "../../../contracts/common";

export type { FieldError };

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly errors: FieldError[];
  constructor(status: number, code: string, message: string, errors: FieldError[] = []) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.errors = errors;
  }
}

export type QueryValue = string | number | boolean | null | undefined;
export type Query = Record<string, QueryValue>;

/** `/api/x` + the query's non-empty values, in insertion order (stable keys for caching). */
export function withQuery(path: string, query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null || v === "" || v === false) continue;
    params.set(k, String(v));
  }
  const qs = params.toString();
  return qs ? `${path}${path.includes("?") ? "&" : "?"}${qs}` : path;
}

export const isAbort = (err: unknown) =>
  err instanceof DOMException ? err.name === "AbortError" : (err as Error)?.name === "AbortError";

/** Whom the client speaks for: a session (the cookie goes by itself), an API token, or nobody
 * yet (the sign-in routes). */
export type Credential =
  | { kind: "session"; csrfToken: string }
  | { kind: "token"; token: string }
  | { kind: "anonymous" };

export class ApiClient {
  constructor(
    readonly credential: Credential,
    /** Called when the server refuses the credential (revoked, expired, or a wrong one). */
    private readonly onUnauthorized: () => void = () => {},
  ) {}

  private headers(method: string): Record<string, string> {
    const c = this.credential;
    if (c.kind === "token") return { authorization: `Bearer ${c.token}` };
    if (c.kind === "anonymous") return {};
    return method === "GET" || method === "HEAD" ? {} : { "x-csrf-token": c.csrfToken };
  }

  async request<T>(
    method: string,
    path: string,
    opts: { body?: unknown; signal?: AbortSignal | undefined } = {},
  ): Promise<T> {
    let res: Response;
    try {
      res = await fetch(path, {
        method,
        headers: {
          ...this.headers(method),
          accept: "application/json",
          ...(opts.body !== undefined ? { "content-type": "application/json" } : {}),
        },
        body: opts.body !== undefined ? JSON.stringify(opts.body) : null,
        credentials: "same-origin",
        signal: opts.signal ?? null,
      });
    } catch (err) {
      if (isAbort(err)) throw err;
      throw new ApiError(0, "network", "The API did not answer. Is the local stack running?");
    }
    const text = await res.text();
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    if (!res.ok) {
      const p = (json ?? {}) as Partial<Problem>;
      if (res.status === 401) this.onUnauthorized();
      throw new ApiError(
        res.status,
        p.code ?? `http_${res.status}`,
        p.detail ?? p.title ?? `${method} ${path} answered ${res.status}`,
        Array.isArray(p.errors) ? p.errors : [],
      );
    }
    return json as T;
  }

  get<T>(path: string, signal?: AbortSignal) {
    return this.request<T>("GET", path, { signal });
  }

  post<T>(path: string, body?: unknown, signal?: AbortSignal) {
    return this.request<T>("POST", path, { body: body ?? {}, signal });
  }

  put<T>(path: string, body: unknown, signal?: AbortSignal) {
    return this.request<T>("PUT", path, { body, signal });
  }

  patch<T>(path: string, body: unknown, signal?: AbortSignal) {
    return this.request<T>("PATCH", path, { body, signal });
  }

  delete<T>(path: string, signal?: AbortSignal) {
    return this.request<T>("DELETE", path, { signal });
  }

  /** A streaming GET (Server-Sent Events): the raw response, for a reader. */
  async stream(path: string, signal: AbortSignal): Promise<Response> {
    const res = await fetch(path, {
      headers: { ...this.headers("GET"), accept: "text/event-stream" },
      credentials: "same-origin",
      signal,
      cache: "no-store",
    });
    if (!res.ok) {
      if (res.status === 401) this.onUnauthorized();
      let detail = `GET ${path} answered ${res.status}`;
      try {
        detail = ((await res.json()) as Partial<Problem>).detail ?? detail;
      } catch {}
      throw new ApiError(res.status, `http_${res.status}`, detail);
    }
    return res;
  }

  /** A streaming POST (the Pricing Architect's run): the raw event-stream response, or the
   * route's refusal as an ApiError with its problem code. */
  async postStream(path: string, body: unknown, signal: AbortSignal): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(path, {
        method: "POST",
        headers: {
          ...this.headers("POST"),
          accept: "text/event-stream",
          "content-type": "application/json",
        },
        body: JSON.stringify(body),
        credentials: "same-origin",
        signal,
        cache: "no-store",
      });
    } catch (err) {
      if (isAbort(err)) throw err;
      throw new ApiError(0, "network", "The API did not answer. Is the local stack running?");
    }
    if (!res.ok) {
      if (res.status === 401) this.onUnauthorized();
      let p: Partial<Problem> = {};
      try {
        p = (await res.json()) as Partial<Problem>;
      } catch {}
      throw new ApiError(
        res.status,
        p.code ?? `http_${res.status}`,
        p.detail ?? `POST ${path} answered ${res.status}`,
        Array.isArray(p.errors) ? p.errors : [],
      );
    }
    return res;
  }
}

export const ApiContext = createContext<ApiClient | null>(null);

export function useApi(): ApiClient {
  const api = useContext(ApiContext);
  if (!api) throw new Error("useApi outside of a signed-in session");
  return api;
}

/** Every page of a cursor-paginated list (catalog lists are small; capped for safety). */
export async function fetchAll<T>(
  api: ApiClient,
  path: string,
  query: Query,
  signal?: AbortSignal,
  maxPages = 20,
): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < maxPages; i++) {
    const page: Page<T> = await api.get(withQuery(path, { ...query, limit: 200, cursor }), signal);
    out.push(...page.data);
    cursor = page.next_cursor;
    if (!cursor) break;
  }
  return out;
}
