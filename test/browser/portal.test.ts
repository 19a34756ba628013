// The customer portal (issue 19 §5) in a real browser against a real `wrangler dev`: an operator
// makes a portal session for one customer through the API, the browser opens its URL, the token
// moves into a cookie and the browser lands on /portal (the token gone from the address bar),
// which shows that customer's plan in words, this period's usage against the included quantity
// with its projection, the invoice and the API key with its quota — branded like the storefront,
// nothing of the other customer, nothing tripping the page's CSP — and stacks on a phone.
// "✨ Analyze my usage" shows the advice; the page refreshes its figures from the overview API.
// Revoking the session closes the open page at its next refresh. Screenshots: portal.png,
// portal-advisor.png, portal-mobile.png.

import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "../../scripts/lib/stack.mjs";
import { type Browser, launchBrowser, screenshot } from "./browser";
import { startBareStack, until } from "./stack";

let stack: Awaited<ReturnType<typeof startBareStack>>;
let browser: Browser;
let page: Page;
let key: { id: string; key: string; prefix: string };

// biome-ignore lint/suspicious/noExplicitAny: JSON answers of the API under test
const api = (path: string, init: { method?: string; body?: unknown } = {}): Promise<any> =>
  request(`${stack.url}${path}`, { token: stack.keys.operator_token, ...init });
const post = (path: string, body: unknown) => api(path, { method: "POST", body });

const NOW = Date.now();
const MONTH_START = Date.UTC(new Date(NOW).getUTCFullYear(), new Date(NOW).getUTCMonth(), 1);
const LAST_MONTH = Date.UTC(new Date(NOW).getUTCFullYear(), new Date(NOW).getUTCMonth() - 1, 1);

beforeAll(async () => {
  stack = await startBareStack("portal");
  await post("/api/products", { id: "llm", name: "LLM API" });
  await post("/api/products/llm/metrics", { id: "tokens", unit: "token", aggregation: "sum" });
  await post("/api/plans", {
    id: "growth",
    product: "llm",
    name: "Growth",
    currency: "USD",
    period: "month",
    components: [
      { type: "flat", amount: "99" },
      { type: "included", metric: "tokens", quantity: "5000000" },
      { type: "per_unit", metric: "tokens", unit_price: "0.000003" },
    ],
  });
  await post("/api/customers", { id: "initech", name: "Initech" });
  await post("/api/customers", { id: "hooli", name: "Hooli" });
  for (const customer of ["initech", "hooli"]) {
    await post("/api/subscriptions", {
      customer,
      plan: "growth",
      start: new Date(LAST_MONTH).toISOString(),
    });
  }
  key = await post("/api/customers/initech/api-keys", {
    name: "Initech production",
    quota: { metric: "tokens", limit: "4000000", period: "month" },
  });
  await post("/api/customers/hooli/api-keys", { name: "Hooli key" });
  const at = new Date(Math.max(MONTH_START, NOW - 60_000)).toISOString();
  const events = [
    {
      id: "e1",
      customer: "initech",
      product: "llm",
      metric: "tokens",
      quantity: 1_250_000,
      time: at,
    },
    {
      id: "e2",
      product: "llm",
      metric: "tokens",
      quantity: 750_000,
      time: at,
      api_key: key.key,
    },
    { id: "e3", customer: "hooli", product: "llm", metric: "tokens", quantity: 999_999, time: at },
  ];
  await request(`${stack.url}/v1/events`, {
    method: "POST",
    token: stack.keys.ingest_key,
    body: events,
  });
  // The events queue applies them to the rollups (and the key's usage) within seconds.
  const rolled = await until(
    () => api(`/api/rollups?group_by=customer&customer=initech`),
    (r) => r.data.reduce((a: number, row: { units: string }) => a + Number(row.units), 0) >= 2e6,
    60_000,
  );
  expect(rolled.data.reduce((a: number, r: { units: string }) => a + Number(r.units), 0)).toBe(
    2_000_000,
  );
  await post("/api/invoices/run", {});
  await api("/api/storefront", {
    method: "PUT",
    body: {
      slug: "acme-llm",
      brand: {
        name: "Acme LLM",
        logo_url: null,
        favicon_url: null,
        colors: [
          { hex: "#0e7490", role: "primary" },
          { hex: "#b45309", role: "accent" },
          { hex: "#f8fafc", role: "background" },
          { hex: "#0f172a", role: "text" },
        ],
        fonts: [{ family: "Georgia", role: "heading", source: "local" }],
        description: null,
        copy: { hero: null, meta_description: null, social_proof: [], source: "page" },
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

describe("the customer portal", () => {
  let sessionId: string;

  it("opens from the operator's link, lands on /portal and shows the customer's figures", async () => {
    const session = await post("/api/portal/sessions", { customer: "initech", expires_in: 1800 });
    sessionId = session.id;
    expect(session.url).toMatch(new RegExp(`^${stack.url}/portal/ps_`));
    const response = await page.goto(session.url);
    expect(response?.status()).toBe(200);
    expect(new URL(page.url()).pathname).toBe("/portal");
    await page.getByRole("heading", { name: "Your account", level: 1 }).waitFor();
    expect(await page.title()).toBe("Acme LLM — your account");
    await page.getByText("Signed in as Initech").waitFor();

    const card = page.locator("article.card").filter({ hasText: "Growth" });
    await card.getByText("$99 a month", { exact: true }).waitFor();
    await card.getByText("includes 5,000,000 tokens a month", { exact: true }).waitFor();
    const usage = card.locator('tr[data-metric="tokens"]');
    expect(await usage.locator("td").nth(0).textContent()).toBe("2,000,000");
    expect(await usage.locator("td").nth(1).textContent()).toBe("5,000,000 (40.00 %)");
    await card.getByText(/^At this period's pace so far: 2,000,000 tokens in/).waitFor();

    const invoice = page.locator("tr[data-invoice]");
    expect(await invoice.count()).toBe(1);
    expect(await invoice.locator("td").nth(2).textContent()).toBe("$99.00");

    const keyRow = page.locator(`tr[data-key="${key.id}"]`);
    await keyRow.getByText(`sk_live_${key.prefix}…`).waitFor();
    await keyRow.getByText("750,000 of 4,000,000 tokens a month (18.75 %)").waitFor();

    // Branded like the storefront: its colours and heading face.
    const style = (await page.evaluate(`(() => {
      const css = (sel) => getComputedStyle(document.querySelector(sel));
      return { price: css(".price").color, background: css("body").backgroundColor, heading: css("h1").fontFamily };
    })()`)) as { price: string; background: string; heading: string };
    expect(style).toMatchObject({ price: "rgb(14, 116, 144)", background: "rgb(248, 250, 252)" });
    expect(style.heading).toContain("Georgia");

    const text = (await page.locator("body").textContent()) ?? "";
    expect(text).not.toContain("Hooli");
    expect(text).not.toContain("999999");
    await screenshot(page, "portal");
    expect(browser.errors).toEqual([]);
  });

  it("✨ Analyze my usage: the projection's method and a verdict, in the page", async () => {
    await page.getByRole("button", { name: "✨ Analyze my usage" }).click();
    const advice = page.locator("#advice");
    await advice.waitFor({ state: "visible" });
    const verdict = await advice.getAttribute("data-verdict");
    // 2,000,000 of 5,000,000 so far: which verdict depends on the day of the month (the run
    // rate); each is checked by hand in test/domain/portal-advisor.test.ts.
    expect(["stay", "upgrade", "optimize"]).toContain(verdict);
    expect(await page.locator("#advice-method").textContent()).toMatch(
      /^At this period's pace so far: 2,000,000 tokens in/,
    );
    expect(await page.locator("#advice-text").getAttribute("data-source")).toBe("template");
    expect(((await page.locator("#advice-text").textContent()) ?? "").length).toBeGreaterThan(40);
    await screenshot(page, "portal-advisor");
    expect(browser.errors).toEqual([]);
  });

  it("Smart Onboarding answers from the customer's own key and quota, with links to act", async () => {
    const ask = async (question: string) => {
      const before = await page.locator("#chat-log li.assistant").count();
      await page.getByLabel("Your question").fill(question);
      await page.getByRole("button", { name: "Ask" }).click();
      const answer = page.locator("#chat-log li.assistant").nth(before);
      await answer.waitFor();
      return answer;
    };
    const quota = await ask(
      `How much of my sk_live_${key.prefix.slice(0, 4)} key's quota is used?`,
    );
    expect(await quota.locator("p").textContent()).toContain(
      `Your sk_live_${key.prefix}… (Initech production) key has used 18.75% of this month's quota: 750,000 of 4,000,000 tokens.`,
    );
    expect(await quota.getAttribute("data-source")).toBe("template");
    expect(await quota.getByRole("link", { name: "Your API keys" }).getAttribute("href")).toBe(
      "/portal#keys",
    );
    const plan = await ask("What plan am I on?");
    expect(await plan.locator("p").textContent()).toContain("You are on Growth");
    await screenshot(page, "portal-onboarding");
    expect(browser.errors).toEqual([]);
  });

  it("refreshes its usage figures from /portal/api/overview when the tab comes back", async () => {
    await request(`${stack.url}/v1/events`, {
      method: "POST",
      token: stack.keys.ingest_key,
      body: [
        {
          id: "e4",
          customer: "initech",
          product: "llm",
          metric: "tokens",
          quantity: 500_000,
          time: new Date(Math.max(MONTH_START, Date.now() - 60_000)).toISOString(),
        },
      ],
    });
    await until(
      () => api("/api/rollups?group_by=customer&customer=initech"),
      (r) =>
        r.data.reduce((a: number, row: { units: string }) => a + Number(row.units), 0) >= 2.5e6,
      60_000,
    );
    const used = page.locator('tr[data-metric="tokens"] td[data-label="Used"]');
    expect(await used.textContent()).toBe("2,000,000");
    await page.evaluate(`document.dispatchEvent(new Event("visibilitychange"))`);
    await page.getByText("2,500,000", { exact: true }).waitFor();
    expect(
      await page.locator('tr[data-metric="tokens"] td[data-label="Included"]').textContent(),
    ).toBe("5,000,000 (50.00 %)");
    expect(browser.errors).toEqual([]);
  });

  it("stacks on a phone without sideways scrolling of the page", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.reload();
    await page.getByRole("heading", { name: "Your account", level: 1 }).waitFor();
    const widths = (await page.evaluate(
      `({ doc: document.documentElement.scrollWidth, view: window.innerWidth })`,
    )) as { doc: number; view: number };
    expect(widths.doc).toBeLessThanOrEqual(widths.view);
    await screenshot(page, "portal-mobile");
    await page.setViewportSize({ width: 1440, height: 900 });
  });

  it("a revoked session closes the open page at its next refresh, and every load after", async () => {
    await post(`/api/portal/sessions/${sessionId}/revoke`, {});
    await page.evaluate(`document.dispatchEvent(new Event("visibilitychange"))`);
    await page.getByRole("heading", { name: "This link has expired" }).waitFor();
    expect(await page.getByText("Initech").count()).toBe(0);
    const response = await page.reload();
    expect(response?.status()).toBe(401);
    await page.getByRole("heading", { name: "This link has expired" }).waitFor();
  });
});
