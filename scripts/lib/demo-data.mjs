// The demo tenant's data, seeded by `npm start` through the real API: the catalog through /api/*
// and 90 days of hourly aggregate usage through POST /v1/events, so every event is validated,
// rated, costed and rolled up exactly like production traffic.
//
// Two halves:
// - buildDemo({anchor, seed}) is pure and deterministic (seeded PRNG, no clock, no I/O): the
//   catalog, ~200 customers and their subscriptions, and every customer's hourly series for the
//   90 days before `anchor` (an hour boundary), with seasonality, overdispersed noise, growth,
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
import { request } from "./stack.mjs";

export const DEMO_VERSION = 1;
export const WINDOW_DAYS = 90;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;
export const MAX_BATCH_EVENTS = 1000;
export const MAX_BATCH_BYTES = 1024 * 1024;
const MAX_QUANTITY = 1_000_000_000;
const BASE_PRICES_FROM = "2025-01-01T00:00:00Z";
/** Seeding progress, in the state directory next to aforo-demo.json. */
export const SEED_FILE = "aforo-demo-seed.json";

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
export const CUSTOMER_COUNT = 200;

/**
 * @typedef {{
 *   id: string, name: string, email: string,
 *   metadata: {segment: string, region: string, account_owner: string, story?: string},
 *   tz: number, weekend: number,
 * }} DemoCustomer
 * @typedef {{
 *   id: string, customer: string, plan: string, product: string, start: number,
 *   trial_end: number | null,
 * }} DemoSubscription
 * @typedef {{
 *   customer: string, product: string, metrics: string[],
 *   q: Float64Array[], cached: Float64Array | null, model: (hour: number) => string,
 *   tokens: {input: number, output: number, cached: number} | null,
 * }} DemoSeries
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
  const local = new Date(t + c.tz * HOUR_MS);
  const dow = local.getUTCDay();
  const week = dow === 0 || dow === 6 ? c.weekend : 1;
  const norm = DIURNAL_MEAN * ((5 + 2 * c.weekend) / 7);
  return ((DIURNAL[local.getUTCHours()] ?? 1) * week) / norm;
}

// ---------------------------------------------------------------------------------------------
// The demo

/**
 * @typedef {{
 *   anchor: number, windowStart: number, hours: number, priceChangeAt: number,
 *   products: typeof PRODUCTS, plans: object[], costCatalog: CostEntry[],
 *   customers: DemoCustomer[], subscriptions: DemoSubscription[], series: DemoSeries[],
 *   unknown: DemoSeries, stories: Record<string, object>,
 * }} Demo
 */

/**
 * Builds the whole demo, deterministically.
 * @param {{anchor: number, seed?: string, through?: number}} o `anchor`: the end of the window
 *   (an hour boundary; the last events are for the hour before it). `through` (an hour boundary
 *   at or after the anchor): usage goes on past the window to there, for topping a running demo
 *   up; every value up to the anchor is the same as without it.
 * @returns {Demo}
 */
export function buildDemo({ anchor, seed = "aforo-demo-v1", through = anchor }) {
  if (anchor % HOUR_MS !== 0) throw new Error("anchor must be an hour boundary");
  if (through % HOUR_MS !== 0 || through < anchor) {
    throw new Error("through must be an hour boundary at or after the anchor");
  }
  const hours = WINDOW_DAYS * 24;
  const windowStart = anchor - hours * HOUR_MS;
  /** Hours of usage generated: the window, then whatever `through` adds. */
  const generated = hours + (through - anchor) / HOUR_MS;
  const priceChangeAt = dayFloor(windowStart + 45 * DAY_MS);
  const rng = new Rng(`${seed}:customers`);
  const planById = new Map(PLANS.map((p) => [p.id, p]));

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
    };
    customers.push(c);
    return c;
  };
  /** @param {DemoCustomer} c @param {string} planId @param {number} start */
  const subscribe = (c, planId, start) => {
    const plan = planById.get(planId);
    if (!plan) throw new Error(`unknown plan ${planId}`);
    const sub = {
      id: `demo-${c.id}-${plan.product}`,
      customer: c.id,
      plan: planId,
      product: plan.product,
      start,
      trial_end: plan.trial_days ? start + plan.trial_days * DAY_MS : null,
    };
    subscriptions.push(sub);
    return sub;
  };

  // The story customers first, with fixed ids.
  const cogs = addCustomer(
    STORIES.cogs_jump,
    "CogsJumper AI",
    "mid-market",
    "eu-west",
    "cogs_jump",
  );
  subscribe(cogs, "chat-pro", dayFloor(anchor - 104 * DAY_MS) + 10 * HOUR_MS);
  const fading = addCustomer(
    STORIES.usage_collapse,
    "Fading Co",
    "mid-market",
    "us-west",
    "usage_collapse",
  );
  subscribe(fading, "agent-team", dayFloor(anchor - 112 * DAY_MS) + 17 * HOUR_MS);
  const racer = addCustomer(
    STORIES.quota_race,
    "Quota Racer Inc",
    "startup",
    "eu-central",
    "quota_race",
  );
  // Monthly periods anchored so the current one is ~18 days old when the window ends.
  const racerPeriodStart = dayFloor(anchor - 18 * DAY_MS) + 9 * HOUR_MS;
  subscribe(racer, "rest-growth", addMonths(racerPeriodStart, -3));
  const spiky = addCustomer(
    STORIES.usage_spikes,
    "Spiky Labs",
    "startup",
    "us-east",
    "usage_spikes",
  );
  subscribe(spiky, "rest-starter", dayFloor(anchor - 95 * DAY_MS) + 15 * HOUR_MS);

  // Everyone else.
  while (customers.length < CUSTOMER_COUNT) {
    const name = `${rng.pick(NAME_FIRST)} ${rng.pick(NAME_SECOND)}`;
    const id = slug(name);
    if (used.has(id)) continue;
    used.add(id);
    const segment = rng.weighted(SEGMENTS);
    const region = rng.weighted(Object.fromEntries(REGIONS.map((r) => [r.id, r.weight])));
    const c = addCustomer(id, name, segment, region);
    let product = rng.weighted(PRODUCT_MIX[/** @type {keyof PRODUCT_MIX} */ (segment)]);
    const mix = PLAN_MIX[/** @type {keyof PLAN_MIX} */ (product)];
    let plan = rng.weighted(mix[/** @type {keyof typeof mix} */ (segment)]);
    // Start: most before the window (history), some during it, a few brand new (on a trial of
    // a starter plan).
    const r = rng.next();
    let daysAgo;
    if (r < 0.07) {
      daysAgo = rng.uniform(1, 12);
      if (!planById.get(plan)?.trial_days) {
        plan = rng.pick(PLANS.filter((p) => p.trial_days)).id;
        product = planById.get(plan)?.product ?? product;
      }
    } else if (r < 0.6) daysAgo = rng.uniform(90, 125);
    else daysAgo = rng.uniform(12, 90);
    const start = Math.floor((anchor - daysAgo * DAY_MS) / HOUR_MS) * HOUR_MS;
    subscribe(c, plan, start);
    // Some expand to a second product later on.
    const second = segment === "enterprise" ? 0.3 : segment === "mid-market" ? 0.15 : 0.06;
    if (rng.chance(second)) {
      const other = rng.pick(PRODUCTS.filter((p) => p.id !== product)).id;
      const start2 = start + Math.round(rng.uniform(7, 60)) * DAY_MS;
      if (start2 < anchor - 2 * DAY_MS) {
        const otherMix = PLAN_MIX[/** @type {keyof PLAN_MIX} */ (other)];
        subscribe(
          c,
          rng.weighted(otherMix[/** @type {keyof typeof otherMix} */ (segment)]),
          start2,
        );
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
  /** @type {DemoSeries[]} */
  const series = [];
  for (const sub of subscriptions) {
    const c = /** @type {DemoCustomer} */ (customerById.get(sub.customer));
    const plan = /** @type {(typeof PLANS)[number]} */ (planById.get(sub.plan));
    const r = new Rng(`${seed}:series:${sub.id}`);
    const story = c.metadata.story ?? "";
    const monthly = plan.volume.median * r.lognormal(0, story ? 0 : plan.volume.sigma);
    // Growth per day (applied backwards from the anchor), a ramp-up after the start.
    const g = story
      ? 0.002
      : r.chance(0.35)
        ? r.uniform(0.003, 0.012)
        : r.chance(0.12)
          ? -r.uniform(0.002, 0.006)
          : r.normal() * 0.001;
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
    const q = metrics.map(() => new Float64Array(generated));
    let cached = null;
    let tokens = null;
    /** @type {(hour: number) => string} */
    let model = () => "";
    // Units of "activity" per hour: chat requests, REST calls, agent sessions.
    let perActivity = 1;
    if (sub.product === "chat-api") {
      tokens = { input: r.uniform(900, 4000), output: r.uniform(150, 900), cached: 0 };
      tokens.cached = r.chance(0.5) ? r.uniform(0.1, 0.6) : 0;
      perActivity = tokens.input;
      cached = new Float64Array(generated);
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
    let dayNoise = 1;
    for (let i = 0; i < generated; i++) {
      const t = windowStart + i * HOUR_MS;
      if (i % 24 === 0) dayNoise = r.lognormal(0, 0.08);
      if (t < sub.start) continue;
      const age = (t - sub.start) / DAY_MS;
      let mean =
        ratePerHour *
        seasonal(c, t) *
        Math.exp(g * ((t - anchor) / DAY_MS)) *
        (1 - Math.exp(-(age + 0.5) / 3)) *
        dayNoise *
        (spikes.get(t) ?? 1);
      if (story === "usage_collapse" && t >= collapseAt) mean *= 0.2;
      if (story === "quota_race") {
        // 0.6× the quota's pace in earlier periods, 1.5× in the current one.
        const inCurrent = t >= racerPeriodStart;
        const periodHours = inCurrent ? (racerPeriodEnd - racerPeriodStart) / HOUR_MS : 30.4 * 24;
        mean = ((inCurrent ? 1.5 : 0.6) * racerQuota * seasonal(c, t) * dayNoise) / periodHours;
      }
      const n = r.negbin(mean, k);
      if (n === 0) continue;
      if (sub.product === "chat-api" && tokens && cached) {
        const input = Math.min(MAX_QUANTITY, Math.round(n * tokens.input * r.lognormal(0, 0.12)));
        const output = Math.min(MAX_QUANTITY, Math.round(n * tokens.output * r.lognormal(0, 0.15)));
        /** @type {Float64Array} */ (q[0])[i] = input;
        /** @type {Float64Array} */ (q[1])[i] = output;
        cached[i] = Math.min(input, Math.round(input * tokens.cached * r.lognormal(0, 0.1)));
      } else if (sub.product === "agent-platform") {
        /** @type {Float64Array} */ (q[0])[i] = n;
        /** @type {Float64Array} */ (q[1])[i] = r.negbin(n * toolsPerSession, 20);
      } else {
        /** @type {Float64Array} */ (q[0])[i] = Math.min(MAX_QUANTITY, n);
      }
    }
    // Small customers report coarser aggregates: fold each block of `every` hours (aligned to
    // UTC) into its first hour, never across the subscription's start or trial end.
    const m = monthly / plan.volume.median;
    const every = story ? 1 : (plan.volume.every ?? (m < 1 ? 3 : m < 2 ? 2 : 1));
    if (every > 1) {
      const boundaries = [sub.start, sub.trial_end ?? sub.start].map((t) =>
        Math.ceil((t - windowStart) / HOUR_MS),
      );
      for (const arr of [...q, ...(cached ? [cached] : [])]) {
        for (let i = 0; i < generated; i++) {
          const offset = (windowStart / HOUR_MS + i) % every;
          const first = Math.max(0, i - offset, ...boundaries.filter((b) => b <= i));
          if (first !== i && arr[i]) {
            arr[first] = (arr[first] ?? 0) + (arr[i] ?? 0);
            arr[i] = 0;
          }
        }
      }
    }
    series.push({ customer: c.id, product: sub.product, metrics, q, cached, model, tokens });
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
    product: "chat-api",
    metrics: ["input_tokens", "output_tokens"],
    q: uq,
    cached: new Float64Array(generated),
    model: () => "anthropic/claude-haiku-4-5",
    tokens: null,
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
// Events and batches

/**
 * The events of one series for hour index i (0 to 2 events), as native event objects.
 * @param {Demo} demo @param {DemoSeries} s @param {number} i
 */
export function eventsAt(demo, s, i) {
  const t = demo.windowStart + i * HOUR_MS;
  const time = new Date(t).toISOString();
  const stamp = hourIso(t);
  const out = [];
  for (let m = 0; m < s.metrics.length; m++) {
    const quantity = /** @type {Float64Array} */ (s.q[m])[i] ?? 0;
    if (!quantity) continue;
    const metric = /** @type {string} */ (s.metrics[m]);
    /** @type {Record<string, unknown>} */
    let cost;
    const [provider, model] = s.model(t).split("/");
    if (s.product === "chat-api") {
      const cached = s.cached?.[i] ?? 0;
      cost =
        metric === "input_tokens"
          ? {
              provider,
              model,
              input_tokens: quantity - cached,
              ...(cached ? { cached_input_tokens: cached } : {}),
            }
          : { provider, model, output_tokens: quantity };
    } else if (s.product === "agent-platform") {
      const tk = s.tokens ?? { input: 0, output: 0, cached: 0 };
      cost =
        metric === "agent_sessions"
          ? {
              provider,
              model,
              input_tokens: Math.round(quantity * tk.input * (1 - tk.cached)),
              cached_input_tokens: Math.round(quantity * tk.input * tk.cached),
              output_tokens: Math.round(quantity * tk.output),
            }
          : { provider: "aforo-infra", model: "tool-runner", calls: quantity };
    } else {
      cost = { provider: "aforo-infra", model: "rest-edge", calls: quantity };
    }
    out.push({
      id: `demo-${s.customer}-${metric}-${stamp}`,
      customer: s.customer,
      product: s.product,
      metric,
      quantity,
      time,
      cost,
    });
  }
  return out;
}

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

/**
 * Number of events per day of the window.
 * @param {Demo} demo
 */
export function eventsPerDay(demo) {
  const perDay = new Array(WINDOW_DAYS).fill(0);
  for (const s of [...demo.series, demo.unknown]) {
    for (const q of s.q) {
      for (let i = 0; i < q.length; i++) if (q[i]) perDay[Math.floor(i / 24)]++;
    }
  }
  return perDay;
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
 * The same for hours [fromHour, toHour) counted from the window's start (past the window when
 * the demo was built with `through`).
 * @param {Demo} demo @param {number} fromHour @param {number} toHour
 * @returns {{body: string, count: number, customers: string[]}[]}
 */
export function batchesForHours(demo, fromHour, toHour) {
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
  for (const [customer, list] of seriesByCustomer(demo)) {
    for (let i = fromHour; i < toHour; i++) {
      for (const s of list) {
        for (const event of eventsAt(demo, s, i)) {
          const json = JSON.stringify(event);
          if (parts.length >= MAX_BATCH_EVENTS || bytes + json.length + 1 > MAX_BATCH_BYTES) {
            flush();
          }
          parts.push(json);
          bytes += json.length + 1;
          customers.add(customer);
        }
      }
    }
  }
  flush();
  return batches;
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

/** POST that treats 409 (already exists) as done. */
async function create(
  /** @type {string} */ url,
  /** @type {string} */ token,
  /** @type {unknown} */ body,
) {
  try {
    await request(url, { method: "POST", token, body });
    return true;
  } catch (err) {
    if (/** @type {{status?: number}} */ (err).status === 409) return false;
    throw err;
  }
}

async function seedCatalog(
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
  await request(`${url}/api/cost-catalog`, { method: "PUT", token, body: demo.costCatalog });
  await pool(demo.customers, 8, async (c) => {
    await create(`${url}/api/customers`, token, {
      id: c.id,
      name: c.name,
      email: c.email,
      metadata: c.metadata,
    });
    for (const s of demo.subscriptions.filter((x) => x.customer === c.id)) {
      await create(`${url}/api/subscriptions`, token, {
        id: s.id,
        customer: s.customer,
        plan: s.plan,
        start: new Date(s.start).toISOString(),
        ...(s.trial_end !== null ? { trial_end: new Date(s.trial_end).toISOString() } : {}),
      });
    }
  });
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

/**
 * Sends batches in order with `concurrency` requests in flight, never two batches of the same
 * customer at once (a later batch of a customer waits for the earlier one).
 * @param {{body: string, count: number, customers: string[], chunk: number}[]} queue shared,
 *   appended to by the caller as chunks are generated
 * @param {{url: string, ingestKey: string, concurrency: number, more: () => boolean,
 *   onDone: (b: {count: number, chunk: number}, r: {accepted: number, duplicates: number}) => void}} o
 */
async function sendAll(queue, o) {
  const busy = new Set();
  let inFlight = 0;
  /** @type {unknown} */
  let failure = null;
  await new Promise((resolve, reject) => {
    let exhausted = false;
    const fail = (/** @type {unknown} */ err) => {
      failure ??= err;
      reject(err);
    };
    const pump = () => {
      if (failure) return;
      while (inFlight < o.concurrency) {
        while (!exhausted && queue.length < 40) exhausted = !o.more();
        const blocked = new Set(busy);
        let index = -1;
        for (let i = 0; i < queue.length && i < 60; i++) {
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
      if (inFlight === 0 && queue.length === 0 && exhausted) resolve(undefined);
    };
    try {
      pump();
    } catch (err) {
      fail(err);
    }
  });
}

/**
 * `<persistTo>/aforo-demo-seed.json`. `anchor`: the end of the 90-day window (kept so a resumed
 * run sends the same events); `events_sent_through_day`: days of the window fully sent, and
 * `events_sent` their events (a resumed run re-sends from there; repeats come back as duplicates).
 * `topped_up_through`: usage past the window has been sent up to there (see topUpDemo).
 * @typedef {{version: number, anchor: string, catalog_done: boolean,
 *   events_sent_through_day: number, events_sent: number, events_total: number,
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
 * Seeds the demo tenant through the API. Resolves with the marker once everything is sent.
 * @param {{url: string, operatorToken: string, ingestKey: string, persistTo: string,
 *   log?: (line: string) => void, concurrency?: number, chunkDays?: number,
 *   now?: number, progress?: boolean}} o
 */
export async function seedDemo({
  url,
  operatorToken,
  ingestKey,
  persistTo,
  log = console.log,
  concurrency = 5,
  chunkDays = 5,
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
  const demo = buildDemo({ anchor });
  const perDay = eventsPerDay(demo);
  const total = perDay.reduce((a, b) => a + b, 0);
  /** @type {SeedMarker} */
  const state = marker ?? {
    version: DEMO_VERSION,
    anchor: new Date(anchor).toISOString(),
    catalog_done: false,
    events_sent_through_day: 0,
    events_sent: 0,
    events_total: total,
    stories: demo.stories,
    started_at: new Date().toISOString(),
    finished_at: null,
  };
  const save = () => {
    writeFileSync(`${file}.tmp`, `${JSON.stringify(state, null, 2)}\n`);
    renameSync(`${file}.tmp`, file);
  };
  save();

  if (!state.catalog_done) {
    log(
      `Seeding demo data: ${demo.customers.length} customers, ${demo.subscriptions.length} subscriptions, ${demo.plans.length} plans…`,
    );
    await seedCatalog(demo, url, operatorToken);
    state.catalog_done = true;
    save();
  }

  const firstDay = state.events_sent_through_day;
  const toSend = perDay.slice(firstDay).reduce((a, b) => a + b, 0);
  log(
    `Seeding ${toSend.toLocaleString("en-US")} usage events (${WINDOW_DAYS} days, hourly)${firstDay ? `, resuming at day ${firstDay}` : ""}…`,
  );
  const chunks = [];
  for (let d = firstDay; d < WINDOW_DAYS; d += chunkDays) {
    chunks.push({ from: d, to: Math.min(WINDOW_DAYS, d + chunkDays), left: 0, generated: false });
  }
  /** @type {{body: string, count: number, customers: string[], chunk: number}[]} */
  const queue = [];
  let nextChunk = 0;
  const more = () => {
    const chunk = chunks[nextChunk];
    if (!chunk) return false;
    const batches = batchesFor(demo, chunk.from, chunk.to);
    chunk.left = batches.length;
    chunk.generated = true;
    for (const b of batches) queue.push({ ...b, chunk: nextChunk });
    nextChunk++;
    return true;
  };

  const sendStart = performance.now();
  let sent = 0;
  let lastPrinted = -1;
  let lastDrawn = 0;
  const report = (final = false) => {
    const seconds = (performance.now() - sendStart) / 1000;
    const rate = sent / Math.max(seconds, 0.001);
    const eta = rate > 0 ? (toSend - sent) / rate : 0;
    const line = `  day ${state.events_sent_through_day}/${WINDOW_DAYS} · ${sent.toLocaleString("en-US")}/${toSend.toLocaleString("en-US")} events · ${Math.round(rate).toLocaleString("en-US")} events/s · ${final ? `${seconds.toFixed(1)} s` : `ETA ${Math.ceil(eta)} s`}`;
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
  await sendAll(queue, {
    url,
    ingestKey,
    concurrency,
    more,
    onDone: (batch) => {
      sent += batch.count;
      const chunk = chunks[batch.chunk];
      if (chunk) chunk.left--;
      // Days are done when every chunk up to them is done.
      let advanced = false;
      for (const c of chunks) {
        if (!c.generated || c.left > 0) break;
        if (c.to > state.events_sent_through_day) {
          state.events_sent_through_day = c.to;
          state.events_sent = perDay.slice(0, c.to).reduce((a, b) => a + b, 0);
          advanced = true;
        }
      }
      if (advanced) save();
      report();
    },
  });
  state.finished_at = new Date().toISOString();
  save();
  report(true);
  const seconds = (performance.now() - started) / 1000;
  log(
    `Demo data ready: ${demo.customers.length} customers, ${total.toLocaleString("en-US")} events over ${WINDOW_DAYS} days (${seconds.toFixed(1)} s). Stories: ${Object.values(
      demo.stories,
    )
      .map((s) => /** @type {{customer?: string}} */ (s).customer)
      .filter(Boolean)
      .join(", ")}`,
  );
  return state;
}

/** A top-up reaches back at most this far; an older gap is left as a gap. */
const TOP_UP_MAX_MS = 30 * DAY_MS;

/**
 * Keeps a seeded demo current: sends the demo customers' usage for the complete hours since the
 * window (or since the last top-up), generated by the same model carried on past the window, so
 * a demo started again days later — or left running — does not fall silent. Returns the number
 * of events sent (0 when there was nothing to do).
 * @param {{url: string, ingestKey: string, persistTo: string, now?: number,
 *   log?: (line: string) => void, concurrency?: number}} o
 */
export async function topUpDemo({
  url,
  ingestKey,
  persistTo,
  now = Date.now(),
  log = console.log,
  concurrency = 4,
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
  const batches = batchesForHours(
    demo,
    (from - demo.windowStart) / HOUR_MS,
    (through - demo.windowStart) / HOUR_MS,
  ).map((b) => ({ ...b, chunk: 0 }));
  let sent = 0;
  await sendAll(batches, {
    url,
    ingestKey,
    concurrency,
    more: () => false,
    onDone: (/** @type {{count: number}} */ batch) => {
      sent += batch.count;
    },
  });
  marker.topped_up_through = new Date(through).toISOString();
  writeFileSync(`${file}.tmp`, `${JSON.stringify(marker, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
  const hours = (through - from) / HOUR_MS;
  log(
    `Demo data topped up: ${sent.toLocaleString("en-US")} events for the ${hours} hour${hours === 1 ? "" : "s"} since ${new Date(from).toISOString()}${from > done ? " (older gap left out)" : ""}.`,
  );
  return sent;
}
