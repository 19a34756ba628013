import { DurableObject } from "cloudflare:workers";
import type { LiveFilter, LiveItem } from "../contracts/events";
import { matchesFilter } from "../domain/live-filter";

// One per tenant: fans the ingest stream out to the tenant's Server-Sent-Events clients.
// Each client has a bounded buffer; when it is full the client's events are dropped (and
// counted) rather than slowing ingestion, and the client is told how many it missed.
// It also keeps the tenant's last RECENT items (a ring, in memory and saved to its storage at
// most every SAVE_EVERY_MS), sent first to a client that connects, marked `recent: true`, so the
// live view is not empty on a first visit. While nobody watches, the edge publishes a sample at
// most every few seconds per isolate (workers/live.ts), enough to keep the ring fresh.

const BUFFER_EVENTS = 1_000;
/** Items kept for clients that connect later; bounded (≈ 100 × 0.5 KB per tenant). */
export const RECENT = 100;
const SAVE_EVERY_MS = 10_000;
const RECENT_KEY = "recent";
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
  /** The last RECENT items, oldest first. */
  private recent: LiveItem[] = [];
  private dirty = false;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      const saved = await ctx.storage.get<LiveItem[]>(RECENT_KEY);
      if (Array.isArray(saved)) this.recent = saved.slice(-RECENT);
    });
  }

  /** Delivers items to every matching subscriber and keeps them in the ring of recent items;
   * returns how many subscribers there are. */
  async publish(items: LiveItem[]): Promise<number> {
    this.remember(items);
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

  /** The ring of recent items (oldest first), as a connecting client gets them. */
  async recentItems(filter: LiveFilter = {}): Promise<LiveItem[]> {
    return this.recent.filter((item) => matchesFilter(filter, item));
  }

  /** Saves the ring (scheduled by remember(); a lost save only costs the last few seconds). */
  override async alarm(): Promise<void> {
    if (!this.dirty) return;
    this.dirty = false;
    await this.ctx.storage.put(RECENT_KEY, this.recent);
  }

  private remember(items: readonly LiveItem[]) {
    if (items.length === 0) return;
    const tail = items.length > RECENT ? items.slice(-RECENT) : items;
    this.recent = [
      ...this.recent.slice(Math.max(0, this.recent.length + tail.length - RECENT)),
      ...tail,
    ];
    if (!this.dirty) {
      this.dirty = true;
      this.ctx.storage
        .getAlarm()
        .then((at) =>
          at === null ? this.ctx.storage.setAlarm(Date.now() + SAVE_EVERY_MS) : undefined,
        )
        .catch((err) => console.error("live hub: could not schedule the ring's save", err));
    }
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
          // The last events first, oldest first, so the client opens on what just happened.
          for (const item of this.recent) {
            if (!matchesFilter(filter, item)) continue;
            const recent = { ...item, recent: true };
            controller.enqueue(
              encoder.encode(`event: ${item.status}\ndata: ${JSON.stringify(recent)}\n\n`),
            );
          }
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
