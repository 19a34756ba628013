import type { BillingInterval } from "../domain/billing-period";
import type { PhaseRecord, SubscriptionTerms } from "../domain/subscription-phases";

// Subscriptions and their history in D1: plan phases (subscription_phases) and effective-dated
// status changes (subscription_status_changes).

/** Every phase of the selected subscriptions; a subscription without phase rows (written
 * before they existed) reads as one phase from its own row. Append WHERE on `s.` columns. */
export const PHASES_SQL = `SELECT s.id AS subscription_id, s.customer_id, p.product_id,
    COALESCE(ph.plan_id, s.plan_id) AS plan_id, COALESCE(ph.start_at, s.start_at) AS start,
    CASE WHEN ph.subscription_id IS NULL THEN s.end_at ELSE ph.end_at END AS "end",
    s.trial_end, COALESCE(ph.anchor_at, s.anchor_at) AS anchor, p.interval
  FROM subscriptions s
  LEFT JOIN subscription_phases ph ON ph.tenant_id = s.tenant_id AND ph.subscription_id = s.id
  JOIN plans p ON p.tenant_id = s.tenant_id AND p.id = COALESCE(ph.plan_id, s.plan_id)`;
export const PHASES_ORDER = "ORDER BY s.customer_id, s.start_at, s.id, start";

export interface PhaseRow {
  subscription_id: string;
  customer_id: string;
  product_id: string;
  plan_id: string;
  start: number;
  end: number | null;
  trial_end: number | null;
  anchor: number;
  interval: BillingInterval;
}

export interface SubscriptionHistoryTerms extends SubscriptionTerms {
  customer_id: string;
}

/** Rows of PHASES_SQL (ordered by subscription) → one entry per subscription. */
export function groupPhases(rows: readonly PhaseRow[]): SubscriptionHistoryTerms[] {
  const out: SubscriptionHistoryTerms[] = [];
  const bySub = new Map<string, SubscriptionHistoryTerms & { phases: PhaseRecord[] }>();
  for (const r of rows) {
    let sub = bySub.get(r.subscription_id);
    if (sub === undefined) {
      sub = {
        subscription_id: r.subscription_id,
        customer_id: r.customer_id,
        product_id: r.product_id,
        trial_end: r.trial_end,
        phases: [],
      };
      bySub.set(r.subscription_id, sub);
      out.push(sub);
    }
    sub.phases.push({ plan_id: r.plan_id, start: r.start, end: r.end, anchor: r.anchor });
  }
  for (const sub of out) (sub.phases as PhaseRecord[]).sort((a, b) => a.start - b.start);
  return out;
}
