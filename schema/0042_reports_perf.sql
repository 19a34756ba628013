-- The tenant's session usage per UTC hour × product (issue 15 §9, reports speed): the sum over
-- its customers and sessions of session_rollups_hourly. A sessions statement that sums only
-- (events, units, revenue, cost, tokens) and filters on nothing but the product, which is every
-- statement's totals and comparison of Agentic Session Analysis, reads its range's hours here:
-- 168 rows per product for a week, where it summed every session-hour of the range (~215,000
-- in the bench's week; domain/reports/sessions-source.ts `readsTenantSessionHours`).
--
-- Kept by triggers on session_rollups_hourly, as session_totals is (schema/0036): every write to
-- a session-hour (the queue consumer's upserts under its applied_batches guard, store/rollups.ts,
-- or anything else that ever writes one) moves its tenant hour by the same amount in the same
-- statement, so a tenant hour is its session-hours' sum by construction. No first or last event
-- time and no session count: a minimum, a maximum or a distinct count cannot be taken back when
-- an hour is updated or deleted, so statements measuring duration or sessions read the hours.
--
-- Every amount in halves, value = <column>_hi × 10^9 + <column>_lo (store/exact-sum.ts): one
-- customer's day is bounded by domain/limits.ts, the sum of thousands of customers' is not. Sums
-- keep the identity exactly whatever the signs (SQLite's / and % truncate alike), the low half
-- under 10^9 in magnitude.
CREATE TABLE session_rollups_tenant_hourly (
  tenant_id              TEXT NOT NULL,
  start                  INTEGER NOT NULL,
  product_id             TEXT NOT NULL,
  events                 INTEGER NOT NULL,
  units_hi               INTEGER NOT NULL,
  units_lo               INTEGER NOT NULL,
  revenue_hi             INTEGER NOT NULL,
  revenue_lo             INTEGER NOT NULL,
  cost_hi                INTEGER NOT NULL,
  cost_lo                INTEGER NOT NULL,
  input_tokens_hi        INTEGER NOT NULL,
  input_tokens_lo        INTEGER NOT NULL,
  output_tokens_hi       INTEGER NOT NULL,
  output_tokens_lo       INTEGER NOT NULL,
  cached_input_tokens_hi INTEGER NOT NULL,
  cached_input_tokens_lo INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, start, product_id)
) WITHOUT ROWID;

-- The session-hours already kept, so the statements read the same figures after this migration.
INSERT INTO session_rollups_tenant_hourly (tenant_id, start, product_id, events, units_hi,
  units_lo, revenue_hi, revenue_lo, cost_hi, cost_lo, input_tokens_hi, input_tokens_lo,
  output_tokens_hi, output_tokens_lo, cached_input_tokens_hi, cached_input_tokens_lo)
SELECT tenant_id, start, product_id, SUM(events),
  SUM(units_hi) + SUM(units_lo) / 1000000000, SUM(units_lo) % 1000000000,
  SUM(revenue / 1000000000) + SUM(revenue % 1000000000) / 1000000000, SUM(revenue % 1000000000) % 1000000000,
  SUM(cost / 1000000000) + SUM(cost % 1000000000) / 1000000000, SUM(cost % 1000000000) % 1000000000,
  SUM(input_tokens_hi) + SUM(input_tokens_lo) / 1000000000, SUM(input_tokens_lo) % 1000000000,
  SUM(output_tokens_hi) + SUM(output_tokens_lo) / 1000000000, SUM(output_tokens_lo) % 1000000000,
  SUM(cached_input_tokens_hi) + SUM(cached_input_tokens_lo) / 1000000000,
  SUM(cached_input_tokens_lo) % 1000000000
FROM session_rollups_hourly
GROUP BY tenant_id, start, product_id;

CREATE TRIGGER session_rollups_hourly_insert_into_tenant AFTER INSERT ON session_rollups_hourly
BEGIN
  INSERT INTO session_rollups_tenant_hourly (tenant_id, start, product_id, events, units_hi,
    units_lo, revenue_hi, revenue_lo, cost_hi, cost_lo, input_tokens_hi, input_tokens_lo,
    output_tokens_hi, output_tokens_lo, cached_input_tokens_hi, cached_input_tokens_lo)
  VALUES (NEW.tenant_id, NEW.start, NEW.product_id, NEW.events, NEW.units_hi, NEW.units_lo,
    NEW.revenue / 1000000000, NEW.revenue % 1000000000, NEW.cost / 1000000000,
    NEW.cost % 1000000000, NEW.input_tokens_hi, NEW.input_tokens_lo, NEW.output_tokens_hi,
    NEW.output_tokens_lo, NEW.cached_input_tokens_hi, NEW.cached_input_tokens_lo)
  ON CONFLICT (tenant_id, start, product_id) DO UPDATE SET
    events = events + excluded.events,
    units_hi = units_hi + excluded.units_hi + (units_lo + excluded.units_lo) / 1000000000,
    units_lo = (units_lo + excluded.units_lo) % 1000000000,
    revenue_hi = revenue_hi + excluded.revenue_hi + (revenue_lo + excluded.revenue_lo) / 1000000000,
    revenue_lo = (revenue_lo + excluded.revenue_lo) % 1000000000,
    cost_hi = cost_hi + excluded.cost_hi + (cost_lo + excluded.cost_lo) / 1000000000,
    cost_lo = (cost_lo + excluded.cost_lo) % 1000000000,
    input_tokens_hi = input_tokens_hi + excluded.input_tokens_hi
      + (input_tokens_lo + excluded.input_tokens_lo) / 1000000000,
    input_tokens_lo = (input_tokens_lo + excluded.input_tokens_lo) % 1000000000,
    output_tokens_hi = output_tokens_hi + excluded.output_tokens_hi
      + (output_tokens_lo + excluded.output_tokens_lo) / 1000000000,
    output_tokens_lo = (output_tokens_lo + excluded.output_tokens_lo) % 1000000000,
    cached_input_tokens_hi = cached_input_tokens_hi + excluded.cached_input_tokens_hi
      + (cached_input_tokens_lo + excluded.cached_input_tokens_lo) / 1000000000,
    cached_input_tokens_lo = (cached_input_tokens_lo + excluded.cached_input_tokens_lo) % 1000000000;
END;

-- An update takes the old row's amounts out of its tenant hour and puts the new row's in (the
-- same hour and product unless the key itself changed).
CREATE TRIGGER session_rollups_hourly_update_into_tenant AFTER UPDATE ON session_rollups_hourly
BEGIN
  UPDATE session_rollups_tenant_hourly SET
    events = events - OLD.events,
    units_hi = units_hi - OLD.units_hi + (units_lo - OLD.units_lo) / 1000000000,
    units_lo = (units_lo - OLD.units_lo) % 1000000000,
    revenue_hi = revenue_hi - OLD.revenue / 1000000000
      + (revenue_lo - OLD.revenue % 1000000000) / 1000000000,
    revenue_lo = (revenue_lo - OLD.revenue % 1000000000) % 1000000000,
    cost_hi = cost_hi - OLD.cost / 1000000000 + (cost_lo - OLD.cost % 1000000000) / 1000000000,
    cost_lo = (cost_lo - OLD.cost % 1000000000) % 1000000000,
    input_tokens_hi = input_tokens_hi - OLD.input_tokens_hi
      + (input_tokens_lo - OLD.input_tokens_lo) / 1000000000,
    input_tokens_lo = (input_tokens_lo - OLD.input_tokens_lo) % 1000000000,
    output_tokens_hi = output_tokens_hi - OLD.output_tokens_hi
      + (output_tokens_lo - OLD.output_tokens_lo) / 1000000000,
    output_tokens_lo = (output_tokens_lo - OLD.output_tokens_lo) % 1000000000,
    cached_input_tokens_hi = cached_input_tokens_hi - OLD.cached_input_tokens_hi
      + (cached_input_tokens_lo - OLD.cached_input_tokens_lo) / 1000000000,
    cached_input_tokens_lo = (cached_input_tokens_lo - OLD.cached_input_tokens_lo) % 1000000000
  WHERE tenant_id = OLD.tenant_id AND start = OLD.start AND product_id = OLD.product_id;
  INSERT INTO session_rollups_tenant_hourly (tenant_id, start, product_id, events, units_hi,
    units_lo, revenue_hi, revenue_lo, cost_hi, cost_lo, input_tokens_hi, input_tokens_lo,
    output_tokens_hi, output_tokens_lo, cached_input_tokens_hi, cached_input_tokens_lo)
  VALUES (NEW.tenant_id, NEW.start, NEW.product_id, NEW.events, NEW.units_hi, NEW.units_lo,
    NEW.revenue / 1000000000, NEW.revenue % 1000000000, NEW.cost / 1000000000,
    NEW.cost % 1000000000, NEW.input_tokens_hi, NEW.input_tokens_lo, NEW.output_tokens_hi,
    NEW.output_tokens_lo, NEW.cached_input_tokens_hi, NEW.cached_input_tokens_lo)
  ON CONFLICT (tenant_id, start, product_id) DO UPDATE SET
    events = events + excluded.events,
    units_hi = units_hi + excluded.units_hi + (units_lo + excluded.units_lo) / 1000000000,
    units_lo = (units_lo + excluded.units_lo) % 1000000000,
    revenue_hi = revenue_hi + excluded.revenue_hi + (revenue_lo + excluded.revenue_lo) / 1000000000,
    revenue_lo = (revenue_lo + excluded.revenue_lo) % 1000000000,
    cost_hi = cost_hi + excluded.cost_hi + (cost_lo + excluded.cost_lo) / 1000000000,
    cost_lo = (cost_lo + excluded.cost_lo) % 1000000000,
    input_tokens_hi = input_tokens_hi + excluded.input_tokens_hi
      + (input_tokens_lo + excluded.input_tokens_lo) / 1000000000,
    input_tokens_lo = (input_tokens_lo + excluded.input_tokens_lo) % 1000000000,
    output_tokens_hi = output_tokens_hi + excluded.output_tokens_hi
      + (output_tokens_lo + excluded.output_tokens_lo) / 1000000000,
    output_tokens_lo = (output_tokens_lo + excluded.output_tokens_lo) % 1000000000,
    cached_input_tokens_hi = cached_input_tokens_hi + excluded.cached_input_tokens_hi
      + (cached_input_tokens_lo + excluded.cached_input_tokens_lo) / 1000000000,
    cached_input_tokens_lo = (cached_input_tokens_lo + excluded.cached_input_tokens_lo) % 1000000000;
END;

CREATE TRIGGER session_rollups_hourly_delete_from_tenant AFTER DELETE ON session_rollups_hourly
BEGIN
  UPDATE session_rollups_tenant_hourly SET
    events = events - OLD.events,
    units_hi = units_hi - OLD.units_hi + (units_lo - OLD.units_lo) / 1000000000,
    units_lo = (units_lo - OLD.units_lo) % 1000000000,
    revenue_hi = revenue_hi - OLD.revenue / 1000000000
      + (revenue_lo - OLD.revenue % 1000000000) / 1000000000,
    revenue_lo = (revenue_lo - OLD.revenue % 1000000000) % 1000000000,
    cost_hi = cost_hi - OLD.cost / 1000000000 + (cost_lo - OLD.cost % 1000000000) / 1000000000,
    cost_lo = (cost_lo - OLD.cost % 1000000000) % 1000000000,
    input_tokens_hi = input_tokens_hi - OLD.input_tokens_hi
      + (input_tokens_lo - OLD.input_tokens_lo) / 1000000000,
    input_tokens_lo = (input_tokens_lo - OLD.input_tokens_lo) % 1000000000,
    output_tokens_hi = output_tokens_hi - OLD.output_tokens_hi
      + (output_tokens_lo - OLD.output_tokens_lo) / 1000000000,
    output_tokens_lo = (output_tokens_lo - OLD.output_tokens_lo) % 1000000000,
    cached_input_tokens_hi = cached_input_tokens_hi - OLD.cached_input_tokens_hi
      + (cached_input_tokens_lo - OLD.cached_input_tokens_lo) / 1000000000,
    cached_input_tokens_lo = (cached_input_tokens_lo - OLD.cached_input_tokens_lo) % 1000000000
  WHERE tenant_id = OLD.tenant_id AND start = OLD.start AND product_id = OLD.product_id;
END;
