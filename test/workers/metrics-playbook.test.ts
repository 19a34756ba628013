/// <reference types="vite/client" />
// Reference check through the API: the public dbt-labs mrr-playbook data (121 subscription
// periods, shared/reference/mrr-playbook) loaded as customers, plans and subscriptions with
// plan changes and cancels, then GET /api/metrics/mrr compared month by month with the
// playbook's rules, implemented independently below.
//
// The CSV is inlined at build time (Vite's `?raw` import, which the Workers pool's bundler
// resolves), so the test reads the shared reference itself, not a copy.
//
// Loading: each customer's periods in date order. A period that starts where the previous one
// ended is a plan change at that instant (POST /subscriptions/:id/change); a period after a gap
// is a new subscription (the earlier one canceled at its end_date); the last period's end_date
// is a cancel. Each monthly_amount is a flat monthly plan.
//
// Where our documented rules could differ from the playbook's, and why they do not here:
// - end_date on the 1st: the playbook's `month < end_date` leaves that month out; our half-open
//   [start, end) sampled at 00:00 UTC on the 1st leaves it out too (churn in that month).
// - Usage MRR and trials: the playbook has neither. The data has no usage and no trial, so the
//   default basis ("total" = committed + usage) and basis=committed give the same numbers; both
//   are checked.
// - Splitting into subscriptions: the playbook movements are per customer, as ours are; loading
//   contiguous periods as plan changes instead of separate subscriptions changes nothing.

import { beforeAll, describe, expect, it } from "vitest";
import csv from "../../../shared/reference/mrr-playbook/subscription_periods.csv?raw";
import { api, clockSettled, ok } from "./billing-helpers";
import { createTenant, type Tenant } from "./helpers";

interface Row {
  customer: string;
  start: string;
  end: string;
  amount: number;
}

const rows: Row[] = csv
  .trim()
  .split(/\r?\n/)
  .slice(1)
  .map((line) => {
    const [, customer = "", start = "", end = "", amount = "0"] = line.split(",");
    return { customer, start, end, amount: Number(amount) };
  });

const at = (date: string) => `${date}T00:00:00Z`;

/** Month starts "YYYY-MM-01" from first to last inclusive. */
function months(first: string, last: string): string[] {
  const out: string[] = [];
  let [y, m] = first.split("-").map(Number) as [number, number];
  for (;;) {
    const s = `${y}-${String(m).padStart(2, "0")}-01`;
    if (s > last) return out;
    out.push(s);
    if (++m > 12) {
      m = 1;
      y++;
    }
  }
}

type Move = "new" | "expansion" | "contraction" | "churn" | "reactivation";

/** The playbook's rules on date strings: MRR of a customer in month m = Σ amounts of periods
 * with start_date <= m < end_date; first active month new; active after inactive reactivation;
 * the month after the last active one churn; up upgrade, down downgrade. */
function playbook(all: Row[], grid: string[]) {
  const customers = [...new Set(all.map((r) => r.customer))];
  const result = new Map<
    string,
    { mrr: number; moves: Map<string, { type: Move; change: number }> }
  >();
  const prev = new Map<string, number>();
  const everActive = new Set<string>();
  for (const month of grid) {
    let total = 0;
    const moves = new Map<string, { type: Move; change: number }>();
    for (const c of customers) {
      const cur = all
        .filter((r) => r.customer === c && r.start <= month && month < r.end)
        .reduce((s, r) => s + r.amount, 0);
      const before = prev.get(c) ?? 0;
      total += cur;
      let type: Move | null = null;
      if (before === 0 && cur > 0) type = everActive.has(c) ? "reactivation" : "new";
      else if (before > 0 && cur === 0) type = "churn";
      else if (cur > before) type = "expansion";
      else if (cur < before) type = "contraction";
      if (type) moves.set(c, { type, change: cur - before });
      if (cur > 0) everActive.add(c);
      prev.set(c, cur);
    }
    result.set(month, { mrr: total, moves });
  }
  return result;
}

let tenant: Tenant;

beforeAll(async () => {
  tenant = await createTenant("mrr-playbook");
  await clockSettled(tenant);
  const a = api(tenant);
  await ok(a.post("/api/products", { id: "saas", name: "SaaS" }));
  for (const amount of new Set(rows.map((r) => r.amount))) {
    await ok(
      a.post("/api/plans", {
        id: `flat-${amount}`,
        product: "saas",
        name: `$${amount}/month`,
        currency: "USD",
        period: "month",
        components: [{ type: "flat", amount: String(amount) }],
      }),
    );
  }
  const byCustomer = new Map<string, Row[]>();
  for (const r of rows) byCustomer.set(r.customer, [...(byCustomer.get(r.customer) ?? []), r]);
  for (const [c, list] of byCustomer) {
    await ok(a.post("/api/customers", { id: `c${c}`, name: `Customer ${c}` }));
    list.sort((x, y) => (x.start < y.start ? -1 : 1));
    let sub = null as { id: string; end: string; amount: number } | null;
    for (const r of list) {
      if (sub && sub.end === r.start) {
        if (r.amount !== sub.amount) {
          await ok(
            a.post(`/api/subscriptions/${sub.id}/change`, {
              plan: `flat-${r.amount}`,
              at: at(r.start),
            }),
          );
        }
        sub = { id: sub.id, end: r.end, amount: r.amount };
        continue;
      }
      if (sub) await ok(a.post(`/api/subscriptions/${sub.id}/cancel`, { at: at(sub.end) }));
      const created = await ok(
        a.post("/api/subscriptions", {
          customer: `c${c}`,
          plan: `flat-${r.amount}`,
          start: at(r.start),
        }),
      );
      sub = { id: created.id, end: r.end, amount: r.amount };
    }
    if (sub) await ok(a.post(`/api/subscriptions/${sub.id}/cancel`, { at: at(sub.end) }));
  }
}, 120_000);

describe("mrr-playbook reference, loaded through the API", () => {
  it("has the 121 periods of the reference", () => {
    expect(rows).toHaveLength(121);
  });

  for (const basis of ["committed", "total"] as const) {
    it(`agrees with the playbook month by month: MRR and every customer's movement (basis ${basis})`, async () => {
      const first = rows.map((r) => r.start).sort()[0] ?? "";
      const last =
        rows
          .map((r) => r.end)
          .sort()
          .at(-1) ?? "";
      const grid = months(first, last);
      const oracle = playbook(rows, grid);
      const res = await ok(
        api(tenant).get(
          `/api/metrics/mrr?from=${first.slice(0, 7)}&to=${last.slice(0, 7)}&basis=${basis}&include=customers`,
        ),
      );
      // One period per month start after the first (each compares with the month before).
      expect(res.periods.map((p: { label: string }) => p.label)).toEqual(
        grid.map((m) => m.slice(0, 7)),
      );
      let moves = 0;
      for (const p of res.periods as {
        label: string;
        end_mrr: string;
        totals: Record<string, string>;
        customers: { customer_id: string; type: Move; change: string }[];
      }[]) {
        const want = oracle.get(`${p.label}-01`);
        expect(Number(p.end_mrr), p.label).toBe(want?.mrr);
        const got = new Map(
          p.customers.map((c) => [c.customer_id, { type: c.type, change: Number(c.change) }]),
        );
        const expected = new Map([...(want?.moves ?? [])].map(([c, m]) => [`c${c}`, m]));
        expect(got, p.label).toEqual(expected);
        moves += expected.size;
        const sum = (t: Move) =>
          [...expected.values()].filter((m) => m.type === t).reduce((s, m) => s + m.change, 0);
        for (const t of ["new", "expansion", "contraction", "churn", "reactivation"] as const) {
          expect(Number(p.totals[t]), `${p.label} ${t}`).toBe(sum(t));
        }
      }
      // Every kind of movement occurs in the reference.
      const kinds = new Set(
        [...oracle.values()].flatMap((o) => [...o.moves.values()].map((m) => m.type)),
      );
      expect([...kinds].sort()).toEqual([
        "churn",
        "contraction",
        "expansion",
        "new",
        "reactivation",
      ]);
      expect(moves).toBeGreaterThan(100);
    }, 60_000);
  }

  it("gives the same MRR in the cockpit at a month start", async () => {
    const grid = months("2018-01-01", "2019-12-01");
    const oracle = playbook(rows, months("2017-09-01", "2020-02-01"));
    for (const m of grid.filter((_, i) => i % 6 === 0)) {
      const c = await ok(api(tenant).get(`/api/metrics/cockpit?as_of=${at(m)}`));
      expect(Number(c.mrr.value), m).toBe(oracle.get(m)?.mrr);
    }
  }, 60_000);
});
