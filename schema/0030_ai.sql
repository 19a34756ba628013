-- The AI platform (issue 18 §1; SPEC §8 AI copilot): each tenant's Anthropic settings and the log
-- of every model call and refusal its AI features made.

-- One row per tenant that changed its settings (no row: the defaults, workers/ai/keys.ts).
-- api_key is sealed under AFORO_SECRETS_KEY like a channel secret (workers/deliveries/secrets.ts)
-- and never returned; key_last4 is what the dashboard shows of it. daily_cap_nanos is USD nanos
-- (domain/money.ts), compared with the day's spend before and after every call.
CREATE TABLE ai_settings (
  tenant_id        TEXT PRIMARY KEY REFERENCES tenants(id),
  api_key          TEXT,
  key_last4        TEXT,
  model            TEXT NOT NULL,
  daily_cap_nanos  INTEGER NOT NULL CHECK (daily_cap_nanos >= 0),
  updated_at       INTEGER NOT NULL
) WITHOUT ROWID;

-- One row per Messages API call (its tokens as the API reported them, its cost from the cost
-- catalog, how long it took and how many HTTP attempts the SDK's retries made) and one per
-- refusal made before or instead of a call: an injection screened out, the daily cap, a tool
-- outside the feature's allow-list (tokens 0, cost 0, refusal_reason saying why).
CREATE TABLE ai_usage_log (
  tenant_id           TEXT NOT NULL REFERENCES tenants(id),
  id                  TEXT NOT NULL,
  at                  INTEGER NOT NULL,
  feature             TEXT NOT NULL,
  model               TEXT NOT NULL,
  input_tokens        INTEGER NOT NULL DEFAULT 0,
  output_tokens       INTEGER NOT NULL DEFAULT 0,
  cache_read_tokens   INTEGER NOT NULL DEFAULT 0,
  cache_write_tokens  INTEGER NOT NULL DEFAULT 0,
  cost_nanos          INTEGER NOT NULL DEFAULT 0 CHECK (cost_nanos >= 0),
  latency_ms          INTEGER NOT NULL DEFAULT 0,
  attempts            INTEGER NOT NULL DEFAULT 0,
  outcome             TEXT NOT NULL CHECK (outcome IN ('ok', 'refused', 'error', 'capped')),
  refusal_reason      TEXT,
  request_id          TEXT,
  PRIMARY KEY (tenant_id, id)
) WITHOUT ROWID;
CREATE INDEX ai_usage_log_by_time ON ai_usage_log (tenant_id, at DESC, id);
