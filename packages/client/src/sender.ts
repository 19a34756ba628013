import { DEFAULT_RETRY, isRetryableStatus, type RetryOptions, retryDelay } from "./backoff.js";
import {
  batchIsFull,
  fitsAlone,
  jsonBytes,
  MAX_BATCH_BYTES,
  MAX_BATCH_EVENTS,
  nextBatchSize,
} from "./batching.js";
import { type AforoClient, type AforoClientOptions, createAforoClient } from "./client.js";
import { AforoError, type FieldIssue, parseRetryAfter } from "./errors.js";
import type { components } from "./schema.js";

export type UsageEvent = components["schemas"]["UsageEvent"];
type IngestResponse = components["schemas"]["IngestResponse"];
/** An event as `track` takes it: `id` and `time` are filled in when missing. */
export type TrackedEvent = Omit<UsageEvent, "id" | "time"> & { id?: string; time?: string | Date };

export interface Rejection {
  event: UsageEvent;
  /**
   * `rejected`: Aforo refused the event (its errors say why) — sending it again changes nothing.
   * `too_large`: the event alone is over `maxBytes`. `undeliverable`: `retry.maxAttempts` sends
   * all failed; the event may or may not have been stored, and tracking it again (same id) is
   * safe: a stored one comes back as a duplicate.
   */
  reason: "rejected" | "too_large" | "undeliverable";
  errors: FieldIssue[];
}

export interface IngestWarnings {
  event: UsageEvent;
  warnings: IngestResponse["warnings"][number]["warnings"];
}

/** A Workers ExecutionContext (or Hono's `c.executionCtx`). */
export interface WaitUntil {
  waitUntil(promise: Promise<unknown>): void;
}

export interface SenderOptions extends Omit<AforoClientOptions, "token"> {
  /** A client to send through; otherwise one is made from baseUrl/ingestKey/fetch/service. */
  client?: AforoClient;
  /** Events per request, at most 1,000 (the default). */
  maxBatch?: number;
  /** Bytes of JSON per request, at most 1 MiB (the default). */
  maxBytes?: number;
  /** The longest an event waits in memory before its batch is sent (default 1,000 ms). */
  flushIntervalMs?: number;
  /** Events held at most, queued and in flight (default 100,000). See `onOverflow`. */
  maxBuffer?: number;
  /** Events Aforo refused or that could not be delivered; called once per batch, never retried. */
  onRejected: (rejections: Rejection[]) => void;
  /**
   * The overflow policy: when `maxBuffer` events are held, a new event is refused, not queued,
   * and never silently dropped: it is handed here (keep it, log it, track it again later), or,
   * without this callback, `track` throws a SenderOverflowError carrying it.
   */
  onOverflow?: (event: UsageEvent) => void;
  /** Events that were kept but that Aforo flagged (uncosted, unknown customer…). */
  onWarnings?: (warnings: IngestWarnings[]) => void;
  retry?: RetryOptions;
  /** A request that has not answered by then counts as a network failure (default 30 s). */
  requestTimeoutMs?: number;
}

export class SenderOverflowError extends Error {
  override readonly name = "SenderOverflowError";
  constructor(readonly event: UsageEvent) {
    super(`the sender already holds its maxBuffer of events; event '${event.id}' was not queued`);
  }
}

export interface SenderStats {
  queued: number;
  inFlight: number;
  accepted: number;
  duplicates: number;
  rejected: number;
  undeliverable: number;
  retries: number;
}

interface Entry {
  event: UsageEvent;
  bytes: number;
}

type Outcome =
  | { kind: "answered"; answer: IngestResponse }
  | { kind: "refused"; error: AforoError }
  | { kind: "retry"; retryAfterMs: number | null; why: string };

/**
 * A batching sender for /v1/events. Exactly once by construction: every event gets its id when
 * it is tracked, and a batch is only ever sent again unchanged, so a retry after a lost answer
 * is a duplicate Aforo counts once, never a second event.
 */
export class Sender {
  private readonly client: AforoClient;
  private readonly maxBatch: number;
  private readonly maxBytes: number;
  private readonly flushIntervalMs: number;
  private readonly maxBuffer: number;
  private readonly retry: Required<RetryOptions>;
  private readonly requestTimeoutMs: number;
  private readonly queue: Entry[] = [];
  private queuedBytes = 0;
  private readonly inFlight = new Set<Promise<void>>();
  private inFlightCount = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly counts = {
    accepted: 0,
    duplicates: 0,
    rejected: 0,
    undeliverable: 0,
    retries: 0,
  };

  constructor(private readonly options: SenderOptions) {
    this.client = options.client ?? createAforoClient(options);
    this.maxBatch = Math.min(options.maxBatch ?? MAX_BATCH_EVENTS, MAX_BATCH_EVENTS);
    this.maxBytes = Math.min(options.maxBytes ?? MAX_BATCH_BYTES, MAX_BATCH_BYTES);
    this.flushIntervalMs = options.flushIntervalMs ?? 1_000;
    this.maxBuffer = options.maxBuffer ?? 100_000;
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    if (this.maxBatch < 1 || this.maxBuffer < 1) {
      throw new RangeError("maxBatch and maxBuffer must be at least 1");
    }
  }

  /**
   * Queues one event and answers its id (generated here once when the event has none, so
   * every retry carries the same one). With a Workers `ctx`, the event's delivery is kept alive
   * through `ctx.waitUntil`: the response is not delayed, and the isolate stays until the event
   * is acknowledged or rejected.
   */
  track(input: TrackedEvent, ctx?: WaitUntil): string {
    const time = input.time ?? new Date();
    const event: UsageEvent = {
      ...input,
      id: input.id ?? crypto.randomUUID(),
      time: typeof time === "string" ? time : time.toISOString(),
    };
    if (this.queue.length + this.inFlightCount >= this.maxBuffer) {
      if (!this.options.onOverflow) throw new SenderOverflowError(event);
      this.options.onOverflow(event);
      return event.id;
    }
    const entry: Entry = { event, bytes: jsonBytes(event) };
    if (!fitsAlone(entry, this.maxBytes)) {
      this.counts.rejected++;
      this.report([
        {
          event,
          reason: "too_large",
          errors: [{ path: "", message: `larger than ${this.maxBytes} bytes on its own` }],
        },
      ]);
      return event.id;
    }
    this.queue.push(entry);
    this.queuedBytes += entry.bytes;
    const full = batchIsFull(this.queue.length, this.queuedBytes, this.maxBatch, this.maxBytes);
    if (ctx) {
      // In a Worker, a request may only wait on I/O it started itself (another request's may
      // be cancelled with it, and workerd refuses to resolve promises across requests): wait
      // the interval for company, then send whatever is still queued from this request. Events
      // that another request's flush took by then are kept alive by that request.
      ctx.waitUntil(
        full ? this.sendQueued() : sleep(this.flushIntervalMs).then(() => this.sendQueued()),
      );
    } else if (full) {
      void this.flush();
    } else {
      this.armTimer();
    }
    return entry.event.id;
  }

  /** Sends everything queued now and resolves once each event is acknowledged or rejected. */
  async flush(): Promise<void> {
    this.clearTimer();
    while (this.queue.length > 0 || this.inFlight.size > 0) {
      await this.sendQueued();
      await Promise.all(this.inFlight);
    }
  }

  /** Workers: sends everything queued from this request, kept alive past the response. */
  flushIn(ctx: WaitUntil): void {
    this.clearTimer();
    ctx.waitUntil(this.sendQueued());
  }

  stats(): SenderStats {
    return { queued: this.queue.length, inFlight: this.inFlightCount, ...this.counts };
  }

  /** Sends the queue batch after batch from the caller; batches in flight elsewhere go on. */
  private async sendQueued(): Promise<void> {
    while (this.queue.length > 0) await this.sendNext();
  }

  private armTimer() {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, this.flushIntervalMs);
    // An idle interval does not keep a Node process alive: flush() on shutdown does.
    (this.timer as { unref?: () => void }).unref?.();
  }

  private clearTimer() {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Cuts the next batch off the queue and delivers it. The cut is synchronous, so concurrent
   * flushes never send the same events twice. */
  private sendNext(): Promise<void> {
    const count = nextBatchSize(this.queue, this.maxBatch, this.maxBytes);
    const batch = this.queue.splice(0, count);
    for (const entry of batch) this.queuedBytes -= entry.bytes;
    this.inFlightCount += batch.length;
    const delivery: Promise<void> = this.deliver(batch).finally(() => {
      this.inFlight.delete(delivery);
      this.inFlightCount -= batch.length;
    });
    this.inFlight.add(delivery);
    return delivery;
  }

  private async deliver(batch: Entry[]): Promise<void> {
    const events = batch.map((e) => e.event);
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.post(events);
      if (outcome.kind === "answered") return this.accept(events, outcome.answer);
      if (outcome.kind === "refused") {
        this.counts.rejected += events.length;
        const errors = outcome.error.issues.length
          ? [...outcome.error.issues]
          : [{ path: "", message: `${outcome.error.code}: ${outcome.error.detail}` }];
        return this.report(events.map((event) => ({ event, reason: "rejected", errors })));
      }
      if (attempt >= this.retry.maxAttempts) {
        this.counts.undeliverable += events.length;
        const message = `not delivered after ${attempt} attempts (last: ${outcome.why})`;
        return this.report(
          events.map((event) => ({
            event,
            reason: "undeliverable",
            errors: [{ path: "", message }],
          })),
        );
      }
      this.counts.retries++;
      await sleep(retryDelay(attempt, outcome.retryAfterMs, this.retry));
    }
  }

  private async post(events: UsageEvent[]): Promise<Outcome> {
    try {
      const res = await this.client.raw.POST("/v1/events", {
        body: events,
        signal: AbortSignal.timeout(this.requestTimeoutMs),
      });
      if (res.response.ok && res.data) return { kind: "answered", answer: res.data };
      const retryAfterMs = parseRetryAfter(res.response.headers.get("retry-after"));
      if (isRetryableStatus(res.response.status)) {
        return { kind: "retry", retryAfterMs, why: `HTTP ${res.response.status}` };
      }
      return { kind: "refused", error: AforoError.fromResponse(res.response, res.error) };
    } catch (err) {
      // No answer (refused connection, reset, timeout): whether the batch was stored is
      // unknown, and sending the same ids again settles it.
      return {
        kind: "retry",
        retryAfterMs: null,
        why: err instanceof Error ? err.message : String(err),
      };
    }
  }

  private accept(events: UsageEvent[], answer: IngestResponse) {
    this.counts.accepted += answer.accepted;
    this.counts.duplicates += answer.duplicates;
    const rejections: Rejection[] = [];
    for (const r of answer.rejected) {
      const event = events[r.index];
      if (event) rejections.push({ event, reason: "rejected", errors: r.errors });
    }
    this.counts.rejected += rejections.length;
    if (rejections.length) this.report(rejections);
    const warned: IngestWarnings[] = [];
    for (const w of answer.warnings) {
      const event = events[w.index];
      if (event) warned.push({ event, warnings: w.warnings });
    }
    if (warned.length && this.options.onWarnings)
      this.callback(() => this.options.onWarnings?.(warned));
  }

  private report(rejections: Rejection[]) {
    this.callback(() => this.options.onRejected(rejections));
  }

  /** A throwing callback is the integrator's bug; it must not stall the events behind it. */
  private callback(run: () => void) {
    try {
      run();
    } catch (err) {
      console.error("@aforo/client sender: a callback threw", err);
    }
  }
}

export function createSender(options: SenderOptions): Sender {
  return new Sender(options);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
