-- Billing: subscription history (plan phases, effective-dated status changes), invoices, and
-- the read models the Revenue Cockpit and COGS & Margin screens are served from.
-- Times are epoch ms (UTC); money is integer nanos (read back with CAST(… AS TEXT)).

-- One plan on one subscription over [start_at, end_at). A plan change at t ends one phase at t
-- and starts the next at t; a cancel at t ends the last one at t. Billing periods of a phase
-- count from anchor_at (kept across a change between plans of the same interval, reset to the
-- change instant when the interval changes). See domain/subscription-phases.ts.
CREATE TABLE subscription_phases (
  tenant_id        TEXT NOT NULL,
  subscription_id  TEXT NOT NULL,
  start_at         INTEGER NOT NULL,
  end_at           INTEGER,
  plan_id          TEXT NOT NULL,
  anchor_at        INTEGER NOT NULL,
  created_at       INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, subscription_id, start_at),
  FOREIGN KEY (tenant_id, subscription_id) REFERENCES subscriptions (tenant_id, id),
  FOREIGN KEY (tenant_id, plan_id) REFERENCES plans (tenant_id, id)
) WITHOUT ROWID;

-- Subscriptions created before this migration: their one phase.
INSERT INTO subscription_phases
  (tenant_id, subscription_id, start_at, end_at, plan_id, anchor_at, created_at)
SELECT tenant_id, id, start_at, end_at, plan_id, anchor_at, created_at FROM subscriptions;

-- Effective-dated billing states (workers/billing/status.ts recordStatusChange): past_due,
-- suspended, and active (back in good standing). seq orders two changes at the same instant.
CREATE TABLE subscription_status_changes (
  tenant_id        TEXT NOT NULL,
  subscription_id  TEXT NOT NULL,
  at               INTEGER NOT NULL,
  seq              INTEGER NOT NULL,
  status           TEXT NOT NULL CHECK (status IN ('active', 'past_due', 'suspended')),
  reason           TEXT,
  created_at       INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, subscription_id, at, seq)
) WITHOUT ROWID;

-- One invoice per subscription × billing period (void ones aside, so a voided period can be
-- reissued on request). draft while usage may still arrive (period close + grace), then open
-- until paid or void.
CREATE TABLE invoices (
  tenant_id        TEXT NOT NULL,
  id               TEXT NOT NULL,
  subscription_id  TEXT NOT NULL,
  customer_id      TEXT NOT NULL,
  product_id       TEXT NOT NULL,
  currency         TEXT NOT NULL,
  period_start     INTEGER NOT NULL,
  period_end       INTEGER NOT NULL,
  -- When the period closed: period_end, or earlier when the service ended inside it.
  closes_at        INTEGER NOT NULL,
  status           TEXT NOT NULL CHECK (status IN ('draft', 'open', 'paid', 'void')),
  subtotal         INTEGER NOT NULL,
  minimum_topup    INTEGER NOT NULL,
  discount_total   INTEGER NOT NULL,
  rounding         INTEGER NOT NULL,
  total            INTEGER NOT NULL,
  usage_total      INTEGER NOT NULL,
  -- NULL while draft. The invoice date is the period close (history imports age correctly).
  issued_at        INTEGER,
  due_at           INTEGER,
  finalized_at     INTEGER,
  paid_at          INTEGER,
  payment_reference TEXT,
  voided_at        INTEGER,
  void_reason      TEXT,
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX invoices_one_per_period ON invoices (tenant_id, subscription_id, period_start)
  WHERE status <> 'void';
CREATE INDEX invoices_by_period ON invoices (tenant_id, subscription_id, period_start);
CREATE INDEX invoices_by_customer ON invoices (tenant_id, customer_id, period_start);
CREATE INDEX invoices_by_status ON invoices (tenant_id, status, due_at);

CREATE TABLE invoice_lines (
  tenant_id        TEXT NOT NULL,
  invoice_id       TEXT NOT NULL,
  position         INTEGER NOT NULL,
  plan_id          TEXT,
  -- The part of the period this line's plan was in force: [service_from, service_to).
  service_from     INTEGER,
  service_to       INTEGER,
  component_index  INTEGER,
  type             TEXT NOT NULL,
  metric_id        TEXT,
  quantity         TEXT NOT NULL,   -- micros, decimal text
  amount           INTEGER NOT NULL,
  description      TEXT NOT NULL,
  PRIMARY KEY (tenant_id, invoice_id, position)
) WITHOUT ROWID;

-- Bumped by every billing write (invoices, status changes) so a stored cockpit snapshot knows
-- when it no longer reflects the data (catalog writes bump tenants.catalog_version).
CREATE TABLE billing_versions (
  tenant_id  TEXT PRIMARY KEY,
  version    INTEGER NOT NULL
) WITHOUT ROWID;

-- The Revenue Cockpit as computed by the periodic job (body: the API's JSON). History: every
-- snapshot of the last two days, then the last one of each UTC day.
CREATE TABLE cockpit_snapshots (
  tenant_id        TEXT NOT NULL,
  as_of            INTEGER NOT NULL,
  computed_at      INTEGER NOT NULL,
  catalog_version  INTEGER NOT NULL,
  billing_version  INTEGER NOT NULL,
  mrr              TEXT NOT NULL,
  body             TEXT NOT NULL,
  PRIMARY KEY (tenant_id, as_of)
) WITHOUT ROWID;

-- COGS & margin read models, rebuilt by the periodic job from rollups_daily and the
-- subscription history in one D1 transaction (workers/billing/margin.ts). Every read of
-- GET /api/margin/* is then an index range scan of at most one row per customer.
CREATE TABLE margin_builds (
  tenant_id        TEXT PRIMARY KEY,
  day              INTEGER NOT NULL,   -- UTC midnight of the last day included (today)
  built_at         INTEGER NOT NULL,
  catalog_version  INTEGER NOT NULL,
  applied_at       INTEGER NOT NULL,   -- latest applied rollup batch seen by the build
  currency         TEXT NOT NULL DEFAULT 'USD',
  building_since   INTEGER             -- a build in progress (stampede guard)
) WITHOUT ROWID;

-- Per window (30/60/90 days, today included) × product × customer: usage revenue, recognised
-- flat fees, COGS, events, margin (= usage_revenue + fee_revenue − cost). product_id '' holds
-- the customer's total over all products (its plans in `segments`); a product row carries the
-- segment: plan_id, the plan of the customer's latest subscription to that product.
CREATE TABLE margin_customer_windows (
  tenant_id      TEXT NOT NULL,
  window_days    INTEGER NOT NULL,
  product_id     TEXT NOT NULL,
  customer_id    TEXT NOT NULL,
  plan_id        TEXT,
  segments       TEXT,
  usage_revenue  INTEGER NOT NULL,
  fee_revenue    INTEGER NOT NULL,
  cost           INTEGER NOT NULL,
  events         INTEGER NOT NULL,
  margin         INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, window_days, product_id, customer_id)
) WITHOUT ROWID;
-- Ranking by margin (and "costing more than they pay": margin < 0) without sorting.
CREATE INDEX margin_customers_ranked
  ON margin_customer_windows (tenant_id, window_days, product_id, margin, customer_id);
CREATE INDEX margin_customers_by_segment
  ON margin_customer_windows (tenant_id, window_days, plan_id, margin, customer_id)
  WHERE plan_id IS NOT NULL;

-- Per window × product ('' = all) × segment ('' = all): the products table and every total.
CREATE TABLE margin_product_windows (
  tenant_id      TEXT NOT NULL,
  window_days    INTEGER NOT NULL,
  product_id     TEXT NOT NULL,
  plan_id        TEXT NOT NULL,
  usage_revenue  INTEGER NOT NULL,
  fee_revenue    INTEGER NOT NULL,
  cost           INTEGER NOT NULL,
  events         INTEGER NOT NULL,
  customers      INTEGER NOT NULL,
  unprofitable   INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, window_days, product_id, plan_id)
) WITHOUT ROWID;

-- Per UTC day × product × segment over the last 90 days: the daily trends.
CREATE TABLE margin_daily (
  tenant_id      TEXT NOT NULL,
  day            INTEGER NOT NULL,
  product_id     TEXT NOT NULL,
  plan_id        TEXT NOT NULL DEFAULT '',
  usage_revenue  INTEGER NOT NULL,
  fee_revenue    INTEGER NOT NULL,
  cost           INTEGER NOT NULL,
  events         INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, day, product_id, plan_id)
) WITHOUT ROWID;
