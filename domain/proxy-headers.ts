// Which headers proxy mode (/v1/proxy/:product/*) passes between the caller and the product's
// origin. Requests: an allow-list, since a deny-list has to know every credential in advance
// and the origin is a third party (the tenant's upstream, reached from Aforo's network):
// - standard content and caching headers, the caller's user agent, request ids and trace
//   context (FORWARDED_REQUEST_HEADERS);
// - the caller's own `x-…` headers, except Aforo's (`x-aforo-*`), `x-api-key`, anything whose
//   name says it is a credential (auth, token, key, secret, session, cookie, password,
//   signature, credential, csrf), and the ones that claim to say who the client is or what it
//   asked for (`x-forwarded-*`, `x-real-ip`, `x-client-ip`, `x-original-*`, `x-rewrite-url`);
// - never: `authorization` and `x-api-key` (the ingest key), `cookie` (the caller's session
//   with Aforo's host), `proxy-authorization`, `forwarded`, `via`, hop-by-hop headers and the
//   ones `connection` names, and any header whose value holds an Aforo key.
// Content-Length and Host are the runtime's: fetch sets them from the body and the target URL.
// Responses: everything but cookies and orders to the browser about Aforo's host —
// `set-cookie` (the origin's cookies would be set on Aforo's domain, next to its own sessions),
// `clear-site-data` (it would wipe the dashboard's storage), `strict-transport-security` and
// `alt-svc` (Aforo decides how its host is reached), and hop-by-hop headers.

/** Request headers passed to the origin as they are. */
export const FORWARDED_REQUEST_HEADERS = [
  "accept",
  "accept-encoding",
  "accept-language",
  "cache-control",
  "content-encoding",
  "content-language",
  "content-type",
  "idempotency-key",
  "if-match",
  "if-modified-since",
  "if-none-match",
  "if-range",
  "if-unmodified-since",
  "pragma",
  "range",
  "traceparent",
  "tracestate",
  "user-agent",
  "x-correlation-id",
  "x-request-id",
] as const;

const FORWARDED = new Set<string>(FORWARDED_REQUEST_HEADERS);

const CREDENTIAL_NAME = /auth|token|key|secret|session|cookie|passw|signature|credential|csrf|xsrf/;
const NOT_THE_CALLERS =
  /^x-(aforo-|forwarded-|original-|real-ip$|client-ip$|rewrite-url$|cluster-client-ip$)/;
/** Aforo's own key formats (ingest key, operator token, admin token, a customer's API key). */
const AFORO_KEY = /aforo_(ik|op|admin)_|sk_live_/i;

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

const STRIPPED_RESPONSE = new Set([
  ...HOP_BY_HOP,
  "set-cookie",
  "set-cookie2",
  "clear-site-data",
  "strict-transport-security",
  "alt-svc",
]);

/** The header names the `connection` header lists: hop-by-hop for this one message. */
const connectionNamed = (headers: Headers) =>
  new Set(
    (headers.get("connection") ?? "")
      .split(",")
      .map((n) => n.trim().toLowerCase())
      .filter(Boolean),
  );

const callersOwn = (name: string) =>
  name.startsWith("x-") && !NOT_THE_CALLERS.test(name) && !CREDENTIAL_NAME.test(name);

/** The headers sent to the origin for a caller's request. */
export function proxyRequestHeaders(incoming: Headers): Headers {
  const hop = connectionNamed(incoming);
  const out = new Headers();
  for (const [name, value] of incoming) {
    if (hop.has(name) || HOP_BY_HOP.has(name) || AFORO_KEY.test(value)) continue;
    if (FORWARDED.has(name) || callersOwn(name)) out.append(name, value);
  }
  return out;
}

/** The origin's response headers as Aforo answers them (before its own security headers). */
export function proxyResponseHeaders(upstream: Headers): Headers {
  const hop = connectionNamed(upstream);
  const out = new Headers();
  for (const [name, value] of upstream) {
    if (!STRIPPED_RESPONSE.has(name) && !hop.has(name)) out.append(name, value);
  }
  return out;
}
