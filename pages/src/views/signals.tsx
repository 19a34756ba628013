// Customer Health Signals (SPEC §5, §6, §8). /signals is the cases page (./cases.tsx: signals
// grouped into the cases an operator works); /signals?view=signals is every signal as recorded:
// on the left every customer's signals sorted by magnitude (detector, magnitude, window, source
// event); on the right the selected signal's ladder (queued / executed / reversed) with execute
// and reverse behind a confirmation, and its orchestration_actions trail.

import { useState } from "preact/hooks";
import type { Signal, SignalDetail } from "../../../contracts/signals";
import { DataTable } from "../components/data-table";
import { FilterBar, TextFilter } from "../components/filter-bar";
import {
  GateTier,
  type ItemPanelProps,
  Ladder,
  PanelDialogs,
  Rung,
  RungButtons,
  useLadderPanel,
} from "../components/ladder";
import { NoChannelBanner } from "../components/no-channel-banner";
import {
  ActionCell,
  DetectorFilter,
  detectorInfo,
  Magnitude,
  rungLabel,
  rungsOf,
  SourceEventsTable,
  StatusButton,
  StatusFilter,
  stateTone,
  TrailTable,
  useDetectors,
  WindowCell,
} from "../components/signal-parts";
import {
  Badge,
  Empty,
  ErrorState,
  FilterSelect,
  Loading,
  PageHeader,
  QueryView,
  Refused,
} from "../components/ui";
import { useApi, withQuery } from "../lib/api";
import { useCatalog } from "../lib/catalog";
import { customerLabel, dateTime, decimal, words } from "../lib/format";
import { actorLabel } from "../lib/me";
import { Link, navigate } from "../lib/router";
import {
  hrefFor,
  type Param,
  parseState,
  type SignalsState,
  type Spec,
  signalsSpec,
} from "../lib/url-state";
import { useQuery } from "../lib/use-query";
import { CasesView } from "./cases";
import type { ViewProps } from "./cockpit";

/** /signals shows cases; ?view=signals every signal. */
export function SignalsView(props: ViewProps) {
  const params =
    typeof props.search === "string" ? new URLSearchParams(props.search) : props.search;
  return params.get("view") === "signals" ? (
    <SignalFindingsView {...props} />
  ) : (
    <CasesView {...props} />
  );
}

/** The signals list keeps `view=signals` in every link it makes. */
const findingsView: Param<"signals"> = { parse: () => "signals", format: () => "signals" };
type FindingsState = SignalsState & { view: "signals" };
const findingsSpec: Spec<FindingsState> = { view: findingsView, ...signalsSpec };

// The registry helpers moved to components/signal-parts.tsx; other views import them from here.
export {
  detectorInfo,
  effectOf,
  fillTemplate,
  gateTierOf,
  magnitudeText,
  RUNG_LABELS,
  stateTone,
  useDetectors,
} from "../components/signal-parts";

function SignalFindingsView(props: ViewProps) {
  const state = parseState(findingsSpec, props.search);
  const go = (changes: Partial<SignalsState>, replace = false) =>
    navigate(hrefFor(props.path, findingsSpec, { ...state, ...changes }), { replace });
  const api = useApi();
  const catalog = useCatalog();
  const registry = useDetectors().data;
  const labelOf = (d: string) => detectorInfo(registry, d)?.label ?? d;

  const listKey = withQuery("/api/signals", {
    detector: state.detector,
    status: state.status === "all" ? null : state.status,
    direction: state.direction,
    customer: state.customer,
    sort: state.sort,
    limit: 50,
  });
  const list = useQuery<{ data: Signal[]; next_cursor: string | null }>(listKey);
  const [more, setMore] = useState<{ key: string; rows: Signal[]; cursor: string | null }>({
    key: "",
    rows: [],
    cursor: null,
  });
  const extra = more.key === listKey ? more : { key: listKey, rows: [], cursor: null };
  const rows = [...(list.data?.data ?? []), ...extra.rows];
  const nextCursor = extra.rows.length ? extra.cursor : (list.data?.next_cursor ?? null);
  const [loadingMore, setLoadingMore] = useState(false);
  const loadMore = async () => {
    if (!nextCursor) return;
    setLoadingMore(true);
    try {
      const page = await api.get<{ data: Signal[]; next_cursor: string | null }>(
        withQuery(listKey, { cursor: nextCursor }),
      );
      setMore({ key: listKey, rows: [...extra.rows, ...page.data], cursor: page.next_cursor });
    } finally {
      setLoadingMore(false);
    }
  };

  return (
    <section aria-labelledby="page-title">
      <PageHeader
        title="Customer Health Signals"
        subtitle="Every customer's drops, spikes, churn, pacing and margin signals, largest first, beside the action ladder."
        actions={
          <span class="header-actions">
            <Link class="btn" href="/signals">
              Cases
            </Link>{" "}
            <button type="button" class="btn" onClick={list.reload} disabled={list.loading}>
              {list.loading && list.data ? "Refreshing…" : "Refresh"}
            </button>
          </span>
        }
      />
      <NoChannelBanner />
      <FilterBar label="Filter signals">
        <DetectorFilter
          registry={registry}
          value={state.detector}
          onChange={(v) => go({ detector: v, signal: null })}
        />
        <StatusFilter value={state.status} onChange={(v) => go({ status: v, signal: null })} />
        <FilterSelect
          label="Direction"
          name="direction"
          value={state.direction}
          anyLabel="Spikes and drops"
          options={[
            { value: "drop", label: "Drops" },
            { value: "spike", label: "Spikes" },
          ]}
          onChange={(v) => go({ direction: v as SignalsState["direction"], signal: null })}
        />
        <TextFilter
          label="Customer"
          name="customer"
          placeholder="customer id"
          value={state.customer}
          onCommit={(v) => go({ customer: v, signal: null })}
        />
        <FilterSelect
          label="Sort"
          name="sort"
          value={state.sort}
          options={[
            { value: "magnitude", label: "Largest first" },
            { value: "time", label: "Newest first" },
          ]}
          onChange={(v) => go({ sort: (v ?? "magnitude") as SignalsState["sort"] })}
        />
      </FilterBar>
      <div class="split">
        <div class="split-main">
          <QueryView q={list} what="signals">
            {() =>
              rows.length === 0 ? (
                <Empty title="No signals match">
                  Signals appear when hours and days close (the detectors run on event time). Try
                  “All” statuses or another detector.
                </Empty>
              ) : (
                <>
                  <DataTable
                    testid="signals-table"
                    caption="Signals"
                    rows={rows}
                    rowKey={(s) => s.id}
                    rowProps={(s) => ({
                      "data-signal": s.id,
                      class: state.signal === s.id ? "row-selected" : undefined,
                    })}
                    columns={[
                      {
                        header: "Customer",
                        rowHeader: true,
                        cell: (s) => (
                          <>
                            <Link
                              href={hrefFor(props.path, findingsSpec, { ...state, signal: s.id })}
                              aria-current={state.signal === s.id ? "true" : undefined}
                            >
                              {customerLabel(s.customer)}
                            </Link>
                            <div class="muted">
                              {typeof s.details.scope_label === "string"
                                ? s.details.scope_label
                                : [s.product, s.metric]
                                    .filter(Boolean)
                                    .map((x) => words(String(x)))
                                    .join(" · ")}
                            </div>
                          </>
                        ),
                      },
                      {
                        header: "Detector",
                        cell: (s) => (
                          <>
                            {labelOf(s.detector)}
                            {s.direction ? <div class="muted">{s.direction}</div> : null}
                          </>
                        ),
                      },
                      {
                        header: "Magnitude",
                        num: true,
                        cell: (s) => (
                          <Magnitude
                            s={s}
                            currency={catalog.currency}
                            info={detectorInfo(registry, s.detector)}
                          />
                        ),
                      },
                      { header: "Window", cell: (s) => <WindowCell window={s.window} /> },
                      {
                        header: "Source event",
                        class: "mono small",
                        cell: (s) => s.source_event_ids[0] ?? "—",
                      },
                      { header: "Action", cell: (s) => <ActionCell action={s.action} /> },
                    ]}
                  />
                  {nextCursor ? (
                    <button type="button" class="btn" onClick={loadMore} disabled={loadingMore}>
                      {loadingMore ? "Loading…" : "Load more signals"}
                    </button>
                  ) : null}
                </>
              )
            }
          </QueryView>
        </div>
        <aside class="split-side" aria-label="Selected signal">
          {state.signal ? (
            <SignalPanel id={state.signal} onChanged={list.reload} registry={registry} />
          ) : (
            <Empty title="Select a signal">Its ladder, source events and trail appear here.</Empty>
          )}
        </aside>
      </div>
    </section>
  );
}

function SignalPanel(props: ItemPanelProps) {
  const { currency } = useCatalog();
  const panel = useLadderPanel<SignalDetail>({
    base: "/api/signals",
    id: props.id,
    noun: "signal",
    onChanged: props.onChanged,
  });
  const { detail, trail, tier } = panel;

  // Labels and rungs come from the registry: show the signal once both are here.
  if (!props.registry) return <Loading label="Loading the signal…" />;
  return (
    <QueryView q={detail} what="the signal">
      {(s) => {
        const info = detectorInfo(props.registry, s.detector);
        const a = s.action;
        return (
          <div class="panel signal-panel" data-testid="signal-panel">
            <h2>
              {info?.label ?? s.detector} · {customerLabel(s.customer)}
            </h2>
            <dl class="facts">
              <div>
                <dt>Magnitude</dt>
                <dd>
                  <Magnitude s={s} currency={currency} info={info} />
                </dd>
              </div>
              <div>
                <dt>Window</dt>
                <dd>
                  {dateTime(s.window.start)} – {dateTime(s.window.end)}
                </dd>
              </div>
              <div>
                <dt>Status</dt>
                <dd>
                  <span data-testid="signal-status">{s.status}</span>{" "}
                  <StatusButton
                    status={s.status}
                    busy={panel.busy}
                    onResolve={panel.startResolve}
                    onReopen={panel.reopen}
                    refused={panel.refused}
                  />
                  {s.resolution ? (
                    <div class="muted small" data-testid="resolution">
                      by {actorLabel(s.resolution.by)}, {dateTime(s.resolution.at)}
                      {s.resolution.note ? ` — ${s.resolution.note}` : ""}
                    </div>
                  ) : null}
                </dd>
              </div>
              {s.metric || s.product ? (
                <div>
                  <dt>Where</dt>
                  <dd>{[s.product, s.metric].filter(Boolean).join(" · ")}</dd>
                </div>
              ) : null}
              {Object.entries(s.details)
                .filter(([, v]) => typeof v === "number" || typeof v === "string")
                .slice(0, 8)
                .map(([k, v]) => (
                  <div key={k}>
                    <dt>{words(k)}</dt>
                    <dd>{typeof v === "number" ? decimal(v, 3) : String(v)}</dd>
                  </div>
                ))}
            </dl>

            <h3>Ladder</h3>
            <GateTier customer={s.customer} tier={tier} />
            <Refused reason={panel.refused} />
            <Ladder testid="ladder">
              {rungsOf(info).map((rung) => {
                const mine = a && a.rung === rung ? a : null;
                return (
                  <Rung key={rung} rung={rung} name={rungLabel(rung)} state={mine?.state ?? null}>
                    {mine ? (
                      <>
                        <Badge tone={stateTone(mine.rung, mine.state)}>
                          <span data-testid="action-state">{mine.state}</span>
                        </Badge>
                        <RungButtons
                          refused={panel.refused}
                          onExecute={panel.ask(
                            "execute",
                            rung,
                            mine.state !== "executed" ? [mine] : [],
                          )}
                          onReverse={panel.ask(
                            "reverse",
                            rung,
                            mine.state === "executed" ? [mine] : [],
                          )}
                        />
                      </>
                    ) : (
                      <span class="muted small">not this signal's rung</span>
                    )}
                  </Rung>
                );
              })}
            </Ladder>
            {!a ? <p class="muted">No action was recorded for this signal.</p> : null}
            {panel.done ? (
              <p class="notice" role="status">
                {panel.done}
              </p>
            ) : null}

            <h3>Source events</h3>
            {s.source_events.length === 0 ? (
              <p class="muted">
                {s.source_event_ids.length
                  ? `${s.source_event_ids.join(", ")} (no longer kept)`
                  : "None recorded."}
              </p>
            ) : (
              <SourceEventsTable events={s.source_events} />
            )}

            <h3>Trail (orchestration_actions)</h3>
            {s.trail.length === 0 ? (
              <p class="muted">No steps yet.</p>
            ) : (
              <TrailTable steps={s.trail} detail />
            )}
            {trail.error ? <ErrorState error={trail.error} what="the customer's actions" /> : null}
            {!trail.data && !trail.error && detail.data ? (
              <Loading label="Loading the gate state…" />
            ) : null}

            <PanelDialogs
              panel={panel}
              customer={s.customer}
              resolveTitle={`Resolve this signal for ${s.customer}?`}
            >
              {s.customer} stops counting as at risk for this signal.
              {a?.state === "executed" && (a.rung === "THROTTLE" || a.rung === "BLOCK")
                ? ` The ${rungLabel(a.rung)} stays in force until you reverse it.`
                : ""}
            </PanelDialogs>
          </div>
        );
      }}
    </QueryView>
  );
}
