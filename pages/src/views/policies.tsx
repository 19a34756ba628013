// Policies (SPEC §5–§6): detector thresholds, margin levels, the ladder mapping, gate rates and
// the auto-action switches, per scope (tenant, a product, a customer). A customer segment's scope
// holds only the budget alerts' thresholds (the server refuses anything else there). Auto-actions
// that touch customers are off by default; switching one on asks first. Errors from the API show
// by field.

import type { ComponentChildren } from "preact";
import { useEffect, useMemo, useState } from "preact/hooks";
import type { DetectorsResponse } from "../../../contracts/detectors";
import {
  ConfirmDialog,
  Empty,
  FilterSelect,
  Loading,
  PageHeader,
  QueryView,
  Refused,
} from "../components/ui";
import { ApiError, type FieldError, useApi, withQuery } from "../lib/api";
import { useCatalog } from "../lib/catalog";
import { percent, words } from "../lib/format";
import { usePermit } from "../lib/me";
import {
  type Doc,
  diff,
  errorBelongsTo,
  fieldPath,
  getIn,
  leafCount,
  leafPaths,
  merge,
  parseNumber,
  parseNumberList,
  setIn,
} from "../lib/policy";
import { navigate } from "../lib/router";
import { hrefFor, type PoliciesState, parseState, policiesSpec } from "../lib/url-state";
import { useQuery } from "../lib/use-query";
import type { ViewProps } from "./cockpit";
import { effectOf, RUNG_LABELS, useDetectors } from "./signals";

interface PolicyView {
  defaults: Doc;
  tenant: Doc | null;
  products: Record<string, Doc>;
  customers: Record<string, Doc>;
  segments: Record<string, Doc>;
  /** How the tenant segments customers ("plan" or "metadata.<key>") and the values known. */
  segment_by: string;
  segment_values: string[];
  effective: Doc;
}

/** The detector sections a segment's policy may hold (budget alerts). */
const SEGMENT_SECTIONS = new Set(["budget_margin", "budget_cost_spike"]);

/** Help for the settings that are not a detector's (those come with the registry). */
const HELP: Record<string, string> = {
  "gate.rate_per_second": "sustained calls (or units) per second per customer",
  "gate.burst": "token bucket size",
  "gate.throttled_rate_per_second": "the rate while THROTTLE is in force",
  "actions.extend_trial_days": "days added by extend_trial",
  "actions.coupon_percent": "percent off by apply_coupon",
  "actions.coupon_days": "how long the coupon lasts",
  "actions.escalate_to":
    "who escalate e-mails when the customer has no metadata.account_owner; empty: nobody",
};

export function PoliciesView(props: ViewProps) {
  const state = parseState(policiesSpec, props.search);
  const go = (changes: Partial<PoliciesState>) =>
    navigate(hrefFor(props.path, policiesSpec, { ...state, ...changes }));
  const catalog = useCatalog();
  const registry = useDetectors();
  const needsId = state.scope !== "tenant";
  // A segment's picker lists the values the tenant view knows: it loads before one is chosen.
  const q = useQuery<PolicyView>(
    needsId && !state.id && state.scope !== "segment"
      ? null
      : withQuery("/api/policies", {
          product: state.scope === "product" ? state.id : null,
          customer: state.scope === "customer" ? state.id : null,
          segment: state.scope === "segment" ? state.id : null,
        }),
  );
  const segmentValues = q.data?.segment_values ?? [];
  const segmentOptions =
    state.id && state.scope === "segment" && !segmentValues.includes(state.id)
      ? [state.id, ...segmentValues]
      : segmentValues;

  return (
    <section aria-labelledby="page-title">
      <PageHeader
        title="Policies"
        subtitle="Detector thresholds, margin levels, the action ladder and its automatic actions — for the whole tenant, or overridden per product or customer; budget alerts also per customer segment."
      />
      <form class="filters" aria-label="Scope" onSubmit={(e) => e.preventDefault()}>
        <FilterSelect
          label="Scope"
          name="scope"
          value={state.scope}
          options={[
            { value: "tenant", label: "Whole tenant" },
            { value: "product", label: "A product" },
            { value: "customer", label: "A customer" },
            { value: "segment", label: "A customer segment" },
          ]}
          onChange={(v) => go({ scope: (v ?? "tenant") as PoliciesState["scope"], id: null })}
        />
        {state.scope === "product" ? (
          <FilterSelect
            label="Product"
            name="id"
            value={state.id}
            anyLabel="Choose a product"
            options={catalog.products.map((p) => ({ value: p.id, label: p.name }))}
            onChange={(v) => go({ id: v })}
          />
        ) : null}
        {state.scope === "segment" ? (
          <FilterSelect
            label={`Segment (${q.data?.segment_by ?? "plan"})`}
            name="id"
            value={state.id}
            anyLabel="Choose a segment"
            options={segmentOptions}
            onChange={(v) => go({ id: v })}
          />
        ) : null}
        {state.scope === "customer" ? (
          <label class="field">
            <span>Customer id</span>
            <input
              name="id"
              value={state.id ?? ""}
              placeholder="customer id"
              onChange={(e) =>
                go({ id: (e.currentTarget as HTMLInputElement).value.trim() || null })
              }
            />
          </label>
        ) : null}
      </form>
      {needsId && !state.id ? (
        <Empty title={`Choose a ${state.scope}`}>
          {state.scope === "segment"
            ? `Its budget-alert thresholds apply on top of the tenant policy, for the customers whose ${q.data?.segment_by ?? "plan"} it is.`
            : "Its override applies on top of the tenant policy."}
        </Empty>
      ) : (
        <QueryView q={q} what="policies">
          {(view) =>
            registry.data ? (
              <Editor
                key={`${state.scope}:${state.id ?? ""}`}
                registry={registry.data}
                view={view}
                scope={state.scope}
                id={state.id}
                onSaved={q.reload}
              />
            ) : (
              <Loading label="Loading the detectors…" />
            )
          }
        </QueryView>
      )}
    </section>
  );
}

function Editor(props: {
  registry: DetectorsResponse;
  view: PolicyView;
  scope: PoliciesState["scope"];
  id: string | null;
  onSaved: () => void;
}) {
  const api = useApi();
  const { view, scope, id, registry } = props;
  // Each detector's field help, by its path in the document.
  const help = useMemo(() => {
    const out: Record<string, string> = { ...HELP };
    for (const d of registry.data) {
      for (const f of d.policy.fields) out[`detectors.${d.key}.${f.key}`] = f.help;
    }
    return out;
  }, [registry]);
  const parent = useMemo(
    () => (scope === "tenant" ? view.defaults : merge(view.defaults, view.tenant)),
    [view, scope],
  );
  const own = useMemo(
    () =>
      (scope === "tenant"
        ? view.tenant
        : scope === "product"
          ? view.products[id ?? ""]
          : scope === "segment"
            ? view.segments[id ?? ""]
            : view.customers[id ?? ""]) ?? {},
    [view, scope, id],
  );
  const saved = useMemo(() => merge(parent, own), [parent, own]);
  const [draft, setDraft] = useState<Doc>(saved);
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [message, setMessage] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [confirmRung, setConfirmRung] = useState<string | null>(null);
  const permit = usePermit("policies:write");
  useEffect(() => setDraft(saved), [saved]);

  const override = useMemo(() => diff(draft, parent), [draft, parent]);
  const dirty = JSON.stringify(diff(draft, saved)) !== "{}";
  const errorOf = (path: string) =>
    errors
      .filter((e) => errorBelongsTo(fieldPath(e.path), path))
      .map((e) => e.message)
      .join("; ") || null;
  const set = (path: string, value: unknown) => {
    setDraft((d) => setIn(d, path.split("."), value));
    setMessage(null);
  };

  const save = async (doc: Doc = override) => {
    setBusy(true);
    setErrors([]);
    setMessage(null);
    try {
      await api.put("/api/policies", { scope, ...(scope === "tenant" ? {} : { id }), policy: doc });
      setMessage(`Saved. This scope now overrides ${leafCount(doc)} setting(s).`);
      props.onSaved();
    } catch (err) {
      if (err instanceof ApiError && err.errors.length) setErrors(err.errors);
      else setErrors([{ path: "", message: err instanceof Error ? err.message : String(err) }]);
    } finally {
      setBusy(false);
    }
  };

  const num = (path: string, label?: string, opts: { step?: string; hint?: string } = {}) => (
    <NumberField
      key={path}
      path={path}
      label={label ?? words(path.split(".").at(-1) ?? path)}
      value={getIn(draft, path.split("."))}
      inherited={getIn(parent, path.split("."))}
      error={errorOf(path)}
      help={opts.hint ?? help[path]}
      step={opts.step}
      onChange={(v) => set(path, v)}
    />
  );
  const rungSelect = (path: string, label: string, allowed: string[]) => (
    <label class="field" key={path}>
      <span>{label}</span>
      <select
        name={path}
        value={String(getIn(draft, path.split(".")) ?? "")}
        aria-invalid={errorOf(path) ? true : undefined}
        onChange={(e) => set(path, (e.currentTarget as HTMLSelectElement).value)}
      >
        {allowed.map((r) => (
          <option key={r} value={r}>
            {RUNG_LABELS[r] ?? r}
          </option>
        ))}
      </select>
      {errorOf(path) ? <small class="field-error">{errorOf(path)}</small> : null}
    </label>
  );

  const detectors = (draft.detectors ?? {}) as Doc;
  const segmentScope = scope === "segment";
  const scalarKeys = (section: string) =>
    Object.entries((detectors[section] ?? {}) as Doc)
      .filter(([, v]) => typeof v === "number" || typeof v === "string")
      // segment_by defines the segments: the tenant's setting only.
      .filter(([k]) => !(scope !== "tenant" && section === "budget_margin" && k === "segment_by"))
      .map(([k]) => `detectors.${section}.${k}`);
  const sections = segmentScope
    ? registry.data.filter((d) => SEGMENT_SECTIONS.has(d.key))
    : registry.data;
  const listField = (path: string, label: string) => {
    const value = getIn(draft, path.split("."));
    return (
      <label class="field" key={path}>
        <span>{label}</span>
        <input
          name={path}
          value={Array.isArray(value) ? value.join(", ") : String(value ?? "")}
          aria-invalid={errorOf(path) ? true : undefined}
          onChange={(e) => set(path, parseNumberList((e.currentTarget as HTMLInputElement).value))}
        />
        <small class="muted">{help[path]}</small>
        {errorOf(path) ? <small class="field-error">{errorOf(path)}</small> : null}
      </label>
    );
  };
  const known = leafPaths(draft);
  const generalErrors = errors.filter(
    (e) => !e.path || !known.some((p) => errorBelongsTo(fieldPath(e.path), p)),
  );

  return (
    <form
      class="policy-editor"
      onSubmit={(e) => {
        e.preventDefault();
        save();
      }}
      aria-describedby="policy-status"
    >
      <Refused reason={permit.reason} what="This policy is read-only for you" />
      {/* A disabled fieldset disables every control inside it: a role without policies:write
          reads the policy but cannot switch an auto-action or save. */}
      <fieldset class="bare" disabled={!permit.allowed}>
        <div class="editor-bar" id="policy-status">
          <span>
            {scope === "tenant" ? "Tenant policy" : `${words(scope)} ${id}`}: overrides{" "}
            <strong>{leafCount(own)}</strong> inherited setting(s)
            {dirty
              ? ` · unsaved changes (${leafCount(override)} setting(s) would be overridden)`
              : ""}
          </span>
          <span class="editor-actions">
            <button
              type="button"
              class="btn"
              disabled={!dirty || busy}
              onClick={() => {
                setDraft(saved);
                setErrors([]);
                setMessage(null);
              }}
            >
              Discard changes
            </button>
            {leafCount(own) > 0 ? (
              <button type="button" class="btn" disabled={busy} onClick={() => save({})}>
                Reset to inherited
              </button>
            ) : null}
            <button type="submit" class="btn btn-primary" disabled={busy || !dirty}>
              {busy ? "Saving…" : "Save policy"}
            </button>
          </span>
        </div>
        {message ? (
          <p class="notice" role="status">
            {message}
          </p>
        ) : null}
        {errors.length ? (
          <div class="state state-error" role="alert">
            <strong>
              The API refused the policy ({errors.length} problem{errors.length > 1 ? "s" : ""}).
            </strong>
            {generalErrors.length ? (
              <ul>
                {generalErrors.map((e) => (
                  <li key={e.path + e.message}>
                    {e.path ? <code>{fieldPath(e.path)}</code> : null} {e.message}
                  </li>
                ))}
              </ul>
            ) : (
              <div>Each problem is shown beside its field below.</div>
            )}
          </div>
        ) : null}

        {segmentScope ? (
          <p class="muted">
            A segment's policy holds the budget alerts' thresholds only; the rungs, gate and other
            detectors follow the tenant policy.
          </p>
        ) : null}
        {segmentScope ? null : (
          <>
            <Fieldset legend="Automatic actions">
              <p class="muted">
                Off: the ladder records the action as <em>queued</em> and an operator executes it
                from Health Signals. On: Aforo runs it as soon as a signal maps to it. Everything
                that touches customers is off by default.
              </p>
              <div class="switches">
                {registry.rungs.map((rung) => {
                  const path = `auto_actions.${rung}`;
                  const on = getIn(draft, ["auto_actions", rung]) === true;
                  return (
                    <label class="switch" key={rung}>
                      <input
                        type="checkbox"
                        role="switch"
                        name={path}
                        checked={on}
                        aria-checked={on}
                        onChange={(e) => {
                          const want = (e.currentTarget as HTMLInputElement).checked;
                          (e.currentTarget as HTMLInputElement).checked = on;
                          if (want) setConfirmRung(rung);
                          else set(path, false);
                        }}
                      />
                      <span class="switch-track" aria-hidden="true" />
                      <span>
                        {RUNG_LABELS[rung] ?? rung}{" "}
                        <small class="muted">{on ? "automatic" : "queued for an operator"}</small>
                      </span>
                      {errorOf(path) ? <small class="field-error">{errorOf(path)}</small> : null}
                    </label>
                  );
                })}
              </div>
            </Fieldset>

            <Fieldset legend="Action ladder: which rung each signal maps to">
              <div class="field-grid">
                {registry.data.flatMap((d) => {
                  const rungs = d.ladder.rungs;
                  if (d.ladder.kind === "map") {
                    const map = (getIn(draft, ["ladder", d.key]) ?? {}) as Record<string, string>;
                    return Object.keys(map)
                      .sort((a, b) => Number(a) - Number(b))
                      .map((k) =>
                        rungSelect(
                          `ladder.${d.key}.${k}`,
                          (d.ladder.template ?? "{key}").replace("{key}", k),
                          rungs,
                        ),
                      );
                  }
                  return d.ladder.entries.map((e) =>
                    rungSelect(
                      e.key === null ? `ladder.${d.key}` : `ladder.${d.key}.${e.key}`,
                      e.label,
                      rungs,
                    ),
                  );
                })}
              </div>
            </Fieldset>

            <Fieldset legend="Margin levels">
              <p class="muted">
                Margin fractions, L1 &gt; L2 &gt; L3 (0.30 = 30 %). Period-to-date margin below a
                level fires it.
              </p>
              <div class="field-grid">
                {["L1", "L2", "L3"].map((l) =>
                  num(`detectors.margin.levels.${l}`, `Level ${l}`, {
                    step: "0.01",
                    hint: `= ${percent(getIn(draft, ["detectors", "margin", "levels", l]), 0)}`,
                  }),
                )}
              </div>
            </Fieldset>
          </>
        )}

        {sections.map((d) => (
          <Fieldset key={d.key} legend={`Detector thresholds: ${words(d.key)}`}>
            <div class="field-grid">
              {scalarKeys(d.key).map((p) => num(p, undefined, { step: "any" }))}
              {d.policy.fields
                .filter((f) => f.kind === "number_list")
                .map((f) => listField(`detectors.${d.key}.${f.key}`, f.label ?? words(f.key)))}
            </div>
          </Fieldset>
        ))}

        {segmentScope ? null : (
          <>
            <Fieldset legend="Gate">
              <div class="field-grid">
                {num("gate.rate_per_second", "Rate per second")}
                {num("gate.burst", "Burst")}
                {num("gate.throttled_rate_per_second", "Throttled rate per second")}
              </div>
            </Fieldset>

            <Fieldset legend="Churn actions">
              <div class="field-grid">
                {num("actions.extend_trial_days", "Trial extension (days)")}
                {num("actions.coupon_percent", "Coupon (%)")}
                {num("actions.coupon_days", "Coupon duration (days)")}
                <label class="field">
                  <span>Escalate to (e-mail)</span>
                  <input
                    type="email"
                    name="actions.escalate_to"
                    value={String(getIn(draft, ["actions", "escalate_to"]) ?? "")}
                    aria-invalid={errorOf("actions.escalate_to") ? true : undefined}
                    onChange={(e) =>
                      set("actions.escalate_to", (e.currentTarget as HTMLInputElement).value.trim())
                    }
                  />
                  <small class="muted">{HELP["actions.escalate_to"]}</small>
                  {errorOf("actions.escalate_to") ? (
                    <small class="field-error">{errorOf("actions.escalate_to")}</small>
                  ) : null}
                </label>
              </div>
            </Fieldset>
          </>
        )}
      </fieldset>

      <ConfirmDialog
        open={confirmRung !== null}
        title={`Run “${RUNG_LABELS[confirmRung ?? ""] ?? confirmRung}” automatically?`}
        confirmLabel="Switch on"
        danger={confirmRung !== "ALERT"}
        onConfirm={() => {
          if (confirmRung) set(`auto_actions.${confirmRung}`, true);
          setConfirmRung(null);
        }}
        onCancel={() => setConfirmRung(null)}
      >
        <p class="warning">
          <strong>Warning:</strong> from the moment you save, every new signal that maps to{" "}
          {RUNG_LABELS[confirmRung ?? ""] ?? confirmRung}
          {scope === "tenant" ? " for any customer" : ` for ${scope} ${id}`} runs without an
          operator looking at it first.
        </p>
        <p>{confirmRung ? effectOf(confirmRung, "execute", "the customer") : null}</p>
        <p class="muted">
          Signals already queued stay queued. You can switch it off again at any time.
        </p>
      </ConfirmDialog>
    </form>
  );
}

function Fieldset(props: { legend: string; children: ComponentChildren }) {
  return (
    <fieldset class="panel">
      <legend>{props.legend}</legend>
      {props.children}
    </fieldset>
  );
}

function NumberField(props: {
  path: string;
  label: string;
  value: unknown;
  inherited: unknown;
  error: string | null;
  help: string | undefined;
  step: string | undefined;
  onChange: (v: number | string) => void;
}) {
  const overridden = JSON.stringify(props.value) !== JSON.stringify(props.inherited);
  const id = `f-${props.path.replace(/\./g, "-")}`;
  return (
    <div class={`field ${overridden ? "field-overridden" : ""}`}>
      <label for={id}>{props.label}</label>
      <input
        id={id}
        name={props.path}
        type="text"
        inputMode="decimal"
        value={props.value === undefined || props.value === null ? "" : String(props.value)}
        aria-invalid={props.error ? true : undefined}
        aria-describedby={`${id}-help`}
        onChange={(e) => props.onChange(parseNumber((e.currentTarget as HTMLInputElement).value))}
      />
      <small id={`${id}-help`} class="muted">
        {props.help ? `${props.help}. ` : ""}
        {overridden ? `Overrides ${String(props.inherited ?? "—")}` : "Inherited"}
      </small>
      {props.error ? <small class="field-error">{props.error}</small> : null}
    </div>
  );
}
