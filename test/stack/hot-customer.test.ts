// One hot customer on the real stack (issue 11): many concurrent requests for one customer are
// coalesced into fewer actor calls (workers/actor-calls.ts), each request still gets its own
// exact answer, the books count every event once, and the gate's token bucket holds.
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

const PORT = 8796;
const persistTo = mkdtempSync(join(tmpdir(), "aforo-hot-"));
let stack: Stack | undefined;

afterAll(async () => {
  await stack?.stop();
  rmSync(persistTo, { recursive: true, force: true });
});

it("answers each of many concurrent requests for one customer for itself, and counts every event once", async () => {
  const { adminToken } = ensureDevVars();
  applyMigrations(persistTo, true);
  stack = await startWrangler({ port: PORT, persistTo, quiet: true });
  const url = stack.url;
  const tenant = await request(`${url}/admin/tenants`, {
    method: "POST",
    token: adminToken,
    body: { name: "Hot" },
  });
  const op = { token: tenant.operator_token };
  await request(`${url}/api/products`, { method: "POST", ...op, body: { id: "api", name: "API" } });
  await request(`${url}/api/products/api/metrics`, {
    method: "POST",
    ...op,
    body: { id: "calls", unit: "call" },
  });
  const now = Date.now();
  // 200 requests × 10 events, all at once; every fifth request repeats the previous one's ids.
  const requests = Array.from({ length: 200 }, (_, r) =>
    Array.from({ length: 10 }, (_, i) => ({
      id: `hot-${r % 5 === 4 ? r - 1 : r}-${i}`,
      customer: "whale",
      product: "api",
      metric: "calls",
      quantity: 3,
      time: new Date(now - 60_000).toISOString(),
    })),
  );
  const answers = await Promise.all(
    requests.map((events) =>
      request(`${url}/v1/events`, { method: "POST", token: tenant.ingest_key, body: events }),
    ),
  );
  for (const a of answers) {
    expect(a.accepted + a.duplicates).toBe(10);
    expect(a.rejected).toEqual([]);
  }
  const accepted = answers.reduce((n, a) => n + a.accepted, 0);
  expect(accepted).toBe(160 * 10);
  expect(answers.reduce((n, a) => n + a.duplicates, 0)).toBe(40 * 10);

  // Every accepted event reaches the rollups once (the actor flushes within ~10 s).
  let rolled = { events: 0, units: "0" };
  for (let i = 0; i < 120 && rolled.events < accepted; i++) {
    await new Promise((r) => setTimeout(r, 500));
    const res = await request(
      `${url}/api/rollups?granularity=hour&customer=whale&from=${new Date(now - 3_600_000).toISOString()}`,
      op,
    );
    rolled = res.data.reduce(
      (t: { events: number; units: string }, r: { events: number; units: string }) => ({
        events: t.events + r.events,
        units: String(Number(t.units) + Number(r.units)),
      }),
      { events: 0, units: "0" },
    );
  }
  expect(rolled).toEqual({ events: 1600, units: "4800" });

  // The gate, 400 checks at once for the same customer: coalesced, the token bucket still lets
  // exactly its burst (200 by default) through, plus what refills at 100/s while they run.
  const started = Date.now();
  const decisions = await Promise.all(
    Array.from({ length: 400 }, () =>
      request(`${url}/v1/gate`, {
        method: "POST",
        token: tenant.ingest_key,
        body: { customer: "whale", units: 1 },
      }),
    ),
  );
  const seconds = (Date.now() - started) / 1000;
  const allowed = decisions.filter((d) => d.allow).length;
  expect(allowed).toBeGreaterThanOrEqual(200);
  expect(allowed).toBeLessThanOrEqual(200 + Math.ceil(100 * seconds) + 1);
  expect(decisions.filter((d) => !d.allow).every((d) => d.retry_after_ms > 0)).toBe(true);
});
