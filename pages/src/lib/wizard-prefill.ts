// The plan wizard's prefill hand-off: the Pricing Architect (or anything else in the dashboard)
// calls prefillWizard(draft) with a PlanWizardDraft (contracts/plan-wizard.ts), the wizard opens
// filled with it and highlights what it set. A link does the same with `?prefill=`
// (lib/plan-wizard.ts encodePrefill).

import { type PlanWizardDraft, WIZARD_PATH } from "./plan-wizard";
import { navigate } from "./router";

let handedIn: PlanWizardDraft | null = null;
const prefillListeners = new Set<(draft: PlanWizardDraft) => void>();

/** Opens the plan wizard filled with `draft` (the Pricing Architect's proposal): an open wizard
 * takes it at once, otherwise the wizard takes it when it mounts. */
export function prefillWizard(draft: PlanWizardDraft): void {
  handedIn = draft;
  for (const fn of prefillListeners) fn(draft);
  navigate(WIZARD_PATH);
}

/** For the wizard: the draft handed in before it mounted (taken once), and later hand-ins. */
export function takePrefill(onLater: (draft: PlanWizardDraft) => void): {
  first: PlanWizardDraft | null;
  stop: () => void;
} {
  const first = handedIn;
  handedIn = null;
  const listener = (draft: PlanWizardDraft) => {
    handedIn = null;
    onLater(draft);
  };
  prefillListeners.add(listener);
  return { first, stop: () => prefillListeners.delete(listener) };
}
