import { env, runDurableObjectAlarm } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import type { CustomerActor } from "../../durable-objects/customer-actor";
import { enqueueDeliveries } from "../../workers/deliveries";
import {
  anomalySignal,
  createChannel,
  deliveriesOf,
  ensureSignalsTable,
  newHook,
  runConsumer,
  storeSignal,
} from "./deliveries-helpers";
import { call, createCatalog, createTenant, expectProblem, type Tenant } from "./helpers";

// Alerts that reach someone (issue 12, item 4): an ALERT with no enabled channel is recorded as
// `no_channel`, never `executed`, and executing it once a channel exists sends it; a burst of
// alerts beyond the tenant's budget reaches each channel as one digest, counted at a real HTTP
// receiver (test/global-setup-receiver.ts).

let tenant: Tenant;
const HOUR = 3_600_000;
const op = () => ({ token: tenant.operator_token });

beforeEach(async () => {
  await ensureSignalsTable();
  tenant = await createTenant();
});

async function until<T>(read: () => Promise<T>, done: (v: T) => boolean, ms = 15_000) {
  const deadline = Date.now() + ms;
  let v = await read();
  while (!done(v) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    v = await read();
  }
  return v;
}

interface ActionRow {
  id: string;
  signal_id: string;
  rung: string;
  state: string;
  detail: string;
}

const alertActions = async () =>
  (
    await env.DB.prepare(
      "SELECT id, signal_id, rung, state, detail FROM actions WHERE tenant_id = ? AND rung = 'ALERT' ORDER BY id",
    )
      .bind(tenant.tenant_id)
      .all<ActionRow>()
  ).results;

/** One event whose cost dwarfs its revenue: MarginGuard trips, L1 of which maps to ALERT. */
async function tripMargin(id: string) {
  await createCatalog(tenant);
  const res = await call("POST", "/v1/events", {
    token: tenant.ingest_key,
    body: [
      {
        id,
        customer: "acme",
        product: "chat-api",
        metric: "input_tokens",
        quantity: 1000,
        time: new Date(Date.now() - HOUR).toISOString(),
        cost: { usd: 5000 },
      },
    ],
  });
  expect(res.status).toBe(200);
  await runDurableObjectAlarm(
    env.CUSTOMER_ACTOR.getByName(`${tenant.tenant_id}:acme`) as DurableObjectStub<CustomerActor>,
  );
  return until(alertActions, (a) => a.length > 0 && a.every((x) => x.state !== "queued"));
}

describe("an ALERT with no channel", () => {
  it("is recorded as no_channel, never executed; executing it once a channel exists delivers it", async () => {
    const actions = await tripMargin("nc-1");
    expect(actions.length).toBeGreaterThan(0);
    for (const a of actions) {
      expect(a.state).toBe("no_channel");
      expect(JSON.parse(a.detail)).toMatchObject({ channels: 0 });
    }
    // The trail and /api/actions say so.
    const steps = await call("GET", "/api/actions?step=no_channel", op());
    expect(steps.status).toBe(200);
    expect(steps.body.data.map((s: { action_id: string }) => s.action_id).sort()).toEqual(
      actions.map((a) => a.id).sort(),
    );
    expect(
      (await call("GET", "/api/actions?step=executed", op())).body.data.filter(
        (s: { rung: string }) => s.rung === "ALERT",
      ),
    ).toEqual([]);
    const signal = await call("GET", `/api/signals/${actions[0]?.signal_id}`, op());
    expect(signal.body.action).toMatchObject({ rung: "ALERT", state: "no_channel" });

    // A channel is added; the operator executes the alert: it is sent, once.
    const hook = newHook("late");
    await createChannel(tenant, { type: "webhook", name: "late", url: hook.url });
    const first = actions[0] as ActionRow;
    const run = await call("POST", `/api/actions/${first.id}/execute`, op());
    expect(run.status).toBe(200);
    expect(run.body).toMatchObject({ state: "executed", detail: { channels: 1 } });
    const rows = await until(
      () => deliveriesOf(tenant.tenant_id, first.signal_id),
      (r) => r[0]?.status === "delivered",
    );
    expect(rows.map((r) => r.status)).toEqual(["delivered"]);
    const log = await hook.log();
    expect(log).toHaveLength(1);
    expect(JSON.parse(log[0]?.body ?? "{}")).toMatchObject({
      type: "signal.created",
      data: { id: first.signal_id },
    });
  });

  it("with an enabled channel is executed and delivered; a disabled one counts as none", async () => {
    const off = newHook("off");
    await createChannel(tenant, { type: "webhook", name: "off", url: off.url, enabled: false });
    const on = newHook("on");
    await createChannel(tenant, { type: "webhook", name: "on", url: on.url });
    const actions = await tripMargin("ok-1");
    expect(actions.length).toBeGreaterThan(0);
    for (const a of actions) {
      expect(a.state).toBe("executed");
      expect(JSON.parse(a.detail)).toMatchObject({ channels: 1 });
    }
    await until(
      () => on.log(),
      (l) => l.length >= actions.length,
    );
    expect(await off.log()).toEqual([]);
  });
});

describe("the alert budget", () => {
  it("defaults, validates and is per tenant", async () => {
    const got = await call("GET", "/api/deliveries/budget", op());
    expect(got.body).toEqual({ max_per_window: 5, window_seconds: 600, digest_delay_seconds: 60 });
    const bad = await call("PUT", "/api/deliveries/budget", {
      ...op(),
      body: { max_per_window: 0, window_seconds: 10, digest_delay_seconds: 60 },
    });
    expectProblem(bad, 400, "validation_failed");
    const paths = bad.body.errors.map((e: { path: string }) => e.path).sort();
    expect(paths).toEqual(["max_per_window", "window_seconds"]);
    const put = await call("PUT", "/api/deliveries/budget", {
      ...op(),
      body: { max_per_window: 2, window_seconds: 300, digest_delay_seconds: 5 },
    });
    expect(put.status).toBe(200);
    expect((await call("GET", "/api/deliveries/budget", op())).body).toMatchObject({
      max_per_window: 2,
    });
    const other = await createTenant("Other");
    expect(
      (await call("GET", "/api/deliveries/budget", { token: other.operator_token })).body,
    ).toMatchObject({ max_per_window: 5 });
  });

  it("a burst beyond it reaches the receiver as N alerts and one digest listing the rest", async () => {
    await call("PUT", "/api/deliveries/budget", {
      ...op(),
      body: { max_per_window: 2, window_seconds: 600, digest_delay_seconds: 5 },
    });
    const hook = newHook("burst");
    const mail = await createChannel(tenant, { type: "email", name: "ops", to: "ops@example.com" });
    const ch = await createChannel(tenant, { type: "webhook", name: "burst", url: hook.url });
    const t0 = Date.now();
    const signals = [];
    for (let i = 0; i < 7; i++) {
      signals.push(
        await storeSignal(
          tenant.tenant_id,
          anomalySignal({ customer_id: `cust-${i}`, created_at: t0 + i }),
        ),
      );
    }
    const rows = (
      await Promise.all(signals.map((s) => deliveriesOf(tenant.tenant_id, s.id)))
    ).flat();
    const mine = rows.filter((r) => r.channel_id === ch.id);
    expect(mine.filter((r) => r.digest_id === null)).toHaveLength(2);
    const digested = mine.filter((r) => r.digest_id !== null);
    expect(digested).toHaveLength(5);
    expect(new Set(digested.map((r) => r.digest_id)).size).toBe(1);
    // Each channel has its own budget: the e-mail channel digests its own five.
    expect(rows.filter((r) => r.channel_id === mail.id && r.digest_id === null)).toHaveLength(2);

    await enqueueDeliveries(
      env,
      tenant.tenant_id,
      signals.map((s) => s.id),
    );
    // The two within the budget go at once; the digest waits for its delay (5 s).
    const early = await until(
      () => hook.log(),
      (l) => l.length >= 2,
    );
    expect(early.map((r) => JSON.parse(r.body).type)).toEqual(["signal.created", "signal.created"]);
    const log = await until(
      () => hook.log(),
      (l) => l.length >= 3,
      20_000,
    );
    await new Promise((r) => setTimeout(r, 500));
    const all = await hook.log();
    expect(all).toHaveLength(3);
    const digest = JSON.parse(log[2]?.body ?? "{}");
    expect(digest.type).toBe("signals.digest");
    expect(digest.data.count).toBe(5);
    expect(digest.data.signals.map((s: { customer: string }) => s.customer)).toEqual([
      "cust-2",
      "cust-3",
      "cust-4",
      "cust-5",
      "cust-6",
    ]);
    expect(digest.data.signals[0].url).toMatch(/\/signals\/sig_/);
    expect(log[2]?.at ?? 0).toBeGreaterThanOrEqual(t0 + 4_000);

    // Every alert of the burst says delivered; the five say in which digest.
    const listed = await call("GET", `/api/deliveries?channel=${ch.id}&limit=50`, op());
    const byKind = listed.body.data.reduce(
      (acc: Record<string, number>, d: { kind: string; status: string }) => {
        acc[`${d.kind}:${d.status}`] = (acc[`${d.kind}:${d.status}`] ?? 0) + 1;
        return acc;
      },
      {},
    );
    expect(byKind).toEqual({ "signal:delivered": 7, "digest:delivered": 1 });
    const members = await call("GET", `/api/deliveries?digest=${digested[0]?.digest_id}`, op());
    expect(members.body.data).toHaveLength(5);
  }, 30_000);

  it("a digest already being sent takes no new alerts: they open the next one", async () => {
    await call("PUT", "/api/deliveries/budget", {
      ...op(),
      body: { max_per_window: 1, window_seconds: 600, digest_delay_seconds: 5 },
    });
    const hook = newHook("next");
    const ch = await createChannel(tenant, { type: "webhook", name: "next", url: hook.url });
    const t0 = Date.now() - 10_000;
    const [, a, b] = [
      await storeSignal(tenant.tenant_id, anomalySignal({ created_at: t0 })),
      await storeSignal(tenant.tenant_id, anomalySignal({ created_at: t0 + 1 })),
      await storeSignal(tenant.tenant_id, anomalySignal({ created_at: t0 + 2 })),
    ];
    const [da] = await deliveriesOf(tenant.tenant_id, a?.id ?? "");
    const digestId = da?.digest_id ?? "";
    expect(digestId).toMatch(/^dgs_/);
    expect((await deliveriesOf(tenant.tenant_id, b?.id ?? ""))[0]?.digest_id).toBe(digestId);
    // The digest is due (created 10 s ago, 5 s delay): the consumer sends it.
    const sent = await runConsumer(tenant.tenant_id, [digestId]);
    expect(sent.explicitAcks).toHaveLength(1);
    const late = await storeSignal(tenant.tenant_id, anomalySignal());
    const [dl] = await deliveriesOf(tenant.tenant_id, late.id);
    const next = dl?.digest_id;
    expect(next).toMatch(/^dgs_/);
    expect(next).not.toBe(digestId);
    const log = await hook.log();
    expect(log).toHaveLength(1);
    expect(JSON.parse(log[0]?.body ?? "{}").data.count).toBe(2);
    // A member's own wake-up sends nothing: it went out in its digest.
    await runConsumer(tenant.tenant_id, [da?.id ?? ""]);
    expect(await hook.log()).toHaveLength(1);
    expect(ch.id).toBeTruthy();
  });

  it("a digest that fails for good takes its alerts with it; a disabled channel cancels them", async () => {
    await call("PUT", "/api/deliveries/budget", {
      ...op(),
      body: { max_per_window: 1, window_seconds: 600, digest_delay_seconds: 5 },
    });
    const hook = newHook("gone");
    await hook.mode(410);
    await createChannel(tenant, { type: "webhook", name: "gone", url: hook.url });
    const t0 = Date.now() - 10_000;
    await storeSignal(tenant.tenant_id, anomalySignal({ created_at: t0 }));
    const s = await storeSignal(tenant.tenant_id, anomalySignal({ created_at: t0 + 1 }));
    const [member] = await deliveriesOf(tenant.tenant_id, s.id);
    const digestId = member?.digest_id ?? "";
    await runConsumer(tenant.tenant_id, [digestId]);
    const [after] = await deliveriesOf(tenant.tenant_id, s.id);
    expect(after?.status).toBe("dead");
    expect(after?.last_error).toContain(`in digest ${digestId}`);
    expect(after?.last_error).toContain("410");

    const hook2 = newHook("off");
    const ch2 = await createChannel(tenant, { type: "webhook", name: "off", url: hook2.url });
    const t1 = Date.now() - 10_000;
    await storeSignal(tenant.tenant_id, anomalySignal({ created_at: t1 }));
    const s2 = await storeSignal(tenant.tenant_id, anomalySignal({ created_at: t1 + 1 }));
    const rows = await deliveriesOf(tenant.tenant_id, s2.id);
    const m2 = rows.find((r) => r.channel_id === ch2.id);
    await call("PATCH", `/api/channels/${ch2.id}`, { ...op(), body: { enabled: false } });
    await runConsumer(tenant.tenant_id, [m2?.digest_id ?? ""]);
    const [m2after] = (await deliveriesOf(tenant.tenant_id, s2.id)).filter(
      (r) => r.channel_id === ch2.id,
    );
    expect(m2after?.status).toBe("canceled");
    expect(await hook2.log()).toEqual([]);
  });
});
