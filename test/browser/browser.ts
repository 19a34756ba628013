// Debian's chromium driven by playwright-core (no downloaded browsers), with the launch flags of
// PLATFORM.md and a fresh user-data dir per run; console errors and page errors are collected.

import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
export const SCREENSHOTS = join(import.meta.dirname, "..", "..", "test-results", "screenshots");

export interface Browser {
  context: BrowserContext;
  /** Console errors and uncaught page errors of every tracked page. */
  errors: string[];
  newPage: (opts?: { track?: boolean }) => Promise<Page>;
  close: () => Promise<void>;
}

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `chromium not found at ${CHROMIUM}: install Debian's (apt-get install -y chromium) or set CHROMIUM_PATH`,
    );
  }
  const profile = mkdtempSync(join(tmpdir(), "aforo-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    viewport: { width: 1440, height: 900 },
    locale: "en-US",
    timezoneId: "Europe/Madrid",
  });
  mkdirSync(SCREENSHOTS, { recursive: true });
  const errors: string[] = [];
  const track = (page: Page) => {
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(`console: ${m.text()} (${m.location().url})`);
    });
    page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  };
  const first = context.pages()[0];
  if (first) await first.close();
  return {
    context,
    errors,
    newPage: async ({ track: tracked = true } = {}) => {
      const page = await context.newPage();
      if (tracked) track(page);
      return page;
    },
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export async function screenshot(page: Page, name: string) {
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** Opens the sign-in page's "Use an operator API token instead" section (people sign in by
 * e-mail or passkey; the token form is folded away). */
export async function openTokenForm(page: Page) {
  const details = page.locator("details.signin-token");
  await details.waitFor();
  if (!(await details.evaluate((d) => (d as unknown as { open: boolean }).open))) {
    await details.locator("summary").click();
  }
}

/** Signs the page in with an operator API token through the sign-in page's token form. */
export async function signInWithToken(page: Page, token: string) {
  await openTokenForm(page);
  await page.getByLabel("Operator token").fill(token);
  await page.getByRole("button", { name: "Sign in with the token" }).click();
}

/** A new page of `browser` on the dashboard at `url`, signed in with `token`, its nav shown. */
export async function signedInPage(browser: Browser, url: string, token: string): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(`${url}/`);
  await signInWithToken(page, token);
  await page.getByRole("navigation", { name: "Main" }).waitFor();
  return page;
}
