import { describe, expect, it } from "vitest";
import {
  answerOnboarding,
  classify,
  type OnboardingLinks,
  type OnboardingSetup,
} from "../../domain/portal/onboarding";

// Smart Onboarding's deterministic intents (issue 19 §6): each answer quotes the customer's own
// keys, usage, quota and plan as the portal read them, and links to where to act.

const LINKS: OnboardingLinks = {
  gettingStarted: "/portal#getting-started",
  keys: "/portal#keys",
  usage: "/portal#usage",
  invoices: "/portal#invoices",
  upgrade: "/s/acme-ai#compare",
};

const SETUP: OnboardingSetup = {
  customer: { id: "globex", name: "Globex Inc" },
  brand: { name: "Acme AI" },
  generated_at: "2026-12-07T12:00:00.000Z",
  subscriptions: [
    {
      id: "sub_1",
      product: "chat-api",
      status: "active",
      plan: {
        id: "starter",
        name: "Starter",
        currency: "USD",
        summary: "$19 a month, includes 1,000,000 tokens a month, then $4 per 1M tokens",
      },
      period: { start: "2026-12-01T00:00:00.000Z", end: "2027-01-01T00:00:00.000Z" },
      usage: [
        {
          metric: "tokens",
          unit: "token",
          used: "400000",
          included: "1000000",
          percent_of_included: 40,
          projection: "1771428.571428",
          projection_percent_of_included: 177.14,
          method: {
            description: "At the pace since the period began (400,000 tokens in 6 days 12 hours).",
          },
        },
      ],
    },
  ],
  invoices: [
    {
      id: "inv_11",
      status: "open",
      currency: "USD",
      total: "23.50",
      amount_due: "23.50",
      due_at: "2026-12-05T00:00:00.000Z",
      period: { start: "2026-11-01T00:00:00.000Z", end: "2026-12-01T00:00:00.000Z" },
    },
  ],
  api_keys: [
    {
      id: "k1",
      name: "Production",
      prefix: "abc12345",
      revoked_at: null,
      quota: { metric: "tokens", limit: "500000", period: "week" },
      quota_used: { used: "235000", limit: "500000", percent_used: 47 },
      usage: { period: "week", events: 312 },
    },
    {
      id: "k2",
      name: "Old",
      prefix: "zzz99999",
      revoked_at: "2026-11-20T00:00:00.000Z",
      quota: null,
      quota_used: null,
      usage: { period: "month", events: 0 },
    },
  ],
};

describe("Smart Onboarding with no model", () => {
  it("classifies the common questions", () => {
    expect(classify("How much of my sk_live_abc quota is left?")).toBe("key_quota");
    expect(classify("how much have I used this month?")).toBe("usage");
    expect(classify("What plan am I on?")).toBe("plan");
    expect(classify("Should I upgrade?")).toBe("upgrade");
    expect(classify("How do I send my first call?")).toBe("get_started");
    expect(classify("What do I owe?")).toBe("invoices");
    expect(classify("Can I rotate my key?")).toBe("keys");
    expect(classify("tell me a joke")).toBe("unknown");
  });

  it("names the key's quota use as the seed does, and links to the upgrade path", () => {
    const a = answerOnboarding(SETUP, "How much of my sk_live_abc key's quota is used?", LINKS);
    expect(a.text).toContain(
      "Your sk_live_abc12345… (Production) key has used 47% of this week's quota: 235,000 of 500,000 tokens.",
    );
    expect(a.facts).toContain("sk_live_abc12345… quota used: 47%");
    expect(a.links.map((l) => l.href)).toEqual(["/portal#keys", "/s/acme-ai#compare"]);
  });

  it("warns near the limit", () => {
    const near = structuredClone(SETUP) as OnboardingSetup;
    const key = near.api_keys[0] as (typeof near.api_keys)[number] & {
      quota_used: { used: string; limit: string; percent_used: number };
    };
    key.quota_used = { used: "450000", limit: "500000", percent_used: 90 };
    const a = answerOnboarding(near, "quota?", LINKS);
    expect(a.text).toContain("90% of this week's quota");
    expect(a.text).toContain("here is how to upgrade");
  });

  it("gives usage against the inclusion with the pacing projection and its method", () => {
    const a = answerOnboarding(SETUP, "How much have I used this month?", LINKS);
    expect(a.text).toContain(
      "On Starter you have used 400,000 tokens this period, 40% of the 1,000,000 included; at this pace you will reach 1,771,428.571428 by 2027-01-01 (177.14% of what is included).",
    );
    expect(a.text).toContain("At the pace since the period began");
  });

  it("recommends looking at a larger plan when the projection passes the inclusion", () => {
    const a = answerOnboarding(SETUP, "Should I upgrade?", LINKS);
    expect(a.text).toContain("you will pass what Starter includes (tokens at 177.14%)");
    expect(a.links).toEqual([{ label: "Compare plans", href: "/s/acme-ai#compare" }]);
    const calm = structuredClone(SETUP) as OnboardingSetup;
    const u = calm.subscriptions[0]?.usage[0] as { projection_percent_of_included: number | null };
    u.projection_percent_of_included = 80;
    expect(answerOnboarding(calm, "upgrade?", LINKS).text).toContain(
      "Nothing you use is projected past what your plan includes",
    );
  });

  it("answers the plan, the invoices due (past due after the due date) and the keys", () => {
    expect(answerOnboarding(SETUP, "what plan am I on", LINKS).text).toBe(
      "You are on Starter (chat-api): $19 a month, includes 1,000,000 tokens a month, then $4 per 1M tokens. This period runs 2026-12-01 to 2027-01-01.",
    );
    expect(answerOnboarding(SETUP, "what do I owe", LINKS).text).toBe(
      "Invoice inv_11 (2026-11-01 to 2026-12-01) has $23.50 due by 2026-12-05, and it is past due.",
    );
    const keys = answerOnboarding(SETUP, "show my keys", LINKS);
    expect(keys.text).toContain(
      "1 active API key: sk_live_abc12345… (Production), 312 calls this week",
    );
    expect(keys.text).toContain("1 more is revoked");
  });

  it("points a new developer at the guide with their own key", () => {
    const a = answerOnboarding(SETUP, "How do I get started?", LINKS);
    expect(a.text).toContain("your sk_live_abc12345… (Production) key in the x-api-key header");
    expect(a.links[0]).toEqual({ label: "Getting started", href: "/portal#getting-started" });
    const none = { ...SETUP, api_keys: [] };
    expect(answerOnboarding(none, "how do I start", LINKS).text).toContain(
      "You have no active API key yet: ask Acme AI for one",
    );
  });

  it("says what it can answer when the question is none of those", () => {
    const a = answerOnboarding(SETUP, "tell me a joke", LINKS);
    expect(a.intent).toBe("unknown");
    expect(a.text).toContain("how much of a key's quota is used");
  });
});
