// The public storefront and its Plan Comparator (issue 19 §2, §3) in a real browser against a
// real `wrangler dev`: a tenant with a brand (logo, colours, a font) and published plans, its
// storefront applied through PUT /api/storefront; /s/<slug> paints in under a second, shows the
// published plans in words (not the draft), the comparator's three questions give the
// recommendation and the side-by-side costs, the page stacks on a phone, and nothing trips the
// page's Content-Security-Policy. Screenshots: storefront.png, storefront-compare.png,
// storefront-mobile.png.

import { encode } from "fast-png";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "../../scripts/lib/stack.mjs";
import { STOREFRONT_PLANS } from "../fixtures/storefront-plans";
import { type Browser, launchBrowser, screenshot } from "./browser";
import { startBareStack } from "./stack";

let stack: Awaited<ReturnType<typeof startBareStack>>;
let browser: Browser;
let page: Page;
const SLUG = "acme-ai";

// biome-ignore lint/suspicious/noExplicitAny: JSON answers of the API under test
const api = (path: string, init: { method?: string; body?: unknown } = {}): Promise<any> =>
  request(`${stack.url}${path}`, { token: stack.keys.operator_token, ...init });

/** A 48×48 logo: a rounded square in the brand's primary colour. */
function logo(): string {
  const size = 48;
  const data = new Uint8Array(size * size * 4);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = (y * size + x) * 4;
      const corner = Math.hypot(Math.max(8 - x, x - 39, 0), Math.max(8 - y, y - 39, 0)) > 8;
      data.set(corner ? [0, 0, 0, 0] : [0x6d, 0x28, 0xd9, 255], i);
    }
  }
  const png = encode({ width: size, height: size, data, channels: 4 });
  return `data:image/png;base64,${Buffer.from(png).toString("base64")}`;
}

beforeAll(async () => {
  stack = await startBareStack("storefront");
  await api("/api/products", { method: "POST", body: { id: "llm", name: "LLM API" } });
  for (const [id, unit] of [
    ["tokens", "token"],
    ["seats", "seat"],
    ["requests", "request"],
  ]) {
    await api("/api/products/llm/metrics", {
      method: "POST",
      body: { id, unit, aggregation: "sum" },
    });
  }
  const plan = (body: Record<string, unknown>) =>
    api("/api/plans", {
      method: "POST",
      body: { product: "llm", currency: "USD", ...body },
    });
  for (const p of STOREFRONT_PLANS) await plan(p);
  await plan({
    id: "draft",
    name: "Unannounced Draft",
    period: "month",
    status: "draft",
    components: [{ type: "flat", amount: "1" }],
  });
  await api("/api/storefront", {
    method: "PUT",
    body: {
      slug: SLUG,
      brand: {
        name: "Acme AI",
        logo_url: logo(),
        favicon_url: null,
        colors: [
          { hex: "#6d28d9", role: "primary" },
          { hex: "#db2777", role: "accent" },
          { hex: "#faf5ff", role: "background" },
          { hex: "#1e1b4b", role: "text" },
        ],
        fonts: [
          { family: "Georgia", role: "heading", source: "local" },
          { family: "Verdana", role: "body", source: "local" },
        ],
        description: "Language models priced by the token, for teams of every size.",
        copy: {
          hero: "Ship AI features this week",
          meta_description: null,
          social_proof: ["Trusted by Initech, Globex and Hooli"],
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

describe("the public storefront", () => {
  it("paints in under a second with the brand and the published plans in words", async () => {
    await page.goto(`${stack.url}/s/${SLUG}`);
    await page.getByRole("heading", { name: "Ship AI features this week", level: 1 }).waitFor();
    // Evaluated in the page (this project's types carry no DOM). The paint entries are queued
    // after the frame is drawn, which on a loaded machine can be after the heading is found:
    // wait for them (buffered, so an entry already recorded is delivered too).
    const paint = (await page.evaluate(`new Promise((resolve) => {
      const entries = () => performance.getEntriesByType("paint").map((e) => ({ name: e.name, at: e.startTime }));
      new PerformanceObserver(() => {
        if (entries().some((e) => e.name === "first-contentful-paint")) resolve(entries());
      }).observe({ type: "paint", buffered: true });
      setTimeout(() => resolve(entries()), 5000);
    })`)) as Array<{ name: string; at: number }>;
    const first = paint.find((p) => p.name === "first-contentful-paint");
    console.log(`[storefront] paint entries: ${JSON.stringify(paint)}`);
    expect(first).toBeDefined();
    expect(first?.at).toBeLessThan(1000);
    const bytes = (await page.evaluate(
      `performance.getEntriesByType("navigation")[0].transferSize`,
    )) as number;
    console.log(`[storefront] document transfer size: ${bytes} bytes`);

    expect(await page.title()).toBe("Acme AI — plans and pricing");
    expect(await page.locator('meta[name="description"]').getAttribute("content")).toBe(
      "Language models priced by the token, for teams of every size.",
    );
    expect(await page.locator('link[rel="canonical"]').getAttribute("href")).toBe(
      `${stack.url}/s/${SLUG}`,
    );
    const cards = page.locator("article.plan");
    expect(await cards.locator("h3").allTextContents()).toEqual(["Starter", "Pro", "Scale"]);
    const starter = cards.filter({ hasText: "Starter" });
    for (const words of [
      "$19 a month",
      "includes 1,000,000 tokens a month",
      "then $4 per 1M tokens",
      "14-day free trial",
    ]) {
      await starter.getByText(words, { exact: true }).waitFor();
    }
    await cards.filter({ hasText: "Scale" }).getByText("$1 per 1K requests").waitFor();
    expect(await page.getByText("Unannounced Draft").count()).toBe(0);
    // The brand's colours and faces, from its inline CSS.
    const style = (await page.evaluate(`(() => {
      const css = (sel) => getComputedStyle(document.querySelector(sel));
      return {
        price: css(".price").color,
        background: css("body").backgroundColor,
        heading: css("h1").fontFamily,
        body: css("body").fontFamily,
      };
    })()`)) as { price: string; background: string; heading: string; body: string };
    expect(style).toMatchObject({
      price: "rgb(109, 40, 217)",
      background: "rgb(250, 245, 255)",
    });
    expect(style.heading).toContain("Georgia");
    expect(style.body).toContain("Verdana");
    // Three columns side by side on a desktop.
    const boxes = await cards.evaluateAll((els) => els.map((e) => e.getBoundingClientRect().top));
    expect(new Set(boxes).size).toBe(1);
    await screenshot(page, "storefront");
  });

  it("the comparator recommends the cheapest plan that fits, with every plan's month", async () => {
    const form = page.locator("form#compare");
    await form.getByLabel("Team size").fill("1");
    await form.getByLabel("Integration depth").selectOption("production");
    await form.locator('input[name="m:tokens"]').fill("3000000");
    await form.getByRole("button", { name: "Compare plans" }).click();
    const recommendation = page.locator("#recommendation");
    // By hand: Starter 19 + 2,000,000 × 0.000004 = 27; Pro 99 + 1 seat × 5 = 104;
    // Scale (1200 + 36,000,000 × 0.0000015) / 12 = 104.50.
    await recommendation
      .getByText("Starter is the cheapest plan that fits: $27 a month, $77 less than Pro ($104).")
      .waitFor();
    const rows = await page
      .locator("#results tbody tr")
      .evaluateAll((trs) =>
        trs.map((tr) => [...tr.querySelectorAll("td")].slice(0, 3).map((td) => td.textContent)),
      );
    expect(rows).toEqual([
      ["Starter", "$27", "Yes"],
      ["Pro", "$104", "Yes"],
      ["Scale", "$104.50", "Yes"],
    ]);
    expect(await page.locator("#results tbody tr.rec td").first().textContent()).toBe("Starter");
    const narrative = page.locator("#narrative");
    expect(await narrative.getAttribute("data-source")).toBe("template");
    expect(await narrative.textContent()).toContain("For 3,000,000 tokens and 1 seat a month");

    // A level instead of numbers: 5 people, moderate, evaluating → only Scale prices requests.
    await form.locator('input[name="m:tokens"]').fill("");
    await form.getByLabel("Team size").fill("5");
    await form.getByLabel("Expected usage").selectOption("moderate");
    await form.getByLabel("Integration depth").selectOption("evaluate");
    await form.getByRole("button", { name: "Compare plans" }).click();
    await recommendation
      .getByText(/^Scale is the cheapest plan that fits: \$105\.75 a month/)
      .waitFor();
    await screenshot(page, "storefront-compare");
    expect(browser.errors).toEqual([]);
  });

  it("stacks on a phone", async () => {
    const phone = await browser.newPage();
    await phone.setViewportSize({ width: 390, height: 844 });
    await phone.goto(`${stack.url}/s/${SLUG}`);
    await phone.getByRole("heading", { name: "Ship AI features this week" }).waitFor();
    const lefts = await phone
      .locator("article.plan")
      .evaluateAll((els) => els.map((e) => Math.round(e.getBoundingClientRect().left)));
    expect(new Set(lefts).size).toBe(1);
    const width = (await phone.evaluate("document.documentElement.scrollWidth")) as number;
    expect(width).toBeLessThanOrEqual(390);
    await screenshot(phone, "storefront-mobile");
    await phone.close();
    expect(browser.errors).toEqual([]);
  });

  it("an unknown address is a plain 404 page", async () => {
    const res = await page.goto(`${stack.url}/s/no-such-shop`);
    expect(res?.status()).toBe(404);
    await page.getByRole("heading", { name: "Storefront not found" }).waitFor();
  });
});
