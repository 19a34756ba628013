import { exports } from "cloudflare:workers";

// Shared helpers for route tests: a request builder and a freshly seeded tenant.
export const ADMIN_TOKEN = "test-admin-token";

export interface Call {
  status: number;
  contentType: string;
  // biome-ignore lint/suspicious/noExplicitAny: tests inspect arbitrary JSON bodies
  body: any;
}

export async function call(
  method: string,
  path: string,
  options: {
    token?: string;
    body?: unknown;
    rawBody?: string;
    headers?: Record<string, string>;
  } = {},
): Promise<Call> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined = options.rawBody;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers["content-type"] ??= "application/json";
  }
  const res = await exports.default.fetch(`http://aforo.test${path}`, { method, headers, body });
  const contentType = res.headers.get("content-type") ?? "";
  const text = await res.text();
  return {
    status: res.status,
    contentType,
    body: text && contentType.includes("json") ? JSON.parse(text) : text,
  };
}

export interface Tenant {
  tenant_id: string;
  ingest_key: string;
  operator_token: string;
}

export async function createTenant(name = "Acme AI"): Promise<Tenant> {
  const res = await call("POST", "/admin/tenants", { token: ADMIN_TOKEN, body: { name } });
  if (res.status !== 201) throw new Error(`tenant creation failed: ${JSON.stringify(res.body)}`);
  return res.body;
}

/** A tenant with a product, two metrics, a plan and a customer subscribed to it. */
export async function createCatalog(tenant: Tenant) {
  const op = { token: tenant.operator_token };
  await call("POST", "/api/products", { ...op, body: { id: "chat-api", name: "Chat API" } });
  await call("POST", "/api/products/chat-api/metrics", {
    ...op,
    body: { id: "input_tokens", unit: "token", aggregation: "sum" },
  });
  await call("POST", "/api/products/chat-api/metrics", {
    ...op,
    body: { id: "output_tokens", unit: "token", aggregation: "sum" },
  });
  const plan = await call("POST", "/api/plans", {
    ...op,
    body: {
      id: "chat-pro",
      product: "chat-api",
      name: "Chat Pro",
      currency: "USD",
      period: "month",
      components: [
        { type: "flat", amount: "2000" },
        { type: "per_unit", metric: "input_tokens", unit_price: "0.00001" },
        { type: "discount", metric: "input_tokens", above: 1_000_000, percent: 15 },
      ],
    },
  });
  if (plan.status !== 201) throw new Error(`plan creation failed: ${JSON.stringify(plan.body)}`);
  await call("POST", "/api/customers", { ...op, body: { id: "acme", name: "Acme Corp" } });
  const sub = await call("POST", "/api/subscriptions", {
    ...op,
    body: { customer: "acme", plan: "chat-pro", start: "2026-11-01T00:00:00Z" },
  });
  if (sub.status !== 201) throw new Error(`subscription failed: ${JSON.stringify(sub.body)}`);
  return { subscription: sub.body };
}

export function expectProblem(res: Call, status: number, code: string) {
  if (
    res.status !== status ||
    !res.contentType.startsWith("application/problem+json") ||
    res.body.code !== code
  ) {
    throw new Error(
      `expected ${status} ${code}, got ${res.status} ${res.contentType} ${JSON.stringify(res.body)}`,
    );
  }
}
