// The Reports section (issue 15 item 7) in a real browser on a seeded stack: build a report of
// revenue by customer by day in the builder, see its rows and totals equal the API's answer to
// the same query, change a dimension and see the address follow, reload and get the same
// report, save it and find it on /reports, schedule it (a bad cron refused with croner's words;
// the next three runs in the schedule's zone), share it and open the link in a fresh browser
// that never signed in, then revoke it and see the link die; download its CSV (header and rows
// as the API's), and a custom range ending before it starts refused with the API's words beside
// the range. A viewer finds saving, scheduling and sharing disabled, saying why. Screenshots:
// reports-builder.png, reports-gallery.png, reports-schedule.png, report-shared.png,
// reports-heatmap.png. The first block checks lib/reports.ts alone.

import { readFileSync } from "node:fs";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ReportQuery } from "../../contracts/reports";
import {
  builderSearch,
  controlOf,
  DEFAULT_STATE,
  decodeQuery,
  encodeQuery,
  hourOfWeek,
  parseBuilder,
  rangeDays,
  startOfDay,
  stateOf,
  toQuery,
} from "../../pages/src/lib/reports";
import { request } from "../../scripts/lib/stack.mjs";
import { type Browser, launchBrowser, screenshot, signedInPage } from "./browser";
import { type Stack, startSeededStack } from "./stack";

describe("lib/reports (no browser)", () => {
  it("round-trips the builder's state through the URL, dropping what is malformed", () => {
    const s = {
      ...DEFAULT_STATE,
      measures: ["revenue", "units"],
      dimensions: ["customer", "time"],
      filters: [{ dimension: "customer", op: "is" as const, values: ["acme, inc", "b~c"] }],
      range: "custom" as const,
      from: "2026-11-01",
      to: "2026-11-30",
      granularity: "day" as const,
      tz: "Europe/Madrid",
      order: [{ field: "revenue", direction: "desc" as const }],
      limit: 50,
      view: "stacked_bar" as const,
    };
    const search = builderSearch(s);
    expect(parseBuilder(search)).toEqual(s);
    // An event property as a dimension, a filter and an order; a comparison with "" kept.
    const events = {
      ...s,
      dataset: "events" as const,
      dimensions: ["customer", "properties.session_id"],
      filters: [{ dimension: "properties.session_id", op: "gt" as const, values: [""] }],
      order: [{ field: "properties.session_id", direction: "asc" as const }],
    };
    expect(parseBuilder(builderSearch(events))).toEqual(events);
    // Equal states, equal addresses; defaults left out.
    expect(builderSearch(parseBuilder(search))).toBe(search);
    expect(builderSearch(DEFAULT_STATE)).toBe("?dataset=usage");
    const bad = parseBuilder(
      "?dataset=nope&m=Revenue,units&range=5y&from=2026-02-30&g=year&limit=-3&view=pie&f=x~like~1",
    );
    expect(bad).toMatchObject({
      dataset: "usage",
      measures: ["units"],
      range: "30d",
      from: null,
      granularity: null,
      limit: null,
      view: "table",
      filters: [],
    });
  });

  it("resolves ranges to the query zone's midnights, across a DST change", () => {
    const now = Date.parse("2026-03-30T10:00:00Z");
    expect(rangeDays({ ...DEFAULT_STATE, range: "7d" }, "UTC", now)).toEqual({
      from: "2026-03-24",
      to: "2026-03-30",
    });
    expect(rangeDays({ ...DEFAULT_STATE, range: "last_month" }, "UTC", now)).toEqual({
      from: "2026-02-01",
      to: "2026-02-28",
    });
    // Madrid: +01:00 before 29 March 2026, +02:00 after.
    expect(new Date(startOfDay("2026-03-28", "Europe/Madrid")).toISOString()).toBe(
      "2026-03-27T23:00:00.000Z",
    );
    expect(new Date(startOfDay("2026-03-30", "Europe/Madrid")).toISOString()).toBe(
      "2026-03-29T22:00:00.000Z",
    );
    // 23:30 UTC on the 29th is already the 30th in Auckland.
    const late = Date.parse("2026-03-29T23:30:00Z");
    expect(rangeDays({ ...DEFAULT_STATE, range: "7d" }, "Pacific/Auckland", late).to).toBe(
      "2026-03-30",
    );
    const q = toQuery(
      {
        ...DEFAULT_STATE,
        measures: ["revenue"],
        range: "custom",
        from: "2026-03-28",
        to: "2026-03-29",
      },
      "Europe/Madrid",
      now,
    );
    expect(q.time).toEqual({ from: "2026-03-27T23:00:00.000Z", to: "2026-03-29T22:00:00.000Z" });
    // A saved query comes back as the same days.
    expect(stateOf(q, "table", "Europe/Madrid")).toMatchObject({
      range: "custom",
      from: "2026-03-28",
      to: "2026-03-29",
    });
  });

  it("encodes the query for the download links and sends errors to their control", () => {
    const q: ReportQuery = {
      dataset: "usage",
      measures: ["revenue"],
      dimensions: ["customer"],
      filters: [{ dimension: "customer", op: "is", values: ["café"] }],
      time: { from: "2026-11-01T00:00:00Z", to: "2026-12-01T00:00:00Z" },
    };
    const enc = encodeQuery(q);
    expect(enc).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeQuery(enc)).toEqual(q);
    expect(controlOf("dimensions.1")).toBe("dimensions");
    expect(controlOf("time")).toBe("range");
    expect(controlOf("time.to")).toBe("range");
    expect(controlOf("time.time_zone")).toBe("tz");
    expect(controlOf("filters.0.values")).toBe("filters");
    expect(controlOf("timeline")).toBe(null);
    expect(hourOfWeek(0)).toEqual({ day: 0, hour: 0 });
    expect(hourOfWeek(167)).toEqual({ day: 6, hour: 23 });
    expect(hourOfWeek("Tue 13")).toEqual({ day: 1, hour: 13 });
    expect(hourOfWeek(168)).toBe(null);
  });
});

// ---------------------------------------------------------------------------------------------

let stack: Stack;
let browser: Browser;
let page: Page;

// biome-ignore lint/suspicious/noExplicitAny: JSON answers of the API under test
type Json = any;
const api = (path: string, init: { method?: string; body?: unknown } = {}): Promise<Json> =>
  request(`${stack.url}${path}`, { token: stack.operatorToken, ...init });
const usd = (v: string | number) =>
  new Intl.NumberFormat("en-US", { style: "currency", currency: "USD" }).format(Number(v));

const result = () => page.getByTestId("report-result");
/** The query on screen, once its answer is drawn. */
async function shownQuery(p: Page = page): Promise<ReportQuery> {
  await p.locator('[data-testid="report-result"][data-state="ready"]').waitFor();
  return decodeQuery(
    (await p.getByTestId("report-result").getAttribute("data-query")) ?? "",
  ) as ReportQuery;
}
const headers = (p: Page = page) =>
  p.locator('[data-testid="report-table"] thead th').allTextContents();
const rowCount = (p: Page = page) => p.locator('[data-testid="report-table"] tbody tr').count();
const check = async (kind: "measure" | "dimension", name: string, on: boolean) => {
  const box = page.locator(`input[name="${kind}"][value="${name}"]`);
  if ((await box.isChecked()) !== on) await box.click();
};

describe("Reports", () => {
  beforeAll(async () => {
    stack = await startSeededStack((line) => console.log(`[reports browser tests] ${line}`));
    browser = await launchBrowser();
    page = await signedInPage(browser, stack.url, stack.operatorToken);
  }, 600_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  let savedId = "";

  it("builds revenue by customer by day: the table and totals are the API's answer", async () => {
    await page
      .getByRole("navigation", { name: "Main" })
      .getByRole("link", { name: "Reports" })
      .click();
    await page.getByRole("heading", { name: "Reports", level: 1 }).waitFor();
    await page.getByRole("link", { name: "New report" }).click();
    await page.waitForURL(/\/reports\/new\?dataset=usage/);
    await page.getByLabel("Dataset").selectOption("usage");
    await page.locator('input[name="measure"]').first().waitFor();
    // Revenue on before the others go off: the builder keeps at least one measure.
    await check("measure", "revenue", true);
    for (const m of await page
      .locator('input[name="measure"]')
      .evaluateAll((els) => els.map((e) => (e as unknown as { value: string }).value))) {
      if (m !== "revenue") await check("measure", m, false);
    }
    await check("dimension", "customer", true);
    await check("dimension", "time", true);
    await page.getByLabel("Granularity").selectOption("day");
    await page.waitForURL(
      (u) => u.searchParams.get("m") === "revenue" && u.searchParams.get("g") === "day",
    );
    expect(new URL(page.url()).searchParams.get("d")?.split(",").sort()).toEqual([
      "customer",
      "time",
    ]);

    const q = await shownQuery();
    expect(q).toMatchObject({
      dataset: "usage",
      measures: ["revenue"],
      time: { granularity: "day" },
    });
    const answer = await api("/api/reports/run", { method: "POST", body: q });
    expect(answer.rows.length).toBeGreaterThan(0);
    expect(await rowCount()).toBe(answer.rows.length);
    expect(await headers()).toEqual(answer.columns.map((c: Json) => c.label));
    const total = page.locator('[data-testid="report-table"] tfoot [data-total="revenue"]');
    expect(await total.textContent()).toBe(usd(answer.totals.revenue));
    // The first row's revenue, as the API has it.
    const first = page.locator('[data-testid="report-table"] tbody tr').first();
    expect(await first.locator('[data-field="revenue"]').textContent()).toBe(
      usd(answer.rows[0].revenue),
    );
    expect(await page.getByTestId("data-as-of").textContent()).toMatch(/^Data as of /);
    expect(await page.getByTestId("report-truncated").count()).toBe(answer.truncated ? 1 : 0);
  });

  it("follows a dimension change in the address, and a reload shows the same report", async () => {
    await check("dimension", "customer", false);
    await check("dimension", "product", true);
    await page.waitForURL((u) => u.searchParams.get("d") === "time,product");
    const q = await shownQuery();
    expect(q.dimensions).toEqual(["time", "product"]);
    const answer = await api("/api/reports/run", { method: "POST", body: q });
    expect(await headers()).toEqual(answer.columns.map((c: Json) => c.label));
    expect(await rowCount()).toBe(answer.rows.length);

    await page.getByRole("button", { name: "Stacked bar" }).click();
    await page.waitForURL(/view=stacked_bar/);
    await page.getByTestId("report-chart").waitFor();
    const before = page.url();
    const rowsBefore = await page.locator('[data-testid="report-table"] tbody').textContent();
    await page.reload();
    expect(page.url()).toBe(before);
    expect(await shownQuery()).toEqual(q);
    await page.getByTestId("report-chart").waitFor();
    expect(await page.locator('input[name="dimension"][value="product"]').isChecked()).toBe(true);
    expect(await page.locator('[data-testid="report-table"] tbody').textContent()).toBe(rowsBefore);
    await page.waitForTimeout(300); // the chart draws after its chunk loads
    await screenshot(page, "reports-builder");
  });

  it("saves the report and finds it on /reports", async () => {
    await page.getByRole("button", { name: "Save report" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByLabel("Name").fill("Revenue by product by day");
    await dialog.getByLabel("Description").fill("Daily revenue split by product, last 30 days");
    await dialog.getByRole("button", { name: "Save", exact: true }).click();
    await page.waitForURL(/\/reports\/(?!new)[^/?]+\?/);
    savedId = decodeURIComponent(new URL(page.url()).pathname.split("/")[2] ?? "");
    await page.getByRole("heading", { name: "Revenue by product by day", level: 1 }).waitFor();
    const saved = await api(`/api/reports/${savedId}`);
    expect(saved).toMatchObject({
      name: "Revenue by product by day",
      view: "stacked_bar",
      template: null,
      query: { dataset: "usage", measures: ["revenue"], dimensions: ["time", "product"] },
    });

    await page.getByRole("link", { name: "Reports", exact: true }).first().click();
    const card = page.locator(`[data-testid="report-gallery"] [data-report="${savedId}"]`);
    await card.waitFor();
    expect(await card.textContent()).toContain("Daily revenue split by product");
    expect(await card.textContent()).toContain("usage");
    await screenshot(page, "reports-gallery");
    await card.getByRole("link", { name: "Revenue by product by day" }).click();
    await page.waitForURL(new RegExp(`/reports/${savedId}$`));
    // The saved query, opened without anything in the address.
    const q = await shownQuery();
    expect(q.dimensions).toEqual(["time", "product"]);
    expect(q.time).toMatchObject({ from: saved.query.time.from, to: saved.query.time.to });
  });

  it("schedules the saved report: its next three runs in the schedule's zone", async () => {
    const channel = await api("/api/channels", {
      method: "POST",
      body: { type: "webhook", name: "Finance hook", url: "https://example.com/hooks/finance" },
    });
    await page.getByTestId("report-schedule").click();
    const dialog = page.getByRole("dialog");
    await dialog.getByText("Not scheduled yet.").waitFor();
    await dialog.locator('select[name="schedule-channel"]').selectOption(channel.id);

    // A pattern croner cannot read: refused with its words, nothing saved.
    await dialog.locator('input[name="schedule-cron"]').fill("61 8 * * 1");
    await dialog.getByRole("button", { name: "Add schedule" }).click();
    expect(await dialog.getByRole("alert").textContent()).toContain(
      "cron: CronPattern: Invalid value for minute: 61",
    );
    expect((await api(`/api/reports/${savedId}/schedules`)).data).toEqual([]);

    await dialog.locator('input[name="schedule-cron"]').fill("30 8 * * 1");
    await dialog.locator('input[name="schedule-zone"]').fill("America/New_York");
    await dialog.locator('select[name="schedule-range"]').selectOption("last_week");
    await dialog.getByRole("button", { name: "Add schedule" }).click();
    const item = dialog.getByTestId("schedule-item");
    await item.waitFor();
    const [listed] = (await api(`/api/reports/${savedId}/schedules`)).data;
    expect(listed).toMatchObject({
      cron: "30 8 * * 1",
      time_zone: "America/New_York",
      range: "last_week",
      destination: { channel: channel.id, type: "webhook", name: "Finance hook" },
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

  it("shares it: the link opens in a fresh browser without signing in, until revoked", async () => {
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
    const [listed] = (await api(`/api/reports/${savedId}/shares`)).data;
    expect(listed).toMatchObject({ url, status: "active" });
    const days = (Date.parse(listed.expires_at) - Date.now()) / 86_400_000;
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
        "Revenue by product by day",
      );
      expect(await anon.getByTestId("shared-by").textContent()).toMatch(
        /^Shared by .+ · expires .+/,
      );
      // The rows a run of the saved query gives, and nothing of the workspace around them.
      const saved = await api(`/api/reports/${savedId}`);
      const run = await api("/api/reports/run", { method: "POST", body: saved.query });
      expect(run.rows.length).toBeGreaterThan(0);
      const bodyRows = shared.locator("table tbody tr");
      await bodyRows.first().waitFor();
      expect(await bodyRows.count()).toBe(run.rows.length);
      expect(await bodyRows.first().textContent()).toContain(String(run.rows[0].product));
      expect(await anon.getByRole("navigation", { name: "Main" }).count()).toBe(0);
      await anon.waitForTimeout(300); // the chart draws after its chunk loads
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

  it("downloads the CSV of the report on screen: the API's header and rows", async () => {
    const q = await shownQuery();
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: "Download CSV" }).click(),
    ]);
    const file = await download.path();
    const text = readFileSync(file, "utf8").replace(/^\uFEFF/, "");
    const lines = text.split(/\r?\n/).filter((l) => l !== "");
    const res = await fetch(`${stack.url}/api/reports/run.csv?q=${encodeQuery(q)}`, {
      headers: { authorization: `Bearer ${stack.operatorToken}` },
    });
    expect(res.status).toBe(200);
    const apiLines = (await res.text())
      .replace(/^\uFEFF/, "")
      .split(/\r?\n/)
      .filter((l) => l !== "");
    expect(lines[0]).toBe(apiLines[0]);
    const answer = await api("/api/reports/run", { method: "POST", body: q });
    expect(lines.length - 1).toBe(answer.rows.length);
    expect(lines).toEqual(apiLines);
  });

  it("shows the API's message beside the range for a custom range ending before it starts", async () => {
    await page.goto(`${stack.url}/reports/new?dataset=usage&m=revenue&d=customer`);
    await shownQuery();
    await page.getByLabel("Time range").selectOption("custom");
    await page.getByLabel("From", { exact: true }).fill("2026-11-20");
    await page.getByLabel("To", { exact: true }).fill("2026-11-10");
    await page.waitForURL(/from=2026-11-20&to=2026-11-10/);
    const err = page.getByTestId("err-range");
    await err.waitFor();
    const bad = await request(`${stack.url}/api/reports/run`, {
      method: "POST",
      token: stack.operatorToken,
      body: decodeQuery((await result().getAttribute("data-query")) ?? ""),
    }).then(
      () => null,
      (e: { status: number; body: Json }) => e,
    );
    expect(bad?.status).toBeGreaterThanOrEqual(400);
    const messages = (bad?.body.errors ?? [])
      .filter((e: Json) => controlOf(e.path) === "range")
      .map((e: Json) => e.message);
    expect(messages.length).toBeGreaterThan(0);
    expect(await err.textContent()).toBe(messages.join("; "));
    expect(await page.getByLabel("From", { exact: true }).getAttribute("aria-invalid")).toBe(
      "true",
    );
    expect(await page.locator('[data-testid="report-table"]').count()).toBe(0);
    // Fixed, the report comes back.
    await page.getByLabel("To", { exact: true }).fill("2026-11-25");
    await shownQuery();
    expect(await err.count()).toBe(0);
  });

  it("cuts raw events by an event property typed in as a dimension", async () => {
    await page.goto(`${stack.url}/reports/new?dataset=events&m=cogs,events&range=7d`);
    await page.locator('input[name="measure"]').first().waitFor();
    await check("dimension", "customer", true);
    const key = page.locator('input[name="dimension-key"]');
    const add = page.getByRole("button", { name: "Add event property" });
    // A key the catalog's pattern refuses cannot be added.
    await key.fill("session id");
    expect(await add.isDisabled()).toBe(true);
    await key.fill("session_id");
    await add.click();
    await page.waitForURL((u) =>
      (u.searchParams.get("d") ?? "").split(",").includes("properties.session_id"),
    );
    const q = await shownQuery();
    expect(q).toMatchObject({
      dataset: "events",
      dimensions: ["customer", "properties.session_id"],
    });
    const answer = await api("/api/reports/run", { method: "POST", body: q });
    expect(await rowCount()).toBe(answer.rows.length);
    expect(await headers()).toEqual(answer.columns.map((c: Json) => c.label));
    // The seed's agent customers send sessions in detail.
    expect(answer.rows.some((r: Json) => r["properties.session_id"] !== null)).toBe(true);
    await screenshot(page, "reports-events-property");
    // The chosen property is a chip like the others: unchecked, it leaves the query.
    await check("dimension", "properties.session_id", false);
    await page.waitForURL(
      (u) => !(u.searchParams.get("d") ?? "").split(",").includes("properties.session_id"),
    );
  });

  it("draws usage by hour of week as a 7 × 24 heatmap with readable numbers", async () => {
    await page.goto(
      `${stack.url}/reports/new?dataset=usage&m=revenue&d=hour_of_week&range=90d&view=heatmap`,
    );
    const q = await shownQuery();
    const heat = page.getByTestId("report-heatmap");
    await heat.waitFor();
    expect(await heat.locator("tbody tr").count()).toBe(7);
    expect(await heat.locator("tbody tr").first().locator("td").count()).toBe(24);
    const answer = await api("/api/reports/run", { method: "POST", body: q });
    const cells = await heat
      .locator("td")
      .evaluateAll((tds) => tds.map((td) => Number(td.getAttribute("data-value"))));
    const sum = cells.reduce((a, b) => a + b, 0);
    expect(sum).toBeCloseTo(Number(answer.totals.revenue), 2);
    const hot = heat.locator("td[title]").first();
    expect(await hot.getAttribute("title")).toMatch(/^Mon, hour 00: \$/);
    await screenshot(page, "reports-heatmap");
  });

  it("is read-only for a viewer, saying why, and a saved report is deleted after a confirmation", async () => {
    const viewer = await api("/api/keys", {
      method: "POST",
      body: { kind: "operator", role: "viewer", name: "reports viewer" },
    });
    const other = await browser.newPage();
    await other.goto(`${stack.url}/reports/${savedId}#token=${viewer.key}`);
    await shownQuery(other);
    expect(await other.getByRole("button", { name: "Save changes" }).isDisabled()).toBe(true);
    expect(await other.getByRole("button", { name: "Delete" }).isDisabled()).toBe(true);
    expect(await other.getByTestId("refused").textContent()).toContain("Your role (viewer)");
    for (const control of ["report-schedule", "report-share"]) {
      const button = other.getByTestId(control);
      expect(await button.isDisabled()).toBe(true);
      expect(await button.getAttribute("title")).toContain("Your role (viewer)");
    }
    await other.close();

    await page.goto(`${stack.url}/reports/${savedId}`);
    await shownQuery();
    await page.getByRole("button", { name: "Delete" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Delete report" }).click();
    await page.waitForURL(/\/reports$/);
    await page.getByText("No saved reports yet").waitFor();
    const gone = await api(`/api/reports/${savedId}`).then(
      () => 200,
      (e: { status: number }) => e.status,
    );
    expect(gone).toBe(404);
    expect(browser.errors.filter((e) => !/status of (400|422)/.test(e))).toEqual([]);
  });
});
