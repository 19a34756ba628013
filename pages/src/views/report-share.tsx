// Share links of a saved report (issue 15 item 6, docs/reports.md "Share links"), mounted beside
// Save in the report builder: make a link that opens the report read-only without signing in
// (its expiry chosen here, at most 90 days), copy it, and see the report's links with Revoke.
// Making, listing and revoking links need reports:share; without it the button is disabled
// with the reason the API's 403 would give.

import { useEffect, useState } from "preact/hooks";
import type { ReportShare, SavedReport } from "../../../contracts/reports";
import { ConfirmDialog } from "../components/ui";
import { type ApiClient, ApiError } from "../lib/api";
import { dateTime } from "../lib/format";
import { usePermit } from "../lib/me";
import { REPORTS_PERMISSION } from "../lib/reports";

const DAY_S = 24 * 3600;
const EXPIRIES: { label: string; seconds: number }[] = [
  { label: "1 hour", seconds: 3600 },
  { label: "1 day", seconds: DAY_S },
  { label: "7 days", seconds: 7 * DAY_S },
  { label: "30 days", seconds: 30 * DAY_S },
  { label: "90 days (the longest)", seconds: 90 * DAY_S },
];

const message = (err: unknown) =>
  err instanceof ApiError && err.errors.length
    ? err.errors.map((e) => `${e.path}: ${e.message}`).join("; ")
    : (err as Error).message;

export function ShareButton(props: { api: ApiClient; report: SavedReport }) {
  const { api, report } = props;
  const permit = usePermit(REPORTS_PERMISSION);
  const base = `/api/reports/${encodeURIComponent(report.id)}`;
  const [open, setOpen] = useState(false);
  const [expiresIn, setExpiresIn] = useState(7 * DAY_S);
  const [shares, setShares] = useState<ReportShare[]>([]);
  const [made, setMade] = useState<ReportShare | null>(null);
  const [copied, setCopied] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    if (!open) return;
    api.get<{ data: ReportShare[] }>(`${base}/shares`).then(
      (r) => setShares(r.data),
      (err) => setError(message(err)),
    );
  }, [open, report.id]);

  const create = async () => {
    setBusy(true);
    setError(null);
    try {
      const s = await api.post<ReportShare>(`${base}/share`, { expires_in: expiresIn });
      setMade(s);
      setCopied(false);
      setShares((list) => [s, ...list]);
    } catch (err) {
      setError(message(err));
    } finally {
      setBusy(false);
    }
  };
  const revoke = async (s: ReportShare) => {
    setError(null);
    try {
      const next = await api.post<ReportShare>(
        `${base}/shares/${encodeURIComponent(s.id)}/revoke`,
        {},
      );
      setShares((list) => list.map((x) => (x.id === s.id ? next : x)));
      if (made?.id === s.id) setMade(null);
    } catch (err) {
      setError(message(err));
    }
  };
  const copy = async (url: string) => {
    try {
      await navigator.clipboard.writeText(url);
      setCopied(true);
    } catch {
      setError("The browser refused the clipboard: select the link and copy it.");
    }
  };
  const active = shares.filter((s) => s.status === "active");

  return (
    <>
      <button
        type="button"
        class="btn"
        data-testid="report-share"
        disabled={!permit.allowed}
        title={
          permit.allowed
            ? "A link that opens this report read-only, without signing in"
            : (permit.reason ?? undefined)
        }
        onClick={() => {
          setError(null);
          setMade(null);
          setOpen(true);
        }}
      >
        Share
      </button>
      <ConfirmDialog
        open={open}
        title={`Share “${report.name}”`}
        confirmLabel="Create link"
        busy={busy}
        error={error}
        onConfirm={create}
        onCancel={() => setOpen(false)}
      >
        <p class="muted small">
          Anyone with the link sees this report — its rows as of when they open it — and nothing
          else of the workspace, until it expires or is revoked.
        </p>
        <label class="field field-block">
          <span>Expires after</span>
          <select
            name="share-expires-in"
            value={String(expiresIn)}
            onChange={(e) => setExpiresIn(Number((e.currentTarget as HTMLSelectElement).value))}
          >
            {EXPIRIES.map((x) => (
              <option key={x.seconds} value={String(x.seconds)}>
                {x.label}
              </option>
            ))}
          </select>
        </label>
        {made ? (
          <div class="share-made" role="status" data-testid="share-made">
            <input
              class="share-url"
              style={{ width: "100%" }}
              readOnly
              aria-label="Share link"
              data-testid="share-url"
              value={made.url}
              onFocus={(e) => (e.currentTarget as HTMLInputElement).select()}
            />
            <button type="button" class="btn btn-small" onClick={() => copy(made.url)}>
              {copied ? "Copied" : "Copy"}
            </button>
            <div class="muted small">Expires {dateTime(made.expires_at)}</div>
          </div>
        ) : null}
        {active.length > 0 ? (
          <ul class="schedule-list" data-testid="share-list">
            {active.map((s) => (
              <li key={s.id} class="schedule-item" data-testid="share-item">
                <div class="muted small">
                  {s.id} · expires {dateTime(s.expires_at)}
                </div>
                <div class="schedule-item-actions">
                  <button type="button" class="btn btn-small" onClick={() => copy(s.url)}>
                    Copy
                  </button>
                  <button
                    type="button"
                    class="btn btn-small btn-danger"
                    data-testid="share-revoke"
                    onClick={() => revoke(s)}
                  >
                    Revoke
                  </button>
                </div>
              </li>
            ))}
          </ul>
        ) : (
          <p class="muted">No active links.</p>
        )}
      </ConfirmDialog>
    </>
  );
}
