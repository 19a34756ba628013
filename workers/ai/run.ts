// The AI platform's one entry point (issue 18 §1; docs/ai.md). Every AI feature calls
// runAiFeature and gets back a typed result; nothing else in Aforo talks to the Messages API.
//
//   const result = await runAiFeature(env, {
//     tenantId, feature: "pricing_architect",
//     system: "You help configure usage-based pricing…",
//     prompt: userText,                          // screened: an injection is refused, no call
//     history,                                   // earlier turns (user turns screened too)
//     content: [{ source: "https://…", text }],  // fetched/stored: screened, quoted as data
//     tools: [defineTool({ name: "propose_setup", description, input: zodSchema, run })],
//     signal, onText: (delta) => sse.write(delta), // streaming, when given
//   });
//   switch (result.kind) {
//     case "no_key":  → run the deterministic engine and say so (result.reason)
//     case "ok":      → result.text (the model's words), result.tool_calls (what Aforo ran)
//     default:        → throw aiProblem(result) (refused 422, capped 429, error 422/429/502/503)
//   }
//
// What it guarantees:
// - Key: the tenant's sealed key, else the deployment's, else "no_key" (workers/ai/keys.ts).
// - Screening: user text that trips a rule is refused before any call; fetched or stored content
//   is cut of hidden parts and quoted as data; tool results are screened the same way.
//   `prescreen: true` adds a short model call that must answer SAFE first. Every refusal and
//   neutralisation is a row in ai_usage_log (outcome "refused").
// - Secrets: the tenant's key and the deployment's secrets are redacted from everything sent.
//   Tools run with the caller's tenant only (the closure a feature builds); the model never
//   names a tenant.
// - Tools: only the feature's allow-list (domain/ai/features.ts) is offered; a tool_use outside
//   it is answered with an error result and logged, never run. Inputs are parsed with the
//   tool's zod schema before it runs; a bad input goes back to the model as an error result.
// - Cap: before every call its upper-bound estimate must fit under today's (UTC) cap after the
//   day's spend; every call's reported usage is priced and logged, so the next call's check
//   counts what was really spent. Refused calls are logged "capped".
// - Retries: the SDK retries 429, 529 and other 5xx itself (honouring retry-after-ms); the
//   log row records the HTTP attempts. `signal` aborts the call in flight.

import Anthropic from "@anthropic-ai/sdk";
import type {
  ContentBlockParam,
  Message,
  MessageCreateParamsNonStreaming,
  MessageParam,
  Tool,
  ToolResultBlockParam,
} from "@anthropic-ai/sdk/resources/messages/messages";
import { z } from "zod";
import {
  capMessage,
  checkCap,
  costOf,
  estimateCost,
  type ModelRate,
  NO_TOKENS,
  rateFor,
  type TokenUsage,
  utcDay,
} from "../../domain/ai/cost";
import { type AiFeature, toolAllowed } from "../../domain/ai/features";
import { PRESCREEN_REFUSAL, PRESCREEN_SYSTEM, refusalFor } from "../../domain/ai/refusal";
import {
  quoteUntrusted,
  redactSecrets,
  type ScreeningReason,
  screenContent,
  screenUserText,
} from "../../domain/ai/screening";
import { formatMoney } from "../../domain/money";
import { type AiOutcome, aiSpend, insertAiUsage } from "../../store/ai";
import { loadCostCatalog } from "../../store/catalog";
import { ApiError } from "../problem";
import { aiConfig, resolveAiKey } from "./keys";

/** A tool a feature offers: its input schema (zod; sent to the model as JSON Schema) and what
 * Aforo does when the model calls it. `run` gets the parsed input only. */
export interface AiTool<S extends z.ZodType = z.ZodType> {
  name: string;
  description: string;
  input: S;
  run: (input: z.output<S>) => unknown | Promise<unknown>;
}

/** Keeps a tool's `run` typed by its own schema inside a list of tools. */
export const defineTool = <S extends z.ZodType>(tool: AiTool<S>): AiTool => tool as AiTool;

export interface AiRequest {
  tenantId: string;
  feature: AiFeature;
  system: string;
  /** What the person typed (screened as user text). */
  prompt: string;
  /** Earlier turns of the conversation, oldest first. */
  history?: ReadonlyArray<{ role: "user" | "assistant"; text: string }>;
  /** Content the feature fetched or read from storage (screened and quoted as data). */
  content?: ReadonlyArray<{ source: string; text: string }>;
  tools?: readonly AiTool[];
  /** Output tokens per call (default 1024); also the estimate's output. */
  maxTokens?: number;
  /** Model calls in the tool loop (default 6). */
  maxTurns?: number;
  signal?: AbortSignal;
  /** Asks the model first, in a separate short call, whether the request is an injection the
   * heuristics missed (costs one small call; for features that read much outside text). */
  prescreen?: boolean;
  /** Streams the model's text as it arrives (the call then uses SSE). */
  onText?: (delta: string) => void;
}

export interface ToolCall {
  name: string;
  input: unknown;
  outcome: "ran" | "refused" | "invalid_input" | "failed";
  result?: unknown;
}

export type AiResult =
  | { kind: "no_key"; reason: string }
  | { kind: "refused"; reason: ScreeningReason | "model_prescreen"; message: string }
  | { kind: "capped"; message: string; spent_nanos: bigint; cap_nanos: bigint }
  | { kind: "error"; message: string; status: number | null; aborted: boolean }
  | {
      kind: "ok";
      text: string;
      tool_calls: ToolCall[];
      model: string;
      turns: number;
      usage: TokenUsage;
      cost_nanos: bigint;
      key_source: "tenant" | "deployment";
    };

const DEFAULT_MAX_TOKENS = 1024;
const DEFAULT_MAX_TURNS = 6;
/** The SDK's own retries of 429, 529 and 5xx (client.js shouldRetry), with its backoff. */
const MAX_RETRIES = 2;

/** The problem a route answers for a result that is neither "ok" nor "no_key". */
export function aiProblem(result: Exclude<AiResult, { kind: "ok" | "no_key" }>): ApiError {
  if (result.kind === "refused") return new ApiError("ai_refused", result.message);
  if (result.kind === "capped") return new ApiError("ai_cap_reached", result.message);
  if (result.status === 429) return new ApiError("rate_limited", result.message);
  // The workspace's key was rejected: its settings need fixing, retrying will not help.
  if (result.status === 401 || result.status === 403) {
    return new ApiError("unprocessable", result.message);
  }
  if (result.status === null || result.status >= 500) {
    return new ApiError("unavailable", result.message);
  }
  return new ApiError("upstream_failed", result.message);
}

type LogEntry = Partial<TokenUsage> & {
  outcome: AiOutcome;
  cost_nanos?: bigint;
  latency_ms?: number;
  attempts?: number;
  refusal_reason?: string | null;
  request_id?: string | null;
};

let logSequence = 0;
/** Log ids sort in the order the rows were written within this isolate (rows of one run share
 * a millisecond often), so the usage page lists a run's calls and refusals in order. */
const logId = () =>
  `${Date.now().toString(36).padStart(9, "0")}${(logSequence++ % 1_679_616).toString(36).padStart(4, "0")}${crypto.randomUUID().slice(0, 8)}`;

export async function runAiFeature(env: Env, req: AiRequest): Promise<AiResult> {
  const key = await resolveAiKey(env, req.tenantId);
  if (!key.ok) return { kind: "no_key", reason: key.reason };
  const config = await aiConfig(env, req.tenantId);
  const model = config.model;
  const log = (e: LogEntry) =>
    insertAiUsage(env.DB, req.tenantId, {
      id: logId(),
      at: Date.now(),
      feature: req.feature,
      model,
      ...NO_TOKENS,
      cost_nanos: 0n,
      latency_ms: 0,
      attempts: 0,
      refusal_reason: null,
      request_id: null,
      ...e,
    });

  for (const text of [
    req.prompt,
    ...(req.history ?? []).filter((t) => t.role === "user").map((t) => t.text),
  ]) {
    const screened = screenUserText(text);
    if (screened.reason) {
      const refusal = refusalFor(screened.reason);
      await log({ outcome: "refused", refusal_reason: refusal.reason });
      return { kind: "refused", reason: screened.reason, message: refusal.message };
    }
  }

  const rate = rateFor(await loadCostCatalog(env.DB, req.tenantId), model, Date.now());
  if (!rate) {
    const message = `Model ${model} has no price: add anthropic/${model} to the cost catalog so the daily cap can hold its calls`;
    await log({ outcome: "error", refusal_reason: message });
    return { kind: "error", message, status: null, aborted: false };
  }

  const secrets = [
    key.apiKey,
    env.AFORO_SECRETS_KEY,
    env.AFORO_ADMIN_TOKEN,
    env.ANTHROPIC_API_KEY,
  ].filter((s): s is string => typeof s === "string");
  const clean = (text: string) => redactSecrets(text, secrets);

  const quoted: string[] = [];
  for (const item of req.content ?? []) {
    const screened = screenContent(item.text);
    if (screened.reason) {
      await log({
        outcome: "refused",
        refusal_reason: `neutralised ${screened.reason} in content from ${item.source.slice(0, 200)}`,
      });
    }
    quoted.push(quoteUntrusted(item.source, clean(item.text)));
  }

  const offered = (req.tools ?? []).filter((t) => toolAllowed(req.feature, t.name));
  const toolParams: Tool[] = offered.map((t) => ({
    name: t.name,
    description: t.description,
    input_schema: z.toJSONSchema(t.input, { io: "input" }) as Tool["input_schema"],
  }));
  const messages: MessageParam[] = [
    ...(req.history ?? []).map((t) => ({ role: t.role, content: clean(t.text) })),
    { role: "user", content: [...quoted, clean(req.prompt)].join("\n\n") },
  ];

  let attempts = 0;
  let requestId: string | null = null;
  const client = new Anthropic({
    apiKey: key.apiKey,
    baseURL: env.ANTHROPIC_BASE_URL?.trim() || undefined,
    maxRetries: MAX_RETRIES,
    timeout: 60_000,
    // Counts the HTTP attempts (the SDK's retries included) and keeps the answer's request id.
    fetch: async (input, init) => {
      attempts++;
      const res = await fetch(input, init);
      requestId = res.headers.get("request-id") ?? requestId;
      return res;
    },
  });

  const maxTokens = req.maxTokens ?? DEFAULT_MAX_TOKENS;
  const system = clean(req.system);
  const total: TokenUsage = { ...NO_TOKENS };
  let totalCost = 0n;
  const toolCalls: ToolCall[] = [];
  const texts: string[] = [];
  const maxTurns = req.maxTurns ?? DEFAULT_MAX_TURNS;

  /** One Messages API call: the cap checked from its estimate, the reported usage priced and
   * logged either way it ends. */
  const callModel = async (
    params: MessageCreateParamsNonStreaming,
    stream: boolean,
  ): Promise<{ message: Message } | { failed: AiResult }> => {
    const capped = await capCheck(env, req.tenantId, config.daily_cap_nanos, rate, params);
    if (capped) {
      await log({ outcome: "capped", refusal_reason: capped.message });
      return { failed: capped };
    }
    attempts = 0;
    requestId = null;
    const started = Date.now();
    let message: Message;
    try {
      message = stream
        ? await client.messages
            .stream(params, { signal: req.signal })
            .on("text", (delta) => req.onText?.(delta))
            .finalMessage()
        : await client.messages.create(params, { signal: req.signal });
    } catch (err) {
      const failure = describeFailure(err);
      await log({
        outcome: "error",
        latency_ms: Date.now() - started,
        attempts,
        refusal_reason: failure.message,
        request_id: requestId,
      });
      return { failed: { kind: "error", ...failure } };
    }
    const usage = usageOf(message);
    const cost = costOf(rate, usage);
    for (const k of Object.keys(total) as (keyof TokenUsage)[]) total[k] += usage[k];
    totalCost += cost;
    await log({
      outcome: "ok",
      ...usage,
      cost_nanos: cost,
      latency_ms: Date.now() - started,
      attempts,
      request_id: requestId,
    });
    return { message };
  };

  if (req.prescreen) {
    const verdict = await callModel(
      {
        model,
        max_tokens: 8,
        system: PRESCREEN_SYSTEM,
        messages: [
          {
            role: "user",
            content: quoteUntrusted(
              "request",
              messages.map((m) => (typeof m.content === "string" ? m.content : "")).join("\n\n"),
            ),
          },
        ],
      },
      false,
    );
    if ("failed" in verdict) return verdict.failed;
    const answer = verdict.message.content.map((b) => (b.type === "text" ? b.text : "")).join("");
    if (!/^\s*SAFE\b/i.test(answer)) {
      await log({
        outcome: "refused",
        refusal_reason: `${PRESCREEN_REFUSAL.reason}: answered ${JSON.stringify(answer.slice(0, 40))}`,
      });
      return { kind: "refused", reason: "model_prescreen", message: PRESCREEN_REFUSAL.message };
    }
  }

  for (let turn = 1; turn <= maxTurns; turn++) {
    const params: MessageCreateParamsNonStreaming = {
      model,
      max_tokens: maxTokens,
      system,
      messages,
      ...(toolParams.length ? { tools: toolParams } : {}),
    };
    const called = await callModel(params, req.onText !== undefined);
    if ("failed" in called) return called.failed;
    const message = called.message;

    for (const block of message.content) if (block.type === "text") texts.push(block.text);
    const uses = message.content.filter((b) => b.type === "tool_use");
    if (message.stop_reason !== "tool_use" || uses.length === 0) {
      return {
        kind: "ok",
        text: texts.join(""),
        tool_calls: toolCalls,
        model,
        turns: turn,
        usage: total,
        cost_nanos: totalCost,
        key_source: key.source,
      };
    }

    const results: ToolResultBlockParam[] = [];
    for (const use of uses) {
      const tool = offered.find((t) => t.name === use.name);
      if (!tool) {
        toolCalls.push({ name: use.name, input: use.input, outcome: "refused" });
        await log({
          outcome: "refused",
          refusal_reason: `tool_not_allowed: ${use.name.slice(0, 100)} is not in ${req.feature}'s allow-list`,
        });
        results.push(errorResult(use.id, `Tool ${use.name} is not available here.`));
        continue;
      }
      const parsed = tool.input.safeParse(use.input);
      if (!parsed.success) {
        toolCalls.push({ name: use.name, input: use.input, outcome: "invalid_input" });
        const issues = parsed.error.issues.map(
          (i) => `${i.path.join(".") || "input"}: ${i.message}`,
        );
        results.push(errorResult(use.id, `Invalid input: ${issues.join("; ")}`));
        continue;
      }
      let output: unknown;
      try {
        output = await tool.run(parsed.data);
      } catch (err) {
        toolCalls.push({ name: use.name, input: parsed.data, outcome: "failed" });
        results.push(errorResult(use.id, `The tool failed: ${(err as Error).message}`));
        continue;
      }
      toolCalls.push({ name: use.name, input: parsed.data, outcome: "ran", result: output });
      const text = clean(typeof output === "string" ? output : JSON.stringify(output ?? null));
      const screened = screenContent(text);
      if (screened.reason) {
        await log({
          outcome: "refused",
          refusal_reason: `neutralised ${screened.reason} in the result of ${use.name}`,
        });
      }
      results.push({
        type: "tool_result",
        tool_use_id: use.id,
        content: screened.reason ? quoteUntrusted(`tool ${use.name}`, text) : text,
      });
    }
    messages.push({ role: "assistant", content: message.content as ContentBlockParam[] });
    messages.push({ role: "user", content: results });
  }

  const message = `The model was still calling tools after ${maxTurns} calls; stopped`;
  await log({ outcome: "error", refusal_reason: message });
  return { kind: "error", message, status: null, aborted: false };
}

const errorResult = (id: string, text: string): ToolResultBlockParam => ({
  type: "tool_result",
  tool_use_id: id,
  content: text,
  is_error: true,
});

/** Refuses the call when its estimate does not fit under the cap after today's spend. */
async function capCheck(
  env: Env,
  tenantId: string,
  cap: bigint,
  rate: ModelRate,
  params: MessageCreateParamsNonStreaming,
): Promise<Extract<AiResult, { kind: "capped" }> | null> {
  const promptChars =
    JSON.stringify(params.system ?? "").length +
    JSON.stringify(params.messages).length +
    JSON.stringify(params.tools ?? []).length;
  const now = Date.now();
  const day = utcDay(now);
  const spent = await aiSpend(env.DB, tenantId, day.start, day.end);
  const check = checkCap(spent, cap, estimateCost(rate, promptChars, params.max_tokens));
  if (check.ok) return null;
  return {
    kind: "capped",
    message: capMessage(check),
    spent_nanos: check.spent_nanos,
    cap_nanos: check.cap_nanos,
  };
}

function usageOf(message: Message): TokenUsage {
  const u = message.usage;
  return {
    input_tokens: u.input_tokens ?? 0,
    output_tokens: u.output_tokens ?? 0,
    cache_read_tokens: u.cache_read_input_tokens ?? 0,
    cache_write_tokens: u.cache_creation_input_tokens ?? 0,
  };
}

function describeFailure(err: unknown): {
  message: string;
  status: number | null;
  aborted: boolean;
} {
  if (err instanceof Anthropic.APIUserAbortError) {
    return { message: "The call was aborted", status: null, aborted: true };
  }
  if (err instanceof Anthropic.APIError) {
    const status = typeof err.status === "number" ? err.status : null;
    const detail =
      status === 401
        ? "the Anthropic key was rejected (401); set a valid key under Settings → AI"
        : status === 529
          ? "the Messages API is overloaded (529) and stayed so through the retries"
          : status === 429
            ? "the Messages API rate-limited the call (429) through the retries"
            : `${status ?? "no answer"}: ${err.message.slice(0, 300)}`;
    return { message: `The AI call failed: ${detail}`, status, aborted: false };
  }
  return { message: `The AI call failed: ${(err as Error).message}`, status: null, aborted: false };
}

/** Exact USD of nanos for the API ("0.000123"). */
export const usd = (nanos: bigint) => formatMoney(nanos, 2);
