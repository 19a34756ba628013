// A small API gated and metered by Aforo: every call under /v1 is checked at Aforo's gate for
// the customer it names — by one of the customer API keys the operator issued (`Authorization:
// Bearer sk_live_…` or `x-api-key`), else by id in `x-customer-id` — (429 over its rate or
// throttled, 403 blocked, 401 for an unknown or revoked key), answered, then metered as one
// `api_calls` event of the demo's `rest-api` product, in batches, off the response path.
// /unmetered/* is the same handler without the middleware, to compare.
import { Hono } from "hono";
import { aforoGateway, reportUsage } from "../../../packages/client/src/hono";

interface Bindings {
  /** Aforo's origin (wrangler.toml), used when no service binding is configured. */
  AFORO_URL: string;
  /** The tenant's ingest key (`aforo_ik_…`), a secret: start.mjs passes the demo tenant's. */
  AFORO_INGEST_KEY: string;
  /** "open" (default) or "closed": what to do when Aforo cannot answer within 150 ms. */
  AFORO_FAIL_MODE?: string;
  /** Set when Aforo runs in the same Cloudflare account: calls it without a public hop. */
  AFORO?: Fetcher;
}

const app = new Hono<{ Bindings: Bindings }>();

const gateway = aforoGateway<{ Bindings: Bindings }>({
  product: "rest-api",
  metric: "api_calls",
  customer: "x-customer-id",
  failMode: "open",
  connection: (env) => ({
    ...(env.AFORO ? { service: env.AFORO } : { baseUrl: env.AFORO_URL }),
    ingestKey: env.AFORO_INGEST_KEY,
  }),
  onGateError: (err) => console.warn("Aforo gate unreachable, failing open:", String(err)),
});
const byApiKey = aforoGateway<{ Bindings: Bindings }>({
  product: "rest-api",
  metric: "api_calls",
  identify: "api_key",
  failMode: "open",
  connection: (env) => ({
    ...(env.AFORO ? { service: env.AFORO } : { baseUrl: env.AFORO_URL }),
    ingestKey: env.AFORO_INGEST_KEY,
  }),
  onGateError: (err) => console.warn("Aforo gate unreachable, failing open:", String(err)),
});
const failClosed = aforoGateway<{ Bindings: Bindings }>({
  product: "rest-api",
  metric: "api_calls",
  failMode: "closed",
  connection: (env) => ({ baseUrl: env.AFORO_URL, ingestKey: env.AFORO_INGEST_KEY }),
});
/** A call that presents a customer API key is identified by it; any other by its customer id. */
const carriesApiKey = (req: Request) =>
  /^Bearer\s+sk_live_/i.test(req.headers.get("authorization") ?? "") ||
  (req.headers.get("x-api-key") ?? "").startsWith("sk_live_");
app.use("/v1/*", (c, next) => {
  if (c.env.AFORO_FAIL_MODE === "closed") return failClosed(c, next);
  return (carriesApiKey(c.req.raw) ? byApiKey : gateway)(c, next);
});

/** The API itself: "enrich" a company domain (deterministic, so the demo needs no data). */
function enrich(domain: string) {
  let h = 0;
  for (const ch of domain) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return { domain, employees: 10 + (h % 5000), industry: ["saas", "retail", "fintech"][h % 3] };
}

app.get("/v1/enrich/:domain", (c) => c.json(enrich(c.req.param("domain"))));
// A bulk call counts as one unit per domain: the handler reports its usage.
app.post("/v1/enrich", async (c) => {
  const { domains } = await c.req.json<{ domains: string[] }>();
  reportUsage(c, { quantity: domains.length });
  return c.json(domains.map(enrich));
});
app.get("/unmetered/enrich/:domain", (c) => c.json(enrich(c.req.param("domain"))));

export default app;
