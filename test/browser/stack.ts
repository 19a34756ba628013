// A real stack for the browser tests: `wrangler dev` on a free port in 8820–8829 with its own
// state folder, the demo tenant, and a slice of the demo data set (the four story customers and
// a dozen ordinary ones live today, with their subscription history, usage and invoices, built
// by scripts/lib/demo-data.mjs and sent through the real API like `npm start` does), then the
// detectors closed up to now. `{full: true}` seeds the whole demo book exactly as npm start does.

import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  applyMigrations,
  type DemoTenant,
  ensureDemoTenant,
  ensureDevVars,
  request,
  startWrangler,
} from "../../scripts/lib/stack.mjs";

// demo-data.mjs carries JSDoc types but no declaration file: the part of it used here.
interface DemoSeries {
  customer: string;
}
interface Demo {
  windowStart: number;
  historyStart: number;
  customers: { id: string }[];
  subscriptions: { customer: string; end: number | null }[];
  series: DemoSeries[];
  unknown: DemoSeries;
}
interface DemoData {
  HOUR_MS: number;
  STORIES: Record<string, string>;
  buildDemo(o: { anchor: number }): Demo;
  batchesForCustomers(demo: Demo, ids: ReadonlySet<string>): Batch[];
  seedCatalog(demo: Demo, url: string, token: string): Promise<void>;
  seedBilling(o: { url: string; token: string; seed: string; now: number }): Promise<{
    invoices: number;
    paid: number;
    late: number;
    void: number;
    open: number;
  }>;
  seedChannel(url: string, token: string): Promise<boolean>;
  seedDemo(o: {
    url: string;
    operatorToken: string;
    ingestKey: string;
    persistTo: string;
    log?: (line: string) => void;
    progress?: boolean;
  }): Promise<{ anchor: string; events_total: number }>;
}
interface Batch {
  body: string;
  count: number;
  customers: string[];
}
const loadDemoData = () => import("../../scripts/lib/demo-data.mjs" as string) as Promise<DemoData>;

export const PORTS = [8820, 8821, 8822, 8823, 8824, 8825, 8826, 8827, 8828, 8829];
/** Customers besides the four stories: enough for rankings, few enough to seed in seconds. */
const ORDINARY_CUSTOMERS = 12;

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}

/** A port in 8820–8829 whose inspector port (+1000) is free too. */
export async function freePort(): Promise<number> {
  for (const p of PORTS) {
    if ((await portFree(p)) && (await portFree(p + 1000))) return p;
  }
  throw new Error("no free port in 8820–8829 (stop the wrangler dev that holds them)");
}

export interface Stack {
  url: string;
  operatorToken: string;
  ingestKey: string;
  adminToken: string;
  /** Events sent by the seeding. */
  eventsSent: number;
  customers: string[];
  anchor: number;
  /** The state folder wrangler dev persists to (local e-mails land under it). */
  persistTo: string;
  stop: () => Promise<void>;
}

export interface StackOptions {
  /** The whole demo book, exactly as `npm start` seeds it (every customer, 15 months, invoices
   * paid, the e-mail channel, detectors closed, cockpit snapshot): for end-to-end tests of the
   * demo itself. Several minutes on a busy machine. Default: the slice. */
  full?: boolean;
  /** Give the slice the demo's e-mail alert channel (the full demo always has it). */
  channel?: boolean;
}

async function sendBatch(url: string, ingestKey: string, body: string, count: number) {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(`${url}/v1/events`, {
      method: "POST",
      headers: { authorization: `Bearer ${ingestKey}`, "content-type": "application/json" },
      body,
    });
    const text = await res.text();
    if (res.status >= 500 && attempt < 4) {
      await new Promise((r) => setTimeout(r, 500 * 2 ** attempt));
      continue;
    }
    if (!res.ok) throw new Error(`POST /v1/events → ${res.status}: ${text.slice(0, 300)}`);
    const json = JSON.parse(text) as { accepted: number; duplicates: number; rejected: unknown[] };
    if (json.rejected.length || json.accepted + json.duplicates !== count) {
      throw new Error(`POST /v1/events: sent ${count}, got ${text.slice(0, 300)}`);
    }
    return;
  }
}

/** The demo data set cut to the story customers and a few ordinary ones live today, sent
 * through the API like the full seed: their subscriptions' history, their usage (hourly, then
 * the older history's aggregates) and their invoices, paid as the demo's customers pay. */
async function seedSlice(url: string, operatorToken: string, ingestKey: string, channel: boolean) {
  const {
    batchesForCustomers,
    buildDemo,
    HOUR_MS,
    STORIES,
    seedBilling,
    seedCatalog,
    seedChannel,
  } = await loadDemoData();
  const now = Date.now();
  const anchor = now - (now % HOUR_MS);
  const demo = buildDemo({ anchor });
  const keep = new Set<string>(Object.values(STORIES));
  const liveNow = new Set(demo.subscriptions.filter((s) => s.end === null).map((s) => s.customer));
  for (const c of demo.customers) {
    if (keep.size >= 4 + ORDINARY_CUSTOMERS) break;
    if (liveNow.has(c.id)) keep.add(c.id);
  }
  const slice = {
    ...demo,
    customers: demo.customers.filter((c) => keep.has(c.id)),
    subscriptions: demo.subscriptions.filter((s) => keep.has(s.customer)),
    series: demo.series.filter((s) => keep.has(s.customer)),
  };
  await seedCatalog(slice, url, operatorToken);
  // Batches hold one or a few customers in time order; a customer's batches go one at a time.
  const batches = batchesForCustomers(slice, new Set([...keep, demo.unknown.customer]));
  const busy = new Set<string>();
  const queue = [...batches];
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (;;) {
        const i = queue.findIndex((b) => b.customers.every((c) => !busy.has(c)));
        if (i < 0) {
          if (queue.length === 0) return;
          await new Promise((r) => setTimeout(r, 20));
          continue;
        }
        const [b] = queue.splice(i, 1);
        if (!b) continue;
        for (const c of b.customers) busy.add(c);
        try {
          await sendBatch(url, ingestKey, b.body, b.count);
        } finally {
          for (const c of b.customers) busy.delete(c);
        }
      }
    }),
  );
  const billing = await seedBilling({
    url,
    token: operatorToken,
    seed: "aforo-demo-v2",
    now: Date.now(),
  });
  if (channel) await seedChannel(url, operatorToken);
  return {
    anchor,
    eventsSent: batches.reduce((s, b) => s + b.count, 0),
    customers: [...keep, demo.unknown.customer],
    historyStart: demo.historyStart,
    billing,
  };
}

/** Waits until the D1 rollups count every event sent (the queue consumer has caught up). */
async function waitForRollups(url: string, token: string, from: number, events: number) {
  const deadline = Date.now() + 120_000;
  let seen = 0;
  while (Date.now() < deadline) {
    const res = (await request(
      `${url}/api/rollups?granularity=day&from=${new Date(from - 86_400_000).toISOString()}&to=${new Date(Date.now() + 86_400_000).toISOString()}`,
      { token },
    )) as { data: { events: number }[] };
    seen = res.data.reduce((s, r) => s + r.events, 0);
    if (seen >= events) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`rollups counted ${seen} of ${events} events after 120 s`);
}

export async function startSeededStack(
  log: (line: string) => void = () => {},
  options: StackOptions = {},
): Promise<Stack> {
  const persistTo = mkdtempSync(join(tmpdir(), "aforo-browser-"));
  const port = await freePort();
  const { adminToken } = ensureDevVars();
  applyMigrations(persistTo, true);
  const t0 = Date.now();
  const stack = await startWrangler({ port, persistTo, quiet: true });
  const stop = async () => {
    await stack.stop();
    rmSync(persistTo, { recursive: true, force: true });
  };
  try {
    const keys = await ensureDemoTenant(stack.url, adminToken, persistTo);
    if (options.full) {
      const { buildDemo, seedDemo, STORIES } = await loadDemoData();
      const marker = await seedDemo({
        url: stack.url,
        operatorToken: keys.operator_token,
        ingestKey: keys.ingest_key,
        persistTo,
        log,
        progress: false,
      });
      const anchor = Date.parse(marker.anchor);
      const demo = buildDemo({ anchor });
      log(`demo book seeded in ${((Date.now() - t0) / 1000).toFixed(1)} s on ${stack.url}`);
      return {
        url: stack.url,
        operatorToken: keys.operator_token,
        ingestKey: keys.ingest_key,
        adminToken,
        eventsSent: marker.events_total,
        customers: [...new Set([...Object.values(STORIES), ...demo.customers.map((c) => c.id)])],
        anchor,
        persistTo,
        stop,
      };
    }
    const seeded = await seedSlice(
      stack.url,
      keys.operator_token,
      keys.ingest_key,
      options.channel ?? false,
    );
    log(
      `seeded ${seeded.eventsSent} events and billed ${JSON.stringify(seeded.billing)} in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    );
    await waitForRollups(stack.url, keys.operator_token, seeded.historyStart, seeded.eventsSent);
    await request(`${stack.url}/api/detectors/evaluate`, {
      method: "POST",
      token: keys.operator_token,
      body: {},
    });
    // Signals reach D1 through the actors' outbox: wait for the first ones.
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const s = (await request(`${stack.url}/api/signals?limit=1`, {
        token: keys.operator_token,
      })) as { data: unknown[] };
      if (s.data.length) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    // Snapshot the cockpit and build the margin read models now, where the server has them.
    await request(`${stack.url}/api/metrics/refresh`, {
      method: "POST",
      token: keys.operator_token,
      body: {},
    }).catch(() => {});
    log(`stack ready in ${((Date.now() - t0) / 1000).toFixed(1)} s on ${stack.url}`);
    return {
      url: stack.url,
      operatorToken: keys.operator_token,
      ingestKey: keys.ingest_key,
      adminToken,
      eventsSent: seeded.eventsSent,
      customers: seeded.customers,
      anchor: seeded.anchor,
      persistTo,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** A stack with the demo tenant's keys and no data (each test file seeds what it needs), in a
 * state folder of its own that `stop` removes. */
export async function startBareStack(
  name: string,
): Promise<{ url: string; keys: DemoTenant; stop: () => Promise<void> }> {
  const persistTo = mkdtempSync(join(tmpdir(), `aforo-${name}-`));
  const { adminToken } = ensureDevVars();
  applyMigrations(persistTo, true);
  const stack = await startWrangler({ port: await freePort(), persistTo, quiet: true });
  const stop = async () => {
    await stack.stop();
    rmSync(persistTo, { recursive: true, force: true });
  };
  try {
    return { url: stack.url, keys: await ensureDemoTenant(stack.url, adminToken, persistTo), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Reads until `done` holds or `ms` pass (the last read either way). */
export async function until<T>(
  read: () => Promise<T> | T,
  done: (v: T) => boolean,
  ms = 30_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  let v = await read();
  while (!done(v) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    v = await read();
  }
  return v;
}
