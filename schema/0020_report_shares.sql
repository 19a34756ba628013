-- Share links of saved reports (issue 15 item 6, docs/reports.md "Share links"). The link's
-- token is not stored: it is HMAC-SHA-256 (a key derived from AFORO_SECRETS_KEY) over
-- (tenant_id, report_id, id, expires_at), so the row is what makes a signed token revocable
-- and what it is checked against. `report_id` may name a template (`tpl_…`). `window_start` /
-- `window_hits` are the link's fixed-window rate limit (one window per minute).
CREATE TABLE report_shares (
  tenant_id        TEXT NOT NULL REFERENCES tenants(id),
  id               TEXT NOT NULL,
  report_id        TEXT NOT NULL,
  expires_at       INTEGER NOT NULL,
  revoked_at       INTEGER,
  revoked_by       TEXT,
  created_by       TEXT NOT NULL,
  created_by_name  TEXT,
  created_at       INTEGER NOT NULL,
  window_start     INTEGER NOT NULL DEFAULT 0,
  window_hits      INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, id)
) WITHOUT ROWID;
CREATE INDEX report_shares_by_report ON report_shares (tenant_id, report_id, created_at DESC);
