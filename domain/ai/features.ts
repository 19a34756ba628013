// Every AI feature and the tools it may use (SPEC §8 AI copilot). The allow-list is the only
// place a feature's tools are granted: the platform (workers/ai/run.ts) offers the model only the
// listed tools, and refuses — logged, never run — any tool_use outside the list, whatever the
// model or a prompt asks for.

export const AI_FEATURES = {
  /** The settings page's "test the key": one short call, no tools. */
  key_check: [],
  pricing_architect: [
    "ask_clarification",
    "propose_setup",
    "navigate_user",
    "create_entities",
    "prefill_wizard",
    "update_steps",
    "estimate_cost",
  ],
  brand_extract: [],
  plan_comparator: [],
  docs_humanizer: [],
  /** A case in words (the signal explainer): it words Aforo's figures and proposes nothing
   * itself — the next rung comes from the ladder. */
  signal_explainer: [],
  smart_onboarding: ["navigate_user"],
  usage_advisor: ["estimate_cost"],
} as const satisfies Record<string, readonly string[]>;

export type AiFeature = keyof typeof AI_FEATURES;

export const AI_FEATURE_NAMES = Object.keys(AI_FEATURES) as [AiFeature, ...AiFeature[]];

export const toolAllowed = (feature: AiFeature, tool: string): boolean =>
  (AI_FEATURES[feature] as readonly string[]).includes(tool);
