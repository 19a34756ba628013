-- Messages that exhausted their retries, kept so operators can see and replay them.
CREATE TABLE dead_letters (
  id           INTEGER PRIMARY KEY,
  queue        TEXT NOT NULL,
  message_id   TEXT NOT NULL,
  tenant_id    TEXT,
  body         TEXT NOT NULL,
  attempts     INTEGER NOT NULL,
  received_at  INTEGER NOT NULL,
  UNIQUE (queue, message_id)
);
CREATE INDEX dead_letters_by_tenant ON dead_letters (tenant_id, received_at);
