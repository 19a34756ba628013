import { createRoute, z } from "@hono/zod-openapi";
import type { PricingPreview } from "../../contracts/copilot";
import { formatMoney, formatQuantity, toMicros } from "../../domain/money";
import { compilePlan, PlanError, periodCharges } from "../../domain/pricing";
import { DAY_MS } from "../../domain/time";
import { createRouter } from "../app";
import { permit } from "../permit";
import { type FieldError, problemResponses, validationError } from "../problem";
import { Amount, Id, jsonBody, jsonResponse } from "../schemas";
import { PlanComponent } from "./plans";

// POST /api/pricing/preview: what a set of plan components charges for a usage scenario, from
// the pricing engine itself (domain/pricing.ts periodCharges) — the plan wizard's live preview,
// the copilot's estimate_cost tool, and how a parsed proposal is checked against a hand
// computation. It stores nothing and reads nothing of the tenant, so `read` is enough: a viewer
// may price a scenario, only pricing:write may create the plan.
export const pricingPreview = createRouter();

/** Days in the period a preview prorates against: a nominal month and year, so `days` reads
 * the same whatever the calendar. */
const PERIOD_DAYS = { month: 30, year: 365 } as const;
const MAX_USAGE_METRICS = 100;

export const PreviewRequest = z
  .object({
    currency: z
      .string()
      .regex(/^[A-Z]{3}$/, "an ISO 4217 code such as USD")
      .default("USD"),
    period: z.enum(["month", "year"]).default("month"),
    components: z.array(PlanComponent).min(1).max(50),
    usage: z
      .record(Id, Amount)
      .default({})
      .openapi({
        description: "Metered quantity per metric for the period (decimal, at most 6 places)",
        example: { tokens: "3000000" },
      }),
    days: z.number().int().min(1).max(PERIOD_DAYS.year).optional().openapi({
      description:
        "Days of the period the plan is active (prorates the flat fee and the minimum); a month counts 30 days, a year 365. Omitted: the whole period.",
    }),
  })
  .strict();

const PreviewLine = z.object({
  component_index: z.number().int().nullable(),
  type: z.string(),
  metric: z.string().optional(),
  quantity: z.string(),
  amount: z.string(),
  description: z.string(),
});

export const PricingPreviewSchema = z
  .object({
    currency: z.string(),
    period: z.enum(["month", "year"]),
    total: z.string(),
    subtotal: z.string(),
    minimum_topup: z.string(),
    lines: z.array(PreviewLine),
    unpriced_metrics: z.array(z.string()),
  })
  .openapi("PricingPreview");

pricingPreview.openapi(
  createRoute(
    permit("read", null, {
      method: "post",
      path: "/pricing/preview",
      tags: ["catalog"],
      summary: "Price a usage scenario with plan components",
      description:
        "Runs the pricing engine on the components for one period of the given usage: the lines an invoice would carry and its total (rounded to the currency's minor unit). Components are validated as POST /api/plans validates them.",
      security: [{ operatorToken: [] }],
      request: { body: jsonBody(PreviewRequest) },
      responses: {
        200: jsonResponse(PricingPreviewSchema, "The priced scenario"),
        ...problemResponses,
      },
    }),
  ),
  (c) => c.json(previewPricing(c.req.valid("json")), 200),
);

/** The pricing engine's answer for a preview request, or the validation error POST /api/plans
 * would give its components: the route's body, and the copilot's estimate_cost tool. */
export function previewPricing(body: z.output<typeof PreviewRequest>): PricingPreview {
  const errors: FieldError[] = [];
  const entries = Object.entries(body.usage);
  if (entries.length > MAX_USAGE_METRICS) {
    errors.push({ path: "usage", message: `at most ${MAX_USAGE_METRICS} metrics` });
  }
  const usage = new Map<string, bigint>();
  for (const [metric, value] of entries) {
    try {
      usage.set(metric, toMicros(value));
    } catch {
      errors.push({
        path: `usage.${metric}`,
        message: "a quantity with at most 6 decimal places",
      });
    }
  }
  const periodDays = PERIOD_DAYS[body.period];
  const days = body.days ?? periodDays;
  if (days > periodDays) {
    errors.push({ path: "days", message: `at most ${periodDays} in a ${body.period}` });
  }
  let plan: ReturnType<typeof compilePlan> | null = null;
  try {
    plan = compilePlan({
      id: "preview",
      currency: body.currency,
      interval: body.period,
      components: body.components,
    });
  } catch (err) {
    if (!(err instanceof PlanError)) throw err;
    errors.push(...err.issues);
  }
  if (errors.length > 0 || plan === null) throw validationError(errors);
  const end = periodDays * DAY_MS;
  const charges = periodCharges(plan, {
    usage,
    periodStart: 0,
    periodEnd: end,
    activeFrom: 0,
    activeTo: days * DAY_MS,
  });
  return {
    currency: body.currency,
    period: body.period,
    total: formatMoney(charges.total),
    subtotal: formatMoney(charges.subtotal),
    minimum_topup: formatMoney(charges.minimum_topup),
    lines: charges.lines.map((l) => ({
      component_index: l.component_index,
      type: l.type,
      ...(l.metric === undefined ? {} : { metric: l.metric }),
      quantity: formatQuantity(l.quantity),
      amount: formatMoney(l.amount),
      description: l.description,
    })),
    unpriced_metrics: [...usage.keys()].filter((m) => !plan.metrics.has(m)),
  };
}
