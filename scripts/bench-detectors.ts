// Micro-benchmark and quality report for the detectors (SPEC §10: "under 2 µs per event for
// all four together"; "actor memory bounded"; anomaly precision/recall; pacing MAPE).
//
// Run (the domain modules import siblings without extensions, so bundle first):
//   npx esbuild scripts/bench-detectors.ts --bundle --platform=node --format=esm \
//     --outfile=/tmp/bench-detectors.mjs && node /tmp/bench-detectors.mjs [--quick]
//
// The per-event path is modelled on the customer actor: per event it adds the event to the open
// hour's accumulator (units, event count, the ids of the hour's 5 largest events) and runs the
// quota pacing check for the event's metric and the margin checks for the customer and the
// customer × product; the anomaly evaluation runs once per closed hour per metric and the churn
// evaluation once per closed day per product, amortised over the hour's events (100 per hour
// here). One customer with 3 metrics in 2 products, 52 weeks of event time.

import { nthPeriod } from "../domain/billing-period";
import { type AnomalyState, evaluateHour, newAnomalyState } from "../domain/detectors/anomaly";
import { type ChurnState, evaluateDay, newChurnState } from "../domain/detectors/churn";
import { evaluateCostHour, newCostSpikeState } from "../domain/detectors/cost-spike";
import { FEED_GENERATORS, measureFeed } from "../domain/detectors/feeds";
import { checkMargin, type MarginState, newMarginState } from "../domain/detectors/margin-guard";
import { DEFAULT_POLICIES } from "../domain/detectors/policy";
import {
  type AnomalyFeed,
  measureAnomalyQuality,
  measureChurnCases,
  measureMarginCases,
  measurePacingCases,
  measurePacingMape,
} from "../domain/detectors/quality";
import {
  newQuotaPacingState,
  observePacing,
  type QuotaPacingState,
} from "../domain/detectors/quota-pacing";
import { gamma, makeRng, negativeBinomial } from "../domain/detectors/synthetic";
import { DAY_MS, HOUR_MS, hourOfDay, isWeekend } from "../domain/detectors/time";
// @ts-expect-error: a plain ESM script with JSDoc types; the part used here is typed below.
import * as demoData from "./lib/demo-data.mjs";

const { buildDemo, STORIES } = demoData as {
  buildDemo: (o: { anchor: number }) => {
    windowStart: number;
    series: { customer: string; metrics: string[]; q: Float64Array[] }[];
  };
  STORIES: Record<string, string>;
};

const quick = process.argv.includes("--quick");
const EVENTS_PER_HOUR = 100;
const START = Date.UTC(2026, 0, 5); // a Monday
const METRICS = [
  { metric: "input_tokens", product: "chat-api", unitsPerEvent: 1200, price: 3e-6, cost: 2e-6 },
  { metric: "output_tokens", product: "chat-api", unitsPerEvent: 330, price: 15e-6, cost: 9e-6 },
  { metric: "agent_sessions", product: "agents", unitsPerEvent: 1, price: 0.05, cost: 0.04 },
] as const;
const PRODUCTS = ["chat-api", "agents"] as const;

// --- a customer's detector state, as the actor would hold it --------------------------------

interface CustomerDetectors {
  anomaly: AnomalyState[];
  churn: ChurnState[];
  pacing: QuotaPacingState[];
  margin: MarginState[]; // "*", then each product
}

const newCustomer = (): CustomerDetectors => ({
  anomaly: METRICS.map(() => newAnomalyState()),
  churn: PRODUCTS.map(() => newChurnState()),
  pacing: METRICS.map(() => newQuotaPacingState()),
  margin: [newMarginState(), ...PRODUCTS.map(() => newMarginState())],
});

/** The open hour of one metric: what evaluateHour needs when the hour closes. */
interface HourAccumulator {
  units: number;
  events: number;
  topIds: string[];
  topUnits: number[];
}

const newAcc = (): HourAccumulator => ({ units: 0, events: 0, topIds: [], topUnits: [] });

function addToHour(acc: HourAccumulator, id: string, units: number) {
  acc.units += units;
  acc.events++;
  const top = acc.topUnits;
  if (top.length === 5 && units <= (top[4] as number)) return;
  let i = top.length < 5 ? top.length : 4;
  while (i > 0 && (top[i - 1] as number) < units) i--;
  top.splice(i, 0, units);
  acc.topIds.splice(i, 0, id);
  if (top.length > 5) {
    top.pop();
    acc.topIds.pop();
  }
}

// --- workload: one year of events, precomputed so the timed loop only runs detectors --------

interface Events {
  n: number;
  time: Float64Array;
  metric: Uint8Array;
  units: Float64Array;
  ids: string[];
}

function makeEvents(weeks: number): Events {
  const rng = makeRng(42);
  const hours = weeks * 168;
  const n = hours * EVENTS_PER_HOUR;
  const ev: Events = {
    n,
    time: new Float64Array(n),
    metric: new Uint8Array(n),
    units: new Float64Array(n),
    ids: new Array<string>(n),
  };
  for (let h = 0; h < hours; h++) {
    for (let k = 0; k < EVENTS_PER_HOUR; k++) {
      const i = h * EVENTS_PER_HOUR + k;
      const m = k % 3;
      ev.time[i] = START + h * HOUR_MS + Math.floor((k * HOUR_MS) / EVENTS_PER_HOUR);
      ev.metric[i] = m;
      ev.units[i] = Math.max(1, negativeBinomial(rng, METRICS[m]?.unitsPerEvent ?? 1, 4));
      ev.ids[i] = `evt_${i.toString(36)}`;
    }
  }
  return ev;
}

interface RunResult {
  state: CustomerDetectors;
  signals: number;
  hourCloses: number;
  dayCloses: number;
}

/** Replays `ev` through one customer's detectors, exactly as the actor's per-event path would;
 * optionally snapshots the state (via JSON) after the given numbers of closed hours. */
function run(ev: Events, stateAt?: { hours: number[]; out: CustomerDetectors[] }): RunResult {
  const st = newCustomer();
  const acc = METRICS.map(() => newAcc());
  const dayUnits = PRODUCTS.map(() => ({}) as Record<string, number>);
  let period = nthPeriod(START, "month", 0);
  let periodN = 0;
  const usage = [0, 0, 0];
  const revenue = [0, 0, 0]; // "*", chat-api, agents
  const cogs = [0, 0, 0];
  let openHour = START;
  let signals = 0;
  let hourCloses = 0;
  let dayCloses = 0;
  for (let i = 0; i < ev.n; i++) {
    const t = ev.time[i] as number;
    // Hour close (the watermark passed the open hour): anomaly per metric, churn at day end.
    if (t >= openHour + HOUR_MS) {
      for (let m = 0; m < METRICS.length; m++) {
        const a = acc[m] as HourAccumulator;
        const spec = METRICS[m];
        if (!spec) continue;
        const r = evaluateHour(
          st.anomaly[m] as AnomalyState,
          {
            customer: "acme",
            metric: spec.metric,
            hour: openHour,
            units: a.units,
            events: a.events,
            source_event_ids: a.topIds,
          },
          DEFAULT_POLICIES.anomaly,
        );
        st.anomaly[m] = r.state;
        signals += r.signals.length;
        const p = PRODUCTS.indexOf(spec.product);
        const du = dayUnits[p] as Record<string, number>;
        du[spec.metric] = (du[spec.metric] ?? 0) + a.units;
        acc[m] = newAcc();
        hourCloses++;
      }
      if ((openHour + HOUR_MS) % DAY_MS === 0) {
        for (let p = 0; p < PRODUCTS.length; p++) {
          const r = evaluateDay(
            st.churn[p] as ChurnState,
            {
              customer: "acme",
              product: PRODUCTS[p] as string,
              day: openHour,
              units: dayUnits[p] as Record<string, number>,
            },
            DEFAULT_POLICIES.churn,
          );
          st.churn[p] = r.state;
          signals += r.signals.length;
          dayUnits[p] = {};
          dayCloses++;
        }
      }
      openHour += HOUR_MS;
      if (stateAt?.hours.includes((openHour - START) / HOUR_MS)) {
        stateAt.out.push(JSON.parse(JSON.stringify(st)));
      }
    }
    if (t >= period.end) {
      period = nthPeriod(START, "month", ++periodN);
      usage.fill(0);
      revenue.fill(0);
      cogs.fill(0);
    }
    // Per event: accumulator, pacing for the event's metric, margin for customer and product.
    const m = ev.metric[i] as number;
    const spec = METRICS[m];
    if (!spec) continue;
    const u = ev.units[i] as number;
    const id = ev.ids[i] as string;
    addToHour(acc[m] as HourAccumulator, id, u);
    usage[m] = (usage[m] ?? 0) + u;
    const pr = PRODUCTS.indexOf(spec.product) + 1;
    const rev = u * spec.price;
    const cost = u * spec.cost;
    revenue[0] = (revenue[0] ?? 0) + rev;
    cogs[0] = (cogs[0] ?? 0) + cost;
    revenue[pr] = (revenue[pr] ?? 0) + rev;
    cogs[pr] = (cogs[pr] ?? 0) + cost;
    const ids = [id];
    const pace = observePacing(
      st.pacing[m] as QuotaPacingState,
      {
        customer: "acme",
        metric: spec.metric,
        at: t,
        usage: usage[m] as number,
        quota: spec.unitsPerEvent * 24_000,
        period,
        source_event_ids: ids,
      },
      DEFAULT_POLICIES.quota_pacing,
    );
    st.pacing[m] = pace.state;
    signals += pace.signals.length;
    const all = checkMargin(
      st.margin[0] as MarginState,
      {
        customer: "acme",
        at: t,
        period,
        revenue: revenue[0] ?? 0,
        cogs: cogs[0] ?? 0,
        source_event_ids: ids,
      },
      DEFAULT_POLICIES.margin,
    );
    st.margin[0] = all.state;
    const one = checkMargin(
      st.margin[pr] as MarginState,
      {
        customer: "acme",
        product: spec.product,
        at: t,
        period,
        revenue: revenue[pr] ?? 0,
        cogs: cogs[pr] ?? 0,
        source_event_ids: ids,
      },
      DEFAULT_POLICIES.margin,
    );
    st.margin[pr] = one.state;
    signals += all.signals.length + one.signals.length;
  }
  return { state: st, signals, hourCloses, dayCloses };
}

/** Times `fn` over `calls` calls, best of `rounds`; µs per call. */
function timeIt(rounds: number, calls: number, fn: () => void): number {
  let best = Number.POSITIVE_INFINITY;
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    fn();
    const ns = Number(process.hrtime.bigint() - t0);
    best = Math.min(best, ns / calls / 1000);
  }
  return best;
}

/** The state's shape: every key path with the type of its value (array lengths included). */
function shape(x: unknown, path = ""): string[] {
  if (Array.isArray(x))
    return [`${path}[${x.length}]`, ...x.flatMap((v, i) => shape(v, `${path}.${i}`))];
  if (x && typeof x === "object") {
    return Object.entries(x).flatMap(([k, v]) => shape(v, `${path}.${k}`));
  }
  // A string or null slot (churn's fired_week) holds at most an ISO week label.
  return [`${path}:${typeof x === "number" ? "number" : "label"}`];
}

function countNumbers(x: unknown): number {
  return shape(x).filter((p) => p.endsWith(":number")).length;
}

const fmt = (x: number, d = 3) => x.toFixed(d);
const line = (label: string, value: string) => console.log(`  ${label.padEnd(58)} ${value}`);

function main() {
  console.log(`Aforo detectors benchmark (Node ${process.version}, ${quick ? "quick" : "full"})\n`);

  // 1. Per-event cost of all four together.
  const weeks = quick ? 8 : 52;
  const ev = makeEvents(weeks);
  run(makeEvents(2)); // warm-up
  let result: RunResult | undefined;
  const perEvent = timeIt(quick ? 2 : 3, ev.n, () => {
    result = run(ev);
  });
  console.log("Per-event cost, all four detectors (one customer, 3 metrics / 2 products)");
  line("events", `${ev.n.toLocaleString("en")} (${EVENTS_PER_HOUR}/hour, ${weeks} weeks)`);
  line(
    "hour closes (anomaly) / day closes (churn)",
    `${result?.hourCloses} / ${result?.dayCloses}`,
  );
  line("signals raised", `${result?.signals}`);
  line("µs per event, all four together (target < 2)", fmt(perEvent));

  // Breakdown: the per-event checks alone, and one hour / day evaluation.
  const hourly = newAnomalyState();
  let a = hourly;
  const hours = 24 * 7 * 8;
  const hourUs = timeIt(3, hours, () => {
    a = newAnomalyState();
    for (let h = 0; h < hours; h++) {
      a = evaluateHour(a, {
        customer: "acme",
        metric: "m",
        hour: START + h * HOUR_MS,
        units: 500 + (h % 24) * 20,
        events: 100,
      }).state;
    }
  });
  let c = newChurnState();
  const days = 400;
  const dayUs = timeIt(3, days, () => {
    c = newChurnState();
    for (let d = 0; d < days; d++) {
      c = evaluateDay(c, {
        customer: "acme",
        product: "p",
        day: START + d * DAY_MS,
        units: { a: 1000 + (d % 7) * 50, b: 2e6 },
      }).state;
    }
  });
  let q = newQuotaPacingState();
  const period = nthPeriod(START, "month", 0);
  const n = 200_000;
  const paceUs = timeIt(3, n, () => {
    q = newQuotaPacingState();
    for (let i = 0; i < n; i++) {
      q = observePacing(q, {
        customer: "acme",
        metric: "m",
        at: period.start + i * 10_000,
        usage: i * 3,
        quota: 1e9,
        period,
      }).state;
    }
  });
  let mg = newMarginState();
  const marginUs = timeIt(3, n, () => {
    mg = newMarginState();
    for (let i = 0; i < n; i++) {
      mg = checkMargin(mg, {
        customer: "acme",
        at: period.start + i * 10_000,
        period,
        revenue: 100 + i,
        cogs: 50 + i * 0.5,
      }).state;
    }
  });
  let cs = newCostSpikeState();
  const costUs = timeIt(3, hours, () => {
    cs = newCostSpikeState();
    for (let h = 0; h < hours; h++) {
      cs = evaluateCostHour(cs, {
        customer: "acme",
        product: "p",
        hour: START + h * HOUR_MS,
        cost: 20 + (h % 24),
      }).state;
    }
  });
  line("  evaluateHour (anomaly), µs per call", fmt(hourUs));
  line("  evaluateDay (churn, 2 metrics), µs per call", fmt(dayUs));
  line("  observePacing, µs per call", fmt(paceUs));
  line("  checkMargin, µs per call", fmt(marginUs));
  line(
    "  amortised anomaly + churn per event (3 metrics, 2 products)",
    fmt((3 * hourUs) / EVENTS_PER_HOUR + (2 * dayUs) / (24 * EVENTS_PER_HOUR)),
  );
  line("  evaluateCostHour (COGS spike), µs per call", fmt(costUs));
  line(
    "  amortised COGS spike per event (2 products; fifth detector)",
    fmt((2 * costUs) / EVENTS_PER_HOUR),
  );
  line(
    "  state of one (customer, product), JSON bytes",
    `${Buffer.byteLength(JSON.stringify(cs))}`,
  );

  // 2. Bounded state: the same customer after 1 week … 52 weeks.
  const snaps: CustomerDetectors[] = [];
  const marks = quick ? [1, 4, 8] : [1, 4, 26, 52];
  // One more week of events, so that the last mark's hour is closed.
  run(makeEvents((marks[marks.length - 1] ?? 1) + 1), {
    hours: marks.map((w) => w * 168),
    out: snaps,
  });
  const finalState = snaps[snaps.length - 1] as CustomerDetectors;
  console.log("\nState per customer (3 metrics / 2 products), serialised as JSON");
  const bytes = (s: unknown) => Buffer.byteLength(JSON.stringify(s));
  snaps.forEach((snap, i) => {
    line(
      `after ${marks[i]} week(s): JSON bytes / numbers`,
      `${bytes(snap)} / ${countNumbers(snap)}`,
    );
  });
  const part = (k: keyof CustomerDetectors) => `${bytes(finalState[k])} B`;
  line("  anomaly (3 metrics)", part("anomaly"));
  line("  churn (2 products)", part("churn"));
  line("  quota pacing (3 metrics)", part("pacing"));
  line("  margin (customer + 2 products)", part("margin"));
  const same = snaps.every((s) => shape(s).join() === shape(snaps[0]).join());
  line("bounded: identical shape (keys, array lengths, slots) at every mark", same ? "yes" : "NO");
  line(
    "  (bytes differ only by digits: 1 → 0.973412 as factors are learned)",
    `max ${Math.max(...snaps.map(bytes))} B`,
  );

  // 3. Anomaly quality with the shipped defaults. Hour-level: every hour inside a signal's
  // window counts as flagged; episode-level: an injected run is found if any hour is flagged.
  const seeds = quick ? [1, 2] : [1, 2, 3, 4, 5];
  const aq = measureAnomalyQuality(seeds);
  console.log(
    `\nBillableUnitAnomalyDetector quality, shipped defaults (seeds ${seeds.join(",")}: ` +
      `${aq.series} series, ${aq.hours.toLocaleString("en")} hours, 8 weeks each)`,
  );
  console.log(
    "  hour-level precision / recall / recall over oracle-detectable hours; episode recall " +
      "[counts; detectable share alone / with the episode's sum]",
  );
  const row = (label: string, s: typeof aq.overall) =>
    line(
      label,
      `P ${fmt(s.precision)}  R ${fmt(s.recall)}  Rdet ${fmt(s.recall_detectable)}  ` +
        `episodes ${fmt(s.episode_recall)} (${s.episodes_found}/${s.episodes})  ` +
        `[tp ${s.tp} fp ${s.fp} fn ${s.fn}; det ${fmt(s.detectable_share, 2)} / ${fmt(
          s.window_detectable_share,
          2,
        )}]`,
    );
  const signalsLine = (label: string, q: typeof aq) =>
    line(
      label,
      `${q.signals} signals, ${q.false_signals} on no injected hour ` +
        `(${fmt((q.false_signals / q.hours) * 1000, 2)} per 1,000 hours); ` +
        `false-positive hours ${fmt((q.overall.fp / q.hours) * 1000, 2)} per 1,000`,
    );
  row("all tiers", aq.overall);
  for (const t of aq.byTier) row(`  ${t.tier} units/hour`, t.score);
  signalsLine("  signals", aq);
  row("naive global-mean 2σ, all tiers", aq.naive);
  for (const t of aq.naiveByTier) row(`  naive, ${t.tier} units/hour`, t.score);
  const single = measureAnomalyQuality(seeds, { ...DEFAULT_POLICIES.anomaly, max_window_hours: 1 });
  row("single hours only (max_window_hours 1)", single.overall);
  row("  5 units/hour", single.byTier[0]?.score ?? single.overall);
  line(
    "σ calibration on ordinary hours: P(|z| > 2), E[z²]",
    `${fmt(aq.calibration.share_abs_z_over_2)}, ${fmt(aq.calibration.mean_z2)} (honest: 0.046, 1)`,
  );
  for (const c of aq.window_calibration) {
    line(
      `  sums of ${c.hours_in_window} ordinary hours (window σ)`,
      `${fmt(c.share_abs_z_over_2)}, ${fmt(c.mean_z2)}`,
    );
  }
  const variants: [string, Parameters<typeof measureAnomalyQuality>[2], AnomalyFeed][] = [
    [
      "noisier usage (r 6-30, day shocks 10-20 %)",
      { dispersion: [6, 30], dayShock: [0.1, 0.2] },
      "counts",
    ],
    ["anomalies on 0.5 % of hours", { anomalyRate: 0.005 }, "counts"],
    ["aggregate feed (one event per hour)", {}, "aggregate"],
    ["tokens (~1,000 units/event, CV 0.53)", {}, "tokens"],
    ["tokens, heavy-tailed sizes (CV 1.31)", {}, "tokens_heavy"],
  ];
  for (const [label, workload, feed] of variants) {
    const q = measureAnomalyQuality(seeds, DEFAULT_POLICIES.anomaly, workload, feed);
    row(label, q.overall);
    for (const t of q.byTier) row(`  ${t.tier} units/hour`, t.score);
    signalsLine("  signals", q);
  }

  // 3a. Independent event-level feeds (domain/detectors/feeds.ts): how the usage reaches Aforo
  // (one event per call, a collector's flushes, per-minute or hourly totals, tokens per request
  // or per hour) at the shipped defaults, seeds pooled.
  const feedSeeds = quick ? [1] : [1, 2, 3];
  console.log(
    `\nIndependent feeds, shipped defaults (seeds ${feedSeeds.join(",")}; hour-level P / R, ` +
      "recall over oracle-detectable hours, episode recall; share of injected hours an oracle " +
      "can tell from noise alone / with the episode's sum)",
  );
  for (const g of FEED_GENERATORS) {
    const q = measureFeed(g, feedSeeds);
    const s = q.score;
    line(
      `${g.name}: ${g.about}`.slice(0, 58),
      `P ${fmt(s.precision)}  R ${fmt(s.recall)}  Rdet ${fmt(s.recall_detectable)}  ` +
        `episodes ${fmt(s.episode_recall)} (${s.episodes_found}/${s.episodes})  ` +
        `[tp ${s.tp} fp ${s.fp} fn ${s.fn}; det ${fmt(s.detectable_share, 2)} / ${fmt(
          s.window_detectable_share,
          2,
        )}; ${q.series} series]`,
    );
  }

  // 3b. The demo customers of `npm start` (scripts/lib/demo-data.mjs): ~200 customers, 90 days,
  // each report one event carrying an hour's (or, for small customers, 2, 3 or 6 hours') units,
  // tokens and tool calls of a handful of requests among them; 12 % carry an injected spike, the
  // spiky-labs story three. Signals per 1,000 series-hours as shipped, and as they would be if a
  // single event's units were taken as counts (events omitted).
  if (!quick) {
    const demo = buildDemo({ anchor: Date.UTC(2026, 2, 2) });
    const stories = new Set(Object.values(STORIES));
    for (const passEvents of [true, false]) {
      let judged = 0;
      let raised = 0;
      let story = 0;
      for (const s of demo.series) {
        s.metrics.forEach((metric, m) => {
          const q = s.q[m] ?? new Float64Array(0);
          const first = q.findIndex((x) => x > 0);
          if (first < 0) return;
          let st = newAnomalyState();
          for (let i = first; i < q.length; i++) {
            const units = q[i] ?? 0;
            const r = evaluateHour(st, {
              customer: s.customer,
              metric,
              hour: demo.windowStart + i * HOUR_MS,
              units,
              ...(passEvents ? { events: units > 0 ? 1 : 0 } : {}),
            });
            st = r.state;
            if (i - first >= 7 * 24) judged++;
            raised += r.signals.length;
            if (stories.has(s.customer)) story += r.signals.length;
          }
        });
      }
      line(
        passEvents
          ? "demo customers (npm start), one event per report"
          : "  the same taken as plain counts (events omitted)",
        `${raised} signals over ${judged.toLocaleString("en")} series-hours judged ` +
          `(${fmt((raised / judged) * 1000, 2)} per 1,000; ${story} on the story customers)`,
      );
    }
  }

  // 3c. CostSpikeDetector on synthetic hourly COGS: a daily shape, quieter weekends, ±16 % day
  // shocks and negative-binomial request counts (r = dispersion); false signals per 1,000 hours
  // and the share of injected ×5 hours found (one per run, after two weeks).
  console.log("\nCostSpikeDetector: synthetic hourly COGS, 8 weeks, shipped defaults");
  const costSeries = (seed: number, usd: number, r: number) => {
    const rng = makeRng(seed);
    const out: number[] = [];
    let shock = 1;
    for (let h = 0; h < 8 * 168; h++) {
      const t = START + h * HOUR_MS;
      if (h % 24 === 0) shock = gamma(rng, 40) / 40;
      const shape =
        (0.35 + 0.65 * Math.max(0, Math.sin(((hourOfDay(t) - 6) / 24) * 2 * Math.PI))) *
        (isWeekend(t) ? 0.6 : 1.2);
      out.push((negativeBinomial(rng, 100 * shape * shock, r) * usd) / 100);
    }
    return out;
  };
  const costSignals = (costs: number[]) => {
    let st = newCostSpikeState();
    const at: number[] = [];
    costs.forEach((cost, h) => {
      const r = evaluateCostHour(st, {
        customer: "acme",
        product: "p",
        hour: START + h * HOUR_MS,
        cost,
      });
      st = r.state;
      if (r.signals.length) at.push(h);
    });
    return at;
  };
  for (const r of [12, 30, 100]) {
    let falseSignals = 0;
    let found = 0;
    let runs = 0;
    for (const seed of quick ? [1, 2] : [1, 2, 3, 4, 5]) {
      for (const usd of [20, 200, 2000]) {
        const costs = costSeries(seed * 7 + usd, usd, r);
        falseSignals += costSignals(costs).length;
        const rng = makeRng(seed + 1000);
        for (let j = 0; j < 4; j++) {
          const hour = 14 * 24 + Math.floor(rng() * (costs.length - 15 * 24));
          const spiked = costs.slice();
          spiked[hour] = (spiked[hour] ?? 0) * 5;
          runs++;
          if (costSignals(spiked).includes(hour)) found++;
        }
      }
    }
    const hoursJudged = (quick ? 2 : 5) * 3 * 8 * 168;
    line(
      `dispersion r ${r}: false per 1,000 hours / ×5 hours found`,
      `${fmt((falseSignals / hoursJudged) * 1000, 2)} / ${found} of ${runs}`,
    );
  }

  // 4. Pacing MAPE and the case checks.
  console.log("\nQuotaPacingProjectionService: end-of-period projection error (MAPE)");
  for (const seed of quick ? [1] : [1, 2, 3]) {
    const m = measurePacingMape(seed);
    line(
      `seed ${seed}: linear vs weekday-weighted (${m.points} points)`,
      `${fmt(m.linear_mape, 2)} % vs ${fmt(m.weighted_mape, 2)} %`,
    );
    for (const b of m.by_elapsed) {
      line(
        `  ${Math.round(b.from * 100)}-${Math.round(b.to * 100)} % of the period elapsed`,
        `${fmt(b.linear_mape, 2)} % vs ${fmt(b.weighted_mape, 2)} %`,
      );
    }
  }
  console.log("\nInjected cases (every case found, no false ones)");
  for (const seed of quick ? [1] : [1, 2, 3]) {
    const p = measurePacingCases(seed);
    const ch = measureChurnCases(seed);
    const mg2 = measureMarginCases(seed);
    line(
      `seed ${seed}: pacing found / expected / false`,
      `${p.found} / ${p.expected} / ${p.false_signals}`,
    );
    line(
      `seed ${seed}: churn found / expected / false`,
      `${ch.found} / ${ch.expected} / ${ch.false_signals}`,
    );
    line(
      `seed ${seed}: margin found / expected / false`,
      `${mg2.found} / ${mg2.expected} / ${mg2.false_signals}`,
    );
  }
}

main();
