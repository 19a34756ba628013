import { createRoute, z } from "@hono/zod-openapi";
import { MAX_PRICING_TEXT, parsePricing } from "../../domain/copilot/pricing-parser";
import { createRouter } from "../app";
import { permit } from "../permit";
import { problemResponses } from "../problem";
import { jsonBody, jsonResponse } from "../schemas";
import { PlanComponent } from "./plans";

// The copilot's deterministic engines (SPEC §8 AI copilot, issue 18), the part that works with
// no key: POST /api/copilot/pricing/parse turns plain English into a proposal the catalog API
// accepts as it is (domain/copilot/pricing-parser.ts). It reads and stores nothing of the
// tenant — creating the proposal's product, metrics and plan is the catalog routes' job, under
// pricing:write — so `read` is enough: a viewer may ask what a sentence would configure.
export const copilot = createRouter();

const ComponentType = z.enum([
  "flat",
  "per_unit",
  "tiered",
  "package",
  "included",
  "discount",
  "minimum",
]);

const PendingComponentSchema = z.object({
  clarification: z.string(),
  missing: z.array(z.string()),
  component: z
    .object({ type: ComponentType, metric: z.string().optional() })
    .catchall(z.unknown())
    .openapi({
      description: "The component's known fields; the missing ones wait for the clarification",
    }),
});

export const PricingProposalSchema = z.object({
  product: z.object({ id: z.string(), name: z.string() }).optional(),
  metrics: z.array(
    z.object({
      id: z.string(),
      unit: z.string(),
      aggregation: z.enum(["sum", "count", "max", "unique_count"]),
    }),
  ),
  plans: z.array(
    z.object({
      id: z.string(),
      name: z.string(),
      currency: z.string(),
      period: z.enum(["month", "year"]),
      components: z.array(PlanComponent),
      pending: z.array(PendingComponentSchema),
    }),
  ),
  notes: z.array(z.string()),
});

export const PricingClarificationSchema = z.object({
  id: z.string(),
  word: z.string(),
  question: z.string(),
  choices: z.array(z.string()),
});

export const PricingParseSchema = z
  .object({
    proposal: PricingProposalSchema,
    clarifications: z.array(PricingClarificationSchema),
    confidence: z.number().min(0).max(1),
  })
  .openapi("PricingParseResult");

const ParseRequest = z
  .object({
    text: z
      .string()
      .trim()
      .min(1, 'describe the pricing, e.g. "$2K platform fee, $0.002 per 1,000 requests"')
      .max(MAX_PRICING_TEXT, `at most ${MAX_PRICING_TEXT} characters`)
      .openapi({
        example: "$2K platform fee, $10 per million tokens, 15% volume discount above 1M",
      }),
  })
  .strict();

copilot.openapi(
  createRoute(
    permit("read", null, {
      method: "post",
      path: "/copilot/pricing/parse",
      tags: ["copilot"],
      summary: "Plain-English pricing → a plan proposal",
      description:
        "The deterministic pricing parser (no model, no key): metrics and a plan whose components POST /api/plans accepts as they are, clarifications where the text is ambiguous (never a guess), components waiting for an answer in `pending`, and a confidence for how much of the text was recognised. See docs/copilot.md for the grammar.",
      security: [{ operatorToken: [] }],
      request: { body: jsonBody(ParseRequest) },
      responses: { 200: jsonResponse(PricingParseSchema, "The proposal"), ...problemResponses },
    }),
  ),
  // Through the response schema: the parser's amounts are already decimal strings, and this
  // holds every proposal to the plan API's own component schema.
  (c) => c.json(PricingParseSchema.parse(parsePricing(c.req.valid("json").text)), 200),
);
