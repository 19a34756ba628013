// The stakeholder homes (issue 15 item 8): /home/:persona draws the report templates that
// persona opens first (lib/personas.ts), each a card with its answer and a link into the
// builder, beside the existing pages they go to next. The persona switch in the top bar picks
// one; the choice is kept in this browser, and a role opens its own home by default.

import { useEffect } from "preact/hooks";
import type { ReportResult, SavedReport } from "../../../contracts/reports";
import { Heatmap, ResultChart, ResultTable } from "../components/report-result";
import { ErrorState, Loading, PageHeader, QueryView } from "../components/ui";
import { useCatalog } from "../lib/catalog";
import { dateTime } from "../lib/format";
import { useMe } from "../lib/me";
import { PERSONAS, type Persona, personaOf, storedPersona, storePersona } from "../lib/personas";
import { listReports, runReport } from "../lib/reports";
import { Link, navigate, useLocation } from "../lib/router";
import { useQuery } from "../lib/use-query";

/** Rows a table card shows; the builder has the rest. */
const CARD_ROWS = 8;

export function HomeView(_props: { search: URLSearchParams; path: string }) {
  const loc = useLocation();
  const me = useMe();
  const persona = personaOf(loc.path.split("/")[2]);
  useEffect(() => {
    if (persona) storePersona(persona.id);
    else navigate(`/home/${storedPersona() ?? me.persona}`, { replace: true });
  }, [persona, me.persona]);
  if (!persona) return <Loading label="Opening your home…" />;
  return <PersonaHome key={persona.id} persona={persona} />;
}

function PersonaHome(props: { persona: Persona }) {
  const { persona } = props;
  const list = useQuery<SavedReport[]>("reports:list", (api, signal) => listReports(api, signal));
  return (
    <>
      <PageHeader title={`${persona.label} home`} subtitle={persona.purpose} />
      <nav class="home-pages" aria-label={`${persona.label} pages`} data-testid="home-pages">
        {persona.pages.map((p) => (
          <Link key={p.href} href={p.href} class="home-page-link">
            <strong>{p.label}</strong>
            <span class="muted small">{p.why}</span>
          </Link>
        ))}
      </nav>
      <QueryView q={list} what="the report templates">
        {(reports) => (
          <div class="home-cards">
            {persona.templates.map((id) => {
              const report = reports.find((r) => r.template === id);
              return report ? <TemplateCard key={id} report={report} /> : null;
            })}
          </div>
        )}
      </QueryView>
    </>
  );
}

function TemplateCard(props: { report: SavedReport }) {
  const { report } = props;
  const currency = useCatalog().currency;
  const run = useQuery<ReportResult>(`report-card:${report.id}:${report.query.time.to}`, (api, s) =>
    runReport(api, report.query, s),
  );
  return (
    <section
      class={`panel home-card${report.view === "heatmap" ? " home-card-wide" : ""}`}
      data-testid={`home-card-${report.template}`}
    >
      <header class="home-card-head">
        <h2>
          <Link href={`/reports/${encodeURIComponent(report.id)}`}>{report.name}</Link>
        </h2>
        <p class="muted small">{report.description}</p>
      </header>
      {run.error ? (
        <ErrorState error={run.error} onRetry={run.reload} what={report.name} />
      ) : !run.data ? (
        <Loading label={`Running ${report.name}…`} />
      ) : (
        <CardBody report={report} result={run.data} currency={currency} />
      )}
    </section>
  );
}

function CardBody(props: { report: SavedReport; result: ReportResult; currency: string }) {
  const { report, result } = props;
  const format = {
    currency: props.currency,
    zone: result.query.time.time_zone ?? "UTC",
    granularity: result.query.time.granularity,
  };
  const shown =
    result.rows.length > CARD_ROWS ? { ...result, rows: result.rows.slice(0, CARD_ROWS) } : result;
  return (
    <>
      <p class="muted small" data-testid="data-as-of">
        Data as of {dateTime(result.data_as_of)}
      </p>
      {result.rows.length === 0 ? (
        <p class="notice">Nothing in this period yet.</p>
      ) : report.view === "heatmap" ? (
        <Heatmap result={result} format={format} />
      ) : report.view === "table" ? (
        <>
          <ResultTable result={shown} format={format} />
          {result.rows.length > CARD_ROWS ? (
            <p class="small">
              <Link href={`/reports/${encodeURIComponent(report.id)}`}>
                All {result.rows.length} rows in the builder
              </Link>
            </p>
          ) : null}
        </>
      ) : (
        <ResultChart result={result} view={report.view} format={format} />
      )}
    </>
  );
}

/** The top bar's persona switch. */
export function PersonaSwitch() {
  const loc = useLocation();
  const me = useMe();
  const current = personaOf(loc.path.split("/")[2])?.id ?? storedPersona() ?? me.persona;
  return (
    <label class="persona-switch">
      <span class="sr-only">Home for</span>
      <select
        aria-label="Home for"
        data-testid="persona-switch"
        value={loc.path.startsWith("/home/") ? current : ""}
        onChange={(e) => {
          const id = personaOf((e.target as HTMLSelectElement).value)?.id;
          if (id) navigate(`/home/${id}`);
        }}
      >
        <option value="" disabled>
          Home for…
        </option>
        {PERSONAS.map((p) => (
          <option key={p.id} value={p.id}>
            {p.label}
          </option>
        ))}
      </select>
    </label>
  );
}
