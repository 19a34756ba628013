import type { Brand } from "../contracts/storefront";

// The tenant's storefront in D1 (schema/0034_storefront.sql): its public slug and the brand the
// operator applied. The public routes find the tenant by slug; the operator routes by tenant.

export interface StorefrontRow {
  tenantId: string;
  slug: string;
  brand: Brand | null;
  updatedAt: number;
  updatedBy: string;
}

interface RawRow {
  tenant_id: string;
  slug: string;
  brand: string | null;
  updated_at: number;
  updated_by: string;
}

const fromRaw = (r: RawRow | null): StorefrontRow | null =>
  r && {
    tenantId: r.tenant_id,
    slug: r.slug,
    brand: r.brand ? (JSON.parse(r.brand) as Brand) : null,
    updatedAt: r.updated_at,
    updatedBy: r.updated_by,
  };

const COLUMNS = "tenant_id, slug, brand, updated_at, updated_by";

export async function storefrontOf(db: D1Database, tenantId: string) {
  return fromRaw(
    await db
      .prepare(`SELECT ${COLUMNS} FROM storefronts WHERE tenant_id = ?`)
      .bind(tenantId)
      .first<RawRow>(),
  );
}

export async function storefrontBySlug(db: D1Database, slug: string) {
  return fromRaw(
    await db
      .prepare(`SELECT ${COLUMNS} FROM storefronts WHERE slug = ?`)
      .bind(slug)
      .first<RawRow>(),
  );
}

/** Another tenant already has this slug. */
export class SlugTakenError extends Error {}

/**
 * Sets the tenant's slug and brand (both as given: a null brand clears it). Throws
 * SlugTakenError when another tenant's storefront has the slug.
 */
export async function putStorefront(
  db: D1Database,
  row: Omit<StorefrontRow, "updatedAt">,
  now: number,
): Promise<StorefrontRow> {
  try {
    await db
      .prepare(
        `INSERT INTO storefronts (${COLUMNS}) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (tenant_id) DO UPDATE SET slug = excluded.slug, brand = excluded.brand,
           updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
      )
      .bind(
        row.tenantId,
        row.slug,
        row.brand ? JSON.stringify(row.brand) : null,
        now,
        row.updatedBy,
      )
      .run();
  } catch (err) {
    if (String(err).includes("UNIQUE constraint failed: storefronts.slug")) {
      throw new SlugTakenError(`the storefront address /s/${row.slug} is taken`);
    }
    throw err;
  }
  return { ...row, updatedAt: now };
}
