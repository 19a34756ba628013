-- Weekly customer rollups (issue 15, reports speed): each customer's usage per UTC week (Monday
-- 00:00 UTC) × product × metric, the sum of its days in rollups_daily. A per-customer report
-- over 30 or 90 days (the Health Scorecard, Pricing Model Effectiveness) reads its whole weeks
-- here and only the days and hours at its edges from the finer tables: a fifth of the rows of
-- reading every day (domain/reports/compile.ts).
--
-- Kept by triggers on rollups_daily, not by the writers: every write to a day (the queue
-- consumer's upserts, anything else that ever writes one) moves its week by the same amount in
-- the same statement, so a week is its days' sum by construction.
--
-- Plain 64-bit integers, like rollups_daily: domain/limits.ts bounds one customer's day of one
-- metric to 10^18 micro-units and $10 M (10^16 nanos), so seven of them (7 × 10^18) stay under
-- 2^63 (9.22 × 10^18).
CREATE TABLE rollups_weekly (
  tenant_id         TEXT NOT NULL,
  start             INTEGER NOT NULL,
  customer_id       TEXT NOT NULL,
  product_id        TEXT NOT NULL,
  metric_id         TEXT NOT NULL,
  units             INTEGER NOT NULL,
  revenue           INTEGER NOT NULL,
  cost              INTEGER NOT NULL,
  events            INTEGER NOT NULL,
  uncosted_events   INTEGER NOT NULL,
  uncosted_revenue  INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, start, customer_id, product_id, metric_id)
) WITHOUT ROWID;

-- The week of a day's start: 1970-01-01 was a Thursday, three days after a Monday.
INSERT INTO rollups_weekly (tenant_id, start, customer_id, product_id, metric_id, units, revenue,
  cost, events, uncosted_events, uncosted_revenue)
SELECT tenant_id, start - (start + 259200000) % 604800000, customer_id, product_id, metric_id,
  SUM(units), SUM(revenue), SUM(cost), SUM(events), SUM(uncosted_events), SUM(uncosted_revenue)
FROM rollups_daily
GROUP BY 1, 2, 3, 4, 5;

CREATE TRIGGER rollups_daily_insert_into_weekly AFTER INSERT ON rollups_daily BEGIN
  INSERT INTO rollups_weekly (tenant_id, start, customer_id, product_id, metric_id, units,
    revenue, cost, events, uncosted_events, uncosted_revenue)
  VALUES (NEW.tenant_id, NEW.start - (NEW.start + 259200000) % 604800000, NEW.customer_id,
    NEW.product_id, NEW.metric_id, NEW.units, NEW.revenue, NEW.cost, NEW.events,
    NEW.uncosted_events, NEW.uncosted_revenue)
  ON CONFLICT (tenant_id, start, customer_id, product_id, metric_id) DO UPDATE SET
    units = units + excluded.units, revenue = revenue + excluded.revenue,
    cost = cost + excluded.cost, events = events + excluded.events,
    uncosted_events = uncosted_events + excluded.uncosted_events,
    uncosted_revenue = uncosted_revenue + excluded.uncosted_revenue;
END;

-- An update moves the old row's amounts out of its week and the new row's in (the same week
-- unless the key itself changed).
CREATE TRIGGER rollups_daily_update_into_weekly AFTER UPDATE ON rollups_daily BEGIN
  UPDATE rollups_weekly SET units = units - OLD.units, revenue = revenue - OLD.revenue,
    cost = cost - OLD.cost, events = events - OLD.events,
    uncosted_events = uncosted_events - OLD.uncosted_events,
    uncosted_revenue = uncosted_revenue - OLD.uncosted_revenue
  WHERE tenant_id = OLD.tenant_id AND start = OLD.start - (OLD.start + 259200000) % 604800000
    AND customer_id = OLD.customer_id AND product_id = OLD.product_id
    AND metric_id = OLD.metric_id;
  INSERT INTO rollups_weekly (tenant_id, start, customer_id, product_id, metric_id, units,
    revenue, cost, events, uncosted_events, uncosted_revenue)
  VALUES (NEW.tenant_id, NEW.start - (NEW.start + 259200000) % 604800000, NEW.customer_id,
    NEW.product_id, NEW.metric_id, NEW.units, NEW.revenue, NEW.cost, NEW.events,
    NEW.uncosted_events, NEW.uncosted_revenue)
  ON CONFLICT (tenant_id, start, customer_id, product_id, metric_id) DO UPDATE SET
    units = units + excluded.units, revenue = revenue + excluded.revenue,
    cost = cost + excluded.cost, events = events + excluded.events,
    uncosted_events = uncosted_events + excluded.uncosted_events,
    uncosted_revenue = uncosted_revenue + excluded.uncosted_revenue;
END;

CREATE TRIGGER rollups_daily_delete_from_weekly AFTER DELETE ON rollups_daily BEGIN
  UPDATE rollups_weekly SET units = units - OLD.units, revenue = revenue - OLD.revenue,
    cost = cost - OLD.cost, events = events - OLD.events,
    uncosted_events = uncosted_events - OLD.uncosted_events,
    uncosted_revenue = uncosted_revenue - OLD.uncosted_revenue
  WHERE tenant_id = OLD.tenant_id AND start = OLD.start - (OLD.start + 259200000) % 604800000
    AND customer_id = OLD.customer_id AND product_id = OLD.product_id
    AND metric_id = OLD.metric_id;
END;
