-- Bumped on every catalog change so the edge and the customer actors know when their cached
-- copies of products, plans, subscriptions and prices are stale.
ALTER TABLE tenants ADD COLUMN catalog_version INTEGER NOT NULL DEFAULT 0;

-- Usage rollups, written only by the events-queue consumer. Quantities in micro-units, money in
-- nanos (exact integers; see domain/money.ts). `start` is the UTC hour or day start (epoch ms).
CREATE TABLE rollups_hourly (
  tenant_id    TEXT NOT NULL,
  start        INTEGER NOT NULL,
  customer_id  TEXT NOT NULL,
  product_id   TEXT NOT NULL,
  metric_id    TEXT NOT NULL,
  units        INTEGER NOT NULL,
  revenue      INTEGER NOT NULL,
  cost         INTEGER NOT NULL,
  events       INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, start, customer_id, product_id, metric_id)
) WITHOUT ROWID;

CREATE TABLE rollups_daily (
  tenant_id    TEXT NOT NULL,
  start        INTEGER NOT NULL,
  customer_id  TEXT NOT NULL,
  product_id   TEXT NOT NULL,
  metric_id    TEXT NOT NULL,
  units        INTEGER NOT NULL,
  revenue      INTEGER NOT NULL,
  cost         INTEGER NOT NULL,
  events       INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, start, customer_id, product_id, metric_id)
) WITHOUT ROWID;
CREATE INDEX rollups_daily_by_customer ON rollups_daily (tenant_id, customer_id, start);

-- Outbox batches already applied: written in the same D1 transaction as the rollup deltas, so
-- a redelivered batch changes nothing.
CREATE TABLE applied_batches (
  batch_id    TEXT PRIMARY KEY,
  tenant_id   TEXT NOT NULL,
  applied_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX applied_batches_by_time ON applied_batches (applied_at);
