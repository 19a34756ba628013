import type { ReportGranularity, ReportOrder, ReportQuery } from "../../contracts/reports";
import { DAY_MS } from "../time";
import { GRANULARITY_MS, isTimeZone } from "./buckets";
import { datasetOf, propertyKeyOf, TIME_DIMENSIONS } from "./catalog";

// A report query checked against the dataset catalog (the route's zod schema has already checked
// its shape): every issue names the field it is about, in words an operator can act on, and the
// query comes back with its defaults filled in — the query as run, echoed in the answer.

export const MAX_RANGE_DAYS = 400;
export const MAX_BUCKETS = 2_000;
export const MAX_LIMIT = 10_000;
export const DEFAULT_LIMIT = 1_000;

export interface QueryIssue {
  path: string;
  message: string;
}

/** A query with every default filled in. */
export type FilledQuery = ReportQuery & {
  filters: NonNullable<ReportQuery["filters"]>;
  time: ReportQuery["time"] & { granularity: ReportGranularity; time_zone: string };
  compare_to: "previous_period" | "previous_year" | null;
  order_by: ReportOrder[];
  limit: number;
};

export type Checked =
  | { ok: true; query: FilledQuery; from: number; to: number }
  | { ok: false; issues: QueryIssue[] };

const SINGLE_VALUE_OPS = new Set(["gt", "gte", "lt", "lte"]);
/** usage: the cost's provider and model are kept summed over the tenant's customers only
 * (schema/0024_model_rollups.sql), so they cannot be cut together with anything that needs a
 * customer's rows; the events dataset has both per event. */
const USAGE_MODEL_FIELDS = ["provider", "model"];
const USAGE_CUSTOMER_FIELDS = ["customer", "plan", "segment", "pricing_model", "billing_mode"];

/** Validates `q` against the catalog; `tenantZone` is the default time zone. */
export function checkQuery(q: ReportQuery, tenantZone: string): Checked {
  const issues: QueryIssue[] = [];
  const dataset = datasetOf(q.dataset);
  if (!dataset) {
    return {
      ok: false,
      issues: [
        {
          path: "dataset",
          message: `dataset \`${q.dataset}\` is not available yet (see GET /api/reports/datasets)`,
        },
      ],
    };
  }
  const measureNames = new Set(dataset.measures.map((m) => m.name));
  const dimensionNames = new Set(dataset.dimensions.map((d) => d.name));
  const families = dataset.dimension_families ?? [];
  /** Why `name` is not a dimension of the dataset, or null when it is one. */
  const notADimension = (name: string): string | null => {
    if (dimensionNames.has(name) || propertyKeyOf(dataset, name) !== null) return null;
    const family = families.find((f) => name.startsWith(f.prefix));
    if (family) {
      return `\`${name}\`: the key after \`${family.prefix}\` must match ${family.key_pattern}`;
    }
    return `dimension \`${name}\` is not available on dataset \`${dataset.name}\``;
  };

  if (q.measures.length === 0) {
    issues.push({ path: "measures", message: "choose at least one measure" });
  }
  const seen = new Set<string>();
  q.measures.forEach((m, i) => {
    if (!measureNames.has(m)) {
      issues.push({
        path: `measures.${i}`,
        message: `measure \`${m}\` is not available on dataset \`${dataset.name}\``,
      });
    } else if (seen.has(m)) {
      issues.push({ path: `measures.${i}`, message: `measure \`${m}\` is listed twice` });
    }
    seen.add(m);
  });
  q.dimensions.forEach((d, i) => {
    const wrong = notADimension(d);
    if (wrong) {
      issues.push({ path: `dimensions.${i}`, message: wrong });
    } else if (seen.has(d)) {
      issues.push({ path: `dimensions.${i}`, message: `dimension \`${d}\` is listed twice` });
    }
    seen.add(d);
  });

  (q.filters ?? []).forEach((filter, i) => {
    const at = `filters.${i}`;
    const wrong = notADimension(filter.dimension);
    if (wrong) {
      issues.push({ path: `${at}.dimension`, message: wrong });
    } else if (TIME_DIMENSIONS.has(filter.dimension)) {
      issues.push({
        path: `${at}.dimension`,
        message: `\`${filter.dimension}\` is a time bucket: narrow time.from and time.to instead of filtering on it`,
      });
    }
    if (filter.values.length === 0) {
      issues.push({ path: `${at}.values`, message: "give at least one value" });
    } else if (SINGLE_VALUE_OPS.has(filter.op) && filter.values.length !== 1) {
      issues.push({
        path: `${at}.values`,
        message: `\`${filter.op}\` compares with exactly one value, not ${filter.values.length}`,
      });
    }
  });

  if (dataset.name === "usage") {
    const used = [
      ...q.dimensions.map((d, i) => ({ field: d, path: `dimensions.${i}` })),
      ...(q.filters ?? []).map((f, i) => ({ field: f.dimension, path: `filters.${i}.dimension` })),
    ];
    const customerLevel = used.find((u) => USAGE_CUSTOMER_FIELDS.includes(u.field));
    const byModel = used.find((u) => USAGE_MODEL_FIELDS.includes(u.field));
    if (customerLevel && byModel) {
      issues.push({
        path: byModel.path,
        message: `dimension \`${byModel.field}\` cannot be combined with \`${customerLevel.field}\` on dataset \`usage\`: use dataset \`events\``,
      });
    }
  }

  const from = Date.parse(q.time.from);
  const to = Date.parse(q.time.to);
  const granularity = q.time.granularity ?? "day";
  const zone = q.time.time_zone ?? tenantZone;
  if (Number.isNaN(from)) {
    issues.push({ path: "time.from", message: "an ISO 8601 instant, e.g. 2026-11-01T00:00:00Z" });
  }
  if (Number.isNaN(to)) {
    issues.push({ path: "time.to", message: "an ISO 8601 instant, e.g. 2026-12-01T00:00:00Z" });
  }
  if (!Number.isNaN(from) && !Number.isNaN(to)) {
    if (from >= to) {
      issues.push({ path: "time.to", message: "time.to must be after time.from" });
    } else if (to - from > MAX_RANGE_DAYS * DAY_MS) {
      issues.push({
        path: "time.to",
        message: `the range is ${Math.ceil((to - from) / DAY_MS)} days; at most ${MAX_RANGE_DAYS}`,
      });
    } else if (q.dimensions.includes("time")) {
      const buckets = Math.ceil((to - from) / GRANULARITY_MS[granularity]);
      if (buckets > MAX_BUCKETS) {
        issues.push({
          path: "time.granularity",
          message: `${granularity} buckets over this range make about ${buckets}; at most ${MAX_BUCKETS}: choose a coarser granularity or a shorter range`,
        });
      }
    }
  }
  if (
    q.dimensions.includes("time") &&
    q.time.granularity &&
    !dataset.granularities.includes(q.time.granularity)
  ) {
    issues.push({
      path: "time.granularity",
      message: `dataset \`${dataset.name}\` has no \`${q.time.granularity}\` buckets`,
    });
  }
  if (!isTimeZone(zone)) {
    issues.push({
      path: "time.time_zone",
      message: `\`${zone}\` is not an IANA time zone (e.g. Europe/Berlin, America/New_York)`,
    });
  }

  const fields = new Set([...q.measures, ...q.dimensions]);
  (q.order_by ?? []).forEach((o, i) => {
    if (!fields.has(o.field)) {
      issues.push({
        path: `order_by.${i}.field`,
        message: `\`${o.field}\` is not a measure or dimension of this query`,
      });
    }
  });
  const limit = q.limit ?? DEFAULT_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    issues.push({ path: "limit", message: `a whole number from 1 to ${MAX_LIMIT}` });
  }
  if (issues.length > 0) return { ok: false, issues };

  const firstMeasure = q.measures[0] as string;
  const order_by: ReportOrder[] =
    q.order_by && q.order_by.length > 0
      ? q.order_by
      : q.dimensions.includes("time")
        ? [{ field: "time", direction: "asc" }]
        : [{ field: firstMeasure, direction: "desc" }];
  return {
    ok: true,
    from,
    to,
    query: {
      dataset: q.dataset,
      measures: q.measures,
      dimensions: q.dimensions,
      filters: q.filters ?? [],
      time: { from: q.time.from, to: q.time.to, granularity, time_zone: zone },
      compare_to: q.compare_to ?? null,
      order_by,
      limit,
    },
  };
}
