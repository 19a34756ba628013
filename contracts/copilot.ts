// What the copilot's deterministic routes serve (SPEC §8 AI copilot, §12): the plain-English
// pricing parser (POST /api/copilot/pricing/parse) and the price preview (POST
// /api/pricing/preview). Type-only; workers/contracts-check.ts holds the routes' zod schemas to
// these shapes.

import type { BillingInterval, MetricAggregation, PlanComponent } from "./catalog";

/** A metric the proposal needs, in the shape POST /api/products/:id/metrics takes. */
export interface ProposedMetric {
  id: string;
  unit: string;
  aggregation: MetricAggregation;
}

/** A component the text describes but cannot be priced until a clarification is answered (a
 * "per-token pricing" without its price): the known fields, and the clarification it waits
 * for. Never part of `components`, so a proposal's plan is always accepted as it is. */
export interface PendingComponent {
  clarification: string;
  /** The fields still missing, e.g. ["unit_price"] or ["mode"]. */
  missing: string[];
  component: { type: PlanComponent["type"]; metric?: string } & Record<string, unknown>;
}

/** A plan in the shape POST /api/plans takes (minus `product`, which the proposal names). */
export interface ProposedPlan {
  id: string;
  name: string;
  currency: string;
  period: BillingInterval;
  components: PlanComponent[];
  pending: PendingComponent[];
}

export interface PricingProposal {
  product?: { id: string; name: string };
  metrics: ProposedMetric[];
  plans: ProposedPlan[];
  /** How the text was expressed with the engine's components, and what was assumed. */
  notes: string[];
}

/** A question instead of a guess: which words were unclear and what the answers could be. */
export interface PricingClarification {
  id: string;
  /** The words of the text it is about. */
  word: string;
  question: string;
  choices: string[];
}

export interface PricingParseResult {
  proposal: PricingProposal;
  clarifications: PricingClarification[];
  /** 0–1: the share of the text recognised, lowered by each open clarification. */
  confidence: number;
}

/** One line of a preview (the engine's ChargeLine with exact decimal strings). */
export interface PreviewLine {
  component_index: number | null;
  type: string;
  metric?: string;
  quantity: string;
  amount: string;
  description: string;
}

export interface PricingPreview {
  currency: string;
  period: BillingInterval;
  /** Rounded to the currency's minor unit, like an invoice. */
  total: string;
  /** Flat (prorated) + usage after volume discounts, before the minimum top-up. */
  subtotal: string;
  minimum_topup: string;
  lines: PreviewLine[];
  /** Usage sent for metrics the components do not price (ignored, as the rater does). */
  unpriced_metrics: string[];
}
