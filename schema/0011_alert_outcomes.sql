-- Alerts that say what happened to them (issue 12, item 4) and an alert budget per channel.
--
-- 1. An ALERT action with no enabled channel to send to is recorded as `no_channel`, never
--    `executed`: the state is added to actions.state and orchestration_actions.step. SQLite
--    cannot change a CHECK constraint in place, so both tables are rebuilt with every row kept
--    (same columns, keys and indexes).
CREATE TABLE actions_0011 (
  tenant_id    TEXT NOT NULL,
  id           TEXT NOT NULL,
  signal_id    TEXT NOT NULL,
  customer_id  TEXT NOT NULL,
  product_id   TEXT,
  rung         TEXT NOT NULL
    CHECK (rung IN ('ALERT', 'THROTTLE', 'BLOCK', 'extend_trial', 'apply_coupon', 'escalate')),
  state        TEXT NOT NULL
    CHECK (state IN ('queued', 'executed', 'reversed', 'failed', 'no_channel')),
  detail       TEXT NOT NULL DEFAULT '{}',
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, signal_id)
) WITHOUT ROWID;
INSERT INTO actions_0011 (tenant_id, id, signal_id, customer_id, product_id, rung, state, detail,
  created_at, updated_at)
SELECT tenant_id, id, signal_id, customer_id, product_id, rung, state, detail, created_at, updated_at
FROM actions;
DROP TABLE actions;
ALTER TABLE actions_0011 RENAME TO actions;
CREATE INDEX actions_by_customer ON actions (tenant_id, customer_id, state);
CREATE INDEX actions_by_time ON actions (tenant_id, updated_at DESC, id);

CREATE TABLE orchestration_actions_0011 (
  id           INTEGER PRIMARY KEY,
  tenant_id    TEXT NOT NULL,
  action_id    TEXT NOT NULL,
  signal_id    TEXT NOT NULL,
  customer_id  TEXT NOT NULL,
  rung         TEXT NOT NULL,
  step         TEXT NOT NULL
    CHECK (step IN ('queued', 'executed', 'reversed', 'failed', 'no_channel')),
  actor        TEXT NOT NULL,
  detail       TEXT NOT NULL DEFAULT '{}',
  at           INTEGER NOT NULL
);
INSERT INTO orchestration_actions_0011 (id, tenant_id, action_id, signal_id, customer_id, rung,
  step, actor, detail, at)
SELECT id, tenant_id, action_id, signal_id, customer_id, rung, step, actor, detail, at
FROM orchestration_actions;
DROP TABLE orchestration_actions;
ALTER TABLE orchestration_actions_0011 RENAME TO orchestration_actions;
CREATE INDEX orchestration_by_action ON orchestration_actions (tenant_id, action_id, id);
CREATE INDEX orchestration_by_time ON orchestration_actions (tenant_id, at DESC);

-- 2. The alert budget (README "Alerts"): per channel, at most `max_per_window` alerts are sent
--    one by one in any `window_seconds`; the rest join the channel's open digest, one message
--    sent `digest_delay_seconds` after it opened. A digest is a delivery of kind 'digest' (its
--    signal_id is its own id); the alerts it carries keep their own delivery rows, pointing to
--    it by digest_id, and take its outcome (delivered, dead, canceled).
ALTER TABLE deliveries ADD COLUMN kind TEXT NOT NULL DEFAULT 'signal'
  CHECK (kind IN ('signal', 'digest'));
ALTER TABLE deliveries ADD COLUMN digest_id TEXT;
CREATE INDEX deliveries_by_digest ON deliveries (tenant_id, digest_id);
CREATE INDEX deliveries_by_channel ON deliveries (tenant_id, channel_id, created_at);
-- A channel's open digest, found without walking the channel's whole delivery history.
CREATE INDEX deliveries_open_digests ON deliveries (tenant_id, channel_id, created_at)
  WHERE kind = 'digest' AND status = 'pending' AND attempts = 0;

-- A tenant's budget; no row: the defaults (5 per 10 minutes, digest after 60 s).
CREATE TABLE alert_budgets (
  tenant_id             TEXT NOT NULL PRIMARY KEY,
  max_per_window        INTEGER NOT NULL CHECK (max_per_window BETWEEN 1 AND 1000),
  window_seconds        INTEGER NOT NULL CHECK (window_seconds BETWEEN 60 AND 86400),
  digest_delay_seconds  INTEGER NOT NULL CHECK (digest_delay_seconds BETWEEN 5 AND 3600),
  updated_at            INTEGER NOT NULL
) WITHOUT ROWID;
