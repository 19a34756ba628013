// Policies → a customer segment in a real browser against a real `wrangler dev` (issue 14 item
// 5): the scope picker lists the tenant's segments (its plans), the segment's editor shows only
// the budget alerts' thresholds, a floor the API refuses is shown beside its field, and a saved
// floor is stored for that segment only. Screenshot: test-results/screenshots/budget-policies.png.

import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "../../scripts/lib/stack.mjs";
import { type Browser, launchBrowser, screenshot } from "./browser";
import { startBareStack } from "./stack";

let stack: Awaited<ReturnType<typeof startBareStack>>;
let browser: Browser;
let page: Page;

// biome-ignore lint/suspicious/noExplicitAny: JSON answers of the API under test
const api = (path: string, init: { method?: string; body?: unknown } = {}): Promise<any> =>
  request(`${stack.url}${path}`, { token: stack.keys.operator_token, ...init });

beforeAll(async () => {
  stack = await startBareStack("budget-policies");
  await api("/api/products", { method: "POST", body: { id: "bp-api", name: "BP API" } });
  await api("/api/products/bp-api/metrics", {
    method: "POST",
    body: { id: "calls", unit: "call" },
  });
  for (const id of ["bp-pro", "bp-free"]) {
    await api("/api/plans", {
      method: "POST",
      body: {
        id,
        product: "bp-api",
        name: id,
        currency: "USD",
        period: "month",
        components: [{ type: "per_unit", metric: "calls", unit_price: "0.01" }],
      },
    });
  }
  browser = await launchBrowser();
  page = await browser.newPage();
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

describe("Policies → a customer segment", () => {
  it("lists the segments, edits only the budget thresholds, shows a refusal beside its field, and saves", async () => {
    await page.goto(`${stack.url}/policies?scope=segment#token=${stack.keys.operator_token}`);
    await page.getByRole("heading", { name: "Policies", level: 1 }).waitFor();
    const picker = page.locator('select[name="id"]');
    await picker.waitFor();
    // The plans arrive after the page: wait for them rather than read the placeholder alone.
    await picker.locator("option", { hasText: "bp-free" }).waitFor({ state: "attached" });
    const options = await picker.locator("option").allTextContents();
    expect(options).toEqual(expect.arrayContaining(["bp-pro", "bp-free"]));
    await picker.selectOption("bp-pro");

    const floor = page.locator('input[name="detectors.budget_margin.margin_floor_pct"]');
    await floor.waitFor();
    // Only the budget sections: no gate, no automatic actions, no other detector, no segment_by.
    expect(await page.locator('input[name="gate.burst"]').count()).toBe(0);
    expect(await page.locator('input[name="auto_actions.ALERT"]').count()).toBe(0);
    expect(await page.locator('input[name="detectors.anomaly.k"]').count()).toBe(0);
    expect(await page.locator('input[name="detectors.budget_margin.segment_by"]').count()).toBe(0);
    expect(
      await page.locator('input[name="detectors.budget_cost_spike.min_delta_usd"]').count(),
    ).toBe(1);

    await floor.fill("150");
    await floor.dispatchEvent("change");
    await page.getByRole("button", { name: "Save policy" }).click();
    const error = page.locator(".field", { has: floor }).locator(".field-error");
    await error.waitFor();
    expect(await error.textContent()).toMatch(/below 100/);
    expect((await api("/api/policies")).segments).toEqual({});

    await floor.fill("12.5");
    await floor.dispatchEvent("change");
    await page.getByRole("button", { name: "Save policy" }).click();
    await page.getByText("Saved.").waitFor();
    const view = await api("/api/policies");
    expect(view.segments).toEqual({
      "bp-pro": { detectors: { budget_margin: { margin_floor_pct: 12.5 } } },
    });
    expect(view.tenant).toBeNull();
    await screenshot(page, "budget-policies");
  });
});
