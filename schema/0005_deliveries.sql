-- Alert delivery, separate from detection (SPEC §6 ALERT; STYLE "Detection and delivery"): a
-- signal and its pending deliveries are written in one D1 transaction; the deliveries queue
-- then sends each one, with retries, and records what happened here. Signals never change
-- because of delivery; deliveries change state.

-- Where a tenant's alerts go. `config` holds what may be shown (an email address, a webhook URL,
-- a redacted hint of a Slack URL); `secret` holds what must never leave the server after the
-- channel is created: the Standard Webhooks signing secret (whsec_…) of a webhook channel, or
-- the Slack incoming-webhook URL (that URL is itself the credential).
CREATE TABLE notification_channels (
  tenant_id   TEXT NOT NULL REFERENCES tenants(id),
  id          TEXT NOT NULL,
  type        TEXT NOT NULL CHECK (type IN ('slack', 'email', 'webhook')),
  name        TEXT NOT NULL,
  config      TEXT NOT NULL DEFAULT '{}',
  secret      TEXT,
  -- Origin of the request that created the channel: the base of dashboard links in messages
  -- when AFORO_PUBLIC_URL is not set.
  link_base   TEXT,
  enabled     INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, id)
) WITHOUT ROWID;

-- One row per (signal, channel). `id` is the delivery's idempotency id, derived from the channel
-- and the signal, and is sent as `webhook-id` / Message-ID so receivers can drop duplicates.
-- status: pending → delivered | dead (gave up: permanent error, or still failing 48 h after
-- creation) | canceled (the channel was disabled or deleted before it was sent).
-- A consumer holds `leased_until` while it sends, so two copies of a queue message never send
-- the same delivery at once; `next_attempt_at` is when the next attempt is due.
CREATE TABLE deliveries (
  tenant_id        TEXT NOT NULL,
  id               TEXT NOT NULL,
  signal_id        TEXT NOT NULL,
  channel_id       TEXT NOT NULL,
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
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, signal_id, channel_id)
) WITHOUT ROWID;
CREATE INDEX deliveries_by_time ON deliveries (tenant_id, created_at DESC, id);
CREATE INDEX deliveries_by_status ON deliveries (status, next_attempt_at);
