// The demo tenant's customer-facing half (issue 19 §8), made by `npm start` once the demo book
// is seeded, each step only when it is missing: the storefront's brand, read by Brand
// Auto-Extract from a page this process serves on loopback (scripts/demo-site/, never the
// internet), applied at /s/demo-co; customer API keys for two demo customers, one with a monthly
// quota; and, each start, a fresh customer-portal link (a session lives an hour).

import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import { extname, join } from "node:path";
import { request } from "./stack.mjs";

export const DEMO_STOREFRONT_SLUG = "demo-co";
const SITE = join(import.meta.dirname, "..", "demo-site");
const TYPES = { ".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8" };

/** Serves scripts/demo-site/ on a loopback port until `close()`. */
async function serveDemoSite() {
  const server = createServer(async (req, res) => {
    const name = new URL(req.url ?? "/", "http://x").pathname.replace(/^\/+/, "") || "index.html";
    if (name.includes("..") || !(extname(name) in TYPES)) {
      res.writeHead(404).end();
      return;
    }
    try {
      const body = await readFile(join(SITE, name));
      res.writeHead(200, { "content-type": TYPES[extname(name)] }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = /** @type {import("node:net").AddressInfo} */ (server.address());
  return { url: `http://127.0.0.1:${port}/`, close: () => new Promise((r) => server.close(r)) };
}

/** The storefront's brand, extracted from the demo site and applied, unless one is set. */
async function ensureBrand(url, token, log) {
  const current = await request(`${url}/api/storefront`, { token });
  if (current.slug && current.brand) return current.slug;
  const site = await serveDemoSite();
  try {
    const brand = await request(`${url}/api/storefront/brand`, {
      method: "POST",
      token,
      body: { url: site.url },
    });
    const { source_url: _s, warnings, elapsed_ms, ...applied } = brand;
    await request(`${url}/api/storefront`, {
      method: "PUT",
      token,
      body: { slug: DEMO_STOREFRONT_SLUG, brand: applied },
    });
    log(
      `  Storefront brand extracted from the demo site in ${elapsed_ms} ms` +
        (warnings.length ? ` (${warnings.join("; ")})` : ""),
    );
  } finally {
    await site.close();
  }
  return DEMO_STOREFRONT_SLUG;
}

/** The first active subscription on a Chat plan and one on another plan: the key holders. */
async function keyHolders(url, token) {
  const subs = (await request(`${url}/api/subscriptions?limit=200`, { token })).data;
  const active = subs.filter((s) => s.status === "active");
  const chat = active.find((s) => s.plan.startsWith("chat-"));
  const other = active.find((s) => !s.plan.startsWith("chat-") && s.customer !== chat?.customer);
  return [chat, other].filter(Boolean);
}

/** Customer API keys for the key holders that have none; the new keys (shown only now). */
async function ensureCustomerKeys(url, token, holders) {
  const created = [];
  for (const sub of holders) {
    const path = `${url}/api/customers/${encodeURIComponent(sub.customer)}/api-keys`;
    const existing = (await request(path, { token })).data;
    if (existing.length > 0) continue;
    const quota = sub.plan.startsWith("chat-")
      ? { metric: "input_tokens", limit: "50000000", period: "month" }
      : undefined;
    const key = await request(path, {
      method: "POST",
      token,
      body: { name: "Production", ...(quota ? { quota } : {}) },
    });
    created.push({ customer: sub.customer, key: key.key });
  }
  return created;
}

/**
 * Makes the demo's storefront, customer keys and a portal link, and answers what to print. A
 * step that fails is reported and the rest still run: the stack is usable without them.
 */
export async function ensureDemoCustomerFacing({ url, operatorToken, log = console.log }) {
  const out = { storefront: null, keys: [], portal: null };
  try {
    out.storefront = `${url}/s/${await ensureBrand(url, operatorToken, log)}`;
  } catch (err) {
    log(`  (no demo storefront: ${err.message})`);
  }
  try {
    const holders = await keyHolders(url, operatorToken);
    out.keys = await ensureCustomerKeys(url, operatorToken, holders);
    if (holders[0]) {
      const session = await request(`${url}/api/portal/sessions`, {
        method: "POST",
        token: operatorToken,
        body: { customer: holders[0].customer, expires_in: 3600 },
      });
      out.portal = { customer: holders[0].customer, url: session.url };
    }
  } catch (err) {
    log(`  (no demo customer keys or portal link: ${err.message})`);
  }
  return out;
}
