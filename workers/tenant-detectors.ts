import { pastDueSignals } from "../domain/detectors/past-due";
import { resolvePolicy } from "../domain/ladder";
import { closeCase } from "../store/cases";
import { caseActions, settledPastDueCases, unpaidInvoices } from "../store/past-due";
import { loadTenantPolicies } from "../store/policies";
import { runBudgetAlerts } from "./budget-alerts";
import { recordTenantSignals, reverseAction } from "./ladder";

// The "tenant" detectors (domain/detectors/spec.ts): findings over the tenant's D1 records, which
// no customer actor holds. Run by the tenant clock's periodic jobs (workers/periodic.ts, on the
// tenant clock) and right after the events that move them (a payment recorded, an invoice paid or
// voided), so a failed payment reaches its ALERT at once. Each run is idempotent: a signal is
// recorded once by its key (workers/ladder/intake.ts).

/** PastDueDetector: first settle the cases whose invoice is no longer owed (reversing what they
 * did), then record the levels the unpaid invoices reached. `invoiceId`: that invoice only. */
export async function runPastDue(
  env: Env,
  tenantId: string,
  now: number,
  invoiceId?: string,
): Promise<{ settled: number; signals: number }> {
  const settled = await settlePastDueCases(env, tenantId, now, invoiceId);
  const invoices = await unpaidInvoices(env.DB, tenantId, now, invoiceId);
  if (invoices.length === 0) return { settled, signals: 0 };
  const stored = await loadTenantPolicies(env.DB, tenantId);
  const signals = pastDueSignals(
    invoices,
    (inv) =>
      resolvePolicy([stored.tenant, stored.products[inv.product], stored.customers[inv.customer]])
        .detectors.past_due,
    now,
  );
  const recorded = await recordTenantSignals(env, tenantId, signals, now);
  return { settled, signals: recorded.length };
}

/**
 * A payment that settles the invoice (or a void) ends its dunning on the ladder: every THROTTLE
 * and BLOCK the case executed is reversed (the gate lets the customer through again, suspended
 * subscriptions get their standing back) and the case closes, its condition cleared. What still
 * waited, queued, stays unexecuted: its signal is resolved with the case, and switching the rung
 * on later runs only what waits on open signals.
 */
export async function settlePastDueCases(
  env: Env,
  tenantId: string,
  now: number,
  invoiceId?: string,
): Promise<number> {
  const cases = await settledPastDueCases(env.DB, tenantId, invoiceId);
  for (const c of cases) {
    const how = c.invoice_status === "void" ? "voided" : "paid";
    for (const a of await caseActions(env.DB, tenantId, c.id)) {
      if (a.state !== "executed" || (a.rung !== "THROTTLE" && a.rung !== "BLOCK")) continue;
      const reversed = await reverseAction(env, tenantId, a.id, `system (invoice ${how})`);
      if (!reversed.ok) console.error(`reversing ${a.id} after payment: ${reversed.detail}`);
    }
    await closeCase(env.DB, tenantId, c.id, {
      at: now,
      by: "system",
      reason: "condition_cleared",
      note: `invoice ${c.invoice_id} ${how}`,
    });
  }
  return cases.length;
}

/** Every tenant detector, for the periodic jobs. */
export async function runTenantDetectors(env: Env, tenantId: string, now: number): Promise<void> {
  await runPastDue(env, tenantId, now);
  await runBudgetAlerts(env, tenantId, now);
}
