import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ACTOR_MIGRATIONS, migrateActorSchema } from "../../durable-objects/actor-schema";
import type { CustomerActor } from "../../durable-objects/customer-actor";

// The actor's schema only grows: an actor written by any earlier version keeps its data when the
// current code first opens it. Each case builds an earlier schema in a real actor's SQLite, puts
// rows in it, migrates, and reads the rows back through the current code.

const TABLES = [
  "events",
  "usage_ptd",
  "buckets",
  "outbox",
  "timers",
  "meta",
  "signals",
  "pending_facets",
  "pending_sessions",
  "pending_key_usage",
];

function resetTo(storage: DurableObjectStorage, version: number) {
  for (const t of TABLES) storage.sql.exec(`DROP TABLE IF EXISTS ${t}`);
  storage.kv.delete("schema_version");
  migrateActorSchema(storage, version);
}

function seedV1(sql: SqlStorage) {
  sql.exec(
    `INSERT INTO events (id, time, received_at, product, metric, quantity, revenue, cost,
       cost_status, provider, model, input_tokens, output_tokens, cached_input_tokens,
       subscription_id, flags, source, properties)
     VALUES ('evt_old', ?, ?, 'chat-api', 'input_tokens', 1532000000, 4596000000, 3000000,
       'catalog', 'anthropic', 'claude-sonnet-4-5', 1200, 332, NULL, 'sub_1', '', 'api',
       '{"endpoint":"/v1/chat"}')`,
    Date.UTC(2026, 10, 27, 10),
    Date.UTC(2026, 10, 27, 10, 1),
  );
  sql.exec(
    "INSERT INTO usage_ptd VALUES ('sub_1', ?, 'input_tokens', '1532000000')",
    Date.UTC(2026, 10, 1),
  );
  sql.exec(
    `INSERT INTO buckets (granularity, start, product, metric, units, revenue, cost, events,
       pending_units, pending_revenue, pending_cost, pending_events)
     VALUES ('h', ?, 'chat-api', 'input_tokens', 1532000000, 4596000000, 3000000, 1,
       1532000000, 4596000000, 3000000, 1)`,
    Date.UTC(2026, 10, 27, 10),
  );
  sql.exec("INSERT INTO outbox (body, created_at) VALUES ('{\"deltas\":[]}', 1)");
  sql.exec("INSERT INTO timers VALUES ('flush', 123)");
}

describe("the customer actor's schema migrations", () => {
  for (let from = 1; from < ACTOR_MIGRATIONS.length; from++) {
    it(`v${from} → v${ACTOR_MIGRATIONS.length} keeps every row`, async () => {
      const stub = env.CUSTOMER_ACTOR.getByName(`migrate-from-v${from}`);
      await runInDurableObject(stub, async (instance: CustomerActor, state) => {
        resetTo(state.storage, from);
        seedV1(state.storage.sql);
        if (from >= 2) {
          state.storage.sql.exec(
            "INSERT INTO signals VALUES ('k1', 'MarginGuard', '{\"detector\":\"MarginGuard\"}', 7)",
          );
        }

        expect(migrateActorSchema(state.storage)).toBe(ACTOR_MIGRATIONS.length);
        expect(state.storage.kv.get("schema_version")).toBe(ACTOR_MIGRATIONS.length);

        const [event] = await instance.eventsByIds(["evt_old"]);
        expect(event).toMatchObject({
          id: "evt_old",
          quantity: "1532",
          revenue: "4.596",
          cost: "0.003",
          model: "claude-sonnet-4-5",
          subscription_id: "sub_1",
          properties: { endpoint: "/v1/chat" },
        });
        expect(await instance.periodUsage("sub_1", Date.UTC(2026, 10, 1))).toEqual({
          input_tokens: "1532000000",
        });
        // The pending hourly delta and the unsent outbox row are both still to be sent.
        expect(await instance.pendingOutbox()).toBe(2);
        const one = (q: string) => state.storage.sql.exec<{ n: number }>(q).one().n;
        expect(one("SELECT COUNT(*) AS n FROM timers")).toBe(1);
        expect(one("SELECT COUNT(*) AS n FROM outbox WHERE sent_at IS NULL")).toBe(1);
        if (from >= 2) expect(one("SELECT COUNT(*) AS n FROM signals")).toBe(1);
      });
    });
  }

  it("is a no-op on a current schema", async () => {
    const stub = env.CUSTOMER_ACTOR.getByName("migrate-current");
    await runInDurableObject(stub, (_i: CustomerActor, state) => {
      expect(migrateActorSchema(state.storage)).toBe(ACTOR_MIGRATIONS.length);
    });
  });
});
