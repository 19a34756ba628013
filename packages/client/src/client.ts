import createClient, {
  type Client,
  type FetchResponse,
  type MaybeOptionalInit,
} from "openapi-fetch";
import type { HttpMethod, MediaType, PathsWithMethod } from "openapi-typescript-helpers";
import { AforoError } from "./errors.js";
import type { paths } from "./schema.js";

/** Anything with a Workers-style `fetch`: a service binding (`env.AFORO`), or `globalThis`. */
export interface Fetcher {
  fetch(input: Request): Promise<Response>;
}

export interface AforoClientOptions {
  /** Aforo's origin, `https://aforo.example.com`; with a service binding, any origin (not resolved). */
  baseUrl?: string;
  /** Operator token (`aforo_op_…`), sent on `/api/*` and `/admin/*`. */
  token?: string;
  /** Ingest key (`aforo_ik_…`), sent on `/v1/*`. */
  ingestKey?: string;
  /** A fetch implementation (tests, a proxy agent). */
  fetch?: (input: Request) => Promise<Response>;
  /** A service binding to Aforo in the same Cloudflare account: no public hop. */
  service?: Fetcher;
  /** Headers for every request (a user agent, a trace id). */
  headers?: Record<string, string>;
}

type RequiredKeysOf<T> = { [K in keyof T]-?: object extends Pick<T, K> ? never : K }[keyof T];
/** The request options a path takes, optional when nothing in them is required. */
type InitArgs<Init> =
  RequiredKeysOf<Init> extends never
    ? [(Init & { signal?: AbortSignal })?]
    : [Init & { signal?: AbortSignal }];
/** A route's success body. */
export type Data<P extends keyof paths, M extends HttpMethod> = NonNullable<
  FetchResponse<
    paths[P][M & keyof paths[P]] & Record<string | number, unknown>,
    object,
    MediaType
  >["data"]
>;

type Method<M extends HttpMethod> = <
  P extends PathsWithMethod<paths, M>,
  Init extends MaybeOptionalInit<paths[P], M>,
>(
  path: P,
  ...init: InitArgs<Init>
) => Promise<Data<P, M>>;

/** GET routes that answer a cursor page, `{data: […], next_cursor}` (workers/schemas.ts `page`). */
export type PagedPath = {
  [P in PathsWithMethod<paths, "get">]: Data<P, "get"> extends {
    data: readonly unknown[];
    next_cursor: string | null;
  }
    ? P
    : never;
}[PathsWithMethod<paths, "get">];
export type PageItem<P extends PagedPath> =
  Data<P, "get"> extends { data: readonly (infer T)[] } ? T : never;

export interface AforoClient {
  get: Method<"get">;
  post: Method<"post">;
  put: Method<"put">;
  patch: Method<"patch">;
  delete: Method<"delete">;
  /**
   * Every item of a paginated list, page after page (`next_cursor` until it is null). The init's
   * query is kept on each page; `limit` sets the page size.
   */
  paginate<P extends PagedPath, Init extends MaybeOptionalInit<paths[P], "get">>(
    path: P,
    ...init: InitArgs<Init>
  ): AsyncGenerator<PageItem<P>, void, undefined>;
  /** The underlying openapi-fetch client: `{data, error, response}` answers, nothing thrown. */
  raw: Client<paths>;
}

/**
 * A typed client for every route in /openapi.json. Success answers resolve to their body;
 * anything else rejects with an AforoError (problem+json: status, stable code, issues by field).
 * A network failure rejects with the fetch implementation's own error.
 */
export function createAforoClient(options: AforoClientOptions): AforoClient {
  const baseUrl = (options.baseUrl ?? (options.service ? "https://aforo.internal" : "")).replace(
    /\/+$/,
    "",
  );
  if (!baseUrl) throw new TypeError("createAforoClient needs a baseUrl or a service binding");
  const service = options.service;
  const doFetch =
    options.fetch ??
    (service ? (req: Request) => service.fetch(req) : (req: Request) => globalThis.fetch(req));
  const raw = createClient<paths>({ baseUrl, fetch: doFetch, headers: options.headers ?? {} });
  raw.use({
    // One client for both kinds of route: each key goes only where it is accepted, so an
    // operator token never travels to /v1 and an ingest key never to /api.
    onRequest({ request }) {
      const path = new URL(request.url).pathname;
      const key = path.startsWith("/v1/") ? options.ingestKey : options.token;
      if (key && !request.headers.has("authorization")) {
        request.headers.set("authorization", `Bearer ${key}`);
      }
      return request;
    },
  });

  const call =
    (method: Uppercase<HttpMethod>) =>
    async (path: string, init?: Record<string, unknown>): Promise<never> => {
      const res = await raw.request(method as never, path as never, init as never);
      if (!res.response.ok) throw AforoError.fromResponse(res.response, res.error);
      return res.data as never;
    };
  const get = call("GET");
  async function* paginate(path: string, init?: { params?: { query?: Record<string, unknown> } }) {
    let cursor: string | null | undefined;
    do {
      const query = { ...init?.params?.query, ...(cursor ? { cursor } : {}) };
      const page = (await get(path, { ...init, params: { ...init?.params, query } })) as {
        data: unknown[];
        next_cursor: string | null;
      };
      yield* page.data;
      cursor = page.next_cursor;
    } while (cursor);
  }

  return {
    get: get as Method<"get">,
    post: call("POST") as Method<"post">,
    put: call("PUT") as Method<"put">,
    patch: call("PATCH") as Method<"patch">,
    delete: call("DELETE") as Method<"delete">,
    paginate: paginate as AforoClient["paginate"],
    raw,
  };
}
