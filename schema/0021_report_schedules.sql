-- Report schedules (issue 15 item 5, docs/reports.md "Schedules"): a saved report (or a
-- template, `tpl_…`) run on a cron pattern read in an IANA zone (NULL: the tenant's), delivered
-- to one notification channel (a webhook or e-mail channel of /api/channels), its time range
-- optionally replaced by a relative window resolved at the scheduled instant.
CREATE TABLE report_schedules (
  tenant_id    TEXT NOT NULL REFERENCES tenants(id),
  id           TEXT NOT NULL,
  report_id    TEXT NOT NULL,
  cron         TEXT NOT NULL,
  time_zone    TEXT,
  channel_id   TEXT NOT NULL,
  range        TEXT,
  enabled      INTEGER NOT NULL DEFAULT 1,
  -- The first slot not yet run; NULL when disabled or the pattern has no more runs.
  next_run_at  INTEGER,
  created_by   TEXT NOT NULL,
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, id)
) WITHOUT ROWID;
CREATE INDEX report_schedules_due ON report_schedules (tenant_id, next_run_at);
CREATE INDEX report_schedules_by_report ON report_schedules (tenant_id, report_id, created_at);

-- One row per (schedule, scheduled slot), written before anything is sent: the unique key is
-- what makes a slot run once however many ticks see it. Its id is the delivery id the message
-- carries (webhook-id, Message-ID), the same on every retry. status: pending (not tried yet),
-- retrying (a failed attempt, tried again at next_attempt_at), succeeded, failed (gave up).
CREATE TABLE report_runs (
  tenant_id       TEXT NOT NULL REFERENCES tenants(id),
  id              TEXT NOT NULL,
  schedule_id     TEXT NOT NULL,
  scheduled_for   INTEGER NOT NULL,
  status          TEXT NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending', 'retrying', 'succeeded', 'failed')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  leased_until    INTEGER,
  started_at      INTEGER,
  finished_at     INTEGER,
  row_count       INTEGER,
  error           TEXT,
  created_at      INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, schedule_id, scheduled_for)
) WITHOUT ROWID;
CREATE INDEX report_runs_open ON report_runs (tenant_id, status, next_attempt_at);
