// The Documentation Hub (issue 18 §3) in a real browser on a seeded stack: /docs lists every
// endpoint of the served /openapi.json by tag; a search narrows it; an endpoint opens with its
// parameters, schemas and generated example; "✨ AI Explanation" shows what it does, when to
// use it, curl / TypeScript / Python and the gotchas, badged "from the schema (no AI key)"; "Try
// it" on GET /api/customers answers 200 with the API's own customers, and a missing customer
// shows its problem+json; the Getting Started guide of the demo's Chat API names its real
// metrics, and its example event body is accepted by POST /v1/events as it is shown.
// Screenshots: docs-search.png, docs-explanation.png, docs-try-it.png, docs-problem.png,
// docs-getting-started.png.

import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "../../scripts/lib/stack.mjs";
import { type Browser, launchBrowser, screenshot, signedInPage } from "./browser";
import { type Stack, startSeededStack } from "./stack";

let stack: Stack;
let browser: Browser;
let page: Page;

const api = (path: string, init: Record<string, unknown> = {}) =>
  request(`${stack.url}${path}`, { token: stack.operatorToken, ...init });

describe("API Docs", () => {
  beforeAll(async () => {
    stack = await startSeededStack((line) => console.log(`[docs browser tests] ${line}`));
    browser = await launchBrowser();
    page = await signedInPage(browser, stack.url, stack.operatorToken);
  }, 600_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it("lists every endpoint of /openapi.json and narrows them by a search", async () => {
    const spec = (await (await fetch(`${stack.url}/openapi.json`)).json()) as { paths: object };
    const total = Object.values(spec.paths as Record<string, object>).reduce(
      (n, item) =>
        n +
        Object.keys(item).filter((m) => ["get", "post", "put", "patch", "delete"].includes(m))
          .length,
      0,
    );
    await page
      .getByRole("navigation", { name: "Main" })
      .getByRole("link", { name: "API Docs" })
      .click();
    await page.getByRole("heading", { name: "API Docs", level: 1 }).waitFor();
    const index = page.getByRole("complementary", { name: "Endpoints" });
    await index.getByText(`${total} of ${total} endpoints`).waitFor();
    expect(await index.locator("a.docs-op").count()).toBe(total);

    await index.getByLabel("Search endpoints").fill("get customers");
    await index.getByText(new RegExp(`^\\d+ of ${total} endpoints$`)).waitFor();
    await page.waitForURL(/\/docs\?q=get\+customers/);
    const shown = await index
      .locator("a.docs-op")
      .evaluateAll((links) => links.map((a) => a.textContent ?? ""));
    expect(shown.length).toBeGreaterThan(1);
    expect(shown.length).toBeLessThan(total);
    expect(shown.every((t) => t.startsWith("GET") && /customers/i.test(t))).toBe(true);

    await index.locator('a[data-op="get_api_customers"]').click();
    await page.waitForURL(/op=get_api_customers/);
    const detail = page.getByRole("article");
    await detail.getByRole("heading", { name: /GET\s+\/api\/customers$/ }).waitFor();
    // Its parameters, and its answers with their schemas folded away.
    await detail.getByRole("cell", { name: "cursor", exact: true }).waitFor();
    expect(await detail.locator("details.docs-schema summary").allTextContents()).toEqual(
      expect.arrayContaining([expect.stringMatching(/^200 A page of customers/)]),
    );
    await screenshot(page, "docs-search");
  });

  it("opens the explanation: from the schema, with curl, TypeScript and Python", async () => {
    const detail = page.getByRole("article");
    await detail.getByRole("button", { name: "AI Explanation" }).click();
    const explained = detail.getByTestId("explanation");
    await explained.waitFor();
    await explained.getByText("from the schema (no AI key)").waitFor();
    const served = (await api("/api/docs/explanations/get_api_customers")) as {
      when_to_use: string;
      gotchas: string[];
      examples: { curl: string; python: string; typescript: string };
    };
    await explained.getByText(served.when_to_use.replaceAll("`", "")).waitFor();
    const code = explained.getByRole("tabpanel");
    expect(await code.textContent()).toBe(served.examples.curl);
    expect(served.examples.curl).toContain('"$AFORO_URL/api/customers?limit=50"');
    await explained.getByRole("tab", { name: "Python" }).click();
    expect(await code.textContent()).toBe(served.examples.python);
    await explained.getByRole("tab", { name: "TypeScript" }).click();
    expect(await code.textContent()).toBe(served.examples.typescript);
    // Shown as the API words them, their `backticked` names set as code.
    const unticked = (t: string) => t.replaceAll("`", "");
    expect(await explained.locator(".docs-gotchas li").allTextContents()).toEqual(
      served.gotchas.map(unticked),
    );
    expect(await explained.locator(".docs-gotchas code").first().textContent()).toBe("read");
    await explained.getByRole("tab", { name: "curl" }).click();
    await screenshot(page, "docs-explanation");
  });

  it("tries GET /api/customers with the signed-in token: 200 and the API's customers", async () => {
    const detail = page.getByRole("article");
    const tryIt = detail.getByRole("region", { name: "Try it" });
    await tryIt.getByLabel(/^limit/).fill("5");
    await tryIt.getByRole("button", { name: "Send GET" }).click();
    await tryIt.getByTestId("try-status").getByText("200").waitFor();
    const expected = (await api("/api/customers?limit=5")) as { data: { id: string }[] };
    const shown = JSON.parse(
      (await tryIt.getByTestId("try-result").locator("pre").textContent()) ?? "{}",
    );
    expect(shown.data.map((c: { id: string }) => c.id)).toEqual(expected.data.map((c) => c.id));
    expect(shown.data).toHaveLength(5);
    await screenshot(page, "docs-try-it");
  });

  it("shows a refused call's problem+json", async () => {
    await page.goto(`${stack.url}/docs?op=get_api_customers_id`);
    const tryIt = page.getByRole("article").getByRole("region", { name: "Try it" });
    await tryIt.getByLabel(/^id/).fill("no-such-customer");
    await tryIt.getByRole("button", { name: "Send GET" }).click();
    await tryIt.getByTestId("try-status").getByText("404").waitFor();
    await tryIt
      .getByRole("alert")
      .getByText("not_found: Customer 'no-such-customer' does not exist")
      .waitFor();
    await screenshot(page, "docs-problem");
  });

  it("builds the Getting Started guide of the demo's Chat API from its catalog", async () => {
    await page
      .getByRole("navigation", { name: "Docs sections" })
      .getByRole("link", { name: "Getting Started" })
      .click();
    await page.waitForURL(/\/docs\/getting-started/);
    await page.getByLabel("Product").selectOption("chat-api");
    const guide = page.getByTestId("guide");
    await guide.getByRole("heading", { name: "Getting started with Chat API" }).waitFor();
    await guide.getByText("input_tokens").first().waitFor();
    await guide.getByText("output_tokens").first().waitFor();
    const served = (await api("/api/docs/getting-started/chat-api")) as {
      customer: { id: string; from_catalog: boolean };
      steps: { title: string; curl: string }[];
    };
    expect(served.customer.from_catalog).toBe(true);
    expect(stack.customers).toContain(served.customer.id);
    expect(await guide.locator(".docs-step h3").allTextContents()).toEqual(
      served.steps.map((s) => s.title),
    );
    // The first step's curl, as shown, sends an event body POST /v1/events accepts.
    const curl =
      (await guide.locator(".docs-step").first().getByRole("tabpanel").textContent()) ?? "";
    const body = /-d '(.*)'$/m.exec(curl)?.[1] ?? "";
    const sent = await request(`${stack.url}/v1/events`, {
      method: "POST",
      token: stack.ingestKey,
      body: JSON.parse(body),
    });
    // request() throws on anything but a 2xx.
    expect(sent).toMatchObject({ accepted: 2, rejected: [] });
    await screenshot(page, "docs-getting-started");
  });

  it("raised no page errors, and console errors only for the 404 it asked for", () => {
    const unexpected = browser.errors.filter((e) => !/status of 404/.test(e));
    expect(unexpected).toEqual([]);
  });
});
