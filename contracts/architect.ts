// What POST /api/copilot/architect streams (SPEC §8 AI copilot, issue 18 §2): the Pricing
// Architect's run as Server-Sent Events, one JSON object per event's data. Type-only; the route
// (workers/routes/copilot-architect.ts) writes exactly these and the dashboard's panel
// (pages/src/components/pricing-architect.tsx) reads them.

import type { Problem } from "./common";

export type ArchitectMode = "guide" | "prefill" | "auto_create";

export type ArchitectToolName =
  | "ask_clarification"
  | "propose_setup"
  | "navigate_user"
  | "create_entities"
  | "prefill_wizard"
  | "update_steps"
  | "estimate_cost";

export interface ArchitectRequestBody {
  text: string;
  mode: ArchitectMode;
  /** The earlier messages of this conversation, oldest first. */
  conversation?: { role: "user" | "assistant"; text: string }[];
}

/** Who wrote the run: the model through the AI platform, or the deterministic engine. */
export type ArchitectSource = "ai" | "deterministic";

export interface ArchitectStep {
  id: string;
  label: string;
  status: "pending" | "active" | "done";
}

/** What the dashboard does for the run: open a page, fill the plan wizard, show the steps. */
export type ArchitectAction =
  | { type: "navigate"; path: string; reason: string }
  | { type: "prefill"; path: string; draft: unknown }
  | { type: "steps"; steps: ArchitectStep[] };

export interface ArchitectUsage {
  input_tokens: number;
  output_tokens: number;
  /** USD, a decimal string. */
  cost_usd: string;
}

export type ArchitectEvent =
  | {
      event: "start";
      data: {
        mode: ArchitectMode;
        source: ArchitectSource;
        /** Why the deterministic engine runs (no key, a key that does not open). */
        reason?: string;
      };
    }
  | { event: "text"; data: { delta: string } }
  /** `name` is what the model asked for: a tool outside the mode's list is shown, refused. */
  | { event: "tool_call"; data: { id: string; name: string; input: unknown } }
  | {
      event: "tool_result";
      data: { id: string; name: string; ok: boolean; output?: unknown; problem?: Problem };
    }
  | { event: "action"; data: ArchitectAction }
  | {
      event: "done";
      data: { source: ArchitectSource; mode: ArchitectMode; usage?: ArchitectUsage };
    }
  /** `ai_cap_reached` carries the cap it met (USD, a decimal string). */
  | { event: "error"; data: Problem & { cap_usd?: string } };
