-- Customer portal sessions (issue 19 §5, docs/portal.md): a short-lived link an operator (or the
-- tenant's backend) makes for one customer, opening a portal scoped to that customer only. The
-- link's token is shown once, in the create response; only its SHA-256 is kept, and it is unique
-- across tenants since the portal finds the session (and so the tenant and customer) by it. Every
-- portal request re-reads the row, so revocation and expiry take effect at once.
CREATE TABLE portal_sessions (
  tenant_id    TEXT NOT NULL,
  id           TEXT NOT NULL,
  customer_id  TEXT NOT NULL,
  token_hash   TEXT NOT NULL UNIQUE,
  created_by   TEXT NOT NULL,
  created_at   INTEGER NOT NULL,
  expires_at   INTEGER NOT NULL,
  revoked_at   INTEGER,
  revoked_by   TEXT,
  PRIMARY KEY (tenant_id, id)
) WITHOUT ROWID;

CREATE INDEX portal_sessions_by_customer ON portal_sessions (tenant_id, customer_id, created_at);
