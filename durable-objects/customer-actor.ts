import { DurableObject } from "cloudflare:workers";
import type { StoredEvent } from "../contracts/events";
import { ALLOWED_LATENESS_MS, CustomerDetection } from "../domain/detection";
import type { Signal } from "../domain/detectors";
import { type SubscriptionWindow, subscriptionWindows } from "../domain/detectors/lifecycle";
import { fullBucket, type TokenBucket, takeTokens } from "../domain/gate";
import { foldBatch, pacingUpdates, uniqueById } from "../domain/ingest-batch";
import type { GateTier, PolicyDocument } from "../domain/ladder";
import { type CustomerTerms, committedRevenue } from "../domain/rating";
import { type EventsQueryInput, eventsStatement } from "../domain/reports/compile-events";
import { DAY_MS, HOUR_MS, MINUTE_MS } from "../domain/time";
import { hourStart, type UsageEvent } from "../domain/usage-event";
import { loadCustomerTerms } from "../store/customer-terms";
import { defaultPolicies, loadCustomerPolicies, type PolicyResolver } from "../store/policies";
import { tenantFeedEnd } from "../store/rollups";
import { tenantCatalogHead } from "../store/tenants";
import { ActorMemory, type Identity } from "./actor-memory";
import type { GateRequest, GateResult, IngestRequest, IngestResult } from "./actor-rpc";
import { migrateActorSchema } from "./actor-schema";
import { ActorStore } from "./actor-store";
import { ArchiveFeed } from "./archive-feed";
import { Outbox, type OutboxTarget, RECONCILE_AFTER_MS } from "./outbox";
import { type TimerName, Timers } from "./timers";

export type { GateRequest, GateResult, IngestRequest, IngestResult } from "./actor-rpc";
export type {
  OutboxMessage,
  RollupDelta,
  RollupFacet,
  RollupKeyUsage,
  RollupSession,
} from "./outbox";

// One actor per (tenant, customer), named `${tenant}:${customer}` (SPEC §2). A thin host: it owns
// the storage and the platform entry points (RPC, alarm). Rating, costing and the batch fold are
// pure (domain/ingest-batch.ts), so is detection (domain/detection.ts); the actor's SQL is in
// actor-store.ts, the outbox in outbox.ts, the timers in timers.ts.

export const actorName = (tenantId: string, customerId: string) => `${tenantId}:${customerId}`;

const DEDUPE_WINDOW_MS = 35 * DAY_MS;
const HOURLY_BUCKET_DAYS = 35;
const DAILY_BUCKET_DAYS = 400;
/** Usage reaches the D1 rollups FLUSH_DELAY_MS after a quiet customer's batch; under steady
 * traffic at most one flush per FLUSH_SPACING_MS, so a busy actor sends fewer, larger messages
 * (the fan-out's cost stays off the ingest path). */
const FLUSH_DELAY_MS = 2_000;
const FLUSH_SPACING_MS = 10_000;
const SIGNAL_FLUSH_DELAY_MS = 100;
const RETRY_MS = 5_000;
/** Hours of a customer that went quiet close on the wall clock once it has been silent this long
 * (so a backfill in progress is never mistaken for silence). */
const SILENCE_GRACE_MS = 15 * MINUTE_MS;
/** When the tenant's whole feed is silent (no customer's usage has arrived), a silent customer's
 * hours wait for the feed instead of closing as zeros — an outage of the gateway or of Aforo is
 * not every customer churning at once — for at most this long, after which they close anyway
 * (a tenant with one customer cannot tell the two apart). */
const FEED_OUTAGE_MAX_MS = 72 * HOUR_MS;
const POLICY_TTL_MS = 30_000;
const RETENTION_EVERY_MS = 6 * HOUR_MS;
const CAREFUL_BATCHES = 8;

/** Thrown inside an optimistic ingest transaction to roll it back: an id was already stored. */
class StoredBefore extends Error {}

export interface Terms {
  version: number;
  value: CustomerTerms;
  /** The subscription windows detection sees, from value.phases. */
  subscriptions: SubscriptionWindow[];
  policies: PolicyResolver;
  loadedAt: number;
}

export class CustomerActor extends DurableObject<Env> {
  protected readonly store: ActorStore;
  protected readonly memory: ActorMemory;
  private readonly outbox: Outbox;
  private readonly archive: ArchiveFeed;
  private readonly timers: Timers;
  private terms: Terms | null = null;
  private bucket: TokenBucket | null = null;
  /** After a batch with stored duplicates (a client retrying), the next few look ids up first. */
  private duplicatesSeen = 0;
  private lastFlushAt = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const { sql } = ctx.storage;
    this.store = new ActorStore(sql);
    this.memory = new ActorMemory(ctx.storage.kv);
    this.outbox = new Outbox(sql, ctx.storage, env.EVENTS_QUEUE, env.DB);
    this.archive = new ArchiveFeed(sql, env.ARCHIVE_QUEUE, env.EXPORTS);
    this.timers = new Timers(sql, ctx.storage);
    ctx.blockConcurrencyWhile(async () => {
      migrateActorSchema(ctx.storage);
      await this.timers.load();
    });
  }

  // ---------------------------------------------------------------------------------------
  // Ingest (SPEC §4)

  /** Dedupes, rates, costs, stores and detects a batch in one storage transaction; the events
   * are durable when this returns (the output gate holds the reply until the write commits). */
  async ingest(req: IngestRequest): Promise<IngestResult> {
    this.memory.bind(req);
    this.memory.setRawRetentionDays(req.rawRetentionDays);
    const terms = await this.loadTerms(req);
    const now = Date.now();
    let result: IngestResult & { signals: number };
    try {
      result = this.ingestBatch(req, terms, now);
    } catch (err) {
      this.forgetCaches(); // the transaction rolled back
      throw err;
    }
    this.memory.touchIngest(now);
    if (result.signals > 0) this.timers.schedule("flush", now + SIGNAL_FLUSH_DELAY_MS);
    else if (result.accepted > 0) {
      this.timers.schedule(
        "flush",
        Math.max(now + FLUSH_DELAY_MS, this.lastFlushAt + FLUSH_SPACING_MS),
      );
    }
    this.timers.schedule(
      "silence",
      Math.max(hourStart(now) + HOUR_MS + ALLOWED_LATENESS_MS, now + SILENCE_GRACE_MS),
    );
    if (!this.timers.has("retention")) this.timers.schedule("retention", now + RETENTION_EVERY_MS);
    const { signals: _, ...answer } = result;
    return answer;
  }

  private ingestBatch(
    req: IngestRequest,
    terms: Terms,
    now: number,
  ): IngestResult & { signals: number } {
    // A repeat inside the batch is a duplicate; so is an id already stored. Most batches have
    // none of the latter, so the batch is rated and inserted straight away, and the insert says
    // whether any id was already stored; only then is it rolled back and done again with the
    // stored ids looked up first (rating is marginal: a duplicate must not take a tier's place).
    const unique = uniqueById(req.events);
    if (this.duplicatesSeen === 0) {
      try {
        return this.ctx.storage.transactionSync(() =>
          this.storeBatch(req, unique, terms, now, true),
        );
      } catch (err) {
        if (!(err instanceof StoredBefore)) throw err; // ingest() forgets the caches
        this.forgetCaches(); // the transaction rolled back
      }
    }
    this.duplicatesSeen = Math.max(0, this.duplicatesSeen - 1);
    return this.ctx.storage.transactionSync(() => {
      const known = this.store.knownIds(unique.map((e) => e.id));
      const fresh = unique.filter((e) => !known.has(e.id));
      if (known.size === 0) return this.storeBatch(req, fresh, terms, now, false);
      this.duplicatesSeen = CAREFUL_BATCHES;
      const result = this.storeBatch(req, fresh, terms, now, false);
      return { ...result, known: [...known] };
    });
  }

  /** Rates, stores and detects `fresh`. `optimistic`: throws StoredBefore (rolling the
   * transaction back) when an id turns out to be stored already. */
  private storeBatch(
    req: IngestRequest,
    fresh: UsageEvent[],
    terms: Terms,
    now: number,
    optimistic: boolean,
  ): IngestResult & { signals: number } {
    const duplicates = req.events.length - fresh.length;
    if (fresh.length === 0) return { accepted: 0, duplicates, signals: 0 };
    const batch = foldBatch(fresh, terms.value, this.store.ledger, {
      detail: req.detail,
      budget: this.store.budget,
    });
    const refused = batch.refused.length > 0 ? { refused: batch.refused } : {};
    if (batch.records.length === 0) return { accepted: 0, duplicates, signals: 0, ...refused };
    if (this.store.insertEvents(batch.records, now) < batch.records.length) {
      if (optimistic) throw new StoredBefore();
      throw new Error("events stored during their own ingest transaction");
    }
    this.store.writeLedger(batch.periods);
    this.store.addToBuckets(batch.deltas);
    this.store.addToFacets(batch.facets);
    this.store.addToSessions(batch.sessions);
    this.store.addToKeyUsage(batch.keyUsage);
    const signals = this.detection(req.customerId, terms).afterBatch({
      minTime: batch.minTime,
      maxTime: batch.maxTime,
      months: batch.months,
      pacing: pacingUpdates(terms.value, batch.paced, (sub, start, metric) =>
        this.store.ledgerUsage(sub, start, metric),
      ),
    });
    const stored = this.storeSignals(signals, now);
    return {
      accepted: batch.records.length,
      duplicates,
      signals: stored,
      ...refused,
      ...(batch.noted.length > 0 ? { noted: batch.noted } : {}),
      ...(batch.rated ? { rated: batch.rated } : {}),
    };
  }

  protected detection(customerId: string, terms: Terms): CustomerDetection {
    return new CustomerDetection(
      customerId,
      this.memory.detection,
      { ...this.store.reader, committed: (from, to) => committedRevenue(terms.value, from, to) },
      (product) => terms.policies(product).detectors,
      terms.subscriptions,
    );
  }

  /** Keeps each signal once per idempotency key and queues the new ones for the outbox. */
  private storeSignals(signals: readonly Signal[], now: number): number {
    const fresh = this.store.insertSignals(signals, now);
    this.outbox.addSignals(fresh, now);
    return fresh.length;
  }

  private forgetCaches() {
    this.store.forgetCaches();
    this.memory.forget();
  }

  /** Closes every hour and day of this customer that ends at or before `asOf` (replay,
   * backfill, silence). Returns how many new signals that produced. */
  async closeThrough(asOf: number, catalogVersion = 0): Promise<number> {
    const who = this.memory.identity();
    if (!who) return 0;
    const terms = await this.loadTerms({ ...who, catalogVersion });
    const now = Date.now();
    let stored: number;
    try {
      stored = this.ctx.storage.transactionSync(() => {
        const fresh = this.storeSignals(
          this.detection(who.customerId, terms).closeThrough(asOf),
          now,
        );
        this.memory.persistDetectorState();
        return fresh;
      });
    } catch (err) {
      this.forgetCaches();
      throw err;
    }
    if (stored > 0) this.timers.schedule("flush", now + SIGNAL_FLUSH_DELAY_MS);
    return stored;
  }

  protected async loadTerms(req: Identity & { catalogVersion: number }): Promise<Terms> {
    if (this.terms && this.terms.version >= req.catalogVersion) return this.terms;
    const [value, policies] = await Promise.all([
      loadCustomerTerms(this.env.DB, req.tenantId, req.customerId),
      loadCustomerPolicies(this.env.DB, req.tenantId, req.customerId),
    ]);
    // A concurrent load may have finished first with a newer version; keep the newest.
    if (!this.terms || this.terms.version < req.catalogVersion) {
      this.terms = {
        version: req.catalogVersion,
        value,
        subscriptions: subscriptionWindows(value.phases),
        policies,
        loadedAt: Date.now(),
      };
    }
    return this.terms;
  }

  // ---------------------------------------------------------------------------------------
  // Reads

  /** Raw events newest first, with price and cost (drill-down). */
  async listEvents(q: Parameters<ActorStore["listEvents"]>[0]) {
    return this.store.listEvents(q);
  }

  /** Stored events by id (a signal's source events). */
  async eventsByIds(ids: string[]): Promise<StoredEvent[]> {
    return this.store.eventsByIds(ids);
  }

  /** The usage a billing period was rated on (metric → micro-units as decimal text): what the
   * invoice for that period is computed from, so invoice and events agree. */
  async periodUsage(subscriptionId: string, periodStart: number): Promise<Record<string, string>> {
    return this.store.periodUsage(subscriptionId, periodStart);
  }

  /** This customer's share of an `events` report (docs/reports.md): the partial rows of the one
   * read-only statement domain/reports/compile-events.ts compiles from the checked query. The
   * actor compiles it itself, so it only ever runs that compiler's SQL, every value bound. */
  async reportEvents(input: EventsQueryInput): Promise<Record<string, SqlStorageValue>[]> {
    const statement = eventsStatement(input);
    return this.ctx.storage.sql
      .exec(statement.sql, ...(statement.parameters as SqlStorageValue[]))
      .toArray();
  }

  /** Usage not yet handed to the events queue: pending deltas plus unsent outbox rows. */
  async pendingOutbox(): Promise<number> {
    return this.outbox.pending();
  }

  /** Whether usage of an hour in [from, to) has yet to reach D1's rollups. */
  async usageAwaitsD1(from: number, to: number): Promise<boolean> {
    const who = this.memory.identity();
    return who ? this.outbox.awaitsD1(this.outboxTarget(who), from, to) : false;
  }

  // ---------------------------------------------------------------------------------------
  // The gate (SPEC §7): answered from memory; the tier is pushed here by the action ladder.

  async gate(req: GateRequest): Promise<GateResult> {
    this.memory.bind(req);
    const tier = this.memory.gateTier();
    const policy = await this.gatePolicy();
    if (tier === "blocked") {
      return { allow: false, tier, limit: 0, remaining: 0, retry_after_ms: -1 };
    }
    const rate = tier === "throttled" ? policy.throttled_rate_per_second : policy.rate_per_second;
    const burst =
      tier === "throttled" ? Math.max(1, policy.throttled_rate_per_second) : policy.burst;
    const now = Date.now();
    this.bucket ??= fullBucket(burst, now);
    const answer = takeTokens(this.bucket, now, rate, burst, req.units);
    return { ...answer, tier, limit: rate };
  }

  /** Several gate checks at once, in order, as the edge coalesces a hot customer's concurrent
   * calls (workers/actor-calls.ts): the same answers one call each would have had. */
  async gateMany(reqs: GateRequest[]): Promise<GateResult[]> {
    const out: GateResult[] = [];
    for (const req of reqs) out.push(await this.gate(req));
    return out;
  }

  /** Sets the gate tier (the ladder calls this on execute and reverse). Persisted, so it
   * survives eviction; the bucket restarts so a new rate applies at once. */
  async setGateTier(tier: GateTier): Promise<GateTier> {
    this.memory.setGateTier(tier);
    this.bucket = null;
    return tier;
  }

  private async gatePolicy(): Promise<PolicyDocument["gate"]> {
    const who = this.memory.identity();
    if (!this.terms && who) {
      await this.loadTerms({ ...who, catalogVersion: 0 });
    } else if (this.terms && who && Date.now() - this.terms.loadedAt > POLICY_TTL_MS) {
      // Refresh in the background; the gate never waits on D1 after the first call.
      this.terms = { ...this.terms, loadedAt: Date.now() };
      this.ctx.waitUntil(
        loadCustomerPolicies(this.env.DB, who.tenantId, who.customerId).then((policies) => {
          if (this.terms) this.terms = { ...this.terms, policies };
        }),
      );
    }
    return (this.terms?.policies ?? defaultPolicies)().gate;
  }

  /** Binds this actor to its tenant and customer (the gate may be the first to reach it). */
  async identify(tenantId: string, customerId: string): Promise<void> {
    this.memory.bind({ tenantId, customerId });
  }

  // ---------------------------------------------------------------------------------------
  // Timers: one alarm runs whatever is due and re-arms for the earliest remaining timer.

  override async alarm(): Promise<void> {
    const now = Date.now();
    for (const name of this.timers.takeDue(now)) {
      try {
        await this.runTimer(name, now);
      } catch (err) {
        // Each timer is idempotent: run it again shortly rather than lose it.
        console.error(`actor timer ${name} failed; retrying`, err);
        this.timers.schedule(name, Date.now() + RETRY_MS);
      }
    }
    await this.timers.rearm();
  }

  private async runTimer(name: TimerName, now: number) {
    const who = this.memory.identity();
    if (name === "retention") {
      this.store.applyRetention(now, {
        rawMs: this.memory.rawRetentionDays() * DAY_MS,
        dedupeMs: DEDUPE_WINDOW_MS,
        hourlyMs: HOURLY_BUCKET_DAYS * DAY_MS,
        dailyMs: DAILY_BUCKET_DAYS * DAY_MS,
      });
      this.timers.schedule("retention", now + RETENTION_EVERY_MS);
    } else if (!who) {
      return;
    } else if (name === "flush") {
      this.lastFlushAt = now;
      this.ctx.storage.transactionSync(() => this.memory.persistDetectorState());
      if (await this.outbox.flush(this.outboxTarget(who))) {
        this.timers.schedule("reconcile", Date.now() + RECONCILE_AFTER_MS);
      } else {
        this.timers.schedule("flush", Date.now() + RETRY_MS);
      }
      // The same events, raw and rated, to the R2 event archive (archive-feed.ts).
      const archived = await this.archive.flush(who);
      if (archived !== "done") {
        this.timers.schedule("flush", Date.now() + (archived === "more" ? 0 : RETRY_MS));
      }
    } else if (name === "reconcile") {
      const { waiting, resend } = await this.outbox.reconcile(this.outboxTarget(who), now);
      if (resend) this.timers.schedule("flush", now);
      if (waiting) this.timers.schedule("reconcile", now + RECONCILE_AFTER_MS);
    } else if (name === "silence") {
      await this.closeSilentHours(who, now);
    }
  }

  private outboxTarget(who: Identity): OutboxTarget {
    return { ...who, prefix: `${actorName(who.tenantId, who.customerId)}:` };
  }

  // Detection on the wall clock: a customer that went quiet still has its hours closed.
  private async closeSilentHours(who: Identity, now: number) {
    const last = this.memory.lastIngestAt();
    if (now - last < SILENCE_GRACE_MS) {
      this.timers.schedule("silence", last + SILENCE_GRACE_MS);
      return;
    }
    // How far: to the wall clock while the tenant's feed is delivering usage, else to the end
    // of the tenant's latest hour with usage in D1 (never further back than FEED_OUTAGE_MAX_MS).
    // With the tenant's current catalog version: a customer who went quiet because they canceled
    // since their last batch is judged on the subscription as it now stands (no churn risk).
    const [feed, head] = await Promise.all([
      tenantFeedEnd(this.env.DB, who.tenantId),
      tenantCatalogHead(this.env.DB, who.tenantId),
    ]);
    const feedEnd = feed ?? 0;
    await this.closeThrough(
      Math.min(now - ALLOWED_LATENESS_MS, Math.max(feedEnd, now - FEED_OUTAGE_MAX_MS)),
      head.version,
    );
    // Keep closing hour by hour while the customer stays quiet.
    this.timers.schedule("silence", hourStart(now) + HOUR_MS + ALLOWED_LATENESS_MS);
  }
}
