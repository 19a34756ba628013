import { toNanos } from "../domain/money";
import { listPlans, metricsOf, type PlanRecord } from "./catalog";
import { type StorefrontRow, storefrontBySlug } from "./storefront";

// What the public storefront reads (/s/:slug, POST /v1/storefront/:slug/compare): the tenant's
// name, its published plans, the names of the products they belong to and their metrics'
// units — nothing else of the tenant — and the
// Plan Comparator's per-client rate limit (schema/0038_storefront_compare_hits.sql), a fixed
// window counted in D1 like a share link's (store/report-shares.ts hitShare), but per
// (storefront, client) since the route is open to anyone.

/** The most plans a storefront shows (published ones, the first by id). */
export const MAX_STOREFRONT_PLANS = 24;

export interface PublishedStorefront {
  storefront: StorefrontRow;
  tenantName: string;
  plans: PlanRecord[];
  /** The products the published plans sell, by name: a storefront shows and compares each
   * product's plans on their own, since one plan prices one product's metrics only. */
  products: Array<{ id: string; name: string }>;
  /** Unit of each metric ("token"), by product id, then metric id: two products may each
   * define a metric of the same id with its own unit. */
  units: Map<string, Map<string, string>>;
}

/** A plan's fixed fee per month in nanos (a yearly fee over 12): pricing pages list the
 * cheapest first, and the comparator's "listed first" tie-break reads this order. */
function monthlyFee(p: PlanRecord): bigint {
  const flat = p.components.find((c) => c.type === "flat");
  const fee = flat ? toNanos(flat.amount) : 0n;
  return p.interval === "year" ? fee / 12n : fee;
}

const compareBig = (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0);

/** The storefront at `slug` with its published (`active`) plans; null for an unknown slug. */
export async function publishedStorefront(
  db: D1Database,
  slug: string,
): Promise<PublishedStorefront | null> {
  const storefront = await storefrontBySlug(db, slug);
  if (!storefront) return null;
  const [tenant, plans] = await Promise.all([
    db
      .prepare("SELECT name FROM tenants WHERE id = ?")
      .bind(storefront.tenantId)
      .first<{ name: string }>(),
    listPlans(db, storefront.tenantId, {
      after: "",
      product: null,
      status: "active",
      limit: MAX_STOREFRONT_PLANS,
    }),
  ]);
  const productIds = [...new Set(plans.map((p) => p.product_id))];
  const [metrics, products] = await Promise.all([
    metricsOf(db, storefront.tenantId, productIds),
    db
      .prepare(
        `SELECT id, name FROM products
         WHERE tenant_id = ? AND id IN (SELECT value FROM json_each(?)) ORDER BY name, id`,
      )
      .bind(storefront.tenantId, JSON.stringify(productIds))
      .all<{ id: string; name: string }>(),
  ]);
  const units = new Map<string, Map<string, string>>();
  for (const [product, list] of metrics) {
    units.set(product, new Map(list.map((m) => [m.id, m.unit])));
  }
  return {
    storefront,
    tenantName: tenant?.name ?? storefront.slug,
    plans: plans.sort(
      (a, b) => compareBig(monthlyFee(a), monthlyFee(b)) || a.name.localeCompare(b.name),
    ),
    products: products.results,
    units,
  };
}

/** Counts one compare of `client` on the tenant's storefront in the window holding `now`;
 * answers the window's count so far, this one included. Drops the storefront's rows of past
 * windows in the same batch. */
export async function hitCompare(
  db: D1Database,
  tenantId: string,
  client: string,
  now: number,
  windowMs: number,
): Promise<number> {
  const start = now - (now % windowMs);
  const [hit] = await db.batch<{ hits: number }>([
    db
      .prepare(
        `INSERT INTO storefront_compare_hits (tenant_id, client, window_start, hits)
         VALUES (?1, ?2, ?3, 1)
         ON CONFLICT (tenant_id, client) DO UPDATE SET
           hits = CASE WHEN window_start = ?3 THEN hits + 1 ELSE 1 END,
           window_start = ?3
         RETURNING hits`,
      )
      .bind(tenantId, client, start),
    db
      .prepare("DELETE FROM storefront_compare_hits WHERE tenant_id = ? AND window_start < ?")
      .bind(tenantId, start),
  ]);
  return hit?.results[0]?.hits ?? 0;
}
