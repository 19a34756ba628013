// The action ladder (SPEC §6): each new signal gets one action at its rung, queued or executed
// by policy; operators execute and reverse by hand. Every step lands in orchestration_actions.
// Effects are real (./effects, one handler per rung): THROTTLE and BLOCK change the customer's
// gate tier in its actor (BLOCK also suspends its subscriptions), extend_trial moves the trial
// end, apply_coupon records a coupon, escalate e-mails the customer's account owner.
// - intake.ts: where every new signal enters (its action, deliveries and case; then its step);
// - record.ts: a new signal's rung and the statements recording it with its queued action;
// - orchestrate.ts: execute / reverse, with state checks and the trail;
// - switch-on.ts: a policy change that makes a rung automatic runs what waits at it.
export { actionId, hashId, signalId } from "./ids";
export { newSignalStatements, recordTenantSignals, runLadderSteps } from "./intake";
export { type ActionOutcome, executeAction, reverseAction } from "./orchestrate";
export { decideRung, signalStatements } from "./record";
export { runNewlyAutomatic } from "./switch-on";
