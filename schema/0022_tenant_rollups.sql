-- Tenant-level usage rollups (issue 15, reports speed): the customer rollups summed over the
-- tenant's customers, per UTC hour or day × product × metric. A report that cuts usage by time,
-- product and metric only (revenue summary, COGS breakdown, margin trend, and the totals beside a
-- per-customer table) reads a few hundred rows here instead of every customer's. Written by the
-- events-queue consumer in the same transaction as the customer rollups, under the same
-- applied_batches guard (store/rollups.ts), so the two always agree: each row here is the
-- GROUP BY (tenant_id, start, product_id, metric_id) of rollups_hourly / rollups_daily.
--
-- Money and quantities are held in halves, value = <column>_hi × 10^9 + <column>_lo
-- (store/exact-sum.ts; the low half kept under 10^9 in magnitude), because one row here CAN pass
-- the 64-bit range: domain/limits.ts lets each customer have 10^18 micro-units of one metric a
-- day (ten such customers in one hour pass 9.2 × 10^18) and $10 M of revenue or COGS a day
-- (10^16 nanos: 923 such customers in one hour pass it). events and uncosted_events stay single
-- integers: one per accepted event, and 2^63 events is 292,000 years at a million a second.
CREATE TABLE rollups_tenant_hourly (
  tenant_id           TEXT NOT NULL,
  start               INTEGER NOT NULL,
  product_id          TEXT NOT NULL,
  metric_id           TEXT NOT NULL,
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
  PRIMARY KEY (tenant_id, start, product_id, metric_id)
) WITHOUT ROWID;

CREATE TABLE rollups_tenant_daily (
  tenant_id           TEXT NOT NULL,
  start               INTEGER NOT NULL,
  product_id          TEXT NOT NULL,
  metric_id           TEXT NOT NULL,
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
  PRIMARY KEY (tenant_id, start, product_id, metric_id)
) WITHOUT ROWID;

-- The usage already applied, so an existing tenant's reports read the same figures after this
-- migration as before. Each sum is taken in halves (SUM(x / 10^9), SUM(x % 10^9), the low
-- half's carry moved up), exact however many customers a row sums.
INSERT INTO rollups_tenant_hourly (tenant_id, start, product_id, metric_id, units_hi, units_lo,
  revenue_hi, revenue_lo, cost_hi, cost_lo, events, uncosted_events, uncosted_revenue_hi,
  uncosted_revenue_lo)
SELECT tenant_id, start, product_id, metric_id,
  SUM(units / 1000000000) + SUM(units % 1000000000) / 1000000000, SUM(units % 1000000000) % 1000000000,
  SUM(revenue / 1000000000) + SUM(revenue % 1000000000) / 1000000000, SUM(revenue % 1000000000) % 1000000000,
  SUM(cost / 1000000000) + SUM(cost % 1000000000) / 1000000000, SUM(cost % 1000000000) % 1000000000,
  SUM(events), SUM(uncosted_events),
  SUM(uncosted_revenue / 1000000000) + SUM(uncosted_revenue % 1000000000) / 1000000000,
  SUM(uncosted_revenue % 1000000000) % 1000000000
FROM rollups_hourly
GROUP BY tenant_id, start, product_id, metric_id;

INSERT INTO rollups_tenant_daily (tenant_id, start, product_id, metric_id, units_hi, units_lo,
  revenue_hi, revenue_lo, cost_hi, cost_lo, events, uncosted_events, uncosted_revenue_hi,
  uncosted_revenue_lo)
SELECT tenant_id, start, product_id, metric_id,
  SUM(units / 1000000000) + SUM(units % 1000000000) / 1000000000, SUM(units % 1000000000) % 1000000000,
  SUM(revenue / 1000000000) + SUM(revenue % 1000000000) / 1000000000, SUM(revenue % 1000000000) % 1000000000,
  SUM(cost / 1000000000) + SUM(cost % 1000000000) / 1000000000, SUM(cost % 1000000000) % 1000000000,
  SUM(events), SUM(uncosted_events),
  SUM(uncosted_revenue / 1000000000) + SUM(uncosted_revenue % 1000000000) / 1000000000,
  SUM(uncosted_revenue % 1000000000) % 1000000000
FROM rollups_daily
GROUP BY tenant_id, start, product_id, metric_id;
