-- Budget alerts (issue 14 item 5; docs/detectors.md "Budget alerts"): thresholds per product and
-- per customer segment, judged by the tenant detectors BudgetMarginDetector and
-- BudgetCostSpikeDetector on the tenant clock.

-- A fourth policy scope, 'segment': the override of one segment value (a plan id, or the value
-- of the customer attribute the tenant segments by). SQLite cannot alter a CHECK constraint, so
-- the table is rebuilt and its rows copied.
CREATE TABLE policies_new (
  tenant_id   TEXT NOT NULL REFERENCES tenants(id),
  scope       TEXT NOT NULL CHECK (scope IN ('tenant', 'product', 'customer', 'segment')),
  scope_id    TEXT NOT NULL DEFAULT '',
  body        TEXT NOT NULL,
  updated_at  INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, scope, scope_id)
) WITHOUT ROWID;
INSERT INTO policies_new (tenant_id, scope, scope_id, body, updated_at)
  SELECT tenant_id, scope, scope_id, body, updated_at FROM policies;
DROP TABLE policies;
ALTER TABLE policies_new RENAME TO policies;

-- State of the tenant detectors that keep some (a JSON body per key): the COGS spike engine's
-- baseline per product and per segment ("budget_cost_spike:product:<id>",
-- "budget_cost_spike:segment:<segment_by>:<value>"), about 3 KB each.
CREATE TABLE tenant_detector_state (
  tenant_id   TEXT NOT NULL,
  key         TEXT NOT NULL,
  body        TEXT NOT NULL,
  updated_at  INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, key)
) WITHOUT ROWID;
