import { EmailMessage } from "cloudflare:email";
import type { ReportQuery, ReportResult } from "../contracts/reports";
import { reportCsv, reportFileName } from "../domain/reports/export";
import { checkQuery } from "../domain/reports/query";
import { dueSlot, resolveWindow, type ScheduleRange } from "../domain/reports/schedule";
import { templateOf, templateReport } from "../domain/reports/templates";
import { HOUR_MS, MINUTE_MS } from "../domain/time";
import { type Channel, getChannelWithSecret } from "../store/channels";
import {
  claimSlot,
  disableSchedule,
  dueSchedules,
  finishAttempt,
  leaseRun,
  openRuns,
  type RunRecord,
  type ScheduleRecord,
  scheduleById,
} from "../store/report-schedules";
import { getReport } from "../store/reports";
import { loadTenantSettings } from "../store/tenants";
import { buildMime, domainOf, htmlEscape } from "./deliveries/email";
import { openSecret } from "./deliveries/secrets";
import { sendToChannel } from "./deliveries/send";
import { ApiError } from "./problem";
import { executeReport } from "./report-runner";

// Scheduled reports on the tenant clock (issue 15 item 5, docs/reports.md "Schedules"). Each
// 5-minute tick (workers/periodic.ts):
// 1. every enabled schedule whose next slot has come gets ONE run row for the latest slot that
//    has come (several slots missed while the clock was stopped collapse into one run), inserted
//    in the batch that moves the schedule to its first slot after now; the row's unique
//    (schedule, scheduled_for) key makes a slot run once however many ticks see it;
// 2. every run not finished whose attempt is due is leased, its report run with the window
//    re-resolved at the slot's instant in the schedule's zone, and sent to the schedule's
//    channel: a webhook channel gets a signed `report.delivered` event with the rows, an e-mail
//    channel a message with the CSV attached and a link to the report. A failed send is tried
//    again on a later tick (5 min doubling, at most 1 h apart) up to MAX_ATTEMPTS, then the run
//    is failed. The run's id is the message's webhook-id / Message-ID on every attempt, so a
//    receiver that got a message whose success we could not record can drop the repeat.

export const MAX_ATTEMPTS = 5;
const LEASE_MS = 2 * MINUTE_MS;
const DEFAULT_FROM = "aforo@localhost";
const ERROR_CHARS = 300;

const retryDelay = (attempts: number) => Math.min(HOUR_MS, 5 * MINUTE_MS * 2 ** (attempts - 1));

/** The saved report (or template) a schedule runs, its query as run for the slot. */
async function scheduledQuery(
  db: D1Database,
  tenantId: string,
  s: ScheduleRecord,
  scheduledFor: number,
  zone: string,
): Promise<{ name: string; query: ReportQuery } | null> {
  const template = templateOf(s.report_id);
  const saved = template
    ? templateReport(template, scheduledFor, zone)
    : await getReport(db, tenantId, s.report_id);
  if (!saved) return null;
  const query: ReportQuery = {
    ...saved.query,
    time: { ...saved.query.time, time_zone: saved.query.time.time_zone ?? zone },
  };
  if (s.range) {
    const [from, to] = resolveWindow(s.range as ScheduleRange, scheduledFor, zone);
    query.time = {
      ...query.time,
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
    };
  }
  return { name: saved.name, query };
}

type Attempt =
  | { ok: true; rowCount: number }
  | { ok: false; permanent: boolean; error: string; rowCount: number | null };

async function attempt(env: Env, tenantId: string, run: RunRecord, now: number): Promise<Attempt> {
  const db = env.DB;
  const fail = (error: string, rowCount: number | null = null): Attempt => ({
    ok: false,
    permanent: true,
    error,
    rowCount,
  });
  const s = await scheduleById(db, tenantId, run.schedule_id);
  if (!s) return fail("the schedule was deleted");
  const tenantZone = (await loadTenantSettings(db, tenantId)).retry.time_zone;
  const zone = s.time_zone ?? tenantZone;
  const report = await scheduledQuery(db, tenantId, s, run.scheduled_for, zone);
  if (!report) {
    // Deleting a report leaves its schedules: the first run that finds it gone stops them.
    await disableSchedule(db, tenantId, s.id, now);
    return fail(`report ${s.report_id} was deleted; the schedule is disabled`);
  }
  const checked = checkQuery(report.query, tenantZone);
  if (!checked.ok) {
    return fail(
      `the report no longer runs: ${checked.issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`,
    );
  }
  let result: ReportResult;
  try {
    result = await executeReport(env, tenantId, checked, now);
  } catch (err) {
    // Past raw retention, or too many customers' events: running again will not change that.
    if (
      err instanceof ApiError &&
      (err.code === "validation_failed" || err.code === "unprocessable")
    ) {
      return fail(`the report does not run: ${err.detail}`);
    }
    throw err;
  }
  const rowCount = result.rows.length;

  const stored = await getChannelWithSecret(db, tenantId, s.channel_id);
  if (!stored) return fail(`channel ${s.channel_id} was deleted`, rowCount);
  if (!stored.enabled) return fail(`channel ${s.channel_id} is disabled`, rowCount);
  let channel: Channel = stored;
  if (stored.secret !== null) {
    const opened = await openSecret(env, tenantId, stored.id, stored.secret);
    if (!opened.ok) return { ok: false, permanent: false, error: opened.detail, rowCount };
    channel = { ...stored, secret: opened.value };
  }
  const base = (env.AFORO_PUBLIC_URL as string | undefined) || channel.link_base;
  const link = base
    ? `${base.replace(/\/+$/, "")}/reports/${encodeURIComponent(s.report_id)}`
    : null;
  const delivery = {
    env,
    channel,
    run,
    schedule: s,
    name: report.name,
    result,
    link,
    zone,
    // The message's own timestamp (and its signature's) is the real sending time.
    now: Date.now(),
  };
  const outcome =
    channel.type === "webhook"
      ? await sendWebhook(delivery)
      : channel.type === "email"
        ? await sendEmail(delivery)
        : { ok: false, permanent: true, error: "a Slack channel cannot carry a report" };
  return outcome.ok
    ? { ok: true, rowCount }
    : { ok: false, permanent: outcome.permanent, error: outcome.error ?? "failed", rowCount };
}

interface Delivery {
  env: Env;
  channel: Channel;
  run: RunRecord;
  schedule: ScheduleRecord;
  name: string;
  result: ReportResult;
  link: string | null;
  zone: string;
  now: number;
}

/** The `report.delivered` event (Standard Webhooks' {type, timestamp, data}). */
export function reportWebhookBody(d: Omit<Delivery, "env" | "channel">) {
  return {
    type: "report.delivered",
    timestamp: new Date(d.now).toISOString(),
    data: {
      id: d.run.id,
      delivery_id: d.run.id,
      schedule: d.schedule.id,
      report: { id: d.schedule.report_id, name: d.name, url: d.link },
      scheduled_for: new Date(d.run.scheduled_for).toISOString(),
      time: {
        from: d.result.query.time.from,
        to: d.result.query.time.to,
        time_zone: d.result.query.time.time_zone ?? d.zone,
      },
      columns: d.result.columns,
      rows: d.result.rows,
      row_count: d.result.rows.length,
      totals: d.result.totals,
      truncated: d.result.truncated,
      data_as_of: d.result.data_as_of,
    },
  };
}

/** Through the alert sender (URL guard, Standard Webhooks signature, scrubbed errors): its
 * `payment` message is the variant that carries a ready-made webhook body. */
function sendWebhook(d: Delivery) {
  return sendToChannel(
    d.env,
    d.channel,
    {
      kind: "payment",
      deliveryId: d.run.id,
      webhook: reportWebhookBody(d),
      email: { subject: "", text: "", html: "", fromName: "" },
      headers: {},
    },
    d.now,
  );
}

/** The e-mail: multipart/mixed of a text/HTML alternative and the CSV as an attachment. */
export function reportEmail(d: Omit<Delivery, "env">, from: string, to: string): string {
  const when = new Date(d.run.scheduled_for).toLocaleString("en-GB", {
    dateStyle: "full",
    timeStyle: "short",
    timeZone: d.zone,
  });
  const range = `${d.result.query.time.from} – ${d.result.query.time.to}`;
  const subject = `[Aforo] ${d.name}: ${d.result.rows.length} rows`;
  const lines = [
    `${d.name}, scheduled for ${when} (${d.zone}).`,
    `Range: ${range}. Rows: ${d.result.rows.length}${d.result.truncated ? " (truncated at the report's limit)" : ""}. Data as of ${d.result.data_as_of}.`,
    "The rows are attached as CSV.",
  ];
  const text = [...lines, "", d.link ? `Open in Aforo: ${d.link}` : ""].join("\n");
  const html = `<!doctype html><html><body style="font-family:system-ui,sans-serif;font-size:14px;color:#111">
${lines.map((l) => `<p>${htmlEscape(l)}</p>`).join("\n")}
${d.link ? `<p><a href="${htmlEscape(d.link)}">Open in Aforo</a></p>` : ""}
</body></html>`;
  const file = reportFileName(d.result.query.dataset, d.run.scheduled_for, "csv");
  return buildMime({
    from,
    fromName: "Aforo reports",
    to,
    subject,
    text,
    html,
    messageId: `${d.run.id}@${domainOf(from)}`,
    date: d.now,
    headers: { "X-Aforo-Report": d.schedule.report_id, "X-Aforo-Delivery": d.run.id },
    attachments: [
      { filename: file, contentType: "text/csv; charset=utf-8", content: reportCsv(d.result) },
    ],
  });
}

async function sendEmail(d: Delivery) {
  const to = d.channel.config.to;
  if (!to) return { ok: false, permanent: true, error: "the channel has no recipient" };
  const from = d.channel.config.from || d.env.AFORO_EMAIL_FROM || DEFAULT_FROM;
  try {
    await d.env.EMAIL.send(new EmailMessage(from, to, reportEmail(d, from, to)));
    return { ok: true, permanent: false, error: null };
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    return {
      ok: false,
      permanent: false,
      error: `send_email failed: ${reason}`.slice(0, ERROR_CHARS),
    };
  }
}

/** The periodic job: claims the slots that have come, then sends the runs that are due. */
export async function runReportSchedules(
  env: Env,
  tenantId: string,
  now: number,
): Promise<{ claimed: number; succeeded: number; failed: number; retrying: number }> {
  const db = env.DB;
  const due = await dueSchedules(db, tenantId, now);
  if (due.length > 0) {
    const tenantZone = (await loadTenantSettings(db, tenantId)).retry.time_zone;
    for (const s of due) {
      if (s.next_run_at === null) continue;
      const slot = dueSlot(s.cron, s.time_zone ?? tenantZone, s.next_run_at, now);
      await claimSlot(db, tenantId, s, s.next_run_at, slot.scheduledFor, slot.next, now);
    }
  }
  const counts = { claimed: due.length, succeeded: 0, failed: 0, retrying: 0 };
  for (const run of await openRuns(db, tenantId, now)) {
    const attempts = await leaseRun(db, tenantId, run.id, now, now + LEASE_MS);
    if (attempts === null) continue;
    let outcome: Attempt;
    try {
      outcome = await attempt(env, tenantId, run, now);
    } catch (err) {
      outcome = {
        ok: false,
        permanent: false,
        error: (err instanceof Error ? err.message : String(err)).slice(0, ERROR_CHARS),
        rowCount: null,
      };
    }
    if (outcome.ok) {
      await finishAttempt(
        db,
        tenantId,
        run.id,
        { status: "succeeded", rowCount: outcome.rowCount, error: null },
        now,
      );
      counts.succeeded++;
    } else if (outcome.permanent || attempts >= MAX_ATTEMPTS) {
      const error = outcome.permanent
        ? outcome.error
        : `gave up after ${attempts} attempts: ${outcome.error}`;
      await finishAttempt(
        db,
        tenantId,
        run.id,
        { status: "failed", rowCount: outcome.rowCount, error },
        now,
      );
      counts.failed++;
    } else {
      await finishAttempt(
        db,
        tenantId,
        run.id,
        {
          status: "retrying",
          rowCount: outcome.rowCount,
          error: outcome.error,
          retryAt: now + retryDelay(attempts),
        },
        now,
      );
      counts.retrying++;
    }
  }
  return counts;
}
