import type { BillingInterval } from "../domain/billing-period";
import type { PhaseRecord, SubscriptionTerms } from "../domain/subscription-phases";

// Subscriptions and their history in D1: plan phases (subscription_phases) and effective-dated
// status changes (subscription_status_changes). The stored subscriptions row mirrors the history
// at the last settle: status, and plan_id/anchor_at of the phase in force (settleStatement).

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

/** The statement selecting every phase of a customer's subscriptions (read with groupPhases). */
export const customerPhasesStatement = (db: D1Database, tenantId: string, customerId: string) =>
  db
    .prepare(`${PHASES_SQL} WHERE s.tenant_id = ?1 AND s.customer_id = ?2 ${PHASES_ORDER}`)
    .bind(tenantId, customerId);

const subscriptionPhasesStatement = (db: D1Database, tenantId: string, subId: string) =>
  db
    .prepare(`${PHASES_SQL} WHERE s.tenant_id = ? AND s.id = ? ${PHASES_ORDER}`)
    .bind(tenantId, subId);

/** The phase rows of one subscription, oldest first. */
export async function phaseRowsOf(
  db: D1Database,
  tenantId: string,
  subId: string,
): Promise<PhaseRow[]> {
  return (await subscriptionPhasesStatement(db, tenantId, subId).all<PhaseRow>()).results;
}

/** The history of the tenant's subscriptions (or one) that started before `startedBefore`:
 * what invoicing lists billing periods from. */
export async function tenantSubscriptionHistories(
  db: D1Database,
  tenantId: string,
  q: { subscriptionId: string | null; startedBefore: number },
): Promise<SubscriptionHistoryTerms[]> {
  const { results } = await db
    .prepare(
      `${PHASES_SQL} WHERE s.tenant_id = ?1 AND (?2 IS NULL OR s.id = ?2) AND s.start_at < ?3 ${PHASES_ORDER}`,
    )
    .bind(tenantId, q.subscriptionId, q.startedBefore)
    .all<PhaseRow>();
  return groupPhases(results);
}

// ---------------------------------------------------------------------------------------------
// The subscriptions rows

export type StoredSubscriptionStatus =
  | "trialing"
  | "active"
  | "past_due"
  | "suspended"
  | "canceled";

export interface SubscriptionRecord {
  id: string;
  customer_id: string;
  plan_id: string;
  product_id: string;
  status: StoredSubscriptionStatus;
  start_at: number;
  trial_end: number | null;
  end_at: number | null;
  created_at: number;
  updated_at: number;
}

const SUBSCRIPTION_SELECT = `SELECT s.id, s.customer_id, s.plan_id, p.product_id, s.status, s.start_at,
  s.trial_end, s.end_at, s.created_at, s.updated_at
  FROM subscriptions s JOIN plans p ON p.tenant_id = s.tenant_id AND p.id = s.plan_id`;

export async function getSubscription(
  db: D1Database,
  tenantId: string,
  id: string,
): Promise<SubscriptionRecord | null> {
  return db
    .prepare(`${SUBSCRIPTION_SELECT} WHERE s.tenant_id = ? AND s.id = ?`)
    .bind(tenantId, id)
    .first<SubscriptionRecord>();
}

export async function subscriptionExists(db: D1Database, tenantId: string, id: string) {
  const row = await db
    .prepare("SELECT 1 FROM subscriptions WHERE tenant_id = ? AND id = ?")
    .bind(tenantId, id)
    .first();
  return row !== null;
}

/** Subscriptions after `after` in id order, at most `limit`, optionally filtered. */
export async function listSubscriptions(
  db: D1Database,
  tenantId: string,
  q: {
    after: string;
    customer: string | null;
    plan: string | null;
    product: string | null;
    limit: number;
  },
): Promise<SubscriptionRecord[]> {
  const { results } = await db
    .prepare(
      `${SUBSCRIPTION_SELECT} WHERE s.tenant_id = ?1 AND s.id > ?2 AND (?3 IS NULL OR s.customer_id = ?3)
         AND (?4 IS NULL OR s.plan_id = ?4) AND (?5 IS NULL OR p.product_id = ?5)
       ORDER BY s.id LIMIT ?6`,
    )
    .bind(tenantId, q.after, q.customer, q.plan, q.product, q.limit)
    .all<SubscriptionRecord>();
  return results;
}

/** The customer's subscription to the product that is not canceled and does not end by `at`. */
export async function liveSubscriptionId(
  db: D1Database,
  tenantId: string,
  customerId: string,
  productId: string,
  at: number,
): Promise<string | null> {
  const row = await db
    .prepare(
      `SELECT s.id FROM subscriptions s JOIN plans p ON p.tenant_id = s.tenant_id AND p.id = s.plan_id
       WHERE s.tenant_id = ? AND s.customer_id = ? AND p.product_id = ?
         AND s.status <> 'canceled' AND (s.end_at IS NULL OR s.end_at > ?)`,
    )
    .bind(tenantId, customerId, productId, at)
    .first<{ id: string }>();
  return row?.id ?? null;
}

/** The statements that create a subscription with the history's first phase (one batch; a
 * duplicate id fails it on the UNIQUE constraint). */
export function subscriptionInsertStatements(
  db: D1Database,
  tenantId: string,
  s: {
    id: string;
    customer_id: string;
    plan_id: string;
    status: "trialing" | "active";
    start_at: number;
    trial_end: number | null;
  },
  now: number,
): D1PreparedStatement[] {
  return [
    db
      .prepare(
        `INSERT INTO subscriptions (tenant_id, id, customer_id, plan_id, status, start_at, trial_end, anchor_at, end_at, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?)`,
      )
      .bind(
        tenantId,
        s.id,
        s.customer_id,
        s.plan_id,
        s.status,
        s.start_at,
        s.trial_end,
        s.start_at,
        now,
        now,
      ),
    db
      .prepare(
        `INSERT INTO subscription_phases (tenant_id, subscription_id, start_at, end_at, plan_id, anchor_at, created_at)
         VALUES (?, ?, ?, NULL, ?, ?, ?)`,
      )
      .bind(tenantId, s.id, s.start_at, s.plan_id, s.start_at, now),
  ];
}

// ---------------------------------------------------------------------------------------------
// History writes (workers/billing/history.ts and status.ts compose them into one batch)

export interface SubscriptionHead {
  id: string;
  customer_id: string;
  product_id: string;
  currency: string;
  start_at: number;
  end_at: number | null;
}

/** A subscription's head, its phases and the billing interval of each plan they use; null when
 * it does not exist. One round trip. */
export async function loadSubscriptionHistory(
  db: D1Database,
  tenantId: string,
  id: string,
): Promise<{
  sub: SubscriptionHead;
  phases: PhaseRecord[];
  intervals: Map<string, BillingInterval>;
} | null> {
  const [head, phases] = await db.batch([
    db
      .prepare(
        `SELECT s.id, s.customer_id, p.product_id, p.currency, s.start_at, s.end_at
         FROM subscriptions s JOIN plans p ON p.tenant_id = s.tenant_id AND p.id = s.plan_id
         WHERE s.tenant_id = ? AND s.id = ?`,
      )
      .bind(tenantId, id),
    subscriptionPhasesStatement(db, tenantId, id),
  ]);
  const sub = head?.results[0] as SubscriptionHead | undefined;
  if (sub === undefined) return null;
  const rows = (phases?.results ?? []) as unknown as PhaseRow[];
  const intervals = new Map(rows.map((r) => [r.plan_id, r.interval]));
  return { sub, phases: [...(groupPhases(rows)[0]?.phases ?? [])], intervals };
}

/** The statements that replace a subscription's phases. */
export function replacePhasesStatements(
  db: D1Database,
  tenantId: string,
  subId: string,
  phases: readonly PhaseRecord[],
  now: number,
): D1PreparedStatement[] {
  return [
    db
      .prepare("DELETE FROM subscription_phases WHERE tenant_id = ? AND subscription_id = ?")
      .bind(tenantId, subId),
    ...phases.map((p) =>
      db
        .prepare(
          `INSERT INTO subscription_phases
             (tenant_id, subscription_id, start_at, end_at, plan_id, anchor_at, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?)`,
        )
        .bind(tenantId, subId, p.start, p.end, p.plan_id, p.anchor, now),
    ),
  ];
}

/** The statement that sets when a subscription's service ends. */
export const subscriptionEndStatement = (
  db: D1Database,
  tenantId: string,
  subId: string,
  endAt: number,
  now: number,
) =>
  db
    .prepare("UPDATE subscriptions SET end_at = ?, updated_at = ? WHERE tenant_id = ? AND id = ?")
    .bind(endAt, now, tenantId, subId);

/** Bumps the tenant's billing version: stored cockpit snapshots older than it are stale. */
export const bumpBillingVersion = (db: D1Database, tenantId: string) =>
  db
    .prepare(
      `INSERT INTO billing_versions (tenant_id, version) VALUES (?, 1)
       ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1`,
    )
    .bind(tenantId);

/**
 * Brings the stored subscriptions rows in line with their history at `now`: status (canceled
 * once the end has passed; else the latest past_due/suspended change at or before now; else
 * trialing before the trial end; else active), and plan_id/anchor_at of the phase in force
 * (the first phase before the start, the last one after the end). Touches only rows that
 * change. One subscription, or every one of the tenant.
 */
export function settleStatement(db: D1Database, tenantId: string, now: number, subId?: string) {
  return db
    .prepare(
      `UPDATE subscriptions AS s SET status = x.status, plan_id = x.plan_id,
         anchor_at = x.anchor_at, updated_at = ?1
       FROM (
         SELECT y.id, CASE
             WHEN y.end_at IS NOT NULL AND y.end_at <= ?1 THEN 'canceled'
             WHEN y.change IN ('past_due', 'suspended') THEN y.change
             -- Written directly, without a history (before recordStatusChange): kept as is.
             WHEN y.changes = 0 AND y.status IN ('past_due', 'suspended') THEN y.status
             WHEN y.trial_end IS NOT NULL AND y.trial_end > ?1 THEN 'trialing'
             ELSE 'active' END AS status,
           COALESCE(y.phase_plan, y.plan_id) AS plan_id,
           COALESCE(y.phase_anchor, y.anchor_at) AS anchor_at
         FROM (
           SELECT s2.id, s2.status, s2.end_at, s2.trial_end, s2.plan_id, s2.anchor_at,
             (SELECT COUNT(*) FROM subscription_status_changes c
               WHERE c.tenant_id = s2.tenant_id AND c.subscription_id = s2.id) AS changes,
             (SELECT c.status FROM subscription_status_changes c
               WHERE c.tenant_id = s2.tenant_id AND c.subscription_id = s2.id AND c.at <= ?1
               ORDER BY c.at DESC, c.seq DESC LIMIT 1) AS change,
             (SELECT ph.plan_id FROM subscription_phases ph
               WHERE ph.tenant_id = s2.tenant_id AND ph.subscription_id = s2.id
                 AND ph.start_at <= MAX(?1, s2.start_at)
               ORDER BY ph.start_at DESC LIMIT 1) AS phase_plan,
             (SELECT ph.anchor_at FROM subscription_phases ph
               WHERE ph.tenant_id = s2.tenant_id AND ph.subscription_id = s2.id
                 AND ph.start_at <= MAX(?1, s2.start_at)
               ORDER BY ph.start_at DESC LIMIT 1) AS phase_anchor
           FROM subscriptions s2 WHERE s2.tenant_id = ?2 AND (?3 IS NULL OR s2.id = ?3)
         ) y
       ) x
       WHERE s.tenant_id = ?2 AND s.id = x.id
         AND (s.status <> x.status OR s.plan_id <> x.plan_id OR s.anchor_at <> x.anchor_at)`,
    )
    .bind(now, tenantId, subId ?? null);
}

// ---------------------------------------------------------------------------------------------
// Effective-dated status changes (subscription_status_changes)

export type BillingStatus = "active" | "past_due" | "suspended";

/** The stored status and the change in force at `at` (null: none); null when the subscription
 * does not exist. */
export async function statusAt(
  db: D1Database,
  tenantId: string,
  subId: string,
  at: number,
): Promise<{ status: StoredSubscriptionStatus; in_force: BillingStatus | null } | null> {
  return db
    .prepare(
      `SELECT s.status,
         (SELECT c.status FROM subscription_status_changes c
           WHERE c.tenant_id = s.tenant_id AND c.subscription_id = s.id AND c.at <= ?3
           ORDER BY c.at DESC, c.seq DESC LIMIT 1) AS in_force
       FROM subscriptions s WHERE s.tenant_id = ?1 AND s.id = ?2`,
    )
    .bind(tenantId, subId, at)
    .first<{ status: StoredSubscriptionStatus; in_force: BillingStatus | null }>();
}

/** The statement that appends a status change at `at` (after any earlier one at the same ms). */
export const statusChangeInsert = (
  db: D1Database,
  tenantId: string,
  subId: string,
  change: { at: number; status: BillingStatus; reason: string | null },
  now: number,
) =>
  db
    .prepare(
      `INSERT INTO subscription_status_changes
         (tenant_id, subscription_id, at, seq, status, reason, created_at)
       VALUES (?1, ?2, ?3, (SELECT COALESCE(MAX(seq), 0) + 1 FROM subscription_status_changes
         WHERE tenant_id = ?1 AND subscription_id = ?2 AND at = ?3), ?4, ?5, ?6)`,
    )
    .bind(tenantId, subId, change.at, change.status, change.reason, now);

export async function storedStatus(
  db: D1Database,
  tenantId: string,
  subId: string,
): Promise<StoredSubscriptionStatus | null> {
  const row = await db
    .prepare("SELECT status FROM subscriptions WHERE tenant_id = ? AND id = ?")
    .bind(tenantId, subId)
    .first<{ status: StoredSubscriptionStatus }>();
  return row?.status ?? null;
}

/** The customer's subscriptions (to one product, or all) whose service includes `at`. */
export async function liveSubscriptionIdsOf(
  db: D1Database,
  tenantId: string,
  customerId: string,
  productId: string | null,
  at: number,
): Promise<string[]> {
  const { results } = await db
    .prepare(
      `SELECT s.id FROM subscriptions s JOIN plans p ON p.tenant_id = s.tenant_id AND p.id = s.plan_id
       WHERE s.tenant_id = ?1 AND s.customer_id = ?2 AND (?3 IS NULL OR p.product_id = ?3)
         AND s.start_at <= ?4 AND (s.end_at IS NULL OR s.end_at > ?4)`,
    )
    .bind(tenantId, customerId, productId, at)
    .all<{ id: string }>();
  return results.map((r) => r.id);
}

/** A subscription's status changes, oldest first. */
export async function statusChangesOf(
  db: D1Database,
  tenantId: string,
  subId: string,
): Promise<{ at: number; status: BillingStatus; reason: string | null }[]> {
  const { results } = await db
    .prepare(
      `SELECT at, status, reason FROM subscription_status_changes
       WHERE tenant_id = ? AND subscription_id = ? ORDER BY at, seq`,
    )
    .bind(tenantId, subId)
    .all<{ at: number; status: BillingStatus; reason: string | null }>();
  return results;
}
