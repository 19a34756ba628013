import type {
  ReportCatalog,
  ReportDataset,
  ReportDatasetName,
  ReportField,
  ReportGranularity,
} from "../../contracts/reports";

// The report datasets (issue 15, SPEC §8): what each measures and how it can be cut, as data.
// GET /api/reports/datasets serves this; domain/reports/query.ts validates a query against it
// and domain/reports/compile.ts (events: compile-events.ts) turns it into SQL. A field is listed
// only where Aforo keeps it: what it does not keep yet is in docs/reports.md "Not yet kept".

const ALL_GRANULARITIES: ReportGranularity[] = ["hour", "day", "week", "month"];

const f = (
  name: string,
  label: string,
  type: ReportField["type"],
  description: string,
): ReportField => ({ name, label, type, description });

const TIME = (what: string) =>
  f(
    "time",
    "Time",
    "time",
    `${what}, bucketed by time.granularity in the query's time zone (the bucket's start)`,
  );
const CUSTOMER = f("customer", "Customer", "string", "The customer's id");
const PRODUCT = f("product", "Product", "string", "The product's id");
const COUNT = (what: string) => f("count", "Count", "number", `Number of ${what}`);

/** `properties.<key>` dimensions of the events dataset: the key is checked against this before
 * it reaches SQL (as a bound JSON path). */
export const EVENT_PROPERTY_PREFIX = "properties.";
export const EVENT_PROPERTY_KEY = /^[A-Za-z0-9_.-]{1,64}$/;
/** What store/tenants.ts defaults raw_retention_days to. */
export const DEFAULT_RAW_RETENTION_DAYS = 90;

// What usage and events share: they measure and cut the same rated events.
const UNITS = f("units", "Units", "number", "Quantity in the metric's unit (summed over events)");
const MONEY = [
  f("revenue", "Revenue", "money", "Usage revenue (rated events; plan fees not included)"),
  f("cogs", "COGS", "money", "Cost of the usage (provider and model prices at event time)"),
  f("margin", "Margin", "money", "Revenue − COGS"),
  f("margin_pct", "Margin %", "percent", "Margin ÷ revenue; empty where revenue is 0"),
];
const HOUR_OF_WEEK = f(
  "hour_of_week",
  "Hour of week",
  "number",
  "0–167 in the query's time zone: Monday 00:00–01:00 is 0, Sunday 23:00–24:00 is 167",
);
const METRIC = f("metric", "Metric", "string", "The metric's id");

export const DATASETS: readonly ReportDataset[] = [
  {
    name: "usage",
    label: "Usage",
    description:
      "Rated and costed usage from the hourly and daily rollups: every accepted event, priced and costed when it arrived",
    measures: [UNITS, f("events", "Events", "number", "Accepted usage events"), ...MONEY],
    dimensions: [
      TIME("The UTC hour the usage happened in"),
      HOUR_OF_WEEK,
      CUSTOMER,
      PRODUCT,
      METRIC,
      f(
        "plan",
        "Plan",
        "string",
        "The plan of the customer's subscription to that product in force at the start of the usage hour; empty without one",
      ),
      f(
        "pricing_model",
        "Pricing model",
        "string",
        "How that plan prices the metric: per_unit, tiered_graduated, tiered_volume, package, or unpriced (the plan does not charge for it); empty without a plan",
      ),
      f(
        "billing_mode",
        "Billing mode",
        "string",
        "commitment (the plan has a minimum the usage draws down) or in_arrears (usage billed as used, at the period's close); empty without a plan",
      ),
      f(
        "segment",
        "Segment",
        "string",
        "The customer's `segment` metadata attribute; empty when not set",
      ),
      f(
        "provider",
        "Provider",
        "string",
        "The cost's provider (anthropic, openai, …); empty if none. Kept summed over the tenant's customers, so it cannot be combined with customer, plan, segment, pricing_model or billing_mode (the events dataset can), and only for usage that arrived since Aforo began keeping it (earlier usage: the events dataset, within raw retention)",
      ),
      f(
        "model",
        "Model",
        "string",
        "The cost's model; empty if none. Kept as provider is: not with a customer-level dimension, and for usage since Aforo began keeping it",
      ),
    ],
    granularities: ALL_GRANULARITIES,
    retention_days: null,
  },
  {
    name: "events",
    label: "Events",
    description:
      "Raw usage events as each customer's actor keeps them (within raw retention): one row each, rated and costed, with provider, model, tokens and properties",
    measures: [
      f("events", "Events (calls)", "number", "Accepted usage events: each a call, a request"),
      UNITS,
      ...MONEY,
      f(
        "input_tokens",
        "Input tokens",
        "number",
        "Input tokens the events reported (cached input counted apart)",
      ),
      f("output_tokens", "Output tokens", "number", "Output tokens the events reported"),
      f(
        "cached_input_tokens",
        "Cached input tokens",
        "number",
        "Cached input tokens the events reported",
      ),
      f(
        "sessions",
        "Sessions",
        "number",
        "Distinct `session_id` properties, counted per customer (a session belongs to one customer)",
      ),
    ],
    dimensions: [
      TIME("When the event happened"),
      HOUR_OF_WEEK,
      CUSTOMER,
      PRODUCT,
      METRIC,
      f(
        "provider",
        "Provider",
        "string",
        "The cost's provider (anthropic, openai, …); empty if none",
      ),
      f("model", "Model", "string", "The cost's model; empty if none"),
      f(
        "cost_status",
        "Cost status",
        "string",
        "supplied (the event's own usd), catalog (priced from the cost catalog), uncosted or none (no cost block)",
      ),
    ],
    dimension_families: [
      {
        prefix: EVENT_PROPERTY_PREFIX,
        label: "Event property",
        type: "string",
        description:
          "The value of one of the event's properties (as text); empty where the event does not have it",
        key_pattern: EVENT_PROPERTY_KEY.source,
        examples: ["session_id", "endpoint"],
      },
    ],
    granularities: ALL_GRANULARITIES,
    // The default; GET /api/reports/datasets answers the tenant's raw_retention_days.
    retention_days: DEFAULT_RAW_RETENTION_DAYS,
  },
  {
    name: "sessions",
    label: "Sessions",
    description:
      "Agent sessions: the usage of events whose `session_id` property is a non-empty string, per UTC hour, customer, product and session, rated and costed as usage is. Kept from when Aforo began keeping sessions (earlier ones: the events dataset, within raw retention)",
    measures: [
      f("events", "Events (calls)", "number", "The session's accepted events: each a call"),
      UNITS,
      ...MONEY,
      f(
        "input_tokens",
        "Input tokens",
        "number",
        "Input tokens its events reported (cached input counted apart)",
      ),
      f("output_tokens", "Output tokens", "number", "Output tokens its events reported"),
      f(
        "cached_input_tokens",
        "Cached input tokens",
        "number",
        "Cached input tokens its events reported",
      ),
      f(
        "sessions",
        "Sessions",
        "number",
        "Distinct sessions, counted per customer (the same id sent for two customers is two)",
      ),
      f(
        "duration",
        "Duration (s)",
        "number",
        "Seconds from the first event to the last: a session's length when cut by session, else the span its sessions cover",
      ),
    ],
    dimensions: [
      TIME(
        "The UTC hour the session's events happened in (an hour belongs to the local bucket its start falls in)",
      ),
      CUSTOMER,
      f("session", "Session", "string", "The events' `session_id` property"),
      PRODUCT,
    ],
    granularities: ALL_GRANULARITIES,
    retention_days: null,
  },
  {
    name: "invoices",
    label: "Invoices",
    description:
      "Invoices by billing period (the time range selects on the period start); void invoices included, filter on status to leave them out",
    measures: [
      COUNT("invoices"),
      f("total", "Total", "money", "Invoice totals"),
      f("amount_paid", "Amount paid", "money", "Paid on them (refunds not subtracted)"),
      f("amount_due", "Amount due", "money", "Still due on open invoices (total − paid)"),
    ],
    dimensions: [
      TIME("The billing period's start"),
      f(
        "period",
        "Billing period",
        "time",
        "The month the billing period starts in, in the query's time zone",
      ),
      CUSTOMER,
      PRODUCT,
      f("status", "Status", "string", "draft, open, paid or void"),
      f(
        "aging",
        "Days past due",
        "string",
        "Open invoices by days past their due date now: current, 1–30, 31–60, 61–90, 90+; empty for others",
      ),
    ],
    granularities: ALL_GRANULARITIES,
    retention_days: null,
  },
  {
    name: "payments",
    label: "Payments",
    description: "Payment attempts the provider reported (succeeded, failed, refunded), by time",
    measures: [COUNT("payment attempts"), f("amount", "Amount", "money", "What they were for")],
    dimensions: [
      TIME("When the attempt happened"),
      f("status", "Status", "string", "succeeded, failed or refunded"),
      f("decline_code", "Decline code", "string", "The provider's decline code; empty if none"),
      f("provider", "Provider", "string", "api or stripe"),
      CUSTOMER,
    ],
    granularities: ALL_GRANULARITIES,
    retention_days: null,
  },
  {
    name: "subscriptions",
    label: "Subscriptions",
    description:
      "Subscriptions in force at some point of the time range (started before its end, not ended before its start)",
    measures: [COUNT("subscriptions")],
    dimensions: [
      f("plan", "Plan", "string", "The subscription's current plan"),
      PRODUCT,
      f("status", "Status", "string", "trialing, active, past_due, suspended or canceled"),
      CUSTOMER,
    ],
    granularities: [],
    retention_days: null,
  },
  {
    name: "signals",
    label: "Signals",
    description: "Detector findings, by when they were raised",
    measures: [
      COUNT("signals"),
      f("magnitude", "Magnitude", "number", "The largest magnitude among them"),
      f(
        "saving",
        "Saving",
        "money",
        "Quota pacing: the largest saving among them — what the projected period would cost less on the cheapest other plan of the product (0 where the current plan is cheapest)",
      ),
    ],
    dimensions: [
      TIME("When the signal was raised"),
      f("detector", "Detector", "string", "The detector that raised it"),
      CUSTOMER,
      PRODUCT,
      f("status", "Status", "string", "open or resolved"),
      f(
        "plan",
        "Plan",
        "string",
        "Quota pacing: the customer's plan when the signal was raised; empty for other detectors",
      ),
      f(
        "cheaper_plan",
        "Cheaper plan",
        "string",
        "Quota pacing: the plan of the same product, currency and interval on which the projected period would cost least, if cheaper than the current one; empty otherwise",
      ),
    ],
    granularities: ALL_GRANULARITIES,
    retention_days: null,
  },
  {
    name: "cases",
    label: "Cases",
    description: "Cases (a story of signals), by when they opened",
    measures: [
      COUNT("cases"),
      f("magnitude", "Magnitude", "number", "The largest magnitude of their signals"),
    ],
    dimensions: [
      TIME("When the case opened"),
      f("detector", "Detector", "string", "The detector of its signals"),
      CUSTOMER,
      PRODUCT,
      f("status", "Status", "string", "open or resolved"),
      f(
        "level",
        "Level",
        "string",
        "The level rank reached (its meaning is the detector's: L1–L3, a threshold %, hours)",
      ),
    ],
    granularities: ALL_GRANULARITIES,
    retention_days: null,
  },
  {
    name: "actions",
    label: "Actions",
    description: "Ladder actions (alert, throttle, block, …), by when they were queued",
    measures: [COUNT("actions")],
    dimensions: [
      TIME("When the action was queued"),
      f("rung", "Rung", "string", "ALERT, THROTTLE, BLOCK, extend_trial, apply_coupon, escalate"),
      f("state", "State", "string", "queued, executed, reversed, failed or no_channel"),
      f("detector", "Detector", "string", "The detector of the signal behind it"),
      CUSTOMER,
    ],
    granularities: ALL_GRANULARITIES,
    retention_days: null,
  },
  {
    name: "deliveries",
    label: "Deliveries",
    description: "Alert, digest and dunning messages sent to channels, by when they were created",
    measures: [COUNT("deliveries")],
    dimensions: [
      TIME("When the delivery was created"),
      f(
        "channel_type",
        "Channel type",
        "string",
        "slack, email or webhook; empty for a deleted channel",
      ),
      f("kind", "Kind", "string", "signal, digest, payment_retry or payment_method"),
      f("status", "Status", "string", "pending, delivered, dead or canceled"),
    ],
    granularities: ALL_GRANULARITIES,
    retention_days: null,
  },
  {
    name: "pipeline",
    label: "Pipeline",
    description:
      "Aforo's own telemetry per UTC hour: ingest requests and rejected events, gate decisions, events-queue messages and lag, dead letters, invoicing runs. Counted in each edge isolate and written every ~10 s (an evicted isolate's last seconds can be missing); kept from when recording began. Targets: gate p99 < 5 ms (SPEC §10), ingest < 1 s per request; availability objective 99.9 %",
    measures: [
      f(
        "count",
        "Count",
        "number",
        "Observations: requests (ingest), rejected events (ingest_rejection), decisions (gate), messages (queue, dead_letter), runs (invoice_run)",
      ),
      f(
        "items",
        "Items",
        "number",
        "What they carried: events sent (ingest), usage events applied (queue), invoices created or finalised (invoice_run); 0 for the others",
      ),
      f(
        "error_count",
        "Errors",
        "number",
        "Of those, failures on Aforo's side: ingest and gate 5xx, queue writes retried, dead letters, failed runs (a rejected event or a throttled call is not one)",
      ),
      f("availability", "Availability", "percent", "1 − errors ÷ count; empty without any"),
      f(
        "burn_rate",
        "Error budget burn",
        "number",
        "Error share ÷ the 0.1 % a 99.9 % availability objective allows: 1 spends the budget as fast as it accrues, 10 spends 30 days' budget in 3",
      ),
      f(
        "p50_ms",
        "p50 (ms)",
        "number",
        "Median latency (queue: lag since the outbox row was written; invoice_run: duration), from the summed log-scale histogram, interpolated inside its bucket",
      ),
      f("p95_ms", "p95 (ms)", "number", "95th percentile latency, as p50"),
      f("p99_ms", "p99 (ms)", "number", "99th percentile latency, as p50"),
      f("max_ms", "Max (ms)", "number", "The largest latency"),
      f("mean_ms", "Mean (ms)", "number", "Mean latency"),
      f(
        "within_target",
        "Within target",
        "percent",
        "Share of timed gate and ingest observations under their series' target (gate 5 ms, ingest 1 s); empty for series without one",
      ),
    ],
    dimensions: [
      TIME("The UTC hour it happened in"),
      f(
        "series",
        "Series",
        "string",
        "ingest, ingest_rejection, gate, queue, dead_letter or invoice_run",
      ),
      f(
        "outcome",
        "Outcome",
        "string",
        "ingest: accepted, partial, rejected, error · ingest_rejection: the reason (invalid_<field>, invalid_event, unknown_product, unknown_metric, time_in_future, time_before_horizon, over_day_budget) · gate: allow, throttle, block, error · queue: applied, redelivered, skipped, retried · dead_letter: events, deliveries · invoice_run: ok, failed",
      ),
    ],
    granularities: ALL_GRANULARITIES,
    retention_days: null,
  },
];

export const REPORT_CATALOG: ReportCatalog = { data: [...DATASETS] };

/** The dataset of this name, or undefined when the catalog does not serve one. */
export const datasetOf = (name: ReportDatasetName | string): ReportDataset | undefined =>
  DATASETS.find((d) => d.name === name);

/** Dimensions that are time buckets (never filtered on: the time range does that). */
export const TIME_DIMENSIONS = new Set(["time", "hour_of_week", "period"]);

/** The key of a `properties.<key>` dimension when `dataset` has that family and the key is
 * well formed; null otherwise. */
export function propertyKeyOf(dataset: ReportDataset, field: string): string | null {
  for (const family of dataset.dimension_families ?? []) {
    if (!field.startsWith(family.prefix)) continue;
    const key = field.slice(family.prefix.length);
    return new RegExp(family.key_pattern).test(key) ? key : null;
  }
  return null;
}
