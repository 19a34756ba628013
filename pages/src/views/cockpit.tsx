// Revenue Cockpit (SPEC §8): the eight KPIs with value, delta against a named comparison period
// and a 30-day sparkline; the subscription-health donut; MRR movements per month.

import { useEffect, useMemo } from "preact/hooks";
import type { Cockpit, MrrMovements as MrrAnswer } from "../../../contracts/metrics";
import { ChartView, COLORS, HEALTH_COLORS, MOVEMENT_COLORS, Sparkline } from "../components/charts";
import { NoChannelBanner } from "../components/no-channel-banner";
import { Empty, ErrorState, Loading, PageHeader } from "../components/ui";
import { withQuery } from "../lib/api";
import { useCatalog } from "../lib/catalog";
import {
  asOfInstant,
  cockpitModel,
  type Kpi,
  MOVEMENTS,
  type MrrMonth,
  monthsBefore,
  mrrMonths,
} from "../lib/cockpit";
import {
  counted,
  dateTime,
  dayLabel,
  integer,
  money,
  moneyCompact,
  monthLabel,
  percent,
  signedInteger,
  signedMoney,
  signedPercent,
  signedPoints,
  words,
} from "../lib/format";
import { navigate } from "../lib/router";
import { type CockpitState, cockpitSpec, hrefFor, parseState } from "../lib/url-state";
import { useQuery } from "../lib/use-query";
import { KpiItemsPanel } from "./cockpit-items";

export interface ViewProps {
  search: URLSearchParams;
  path: string;
}

export function CockpitView(props: ViewProps) {
  const state = parseState(cockpitSpec, props.search);
  const go = (changes: Partial<CockpitState>) =>
    navigate(hrefFor(props.path, cockpitSpec, { ...state, ...changes }));
  const catalog = useCatalog();

  // The as-of instant is fixed per URL (and per refresh), so the key is stable while on screen.
  const asOf = useMemo(() => asOfInstant(state.as_of), [state.as_of]);
  const cockpitKey = withQuery("/api/metrics/cockpit", {
    as_of: state.as_of ? new Date(asOf).toISOString() : null,
  });
  const cockpit = useQuery<Cockpit>(cockpitKey);
  const mrrKey = withQuery("/api/metrics/mrr", {
    from: new Date(monthsBefore(asOf, Number(state.months))).toISOString(),
    to: new Date(asOf).toISOString(),
    granularity: "month",
  });
  const mrr = useQuery<MrrAnswer>(mrrKey);

  const model = useMemo(() => (cockpit.data ? cockpitModel(cockpit.data) : null), [cockpit.data]);
  const currency = model?.currency ?? catalog.currency;
  const refresh = () => {
    cockpit.reload();
    mrr.reload();
  };
  // "Now" follows the server's 5-minute snapshots; a past as-of date never changes.
  const reloadCockpit = cockpit.reload;
  useEffect(() => {
    if (state.as_of) return;
    const timer = setInterval(reloadCockpit, 5 * 60_000);
    return () => clearInterval(timer);
  }, [state.as_of, reloadCockpit]);

  return (
    <section aria-labelledby="page-title">
      <PageHeader
        title="Revenue Cockpit"
        subtitle={
          <>
            {model?.asOf ? (
              <>
                As of <time data-testid="as-of">{dateTime(model.asOf)}</time>
              </>
            ) : (
              "As of now"
            )}
            {cockpit.fetchedAt ? <> · fetched {dateTime(cockpit.fetchedAt)}</> : null}
          </>
        }
        actions={
          <>
            <label class="field">
              <span>As of date</span>
              <input
                type="date"
                name="as_of"
                value={state.as_of ?? ""}
                max={new Date().toISOString().slice(0, 10)}
                onChange={(e) => go({ as_of: (e.currentTarget as HTMLInputElement).value || null })}
              />
            </label>
            {state.as_of ? (
              <button type="button" class="btn" onClick={() => go({ as_of: null })}>
                Now
              </button>
            ) : null}
            <button
              type="button"
              class="btn btn-primary"
              onClick={refresh}
              disabled={cockpit.loading}
            >
              {cockpit.loading && cockpit.fetchedAt ? "Refreshing…" : "Refresh"}
            </button>
          </>
        }
      />
      <NoChannelBanner />
      {cockpit.error ? (
        cockpitUnavailable(cockpit.error) ? (
          <Empty title="The cockpit metrics are not available on this server yet">
            <code>GET /api/metrics/cockpit</code> answered 404. The KPIs appear here as soon as the
            revenue engine is deployed; the other pages work meanwhile.
          </Empty>
        ) : (
          <ErrorState error={cockpit.error} onRetry={cockpit.reload} what="the cockpit" />
        )
      ) : !model ? (
        <Loading label="Computing the cockpit…" />
      ) : (
        <>
          <div class="kpi-grid">
            {model.kpis.map((k) => (
              <KpiTile
                key={k.key}
                kpi={k}
                currency={currency}
                open={state.kpi === k.key}
                onOpen={() =>
                  go({
                    kpi: state.kpi === k.key ? null : (k.key as CockpitState["kpi"]),
                    cursor: null,
                  })
                }
              />
            ))}
          </div>
          {state.kpi ? (
            <KpiItemsPanel
              kpi={state.kpi}
              label={model.kpis.find((k) => k.key === state.kpi)?.label ?? state.kpi}
              asOf={model.asOf}
              cursor={state.cursor}
              onCursor={(cursor) => go({ cursor })}
              onClose={() => go({ kpi: null, cursor: null })}
            />
          ) : null}
          <div class="grid-2">
            <HealthDonut model={model} />
            <MrrMovements
              q={mrr}
              currency={currency}
              months={state.months}
              onMonths={(m) => go({ months: m })}
            />
          </div>
        </>
      )}
    </section>
  );
}

function cockpitUnavailable(e: Error) {
  return (e as { status?: number }).status === 404;
}

function formatValue(kind: Kpi["kind"], v: number | null, currency: string) {
  if (kind === "money") return money(v, currency);
  if (kind === "ratio") return percent(v);
  return integer(v);
}

function KpiTile(props: { kpi: Kpi; currency: string; open: boolean; onOpen: () => void }) {
  const { kpi, currency } = props;
  const d = kpi.delta;
  const change = d?.change ?? null;
  const tone =
    change === null || change === 0 ? "flat" : change > 0 === kpi.upIsGood ? "good" : "bad";
  const arrow = change === null || change === 0 ? "→" : change > 0 ? "▲" : "▼";
  const deltaText =
    d === null || change === null
      ? "no comparison"
      : change === 0
        ? "no change"
        : kpi.kind === "ratio"
          ? signedPoints(change)
          : kpi.kind === "money"
            ? d.ratio !== null
              ? `${signedPercent(d.ratio)} (${signedMoney(change, currency)})`
              : signedMoney(change, currency)
            : `${signedInteger(change)}${d.ratio !== null ? ` (${signedPercent(d.ratio)})` : ""}`;
  const labels = useMemo(() => kpi.series.map((p) => dayLabel(p.at)), [kpi.series]);
  const values = useMemo(() => kpi.series.map((p) => p.value), [kpi.series]);
  const fmt = useMemo(
    () => (v: number) => formatValue(kpi.kind, v, currency),
    [kpi.kind, currency],
  );
  return (
    <article class="kpi" data-kpi={kpi.key} aria-labelledby={`kpi-${kpi.key}`}>
      <h2 id={`kpi-${kpi.key}`} class="kpi-label">
        {kpi.label}
        {kpi.note ? <span class="kpi-note"> · {kpi.note}</span> : null}
      </h2>
      <div class="kpi-value" data-testid={`kpi-${kpi.key}`} data-value={kpi.value ?? ""}>
        {formatValue(kpi.kind, kpi.value, currency)}
      </div>
      {kpi.equation ? (
        <div class="kpi-equation" data-testid={`kpi-${kpi.key}-equation`}>
          {kpi.equation}
        </div>
      ) : null}
      {kpi.warning ? (
        <p class="kpi-warning" role="note">
          {kpi.warning}
        </p>
      ) : null}
      <div class={`kpi-delta delta-${tone}`}>
        <span aria-hidden="true">{arrow}</span> {deltaText}{" "}
        <span class="kpi-cmp">{d?.label ?? ""}</span>
      </div>
      {kpi.series.length > 1 ? (
        <Sparkline
          values={values}
          labels={labels}
          color={tone === "bad" ? COLORS.bad : COLORS.revenue}
          label={`${kpi.label}, last ${kpi.series.length} days: from ${fmt(values[0] ?? 0)} to ${fmt(values.at(-1) ?? 0)}`}
          format={fmt}
        />
      ) : (
        <div class="sparkline-empty">no history yet</div>
      )}
      {kpi.facts.some((f) => f.value !== null) ? (
        <dl class="kpi-facts">
          {kpi.facts
            .filter((f) => f.value !== null)
            .map((f) => (
              <div key={f.label}>
                <dt>{f.label}</dt>
                <dd>{formatValue(f.kind, f.value, currency)}</dd>
              </div>
            ))}
        </dl>
      ) : null}
      <button
        type="button"
        class="btn btn-small kpi-open"
        aria-expanded={props.open}
        aria-controls={props.open ? "kpi-items-title" : undefined}
        onClick={props.onOpen}
      >
        {props.open ? "Hide the list" : "Show the list"}
        <span class="sr-only"> behind {kpi.label}</span>
      </button>
    </article>
  );
}

function HealthDonut(props: { model: ReturnType<typeof cockpitModel> }) {
  const slices = props.model.health;
  const total = slices.reduce((s, x) => s + x.count, 0);
  const config = useMemo(
    () => ({
      type: "doughnut" as const,
      data: {
        labels: slices.map((s) => words(s.slice)),
        datasets: [
          {
            data: slices.map((s) => s.count),
            backgroundColor: slices.map((s) => HEALTH_COLORS[s.slice] ?? COLORS.neutral),
            borderWidth: 1,
          },
        ],
      },
      options: { cutout: "62%", plugins: { legend: { display: false } } },
    }),
    [slices],
  );
  return (
    <section class="panel" aria-labelledby="health-title">
      <h2 id="health-title">Subscription health</h2>
      {total === 0 ? (
        <Empty title="No subscriptions yet" />
      ) : (
        <div class="donut-layout">
          <ChartView
            config={config}
            label={`Subscription health: ${slices.map((s) => `${words(s.slice)} ${s.count}`).join(", ")}`}
            height={200}
          />
          <table class="legend-table">
            <caption class="sr-only">Subscriptions by health</caption>
            <thead>
              <tr>
                <th scope="col">State</th>
                <th scope="col" class="num">
                  Subscriptions
                </th>
                <th scope="col" class="num">
                  Share
                </th>
              </tr>
            </thead>
            <tbody>
              {slices.map((s) => (
                <tr key={s.slice} data-slice={s.slice}>
                  <th scope="row">
                    <span
                      class="swatch"
                      style={{ background: HEALTH_COLORS[s.slice] ?? COLORS.neutral }}
                      aria-hidden="true"
                    />
                    {words(s.slice)}
                  </th>
                  <td class="num">{integer(s.count)}</td>
                  <td class="num">{percent(total ? s.count / total : null)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {props.model.atRiskCustomers !== null ? (
        <p class="muted" data-testid="at-risk">
          At risk (an overlay, not a slice):{" "}
          {counted(props.model.atRiskSubscriptions ?? 0, "live subscription")} of{" "}
          {counted(props.model.atRiskCustomers, "customer")} with an open health signal.
        </p>
      ) : null}
    </section>
  );
}

function MrrMovements(props: {
  q: ReturnType<typeof useQuery<MrrAnswer>>;
  currency: string;
  months: CockpitState["months"];
  onMonths: (m: CockpitState["months"]) => void;
}) {
  const months = useMemo(() => (props.q.data ? mrrMonths(props.q.data) : []), [props.q.data]);
  const config = useMemo(() => movementsChart(months, props.currency), [months, props.currency]);
  return (
    <section class="panel" aria-labelledby="mrr-title">
      <div class="panel-head">
        <h2 id="mrr-title">MRR movements</h2>
        <label class="field field-inline">
          <span>Months</span>
          <select
            value={props.months}
            onChange={(e) =>
              props.onMonths((e.currentTarget as HTMLSelectElement).value as CockpitState["months"])
            }
          >
            <option value="6">6</option>
            <option value="12">12</option>
            <option value="24">24</option>
          </select>
        </label>
      </div>
      {props.q.error ? (
        (props.q.error as { status?: number }).status === 404 ? (
          <Empty title="MRR movements are not available on this server yet">
            <code>GET /api/metrics/mrr</code> answered 404.
          </Empty>
        ) : (
          <ErrorState error={props.q.error} onRetry={props.q.reload} what="MRR movements" />
        )
      ) : !props.q.data ? (
        <Loading label="Loading MRR movements…" />
      ) : months.length === 0 ? (
        <Empty title="No MRR history in this range" />
      ) : (
        <>
          <ChartView
            config={config}
            label={`MRR movements per month, ${months.length} months`}
            height={240}
          />
          <details>
            <summary>Movements as a table</summary>
            <div class="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Month</th>
                    {MOVEMENTS.map((m) => (
                      <th key={m} scope="col" class="num">
                        {words(m)}
                      </th>
                    ))}
                    <th scope="col" class="num">
                      Net
                    </th>
                    <th scope="col" class="num">
                      MRR
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {months.map((m) => (
                    <tr key={m.label}>
                      <th scope="row">{monthLabel(m.label)}</th>
                      {MOVEMENTS.map((k) => (
                        <td key={k} class="num">
                          {money(m.movements[k], props.currency)}
                        </td>
                      ))}
                      <td class="num">{signedMoney(m.net, props.currency)}</td>
                      <td class="num">{money(m.mrr, props.currency)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </details>
        </>
      )}
    </section>
  );
}

function movementsChart(months: MrrMonth[], currency: string) {
  return {
    type: "bar" as const,
    data: {
      labels: months.map((m) => monthLabel(m.label)),
      datasets: MOVEMENTS.map((k) => ({
        label: words(k),
        data: months.map((m) => m.movements[k]),
        backgroundColor: MOVEMENT_COLORS[k],
        stack: "movements",
      })),
    },
    options: {
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
        x: { stacked: true, grid: { display: false } },
        y: {
          stacked: true,
          ticks: { callback: (v: string | number) => moneyCompact(v, currency) },
        },
      },
    },
  };
}
