-- The `s3` export destination (issue 16 §3; docs/exports.md "The s3 destination"): the tenant's
-- own S3-compatible bucket. `config` holds endpoint, bucket, region, prefix, path_style and
-- access_key_id; `secret` the secret access key, sealed like a channel's secret
-- (workers/deliveries/secrets.ts). SQLite cannot alter a CHECK constraint, so the two tables
-- whose CHECKs name the destination types are rebuilt and their rows copied; nothing references
-- them, so dropping the old tables breaks no foreign key. export_schedules names a destination
-- by id only and keeps its table.
CREATE TABLE export_destinations_new (
  tenant_id        TEXT NOT NULL REFERENCES tenants(id),
  id               TEXT NOT NULL,
  type             TEXT NOT NULL CHECK (type IN ('r2', 'webhook', 's3')),
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
INSERT INTO export_destinations_new (tenant_id, id, type, name, config, secret, enabled,
    last_test_at, last_test_ok, last_test_error, created_at, updated_at)
  SELECT tenant_id, id, type, name, config, secret, enabled, last_test_at, last_test_ok,
    last_test_error, created_at, updated_at FROM export_destinations;
DROP TABLE export_destinations;
ALTER TABLE export_destinations_new RENAME TO export_destinations;

CREATE TABLE export_runs_new (
  tenant_id       TEXT NOT NULL,
  id              TEXT NOT NULL,
  dataset         TEXT NOT NULL,
  report_id       TEXT,
  destination_id  TEXT,
  destination_type TEXT NOT NULL CHECK (destination_type IN ('r2', 'webhook', 's3')),
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
  schedule_id     TEXT,
  scheduled_for   INTEGER,
  PRIMARY KEY (tenant_id, id)
) WITHOUT ROWID;
INSERT INTO export_runs_new (tenant_id, id, dataset, report_id, destination_id, destination_type,
    format, from_at, to_at, status, row_count, byte_count, file_count, data_as_of, error,
    created_by, created_at, finished_at, schedule_id, scheduled_for)
  SELECT tenant_id, id, dataset, report_id, destination_id, destination_type, format, from_at,
    to_at, status, row_count, byte_count, file_count, data_as_of, error, created_by, created_at,
    finished_at, schedule_id, scheduled_for FROM export_runs;
DROP TABLE export_runs;
ALTER TABLE export_runs_new RENAME TO export_runs;
-- The indexes went with the old table.
CREATE INDEX export_runs_by_time ON export_runs (tenant_id, created_at DESC, id);
CREATE UNIQUE INDEX export_runs_one_per_slot ON export_runs (tenant_id, schedule_id, scheduled_for)
  WHERE schedule_id IS NOT NULL;
