-- Detection and response: policies, signals, the action ladder and its audit trail, coupons
-- applied by the ladder, and the gate's proxy settings per product.

-- Partial policy documents (domain/ladder.ts PolicyOverrideDocument) per scope; the effective
-- policy is defaults ← tenant ← product ← customer.
CREATE TABLE policies (
  tenant_id   TEXT NOT NULL REFERENCES tenants(id),
  scope       TEXT NOT NULL CHECK (scope IN ('tenant', 'product', 'customer')),
  scope_id    TEXT NOT NULL DEFAULT '',
  body        TEXT NOT NULL,
  updated_at  INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, scope, scope_id)
) WITHOUT ROWID;

-- One row per idempotency key (SPEC §5), immutable once written (status aside).
CREATE TABLE signals (
  tenant_id         TEXT NOT NULL,
  id                TEXT NOT NULL,
  idempotency_key   TEXT NOT NULL,
  detector          TEXT NOT NULL,
  customer_id       TEXT NOT NULL,
  product_id        TEXT,
  metric_id         TEXT,
  window_start      INTEGER NOT NULL,
  window_end        INTEGER NOT NULL,
  magnitude         REAL NOT NULL,
  direction         TEXT,
  details           TEXT NOT NULL,
  source_event_ids  TEXT NOT NULL,
  status            TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
  created_at        INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, idempotency_key)
) WITHOUT ROWID;
CREATE INDEX signals_by_magnitude ON signals (tenant_id, magnitude DESC, id);
CREATE INDEX signals_by_time ON signals (tenant_id, created_at DESC, id);
CREATE INDEX signals_by_customer ON signals (tenant_id, customer_id, created_at DESC);

-- The current state of each ladder action…
CREATE TABLE actions (
  tenant_id    TEXT NOT NULL,
  id           TEXT NOT NULL,
  signal_id    TEXT NOT NULL,
  customer_id  TEXT NOT NULL,
  product_id   TEXT,
  rung         TEXT NOT NULL
    CHECK (rung IN ('ALERT', 'THROTTLE', 'BLOCK', 'extend_trial', 'apply_coupon', 'escalate')),
  state        TEXT NOT NULL CHECK (state IN ('queued', 'executed', 'reversed', 'failed')),
  detail       TEXT NOT NULL DEFAULT '{}',
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, signal_id)
) WITHOUT ROWID;
CREATE INDEX actions_by_customer ON actions (tenant_id, customer_id, state);
CREATE INDEX actions_by_time ON actions (tenant_id, updated_at DESC, id);

-- …and every step it took: queued, executed, reversed, failed — by policy or by an operator.
CREATE TABLE orchestration_actions (
  id           INTEGER PRIMARY KEY,
  tenant_id    TEXT NOT NULL,
  action_id    TEXT NOT NULL,
  signal_id    TEXT NOT NULL,
  customer_id  TEXT NOT NULL,
  rung         TEXT NOT NULL,
  step         TEXT NOT NULL CHECK (step IN ('queued', 'executed', 'reversed', 'failed')),
  actor        TEXT NOT NULL,
  detail       TEXT NOT NULL DEFAULT '{}',
  at           INTEGER NOT NULL
);
CREATE INDEX orchestration_by_action ON orchestration_actions (tenant_id, action_id, id);
CREATE INDEX orchestration_by_time ON orchestration_actions (tenant_id, at DESC);

-- Discounts the ladder applied (apply_coupon); the pricing engine honours them on invoices.
CREATE TABLE coupons (
  tenant_id        TEXT NOT NULL,
  id               TEXT NOT NULL,
  customer_id      TEXT NOT NULL,
  subscription_id  TEXT,
  percent_off      TEXT,
  amount_off       TEXT,
  valid_from       INTEGER NOT NULL,
  valid_to         INTEGER,
  action_id        TEXT,
  revoked_at       INTEGER,
  created_at       INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, id)
) WITHOUT ROWID;
CREATE INDEX coupons_by_customer ON coupons (tenant_id, customer_id);

-- Proxy mode (/v1/proxy/:product/*): where to forward, and the metric each call is metered as.
ALTER TABLE products ADD COLUMN proxy_origin TEXT;
ALTER TABLE products ADD COLUMN proxy_metric TEXT;
