-- Tenants, their keys, and the catalog. Every table is keyed by tenant_id first: no query
-- can reach another tenant's rows without naming it. Times are epoch milliseconds (UTC);
-- money and prices are exact decimal strings (see domain/money.ts).

CREATE TABLE tenants (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL,
  -- JSON: backfill_horizon_days, raw_retention_days, payment_terms_days, …
  settings    TEXT NOT NULL DEFAULT '{}',
  created_at  INTEGER NOT NULL
);

-- Ingest keys (/v1/*) and operator tokens (/api/*). Only a SHA-256 of the secret is stored;
-- the key id travels inside the key so lookup never depends on the secret.
CREATE TABLE api_keys (
  id           TEXT PRIMARY KEY,
  tenant_id    TEXT NOT NULL REFERENCES tenants(id),
  kind         TEXT NOT NULL CHECK (kind IN ('ingest', 'operator')),
  secret_hash  TEXT NOT NULL,
  name         TEXT,
  created_at   INTEGER NOT NULL,
  revoked_at   INTEGER
);
CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id, kind, created_at);

CREATE TABLE products (
  tenant_id    TEXT NOT NULL REFERENCES tenants(id),
  id           TEXT NOT NULL,
  name         TEXT NOT NULL,
  description  TEXT,
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, id)
) WITHOUT ROWID;

CREATE TABLE metrics (
  tenant_id    TEXT NOT NULL,
  product_id   TEXT NOT NULL,
  id           TEXT NOT NULL,
  name         TEXT,
  unit         TEXT NOT NULL,
  aggregation  TEXT NOT NULL CHECK (aggregation IN ('sum', 'count', 'max', 'unique_count')),
  created_at   INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, product_id, id),
  FOREIGN KEY (tenant_id, product_id) REFERENCES products (tenant_id, id)
) WITHOUT ROWID;

-- A plan's prices never change under its subscribers: components are fixed at creation;
-- a new price is a new plan (name and status can change).
CREATE TABLE plans (
  tenant_id    TEXT NOT NULL,
  id           TEXT NOT NULL,
  product_id   TEXT NOT NULL,
  name         TEXT NOT NULL,
  currency     TEXT NOT NULL,
  interval     TEXT NOT NULL CHECK (interval IN ('month', 'year')),
  trial_days   INTEGER NOT NULL DEFAULT 0,
  status       TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('draft', 'active', 'archived')),
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, product_id) REFERENCES products (tenant_id, id)
) WITHOUT ROWID;

CREATE TABLE plan_components (
  tenant_id    TEXT NOT NULL,
  plan_id      TEXT NOT NULL,
  position     INTEGER NOT NULL,
  type         TEXT NOT NULL
    CHECK (type IN ('flat', 'per_unit', 'tiered', 'package', 'included', 'discount', 'minimum')),
  metric_id    TEXT,
  -- The component as the API received it (amounts as decimal strings).
  spec         TEXT NOT NULL,
  PRIMARY KEY (tenant_id, plan_id, position),
  FOREIGN KEY (tenant_id, plan_id) REFERENCES plans (tenant_id, id)
) WITHOUT ROWID;

CREATE TABLE customers (
  tenant_id    TEXT NOT NULL REFERENCES tenants(id),
  id           TEXT NOT NULL,
  name         TEXT NOT NULL,
  email        TEXT,
  metadata     TEXT NOT NULL DEFAULT '{}',
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, id)
) WITHOUT ROWID;

CREATE TABLE subscriptions (
  tenant_id    TEXT NOT NULL,
  id           TEXT NOT NULL,
  customer_id  TEXT NOT NULL,
  plan_id      TEXT NOT NULL,
  status       TEXT NOT NULL
    CHECK (status IN ('trialing', 'active', 'past_due', 'suspended', 'canceled')),
  start_at     INTEGER NOT NULL,
  trial_end    INTEGER,
  -- Billing periods are counted from this instant (see domain/billing-period.ts).
  anchor_at    INTEGER NOT NULL,
  end_at       INTEGER,
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id),
  FOREIGN KEY (tenant_id, plan_id) REFERENCES plans (tenant_id, id)
) WITHOUT ROWID;
CREATE INDEX subscriptions_by_customer ON subscriptions (tenant_id, customer_id, start_at);

-- Effective-dated provider/model prices (USD). An event is costed at the version valid at its
-- time, and that cost is stored with the event, immutable.
CREATE TABLE cost_catalog (
  tenant_id                 TEXT NOT NULL REFERENCES tenants(id),
  provider                  TEXT NOT NULL,
  model                     TEXT NOT NULL,
  effective_from            INTEGER NOT NULL,
  input_per_million         TEXT NOT NULL,
  output_per_million        TEXT NOT NULL,
  cached_input_per_million  TEXT,
  per_call                  TEXT,
  updated_at                INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, provider, model, effective_from)
) WITHOUT ROWID;
