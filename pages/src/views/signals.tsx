// Customer Health Signals (SPEC §5, §6, §8). /signals is the cases page (./cases.tsx: signals
// grouped into the cases an operator works); /signals?view=signals is every signal as recorded:
// on the left every customer's signals sorted by magnitude (detector, magnitude, window, source
// event); on the right the selected signal's ladder (queued / executed / reversed) with execute
// and reverse behind a confirmation, and its orchestration_actions trail.

import { useEffect, useMemo, useState } from "preact/hooks";
import type { DetectorInfo, DetectorsResponse } from "../../../contracts/detectors";
import type { Action, Signal, SignalDetail, Step } from "../../../contracts/signals";
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
import { dateTime, decimal, money, percent, signedPercent, span, words } from "../lib/format";
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

/** The detector registry (GET /api/detectors): labels, rungs, policy fields and wording. Fixed
 * for a deployment, so every view shares one answer. */
export function useDetectors() {
  return useQuery<DetectorsResponse>("/api/detectors");
}

/** A detector's entry in the registry by name, if the registry is loaded and knows it. */
export const detectorInfo = (
  registry: DetectorsResponse | null | undefined,
  name: string,
): DetectorInfo | undefined => registry?.data.find((d) => d.name === name);

/** The rungs a signal of this detector may take (every gate rung when unknown). */
const rungsOf = (info: DetectorInfo | undefined) =>
  info?.ladder.rungs ?? ["ALERT", "THROTTLE", "BLOCK"];

export const RUNG_LABELS: Record<string, string> = {
  ALERT: "Alert",
  THROTTLE: "Throttle",
  BLOCK: "Block",
  extend_trial: "Extend trial",
  apply_coupon: "Apply coupon",
  escalate: "Escalate",
};

const STATE_TONES: Record<string, string> = {
  queued: "warn",
  executed: "bad",
  reversed: "neutral",
  failed: "bad",
};

/** What executing or reversing a rung does, in the operator's words. */
export function effectOf(rung: string, verb: "execute" | "reverse", customer: string): string {
  if (verb === "reverse") {
    switch (rung) {
      case "THROTTLE":
        return `The gate goes back to ${customer}'s normal rate.`;
      case "BLOCK":
        return `The gate lets ${customer} through again and their suspended subscriptions resume.`;
      case "extend_trial":
        return `${customer}'s trial goes back to its original end.`;
      case "apply_coupon":
        return `The coupon is removed from ${customer}.`;
      default:
        return "The action is marked as reversed in the trail.";
    }
  }
  switch (rung) {
    case "ALERT":
      return `Aforo notifies your channels (Slack, email, webhook) about ${customer} now.`;
    case "THROTTLE":
      return `The gate (POST /v1/gate) holds ${customer} to the policy's throttled rate until you reverse it.`;
    case "BLOCK":
      return `The gate refuses every call from ${customer} and their subscriptions are suspended until you reverse it.`;
    case "extend_trial":
      return `${customer}'s trial is extended by the policy's number of days.`;
    case "apply_coupon":
      return `The policy's coupon is applied to ${customer}'s subscription.`;
    case "escalate":
      return `${customer}'s account owner (metadata.account_owner, else the policy's escalate_to) gets an e-mail about the signal.`;
    default:
      return "The action runs now.";
  }
}

/** The gate tier in force for a customer from their trail: the latest step of each action. */
export function gateTierOf(steps: Step[]): "normal" | "throttled" | "blocked" {
  const latest = new Map<string, Step>();
  for (const s of steps) {
    const prev = latest.get(s.action_id);
    if (!prev || s.id > prev.id) latest.set(s.action_id, s);
  }
  const inForce = [...latest.values()].filter((s) => s.step === "executed").map((s) => s.rung);
  if (inForce.includes("BLOCK")) return "blocked";
  if (inForce.includes("THROTTLE")) return "throttled";
  return "normal";
}

/** A signal's magnitude in its detector's own terms, with the context that explains it: the
 * detector's display templates from the registry. */
export function magnitudeText(
  s: Pick<Signal, "detector" | "magnitude" | "details">,
  currency = "USD",
  info?: DetectorInfo,
): { main: string; sub: string | null } {
  if (!info) return { main: decimal(s.magnitude, 2), sub: null };
  const fill = (template: string | null) =>
    template === null ? null : fillTemplate(template, s, currency);
  return {
    main: fill(info.display.main) ?? decimal(s.magnitude, 2),
    sub: fill(info.display.sub) ?? info.display.sub_fallback,
  };
}

/** `{magnitude:fmt}` and `{details.x:fmt}` filled in (contracts/detectors.ts); null when a value
 * is missing or not of its format's type. */
export function fillTemplate(
  template: string,
  s: Pick<Signal, "magnitude" | "details">,
  currency: string,
): string | null {
  let missing = false;
  const out = template.replace(
    /\{([a-z_.]+)(?::([a-z0-9_]+))?\}/g,
    (_, path: string, fmt?: string) => {
      const v =
        path === "magnitude"
          ? s.magnitude
          : path.startsWith("details.")
            ? s.details[path.slice(8)]
            : undefined;
      if (fmt) {
        if (typeof v !== "number") {
          missing = true;
          return "";
        }
        switch (fmt) {
          case "decimal0":
            return decimal(v, 0);
          case "decimal1":
            return decimal(v, 1);
          case "percent0":
            return percent(v, 0);
          case "signed_pct":
            return signedPercent(v / 100, 0);
          case "money":
            return money(v, currency);
          default:
            return String(v);
        }
      }
      if (typeof v !== "number" && typeof v !== "string") {
        missing = true;
        return "";
      }
      return String(v);
    },
  );
  return missing ? null : out;
}

/** Executed gate rungs are the serious ones; an executed alert only notified. */
export function stateTone(rung: string, state: string): string {
  if (state === "executed") return rung === "THROTTLE" || rung === "BLOCK" ? "bad" : "info";
  return STATE_TONES[state] ?? "neutral";
}

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
      <form class="filters" aria-label="Filter signals" onSubmit={(e) => e.preventDefault()}>
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
          onChange={(v) => go({ detector: v as SignalsState["detector"], signal: null })}
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
          onChange={(v) => go({ status: (v ?? "open") as SignalsState["status"], signal: null })}
        />
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
        <label class="field">
          <span>Customer</span>
          <input
            name="customer"
            placeholder="customer id"
            value={state.customer ?? ""}
            onChange={(e) =>
              go({
                customer: (e.currentTarget as HTMLInputElement).value.trim() || null,
                signal: null,
              })
            }
          />
        </label>
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
      </form>
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
                  <div class="table-wrap">
                    <table data-testid="signals-table">
                      <caption class="sr-only">Signals</caption>
                      <thead>
                        <tr>
                          <th scope="col">Customer</th>
                          <th scope="col">Detector</th>
                          <th scope="col" class="num">
                            Magnitude
                          </th>
                          <th scope="col">Window</th>
                          <th scope="col">Source event</th>
                          <th scope="col">Action</th>
                        </tr>
                      </thead>
                      <tbody>
                        {rows.map((s) => (
                          <tr
                            key={s.id}
                            data-signal={s.id}
                            class={state.signal === s.id ? "row-selected" : undefined}
                          >
                            <th scope="row">
                              <Link
                                href={hrefFor(props.path, findingsSpec, { ...state, signal: s.id })}
                                aria-current={state.signal === s.id ? "true" : undefined}
                              >
                                {s.customer}
                              </Link>
                              <div class="muted">
                                {[s.product, s.metric]
                                  .filter(Boolean)
                                  .map((x) => words(String(x)))
                                  .join(" · ")}
                              </div>
                            </th>
                            <td>
                              {labelOf(s.detector)}
                              {s.direction ? <div class="muted">{s.direction}</div> : null}
                            </td>
                            <td class="num">
                              {
                                magnitudeText(
                                  s,
                                  catalog.currency,
                                  detectorInfo(registry, s.detector),
                                ).main
                              }
                              <div class="muted small">
                                {
                                  magnitudeText(
                                    s,
                                    catalog.currency,
                                    detectorInfo(registry, s.detector),
                                  ).sub
                                }
                              </div>
                            </td>
                            <td>
                              {dateTime(s.window.start)}
                              <div class="muted">{span(s.window.start, s.window.end)}</div>
                            </td>
                            <td class="mono small">{s.source_event_ids[0] ?? "—"}</td>
                            <td>
                              {s.action ? (
                                <>
                                  {RUNG_LABELS[s.action.rung] ?? s.action.rung}{" "}
                                  <Badge tone={stateTone(s.action.rung, s.action.state)}>
                                    {s.action.state}
                                  </Badge>
                                </>
                              ) : (
                                "—"
                              )}
                            </td>
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  </div>
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

function SignalPanel(props: {
  id: string;
  onChanged: () => void;
  registry: DetectorsResponse | null | undefined;
}) {
  const api = useApi();
  const { currency } = useCatalog();
  const detail = useQuery<SignalDetail>(`/api/signals/${encodeURIComponent(props.id)}`);
  const customer = detail.data?.customer ?? null;
  const trail = useQuery<{ data: Step[] }>(
    customer ? withQuery("/api/actions", { customer, limit: 500 }) : null,
  );
  const [pending, setPending] = useState<{ verb: "execute" | "reverse"; action: Action } | null>(
    null,
  );
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  // Reset when the selection changes.
  useEffect(() => {
    setDone(null);
    setPending(null);
    setResolving(false);
  }, [props.id]);

  // Resolving takes an optional note in a dialog; reopening is one click (it can be undone).
  const [resolving, setResolving] = useState(false);
  const [note, setNote] = useState("");
  /** Runs one operator step; its message shows on success, its error in the open dialog. */
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
      const sig = await api.post<Signal>(
        `/api/signals/${encodeURIComponent(props.id)}/${verb}`,
        body,
      );
      setResolving(false);
      setNote("");
      return `The signal is now ${sig.status}.`;
    });

  const run = () =>
    perform(async () => {
      if (!pending) return "";
      const a = await api.post<Action>(
        `/api/actions/${encodeURIComponent(pending.action.id)}/${pending.verb}`,
      );
      setPending(null);
      return `${RUNG_LABELS[a.rung] ?? a.rung} is now ${a.state}.`;
    });

  const tier = useMemo(() => (trail.data ? gateTierOf(trail.data.data) : null), [trail.data]);

  // Labels and rungs come from the registry: show the signal once both are here.
  if (!props.registry) return <Loading label="Loading the signal…" />;
  return (
    <QueryView q={detail} what="the signal">
      {(s) => {
        const info = detectorInfo(props.registry, s.detector);
        const ladder = rungsOf(info);
        const a = s.action;
        return (
          <div class="panel signal-panel" data-testid="signal-panel">
            <h2>
              {info?.label ?? s.detector} · {s.customer}
            </h2>
            <dl class="facts">
              <div>
                <dt>Magnitude</dt>
                <dd>
                  {magnitudeText(s, currency, info).main}
                  {magnitudeText(s, currency, info).sub ? (
                    <div class="muted small">{magnitudeText(s, currency, info).sub}</div>
                  ) : null}
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
                  {s.status === "open" ? (
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
                  {s.resolution ? (
                    <div class="muted small" data-testid="resolution">
                      by {s.resolution.by}, {dateTime(s.resolution.at)}
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
            <p class="muted">
              Gate for {s.customer}: <strong data-testid="gate-tier">{tier ?? "…"}</strong> (from
              the actions in force)
            </p>
            <ol class="ladder" data-testid="ladder">
              {ladder.map((rung) => {
                const mine = a && a.rung === rung;
                return (
                  <li
                    key={rung}
                    class={mine ? `rung rung-active state-${a.state}` : "rung"}
                    data-rung={rung}
                  >
                    <span class="rung-name">{RUNG_LABELS[rung] ?? rung}</span>
                    {mine ? (
                      <>
                        <Badge tone={stateTone(a.rung, a.state)}>
                          <span data-testid="action-state">{a.state}</span>
                        </Badge>
                        <span class="rung-actions">
                          {a.state !== "executed" ? (
                            <button
                              type="button"
                              class="btn btn-primary btn-small"
                              onClick={() => {
                                setError(null);
                                setPending({ verb: "execute", action: a });
                              }}
                            >
                              Execute
                            </button>
                          ) : (
                            <button
                              type="button"
                              class="btn btn-small"
                              onClick={() => {
                                setError(null);
                                setPending({ verb: "reverse", action: a });
                              }}
                            >
                              Reverse
                            </button>
                          )}
                        </span>
                      </>
                    ) : (
                      <span class="muted small">not this signal's rung</span>
                    )}
                  </li>
                );
              })}
            </ol>
            {!a ? <p class="muted">No action was recorded for this signal.</p> : null}
            {done ? (
              <p class="notice" role="status">
                {done}
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
              <div class="table-wrap">
                <table class="compact">
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
                    {s.source_events.map((e) => (
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
            {s.trail.length === 0 ? (
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
                      <th scope="col">Detail</th>
                    </tr>
                  </thead>
                  <tbody>
                    {s.trail.map((t) => (
                      <tr key={t.id}>
                        <td>{dateTime(t.at)}</td>
                        <td>{RUNG_LABELS[t.rung] ?? t.rung}</td>
                        <td>
                          <Badge tone={stateTone(t.rung, t.step)}>{t.step}</Badge>
                        </td>
                        <td class="small">{t.actor}</td>
                        <td class="small">{detailText(t.detail)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
            {trail.error ? <ErrorState error={trail.error} what="the customer's actions" /> : null}
            {!trail.data && !trail.error && customer ? (
              <Loading label="Loading the gate state…" />
            ) : null}

            <ConfirmDialog
              open={pending !== null}
              title={
                pending
                  ? `${pending.verb === "execute" ? "Execute" : "Reverse"} ${RUNG_LABELS[pending.action.rung] ?? pending.action.rung} for ${s.customer}?`
                  : ""
              }
              confirmLabel={pending?.verb === "execute" ? "Execute" : "Reverse"}
              danger={
                pending?.verb === "execute" && ["THROTTLE", "BLOCK"].includes(pending.action.rung)
              }
              busy={busy}
              error={error}
              onConfirm={run}
              onCancel={() => setPending(null)}
            >
              <p>{pending ? effectOf(pending.action.rung, pending.verb, s.customer) : null}</p>
              <p class="muted">
                The step is recorded in the orchestration_actions trail with your token's id.
              </p>
            </ConfirmDialog>
            <ConfirmDialog
              open={resolving}
              title={`Resolve this signal for ${s.customer}?`}
              confirmLabel="Resolve"
              busy={busy}
              error={error}
              onConfirm={() => setStatus("resolve")}
              onCancel={() => setResolving(false)}
            >
              <p>
                {s.customer} stops counting as at risk for this signal.
                {a?.state === "executed" && (a.rung === "THROTTLE" || a.rung === "BLOCK")
                  ? ` The ${RUNG_LABELS[a.rung] ?? a.rung} stays in force until you reverse it.`
                  : ""}
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

function detailText(d: Record<string, unknown>): string {
  const parts = Object.entries(d)
    .filter(([, v]) => v !== null && v !== undefined && typeof v !== "object")
    .slice(0, 4)
    .map(([k, v]) => `${words(k)}: ${String(v)}`);
  return parts.join(" · ") || "—";
}
