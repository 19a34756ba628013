import { describe, expect, it } from "vitest";
import {
  agingBucket,
  daysPastDue,
  type InvoiceRecord,
  invoiceIntervals,
  isOutstandingAt,
  outstandingInvoicesAt,
  outstandingOfIntervals,
} from "../../../domain/kpi";
import { formatMoney, toNanos } from "../../../domain/money";

const DAY = 86_400_000;
const d = (date: string) => Date.parse(`${date}T00:00:00Z`);

const inv = (over: Partial<InvoiceRecord> & { id: string }): InvoiceRecord => ({
  customer_id: "c",
  status: "open",
  total: toNanos(100),
  issued_at: d("2025-01-01"),
  due_at: d("2025-01-15"),
  paid_at: null,
  ...over,
});

describe("aging", () => {
  it("an invoice 45 days past due lands in 31–60", () => {
    // due Jan 15, as of Mar 1: 16 (rest of Jan) + 28 (Feb) + 1 = 45 days
    expect(daysPastDue(d("2025-01-15"), d("2025-03-01"))).toBe(45);
    const r = outstandingInvoicesAt([inv({ id: "i1" })], d("2025-03-01"));
    expect(r.buckets.days_31_60).toEqual({ count: 1, total: toNanos(100) });
    expect([r.count, formatMoney(r.total)]).toEqual([1, "100.00"]);
  });

  it("boundaries: 0 current, 1 → 1–30, 30/31, 60/61, 90/91", () => {
    const due = d("2025-01-01");
    const at = (days: number) => agingBucket(daysPastDue(due, due + days * DAY));
    expect([at(-5), at(0), at(1), at(30), at(31), at(60), at(61), at(90), at(91)]).toEqual([
      "current",
      "current",
      "days_1_30",
      "days_1_30",
      "days_31_60",
      "days_31_60",
      "days_61_90",
      "days_61_90",
      "days_over_90",
    ]);
  });

  it("days past due count UTC calendar days: due today is current whatever the hour", () => {
    const due = d("2025-01-01") + 10 * 3_600_000; // Jan 1 10:00
    expect(daysPastDue(due, d("2025-01-01") + 23 * 3_600_000)).toBe(0); // Jan 1 23:00
    expect(daysPastDue(due, d("2025-01-02"))).toBe(1); // Jan 2 00:00
  });
});

describe("outstanding invoices as of a date", () => {
  const invoices: InvoiceRecord[] = [
    inv({ id: "open" }),
    inv({ id: "paid-later", status: "paid", paid_at: d("2025-02-10") }),
    inv({ id: "void-later", status: "void", voided_at: d("2025-02-05") }),
    inv({ id: "void-unknown", status: "void" }),
    inv({ id: "paid-unknown", status: "paid" }),
    inv({ id: "draft", status: "draft", issued_at: null }),
    inv({
      id: "issued-later",
      issued_at: d("2025-02-20"),
      due_at: d("2025-03-20"),
      total: toNanos(40),
    }),
  ];

  it("issued, not yet paid or voided at t; drafts never", () => {
    const ids = (t: number) => invoices.filter((i) => isOutstandingAt(i, t)).map((i) => i.id);
    expect(ids(d("2025-02-01"))).toEqual(["open", "paid-later", "void-later"]);
    expect(ids(d("2025-02-05"))).toEqual(["open", "paid-later"]); // voided at that instant
    expect(ids(d("2025-02-15"))).toEqual(["open"]);
    expect(ids(d("2025-03-01"))).toEqual(["open", "issued-later"]);
    expect(ids(d("2024-12-31"))).toEqual([]);
  });

  it("count, sum and buckets", () => {
    // Mar 1: "open" due Jan 15 → 45 days → 31–60 (100); "issued-later" due Mar 20 → current (40)
    const r = outstandingInvoicesAt(invoices, d("2025-03-01"));
    expect([r.count, formatMoney(r.total)]).toEqual([2, "140.00"]);
    expect(r.buckets.current).toEqual({ count: 1, total: toNanos(40) });
    expect(r.buckets.days_31_60).toEqual({ count: 1, total: toNanos(100) });
    expect(r.buckets.days_1_30).toEqual({ count: 0, total: 0n });
    // Feb 1: open, paid-later, void-later, all due Jan 15 → 17 days → 1–30: 3 × 100
    const feb = outstandingInvoicesAt(invoices, d("2025-02-01"));
    expect(feb.buckets.days_1_30).toEqual({ count: 3, total: toNanos(300) });
  });

  it("the interval index visits only invoices unpaid after t and agrees with the flat check", () => {
    const intervals = invoiceIntervals(invoices);
    // never outstanding: draft, void/paid without a date → 4 intervals, sorted by close
    expect(intervals.map((i) => i.closed)).toEqual([
      d("2025-02-05"),
      d("2025-02-10"),
      Number.POSITIVE_INFINITY,
      Number.POSITIVE_INFINITY,
    ]);
    for (let t = d("2024-12-25"); t < d("2025-04-01"); t += DAY / 2) {
      const r = outstandingOfIntervals(intervals, t);
      expect(r.count).toBe(invoices.filter((i) => isOutstandingAt(i, t)).length);
    }
  });
});

describe("partial payments", () => {
  // $100 issued Jan 1, $30 paid Jan 10, $50 on Feb 1, the last $20 settles it on Feb 20.
  const partly = inv({
    id: "p1",
    status: "paid",
    paid_at: d("2025-02-20"),
    payments: [
      { at: d("2025-02-01"), amount: toNanos(50) },
      { at: d("2025-01-10"), amount: toNanos(30) },
      { at: d("2025-02-20"), amount: toNanos(20) },
    ],
  });
  const owed = (t: number) => {
    const r = outstandingInvoicesAt([partly], t);
    return [r.count, formatMoney(r.total)];
  };

  it("count once, for what is still owed, from each payment on", () => {
    expect(owed(d("2025-01-05"))).toEqual([1, "100.00"]);
    expect(owed(d("2025-01-10"))).toEqual([1, "70.00"]);
    expect(owed(d("2025-01-31"))).toEqual([1, "70.00"]);
    expect(owed(d("2025-02-01"))).toEqual([1, "20.00"]);
    expect(owed(d("2025-02-20"))).toEqual([0, "0.00"]);
  });

  it("the stretches of one invoice never overlap, and the index agrees with the list", () => {
    const intervals = invoiceIntervals([partly, inv({ id: "i2" })]);
    expect(intervals.filter((i) => i.id === "p1").map((i) => formatMoney(i.total))).toEqual([
      "100.00",
      "70.00",
      "20.00",
    ]);
    for (let t = d("2024-12-30"); t < d("2025-03-01"); t += DAY / 2) {
      const r = outstandingOfIntervals(intervals, t);
      const at = intervals.filter((i) => i.from <= t && t < i.closed);
      expect(new Set(at.map((i) => i.id)).size).toBe(at.length);
      expect(r.count).toBe(at.length);
    }
  });

  it("a payment before the issue counts from the issue; a still-open invoice owes the rest", () => {
    const open = inv({ id: "o1", payments: [{ at: d("2024-12-01"), amount: toNanos(40) }] });
    const r = outstandingInvoicesAt([open], d("2025-01-02"));
    expect([r.count, formatMoney(r.total)]).toEqual([1, "60.00"]);
  });
});
