import { describe, expect, it } from "vitest";
import {
  addSums,
  contributionMargin,
  contributionShare,
  customerPnl,
  dailyTrend,
  dayStart,
  feeDays,
  marginPct,
  type PnlSums,
  pnlOf,
  rankBy,
  recognisedFees,
  sortKey,
  trendsByKey,
  windowDays,
  zeroSums,
} from "../../domain/margin";
import { toNanos } from "../../domain/money";
import { DAY_MS } from "../../domain/time";

const T = (s: string) => Date.parse(s);
const $ = (usd: string) => toNanos(usd);
const sums = (usage: string, fees: string, cost: string, events = 1): PnlSums => ({
  usage: $(usage),
  fees: $(fees),
  cost: $(cost),
  events,
});

describe("P&L of sums", () => {
  it("revenue is usage + fees; contribution margin is revenue − COGS; margin % to 2 decimals", () => {
    const p = pnlOf(sums("80", "20", "25.55", 7));
    expect(p.revenue).toBe($("100"));
    expect(p.contribution_margin).toBe($("74.45"));
    expect(p.margin_pct).toBe(74.45);
    expect(p.usage_margin).toBe($("54.45"));
    expect(p.events).toBe(7);
    expect(p.costing_more_than_paying).toBe(false);
  });

  it("has no margin % without revenue and flags a customer costing more than it pays", () => {
    const p = pnlOf(sums("0", "0", "3"));
    expect(p.margin_pct).toBeNull();
    expect(marginPct(sums("0", "0", "3"))).toBeNull();
    expect(p.contribution_margin).toBe(-$("3"));
    expect(p.costing_more_than_paying).toBe(true);
    // Equal cost and revenue is not "more than it pays".
    expect(pnlOf(sums("3", "0", "3")).costing_more_than_paying).toBe(false);
  });

  it("rounds margin % half away from zero at the second decimal, negative margins included", () => {
    expect(marginPct(sums("3", "0", "1"))).toBe(66.67);
    expect(marginPct(sums("1", "0", "3"))).toBe(-200);
    expect(marginPct(sums("3", "0", "4"))).toBe(-33.33);
  });

  it("shares a row's contribution margin of the total, to 4 decimals; none of a zero total", () => {
    expect(contributionShare($("1"), $("3"))).toBe(0.3333);
    expect(contributionShare($("2"), $("3"))).toBe(0.6667);
    expect(contributionShare($("1"), 0n)).toBeNull();
  });

  it("adds sums in place", () => {
    const s = zeroSums();
    addSums(s, sums("1", "2", "0.5", 2));
    addSums(s, { fees: $("1") });
    expect(s).toEqual({ usage: $("1"), fees: $("3"), cost: $("0.5"), events: 2 });
    expect(contributionMargin(s)).toBe($("3.5"));
  });
});

describe("ranking", () => {
  const rows = [
    { id: "a", s: sums("10", "0", "2") }, // cm 8, 80 %
    { id: "b", s: sums("100", "0", "60") }, // cm 40, 40 %
    { id: "c", s: sums("0", "0", "5") }, // cm −5, no margin %
    { id: "d", s: sums("10", "0", "2") }, // ties with a
  ];
  const rank = (sort: Parameters<typeof sortKey>[0], order: "asc" | "desc") =>
    rankBy(
      rows,
      sort,
      order,
      (r) => r.s,
      (r) => r.id,
    ).map((r) => r.id);

  it("ranks by contribution margin, ties by id ascending in either order", () => {
    expect(rank("contribution_margin", "desc")).toEqual(["b", "a", "d", "c"]);
    expect(rank("contribution_margin", "asc")).toEqual(["c", "a", "d", "b"]);
  });

  it("ranks by margin %, a row without revenue last when descending", () => {
    expect(rank("margin_pct", "desc")).toEqual(["a", "d", "b", "c"]);
    expect(sortKey("margin_pct", rows[2]?.s as PnlSums)).toBe(Number.NEGATIVE_INFINITY);
  });

  it("ranks by revenue, COGS and usage margin", () => {
    expect(rank("revenue", "desc")).toEqual(["b", "a", "d", "c"]);
    expect(rank("cogs", "asc")).toEqual(["a", "d", "c", "b"]);
    expect(rank("usage_margin", "desc")).toEqual(["b", "a", "d", "c"]);
  });
});

describe("windows and daily trends", () => {
  const now = T("2026-03-15T13:30:00Z");
  const today = dayStart(now);

  it("a window of n days ends today and starts n − 1 days before", () => {
    expect(windowDays(30, now)).toEqual({ from: today - 29 * DAY_MS, today });
  });

  it("fills one point per day, oldest first, zero where there is no data", () => {
    const points = new Map([[today - DAY_MS, sums("5", "1", "2")]]);
    const trend = dailyTrend(points, today, 3);
    expect(trend.map((p) => p.day)).toEqual([today - 2 * DAY_MS, today - DAY_MS, today]);
    expect(trend[0]).toEqual({
      day: today - 2 * DAY_MS,
      revenue: 0n,
      cogs: 0n,
      contribution_margin: 0n,
    });
    expect(trend[1]).toEqual({
      day: today - DAY_MS,
      revenue: $("6"),
      cogs: $("2"),
      contribution_margin: $("4"),
    });
    expect(dailyTrend(undefined, today, 2).every((p) => p.revenue === 0n)).toBe(true);
  });

  it("groups trend rows by key", () => {
    const byKey = trendsByKey([
      { day: today, key: "chat", sums: sums("1", "0", "0") },
      { day: today, key: "search", sums: sums("2", "0", "0") },
      { day: today - DAY_MS, key: "chat", sums: sums("3", "0", "0") },
    ]);
    expect([...byKey.keys()]).toEqual(["chat", "search"]);
    expect(byKey.get("chat")?.get(today - DAY_MS)?.usage).toBe($("3"));
  });
});

// A monthly plan with a $310 flat fee: in a 31-day month, $10 a day.
const planOf = (id: string) =>
  id === "flat" ? { interval: "month" as const, flat: $("310") } : undefined;
const sub = (customer: string, product: string, start: string) => ({
  subscription_id: `sub-${customer}-${product}`,
  customer_id: customer,
  product_id: product,
  trial_end: null,
  phases: [{ plan_id: "flat", start: T(start), end: null, anchor: T(start) }],
});

describe("recognised flat fees", () => {
  it("recognises a monthly fee day by day and sums it per trailing window", () => {
    // Since March 1st, to March 15th 12:00: 14.5 days at $10.
    const now = T("2026-03-15T12:00:00Z");
    const fees = recognisedFees(
      [sub("acme", "chat", "2026-03-01T00:00:00Z")],
      planOf,
      () => "flat",
      now,
    );
    expect(fees.windows.map((w) => [w.window, w.fee])).toEqual([
      [30, $("145")],
      [60, $("145")],
      [90, $("145")],
    ]);
    expect(fees.windows[0]).toMatchObject({ customer: "acme", product: "chat", segment: "flat" });
    expect(fees.days).toHaveLength(15);
    expect(fees.days.at(-1)).toEqual({
      day: dayStart(now),
      product: "chat",
      segment: "flat",
      fee: $("5"),
    });
  });

  it("counts a day in a window only when it is within its last n days", () => {
    const now = T("2026-03-15T00:00:00Z");
    const fees = recognisedFees(
      [sub("acme", "chat", "2025-11-01T00:00:00Z")],
      planOf,
      () => undefined,
      now,
    );
    const [w30, w60, w90] = fees.windows.map((w) => w.fee);
    expect(w30).toBeLessThan(w60 as bigint);
    expect(w60).toBeLessThan(w90 as bigint);
    // Without a segment: null on the window rows, '' on the day rows.
    expect(fees.windows[0]?.segment).toBeNull();
    expect(fees.days[0]?.segment).toBe("");
    // 90 days back from today (today itself has nothing before 00:00).
    expect(fees.days[0]?.day).toBe(dayStart(now) - 89 * DAY_MS);
  });

  it("sums the fee days of one customer with its usage per day and product", () => {
    const now = T("2026-03-03T00:00:00Z");
    const from = T("2026-03-01T00:00:00Z");
    const fees = [...feeDays([sub("acme", "chat", "2026-03-01T00:00:00Z")], planOf, from, now)];
    expect(fees.map((f) => f.fee)).toEqual([$("10"), $("10")]);
    const p = customerPnl(
      [
        { day: from, product: "chat", sums: sums("4", "0", "1", 3) },
        { day: from, product: "search", sums: sums("1", "0", "2", 1) },
      ],
      fees,
    );
    expect(p.total).toEqual({ usage: $("5"), fees: $("20"), cost: $("3"), events: 4 });
    expect(p.byProduct.get("chat")).toEqual({
      usage: $("4"),
      fees: $("20"),
      cost: $("1"),
      events: 3,
    });
    expect(p.byDay.get(from + DAY_MS)).toEqual({ usage: 0n, fees: $("10"), cost: 0n, events: 0 });
  });
});
