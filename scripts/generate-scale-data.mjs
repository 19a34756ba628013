#!/usr/bin/env node
// Fills a local stack with a realistic large tenant for the read benchmarks (SPEC §10:
// "each cockpit/margin API call under 100 ms p95 with 10,000 customers × 90 days"):
//   10,000 customers, their subscriptions (plan changes, trials, cancels, an annual plan, a
//   usage-only plan, a second product for some), 90 days of daily rollups (about 1.3 million
//   rows, their tenant-level sums, and those by provider × model), ~6 months of invoices (paid, open, overdue) with their past_due history, a few
//   hundred open signals, and the last SCALE_SESSION_DAYS (default 10) days of agent sessions
//   (1–4 a day per customer with usage, a few minutes to an hour long: about 300,000 hourly
//   session rows, schema/0025_session_rollups.sql).
// The tenant and its catalog go through the real API (`wrangler dev`); the bulk goes straight
// into local D1 with `wrangler d1 execute --local --file` (generated SQL, deterministic: a
// seeded PRNG), as the benchmark allows.
//
//   node scripts/generate-scale-data.mjs [dir]      (default: a new temp dir; prints it)
//   SCALE_CUSTOMERS=2000 SCALE_DAYS=90 to shrink it.
//   SCALE_HOURLY_CUSTOMERS=100 SCALE_HOURLY_DAYS=30 also write hourly rollups (off by default)
//     for the first N customers' last D days: their daily rows split over the hours (a daytime
//     bump), summing exactly to the daily row, so reports that read rollups_hourly (by plan, by
//     hour of week, hour buckets) see data. Everyone else has daily rollups only.
// The keys are written to <dir>/aforo-scale.json; `npm run bench:read` reads them.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  applyMigrations,
  ensureDevVars,
  ROOT,
  request,
  STACK_ENV,
  startWrangler,
} from "./lib/stack.mjs";

const SIGNAL_COLUMNS = [
  "tenant_id",
  "id",
  "idempotency_key",
  "detector",
  "customer_id",
  "product_id",
  "metric_id",
  "window_start",
  "window_end",
  "magnitude",
  "direction",
  "details",
  "source_event_ids",
  "status",
  "created_at",
];
const INVOICE_LINE_COLUMNS = [
  "tenant_id",
  "invoice_id",
  "position",
  "plan_id",
  "service_from",
  "service_to",
  "component_index",
  "type",
  "metric_id",
  "quantity",
  "amount",
  "description",
];

const DAY = 86_400_000;
const HOUR = 3_600_000;
const NANOS = 1_000_000_000;
const ROWS_PER_STATEMENT = 500;
const STATEMENT_BYTES = 90_000; // the column list and INSERT keep the statement under 100,000
const STATEMENTS_PER_FILE = 400;

/** Deterministic PRNG (mulberry32), so two runs generate the same data. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PLANS = [
  {
    id: "starter",
    product: "chat-api",
    name: "Starter",
    period: "month",
    flat: 49,
    prices: { input_tokens: 0.000002, output_tokens: 0.000008 },
    components: [
      { type: "flat", amount: "49" },
      { type: "included", metric: "input_tokens", quantity: 1_000_000 },
      { type: "per_unit", metric: "input_tokens", unit_price: "0.000002" },
      { type: "per_unit", metric: "output_tokens", unit_price: "0.000008" },
    ],
  },
  {
    id: "growth",
    product: "chat-api",
    name: "Growth",
    period: "month",
    flat: 299,
    prices: { input_tokens: 0.0000015, output_tokens: 0.000006 },
    components: [
      { type: "flat", amount: "299" },
      {
        type: "tiered",
        metric: "input_tokens",
        mode: "graduated",
        tiers: [
          { up_to: 20_000_000, unit_price: "0.0000015" },
          { up_to: null, unit_price: "0.000001" },
        ],
      },
      { type: "per_unit", metric: "output_tokens", unit_price: "0.000006" },
    ],
  },
  {
    id: "scale-annual",
    product: "chat-api",
    name: "Scale (annual)",
    period: "year",
    flat: 24_000,
    prices: { input_tokens: 0.000001, output_tokens: 0.000004 },
    components: [
      { type: "flat", amount: "24000" },
      { type: "per_unit", metric: "input_tokens", unit_price: "0.000001" },
      { type: "per_unit", metric: "output_tokens", unit_price: "0.000004" },
    ],
  },
  {
    id: "payg",
    product: "chat-api",
    name: "Pay as you go",
    period: "month",
    flat: 0,
    prices: { input_tokens: 0.000003, output_tokens: 0.00001 },
    components: [
      { type: "per_unit", metric: "input_tokens", unit_price: "0.000003" },
      { type: "per_unit", metric: "output_tokens", unit_price: "0.00001" },
    ],
  },
  {
    id: "agents-pro",
    product: "agents",
    name: "Agents Pro",
    period: "month",
    flat: 99,
    prices: { agent_sessions: 0.05 },
    components: [
      { type: "flat", amount: "99" },
      { type: "per_unit", metric: "agent_sessions", unit_price: "0.05" },
    ],
  },
];

/** Month arithmetic like domain/billing-period.ts (day clamped, time of day kept). */
function addMonths(t, n) {
  const d = new Date(t);
  const total = d.getUTCMonth() + n;
  const y = d.getUTCFullYear() + Math.floor(total / 12);
  const m = ((total % 12) + 12) % 12;
  const last = new Date(Date.UTC(y, m + 1, 0)).getUTCDate();
  return Date.UTC(y, m, Math.min(d.getUTCDate(), last)) + (t % DAY);
}

const PARENTS = {
  subscriptions: ["customers"],
  subscription_phases: ["subscriptions"],
  subscription_status_changes: ["subscriptions"],
  invoices: ["subscriptions"],
  invoice_lines: ["invoices"],
};

class SqlWriter {
  constructor(dir) {
    this.dir = dir;
    this.files = [];
    this.buffer = [];
    this.statements = 0;
    this.pending = new Map(); // table → { columns, rows }
  }
  row(table, columns, values) {
    let p = this.pending.get(table);
    if (!p) {
      p = { columns, rows: [], bytes: 0 };
      this.pending.set(table, p);
    }
    const row = `(${values.map(sqlValue).join(",")})`;
    // D1 refuses a statement over 100,000 bytes (SQLITE_TOOBIG): wide rows (signals with their
    // details) reach that before ROWS_PER_STATEMENT.
    if (p.bytes + row.length > STATEMENT_BYTES) this.flushTable(table);
    p.rows.push(row);
    p.bytes += row.length + 1;
    if (p.rows.length >= ROWS_PER_STATEMENT) this.flushTable(table);
  }
  raw(sql) {
    this.buffer.push(sql);
    this.bump();
  }
  flushTable(table) {
    // Parents first, so every foreign key points at a row already written.
    for (const parent of PARENTS[table] ?? []) this.flushTable(parent);
    const p = this.pending.get(table);
    if (!p || p.rows.length === 0) return;
    this.buffer.push(`INSERT INTO ${table} (${p.columns.join(",")}) VALUES ${p.rows.join(",")};`);
    p.rows = [];
    p.bytes = 0;
    this.bump();
  }
  bump() {
    if (++this.statements >= STATEMENTS_PER_FILE) this.flushFile();
  }
  flushFile() {
    if (this.buffer.length === 0) return;
    const file = join(this.dir, `scale-${String(this.files.length).padStart(3, "0")}.sql`);
    writeFileSync(file, `${this.buffer.join("\n")}\n`);
    this.files.push(file);
    this.buffer = [];
    this.statements = 0;
  }
  close() {
    for (const table of this.pending.keys()) this.flushTable(table);
    this.flushFile();
    return this.files;
  }
}

function sqlValue(v) {
  if (v === null || v === undefined) return "NULL";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : String(Math.round(v));
  if (typeof v === "bigint") return v.toString();
  return `'${String(v).replaceAll("'", "''")}'`;
}

const SESSION_COLUMNS = [
  "tenant_id",
  "start",
  "customer_id",
  "product_id",
  "session_id",
  "events",
  "units_hi",
  "units_lo",
  "revenue",
  "cost",
  "input_tokens_hi",
  "input_tokens_lo",
  "output_tokens_hi",
  "output_tokens_lo",
  "cached_input_tokens_hi",
  "cached_input_tokens_lo",
  "first_at",
  "last_at",
];
/** A non-negative integer as the [hi, lo] halves the session rollups keep it in. */
const halvesOf = (n) => [BigInt(Math.floor(n / NANOS)), BigInt(n % NANOS)];

/** The providers and models the scale tenant's usage is costed on ('' for usage without a cost
 * block): each customer's metric is served by one of them. */
const MODELS = [
  ["anthropic", "claude-sonnet-4-5"],
  ["anthropic", "claude-haiku-4-5"],
  ["anthropic", "claude-opus-4-1"],
  ["openai", "gpt-4.1"],
  ["openai", "gpt-4.1-mini"],
  ["google", "gemini-2.5-pro"],
  ["mistral", "mistral-large"],
  ["", ""],
];

/** rollups_model_tenant_<grain> of one tenant from its customer rollups, as the consumer keeps
 * them from the actors' facets (schema/0024_model_rollups.sql): each customer × metric's usage on
 * one model of MODELS, summed in halves, so the model rows add up to the tenant rows. */
function modelRollupsSql(grain, tenantId) {
  const B = 1_000_000_000;
  const halves = (c) => `SUM(${c} / ${B}) + SUM(${c} % ${B}) / ${B}, SUM(${c} % ${B}) % ${B}`;
  // json_each rather than a UNION ALL of the models: D1 caps the terms of a compound SELECT.
  return `INSERT INTO rollups_model_tenant_${grain} (tenant_id, start, product_id, metric_id,
  provider, model, units_hi, units_lo, revenue_hi, revenue_lo, cost_hi, cost_lo, events,
  uncosted_events, uncosted_revenue_hi, uncosted_revenue_lo)
SELECT r.tenant_id, r.start, r.product_id, r.metric_id, m.value ->> 0, m.value ->> 1,
  ${halves("r.units")}, ${halves("r.revenue")}, ${halves("r.cost")}, SUM(r.events),
  SUM(r.uncosted_events), ${halves("r.uncosted_revenue")}
FROM rollups_${grain} r
JOIN json_each('${JSON.stringify(MODELS)}') m
  ON m.key = (CAST(substr(r.customer_id, 2) AS INTEGER) + length(r.metric_id)) % ${MODELS.length}
WHERE r.tenant_id = '${tenantId}'
GROUP BY r.tenant_id, r.start, r.product_id, r.metric_id, m.value ->> 0, m.value ->> 1;`;
}

/** rollups_tenant_<grain> of one tenant from its customer rollups, each sum in halves. */
function tenantRollupsSql(grain, tenantId) {
  const B = 1_000_000_000;
  const halves = (c) => `SUM(${c} / ${B}) + SUM(${c} % ${B}) / ${B}, SUM(${c} % ${B}) % ${B}`;
  return `INSERT INTO rollups_tenant_${grain} (tenant_id, start, product_id, metric_id, units_hi,
  units_lo, revenue_hi, revenue_lo, cost_hi, cost_lo, events, uncosted_events, uncosted_revenue_hi,
  uncosted_revenue_lo)
SELECT tenant_id, start, product_id, metric_id, ${halves("units")}, ${halves("revenue")},
  ${halves("cost")}, SUM(events), SUM(uncosted_events), ${halves("uncosted_revenue")}
FROM rollups_${grain} WHERE tenant_id = '${tenantId}'
GROUP BY tenant_id, start, product_id, metric_id;`;
}

/** The newest migration in schema/ (file name). */
export function latestMigration() {
  return readdirSync(join(ROOT, "schema"))
    .filter((f) => f.endsWith(".sql"))
    .sort()
    .at(-1);
}

function d1Execute(persistTo, file) {
  const res = spawnSync(
    join(ROOT, "node_modules", ".bin", "wrangler"),
    ["d1", "execute", "DB", "--local", "--persist-to", persistTo, "--file", file],
    {
      cwd: ROOT,
      env: { ...STACK_ENV, CI: "1" },
      stdio: ["ignore", "pipe", "pipe"],
      encoding: "utf8",
    },
  );
  if (res.status !== 0) {
    throw new Error(
      `d1 execute ${file} failed:\n${(res.stdout ?? "").slice(-2000)}${(res.stderr ?? "").slice(-2000)}`,
    );
  }
}

/**
 * Generates the data set into `persistTo` (fresh local state) and returns the tenant's keys.
 * @param {{persistTo: string, customers?: number, days?: number, port?: number, quiet?: boolean}} o
 */
export async function generateScaleData(o) {
  const customers = o.customers ?? Number(process.env.SCALE_CUSTOMERS ?? 10_000);
  const days = o.days ?? Number(process.env.SCALE_DAYS ?? 90);
  const port = o.port ?? Number(process.env.SCALE_PORT ?? 8800);
  const hourlyCustomers = o.hourlyCustomers ?? Number(process.env.SCALE_HOURLY_CUSTOMERS ?? 0);
  const hourlyDays = o.hourlyDays ?? Number(process.env.SCALE_HOURLY_DAYS ?? 30);
  const timeZone = o.timeZone ?? process.env.SCALE_TIME_ZONE ?? "UTC";
  const sessionDays = o.sessionDays ?? Number(process.env.SCALE_SESSION_DAYS ?? 10);
  const log = o.quiet ? () => {} : (m) => console.log(m);
  const { adminToken } = ensureDevVars();
  applyMigrations(o.persistTo, true);

  // 1. Tenant and catalog through the API.
  log("generate: tenant and catalog through the API…");
  const stack = await startWrangler({ port, persistTo: o.persistTo, quiet: true });
  let tenant;
  try {
    tenant = await request(`${stack.url}/admin/tenants`, {
      method: "POST",
      token: adminToken,
      body: {
        id: "scale",
        name: "Scale Co",
        // The zone the reports' local days, weeks and months are cut in (SCALE_TIME_ZONE).
        settings: { retry: { time_zone: timeZone } },
      },
    });
    const post = (path, body) =>
      request(`${stack.url}${path}`, { method: "POST", token: tenant.operator_token, body });
    await post("/api/products", { id: "chat-api", name: "Chat API" });
    await post("/api/products/chat-api/metrics", { id: "input_tokens", unit: "token" });
    await post("/api/products/chat-api/metrics", { id: "output_tokens", unit: "token" });
    await post("/api/products", { id: "agents", name: "Agents" });
    await post("/api/products/agents/metrics", {
      id: "agent_sessions",
      unit: "session",
      aggregation: "count",
    });
    for (const p of PLANS) {
      await post("/api/plans", {
        id: p.id,
        product: p.product,
        name: p.name,
        currency: "USD",
        period: p.period,
        components: p.components,
      });
    }
  } finally {
    await stack.stop();
  }

  // 2. The bulk, as SQL.
  log(`generate: ${customers.toLocaleString("en-US")} customers × ${days} days as SQL…`);
  const sqlDir = join(o.persistTo, "scale-sql");
  mkdirSync(sqlDir, { recursive: true });
  const w = new SqlWriter(sqlDir);
  const T = tenant.tenant_id;
  const rand = prng(42);
  const now = Date.now();
  const today = Math.floor(now / DAY) * DAY;
  const firstDay = today - (days - 1) * DAY;
  const plan = Object.fromEntries(PLANS.map((p) => [p.id, p]));
  let rollupRows = 0;
  let hourlyRows = 0;
  const ROLLUP_COLUMNS = [
    "tenant_id",
    "start",
    "customer_id",
    "product_id",
    "metric_id",
    "units",
    "revenue",
    "cost",
    "events",
  ];
  const dailyRow = (i, values) => {
    w.row("rollups_daily", ROLLUP_COLUMNS, values);
    hourly(i, values);
  };
  /** A daily row's hourly split (integers summing exactly), for the hourly subset. */
  const hourly = (i, values) => {
    const [T_, d, cid, product, metric, ...amounts] = values;
    if (i >= hourlyCustomers || d < today - (hourlyDays - 1) * DAY) return;
    const hours = d === today ? Math.max(1, Math.floor((now - today) / 3_600_000)) : 24;
    const weights = Array.from(
      { length: hours },
      (_, h) => 1 + Math.sin(((h - 8) / 24) * Math.PI * 2),
    );
    const sum = weights.reduce((a, b) => a + b, 0);
    const left = [...amounts];
    for (let h = 0; h < hours; h++) {
      const part = amounts.map((a, k) =>
        h === hours - 1 ? left[k] : Math.floor((a * weights[h]) / sum),
      );
      part.forEach((p, k) => {
        left[k] -= p;
      });
      if (part.every((p) => p === 0)) continue;
      w.row("rollups_hourly", ROLLUP_COLUMNS, [
        T_,
        d + h * 3_600_000,
        cid,
        product,
        metric,
        ...part,
      ]);
      hourlyRows++;
    }
  };
  // Sessions draw from their own generator, so the rest of the data set is what it was before
  // sessions were kept.
  const sessionRand = prng(7);
  let sessionRows = 0;
  /**
   * A customer-day's agent sessions, carved from its usage (`day`: that day's usage of the
   * product: tokens or sessions, revenue and cost in nanos): 1–4 sessions, each a few minutes to
   * an hour from a random start (so some cross an hour and make two rows), together 40 % of the
   * day's usage, split over their rows by time.
   */
  const sessionsOf = (cid, d, productId, day) => {
    if (d < today - (sessionDays - 1) * DAY) return;
    const hours = d === today ? Math.floor((now - today) / HOUR) : 24;
    if (hours < 1) return;
    const n = 1 + Math.floor(sessionRand() * 4);
    for (let k = 0; k < n; k++) {
      const share = (0.4 / n) * (0.5 + sessionRand());
      const first =
        d + Math.floor(sessionRand() * hours) * HOUR + Math.floor(sessionRand() * 59) * 60_000;
      const last = Math.min(
        first + Math.round(60_000 * Math.exp(sessionRand() * 4)),
        d + hours * HOUR - 1,
      );
      const tokens = Math.round(day.tokens * share);
      const session = `ses_${cid}_${d / DAY}_${k}`;
      for (let h = Math.floor(first / HOUR) * HOUR; h <= last; h += HOUR) {
        const part = (Math.min(last + 1, h + HOUR) - Math.max(first, h)) / (last + 1 - first);
        const input = Math.round(tokens * part);
        const output = Math.round(input * 0.25);
        const cached = Math.round(input * 0.2);
        const units =
          productId === "agents" ? Math.max(1, Math.round(input / 1000)) : input + output;
        w.row("session_rollups_hourly", SESSION_COLUMNS, [
          T,
          h,
          cid,
          productId,
          session,
          Math.max(1, Math.round(input / 1500)),
          ...halvesOf(units * 1_000_000),
          Math.round(day.revenue * share * part),
          Math.round(day.cost * share * part),
          ...halvesOf(input),
          ...halvesOf(output),
          ...halvesOf(cached),
          Math.max(first, h),
          Math.min(last, h + HOUR - 1),
        ]);
        sessionRows++;
      }
    }
  };
  let invoiceCount = 0;
  let seq = 0;

  for (let i = 0; i < customers; i++) {
    const cid = `c${String(i).padStart(5, "0")}`;
    const created = today - Math.floor(rand() * 400 + 5) * DAY;
    w.row(
      "customers",
      ["tenant_id", "id", "name", "email", "metadata", "created_at", "updated_at"],
      [T, cid, `Customer ${i}`, `billing+${cid}@example.com`, "{}", created, created],
    );
    const r = rand();
    const chatPlan = r < 0.4 ? "starter" : r < 0.65 ? "growth" : r < 0.75 ? "scale-annual" : "payg";
    const subs = [{ product: "chat-api", plan: chatPlan }];
    if (rand() < 0.1) subs.push({ product: "agents", plan: "agents-pro" });
    const size = Math.exp(rand() * 5) * 20_000; // tokens per day, lognormal-ish
    const costFactor = 0.25 + rand() * 1.2; // some customers cost more than they pay
    for (const [k, s] of subs.entries()) {
      const sid = `sub_${cid}_${k}`;
      const recent = rand() < 0.05;
      const start = recent
        ? today - Math.floor(rand() * 20 + 1) * DAY + Math.floor(rand() * 24) * 3_600_000
        : created + Math.floor(rand() * 3) * DAY;
      const trialEnd = recent ? start + 14 * DAY : null;
      const cancelAt = today - Math.floor(rand() * 120) * DAY;
      const canceled = !recent && rand() < 0.06 && cancelAt > start + 7 * DAY;
      const end = canceled ? cancelAt : null;
      // Phases: some starters upgraded to growth at some point.
      const phases = [{ plan: s.plan, start, end, anchor: start }];
      if (s.plan === "starter" && rand() < 0.12) {
        const at =
          start +
          Math.floor((rand() * Math.max(1, (end ?? today) - start)) / DAY) * DAY +
          3_600_000;
        if (at > start && (end === null || at < end)) {
          phases[0].end = at;
          phases.push({ plan: "growth", start: at, end, anchor: start });
        }
      }
      const current = phases.filter((p) => p.start <= now).at(-1) ?? phases[0];
      // Invoices for periods closed in the last ~6 months, with dunning history.
      let pastDueAt = null;
      const invoiceRows = new Map(); // period start → row (a mid-period change shares it)
      for (const ph of phases) {
        const p = plan[ph.plan];
        const step = p.period === "year" ? 12 : 1;
        for (let n = 0; ; n++) {
          const ps = addMonths(ph.anchor, n * step);
          const pe = addMonths(ph.anchor, (n + 1) * step);
          if (ps >= (ph.end ?? Number.POSITIVE_INFINITY) || ps >= now) break;
          const from = Math.max(ps, ph.start);
          const to = Math.min(pe, ph.end ?? pe);
          const close = to;
          if (close > now - 3_600_000 || close < now - 190 * DAY || to <= from) continue;
          if (trialEnd !== null && to <= trialEnd) continue;
          const share = (to - from) / (pe - ps);
          const usage = Math.round(
            size * 30 * share * (p.prices.input_tokens ?? 0.05 / 1000) * NANOS,
          );
          const total = Math.round((p.flat * share * NANOS + usage) / 10_000_000) * 10_000_000;
          const due = close + 30 * DAY;
          const age = now - close;
          const x = rand();
          let status = "paid";
          if (x < 0.005) status = "void";
          else if (age < 45 * DAY ? x < 0.4 : x < 0.03) status = "open";
          const paidAt =
            status === "paid" ? Math.min(now - 1, close + Math.floor(rand() * 25 + 1) * DAY) : null;
          if (status === "open" && due <= now && (pastDueAt === null || due < pastDueAt))
            pastDueAt = due;
          const prev = invoiceRows.get(ps);
          if (prev) {
            prev[10] += total;
            prev[14] += total;
            prev[15] += usage;
            prev[8] = close;
            continue;
          }
          invoiceRows.set(ps, [
            T,
            `inv_${cid}_${k}_${ps}`,
            sid,
            cid,
            s.product,
            "USD",
            ps,
            pe,
            close,
            status,
            total,
            0,
            0,
            0,
            total,
            usage,
            close,
            due,
            close + 3_600_000,
            paidAt,
            null,
            status === "void" ? close + DAY : null,
            status === "void" ? "duplicate" : null,
            close,
            close,
          ]);
        }
      }
      const status =
        end !== null && end <= now
          ? "canceled"
          : pastDueAt !== null
            ? "past_due"
            : trialEnd !== null && trialEnd > now
              ? "trialing"
              : "active";
      w.row(
        "subscriptions",
        [
          "tenant_id",
          "id",
          "customer_id",
          "plan_id",
          "status",
          "start_at",
          "trial_end",
          "anchor_at",
          "end_at",
          "created_at",
          "updated_at",
        ],
        [T, sid, cid, current.plan, status, start, trialEnd, current.anchor, end, start, start],
      );
      for (const ph of phases) {
        w.row(
          "subscription_phases",
          [
            "tenant_id",
            "subscription_id",
            "start_at",
            "end_at",
            "plan_id",
            "anchor_at",
            "created_at",
          ],
          [T, sid, ph.start, ph.end, ph.plan, ph.anchor, ph.start],
        );
      }
      for (const row of invoiceRows.values()) {
        invoiceCount++;
        w.row(
          "invoices",
          [
            "tenant_id",
            "id",
            "subscription_id",
            "customer_id",
            "product_id",
            "currency",
            "period_start",
            "period_end",
            "closes_at",
            "status",
            "subtotal",
            "minimum_topup",
            "discount_total",
            "rounding",
            "total",
            "usage_total",
            "issued_at",
            "due_at",
            "finalized_at",
            "paid_at",
            "payment_reference",
            "voided_at",
            "void_reason",
            "created_at",
            "updated_at",
          ],
          row,
        );
        const flat = row[10] - row[15];
        // Two lines per invoice: the flat fee and the usage (position = component index).
        for (const [i, type, metric, quantity, amount, description] of [
          [0, "flat", null, "1000000", flat, "Flat fee"],
          [1, "per_unit", "input_tokens", "0", row[15], "Usage"],
        ]) {
          w.row("invoice_lines", INVOICE_LINE_COLUMNS, [
            T,
            row[1],
            i,
            current.plan,
            row[6],
            row[8],
            i,
            type,
            metric,
            quantity,
            amount,
            description,
          ]);
        }
      }
      if (pastDueAt !== null && status === "past_due") {
        w.row(
          "subscription_status_changes",
          ["tenant_id", "subscription_id", "at", "seq", "status", "reason", "created_at"],
          [T, sid, pastDueAt, 1, "past_due", "invoice overdue", pastDueAt],
        );
      }
      // Daily rollups while the subscription is live (free during the trial: cost, no revenue).
      for (let d = Math.max(firstDay, Math.floor(start / DAY) * DAY); d <= today; d += DAY) {
        if (end !== null && d >= end) break;
        const ph = phases.filter((p) => p.start <= d + DAY - 1).at(-1) ?? phases[0];
        const p = plan[ph.plan];
        const weekday = new Date(d).getUTCDay();
        const season = weekday === 0 || weekday === 6 ? 0.6 : 1;
        const part = d === today ? (now - today) / DAY : 1;
        const inTrial = trialEnd !== null && d < trialEnd;
        if (s.product === "chat-api") {
          const input = Math.round(size * season * part * (0.7 + rand() * 0.6));
          const events = Math.max(1, Math.round(input / 1500));
          const rev = inTrial ? 0 : Math.round(input * p.prices.input_tokens * NANOS);
          const cost = Math.round(input * 3e-6 * costFactor * NANOS);
          dailyRow(i, [
            T,
            d,
            cid,
            "chat-api",
            "input_tokens",
            input * 1_000_000,
            rev,
            cost,
            events,
          ]);
          rollupRows++;
          sessionsOf(cid, d, "chat-api", { tokens: input, revenue: rev, cost });
          if (chatPlan === "growth" || chatPlan === "scale-annual") {
            const output = Math.round(input * 0.25);
            dailyRow(i, [
              T,
              d,
              cid,
              "chat-api",
              "output_tokens",
              output * 1_000_000,
              inTrial ? 0 : Math.round(output * p.prices.output_tokens * NANOS),
              Math.round(output * 15e-6 * costFactor * NANOS),
              events,
            ]);
            rollupRows++;
          }
        } else {
          const sessions = Math.round((size / 2000) * season * part * (0.5 + rand()));
          const revenue = inTrial ? 0 : Math.round(sessions * 0.05 * NANOS);
          const cost = Math.round(sessions * 0.04 * costFactor * NANOS);
          sessionsOf(cid, d, "agents", { tokens: sessions * 4_000, revenue, cost });
          dailyRow(i, [
            T,
            d,
            cid,
            "agents",
            "agent_sessions",
            sessions * 1_000_000,
            revenue,
            cost,
            sessions,
          ]);
          rollupRows++;
        }
      }
    }
    // Starter customers pacing past their quota, with the advice the consumer prices
    // (workers/ladder/intake.ts): the Upgrade Signals template's rows.
    if (chatPlan === "starter" && rand() < 0.05) {
      const at = today - Math.floor(rand() * 10) * DAY;
      const saving = (20 + rand() * 400).toFixed(2);
      w.row("signals", SIGNAL_COLUMNS, [
        T,
        `sig_${++seq}`,
        `pacing:${cid}:${at}`,
        "QuotaPacingProjectionService",
        cid,
        "chat-api",
        "input_tokens",
        at - 10 * DAY,
        at + 20 * DAY,
        1 + rand(),
        null,
        JSON.stringify({ current_plan: "starter", cheaper_plan: "growth", saving }),
        "[]",
        "open",
        at,
      ]);
    }
    // A few hundred open signals (the at-risk slice).
    if (rand() < 0.03) {
      const at = today - Math.floor(rand() * 20) * DAY;
      w.row("signals", SIGNAL_COLUMNS, [
        T,
        `sig_${++seq}`,
        `churn:${cid}:${at}`,
        "WeeklyChurnSignalDetector",
        cid,
        "chat-api",
        null,
        at - 7 * DAY,
        at,
        0.6,
        "drop",
        "{}",
        "[]",
        "open",
        at,
      ]);
    }
  }
  // The tenant-level rollups the consumer writes beside the customers' (store/rollups.ts), summed
  // as schema/0022_tenant_rollups.sql backfills them, and those by provider and model: after
  // every customer row is written.
  w.flushTable("rollups_daily");
  w.flushTable("rollups_hourly");
  for (const grain of ["hourly", "daily"]) {
    w.raw(tenantRollupsSql(grain, T));
    w.raw(modelRollupsSql(grain, T));
  }
  w.raw(`UPDATE tenants SET catalog_version = catalog_version + 1 WHERE id = '${T}';`);
  const files = w.close();

  // 3. Load.
  log(
    `generate: loading ${rollupRows.toLocaleString("en-US")} rollup rows (${hourlyRows.toLocaleString("en-US")} hourly), ${sessionRows.toLocaleString("en-US")} session rows, ${invoiceCount.toLocaleString("en-US")} invoices (${files.length} files)…`,
  );
  const t0 = Date.now();
  for (const [n, file] of files.entries()) {
    d1Execute(o.persistTo, file);
    if (!o.quiet && n % 10 === 9) log(`  ${n + 1}/${files.length} files`);
  }
  rmSync(sqlDir, { recursive: true, force: true });
  log(`generate: loaded in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  const keys = {
    ...tenant,
    customers,
    days,
    rollup_rows: rollupRows,
    hourly_rollup_rows: hourlyRows,
    time_zone: timeZone,
    hourly_customers: Math.min(hourlyCustomers, customers),
    hourly_days: hourlyCustomers > 0 ? Math.min(hourlyDays, days) : 0,
    session_rows: sessionRows,
    session_days: Math.min(sessionDays, days),
    invoices: invoiceCount,
    generated_at: new Date(now).toISOString(),
    // The schema it was generated on: a data set from before a later migration lacks its tables'
    // rows (scripts/bench-reports.mjs refuses to reuse it).
    latest_migration: latestMigration(),
  };
  writeFileSync(join(o.persistTo, "aforo-scale.json"), `${JSON.stringify(keys, null, 2)}\n`, {
    mode: 0o600,
  });
  return keys;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2] ?? mkdtempSync(join(tmpdir(), "aforo-scale-"));
  const keys = await generateScaleData({ persistTo: dir });
  console.log(
    `\nScale data in ${dir} (tenant '${keys.tenant_id}'); keys in ${join(dir, "aforo-scale.json")}.`,
  );
  console.log(`Serve it: npx wrangler dev --persist-to ${dir} --port 8800`);
}
