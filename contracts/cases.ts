// What the case routes serve (SPEC §12; issue 12 item 3): GET /api/cases, GET /api/cases/:id,
// POST /api/cases/:id/resolve|reopen, POST /api/cases/:id/explain (issue 18 item 4). Type-only:
// the API's zod schemas must produce exactly these (workers/contracts-check.ts).

import type { Action, Rung, Signal, Step } from "./signals";

export type CaseStatus = "open" | "resolved";

/** Why a case closed: an operator resolved it, or it closed itself. */
export type CaseCloseReason = "operator" | "condition_cleared" | "period_closed" | "expired";

export interface CaseResolution {
  at: string;
  /** "operator:<key id>" or "system". */
  by: string;
  reason: CaseCloseReason;
  /** The reason in words (the operator's note, or what closed it). */
  note: string | null;
}

/** Signals grouped into one story: one open case per customer, detector, scope and period. */
export interface Case {
  id: string;
  detector: string;
  customer: string;
  /** What the case is about: "chat-api", "chat-api/input_tokens · spike", "*" (the customer). */
  scope: string;
  product: string | null;
  metric: string | null;
  direction: string | null;
  /** The billing period of period-bound detectors (margin, pacing); null for episodes. */
  period: { start: string; end: string } | null;
  /** The span of its signals' windows. */
  window: { start: string; end: string };
  /** The level reached, in words ("L2", "100 %", "3 h", "−62 %"), and as a number. */
  level: string;
  level_rank: number;
  /** The largest magnitude of its signals (the detector's own unit). */
  magnitude: number;
  signal_count: number;
  latest_signal_id: string | null;
  status: CaseStatus;
  opened_at: string;
  last_signal_at: string;
  updated_at: string;
  resolution: CaseResolution | null;
}

/** Where a rung of a case's ladder stands (`not_reached`: no signal of the case is there yet). */
export type LadderStepState =
  | "executed"
  | "no_channel"
  | "queued"
  | "reversed"
  | "failed"
  | "not_reached";

/** One rung of a case's ladder. */
export interface CaseLadderStep {
  /** The detector's ladder key (L1, "80", "spike"…), null for a one-rung detector. */
  key: string | null;
  label: string;
  rung: Rung;
  /** What makes the case reach this step, with the policy's threshold. */
  trigger: string;
  state: LadderStepState;
  /** The policy runs this rung by itself; otherwise it waits, queued, for an operator. */
  automatic: boolean;
  reached_at: string | null;
  signal_ids: string[];
  action_ids: string[];
}

/** What happened to the alerts of a case's signals, by delivery status. */
export interface CaseDeliveries {
  pending: number;
  delivered: number;
  dead: number;
  canceled: number;
}

/** GET /api/cases/:id. */
export interface CaseDetail extends Case {
  ladder: CaseLadderStep[];
  signals: Signal[];
  actions: Action[];
  trail: Step[];
  deliveries: CaseDeliveries;
  /** The stored source events of its signals (contracts/events.ts StoredEvent), as loose records. */
  source_events: Record<string, unknown>[];
}

/** GET /api/cases/summary: the open-case budget. */
export interface CaseSummary {
  open: number;
  open_customers: number;
  customers: number;
  /** Open cases per 100 customers of the tenant. */
  open_per_100_customers: number;
}

/** A figure of an explanation: the detector's own number, formatted. */
export interface ExplanationFigure {
  label: string;
  value: string;
}

/** POST /api/cases/:id/explain: the case in words, its numbers and the proposed next rung. */
export interface CaseExplanation {
  case_id: string;
  headline: string;
  what_happened: string[];
  figures: ExplanationFigure[];
  arithmetic: string[];
  evidence: {
    signals: number;
    source_events: number;
    first_event_at: string | null;
    last_event_at: string | null;
    samples: {
      id: string;
      time: string;
      metric: string;
      quantity: string;
      revenue: string;
      cost: string;
    }[];
  };
  next_step: {
    rung: Rung | null;
    key: string | null;
    label: string | null;
    trigger: string | null;
    proposal: "execute_queued" | "queued_when_triggered" | "automatic_when_triggered" | "none";
    /** For execute_queued: the queued action an operator may execute. */
    action_id: string | null;
    why: string;
  };
  narrative: string;
  source: "ai" | "template";
  note: string | null;
}
