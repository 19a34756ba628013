import { z } from "@hono/zod-openapi";
import { type TenantSettings as Settings, TenantSettingsDocument } from "../store/tenants";

/** Per-tenant settings as the API documents them: the stored document's fields (store/tenants.ts),
 * every one with a default. Built with @hono/zod-openapi's own `z`, not by calling `.openapi()`
 * on the plain-zod schema: that relied on zod having been extended by the time this module ran,
 * and the benchmarks' bundle ran it earlier and failed at startup. */
export const TenantSettings = z.object(TenantSettingsDocument.shape).openapi("TenantSettings");

export type TenantSettings = Settings;
