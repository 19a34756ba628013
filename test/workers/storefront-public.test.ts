import { env } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { beforeEach, describe, expect, inject, it } from "vitest";
import type { Brand } from "../../contracts/storefront";
import { putStorefront } from "../../store/storefront";
import { COMPARES_PER_MINUTE } from "../../workers/routes/storefront-public";
import { STOREFRONT_PLANS, VISION_PLANS } from "../fixtures/storefront-plans";
import { keyLog, scriptKey } from "../messages-api/client";
import type { Step } from "../messages-api/server";
import { call, createTenant, expectProblem, type Tenant } from "./helpers";

// The public storefront (issue 19 §2, §3): GET /s/:slug renders the published plans in words
// with the brand, escaped; POST /v1/storefront/:slug/compare prices the answers on every
// published plan with the pricing engine and recommends the cheapest that fits — the costs below
// are worked out by hand — rate-limited per client, its narrative the model's wording of Aforo's
// figures or the template's. Nothing of another tenant, and no draft, ever shows.

let tenant: Tenant;
let slug: string;
let seq = 0;
const op = () => ({ token: tenant.operator_token });
const messagesApi = () => `http://127.0.0.1:${inject("messagesApiPort")}`;

async function ok(res: Promise<{ status: number; body: unknown }>, status = 201) {
  const r = await res;
  if (r.status !== status) throw new Error(`${r.status}: ${JSON.stringify(r.body)}`);
  return r;
}

/** The domain test's plans (test/domain/storefront.test.ts), made through the API, plus a
 * draft that must never show. */
async function seedPlans(t: Tenant) {
  const o = { token: t.operator_token };
  await ok(call("POST", "/api/products", { ...o, body: { id: "chat", name: "Chat" } }));
  for (const [id, unit] of [
    ["tokens", "token"],
    ["seats", "seat"],
    ["requests", "request"],
  ]) {
    await ok(
      call("POST", "/api/products/chat/metrics", {
        ...o,
        body: { id, unit, aggregation: "sum" },
      }),
    );
  }
  const plan = (body: Record<string, unknown>) =>
    ok(call("POST", "/api/plans", { ...o, body: { product: "chat", currency: "USD", ...body } }));
  for (const p of STOREFRONT_PLANS) await plan(p);
  await plan({
    id: "secret-draft",
    name: "Secret Draft Plan",
    period: "month",
    status: "draft",
    components: [{ type: "flat", amount: "1" }],
  });
}

async function storefront(t: Tenant, s: string, brand: Brand | null) {
  await putStorefront(env.DB, { tenantId: t.tenant_id, slug: s, brand, updatedBy: "test" }, 1);
}

const brand = (over: Partial<Brand> = {}): Brand => ({
  name: "Acme AI",
  logo_url: "https://acme.example/logo.png",
  favicon_url: null,
  colors: [
    { hex: "#123456", role: "primary" },
    { hex: "#fafafa", role: "background" },
  ],
  fonts: [{ family: "Inter", role: "body", source: "google" }],
  description: "Language models by the token.",
  copy: {
    hero: "Ship AI features today",
    meta_description: null,
    social_proof: [],
    source: "page",
  },
  ...over,
});

async function page(path: string) {
  const res = await exports.default.fetch(`http://aforo.test${path}`);
  return { status: res.status, headers: res.headers, html: await res.text() };
}

let client = 0;
/** Each test compares from its own address, so the per-client limit is per test. */
let ip = "";
const compare = (body: unknown, s = slug, from = ip) =>
  call("POST", `/v1/storefront/${s}/compare`, { body, headers: { "cf-connecting-ip": from } });

beforeEach(async () => {
  tenant = await createTenant("Acme AI");
  slug = `acme${++seq}${Date.now() % 100000}`;
  ip = `198.51.100.${++client}`;
  await seedPlans(tenant);
  await storefront(tenant, slug, brand());
});

describe("GET /s/:tenant_slug", () => {
  it("renders the published plans in words with the brand, SEO meta and its own CSP", async () => {
    const res = await page(`/s/${slug}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/html");
    const { html } = res;
    expect(html).toContain("<title>Acme AI — plans and pricing</title>");
    expect(html).toContain('<meta name="description" content="Language models by the token.">');
    expect(html).toContain(`<link rel="canonical" href="http://aforo.test/s/${slug}">`);
    expect(html).toContain('property="og:title"');
    expect(html).toContain(
      '"@type":"Offer","name":"Starter","description":"$19 a month, includes 1,000,000 tokens a month, then $4 per 1M tokens","price":"19","priceCurrency":"USD"',
    );
    for (const words of [
      "$19 a month",
      "includes 1,000,000 tokens a month",
      "then $4 per 1M tokens",
      "14-day free trial",
      "$1,200 a year",
      "$1.50 per 1M tokens",
      "$1 per 1K requests",
      "$5 per seat",
    ]) {
      expect(html).toContain(words);
    }
    expect(html).not.toContain("Secret Draft Plan");
    expect(html).toContain("--primary:#123456");
    expect(html).toContain("https://fonts.googleapis.com/css2?family=Inter:wght@400;700");
    const csp = res.headers.get("content-security-policy") ?? "";
    const nonce = /script-src 'nonce-([0-9a-f]+)'/.exec(csp)?.[1];
    expect(nonce).toBeTruthy();
    expect(html).toContain(`<script nonce="${nonce}">`);
    expect(csp).toContain("style-src 'nonce-");
    expect(csp).toContain("https://fonts.googleapis.com");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).not.toContain("sandbox");
    expect(html).toContain(`data-endpoint="/v1/storefront/${slug}/compare"`);
    // A few KB, not a bundle.
    expect(new TextEncoder().encode(html).length).toBeLessThan(16_000);
  });

  it("escapes every hostile brand string and drops unsafe colours, fonts and URLs", async () => {
    await storefront(
      tenant,
      slug,
      brand({
        name: '<script>alert("name")</script>',
        logo_url: "javascript:alert(1)",
        favicon_url: 'https://x.example/" onload="alert(1)',
        colors: [{ hex: "red;}</style><script>alert(2)</script>", role: "primary" }],
        fonts: [{ family: 'Inter"; } body { display:none', role: "body", source: "google" }],
        description: "</title><img src=x onerror=alert(3)>",
        copy: {
          hero: '"><svg onload=alert(4)>',
          meta_description: null,
          social_proof: ["<b>bold</b> & proud"],
          source: "page",
        },
      }),
    );
    const { html, status } = await page(`/s/${slug}`);
    expect(status).toBe(200);
    expect(html).not.toContain("<script>alert");
    expect(html).not.toContain("<img src=x");
    expect(html).not.toContain("<svg onload");
    expect(html).not.toContain("javascript:");
    expect(html).not.toContain('" onload="');
    expect(html).not.toContain("display:none");
    expect(html).toContain("&lt;script&gt;alert(&quot;name&quot;)&lt;/script&gt;");
    expect(html).toContain("&lt;/title&gt;&lt;img src=x onerror=alert(3)&gt;");
    expect(html).toContain("&lt;b&gt;bold&lt;/b&gt; &amp; proud");
    expect(html).toContain("--primary:#2f4b7c"); // the neutral colour, not the hostile one
    expect(html).not.toContain("fonts.googleapis.com");
    // The JSON-LD block cannot be closed by a plan or brand string.
    const ld = /<script type="application\/ld\+json">([\s\S]*?)<\/script>/.exec(html)?.[1] ?? "";
    expect(ld).not.toContain("<");
    expect(JSON.parse(ld).name).toBe('<script>alert("name")</script>');
  });

  it("with no brand applied: the tenant's name in neutral colours", async () => {
    await storefront(tenant, slug, null);
    const { html } = await page(`/s/${slug}`);
    expect(html).toContain("<strong>Acme AI</strong>");
    expect(html).toContain("--primary:#2f4b7c");
    expect(html).not.toContain("fonts.googleapis.com");
  });

  it("an unknown or malformed slug is a plain 404 page", async () => {
    for (const path of ["/s/nobodyhere", "/s/NOT_A_SLUG", "/s/x"]) {
      const res = await page(path);
      expect(res.status).toBe(404);
      expect(res.html).toContain("Storefront not found");
      expect(res.html).not.toContain("Acme");
    }
    expectProblem(
      await compare(
        { team_size: 1, expected_usage: "light", integration_depth: "evaluate" },
        "nobodyhere",
      ),
      404,
      "not_found",
    );
  });

  it("tenant A's slug never shows tenant B's plans, and B's never A's", async () => {
    const other = await createTenant("Beta Labs");
    const o = { token: other.operator_token };
    await ok(call("POST", "/api/products", { ...o, body: { id: "chat", name: "Chat" } }));
    await ok(
      call("POST", "/api/products/chat/metrics", {
        ...o,
        body: { id: "tokens", unit: "token", aggregation: "sum" },
      }),
    );
    await ok(
      call("POST", "/api/plans", {
        ...o,
        body: {
          id: "starter",
          product: "chat",
          name: "Beta Only Plan",
          currency: "USD",
          period: "month",
          components: [{ type: "flat", amount: "7" }],
        },
      }),
    );
    const betaSlug = `beta${seq}${Date.now() % 100000}`;
    await storefront(other, betaSlug, null);
    const a = await page(`/s/${slug}`);
    const b = await page(`/s/${betaSlug}`);
    expect(a.html).not.toContain("Beta Only Plan");
    expect(b.html).toContain("Beta Only Plan");
    expect(b.html).not.toContain("Starter</h3>");
    expect(b.html).not.toContain("Acme");
    const cmp = await compare(
      { team_size: 1, expected_usage: {}, integration_depth: "production" },
      betaSlug,
    );
    expect(cmp.status).toBe(200);
    expect(cmp.body.plans.map((p: { name: string }) => p.name)).toEqual(["Beta Only Plan"]);
  });
});

describe("POST /v1/storefront/:tenant_slug/compare", () => {
  // Hand computations (the same plans as test/domain/storefront.test.ts):
  const TABLE = [
    {
      // 3,000,000 tokens, a team of 1:
      // Starter 19 + 2,000,000 × 0.000004 = 27.00; Pro 99 + 0 + 1 × 5 = 104.00;
      // Scale (1200 + 36,000,000 × 0.0000015 = 1254) / 12 = 104.50
      answers: {
        team_size: 1,
        expected_usage: { tokens: "3000000" },
        integration_depth: "production",
      },
      monthly: { starter: "27.00", pro: "104.00", scale: "104.50" },
      fits: { starter: true, pro: true, scale: true },
      recommended: "starter",
    },
    {
      // 40,000,000 tokens, a team of 3:
      // Starter 19 + 39,000,000 × 0.000004 = 175.00; Pro 99 + 30,000,000 × 0.000002 + 15 = 174.00;
      // Scale (1200 + 480,000,000 × 0.0000015 = 1920) / 12 = 160.00
      answers: {
        team_size: 3,
        expected_usage: { tokens: "40000000" },
        integration_depth: "production",
      },
      monthly: { starter: "175.00", pro: "174.00", scale: "160.00" },
      fits: { starter: true, pro: true, scale: true },
      recommended: "scale",
    },
    {
      // A level: moderate, 5 people evaluating → tokens 1,000,000 × 5 / 10 = 500,000 and
      // requests 10,000 × 5 / 10 = 5,000; only Scale prices requests:
      // Scale (1200 + 6,000,000 × 0.0000015 + 60,000 × 0.001 = 1269) / 12 = 105.75;
      // Starter 19 (inside the quota); Pro 99 + 5 × 5 = 124.00
      answers: { team_size: 5, expected_usage: "moderate", integration_depth: "evaluate" },
      monthly: { starter: "19.00", pro: "124.00", scale: "105.75" },
      fits: { starter: false, pro: false, scale: true },
      recommended: "scale",
    },
    {
      // Images: no plan offers them. Starter 19, Pro 104, Scale 1200 / 12 = 100.
      answers: { team_size: 1, expected_usage: { images: "10" }, integration_depth: "production" },
      monthly: { starter: "19.00", pro: "104.00", scale: "100.00" },
      fits: { starter: false, pro: false, scale: false },
      recommended: null,
    },
  ];

  it("a table of answers equals the hand computation", async () => {
    for (const row of TABLE) {
      const res = await compare(row.answers);
      expect(res.status).toBe(200);
      const plans = res.body.plans as Array<{ id: string; monthly_total: string; fits: boolean }>;
      expect(Object.fromEntries(plans.map((p) => [p.id, p.monthly_total]))).toEqual(row.monthly);
      expect(Object.fromEntries(plans.map((p) => [p.id, p.fits]))).toEqual(row.fits);
      expect(res.body.recommendation.plan_id).toBe(row.recommended);
      expect(plans.map((p) => p.id)).not.toContain("secret-draft");
    }
    const first = await compare(TABLE[0]?.answers);
    expect(first.body.recommendation.reason).toBe(
      "Starter is the cheapest plan that fits: $27 a month, $77 less than Pro ($104).",
    );
    expect(first.body.usage).toEqual({ tokens: "3000000", seats: "1" });
    const starter = first.body.plans[0];
    expect(starter.lines).toContainEqual(
      expect.objectContaining({
        type: "per_unit",
        metric: "tokens",
        quantity: "2000000",
        amount: "8.00",
      }),
    );
  });

  it("equals POST /api/pricing/preview for the same plan and usage", async () => {
    const res = await compare({
      team_size: 3,
      expected_usage: { tokens: "40000000" },
      integration_depth: "production",
    });
    const preview = await call("POST", "/api/pricing/preview", {
      ...op(),
      body: {
        components: [
          { type: "flat", amount: "99" },
          { type: "included", metric: "tokens", quantity: "10000000" },
          { type: "per_unit", metric: "tokens", unit_price: "0.000002" },
          { type: "per_unit", metric: "seats", unit_price: "5" },
        ],
        usage: { tokens: "40000000", seats: "3" },
      },
    });
    expect(preview.status).toBe(200);
    const pro = res.body.plans.find((p: { id: string }) => p.id === "pro");
    expect(pro.monthly_total).toBe(preview.body.total);
  });

  it("validates the answers as problem+json", async () => {
    expectProblem(
      await compare({ team_size: 0, expected_usage: "light", integration_depth: "production" }),
      400,
      "validation_failed",
    );
    expectProblem(
      await compare({ team_size: 1, expected_usage: "enormous", integration_depth: "production" }),
      400,
      "validation_failed",
    );
    expectProblem(
      await compare({
        team_size: 1,
        expected_usage: { tokens: "1.1234567" },
        integration_depth: "production",
      }),
      400,
      "validation_failed",
    );
    expectProblem(
      await compare({ team_size: 1, expected_usage: "light", integration_depth: "yolo" }),
      400,
      "validation_failed",
    );
  });

  it(`trips the rate limit after ${COMPARES_PER_MINUTE} a minute per client, with Retry-After`, async () => {
    const body = { team_size: 1, expected_usage: "light", integration_depth: "evaluate" };
    // The window is the wall clock's minute: start well inside one, so all of them share it.
    const left = 60_000 - (Date.now() % 60_000);
    if (left < 8_000) await new Promise((r) => setTimeout(r, left + 50));
    for (let i = 0; i < COMPARES_PER_MINUTE; i++) {
      expect((await compare(body)).status).toBe(200);
    }
    const res = await exports.default.fetch(`http://aforo.test/v1/storefront/${slug}/compare`, {
      method: "POST",
      headers: { "content-type": "application/json", "cf-connecting-ip": ip },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(429);
    expect(res.headers.get("content-type")).toContain("application/problem+json");
    const retry = Number(res.headers.get("retry-after"));
    expect(retry).toBeGreaterThan(0);
    expect(retry).toBeLessThanOrEqual(60);
    expect(((await res.json()) as { code: string }).code).toBe("rate_limited");
    // Another client is not held back by this one.
    expect((await compare(body, slug, "203.0.113.9")).status).toBe(200);
  });

  it("with no key: the template's narrative, from Aforo's figures", async () => {
    const res = await compare({
      team_size: 1,
      expected_usage: { tokens: "3000000" },
      integration_depth: "production",
    });
    expect(res.body.narrative).toEqual({
      source: "template",
      text:
        "For 3,000,000 tokens and 1 seat a month: Starter $27, Pro $104, Scale $104.50. " +
        "Starter is the cheapest plan that fits: $27 a month, $77 less than Pro ($104).",
    });
  });

  async function withKey(steps: Step[]): Promise<string> {
    const key = `sk-ant-test-${crypto.randomUUID()}`;
    const put = await call("PUT", "/api/ai/settings", { ...op(), body: { api_key: key } });
    expect(put.status).toBe(200);
    await scriptKey(messagesApi(), key, steps);
    return key;
  }

  it("with a key: the model words Aforo's figures, offered no tool", async () => {
    const words =
      "Starter fits you best at $27 a month, $77 less than Pro at $104; Scale comes to $104.50 a month.";
    const key = await withKey([{ content: [{ type: "text", text: words }] }]);
    const res = await compare({
      team_size: 1,
      expected_usage: { tokens: "3000000" },
      integration_depth: "production",
    });
    expect(res.body.narrative).toEqual({ source: "ai", text: words });
    const log = await keyLog(messagesApi(), key);
    expect(log).toHaveLength(1);
    expect(log[0]?.body.tools ?? []).toEqual([]);
    const sent = JSON.stringify(log[0]?.body.messages);
    expect(sent).toContain("104.50");
    // Only the published plans went to the model: no draft, no customer.
    expect(sent).not.toContain("Secret Draft Plan");
  });

  it("drops a model wording with a number of its own for the template's", async () => {
    await withKey([
      { content: [{ type: "text", text: "Starter saves you 35% — about $300 a year." }] },
    ]);
    const res = await compare({
      team_size: 1,
      expected_usage: { tokens: "3000000" },
      integration_depth: "production",
    });
    expect(res.body.narrative.source).toBe("template");
    expect(res.body.narrative.text).toContain(
      "Starter is the cheapest plan that fits: $27 a month",
    );
    expect(res.body.recommendation.plan_id).toBe("starter");
  });
});

describe("a storefront that sells two products", () => {
  // The tenant's Chat plans (above) plus a Vision API product metered in images, and a Labs
  // product with nothing published. A plan prices one product's metrics, so each product is
  // shown and compared on its own: a level over both products' metrics would fit no plan.
  beforeEach(async () => {
    const o = { token: tenant.operator_token };
    for (const [id, name] of [
      ["vision", "Vision API"],
      ["labs", "Labs"],
    ]) {
      await ok(call("POST", "/api/products", { ...o, body: { id, name } }));
    }
    await ok(
      call("POST", "/api/products/vision/metrics", {
        ...o,
        body: { id: "images", unit: "image", aggregation: "sum" },
      }),
    );
    const plan = (product: string, body: Record<string, unknown>) =>
      ok(call("POST", "/api/plans", { ...o, body: { product, currency: "USD", ...body } }));
    for (const p of VISION_PLANS) await plan("vision", p);
    await plan("labs", {
      id: "labs-draft",
      name: "Labs Draft",
      period: "month",
      status: "draft",
      components: [{ type: "flat", amount: "5" }],
    });
  });

  type Row = { id: string; monthly_total: string; fits: boolean };
  const byPlan = (plans: Row[], key: "monthly_total" | "fits") =>
    Object.fromEntries(plans.map((p) => [p.id, p[key]]));

  it("compares each product's plans on that product's metrics only, as worked out by hand", async () => {
    // Chat, moderate, 5 people evaluating: tokens 1,000,000 × 5 / 10 = 500,000 and requests
    // 10,000 × 5 / 10 = 5,000 — no images, which are Vision's. Starter 19 (inside its quota,
    // no requests), Pro 99 + 5 seats × 5 = 124, Scale (1200 + 6,000,000 × 0.0000015 + 60,000 ×
    // 0.001 = 1269) / 12 = 105.75: only Scale prices requests.
    const chat = await compare({
      team_size: 5,
      expected_usage: "moderate",
      integration_depth: "evaluate",
      product: "chat",
    });
    expect(chat.status).toBe(200);
    expect(chat.body.product).toEqual({ id: "chat", name: "Chat" });
    expect(chat.body.usage).toEqual({ tokens: "500000", requests: "5000", seats: "5" });
    expect(byPlan(chat.body.plans, "monthly_total")).toEqual({
      starter: "19.00",
      pro: "124.00",
      scale: "105.75",
    });
    expect(byPlan(chat.body.plans, "fits")).toEqual({ starter: false, pro: false, scale: true });
    expect(chat.body.recommendation.plan_id).toBe("scale");

    // Vision, moderate, 5 people in production: images 200 × 5 = 1,000 — no tokens or requests.
    // Basic 10 + (1,000 − 100) × 0.05 = 55; Plus 49 + (1,000 − 1,000) × 0.02 = 49.
    const vision = await compare({
      team_size: 5,
      expected_usage: "moderate",
      integration_depth: "production",
      product: "vision",
    });
    expect(vision.status).toBe(200);
    expect(vision.body.product).toEqual({ id: "vision", name: "Vision API" });
    expect(vision.body.usage).toEqual({ images: "1000", seats: "5" });
    expect(byPlan(vision.body.plans, "monthly_total")).toEqual({
      "vision-basic": "55.00",
      "vision-plus": "49.00",
    });
    expect(byPlan(vision.body.plans, "fits")).toEqual({
      "vision-basic": true,
      "vision-plus": true,
    });
    expect(vision.body.recommendation).toEqual({
      plan_id: "vision-plus",
      reason:
        "Vision Plus is the cheapest plan that fits: $49 a month, $6 less than Vision Basic ($55).",
    });

    // Own numbers, 3,000 images, a team of 1: Basic 10 + 2,900 × 0.05 = 155; Plus 49 + 2,000 ×
    // 0.02 = 89.
    const own = await compare({
      team_size: 1,
      expected_usage: { images: "3000" },
      integration_depth: "production",
      product: "vision",
    });
    expect(byPlan(own.body.plans, "monthly_total")).toEqual({
      "vision-basic": "155.00",
      "vision-plus": "89.00",
    });
    expect(own.body.recommendation.plan_id).toBe("vision-plus");
    expect(own.body.narrative.text).toBe(
      "For 3,000 images and 1 seat a month: Vision Basic $155, Vision Plus $89. " +
        "Vision Plus is the cheapest plan that fits: $89 a month, $66 less than Vision Basic ($155).",
    );

    // Chat's metric asked of Vision's plans: none of them prices tokens.
    const wrong = await compare({
      team_size: 1,
      expected_usage: { tokens: "1000" },
      integration_depth: "production",
      product: "vision",
    });
    expect(byPlan(wrong.body.plans, "fits")).toEqual({
      "vision-basic": false,
      "vision-plus": false,
    });
    expect(wrong.body.recommendation).toEqual({
      plan_id: null,
      reason: "No published plan offers tokens, so none fits this usage.",
    });
  });

  it("without a product: 422 naming the products sold", async () => {
    const res = await compare({
      team_size: 1,
      expected_usage: "light",
      integration_depth: "production",
    });
    expectProblem(res, 422, "unprocessable");
    expect(res.body.detail).toBe(
      "This storefront sells 2 products; say which one to compare: chat (Chat), vision (Vision API)",
    );
    expect(res.body.errors).toEqual([{ path: "product", message: "one of chat, vision" }]);
  });

  it("a product the storefront does not sell is 404: unknown, or with nothing published", async () => {
    for (const product of ["nope", "labs"]) {
      const res = await compare({
        team_size: 1,
        expected_usage: "light",
        integration_depth: "production",
        product,
      });
      expectProblem(res, 404, "not_found");
      expect(res.body.detail).toBe(`The storefront at /s/${slug} sells no product '${product}'`);
    }
  });

  it("the page: a section per product under its name, and the comparator asks which", async () => {
    const { html, status } = await page(`/s/${slug}`);
    expect(status).toBe(200);
    const sections = [
      ...html.matchAll(
        /<section class="product" data-product="([^"]+)"[^>]*><h2[^>]*>([^<]+)<\/h2>([\s\S]*?)<\/section>/g,
      ),
    ].map((m) => ({
      product: m[1],
      heading: m[2],
      plans: [...(m[3] ?? "").matchAll(/<h3>([^<]+)<\/h3>/g)].map((h) => h[1]),
    }));
    expect(sections).toEqual([
      { product: "chat", heading: "Chat", plans: ["Starter", "Pro", "Scale"] },
      { product: "vision", heading: "Vision API", plans: ["Vision Basic", "Vision Plus"] },
    ]);
    expect(html).not.toContain("Labs");
    expect(html).toContain(
      '<select name="product"><option value="chat" selected>Chat</option><option value="vision">Vision API</option></select>',
    );
    // Each product's own numbers; only the first product's are live.
    const fieldsets = [
      ...html.matchAll(/<fieldset data-product="([^"]+)"([^>]*)>([\s\S]*?)<\/fieldset>/g),
    ].map((m) => ({
      product: m[1],
      attrs: (m[2] ?? "").trim(),
      inputs: [...(m[3] ?? "").matchAll(/name="m:([^"]+)"/g)].map((i) => i[1]),
    }));
    expect(fieldsets).toEqual([
      { product: "chat", attrs: "", inputs: ["tokens", "requests"] },
      { product: "vision", attrs: "hidden disabled", inputs: ["images"] },
    ]);
  });
});

describe("one product", () => {
  it("reads as one list with no product choice, and product is optional but checked", async () => {
    const { html } = await page(`/s/${slug}`);
    expect(html).toContain('<h2 id="plans-h">Plans</h2><div class="plans">');
    expect(html).not.toContain('class="product"');
    expect(html).not.toContain('name="product"');
    expect(html).toContain('<fieldset data-product="chat"><legend>Or your own numbers</legend>');
    const answers = {
      team_size: 1,
      expected_usage: { tokens: "3000000" },
      integration_depth: "production",
    };
    const named = await compare({ ...answers, product: "chat" });
    expect(named.body.recommendation.plan_id).toBe("starter");
    expect(named.body.product).toEqual({ id: "chat", name: "Chat" });
    expectProblem(await compare({ ...answers, product: "vision" }), 404, "not_found");
  });
});

describe("the header says the name once", () => {
  const svg = (body: string) =>
    `data:image/svg+xml;base64,${btoa(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 120 32">${body}</svg>`)}`;

  it("a wordmark SVG carries the name as its alt text, with no second copy beside it", async () => {
    await storefront(
      tenant,
      slug,
      brand({
        logo_url: svg(
          '<rect width="28" height="28"/><text x="36" y="22">Acme <tspan>AI</tspan></text>',
        ),
      }),
    );
    const { html } = await page(`/s/${slug}`);
    const header = /<header>([\s\S]*?)<\/header>/.exec(html)?.[1] ?? "";
    expect(header).toMatch(/^<img src="data:image\/svg\+xml;base64,[^"]+" alt="Acme AI">$/);
  });

  it("reads the wordmark's text as XML: an escaped ampersand is still the name", async () => {
    await storefront(
      tenant,
      slug,
      brand({ name: "Acme & Co", logo_url: svg("<text>Acme &amp; Co</text>") }),
    );
    const { html } = await page(`/s/${slug}`);
    const header = /<header>([\s\S]*?)<\/header>/.exec(html)?.[1] ?? "";
    expect(header).toMatch(/ alt="Acme &amp; Co">$/);
    expect(header).not.toContain("<strong>");
  });

  it("a logo without the name sits beside the printed name, as decoration", async () => {
    for (const logo of [svg('<rect width="28" height="28"/>'), "https://acme.example/logo.png"]) {
      await storefront(tenant, slug, brand({ logo_url: logo }));
      const { html } = await page(`/s/${slug}`);
      const header = /<header>([\s\S]*?)<\/header>/.exec(html)?.[1] ?? "";
      expect(header).toBe(`<img src="${logo}" alt=""><strong>Acme AI</strong>`);
    }
  });
});
