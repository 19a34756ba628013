// The signal explainer (issue 18 item 4): a case in words, with the numbers behind it and the
// next rung of its ladder. Every figure here is one a detector stored on its signal (SPEC §5:
// signals are immutable findings), and every sum shown is re-done from those figures, so what
// the operator reads is Aforo's own computation; a model may only re-word the result
// (workers/copilot/signal-explainer.ts), never add a number or run a rung. The next rung is a
// proposal: when the ladder has queued it for an operator the explanation points at that action;
// otherwise it says what would bring it and whether the policy then runs it by itself.

import { detectorSpec } from "../detectors";
import { fmt, signed } from "../detectors/wording";
import type { Rung } from "../ladder";

/** A signal of the case as the explainer reads it. */
export interface ExplainedSignal {
  id: string;
  created_at: number;
  customer: string;
  product: string | null;
  metric: string | null;
  direction: string | null;
  magnitude: number;
  window: { start: number; end: number };
  details: Record<string, unknown>;
  source_event_ids: readonly string[];
}

/** A rung of the case's ladder (domain/cases.ts LadderStep). */
export interface ExplainedStep {
  key: string | null;
  label: string;
  rung: Rung;
  trigger: string;
  state: "executed" | "no_channel" | "queued" | "reversed" | "failed" | "not_reached";
  automatic: boolean;
  action_ids: readonly string[];
}

export interface CaseToExplain {
  detector: string;
  customer: string;
  scope: string;
  level: string;
  status: "open" | "resolved";
  signals: readonly ExplainedSignal[];
  ladder: readonly ExplainedStep[];
  /** The stored source events the case's signals cite (as many as the actor returned). */
  source_events: readonly SourceEvent[];
}

/** A source event as the explanation shows it (contracts/events.ts StoredEvent, in part). */
export interface SourceEvent {
  id: string;
  time: string;
  metric: string;
  quantity: string;
  revenue: string;
  cost: string;
}

/** How many source events an explanation lists (the case page lists them all). */
export const SAMPLE_EVENTS = 5;

export interface Figure {
  label: string;
  value: string;
}

export type Proposal =
  /** The ladder queued this rung for an operator: executing it is one click away. */
  | "execute_queued"
  /** Not reached yet; the policy will queue it for an operator when its trigger holds. */
  | "queued_when_triggered"
  /** Not reached yet; the policy runs it by itself when its trigger holds. */
  | "automatic_when_triggered"
  /** Every rung is reached: nothing further to propose. */
  | "none";

export interface NextStep {
  rung: Rung | null;
  key: string | null;
  label: string | null;
  trigger: string | null;
  proposal: Proposal;
  /** The queued action to execute, for `execute_queued`. */
  action_id: string | null;
  why: string;
}

export interface CaseExplanation {
  headline: string;
  what_happened: string[];
  figures: Figure[];
  /** The sums behind the finding, written out from the figures. */
  arithmetic: string[];
  evidence: {
    signals: number;
    source_events: number;
    first_event_at: string | null;
    last_event_at: string | null;
    /** The latest few, newest first. */
    samples: SourceEvent[];
  };
  next_step: NextStep;
}

const iso = (ms: number) => new Date(ms).toISOString();
const day = (ms: number) => iso(ms).slice(0, 10);
const hourRange = (w: { start: number; end: number }) =>
  `${iso(w.start).slice(0, 16).replace("T", " ")}–${iso(w.end).slice(11, 16)} UTC`;

const numberOf = (d: Record<string, unknown>, key: string): number | null => {
  const v = d[key];
  const n = typeof v === "string" && v.trim() !== "" ? Number(v) : v;
  return typeof n === "number" && Number.isFinite(n) ? n : null;
};
const textOf = (d: Record<string, unknown>, key: string): string | null =>
  typeof d[key] === "string" && d[key] !== "" ? (d[key] as string) : null;

/** An operand of the written-out sums: at the precision the detector stored it, so the sum
 * can be redone by hand from what is shown (2 decimals would show an elapsed 0.5634 as 0.56). */
const OPERAND = new Intl.NumberFormat("en-US", { maximumFractionDigits: 6 });
const op = (x: number) => OPERAND.format(x);
const money = (x: number) => `$${x.toFixed(2).replace(/\B(?=(\d{3})+(?!\d))/g, ",")}`;
const pct = (x: number) => `${fmt(x)} %`;

/** Figures and arithmetic of the latest (or deepest) signal, in the detector's own terms. */
function numbersOf(
  detector: string,
  s: ExplainedSignal,
): { figures: Figure[]; arithmetic: string[] } {
  const d = s.details;
  const figures: Figure[] = [];
  const arithmetic: string[] = [];
  const add = (label: string, value: number | null, show: (x: number) => string = fmt) => {
    if (value !== null) figures.push({ label, value: show(value) });
  };
  switch (detector) {
    case "BillableUnitAnomalyDetector": {
      const expected = numberOf(d, "expected");
      const observed = numberOf(d, "observed");
      const spread = numberOf(d, "spread_units");
      const sigma = numberOf(d, "sigma");
      add("Expected units (baseline)", expected);
      add("Observed units", observed);
      add("Usual spread (units)", spread);
      add("Deviation (σ)", sigma, signed);
      add("Change vs expected", numberOf(d, "pct_change"), (x) => `${signed(x)} %`);
      add("Threshold (k σ)", numberOf(d, "k"));
      add("Hours in the window", numberOf(d, "hours"));
      if (expected !== null && observed !== null && spread !== null && spread > 0) {
        arithmetic.push(
          `deviation = (observed − expected) / spread = (${op(observed)} − ${op(expected)}) / ${op(spread)} = ${signed((observed - expected) / spread)} σ`,
        );
      }
      if (expected !== null && observed !== null && expected > 0) {
        arithmetic.push(
          `change = (observed − expected) / expected = (${op(observed)} − ${op(expected)}) / ${op(expected)} = ${signed(((observed - expected) / expected) * 100)} %`,
        );
      }
      break;
    }
    case "MarginGuard": {
      const revenue = numberOf(d, "revenue");
      const cogs = numberOf(d, "cogs");
      const threshold = numberOf(d, "level_threshold");
      add("Revenue, period to date", revenue, money);
      add("COGS, period to date", cogs, money);
      add("Margin", numberOf(d, "margin_pct"), pct);
      add(
        `Level ${textOf(d, "level") ?? ""} floor`.trim(),
        threshold === null ? null : threshold * 100,
        pct,
      );
      add("Shortfall against the floor", numberOf(d, "shortfall"), money);
      if (revenue !== null && cogs !== null && revenue > 0) {
        arithmetic.push(
          `margin = (revenue − COGS) / revenue = (${money(revenue)} − ${money(cogs)}) / ${money(revenue)} = ${pct(((revenue - cogs) / revenue) * 100)}`,
        );
        if (threshold !== null) {
          arithmetic.push(
            `shortfall = COGS − revenue × (1 − floor) = ${money(cogs)} − ${money(revenue)} × ${op(1 - threshold)} = ${money(cogs - revenue * (1 - threshold))}`,
          );
        }
      } else if (revenue === 0 && cogs !== null) {
        arithmetic.push(`no revenue yet against ${money(cogs)} of COGS: below every margin floor`);
      }
      break;
    }
    case "QuotaPacingProjectionService": {
      const usage = numberOf(d, "usage");
      const quota = numberOf(d, "quota");
      const projection = numberOf(d, "projection");
      const elapsed = numberOf(d, "elapsed_fraction");
      add("Used so far", usage);
      add("Included quota", quota);
      add("Projected at period end", projection);
      add("Projected share of quota", numberOf(d, "pct_of_quota"), pct);
      add("Period elapsed", elapsed === null ? null : elapsed * 100, pct);
      const method = textOf(d, "method");
      if (method) figures.push({ label: "Projection method", value: method });
      if (usage !== null && elapsed !== null && elapsed > 0) {
        arithmetic.push(
          `straight-line pace = used / elapsed = ${op(usage)} / ${op(elapsed)} = ${fmt(usage / elapsed)}`,
        );
      }
      if (projection !== null && quota !== null && quota > 0) {
        arithmetic.push(
          `projected / quota = ${op(projection)} / ${op(quota)} = ${pct((projection / quota) * 100)}`,
        );
      }
      break;
    }
    case "WeeklyChurnSignalDetector": {
      add("Drop", numberOf(d, "drop_pct"), pct);
      add("Threshold", numberOf(d, "threshold_pct"), pct);
      for (const metric of (textOf(d, "metrics") ?? "").split(",").filter(Boolean)) {
        const prev = numberOf(d, `prev_7:${metric}`);
        const last = numberOf(d, `last_7:${metric}`);
        add(`${metric}, the 7 days before`, prev);
        add(`${metric}, the last 7 days`, last);
        if (prev !== null && last !== null && prev > 0) {
          arithmetic.push(
            `${metric}: 1 − last 7 / previous 7 = 1 − ${op(last)} / ${op(prev)} = ${pct((1 - last / prev) * 100)}`,
          );
        }
      }
      break;
    }
    case "CostSpikeDetector":
    case "BudgetCostSpikeDetector": {
      const cost = numberOf(d, "cost");
      const baseline = numberOf(d, "baseline");
      add("COGS this hour", cost, money);
      add("Usual COGS of this hour", baseline, money);
      add("Ratio", numberOf(d, "ratio"), (x) => `×${fmt(x)}`);
      add("Above usual", numberOf(d, "delta"), money);
      if (cost !== null && baseline !== null && baseline > 0) {
        arithmetic.push(
          `ratio = cost / usual = ${money(cost)} / ${money(baseline)} = ×${fmt(cost / baseline)}; above usual = ${money(cost - baseline)}`,
        );
      }
      break;
    }
    default: {
      // A detector without its own wording: every number it stored, under its own name.
      for (const [key, value] of Object.entries(d)) {
        const n = numberOf(d, key);
        if (n !== null) figures.push({ label: key.replaceAll("_", " "), value: fmt(n) });
        else if (typeof value === "string" && value.length <= 64) {
          figures.push({ label: key.replaceAll("_", " "), value });
        }
      }
    }
  }
  return { figures, arithmetic };
}

const DONE = new Set(["executed", "no_channel", "failed", "reversed"]);

/** The first rung not yet run: queued for an operator, or not reached yet. */
export function nextStep(ladder: readonly ExplainedStep[], status: "open" | "resolved"): NextStep {
  const step = ladder.find((s) => !DONE.has(s.state));
  if (!step || status === "resolved") {
    return {
      rung: null,
      key: null,
      label: null,
      trigger: null,
      proposal: "none",
      action_id: null,
      why:
        status === "resolved"
          ? "The case is resolved: nothing further to propose."
          : "Every rung of this case's ladder has run: watch whether the condition clears, or resolve the case.",
    };
  }
  const base = { rung: step.rung, key: step.key, label: step.label, trigger: step.trigger };
  if (step.state === "queued") {
    return {
      ...base,
      proposal: "execute_queued",
      action_id: step.action_ids[0] ?? null,
      why: `The case reached "${step.label}" (${step.trigger}) and the policy leaves ${step.rung} to an operator: it is queued for you to execute or leave.`,
    };
  }
  return {
    ...base,
    proposal: step.automatic ? "automatic_when_triggered" : "queued_when_triggered",
    action_id: null,
    why: step.automatic
      ? `Next is "${step.label}": when ${step.trigger}, the policy runs ${step.rung} by itself.`
      : `Next is "${step.label}": when ${step.trigger}, ${step.rung} is queued for an operator (the policy does not run it by itself).`,
  };
}

/** The case in words, its figures and sums, its evidence and the proposed next rung. */
export function explainCase(c: CaseToExplain): CaseExplanation {
  // The deepest finding tells the story (the one that set the case's level); ties: the latest.
  const lead = [...c.signals].sort(
    (a, b) => b.magnitude - a.magnitude || b.created_at - a.created_at,
  )[0];
  const spec = detectorSpec(c.detector);
  const described = lead && spec ? spec.describe(lead) : null;
  const headline = described?.title ?? `${spec?.label ?? c.detector}: ${c.customer} · ${c.scope}`;
  const what: string[] = [];
  if (lead) {
    const when =
      lead.window.end - lead.window.start <= 6 * 3_600_000
        ? hourRange(lead.window)
        : `${day(lead.window.start)} to ${day(lead.window.end - 1)}`;
    what.push(
      `${spec?.label ?? c.detector} found ${described?.magnitude ?? fmt(lead.magnitude)} for ${c.customer} (${c.scope}), ${when}.`,
    );
    if (spec?.summary) what.push(`What it watches: ${spec.summary}`);
  }
  if (c.signals.length > 1) {
    const first = Math.min(...c.signals.map((s) => s.created_at));
    const last = Math.max(...c.signals.map((s) => s.created_at));
    what.push(
      `The case holds ${c.signals.length} findings recorded between ${iso(first).slice(0, 16).replace("T", " ")} and ${iso(last).slice(0, 16).replace("T", " ")} UTC; its level is ${c.level}.`,
    );
  } else what.push(`Its level is ${c.level}.`);
  const ran = c.ladder.filter((s) => s.state === "executed" || s.state === "no_channel");
  if (ran.length > 0) {
    what.push(
      `Already run: ${ran.map((s) => `${s.rung} at "${s.label}"${s.state === "no_channel" ? " (no channel to send it to)" : ""}`).join("; ")}.`,
    );
  }
  const { figures, arithmetic } = lead
    ? numbersOf(c.detector, lead)
    : { figures: [], arithmetic: [] };
  const events = [...c.source_events].sort((a, b) => b.time.localeCompare(a.time));
  const cited = new Set(c.signals.flatMap((s) => s.source_event_ids)).size;
  return {
    headline,
    what_happened: what,
    figures,
    arithmetic,
    evidence: {
      signals: c.signals.length,
      source_events: cited,
      first_event_at: events.at(-1)?.time ?? null,
      last_event_at: events[0]?.time ?? null,
      samples: events.slice(0, SAMPLE_EVENTS),
    },
    next_step: nextStep(c.ladder, c.status),
  };
}

/** The explanation as one paragraph from templates (no model). */
export function templateNarrative(e: CaseExplanation): string {
  // What happened and what is next; the figures and sums are shown beside it, not repeated.
  return `${e.what_happened[0] ?? `${e.headline}.`} ${e.next_step.why}`;
}

const NUMBER = /\d[\d,]*(?:\.\d+)?/g;
const normalise = (token: string) => {
  const n = Number(token.replaceAll(",", ""));
  return Number.isFinite(n) ? String(n) : token;
};

/**
 * Whether every number in a model's wording appears in the figures it was given: the model may
 * only word Aforo's numbers, so a paragraph with a number of its own (a sum it did, a figure it
 * made up) is not shown. Dates and times count as the figures' own digits.
 */
export function numbersGrounded(text: string, source: string): boolean {
  const known = new Set((source.match(NUMBER) ?? []).map(normalise));
  return (text.match(NUMBER) ?? []).every((t) => known.has(normalise(t)));
}
