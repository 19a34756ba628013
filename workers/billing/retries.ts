import type { RetrySchedule } from "../../contracts/invoices";
import { classifyDecline, retryPlan } from "../../domain/dunning";
import { formatMoney } from "../../domain/money";
import { DAY_MS } from "../../domain/time";
import { paymentInvoiceId } from "../../store/past-due";
import {
  cancelScheduledStatement,
  cancelSettledRetries,
  dueRetries,
  insertRetryStatement,
  latestFailure,
  type PaymentMessage,
  paymentMethodDeliveryStatement,
  planInputs,
  type RetryRecord,
  retriesOf,
  retryId,
  sendRetry,
} from "../../store/retries";
import { loadTenantSettings } from "../../store/tenants";
import { enqueueDeliveries } from "../deliveries";
import { runPastDue } from "../tenant-detectors";

// Adaptive Retry (issue 14 item 2; README "Payments"). Aforo moves no money, so a retry is a
// message: when one falls due, the tenant's webhook channels get a signed `payment.retry_due`
// (their system asks the provider to charge again) and the customer a dunning e-mail.
//
// - A failed payment on an open invoice plans its retries with domain/dunning.ts, in the batch
//   that records it (store/payments.ts `recordPayment`'s `also`), replacing the invoice's
//   scheduled ones: a new failure re-plans from its own time.
// - A failure that answers a retry we sent (it happened at or after a sent retry of the current
//   plan, within that plan) continues the same schedule: the rest stays as planned, so 8 retries
//   stay 8 and never restart.
// - A hard decline cancels what is scheduled and plans nothing; the customer gets one
//   "update your payment method" e-mail (a delivery keyed by the payment). So does a failure of
//   the schedule's last retry: nothing is left to try.
// - A succeeded payment that settles the invoice cancels the scheduled retries (a partial one
//   does not: the rest is still owed, and the retries ask for it); an invoice paid or voided
//   any other way has them cancelled by the next periodic run, and reads as cancelled until then.

/** The payment, as recordPayment is about to write it. */
export interface RecordedAttempt {
  id: string;
  invoice_id: string;
  status: "succeeded" | "failed" | "refunded";
  decline_code: string | null;
  at: number;
  /** It leaves nothing due (domain/payments.ts decidePayment). */
  settles: boolean;
}

/** The statements that join the payment's batch: cancel, re-plan, or ask for a new method. */
export async function retryStatementsFor(
  db: D1Database,
  tenantId: string,
  p: RecordedAttempt,
  now: number,
): Promise<{ statements: D1PreparedStatement[]; notify: boolean }> {
  if (p.status === "succeeded") {
    return {
      statements: p.settles
        ? [cancelScheduledStatement(db, tenantId, p.id, p.invoice_id, "paid", now)]
        : [],
      notify: false,
    };
  }
  if (p.status !== "failed") return { statements: [], notify: false };
  const inputs = await planInputs(db, tenantId, p.invoice_id, p.at);
  // A failure reported on a paid or void invoice is recorded, but there is nothing to collect.
  if (inputs?.status !== "open") return { statements: [], notify: false };
  const decline = classifyDecline(p.decline_code);
  if (decline === "hard") {
    return {
      statements: [
        cancelScheduledStatement(db, tenantId, p.id, p.invoice_id, "hard_decline", now),
        paymentMethodDeliveryStatement(db, tenantId, p.id, inputs.customer_id, now),
      ],
      notify: true,
    };
  }
  const current = currentPlan(await retriesOf(db, tenantId, p.invoice_id));
  if (continuesSchedule(current, p.at)) {
    // The schedule goes on; when this was its last retry, nothing is left to try: the customer
    // is asked for a new payment method, as after a hard decline.
    if (current.some((r) => r.status === "scheduled")) return { statements: [], notify: false };
    return {
      statements: [paymentMethodDeliveryStatement(db, tenantId, p.id, inputs.customer_id, now)],
      notify: true,
    };
  }
  // The tenant's policy (settings.retry: attempts, window, time zone; defaults 8, 28, UTC).
  const { retry: policy } = await loadTenantSettings(db, tenantId);
  const plan = retryPlan({
    failedAt: p.at,
    declineCode: p.decline_code,
    pastSuccesses: inputs.past_successes,
    policy,
  });
  return {
    statements: [
      cancelScheduledStatement(db, tenantId, p.id, p.invoice_id, "replanned", now),
      ...plan.attempts.map((due_at, i) =>
        insertRetryStatement(
          db,
          tenantId,
          {
            id: retryId(p.id, i + 1),
            invoice_id: p.invoice_id,
            customer_id: inputs.customer_id,
            payment_id: p.id,
            attempt: i + 1,
            planned: plan.attempts.length,
            due_at,
            decline: plan.decline,
            decline_code: p.decline_code,
          },
          now,
        ),
      ),
    ],
    notify: false,
  };
}

/** The rows of the invoice's latest plan (the failure whose retries were written last). */
function currentPlan(all: RetryRecord[]): RetryRecord[] {
  let latest: RetryRecord | undefined;
  for (const r of all) if (!latest || r.created_at > latest.created_at) latest = r;
  return latest ? all.filter((r) => r.payment_id === latest.payment_id) : [];
}

/** A failure at `at` answers the plan's retries when one was sent at or before it and the
 * plan's last retry is not more than a day behind it. */
function continuesSchedule(plan: RetryRecord[], at: number): boolean {
  const sent = plan.some((r) => r.status === "sent" && r.due_at <= at);
  const last = Math.max(...plan.map((r) => r.due_at));
  return sent && at <= last + DAY_MS;
}

/** After the payment's batch committed: wake the deliveries queue for the hard decline's
 * e-mail (a lost wake-up is repaired by requeueStalledDeliveries), and move the invoice on the
 * ladder: a failure reaches its ALERT now, a settling payment closes the past-due case and
 * reverses what it did (workers/tenant-detectors.ts). */
export async function afterAttempt(env: Env, tenantId: string, paymentId: string, notify: boolean) {
  if (notify) await enqueueDeliveries(env, tenantId, [paymentId]);
  const invoiceId = await paymentInvoiceId(env.DB, tenantId, paymentId);
  if (invoiceId) await runPastDue(env, tenantId, Date.now(), invoiceId);
}

// ---------------------------------------------------------------------------------------------
// The periodic job

/** Sends the retries that have fallen due (once each) and cancels those of settled invoices.
 * Per invoice only the latest due retry is sent; earlier unsent ones are superseded. */
export async function runRetryJobs(
  env: Env,
  tenantId: string,
  now: number,
): Promise<{ sent: number; cancelled: number }> {
  const db = env.DB;
  const cancelled = await cancelSettledRetries(db, tenantId, now);
  const due = await dueRetries(db, tenantId, now);
  const byInvoice = new Map<string, RetryRecord[]>();
  for (const r of due) byInvoice.set(r.invoice_id, [...(byInvoice.get(r.invoice_id) ?? []), r]);
  const sent: string[] = [];
  for (const list of byInvoice.values()) {
    const latest = list.at(-1);
    if (!latest) continue;
    const earlier = list.slice(0, -1).map((r) => r.id);
    if (await sendRetry(db, tenantId, latest, earlier, now)) sent.push(latest.id);
  }
  if (sent.length > 0) await enqueueDeliveries(env, tenantId, sent, now);
  return { sent: sent.length, cancelled };
}

// ---------------------------------------------------------------------------------------------
// The schedule as the API shows it

const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());

/** The invoice's current plan; scheduled retries of an invoice no longer open read as
 * cancelled (the periodic run writes it). */
export async function retrySchedule(
  db: D1Database,
  tenantId: string,
  invoiceId: string,
  invoiceStatus: string,
): Promise<RetrySchedule> {
  const [all, failure] = await Promise.all([
    retriesOf(db, tenantId, invoiceId),
    latestFailure(db, tenantId, invoiceId),
  ]);
  const open = invoiceStatus === "open";
  const plan = currentPlan(all).map((r) =>
    r.status === "scheduled" && !open
      ? { ...r, status: "cancelled" as const, cancel_reason: `invoice_${invoiceStatus}` }
      : r,
  );
  const scheduled = plan.filter((r) => r.status === "scheduled");
  const decline = failure ? classifyDecline(failure.decline_code) : null;
  return {
    invoice: invoiceId,
    decline,
    decline_code: failure?.decline_code ?? null,
    action:
      !open || decline === null
        ? null
        : decline === "hard"
          ? "ask_for_new_method"
          : scheduled.length > 0
            ? "retry"
            : null,
    next_retry_at: iso(scheduled[0]?.due_at ?? null),
    remaining_attempts: scheduled.length,
    planned_attempts: plan[0]?.planned ?? 0,
    planned_by: plan[0]?.payment_id ?? null,
    attempts: plan.map((r) => ({
      id: r.id,
      attempt: r.attempt,
      due_at: iso(r.due_at) ?? "",
      status: r.status,
      sent_at: iso(r.sent_at),
      cancel_reason: r.cancel_reason,
    })),
  };
}

// ---------------------------------------------------------------------------------------------
// The messages

/** The `payment.retry_due` webhook body (Standard Webhooks' {type, timestamp, data}). */
export function retryWebhookBody(m: PaymentMessage, deliveryId: string, now: number) {
  return {
    type: m.kind === "payment_retry" ? "payment.retry_due" : "payment.method_required",
    timestamp: new Date(now).toISOString(),
    data: {
      id: m.id,
      invoice: m.invoice_id,
      customer: m.customer_id,
      amount_due: formatMoney(m.amount_due),
      currency: m.currency,
      attempt: m.attempt,
      planned_attempts: m.planned,
      decline: m.decline,
      decline_code: m.decline_code,
      due_at: iso(m.due_at),
      failed_at: iso(m.failed_at),
      delivery_id: deliveryId,
    },
  };
}

const htmlEscape = (s: string) =>
  s
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;");

const dayOf = (t: number | null, timeZone: string) =>
  t === null
    ? ""
    : new Date(t).toLocaleDateString("en-GB", {
        weekday: "long",
        day: "numeric",
        month: "long",
        year: "numeric",
        timeZone,
      });

/** The dunning e-mail to the customer: a retry today, or a card that cannot be retried. */
export function dunningEmailContent(m: PaymentMessage, timeZone = "UTC") {
  const amount = `${m.currency} ${formatMoney(m.amount_due)}`;
  const greeting = `Hello${m.customer_name ? ` ${m.customer_name}` : ""},`;
  const why = m.decline_code ? ` (${m.decline_code})` : "";
  const lines =
    m.kind === "payment_retry"
      ? {
          subject: `Payment retry for invoice ${m.invoice_id}: ${amount}`,
          paragraphs: [
            greeting,
            `Your payment of ${amount} for invoice ${m.invoice_id} was declined${why}. We will try it again on ${dayOf(m.due_at, timeZone)} (attempt ${m.attempt} of ${m.planned}).`,
            "Please make sure the funds are available, or update your payment method before then.",
          ],
        }
      : {
          subject: `Action needed: update your payment method for invoice ${m.invoice_id}`,
          paragraphs: [
            greeting,
            `Your payment of ${amount} for invoice ${m.invoice_id} was declined${why}, and we will not try the same payment method again.`,
            "Please update your payment method so the invoice can be paid.",
          ],
        };
  const text = [...lines.paragraphs, "", `— ${m.tenant_name}`].join("\n\n");
  const html = `<!doctype html><html><body style="font-family:system-ui,sans-serif;font-size:14px;color:#111">
${lines.paragraphs.map((p) => `<p>${htmlEscape(p)}</p>`).join("\n")}
<p style="color:#555">— ${htmlEscape(m.tenant_name)}</p>
</body></html>`;
  return { subject: lines.subject, text, html, fromName: `${m.tenant_name} billing` };
}
