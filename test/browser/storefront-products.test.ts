// A storefront that sells two products (issue 19's last item) in a real browser against a real
// `wrangler dev`: each product's plans sit in a section under the product's name, the header's
// wordmark logo says the name once, and the Plan Comparator asks which product — a usage level
// and the visitor's own numbers are priced on that product's plans and metrics only, and choosing
// the other product swaps in its own-numbers inputs. Screenshot: storefront-products.png.

import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "../../scripts/lib/stack.mjs";
import { STOREFRONT_PLANS, VISION_PLANS } from "../fixtures/storefront-plans";
import { type Browser, launchBrowser, screenshot } from "./browser";
import { startBareStack } from "./stack";

let stack: Awaited<ReturnType<typeof startBareStack>>;
let browser: Browser;
let page: Page;
const SLUG = "acme-two";

// biome-ignore lint/suspicious/noExplicitAny: JSON answers of the API under test
const api = (path: string, init: { method?: string; body?: unknown } = {}): Promise<any> =>
  request(`${stack.url}${path}`, { token: stack.keys.operator_token, ...init });

/** A wordmark: a mark and the brand's name drawn as SVG text, as Brand Auto-Extract returns an
 * inline header SVG. */
const WORDMARK = `data:image/svg+xml;base64,${Buffer.from(
  `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 140 32" width="140" height="32"><rect y="2" width="28" height="28" rx="7" fill="#0f766e"/><text x="36" y="22" font-family="sans-serif" font-size="16" font-weight="600" fill="#0b1f1d">Acme AI</text></svg>`,
).toString("base64")}`;

beforeAll(async () => {
  stack = await startBareStack("storefront-products");
  const metric = (product: string, id: string, unit: string) =>
    api(`/api/products/${product}/metrics`, {
      method: "POST",
      body: { id, unit, aggregation: "sum" },
    });
  const plan = (product: string, body: Record<string, unknown>) =>
    api("/api/plans", { method: "POST", body: { product, currency: "USD", ...body } });
  await api("/api/products", { method: "POST", body: { id: "llm", name: "LLM API" } });
  for (const [id, unit] of [
    ["tokens", "token"],
    ["seats", "seat"],
    ["requests", "request"],
  ]) {
    await metric("llm", id as string, unit as string);
  }
  for (const p of STOREFRONT_PLANS) await plan("llm", p);
  await api("/api/products", { method: "POST", body: { id: "vision", name: "Vision API" } });
  await metric("vision", "images", "image");
  for (const p of VISION_PLANS) await plan("vision", p);
  await api("/api/storefront", {
    method: "PUT",
    body: {
      slug: SLUG,
      brand: {
        name: "Acme AI",
        logo_url: WORDMARK,
        favicon_url: null,
        colors: [
          { hex: "#0f766e", role: "primary" },
          { hex: "#f0fdfa", role: "background" },
        ],
        fonts: [],
        description: "Language and vision models, each priced on its own.",
        copy: {
          hero: "Two APIs, one bill",
          meta_description: null,
          social_proof: [],
          source: "page",
        },
      },
    },
  });
  browser = await launchBrowser();
  page = await browser.newPage();
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

/** The results table's rows: plan, per month, fits. */
const rows = () =>
  page
    .locator("#results tbody tr")
    .evaluateAll((trs) =>
      trs.map((tr) => [...tr.querySelectorAll("td")].slice(0, 3).map((td) => td.textContent)),
    );

describe("a storefront with two products", () => {
  it("shows each product's plans under its name, and the wordmark says the name once", async () => {
    await page.goto(`${stack.url}/s/${SLUG}`);
    await page.getByRole("heading", { name: "Two APIs, one bill", level: 1 }).waitFor();
    for (const [product, plans] of [
      ["LLM API", ["Starter", "Pro", "Scale"]],
      ["Vision API", ["Vision Basic", "Vision Plus"]],
    ] as const) {
      const section = page.getByRole("region", { name: product });
      await section.getByRole("heading", { name: product, level: 2 }).waitFor();
      expect(await section.locator("article.plan h3").allTextContents()).toEqual([...plans]);
    }
    const header = page.locator("header");
    expect(await header.getByRole("img", { name: "Acme AI" }).count()).toBe(1);
    expect(await header.locator("strong").count()).toBe(0);
    expect(((await header.textContent()) ?? "").trim()).toBe("");
  });

  it("the comparator prices the chosen product's plans on its own metrics", async () => {
    const form = page.locator("form#compare");
    // By name: "Product" is also in the depth select's "In production", which its label holds.
    const productSelect = form.locator('select[name="product"]');
    expect(await productSelect.locator("option").allTextContents()).toEqual([
      "LLM API",
      "Vision API",
    ]);
    expect(await form.locator('input[name="m:tokens"]').isVisible()).toBe(true);
    expect(await form.locator('input[name="m:images"]').isVisible()).toBe(false);

    // LLM API, a level: 5 people, moderate, evaluating → tokens 500,000, requests 5,000 (no
    // images: they are Vision's). By hand: Starter 19 and Pro 99 + 5 × 5 = 124 price no
    // requests; Scale (1200 + 6,000,000 × 0.0000015 + 60,000 × 0.001) / 12 = 105.75.
    await form.getByLabel("Team size").fill("5");
    await form.getByLabel("Expected usage").selectOption("moderate");
    await form.getByLabel("Integration depth").selectOption("evaluate");
    await form.getByRole("button", { name: "Compare plans" }).click();
    const recommendation = page.locator("#recommendation");
    await recommendation
      .getByText(/^Scale is the cheapest plan that fits: \$105\.75 a month/)
      .waitFor();
    expect(await rows()).toEqual([
      ["Starter", "$19", "No"],
      ["Pro", "$124", "No"],
      ["Scale", "$105.75", "Yes"],
    ]);

    // Vision API: its own-numbers inputs replace the LLM's, and the LLM's table goes.
    await productSelect.selectOption("vision");
    expect(await page.locator("#results").isVisible()).toBe(false);
    expect(await form.locator('input[name="m:tokens"]').isVisible()).toBe(false);
    expect(await form.locator('input[name="m:images"]').isVisible()).toBe(true);

    // A level: 5 people in production, moderate → 1,000 images. Basic 10 + 900 × 0.05 = 55;
    // Plus 49 (its 1,000 included).
    await form.getByLabel("Integration depth").selectOption("production");
    await form.getByRole("button", { name: "Compare plans" }).click();
    await recommendation
      .getByText(
        "Vision Plus is the cheapest plan that fits: $49 a month, $6 less than Vision Basic ($55).",
      )
      .waitFor();

    // Own numbers: 3,000 images, a team of 1. Basic 10 + 2,900 × 0.05 = 155; Plus 49 + 2,000 ×
    // 0.02 = 89.
    await form.getByLabel("Team size").fill("1");
    await form.locator('input[name="m:images"]').fill("3000");
    await form.getByRole("button", { name: "Compare plans" }).click();
    await recommendation
      .getByText(
        "Vision Plus is the cheapest plan that fits: $89 a month, $66 less than Vision Basic ($155).",
      )
      .waitFor();
    expect(await rows()).toEqual([
      ["Vision Basic", "$155", "Yes"],
      ["Vision Plus", "$89", "Yes"],
    ]);
    expect(await page.locator("#narrative").textContent()).toContain(
      "For 3,000 images and 1 seat a month",
    );
    await screenshot(page, "storefront-products");
    expect(browser.errors).toEqual([]);
  });
});
