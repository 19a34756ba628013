// The Channels page in a real browser against a real `wrangler dev` (issue 12, item 4), with a
// real HTTP receiver in this process standing in for a customer's webhook endpoint: with no
// channel the signals page says alerts reach nobody and links here; a channel is added (the
// API's field errors shown inline), its signing secret shown once and verified by the
// standardwebhooks package at the receiver; a test send shows what the receiver answered, also
// when it fails; the secret is rotated; a burst of alerts past the budget reaches the receiver
// as N messages and one digest, and the delivery log shows each; disable, enable, e-mail and
// delete work. Screenshot: test-results/screenshots/channels.png.

import type { Page } from "playwright-core";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "../../scripts/lib/stack.mjs";
import { type Browser, launchBrowser, screenshot } from "./browser";
import { type Received, type Receiver, startReceiver } from "./receiver";
import { startBareStack, until } from "./stack";

let receiver: Receiver;
let stack: Awaited<ReturnType<typeof startBareStack>>;
let browser: Browser;
let page: Page;

// biome-ignore lint/suspicious/noExplicitAny: JSON answers of the API under test
const api = (path: string, init: { method?: string; body?: unknown } = {}): Promise<any> =>
  request(`${stack.url}${path}`, { token: stack.keys.operator_token, ...init });

const CUSTOMERS = ["acme", "beta", "gamma", "delta"];

/** A product, a plan and customers on it: enough for MarginGuard to judge an event. */
async function seedCatalog() {
  await api("/api/products", { method: "POST", body: { id: "chat-api", name: "Chat API" } });
  await api("/api/products/chat-api/metrics", {
    method: "POST",
    body: { id: "input_tokens", unit: "token", aggregation: "sum" },
  });
  await api("/api/plans", {
    method: "POST",
    body: {
      id: "chat-pro",
      product: "chat-api",
      name: "Chat Pro",
      currency: "USD",
      period: "month",
      components: [{ type: "per_unit", metric: "input_tokens", unit_price: "0.00001" }],
    },
  });
  const monthStart = new Date();
  monthStart.setUTCDate(1);
  monthStart.setUTCHours(0, 0, 0, 0);
  for (const id of CUSTOMERS) {
    await api("/api/customers", { method: "POST", body: { id, name: `${id} Inc` } });
    await api("/api/subscriptions", {
      method: "POST",
      body: { customer: id, plan: "chat-pro", start: monthStart.toISOString() },
    });
  }
}

const webhookHeaders = (r: Received) => ({
  "webhook-id": r.headers["webhook-id"] ?? "",
  "webhook-timestamp": r.headers["webhook-timestamp"] ?? "",
  "webhook-signature": r.headers["webhook-signature"] ?? "",
});

beforeAll(async () => {
  receiver = await startReceiver("/hooks/aforo");
  stack = await startBareStack("channels");
  await seedCatalog();
  browser = await launchBrowser();
  page = await browser.newPage();
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  await receiver?.close();
});

describe("Channels", () => {
  let secret = "";
  let channelId = "";

  it("with no channel, the signals page says alerts reach nobody and links to Channels", async () => {
    await page.goto(`${stack.url}/signals#token=${stack.keys.operator_token}`);
    const banner = page.getByTestId("no-channel-banner");
    await banner.waitFor();
    expect(await banner.textContent()).toContain("No alert channel");
    expect(await banner.textContent()).toContain("no_channel");
    await banner.getByRole("link", { name: "Add one" }).click();
    await page.getByRole("heading", { name: "Channels", level: 1 }).waitFor();
    expect(new URL(page.url()).pathname).toBe("/channels");
    await page.getByText("No alert channel yet").waitFor();
    expect(
      await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Channels" }),
    ).toBeTruthy();
  });

  it("adding a webhook shows the API's errors beside their fields, then the secret once", async () => {
    await page.getByRole("button", { name: "Webhook", exact: true }).click();
    await page.getByLabel("Endpoint URL").fill("http://10.1.2.3/hook");
    await page.getByRole("button", { name: "Add channel" }).click();
    // The schema's errors first (the empty name), then the outbound rules' (a private address).
    await page.locator("#err-name").waitFor();
    expect(await page.getByLabel("Name").getAttribute("aria-invalid")).toBe("true");
    await page.getByLabel("Name").fill("Ops webhook");
    await page.getByRole("button", { name: "Add channel" }).click();
    const urlError = page.locator("#err-url");
    await urlError.waitFor();
    expect(await urlError.textContent()).toMatch(/private|not allowed|refused|loopback/i);
    expect(await page.getByLabel("Endpoint URL").getAttribute("aria-invalid")).toBe("true");
    expect(await page.locator("#err-name").count()).toBe(0);

    await page.getByLabel("Name").fill("Ops webhook");
    await page.getByLabel("Endpoint URL").fill(receiver.url);
    await page.getByRole("button", { name: "Add channel" }).click();
    const shown = page.getByTestId("secret-value");
    await shown.waitFor();
    secret = (await shown.textContent()) ?? "";
    expect(secret).toMatch(/^whsec_/);
    const card = page.locator("[data-channel]").filter({ hasText: "Ops webhook" });
    await card.waitFor();
    channelId = (await card.getAttribute("data-channel")) ?? "";
    expect(await card.getByTestId("channel-state").textContent()).toBe("enabled");
    // Never again: the list and the channel say only that a secret is stored.
    const listed = await api("/api/channels");
    expect(JSON.stringify(listed)).not.toContain(secret);
    await page.getByRole("button", { name: "Done" }).click();
    expect(await page.getByTestId("secret-value").count()).toBe(0);
  });

  it("a test send shows the receiver's answer; the signature verifies with the secret shown", async () => {
    const card = page.locator(`[data-channel="${channelId}"]`);
    await card.getByRole("button", { name: "Send test" }).click();
    const result = card.getByTestId("test-result");
    await result.waitFor();
    expect(await result.getAttribute("data-ok")).toBe("true");
    expect(await result.textContent()).toContain("HTTP 200");
    expect(receiver.received).toHaveLength(1);
    const first = receiver.received[0] as Received;
    expect(JSON.parse(first.body).type).toBe("aforo.test");
    new Webhook(secret).verify(first.body, webhookHeaders(first));

    receiver.setStatus(500);
    await card.getByRole("button", { name: "Send test" }).click();
    await until(
      () => result.getAttribute("data-ok"),
      (v) => v === "false",
    );
    expect(await result.textContent()).toContain("Test failed · HTTP 500");
    expect(await result.textContent()).toContain("receiver is failing on purpose");
    receiver.setStatus(200);
  });

  it("rotating the secret asks first, shows the new one once, and signs with it", async () => {
    const card = page.locator(`[data-channel="${channelId}"]`);
    await card.getByRole("button", { name: "Rotate secret" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByRole("button", { name: "Rotate secret" }).click();
    const shown = page.getByTestId("secret-value");
    await shown.waitFor();
    const rotated = (await shown.textContent()) ?? "";
    expect(rotated).toMatch(/^whsec_/);
    expect(rotated).not.toBe(secret);
    await page.getByRole("button", { name: "Done" }).click();
    const before = receiver.received.length;
    await card.getByRole("button", { name: "Send test" }).click();
    await until(
      () => receiver.received.length,
      (n) => n > before,
    );
    const last = receiver.received.at(-1) as Received;
    new Webhook(rotated).verify(last.body, webhookHeaders(last));
    expect(() => new Webhook(secret).verify(last.body, webhookHeaders(last))).toThrow();
    secret = rotated;
  });

  it("a burst of alerts past the budget arrives as N messages and one digest; the log shows each", async () => {
    // The budget, set on the page: 2 alerts one by one, the rest in a digest after 5 s.
    await page.getByLabel("Alerts per window").fill("0");
    await page.getByRole("button", { name: "Save budget" }).click();
    await page.locator(".field-error").first().waitFor();
    await page.getByLabel("Alerts per window").fill("2");
    await page.getByLabel("Digest delay (seconds)").fill("5");
    await page.getByRole("button", { name: "Save budget" }).click();
    await page.getByText("Budget saved.").waitFor();
    expect(await api("/api/deliveries/budget")).toMatchObject({
      max_per_window: 2,
      digest_delay_seconds: 5,
    });

    const before = receiver.received.length;
    // For each customer, one event whose cost dwarfs its revenue: MarginGuard trips at once.
    await request(`${stack.url}/v1/events`, {
      method: "POST",
      token: stack.keys.ingest_key,
      body: CUSTOMERS.map((customer) => ({
        id: `burst-${customer}`,
        customer,
        product: "chat-api",
        metric: "input_tokens",
        quantity: 1000,
        time: new Date(Date.now() - 3_600_000).toISOString(),
        cost: { usd: 5000 },
      })),
    });
    const deliveries = async () =>
      (await api(`/api/deliveries?channel=${channelId}&limit=200`)).data as {
        kind: string;
        status: string;
        digest_id: string | null;
      }[];
    const settled = await until(
      deliveries,
      (ds) => ds.some((d) => d.kind === "digest") && ds.every((d) => d.status === "delivered"),
      60_000,
    );
    const alerts = settled.filter((d) => d.kind === "signal");
    const digested = alerts.filter((d) => d.digest_id !== null);
    expect(alerts.length).toBeGreaterThan(2);
    const singles = alerts.length - digested.length;
    // At most the budget went one by one (the exact split is asserted in
    // test/workers/deliveries-budget.test.ts); every other alert came in a digest.
    expect(singles).toBeLessThanOrEqual(2);
    await new Promise((r) => setTimeout(r, 500));
    const got = receiver.received.slice(before).map((r) => JSON.parse(r.body));
    expect(got.filter((b) => b.type === "signal.created")).toHaveLength(singles);
    const digests = got.filter((b) => b.type === "signals.digest");
    expect(digests.length).toBeGreaterThanOrEqual(1);
    expect(got.length).toBe(singles + digests.length);
    expect(digests.reduce((n, b) => n + b.data.count, 0)).toBe(digested.length);
    for (const r of receiver.received.slice(before)) {
      new Webhook(secret).verify(r.body, webhookHeaders(r));
    }

    const card = page.locator(`[data-channel="${channelId}"]`);
    await card.getByRole("button", { name: "Deliveries" }).click();
    const log = page.getByTestId("delivery-log");
    await log.locator("[data-delivery]").first().waitFor();
    // The log's first page holds 25.
    expect(await log.locator("[data-delivery]").count()).toBe(Math.min(settled.length, 25));
    const statuses = await log.getByTestId("delivery-status").allTextContents();
    expect(new Set(statuses)).toEqual(new Set(["delivered"]));
    expect(await log.getByText("sent in a digest").count()).toBeGreaterThan(0);
    expect(new URL(page.url()).searchParams.get("channel")).toBe(channelId);
    await screenshot(page, "channels");
  });

  it("disable, enable, an e-mail channel and delete", async () => {
    const card = page.locator(`[data-channel="${channelId}"]`);
    await card.getByRole("button", { name: "Disable" }).click();
    await until(
      () => card.getByTestId("channel-state").textContent(),
      (t) => t === "disabled",
    );
    await page.goto(`${stack.url}/signals`);
    const banner = page.getByTestId("no-channel-banner");
    await banner.waitFor();
    expect(await banner.textContent()).toContain("No alert channel enabled");
    await banner.getByRole("link", { name: "Enable a channel" }).click();
    await page
      .locator(`[data-channel="${channelId}"]`)
      .getByRole("button", { name: "Enable" })
      .click();
    await until(
      () =>
        page.locator(`[data-channel="${channelId}"]`).getByTestId("channel-state").textContent(),
      (t) => t === "enabled",
    );

    await page.getByRole("button", { name: "E-mail", exact: true }).click();
    await page.getByLabel("Name").fill("On-call mail");
    await page.getByLabel("Recipient").fill("not-an-address");
    await page.getByRole("button", { name: "Add channel" }).click();
    await page.locator("#err-to").waitFor();
    await page.getByLabel("Recipient").fill("oncall@example.com");
    await page.getByRole("button", { name: "Add channel" }).click();
    const mail = page.locator("[data-channel]").filter({ hasText: "On-call mail" });
    await mail.waitFor();
    expect(await mail.textContent()).toContain("oncall@example.com");
    // Locally the send_email binding writes the message to an .eml file.
    await mail.getByRole("button", { name: "Send test" }).click();
    await mail.getByTestId("test-result").waitFor();
    expect(await mail.getByTestId("test-result").getAttribute("data-ok")).toBe("true");

    await mail.getByRole("button", { name: "Delete" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Delete channel" }).click();
    await until(
      () => page.locator("[data-channel]").filter({ hasText: "On-call mail" }).count(),
      (n) => n === 0,
    );
    expect((await api("/api/channels")).data.map((c: { name: string }) => c.name)).toEqual([
      "Ops webhook",
    ]);
    // The only console errors are the browser's notes of the 400s the forms were meant to get.
    expect(browser.errors.filter((e) => !/status of 400/.test(e))).toEqual([]);
  });
});
