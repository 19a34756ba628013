import {
  API_BODY_LIMIT,
  createRouter,
  GATE_BODY_LIMIT,
  handleError,
  limitBody,
  securityHeaders,
} from "./app";
import { requireIngestKey, requireOperator } from "./auth";
import { docsAiWording } from "./copilot/docs-wording";
import { pokeTenantClocks } from "./periodic";
import { problemResponse } from "./problem";
import { handleQueue } from "./queues";
import { actions } from "./routes/actions";
import { admin } from "./routes/admin";
import { ai } from "./routes/ai";
import { archiveReplay } from "./routes/archive-replay";
import { auth } from "./routes/auth";
import { cases } from "./routes/cases";
import { channels } from "./routes/channels";
import { copilot } from "./routes/copilot";
import { copilotArchitect } from "./routes/copilot-architect";
import { costCatalog } from "./routes/cost-catalog";
import { customerApiKeys } from "./routes/customer-api-keys";
import { customers } from "./routes/customers";
import { deliveries } from "./routes/deliveries";
import { detectors } from "./routes/detectors";
import { docsRoutes } from "./routes/docs";
import { warehouseExports } from "./routes/exports";
import { gate } from "./routes/gate";
import { ingest } from "./routes/ingest";
import { invoices } from "./routes/invoices";
import { keys } from "./routes/keys";
import { margin } from "./routes/margin";
import { members } from "./routes/members";
import { metrics } from "./routes/metrics";
import { payments, stripeWebhook } from "./routes/payments";
import { plans } from "./routes/plans";
import { policies } from "./routes/policies";
import { portalPages, portalSessions } from "./routes/portal";
import { pricingPreview } from "./routes/pricing-preview";
import { products } from "./routes/products";
import { replay } from "./routes/replay";
import { reportSchedules } from "./routes/report-schedules";
import { reportShares, sharedReports } from "./routes/report-shares";
import { reports } from "./routes/reports";
import { signals } from "./routes/signals";
import { storefront } from "./routes/storefront";
import { storefrontCompare, storefrontPages } from "./routes/storefront-public";
import { subscriptions } from "./routes/subscriptions";
import { usage } from "./routes/usage";
import { bumpCatalogOnWrite } from "./tenant-catalog";

export { CustomerActor } from "../durable-objects/customer-actor";
export { LiveHub } from "../durable-objects/live-hub";
export { TenantClock } from "./tenant-clock";

// The edge worker: one Hono app for the operator API (/api/*, a person's session cookie or an
// operator token, each route guarded by the permission it declares), signing in (/auth/*), the
// ingest and gate endpoints (/v1/*, ingest keys) and platform administration (/admin/*, admin
// token). Everything else is the dashboard, served from static assets.
const app = createRouter();
app.use("*", securityHeaders());
app.use("/api/*", limitBody(API_BODY_LIMIT, "1 MiB"));
app.use("/admin/*", limitBody(API_BODY_LIMIT, "1 MiB"));
app.use("/auth/*", limitBody(GATE_BODY_LIMIT, "64 KiB"));
app.use("/v1/gate", limitBody(GATE_BODY_LIMIT, "64 KiB"));
app.use("/v1/storefront/*", limitBody(GATE_BODY_LIMIT, "64 KiB"));
app.use("/portal/*", limitBody(GATE_BODY_LIMIT, "64 KiB"));
// A Stripe event carries its whole object (an invoice with its lines): more than a gate check.
app.use("/v1/payments/*", limitBody(API_BODY_LIMIT, "1 MiB"));

const api = createRouter();
api.use("*", requireOperator);
api.route("/", members);
api.route("/keys", keys);
for (const path of ["/products", "/plans", "/customers", "/subscriptions", "/cost-catalog"]) {
  api.use(`${path}/*`, bumpCatalogOnWrite);
  api.use(path, bumpCatalogOnWrite);
}
api.route("/products", products);
api.route("/plans", plans);
api.route("/customers", customers);
api.route("/customers", customerApiKeys);
api.route("/subscriptions", subscriptions);
api.route("/cost-catalog", costCatalog);
api.route("/invoices", invoices);
api.route("/", payments);
api.route("/margin", margin);
api.route("/", metrics);
api.route("/", usage);
api.route("/", signals);
api.route("/", cases);
api.route("/", actions);
api.route("/", policies);
api.route("/", replay);
api.route("/", detectors);
api.route("/channels", channels);
api.route("/deliveries", deliveries);
api.route("/", reports);
api.route("/", reportSchedules);
api.route("/", reportShares);
api.route("/exports", warehouseExports);
api.route("/exports", archiveReplay);
api.route("/", copilot);
api.route("/", copilotArchitect);
api.route("/", ai);
api.route("/", pricingPreview);
api.route("/", storefront);
api.route("/", portalSessions);
// The Documentation Hub explains the document this app serves (below), read when first asked.
api.route(
  "/docs",
  docsRoutes({
    document: () => app.getOpenAPI31Document(API_DOCUMENT),
    aiWording: docsAiWording,
  }),
);

const v1 = createRouter();
v1.use("*", requireIngestKey);
v1.route("/", ingest);
v1.route("/", gate);

app.route("/admin", admin);
// With the routes that take no operator credential: a report share link is its own
// (workers/routes/report-shares.ts).
app.route("/auth/share", sharedReports);
app.route("/auth", auth);
app.route("/api", api);
// Before /v1's ingest-key check: the Stripe webhook is authenticated by its signature alone, and
// its handler answers without passing the request on.
app.route("/v1/payments", stripeWebhook);
// The public storefront (workers/routes/storefront-public.ts): its page and its comparator take
// no credential, so they too come before /v1's ingest-key check.
app.route("/s", storefrontPages);
app.route("/v1/storefront", storefrontCompare);
// The customer portal (workers/routes/portal.ts): its own session cookie, no operator credential.
app.route("/portal", portalPages);
app.route("/v1", v1);

app.get("/healthz", (c) => c.json({ ok: true }));

/** /openapi.json's header; `servers` is added per request (the origin that asked). */
const API_DOCUMENT = {
  openapi: "3.1.0",
  info: {
    title: "Aforo API",
    version: "0.1.0",
    description:
      "Revenue intelligence for usage-priced APIs and AI products. Errors are application/problem+json with a stable `code`.",
  },
};

app.openAPIRegistry.registerComponent("securitySchemes", "operatorToken", {
  type: "http",
  scheme: "bearer",
  description: "Operator token (aforo_op_…), for /api/*",
});
app.openAPIRegistry.registerComponent("securitySchemes", "sessionCookie", {
  type: "apiKey",
  in: "cookie",
  name: "aforo_session",
  description:
    "A person's session (/auth/*; `__Host-aforo_session` over https), for /api/*; state-changing requests also send X-CSRF-Token",
});
app.openAPIRegistry.registerComponent("securitySchemes", "ingestKey", {
  type: "http",
  scheme: "bearer",
  description: "Ingest key (aforo_ik_…), for /v1/*",
});
app.openAPIRegistry.registerComponent("securitySchemes", "stripeSignature", {
  type: "apiKey",
  in: "header",
  name: "Stripe-Signature",
  description:
    "`t=<unix seconds>,v1=<HMAC-SHA256 of t.body>` with the tenant's Stripe signing secret (PUT /api/payments/stripe), for /v1/payments/stripe/{tenant_id}",
});
app.openAPIRegistry.registerComponent("securitySchemes", "adminToken", {
  type: "http",
  scheme: "bearer",
  description: "AFORO_ADMIN_TOKEN, for /admin/*",
});
app.doc31("/openapi.json", (c) => ({
  ...API_DOCUMENT,
  servers: [{ url: new URL(c.req.url).origin }],
}));

app.notFound((c) =>
  problemResponse("not_found", `No route for ${c.req.method} ${new URL(c.req.url).pathname}`),
);
app.onError(handleError);

export default {
  fetch: app.fetch,
  queue: handleQueue,
  async scheduled(_controller, env, ctx) {
    // Each tenant's clock runs its periodic work (deliveries repair included) on its own alarm.
    ctx.waitUntil(pokeTenantClocks(env));
  },
} satisfies ExportedHandler<Env>;

export { app };
