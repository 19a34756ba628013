import { describe, expect, it } from "vitest";
import { dunningEpisodes, type InvoiceRecord, recoveryAt } from "../../../domain/kpi";
import { formatMoney, toNanos } from "../../../domain/money";

// Payment recovery (issue 14 item 4): invoices enter dunning at their first failed attempt; a
// case still retrying counts against the recovery rate.

const d = (date: string) => Date.parse(`${date}T00:00:00Z`);
const inv = (over: Partial<InvoiceRecord> & { id: string }): InvoiceRecord => ({
  customer_id: over.id,
  status: "open",
  total: toNanos(100),
  issued_at: d("2025-03-01"),
  due_at: d("2025-03-15"),
  paid_at: null,
  ...over,
});

const book = [
  // Failed Mar 16, $40 came in Mar 10 before it, paid the rest Mar 20: recovered, owed $60.
  inv({
    id: "recovered",
    status: "paid",
    paid_at: d("2025-03-20"),
    first_failed_at: d("2025-03-16"),
    payments: [{ at: d("2025-03-10"), amount: toNanos(40) }],
  }),
  // Failed Mar 16, still unpaid: open.
  inv({ id: "retrying", first_failed_at: d("2025-03-16") }),
  // Failed Mar 16, written off Apr 1: lost, its customer churned involuntarily.
  inv({ id: "lost", status: "void", voided_at: d("2025-04-01"), first_failed_at: d("2025-03-16") }),
  // Paid on time, a failure reported afterwards: never in dunning.
  inv({
    id: "late-report",
    status: "paid",
    paid_at: d("2025-03-05"),
    first_failed_at: d("2025-03-06"),
  }),
  // Never failed.
  inv({ id: "plain" }),
];

describe("payment recovery", () => {
  it("recovered, lost and still retrying, with the rate counting the open case against it", () => {
    const r = recoveryAt(dunningEpisodes(book), d("2025-04-10"));
    expect(r).toMatchObject({
      window_days: 90,
      episodes: 3,
      recovered: 1,
      lost: 1,
      open: 1,
      median_days_to_recover: 4,
      involuntary_churn: 1,
    });
    expect(r.recovery_rate).toBeCloseTo(1 / 3, 10);
    expect(formatMoney(r.recovered_revenue)).toBe("60.00");
  });

  it("as of a past date, what had happened by then", () => {
    const r = recoveryAt(dunningEpisodes(book), d("2025-03-18"));
    expect([r.recovered, r.lost, r.open]).toEqual([0, 0, 3]);
    expect(r.recovery_rate).toBe(0);
    expect(recoveryAt(dunningEpisodes(book), d("2025-03-01")).recovery_rate).toBeNull();
  });

  it("only episodes that entered dunning in the window", () => {
    expect(recoveryAt(dunningEpisodes(book), d("2025-08-01")).episodes).toBe(0);
  });
});
