import { beforeEach, describe, expect, it } from "vitest";
import {
  api,
  clockSettled,
  customer,
  DAY,
  isoOf,
  monthStart,
  ok,
  plan,
  product,
  subscribe,
} from "./billing-helpers";
import { createTenant, type Tenant } from "./helpers";

// Payments recorded after the fact (a history import, the demo book): a run that finds an old
// invoice still open marks its subscription past_due at the due date; a payment then recorded
// at a date before that due date means the subscription never was past due.

let tenant: Tenant;
let a: ReturnType<typeof api>;
const NOW = Date.now();
const S = monthStart(NOW, -4);
const P2 = monthStart(NOW, -3);
const P3 = monthStart(NOW, -2);

beforeEach(async () => {
  tenant = await createTenant();
  a = api(tenant);
  await clockSettled(tenant);
  await product(tenant);
  await plan(tenant, "starter", [{ type: "flat", amount: "50" }]);
  await customer(tenant, "acme");
});

const history = async (id: string) =>
  (await ok(a.get(`/api/subscriptions/${id}?include=history`))) as {
    status: string;
    status_changes: { status: string; at: string }[];
  };
const invoicesOf = async (sub: string) =>
  (
    (await ok(a.get(`/api/invoices?subscription=${sub}`))).data as {
      id: string;
      period: { start: string };
      due_at: string;
      issued_at: string;
      status: string;
    }[]
  ).sort((x, y) => x.period.start.localeCompare(y.period.start));

describe("dunning with payments recorded later", () => {
  it("takes back the past_due of an invoice paid within its terms", async () => {
    const sub = await subscribe(tenant, "acme", "starter", S);
    await ok(a.post("/api/invoices/run", { as_of: isoOf(P3) }));
    const [first, second] = await invoicesOf(sub.id);
    if (!first || !second) throw new Error("expected two invoices");
    // The run (as of now) found both open past their due dates: past_due since the first one's.
    await ok(a.post("/api/invoices/run", {}));
    expect((await history(sub.id)).status).toBe("past_due");
    // Both were paid 10 days after issue, well within the 30-day terms.
    await ok(a.post(`/api/invoices/${first.id}/pay`, { at: isoOf(P2 + 10 * DAY) }));
    // The second is still overdue: the next run marks it (past_due since its own due date).
    await ok(a.post("/api/invoices/run", {}));
    const between = await history(sub.id);
    expect(between.status).toBe("past_due");
    expect(between.status_changes.at(-1)).toMatchObject({ status: "past_due", at: second.due_at });
    await ok(a.post(`/api/invoices/${second.id}/pay`, { at: isoOf(P3 + 10 * DAY) }));
    const h = await history(sub.id);
    // Each past_due a run recorded is taken back at that same due date.
    expect(h.status_changes.map((c) => [c.status, c.at])).toEqual([
      ["past_due", first.due_at],
      ["active", first.due_at],
      ["past_due", second.due_at],
      ["active", second.due_at],
    ]);
    // The later periods' invoices (the runs as of now made them) paid within terms too: a new
    // run finds nothing overdue.
    for (const inv of await invoicesOf(sub.id)) {
      if (inv.status !== "open") continue;
      await ok(
        a.post(`/api/invoices/${inv.id}/pay`, {
          at: isoOf(Math.min(Date.now(), Date.parse(inv.issued_at) + 2 * DAY)),
        }),
      );
    }
    await ok(a.post("/api/invoices/run", {}));
    expect((await history(sub.id)).status).toBe("active");
  });

  it("keeps the past_due of a payment that came after the due date, until that payment", async () => {
    const sub = await subscribe(tenant, "acme", "starter", S);
    await ok(a.post("/api/invoices/run", { as_of: isoOf(P2) }));
    const [first] = await invoicesOf(sub.id);
    if (!first) throw new Error("expected an invoice");
    await ok(a.post("/api/invoices/run", {}));
    const paidAt = Date.parse(first.due_at) + 5 * DAY;
    await ok(a.post(`/api/invoices/${first.id}/pay`, { at: isoOf(paidAt) }));
    const h = await history(sub.id);
    expect(h.status).toBe("active");
    expect(h.status_changes.map((c) => [c.status, c.at])).toEqual([
      ["past_due", first.due_at],
      ["active", isoOf(paidAt)],
    ]);
  });

  it("stays past_due when another invoice was overdue at the paid one's due date", async () => {
    const sub = await subscribe(tenant, "acme", "starter", S);
    await ok(a.post("/api/invoices/run", { as_of: isoOf(P3) }));
    const [first, second] = await invoicesOf(sub.id);
    if (!first || !second) throw new Error("expected two invoices");
    await ok(a.post("/api/invoices/run", {}));
    // The second is paid early; the first stays unpaid and overdue.
    await ok(a.post(`/api/invoices/${second.id}/pay`, { at: isoOf(P3 + 3 * DAY) }));
    expect((await history(sub.id)).status).toBe("past_due");
  });
});
