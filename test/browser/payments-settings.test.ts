// Settings → Payments in a real browser against a real `wrangler dev` (issue 14): the Stripe
// webhook's set-up (not set, the URL and events to enter in Stripe, a too-short secret refused
// beside its field, then set), the Adaptive Retry policy (an unknown zone refused beside its
// field by the API, then a policy saved and the schedule preview following it), and a viewer
// seeing it all read-only and why. Screenshot: test-results/screenshots/payments-settings.png.

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
  stack = await startBareStack("payments-settings");
  browser = await launchBrowser();
  page = await browser.newPage();
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

const previewItems = () => page.getByTestId("retry-preview-list").locator("li").allTextContents();

describe("Settings → Payments", () => {
  it("shows the Stripe webhook's set-up and sets the signing secret, refusing a short one beside its field", async () => {
    await page.goto(`${stack.url}/settings/payments#token=${stack.keys.operator_token}`);
    await page.getByRole("heading", { name: "Payments", level: 1 }).waitFor();
    const stripe = page.getByTestId("stripe-panel");
    await stripe.getByText("Not set up").waitFor();
    expect(await page.getByTestId("stripe-webhook-url").textContent()).toMatch(
      new RegExp(`^https?://[^/]+/v1/payments/stripe/${stack.keys.tenant_id}$`),
    );
    expect(await page.getByTestId("stripe-events").textContent()).toBe(
      "invoice.payment_succeeded, invoice.payment_failed, charge.refunded",
    );

    const secret = stripe.locator('input[name="signing_secret"]');
    await secret.fill("whsec_short");
    await stripe.getByRole("button", { name: "Save secret" }).click();
    await stripe.locator(".field-error").waitFor();
    expect(await stripe.locator(".field-error").textContent()).toMatch(/16/);
    expect((await api("/api/payments/stripe")).configured).toBe(false);

    await secret.fill("whsec_test_0123456789abcdefghijklmnop");
    await stripe.getByRole("button", { name: "Save secret" }).click();
    await stripe.getByText("Signing secret set").waitFor();
    await stripe.getByRole("button", { name: "Replace secret" }).waitFor();
    expect(await page.getByTestId("stripe-status").textContent()).toMatch(/^Set .* by /);
    expect((await api("/api/payments/stripe")).configured).toBe(true);
  });

  it("saves a retry policy, showing the API's field errors first, and the preview follows it", async () => {
    const panel = page.getByTestId("retry-panel");
    await page.getByTestId("retry-anchors").waitFor();
    expect(await page.getByTestId("retry-anchors").textContent()).toMatch(
      /Stripe.*8 tries in 2 weeks.*Recurly.*27 days/,
    );
    const before = await previewItems();
    // The defaults: up to 8 retries, at 10:00 UTC.
    expect(before.length).toBeGreaterThanOrEqual(6);
    expect(before.length).toBeLessThanOrEqual(8);
    for (const t of before) expect(t).toContain("10:00");

    await panel.getByLabel("Retries").fill("2");
    await panel.getByLabel("Within (days)").fill("14");
    await panel.getByLabel("Hour of day").fill("15");
    await panel.getByLabel("Time zone").fill("Mars/Olympus_Mons");
    // The preview cannot plan with a zone that does not exist; the API refuses it by name.
    await page.getByText("Fix the fields above to see the schedule.").waitFor();
    await panel.getByRole("button", { name: "Save policy" }).click();
    const zoneError = panel.locator("#err-time_zone");
    await zoneError.waitFor();
    expect(await zoneError.textContent()).toMatch(/IANA time zone/);
    expect(await panel.getByLabel("Time zone").getAttribute("aria-invalid")).toBe("true");
    expect((await api("/api/payments/retry-policy")).max_attempts).toBe(8);

    await panel.getByLabel("Time zone").fill("Asia/Tokyo");
    await panel.getByRole("button", { name: "Save policy" }).click();
    await panel.getByText("Retry policy saved.").waitFor();
    expect(await zoneError.count()).toBe(0);
    const saved = await api("/api/payments/retry-policy");
    expect(saved).toMatchObject({
      max_attempts: 2,
      window_days: 14,
      time_zone: "Asia/Tokyo",
      default_hour: 15,
      is_default: {
        max_attempts: false,
        window_days: false,
        time_zone: false,
        default_hour: false,
      },
    });
    const after = await previewItems();
    // Both tries asked for, inside the 14 days, whatever the hour the test runs at.
    expect(after).toHaveLength(2);
    expect(after).not.toEqual(before);
    for (const t of after) expect(t).toContain("15:00");
    expect(await page.getByTestId("retry-preview").textContent()).toContain("Asia/Tokyo");
    expect(await page.getByTestId("retry-preview").textContent()).not.toContain("unsaved");
    await panel.getByText("(default 8)").waitFor();

    // 0 retries: the preview says a soft decline would not be retried.
    await panel.getByLabel("Retries").fill("0");
    await page.getByTestId("retry-preview-none").waitFor();
    expect(await page.getByTestId("retry-preview").textContent()).toContain("unsaved");
    await panel.getByLabel("Retries").fill("2");
    await page.getByTestId("retry-preview-list").waitFor();

    await screenshot(page, "payments-settings");
    // The only console errors are the browser's notes of the 400s the forms were meant to get.
    expect(browser.errors.filter((e) => !/status of 400/.test(e))).toEqual([]);
  });

  it("is read-only for a viewer, saying why", async () => {
    const viewer = await api("/api/keys", {
      method: "POST",
      body: { kind: "operator", role: "viewer", name: "payments viewer" },
    });
    const other = await browser.newPage();
    await other.goto(`${stack.url}/settings/payments#token=${viewer.key}`);
    await other.getByRole("heading", { name: "Payments", level: 1 }).waitFor();
    await other.getByTestId("retry-preview-list").waitFor();
    expect(await other.getByTestId("refused").first().textContent()).toContain(
      "Your role (viewer) may not run invoicing",
    );
    expect(await other.getByTestId("retry-panel").getByLabel("Retries").isDisabled()).toBe(true);
    expect(
      await other
        .getByTestId("stripe-panel")
        .getByLabel(/signing secret/i)
        .isDisabled(),
    ).toBe(true);
    // It still shows what is set.
    expect(await other.getByTestId("retry-panel").getByLabel("Time zone").inputValue()).toBe(
      "Asia/Tokyo",
    );
    await other.close();
  });
});
