import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  bucketsUnder,
  burnRate,
  LATENCY_BOUNDS_US,
  LATENCY_BUCKETS,
  latencyBucket,
  PipelineAggregate,
  type PipelineCell,
  type PipelineObservation,
  percentileUs,
  schemaRejectionReason,
} from "../../domain/pipeline-telemetry";
import { DATASETS } from "../../domain/reports/catalog";
import { compileReport } from "../../domain/reports/compile";
import { checkQuery } from "../../domain/reports/query";
import { HOUR_MS } from "../../domain/time";

const T0 = Date.UTC(2026, 2, 9, 14, 0, 0);

/** Buckets with `counts` at the given positions. */
const histogram = (counts: Record<number, number>) =>
  Array.from({ length: LATENCY_BUCKETS }, (_, i) => counts[i] ?? 0);

const timed = (latencyUs: number, at = T0): PipelineObservation => ({
  tenantId: "t1",
  series: "gate",
  outcome: "allow",
  at,
  latencyUs,
});

/** The cells of an aggregate, in a fixed order, to compare two aggregates. */
const keyOf = (c: PipelineCell) => [c.tenant_id, c.hour, c.series, c.outcome].join("\u0000");
const sorted = (cells: PipelineCell[]) =>
  [...cells].sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0));

describe("latency buckets", () => {
  it("are half-open [lower, upper) on the 1-2-5 edges, the last one open", () => {
    expect(LATENCY_BUCKETS).toBe(23);
    expect(latencyBucket(0)).toBe(0);
    expect(latencyBucket(99)).toBe(0);
    expect(latencyBucket(100)).toBe(1);
    expect(latencyBucket(4_999)).toBe(5);
    expect(latencyBucket(5_000)).toBe(6);
    expect(latencyBucket(999_999)).toBe(12);
    expect(latencyBucket(1_000_000)).toBe(13);
    expect(latencyBucket(1e12)).toBe(22);
  });

  it("put the targets on edges: gate 5 ms is the first 6 buckets, ingest 1 s the first 13", () => {
    expect(bucketsUnder(5_000)).toBe(6);
    expect(bucketsUnder(1_000_000)).toBe(13);
    expect(() => bucketsUnder(3_000)).toThrow(RangeError);
  });
});

describe("percentileUs", () => {
  it("interpolates inside the bucket the rank falls in, hand-computed", () => {
    // 90 calls in [0.5, 1) ms and 10 in [5, 10) ms, the slowest 8 ms.
    const h = histogram({ 3: 90, 6: 10 });
    expect(percentileUs(h, 8_000, 500)).toBeCloseTo(500 + (500 * 50) / 90, 9); // 777.78 µs
    expect(percentileUs(h, 8_000, 950)).toBe(5_000 + (3_000 * 5) / 10); // 6,500 µs
    expect(percentileUs(h, 8_000, 990)).toBe(5_000 + (3_000 * 9) / 10); // 7,700 µs
  });

  it("never answers above the largest latency, and reads the open bucket up to it", () => {
    // Ten calls of 1.5 ms: [1, 2) ms is capped at 1.5.
    expect(percentileUs(histogram({ 4: 10 }), 1_500, 500)).toBe(1_250);
    expect(percentileUs(histogram({ 4: 10 }), 1_500, 990)).toBe(1_495);
    // Two runs past 1,000 s, the longer 1,500 s.
    expect(percentileUs(histogram({ 22: 2 }), 1_500_000_000, 500)).toBe(1_250_000_000);
  });

  it("is null for an empty histogram", () => {
    expect(percentileUs(histogram({}), null, 990)).toBeNull();
  });

  it("lands in the bucket of the exact nearest-rank percentile, at most the largest", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.double({ min: 0, max: 12, noNaN: true }).map((e) => Math.round(10 ** e)),
          { minLength: 1, maxLength: 300 },
        ),
        fc.constantFrom(500, 900, 950, 990, 999),
        (latencies, permille) => {
          const agg = new PipelineAggregate();
          for (const us of latencies) agg.add(timed(us));
          const [cell] = agg.drain();
          if (!cell) throw new Error("no cell");
          const estimate = percentileUs(cell.buckets, cell.latency_max_us, permille) as number;
          const ordered = [...latencies].sort((a, b) => a - b);
          const exact = ordered[Math.ceil((latencies.length * permille) / 1000) - 1] as number;
          const b = latencyBucket(exact);
          const lo = b === 0 ? 0 : (LATENCY_BOUNDS_US[b - 1] as number);
          const hi = LATENCY_BOUNDS_US[b] ?? Infinity;
          expect(estimate).toBeGreaterThanOrEqual(lo);
          expect(estimate).toBeLessThanOrEqual(hi);
          expect(estimate).toBeLessThanOrEqual(ordered[ordered.length - 1] as number);
        },
      ),
    );
  });

  it("rises with the rank: p50 ≤ p95 ≤ p99 ≤ max", () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat(LATENCY_BUCKETS * 3), { minLength: LATENCY_BUCKETS, maxLength: 23 }),
        fc.nat(2_000_000_000),
        (counts, max) => {
          const h = counts.slice(0, LATENCY_BUCKETS);
          const top = h.reduce((m, c, i) => (c > 0 ? i : m), -1);
          if (top < 0) return;
          // A max consistent with the histogram: inside the highest non-empty bucket.
          const lo = top === 0 ? 0 : (LATENCY_BOUNDS_US[top - 1] as number);
          const hi = LATENCY_BOUNDS_US[top] ?? lo + max + 1;
          const maxUs = lo + (max % (hi - lo));
          const p = [500, 950, 990].map((q) => percentileUs(h, maxUs, q) as number);
          expect(p[0]).toBeLessThanOrEqual(p[1] as number);
          expect(p[1]).toBeLessThanOrEqual(p[2] as number);
          expect(p[2]).toBeLessThanOrEqual(maxUs);
        },
      ),
    );
  });
});

describe("PipelineAggregate", () => {
  it("keys cells by tenant, UTC hour, series and outcome; counts errors and items", () => {
    const agg = new PipelineAggregate();
    agg.add({ ...timed(1_200), at: T0 + 59 * 60_000 });
    agg.add({ ...timed(3_000), at: T0 + 10 });
    agg.add({ ...timed(900), at: T0 + HOUR_MS }); // the next hour
    agg.add({ ...timed(7_000), outcome: "error", error: true });
    agg.add({ tenantId: "t1", series: "ingest_rejection", outcome: "unknown_metric", at: T0 });
    agg.add({ tenantId: "t1", series: "ingest", outcome: "partial", at: T0, items: 40 });
    agg.add({ tenantId: "t2", series: "gate", outcome: "allow", at: T0, count: 3 });
    const cells = sorted(agg.drain());
    expect(agg.size).toBe(0);
    expect(cells.map((c) => [c.tenant_id, c.hour, c.series, c.outcome, c.count])).toEqual([
      ["t1", T0, "gate", "allow", 2],
      ["t1", T0, "gate", "error", 1],
      ["t1", T0, "ingest", "partial", 1],
      ["t1", T0, "ingest_rejection", "unknown_metric", 1],
      ["t1", T0 + HOUR_MS, "gate", "allow", 1],
      ["t2", T0, "gate", "allow", 3],
    ]);
    const allow = cells[0] as PipelineCell;
    expect(allow.latency_sum_us).toBe(4_200);
    expect(allow.latency_max_us).toBe(3_000);
    expect(allow.buckets).toEqual(histogram({ 4: 1, 5: 1 }));
    expect(cells[1]?.errors).toBe(1);
    expect(cells[2]?.items).toBe(40);
    // Untimed: counted, in no bucket, no max.
    expect(cells[3]?.buckets).toEqual(histogram({}));
    expect(cells[3]?.latency_max_us).toBeNull();
  });

  it("merges to the same cells whatever the split and order (flushes, isolates)", () => {
    const obs = fc.record({
      tenantId: fc.constantFrom("t1", "t2"),
      series: fc.constantFrom("gate" as const, "ingest" as const, "queue" as const),
      outcome: fc.constantFrom("allow", "error", "applied"),
      at: fc.integer({ min: T0, max: T0 + 3 * HOUR_MS }),
      count: fc.integer({ min: 1, max: 5 }),
      items: fc.nat(1_000),
      error: fc.boolean(),
      latencyUs: fc.option(fc.nat(5_000_000_000), { nil: undefined }),
    });
    fc.assert(
      fc.property(fc.array(fc.tuple(obs, fc.nat(2)), { maxLength: 80 }), (tagged) => {
        const whole = new PipelineAggregate();
        const parts = [new PipelineAggregate(), new PipelineAggregate(), new PipelineAggregate()];
        for (const [o, part] of tagged) {
          const clean = Object.fromEntries(
            Object.entries(o).filter(([, v]) => v !== undefined),
          ) as unknown as PipelineObservation;
          whole.add(clean);
          parts[part]?.add(clean);
        }
        const merged = new PipelineAggregate();
        for (const p of [...parts].reverse()) merged.merge(p.drain());
        expect(sorted(merged.drain())).toEqual(sorted(whole.drain()));
      }),
    );
  });
});

describe("burn rate", () => {
  it("is the error share over the 0.1 % a 99.9 % objective allows", () => {
    expect(burnRate(1, 1_000)).toBe(1);
    expect(burnRate(0, 50)).toBe(0);
    expect(burnRate(3, 100)).toBe(30);
    expect(burnRate(0, 0)).toBeNull();
  });
});

describe("rejection reasons", () => {
  it("name the field of the first schema error, CloudEvents' as the native field", () => {
    expect(schemaRejectionReason("quantity")).toBe("invalid_quantity");
    expect(schemaRejectionReason("cost.usd")).toBe("invalid_cost");
    expect(schemaRejectionReason("properties.region")).toBe("invalid_properties");
    expect(schemaRejectionReason("data.quantity")).toBe("invalid_quantity");
    expect(schemaRejectionReason("subject")).toBe("invalid_customer");
    expect(schemaRejectionReason("type")).toBe("invalid_metric");
    expect(schemaRejectionReason("")).toBe("invalid_event");
    expect(schemaRejectionReason("anything_else")).toBe("invalid_event");
  });
});

describe("the pipeline dataset's SQL", () => {
  it("fits D1's 100 bound parameters with every measure, ordered by a percentile", () => {
    const pipeline = DATASETS.find((d) => d.name === "pipeline");
    const checked = checkQuery(
      {
        dataset: "pipeline",
        measures: pipeline?.measures.map((m) => m.name) ?? [],
        dimensions: ["time", "series", "outcome"],
        filters: [{ dimension: "series", op: "is", values: ["gate", "ingest"] }],
        time: { from: "2026-11-01T00:00:00Z", to: "2026-12-01T00:00:00Z", granularity: "day" },
        compare_to: "previous_period",
        order_by: [{ field: "p99_ms", direction: "desc" }],
      },
      "Europe/Berlin",
    );
    if (!checked.ok) throw new Error(JSON.stringify(checked.issues));
    const compiled = compileReport("t1", checked.query, checked.from, checked.to, T0);
    for (const q of [compiled.rows, compiled.totals, compiled.comparison?.query]) {
      expect(q?.sql).toContain("pipeline_hourly");
      expect(q?.parameters.length).toBeLessThan(100);
      // The tenant is always a bound parameter.
      expect(q?.parameters).toContain("t1");
    }
  });
});
