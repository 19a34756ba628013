// The report builder (issue 15 item 7): pick a dataset, its measures and dimensions, filters, a
// time range, granularity and zone, order and limit, and how to draw it. Every change goes
// into the URL (lib/reports.ts) and the query reruns 300 ms after the last one, cancelling the
// request still in flight; the API's field errors appear beside the control they name. Save
// (POST, or PATCH for a saved report) and Delete need reports:share.

import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import type {
  ReportCatalog,
  ReportDataset,
  ReportDimensionFamily,
  ReportFilter,
  ReportQuery,
  ReportResult,
  SavedReport,
} from "../../../contracts/reports";
import { type CellFormat, Heatmap, ResultChart, ResultTable } from "../components/report-result";
import { Badge, ConfirmDialog, ErrorState, Loading, Refused } from "../components/ui";
import { type ApiClient, ApiError, type FieldError, isAbort, useApi } from "../lib/api";
import { useCatalog } from "../lib/catalog";
import { counted, dateTime } from "../lib/format";
import { usePermit } from "../lib/me";
import {
  type BuilderState,
  builderSearch,
  COMPARES,
  type Control,
  createReport,
  DEFAULT_STATE,
  deleteReport,
  dimensionsOf,
  downloadPath,
  encodeQuery,
  errorsByControl,
  FILTER_OPS,
  familyOf,
  fetchCatalog,
  GRANULARITIES,
  hasBuilderState,
  knownZone,
  OP_LABELS,
  parseBuilder,
  RANGE_LABELS,
  RANGES,
  REPORTS_PERMISSION,
  rangeDays,
  runReport,
  stateOf,
  toQuery,
  updateReport,
  VIEW_LABELS,
  VIEWS,
  withDataset,
} from "../lib/reports";
import { timeZones } from "../lib/retry-policy";
import { navigate } from "../lib/router";
import { useQuery } from "../lib/use-query";
import { ScheduleButton } from "./report-schedule";
import { ShareButton } from "./report-share";

// The tenant's zone is learned from the first answer (the run echoes the zone it used); until
// then ranges are resolved in UTC. Kept for the session so later reports start right.
let tenantZone = "UTC";

const DEBOUNCE_MS = 300;

interface Run {
  key: string | null;
  result?: ReportResult;
  error?: Error;
  loading: boolean;
}

/** Runs the query 300 ms after it last changed; a newer query aborts the older request. */
function useReportRun(api: ApiClient, query: ReportQuery | null): Run {
  const key = query ? JSON.stringify(query) : null;
  const [run, setRun] = useState<Run>({ key: null, loading: false });
  const queryRef = useRef(query);
  queryRef.current = query;
  useEffect(() => {
    const q = queryRef.current;
    if (!key || !q) return;
    const controller = new AbortController();
    setRun((r) => ({ ...r, loading: true }));
    const timer = setTimeout(() => {
      runReport(api, q, controller.signal).then(
        (result) => {
          if (!controller.signal.aborted) setRun({ key, result, loading: false });
        },
        (error: unknown) => {
          if (controller.signal.aborted || isAbort(error)) return;
          setRun({
            key,
            error: error instanceof Error ? error : new Error(String(error)),
            loading: false,
          });
        },
      );
    }, DEBOUNCE_MS);
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [api, key]);
  return run;
}

export function ReportBuilder(props: { saved: SavedReport | null; search: URLSearchParams }) {
  const api = useApi();
  const currency = useCatalog().currency;
  const catalog = useQuery<ReportCatalog>("/api/reports/datasets", (a, s) => fetchCatalog(a, s));
  const [zone, setZone] = useState(tenantZone);
  const basePath = props.saved ? `/reports/${props.saved.id}` : "/reports/new";

  const fromUrl = hasBuilderState(props.search);
  const state: BuilderState = fromUrl
    ? parseBuilder(props.search)
    : props.saved
      ? stateOf(props.saved.query, props.saved.view, zone)
      : DEFAULT_STATE;
  const datasets = catalog.data?.data ?? [];
  const ds = datasets.find((d) => d.name === state.dataset) ?? null;

  // A new report starts with the dataset's first measure by time; its URL then says so.
  const effective: BuilderState =
    ds && state.measures.length === 0
      ? {
          ...state,
          measures: ds.measures.slice(0, 1).map((m) => m.name),
          dimensions:
            !fromUrl && ds.granularities.length > 0 && state.dimensions.length === 0
              ? ["time"]
              : state.dimensions,
        }
      : state;
  const search = builderSearch(effective);
  useEffect(() => {
    if (ds && !props.saved && search !== location.search) {
      navigate(basePath + search, { replace: true });
    }
  }, [ds, search, props.saved, basePath]);

  const update = (next: BuilderState) =>
    navigate(basePath + builderSearch(next), { replace: true });
  const set = (changes: Partial<BuilderState>) => update({ ...effective, ...changes });

  // The day changes the key only at midnight, so the query is stable while on screen.
  const today = new Date().toISOString().slice(0, 10);
  const query = useMemo(
    () => (ds ? toQuery(effective, zone, Date.now()) : null),
    [ds, search, zone, today],
  );
  const run = useReportRun(api, query);
  const current = run.key === (query ? JSON.stringify(query) : null);
  const result = current ? run.result : undefined;
  const echoedZone = run.result?.query.time.time_zone;
  useEffect(() => {
    if (echoedZone && !effective.tz && echoedZone !== zone && knownZone(echoedZone)) {
      tenantZone = echoedZone;
      setZone(echoedZone);
    }
  }, [echoedZone, effective.tz, zone]);

  const fieldErrors: FieldError[] =
    current && run.error instanceof ApiError
      ? run.error.errors.length > 0
        ? run.error.errors
        : [{ path: "", message: run.error.message }]
      : current && run.error
        ? [{ path: "", message: run.error.message }]
        : [];
  const { at, rest } = errorsByControl(fieldErrors);

  if (catalog.error) {
    return <ErrorState error={catalog.error} onRetry={catalog.reload} what="the report datasets" />;
  }
  if (!catalog.data) return <Loading label="Loading the report datasets…" />;

  const format: CellFormat = {
    currency,
    zone: result?.query.time.time_zone ?? effective.tz ?? zone,
    granularity: result?.query.time.granularity ?? effective.granularity ?? undefined,
  };
  const status = !current || run.loading ? "loading" : run.error ? "error" : "ready";

  return (
    <div class="report-builder">
      <form
        class="panel report-controls"
        aria-label="Report query"
        onSubmit={(e) => e.preventDefault()}
      >
        <Controls
          state={effective}
          datasets={datasets}
          ds={ds}
          errors={at}
          zone={zone}
          echoed={result?.query}
          onChange={set}
          onDataset={(d) => update(withDataset(effective, d))}
        />
      </form>
      <section class="report-main" aria-label="Report result">
        <ReportActions
          saved={props.saved}
          state={effective}
          query={query}
          api={api}
          basePath={basePath}
        />
        <div
          class="panel report-result"
          data-testid="report-result"
          data-state={status}
          data-query={query ? encodeQuery(query) : undefined}
        >
          {rest.length > 0 ? (
            <div class="state state-error" role="alert" data-testid="report-error">
              <strong>The API refused this query</strong>
              <ul>
                {rest.map((e) => (
                  <li key={`${e.path}:${e.message}`}>
                    {e.path ? <code>{e.path}</code> : null}
                    {e.path ? ": " : ""}
                    {e.message}
                  </li>
                ))}
              </ul>
            </div>
          ) : run.error && current ? (
            <p class="notice" role="status">
              Fix the fields marked beside the query to see the report.
            </p>
          ) : null}
          {result ? (
            <ResultBody result={result} view={effective.view} format={format} />
          ) : !run.error || !current ? (
            <Loading label="Running the report…" />
          ) : null}
        </div>
      </section>
    </div>
  );
}

function ResultBody(props: {
  result: ReportResult;
  view: BuilderState["view"];
  format: CellFormat;
}) {
  const { result, view, format } = props;
  return (
    <>
      <div class="report-meta">
        <span data-testid="data-as-of" title={result.data_as_of}>
          Data as of {dateTime(result.data_as_of)}
        </span>
        <span data-testid="row-count">{counted(result.rows.length, "row")}</span>
        {result.truncated ? (
          <span data-testid="report-truncated">
            <Badge tone="warn" title="Raise the row limit or add filters to see the rest">
              Truncated at {result.query.limit ?? result.rows.length} rows
            </Badge>
          </span>
        ) : null}
        <span class="muted small">
          {result.query.time.time_zone ?? ""}
          {result.query.time.granularity ? ` · by ${result.query.time.granularity}` : ""}
        </span>
      </div>
      {view === "heatmap" ? (
        <Heatmap result={result} format={format} />
      ) : view !== "table" ? (
        <ResultChart result={result} view={view} format={format} />
      ) : null}
      {result.rows.length === 0 ? (
        <p class="notice" data-testid="report-empty">
          No rows match this query.
        </p>
      ) : null}
      <ResultTable result={result} format={format} />
      {result.comparison ? (
        <p class="muted small" data-testid="report-comparison">
          Compared with {dateTime(result.comparison.from)} – {dateTime(result.comparison.to)}:{" "}
          {result.columns
            .filter((c) => c.kind === "measure")
            .map(
              (c) =>
                `${c.label} ${String(result.comparison?.totals[c.name] ?? "—")} → ${String(result.totals[c.name] ?? "—")}`,
            )
            .join("; ")}
        </p>
      ) : null}
    </>
  );
}

function FieldErrorText(props: { id: string; messages: string[] | undefined }) {
  if (!props.messages?.length) return null;
  return (
    <span class="field-error" id={`err-${props.id}`} data-testid={`err-${props.id}`}>
      {props.messages.join("; ")}
    </span>
  );
}

const invalid = (errors: Partial<Record<Control, string[]>>, c: Control) =>
  errors[c]?.length ? { "aria-invalid": true as const, "aria-describedby": `err-${c}` } : {};

function Controls(props: {
  state: BuilderState;
  datasets: ReportDataset[];
  ds: ReportDataset | null;
  errors: Partial<Record<Control, string[]>>;
  zone: string;
  echoed: ReportQuery | undefined;
  onChange: (c: Partial<BuilderState>) => void;
  onDataset: (d: ReportDataset) => void;
}) {
  const { state: s, ds, errors, onChange } = props;
  const zones = useMemo(timeZones, []);
  // The dataset's own dimensions, then the keyed ones in the query (`properties.session_id`).
  const dims = ds
    ? [
        ...dimensionsOf(ds),
        ...s.dimensions
          .filter((d) => !dimensionsOf(ds).some((f) => f.name === d))
          .flatMap((d) => {
            const family = familyOf(ds, d);
            return family
              ? [
                  {
                    name: d,
                    label: `${family.label}: ${d.slice(family.prefix.length)}`,
                    type: family.type,
                    description: family.description,
                  },
                ]
              : [];
          }),
      ]
    : [];
  const toggle = (list: string[], name: string) =>
    list.includes(name) ? list.filter((x) => x !== name) : [...list, name];
  const days = rangeDays(s, s.tz ?? props.zone, Date.now());
  const orderFields = [
    ...s.measures.map((m) => ({ name: m, label: ds?.measures.find((f) => f.name === m)?.label })),
    ...s.dimensions.map((d) => ({ name: d, label: dims.find((f) => f.name === d)?.label })),
  ];
  const order = s.order[0] ?? null;

  return (
    <>
      <label class="field">
        <span>Dataset</span>
        <select
          name="dataset"
          value={s.dataset}
          {...invalid(errors, "dataset")}
          onChange={(e) => {
            const d = props.datasets.find(
              (x) => x.name === (e.currentTarget as HTMLSelectElement).value,
            );
            if (d) props.onDataset(d);
          }}
        >
          {props.datasets.map((d) => (
            <option key={d.name} value={d.name}>
              {d.label}
            </option>
          ))}
        </select>
        {ds ? (
          <span class="help">
            {ds.description}
            {ds.retention_days !== null ? ` (kept ${ds.retention_days} days)` : ""}
          </span>
        ) : null}
        <FieldErrorText id="dataset" messages={errors.dataset} />
      </label>

      <fieldset class="chips" data-testid="measures" {...invalid(errors, "measures")}>
        <legend>Measures</legend>
        {ds?.measures.map((m) => (
          <label key={m.name} class="chip" title={m.description}>
            <input
              type="checkbox"
              name="measure"
              value={m.name}
              checked={s.measures.includes(m.name)}
              onChange={() => onChange({ measures: toggle(s.measures, m.name) })}
            />
            {m.label}
          </label>
        ))}
        <FieldErrorText id="measures" messages={errors.measures} />
      </fieldset>

      <fieldset class="chips" data-testid="dimensions" {...invalid(errors, "dimensions")}>
        <legend>Dimensions</legend>
        {dims.map((d) => (
          <label key={d.name} class="chip" title={d.description}>
            <input
              type="checkbox"
              name="dimension"
              value={d.name}
              checked={s.dimensions.includes(d.name)}
              onChange={() => onChange({ dimensions: toggle(s.dimensions, d.name) })}
            />
            {d.label}
          </label>
        ))}
        {(ds?.dimension_families ?? []).map((family) => (
          <KeyedDimension
            key={family.prefix}
            family={family}
            onAdd={(name) =>
              s.dimensions.includes(name) ? null : onChange({ dimensions: [...s.dimensions, name] })
            }
          />
        ))}
        <FieldErrorText id="dimensions" messages={errors.dimensions} />
      </fieldset>

      <fieldset class="report-filters" data-testid="filters" {...invalid(errors, "filters")}>
        <legend>Filters</legend>
        {s.filters.map((f, i) => (
          <FilterRow
            key={i}
            index={i}
            filter={f}
            dims={dims}
            onChange={(next) =>
              onChange({
                filters: next
                  ? s.filters.map((x, j) => (j === i ? next : x))
                  : s.filters.filter((_, j) => j !== i),
              })
            }
          />
        ))}
        <button
          type="button"
          class="btn btn-small"
          disabled={dims.length === 0}
          onClick={() =>
            onChange({
              filters: [...s.filters, { dimension: dims[0]?.name ?? "", op: "is", values: [] }],
            })
          }
        >
          Add filter
        </button>
        <FieldErrorText id="filters" messages={errors.filters} />
      </fieldset>

      <fieldset class="bare report-time" data-testid="time-range">
        <legend>Time</legend>
        <label class="field">
          <span>Time range</span>
          <select
            name="range"
            value={s.range}
            {...invalid(errors, "range")}
            onChange={(e) => {
              const range = (e.currentTarget as HTMLSelectElement).value as BuilderState["range"];
              // Custom starts from the range on screen, so switching keeps the same days.
              onChange(range === "custom" ? { range, from: days.from, to: days.to } : { range });
            }}
          >
            {RANGES.map((r) => (
              <option key={r} value={r}>
                {RANGE_LABELS[r]}
              </option>
            ))}
          </select>
        </label>
        {s.range === "custom" ? (
          <div class="form-row">
            <label class="field">
              <span>From</span>
              <input
                type="date"
                name="from"
                value={s.from ?? days.from}
                {...invalid(errors, "range")}
                onChange={(e) =>
                  onChange({ from: (e.currentTarget as HTMLInputElement).value || null })
                }
              />
            </label>
            <label class="field">
              <span>To</span>
              <input
                type="date"
                name="to"
                value={s.to ?? days.to}
                {...invalid(errors, "range")}
                onChange={(e) =>
                  onChange({ to: (e.currentTarget as HTMLInputElement).value || null })
                }
              />
            </label>
          </div>
        ) : (
          <span class="help" data-testid="range-days">
            {days.from} to {days.to}, both included
          </span>
        )}
        <FieldErrorText id="range" messages={errors.range} />
        <div class="form-row">
          <label class="field">
            <span>Granularity</span>
            <select
              name="granularity"
              value={s.granularity ?? ""}
              {...invalid(errors, "granularity")}
              onChange={(e) =>
                onChange({
                  granularity:
                    ((e.currentTarget as HTMLSelectElement).value as BuilderState["granularity"]) ||
                    null,
                })
              }
            >
              <option value="">
                Default{props.echoed?.time.granularity ? ` (${props.echoed.time.granularity})` : ""}
              </option>
              {GRANULARITIES.filter((g) => !ds || ds.granularities.includes(g)).map((g) => (
                <option key={g} value={g}>
                  {g}
                </option>
              ))}
            </select>
            <FieldErrorText id="granularity" messages={errors.granularity} />
          </label>
          <label class="field">
            <span>Time zone</span>
            <input
              name="tz"
              list="report-zones"
              value={s.tz ?? ""}
              placeholder={`Tenant default (${props.zone})`}
              {...invalid(errors, "tz")}
              onChange={(e) =>
                onChange({ tz: (e.currentTarget as HTMLInputElement).value.trim() || null })
              }
            />
            <datalist id="report-zones">
              {zones.map((z) => (
                <option key={z} value={z} />
              ))}
            </datalist>
            <FieldErrorText id="tz" messages={errors.tz} />
          </label>
        </div>
        <label class="field">
          <span>Compare to</span>
          <select
            name="compare"
            value={s.compare ?? ""}
            {...invalid(errors, "compare")}
            onChange={(e) =>
              onChange({
                compare:
                  ((e.currentTarget as HTMLSelectElement).value as BuilderState["compare"]) || null,
              })
            }
          >
            <option value="">Nothing</option>
            {COMPARES.map((c) => (
              <option key={c} value={c}>
                {c === "previous_period" ? "The period before" : "A year before"}
              </option>
            ))}
          </select>
          <FieldErrorText id="compare" messages={errors.compare} />
        </label>
      </fieldset>

      <div class="form-row">
        <label class="field">
          <span>Order by</span>
          <select
            name="order"
            value={order?.field ?? ""}
            {...invalid(errors, "order")}
            onChange={(e) => {
              const field = (e.currentTarget as HTMLSelectElement).value;
              onChange({
                order: field ? [{ field, direction: order?.direction ?? "desc" }] : [],
              });
            }}
          >
            <option value="">Default</option>
            {orderFields.map((f) => (
              <option key={f.name} value={f.name}>
                {f.label ?? f.name}
              </option>
            ))}
          </select>
        </label>
        <label class="field">
          <span>Direction</span>
          <select
            name="direction"
            value={order?.direction ?? "desc"}
            disabled={!order}
            onChange={(e) =>
              order &&
              onChange({
                order: [
                  {
                    field: order.field,
                    direction: (e.currentTarget as HTMLSelectElement).value as "asc" | "desc",
                  },
                ],
              })
            }
          >
            <option value="desc">Highest first</option>
            <option value="asc">Lowest first</option>
          </select>
        </label>
        <label class="field">
          <span>Row limit</span>
          <input
            type="number"
            name="limit"
            min={1}
            max={10000}
            placeholder={String(props.echoed?.limit ?? 1000)}
            value={s.limit ?? ""}
            {...invalid(errors, "limit")}
            onChange={(e) => {
              const v = (e.currentTarget as HTMLInputElement).value;
              onChange({ limit: v ? Math.max(1, Math.floor(Number(v))) : null });
            }}
          />
        </label>
      </div>
      <FieldErrorText id="order" messages={errors.order} />
      <FieldErrorText id="limit" messages={errors.limit} />

      <div class="field">
        <span id="view-label">View</span>
        <fieldset class="segmented" aria-labelledby="view-label">
          {VIEWS.map((v) => (
            <button
              key={v}
              type="button"
              class={s.view === v ? "active" : undefined}
              aria-pressed={s.view === v}
              onClick={() => onChange({ view: v })}
            >
              {VIEW_LABELS[v]}
            </button>
          ))}
        </fieldset>
      </div>
    </>
  );
}

/** A text field for the key of a keyed dimension (an event property), checked against the
 * family's pattern before it is added; the examples are offered as suggestions. */
function KeyedDimension(props: { family: ReportDimensionFamily; onAdd: (name: string) => void }) {
  const { family } = props;
  const [key, setKey] = useState("");
  const trimmed = key.trim();
  const valid = new RegExp(family.key_pattern).test(trimmed);
  const id = `family-${family.prefix.replace(/\W/g, "")}`;
  const add = () => {
    if (!valid) return;
    props.onAdd(family.prefix + trimmed);
    setKey("");
  };
  return (
    <div class="keyed-dimension" data-testid="keyed-dimension">
      <label class="field">
        <span>{family.label}</span>
        <input
          type="text"
          name="dimension-key"
          list={`${id}-examples`}
          placeholder={family.examples[0] ?? "key"}
          value={key}
          aria-invalid={trimmed !== "" && !valid}
          aria-describedby={`${id}-help`}
          onInput={(e) => setKey((e.currentTarget as HTMLInputElement).value)}
          onKeyDown={(e) => {
            if (e.key === "Enter") {
              e.preventDefault();
              add();
            }
          }}
        />
        <datalist id={`${id}-examples`}>
          {family.examples.map((x) => (
            <option key={x} value={x} />
          ))}
        </datalist>
      </label>
      <button type="button" class="btn btn-small" disabled={!valid} onClick={add}>
        Add {family.label.toLowerCase()}
      </button>
      <span class="help" id={`${id}-help`}>
        {trimmed !== "" && !valid
          ? `Letters, digits, _ . - (up to 64): ${family.key_pattern}`
          : family.description}
      </span>
    </div>
  );
}

function FilterRow(props: {
  index: number;
  filter: ReportFilter;
  dims: { name: string; label: string }[];
  onChange: (f: ReportFilter | null) => void;
}) {
  const { filter: f, index } = props;
  // The text is kept as typed ("acme, "); the values are its comma-separated parts.
  const [text, setText] = useState(f.values.join(", "));
  const parse = (t: string) =>
    t
      .split(",")
      .map((v) => v.trim())
      .filter(Boolean);
  useEffect(() => {
    if (parse(text).join("\u0000") !== f.values.join("\u0000")) setText(f.values.join(", "));
  }, [f.values.join("\u0000")]);
  const n = index + 1;
  return (
    <div class="filter-row" data-testid={`filter-${index}`}>
      <select
        aria-label={`Filter ${n} dimension`}
        value={f.dimension}
        onChange={(e) =>
          props.onChange({ ...f, dimension: (e.currentTarget as HTMLSelectElement).value })
        }
      >
        {props.dims.some((d) => d.name === f.dimension) ? null : (
          <option value={f.dimension}>{f.dimension}</option>
        )}
        {props.dims.map((d) => (
          <option key={d.name} value={d.name}>
            {d.label}
          </option>
        ))}
      </select>
      <select
        aria-label={`Filter ${n} operator`}
        value={f.op}
        onChange={(e) =>
          props.onChange({
            ...f,
            op: (e.currentTarget as HTMLSelectElement).value as ReportFilter["op"],
          })
        }
      >
        {FILTER_OPS.map((op) => (
          <option key={op} value={op}>
            {OP_LABELS[op]}
          </option>
        ))}
      </select>
      <input
        aria-label={`Filter ${n} values`}
        placeholder="value, value"
        value={text}
        onInput={(e) => {
          const t = (e.currentTarget as HTMLInputElement).value;
          setText(t);
          props.onChange({ ...f, values: parse(t) });
        }}
      />
      <button
        type="button"
        class="btn btn-small"
        aria-label={`Remove filter ${n}`}
        onClick={() => props.onChange(null)}
      >
        ×
      </button>
    </div>
  );
}

// ---------------------------------------------------------------------------------------------
// Save, delete, download

function ReportActions(props: {
  saved: SavedReport | null;
  state: BuilderState;
  query: ReportQuery | null;
  api: ApiClient;
  basePath: string;
}) {
  const { query, api } = props;
  // A template is every tenant's and read-only: saving one saves the tenant's own copy.
  const saved = props.saved?.template ? null : props.saved;
  const permit = usePermit(REPORTS_PERMISSION);
  const [dialog, setDialog] = useState<"save" | "delete" | null>(null);
  const [name, setName] = useState(props.saved?.name ?? "");
  const [description, setDescription] = useState(props.saved?.description ?? "");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const save = async () => {
    if (!query) return;
    setBusy(true);
    setError(null);
    try {
      const draft = {
        name: name.trim(),
        description: description.trim(),
        query,
        view: props.state.view,
      };
      const r = saved ? await updateReport(api, saved.id, draft) : await createReport(api, draft);
      setDialog(null);
      setNotice(saved ? "Report saved." : `Saved as “${r.name}”.`);
      navigate(`/reports/${encodeURIComponent(r.id)}${builderSearch(props.state)}`, {
        replace: true,
      });
    } catch (err) {
      setError(
        err instanceof ApiError && err.errors.length
          ? err.errors.map((e) => `${e.path}: ${e.message}`).join("; ")
          : (err as Error).message,
      );
    } finally {
      setBusy(false);
    }
  };
  const remove = async () => {
    if (!saved) return;
    setBusy(true);
    setError(null);
    try {
      await deleteReport(api, saved.id);
      setDialog(null);
      navigate("/reports");
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const reason = permit.allowed ? undefined : (permit.reason ?? undefined);

  return (
    <div class="report-actions">
      <div class="report-actions-row">
        <button
          type="button"
          class="btn btn-primary"
          disabled={!permit.allowed || !query}
          title={reason}
          onClick={() => {
            setError(null);
            setDialog("save");
          }}
        >
          {saved ? "Save changes" : "Save report"}
        </button>
        {saved ? (
          <button
            type="button"
            class="btn btn-danger"
            disabled={!permit.allowed}
            title={reason}
            onClick={() => {
              setError(null);
              setDialog("delete");
            }}
          >
            Delete
          </button>
        ) : null}
        {saved ? <ScheduleButton api={api} report={saved} /> : null}
        {saved ? <ShareButton api={api} report={saved} /> : null}
        <span class="report-downloads">
          <DownloadButton api={api} query={query} format="csv" />
          <DownloadButton api={api} query={query} format="parquet" />
        </span>
      </div>
      <Refused reason={permit.reason} what="Saving reports" />
      {notice ? (
        <p class="notice" role="status" data-testid="report-notice">
          {notice}
        </p>
      ) : null}
      <ConfirmDialog
        open={dialog === "save"}
        title={saved ? `Save “${saved.name}”` : "Save report"}
        confirmLabel={saved ? "Save changes" : "Save"}
        busy={busy}
        error={dialog === "save" ? error : null}
        onConfirm={save}
        onCancel={() => setDialog(null)}
      >
        <label class="field field-block">
          <span>Name</span>
          <input
            name="report-name"
            required
            maxLength={120}
            value={name}
            onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)}
          />
        </label>
        <label class="field field-block">
          <span>Description</span>
          <textarea
            name="report-description"
            rows={3}
            maxLength={1000}
            value={description}
            onInput={(e) => setDescription((e.currentTarget as HTMLTextAreaElement).value)}
          />
        </label>
      </ConfirmDialog>
      <ConfirmDialog
        open={dialog === "delete"}
        title="Delete this report?"
        confirmLabel="Delete report"
        danger
        busy={busy}
        error={dialog === "delete" ? error : null}
        onConfirm={remove}
        onCancel={() => setDialog(null)}
      >
        <p>
          “{saved?.name}” is deleted for everyone in the workspace. Its query stays in this page's
          address until you leave it.
        </p>
      </ConfirmDialog>
    </div>
  );
}

/** A download of the query's rows. A session's cookie goes with a plain link; an API token
 * has to be sent as a header, so the file is fetched and handed over as a Blob. */
function DownloadButton(props: {
  api: ApiClient;
  query: ReportQuery | null;
  format: "csv" | "parquet";
}) {
  const { api, query, format } = props;
  const [error, setError] = useState<string | null>(null);
  const label = format === "csv" ? "Download CSV" : "Download Parquet";
  const file = `report-${query?.dataset ?? "report"}-${new Date().toISOString().slice(0, 10)}.${format}`;
  if (!query) return null;
  const href = downloadPath(query, format);
  const cred = api.credential;
  if (cred.kind !== "token") {
    return (
      <a class="btn btn-small" href={href} download={file}>
        {label}
      </a>
    );
  }
  const fetchIt = async () => {
    setError(null);
    try {
      const res = await fetch(href, { headers: { authorization: `Bearer ${cred.token}` } });
      if (!res.ok) {
        let detail = `${res.status}`;
        try {
          detail = ((await res.json()) as { detail?: string }).detail ?? detail;
        } catch {}
        throw new Error(`The download failed: ${detail}`);
      }
      const url = URL.createObjectURL(await res.blob());
      const a = document.createElement("a");
      a.href = url;
      a.download = file;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <>
      <button type="button" class="btn btn-small" onClick={fetchIt}>
        {label}
      </button>
      {error ? (
        <span class="field-error" role="alert">
          {error}
        </span>
      ) : null}
    </>
  );
}
