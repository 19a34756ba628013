import type { MiddlewareHandler } from "hono";
import { BoundedCache } from "../domain/bounded-cache";
import { tenantMetricKeys } from "../store/catalog";
import { bumpCatalogVersion, type TenantSettings, tenantCatalogHead } from "../store/tenants";
import type { AppEnv } from "./app";

// What the edge needs to validate events against a tenant's catalog, cached per isolate and
// refreshed whenever the tenant's catalog_version moves (one small read per ingest request).

export interface TenantCatalog {
  version: number;
  settings: TenantSettings;
  /** `${product}\u0000${metric}` for every defined metric. */
  metrics: Set<string>;
  products: Set<string>;
}

/** Tenants' catalogs this isolate holds at most; the least recently used is forgotten first (a
 * forgotten one is read again on its next request), so a busy tenant never pays for a burst of
 * others, and the isolate's memory does not grow with the number of tenants it has served. */
export const CATALOG_CACHE_TENANTS = 1_000;
const cache = new BoundedCache<string, TenantCatalog>(CATALOG_CACHE_TENANTS);

export async function tenantCatalog(db: D1Database, tenantId: string): Promise<TenantCatalog> {
  const head = await tenantCatalogHead(db, tenantId);
  const cached = cache.get(tenantId);
  if (cached && cached.version === head.version) return cached;
  const metrics = await tenantMetricKeys(db, tenantId);
  const catalog: TenantCatalog = {
    version: head.version,
    settings: head.settings(),
    metrics: new Set(metrics.map((m) => `${m.product_id}\u0000${m.id}`)),
    products: new Set(metrics.map((m) => m.product_id)),
  };
  cache.set(tenantId, catalog);
  return catalog;
}

/** The statement that marks the tenant's catalog as changed (store/tenants.ts). */
export { bumpCatalogVersion };

/** After a successful write to the catalog, bump the tenant's catalog version so the edge and
 * the customer actors reload what they cached. */
export const bumpCatalogOnWrite: MiddlewareHandler<AppEnv> = async (c, next) => {
  await next();
  if (c.req.method !== "GET" && c.req.method !== "HEAD" && c.res.status < 300) {
    await bumpCatalogVersion(c.env.DB, c.var.tenantId).run();
  }
};
