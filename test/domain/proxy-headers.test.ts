import { describe, expect, it } from "vitest";
import {
  FORWARDED_REQUEST_HEADERS,
  proxyRequestHeaders,
  proxyResponseHeaders,
} from "../../domain/proxy-headers";

// Proxy mode's header policy (issue 11, defect 4): an allow-list towards the origin, cookies and
// browser orders about Aforo's host stripped on the way back.

const names = (h: Headers) => [...h.keys()].sort();
const IK = "aforo_ik_0123456789abcdef_SECRETSECRETSECRET";

describe("proxyRequestHeaders", () => {
  it("forwards every allow-listed header as it is", () => {
    const incoming = new Headers(FORWARDED_REQUEST_HEADERS.map((n) => [n, `v-${n}`]));
    const out = proxyRequestHeaders(incoming);
    expect(names(out)).toEqual([...FORWARDED_REQUEST_HEADERS].sort());
    expect(out.get("x-request-id")).toBe("v-x-request-id");
  });

  it("drops Aforo's credentials, the caller's session with Aforo and hop-by-hop headers", () => {
    const out = proxyRequestHeaders(
      new Headers({
        authorization: `Bearer ${IK}`,
        "x-api-key": IK,
        cookie: "session=abc",
        "proxy-authorization": "Basic eDp5",
        "x-aforo-customer": "acme",
        "x-aforo-anything": "1",
        "x-aforo-api-key": `sk_live_${"k".repeat(43)}`,
        "x-request-id": `sk_live_${"k".repeat(43)}`,
        connection: "keep-alive, x-hop",
        "keep-alive": "timeout=5",
        te: "trailers",
        upgrade: "websocket",
        "transfer-encoding": "chunked",
        "x-hop": "named by connection",
        forwarded: "for=10.0.0.1",
        via: "1.1 someone",
        host: "aforo.example",
        "content-length": "12",
        "cf-connecting-ip": "10.0.0.1",
        accept: "application/json",
      }),
    );
    expect(names(out)).toEqual(["accept"]);
  });

  it("passes the caller's own x- headers unless they name a credential or a client identity", () => {
    const out = proxyRequestHeaders(
      new Headers({
        "x-model": "large",
        "x-tenant-region": "eu",
        "x-http-method-override": "PATCH",
        "x-auth-user": "u",
        "x-upstream-token": "t",
        "x-goog-api-key": "k",
        "x-client-secret": "s",
        "x-session-id": "s",
        "x-csrf-token": "c",
        "x-signature": "sig",
        "x-forwarded-for": "10.0.0.1",
        "x-forwarded-host": "evil.example",
        "x-real-ip": "10.0.0.1",
        "x-original-url": "/admin",
        "x-rewrite-url": "/admin",
      }),
    );
    expect(names(out)).toEqual(["x-http-method-override", "x-model", "x-tenant-region"]);
  });

  it("drops any header whose value carries an Aforo key, whatever its name", () => {
    const out = proxyRequestHeaders(
      new Headers({
        "x-note": `copied ${IK} by mistake`,
        "user-agent": "aforo_op_abc_def",
        "x-request-id": "AFORO_ADMIN_xyz",
        accept: "*/*",
      }),
    );
    expect(names(out)).toEqual(["accept"]);
  });
});

describe("proxyResponseHeaders", () => {
  it("keeps the origin's headers but its cookies and orders about Aforo's host", () => {
    const upstream = new Headers({
      "content-type": "application/json",
      "cache-control": "no-store",
      etag: '"abc"',
      "x-ratelimit-remaining": "9",
      "clear-site-data": '"*"',
      "strict-transport-security": "max-age=0",
      "alt-svc": 'h3=":443"',
      connection: "close, x-private",
      "x-private": "hop",
      "transfer-encoding": "chunked",
    });
    upstream.append("set-cookie", "sid=1; Path=/");
    upstream.append("set-cookie", "b=2");
    const out = proxyResponseHeaders(upstream);
    expect(names(out)).toEqual(["cache-control", "content-type", "etag", "x-ratelimit-remaining"]);
    expect(out.getSetCookie()).toEqual([]);
  });
});
