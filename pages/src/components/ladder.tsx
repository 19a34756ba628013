// The action ladder as the signals list and the cases page draw it: the customer's gate tier,
// the rungs in order (the active ones with their state), each rung's Execute / Reverse, and the
// confirmation that says what the step does before it runs.

import type { ComponentChildren } from "preact";
import { useEffect, useMemo, useState } from "preact/hooks";
import type { DetectorsResponse } from "../../../contracts/detectors";
import type { Action, Step } from "../../../contracts/signals";
import { type ApiClient, useApi, withQuery } from "../lib/api";
import { words } from "../lib/format";
import { usePermit } from "../lib/me";
import { useQuery } from "../lib/use-query";
import { effectOf, gateTierOf, ResolveDialog, rungLabel, useOperatorStep } from "./signal-parts";
import { ConfirmDialog } from "./ui";

/** A step an operator asked for: execute or reverse these actions of one rung. */
export interface PendingStep {
  verb: "execute" | "reverse";
  rung: string;
  actions: readonly Action[];
}

/** Runs the step's actions one by one; what the last one now is, in words. */
export async function runStep(api: ApiClient, pending: PendingStep): Promise<string> {
  let last: Action | null = null;
  for (const action of pending.actions) {
    last = await api.post<Action>(`/api/actions/${encodeURIComponent(action.id)}/${pending.verb}`);
  }
  return last ? `${rungLabel(last.rung)} is now ${words(last.state)}.` : "";
}

/** The gate tier in force for the customer, from their actions. */
export function GateTier(props: { customer: string; tier: string | null }) {
  // A tenant-wide finding (customer "*": a budget alert) gates no one.
  if (props.customer === "*") return null;
  return (
    <p class="muted">
      Gate for {props.customer}: <strong data-testid="gate-tier">{props.tier ?? "…"}</strong> (from
      the actions in force)
    </p>
  );
}

export function Ladder(props: { testid: string; children: ComponentChildren }) {
  return (
    <ol class="ladder" data-testid={props.testid}>
      {props.children}
    </ol>
  );
}

/** One rung: its name, then whatever the view says about it (a state, a trigger, buttons). An
 * active rung (reached, executed, queued…) is drawn in its state's colour. */
export function Rung(props: {
  rung: string;
  name: ComponentChildren;
  /** The state of the rung's action; null when it is not active. */
  state: string | null;
  step?: string;
  children?: ComponentChildren;
}) {
  return (
    <li
      class={props.state ? `rung rung-active state-${props.state}` : "rung"}
      data-step={props.step}
      data-rung={props.rung}
    >
      <span class="rung-name">{props.name}</span>
      {props.children}
    </li>
  );
}

/** A rung's buttons: Execute what is waiting, Reverse what is in force; disabled, saying why,
 * for a role that may not work cases. */
export function RungButtons(props: {
  onExecute?: (() => void) | undefined;
  onReverse?: (() => void) | undefined;
  refused?: string | null;
}) {
  const refused = props.refused ?? undefined;
  return (
    <span class="rung-actions">
      {props.onExecute ? (
        <button
          type="button"
          class="btn btn-primary btn-small"
          disabled={Boolean(refused)}
          title={refused}
          onClick={props.onExecute}
        >
          Execute
        </button>
      ) : null}
      {props.onReverse ? (
        <button
          type="button"
          class="btn btn-small"
          disabled={Boolean(refused)}
          title={refused}
          onClick={props.onReverse}
        >
          Reverse
        </button>
      ) : null}
    </span>
  );
}

/** The confirmation before a step runs: what it does, that the trail records it. */
export function RungDialog(props: {
  pending: PendingStep | null;
  customer: string;
  busy: boolean;
  error: string | null;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const p = props.pending;
  return (
    <ConfirmDialog
      open={p !== null}
      title={
        p
          ? `${p.verb === "execute" ? "Execute" : "Reverse"} ${rungLabel(p.rung)} for ${props.customer}?`
          : ""
      }
      confirmLabel={p?.verb === "execute" ? "Execute" : "Reverse"}
      danger={p?.verb === "execute" && ["THROTTLE", "BLOCK"].includes(p.rung)}
      busy={props.busy}
      error={props.error}
      onConfirm={props.onConfirm}
      onCancel={props.onCancel}
    >
      <p>{p ? effectOf(p.rung, p.verb, props.customer) : null}</p>
      <p class="muted">
        The step is recorded in the orchestration_actions trail and the audit log under your name
        (or your API token's id).
      </p>
    </ConfirmDialog>
  );
}

/** What the list beside it gives a signal's or a case's panel. */
export interface ItemPanelProps {
  id: string;
  /** After a step: the list reloads. */
  onChanged: () => void;
  registry: DetectorsResponse | null | undefined;
}

/** What a signal's or a case's panel runs: the item and its customer's actions (for the gate
 * tier), resolve (with a note) / reopen, and execute / reverse behind a confirmation. Every step
 * reloads the item, the customer's actions and the list beside the panel. */
export function useLadderPanel<T extends { customer: string; status: string }>(props: {
  /** "/api/signals" or "/api/cases". */
  base: string;
  id: string;
  /** "signal" or "case", for the message after a resolve or reopen. */
  noun: string;
  onChanged: () => void;
}) {
  const api = useApi();
  const detail = useQuery<T>(`${props.base}/${encodeURIComponent(props.id)}`);
  const customer = (detail.data as T | undefined)?.customer ?? null;
  const trail = useQuery<{ data: Step[] }>(
    customer ? withQuery("/api/actions", { customer, limit: 500 }) : null,
  );
  const [pending, setPending] = useState<PendingStep | null>(null);
  const permit = usePermit("cases:work");
  // Resolving takes an optional note in a dialog; reopening is one click (it can be undone).
  const [resolving, setResolving] = useState(false);
  const [note, setNote] = useState("");
  const op = useOperatorStep(() => {
    detail.reload();
    trail.reload();
    props.onChanged();
  });
  // A new selection starts clean.
  useEffect(() => {
    op.setDone(null);
    setPending(null);
    setResolving(false);
  }, [props.id]);

  const setStatus = (verb: "resolve" | "reopen") =>
    op.perform(async () => {
      const trimmed = note.trim();
      const body = verb === "resolve" && trimmed ? { note: trimmed } : undefined;
      const item = await api.post<T>(`${props.base}/${encodeURIComponent(props.id)}/${verb}`, body);
      setResolving(false);
      setNote("");
      return `The ${props.noun} is now ${item.status}.`;
    });
  const run = () =>
    op.perform(async () => {
      if (!pending) return "";
      const message = await runStep(api, pending);
      setPending(null);
      return message;
    });
  /** The click that asks to run a step; undefined when there is nothing to run. */
  const ask = (verb: PendingStep["verb"], rung: string, actions: readonly Action[]) =>
    actions.length > 0
      ? () => {
          op.setError(null);
          setPending({ verb, rung, actions });
        }
      : undefined;
  const tier = useMemo(() => (trail.data ? gateTierOf(trail.data.data) : null), [trail.data]);

  return {
    detail,
    trail,
    tier,
    /** Why the signed-in role may not resolve, reopen, execute or reverse (null: it may). */
    refused: permit.reason,
    busy: op.busy,
    error: op.error,
    done: op.done,
    pending,
    ask,
    run,
    cancelStep: () => setPending(null),
    resolving,
    startResolve: () => {
      op.setError(null);
      setResolving(true);
    },
    cancelResolve: () => setResolving(false),
    resolve: () => setStatus("resolve"),
    reopen: () => setStatus("reopen"),
    note,
    setNote,
  };
}

export type LadderPanel = ReturnType<typeof useLadderPanel>;

/** The panel's two confirmations: run a step, resolve with a note. */
export function PanelDialogs(props: {
  panel: LadderPanel;
  customer: string;
  resolveTitle: string;
  /** What resolving does, in the resolve dialog. */
  children: ComponentChildren;
}) {
  const p = props.panel;
  return (
    <>
      <RungDialog
        pending={p.pending}
        customer={props.customer}
        busy={p.busy}
        error={p.error}
        onConfirm={p.run}
        onCancel={p.cancelStep}
      />
      <ResolveDialog
        open={p.resolving}
        title={props.resolveTitle}
        busy={p.busy}
        error={p.error}
        note={p.note}
        onNote={p.setNote}
        onConfirm={p.resolve}
        onCancel={p.cancelResolve}
      >
        {props.children}
      </ResolveDialog>
    </>
  );
}
