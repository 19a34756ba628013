-- Usage by the cost's provider and model (issue 15, COGS by provider × model at any scale): the
-- tenant rollups (schema/0022_tenant_rollups.sql) cut further by provider and model, per UTC hour
-- or day × product × metric × provider × model, '' where the events named none. The customer
-- actor keeps its pending deltas by provider and model beside its buckets and seals both into
-- the same outbox row; the events-queue consumer writes these rows in the same transaction as
-- the customer and tenant rollups, under the same applied_batches guard (store/rollups.ts), so
-- for each (tenant, start, product, metric) the rows here sum to the tenant table's row — for
-- the usage sealed since this migration.
--
-- No backfill: D1 never had provider or model (the rollups are per product × metric), so usage
-- applied before this release is not here. The cuts by provider and model start with it; for
-- earlier usage the `events` report dataset reads each actor's raw events (within raw
-- retention). Money and quantities in halves, value = <column>_hi × 10^9 + <column>_lo, for the
-- reason 0022 gives: one row sums many customers.
CREATE TABLE rollups_model_tenant_hourly (
  tenant_id           TEXT NOT NULL,
  start               INTEGER NOT NULL,
  product_id          TEXT NOT NULL,
  metric_id           TEXT NOT NULL,
  provider            TEXT NOT NULL,
  model               TEXT NOT NULL,
  units_hi            INTEGER NOT NULL,
  units_lo            INTEGER NOT NULL,
  revenue_hi          INTEGER NOT NULL,
  revenue_lo          INTEGER NOT NULL,
  cost_hi             INTEGER NOT NULL,
  cost_lo             INTEGER NOT NULL,
  events              INTEGER NOT NULL,
  uncosted_events     INTEGER NOT NULL,
  uncosted_revenue_hi INTEGER NOT NULL,
  uncosted_revenue_lo INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, start, product_id, metric_id, provider, model)
) WITHOUT ROWID;

CREATE TABLE rollups_model_tenant_daily (
  tenant_id           TEXT NOT NULL,
  start               INTEGER NOT NULL,
  product_id          TEXT NOT NULL,
  metric_id           TEXT NOT NULL,
  provider            TEXT NOT NULL,
  model               TEXT NOT NULL,
  units_hi            INTEGER NOT NULL,
  units_lo            INTEGER NOT NULL,
  revenue_hi          INTEGER NOT NULL,
  revenue_lo          INTEGER NOT NULL,
  cost_hi             INTEGER NOT NULL,
  cost_lo             INTEGER NOT NULL,
  events              INTEGER NOT NULL,
  uncosted_events     INTEGER NOT NULL,
  uncosted_revenue_hi INTEGER NOT NULL,
  uncosted_revenue_lo INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, start, product_id, metric_id, provider, model)
) WITHOUT ROWID;
