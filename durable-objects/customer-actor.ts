import { DurableObject } from "cloudflare:workers";
import { formatMoney, formatQuantity } from "../domain/money";
import { type CustomerTerms, rateEvent, type UsageLedger } from "../domain/rating";
import { DAY_MS, hourStart, type RatedEvent, type UsageEvent } from "../domain/usage-event";
import { loadCustomerTerms } from "../workers/customer-terms";
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
const RETENTION_EVERY_MS = 6 * 3_600_000;
const INSERT_CHUNK = 250;
const DELTAS_PER_MESSAGE = 200;
const LEDGER_CACHE_SIZE = 64;
const SEND_BATCH_BYTES = 200_000;

export class CustomerActor extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private terms: { version: number; value: CustomerTerms } | null = null;
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

  async schemaVersion(): Promise<number> {
    return this.ctx.storage.kv.get<number>("schema_version") ?? 0;
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
      const result = this.ctx.storage.transactionSync(() => this.ingestSync(req, terms, now));
      if (result.accepted > 0) this.scheduleTimer("flush", now + FLUSH_DELAY_MS);
      if (!this.timers.has("retention")) this.scheduleTimer("retention", now + RETENTION_EVERY_MS);
      return result;
    } catch (err) {
      // The transaction rolled back; the in-memory ledger may be ahead of storage.
      this.ledger.clear();
      throw err;
    }
  }

  private ingestSync(req: IngestRequest, terms: CustomerTerms, now: number): IngestResult {
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
    if (fresh.length === 0) return { accepted: 0, duplicates };

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
    for (const event of fresh) {
      const rating = rateEvent(terms, ledger, event);
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
    return { accepted: fresh.length, duplicates, ...(rated ? { rated } : {}) };
  }

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

  private async loadTerms(req: IngestRequest): Promise<CustomerTerms> {
    if (this.terms && this.terms.version >= req.catalogVersion) return this.terms.value;
    const value = await loadCustomerTerms(this.env.DB, req.tenantId, req.customerId);
    // A concurrent load may have finished first with a newer version; keep the newest.
    if (!this.terms || this.terms.version < req.catalogVersion) {
      this.terms = { version: req.catalogVersion, value };
    }
    return this.terms.value;
  }

  private rememberIdentity(req: IngestRequest) {
    const kv = this.ctx.storage.kv;
    if (kv.get("tenant_id") === undefined) {
      kv.put("tenant_id", req.tenantId);
      kv.put("customer_id", req.customerId);
    }
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

  /** Usage not yet handed to the events queue: pending deltas plus unsent outbox rows. */
  async pendingOutbox(): Promise<number> {
    return this.sql
      .exec<{ n: number }>(
        "SELECT (SELECT COUNT(*) FROM outbox) + (SELECT COUNT(*) FROM buckets WHERE pending_events > 0) AS n",
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
      if (name === "flush") await this.flushOutbox();
      else if (name === "retention") this.applyRetention(now);
    }
    const next = Math.min(...this.timers.values());
    if (Number.isFinite(next)) {
      this.alarmAt = next;
      await this.ctx.storage.setAlarm(next);
    }
  }

  /** Sends outbox rows to the events queue with stable batch ids, then deletes them. A crash
   * between the two resends the same ids, which the consumer recognises and skips. */
  private async flushOutbox() {
    const tenantId = this.ctx.storage.kv.get<string>("tenant_id");
    const customerId = this.ctx.storage.kv.get<string>("customer_id");
    if (!tenantId || !customerId) return;
    this.sealPendingDeltas();
    for (;;) {
      const rows = this.sql
        .exec<{ seq: number; body: string }>("SELECT seq, body FROM outbox ORDER BY seq LIMIT 100")
        .toArray();
      if (rows.length === 0) return;
      const messages: { body: OutboxMessage }[] = [];
      let bytes = 0;
      for (const row of rows) {
        if (messages.length > 0 && bytes + row.body.length > SEND_BATCH_BYTES) break;
        bytes += row.body.length;
        messages.push({
          body: {
            batch_id: `${actorName(tenantId, customerId)}:${row.seq}`,
            tenant_id: tenantId,
            customer_id: customerId,
            deltas: JSON.parse(row.body) as RollupDelta[],
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
      this.sql.exec("DELETE FROM outbox WHERE seq <= ?", lastSeq);
    }
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
          JSON.stringify(deltas.slice(i, i + DELTAS_PER_MESSAGE)),
          now,
        );
      }
      this.sql.exec(
        `UPDATE buckets SET pending_units = 0, pending_revenue = 0, pending_cost = 0, pending_events = 0
         WHERE pending_events > 0`,
      );
    });
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
