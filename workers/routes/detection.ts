import { createRoute, z } from "@hono/zod-openapi";
import { DETECTORS } from "../../domain/detectors";
import {
  DEFAULT_POLICY,
  type PolicyOverrideDocument,
  RUNGS,
  type Rung as RungName,
  resolvePolicy,
  validatePolicyDocument,
} from "../../domain/ladder";
import { actorName, type StoredEvent } from "../../durable-objects/customer-actor";
import {
  loadCustomerPolicies,
  loadTenantPolicyRows,
  type PolicyResolver,
} from "../../store/policies";
import { createRouter } from "../app";
import type { SignalRow as StoredSignalRow } from "../deliveries/signal";
import { executeAction, reverseAction } from "../ladder";
import {
  ApiError,
  conflictResponse,
  notFound,
  problemResponses,
  validationError,
} from "../problem";
import { decodeCursor, Id, iso, jsonBody, jsonResponse, page, pageOf, Timestamp } from "../schemas";
import { bumpCatalogVersion, tenantCatalog } from "../tenant-catalog";

// Sense, then respond (SPEC §5–§6): signals, the action ladder and its trail, policies, and
// closing hours/days on demand for replay and backfill.
export const detection = createRouter();
const security = [{ operatorToken: [] }];

const Rung = z.enum(RUNGS);
const ActionState = z.enum(["queued", "executed", "reversed", "failed"]);

const Step = z
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

const Action = z
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

const SignalSchema = z
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

/** A stored signal with its resolution and its action (LEFT JOIN, so the a_* may be null). */
interface SignalRow extends StoredSignalRow {
  resolved_at: number | null;
  resolved_by: string | null;
  resolution_note: string | null;
  a_id: string | null;
  a_rung: string | null;
  a_state: string | null;
  a_detail: string | null;
  a_created_at: number | null;
  a_updated_at: number | null;
}

const SIGNAL_SELECT = `SELECT s.*, a.id AS a_id, a.rung AS a_rung, a.state AS a_state, a.detail AS a_detail,
  a.created_at AS a_created_at, a.updated_at AS a_updated_at
  FROM signals s LEFT JOIN actions a ON a.tenant_id = s.tenant_id AND a.signal_id = s.id`;

const toSignal = (r: SignalRow) => ({
  id: r.id,
  idempotency_key: r.idempotency_key,
  detector: r.detector,
  customer: r.customer_id,
  product: r.product_id,
  metric: r.metric_id,
  window: { start: iso(r.window_start) ?? "", end: iso(r.window_end) ?? "" },
  magnitude: r.magnitude,
  direction: r.direction,
  details: JSON.parse(r.details) as Record<string, unknown>,
  source_event_ids: JSON.parse(r.source_event_ids) as string[],
  status: r.status as "open" | "resolved",
  created_at: iso(r.created_at) ?? "",
  resolution:
    r.status === "resolved" && r.resolved_at !== null
      ? { at: iso(r.resolved_at) ?? "", by: r.resolved_by ?? "", note: r.resolution_note }
      : null,
  action: r.a_id
    ? {
        id: r.a_id,
        signal_id: r.id,
        customer: r.customer_id,
        product: r.product_id,
        rung: r.a_rung as z.infer<typeof Rung>,
        state: r.a_state as z.infer<typeof ActionState>,
        detail: JSON.parse(r.a_detail ?? "{}") as Record<string, unknown>,
        created_at: iso(r.a_created_at) ?? "",
        updated_at: iso(r.a_updated_at) ?? "",
      }
    : null,
});

interface StepRow {
  id: number;
  action_id: string;
  signal_id: string;
  customer_id: string;
  rung: string;
  step: string;
  actor: string;
  detail: string;
  at: number;
}
const toStep = (r: StepRow) => ({
  id: r.id,
  action_id: r.action_id,
  signal_id: r.signal_id,
  customer: r.customer_id,
  rung: r.rung as z.infer<typeof Rung>,
  step: r.step as z.infer<typeof ActionState>,
  actor: r.actor,
  detail: JSON.parse(r.detail) as Record<string, unknown>,
  at: iso(r.at) ?? "",
});

detection.openapi(
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
    const key = decodeCursor(q.cursor, ["number", "string"]);
    const order = byMagnitude ? "s.magnitude DESC, s.id DESC" : "s.created_at DESC, s.id DESC";
    const after = byMagnitude
      ? "(?7 IS NULL OR s.magnitude < ?7 OR (s.magnitude = ?7 AND s.id < ?8))"
      : "(?7 IS NULL OR s.created_at < ?7 OR (s.created_at = ?7 AND s.id < ?8))";
    const { results } = await c.env.DB.prepare(
      `${SIGNAL_SELECT} WHERE s.tenant_id = ?1 AND (?2 IS NULL OR s.detector = ?2) AND (?3 IS NULL OR s.customer_id = ?3)
         AND (?4 IS NULL OR s.status = ?4) AND (?5 IS NULL OR s.product_id = ?5) AND (?6 IS NULL OR s.direction = ?6)
         AND ${after}
       ORDER BY ${order} LIMIT ?9`,
    )
      .bind(
        c.var.tenantId,
        q.detector ?? null,
        q.customer ?? null,
        q.status ?? null,
        q.product ?? null,
        q.direction ?? null,
        key?.[0] ?? null,
        key?.[1] ?? "",
        q.limit + 1,
      )
      .all<SignalRow>();
    return c.json(
      pageOf(results, q.limit, toSignal, (r) => [byMagnitude ? r.magnitude : r.created_at, r.id]),
      200,
    );
  },
);

detection.openapi(
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
    const row = await c.env.DB.prepare(`${SIGNAL_SELECT} WHERE s.tenant_id = ? AND s.id = ?`)
      .bind(c.var.tenantId, id)
      .first<SignalRow>();
    if (!row) throw notFound("Signal", id);
    const signal = toSignal(row);
    const [events, trail] = await Promise.all([
      c.env.CUSTOMER_ACTOR.getByName(actorName(c.var.tenantId, row.customer_id)).eventsByIds(
        signal.source_event_ids,
      ),
      c.env.DB.prepare(
        "SELECT id, action_id, signal_id, customer_id, rung, step, actor, detail, at FROM orchestration_actions WHERE tenant_id = ? AND signal_id = ? ORDER BY id",
      )
        .bind(c.var.tenantId, id)
        .all<StepRow>(),
    ]);
    return c.json(
      {
        ...signal,
        source_events: events as StoredEvent[] as unknown as Record<string, unknown>[],
        trail: trail.results.map(toStep),
      },
      200,
    );
  },
);

const ResolveBody = z
  .object({ note: z.string().trim().min(1).max(500).optional() })
  .openapi("SignalResolution");

const signalStatusRoute = (verb: "resolve" | "reopen") => ({
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
async function setSignalStatus(
  env: Env,
  tenantId: string,
  id: string,
  resolution: { by: string; note: string | null } | null,
) {
  const changed = await (resolution
    ? env.DB.prepare(
        "UPDATE signals SET status = 'resolved', resolved_at = ?, resolved_by = ?, resolution_note = ? WHERE tenant_id = ? AND id = ? AND status = 'open'",
      ).bind(Date.now(), resolution.by, resolution.note, tenantId, id)
    : env.DB.prepare(
        "UPDATE signals SET status = 'open', resolved_at = NULL, resolved_by = NULL, resolution_note = NULL WHERE tenant_id = ? AND id = ? AND status = 'resolved'",
      ).bind(tenantId, id)
  ).run();
  const row = await env.DB.prepare(`${SIGNAL_SELECT} WHERE s.tenant_id = ? AND s.id = ?`)
    .bind(tenantId, id)
    .first<SignalRow>();
  if (!row) throw notFound("Signal", id);
  if (changed.meta.changes === 0) {
    throw new ApiError("conflict", `Signal ${id} is already ${row.status}`);
  }
  return toSignal(row);
}

// Resolving is the operator's judgement that a signal has been dealt with: it stops counting
// towards at-risk customers. It changes no action: a throttle or block stays in force until it is
// reversed.
detection.openapi(
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
    const by = `operator:${c.var.keyId}`;
    return c.json(
      await setSignalStatus(c.env, c.var.tenantId, id, { by, note: body?.note ?? null }),
      200,
    );
  },
);

detection.openapi(
  createRoute({
    ...signalStatusRoute("reopen"),
    request: { params: z.object({ id: z.string().max(64) }) },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    return c.json(await setSignalStatus(c.env, c.var.tenantId, id, null), 200);
  },
);

detection.openapi(
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
    const before = decodeCursor(q.cursor, ["number"])?.[0] ?? null;
    const { results } = await c.env.DB.prepare(
      `SELECT id, action_id, signal_id, customer_id, rung, step, actor, detail, at FROM orchestration_actions
       WHERE tenant_id = ?1 AND (?2 IS NULL OR action_id = ?2) AND (?3 IS NULL OR signal_id = ?3)
         AND (?4 IS NULL OR customer_id = ?4) AND (?5 IS NULL OR step = ?5) AND (?6 IS NULL OR id < ?6)
       ORDER BY id DESC LIMIT ?7`,
    )
      .bind(
        c.var.tenantId,
        q.action ?? null,
        q.signal ?? null,
        q.customer ?? null,
        q.step ?? null,
        before,
        q.limit + 1,
      )
      .all<StepRow>();
    return c.json(
      pageOf(results, q.limit, toStep, (r) => [r.id]),
      200,
    );
  },
);

for (const verb of ["execute", "reverse"] as const) {
  detection.openapi(
    createRoute({
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
    async (c) => {
      const { id } = c.req.valid("param");
      const run = verb === "execute" ? executeAction : reverseAction;
      const a = await run(c.env, c.var.tenantId, id, `operator:${c.var.keyId}`);
      return c.json(
        {
          id: a.id,
          signal_id: a.signal_id,
          customer: a.customer_id,
          product: a.product_id,
          rung: a.rung,
          state: a.state,
          detail: JSON.parse(a.detail) as Record<string, unknown>,
          created_at: iso(a.created_at) ?? "",
          updated_at: iso(a.updated_at) ?? "",
        },
        200,
      );
    },
  );
}

// Policies ----------------------------------------------------------------------------------

const PolicyOverride = z
  .object({
    detectors: z.record(z.string(), z.record(z.string(), z.unknown())).optional(),
    ladder: z
      .object({
        anomaly: z.object({ spike: Rung.optional(), drop: Rung.optional() }).strict().optional(),
        churn: Rung.optional(),
        quota_pacing: z.record(z.string().max(16), Rung).optional(),
        margin: z
          .object({ L1: Rung.optional(), L2: Rung.optional(), L3: Rung.optional() })
          .strict()
          .optional(),
      })
      .strict()
      .optional(),
    auto_actions: z
      .object(Object.fromEntries(RUNGS.map((r) => [r, z.boolean().optional()])))
      .strict()
      .optional(),
    gate: z
      .object({
        rate_per_second: z.number().optional(),
        burst: z.number().optional(),
        throttled_rate_per_second: z.number().optional(),
      })
      .strict()
      .optional(),
    actions: z
      .object({
        extend_trial_days: z.number().optional(),
        coupon_percent: z.number().optional(),
        coupon_days: z.number().optional(),
        escalate_to: z
          .union([z.literal(""), z.email().max(254)])
          .optional()
          .openapi({
            description: "Who `escalate` e-mails when the customer has no account_owner",
          }),
      })
      .strict()
      .optional(),
  })
  .strict()
  .openapi("PolicyOverride");

const PolicyView = z
  .object({
    defaults: z.record(z.string(), z.unknown()),
    tenant: z.record(z.string(), z.unknown()).nullable(),
    products: z.record(z.string(), z.record(z.string(), z.unknown())),
    customers: z.record(z.string(), z.record(z.string(), z.unknown())),
    effective: z
      .record(z.string(), z.unknown())
      .openapi({ description: "defaults ← tenant (← product ← customer when asked)" }),
  })
  .openapi("Policies");

async function policyView(db: D1Database, tenantId: string, product?: string, customer?: string) {
  const rows = await loadTenantPolicyRows(db, tenantId);
  const body = (r: { body: string }) => JSON.parse(r.body) as PolicyOverrideDocument;
  const tenant = rows.find((r) => r.scope === "tenant");
  const products = Object.fromEntries(
    rows.filter((r) => r.scope === "product").map((r) => [r.scope_id, body(r)]),
  );
  const customers = Object.fromEntries(
    rows.filter((r) => r.scope === "customer").map((r) => [r.scope_id, body(r)]),
  );
  const effective = resolvePolicy([
    tenant ? body(tenant) : undefined,
    product ? products[product] : undefined,
    customer ? customers[customer] : undefined,
  ]);
  return {
    defaults: DEFAULT_POLICY as unknown as Record<string, unknown>,
    tenant: tenant ? (body(tenant) as Record<string, unknown>) : null,
    products: products as Record<string, Record<string, unknown>>,
    customers: customers as Record<string, Record<string, unknown>>,
    effective: effective as unknown as Record<string, unknown>,
  };
}

detection.openapi(
  createRoute({
    method: "get",
    path: "/policies",
    tags: ["detection"],
    summary: "Policies as stored per scope, the defaults, and the effective policy",
    security,
    request: { query: z.object({ product: Id.optional(), customer: Id.optional() }) },
    responses: { 200: jsonResponse(PolicyView, "Policies"), ...problemResponses },
  }),
  async (c) => {
    const q = c.req.valid("query");
    return c.json(await policyView(c.env.DB, c.var.tenantId, q.product, q.customer), 200);
  },
);

detection.openapi(
  createRoute({
    method: "put",
    path: "/policies",
    tags: ["detection"],
    summary: "Replace the policy override of one scope (tenant, a product, or a customer)",
    description:
      "Auto-actions are off by default except ALERT (which only notifies your channels). The override is validated as part of the effective policy it produces (e.g. margin L2 must be below L1, k must be positive).",
    security,
    request: {
      body: jsonBody(
        z.object({
          scope: z.enum(["tenant", "product", "customer"]).default("tenant"),
          id: Id.optional().openapi({ description: "The product or customer id (not for tenant)" }),
          policy: PolicyOverride,
        }),
      ),
    },
    responses: {
      200: jsonResponse(
        PolicyView.extend({
          executed_queued: z.number().openapi({
            description:
              "Queued actions in this scope whose rung the change switched on, executed now",
          }),
        }),
        "Policies after the change",
      ),
      ...problemResponses,
    },
  }),
  async (c) => {
    const { scope, id, policy } = c.req.valid("json");
    if (scope !== "tenant" && !id)
      throw validationError([{ path: "id", message: `a ${scope} policy needs the ${scope} id` }]);
    const db = c.env.DB;
    const tenantId = c.var.tenantId;
    const rows = await loadTenantPolicyRows(db, tenantId);
    const find = (s: string, sid = "") => rows.find((r) => r.scope === s && r.scope_id === sid);
    const parse = (r: { body: string } | undefined) =>
      r ? (JSON.parse(r.body) as PolicyOverrideDocument) : undefined;
    const doc = policy as PolicyOverrideDocument;
    const chain =
      scope === "tenant"
        ? [doc]
        : scope === "product"
          ? [parse(find("tenant")), doc]
          : [parse(find("tenant")), doc];
    const issues = validatePolicyDocument(resolvePolicy(chain)).map((i) => ({
      ...i,
      path: `policy.${i.path}`,
    }));
    if (issues.length > 0) throw validationError(issues);
    if (scope === "product") {
      const known = (await tenantCatalog(db, tenantId)).products.has(id ?? "");
      if (!known)
        throw validationError([{ path: "id", message: `product '${id}' does not exist` }]);
    }
    await db.batch([
      db
        .prepare(
          `INSERT INTO policies (tenant_id, scope, scope_id, body, updated_at) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (tenant_id, scope, scope_id) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at`,
        )
        .bind(
          tenantId,
          scope,
          scope === "tenant" ? "" : (id ?? ""),
          JSON.stringify(doc),
          Date.now(),
        ),
      // Actors reload their policies with the catalog.
      bumpCatalogVersion(db, tenantId),
    ]);
    const applied = await runNewlyAutomatic(c.env, tenantId, scope, id, `operator:${c.var.keyId}`);
    const view = await policyView(
      db,
      tenantId,
      scope === "product" ? id : undefined,
      scope === "customer" ? id : undefined,
    );
    return c.json({ ...view, executed_queued: applied }, 200);
  },
);

/** Switching a rung on applies to what is already waiting: queued actions in the scope whose
 * rung is now automatic run, by policy (the operator who switched it is on the trail). */
async function runNewlyAutomatic(
  env: Env,
  tenantId: string,
  scope: string,
  id: string | undefined,
  by: string,
) {
  const { results } = await env.DB.prepare(
    `SELECT id, customer_id, product_id, rung FROM actions
     WHERE tenant_id = ?1 AND state = 'queued'
       AND (?2 = 'tenant' OR (?2 = 'product' AND product_id = ?3) OR (?2 = 'customer' AND customer_id = ?3))
     ORDER BY created_at LIMIT 500`,
  )
    .bind(tenantId, scope, id ?? "")
    .all<{ id: string; customer_id: string; product_id: string | null; rung: RungName }>();
  let executed = 0;
  const resolvers = new Map<string, PolicyResolver>();
  for (const a of results) {
    let resolve = resolvers.get(a.customer_id);
    if (!resolve) {
      resolve = await loadCustomerPolicies(env.DB, tenantId, a.customer_id);
      resolvers.set(a.customer_id, resolve);
    }
    if (!resolve(a.product_id ?? undefined).auto_actions[a.rung]) continue;
    try {
      await executeAction(env, tenantId, a.id, `policy (switched on by ${by})`);
      executed++;
    } catch (err) {
      console.error(`queued action ${a.id} did not run`, err);
    }
  }
  return executed;
}

// Replay / backfill -------------------------------------------------------------------------

detection.openapi(
  createRoute({
    method: "post",
    path: "/detectors/evaluate",
    tags: ["detection"],
    summary: "Close every hour and day up to as_of for all of the tenant's customers",
    description:
      "For replay and backfill: each customer's detectors run on the hours and days that end at or before as_of (silent hours count as zero). Idempotent: hours already closed are not evaluated again, and signals are kept once per idempotency key.",
    security,
    request: { body: jsonBody(z.object({ as_of: Timestamp.optional() })) },
    responses: {
      200: jsonResponse(
        z.object({ as_of: z.string(), customers: z.number(), new_signals: z.number() }),
        "Done",
      ),
      ...problemResponses,
    },
  }),
  async (c) => {
    const { as_of } = c.req.valid("json");
    const asOf = Math.min(as_of ?? Date.now(), Date.now());
    const tenantId = c.var.tenantId;
    const catalog = await tenantCatalog(c.env.DB, tenantId);
    const { results } = await c.env.DB.prepare(
      "SELECT id FROM customers WHERE tenant_id = ?1 UNION SELECT DISTINCT customer_id FROM rollups_daily WHERE tenant_id = ?1",
    )
      .bind(tenantId)
      .all<{ id: string }>();
    let signals = 0;
    for (let i = 0; i < results.length; i += 20) {
      const counts = await Promise.all(
        results
          .slice(i, i + 20)
          .map((r) =>
            c.env.CUSTOMER_ACTOR.getByName(actorName(tenantId, r.id)).closeThrough(
              asOf,
              catalog.version,
            ),
          ),
      );
      signals += counts.reduce((a, b) => a + b, 0);
    }
    return c.json(
      { as_of: new Date(asOf).toISOString(), customers: results.length, new_signals: signals },
      200,
    );
  },
);
