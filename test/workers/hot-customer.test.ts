import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { type CustomerBatch, ingestForCustomer } from "../../workers/actor-calls";
import { customer, HOUR } from "./billing-helpers";
import { createCatalog, createTenant, type Tenant } from "./helpers";

// Issue 11, hot customers: one customer's concurrent requests share actor calls
// (workers/actor-calls.ts). Concurrent HTTP requests are in test/stack/hot-customer.test.ts:
// the Workers pool dispatches the test's requests in a way that does not hand promises between
// request contexts as workerd does, so coalescing across requests is tested on `wrangler dev`.

let tenant: Tenant;
const hour = Date.now() - (Date.now() % HOUR) - HOUR;

beforeEach(async () => {
  tenant = await createTenant("Hot AI");
  await createCatalog(tenant);
});

describe("a hot customer", () => {
  it("sends the requests that arrive during a call together in the next one", async () => {
    await customer(tenant, "whale");
    let calls = 0;
    let events = 0;
    const counting = {
      ...env,
      CUSTOMER_ACTOR: {
        getByName: (name: string) => {
          const stub = env.CUSTOMER_ACTOR.getByName(name);
          return {
            ingest: (req: { events: unknown[] }) => {
              calls++;
              events += req.events.length;
              return stub.ingest(req as never);
            },
          };
        },
      },
    } as unknown as Env;
    const batch = (r: number): CustomerBatch => ({
      tenantId: tenant.tenant_id,
      customerId: "whale",
      catalogVersion: 0,
      rawRetentionDays: 35,
      detail: false,
      events: Array.from({ length: 5 }, (_, i) => ({
        id: `w_${r}_${i}`,
        customer: "whale",
        product: "chat-api",
        metric: "input_tokens",
        quantity: 1,
        time: hour + r,
        source: "api",
      })),
    });
    const pending: Promise<unknown>[] = [];
    const answers = await Promise.all(
      Array.from({ length: 60 }, (_, r) =>
        ingestForCustomer(counting, (p) => pending.push(p), batch(r)),
      ),
    );
    await Promise.all(pending);
    expect(answers.every((a) => a.accepted === 5 && a.duplicates === 0)).toBe(true);
    expect(events).toBe(300);
    // The first request goes alone; the 59 that arrived meanwhile share the next call.
    expect(calls).toBeLessThanOrEqual(3);
  });
});
