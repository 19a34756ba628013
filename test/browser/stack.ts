// A real stack for the browser tests: `wrangler dev` on a free port in 8820–8829 with its own
// state folder, the demo tenant, and a slice of the demo data set (the four story customers and
// a dozen ordinary ones, 90 days, built by scripts/lib/demo-data.mjs and sent through the real
// API like `npm start` does), then the detectors closed up to now.

import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  applyMigrations,
  buildDashboard,
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
  products: unknown[];
  plans: unknown[];
  costCatalog: unknown[];
  customers: { id: string; name: string; email: string; metadata: unknown }[];
  subscriptions: {
    id: string;
    customer: string;
    plan: string;
    start: number;
    trial_end: number | null;
  }[];
  series: DemoSeries[];
  unknown: DemoSeries;
}
interface DemoData {
  HOUR_MS: number;
  STORIES: Record<string, string>;
  buildDemo(o: { anchor: number }): Demo;
  batchesFor(demo: Demo, fromDay: number, toDay: number): Batch[];
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
  stop: () => Promise<void>;
}

interface DemoCatalogProduct {
  id: string;
  name: string;
  description: string;
  metrics: { id: string }[];
}

async function create(url: string, token: string, body: unknown) {
  try {
    await request(url, { method: "POST", token, body });
  } catch (err) {
    if ((err as { status?: number }).status !== 409) throw err;
  }
}

async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<unknown>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
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

/** The demo data set cut to the story customers and a few ordinary ones, sent through the API. */
async function seedSlice(url: string, operatorToken: string, ingestKey: string) {
  const { batchesFor, buildDemo, HOUR_MS, STORIES } = await loadDemoData();
  const now = Date.now();
  const anchor = now - (now % HOUR_MS);
  const demo = buildDemo({ anchor });
  const keep = new Set<string>(Object.values(STORIES));
  for (const c of demo.customers) {
    if (keep.size >= 4 + ORDINARY_CUSTOMERS) break;
    keep.add(c.id);
  }
  const slice = {
    ...demo,
    customers: demo.customers.filter((c) => keep.has(c.id)),
    subscriptions: demo.subscriptions.filter((s) => keep.has(s.customer)),
    series: demo.series.filter((s) => keep.has(s.customer)),
  };
  for (const p of slice.products as DemoCatalogProduct[]) {
    await create(`${url}/api/products`, operatorToken, {
      id: p.id,
      name: p.name,
      description: p.description,
    });
    for (const m of p.metrics)
      await create(`${url}/api/products/${p.id}/metrics`, operatorToken, m);
  }
  await pool(slice.plans, 4, (plan) => create(`${url}/api/plans`, operatorToken, plan));
  await request(`${url}/api/cost-catalog`, {
    method: "PUT",
    token: operatorToken,
    body: slice.costCatalog,
  });
  await pool(slice.customers, 4, (c) =>
    create(`${url}/api/customers`, operatorToken, {
      id: c.id,
      name: c.name,
      email: c.email,
      metadata: c.metadata,
    }),
  );
  await pool(slice.subscriptions, 4, (s) =>
    create(`${url}/api/subscriptions`, operatorToken, {
      id: s.id,
      customer: s.customer,
      plan: s.plan,
      start: new Date(s.start).toISOString(),
      ...(s.trial_end !== null ? { trial_end: new Date(s.trial_end).toISOString() } : {}),
    }),
  );
  // Batches hold one or a few customers in time order; a customer's batches go one at a time.
  const batches = batchesFor(slice, 0, 90);
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
  return {
    anchor,
    eventsSent: batches.reduce((s, b) => s + b.count, 0),
    customers: [...keep, demo.unknown.customer],
    windowStart: demo.windowStart,
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

export async function startSeededStack(log: (line: string) => void = () => {}): Promise<Stack> {
  const persistTo = mkdtempSync(join(tmpdir(), "aforo-browser-"));
  const port = await freePort();
  const { adminToken } = ensureDevVars();
  applyMigrations(persistTo, true);
  buildDashboard(true);
  const t0 = Date.now();
  const stack = await startWrangler({ port, persistTo, quiet: true });
  const stop = async () => {
    await stack.stop();
    rmSync(persistTo, { recursive: true, force: true });
  };
  try {
    const keys = await ensureDemoTenant(stack.url, adminToken, persistTo);
    const seeded = await seedSlice(stack.url, keys.operator_token, keys.ingest_key);
    log(`seeded ${seeded.eventsSent} events in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    await waitForRollups(stack.url, keys.operator_token, seeded.windowStart, seeded.eventsSent);
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
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
