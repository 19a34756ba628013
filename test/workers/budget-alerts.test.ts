import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { runBudgetAlerts } from "../../workers/budget-alerts";
import { describeSignal, loadSignal } from "../../workers/deliveries/signal";
import {
  api,
  clockSettled,
  customer,
  DAY,
  HOUR,
  monthStart,
  ok,
  plan,
  product,
  send,
  settle,
  subscribe,
  tokens,
} from "./billing-helpers";
import { call, createTenant, expectProblem, type Tenant } from "./helpers";

// Budget alerts (issue 14 item 5) on a test tenant, with usage through the real ingest path:
// a segment whose period-to-date margin dips below its floor and a product whose hourly COGS
// spikes each raise one case naming the customers behind it; a steady control segment raises
// none. Thresholds come from the tenant policy, a segment's own override, and the defaults.

let tenant: Tenant;
let a: ReturnType<typeof api>;
const NOW = Date.now();
const thisHour = Math.floor(NOW / HOUR) * HOUR;
/** Inside this month and before now (the margin is period to date). */
const inMonth = Math.max(monthStart(NOW), NOW - 2 * DAY);

interface Case {
  id: string;
  customer: string;
  scope: string;
  level: string;
  status: string;
}
const cases = async (detector: string): Promise<Case[]> =>
  (await ok(a.get(`/api/cases?detector=${detector}`))).data;
// biome-ignore lint/suspicious/noExplicitAny: JSON answers
const detail = async (id: string): Promise<any> => ok(a.get(`/api/cases/${id}`));
const setPolicy = (scope: string, id: string | undefined, policy: unknown) =>
  call("PUT", "/api/policies", { token: tenant.operator_token, body: { scope, id, policy } });

/** Runs the budget detectors until they have caught up (each run closes at most a week). */
async function runUntilCaughtUp() {
  for (let i = 0; i < 8; i++) {
    const ran = await runBudgetAlerts(env, tenant.tenant_id, Date.now());
    expect(ran.margin).not.toBeNull();
    expect(ran.spikes).not.toBeNull();
  }
}

beforeEach(async () => {
  tenant = await createTenant();
  a = api(tenant);
  await clockSettled(tenant);
  await product(tenant);
  await plan(tenant, "pro", [{ type: "per_unit", metric: "input_tokens", unit_price: "0.001" }]);
  await plan(tenant, "steady", [{ type: "per_unit", metric: "input_tokens", unit_price: "0.001" }]);
  for (const [c, p] of [
    ["acme", "pro"],
    ["globex", "pro"],
    ["s1", "steady"],
    ["s2", "steady"],
  ] as const) {
    await customer(tenant, c);
    await subscribe(tenant, c, p, monthStart(NOW, -2));
  }
});

/** Segment pro: acme $200 revenue for $380 COGS, globex $100 for $60 → −46.7 %. Segment
 * steady: $3,000 for $300 → 90 %. Product chat-api as a whole: 77.6 %. */
async function marginDip() {
  await send(tenant, [
    tokens("acme", inMonth, 200_000, { cost: { usd: 380 } }),
    tokens("globex", inMonth, 100_000, { cost: { usd: 60 } }),
    tokens("s1", inMonth, 2_000_000, { cost: { usd: 200 } }),
    tokens("s2", inMonth, 1_000_000, { cost: { usd: 100 } }),
  ]);
  await settle(tenant, ["acme", "globex", "s1", "s2"], 4);
}

/** Product vision: three weeks of hourly COGS (calm ~$11, spiky $1), then one hour where spiky
 * costs $150, and two ordinary hours after it (so the spike's hour is complete). */
const SPIKE_HOUR = thisHour - 3 * HOUR;
async function costSpike() {
  await ok(a.post("/api/products", { id: "vision", name: "Vision" }));
  await ok(a.post("/api/products/vision/metrics", { id: "images", unit: "image" }));
  const events = [];
  for (let h = SPIKE_HOUR - 21 * DAY; h <= SPIKE_HOUR + 2 * HOUR; h += HOUR) {
    const i = (h / HOUR) % 3;
    const vision = { product: "vision", metric: "images" };
    events.push(tokens("calm", h + 60_000, 10, { ...vision, cost: { usd: 10 + i } }));
    events.push(
      tokens("spiky", h + 120_000, 1, { ...vision, cost: { usd: h === SPIKE_HOUR ? 150 : 1 } }),
    );
  }
  await send(tenant, events);
  await settle(tenant, ["calm", "spiky"], events.length);
}

describe("budget alerts", () => {
  it("a segment's margin dip and a product's COGS spike raise one case each, naming the customers; the control segment none", async () => {
    await marginDip();
    await costSpike();
    await runUntilCaughtUp();

    const margin = await cases("BudgetMarginDetector");
    expect(margin.map((c) => c.scope)).toEqual(["segment plan:pro"]);
    const dip = margin[0] as Case;
    expect(dip).toMatchObject({ customer: "*", status: "open", level: "L2" });
    const dipDetail = await detail(dip.id);
    // L1 (below 30 %) and L2 (below the critical 0 %): two signals, one case.
    expect(dipDetail.signals).toHaveLength(2);
    for (const s of dipDetail.signals) {
      expect(s.details).toMatchObject({
        scope_kind: "segment",
        scope_id: "pro",
        revenue: "300.00",
        cost: "440.00",
        margin_pct: -46.67,
        customers: "acme",
        drivers: "acme −$180.00 margin",
      });
    }
    // What the operator's channels read: the scope and the customers, not a customer "*".
    const stored = await loadSignal(env.DB, tenant.tenant_id, dipDetail.signals[0].id);
    if (!stored) throw new Error("signal not stored");
    const words = describeSignal(stored);
    expect(words.title).toMatch(/^Budget margin (below floor|critical): segment plan:pro$/);
    expect(words.magnitude).toContain("driven by acme −$180.00 margin");
    expect(words.facts).toContainEqual(["Customers", "the whole tenant; driven by acme"]);
    expect(words.facts).toContainEqual(["Product / metric", "segment plan:pro"]);
    // Alerted: its ALERT ran (ALERT is automatic by default).
    expect(dipDetail.ladder.map((s: { rung: string }) => s.rung)).toEqual(["ALERT", "ALERT"]);

    const spikes = await cases("BudgetCostSpikeDetector");
    expect(spikes.map((c) => c.scope)).toEqual(["product vision"]);
    const spikeDetail = await detail((spikes[0] as Case).id);
    expect(spikeDetail.signals).toHaveLength(1);
    const [s] = spikeDetail.signals;
    expect(s.window.start).toBe(new Date(SPIKE_HOUR).toISOString());
    expect(s.details).toMatchObject({
      scope_kind: "product",
      scope_id: "vision",
      customers: "spiky",
    });
    expect(s.details.cost).toBeGreaterThan(150);
    expect(s.details.drivers).toBe("spiky +$149.00 vs a week before");

    // Nothing on the control segment, nor twice on a second pass.
    const all = [...margin, ...spikes];
    expect(all.some((c) => c.scope.includes("steady"))).toBe(false);
    await runBudgetAlerts(env, tenant.tenant_id, Date.now());
    expect(await cases("BudgetMarginDetector")).toHaveLength(1);
    expect(await cases("BudgetCostSpikeDetector")).toHaveLength(1);

    // The tenant-wide cases put no customer at risk: the open-case budget counts customers only.
    const summary = await ok(a.get("/api/cases/summary"));
    const customersWithCases = new Set(
      (await ok(a.get("/api/cases?status=open&limit=100"))).data
        .map((c: Case) => c.customer)
        .filter((c: string) => c !== "*"),
    );
    expect(summary.open_customers).toBe(customersWithCases.size);
  }, 60_000);

  it("a segment's own floor overrides the tenant's for that segment only", async () => {
    await marginDip();
    // The tenant's floor at 95 %: steady (90 %) and chat-api (77.6 %) dip; pro is let off.
    expect(
      (
        await setPolicy("tenant", undefined, {
          detectors: { budget_margin: { margin_floor_pct: 95 } },
        })
      ).status,
    ).toBe(200);
    const seg = await setPolicy("segment", "pro", {
      detectors: { budget_margin: { margin_floor_pct: -60, critical_floor_pct: -80 } },
    });
    expect(seg.status).toBe(200);
    expect(seg.body.segments.pro.detectors.budget_margin.margin_floor_pct).toBe(-60);
    expect(seg.body.effective.detectors.budget_margin.margin_floor_pct).toBe(-60);
    expect(seg.body.segment_by).toBe("plan");
    expect(seg.body.segment_values).toEqual(expect.arrayContaining(["pro", "steady"]));
    await runUntilCaughtUp();
    const scopes = (await cases("BudgetMarginDetector")).map((c) => c.scope).sort();
    expect(scopes).toEqual(["product chat-api", "segment plan:steady"]);
    // The customers' own policies are untouched by a segment's.
    const view = await ok(a.get("/api/policies?customer=acme"));
    expect(view.effective.detectors.budget_margin.margin_floor_pct).toBe(95);
  });

  it("segments by a customer attribute when the tenant says so", async () => {
    await ok(a.post("/api/customers", { id: "m1", name: "m1", metadata: { tier: "gold" } }));
    expect(
      (
        await setPolicy("tenant", undefined, {
          detectors: { budget_margin: { segment_by: "metadata.tier" } },
        })
      ).status,
    ).toBe(200);
    await subscribe(tenant, "m1", "steady", monthStart(NOW, -2));
    await send(tenant, [tokens("m1", inMonth, 150_000, { cost: { usd: 900 } })]);
    await settle(tenant, ["m1"], 1);
    await runUntilCaughtUp();
    const scopes = (await cases("BudgetMarginDetector")).map((c) => c.scope);
    expect(scopes).toContain("segment metadata.tier:gold");
    expect(scopes.some((s) => s.startsWith("segment plan:"))).toBe(false);
    expect((await ok(a.get("/api/policies"))).segment_values).toEqual(["gold"]);
  });

  it("refuses a bad segment_by, a bad floor and misplaced settings with problem+json naming the field", async () => {
    const bad = await setPolicy("tenant", undefined, {
      detectors: { budget_margin: { segment_by: "region" } },
    });
    expectProblem(bad, 400, "validation_failed");
    expect(bad.body.errors.map((e: { path: string }) => e.path)).toContain(
      "policy.detectors.budget_margin.segment_by",
    );
    const floor = await setPolicy("segment", "pro", {
      detectors: { budget_margin: { margin_floor_pct: 150 } },
    });
    expectProblem(floor, 400, "validation_failed");
    expect(floor.body.errors.map((e: { path: string }) => e.path)).toEqual([
      "policy.detectors.budget_margin.margin_floor_pct",
    ]);
    const order = await setPolicy("tenant", undefined, {
      detectors: { budget_margin: { critical_floor_pct: 40 } },
    });
    expect(order.body.errors.map((e: { path: string }) => e.path)).toEqual([
      "policy.detectors.budget_margin.critical_floor_pct",
    ]);
    const misplaced = await setPolicy("segment", "pro", {
      detectors: { anomaly: { k: 5 }, budget_margin: { segment_by: "plan" } },
      gate: { burst: 10 },
    });
    expectProblem(misplaced, 400, "validation_failed");
    expect(misplaced.body.errors.map((e: { path: string }) => e.path).sort()).toEqual([
      "policy.detectors.anomaly",
      "policy.detectors.budget_margin.segment_by",
      "policy.gate",
    ]);
    const noId = await setPolicy("segment", undefined, { detectors: {} });
    expectProblem(noId, 400, "validation_failed");
    // Nothing was stored.
    const view = await ok(a.get("/api/policies"));
    expect(view.segments).toEqual({});
    expect(view.tenant).toBeNull();
  });
});
