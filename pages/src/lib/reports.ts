// Reports (issue 15): the builder's state as URL parameters and back, that state as the one
// ReportQuery the API runs (contracts/reports.ts), and the API calls. The whole query lives in
// the URL, so a refresh or a pasted link shows the same report; parameters are written in a
// fixed order with defaults left out, so equal reports give equal addresses. Relative time
// ranges ("last 30 days") stay relative in the URL and are resolved to instants in the query's
// time zone when the query is built.

import type { FieldError } from "../../../contracts/common";
import type {
  ReportCatalog,
  ReportDataset,
  ReportDatasetName,
  ReportDimensionFamily,
  ReportFilter,
  ReportGranularity,
  ReportOrder,
  ReportQuery,
  ReportResult,
  SavedReport,
} from "../../../contracts/reports";

/** What these calls need of the dashboard's ApiClient (lib/api.ts), named here so this module
 * stays free of Preact and can be checked in Node. */
export interface ReportsApi {
  get<T>(path: string, signal?: AbortSignal): Promise<T>;
  post<T>(path: string, body: unknown, signal?: AbortSignal): Promise<T>;
  patch<T>(path: string, body: unknown, signal?: AbortSignal): Promise<T>;
  delete<T>(path: string, signal?: AbortSignal): Promise<T>;
}

export const DATASETS: readonly ReportDatasetName[] = [
  "usage",
  "events",
  "sessions",
  "invoices",
  "payments",
  "subscriptions",
  "signals",
  "cases",
  "actions",
  "deliveries",
  "pipeline",
];
export const GRANULARITIES: readonly ReportGranularity[] = ["hour", "day", "week", "month"];
export const RANGES = ["7d", "30d", "90d", "this_month", "last_month", "custom"] as const;
export type RangePreset = (typeof RANGES)[number];
export const RANGE_LABELS: Record<RangePreset, string> = {
  "7d": "Last 7 days",
  "30d": "Last 30 days",
  "90d": "Last 90 days",
  this_month: "This month",
  last_month: "Last month",
  custom: "Custom",
};
export const VIEWS = ["table", "line", "bar", "stacked_bar", "heatmap"] as const;
export type ReportView = SavedReport["view"];
export const VIEW_LABELS: Record<ReportView, string> = {
  table: "Table",
  line: "Line",
  bar: "Bar",
  stacked_bar: "Stacked bar",
  heatmap: "Heatmap",
};
export const FILTER_OPS: readonly ReportFilter["op"][] = [
  "is",
  "is_not",
  "contains",
  "gt",
  "gte",
  "lt",
  "lte",
];
export const OP_LABELS: Record<ReportFilter["op"], string> = {
  is: "is",
  is_not: "is not",
  contains: "contains",
  gt: ">",
  gte: "≥",
  lt: "<",
  lte: "≤",
};
export const COMPARES = ["previous_period", "previous_year"] as const;

/** What the builder edits; every field is in the URL. */
export interface BuilderState {
  dataset: ReportDatasetName;
  measures: string[];
  dimensions: string[];
  filters: ReportFilter[];
  range: RangePreset;
  /** A custom range's first and last day (both included), YYYY-MM-DD in the query's zone. */
  from: string | null;
  to: string | null;
  /** null: the API's default for the dataset. */
  granularity: ReportGranularity | null;
  /** null: the tenant's zone. */
  tz: string | null;
  compare: (typeof COMPARES)[number] | null;
  order: ReportOrder[];
  /** null: the API's default (1,000). */
  limit: number | null;
  view: ReportView;
}

export const DEFAULT_STATE: BuilderState = {
  dataset: "usage",
  measures: [],
  dimensions: [],
  filters: [],
  range: "30d",
  from: null,
  to: null,
  granularity: null,
  tz: null,
  compare: null,
  order: [],
  limit: null,
  view: "table",
};

/** A field name, or a keyed dimension (`properties.session_id`; withDataset checks the key
 * against the dataset's family). */
const NAME = /^(?:[a-z][a-z0-9_]{0,63}|[a-z]+\.[A-Za-z0-9_.-]{1,64})$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const validDate = (raw: string | null): string | null => {
  if (!raw || !DATE.test(raw)) return null;
  const t = Date.parse(`${raw}T00:00:00Z`);
  return Number.isNaN(t) || new Date(t).toISOString().slice(0, 10) !== raw ? null : raw;
};
const names = (raw: string | null): string[] =>
  [...new Set((raw ?? "").split(",").filter((n) => NAME.test(n)))].slice(0, 32);
const oneOf = <T extends string>(values: readonly T[], raw: string | null): T | null =>
  raw !== null && (values as readonly string[]).includes(raw) ? (raw as T) : null;

// A filter is one `f` parameter: dimension~op~value,value (each value percent-encoded, so a
// comma or a tilde inside a value survives).
function parseFilter(raw: string): ReportFilter | null {
  const [dimension, op, values, ...rest] = raw.split("~");
  if (rest.length || !dimension || !NAME.test(dimension)) return null;
  const o = oneOf(FILTER_OPS, op ?? null);
  if (!o) return null;
  try {
    // A comparison takes exactly one value, the empty text included (`gt ""`: has a value, as
    // the Agentic Session Analysis template filters on a session id).
    const single = o === "gt" || o === "gte" || o === "lt" || o === "lte";
    const vs = single
      ? [decodeURIComponent(values ?? "").slice(0, 200)]
      : (values ?? "")
          .split(",")
          .filter((v) => v !== "")
          .map((v) => decodeURIComponent(v).slice(0, 200));
    return { dimension, op: o, values: vs.slice(0, 100) };
  } catch {
    return null;
  }
}
const formatFilter = (f: ReportFilter) =>
  `${f.dimension}~${f.op}~${f.values.map((v) => encodeURIComponent(v).replaceAll("~", "%7E")).join(",")}`;

function parseOrder(raw: string | null): ReportOrder[] {
  const out: ReportOrder[] = [];
  for (const part of (raw ?? "").split(",")) {
    const [field, dir] = part.split(":");
    if (field && NAME.test(field) && (dir === "asc" || dir === "desc")) {
      out.push({ field, direction: dir });
    }
  }
  return out.slice(0, 8);
}

/** The builder's state from a query string; unknown or malformed values fall back to defaults. */
export function parseBuilder(search: URLSearchParams | string): BuilderState {
  const p = typeof search === "string" ? new URLSearchParams(search) : search;
  const limitRaw = p.get("limit");
  const limit = limitRaw && /^\d{1,6}$/.test(limitRaw) ? Number(limitRaw) : null;
  const tz = p.get("tz");
  return {
    dataset: oneOf(DATASETS, p.get("dataset")) ?? DEFAULT_STATE.dataset,
    measures: names(p.get("m")),
    dimensions: names(p.get("d")),
    filters: p
      .getAll("f")
      .map(parseFilter)
      .filter((f): f is ReportFilter => f !== null)
      .slice(0, 20),
    range: oneOf(RANGES, p.get("range")) ?? DEFAULT_STATE.range,
    from: validDate(p.get("from")),
    to: validDate(p.get("to")),
    granularity: oneOf(GRANULARITIES, p.get("g")),
    tz: tz && /^[A-Za-z0-9_+\-/]{1,64}$/.test(tz) ? tz : null,
    compare: oneOf(COMPARES, p.get("compare")),
    order: parseOrder(p.get("order")),
    limit: limit !== null && limit > 0 ? limit : null,
    view: oneOf(VIEWS, p.get("view")) ?? DEFAULT_STATE.view,
  };
}

/** The query string of a state ("?dataset=usage&m=revenue…"), in a fixed order. */
export function builderSearch(s: BuilderState): string {
  const p = new URLSearchParams();
  p.set("dataset", s.dataset);
  if (s.measures.length) p.set("m", s.measures.join(","));
  if (s.dimensions.length) p.set("d", s.dimensions.join(","));
  for (const f of s.filters) p.append("f", formatFilter(f));
  if (s.range !== DEFAULT_STATE.range) p.set("range", s.range);
  if (s.range === "custom") {
    if (s.from) p.set("from", s.from);
    if (s.to) p.set("to", s.to);
  }
  if (s.granularity) p.set("g", s.granularity);
  if (s.tz) p.set("tz", s.tz);
  if (s.compare) p.set("compare", s.compare);
  if (s.order.length) p.set("order", s.order.map((o) => `${o.field}:${o.direction}`).join(","));
  if (s.limit !== null) p.set("limit", String(s.limit));
  if (s.view !== DEFAULT_STATE.view) p.set("view", s.view);
  return `?${p.toString()}`;
}

/** Whether the address carries a builder state at all (else a saved report's own query). */
export const hasBuilderState = (search: URLSearchParams) => search.has("dataset");

// ---------------------------------------------------------------------------------------------
// Dates in a time zone

const partsFormatters = new Map<string, Intl.DateTimeFormat>();
function partsIn(zone: string): Intl.DateTimeFormat {
  let f = partsFormatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    partsFormatters.set(zone, f);
  }
  return f;
}

/** A zone's wall clock at `t` as the epoch ms of the same wall time in UTC. */
function wall(t: number, zone: string): number {
  const get: Record<string, number> = {};
  for (const part of partsIn(zone).formatToParts(t)) get[part.type] = Number(part.value);
  return Date.UTC(
    get.year ?? 1970,
    (get.month ?? 1) - 1,
    get.day ?? 1,
    get.hour ?? 0,
    get.minute ?? 0,
    get.second ?? 0,
  );
}

/** Whether `zone` is an IANA zone this browser knows. */
export function knownZone(zone: string): boolean {
  try {
    partsIn(zone);
    return true;
  } catch {
    return false;
  }
}

/** The instant a day (YYYY-MM-DD) starts in `zone`. */
export function startOfDay(day: string, zone: string): number {
  const guess = Date.parse(`${day}T00:00:00Z`);
  const first = guess - (wall(guess, zone) - guess);
  return guess - (wall(first, zone) - first);
}

/** The day (YYYY-MM-DD) `t` falls on in `zone`. */
export const dayIn = (t: number, zone: string) =>
  new Date(wall(t, zone)).toISOString().slice(0, 10);

export function addDays(day: string, n: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);
}

const firstOfMonth = (day: string, monthsAgo = 0) => {
  const d = new Date(Date.parse(`${day.slice(0, 7)}-01T00:00:00Z`));
  d.setUTCMonth(d.getUTCMonth() - monthsAgo);
  return d.toISOString().slice(0, 10);
};

/** A range's first and last day (both included) on `now`'s day in `zone`. */
export function rangeDays(
  s: Pick<BuilderState, "range" | "from" | "to">,
  zone: string,
  now: number,
): { from: string; to: string } {
  const today = dayIn(now, zone);
  switch (s.range) {
    case "7d":
      return { from: addDays(today, -6), to: today };
    case "30d":
      return { from: addDays(today, -29), to: today };
    case "90d":
      return { from: addDays(today, -89), to: today };
    case "this_month":
      return { from: firstOfMonth(today), to: today };
    case "last_month":
      return { from: firstOfMonth(today, 1), to: addDays(firstOfMonth(today), -1) };
    case "custom":
      return { from: s.from ?? addDays(today, -29), to: s.to ?? today };
  }
}

// ---------------------------------------------------------------------------------------------
// State ↔ query

/** The query the builder's state asks for. `zone` resolves the range when no zone is chosen
 * (the tenant's, once known). Filters still being typed (no value yet) are left out. */
export function toQuery(s: BuilderState, zone: string, now: number): ReportQuery {
  const z = s.tz ?? zone;
  const days = rangeDays(s, z, now);
  const filters = s.filters.filter((f) => f.values.length > 0);
  return {
    dataset: s.dataset,
    measures: s.measures,
    dimensions: s.dimensions,
    ...(filters.length ? { filters } : {}),
    time: {
      from: new Date(startOfDay(days.from, z)).toISOString(),
      to: new Date(startOfDay(addDays(days.to, 1), z)).toISOString(),
      ...(s.granularity ? { granularity: s.granularity } : {}),
      ...(s.tz ? { time_zone: s.tz } : {}),
    },
    ...(s.compare ? { compare_to: s.compare } : {}),
    ...(s.order.length ? { order_by: s.order } : {}),
    ...(s.limit !== null ? { limit: s.limit } : {}),
  };
}

/** A saved query as the builder's state: its instants become a custom range of days in its
 * zone (the contract stores instants, not presets). */
export function stateOf(q: ReportQuery, view: ReportView, tenantZone: string): BuilderState {
  const z = q.time.time_zone ?? tenantZone;
  const from = Date.parse(q.time.from);
  const to = Date.parse(q.time.to);
  return {
    dataset: q.dataset,
    measures: [...q.measures],
    dimensions: [...q.dimensions],
    filters: (q.filters ?? []).map((f) => ({ ...f, values: [...f.values] })),
    range: "custom",
    from: Number.isNaN(from) ? null : dayIn(from, z),
    to: Number.isNaN(to) ? null : dayIn(to - 1, z),
    granularity: q.time.granularity ?? null,
    tz: q.time.time_zone ?? null,
    compare: q.compare_to ?? null,
    order: (q.order_by ?? []).map((o) => ({ ...o })),
    limit: q.limit ?? null,
    view,
  };
}

/** Switching dataset keeps only the measures, dimensions, filters and order it has. */
export function withDataset(s: BuilderState, ds: ReportDataset): BuilderState {
  const m = new Set(ds.measures.map((f) => f.name));
  const names = new Set(dimensionsOf(ds).map((f) => f.name));
  const d = { has: (name: string) => names.has(name) || familyOf(ds, name) !== null };
  const measures = s.measures.filter((x) => m.has(x));
  return {
    ...s,
    dataset: ds.name,
    measures: measures.length ? measures : ds.measures.slice(0, 1).map((f) => f.name),
    dimensions: s.dimensions.filter((x) => d.has(x)),
    filters: s.filters.filter((f) => d.has(f.dimension)),
    order: s.order.filter((o) => m.has(o.field) || d.has(o.field)),
    granularity: s.granularity && ds.granularities.includes(s.granularity) ? s.granularity : null,
  };
}

/** The family a keyed dimension (`properties.session_id`) belongs to, when its key is well
 * formed; null for any other name. */
export function familyOf(ds: ReportDataset, name: string): ReportDimensionFamily | null {
  for (const f of ds.dimension_families ?? []) {
    if (name.startsWith(f.prefix) && new RegExp(f.key_pattern).test(name.slice(f.prefix.length))) {
      return f;
    }
  }
  return null;
}

/** A dataset's dimensions, with the time bucket ("time", which the contract always accepts)
 * listed first even if the catalog leaves it implicit. */
export function dimensionsOf(ds: ReportDataset) {
  if (ds.dimensions.some((d) => d.name === "time") || ds.granularities.length === 0)
    return ds.dimensions;
  return [
    {
      name: "time",
      label: "Time",
      type: "time" as const,
      description: "The time bucket (by the granularity)",
    },
    ...ds.dimensions,
  ];
}

// ---------------------------------------------------------------------------------------------
// Field errors → controls

/** The builder's controls, each with the request paths its errors come under. */
export const CONTROL_PATHS = {
  dataset: ["dataset"],
  measures: ["measures"],
  dimensions: ["dimensions"],
  filters: ["filters"],
  range: ["time", "time.from", "time.to"],
  granularity: ["time.granularity"],
  tz: ["time.time_zone"],
  compare: ["compare_to"],
  order: ["order_by"],
  limit: ["limit"],
} as const;
export type Control = keyof typeof CONTROL_PATHS;

const under = (path: string, prefix: string) =>
  path === prefix || path.startsWith(`${prefix}.`) || path.startsWith(`${prefix}[`);

/** Which control a request path belongs to (the most specific match), null: none. */
export function controlOf(path: string): Control | null {
  let best: Control | null = null;
  let bestLen = -1;
  for (const [control, prefixes] of Object.entries(CONTROL_PATHS) as [
    Control,
    readonly string[],
  ][]) {
    for (const prefix of prefixes) {
      // "time" alone matches the range only as itself; its children have their own controls.
      const hit = prefix === "time" ? path === "time" : under(path, prefix);
      if (hit && prefix.length > bestLen) {
        best = control;
        bestLen = prefix.length;
      }
    }
  }
  return best;
}

export function errorsByControl(errors: readonly FieldError[]): {
  at: Partial<Record<Control, string[]>>;
  rest: FieldError[];
} {
  const at: Partial<Record<Control, string[]>> = {};
  const rest: FieldError[] = [];
  for (const e of errors) {
    const c = controlOf(e.path);
    if (c) at[c] = [...(at[c] ?? []), e.message];
    else rest.push(e);
  }
  return { at, rest };
}

// ---------------------------------------------------------------------------------------------
// The API

/** base64url of the query's JSON (UTF-8), as the download endpoints take it in `q`. */
export function encodeQuery(q: ReportQuery): string {
  const bytes = new TextEncoder().encode(JSON.stringify(q));
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function decodeQuery(s: string): unknown {
  const bin = atob(s.replace(/-/g, "+").replace(/_/g, "/"));
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0))));
}

export const downloadPath = (q: ReportQuery, format: "csv" | "parquet") =>
  `/api/reports/run.${format}?q=${encodeQuery(q)}`;

export const CATALOG_PATH = "/api/reports/datasets";

export const runReport = (api: ReportsApi, q: ReportQuery, signal?: AbortSignal) =>
  api.post<ReportResult>("/api/reports/run", q, signal);

export const fetchCatalog = (api: ReportsApi, signal?: AbortSignal) =>
  api.get<ReportCatalog>(CATALOG_PATH, signal);

/** Every saved report (the list is small; its pages followed if it has any). */
export async function listReports(api: ReportsApi, signal?: AbortSignal): Promise<SavedReport[]> {
  const out: SavedReport[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < 20; i++) {
    const path: string = cursor
      ? `/api/reports?cursor=${encodeURIComponent(cursor)}`
      : "/api/reports";
    const page: { data: SavedReport[]; next_cursor?: string | null } = await api.get(path, signal);
    out.push(...page.data);
    cursor = page.next_cursor ?? null;
    if (!cursor) break;
  }
  return out;
}

export interface ReportDraft {
  name: string;
  description: string;
  query: ReportQuery;
  view: ReportView;
}

export const createReport = (api: ReportsApi, d: ReportDraft) =>
  api.post<SavedReport>("/api/reports", d);
export const updateReport = (api: ReportsApi, id: string, d: ReportDraft) =>
  api.patch<SavedReport>(`/api/reports/${encodeURIComponent(id)}`, d);
export const deleteReport = (api: ReportsApi, id: string) =>
  api.delete<unknown>(`/api/reports/${encodeURIComponent(id)}`);

/** The permission saving, changing and deleting a report needs (domain/roles.ts). */
export const REPORTS_PERMISSION = "reports:share" as const;

// ---------------------------------------------------------------------------------------------
// Heatmap cells

const WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/** An hour-of-week value as (weekday 0 = Monday, hour), from a number 0–167 (Monday 00:00 = 0)
 * or a string such as "1-13", "Mon 13", "mon:13" or "Mon 13:00". */
export function hourOfWeek(v: unknown): { day: number; hour: number } | null {
  if (typeof v === "number" && Number.isInteger(v) && v >= 0 && v < 168) {
    return { day: Math.floor(v / 24), hour: v % 24 };
  }
  if (typeof v !== "string") return null;
  if (/^\d{1,3}$/.test(v)) return hourOfWeek(Number(v));
  const m = /^([A-Za-z]{3}|\d)[\s:_-]+(\d{1,2})(?::00)?$/.exec(v.trim());
  if (!m) return null;
  const dayRaw = m[1] ?? "";
  const day = /^\d$/.test(dayRaw)
    ? (Number(dayRaw) + 6) % 7 // ISO-ish 1 = Monday … 7/0 = Sunday
    : WEEKDAYS.findIndex((w) => w.toLowerCase() === dayRaw.toLowerCase());
  const hour = Number(m[2]);
  return day >= 0 && hour < 24 ? { day, hour } : null;
}

export { WEEKDAYS };
