import { describe, expect, it } from "vitest";
import {
  activeSubscriptionsAt,
  buildKpiIndex,
  liveSubscriptionsAt,
  type SubscriptionHistory,
  subscriptionHealthAt,
  subscriptionStatusAt,
} from "../../../domain/kpi";
import { toNanos } from "../../../domain/money";

const d = (date: string) => Date.parse(`${date}T00:00:00Z`);

const sub = (
  id: string,
  customer: string,
  start: string,
  end: string | null,
  extra: Partial<SubscriptionHistory> = {},
): SubscriptionHistory => ({
  subscription_id: id,
  customer_id: customer,
  phases: [{ plan_id: "p", start: d(start), end: end === null ? null : d(end) }],
  ...extra,
});

describe("subscription status as of a date", () => {
  const s = sub("s", "c", "2025-01-01", "2025-06-01", {
    trial_end: d("2025-01-15"),
    status_changes: [
      { at: d("2025-03-01"), status: "past_due" },
      { at: d("2025-03-10"), status: "active" },
      { at: d("2025-04-01"), status: "suspended" },
    ],
  });
  it("not started → null; trial; active; past_due; back to active; suspended; canceled", () => {
    const at = (date: string) => subscriptionStatusAt(s, d(date));
    expect([
      at("2024-12-31"),
      at("2025-01-01"),
      at("2025-01-15"),
      at("2025-03-05"),
      at("2025-03-10"),
      at("2025-04-15"),
      at("2025-06-01"),
    ]).toEqual([null, "trialing", "active", "past_due", "active", "suspended", "canceled"]);
  });

  it("a gap between phases reads as canceled until the next phase", () => {
    const gap: SubscriptionHistory = {
      subscription_id: "g",
      customer_id: "c",
      phases: [
        { plan_id: "p", start: d("2025-01-01"), end: d("2025-02-01") },
        { plan_id: "p", start: d("2025-03-01"), end: null },
      ],
    };
    expect(subscriptionStatusAt(gap, d("2025-02-10"))).toBe("canceled");
    expect(subscriptionStatusAt(gap, d("2025-03-01"))).toBe("active");
  });
});

describe("active subscriptions and the health donut", () => {
  const index = buildKpiIndex({
    plans: [{ plan_id: "p", interval: "month", committed: toNanos(10) }],
    subscriptions: [
      sub("a1", "a", "2025-01-01", null),
      sub("a2", "b", "2025-01-01", null),
      sub("tr", "c", "2025-05-20", null, { trial_end: d("2025-06-10") }),
      sub("pd", "e", "2025-01-01", null, {
        status_changes: [{ at: d("2025-05-25"), status: "past_due" }],
      }),
      sub("su", "f", "2025-01-01", null, {
        status_changes: [{ at: d("2025-05-25"), status: "suspended" }],
      }),
      sub("risk", "g", "2025-01-01", null),
      sub("recent", "h", "2025-01-01", "2025-05-15"), // canceled 17 days before Jun 1
      sub("old", "i", "2025-01-01", "2025-04-01"), // canceled 61 days before Jun 1
      sub("future", "j", "2025-07-01", null), // not started
    ],
    signals: [
      { customer_id: "g", opened_at: d("2025-05-28"), resolved_at: null },
      { customer_id: "e", opened_at: d("2025-05-28"), resolved_at: null }, // past_due wins
      { customer_id: "a", opened_at: d("2025-04-01"), resolved_at: d("2025-04-10") }, // resolved
    ],
  });

  it("active subscriptions = active + past_due; trialing and suspended apart", () => {
    // active: a1, a2, risk (3); past_due: pd (1) → 4
    expect(activeSubscriptionsAt(index, d("2025-06-01"))).toEqual({
      at: d("2025-06-01"),
      count: 4,
      active: 3,
      past_due: 1,
      trialing: 1,
      suspended: 1,
    });
  });

  it("one slice per subscription, its status: the same sets the active-subscriptions tile counts", () => {
    const at = d("2025-06-01");
    const h = subscriptionHealthAt(index, at);
    expect(h.slices).toEqual({
      active: 3, // a1, a2, risk
      trialing: 1, // tr
      past_due: 1, // pd
      suspended: 1, // su
      canceled: 1, // recent; "old" left the donut after 30 days
    });
    expect([h.total, h.at_risk_customers, h.canceled_window_days]).toEqual([7, 2, 30]);
    // At risk is an overlay: risk (active) and pd (past due) have customers with open signals.
    expect(h.at_risk).toEqual({ active: 1, trialing: 0, past_due: 1, suspended: 0, total: 2 });
    // One word, one set: the tile's parts are the donut's slices.
    const tile = activeSubscriptionsAt(index, at);
    expect([tile.active, tile.past_due, tile.trialing, tile.suspended]).toEqual([
      h.slices.active,
      h.slices.past_due,
      h.slices.trialing,
      h.slices.suspended,
    ]);
    expect(tile.count).toBe(h.slices.active + h.slices.past_due);
    // The list behind the tile holds exactly those subscriptions.
    const rows = liveSubscriptionsAt(index, at);
    expect(rows.filter((r) => r.counted)).toHaveLength(tile.count);
    expect(rows.filter((r) => r.status === "past_due").map((r) => r.subscription_id)).toEqual([
      "pd",
    ]);
    expect(rows.filter((r) => r.status === "trialing")).toHaveLength(tile.trialing);
  });

  it("as of an earlier date the signals and cancellations are those of that date", () => {
    // Apr 5: a's signal open → a1 at risk; "old" canceled 4 days earlier; pd, su still active
    const h = subscriptionHealthAt(index, d("2025-04-05"));
    expect(h.slices).toEqual({
      active: 6, // a1, a2, pd, su, risk, recent
      trialing: 0,
      past_due: 0,
      suspended: 0,
      canceled: 1,
    });
    expect(h.at_risk).toMatchObject({ active: 1, total: 1 }); // a1: customer a has a signal open
  });
});
