-- Customer API keys (issue 19 §4): keys an operator issues to one of the tenant's customers
-- (`sk_live_…`), which the gate, the proxy and ingest accept in place of the customer's id. Only
-- SHA-256 of the whole key is kept (the key is 256 random bits, so a fast hash is the right
-- tool, as for the tenant's own keys in api_keys); `prefix` is the first 8 characters after
-- `sk_live_`, enough for a person to tell their keys apart and useless to an attacker.
--
-- The optional quota caps one metric's units per UTC day, week (from Monday) or calendar month;
-- `quota_limit` is micro-units, like every stored quantity.
CREATE TABLE customer_api_keys (
  tenant_id     TEXT NOT NULL,
  id            TEXT NOT NULL,
  customer_id   TEXT NOT NULL,
  key_hash      TEXT NOT NULL UNIQUE,
  prefix        TEXT NOT NULL,
  name          TEXT,
  created_by    TEXT NOT NULL,
  created_at    INTEGER NOT NULL,
  revoked_at    INTEGER,
  quota_metric  TEXT,
  quota_limit   INTEGER,
  quota_period  TEXT CHECK (quota_period IN ('day', 'week', 'month')),
  CHECK ((quota_metric IS NULL) = (quota_limit IS NULL) AND (quota_limit IS NULL) = (quota_period IS NULL)),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id)
) WITHOUT ROWID;

CREATE INDEX customer_api_keys_by_customer ON customer_api_keys (tenant_id, customer_id, created_at);

-- Usage per key: per UTC day × key × product × metric, of the events that named the key (an
-- event's `api_key`, or the gateway's and the proxy's calls made with one). The customer actor
-- folds each batch's keyed events into pending rows beside its buckets and seals them into the
-- same outbox rows as its deltas; the events-queue consumer writes them in the same transaction
-- as the rollups, under the same applied_batches guard (store/rollups.ts), so each key's usage
-- is here exactly once.
--
-- Plain 64-bit integers, like rollups_daily: a row is a share of one customer's day of one
-- metric, which domain/limits.ts bounds to 10^18 micro-units. Sums over a period span days, so
-- they are read in halves (store/exact-sum.ts).
CREATE TABLE customer_api_key_usage_daily (
  tenant_id    TEXT NOT NULL,
  key_id       TEXT NOT NULL,
  start        INTEGER NOT NULL,
  product_id   TEXT NOT NULL,
  metric_id    TEXT NOT NULL,
  customer_id  TEXT NOT NULL,
  units        INTEGER NOT NULL,
  events       INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, key_id, start, product_id, metric_id)
) WITHOUT ROWID;
