// The local stack killed without warning (SIGKILL) and started again on the same state loses no
// acknowledged event and counts none twice, in the actors and in the D1 rollups (SPEC §10).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import {
  applyMigrations,
  ensureDevVars,
  request,
  type Stack,
  startWrangler,
} from "../../scripts/lib/stack.mjs";

const PORT = 8797;
const persistTo = mkdtempSync(join(tmpdir(), "aforo-restart-"));
let stack: Stack | undefined;

afterAll(async () => {
  await stack?.stop();
  rmSync(persistTo, { recursive: true, force: true });
});

it("loses nothing across a crash and restart of the local stack", async () => {
  const { adminToken } = ensureDevVars();
  applyMigrations(persistTo, true);
  const first = await startWrangler({ port: PORT, persistTo, quiet: true });
  stack = first;
  const tenant = await request(`${stack.url}/admin/tenants`, {
    method: "POST",
    token: adminToken,
    body: { name: "Restart" },
  });
  const op = { token: tenant.operator_token };
  const post = (url: string, path: string, body: unknown) =>
    request(`${url}${path}`, { method: "POST", ...op, body });
  await post(first.url, "/api/products", { id: "api", name: "API" });
  await post(first.url, "/api/products/api/metrics", { id: "calls", unit: "call" });
  await post(first.url, "/api/plans", {
    id: "p",
    product: "api",
    name: "P",
    components: [{ type: "per_unit", metric: "calls", unit_price: "0.001" }],
  });
  for (const c of ["a", "b", "c"]) {
    await post(first.url, "/api/customers", { id: c, name: c });
    await post(first.url, "/api/subscriptions", {
      customer: c,
      plan: "p",
      start: "2026-01-01T00:00:00Z",
    });
  }
  const now = Date.now();
  const batches = Array.from({ length: 12 }, (_, b) =>
    Array.from({ length: 300 }, (_, i) => ({
      id: `r-${b}-${i}`,
      customer: ["a", "b", "c"][i % 3],
      product: "api",
      metric: "calls",
      quantity: 1,
      time: new Date(now - i * 1000).toISOString(),
    })),
  );
  const ingest = (url: string, batch: unknown[]) =>
    fetch(`${url}/v1/events`, {
      method: "POST",
      headers: { authorization: `Bearer ${tenant.ingest_key}`, "content-type": "application/json" },
      body: JSON.stringify(batch),
    }).then((r) => r.json());

  // Half the batches acknowledged, then a crash while the next ones are in flight.
  for (const batch of batches.slice(0, 6))
    expect(((await ingest(first.url, batch)) as { accepted: number }).accepted).toBe(300);
  const inFlight = batches.slice(6).map((b) => ingest(first.url, b).catch(() => null));
  await new Promise((r) => setTimeout(r, 30));
  await first.stop("SIGKILL");
  await Promise.all(inFlight);

  const second = await startWrangler({ port: PORT, persistTo, quiet: true });
  stack = second;
  // The client retries everything it is not sure of; acknowledged events come back as duplicates.
  let accepted = 0;
  let duplicates = 0;
  for (const batch of batches) {
    const res = (await ingest(second.url, batch)) as { accepted: number; duplicates: number };
    accepted += res.accepted;
    duplicates += res.duplicates;
  }
  expect(accepted + duplicates).toBe(3600);
  expect(duplicates).toBeGreaterThanOrEqual(1800);

  const url = second.url;
  let rolled = 0;
  for (let i = 0; i < 120 && rolled < 3600; i++) {
    const rows = await request(
      `${url}/api/rollups?group_by=customer&granularity=day&from=2026-01-01T00:00:00Z`,
      op,
    );
    rolled = rows.data.reduce((s: number, r: { events: number }) => s + r.events, 0);
    if (rolled < 3600) await new Promise((r) => setTimeout(r, 500));
  }
  expect(rolled).toBe(3600);
  let stored = 0;
  for (const c of ["a", "b", "c"]) {
    const page = await request(`${url}/api/customers/${c}/events?limit=500`, op);
    let cursor = page.next_cursor;
    stored += page.data.length;
    while (cursor) {
      const next = await request(`${url}/api/customers/${c}/events?limit=500&cursor=${cursor}`, op);
      stored += next.data.length;
      cursor = next.next_cursor;
    }
  }
  expect(stored).toBe(3600);
}, 240_000);
