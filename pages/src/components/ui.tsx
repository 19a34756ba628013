// Small shared pieces: page header, the loading / empty / error states every view shows, and a
// confirmation dialog on the native <dialog> (focus trap, Escape to cancel, for free).

import type { ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";
import { ApiError } from "../lib/api";
import type { QueryResult } from "../lib/use-query";

export function PageHeader(props: {
  title: string;
  subtitle?: ComponentChildren;
  actions?: ComponentChildren;
}) {
  return (
    <div class="page-header">
      <div>
        <h1 id="page-title">{props.title}</h1>
        {props.subtitle ? <p class="subtitle">{props.subtitle}</p> : null}
      </div>
      {props.actions ? <div class="page-actions">{props.actions}</div> : null}
    </div>
  );
}

export function Loading(props: { label?: string }) {
  return (
    <div class="state state-loading" role="status" aria-live="polite">
      <span class="spinner" aria-hidden="true" />
      {props.label ?? "Loading…"}
    </div>
  );
}

export function Empty(props: { title: string; children?: ComponentChildren }) {
  return (
    <div class="state state-empty">
      <strong>{props.title}</strong>
      {props.children ? <div>{props.children}</div> : null}
    </div>
  );
}

export function ErrorState(props: { error: Error; onRetry?: () => void; what?: string }) {
  const e = props.error;
  const status = e instanceof ApiError && e.status ? ` (HTTP ${e.status})` : "";
  return (
    <div class="state state-error" role="alert">
      <strong>
        {props.what ? `Could not load ${props.what}` : "Something went wrong"}
        {status}
      </strong>
      <div>{e.message}</div>
      {e instanceof ApiError && e.errors.length > 0 ? (
        <ul>
          {e.errors.map((f) => (
            <li key={f.path}>
              <code>{f.path}</code>: {f.message}
            </li>
          ))}
        </ul>
      ) : null}
      {props.onRetry ? (
        <button type="button" class="btn" onClick={props.onRetry}>
          Try again
        </button>
      ) : null}
    </div>
  );
}

/** Loading, error or the content for a query's data. */
export function QueryView<T>(props: {
  q: QueryResult<T>;
  what: string;
  children: (data: T) => ComponentChildren;
}) {
  const { q } = props;
  if (q.error) return <ErrorState error={q.error} onRetry={q.reload} what={props.what} />;
  if (q.data === undefined) return <Loading label={`Loading ${props.what}…`} />;
  return <>{props.children(q.data)}</>;
}

export function ConfirmDialog(props: {
  open: boolean;
  title: string;
  children: ComponentChildren;
  confirmLabel: string;
  danger?: boolean;
  busy?: boolean;
  error?: string | null;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (props.open && !d.open) d.showModal();
    if (!props.open && d.open) d.close();
  }, [props.open]);
  return (
    <dialog
      ref={ref}
      class="dialog"
      aria-labelledby="dialog-title"
      onCancel={(e) => {
        e.preventDefault();
        props.onCancel();
      }}
    >
      <form
        method="dialog"
        onSubmit={(e) => {
          e.preventDefault();
          props.onConfirm();
        }}
      >
        <h2 id="dialog-title">{props.title}</h2>
        <div class="dialog-body">{props.children}</div>
        {props.error ? (
          <p class="form-error" role="alert">
            {props.error}
          </p>
        ) : null}
        <div class="dialog-actions">
          <button type="button" class="btn" onClick={props.onCancel} disabled={props.busy}>
            Cancel
          </button>
          <button
            type="submit"
            class={`btn ${props.danger ? "btn-danger" : "btn-primary"}`}
            disabled={props.busy}
          >
            {props.busy ? "Working…" : props.confirmLabel}
          </button>
        </div>
      </form>
    </dialog>
  );
}

export function Badge(props: { tone?: string; children: ComponentChildren; title?: string }) {
  return (
    <span class={`badge badge-${props.tone ?? "neutral"}`} title={props.title}>
      {props.children}
    </span>
  );
}

/** A labelled <select> whose first option means "any". */
export function FilterSelect(props: {
  label: string;
  value: string | null;
  options: readonly (string | { value: string; label: string })[];
  anyLabel?: string;
  onChange: (v: string | null) => void;
  name?: string;
}) {
  return (
    <label class="field">
      <span>{props.label}</span>
      <select
        name={props.name}
        value={props.value ?? ""}
        onChange={(e) => props.onChange((e.currentTarget as HTMLSelectElement).value || null)}
      >
        {props.anyLabel !== undefined ? <option value="">{props.anyLabel}</option> : null}
        {props.options.map((o) => {
          const v = typeof o === "string" ? o : o.value;
          const l = typeof o === "string" ? o : o.label;
          return (
            <option key={v} value={v}>
              {l}
            </option>
          );
        })}
      </select>
    </label>
  );
}

/** Why the controls beside it are disabled, when the signed-in role lacks their permission. */
export function Refused(props: { reason: string | null; what?: string }) {
  if (!props.reason) return null;
  return (
    <p class="refused-note" role="note" data-testid="refused">
      {props.what ? `${props.what}: ` : ""}
      {props.reason}.
    </p>
  );
}
