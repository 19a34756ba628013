// The demo tenant's data, seeded by `npm start` through the real API: the catalog, 15 months of
// subscription history and invoices through /api/*, and usage through POST /v1/events (hourly for
// the last WINDOW_DAYS, older history in 3-day aggregates), so every event is validated, rated,
// costed and rolled up exactly like production traffic.
//
// Two halves:
// - buildDemo({anchor, seed}) is pure and deterministic (seeded PRNG, no clock, no I/O): the
//   catalog, ~200 customers and their subscriptions, and every customer's hourly series for the
//   WINDOW_DAYS before `anchor` (an hour boundary), with seasonality, overdispersed noise, growth,
//   random spikes and four stories (see STORIES). Same anchor and seed → same data.
// - seedDemo({url, operatorToken, ingestKey, persistTo}) sends it. Idempotent and resumable: the
//   catalog tolerates 409 (already exists), event ids are deterministic
//   (`demo-<customer>-<metric>-<hour>`) so a re-sent batch comes back as duplicates, and progress
//   is kept in `<persistTo>/aforo-demo-seed.json` (the anchor too, so a resumed run regenerates
//   the same events). Once finished, running it again does nothing.
//
// Events go oldest first in chunks of a few days; inside a chunk they are grouped by customer
// (a 1,000-event batch holds one or a few customers, so one actor call carries many events), a
// customer's batches are never in flight together (its events arrive in time order), and a few
// requests run in parallel.

import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Bumped when the seed changes what an existing demo would lack (3: agent sessions, endpoints
 * and the provider × model rollups; 4: the session rollups the Agentic Session Analysis template
 * reads), so `npm start` seeds again. */
export const DEMO_VERSION = 4;
/** Days of hourly usage before the anchor (the detectors' history). */
export const WINDOW_DAYS = 63;
/** Days of subscription and usage history before the anchor: NRR's 12-month window, its
 * 30-day series and its delta 30 days earlier all start inside it, with a month of usage before. */
export const HISTORY_DAYS = 450;
/** Usage before the hourly window is sent as aggregates of this many days. */
export const OLD_STRIDE_DAYS = 3;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;
export const MAX_BATCH_EVENTS = 1000;
export const MAX_BATCH_BYTES = 1024 * 1024;
const MAX_QUANTITY = 1_000_000_000;
const BASE_PRICES_FROM = "2025-01-01T00:00:00Z";
/** Seeding progress, in the state directory next to aforo-demo.json. */
export const SEED_FILE = "aforo-demo-seed.json";
/** The generator's seed (buildDemo's default) and the payments' (seedBilling). */
const SEED = "aforo-demo-v2";

/** The story customers: an operator should recognise them on the dashboards. */
export const STORIES = {
  cogs_jump: "cogs-jumper",
  usage_collapse: "fading-co",
  quota_race: "quota-racer",
  usage_spikes: "spiky-labs",
};
/** Events for this customer are sent although the catalog does not know it (unknown_customer). */
export const UNKNOWN_CUSTOMER = "ghost-integration";

// ---------------------------------------------------------------------------------------------
// Seeded randomness

/** @param {string} text */
function hash32(text) {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return h >>> 0;
}

/** A small seeded PRNG (mulberry32) with the distributions the generator needs. */
export class Rng {
  /** @param {string} seed */
  constructor(seed) {
    this.state = hash32(seed) || 1;
    /** @type {number | null} */
    this.spare = null;
  }
  /** Uniform in [0, 1). */
  next() {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** @param {number} a @param {number} b */
  uniform(a, b) {
    return a + (b - a) * this.next();
  }
  /** Integer in [a, b]. @param {number} a @param {number} b */
  int(a, b) {
    return a + Math.floor(this.next() * (b - a + 1));
  }
  /** @param {number} p */
  chance(p) {
    return this.next() < p;
  }
  /** @template T @param {readonly T[]} items @returns {T} */
  pick(items) {
    return /** @type {T} */ (items[Math.floor(this.next() * items.length)]);
  }
  /** Picks a key of a {key: weight} table. @param {Record<string, number>} weights */
  weighted(weights) {
    const entries = Object.entries(weights);
    let r = this.next() * entries.reduce((s, [, w]) => s + w, 0);
    for (const [key, w] of entries) {
      r -= w;
      if (r < 0) return key;
    }
    return /** @type {string} */ (entries[entries.length - 1]?.[0]);
  }
  /** Standard normal (Box–Muller). */
  normal() {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
  /** exp(N(mu, sigma)). @param {number} mu @param {number} sigma */
  lognormal(mu, sigma) {
    return Math.exp(mu + sigma * this.normal());
  }
  /** Gamma(shape, 1) (Marsaglia–Tsang). @param {number} shape */
  gamma(shape) {
    if (shape < 1) return this.gamma(shape + 1) * this.next() ** (1 / shape);
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x;
      let v;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = this.next();
      if (u < 1 - 0.0331 * x ** 4 || Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) {
        return d * v;
      }
    }
  }
  /** @param {number} lambda */
  poisson(lambda) {
    if (lambda <= 0) return 0;
    if (lambda > 40) return Math.max(0, Math.round(lambda + Math.sqrt(lambda) * this.normal()));
    const limit = Math.exp(-lambda);
    let k = 0;
    let p = this.next();
    while (p > limit) {
      k++;
      p *= this.next();
    }
    return k;
  }
  /** Overdispersed count: Poisson with a Gamma(k, 1/k)-distributed mean (negative binomial).
   * @param {number} mean @param {number} k */
  negbin(mean, k) {
    return this.poisson((mean * this.gamma(k)) / k);
  }
}

// ---------------------------------------------------------------------------------------------
// Catalog

export const PRODUCTS = [
  {
    id: "chat-api",
    name: "Chat API",
    description: "LLM chat completions, priced per input and output token",
    metrics: [
      { id: "input_tokens", name: "Input tokens", unit: "token", aggregation: "sum" },
      { id: "output_tokens", name: "Output tokens", unit: "token", aggregation: "sum" },
    ],
  },
  {
    id: "rest-api",
    name: "REST API",
    description: "Data enrichment REST API, priced per call in graduated tiers",
    metrics: [{ id: "api_calls", name: "API calls", unit: "call", aggregation: "sum" }],
  },
  {
    id: "agent-platform",
    name: "Agent Platform",
    description: "Hosted AI agents: a platform fee plus agent sessions and tool calls",
    metrics: [
      { id: "agent_sessions", name: "Agent sessions", unit: "session", aggregation: "sum" },
      { id: "tool_calls", name: "Tool calls", unit: "call", aggregation: "sum" },
    ],
  },
];

/**
 * Rate plans, and per plan the typical monthly volume of its customers (`volume`: median of the
 * product's primary unit — input tokens, API calls, agent sessions — and the lognormal spread).
 * `every`: small customers' usage is sent as aggregates of that many hours, which keeps the seed
 * fast; on the other plans customers below the median report every 3 hours, those up to twice
 * the median every 2, the largest (and the stories) every hour.
 */
export const PLANS = [
  // Chat API: per-token prices above typical model costs; cheaper per token as volume grows.
  {
    id: "chat-free",
    product: "chat-api",
    name: "Chat Free",
    period: "month",
    components: [
      { type: "included", metric: "input_tokens", quantity: 3_000_000 },
      { type: "included", metric: "output_tokens", quantity: 750_000 },
      { type: "per_unit", metric: "input_tokens", unit_price: "0.000006" },
      { type: "per_unit", metric: "output_tokens", unit_price: "0.000024" },
    ],
    volume: { median: 1_200_000, sigma: 0.5, every: 6 },
  },
  {
    id: "chat-starter",
    product: "chat-api",
    name: "Chat Starter",
    period: "month",
    trial_days: 14,
    components: [
      { type: "flat", amount: "49" },
      { type: "included", metric: "input_tokens", quantity: 20_000_000 },
      { type: "per_unit", metric: "input_tokens", unit_price: "0.000006" },
      { type: "per_unit", metric: "output_tokens", unit_price: "0.000024" },
    ],
    volume: { median: 7_000_000, sigma: 0.8, every: 3 },
  },
  {
    id: "chat-pro",
    product: "chat-api",
    name: "Chat Pro",
    period: "month",
    components: [
      { type: "flat", amount: "499" },
      {
        type: "tiered",
        metric: "input_tokens",
        mode: "volume",
        tiers: [
          { up_to: 250_000_000, unit_price: "0.000005" },
          { up_to: 1_000_000_000, unit_price: "0.0000045" },
          { up_to: null, unit_price: "0.000004" },
        ],
      },
      { type: "per_unit", metric: "output_tokens", unit_price: "0.00002" },
      { type: "discount", metric: "output_tokens", above: 100_000_000, percent: 10 },
    ],
    volume: { median: 400_000_000, sigma: 0.9 },
  },
  {
    id: "chat-enterprise-annual",
    product: "chat-api",
    name: "Chat Enterprise (annual)",
    period: "year",
    components: [
      { type: "minimum", amount: "60000" },
      { type: "per_unit", metric: "input_tokens", unit_price: "0.0000045" },
      { type: "per_unit", metric: "output_tokens", unit_price: "0.000018" },
      { type: "discount", above: 100_000, percent: 8 },
    ],
    volume: { median: 2_500_000_000, sigma: 0.6 },
  },
  // REST API: graduated tiers, an included quota with packages, a commitment.
  {
    id: "rest-free",
    product: "rest-api",
    name: "REST Free",
    period: "month",
    components: [
      { type: "included", metric: "api_calls", quantity: 50_000 },
      { type: "per_unit", metric: "api_calls", unit_price: "0.001" },
    ],
    volume: { median: 17_000, sigma: 0.7, every: 6 },
  },
  {
    id: "rest-starter",
    product: "rest-api",
    name: "REST Starter",
    period: "month",
    trial_days: 14,
    components: [
      { type: "flat", amount: "29" },
      {
        type: "tiered",
        metric: "api_calls",
        mode: "graduated",
        tiers: [
          { up_to: 500_000, unit_price: "0.0008" },
          { up_to: 5_000_000, unit_price: "0.0005" },
          { up_to: null, unit_price: "0.0003" },
        ],
      },
    ],
    volume: { median: 600_000, sigma: 0.9, every: 2 },
  },
  {
    id: "rest-growth",
    product: "rest-api",
    name: "REST Growth",
    period: "month",
    components: [
      { type: "flat", amount: "199" },
      { type: "included", metric: "api_calls", quantity: 2_000_000 },
      { type: "package", metric: "api_calls", size: 10_000, price: "4" },
    ],
    volume: { median: 800_000, sigma: 0.45 },
  },
  {
    id: "rest-scale",
    product: "rest-api",
    name: "REST Scale",
    period: "month",
    components: [
      {
        type: "tiered",
        metric: "api_calls",
        mode: "graduated",
        tiers: [
          { up_to: 10_000_000, unit_price: "0.0004", flat_fee: "250" },
          { up_to: 100_000_000, unit_price: "0.0002" },
          { up_to: null, unit_price: "0.0001" },
        ],
      },
      { type: "minimum", amount: "2000" },
    ],
    volume: { median: 25_000_000, sigma: 0.8 },
  },
  {
    id: "rest-scale-annual",
    product: "rest-api",
    name: "REST Scale (annual)",
    period: "year",
    components: [
      {
        type: "tiered",
        metric: "api_calls",
        mode: "graduated",
        tiers: [
          { up_to: 120_000_000, unit_price: "0.00035", flat_fee: "2500" },
          { up_to: 1_200_000_000, unit_price: "0.00018" },
          { up_to: null, unit_price: "0.00009" },
        ],
      },
      { type: "minimum", amount: "24000" },
    ],
    volume: { median: 70_000_000, sigma: 0.6 },
  },
  // Agent platform: platform fees (about $2K a month on Team and Enterprise) plus usage.
  {
    id: "agent-starter",
    product: "agent-platform",
    name: "Agents Starter",
    period: "month",
    components: [
      { type: "flat", amount: "500" },
      { type: "package", metric: "agent_sessions", size: 100, price: "20" },
      { type: "per_unit", metric: "tool_calls", unit_price: "0.003" },
    ],
    volume: { median: 900, sigma: 0.8, every: 3 },
  },
  {
    id: "agent-team",
    product: "agent-platform",
    name: "Agents Team",
    period: "month",
    components: [
      { type: "flat", amount: "2000" },
      { type: "per_unit", metric: "agent_sessions", unit_price: "0.30" },
      { type: "included", metric: "tool_calls", quantity: 150_000 },
      { type: "per_unit", metric: "tool_calls", unit_price: "0.002" },
    ],
    volume: { median: 6_000, sigma: 0.7 },
  },
  {
    id: "agent-enterprise-annual",
    product: "agent-platform",
    name: "Agents Enterprise (annual)",
    period: "year",
    components: [
      { type: "flat", amount: "24000" },
      {
        type: "tiered",
        metric: "agent_sessions",
        mode: "graduated",
        tiers: [
          { up_to: 500_000, unit_price: "0.25" },
          { up_to: null, unit_price: "0.18" },
        ],
      },
      { type: "per_unit", metric: "tool_calls", unit_price: "0.0015" },
      { type: "discount", metric: "agent_sessions", above: 300_000, percent: 10 },
    ],
    volume: { median: 45_000, sigma: 0.6 },
  },
];

/** Plan choice per product and segment (weights). */
const PLAN_MIX = {
  "chat-api": {
    startup: { "chat-free": 35, "chat-starter": 50, "chat-pro": 15 },
    "mid-market": { "chat-starter": 20, "chat-pro": 70, "chat-enterprise-annual": 10 },
    enterprise: { "chat-pro": 40, "chat-enterprise-annual": 60 },
  },
  "rest-api": {
    startup: { "rest-free": 40, "rest-starter": 50, "rest-growth": 10 },
    "mid-market": { "rest-starter": 25, "rest-growth": 45, "rest-scale": 30 },
    enterprise: { "rest-scale": 50, "rest-scale-annual": 50 },
  },
  "agent-platform": {
    startup: { "agent-starter": 80, "agent-team": 20 },
    "mid-market": { "agent-starter": 30, "agent-team": 70 },
    enterprise: { "agent-team": 40, "agent-enterprise-annual": 60 },
  },
};
const PRODUCT_MIX = {
  startup: { "chat-api": 50, "rest-api": 38, "agent-platform": 12 },
  "mid-market": { "chat-api": 40, "rest-api": 35, "agent-platform": 25 },
  enterprise: { "chat-api": 40, "rest-api": 30, "agent-platform": 30 },
};

/**
 * @typedef {{provider: string, model: string, input_per_million: string,
 *   output_per_million: string, cached_input_per_million?: string, per_call?: string,
 *   effective_from: string}} CostEntry
 */

/** Chat models and the mix chat customers use them in. */
const CHAT_MODELS = {
  "anthropic/claude-haiku-4-5": 30,
  "openai/gpt-4.1-mini": 22,
  "openai/gpt-4.1": 24,
  "anthropic/claude-sonnet-4-5": 14,
  "openai/gpt-4o-mini": 10,
};
const CHEAP_MODEL = "openai/gpt-4o-mini";
const PRICEY_MODEL = "anthropic/claude-opus-4-1";
const AGENT_MODEL = "anthropic/claude-sonnet-4-5";
const PRICE_CHANGE_MODEL = "openai/gpt-4.1";

/**
 * The cost catalog: model prices from before the window, one price cut in the middle of it, and
 * the infrastructure cost per REST call and per agent tool call.
 * @param {number} priceChangeAt epoch ms
 * @returns {CostEntry[]}
 */
export function costCatalog(priceChangeAt) {
  /** @type {[string, string, string, string, string][]} */
  const models = [
    ["anthropic", "claude-opus-4-1", "15", "75", "1.5"],
    ["anthropic", "claude-sonnet-4-5", "3", "15", "0.3"],
    ["anthropic", "claude-haiku-4-5", "1", "5", "0.1"],
    ["openai", "gpt-4.1", "2", "8", "0.5"],
    ["openai", "gpt-4.1-mini", "0.4", "1.6", "0.1"],
    ["openai", "gpt-4o-mini", "0.15", "0.6", "0.075"],
  ];
  return [
    ...models.map(([provider, model, input, output, cached]) => ({
      provider,
      model,
      input_per_million: input,
      output_per_million: output,
      cached_input_per_million: cached,
      effective_from: BASE_PRICES_FROM,
    })),
    {
      provider: "openai",
      model: "gpt-4.1",
      input_per_million: "1.5",
      output_per_million: "6",
      cached_input_per_million: "0.375",
      effective_from: new Date(priceChangeAt).toISOString(),
    },
    {
      provider: "aforo-infra",
      model: "rest-edge",
      input_per_million: "0",
      output_per_million: "0",
      per_call: "0.000004",
      effective_from: BASE_PRICES_FROM,
    },
    {
      provider: "aforo-infra",
      model: "tool-runner",
      input_per_million: "0",
      output_per_million: "0",
      per_call: "0.0004",
      effective_from: BASE_PRICES_FROM,
    },
  ];
}

// ---------------------------------------------------------------------------------------------
// Customers

const NAME_FIRST = `
  Acme Aurora Basalt Beacon Birch Bluefin Brightside Cascade Cedar Cobalt Copper Coral Crescent
  Delta Drift Ember Evergreen Falcon Fjord Foxglove Granite Harbor Helix Horizon Indigo Juniper
  Kestrel Lantern Lumen Maple Meridian Nimbus Northwind Nova Oakridge Orbit Pebble Pinnacle
  Quartz Quill Redwood Ridge Saffron Sequoia Sierra Solstice Sparrow Summit Tidal Timber Topaz
  Vantage Vertex Willow Zephyr`
  .trim()
  .split(/\s+/);
const NAME_SECOND = `
  AI Analytics Bank Bio Cloud Commerce Data Energy Finance Games Health Insights Labs Learning
  Legal Logistics Media Mobility Networks Retail Robotics Security Studio Systems Travel Works`
  .trim()
  .split(/\s+/);
const REGIONS = [
  { id: "us-east", tz: -5, weight: 30 },
  { id: "us-west", tz: -8, weight: 18 },
  { id: "eu-west", tz: 0, weight: 18 },
  { id: "eu-central", tz: 1, weight: 16 },
  { id: "ap-southeast", tz: 8, weight: 12 },
  { id: "sa-east", tz: -3, weight: 6 },
];
const SEGMENTS = { startup: 55, "mid-market": 33, enterprise: 12 };
export const CUSTOMER_COUNT = 255;

/**
 * @typedef {{
 *   id: string, name: string, email: string,
 *   metadata: {segment: string, region: string, account_owner: string, story?: string},
 *   tz: number, weekend: number, growth: number,
 * }} DemoCustomer
 * @typedef {{
 *   id: string, customer: string, plan: string, product: string, start: number,
 *   trial_end: number | null, changes: {plan: string, at: number}[], end: number | null,
 * }} DemoSubscription
 * @typedef {{
 *   customer: string, subscription: string, product: string, metrics: string[],
 *   offset: number, q: Float64Array[], cached: Float64Array | null,
 *   old: {time: number, q: number[], cached: number}[],
 *   model: (hour: number) => string,
 *   tokens: {input: number, output: number, cached: number} | null,
 *   toolsPerSession: number, meanAt: (t: number) => number, every: number, start: number,
 *   end: number | null, detail: Map<number, DemoEvent[]>,
 * }} DemoSeries
 * `detail`: by hour index into `q`, the events sent in detail that hour besides the aggregate
 * (agent sessions, REST calls by endpoint; see carveDetail).
 */

const slug = (/** @type {string} */ s) =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "");

/** Adds calendar months in UTC, clamping the day (as billing periods do). */
function addMonths(/** @type {number} */ t, /** @type {number} */ months) {
  const d = new Date(t);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth() + months;
  const target = new Date(Date.UTC(y, m, 1));
  const lastDay = new Date(
    Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0),
  ).getUTCDate();
  return (
    Date.UTC(target.getUTCFullYear(), target.getUTCMonth(), Math.min(d.getUTCDate(), lastDay)) +
    (t % DAY_MS)
  );
}

const dayFloor = (/** @type {number} */ t) => t - (t % DAY_MS);
const hourIso = (/** @type {number} */ t) => new Date(t).toISOString().slice(0, 13);

// ---------------------------------------------------------------------------------------------
// Seasonality

/** Relative weekday activity by local hour: quiet nights, a business-hours hump. */
const DIURNAL = Array.from(
  { length: 24 },
  (_, h) => 0.16 + 0.84 * Math.exp(-0.5 * ((h - 13.5) / 3.4) ** 2),
);
const DIURNAL_MEAN = DIURNAL.reduce((a, b) => a + b, 0) / 24;

/** The customer's seasonal factor at hour t; averages to 1 over a week. */
function seasonal(/** @type {DemoCustomer} */ c, /** @type {number} */ t) {
  const local = t + c.tz * HOUR_MS;
  const dow = (Math.floor(local / DAY_MS) + 4) % 7; // 1970-01-01 was a Thursday
  const week = dow === 0 || dow === 6 ? c.weekend : 1;
  const norm = DIURNAL_MEAN * ((5 + 2 * c.weekend) / 7);
  return ((DIURNAL[Math.floor(local / HOUR_MS) % 24] ?? 1) * week) / norm;
}

// ---------------------------------------------------------------------------------------------
// The demo

/**
 * @typedef {{
 *   anchor: number, windowStart: number, historyStart: number, hours: number,
 *   priceChangeAt: number, products: typeof PRODUCTS, plans: object[], costCatalog: CostEntry[],
 *   customers: DemoCustomer[], subscriptions: DemoSubscription[], series: DemoSeries[],
 *   unknown: DemoSeries, stories: Record<string, object>,
 * }} Demo
 */

/** Each product's plans from smallest to largest: upgrades move right, downgrades left. */
const LADDERS = {
  "chat-api": ["chat-free", "chat-starter", "chat-pro", "chat-enterprise-annual"],
  "rest-api": ["rest-free", "rest-starter", "rest-growth", "rest-scale", "rest-scale-annual"],
  "agent-platform": ["agent-starter", "agent-team", "agent-enterprise-annual"],
};
/** Monthly chance that a customer of the segment cancels (its every subscription). */
const MONTHLY_CHURN = { startup: 0.034, "mid-market": 0.017, enterprise: 0.006 };
/** Share of trials that lapse (canceled before the trial ends) rather than convert. */
const TRIAL_LAPSE = 0.35;
/** Share of churned customers that come back later (a new subscription, a smaller plan). */
const WIN_BACK = 0.3;
const MONTH_MS = 30.44 * DAY_MS;

/**
 * Builds the whole demo, deterministically.
 * @param {{anchor: number, seed?: string, through?: number, detail?: boolean}} o `anchor`: the
 *   end of the hourly window (an hour boundary; the last events are for the hour before it).
 *   `through` (an hour boundary at or after the anchor): usage goes on past the window to there,
 *   for topping a running demo up; every value up to the anchor is the same as without it.
 *   `detail: false`: the hourly aggregates only, without the sessions and endpoint calls
 *   carveDetail sends out of them (the same units either way).
 * @returns {Demo}
 */
export function buildDemo({ anchor, seed = SEED, through = anchor, detail = true }) {
  if (anchor % HOUR_MS !== 0) throw new Error("anchor must be an hour boundary");
  if (through % HOUR_MS !== 0 || through < anchor) {
    throw new Error("through must be an hour boundary at or after the anchor");
  }
  const hours = WINDOW_DAYS * 24;
  const windowStart = anchor - hours * HOUR_MS;
  const historyStart = dayFloor(anchor) - HISTORY_DAYS * DAY_MS;
  /** Hours of usage generated after the window's start: the window, then what `through` adds. */
  const generated = hours + (through - anchor) / HOUR_MS;
  const priceChangeAt = dayFloor(windowStart + 30 * DAY_MS);
  const rng = new Rng(`${seed}:customers`);
  const planById = new Map(PLANS.map((p) => [p.id, p]));
  const hourFloor = (/** @type {number} */ t) => t - (t % HOUR_MS);

  /** @type {DemoCustomer[]} */
  const customers = [];
  /** @type {DemoSubscription[]} */
  const subscriptions = [];
  const used = new Set([...Object.values(STORIES), UNKNOWN_CUSTOMER]);

  /** @param {string} id @param {string} name @param {string} segment @param {string} region */
  const addCustomer = (id, name, segment, region, story = "") => {
    const r = REGIONS.find((x) => x.id === region) ?? REGIONS[0];
    const c = {
      id,
      name,
      email: `billing@${id}.example`,
      // The ladder's `escalate` e-mails the account owner: one team per segment.
      metadata: {
        segment,
        region,
        account_owner: `${segment}-accounts@demo-co.example`,
        ...(story ? { story } : {}),
      },
      tz: r?.tz ?? 0,
      weekend: segment === "enterprise" ? rng.uniform(0.25, 0.4) : rng.uniform(0.3, 0.6),
      growth: story ? 0.002 : Math.max(-0.0025, Math.min(0.004, 0.0002 + 0.0012 * rng.normal())),
    };
    customers.push(c);
    return c;
  };
  /**
   * @param {DemoCustomer} c @param {string} planId @param {number} start
   * @param {{changes?: {plan: string, at: number}[], end?: number | null, suffix?: string,
   *   trial?: boolean, trialDays?: number}} [o] `trialDays`: a trial the plan does not offer
   *   by default (a sales-led pilot)
   */
  const subscribe = (c, planId, start, o = {}) => {
    const plan = planById.get(planId);
    if (!plan) throw new Error(`unknown plan ${planId}`);
    const trial = o.trial ?? true;
    const trialDays = o.trialDays ?? plan.trial_days ?? 0;
    const sub = {
      id: `demo-${c.id}-${plan.product}${o.suffix ?? ""}`,
      customer: c.id,
      plan: planId,
      product: plan.product,
      start,
      trial_end: trial && trialDays ? start + trialDays * DAY_MS : null,
      changes: o.changes ?? [],
      end: o.end ?? null,
    };
    subscriptions.push(sub);
    return sub;
  };

  // The story customers first, with fixed ids and a long, quiet history.
  const cogs = addCustomer(
    STORIES.cogs_jump,
    "CogsJumper AI",
    "mid-market",
    "eu-west",
    "cogs_jump",
  );
  subscribe(cogs, "chat-pro", dayFloor(anchor - 304 * DAY_MS) + 10 * HOUR_MS);
  const fading = addCustomer(
    STORIES.usage_collapse,
    "Fading Co",
    "mid-market",
    "us-west",
    "usage_collapse",
  );
  subscribe(fading, "agent-team", dayFloor(anchor - 382 * DAY_MS) + 17 * HOUR_MS);
  const racer = addCustomer(
    STORIES.quota_race,
    "Quota Racer Inc",
    "startup",
    "eu-central",
    "quota_race",
  );
  // Monthly periods anchored so the current one is ~18 days old when the window ends.
  const racerPeriodStart = dayFloor(anchor - 18 * DAY_MS) + 9 * HOUR_MS;
  subscribe(racer, "rest-growth", addMonths(racerPeriodStart, -11));
  const spiky = addCustomer(
    STORIES.usage_spikes,
    "Spiky Labs",
    "startup",
    "us-east",
    "usage_spikes",
  );
  subscribe(spiky, "rest-starter", dayFloor(anchor - 245 * DAY_MS) + 15 * HOUR_MS);

  // Everyone else: a founding book in the history's first month, then arrivals every month;
  // upgrades, downgrades, cancellations (the customer leaves), trials that lapse, win-backs.
  const bookDays = (anchor - historyStart) / DAY_MS;
  while (customers.length < CUSTOMER_COUNT) {
    const name = `${rng.pick(NAME_FIRST)} ${rng.pick(NAME_SECOND)}`;
    const id = slug(name);
    if (used.has(id)) continue;
    used.add(id);
    const segment = rng.weighted(SEGMENTS);
    const region = rng.weighted(Object.fromEntries(REGIONS.map((r) => [r.id, r.weight])));
    const c = addCustomer(id, name, segment, region);
    const product = rng.weighted(PRODUCT_MIX[/** @type {keyof PRODUCT_MIX} */ (segment)]);
    const mix = PLAN_MIX[/** @type {keyof PLAN_MIX} */ (product)];
    let plan = rng.weighted(mix[/** @type {keyof typeof mix} */ (segment)]);
    const ladder = LADDERS[/** @type {keyof LADDERS} */ (product)];
    const r = rng.next();
    // A founding book, then arrivals picking up as the business grows.
    const daysAgo =
      r < 0.35
        ? bookDays - rng.uniform(0, 25)
        : r < 0.93
          ? 12 + (bookDays - 42) * rng.next() ** 1.4
          : rng.uniform(1, 12);
    const start = hourFloor(anchor - daysAgo * DAY_MS);
    const founding = r < 0.35;
    // New in the last weeks, and a share of startups: on a starter plan's trial first.
    if (daysAgo < 12 || (segment === "startup" && rng.chance(0.25))) {
      const trialPlan = PLANS.find((p) => p.product === product && p.trial_days);
      if (trialPlan && ladder.indexOf(trialPlan.id) >= ladder.indexOf(plan) - 1) {
        plan = trialPlan.id;
      } else if (trialPlan && daysAgo < 12) plan = trialPlan.id;
    }
    // How long the customer stays: exponential lifetime at the segment's monthly churn.
    const lifetime = (-Math.log(1 - rng.next()) / MONTHLY_CHURN[segment]) * MONTH_MS;
    let end = start + lifetime < anchor - DAY_MS ? hourFloor(start + lifetime) : null;
    const first = planById.get(plan);
    // Most new customers try first: the plan's own trial, or a 14-day pilot of a paid plan.
    const pilot =
      !founding && !first?.trial_days && !plan.endsWith("-free") && rng.chance(0.55) ? 14 : 0;
    const trialDays = first?.trial_days || pilot;
    const trialEnd = trialDays ? start + trialDays * DAY_MS : null;
    let lapsed = false;
    if (trialEnd !== null && trialEnd < anchor - HOUR_MS && rng.chance(TRIAL_LAPSE)) {
      end = hourFloor(Math.max(start + DAY_MS, trialEnd - rng.uniform(0, 4) * DAY_MS));
      lapsed = true;
    }
    // Annual plans leave at a renewal.
    if (end !== null && first?.period === "year") {
      const years = Math.ceil((end - start) / (365 * DAY_MS));
      end = addMonths(start, 12 * years);
      if (end >= anchor - DAY_MS) end = null;
    }
    const tenure = (end ?? anchor) - start;
    // Upgrades and downgrades along the product's ladder, after the trial.
    /** @type {{plan: string, at: number}[]} */
    const changes = [];
    const at = dayFloor(start + rng.uniform(0.3, 0.75) * tenure) + 8 * HOUR_MS;
    const i = ladder.indexOf(plan);
    if (!lapsed && tenure > 75 * DAY_MS && at > (trialEnd ?? start) + DAY_MS && at < anchor) {
      if (c.growth > 0.0012 && i + 1 < ladder.length && rng.chance(0.55)) {
        const next = /** @type {string} */ (ladder[i + 1]);
        // Monthly to annual only for the larger accounts.
        if (planById.get(next)?.period !== "year" || segment !== "startup") {
          changes.push({ plan: next, at });
        }
      } else if (c.growth < -0.0006 && i > 0 && rng.chance(0.5)) {
        const prev = /** @type {string} */ (ladder[i - 1]);
        if (planById.get(plan)?.period !== "year") changes.push({ plan: prev, at });
      }
    }
    if (changes.length && planById.get(changes[0]?.plan ?? "")?.period === "year" && end) {
      const years = Math.ceil((end - at) / (365 * DAY_MS));
      end = addMonths(at, 12 * years);
      if (end >= anchor - DAY_MS) end = null;
    }
    subscribe(c, plan, start, { changes, end, ...(pilot ? { trialDays: pilot } : {}) });
    // Some expand to a second product later on (and leave with the first).
    const second = segment === "enterprise" ? 0.3 : segment === "mid-market" ? 0.15 : 0.06;
    if (!lapsed && rng.chance(second)) {
      const other = rng.pick(PRODUCTS.filter((p) => p.id !== product)).id;
      const start2 = hourFloor(start + Math.round(rng.uniform(7, 60)) * DAY_MS);
      const otherMix = PLAN_MIX[/** @type {keyof PLAN_MIX} */ (other)];
      const plan2 = rng.weighted(otherMix[/** @type {keyof typeof otherMix} */ (segment)]);
      const end2 = end !== null && planById.get(plan2)?.period === "year" ? null : end;
      if (start2 < (end ?? anchor) - 2 * DAY_MS && (end2 === null || end2 === end)) {
        subscribe(c, plan2, start2, { end: end2, trial: false });
      }
    }
    // Win-backs: a churned customer returns on a smaller plan of the same product.
    if (end !== null && !lapsed && rng.chance(WIN_BACK)) {
      const back = hourFloor(end + rng.uniform(30, 120) * DAY_MS);
      if (back < anchor - 2 * DAY_MS) {
        const smaller = ladder[Math.max(0, Math.min(ladder.indexOf(plan), 2) - 1)] ?? plan;
        subscribe(c, smaller, back, { suffix: "-winback", trial: false });
      }
    }
  }

  // Series per subscription.
  const customerById = new Map(customers.map((c) => [c.id, c]));
  const switchAt = dayFloor(anchor - 10 * DAY_MS);
  const collapseAt = dayFloor(anchor - 9 * DAY_MS);
  const racerPeriodEnd = addMonths(racerPeriodStart, 1);
  const racerQuota = 2_000_000;
  // Spiky Labs (UTC−5): local 14:00 and 15:00 on a weekday 4–6 days back, local 11:00 on a
  // weekday 1–3 days back.
  const weekdayBack = (/** @type {number[]} */ daysBack) => {
    for (const d of daysBack) {
      const day = dayFloor(anchor - d * DAY_MS);
      const dow = new Date(day).getUTCDay();
      if (dow !== 0 && dow !== 6) return day;
    }
    return dayFloor(anchor - /** @type {number} */ (daysBack[0]) * DAY_MS);
  };
  const spikeDay1 = weekdayBack([5, 4, 6]);
  const spikeDay2 = weekdayBack([2, 1, 3]);
  const spikeHours = new Map([
    [spikeDay1 + 19 * HOUR_MS, 12],
    [spikeDay1 + 20 * HOUR_MS, 9],
    [spikeDay2 + 16 * HOUR_MS, 10],
  ]);
  // Hourly usage from the window's start for customers still around in it; those who left
  // before it send their last three days hourly. Everyone's usage before that is sent as 3-day
  // aggregates after it, late for the detectors: they judge the hourly part, billing and the
  // rollups count it all.
  /** @type {Map<string, number>} */
  const hourlyFrom = new Map();
  /** @type {Map<string, number>} */
  const lastEnd = new Map();
  for (const s of subscriptions) {
    const end = s.end ?? Number.POSITIVE_INFINITY;
    lastEnd.set(s.customer, Math.max(lastEnd.get(s.customer) ?? 0, end));
  }
  for (const s of subscriptions) {
    const end = /** @type {number} */ (lastEnd.get(s.customer));
    const from = end > windowStart ? windowStart : hourFloor(end - 3 * DAY_MS);
    hourlyFrom.set(s.customer, from);
  }
  const genEnd = windowStart + generated * HOUR_MS;

  /** @type {DemoSeries[]} */
  const series = [];
  for (const sub of subscriptions) {
    const c = /** @type {DemoCustomer} */ (customerById.get(sub.customer));
    const lastPlan = sub.changes.length ? sub.changes[sub.changes.length - 1]?.plan : sub.plan;
    const plan = /** @type {(typeof PLANS)[number]} */ (planById.get(lastPlan ?? sub.plan));
    const r = new Rng(`${seed}:series:${sub.id}`);
    const story = c.metadata.story ?? "";
    // The customer's typical month on the plan it ends up on, at the end of its stay.
    const monthly = plan.volume.median * r.lognormal(0, story ? 0 : plan.volume.sigma);
    const g = c.growth;
    const k = story ? 30 : r.uniform(6, 18);
    const spikes = new Map();
    if (!story && r.chance(0.12)) {
      const at = windowStart + r.int(24 * 3, hours - 1) * HOUR_MS;
      const len = r.int(1, 3);
      const mult = r.uniform(4, 9);
      for (let i = 0; i < len; i++) spikes.set(at + i * HOUR_MS, mult);
    }
    if (story === "usage_spikes") for (const [t, m] of spikeHours) spikes.set(t, m);

    const metrics = PRODUCTS.find((p) => p.id === sub.product)?.metrics.map((m) => m.id) ?? [];
    let tokens = null;
    /** @type {(hour: number) => string} */
    let model = () => "";
    // Units of "activity" per hour: chat requests, REST calls, agent sessions.
    let perActivity = 1;
    if (sub.product === "chat-api") {
      tokens = { input: r.uniform(900, 4000), output: r.uniform(150, 900), cached: 0 };
      tokens.cached = r.chance(0.5) ? r.uniform(0.1, 0.6) : 0;
      perActivity = tokens.input;
      const chosen = story === "cogs_jump" ? CHEAP_MODEL : r.weighted(CHAT_MODELS);
      model =
        story === "cogs_jump" ? (t) => (t < switchAt ? CHEAP_MODEL : PRICEY_MODEL) : () => chosen;
    } else if (sub.product === "agent-platform") {
      tokens = { input: r.uniform(12_000, 30_000), output: r.uniform(1_200, 3_500), cached: 0 };
      tokens.cached = r.uniform(0.3, 0.7);
      model = () => AGENT_MODEL;
    } else {
      model = () => "aforo-infra/rest-edge";
    }
    const toolsPerSession = r.uniform(4, 14);
    const ratePerHour = monthly / (730 * perActivity);
    const stayEnd = Math.min(sub.end ?? Number.POSITIVE_INFINITY, anchor);
    /** Activity per hour at t, before noise and spikes (the model the live trickle samples). */
    const meanAt = (/** @type {number} */ t) => {
      const age = (t - sub.start) / DAY_MS;
      let mean =
        ratePerHour *
        seasonal(c, t) *
        Math.exp(g * ((Math.min(t, stayEnd) - anchor) / DAY_MS)) *
        (1 - Math.exp(-(age + 0.5) / 3));
      if (story === "usage_collapse" && t >= collapseAt) mean *= 0.2;
      if (story === "quota_race") {
        // 0.6× the quota's pace in earlier periods, 1.5× in the current one.
        const inCurrent = t >= racerPeriodStart;
        const periodHours = inCurrent ? (racerPeriodEnd - racerPeriodStart) / HOUR_MS : 30.4 * 24;
        mean = ((inCurrent ? 1.5 : 0.6) * racerQuota * seasonal(c, t)) / periodHours;
      }
      // Leaving customers wind down over their last three weeks.
      if (sub.end !== null) mean *= Math.min(1, 0.35 + (0.65 * (sub.end - t)) / (21 * DAY_MS));
      return mean;
    };
    /** Activity → metric quantities. */
    const quantities = (/** @type {Rng} */ rr, /** @type {number} */ n, spread = 1) => {
      if (sub.product === "chat-api" && tokens) {
        const input = Math.round(n * tokens.input * rr.lognormal(0, 0.12 * spread));
        const output = Math.round(n * tokens.output * rr.lognormal(0, 0.15 * spread));
        const cached = Math.min(input, Math.round(input * tokens.cached * rr.lognormal(0, 0.1)));
        return { q: [input, output], cached };
      }
      if (sub.product === "agent-platform") {
        return { q: [n, rr.negbin(n * toolsPerSession, 20)], cached: 0 };
      }
      return { q: [n], cached: 0 };
    };

    // Hourly part: [from, to) as offsets from the window's start.
    const from = Math.max(sub.start, /** @type {number} */ (hourlyFrom.get(c.id)));
    const to = Math.min(sub.end ?? Number.POSITIVE_INFINITY, genEnd);
    const offset = Math.round((from - windowStart) / HOUR_MS);
    const length = Math.max(0, Math.round((to - from) / HOUR_MS));
    const q = metrics.map(() => new Float64Array(length));
    const cached = sub.product === "chat-api" ? new Float64Array(length) : null;
    let dayNoise = r.lognormal(0, 0.08);
    for (let j = 0; j < length; j++) {
      const i = offset + j;
      const t = windowStart + i * HOUR_MS;
      if (((i % 24) + 24) % 24 === 0) dayNoise = r.lognormal(0, 0.08);
      const mean = meanAt(t) * dayNoise * (spikes.get(t) ?? 1);
      const n = r.negbin(mean, k);
      if (n === 0) continue;
      const out = quantities(r, n);
      for (let m = 0; m < out.q.length; m++) {
        /** @type {Float64Array} */ (q[m])[j] = Math.min(MAX_QUANTITY, out.q[m] ?? 0);
      }
      if (cached) cached[j] = Math.min(MAX_QUANTITY, out.cached);
    }
    // Small customers report coarser aggregates, as a collector flushing every `every` hours
    // does: each block of `every` hours (aligned to UTC) is one event at its last hour, never
    // across the subscription's start, trial end or changes. A block the data's end cuts (the
    // collector has not flushed yet) is not sent: the next top-up, generated further, sends it
    // whole at its last hour. (Stamped at the block's first hour and sent cut, its units were
    // short — a drop for the detectors — and the rest was never sent.)
    const mratio = monthly / plan.volume.median;
    const every = story
      ? 1
      : Math.max(
          plan.volume.every ?? (mratio < 1 ? 4 : mratio < 2.5 ? 2 : 1),
          // Customers who left before the window: their stay is history, kept coarser.
          from < windowStart ? 4 : 1,
        );
    if (every > 1) {
      const boundaries = [sub.start, sub.trial_end ?? sub.start, ...sub.changes.map((x) => x.at)]
        .map((t) => Math.ceil((t - from) / HOUR_MS))
        .filter((b) => b > 0)
        .sort((a, b) => a - b);
      const endedHere = sub.end !== null && sub.end <= genEnd;
      for (const arr of [...q, ...(cached ? [cached] : [])]) {
        for (let j = 0; j < length; j++) {
          if (!arr[j]) continue;
          const phase = (((windowStart / HOUR_MS + offset + j) % every) + every) % every;
          const next = boundaries.find((b) => b > j) ?? Number.POSITIVE_INFINITY;
          let last = Math.min(j + every - 1 - phase, next - 1);
          if (last >= length) {
            if (!endedHere) {
              arr[j] = 0; // the block is not complete yet
              continue;
            }
            last = length - 1; // the subscription ended inside the block: its last flush
          }
          if (last !== j) {
            arr[last] = Math.min(MAX_QUANTITY, (arr[last] ?? 0) + (arr[j] ?? 0));
            arr[j] = 0;
          }
        }
      }
    }

    // Before the hourly part: whole UTC days in 3-day aggregates, cut where the plan or the
    // trial changes, each at noon of its first day.
    /** @type {{time: number, q: number[], cached: number}[]} */
    const old = [];
    const oldEnd = Math.min(from, sub.end ?? Number.POSITIVE_INFINITY);
    const ro = new Rng(`${seed}:old:${sub.id}`);
    const cuts = [sub.trial_end, ...sub.changes.map((x) => x.at)].filter((x) => x !== null);
    /** @type {{key: string, time: number, q: number[], cached: number} | null} */
    let lump = null;
    for (let d = dayFloor(sub.start) + DAY_MS; d + DAY_MS <= oldEnd; d += DAY_MS) {
      if (cuts.some((x) => x > d && x < d + DAY_MS)) continue; // a day that straddles a cut
      let mean = 0;
      for (let h = 0; h < 24; h++) mean += meanAt(d + h * HOUR_MS);
      const n = ro.negbin(mean * ro.lognormal(0, 0.08), k * 4);
      const block = Math.floor((d - historyStart) / (OLD_STRIDE_DAYS * DAY_MS));
      const key = `${block}:${cuts.filter((x) => x <= d).length}`;
      if (!lump || lump.key !== key) {
        if (lump) old.push(lump);
        lump = { key, time: d + 12 * HOUR_MS, q: metrics.map(() => 0), cached: 0 };
      }
      if (n === 0) continue;
      const out = quantities(ro, n, 0.5);
      for (let m = 0; m < out.q.length; m++) lump.q[m] = (lump.q[m] ?? 0) + (out.q[m] ?? 0);
      lump.cached += out.cached;
    }
    if (lump) old.push(lump);

    /** @type {DemoSeries} */
    const one = {
      customer: c.id,
      subscription: sub.id,
      product: sub.product,
      metrics,
      offset,
      q,
      cached,
      old: old.filter((x) => x.q.some((v) => v > 0)),
      model,
      tokens,
      toolsPerSession,
      meanAt,
      every,
      start: sub.start,
      end: sub.end,
      detail: new Map(),
    };
    if (detail) carveDetail(one, { windowStart, fromHour: hours - DETAIL_HOURS, seed });
    series.push(one);
  }

  // A customer the catalog does not know: a day of chat traffic from a forgotten integration.
  const ur = new Rng(`${seed}:unknown`);
  const uq = [new Float64Array(generated), new Float64Array(generated)];
  for (let i = hours - 30; i < hours - 6; i += 2) {
    /** @type {Float64Array} */ (uq[0])[i] = ur.int(20_000, 90_000);
    /** @type {Float64Array} */ (uq[1])[i] = ur.int(3_000, 15_000);
  }
  const unknown = {
    customer: UNKNOWN_CUSTOMER,
    subscription: "",
    product: "chat-api",
    metrics: ["input_tokens", "output_tokens"],
    offset: 0,
    q: uq,
    cached: new Float64Array(generated),
    old: [],
    model: () => "anthropic/claude-haiku-4-5",
    tokens: null,
    toolsPerSession: 0,
    meanAt: () => 0,
    every: 2,
    start: windowStart,
    end: null,
    detail: new Map(),
  };

  const iso = (/** @type {number} */ t) => new Date(t).toISOString();
  const stories = {
    cogs_jump: {
      customer: STORIES.cogs_jump,
      product: "chat-api",
      since: iso(switchAt),
      what: `switches from ${CHEAP_MODEL} to ${PRICEY_MODEL}: COGS jumps, margin goes negative (MarginGuard)`,
    },
    usage_collapse: {
      customer: STORIES.usage_collapse,
      product: "agent-platform",
      since: iso(collapseAt),
      what: "usage falls by 80% (weekly churn signal)",
    },
    quota_race: {
      customer: STORIES.quota_race,
      product: "rest-api",
      metric: "api_calls",
      since: iso(racerPeriodStart),
      what: `current period runs at 1.5× the pace that uses up its ${racerQuota.toLocaleString("en-US")}-call quota (quota pacing)`,
    },
    usage_spikes: {
      customer: STORIES.usage_spikes,
      product: "rest-api",
      metric: "api_calls",
      since: iso(Math.min(...spikeHours.keys())),
      what: `sharp hourly spikes at ${[...spikeHours.keys()].map(iso).join(", ")} (anomalies)`,
    },
    unknown_customer: {
      customer: UNKNOWN_CUSTOMER,
      product: "chat-api",
      what: "events for a customer not in the catalog (flagged unknown_customer)",
    },
    price_change: {
      model: PRICE_CHANGE_MODEL,
      since: iso(priceChangeAt),
      what: "provider price cut of 25% in the middle of the window (effective-dated cost catalog)",
    },
  };

  return {
    anchor,
    windowStart,
    historyStart,
    hours,
    priceChangeAt,
    products: PRODUCTS,
    plans: PLANS.map(({ volume: _volume, ...plan }) => ({ currency: "USD", ...plan })),
    costCatalog: costCatalog(priceChangeAt),
    customers,
    subscriptions,
    series,
    unknown,
    stories,
  };
}

// ---------------------------------------------------------------------------------------------
// Usage in detail: agent sessions and REST endpoints

/** Hours before the window's end (and every hour a top-up adds) whose usage is partly sent in
 * detail: a week and a day, well inside raw retention (the Agentic Session Analysis template
 * reads the last 7 days of raw events). */
const DETAIL_HOURS = 8 * 24;
/** Chance that an agent customer's hour (with at least two sessions) has one sent in detail. */
const SESSION_SHARE = 0.2;
/** The REST API's endpoints besides the main one, with their share of an hour's calls. */
const REST_ENDPOINTS = /** @type {const} */ ([
  ["/v1/lookup", 0.25],
  ["/v1/batch", 0.1],
]);
const REST_MAIN_ENDPOINT = "/v1/enrich";
const MINUTE_MS = 60_000;

/**
 * Carves detail out of a series' hourly aggregates from hour index `fromHour` on, so the
 * aggregate plus its detail carry exactly the units they carried before (rollups, rating,
 * detectors and invoices see the same hours):
 * - an agent customer's hour may send one session as the run of events an agent makes — LLM
 *   calls (the first counts the session, the others quantity 0, each with its tokens) and tool
 *   calls, a few seconds to a minute apart, sharing a `session_id` property. Session size is
 *   lognormal with mean 1 × the customer's usual session: most are short and cheap, a few long
 *   and expensive, and on average the tokens match what the aggregate would have carried;
 * - an hourly REST customer's calls are sent per endpoint (`properties.endpoint`): the aggregate
 *   is the main endpoint's, two smaller endpoints get their share as events of their own.
 * @param {DemoSeries} s @param {{windowStart: number, fromHour: number, seed: string}} o
 */
function carveDetail(s, { windowStart, fromHour, seed }) {
  const first = s.q[0];
  if (!first) return;
  const agent = s.product === "agent-platform";
  if (!agent && !(s.product === "rest-api" && s.every === 1)) return;
  for (let j = Math.max(0, fromHour - s.offset); j < first.length; j++) {
    const n = first[j] ?? 0;
    if (n < 2) continue;
    const t = windowStart + (s.offset + j) * HOUR_MS;
    const stamp = hourIso(t);
    const r = new Rng(`${seed}:detail:${s.customer}:${s.product}:${stamp}`);
    /** @type {DemoEvent[]} */
    const events = [];
    if (agent) {
      if (!r.chance(SESSION_SHARE)) continue;
      const tools = /** @type {Float64Array} */ (s.q[1]);
      const tk = s.tokens ?? { input: 0, output: 0, cached: 0 };
      const size = Math.min(10, r.lognormal(-0.5, 1));
      const toolCalls = Math.min(
        tools[j] ?? 0,
        90,
        Math.max(1, Math.round(size * s.toolsPerSession)),
      );
      const llmCalls = 1 + Math.ceil(toolCalls / 2);
      const input = Math.round(size * tk.input);
      const cachedIn = Math.round(input * tk.cached);
      const output = Math.round(size * tk.output);
      const [provider, model] = s.model(t).split("/");
      const sessionId = `ses_${hash32(`${s.customer}:${stamp}`).toString(16).padStart(8, "0")}`;
      let at = t + r.int(0, 20) * MINUTE_MS + r.int(0, 59) * 1000;
      const steps = llmCalls + toolCalls;
      const gap = Math.min(r.uniform(8_000, 45_000), (t + HOUR_MS - MINUTE_MS - at) / steps);
      let step = 0;
      /** @param {string} metric @param {number} quantity @param {Record<string, unknown>} cost */
      const add = (metric, quantity, cost) => {
        events.push({
          id: `demo-${s.customer}-ses${step++}-${stamp}`,
          customer: s.customer,
          product: s.product,
          metric,
          quantity,
          time: new Date(Math.round(at)).toISOString(),
          cost,
          properties: { session_id: sessionId },
        });
        at += gap * r.uniform(0.5, 1);
      };
      // The run: an LLM call, the tools it asks for, the next LLM call, …; later calls carry
      // more context, so input tokens grow with the step (weights 1, 2, 3, …).
      const weight = (llmCalls * (llmCalls + 1)) / 2;
      let leftTools = toolCalls;
      let given = { input: 0, cached: 0, output: 0 };
      for (let k = 0; k < llmCalls; k++) {
        const last = k === llmCalls - 1;
        const share = (k + 1) / weight;
        const call = last
          ? {
              input: input - given.input,
              cached: cachedIn - given.cached,
              output: output - given.output,
            }
          : {
              input: Math.round(input * share),
              cached: Math.round(cachedIn * share),
              output: Math.round(output / llmCalls),
            };
        given = {
          input: given.input + call.input,
          cached: given.cached + call.cached,
          output: given.output + call.output,
        };
        add("agent_sessions", k === 0 ? 1 : 0, {
          provider,
          model,
          input_tokens: call.input - call.cached,
          cached_input_tokens: call.cached,
          output_tokens: call.output,
        });
        const toolsNow = last ? 0 : Math.ceil(leftTools / (llmCalls - 1 - k));
        for (let x = 0; x < toolsNow; x++) {
          add("tool_calls", 1, { provider: "aforo-infra", model: "tool-runner", calls: 1 });
        }
        leftTools -= toolsNow;
      }
      first[j] = n - 1;
      tools[j] = (tools[j] ?? 0) - toolCalls;
    } else {
      let left = n;
      for (const [endpoint, share] of REST_ENDPOINTS) {
        const quantity = Math.round(n * share * r.lognormal(0, 0.2));
        if (quantity < 1 || quantity >= left) continue;
        left -= quantity;
        events.push({
          id: `demo-${s.customer}-${endpoint.slice(4)}-${stamp}`,
          customer: s.customer,
          product: s.product,
          metric: "api_calls",
          quantity,
          time: new Date(t + r.int(1, 59) * MINUTE_MS).toISOString(),
          cost: { provider: "aforo-infra", model: "rest-edge", calls: quantity },
          properties: { endpoint },
        });
      }
      first[j] = left;
      events.sort((x, y) => (x.time < y.time ? -1 : x.time > y.time ? 1 : 0));
    }
    if (events.length > 0) s.detail.set(j, events);
  }
}

// ---------------------------------------------------------------------------------------------
// Events and batches

/** The cost object of `quantity` units of one metric. */
function costOf(
  /** @type {DemoSeries} */ s,
  /** @type {string} */ metric,
  /** @type {number} */ quantity,
  /** @type {number} */ cachedTokens,
  /** @type {number} */ t,
) {
  const [provider, model] = s.model(t).split("/");
  if (s.product === "chat-api") {
    return metric === "input_tokens"
      ? {
          provider,
          model,
          input_tokens: quantity - cachedTokens,
          ...(cachedTokens ? { cached_input_tokens: cachedTokens } : {}),
        }
      : { provider, model, output_tokens: quantity };
  }
  if (s.product === "agent-platform") {
    const tk = s.tokens ?? { input: 0, output: 0, cached: 0 };
    return metric === "agent_sessions"
      ? {
          provider,
          model,
          input_tokens: Math.round(quantity * tk.input * (1 - tk.cached)),
          cached_input_tokens: Math.round(quantity * tk.input * tk.cached),
          output_tokens: Math.round(quantity * tk.output),
        }
      : { provider: "aforo-infra", model: "tool-runner", calls: quantity };
  }
  return { provider: "aforo-infra", model: "rest-edge", calls: quantity };
}

/**
 * The events of one series for hour index i from the window's start (0 to 2 events; negative
 * indexes are hours before the window), as native event objects.
 * @param {Demo} demo @param {DemoSeries} s @param {number} i
 */
export function eventsAt(demo, s, i) {
  const j = i - s.offset;
  const first = s.q[0];
  if (j < 0 || !first || j >= first.length) return [];
  const t = demo.windowStart + i * HOUR_MS;
  const time = new Date(t).toISOString();
  const stamp = hourIso(t);
  const out = [];
  for (let m = 0; m < s.metrics.length; m++) {
    const quantity = /** @type {Float64Array} */ (s.q[m])[j] ?? 0;
    if (!quantity) continue;
    const metric = /** @type {string} */ (s.metrics[m]);
    out.push({
      id: `demo-${s.customer}-${metric}-${stamp}`,
      customer: s.customer,
      product: s.product,
      metric,
      quantity,
      time,
      cost: costOf(s, metric, quantity, m === 0 ? (s.cached?.[j] ?? 0) : 0, t),
      // An hour sent per endpoint: the aggregate is the main endpoint's (carveDetail).
      ...(s.product === "rest-api" && s.detail.has(j)
        ? { properties: { endpoint: REST_MAIN_ENDPOINT } }
        : {}),
    });
  }
  return out;
}

/**
 * The detail events of a customer's series for hour index i (agent sessions, REST endpoints),
 * in time order: sent after the hour's aggregates, which are stamped at the hour's start.
 * @param {DemoSeries[]} list @param {number} i
 */
function detailAt(list, i) {
  const out = list.flatMap((s) => s.detail.get(i - s.offset) ?? []);
  return out.sort((x, y) => (x.time < y.time ? -1 : x.time > y.time ? 1 : 0));
}

/**
 * A series' usage before its hourly part: 3-day aggregates, split where one would exceed the
 * largest quantity an event may carry.
 * @param {DemoSeries} s
 */
export function oldEventsOf(s) {
  const out = [];
  for (const lump of s.old) {
    const time = new Date(lump.time).toISOString();
    const stamp = time.slice(0, 10);
    for (let m = 0; m < s.metrics.length; m++) {
      const total = lump.q[m] ?? 0;
      if (!total) continue;
      const metric = /** @type {string} */ (s.metrics[m]);
      const parts = Math.ceil(total / MAX_QUANTITY);
      for (let p = 0; p < parts; p++) {
        const quantity = Math.round(total / parts);
        const cachedTokens = m === 0 ? Math.min(quantity, Math.round(lump.cached / parts)) : 0;
        out.push({
          id: `demo-${s.customer}-${metric}-${stamp}${parts > 1 ? `-${p}` : ""}`,
          customer: s.customer,
          product: s.product,
          metric,
          quantity,
          time,
          cost: costOf(s, metric, quantity, cachedTokens, lump.time),
        });
      }
    }
  }
  return out;
}

/**
 * @typedef {{id: string, customer: string, product: string, metric: string, quantity: number,
 *   time: string, cost: Record<string, unknown>, properties?: Record<string, string>}} DemoEvent
 */
const identity = (/** @type {DemoEvent} */ e) => e;

/** Series grouped by customer, in customer order, the unknown customer last. */
function seriesByCustomer(/** @type {Demo} */ demo) {
  /** @type {Map<string, DemoSeries[]>} */
  const by = new Map();
  for (const s of [...demo.series, demo.unknown]) {
    const list = by.get(s.customer);
    if (list) list.push(s);
    else by.set(s.customer, [s]);
  }
  return by;
}

/** Hour indexes (from the window's start) that hold hourly events: [first, end). */
export function hourlyRange(/** @type {Demo} */ demo) {
  let first = 0;
  let end = 0;
  for (const s of [...demo.series, demo.unknown]) {
    const n = s.q[0]?.length ?? 0;
    if (n === 0) continue;
    first = Math.min(first, s.offset);
    end = Math.max(end, s.offset + n);
  }
  return { first, end };
}

/**
 * Number of hourly events per day of the window.
 * @param {Demo} demo
 */
export function eventsPerDay(demo) {
  const perDay = new Array(WINDOW_DAYS).fill(0);
  for (const s of [...demo.series, demo.unknown]) {
    for (const q of s.q) {
      for (let j = 0; j < q.length; j++) {
        const day = Math.floor((s.offset + j) / 24);
        if (q[j] && day >= 0 && day < WINDOW_DAYS) perDay[day]++;
      }
    }
    for (const [j, events] of s.detail) {
      const day = Math.floor((s.offset + j) / 24);
      if (day >= 0 && day < WINDOW_DAYS) perDay[day] += events.length;
    }
  }
  return perDay;
}

/** Every event the seed sends: hourly ones before the window (customers who left before it),
 * in the window, and the 3-day aggregates of the older history. */
export function eventCounts(/** @type {Demo} */ demo) {
  let before = 0;
  let aggregates = 0;
  for (const s of [...demo.series, demo.unknown]) {
    for (const q of s.q) for (let j = 0; j < q.length && s.offset + j < 0; j++) if (q[j]) before++;
    aggregates += oldEventsOf(s).length;
  }
  const window = eventsPerDay(demo).reduce((a, b) => a + b, 0);
  return { before, window, aggregates, total: before + window + aggregates };
}

/** Cuts a list of events into request bodies of at most 1,000 events and 1 MiB. */
function batcher() {
  /** @type {{body: string, count: number, customers: string[]}[]} */
  const batches = [];
  /** @type {string[]} */
  let parts = [];
  let bytes = 2;
  /** @type {Set<string>} */
  let customers = new Set();
  const flush = () => {
    if (parts.length === 0) return;
    batches.push({ body: `[${parts.join(",")}]`, count: parts.length, customers: [...customers] });
    parts = [];
    bytes = 2;
    customers = new Set();
  };
  const add = (/** @type {{customer: string}} */ event) => {
    const json = JSON.stringify(event);
    if (parts.length >= MAX_BATCH_EVENTS || bytes + json.length + 1 > MAX_BATCH_BYTES) flush();
    parts.push(json);
    bytes += json.length + 1;
    customers.add(event.customer);
  };
  return { batches, add, flush };
}

/**
 * The batches for days [fromDay, toDay) of the window: each customer's events in time order,
 * customers one after another, cut into request bodies of at most 1,000 events and 1 MiB.
 * @param {Demo} demo @param {number} fromDay @param {number} toDay
 * @returns {{body: string, count: number, customers: string[]}[]}
 */
export function batchesFor(demo, fromDay, toDay) {
  return batchesForHours(demo, fromDay * 24, toDay * 24);
}

/**
 * The same for hours [fromHour, toHour) counted from the window's start (negative: before it;
 * past it when the demo was built with `through`).
 * @param {Demo} demo @param {number} fromHour @param {number} toHour
 * @returns {{body: string, count: number, customers: string[]}[]}
 */
export function batchesForHours(demo, fromHour, toHour, adjust = identity) {
  const b = batcher();
  for (const list of seriesByCustomer(demo).values()) {
    const lo = Math.max(fromHour, Math.min(...list.map((s) => s.offset)));
    const hi = Math.min(toHour, Math.max(...list.map((s) => s.offset + (s.q[0]?.length ?? 0))));
    for (let i = lo; i < hi; i++) {
      for (const s of list) {
        for (const event of eventsAt(demo, s, i)) {
          const e = adjust(event);
          if (e) b.add(e);
        }
      }
      for (const event of detailAt(list, i)) b.add(event);
    }
  }
  b.flush();
  return b.batches;
}

/**
 * Everything the seed sends for these customers: each one's hourly events in time order, then
 * its older history's aggregates in later requests (late for the detectors, see
 * aggregateBatches).
 * @param {Demo} demo @param {ReadonlySet<string>} ids
 * @returns {{body: string, count: number, customers: string[]}[]}
 */
export function batchesForCustomers(demo, ids) {
  const b = batcher();
  for (const [customer, list] of seriesByCustomer(demo)) {
    if (!ids.has(customer)) continue;
    const lo = Math.min(...list.map((s) => s.offset));
    const hi = Math.max(...list.map((s) => s.offset + (s.q[0]?.length ?? 0)));
    for (let i = lo; i < hi && i < demo.hours; i++) {
      for (const s of list) for (const event of eventsAt(demo, s, i)) b.add(event);
      for (const event of detailAt(list, i)) b.add(event);
    }
    // A request of its own, after: an actor starts detection at its first batch's oldest event.
    b.flush();
    const old = list.flatMap((s) => oldEventsOf(s));
    old.sort((x, y) => (x.time < y.time ? -1 : x.time > y.time ? 1 : 0));
    for (const e of old) b.add(e);
  }
  b.flush();
  return b.batches;
}

/** The customers in the order the seed sends them, the unknown one last. */
export function customerOrder(/** @type {Demo} */ demo) {
  return [...seriesByCustomer(demo).keys()];
}

/**
 * The older history's 3-day aggregates, each customer's in time order. Sent after the hourly
 * events: they are late for the detectors (hours and days already closed, earlier periods), so
 * they count for billing, rollups and KPIs without being judged as hourly traffic.
 * @param {Demo} demo
 * @returns {{body: string, count: number, customers: string[]}[]}
 */
export function aggregateBatches(demo) {
  const b = batcher();
  for (const list of seriesByCustomer(demo).values()) {
    const events = list.flatMap((s) => oldEventsOf(s));
    events.sort((x, y) => (x.time < y.time ? -1 : x.time > y.time ? 1 : 0));
    for (const e of events) b.add(e);
  }
  b.flush();
  return b.batches;
}

// ---------------------------------------------------------------------------------------------
// Seeding through the API

/** Runs `fn` over `items` with at most `limit` in flight. @template T */
async function pool(
  /** @type {T[]} */ items,
  /** @type {number} */ limit,
  /** @type {(item: T) => Promise<unknown>} */ fn,
) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(/** @type {T} */ (items[next++]));
    }),
  );
}

/** POST that treats 409 (already exists) as done; false when it was. */
async function create(
  /** @type {string} */ url,
  /** @type {string} */ token,
  /** @type {unknown} */ body,
) {
  return (await call(url, { method: "POST", token, body }, { okConflict: true })) !== null;
}

const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));

/** Sends one batch; retries what is worth retrying (ids dedupe), checks the counts. */
async function sendBatch(
  /** @type {string} */ url,
  /** @type {string} */ ingestKey,
  /** @type {{body: string, count: number}} */ batch,
) {
  // Up to ~40 s of retries: enough for `wrangler dev` to reload after a source edit.
  const retries = 10;
  const backoff = (/** @type {number} */ attempt) => sleep(Math.min(500 * 2 ** attempt, 5000));
  for (let attempt = 0; ; attempt++) {
    let res;
    let text;
    try {
      res = await fetch(`${url}/v1/events`, {
        method: "POST",
        headers: { authorization: `Bearer ${ingestKey}`, "content-type": "application/json" },
        body: batch.body,
      });
      text = await res.text();
    } catch (err) {
      if (attempt < retries) {
        await backoff(attempt);
        continue;
      }
      throw err;
    }
    if ((res.status === 429 || res.status >= 500) && attempt < retries) {
      await backoff(attempt);
      continue;
    }
    /** @type {any} */
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {}
    if (!res.ok) {
      throw new Error(`POST /v1/events → ${res.status}: ${json?.detail ?? text.slice(0, 500)}`);
    }
    const rejected = json?.rejected ?? [];
    if (rejected.length > 0) {
      const first = rejected[0];
      throw new Error(
        `POST /v1/events rejected ${rejected.length} of ${batch.count} events; first: #${first.index} ${first.id}: ${JSON.stringify(first.errors)}`,
      );
    }
    if (json?.accepted + json?.duplicates !== batch.count) {
      throw new Error(
        `POST /v1/events: sent ${batch.count}, accepted ${json?.accepted} + duplicates ${json?.duplicates}`,
      );
    }
    return /** @type {{accepted: number, duplicates: number}} */ (json);
  }
}

/** The catalog, the customers and their subscriptions' whole history (plan changes, cancels). */
export async function seedCatalog(
  /** @type {Demo} */ demo,
  /** @type {string} */ url,
  /** @type {string} */ token,
) {
  await seedProducts(demo, url, token);
  await seedCustomers(demo, url, token, demo.customers);
}

/** Products, metrics, plans and the cost catalog. */
export async function seedProducts(
  /** @type {Demo} */ demo,
  /** @type {string} */ url,
  /** @type {string} */ token,
) {
  for (const p of demo.products) {
    await create(`${url}/api/products`, token, {
      id: p.id,
      name: p.name,
      description: p.description,
    });
    for (const m of p.metrics) await create(`${url}/api/products/${p.id}/metrics`, token, m);
  }
  await pool(demo.plans, 4, (plan) => create(`${url}/api/plans`, token, plan));
  await call(`${url}/api/cost-catalog`, { method: "PUT", token, body: demo.costCatalog });
}

/** Customers and their subscriptions' whole history, oldest first (a win-back subscribes
 * again only once the first subscription is canceled). */
export async function seedCustomers(
  /** @type {Demo} */ demo,
  /** @type {string} */ url,
  /** @type {string} */ token,
  /** @type {DemoCustomer[]} */ customers,
) {
  const iso = (/** @type {number} */ t) => new Date(t).toISOString();
  await pool(customers, 8, async (c) => {
    await create(`${url}/api/customers`, token, {
      id: c.id,
      name: c.name,
      email: c.email,
      metadata: c.metadata,
    });
    const subs = demo.subscriptions.filter((x) => x.customer === c.id);
    subs.sort((x, y) => x.start - y.start);
    for (const s of subs) {
      const fresh = await create(`${url}/api/subscriptions`, token, {
        id: s.id,
        customer: s.customer,
        plan: s.plan,
        start: iso(s.start),
        trial_end: s.trial_end !== null ? iso(s.trial_end) : null,
      });
      if (!fresh) continue; // a resumed seed: this one's history is written already
      for (const ch of s.changes) {
        await call(`${url}/api/subscriptions/${s.id}/change`, {
          method: "POST",
          token,
          body: { plan: ch.plan, at: iso(ch.at) },
        });
      }
      if (s.end !== null) {
        await call(`${url}/api/subscriptions/${s.id}/cancel`, {
          method: "POST",
          token,
          body: { at: iso(s.end) },
        });
      }
    }
  });
}

/**
 * An API call for the seed's book-keeping, robust to what a local stack does: a request that
 * hangs or fails while `wrangler dev` restarts (a source edit) is tried again, and a 409 that
 * says the work is already done (a retried payment) counts as done.
 * @param {string} url @param {{method?: string, token: string, body?: unknown}} o
 */
async function call(url, o, { timeoutMs = 60_000, okConflict = false } = {}) {
  for (let attempt = 0; ; attempt++) {
    try {
      const res = await fetch(url, {
        method: o.method ?? "GET",
        headers: {
          authorization: `Bearer ${o.token}`,
          ...(o.body !== undefined ? { "content-type": "application/json" } : {}),
        },
        body: o.body !== undefined ? JSON.stringify(o.body) : undefined,
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await res.text();
      if (res.ok) return text ? JSON.parse(text) : null;
      if (res.status === 409 && okConflict) return null;
      if ((res.status >= 500 || res.status === 429) && attempt < 8) {
        await sleep(Math.min(500 * 2 ** attempt, 5000));
        continue;
      }
      throw Object.assign(
        new Error(`${o.method ?? "GET"} ${url} → ${res.status}: ${text.slice(0, 300)}`),
        {
          status: res.status,
        },
      );
    } catch (err) {
      if (/** @type {{status?: number}} */ (err).status !== undefined || attempt >= 8) throw err;
      await sleep(Math.min(500 * 2 ** attempt, 5000));
    }
  }
}

/** Every page of a list endpoint. */
async function listAll(/** @type {string} */ path, /** @type {string} */ token) {
  /** @type {any[]} */
  const out = [];
  let cursor = null;
  do {
    const sep = path.includes("?") ? "&" : "?";
    const page = await call(
      `${path}${sep}limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
      { token },
    );
    out.push(...page.data);
    cursor = page.next_cursor;
  } while (cursor);
  return out;
}

/**
 * How the demo's customers pay: most invoices within the 30-day terms, some up to two weeks
 * late (the subscription is past_due from the due date until the payment), a few voided, and a
 * few customers whose latest invoice is still unpaid past its due date. Deterministic per
 * subscription and period.
 * @param {string} seed @param {{subscription: string, period: {start: string}, issued_at: string,
 *   due_at: string}} inv @param {boolean} latestDue
 * @returns {{kind: "void"} | {kind: "pay", at: number, late: boolean} | {kind: "open"}}
 */
export function paymentOf(seed, inv, latestDue) {
  const r = new Rng(`${seed}:pay:${inv.subscription}:${inv.period.start}`);
  const issued = Date.parse(inv.issued_at);
  const due = Date.parse(inv.due_at);
  const u = r.next();
  if (u < 0.015) return { kind: "void" };
  if (latestDue && new Rng(`${seed}:payer:${inv.subscription}`).chance(0.025)) {
    return { kind: "open" };
  }
  if (u < 0.11) return { kind: "pay", at: due + r.uniform(2, 14) * DAY_MS, late: true };
  return { kind: "pay", at: issued + r.uniform(1, 27) * DAY_MS, late: false };
}

/** Failed payments are reported for invoices due in this many days before now: the cockpit's
 * payment-recovery window (docs/metrics.md "Payment recovery"). Older late payments are history
 * recorded as paid late (past_due from the due date until the payment). */
export const DUNNING_DAYS = 90;

/**
 * The demo's dunning story: the subscription whose customer is suspended by a BLOCK rung its own
 * policy switched on (`auto_actions.BLOCK` for that customer only): its last two invoices stay
 * unpaid, their card declined, so the older one is past PastDueDetector's 30 days. A long-
 * standing monthly subscription on a plan with a fee, of a customer with no other story.
 * @param {{subscriptions: DemoSubscription[], customers: DemoCustomer[]}} demo
 * @param {number} anchor @param {string} [seed]
 */
export function suspendedSubscription(demo, anchor, seed = SEED) {
  const storied = new Set(demo.customers.filter((c) => c.metadata.story).map((c) => c.id));
  const single = new Map();
  for (const s of demo.subscriptions) single.set(s.customer, (single.get(s.customer) ?? 0) + 1);
  const candidates = demo.subscriptions
    .filter((s) => {
      const plan = PLANS.find((p) => p.id === s.plan);
      return (
        s.end === null &&
        s.changes.length === 0 &&
        s.start < anchor - 180 * DAY_MS &&
        single.get(s.customer) === 1 &&
        !storied.has(s.customer) &&
        plan?.period === "month" &&
        plan.components.some((c) => c.type === "flat")
      );
    })
    .map((s) => s.id)
    .sort();
  return candidates.length > 0 ? new Rng(`${seed}:suspended`).pick(candidates) : null;
}

/** The decline a demo invoice's failed charge gets: mostly soft (Adaptive Retry tries again),
 * sometimes hard (the customer is asked for a new card). @param {string} seed @param {string} id */
export function declineOf(seed, id) {
  const r = new Rng(`${seed}:decline:${id}`);
  return r.chance(0.2)
    ? { decline_code: "expired_card", reason: "Your card has expired." }
    : { decline_code: "insufficient_funds", reason: "Your card has insufficient funds." };
}

/**
 * Closes every billing period of the book (POST /api/invoices/run), then settles its invoices
 * as the customers paid them: payments dated in the past (`at`), lateness recorded as past_due
 * from the due date, a few voided. Invoices due in the last DUNNING_DAYS that were paid late,
 * or are still unpaid past their due date, had their charge fail at the due date: the failure
 * is reported as the payment provider would (POST /api/invoices/:id/payments), so Adaptive Retry
 * plans its retries, PastDueDetector puts the invoice on the ladder, and a later payment
 * recovers it. `suspend`: the subscription of the dunning story (suspendedSubscription), whose
 * last two due invoices stay unpaid. Returns counts.
 */
export async function seedBilling(
  /** @type {{url: string, token: string, seed: string, now: number, subscriptions?: string[], suspend?: string | null}} */ o,
) {
  const { url, token, seed, now } = o;
  const long = { timeoutMs: 600_000 };
  /** @type {any[]} */
  let invoices = [];
  if (o.subscriptions) {
    // These subscriptions only (their usage is all in): invoiced and settled one by one.
    await pool(o.subscriptions, 2, async (id) => {
      const body = { subscription: id };
      await call(`${url}/api/invoices/run`, { method: "POST", token, body }, long);
      invoices.push(
        ...(await listAll(`${url}/api/invoices?subscription=${id}&status=open`, token)),
      );
    });
  } else {
    await call(`${url}/api/invoices/run`, { method: "POST", token, body: {} }, long);
    invoices = await listAll(`${url}/api/invoices?status=open`, token);
  }
  invoices = invoices.filter((i) => i.issued_at && i.due_at);
  /** @type {Map<string, any[]>} */
  const bySub = new Map();
  for (const inv of invoices) {
    const list = bySub.get(inv.subscription) ?? [];
    list.push(inv);
    bySub.set(inv.subscription, list);
  }
  const counts = { invoices: invoices.length, paid: 0, late: 0, void: 0, open: 0, failed: 0 };
  const iso = (/** @type {number} */ t) => new Date(t).toISOString();
  const ref = (/** @type {string} */ kind, /** @type {any} */ inv) =>
    `demo-${kind}-${inv.id.slice(4, 12)}`;
  /** The charge at the due date failed (reported an hour later, as a provider's webhook would). */
  const failCharge = async (/** @type {any} */ inv) => {
    await call(`${url}/api/invoices/${inv.id}/payments`, {
      method: "POST",
      token,
      body: {
        status: "failed",
        ...declineOf(seed, inv.id),
        at: iso(Date.parse(inv.due_at) + 3_600_000),
        reference: ref("fail", inv),
      },
    });
    counts.failed++;
  };
  await pool([...bySub.values()], 8, async (list) => {
    list.sort((x, y) => (x.period.start < y.period.start ? -1 : 1));
    const dueOnes = list.filter((i) => Date.parse(i.due_at) <= now);
    const latestDue = dueOnes[dueOnes.length - 1]?.id;
    const suspended = list[0]?.subscription === o.suspend;
    const unpaid = new Set(suspended ? dueOnes.slice(-2).map((i) => i.id) : []);
    for (const inv of list) {
      const due = Date.parse(inv.due_at);
      const p = unpaid.has(inv.id)
        ? { kind: /** @type {const} */ ("open") }
        : paymentOf(seed, inv, inv.id === latestDue);
      const dunning = due <= now && due > now - DUNNING_DAYS * DAY_MS;
      if (p.kind === "void") {
        await call(
          `${url}/api/invoices/${inv.id}/void`,
          { method: "POST", token, body: { reason: "usage disputed; credited to the customer" } },
          { okConflict: true },
        );
        counts.void++;
      } else if (p.kind === "pay" && p.at < now - 60_000) {
        if (p.late) {
          counts.late++;
          // Dunning as it happened: past_due from the due date until the payment.
          await call(`${url}/api/subscriptions/${inv.subscription}/status`, {
            method: "POST",
            token,
            body: { status: "past_due", at: inv.due_at, reason: `invoice overdue: ${inv.id}` },
          });
          if (dunning) {
            // Recovered by dunning: the charge failed at the due date, a retry succeeded.
            await failCharge(inv);
            await call(`${url}/api/invoices/${inv.id}/payments`, {
              method: "POST",
              token,
              body: { status: "succeeded", at: iso(Math.round(p.at)), reference: ref("pay", inv) },
            });
            counts.paid++;
            continue;
          }
        }
        await call(
          `${url}/api/invoices/${inv.id}/pay`,
          {
            method: "POST",
            token,
            body: { at: iso(Math.round(p.at)), reference: ref("pay", inv) },
          },
          { okConflict: true },
        );
        counts.paid++;
      } else {
        counts.open++;
        // Unpaid past its due date: in dunning now.
        if (due <= now && (dunning || unpaid.has(inv.id))) await failCharge(inv);
      }
    }
  });
  // Dunning for what is still unpaid past its due date.
  if (!o.subscriptions) {
    await call(`${url}/api/invoices/run`, { method: "POST", token, body: {} }, long);
  }
  return counts;
}

/** Waits until the D1 rollups count `events` events since `from` (the queue has caught up). */
export async function waitForRollups(
  /** @type {string} */ url,
  /** @type {string} */ token,
  /** @type {number} */ from,
  /** @type {number} */ events,
  timeoutMs = 180_000,
) {
  const deadline = Date.now() + timeoutMs;
  let seen = 0;
  while (Date.now() < deadline) {
    const res = await call(
      `${url}/api/rollups?granularity=day&from=${new Date(from - DAY_MS).toISOString()}&to=${new Date(Date.now() + DAY_MS).toISOString()}`,
      { token },
    );
    seen = res.data.reduce((/** @type {number} */ s, /** @type {any} */ r) => s + r.events, 0);
    if (seen >= events) return seen;
    await sleep(500);
  }
  throw new Error(`rollups counted ${seen} of ${events} events after ${timeoutMs / 1000} s`);
}

/** Signals the tenant has recorded (every status). */
async function countSignals(/** @type {string} */ url, /** @type {string} */ token) {
  let n = 0;
  for (let cursor = null; ; ) {
    const page = await call(`${url}/api/signals?limit=200${cursor ? `&cursor=${cursor}` : ""}`, {
      token,
    });
    n += page.data.length;
    cursor = page.next_cursor;
    if (!cursor) return n;
  }
}

/** Until D1 holds at least `expected` signals and the count has stopped moving (signals of
 * earlier batches may still be in flight too), or 60 s. */
async function waitForSignals(
  /** @type {string} */ url,
  /** @type {string} */ token,
  /** @type {number} */ expected,
) {
  const deadline = Date.now() + 60_000;
  let last = -1;
  for (;;) {
    const n = await countSignals(url, token);
    if ((n >= expected && n === last) || Date.now() > deadline) return n;
    last = n;
    await sleep(1_000);
  }
}

/** The demo tenant's alerts go somewhere: an e-mail channel (local send_email writes .eml). */
export async function seedChannel(/** @type {string} */ url, /** @type {string} */ token) {
  const existing = await call(`${url}/api/channels`, { token });
  if (existing.data.some((/** @type {any} */ c) => c.type === "email")) return false;
  await call(`${url}/api/channels`, {
    method: "POST",
    token,
    body: { type: "email", name: "Revenue ops", to: "revenue-ops@demo-co.example" },
  });
  return true;
}

/**
 * A sender that batches are added to as they are made: `concurrency` requests in flight, never
 * two batches of one customer at once (a later batch of a customer waits for the earlier one).
 * `close()` resolves when everything added is sent, or rejects with the first failure.
 * @param {{url: string, ingestKey: string, concurrency: number,
 *   onDone: (b: {count: number, chunk: number}, r: {accepted: number, duplicates: number}) => void}} o
 */
function makeSender(o) {
  /** @type {{body: string, count: number, customers: string[], chunk: number}[]} */
  const queue = [];
  const busy = new Set();
  let inFlight = 0;
  let closed = false;
  /** @type {unknown} */
  let failure = null;
  /** @type {(v?: unknown) => void} */
  let resolve = () => {};
  /** @type {(e: unknown) => void} */
  let reject = () => {};
  const done = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  done.catch(() => {});
  const fail = (/** @type {unknown} */ err) => {
    failure ??= err;
    reject(err);
  };
  const pump = () => {
    if (failure) return;
    while (inFlight < o.concurrency) {
      const blocked = new Set(busy);
      let index = -1;
      for (let i = 0; i < queue.length && i < 80; i++) {
        const b = /** @type {(typeof queue)[number]} */ (queue[i]);
        if (b.customers.every((c) => !blocked.has(c))) {
          index = i;
          break;
        }
        for (const c of b.customers) blocked.add(c);
      }
      if (index < 0) break;
      const [batch] = queue.splice(index, 1);
      if (!batch) break;
      for (const c of batch.customers) busy.add(c);
      inFlight++;
      sendBatch(o.url, o.ingestKey, batch).then((r) => {
        inFlight--;
        for (const c of batch.customers) busy.delete(c);
        try {
          o.onDone(batch, r);
          pump();
        } catch (err) {
          fail(err);
        }
      }, fail);
    }
    if (closed && inFlight === 0 && queue.length === 0) resolve();
  };
  return {
    add(/** @type {typeof queue} */ batches) {
      queue.push(...batches);
      pump();
    },
    failed: () => failure !== null,
    close() {
      closed = true;
      pump();
      return done;
    },
  };
}

/**
 * `<persistTo>/aforo-demo-seed.json`. `anchor`: the end of the hourly window (kept so a resumed
 * run sends the same events); `chunks_done`: how many of the seed's chunks (groups of customers,
 * each customer's usage oldest first) are fully sent, and `events_sent` their events (a
 * resumed run re-sends from there; repeats come back as duplicates); `billing_done`: the book's
 * invoices are run and settled. `topped_up_through`: usage past the window has been sent up to
 * there (see topUpDemo).
 * @typedef {{version: number, anchor: string, catalog_done: boolean, chunks_done: number,
 *   events_sent: number, events_total: number, billing_done: boolean,
 *   stories: Record<string, object>, started_at: string, finished_at: string | null,
 *   topped_up_through?: string}} SeedMarker
 */

/** Whether seedDemo still has work to do for this state directory. */
export function seedPending(/** @type {string} */ persistTo) {
  const file = join(persistTo, SEED_FILE);
  if (!existsSync(file)) return true;
  try {
    return !JSON.parse(readFileSync(file, "utf8")).finished_at;
  } catch {
    return true;
  }
}

/**
 * Seeds the demo tenant through the API and returns once its numbers are final: the catalog and
 * every subscription's history, the usage (hourly, oldest first, then the older history's
 * aggregates), the rollups caught up, the invoices run and settled, an e-mail channel, the
 * detectors closed through now and the cockpit snapshot taken.
 * @param {{url: string, operatorToken: string, ingestKey: string, persistTo: string,
 *   log?: (line: string) => void, concurrency?: number, customersPerChunk?: number,
 *   now?: number, progress?: boolean}} o
 */
export async function seedDemo({
  url,
  operatorToken,
  ingestKey,
  persistTo,
  log = console.log,
  concurrency = 6,
  customersPerChunk = 12,
  now = Date.now(),
  progress = Boolean(process.stdout.isTTY),
}) {
  const file = join(persistTo, SEED_FILE);
  /** @type {SeedMarker | null} */
  let marker = existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : null;
  if (marker?.finished_at) {
    log(`Demo data already seeded (${marker.finished_at}).`);
    return marker;
  }
  if (marker && marker.version !== DEMO_VERSION) marker = null;
  const anchor = marker ? Date.parse(marker.anchor) : now - (now % HOUR_MS);
  const started = performance.now();
  // Where the time goes, printed as one line at the end: each phase's seconds since the last
  // mark, with what it was made of in brackets.
  /** @type {string[]} */
  const phases = [];
  let mark = started;
  const secs = (/** @type {number} */ s) => `${s.toFixed(1)} s`;
  const lap = (/** @type {string} */ name, /** @type {string} */ detail = "") => {
    const at = performance.now();
    phases.push(`${name} ${secs((at - mark) / 1000)}${detail ? ` (${detail})` : ""}`);
    mark = at;
  };
  const demo = buildDemo({ anchor });
  // Chunks of customers: each customer's usage goes in time order, its hourly events first.
  const order = customerOrder(demo);
  /** @type {{ids: Set<string>, events: number, left: number, generated: boolean}[]} */
  const chunks = [];
  for (let i = 0; i < order.length; i += customersPerChunk) {
    chunks.push({
      ids: new Set(order.slice(i, i + customersPerChunk)),
      events: 0,
      left: 0,
      generated: false,
    });
  }
  const counts = eventCounts(demo);
  /** @type {SeedMarker} */
  const state = marker ?? {
    version: DEMO_VERSION,
    anchor: new Date(anchor).toISOString(),
    catalog_done: false,
    chunks_done: 0,
    events_sent: 0,
    events_total: counts.total,
    billing_done: false,
    stories: demo.stories,
    started_at: new Date().toISOString(),
    finished_at: null,
  };
  const save = () => {
    writeFileSync(`${file}.tmp`, `${JSON.stringify(state, null, 2)}\n`);
    renameSync(`${file}.tmp`, file);
  };
  save();

  const ended = demo.subscriptions.filter((s) => s.end !== null).length;
  const changed = demo.subscriptions.filter((s) => s.changes.length > 0).length;
  log(
    `Seeding demo data: ${demo.customers.length} customers, ${demo.subscriptions.length} subscriptions over ${HISTORY_DAYS} days (${changed} plan changes, ${ended} canceled), ${demo.plans.length} plans, ${counts.total.toLocaleString("en-US")} usage events (${WINDOW_DAYS} days hourly, the older history in ${OLD_STRIDE_DAYS}-day aggregates)${state.chunks_done ? `, resuming at chunk ${state.chunks_done + 1} of ${chunks.length}` : ""}…`,
  );
  // The alert channel first, as a tenant's ops team would have had it all along: the history's
  // alerts are delivered (one by one up to the alert budget, the rest in digests), not recorded
  // as reaching nobody.
  if (await seedChannel(url, operatorToken)) log("  alerts: e-mail channel 'Revenue ops' added");
  if (!state.catalog_done) {
    await seedProducts(demo, url, operatorToken);
    state.catalog_done = true;
    save();
  }
  // The dunning story's customer: BLOCK switched on for it alone, so its invoice 30 days past
  // due suspends it (the rung stays queued for everyone else).
  const suspend = suspendedSubscription(demo, anchor);
  const suspendedCustomer = demo.subscriptions.find((x) => x.id === suspend)?.customer;
  if (suspendedCustomer) {
    await call(`${url}/api/policies`, {
      method: "PUT",
      token: operatorToken,
      body: { scope: "customer", id: suspendedCustomer, policy: { auto_actions: { BLOCK: true } } },
    });
  }
  lap("catalog");

  // A pipeline over chunks of customers: create a chunk's customers and subscriptions, send its
  // usage (a few requests in flight, never two of one customer), and once it is all in, close
  // its billing periods and settle its invoices, while the next chunks' usage is being sent.
  const toSend = counts.total - state.events_sent;
  const sendStart = performance.now();
  let sent = 0;
  let lastPrinted = -1;
  let lastDrawn = 0;
  const report = (final = false) => {
    const seconds = (performance.now() - sendStart) / 1000;
    const rate = sent / Math.max(seconds, 0.001);
    const eta = rate > 0 ? (toSend - sent) / rate : 0;
    const line = `  ${sent.toLocaleString("en-US")}/${toSend.toLocaleString("en-US")} events · ${Math.round(rate).toLocaleString("en-US")} events/s · ${final ? `${seconds.toFixed(1)} s` : `ETA ${Math.ceil(eta)} s`}`;
    if (progress) {
      // A terminal: one line, rewritten at most 5 times a second.
      const at = performance.now();
      if (!final && at - lastDrawn < 200) return;
      lastDrawn = at;
      process.stdout.write(`\r\x1b[2K${line}${final ? "\n" : ""}`);
    } else {
      // Not a terminal (a log file, CI): a line at every 10 % and one at the end.
      const decile = Math.floor((10 * sent) / Math.max(toSend, 1));
      if (final || (decile > lastPrinted && decile < 10)) {
        lastPrinted = decile;
        if (final || decile > 0) log(line);
      }
    }
  };
  let customersSeconds = 0;
  let billingSeconds = 0;
  const billed = { invoices: 0, paid: 0, late: 0, void: 0, open: 0, failed: 0 };
  // One chunk's billing at a time, beside the usage. (Two lanes were tried: on this 2-core box
  // the extra billing slowed the usage by more than it took off the tail.)
  /** @type {Promise<unknown>} */
  let billing = Promise.resolve();
  const bill = (/** @type {Set<string>} */ ids) => {
    const subscriptions = demo.subscriptions.filter((x) => ids.has(x.customer)).map((x) => x.id);
    billing = billing.then(async () => {
      if (subscriptions.length === 0) return;
      const b0 = performance.now();
      const c = await seedBilling({
        url,
        token: operatorToken,
        seed: SEED,
        now: Date.now(),
        subscriptions,
        suspend,
      });
      billingSeconds += (performance.now() - b0) / 1000;
      for (const k of /** @type {(keyof typeof billed)[]} */ (Object.keys(billed)))
        billed[k] += c[k];
    });
    billing.catch(() => {}); // surfaced where it is awaited
  };
  const advance = () => {
    let moved = false;
    for (let i = state.chunks_done; i < chunks.length; i++) {
      const c = /** @type {(typeof chunks)[number]} */ (chunks[i]);
      if (!c.generated || c.left > 0) break;
      state.chunks_done = i + 1;
      state.events_sent += c.events;
      moved = true;
    }
    if (moved) save();
  };
  const sender = makeSender({
    url,
    ingestKey,
    concurrency,
    onDone: (batch) => {
      sent += batch.count;
      const chunk = chunks[batch.chunk];
      if (chunk) {
        chunk.left--;
        if (chunk.left === 0) bill(chunk.ids);
      }
      advance();
      report();
    },
  });
  for (let i = state.chunks_done; i < chunks.length; i++) {
    const chunk = /** @type {(typeof chunks)[number]} */ (chunks[i]);
    // At most two chunks ahead of the oldest one still sending.
    while (chunks.filter((c) => c.generated && c.left > 0).length >= 3 && !sender.failed()) {
      await sleep(50);
    }
    if (sender.failed()) break;
    const c0 = performance.now();
    await seedCustomers(
      demo,
      url,
      operatorToken,
      demo.customers.filter((c) => chunk.ids.has(c.id)),
    );
    const batches = batchesForCustomers(demo, chunk.ids);
    customersSeconds += (performance.now() - c0) / 1000;
    chunk.left = batches.length;
    chunk.events = batches.reduce((sum, b) => sum + b.count, 0);
    chunk.generated = true;
    if (batches.length === 0) {
      bill(chunk.ids);
      advance();
    }
    sender.add(batches.map((b) => ({ ...b, chunk: i })));
  }
  await sender.close();
  report(true);
  // Chunk billing runs beside the usage: how long it was busy, not time added.
  lap("usage", `customers ${secs(customersSeconds)}, chunk billing ${secs(billingSeconds)}`);
  const t = performance.now();
  const long = { timeoutMs: 300_000 };
  const post = { method: "POST", token: operatorToken, body: {} };
  const since = (/** @type {number} */ t0) => (performance.now() - t0) / 1000;
  /** @type {{billing?: string, detection?: string}} */
  const sides = {};
  // Two things are left, independent of each other, so they run side by side:
  // - billing: the chunks still being invoiced, then the whole tenant once more (what a resumed
  //   seed left, and dunning for what is unpaid past its due date);
  // - detection: once the rollups have caught up (the evaluation's customers include those only
  //   usage knows), the detectors closed through now, and their signals landed in D1 (they travel
  //   through the actors' outboxes: the cockpit's at-risk overlay and the cases page are final
  //   only once they have).
  // Then the cockpit snapshot, so the dashboard is final when this returns.
  const billingDone = (async () => {
    await billing;
    const tail = since(t);
    const rest = state.billing_done
      ? null
      : await seedBilling({ url, token: operatorToken, seed: SEED, now: Date.now(), suspend });
    if (rest) {
      billed.paid += rest.paid;
      billed.late += rest.late;
      billed.void += rest.void;
      billed.failed += rest.failed;
    }
    state.billing_done = true;
    save();
    sides.billing = `billing: chunks ${secs(tail)}, tenant ${secs(since(t) - tail)}`;
    log(
      `  invoices: ${billed.invoices} issued, ${billed.paid} paid (${billed.late} late), ${billed.void} voided, ${rest?.open ?? billed.open} still open, ${billed.failed} charges declined (Adaptive Retry; ${suspendedCustomer ?? "nobody"} suspended by its BLOCK rung) (${since(t).toFixed(1)} s after the last event)`,
    );
  })();
  const detectionDone = (async () => {
    // The seed takes minutes: when the clock has passed an hour boundary since the anchor, the
    // hours since get the customers' usage first, or the detectors would close them empty and
    // read every customer as dropping to zero. (npm start's hourly top-up goes on from there.)
    const caughtUp = Date.now() - (Date.now() % HOUR_MS);
    let later = 0;
    if (caughtUp > anchor) {
      const more = buildDemo({ anchor, through: caughtUp });
      const lateSender = makeSender({
        url,
        ingestKey,
        concurrency,
        onDone: (b) => {
          later += b.count;
        },
      });
      lateSender.add(
        batchesForHours(
          more,
          (anchor - more.windowStart) / HOUR_MS,
          (caughtUp - more.windowStart) / HOUR_MS,
        ).map((b) => ({ ...b, chunk: 0 })),
      );
      await lateSender.close();
      state.topped_up_through = new Date(caughtUp).toISOString();
      save();
      log(`  caught up: ${later.toLocaleString("en-US")} events for the hours since the anchor`);
    }
    await waitForRollups(url, operatorToken, demo.historyStart, counts.total + later);
    const rolled = since(t);
    const before = await countSignals(url, operatorToken);
    const evaluated = await call(`${url}/api/detectors/evaluate`, post, long);
    const closed = since(t);
    await waitForSignals(url, operatorToken, before + (evaluated?.new_signals ?? 0));
    sides.detection = `detection: rollups ${secs(rolled)}, detectors ${secs(closed - rolled)}, signals ${secs(since(t) - closed)}`;
  })();
  billingDone.catch(() => {});
  detectionDone.catch(() => {});
  await Promise.all([billingDone, detectionDone]);
  lap("billing | detection", `${sides.billing}; ${sides.detection}`);
  await call(`${url}/api/metrics/refresh`, post, long);
  lap("snapshot");
  state.finished_at = new Date().toISOString();
  save();
  const seconds = (performance.now() - started) / 1000;
  const live = new Set(demo.subscriptions.filter((s) => s.end === null).map((s) => s.customer));
  log(
    `Demo data ready: ${live.size} customers (${demo.customers.length} over ${Math.round(HISTORY_DAYS / 30.4)} months), ${counts.total.toLocaleString("en-US")} events (${seconds.toFixed(1)} s). Stories: ${Object.values(
      demo.stories,
    )
      .map((s) => /** @type {{customer?: string}} */ (s).customer)
      .filter(Boolean)
      .join(", ")}`,
  );
  log(`  seed phases: ${phases.join(" · ")}`);
  return state;
}

/** A top-up reaches back at most this far; an older gap is left as a gap. */
const TOP_UP_MAX_MS = 30 * DAY_MS;

/**
 * Keeps a seeded demo current: sends the demo customers' usage for the complete hours since the
 * window (or since the last top-up), generated by the same model carried on past the window, so
 * a demo started again days later — or left running — does not fall silent. Returns the number
 * of events sent (0 when there was nothing to do).
 * `credit`: units the live trickle (demo-live.mjs) already delivered, by
 * `customer|metric|hour start`; each hour's aggregate carries only the rest.
 * @param {{url: string, ingestKey: string, persistTo: string, now?: number,
 *   log?: (line: string) => void, concurrency?: number,
 *   credit?: ReadonlyMap<string, number>}} o
 */
export async function topUpDemo({
  url,
  ingestKey,
  persistTo,
  now = Date.now(),
  log = console.log,
  concurrency = 4,
  credit = new Map(),
}) {
  const file = join(persistTo, SEED_FILE);
  if (!existsSync(file)) return 0;
  /** @type {SeedMarker} */
  const marker = JSON.parse(readFileSync(file, "utf8"));
  if (!marker.finished_at || marker.version !== DEMO_VERSION) return 0;
  const anchor = Date.parse(marker.anchor);
  const through = now - (now % HOUR_MS);
  const done = Date.parse(marker.topped_up_through ?? marker.anchor);
  if (through <= done) return 0;
  const from = Math.max(done, through - TOP_UP_MAX_MS);
  const demo = buildDemo({ anchor, through });
  const lessCredit = (/** @type {DemoEvent} */ e) => {
    const taken = credit.get(`${e.customer}|${e.metric}|${Date.parse(e.time)}`) ?? 0;
    if (taken <= 0) return e;
    const quantity = Math.round(e.quantity - taken);
    if (quantity <= 0) return null;
    const cost = { ...e.cost };
    // The cost's token and call counts shrink with the quantity.
    for (const k of ["input_tokens", "cached_input_tokens", "output_tokens", "calls"]) {
      if (typeof cost[k] === "number") {
        cost[k] = Math.max(0, Math.round(/** @type {number} */ (cost[k] * quantity) / e.quantity));
      }
    }
    if (e.metric === "input_tokens") {
      const cached = Math.min(quantity, /** @type {number} */ (cost.cached_input_tokens ?? 0));
      cost.input_tokens = quantity - cached;
      if (cached) cost.cached_input_tokens = cached;
    }
    return { ...e, quantity, cost };
  };
  const batches = batchesForHours(
    demo,
    (from - demo.windowStart) / HOUR_MS,
    (through - demo.windowStart) / HOUR_MS,
    lessCredit,
  ).map((b) => ({ ...b, chunk: 0 }));
  let sent = 0;
  const sender = makeSender({
    url,
    ingestKey,
    concurrency,
    onDone: (batch) => {
      sent += batch.count;
    },
  });
  sender.add(batches);
  await sender.close();
  marker.topped_up_through = new Date(through).toISOString();
  writeFileSync(`${file}.tmp`, `${JSON.stringify(marker, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
  const hours = (through - from) / HOUR_MS;
  log(
    `Demo data topped up: ${sent.toLocaleString("en-US")} events for the ${hours} hour${hours === 1 ? "" : "s"} since ${new Date(from).toISOString()}${from > done ? " (older gap left out)" : ""}.`,
  );
  return sent;
}
