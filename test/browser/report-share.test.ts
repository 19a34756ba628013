// Report share links in the builder (issue 15 item 6) in a real browser on a seeded stack: a
// saved report is shared from the Share dialog, which shows the link and its expiry and lists
// it with Revoke; the link opens in a fresh browser (its own profile: no session, no token) and
// draws the report's table with "Shared by … · expires …"; once revoked, the same link says it
// does not open. A viewer finds the button disabled, saying why. Screenshot: report-shared.png.

import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "../../scripts/lib/stack.mjs";
import { type Browser, launchBrowser, screenshot, signInWithToken } from "./browser";
import { type Stack, startSeededStack } from "./stack";

let stack: Stack;
let browser: Browser;
let page: Page;

// biome-ignore lint/suspicious/noExplicitAny: JSON answers of the API under test
type Json = any;
const api = (path: string, init: { method?: string; body?: unknown } = {}): Promise<Json> =>
  request(`${stack.url}${path}`, { token: stack.operatorToken, ...init });

let reportId = "";
const DAY = 86_400_000;
let query: Json;

describe("Report share links", () => {
  beforeAll(async () => {
    stack = await startSeededStack((line) => console.log(`[share browser tests] ${line}`));
    const day = Math.floor(Date.now() / DAY) * DAY;
    query = {
      dataset: "usage",
      measures: ["revenue", "units"],
      dimensions: ["customer"],
      time: { from: new Date(day - 30 * DAY).toISOString(), to: new Date(day).toISOString() },
      limit: 20,
    };
    const saved = await api("/api/reports", {
      method: "POST",
      body: { name: "Revenue by customer", description: "The last 30 days", query },
    });
    reportId = saved.id;
    browser = await launchBrowser();
    page = await browser.newPage();
    await page.goto(`${stack.url}/`);
    await signInWithToken(page, stack.operatorToken);
    await page.getByRole("navigation", { name: "Main" }).waitFor();
  }, 600_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it("shares a saved report; the link opens without signing in and draws its table", async () => {
    await page.goto(`${stack.url}/reports/${reportId}`);
    await page.getByTestId("report-share").click();
    const dialog = page.getByRole("dialog");
    await dialog.getByText("No active links.").waitFor();
    await dialog.locator('select[name="share-expires-in"]').selectOption(String(30 * 86_400));
    await dialog.getByRole("button", { name: "Create link" }).click();
    const made = dialog.getByTestId("share-made");
    await made.waitFor();
    const url = await dialog.getByTestId("share-url").inputValue();
    expect(url).toMatch(new RegExp(`^${stack.url}/shared/[\\w-]+\\.[\\w-]+$`));
    expect(await made.textContent()).toContain("Expires");
    expect(await dialog.getByTestId("share-item").count()).toBe(1);
    const [listed] = (await api(`/api/reports/${reportId}/shares`)).data;
    expect(listed).toMatchObject({ url, status: "active" });
    const days = (Date.parse(listed.expires_at) - Date.now()) / DAY;
    expect(days).toBeGreaterThan(29.9);
    expect(days).toBeLessThanOrEqual(30);
    await dialog.getByRole("button", { name: "Cancel" }).click();

    // A fresh browser: its own profile, never signed in.
    const fresh = await launchBrowser();
    try {
      const anon = await fresh.newPage();
      await anon.goto(url);
      const shared = anon.getByTestId("shared-report");
      await shared.waitFor();
      expect(await anon.getByRole("heading", { level: 1 }).textContent()).toBe(
        "Revenue by customer",
      );
      expect(await anon.getByTestId("shared-by").textContent()).toMatch(
        /^Shared by .+ · expires .+/,
      );
      // The table holds the rows a run of the saved query gives.
      const run = await api("/api/reports/run", { method: "POST", body: query });
      expect(run.rows.length).toBeGreaterThan(0);
      const bodyRows = shared.locator("table tbody tr");
      await bodyRows.first().waitFor();
      expect(await bodyRows.count()).toBe(run.rows.length);
      const firstCustomer = String(run.rows[0].customer);
      expect(await bodyRows.first().textContent()).toContain(firstCustomer);
      // Nothing of the workspace around it: no navigation, no sign-in form.
      expect(await anon.getByRole("navigation", { name: "Main" }).count()).toBe(0);
      await screenshot(anon, "report-shared");
      expect(fresh.errors).toEqual([]);

      // Revoked in the builder, the same link no longer opens.
      await page.getByTestId("report-share").click();
      await dialog.getByTestId("share-item").waitFor();
      await dialog.getByTestId("share-revoke").click();
      await dialog.getByText("No active links.").waitFor();
      await dialog.getByRole("button", { name: "Cancel" }).click();
      await anon.reload();
      await anon.getByTestId("shared-error").waitFor();
      expect(await anon.getByTestId("shared-error").textContent()).toContain("does not open");
    } finally {
      await fresh.close();
    }
  });

  it("is disabled for a viewer, saying why", async () => {
    const viewer = await api("/api/keys", {
      method: "POST",
      body: { kind: "operator", role: "viewer", name: "share viewer" },
    });
    const other = await browser.newPage();
    await other.goto(`${stack.url}/reports/${reportId}#token=${viewer.key}`);
    const button = other.getByTestId("report-share");
    await button.waitFor();
    expect(await button.isDisabled()).toBe(true);
    expect(await button.getAttribute("title")).toContain("Your role (viewer)");
    await other.close();
  });
});
