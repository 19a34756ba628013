import { compileCostCatalog } from "../domain/costing";
import type { CustomerTerms } from "../domain/rating";
import { ratingPhases } from "../domain/subscription-phases";
import {
  compiledPlansOf,
  costCatalogStatement,
  costlessMetricsStatement,
  customerPlansStatement,
} from "./catalog";
import { customerExistsStatement } from "./customers";
import { customerPhasesStatement, groupPhases, type PhaseRow } from "./subscriptions";

/** Loads what rating needs for one customer from D1: its subscriptions' plan phases, their
 * plans, and the tenant's cost catalog. One D1 round trip (a batch of reads). */
export async function loadCustomerTerms(
  db: D1Database,
  tenantId: string,
  customerId: string,
): Promise<CustomerTerms> {
  const [customer, phases, plans, costs, costless] = await db.batch([
    customerExistsStatement(db, tenantId, customerId),
    customerPhasesStatement(db, tenantId, customerId),
    customerPlansStatement(db, tenantId, customerId),
    costCatalogStatement(db, tenantId),
    costlessMetricsStatement(db, tenantId),
  ]);
  const compiled = compiledPlansOf(plans?.results ?? []);
  return {
    known: (customer?.results.length ?? 0) > 0,
    // Plan changes mid-period rate against a ledger of their own (domain/subscription-phases.ts).
    phases: groupPhases((phases?.results ?? []) as unknown as PhaseRow[]).flatMap((sub) =>
      ratingPhases(sub, (id) => compiled.get(id)?.interval),
    ),
    plans: compiled,
    costs: compileCostCatalog(
      (costs?.results ?? []) as unknown as Parameters<typeof compileCostCatalog>[0],
      { stored: true },
    ),
    costless: new Set(
      ((costless?.results ?? []) as { product_id: string; id: string }[]).map(
        (m) => `${m.product_id}\u0000${m.id}`,
      ),
    ),
  };
}
