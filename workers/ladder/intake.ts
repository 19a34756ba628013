import type { Signal } from "../../domain/detectors";
import { type PlanOption, upgradeAdvice } from "../../domain/upgrade";
import { loadTenantPlans } from "../../store/catalog";
import { pendingDeliveryStatements } from "../../store/deliveries";
import { recordedSignalKeys } from "../../store/signals";
import { planInForce } from "../../store/subscription-reads";
import { fileSignalStatements } from "../cases";
import { enqueueDeliveries } from "../deliveries/queue";
import { executeAction } from "./orchestrate";
import { decideRung, signalStatements } from "./record";

// Where every new signal enters: recorded with its action at the rung its policy maps it to, its
// pending deliveries and its case, in the caller's D1 transaction; after the commit its deliveries
// are enqueued and the rung runs if the policy runs it automatically. Signals from customer actors
// come in outbox batches (workers/queues.ts); signals found over the tenant's records ("tenant"
// detectors, workers/tenant-detectors.ts) come through recordTenantSignals.

/** What to do for a signal once its statements committed. */
export interface LadderStep {
  tenantId: string;
  signalId: string;
  actionId: string;
  /** The policy runs the signal's rung by itself. */
  auto: boolean;
}

/** The statements recording one new signal (idempotent: a replayed key changes nothing).
 * `extraProducts`: the products of the batch a customer-level margin finding came in. */
export async function newSignalStatements(
  db: D1Database,
  tenantId: string,
  signal: Signal,
  now: number,
  extraProducts: readonly string[] = [],
): Promise<{ statements: D1PreparedStatement[]; step: LadderStep }> {
  signal = await withUpgradeAdvice(db, tenantId, signal);
  const { rung, auto } = await decideRung(db, tenantId, signal);
  const recorded = await signalStatements(db, tenantId, signal, rung, now);
  return {
    statements: [
      ...recorded.statements,
      // The signal and its pending deliveries are written together (detection ≠ delivery).
      ...pendingDeliveryStatements(db, tenantId, recorded.signalId, now),
      // Filed into its case in the same transaction: a redelivered batch files nothing twice.
      ...(await fileSignalStatements(db, tenantId, recorded.signalId, signal, now, extraProducts)),
    ],
    step: { tenantId, signalId: recorded.signalId, actionId: recorded.actionId, auto },
  };
}

const PACING = "QuotaPacingProjectionService";

/**
 * A quota-pacing signal carries, in its details, what the projected period would cost on the
 * customer's plan and on the cheapest other plan of the product (domain/upgrade.ts): the Upgrade
 * Signals report reads it from there. It is priced once, when the signal is recorded, against
 * the plans of that moment, like the projection itself. Other signals pass unchanged, as does a
 * pacing signal whose customer has no plan in force (nothing to compare with).
 */
async function withUpgradeAdvice(db: D1Database, tenantId: string, signal: Signal) {
  if (signal.detector !== PACING || !signal.product || !signal.metric) return signal;
  const projection = Number(signal.details.projection);
  const at = Number(signal.details.evaluated_at ?? signal.window.start);
  if (!Number.isFinite(projection)) return signal;
  const [planId, plans] = await Promise.all([
    planInForce(db, tenantId, signal.customer, signal.product, at),
    loadTenantPlans(db, tenantId),
  ]);
  const options: PlanOption[] = [...plans].map(([id, p]) => ({
    id,
    name: p.name,
    product_id: p.product_id,
    active: p.status === "active",
    plan: p.plan,
  }));
  const current = options.find((o) => o.id === planId);
  if (!current) return signal;
  const advice = upgradeAdvice(current, options, signal.metric, projection, signal.window);
  return { ...signal, details: { ...signal.details, ...advice } };
}

/** After the commit: the signals' deliveries enqueued, and the rungs the policy runs
 * automatically executed. A failure is recorded on the action, never retried here (the signal is
 * stored; an operator can execute it by hand; a lost enqueue is repaired by the periodic requeue
 * of stalled deliveries). */
export async function runLadderSteps(env: Env, steps: readonly LadderStep[]): Promise<void> {
  const byTenant = new Map<string, string[]>();
  for (const s of steps)
    byTenant.set(s.tenantId, [...(byTenant.get(s.tenantId) ?? []), s.signalId]);
  for (const [tenantId, ids] of byTenant) {
    await enqueueDeliveries(env, tenantId, ids).catch((err) =>
      console.error("enqueue deliveries failed", err),
    );
  }
  for (const step of steps.filter((s) => s.auto)) {
    try {
      await executeAction(env, step.tenantId, step.actionId, "policy");
    } catch (err) {
      console.error(`automatic action ${step.actionId} did not run`, err);
    }
  }
}

/** Records the signals a tenant detector found that were not recorded before (in one
 * transaction), then runs their ladder steps. A signal is recorded once however often the
 * evaluation that finds it runs, and a step an operator or a payment reversed is never run
 * again by a later evaluation. Returns the ids of the signals recorded now. */
export async function recordTenantSignals(
  env: Env,
  tenantId: string,
  signals: readonly Signal[],
  now: number,
): Promise<string[]> {
  if (signals.length === 0) return [];
  const known = await recordedSignalKeys(
    env.DB,
    tenantId,
    signals.map((s) => s.idempotency_key),
  );
  const fresh = signals.filter((s) => !known.has(s.idempotency_key));
  if (fresh.length === 0) return [];
  const statements: D1PreparedStatement[] = [];
  const steps: LadderStep[] = [];
  // One at a time: two signals of one case in a run file into it in order.
  for (const signal of fresh) {
    const recorded = await newSignalStatements(env.DB, tenantId, signal, now);
    statements.push(...recorded.statements);
    steps.push(recorded.step);
  }
  await env.DB.batch(statements);
  await runLadderSteps(env, steps);
  return steps.map((s) => s.signalId);
}
