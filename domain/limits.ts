// What Aforo can hold exactly, and the one place that refuses what it cannot (issue 11).
//
// Money is stored in nanos and quantities in micro-units, as 64-bit integers (SQLite, D1): the
// largest is 9,223,372,036,854,775,807 — $9.2 billion in nanos, 9.2 trillion units in micros.
// Rather than widen every column, the bounds below keep every per-customer row far inside that,
// and every sum across customers is computed in two halves (store/exact-sum.ts) so it is exact
// at any count. The bounds are per customer and per UTC day, checked by the customer's actor as
// each event is rated, so an event that would pass one is refused by index at ingest, with the
// reason, and nothing of it is stored.
//
// Why these figures: a large AI customer sends billions of tokens a day (10^9–10^10); the unit
// bound is 100–1,000 times that. $10 M of usage revenue (or COGS) per customer per day is
// $3.65 B a year from one customer. Within them a customer's 90-day window is at most
// 9 × 10^17 nanos of usage revenue — a tenth of the 64-bit range — so windows, invoices and
// margins computed per customer cannot overflow either.

import { MICROS_PER_UNIT, NANOS_PER_UNIT } from "./money";

/** Units of one metric of one product, per customer per UTC day. */
export const DAY_UNITS_LIMIT = 1_000_000_000_000n * MICROS_PER_UNIT;
/** Usage revenue, and separately COGS, per customer per UTC day over all products. */
export const DAY_MONEY_LIMIT = 10_000_000n * NANOS_PER_UNIT;

/** What one customer has already stored for one UTC day. */
export interface DayTotals {
  revenue: bigint;
  cost: bigint;
  /** product \0 metric → micros */
  units: Map<string, bigint>;
}

/**
 * The customer's running day totals, loaded once per day from storage (`load`) and advanced by
 * each admitted event. `admit` answers null (admitted, totals advanced) or why not.
 */
export class DayBudget {
  private readonly days = new Map<number, DayTotals>();

  constructor(
    private readonly load: (day: number) => DayTotals,
    private readonly daysKept = 3,
  ) {}

  admit(
    day: number,
    product: string,
    metric: string,
    units: bigint,
    revenue: bigint,
    cost: bigint,
  ): string | null {
    const totals = this.totals(day);
    const key = `${product}\u0000${metric}`;
    const used = totals.units.get(key) ?? 0n;
    if (used + units > DAY_UNITS_LIMIT) {
      return `this event would take the customer's ${metric} of ${product} on ${isoDay(day)} past ${DAY_UNITS_LIMIT / MICROS_PER_UNIT} units, the most Aforo holds per customer, metric and day`;
    }
    if (totals.revenue + revenue > DAY_MONEY_LIMIT) {
      return `this event would take the customer's usage revenue on ${isoDay(day)} past ${DAY_MONEY_LIMIT / NANOS_PER_UNIT} per day, the most Aforo holds per customer`;
    }
    if (totals.cost + cost > DAY_MONEY_LIMIT) {
      return `this event would take the customer's cost on ${isoDay(day)} past ${DAY_MONEY_LIMIT / NANOS_PER_UNIT} per day, the most Aforo holds per customer`;
    }
    totals.units.set(key, used + units);
    totals.revenue += revenue;
    totals.cost += cost;
    return null;
  }

  /** After a rolled-back write the totals may be ahead of storage. */
  forget() {
    this.days.clear();
  }

  private totals(day: number): DayTotals {
    let t = this.days.get(day);
    if (!t) {
      t = this.load(day);
      if (this.days.size >= this.daysKept) this.days.clear();
      this.days.set(day, t);
    }
    return t;
  }
}

const isoDay = (day: number) => new Date(day).toISOString().slice(0, 10);
