import { compileCostCatalog } from "../domain/costing";
import { type CompiledPlan, compilePlan, type PlanComponent } from "../domain/pricing";
import type { CustomerTerms } from "../domain/rating";
import { ratingPhases } from "../domain/subscription-phases";
import { groupPhases, PHASES_ORDER, PHASES_SQL, type PhaseRow } from "./subscriptions";

/** Loads what rating needs for one customer from D1: its subscriptions' plan phases, their
 * plans, and the tenant's cost catalog. One D1 round trip (a batch of reads). */
export async function loadCustomerTerms(
  db: D1Database,
  tenantId: string,
  customerId: string,
): Promise<CustomerTerms> {
  const [customer, phases, plans, costs] = await db.batch([
    db
      .prepare("SELECT 1 AS known FROM customers WHERE tenant_id = ? AND id = ?")
      .bind(tenantId, customerId),
    db
      .prepare(`${PHASES_SQL} WHERE s.tenant_id = ?1 AND s.customer_id = ?2 ${PHASES_ORDER}`)
      .bind(tenantId, customerId),
    db
      .prepare(
        `SELECT p.id, p.currency, p.interval, p.trial_days,
           (SELECT json_group_array(json(spec)) FROM (SELECT spec FROM plan_components c
              WHERE c.tenant_id = p.tenant_id AND c.plan_id = p.id ORDER BY position)) AS components
         FROM plans p WHERE p.tenant_id = ?1 AND p.id IN
           (SELECT plan_id FROM subscriptions WHERE tenant_id = ?1 AND customer_id = ?2
            UNION SELECT ph.plan_id FROM subscription_phases ph JOIN subscriptions s
              ON s.tenant_id = ph.tenant_id AND s.id = ph.subscription_id
            WHERE ph.tenant_id = ?1 AND s.customer_id = ?2)`,
      )
      .bind(tenantId, customerId),
    db
      .prepare(
        `SELECT provider, model, input_per_million, output_per_million, cached_input_per_million,
                per_call, effective_from FROM cost_catalog WHERE tenant_id = ?`,
      )
      .bind(tenantId),
  ]);
  const compiled = new Map<string, CompiledPlan>();
  for (const row of (plans?.results ?? []) as {
    id: string;
    currency: string;
    interval: "month" | "year";
    trial_days: number;
    components: string;
  }[]) {
    compiled.set(
      row.id,
      compilePlan({
        id: row.id,
        currency: row.currency,
        interval: row.interval,
        trial_days: row.trial_days,
        components: JSON.parse(row.components) as PlanComponent[],
      }),
    );
  }
  return {
    known: (customer?.results.length ?? 0) > 0,
    // Plan changes mid-period rate against a ledger of their own (domain/subscription-phases.ts).
    phases: groupPhases((phases?.results ?? []) as unknown as PhaseRow[]).flatMap((sub) =>
      ratingPhases(sub, (id) => compiled.get(id)?.interval),
    ),
    plans: compiled,
    costs: compileCostCatalog(
      (costs?.results ?? []) as unknown as Parameters<typeof compileCostCatalog>[0],
    ),
  };
}
