import { describe, expect, it } from "vitest";
import {
  addReplayTotals,
  compareReplayDate,
  dateMatches,
  emptyTotals,
  MAX_REPLAY_DAYS,
  type ReplayTotals,
  replayDates,
  replayKey,
  splitReplayKey,
  totalsJson,
} from "../../domain/exports/archive-replay";

// The replay's pure comparison (domain/exports/archive-replay.ts): one date's archive totals
// against its D1 rows, every row classified, the sums exact past 2^63, the writes that make D1
// equal the archive, and the range the operation accepts.

const H = Date.parse("2026-12-01T00:00:00Z");
const HOUR = 3_600_000;
const t = (o: Partial<ReplayTotals> = {}): ReplayTotals => ({
  ...emptyTotals(),
  units: 1_000_000n,
  revenue: 2_000_000_000n,
  cost: 1n,
  events: 1,
  ...o,
});

describe("compareReplayDate", () => {
  const archive = new Map([
    [replayKey("acme", H, "chat", "input"), t()],
    [
      replayKey("acme", H + HOUR, "chat", "input"),
      t({ events: 3, revenue: 9_000_000_000_000_000_000n }),
    ],
    [replayKey("globex", H, "chat", "output"), t({ uncosted_events: 1, uncosted_revenue: 5n })],
    [replayKey("initech", H + 5 * HOUR, "chat", "input"), t()],
  ]);

  it("counts matching, differing, missing and D1-only rows, with samples and the writes", () => {
    const d1 = new Map([
      [replayKey("acme", H, "chat", "input"), t()],
      // The same but one nano of revenue more.
      [
        replayKey("acme", H + HOUR, "chat", "input"),
        t({ events: 3, revenue: 9_000_000_000_000_000_001n }),
      ],
      // Only the uncosted revenue differs: every column is compared.
      [replayKey("globex", H, "chat", "output"), t({ uncosted_events: 1, uncosted_revenue: 4n })],
      // initech missing; a stray row and an all-zero row the archive does not have.
      [replayKey("stray", H + 2 * HOUR, "chat", "input"), t({ events: 7 })],
      [replayKey("zero", H + 3 * HOUR, "chat", "input"), emptyTotals()],
    ]);
    const c = compareReplayDate("2026-12-01", archive, d1);
    expect(c.rows).toEqual({ matching: 1, differing: 2, missing_in_d1: 1, only_in_d1: 1 });
    expect(dateMatches(c)).toBe(false);
    // Sums past 2^63, exact.
    expect(c.archive.revenue).toBe(9_000_000_000_000_000_000n + 3n * 2_000_000_000n);
    expect(c.d1.revenue).toBe(9_000_000_000_000_000_001n + 3n * 2_000_000_000n);
    expect(c.archive.events).toBe(6);
    expect(c.d1.events).toBe(12);
    expect(c.samples.map((s) => [s.customer, s.kind])).toEqual([
      ["acme", "differs"],
      ["globex", "differs"],
      ["initech", "missing_in_d1"],
      ["stray", "only_in_d1"],
    ]);
    expect(c.samples[3]).toMatchObject({ hour: H + 2 * HOUR, archive: null, d1: { events: 7 } });
    expect(c.writes.set.map(([k]) => splitReplayKey(k).customer)).toEqual([
      "acme",
      "globex",
      "initech",
    ]);
    // The all-zero row is left: it says nothing a missing row does not.
    expect(c.writes.delete).toEqual([replayKey("stray", H + 2 * HOUR, "chat", "input")]);
  });

  it("matches once D1 holds the archive's rows, and caps the samples but not the counts", () => {
    expect(dateMatches(compareReplayDate("2026-12-01", archive, new Map(archive)))).toBe(true);
    const c = compareReplayDate("2026-12-01", archive, new Map(), 2);
    expect(c.rows.missing_in_d1).toBe(4);
    expect(c.samples).toHaveLength(2);
    expect(c.writes.set).toHaveLength(4);
  });

  it("shows totals as exact decimal strings", () => {
    expect(
      totalsJson(t({ units: 1_500_001n, revenue: 9_000_000_000_000_000_001n, cost: 0n })),
    ).toEqual({
      events: 1,
      units: "1.500001",
      revenue: "9000000000.000000001",
      cost: "0",
      uncosted_events: 0,
      uncosted_revenue: "0",
    });
  });
});

describe("addReplayTotals", () => {
  it("rebuilds the uncosted columns from cost_status, as ingest counts them", () => {
    const row = (cost_status: string, revenue: string) => ({
      customer_id: "acme",
      event_time: H + 10,
      product: "chat",
      metric: "input",
      quantity: "1",
      revenue,
      cost: "0",
      cost_status,
    });
    const totals = addReplayTotals(new Map(), [row("uncosted", "7"), row("priced", "5")]);
    expect(totals.get(replayKey("acme", H, "chat", "input"))).toEqual({
      units: 2n,
      revenue: 12n,
      cost: 0n,
      events: 2,
      uncosted_events: 1,
      uncosted_revenue: 7n,
    });
  });
});

describe("replayDates", () => {
  it("lists the UTC dates, both ends inclusive, across a month end", () => {
    expect(replayDates("2026-11-29", "2026-12-02")).toEqual({
      dates: ["2026-11-29", "2026-11-30", "2026-12-01", "2026-12-02"],
    });
    expect(replayDates("2026-12-01", "2026-12-01")).toEqual({ dates: ["2026-12-01"] });
  });

  it("refuses from after to, and a range past the bound", () => {
    expect(replayDates("2026-12-02", "2026-12-01")).toEqual({
      error: { path: "from", message: "must not be after to" },
    });
    const ok = replayDates("2026-01-01", "2026-01-31");
    expect("dates" in ok && ok.dates).toHaveLength(MAX_REPLAY_DAYS);
    expect(replayDates("2026-01-01", "2026-02-01")).toMatchObject({ error: { path: "to" } });
  });
});
