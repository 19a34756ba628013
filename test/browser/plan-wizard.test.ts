// The plan wizard (issue 18 §2) in a real browser on a seeded stack: walk it by hand — a new
// product, a metric, a flat fee and a per-unit component — and see the live preview's total
// equal a hand computation for the sample usage, save it as a draft, find the DRAFT badge on
// the catalog (and the API refusing to subscribe anyone to it), publish it there; then open a
// `?prefill=` link (the Pricing Architect's hand-off) and find its fields filled and
// highlighted, a graduated tier priced as by hand. Screenshots: plan-wizard-*.png. The first
// block checks lib/plan-wizard.ts alone.

import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Product } from "../../contracts/catalog";
import type { PlanWizardDraft } from "../../contracts/plan-wizard";
import {
  decodePrefill,
  encodePrefill,
  markSaved,
  saveRequests,
  wizardFromDraft,
  wizardIssues,
} from "../../pages/src/lib/plan-wizard";
import { request } from "../../scripts/lib/stack.mjs";
import { type Browser, launchBrowser, screenshot, signedInPage } from "./browser";
import { type Stack, startSeededStack } from "./stack";

/** Micro-units (10^-6) of a decimal string, exactly: the hand computation's arithmetic. */
function micros(decimal: string): bigint {
  const [whole = "0", frac = ""] = decimal.split(".");
  return BigInt(whole) * 1_000_000n + BigInt(frac.padEnd(6, "0").slice(0, 6));
}
/** Units × unit price, both decimals, in micro-units of money. */
const times = (units: string, price: string) => (micros(units) * micros(price)) / 1_000_000n;
/** Micro-units as the API's two-decimal money string (amounts here are whole cents). */
function asMoney(m: bigint): string {
  expect(m % 10_000n).toBe(0n);
  const cents = m / 10_000n;
  return `${cents / 100n}.${String(cents % 100n).padStart(2, "0")}`;
}

const PREFILL: PlanWizardDraft = {
  product: { id: "prefill-api", name: "Prefill API" },
  metrics: [{ id: "gen_tokens", unit: "token", aggregation: "sum" }],
  plan: {
    id: "prefill-growth",
    name: "Prefill Growth",
    currency: "USD",
    period: "month",
    components: [
      { type: "flat", amount: "20" },
      {
        type: "tiered",
        metric: "gen_tokens",
        mode: "graduated",
        tiers: [
          { up_to: "1000000", unit_price: "0.000003" },
          { up_to: null, unit_price: "0.000002" },
        ],
      },
    ],
  },
  usage: { gen_tokens: "5000000" },
};

describe("lib/plan-wizard (no browser)", () => {
  it("round-trips a draft through a prefill link and refuses a malformed one", () => {
    expect(decodePrefill(encodePrefill(PREFILL))).toEqual(PREFILL);
    const accented = { ...PREFILL, plan: { ...PREFILL.plan, name: "Créditos Año" } };
    expect(decodePrefill(encodePrefill(accented))).toEqual(accented);
    expect(decodePrefill("not base64 json!")).toBeInstanceOf(Error);
    const noPlan = encodePrefill({ metrics: [] } as unknown as PlanWizardDraft);
    expect(decodePrefill(noPlan)).toBeInstanceOf(Error);
    const badComponent = {
      ...PREFILL,
      plan: { ...PREFILL.plan, components: [{ type: "bogus", amount: "1" }] },
    } as unknown as PlanWizardDraft;
    expect(decodePrefill(encodePrefill(badComponent))).toBeInstanceOf(Error);
  });

  it("fills the wizard from a draft, marks what it set, and saves in order", () => {
    const existing: Product[] = [
      {
        id: "prefill-api",
        name: "Prefill API (ours)",
        description: null,
        proxy: null,
        metrics: [
          {
            id: "calls",
            product: "prefill-api",
            name: null,
            unit: "call",
            aggregation: "count",
            carries_cost: false,
            created_at: "2026-12-01T00:00:00Z",
          },
        ],
        created_at: "2026-12-01T00:00:00Z",
        updated_at: "2026-12-01T00:00:00Z",
      },
    ];
    const fresh = wizardFromDraft(PREFILL, []);
    expect(fresh.product).toEqual({ id: "prefill-api", name: "Prefill API", existing: false });
    expect(fresh.prefilled).toEqual(
      expect.arrayContaining([
        "product",
        "metric.0",
        "plan.name",
        "component.1",
        "usage.gen_tokens",
      ]),
    );
    expect(wizardIssues(fresh)).toEqual([]);
    const requests = saveRequests(fresh, false);
    expect(requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      "POST /api/products",
      "POST /api/products/prefill-api/metrics",
      "POST /api/plans",
    ]);
    expect(requests[2]?.body).toMatchObject({ id: "prefill-growth", status: "draft" });
    // What was saved before a failure is not sent again.
    const afterProduct = markSaved(fresh, requests[0] as (typeof requests)[0]);
    expect(saveRequests(afterProduct, false).map((r) => r.what)).toEqual([
      "metric gen_tokens",
      "plan prefill-growth",
    ]);
    // An existing product keeps its name and metrics; only the new metric is created.
    const onExisting = wizardFromDraft(PREFILL, existing);
    expect(onExisting.product).toEqual({
      id: "prefill-api",
      name: "Prefill API (ours)",
      existing: true,
    });
    expect(onExisting.metrics.map((m) => [m.id, m.existing])).toEqual([
      ["calls", true],
      ["gen_tokens", false],
    ]);
    expect(saveRequests(onExisting, true).map((r) => `${r.method} ${r.path}`)).toEqual([
      "POST /api/products/prefill-api/metrics",
      "PATCH /api/plans/prefill-growth",
    ]);
  });
});

describe("the plan wizard in a browser", () => {
  let stack: Stack;
  let browser: Browser;
  let page: Page;
  const api = (path: string, init: { method?: string; body?: unknown } = {}) =>
    request(`${stack.url}${path}`, { token: stack.operatorToken, ...init });

  beforeAll(async () => {
    stack = await startSeededStack((line) => console.log(`[plan wizard browser tests] ${line}`));
    browser = await launchBrowser();
    page = await signedInPage(browser, stack.url, stack.operatorToken);
  }, 600_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  const total = () => page.getByTestId("preview-total");

  it("walks product → metrics → components → review, previews the price, saves a draft and publishes it", async () => {
    await page.goto(`${stack.url}/catalog?tab=plans`);
    await page.getByRole("link", { name: "New plan" }).click();
    await page.waitForURL(/\/catalog\/plans\/new$/);
    await page.getByRole("heading", { name: "New plan" }).waitFor();

    // Product: a new one.
    await page.locator(`select[name="product-choice"]`).selectOption("__new");
    await page.getByLabel("Product id").fill("wizard-api");
    await page.getByLabel("Product name").fill("Wizard API");
    await page.getByRole("button", { name: "Next: Metrics →" }).click();

    // Metrics: one, counted in calls.
    await page.getByRole("button", { name: "+ Add a metric" }).click();
    await page.getByLabel("Metric id").fill("calls");
    await page.getByLabel("Unit", { exact: true }).fill("call");
    await page.getByLabel("Aggregation").selectOption("sum");
    await page.getByRole("button", { name: "Next: Components →" }).click();

    // Components: $49 a month plus $0.002 a call.
    await page.getByLabel("Plan id").fill("wizard-pro");
    await page.getByLabel("Plan name").fill("Wizard Pro");
    await page.getByLabel("Component type").selectOption("flat");
    await page.getByRole("button", { name: "+ Add component" }).click();
    const flat = page.locator('[data-component="0"]');
    await flat.getByLabel("Fee per period").fill("49");
    await page.getByLabel("Component type").selectOption("per_unit");
    await page.getByRole("button", { name: "+ Add component" }).click();
    const perUnit = page.locator('[data-component="1"]');
    expect(await perUnit.getByLabel("Metric").inputValue()).toBe("calls");
    await perUnit.getByLabel("Unit price").fill("0.002");

    // The flat fee alone first, then with sample usage: the API's totals, as by hand.
    await expectTotal(asMoney(micros("49")));
    await page.getByLabel("Sample calls (call)").fill("12500");
    const byHand = asMoney(micros("49") + times("12500", "0.002"));
    expect(byHand).toBe("74.00");
    await expectTotal(byHand);
    await expect(total().textContent()).resolves.toContain("$74.00");
    // A price the engine refuses shows the API's words, then recovers.
    await perUnit.getByLabel("Unit price").fill("-1");
    await page.getByTestId("preview-error").waitFor();
    await perUnit.getByLabel("Unit price").fill("0.002");
    await expectTotal(byHand);
    await screenshot(page, "plan-wizard-components");

    await page.getByRole("button", { name: "Next: Review →" }).click();
    const review = page.getByTestId("review-components");
    await expect(review.textContent()).resolves.toContain("Platform fee: $49");
    await screenshot(page, "plan-wizard-review");
    await page.getByRole("button", { name: "Save as draft" }).click();

    // The catalog: the plan with its DRAFT badge; the API has it as a draft.
    await page.waitForURL(/\/catalog\?tab=plans&product=wizard-api$/);
    const card = page.locator('[data-plan="wizard-pro"]');
    await card.waitFor();
    const badge = card.locator(".badge", { hasText: "draft" });
    await badge.waitFor();
    const draft = (await api("/api/plans/wizard-pro")) as { status: string; components: unknown };
    expect(draft.status).toBe("draft");
    expect(draft.components).toEqual([
      { type: "flat", amount: "49" },
      { type: "per_unit", metric: "calls", unit_price: "0.002" },
    ]);
    const customer = stack.customers[0] as string;
    const refused = await api("/api/subscriptions", {
      method: "POST",
      body: { customer, plan: "wizard-pro", start: new Date().toISOString() },
    }).catch((err: { status: number; body: { detail: string } }) => err);
    expect((refused as { status: number }).status).toBe(409);
    expect((refused as { body: { detail: string } }).body.detail).toContain(
      "'wizard-pro' is a draft",
    );
    await screenshot(page, "plan-wizard-catalog-draft");

    // Publish from the catalog: the badge goes, the API has it active.
    await card.getByRole("button", { name: "Publish Wizard Pro" }).click();
    await badge.waitFor({ state: "detached" });
    await expect(card.getByRole("link", { name: "Edit draft" }).count()).resolves.toBe(0);
    const published = (await api("/api/plans/wizard-pro")) as { status: string };
    expect(published.status).toBe("active");
    await screenshot(page, "plan-wizard-published");
    // The refused price's 400 is the only failed request.
    expect(browser.errors.filter((e) => !/status of 400/.test(e))).toEqual([]);
  });

  it("opens filled from a ?prefill= link, fields highlighted, and prices it like the hand computation", async () => {
    await page.goto(`${stack.url}/catalog/plans/new?prefill=${encodePrefill(PREFILL)}`);
    await page.getByTestId("prefill-notice").waitFor();
    await expect(page.getByLabel("Product id").inputValue()).resolves.toBe("prefill-api");
    await expect(page.locator("fieldset.prefilled").count()).resolves.toBeGreaterThan(0);
    await page.getByRole("button", { name: "3. Components" }).click();
    await expect(page.getByLabel("Plan name").inputValue()).resolves.toBe("Prefill Growth");
    const tiered = page.locator('[data-component="1"]');
    expect(await tiered.evaluate((el) => el.classList.contains("prefilled"))).toBe(true);
    await expect(tiered.getByLabel("Tier 1 up to").inputValue()).resolves.toBe("1000000");
    // 20 + 1,000,000 × 0.000003 + 4,000,000 × 0.000002 = 20 + 3 + 8.
    const byHand = asMoney(
      micros("20") + times("1000000", "0.000003") + times("4000000", "0.000002"),
    );
    expect(byHand).toBe("31.00");
    await expectTotal(byHand);
    // Editing a field makes it the operator's: its highlight goes.
    await page.getByLabel("Plan name").fill("Prefill Growth (edited)");
    expect(
      await page
        .getByLabel("Plan name")
        .evaluate((el) => el.closest("label")?.classList.contains("prefilled")),
    ).toBe(false);
    await screenshot(page, "plan-wizard-prefill");

    // Saved as a draft, then edited through the wizard: its prices can still change.
    await page.getByRole("button", { name: "4. Review" }).click();
    await page.getByRole("button", { name: "Save as draft" }).click();
    await page.waitForURL(/\/catalog\?tab=plans&product=prefill-api$/);
    const card = page.locator('[data-plan="prefill-growth"]');
    await card.getByRole("link", { name: "Edit draft" }).click();
    await page.waitForURL(/\/catalog\/plans\/prefill-growth\/edit$/);
    await page.getByRole("button", { name: "3. Components" }).click();
    await page.locator('[data-component="0"]').getByLabel("Fee per period").fill("25");
    await page.getByRole("button", { name: "4. Review" }).click();
    await page.getByRole("button", { name: "Save as draft" }).click();
    await page.waitForURL(/\/catalog\?tab=plans&product=prefill-api$/);
    await card.locator(".components", { hasText: "$25" }).waitFor();
    const saved = (await api("/api/plans/prefill-growth")) as {
      name: string;
      status: string;
      components: { type: string; amount?: string }[];
    };
    expect(saved).toMatchObject({ name: "Prefill Growth (edited)", status: "draft" });
    expect(saved.components[0]).toEqual({ type: "flat", amount: "25" });
    expect(browser.errors.filter((e) => !/status of 400/.test(e))).toEqual([]);
  });

  /** Waits for the preview to settle on `expected` (the API's total, as it answered it). */
  async function expectTotal(expected: string) {
    await expect
      .poll(
        async () => [
          await page.locator("[data-phase]").getAttribute("data-phase"),
          await total()
            .getAttribute("data-total", { timeout: 1_000 })
            .catch(() => null),
        ],
        { timeout: 10_000 },
      )
      .toEqual(["ok", expected]);
  }
});
