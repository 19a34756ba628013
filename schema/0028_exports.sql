-- Warehouse exports (issue 16 items 2–4; SPEC §8 Exports): where a tenant's exports go, each run
-- of one, the files it wrote and, for a webhook, the signed batches it sends.

-- A destination. type r2: Aforo's EXPORTS bucket under the tenant's own prefix (`tenant=<id>/…`;
-- nothing to configure, no credentials). type webhook: `config` holds the URL (shown); `secret`
-- the Standard Webhooks signing secret, sealed like a channel's (workers/deliveries/secrets.ts)
-- and never returned after creation. The last test's outcome is kept for the dashboard.
CREATE TABLE export_destinations (
  tenant_id        TEXT NOT NULL REFERENCES tenants(id),
  id               TEXT NOT NULL,
  type             TEXT NOT NULL CHECK (type IN ('r2', 'webhook')),
  name             TEXT NOT NULL,
  config           TEXT NOT NULL DEFAULT '{}',
  secret           TEXT,
  enabled          INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
  last_test_at     INTEGER,
  last_test_ok     INTEGER,
  last_test_error  TEXT,
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, id)
) WITHOUT ROWID;

-- One run of an export: a dataset over [from_at, to_at) to one destination (NULL: the tenant's
-- prefix in Aforo's bucket). status: running → succeeded | failed; a webhook run is
-- `delivering` while any batch is pending, then succeeded (every batch delivered) or failed
-- (a batch dead). data_as_of: the freshness of what was read (rollups: the applied feed).
CREATE TABLE export_runs (
  tenant_id       TEXT NOT NULL,
  id              TEXT NOT NULL,
  dataset         TEXT NOT NULL,
  report_id       TEXT,
  destination_id  TEXT,
  destination_type TEXT NOT NULL CHECK (destination_type IN ('r2', 'webhook')),
  format          TEXT NOT NULL CHECK (format IN ('parquet', 'ndjson', 'json')),
  from_at         INTEGER NOT NULL,
  to_at           INTEGER NOT NULL,
  status          TEXT NOT NULL CHECK (status IN ('running', 'delivering', 'succeeded', 'failed')),
  row_count       INTEGER NOT NULL DEFAULT 0,
  byte_count      INTEGER NOT NULL DEFAULT 0,
  file_count      INTEGER NOT NULL DEFAULT 0,
  data_as_of      INTEGER,
  error           TEXT,
  created_by      TEXT NOT NULL,
  created_at      INTEGER NOT NULL,
  finished_at     INTEGER,
  -- A scheduled run: its schedule and slot (one run per slot, the unique index).
  schedule_id     TEXT,
  scheduled_for   INTEGER,
  PRIMARY KEY (tenant_id, id)
) WITHOUT ROWID;
CREATE INDEX export_runs_by_time ON export_runs (tenant_id, created_at DESC, id);
CREATE UNIQUE INDEX export_runs_one_per_slot ON export_runs (tenant_id, schedule_id, scheduled_for)
  WHERE schedule_id IS NOT NULL;

-- Scheduled exports: a cron pattern read in an IANA zone (NULL: the tenant's) by croner, the
-- window a relative range resolved at each slot's instant (domain/reports/schedule.ts, shared
-- with report schedules). The tenant clock's tick moves next_run_at forward with a
-- compare-and-set on its old value, so a slot is claimed by one tick only.
CREATE TABLE export_schedules (
  tenant_id       TEXT NOT NULL REFERENCES tenants(id),
  id              TEXT NOT NULL,
  dataset         TEXT NOT NULL,
  report_id       TEXT,
  destination_id  TEXT,
  format          TEXT NOT NULL CHECK (format IN ('parquet', 'ndjson', 'json')),
  cron            TEXT NOT NULL,
  time_zone       TEXT,
  range           TEXT NOT NULL,
  enabled         INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
  next_run_at     INTEGER,
  created_by      TEXT NOT NULL,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, id)
) WITHOUT ROWID;
CREATE INDEX export_schedules_due ON export_schedules (tenant_id, next_run_at) WHERE enabled = 1;

-- The objects a run wrote to R2. `name` is unique within the run (what the download path
-- takes); `object_key` the full key, always under `tenant=<tenant_id>/`. `window_key` is
-- (destination, dataset, report, window): a later run of the same window deletes the objects of
-- earlier ones it did not write again, so a window never holds two versions of its rows.
CREATE TABLE export_files (
  tenant_id    TEXT NOT NULL,
  run_id       TEXT NOT NULL,
  name         TEXT NOT NULL,
  object_key   TEXT NOT NULL,
  window_key   TEXT NOT NULL,
  partition_date TEXT NOT NULL,
  row_count    INTEGER NOT NULL,
  byte_count   INTEGER NOT NULL,
  sha256       TEXT NOT NULL,
  created_at   INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, run_id, name)
) WITHOUT ROWID;
CREATE INDEX export_files_by_window ON export_files (tenant_id, window_key, object_key);

-- A webhook run's batches, delivered like alerts (workers/deliveries: the deliveries queue
-- wakes the consumer, the row is the truth, a lease keeps two copies of a message from sending
-- at once, 30 s doubling to 1 h backoff for 48 h). `id` is `<run id>_b<index>`: the batch's
-- webhook-id on every attempt. Its body is the R2 object `object_key`, written once before the
-- first attempt, so every attempt sends the same bytes.
CREATE TABLE export_batches (
  tenant_id        TEXT NOT NULL,
  id               TEXT NOT NULL,
  run_id           TEXT NOT NULL,
  destination_id   TEXT NOT NULL,
  seq              INTEGER NOT NULL,
  object_key       TEXT NOT NULL,
  row_count        INTEGER NOT NULL,
  status           TEXT NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending', 'delivered', 'dead', 'canceled')),
  attempts         INTEGER NOT NULL DEFAULT 0,
  next_attempt_at  INTEGER NOT NULL,
  leased_until     INTEGER,
  last_error       TEXT,
  last_status      INTEGER,
  delivered_at     INTEGER,
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, id)
) WITHOUT ROWID;
CREATE INDEX export_batches_by_run ON export_batches (tenant_id, run_id, seq);
CREATE INDEX export_batches_pending ON export_batches (status, next_attempt_at)
  WHERE status = 'pending';
