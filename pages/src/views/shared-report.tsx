// A shared report (issue 15 item 6, docs/reports.md "Share links"): the page a share link opens,
// /shared/<token>, drawn without signing in (pages/src/main.tsx mounts it before the sign-in
// gate). It reads GET /auth/share/reports/<token> — the report's name, description, view and its
// query run now — and draws it with the builder's own result components, read-only, saying
// who shared it and when the link expires. A link that does not open says so, nothing more.

import { useEffect, useState } from "preact/hooks";
import type { SharedReport } from "../../../contracts/reports";
import { type CellFormat, Heatmap, ResultChart, ResultTable } from "../components/report-result";
import { Loading } from "../components/ui";
import { dateTime } from "../lib/format";

/** The token of a /shared/<token> address, or null for any other path. */
export function sharedToken(pathname: string): string | null {
  const m = /^\/shared\/([^/]+)\/?$/.exec(pathname);
  return m?.[1] ? decodeURIComponent(m[1]) : null;
}

type State =
  | { phase: "loading" }
  | { phase: "ready"; report: SharedReport }
  | { phase: "failed"; status: number; message: string };

export function SharedReportView(props: { token: string }) {
  const [state, setState] = useState<State>({ phase: "loading" });
  useEffect(() => {
    document.title = "Shared report · Aforo";
    fetch(`/auth/share/reports/${encodeURIComponent(props.token)}`, {
      headers: { accept: "application/json" },
      credentials: "omit",
      referrerPolicy: "no-referrer",
    }).then(
      async (res) => {
        if (res.ok) {
          const report = (await res.json()) as SharedReport;
          document.title = `${report.name} · Aforo`;
          setState({ phase: "ready", report });
          return;
        }
        setState({
          phase: "failed",
          status: res.status,
          message:
            res.status === 429
              ? "This link was opened too often in the last minute. Try again shortly."
              : res.status === 404
                ? "This link does not open: it may have expired or been revoked. Ask whoever shared it for a new one."
                : "This report could not be shown right now.",
        });
      },
      () => setState({ phase: "failed", status: 0, message: "The server did not answer." }),
    );
  }, [props.token]);

  if (state.phase === "loading") return <Loading label="Opening the shared report…" />;
  if (state.phase === "failed") {
    return (
      <main class="shared-report" style={{ padding: "2rem", maxWidth: "48rem" }}>
        <h1>Shared report</h1>
        <p class="notice" role="alert" data-testid="shared-error">
          {state.message}
        </p>
      </main>
    );
  }
  const { report } = state;
  const { result } = report;
  const format: CellFormat = {
    currency: report.currency,
    zone: result.query.time.time_zone ?? "UTC",
    granularity: result.query.time.granularity ?? undefined,
  };
  return (
    <main class="shared-report" style={{ padding: "1.5rem 2rem" }} data-testid="shared-report">
      <header style={{ marginBottom: "1rem" }}>
        <h1 style={{ margin: "0 0 .25rem" }}>{report.name}</h1>
        {report.description ? <p class="muted">{report.description}</p> : null}
        <p class="muted small" data-testid="shared-by">
          Shared by {report.shared_by} · expires {dateTime(report.expires_at)}
        </p>
        <p class="muted small" data-testid="data-as-of" title={result.data_as_of}>
          Data as of {dateTime(result.data_as_of)} · {result.rows.length} rows
          {result.query.time.time_zone ? ` · ${result.query.time.time_zone}` : ""}
          {result.truncated ? " · truncated" : ""}
        </p>
      </header>
      {report.view === "heatmap" ? (
        <Heatmap result={result} format={format} />
      ) : report.view !== "table" ? (
        <ResultChart result={result} view={report.view} format={format} />
      ) : null}
      {result.rows.length === 0 ? <p class="notice">No rows match this report.</p> : null}
      <ResultTable result={result} format={format} />
      <p class="muted small" style={{ marginTop: "1rem" }}>
        Read-only · Aforo
      </p>
    </main>
  );
}
