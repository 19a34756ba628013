// What the Exports page says about datasets, windows, formats and sizes, and how its date
// fields become the API's instants. Pure: the page and the browser test's checks both use it.

import type {
  ExportDatasetName,
  ExportDestination,
  ExportDestinationType,
  ExportFormat,
  ExportRunStatus,
  ExportS3Settings,
  ExportScheduleRange,
} from "../../../contracts/exports";

export const EXPORTS_PERMISSION = "exports:manage" as const;

/** Every dataset POST /api/exports takes, in the order the form offers them. */
export const DATASET_LABELS: Record<ExportDatasetName, string> = {
  rollups_hourly: "Rollups, hourly",
  rollups_daily: "Rollups, daily",
  invoices: "Invoices",
  invoice_lines: "Invoice lines",
  subscriptions: "Subscriptions",
  subscription_phases: "Subscription phases (MRR movements)",
  signals: "Signals",
  cases: "Cases",
  actions: "Actions",
  events: "Raw events (from the archive)",
  report: "A saved report's output",
};

export const RANGE_LABELS: Record<ExportScheduleRange, string> = {
  last_24_hours: "The last 24 hours",
  yesterday: "Yesterday",
  last_7_days: "The last 7 days",
  last_30_days: "The last 30 days",
  last_week: "Last week (Monday to Sunday)",
  last_month: "Last month",
};

export const RUN_TONES: Record<ExportRunStatus, string> = {
  running: "info",
  delivering: "warn",
  succeeded: "good",
  failed: "bad",
};

export const BATCH_TONES: Record<string, string> = {
  delivered: "good",
  pending: "warn",
  dead: "bad",
  canceled: "neutral",
};

export const DESTINATION_LABELS: Record<ExportDestinationType, string> = {
  r2: "R2",
  webhook: "Webhook",
  s3: "S3 bucket",
};

/** The formats a destination takes, its default first: R2 and an S3 bucket hold Parquet, a
 * webhook is sent NDJSON or JSON batches (the API refuses any other pairing on `format`). */
export function formatsFor(type: ExportDestinationType): ExportFormat[] {
  return type === "webhook" ? ["ndjson", "json"] : ["parquet"];
}

/** Where an s3 destination's files land, as an address: `endpoint/bucket/prefix` (path-style)
 * or `bucket.host/prefix` (virtual-hosted). */
export function s3Location(s: ExportS3Settings): string {
  const url = new URL(s.endpoint);
  return s.path_style
    ? `${url.origin}/${s.bucket}/${s.prefix}`
    : `${url.protocol}//${s.bucket}.${url.host}/${s.prefix}`;
}

/** The destination an export or schedule names ("" is the tenant's prefix in Aforo's R2). */
export function destinationType(
  id: string,
  destinations: readonly ExportDestination[],
): ExportDestinationType {
  return destinations.find((d) => d.id === id)?.type ?? "r2";
}

/** A UTC date (YYYY-MM-DD) as its midnight instant: archive partitions and export files are
 * split by UTC date, so the windows the page sends start and end on those days. */
export const utcMidnight = (date: string) => `${date}T00:00:00.000Z`;

/** The UTC date `days` after `date`. */
export function addDays(date: string, days: number): string {
  return new Date(Date.parse(utcMidnight(date)) + days * 86_400_000).toISOString().slice(0, 10);
}

/** Today's UTC date. */
export const todayUtc = (now = Date.now()) => new Date(now).toISOString().slice(0, 10);

/** Bytes for people, in powers of 1024 ("0 B", "812 B", "1.4 KiB", "23.0 MiB"). */
export function byteSize(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}
