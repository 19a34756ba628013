// One pager for every paged list: a back button, where you are, a forward button. Both buttons
// always stand (disabled at either end), so the controls do not move as you page.

import type { ComponentChildren } from "preact";

export interface PagerStep {
  label: string;
  disabled?: boolean;
  onClick: () => void;
}

export function Pager(props: {
  /** What is paged, for screen readers ("Pages of cases"). */
  label: string;
  back: PagerStep;
  forward: PagerStep;
  /** Where the reader is ("Page 2", "120 rows"). */
  status?: ComponentChildren;
  testid?: string;
}) {
  const step = (s: PagerStep) => (
    <button type="button" class="btn btn-small" disabled={s.disabled} onClick={s.onClick}>
      {s.label}
    </button>
  );
  return (
    <nav class="pager" aria-label={props.label} data-testid={props.testid}>
      {step(props.back)}
      {props.status !== undefined ? (
        <span class="muted" style={{ alignSelf: "center" }}>
          {props.status}
        </span>
      ) : null}
      {step(props.forward)}
    </nav>
  );
}
