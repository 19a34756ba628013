// Health Signals · Cases (issue 12 item 3): signals grouped into the cases an operator works —
// one open case per customer, detector, scope and period. On the left a page of cases (filters
// by detector, customer, status; sorted by magnitude, level or latest signal; Previous / Next
// instead of a list that grows); on the right the selected case with every rung of its ladder
// (executed, queued, not reached yet, and what triggers it), execute / reverse behind a
// confirmation, resolve / reopen, its signals, source events and trail.

import { useEffect, useMemo, useState } from "preact/hooks";
import type { Case, CaseDetail, CaseLadderStep, CaseSummary } from "../../../contracts/cases";
import type { DetectorsResponse } from "../../../contracts/detectors";
import type { Action, Step } from "../../../contracts/signals";
import { NoChannelBanner } from "../components/no-channel-banner";
import {
  Badge,
  ConfirmDialog,
  Empty,
  ErrorState,
  FilterSelect,
  Loading,
  PageHeader,
  QueryView,
} from "../components/ui";
import { ApiError, useApi, withQuery } from "../lib/api";
import { useCatalog } from "../lib/catalog";
import { dateTime, decimal, span, words } from "../lib/format";
import { Link, navigate } from "../lib/router";
import { cursor, detectorName, hrefFor, id, oneOf, parseState, type Spec } from "../lib/url-state";
import { useQuery } from "../lib/use-query";
import type { ViewProps } from "./cockpit";
import {
  detectorInfo,
  effectOf,
  gateTierOf,
  magnitudeText,
  RUNG_LABELS,
  stateTone,
  useDetectors,
} from "./signals";

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
      <form class="filters" aria-label="Filter cases" onSubmit={(e) => e.preventDefault()}>
        <FilterSelect
          label="Detector"
          name="detector"
          value={state.detector}
          anyLabel="All detectors"
          options={
            registry
              ? registry.data.map((d) => ({ value: d.name, label: d.label }))
              : state.detector
                ? [{ value: state.detector, label: state.detector }]
                : []
          }
          onChange={(v) => filter({ detector: v })}
        />
        <FilterSelect
          label="Status"
          name="status"
          value={state.status}
          options={[
            { value: "open", label: "Open" },
            { value: "resolved", label: "Resolved" },
            { value: "all", label: "All" },
          ]}
          onChange={(v) => filter({ status: (v ?? "open") as CasesState["status"] })}
        />
        <label class="field">
          <span>Customer</span>
          <input
            name="customer"
            placeholder="customer id"
            value={state.customer ?? ""}
            onChange={(e) =>
              filter({ customer: (e.currentTarget as HTMLInputElement).value.trim() || null })
            }
          />
        </label>
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
      </form>
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
                  <div class="table-wrap">
                    <table data-testid="cases-table">
                      <caption class="sr-only">Cases</caption>
                      <thead>
                        <tr>
                          <th scope="col">Customer</th>
                          <th scope="col">Detector</th>
                          <th scope="col">Level</th>
                          <th scope="col" class="num">
                            Magnitude
                          </th>
                          <th scope="col">Window</th>
                          <th scope="col">Status</th>
                        </tr>
                      </thead>
                      <tbody>
                        {page.data.map((c) => (
                          <tr
                            key={c.id}
                            data-case={c.id}
                            class={state.case === c.id ? "row-selected" : undefined}
                          >
                            <th scope="row">
                              <Link
                                href={hrefFor(props.path, casesSpec, { ...state, case: c.id })}
                                aria-current={state.case === c.id ? "true" : undefined}
                              >
                                {c.customer}
                              </Link>
                              <div class="muted">{c.scope === "*" ? "all products" : c.scope}</div>
                            </th>
                            <td>{labelOf(c.detector)}</td>
                            <td>
                              <Badge tone={c.status === "open" ? "warn" : "neutral"}>
                                {c.level}
                              </Badge>
                              <div class="muted small">
                                {c.signal_count} signal{c.signal_count === 1 ? "" : "s"}
                              </div>
                            </td>
                            <td class="num">
                              {
                                magnitudeText(
                                  { detector: c.detector, magnitude: c.magnitude, details: {} },
                                  catalog.currency,
                                  detectorInfo(registry, c.detector),
                                ).main
                              }
                            </td>
                            <td>
                              {dateTime(c.window.start)}
                              <div class="muted">{span(c.window.start, c.window.end)}</div>
                            </td>
                            <td>
                              {c.status}
                              {c.resolution ? (
                                <div class="muted small">
                                  {REASON_TEXT[c.resolution.reason] ?? c.resolution.reason}
                                </div>
                              ) : null}
                            </td>
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  </div>
                  <nav class="pager" aria-label="Pages of cases" data-testid="cases-pager">
                    <button
                      type="button"
                      class="btn"
                      disabled={pages.length === 0}
                      onClick={() => {
                        const previous = pages.slice(0, -1);
                        setTrailOfPages({ base, cursors: previous });
                        go({ cursor: pages.at(-1) ?? null, case: null });
                      }}
                    >
                      ← Previous
                    </button>
                    <span class="muted">Page {pages.length + 1}</span>
                    <button
                      type="button"
                      class="btn"
                      disabled={!page.next_cursor}
                      onClick={() => {
                        setTrailOfPages({ base, cursors: [...pages, state.cursor] });
                        go({ cursor: page.next_cursor, case: null });
                      }}
                    >
                      Next →
                    </button>
                  </nav>
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

function CasePanel(props: {
  id: string;
  onChanged: () => void;
  registry: DetectorsResponse | null | undefined;
}) {
  const api = useApi();
  const { currency } = useCatalog();
  const detail = useQuery<CaseDetail>(`/api/cases/${encodeURIComponent(props.id)}`);
  const customer = detail.data?.customer ?? null;
  const trail = useQuery<{ data: Step[] }>(
    customer ? withQuery("/api/actions", { customer, limit: 500 }) : null,
  );
  // A step may hold several actions (a one-product customer's customer- and product-level
  // findings at one level): its Execute runs those not yet run, its Reverse undoes those in force.
  const [pending, setPending] = useState<{
    verb: "execute" | "reverse";
    rung: string;
    actions: Action[];
  } | null>(null);
  const [resolving, setResolving] = useState(false);
  const [note, setNote] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  useEffect(() => {
    setDone(null);
    setPending(null);
    setResolving(false);
  }, [props.id]);

  const perform = async (step: () => Promise<string>) => {
    setBusy(true);
    setError(null);
    try {
      setDone(await step());
      detail.reload();
      trail.reload();
      props.onChanged();
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  const setStatus = (verb: "resolve" | "reopen") =>
    perform(async () => {
      const trimmed = note.trim();
      const body = verb === "resolve" && trimmed ? { note: trimmed } : undefined;
      const c = await api.post<Case>(`/api/cases/${encodeURIComponent(props.id)}/${verb}`, body);
      setResolving(false);
      setNote("");
      return `The case is now ${c.status}.`;
    });
  const run = () =>
    perform(async () => {
      if (!pending) return "";
      let last: Action | null = null;
      for (const action of pending.actions) {
        last = await api.post<Action>(
          `/api/actions/${encodeURIComponent(action.id)}/${pending.verb}`,
        );
      }
      setPending(null);
      return last ? `${RUNG_LABELS[last.rung] ?? last.rung} is now ${words(last.state)}.` : "";
    });
  const tier = useMemo(() => (trail.data ? gateTierOf(trail.data.data) : null), [trail.data]);

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
              {info?.label ?? c.detector} · {c.customer}
            </h2>
            <dl class="facts">
              <div>
                <dt>Level</dt>
                <dd data-testid="case-level">{c.level}</dd>
              </div>
              <div>
                <dt>Scope</dt>
                <dd>{c.scope === "*" ? "the customer (all products)" : c.scope}</dd>
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
                  {c.status === "open" ? (
                    <button
                      type="button"
                      class="btn btn-small"
                      onClick={() => {
                        setError(null);
                        setResolving(true);
                      }}
                    >
                      Resolve…
                    </button>
                  ) : (
                    <button
                      type="button"
                      class="btn btn-small"
                      disabled={busy}
                      onClick={() => setStatus("reopen")}
                    >
                      Reopen
                    </button>
                  )}
                  {c.resolution ? (
                    <div class="muted small" data-testid="case-resolution">
                      {REASON_TEXT[c.resolution.reason] ?? c.resolution.reason} · {c.resolution.by},{" "}
                      {dateTime(c.resolution.at)}
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
            {error && !pending && !resolving ? (
              <p class="error" role="alert">
                {error}
              </p>
            ) : null}

            <h3>Ladder</h3>
            <p class="muted">
              Gate for {c.customer}: <strong data-testid="gate-tier">{tier ?? "…"}</strong> (from
              the actions in force)
            </p>
            <ol class="ladder" data-testid="case-ladder">
              {c.ladder.map((step) => (
                <li
                  key={step.key ?? step.rung}
                  class={
                    step.state === "not_reached" ? "rung" : `rung rung-active state-${step.state}`
                  }
                  data-step={step.key ?? ""}
                  data-rung={step.rung}
                >
                  <span class="rung-name">
                    {step.label} → {RUNG_LABELS[step.rung] ?? step.rung}
                  </span>
                  <Badge tone={stepTone(step)}>
                    <span data-testid="step-state">{STEP_TEXT[step.state]}</span>
                  </Badge>
                  <div class="muted small" data-testid="step-trigger">
                    when {step.trigger}
                    {" · "}
                    {step.automatic ? "runs automatically" : "waits for an operator"}
                    {step.reached_at ? ` · reached ${dateTime(step.reached_at)}` : ""}
                  </div>
                  <span class="rung-actions">
                    {(() => {
                      const mine = step.action_ids
                        .map((id) => actionsById.get(id))
                        .filter((a): a is Action => a !== undefined);
                      const inForce = mine.filter((a) => a.state === "executed");
                      const waiting = mine.filter(
                        (a) => a.state !== "executed" && a.state !== "reversed",
                      );
                      return (
                        <>
                          {waiting.length > 0 ? (
                            <button
                              type="button"
                              class="btn btn-primary btn-small"
                              onClick={() => {
                                setError(null);
                                setPending({ verb: "execute", rung: step.rung, actions: waiting });
                              }}
                            >
                              Execute
                            </button>
                          ) : null}
                          {inForce.length > 0 ? (
                            <button
                              type="button"
                              class="btn btn-small"
                              onClick={() => {
                                setError(null);
                                setPending({ verb: "reverse", rung: step.rung, actions: inForce });
                              }}
                            >
                              Reverse
                            </button>
                          ) : null}
                        </>
                      );
                    })()}
                  </span>
                </li>
              ))}
            </ol>
            {done ? (
              <p class="notice" role="status">
                {done}
              </p>
            ) : null}

            <h3>Signals</h3>
            <div class="table-wrap">
              <table class="compact" data-testid="case-signals">
                <thead>
                  <tr>
                    <th scope="col">Window</th>
                    <th scope="col" class="num">
                      Magnitude
                    </th>
                    <th scope="col">Action</th>
                    <th scope="col">Status</th>
                  </tr>
                </thead>
                <tbody>
                  {c.signals.map((sig) => (
                    <tr key={sig.id} data-signal={sig.id}>
                      <td>
                        {dateTime(sig.window.start)}
                        <div class="muted small">
                          {sig.product ?? "all products"}
                          {sig.metric ? ` · ${sig.metric}` : ""}
                        </div>
                      </td>
                      <td class="num">
                        {magnitudeText(sig, currency, info).main}
                        <div class="muted small">{magnitudeText(sig, currency, info).sub}</div>
                      </td>
                      <td>
                        {sig.action ? (
                          <>
                            {RUNG_LABELS[sig.action.rung] ?? sig.action.rung}{" "}
                            <Badge tone={stateTone(sig.action.rung, sig.action.state)}>
                              {words(sig.action.state)}
                            </Badge>
                          </>
                        ) : (
                          "—"
                        )}
                      </td>
                      <td>{sig.status}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>

            <h3>Source events</h3>
            {c.source_events.length === 0 ? (
              <p class="muted">None kept.</p>
            ) : (
              <div class="table-wrap">
                <table class="compact" data-testid="case-events">
                  <thead>
                    <tr>
                      <th scope="col">Event</th>
                      <th scope="col">Time</th>
                      <th scope="col">Metric</th>
                      <th scope="col" class="num">
                        Quantity
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {c.source_events.slice(0, 10).map((e) => (
                      <tr key={String(e.id)}>
                        <td class="mono small">{String(e.id)}</td>
                        <td>{dateTime(e.time)}</td>
                        <td>{words(String(e.metric ?? ""))}</td>
                        <td class="num">{decimal(e.quantity, 2)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}

            <h3>Trail (orchestration_actions)</h3>
            {c.trail.length === 0 ? (
              <p class="muted">No steps yet.</p>
            ) : (
              <div class="table-wrap">
                <table class="compact" data-testid="trail">
                  <thead>
                    <tr>
                      <th scope="col">When</th>
                      <th scope="col">Rung</th>
                      <th scope="col">Step</th>
                      <th scope="col">By</th>
                    </tr>
                  </thead>
                  <tbody>
                    {c.trail.slice(-15).map((t) => (
                      <tr key={t.id}>
                        <td>{dateTime(t.at)}</td>
                        <td>{RUNG_LABELS[t.rung] ?? t.rung}</td>
                        <td>
                          <Badge tone={stateTone(t.rung, t.step)}>{words(t.step)}</Badge>
                        </td>
                        <td class="small">{t.actor}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
            {trail.error ? <ErrorState error={trail.error} what="the customer's actions" /> : null}

            <ConfirmDialog
              open={pending !== null}
              title={
                pending
                  ? `${pending.verb === "execute" ? "Execute" : "Reverse"} ${RUNG_LABELS[pending.rung] ?? pending.rung} for ${c.customer}?`
                  : ""
              }
              confirmLabel={pending?.verb === "execute" ? "Execute" : "Reverse"}
              danger={pending?.verb === "execute" && ["THROTTLE", "BLOCK"].includes(pending.rung)}
              busy={busy}
              error={error}
              onConfirm={run}
              onCancel={() => setPending(null)}
            >
              <p>{pending ? effectOf(pending.rung, pending.verb, c.customer) : null}</p>
              <p class="muted">
                The step is recorded in the orchestration_actions trail with your token's id.
              </p>
            </ConfirmDialog>
            <ConfirmDialog
              open={resolving}
              title={`Resolve this case for ${c.customer}?`}
              confirmLabel="Resolve"
              busy={busy}
              error={error}
              onConfirm={() => setStatus("resolve")}
              onCancel={() => setResolving(false)}
            >
              <p>
                Its {c.signal_count} open signal{c.signal_count === 1 ? "" : "s"} are resolved with
                it. Actions in force (a throttle or block) stay until you reverse them.
              </p>
              <label class="field">
                <span>Note (optional)</span>
                <textarea
                  name="note"
                  rows={3}
                  maxLength={500}
                  value={note}
                  onInput={(e) => setNote((e.target as HTMLTextAreaElement).value)}
                />
              </label>
            </ConfirmDialog>
          </div>
        );
      }}
    </QueryView>
  );
}
