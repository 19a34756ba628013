import { DurableObject } from "cloudflare:workers";
import type { LiveFilter, LiveItem } from "../contracts/events";
import { matchesFilter } from "../domain/live-filter";

// One per tenant: fans the ingest stream out to the tenant's Server-Sent-Events clients.
// Each client has a bounded buffer; when it is full the client's events are dropped (and
// counted) rather than slowing ingestion, and the client is told how many it missed.

const BUFFER_EVENTS = 1_000;
const HEARTBEAT_MS = 15_000;
const encoder = new TextEncoder();

interface Subscriber {
  filter: LiveFilter;
  controller: ReadableStreamDefaultController<Uint8Array>;
  dropped: number;
}

export class LiveHub extends DurableObject<Env> {
  private readonly subscribers = new Set<Subscriber>();
  private heartbeat: ReturnType<typeof setInterval> | null = null;

  /** Delivers items to every matching subscriber; returns how many subscribers there are. */
  async publish(items: LiveItem[]): Promise<number> {
    for (const sub of this.subscribers) {
      for (const item of items) {
        if (!matchesFilter(sub.filter, item)) continue;
        if ((sub.controller.desiredSize ?? 0) <= 0) {
          sub.dropped++;
          continue;
        }
        if (sub.dropped > 0) {
          this.send(sub, `event: dropped\ndata: ${JSON.stringify({ count: sub.dropped })}\n\n`);
          sub.dropped = 0;
        }
        this.send(sub, `event: ${item.status}\ndata: ${JSON.stringify(item)}\n\n`);
      }
    }
    return this.subscribers.size;
  }

  /** How many clients are subscribed (the edge asks, to know whether to publish at all). */
  async watchers(): Promise<number> {
    return this.subscribers.size;
  }

  async subscribe(filter: LiveFilter): Promise<ReadableStream<Uint8Array>> {
    let sub: Subscriber | undefined;
    const stream = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          sub = { filter, controller, dropped: 0 };
          this.subscribers.add(sub);
          controller.enqueue(
            encoder.encode(`retry: 2000\nevent: ready\ndata: ${JSON.stringify({ filter })}\n\n`),
          );
          this.ensureHeartbeat();
        },
        cancel: () => {
          if (sub) this.subscribers.delete(sub);
          this.stopHeartbeatIfIdle();
        },
      },
      new CountQueuingStrategy({ highWaterMark: BUFFER_EVENTS }),
    );
    return stream;
  }

  private send(sub: Subscriber, text: string) {
    try {
      sub.controller.enqueue(encoder.encode(text));
    } catch {
      // The client went away between checks.
      this.subscribers.delete(sub);
      this.stopHeartbeatIfIdle();
    }
  }

  private ensureHeartbeat() {
    if (this.heartbeat) return;
    this.heartbeat = setInterval(() => {
      // A client whose buffer is full is not reading: a heartbeat would only queue past the
      // bound (one every 15 s, for as long as it stays connected), so it gets none.
      for (const sub of this.subscribers) {
        if ((sub.controller.desiredSize ?? 0) > 0)
          this.send(sub, `: heartbeat ${new Date().toISOString()}\n\n`);
      }
    }, HEARTBEAT_MS);
  }

  private stopHeartbeatIfIdle() {
    if (this.subscribers.size === 0 && this.heartbeat) {
      clearInterval(this.heartbeat);
      this.heartbeat = null;
    }
  }
}
