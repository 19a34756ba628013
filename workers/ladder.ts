import { z } from "@hono/zod-openapi";
import type { Signal } from "../domain/detectors";
import { type GateTier, type Rung, rungFor, tierFor } from "../domain/ladder";
import { actorName } from "../durable-objects/customer-actor";
import { loadCustomerPolicies } from "../store/policies";
import { toHex } from "./auth";
import { recordStatusChange } from "./billing/status";
import { escalationChannelId } from "./deliveries/channels";
import { ApiError, notFound } from "./problem";
import { bumpCatalogVersion } from "./tenant-catalog";

// The action ladder (SPEC §6): each new signal gets one action at its rung, queued or executed
// by policy; operators execute and reverse by hand. Every step lands in orchestration_actions.
// Effects are real: THROTTLE and BLOCK change the customer's gate tier in its actor (BLOCK also
// suspends its subscriptions), extend_trial moves the trial end, apply_coupon records a coupon,
// escalate e-mails the customer's account owner.

const DAY_MS = 86_400_000;

export async function hashId(prefix: string, ...parts: string[]): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(parts.join("\u0000")),
  );
  return `${prefix}_${toHex(new Uint8Array(digest).slice(0, 12))}`;
}

export const signalId = (tenantId: string, idempotencyKey: string) =>
  hashId("sig", tenantId, idempotencyKey);
export const actionId = (tenantId: string, idempotencyKey: string) =>
  hashId("act", tenantId, idempotencyKey);

/** Statements that record a new signal and its action (queued): idempotent, for the same D1
 * transaction that applies the outbox batch the signal came in. */
export async function signalStatements(
  db: D1Database,
  tenantId: string,
  signal: Signal,
  rung: Rung,
  now: number,
) {
  const [sid, aid] = await Promise.all([
    signalId(tenantId, signal.idempotency_key),
    actionId(tenantId, signal.idempotency_key),
  ]);
  return {
    signalId: sid,
    actionId: aid,
    statements: [
      db
        .prepare(
          `INSERT INTO signals (tenant_id, id, idempotency_key, detector, customer_id, product_id, metric_id,
             window_start, window_end, magnitude, direction, details, source_event_ids, status, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?) ON CONFLICT DO NOTHING`,
        )
        .bind(
          tenantId,
          sid,
          signal.idempotency_key,
          signal.detector,
          signal.customer,
          signal.product ?? null,
          signal.metric ?? null,
          signal.window.start,
          signal.window.end,
          Number.isFinite(signal.magnitude) ? signal.magnitude : 1e9,
          signal.direction ?? null,
          JSON.stringify(signal.details),
          JSON.stringify(signal.source_event_ids),
          now,
        ),
      // The trail's first step, only if the action is new (runs before the action insert).
      db
        .prepare(
          `INSERT INTO orchestration_actions (tenant_id, action_id, signal_id, customer_id, rung, step, actor, detail, at)
           SELECT ?1, ?2, ?3, ?4, ?5, 'queued', 'policy', ?6, ?7
           WHERE NOT EXISTS (SELECT 1 FROM actions WHERE tenant_id = ?1 AND id = ?2)`,
        )
        .bind(
          tenantId,
          aid,
          sid,
          signal.customer,
          rung,
          JSON.stringify({ detector: signal.detector }),
          now,
        ),
      db
        .prepare(
          `INSERT INTO actions (tenant_id, id, signal_id, customer_id, product_id, rung, state, detail, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, 'queued', '{}', ?, ?) ON CONFLICT DO NOTHING`,
        )
        .bind(tenantId, aid, sid, signal.customer, signal.product ?? null, rung, now, now),
    ],
  };
}

/** The rung a signal maps to under its customer's (and product's) policy, and whether the
 * policy runs that rung automatically. */
export async function decideRung(db: D1Database, tenantId: string, signal: Signal) {
  const policy = (await loadCustomerPolicies(db, tenantId, signal.customer))(signal.product);
  const rung = rungFor(signal, policy.ladder);
  return { rung, auto: policy.auto_actions[rung] };
}

export interface ActionRow {
  id: string;
  signal_id: string;
  customer_id: string;
  product_id: string | null;
  rung: Rung;
  state: "queued" | "executed" | "reversed" | "failed";
  detail: string;
  created_at: number;
  updated_at: number;
}

async function loadAction(db: D1Database, tenantId: string, id: string): Promise<ActionRow> {
  const row = await db
    .prepare(
      "SELECT id, signal_id, customer_id, product_id, rung, state, detail, created_at, updated_at FROM actions WHERE tenant_id = ? AND id = ?",
    )
    .bind(tenantId, id)
    .first<ActionRow>();
  if (!row) throw notFound("Action", id);
  return row;
}

/** Executes an action (from queued, reversed or failed). `actor` is "policy" or
 * "operator:<key id>". Returns the action after the step. */
export async function executeAction(
  env: Env,
  tenantId: string,
  id: string,
  actor: string,
): Promise<ActionRow> {
  const action = await loadAction(env.DB, tenantId, id);
  if (action.state === "executed")
    throw new ApiError("conflict", `Action '${id}' is already executed`);
  let detail: Record<string, unknown>;
  try {
    detail = await applyEffect(env, tenantId, action, "execute");
  } catch (err) {
    if (err instanceof ApiError && err.code !== "internal") {
      await recordStep(env.DB, tenantId, action, "failed", actor, { reason: err.detail });
      throw err;
    }
    throw err;
  }
  return recordStep(env.DB, tenantId, action, "executed", actor, detail);
}

/** Reverses an executed action: unthrottle, unblock, shorten the trial back, revoke the coupon. */
export async function reverseAction(
  env: Env,
  tenantId: string,
  id: string,
  actor: string,
): Promise<ActionRow> {
  const action = await loadAction(env.DB, tenantId, id);
  if (action.state !== "executed") {
    throw new ApiError(
      "conflict",
      `Only an executed action can be reversed; '${id}' is ${action.state}`,
    );
  }
  const detail = await applyEffect(env, tenantId, action, "reverse");
  return recordStep(env.DB, tenantId, action, "reversed", actor, detail);
}

async function recordStep(
  db: D1Database,
  tenantId: string,
  action: ActionRow,
  step: "executed" | "reversed" | "failed",
  actor: string,
  detail: Record<string, unknown>,
): Promise<ActionRow> {
  const now = Date.now();
  // The action keeps what earlier steps recorded (a coupon id to revoke, the statuses to
  // restore), except a failure's reason once a later step has succeeded.
  const earlier = JSON.parse(action.detail) as Record<string, unknown>;
  if (step !== "failed") delete earlier.reason;
  const merged = JSON.stringify({ ...earlier, ...detail });
  const [updated] = await db.batch([
    db
      .prepare(
        "UPDATE actions SET state = ?, detail = ?, updated_at = ? WHERE tenant_id = ? AND id = ? AND state = ?",
      )
      .bind(step, merged, now, tenantId, action.id, action.state),
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
        JSON.stringify(detail),
        now,
      ),
  ]);
  if ((updated?.meta.changes ?? 0) === 0) {
    throw new ApiError("conflict", `Action '${action.id}' changed meanwhile; reload and retry`);
  }
  return { ...action, state: step, detail: merged, updated_at: now };
}

/** The gate tier from every action in force for the customer, pushed to its actor. */
async function syncGate(
  env: Env,
  tenantId: string,
  customerId: string,
  pending?: { id: string; rung: Rung; inForce: boolean },
) {
  const { results } = await env.DB.prepare(
    "SELECT id, rung FROM actions WHERE tenant_id = ? AND customer_id = ? AND state = 'executed'",
  )
    .bind(tenantId, customerId)
    .all<{ id: string; rung: Rung }>();
  const rungs = results.filter((r) => r.id !== pending?.id).map((r) => r.rung);
  if (pending?.inForce) rungs.push(pending.rung);
  const tier: GateTier = tierFor(rungs);
  const stub = env.CUSTOMER_ACTOR.getByName(actorName(tenantId, customerId));
  await stub.identify(tenantId, customerId);
  await stub.setGateTier(tier);
  return tier;
}

const bumpCatalog = (db: D1Database, tenantId: string) => bumpCatalogVersion(db, tenantId).run();

/** The customer's `metadata.account_owner`, when it is an e-mail address. */
async function accountOwner(db: D1Database, tenantId: string, customerId: string) {
  const row = await db
    .prepare("SELECT metadata FROM customers WHERE tenant_id = ? AND id = ?")
    .bind(tenantId, customerId)
    .first<{ metadata: string }>();
  const owner = row
    ? (JSON.parse(row.metadata) as { account_owner?: unknown }).account_owner
    : null;
  return z.email().safeParse(owner).success ? (owner as string) : null;
}

async function applyEffect(
  env: Env,
  tenantId: string,
  action: ActionRow,
  direction: "execute" | "reverse",
): Promise<Record<string, unknown>> {
  const db = env.DB;
  const on = direction === "execute";
  const policy = (await loadCustomerPolicies(db, tenantId, action.customer_id))(
    action.product_id ?? undefined,
  );
  const previous = JSON.parse(action.detail) as Record<string, unknown>;
  switch (action.rung) {
    case "ALERT":
      // Notifications go out with the signal (its deliveries); the step is the record.
      return {};
    case "escalate": {
      // An e-mail to the customer's account owner, through the deliveries queue (retries,
      // idempotent per signal and address). A sent e-mail cannot be taken back: reversing only
      // records that the escalation is withdrawn.
      if (!on) return { withdrawn: true };
      const owner =
        (await accountOwner(db, tenantId, action.customer_id)) ??
        (policy.actions.escalate_to || null);
      if (!owner) {
        throw new ApiError(
          "conflict",
          `No account owner to escalate to: set metadata.account_owner on customer '${action.customer_id}' or actions.escalate_to in the policy`,
        );
      }
      const now = Date.now();
      const deliveryId = await hashId("dlv", tenantId, action.signal_id, "escalate", owner);
      const inserted = await db
        .prepare(
          `INSERT INTO deliveries (tenant_id, id, signal_id, channel_id, status, attempts,
             next_attempt_at, created_at, updated_at)
           VALUES (?1, ?2, ?3, ?4, 'pending', 0, ?5, ?5, ?5) ON CONFLICT DO NOTHING`,
        )
        .bind(tenantId, deliveryId, action.signal_id, escalationChannelId(owner), now)
        .run();
      if (inserted.meta.changes > 0) {
        await env.DELIVERIES_QUEUE.send(
          { tenant_id: tenantId, delivery_id: deliveryId },
          { contentType: "json" },
        );
      }
      return { escalated_to: owner, delivery_id: deliveryId };
    }
    case "THROTTLE":
      return {
        gate_tier: await syncGate(env, tenantId, action.customer_id, {
          id: action.id,
          rung: action.rung,
          inForce: on,
        }),
      };
    case "BLOCK": {
      // Suspension goes into the subscription history (the cockpit reads it from there);
      // reversing restores the standing each subscription had before.
      const now = Date.now();
      const reason = `ladder:BLOCK ${action.signal_id}`;
      if (on) {
        const { results } = await db
          .prepare(
            "SELECT id, status FROM subscriptions WHERE tenant_id = ? AND customer_id = ? AND status NOT IN ('canceled', 'suspended')",
          )
          .bind(tenantId, action.customer_id)
          .all<{ id: string; status: string }>();
        for (const r of results)
          await recordStatusChange(db, tenantId, r.id, "suspended", now, reason);
        const tier = await syncGate(env, tenantId, action.customer_id, {
          id: action.id,
          rung: action.rung,
          inForce: true,
        });
        await bumpCatalog(db, tenantId);
        return {
          gate_tier: tier,
          suspended: results.map((r) => ({ id: r.id, previous_status: r.status })),
        };
      }
      const suspended =
        (previous.suspended as { id: string; previous_status: string }[] | undefined) ?? [];
      for (const r of suspended) {
        const standing = r.previous_status === "past_due" ? "past_due" : "active";
        await recordStatusChange(db, tenantId, r.id, standing, now, `${reason} reversed`);
      }
      const tier = await syncGate(env, tenantId, action.customer_id, {
        id: action.id,
        rung: action.rung,
        inForce: false,
      });
      await bumpCatalog(db, tenantId);
      return { gate_tier: tier, restored: suspended.map((r) => r.id) };
    }
    case "extend_trial": {
      const days = on ? policy.actions.extend_trial_days : -Number(previous.extended_days ?? 0);
      const sub = on
        ? await db
            .prepare(
              `SELECT s.id, s.trial_end FROM subscriptions s JOIN plans p ON p.tenant_id = s.tenant_id AND p.id = s.plan_id
               WHERE s.tenant_id = ?1 AND s.customer_id = ?2 AND s.trial_end IS NOT NULL AND s.status <> 'canceled'
                 AND (?3 IS NULL OR p.product_id = ?3)
               ORDER BY s.trial_end DESC LIMIT 1`,
            )
            .bind(tenantId, action.customer_id, action.product_id)
            .first<{ id: string; trial_end: number }>()
        : { id: String(previous.subscription_id), trial_end: 0 };
      if (!sub)
        throw new ApiError("conflict", `Customer '${action.customer_id}' has no trial to extend`);
      await db
        .prepare(
          `UPDATE subscriptions SET trial_end = trial_end + ?, status = CASE WHEN trial_end + ? > ? AND status = 'active' THEN 'trialing' ELSE status END,
             updated_at = ? WHERE tenant_id = ? AND id = ?`,
        )
        .bind(days * DAY_MS, days * DAY_MS, Date.now(), Date.now(), tenantId, sub.id)
        .run();
      await bumpCatalog(db, tenantId);
      return on
        ? { subscription_id: sub.id, extended_days: days }
        : { subscription_id: sub.id, shortened_days: -days };
    }
    case "apply_coupon": {
      const now = Date.now();
      if (on) {
        const couponId = await hashId("cpn", tenantId, action.id, String(now));
        await db
          .prepare(
            `INSERT INTO coupons (tenant_id, id, customer_id, subscription_id, percent_off, amount_off, valid_from, valid_to, action_id, created_at)
             VALUES (?, ?, ?, NULL, ?, NULL, ?, ?, ?, ?)`,
          )
          .bind(
            tenantId,
            couponId,
            action.customer_id,
            String(policy.actions.coupon_percent),
            now,
            now + policy.actions.coupon_days * DAY_MS,
            action.id,
            now,
          )
          .run();
        await bumpCatalog(db, tenantId);
        return {
          coupon_id: couponId,
          percent_off: policy.actions.coupon_percent,
          days: policy.actions.coupon_days,
        };
      }
      await db
        .prepare("UPDATE coupons SET revoked_at = ? WHERE tenant_id = ? AND id = ?")
        .bind(now, tenantId, String(previous.coupon_id))
        .run();
      await bumpCatalog(db, tenantId);
      return { revoked_coupon_id: previous.coupon_id };
    }
  }
}
