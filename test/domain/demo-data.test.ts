import { describe, expect, it } from "vitest";
import { periodContaining } from "../../domain/billing-period";
import { compileCostCatalog, costEvent } from "../../domain/costing";
import { buildKpiIndex, cockpitAt, recurringTermsFromPlan } from "../../domain/kpi";
import { compilePlan, type PlanDefinition, validatePlan } from "../../domain/pricing";
import { type CustomerTerms, type Phase, rateEvent } from "../../domain/rating";
import type { UsageEvent } from "../../domain/usage-event";
// @ts-expect-error: a plain ESM script (scripts/ are not type-checked); typed below.
import * as demoData from "../../scripts/lib/demo-data.mjs";
import { NativeEvent } from "../../workers/ingest/event-schema";

// The demo-data generator behind `npm start` (scripts/lib/demo-data.mjs), checked against the
// real pricing, costing and event-validation code: plans the API accepts, events it accepts,
// deterministic ids, and the four stories an operator is promised.

interface DemoEvent {
  id: string;
  customer: string;
  product: string;
  metric: string;
  quantity: number;
  time: string;
  cost: {
    provider: string;
    model: string;
    input_tokens?: number;
    output_tokens?: number;
    cached_input_tokens?: number;
    calls?: number;
  };
  properties?: Record<string, string>;
}
interface Demo {
  anchor: number;
  windowStart: number;
  historyStart: number;
  hours: number;
  priceChangeAt: number;
  products: { id: string; metrics: { id: string }[] }[];
  plans: (PlanDefinition & { product: string; period: "month" | "year" })[];
  costCatalog: {
    provider: string;
    model: string;
    input_per_million: string;
    output_per_million: string;
    cached_input_per_million?: string;
    per_call?: string;
    effective_from: string;
  }[];
  customers: { id: string; name: string; metadata: { segment: string; region: string } }[];
  subscriptions: {
    id: string;
    customer: string;
    plan: string;
    product: string;
    start: number;
    trial_end: number | null;
    changes: { plan: string; at: number }[];
    end: number | null;
  }[];
  stories: Record<string, { customer?: string; since?: string }>;
}
interface Batch {
  body: string;
  count: number;
  customers: string[];
}
const {
  aggregateBatches,
  buildDemo,
  batchesFor,
  batchesForCustomers,
  batchesForHours,
  CUSTOMER_COUNT,
  customerOrder,
  eventCounts,
  eventsPerDay,
  HISTORY_DAYS,
  STORIES,
  suspendedSubscription,
  UNKNOWN_CUSTOMER,
  WINDOW_DAYS,
} = demoData as {
  aggregateBatches: (demo: Demo) => Batch[];
  buildDemo: (o: { anchor: number; seed?: string; through?: number; detail?: boolean }) => Demo;
  batchesFor: (demo: Demo, fromDay: number, toDay: number) => Batch[];
  batchesForCustomers: (demo: Demo, ids: ReadonlySet<string>) => Batch[];
  batchesForHours: (demo: Demo, fromHour: number, toHour: number) => Batch[];
  CUSTOMER_COUNT: number;
  customerOrder: (demo: Demo) => string[];
  eventCounts: (demo: Demo) => {
    before: number;
    window: number;
    aggregates: number;
    total: number;
  };
  eventsPerDay: (demo: Demo) => number[];
  HISTORY_DAYS: number;
  STORIES: Record<"cogs_jump" | "usage_collapse" | "quota_race" | "usage_spikes", string>;
  suspendedSubscription: (demo: Demo, anchor: number) => string | null;
  UNKNOWN_CUSTOMER: string;
  WINDOW_DAYS: number;
};

const HOUR = 3_600_000;
const DAY = 86_400_000;
const anchor = Date.parse("2026-11-27T02:00:00Z");
const demo = buildDemo({ anchor });
const batches = batchesFor(demo, 0, WINDOW_DAYS);
const events: DemoEvent[] = batches.flatMap((b) => JSON.parse(b.body) as DemoEvent[]);
const of = (customer: string) => events.filter((e) => e.customer === customer);
const sum = (xs: DemoEvent[]) => xs.reduce((s, e) => s + e.quantity, 0);
const between = (xs: DemoEvent[], from: number, to: number) =>
  xs.filter((e) => Date.parse(e.time) >= from && Date.parse(e.time) < to);

describe("demo catalog", () => {
  it("has ~200 customers now (more over its history) with unique valid ids, segments and regions", () => {
    expect(demo.customers).toHaveLength(CUSTOMER_COUNT);
    const ids = new Set(demo.customers.map((c) => c.id));
    expect(ids.size).toBe(CUSTOMER_COUNT);
    const live = new Set(demo.subscriptions.filter((s) => s.end === null).map((s) => s.customer));
    expect(live.size).toBeGreaterThan(180);
    expect(live.size).toBeLessThan(220);
    for (const c of demo.customers) {
      expect(c.id).toMatch(/^[a-z0-9][a-z0-9-]*$/);
      expect(["startup", "mid-market", "enterprise"]).toContain(c.metadata.segment);
      expect(c.metadata.region).toBeTruthy();
    }
    for (const id of Object.values(STORIES)) expect(ids.has(id)).toBe(true);
    expect(ids.has(UNKNOWN_CUSTOMER)).toBe(false);
  });

  it("has plans the pricing engine accepts, on metrics their products define", () => {
    expect(demo.plans.length).toBeGreaterThanOrEqual(9);
    for (const plan of demo.plans) {
      const issues = validatePlan({ ...plan, interval: plan.period });
      expect(issues, plan.id).toEqual([]);
      const metrics = new Set(
        demo.products.find((p) => p.id === plan.product)?.metrics.map((m) => m.id),
      );
      for (const c of plan.components)
        if ("metric" in c && c.metric) expect(metrics).toContain(c.metric);
    }
    const types = new Set(demo.plans.flatMap((p) => p.components.map((c) => c.type)));
    for (const t of ["flat", "per_unit", "tiered", "package", "included", "discount", "minimum"]) {
      expect(types).toContain(t);
    }
    expect(demo.plans.some((p) => p.period === "year")).toBe(true);
    expect(demo.plans.some((p) => (p.trial_days ?? 0) > 0)).toBe(true);
  });

  it("spreads subscriptions over plans: trials running now, annual plans, two-product customers", () => {
    const subs = demo.subscriptions;
    const planById = new Map(demo.plans.map((p) => [p.id, p]));
    expect(subs.every((s) => s.start < anchor && s.start >= demo.historyStart)).toBe(true);
    expect(subs.filter((s) => s.trial_end !== null && s.trial_end > anchor).length).toBeGreaterThan(
      5,
    );
    expect(subs.filter((s) => planById.get(s.plan)?.period === "year").length).toBeGreaterThan(5);
    const perCustomer = new Map<string, string[]>();
    for (const s of subs)
      perCustomer.set(s.customer, [...(perCustomer.get(s.customer) ?? []), s.product]);
    const multi = [...perCustomer.values()].filter((ps) => new Set(ps).size > 1);
    expect(multi.length).toBeGreaterThan(3);
    const plansUsed = new Set(subs.flatMap((s) => [s.plan, ...s.changes.map((c) => c.plan)]));
    expect(plansUsed.size).toBe(demo.plans.length); // every plan used
  });

  it("tells 14 months of movements: new, upgrades, downgrades, cancels, win-backs, trials both ways", () => {
    const subs = demo.subscriptions;
    const planById = new Map(demo.plans.map((p) => [p.id, p]));
    expect(HISTORY_DAYS).toBeGreaterThanOrEqual(395); // 12 months + the month of usage before
    const months = new Set(subs.map((s) => new Date(s.start).toISOString().slice(0, 7)));
    expect(months.size).toBeGreaterThanOrEqual(14); // customers arrive every month
    const rank = (plan: string) => {
      const p = planById.get(plan);
      const same = demo.plans.filter((x) => x.product === p?.product).map((x) => x.id);
      return same.indexOf(plan);
    };
    const changes = subs.flatMap((s) =>
      s.changes.map((c, i) => ({ from: i ? s.changes[i - 1]?.plan : s.plan, to: c.plan, s, c })),
    );
    const up = changes.filter((x) => rank(x.to) > rank(x.from ?? ""));
    const down = changes.filter((x) => rank(x.to) < rank(x.from ?? ""));
    expect(up.length).toBeGreaterThan(8);
    expect(down.length).toBeGreaterThan(3);
    expect(changes.some((x) => planById.get(x.to)?.period === "year")).toBe(true); // to annual
    for (const x of changes) {
      expect(x.c.at).toBeGreaterThan(x.s.trial_end ?? x.s.start);
      expect(x.c.at).toBeLessThan(x.s.end ?? anchor);
      expect(planById.get(x.to)?.product).toBe(x.s.product);
    }
    const ended = subs.filter((s) => s.end !== null);
    expect(ended.length).toBeGreaterThan(30);
    for (const s of ended) expect(s.end).toBeGreaterThan(s.start);
    const lapsed = subs.filter(
      (s) => s.trial_end !== null && s.end !== null && s.end <= s.trial_end,
    );
    const converted = subs.filter(
      (s) =>
        s.trial_end !== null && s.trial_end < anchor && (s.end === null || s.end > s.trial_end),
    );
    expect(lapsed.length).toBeGreaterThan(5);
    expect(converted.length).toBeGreaterThan(lapsed.length);
    const winBacks = subs.filter((s) => s.id.endsWith("-winback"));
    expect(winBacks.length).toBeGreaterThan(2);
    for (const w of winBacks) {
      const first = subs.find(
        (s) => s.customer === w.customer && s.product === w.product && s !== w,
      );
      expect(first?.end).toBeLessThan(w.start); // one live subscription per product at a time
    }
    // Stories stay on their plan, all along.
    for (const id of Object.values(STORIES)) {
      for (const s of subs.filter((x) => x.customer === id)) {
        expect(s.changes).toEqual([]);
        expect(s.end).toBeNull();
        expect(s.start).toBeLessThan(anchor - 240 * DAY);
      }
    }
  });

  it("has a cost catalog with a price change inside the window", () => {
    const index = compileCostCatalog(
      demo.costCatalog.map((e) => ({ ...e, effective_from: Date.parse(e.effective_from) })),
    );
    const cost = { provider: "openai", model: "gpt-4.1", input_tokens: 1_000_000 };
    const before = costEvent(index, cost, demo.priceChangeAt - HOUR);
    const after = costEvent(index, cost, demo.priceChangeAt + HOUR);
    expect(before.status).toBe("catalog");
    expect(after.nanos).toBeLessThan(before.nanos);
    expect(demo.priceChangeAt).toBeGreaterThan(demo.windowStart + 20 * DAY);
    expect(demo.priceChangeAt).toBeLessThan(anchor - 20 * DAY);
  });
});

describe("demo events", () => {
  it("is deterministic", () => {
    const again = buildDemo({ anchor });
    expect(again.customers).toEqual(demo.customers);
    expect(batchesFor(again, 60, 65).map((b) => b.body)).toEqual(
      batchesFor(demo, 60, 65).map((b) => b.body),
    );
  }, 20_000);

  it("goes on past the window for top-ups, the window itself unchanged", () => {
    const later = buildDemo({ anchor, through: anchor + 2 * DAY });
    // Up to the last three hours (where a small customer's 3-hour report may fold later hours
    // in), the window's events are the very same (checked over its last ten days).
    const windowHours = WINDOW_DAYS * 24 - 3;
    expect(batchesForHours(later, windowHours - 240, windowHours).map((b) => b.body)).toEqual(
      batchesForHours(demo, windowHours - 240, windowHours).map((b) => b.body),
    );
    const extra = batchesForHours(later, WINDOW_DAYS * 24, WINDOW_DAYS * 24 + 48).flatMap(
      (b) => JSON.parse(b.body) as DemoEvent[],
    );
    const customers = new Set(extra.map((e) => e.customer));
    expect(customers.size).toBeGreaterThan(150);
    for (const e of extra) {
      expect(Date.parse(e.time)).toBeGreaterThanOrEqual(anchor);
      expect(Date.parse(e.time)).toBeLessThan(anchor + 2 * DAY);
      expect(NativeEvent.safeParse(e).success).toBe(true);
    }
    // The stories carry on: fading-co stays faded, cogs-jumper stays on the pricey model.
    const last2Days = between(of(STORIES.usage_collapse), anchor - 2 * DAY, anchor);
    const faded = extra.filter((e) => e.customer === STORIES.usage_collapse);
    expect(sum(faded)).toBeLessThan(1.5 * sum(last2Days));
    const jumper = extra.filter((e) => e.customer === STORIES.cogs_jump);
    expect(jumper.length).toBeGreaterThan(0);
    expect(new Set(jumper.map((e) => e.cost.model))).toEqual(new Set(["claude-opus-4-1"]));
  }, 20_000);

  it("a collector's report is sent whole, once: the seed and the next top-up add up to one later build", () => {
    // The seed sends the window [start, anchor); a top-up then sends [anchor, through) from a
    // build carried on to `through`. A small customer's 2- or 4-hour report that the anchor cuts
    // must be neither sent short by the seed (a drop for the detectors) nor lost by the top-up.
    const through = anchor + 6 * HOUR;
    const later = buildDemo({ anchor, through });
    const hours = WINDOW_DAYS * 24;
    const unitsOf = (batches: { body: string }[]) => {
      const out = new Map<string, number>();
      for (const b of batches) {
        for (const e of JSON.parse(b.body) as DemoEvent[]) {
          const k = `${e.customer}|${e.metric}`;
          out.set(k, (out.get(k) ?? 0) + e.quantity);
        }
      }
      return out;
    };
    const seeded = unitsOf(batchesForHours(demo, hours - 48, hours));
    const toppedUp = unitsOf(batchesForHours(later, hours, hours + 6));
    const whole = unitsOf(batchesForHours(later, hours - 48, hours + 6));
    let aggregated = 0;
    for (const [k, units] of whole) {
      expect((seeded.get(k) ?? 0) + (toppedUp.get(k) ?? 0), k).toBeCloseTo(units, 6);
      aggregated++;
    }
    expect(aggregated).toBeGreaterThan(150);
    // No event of the seed's last hours differs from the later build's (none was sent short).
    const last = (d: typeof demo) =>
      batchesForHours(d, hours - 4, hours).flatMap((b) => JSON.parse(b.body) as DemoEvent[]);
    const byId = new Map(last(later).map((e) => [e.id, e.quantity]));
    for (const e of last(demo)) expect(byId.get(e.id), e.id).toBe(e.quantity);
  }, 20_000);

  it("are all valid for POST /v1/events, with unique ids, costed from the catalog", () => {
    expect(events.length).toBe(eventsPerDay(demo).reduce((a, b) => a + b, 0));
    expect(events.length).toBeGreaterThan(150_000);
    expect(eventCounts(demo).total).toBeLessThan(300_000); // the seed's time budget
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
    const index = compileCostCatalog(
      demo.costCatalog.map((e) => ({ ...e, effective_from: Date.parse(e.effective_from) })),
    );
    for (let i = 0; i < events.length; i += 97) {
      const e = events[i] as DemoEvent;
      expect(NativeEvent.safeParse(e).success, e.id).toBe(true);
      // 0 only for an agent session's later LLM calls: the session is counted by its first.
      const inSession = e.metric === "agent_sessions" && e.properties?.session_id !== undefined;
      expect(Number.isInteger(e.quantity) && e.quantity <= 1e9, e.id).toBe(true);
      expect(e.quantity > 0 || inSession, e.id).toBe(true);
      expect(costEvent(index, e.cost, Date.parse(e.time)).status, e.id).toBe("catalog");
    }
    let first = Number.POSITIVE_INFINITY;
    let last = 0;
    for (const e of events) {
      const t = Date.parse(e.time);
      first = Math.min(first, t);
      last = Math.max(last, t);
    }
    expect(first).toBeGreaterThanOrEqual(anchor - WINDOW_DAYS * DAY);
    // The last hour's aggregates at its start, its sessions and endpoint calls inside it.
    expect(last).toBeGreaterThanOrEqual(anchor - HOUR);
    expect(last).toBeLessThan(anchor);
  });

  it("sends agent sessions in detail over the last week, carved out of the hours' usage", () => {
    const week = events.filter((e) => Date.parse(e.time) >= anchor - 7 * DAY);
    const sessions = new Map<string, DemoEvent[]>();
    for (const e of week) {
      const id = e.properties?.session_id;
      if (id) sessions.set(id, [...(sessions.get(id) ?? []), e]);
    }
    expect(sessions.size).toBeGreaterThan(300);
    const sizes: number[] = [];
    for (const [id, run] of sessions) {
      const customers = new Set(run.map((e) => e.customer));
      expect(customers.size, id).toBe(1);
      // One session counted (its first LLM call), tool calls and LLM calls with tokens.
      expect(
        run.filter((e) => e.metric === "agent_sessions" && e.quantity === 1),
        id,
      ).toHaveLength(1);
      expect(run[0]?.metric).toBe("agent_sessions");
      for (const e of run.filter((x) => x.metric === "agent_sessions")) {
        expect(e.cost.provider).toBe("anthropic");
        expect(Number(e.cost.input_tokens) + Number(e.cost.cached_input_tokens)).toBeGreaterThan(0);
      }
      const times = run.map((e) => Date.parse(e.time));
      expect(Math.max(...times) - Math.min(...times)).toBeLessThan(HOUR);
      sizes.push(run.length);
    }
    sizes.sort((a, b) => a - b);
    const at = (q: number) => sizes[Math.floor(q * (sizes.length - 1))] ?? 0;
    // Most short, a few long.
    expect(at(0.5)).toBeLessThan(15);
    expect(at(0.99)).toBeGreaterThan(3 * at(0.5));
    // Endpoints on the REST API's hourly customers.
    const endpoints = new Set(week.map((e) => e.properties?.endpoint).filter(Boolean));
    expect(endpoints).toEqual(new Set(["/v1/enrich", "/v1/lookup", "/v1/batch"]));

    // Carved out of the hours' aggregates, not added: every customer's units per metric and
    // hour are those of the build without detail, and the tokens within a few per cent.
    const hours = WINDOW_DAYS * 24;
    const lastDays = (d: Demo) =>
      batchesForHours(d, hours - 8 * 24, hours).flatMap((b) => JSON.parse(b.body) as DemoEvent[]);
    const totals = (list: DemoEvent[]) => {
      const units = new Map<string, number>();
      let input = 0;
      for (const e of list) {
        const k = `${e.customer}|${e.metric}|${e.time.slice(0, 13)}`;
        units.set(k, (units.get(k) ?? 0) + e.quantity);
        if (e.metric === "agent_sessions") input += Number(e.cost.input_tokens ?? 0);
      }
      return { units, input };
    };
    const withDetail = totals(lastDays(demo));
    const without = totals(lastDays(buildDemo({ anchor, detail: false })));
    expect(withDetail.units).toEqual(without.units);
    expect(withDetail.input / without.input).toBeGreaterThan(0.95);
    expect(withDetail.input / without.input).toBeLessThan(1.05);
  }, 30_000);

  it("sends usage only while a subscription is live, and a few unknown-customer events", () => {
    const all = [
      ...batchesForHours(demo, -HISTORY_DAYS * 24, WINDOW_DAYS * 24),
      ...aggregateBatches(demo),
    ].flatMap((b) => JSON.parse(b.body) as DemoEvent[]);
    expect(all.length).toBe(eventCounts(demo).total);
    expect(new Set(all.map((e) => e.id)).size).toBe(all.length);
    const outside = all.filter(
      (e) =>
        e.customer !== UNKNOWN_CUSTOMER &&
        !demo.subscriptions.some(
          (s) =>
            s.customer === e.customer &&
            s.product === e.product &&
            s.start <= Date.parse(e.time) &&
            Date.parse(e.time) < (s.end ?? Infinity),
        ),
    );
    expect(outside.map((e) => e.id)).toEqual([]);
    const index = compileCostCatalog(
      demo.costCatalog.map((e) => ({ ...e, effective_from: Date.parse(e.effective_from) })),
    );
    for (let i = 0; i < all.length; i += 211) {
      const e = all[i] as DemoEvent;
      expect(NativeEvent.safeParse(e).success, e.id).toBe(true);
      expect(costEvent(index, e.cost, Date.parse(e.time)).status, e.id).toBe("catalog");
      expect(Date.parse(e.time)).toBeGreaterThanOrEqual(demo.historyStart);
    }
    expect(of(UNKNOWN_CUSTOMER).length).toBeGreaterThan(5);
  }, 30_000);

  it("sends each customer's hourly usage before its older aggregates (late for the detectors)", () => {
    // An actor starts detection at its first request's oldest event: the hourly usage goes in
    // earlier requests than any aggregate, and every aggregate is older than it.
    const ids = new Set(customerOrder(demo).slice(0, 60));
    const batches = batchesForCustomers(demo, ids).map((b) => JSON.parse(b.body) as DemoEvent[]);
    const hourly = (e: DemoEvent) => /T\d\d$/.test(e.id);
    const firstHourly = new Map<string, { batch: number; time: number }>();
    batches.forEach((events, i) => {
      for (const e of events) {
        const seen = firstHourly.get(e.customer);
        if (hourly(e)) {
          if (!seen) firstHourly.set(e.customer, { batch: i, time: Date.parse(e.time) });
          else seen.time = Math.min(seen.time, Date.parse(e.time));
        }
      }
    });
    let aggregates = 0;
    batches.forEach((events, i) => {
      for (const e of events) {
        if (hourly(e)) continue;
        aggregates++;
        const first = firstHourly.get(e.customer);
        expect(first?.batch ?? Infinity).toBeLessThan(i);
        expect(Date.parse(e.time)).toBeLessThan(first?.time ?? 0);
      }
    });
    expect(aggregates).toBeGreaterThan(1000);
  });

  it("batches by customer, in time order per customer, within the request limits", () => {
    const encoder = new TextEncoder();
    expect(
      batches.filter((b) => b.count > 1000 || encoder.encode(b.body).length > 1024 * 1024),
    ).toEqual([]);
    const calls = batches.reduce((s, b) => s + b.customers.length, 0);
    expect(calls / batches.length).toBeLessThan(20); // far fewer actor calls than events / 10
    const last = new Map<string, number>();
    const outOfOrder: string[] = [];
    for (const e of events) {
      const t = Date.parse(e.time);
      if (t < (last.get(e.customer) ?? 0)) outOfOrder.push(e.id);
      last.set(e.customer, t);
    }
    expect(outOfOrder).toEqual([]);
  });

  it("is seasonal: business hours above nights, weekdays above weekends", () => {
    const calls = events.filter((e) => e.metric === "api_calls");
    const byHour = new Array(24).fill(0);
    const byDow = new Array(7).fill(0);
    for (const e of calls) {
      const t = new Date(e.time);
      byHour[t.getUTCHours()] += e.quantity;
      byDow[t.getUTCDay()] += e.quantity;
    }
    expect(Math.max(...byHour)).toBeGreaterThan(2 * Math.min(...byHour));
    expect(Math.min(byDow[2], byDow[3], byDow[4])).toBeGreaterThan(
      1.5 * Math.max(byDow[0], byDow[6]),
    );
  });
});

describe("demo stories", () => {
  it("the dunning story suspends one long-standing paying customer with no other story, the same one every run", () => {
    const id = suspendedSubscription(demo, anchor);
    expect(id).toBe(suspendedSubscription(buildDemo({ anchor }), anchor));
    const sub = demo.subscriptions.find((x) => x.id === id);
    expect(sub).toBeDefined();
    expect(sub?.end).toBeNull();
    expect(anchor - (sub?.start ?? anchor)).toBeGreaterThan(180 * DAY);
    expect(Object.values(STORIES)).not.toContain(sub?.customer);
    const plan = demo.plans.find((p) => p.id === sub?.plan);
    expect(plan?.period).toBe("month");
    expect(plan?.components.some((c) => c.type === "flat")).toBe(true);
  });

  it("cogs-jumper moves from a cheap model to a far pricier one ~10 days ago", () => {
    const story = demo.stories.cogs_jump;
    const since = Date.parse(story?.since ?? "");
    expect(anchor - since).toBeGreaterThanOrEqual(9 * DAY);
    expect(anchor - since).toBeLessThanOrEqual(11 * DAY);
    const xs = of(STORIES.cogs_jump);
    const models = (list: DemoEvent[]) =>
      new Set(list.map((e) => `${e.cost.provider}/${e.cost.model}`));
    expect(models(between(xs, 0, since))).toEqual(new Set(["openai/gpt-4o-mini"]));
    expect(models(between(xs, since, anchor))).toEqual(new Set(["anthropic/claude-opus-4-1"]));
    const index = compileCostCatalog(
      demo.costCatalog.map((e) => ({ ...e, effective_from: Date.parse(e.effective_from) })),
    );
    const costPerToken = (list: DemoEvent[]) =>
      Number(list.reduce((s, e) => s + costEvent(index, e.cost, Date.parse(e.time)).nanos, 0n)) /
      sum(list);
    expect(costPerToken(between(xs, since, anchor))).toBeGreaterThan(
      50 * costPerToken(between(xs, since - 10 * DAY, since)),
    );
  });

  it("fading-co's usage collapses by ~80% over the last 9 days", () => {
    const xs = of(STORIES.usage_collapse).filter((e) => e.metric === "agent_sessions");
    const last7 = sum(between(xs, anchor - 7 * DAY, anchor));
    const prev7 = sum(between(xs, anchor - 21 * DAY, anchor - 14 * DAY));
    expect(last7 / prev7).toBeLessThan(0.35);
    expect(sum(between(xs, anchor - 14 * DAY, anchor - 7 * DAY)) / prev7).toBeLessThan(0.75);
  });

  it("quota-racer is on pace for ~1.5× its included quota this period", () => {
    const sub = demo.subscriptions.find((s) => s.customer === STORIES.quota_race);
    const plan = demo.plans.find((p) => p.id === sub?.plan);
    const quota = plan?.components.find((c) => c.type === "included");
    expect(quota?.type).toBe("included");
    const period = periodContaining(sub?.start ?? 0, "month", anchor - HOUR);
    const elapsed = (anchor - period.start) / (period.end - period.start);
    expect(elapsed).toBeGreaterThan(0.4);
    expect(elapsed).toBeLessThan(0.8);
    const used = sum(between(of(STORIES.quota_race), period.start, anchor));
    const pace = used / elapsed / Number(quota?.type === "included" ? quota.quantity : 1);
    expect(pace).toBeGreaterThan(1.3);
    expect(pace).toBeLessThan(1.8);
    const previous = periodContaining(sub?.start ?? 0, "month", period.start - HOUR);
    const before = sum(between(of(STORIES.quota_race), previous.start, previous.end));
    expect(before / Number(quota?.type === "included" ? quota.quantity : 1)).toBeLessThan(0.8);
  });

  it("spiky-labs has sharp hourly spikes in the last week", () => {
    const xs = of(STORIES.usage_spikes);
    const recent = between(xs, anchor - 7 * DAY, anchor);
    const spikes = recent.filter((e) => {
      const hour = new Date(e.time).getUTCHours();
      const sameHour = between(xs, anchor - 28 * DAY, anchor - 7 * DAY)
        .filter((o) => new Date(o.time).getUTCHours() === hour)
        .map((o) => o.quantity)
        .sort((a, b) => a - b);
      const median = sameHour[Math.floor(sameHour.length / 2)] ?? 0;
      return e.quantity > 5 * median;
    });
    expect(spikes.length).toBeGreaterThanOrEqual(2);
    expect(spikes.length).toBeLessThanOrEqual(4);
  });
});

// The cockpit the seeded demo will show, computed here from the same data with the real rating
// (domain/rating.ts) and KPI engine (domain/kpi): every event rated in time order per
// subscription period, daily usage revenue per customer, the subscription histories as the
// API stores them (plan changes end one phase and start the next; another interval restarts
// the billing periods).
describe("demo book: the cockpit lands in plausible ranges", () => {
  const full = buildDemo({ anchor });
  const subs = full.subscriptions;
  const planDefs = new Map(full.plans.map((p) => [p.id, p]));
  const compiled = new Map(
    full.plans.map((p) => [p.id, compilePlan({ ...p, interval: p.period } as PlanDefinition)]),
  );
  const phasesOf = (s: (typeof subs)[number]): Phase[] => {
    const points = [{ plan: s.plan, at: s.start }, ...s.changes];
    let anchorAt = s.start;
    return points.map((p, i) => {
      const prev = points[i - 1];
      if (prev && planDefs.get(prev.plan)?.period !== planDefs.get(p.plan)?.period) anchorAt = p.at;
      return {
        subscription_id: s.id,
        plan_id: p.plan,
        product_id: s.product,
        start: p.at,
        end: points[i + 1]?.at ?? s.end,
        trial_end: s.trial_end,
        anchor: anchorAt,
      };
    });
  };
  const costs = compileCostCatalog(
    full.costCatalog.map((e) => ({ ...e, effective_from: Date.parse(e.effective_from) })),
  );
  const everything = [
    ...batchesForHours(full, -HISTORY_DAYS * 24, full.hours),
    ...aggregateBatches(full),
  ].flatMap((b) => JSON.parse(b.body) as DemoEvent[]);
  everything.sort((x, y) => (x.time < y.time ? -1 : x.time > y.time ? 1 : 0));
  const ledger = new Map<string, Map<string, bigint>>();
  const usageLedger = {
    usage: (sub: string, start: number) => {
      const key = `${sub}|${start}`;
      const m = ledger.get(key) ?? new Map<string, bigint>();
      ledger.set(key, m);
      return m;
    },
  };
  const termsOf = new Map<string, CustomerTerms>();
  for (const c of full.customers) {
    termsOf.set(c.id, {
      known: true,
      phases: subs.filter((s) => s.customer === c.id).flatMap(phasesOf),
      plans: compiled,
      costs,
    });
  }
  const daily = new Map<string, Map<number, bigint>>();
  for (const e of everything) {
    const terms = termsOf.get(e.customer);
    if (!terms) continue;
    const time = Date.parse(e.time);
    const r = rateEvent(terms, usageLedger, { ...e, time, source: "demo" } as UsageEvent);
    if (r.revenue === 0n) continue;
    const days = daily.get(e.customer) ?? new Map<number, bigint>();
    const day = time - (time % DAY);
    days.set(day, (days.get(day) ?? 0n) + r.revenue);
    daily.set(e.customer, days);
  }
  const index = buildKpiIndex({
    plans: full.plans.map((p) =>
      recurringTermsFromPlan({ ...p, interval: p.period } as PlanDefinition),
    ),
    subscriptions: subs.map((s) => ({
      subscription_id: s.id,
      customer_id: s.customer,
      trial_end: s.trial_end,
      phases: phasesOf(s).map((p) => ({ plan_id: p.plan_id, start: p.start, end: p.end })),
    })),
    usage_by_customer: [...daily].map(([customer_id, days]) => {
      const sorted = [...days].sort((x, y) => x[0] - y[0]);
      return {
        customer_id,
        days: sorted.map(([d]) => d),
        revenue: sorted.map(([, v]) => v),
      };
    }),
  });
  const cockpit = cockpitAt(index, anchor);
  if (process.env.DEMO_KPI_DEBUG) {
    const nrrs = cockpit.nrr.series.map((p) => p.value ?? 0);
    console.log(
      JSON.stringify(
        {
          nrr: cockpit.nrr.value,
          nrr_min: Math.min(...nrrs),
          nrr_max: Math.max(...nrrs),
          cohort: cockpit.nrr.cohort_customers,
          churn: cockpit.customer_churn.value,
          churned: cockpit.customer_churn.churned,
          churn_series: cockpit.customer_churn.series.map((p) => p.value?.toFixed(3)).join(" "),
          trials: cockpit.trial_conversion,
          paying: cockpit.arpu.paying_customers,
          active: cockpit.active_subscriptions,
          mrr: Number(cockpit.mrr.value) / 1e9,
          usage: Number(cockpit.mrr.usage) / 1e9,
        },
        (_k, v) => (typeof v === "bigint" ? Number(v) : v),
      ),
    );
  }

  it("NRR 85–130 %, on a 12-month window whose start has a month of usage before it", () => {
    expect(cockpit.nrr.window).toBe("12m");
    expect(cockpit.nrr.cohort_customers).toBeGreaterThan(60);
    expect(cockpit.nrr.value).toBeGreaterThan(0.85);
    expect(cockpit.nrr.value).toBeLessThan(1.3);
  });

  it("monthly customer churn 0.5–8 %, trial conversion 20–85 %", () => {
    expect(cockpit.customer_churn.value).toBeGreaterThan(0.005);
    expect(cockpit.customer_churn.value).toBeLessThan(0.08);
    expect(cockpit.trial_conversion.ended).toBeGreaterThanOrEqual(5);
    expect(cockpit.trial_conversion.value).toBeGreaterThan(0.2);
    expect(cockpit.trial_conversion.value).toBeLessThan(0.85);
    // Every point of the 30-day sparklines is plausible too, not just today's.
    for (const p of cockpit.nrr.series) {
      expect(p.value ?? 0).toBeGreaterThan(0.8);
      expect(p.value ?? 0).toBeLessThan(1.4);
    }
  });

  it("ARR = 12 × MRR and ARPU = MRR ÷ paying customers, on about 200 customers", () => {
    expect(cockpit.arr.value).toBe(12n * cockpit.mrr.value);
    expect(cockpit.arpu.paying_customers).toBeGreaterThan(130); // free plans pay nothing
    expect(cockpit.active_subscriptions.value).toBeGreaterThan(180);
  });
});
