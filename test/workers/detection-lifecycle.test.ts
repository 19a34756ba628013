import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import type { CustomerActor } from "../../durable-objects/customer-actor";
import { internals } from "./actor-internals";
import { call, createCatalog, createTenant, type Tenant } from "./helpers";

// Detection through the customer actor knows the customer's subscriptions: a customer who went
// quiet because they canceled is no churn risk; one who went quiet while subscribed is.

let tenant: Tenant;
let subscription: { id: string };
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const actor = () =>
  env.CUSTOMER_ACTOR.getByName(`${tenant.tenant_id}:acme`) as DurableObjectStub<CustomerActor>;
const op = () => ({ token: tenant.operator_token });

beforeEach(async () => {
  tenant = await createTenant();
  subscription = (await createCatalog(tenant)).subscription;
});

/** Three weeks of steady daily usage that stopped eight days ago; returns its last event's time. */
async function historyThatStopped(): Promise<number> {
  const end = Math.floor(Date.now() / DAY) * DAY - 8 * DAY;
  const events = Array.from({ length: 21 }, (_, d) => ({
    id: `h${d}`,
    customer: "acme",
    product: "chat-api",
    metric: "input_tokens",
    quantity: 5000,
    time: new Date(end - d * DAY + 12 * HOUR).toISOString(),
    cost: { usd: 0.01 },
  }));
  const sent = await call("POST", "/v1/events", { token: tenant.ingest_key, body: events });
  expect(sent.body.accepted).toBe(21);
  return end + 12 * HOUR;
}

/** The silence check the alarm runs once nothing has arrived for a while, then the signals the
 * actor itself stored (D1 only follows it). */
async function closeSilence(): Promise<string[]> {
  await runInDurableObject(actor(), async (instance: CustomerActor, state) => {
    // As after an eviction that followed the actor's last flush, silent since.
    state.storage.transactionSync(() => internals(instance).memory.persistDetectorState());
    state.storage.kv.put("last_ingest_at", 0);
    internals(instance).memory.forget();
    await internals(instance).runTimer("silence", Date.now());
  });
  await runDurableObjectAlarm(actor());
  return runInDurableObject(actor(), async (_i: CustomerActor, state) =>
    state.storage.sql
      .exec<{ detector: string }>("SELECT detector FROM signals ORDER BY detector")
      .toArray()
      .map((r) => r.detector),
  );
}

/** The last UTC day the churn detector closed for chat-api. */
const churnWatermark = () =>
  runInDurableObject(actor(), async (_i: CustomerActor, state) => {
    const churn = state.storage.kv.get<{ last_day: number | null }>("det:churn:chat-api");
    return churn?.last_day ?? 0;
  });

describe("detection and the subscription lifecycle", () => {
  it("a customer who goes quiet while subscribed is a churn risk", async () => {
    const last = await historyThatStopped();
    const stored = await closeSilence();
    expect(stored).toContain("WeeklyChurnSignalDetector");
    expect(await churnWatermark()).toBeGreaterThanOrEqual(Math.floor(last / DAY) * DAY + 4 * DAY);
  });

  it("a customer who canceled after their last event is not, though the actor rated them subscribed", async () => {
    const last = await historyThatStopped();
    // The cancel comes after the batch: the actor's terms still have the open subscription,
    // the silence check reloads them at the tenant's new catalog version.
    const canceled = await call("POST", `/api/subscriptions/${subscription.id}/cancel`, {
      ...op(),
      body: { at: new Date(last + HOUR).toISOString() },
    });
    expect(canceled.status).toBe(200);
    expect(canceled.body.status).toBe("canceled");
    const stored = await closeSilence();
    expect(stored).not.toContain("WeeklyChurnSignalDetector");
    // The days after the stop were closed, as far as in the subscribed customer's case.
    expect(await churnWatermark()).toBeGreaterThanOrEqual(Math.floor(last / DAY) * DAY + 4 * DAY);
    expect(
      (await call("GET", "/api/signals?detector=WeeklyChurnSignalDetector", op())).body.data,
    ).toEqual([]);
  });
});
