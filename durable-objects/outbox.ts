import { z } from "zod";
import type { Signal } from "../domain/detectors";
import { appliedBatchIds, type RollupKeyUsageRow, type RollupSessionRow } from "../store/rollups";

// The actor's durable outbox to the events queue (SPEC §2 fan-out). Usage gathers as pending in
// the hourly buckets and is sealed into outbox rows at flush time; signals are written as rows
// when they are found. A row's seq fixes its batch id, rows are sent until D1 shows that batch
// applied, and the consumer skips a batch it has already applied: nothing is lost or counted
// twice, whatever the queue does (a restarted local queue loses messages, a deployed one may
// redeliver).

/** A usage delta for one (hour, product, metric), as the queue consumer applies it to D1. */
export interface RollupDelta {
  hour: number;
  product: string;
  metric: string;
  units: string; // micros
  revenue: string; // nanos
  cost: string; // nanos
  events: number;
  /** Of those, the uncosted events and their revenue (nanos); absent in rows sealed before. */
  uncosted_events?: number;
  uncosted_revenue?: string;
}

/** A delta's share for one provider and model of the cost ('' when the events had none): a
 * message's facets of an (hour, product, metric) sum to its delta, when the message has any. */
export interface RollupFacet extends RollupDelta {
  provider: string;
  model: string;
  uncosted_events: number;
  uncosted_revenue: string;
}

/** One session's usage in one (hour, product) (schema/0025_session_rollups.sql), as the
 * consumer applies it. */
export type RollupSession = RollupSessionRow;

/** One customer API key's usage of one product's metric in one UTC day
 * (schema/0033_customer_api_keys.sql), as the consumer applies it. */
export type RollupKeyUsage = RollupKeyUsageRow;

export interface OutboxMessage {
  batch_id: string;
  tenant_id: string;
  customer_id: string;
  deltas: RollupDelta[];
  /** The deltas by provider and model; absent in rows sealed before they were kept (their
   * usage is in the customer and tenant rollups, not in the model rollups). */
  facets?: RollupFacet[];
  /** The usage of the events that named a session; absent in rows sealed before they were kept
   * and in rows without any. */
  sessions?: RollupSession[];
  /** The usage of the events made with a customer API key; absent in rows without any. */
  key_usage?: RollupKeyUsage[];
  signals?: Signal[];
  /** When its outbox row was written (epoch ms): the consumer's lag is measured from here.
   * Absent in messages sent before it was carried. */
  created_at?: number;
}

/** Sent rows are checked against D1 after this long, and sent again after RESEND_AFTER_MS
 * without a trace of their batch in applied_batches. */
export const RECONCILE_AFTER_MS = 15_000;
const RESEND_AFTER_MS = 60_000;
/** Deltas, facets and sessions per message, and their bytes (a queue message is capped at
 * 128 KB): each delta travels with its facets, so a message is a whole slice of the usage, the
 * same in every table the consumer writes, unless one slice's facets alone pass a message. The
 * sessions and the keys' usage follow the deltas (a session spans a product's metrics, and a
 * key's day spans the day's hours, so neither is one slice's). */
const ROWS_PER_MESSAGE = 200;
const MESSAGE_BYTES = 96_000;
const utf8 = new TextEncoder();
/** Queue messages are capped at 128 KB: a backfill can close many hours at once. */
const SIGNALS_PER_MESSAGE = 40;
const SEND_BATCH_BYTES = 200_000;

const Delta = z.object({
  hour: z.number(),
  product: z.string(),
  metric: z.string(),
  units: z.string(),
  revenue: z.string(),
  cost: z.string(),
  events: z.number(),
  uncosted_events: z.number().optional(),
  uncosted_revenue: z.string().optional(),
});
const Facet = Delta.extend({
  provider: z.string(),
  model: z.string(),
  uncosted_events: z.number(),
  uncosted_revenue: z.string(),
});
const Money = z.string().regex(/^-?\d+$/);
const Count = z.string().regex(/^\d+$/);
const Session = z.object({
  hour: z.number(),
  product: z.string(),
  session_id: z.string(),
  events: z.number(),
  units: Count,
  revenue: Money,
  cost: Money,
  input_tokens: Count,
  output_tokens: Count,
  cached_input_tokens: Count,
  first_at: z.number(),
  last_at: z.number(),
});
const KeyUsage = z.object({
  day: z.number(),
  key_id: z.string(),
  product: z.string(),
  metric: z.string(),
  units: Count,
  events: z.number(),
});
/** A row's body: its own document, so it is read back through its schema. Signals were written
 * by this actor from the detectors' own output; their shape is the detectors' to keep. */
const Body = z.object({
  deltas: z.array(Delta).optional(),
  facets: z.array(Facet).optional(),
  sessions: z.array(Session).optional(),
  key_usage: z.array(KeyUsage).optional(),
  signals: z.array(z.custom<Signal>((v) => typeof v === "object" && v !== null)).optional(),
});

export interface OutboxTarget {
  tenantId: string;
  customerId: string;
  /** The prefix of this actor's batch ids (its name and a colon). */
  prefix: string;
}

export class Outbox {
  constructor(
    private readonly sql: SqlStorage,
    private readonly storage: DurableObjectStorage,
    private readonly queue: Queue<OutboxMessage>,
    private readonly db: D1Database,
  ) {}

  /** Queues new signals for the next flush (inside the caller's transaction). */
  addSignals(signals: readonly Signal[], now: number) {
    for (let i = 0; i < signals.length; i += SIGNALS_PER_MESSAGE) {
      this.sql.exec(
        "INSERT INTO outbox (body, created_at) VALUES (?, ?)",
        JSON.stringify({ signals: signals.slice(i, i + SIGNALS_PER_MESSAGE) }),
        now,
      );
    }
  }

  /** Usage not yet handed to the events queue: pending deltas plus unsent outbox rows. */
  pending(): number {
    return this.sql
      .exec<{ n: number }>(
        "SELECT (SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL) + (SELECT COUNT(*) FROM buckets WHERE pending_events > 0) AS n",
      )
      .one().n;
  }

  /** Whether usage of an hour in [from, to) has yet to reach D1's rollups: gathered and not
   * sealed, or in an outbox row D1 does not show applied (sent or not). A rollup rebuild from
   * the archive refuses such hours: their events may be archived already, and the batch would
   * add them a second time when it applies (workers/routes/archive-replay.ts). */
  async awaitsD1(to: OutboxTarget, fromHour: number, toHour: number): Promise<boolean> {
    const gathered = this.sql
      .exec<{ n: number }>(
        "SELECT EXISTS (SELECT 1 FROM buckets WHERE pending_events > 0 AND start >= ? AND start < ?) AS n",
        fromHour,
        toHour,
      )
      .one().n;
    if (gathered === 1) return true;
    const seqs = this.sql
      .exec<{ seq: number }>(
        `SELECT DISTINCT outbox.seq AS seq FROM outbox, json_each(outbox.body, '$.deltas') d
         WHERE d.value->>'hour' >= ? AND d.value->>'hour' < ?`,
        fromHour,
        toHour,
      )
      .toArray()
      .map((r) => `${to.prefix}${r.seq}`);
    if (seqs.length === 0) return false;
    // Rows applied but not yet reconciled away are no longer waiting.
    return (await appliedBatchIds(this.db, seqs)).length < seqs.length;
  }

  /** Sends unsent rows with stable batch ids and marks them sent. Returns false when the queue
   * refused (the caller retries shortly). */
  async flush(to: OutboxTarget): Promise<boolean> {
    this.sealPendingDeltas();
    for (;;) {
      const rows = this.sql
        .exec<{ seq: number; body: string; created_at: number }>(
          "SELECT seq, body, created_at FROM outbox WHERE sent_at IS NULL ORDER BY seq LIMIT 100",
        )
        .toArray();
      if (rows.length === 0) return true;
      const messages: { body: OutboxMessage }[] = [];
      let bytes = 0;
      for (const row of rows) {
        if (messages.length > 0 && bytes + row.body.length > SEND_BATCH_BYTES) break;
        bytes += row.body.length;
        const content = Body.parse(JSON.parse(row.body));
        messages.push({
          body: {
            batch_id: `${to.prefix}${row.seq}`,
            tenant_id: to.tenantId,
            customer_id: to.customerId,
            deltas: content.deltas ?? [],
            ...(content.facets ? { facets: content.facets } : {}),
            ...(content.sessions ? { sessions: content.sessions } : {}),
            ...(content.key_usage ? { key_usage: content.key_usage } : {}),
            ...(content.signals ? { signals: content.signals } : {}),
            created_at: row.created_at,
          },
        });
      }
      try {
        await this.queue.sendBatch(messages);
      } catch (err) {
        console.error("outbox flush failed; will retry", err);
        return false;
      }
      const lastSeq = rows[messages.length - 1]?.seq ?? 0;
      this.sql.exec(
        "UPDATE outbox SET sent_at = ? WHERE sent_at IS NULL AND seq <= ?",
        Date.now(),
        lastSeq,
      );
    }
  }

  /** Drops the sent rows D1 shows as applied; marks for sending again those that waited too
   * long. Returns whether rows are still waiting (check again) and whether some must be resent. */
  async reconcile(to: OutboxTarget, now: number): Promise<{ waiting: boolean; resend: boolean }> {
    const sent = this.sql
      .exec<{ seq: number; sent_at: number }>(
        "SELECT seq, sent_at FROM outbox WHERE sent_at IS NOT NULL ORDER BY seq LIMIT 500",
      )
      .toArray();
    if (sent.length === 0) return { waiting: false, resend: false };
    const applied = (
      await appliedBatchIds(
        this.db,
        sent.map((r) => `${to.prefix}${r.seq}`),
      )
    ).map((id) => Number(id.slice(to.prefix.length)));
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
    }
    return { waiting: sent.length > applied.length, resend: lost.length > 0 };
  }

  /** Moves the deltas gathered since the last flush, their facets, the sessions' and the
   * customer API keys' usage into
   * outbox rows, in one transaction: from here on each row's seq, and so its batch id, is
   * fixed. */
  private sealPendingDeltas() {
    this.storage.transactionSync(() => {
      const deltas = this.sql
        .exec<RollupDelta & Record<string, SqlStorageValue>>(
          `SELECT start AS hour, product, metric, CAST(pending_units AS TEXT) AS units,
             CAST(pending_revenue AS TEXT) AS revenue, CAST(pending_cost AS TEXT) AS cost,
             pending_events AS events, pending_uncosted_events AS uncosted_events,
             CAST(pending_uncosted_revenue AS TEXT) AS uncosted_revenue
           FROM buckets WHERE pending_events > 0 ORDER BY start, product, metric`,
        )
        .toArray();
      if (deltas.length === 0) return;
      const facetsOf = new Map<string, RollupFacet[]>();
      for (const f of this.sql.exec<RollupFacet & Record<string, SqlStorageValue>>(
        `SELECT start AS hour, product, metric, provider, model, CAST(units AS TEXT) AS units,
           CAST(revenue AS TEXT) AS revenue, CAST(cost AS TEXT) AS cost, events, uncosted_events,
           CAST(uncosted_revenue AS TEXT) AS uncosted_revenue
         FROM pending_facets ORDER BY provider, model`,
      )) {
        const key = sliceKey(f);
        const list = facetsOf.get(key);
        if (list) list.push({ ...f });
        else facetsOf.set(key, [{ ...f }]);
      }
      const sessions = this.pendingSessions();
      const keyUsage = this.sql
        .exec<RollupKeyUsage & Record<string, SqlStorageValue>>(
          `SELECT start AS day, key_id, product, metric, CAST(units AS TEXT) AS units, events
           FROM pending_key_usage ORDER BY start, key_id, product, metric`,
        )
        .toArray()
        .map((r) => ({ ...r }));
      const now = Date.now();
      type Body = {
        deltas: RollupDelta[];
        facets: RollupFacet[];
        sessions: RollupSession[];
        key_usage: RollupKeyUsage[];
      };
      const empty = (): Body => ({ deltas: [], facets: [], sessions: [], key_usage: [] });
      let body = empty();
      let rows = 0;
      let bytes = 0;
      const seal = () => {
        this.sql.exec(
          "INSERT INTO outbox (body, created_at) VALUES (?, ?)",
          JSON.stringify({
            deltas: body.deltas,
            ...(body.facets.length > 0 ? { facets: body.facets } : {}),
            ...(body.sessions.length > 0 ? { sessions: body.sessions } : {}),
            ...(body.key_usage.length > 0 ? { key_usage: body.key_usage } : {}),
          }),
          now,
        );
        body = empty();
        rows = 0;
        bytes = 0;
      };
      const size = (row: object) => utf8.encode(JSON.stringify(row)).length + 1;
      for (const row of deltas) {
        const delta = { ...row };
        const facets = facetsOf.get(sliceKey(delta)) ?? [];
        const sizes = facets.map(size);
        const sliceBytes = size(delta) + sizes.reduce((a, b) => a + b, 0);
        if (
          rows > 0 &&
          (rows + 1 + facets.length > ROWS_PER_MESSAGE || bytes + sliceBytes > MESSAGE_BYTES)
        ) {
          seal();
        }
        body.deltas.push(delta);
        rows += 1;
        bytes += size(delta);
        facets.forEach((facet, i) => {
          const b = sizes[i] ?? 0;
          if (rows >= ROWS_PER_MESSAGE || bytes + b > MESSAGE_BYTES) seal();
          body.facets.push(facet);
          rows += 1;
          bytes += b;
        });
      }
      for (const session of sessions) {
        const b = size(session);
        if (rows >= ROWS_PER_MESSAGE || bytes + b > MESSAGE_BYTES) seal();
        body.sessions.push(session);
        rows += 1;
        bytes += b;
      }
      for (const usage of keyUsage) {
        const b = size(usage);
        if (rows >= ROWS_PER_MESSAGE || bytes + b > MESSAGE_BYTES) seal();
        body.key_usage.push(usage);
        rows += 1;
        bytes += b;
      }
      if (rows > 0) seal();
      this.sql.exec(
        `UPDATE buckets SET pending_units = 0, pending_revenue = 0, pending_cost = 0, pending_events = 0,
           pending_uncosted_events = 0, pending_uncosted_revenue = 0
         WHERE pending_events > 0`,
      );
      this.sql.exec("DELETE FROM pending_facets");
      this.sql.exec("DELETE FROM pending_sessions");
      this.sql.exec("DELETE FROM pending_key_usage");
    });
  }

  /** The pending session rows (one per batch per session and hour) summed per (hour, product,
   * session), as bigints: exact whatever they add up to. */
  private pendingSessions(): RollupSession[] {
    type Sum = Pick<
      RollupSession,
      "hour" | "product" | "session_id" | "events" | "first_at" | "last_at"
    >;
    const sums = new Map<string, { sum: Sum; amounts: bigint[] }>();
    for (const r of this.sql.exec<Record<string, SqlStorageValue>>(
      `SELECT start, product, session_id, events, first_at, last_at, ${SESSION_AMOUNTS.join(", ")}
       FROM pending_sessions ORDER BY start, product, session_id`,
    )) {
      const amounts = SESSION_AMOUNTS.map((a) => BigInt(String(r[a])));
      const key = `${r.start}\u0000${r.product}\u0000${r.session_id}`;
      const seen = sums.get(key);
      if (!seen) {
        sums.set(key, {
          sum: {
            hour: Number(r.start),
            product: String(r.product),
            session_id: String(r.session_id),
            events: Number(r.events),
            first_at: Number(r.first_at),
            last_at: Number(r.last_at),
          },
          amounts,
        });
        continue;
      }
      seen.sum.events += Number(r.events);
      seen.sum.first_at = Math.min(seen.sum.first_at, Number(r.first_at));
      seen.sum.last_at = Math.max(seen.sum.last_at, Number(r.last_at));
      seen.amounts = seen.amounts.map((v, i) => v + (amounts[i] ?? 0n));
    }
    return [...sums.values()].map(({ sum, amounts }) => {
      const [units, revenue, cost, input, output, cached] = amounts.map(String) as string[];
      return {
        ...sum,
        units: units ?? "0",
        revenue: revenue ?? "0",
        cost: cost ?? "0",
        input_tokens: input ?? "0",
        output_tokens: output ?? "0",
        cached_input_tokens: cached ?? "0",
      };
    });
  }
}

/** A session row's amounts, in pending_sessions and on the wire. */
const SESSION_AMOUNTS = [
  "units",
  "revenue",
  "cost",
  "input_tokens",
  "output_tokens",
  "cached_input_tokens",
] as const;

const sliceKey = (d: RollupDelta) => `${d.hour}\u0000${d.product}\u0000${d.metric}`;
