// Dashboard state lives in the URL (STYLE.md): each view declares its query parameters once,
// and two pure functions turn a query string into the view's state and back. Unknown or
// malformed values fall back to the default, defaults are left out of the URL, and parameters
// are written in a fixed order, so equal states give equal (shareable) URLs.

export interface Param<V> {
  parse: (raw: string | null) => V;
  /** null: leave the parameter out. */
  format: (value: V) => string | null;
}

export type Spec<S> = { [K in keyof S]: Param<S[K]> };

export function oneOf<const T extends string>(values: readonly T[], fallback: T): Param<T> {
  return {
    parse: (raw) =>
      raw !== null && (values as readonly string[]).includes(raw) ? (raw as T) : fallback,
    format: (v) => (v === fallback ? null : v),
  };
}

/** An optional choice among `values` ("" = none). */
export function optionalOf<const T extends string>(values: readonly T[]): Param<T | null> {
  return {
    parse: (raw) =>
      raw !== null && (values as readonly string[]).includes(raw) ? (raw as T) : null,
    format: (v) => v,
  };
}

const ID = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;

/** An id (customer, product, signal…): the API's id alphabet, at most 128 characters. */
export const id: Param<string | null> = {
  parse: (raw) => (raw !== null && ID.test(raw) ? raw : null),
  format: (v) => v,
};

/** Free text (a search box), trimmed, at most 200 characters. */
export const text: Param<string> = {
  parse: (raw) => (raw ?? "").trim().slice(0, 200),
  format: (v) => (v.trim() ? v.trim() : null),
};

/** An opaque pagination cursor. */
export const cursor: Param<string | null> = {
  parse: (raw) => (raw && raw.length <= 512 && /^[A-Za-z0-9_=-]+$/.test(raw) ? raw : null),
  format: (v) => v,
};

/** A calendar date YYYY-MM-DD that exists. */
export const date: Param<string | null> = {
  parse: (raw) => {
    if (!raw || !/^\d{4}-\d{2}-\d{2}$/.test(raw)) return null;
    const t = Date.parse(`${raw}T00:00:00Z`);
    return Number.isNaN(t) || new Date(t).toISOString().slice(0, 10) !== raw ? null : raw;
  },
  format: (v) => v,
};

export function parseState<S>(spec: Spec<S>, search: URLSearchParams | string): S {
  const params = typeof search === "string" ? new URLSearchParams(search) : search;
  const out = {} as S;
  for (const key of Object.keys(spec) as (keyof S)[]) {
    out[key] = spec[key].parse(params.get(key as string));
  }
  return out;
}

export function toSearch<S>(spec: Spec<S>, state: NoInfer<S>): string {
  const params = new URLSearchParams();
  for (const key of Object.keys(spec) as (keyof S)[]) {
    const v = spec[key].format(state[key]);
    if (v !== null && v !== "") params.set(key as string, v);
  }
  const qs = params.toString();
  return qs ? `?${qs}` : "";
}

export function hrefFor<S>(path: string, spec: Spec<S>, state: NoInfer<S>): string {
  return path + toSearch(spec, state);
}

// ---------------------------------------------------------------------------------------------
// The views' parameters

/** A detector's name (the registry's, GET /api/detectors): an identifier, at most 64 characters.
 * The view checks it against the registry; the URL only keeps it well formed. */
export const detectorName: Param<string | null> = {
  parse: (raw) => (raw !== null && /^[A-Za-z][A-Za-z0-9]{0,63}$/.test(raw) ? raw : null),
  format: (v) => v,
};

export const COCKPIT_KPIS = [
  "mrr",
  "arr",
  "arpu",
  "nrr",
  "customer_churn",
  "trial_conversion",
  "active_subscriptions",
  "outstanding_invoices",
] as const;
export const cockpitSpec = {
  as_of: date,
  months: oneOf(["6", "12", "24"], "12"),
  kpi: optionalOf(COCKPIT_KPIS),
  cursor,
};
export type CockpitState = {
  as_of: string | null;
  months: "6" | "12" | "24";
  /** The tile whose list is open. */
  kpi: (typeof COCKPIT_KPIS)[number] | null;
  cursor: string | null;
};

export const marginSpec = {
  days: oneOf(["30", "60", "90"], "30"),
  product: id,
  rank: oneOf(["worst", "best"], "worst"),
  only: oneOf(["all", "losing"], "all"),
  customer: id,
  cursor,
};
export type MarginState = {
  days: "30" | "60" | "90";
  product: string | null;
  rank: "worst" | "best";
  only: "all" | "losing";
  customer: string | null;
  cursor: string | null;
};

export const signalsSpec = {
  detector: detectorName,
  status: oneOf(["open", "resolved", "all"], "open"),
  direction: optionalOf(["spike", "drop"]),
  customer: id,
  sort: oneOf(["magnitude", "time"], "magnitude"),
  signal: id,
};
export type SignalsState = {
  detector: string | null;
  status: "open" | "resolved" | "all";
  direction: "spike" | "drop" | null;
  customer: string | null;
  sort: "magnitude" | "time";
  signal: string | null;
};

export const liveSpec = {
  product: id,
  customer: id,
  metric: id,
  status: optionalOf(["accepted", "rejected"]),
};
export type LiveState = {
  product: string | null;
  customer: string | null;
  metric: string | null;
  status: "accepted" | "rejected" | null;
};

export const CATALOG_TABS = ["products", "plans", "customers", "subscriptions", "costs"] as const;
export const catalogSpec = {
  tab: oneOf(CATALOG_TABS, "products"),
  q: text,
  product: id,
  customer: id,
  cursor,
};
export type CatalogState = {
  tab: (typeof CATALOG_TABS)[number];
  q: string;
  product: string | null;
  customer: string | null;
  cursor: string | null;
};

export const policiesSpec = {
  scope: oneOf(["tenant", "product", "customer", "segment"], "tenant"),
  id,
};
export type PoliciesState = {
  scope: "tenant" | "product" | "customer" | "segment";
  id: string | null;
};

// Typed so that a spec and its state type cannot drift apart.
const _checks: [
  Spec<CockpitState>,
  Spec<MarginState>,
  Spec<SignalsState>,
  Spec<LiveState>,
  Spec<CatalogState>,
  Spec<PoliciesState>,
] = [cockpitSpec, marginSpec, signalsSpec, liveSpec, catalogSpec, policiesSpec];
void _checks;
