// The Invoices page and the cockpit's drill-downs in a real browser against a real, seeded stack
// (issue 12, item 2): the list and its filters show the API's invoices, an invoice's lines are
// traced to the rollups and the events behind them, pay / void / finalize go through a
// confirmation and show the API's refusals and who did it; a viewer reads an invoice but finds
// its controls disabled, saying why; every cockpit tile opens the list behind it and the list
// adds up to the tile. Screenshots: invoices.png, invoice-detail.png, invoices-viewer.png,
// cockpit-drilldown.png.

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
const usd = (v: string | number) =>
  new Intl.NumberFormat("en-US", { style: "currency", currency: "USD" }).format(Number(v));

async function signIn(p: Page) {
  await p.goto(`${stack.url}/`);
  await signInWithToken(p, stack.operatorToken);
  await p.getByRole("navigation", { name: "Main" }).waitFor();
}

const rowsOf = (p: Page, testId: string) =>
  p
    .locator(`[data-testid="${testId}"] tbody tr`)
    .evaluateAll((trs) =>
      trs.map((tr) => tr.getAttribute("data-invoice") ?? tr.getAttribute("data-line") ?? ""),
    );

/** An invoice with usage lines whose events are still stored, found through the API. */
async function invoiceWithUsage(): Promise<{ inv: Json; trace: Json }> {
  const all: Json[] = (await api("/api/invoices?limit=200")).data;
  for (const inv of all.filter((i) => i.status !== "draft")) {
    const trace = await api(`/api/invoices/${inv.id}/trace`);
    if (trace.usage.some((g: Json) => g.rollups.events > 0 && g.matches)) return { inv, trace };
  }
  throw new Error("the seeded book has no invoice with usage lines");
}

beforeAll(async () => {
  stack = await startSeededStack((line) => console.log(`[invoices tests] ${line}`));
  browser = await launchBrowser();
  page = await browser.newPage();
  await signIn(page);
}, 600_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

describe("Invoices page", () => {
  it("lists the API's invoices, filters by status, customer and period in the URL", async () => {
    await page.getByRole("link", { name: "Invoices" }).click();
    await page.getByTestId("invoice-list").waitFor();
    const first = await api("/api/invoices?limit=25");
    expect(await rowsOf(page, "invoice-list")).toEqual(first.data.map((i: Json) => i.id));
    const top = first.data[0];
    const row = page.locator(`tr[data-invoice="${top.id}"]`);
    expect(await row.textContent()).toContain(usd(top.total));
    await screenshot(page, "invoices");

    await page.getByLabel("Status").selectOption("open");
    await page.waitForURL(/status=open/);
    await page.getByTestId("invoice-list").waitFor();
    const open = await api("/api/invoices?status=open&limit=25");
    expect(await rowsOf(page, "invoice-list")).toEqual(open.data.map((i: Json) => i.id));

    const customer = top.customer as string;
    await page.getByLabel("Status").selectOption("");
    await page.getByLabel("Customer id").fill(customer);
    await page.getByRole("button", { name: "Apply" }).click();
    await page.waitForURL(new RegExp(`customer=${customer}`));
    const month = (top.period.start as string).slice(0, 7);
    await page.getByLabel("Period (month)").fill(month);
    await page.waitForURL(/period=/);
    await page.getByTestId("invoice-list").waitFor();
    const filtered = await api(`/api/invoices?customer=${customer}&period=${month}&limit=25`);
    expect(filtered.data.length).toBeGreaterThan(0);
    expect(await rowsOf(page, "invoice-list")).toEqual(filtered.data.map((i: Json) => i.id));
    // The URL restores the view.
    await page.reload();
    await page.getByTestId("invoice-list").waitFor();
    expect(await rowsOf(page, "invoice-list")).toEqual(filtered.data.map((i: Json) => i.id));
    await page.getByRole("button", { name: "Clear filters" }).click();
    await page.waitForURL((u) => !u.search.includes("customer="));
  });

  it("an invoice's lines trace to the rollups and the events they were priced from", async () => {
    const { inv, trace } = await invoiceWithUsage();
    await page.goto(`${stack.url}/invoices?invoice=${inv.id}`);
    const detail = page.getByTestId("invoice-detail");
    await detail.getByTestId("invoice-lines").waitFor();
    await detail.getByTestId("invoice-trace").waitFor();
    expect(await detail.getByTestId("invoice-total").textContent()).toBe(usd(inv.total));
    const full = await api(`/api/invoices/${inv.id}`);
    expect(await rowsOf(detail as unknown as Page, "invoice-lines")).toEqual(
      full.lines.map((l: Json) => String(l.position)),
    );
    for (const l of full.lines) {
      const tr = detail.locator(`[data-testid="invoice-lines"] tr[data-line="${l.position}"]`);
      expect(await tr.getAttribute("data-kind")).toBe(l.kind);
      expect(await tr.textContent()).toContain(usd(l.amount));
    }
    // The trace: usage + fees + adjustments = the total; each usage window beside its rollups.
    const traced = detail.getByTestId("invoice-trace");
    expect(await traced.textContent()).toContain(`= ${usd(trace.lines_total)} (the invoice total)`);
    const group = trace.usage.find((g: Json) => g.rollups.events > 0 && g.matches);
    const gRow = traced.locator(`tr[data-metric="${group.metric}"]`).first();
    expect(await gRow.textContent()).toContain(usd(group.rollups.revenue));
    expect(await gRow.textContent()).toContain("yes");

    // The events behind a usage line of that metric.
    const line = full.lines.find(
      (l: Json) => l.kind === "usage" && l.metric === group.metric && l.type !== "included",
    );
    await detail
      .locator(`[data-testid="invoice-lines"] tr[data-line="${line.position}"]`)
      .getByRole("button", { name: "Events" })
      .click();
    const events = detail.getByTestId("line-events");
    await events.locator("tbody tr").first().waitFor();
    const expected = await api(`/api/invoices/${inv.id}/events?line=${line.position}&limit=20`);
    const shown = await events
      .locator("tbody tr")
      .evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-event")));
    expect(shown).toEqual(expected.data.map((e: Json) => e.id));
    await screenshot(page, "invoice-detail");
  });

  it("pay, void and finalize go through a confirmation; the API's refusal is shown", async () => {
    // A draft: a subscription whose first monthly period closed 20 minutes ago (inside the
    // hour invoices stay draft while late usage may arrive).
    const now = Date.now();
    const close = new Date(now - 20 * 60_000);
    const start = Date.UTC(
      close.getUTCFullYear(),
      close.getUTCMonth() - 1,
      close.getUTCDate(),
      close.getUTCHours(),
      close.getUTCMinutes(),
    );
    const plans: Json[] = (await api("/api/plans?limit=200")).data;
    const monthly = plans.find(
      (p) =>
        p.period === "month" && !p.trial_days && p.components.some((c: Json) => c.type === "flat"),
    );
    await api("/api/customers", {
      method: "POST",
      body: { id: "ui-billing", name: "UI Billing Co" },
    });
    const sub = await api("/api/subscriptions", {
      method: "POST",
      body: { customer: "ui-billing", plan: monthly.id, start: new Date(start).toISOString() },
    });
    // Run invoicing from the page, as the hourly job would: the period that just closed is
    // invoiced, and the list shows it.
    await page.goto(`${stack.url}/invoices`);
    await page.getByTestId("invoice-list").waitFor();
    await page.getByRole("button", { name: "Run invoicing" }).click();
    const ran = await page.getByRole("status").filter({ hasText: "Invoicing run:" }).textContent();
    const created = Number(/(\d+) created/.exec(ran ?? "")?.[1]);
    expect(created).toBeGreaterThanOrEqual(1);
    const [draft] = (await api(`/api/invoices?subscription=${sub.id}`)).data;
    expect(draft.status).toBe("draft");
    await page.locator(`tr[data-invoice="${draft.id}"]`).waitFor();

    await page.goto(`${stack.url}/invoices?invoice=${draft.id}`);
    const detail = page.getByTestId("invoice-detail");
    await detail.getByRole("button", { name: "Finalize" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByText("It is issued at its period close").waitFor();
    await dialog.getByRole("button", { name: "Finalize" }).click();
    await detail.getByText("the invoice is now open").waitFor();
    // The page speaks for the operator token: the invoice names it as the audit log does.
    const me = (await api("/api/me")).actor as string;
    expect(me).toMatch(/^token:/);
    const byToken = `by API token ${me.slice("token:".length)}`;
    expect(await api(`/api/invoices/${draft.id}`)).toMatchObject({
      status: "open",
      finalized_by: me,
    });
    expect(await detail.getByTestId("invoice-finalized").textContent()).toContain(byToken);

    // A payment dated before the issue date is refused by the API, and the dialog says why
    // (in an untracked tab: the browser logs the 400 as a console error).
    const scratch = await browser.newPage({ track: false });
    await signIn(scratch);
    await scratch.goto(`${stack.url}/invoices?invoice=${draft.id}`);
    await scratch
      .getByTestId("invoice-detail")
      .getByRole("button", { name: "Record payment" })
      .click();
    const d2 = scratch.getByRole("dialog");
    await d2.getByLabel("Paid on (empty: now)").fill("2001-01-01");
    await d2.getByRole("button", { name: "Record payment" }).click();
    await d2.getByRole("alert").getByText("at must not be before the issue date").waitFor();
    await d2.getByRole("button", { name: "Cancel" }).click();
    await scratch.close();
    expect((await api(`/api/invoices/${draft.id}`)).status).toBe("open");

    await detail.getByRole("button", { name: "Record payment" }).click();
    await dialog.getByLabel("Reference (optional)").fill("wire-42");
    await dialog.getByRole("button", { name: "Record payment" }).click();
    await detail.getByText("the invoice is now paid").waitFor();
    const paid = await api(`/api/invoices/${draft.id}`);
    expect([paid.status, paid.payment_reference, paid.paid_by]).toEqual(["paid", "wire-42", me]);
    await detail.getByText("paid", { exact: true }).first().waitFor();
    await detail.getByText("wire-42", { exact: false }).first().waitFor();
    // Who paid, on the invoice itself.
    expect(await detail.getByTestId("invoice-paid").textContent()).toContain(
      `${byToken} · wire-42`,
    );

    // Void an open invoice with a reason.
    const open = (await api("/api/invoices?status=open&limit=1")).data[0];
    await page.goto(`${stack.url}/invoices?invoice=${open.id}`);
    await detail.getByRole("button", { name: "Void" }).click();
    await dialog.getByText("This cannot be undone").waitFor();
    await dialog.getByLabel("Reason (optional)").fill("billed twice");
    await dialog.getByRole("button", { name: "Void" }).click();
    await detail.getByText("the invoice is now void").waitFor();
    const voided = await api(`/api/invoices/${open.id}`);
    expect([voided.status, voided.void_reason, voided.voided_by]).toEqual([
      "void",
      "billed twice",
      me,
    ]);
    // Nothing left to do with a void invoice (once the detail shows it voided).
    await detail.getByText("Voided", { exact: true }).waitFor();
    expect(await detail.getByTestId("invoice-voided").textContent()).toContain(
      `${byToken} · billed twice`,
    );
    expect(await detail.getByRole("button", { name: "Record payment" }).count()).toBe(0);
  });

  it("an open invoice shows the payment provider's attempts: a decline, then part of the money", async () => {
    const open: Json = (await api("/api/invoices?status=open&limit=1")).data[0];
    const at = new Date().toISOString();
    const pay = (body: Json) =>
      api(`/api/invoices/${open.id}/payments`, { method: "POST", body: { at, ...body } });
    await pay({
      status: "failed",
      decline_code: "insufficient_funds",
      reason: "card declined",
      reference: `ui-fail-${open.id}`,
    });
    const part = (Number(open.total) / 4).toFixed(2);
    await pay({ status: "succeeded", amount: part, reference: `ui-part-${open.id}` });
    const after = await api(`/api/invoices/${open.id}`);
    expect(after).toMatchObject({ status: "open", payments_count: 2 });

    await page.goto(`${stack.url}/invoices?invoice=${open.id}`);
    const detail = page.getByTestId("invoice-detail");
    const payments = detail.getByTestId("invoice-payments");
    await payments.waitFor();
    expect(
      await payments
        .locator("tbody tr")
        .evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-status"))),
    ).toEqual(["failed", "succeeded"]);
    expect(await payments.textContent()).toContain("insufficient_funds · card declined");
    // Adaptive Retry planned from the soft decline; the line says where it stands.
    const retries = await api(`/api/invoices/${open.id}/retries`);
    expect(retries.decline).toBe("soft");
    const line = await detail.getByTestId("retry-line").textContent();
    expect(line).toContain("Soft decline (insufficient_funds):");
    expect(line).toContain(
      retries.next_retry_at ? `${retries.remaining_attempts} left` : "retries sent",
    );
    expect(await payments.textContent()).toContain(usd(part));
    expect(await detail.getByTestId("invoice-amount-paid").textContent()).toBe(usd(part));
    expect(await detail.getByTestId("invoice-amount-due").textContent()).toBe(
      usd(after.amount_due),
    );
    await screenshot(page, "invoice-payments");
  });

  it("a viewer reads an open invoice but cannot pay, void or run invoicing, and is told why", async () => {
    const viewerKey = await api("/api/keys", {
      method: "POST",
      body: { kind: "operator", role: "viewer", name: "ui viewer" },
    });
    const open = (await api("/api/invoices?status=open&limit=1")).data[0];
    const viewer = await browser.newPage();
    await viewer.goto(`${stack.url}/`);
    await signInWithToken(viewer, viewerKey.key);
    await viewer.getByRole("navigation", { name: "Main" }).waitFor();
    await viewer.goto(`${stack.url}/invoices?invoice=${open.id}`);
    const detail = viewer.getByTestId("invoice-detail");
    await detail.getByTestId("invoice-lines").waitFor();
    // In the API's words for a viewer's 403: "Your role (viewer) may not run invoicing, …".
    const why = (await request(`${stack.url}/api/me`, { token: viewerKey.key })).refused[
      "invoices:write"
    ] as string;
    expect(why).toMatch(/^Your role \(viewer\) may not run invoicing/);
    expect(await viewer.getByTestId("refused").textContent()).toBe(
      `Invoices are read-only for you: ${why}.`,
    );
    for (const name of ["Record payment", "Void", "Run invoicing"]) {
      const button = viewer.getByRole("button", { name });
      expect(await button.isDisabled(), name).toBe(true);
      expect(await button.getAttribute("title"), name).toBe(why);
    }
    await screenshot(viewer, "invoices-viewer");
    await viewer.close();
    expect((await api(`/api/invoices/${open.id}`)).status).toBe("open");
  });
});

describe("Revenue Cockpit drill-downs", () => {
  it("every tile opens the list behind it, and the list adds up to the tile", async () => {
    await page.goto(`${stack.url}/cockpit`);
    await page.getByTestId("kpi-mrr").waitFor();
    const asOfText = await page.getByTestId("as-of").textContent();
    expect(asOfText).toBeTruthy();
    const tiles: [string, string][] = [
      ["mrr", "MRR"],
      ["nrr", "Net revenue retention"],
      ["customer_churn", "Customer churn rate"],
      ["trial_conversion", "Trial conversion"],
      ["active_subscriptions", "Active subscriptions"],
      ["outstanding_invoices", "Outstanding invoices"],
    ];
    for (const [key, label] of tiles) {
      await page
        .locator(`[data-kpi="${key}"]`)
        .getByRole("button", { name: `Show the list behind ${label}` })
        .click();
      await page.waitForURL(new RegExp(`kpi=${key}`));
      const panel = page.getByTestId("kpi-items");
      await panel.getByTestId("kpi-items-summary").waitFor();
      // The panel's list is the API's at the cockpit's as_of, and adds up to the tile on screen.
      const cockpit = await api("/api/metrics/cockpit");
      const list = await api(
        `/api/metrics/cockpit/items?kpi=${key}&as_of=${encodeURIComponent(cockpit.as_of)}&limit=200`,
      );
      const shown = await panel.locator("tbody tr").count();
      expect(shown, key).toBe(Math.min(25, list.total_items));
      const tileValue = Number(await page.getByTestId(`kpi-${key}`).getAttribute("data-value"));
      // Exact sums (money strings carry up to 9 decimals): the rows add up to the summary of the
      // same computation exactly, and to the tile on screen (a snapshot of the same instant)
      // within what usage recorded since could move it.
      const nanos = (v: string) => {
        const [i = "0", f = ""] = v.replace("-", "").split(".");
        const n = BigInt(i) * 1_000_000_000n + BigInt(f.padEnd(9, "0").slice(0, 9));
        return v.startsWith("-") ? -n : n;
      };
      const total = (rows: Json[], f: string) =>
        rows.reduce((s: bigint, r: Json) => s + nanos(r[f]), 0n);
      const near = (a: bigint, b: number) =>
        expect(Math.abs(Number(a) / 1e9 - b), key).toBeLessThanOrEqual(
          Math.max(0.01, Math.abs(b) * 0.001),
        );
      if (key === "mrr") {
        expect(total(list.data, "mrr")).toBe(nanos(list.summary.mrr));
        near(total(list.data, "mrr"), tileValue);
      }
      if (key === "outstanding_invoices") {
        expect(total(list.data, "total")).toBe(nanos(list.summary.total));
        expect(list.summary.total).toBe(cockpit.outstanding_invoices.total);
      }
      if (key === "active_subscriptions")
        expect(list.data.filter((r: Json) => r.counted).length).toBe(tileValue);
      if (key === "customer_churn") expect(list.total_items).toBe(cockpit.customer_churn.churned);
      if (key === "trial_conversion") expect(list.total_items).toBe(cockpit.trial_conversion.ended);
      if (key === "nrr") {
        expect(list.total_items).toBe(cockpit.nrr.cohort_customers);
        expect(total(list.data, "start_mrr")).toBe(nanos(list.summary.starting_mrr));
        near(total(list.data, "start_mrr"), Number(cockpit.nrr.starting_mrr));
      }
      if (key === "outstanding_invoices") await screenshot(page, "cockpit-drilldown");
    }
    // The tile names its parts, which are the donut's slices.
    const cockpit = await api("/api/metrics/cockpit");
    const a = cockpit.active_subscriptions;
    expect(await page.getByTestId("kpi-active_subscriptions-equation").textContent()).toBe(
      `= ${a.active.toLocaleString("en-US")} active + ${a.past_due.toLocaleString("en-US")} past due`,
    );
    expect(cockpit.health.slices.active).toBe(a.active);
    expect(cockpit.health.slices.past_due).toBe(a.past_due);
    await page.getByTestId("kpi-items").getByRole("button", { name: "Close" }).click();
    await page.waitForURL((u) => !u.search.includes("kpi="));
  });

  it("no console errors on these pages", () => {
    expect(browser.errors).toEqual([]);
  });
});
