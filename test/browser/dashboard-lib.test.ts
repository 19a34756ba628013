// The dashboard's pure modules (no browser needed): URL ↔ state, plan components in words, the
// cockpit and margin adapters, the policy diff and the SSE parser.

import { describe, expect, it } from "vitest";
import { asOfInstant, cockpitModel, monthsBefore, mrrMonths } from "../../pages/src/lib/cockpit";
import { rankCustomers, rowFromApi, sumRollups, totalsOf } from "../../pages/src/lib/margin";
import { describeComponent, describeTiers, priceScale } from "../../pages/src/lib/plans";
import {
  diff,
  fieldPath,
  leafCount,
  merge,
  parseNumberList,
  setIn,
} from "../../pages/src/lib/policy";
import { SseParser } from "../../pages/src/lib/sse";
import {
  catalogSpec,
  cockpitSpec,
  hrefFor,
  liveSpec,
  marginSpec,
  parseState,
  signalsSpec,
  toSearch,
} from "../../pages/src/lib/url-state";

describe("URL state", () => {
  it("parses, falls back on bad values and round-trips", () => {
    const s = parseState(signalsSpec, "?detector=MarginGuard&status=all&signal=sig_1&sort=bogus");
    expect(s).toEqual({
      detector: "MarginGuard",
      status: "all",
      direction: null,
      customer: null,
      sort: "magnitude",
      signal: "sig_1",
    });
    expect(toSearch(signalsSpec, s)).toBe("?detector=MarginGuard&status=all&signal=sig_1");
    expect(parseState(signalsSpec, toSearch(signalsSpec, s))).toEqual(s);
  });

  it("leaves defaults out and keeps a fixed parameter order", () => {
    const a = parseState(marginSpec, "?customer=acme&days=60");
    const b = parseState(marginSpec, "?days=60&customer=acme&rank=worst");
    expect(hrefFor("/margin", marginSpec, a)).toBe("/margin?days=60&customer=acme");
    expect(hrefFor("/margin", marginSpec, b)).toBe(hrefFor("/margin", marginSpec, a));
    expect(hrefFor("/margin", marginSpec, parseState(marginSpec, ""))).toBe("/margin");
  });

  it("refuses malformed ids, dates and cursors", () => {
    expect(parseState(liveSpec, "?customer=%3Cscript%3E&product=chat-api")).toEqual({
      product: "chat-api",
      customer: null,
      metric: null,
      status: null,
    });
    expect(parseState(cockpitSpec, "?as_of=2026-02-30").as_of).toBeNull();
    expect(parseState(cockpitSpec, "?as_of=2026-02-28").as_of).toBe("2026-02-28");
    expect(parseState(catalogSpec, "?tab=plans&cursor=a%20b").cursor).toBeNull();
  });
});

describe("plan components in words", () => {
  const metrics = {
    input_tokens: { name: "Input tokens", unit: "token" },
    api_calls: { name: "API calls", unit: "call" },
    agent_sessions: { name: "Agent sessions", unit: "session" },
  };
  const ctx = { currency: "USD", period: "month" as const, metrics };

  it("reads graduated tiers as ranges with a per-million price", () => {
    expect(
      describeTiers(
        {
          mode: "graduated",
          tiers: [
            { up_to: 1_000_000, unit_price: "0.000003" },
            { up_to: null, unit_price: "0.0000025" },
          ],
        },
        "token",
        "USD",
      ),
    ).toBe("0–1M tokens: $3.00 / M, then $2.50 / M");
  });

  it("describes every component type", () => {
    expect(describeComponent({ type: "flat", amount: "49" }, ctx)).toBe(
      "Platform fee: $49.00 per month",
    );
    expect(
      describeComponent({ type: "per_unit", metric: "input_tokens", unit_price: "0.000005" }, ctx),
    ).toBe("Input tokens: $5.00 / M tokens");
    expect(
      describeComponent({ type: "per_unit", metric: "agent_sessions", unit_price: "0.30" }, ctx),
    ).toBe("Agent sessions: $0.30 / session");
    expect(
      describeComponent({ type: "package", metric: "api_calls", size: 10_000, price: "4" }, ctx),
    ).toBe("API calls: $4.00 per 10K calls");
    expect(
      describeComponent({ type: "included", metric: "api_calls", quantity: 2_000_000 }, ctx),
    ).toBe("Included: 2M calls of API calls per month");
    expect(describeComponent({ type: "discount", above: 100_000, percent: 8 }, ctx)).toBe(
      "Volume discount: 8% off the usage charge above $100,000.00",
    );
    expect(describeComponent({ type: "minimum", amount: "2000" }, { ...ctx, period: "year" })).toBe(
      "Minimum commitment: $2,000.00 per year",
    );
    expect(
      describeComponent(
        {
          type: "tiered",
          metric: "api_calls",
          mode: "graduated",
          tiers: [
            { up_to: 10_000_000, unit_price: "0.0004", flat_fee: "250" },
            { up_to: null, unit_price: "0.0001" },
          ],
        },
        ctx,
      ),
    ).toBe("API calls (graduated): 0–10M calls: $250.00 + $0.40 / K, then $0.10 / K");
    expect(priceScale([0.3])).toEqual({ factor: 1, label: "" });
  });
});

describe("cockpit adapter", () => {
  it("reads the API's cockpit: money strings, ratios, deltas, series and the donut", () => {
    const m = cockpitModel({
      as_of: "2026-11-27T00:00:00.000Z",
      currency: "USD",
      comparison: { label: "vs 30 days earlier" },
      mrr: {
        value: "1234.500000000",
        committed: "1000",
        usage: "234.5",
        delta: { change: "34.5", change_ratio: 0.0287, label: "vs 30 days earlier" },
        series: [
          { at: "2026-11-26T00:00:00.000Z", value: "1200" },
          { at: "2026-11-27T00:00:00.000Z", value: "1234.5" },
        ],
      },
      customer_churn: { value: 0.05, delta: { change: 0.01 }, series: [] },
      outstanding_invoices: {
        count: 3,
        total: "99.99",
        buckets: { days_31_60: { count: 1, total: "10" } },
      },
      health: { slices: { canceled: 1, active: 5, past_due: 2 }, at_risk_customers: 2 },
    });
    const mrr = m.kpis.find((k) => k.key === "mrr");
    expect(mrr?.value).toBe(1234.5);
    expect(mrr?.delta?.ratio).toBeCloseTo(0.0287);
    expect(mrr?.series).toHaveLength(2);
    expect(mrr?.facts.map((f) => f.value)).toEqual([1000, 234.5]);
    expect(m.kpis.find((k) => k.key === "outstanding_invoices")?.value).toBe(99.99);
    expect(m.kpis.find((k) => k.key === "customer_churn")?.upIsGood).toBe(false);
    expect(m.kpis).toHaveLength(8);
    expect(m.health.map((h) => h.slice)).toEqual(["active", "past_due", "canceled"]);
  });

  it("reads MRR movements with contraction and churn negative", () => {
    const months = mrrMonths({
      periods: [
        {
          label: "2026-10",
          end_mrr: "500",
          totals: {
            new: "100",
            expansion: "20",
            contraction: "-5",
            churn: "-30",
            reactivation: "0",
            net: "85",
          },
        },
      ],
    });
    expect(months[0]?.movements).toEqual({
      new: 100,
      expansion: 20,
      reactivation: 0,
      contraction: -5,
      churn: -30,
    });
    expect(months[0]?.net).toBe(85);
  });

  it("turns an as-of date into the end of that UTC day, never the future", () => {
    const now = Date.parse("2026-11-27T10:00:00Z");
    expect(asOfInstant("2026-11-01", now)).toBe(Date.parse("2026-11-01T23:59:59.999Z"));
    expect(asOfInstant("2026-11-27", now)).toBe(now);
    expect(asOfInstant(null, now)).toBe(now);
    expect(monthsBefore(now, 12)).toBe(Date.parse("2025-11-01T00:00:00Z"));
  });
});

describe("margin adapter", () => {
  it("sums rollups per key and flags customers that cost more than they pay", () => {
    const rows = sumRollups(
      [
        { customer: "a", revenue: "10.00", cost: "4.00", events: 2 },
        { customer: "a", revenue: "5.00", cost: "1.00", events: 1 },
        { customer: "b", revenue: "1.00", cost: "3.50", events: 1 },
      ],
      "customer",
    );
    expect(rows).toEqual([
      expect.objectContaining({
        id: "a",
        revenue: 15,
        cost: 5,
        margin: 10,
        losing: false,
        events: 3,
      }),
      expect.objectContaining({ id: "b", revenue: 1, cost: 3.5, margin: -2.5, losing: true }),
    ]);
    expect(rankCustomers(rows, "worst").map((r) => r.id)).toEqual(["b", "a"]);
    expect(totalsOf(rows)).toEqual({ revenue: 16, cost: 8.5, margin: 7.5, marginPct: 7.5 / 16 });
    expect(rowFromApi({ customer: "c", revenue: "2", cogs: "3" }, "customer")).toMatchObject({
      id: "c",
      margin: -1,
      losing: true,
    });
  });
});

describe("policy editor", () => {
  const defaults = {
    detectors: { anomaly: { k: 2, min_history_days: 7 }, quota_pacing: { thresholds: [80, 100] } },
    ladder: { quota_pacing: { "80": "ALERT", "100": "ALERT" }, churn: "escalate" },
    auto_actions: { ALERT: true, THROTTLE: false },
  };

  it("saves only what differs from the inherited policy", () => {
    const tenant = { detectors: { anomaly: { k: 3 } } };
    const parent = merge(defaults, tenant);
    expect(parent.detectors.anomaly).toEqual({ k: 3, min_history_days: 7 });
    let draft = setIn(parent, ["auto_actions", "THROTTLE"], true);
    draft = setIn(draft, ["ladder", "quota_pacing", "100"], "THROTTLE");
    draft = setIn(
      draft,
      ["detectors", "quota_pacing", "thresholds"],
      parseNumberList("80, 100, 120"),
    );
    expect(diff(draft, parent)).toEqual({
      auto_actions: { THROTTLE: true },
      // The quota map is replaced whole, as the server merges it.
      ladder: { quota_pacing: { "80": "ALERT", "100": "THROTTLE" } },
      detectors: { quota_pacing: { thresholds: [80, 100, 120] } },
    });
    expect(leafCount(diff(draft, parent))).toBe(4);
    expect(diff(parent, parent)).toEqual({});
  });

  it("maps API error paths to fields", () => {
    expect(fieldPath("policy.detectors.anomaly.k")).toBe("detectors.anomaly.k");
    expect(fieldPath("body.policy.gate.burst")).toBe("gate.burst");
  });
});

describe("SSE parser", () => {
  it("splits events across chunks, skips comments and reads retry", () => {
    const p = new SseParser();
    expect(p.push("retry: 2000\nevent: ready\ndata: {}\n")).toEqual([]);
    expect(p.push('\n: heartbeat\n\nevent: accepted\ndata: {"id":')).toEqual([
      { event: "ready", data: "{}" },
    ]);
    expect(p.push('"e1"}\r\n\r\ndata: a\ndata: b\n\n')).toEqual([
      { event: "accepted", data: '{"id":"e1"}' },
      { event: "message", data: "a\nb" },
    ]);
    expect(p.retryMs).toBe(2000);
  });
});
