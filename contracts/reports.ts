// Reports (issue 15, SPEC §8): one serialisable query object is the single thing the builder
// edits, a saved report or template stores, a schedule runs and a share link signs. The
// server validates it against the dataset catalog (GET /api/reports/datasets) and answers rows,
// totals and a freshness stamp.

/** The datasets a report can read (GET /api/reports/datasets describes each). */
export type ReportDatasetName =
  | "usage"
  | "events"
  | "sessions"
  | "invoices"
  | "payments"
  | "subscriptions"
  | "signals"
  | "cases"
  | "actions"
  | "deliveries"
  | "pipeline";

export type ReportGranularity = "hour" | "day" | "week" | "month";

/** How a value is typed on the wire: money is an exact decimal string in the tenant currency,
 * percent a fraction (0.25 = 25 %), time an ISO 8601 instant (the bucket's start in the query's
 * time zone). */
export type ReportValueType = "string" | "number" | "money" | "percent" | "time" | "boolean";

export interface ReportFilter {
  /** A dimension of the dataset. */
  dimension: string;
  op: "is" | "is_not" | "contains" | "gt" | "gte" | "lt" | "lte";
  values: string[];
}

export interface ReportOrder {
  /** A measure or dimension of the query. */
  field: string;
  direction: "asc" | "desc";
}

export interface ReportQuery {
  dataset: ReportDatasetName;
  /** At least one; names from the dataset's measures. */
  measures: string[];
  /** Names from the dataset's dimensions; "time" buckets by time.granularity. */
  dimensions: string[];
  filters?: ReportFilter[];
  time: {
    /** ISO 8601, inclusive. */
    from: string;
    /** ISO 8601, exclusive. */
    to: string;
    granularity?: ReportGranularity;
    /** IANA zone for buckets and hour-of-week (default: the tenant's). */
    time_zone?: string;
  };
  /** The same query over the period before (same length) or a year before. */
  compare_to?: "previous_period" | "previous_year" | null;
  order_by?: ReportOrder[];
  /** Rows at most (default 1,000, max 10,000). */
  limit?: number;
}

export interface ReportField {
  name: string;
  label: string;
  type: ReportValueType;
  description: string;
}

/** A family of dimensions named `<prefix><key>`, the key chosen by the user (an event's
 * `properties.session_id`): the builder offers a text field for the key. */
export interface ReportDimensionFamily {
  /** e.g. "properties." */
  prefix: string;
  label: string;
  type: ReportValueType;
  description: string;
  /** The key must match this regular expression (JavaScript and JSON Schema syntax). */
  key_pattern: string;
  /** Keys worth suggesting (they may not occur in every tenant's events). */
  examples: string[];
}

export interface ReportDataset {
  name: ReportDatasetName;
  label: string;
  description: string;
  measures: ReportField[];
  dimensions: ReportField[];
  /** Dimensions named by a key (filters take them too); absent: none. */
  dimension_families?: ReportDimensionFamily[];
  /** Granularities its time dimension takes. */
  granularities: ReportGranularity[];
  /** How far back it holds rows (events: the tenant's raw_retention_days), null: everything. */
  retention_days: number | null;
}

/** GET /api/reports/datasets */
export interface ReportCatalog {
  data: ReportDataset[];
}

export interface ReportColumn {
  name: string;
  label: string;
  kind: "dimension" | "measure";
  type: ReportValueType;
}

export type ReportCell = string | number | boolean | null;

/** POST /api/reports/run */
export interface ReportResult {
  /** The query as run: defaults filled in (granularity, time zone, limit, order). */
  query: ReportQuery;
  columns: ReportColumn[];
  rows: Record<string, ReportCell>[];
  /** Each measure over all rows matched (not only those returned). */
  totals: Record<string, ReportCell>;
  /** Rows beyond `limit` were left out. */
  truncated: boolean;
  /** Freshness: the data the answer reflects reaches this instant ("data as of …"). */
  data_as_of: string;
  /** With compare_to: the same measures over the earlier period, keyed like `totals`. */
  comparison: { from: string; to: string; totals: Record<string, ReportCell> } | null;
}

/** A saved report (a tenant's own, or one of the templates every tenant has). */
export interface SavedReport {
  id: string;
  name: string;
  description: string;
  query: ReportQuery;
  /** The template it is (or was copied from), null for one built from scratch. */
  template: string | null;
  /** How the dashboard draws it. */
  view: "table" | "line" | "bar" | "stacked_bar" | "heatmap";
  created_by: string;
  created_at: string;
  updated_at: string;
}

// ---- Schedules (issue 15 item 5) ----------------------------------------------------------------

/** A relative window a scheduled run reports on, resolved at the run's scheduled instant. */
export type ReportScheduleRange =
  | "last_24_hours"
  | "yesterday"
  | "last_7_days"
  | "last_30_days"
  | "last_week"
  | "last_month";

/** POST/GET/PATCH /api/reports/:id/schedules[/:sid] */
export interface ReportSchedule {
  id: string;
  report: string;
  /** A cron pattern (croner), at most once every 15 minutes. */
  cron: string;
  /** null: the tenant's zone. */
  time_zone: string | null;
  /** The zone the pattern is read in now. */
  runs_in: string;
  /** A webhook or e-mail channel of /api/channels. */
  destination: { channel: string; type: "webhook" | "email" | "slack" | null; name: string | null };
  /** null: the report's own range. */
  range: ReportScheduleRange | null;
  enabled: boolean;
  /** The next 3 runs (UTC instants); empty when disabled. */
  next_runs: string[];
  created_by: string;
  created_at: string;
  updated_at: string;
}

/** GET /api/reports/:id/schedules/:sid/runs — one per scheduled slot. */
export interface ReportRun {
  /** Also the delivery id (webhook-id, Message-ID), the same on every attempt. */
  id: string;
  schedule: string;
  scheduled_for: string;
  started_at: string | null;
  finished_at: string | null;
  status: "pending" | "retrying" | "succeeded" | "failed";
  attempts: number;
  next_attempt_at: string | null;
  row_count: number | null;
  error: string | null;
  delivery_id: string;
}

/** POST /api/reports/:id/share, GET /api/reports/:id/shares, POST …/shares/:sid/revoke */
export interface ReportShare {
  id: string;
  report: string;
  /** Opens the read-only report (/shared/<token>) without signing in. */
  url: string;
  status: "active" | "expired" | "revoked";
  expires_at: string;
  revoked_at: string | null;
  created_by: string;
  created_at: string;
}

/** GET /auth/share/reports/:token — what a share link shows, and nothing else of the tenant. */
export interface SharedReport {
  name: string;
  description: string;
  view: SavedReport["view"];
  result: ReportResult;
  /** The currency of the money cells. */
  currency: string;
  /** The name (or e-mail) of who made the link. */
  shared_by: string;
  expires_at: string;
}
