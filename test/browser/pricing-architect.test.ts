// The Pricing Architect's floating panel (issue 18 §2) in a real browser against a real
// `wrangler dev` whose ANTHROPIC_BASE_URL is the local Messages API (test/messages-api/server.ts):
// first with no key (the deterministic engine asks the seed sentence's open price, then
// proposes, estimates and navigates, and the panel says it runs without a key), then with the
// tenant's key in each mode (Guide navigates, Pre-fill fills the plan wizard, Auto-create
// leaves a DRAFT plan), and the daily cap refusing the next call. The panel needs no usage
// data, so the stack is the demo tenant alone, unseeded. Screenshots: pricing-architect-*.png.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  applyMigrations,
  ensureDemoTenant,
  ensureDevVars,
  request,
  startWrangler,
} from "../../scripts/lib/stack.mjs";
import { ESTIMATE, SEED_SENTENCE, SETUP } from "../fixtures/architect-seed";
import { say, scriptKey, toolUse as use } from "../messages-api/client";
import { type MessagesApi, type Step, startMessagesApi } from "../messages-api/server";
import { type Browser, launchBrowser, screenshot, signInWithToken } from "./browser";
import { freePort } from "./stack";

const KEY = `sk-ant-browser-${Date.now()}`;

let messages: MessagesApi;
let stack: { url: string; stop: () => Promise<void> };
let token: string;
let persistTo: string;
let browser: Browser;
let page: Page;

// biome-ignore lint/suspicious/noExplicitAny: JSON answers of the API under test
const api = (path: string, init: { method?: string; body?: unknown } = {}): Promise<any> =>
  request(`${stack.url}${path}`, { token, ...init });

const script = (steps: Step[]) => scriptKey(messages.url, KEY, steps);

const panel = () => page.getByTestId("architect-panel");

/** Opens the panel fresh (a new conversation) in `mode` and sends `text`. */
async function ask(mode: "Guide" | "Pre-fill" | "Auto-create", text: string, fresh = true) {
  if (!(await panel().isVisible())) await page.getByTestId("architect-launcher").click();
  if (fresh && (await panel().getByRole("button", { name: "New" }).isEnabled())) {
    await panel().getByRole("button", { name: "New" }).click();
  }
  await panel().getByText(mode, { exact: true }).click();
  await panel().getByLabel("Describe your pricing").fill(text);
  await panel().getByRole("button", { name: "Send" }).click();
  // The run is over when Send is back in place of Stop.
  await panel().getByRole("button", { name: "Send" }).waitFor({ timeout: 30_000 });
}

beforeAll(async () => {
  messages = await startMessagesApi();
  persistTo = mkdtempSync(join(tmpdir(), "aforo-architect-"));
  const port = await freePort();
  const { adminToken } = ensureDevVars();
  applyMigrations(persistTo, true);
  const wrangler = await startWrangler({
    port,
    persistTo,
    quiet: true,
    vars: { ANTHROPIC_BASE_URL: messages.url },
  });
  stack = wrangler;
  token = (await ensureDemoTenant(wrangler.url, adminToken, persistTo)).operator_token;
  browser = await launchBrowser();
  page = await browser.newPage();
  await page.goto(`${stack.url}/cockpit`);
  await signInWithToken(page, token);
  await page.getByRole("navigation", { name: "Main" }).waitFor();
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  await messages?.close();
  if (persistTo) rmSync(persistTo, { recursive: true, force: true });
});

describe("the Pricing Architect panel", () => {
  it("with no key: says so, asks the open price, then proposes, estimates and opens the wizard", async () => {
    await ask("Guide", SEED_SENTENCE);
    await expect(page.getByTestId("architect-no-key").textContent()).resolves.toContain(
      "Deterministic engine — no AI key",
    );
    const question = panel().locator('[data-tool="ask_clarification"]');
    await expect(question.textContent()).resolves.toContain("What is the price per token?");
    await expect(question.getByRole("button").allTextContents()).resolves.toEqual([
      "$… per token",
      "$… per 1,000 tokens",
      "$… per million tokens",
    ]);
    await screenshot(page, "pricing-architect-no-key-question");

    await ask("Guide", "$10 per million tokens", false);
    await page.waitForURL(/\/catalog\/plans\/new$/);
    // $2,000 + 2,000,000 tokens × $0.00001 − 15 % of the $10 beyond 1M = $2,018.50.
    await expect(panel().getByTestId("architect-estimate-total").textContent()).resolves.toBe(
      "$2,018.50",
    );
    await expect(panel().locator('[data-tool="propose_setup"]').textContent()).resolves.toContain(
      "Platform fee",
    );
    await expect(panel().getByLabel("Steps").textContent()).resolves.toContain(
      "Enter the plan in the plan wizard",
    );
    await screenshot(page, "pricing-architect-no-key");
    expect((await api("/api/plans")).data).toEqual([]);
  });

  it("Guide with the model: streams its words and tool steps and navigates", async () => {
    await api("/api/ai/settings", { method: "PUT", body: { api_key: KEY } });
    await page.goto(`${stack.url}/cockpit`);
    await script([
      use(
        "propose_setup",
        SETUP,
        "A $2,000 platform fee, per-token pricing and a volume discount.",
      ),
      use("estimate_cost", ESTIMATE),
      use("navigate_user", { path: "/catalog/plans/new", reason: "Enter the plan in the wizard" }),
      say("The plan wizard is open: enter these fields, then save the plan as a draft."),
    ]);
    await ask("Guide", SEED_SENTENCE);
    await page.waitForURL(/\/catalog\/plans\/new$/);
    await expect(panel().getByText("AI model").count()).resolves.toBe(1);
    await expect(page.getByTestId("architect-no-key").count()).resolves.toBe(0);
    await expect(panel().getByTestId("architect-transcript").textContent()).resolves.toContain(
      "The plan wizard is open: enter these fields",
    );
    await expect(panel().getByTestId("architect-estimate-total").textContent()).resolves.toBe(
      "$2,018.50",
    );
    await screenshot(page, "pricing-architect-guide");
  });

  it("Pre-fill with the model: the plan wizard opens filled with the proposal", async () => {
    await page.goto(`${stack.url}/cockpit`);
    await script([
      use("propose_setup", SETUP),
      use("prefill_wizard", SETUP),
      say("The wizard is filled in: review it and save."),
    ]);
    await ask("Pre-fill", SEED_SENTENCE);
    await page.waitForURL(/\/catalog\/plans\/new/);
    await page.getByTestId("prefill-notice").waitFor();
    await expect(page.getByLabel("Product id").inputValue()).resolves.toBe("chat-api");
    await screenshot(page, "pricing-architect-prefill");
    expect((await api("/api/plans")).data).toEqual([]);
  });

  it("Auto-create with the model: a DRAFT plan, nothing published", async () => {
    await page.goto(`${stack.url}/catalog?tab=plans`);
    await script([
      use("propose_setup", SETUP),
      use("estimate_cost", ESTIMATE),
      use("create_entities", SETUP),
      say("Created as a draft: publish it when it is right."),
    ]);
    await ask("Auto-create", SEED_SENTENCE);
    const created = panel().locator('[data-tool="create_entities"]');
    await expect(created.textContent()).resolves.toContain("DRAFT");
    const plans = (await api("/api/plans")).data as { id: string; status: string }[];
    expect(plans.map((p) => [p.id, p.status])).toEqual([["chat-growth", "draft"]]);
    await screenshot(page, "pricing-architect-auto-create");
  });

  it("the daily cap refuses the next call and the panel says why", async () => {
    // Below what the runs above already spent today: the next call's check refuses it.
    await api("/api/ai/settings", { method: "PUT", body: { daily_cost_cap_usd: "0.001" } });
    await page.goto(`${stack.url}/cockpit`);
    await ask("Guide", SEED_SENTENCE);
    const banner = page.getByTestId("architect-cap");
    await expect(banner.textContent()).resolves.toContain(
      "Daily AI budget of $0.001 reached — resets at 00:00 UTC",
    );
    await screenshot(page, "pricing-architect-cap");
    expect(browser.errors.filter((e) => !e.includes("429"))).toEqual([]);
  });
});
