import { describe, expect, it } from "vitest";
import { call, createTenant, expectProblem } from "./helpers";

// The proxy when the product's origin cannot be reached (found by the route fuzzer): 502
// problem+json saying so, not 500, and the call is not metered.
describe("the proxy's origin is down", () => {
  it("answers 502 upstream_failed and meters nothing", async () => {
    const t = await createTenant("Proxy down");
    const token = t.operator_token;
    await call("POST", "/api/products", { token, body: { id: "api", name: "API" } });
    await call("POST", "/api/products/api/metrics", { token, body: { id: "calls", unit: "call" } });
    await call("POST", "/api/customers", { token, body: { id: "acme", name: "Acme" } });
    // A loopback port nothing listens on (loopback is allowed in local mode, as in the tests).
    const set = await call("PATCH", "/api/products/api", {
      token,
      body: { proxy: { origin: "http://127.0.0.1:9", metric: "calls" } },
    });
    expect(set.status, JSON.stringify(set.body)).toBe(200);
    const res = await call("GET", "/v1/proxy/api/anything", {
      token: t.ingest_key,
      headers: { "x-aforo-customer": "acme" },
    });
    expectProblem(res, 502, "upstream_failed");
    expect(res.body.detail).toMatch(/could not be reached/);
    const events = await call("GET", "/api/customers/acme/events", { token });
    expect(events.body.data).toEqual([]);
  });
});
