import { createRoute, z } from "@hono/zod-openapi";
import type { StoredEvent } from "../../contracts/events";
import { DETECTORS } from "../../domain/detectors";
import { actorName } from "../../durable-objects/customer-actor";
import { stepsOfSignal } from "../../store/actions";
import {
  getSignalWithAction,
  listSignals,
  type SignalWithAction,
  setSignalStatus,
} from "../../store/signals";
import { createRouter } from "../app";
import { permit } from "../permit";
import { ApiError, conflictResponse, notFound, problemResponses } from "../problem";
import { decodeCursor, Id, iso, jsonBody, jsonResponse, page, pageOf } from "../schemas";
import { Action, Step, toAction, toStep } from "./actions";

// Sense (SPEC §5): the signals the detectors raised, with their ladder state; resolving and
// reopening them.
export const signals = createRouter();
const security = [{ operatorToken: [] }];

export const SignalSchema = z
  .object({
    id: z.string(),
    idempotency_key: z.string(),
    detector: z.enum(DETECTORS as [string, ...string[]]),
    customer: z.string(),
    product: z.string().nullable(),
    metric: z.string().nullable(),
    window: z.object({ start: z.string(), end: z.string() }),
    magnitude: z.number(),
    direction: z.string().nullable(),
    details: z.record(z.string(), z.unknown()),
    source_event_ids: z.array(z.string()),
    status: z.enum(["open", "resolved"]),
    created_at: z.string(),
    resolution: z
      .object({ at: z.string(), by: z.string(), note: z.string().nullable() })
      .nullable()
      .openapi({ description: "Who closed the signal, when and why; null while it is open" }),
    action: Action.nullable(),
  })
  .openapi("Signal");

export const toSignal = (s: SignalWithAction): z.infer<typeof SignalSchema> => ({
  id: s.id,
  idempotency_key: s.idempotency_key,
  detector: s.detector,
  customer: s.customer,
  product: s.product,
  metric: s.metric,
  window: { start: iso(s.window.start) ?? "", end: iso(s.window.end) ?? "" },
  magnitude: s.magnitude,
  direction: s.direction,
  details: s.details,
  source_event_ids: s.source_event_ids,
  status: s.status,
  created_at: iso(s.created_at) ?? "",
  resolution: s.resolution
    ? { at: iso(s.resolution.at) ?? "", by: s.resolution.by, note: s.resolution.note }
    : null,
  action: s.action ? toAction(s.action) : null,
});

signals.openapi(
  createRoute({
    method: "get",
    path: "/signals",
    tags: ["detection"],
    summary: "Signals with their ladder state; sort by magnitude (default) or time",
    security,
    request: {
      query: z.object({
        detector: z.enum(DETECTORS as [string, ...string[]]).optional(),
        customer: Id.optional(),
        product: Id.optional(),
        status: z.enum(["open", "resolved"]).optional(),
        direction: z.enum(["spike", "drop"]).optional(),
        sort: z.enum(["magnitude", "time"]).default("magnitude"),
        limit: z.coerce.number().int().min(1).max(200).default(50),
        cursor: z.string().max(256).optional(),
      }),
    },
    responses: {
      200: jsonResponse(page(SignalSchema), "A page of signals"),
      ...problemResponses,
    },
  }),
  async (c) => {
    const q = c.req.valid("query");
    const byMagnitude = q.sort === "magnitude";
    const after = decodeCursor(q.cursor, [byMagnitude ? "number" : "time", "string"]);
    const rows = await listSignals(c.env.DB, c.var.tenantId, q, q.sort, after, q.limit + 1);
    return c.json(
      pageOf(rows, q.limit, toSignal, (s) => [byMagnitude ? s.magnitude : s.created_at, s.id]),
      200,
    );
  },
);

signals.openapi(
  createRoute({
    method: "get",
    path: "/signals/{id}",
    tags: ["detection"],
    summary: "A signal with its source events and the ladder state and trail of its action",
    security,
    request: { params: z.object({ id: z.string().max(64) }) },
    responses: {
      200: jsonResponse(
        SignalSchema.extend({
          source_events: z.array(z.record(z.string(), z.unknown())),
          trail: z.array(Step),
        }),
        "The signal",
      ),
      ...problemResponses,
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const signal = await getSignalWithAction(c.env.DB, c.var.tenantId, id);
    if (!signal) throw notFound("Signal", id);
    const [events, trail] = await Promise.all([
      c.env.CUSTOMER_ACTOR.getByName(actorName(c.var.tenantId, signal.customer)).eventsByIds(
        signal.source_event_ids,
      ),
      stepsOfSignal(c.env.DB, c.var.tenantId, id),
    ]);
    return c.json(
      {
        ...toSignal(signal),
        source_events: events as StoredEvent[] as unknown as Record<string, unknown>[],
        trail: trail.map(toStep),
      },
      200,
    );
  },
);

const ResolveBody = z
  .object({ note: z.string().trim().min(1).max(500).optional() })
  .openapi("SignalResolution");

const signalStatusRoute = (verb: "resolve" | "reopen") =>
  permit("cases:work", `signal.${verb}`, {
    method: "post" as const,
    path: `/signals/{id}/${verb}`,
    tags: ["detection"],
    summary:
      verb === "resolve"
        ? "Close a signal that has been dealt with (optionally with a note)"
        : "Open a resolved signal again",
    security,
    responses: {
      200: jsonResponse(SignalSchema, "The signal after this step"),
      ...problemResponses,
      ...conflictResponse,
    },
  });

/** Moves a signal open → resolved or back; 409 when it is not in the state the step starts from. */
async function changeStatus(
  db: D1Database,
  tenantId: string,
  id: string,
  resolution: { by: string; note: string | null } | null,
) {
  const changed = await setSignalStatus(
    db,
    tenantId,
    id,
    resolution ? { at: Date.now(), ...resolution } : null,
  );
  if (!changed.ok) {
    throw changed.reason === "not_found"
      ? notFound("Signal", id)
      : new ApiError("conflict", `Signal ${id} is already ${changed.status}`);
  }
  return toSignal(changed.signal);
}

// Resolving is the operator's judgement that a signal has been dealt with: it stops counting
// towards at-risk customers. It changes no action: a throttle or block stays in force until it is
// reversed.
signals.openapi(
  createRoute({
    ...signalStatusRoute("resolve"),
    request: {
      params: z.object({ id: z.string().max(64) }),
      // Optional: without a JSON body the validator does not run and there is no note.
      body: { ...jsonBody(ResolveBody), required: false },
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const body = c.req.valid("json") as z.infer<typeof ResolveBody> | undefined;
    const by = c.var.actor.ref;
    return c.json(
      await changeStatus(c.env.DB, c.var.tenantId, id, { by, note: body?.note ?? null }),
      200,
    );
  },
);

signals.openapi(
  createRoute({
    ...signalStatusRoute("reopen"),
    request: { params: z.object({ id: z.string().max(64) }) },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    return c.json(await changeStatus(c.env.DB, c.var.tenantId, id, null), 200);
  },
);
