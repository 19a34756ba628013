import { formatMoney, formatQuantity } from "../money";
import { ARCHIVE_COLUMNS, type ArchiveRow } from "./archive-rows";

// The datasets a warehouse export writes (issue 16 item 2; SPEC §8 Exports), each a typed,
// versioned schema over one D1 table. A dataset names:
// - its row time (`time`, epoch ms): the window [from, to) selects rows by it, and a row lands
//   in the Hive partition `date=` of its UTC date;
// - its sort keys after the time: together with the time they are unique, so the rows of a
//   window have one order, read page by page (keyset, never OFFSET) and split into the same
//   files every time;
// - `id`, the row's identity, the first column of every file and batch: a warehouse merges on
//   it, so a row exported twice (a re-run, a redelivered webhook batch) is one row there.
//
// Column types, in Parquet and in JSON:
// - string → UTF-8 STRING / string; int → INT64 / number; double → DOUBLE / number;
// - boolean → BOOLEAN / boolean;
// - timestamp → INT64 TIMESTAMP(MILLIS, isAdjustedToUTC) / ISO-8601 UTC string;
// - money → DECIMAL(38,9) (the unscaled nanos, exact) / exact decimal string ("12.50", up to
//   9 decimals, as the API answers);
// - quantity → DECIMAL(38,6) (micro-units) / exact decimal string, for the same reason.
//   Aforo holds every amount at these two fixed scales whatever the tenant or currency, so one
//   DECIMAL type holds them all exactly and a warehouse loads and sums them natively (BigQuery's
//   NUMERIC is exactly 38,9); the event archive writes the same types
//   (domain/exports/parquet-decimal.ts). JSON has no exact decimal, hence the strings there;
// - json → BYTE_ARRAY JSON / the object itself.
//
// SCHEMA_VERSION changes when a dataset's columns change: adding a column at the end is
// version + 1 and readers of the old files see it as missing; a rename or a type change is a
// new column name (the old one kept for a version), never an in-place change. Version 2 is the
// one exception, made before exports were first released: money and quantities went from
// decimal strings (version 1) to DECIMAL in place.

export const SCHEMA_VERSION = 2;

export type ColumnType =
  | "string"
  | "int"
  | "double"
  | "boolean"
  | "timestamp"
  | "money"
  | "quantity"
  | "json";

export interface ExportColumn {
  name: string;
  type: ColumnType;
  nullable: boolean;
  description: string;
}

/** A column of a table dataset: with the SQL expression over its source that yields it (money
 * and quantities as TEXT, so no integer passes through a JavaScript number). */
export interface TableColumn extends ExportColumn {
  sql: string;
}

/** The D1-backed datasets. `report` (a saved report's output) is run by the report runner. */
export const TABLE_DATASETS = [
  "rollups_hourly",
  "rollups_daily",
  "invoices",
  "invoice_lines",
  "subscriptions",
  "subscription_phases",
  "signals",
  "cases",
  "actions",
] as const;
export type TableDataset = (typeof TABLE_DATASETS)[number];

/** What POST /api/exports accepts: the D1 tables, raw `events` (read from the event archive,
 * workers/exports/events.ts) and a saved report's output. */
export const EXPORT_DATASETS = [...TABLE_DATASETS, "events", "report"] as const;
export type ExportDataset = (typeof EXPORT_DATASETS)[number];

export interface TableDatasetDef {
  description: string;
  /** FROM clause; the tenant is bound at ?1 in `tenant`. */
  source: string;
  tenant: string;
  time: string;
  keys: string[];
  columns: TableColumn[];
}

const col = (
  name: string,
  type: ColumnType,
  sql: string,
  description: string,
  nullable = false,
): TableColumn => ({ name, type, sql, nullable, description });
const money = (name: string, sql: string, description: string) =>
  col(name, "money", `CAST(${sql} AS TEXT)`, description);

function rollups(table: "rollups_hourly" | "rollups_daily", bucket: string): TableDatasetDef {
  return {
    description: `Customer usage per ${bucket}, product and metric (the rows of GET /api/rollups before grouping)`,
    source: `${table} t`,
    tenant: "t.tenant_id",
    time: "t.start",
    keys: ["t.customer_id", "t.product_id", "t.metric_id"],
    columns: [
      col(
        "id",
        "string",
        "t.customer_id || '|' || t.product_id || '|' || t.metric_id || '|' || t.start",
        "customer|product|metric|start (epoch ms): one row per bucket and series",
      ),
      col("start", "timestamp", "t.start", `The UTC ${bucket} the row covers starts`),
      col("customer", "string", "t.customer_id", "Customer id"),
      col("product", "string", "t.product_id", "Product id"),
      col("metric", "string", "t.metric_id", "Metric id"),
      col("units", "quantity", "CAST(t.units AS TEXT)", "Billable units (exact decimal)"),
      money("revenue", "t.revenue", "Rated revenue in the plan's currency"),
      money("cost", "t.cost", "COGS in USD (provider cost of the events)"),
      col("events", "int", "t.events", "Accepted events"),
      col("uncosted_events", "int", "t.uncosted_events", "Events with no known cost"),
      money("uncosted_revenue", "t.uncosted_revenue", "Revenue of the uncosted events"),
    ],
  };
}

export const DATASETS: Record<TableDataset, TableDatasetDef> = {
  rollups_hourly: rollups("rollups_hourly", "hour"),
  rollups_daily: rollups("rollups_daily", "day"),
  invoices: {
    description: "Invoices by the start of their billing period",
    source: "invoices t",
    tenant: "t.tenant_id",
    time: "t.period_start",
    keys: ["t.id"],
    columns: [
      col("id", "string", "t.id", "Invoice id"),
      col("period_start", "timestamp", "t.period_start", "Billing period start"),
      col("period_end", "timestamp", "t.period_end", "Billing period end (exclusive)"),
      col("subscription", "string", "t.subscription_id", "Subscription id"),
      col("customer", "string", "t.customer_id", "Customer id"),
      col("product", "string", "t.product_id", "Product id"),
      col("currency", "string", "t.currency", "ISO 4217 currency"),
      col("status", "string", "t.status", "draft, open, paid or void"),
      money("subtotal", "t.subtotal", "Sum of the priced lines"),
      money("minimum_topup", "t.minimum_topup", "Top-up to the plan's minimum"),
      money("discount_total", "t.discount_total", "Discounts and coupons"),
      money("rounding", "t.rounding", "Rounding to the currency's minor unit"),
      money("total", "t.total", "Amount due"),
      money("usage_total", "t.usage_total", "The usage lines' part of the total"),
      money("amount_paid", "t.amount_paid", "Paid so far"),
      money("amount_refunded", "t.amount_refunded", "Refunded so far"),
      col("issued_at", "timestamp", "t.issued_at", "Issued (null while draft)", true),
      col("due_at", "timestamp", "t.due_at", "Due", true),
      col("paid_at", "timestamp", "t.paid_at", "Paid", true),
      col("voided_at", "timestamp", "t.voided_at", "Voided", true),
      col("updated_at", "timestamp", "t.updated_at", "Last change"),
    ],
  },
  invoice_lines: {
    description: "Invoice lines, partitioned with their invoice (by its period start)",
    source: "invoice_lines t JOIN invoices i ON i.tenant_id = t.tenant_id AND i.id = t.invoice_id",
    tenant: "t.tenant_id",
    time: "i.period_start",
    keys: ["t.invoice_id", "t.position"],
    columns: [
      col("id", "string", "t.invoice_id || '#' || t.position", "invoice id#position"),
      col("invoice", "string", "t.invoice_id", "Invoice id"),
      col("period_start", "timestamp", "i.period_start", "The invoice's period start"),
      col("position", "int", "t.position", "Line number on the invoice"),
      col("type", "string", "t.type", "Line type (flat, per_unit, tiered, …, adjustment)"),
      col("plan", "string", "t.plan_id", "Plan whose component priced it", true),
      col("metric", "string", "t.metric_id", "Metric of a usage line", true),
      col("service_from", "timestamp", "t.service_from", "Service window start", true),
      col("service_to", "timestamp", "t.service_to", "Service window end", true),
      col("quantity", "quantity", "t.quantity", "Quantity (exact decimal)"),
      money("amount", "t.amount", "Line amount"),
      col("currency", "string", "i.currency", "The invoice's currency"),
      col("description", "string", "t.description", "Line text"),
    ],
  },
  subscriptions: {
    description: "Subscriptions by start",
    source: "subscriptions t",
    tenant: "t.tenant_id",
    time: "t.start_at",
    keys: ["t.id"],
    columns: [
      col("id", "string", "t.id", "Subscription id"),
      col("start_at", "timestamp", "t.start_at", "Start"),
      col("customer", "string", "t.customer_id", "Customer id"),
      col("plan", "string", "t.plan_id", "Current plan"),
      col("status", "string", "t.status", "trialing, active, past_due, suspended, canceled"),
      col("trial_end", "timestamp", "t.trial_end", "Trial end", true),
      col("anchor_at", "timestamp", "t.anchor_at", "Billing anchor"),
      col("end_at", "timestamp", "t.end_at", "End (cancellation)", true),
      col("updated_at", "timestamp", "t.updated_at", "Last change"),
    ],
  },
  subscription_phases: {
    description:
      "Plan phases of subscriptions (a plan change ends one and starts the next): the history MRR movements are computed from",
    source: "subscription_phases t",
    tenant: "t.tenant_id",
    time: "t.start_at",
    keys: ["t.subscription_id"],
    columns: [
      col("id", "string", "t.subscription_id || '@' || t.start_at", "subscription@start (ms)"),
      col("subscription", "string", "t.subscription_id", "Subscription id"),
      col("start_at", "timestamp", "t.start_at", "Phase start"),
      col("end_at", "timestamp", "t.end_at", "Phase end (exclusive)", true),
      col("plan", "string", "t.plan_id", "Plan in force"),
      col("anchor_at", "timestamp", "t.anchor_at", "Billing anchor of the phase"),
    ],
  },
  signals: {
    description: "Detector signals by creation",
    source: "signals t",
    tenant: "t.tenant_id",
    time: "t.created_at",
    keys: ["t.id"],
    columns: [
      col("id", "string", "t.id", "Signal id"),
      col("created_at", "timestamp", "t.created_at", "Created"),
      col("detector", "string", "t.detector", "Detector"),
      col("customer", "string", "t.customer_id", "Customer id"),
      col("product", "string", "t.product_id", "Product id", true),
      col("metric", "string", "t.metric_id", "Metric id", true),
      col("window_start", "timestamp", "t.window_start", "Window start"),
      col("window_end", "timestamp", "t.window_end", "Window end"),
      col("magnitude", "double", "t.magnitude", "Magnitude (detector-specific)"),
      col("direction", "string", "t.direction", "Direction", true),
      col("details", "json", "t.details", "Detector details"),
      col("source_event_ids", "json", "t.source_event_ids", "Events that raised it"),
      col("status", "string", "t.status", "open or resolved"),
      col("resolved_at", "timestamp", "t.resolved_at", "Resolved", true),
    ],
  },
  cases: {
    description: "Cases (signals grouped per customer, detector, scope and period) by opening",
    source: "cases t",
    tenant: "t.tenant_id",
    time: "t.opened_at",
    keys: ["t.id"],
    columns: [
      col("id", "string", "t.id", "Case id"),
      col("opened_at", "timestamp", "t.opened_at", "Opened"),
      col("detector", "string", "t.detector", "Detector"),
      col("customer", "string", "t.customer_id", "Customer id"),
      col("scope", "string", "t.scope", "Scope"),
      col("product", "string", "t.product_id", "Product id", true),
      col("metric", "string", "t.metric_id", "Metric id", true),
      col("window_start", "timestamp", "t.window_start", "First signal window start"),
      col("window_end", "timestamp", "t.window_end", "Last signal window end"),
      col("magnitude", "double", "t.magnitude", "Largest magnitude of its signals"),
      col("signal_count", "int", "t.signal_count", "Signals"),
      col("status", "string", "t.status", "open or resolved"),
      col("last_signal_at", "timestamp", "t.last_signal_at", "Last signal"),
      col("resolved_at", "timestamp", "t.resolved_at", "Resolved", true),
      col("close_reason", "string", "t.close_reason", "Why it closed", true),
    ],
  },
  actions: {
    description: "The orchestration trail (GET /api/actions): every ladder step, by time",
    source: "orchestration_actions t",
    tenant: "t.tenant_id",
    time: "t.at",
    keys: ["t.id"],
    columns: [
      col("id", "string", "CAST(t.id AS TEXT)", "Trail entry id"),
      col("at", "timestamp", "t.at", "When"),
      col("action", "string", "t.action_id", "Action id"),
      col("signal", "string", "t.signal_id", "Signal id"),
      col("customer", "string", "t.customer_id", "Customer id"),
      col("rung", "string", "t.rung", "Ladder rung"),
      col("step", "string", "t.step", "queued, executed, reversed, failed, no_channel"),
      col("actor", "string", "t.actor", "Policy or operator"),
      col("detail", "json", "t.detail", "Step detail"),
    ],
  },
};

const ARCHIVE_TYPES: Record<(typeof ARCHIVE_COLUMNS)[number]["kind"], ColumnType> = {
  string: "string",
  json: "json",
  timestamp: "timestamp",
  int64: "int",
  quantity: "quantity",
  money: "money",
};

/** The `events` dataset: the archive's columns (docs/exports.md "Event archive"), after an
 * `id` — customer and event id, the archive's duplicate key — like every other dataset. */
export const EVENT_COLUMNS: readonly ExportColumn[] = [
  {
    name: "id",
    type: "string",
    nullable: false,
    description: "customer|event id: an event id is unique per customer",
  },
  ...ARCHIVE_COLUMNS.map((c) => ({
    name: c.name,
    type: ARCHIVE_TYPES[c.kind],
    nullable: !c.required,
    description: `The archive's ${c.name}`,
  })),
];

/** An archived event as an export row. */
export function eventRow(r: ArchiveRow): ExportRow {
  return {
    id: `${r.customer_id}|${r.event_id}`,
    ...r,
    properties: r.properties === null ? null : JSON.parse(r.properties),
  };
}

export const isTableDataset = (d: string): d is TableDataset =>
  (TABLE_DATASETS as readonly string[]).includes(d);

/** A value as an export row holds it: money and quantities as their unscaled integers in
 * decimal text (nanos, micro-units), times as epoch ms. */
export type ExportRow = Record<string, unknown>;

/** One D1 row (as selected by the store) → the export row: typed, exact. */
export function decodeRow(columns: readonly ExportColumn[], raw: Record<string, unknown>) {
  const row: ExportRow = {};
  for (const c of columns) {
    const v = raw[c.name];
    if (v === null || v === undefined) {
      row[c.name] = null;
      continue;
    }
    switch (c.type) {
      case "money":
      case "quantity":
        row[c.name] = BigInt(String(v)).toString();
        break;
      case "int":
      case "double":
      case "timestamp":
        row[c.name] = Number(v);
        break;
      case "json":
        row[c.name] = JSON.parse(String(v));
        break;
      case "boolean":
        row[c.name] = Boolean(v);
        break;
      default:
        row[c.name] = String(v);
    }
  }
  return row;
}

/** The row as JSON (webhook batches): times as ISO-8601 UTC strings, money and quantities as
 * exact decimal strings. */
export function jsonRow(columns: readonly ExportColumn[], row: ExportRow) {
  const out: Record<string, unknown> = {};
  for (const c of columns) {
    const v = row[c.name] ?? null;
    if (v === null) out[c.name] = null;
    else if (c.type === "timestamp") out[c.name] = new Date(v as number).toISOString();
    else if (c.type === "money") out[c.name] = formatMoney(BigInt(v as string), 2);
    else if (c.type === "quantity") out[c.name] = formatQuantity(BigInt(v as string));
    else out[c.name] = v;
  }
  return out;
}
