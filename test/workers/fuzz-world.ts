import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { inject } from "vitest";
import { call, createTenant, type Tenant } from "./helpers";

// A tenant with a full catalog seeded through the API (the fuzzer's and the isolation matrix's
// world), a digest of what D1 holds for it, and a raw request that copes with anything the
// fuzzer sends (bodies helpers.call would re-encode, SSE streams that never end).

export interface World {
  tenant: Tenant;
  /** Real ids by resource (the literal path segment that names them: products, plans, …). */
  ids: Record<string, string[]>;
  /** Names, e-mails and ids that are this tenant's and nobody else's: a response to another
   * tenant that contains one of them leaks. */
  secrets: string[];
  /** A local receiver endpoint the tenant's channel and proxy point at. */
  hook: string;
}

const HOUR = 3_600_000;

const receiver = () => `http://127.0.0.1:${inject("receiverPort")}`;

async function ok(res: Promise<{ status: number; body: unknown }>, what: string) {
  const r = await res;
  if (r.status >= 300) throw new Error(`seeding ${what}: ${r.status} ${JSON.stringify(r.body)}`);
  // biome-ignore lint/suspicious/noExplicitAny: seeding reads ids off answers
  return r.body as any;
}

/** First instant of the previous UTC month: a subscription started then has a closed period. */
function previousMonth(now = Date.now()) {
  const d = new Date(now);
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - 1, 1)).toISOString();
}

/**
 * Seeds a tenant whose every id and name starts with `prefix`: two products (one proxied to a
 * local receiver) with metrics, two plans, two customers on subscriptions with an invoice, a
 * model price, a customer policy, a second operator key, two channels and, with `signals`,
 * MarginGuard signals and their actions produced by a real costly event.
 */
export async function seedWorld(prefix: string, opts: { signals?: boolean } = {}): Promise<World> {
  const P = prefix[0]?.toUpperCase() + prefix.slice(1);
  const tenant = await createTenant(`${P} Labs`);
  const op = { token: tenant.operator_token };
  const post = (path: string, body: unknown) => ok(call("POST", path, { ...op, body }), path);
  const hook = `${receiver()}/hooks/${prefix}-${tenant.tenant_id}`;

  const chat = `${prefix}-chat-api`;
  const search = `${prefix}-search-api`;
  const [input, output, searches] = [`${prefix}_input`, `${prefix}_output`, `${prefix}_searches`];
  // Independent writes go together: seeding runs once per fuzzed write route.
  await Promise.all([
    post("/api/products", { id: chat, name: `${P} Chat API`, description: `${P} LLM` }),
    post("/api/products", { id: search, name: `${P} Search API` }),
  ]);
  await Promise.all([
    post(`/api/products/${chat}/metrics`, { id: input, unit: "token", aggregation: "sum" }),
    post(`/api/products/${chat}/metrics`, { id: output, unit: "token", aggregation: "sum" }),
    post(`/api/products/${search}/metrics`, { id: searches, unit: "call" }),
  ]);
  const [pro, basic] = [`${prefix}-pro`, `${prefix}-basic`];
  const [acme, globex] = [`${prefix}-acme`, `${prefix}-globex`];
  const [, , , , , , ci] = await Promise.all([
    ok(
      call("PATCH", `/api/products/${search}`, {
        ...op,
        body: { proxy: { origin: hook, metric: searches } },
      }),
      "proxy",
    ),
    post("/api/plans", {
      id: pro,
      product: chat,
      name: `${P} Pro Plan`,
      currency: "USD",
      period: "month",
      components: [
        { type: "flat", amount: "2000" },
        { type: "per_unit", metric: input, unit_price: "0.00001" },
        { type: "discount", metric: input, above: 1_000_000, percent: 15 },
      ],
    }),
    post("/api/plans", {
      id: basic,
      product: chat,
      name: `${P} Basic Plan`,
      currency: "USD",
      period: "month",
      components: [{ type: "per_unit", metric: output, unit_price: "0.00002" }],
    }),
    post("/api/customers", {
      id: acme,
      name: `${P} Acme Corp`,
      email: `billing@${prefix}-acme.example`,
      metadata: { account_owner: `owner@${prefix}-acme.example`, segment: `${prefix}-enterprise` },
    }),
    post("/api/customers", { id: globex, name: `${P} Globex Inc` }),
    ok(
      call("PUT", "/api/cost-catalog", {
        ...op,
        body: [
          {
            provider: "anthropic",
            model: `${prefix}-model`,
            input_per_million: "3",
            output_per_million: "15",
            effective_from: "2025-01-01T00:00:00Z",
          },
        ],
      }),
      "cost catalog",
    ),
    post("/api/keys", { kind: "operator", name: `${P} CI key` }),
  ]);
  const start = previousMonth();
  const [subA, subB] = await Promise.all([
    post("/api/subscriptions", { customer: acme, plan: pro, start }),
    post("/api/subscriptions", { customer: globex, plan: basic, start }),
    ok(
      call("PUT", "/api/policies", {
        ...op,
        body: {
          scope: "customer",
          id: acme,
          policy: { gate: { rate_per_second: 50, burst: 100 } },
        },
      }),
      "policy",
    ),
  ]);
  const subs = [subA.id as string, subB.id as string];

  let signals: string[] = [];
  let actions: string[] = [];
  let cases: string[] = [];
  if (opts.signals) ({ signals, actions, cases } = await seedSignals(tenant, acme, chat, input));

  // Channels after the signals, so no delivery of theirs is still in flight.
  const [hookChannel, mail, run, report] = await Promise.all([
    post("/api/channels", { type: "webhook", name: `${P} Ops Hook`, url: hook }),
    post("/api/channels", { type: "email", name: `${P} Ops Mail`, to: `ops@${prefix}.example` }),
    post("/api/invoices/run", {}),
    post("/api/reports", {
      name: `${P} Revenue report`,
      query: {
        dataset: "usage",
        measures: ["revenue"],
        dimensions: ["customer"],
        time: { from: start, to: new Date().toISOString() },
      },
    }),
  ]);
  const channels = [hookChannel.id as string, mail.id as string];
  // A schedule of that report, delivered to the webhook channel (its slot is an hour away at
  // most; the fuzz runs no periodic job at that time).
  const schedule = await post(`/api/reports/${report.id}/schedules`, {
    cron: "0 * * * *",
    destination: { channel: hookChannel.id },
  });
  // A share link of that report, so the revoke route has a link to find.
  const share = await post(`/api/reports/${report.id}/share`, { expires_in: 3600 });
  // A webhook export destination and an export run to the tenant's R2 prefix with a file
  // (the subscriptions started a month ago), so the runs, files and destinations routes find
  // real ids.
  const destination = await post("/api/exports/destinations", {
    type: "webhook",
    name: `${P} Warehouse Loader`,
    url: hook,
  });
  const exportRun = await post("/api/exports", {
    dataset: "subscriptions",
    from: new Date(Date.parse(start) - 86_400_000).toISOString(),
    to: new Date(Date.now() + 86_400_000).toISOString(),
  });
  // A storefront, so the public comparator finds the tenant's published plans by its slug.
  // (The fuzzer seeds a world per route; a slug is unique across tenants.)
  const storefront = `${prefix}-shop-${crypto.randomUUID().slice(0, 8)}`;
  await ok(
    call("PUT", "/api/storefront", { ...op, body: { slug: storefront, brand: null } }),
    "/api/storefront",
  );
  // A customer API key, so the revoke route finds a real key of a real customer.
  const customerKey = await post(`/api/customers/${acme}/api-keys`, { name: `${P} Acme key` });
  // A customer portal session, so its revoke route finds a real session.
  const portalSession = await post("/api/portal/sessions", { customer: acme });
  // A member who is not the only owner, so changing or removing them is allowed.
  const member = await post("/api/members", {
    email: `analyst@${prefix}.example`,
    role: "finance",
  });
  await clockSettled(tenant.tenant_id);

  const keyId = (key: string) => key.split("_")[2] ?? "";
  return {
    tenant,
    hook,
    ids: {
      tenants: [tenant.tenant_id],
      // The Stripe webhook's path names its tenant: /v1/payments/stripe/{tenant_id}.
      stripe: [tenant.tenant_id],
      // Not the operator token the world is driven with: revoking it would end the run.
      keys: [ci.id, keyId(tenant.ingest_key)],
      products: [chat, search],
      metrics: [input, output, searches],
      plans: [pro, basic],
      customers: [acme, globex],
      subscriptions: subs,
      invoices: run.invoice_ids,
      signals,
      actions,
      cases,
      channels,
      members: [member.id as string],
      "api-keys": [customerKey.id as string],
      sessions: [portalSession.id as string],
      reports: [report.id as string],
      schedules: [schedule.id as string],
      shares: [share.id as string],
      destinations: [destination.id as string],
      runs: [exportRun.id as string],
      files: exportRun.file_list.map((f: { name: string }) => f.name),
      // Passkeys need an authenticator (test/browser); an unknown id still exercises the route.
      passkeys: ["no-such-passkey"],
      // The Documentation Hub: operations of the served spec, and the products' guides.
      explanations: ["get_api_customers", "post_v1_events"],
      "getting-started": [chat, search],
      rest: ["v1/chat", "a/b/c"],
      storefront: [storefront],
    },
    secrets: [
      tenant.tenant_id,
      `${P} Labs`,
      `${P} Chat API`,
      `${P} Search API`,
      `${P} Pro Plan`,
      `${P} Basic Plan`,
      `${P} Acme Corp`,
      `${P} Globex Inc`,
      `${P} CI key`,
      `${P} Acme key`,
      `${P} Ops Hook`,
      `${P} Ops Mail`,
      `${P} Revenue report`,
      `${prefix}-acme.example`,
      `${prefix}-enterprise`,
      `${prefix}-model`,
      chat,
      search,
      input,
      output,
      searches,
      pro,
      basic,
      acme,
      globex,
      ...subs,
      ...run.invoice_ids,
      ...signals,
      ...actions,
      ...cases,
      ...channels,
      report.id as string,
      schedule.id as string,
      share.id as string,
      portalSession.id as string,
      destination.id as string,
      `${P} Warehouse Loader`,
      exportRun.id as string,
      ci.id,
      keyId(tenant.ingest_key),
      keyId(tenant.operator_token),
    ],
  };
}

/** A costly event (cost far above revenue) trips MarginGuard; its signals and actions reach D1
 * through the actor's outbox and the events queue, as in production. */
async function seedSignals(tenant: Tenant, customer: string, product: string, metric: string) {
  const res = await call("POST", "/v1/events", {
    token: tenant.ingest_key,
    body: [
      {
        id: `${customer}-costly-1`,
        customer,
        product,
        metric,
        quantity: 1000,
        time: new Date(Date.now() - HOUR).toISOString(),
        cost: { usd: 5000 },
      },
    ],
  });
  if (res.status !== 200 || res.body.accepted !== 1) {
    throw new Error(`seeding signals: ${JSON.stringify(res.body)}`);
  }
  const actor = env.CUSTOMER_ACTOR.getByName(`${tenant.tenant_id}:${customer}`);
  await runDurableObjectAlarm(actor);
  const count = (table: string) =>
    env.DB.prepare(`SELECT COUNT(*) AS n FROM ${table} WHERE tenant_id = ?`)
      .bind(tenant.tenant_id)
      .first<{ n: number }>()
      .then((r) => r?.n ?? 0);
  for (
    let i = 0;
    i < 200 && ((await count("signals")) === 0 || (await count("actions")) === 0);
    i++
  ) {
    await new Promise((r) => setTimeout(r, 25));
  }
  // The actor's own timers (the next hour's silence check, retention) would otherwise write to
  // D1 in the middle of a run, and the digest must see only what requests did.
  await runInDurableObject(actor, (_instance, state) => state.storage.deleteAlarm());
  await settled(tenant.tenant_id);
  const op = { token: tenant.operator_token };
  const signals = (await call("GET", "/api/signals?limit=200", op)).body.data.map(
    (s: { id: string }) => s.id,
  );
  const actions = [
    ...new Set(
      (await call("GET", "/api/actions?limit=500", op)).body.data.map(
        (s: { action_id: string }) => s.action_id,
      ),
    ),
  ] as string[];
  if (signals.length === 0 || actions.length === 0) throw new Error("no signals or actions seeded");
  // The cases the consumer filed them into (issue 12; the first read also marks the backfill).
  const cases = (await call("GET", "/api/cases?status=open&limit=200", op)).body.data.map(
    (c: { id: string }) => c.id,
  ) as string[];
  if (cases.length === 0) throw new Error("no cases filed");
  return { signals, actions, cases };
}

/** Waits for the tenant clock's first run (started by tenant creation, in the background). */
async function clockSettled(tenantId: string) {
  const clock = env.TENANT_CLOCK.getByName(tenantId);
  for (let i = 0; i < 400; i++) {
    const last = await runInDurableObject(clock, (_i, state) =>
      state.storage.get<number>("lastRun"),
    );
    // The run stores lastRun after its jobs: nothing of it is still in flight.
    if (last) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error("the tenant clock never ran");
}

/** Waits until the digest holds still for a while (queue consumers are done). */
export async function settled(tenantId: string, quietMs = 300) {
  let last = await digest(tenantId);
  for (let i = 0; i < 40; i++) {
    await new Promise((r) => setTimeout(r, quietMs / 3));
    const next = await digest(tenantId);
    if (changedTables(last, next).length === 0) {
      await new Promise((r) => setTimeout(r, quietMs));
      const again = await digest(tenantId);
      if (changedTables(next, again).length === 0) return again;
      last = again;
    } else last = next;
  }
  throw new Error("D1 never settled");
}

// ---------------------------------------------------------------------------------------------
// Digest of the stored book.

/**
 * Read models a read may (re)build: the cockpit snapshot and the margin windows are computed on
 * demand when stale (GET /api/metrics/cockpit, GET /api/margin/*) and are derived entirely from
 * the tables kept below, so a change in them is a cache refill, not a change of the book.
 */
export const CACHE_TABLES = new Set([
  "cockpit_snapshots",
  "margin_builds",
  "margin_customer_windows",
  "margin_product_windows",
  "margin_daily",
]);

/** Tables the queue consumers and the actors' outboxes write some time after the request that
 * caused it (a valid ingest, a detector run, an executed action's deliveries). */
export const ASYNC_TABLES = new Set([
  "rollups_hourly",
  "rollups_daily",
  "rollups_tenant_hourly",
  "rollups_tenant_daily",
  "rollups_model_tenant_hourly",
  "rollups_model_tenant_daily",
  "applied_batches",
  "signals",
  "cases",
  "case_signals",
  "case_backfills",
  "actions",
  "orchestration_actions",
  "deliveries",
  "dead_letters",
  "coupons",
]);

/** Aforo's own telemetry of the requests themselves (schema/0023_pipeline_telemetry.sql): a bad
 * request is counted there by design, and flushed whenever the isolate's window closes. The
 * storefront comparator's rate-limit windows (schema/0038) count every public request too,
 * whoever sends it. */
const TELEMETRY_TABLES = new Set(["pipeline_hourly", "storefront_compare_hits"]);

/** Tables not scoped by tenant compared whole: a tenant or a key created by a bad request
 * (admin routes) is a change too. */
const WHOLE_TABLES = new Set(["tenants", "api_keys"]);
// auth_challenges: outstanding WebAuthn challenges, made by the public /auth/* and no tenant's.
// docs_explanations: the Documentation Hub's cache of explanations of the public API document,
// no tenant's either (a read may fill it).
const SKIPPED = /^(sqlite_|_cf_|d1_migrations$|auth_challenges$|docs_explanations$)/;

interface TableDigest {
  table: string;
  /** The tenant's rows only. */
  sql: string;
  /** Every row (tenants and api_keys: a tenant or key created by a bad admin request). */
  wholeSql: string | null;
}

let statements: TableDigest[] | null = null;

async function digestStatements() {
  if (statements) return statements;
  const { results } = await env.DB.prepare(
    "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
  ).all<{ name: string }>();
  statements = [];
  for (const { name } of results) {
    if (SKIPPED.test(name) || CACHE_TABLES.has(name) || TELEMETRY_TABLES.has(name)) continue;
    const cols = (await env.DB.prepare(`PRAGMA table_info(${name})`).all<{ name: string }>())
      .results;
    const row = cols.map((c) => `quote("${c.name}")`).join(" || ',' || ");
    const tenantColumn = cols.some((c) => c.name === "tenant_id")
      ? "tenant_id"
      : name === "tenants"
        ? "id"
        : null;
    if (!tenantColumn) {
      throw new Error(`table ${name} has no tenant_id: decide how the fuzz digest covers it`);
    }
    const select = (where: string) =>
      `SELECT count(*) AS n, group_concat(r, char(10)) AS rows FROM (SELECT ${row} AS r FROM "${name}" ${where} ORDER BY 1)`;
    statements.push({
      table: name,
      sql: select(`WHERE ${tenantColumn} = ?1`),
      wholeSql: WHOLE_TABLES.has(name) ? select("") : null,
    });
  }
  return statements;
}

export type Digest = Map<string, string>;

/**
 * Every D1 row that is the tenant's, per table. `whole`: the tenants and keys tables entire,
 * for requests that must create no tenant or key at all (the fuzzer's: one tenant's requests
 * at a time); without it, another tenant's valid writes (its catalog version, its keys) are not
 * this tenant's change (the isolation matrix).
 */
export async function digest(tenantId: string, o: { whole?: boolean } = {}): Promise<Digest> {
  const whole = o.whole ?? true;
  const stmts = await digestStatements();
  const results = await env.DB.batch(
    stmts.map((s) =>
      whole && s.wholeSql ? env.DB.prepare(s.wholeSql) : env.DB.prepare(s.sql).bind(tenantId),
    ),
  );
  const out: Digest = new Map();
  stmts.forEach((s, i) => {
    const row = results[i]?.results[0] as { n: number; rows: string | null } | undefined;
    out.set(s.table, `${row?.n ?? 0}\n${row?.rows ?? ""}`);
  });
  return out;
}

export function changedTables(before: Digest, after: Digest, ignore = new Set<string>()) {
  return [...after.keys()].filter((t) => !ignore.has(t) && before.get(t) !== after.get(t));
}

// ---------------------------------------------------------------------------------------------
// Raw requests.

export interface RawRequest {
  method: string;
  /** Path and query, already encoded. */
  url: string;
  headers: Record<string, string>;
  body?: string;
}

export interface RawResponse {
  status: number;
  contentType: string;
  text: string;
  json: unknown;
}

const REQUEST_TIMEOUT_MS = 15_000;

export async function send(req: RawRequest): Promise<RawResponse> {
  const run = (async () => {
    const res = await exports.default.fetch(`http://aforo.test${req.url}`, {
      method: req.method,
      headers: req.headers,
      body: req.body,
    });
    const contentType = res.headers.get("content-type") ?? "";
    // An event stream stays open: what matters is that it was answered, and how.
    if (contentType.startsWith("text/event-stream")) {
      await res.body?.cancel();
      return { status: res.status, contentType, text: "", json: null };
    }
    // Bytes decoded by hand: a file download (Parquet) is not text, and res.text() on it makes
    // workerd warn once per request.
    const text = new TextDecoder().decode(await res.arrayBuffer());
    let json: unknown = null;
    if (contentType.includes("json") && text) {
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
    }
    return { status: res.status, contentType, text, json };
  })();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer in ${REQUEST_TIMEOUT_MS} ms: ${req.method} ${req.url}`)),
      REQUEST_TIMEOUT_MS,
    );
  });
  try {
    return await Promise.race([run, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
