// Report schedules in the builder (issue 15 item 5) in a real browser on a seeded stack: a saved
// report gets a schedule from the Schedule dialog (cron, zone, window, a webhook channel), the
// dialog lists it with its next three runs in plain words in the schedule's zone — the API's
// `next_runs` — and an empty run history; a bad pattern is refused with croner's words; a
// viewer finds the button disabled, saying why. Screenshot: reports-schedule.png.

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
let channelId = "";

describe("Report schedules", () => {
  beforeAll(async () => {
    stack = await startSeededStack((line) => console.log(`[schedules browser tests] ${line}`));
    const day = Math.floor(Date.now() / 86_400_000) * 86_400_000;
    const saved = await api("/api/reports", {
      method: "POST",
      body: {
        name: "Weekly revenue",
        query: {
          dataset: "usage",
          measures: ["revenue"],
          dimensions: ["customer"],
          time: {
            from: new Date(day - 7 * 86_400_000).toISOString(),
            to: new Date(day).toISOString(),
          },
        },
      },
    });
    reportId = saved.id;
    const channel = await api("/api/channels", {
      method: "POST",
      body: { type: "webhook", name: "Finance hook", url: "https://example.com/hooks/finance" },
    });
    channelId = channel.id;
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

  it("schedules a saved report and shows its next three runs in the schedule's zone", async () => {
    await page.goto(`${stack.url}/reports/${reportId}`);
    await page.getByTestId("report-schedule").click();
    const dialog = page.getByRole("dialog");
    await dialog.getByText("Not scheduled yet.").waitFor();
    await dialog.locator('select[name="schedule-channel"]').selectOption(channelId);

    // A pattern croner cannot read: refused with its words, nothing saved.
    await dialog.locator('input[name="schedule-cron"]').fill("61 8 * * 1");
    await dialog.getByRole("button", { name: "Add schedule" }).click();
    expect(await dialog.getByRole("alert").textContent()).toContain(
      "cron: CronPattern: Invalid value for minute: 61",
    );

    await dialog.locator('input[name="schedule-cron"]').fill("30 8 * * 1");
    await dialog.locator('input[name="schedule-zone"]').fill("America/New_York");
    await dialog.locator('select[name="schedule-range"]').selectOption("last_week");
    await dialog.getByRole("button", { name: "Add schedule" }).click();
    const item = dialog.getByTestId("schedule-item");
    await item.waitFor();

    const [listed] = (await api(`/api/reports/${reportId}/schedules`)).data;
    expect(listed).toMatchObject({
      cron: "30 8 * * 1",
      time_zone: "America/New_York",
      range: "last_week",
      destination: { channel: channelId, type: "webhook", name: "Finance hook" },
    });
    expect(listed.next_runs).toHaveLength(3);
    const words = listed.next_runs.map((t: string) =>
      new Intl.DateTimeFormat("en-GB", {
        weekday: "short",
        day: "numeric",
        month: "short",
        hour: "2-digit",
        minute: "2-digit",
        timeZone: "America/New_York",
      }).format(new Date(t)),
    );
    // Mondays at 08:30 New York time, whatever the browser's zone.
    for (const w of words) expect(w).toMatch(/^Mon \d+ \w+, 08:30$/);
    expect(await item.getByTestId("schedule-next").textContent()).toBe(`Next: ${words.join("; ")}`);
    await item.getByRole("button", { name: "Run history" }).click();
    await item.getByText("No runs yet.").waitFor();
    await screenshot(page, "reports-schedule");
    await dialog.getByRole("button", { name: "Cancel" }).click();
  });

  it("is disabled for a viewer, saying why", async () => {
    const viewer = await api("/api/keys", {
      method: "POST",
      body: { kind: "operator", role: "viewer", name: "schedules viewer" },
    });
    const other = await browser.newPage();
    await other.goto(`${stack.url}/reports/${reportId}#token=${viewer.key}`);
    const button = other.getByTestId("report-schedule");
    await button.waitFor();
    expect(await button.isDisabled()).toBe(true);
    expect(await button.getAttribute("title")).toContain("Your role (viewer)");
    await other.close();
  });
});
