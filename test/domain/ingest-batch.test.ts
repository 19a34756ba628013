import { describe, expect, it } from "vitest";
import { compileCostCatalog } from "../../domain/costing";
import { foldBatch, monthOf, pacingUpdates, splitBatchAnswer } from "../../domain/ingest-batch";
import { compilePlan } from "../../domain/pricing";
import type { CustomerTerms, UsageLedger } from "../../domain/rating";
import { HOUR_MS } from "../../domain/time";
import type { UsageEvent } from "../../domain/usage-event";

const nov1 = Date.UTC(2026, 10, 1);

function terms(trialEnd: number | null = null): CustomerTerms {
  const plan = compilePlan({
    id: "pro",
    currency: "USD",
    interval: "month",
    components: [
      { type: "included", metric: "calls", quantity: 100 },
      { type: "per_unit", metric: "calls", unit_price: "0.01" },
      { type: "per_unit", metric: "tokens", unit_price: "0.000002" },
    ],
  });
  return {
    known: true,
    phases: [
      {
        subscription_id: "sub_1",
        plan_id: "pro",
        product_id: "api",
        start: nov1,
        end: null,
        trial_end: trialEnd,
        anchor: nov1,
      },
    ],
    plans: new Map([["pro", plan]]),
    costs: compileCostCatalog([
      {
        provider: "anthropic",
        model: "claude",
        input_per_million: "3",
        output_per_million: "15",
        cached_input_per_million: null,
        per_call: null,
        effective_from: nov1,
      },
    ]),
    // calls carry no cost of their own; tokens do (their events name a model).
    costless: new Set(["api\u0000calls"]),
  };
}

function ledger(): UsageLedger & { map: Map<string, Map<string, bigint>> } {
  const map = new Map<string, Map<string, bigint>>();
  return {
    map,
    usage: (s, p) => {
      const key = `${s}|${p}`;
      let u = map.get(key);
      if (!u) {
        u = new Map();
        map.set(key, u);
      }
      return u;
    },
  };
}

const event = (over: Partial<UsageEvent> = {}): UsageEvent => ({
  id: `e${Math.random()}`,
  customer: "acme",
  product: "api",
  metric: "calls",
  quantity: 1,
  time: nov1 + 10 * HOUR_MS + 60_000,
  source: "api",
  ...over,
});

describe("foldBatch", () => {
  it("sums the usage made with each customer API key per (day, key, product, metric), exactly", () => {
    const events = [
      event({ id: "k1", quantity: 1.000001, api_key_id: "ck_a" }),
      event({ id: "k2", quantity: 2, api_key_id: "ck_a", time: nov1 + 23 * HOUR_MS }),
      event({ id: "k3", quantity: 4, api_key_id: "ck_a", time: nov1 + 24 * HOUR_MS }),
      event({ id: "k4", quantity: 8, api_key_id: "ck_b" }),
      event({ id: "k5", quantity: 16 }),
    ];
    const fold = foldBatch(events, terms(), ledger());
    expect(fold.keyUsage.map((u) => [u.day - nov1, u.key_id, u.metric, u.units, u.events])).toEqual(
      [
        [0, "ck_a", "calls", 3_000_001n, 2],
        [24 * HOUR_MS, "ck_a", "calls", 4_000_000n, 1],
        [0, "ck_b", "calls", 8_000_000n, 1],
      ],
    );
  });

  it("rates marginally across the batch: the included quota is used up, then each call pays", () => {
    const events = Array.from({ length: 3 }, (_, i) => event({ id: `c${i}`, quantity: 60 }));
    const fold = foldBatch(events, terms(), ledger());
    // 60 free, 40 free + 20 × $0.01, 60 × $0.01 (money in nanos).
    expect(fold.records.map((r) => r.revenue)).toEqual([0n, 200_000_000n, 600_000_000n]);
    expect(fold.records.map((r) => r.quantity)).toEqual([60_000_000n, 60_000_000n, 60_000_000n]);
    expect(fold.periods).toEqual([["sub_1", nov1]]);
  });

  it("sums one delta per (hour, product, metric), and the deltas add up to the records", () => {
    const events = [
      event({ id: "a", quantity: 2 }),
      event({ id: "b", quantity: 3, time: nov1 + 10 * HOUR_MS + 120_000 }),
      event({ id: "c", quantity: 5, time: nov1 + 11 * HOUR_MS }),
      event({
        id: "d",
        metric: "tokens",
        quantity: 1_000,
        cost: { provider: "anthropic", model: "claude", input_tokens: 1_000 },
      }),
    ];
    const fold = foldBatch(events, terms(), ledger());
    expect(fold.deltas.map((d) => [d.hour - nov1, d.metric, d.units, d.events, d.cost])).toEqual([
      [10 * HOUR_MS, "calls", 5_000_000n, 2, 0n],
      [11 * HOUR_MS, "calls", 5_000_000n, 1, 0n],
      [10 * HOUR_MS, "tokens", 1_000_000_000n, 1, 3_000_000n],
    ]);
    const sum = (xs: bigint[]) => xs.reduce((a, b) => a + b, 0n);
    expect(sum(fold.deltas.map((d) => d.revenue))).toBe(sum(fold.records.map((r) => r.revenue)));
    expect(fold.records[3]).toMatchObject({
      provider: "anthropic",
      model: "claude",
      input_tokens: 1_000,
    });
  });

  it("cuts each delta by provider and model ('' without one), and the facets sum to it", () => {
    const llm = (id: string, quantity: number, provider?: string, model?: string) =>
      event({
        id,
        metric: "tokens",
        quantity,
        cost: {
          ...(provider ? { provider } : {}),
          ...(model ? { model } : {}),
          input_tokens: quantity,
        },
      });
    const events = [
      llm("a", 1_000, "anthropic", "claude"),
      llm("b", 2_000, "openai", "gpt"),
      llm("c", 3_000, "anthropic", "claude"),
      event({ id: "d", quantity: 7 }),
      event({ id: "e", quantity: 1, time: nov1 + 11 * HOUR_MS }),
    ];
    const fold = foldBatch(events, terms(), ledger());
    expect(
      fold.facets.map((f) => [f.hour - nov1, f.metric, f.provider, f.model, f.units, f.events]),
    ).toEqual([
      [10 * HOUR_MS, "tokens", "anthropic", "claude", 4_000_000_000n, 2],
      [10 * HOUR_MS, "tokens", "openai", "gpt", 2_000_000_000n, 1],
      [10 * HOUR_MS, "calls", "", "", 7_000_000n, 1],
      [11 * HOUR_MS, "calls", "", "", 1_000_000n, 1],
    ]);
    for (const d of fold.deltas) {
      const mine = fold.facets.filter(
        (f) => f.hour === d.hour && f.product === d.product && f.metric === d.metric,
      );
      const sum = (pick: (f: (typeof mine)[number]) => bigint) =>
        mine.reduce((a, f) => a + pick(f), 0n);
      expect([sum((f) => f.units), sum((f) => f.revenue), sum((f) => f.cost)]).toEqual([
        d.units,
        d.revenue,
        d.cost,
      ]);
      expect(mine.reduce((n, f) => n + f.events, 0)).toBe(d.events);
      expect(mine.reduce((n, f) => n + f.uncosted_events, 0)).toBe(d.uncosted_events);
    }
    expect(fold.deltas).toHaveLength(3);
  });

  it("folds the events that name a session per (hour, product, session), the records' sums", () => {
    const at = (minutes: number) => nov1 + 10 * HOUR_MS + minutes * 60_000;
    const call = (id: string, session: unknown, minutes: number, over: Partial<UsageEvent> = {}) =>
      event({
        id,
        time: at(minutes),
        properties: { session_id: session as string, endpoint: "/v1/agent" },
        ...over,
      });
    const events = [
      call("a", "s1", 5, {
        metric: "tokens",
        quantity: 1_000,
        cost: {
          provider: "anthropic",
          model: "claude",
          input_tokens: 800,
          cached_input_tokens: 200,
        },
      }),
      call("b", "s1", 1, { quantity: 3 }),
      call("c", "s1", 65, { metric: "tokens", quantity: 10, cost: { output_tokens: 10 } }),
      call("d", "s2", 2),
      // No session: none at all, an empty one, a number.
      event({ id: "e", time: at(3) }),
      call("f", "", 4),
      call("g", 42, 4),
    ];
    const fold = foldBatch(events, terms(), ledger());
    expect(
      fold.sessions.map((s) => [
        s.hour - nov1,
        s.session_id,
        s.events,
        s.input_tokens,
        s.output_tokens,
        s.cached_input_tokens,
        s.first_at - nov1 - 10 * HOUR_MS,
        s.last_at - nov1 - 10 * HOUR_MS,
      ]),
    ).toEqual([
      [10 * HOUR_MS, "s1", 2, 800n, 0n, 200n, 60_000, 5 * 60_000],
      [11 * HOUR_MS, "s1", 1, 0n, 10n, 0n, 65 * 60_000, 65 * 60_000],
      [10 * HOUR_MS, "s2", 1, 0n, 0n, 0n, 2 * 60_000, 2 * 60_000],
    ]);
    for (const s of fold.sessions) {
      const mine = fold.records.filter(
        (r) =>
          r.properties?.session_id === s.session_id &&
          r.time - (r.time % HOUR_MS) === s.hour &&
          r.product === s.product,
      );
      const sum = (pick: (r: (typeof mine)[number]) => bigint) =>
        mine.reduce((a, r) => a + pick(r), 0n);
      expect([sum((r) => r.quantity), sum((r) => r.revenue), sum((r) => r.cost)]).toEqual([
        s.units,
        s.revenue,
        s.cost,
      ]);
    }
  });

  it("records the batch's time span, its months with source ids, and the paced metrics", () => {
    const dec = Date.UTC(2026, 11, 1);
    const events = [
      event({ id: "late-nov", time: dec - 1 }),
      event({ id: "early-dec", time: dec + 5 }),
      event({ id: "nov", time: nov1 + 1 }),
    ];
    const fold = foldBatch(events, terms(), ledger());
    expect(fold.minTime).toBe(nov1 + 1);
    expect(fold.maxTime).toBe(dec + 5);
    expect([...fold.months]).toEqual([
      [nov1, { at: dec - 1, ids: ["late-nov", "nov"] }],
      [dec, { at: dec + 5, ids: ["early-dec"] }],
    ]);
    expect(fold.paced.map((p) => [p.periodStart, p.metric, p.at, p.ids])).toEqual([
      [nov1, "calls", dec - 1, ["late-nov", "nov"]],
      [dec, "calls", dec + 5, ["early-dec"]],
    ]);
  });

  it("keeps trial usage free and out of the ledger and pacing", () => {
    const l = ledger();
    const fold = foldBatch([event({ quantity: 500 })], terms(nov1 + 30 * 86_400_000), l);
    expect(fold.records[0]).toMatchObject({ revenue: 0n, flags: "trial" });
    expect(fold.periods).toEqual([]);
    expect(fold.paced).toEqual([]);
    expect(l.map.size).toBe(0);
  });

  it("returns each event's rating for the live stream only when asked", () => {
    const e = event({ id: "x", quantity: 150 });
    expect(foldBatch([e], terms(), ledger()).rated).toBeUndefined();
    expect(foldBatch([e], terms(), ledger(), { detail: true }).rated).toEqual([
      expect.objectContaining({
        id: "x",
        revenue: "0.5",
        cost_status: "none",
        provider: null,
        model: null,
        flags: [],
      }),
    ]);
  });

  it("notes the stored events a sender should hear about: uncosted with the reason, unknown customer", () => {
    const fold = foldBatch(
      [
        event({ id: "calls" }),
        event({ id: "bare", metric: "tokens", quantity: 9 }),
        event({
          id: "priced",
          metric: "tokens",
          quantity: 9,
          cost: { provider: "Anthropic", model: "claude", input_tokens: 9 },
        }),
        event({
          id: "gpt",
          metric: "tokens",
          quantity: 9,
          cost: { provider: "openai", model: "gpt-9", input_tokens: 9 },
        }),
      ],
      terms(),
      ledger(),
      { detail: true },
    );
    expect(fold.noted).toEqual([
      { id: "bare", flags: ["uncosted"], reason: expect.stringMatching(/^no cost given/) },
      { id: "gpt", flags: ["uncosted"], reason: "no catalog price for openai/gpt-9" },
    ]);
    expect(fold.records.map((r) => [r.id, r.cost_status, r.flags])).toEqual([
      ["calls", "none", ""],
      ["bare", "uncosted", "uncosted"],
      ["priced", "catalog", ""],
      ["gpt", "uncosted", "uncosted"],
    ]);
    // The hour's delta counts the uncosted events and their revenue (the margin pages' share).
    expect(fold.deltas.map((d) => [d.metric, d.events, d.uncosted_events])).toEqual([
      ["calls", 1, 0],
      ["tokens", 3, 2],
    ]);
    const tokens = fold.deltas.find((d) => d.metric === "tokens");
    const uncostedRevenue = fold.records
      .filter((r) => r.cost_status === "uncosted")
      .reduce((s, r) => s + r.revenue, 0n);
    expect(tokens?.uncosted_revenue).toBe(uncostedRevenue);
    expect(uncostedRevenue).toBeGreaterThan(0n);
    // The live stream sees provider and model, normalised.
    expect(fold.rated?.[2]).toMatchObject({ provider: "anthropic", model: "claude" });
    const unknown = foldBatch(
      [event({ id: "u" })],
      { ...terms(), known: false, phases: [] },
      ledger(),
    );
    expect(unknown.noted).toEqual([{ id: "u", flags: ["unknown_customer"] }]);
  });

  it("pacing reads period-to-date usage after the batch, for metrics with an included quota", () => {
    const l = ledger();
    const t = terms();
    const fold = foldBatch(
      [event({ quantity: 40 }), event({ metric: "tokens", quantity: 9 })],
      t,
      l,
    );
    const updates = pacingUpdates(t, fold.paced, (s, p, m) => l.usage(s, p).get(m) ?? 0n);
    // tokens have no included quota: not paced.
    expect(updates).toEqual([
      expect.objectContaining({ metric: "calls", usage: 40, quota: 100, subscription_id: "sub_1" }),
    ]);
  });

  it("monthOf is the UTC calendar month", () => {
    expect(monthOf(Date.UTC(2026, 1, 28, 23, 59))).toEqual({
      start: Date.UTC(2026, 1, 1),
      end: Date.UTC(2026, 2, 1),
    });
  });
});

describe("splitBatchAnswer", () => {
  const ids = (...list: string[]) => list.map((id) => ({ id }));
  it("gives each coalesced request what the actor would have answered it alone, in order", () => {
    const parts = [ids("a", "b", "a"), ids("b", "c", "d"), ids("e")];
    const answers = splitBatchAnswer(parts, {
      accepted: 3,
      duplicates: 3,
      known: ["e"],
      refused: [{ id: "d", reason: "past the day's bound" }],
      noted: [
        { id: "b", flags: ["uncosted"], reason: "no catalog price for x/y" },
        { id: "c", flags: ["unknown_customer"] },
      ],
    });
    expect(answers).toEqual([
      {
        accepted: 2,
        duplicates: 1,
        refused: [],
        rated: [],
        // b was stored from the first request: its note is the first request's, not the
        // second's (whose b is a duplicate).
        noted: [{ id: "b", flags: ["uncosted"], reason: "no catalog price for x/y" }],
      },
      {
        accepted: 1,
        duplicates: 1,
        refused: [{ id: "d", reason: "past the day's bound" }],
        rated: [],
        noted: [{ id: "c", flags: ["unknown_customer"] }],
      },
      { accepted: 0, duplicates: 1, refused: [], rated: [], noted: [] },
    ]);
    const total = answers.reduce((n, a) => n + a.accepted, 0);
    expect(total).toBe(3);
  });
});
