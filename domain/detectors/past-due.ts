// PastDueDetector (issue 14, item 3): an unpaid invoice walks the ladder. Adaptive Retry asks for
// the money (domain/dunning.ts); this detector says what an operator does while it is owed:
// - L1 at the first failed payment, or when the invoice falls due with no payment reported
//   (rung ALERT);
// - L2 once it is throttle_after_days past due (rung THROTTLE: the gate slows the customer);
// - L3 once it is block_after_days past due (rung BLOCK: the gate refuses it and its
//   subscriptions are suspended).
// THROTTLE and BLOCK are off by default, like every rung that touches a customer: the actions
// wait, queued and visible on the case, until the policy switches the rung on (for the tenant, a
// product or one customer). A payment that settles the invoice (or a void) closes the case and
// reverses what it did (workers/tenant-detectors.ts).
//
// A "tenant" detector: it reads invoices and payments, which no customer actor holds. The
// evaluation is pure and a function of the invoice and the tenant clock, so running it every
// few minutes finds each level once (key: detector, customer, invoice, level).

import type { PolicyIssue, Rec } from "./policy-check";
import { num, positiveInt } from "./policy-check";
import { GATE_RUNGS, levelKey, type Rung } from "./rungs";
import { defineDetector } from "./spec";
import { DAY_MS } from "./time";
import { idempotencyKey, type Signal } from "./types";
import { num as numberAt, str } from "./wording";

const DETECTOR = "PastDueDetector";

export interface PastDuePolicy {
  /** Days past the due date after which the case reaches L2 (THROTTLE by default). */
  throttle_after_days: number;
  /** Days past the due date after which it reaches L3 (BLOCK: suspend), after the retries. */
  block_after_days: number;
}

/** Throttle after two weeks; suspend once Adaptive Retry's default 28-day window is over. */
export const DEFAULT_PAST_DUE_POLICY: PastDuePolicy = {
  throttle_after_days: 14,
  block_after_days: 30,
};

function validatePastDuePolicy(c: Rec, path: string, issues: PolicyIssue[]) {
  num(c, path, "throttle_after_days", positiveInt, issues);
  num(c, path, "block_after_days", positiveInt, issues);
  const t = c.throttle_after_days;
  const b = c.block_after_days;
  if (typeof t === "number" && typeof b === "number" && !(b > t)) {
    issues.push({
      path: `${path}.block_after_days`,
      message: "must be greater than throttle_after_days (suspension follows the throttle)",
    });
  }
}

/** An invoice still owed, as the detector reads it. */
export interface UnpaidInvoice {
  id: string;
  customer: string;
  product: string;
  currency: string;
  /** Its billing period (the signals' window). */
  period: { start: number; end: number };
  due_at: number | null;
  /** What is still owed, exact (a decimal string in the invoice's currency). */
  owed: string;
  failed_attempts: number;
  /** The first failed payment, if any. */
  first_failure: { at: number; decline_code: string | null } | null;
  /** The latest failed payment's decline code. */
  last_decline_code: string | null;
}

export type PastDueLevel = "L1" | "L2" | "L3";

/** The levels an unpaid invoice has reached at `now`, each with the instant it was reached. */
export function pastDueLevels(
  inv: UnpaidInvoice,
  policy: PastDuePolicy,
  now: number,
): { level: PastDueLevel; at: number }[] {
  const levels: { level: PastDueLevel; at: number }[] = [];
  const due = inv.due_at !== null && inv.due_at <= now ? inv.due_at : null;
  const failed = inv.first_failure && inv.first_failure.at <= now ? inv.first_failure.at : null;
  const first = failed === null ? due : due === null ? failed : Math.min(failed, due);
  if (first === null) return levels;
  levels.push({ level: "L1", at: first });
  if (due === null) return levels;
  const throttle = due + policy.throttle_after_days * DAY_MS;
  const block = due + policy.block_after_days * DAY_MS;
  if (now >= throttle) levels.push({ level: "L2", at: throttle });
  if (now >= block) levels.push({ level: "L3", at: block });
  return levels;
}

/** The signals of every level the invoices reached by `now` (recorded once each by key). */
export function pastDueSignals(
  invoices: readonly UnpaidInvoice[],
  policyOf: (inv: UnpaidInvoice) => PastDuePolicy,
  now: number,
): Signal[] {
  const signals: Signal[] = [];
  for (const inv of invoices) {
    const policy = policyOf(inv);
    for (const { level, at } of pastDueLevels(inv, policy, now)) {
      const days = inv.due_at === null ? 0 : Math.max(0, Math.floor((at - inv.due_at) / DAY_MS));
      signals.push({
        detector: DETECTOR,
        idempotency_key: idempotencyKey([DETECTOR, inv.customer, inv.id, level]),
        customer: inv.customer,
        window: { start: inv.period.start, end: inv.period.end },
        magnitude: Number(inv.owed),
        details: {
          level,
          invoice_id: inv.id,
          product_id: inv.product,
          currency: inv.currency,
          owed: inv.owed,
          cause:
            level !== "L1"
              ? "days_past_due"
              : at === inv.first_failure?.at
                ? "payment_failed"
                : "past_due",
          days_past_due: days,
          level_days:
            level === "L2"
              ? policy.throttle_after_days
              : level === "L3"
                ? policy.block_after_days
                : 0,
          due_at: inv.due_at === null ? null : new Date(inv.due_at).toISOString(),
          reached_at: new Date(at).toISOString(),
          failed_attempts: inv.failed_attempts,
          decline_code: inv.last_decline_code,
        },
        source_event_ids: [],
      });
    }
  }
  return signals;
}

const LEVEL_WORDS: Record<PastDueLevel, string> = {
  L1: "Payment failed",
  L2: "Past due: throttle",
  L3: "Past due: suspend",
};

export const pastDueSpec = defineDetector({
  name: DETECTOR,
  label: "Past due",
  summary:
    "An unpaid invoice: a failed payment (or none by the due date), then days past due — throttle, then suspend.",
  key: "past_due",
  trigger: "tenant",
  policy: {
    defaults: DEFAULT_PAST_DUE_POLICY,
    validate: validatePastDuePolicy,
    optional: true,
    fields: [
      { key: "throttle_after_days", help: "days past the due date before L2 (throttle)" },
      { key: "block_after_days", help: "days past the due date before L3 (suspend)" },
    ],
  },
  ladder: {
    kind: "keys",
    rungs: GATE_RUNGS,
    default: { L1: "ALERT", L2: "THROTTLE", L3: "BLOCK" } as { L1: Rung; L2: Rung; L3: Rung },
    labels: LEVEL_WORDS,
    keyOf: levelKey,
  },
  describe: (s) => {
    const d = s.details;
    const level = (str(d, "level") ?? "L1") as PastDueLevel;
    const days = numberAt(d, "days_past_due") ?? 0;
    const invoice = str(d, "invoice_id") ?? "an invoice";
    const owed = `${str(d, "owed") ?? s.magnitude} ${str(d, "currency") ?? ""}`.trim();
    const what =
      level === "L1"
        ? str(d, "cause") === "payment_failed"
          ? `payment failed${str(d, "decline_code") ? ` (${str(d, "decline_code")})` : ""}`
          : "no payment by the due date"
        : `${days} days past due`;
    return {
      title: `${LEVEL_WORDS[level] ?? "Past due"}: ${s.customer} · invoice ${invoice}`,
      magnitude: `${owed} owed; ${what}`,
    };
  },
  display: {
    main: "{details.owed} {details.currency} owed",
    sub: "{details.days_past_due} days past due · {details.level}",
  },
});
