// What the signal and action routes serve (SPEC §5, §6, §11): GET /api/signals, /api/signals/:id,
// POST /api/signals/:id/resolve|reopen, GET /api/actions, POST /api/actions/:id/execute|reverse.
// Type-only: the API's zod schemas must produce exactly these (workers/contracts-check.ts).

/** A rung of the action ladder (domain/ladder.ts RUNGS). */
export type Rung = "ALERT" | "THROTTLE" | "BLOCK" | "extend_trial" | "apply_coupon" | "escalate";

/** Where an action stands; a trail step records the state it moved to. */
export type ActionState = "queued" | "executed" | "reversed" | "failed" | "no_channel";

export type SignalStatus = "open" | "resolved";

/** A signal's one action at its rung (`Action` in the OpenAPI document). */
export interface Action {
  id: string;
  signal_id: string;
  customer: string;
  product: string | null;
  rung: Rung;
  state: ActionState;
  detail: Record<string, unknown>;
  created_at: string;
  updated_at: string;
}

/** One row of the orchestration_actions trail (`OrchestrationStep`). */
export interface Step {
  id: number;
  action_id: string;
  signal_id: string;
  customer: string;
  rung: Rung;
  step: ActionState;
  actor: string;
  detail: Record<string, unknown>;
  at: string;
}

/** Who closed a signal, when and why. */
export interface SignalResolution {
  at: string;
  by: string;
  note: string | null;
}

/** A stored signal with its resolution and its action (`Signal`). */
export interface Signal {
  id: string;
  idempotency_key: string;
  /** A registered detector's name (e.g. "MarginGuard"). */
  detector: string;
  customer: string;
  product: string | null;
  metric: string | null;
  window: { start: string; end: string };
  magnitude: number;
  direction: string | null;
  details: Record<string, unknown>;
  source_event_ids: string[];
  status: SignalStatus;
  created_at: string;
  resolution: SignalResolution | null;
  action: Action | null;
}

/** GET /api/signals/:id: the signal with its source events and its action's trail. */
export interface SignalDetail extends Signal {
  /** The stored source events (contracts/events.ts StoredEvent), as loose records. */
  source_events: Record<string, unknown>[];
  trail: Step[];
}
