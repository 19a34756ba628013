import { describe, expect, it } from "vitest";
import { periodContaining } from "../../domain/billing-period";
import { compileCostCatalog, costEvent } from "../../domain/costing";
import { type PlanDefinition, validatePlan } from "../../domain/pricing";
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
}
interface Demo {
  anchor: number;
  windowStart: number;
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
  }[];
  stories: Record<string, { customer?: string; since?: string }>;
}
interface Batch {
  body: string;
  count: number;
  customers: string[];
}
const {
  buildDemo,
  batchesFor,
  batchesForHours,
  eventsPerDay,
  STORIES,
  UNKNOWN_CUSTOMER,
  WINDOW_DAYS,
} = demoData as {
  buildDemo: (o: { anchor: number; seed?: string; through?: number }) => Demo;
  batchesFor: (demo: Demo, fromDay: number, toDay: number) => Batch[];
  batchesForHours: (demo: Demo, fromHour: number, toHour: number) => Batch[];
  eventsPerDay: (demo: Demo) => number[];
  STORIES: Record<"cogs_jump" | "usage_collapse" | "quota_race" | "usage_spikes", string>;
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
  it("has ~200 customers with unique valid ids, segments and regions", () => {
    expect(demo.customers).toHaveLength(200);
    const ids = new Set(demo.customers.map((c) => c.id));
    expect(ids.size).toBe(200);
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
    expect(subs.every((s) => s.start < anchor && s.start > anchor - 130 * DAY)).toBe(true);
    expect(subs.filter((s) => s.trial_end !== null && s.trial_end > anchor).length).toBeGreaterThan(
      5,
    );
    expect(subs.filter((s) => planById.get(s.plan)?.period === "year").length).toBeGreaterThan(5);
    const perCustomer = new Map<string, string[]>();
    for (const s of subs)
      perCustomer.set(s.customer, [...(perCustomer.get(s.customer) ?? []), s.product]);
    const multi = [...perCustomer.values()].filter((ps) => ps.length > 1);
    expect(multi.length).toBeGreaterThan(3);
    for (const ps of multi) expect(new Set(ps).size).toBe(ps.length); // one per product
    expect(new Set(subs.map((s) => s.plan)).size).toBe(demo.plans.length); // every plan used
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
    expect(demo.priceChangeAt).toBeGreaterThan(demo.windowStart + 30 * DAY);
    expect(demo.priceChangeAt).toBeLessThan(anchor - 30 * DAY);
  });
});

describe("demo events", () => {
  it("is deterministic", () => {
    const again = buildDemo({ anchor });
    expect(again.customers).toEqual(demo.customers);
    expect(batchesFor(again, 60, 65).map((b) => b.body)).toEqual(
      batchesFor(demo, 60, 65).map((b) => b.body),
    );
  });

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

  it("are all valid for POST /v1/events, with unique ids, costed from the catalog", () => {
    expect(events.length).toBe(eventsPerDay(demo).reduce((a, b) => a + b, 0));
    expect(events.length).toBeGreaterThan(150_000);
    expect(events.length).toBeLessThan(350_000); // the seed's time budget
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
    const index = compileCostCatalog(
      demo.costCatalog.map((e) => ({ ...e, effective_from: Date.parse(e.effective_from) })),
    );
    for (let i = 0; i < events.length; i += 97) {
      const e = events[i] as DemoEvent;
      expect(NativeEvent.safeParse(e).success, e.id).toBe(true);
      expect(Number.isInteger(e.quantity) && e.quantity > 0 && e.quantity <= 1e9).toBe(true);
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
    expect(last).toBe(anchor - HOUR);
  });

  it("starts each customer's usage at its subscription, and sends a few unknown-customer events", () => {
    const starts = new Map<string, number>();
    for (const s of demo.subscriptions) starts.set(`${s.customer}/${s.product}`, s.start);
    const early = events.filter(
      (e) =>
        e.customer !== UNKNOWN_CUSTOMER &&
        !(Date.parse(e.time) >= (starts.get(`${e.customer}/${e.product}`) ?? Infinity)),
    );
    expect(early.map((e) => e.id)).toEqual([]);
    expect(of(UNKNOWN_CUSTOMER).length).toBeGreaterThan(5);
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
