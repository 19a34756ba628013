-- The tenant's public storefront (issue 19): its address `/s/<slug>` and the brand the operator
-- applied (Brand Auto-Extract's result, reviewed). One row per tenant; `slug` is unique across
-- tenants since it is the public address. `brand` is the contracts/storefront.ts `Brand` as JSON
-- (null until one is applied: the storefront then shows the tenant's name in neutral colours).
CREATE TABLE storefronts (
  tenant_id   TEXT PRIMARY KEY,
  -- Lowercase letters, digits and inner hyphens (`acme-cloud`), as PUT /api/storefront checks.
  slug        TEXT NOT NULL UNIQUE CHECK (
                length(slug) BETWEEN 2 AND 48 AND slug NOT GLOB '*[^a-z0-9-]*'
                AND slug NOT GLOB '-*' AND slug NOT GLOB '*-'),
  brand       TEXT,
  updated_at  INTEGER NOT NULL,
  updated_by  TEXT NOT NULL
) WITHOUT ROWID;
