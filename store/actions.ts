import { z } from "zod";
import type { Rung } from "../domain/ladder";
import { parseStored } from "./d1";

// The action ladder in D1 (schema/0004_detection.sql): `actions` holds each signal's one action
// and its current state, `orchestration_actions` every step it took (the trail), and `coupons`
// the discounts apply_coupon granted (keyed by the action that granted them).

/** `no_channel`: an ALERT that reached nobody, since the tenant had no enabled channel (it is
 * never `executed`); executing it again once a channel exists sends it. */
export type ActionState = "queued" | "executed" | "reversed" | "failed" | "no_channel";

/** What the steps of an action recorded (a coupon id to revoke, statuses to restore, …). */
export type ActionDetail = Record<string, unknown>;
const Detail = z.record(z.string(), z.unknown());

export interface ActionRecord {
  id: string;
  signal_id: string;
  customer_id: string;
  product_id: string | null;
  rung: Rung;
  state: ActionState;
  detail: ActionDetail;
  created_at: number;
  updated_at: number;
}

/** An `actions` row as D1 returns it. */
export interface ActionRow extends Omit<ActionRecord, "detail"> {
  detail: string;
}

export const toActionRecord = (r: ActionRow): ActionRecord => ({
  ...r,
  detail: parseStored(Detail, r.detail, `action ${r.id} detail`),
});

export interface StepRecord {
  id: number;
  action_id: string;
  signal_id: string;
  customer_id: string;
  rung: Rung;
  step: ActionState;
  actor: string;
  detail: ActionDetail;
  at: number;
}

type StepRow = Omit<StepRecord, "detail"> & { detail: string };

const STEP_COLUMNS = "id, action_id, signal_id, customer_id, rung, step, actor, detail, at";

const toStepRecord = (r: StepRow): StepRecord => ({
  ...r,
  detail: parseStored(Detail, r.detail, `step ${r.id} of action ${r.action_id}`),
});

/** Statements recording a new signal's action, queued, with the first step of its trail;
 * idempotent (an action that exists already gets neither). The trail step runs first, while
 * the action does not exist yet. */
export function queuedActionStatements(
  db: D1Database,
  tenantId: string,
  action: {
    id: string;
    signal_id: string;
    customer_id: string;
    product_id: string | null;
    rung: Rung;
    detector: string;
  },
  now: number,
): D1PreparedStatement[] {
  return [
    db
      .prepare(
        `INSERT INTO orchestration_actions (tenant_id, action_id, signal_id, customer_id, rung, step, actor, detail, at)
         SELECT ?1, ?2, ?3, ?4, ?5, 'queued', 'policy', ?6, ?7
         WHERE NOT EXISTS (SELECT 1 FROM actions WHERE tenant_id = ?1 AND id = ?2)`,
      )
      .bind(
        tenantId,
        action.id,
        action.signal_id,
        action.customer_id,
        action.rung,
        JSON.stringify({ detector: action.detector }),
        now,
      ),
    db
      .prepare(
        `INSERT INTO actions (tenant_id, id, signal_id, customer_id, product_id, rung, state, detail, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, 'queued', '{}', ?, ?) ON CONFLICT DO NOTHING`,
      )
      .bind(
        tenantId,
        action.id,
        action.signal_id,
        action.customer_id,
        action.product_id,
        action.rung,
        now,
        now,
      ),
  ];
}

export async function loadAction(
  db: D1Database,
  tenantId: string,
  id: string,
): Promise<ActionRecord | null> {
  const row = await db
    .prepare(
      "SELECT id, signal_id, customer_id, product_id, rung, state, detail, created_at, updated_at FROM actions WHERE tenant_id = ? AND id = ?",
    )
    .bind(tenantId, id)
    .first<ActionRow>();
  return row ? toActionRecord(row) : null;
}

/**
 * Moves an action from the state it was read in to `step`, with its merged detail, and appends
 * the step (with this step's own detail) to the trail — one transaction, and the trail row only
 * if the move happened. False when the action changed meanwhile (nothing written).
 */
export async function recordStep(
  db: D1Database,
  tenantId: string,
  action: ActionRecord,
  step: Exclude<ActionState, "queued">,
  actor: string,
  merged: ActionDetail,
  stepDetail: ActionDetail,
  now: number,
): Promise<boolean> {
  const [updated] = await db.batch([
    db
      .prepare(
        "UPDATE actions SET state = ?, detail = ?, updated_at = ? WHERE tenant_id = ? AND id = ? AND state = ?",
      )
      .bind(step, JSON.stringify(merged), now, tenantId, action.id, action.state),
    db
      .prepare(
        `INSERT INTO orchestration_actions (tenant_id, action_id, signal_id, customer_id, rung, step, actor, detail, at)
         SELECT ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE changes() > 0`,
      )
      .bind(
        tenantId,
        action.id,
        action.signal_id,
        action.customer_id,
        action.rung,
        step,
        actor,
        JSON.stringify(stepDetail),
        now,
      ),
  ]);
  return (updated?.meta.changes ?? 0) > 0;
}

/** The executed actions of a customer (what is in force: its gate tier derives from them). */
export async function executedActions(
  db: D1Database,
  tenantId: string,
  customerId: string,
): Promise<{ id: string; rung: Rung }[]> {
  const { results } = await db
    .prepare(
      "SELECT id, rung FROM actions WHERE tenant_id = ? AND customer_id = ? AND state = 'executed'",
    )
    .bind(tenantId, customerId)
    .all<{ id: string; rung: Rung }>();
  return results;
}

/** Queued actions of a policy scope (the tenant, one product or one customer), oldest first. */
export async function queuedActionsInScope(
  db: D1Database,
  tenantId: string,
  scope: "tenant" | "product" | "customer",
  scopeId: string,
  limit: number,
): Promise<{ id: string; customer_id: string; product_id: string | null; rung: Rung }[]> {
  const { results } = await db
    .prepare(
      `SELECT id, customer_id, product_id, rung FROM actions
       WHERE tenant_id = ?1 AND state = 'queued'
         AND (?2 = 'tenant' OR (?2 = 'product' AND product_id = ?3) OR (?2 = 'customer' AND customer_id = ?3))
         -- Only what waits on an open finding: a settled case's queued steps stay unexecuted.
         AND EXISTS (SELECT 1 FROM signals s WHERE s.tenant_id = actions.tenant_id
           AND s.id = actions.signal_id AND s.status = 'open')
       ORDER BY created_at LIMIT ?4`,
    )
    .bind(tenantId, scope, scopeId, limit)
    .all<{ id: string; customer_id: string; product_id: string | null; rung: Rung }>();
  return results;
}

/** The trail of one signal's action, oldest first. */
export async function stepsOfSignal(
  db: D1Database,
  tenantId: string,
  signalId: string,
): Promise<StepRecord[]> {
  const { results } = await db
    .prepare(
      `SELECT ${STEP_COLUMNS} FROM orchestration_actions WHERE tenant_id = ? AND signal_id = ? ORDER BY id`,
    )
    .bind(tenantId, signalId)
    .all<StepRow>();
  return results.map(toStepRecord);
}

export interface StepFilter {
  action?: string;
  signal?: string;
  customer?: string;
  step?: ActionState;
}

/** Steps newest first, before the step id `before` (a cursor), `limit` rows at most. */
export async function listSteps(
  db: D1Database,
  tenantId: string,
  filter: StepFilter,
  before: number | null,
  limit: number,
): Promise<StepRecord[]> {
  const { results } = await db
    .prepare(
      `SELECT ${STEP_COLUMNS} FROM orchestration_actions
       WHERE tenant_id = ?1 AND (?2 IS NULL OR action_id = ?2) AND (?3 IS NULL OR signal_id = ?3)
         AND (?4 IS NULL OR customer_id = ?4) AND (?5 IS NULL OR step = ?5) AND (?6 IS NULL OR id < ?6)
       ORDER BY id DESC LIMIT ?7`,
    )
    .bind(
      tenantId,
      filter.action ?? null,
      filter.signal ?? null,
      filter.customer ?? null,
      filter.step ?? null,
      before,
      limit,
    )
    .all<StepRow>();
  return results.map(toStepRecord);
}

// Coupons granted by apply_coupon ------------------------------------------------------------

export interface CouponGrant {
  id: string;
  customer_id: string;
  percent_off: string;
  valid_from: number;
  valid_to: number;
  action_id: string;
}

export async function insertCoupon(
  db: D1Database,
  tenantId: string,
  coupon: CouponGrant,
  now: number,
): Promise<void> {
  await db
    .prepare(
      `INSERT INTO coupons (tenant_id, id, customer_id, subscription_id, percent_off, amount_off, valid_from, valid_to, action_id, created_at)
       VALUES (?, ?, ?, NULL, ?, NULL, ?, ?, ?, ?)`,
    )
    .bind(
      tenantId,
      coupon.id,
      coupon.customer_id,
      coupon.percent_off,
      coupon.valid_from,
      coupon.valid_to,
      coupon.action_id,
      now,
    )
    .run();
}

export async function revokeCoupon(
  db: D1Database,
  tenantId: string,
  couponId: string,
  now: number,
): Promise<void> {
  await db
    .prepare("UPDATE coupons SET revoked_at = ? WHERE tenant_id = ? AND id = ?")
    .bind(now, tenantId, couponId)
    .run();
}
