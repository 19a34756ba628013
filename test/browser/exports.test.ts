// The Exports page (issue 16 item 6) in a real browser against a real `wrangler dev`, with a
// real HTTP receiver in this process standing in for a customer's warehouse loader: a webhook
// destination is added (the API's refusal of a private address shown beside the URL, then the
// signing secret once) and tested (the receiver's answer shown, its signature verified with the
// standardwebhooks package); an on-demand export of the hourly rollups to R2 succeeds with the
// rows GET /api/rollups has for the window, and its file downloads as Parquet (PAR1); a window
// ending before it starts is refused beside `from`; the same rollups go to the webhook as
// NDJSON batches, delivered once each and verified; a schedule is refused a bad cron beside the
// field, then added, paused and deleted; an S3 bucket (the SigV4-checking stand-in,
// test/s3-server/server.ts) is added with a private endpoint refused first, tested, exported to
// and its file downloaded, its secret never shown; the archive section renders for its range;
// disabling and deleting (after a confirmation) work; a viewer sees it all and is offered no
// control. Screenshots: exports.png, exports-run.png, exports-webhook-run.png, exports-s3.png,
// exports-viewer.png.

import { readFileSync } from "node:fs";
import type { Page } from "playwright-core";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "../../scripts/lib/stack.mjs";
import { S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY } from "../s3-server/credentials";
import { type S3Stub, startS3Bucket } from "../s3-server/server";
import { type Browser, launchBrowser, screenshot } from "./browser";
import { type Received, type Receiver, startReceiver } from "./receiver";
import { startBareStack, until } from "./stack";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const TODAY = Math.floor(Date.now() / DAY) * DAY;
const day = (t: number) => new Date(t).toISOString().slice(0, 10);
/** The export window: the last three whole UTC days. */
const FROM = day(TODAY - 3 * DAY);
const TO = day(TODAY);
const CUSTOMERS = ["acme", "globex"];

let receiver: Receiver;
let bucket: S3Stub;
let stack: Awaited<ReturnType<typeof startBareStack>>;
let browser: Browser;
let page: Page;
const t0 = Date.now();

// biome-ignore lint/suspicious/noExplicitAny: JSON answers of the API under test
const api = (path: string, init: { method?: string; body?: unknown } = {}): Promise<any> =>
  request(`${stack.url}${path}`, { token: stack.keys.operator_token, ...init });

const rollupsPath = (granularity: "hour" | "day") =>
  `/api/rollups?granularity=${granularity}&group_by=customer,product,metric&from=${FROM}T00:00:00Z&to=${TO}T00:00:00Z`;

/** A product, a plan, two customers on it and a few hours of usage on each of the window's
 * days (and one event today, outside it), through the real API, until the rollups count it. */
async function seed() {
  await api("/api/products", { method: "POST", body: { id: "chat-api", name: "Chat API" } });
  for (const id of ["input_tokens", "output_tokens"]) {
    await api("/api/products/chat-api/metrics", {
      method: "POST",
      body: { id, unit: "token", aggregation: "sum" },
    });
  }
  await api("/api/plans", {
    method: "POST",
    body: {
      id: "chat-pro",
      product: "chat-api",
      name: "Chat Pro",
      currency: "USD",
      period: "month",
      components: [
        { type: "per_unit", metric: "input_tokens", unit_price: "0.00001" },
        { type: "per_unit", metric: "output_tokens", unit_price: "0.00003" },
      ],
    },
  });
  const events: unknown[] = [];
  for (const id of CUSTOMERS) {
    await api("/api/customers", { method: "POST", body: { id, name: `${id} Inc` } });
    await api("/api/subscriptions", {
      method: "POST",
      body: { customer: id, plan: "chat-pro", start: new Date(TODAY - 40 * DAY).toISOString() },
    });
    for (let d = 3; d >= 0; d--) {
      for (const h of [2, 9, 17]) {
        for (const metric of ["input_tokens", "output_tokens"]) {
          events.push({
            id: `evt_${id}_${d}_${h}_${metric}`,
            customer: id,
            product: "chat-api",
            metric,
            quantity: 1000 + d * 100 + h,
            time: new Date(TODAY - d * DAY + h * HOUR + 60_000).toISOString(),
          });
        }
      }
    }
  }
  // Today's events only before now (an event in the future is refused).
  const sent = events.filter((e) => Date.parse((e as { time: string }).time) < Date.now());
  const res = await fetch(`${stack.url}/v1/events`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${stack.keys.ingest_key}`,
      "content-type": "application/json",
    },
    body: JSON.stringify(sent),
  });
  const out = (await res.json()) as { accepted: number; rejected: unknown[] };
  if (out.rejected.length || out.accepted !== sent.length) {
    throw new Error(`events: ${JSON.stringify(out)}`);
  }
  const inWindow = 2 * 3 * 3 * 2;
  const rolled = await until(
    async () => (await api(rollupsPath("hour"))).data.length as number,
    (n) => n >= inWindow,
    60_000,
  );
  if (rolled < inWindow) throw new Error(`rollups hold ${rolled} of ${inWindow} rows`);
}

beforeAll(async () => {
  receiver = await startReceiver("/warehouse/aforo");
  bucket = await startS3Bucket();
  stack = await startBareStack("exports");
  await seed();
  browser = await launchBrowser();
  page = await browser.newPage();
  console.log(`exports: stack seeded in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  await receiver?.close();
  await bucket?.close();
  console.log(`exports: ${((Date.now() - t0) / 1000).toFixed(1)} s in all`);
});

const destination = (name: string) => page.locator("[data-destination]").filter({ hasText: name });

/** Fills the "Export now" form and runs it; resolves with the run's id once its detail is open. */
async function exportNow(o: { dataset: string; destination: string; format?: string }) {
  const form = page.locator("form").filter({ has: page.locator("#export-now-title") });
  await form.getByLabel("Dataset").selectOption(o.dataset);
  await form.getByLabel("Destination").selectOption({ label: o.destination });
  if (o.format) await form.getByLabel("Format").selectOption(o.format);
  await form.getByLabel("From (UTC day)").fill(FROM);
  await form.getByLabel("To (UTC day, exclusive)").fill(TO);
  const before = new URL(page.url()).searchParams.get("run");
  await form.getByRole("button", { name: "Run export" }).click();
  // The new run's detail replaces the one open before (the address names it).
  await page.waitForURL((u) => {
    const run = u.searchParams.get("run");
    return run !== null && run !== before;
  });
  const run = new URL(page.url()).searchParams.get("run") ?? "";
  await page.locator(`[data-testid="run-detail"][data-run="${run}"]`).waitFor();
  return run;
}

describe("Exports", () => {
  let secret = "";

  it("is in the navigation beside Reports and opens with nothing exported yet", async () => {
    await page.goto(`${stack.url}/reports#token=${stack.keys.operator_token}`);
    const nav = page.getByRole("navigation", { name: "Main" });
    // allTextContents does not wait: wait for the drawn navigation first.
    await nav.getByRole("link", { name: "Exports", exact: true }).waitFor();
    const labels = await nav.getByRole("link").allTextContents();
    expect(labels.indexOf("Exports")).toBe(labels.indexOf("Reports") + 1);
    await nav.getByRole("link", { name: "Exports" }).click();
    await page.getByRole("heading", { name: "Exports", level: 1 }).waitFor();
    await page.getByText("No destination yet").waitFor();
    await page.getByText("No export has run yet").waitFor();
    await page.getByText("Nothing scheduled").waitFor();
  });

  it("adds a webhook: a private address refused beside the URL, then the secret once", async () => {
    const form = page.locator("form").filter({ has: page.locator("#add-destination-title") });
    await form.getByLabel("Name").fill("Warehouse loader");
    await form.getByLabel("Endpoint URL").fill("http://10.1.2.3/hook");
    await form.getByRole("button", { name: "Add destination" }).click();
    const urlError = page.locator("#err-destination-url");
    await urlError.waitFor();
    expect(await urlError.textContent()).toMatch(/private|not allowed|refused|loopback/i);
    expect(await form.getByLabel("Endpoint URL").getAttribute("aria-invalid")).toBe("true");

    await form.getByLabel("Endpoint URL").fill(receiver.url);
    await form.getByRole("button", { name: "Add destination" }).click();
    const shown = page.getByTestId("secret-value");
    await shown.waitFor();
    secret = (await shown.textContent()) ?? "";
    expect(secret).toMatch(/^whsec_/);
    await destination("Warehouse loader").waitFor();
    expect(JSON.stringify(await api("/api/exports/destinations"))).not.toContain(secret);
    await page.getByRole("button", { name: "Done" }).click();
    expect(await page.getByTestId("secret-value").count()).toBe(0);
  });

  it("tests the webhook: the receiver's real answer, signed with the secret shown", async () => {
    const card = destination("Warehouse loader");
    await card.getByRole("button", { name: "Test" }).click();
    const result = card.getByTestId("destination-test");
    await result.waitFor();
    expect(await result.getAttribute("data-ok")).toBe("true");
    expect(await result.textContent()).toContain("HTTP 200");
    expect(receiver.received).toHaveLength(1);
    const probe = receiver.received[0] as Received;
    const verified = new Webhook(secret).verify(probe.body, probe.headers) as { type: string };
    expect(verified.type).toBe("aforo.test");
    // The outcome is recorded on the destination too.
    await until(
      () => card.textContent(),
      (t) => (t ?? "").includes("last test"),
    );
  });

  it("runs the hourly rollups to R2: succeeded, the rollups' row count, a Parquet download", async () => {
    const expected = (await api(rollupsPath("hour"))).data.length as number;
    await exportNow({ dataset: "rollups_hourly", destination: "Aforo R2 (your prefix)" });
    const detail = page.getByTestId("run-detail");
    await detail.getByTestId("run-detail-status").filter({ hasText: "succeeded" }).waitFor();
    expect(await detail.getByTestId("run-detail-rows").textContent()).toBe(String(expected));
    const row = page.getByTestId("export-runs").locator("[data-run]").first();
    expect(await row.getByTestId("run-status").textContent()).toBe("succeeded");
    expect(await row.getByTestId("run-rows").textContent()).toBe(String(expected));
    expect(await row.textContent()).toContain(`${FROM} → ${TO} UTC`);
    expect(new URL(page.url()).searchParams.get("run")).toBe(await row.getAttribute("data-run"));

    const files = detail.getByTestId("run-files").locator("tbody tr");
    expect(await files.count()).toBe(3); // one per UTC day of the window
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      files.first().getByRole("link").click(),
    ]);
    const bytes = readFileSync((await download.path()) ?? "");
    expect(bytes.subarray(0, 4).toString("latin1")).toBe("PAR1");
    expect(bytes.subarray(-4).toString("latin1")).toBe("PAR1");
    expect(download.suggestedFilename()).toMatch(/\.parquet$/);
    await screenshot(page, "exports-run");
  });

  it("refuses a window that ends before it starts, beside `from`", async () => {
    const form = page.locator("form").filter({ has: page.locator("#export-now-title") });
    await form.getByLabel("From (UTC day)").fill(TO);
    await form.getByLabel("To (UTC day, exclusive)").fill(FROM);
    await form.getByRole("button", { name: "Run export" }).click();
    const error = page.locator("#err-export-from");
    await error.waitFor();
    expect(await error.textContent()).toContain("must be before to");
  });

  it("sends the daily rollups to the webhook as NDJSON batches, each delivered once and signed", async () => {
    const before = receiver.received.length;
    const run = await exportNow({
      dataset: "rollups_daily",
      destination: "Warehouse loader (webhook)",
    });
    const detail = page.getByTestId("run-detail");
    // Delivering until every batch is delivered; the detail looks again by itself.
    await detail
      .getByTestId("run-detail-status")
      .filter({ hasText: "succeeded" })
      .waitFor({ timeout: 30_000 });
    const batches = detail.getByTestId("run-batches").locator("tbody tr");
    expect(await batches.count()).toBeGreaterThan(0);
    for (const s of await detail.getByTestId("batch-status").allTextContents()) {
      expect(s).toBe("delivered");
    }
    const sent = receiver.received.slice(before);
    expect(sent).toHaveLength(await batches.count());
    const rows = sent.flatMap((r) => {
      // NDJSON is not one JSON document: the signature is checked, the body not parsed.
      new Webhook(secret).verify(r.body, r.headers, { jsonParse: false });
      return r.body.trim().split("\n");
    });
    const daily = (await api(rollupsPath("day"))).data.length as number;
    expect(rows).toHaveLength(daily);
    expect(await detail.getByTestId("run-detail-rows").textContent()).toBe(String(daily));
    expect((await api(`/api/exports/runs/${run}`)).status).toBe("succeeded");
    // The history follows the detail from delivering to succeeded.
    const row = page.getByTestId("export-runs").locator(`[data-run="${run}"]`);
    await row.getByTestId("run-status").filter({ hasText: "succeeded" }).waitFor();
    await screenshot(page, "exports-webhook-run");
  });

  it("adds an S3 bucket: a private endpoint refused beside it, then tested, exported to and downloaded", async () => {
    const form = page.locator("form").filter({ has: page.locator("#add-destination-title") });
    await form.getByRole("button", { name: "S3 bucket" }).click();
    await form.getByLabel("Name").fill("Own bucket");
    await form.getByLabel("Endpoint", { exact: true }).fill("https://169.254.169.254");
    await form.getByLabel("Bucket", { exact: true }).fill("browser-bucket");
    await form.getByLabel("Key prefix (optional)").fill("aforo");
    await form.getByLabel("Access key id").fill(S3_ACCESS_KEY_ID);
    await form.getByLabel("Secret access key").fill(S3_SECRET_ACCESS_KEY);
    await form.getByRole("button", { name: "Add destination" }).click();
    const endpointError = page.locator("#err-destination-endpoint");
    await endpointError.waitFor();
    expect(await endpointError.textContent()).toContain("metadata");

    await form.getByLabel("Endpoint", { exact: true }).fill(bucket.url);
    await form.getByRole("button", { name: "Add destination" }).click();
    const card = destination("Own bucket");
    await card.waitFor();
    expect(await card.textContent()).toContain(`${bucket.url}/browser-bucket/aforo/`);
    expect(await card.textContent()).toContain(`…${S3_ACCESS_KEY_ID.slice(-4)}`);
    // Write-only: no answer and no page shows the secret.
    expect(JSON.stringify(await api("/api/exports/destinations"))).not.toContain(
      S3_SECRET_ACCESS_KEY,
    );
    expect(await page.content()).not.toContain(S3_SECRET_ACCESS_KEY);

    await card.getByRole("button", { name: "Test" }).click();
    const result = card.getByTestId("destination-test");
    await result.waitFor();
    expect(await result.getAttribute("data-ok")).toBe("true");

    const expected = (await api(rollupsPath("hour"))).data.length as number;
    const run = await exportNow({
      dataset: "rollups_hourly",
      destination: "Own bucket (S3 bucket)",
    });
    const detail = page.getByTestId("run-detail");
    await detail.getByTestId("run-detail-status").filter({ hasText: "succeeded" }).waitFor();
    expect(await detail.getByTestId("run-detail-rows").textContent()).toBe(String(expected));
    const files = detail.getByTestId("run-files").locator("tbody tr");
    expect(await files.count()).toBe(3);
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      files.first().getByRole("link").click(),
    ]);
    const bytes = readFileSync((await download.path()) ?? "");
    expect(bytes.subarray(0, 4).toString("latin1")).toBe("PAR1");
    // The bucket holds the run's files, signed and checked on the way in.
    const stored = (await (
      await fetch(`${bucket.url}/_control/objects?bucket=browser-bucket`)
    ).json()) as { key: string; sha256: string }[];
    const listed = (await api(`/api/exports/runs/${run}`)).file_list as {
      key: string;
      sha256: string;
    }[];
    expect(stored).toEqual(
      listed.map((f) => expect.objectContaining({ key: f.key, sha256: f.sha256 })),
    );
    await screenshot(page, "exports-s3");

    // Edit the bucket: a new prefix is where the next run writes; the key fields left empty
    // keep the stored key.
    await card.getByRole("button", { name: "Edit bucket" }).click();
    const edit = card.getByTestId("edit-s3");
    await edit.getByLabel("Key prefix (optional)").fill("aforo/v2");
    await edit.getByRole("button", { name: "Save bucket" }).click();
    await edit.waitFor({ state: "detached" });
    const location = `${bucket.url}/browser-bucket/aforo/v2/`;
    expect(
      await until(
        () => card.textContent(),
        (t) => (t ?? "").includes(location),
      ),
    ).toContain(location);
    const moved = (await api("/api/exports/destinations")).data.find(
      (d: { name: string }) => d.name === "Own bucket",
    );
    expect(moved.s3).toMatchObject({ prefix: "aforo/v2/", secret_access_key_set: true });
    await card.getByRole("button", { name: "Test" }).click();
    await card.getByTestId("destination-test").filter({ hasText: "aforo/v2/" }).waitFor();
    expect(await card.getByTestId("destination-test").getAttribute("data-ok")).toBe("true");

    // Gone again, so the steps below see the destinations they expect.
    await card.getByRole("button", { name: "Delete", exact: true }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Delete destination" }).click();
    await destination("Own bucket").waitFor({ state: "detached" });
  });

  it("schedules an export: a bad cron refused beside the field, then added, paused and deleted", async () => {
    const section = page.getByTestId("export-schedules");
    const form = section.locator("form");
    await form.getByLabel("Cron").fill("every day");
    await form.getByRole("button", { name: "Add schedule" }).click();
    await page.locator("#err-schedule-cron").waitFor();
    await form.getByLabel("Cron").fill("30 2 * * *");
    await form.getByLabel("Time zone").fill("Europe/Madrid");
    await form.getByRole("button", { name: "Add schedule" }).click();
    await section.getByTestId("schedule-notice").waitFor();
    const row = section.locator("[data-schedule]");
    await row.waitFor();
    expect(await row.textContent()).toContain("Europe/Madrid");
    // 02:30 in Madrid, as the API's next slots say.
    expect(await row.getByTestId("schedule-next").textContent()).toMatch(/02:30.*02:30.*02:30/);
    await screenshot(page, "exports");
    await row.getByRole("button", { name: "Pause" }).click();
    await row.getByText("paused").waitFor();
    await row.getByRole("button", { name: "Delete" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Delete schedule" }).click();
    await section.getByText("Nothing scheduled").waitFor();
    expect((await api("/api/exports/schedules")).data).toEqual([]);
  });

  it("shows the archive's partitions for a date range, with the API's answer", async () => {
    const section = page.getByTestId("archive-partitions");
    await section.getByLabel("From (UTC date)").fill(FROM);
    await section.getByLabel("To (UTC date)").fill(TO);
    await section.getByRole("button", { name: "Show" }).click();
    const answer = (await api(`/api/exports/archive?from=${FROM}&to=${TO}`)).data as {
      date: string;
    }[];
    if (answer.length === 0) {
      // Compaction runs on the tenant's five-minute tick: a fresh stack may have none yet.
      await section.getByText(`No compacted partition from ${FROM} to ${TO}`).waitFor();
    } else {
      await section.getByTestId("archive-table").waitFor();
      const dates = await section
        .locator("[data-date]")
        .evaluateAll((rows) => rows.map((r) => r.getAttribute("data-date")));
      expect(dates).toEqual(answer.map((p) => p.date));
    }
    // A range the API refuses is said beside its date.
    await section.getByLabel("From (UTC date)").fill(TO);
    await section.getByLabel("To (UTC date)").fill(FROM);
    await section.getByRole("button", { name: "Show" }).click();
    await page.locator("#err-archive-from").waitFor();
  });

  it("disables, enables and deletes a destination after a confirmation", async () => {
    const card = destination("Warehouse loader");
    await card.getByRole("button", { name: "Disable" }).click();
    await card.getByTestId("destination-state").filter({ hasText: "disabled" }).waitFor();
    // A disabled destination is not offered to a new export.
    const form = page.locator("form").filter({ has: page.locator("#export-now-title") });
    expect(await form.getByLabel("Destination").locator("option").allTextContents()).toEqual([
      "Aforo R2 (your prefix)",
    ]);
    await card.getByRole("button", { name: "Enable" }).click();
    await card.getByTestId("destination-state").filter({ hasText: "enabled" }).waitFor();
    await card.getByRole("button", { name: "Delete", exact: true }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByRole("button", { name: "Cancel" }).click();
    expect(await destination("Warehouse loader").count()).toBe(1);
    await card.getByRole("button", { name: "Delete", exact: true }).click();
    await dialog.getByRole("button", { name: "Delete destination" }).click();
    await page.getByText("No destination yet").waitFor();
    expect((await api("/api/exports/destinations")).data).toEqual([]);
  });

  it("is read-only for a viewer: everything shown, no control offered", async () => {
    await api("/api/exports/destinations", {
      method: "POST",
      body: { type: "r2", name: "Bucket for viewers" },
    });
    const viewer = await api("/api/keys", {
      method: "POST",
      body: { kind: "operator", role: "viewer", name: "exports viewer" },
    });
    const other = await browser.newPage();
    await other.goto(`${stack.url}/exports#token=${viewer.key}`);
    await other.getByRole("heading", { name: "Exports", level: 1 }).waitFor();
    expect(await other.getByTestId("refused").textContent()).toContain("Your role (viewer)");
    await other.locator("[data-destination]").filter({ hasText: "Bucket for viewers" }).waitFor();
    await other.getByTestId("export-runs").locator("[data-run]").first().waitFor();
    for (const name of ["Test", "Disable", "Delete", "Run export", "Add destination"]) {
      expect(await other.getByRole("button", { name, exact: true }).count()).toBe(0);
    }
    expect(await other.locator("#add-schedule-title").count()).toBe(0);
    // Details and downloads stay: reading is the viewer's.
    await other.getByRole("button", { name: "Details" }).first().click();
    await other.getByTestId("run-detail").waitFor();
    await screenshot(other, "exports-viewer");
    await other.close();
    // The refusals the tests asked for are 400s the console reports; nothing else went wrong.
    expect(browser.errors.filter((e) => !/status of 400/.test(e))).toEqual([]);
  });
});
