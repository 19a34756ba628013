import { describe, expect, it } from "vitest";
import type { PlanComponent } from "../../contracts/catalog";
import { parsePricing } from "../../domain/copilot/pricing-parser";
import { formatMoney, toMicros } from "../../domain/money";
import { compilePlan, periodCharges } from "../../domain/pricing";

// The copilot's pattern table (issue 18): sentences an operator would type, in the pricing
// shapes of real public price lists, → the components the parser must propose, and the total
// the real pricing engine computes for one usage scenario over a whole period. Every total is
// worked by hand in its comment; the engine must agree to the cent.

const flat = (amount: string): PlanComponent => ({ type: "flat", amount });
const per = (metric: string, unit_price: string): PlanComponent => ({
  type: "per_unit",
  metric,
  unit_price,
});
const inc = (metric: string, quantity: string): PlanComponent => ({
  type: "included",
  metric,
  quantity,
});
const pkg = (metric: string, size: string, price: string): PlanComponent => ({
  type: "package",
  metric,
  size,
  price,
});
const min = (amount: string): PlanComponent => ({ type: "minimum", amount });
const disc = (metric: string | null, above: string, percent: string): PlanComponent =>
  metric === null
    ? { type: "discount", above, percent }
    : { type: "discount", metric, above, percent };
const tiers = (
  metric: string,
  mode: "graduated" | "volume",
  list: [string | null, string, string?][],
): PlanComponent => ({
  type: "tiered",
  metric,
  mode,
  tiers: list.map(([up_to, unit_price, flat_fee]) => ({
    up_to,
    unit_price,
    ...(flat_fee ? { flat_fee } : {}),
  })),
});

interface Pattern {
  /** Whose public price list the shape comes from. */
  shape: string;
  text: string;
  components: PlanComponent[];
  period?: "month" | "year";
  currency?: string;
  usage: Record<string, string>;
  total: string;
}

const PATTERNS: Pattern[] = [
  // 2,000 + 3M × 0.00001 (30) − 15 % × (30 − 1M × 0.00001 = 10) = 2,000 + 30 − 3
  {
    shape: "seed",
    text: "$2K platform fee, $10 per million tokens, 15% volume discount above 1M",
    components: [flat("2000"), per("tokens", "0.00001"), disc("tokens", "1000000", "15")],
    usage: { tokens: "3000000" },
    total: "2027.00",
  },
  // 2M × 0.0000025 (5) + 0.5M × 0.00001 (5)
  {
    shape: "OpenAI",
    text: "OpenAI-style: $2.50 per 1M input tokens and $10.00 per 1M output tokens",
    components: [per("input_tokens", "0.0000025"), per("output_tokens", "0.00001")],
    usage: { input_tokens: "2000000", output_tokens: "500000" },
    total: "10.00",
  },
  // 10M × 3/M (30) + 1M × 15/M (15) + 20M × 0.30/M (6)
  {
    shape: "Anthropic",
    text: "Anthropic pricing: $3 / MTok input, $15 / MTok output, cached input at $0.30 / MTok",
    components: [
      per("input_tokens", "0.000003"),
      per("output_tokens", "0.000015"),
      per("cached_input_tokens", "0.0000003"),
    ],
    usage: { input_tokens: "10000000", output_tokens: "1000000", cached_input_tokens: "20000000" },
    total: "51.00",
  },
  // 5M × 0.8/M (4) + 2M × 4/M (8)
  {
    shape: "Anthropic Haiku",
    text: "$0.80 per MTok input, $4 per MTok output",
    components: [per("input_tokens", "0.0000008"), per("output_tokens", "0.000004")],
    usage: { input_tokens: "5000000", output_tokens: "2000000" },
    total: "12.00",
  },
  // 50M × 0.02/M
  {
    shape: "OpenAI embeddings",
    text: "OpenAI embeddings: $0.02 per 1M tokens",
    components: [per("tokens", "0.00000002")],
    usage: { tokens: "50000000" },
    total: "1.00",
  },
  // 10,000 × 0.0079
  {
    shape: "Twilio SMS",
    text: "We charge $0.0079 per SMS sent",
    components: [per("sent_messages", "0.0079")],
    usage: { sent_messages: "10000" },
    total: "79.00",
  },
  // 1,500 × 0.014
  {
    shape: "Twilio Voice",
    text: "Twilio voice: $0.014 per minute for inbound calls",
    components: [per("minutes", "0.014")],
    usage: { minutes: "1500" },
    total: "21.00",
  },
  // 1,234 × 0.05
  {
    shape: "Twilio Verify",
    text: "Twilio Verify: $0.05 per successful verification",
    components: [per("successful_verifications", "0.05")],
    usage: { successful_verifications: "1234" },
    total: "61.70",
  },
  // 1,000 × 0.02
  {
    shape: "Twilio (GBP)",
    text: "£0.02 per message",
    currency: "GBP",
    components: [per("messages", "0.02")],
    usage: { messages: "1000" },
    total: "20.00",
  },
  // 5M × 0.20/M (1) + 400,000 × 0.00001 (4)
  {
    shape: "AWS Lambda",
    text: "AWS Lambda: $0.20 per 1M requests plus $0.00001 per GB-second",
    components: [per("requests", "0.0000002"), per("gb_seconds", "0.00001")],
    usage: { requests: "5000000", gb_seconds: "400000" },
    total: "5.00",
  },
  // 1,000 × 0.023
  {
    shape: "AWS S3",
    text: "S3: $0.023 per GB stored per month",
    components: [per("storage_gb", "0.023")],
    usage: { storage_gb: "1000" },
    total: "23.00",
  },
  // 1,000 × 0.09
  {
    shape: "AWS egress",
    text: "$0.09 per GB egress",
    components: [per("egress_gb", "0.09")],
    usage: { egress_gb: "1000" },
    total: "90.00",
  },
  // 7.5M × 0.40/M
  {
    shape: "AWS API Gateway",
    text: "$0.40 per 1,000,000 requests",
    components: [per("requests", "0.0000004")],
    usage: { requests: "7500000" },
    total: "3.00",
  },
  // 2M × 0.25/1,000
  {
    shape: "AWS Lambda@Edge",
    text: "$0.25 per 1,000 function invocations",
    components: [per("function_invocations", "0.00025")],
    usage: { function_invocations: "2000000" },
    total: "500.00",
  },
  // 12 × 15
  {
    shape: "Datadog infrastructure",
    text: "Datadog: $15 per host per month",
    components: [per("hosts", "15")],
    usage: { hosts: "12" },
    total: "180.00",
  },
  // 250 × 0.10
  {
    shape: "Datadog logs",
    text: "Datadog logs: $0.10 per GB ingested",
    components: [per("ingested_gb", "0.1")],
    usage: { ingested_gb: "250" },
    total: "25.00",
  },
  // 5 × 20 (100) + 100 × 0.15 (15)
  {
    shape: "Vercel",
    text: "Vercel-like: $20 per member per month and $0.15 per GB of bandwidth",
    components: [per("seats", "20"), per("gb", "0.15")],
    usage: { seats: "5", gb: "100" },
    total: "115.00",
  },
  // 3 × 20 (60) + 250 × 40/100 (100)
  {
    shape: "Vercel Pro",
    text: "Vercel Pro plan: $20 per user per month, plus $40 per 100 GB of bandwidth",
    components: [per("seats", "20"), per("gb", "0.4")],
    usage: { seats: "3", gb: "250" },
    total: "160.00",
  },
  // 10,000 credits × 2 = 20,000 < 25,000 committed → top-up to 25,000 (yearly plan)
  {
    shape: "Snowflake",
    text: "Snowflake: $2 per credit, minimum $25,000 annual commitment",
    period: "year",
    components: [per("credits", "2"), min("25000")],
    usage: { credits: "10000" },
    total: "25000.00",
  },
  // 5 + (25M − 10M) × 0.30/M (4.50)
  {
    shape: "Cloudflare Workers",
    text: "Cloudflare Workers: $5/month includes 10 million requests, then $0.30 per additional million",
    components: [flat("5"), inc("requests", "10000000"), per("requests", "0.0000003")],
    usage: { requests: "25000000" },
    total: "9.50",
  },
  // (50,000 − 10,000) × 0.50/1,000
  {
    shape: "Algolia",
    text: "Algolia: first 10,000 searches free, $0.50 per 1,000 searches after that",
    components: [inc("searches", "10000"), per("searches", "0.0005")],
    usage: { searches: "50000" },
    total: "20.00",
  },
  // 1M × 0.0001
  {
    shape: "Algolia (per query)",
    text: "$0.0001 per search query",
    components: [per("searches", "0.0001")],
    usage: { searches: "1000000" },
    total: "100.00",
  },
  // 15 + (25,000 − 10,000) × 1.80/1,000 (27)
  {
    shape: "Postmark",
    text: "Postmark: $15 per month for 10,000 emails, $1.80 per 1,000 additional emails",
    components: [flat("15"), inc("emails", "10000"), per("emails", "0.0018")],
    usage: { emails: "25000" },
    total: "42.00",
  },
  // 35 + (80,000 − 50,000) × 1.30/1,000 (39)
  {
    shape: "Mailgun",
    text: "Mailgun: $35/mo base, 50k emails included, overage $1.30 per 1,000 emails",
    components: [flat("35"), inc("emails", "50000"), per("emails", "0.0013")],
    usage: { emails: "80000" },
    total: "74.00",
  },
  // 25,000 emails → 3 blocks of 10,000 × 9.95
  {
    shape: "SendGrid",
    text: "SendGrid: emails sold in blocks of 10,000 at $9.95 per block",
    components: [pkg("emails", "10000", "9.95")],
    usage: { emails: "25000" },
    total: "29.85",
  },
  // 1,001 emails → 2 blocks × 5
  {
    shape: "email blocks",
    text: "$5 per block of 1,000 emails, rounded up",
    components: [pkg("emails", "1000", "5")],
    usage: { emails: "1001" },
    total: "10.00",
  },
  // (10,000 − 3,000) × 0.50/1,000 = 3.50 EUR
  {
    shape: "Brevo",
    text: "€0.50 per 1,000 emails with the first 3,000 emails free each month",
    currency: "EUR",
    components: [inc("emails", "3000"), per("emails", "0.0005")],
    usage: { emails: "10000" },
    total: "3.50",
  },
  // 10,000 × 2.9 % (290) + 100 × 0.30 (30)
  {
    shape: "Stripe",
    text: "Stripe: 2.9% + 30¢ per successful card charge",
    components: [per("charge_value", "0.029"), per("charges", "0.3")],
    usage: { charge_value: "10000", charges: "100" },
    total: "320.00",
  },
  // 20 × 8.75
  {
    shape: "Slack",
    text: "Slack-like: $8.75 per user per month, billed monthly",
    components: [per("seats", "8.75")],
    usage: { seats: "20" },
    total: "175.00",
  },
  // (5,000 − 2,000) × 0.008
  {
    shape: "GitHub Actions",
    text: "GitHub Actions: 2,000 build minutes included, $0.008 per build minute beyond that",
    components: [inc("build_minutes", "2000"), per("build_minutes", "0.008")],
    usage: { build_minutes: "5000" },
    total: "24.00",
  },
  // 120 + 5,000 × 0.01
  {
    shape: "Segment",
    text: "Segment: $120 per month platform fee plus $0.01 per MTU",
    components: [flat("120"), per("mtus", "0.01")],
    usage: { mtus: "5000" },
    total: "170.00",
  },
  // 3,000 × 0.07
  {
    shape: "Auth0",
    text: "Auth0: $0.07 per monthly active user",
    components: [per("mau", "0.07")],
    usage: { mau: "3000" },
    total: "210.00",
  },
  // 30 × 0.33
  {
    shape: "Pinecone",
    text: "Pinecone: $0.33 per GB per month of storage",
    components: [per("gb", "0.33")],
    usage: { gb: "30" },
    total: "9.90",
  },
  // 4 × 25
  {
    shape: "Heroku",
    text: "Heroku: $25 per dyno per month",
    components: [per("dynos", "25")],
    usage: { dynos: "4" },
    total: "100.00",
  },
  // 26 + (150,000 − 50,000) × 0.00029 (29)
  {
    shape: "Sentry",
    text: "Sentry: $26/month with 50K errors included, then $0.000290 per error",
    components: [flat("26"), inc("errors", "50000"), per("errors", "0.00029")],
    usage: { errors: "150000" },
    total: "55.00",
  },
  // (120,000 − 50,000) × 5/1,000
  {
    shape: "Mapbox",
    text: "Mapbox: first 50,000 map loads free, then $5 per 1,000 loads",
    components: [inc("map_loads", "50000"), per("map_loads", "0.005")],
    usage: { map_loads: "120000" },
    total: "350.00",
  },
  // 2,500 credits → 3 packs × 10
  {
    shape: "credit packs",
    text: "Credits: $10 per pack of 1,000 credits",
    components: [pkg("credits", "1000", "10")],
    usage: { credits: "2500" },
    total: "30.00",
  },
  // 250 credits → 3 packs of 100 × 10
  {
    shape: "credit packs (trailing)",
    text: "$10 per 100 credits, sold in packs",
    components: [pkg("credits", "100", "10")],
    usage: { credits: "250" },
    total: "30.00",
  },
  // volume: 2,500 seats fall in the 1,001–10,000 tier → every seat at 8
  {
    shape: "volume seats",
    text: "Volume pricing: 1-1,000 seats at $10, 1,001-10,000 seats at $8, above 10,000 seats at $6",
    components: [
      tiers("seats", "volume", [
        ["1000", "10"],
        ["10000", "8"],
        [null, "6"],
      ]),
    ],
    usage: { seats: "2500" },
    total: "20000.00",
  },
  // volume: 50,000 requests in the 10,001–100,000 tier → 50,000 × 0.008
  {
    shape: "volume requests",
    text: "Volume pricing: up to 10,000 requests at $0.01, 10,001 to 100,000 at $0.008, above 100,000 at $0.005",
    components: [
      tiers("requests", "volume", [
        ["10000", "0.01"],
        ["100000", "0.008"],
        [null, "0.005"],
      ]),
    ],
    usage: { requests: "50000" },
    total: "400.00",
  },
  // 100,000 × 0.001 (100) + 900,000 × 0.0008 (720) + 500,000 × 0.0005 (250)
  {
    shape: "graduated requests",
    text: "Graduated requests: first 100,000 at $0.001, next 900,000 at $0.0008, then $0.0005 per request",
    components: [
      tiers("requests", "graduated", [
        ["100000", "0.001"],
        ["1000000", "0.0008"],
        [null, "0.0005"],
      ]),
    ],
    usage: { requests: "1500000" },
    total: "1070.00",
  },
  // 1M × 2/M (2) + 9M × 1.5/M (13.50) + 10M × 1/M (10)
  {
    shape: "graduated tokens",
    text: "first 1M tokens at $2 per million, next 9M at $1.50 per million, $1 per million thereafter",
    components: [
      tiers("tokens", "graduated", [
        ["1000000", "0.000002"],
        ["10000000", "0.0000015"],
        [null, "0.000001"],
      ]),
    ],
    usage: { tokens: "20000000" },
    total: "25.50",
  },
  // first tier flat 20 for up to 1,000, then 2,000 × 0.01 (20)
  {
    shape: "tier flat fee",
    text: "up to 1,000 calls for a flat $20, then $0.01 per call",
    components: [
      tiers("calls", "graduated", [
        ["1000", "0", "20"],
        [null, "0.01"],
      ]),
    ],
    usage: { calls: "3000" },
    total: "40.00",
  },
  // 200 calls × 0.002 = 0.40 < 500 → top-up to 500
  {
    shape: "minimum commitment",
    text: "$500 minimum monthly commitment, $0.002 per API call",
    components: [per("api_calls", "0.002"), min("500")],
    usage: { api_calls: "200" },
    total: "500.00",
  },
  // 1,000 + 2M × 0.50/1,000 (1,000) = 2,000 < 5,000 → 5,000
  {
    shape: "fee + minimum",
    text: "$1,000 per month platform fee with a $5,000 monthly minimum, $0.50 per 1,000 events",
    components: [flat("1000"), per("events", "0.0005"), min("5000")],
    usage: { events: "2000000" },
    total: "5000.00",
  },
  // 3 seats × 15 = 45 < 5 × 15 = 75 → 75 EUR
  {
    shape: "seat minimum",
    text: "€15 per user per month, minimum 5 seats",
    currency: "EUR",
    components: [per("seats", "15"), min("75")],
    usage: { seats: "3" },
    total: "75.00",
  },
  // 80M × 0.001 = 80,000; 10 % × (80,000 − 50,000) = 3,000 off
  {
    shape: "spend discount",
    text: "10% off all usage above $50,000 per month, $0.001 per request",
    components: [per("requests", "0.001"), disc(null, "50000", "10")],
    usage: { requests: "80000000" },
    total: "77000.00",
  },
  // 300M × 1/M = 300; 20 % × (300 − 100) = 40 off
  {
    shape: "token discount",
    text: "20% discount on tokens above 100M, $1 per million tokens",
    components: [per("tokens", "0.000001"), disc("tokens", "100000000", "20")],
    usage: { tokens: "300000000" },
    total: "260.00",
  },
  // 20,000 × 0.5 = 10,000; 10 % × (10,000 − 5,000) = 500 off
  {
    shape: "verification discount",
    text: "$0.50 per verification, 10% off above 10,000 verifications",
    components: [per("verifications", "0.5"), disc("verifications", "10000", "10")],
    usage: { verifications: "20000" },
    total: "9500.00",
  },
  // 3,000 + 5.5M × 0.004 (22,000) − 10 % × (22,000 − 4.5M × 0.004 = 18,000) (400)
  {
    shape: "quota + overage + discount",
    text: "Sample: $3,000 per month platform fee, first 500,000 requests included, $0.004 per request above that, 10% discount above 5M requests",
    components: [
      flat("3000"),
      inc("requests", "500000"),
      per("requests", "0.004"),
      disc("requests", "5000000", "10"),
    ],
    usage: { requests: "6000000" },
    total: "24600.00",
  },
  // yearly: 12,000 + 5,000 × 0.10
  {
    shape: "annual platform fee",
    text: "annual plan: $12,000 per year platform fee, $0.10 per GB",
    period: "year",
    components: [flat("12000"), per("gb", "0.1")],
    usage: { gb: "5000" },
    total: "12500.00",
  },
  // yearly: 10,000 + 100,000 × 0.01
  {
    shape: "annual license",
    text: "Annual license: $10,000 per year, $0.01 per API call",
    period: "year",
    components: [flat("10000"), per("api_calls", "0.01")],
    usage: { api_calls: "100000" },
    total: "11000.00",
  },
  // 2,000 + 1M × 0.5/1,000 = 2,500 EUR
  {
    shape: "EUR platform",
    text: "2,000 EUR per month platform fee and 0.5 EUR per 1,000 API calls",
    currency: "EUR",
    components: [flat("2000"), per("api_calls", "0.0005")],
    usage: { api_calls: "1000000" },
    total: "2500.00",
  },
  // 10 × 500 JPY
  {
    shape: "JPY seats",
    text: "¥500 per user per month",
    currency: "JPY",
    components: [per("seats", "500")],
    usage: { seats: "10" },
    total: "5000.00",
  },
  {
    shape: "flat monthly",
    text: "$99 per month",
    components: [flat("99")],
    usage: {},
    total: "99.00",
  },
  {
    shape: "flat fee wording",
    text: "Flat $299 monthly fee",
    components: [flat("299")],
    usage: {},
    total: "299.00",
  },
  {
    shape: "subscription",
    text: "$49.99 a month subscription",
    components: [flat("49.99")],
    usage: {},
    total: "49.99",
  },
  {
    shape: "USD code",
    text: "$2,000 USD monthly platform fee",
    components: [flat("2000")],
    usage: {},
    total: "2000.00",
  },
  // 1,500 + 200,000 × 0.25/1,000 (50)
  {
    shape: "base + per 1k",
    text: "$1.5K/mo base fee + $0.25 per 1k requests",
    components: [flat("1500"), per("requests", "0.00025")],
    usage: { requests: "200000" },
    total: "1550.00",
  },
  // 2.5M × 4/M
  {
    shape: "per character",
    text: "$4 per million characters",
    components: [per("characters", "0.000004")],
    usage: { characters: "2500000" },
    total: "10.00",
  },
  // 10,000 × 0.006
  {
    shape: "transcription",
    text: "$0.006 per minute of audio transcribed",
    components: [per("minutes", "0.006")],
    usage: { minutes: "10000" },
    total: "60.00",
  },
  // 1M × 0.0001
  {
    shape: "warehouse scan",
    text: "$0.0001 per row scanned",
    components: [per("scanned_rows", "0.0001")],
    usage: { scanned_rows: "1000000" },
    total: "100.00",
  },
  // 4,200 × 3/1,000
  {
    shape: "document AI",
    text: "$3 per 1,000 pages processed",
    components: [per("processed_pages", "0.003")],
    usage: { processed_pages: "4200" },
    total: "12.60",
  },
  // (8 − 5) × 12
  {
    shape: "free seats",
    text: "first 5 seats free, $12 per seat after",
    components: [inc("seats", "5"), per("seats", "12")],
    usage: { seats: "8" },
    total: "36.00",
  },
  // (3M − 1M) × 0.25/100,000
  {
    shape: "free events",
    text: "the first 1M events are free, $0.25 per 100k events after",
    components: [inc("events", "1000000"), per("events", "0.0000025")],
    usage: { events: "3000000" },
    total: "5.00",
  },
  // 200 + 500,000 × 0.15/1,000 (75)
  {
    shape: "fee with quota",
    text: "$200/month includes 1M API calls; additional calls at $0.15 per 1,000",
    components: [flat("200"), inc("api_calls", "1000000"), per("api_calls", "0.00015")],
    usage: { api_calls: "1500000" },
    total: "275.00",
  },
  // 49 + 50,000 × 0.0001 (5)
  {
    shape: "starter plan",
    text: "$49/month includes 100k events, $0.0001 per event after that",
    components: [flat("49"), inc("events", "100000"), per("events", "0.0001")],
    usage: { events: "150000" },
    total: "54.00",
  },
  // (300 − 100) × 0.05
  {
    shape: "task quota after price",
    text: "$0.05 per task, first 100 tasks included every month",
    components: [inc("tasks", "100"), per("tasks", "0.05")],
    usage: { tasks: "300" },
    total: "10.00",
  },
  // 3 × 9 (27) + 250 × 0.10 (25)
  {
    shape: "Netlify",
    text: "$9 per project per month, $0.10 per build",
    components: [per("projects", "9"), per("builds", "0.1")],
    usage: { projects: "3", builds: "250" },
    total: "52.00",
  },
  // 4 × 50 (200) + 100 × 0.99 (99)
  {
    shape: "Intercom",
    text: "$50 per agent per month plus $0.99 per resolution",
    components: [per("agents", "50"), per("resolutions", "0.99")],
    usage: { agents: "4", resolutions: "100" },
    total: "299.00",
  },
  // 3,000 × 0.02
  {
    shape: "Twilio (code first)",
    text: "USD 0.02 per minute",
    components: [per("minutes", "0.02")],
    usage: { minutes: "3000" },
    total: "60.00",
  },
  // 1,000 × 1 + 4,000 × 0.80 (3,200) + 1,000 × 0.50 (500)
  {
    shape: "graduated units",
    text: "graduated pricing: 0-1000 units $1 each, 1001-5000 units $0.80 each, 5000+ $0.50 each",
    components: [
      tiers("units", "graduated", [
        ["1000", "1"],
        ["5000", "0.8"],
        [null, "0.5"],
      ]),
    ],
    usage: { units: "6000" },
    total: "4700.00",
  },
  // 1,000 + (300,000 − 100,000) × 0.50/1,000 (100)
  {
    shape: "overage above a threshold",
    text: "$1,000/mo platform fee; $0.50 per 1k API calls over 100k",
    components: [flat("1000"), inc("api_calls", "100000"), per("api_calls", "0.0005")],
    usage: { api_calls: "300000" },
    total: "1100.00",
  },
  // (25,000 − 10,000) × 5/1,000
  {
    shape: "Clerk",
    text: "$5 per 1,000 MAUs after the first 10,000",
    components: [inc("mau", "10000"), per("mau", "0.005")],
    usage: { mau: "25000" },
    total: "75.00",
  },
  // 2,500 + 50M × 0.006/1,000 (300) − 15 % × (300 − 10M × 0.000006 = 60) (36)
  {
    shape: "labelled sentences",
    text: "Platform fee $2,500 per month. Usage: $0.006 per 1,000 tokens. Discount: 15% above 10 million tokens.",
    components: [flat("2500"), per("tokens", "0.000006"), disc("tokens", "10000000", "15")],
    usage: { tokens: "50000000" },
    total: "2764.00",
  },
  // (10 − 3) × 15
  {
    shape: "Linear",
    text: "3 free seats then $15/seat",
    components: [inc("seats", "3"), per("seats", "15")],
    usage: { seats: "10" },
    total: "105.00",
  },
  // 2,000 + 10,000 × 0.002
  {
    shape: "shorthand",
    text: "$2k/mo + $0.002/req",
    components: [flat("2000"), per("requests", "0.002")],
    usage: { requests: "10000" },
    total: "2020.00",
  },
  // 20,000 × 5 %
  {
    shape: "Paddle",
    text: "Charge 5% of transaction volume",
    components: [per("transaction_value", "0.05")],
    usage: { transaction_value: "20000" },
    total: "1000.00",
  },
  // 100 × 0.15 (15) + 5M × 0.02/10,000 (10)
  {
    shape: "Cloudflare R2",
    text: "$0.15 per GB-month for storage, $0.02 per 10,000 reads",
    components: [per("gb_months", "0.15"), per("reads", "0.000002")],
    usage: { gb_months: "100", reads: "5000000" },
    total: "25.00",
  },
  // 70 × 0.10
  {
    shape: "cents",
    text: "10 cents per GB",
    components: [per("gb", "0.1")],
    usage: { gb: "70" },
    total: "7.00",
  },
  // 299 + (8M − 5M) × 5/M (15)
  {
    shape: "AI tier with overage",
    text: "Pro tier $299/mo includes 5M tokens; overage at $5 per million tokens",
    components: [flat("299"), inc("tokens", "5000000"), per("tokens", "0.000005")],
    usage: { tokens: "8000000" },
    total: "314.00",
  },
  // yearly: 100M × 0.0008 = 80,000 > 50,000 minimum → no top-up
  {
    shape: "enterprise commit",
    text: "Enterprise: $50,000 per year minimum, $0.0008 per API call",
    period: "year",
    components: [per("api_calls", "0.0008"), min("50000")],
    usage: { api_calls: "100000000" },
    total: "80000.00",
  },
  // 500 + 30M × 0.0005 (15,000) − 20 % × (15,000 − 10M × 0.0005 = 5,000) (2,000)
  {
    shape: "platform + discount, one sentence",
    text: "We want a $500/mo platform fee plus $0.0005 per API request with a 20% discount for usage over 10M requests",
    components: [
      flat("500"),
      per("api_requests", "0.0005"),
      disc("api_requests", "10000000", "20"),
    ],
    usage: { api_requests: "30000000" },
    total: "13500.00",
  },
  // 99 + (14 − 10) × 10
  {
    shape: "seat bundle",
    text: "$99/mo for up to 10 users, $10 per extra user",
    components: [flat("99"), inc("seats", "10"), per("seats", "10")],
    usage: { seats: "14" },
    total: "139.00",
  },
  // (105 − 5) × 0.25
  {
    shape: "storage free tier",
    text: "$0.25 per GB stored, first 5 GB free",
    components: [inc("storage_gb", "5"), per("storage_gb", "0.25")],
    usage: { storage_gb: "105" },
    total: "25.00",
  },
  // 1,500 + (6M − 2M) × 0.75/M (3)
  {
    shape: "prose",
    text: "$1,500 per month, which includes 2 million tokens. Extra tokens are $0.75 per million.",
    components: [flat("1500"), inc("tokens", "2000000"), per("tokens", "0.00000075")],
    usage: { tokens: "6000000" },
    total: "1503.00",
  },
  // volume: 150 seats are above 100 → every seat at 10
  {
    shape: "volume seats above",
    text: "Per-seat: $12/user/month, volume pricing above 100 seats at $10",
    components: [
      tiers("seats", "volume", [
        ["100", "12"],
        [null, "10"],
      ]),
    ],
    usage: { seats: "150" },
    total: "1500.00",
  },
  // 2,000 + 5M × 8/M (40) − 15 % × (40 − 8) (4.80)
  {
    shape: "seed, reordered",
    text: "15 % volume discount above 1 M tokens, $2K platform fee and $8 per million tokens",
    components: [flat("2000"), per("tokens", "0.000008"), disc("tokens", "1000000", "15")],
    usage: { tokens: "5000000" },
    total: "2035.20",
  },
];

/** Sentences that must not be guessed: the clarification each asks, by id prefix. */
const AMBIGUOUS: { text: string; asks: string; components?: PlanComponent[] }[] = [
  // The seed without a per-token price: the fee is proposed, the price is asked.
  {
    text: "$2K platform fee, per-token pricing, 15% volume discount above 1M",
    asks: "price:tokens",
    components: [flat("2000")],
  },
  { text: "$99", asks: "money:" },
  { text: "$5 and $10", asks: "money:" },
  { text: "$0.01 per request up to 10k, $0.008 above 10k", asks: "mode:requests" },
  { text: "15% discount", asks: "discount-threshold:" },
  { text: "$20 per month and €10 per seat", asks: "currency" },
  { text: "$1,000 per month platform fee and $5,000 annual fee", asks: "period", components: [] },
  {
    text: "10% volume discount above 1M, $0.01 per request and $0.02 per GB",
    asks: "discount-metric:",
  },
  { text: "CloudFront: first 10 TB at $0.085 per GB, next 40 TB at $0.08 per GB", asks: "units:" },
  { text: "per-seat pricing with 3 seats free", asks: "price:seats", components: [] },
  { text: "$1,000 per month platform fee, $500 minimum, $800 minimum", asks: "minimum" },
  { text: "$0.00000000001 per token", asks: "price:tokens", components: [] },
];

const NONSENSE = [
  "banana spaceship tuesday",
  "usage-based pricing",
  "lorem ipsum dolor sit amet",
  "🚀🚀🚀",
  "asdf qwer 1234 zxcv",
];

function engineTotal(p: Pattern, components: PlanComponent[], period: "month" | "year") {
  const plan = compilePlan({
    id: "pattern",
    currency: p.currency ?? "USD",
    interval: period,
    components,
  });
  const end = (period === "year" ? 365 : 30) * 86_400_000;
  const usage = new Map(Object.entries(p.usage).map(([m, q]) => [m, toMicros(q)]));
  return formatMoney(
    periodCharges(plan, { usage, periodStart: 0, periodEnd: end, activeFrom: 0, activeTo: end })
      .total,
  );
}

describe("pricing pattern table", () => {
  it("has at least 63 priced patterns from public price lists", () => {
    expect(PATTERNS.length).toBeGreaterThanOrEqual(63);
    expect(new Set(PATTERNS.map((p) => p.text)).size).toBe(PATTERNS.length);
  });

  it.each(PATTERNS)("$shape: $text", (p) => {
    const result = parsePricing(p.text);
    expect(result.clarifications, JSON.stringify(result.clarifications)).toEqual([]);
    const plan = result.proposal.plans[0];
    expect(plan?.components).toEqual(p.components);
    expect(plan?.pending).toEqual([]);
    expect(plan?.period).toBe(p.period ?? "month");
    expect(plan?.currency).toBe(p.currency ?? "USD");
    // Every metric a component names is proposed, once.
    const named = new Set(
      p.components.flatMap((c) => ("metric" in c && c.metric ? [c.metric] : [])),
    );
    expect(result.proposal.metrics.map((m) => m.id).sort()).toEqual([...named].sort());
    expect(result.confidence).toBeGreaterThan(0.3);
    expect(engineTotal(p, plan?.components ?? [], plan?.period ?? "month")).toBe(p.total);
  });

  it.each(AMBIGUOUS)("asks instead of guessing: $text", ({ text, asks, components }) => {
    const result = parsePricing(text);
    const ids = result.clarifications.map((c) => c.id);
    expect(
      ids.some((id) => id.startsWith(asks)),
      JSON.stringify(ids),
    ).toBe(true);
    for (const c of result.clarifications) {
      expect(c.word.length).toBeGreaterThan(0);
      expect(text).toContain(c.word.split(" / ")[0]);
    }
    if (components) expect(result.proposal.plans[0]?.components).toEqual(components);
    expect(result.confidence).toBeLessThan(0.9);
    // Whatever is proposed is a valid plan as it stands.
    compilePlan({
      id: "p",
      currency: "USD",
      interval: "month",
      components: result.proposal.plans[0]?.components ?? [],
    });
  });

  it.each(NONSENSE)("nonsense gets a clarification and low confidence: %s", (text) => {
    const result = parsePricing(text);
    expect(result.proposal.plans[0]?.components).toEqual([]);
    expect(result.clarifications.length).toBeGreaterThan(0);
    expect(result.confidence).toBeLessThanOrEqual(0.1);
  });
});
