// The customer actor's per-batch fold (SPEC §4): rate and cost each fresh event, and gather in
// one pass everything the batch writes and detects — the stored event records, one delta per
// (hour, product, metric) and its facets per provider and model, the usage of each agent session
// per (hour, product), of each customer API key per (day, product, metric), the touched billing
// periods,
// the months and quota-paced metrics that detection looks at. Pure: the actor dedupes before and
// persists after; this never touches storage, so it is unit-tested and benchmarked in Node.

import { periodContaining } from "./billing-period";
import type { PacingUpdate } from "./detection";
import type { DayBudget } from "./limits";
import { formatMoney } from "./money";
import { type CustomerTerms, findPhase, type Rating, rateEvent, type UsageLedger } from "./rating";
import { DAY_MS, HOUR_MS } from "./time";
import type { EventFlag, RatedEvent, UsageEvent } from "./usage-event";

/** Source event ids kept per month or paced metric (what a signal cites). */
const SOURCE_IDS = 5;

/** One event as the actor stores it: quantities in micros, money in nanos. */
export interface EventRecord {
  id: string;
  time: number;
  product: string;
  metric: string;
  quantity: bigint;
  revenue: bigint;
  cost: bigint;
  cost_status: string;
  provider: string | null;
  model: string | null;
  input_tokens: number | null;
  output_tokens: number | null;
  cached_input_tokens: number | null;
  subscription_id: string | null;
  /** Comma-separated EventFlag list. */
  flags: string;
  source: string;
  properties: UsageEvent["properties"] | null;
}

/** The batch's usage for one (hour, product, metric): added to the actor's buckets and, through
 * the outbox, to the D1 rollups. */
export interface BucketDelta {
  hour: number;
  product: string;
  metric: string;
  units: bigint;
  revenue: bigint;
  cost: bigint;
  events: number;
  /** Of those, the events Aforo could not cost, and their revenue (the margin pages' uncosted
   * share). */
  uncosted_events: number;
  uncosted_revenue: bigint;
}

/** The batch's usage for one (hour, product, metric) and the cost's provider and model ('' when
 * the event has none): the facets of a BucketDelta, which sum to it. They travel through the
 * outbox to the tenant's usage by provider and model (schema/0024_model_rollups.sql). */
export interface FacetDelta extends BucketDelta {
  provider: string;
  model: string;
}

/** The batch's usage of one session (an event's `session_id` property, a non-empty string) in
 * one (hour, product): it travels through the outbox to the tenant's session rollups
 * (schema/0025_session_rollups.sql). Tokens are the events' cost block's counts (0 where absent);
 * times are the first and last event's. */
export interface SessionDelta {
  hour: number;
  product: string;
  session_id: string;
  events: number;
  units: bigint;
  revenue: bigint;
  cost: bigint;
  input_tokens: bigint;
  output_tokens: bigint;
  cached_input_tokens: bigint;
  first_at: number;
  last_at: number;
}

/** The session an event belongs to: its `session_id` property when that is a non-empty string
 * (a number or a boolean names no session; the events dataset's `properties.session_id` shows
 * those as text, the sessions dataset leaves them out). */
export function sessionOf(event: UsageEvent): string | null {
  const id = event.properties?.session_id;
  return typeof id === "string" && id !== "" ? id : null;
}

/** The batch's usage made with one customer API key (an event's `api_key_id`, resolved at the
 * edge) in one UTC day of one product's metric: it travels through the outbox to the per-key
 * usage (schema/0033_customer_api_keys.sql). */
export interface KeyUsageDelta {
  day: number;
  key_id: string;
  product: string;
  metric: string;
  units: bigint;
  events: number;
}

/** A metric of a subscription period that the batch touched (quota pacing reads its usage). */
export interface PacedMetric {
  subscription: string;
  periodStart: number;
  product: string;
  metric: string;
  /** Latest event time for it in the batch. */
  at: number;
  ids: string[];
}

export interface BatchFold {
  records: EventRecord[];
  deltas: BucketDelta[];
  /** The deltas cut by provider and model as well. */
  facets: FacetDelta[];
  /** The usage of the batch's events that name a session, per (hour, product, session). */
  sessions: SessionDelta[];
  /** The usage of the batch's events made with a customer API key, per (day, key, product,
   * metric). */
  keyUsage: KeyUsageDelta[];
  /** Ledger entries the batch changed, as [subscription id, period start]. */
  periods: [string, number][];
  minTime: number;
  maxTime: number;
  /** Every calendar month (UTC start) the batch touched: its latest event time and a few ids. */
  months: Map<number, { at: number; ids: string[] }>;
  paced: PacedMetric[];
  /** Events the day budget refused (domain/limits.ts): not in any of the above. */
  refused: { id: string; reason: string }[];
  /** Each event's rating, for the live stream (only when asked for). */
  rated?: RatedEvent[];
  /** Stored events the sender should hear about (uncosted, unknown customer): the /v1/events
   * answer's per-event warnings. */
  noted: EventNote[];
}

/** A stored event's flags that the sender should hear about, with the costing's reason. */
export interface EventNote {
  id: string;
  flags: EventFlag[];
  /** Why it is uncosted, when it is. */
  reason?: string;
}

/** The flags the /v1/events answer warns about (no_subscription and trial are the operator's
 * business, not a sender's mistake). */
const NOTED: readonly EventFlag[] = ["uncosted", "unknown_customer"];

/** The events with a first-seen id, in order: a repeat inside one batch is a duplicate. */
export function uniqueById(events: readonly UsageEvent[]): UsageEvent[] {
  const seen = new Set<string>();
  return events.filter((e) => !seen.has(e.id) && seen.add(e.id));
}

/** Rates, costs and folds `events` (already deduplicated, in arrival order) against the
 * period-to-date `ledger`, which it advances. With a `budget`, an event that would take the
 * customer's day past what Aforo holds is refused instead (and leaves the ledger as it was). */
export function foldBatch(
  events: readonly UsageEvent[],
  terms: CustomerTerms,
  ledger: UsageLedger,
  options: { detail?: boolean; budget?: DayBudget } = {},
): BatchFold {
  const { detail = false, budget } = options;
  const records: EventRecord[] = [];
  const facets = new Map<string, FacetDelta>();
  const sessions = new Map<string, SessionDelta>();
  const keyUsage = new Map<string, KeyUsageDelta>();
  const periods = new Map<string, [string, number]>();
  const months = new Map<number, { at: number; ids: string[] }>();
  const paced = new Map<string, PacedMetric>();
  const rated: RatedEvent[] | undefined = detail ? [] : undefined;
  const refused: { id: string; reason: string }[] = [];
  const noted: EventNote[] = [];
  let minTime = Infinity;
  let maxTime = -Infinity;
  // Events of a batch mostly share a month: compute its bounds once, not per event.
  let month = { start: 0, end: 0 };

  for (const event of events) {
    const rating = rateEvent(terms, ledger, event);
    const t = event.time;
    const hour = t - (((t % HOUR_MS) + HOUR_MS) % HOUR_MS);
    const refusal = budget?.admit(
      t - (((t % DAY_MS) + DAY_MS) % DAY_MS),
      event.product,
      event.metric,
      rating.quantity,
      rating.revenue,
      rating.cost.nanos,
    );
    if (refusal) {
      unrate(ledger, rating, event.metric);
      refused.push({ id: event.id, reason: refusal });
      continue;
    }
    if (t < minTime) minTime = t;
    if (t > maxTime) maxTime = t;

    if (t < month.start || t >= month.end) month = monthOf(t);
    const seen = months.get(month.start);
    if (!seen) months.set(month.start, { at: t, ids: [event.id] });
    else {
      if (t > seen.at) seen.at = t;
      if (seen.ids.length < SOURCE_IDS) seen.ids.push(event.id);
    }

    const sub = rating.subscription_id;
    if (sub !== null && rating.period_start !== null) {
      const periodKey = `${sub}\u0000${rating.period_start}`;
      if (!rating.flags.includes("trial")) {
        if (!periods.has(periodKey)) periods.set(periodKey, [sub, rating.period_start]);
        const key = `${periodKey}\u0000${event.metric}`;
        const p = paced.get(key);
        if (!p) {
          paced.set(key, {
            subscription: sub,
            periodStart: rating.period_start,
            product: event.product,
            metric: event.metric,
            at: t,
            ids: [event.id],
          });
        } else {
          if (t > p.at) p.at = t;
          if (p.ids.length < SOURCE_IDS) p.ids.push(event.id);
        }
      }
    }

    const c = event.cost;
    const provider = rating.cost.provider ?? c?.provider ?? null;
    const model = rating.cost.model ?? c?.model ?? null;
    if (rating.flags.some((f) => NOTED.includes(f))) {
      const flags = rating.flags.filter((f) => NOTED.includes(f));
      noted.push(
        rating.cost.reason
          ? { id: event.id, flags, reason: rating.cost.reason }
          : { id: event.id, flags },
      );
    }
    records.push({
      id: event.id,
      time: t,
      product: event.product,
      metric: event.metric,
      quantity: rating.quantity,
      revenue: rating.revenue,
      cost: rating.cost.nanos,
      cost_status: rating.cost.status,
      provider,
      model,
      input_tokens: c?.input_tokens ?? null,
      output_tokens: c?.output_tokens ?? null,
      cached_input_tokens: c?.cached_input_tokens ?? null,
      subscription_id: sub,
      flags: rating.flags.join(","),
      source: event.source,
      properties: event.properties ?? null,
    });

    // One map entry per event, on the finest key; the (hour, product, metric) deltas are summed
    // from the facets after the loop, over far fewer entries than events.
    const key = `${hour}\u0000${event.product}\u0000${event.metric}\u0000${provider ?? ""}\u0000${model ?? ""}`;
    let facet = facets.get(key);
    if (!facet) {
      facet = {
        hour,
        product: event.product,
        metric: event.metric,
        provider: provider ?? "",
        model: model ?? "",
        units: 0n,
        revenue: 0n,
        cost: 0n,
        events: 0,
        uncosted_events: 0,
        uncosted_revenue: 0n,
      };
      facets.set(key, facet);
    }
    facet.units += rating.quantity;
    facet.revenue += rating.revenue;
    facet.cost += rating.cost.nanos;
    facet.events += 1;
    if (rating.cost.status === "uncosted") {
      facet.uncosted_events += 1;
      facet.uncosted_revenue += rating.revenue;
    }

    const sessionId = sessionOf(event);
    if (sessionId !== null) {
      const sessionKey = `${hour}\u0000${event.product}\u0000${sessionId}`;
      let session = sessions.get(sessionKey);
      if (!session) {
        session = {
          hour,
          product: event.product,
          session_id: sessionId,
          events: 0,
          units: 0n,
          revenue: 0n,
          cost: 0n,
          input_tokens: 0n,
          output_tokens: 0n,
          cached_input_tokens: 0n,
          first_at: t,
          last_at: t,
        };
        sessions.set(sessionKey, session);
      }
      session.events += 1;
      session.units += rating.quantity;
      session.revenue += rating.revenue;
      session.cost += rating.cost.nanos;
      session.input_tokens += BigInt(c?.input_tokens ?? 0);
      session.output_tokens += BigInt(c?.output_tokens ?? 0);
      session.cached_input_tokens += BigInt(c?.cached_input_tokens ?? 0);
      if (t < session.first_at) session.first_at = t;
      if (t > session.last_at) session.last_at = t;
    }

    if (event.api_key_id !== undefined) {
      const day = t - (((t % DAY_MS) + DAY_MS) % DAY_MS);
      const usageKey = `${day}\u0000${event.api_key_id}\u0000${event.product}\u0000${event.metric}`;
      const usage = keyUsage.get(usageKey);
      if (usage) {
        usage.units += rating.quantity;
        usage.events += 1;
      } else {
        keyUsage.set(usageKey, {
          day,
          key_id: event.api_key_id,
          product: event.product,
          metric: event.metric,
          units: rating.quantity,
          events: 1,
        });
      }
    }

    rated?.push({
      id: event.id,
      customer: event.customer,
      product: event.product,
      metric: event.metric,
      quantity: event.quantity,
      time: t,
      source: event.source,
      revenue: formatMoney(rating.revenue, 0),
      cost: formatMoney(rating.cost.nanos, 0),
      cost_status: rating.cost.status,
      provider,
      model,
      subscription_id: sub,
      flags: rating.flags,
    });
  }

  return {
    records,
    deltas: sumFacets(facets.values()),
    facets: [...facets.values()],
    sessions: [...sessions.values()],
    keyUsage: [...keyUsage.values()],
    periods: [...periods.values()],
    minTime,
    maxTime,
    months,
    paced: [...paced.values()],
    refused,
    noted,
    ...(rated ? { rated } : {}),
  };
}

/** The (hour, product, metric) deltas the facets make up, in the order each first appears. */
function sumFacets(facets: Iterable<FacetDelta>): BucketDelta[] {
  const deltas = new Map<string, BucketDelta>();
  for (const f of facets) {
    const key = `${f.hour}\u0000${f.product}\u0000${f.metric}`;
    const d = deltas.get(key);
    if (!d) {
      deltas.set(key, {
        hour: f.hour,
        product: f.product,
        metric: f.metric,
        units: f.units,
        revenue: f.revenue,
        cost: f.cost,
        events: f.events,
        uncosted_events: f.uncosted_events,
        uncosted_revenue: f.uncosted_revenue,
      });
      continue;
    }
    d.units += f.units;
    d.revenue += f.revenue;
    d.cost += f.cost;
    d.events += f.events;
    d.uncosted_events += f.uncosted_events;
    d.uncosted_revenue += f.uncosted_revenue;
  }
  return [...deltas.values()];
}

/** Takes a refused event's quantity back out of the period-to-date usage rating added it to. */
function unrate(ledger: UsageLedger, rating: Rating, metric: string) {
  if (rating.subscription_id === null || rating.period_start === null) return;
  if (rating.flags.includes("trial")) return;
  const usage = ledger.usage(rating.subscription_id, rating.period_start);
  usage.set(metric, (usage.get(metric) ?? 0n) - rating.quantity);
}

/** Quota pacing's input: the period-to-date usage of every paced metric that has an included
 * quota, read after the batch from `usage` (micros). */
export function pacingUpdates(
  terms: CustomerTerms,
  paced: readonly PacedMetric[],
  usage: (subscriptionId: string, periodStart: number, metric: string) => bigint,
): PacingUpdate[] {
  const updates: PacingUpdate[] = [];
  for (const p of paced) {
    const phase = findPhase(terms, p.product, p.at);
    const plan = phase ? terms.plans.get(phase.plan_id) : undefined;
    const metric = plan?.metrics.get(p.metric);
    if (!phase || !plan || !metric || metric.includedIndex === null || metric.included <= 0n)
      continue;
    updates.push({
      subscription_id: p.subscription,
      product: p.product,
      metric: p.metric,
      usage: Number(usage(p.subscription, p.periodStart, p.metric)) / 1e6,
      quota: Number(metric.included) / 1e6,
      period: periodContaining(phase.anchor, plan.interval, p.at),
      at: p.at,
      source_event_ids: p.ids,
    });
  }
  return updates;
}

/** The UTC calendar month containing `t`, as [start, end). */
export function monthOf(t: number): { start: number; end: number } {
  const d = new Date(t);
  return {
    start: Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1),
    end: Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1),
  };
}

/** What one actor call answered for a batch (durable-objects/actor-rpc.ts IngestResult). */
export interface BatchAnswer {
  accepted: number;
  duplicates: number;
  refused?: { id: string; reason: string }[];
  /** Ids that were already stored. */
  known?: string[];
  rated?: RatedEvent[];
  /** Stored events with flags the sender should hear about. */
  noted?: EventNote[];
}

/**
 * Splits the answer to one call that carried several requests' events (concatenated in order,
 * domain/coalesce.ts) into each request's own answer, exactly as the actor would have answered
 * each alone in that order: a repeated id is a duplicate of its first occurrence, a stored id a
 * duplicate, a refused id refused, anything else accepted.
 */
export function splitBatchAnswer(
  parts: readonly (readonly { id: string }[])[],
  answer: BatchAnswer,
): Required<Omit<BatchAnswer, "known">>[] {
  const known = new Set(answer.known);
  const refused = new Map(answer.refused?.map((r) => [r.id, r.reason]));
  const seen = new Set<string>();
  return parts.map((events) => {
    let accepted = 0;
    let duplicates = 0;
    const own: { id: string; reason: string }[] = [];
    const ids = new Set<string>();
    for (const { id } of events) {
      if (seen.has(id) || known.has(id)) {
        duplicates++;
        continue;
      }
      seen.add(id);
      ids.add(id);
      const reason = refused.get(id);
      if (reason === undefined) accepted++;
      else own.push({ id, reason });
    }
    const rated = answer.rated?.filter((r) => ids.has(r.id)) ?? [];
    const noted = answer.noted?.filter((n) => ids.has(n.id)) ?? [];
    return { accepted, duplicates, refused: own, rated, noted };
  });
}
