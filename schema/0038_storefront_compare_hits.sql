-- The rate limit of the storefront's public Plan Comparator (POST /v1/storefront/:slug/compare,
-- docs/storefront.md): one fixed one-minute window per (storefront, client). `client` is a
-- SHA-256 of the caller's address (CF-Connecting-IP), never the address itself. A client's row
-- is overwritten by its next window; rows of windows past are deleted by the storefront's next
-- compare, so the table holds at most the current minute's clients.
CREATE TABLE storefront_compare_hits (
  tenant_id     TEXT NOT NULL,
  client        TEXT NOT NULL,
  window_start  INTEGER NOT NULL,
  hits          INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, client)
) WITHOUT ROWID;
CREATE INDEX storefront_compare_hits_by_window ON storefront_compare_hits (tenant_id, window_start);
