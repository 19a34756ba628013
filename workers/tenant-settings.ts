import { z } from "@hono/zod-openapi";

/** Per-tenant settings, stored as JSON on the tenant row; every field has a default. */
export const TenantSettings = z
  .object({
    backfill_horizon_days: z.number().int().min(1).max(3660).default(400).openapi({
      description: "Events older than this many days are rejected (history import window)",
    }),
    raw_retention_days: z.number().int().min(1).max(3660).default(90).openapi({
      description: "How long each customer actor keeps raw events for drill-down",
    }),
    payment_terms_days: z.number().int().min(0).max(365).default(30).openapi({
      description: "Invoice due date = issue date + this many days",
    }),
  })
  .openapi("TenantSettings");

export type TenantSettings = z.infer<typeof TenantSettings>;

export async function loadTenantSettings(
  db: D1Database,
  tenantId: string,
): Promise<TenantSettings> {
  const row = await db
    .prepare("SELECT settings FROM tenants WHERE id = ?")
    .bind(tenantId)
    .first<{ settings: string }>();
  return TenantSettings.parse(row ? JSON.parse(row.settings) : {});
}
