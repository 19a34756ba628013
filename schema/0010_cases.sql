-- Cases (issue 12, item 3; domain/cases.ts): signals stay immutable findings; a case groups the
-- signals of one story — one OPEN case per (customer, detector, scope, period), its `case_key`.
-- New signals join or open a case in the same D1 transaction that records them (workers/queues.ts),
-- so a redelivered batch neither makes two cases nor escalates one twice (a signal is linked to
-- one case at most: case_signals' primary key). Cases close themselves (period closed, condition
-- cleared, watch expired; the tenant clock's periodic job) or by an operator, with the reason.

CREATE TABLE cases (
  tenant_id         TEXT NOT NULL,
  id                TEXT NOT NULL,
  case_key          TEXT NOT NULL,
  detector          TEXT NOT NULL,
  customer_id       TEXT NOT NULL,
  scope             TEXT NOT NULL,
  product_id        TEXT,
  metric_id         TEXT,
  direction         TEXT,
  period_start      INTEGER,
  period_end        INTEGER,
  -- The span of its signals' windows.
  window_start      INTEGER NOT NULL,
  window_end        INTEGER NOT NULL,
  -- The level reached (domain/cases.ts levelLabel): never goes down.
  level_rank        REAL NOT NULL DEFAULT 0,
  -- The largest magnitude of its signals (for sorting, like signals).
  magnitude         REAL NOT NULL DEFAULT 0,
  signal_count      INTEGER NOT NULL DEFAULT 0,
  latest_signal_id  TEXT,
  status            TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
  opened_at         INTEGER NOT NULL,
  last_signal_at    INTEGER NOT NULL,
  updated_at        INTEGER NOT NULL,
  resolved_at       INTEGER,
  resolved_by       TEXT,
  close_reason      TEXT
    CHECK (close_reason IS NULL OR close_reason IN ('operator', 'condition_cleared', 'period_closed', 'expired')),
  resolution_note   TEXT,
  PRIMARY KEY (tenant_id, id)
) WITHOUT ROWID;
-- The one-open-case rule itself.
CREATE UNIQUE INDEX cases_one_open ON cases (tenant_id, case_key) WHERE status = 'open';
CREATE INDEX cases_by_magnitude ON cases (tenant_id, magnitude DESC, id);
CREATE INDEX cases_by_time ON cases (tenant_id, last_signal_at DESC, id);
CREATE INDEX cases_by_status ON cases (tenant_id, status, last_signal_at DESC, id);
CREATE INDEX cases_by_customer ON cases (tenant_id, customer_id, last_signal_at DESC);

CREATE TABLE case_signals (
  tenant_id   TEXT NOT NULL,
  signal_id   TEXT NOT NULL,
  case_id     TEXT NOT NULL,
  added_at    INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, signal_id)
) WITHOUT ROWID;
CREATE INDEX case_signals_by_case ON case_signals (tenant_id, case_id);

-- Tenants whose signals from before cases existed have been grouped (store/cases.ts backfill).
CREATE TABLE case_backfills (
  tenant_id  TEXT PRIMARY KEY,
  done_at    INTEGER NOT NULL
);
