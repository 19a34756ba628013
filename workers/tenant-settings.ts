import "@hono/zod-openapi"; // adds .openapi() to zod schemas
import { type TenantSettings as Settings, TenantSettingsDocument } from "../store/tenants";

/** Per-tenant settings as the API documents them: the stored document's schema
 * (store/tenants.ts), every field with a default. */
export const TenantSettings = TenantSettingsDocument.openapi("TenantSettings");

export type TenantSettings = Settings;
