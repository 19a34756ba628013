// Invoices (SPEC §3): the list with filters (status, customer, period), an invoice's lines
// traced to what they were priced from (usage lines → the rollups and the events behind them,
// fee lines, adjustments), and pay / void / finalize with confirmation and the API's errors.

import { useState } from "preact/hooks";
import type { Page } from "../../../contracts/common";
import type { StoredEvent } from "../../../contracts/events";
import type { Invoice, InvoiceLine, InvoiceTrace } from "../../../contracts/invoices";
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
import { dateOnly, dateTime, decimal, integer, money, words } from "../lib/format";
import {
  actionsFor,
  INVOICE_STATUSES,
  type InvoiceAction,
  type InvoicesState,
  invoicesSpec,
  paidAtFor,
  statusTone,
} from "../lib/invoices";
import { Link, navigate } from "../lib/router";
import { hrefFor, parseState } from "../lib/url-state";
import { useQuery } from "../lib/use-query";

export interface ViewProps {
  search: URLSearchParams;
  path: string;
}

export function InvoicesView(props: ViewProps) {
  const state = parseState(invoicesSpec, props.search);
  const go = (changes: Partial<InvoicesState>) =>
    navigate(hrefFor(props.path, invoicesSpec, { ...state, ...changes }));
  const [customerDraft, setCustomerDraft] = useState(state.customer ?? "");
  const listKey = withQuery("/api/invoices", {
    status: state.status,
    customer: state.customer,
    period: state.period,
    cursor: state.cursor,
    limit: 25,
  });
  const list = useQuery<Page<Invoice>>(listKey);

  return (
    <section aria-labelledby="page-title">
      <PageHeader
        title="Invoices"
        subtitle="One per subscription and billing period: issued at the period close, due by the payment terms."
        actions={
          <button type="button" class="btn" onClick={list.reload} disabled={list.loading}>
            Refresh
          </button>
        }
      />
      <div class="filters">
        <FilterSelect
          label="Status"
          name="status"
          value={state.status}
          anyLabel="Any status"
          options={INVOICE_STATUSES}
          onChange={(v) => go({ status: v as InvoicesState["status"], cursor: null })}
        />
        <form
          class="field-form"
          onSubmit={(e) => {
            e.preventDefault();
            const v = customerDraft.trim();
            go({ customer: v || null, cursor: null });
          }}
        >
          <label class="field">
            <span>Customer id</span>
            <input
              name="customer"
              value={customerDraft}
              placeholder="any customer"
              onInput={(e) => setCustomerDraft((e.currentTarget as HTMLInputElement).value)}
            />
          </label>
          <button type="submit" class="btn">
            Apply
          </button>
        </form>
        <label class="field">
          <span>Period (month)</span>
          <input
            type="month"
            name="period"
            value={state.period ?? ""}
            onChange={(e) =>
              go({ period: (e.currentTarget as HTMLInputElement).value || null, cursor: null })
            }
          />
        </label>
        {state.status || state.customer || state.period ? (
          <button
            type="button"
            class="btn"
            onClick={() => {
              setCustomerDraft("");
              go({ status: null, customer: null, period: null, cursor: null });
            }}
          >
            Clear filters
          </button>
        ) : null}
      </div>
      <div class={state.invoice ? "split" : undefined}>
        <div class="panel">
          <QueryView q={list} what="invoices">
            {(page) =>
              page.data.length === 0 ? (
                <Empty title="No invoices match these filters">
                  Invoices appear when a billing period closes (the periodic job, or{" "}
                  <code>POST /api/invoices/run</code>).
                </Empty>
              ) : (
                <>
                  <div class="table-wrap">
                    <table data-testid="invoice-list">
                      <thead>
                        <tr>
                          <th scope="col">Invoice</th>
                          <th scope="col">Customer</th>
                          <th scope="col">Period</th>
                          <th scope="col">Status</th>
                          <th scope="col" class="num">
                            Total
                          </th>
                          <th scope="col">Due</th>
                        </tr>
                      </thead>
                      <tbody>
                        {page.data.map((inv) => (
                          <tr
                            key={inv.id}
                            data-invoice={inv.id}
                            class={state.invoice === inv.id ? "row-selected" : undefined}
                          >
                            <th scope="row">
                              <Link
                                href={hrefFor(props.path, invoicesSpec, {
                                  ...state,
                                  invoice: inv.id,
                                })}
                              >
                                <code>{inv.id}</code>
                              </Link>
                            </th>
                            <td>{inv.customer}</td>
                            <td>
                              {dateOnly(inv.period.start)} – {dateOnly(inv.period.end)}
                            </td>
                            <td>
                              <StatusBadge inv={inv} />
                            </td>
                            <td class="num">{money(inv.total, inv.currency)}</td>
                            <td>
                              {inv.status === "paid"
                                ? `paid ${dateOnly(inv.paid_at)}`
                                : inv.status === "void"
                                  ? `voided ${dateOnly(inv.voided_at)}`
                                  : inv.status === "draft"
                                    ? "not issued yet"
                                    : dateOnly(inv.due_at)}
                            </td>
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  </div>
                  <div class="pager">
                    <button
                      type="button"
                      class="btn btn-small"
                      disabled={!state.cursor}
                      onClick={() => go({ cursor: null })}
                    >
                      First page
                    </button>
                    <button
                      type="button"
                      class="btn btn-small"
                      disabled={!page.next_cursor}
                      onClick={() => go({ cursor: page.next_cursor })}
                    >
                      Next page
                    </button>
                  </div>
                </>
              )
            }
          </QueryView>
        </div>
        {state.invoice ? (
          <InvoiceDetail
            id={state.invoice}
            onClose={() => go({ invoice: null })}
            onChanged={list.reload}
          />
        ) : null}
      </div>
    </section>
  );
}

function StatusBadge(props: { inv: Invoice }) {
  const { inv } = props;
  const late = inv.status === "open" && (inv.days_past_due ?? 0) > 0;
  return (
    <Badge tone={statusTone(inv)}>
      {late ? `past due ${integer(inv.days_past_due)} d` : inv.status}
    </Badge>
  );
}

const ACTION_TEXT: Record<InvoiceAction, { label: string; title: string; danger?: boolean }> = {
  finalize: { label: "Finalize", title: "Finalize this draft?" },
  pay: { label: "Record payment", title: "Record a payment?" },
  void: { label: "Void", title: "Void this invoice?", danger: true },
};

function InvoiceDetail(props: { id: string; onClose: () => void; onChanged: () => void }) {
  const api = useApi();
  const inv = useQuery<Invoice>(`/api/invoices/${encodeURIComponent(props.id)}`);
  const trace = useQuery<InvoiceTrace>(`/api/invoices/${encodeURIComponent(props.id)}/trace`);
  const [action, setAction] = useState<InvoiceAction | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [paidOn, setPaidOn] = useState("");
  const [reference, setReference] = useState("");
  const [reason, setReason] = useState("");
  const [eventsLine, setEventsLine] = useState<number | null>(null);

  const run = async () => {
    if (!action) return;
    setBusy(true);
    setError(null);
    const path = `/api/invoices/${encodeURIComponent(props.id)}/${action}`;
    const body =
      action === "pay"
        ? {
            ...(paidAtFor(paidOn) ? { at: paidAtFor(paidOn) } : {}),
            ...(reference.trim() ? { reference: reference.trim() } : {}),
          }
        : action === "void"
          ? reason.trim()
            ? { reason: reason.trim() }
            : {}
          : {};
    try {
      const res = await api.post<Invoice>(path, body);
      setNotice(`${ACTION_TEXT[action].label}: the invoice is now ${res.status}.`);
      setAction(null);
      inv.reload();
      trace.reload();
      props.onChanged();
    } catch (e) {
      if (e instanceof ApiError) {
        const fields = e.errors.map((f) => `${f.path}: ${f.message}`).join("; ");
        setError(`${e.message}${fields ? ` (${fields})` : ""}`);
      } else setError(String(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <aside class="panel split-side" aria-labelledby="invoice-title" data-testid="invoice-detail">
      <div class="panel-head">
        <h2 id="invoice-title">
          Invoice <code>{props.id}</code>
        </h2>
        <button type="button" class="btn btn-small" onClick={props.onClose}>
          Close
        </button>
      </div>
      <QueryView q={inv} what="the invoice">
        {(i) => (
          <>
            <dl class="facts">
              <div>
                <dt>Status</dt>
                <dd>
                  <StatusBadge inv={i} />
                </dd>
              </div>
              <div>
                <dt>Customer</dt>
                <dd>
                  <Link href={`/margin?customer=${encodeURIComponent(i.customer)}`}>
                    {i.customer}
                  </Link>
                </dd>
              </div>
              <div>
                <dt>Subscription</dt>
                <dd>
                  <code>{i.subscription}</code> ({i.product})
                </dd>
              </div>
              <div>
                <dt>Period</dt>
                <dd>
                  {dateTime(i.period.start)} – {dateTime(i.closes_at)}
                </dd>
              </div>
              <div>
                <dt>Issued</dt>
                <dd>{i.issued_at ? dateOnly(i.issued_at) : "not yet (draft)"}</dd>
              </div>
              <div>
                <dt>Due</dt>
                <dd>{i.due_at ? dateOnly(i.due_at) : "—"}</dd>
              </div>
              {i.paid_at ? (
                <div>
                  <dt>Paid</dt>
                  <dd>
                    {dateOnly(i.paid_at)}
                    {i.payment_reference ? ` · ${i.payment_reference}` : ""}
                  </dd>
                </div>
              ) : null}
              {i.voided_at ? (
                <div>
                  <dt>Voided</dt>
                  <dd>
                    {dateOnly(i.voided_at)}
                    {i.void_reason ? ` · ${i.void_reason}` : ""}
                  </dd>
                </div>
              ) : null}
              <div>
                <dt>Total</dt>
                <dd data-testid="invoice-total">{money(i.total, i.currency)}</dd>
              </div>
              <div>
                <dt>Amount due</dt>
                <dd>{money(i.amount_due, i.currency)}</dd>
              </div>
            </dl>
            {notice ? (
              <p class="notice" role="status">
                {notice}
              </p>
            ) : null}
            {actionsFor(i.status).length > 0 ? (
              <div class="page-actions">
                {actionsFor(i.status).map((a) => (
                  <button
                    key={a}
                    type="button"
                    class={`btn ${ACTION_TEXT[a].danger ? "btn-danger" : "btn-primary"}`}
                    onClick={() => {
                      setError(null);
                      setAction(a);
                    }}
                  >
                    {ACTION_TEXT[a].label}
                  </button>
                ))}
              </div>
            ) : null}
            <h3>Lines</h3>
            <LinesTable
              lines={i.lines ?? []}
              currency={i.currency}
              trace={trace.data}
              eventsLine={eventsLine}
              onEvents={(p) => setEventsLine(eventsLine === p ? null : p)}
            />
            {trace.error ? (
              <ErrorState error={trace.error} onRetry={trace.reload} what="the trace" />
            ) : null}
            {trace.data ? <TraceSummary trace={trace.data} /> : null}
            {eventsLine !== null ? (
              <LineEvents
                invoice={i}
                line={(i.lines ?? []).find((l) => l.position === eventsLine)}
              />
            ) : null}
            <ConfirmDialog
              open={action !== null}
              title={action ? ACTION_TEXT[action].title : ""}
              confirmLabel={action ? ACTION_TEXT[action].label : ""}
              danger={action ? Boolean(ACTION_TEXT[action].danger) : false}
              busy={busy}
              error={error}
              onCancel={() => setAction(null)}
              onConfirm={run}
            >
              {action === "finalize" ? (
                <p>
                  It is issued at its period close ({dateOnly(i.closes_at)}) and becomes due by the
                  payment terms; a zero invoice is paid at once. Usage arriving later is not
                  re-invoiced.
                </p>
              ) : action === "pay" ? (
                <>
                  <p>
                    {money(i.total, i.currency)} from {i.customer}. A past-due subscription with no
                    other overdue invoice returns to active.
                  </p>
                  <label class="field">
                    <span>Paid on (empty: now)</span>
                    <input
                      type="date"
                      name="paid_on"
                      value={paidOn}
                      onInput={(e) => setPaidOn((e.currentTarget as HTMLInputElement).value)}
                    />
                  </label>
                  <label class="field">
                    <span>Reference (optional)</span>
                    <input
                      name="reference"
                      maxLength={200}
                      value={reference}
                      onInput={(e) => setReference((e.currentTarget as HTMLInputElement).value)}
                    />
                  </label>
                </>
              ) : action === "void" ? (
                <>
                  <p>
                    A voided period is not billed again unless a run asks for it (after correcting
                    the subscription's history). This cannot be undone.
                  </p>
                  <label class="field">
                    <span>Reason (optional)</span>
                    <input
                      name="reason"
                      maxLength={500}
                      value={reason}
                      onInput={(e) => setReason((e.currentTarget as HTMLInputElement).value)}
                    />
                  </label>
                </>
              ) : null}
            </ConfirmDialog>
          </>
        )}
      </QueryView>
    </aside>
  );
}

const KIND_TONE = { usage: "info", fee: "neutral", adjustment: "warn" } as const;

function LinesTable(props: {
  lines: InvoiceLine[];
  currency: string;
  trace: InvoiceTrace | undefined;
  eventsLine: number | null;
  onEvents: (position: number) => void;
}) {
  if (props.lines.length === 0) return <Empty title="No lines" />;
  const sum = props.lines.reduce((s, l) => s + Math.round(Number(l.amount) * 100), 0) / 100;
  return (
    <div class="table-wrap">
      <table data-testid="invoice-lines">
        <thead>
          <tr>
            <th scope="col">Line</th>
            <th scope="col">Kind</th>
            <th scope="col" class="num">
              Quantity
            </th>
            <th scope="col" class="num">
              Amount
            </th>
            <th scope="col">Source</th>
          </tr>
        </thead>
        <tbody>
          {props.lines.map((l) => (
            <tr key={l.position} data-line={l.position} data-kind={l.kind}>
              <th scope="row">
                {l.description}
                {l.service ? (
                  <div class="muted small">
                    {dateOnly(l.service.from)} – {dateOnly(l.service.to)}
                    {l.plan ? ` · ${l.plan}` : ""}
                  </div>
                ) : null}
              </th>
              <td>
                <Badge tone={KIND_TONE[l.kind]}>{l.kind}</Badge>
              </td>
              <td class="num">
                {l.kind === "usage"
                  ? `${decimal(l.quantity, 0)} ${l.metric ?? ""}`
                  : decimal(l.quantity, 4)}
              </td>
              <td class="num">{money(l.amount, props.currency)}</td>
              <td>
                {l.kind === "usage" ? (
                  <button
                    type="button"
                    class="btn btn-small"
                    aria-expanded={props.eventsLine === l.position}
                    onClick={() => props.onEvents(l.position)}
                  >
                    {props.eventsLine === l.position ? "Hide events" : "Events"}
                  </button>
                ) : l.kind === "fee" ? (
                  <span class="muted">plan {l.plan ?? ""}</span>
                ) : (
                  <span class="muted">{words(l.type)}</span>
                )}
              </td>
            </tr>
          ))}
        </tbody>
        <tfoot>
          <tr>
            <th scope="row" colSpan={3}>
              Lines total
            </th>
            <td class="num">{money(sum, props.currency)}</td>
            <td />
          </tr>
        </tfoot>
      </table>
    </div>
  );
}

function TraceSummary(props: { trace: InvoiceTrace }) {
  const t = props.trace;
  return (
    <div data-testid="invoice-trace">
      <h3>Traced to usage</h3>
      <p class="muted">
        Usage {money(t.kinds.usage, t.currency)} + fees {money(t.kinds.fee, t.currency)} +
        adjustments {money(t.kinds.adjustment, t.currency)} = {money(t.lines_total, t.currency)}
        {t.lines_total === t.total
          ? " (the invoice total)"
          : ` — the total reads ${money(t.total, t.currency)}`}
      </p>
      {t.usage.length === 0 ? (
        <p class="muted">No usage lines: this invoice is fees only.</p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Metric, window</th>
                <th scope="col" class="num">
                  Events
                </th>
                <th scope="col" class="num">
                  Units
                </th>
                <th scope="col" class="num">
                  Events' revenue
                </th>
                <th scope="col" class="num">
                  Usage lines
                </th>
                <th scope="col">Agree</th>
              </tr>
            </thead>
            <tbody>
              {t.usage.map((g) => (
                <tr key={`${g.metric}/${g.service.from}`} data-metric={g.metric}>
                  <th scope="row">
                    {g.metric}
                    <div class="muted small">
                      {dateOnly(g.service.from)} – {dateOnly(g.service.to)}
                    </div>
                  </th>
                  <td class="num">{integer(g.rollups.events)}</td>
                  <td class="num">{decimal(g.rollups.units, 0)}</td>
                  <td class="num">{money(g.rollups.revenue, t.currency)}</td>
                  <td class="num">{money(g.amount, t.currency)}</td>
                  <td>
                    <Badge
                      tone={g.matches ? "good" : "warn"}
                      title={
                        g.matches
                          ? undefined
                          : "Usage arrived after the invoice was final, or events are outside the window's hours"
                      }
                    >
                      {g.matches ? "yes" : "differs"}
                    </Badge>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

function LineEvents(props: { invoice: Invoice; line: InvoiceLine | undefined }) {
  const [cursor, setCursor] = useState<string | null>(null);
  const line = props.line;
  const key = line
    ? withQuery(`/api/invoices/${encodeURIComponent(props.invoice.id)}/events`, {
        line: line.position,
        limit: 20,
        cursor,
      })
    : null;
  const q = useQuery<Page<StoredEvent>>(key);
  if (!line) return null;
  return (
    <div data-testid="line-events">
      <h3>Events behind “{line.description}”</h3>
      {q.error ? (
        <ErrorState error={q.error} onRetry={q.reload} what="the events" />
      ) : !q.data ? (
        <Loading label="Loading the events…" />
      ) : q.data.data.length === 0 ? (
        <Empty title="No stored events in this window">
          Raw events are kept for the tenant's raw retention; the rollups above still hold their
          sums.
        </Empty>
      ) : (
        <>
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Time</th>
                  <th scope="col">Event</th>
                  <th scope="col" class="num">
                    Quantity
                  </th>
                  <th scope="col" class="num">
                    Revenue
                  </th>
                  <th scope="col" class="num">
                    Cost
                  </th>
                </tr>
              </thead>
              <tbody>
                {q.data.data.map((e) => (
                  <tr key={e.id} data-event={e.id}>
                    <td>{dateTime(e.time)}</td>
                    <td>
                      <code>{e.id}</code>
                    </td>
                    <td class="num">{decimal(e.quantity, 0)}</td>
                    <td class="num">{money(e.revenue, props.invoice.currency, { digits: 4 })}</td>
                    <td class="num">{money(e.cost, "USD", { digits: 4 })}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <div class="pager">
            <button
              type="button"
              class="btn btn-small"
              disabled={!cursor}
              onClick={() => setCursor(null)}
            >
              Newest
            </button>
            <button
              type="button"
              class="btn btn-small"
              disabled={!q.data.next_cursor}
              onClick={() => setCursor(q.data?.next_cursor ?? null)}
            >
              Older
            </button>
          </div>
        </>
      )}
    </div>
  );
}
