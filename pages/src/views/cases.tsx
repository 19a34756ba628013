// Health Signals · Cases (issue 12 item 3): signals grouped into the cases an operator works —
// one open case per customer, detector, scope and period. On the left a page of cases (filters
// by detector, customer, status; sorted by magnitude, level or latest signal; Previous / Next
// instead of a list that grows); on the right the selected case with every rung of its ladder
// (executed, queued, not reached yet, and what triggers it), execute / reverse behind a
// confirmation, resolve / reopen, its signals, source events and trail.

import { useState } from "preact/hooks";
import type {
  Case,
  CaseDetail,
  CaseExplanation,
  CaseLadderStep,
  CaseSummary,
} from "../../../contracts/cases";
import type { Action } from "../../../contracts/signals";
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
import { Pager } from "../components/pager";
import {
  ActionCell,
  DetectorFilter,
  detectorInfo,
  Magnitude,
  magnitudeText,
  rungLabel,
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
import { ApiError, useApi, withQuery } from "../lib/api";
import { useCatalog } from "../lib/catalog";
import { customerLabel, dateTime, decimal } from "../lib/format";
import { actorLabel } from "../lib/me";
import { Link, navigate } from "../lib/router";
import { cursor, detectorName, hrefFor, id, oneOf, parseState, type Spec } from "../lib/url-state";
import { useQuery } from "../lib/use-query";
import type { ViewProps } from "./cockpit";

export type CasesState = {
  detector: string | null;
  status: "open" | "resolved" | "all";
  customer: string | null;
  sort: "magnitude" | "level" | "time";
  cursor: string | null;
  case: string | null;
};

export const casesSpec: Spec<CasesState> = {
  detector: detectorName,
  status: oneOf(["open", "resolved", "all"], "open"),
  customer: id,
  sort: oneOf(["magnitude", "level", "time"], "magnitude"),
  cursor,
  case: id,
};

const PAGE_SIZE = 20;

const STEP_TEXT: Record<CaseLadderStep["state"], string> = {
  executed: "executed",
  no_channel: "no channel",
  queued: "queued",
  reversed: "reversed",
  failed: "failed",
  not_reached: "not reached yet",
};

const REASON_TEXT: Record<string, string> = {
  operator: "resolved by an operator",
  condition_cleared: "condition cleared",
  period_closed: "period closed",
  expired: "watch expired",
};

function stepTone(step: Pick<CaseLadderStep, "rung" | "state">): string {
  if (step.state === "not_reached") return "neutral";
  if (step.state === "no_channel") return "warn";
  return stateTone(step.rung, step.state);
}

export function CasesView(props: ViewProps) {
  const state = parseState(casesSpec, props.search);
  const go = (changes: Partial<CasesState>, replace = false) =>
    navigate(hrefFor(props.path, casesSpec, { ...state, ...changes }), { replace });
  const registry = useDetectors().data;
  const catalog = useCatalog();
  const labelOf = (d: string) => detectorInfo(registry, d)?.label ?? d;
  const summary = useQuery<CaseSummary>("/api/cases/summary");

  const listKey = withQuery("/api/cases", {
    detector: state.detector,
    status: state.status === "all" ? null : state.status,
    customer: state.customer,
    sort: state.sort,
    limit: PAGE_SIZE,
    cursor: state.cursor,
  });
  const list = useQuery<{ data: Case[]; next_cursor: string | null }>(listKey);
  // The cursors of the pages before this one (Previous goes back through them).
  const [trailOfPages, setTrailOfPages] = useState<{ base: string; cursors: (string | null)[] }>({
    base: "",
    cursors: [],
  });
  const base = withQuery("/api/cases", {
    detector: state.detector,
    status: state.status,
    customer: state.customer,
    sort: state.sort,
  });
  const pages = trailOfPages.base === base ? trailOfPages.cursors : [];
  const filter = (changes: Partial<CasesState>) => go({ ...changes, cursor: null, case: null });

  const s = summary.data;
  return (
    <section aria-labelledby="page-title">
      <PageHeader
        title="Health Signals · Cases"
        subtitle="Signals grouped into cases: one open case per customer, detector, scope and period, escalating through its ladder."
        actions={
          <span class="header-actions">
            <Link class="btn" href="/signals?view=signals">
              All signals
            </Link>{" "}
            <button
              type="button"
              class="btn"
              onClick={() => {
                list.reload();
                summary.reload();
              }}
              disabled={list.loading}
            >
              {list.loading && list.data ? "Refreshing…" : "Refresh"}
            </button>
          </span>
        }
      />
      {s ? (
        <p class="muted" data-testid="case-budget">
          <strong>{s.open}</strong> open cases for {s.open_customers} of {s.customers} customers (
          {decimal(s.open_per_100_customers, 1)} per 100 customers)
        </p>
      ) : null}
      <NoChannelBanner />
      <FilterBar label="Filter cases">
        <DetectorFilter
          registry={registry}
          value={state.detector}
          onChange={(v) => filter({ detector: v })}
        />
        <StatusFilter value={state.status} onChange={(v) => filter({ status: v })} />
        <TextFilter
          label="Customer"
          name="customer"
          placeholder="customer id"
          value={state.customer}
          onCommit={(v) => filter({ customer: v })}
        />
        <FilterSelect
          label="Sort"
          name="sort"
          value={state.sort}
          options={[
            { value: "magnitude", label: "Largest first" },
            { value: "level", label: "Highest level first" },
            { value: "time", label: "Latest signal first" },
          ]}
          onChange={(v) => filter({ sort: (v ?? "magnitude") as CasesState["sort"] })}
        />
      </FilterBar>
      <div class="split">
        <div class="split-main">
          <QueryView q={list} what="cases">
            {(page) =>
              page.data.length === 0 ? (
                <Empty title="No cases match">
                  Cases open when detectors raise signals (hours and days close on event time). Try
                  “All” statuses or another detector.
                </Empty>
              ) : (
                <>
                  <DataTable
                    testid="cases-table"
                    caption="Cases"
                    rows={page.data}
                    rowKey={(c) => c.id}
                    rowProps={(c) => ({
                      "data-case": c.id,
                      class: state.case === c.id ? "row-selected" : undefined,
                    })}
                    columns={[
                      {
                        header: "Customer",
                        rowHeader: true,
                        cell: (c) => (
                          <>
                            <Link
                              href={hrefFor(props.path, casesSpec, { ...state, case: c.id })}
                              aria-current={state.case === c.id ? "true" : undefined}
                            >
                              {customerLabel(c.customer)}
                            </Link>
                            <div class="muted">{c.scope === "*" ? "all products" : c.scope}</div>
                          </>
                        ),
                      },
                      { header: "Detector", cell: (c) => labelOf(c.detector) },
                      {
                        header: "Level",
                        cell: (c) => (
                          <>
                            <Badge tone={c.status === "open" ? "warn" : "neutral"}>{c.level}</Badge>
                            <div class="muted small">
                              {c.signal_count} signal{c.signal_count === 1 ? "" : "s"}
                            </div>
                          </>
                        ),
                      },
                      {
                        header: "Magnitude",
                        num: true,
                        cell: (c) =>
                          magnitudeText(
                            { detector: c.detector, magnitude: c.magnitude, details: {} },
                            catalog.currency,
                            detectorInfo(registry, c.detector),
                          ).main,
                      },
                      { header: "Window", cell: (c) => <WindowCell window={c.window} /> },
                      {
                        header: "Status",
                        cell: (c) => (
                          <>
                            {c.status}
                            {c.resolution ? (
                              <div class="muted small">
                                {REASON_TEXT[c.resolution.reason] ?? c.resolution.reason}
                              </div>
                            ) : null}
                          </>
                        ),
                      },
                    ]}
                  />
                  <Pager
                    label="Pages of cases"
                    testid="cases-pager"
                    status={`Page ${pages.length + 1}`}
                    back={{
                      label: "← Previous",
                      disabled: pages.length === 0,
                      onClick: () => {
                        setTrailOfPages({ base, cursors: pages.slice(0, -1) });
                        go({ cursor: pages.at(-1) ?? null, case: null });
                      },
                    }}
                    forward={{
                      label: "Next →",
                      disabled: !page.next_cursor,
                      onClick: () => {
                        setTrailOfPages({ base, cursors: [...pages, state.cursor] });
                        go({ cursor: page.next_cursor, case: null });
                      },
                    }}
                  />
                </>
              )
            }
          </QueryView>
        </div>
        <aside class="split-side" aria-label="Selected case">
          {state.case ? (
            <CasePanel
              id={state.case}
              registry={registry}
              onChanged={() => {
                list.reload();
                summary.reload();
              }}
            />
          ) : (
            <Empty title="Select a case">
              Every rung of its ladder, its signals, source events and trail appear here.
            </Empty>
          )}
        </aside>
      </div>
    </section>
  );
}

function CasePanel(props: ItemPanelProps) {
  const { currency } = useCatalog();
  // A step may hold several actions (a one-product customer's customer- and product-level
  // findings at one level): its Execute runs those not yet run, its Reverse undoes those in force.
  const panel = useLadderPanel<CaseDetail>({
    base: "/api/cases",
    id: props.id,
    noun: "case",
    onChanged: props.onChanged,
  });
  const { detail, trail, tier, error } = panel;

  if (!props.registry) return <Loading label="Loading the case…" />;
  return (
    <QueryView q={detail} what="the case">
      {(c) => {
        const info = detectorInfo(props.registry, c.detector);
        const actionsById = new Map(c.actions.map((a) => [a.id, a]));
        const noChannel = c.ladder.some((s) => s.state === "no_channel");
        return (
          <div class="panel signal-panel" data-testid="case-panel">
            <h2>
              {info?.label ?? c.detector} · {customerLabel(c.customer)}
            </h2>
            <dl class="facts">
              <div>
                <dt>Level</dt>
                <dd data-testid="case-level">{c.level}</dd>
              </div>
              <div>
                <dt>Scope</dt>
                <dd>
                  {invoiceOf(c) ? (
                    <Link href={`/invoices?invoice=${encodeURIComponent(invoiceOf(c) ?? "")}`}>
                      {c.scope}
                    </Link>
                  ) : c.scope === "*" ? (
                    "the customer (all products)"
                  ) : (
                    c.scope
                  )}
                </dd>
              </div>
              <div>
                <dt>{c.period ? "Period" : "Window"}</dt>
                <dd>
                  {dateTime((c.period ?? c.window).start)} – {dateTime((c.period ?? c.window).end)}
                </dd>
              </div>
              <div>
                <dt>Signals</dt>
                <dd>
                  {c.signal_count} · latest {dateTime(c.last_signal_at)}
                </dd>
              </div>
              <div>
                <dt>Status</dt>
                <dd>
                  <span data-testid="case-status">{c.status}</span>{" "}
                  <StatusButton
                    status={c.status}
                    busy={panel.busy}
                    onResolve={panel.startResolve}
                    onReopen={panel.reopen}
                    refused={panel.refused}
                  />
                  {c.resolution ? (
                    <div class="muted small" data-testid="case-resolution">
                      {REASON_TEXT[c.resolution.reason] ?? c.resolution.reason} ·{" "}
                      {actorLabel(c.resolution.by)}, {dateTime(c.resolution.at)}
                      {c.resolution.note ? ` — ${c.resolution.note}` : ""}
                    </div>
                  ) : null}
                </dd>
              </div>
              <div>
                <dt>Alerts</dt>
                <dd data-testid="case-deliveries">
                  {c.deliveries.delivered} delivered · {c.deliveries.pending} pending ·{" "}
                  {c.deliveries.dead} failed
                  {noChannel ? (
                    <div class="small">
                      No channel was enabled when it alerted:{" "}
                      <Link href="/channels">add a channel</Link>.
                    </div>
                  ) : null}
                </dd>
              </div>
            </dl>
            {error && !panel.pending && !panel.resolving ? (
              <p class="error" role="alert">
                {error}
              </p>
            ) : null}

            <ExplainCase
              caseId={c.id}
              onExecute={(rung, actionId) => {
                const action = actionsById.get(actionId);
                if (action) panel.ask("execute", rung, [action])?.();
              }}
              refused={panel.refused}
            />

            <h3>Ladder</h3>
            <GateTier customer={c.customer} tier={tier} />
            <Refused reason={panel.refused} />
            <Ladder testid="case-ladder">
              {c.ladder.map((step) => {
                const mine = step.action_ids
                  .map((id) => actionsById.get(id))
                  .filter((a): a is Action => a !== undefined);
                const inForce = mine.filter((a) => a.state === "executed");
                const waiting = mine.filter(
                  (a) => a.state !== "executed" && a.state !== "reversed",
                );
                return (
                  <Rung
                    key={step.key ?? step.rung}
                    rung={step.rung}
                    step={step.key ?? ""}
                    name={`${step.label} → ${rungLabel(step.rung)}`}
                    state={step.state === "not_reached" ? null : step.state}
                  >
                    <Badge tone={stepTone(step)}>
                      <span data-testid="step-state">{STEP_TEXT[step.state]}</span>
                    </Badge>
                    <div class="muted small" data-testid="step-trigger">
                      when {step.trigger}
                      {" · "}
                      {step.automatic ? "runs automatically" : "waits for an operator"}
                      {step.reached_at ? ` · reached ${dateTime(step.reached_at)}` : ""}
                    </div>
                    <RungButtons
                      refused={panel.refused}
                      onExecute={panel.ask("execute", step.rung, waiting)}
                      onReverse={panel.ask("reverse", step.rung, inForce)}
                    />
                  </Rung>
                );
              })}
            </Ladder>
            {panel.done ? (
              <p class="notice" role="status">
                {panel.done}
              </p>
            ) : null}

            <h3>Signals</h3>
            <DataTable
              compact
              testid="case-signals"
              rows={c.signals}
              rowKey={(sig) => sig.id}
              rowProps={(sig) => ({ "data-signal": sig.id })}
              columns={[
                {
                  header: "Window",
                  cell: (sig) => (
                    <>
                      {dateTime(sig.window.start)}
                      <div class="muted small">
                        {sig.product ?? "all products"}
                        {sig.metric ? ` · ${sig.metric}` : ""}
                      </div>
                    </>
                  ),
                },
                {
                  header: "Magnitude",
                  num: true,
                  cell: (sig) => <Magnitude s={sig} currency={currency} info={info} />,
                },
                { header: "Action", cell: (sig) => <ActionCell action={sig.action} /> },
                { header: "Status", cell: (sig) => sig.status },
              ]}
            />

            <h3>Source events</h3>
            {c.source_events.length === 0 ? (
              <p class="muted">None kept.</p>
            ) : (
              <SourceEventsTable events={c.source_events.slice(0, 10)} testid="case-events" />
            )}

            <h3>Trail (orchestration_actions)</h3>
            {c.trail.length === 0 ? (
              <p class="muted">No steps yet.</p>
            ) : (
              <TrailTable steps={c.trail.slice(-15)} />
            )}
            {trail.error ? <ErrorState error={trail.error} what="the customer's actions" /> : null}

            <PanelDialogs
              panel={panel}
              customer={c.customer}
              resolveTitle={`Resolve this case for ${c.customer}?`}
            >
              Its {c.signal_count} open signal{c.signal_count === 1 ? "" : "s"} are resolved with
              it. Actions in force (a throttle or block) stay until you reverse them.
            </PanelDialogs>
          </div>
        );
      }}
    </QueryView>
  );
}

const PROPOSAL_TEXT: Record<CaseExplanation["next_step"]["proposal"], string> = {
  execute_queued: "Proposed: queued for you",
  queued_when_triggered: "Next: queued for an operator when reached",
  automatic_when_triggered: "Next: runs by itself when reached",
  none: "Nothing further to propose",
};

/** "✨ Explain": the case in words with its numbers (Aforo's), and the proposed next rung, which
 * only an operator's Execute runs (through the same confirmation as the ladder's buttons). */
function ExplainCase(props: {
  caseId: string;
  onExecute: (rung: CaseLadderStep["rung"], actionId: string) => void;
  refused: string | null;
}) {
  const api = useApi();
  const [state, setState] = useState<
    | { kind: "idle" }
    | { kind: "loading" }
    | { kind: "done"; e: CaseExplanation; caseId: string }
    | { kind: "failed"; message: string }
  >({ kind: "idle" });
  const explain = async () => {
    setState({ kind: "loading" });
    try {
      const e = await api.request<CaseExplanation>(
        "POST",
        `/api/cases/${encodeURIComponent(props.caseId)}/explain`,
      );
      setState({ kind: "done", e, caseId: props.caseId });
    } catch (err) {
      setState({ kind: "failed", message: err instanceof ApiError ? err.message : String(err) });
    }
  };
  const shown = state.kind === "done" && state.caseId === props.caseId ? state.e : null;
  return (
    <section class="explain" aria-label="Explanation" data-testid="case-explain">
      <button
        type="button"
        class="btn"
        onClick={explain}
        disabled={state.kind === "loading"}
        aria-expanded={shown !== null}
      >
        {state.kind === "loading" ? "Explaining…" : "✨ Explain"}
      </button>
      {state.kind === "failed" ? (
        <p class="error" role="alert">
          {state.message}
        </p>
      ) : null}
      {shown ? (
        <div class="explain-body">
          <p data-testid="explain-narrative">{shown.narrative}</p>
          <p class="muted small" data-testid="explain-source">
            {shown.source === "ai"
              ? "Worded by the AI from Aforo's figures below."
              : `From templates${shown.note ? ` — ${shown.note}` : ""}.`}
          </p>
          {shown.figures.length > 0 ? (
            <dl class="facts" data-testid="explain-figures">
              {shown.figures.map((f) => (
                <div key={f.label}>
                  <dt>{f.label}</dt>
                  <dd>{f.value}</dd>
                </div>
              ))}
            </dl>
          ) : null}
          {shown.arithmetic.length > 0 ? (
            <ul class="small mono" data-testid="explain-arithmetic">
              {shown.arithmetic.map((a) => (
                <li key={a}>{a}</li>
              ))}
            </ul>
          ) : null}
          <p class="muted small">
            Evidence: {shown.evidence.signals} finding{shown.evidence.signals === 1 ? "" : "s"},{" "}
            {shown.evidence.source_events} source event
            {shown.evidence.source_events === 1 ? "" : "s"}
            {shown.evidence.first_event_at
              ? ` (${dateTime(shown.evidence.first_event_at)} – ${dateTime(shown.evidence.last_event_at ?? shown.evidence.first_event_at)})`
              : ""}
            .
          </p>
          <div class="notice" data-testid="explain-next">
            <strong>{PROPOSAL_TEXT[shown.next_step.proposal]}</strong>
            {shown.next_step.rung ? ` · ${rungLabel(shown.next_step.rung)}` : ""}
            <div class="small">{shown.next_step.why}</div>
            {shown.next_step.proposal === "execute_queued" &&
            shown.next_step.action_id &&
            shown.next_step.rung ? (
              <button
                type="button"
                class="btn"
                disabled={props.refused !== null}
                title={props.refused ?? undefined}
                onClick={() =>
                  props.onExecute(
                    shown.next_step.rung as CaseLadderStep["rung"],
                    shown.next_step.action_id as string,
                  )
                }
              >
                Execute {rungLabel(shown.next_step.rung)}…
              </button>
            ) : null}
          </div>
        </div>
      ) : null}
    </section>
  );
}

/** The invoice a case is about (a past-due case's signals name it), for a link to it. */
function invoiceOf(c: CaseDetail): string | null {
  for (const s of c.signals) {
    const id = s.details.invoice_id;
    if (typeof id === "string") return id;
  }
  return null;
}
