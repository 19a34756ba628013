import type { Signal } from "../../domain/detectors";
import { type Rung, rungFor } from "../../domain/ladder";
import { queuedActionStatements } from "../../store/actions";
import { loadCustomerPolicies } from "../../store/policies";
import { insertSignalStatement } from "../../store/signals";
import { actionId, signalId } from "./ids";

// A new signal and its action: the rung the policy maps it to, and the statements that record
// both (the action queued) for the events consumer's D1 transaction.

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
      insertSignalStatement(db, tenantId, sid, signal, now),
      ...queuedActionStatements(
        db,
        tenantId,
        {
          id: aid,
          signal_id: sid,
          customer_id: signal.customer,
          product_id: signal.product ?? null,
          rung,
          detector: signal.detector,
        },
        now,
      ),
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
