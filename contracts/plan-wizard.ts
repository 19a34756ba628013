// What the dashboard's plan wizard (/catalog/plans/new) can be filled with from outside: the
// Pricing Architect hands it a proposal of POST /api/copilot/pricing/parse (SPEC §12), a link
// carries one as `?prefill=<base64url JSON>`. One plan at a time, in the shapes the catalog
// routes take, so what the wizard saves is exactly what was proposed unless the operator edits
// it. Type-only, like the rest of contracts/; pages/src/lib/plan-wizard.ts reads and checks it.

import type { BillingInterval, PlanComponent } from "./catalog";
import type { PendingComponent, ProposedMetric } from "./copilot";

/** The plan to create, as POST /api/plans takes it (minus `product`, named beside it). */
export interface PlanWizardPlan {
  id: string;
  name: string;
  currency: string;
  period: BillingInterval;
  trial_days?: number;
  components: PlanComponent[];
  /** Components a proposal could not price yet (their clarification unanswered): shown to the
   * operator to finish by hand, never saved as they are. */
  pending?: PendingComponent[];
}

export interface PlanWizardDraft {
  /** An existing product of the tenant (by id) or a new one; absent: the operator picks. */
  product?: { id: string; name: string };
  /** Metrics the plan meters: the product's existing ones are used as they are, others are
   * created on it. */
  metrics: ProposedMetric[];
  plan: PlanWizardPlan;
  /** Sample usage for the live price preview: quantity per metric id (decimal strings). */
  usage?: Record<string, string>;
}
