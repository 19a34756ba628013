import type { FieldError } from "../contracts/common";
import type { LiveFilter, LiveItem } from "../contracts/events";
import { BoundedCache } from "../domain/bounded-cache";
import type { RatedEvent } from "../domain/usage-event";

// The live ingestion stream (SPEC §8 Live Ingestion View): publishing from the ingest path
// without slowing it down, and subscribing a client to its tenant's hub.

// The item and filter shapes are the API's wire contract (contracts/events.ts); which items a
// filter lets through is pure (domain/live-filter.ts).
export type { LiveFilter, LiveItem };

const hubFor = (env: Env, tenantId: string) => env.LIVE_HUB.getByName(tenantId);

// Per isolate: whether each tenant's hub had watchers when last asked. The ingest path reads
// this and never waits: an answer older than WATCHERS_TTL_MS is refreshed in the background by
// one small RPC (not by publishing a batch nobody reads), and a subscriber in this isolate
// counts at once. While nobody watches, the actors skip per-event detail entirely.
// At most WATCHED_TENANTS entries (least recently used forgotten first): a forgotten tenant reads
// as unwatched until the next answer, a second later at most.
const WATCHED_TENANTS = 1_000;
const watched = new BoundedCache<string, { watchers: boolean; at: number; asking: boolean }>(
  WATCHED_TENANTS,
);
const WATCHERS_TTL_MS = 1_000;

/** Whether anyone watches the tenant's live stream, as this isolate last heard. */
export function liveIsWatched(
  env: Env,
  tenantId: string,
  ctx: { waitUntil(p: Promise<unknown>): void },
): boolean {
  const now = Date.now();
  const known = watched.get(tenantId) ?? { watchers: false, at: 0, asking: false };
  if (now - known.at > WATCHERS_TTL_MS && !known.asking) {
    known.asking = true;
    watched.set(tenantId, known);
    ctx.waitUntil(
      hubFor(env, tenantId)
        .watchers()
        .then((n) => watched.set(tenantId, { watchers: n > 0, at: Date.now(), asking: false }))
        .catch(() => watched.set(tenantId, { ...known, at: Date.now(), asking: false })),
    );
  }
  return known.watchers;
}

// While nobody watches, one request per tenant per isolate every SAMPLE_EVERY_MS still publishes
// (with per-event detail) so the hub's ring of recent events stays fresh for the next visitor:
// at most one small RPC per tenant every few seconds on the ingest path.
const SAMPLE_EVERY_MS = 5_000;
const sampled = new BoundedCache<string, number>(WATCHED_TENANTS);

/** Whether this unwatched request should publish a sample for the ring (and take the turn). */
export function liveSampleDue(tenantId: string, now = Date.now()): boolean {
  const last = sampled.get(tenantId) ?? 0;
  if (now - last < SAMPLE_EVERY_MS) return false;
  sampled.set(tenantId, now);
  return true;
}

function markWatched(tenantId: string) {
  watched.set(tenantId, { watchers: true, at: Date.now(), asking: false });
}

const str = (v: unknown, max = 128) => (typeof v === "string" ? v.slice(0, max) : null);

export async function publishLive(
  env: Env,
  tenantId: string,
  batch: {
    accepted: RatedEvent[];
    rejected: { index: number; id: string | null; errors: FieldError[]; item: unknown }[];
  },
): Promise<void> {
  if (batch.accepted.length === 0 && batch.rejected.length === 0) return;
  const receivedAt = new Date().toISOString();
  const items: LiveItem[] = [
    ...batch.accepted.map((e) => ({
      status: "accepted" as const,
      id: e.id,
      customer: e.customer,
      product: e.product,
      metric: e.metric,
      quantity: e.quantity,
      time: new Date(e.time).toISOString(),
      source: e.source,
      revenue: e.revenue,
      cost: e.cost,
      cost_status: e.cost_status,
      provider: e.provider,
      model: e.model,
      flags: e.flags,
      received_at: receivedAt,
    })),
    ...batch.rejected.map((r) => {
      const raw = (r.item ?? {}) as Record<string, unknown>;
      const data = (raw.data ?? {}) as Record<string, unknown>;
      return {
        status: "rejected" as const,
        id: r.id,
        customer: str(raw.customer) ?? str(raw.subject),
        product: str(raw.product) ?? str(data.product),
        metric: str(raw.metric) ?? str(raw.type),
        quantity: typeof raw.quantity === "number" ? raw.quantity : null,
        time: str(raw.time, 64),
        source: str(raw.source, 256) ?? "api",
        errors: r.errors,
        index: r.index,
        received_at: receivedAt,
      };
    }),
  ];
  try {
    const watchers = await hubFor(env, tenantId).publish(items);
    if (watchers === 0) watched.set(tenantId, { watchers: false, at: Date.now(), asking: false });
  } catch (err) {
    console.error("live publish failed", err);
  }
}

export async function subscribeLive(env: Env, tenantId: string, filter: LiveFilter) {
  markWatched(tenantId);
  return hubFor(env, tenantId).subscribe(filter);
}
