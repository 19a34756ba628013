import { describe, expect, it } from "vitest";
import {
  buildKpiIndex,
  classifyMovement,
  type KpiInput,
  type MovementPeriod,
  movementsBetween,
  mrrMovements,
  type SubscriptionHistory,
} from "../../../domain/kpi";
import { toNanos } from "../../../domain/money";
import { DAY, d, sub, usd } from "./fixtures";

const plans: KpiInput["plans"] = [
  { plan_id: "basic", interval: "month", committed: toNanos(100) },
  { plan_id: "pro", interval: "month", committed: toNanos(300) },
  { plan_id: "usage", interval: "month", committed: 0n },
];

/** label → "type:change" of each row, for months with movements. */
const summary = (periods: MovementPeriod[]) =>
  Object.fromEntries(
    periods
      .filter((p) => p.rows.length > 0)
      .map((p) => [p.label, p.rows.map((r) => `${r.customer_id}:${r.type}:${usd(r.change)}`)]),
  );

const months = (subscriptions: SubscriptionHistory[], basis?: "total" | "committed") =>
  mrrMovements(buildKpiIndex({ plans, subscriptions }), {
    from: d("2025-01-01"),
    to: d("2025-07-01"),
    ...(basis ? { basis } : {}),
  });

describe("MRR movements per month", () => {
  it("new: the first month start at which the customer pays", () => {
    // starts Jan 10 → MRR at Feb 1 is 100, at Jan 1 it was 0 → new +100 in 2025-02
    expect(summary(months([sub("s1", "c", [["basic", "2025-01-10", null]])]))).toEqual({
      "2025-02": ["c:new:100.00"],
    });
  });

  it("mid-month upgrade: expansion in the month after it", () => {
    // basic from Dec 1; upgrade to pro on Feb 15 → MRR Feb 1 = 100, Mar 1 = 300: +200 in 2025-03
    const p = months([
      sub("s1", "c", [
        ["basic", "2024-12-01", "2025-02-15"],
        ["pro", "2025-02-15", null],
      ]),
    ]);
    expect(summary(p)).toEqual({ "2025-03": ["c:expansion:200.00"] });
    const mar = p.find((x) => x.label === "2025-03");
    expect(mar && [usd(mar.start_mrr), usd(mar.end_mrr), usd(mar.totals.expansion)]).toEqual([
      "100.00",
      "300.00",
      "200.00",
    ]);
  });

  it("downgrade: contraction (signed negative)", () => {
    // pro → basic on Feb 15: 300 → 100 = −200 in 2025-03
    const p = months([
      sub("s1", "c", [
        ["pro", "2024-12-01", "2025-02-15"],
        ["basic", "2025-02-15", null],
      ]),
    ]);
    expect(summary(p)).toEqual({ "2025-03": ["c:contraction:-200.00"] });
    expect(p.find((x) => x.label === "2025-03")?.counts.contraction).toBe(1);
  });

  it("cancel: churn of the whole MRR", () => {
    // canceled Feb 15: 100 at Feb 1, 0 at Mar 1 → churn −100 in 2025-03
    const p = months([sub("s1", "c", [["basic", "2024-12-01", "2025-02-15"]])]);
    expect(summary(p)).toEqual({ "2025-03": ["c:churn:-100.00"] });
  });

  it("a cancel effective exactly on the 1st churns in that month (the interval is half-open)", () => {
    // end Mar 1 00:00 → not live at the Mar 1 sample → churn in 2025-03
    expect(summary(months([sub("s1", "c", [["basic", "2024-12-01", "2025-03-01"]])]))).toEqual({
      "2025-03": ["c:churn:-100.00"],
    });
  });

  it("win-back: reactivation, not new, for a customer who paid before", () => {
    // s1 Dec 1 – Feb 15 (churn in Mar), s2 from Apr 10 → 0 at Apr 1, 100 at May 1: reactivation
    const p = months([
      sub("s1", "c", [["basic", "2024-12-01", "2025-02-15"]]),
      sub("s2", "c", [["basic", "2025-04-10", null]]),
    ]);
    expect(summary(p)).toEqual({
      "2025-03": ["c:churn:-100.00"],
      "2025-05": ["c:reactivation:100.00"],
    });
  });

  it("looks back before `from` to tell new from reactivation", () => {
    // paid in 2024 only, comes back in Feb 2025: the 2025 window alone has no paying month before
    const p = months([
      sub("s1", "c", [["basic", "2024-03-01", "2024-06-01"]]),
      sub("s2", "c", [["pro", "2025-01-20", null]]),
    ]);
    expect(summary(p)).toEqual({ "2025-02": ["c:reactivation:300.00"] });
  });

  it("start MRR + Σ movements = end MRR, per month and in total", () => {
    // Feb 1: a 100, b 300            → start of 2025-03 = 400
    // Mar 1: a 300 (+200), b 0 (−300), c 100 (new +100) → 300 + 100 = 400; net = 0
    const p = months([
      sub("s1", "a", [
        ["basic", "2025-01-01", "2025-02-10"],
        ["pro", "2025-02-10", null],
      ]),
      sub("s2", "b", [["pro", "2025-01-01", "2025-02-20"]]),
      sub("s3", "c", [["basic", "2025-02-05", null]]),
    ]);
    const mar = p.find((x) => x.label === "2025-03");
    expect(
      mar && {
        start: usd(mar.start_mrr),
        end: usd(mar.end_mrr),
        net: usd(mar.totals.net),
        new: usd(mar.totals.new),
        expansion: usd(mar.totals.expansion),
        churn: usd(mar.totals.churn),
      },
    ).toEqual({
      start: "400.00",
      end: "400.00",
      net: "0.00",
      new: "100.00",
      expansion: "200.00",
      churn: "-300.00",
    });
    for (const x of p) expect(x.start_mrr + x.totals.net).toBe(x.end_mrr);
    for (let i = 1; i < p.length; i++) expect(p[i]?.start_mrr).toBe(p[i - 1]?.end_mrr);
  });

  it("the total basis includes usage MRR; the committed basis ignores it", () => {
    // usage-only plan: 10/day from Jan 15 → Feb 1 usage MRR = 17 days × 10 = 170 (new),
    // Mar 1 = 30 × 10 = 300 (expansion +130)
    const subscriptions = [sub("s1", "u", [["usage", "2025-01-01", null]])];
    const usage = Array.from({ length: 120 }, (_, i) => ({
      customer_id: "u",
      day: d("2025-01-15") + i * DAY,
      revenue: toNanos(10),
    }));
    const index = buildKpiIndex({ plans, subscriptions, usage });
    const total = mrrMovements(index, { from: d("2025-02-01"), to: d("2025-03-01") });
    expect(summary(total)).toEqual({
      "2025-02": ["u:new:170.00"],
      "2025-03": ["u:expansion:130.00"],
    });
    const committed = mrrMovements(index, {
      from: d("2025-02-01"),
      to: d("2025-03-01"),
      basis: "committed",
    });
    expect(summary(committed)).toEqual({});
    expect(committed.every((x) => x.basis === "committed" && x.end_mrr === 0n)).toBe(true);
  });

  it("one period per month start in [from, to]; mid-month bounds round inward", () => {
    const p = mrrMovements(buildKpiIndex({ plans, subscriptions: [] }), {
      from: d("2025-01-15"),
      to: d("2025-04-01"),
    });
    expect(p.map((x) => x.label)).toEqual(["2025-02", "2025-03", "2025-04"]);
    expect(p[0]?.start).toBe(d("2025-01-01"));
  });

  it("between any two instants", () => {
    const index = buildKpiIndex({
      plans,
      subscriptions: [
        sub("s1", "a", [["basic", "2025-01-01", "2025-01-20"]]),
        sub("s2", "a", [["pro", "2025-03-10", null]]),
        sub("s3", "b", [["basic", "2025-03-05", null]]),
      ],
    });
    // a paid at the Jan 1 month start → reactivation; b never paid → new
    const p = movementsBetween(index, d("2025-03-01"), d("2025-03-15"));
    expect(p.rows.map((r) => `${r.customer_id}:${r.type}:${usd(r.change)}`)).toEqual([
      "a:reactivation:300.00",
      "b:new:100.00",
    ]);
    expect(() => movementsBetween(index, 5, 5)).toThrow(RangeError);
  });

  it("classifyMovement", () => {
    expect(classifyMovement(0n, 5n, false)).toBe("new");
    expect(classifyMovement(0n, 5n, true)).toBe("reactivation");
    expect(classifyMovement(5n, 0n, true)).toBe("churn");
    expect(classifyMovement(5n, 7n, true)).toBe("expansion");
    expect(classifyMovement(7n, 5n, true)).toBe("contraction");
    expect(classifyMovement(5n, 5n, true)).toBeNull();
    expect(classifyMovement(0n, 0n, true)).toBeNull();
  });
});
