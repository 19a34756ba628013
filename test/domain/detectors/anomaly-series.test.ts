// npm run detect:series: the detector core over any timestamp,value series, scored in the NAB
// results format. The fixture (test/fixtures/nab-like.csv) is NAB-shaped: `YYYY-MM-DD HH:MM:SS`
// every 10 minutes, fractional values with a daily shape and quieter weekends, 16 days, a ×4
// surge on 2026-01-18 03:00-05:00 and a drop to ×0.02 on 2026-01-19 15:00-17:00.

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  formatResults,
  parseSeriesCsv,
  parseTimestamp,
  scoreSeries,
} from "../../../domain/detectors/series";

const fixture = readFileSync(join(__dirname, "../../fixtures/nab-like.csv"), "utf8");

describe("detect:series", () => {
  it("reads ISO, NAB and epoch timestamps as UTC, with or without a header", () => {
    expect(parseTimestamp("2026-01-05 03:10:00")).toBe(Date.UTC(2026, 0, 5, 3, 10));
    expect(parseTimestamp("2026-01-05T03:10:00Z")).toBe(Date.UTC(2026, 0, 5, 3, 10));
    expect(parseTimestamp("2026-01-05T05:10:00+02:00")).toBe(Date.UTC(2026, 0, 5, 3, 10));
    expect(parseTimestamp("1767582600")).toBe(Date.UTC(2026, 0, 5, 3, 10));
    expect(parseTimestamp("yesterday")).toBeNaN();
    const a = parseSeriesCsv("timestamp,value\n2026-01-05 00:00:00,1.5\n");
    const b = parseSeriesCsv("2026-01-05 00:00:00,1.5\n");
    expect(a).toEqual(b);
    expect(parseSeriesCsv("value,timestamp\n2,2026-01-05 00:00:00\n")[0]?.value).toBe(2);
    expect(() => parseSeriesCsv("2026-01-05 00:00:00,1\n2026-01-05 00:05:00,abc\n")).toThrow(
      /line 2: value "abc"/,
    );
    expect(() => parseSeriesCsv("t,v\nnope,1\n")).toThrow(/line 2: unreadable timestamp/);
  });

  it("finds the fixture's surge and outage and nothing else (score ≥ 0.5)", () => {
    const rows = parseSeriesCsv(fixture);
    expect(rows).toHaveLength(16 * 144);
    const r = scoreSeries(rows);
    expect(r.scores).toHaveLength(rows.length);
    for (const s of r.scores) expect(s >= 0 && s <= 1).toBe(true);
    const flaggedHours = new Set(
      rows.filter((_, i) => (r.scores[i] ?? 0) >= 0.5).map((row) => row.raw.slice(0, 13)),
    );
    expect([...flaggedHours].sort()).toEqual([
      "2026-01-18 03",
      "2026-01-18 04",
      "2026-01-19 15",
      "2026-01-19 16",
    ]);
    // Ordinary hours score low: the 99th percentile stays well under the signal threshold.
    const ordinary = r.scores.filter((s) => s < 0.5).sort((x, y) => x - y);
    expect(ordinary[Math.floor(ordinary.length * 0.9)] ?? 1).toBeLessThan(0.49);
  });

  it("a level series (mean per hour) and an irregular interval work the same way", () => {
    // Keep every row of odd minutes only: an irregular interval, fewer samples per hour.
    const rows = parseSeriesCsv(fixture).filter((_, i) => i % 3 !== 1);
    const r = scoreSeries(rows, { agg: "mean" });
    const hours = new Set(
      rows.filter((_, i) => (r.scores[i] ?? 0) >= 0.5).map((row) => row.raw.slice(0, 13)),
    );
    expect(hours.has("2026-01-18 03")).toBe(true);
    expect(hours.has("2026-01-19 15")).toBe(true);
    expect(hours.size).toBeLessThanOrEqual(6);
  });

  it("writes the NAB results format, rows in input order, timestamps as given", () => {
    const rows = parseSeriesCsv("2026-01-05 00:00:00,1\n2026-01-05 00:05:00,2\n");
    const csv = formatResults(rows, scoreSeries(rows).scores);
    expect(csv).toBe(
      "timestamp,value,anomaly_score\n2026-01-05 00:00:00,1,0\n2026-01-05 00:05:00,2,0\n",
    );
  });

  it("runs through npm on a file and writes OUT (and fails with a message on a bad file)", () => {
    const dir = mkdtempSync(join(tmpdir(), "detect-series-"));
    const out = join(dir, "out.csv");
    execFileSync(
      "npm",
      ["run", "--silent", "detect:series", "--", "test/fixtures/nab-like.csv", "--out", out],
      { cwd: join(__dirname, "../../.."), stdio: "pipe" },
    );
    const lines = readFileSync(out, "utf8").trim().split("\n");
    expect(lines[0]).toBe("timestamp,value,anomaly_score");
    expect(lines).toHaveLength(16 * 144 + 1);
    expect(lines.filter((l) => Number(l.split(",")[2]) >= 0.5)).toHaveLength(4 * 6);
    const bad = join(dir, "bad.csv");
    writeFileSync(bad, "timestamp,value\n2026-01-05 00:00:00,x\n");
    expect(() =>
      execFileSync("npm", ["run", "--silent", "detect:series", "--", bad], {
        cwd: join(__dirname, "../../.."),
        stdio: "pipe",
      }),
    ).toThrow(/not a number/);
  }, 60_000);
});
