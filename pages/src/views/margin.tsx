// COGS & Margin (SPEC §8): revenue vs COGS over 30/60/90 days, the P&L per product, customers
// ranked by contribution margin with those costing more than they pay highlighted, and a
// customer's drill-down: daily trend and every event with model, provider, tokens, revenue, cost.

import type { HTMLAttributes } from "preact";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import type {
  Customer,
  CustomerMarginDetail,
  CustomerMarginList,
  Page,
  ProductMarginList,
  RollupRow,
  StoredEvent,
} from "../../../contracts";
import { DAY_MS } from "../../../domain/time";
import { ChartView, COLORS } from "../components/charts";
import { type Column, DataTable } from "../components/data-table";
import { FilterBar, SegmentedFilter } from "../components/filter-bar";
import { Pager } from "../components/pager";
import {
  Badge,
  Empty,
  ErrorState,
  FilterSelect,
  Loading,
  PageHeader,
  QueryView,
} from "../components/ui";
import { type ApiClient, withQuery } from "../lib/api";
import { useCatalog } from "../lib/catalog";
import {
  dateTime,
  dateTimeSeconds,
  dayLabel,
  decimal,
  instant,
  integer,
  money,
  moneyCompact,
  percent,
  words,
} from "../lib/format";
import {
  dailyTrend,
  type MarginModel,
  type PnlRow,
  rankCustomers,
  rowFromApi,
  sumRollups,
  totalsOf,
} from "../lib/margin";
import { Link, navigate } from "../lib/router";
import { hrefFor, type MarginState, marginSpec, parseState } from "../lib/url-state";
import { isNotFound, useQuery } from "../lib/use-query";
import type { ViewProps } from "./cockpit";

const PAGE = 25;

/** A share as a percentage, never rounding a non-zero share down to 0.0 %. */
export function sharePct(v: number | null): string {
  return v !== null && v > 0 && v < 0.0005 ? "< 0.1%" : percent(v);
}
const eventsWord = (n: number) => `${integer(n)} ${n === 1 ? "event" : "events"}`;

/** Revenue, COGS and margin of a P&L row, each cell marked with its field for the tests. */
const moneyColumns = (currency: string): Column<PnlRow>[] =>
  (["revenue", "cost", "margin"] as const).map((field) => ({
    header: field === "cost" ? "COGS" : field === "revenue" ? "Revenue" : "Margin",
    num: true,
    // A data-* attribute alone is not one of HTMLAttributes' named fields: say what it is.
    cellProps: (): HTMLAttributes<HTMLTableCellElement> & { "data-field": string } => ({
      "data-field": field,
    }),
    cell: (r: PnlRow) => money(r[field], currency),
  }));

/** [from, to) covering the last `days` UTC days, today included. */
export function windowRange(days: number, now = Date.now()) {
  const today = Math.floor(now / DAY_MS) * DAY_MS;
  return { from: today - (days - 1) * DAY_MS, to: today + DAY_MS };
}

async function loadMargin(
  api: ApiClient,
  q: { days: number; product: string | null; rank: MarginState["rank"]; only: MarginState["only"] },
  signal: AbortSignal,
): Promise<MarginModel> {
  try {
    const [products, customers] = await Promise.all([
      api.get<ProductMarginList>(
        withQuery("/api/margin/products", { days: q.days, product: q.product }),
        signal,
      ),
      api.get<CustomerMarginList>(
        withQuery("/api/margin/customers", {
          days: q.days,
          product: q.product,
          unprofitable: q.only === "losing" ? "true" : null,
          sort: "contribution_margin",
          order: q.rank === "worst" ? "asc" : "desc",
          limit: 500,
        }),
        signal,
      ),
    ]);
    const totals = rowFromApi(products.totals, "product");
    return {
      source: "margin-api",
      products: products.data.map((r) => rowFromApi(r, "product")),
      customers: customers.data.map((r) => rowFromApi(r, "customer")),
      customerCount: customers.totals.customers,
      losingCount: customers.totals.unprofitable_customers,
      losingPaying: customers.totals.unprofitable_paying ?? null,
      losingNoRevenue: customers.totals.unprofitable_no_revenue ?? null,
      uncosted: totals.uncosted,
      trend: dailyTrend(products.totals.trend),
      totals: {
        revenue: totals.revenue,
        cost: totals.cost,
        margin: totals.margin,
        marginPct: totals.marginPct,
      },
      builtAt: instant(products.window.built_at),
    };
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  // A server without the margin read models: usage revenue and COGS from the rollups.
  const { from, to } = windowRange(q.days);
  const range = {
    from: new Date(from).toISOString(),
    to: new Date(to).toISOString(),
    product: q.product,
  };
  const [byProduct, byCustomer] = await Promise.all([
    api.get<{ data: RollupRow[] }>(
      withQuery("/api/rollups", { group_by: "product", granularity: "day", ...range }),
      signal,
    ),
    api.get<{ data: RollupRow[] }>(
      withQuery("/api/rollups", { group_by: "customer", granularity: "day", ...range }),
      signal,
    ),
  ]);
  const products = sumRollups(byProduct.data, "product");
  const all = sumRollups(byCustomer.data, "customer");
  const customers = rankCustomers(q.only === "losing" ? all.filter((c) => c.losing) : all, q.rank);
  return {
    source: "rollups",
    products,
    customers,
    customerCount: customers.length,
    losingCount: all.filter((c) => c.losing).length,
    losingPaying: null,
    losingNoRevenue: null,
    uncosted: null,
    trend: dailyTrend(byProduct.data),
    totals: totalsOf(products),
    builtAt: null,
  };
}

export function MarginView(props: ViewProps) {
  const state = parseState(marginSpec, props.search);
  const go = (changes: Partial<MarginState>, replace = false) =>
    navigate(hrefFor(props.path, marginSpec, { ...state, ...changes }), { replace });
  const catalog = useCatalog();
  const currency = catalog.currency;
  const days = Number(state.days);

  const margin = useQuery<MarginModel>(
    `margin:${days}:${state.product ?? ""}:${state.rank}:${state.only}`,
    (api, signal) =>
      loadMargin(api, { days, product: state.product, rank: state.rank, only: state.only }, signal),
  );

  return (
    <section aria-labelledby="page-title">
      <PageHeader
        title="COGS & Margin"
        subtitle={
          margin.data
            ? margin.data.source === "margin-api"
              ? `Last ${days} days · revenue = usage + recognised platform fees${margin.data.builtAt ? ` · computed ${dateTime(margin.data.builtAt)}` : ""}`
              : `Last ${days} days · from usage rollups (usage revenue; the margin API is not available on this server yet)`
            : `Last ${days} days`
        }
        actions={
          <FilterBar label="Window and product" inline>
            <SegmentedFilter
              label="Window"
              value={state.days}
              options={(["30", "60", "90"] as const).map((d) => ({ value: d, label: `${d} days` }))}
              onChange={(d) => go({ days: d, cursor: null })}
            />
            <FilterSelect
              label="Product"
              name="product"
              value={state.product}
              anyLabel="All products"
              options={catalog.products.map((p) => ({ value: p.id, label: p.name }))}
              onChange={(v) => go({ product: v, cursor: null })}
            />
          </FilterBar>
        }
      />
      <QueryView q={margin} what="margin">
        {(m) => (
          <>
            <div
              class="summary-cards"
              style={m.uncosted ? { gridTemplateColumns: "repeat(5, minmax(0, 1fr))" } : undefined}
            >
              <Summary
                label="Revenue"
                value={money(m.totals.revenue, currency)}
                testid="total-revenue"
              />
              <Summary label="COGS" value={money(m.totals.cost, currency)} testid="total-cogs" />
              <Summary
                label="Contribution margin"
                value={money(m.totals.margin, currency)}
                tone={m.totals.margin < 0 ? "bad" : "good"}
                testid="total-margin"
              />
              <Summary
                label="Margin %"
                value={percent(m.totals.marginPct)}
                testid="total-margin-pct"
              />
              {m.uncosted ? (
                <Summary
                  label="Uncosted (cost unknown)"
                  value={`${sharePct(m.uncosted.eventsShare)} of events`}
                  detail={`${sharePct(m.uncosted.revenueShare)} of usage revenue · ${eventsWord(m.uncosted.events)}`}
                  testid="total-uncosted"
                />
              ) : null}
            </div>
            {m.uncosted && m.uncosted.events > 0 ? (
              <p class="warning" role="note" data-testid="uncosted-note">
                {eventsWord(m.uncosted.events)} ({sharePct(m.uncosted.eventsShare)}) carried no cost
                Aforo could price, so COGS leaves them out and the margin above is better than it
                really is for {sharePct(m.uncosted.revenueShare)} of usage revenue (
                {money(m.uncosted.revenue, currency)}). Send <code>cost.usd</code> or a priced{" "}
                <code>cost.provider</code> + <code>cost.model</code> with those events, or declare
                their metric <code>carries_cost: false</code>.
              </p>
            ) : null}
            {state.customer ? (
              <CustomerDrill
                customer={state.customer}
                days={days}
                cursor={state.cursor}
                currency={currency}
                row={m.customers.find((c) => c.id === state.customer)}
                onCursor={(c) => go({ cursor: c })}
                onClose={() => go({ customer: null, cursor: null })}
              />
            ) : null}
            <div class="grid-2">
              <section class="panel" aria-labelledby="trend-title">
                <h2 id="trend-title">Revenue vs COGS, daily</h2>
                <TrendChart points={m.trend} currency={currency} label="Revenue and COGS per day" />
              </section>
              <ProductTable rows={m.products} currency={currency} />
            </div>
            <CustomerRanking
              model={m}
              rank={state.rank}
              only={state.only}
              currency={currency}
              selected={state.customer}
              onRank={(r) => go({ rank: r })}
              onOnly={(o) => go({ only: o })}
              hrefOf={(id) =>
                hrefFor(props.path, marginSpec, { ...state, customer: id, cursor: null })
              }
            />
          </>
        )}
      </QueryView>
    </section>
  );
}

function Summary(props: {
  label: string;
  value: string;
  detail?: string;
  tone?: string;
  testid?: string;
}) {
  return (
    <div class={`summary ${props.tone ? `tone-${props.tone}` : ""}`}>
      <div class="summary-label">{props.label}</div>
      <div class="summary-value" data-testid={props.testid}>
        {props.value}
      </div>
      {props.detail ? <div class="muted small">{props.detail}</div> : null}
    </div>
  );
}

function TrendChart(props: { points: MarginModel["trend"]; currency: string; label: string }) {
  const { points, currency } = props;
  const config = useMemo(
    () => ({
      type: "line" as const,
      data: {
        labels: points.map((p) => dayLabel(p.day)),
        datasets: [
          {
            label: "Revenue",
            data: points.map((p) => p.revenue),
            borderColor: COLORS.revenue,
            backgroundColor: `${COLORS.revenue}22`,
            fill: false,
            pointRadius: 0,
            borderWidth: 2,
            tension: 0.2,
          },
          {
            label: "COGS",
            data: points.map((p) => p.cost),
            borderColor: COLORS.cost,
            backgroundColor: `${COLORS.cost}22`,
            fill: false,
            pointRadius: 0,
            borderWidth: 2,
            tension: 0.2,
          },
        ],
      },
      options: {
        interaction: { intersect: false, mode: "index" as const },
        plugins: {
          legend: { position: "bottom" as const, labels: { boxWidth: 12 } },
          tooltip: {
            callbacks: {
              label: (ctx: { dataset: { label?: string }; parsed: { y: number } }) =>
                `${ctx.dataset.label}: ${money(ctx.parsed.y, currency)}`,
            },
          },
        },
        scales: {
          x: { grid: { display: false }, ticks: { maxTicksLimit: 8 } },
          y: {
            beginAtZero: true,
            ticks: { callback: (v: string | number) => moneyCompact(v, currency) },
          },
        },
      },
    }),
    [points, currency],
  );
  if (points.length === 0) return <Empty title="No usage in this window" />;
  return <ChartView config={config} label={props.label} height={240} />;
}

function ProductTable(props: { rows: PnlRow[]; currency: string }) {
  const catalog = useCatalog();
  const name = (id: string) => catalog.products.find((p) => p.id === id)?.name ?? id;
  const rows = [...props.rows].sort((a, b) => b.revenue - a.revenue);
  return (
    <section class="panel" aria-labelledby="pnl-title">
      <h2 id="pnl-title">P&amp;L per product</h2>
      {rows.length === 0 ? (
        <Empty title="No revenue or COGS in this window" />
      ) : (
        <DataTable
          testid="product-pnl"
          rows={rows}
          rowKey={(r) => r.id}
          rowProps={(r) => ({ "data-product": r.id, class: r.losing ? "row-losing" : undefined })}
          columns={[
            { header: "Product", rowHeader: true, cell: (r) => name(r.id) },
            ...moneyColumns(props.currency),
            { header: "Margin %", num: true, cell: (r) => percent(r.marginPct) },
            rows.some((r) => r.uncosted) && {
              header: "Uncosted",
              num: true,
              title: "Events whose cost Aforo does not know",
              cellProps: (r) =>
                r.uncosted
                  ? {
                      "data-field": "uncosted",
                      style: r.uncosted.events > 0 ? { color: "var(--warn)" } : undefined,
                      title: `${eventsWord(r.uncosted.events)}, ${sharePct(r.uncosted.revenueShare)} of usage revenue`,
                    }
                  : {},
              cell: (r) =>
                !r.uncosted ? null : r.uncosted.events > 0 ? (
                  <>
                    {sharePct(r.uncosted.eventsShare)}
                    <span class="muted small"> · {sharePct(r.uncosted.revenueShare)} rev.</span>
                  </>
                ) : (
                  <span class="muted">none</span>
                ),
            },
          ]}
        />
      )}
    </section>
  );
}

function CustomerRanking(props: {
  model: MarginModel;
  rank: MarginState["rank"];
  only: MarginState["only"];
  currency: string;
  selected: string | null;
  onRank: (r: MarginState["rank"]) => void;
  onOnly: (o: MarginState["only"]) => void;
  hrefOf: (id: string) => string;
}) {
  const [showAll, setShowAll] = useState(false);
  // The API ranks (by contribution margin, in the chosen order); the fallback is ranked too.
  const losing = props.model.losingCount;
  // Costing more than they pay means two things: a paying customer priced below its cost (a
  // pricing problem), or a $0-revenue account (a trial, a free plan, an unknown customer: spend).
  // With "only those", the paying ones come first and the $0-revenue ones are listed apart.
  const all = props.model.customers;
  const split = props.only === "losing";
  const ranked = split ? all.filter((r) => !r.noRevenue) : all;
  const free = split ? all.filter((r) => r.noRevenue) : [];
  const shown = showAll ? ranked : ranked.slice(0, PAGE);
  return (
    <section class="panel" aria-labelledby="customers-title">
      <div class="panel-head">
        <h2 id="customers-title">Customers by contribution margin</h2>
        <FilterBar label="Order the customers" inline>
          <FilterSelect
            label="Order"
            value={props.rank}
            options={[
              { value: "worst", label: "Worst first" },
              { value: "best", label: "Best first" },
            ]}
            onChange={(v) => props.onRank((v ?? "worst") as MarginState["rank"])}
          />
          <label class="field field-inline">
            <input
              type="checkbox"
              name="only"
              checked={props.only === "losing"}
              onChange={(e) =>
                props.onOnly((e.currentTarget as HTMLInputElement).checked ? "losing" : "all")
              }
            />
            <span>Only those costing more than they pay</span>
          </label>
        </FilterBar>
      </div>
      <p class="muted">
        {integer(props.model.customerCount)} customers ·{" "}
        <strong class={losing ? "text-bad" : undefined} data-testid="losing-count">
          {integer(losing)}
        </strong>{" "}
        cost more than they pay (highlighted)
        {props.model.losingPaying !== null && props.model.losingNoRevenue !== null ? (
          <>
            : <strong data-testid="losing-paying">{integer(props.model.losingPaying)}</strong>{" "}
            paying customers and{" "}
            <strong data-testid="losing-free">{integer(props.model.losingNoRevenue)}</strong> with
            $0 revenue (trials, free plans, unknown customers)
          </>
        ) : null}
        . Select a customer for their trend and events.
      </p>
      {split ? <h3>Paying customers costing more than they pay</h3> : null}
      {ranked.length === 0 ? (
        <Empty
          title={
            props.only === "losing"
              ? "No paying customer costs more than they pay in this window"
              : "No customer usage in this window"
          }
        />
      ) : (
        <>
          <DataTable
            testid="customer-ranking"
            rows={shown}
            rowKey={(r) => r.id}
            rowProps={(r) => ({
              "data-customer": r.id,
              class: `${r.losing ? "row-losing" : ""} ${props.selected === r.id ? "row-selected" : ""}`,
            })}
            columns={[
              { header: "#", num: true, cell: (_, i) => i + 1 },
              {
                header: "Customer",
                rowHeader: true,
                cell: (r) => (
                  <>
                    <Link href={props.hrefOf(r.id)}>{r.name ?? r.id}</Link>
                    <CustomerLabels row={r} />
                    {r.losing ? (
                      <>
                        {" "}
                        <Badge tone="bad" title="COGS above revenue in this window">
                          costs more than it pays
                        </Badge>
                      </>
                    ) : null}
                  </>
                ),
              },
              ...moneyColumns(props.currency),
              { header: "Margin %", num: true, cell: (r) => percent(r.marginPct) },
              { header: "Events", num: true, cell: (r) => integer(r.events) },
            ]}
          />
          {ranked.length > PAGE ? (
            <button type="button" class="btn" onClick={() => setShowAll(!showAll)}>
              {showAll ? `Show the first ${PAGE}` : `Show all ${integer(ranked.length)}`}
            </button>
          ) : null}
        </>
      )}
      {split ? <FreeAccounts rows={free} currency={props.currency} hrefOf={props.hrefOf} /> : null}
    </section>
  );
}

/** Customers badges: unknown (only in events) and $0 revenue. */
function CustomerLabels(props: { row: PnlRow }) {
  const r = props.row;
  return (
    <>
      {!r.known ? (
        <>
          {" "}
          <Badge tone="warn" title="Seen only in events: not in the customer table">
            unknown customer
          </Badge>
        </>
      ) : null}
      {r.noRevenue && r.known ? (
        <>
          {" "}
          <Badge tone="neutral" title="No revenue in this window: a trial or a free plan">
            $0 revenue
          </Badge>
        </>
      ) : null}
      {r.uncostedEvents ? (
        <>
          {" "}
          <Badge tone="warn" title="Events whose cost Aforo does not know">
            {integer(r.uncostedEvents)} uncosted
          </Badge>
        </>
      ) : null}
    </>
  );
}

/** The $0-revenue accounts costing more than they pay: their cost is spend, not a price. */
function FreeAccounts(props: { rows: PnlRow[]; currency: string; hrefOf: (id: string) => string }) {
  const [showAll, setShowAll] = useState(false);
  const shown = showAll ? props.rows : props.rows.slice(0, PAGE);
  const cost = props.rows.reduce((s, r) => s + r.cost, 0);
  return (
    <div data-testid="free-accounts">
      <h3>
        $0-revenue accounts with cost: trials, free plans, unknown customers (
        {integer(props.rows.length)} · {money(cost, props.currency)} COGS)
      </h3>
      {props.rows.length === 0 ? (
        <Empty title="No $0-revenue account has cost in this window" />
      ) : (
        <>
          <DataTable
            testid="free-ranking"
            rows={shown}
            rowKey={(r) => r.id}
            rowProps={(r) => ({ "data-customer": r.id })}
            columns={[
              {
                header: "Account",
                rowHeader: true,
                cell: (r) => (
                  <>
                    <Link href={props.hrefOf(r.id)}>{r.name ?? r.id}</Link>
                    <CustomerLabels row={r} />
                  </>
                ),
              },
              {
                header: "Plans",
                class: "small",
                cell: (r) => r.segment ?? (r.known ? "no subscription" : "—"),
              },
              moneyColumns(props.currency)[1],
              { header: "Events", num: true, cell: (r) => integer(r.events) },
            ]}
          />
          {props.rows.length > PAGE ? (
            <button type="button" class="btn" onClick={() => setShowAll(!showAll)}>
              {showAll ? `Show the first ${PAGE}` : `Show all ${integer(props.rows.length)}`}
            </button>
          ) : null}
        </>
      )}
    </div>
  );
}

function CustomerDrill(props: {
  customer: string;
  days: number;
  cursor: string | null;
  currency: string;
  row: PnlRow | undefined;
  onCursor: (c: string | null) => void;
  onClose: () => void;
}) {
  const { customer, days, currency } = props;
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    heading.current?.focus();
  }, [customer]);
  // The customer's own P&L trend (usage + fees) from the margin API, else usage from rollups.
  const trend = useQuery<{ points: MarginModel["trend"]; source: string }>(
    `drill-trend:${customer}:${days}`,
    async (api, signal) => {
      try {
        const detail = await api.get<CustomerMarginDetail>(
          withQuery(`/api/margin/customers/${encodeURIComponent(customer)}`, { days }),
          signal,
        );
        return { points: dailyTrend(detail.trend), source: "margin" };
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      const { from, to } = windowRange(days);
      const rows = await api.get<{ data: RollupRow[] }>(
        withQuery("/api/rollups", {
          granularity: "day",
          customer,
          from: new Date(from).toISOString(),
          to: new Date(to).toISOString(),
        }),
        signal,
      );
      return { points: dailyTrend(rows.data), source: "rollups" };
    },
  );
  const info = useQuery<Customer>(`/api/customers/${encodeURIComponent(customer)}`);
  const events = useQuery<Page<StoredEvent>>(
    withQuery(`/api/customers/${encodeURIComponent(customer)}/events`, {
      limit: PAGE,
      cursor: props.cursor,
    }),
  );
  const points = trend.data?.points ?? [];
  const name = info.data?.name ?? props.row?.name ?? customer;
  return (
    <section class="panel drill" aria-labelledby="drill-title" data-testid="customer-drill">
      <div class="panel-head">
        <h2 id="drill-title" ref={heading} tabIndex={-1}>
          {name} <span class="muted">({customer})</span>
          {props.row?.losing ? (
            <>
              {" "}
              <Badge tone="bad">costs more than it pays</Badge>
            </>
          ) : null}
        </h2>
        <button type="button" class="btn" onClick={props.onClose}>
          Close
        </button>
      </div>
      {info.error && isNotFound(info.error) ? (
        <p class="muted">
          Not in the catalog: usage for this customer id is counted without revenue.
        </p>
      ) : null}
      {props.row ? (
        <p>
          Last {days} days: revenue {money(props.row.revenue, currency)}, COGS{" "}
          {money(props.row.cost, currency)}, margin {money(props.row.margin, currency)} (
          {percent(props.row.marginPct)}).
        </p>
      ) : null}
      <div class="grid-2">
        <div>
          <h3>Daily trend</h3>
          {trend.error ? (
            <ErrorState error={trend.error} onRetry={trend.reload} what="the trend" />
          ) : !trend.data ? (
            <Loading />
          ) : (
            <TrendChart
              points={points}
              currency={currency}
              label={`Revenue and COGS of ${name} per day`}
            />
          )}
        </div>
        <div>
          <h3>Events</h3>
          <QueryView q={events} what="events">
            {(page) =>
              page.data.length === 0 ? (
                <Empty title="No events kept for this customer" />
              ) : (
                <>
                  <DataTable
                    compact
                    testid="drill-events"
                    rows={page.data}
                    rowKey={(e) => e.id}
                    rowProps={(e) => ({ "data-event": e.id, title: e.id })}
                    columns={[
                      { header: "Time", cell: (e) => dateTimeSeconds(e.time) },
                      {
                        header: "Metric",
                        cell: (e) => (
                          <>
                            {words(e.metric)}
                            {e.flags.length ? (
                              <div class="flags">
                                {e.flags.map((f) => (
                                  <Badge key={f} tone="warn">
                                    {words(f)}
                                  </Badge>
                                ))}
                              </div>
                            ) : null}
                          </>
                        ),
                      },
                      { header: "Quantity", num: true, cell: (e) => decimal(e.quantity, 6) },
                      { header: "Model", cell: (e) => e.model ?? "—" },
                      { header: "Provider", cell: (e) => e.provider ?? "—" },
                      {
                        header: "Tokens in / out",
                        num: true,
                        cell: (e) =>
                          e.input_tokens === null && e.output_tokens === null
                            ? "—"
                            : `${integer(e.input_tokens)} / ${integer(e.output_tokens)}`,
                      },
                      {
                        header: "Revenue",
                        num: true,
                        cell: (e) => money(e.revenue, currency, { digits: 4 }),
                      },
                      {
                        header: "Cost",
                        num: true,
                        cell: (e) => (
                          <>
                            {money(e.cost, currency, { digits: 4 })}
                            {e.cost_status !== "costed" && e.cost_status ? (
                              <div class="muted">{words(e.cost_status)}</div>
                            ) : null}
                          </>
                        ),
                      },
                    ]}
                  />
                  <Pager
                    label="Pages of the customer's events"
                    back={{
                      label: "Newest",
                      disabled: !props.cursor,
                      onClick: () => props.onCursor(null),
                    }}
                    forward={{
                      label: "Older events →",
                      disabled: !page.next_cursor,
                      onClick: () => props.onCursor(page.next_cursor),
                    }}
                  />
                </>
              )
            }
          </QueryView>
        </div>
      </div>
    </section>
  );
}
