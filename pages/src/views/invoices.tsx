// Invoices (SPEC §3): the list with filters (status, customer, period), an invoice's lines
// traced to what they were priced from (usage lines → the rollups and the events behind them,
// fee lines, adjustments), and pay / void / finalize with confirmation and the API's errors.
// Who paid, voided or finalized an invoice is on it (issue 13); a role without invoices:write
// reads everything, and the controls that would change an invoice are disabled saying why.

import { useState } from "preact/hooks";
import type { Page } from "../../../contracts/common";
import type { StoredEvent } from "../../../contracts/events";
import type {
  Invoice,
  InvoiceLine,
  InvoiceTrace,
  Payment,
  RetrySchedule,
} from "../../../contracts/invoices";
import { DataTable } from "../components/data-table";
import { FilterBar, TextFilter } from "../components/filter-bar";
import { Pager } from "../components/pager";
import {
  Badge,
  ConfirmDialog,
  Empty,
  ErrorState,
  FilterSelect,
  Loading,
  PageHeader,
  QueryView,
  Refused,
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
import { actorLabel, usePermit } from "../lib/me";
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
  // Clear filters empties the customer field even when its draft was never applied.
  const [clears, setClears] = useState(0);
  const listKey = withQuery("/api/invoices", {
    status: state.status,
    customer: state.customer,
    period: state.period,
    cursor: state.cursor,
    limit: 25,
  });
  const list = useQuery<Page<Invoice>>(listKey);
  const permit = usePermit("invoices:write");
  const api = useApi();
  const [running, setRunning] = useState(false);
  const [ran, setRan] = useState<{ text: string; failed: boolean } | null>(null);

  // What the periodic job does, now: close the periods that ended, refresh and finalize drafts.
  const runInvoicing = async () => {
    setRunning(true);
    setRan(null);
    try {
      const r = await api.post<InvoicingRun>("/api/invoices/run", {});
      setRan({
        text: `Invoicing run: ${integer(r.created)} created, ${integer(r.finalized)} finalized, ${integer(r.refreshed)} drafts refreshed.`,
        failed: false,
      });
      list.reload();
    } catch (e) {
      setRan({ text: e instanceof Error ? e.message : String(e), failed: true });
    } finally {
      setRunning(false);
    }
  };

  return (
    <section aria-labelledby="page-title">
      <PageHeader
        title="Invoices"
        subtitle="One per subscription and billing period: issued at the period close, due by the payment terms."
        actions={
          <>
            <button
              type="button"
              class="btn"
              onClick={runInvoicing}
              disabled={running || !permit.allowed}
              title={
                permit.reason ?? "Invoice the periods that have closed, as the hourly job does"
              }
            >
              {running ? "Running…" : "Run invoicing"}
            </button>
            <button type="button" class="btn" onClick={list.reload} disabled={list.loading}>
              Refresh
            </button>
          </>
        }
      />
      <Refused reason={permit.reason} what="Invoices are read-only for you" />
      {ran ? (
        <p class={ran.failed ? "form-error" : "notice"} role={ran.failed ? "alert" : "status"}>
          {ran.text}
        </p>
      ) : null}
      <FilterBar
        label="Filter invoices"
        onClear={
          state.status || state.customer || state.period
            ? () => {
                setClears(clears + 1);
                go({ status: null, customer: null, period: null, cursor: null });
              }
            : null
        }
      >
        <FilterSelect
          label="Status"
          name="status"
          value={state.status}
          anyLabel="Any status"
          options={INVOICE_STATUSES}
          onChange={(v) => go({ status: v as InvoicesState["status"], cursor: null })}
        />
        <TextFilter
          key={clears}
          apply
          label="Customer id"
          name="customer"
          placeholder="any customer"
          value={state.customer}
          onCommit={(v) => go({ customer: v, cursor: null })}
        />
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
      </FilterBar>
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
                  <DataTable
                    testid="invoice-list"
                    rows={page.data}
                    rowKey={(inv) => inv.id}
                    rowProps={(inv) => ({
                      "data-invoice": inv.id,
                      class: state.invoice === inv.id ? "row-selected" : undefined,
                    })}
                    columns={[
                      {
                        header: "Invoice",
                        rowHeader: true,
                        cell: (inv) => (
                          <Link
                            href={hrefFor(props.path, invoicesSpec, { ...state, invoice: inv.id })}
                          >
                            <code>{inv.id}</code>
                          </Link>
                        ),
                      },
                      { header: "Customer", cell: (inv) => inv.customer },
                      {
                        header: "Period",
                        cell: (inv) =>
                          `${dateOnly(inv.period.start)} – ${dateOnly(inv.period.end)}`,
                      },
                      { header: "Status", cell: (inv) => <StatusBadge inv={inv} /> },
                      { header: "Total", num: true, cell: (inv) => money(inv.total, inv.currency) },
                      {
                        header: "Due",
                        cell: (inv) =>
                          inv.status === "paid"
                            ? `paid ${dateOnly(inv.paid_at)}`
                            : inv.status === "void"
                              ? `voided ${dateOnly(inv.voided_at)}`
                              : inv.status === "draft"
                                ? "not issued yet"
                                : dateOnly(inv.due_at),
                      },
                    ]}
                  />
                  <Pager
                    label="Pages of invoices"
                    back={{
                      label: "First page",
                      disabled: !state.cursor,
                      onClick: () => go({ cursor: null }),
                    }}
                    forward={{
                      label: "Next page",
                      disabled: !page.next_cursor,
                      onClick: () => go({ cursor: page.next_cursor }),
                    }}
                  />
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

/** POST /api/invoices/run's answer. */
interface InvoicingRun {
  created: number;
  finalized: number;
  refreshed: number;
}

/** Who moved an invoice, in the words trails and the audit log use; `system` is the run. */
function ByWhom(props: { actor: string | null }) {
  if (!props.actor) return null;
  return (
    <>
      {" by "}
      {props.actor === "system" ? "the invoicing run" : actorLabel(props.actor)}
    </>
  );
}

const ACTION_TEXT: Record<InvoiceAction, { label: string; title: string; danger?: boolean }> = {
  finalize: { label: "Finalize", title: "Finalize this draft?" },
  pay: { label: "Record payment", title: "Record a payment?" },
  void: { label: "Void", title: "Void this invoice?", danger: true },
};

function InvoiceDetail(props: { id: string; onClose: () => void; onChanged: () => void }) {
  const api = useApi();
  const permit = usePermit("invoices:write");
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
              {i.finalized_at ? (
                <div>
                  <dt>Finalized</dt>
                  <dd data-testid="invoice-finalized">
                    {dateTime(i.finalized_at)}
                    <ByWhom actor={i.finalized_by} />
                  </dd>
                </div>
              ) : null}
              <div>
                <dt>Due</dt>
                <dd>{i.due_at ? dateOnly(i.due_at) : "—"}</dd>
              </div>
              {i.paid_at ? (
                <div>
                  <dt>Paid</dt>
                  <dd data-testid="invoice-paid">
                    {dateOnly(i.paid_at)}
                    <ByWhom actor={i.paid_by} />
                    {i.payment_reference ? ` · ${i.payment_reference}` : ""}
                  </dd>
                </div>
              ) : null}
              {i.voided_at ? (
                <div>
                  <dt>Voided</dt>
                  <dd data-testid="invoice-voided">
                    {dateOnly(i.voided_at)}
                    <ByWhom actor={i.voided_by} />
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
                <dd data-testid="invoice-amount-due">{money(i.amount_due, i.currency)}</dd>
              </div>
              {i.payments_count > 0 ? (
                <div>
                  <dt>Paid so far</dt>
                  <dd data-testid="invoice-amount-paid">
                    {money(i.amount_paid, i.currency)}
                    {i.refund_state !== "none"
                      ? ` · ${money(i.amount_refunded, i.currency)} refunded`
                      : ""}
                  </dd>
                </div>
              ) : null}
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
                    disabled={!permit.allowed}
                    title={permit.reason ?? undefined}
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
            {i.payments_count > 0 ? <PaymentsTable invoice={i} /> : null}
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

const PAYMENT_TONES: Record<Payment["status"], string> = {
  succeeded: "good",
  failed: "bad",
  refunded: "warn",
};

/** Every attempt the payment provider reported for the invoice, oldest first. */
function PaymentsTable(props: { invoice: Invoice }) {
  const { invoice } = props;
  // Keyed by the count too, so a new attempt (the invoice reloads) fetches the list again.
  const q = useQuery<{ data: Payment[] }>(
    `${invoice.id}#payments:${invoice.payments_count}`,
    (api, signal) =>
      api.get<{ data: Payment[] }>(
        `/api/invoices/${encodeURIComponent(invoice.id)}/payments`,
        signal,
      ),
  );
  const retries = useQuery<RetrySchedule>(
    `${invoice.id}#retries:${invoice.payments_count}`,
    (api, signal) =>
      api.get<RetrySchedule>(`/api/invoices/${encodeURIComponent(invoice.id)}/retries`, signal),
  );
  return (
    <>
      <h3>Payments</h3>
      {retries.data ? <RetryLine schedule={retries.data} /> : null}
      <QueryView q={q} what="the payments">
        {(page) => (
          <DataTable
            testid="invoice-payments"
            caption="Payment attempts"
            compact
            rows={page.data}
            rowKey={(p) => p.id}
            rowProps={(p) => ({ "data-status": p.status })}
            columns={[
              { header: "When", class: "small", cell: (p) => dateTime(p.at) },
              {
                header: "Attempt",
                cell: (p) => <Badge tone={PAYMENT_TONES[p.status]}>{p.status}</Badge>,
              },
              {
                header: "Amount",
                num: true,
                cell: (p) => money(p.amount, invoice.currency),
              },
              {
                header: "Why",
                class: "small",
                cell: (p) => [p.decline_code, p.reason].filter(Boolean).join(" · ") || "—",
              },
              {
                header: "Source",
                class: "small",
                cell: (p) => (
                  <>
                    {p.provider}
                    {p.provider_id ? <span class="mono"> {p.provider_id}</span> : null}
                    <div class="muted">{actorLabel(p.recorded_by)}</div>
                  </>
                ),
              },
            ]}
          />
        )}
      </QueryView>
    </>
  );
}

/** Adaptive Retry in one line: what the latest decline planned and where it stands. */
function RetryLine(props: { schedule: RetrySchedule }) {
  const r = props.schedule;
  if (!r.decline) return null;
  const code = r.decline_code ? ` (${r.decline_code})` : "";
  const sent = r.attempts.filter((a) => a.status === "sent").length;
  const cancelled = r.attempts.find((a) => a.status === "cancelled");
  const text =
    r.decline === "hard"
      ? `Hard decline${code}: not retried; the customer was asked for a new payment method.`
      : r.next_retry_at
        ? `Soft decline${code}: retry ${sent + 1} of ${r.planned_attempts} due ${dateTime(r.next_retry_at)} (${integer(r.remaining_attempts)} left).`
        : `Soft decline${code}: ${integer(sent)} of ${r.planned_attempts} retries sent${cancelled ? `, the rest cancelled${cancelled.cancel_reason ? ` (${words(cancelled.cancel_reason)})` : ""}` : ""}.`;
  return (
    <p class={r.next_retry_at ? "notice" : "muted"} data-testid="retry-line">
      {text}
    </p>
  );
}

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
    <DataTable
      testid="invoice-lines"
      rows={props.lines}
      rowKey={(l) => l.position}
      rowProps={(l) => ({ "data-line": String(l.position), "data-kind": l.kind })}
      columns={[
        {
          header: "Line",
          rowHeader: true,
          cell: (l) => (
            <>
              {l.description}
              {l.service ? (
                <div class="muted small">
                  {dateOnly(l.service.from)} – {dateOnly(l.service.to)}
                  {l.plan ? ` · ${l.plan}` : ""}
                </div>
              ) : null}
            </>
          ),
        },
        { header: "Kind", cell: (l) => <Badge tone={KIND_TONE[l.kind]}>{l.kind}</Badge> },
        {
          header: "Quantity",
          num: true,
          cell: (l) =>
            l.kind === "usage"
              ? `${decimal(l.quantity, 0)} ${l.metric ?? ""}`
              : decimal(l.quantity, 4),
        },
        { header: "Amount", num: true, cell: (l) => money(l.amount, props.currency) },
        {
          header: "Source",
          cell: (l) =>
            l.kind === "usage" ? (
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
            ),
        },
      ]}
      foot={
        <>
          <th scope="row" colSpan={3}>
            Lines total
          </th>
          <td class="num">{money(sum, props.currency)}</td>
          <td />
        </>
      }
    />
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
        <DataTable
          rows={t.usage}
          rowKey={(g) => `${g.metric}/${g.service.from}`}
          rowProps={(g) => ({ "data-metric": g.metric })}
          columns={[
            {
              header: "Metric, window",
              rowHeader: true,
              cell: (g) => (
                <>
                  {g.metric}
                  <div class="muted small">
                    {dateOnly(g.service.from)} – {dateOnly(g.service.to)}
                  </div>
                </>
              ),
            },
            { header: "Events", num: true, cell: (g) => integer(g.rollups.events) },
            { header: "Units", num: true, cell: (g) => decimal(g.rollups.units, 0) },
            {
              header: "Events' revenue",
              num: true,
              cell: (g) => money(g.rollups.revenue, t.currency),
            },
            { header: "Usage lines", num: true, cell: (g) => money(g.amount, t.currency) },
            {
              header: "Agree",
              cell: (g) => (
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
              ),
            },
          ]}
        />
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
          <DataTable
            rows={q.data.data}
            rowKey={(e) => e.id}
            rowProps={(e) => ({ "data-event": e.id })}
            columns={[
              { header: "Time", cell: (e) => dateTime(e.time) },
              { header: "Event", cell: (e) => <code>{e.id}</code> },
              { header: "Quantity", num: true, cell: (e) => decimal(e.quantity, 0) },
              {
                header: "Revenue",
                num: true,
                cell: (e) => money(e.revenue, props.invoice.currency, { digits: 4 }),
              },
              { header: "Cost", num: true, cell: (e) => money(e.cost, "USD", { digits: 4 }) },
            ]}
          />
          <Pager
            label="Pages of the line's events"
            back={{ label: "Newest", disabled: !cursor, onClick: () => setCursor(null) }}
            forward={{
              label: "Older",
              disabled: !q.data.next_cursor,
              onClick: () => setCursor(q.data?.next_cursor ?? null),
            }}
          />
        </>
      )}
    </div>
  );
}
