// GET /api/metrics/cockpit and /api/metrics/mrr as tiles and chart rows (SPEC §8, §11;
// docs/metrics.md). Pure and tolerant of representation: money may come as decimal strings or
// numbers, instants as ISO strings or epoch ms, and a part the server does not send reads as no
// value.

import type {
  AgingBucket,
  Cockpit,
  MoneyDelta,
  MovementType,
  MrrMovements,
  NumberDelta,
  SeriesPoint,
} from "../../../contracts/metrics";
import { instant, num } from "./format";

/** A contract with any part missing: what the adapters accept (they read defensively). */
export type Partly<T> = T extends readonly (infer U)[]
  ? Partly<U>[]
  : T extends object
    ? { [K in keyof T]?: Partly<T[K]> }
    : T;

/** What every KPI of the cockpit has in common, as far as the tiles read it. */
interface KpiBody {
  value?: string | number | null;
  /** outstanding_invoices has a total instead of a value. */
  total?: string;
  delta?: Partly<MoneyDelta | NumberDelta>;
  series?: Partly<SeriesPoint<string | number | null>>[];
}

export type KpiKind = "money" | "ratio" | "count";

export interface Kpi {
  key: string;
  label: string;
  kind: KpiKind;
  value: number | null;
  /** Whether a rise is good news (churn, outstanding invoices: it is not). */
  upIsGood: boolean;
  delta: {
    change: number | null;
    ratio: number | null;
    previous: number | null;
    label: string;
  } | null;
  series: { at: number; value: number | null }[];
  /** Context under the value ("committed $x + usage $y", "window 90d"). */
  facts: { label: string; value: number | null; kind: KpiKind }[];
  note?: string;
  /** How the number is made of its parts, in words ("= 94 active + 109 past due"). */
  equation?: string;
  /** A caveat the operator must see (e.g. NRR's starting MRR misses usage). */
  warning?: string;
}

export interface CockpitModel {
  asOf: number | null;
  comparisonLabel: string;
  currency: string | null;
  kpis: Kpi[];
  health: { slice: string; count: number }[];
  /** Live subscriptions of customers with an open signal (an overlay on the slices). */
  atRiskSubscriptions: number | null;
  atRiskCustomers: number | null;
}

const HEALTH_ORDER = ["active", "past_due", "trialing", "suspended", "canceled"];

const rank = (slice: string) => {
  const i = HEALTH_ORDER.indexOf(slice);
  return i < 0 ? HEALTH_ORDER.length : i;
};

function series(raw: KpiBody["series"]): { at: number; value: number | null }[] {
  if (!Array.isArray(raw)) return [];
  return raw
    .map((p) => ({ at: instant(p?.at) ?? Number.NaN, value: num(p?.value) }))
    .filter((p) => Number.isFinite(p.at));
}

function delta(raw: KpiBody["delta"], fallbackLabel: string): Kpi["delta"] {
  if (!raw || typeof raw !== "object") return null;
  return {
    change: num(raw.change),
    ratio: num(raw.change_ratio),
    previous: num(raw.previous),
    label: typeof raw.label === "string" ? raw.label : fallbackLabel,
  };
}

type KpiKey =
  | "mrr"
  | "arr"
  | "arpu"
  | "nrr"
  | "customer_churn"
  | "trial_conversion"
  | "active_subscriptions"
  | "outstanding_invoices";

export function cockpitModel(raw: Partly<Cockpit> | null | undefined): CockpitModel {
  const r = raw ?? {};
  const cmpLabel: string =
    typeof r.comparison?.label === "string" ? r.comparison.label : "vs 30 days earlier";
  const kpi = (
    key: KpiKey,
    label: string,
    kind: KpiKind,
    upIsGood: boolean,
    facts: Kpi["facts"] = [],
    note?: string,
    extra: Pick<Kpi, "equation" | "warning"> = {},
  ): Kpi => {
    const k: KpiBody = r[key] ?? {};
    const value = num(k.value ?? (key === "outstanding_invoices" ? k.total : undefined));
    return {
      key,
      label,
      kind,
      value,
      upIsGood,
      delta: delta(k.delta, cmpLabel),
      series: series(k.series),
      facts,
      ...(note ? { note } : {}),
      ...(extra.equation ? { equation: extra.equation } : {}),
      ...(extra.warning ? { warning: extra.warning } : {}),
    };
  };
  const count = (v: unknown) => {
    const n = num(v);
    return n === null ? "?" : n.toLocaleString("en-US");
  };
  const m = r.mrr ?? {};
  const nrr = r.nrr ?? {};
  const churn = r.customer_churn ?? {};
  const trials = r.trial_conversion ?? {};
  const active = r.active_subscriptions ?? {};
  const inv = r.outstanding_invoices ?? {};
  const buckets = inv.buckets ?? {};
  const bucket = (b: AgingBucket) => num(buckets[b]?.total);
  const kpis: Kpi[] = [
    kpi(
      "mrr",
      "MRR",
      "money",
      true,
      [
        { label: "Committed", value: num(m.committed), kind: "money" },
        { label: "Usage (trailing 30 d)", value: num(m.usage), kind: "money" },
      ],
      undefined,
      { equation: "= committed + usage" },
    ),
    kpi("arr", "ARR", "money", true, [], "12 × MRR", { equation: "= 12 × MRR" }),
    kpi(
      "arpu",
      "ARPU",
      "money",
      true,
      [{ label: "Paying customers", value: num(r.arpu?.paying_customers), kind: "count" }],
      undefined,
      { equation: `= MRR ÷ ${count(r.arpu?.paying_customers)} paying customers` },
    ),
    kpi(
      "nrr",
      "Net revenue retention",
      "ratio",
      true,
      [
        { label: "Cohort customers", value: num(nrr.cohort_customers), kind: "count" },
        { label: "Cohort MRR at start", value: num(nrr.starting_mrr), kind: "money" },
        { label: "Cohort MRR now", value: num(nrr.current_mrr), kind: "money" },
      ],
      nrr.window ? `${nrr.window} window` : undefined,
      {
        equation: "= cohort MRR now ÷ cohort MRR at start",
        ...(nrr.usage_covered === false
          ? {
              warning:
                "Less usage history than the window needs: the cohort's starting MRR misses usage, so this overstates retention.",
            }
          : {}),
      },
    ),
    kpi(
      "customer_churn",
      "Customer churn rate",
      "ratio",
      false,
      [
        { label: "Churned", value: num(churn.churned), kind: "count" },
        { label: "Paying at start", value: num(churn.paying_at_start), kind: "count" },
        { label: "MRR lost", value: num(churn.churned_mrr), kind: "money" },
      ],
      churn.window_days ? `last ${churn.window_days} days` : undefined,
      {
        equation: `= ${count(churn.churned)} churned ÷ ${count(churn.paying_at_start)} paying at start`,
      },
    ),
    kpi(
      "trial_conversion",
      "Trial conversion",
      "ratio",
      true,
      [
        { label: "Converted", value: num(trials.converted), kind: "count" },
        { label: "Lapsed", value: num(trials.lapsed), kind: "count" },
        { label: "Trials ended", value: num(trials.ended), kind: "count" },
      ],
      trials.window_days ? `last ${trials.window_days} days` : undefined,
      { equation: `= ${count(trials.converted)} converted ÷ ${count(trials.ended)} ended` },
    ),
    kpi(
      "active_subscriptions",
      "Active subscriptions",
      "count",
      true,
      [
        { label: "Trialing (not counted)", value: num(active.trialing), kind: "count" },
        { label: "Suspended (not counted)", value: num(active.suspended), kind: "count" },
      ],
      undefined,
      {
        equation: `= ${count(active.active)} active + ${count(active.past_due)} past due`,
      },
    ),
    kpi(
      "outstanding_invoices",
      "Outstanding invoices",
      "money",
      false,
      [
        { label: "Invoices", value: num(inv.count), kind: "count" },
        { label: "Current", value: bucket("current"), kind: "money" },
        { label: "1–30 days", value: bucket("days_1_30"), kind: "money" },
        { label: "31–60 days", value: bucket("days_31_60"), kind: "money" },
        { label: "61–90 days", value: bucket("days_61_90"), kind: "money" },
        { label: "90+ days", value: bucket("days_over_90"), kind: "money" },
      ],
      undefined,
      { equation: `= ${count(inv.count)} unpaid invoices` },
    ),
  ];
  const slices = r.health?.slices ?? {};
  const health = Object.entries(slices)
    .filter(([, n]) => typeof num(n) === "number")
    .sort(([a], [b]) => rank(a) - rank(b))
    .map(([slice, n]) => ({ slice, count: num(n) ?? 0 }));
  return {
    asOf: instant(r.as_of),
    comparisonLabel: cmpLabel,
    currency: typeof r.currency === "string" ? r.currency : null,
    kpis,
    health,
    atRiskSubscriptions: num(r.health?.at_risk?.total),
    atRiskCustomers: num(r.health?.at_risk_customers),
  };
}

export const MOVEMENTS = [
  "new",
  "expansion",
  "reactivation",
  "contraction",
  "churn",
] as const satisfies readonly MovementType[];
export type Movement = (typeof MOVEMENTS)[number];

export interface MrrMonth {
  label: string;
  mrr: number | null;
  movements: Record<Movement, number>;
  net: number;
}

/** The months of GET /api/metrics/mrr; contraction and churn are negative. */
export function mrrMonths(raw: Partly<MrrMovements> | null | undefined): MrrMonth[] {
  const list = raw?.periods ?? [];
  if (!Array.isArray(list)) return [];
  const months = list.map((p) => {
    const t = p?.totals ?? {};
    const movements = Object.fromEntries(
      MOVEMENTS.map((m) => {
        const v = Math.abs(num(t[m]) ?? 0);
        // Contraction and churn lower MRR: drawn below zero (and never as "-0").
        return [m, v === 0 ? 0 : m === "contraction" || m === "churn" ? -v : v];
      }),
    ) as Record<Movement, number>;
    const label = String(p?.label ?? p?.end ?? p?.start ?? "");
    return {
      label,
      mrr: num(p?.end_mrr),
      movements,
      net: num(t.net) ?? MOVEMENTS.reduce((s, m) => s + movements[m], 0),
    };
  });
  // Months before the first revenue say nothing: start at the first month with MRR or movement.
  const first = months.findIndex(
    (m) => (m.mrr ?? 0) !== 0 || MOVEMENTS.some((k) => m.movements[k] !== 0),
  );
  return first < 0 ? months : months.slice(first);
}

/** as_of for a date in the URL: the end of that UTC day, or now if that is still ahead. */
export function asOfInstant(date: string | null, now = Date.now()): number {
  if (!date) return now;
  const end = Date.parse(`${date}T23:59:59.999Z`);
  return Math.min(end, now);
}

/** First day of the month `months` months before `t` (UTC), for the movements chart. */
export function monthsBefore(t: number, months: number): number {
  const d = new Date(t);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - months, 1);
}
