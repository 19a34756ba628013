import { describe, expect, it } from "vitest";
import {
  type AnomalySignal,
  type AnomalyState,
  type ClosedHour,
  evaluateHour,
  expectedUnits,
  newAnomalyState,
} from "../../../domain/detectors/anomaly";
import { type AnomalyPolicy, DEFAULT_ANOMALY_POLICY } from "../../../domain/detectors/policy";
import { makeRng, negativeBinomial, poisson } from "../../../domain/detectors/synthetic";
import { DAY_MS, HOUR_MS } from "../../../domain/detectors/time";

const START = Date.UTC(2026, 0, 5); // Monday 00:00 UTC
const hourAt = (i: number) => START + i * HOUR_MS;

/** Seasonal hourly mean: business-hours peak, quieter weekends. */
function seasonalMean(i: number, base: number): number {
  const t = hourAt(i);
  const h = Math.floor(t / HOUR_MS) % 24;
  const dow = (Math.floor(t / DAY_MS) + 3) % 7;
  const diurnal = Math.exp(0.8 * Math.cos((2 * Math.PI * (h - 14)) / 24));
  return base * diurnal * (dow >= 5 ? 0.5 : 1);
}

/** `weeks` of seasonal, overdispersed usage (NB, r = 50) around `base` units/hour. */
function seasonalSeries(weeks: number, base: number, seed = 1): number[] {
  const rng = makeRng(seed);
  return Array.from({ length: weeks * 168 }, (_, i) =>
    negativeBinomial(rng, seasonalMean(i, base), 50),
  );
}

interface Fed {
  state: AnomalyState;
  signals: AnomalySignal[];
  /** Hour index of each signal. */
  at: number[];
}

function feed(
  units: readonly number[],
  policy: AnomalyPolicy = DEFAULT_ANOMALY_POLICY,
  from: AnomalyState = newAnomalyState(),
  offset = 0,
  extra: (i: number) => Partial<ClosedHour> = () => ({}),
): Fed {
  let state = from;
  const signals: AnomalySignal[] = [];
  const at: number[] = [];
  units.forEach((u, k) => {
    const i = offset + k;
    const r = evaluateHour(
      state,
      { customer: "acme", metric: "api_calls", hour: hourAt(i), units: u, ...extra(i) },
      policy,
    );
    state = r.state;
    for (const s of r.signals) {
      signals.push(s);
      at.push(i);
    }
  });
  return { state, signals, at };
}

describe("BillableUnitAnomalyDetector", () => {
  it("stays silent on seasonal, noisy usage without anomalies", () => {
    for (const seed of [1, 2, 3]) {
      const { signals } = feed(seasonalSeries(6, 300, seed));
      expect(signals).toEqual([]);
    }
  });

  it("learns the seasonal shape: expectations follow hour of day and weekday", () => {
    const { state } = feed(seasonalSeries(4, 300));
    const next = 4 * 168; // Monday 00:00 of week 5
    const peak = expectedUnits(state, hourAt(next + 14)) ?? 0;
    const night = expectedUnits(state, hourAt(next + 2)) ?? 0;
    const weekendPeak = expectedUnits(state, hourAt(next + 5 * 24 + 14)) ?? 0;
    expect(peak / seasonalMean(next + 14, 300)).toBeGreaterThan(0.85);
    expect(peak / seasonalMean(next + 14, 300)).toBeLessThan(1.15);
    expect(night / seasonalMean(next + 2, 300)).toBeGreaterThan(0.8);
    expect(night / seasonalMean(next + 2, 300)).toBeLessThan(1.2);
    expect(weekendPeak / peak).toBeGreaterThan(0.4);
    expect(weekendPeak / peak).toBeLessThan(0.6);
  });

  it("flags a spike with sigma, pct_change, expected and observed", () => {
    const units = seasonalSeries(3, 300);
    const i = 2 * 168 + 2 * 24 + 15; // Wednesday 15:00, week 3
    units[i] = Math.round(seasonalMean(i, 300) * 5);
    const { signals, at } = feed(units, DEFAULT_ANOMALY_POLICY, newAnomalyState(), 0, (k) =>
      k === i ? { source_event_ids: ["evt_big_1", "evt_big_2"] } : {},
    );
    expect(at).toEqual([i]);
    const s = signals[0] as AnomalySignal;
    expect(s.detector).toBe("BillableUnitAnomalyDetector");
    expect(s.direction).toBe("spike");
    expect(s.customer).toBe("acme");
    expect(s.metric).toBe("api_calls");
    expect(s.idempotency_key).toBe("BillableUnitAnomalyDetector|acme|api_calls|2026-01-21T15:00Z");
    expect(s.window).toEqual({ start: hourAt(i), end: hourAt(i) + HOUR_MS });
    expect(s.details.observed).toBe(units[i]);
    expect(s.details.sigma).toBeGreaterThan(2);
    expect(s.magnitude).toBe(Math.abs(s.details.sigma));
    expect(s.details.pct_change).toBeGreaterThan(250);
    expect(s.details.expected / seasonalMean(i, 300)).toBeGreaterThan(0.8);
    expect(s.details.expected / seasonalMean(i, 300)).toBeLessThan(1.2);
    expect(s.details.k).toBe(2);
    expect(s.source_event_ids).toEqual(["evt_big_1", "evt_big_2"]);
  });

  it("flags a drop, and a night-time drop too (the baseline knows the night)", () => {
    const units = seasonalSeries(3, 300);
    const day = 2 * 168 + 24 + 11; // Tuesday 11:00, week 3
    const night = 2 * 168 + 3 * 24 + 3; // Thursday 03:00, week 3
    units[day] = Math.round(seasonalMean(day, 300) * 0.1);
    units[night] = Math.round(seasonalMean(night, 300) * 0.05);
    const { signals, at } = feed(units);
    expect(at).toEqual([day, night]);
    expect(signals.map((s) => s.direction)).toEqual(["drop", "drop"]);
    expect(signals.every((s) => (s.details.pct_change ?? 0) < -80)).toBe(true);
    expect(signals.every((s) => s.details.sigma < -2)).toBe(true);
  });

  it("does not flag a dip that is only noise-sized, nor a +40 % hour", () => {
    const units = seasonalSeries(3, 300);
    const a = 2 * 168 + 13;
    const b = 2 * 168 + 24 + 13;
    units[a] = Math.round(seasonalMean(a, 300) * 0.8);
    units[b] = Math.round(seasonalMean(b, 300) * 1.4);
    expect(feed(units).signals).toEqual([]);
  });

  it("cold start: nothing before min_history_days, even for a ×10 hour", () => {
    const units = seasonalSeries(2, 300);
    for (const i of [30, 3 * 24 + 14, 6 * 24 + 14]) units[i] = (units[i] ?? 0) * 10;
    const { at } = feed(units);
    expect(at.filter((i) => i < 7 * 24)).toEqual([]);
    // After a week it speaks.
    const later = seasonalSeries(3, 300);
    later[2 * 168 + 14] = (later[2 * 168 + 14] ?? 0) * 10;
    expect(feed(later).at).toEqual([2 * 168 + 14]);
  });

  it("the history requirement is policy", () => {
    const units = seasonalSeries(3, 300);
    units[9 * 24 + 14] = (units[9 * 24 + 14] ?? 0) * 10;
    expect(feed(units).at).toEqual([9 * 24 + 14]);
    expect(feed(units, { ...DEFAULT_ANOMALY_POLICY, min_history_days: 14 }).at).toEqual([]);
  });

  it("silence: a customer that stops raises drop signals for the skipped hours, then goes quiet", () => {
    const units = seasonalSeries(3, 300);
    const { state } = feed(units);
    // Nothing arrives for two days; the next closed hour is passed after the gap.
    const resume = 3 * 168 + 48;
    const r = evaluateHour(state, {
      customer: "acme",
      metric: "api_calls",
      hour: hourAt(resume),
      units: 0,
    });
    expect(r.signals.length).toBeGreaterThan(0);
    expect(r.signals.length).toBeLessThanOrEqual(DEFAULT_ANOMALY_POLICY.regime_shift_hours);
    expect(r.signals.every((s) => s.direction === "drop" && s.source_event_ids.length === 0)).toBe(
      true,
    );
    expect(r.signals[0]?.window.start).toBe(hourAt(3 * 168));
    expect(r.state.last_hour).toBe(hourAt(resume));
    // Explicit zero hours give the same signals as a skipped stretch.
    const zeros = feed(new Array<number>(49).fill(0), DEFAULT_ANOMALY_POLICY, state, 3 * 168);
    expect(zeros.signals).toEqual(r.signals);
    expect(zeros.state).toEqual(r.state);
  });

  it("a very long silence is bounded work: at most regime_shift_hours drops, product carried", () => {
    const { state } = feed(seasonalSeries(3, 300));
    const r = evaluateHour(state, {
      customer: "acme",
      metric: "api_calls",
      product: "chat-api",
      hour: hourAt(3 * 168 + 24 * 200),
      units: 0,
    });
    expect(r.signals.length).toBeGreaterThan(0);
    expect(r.signals.length).toBeLessThanOrEqual(DEFAULT_ANOMALY_POLICY.regime_shift_hours);
    expect(r.signals.every((s) => s.product === "chat-api")).toBe(true);
    // Back after the silence: the first busy hours are spikes against a baseline of nothing.
    const back = evaluateHour(r.state, {
      customer: "acme",
      metric: "api_calls",
      hour: hourAt(3 * 168 + 24 * 200 + 14),
      units: 400,
    });
    expect(back.signals.map((s) => s.direction)).toEqual(["spike"]);
  });

  it("a permanent doubling raises at most regime_shift_hours spikes, then the baseline follows", () => {
    const units = seasonalSeries(5, 300).map((u, i) => (i >= 3 * 168 + 10 ? u * 2 : u));
    const { at, signals } = feed(units);
    expect(signals.every((s) => s.direction === "spike")).toBe(true);
    expect(at.length).toBeGreaterThan(0);
    expect(at.length).toBeLessThanOrEqual(DEFAULT_ANOMALY_POLICY.regime_shift_hours + 2);
    expect(Math.max(...at)).toBeLessThan(3 * 168 + 48);
  });

  it("a recurring weekly batch job (×4 every Monday 02:00) stops firing after a few weeks", () => {
    const units = seasonalSeries(10, 300).map((u, i) =>
      i % 168 === 2 ? Math.round(u + 3 * seasonalMean(i, 300)) : u,
    );
    const { at } = feed(units);
    const batch = at.filter((i) => i % 168 === 2).map((i) => Math.floor(i / 168));
    expect(batch.length).toBeGreaterThan(0); // the first ones are news
    expect(batch.length).toBeLessThanOrEqual(4);
    expect(at.filter((i) => i >= 6 * 168)).toEqual([]); // by week 7 it is the norm
  });

  it("replay: the same series from a fresh state gives identical signals and state", () => {
    const units = seasonalSeries(4, 80, 7);
    units[3 * 168 + 12] = 900;
    units[3 * 168 + 40] = 0;
    const a = feed(units);
    const b = feed(units);
    expect(a.signals.length).toBeGreaterThan(0);
    expect(b.signals).toEqual(a.signals);
    expect(b.state).toEqual(a.state);
  });

  it("a re-delivered closed hour yields nothing and leaves the state as it was", () => {
    const units = seasonalSeries(3, 300);
    const i = 2 * 168 + 14;
    units[i] = (units[i] ?? 0) * 6;
    const before = feed(units.slice(0, i));
    const input = { customer: "acme", metric: "api_calls", hour: hourAt(i), units: units[i] ?? 0 };
    const first = evaluateHour(before.state, input);
    expect(first.signals).toHaveLength(1);
    const again = evaluateHour(first.state, input);
    expect(again.signals).toEqual([]);
    expect(again.state).toBe(first.state);
    // Earlier hours too.
    expect(evaluateHour(first.state, { ...input, hour: hourAt(i - 5) }).signals).toEqual([]);
  });

  it("never mutates the state it is given", () => {
    const { state } = feed(seasonalSeries(2, 300));
    const frozen = JSON.stringify(state);
    evaluateHour(state, {
      customer: "acme",
      metric: "api_calls",
      hour: hourAt(2 * 168),
      units: 1e6,
    });
    evaluateHour(state, {
      customer: "acme",
      metric: "api_calls",
      hour: hourAt(2 * 168 + 30),
      units: 0,
    });
    expect(JSON.stringify(state)).toBe(frozen);
  });

  it("state survives a JSON round trip: continuing from it gives the same signals", () => {
    const units = seasonalSeries(4, 300, 3);
    units[3 * 168 + 15] = 5000;
    const half = feed(units.slice(0, 2 * 168 + 7));
    const thawed = JSON.parse(JSON.stringify(half.state)) as AnomalyState;
    const direct = feed(units.slice(2 * 168 + 7), DEFAULT_ANOMALY_POLICY, half.state, 2 * 168 + 7);
    const viaJson = feed(units.slice(2 * 168 + 7), DEFAULT_ANOMALY_POLICY, thawed, 2 * 168 + 7);
    expect(viaJson.signals).toEqual(direct.signals);
    expect(viaJson.state).toEqual(direct.state);
    expect(direct.signals).toHaveLength(1);
  });

  it("state is bounded: same shape after 1 week and after 30 weeks, under 6 KB of JSON", () => {
    const short = feed(seasonalSeries(1, 5000)).state;
    const long = feed(seasonalSeries(30, 5000)).state;
    const shape = (s: AnomalyState) =>
      Object.entries(s).map(([k, v]) => [k, Array.isArray(v) ? v.length : typeof v]);
    expect(shape(long)).toEqual(shape(short));
    expect(JSON.stringify(long).length).toBeLessThan(6000);
  });

  it("is unit-invariant when the caller passes event counts (tokens: 1,000 units per event)", () => {
    const units = seasonalSeries(4, 40, 5);
    units[3 * 168 + 13] = (units[3 * 168 + 13] ?? 0) * 6;
    units[3 * 168 + 61] = 0;
    const calls = feed(units, DEFAULT_ANOMALY_POLICY, newAnomalyState(), 0, (i) => ({
      events: units[i] ?? 0,
    }));
    const tokens = feed(
      units.map((u) => u * 1000),
      DEFAULT_ANOMALY_POLICY,
      newAnomalyState(),
      0,
      (i) => ({ events: units[i] ?? 0 }),
    );
    expect(calls.at.length).toBeGreaterThanOrEqual(2);
    expect(tokens.at).toEqual(calls.at);
    expect(tokens.signals.map((s) => s.direction)).toEqual(calls.signals.map((s) => s.direction));
  });

  it("the absolute gate: a low-volume hour of 2 instead of ~7 is noise, 0 instead of ~20 is not", () => {
    const units = seasonalSeries(3, 3, 11);
    const i = 2 * 168 + 14;
    units[i] = 2;
    expect(feed(units).at).not.toContain(i);
    const busier = seasonalSeries(3, 9, 11);
    busier[i] = 0;
    expect(feed(busier).at).toContain(i);
  });

  describe("window test (sums of 2-3 consecutive hours)", () => {
    // ~3 units/hour at peak-ish hours: Tuesday 08:00-10:00 of week 4 expect ~3, ~3.7, ~4.5.
    const first = 3 * 168 + 24 + 8;
    const lowDrop = () => {
      const units = seasonalSeries(4, 3, 2);
      for (let j = 0; j < 3; j++) units[first + j] = 0;
      return units;
    };

    it("a 3-hour low-volume drop no single hour could flag fires one window signal over those hours", () => {
      const { signals, at } = feed(lowDrop());
      expect(at).toEqual([first + 2]);
      const s = signals[0] as AnomalySignal;
      expect(s.direction).toBe("drop");
      expect(s.window).toEqual({ start: hourAt(first), end: hourAt(first + 3) });
      expect(s.details.hours).toBe(3);
      expect(s.details.basis).toBe("window");
      expect(s.details.observed).toBe(0);
      expect(s.details.expected).toBeGreaterThan(8); // the sum clears the absolute gate
      expect(s.details.expected).toBeLessThan(16);
      expect(s.details.sigma).toBeLessThan(-2.5);
      expect(s.magnitude).toBe(Math.abs(s.details.sigma));
      expect(s.idempotency_key).toBe(
        "BillableUnitAnomalyDetector|acme|api_calls|2026-01-27T08:00Z|3h",
      );
      // Single hours only (policy): nothing.
      expect(feed(lowDrop(), { ...DEFAULT_ANOMALY_POLICY, max_window_hours: 1 }).at).toEqual([]);
    });

    it("replay and a JSON round trip mid-window give identical window signals", () => {
      const units = lowDrop();
      const a = feed(units);
      const b = feed(units);
      expect(b.signals).toEqual(a.signals);
      expect(b.state).toEqual(a.state);
      // Cut between the first and second hour of the drop: the window history is in the state.
      const half = feed(units.slice(0, first + 1));
      const thawed = JSON.parse(JSON.stringify(half.state)) as AnomalyState;
      const rest = units.slice(first + 1);
      const direct = feed(rest, DEFAULT_ANOMALY_POLICY, half.state, first + 1);
      const viaJson = feed(rest, DEFAULT_ANOMALY_POLICY, thawed, first + 1);
      expect(viaJson.signals).toEqual(direct.signals);
      expect(viaJson.state).toEqual(direct.state);
      expect([...half.signals, ...direct.signals]).toEqual(a.signals);
    });

    it("a 1-hour spike already flagged produces no window signal, even if the next hour leans up", () => {
      for (const base of [300, 6]) {
        const units = seasonalSeries(3, base, 4);
        const i = 2 * 168 + 2 * 24 + 14;
        units[i] = Math.round(seasonalMean(i, base) * 6);
        units[i + 1] = Math.round(seasonalMean(i + 1, base) * 1.3);
        const { signals, at } = feed(units);
        expect(at[0]).toBe(i);
        expect(signals[0]?.details.basis).toBe("hour");
        expect(signals.filter((s) => s.details.basis === "window")).toEqual([]);
        expect(at.filter((j) => j > i && j < i + 4)).toEqual([]);
      }
    });

    it("windows never overlap an hour already covered in the same direction", () => {
      // A customer at ~3/hour stops for good: windows, then continuations, then the level re-bases.
      const units = seasonalSeries(4, 3, 6).map((u, i) => (i >= 3 * 168 + 24 + 9 ? 0 : u));
      const { signals } = feed(units);
      expect(signals.length).toBeGreaterThan(0);
      expect(signals.length).toBeLessThanOrEqual(DEFAULT_ANOMALY_POLICY.regime_shift_hours);
      expect(signals.every((s) => s.direction === "drop")).toBe(true);
      for (let k = 1; k < signals.length; k++) {
        expect(signals[k]?.window.start).toBeGreaterThanOrEqual(signals[k - 1]?.window.end ?? 0);
      }
    });
  });

  describe("feeds: what an event is", () => {
    it("a dense aggregate feed (one event per hour carrying its total) is judged like counts", () => {
      const units = seasonalSeries(4, 50, 1);
      const drop = 3 * 168 + 24 + 11;
      const spike = 3 * 168 + 72 + 15;
      units[drop] = 0;
      units[spike] = Math.round(seasonalMean(spike, 50) * 4);
      const counts = feed(units);
      const aggregate = feed(units, DEFAULT_ANOMALY_POLICY, newAnomalyState(), 0, (i) => ({
        events: (units[i] ?? 0) > 0 ? 1 : 0,
      }));
      expect(counts.at).toEqual([drop, spike]);
      expect(aggregate.at).toEqual(counts.at);
      // Units per event is a whole hour's usage; the gate does not use it for such a feed.
      expect(aggregate.state.upe).toBeGreaterThan(20);
    });

    it("a lumpy aggregate (tool calls that come ~10 per session) is judged in sessions", () => {
      // One event per hour carrying its tool calls: ~4-18 sessions an hour, each 6-14 calls, so
      // busy hours are never empty. An hour a few sessions short is ordinary and must not page;
      // a real surge of sessions still fires.
      const toolCalls = (seed: number) => {
        const rng = makeRng(seed);
        return Array.from({ length: 6 * 168 }, (_, i) => {
          let t = 0;
          for (let n = poisson(rng, seasonalMean(i, 8)); n > 0; n--) t += 6 + Math.floor(rng() * 9);
          return t;
        });
      };
      const surge = 5 * 168 + 2 * 24 + 14;
      let ordinary = 0;
      let asCounts = 0;
      for (const seed of [1, 2, 3, 4]) {
        const calls = toolCalls(seed);
        calls[surge] = Math.round(seasonalMean(surge, 8) * 10 * 3);
        const perReport = (i: number) => ({ events: (calls[i] ?? 0) > 0 ? 1 : 0 });
        const { at } = feed(calls, DEFAULT_ANOMALY_POLICY, newAnomalyState(), 0, perReport);
        expect(at).toContain(surge);
        ordinary += at.filter((j) => j !== surge).length;
        // Taken as plain counts (no events passed), a missing session looks like a drop.
        asCounts += feed(calls).at.filter((j) => j !== surge).length;
      }
      expect(ordinary).toBeLessThanOrEqual(1);
      expect(asCounts).toBeGreaterThan(10);
    });

    it("a sparse single-event feed (each event one request of ~1,500 tokens) is not flooded", () => {
      for (const seed of [1, 2, 3]) {
        const rng = makeRng(seed);
        const requests = Array.from({ length: 6 * 168 }, (_, i) =>
          poisson(rng, seasonalMean(i, 0.7)),
        );
        const tokens = requests.map((n) => {
          let t = 0;
          for (let j = 0; j < n; j++) t += Math.round(1500 * Math.exp(0.4 * (rng() - 0.5)));
          return t;
        });
        const oneEvent = feed(tokens, DEFAULT_ANOMALY_POLICY, newAnomalyState(), 0, (i) => ({
          events: (tokens[i] ?? 0) > 0 ? 1 : 0,
        }));
        const perRequest = feed(tokens, DEFAULT_ANOMALY_POLICY, newAnomalyState(), 0, (i) => ({
          events: requests[i] ?? 0,
        }));
        expect(oneEvent.signals).toEqual([]);
        expect(perRequest.signals.length).toBeLessThanOrEqual(1);
      }
      // The same tokens taken as plain counts (no event counts) would page every few days.
      const rng = makeRng(1);
      const tokens = Array.from({ length: 6 * 168 }, (_, i) => {
        let t = 0;
        for (let j = poisson(rng, seasonalMean(i, 0.7)); j > 0; j--)
          t += Math.round(1500 * Math.exp(0.4 * (rng() - 0.5)));
        return t;
      });
      expect(feed(tokens).signals.length).toBeGreaterThan(5);
    });

    it("a state saved by version 1 carries on (window history and feed shape start afresh)", () => {
      const units = seasonalSeries(4, 300, 3);
      units[3 * 168 + 15] = 5000;
      const half = feed(units.slice(0, 2 * 168 + 7));
      const {
        run_last: _r,
        win_y: _y,
        win_e: _e,
        win_z: _z,
        win_w: _w,
        win_ok: _o,
        win_flag: _f,
        var_w: _v,
        var_raw: _vr,
        ev_multi: _m,
        ev_var: _ev,
        zero_rate: _zr,
        zero_n: _zn,
        ...v1
      } = half.state;
      const old = { ...v1, v: 1 } as unknown as AnomalyState;
      const rest = feed(units.slice(2 * 168 + 7), DEFAULT_ANOMALY_POLICY, old, 2 * 168 + 7);
      expect(rest.state.v).toBe(2);
      expect(rest.at).toEqual([3 * 168 + 15]);
      expect(Object.keys(rest.state).sort()).toEqual(Object.keys(newAnomalyState()).sort());
    });
  });

  it("a larger k flags less", () => {
    const units = seasonalSeries(4, 200, 9);
    for (const i of [2 * 168 + 14, 3 * 168 + 14]) units[i] = Math.round((units[i] ?? 0) * 1.8);
    const loose = feed(units, { ...DEFAULT_ANOMALY_POLICY, k: 1 }).signals.length;
    const normal = feed(units).signals.length;
    const strict = feed(units, { ...DEFAULT_ANOMALY_POLICY, k: 6 }).signals.length;
    expect(loose).toBeGreaterThanOrEqual(normal);
    expect(normal).toBeGreaterThanOrEqual(strict);
    expect(loose).toBeGreaterThan(strict);
  });
});
