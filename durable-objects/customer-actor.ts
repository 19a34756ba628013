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
}

export interface IngestResult {
  accepted: RatedEvent[];
  duplicates: string[];
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

const DEDUPE_WINDOW_MS = 35 * DAY_MS;
const HOURLY_BUCKET_DAYS = 35;
const DAILY_BUCKET_DAYS = 400;
const FLUSH_DELAY_MS = 200;
const RETENTION_EVERY_MS = 6 * 3_600_000;
const INSERT_CHUNK = 250;
const DELTAS_PER_MESSAGE = 200;
const LEDGER_CACHE_SIZE = 64;
const SEND_BATCH_BYTES = 200_000;

export class CustomerActor extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private terms: { version: number; value: CustomerTerms } | null = null;
  /** Period-to-date usage, LRU-bounded: memory does not grow with history. */
  private readonly ledger = new Map<string, Map<string, bigint>>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    ctx.blockConcurrencyWhile(async () => this.ensureSchema());
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
      if (result.accepted.length > 0) this.scheduleTimer("flush", now + FLUSH_DELAY_MS);
      if (this.timerDue("retention") === null)
        this.scheduleTimer("retention", now + RETENTION_EVERY_MS);
      return result;
    } catch (err) {
      // The transaction rolled back; the in-memory ledger may be ahead of storage.
      this.ledger.clear();
      throw err;
    }
  }

  private ingestSync(req: IngestRequest, terms: CustomerTerms, now: number): IngestResult {
    const duplicates: string[] = [];
    const seenBefore = new Set(
      this.sql
        .exec<{ id: string }>(
          "SELECT id FROM seen WHERE id IN (SELECT value FROM json_each(?)) AND received_at > ?",
          JSON.stringify(req.events.map((e) => e.id)),
          now - DEDUPE_WINDOW_MS,
        )
        .toArray()
        .map((r) => r.id),
    );
    const fresh: UsageEvent[] = [];
    for (const event of req.events) {
      if (seenBefore.has(event.id)) duplicates.push(event.id);
      else {
        seenBefore.add(event.id); // a repeat inside the same batch is a duplicate too
        fresh.push(event);
      }
    }
    if (fresh.length === 0) return { accepted: [], duplicates };

    const dirty = new Set<string>();
    const ledger: UsageLedger = {
      usage: (subscriptionId, periodStart) => {
        const key = `${subscriptionId}\u0000${periodStart}`;
        dirty.add(key);
        return this.ledgerEntry(key, subscriptionId, periodStart);
      },
    };
    const retainFrom = now - req.rawRetentionDays * DAY_MS;
    const rows: unknown[][] = [];
    const accepted: RatedEvent[] = [];
    const deltas = new Map<
      string,
      {
        hour: number;
        product: string;
        metric: string;
        units: bigint;
        revenue: bigint;
        cost: bigint;
        events: number;
      }
    >();
    for (const event of fresh) {
      const rating = rateEvent(terms, ledger, event);
      const c = event.cost;
      if (event.time >= retainFrom) {
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
      }
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
      accepted.push({
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
    for (let i = 0; i < fresh.length; i += INSERT_CHUNK) {
      this.sql.exec(
        "INSERT OR REPLACE INTO seen (id, received_at) SELECT value, ? FROM json_each(?)",
        now,
        JSON.stringify(fresh.slice(i, i + INSERT_CHUNK).map((e) => e.id)),
      );
    }
    this.writeLedger(dirty);
    this.writeBuckets([...deltas.values()]);
    const rollups = [...deltas.values()].map((d) => ({
      hour: d.hour,
      product: d.product,
      metric: d.metric,
      units: d.units.toString(),
      revenue: d.revenue.toString(),
      cost: d.cost.toString(),
      events: d.events,
    }));
    for (let i = 0; i < rollups.length; i += DELTAS_PER_MESSAGE) {
      this.sql.exec(
        "INSERT INTO outbox (body, created_at) VALUES (?, ?)",
        JSON.stringify(rollups.slice(i, i + DELTAS_PER_MESSAGE)),
        now,
      );
    }
    return { accepted, duplicates };
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
    for (const key of dirty) {
      const usage = this.ledger.get(key);
      if (!usage) continue;
      const [subscriptionId, periodStart] = key.split("\u0000");
      for (const [metric, quantity] of usage) {
        this.sql.exec(
          "INSERT OR REPLACE INTO usage_ptd (subscription_id, period_start, metric, quantity) VALUES (?, ?, ?, ?)",
          subscriptionId ?? "",
          Number(periodStart),
          metric,
          quantity.toString(),
        );
      }
    }
  }

  private writeBuckets(
    deltas: {
      hour: number;
      product: string;
      metric: string;
      units: bigint;
      revenue: bigint;
      cost: bigint;
      events: number;
    }[],
  ) {
    const rows = deltas.flatMap((d) => {
      const values = [
        d.product,
        d.metric,
        String(d.units),
        String(d.revenue),
        String(d.cost),
        d.events,
      ];
      return [
        ["h", d.hour, ...values],
        ["d", d.hour - (d.hour % DAY_MS), ...values],
      ];
    });
    this.sql.exec(
      `INSERT INTO buckets (granularity, start, product, metric, units, revenue, cost, events)
       SELECT value->>0, value->>1, value->>2, value->>3, CAST(value->>4 AS INTEGER),
         CAST(value->>5 AS INTEGER), CAST(value->>6 AS INTEGER), value->>7
       FROM json_each(?) WHERE true
       ON CONFLICT (granularity, start, product, metric) DO UPDATE SET
         units = units + excluded.units, revenue = revenue + excluded.revenue,
         cost = cost + excluded.cost, events = events + excluded.events`,
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

  async pendingOutbox(): Promise<number> {
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM outbox").one().n;
  }

  // ---------------------------------------------------------------------------------------
  // Timers: one alarm runs whatever is due and re-arms for the earliest remaining timer.

  private timerDue(name: string): number | null {
    const row = this.sql
      .exec<{ due: number }>("SELECT due FROM timers WHERE name = ?", name)
      .toArray()[0];
    return row?.due ?? null;
  }

  private scheduleTimer(name: string, due: number) {
    const current = this.timerDue(name);
    if (current !== null && current <= due) return;
    this.sql.exec("INSERT OR REPLACE INTO timers (name, due) VALUES (?, ?)", name, due);
    this.armAlarm();
  }

  private armAlarm() {
    const next = this.sql
      .exec<{ due: number | null }>("SELECT MIN(due) AS due FROM timers")
      .one().due;
    if (next !== null) void this.ctx.storage.setAlarm(next);
  }

  override async alarm(): Promise<void> {
    const now = Date.now();
    const due = this.sql
      .exec<{ name: string }>("SELECT name FROM timers WHERE due <= ? ORDER BY due", now)
      .toArray()
      .map((r) => r.name);
    for (const name of due) {
      this.sql.exec("DELETE FROM timers WHERE name = ?", name);
      if (name === "flush") await this.flushOutbox();
      else if (name === "retention") this.applyRetention(now);
    }
    this.armAlarm();
  }

  /** Sends outbox rows to the events queue with stable batch ids, then deletes them. A crash
   * between the two resends the same ids, which the consumer recognises and skips. */
  private async flushOutbox() {
    const tenantId = this.ctx.storage.kv.get<string>("tenant_id");
    const customerId = this.ctx.storage.kv.get<string>("customer_id");
    if (!tenantId || !customerId) return;
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

  private applyRetention(now: number) {
    const days = Number(this.ctx.storage.kv.get<number>("raw_retention_days") ?? 90);
    this.sql.exec("DELETE FROM events WHERE time < ?", now - days * DAY_MS);
    this.sql.exec("DELETE FROM seen WHERE received_at <= ?", now - DEDUPE_WINDOW_MS);
    this.sql.exec(
      "DELETE FROM buckets WHERE granularity = 'h' AND start < ?",
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
