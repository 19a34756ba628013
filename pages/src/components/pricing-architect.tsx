// The Pricing Architect's floating panel (SPEC §8 AI copilot, issue 18 §2), on every operator
// page: describe the pricing, pick a mode, and read the run as it streams from POST
// /api/copilot/architect — the words as they arrive, each tool step as a compact card (the
// proposal, the estimate, what was created), and the run's actions carried out here (open a
// page, fill the plan wizard). It says plainly when the deterministic engine ran because there
// is no AI key, and when the daily AI budget refused the call.

import { useEffect, useRef, useState } from "preact/hooks";
import type {
  ArchitectAction,
  ArchitectEvent,
  ArchitectMode,
  ArchitectSource,
  ArchitectStep,
} from "../../../contracts/architect";
import type { PlanComponent } from "../../../contracts/catalog";
import type { PricingPreview } from "../../../contracts/copilot";
import { ApiError, isAbort, useApi } from "../lib/api";
import { catalogChanged } from "../lib/catalog";
import { money } from "../lib/format";
import { usePermit } from "../lib/me";
import type { PlanWizardDraft } from "../lib/plan-wizard";
import { describeComponent } from "../lib/plans";
import { Link, navigate } from "../lib/router";
import { readSse } from "../lib/sse";
import { prefillWizard } from "../lib/wizard-prefill";
import { Badge } from "./ui";

const MODES: { id: ArchitectMode; label: string; hint: string }[] = [
  { id: "guide", label: "Guide", hint: "Explains the setup and takes you to the page to make it" },
  { id: "prefill", label: "Pre-fill", hint: "Fills the plan wizard for you to review and save" },
  {
    id: "auto_create",
    label: "Auto-create",
    hint: "Creates the product, metrics and plan as a DRAFT (nothing is published)",
  },
];

const TOOL_LABELS: Record<string, string> = {
  ask_clarification: "Question",
  propose_setup: "Proposed setup",
  navigate_user: "Navigation",
  create_entities: "Created in the catalog",
  prefill_wizard: "Plan wizard filled",
  update_steps: "Steps",
  estimate_cost: "Estimate",
};

interface ToolProblem {
  code: string;
  detail: string;
  errors?: { path: string; message: string }[];
}

type Entry =
  | { kind: "user"; text: string }
  | { kind: "assistant"; text: string }
  | {
      kind: "tool";
      id: string;
      name: string;
      input: Record<string, unknown>;
      result?: { ok: boolean; output?: unknown; problem?: ToolProblem };
    };

type Banner =
  | { kind: "no_key"; reason: string | null }
  | { kind: "cap"; cap: string | null; detail: string }
  | { kind: "error"; detail: string }
  | { kind: "stopped" };

interface Setup {
  product?: { id: string; name: string };
  metrics?: { id: string; unit: string; aggregation: string }[];
  plan?: {
    id: string;
    name: string;
    currency: string;
    period: "month" | "year";
    components: PlanComponent[];
  };
}

/** The cap's amount from a refusal: the problem's `cap_usd`, else the figure its words name. */
const capOf = (problem: { cap_usd?: string; detail: string }) =>
  problem.cap_usd ?? /cap of \$([\d,.]+)/.exec(problem.detail)?.[1] ?? null;

export function PricingArchitect() {
  const api = useApi();
  const write = usePermit("pricing:write");
  const [open, setOpen] = useState(false);
  const [mode, setMode] = useState<ArchitectMode>("guide");
  const [text, setText] = useState("");
  const [entries, setEntries] = useState<Entry[]>([]);
  const [history, setHistory] = useState<{ role: "user" | "assistant"; text: string }[]>([]);
  const [steps, setSteps] = useState<ArchitectStep[]>([]);
  const [source, setSource] = useState<ArchitectSource | null>(null);
  const [banner, setBanner] = useState<Banner | null>(null);
  const [running, setRunning] = useState(false);
  const controller = useRef<AbortController | null>(null);
  const input = useRef<HTMLTextAreaElement>(null);
  const transcript = useRef<HTMLDivElement>(null);

  useEffect(() => () => controller.current?.abort(), []);
  useEffect(() => {
    const el = transcript.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [entries]);
  useEffect(() => {
    if (open) input.current?.focus();
  }, [open]);

  const act = (action: ArchitectAction) => {
    if (action.type === "steps") setSteps(action.steps);
    else if (action.type === "navigate") navigate(action.path);
    else prefillWizard(action.draft as PlanWizardDraft);
  };

  const onEvent = (e: ArchitectEvent, said: string[]) => {
    switch (e.event) {
      case "start":
        setSource(e.data.source);
        if (e.data.source === "deterministic") {
          setBanner({ kind: "no_key", reason: e.data.reason ?? null });
        }
        break;
      case "text":
        said.push(e.data.delta);
        setEntries((list) => {
          const last = list[list.length - 1];
          return last?.kind === "assistant"
            ? [...list.slice(0, -1), { kind: "assistant", text: last.text + e.data.delta }]
            : [...list, { kind: "assistant", text: e.data.delta }];
        });
        break;
      case "tool_call":
        setEntries((list) => [
          ...list,
          {
            kind: "tool",
            id: e.data.id,
            name: e.data.name,
            input: (e.data.input ?? {}) as Record<string, unknown>,
          },
        ]);
        break;
      case "tool_result": {
        const result = {
          ok: e.data.ok,
          output: e.data.output,
          ...(e.data.problem ? { problem: e.data.problem as ToolProblem } : {}),
        };
        setEntries((list) =>
          list.map((x) => (x.kind === "tool" && x.id === e.data.id ? { ...x, result } : x)),
        );
        if (e.data.name === "create_entities" && e.data.ok) catalogChanged();
        break;
      }
      case "action":
        act(e.data);
        break;
      case "error":
        setBanner(
          e.data.code === "ai_cap_reached"
            ? { kind: "cap", cap: capOf(e.data), detail: e.data.detail }
            : { kind: "error", detail: e.data.detail },
        );
        break;
      case "done":
        setSource(e.data.source);
        break;
    }
  };

  const send = async (message: string) => {
    const trimmed = message.trim();
    if (!trimmed || running) return;
    const run = new AbortController();
    controller.current = run;
    setRunning(true);
    setBanner((b) => (b?.kind === "no_key" ? b : null));
    setEntries((list) => [...list, { kind: "user", text: trimmed }]);
    setText("");
    const said: string[] = [];
    try {
      const res = await api.postStream(
        "/api/copilot/architect",
        {
          text: trimmed,
          mode,
          // The route takes the last 20 turns of at most 8,000 characters each.
          conversation: history.slice(-20).map((t) => ({ ...t, text: t.text.slice(0, 8000) })),
        },
        run.signal,
      );
      await readSse(
        res,
        (m) => onEvent({ event: m.event, data: JSON.parse(m.data) } as ArchitectEvent, said),
        run.signal,
      );
      if (run.signal.aborted) setBanner({ kind: "stopped" });
    } catch (err) {
      if (isAbort(err)) setBanner({ kind: "stopped" });
      else if (err instanceof ApiError && err.code === "ai_cap_reached") {
        setBanner({ kind: "cap", cap: capOf({ detail: err.message }), detail: err.message });
      } else setBanner({ kind: "error", detail: (err as Error).message });
    } finally {
      setHistory((h) => [
        ...h,
        { role: "user", text: trimmed },
        ...(said.length ? [{ role: "assistant" as const, text: said.join("").trim() }] : []),
      ]);
      setRunning(false);
      controller.current = null;
    }
  };

  const reset = () => {
    controller.current?.abort();
    setEntries([]);
    setHistory([]);
    setSteps([]);
    setBanner(null);
    setSource(null);
  };

  if (!open) {
    return (
      <button
        type="button"
        class="architect-launcher btn btn-primary"
        data-testid="architect-launcher"
        aria-expanded="false"
        onClick={() => setOpen(true)}
      >
        ✦ Pricing Architect
      </button>
    );
  }

  return (
    <section class="architect-panel" aria-label="Pricing Architect" data-testid="architect-panel">
      <header class="architect-head">
        <strong>✦ Pricing Architect</strong>
        {source === "ai" ? <Badge tone="info">AI model</Badge> : null}
        {source === "deterministic" ? <Badge tone="warn">deterministic</Badge> : null}
        <span class="architect-head-end">
          <button
            type="button"
            class="btn btn-small"
            onClick={reset}
            disabled={entries.length === 0}
          >
            New
          </button>
          <button
            type="button"
            class="btn btn-small"
            aria-label="Close the Pricing Architect"
            onClick={() => setOpen(false)}
          >
            ✕
          </button>
        </span>
      </header>

      <fieldset class="architect-modes" disabled={running}>
        <legend class="sr-only">Mode</legend>
        {MODES.map((m) => {
          const refused = m.id === "auto_create" && !write.allowed;
          return (
            <label
              key={m.id}
              class={`architect-mode${mode === m.id ? " active" : ""}${refused ? " disabled" : ""}`}
              title={refused ? (write.reason ?? "") : m.hint}
            >
              <input
                type="radio"
                name="architect-mode"
                value={m.id}
                checked={mode === m.id}
                disabled={refused}
                onChange={() => setMode(m.id)}
              />
              {m.label}
            </label>
          );
        })}
      </fieldset>
      <p class="architect-hint small">{MODES.find((m) => m.id === mode)?.hint}</p>

      {banner ? <ArchitectBanner banner={banner} /> : null}

      {steps.length > 0 ? (
        <ol class="architect-steps" aria-label="Steps">
          {steps.map((s) => (
            <li key={s.id} class={`step-${s.status}`}>
              <span aria-hidden="true">
                {s.status === "done" ? "✓" : s.status === "active" ? "▸" : "○"}
              </span>{" "}
              {s.label}
            </li>
          ))}
        </ol>
      ) : null}

      <div
        class="architect-transcript"
        ref={transcript}
        aria-live="polite"
        data-testid="architect-transcript"
      >
        {entries.length === 0 ? (
          <p class="small muted">
            Describe your pricing, e.g. “$2K platform fee, per-token pricing, 15% volume discount
            above 1M”.
          </p>
        ) : null}
        {entries.map((entry, i) =>
          entry.kind === "user" ? (
            <div key={i} class="architect-msg architect-user">
              {entry.text}
            </div>
          ) : entry.kind === "assistant" ? (
            <div key={i} class="architect-msg architect-assistant">
              {entry.text.trim()}
            </div>
          ) : (
            <ToolCard
              key={entry.id + i}
              entry={entry}
              onChoice={(choice) => {
                setText(choice);
                input.current?.focus();
              }}
            />
          ),
        )}
        {running ? <p class="small muted architect-working">Working…</p> : null}
      </div>

      <form
        class="architect-form"
        onSubmit={(e) => {
          e.preventDefault();
          void send(text);
        }}
      >
        <label class="sr-only" for="architect-text">
          Describe your pricing
        </label>
        <textarea
          id="architect-text"
          ref={input}
          rows={2}
          maxLength={2000}
          value={text}
          placeholder="Describe your pricing…"
          onInput={(e) => setText((e.target as HTMLTextAreaElement).value)}
          onKeyDown={(e) => {
            if (e.key === "Enter" && !e.shiftKey) {
              e.preventDefault();
              void send(text);
            }
          }}
        />
        {running ? (
          <button type="button" class="btn btn-danger" onClick={() => controller.current?.abort()}>
            Stop
          </button>
        ) : (
          <button type="submit" class="btn btn-primary" disabled={!text.trim()}>
            Send
          </button>
        )}
      </form>
    </section>
  );
}

function ArchitectBanner(props: { banner: Banner }) {
  const b = props.banner;
  if (b.kind === "no_key") {
    return (
      <div class="architect-banner banner-warn" role="status" data-testid="architect-no-key">
        <strong>Deterministic engine — no AI key.</strong> The plain-English parser and Aforo's
        pricing engine answer; set a key under <Link href="/settings">Settings</Link> for the
        model's words.
        {b.reason ? <div class="small">{b.reason}</div> : null}
      </div>
    );
  }
  if (b.kind === "cap") {
    return (
      <div class="architect-banner banner-bad" role="alert" data-testid="architect-cap">
        <strong>
          Daily AI budget{b.cap ? ` of $${b.cap}` : ""} reached — resets at 00:00 UTC.
        </strong>
        <div class="small">{b.detail}</div>
      </div>
    );
  }
  if (b.kind === "stopped") {
    return (
      <div class="architect-banner banner-info" role="status">
        Stopped. What ran before stays as shown.
      </div>
    );
  }
  return (
    <div class="architect-banner banner-bad" role="alert">
      {b.detail}
    </div>
  );
}

function SetupSummary(props: { setup: Setup }) {
  const { product, metrics = [], plan } = props.setup;
  if (!plan) return null;
  const ctx = {
    currency: plan.currency,
    period: plan.period,
    metrics: Object.fromEntries(metrics.map((m) => [m.id, { unit: m.unit }])),
  };
  return (
    <div class="architect-setup">
      {product ? (
        <div>
          Product <strong>{product.name}</strong> <code>{product.id}</code>
        </div>
      ) : null}
      {metrics.length ? (
        <div>
          Metrics:{" "}
          {metrics.map((m) => (
            <code key={m.id} class="architect-chip">
              {m.id} · {m.unit} · {m.aggregation}
            </code>
          ))}
        </div>
      ) : null}
      <div>
        Plan <strong>{plan.name}</strong> <code>{plan.id}</code> · {plan.currency} ·{" "}
        {plan.period === "month" ? "monthly" : "yearly"}
      </div>
      <ul>
        {plan.components.map((c, i) => (
          <li key={i}>{describeComponent(c, ctx)}</li>
        ))}
      </ul>
    </div>
  );
}

function ToolCard(props: {
  entry: Extract<Entry, { kind: "tool" }>;
  onChoice: (choice: string) => void;
}) {
  const { name, input, result } = props.entry;
  const status = !result ? (
    <Badge tone="info">running</Badge>
  ) : result.ok ? (
    <Badge tone="good">ok</Badge>
  ) : (
    <Badge tone="bad">{result.problem?.code === "forbidden" ? "refused" : "failed"}</Badge>
  );
  return (
    <div
      class={`architect-card${result && !result.ok ? " architect-card-bad" : ""}`}
      data-tool={name}
    >
      <div class="architect-card-head">
        <span>{TOOL_LABELS[name] ?? name}</span> <code class="small">{name}</code> {status}
      </div>
      <ToolBody name={name} input={input} result={result} onChoice={props.onChoice} />
      {result && !result.ok && result.problem ? (
        <div class="architect-problem small">
          {result.problem.detail}
          {result.problem.errors?.length ? (
            <ul>
              {result.problem.errors.slice(0, 6).map((e) => (
                <li key={e.path}>
                  <code>{e.path}</code>: {e.message}
                </li>
              ))}
            </ul>
          ) : null}
        </div>
      ) : null}
    </div>
  );
}

function ToolBody(props: {
  name: string;
  input: Record<string, unknown>;
  result: Extract<Entry, { kind: "tool" }>["result"];
  onChoice: (choice: string) => void;
}) {
  const { name, input, result } = props;
  switch (name) {
    case "ask_clarification": {
      const choices = (input.choices as string[] | undefined) ?? [];
      return (
        <div>
          <div>{String(input.question ?? "")}</div>
          {choices.length ? (
            <div class="architect-choices">
              {choices.map((c) => (
                <button
                  key={c}
                  type="button"
                  class="btn btn-small"
                  onClick={() => props.onChoice(c)}
                >
                  {c}
                </button>
              ))}
            </div>
          ) : null}
        </div>
      );
    }
    case "propose_setup":
      return <SetupSummary setup={input as Setup} />;
    case "prefill_wizard": {
      const setup = input as Setup;
      return (
        <div class="small">
          Filled the <Link href="/catalog/plans/new">plan wizard</Link> with plan{" "}
          <code>{setup.plan?.id}</code>
          {setup.product ? (
            <>
              {" "}
              on product <code>{setup.product.id}</code>
            </>
          ) : null}
          : review the highlighted fields and save. Nothing is saved until you do.
        </div>
      );
    }
    case "estimate_cost": {
      const preview = result?.ok ? (result.output as PricingPreview) : null;
      const usage = Object.entries((input.usage as Record<string, string> | undefined) ?? {});
      return (
        <div>
          {usage.length ? (
            <div class="small muted">
              Sample {String(input.period ?? "month")}:{" "}
              {usage.map(([m, q]) => `${Number(q).toLocaleString()} ${m}`).join(", ")}
            </div>
          ) : null}
          {preview ? (
            <>
              <div class="architect-total" data-testid="architect-estimate-total">
                {money(preview.total, preview.currency)}
              </div>
              <ul class="small">
                {preview.lines.map((l, i) => (
                  <li key={i}>
                    {l.description}: {money(l.amount, preview.currency)}
                  </li>
                ))}
              </ul>
            </>
          ) : null}
        </div>
      );
    }
    case "create_entities": {
      const out = result?.ok
        ? (result.output as {
            product: { id: string; created: boolean };
            metrics: { id: string; created: boolean }[];
            plan: { id: string; created: boolean; status: string };
          })
        : null;
      if (!out) return <SetupSummary setup={input as Setup} />;
      const how = (created: boolean) => (created ? "created" : "kept (already there)");
      return (
        <ul class="small">
          <li>
            Product <code>{out.product.id}</code> {how(out.product.created)}
          </li>
          {out.metrics.map((m) => (
            <li key={m.id}>
              Metric <code>{m.id}</code> {how(m.created)}
            </li>
          ))}
          <li>
            Plan <code>{out.plan.id}</code> {how(out.plan.created)}{" "}
            <Badge tone={out.plan.status === "draft" ? "warn" : "good"}>
              {out.plan.status === "draft" ? "DRAFT" : out.plan.status}
            </Badge>
          </li>
        </ul>
      );
    }
    case "navigate_user":
      return (
        <div class="small">
          Opened <Link href={String(input.path)}>{String(input.path)}</Link> —{" "}
          {String(input.reason ?? "")}
        </div>
      );
    case "update_steps":
      return (
        <div class="small muted">
          {
            ((input.steps as ArchitectStep[] | undefined) ?? []).filter((s) => s.status === "done")
              .length
          }{" "}
          of {((input.steps as ArchitectStep[] | undefined) ?? []).length} steps done
        </div>
      );
    default:
      return null;
  }
}
