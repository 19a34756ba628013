// The list behind a cockpit tile (GET /api/metrics/cockpit/items?kpi): the customers,
// subscriptions or invoices its number counts or sums, at the cockpit's as-of instant, with the
// tile's figures from the same computation so the operator sees that the rows add up.

import type {
  CockpitKpiItem,
  CockpitKpiItems,
  CockpitKpiKey,
  PaymentRecovery,
} from "../../../contracts/metrics";
import { Badge, Empty, ErrorState, Loading } from "../components/ui";
import { withQuery } from "../lib/api";
import {
  counted,
  dateOnly,
  decimal,
  integer,
  money,
  num,
  percent,
  signedMoney,
  words,
} from "../lib/format";
import { Link } from "../lib/router";
import { useQuery } from "../lib/use-query";

const TITLES: Record<CockpitKpiKey, string> = {
  mrr: "paying customers by MRR",
  arr: "paying customers by MRR (ARR = 12 × MRR)",
  arpu: "paying customers by MRR (ARPU = MRR ÷ paying customers)",
  nrr: "the cohort, customers paying at the window start",
  customer_churn: "customers who stopped paying in the window",
  trial_conversion: "trials that ended in the window",
  active_subscriptions: "live subscriptions",
  outstanding_invoices: "unpaid invoices, most overdue first",
};

const AGING: Record<string, string> = {
  current: "current",
  days_1_30: "1–30 days",
  days_31_60: "31–60 days",
  days_61_90: "61–90 days",
  days_over_90: "90+ days",
};

interface Column {
  label: string;
  num?: boolean;
  cell: (r: CockpitKpiItem, currency: string) => preact.ComponentChildren;
}

const customerCell: Column = {
  label: "Customer",
  cell: (r) => (
    <Link href={`/margin?customer=${encodeURIComponent(r.customer_id)}`}>
      {r.customer_name ?? r.customer_id}
      {r.customer_name && r.customer_name !== r.customer_id ? (
        <span class="muted"> · {r.customer_id}</span>
      ) : null}
    </Link>
  ),
};

const mrrColumns: Column[] = [
  customerCell,
  { label: "MRR", num: true, cell: (r, c) => money(r.mrr, c) },
  { label: "Committed", num: true, cell: (r, c) => money(r.committed, c) },
  { label: "Usage (30 d)", num: true, cell: (r, c) => money(r.usage, c) },
];

const COLUMNS: Record<CockpitKpiKey, Column[]> = {
  mrr: mrrColumns,
  arr: mrrColumns,
  arpu: mrrColumns,
  nrr: [
    customerCell,
    { label: "MRR at start", num: true, cell: (r, c) => money(r.start_mrr, c) },
    { label: "MRR now", num: true, cell: (r, c) => money(r.current_mrr, c) },
    { label: "Change", num: true, cell: (r, c) => signedMoney(r.change, c) },
  ],
  customer_churn: [
    customerCell,
    { label: "Last paying day", cell: (r) => dateOnly(r.last_paying_at) },
    { label: "Churned", cell: (r) => dateOnly(r.churned_at) },
    { label: "MRR lost", num: true, cell: (r, c) => money(r.mrr, c) },
    {
      label: "Paying at start",
      cell: (r) => (r.paying_at_start ? "yes" : "no, joined in the window"),
    },
  ],
  trial_conversion: [
    customerCell,
    { label: "Subscription", cell: (r) => <code>{r.subscription_id}</code> },
    { label: "Trial end", cell: (r) => dateOnly(r.trial_end) },
    { label: "Ended", cell: (r) => dateOnly(r.ended_at) },
    {
      label: "Outcome",
      cell: (r) => (
        <Badge tone={r.converted ? "good" : "bad"}>{r.converted ? "converted" : "lapsed"}</Badge>
      ),
    },
  ],
  active_subscriptions: [
    customerCell,
    {
      label: "Subscription",
      cell: (r) => (
        <Link href={`/catalog?tab=subscriptions&customer=${encodeURIComponent(r.customer_id)}`}>
          <code>{r.subscription_id}</code>
        </Link>
      ),
    },
    {
      label: "Status",
      cell: (r) => (
        <Badge tone={r.status === "past_due" || r.status === "suspended" ? "bad" : "neutral"}>
          {words(r.status ?? "")}
        </Badge>
      ),
    },
    { label: "In the tile", cell: (r) => (r.counted ? "counted" : "apart") },
  ],
  outstanding_invoices: [
    {
      label: "Invoice",
      cell: (r) => (
        <Link href={`/invoices?invoice=${encodeURIComponent(r.invoice_id ?? "")}`}>
          <code>{r.invoice_id}</code>
        </Link>
      ),
    },
    customerCell,
    { label: "Amount", num: true, cell: (r, c) => money(r.total, c) },
    { label: "Due", cell: (r) => dateOnly(r.due_at) },
    { label: "Days past due", num: true, cell: (r) => integer(Math.max(0, r.days_past_due ?? 0)) },
    { label: "Aging", cell: (r) => AGING[r.aging_bucket ?? ""] ?? r.aging_bucket ?? "" },
  ],
};

/** What the rows add up to, in words, from the summary of the same computation. */
function summaryLine(kpi: CockpitKpiKey, s: Record<string, unknown>, n: number, currency: string) {
  switch (kpi) {
    case "mrr":
    case "arr":
    case "arpu":
      return `${integer(n)} paying customers, MRR ${money(s.mrr, currency)} (committed ${money(s.committed, currency)} + usage ${money(s.usage, currency)}), ARR ${money(s.arr, currency)}, ARPU ${money(s.arpu, currency)}.`;
    case "nrr":
      return `${integer(n)} customers paid at ${dateOnly(s.window_start)} (${String(s.window)} window): ${money(s.starting_mrr, currency)} then, ${money(s.current_mrr, currency)} now → NRR ${percent(num(s.value))}.`;
    case "customer_churn":
      return `${integer(n)} churned of ${integer(s.paying_at_start)} paying at ${dateOnly(s.window_start)} → ${percent(num(s.value))}; MRR lost ${money(s.churned_mrr, currency)}.`;
    case "trial_conversion":
      return `${integer(n)} trials ended since ${dateOnly(s.window_start)}: ${integer(s.converted)} converted, ${integer(s.lapsed)} lapsed → ${percent(num(s.value))}.`;
    case "active_subscriptions":
      return `${integer(s.value)} counted = ${integer(s.active)} active + ${integer(s.past_due)} past due; apart: ${integer(s.trialing)} trialing, ${integer(s.suspended)} suspended.`;
    case "outstanding_invoices":
      return `${integer(n)} invoices outstanding, ${money(s.total, currency)} in all.`;
  }
}

/** What dunning brought back (the outstanding-invoices list's second line). */
function recoveryLine(r: PaymentRecovery, currency: string): string {
  if (r.episodes === 0) return `No failed payment in the last ${r.window_days} days.`;
  const days =
    r.median_days_to_recover === null
      ? ""
      : `, median ${decimal(r.median_days_to_recover, 1)} days`;
  return `Dunning, last ${r.window_days} days: ${integer(r.episodes)} invoices had a failed payment — ${integer(r.recovered)} recovered (${money(r.recovered_revenue, currency)}${days}), ${integer(r.open)} still retrying, ${integer(r.lost)} written off → recovery rate ${percent(r.recovery_rate)}; involuntary churn ${counted(r.involuntary_churn, "customer")}.`;
}

export function KpiItemsPanel(props: {
  kpi: CockpitKpiKey;
  label: string;
  asOf: number | null;
  cursor: string | null;
  onCursor: (cursor: string | null) => void;
  onClose: () => void;
}) {
  const key = withQuery("/api/metrics/cockpit/items", {
    kpi: props.kpi,
    as_of: props.asOf === null ? null : new Date(props.asOf).toISOString(),
    cursor: props.cursor,
    limit: 25,
  });
  const q = useQuery<CockpitKpiItems>(key);
  const columns = COLUMNS[props.kpi];
  const currency = q.data?.currency ?? "USD";
  return (
    <section class="panel kpi-items" aria-labelledby="kpi-items-title" data-testid="kpi-items">
      <div class="panel-head">
        <h2 id="kpi-items-title">
          Behind {props.label}: {TITLES[props.kpi]}
        </h2>
        <button type="button" class="btn btn-small" onClick={props.onClose}>
          Close
        </button>
      </div>
      {q.error ? (
        <ErrorState error={q.error} onRetry={q.reload} what="the list" />
      ) : !q.data ? (
        <Loading label="Loading the list…" />
      ) : (
        <>
          <p class="muted" data-testid="kpi-items-summary">
            As of {dateOnly(q.data.as_of)}:{" "}
            {summaryLine(props.kpi, q.data.summary, q.data.total_items, currency)}
          </p>
          {props.kpi === "outstanding_invoices" && q.data.summary.recovery ? (
            <p class="muted" data-testid="kpi-items-recovery">
              {recoveryLine(q.data.summary.recovery as PaymentRecovery, currency)}
            </p>
          ) : null}
          {q.data.data.length === 0 ? (
            <Empty title="Nothing behind this number at this date" />
          ) : (
            <div class="table-wrap">
              <table>
                <thead>
                  <tr>
                    {columns.map((c) => (
                      <th key={c.label} scope="col" class={c.num ? "num" : undefined}>
                        {c.label}
                      </th>
                    ))}
                  </tr>
                </thead>
                <tbody>
                  {q.data.data.map((r) => (
                    <tr key={`${r.customer_id}/${r.subscription_id ?? ""}/${r.invoice_id ?? ""}`}>
                      {columns.map((c) => (
                        <td key={c.label} class={c.num ? "num" : undefined}>
                          {c.cell(r, currency)}
                        </td>
                      ))}
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <div class="pager">
            <span class="muted">
              {integer(q.data.total_items)} rows
              {props.cursor ? "" : q.data.next_cursor ? `, first ${q.data.data.length}` : ""}
            </span>
            {props.cursor ? (
              <button type="button" class="btn btn-small" onClick={() => props.onCursor(null)}>
                First page
              </button>
            ) : null}
            {q.data.next_cursor ? (
              <button
                type="button"
                class="btn btn-small"
                onClick={() => props.onCursor(q.data?.next_cursor ?? null)}
              >
                Next page
              </button>
            ) : null}
          </div>
        </>
      )}
    </section>
  );
}
