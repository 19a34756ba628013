import { conflict, done, invalid, notFound, type Result } from "../../domain/result";
import {
  type PhaseRecord,
  phasesAfterCancel,
  phasesAfterChange,
} from "../../domain/subscription-phases";
import { getPlanHead } from "../../store/catalog";
import { invoiceCoveringAfter } from "../../store/invoices";
import {
  bumpBillingVersion,
  loadSubscriptionHistory,
  replacePhasesStatements,
  settleStatement,
  subscriptionEndStatement,
} from "../../store/subscriptions";
import { iso } from "../schemas";

// Subscription history: plan changes and cancels rewrite the plan phases (store/subscriptions.ts;
// rules in domain/subscription-phases.ts) and settle the stored row, in one batch. Refusals are
// results (domain/result.ts); the routes map them to problem+json.

/** Brings the stored subscriptions rows of the tenant in line with their history at `now`. */
export async function settleSubscriptions(db: D1Database, tenantId: string, now: number) {
  await settleStatement(db, tenantId, now).run();
}

const locked = (inv: { id: string; period_start: number; period_end: number }) =>
  conflict(
    `Invoice '${inv.id}' already bills ${iso(inv.period_start)} – ${iso(inv.period_end)}; void it before changing that part of the history`,
  );

function rewriteStatements(
  db: D1Database,
  tenantId: string,
  subId: string,
  phases: readonly PhaseRecord[],
  now: number,
  also: D1PreparedStatement[] = [],
): D1PreparedStatement[] {
  return [
    ...replacePhasesStatements(db, tenantId, subId, phases, now),
    ...also,
    settleStatement(db, tenantId, now, subId),
    bumpBillingVersion(db, tenantId),
  ];
}

/** Why no customer goes onto a draft plan, by subscribing or by a change: a draft is priced and
 * previewed, not yet sold (workers/routes/plans.ts). */
export const draftPlanRefusal = (planId: string) =>
  `Plan '${planId}' is a draft (status draft): publish it with POST /api/plans/${planId}/publish before moving a customer onto it`;

/** POST /api/subscriptions/:id/change: validates, then rewrites the phases (one batch). */
export async function changePlan(
  db: D1Database,
  tenantId: string,
  subId: string,
  planId: string,
  at: number,
  now: number,
): Promise<Result> {
  const [history, plan] = await Promise.all([
    loadSubscriptionHistory(db, tenantId, subId),
    getPlanHead(db, tenantId, planId),
  ]);
  if (!history) return notFound("Subscription", subId);
  const { sub, phases, intervals } = history;
  const errors = [];
  if (!plan) errors.push({ path: "plan", message: `plan '${planId}' does not exist` });
  else if (plan.status === "archived")
    errors.push({ path: "plan", message: `plan '${planId}' is archived` });
  else if (plan.product_id !== sub.product_id)
    errors.push({
      path: "plan",
      message: `plan '${planId}' is for product '${plan.product_id}', the subscription is to '${sub.product_id}'`,
    });
  else if (plan.currency !== sub.currency)
    errors.push({
      path: "plan",
      message: `plan '${planId}' bills in ${plan.currency}, the subscription in ${sub.currency}`,
    });
  if (at < sub.start_at)
    errors.push({ path: "at", message: "at must not be before the subscription's start" });
  else if (sub.end_at !== null && at >= sub.end_at)
    errors.push({ path: "at", message: "at must be before the subscription's end" });
  if (errors.length > 0 || !plan) return invalid(errors);
  if (plan.status === "draft") return conflict(draftPlanRefusal(planId));

  const last = phases[phases.length - 1];
  if (last !== undefined && at < last.start) {
    return conflict(
      `A change is already effective at ${iso(last.start)}; changes must not precede the latest one`,
    );
  }
  const current = phases.filter((p) => p.start <= at).at(-1);
  if (current !== undefined && current.plan_id === planId && current.start < at) {
    return conflict(`Subscription '${subId}' is already on plan '${planId}' then`);
  }
  const invoiced = await invoiceCoveringAfter(db, tenantId, subId, at);
  if (invoiced) return locked(invoiced);

  intervals.set(plan.id, plan.interval);
  const next = phasesAfterChange(
    phases,
    { plan_id: planId, at, subscriptionEnd: sub.end_at },
    (id) => intervals.get(id),
  );
  await db.batch(rewriteStatements(db, tenantId, subId, next, now));
  return done;
}

/** POST /api/subscriptions/:id/cancel: effective at `at` (now when omitted); a future date
 * schedules it and can be moved until it has passed. */
export async function cancelSubscription(
  db: D1Database,
  tenantId: string,
  subId: string,
  at: number,
  now: number,
): Promise<Result> {
  const history = await loadSubscriptionHistory(db, tenantId, subId);
  if (!history) return notFound("Subscription", subId);
  const { sub, phases } = history;
  if (sub.end_at !== null && sub.end_at <= now) {
    return conflict(`Subscription '${subId}' was canceled at ${iso(sub.end_at)}`);
  }
  if (at < sub.start_at) {
    return invalid([{ path: "at", message: "at must not be before the subscription's start" }]);
  }
  const invoiced = await invoiceCoveringAfter(db, tenantId, subId, at);
  if (invoiced) return locked(invoiced);
  const next = phasesAfterCancel(phases, at);
  await db.batch(
    rewriteStatements(db, tenantId, subId, next, now, [
      subscriptionEndStatement(db, tenantId, subId, at, now),
    ]),
  );
  return done;
}
