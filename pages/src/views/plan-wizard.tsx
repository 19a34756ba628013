// The plan wizard (/catalog/plans/new, /catalog/plans/:id/edit for a draft): a product, the
// metrics it meters, a plan's components with a live price preview for sample usage, then save
// as a DRAFT or publish. Every number in the preview is the API's (POST /api/pricing/preview,
// the pricing engine itself); the wizard only collects fields. The Pricing Architect fills it
// through prefillWizard(), a link through `?prefill=` (lib/plan-wizard.ts); what they set stays
// highlighted until edited.

import { useEffect, useRef, useState } from "preact/hooks";
import type { PlanComponent, Tier } from "../../../contracts/catalog";
import type { PricingPreview } from "../../../contracts/copilot";
import { Badge, Empty, Loading, PageHeader, Refused } from "../components/ui";
import { ApiError, type FieldError, isAbort, useApi } from "../lib/api";
import { catalogChanged, useCatalog } from "../lib/catalog";
import { money, words } from "../lib/format";
import { usePermit } from "../lib/me";
import {
  AGGREGATIONS,
  COMPONENT_TYPES,
  decodePrefill,
  edited,
  emptyWizard,
  type FieldKey,
  markSaved,
  newComponent,
  previewRequest,
  saveRequests,
  WIZARD_STEPS,
  type WizardState,
  type WizardStep,
  withProduct,
  wizardFromDraft,
  wizardFromPlan,
  wizardIssues,
} from "../lib/plan-wizard";
import { describeComponent } from "../lib/plans";
import { Link, navigate } from "../lib/router";
import { catalogSpec, hrefFor } from "../lib/url-state";
import { takePrefill } from "../lib/wizard-prefill";

const STEP_LABELS: Record<WizardStep, string> = {
  product: "Product",
  metrics: "Metrics",
  components: "Components",
  review: "Review",
};

const TYPE_LABELS: Record<PlanComponent["type"], string> = {
  flat: "Flat fee",
  per_unit: "Per unit",
  tiered: "Tiered",
  package: "Package",
  included: "Included quota",
  discount: "Volume discount",
  minimum: "Minimum commitment",
};

/** How long typing pauses before the preview is asked again. */
const PREVIEW_DEBOUNCE_MS = 350;

const plansHref = (product: string | null) =>
  hrefFor("/catalog", catalogSpec, { tab: "plans", q: "", product, customer: null, cursor: null });

export function PlanWizardView(props: { planId: string | null; search: URLSearchParams }) {
  const catalog = useCatalog();
  const [state, setState] = useState<WizardState | null>(null);
  const [refusal, setRefusal] = useState<string | null>(null);
  const prefillParam = props.search.get("prefill");

  useEffect(() => {
    if (!catalog.loaded || state !== null) return;
    if (props.planId !== null) {
      const plan = catalog.plans.find((p) => p.id === props.planId);
      if (!plan) setRefusal(`There is no plan '${props.planId}'.`);
      else if (plan.status !== "draft")
        setRefusal(
          `Plan '${plan.id}' is ${plan.status}: its prices are fixed once published. A new price is a new plan.`,
        );
      else setState(wizardFromPlan(plan, catalog.products));
      return;
    }
    if (prefillParam !== null) {
      const draft = decodePrefill(prefillParam);
      if (draft instanceof Error) {
        setRefusal(draft.message);
        return;
      }
      setState(wizardFromDraft(draft, catalog.products));
      return;
    }
    setState(emptyWizard());
  }, [catalog.loaded, props.planId, prefillParam]);

  // A draft handed in by prefillWizard(): before the wizard mounted, or while it is open.
  useEffect(() => {
    if (!catalog.loaded || props.planId !== null) return;
    const handIn = takePrefill((draft) => {
      setRefusal(null);
      setState(wizardFromDraft(draft, catalog.products));
    });
    if (handIn.first) setState(wizardFromDraft(handIn.first, catalog.products));
    return handIn.stop;
  }, [catalog.loaded, props.planId]);

  const title = props.planId ? `Edit draft plan ${props.planId}` : "New plan";
  return (
    <section aria-labelledby="page-title" class="plan-wizard">
      <PageHeader
        title={title}
        subtitle="Product, metrics and components, priced live for sample usage. Saved as a draft, subscribable once published."
        actions={<Link href={plansHref(null)}>← Back to plans</Link>}
      />
      {refusal ? (
        <Empty title="This plan cannot be edited here">{refusal}</Empty>
      ) : state === null ? (
        <Loading label="Loading the catalog…" />
      ) : (
        <Wizard state={state} setState={setState} editing={props.planId !== null} />
      )}
    </section>
  );
}

type Update = (fn: (s: WizardState) => WizardState) => void;

function Wizard(props: {
  state: WizardState;
  setState: (s: WizardState) => void;
  editing: boolean;
}) {
  const { state } = props;
  const api = useApi();
  const catalog = useCatalog();
  const permit = usePermit("pricing:write");
  const [step, setStep] = useState<WizardStep>("product");
  const [saving, setSaving] = useState<null | "draft" | "publish">(null);
  const [saveError, setSaveError] = useState<{ message: string; errors: FieldError[] } | null>(
    null,
  );
  // The latest state for the save loop, which updates it request by request.
  const latest = useRef(state);
  latest.current = state;
  const update: Update = (fn) => props.setState(fn(latest.current));
  const preview = usePreview(state);
  const issues = wizardIssues(state);
  const stepIndex = WIZARD_STEPS.indexOf(step);
  const prefilled = (key: FieldKey) => state.prefilled.includes(key);

  const save = async (publish: boolean) => {
    setSaving(publish ? "publish" : "draft");
    setSaveError(null);
    let current = latest.current;
    try {
      for (const request of saveRequests(current, props.editing)) {
        try {
          await api.request(request.method, request.path, { body: request.body });
        } catch (err) {
          if (err instanceof ApiError)
            throw new ApiError(
              err.status,
              err.code,
              `Saving ${request.what}: ${err.message}`,
              err.errors,
            );
          throw err;
        }
        current = markSaved(current, request);
        props.setState(current);
      }
      const planId = current.plan.id;
      if (publish) await api.post(`/api/plans/${encodeURIComponent(planId)}/publish`);
      catalogChanged();
      navigate(plansHref(current.product.id));
    } catch (err) {
      setSaveError({
        message: (err as Error).message,
        errors: err instanceof ApiError ? err.errors : [],
      });
    } finally {
      setSaving(null);
    }
  };

  return (
    <>
      {state.prefilled.length > 0 ? (
        <p class="notice" data-testid="prefill-notice">
          Filled in for you: the highlighted fields came from a proposal. Check them, change what
          you need, then save.
        </p>
      ) : null}
      <nav class="tabs wizard-steps" aria-label="Wizard steps">
        {WIZARD_STEPS.map((s, i) => (
          <button
            type="button"
            key={s}
            class={s === step ? "active" : undefined}
            aria-current={s === step ? "step" : undefined}
            onClick={() => setStep(s)}
          >
            {i + 1}. {STEP_LABELS[s]}
            {issues.some((x) => x.step === s) && i < stepIndex ? (
              <span class="text-bad" title="Something here is missing">
                {" "}
                •
              </span>
            ) : null}
          </button>
        ))}
      </nav>
      <div class="split">
        <div>
          {step === "product" ? (
            <ProductStep state={state} update={update} prefilled={prefilled("product")} />
          ) : null}
          {step === "metrics" ? <MetricsStep state={state} update={update} /> : null}
          {step === "components" ? (
            <ComponentsStep state={state} update={update} editing={props.editing} />
          ) : null}
          {step === "review" ? (
            <ReviewStep
              state={state}
              issues={issues.map((x) => x.message)}
              saving={saving}
              saveError={saveError}
              permitReason={permit.reason}
              onSave={(publish) => void save(publish)}
            />
          ) : null}
          <div class="editor-actions wizard-nav">
            <button
              type="button"
              class="btn"
              disabled={stepIndex === 0}
              onClick={() => setStep(WIZARD_STEPS[stepIndex - 1] ?? "product")}
            >
              ← Back
            </button>
            {stepIndex < WIZARD_STEPS.length - 1 ? (
              <button
                type="button"
                class="btn btn-primary"
                onClick={() => setStep(WIZARD_STEPS[stepIndex + 1] ?? "review")}
              >
                Next: {STEP_LABELS[WIZARD_STEPS[stepIndex + 1] ?? "review"]} →
              </button>
            ) : null}
          </div>
        </div>
        <aside class="split-side">
          <PreviewPanel
            state={state}
            update={update}
            preview={preview}
            catalogLoaded={catalog.loaded}
          />
        </aside>
      </div>
    </>
  );
}

function ProductStep(props: { state: WizardState; update: Update; prefilled: boolean }) {
  const catalog = useCatalog();
  const { product } = props.state;
  const choice = product.existing ? product.id : "__new";
  const choose = (id: string) =>
    props.update((s) =>
      edited(
        withProduct(s, id === "__new" ? { id: "", name: "" } : { id, name: "" }, catalog.products),
        "product",
      ),
    );
  return (
    <fieldset class={`panel wizard-step${props.prefilled ? " prefilled" : ""}`}>
      <legend>Product</legend>
      <p class="muted small">The plan prices one product's metrics: pick one or create it.</p>
      <div class="field-grid">
        <label class="field">
          <span>Product</span>
          <select
            name="product-choice"
            value={choice}
            onChange={(e) => choose((e.currentTarget as HTMLSelectElement).value)}
          >
            <option value="__new">A new product…</option>
            {catalog.products.map((p) => (
              <option key={p.id} value={p.id}>
                {p.name} ({p.id})
              </option>
            ))}
          </select>
        </label>
        {product.existing ? null : (
          <>
            <label class="field">
              <span>Product id</span>
              <input
                name="product-id"
                value={product.id}
                placeholder="chat-api"
                onInput={(e) => {
                  const id = (e.currentTarget as HTMLInputElement).value.trim();
                  props.update((s) =>
                    edited({ ...s, product: { ...s.product, id, existing: false } }, "product"),
                  );
                }}
              />
            </label>
            <label class="field">
              <span>Product name</span>
              <input
                name="product-name"
                value={product.name}
                placeholder="Chat API"
                onInput={(e) => {
                  const name = (e.currentTarget as HTMLInputElement).value;
                  props.update((s) => edited({ ...s, product: { ...s.product, name } }, "product"));
                }}
              />
            </label>
          </>
        )}
      </div>
    </fieldset>
  );
}

function MetricsStep(props: { state: WizardState; update: Update }) {
  const { state, update } = props;
  const setMetric = (i: number, patch: Partial<WizardState["metrics"][number]>) =>
    update((s) =>
      edited(
        { ...s, metrics: s.metrics.map((m, j) => (j === i ? { ...m, ...patch } : m)) },
        `metric.${i}`,
      ),
    );
  return (
    <fieldset class="panel wizard-step">
      <legend>Metrics</legend>
      <p class="muted small">
        What the product meters. Existing metrics are used as they are; new ones are created on the
        product when you save.
      </p>
      {state.metrics.length === 0 ? <p class="muted">No metrics yet.</p> : null}
      <ol class="wizard-list">
        {state.metrics.map((m, i) => (
          <li
            key={i}
            class={state.prefilled.includes(`metric.${i}`) ? "prefilled" : undefined}
            data-metric={m.id}
          >
            {m.existing ? (
              <p>
                <strong class="mono">{m.id}</strong> · {m.unit} · {words(m.aggregation)}{" "}
                <Badge tone="info">existing</Badge>
              </p>
            ) : (
              <div class="field-grid">
                <label class="field">
                  <span>Metric id</span>
                  <input
                    value={m.id}
                    placeholder="input_tokens"
                    onInput={(e) =>
                      setMetric(i, { id: (e.currentTarget as HTMLInputElement).value.trim() })
                    }
                  />
                </label>
                <label class="field">
                  <span>Unit</span>
                  <input
                    value={m.unit}
                    placeholder="token"
                    onInput={(e) =>
                      setMetric(i, { unit: (e.currentTarget as HTMLInputElement).value })
                    }
                  />
                </label>
                <label class="field">
                  <span>Aggregation</span>
                  <select
                    value={m.aggregation}
                    onChange={(e) =>
                      setMetric(i, {
                        aggregation: (e.currentTarget as HTMLSelectElement)
                          .value as (typeof AGGREGATIONS)[number],
                      })
                    }
                  >
                    {AGGREGATIONS.map((a) => (
                      <option key={a} value={a}>
                        {words(a)}
                      </option>
                    ))}
                  </select>
                </label>
                <div class="field">
                  <span>&nbsp;</span>
                  <button
                    type="button"
                    class="btn btn-small"
                    onClick={() =>
                      update((s) => ({
                        ...s,
                        metrics: s.metrics.filter((_, j) => j !== i),
                        prefilled: s.prefilled.filter((k) => !k.startsWith("metric.")),
                      }))
                    }
                  >
                    Remove metric {m.id || i + 1}
                  </button>
                </div>
              </div>
            )}
          </li>
        ))}
      </ol>
      <button
        type="button"
        class="btn"
        onClick={() =>
          update((s) => ({
            ...s,
            metrics: [...s.metrics, { id: "", unit: "", aggregation: "sum", existing: false }],
          }))
        }
      >
        + Add a metric
      </button>
    </fieldset>
  );
}

function ComponentsStep(props: { state: WizardState; update: Update; editing: boolean }) {
  const { state, update } = props;
  const [adding, setAdding] = useState<PlanComponent["type"]>("flat");
  const plan = state.plan;
  const setPlan = (key: "id" | "name" | "currency" | "trial_days", value: string) =>
    update((s) => edited({ ...s, plan: { ...s.plan, [key]: value } }, `plan.${key}`));
  const fieldClass = (key: FieldKey) => `field${state.prefilled.includes(key) ? " prefilled" : ""}`;
  const metricIds = state.metrics.map((m) => m.id).filter(Boolean);
  return (
    <>
      <fieldset class="panel wizard-step">
        <legend>Plan</legend>
        <div class="field-grid">
          <label class={fieldClass("plan.id")}>
            <span>Plan id</span>
            <input
              name="plan-id"
              value={plan.id}
              placeholder="chat-pro"
              disabled={props.editing}
              onInput={(e) => setPlan("id", (e.currentTarget as HTMLInputElement).value.trim())}
            />
          </label>
          <label class={fieldClass("plan.name")}>
            <span>Plan name</span>
            <input
              name="plan-name"
              value={plan.name}
              placeholder="Chat Pro"
              onInput={(e) => setPlan("name", (e.currentTarget as HTMLInputElement).value)}
            />
          </label>
          <label class={fieldClass("plan.currency")}>
            <span>Currency</span>
            <input
              name="currency"
              value={plan.currency}
              maxLength={3}
              onInput={(e) =>
                setPlan("currency", (e.currentTarget as HTMLInputElement).value.toUpperCase())
              }
            />
          </label>
          <label class={fieldClass("plan.period")}>
            <span>Billing period</span>
            <select
              name="period"
              value={plan.period}
              onChange={(e) => {
                const period = (e.currentTarget as HTMLSelectElement).value as "month" | "year";
                update((s) => edited({ ...s, plan: { ...s.plan, period } }, "plan.period"));
              }}
            >
              <option value="month">Monthly</option>
              <option value="year">Yearly</option>
            </select>
          </label>
          <label class={fieldClass("plan.trial_days")}>
            <span>Trial days</span>
            <input
              name="trial-days"
              inputMode="numeric"
              value={plan.trial_days}
              onInput={(e) =>
                setPlan("trial_days", (e.currentTarget as HTMLInputElement).value.trim())
              }
            />
          </label>
        </div>
      </fieldset>
      {state.pending.length > 0 ? (
        <div class="warning" role="note">
          <strong>Not priced yet:</strong>
          <ul>
            {state.pending.map((p, i) => (
              <li key={i}>
                {TYPE_LABELS[p.component.type]}
                {p.component.metric ? ` on ${p.component.metric}` : ""}: {p.clarification} (missing{" "}
                {p.missing.join(", ")}). Add it below once you know.
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      {plan.components.map((c, i) => (
        <ComponentEditor
          key={`${i}-${c.type}`}
          index={i}
          component={c}
          metrics={metricIds}
          prefilled={state.prefilled.includes(`component.${i}`)}
          onChange={(next) =>
            update((s) =>
              edited(
                {
                  ...s,
                  plan: {
                    ...s.plan,
                    components: s.plan.components.map((x, j) => (j === i ? next : x)),
                  },
                },
                `component.${i}`,
              ),
            )
          }
          onRemove={() =>
            update((s) => ({
              ...s,
              plan: { ...s.plan, components: s.plan.components.filter((_, j) => j !== i) },
              prefilled: s.prefilled.filter((k) => !k.startsWith("component.")),
            }))
          }
        />
      ))}
      <div class="panel field-form">
        <label class="field">
          <span>Component type</span>
          <select
            name="component-type"
            value={adding}
            onChange={(e) =>
              setAdding((e.currentTarget as HTMLSelectElement).value as PlanComponent["type"])
            }
          >
            {COMPONENT_TYPES.map((t) => (
              <option key={t} value={t}>
                {TYPE_LABELS[t]}
              </option>
            ))}
          </select>
        </label>
        <button
          type="button"
          class="btn"
          onClick={() =>
            update((s) => ({
              ...s,
              plan: {
                ...s.plan,
                components: [...s.plan.components, newComponent(adding, metricIds[0] ?? "")],
              },
            }))
          }
        >
          + Add component
        </button>
      </div>
    </>
  );
}

function AmountField(props: {
  label: string;
  value: string | number;
  onInput: (v: string) => void;
  placeholder?: string;
}) {
  return (
    <label class="field">
      <span>{props.label}</span>
      <input
        inputMode="decimal"
        value={String(props.value)}
        placeholder={props.placeholder ?? "0"}
        onInput={(e) => props.onInput((e.currentTarget as HTMLInputElement).value.trim())}
      />
    </label>
  );
}

function MetricField(props: {
  value: string | undefined;
  metrics: readonly string[];
  onChange: (v: string | undefined) => void;
  /** The option meaning "no metric" (a plan-wide discount), when the component allows it. */
  noneLabel?: string;
}) {
  const options =
    props.value && !props.metrics.includes(props.value)
      ? [...props.metrics, props.value]
      : props.metrics;
  return (
    <label class="field">
      <span>Metric</span>
      <select
        value={props.value ?? ""}
        onChange={(e) => props.onChange((e.currentTarget as HTMLSelectElement).value || undefined)}
      >
        {props.noneLabel !== undefined ? <option value="">{props.noneLabel}</option> : null}
        {props.noneLabel === undefined && !props.value ? (
          <option value="">Choose a metric</option>
        ) : null}
        {options.map((m) => (
          <option key={m} value={m}>
            {m}
          </option>
        ))}
      </select>
    </label>
  );
}

function ComponentEditor(props: {
  index: number;
  component: PlanComponent;
  metrics: readonly string[];
  prefilled: boolean;
  onChange: (c: PlanComponent) => void;
  onRemove: () => void;
}) {
  const c = props.component;
  const set = (patch: Record<string, unknown>) =>
    props.onChange({ ...c, ...patch } as PlanComponent);
  const metric = (
    <MetricField
      value={"metric" in c ? c.metric : undefined}
      metrics={props.metrics}
      onChange={(m) => set({ metric: m ?? "" })}
    />
  );
  let fields: preact.JSX.Element;
  switch (c.type) {
    case "flat":
      fields = (
        <AmountField label="Fee per period" value={c.amount} onInput={(v) => set({ amount: v })} />
      );
      break;
    case "minimum":
      fields = (
        <AmountField
          label="Minimum per period"
          value={c.amount}
          onInput={(v) => set({ amount: v })}
        />
      );
      break;
    case "per_unit":
      fields = (
        <>
          {metric}
          <AmountField
            label="Unit price"
            value={c.unit_price}
            onInput={(v) => set({ unit_price: v })}
          />
        </>
      );
      break;
    case "package":
      fields = (
        <>
          {metric}
          <AmountField
            label="Package size (units)"
            value={c.size}
            onInput={(v) => set({ size: v })}
          />
          <AmountField
            label="Price per package"
            value={c.price}
            onInput={(v) => set({ price: v })}
          />
        </>
      );
      break;
    case "included":
      fields = (
        <>
          {metric}
          <AmountField
            label="Included units per period"
            value={c.quantity}
            onInput={(v) => set({ quantity: v })}
          />
        </>
      );
      break;
    case "discount":
      fields = (
        <>
          <MetricField
            value={c.metric}
            metrics={props.metrics}
            noneLabel="The whole usage charge"
            onChange={(m) => {
              const { metric: _dropped, ...rest } = c;
              props.onChange(m === undefined ? rest : { ...rest, metric: m });
            }}
          />
          <AmountField
            label={c.metric ? "Above (units)" : "Above (charge, in currency)"}
            value={c.above}
            onInput={(v) => set({ above: v })}
          />
          <AmountField label="Percent off" value={c.percent} onInput={(v) => set({ percent: v })} />
        </>
      );
      break;
    case "tiered":
      fields = (
        <>
          {metric}
          <label class="field">
            <span>Tier mode</span>
            <select
              value={c.mode}
              onChange={(e) =>
                set({
                  mode: (e.currentTarget as HTMLSelectElement).value as "graduated" | "volume",
                })
              }
            >
              <option value="graduated">Graduated (each tier prices its own units)</option>
              <option value="volume">Volume (every unit at the tier reached)</option>
            </select>
          </label>
          <TiersEditor tiers={c.tiers} onChange={(tiers) => set({ tiers })} />
        </>
      );
      break;
  }
  return (
    <fieldset
      class={`panel component-editor${props.prefilled ? " prefilled" : ""}`}
      data-component={props.index}
    >
      <legend>
        Component {props.index + 1}: {TYPE_LABELS[c.type]}
      </legend>
      <div class="field-grid">{fields}</div>
      <button type="button" class="btn btn-small" onClick={props.onRemove}>
        Remove component {props.index + 1}
      </button>
    </fieldset>
  );
}

function TiersEditor(props: { tiers: Tier[]; onChange: (tiers: Tier[]) => void }) {
  const set = (i: number, patch: Partial<Tier>) =>
    props.onChange(props.tiers.map((t, j) => (j === i ? { ...t, ...patch } : t)));
  return (
    <div class="field-block">
      <table class="compact tiers-editor">
        <caption class="sr-only">Tiers</caption>
        <thead>
          <tr>
            <th scope="col">Up to (units)</th>
            <th scope="col">Unit price</th>
            <th scope="col">Flat fee</th>
            <th scope="col">
              <span class="sr-only">Remove</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {props.tiers.map((t, i) => {
            const last = i === props.tiers.length - 1;
            return (
              <tr key={i}>
                <td>
                  {last ? (
                    <span class="muted">and above</span>
                  ) : (
                    <input
                      aria-label={`Tier ${i + 1} up to`}
                      inputMode="decimal"
                      value={t.up_to === null ? "" : String(t.up_to)}
                      onInput={(e) =>
                        set(i, { up_to: (e.currentTarget as HTMLInputElement).value.trim() })
                      }
                    />
                  )}
                </td>
                <td>
                  <input
                    aria-label={`Tier ${i + 1} unit price`}
                    inputMode="decimal"
                    value={String(t.unit_price)}
                    onInput={(e) =>
                      set(i, { unit_price: (e.currentTarget as HTMLInputElement).value.trim() })
                    }
                  />
                </td>
                <td>
                  <input
                    aria-label={`Tier ${i + 1} flat fee`}
                    inputMode="decimal"
                    placeholder="none"
                    value={t.flat_fee === undefined ? "" : String(t.flat_fee)}
                    onInput={(e) => {
                      const v = (e.currentTarget as HTMLInputElement).value.trim();
                      const { flat_fee: _dropped, ...rest } = t;
                      props.onChange(
                        props.tiers.map((x, j) =>
                          j === i ? (v ? { ...rest, flat_fee: v } : rest) : x,
                        ),
                      );
                    }}
                  />
                </td>
                <td>
                  {props.tiers.length > 1 && !last ? (
                    <button
                      type="button"
                      class="btn btn-small"
                      onClick={() => props.onChange(props.tiers.filter((_, j) => j !== i))}
                    >
                      Remove tier {i + 1}
                    </button>
                  ) : null}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <button
        type="button"
        class="btn btn-small"
        onClick={() => {
          // A new tier goes before the open last one, which always stays last.
          const open = props.tiers.at(-1) ?? { up_to: null, unit_price: "" };
          props.onChange([...props.tiers.slice(0, -1), { up_to: "", unit_price: "" }, open]);
        }}
      >
        + Add a tier
      </button>
    </div>
  );
}

type PreviewState =
  | { phase: "empty" }
  | { phase: "loading"; last: PricingPreview | null }
  | { phase: "ok"; preview: PricingPreview }
  | { phase: "error"; message: string; errors: FieldError[] };

/** The API's price for the wizard's components and sample usage, asked again (debounced) on
 * every change; an answer to an older request is dropped. */
function usePreview(state: WizardState): PreviewState {
  const api = useApi();
  const [result, setResult] = useState<PreviewState>({ phase: "empty" });
  const body = previewRequest(state);
  const key = JSON.stringify(body);
  useEffect(() => {
    if (body.components.length === 0) {
      setResult({ phase: "empty" });
      return;
    }
    setResult((r) => ({ phase: "loading", last: r.phase === "ok" ? r.preview : null }));
    const controller = new AbortController();
    const timer = setTimeout(() => {
      api.post<PricingPreview>("/api/pricing/preview", body, controller.signal).then(
        (preview) => setResult({ phase: "ok", preview }),
        (err) => {
          if (isAbort(err)) return;
          setResult({
            phase: "error",
            message: (err as Error).message,
            errors: err instanceof ApiError ? err.errors : [],
          });
        },
      );
    }, PREVIEW_DEBOUNCE_MS);
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [key]);
  return result;
}

function PreviewPanel(props: {
  state: WizardState;
  update: Update;
  preview: PreviewState;
  catalogLoaded: boolean;
}) {
  const { state, preview } = props;
  const metrics = state.metrics.filter((m) => m.id);
  const shown =
    preview.phase === "ok" ? preview.preview : preview.phase === "loading" ? preview.last : null;
  return (
    <section
      class="panel wizard-preview"
      aria-labelledby="preview-title"
      data-testid="price-preview"
    >
      <h2 id="preview-title">Price preview</h2>
      <p class="muted small">
        One {state.plan.period === "year" ? "year" : "month"} of this sample usage, priced by the
        pricing engine.
      </p>
      {metrics.length === 0 ? (
        <p class="muted small">Add metrics to try usage.</p>
      ) : (
        <div class="field-grid">
          {metrics.map((m) => (
            <label
              key={m.id}
              class={`field${state.prefilled.includes(`usage.${m.id}`) ? " prefilled" : ""}`}
            >
              <span>
                Sample {m.id} ({m.unit || "units"})
              </span>
              <input
                inputMode="decimal"
                value={state.usage[m.id] ?? ""}
                placeholder="0"
                onInput={(e) => {
                  const q = (e.currentTarget as HTMLInputElement).value.trim();
                  props.update((s) =>
                    edited({ ...s, usage: { ...s.usage, [m.id]: q } }, `usage.${m.id}`),
                  );
                }}
              />
            </label>
          ))}
        </div>
      )}
      <div aria-live="polite" data-phase={preview.phase}>
        {preview.phase === "empty" ? (
          <p class="muted">Add a component to see a price.</p>
        ) : preview.phase === "error" ? (
          <div class="form-error" role="alert" data-testid="preview-error">
            <p>The API cannot price this yet: {preview.message}</p>
            {preview.errors.length > 0 ? (
              <ul>
                {preview.errors.map((e) => (
                  <li key={`${e.path}:${e.message}`}>
                    <code>{e.path}</code>: {e.message}
                  </li>
                ))}
              </ul>
            ) : null}
          </div>
        ) : shown ? (
          <>
            <p class="kpi-value" data-testid="preview-total" data-total={shown.total}>
              {money(shown.total, shown.currency)}
              <span class="muted small"> per {shown.period}</span>
            </p>
            <table class="compact">
              <caption class="sr-only">Preview lines</caption>
              <tbody>
                {shown.lines.map((l, i) => (
                  <tr key={i} data-line-type={l.type}>
                    <th scope="row">{l.description}</th>
                    <td class="num">{money(l.amount, shown.currency)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            {Number(shown.minimum_topup) > 0 ? (
              <p class="small">Minimum top-up: {money(shown.minimum_topup, shown.currency)}</p>
            ) : null}
            {preview.phase === "loading" ? <p class="muted small">Updating…</p> : null}
          </>
        ) : (
          <p class="muted">Pricing…</p>
        )}
      </div>
    </section>
  );
}

function ReviewStep(props: {
  state: WizardState;
  issues: string[];
  saving: null | "draft" | "publish";
  saveError: { message: string; errors: FieldError[] } | null;
  permitReason: string | null;
  onSave: (publish: boolean) => void;
}) {
  const { state } = props;
  const metrics = Object.fromEntries(state.metrics.map((m) => [m.id, { unit: m.unit }]));
  const blocked = props.issues.length > 0 || props.saving !== null || props.permitReason !== null;
  const newMetrics = state.metrics.filter((m) => !m.existing);
  return (
    <section class="panel wizard-step" aria-labelledby="review-title">
      <h2 id="review-title">Review</h2>
      <dl class="facts">
        <dt>Product</dt>
        <dd>
          {state.product.name || state.product.id}{" "}
          <span class="mono small">{state.product.id}</span>
          {state.product.existing ? null : <Badge tone="info">new</Badge>}
        </dd>
        <dt>Metrics</dt>
        <dd>
          {state.metrics.length === 0 ? "none" : state.metrics.map((m) => m.id).join(", ")}
          {newMetrics.length > 0 ? ` (new: ${newMetrics.map((m) => m.id).join(", ")})` : ""}
        </dd>
        <dt>Plan</dt>
        <dd>
          {state.plan.name} <span class="mono small">{state.plan.id}</span> · billed{" "}
          {state.plan.period === "year" ? "yearly" : "monthly"} in {state.plan.currency}
          {Number(state.plan.trial_days) > 0 ? ` · ${state.plan.trial_days}-day trial` : ""}
        </dd>
      </dl>
      <ul class="components" data-testid="review-components">
        {state.plan.components.map((c, i) => (
          <li key={i}>
            {describeComponent(c, {
              currency: /^[A-Z]{3}$/.test(state.plan.currency) ? state.plan.currency : "USD",
              period: state.plan.period,
              metrics,
            })}
          </li>
        ))}
      </ul>
      {props.issues.length > 0 ? (
        <div class="warning" role="note" data-testid="wizard-issues">
          <strong>Before saving:</strong>
          <ul>
            {props.issues.map((m) => (
              <li key={m}>{m}</li>
            ))}
          </ul>
        </div>
      ) : null}
      {props.saveError ? (
        <div class="form-error" role="alert" data-testid="save-error">
          <p>{props.saveError.message}</p>
          {props.saveError.errors.length > 0 ? (
            <ul>
              {props.saveError.errors.map((e) => (
                <li key={`${e.path}:${e.message}`}>
                  <code>{e.path}</code>: {e.message}
                </li>
              ))}
            </ul>
          ) : null}
        </div>
      ) : null}
      <p class="muted small">
        A draft is priced and previewed but no customer can be subscribed to it until it is
        published; until then its prices can still change. Once published they are fixed.
      </p>
      <div class="editor-actions">
        <button type="button" class="btn" disabled={blocked} onClick={() => props.onSave(false)}>
          {props.saving === "draft" ? "Saving…" : "Save as draft"}
        </button>
        <button
          type="button"
          class="btn btn-primary"
          disabled={blocked}
          onClick={() => props.onSave(true)}
        >
          {props.saving === "publish" ? "Publishing…" : "Save and publish"}
        </button>
      </div>
      <Refused reason={props.permitReason} what="Saving plans" />
    </section>
  );
}

/** The wizard's place under /catalog: "/plans/new" or "/plans/:id/edit" after it, else null. */
export function wizardRoute(subpath: string): { planId: string | null } | null {
  if (subpath === "/plans/new") return { planId: null };
  const m = /^\/plans\/([^/]+)\/edit$/.exec(subpath);
  if (!m?.[1]) return null;
  try {
    return { planId: decodeURIComponent(m[1]) };
  } catch {
    return null;
  }
}
