// Settings → Storefront in a real browser against a real `wrangler dev` (issue 19 §1): a site
// address that cannot be read says why; a saved site (test/brand-sites/server.ts, on loopback,
// which local mode lets the Worker reach) is extracted and shown for review (logo, swatches,
// fonts, copy); the operator edits the hero and applies it with an address in one click, and the
// API holds exactly that brand. Screenshot: test-results/screenshots/storefront-brand.png.

import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "../../scripts/lib/stack.mjs";
import { startBrandSites } from "../brand-sites/server";
import { type Browser, launchBrowser, screenshot } from "./browser";
import { startBareStack, until } from "./stack";

let stack: Awaited<ReturnType<typeof startBareStack>>;
let sites: Awaited<ReturnType<typeof startBrandSites>>;
let browser: Browser;
let page: Page;

// biome-ignore lint/suspicious/noExplicitAny: JSON answers of the API under test
const api = (path: string, init: { method?: string; body?: unknown } = {}): Promise<any> =>
  request(`${stack.url}${path}`, { token: stack.keys.operator_token, ...init });

beforeAll(async () => {
  sites = await startBrandSites();
  stack = await startBareStack("storefront-brand");
  browser = await launchBrowser();
  page = await browser.newPage();
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  await sites?.close();
});

describe("Settings → Storefront", () => {
  it("extracts a brand, shows it for review, and applies the edited brand with an address", async () => {
    await page.goto(`${stack.url}/settings/storefront#token=${stack.keys.operator_token}`);
    await page.getByRole("heading", { name: "Storefront", level: 1 }).waitFor();
    await page.getByTestId("storefront-status").getByText("No storefront yet").waitFor();

    const url = page.locator('input[name="url"]');
    await url.fill(`http://127.0.0.1:${sites.port}/hostile/pdf`);
    await page.getByRole("button", { name: "Extract" }).click();
    await page.getByTestId("extract-error").waitFor();
    expect(await page.getByTestId("extract-error").textContent()).toMatch(/not HTML/);

    await url.fill(`http://127.0.0.1:${sites.port}/css-vars/`);
    await page.getByRole("button", { name: "Extract" }).click();
    const review = page.getByTestId("brand-review");
    await review.waitFor();
    expect(await page.locator('input[name="name"]').inputValue()).toBe("Violet Cloud");
    expect(await page.getByTestId("swatch-primary").textContent()).toBe("#6d28d9");
    expect(await page.getByTestId("swatch-accent").textContent()).toBe("#f59e0b");
    expect(await page.locator('input[name="font-body"]').inputValue()).toBe("IBM Plex Sans");
    expect(await review.getByText("Copy from your page").count()).toBe(1);
    expect(await page.getByTestId("preview-logo").getAttribute("src")).toBe(
      `http://127.0.0.1:${sites.port}/css-vars/logo.svg`,
    );
    expect(await page.locator('input[name="slug"]').inputValue()).toBe("violet-cloud");

    // Another site: its inline SVG logo comes back as a data: URL and renders in the preview.
    await url.fill(`http://127.0.0.1:${sites.port}/inline-svg/`);
    await page.getByRole("button", { name: "Extract" }).click();
    expect(
      await until(
        () => page.locator('input[name="name"]').inputValue(),
        (v) => v === "Ember",
      ),
    ).toBe("Ember");
    expect(await page.getByTestId("swatch-primary").textContent()).toBe("#e4572e");
    expect(await page.getByTestId("preview-logo").getAttribute("src")).toMatch(
      /^data:image\/svg\+xml;base64,/,
    );
    const logoWidth = () =>
      page
        .getByTestId("preview-logo")
        .evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth);
    expect(await until(logoWidth, (w) => w === 40)).toBe(40);
    // The slug chosen from the first extraction is kept; the operator sets the address.
    await page.locator('input[name="slug"]').fill("ember");
    await page.locator('input[name="hero"]').fill("Invoices that keep up, every hour");
    expect(await page.getByTestId("brand-preview").textContent()).toContain(
      "Invoices that keep up, every hour",
    );
    await screenshot(page, "storefront-brand");

    await page.getByRole("button", { name: "Apply to storefront" }).click();
    await page.getByText("Applied: the storefront shows this brand.").waitFor();
    await page.getByTestId("storefront-status").getByText("/s/ember").waitFor();
    const stored = await api("/api/storefront");
    expect(stored.slug).toBe("ember");
    expect(stored.brand.name).toBe("Ember");
    expect(stored.brand.copy.hero).toBe("Invoices that keep up, every hour");
    expect(stored.brand.colors[0]).toEqual({ hex: "#e4572e", role: "primary" });
    expect(stored.brand.source_url).toBeUndefined();
  });

  it("refuses a bad address beside the field", async () => {
    await page.locator('input[name="slug"]').fill("-bad-");
    await page.getByRole("button", { name: "Apply to storefront" }).click();
    await page.getByTestId("slug-error").waitFor();
    expect(await page.getByTestId("slug-error").textContent()).toMatch(/lowercase/);
    expect((await api("/api/storefront")).slug).toBe("ember");
  });
});
