import type { StoredEvent } from "../contracts/events";
import type { DetectionReader } from "../domain/detection";
import type { Signal } from "../domain/detectors";
import type {
  BucketDelta,
  EventRecord,
  FacetDelta,
  KeyUsageDelta,
  SessionDelta,
} from "../domain/ingest-batch";
import { monthOf } from "../domain/ingest-batch";
import { DayBudget, type DayTotals } from "../domain/limits";
import { formatMoney, formatQuantity } from "../domain/money";
import type { UsageLedger } from "../domain/rating";
import { DAY_MS } from "../domain/time";

// The customer actor's own SQLite (schema in actor-schema.ts): every statement the actor runs
// lives here. Writes of a batch are one statement per table, whatever the batch size: the rows
// travel as one JSON array and SQLite unpacks them with json_each (per-statement cost dominates
// Durable Object SQLite writes; PLATFORM.md).

const INSERT_CHUNK = 250;
const LEDGER_CACHE_SIZE = 64;
const MONTHS_CACHED = 4;
// Money and quantities read as text: exact past 2^53, where a JavaScript number is not.
const EVENT_COLUMNS = `seq, id, time, received_at, product, metric, CAST(quantity AS TEXT) AS quantity,
  CAST(revenue AS TEXT) AS revenue, CAST(cost AS TEXT) AS cost,
  cost_status, provider, model, input_tokens, output_tokens, cached_input_tokens,
  subscription_id, flags, source, properties`;

type Row = Record<string, SqlStorageValue>;

/** A bigint for a JSON row: a number where that is exact, else its digits (the INTEGER column's
 * affinity stores either as the same integer). */
const exactInt = (v: bigint): number | string =>
  v <= MAX_SAFE && v >= -MAX_SAFE ? Number(v) : v.toString();
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

export class ActorStore {
  /** Period-to-date usage, LRU-bounded: memory does not grow with history. */
  private readonly ledgerCache = new Map<string, Map<string, bigint>>();
  /** Month start → product → revenue and COGS (currency units) of the months detection read,
   * kept current by each batch so MarginGuard costs no query per batch. */
  private readonly monthTotals = new Map<number, Map<string, { revenue: number; cost: number }>>();

  /** The customer's running day totals, against what Aforo holds (domain/limits.ts). */
  readonly budget = new DayBudget((day) => this.dayTotals(day));

  constructor(private readonly sql: SqlStorage) {}

  /** After a rolled-back transaction the caches may be ahead of storage. */
  forgetCaches() {
    this.ledgerCache.clear();
    this.monthTotals.clear();
    this.budget.forget();
  }

  private dayTotals(day: number): DayTotals {
    const totals: DayTotals = { revenue: 0n, cost: 0n, units: new Map() };
    for (const r of this.sql.exec<{ product: string; metric: string } & Record<string, string>>(
      `SELECT product, metric, CAST(units AS TEXT) AS units, CAST(revenue AS TEXT) AS revenue,
         CAST(cost AS TEXT) AS cost FROM buckets WHERE granularity = 'd' AND start = ?`,
      day,
    )) {
      totals.units.set(`${r.product}\u0000${r.metric}`, BigInt(r.units ?? 0));
      totals.revenue += BigInt(r.revenue ?? 0);
      totals.cost += BigInt(r.cost ?? 0);
    }
    return totals;
  }

  // -------------------------------------------------------------------------------------
  // The batch write path

  /** Which of these ids are already stored (the dedupe window is the events table). */
  knownIds(ids: readonly string[]): Set<string> {
    const known = new Set<string>();
    for (const r of this.sql.exec<{ id: string }>(
      "SELECT id FROM events WHERE id IN (SELECT value FROM json_each(?))",
      JSON.stringify(ids),
    )) {
      known.add(r.id);
    }
    return known;
  }

  /** Inserts the records; returns how many were new. An id already stored is skipped (its
   * unique index is the dedupe window), so a caller that found fewer new than it sent knows
   * the batch held duplicates. */
  insertEvents(records: readonly EventRecord[], receivedAt: number): number {
    let inserted = 0;
    for (let i = 0; i < records.length; i += INSERT_CHUNK) {
      const rows = records
        .slice(i, i + INSERT_CHUNK)
        .map((r) => [
          r.id,
          r.time,
          r.product,
          r.metric,
          exactInt(r.quantity),
          exactInt(r.revenue),
          exactInt(r.cost),
          r.cost_status,
          r.provider,
          r.model,
          r.input_tokens,
          r.output_tokens,
          r.cached_input_tokens,
          r.subscription_id,
          r.flags,
          r.source,
          r.properties,
        ]);
      // Properties travel as nested JSON and are stored as their JSON text (->), not encoded
      // twice.
      inserted += this.sql
        .exec(
          `INSERT INTO events (id, time, received_at, product, metric, quantity, revenue, cost,
             cost_status, provider, model, input_tokens, output_tokens, cached_input_tokens,
             subscription_id, flags, source, properties)
           SELECT value->>0, value->>1, ?2, value->>2, value->>3, value->>4, value->>5,
             value->>6, value->>7, value->>8, value->>9, value->>10, value->>11, value->>12,
             value->>13, value->>14, value->>15, NULLIF(value->16, 'null')
           FROM json_each(?1) WHERE true
           ON CONFLICT (id) DO NOTHING RETURNING 1`,
          JSON.stringify(rows),
          receivedAt,
        )
        .toArray().length;
    }
    return inserted;
  }

  /** The period-to-date ledger rating reads and advances; `writeLedger` persists what a batch
   * changed. */
  readonly ledger: UsageLedger = {
    usage: (subscriptionId, periodStart) => {
      const key = `${subscriptionId}\u0000${periodStart}`;
      let usage = this.ledgerCache.get(key);
      if (usage) {
        this.ledgerCache.delete(key); // refresh LRU position
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
      this.ledgerCache.set(key, usage);
      if (this.ledgerCache.size > LEDGER_CACHE_SIZE) {
        const oldest = this.ledgerCache.keys().next().value;
        if (oldest !== undefined) this.ledgerCache.delete(oldest);
      }
      return usage;
    },
  };

  /** Period-to-date usage (micros) of one metric, as the ledger holds it now. */
  ledgerUsage(subscriptionId: string, periodStart: number, metric: string): bigint {
    return this.ledger.usage(subscriptionId, periodStart).get(metric) ?? 0n;
  }

  writeLedger(periods: readonly [string, number][]) {
    const rows: [string, number, string, string][] = [];
    for (const [subscriptionId, periodStart] of periods) {
      const usage = this.ledgerCache.get(`${subscriptionId}\u0000${periodStart}`);
      if (!usage) continue;
      for (const [metric, quantity] of usage) {
        rows.push([subscriptionId, periodStart, metric, quantity.toString()]);
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
  addToBuckets(deltas: readonly BucketDelta[]) {
    if (deltas.length === 0) return;
    const rows = deltas.map((d) => [
      d.hour,
      d.product,
      d.metric,
      String(d.units),
      String(d.revenue),
      String(d.cost),
      d.events,
      d.uncosted_events,
      String(d.uncosted_revenue),
    ]);
    this.sql.exec(
      `INSERT INTO buckets (granularity, start, product, metric, units, revenue, cost, events,
         pending_units, pending_revenue, pending_cost, pending_events, pending_uncosted_events,
         pending_uncosted_revenue)
       SELECT g.value, CASE g.value WHEN 'h' THEN hour ELSE hour - (hour % ${DAY_MS}) END,
         product, metric, units, revenue, cost, events,
         CASE g.value WHEN 'h' THEN units ELSE 0 END, CASE g.value WHEN 'h' THEN revenue ELSE 0 END,
         CASE g.value WHEN 'h' THEN cost ELSE 0 END, CASE g.value WHEN 'h' THEN events ELSE 0 END,
         CASE g.value WHEN 'h' THEN u_events ELSE 0 END,
         CASE g.value WHEN 'h' THEN u_revenue ELSE 0 END
       FROM (SELECT value->>0 AS hour, value->>1 AS product, value->>2 AS metric,
               CAST(value->>3 AS INTEGER) AS units, CAST(value->>4 AS INTEGER) AS revenue,
               CAST(value->>5 AS INTEGER) AS cost, value->>6 AS events, value->>7 AS u_events,
               CAST(value->>8 AS INTEGER) AS u_revenue FROM json_each(?)),
            json_each('["h","d"]') g
       WHERE true
       ON CONFLICT (granularity, start, product, metric) DO UPDATE SET
         units = units + excluded.units, revenue = revenue + excluded.revenue,
         cost = cost + excluded.cost, events = events + excluded.events,
         pending_units = pending_units + excluded.pending_units,
         pending_revenue = pending_revenue + excluded.pending_revenue,
         pending_cost = pending_cost + excluded.pending_cost,
         pending_events = pending_events + excluded.pending_events,
         pending_uncosted_events = pending_uncosted_events + excluded.pending_uncosted_events,
         pending_uncosted_revenue = pending_uncosted_revenue + excluded.pending_uncosted_revenue`,
      JSON.stringify(rows),
    );
    for (const d of deltas) {
      const month = this.monthTotals.get(monthOf(d.hour).start);
      if (!month) continue; // not read yet: the first read includes this batch from the buckets
      const t = month.get(d.product) ?? { revenue: 0, cost: 0 };
      t.revenue += Number(d.revenue) / 1e9;
      t.cost += Number(d.cost) / 1e9;
      month.set(d.product, t);
    }
  }

  /** Adds the batch's provider × model facets to what is pending for the next outbox flush: one
   * statement, like the buckets'. */
  addToFacets(facets: readonly FacetDelta[]) {
    if (facets.length === 0) return;
    const rows = facets.map((f) => [
      f.hour,
      f.product,
      f.metric,
      f.provider,
      f.model,
      String(f.units),
      String(f.revenue),
      String(f.cost),
      f.events,
      f.uncosted_events,
      String(f.uncosted_revenue),
    ]);
    this.sql.exec(
      `INSERT INTO pending_facets (start, product, metric, provider, model, units, revenue, cost,
         events, uncosted_events, uncosted_revenue)
       SELECT value->>0, value->>1, value->>2, value->>3, value->>4, CAST(value->>5 AS INTEGER),
         CAST(value->>6 AS INTEGER), CAST(value->>7 AS INTEGER), value->>8, value->>9,
         CAST(value->>10 AS INTEGER)
       FROM json_each(?) WHERE true
       ON CONFLICT (start, product, metric, provider, model) DO UPDATE SET
         units = units + excluded.units, revenue = revenue + excluded.revenue,
         cost = cost + excluded.cost, events = events + excluded.events,
         uncosted_events = uncosted_events + excluded.uncosted_events,
         uncosted_revenue = uncosted_revenue + excluded.uncosted_revenue`,
      JSON.stringify(rows),
    );
  }

  /** Appends the batch's usage per session to what is pending for the next outbox flush: one
   * statement and no lookup (the rows are summed when sealed). */
  addToSessions(sessions: readonly SessionDelta[]) {
    if (sessions.length === 0) return;
    const rows = sessions.map((s) => [
      s.hour,
      s.product,
      s.session_id,
      s.events,
      String(s.units),
      String(s.revenue),
      String(s.cost),
      String(s.input_tokens),
      String(s.output_tokens),
      String(s.cached_input_tokens),
      s.first_at,
      s.last_at,
    ]);
    this.sql.exec(
      `INSERT INTO pending_sessions (start, product, session_id, events, units, revenue, cost,
         input_tokens, output_tokens, cached_input_tokens, first_at, last_at)
       SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, value->>6,
         value->>7, value->>8, value->>9, value->>10, value->>11
       FROM json_each(?)`,
      JSON.stringify(rows),
    );
  }

  /** Adds the batch's usage per customer API key to what is pending for the next outbox flush. */
  addToKeyUsage(usage: readonly KeyUsageDelta[]) {
    if (usage.length === 0) return;
    this.sql.exec(
      `INSERT INTO pending_key_usage (start, key_id, product, metric, units, events)
       SELECT value->>0, value->>1, value->>2, value->>3, CAST(value->>4 AS INTEGER), value->>5
       FROM json_each(?) WHERE true
       ON CONFLICT (start, key_id, product, metric) DO UPDATE SET
         units = units + excluded.units, events = events + excluded.events`,
      JSON.stringify(
        usage.map((u) => [u.day, u.key_id, u.product, u.metric, String(u.units), u.events]),
      ),
    );
  }

  /** Keeps each signal once per idempotency key; returns the ones not seen before. */
  insertSignals(signals: readonly Signal[], now: number): Signal[] {
    if (signals.length === 0) return [];
    const fresh = new Set(
      this.sql
        .exec<{ idempotency_key: string }>(
          `INSERT INTO signals (idempotency_key, detector, body, created_at)
           SELECT value->>'idempotency_key', value->>'detector', value, ?2 FROM json_each(?1)
           WHERE true ON CONFLICT DO NOTHING RETURNING idempotency_key`,
          JSON.stringify(signals),
          now,
        )
        .toArray()
        .map((r) => r.idempotency_key),
    );
    // A key twice in one call is new once.
    return signals.filter((s) => fresh.delete(s.idempotency_key));
  }

  // -------------------------------------------------------------------------------------
  // Detection reads its own buckets and events

  readonly reader: Omit<DetectionReader, "committed"> = {
    hours: (from, to) =>
      this.sql
        .exec<{
          start: number;
          product: string;
          metric: string;
          units: number;
          events: number;
          revenue: number;
          cost: number;
        }>(
          `SELECT start, product, metric, units / 1e6 AS units, events, revenue / 1e9 AS revenue,
             cost / 1e9 AS cost
           FROM buckets WHERE granularity = 'h' AND start >= ? AND start < ?`,
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
        if (this.monthTotals.size >= MONTHS_CACHED) this.monthTotals.clear();
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

  // -------------------------------------------------------------------------------------
  // Reads for the API

  listEvents(q: {
    from?: number;
    to?: number;
    limit: number;
    before?: { time: number; seq: number };
    /** Only this product's / metric's events (an invoice line's). */
    product?: string;
    metric?: string;
  }) {
    const rows = this.sql
      .exec<Row>(
        `SELECT ${EVENT_COLUMNS} FROM events
         WHERE time >= ?1 AND time < ?2 AND (time < ?3 OR (time = ?3 AND seq < ?4))
           AND (?6 IS NULL OR product = ?6) AND (?7 IS NULL OR metric = ?7)
         ORDER BY time DESC, seq DESC LIMIT ?5`,
        q.from ?? 0,
        q.to ?? Number.MAX_SAFE_INTEGER,
        q.before?.time ?? Number.MAX_SAFE_INTEGER,
        q.before?.seq ?? Number.MAX_SAFE_INTEGER,
        q.limit + 1,
        q.product ?? null,
        q.metric ?? null,
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

  eventsByIds(ids: readonly string[]): StoredEvent[] {
    return this.sql
      .exec<Row>(
        `SELECT ${EVENT_COLUMNS} FROM events
         WHERE id IN (SELECT value FROM json_each(?)) ORDER BY time DESC`,
        JSON.stringify(ids.slice(0, 50)),
      )
      .toArray()
      .map(toStoredEvent);
  }

  periodUsage(subscriptionId: string, periodStart: number): Record<string, string> {
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

  /** Deletes what is past its retention. Event rows are also the dedupe keys, so each stays
   * `dedupeMs` after receipt even when the event itself is older than the raw retention. */
  applyRetention(
    now: number,
    o: { rawMs: number; dedupeMs: number; hourlyMs: number; dailyMs: number },
  ) {
    this.sql.exec(
      "DELETE FROM events WHERE time < ? AND received_at < ?",
      now - o.rawMs,
      now - o.dedupeMs,
    );
    this.sql.exec(
      "DELETE FROM buckets WHERE granularity = 'h' AND pending_events = 0 AND start < ?",
      now - o.hourlyMs,
    );
    this.sql.exec("DELETE FROM buckets WHERE granularity = 'd' AND start < ?", now - o.dailyMs);
    this.sql.exec("DELETE FROM usage_ptd WHERE period_start < ?", now - o.dailyMs);
  }
}

function toStoredEvent(r: Row): StoredEvent {
  const n = (v: SqlStorageValue | undefined) => (v === null || v === undefined ? null : Number(v));
  const s = (v: SqlStorageValue | undefined) => (v === null || v === undefined ? null : String(v));
  return {
    id: String(r.id),
    time: new Date(Number(r.time)).toISOString(),
    received_at: new Date(Number(r.received_at)).toISOString(),
    product: String(r.product),
    metric: String(r.metric),
    quantity: formatQuantity(BigInt(String(r.quantity ?? 0))),
    revenue: formatMoney(BigInt(String(r.revenue ?? 0)), 0),
    cost: formatMoney(BigInt(String(r.cost ?? 0)), 0),
    cost_status: String(r.cost_status),
    model: s(r.model),
    provider: s(r.provider),
    input_tokens: n(r.input_tokens),
    output_tokens: n(r.output_tokens),
    cached_input_tokens: n(r.cached_input_tokens),
    subscription_id: s(r.subscription_id),
    flags: r.flags ? String(r.flags).split(",") : [],
    source: String(r.source),
    properties:
      r.properties === null || r.properties === undefined ? null : JSON.parse(String(r.properties)),
  };
}
