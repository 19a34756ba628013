-- Honest costing (issue 12, item 5): an event with no cost information is `uncosted` unless its
-- metric is declared to carry no cost of its own (seats, a call whose tokens travel in another
-- event). Existing metrics carry cost, so their cost-less events are flagged from now on.
ALTER TABLE metrics ADD COLUMN carries_cost INTEGER NOT NULL DEFAULT 1 CHECK (carries_cost IN (0, 1));

-- The uncosted share of usage: events whose cost Aforo does not know, and their revenue, per
-- rollup row and in the margin read models (the margin pages show them beside COGS).
ALTER TABLE rollups_hourly ADD COLUMN uncosted_events INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollups_hourly ADD COLUMN uncosted_revenue INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollups_daily ADD COLUMN uncosted_events INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollups_daily ADD COLUMN uncosted_revenue INTEGER NOT NULL DEFAULT 0;
ALTER TABLE margin_customer_windows ADD COLUMN uncosted_events INTEGER NOT NULL DEFAULT 0;
ALTER TABLE margin_customer_windows ADD COLUMN uncosted_revenue INTEGER NOT NULL DEFAULT 0;
-- Tenant-wide sums, in exact halves like the other money columns (schema/0009_exact_totals.sql).
ALTER TABLE margin_product_windows ADD COLUMN uncosted_events INTEGER NOT NULL DEFAULT 0;
ALTER TABLE margin_product_windows ADD COLUMN uncosted_revenue_hi INTEGER NOT NULL DEFAULT 0;
ALTER TABLE margin_product_windows ADD COLUMN uncosted_revenue_lo INTEGER NOT NULL DEFAULT 0;
-- Customers costing more than they pay, split: those paying something and those earning $0
-- (trials, free plans, customers only seen in events).
ALTER TABLE margin_product_windows ADD COLUMN unprofitable_paying INTEGER NOT NULL DEFAULT 0;
