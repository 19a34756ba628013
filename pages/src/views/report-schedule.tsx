// Schedules of a saved report (issue 15 item 5, docs/reports.md "Schedules"), mounted beside
// Save in the report builder: the report's schedules, each with its next 3 runs in plain words
// (from the API's `next_runs`, read in the schedule's zone) and its run history, and a form for
// a new one: a cron pattern, a zone, a relative window and a webhook or e-mail channel. Adding,
// pausing and deleting need reports:share; without it the button is disabled with the reason.

import { useEffect, useState } from "preact/hooks";
import type { NotificationChannel } from "../../../contracts/channels";
import type {
  ReportRun,
  ReportSchedule,
  ReportScheduleRange,
  SavedReport,
} from "../../../contracts/reports";
import { ConfirmDialog } from "../components/ui";
import { type ApiClient, ApiError } from "../lib/api";
import { usePermit } from "../lib/me";
import { REPORTS_PERMISSION } from "../lib/reports";

const RANGE_LABELS: Record<ReportScheduleRange | "", string> = {
  "": "The report's own range",
  last_24_hours: "The last 24 hours",
  yesterday: "Yesterday",
  last_7_days: "The last 7 days",
  last_30_days: "The last 30 days",
  last_week: "Last week (Monday to Sunday)",
  last_month: "Last month",
};

/** "Mon 8 Dec, 08:00" in the schedule's zone. */
function inWords(at: string, zone: string): string {
  return new Intl.DateTimeFormat("en-GB", {
    weekday: "short",
    day: "numeric",
    month: "short",
    hour: "2-digit",
    minute: "2-digit",
    timeZone: zone,
  }).format(new Date(at));
}

const message = (err: unknown) =>
  err instanceof ApiError && err.errors.length
    ? err.errors.map((e) => `${e.path}: ${e.message}`).join("; ")
    : (err as Error).message;

export function ScheduleButton(props: { api: ApiClient; report: SavedReport }) {
  const { api, report } = props;
  const permit = usePermit(REPORTS_PERMISSION);
  const base = `/api/reports/${encodeURIComponent(report.id)}/schedules`;
  const [open, setOpen] = useState(false);
  const [schedules, setSchedules] = useState<ReportSchedule[]>([]);
  const [channels, setChannels] = useState<NotificationChannel[]>([]);
  const [cron, setCron] = useState("0 8 * * 1");
  const [zone, setZone] = useState("");
  const [range, setRange] = useState<ReportScheduleRange | "">("last_7_days");
  const [channel, setChannel] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const load = async () => {
    try {
      const [s, c] = await Promise.all([
        api.get<{ data: ReportSchedule[] }>(base),
        api.get<{ data: NotificationChannel[] }>("/api/channels"),
      ]);
      setSchedules(s.data);
      const usable = c.data.filter((ch) => ch.type !== "slack");
      setChannels(usable);
      setChannel((current) => current || usable[0]?.id || "");
    } catch (err) {
      setError(message(err));
    }
  };
  useEffect(() => {
    if (open) void load();
  }, [open, report.id]);

  const create = async () => {
    if (!channel) {
      setError("Choose a webhook or e-mail channel to deliver to.");
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const s = await api.post<ReportSchedule>(base, {
        cron: cron.trim(),
        time_zone: zone.trim() || null,
        destination: { channel },
        range: range || null,
      });
      setSchedules((list) => [...list, s]);
      setNotice(
        `Scheduled: next run ${s.next_runs[0] ? inWords(s.next_runs[0], s.runs_in) : "—"}.`,
      );
    } catch (err) {
      setError(message(err));
    } finally {
      setBusy(false);
    }
  };
  const change = async (s: ReportSchedule, enabled: boolean | null) => {
    setError(null);
    try {
      if (enabled === null) {
        await api.delete(`${base}/${encodeURIComponent(s.id)}`);
        setSchedules((list) => list.filter((x) => x.id !== s.id));
      } else {
        const next = await api.patch<ReportSchedule>(`${base}/${encodeURIComponent(s.id)}`, {
          enabled,
        });
        setSchedules((list) => list.map((x) => (x.id === s.id ? next : x)));
      }
    } catch (err) {
      setError(message(err));
    }
  };

  return (
    <>
      <button
        type="button"
        class="btn"
        data-testid="report-schedule"
        disabled={!permit.allowed}
        title={permit.allowed ? "Run this report on a schedule" : (permit.reason ?? undefined)}
        onClick={() => {
          setError(null);
          setNotice(null);
          setOpen(true);
        }}
      >
        Schedule
      </button>
      <ConfirmDialog
        open={open}
        title={`Schedule “${report.name}”`}
        confirmLabel="Add schedule"
        busy={busy}
        error={error}
        onConfirm={create}
        onCancel={() => setOpen(false)}
      >
        {schedules.length > 0 ? (
          <ul class="schedule-list" data-testid="schedule-list">
            {schedules.map((s) => (
              <ScheduleItem
                key={s.id}
                api={api}
                base={base}
                schedule={s}
                onEnable={(on) => change(s, on)}
                onDelete={() => change(s, null)}
              />
            ))}
          </ul>
        ) : (
          <p class="muted">Not scheduled yet.</p>
        )}
        {notice ? (
          <p class="notice" role="status" data-testid="schedule-notice">
            {notice}
          </p>
        ) : null}
        <label class="field field-block">
          <span>Cron (minute hour day month weekday; at most every 15 minutes)</span>
          <input
            name="schedule-cron"
            required
            maxLength={120}
            value={cron}
            onInput={(e) => setCron((e.currentTarget as HTMLInputElement).value)}
          />
        </label>
        <label class="field field-block">
          <span>Time zone (empty: the workspace's)</span>
          <input
            name="schedule-zone"
            placeholder="Europe/Berlin"
            maxLength={64}
            value={zone}
            onInput={(e) => setZone((e.currentTarget as HTMLInputElement).value)}
          />
        </label>
        <label class="field field-block">
          <span>Report on</span>
          <select
            name="schedule-range"
            value={range}
            onChange={(e) =>
              setRange((e.currentTarget as HTMLSelectElement).value as ReportScheduleRange | "")
            }
          >
            {Object.entries(RANGE_LABELS).map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </label>
        {channels.length > 0 ? (
          <label class="field field-block">
            <span>Deliver to</span>
            <select
              name="schedule-channel"
              value={channel}
              onChange={(e) => setChannel((e.currentTarget as HTMLSelectElement).value)}
            >
              {channels.map((c) => (
                <option key={c.id} value={c.id}>
                  {c.name} ({c.type === "email" ? `e-mail to ${c.to}` : "signed webhook"})
                </option>
              ))}
            </select>
          </label>
        ) : (
          <p class="muted">
            No webhook or e-mail channel to deliver to yet: add one under Channels.
          </p>
        )}
      </ConfirmDialog>
    </>
  );
}

function ScheduleItem(props: {
  api: ApiClient;
  base: string;
  schedule: ReportSchedule;
  onEnable: (enabled: boolean) => void;
  onDelete: () => void;
}) {
  const s = props.schedule;
  const [runs, setRuns] = useState<ReportRun[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const history = async () => {
    try {
      const r = await props.api.get<{ data: ReportRun[] }>(
        `${props.base}/${encodeURIComponent(s.id)}/runs`,
      );
      setRuns(r.data);
    } catch (err) {
      setError(message(err));
    }
  };
  return (
    <li class="schedule-item" data-testid="schedule-item">
      <div>
        <code>{s.cron}</code> · {s.runs_in} · {RANGE_LABELS[s.range ?? ""]} → {s.destination.name} (
        {s.destination.type ?? "deleted channel"})
      </div>
      <div class="muted" data-testid="schedule-next">
        {s.enabled
          ? `Next: ${s.next_runs.map((t) => inWords(t, s.runs_in)).join("; ") || "never"}`
          : "Paused"}
      </div>
      <div class="schedule-item-actions">
        <button type="button" class="btn btn-small" onClick={() => props.onEnable(!s.enabled)}>
          {s.enabled ? "Pause" : "Resume"}
        </button>
        <button type="button" class="btn btn-small" onClick={history}>
          Run history
        </button>
        <button type="button" class="btn btn-small btn-danger" onClick={props.onDelete}>
          Delete
        </button>
      </div>
      {error ? <p class="muted">{error}</p> : null}
      {runs ? (
        runs.length === 0 ? (
          <p class="muted">No runs yet.</p>
        ) : (
          <ul class="schedule-runs" data-testid="schedule-runs">
            {runs.map((r) => (
              <li key={r.id}>
                {inWords(r.scheduled_for, s.runs_in)}: <strong>{r.status}</strong>
                {r.row_count !== null ? `, ${r.row_count} rows` : ""}
                {r.attempts > 1 ? `, ${r.attempts} attempts` : ""}
                {r.error ? ` — ${r.error}` : ""}
              </li>
            ))}
          </ul>
        )
      ) : null}
    </li>
  );
}
