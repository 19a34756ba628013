// Live Ingestion (SPEC §8): the /api/live Server-Sent Events stream as a table that grows as
// events arrive, accepted and rejected (with reasons), with price and cost, the cost's model and
// provider, and flags; filters (sent to the server, kept in the URL), pause/resume, and the
// arrival rate. On connect the server first sends the tenant's last events (`recent: true`), so
// the page opens on what just happened; they are marked and not counted as arrivals.

import { useEffect, useRef, useState } from "preact/hooks";
import type { LiveItem } from "../../../contracts/events";
import { Badge, Empty, FilterSelect, PageHeader } from "../components/ui";
import { isAbort, useApi, withQuery } from "../lib/api";
import { allMetrics, useCatalog } from "../lib/catalog";
import { decimal, integer, money, timeOnly, words } from "../lib/format";
import { navigate } from "../lib/router";
import { readSse } from "../lib/sse";
import { hrefFor, type LiveState, liveSpec, parseState } from "../lib/url-state";
import type { ViewProps } from "./cockpit";

const MAX_ROWS = 500;
const MAX_BUFFER = 5_000;
const RATE_WINDOW_MS = 5_000;
const FLUSH_MS = 200;

type Row = LiveItem & { key: number };
type Connection = "connecting" | "live" | "reconnecting";

/** Events per second over the trailing window, from arrival times (ms). */
export function ratePerSecond(arrivals: number[], now: number, windowMs = RATE_WINDOW_MS): number {
  let n = 0;
  for (let i = arrivals.length - 1; i >= 0; i--) {
    if ((arrivals[i] as number) <= now - windowMs) break;
    n++;
  }
  return n / (windowMs / 1000);
}

export function LiveView(props: ViewProps) {
  const state = parseState(liveSpec, props.search);
  const go = (changes: Partial<LiveState>) =>
    navigate(hrefFor(props.path, liveSpec, { ...state, ...changes }));
  const api = useApi();
  const catalog = useCatalog();
  const currency = catalog.currency;

  const [rows, setRows] = useState<Row[]>([]);
  const [paused, setPaused] = useState(false);
  const [waiting, setWaiting] = useState(0);
  const [connection, setConnection] = useState<Connection>("connecting");
  const [problem, setProblem] = useState<string | null>(null);
  const [dropped, setDropped] = useState(0);
  const [rate, setRate] = useState(0);
  const [total, setTotal] = useState({ accepted: 0, rejected: 0 });
  const [recentCount, setRecentCount] = useState(0);

  const buffer = useRef<LiveItem[]>([]);
  const arrivals = useRef<number[]>([]);
  const pausedRef = useRef(paused);
  pausedRef.current = paused;
  const seq = useRef(0);

  const streamPath = withQuery("/api/live", {
    product: state.product,
    customer: state.customer,
    metric: state.metric,
    status: state.status,
  });

  // One stream per filter: reconnects after the server's retry delay if it ends.
  useEffect(() => {
    const controller = new AbortController();
    const { signal } = controller;
    setRows([]);
    setWaiting(0);
    setDropped(0);
    setTotal({ accepted: 0, rejected: 0 });
    setRecentCount(0);
    buffer.current = [];
    (async () => {
      let retryMs = 2_000;
      while (!signal.aborted) {
        try {
          const res = await api.stream(streamPath, signal);
          setProblem(null);
          const end = await readSse(
            res,
            (m) => {
              if (m.event === "ready") {
                setConnection("live");
                // A reconnect replays the ring: start from it again rather than show it twice.
                buffer.current = [];
                setRows([]);
                setRecentCount(0);
                return;
              }
              if (m.event === "dropped") {
                const n = Number((JSON.parse(m.data) as { count?: number }).count ?? 0);
                setDropped((d) => d + n);
                return;
              }
              if (m.event !== "accepted" && m.event !== "rejected") return;
              const item = JSON.parse(m.data) as LiveItem;
              if (!item.recent) arrivals.current.push(Date.now());
              if (buffer.current.length < MAX_BUFFER) buffer.current.push(item);
              else setDropped((d) => d + 1);
            },
            signal,
          );
          if (end.retryMs) retryMs = end.retryMs;
        } catch (err) {
          if (isAbort(err) || signal.aborted) return;
          setProblem(err instanceof Error ? err.message : String(err));
        }
        if (signal.aborted) return;
        setConnection("reconnecting");
        await new Promise((r) => setTimeout(r, retryMs));
      }
    })();
    return () => controller.abort();
  }, [api, streamPath]);

  // Render in small batches (a burst of 1,000 events is one re-render, not 1,000).
  useEffect(() => {
    const timer = setInterval(() => {
      const now = Date.now();
      const cut = arrivals.current.findIndex((t) => t > now - RATE_WINDOW_MS);
      arrivals.current = cut < 0 ? [] : arrivals.current.slice(cut);
      setRate(ratePerSecond(arrivals.current, now));
      if (buffer.current.length === 0) return;
      if (pausedRef.current) {
        setWaiting(buffer.current.length);
        return;
      }
      const fresh = buffer.current;
      buffer.current = [];
      setWaiting(0);
      const live = fresh.filter((i) => !i.recent);
      const accepted = live.filter((i) => i.status === "accepted").length;
      setTotal((t) => ({
        accepted: t.accepted + accepted,
        rejected: t.rejected + live.length - accepted,
      }));
      if (live.length < fresh.length) setRecentCount((n) => n + fresh.length - live.length);
      const keyed = fresh.map((i) => ({ ...i, key: ++seq.current })).reverse();
      setRows((prev) => [...keyed, ...prev].slice(0, MAX_ROWS));
    }, FLUSH_MS);
    return () => clearInterval(timer);
  }, []);

  const metrics = state.product
    ? (catalog.products.find((p) => p.id === state.product)?.metrics ?? [])
    : allMetrics(catalog);

  return (
    <section aria-labelledby="page-title">
      <PageHeader
        title="Live Ingestion"
        subtitle="Events as the API processes them: accepted ones with their price and cost, rejected ones with the reasons."
        actions={
          <>
            <span class={`conn conn-${connection}`} role="status" data-testid="connection">
              <span class="dot" aria-hidden="true" />
              {connection === "live"
                ? "Live"
                : connection === "connecting"
                  ? "Connecting…"
                  : "Reconnecting…"}
            </span>
            <span class="rate" data-testid="rate" aria-live="off">
              <strong>{decimal(rate, 1)}</strong> events/s
            </span>
            <button
              type="button"
              class={`btn ${paused ? "btn-primary" : ""}`}
              aria-pressed={paused}
              onClick={() => setPaused(!paused)}
            >
              {paused ? "Resume" : "Pause"}
            </button>
            <button
              type="button"
              class="btn"
              onClick={() => {
                setRows([]);
                setTotal({ accepted: 0, rejected: 0 });
              }}
            >
              Clear
            </button>
          </>
        }
      />
      <form class="filters" aria-label="Filter the stream" onSubmit={(e) => e.preventDefault()}>
        <FilterSelect
          label="Product"
          name="product"
          value={state.product}
          anyLabel="All products"
          options={catalog.products.map((p) => ({ value: p.id, label: p.name }))}
          onChange={(v) => go({ product: v, metric: null })}
        />
        <FilterSelect
          label="Type (metric)"
          name="metric"
          value={state.metric}
          anyLabel="All metrics"
          options={metrics.map((m) => ({ value: m.id, label: m.name ?? words(m.id) }))}
          onChange={(v) => go({ metric: v })}
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
        <FilterSelect
          label="Status"
          name="status"
          value={state.status}
          anyLabel="Accepted and rejected"
          options={[
            { value: "accepted", label: "Accepted" },
            { value: "rejected", label: "Rejected" },
          ]}
          onChange={(v) => go({ status: v as LiveState["status"] })}
        />
      </form>
      {problem ? (
        <p class="state state-error" role="alert">
          The stream stopped: {problem}. Reconnecting…
        </p>
      ) : null}
      <p class="muted" aria-live="polite">
        {integer(total.accepted)} accepted · {integer(total.rejected)} rejected since you opened
        this page
        {recentCount ? ` · ${integer(recentCount)} earlier events shown (marked “earlier”)` : ""}
        {dropped ? ` · ${integer(dropped)} not shown (the stream was faster than this tab)` : ""}
        {paused && waiting
          ? ` · paused: ${integer(waiting)} new events waiting`
          : paused
            ? " · paused"
            : ""}
      </p>
      {rows.length === 0 ? (
        <Empty title={connection === "live" ? "Waiting for events…" : "Connecting to the stream…"}>
          Send usage to <code>POST /v1/events</code> with an ingest key and it shows up here as it
          is processed. The page opens on the last 100 events the tenant sent; none yet.
        </Empty>
      ) : (
        <div class="table-wrap">
          <table class="compact" data-testid="live-table">
            <caption class="sr-only">Events, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Received</th>
                <th scope="col">Status</th>
                <th scope="col">Source</th>
                <th scope="col">Customer</th>
                <th scope="col">Product · metric</th>
                <th scope="col" class="num">
                  Quantity
                </th>
                <th scope="col" class="num">
                  Revenue
                </th>
                <th scope="col" class="num">
                  Cost
                </th>
                <th scope="col">Model · provider</th>
                <th scope="col">Flags</th>
                <th scope="col">Event id · notes</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr
                  key={r.key}
                  data-event={r.id ?? ""}
                  data-status={r.status}
                  data-recent={r.recent ? "true" : undefined}
                  class={
                    [r.status === "rejected" ? "row-rejected" : "", r.recent ? "row-recent" : ""]
                      .filter(Boolean)
                      .join(" ") || undefined
                  }
                >
                  <td>
                    {timeOnly(r.received_at)}
                    {r.recent ? (
                      <span class="muted small" title="Sent before you opened this page">
                        {" "}
                        earlier
                      </span>
                    ) : null}
                  </td>
                  <td>
                    <Badge tone={r.status === "accepted" ? "good" : "bad"}>{r.status}</Badge>
                  </td>
                  <td class="small">{r.source ?? "—"}</td>
                  <td>{r.customer ?? "—"}</td>
                  <td>
                    {r.product ?? "—"} · {r.metric ? words(r.metric) : "—"}
                  </td>
                  <td class="num">{r.quantity === null ? "—" : decimal(r.quantity, 6)}</td>
                  <td class="num">
                    {r.revenue !== undefined ? money(r.revenue, currency, { digits: 4 }) : "—"}
                  </td>
                  <td class="num">
                    {r.cost !== undefined ? money(r.cost, currency, { digits: 4 }) : "—"}
                    {r.cost_status === "uncosted" ? (
                      <span class="muted small" title="Aforo could not tell what this cost">
                        {" "}
                        unknown
                      </span>
                    ) : null}
                  </td>
                  <td class="small" data-testid="model">
                    {r.model || r.provider ? (
                      <>
                        <span class="mono">{r.model ?? "—"}</span>
                        <span class="muted"> · {r.provider ?? "—"}</span>
                      </>
                    ) : (
                      "—"
                    )}
                  </td>
                  <td class="small" data-testid="flags">
                    {r.flags?.length ? (
                      <div class="flags">
                        {r.flags.map((f) => (
                          <Badge key={f} tone="warn">
                            {words(f)}
                          </Badge>
                        ))}
                      </div>
                    ) : (
                      "—"
                    )}
                  </td>
                  <td class="small">
                    <span class="mono">{r.id ?? "(no id)"}</span>
                    {r.errors?.length ? (
                      <ul class="reasons">
                        {r.errors.map((e) => (
                          <li key={e.path + e.message}>
                            <code>{e.path}</code> {e.message}
                          </li>
                        ))}
                      </ul>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
