// One filter bar for every list page: a <form> of labelled fields (FilterSelect in ./ui, the
// text and segmented fields here) whose values live in the URL (lib/url-state.ts): each field
// reports a change and the page navigates. Submitting the form never reloads the page.

import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";

export function FilterBar(props: {
  /** What is filtered, for screen readers ("Filter cases"). */
  label: string;
  children: ComponentChildren;
  /** Inside a header or a panel's tools: no space below. */
  inline?: boolean;
  /** "Clear filters" when any filter is set. */
  onClear?: (() => void) | null;
}) {
  return (
    <form
      class="filters"
      aria-label={props.label}
      style={props.inline ? { marginBottom: 0 } : undefined}
      onSubmit={(e) => e.preventDefault()}
    >
      {props.children}
      {props.onClear ? (
        <button type="button" class="btn" onClick={props.onClear}>
          Clear filters
        </button>
      ) : null}
    </form>
  );
}

/** A text field (an id, a search). It commits when the value changes (Enter or leaving the
 * field), or, with `apply`, from a draft when the Apply button is pressed (or Enter). A null
 * value is the empty field; a blank entry commits null. */
export function TextFilter(props: {
  label: string;
  name: string;
  value: string | null;
  placeholder?: string;
  apply?: boolean;
  onCommit: (v: string | null) => void;
}) {
  const [draft, setDraft] = useState(props.value ?? "");
  // The URL moved (back, a link, Clear filters): the draft follows it.
  useEffect(() => setDraft(props.value ?? ""), [props.value]);
  const commit = (raw: string) => props.onCommit(raw.trim() || null);
  if (!props.apply)
    return (
      <label class="field">
        <span>{props.label}</span>
        <input
          name={props.name}
          placeholder={props.placeholder}
          value={props.value ?? ""}
          onChange={(e) => commit((e.currentTarget as HTMLInputElement).value)}
        />
      </label>
    );
  return (
    <div class="field-form">
      <label class="field">
        <span>{props.label}</span>
        <input
          name={props.name}
          placeholder={props.placeholder}
          value={draft}
          onInput={(e) => setDraft((e.currentTarget as HTMLInputElement).value)}
          onKeyDown={(e) => {
            if (e.key === "Enter") commit(draft);
          }}
        />
      </label>
      <button type="button" class="btn" onClick={() => commit(draft)}>
        Apply
      </button>
    </div>
  );
}

/** One choice among a few, as pressed buttons (a window of days). */
export function SegmentedFilter<const V extends string>(props: {
  label: string;
  value: V;
  options: readonly { value: V; label: string }[];
  onChange: (v: V) => void;
}) {
  return (
    <fieldset class="segmented">
      <legend class="sr-only">{props.label}</legend>
      {props.options.map((o) => (
        <button
          key={o.value}
          type="button"
          class={props.value === o.value ? "active" : undefined}
          aria-pressed={props.value === o.value}
          onClick={() => props.onChange(o.value)}
        >
          {o.label}
        </button>
      ))}
    </fieldset>
  );
}
