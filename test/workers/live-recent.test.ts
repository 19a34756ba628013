import { env, evictDurableObject, runDurableObjectAlarm } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import type { LiveItem } from "../../contracts/events";
import { RECENT } from "../../durable-objects/live-hub";
import { call, createCatalog, createTenant, type Tenant } from "./helpers";

// The live view opens on the tenant's last events (issue 12, item 1): the hub keeps a bounded
// ring, sent first on connect, and the edge keeps it fresh with a sample while nobody watches.

let tenant: Tenant;
let seq = 0;
const hub = () => env.LIVE_HUB.getByName(tenant.tenant_id);

beforeEach(async () => {
  tenant = await createTenant(`Live ${++seq}`);
  await createCatalog(tenant);
  await call("PUT", "/api/cost-catalog", {
    token: tenant.operator_token,
    body: [
      {
        provider: "anthropic",
        model: "claude-sonnet-4-5",
        input_per_million: "3",
        output_per_million: "15",
        effective_from: "2026-01-01T00:00:00Z",
      },
    ],
  });
});

const item = (i: number): LiveItem => ({
  status: "accepted",
  id: `i${i}`,
  customer: "acme",
  product: "chat-api",
  metric: "input_tokens",
  quantity: 1,
  time: new Date().toISOString(),
  source: "api",
  received_at: new Date().toISOString(),
});

async function waitFor<T>(read: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  for (let i = 0; i < 100; i++) {
    const v = await read();
    if (ok(v)) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("timed out");
}

describe("the live stream's recent events", () => {
  it("events sent while nobody watches are sent first to a client that connects, with model, provider and flags", async () => {
    const time = new Date(Date.now() - 60_000).toISOString();
    const sent = await call("POST", "/v1/events", {
      token: tenant.ingest_key,
      body: [
        {
          id: "before-1",
          customer: "acme",
          product: "chat-api",
          metric: "input_tokens",
          quantity: 1200,
          time,
          cost: { provider: "Anthropic", model: "claude-sonnet-4-5", input_tokens: 1200 },
        },
        {
          id: "before-2",
          customer: "acme",
          product: "chat-api",
          metric: "input_tokens",
          quantity: 5,
          time,
        },
        {
          id: "before-bad",
          customer: "acme",
          product: "chat-api",
          metric: "input_tokens",
          quantity: -1,
          time,
        },
      ],
    });
    expect(sent.body.accepted).toBe(2);
    const recent = await waitFor(
      () => hub().recentItems(),
      (r) => r.length === 3,
    );
    expect(recent.map((r) => [r.id, r.status])).toEqual([
      ["before-1", "accepted"],
      ["before-2", "accepted"],
      ["before-bad", "rejected"],
    ]);

    const res = await exports.default.fetch("http://aforo.test/api/live?customer=acme", {
      headers: { authorization: `Bearer ${tenant.operator_token}` },
    });
    const reader = res.body?.getReader();
    if (!reader) throw new Error("no body");
    const decoder = new TextDecoder();
    let text = "";
    while (!text.includes("before-bad")) {
      const { value, done } = await reader.read();
      if (done) throw new Error("stream ended");
      text += decoder.decode(value);
    }
    await reader.cancel();
    const items = text
      .split("\n\n")
      .filter((b) => b.startsWith("event: accepted") || b.startsWith("event: rejected"))
      .map((b) => JSON.parse(b.slice(b.indexOf("data: ") + 6)) as LiveItem);
    expect(items.map((i) => i.id)).toEqual(["before-1", "before-2", "before-bad"]);
    expect(items.every((i) => i.recent === true)).toBe(true);
    expect(items[0]).toMatchObject({
      provider: "anthropic",
      model: "claude-sonnet-4-5",
      cost: "0.0036",
      cost_status: "catalog",
      flags: [],
    });
    expect(items[1]).toMatchObject({ cost_status: "uncosted", flags: ["uncosted"], model: null });
    expect(items[2]?.errors?.[0]?.path).toBe("quantity");
    // A filter applies to the recent events too.
    expect((await hub().recentItems({ status: "rejected" })).map((i) => i.id)).toEqual([
      "before-bad",
    ]);
  });

  it("keeps only the last RECENT items, and keeps them across an eviction", async () => {
    await hub().publish(Array.from({ length: 70 }, (_, i) => item(i)));
    await hub().publish(Array.from({ length: 70 }, (_, i) => item(70 + i)));
    const kept = await hub().recentItems();
    expect(kept).toHaveLength(RECENT);
    expect(kept[0]?.id).toBe(`i${140 - RECENT}`);
    expect(kept.at(-1)?.id).toBe("i139");
    // One publish larger than the ring keeps its own tail.
    await hub().publish(Array.from({ length: 250 }, (_, i) => item(1000 + i)));
    expect((await hub().recentItems())[0]?.id).toBe(`i${1250 - RECENT}`);

    expect(await runDurableObjectAlarm(hub())).toBe(true); // the ring's save
    await evictDurableObject(hub());
    const after = await hub().recentItems();
    expect(after).toHaveLength(RECENT);
    expect(after.at(-1)?.id).toBe("i1249");
  });

  it("tenants never see each other's recent events", async () => {
    await hub().publish([item(1)]);
    const other = await createTenant("Other live");
    expect(await env.LIVE_HUB.getByName(other.tenant_id).recentItems()).toEqual([]);
  });
});
