import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "./app";
import { TenantSettings } from "./tenant-settings";

// What the edge needs to validate events against a tenant's catalog, cached per isolate and
// refreshed whenever the tenant's catalog_version moves (one small read per ingest request).

export interface TenantCatalog {
  version: number;
  settings: TenantSettings;
  /** `${product}\u0000${metric}` for every defined metric. */
  metrics: Set<string>;
  products: Set<string>;
}

const cache = new Map<string, TenantCatalog>();

export async function tenantCatalog(db: D1Database, tenantId: string): Promise<TenantCatalog> {
  const head = await db
    .prepare("SELECT catalog_version, settings FROM tenants WHERE id = ?")
    .bind(tenantId)
    .first<{ catalog_version: number; settings: string }>();
  const version = head?.catalog_version ?? 0;
  const cached = cache.get(tenantId);
  if (cached && cached.version === version) return cached;
  const { results } = await db
    .prepare("SELECT product_id, id FROM metrics WHERE tenant_id = ?")
    .bind(tenantId)
    .all<{ product_id: string; id: string }>();
  const catalog: TenantCatalog = {
    version,
    settings: TenantSettings.parse(head ? JSON.parse(head.settings) : {}),
    metrics: new Set(results.map((m) => `${m.product_id}\u0000${m.id}`)),
    products: new Set(results.map((m) => m.product_id)),
  };
  if (cache.size > 1_000) cache.clear();
  cache.set(tenantId, catalog);
  return catalog;
}

/** The statement that marks the tenant's catalog as changed (edge and actors reload it). */
export const bumpCatalogVersion = (db: D1Database, tenantId: string) =>
  db
    .prepare("UPDATE tenants SET catalog_version = catalog_version + 1 WHERE id = ?")
    .bind(tenantId);

/** After a successful write to the catalog, bump the tenant's catalog version so the edge and
 * the customer actors reload what they cached. */
export const bumpCatalogOnWrite: MiddlewareHandler<AppEnv> = async (c, next) => {
  await next();
  if (c.req.method !== "GET" && c.req.method !== "HEAD" && c.res.status < 300) {
    await bumpCatalogVersion(c.env.DB, c.var.tenantId).run();
  }
};
