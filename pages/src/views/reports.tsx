// Reports (issue 15 item 7): /reports is the gallery of saved reports (and, once they ship,
// the templates every tenant has); /reports/new and /reports/:id open the builder.

import type { SavedReport } from "../../../contracts/reports";
import { Empty, ErrorState, Loading, PageHeader, QueryView } from "../components/ui";
import { dateTime } from "../lib/format";
import { listReports, VIEW_LABELS } from "../lib/reports";
import { Link, useLocation } from "../lib/router";
import { isNotFound, useQuery } from "../lib/use-query";
import { ReportBuilder } from "./report-builder";

export function ReportsView(_props: { search: URLSearchParams; path: string }) {
  const loc = useLocation();
  const rest = loc.path.replace(/^\/reports\/?/, "");
  if (rest === "") return <Gallery />;
  if (rest === "new") {
    return (
      <>
        <PageHeader
          title="New report"
          subtitle={
            <>
              <Link href="/reports">Reports</Link> · pick a dataset, what to measure and how to
              split it
            </>
          }
        />
        <ReportBuilder key="new" saved={null} search={loc.search} />
      </>
    );
  }
  return <SavedReportView key={rest} id={decodeURIComponent(rest)} search={loc.search} />;
}

function SavedReportView(props: { id: string; search: URLSearchParams }) {
  const q = useQuery<SavedReport>(`/api/reports/${encodeURIComponent(props.id)}`);
  if (q.error && isNotFound(q.error)) {
    return (
      <Empty title={`No report ${props.id}`}>
        It may have been deleted. <Link href="/reports">All reports</Link>
      </Empty>
    );
  }
  if (q.error) return <ErrorState error={q.error} onRetry={q.reload} what="the report" />;
  const r = q.data;
  if (!r) return <Loading label="Loading the report…" />;
  return (
    <>
      <PageHeader
        title={r.name}
        subtitle={
          <>
            <Link href="/reports">Reports</Link>
            {r.description ? ` · ${r.description}` : ""}
            {r.template ? " · a template: saving it saves your own copy" : ""}
          </>
        }
      />
      <ReportBuilder key={`${r.id}:${r.updated_at}`} saved={r} search={props.search} />
    </>
  );
}

function Gallery() {
  const q = useQuery<SavedReport[]>("reports:list", (api, signal) => listReports(api, signal));
  return (
    <>
      <PageHeader
        title="Reports"
        subtitle="Saved questions over usage, revenue, invoices and the pipeline; each opens in the builder"
        actions={
          <Link href="/reports/new" class="btn btn-primary">
            New report
          </Link>
        }
      />
      <QueryView q={q} what="the saved reports">
        {(reports) => {
          const templates = reports.filter((r) => r.template !== null);
          const own = reports.filter((r) => r.template === null);
          return (
            <>
              {templates.length > 0 ? (
                <ReportGroup title="Templates" testid="report-templates" reports={templates} />
              ) : null}
              {own.length > 0 ? (
                <ReportGroup title="Your reports" testid="report-gallery" reports={own} />
              ) : (
                <Empty title="No saved reports yet">
                  <Link href="/reports/new">Build one</Link>: pick a dataset, measures and
                  dimensions, then save it to find it here.
                </Empty>
              )}
            </>
          );
        }}
      </QueryView>
    </>
  );
}

function ReportGroup(props: { title: string; testid: string; reports: SavedReport[] }) {
  const id = `${props.testid}-title`;
  return (
    <section aria-labelledby={id} class="report-group">
      <h2 id={id}>{props.title}</h2>
      <ul class="report-cards" data-testid={props.testid}>
        {[...props.reports]
          .sort((a, b) => b.updated_at.localeCompare(a.updated_at))
          .map((r) => (
            <li key={r.id} class="report-card" data-report={r.id}>
              <h3>
                <Link href={`/reports/${encodeURIComponent(r.id)}`}>{r.name}</Link>
              </h3>
              {r.description ? <p class="report-card-desc">{r.description}</p> : null}
              <p class="muted small">
                <span class="badge badge-info">{r.query.dataset}</span> {VIEW_LABELS[r.view]} ·{" "}
                {r.query.measures.join(", ")}
                {r.query.dimensions.length ? ` by ${r.query.dimensions.join(", ")}` : ""}
              </p>
              <p class="muted small">Updated {dateTime(r.updated_at)}</p>
            </li>
          ))}
      </ul>
    </section>
  );
}
