import { createRoute, z } from "@hono/zod-openapi";
import type { ArchitectEvent, ArchitectSource } from "../../contracts/architect";
import type { Problem } from "../../contracts/common";
import {
  ARCHITECT_MODES,
  ARCHITECT_TOOLS,
  type ArchitectMode,
  type ArchitectRequest,
  describedText,
  MODE_LABELS,
  MODE_TOOLS,
  runDeterministic,
} from "../../domain/copilot/architect-tools";
import { MAX_PRICING_TEXT, parsePricing } from "../../domain/copilot/pricing-parser";
import { can, refusal } from "../../domain/roles";
import { aiProblem, defineTool, runAiFeature, usd } from "../ai/run";
import { createRouter } from "../app";
import { type ArchitectScope, runArchitectTool, type ToolRun } from "../copilot/architect";
import { permit } from "../permit";
import { ApiError, problemBody, problemResponses } from "../problem";
import { jsonBody } from "../schemas";

// POST /api/copilot/architect: the Pricing Architect (SPEC §8 AI copilot, issue 18 §2) as a
// Server-Sent Events stream — the model's words as they arrive, each tool call and its result,
// the dashboard actions (open a page, fill the plan wizard, show the steps) and how it ended.
//
// With a key the model runs through the AI platform (workers/ai/run.ts: cap, screening,
// ai_usage_log), offered only its mode's tools; without one the deterministic engine
// (domain/copilot/architect-tools.ts) makes the calls. Both go through one executor
// (workers/copilot/architect.ts) and `start`/`done` say which ran.
//
// Guide and Pre-fill change nothing of the tenant, so `read` is enough; Auto-create writes the
// catalog and checks `pricing:write` here, before anything streams (and the catalog routes it
// writes through check it again).
export const copilotArchitect = createRouter();

const MAX_TURNS = 20;

const ArchitectBody = z
  .object({
    text: z
      .string()
      .trim()
      .min(1, 'describe the pricing, e.g. "$2K platform fee, $10 per million tokens"')
      .max(MAX_PRICING_TEXT, `at most ${MAX_PRICING_TEXT} characters`)
      .openapi({ example: "$2K platform fee, per-token pricing, 15% volume discount above 1M" }),
    mode: z.enum(ARCHITECT_MODES).openapi({
      description:
        "guide: explains and navigates · prefill: fills the plan wizard for review · auto_create: creates the product, metrics and a DRAFT plan (pricing:write)",
    }),
    conversation: z
      .array(
        z
          .object({
            role: z.enum(["user", "assistant"]),
            text: z.string().max(8000),
          })
          .strict(),
      )
      .max(MAX_TURNS)
      .optional()
      .openapi({ description: "The earlier messages of this conversation, oldest first" }),
  })
  .strict();

const SYSTEM = (mode: ArchitectMode) =>
  [
    "You are Aforo's Pricing Architect. An operator describes how they want to price a usage-based API or AI product; you turn it into Aforo's catalog: a product, its billable metrics and a rate plan.",
    `Mode: ${MODE_LABELS[mode]}. Your tools: ${MODE_TOOLS[mode].join(", ")}.`,
    mode === "guide"
      ? "Guide: explain the setup and take the operator to the page where they make it (navigate_user); you create and fill nothing."
      : mode === "prefill"
        ? "Pre-fill: after propose_setup and estimate_cost, fill the plan wizard with prefill_wizard for the operator to review and save."
        : "Auto-create: after propose_setup and estimate_cost, create the product, metrics and plan with create_entities. The plan is saved as a DRAFT; never say it is published or subscribable.",
    "Always: ask_clarification instead of guessing a price, a unit or a tier model; call propose_setup and fix what Aforo reports until it accepts; call estimate_cost for a sample period; show progress with update_steps.",
    "Quote only numbers Aforo's tools returned or the operator wrote. The parser's reading of the description is attached as data: use its components unless the operator says otherwise.",
    "Answer briefly, in plain words.",
  ].join("\n");

const encoder = new TextEncoder();
const problemContent = problemResponses[400].content;

copilotArchitect.openapi(
  createRoute(
    permit("read", null, {
      method: "post",
      path: "/copilot/architect",
      tags: ["copilot"],
      summary: "The Pricing Architect: a description → a proposed, estimated, navigated setup",
      description:
        "Streams `text/event-stream`: `start {mode, source, reason?}`, `text {delta}`, `tool_call {id, name, input}`, `tool_result {id, name, ok, output?, problem?}`, `action` (navigate, prefill, steps), then `done {source, mode, usage?}`, or `error` (problem+json) when the run fails midway. A run refused before it starts — the daily AI cost cap (`ai_cap_reached`, with `cap_usd`), a screened prompt — is answered as plain problem+json with its status. `source` is `ai` (the tenant's model through the AI platform) or `deterministic` (no key). A tool outside the mode's allow-list is refused, never run. Auto-create needs pricing:write and leaves the plan as a DRAFT.",
      security: [{ operatorToken: [] }],
      request: { body: jsonBody(ArchitectBody) },
      responses: {
        200: {
          description: "The run, as Server-Sent Events",
          content: { "text/event-stream": { schema: z.string() } },
        },
        ...problemResponses,
        422: {
          description: "The AI platform's screening refused the text",
          content: problemContent,
        },
        429: {
          description: "The daily AI cost cap is reached (`ai_cap_reached`, with `cap_usd`)",
          content: problemContent,
        },
        502: { description: "The Messages API failed the call", content: problemContent },
        503: { description: "The Messages API is unavailable", content: problemContent },
      },
    }),
  ),
  async (c) => {
    const body = c.req.valid("json");
    const actor = c.var.actor;
    if (body.mode === "auto_create" && !can(actor.role, "pricing:write")) {
      throw new ApiError(
        "forbidden",
        `${refusal(actor.role, "pricing:write")}: Auto-create writes the catalog; Guide and Pre-fill need only read`,
      );
    }
    const scope: ArchitectScope = { env: c.env, tenantId: c.var.tenantId, actor };
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    const writer = writable.getWriter();
    const abort = new AbortController();
    c.req.raw.signal?.addEventListener("abort", () => abort.abort(), { once: true });
    // One write at a time, in the order the run sends: the model's deltas arrive from the
    // SDK's stream callback while tool events come from the loop.
    let queue = Promise.resolve();
    let firstEvent: (e: ArchitectEvent | null) => void = () => {};
    const first = new Promise<ArchitectEvent | null>((resolve) => {
      firstEvent = resolve;
    });
    const send = (e: ArchitectEvent) => {
      firstEvent(e);
      queue = queue.then(async () => {
        if (abort.signal.aborted) return;
        try {
          await writer.write(
            encoder.encode(`event: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`),
          );
        } catch {
          // The panel went away (aborted or closed): stop the run rather than spend on it.
          abort.abort();
        }
      });
      return queue;
    };
    const request: ArchitectRequest = {
      text: body.text,
      mode: body.mode,
      conversation: body.conversation ?? [],
    };
    const run = architectRun(scope, request, send, abort.signal)
      .catch(async (err) => {
        console.error("architect run failed", err);
        await send({
          event: "error",
          data: problemBody("internal", "The run failed; the error was logged") as Problem,
        });
      })
      .finally(() => {
        firstEvent(null);
        writer.close().catch(() => {});
      });
    c.executionCtx.waitUntil(run);
    // A run refused before it began (the daily cap, a screened prompt, the API down) is an
    // ordinary problem+json answer with its status, not a stream that opens to say so.
    const opening = await first;
    if (opening?.event === "error") {
      abort.abort();
      // Nobody will read the stream: release the writes waiting on it.
      readable.cancel().catch(() => {});
      return new Response(JSON.stringify(opening.data), {
        status: opening.data.status,
        headers: { "content-type": "application/problem+json" },
      }) as never;
    }
    return new Response(readable, {
      status: 200,
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
      },
    }) as never;
  },
);

type Send = (e: ArchitectEvent) => Promise<void>;

/** Streams a tool run's result and, for the tools that act, its action. */
async function streamTool(send: Send, id: string, name: string, run: ToolRun) {
  const { outcome } = run;
  await send({ event: "tool_result", data: { id, name, ...toolResult(outcome) } });
  if (run.action) await send({ event: "action", data: run.action });
  return outcome;
}

const toolResult = (outcome: ToolRun["outcome"]) =>
  outcome.ok
    ? { ok: true, output: outcome.output }
    : { ok: false, problem: outcome.problem as Problem };

/** The model's path, and the deterministic engine's when the tenant has no key. */
async function architectRun(
  scope: ArchitectScope,
  request: ArchitectRequest,
  send: Send,
  signal: AbortSignal,
) {
  const { mode } = request;
  let calls = 0;
  let started = false;
  const start = async (source: ArchitectSource, reason?: string) => {
    if (started) return;
    started = true;
    await send({ event: "start", data: { mode, source, ...(reason ? { reason } : {}) } });
  };

  const tools = MODE_TOOLS[mode].map((name) =>
    defineTool({
      name,
      description: ARCHITECT_TOOLS[name].description,
      input: ARCHITECT_TOOLS[name].input,
      run: async (input) => {
        if (signal.aborted) throw new Error("The operator stopped the run");
        await start("ai");
        const id = `call_${++calls}`;
        await send({ event: "tool_call", data: { id, name, input } });
        const run = await runArchitectTool(scope, mode, name, input);
        const outcome = await streamTool(send, id, name, run);
        // The platform answers a thrown error to the model as an error result: the problem's
        // words and field errors, for it to fix and call again.
        if (!outcome.ok) throw new Error(problemWords(outcome.problem as Problem));
        return outcome.output;
      },
    }),
  );
  const parsed = parsePricing(describedText(request.text, request.conversation));
  const result = await runAiFeature(scope.env, {
    tenantId: scope.tenantId,
    feature: "pricing_architect",
    system: SYSTEM(mode),
    prompt: request.text,
    history: request.conversation ?? [],
    content: [{ source: "aforo:pricing-parser", text: JSON.stringify(parsed) }],
    tools,
    maxTokens: 2048,
    maxTurns: 10,
    signal,
    onText: (delta) => {
      void start("ai");
      void send({ event: "text", data: { delta } });
    },
  });

  if (result.kind === "no_key") {
    await start("deterministic", result.reason);
    await runDeterministic(
      request,
      async (call) => {
        // Stopped from the panel: nothing more runs (the engine stops at a refused call).
        if (signal.aborted) {
          return {
            name: call.name,
            ok: false,
            problem: problemBody("unprocessable", "The operator stopped the run."),
          };
        }
        const id = `call_${++calls}`;
        await send({ event: "tool_call", data: { id, name: call.name, input: call.input } });
        const run = await runArchitectTool(
          { ...scope, nextFreePlanId: true },
          mode,
          call.name,
          call.input,
        );
        return streamTool(send, id, call.name, run);
      },
      async (turn) => {
        if (turn.say) await send({ event: "text", data: { delta: `${turn.say}\n\n` } });
      },
    );
    await send({ event: "done", data: { source: "deterministic", mode } });
    return;
  }

  if (result.kind !== "ok") {
    const problem = aiProblem(result);
    await send({
      event: "error",
      data: {
        ...(problemBody(problem.code, problem.detail) as Problem),
        ...(result.kind === "capped" ? { cap_usd: usd(result.cap_nanos) } : {}),
      },
    });
    return;
  }
  await start("ai");
  // What the platform refused before it reached the executor (a tool outside the mode's
  // allow-list, an input its schema rejects): shown too, marked as never run.
  for (const call of result.tool_calls) {
    if (call.outcome !== "refused" && call.outcome !== "invalid_input") continue;
    const id = `call_${++calls}`;
    await send({ event: "tool_call", data: { id, name: call.name, input: call.input } });
    await send({
      event: "tool_result",
      data: {
        id,
        name: call.name,
        ok: false,
        problem: problemBody(
          call.outcome === "refused" ? "forbidden" : "validation_failed",
          call.outcome === "refused"
            ? `The tool '${call.name.slice(0, 64)}' is not available in ${MODE_LABELS[mode]} mode; it was not run.`
            : `The input of ${call.name} did not fit its schema; it was not run.`,
        ) as Problem,
      },
    });
  }
  await send({
    event: "done",
    data: {
      source: "ai",
      mode,
      usage: {
        input_tokens: result.usage.input_tokens,
        output_tokens: result.usage.output_tokens,
        cost_usd: usd(result.cost_nanos),
      },
    },
  });
}

const problemWords = (p: Problem) =>
  [p.detail, ...(p.errors ?? []).map((e) => `${e.path}: ${e.message}`)].join("\n");
