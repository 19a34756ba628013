import { createRoute, z } from "@hono/zod-openapi";
import { RUNGS } from "../../domain/ladder";
import { type ActionRecord, listSteps, type StepRecord } from "../../store/actions";
import { createRouter } from "../app";
import { orThrow } from "../http-result";
import { executeAction, reverseAction } from "../ladder";
import { permit } from "../permit";
import { conflictResponse, problemResponses } from "../problem";
import { decodeCursor, Id, iso, jsonResponse, page, pageOf } from "../schemas";

// Respond (SPEC §6): the action ladder's trail, and executing or reversing an action by hand.
export const actions = createRouter();
const security = [{ operatorToken: [] }];

const Rung = z.enum(RUNGS);
// no_channel: an ALERT that reached nobody, since no channel was enabled (README "Alerts").
const ActionState = z.enum(["queued", "executed", "reversed", "failed", "no_channel"]);

export const Step = z
  .object({
    id: z.number(),
    action_id: z.string(),
    signal_id: z.string(),
    customer: z.string(),
    rung: Rung,
    step: ActionState,
    actor: z.string(),
    detail: z.record(z.string(), z.unknown()),
    at: z.string(),
  })
  .openapi("OrchestrationStep");

export const Action = z
  .object({
    id: z.string(),
    signal_id: z.string(),
    customer: z.string(),
    product: z.string().nullable(),
    rung: Rung,
    state: ActionState,
    detail: z.record(z.string(), z.unknown()),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("Action");

export const toAction = (a: ActionRecord): z.infer<typeof Action> => ({
  id: a.id,
  signal_id: a.signal_id,
  customer: a.customer_id,
  product: a.product_id,
  rung: a.rung,
  state: a.state,
  detail: a.detail,
  created_at: iso(a.created_at) ?? "",
  updated_at: iso(a.updated_at) ?? "",
});

export const toStep = (s: StepRecord): z.infer<typeof Step> => ({
  id: s.id,
  action_id: s.action_id,
  signal_id: s.signal_id,
  customer: s.customer_id,
  rung: s.rung,
  step: s.step,
  actor: s.actor,
  detail: s.detail,
  at: iso(s.at) ?? "",
});

actions.openapi(
  createRoute({
    method: "get",
    path: "/actions",
    tags: ["detection"],
    summary: "The orchestration_actions trail: every queued, executed, reversed and failed step",
    security,
    request: {
      query: z.object({
        action: z.string().max(64).optional(),
        signal: z.string().max(64).optional(),
        customer: Id.optional(),
        step: ActionState.optional(),
        limit: z.coerce.number().int().min(1).max(500).default(100),
        cursor: z.string().max(64).optional(),
      }),
    },
    responses: {
      200: jsonResponse(page(Step), "Steps, newest first"),
      ...problemResponses,
    },
  }),
  async (c) => {
    const q = c.req.valid("query");
    const before = decodeCursor(q.cursor, ["row"])?.[0] ?? null;
    const steps = await listSteps(c.env.DB, c.var.tenantId, q, before, q.limit + 1);
    return c.json(
      pageOf(steps, q.limit, toStep, (s) => [s.id]),
      200,
    );
  },
);

for (const verb of ["execute", "reverse"] as const) {
  actions.openapi(
    createRoute(
      permit("cases:work", `action.${verb}`, {
        method: "post",
        path: `/actions/{id}/${verb}`,
        tags: ["detection"],
        summary:
          verb === "execute"
            ? "Execute a queued (or reversed, or failed) action by hand"
            : "Reverse an executed action (unthrottle, unblock, undo the trial extension or coupon)",
        security,
        request: { params: z.object({ id: z.string().max(64) }) },
        responses: {
          200: jsonResponse(Action, "The action after this step"),
          ...problemResponses,
          ...conflictResponse,
        },
      }),
    ),
    async (c) => {
      const { id } = c.req.valid("param");
      const run = verb === "execute" ? executeAction : reverseAction;
      const action = orThrow(await run(c.env, c.var.tenantId, id, c.var.actor.ref));
      return c.json(toAction(action), 200);
    },
  );
}
