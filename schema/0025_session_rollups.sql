-- Usage per agent session (issue 15 item 9, Agentic Session Analysis at any scale): per UTC hour
-- × customer × product × session, where a session is an event's `session_id` property (a
-- non-empty string). The customer actor folds each batch's events that name a session into
-- pending rows beside its buckets and seals them into the same outbox rows as its deltas; the
-- events-queue consumer writes them in the same transaction as the rollups, under the same
-- applied_batches guard (store/rollups.ts), so each session's usage is here exactly once. A
-- session's rows sum, over its hours and products, to what the actor's raw events of that
-- session add up to (the `events` dataset's answer by customer × properties.session_id).
--
-- No backfill: D1 never had sessions (the rollups are per product × metric), so sessions before
-- this release are not here; the `events` dataset still answers them within raw retention.
--
-- Exact: a row is ONE customer's usage in one hour. Revenue and cost are single integers (nanos):
-- domain/limits.ts refuses any event that would take a customer's revenue, or its cost, past
-- $10 M (10^16 nanos) in a UTC day over all products, so no row can pass 10^16, far inside the
-- 64-bit range. Units and tokens are in halves, value = <column>_hi × 10^9 + <column>_lo
-- (store/exact-sum.ts), because nothing bounds them per row: a row sums the session's units over
-- every metric of the product (each bounded per day, their number not), and tokens have no daily
-- bound at all. events is one per accepted event. first_at and last_at are the first and last
-- event's time (epoch ms) in the row.
CREATE TABLE session_rollups_hourly (
  tenant_id              TEXT NOT NULL,
  start                  INTEGER NOT NULL,
  customer_id            TEXT NOT NULL,
  product_id             TEXT NOT NULL,
  session_id             TEXT NOT NULL,
  events                 INTEGER NOT NULL,
  units_hi               INTEGER NOT NULL,
  units_lo               INTEGER NOT NULL,
  revenue                INTEGER NOT NULL,
  cost                   INTEGER NOT NULL,
  input_tokens_hi        INTEGER NOT NULL,
  input_tokens_lo        INTEGER NOT NULL,
  output_tokens_hi       INTEGER NOT NULL,
  output_tokens_lo       INTEGER NOT NULL,
  cached_input_tokens_hi INTEGER NOT NULL,
  cached_input_tokens_lo INTEGER NOT NULL,
  first_at               INTEGER NOT NULL,
  last_at                INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, start, customer_id, product_id, session_id)
) WITHOUT ROWID;
