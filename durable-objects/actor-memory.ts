import type { DetectionStore } from "../domain/detection";
import type { GateTier } from "../domain/ladder";

// The actor's small key-value state (Durable Object sync KV), mirrored in memory so the ingest
// and gate paths read no storage: who the actor is, the tenant's raw retention, when usage last
// arrived, the gate tier and the detectors' state.

/** last_ingest_at is written at most this often; the silence check allows 15 minutes. */
const LAST_INGEST_WRITE_EVERY_MS = 60_000;
const ABSENT = Symbol("absent");

export interface Identity {
  tenantId: string;
  customerId: string;
}

export class ActorMemory {
  private who: Identity | null = null;
  /** The stored raw retention (undefined: never told), once read. */
  private retentionDays: { stored: number | undefined } | null = null;
  private lastIngest: { at: number; written: number } | null = null;
  private tier: GateTier | null = null;
  /** Detector state by key: reads come from here after the first; writes go through to KV. */
  private readonly detectorState = new Map<string, unknown>();
  private readonly unsaved = new Set<string>();

  constructor(private readonly kv: SyncKvStorage) {}

  /** After a rolled-back transaction, memory may be ahead of storage. */
  forget() {
    this.detectorState.clear();
    this.unsaved.clear();
    this.lastIngest = null;
    this.retentionDays = null;
  }

  /** The tenant and customer this actor belongs to, once any call has told it. */
  identity(): Identity | null {
    if (this.who) return this.who;
    const tenantId = this.kv.get<string>("tenant_id");
    const customerId = this.kv.get<string>("customer_id");
    if (tenantId === undefined || customerId === undefined) return null;
    this.who = { tenantId, customerId };
    return this.who;
  }

  bind(who: Identity) {
    if (this.identity() !== null) return;
    this.kv.put("tenant_id", who.tenantId);
    this.kv.put("customer_id", who.customerId);
    this.who = { tenantId: who.tenantId, customerId: who.customerId };
  }

  rawRetentionDays(): number {
    this.retentionDays ??= { stored: this.kv.get<number>("raw_retention_days") };
    return Number(this.retentionDays.stored ?? 90);
  }

  setRawRetentionDays(days: number) {
    this.rawRetentionDays();
    if (this.retentionDays?.stored === days) return;
    this.kv.put("raw_retention_days", days);
    this.retentionDays = { stored: days };
  }

  lastIngestAt(): number {
    return this.lastIngest?.at ?? this.kv.get<number>("last_ingest_at") ?? 0;
  }

  /** Remembers when usage last arrived; storage only learns it once a minute (the silence
   * check after an eviction may then see usage up to a minute older than it was). */
  touchIngest(now: number) {
    if (this.lastIngest && now - this.lastIngest.written < LAST_INGEST_WRITE_EVERY_MS) {
      this.lastIngest.at = now;
      return;
    }
    this.kv.put("last_ingest_at", now);
    this.lastIngest = { at: now, written: now };
  }

  gateTier(): GateTier {
    this.tier ??= this.kv.get<GateTier>("gate_tier") ?? "normal";
    return this.tier;
  }

  setGateTier(tier: GateTier) {
    this.kv.put("gate_tier", tier);
    this.tier = tier;
  }

  /** The detectors' store. Detectors treat state as immutable (each returns a new state rather
   * than changing the one it was given: domain/detectors/spec.ts), so the cached value is handed
   * out as is. Writes stay in memory until `persistDetectorState` (the actor's flush, a few
   * seconds after any batch): a crash before then leaves the previous snapshot whole, and
   * detection picks up from it — hours close again with the same idempotency keys (signals are
   * kept once), and quota pacing measures usage against the last usage it saw. */
  readonly detection: DetectionStore = {
    get: <T>(key: string): T | undefined => {
      let value = this.detectorState.get(key);
      if (value === undefined) {
        value = this.kv.get(key) ?? ABSENT;
        this.detectorState.set(key, value);
      }
      return value === ABSENT ? undefined : (value as T);
    },
    put: <T>(key: string, value: T) => {
      if (this.detectorState.get(key) === value) return;
      this.detectorState.set(key, value);
      this.unsaved.add(key);
    },
  };

  /** Writes the detector state changed since the last call (inside the caller's transaction,
   * so the snapshot is stored whole). */
  persistDetectorState() {
    for (const key of this.unsaved) this.kv.put(key, this.detectorState.get(key));
    this.unsaved.clear();
  }
}
