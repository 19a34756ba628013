import { rowsByDate, sha256Hex, stagedBody, stagingKey } from "../domain/exports/archive-layout";
import { type ArchiveRow, archiveRowFromStored } from "../domain/exports/archive-rows";
import type { Identity } from "./actor-memory";

// The customer actor's feed to the event archive (docs/exports.md "Event archive"): on the
// flush timer, the events stored since the last hand-off go to the archive queue in chunks, and
// the archive cursor (meta `archive_cursor`: the seq and receipt time of the last event handed
// off) advances only once the queue has taken them. Nothing is added to the ingest path; a
// crash between the send and the cursor's write sends the chunk again, which the archive
// de-duplicates by (customer, event id). The consumer stages each message in R2 under its id
// (workers/event-archive.ts), and compaction folds the staged rows into the day's parts.

/** One chunk of a customer's events on the archive queue. */
export interface ArchiveMessage {
  /** Stable for the chunk: `<tenant>:<customer>:<first seq>-<last seq>@<first receipt>`. */
  id: string;
  tenant_id: string;
  customer_id: string;
  rows: ArchiveRow[];
}

interface Cursor {
  seq: number;
  received_at: number;
}

const CURSOR_KEY = "archive_cursor";
/** A message's rows, as JSON bytes (a queue message is capped at 128 KB). */
const MESSAGE_BYTES = 96_000;
/** One sendBatch (capped at 256 KB and 100 messages). */
const SEND_BATCH_BYTES = 200_000;
const ROWS_PER_READ = 1_000;
/** Rows handed off per flush: an actor with a long backlog (its raw events when the archive
 * started) sends it over several flushes rather than hold the alarm. */
const ROWS_PER_FLUSH = 30_000;
const utf8 = new TextEncoder();

const COLUMNS = `seq, id, time, received_at, product, metric, CAST(quantity AS TEXT) AS quantity,
  CAST(revenue AS TEXT) AS revenue, CAST(cost AS TEXT) AS cost, cost_status, provider, model,
  input_tokens, output_tokens, cached_input_tokens, subscription_id, flags, source, properties`;

type EventRow = Record<string, SqlStorageValue> & { seq: number; received_at: number };

export type ArchiveFlush = "done" | "more" | "failed";

export class ArchiveFeed {
  constructor(
    private readonly sql: SqlStorage,
    private readonly queue: Queue<ArchiveMessage>,
    private readonly bucket: R2Bucket,
  ) {}

  /** Hands off the events stored since the cursor: "done" when none are left, "more" when this
   * flush's share is sent and more remain, "failed" when the queue refused (retry shortly). */
  async flush(who: Identity): Promise<ArchiveFlush> {
    let handed = 0;
    while (handed < ROWS_PER_FLUSH) {
      const rows = this.unsent(this.cursor());
      if (rows.length === 0) return "done";
      const chunks = chunk(
        rows.map((r) => ({ stored: r, row: archiveRowFromStored(who.customerId, r) })),
      );
      for (let i = 0; i < chunks.length; ) {
        const batch: MessageSendRequest<ArchiveMessage>[] = [];
        let bytes = 0;
        let last: EventRow | undefined;
        while (i < chunks.length) {
          const c = chunks[i] as Chunk;
          if (batch.length > 0 && (bytes + c.bytes > SEND_BATCH_BYTES || batch.length >= 100)) {
            break;
          }
          const message = this.message(who, c.items);
          if (c.bytes > MESSAGE_BYTES) {
            // One event past a queue message (50 long properties): staged here, as the
            // consumer would stage it.
            await stageArchiveMessage(this.bucket, message);
          } else {
            batch.push({ body: message, contentType: "json" });
            bytes += c.bytes;
          }
          last = c.items.at(-1)?.stored;
          i++;
        }
        try {
          if (batch.length > 0) await this.queue.sendBatch(batch);
        } catch (err) {
          console.error("archive feed send failed; will retry", err);
          return "failed";
        }
        if (last) this.advance({ seq: last.seq, received_at: last.received_at });
      }
      handed += rows.length;
    }
    return "more";
  }

  private message(who: Identity, items: Item[]): ArchiveMessage {
    const first = (items[0] as Item).stored;
    const last = (items.at(-1) as Item).stored;
    return {
      id: `${who.tenantId}:${who.customerId}:${first.seq}-${last.seq}@${first.received_at}`,
      tenant_id: who.tenantId,
      customer_id: who.customerId,
      rows: items.map((i) => i.row),
    };
  }

  private cursor(): Cursor | null {
    const row = this.sql
      .exec<{ value: string }>("SELECT value FROM meta WHERE key = ?", CURSOR_KEY)
      .toArray()[0];
    return row ? (JSON.parse(row.value) as Cursor) : null;
  }

  private advance(to: Cursor) {
    this.sql.exec(
      "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
      CURSOR_KEY,
      JSON.stringify(to),
    );
  }

  /**
   * The next events not handed off, in seq order. While the cursor's own row is stored, those
   * are the rows after its seq. Retention can delete it, and once the newest row is gone SQLite
   * hands its seq out again; then every row received since the cursor's is sent too (more than
   * needed at worst, which the archive's de-duplication absorbs; never fewer).
   */
  private unsent(cursor: Cursor | null): EventRow[] {
    if (!cursor) {
      return this.sql
        .exec<EventRow>(`SELECT ${COLUMNS} FROM events ORDER BY seq LIMIT ?`, ROWS_PER_READ)
        .toArray();
    }
    const anchor = this.sql
      .exec<{ received_at: number }>("SELECT received_at FROM events WHERE seq = ?", cursor.seq)
      .toArray()[0];
    if (anchor?.received_at === cursor.received_at) {
      return this.sql
        .exec<EventRow>(
          `SELECT ${COLUMNS} FROM events WHERE seq > ? ORDER BY seq LIMIT ?`,
          cursor.seq,
          ROWS_PER_READ,
        )
        .toArray();
    }
    return this.sql
      .exec<EventRow>(
        `SELECT ${COLUMNS} FROM events WHERE seq > ? OR received_at >= ? ORDER BY seq LIMIT ?`,
        cursor.seq,
        cursor.received_at,
        ROWS_PER_READ,
      )
      .toArray();
  }
}

interface Item {
  stored: EventRow;
  row: ArchiveRow;
}
interface Chunk {
  items: Item[];
  bytes: number;
}

/** Consecutive rows in chunks of at most MESSAGE_BYTES of JSON (a lone larger row is its own
 * chunk). */
function chunk(items: Item[]): Chunk[] {
  const out: Chunk[] = [];
  let current: Chunk = { items: [], bytes: 0 };
  for (const item of items) {
    const size = utf8.encode(JSON.stringify(item.row)).length + 1;
    if (current.items.length > 0 && current.bytes + size > MESSAGE_BYTES) {
      out.push(current);
      current = { items: [], bytes: 0 };
    }
    current.items.push(item);
    current.bytes += size;
  }
  if (current.items.length > 0) out.push(current);
  return out;
}

/** Stages a message's rows, one object per event date, under keys fixed by its id: a message
 * delivered again writes the same objects with the same bytes. */
export async function stageArchiveMessage(bucket: R2Bucket, message: ArchiveMessage) {
  const digest = (await sha256Hex(message.id)).slice(0, 32);
  await Promise.all(
    [...rowsByDate(message.rows)].map(([date, rows]) =>
      bucket.put(stagingKey(message.tenant_id, date, digest), stagedBody(rows), {
        httpMetadata: { contentType: "application/x-ndjson" },
      }),
    ),
  );
}
