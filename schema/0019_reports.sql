-- Saved reports (issue 15, docs/reports.md): a name, the one report query object (the same
-- JSON a schedule will run and a share link will sign; contracts/reports.ts ReportQuery), and
-- how the dashboard draws it. `template` names the template it was copied from, NULL for one
-- built from scratch. Schedules and share links (later) reference reports by (tenant_id, id).
CREATE TABLE reports (
  tenant_id    TEXT NOT NULL REFERENCES tenants(id),
  id           TEXT NOT NULL,
  name         TEXT NOT NULL,
  description  TEXT NOT NULL DEFAULT '',
  query        TEXT NOT NULL,
  template     TEXT,
  view         TEXT NOT NULL DEFAULT 'table'
    CHECK (view IN ('table', 'line', 'bar', 'stacked_bar', 'heatmap')),
  created_by   TEXT NOT NULL,
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, id)
) WITHOUT ROWID;
CREATE INDEX reports_by_time ON reports (tenant_id, created_at DESC, id);
