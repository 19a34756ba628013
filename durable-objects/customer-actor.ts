import { DurableObject } from "cloudflare:workers";
import { periodContaining } from "../domain/billing-period";
import {
  ALLOWED_LATENESS_MS,
  type BatchSummary,
  CustomerDetection,
  type DetectionReader,
  monthStart,
  type PacingUpdate,
} from "../domain/detection";
import type { Signal } from "../domain/detectors";
import { fullBucket, type GateAnswer, type TokenBucket, takeTokens } from "../domain/gate";
import type { GateTier, PolicyDocument } from "../domain/ladder";
import { formatMoney, formatQuantity } from "../domain/money";
import {
  type CustomerTerms,
  committedRevenue,
  findPhase,
  rateEvent,
  type UsageLedger,
} from "../domain/rating";
import { DAY_MS, hourStart, type RatedEvent, type UsageEvent } from "../domain/usage-event";
import { loadCustomerTerms } from "../store/customer-terms";
import { defaultPolicies, loadCustomerPolicies, type PolicyResolver } from "../store/policies";
import { ACTOR_MIGRATIONS } from "./actor-schema";

// One actor per (tenant, customer), named `${tenant}:${customer}`. It owns that customer's
// recent raw events, dedupe keys, period-to-date usage and hourly/daily buckets, and forwards
// usage deltas to the events queue through a durable outbox. The actor is a thin host: rating
// and costing are the pure functions in domain/.

export const actorName = (tenantId: string, customerId: string) => `${tenantId}:${customerId}`;

export interface IngestRequest {
  tenantId: string;
  customerId: string;
  /** The tenant's catalog version the edge saw; a newer one makes the actor reload its terms. */
  catalogVersion: number;
  rawRetentionDays: number;
  events: UsageEvent[];
  /** Return each accepted event's rating (for the live stream); counts only otherwise. */
  detail?: boolean;
}

export interface IngestResult {
  accepted: number;
  duplicates: number;
  rated?: RatedEvent[];
}

export interface StoredEvent {
  id: string;
  time: string;
  received_at: string;
  product: string;
  metric: string;
  quantity: string;
  revenue: string;
  cost: string;
  cost_status: string;
  model: string | null;
  provider: string | null;
  input_tokens: number | null;
  output_tokens: number | null;
  cached_input_tokens: number | null;
  subscription_id: string | null;
  flags: string[];
  source: string;
  properties: Record<string, string | number | boolean | null> | null;
}

/** A metric with an included quota that a batch touched: where its period-to-date usage lives,
 * the batch's latest event time for it and a few of its event ids. */
interface PacedMetric {
  subscription: string;
  periodStart: number;
  product: string;
  metric: string;
  at: number;
  ids: string[];
}

/** A usage delta for one (hour, product, metric), as the queue consumer applies it to D1. */
export interface RollupDelta {
  hour: number;
  product: string;
  metric: string;
  units: string; // micros
  revenue: string; // nanos
  cost: string; // nanos
  events: number;
}

export interface OutboxMessage {
  batch_id: string;
  tenant_id: string;
  customer_id: string;
  deltas: RollupDelta[];
  signals?: Signal[];
}

export interface GateRequest {
  tenantId: string;
  customerId: string;
  product?: string;
  units: number;
}

export interface GateResult extends GateAnswer {
  tier: GateTier;
  /** The rate (units per second) the customer is held to right now; 0 when blocked. */
  limit: number;
}

interface Delta {
  hour: number;
  product: string;
  metric: string;
  units: bigint;
  revenue: bigint;
  cost: bigint;
  events: number;
}

const DEDUPE_WINDOW_MS = 35 * DAY_MS;
const HOURLY_BUCKET_DAYS = 35;
const DAILY_BUCKET_DAYS = 400;
const FLUSH_DELAY_MS = 2_000;
const SIGNAL_FLUSH_DELAY_MS = 100;
/** Sent outbox rows are checked against D1 after this long, and sent again after RESEND_AFTER_MS
 * without a trace of their batch in applied_batches. */
const RECONCILE_AFTER_MS = 15_000;
const RESEND_AFTER_MS = 60_000;
/** Hours of a customer that went quiet close on the wall clock once it has been silent this long
 * (so a backfill in progress is never mistaken for silence). */
const SILENCE_GRACE_MS = 15 * 60_000;
/** When the tenant's whole feed is silent (no customer's usage has arrived), a silent customer's
 * hours wait for the feed instead of closing as zeros — an outage of the gateway or of Aforo is
 * not every customer churning at once — for at most this long, after which they close anyway
 * (a tenant with one customer cannot tell the two apart). */
const FEED_OUTAGE_MAX_MS = 72 * 3_600_000;
const POLICY_TTL_MS = 30_000;
const RETENTION_EVERY_MS = 6 * 3_600_000;
const INSERT_CHUNK = 250;
const DELTAS_PER_MESSAGE = 200;
const SIGNALS_PER_MESSAGE = 40;
const LEDGER_CACHE_SIZE = 64;
const SEND_BATCH_BYTES = 200_000;

export class CustomerActor extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private terms: {
    version: number;
    value: CustomerTerms;
    policies: PolicyResolver;
    loadedAt: number;
  } | null = null;
  private bucket: TokenBucket | null = null;
  private who: { tenantId: string; customerId: string } | null = null;
  /** Month start → product → revenue and COGS (currency units) of the months detection read. */
  private readonly monthTotals = new Map<number, Map<string, { revenue: number; cost: number }>>();
  /** The gate tier, mirrored from storage so the gate path reads no storage at all. */
  private tier: GateTier | null = null;
  /** Mirrors the timers table, so the hot path never queries it. */
  private readonly timers = new Map<string, number>();
  private alarmAt: number | null = null;
  /** Period-to-date usage, LRU-bounded: memory does not grow with history. */
  private readonly ledger = new Map<string, Map<string, bigint>>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    ctx.blockConcurrencyWhile(async () => {
      this.ensureSchema();
      for (const t of this.sql.exec<{ name: string; due: number }>(
        "SELECT name, due FROM timers",
      )) {
        this.timers.set(t.name, t.due);
      }
      this.alarmAt = await ctx.storage.getAlarm();
    });
  }

  private ensureSchema() {
    const version = this.ctx.storage.kv.get<number>("schema_version") ?? 0;
    if (version >= ACTOR_MIGRATIONS.length) return;
    this.ctx.storage.transactionSync(() => {
      for (const ddl of ACTOR_MIGRATIONS.slice(version)) this.sql.exec(ddl);
      this.ctx.storage.kv.put("schema_version", ACTOR_MIGRATIONS.length);
    });
  }

  // ---------------------------------------------------------------------------------------
  // Ingest

  /** Dedupes, rates, costs and stores a batch in one storage transaction; the events are
   * durable when this returns (the output gate holds the reply until the write commits). */
  async ingest(req: IngestRequest): Promise<IngestResult> {
    this.rememberIdentity(req);
    const terms = await this.loadTerms(req);
    const now = Date.now();
    try {
      const { result, signals } = this.ctx.storage.transactionSync(() => {
        const result = this.ingestSync(req, terms.value, terms.policies, now);
        return { result, signals: result.signals };
      });
      this.ctx.storage.kv.put("last_ingest_at", now);
      if (signals > 0) this.scheduleTimer("flush", now + SIGNAL_FLUSH_DELAY_MS);
      else if (result.accepted > 0) this.scheduleTimer("flush", now + FLUSH_DELAY_MS);
      this.scheduleSilenceCheck(now);
      if (!this.timers.has("retention")) this.scheduleTimer("retention", now + RETENTION_EVERY_MS);
      return {
        accepted: result.accepted,
        duplicates: result.duplicates,
        ...(result.rated ? { rated: result.rated } : {}),
      };
    } catch (err) {
      // The transaction rolled back; the in-memory ledger may be ahead of storage.
      this.ledger.clear();
      this.monthTotals.clear();
      throw err;
    }
  }

  private ingestSync(
    req: IngestRequest,
    terms: CustomerTerms,
    policies: PolicyResolver,
    now: number,
  ): IngestResult & { signals: number } {
    let duplicates = 0;
    const seenBefore = new Set(
      this.sql
        .exec<{ id: string }>(
          "SELECT id FROM events WHERE id IN (SELECT value FROM json_each(?))",
          JSON.stringify(req.events.map((e) => e.id)),
        )
        .toArray()
        .map((r) => r.id),
    );
    const fresh: UsageEvent[] = [];
    for (const event of req.events) {
      if (seenBefore.has(event.id)) duplicates++;
      else {
        seenBefore.add(event.id); // a repeat inside the same batch is a duplicate too
        fresh.push(event);
      }
    }
    if (fresh.length === 0) return { accepted: 0, duplicates, signals: 0 };

    const dirty = new Set<string>();
    const ledger: UsageLedger = {
      usage: (subscriptionId, periodStart) => {
        const key = `${subscriptionId}\u0000${periodStart}`;
        dirty.add(key);
        return this.ledgerEntry(key, subscriptionId, periodStart);
      },
    };
    const rows: unknown[][] = [];
    const rated: RatedEvent[] | undefined = req.detail ? [] : undefined;
    const deltas = new Map<string, Delta>();
    const summary: BatchSummary = {
      minTime: Infinity,
      maxTime: -Infinity,
      months: new Map(),
      pacing: [],
    };
    const paced = new Map<string, PacedMetric>();
    for (const event of fresh) {
      const rating = rateEvent(terms, ledger, event);
      summary.minTime = Math.min(summary.minTime, event.time);
      summary.maxTime = Math.max(summary.maxTime, event.time);
      const month = monthStart(event.time);
      const seen = summary.months.get(month);
      if (!seen) summary.months.set(month, { at: event.time, ids: [event.id] });
      else {
        seen.at = Math.max(seen.at, event.time);
        if (seen.ids.length < 5) seen.ids.push(event.id);
      }
      if (
        rating.subscription_id !== null &&
        rating.period_start !== null &&
        !rating.flags.includes("trial")
      ) {
        const key = `${rating.subscription_id}|${rating.period_start}|${event.metric}`;
        const p = paced.get(key);
        if (!p) {
          paced.set(key, {
            subscription: rating.subscription_id,
            periodStart: rating.period_start,
            product: event.product,
            metric: event.metric,
            at: event.time,
            ids: [event.id],
          });
        } else {
          p.at = Math.max(p.at, event.time);
          if (p.ids.length < 5) p.ids.push(event.id);
        }
      }
      const c = event.cost;
      rows.push([
        event.id,
        event.time,
        now,
        event.product,
        event.metric,
        Number(rating.quantity),
        Number(rating.revenue),
        Number(rating.cost.nanos),
        rating.cost.status,
        rating.cost.provider ?? c?.provider ?? null,
        rating.cost.model ?? c?.model ?? null,
        c?.input_tokens ?? null,
        c?.output_tokens ?? null,
        c?.cached_input_tokens ?? null,
        rating.subscription_id,
        rating.flags.join(","),
        event.source,
        event.properties ? JSON.stringify(event.properties) : null,
      ]);
      const hour = hourStart(event.time);
      const key = `${hour}\u0000${event.product}\u0000${event.metric}`;
      let delta = deltas.get(key);
      if (!delta) {
        delta = {
          hour,
          product: event.product,
          metric: event.metric,
          units: 0n,
          revenue: 0n,
          cost: 0n,
          events: 0,
        };
        deltas.set(key, delta);
      }
      delta.units += rating.quantity;
      delta.revenue += rating.revenue;
      delta.cost += rating.cost.nanos;
      delta.events += 1;
      rated?.push({
        id: event.id,
        customer: event.customer,
        product: event.product,
        metric: event.metric,
        quantity: event.quantity,
        time: event.time,
        source: event.source,
        revenue: formatMoney(rating.revenue, 0),
        cost: formatMoney(rating.cost.nanos, 0),
        cost_status: rating.cost.status,
        subscription_id: rating.subscription_id,
        flags: rating.flags,
      });
    }

    this.insertEvents(rows);
    this.writeLedger(dirty);
    this.writeDeltas([...deltas.values()]);
    this.addToMonthTotals(deltas.values());
    summary.pacing = this.pacingUpdates(terms, paced);
    const signals = this.detection(req.customerId, terms, policies).afterBatch(summary);
    const stored = this.storeSignals(signals, now);
    return { accepted: fresh.length, duplicates, signals: stored, ...(rated ? { rated } : {}) };
  }

  private addToMonthTotals(deltas: Iterable<Delta>) {
    for (const d of deltas) {
      const month = this.monthTotals.get(monthStart(d.hour));
      if (!month) continue; // not read yet: the first read includes this batch from the buckets
      const t = month.get(d.product) ?? { revenue: 0, cost: 0 };
      t.revenue += Number(d.revenue) / 1e9;
      t.cost += Number(d.cost) / 1e9;
      month.set(d.product, t);
    }
  }

  /** Period-to-date usage of every metric with an included quota that this batch touched. */
  private pacingUpdates(terms: CustomerTerms, paced: Map<string, PacedMetric>): PacingUpdate[] {
    const updates: PacingUpdate[] = [];
    for (const p of paced.values()) {
      const phase = findPhase(terms, p.product, p.at);
      const plan = phase ? terms.plans.get(phase.plan_id) : undefined;
      const metric = plan?.metrics.get(p.metric);
      if (!phase || !plan || !metric || metric.includedIndex === null || metric.included <= 0n)
        continue;
      const usage = this.ledger.get(`${p.subscription}\u0000${p.periodStart}`)?.get(p.metric) ?? 0n;
      updates.push({
        subscription_id: p.subscription,
        product: p.product,
        metric: p.metric,
        usage: Number(usage) / 1e6,
        quota: Number(metric.included) / 1e6,
        period: periodContaining(phase.anchor, plan.interval, p.at),
        at: p.at,
        source_event_ids: p.ids,
      });
    }
    return updates;
  }

  private detection(
    customerId: string,
    terms: CustomerTerms,
    policies: PolicyResolver,
  ): CustomerDetection {
    const kv = this.ctx.storage.kv;
    return new CustomerDetection(
      customerId,
      { get: (key) => kv.get(key), put: (key, value) => kv.put(key, value) },
      { ...this.reader, committed: (from, to) => committedRevenue(terms, from, to) },
      (product) => policies(product).detectors,
    );
  }

  /** Keeps each signal once per idempotency key and queues the new ones for the outbox. */
  private storeSignals(signals: Signal[], now: number): number {
    const fresh: Signal[] = [];
    for (const signal of signals) {
      const inserted = this.sql.exec(
        "INSERT INTO signals (idempotency_key, detector, body, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        signal.idempotency_key,
        signal.detector,
        JSON.stringify(signal),
        now,
      ).rowsWritten;
      if (inserted > 0) fresh.push(signal);
    }
    // Queue messages are capped at 128 KB: a backfill can close many hours at once.
    for (let i = 0; i < fresh.length; i += SIGNALS_PER_MESSAGE) {
      this.sql.exec(
        "INSERT INTO outbox (body, created_at) VALUES (?, ?)",
        JSON.stringify({ signals: fresh.slice(i, i + SIGNALS_PER_MESSAGE) }),
        now,
      );
    }
    return fresh.length;
  }

  private readonly reader: Omit<DetectionReader, "committed"> = {
    hours: (from, to) =>
      this.sql
        .exec<{ start: number; product: string; metric: string; units: number; events: number }>(
          `SELECT start, product, metric, units / 1e6 AS units, events FROM buckets
           WHERE granularity = 'h' AND start >= ? AND start < ?`,
          from,
          to,
        )
        .toArray(),
    days: (from, to) =>
      this.sql
        .exec<{ start: number; product: string; metric: string; units: number }>(
          `SELECT start, product, metric, units / 1e6 AS units FROM buckets
           WHERE granularity = 'd' AND start >= ? AND start < ?`,
          from,
          to,
        )
        .toArray(),
    // Calendar-month totals, read from the daily buckets once and then kept up to date in memory
    // by each batch (see addToMonthTotals), so MarginGuard costs no query per batch.
    totals: (from, to) => {
      let month = this.monthTotals.get(from);
      if (!month) {
        month = new Map();
        for (const r of this.sql.exec<{ product: string; revenue: number; cost: number }>(
          `SELECT product, SUM(revenue) / 1e9 AS revenue, SUM(cost) / 1e9 AS cost FROM buckets
           WHERE granularity = 'd' AND start >= ? AND start < ? GROUP BY product`,
          from,
          to,
        )) {
          month.set(r.product, { revenue: r.revenue, cost: r.cost });
        }
        if (this.monthTotals.size >= 4) this.monthTotals.clear();
        this.monthTotals.set(from, month);
      }
      return [...month].map(([product, t]) => ({ product, revenue: t.revenue, cost: t.cost }));
    },
    largestEvents: (from, to, limit, product, metric) =>
      this.sql
        .exec<{ id: string }>(
          `SELECT id FROM events WHERE time >= ?1 AND time < ?2
             AND (?3 IS NULL OR product = ?3) AND (?4 IS NULL OR metric = ?4)
           ORDER BY quantity DESC LIMIT ?5`,
          from,
          to,
          product ?? null,
          metric ?? null,
          limit,
        )
        .toArray()
        .map((r) => r.id),
  };

  private insertEvents(rows: unknown[][]) {
    for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
      this.sql.exec(
        `INSERT INTO events (id, time, received_at, product, metric, quantity, revenue, cost,
           cost_status, provider, model, input_tokens, output_tokens, cached_input_tokens,
           subscription_id, flags, source, properties)
         SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, value->>6,
           value->>7, value->>8, value->>9, value->>10, value->>11, value->>12, value->>13,
           value->>14, value->>15, value->>16, value->>17
         FROM json_each(?)`,
        JSON.stringify(rows.slice(i, i + INSERT_CHUNK)),
      );
    }
  }

  private ledgerEntry(key: string, subscriptionId: string, periodStart: number) {
    let usage = this.ledger.get(key);
    if (usage) {
      this.ledger.delete(key); // refresh LRU position
    } else {
      usage = new Map();
      for (const row of this.sql.exec<{ metric: string; quantity: string }>(
        "SELECT metric, quantity FROM usage_ptd WHERE subscription_id = ? AND period_start = ?",
        subscriptionId,
        periodStart,
      )) {
        usage.set(row.metric, BigInt(row.quantity));
      }
    }
    this.ledger.set(key, usage);
    if (this.ledger.size > LEDGER_CACHE_SIZE) {
      const oldest = this.ledger.keys().next().value;
      if (oldest !== undefined) this.ledger.delete(oldest);
    }
    return usage;
  }

  private writeLedger(dirty: Set<string>) {
    const rows: [string, number, string, string][] = [];
    for (const key of dirty) {
      const usage = this.ledger.get(key);
      if (!usage) continue;
      const [subscriptionId = "", periodStart] = key.split("\u0000");
      for (const [metric, quantity] of usage) {
        rows.push([subscriptionId, Number(periodStart), metric, quantity.toString()]);
      }
    }
    if (rows.length === 0) return;
    this.sql.exec(
      `INSERT OR REPLACE INTO usage_ptd (subscription_id, period_start, metric, quantity)
       SELECT value->>0, value->>1, value->>2, value->>3 FROM json_each(?)`,
      JSON.stringify(rows),
    );
  }

  /** Adds the batch's usage to the hourly and daily buckets; the hourly rows also gather it as
   * pending for the next outbox flush. Amounts travel as decimal text: exact whatever their size. */
  private writeDeltas(deltas: Delta[]) {
    const rows = deltas.map((d) => [
      d.hour,
      d.product,
      d.metric,
      String(d.units),
      String(d.revenue),
      String(d.cost),
      d.events,
    ]);
    this.sql.exec(
      `INSERT INTO buckets (granularity, start, product, metric, units, revenue, cost, events,
         pending_units, pending_revenue, pending_cost, pending_events)
       SELECT g.value, CASE g.value WHEN 'h' THEN hour ELSE hour - (hour % ${DAY_MS}) END,
         product, metric, units, revenue, cost, events,
         CASE g.value WHEN 'h' THEN units ELSE 0 END, CASE g.value WHEN 'h' THEN revenue ELSE 0 END,
         CASE g.value WHEN 'h' THEN cost ELSE 0 END, CASE g.value WHEN 'h' THEN events ELSE 0 END
       FROM (SELECT value->>0 AS hour, value->>1 AS product, value->>2 AS metric,
               CAST(value->>3 AS INTEGER) AS units, CAST(value->>4 AS INTEGER) AS revenue,
               CAST(value->>5 AS INTEGER) AS cost, value->>6 AS events FROM json_each(?)),
            json_each('["h","d"]') g
       WHERE true
       ON CONFLICT (granularity, start, product, metric) DO UPDATE SET
         units = units + excluded.units, revenue = revenue + excluded.revenue,
         cost = cost + excluded.cost, events = events + excluded.events,
         pending_units = pending_units + excluded.pending_units,
         pending_revenue = pending_revenue + excluded.pending_revenue,
         pending_cost = pending_cost + excluded.pending_cost,
         pending_events = pending_events + excluded.pending_events`,
      JSON.stringify(rows),
    );
  }

  private async loadTerms(req: { tenantId: string; customerId: string; catalogVersion: number }) {
    if (this.terms && this.terms.version >= req.catalogVersion) return this.terms;
    const [value, policies] = await Promise.all([
      loadCustomerTerms(this.env.DB, req.tenantId, req.customerId),
      loadCustomerPolicies(this.env.DB, req.tenantId, req.customerId),
    ]);
    // A concurrent load may have finished first with a newer version; keep the newest.
    if (!this.terms || this.terms.version < req.catalogVersion) {
      this.terms = { version: req.catalogVersion, value, policies, loadedAt: Date.now() };
    }
    return this.terms;
  }

  private rememberIdentity(req: IngestRequest) {
    const kv = this.ctx.storage.kv;
    this.bind(req.tenantId, req.customerId);
    if (kv.get("raw_retention_days") !== req.rawRetentionDays) {
      kv.put("raw_retention_days", req.rawRetentionDays);
    }
  }

  // ---------------------------------------------------------------------------------------
  // Reads

  /** Raw events newest first, with price and cost (drill-down). */
  async listEvents(q: {
    from?: number;
    to?: number;
    limit: number;
    before?: { time: number; seq: number };
  }) {
    const rows = this.sql
      .exec<Record<string, string | number | null>>(
        `SELECT seq, id, time, received_at, product, metric, quantity, revenue, cost, cost_status,
           provider, model, input_tokens, output_tokens, cached_input_tokens, subscription_id,
           flags, source, properties
         FROM events
         WHERE time >= ?1 AND time < ?2 AND (time < ?3 OR (time = ?3 AND seq < ?4))
         ORDER BY time DESC, seq DESC LIMIT ?5`,
        q.from ?? 0,
        q.to ?? Number.MAX_SAFE_INTEGER,
        q.before?.time ?? Number.MAX_SAFE_INTEGER,
        q.before?.seq ?? Number.MAX_SAFE_INTEGER,
        q.limit + 1,
      )
      .toArray();
    const more = rows.length > q.limit;
    const page = rows.slice(0, q.limit);
    const last = page.at(-1);
    return {
      events: page.map(toStoredEvent),
      next: more && last ? { time: Number(last.time), seq: Number(last.seq) } : null,
    };
  }

  /** Stored events by id (a signal's source events). */
  async eventsByIds(ids: string[]): Promise<StoredEvent[]> {
    return this.sql
      .exec<Record<string, string | number | null>>(
        `SELECT seq, id, time, received_at, product, metric, quantity, revenue, cost, cost_status,
           provider, model, input_tokens, output_tokens, cached_input_tokens, subscription_id,
           flags, source, properties
         FROM events WHERE id IN (SELECT value FROM json_each(?)) ORDER BY time DESC`,
        JSON.stringify(ids.slice(0, 50)),
      )
      .toArray()
      .map(toStoredEvent);
  }

  /** Totals of the stored buckets (tests and reconciliation: rollups must equal these). */
  async bucketTotals(granularity: "h" | "d" = "h") {
    return this.sql
      .exec<{
        product: string;
        metric: string;
        units: string;
        revenue: string;
        cost: string;
        events: number;
      }>(
        `SELECT product, metric, CAST(SUM(units) AS TEXT) AS units, CAST(SUM(revenue) AS TEXT) AS revenue,
           CAST(SUM(cost) AS TEXT) AS cost, SUM(events) AS events
         FROM buckets WHERE granularity = ? GROUP BY product, metric ORDER BY product, metric`,
        granularity,
      )
      .toArray();
  }

  /** The usage a billing period was rated on (metric → micro-units as decimal text): what the
   * invoice for that period is computed from, so invoice and events agree. */
  async periodUsage(subscriptionId: string, periodStart: number): Promise<Record<string, string>> {
    const usage: Record<string, string> = {};
    for (const row of this.sql.exec<{ metric: string; quantity: string }>(
      "SELECT metric, quantity FROM usage_ptd WHERE subscription_id = ? AND period_start = ?",
      subscriptionId,
      periodStart,
    )) {
      usage[row.metric] = row.quantity;
    }
    return usage;
  }

  /** Usage not yet handed to the events queue: pending deltas plus unsent outbox rows. */
  async pendingOutbox(): Promise<number> {
    return this.sql
      .exec<{ n: number }>(
        "SELECT (SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL) + (SELECT COUNT(*) FROM buckets WHERE pending_events > 0) AS n",
      )
      .one().n;
  }

  // ---------------------------------------------------------------------------------------
  // Timers: one alarm runs whatever is due and re-arms for the earliest remaining timer.

  private scheduleTimer(name: string, due: number) {
    const current = this.timers.get(name);
    if (current !== undefined && current <= due) return;
    this.sql.exec("INSERT OR REPLACE INTO timers (name, due) VALUES (?, ?)", name, due);
    this.timers.set(name, due);
    if (this.alarmAt === null || due < this.alarmAt) {
      this.alarmAt = due;
      void this.ctx.storage.setAlarm(due);
    }
  }

  private clearTimer(name: string) {
    this.sql.exec("DELETE FROM timers WHERE name = ?", name);
    this.timers.delete(name);
  }

  override async alarm(): Promise<void> {
    this.alarmAt = null;
    const now = Date.now();
    const due = [...this.timers].filter(([, at]) => at <= now).sort((a, b) => a[1] - b[1]);
    for (const [name] of due) {
      this.clearTimer(name);
      try {
        if (name === "flush") await this.flushOutbox();
        else if (name === "retention") this.applyRetention(now);
        else if (name === "silence") await this.closeSilentHours(now);
        else if (name === "reconcile") await this.reconcileOutbox(now);
      } catch (err) {
        // Each timer is idempotent: run it again shortly rather than lose it.
        console.error(`actor timer ${name} failed; retrying`, err);
        this.scheduleTimer(name, Date.now() + 5_000);
      }
    }
    const next = Math.min(...this.timers.values());
    if (Number.isFinite(next)) {
      this.alarmAt = next;
      await this.ctx.storage.setAlarm(next);
    }
  }

  /** Sends unsent outbox rows to the events queue with stable batch ids and marks them sent;
   * reconcileOutbox deletes them once D1 has applied them. */
  private async flushOutbox() {
    const who = this.identity();
    if (!who) return;
    this.sealPendingDeltas();
    for (;;) {
      const rows = this.sql
        .exec<{ seq: number; body: string }>(
          "SELECT seq, body FROM outbox WHERE sent_at IS NULL ORDER BY seq LIMIT 100",
        )
        .toArray();
      if (rows.length === 0) break;
      const messages: { body: OutboxMessage }[] = [];
      let bytes = 0;
      for (const row of rows) {
        if (messages.length > 0 && bytes + row.body.length > SEND_BATCH_BYTES) break;
        bytes += row.body.length;
        const content = JSON.parse(row.body) as { deltas?: RollupDelta[]; signals?: Signal[] };
        messages.push({
          body: {
            batch_id: `${actorName(who.tenantId, who.customerId)}:${row.seq}`,
            tenant_id: who.tenantId,
            customer_id: who.customerId,
            deltas: content.deltas ?? [],
            ...(content.signals ? { signals: content.signals } : {}),
          },
        });
      }
      try {
        await this.env.EVENTS_QUEUE.sendBatch(messages);
      } catch (err) {
        console.error("outbox flush failed; will retry", err);
        this.scheduleTimer("flush", Date.now() + 5_000);
        return;
      }
      const lastSeq = rows[messages.length - 1]?.seq ?? 0;
      this.sql.exec(
        "UPDATE outbox SET sent_at = ? WHERE sent_at IS NULL AND seq <= ?",
        Date.now(),
        lastSeq,
      );
    }
    this.scheduleTimer("reconcile", Date.now() + RECONCILE_AFTER_MS);
  }

  /** Drops the sent outbox rows D1 shows as applied; sends again those that have waited too long
   * (lost in a queue, e.g. by a restart of the local stack). The consumer skips a batch it has
   * already applied, so a second send can never count twice. */
  private async reconcileOutbox(now: number) {
    const who = this.identity();
    if (!who) return;
    const sent = this.sql
      .exec<{ seq: number; sent_at: number }>(
        "SELECT seq, sent_at FROM outbox WHERE sent_at IS NOT NULL ORDER BY seq LIMIT 500",
      )
      .toArray();
    if (sent.length === 0) return;
    const prefix = `${actorName(who.tenantId, who.customerId)}:`;
    const { results } = await this.env.DB.prepare(
      "SELECT batch_id FROM applied_batches WHERE batch_id IN (SELECT value FROM json_each(?))",
    )
      .bind(JSON.stringify(sent.map((r) => `${prefix}${r.seq}`)))
      .all<{ batch_id: string }>();
    const applied = results.map((r) => Number(r.batch_id.slice(prefix.length)));
    if (applied.length > 0) {
      this.sql.exec(
        "DELETE FROM outbox WHERE seq IN (SELECT value FROM json_each(?))",
        JSON.stringify(applied),
      );
    }
    const done = new Set(applied);
    const lost = sent
      .filter((r) => !done.has(r.seq) && now - r.sent_at > RESEND_AFTER_MS)
      .map((r) => r.seq);
    if (lost.length > 0) {
      this.sql.exec(
        "UPDATE outbox SET sent_at = NULL WHERE seq IN (SELECT value FROM json_each(?))",
        JSON.stringify(lost),
      );
      this.scheduleTimer("flush", now);
    }
    if (sent.length > applied.length) this.scheduleTimer("reconcile", now + RECONCILE_AFTER_MS);
  }

  /** Moves the deltas gathered since the last flush into outbox rows, in one transaction: from
   * here on each row's seq, and so its batch id, is fixed. */
  private sealPendingDeltas() {
    this.ctx.storage.transactionSync(() => {
      const deltas = this.sql
        .exec<RollupDelta & Record<string, SqlStorageValue>>(
          `SELECT start AS hour, product, metric, CAST(pending_units AS TEXT) AS units,
             CAST(pending_revenue AS TEXT) AS revenue, CAST(pending_cost AS TEXT) AS cost,
             pending_events AS events
           FROM buckets WHERE pending_events > 0 ORDER BY start, product, metric`,
        )
        .toArray();
      if (deltas.length === 0) return;
      const now = Date.now();
      for (let i = 0; i < deltas.length; i += DELTAS_PER_MESSAGE) {
        this.sql.exec(
          "INSERT INTO outbox (body, created_at) VALUES (?, ?)",
          JSON.stringify({ deltas: deltas.slice(i, i + DELTAS_PER_MESSAGE) }),
          now,
        );
      }
      this.sql.exec(
        `UPDATE buckets SET pending_units = 0, pending_revenue = 0, pending_cost = 0, pending_events = 0
         WHERE pending_events > 0`,
      );
    });
  }

  // ---------------------------------------------------------------------------------------
  // Detection on the wall clock: a customer that went quiet still has its hours closed.

  private scheduleSilenceCheck(now: number) {
    const nextHourEnd = hourStart(now) + 3_600_000;
    this.scheduleTimer(
      "silence",
      Math.max(nextHourEnd + ALLOWED_LATENESS_MS, now + SILENCE_GRACE_MS),
    );
  }

  private async closeSilentHours(now: number) {
    const last = this.ctx.storage.kv.get<number>("last_ingest_at") ?? 0;
    if (now - last < SILENCE_GRACE_MS) {
      this.scheduleTimer("silence", last + SILENCE_GRACE_MS);
      return;
    }
    await this.closeThrough(await this.silentCloseLimit(now));
    // Keep closing hour by hour while the customer stays quiet.
    this.scheduleTimer("silence", hourStart(now) + 3_600_000 + ALLOWED_LATENESS_MS);
  }

  /** How far a silent customer's hours may close: to the wall clock while the tenant's feed is
   * delivering usage, else to the end of the tenant's latest hour with usage in D1 (never
   * further back than FEED_OUTAGE_MAX_MS). */
  private async silentCloseLimit(now: number): Promise<number> {
    const wall = now - ALLOWED_LATENESS_MS;
    const who = this.identity();
    if (!who) return wall;
    const latest = await this.env.DB.prepare(
      "SELECT MAX(start) AS start FROM rollups_hourly WHERE tenant_id = ?",
    )
      .bind(who.tenantId)
      .first<{ start: number | null }>();
    const feedEnd = latest?.start == null ? 0 : latest.start + 3_600_000;
    return Math.min(wall, Math.max(feedEnd, now - FEED_OUTAGE_MAX_MS));
  }

  /** Closes every hour and day of this customer that ends at or before `asOf` (replay,
   * backfill, silence). Returns how many new signals that produced. */
  async closeThrough(asOf: number, catalogVersion = 0): Promise<number> {
    const who = this.identity();
    if (!who) return 0;
    const terms = await this.loadTerms({ ...who, catalogVersion });
    const now = Date.now();
    const stored = this.ctx.storage.transactionSync(() =>
      this.storeSignals(
        this.detection(who.customerId, terms.value, terms.policies).closeThrough(asOf),
        now,
      ),
    );
    if (stored > 0) this.scheduleTimer("flush", now + SIGNAL_FLUSH_DELAY_MS);
    return stored;
  }

  // ---------------------------------------------------------------------------------------
  // The gate (SPEC §7): answered from memory; the tier is pushed here by the action ladder.

  async gate(req: GateRequest): Promise<GateResult> {
    if (this.tier === null) {
      await this.identify(req.tenantId, req.customerId);
      this.tier = this.ctx.storage.kv.get<GateTier>("gate_tier") ?? "normal";
    }
    const tier = this.tier;
    const policy = await this.gatePolicy();
    if (tier === "blocked") {
      return { allow: false, tier, limit: 0, remaining: 0, retry_after_ms: -1 };
    }
    const rate = tier === "throttled" ? policy.throttled_rate_per_second : policy.rate_per_second;
    const burst =
      tier === "throttled" ? Math.max(1, policy.throttled_rate_per_second) : policy.burst;
    const now = Date.now();
    this.bucket ??= fullBucket(burst, now);
    const answer = takeTokens(this.bucket, now, rate, burst, req.units);
    return { ...answer, tier, limit: rate };
  }

  /** Sets the gate tier (the ladder calls this on execute and reverse). Persisted, so it
   * survives eviction; the bucket restarts so a new rate applies at once. */
  async setGateTier(tier: GateTier): Promise<GateTier> {
    this.ctx.storage.kv.put("gate_tier", tier);
    this.tier = tier;
    this.bucket = null;
    return tier;
  }

  private async gatePolicy(): Promise<PolicyDocument["gate"]> {
    const who = this.identity();
    if (!this.terms && who) {
      await this.loadTerms({ ...who, catalogVersion: 0 });
    } else if (this.terms && who && Date.now() - this.terms.loadedAt > POLICY_TTL_MS) {
      // Refresh in the background; the gate never waits on D1 after the first call.
      const stale = this.terms;
      this.terms = { ...stale, loadedAt: Date.now() };
      this.ctx.waitUntil(
        loadCustomerPolicies(this.env.DB, who.tenantId, who.customerId).then((policies) => {
          if (this.terms) this.terms = { ...this.terms, policies };
        }),
      );
    }
    return (this.terms?.policies ?? defaultPolicies)().gate;
  }

  /** Binds this actor to its tenant and customer (the gate may be the first to reach it). */
  async identify(tenantId: string, customerId: string): Promise<void> {
    this.bind(tenantId, customerId);
  }

  private bind(tenantId: string, customerId: string) {
    if (this.identity() !== null) return;
    this.ctx.storage.kv.put("tenant_id", tenantId);
    this.ctx.storage.kv.put("customer_id", customerId);
    this.who = { tenantId, customerId };
  }

  /** The tenant and customer this actor belongs to, once any call has told it. */
  private identity(): { tenantId: string; customerId: string } | null {
    if (this.who) return this.who;
    const tenantId = this.ctx.storage.kv.get<string>("tenant_id");
    const customerId = this.ctx.storage.kv.get<string>("customer_id");
    if (tenantId === undefined || customerId === undefined) return null;
    this.who = { tenantId, customerId };
    return this.who;
  }

  private applyRetention(now: number) {
    const days = Number(this.ctx.storage.kv.get<number>("raw_retention_days") ?? 90);
    // A row is also the event's dedupe key, so it stays 35 days after receipt even when the
    // event itself is older than the raw retention (a backfill).
    this.sql.exec(
      "DELETE FROM events WHERE time < ? AND received_at < ?",
      now - days * DAY_MS,
      now - DEDUPE_WINDOW_MS,
    );
    this.sql.exec(
      "DELETE FROM buckets WHERE granularity = 'h' AND pending_events = 0 AND start < ?",
      now - HOURLY_BUCKET_DAYS * DAY_MS,
    );
    this.sql.exec(
      "DELETE FROM buckets WHERE granularity = 'd' AND start < ?",
      now - DAILY_BUCKET_DAYS * DAY_MS,
    );
    this.sql.exec("DELETE FROM usage_ptd WHERE period_start < ?", now - DAILY_BUCKET_DAYS * DAY_MS);
    this.scheduleTimer("retention", now + RETENTION_EVERY_MS);
  }

  // ---------------------------------------------------------------------------------------
  // Benchmark ceiling: the same batch insert with nothing else (no dedupe, rating, buckets,
  // outbox). Reached only through /v1/bench/raw-insert, which exists when AFORO_BENCH is set.

  /** The bare Worker → DO RPC round trip the gate is measured against. */
  async ping(): Promise<{ ok: true; at: number }> {
    return { ok: true, at: Date.now() };
  }

  async benchInsert(events: UsageEvent[]): Promise<number> {
    const now = Date.now();
    const rows = events.map((e) => [
      e.id,
      e.time,
      now,
      e.product,
      e.metric,
      Math.round(e.quantity * 1e6),
      0,
      0,
      "none",
      null,
      null,
      null,
      null,
      null,
      null,
      "",
      e.source,
      e.properties ? JSON.stringify(e.properties) : null,
    ]);
    this.ctx.storage.transactionSync(() => this.insertEvents(rows));
    return rows.length;
  }
}

function toStoredEvent(r: Record<string, string | number | null>): StoredEvent {
  const n = (v: string | number | null) => (v === null ? null : Number(v));
  return {
    id: String(r.id),
    time: new Date(Number(r.time)).toISOString(),
    received_at: new Date(Number(r.received_at)).toISOString(),
    product: String(r.product),
    metric: String(r.metric),
    quantity: formatQuantity(BigInt(r.quantity ?? 0)),
    revenue: formatMoney(BigInt(r.revenue ?? 0), 0),
    cost: formatMoney(BigInt(r.cost ?? 0), 0),
    cost_status: String(r.cost_status),
    model: r.model === null ? null : String(r.model),
    provider: r.provider === null ? null : String(r.provider),
    input_tokens: n(r.input_tokens ?? null),
    output_tokens: n(r.output_tokens ?? null),
    cached_input_tokens: n(r.cached_input_tokens ?? null),
    subscription_id: r.subscription_id === null ? null : String(r.subscription_id),
    flags: r.flags ? String(r.flags).split(",") : [],
    source: String(r.source),
    properties:
      r.properties === null
        ? null
        : (JSON.parse(String(r.properties)) as StoredEvent["properties"]),
  };
}
