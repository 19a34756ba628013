// Reference check against the public dbt-labs mrr-playbook data (shared/reference/mrr-playbook):
// 121 subscription periods of ~50 customers, 2017–2020. Each row becomes a subscription to a flat
// monthly plan of `monthly_amount`, live on [start_date, end_date) from 00:00 UTC.
//
// The oracle below implements the playbook's rules on calendar dates, independently of the
// engine: a subscription counts in a month when start_date <= month < end_date (first of the
// month); the first active month is new; active after inactive is reactivation; the month after
// the last active month is churn; higher than the month before is upgrade (expansion), lower is
// downgrade (contraction). Engine and oracle agree month by month for every customer.
//
// Where our documented rules could differ, and why they do not here:
// - An end_date exactly on the 1st: the playbook's `month < end_date` leaves that month out; the
//   engine's half-open [start, end), sampled at 00:00 UTC on the 1st, leaves it out too (the
//   subscription is no longer live at its end instant). Both put the churn in that month. A
//   source whose end dates were inclusive (last active day) would have to add a day first.
// - Dates vs instants: the playbook compares calendar dates, the engine UTC instants; reading
//   each date as its UTC midnight makes them the same comparison.
// - The engine's default MRR basis adds usage MRR (trailing 30 days) and its trial rules; the
//   playbook knows neither, so this check uses basis "committed" and the data has no trials. The
//   engine would only differ with usage revenue or trial_end set.

import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import {
  buildKpiIndex,
  type MovementType,
  mrrAt,
  mrrMovements,
  type RecurringTerms,
  type SubscriptionHistory,
} from "../../../domain/kpi";
import { toNanos } from "../../../domain/money";

const CSV = resolve(
  import.meta.dirname,
  "../../../../shared/reference/mrr-playbook/subscription_periods.csv",
);

interface Row {
  subscription_id: string;
  customer_id: string;
  start_date: string;
  end_date: string;
  monthly_amount: number;
}

function loadRows(): Row[] {
  const [header, ...lines] = readFileSync(CSV, "utf8").trim().split(/\r?\n/);
  expect(header).toBe("subscription_id,customer_id,start_date,end_date,monthly_amount");
  return lines.map((line) => {
    const [subscription_id = "", customer_id = "", start_date = "", end_date = "", amount = ""] =
      line.split(",");
    return { subscription_id, customer_id, start_date, end_date, monthly_amount: Number(amount) };
  });
}

/** "YYYY-MM-01" month strings from `first` to `last` inclusive. */
function monthsBetween(first: string, last: string): string[] {
  const out: string[] = [];
  let [y, m] = first.split("-").map(Number) as [number, number];
  for (;;) {
    const s = `${y}-${String(m).padStart(2, "0")}-01`;
    if (s > last) return out;
    out.push(s);
    m++;
    if (m > 12) {
      m = 1;
      y++;
    }
  }
}

type Oracle = Map<
  string,
  { mrr: number; moves: Map<string, { type: MovementType; change: number }> }
>;

/** The playbook's rules, on date strings and plain numbers. */
function playbook(rows: Row[], months: string[]): Oracle {
  const customers = [...new Set(rows.map((r) => r.customer_id))];
  const out: Oracle = new Map(months.map((m) => [m, { mrr: 0, moves: new Map() }]));
  for (const c of customers) {
    const mine = rows.filter((r) => r.customer_id === c);
    let prev = 0;
    let everActive = false;
    for (const month of months) {
      const mrr = mine
        .filter((r) => r.start_date <= month && month < r.end_date)
        .reduce((sum, r) => sum + r.monthly_amount, 0);
      let type: MovementType | null = null;
      if (mrr > 0 && prev === 0) type = everActive ? "reactivation" : "new";
      else if (mrr === 0 && prev > 0) type = "churn";
      else if (mrr > prev && prev > 0) type = "expansion";
      else if (mrr < prev && mrr > 0) type = "contraction";
      const slot = out.get(month);
      if (slot === undefined) throw new Error("unreachable");
      slot.mrr += mrr;
      if (type !== null) slot.moves.set(c, { type, change: mrr - prev });
      if (mrr > 0) everActive = true;
      prev = mrr;
    }
  }
  return out;
}

const utc = (date: string) => Date.parse(`${date}T00:00:00Z`);

describe("mrr-playbook reference data", () => {
  const rows = loadRows();
  const amounts = [...new Set(rows.map((r) => r.monthly_amount))];
  const plans: RecurringTerms[] = amounts.map((a) => ({
    plan_id: `flat-${a}`,
    interval: "month",
    committed: toNanos(a),
  }));
  const subscriptions: SubscriptionHistory[] = rows.map((r) => ({
    subscription_id: r.subscription_id,
    customer_id: r.customer_id,
    phases: [
      { plan_id: `flat-${r.monthly_amount}`, start: utc(r.start_date), end: utc(r.end_date) },
    ],
  }));
  const index = buildKpiIndex({ plans, subscriptions });
  const first = rows.map((r) => r.start_date).sort()[0] ?? "";
  const last =
    rows
      .map((r) => r.end_date)
      .sort()
      .at(-1) ?? ""; // the month after the last active
  const months = monthsBetween(first, last);
  const oracle = playbook(rows, months);
  const periods = mrrMovements(index, { from: utc(first), to: utc(last), basis: "committed" });

  it("loads all 121 periods", () => {
    expect(rows).toHaveLength(121);
    expect([first, last]).toEqual(["2017-09-01", "2020-02-01"]);
  });

  it("MRR per month equals the playbook's", () => {
    for (const month of months) {
      expect([month, mrrAt(index, utc(month)).committed]).toEqual([
        month,
        toNanos(oracle.get(month)?.mrr ?? -1),
      ]);
    }
  });

  it("new / expansion / contraction / churn / reactivation agree for every customer, every month", () => {
    expect(periods.map((p) => `${p.label}-01`)).toEqual(months);
    const counts: Record<MovementType, number> = {
      new: 0,
      expansion: 0,
      contraction: 0,
      churn: 0,
      reactivation: 0,
    };
    for (const p of periods) {
      const month = `${p.label}-01`;
      const expected = [...(oracle.get(month)?.moves ?? new Map())]
        .map(([c, m]) => `${c}:${m.type}:${m.change}`)
        .sort();
      const actual = p.rows
        .map((r) => `${r.customer_id}:${r.type}:${Number(r.change) / 1e9}`)
        .sort();
      expect([month, actual]).toEqual([month, expected]);
      expect(p.end_mrr).toBe(toNanos(oracle.get(month)?.mrr ?? -1));
      for (const r of p.rows) counts[r.type]++;
    }
    // The data exercises every movement type.
    for (const type of Object.keys(counts) as MovementType[])
      expect(counts[type]).toBeGreaterThan(0);
  });

  it("an end_date on the 1st is exclusive in both: customer 1 churns in 2019-02", () => {
    // subscription 1: customer 1, 2018-11-01 → 2019-02-01 at 50; next period from 2019-04-01
    const feb = periods.find((p) => p.label === "2019-02");
    expect(feb?.rows.find((r) => r.customer_id === "1")?.type).toBe("churn");
    expect(oracle.get("2019-02-01")?.moves.get("1")?.type).toBe("churn");
    const apr = periods.find((p) => p.label === "2019-04");
    expect(apr?.rows.find((r) => r.customer_id === "1")?.type).toBe("reactivation");
  });
});
