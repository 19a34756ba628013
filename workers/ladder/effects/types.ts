import type { PolicyDocument } from "../../../domain/ladder";
import type { ActionDetail, ActionRecord } from "../../../store/actions";

// One handler per rung (SPEC §6): what executing the action does, and what reversing it undoes.
// A handler returns what the step records on the action (merged into its detail, and the step's
// own detail on the trail), or why the effect cannot apply (the step then fails, and the
// operator is told why). It never answers HTTP: the routes do.

export interface EffectContext {
  env: Env;
  tenantId: string;
  action: ActionRecord;
  /** The effective policy of the action's customer and product. */
  policy: PolicyDocument;
}

/** `state`: the state the step records when it is not `executed` (an ALERT that had no channel
 * to go to is `no_channel`). */
export type EffectOutcome =
  | { ok: true; detail: ActionDetail; state?: "no_channel" }
  | { ok: false; detail: string };

export interface EffectHandler {
  execute(ctx: EffectContext): Promise<EffectOutcome>;
  reverse(ctx: EffectContext): Promise<EffectOutcome>;
}

export const applied = (detail: ActionDetail): EffectOutcome => ({ ok: true, detail });
export const noChannel = (detail: ActionDetail): EffectOutcome => ({
  ok: true,
  detail,
  state: "no_channel",
});
export const cannotApply = (detail: string): EffectOutcome => ({ ok: false, detail });
