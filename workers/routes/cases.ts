import { createRoute, z } from "@hono/zod-openapi";
import type { StoredEvent } from "../../contracts/events";
import {
  CASE_CLOSE_REASONS,
  CLOSE_REASON_TEXT,
  caseLadder,
  type LadderStep,
  levelLabel,
} from "../../domain/cases";
import { type CaseToExplain, explainCase } from "../../domain/copilot/signal-explainer";
import { DETECTORS, MAX_SOURCE_EVENT_IDS, RUNGS } from "../../domain/detectors";
import { actorName } from "../../durable-objects/customer-actor";
import { stepsOfSignal } from "../../store/actions";
import {
  type CaseRecord,
  caseDeliveryCounts,
  closeCase,
  customerCount,
  getCase,
  listCases,
  openCaseCounts,
  reopenCase,
} from "../../store/cases";
import { loadCustomerPolicies } from "../../store/policies";
import { signalsOfCase } from "../../store/signals";
import { createRouter } from "../app";
import { backfillCases } from "../cases";
import { wordCaseExplanation } from "../copilot/signal-explainer";
import { permit } from "../permit";
import { ApiError, conflictResponse, notFound, problemResponses } from "../problem";
import { decodeCursor, Id, iso, jsonBody, jsonResponse, page, pageOf } from "../schemas";
import { Action, Step, toAction, toStep } from "./actions";
import { SignalSchema, toSignal } from "./signals";

// Cases (issue 12 item 3, SPEC §12): signals grouped into the stories an operator works — one
// open case per customer, detector, scope and period — with every rung of their ladder, their
// signals, actions and source events; resolving and reopening them.
export const cases = createRouter();
const security = [{ operatorToken: [] }];

const Detector = z.enum(DETECTORS as [string, ...string[]]);
const Status = z.enum(["open", "resolved"]);

export const CaseSchema = z
  .object({
    id: z.string(),
    detector: Detector,
    customer: z.string(),
    scope: z
      .string()
      .openapi({ description: "product, product/metric (· direction), or * (the customer)" }),
    product: z.string().nullable(),
    metric: z.string().nullable(),
    direction: z.string().nullable(),
    period: z.object({ start: z.string(), end: z.string() }).nullable(),
    window: z.object({ start: z.string(), end: z.string() }),
    level: z.string().openapi({ description: 'The level reached: "L2", "100 %", "3 h", "−62 %"' }),
    level_rank: z.number(),
    magnitude: z.number(),
    signal_count: z.number().int(),
    latest_signal_id: z.string().nullable(),
    status: Status,
    opened_at: z.string(),
    last_signal_at: z.string(),
    updated_at: z.string(),
    resolution: z
      .object({
        at: z.string(),
        by: z.string(),
        reason: z.enum(CASE_CLOSE_REASONS),
        note: z.string().nullable(),
      })
      .nullable()
      .openapi({ description: "Who or what closed the case, when and why; null while open" }),
  })
  .openapi("Case");

export const LadderStepSchema = z
  .object({
    key: z.string().nullable(),
    label: z.string(),
    rung: z.enum(RUNGS),
    trigger: z.string(),
    state: z.enum(["executed", "no_channel", "queued", "reversed", "failed", "not_reached"]),
    automatic: z.boolean(),
    reached_at: z.string().nullable(),
    signal_ids: z.array(z.string()),
    action_ids: z.array(z.string()),
  })
  .openapi("CaseLadderStep");

export const CaseDetailSchema = CaseSchema.extend({
  ladder: z.array(LadderStepSchema),
  signals: z.array(SignalSchema),
  actions: z.array(Action),
  trail: z.array(Step),
  deliveries: z.object({
    pending: z.number().int(),
    delivered: z.number().int(),
    dead: z.number().int(),
    canceled: z.number().int(),
  }),
  source_events: z.array(z.record(z.string(), z.unknown())),
}).openapi("CaseDetail");

export const CaseSummarySchema = z
  .object({
    open: z.number().int(),
    open_customers: z.number().int(),
    customers: z.number().int(),
    open_per_100_customers: z.number(),
  })
  .openapi("CaseSummary");

const toCase = (c: CaseRecord): z.infer<typeof CaseSchema> => ({
  id: c.id,
  detector: c.detector,
  customer: c.customer,
  scope: c.scope,
  product: c.product,
  metric: c.metric,
  direction: c.direction,
  period: c.period ? { start: iso(c.period.start) ?? "", end: iso(c.period.end) ?? "" } : null,
  window: { start: iso(c.window.start) ?? "", end: iso(c.window.end) ?? "" },
  level: levelLabel(c.detector, c.level_rank),
  level_rank: c.level_rank,
  magnitude: c.magnitude,
  signal_count: c.signal_count,
  latest_signal_id: c.latest_signal_id,
  status: c.status,
  opened_at: iso(c.opened_at) ?? "",
  last_signal_at: iso(c.last_signal_at) ?? "",
  updated_at: iso(c.updated_at) ?? "",
  resolution: c.resolution
    ? {
        at: iso(c.resolution.at) ?? "",
        by: c.resolution.by,
        reason: c.resolution.reason,
        note: c.resolution.note ?? CLOSE_REASON_TEXT[c.resolution.reason],
      }
    : null,
});

const toStepJson = (s: LadderStep): z.infer<typeof LadderStepSchema> => ({
  ...s,
  reached_at: iso(s.reached_at),
});

const SORT_KEY = { magnitude: "number", level: "number", time: "time" } as const;

cases.openapi(
  createRoute({
    method: "get",
    path: "/cases",
    tags: ["detection"],
    summary:
      "Cases: signals grouped per customer, detector, scope and period; sort by magnitude (default), level or latest signal",
    security,
    request: {
      query: z.object({
        detector: Detector.optional(),
        customer: Id.optional(),
        status: Status.optional(),
        sort: z.enum(["magnitude", "level", "time"]).default("magnitude"),
        limit: z.coerce.number().int().min(1).max(200).default(50),
        cursor: z.string().max(256).optional(),
      }),
    },
    responses: {
      200: jsonResponse(page(CaseSchema), "A page of cases"),
      ...problemResponses,
    },
  }),
  async (c) => {
    const q = c.req.valid("query");
    const after = decodeCursor(q.cursor, [SORT_KEY[q.sort], "string"]);
    // A tenant with signals from before cases existed has them grouped on first read.
    await backfillCases(c.env.DB, c.var.tenantId, Date.now());
    const rows = await listCases(c.env.DB, c.var.tenantId, q, q.sort, after, q.limit + 1);
    return c.json(
      pageOf(rows, q.limit, toCase, (r) => [
        q.sort === "magnitude" ? r.magnitude : q.sort === "level" ? r.level_rank : r.last_signal_at,
        r.id,
      ]),
      200,
    );
  },
);

cases.openapi(
  createRoute({
    method: "get",
    path: "/cases/summary",
    tags: ["detection"],
    summary: "The open-case budget: open cases, the customers they concern, per 100 customers",
    security,
    responses: {
      200: jsonResponse(CaseSummarySchema, "Open cases"),
      ...problemResponses,
    },
  }),
  async (c) => {
    await backfillCases(c.env.DB, c.var.tenantId, Date.now());
    const [open, customers] = await Promise.all([
      openCaseCounts(c.env.DB, c.var.tenantId),
      customerCount(c.env.DB, c.var.tenantId),
    ]);
    return c.json(
      {
        open: open.open,
        open_customers: open.customers,
        customers,
        open_per_100_customers:
          customers > 0 ? Math.round((open.open / customers) * 10_000) / 100 : 0,
      },
      200,
    );
  },
);

const IdParam = z.object({ id: z.string().max(64) });

cases.openapi(
  createRoute({
    method: "get",
    path: "/cases/{id}",
    tags: ["detection"],
    summary:
      "A case with every rung of its ladder (executed, queued, not reached yet, and what triggers it), its signals, their actions and trail, deliveries and source events",
    security,
    request: { params: IdParam },
    responses: {
      200: jsonResponse(CaseDetailSchema, "The case"),
      ...problemResponses,
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const detail = await caseDetail(c.env, c.var.tenantId, id);
    if (!detail) throw notFound("Case", id);
    return c.json(detail, 200);
  },
);

/** GET /api/cases/:id's answer: the case, its ladder, signals, actions, trail, deliveries and
 * source events (null: no such case of the tenant). */
async function caseDetail(
  env: Env,
  tenantId: string,
  id: string,
): Promise<z.infer<typeof CaseDetailSchema> | null> {
  const db = env.DB;
  const found = await getCase(db, tenantId, id);
  if (!found) return null;
  const [signals, policies, deliveries] = await Promise.all([
    signalsOfCase(db, tenantId, id),
    loadCustomerPolicies(db, tenantId, found.customer),
    caseDeliveryCounts(db, tenantId, id),
  ]);
  const eventIds = [...new Set(signals.flatMap((s) => s.source_event_ids))].slice(
    0,
    MAX_SOURCE_EVENT_IDS,
  );
  const [events, trails] = await Promise.all([
    eventIds.length > 0
      ? env.CUSTOMER_ACTOR.getByName(actorName(tenantId, found.customer)).eventsByIds(eventIds)
      : Promise.resolve([]),
    Promise.all(signals.slice(0, 50).map((s) => stepsOfSignal(db, tenantId, s.id))),
  ]);
  const ladder = caseLadder(
    found.detector,
    found.direction,
    policies(found.product ?? undefined),
    signals.map((s) => ({
      signal_id: s.id,
      direction: s.direction,
      details: s.details,
      created_at: s.created_at,
      action: s.action ? { id: s.action.id, rung: s.action.rung, state: s.action.state } : null,
    })),
  );
  return {
    ...toCase(found),
    ladder: ladder.map(toStepJson),
    signals: signals.map(toSignal),
    actions: signals.flatMap((s) => (s.action ? [toAction(s.action)] : [])),
    trail: trails
      .flat()
      .sort((a, b) => a.at - b.at || a.id - b.id)
      .map(toStep),
    deliveries,
    source_events: events as StoredEvent[] as unknown as Record<string, unknown>[],
  };
}

const ResolveBody = z
  .object({ note: z.string().trim().min(1).max(500).optional() })
  .openapi("CaseResolution");

const statusRoute = (verb: "resolve" | "reopen") =>
  permit("cases:work", `case.${verb}`, {
    method: "post" as const,
    path: `/cases/{id}/${verb}`,
    tags: ["detection"],
    summary:
      verb === "resolve"
        ? "Close a case that has been dealt with (optionally with a note); its open signals are resolved with it"
        : "Open a resolved case again, with the signals resolved when it closed",
    security,
    responses: {
      200: jsonResponse(CaseSchema, "The case after this step"),
      ...problemResponses,
      ...conflictResponse,
    },
  });

// Resolving is the operator's judgement that the story has been dealt with; it changes no
// action (a throttle or block stays in force until it is reversed).
cases.openapi(
  createRoute({
    ...statusRoute("resolve"),
    request: {
      params: IdParam,
      body: { ...jsonBody(ResolveBody), required: false },
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const body = c.req.valid("json") as z.infer<typeof ResolveBody> | undefined;
    const db = c.env.DB;
    const found = await getCase(db, c.var.tenantId, id);
    if (!found) throw notFound("Case", id);
    const closed = await closeCase(db, c.var.tenantId, id, {
      at: Date.now(),
      by: c.var.actor.ref,
      reason: "operator",
      note: body?.note ?? null,
    });
    if (!closed) throw new ApiError("conflict", `Case ${id} is already resolved`);
    const after = await getCase(db, c.var.tenantId, id);
    if (!after) throw notFound("Case", id);
    return c.json(toCase(after), 200);
  },
);

cases.openapi(
  createRoute({ ...statusRoute("reopen"), request: { params: IdParam } }),
  async (c) => {
    const { id } = c.req.valid("param");
    const db = c.env.DB;
    const found = await getCase(db, c.var.tenantId, id);
    if (!found) throw notFound("Case", id);
    const reopened = await reopenCase(db, c.var.tenantId, found, Date.now());
    if (!reopened.ok) {
      throw new ApiError(
        "conflict",
        reopened.reason === "another_open"
          ? `Case ${id} cannot reopen: case ${reopened.id} is open for the same customer, detector, scope and period`
          : `Case ${id} is already open`,
      );
    }
    const after = await getCase(db, c.var.tenantId, id);
    if (!after) throw notFound("Case", id);
    return c.json(toCase(after), 200);
  },
);

const FigureSchema = z.object({ label: z.string(), value: z.string() });

export const CaseExplanationSchema = z
  .object({
    case_id: z.string(),
    headline: z.string(),
    what_happened: z.array(z.string()),
    figures: z.array(FigureSchema).openapi({
      description: "The numbers the detector stored on its finding (Aforo's own computation)",
    }),
    arithmetic: z.array(z.string()).openapi({
      description: "The sums behind the finding, written out from the figures",
    }),
    evidence: z.object({
      signals: z.number().int(),
      source_events: z.number().int(),
      first_event_at: z.string().nullable(),
      last_event_at: z.string().nullable(),
      samples: z.array(
        z.object({
          id: z.string(),
          time: z.string(),
          metric: z.string(),
          quantity: z.string(),
          revenue: z.string(),
          cost: z.string(),
        }),
      ),
    }),
    next_step: z
      .object({
        rung: z.enum(RUNGS).nullable(),
        key: z.string().nullable(),
        label: z.string().nullable(),
        trigger: z.string().nullable(),
        proposal: z.enum([
          "execute_queued",
          "queued_when_triggered",
          "automatic_when_triggered",
          "none",
        ]),
        action_id: z.string().nullable().openapi({
          description:
            "For execute_queued: the queued action an operator may execute (POST /api/actions/:id/execute); the explainer never runs it",
        }),
        why: z.string(),
      })
      .openapi({ description: "The proposed next rung of the case's ladder" }),
    narrative: z.string().openapi({
      description:
        "The explanation as one paragraph: worded by the model from the figures above when the tenant has an AI key, else by templates",
    }),
    source: z.enum(["ai", "template"]),
    note: z.string().nullable().openapi({
      description: "Why the narrative is the template's (no AI key, the daily AI budget spent…)",
    }),
  })
  .openapi("CaseExplanation");

cases.openapi(
  createRoute(
    permit("read", null, {
      method: "post",
      path: "/cases/{id}/explain",
      tags: ["detection"],
      summary:
        "The case in words with the numbers behind it (baseline, deviation, source events, margin arithmetic) and the proposed next rung; proposes only, never executes",
      security,
      request: { params: IdParam },
      responses: {
        200: jsonResponse(CaseExplanationSchema, "The explanation"),
        ...problemResponses,
      },
    }),
  ),
  async (c) => {
    const { id } = c.req.valid("param");
    const detail = await caseDetail(c.env, c.var.tenantId, id);
    if (!detail) throw notFound("Case", id);
    const explanation = explainCase(toExplained(detail));
    const worded = await wordCaseExplanation(c.env, c.var.tenantId, explanation);
    return c.json({ case_id: id, ...explanation, ...worded }, 200);
  },
);

const ms = (at: string) => Date.parse(at);

/** The explainer's view of a case detail (domain/copilot/signal-explainer.ts). */
function toExplained(d: z.infer<typeof CaseDetailSchema>): CaseToExplain {
  return {
    detector: d.detector,
    customer: d.customer,
    scope: d.scope,
    level: d.level,
    status: d.status,
    signals: d.signals.map((s) => ({
      id: s.id,
      created_at: ms(s.created_at),
      customer: s.customer,
      product: s.product,
      metric: s.metric,
      direction: s.direction,
      magnitude: s.magnitude,
      window: { start: ms(s.window.start), end: ms(s.window.end) },
      details: s.details,
      source_event_ids: s.source_event_ids,
    })),
    ladder: d.ladder,
    source_events: (d.source_events as unknown as StoredEvent[]).map((e) => ({
      id: e.id,
      time: e.time,
      metric: e.metric,
      quantity: e.quantity,
      revenue: e.revenue,
      cost: e.cost,
    })),
  };
}
