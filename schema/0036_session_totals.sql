-- Per-session totals (issue 15, reports speed): each agent session's usage over all its hours and
-- products, beside its hourly rows in session_rollups_hourly, with the first and last of those
-- hours. A sessions report by customer × session (Agentic Session Analysis) reads the sessions
-- lying wholly inside its range here, one row each and already in (first hour, session) order, and
-- only the sessions straddling the range's edges from their hours (domain/reports/sessions-source.ts):
-- no grouping of every session-hour of the range.
--
-- Kept by triggers on session_rollups_hourly, as rollups_weekly is on rollups_daily
-- (schema/0029): every write to a session-hour (the queue consumer's upserts, under its
-- applied_batches guard, store/rollups.ts) moves its session's totals by the same amount in the
-- same statement, so a session's row is its hours' sum by construction.
--
-- first_start and last_start are the first and last hour (epoch ms) the session has rows in, or
-- wider: a session-hour deleted, or updated to another hour or to a narrower first_at..last_at,
-- sets first_start to -1, before any range, so from then on that session is always read from its
-- hours, never from these totals (its sums here stay exact, its bounds may not).
--
-- Every amount in halves, value = <column>_hi × 10^9 + <column>_lo (store/exact-sum.ts): a
-- session can run over many days, and domain/limits.ts bounds revenue and cost per customer-day,
-- not per session. Sums keep the identity exactly whatever the signs (SQLite's / and % truncate
-- alike), the low half under 10^9 in magnitude.
CREATE TABLE session_totals (
  tenant_id              TEXT NOT NULL,
  first_start            INTEGER NOT NULL,
  customer_id            TEXT NOT NULL,
  session_id             TEXT NOT NULL,
  last_start             INTEGER NOT NULL,
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
  first_at               INTEGER NOT NULL,
  last_at                INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, first_start, customer_id, session_id)
) WITHOUT ROWID;

-- One row per session (the triggers' conflict target).
CREATE UNIQUE INDEX session_totals_by_session ON session_totals (tenant_id, customer_id, session_id);
-- The sessions that end inside or after a range but start before it: its edges' stragglers.
CREATE INDEX session_totals_by_last_start ON session_totals (tenant_id, last_start, first_start);
-- A straddling session's hours inside the range, by key.
CREATE INDEX session_rollups_hourly_by_session
  ON session_rollups_hourly (tenant_id, customer_id, session_id, start);

-- The sessions already kept, so their reports read the same figures after this migration.
INSERT INTO session_totals (tenant_id, first_start, customer_id, session_id, last_start, events,
  units_hi, units_lo, revenue_hi, revenue_lo, cost_hi, cost_lo, input_tokens_hi, input_tokens_lo,
  output_tokens_hi, output_tokens_lo, cached_input_tokens_hi, cached_input_tokens_lo, first_at,
  last_at)
SELECT tenant_id, MIN(start), customer_id, session_id, MAX(start), SUM(events),
  SUM(units_hi) + SUM(units_lo) / 1000000000, SUM(units_lo) % 1000000000,
  SUM(revenue / 1000000000) + SUM(revenue % 1000000000) / 1000000000, SUM(revenue % 1000000000) % 1000000000,
  SUM(cost / 1000000000) + SUM(cost % 1000000000) / 1000000000, SUM(cost % 1000000000) % 1000000000,
  SUM(input_tokens_hi) + SUM(input_tokens_lo) / 1000000000, SUM(input_tokens_lo) % 1000000000,
  SUM(output_tokens_hi) + SUM(output_tokens_lo) / 1000000000, SUM(output_tokens_lo) % 1000000000,
  SUM(cached_input_tokens_hi) + SUM(cached_input_tokens_lo) / 1000000000,
  SUM(cached_input_tokens_lo) % 1000000000,
  MIN(first_at), MAX(last_at)
FROM session_rollups_hourly
GROUP BY tenant_id, customer_id, session_id;

-- A session's bounds move only when an hour falls outside them, so they are set apart from the
-- sums: only then is the row's key (its first hour) or its last hour's index entry rewritten,
-- not on every upsert of an hour already kept.
CREATE TRIGGER session_rollups_hourly_insert_into_totals AFTER INSERT ON session_rollups_hourly
BEGIN
  UPDATE session_totals SET first_start = NEW.start
  WHERE tenant_id = NEW.tenant_id AND customer_id = NEW.customer_id
    AND session_id = NEW.session_id AND first_start > NEW.start;
  UPDATE session_totals SET last_start = NEW.start
  WHERE tenant_id = NEW.tenant_id AND customer_id = NEW.customer_id
    AND session_id = NEW.session_id AND last_start < NEW.start;
  INSERT INTO session_totals (tenant_id, first_start, customer_id, session_id, last_start, events,
    units_hi, units_lo, revenue_hi, revenue_lo, cost_hi, cost_lo, input_tokens_hi,
    input_tokens_lo, output_tokens_hi, output_tokens_lo, cached_input_tokens_hi,
    cached_input_tokens_lo, first_at, last_at)
  VALUES (NEW.tenant_id, NEW.start, NEW.customer_id, NEW.session_id, NEW.start, NEW.events,
    NEW.units_hi, NEW.units_lo, NEW.revenue / 1000000000, NEW.revenue % 1000000000,
    NEW.cost / 1000000000, NEW.cost % 1000000000, NEW.input_tokens_hi, NEW.input_tokens_lo,
    NEW.output_tokens_hi, NEW.output_tokens_lo, NEW.cached_input_tokens_hi,
    NEW.cached_input_tokens_lo, NEW.first_at, NEW.last_at)
  ON CONFLICT (tenant_id, customer_id, session_id) DO UPDATE SET
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
    cached_input_tokens_lo = (cached_input_tokens_lo + excluded.cached_input_tokens_lo) % 1000000000,
    first_at = MIN(first_at, excluded.first_at),
    last_at = MAX(last_at, excluded.last_at);
END;

-- An update takes the old row's amounts out of its session and puts the new row's in (the
-- consumer's upsert: the same hour, its amounts grown and its first_at..last_at widened). An
-- update that moves the row to another hour or session, or narrows its first_at..last_at, can
-- leave the old session's bounds too wide: that session is then read from its hours (-1).
CREATE TRIGGER session_rollups_hourly_update_into_totals AFTER UPDATE ON session_rollups_hourly
BEGIN
  UPDATE session_totals SET first_start = -1
  WHERE tenant_id = OLD.tenant_id AND customer_id = OLD.customer_id
    AND session_id = OLD.session_id AND first_start <> -1
    AND NOT (NEW.tenant_id = OLD.tenant_id AND NEW.customer_id = OLD.customer_id
      AND NEW.session_id = OLD.session_id AND NEW.start = OLD.start
      AND NEW.first_at <= OLD.first_at AND NEW.last_at >= OLD.last_at);
  UPDATE session_totals SET
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
  WHERE tenant_id = OLD.tenant_id AND customer_id = OLD.customer_id
    AND session_id = OLD.session_id;
  UPDATE session_totals SET first_start = NEW.start
  WHERE tenant_id = NEW.tenant_id AND customer_id = NEW.customer_id
    AND session_id = NEW.session_id AND first_start > NEW.start;
  UPDATE session_totals SET last_start = NEW.start
  WHERE tenant_id = NEW.tenant_id AND customer_id = NEW.customer_id
    AND session_id = NEW.session_id AND last_start < NEW.start;
  INSERT INTO session_totals (tenant_id, first_start, customer_id, session_id, last_start, events,
    units_hi, units_lo, revenue_hi, revenue_lo, cost_hi, cost_lo, input_tokens_hi,
    input_tokens_lo, output_tokens_hi, output_tokens_lo, cached_input_tokens_hi,
    cached_input_tokens_lo, first_at, last_at)
  VALUES (NEW.tenant_id, NEW.start, NEW.customer_id, NEW.session_id, NEW.start, NEW.events,
    NEW.units_hi, NEW.units_lo, NEW.revenue / 1000000000, NEW.revenue % 1000000000,
    NEW.cost / 1000000000, NEW.cost % 1000000000, NEW.input_tokens_hi, NEW.input_tokens_lo,
    NEW.output_tokens_hi, NEW.output_tokens_lo, NEW.cached_input_tokens_hi,
    NEW.cached_input_tokens_lo, NEW.first_at, NEW.last_at)
  ON CONFLICT (tenant_id, customer_id, session_id) DO UPDATE SET
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
    cached_input_tokens_lo = (cached_input_tokens_lo + excluded.cached_input_tokens_lo) % 1000000000,
    first_at = MIN(first_at, excluded.first_at),
    last_at = MAX(last_at, excluded.last_at);
END;

CREATE TRIGGER session_rollups_hourly_delete_from_totals AFTER DELETE ON session_rollups_hourly
BEGIN
  UPDATE session_totals SET
    first_start = -1,
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
  WHERE tenant_id = OLD.tenant_id AND customer_id = OLD.customer_id
    AND session_id = OLD.session_id;
END;
