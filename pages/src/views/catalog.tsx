// Catalog: products and their metrics, plans with their components in words, customers,
// subscriptions and the cost catalog (model and provider prices).

import { useState } from "preact/hooks";
import type {
  CostCatalogEntry,
  Customer,
  Metric,
  Page,
  Plan,
  Subscription,
} from "../../../contracts";
import { Badge, Empty, FilterSelect, PageHeader, QueryView, Refused } from "../components/ui";
import { useApi, withQuery } from "../lib/api";
import { catalogChanged, useCatalog } from "../lib/catalog";
import { dateOnly, dateTime, unitMoney, words } from "../lib/format";
import { usePermit } from "../lib/me";
import { WIZARD_PATH } from "../lib/plan-wizard";
import { describeComponent } from "../lib/plans";
import { Link, navigate, useLocation } from "../lib/router";
import {
  CATALOG_TABS,
  type CatalogState,
  catalogSpec,
  hrefFor,
  parseState,
} from "../lib/url-state";
import { useQuery } from "../lib/use-query";
import type { ViewProps } from "./cockpit";
import { PlanWizardView, wizardRoute } from "./plan-wizard";

const TAB_LABELS: Record<CatalogState["tab"], string> = {
  products: "Products & metrics",
  plans: "Plans",
  customers: "Customers",
  subscriptions: "Subscriptions",
  costs: "Cost catalog",
};

export function CatalogView(props: ViewProps) {
  const loc = useLocation();
  const wizard = wizardRoute(loc.path.slice(props.path.length));
  if (wizard)
    return (
      <PlanWizardView key={wizard.planId ?? ""} planId={wizard.planId} search={props.search} />
    );
  const state = parseState(catalogSpec, props.search);
  const go = (changes: Partial<CatalogState>, replace = false) =>
    navigate(hrefFor(props.path, catalogSpec, { ...state, cursor: null, ...changes }), { replace });
  return (
    <section aria-labelledby="page-title">
      <PageHeader title="Catalog" subtitle="What you sell, to whom, and what it costs you." />
      <nav class="tabs" aria-label="Catalog sections">
        {CATALOG_TABS.map((t) => (
          <Link
            key={t}
            href={hrefFor(props.path, catalogSpec, {
              tab: t,
              q: "",
              product: state.product,
              customer: null,
              cursor: null,
            })}
            class={state.tab === t ? "active" : undefined}
            aria-current={state.tab === t ? "page" : undefined}
          >
            {TAB_LABELS[t]}
          </Link>
        ))}
      </nav>
      {state.tab === "products" ? <ProductsTab /> : null}
      {state.tab === "plans" ? <PlansTab state={state} go={go} /> : null}
      {state.tab === "customers" ? <CustomersTab state={state} go={go} /> : null}
      {state.tab === "subscriptions" ? <SubscriptionsTab state={state} go={go} /> : null}
      {state.tab === "costs" ? <CostsTab /> : null}
    </section>
  );
}

type TabProps = {
  state: CatalogState;
  go: (changes: Partial<CatalogState>, replace?: boolean) => void;
};

function ProductsTab() {
  const catalog = useCatalog();
  if (!catalog.loaded)
    return (
      <div class="state state-loading" role="status">
        Loading products…
      </div>
    );
  if (catalog.products.length === 0)
    return (
      <Empty title="No products yet">
        Create one with <code>POST /api/products</code>, then add metrics with{" "}
        <code>POST /api/products/:id/metrics</code>.
      </Empty>
    );
  return (
    <div class="cards">
      {catalog.products.map((p) => (
        <article class="panel" key={p.id} data-product={p.id}>
          <h2>
            {p.name} <span class="muted mono small">{p.id}</span>
          </h2>
          {p.description ? <p>{p.description}</p> : null}
          <table class="compact">
            <caption class="sr-only">Metrics of {p.name}</caption>
            <thead>
              <tr>
                <th scope="col">Metric</th>
                <th scope="col">Unit</th>
                <th scope="col">Aggregation</th>
              </tr>
            </thead>
            <tbody>
              {p.metrics.map((m) => (
                <tr key={m.id}>
                  <th scope="row">
                    {m.name ?? words(m.id)} <span class="muted mono small">{m.id}</span>
                  </th>
                  <td>{m.unit}</td>
                  <td>{words(m.aggregation)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <p class="small">
            <Link
              href={hrefFor("/catalog", catalogSpec, {
                tab: "plans",
                q: "",
                product: p.id,
                customer: null,
                cursor: null,
              })}
            >
              Plans of {p.name} →
            </Link>
          </p>
        </article>
      ))}
    </div>
  );
}

export function planLines(plan: Plan, metrics: Record<string, Metric | undefined>): string[] {
  return plan.components.map((c) =>
    describeComponent(c, { currency: plan.currency, period: plan.period, metrics }),
  );
}

function PlansTab({ state, go }: TabProps) {
  const catalog = useCatalog();
  const permit = usePermit("pricing:write");
  const metrics = Object.fromEntries(
    catalog.products.flatMap((p) => p.metrics.map((m) => [m.id, m] as const)),
  );
  const plans = catalog.plans.filter((p) => !state.product || p.product === state.product);
  return (
    <>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <FilterSelect
          label="Product"
          name="product"
          value={state.product}
          anyLabel="All products"
          options={catalog.products.map((p) => ({ value: p.id, label: p.name }))}
          onChange={(v) => go({ product: v })}
        />
        <Link href={WIZARD_PATH} class="btn btn-primary">
          New plan
        </Link>
      </form>
      {!catalog.loaded ? (
        <div class="state state-loading" role="status">
          Loading plans…
        </div>
      ) : plans.length === 0 ? (
        <Empty title="No plans">
          Create one with the <Link href={WIZARD_PATH}>plan wizard</Link> or{" "}
          <code>POST /api/plans</code>.
        </Empty>
      ) : (
        <div class="cards">
          {plans.map((p) => (
            <article class="panel plan" key={p.id} data-plan={p.id}>
              <h2>
                {p.name} <span class="muted mono small">{p.id}</span>
              </h2>
              <p class="muted">
                {catalog.products.find((x) => x.id === p.product)?.name ?? p.product} · billed{" "}
                {p.period === "year" ? "yearly" : "monthly"} in {p.currency}
                {p.trial_days ? ` · ${p.trial_days}-day trial` : ""}{" "}
                {p.status !== "active" ? (
                  <Badge
                    tone="warn"
                    title={
                      p.status === "draft"
                        ? "Priced and previewed, not subscribable until published"
                        : undefined
                    }
                  >
                    {p.status}
                  </Badge>
                ) : null}
              </p>
              <ul class="components">
                {planLines(p, metrics).map((line, i) => (
                  <li key={i}>{line}</li>
                ))}
              </ul>
              {p.status === "draft" ? <DraftActions plan={p} reason={permit.reason} /> : null}
            </article>
          ))}
        </div>
      )}
    </>
  );
}

/** A draft's way on: back into the wizard, or published as it is. */
function DraftActions(props: { plan: Plan; reason: string | null }) {
  const api = useApi();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const publish = () => {
    setBusy(true);
    setError(null);
    api.post(`/api/plans/${encodeURIComponent(props.plan.id)}/publish`).then(
      () => {
        setBusy(false);
        catalogChanged();
      },
      (err) => {
        setBusy(false);
        setError((err as Error).message);
      },
    );
  };
  return (
    <div class="editor-actions">
      <Link href={`/catalog/plans/${encodeURIComponent(props.plan.id)}/edit`} class="btn">
        Edit draft
      </Link>
      <button
        type="button"
        class="btn btn-primary"
        disabled={busy || props.reason !== null}
        onClick={publish}
      >
        {busy ? "Publishing…" : `Publish ${props.plan.name}`}
      </button>
      {error ? (
        <p class="form-error" role="alert">
          {error}
        </p>
      ) : null}
      <Refused reason={props.reason} what="Publishing" />
    </div>
  );
}

function Pager(props: { cursor: string | null; next: string | null; go: TabProps["go"] }) {
  return (
    <div class="pager">
      <button
        type="button"
        class="btn"
        disabled={!props.cursor}
        onClick={() => props.go({ cursor: null })}
      >
        First page
      </button>
      <button
        type="button"
        class="btn"
        disabled={!props.next}
        onClick={() => props.go({ cursor: props.next })}
      >
        Next page →
      </button>
    </div>
  );
}

function CustomersTab({ state, go }: TabProps) {
  const q = useQuery<Page<Customer>>(
    withQuery("/api/customers", { q: state.q, limit: 50, cursor: state.cursor }),
  );
  return (
    <>
      <form
        class="filters"
        aria-label="Search customers"
        onSubmit={(e) => {
          e.preventDefault();
          const input = (e.currentTarget as HTMLFormElement).elements.namedItem(
            "q",
          ) as HTMLInputElement;
          go({ q: input.value });
        }}
      >
        <label class="field">
          <span>Search id, name or email</span>
          <input name="q" type="search" defaultValue={state.q} key={state.q} />
        </label>
        <button type="submit" class="btn">
          Search
        </button>
      </form>
      <QueryView q={q} what="customers">
        {(page) =>
          page.data.length === 0 ? (
            <Empty title={state.q ? `No customer matches “${state.q}”` : "No customers yet"} />
          ) : (
            <>
              <div class="table-wrap">
                <table data-testid="customers-table">
                  <thead>
                    <tr>
                      <th scope="col">Customer</th>
                      <th scope="col">Email</th>
                      <th scope="col">Segment</th>
                      <th scope="col">Created</th>
                      <th scope="col">Links</th>
                    </tr>
                  </thead>
                  <tbody>
                    {page.data.map((c) => (
                      <tr key={c.id} data-customer={c.id}>
                        <th scope="row">
                          {c.name} <span class="muted mono small">{c.id}</span>
                        </th>
                        <td>{c.email ?? "—"}</td>
                        <td>{String(c.metadata.segment ?? c.metadata.tier ?? "—")}</td>
                        <td>{dateOnly(c.created_at)}</td>
                        <td class="small">
                          <Link href={`/margin?customer=${encodeURIComponent(c.id)}`}>margin</Link>{" "}
                          ·{" "}
                          <Link href={`/signals?status=all&customer=${encodeURIComponent(c.id)}`}>
                            signals
                          </Link>{" "}
                          ·{" "}
                          <Link
                            href={hrefFor("/catalog", catalogSpec, {
                              tab: "subscriptions",
                              q: "",
                              product: null,
                              customer: c.id,
                              cursor: null,
                            })}
                          >
                            subscriptions
                          </Link>
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              <Pager cursor={state.cursor} next={page.next_cursor} go={go} />
            </>
          )
        }
      </QueryView>
    </>
  );
}

const STATUS_TONES: Record<string, string> = {
  active: "good",
  trialing: "info",
  past_due: "warn",
  suspended: "bad",
  canceled: "neutral",
};

function SubscriptionsTab({ state, go }: TabProps) {
  const catalog = useCatalog();
  const q = useQuery<Page<Subscription>>(
    withQuery("/api/subscriptions", {
      customer: state.customer,
      product: state.product,
      limit: 50,
      cursor: state.cursor,
    }),
  );
  const planName = (id: string) => catalog.plans.find((p) => p.id === id)?.name ?? id;
  return (
    <>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <FilterSelect
          label="Product"
          name="product"
          value={state.product}
          anyLabel="All products"
          options={catalog.products.map((p) => ({ value: p.id, label: p.name }))}
          onChange={(v) => go({ product: v })}
        />
        <label class="field">
          <span>Customer</span>
          <input
            name="customer"
            placeholder="customer id"
            value={state.customer ?? ""}
            onChange={(e) =>
              go({ customer: (e.currentTarget as HTMLInputElement).value.trim() || null })
            }
          />
        </label>
      </form>
      <QueryView q={q} what="subscriptions">
        {(page) =>
          page.data.length === 0 ? (
            <Empty title="No subscriptions match" />
          ) : (
            <>
              <div class="table-wrap">
                <table data-testid="subscriptions-table">
                  <thead>
                    <tr>
                      <th scope="col">Subscription</th>
                      <th scope="col">Customer</th>
                      <th scope="col">Plan</th>
                      <th scope="col">Status</th>
                      <th scope="col">Start</th>
                      <th scope="col">Trial ends</th>
                      <th scope="col">Ends</th>
                    </tr>
                  </thead>
                  <tbody>
                    {page.data.map((s) => (
                      <tr key={s.id} data-subscription={s.id}>
                        <th scope="row" class="mono small">
                          {s.id}
                        </th>
                        <td>{s.customer}</td>
                        <td>{planName(s.plan)}</td>
                        <td>
                          <Badge tone={STATUS_TONES[s.status]}>{words(s.status)}</Badge>
                        </td>
                        <td>{dateOnly(s.start)}</td>
                        <td>{s.trial_end ? dateOnly(s.trial_end) : "—"}</td>
                        <td>{s.end ? dateTime(s.end) : "—"}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              <Pager cursor={state.cursor} next={page.next_cursor} go={go} />
            </>
          )
        }
      </QueryView>
    </>
  );
}

function CostsTab() {
  const q = useQuery<{ data: CostCatalogEntry[] }>("/api/cost-catalog");
  return (
    <QueryView q={q} what="the cost catalog">
      {(list) =>
        list.data.length === 0 ? (
          <Empty title="No model prices yet">
            Set them with <code>PUT /api/cost-catalog</code>; events of unknown models are kept and
            flagged “uncosted”.
          </Empty>
        ) : (
          <div class="table-wrap">
            <table data-testid="costs-table">
              <thead>
                <tr>
                  <th scope="col">Provider · model</th>
                  <th scope="col" class="num">
                    Input / M tokens
                  </th>
                  <th scope="col" class="num">
                    Output / M tokens
                  </th>
                  <th scope="col" class="num">
                    Cached input / M
                  </th>
                  <th scope="col" class="num">
                    Per call
                  </th>
                  <th scope="col">Effective from</th>
                </tr>
              </thead>
              <tbody>
                {list.data.map((c) => (
                  <tr key={`${c.provider}/${c.model}/${c.effective_from}`}>
                    <th scope="row">
                      {c.provider} · {c.model}
                    </th>
                    <td class="num">{unitMoney(c.input_per_million, "USD")}</td>
                    <td class="num">{unitMoney(c.output_per_million, "USD")}</td>
                    <td class="num">
                      {c.cached_input_per_million
                        ? unitMoney(c.cached_input_per_million, "USD")
                        : "—"}
                    </td>
                    <td class="num">{c.per_call ? unitMoney(c.per_call, "USD") : "—"}</td>
                    <td>{dateOnly(c.effective_from)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )
      }
    </QueryView>
  );
}
