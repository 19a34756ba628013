// What the warehouse-export routes serve (issue 16; SPEC §8 Exports, §12): GET/POST/PATCH/DELETE
// /api/exports/destinations, POST /api/exports/destinations/:id/test, POST /api/exports,
// GET /api/exports/runs, GET /api/exports/runs/:id, GET /api/exports/runs/:id/files/:name,
// GET/POST/PATCH/DELETE /api/exports/schedules, GET /api/exports/archive.
// Type-only: the API's zod schemas must produce exactly these (workers/contracts-check.ts).

export type ExportDestinationType = "r2" | "webhook" | "s3";

export type ExportDatasetName =
  | "rollups_hourly"
  | "rollups_daily"
  | "invoices"
  | "invoice_lines"
  | "subscriptions"
  | "subscription_phases"
  | "signals"
  | "cases"
  | "actions"
  | "events"
  | "report";

export type ExportFormat = "parquet" | "ndjson" | "json";

/** An s3 destination's bucket as every answer shows it: never its secret access key. */
export interface ExportS3Settings {
  endpoint: string;
  bucket: string;
  region: string;
  /** '' or ending with /: where the Hive layout starts in the bucket. */
  prefix: string;
  /** true: endpoint/bucket/key; false: virtual-hosted bucket.endpoint/key. */
  path_style: boolean;
  access_key_id_last4: string;
  secret_access_key_set: boolean;
}

/** A destination as every answer shows it: never its signing secret or secret access key. */
export interface ExportDestination {
  id: string;
  type: ExportDestinationType;
  name: string;
  enabled: boolean;
  /** webhook: the endpoint. */
  url: string | null;
  /** r2: where its files land in Aforo's bucket (`tenant=<id>/`). */
  prefix: string | null;
  secret_set: boolean;
  /** s3: the bucket. */
  s3: ExportS3Settings | null;
  last_test: { at: string; ok: boolean; error: string | null } | null;
  created_at: string;
  updated_at: string;
}

/** The answer that creates a webhook destination: its signing secret, shown only there. */
export interface ExportDestinationWithSecret extends ExportDestination {
  secret?: string | undefined;
}

/** POST /api/exports/destinations/:id/test. */
export interface ExportDestinationTest {
  ok: boolean;
  /** webhook: the receiver's HTTP status. */
  status: number | null;
  error: string | null;
  duration_ms: number;
  /** What the probe was: the object written and read back, or the message sent. */
  probe: string;
}

export type ExportRunStatus = "running" | "delivering" | "succeeded" | "failed";

export interface ExportRun {
  id: string;
  dataset: ExportDatasetName;
  report: string | null;
  destination: string | null;
  destination_type: ExportDestinationType;
  format: ExportFormat;
  from: string;
  to: string;
  status: ExportRunStatus;
  rows: number;
  bytes: number;
  files: number;
  /** Freshness: the data exported reflects everything up to this instant. */
  data_as_of: string | null;
  error: string | null;
  created_by: string;
  created_at: string;
  finished_at: string | null;
  /** A scheduled run's schedule and slot. */
  schedule: string | null;
  scheduled_for: string | null;
}

export interface ExportFile {
  name: string;
  /** The Hive partition's date (empty for a webhook batch). */
  date: string;
  key: string;
  rows: number;
  bytes: number;
  sha256: string;
  /** GET this (with the operator's credential) to download it. */
  download: string;
}

export interface ExportBatch {
  id: string;
  seq: number;
  rows: number;
  status: "pending" | "delivered" | "dead" | "canceled";
  attempts: number;
  last_status: number | null;
  last_error: string | null;
  next_attempt_at: string | null;
  delivered_at: string | null;
}

/** GET /api/exports/runs/:id and the answer to POST /api/exports. */
export interface ExportRunDetail extends ExportRun {
  file_list: ExportFile[];
  batches: ExportBatch[];
}

export type ExportScheduleRange =
  | "last_24_hours"
  | "yesterday"
  | "last_7_days"
  | "last_30_days"
  | "last_week"
  | "last_month";

/** GET/POST /api/exports/schedules, PATCH /api/exports/schedules/:id. */
export interface ExportSchedule {
  id: string;
  dataset: ExportDatasetName;
  report: string | null;
  destination: string | null;
  format: ExportFormat;
  cron: string;
  /** null: the tenant's zone. */
  time_zone: string | null;
  /** The zone the pattern is read in now. */
  runs_in: string;
  range: ExportScheduleRange;
  enabled: boolean;
  /** The next 3 slots (UTC instants); empty when disabled. */
  next_runs: string[];
  last_run: { id: string; status: ExportRunStatus; scheduled_for: string } | null;
  created_by: string;
  created_at: string;
  updated_at: string;
}

/** GET /api/exports/archive: one compacted partition (a UTC date) of the event archive. */
export interface ArchivePartition {
  date: string;
  /** Where its part files and `_manifest.json` are in the bucket. */
  prefix: string;
  files: number;
  rows: number;
  bytes: number;
  min_event_time: string;
  max_event_time: string;
  /** When the last compaction wrote it. */
  compacted_at: string;
}
