// What the signals list (views/signals.tsx) and the cases page (views/cases.tsx) share: the
// detector registry and its wording (labels, rungs, magnitudes), the cells of a signal's row,
// the filters by detector and status, the source-event and trail tables, resolve / reopen, and
// the one operator step at a time a panel runs (busy, its error, what it did).

import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import type { DetectorInfo, DetectorsResponse } from "../../../contracts/detectors";
import type { Action, Signal, Step } from "../../../contracts/signals";
import { ApiError } from "../lib/api";
import { dateTime, decimal, money, percent, signedPercent, span, words } from "../lib/format";
import { actorLabel } from "../lib/me";
import { useQuery } from "../lib/use-query";
import { DataTable } from "./data-table";
import { Badge, ConfirmDialog, FilterSelect } from "./ui";

/** The detector registry (GET /api/detectors): labels, rungs, policy fields and wording. Fixed
 * for a deployment, so every view shares one answer. */
export function useDetectors() {
  return useQuery<DetectorsResponse>("/api/detectors");
}

/** A detector's entry in the registry by name, if the registry is loaded and knows it. */
export const detectorInfo = (
  registry: DetectorsResponse | null | undefined,
  name: string,
): DetectorInfo | undefined => registry?.data.find((d) => d.name === name);

/** The rungs a signal of this detector may take (every gate rung when unknown). */
export const rungsOf = (info: DetectorInfo | undefined) =>
  info?.ladder.rungs ?? ["ALERT", "THROTTLE", "BLOCK"];

export const RUNG_LABELS: Record<string, string> = {
  ALERT: "Alert",
  THROTTLE: "Throttle",
  BLOCK: "Block",
  extend_trial: "Extend trial",
  apply_coupon: "Apply coupon",
  escalate: "Escalate",
};

export const rungLabel = (rung: string) => RUNG_LABELS[rung] ?? rung;

const STATE_TONES: Record<string, string> = {
  queued: "warn",
  executed: "bad",
  reversed: "neutral",
  failed: "bad",
};

/** Executed gate rungs are the serious ones; an executed alert only notified. */
export function stateTone(rung: string, state: string): string {
  if (state === "executed") return rung === "THROTTLE" || rung === "BLOCK" ? "bad" : "info";
  return STATE_TONES[state] ?? "neutral";
}

/** What executing or reversing a rung does, in the operator's words. */
export function effectOf(rung: string, verb: "execute" | "reverse", customer: string): string {
  if (verb === "reverse") {
    switch (rung) {
      case "THROTTLE":
        return `The gate goes back to ${customer}'s normal rate.`;
      case "BLOCK":
        return `The gate lets ${customer} through again and their suspended subscriptions resume.`;
      case "extend_trial":
        return `${customer}'s trial goes back to its original end.`;
      case "apply_coupon":
        return `The coupon is removed from ${customer}.`;
      default:
        return "The action is marked as reversed in the trail.";
    }
  }
  switch (rung) {
    case "ALERT":
      return `Aforo notifies your channels (Slack, email, webhook) about ${customer} now.`;
    case "THROTTLE":
      return `The gate (POST /v1/gate) holds ${customer} to the policy's throttled rate until you reverse it.`;
    case "BLOCK":
      return `The gate refuses every call from ${customer} and their subscriptions are suspended until you reverse it.`;
    case "extend_trial":
      return `${customer}'s trial is extended by the policy's number of days.`;
    case "apply_coupon":
      return `The policy's coupon is applied to ${customer}'s subscription.`;
    case "escalate":
      return `${customer}'s account owner (metadata.account_owner, else the policy's escalate_to) gets an e-mail about the signal.`;
    default:
      return "The action runs now.";
  }
}

/** The gate tier in force for a customer from their trail: the latest step of each action. */
export function gateTierOf(steps: Step[]): "normal" | "throttled" | "blocked" {
  const latest = new Map<string, Step>();
  for (const s of steps) {
    const prev = latest.get(s.action_id);
    if (!prev || s.id > prev.id) latest.set(s.action_id, s);
  }
  const inForce = [...latest.values()].filter((s) => s.step === "executed").map((s) => s.rung);
  if (inForce.includes("BLOCK")) return "blocked";
  if (inForce.includes("THROTTLE")) return "throttled";
  return "normal";
}

/** A signal's magnitude in its detector's own terms, with the context that explains it: the
 * detector's display templates from the registry. */
export function magnitudeText(
  s: Pick<Signal, "detector" | "magnitude" | "details">,
  currency = "USD",
  info?: DetectorInfo,
): { main: string; sub: string | null } {
  if (!info) return { main: decimal(s.magnitude, 2), sub: null };
  const fill = (template: string | null) =>
    template === null ? null : fillTemplate(template, s, currency);
  return {
    main: fill(info.display.main) ?? decimal(s.magnitude, 2),
    sub: fill(info.display.sub) ?? info.display.sub_fallback,
  };
}

/** `{magnitude:fmt}` and `{details.x:fmt}` filled in (contracts/detectors.ts); null when a value
 * is missing or not of its format's type. */
export function fillTemplate(
  template: string,
  s: Pick<Signal, "magnitude" | "details">,
  currency: string,
): string | null {
  let missing = false;
  const out = template.replace(
    /\{([a-z_.]+)(?::([a-z0-9_]+))?\}/g,
    (_, path: string, fmt?: string) => {
      const v =
        path === "magnitude"
          ? s.magnitude
          : path.startsWith("details.")
            ? s.details[path.slice(8)]
            : undefined;
      if (fmt) {
        if (typeof v !== "number") {
          missing = true;
          return "";
        }
        switch (fmt) {
          case "decimal0":
            return decimal(v, 0);
          case "decimal1":
            return decimal(v, 1);
          case "percent0":
            return percent(v, 0);
          case "signed_pct":
            return signedPercent(v / 100, 0);
          case "money":
            return money(v, currency);
          default:
            return String(v);
        }
      }
      if (typeof v !== "number" && typeof v !== "string") {
        missing = true;
        return "";
      }
      return String(v);
    },
  );
  return missing ? null : out;
}

// ---------------------------------------------------------------------------------------------
// Cells and filters

/** A magnitude and, below it, what explains it. */
export function Magnitude(props: {
  s: Pick<Signal, "detector" | "magnitude" | "details">;
  currency: string;
  info: DetectorInfo | undefined;
}) {
  const m = magnitudeText(props.s, props.currency, props.info);
  return (
    <>
      {m.main}
      {m.sub ? <div class="muted small">{m.sub}</div> : null}
    </>
  );
}

/** A window's start and, below it, how long it ran. */
export function WindowCell(props: { window: { start: string; end: string } }) {
  return (
    <>
      {dateTime(props.window.start)}
      <div class="muted">{span(props.window.start, props.window.end)}</div>
    </>
  );
}

/** A signal's action: its rung and where it stands. */
export function ActionCell(props: { action: Pick<Action, "rung" | "state"> | null | undefined }) {
  const a = props.action;
  if (!a) return <>—</>;
  return (
    <>
      {rungLabel(a.rung)} <Badge tone={stateTone(a.rung, a.state)}>{words(a.state)}</Badge>
    </>
  );
}

/** Filter by detector: the registry's detectors (the URL's one alone until it has loaded). */
export function DetectorFilter(props: {
  registry: DetectorsResponse | null | undefined;
  value: string | null;
  onChange: (v: string | null) => void;
}) {
  return (
    <FilterSelect
      label="Detector"
      name="detector"
      value={props.value}
      anyLabel="All detectors"
      options={
        props.registry
          ? props.registry.data.map((d) => ({ value: d.name, label: d.label }))
          : props.value
            ? [{ value: props.value, label: props.value }]
            : []
      }
      onChange={props.onChange}
    />
  );
}

export type StatusChoice = "open" | "resolved" | "all";

/** Filter by status: open (the default), resolved or all. */
export function StatusFilter(props: { value: StatusChoice; onChange: (v: StatusChoice) => void }) {
  return (
    <FilterSelect
      label="Status"
      name="status"
      value={props.value}
      options={[
        { value: "open", label: "Open" },
        { value: "resolved", label: "Resolved" },
        { value: "all", label: "All" },
      ]}
      onChange={(v) => props.onChange((v ?? "open") as StatusChoice)}
    />
  );
}

// ---------------------------------------------------------------------------------------------
// The panel's tables

type SourceEvent = Record<string, unknown>;

/** The events a signal was raised on. */
export function SourceEventsTable(props: { events: readonly SourceEvent[]; testid?: string }) {
  return (
    <DataTable
      compact
      testid={props.testid}
      rows={props.events}
      rowKey={(e) => String(e.id)}
      columns={[
        { header: "Event", class: "mono small", cell: (e) => String(e.id) },
        { header: "Time", cell: (e) => dateTime(e.time) },
        { header: "Metric", cell: (e) => words(String(e.metric ?? "")) },
        { header: "Quantity", num: true, cell: (e) => decimal(e.quantity, 2) },
      ]}
    />
  );
}

/** The orchestration_actions trail, with each step's detail where `detail` is asked for. */
export function TrailTable(props: { steps: readonly Step[]; detail?: boolean }) {
  return (
    <DataTable
      compact
      testid="trail"
      rows={props.steps}
      rowKey={(t) => t.id}
      columns={[
        { header: "When", cell: (t) => dateTime(t.at) },
        { header: "Rung", cell: (t) => rungLabel(t.rung) },
        {
          header: "Step",
          cell: (t) => <Badge tone={stateTone(t.rung, t.step)}>{words(t.step)}</Badge>,
        },
        { header: "By", class: "small", cell: (t) => actorLabel(t.actor) },
        props.detail && { header: "Detail", class: "small", cell: (t) => detailText(t.detail) },
      ]}
    />
  );
}

function detailText(d: Record<string, unknown>): string {
  const parts = Object.entries(d)
    .filter(([, v]) => v !== null && v !== undefined && typeof v !== "object")
    .slice(0, 4)
    .map(([k, v]) => `${words(k)}: ${String(v)}`);
  return parts.join(" · ") || "—";
}

// ---------------------------------------------------------------------------------------------
// Operator steps

/** One operator step at a time: busy while it runs, its message when done, its error (shown in
 * the open dialog) when it fails; `after` reloads what the step changed. */
export function useOperatorStep(after: () => void) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const perform = async (step: () => Promise<string>) => {
    setBusy(true);
    setError(null);
    try {
      setDone(await step());
      after();
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, setError, done, setDone, perform };
}

/** An open item's Resolve… (a dialog with a note) or a resolved one's Reopen (one click: it can
 * be undone). */
export function StatusButton(props: {
  status: string;
  busy: boolean;
  onResolve: () => void;
  onReopen: () => void;
  /** Why the signed-in role may not, if it may not (the button is disabled and says so). */
  refused?: string | null;
}) {
  const refused = props.refused ?? undefined;
  return props.status === "open" ? (
    <button
      type="button"
      class="btn btn-small"
      disabled={Boolean(refused)}
      title={refused}
      onClick={props.onResolve}
    >
      Resolve…
    </button>
  ) : (
    <button
      type="button"
      class="btn btn-small"
      disabled={props.busy || Boolean(refused)}
      title={refused}
      onClick={props.onReopen}
    >
      Reopen
    </button>
  );
}

/** Resolving asks for an optional note. */
export function ResolveDialog(props: {
  open: boolean;
  title: string;
  busy: boolean;
  error: string | null;
  note: string;
  onNote: (note: string) => void;
  onConfirm: () => void;
  onCancel: () => void;
  children: ComponentChildren;
}) {
  return (
    <ConfirmDialog
      open={props.open}
      title={props.title}
      confirmLabel="Resolve"
      busy={props.busy}
      error={props.error}
      onConfirm={props.onConfirm}
      onCancel={props.onCancel}
    >
      <p>{props.children}</p>
      <label class="field">
        <span>Note (optional)</span>
        <textarea
          name="note"
          rows={3}
          maxLength={500}
          value={props.note}
          onInput={(e) => props.onNote((e.target as HTMLTextAreaElement).value)}
        />
      </label>
    </ConfirmDialog>
  );
}
