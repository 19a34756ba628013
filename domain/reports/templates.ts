import type { ReportQuery, SavedReport } from "../../contracts/reports";
import { DAY_MS } from "../time";
import { ZoneClock } from "./buckets";

// The report templates every tenant has (issue 15 item 4, docs/reports.md "Templates"): each is
// a saved report whose time range is relative ("the last 30 days"), resolved to instants in the
// tenant's zone whenever it is served, so a template opened today shows today's data. They are
// read-only; saving one in the builder saves a copy. Each template runs only what the catalog
// serves, nothing faked: the two on `pipeline` read Aforo's own telemetry, kept from when
// recording began (schema/0023_pipeline_telemetry.sql). Agentic Session Analysis reads the
// sessions' rollups, kept since schema/0025_session_rollups.sql (the events dataset answers the
// same question from raw events, but asks every customer's actor); COGS Breakdown cuts usage by
// provider and model, kept since schema/0024_model_rollups.sql.

export type Persona = "engineering" | "product" | "finance" | "revops";

/** A relative range: whole local days ending with today, or whole local months ending with the
 * current one. */
export type RelativeRange = { days: number } | { months: number };

export interface ReportTemplate {
  id: string;
  name: string;
  /** What it answers, in one sentence (the gallery's description). */
  answers: string;
  personas: Persona[];
  view: SavedReport["view"];
  range: RelativeRange;
  /** The query without its time range's instants. */
  query: Omit<ReportQuery, "time"> & {
    time: Omit<ReportQuery["time"], "from" | "to" | "time_zone">;
  };
}

/** Templates are "created" with the release that brought them: a fixed instant, so their
 * answers do not change from one call to the next. */
export const TEMPLATES_CREATED_AT = Date.UTC(2026, 11, 7);
export const TEMPLATE_ID_PREFIX = "tpl_";

export const TEMPLATES: readonly ReportTemplate[] = [
  {
    id: "revenue_summary",
    name: "Revenue Summary",
    answers: "How much usage revenue each product earned month by month, and what it cost to serve",
    personas: ["finance"],
    view: "stacked_bar",
    range: { months: 12 },
    query: {
      dataset: "usage",
      measures: ["revenue", "cogs", "margin"],
      dimensions: ["time", "product"],
      time: { granularity: "month" },
    },
  },
  {
    id: "customer_health_scorecard",
    name: "Customer Health Scorecard",
    answers:
      "Which customers bring the most revenue, at what margin, and how their usage moved against the 30 days before",
    personas: ["revops"],
    view: "table",
    range: { days: 30 },
    query: {
      dataset: "usage",
      measures: ["revenue", "margin_pct", "events", "units"],
      dimensions: ["customer"],
      time: { granularity: "day" },
      compare_to: "previous_period",
      order_by: [{ field: "revenue", direction: "desc" }],
      limit: 500,
    },
  },
  {
    id: "pricing_model_effectiveness",
    name: "Pricing Model Effectiveness",
    answers:
      "Which pricing models and plans earn the most per unit of usage and at what margin: where the pricing works and where it gives margin away",
    personas: ["product"],
    view: "bar",
    range: { days: 90 },
    query: {
      dataset: "usage",
      measures: ["revenue", "margin", "margin_pct", "units"],
      dimensions: ["pricing_model", "plan"],
      time: { granularity: "day" },
      order_by: [{ field: "revenue", direction: "desc" }],
    },
  },
  {
    id: "usage_heatmap",
    name: "Usage Heatmap",
    answers:
      "When in the week the usage arrives (hour of day × weekday, in the tenant's time zone): capacity and maintenance windows",
    personas: ["engineering", "product"],
    view: "heatmap",
    range: { days: 28 },
    query: {
      dataset: "usage",
      measures: ["events"],
      dimensions: ["hour_of_week"],
      time: { granularity: "hour" },
      order_by: [{ field: "hour_of_week", direction: "asc" }],
    },
  },
  {
    id: "churn_analysis",
    name: "Churn Analysis",
    answers:
      "Which customers' usage is fading week over week (WeeklyChurnSignalDetector's cases), how far it fell, and whether the case is still open",
    personas: ["revops"],
    view: "table",
    range: { days: 90 },
    query: {
      dataset: "cases",
      measures: ["count", "magnitude"],
      dimensions: ["customer", "status", "level"],
      filters: [{ dimension: "detector", op: "is", values: ["WeeklyChurnSignalDetector"] }],
      time: { granularity: "day" },
      order_by: [{ field: "magnitude", direction: "desc" }],
    },
  },
  {
    id: "cogs_breakdown",
    name: "COGS Breakdown",
    answers:
      "What the usage cost to serve by provider, model and product week by week over the last 90 days, against the revenue it earned",
    personas: ["finance", "engineering"],
    view: "table",
    range: { days: 90 },
    // From the tenant's usage by provider and model (schema/0024_model_rollups.sql), a few rows
    // per day whatever the number of customers; the events dataset answers the same per event,
    // with tokens, but reads every customer's actor.
    query: {
      dataset: "usage",
      measures: ["cogs", "revenue", "margin", "margin_pct", "events"],
      dimensions: ["time", "provider", "model", "product"],
      time: { granularity: "week" },
      order_by: [
        { field: "time", direction: "asc" },
        { field: "cogs", direction: "desc" },
      ],
    },
  },
  {
    id: "agentic_session_analysis",
    name: "Agentic Session Analysis",
    answers:
      "What each agent session (the `session_id` event property) cost, earned and consumed in tokens and calls over the last 7 days: the most expensive sessions first",
    personas: ["engineering", "product", "finance"],
    view: "table",
    range: { days: 7 },
    query: {
      dataset: "sessions",
      measures: ["cogs", "revenue", "margin", "input_tokens", "output_tokens", "events"],
      dimensions: ["customer", "session"],
      time: { granularity: "day" },
      order_by: [{ field: "cogs", direction: "desc" }],
      limit: 100,
    },
  },
  {
    id: "invoice_aging",
    name: "Invoice Aging",
    answers:
      "How much is owed on open invoices and how long past due it is (current, 1–30, 31–60, 61–90, 90+ days)",
    personas: ["finance"],
    view: "table",
    range: { days: 365 },
    query: {
      dataset: "invoices",
      measures: ["amount_due", "count"],
      dimensions: ["aging"],
      filters: [{ dimension: "status", op: "is", values: ["open"] }],
      time: { granularity: "month" },
      order_by: [{ field: "aging", direction: "asc" }],
    },
  },
  {
    id: "upgrade_signals",
    name: "Upgrade Signals",
    answers:
      "Which customers are pacing past their quota this period (QuotaPacingProjectionService), how far past, and which plan would cost them less for the period as projected",
    personas: ["product", "revops"],
    view: "table",
    range: { days: 30 },
    query: {
      dataset: "signals",
      measures: ["magnitude", "saving", "count"],
      dimensions: ["customer", "product", "plan", "cheaper_plan", "status"],
      filters: [{ dimension: "detector", op: "is", values: ["QuotaPacingProjectionService"] }],
      time: { granularity: "day" },
      order_by: [{ field: "magnitude", direction: "desc" }],
    },
  },
  {
    id: "margin_trend",
    name: "Margin Trend",
    answers: "Whether the gross margin on usage is holding, week by week, product by product",
    personas: ["finance"],
    view: "line",
    range: { days: 182 },
    query: {
      dataset: "usage",
      measures: ["margin_pct"],
      dimensions: ["time", "product"],
      time: { granularity: "week" },
    },
  },
  {
    id: "billing_pipeline_health",
    name: "Billing Pipeline Health",
    answers:
      "Whether usage flows through every stage, day by day: ingest requests and rejected events, gate decisions, queue messages applied and their lag, dead letters, invoicing runs — each with its errors and p95",
    personas: ["engineering"],
    view: "stacked_bar",
    range: { days: 30 },
    query: {
      dataset: "pipeline",
      measures: ["count", "error_count", "items", "p95_ms"],
      dimensions: ["time", "series"],
      time: { granularity: "day" },
    },
  },
  {
    id: "sla_compliance",
    name: "SLA Compliance",
    answers:
      "Whether the gate and ingest meet their targets, day by day: share of calls within target (gate 5 ms, ingest 1 s), availability, p95/p99 and the error-budget burn against 99.9 %",
    personas: ["engineering"],
    view: "line",
    range: { days: 30 },
    query: {
      dataset: "pipeline",
      measures: ["within_target", "availability", "p95_ms", "p99_ms", "burn_rate", "count"],
      dimensions: ["time", "series"],
      filters: [{ dimension: "series", op: "is", values: ["gate", "ingest"] }],
      time: { granularity: "day" },
    },
  },
];

export const templateOf = (id: string): ReportTemplate | undefined =>
  id.startsWith(TEMPLATE_ID_PREFIX)
    ? TEMPLATES.find((t) => TEMPLATE_ID_PREFIX + t.id === id)
    : undefined;

/** [from, to) of a relative range on `now`'s local day in `zone`: to is the next local
 * midnight, so today is included. */
export function resolveRange(range: RelativeRange, now: number, zone: string): [number, number] {
  const span = "days" in range ? range.days + 2 : range.months * 31 + 2;
  const clock = new ZoneClock(zone, now - span * DAY_MS, now + 2 * DAY_MS);
  const days = clock.bucketStarts(now - span * DAY_MS, now + 2 * DAY_MS, "day");
  const next = days.find((t) => t > now) ?? now;
  if ("days" in range) {
    const at = days.indexOf(next);
    return [days[at - range.days] ?? now - range.days * DAY_MS, next];
  }
  const months = clock.bucketStarts(now - span * DAY_MS, next, "month");
  return [months[months.length - range.months] ?? months[0] ?? now, next];
}

/** A template as the saved report it stands for, its range resolved now in `zone`. */
export function templateReport(t: ReportTemplate, now: number, zone: string): SavedReport {
  const [from, to] = resolveRange(t.range, now, zone);
  const created = new Date(TEMPLATES_CREATED_AT).toISOString();
  return {
    id: TEMPLATE_ID_PREFIX + t.id,
    name: t.name,
    description: t.answers,
    query: {
      ...t.query,
      time: {
        ...t.query.time,
        from: new Date(from).toISOString(),
        to: new Date(to).toISOString(),
        time_zone: zone,
      },
    },
    template: t.id,
    view: t.view,
    created_by: "aforo",
    created_at: created,
    updated_at: created,
  };
}
