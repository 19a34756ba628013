import { createRoute, z } from "@hono/zod-openapi";
import { rateFor, utcDay } from "../../domain/ai/cost";
import { AI_FEATURE_NAMES } from "../../domain/ai/features";
import { toNanos } from "../../domain/money";
import { aiSpend, listAiUsage, putAiSettings } from "../../store/ai";
import { loadCostCatalog } from "../../store/catalog";
import { aiConfig, sealAiKey } from "../ai/keys";
import { aiProblem, runAiFeature, usd } from "../ai/run";
import { createRouter } from "../app";
import { permit } from "../permit";
import { ApiError, ProblemSchema, problemResponses } from "../problem";
import { iso, jsonBody, jsonResponse, Timestamp } from "../schemas";

// The AI platform's settings and log (SPEC §12 `PUT /api/ai/settings` · `GET /api/ai/usage`;
// docs/ai.md). The key is write-only: sealed on the way in, shown afterwards as its last four
// characters. Changing settings (and the key check, which spends money) needs `ai:manage`;
// reading the usage log is `read`.
export const ai = createRouter();

const security = [{ operatorToken: [] }];
const problem = { "application/problem+json": { schema: ProblemSchema } };
const aiProblems = {
  422: {
    description: "Screening refused the request, or the Messages API rejected the key",
    content: problem,
  },
  429: { description: "The daily AI cost cap, or the Messages API's rate limit", content: problem },
  502: { description: "The Messages API refused the call", content: problem },
  503: { description: "The Messages API is unreachable or overloaded", content: problem },
} as const;

/** USD with at most 9 places (nanos), at most $1M a day. */
const CAP_USD = /^\d{1,7}(\.\d{1,9})?$/;
const CapUsd = z
  .string()
  .regex(CAP_USD, 'a USD amount such as "5" or "12.50", at most 9 decimal places')
  // zod runs a refinement even after the regex failed: only a well-formed amount is converted.
  .refine((v) => !CAP_USD.test(v) || toNanos(v) <= toNanos("1000000"), "at most 1000000 USD a day")
  .openapi({ example: "5.00" });

const Model = z
  .string()
  .trim()
  .regex(/^claude-[a-z0-9.-]{1,80}$/, "an Anthropic model id such as claude-sonnet-4-5")
  .openapi({ example: "claude-sonnet-4-5" });

const SettingsOut = z
  .object({
    model: z.string(),
    daily_cost_cap_usd: z.string(),
    key: z.object({ set: z.boolean(), last4: z.string().optional() }),
    source: z.enum(["tenant", "deployment", "none"]).openapi({
      description:
        "Which key the AI features use: the workspace's own, the deployment's default, or none (every feature runs its deterministic engine)",
    }),
    rates: z.enum(["catalog", "default"]).nullable().openapi({
      description:
        "Where the model's price comes from: the cost catalog's anthropic/<model> entry, or Aforo's built-in Claude list prices; null when neither prices it",
    }),
  })
  .openapi("AiSettings");

const SettingsIn = z
  .object({
    api_key: z
      .string()
      .trim()
      .min(20, "an Anthropic API key (sk-ant-…)")
      .max(300)
      .regex(/^[\x21-\x7e]+$/, "printable characters without spaces")
      .nullable()
      .optional()
      .openapi({ description: "Write-only. null removes the workspace's key" }),
    model: Model.optional(),
    daily_cost_cap_usd: CapUsd.optional(),
  })
  .strict();

async function settingsOut(env: Env, tenantId: string) {
  const config = await aiConfig(env, tenantId);
  const rate = rateFor(await loadCostCatalog(env.DB, tenantId), config.model, Date.now());
  return {
    model: config.model,
    daily_cost_cap_usd: usd(config.daily_cap_nanos),
    key: config.key_last4 === null ? { set: false } : { set: true, last4: config.key_last4 },
    source: config.source,
    rates: rate?.source ?? null,
  };
}

ai.openapi(
  createRoute({
    method: "get",
    path: "/ai/settings",
    tags: ["ai"],
    summary: "The workspace's AI settings (never the key)",
    security,
    responses: { 200: jsonResponse(SettingsOut, "The settings"), ...problemResponses },
  }),
  async (c) => c.json(await settingsOut(c.env, c.var.tenantId), 200),
);

ai.openapi(
  createRoute(
    permit("ai:manage", "ai_settings.update", {
      method: "put",
      path: "/ai/settings",
      tags: ["ai"],
      summary: "Set the Anthropic key, model and daily cost cap",
      description:
        "Fields left out keep their value. The key is sealed under AFORO_SECRETS_KEY and never returned; `api_key: null` removes it. The model must be priceable (a cost catalog entry anthropic/<model>, or one of Aforo's built-in Claude prices) so the cap can hold its calls.",
      security,
      request: { body: jsonBody(SettingsIn) },
      responses: {
        200: jsonResponse(SettingsOut, "The settings after the change"),
        ...problemResponses,
        503: { description: "AFORO_SECRETS_KEY is not configured", content: problem },
      },
    }),
  ),
  async (c) => {
    const body = c.req.valid("json");
    const tenantId = c.var.tenantId;
    const current = await aiConfig(c.env, tenantId);
    const model = body.model ?? current.model;
    if (body.model && !rateFor(await loadCostCatalog(c.env.DB, tenantId), model, Date.now())) {
      throw new ApiError(
        "validation_failed",
        `model: ${model} has no price; add anthropic/${model} to the cost catalog first`,
        [
          {
            path: "model",
            message: "no price for this model in the cost catalog or Aforo's defaults",
          },
        ],
      );
    }
    let key: { sealed: string; last4: string } | null | undefined;
    if (body.api_key === null) key = null;
    else if (body.api_key !== undefined) {
      const sealed = await sealAiKey(c.env, tenantId, body.api_key);
      if (!sealed.ok) throw new ApiError("unavailable", sealed.detail);
      key = { sealed: sealed.value, last4: body.api_key.slice(-4) };
    }
    await putAiSettings(
      c.env.DB,
      tenantId,
      {
        model,
        daily_cap_nanos:
          body.daily_cost_cap_usd === undefined
            ? current.daily_cap_nanos
            : toNanos(body.daily_cost_cap_usd),
        ...(key === undefined ? {} : { key }),
      },
      Date.now(),
    );
    return c.json(await settingsOut(c.env, tenantId), 200);
  },
);

const KeyCheckOut = z
  .object({
    result: z.enum(["ok", "no_key"]),
    source: z.enum(["tenant", "deployment", "none"]),
    model: z.string(),
    detail: z.string(),
    cost_usd: z.string(),
  })
  .openapi("AiKeyCheck");

ai.openapi(
  createRoute(
    permit("ai:manage", "ai_settings.test", {
      method: "post",
      path: "/ai/settings/test",
      tags: ["ai"],
      summary: "Check the key with one short call",
      description:
        "One call of a few tokens through the AI platform (logged, priced, under the cap) to show the key and model work. With no key it says so and calls nothing.",
      security,
      responses: {
        200: jsonResponse(KeyCheckOut, "The check's outcome"),
        ...problemResponses,
        ...aiProblems,
      },
    }),
  ),
  async (c) => {
    const tenantId = c.var.tenantId;
    const config = await aiConfig(c.env, tenantId);
    const result = await runAiFeature(c.env, {
      tenantId,
      feature: "key_check",
      system: "You are checking that an API key works. Answer with one word.",
      prompt: "Reply with the word ok.",
      maxTokens: 16,
      maxTurns: 1,
      signal: c.req.raw.signal,
    });
    if (result.kind === "no_key") {
      return c.json(
        {
          result: "no_key" as const,
          source: "none" as const,
          model: config.model,
          detail: `${result.reason}: the AI features run their deterministic engines`,
          cost_usd: "0.00",
        },
        200,
      );
    }
    if (result.kind !== "ok") throw aiProblem(result);
    return c.json(
      {
        result: "ok" as const,
        source: result.key_source,
        model: result.model,
        detail: `The Messages API answered ${JSON.stringify(result.text.slice(0, 40))}`,
        cost_usd: usd(result.cost_nanos),
      },
      200,
    );
  },
);

const UsageRow = z.object({
  id: z.string(),
  at: z.string(),
  feature: z.string(),
  model: z.string(),
  input_tokens: z.number().int(),
  output_tokens: z.number().int(),
  cache_read_tokens: z.number().int(),
  cache_write_tokens: z.number().int(),
  cost_usd: z.string(),
  latency_ms: z.number().int(),
  attempts: z.number().int().openapi({ description: "HTTP attempts, the SDK's retries included" }),
  outcome: z.enum(["ok", "refused", "error", "capped"]),
  refusal_reason: z.string().nullable(),
  request_id: z.string().nullable(),
});

const UsageOut = z
  .object({
    data: z.array(UsageRow),
    today: z.object({
      day: z.string().openapi({ description: "The UTC day the cap counts" }),
      spent_usd: z.string(),
      cap_usd: z.string(),
      remaining_usd: z.string(),
    }),
  })
  .openapi("AiUsage");

const UsageQuery = z.object({
  from: Timestamp.optional().openapi({ description: "Default: 00:00 UTC today" }),
  to: Timestamp.optional().openapi({ description: "Exclusive; default: now" }),
  feature: z.enum(AI_FEATURE_NAMES).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

ai.openapi(
  createRoute({
    method: "get",
    path: "/ai/usage",
    tags: ["ai"],
    summary: "The AI usage log and today's spend against the cap",
    description:
      "One row per Messages API call (tokens as reported, cost priced from the cost catalog, latency, HTTP attempts, request id) and per refusal (screening, the cap, a tool outside the feature's allow-list), newest first.",
    security,
    request: { query: UsageQuery },
    responses: { 200: jsonResponse(UsageOut, "Rows and today's spend"), ...problemResponses },
  }),
  async (c) => {
    const q = c.req.valid("query");
    const tenantId = c.var.tenantId;
    const now = Date.now();
    const day = utcDay(now);
    const from = q.from ?? day.start;
    const to = q.to ?? now + 1;
    if (from >= to) {
      throw new ApiError("validation_failed", "from must be before to", [
        { path: "query.from", message: "must be before to" },
      ]);
    }
    const [rows, spent, config] = await Promise.all([
      listAiUsage(c.env.DB, tenantId, { from, to, feature: q.feature, limit: q.limit }),
      aiSpend(c.env.DB, tenantId, day.start, day.end),
      aiConfig(c.env, tenantId),
    ]);
    const remaining = config.daily_cap_nanos - spent;
    return c.json(
      {
        data: rows.map(({ cost_nanos, at, ...r }) => ({
          ...r,
          at: iso(at) ?? "",
          cost_usd: usd(cost_nanos),
        })),
        today: {
          day: new Date(day.start).toISOString().slice(0, 10),
          spent_usd: usd(spent),
          cap_usd: usd(config.daily_cap_nanos),
          remaining_usd: usd(remaining > 0n ? remaining : 0n),
        },
      },
      200,
    );
  },
);
