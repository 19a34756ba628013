import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { settleSubscriptions } from "../../workers/billing/history";
import { recordCustomerStatusChange, recordStatusChange } from "../../workers/billing/status";
import {
  api,
  clockSettled,
  customer,
  DAY,
  eventRevenue,
  isoOf,
  monthStart,
  nanos,
  ok,
  plan,
  product,
  send,
  subscribe,
  toCents,
  tokens,
} from "./billing-helpers";
import { ADMIN_TOKEN, call, createTenant, expectProblem, type Tenant } from "./helpers";

// Billing periods, plan history and invoices, through the API. Dates are relative to the
// current month so events stay inside the backfill horizon; expected amounts are computed by
// hand in each test from the period lengths.

let tenant: Tenant;
let a: ReturnType<typeof api>;
const NOW = Date.now();
/** Three months before the current one: period 1 = [S, S+1m), period 2 = [S+1m, S+2m). */
const S = monthStart(NOW, -3);
const P2 = monthStart(NOW, -2);
const P3 = monthStart(NOW, -1);

async function catalog() {
  await product(tenant);
  // Starter: $50/month, 10k input tokens included, then $0.001 each.
  await plan(tenant, "starter", [
    { type: "flat", amount: "50" },
    { type: "included", metric: "input_tokens", quantity: 10_000 },
    { type: "per_unit", metric: "input_tokens", unit_price: "0.001" },
  ]);
  // Pro: $200/month, graduated: first 100k at $0.0008, then $0.0005.
  await plan(tenant, "pro", [
    { type: "flat", amount: "200" },
    {
      type: "tiered",
      metric: "input_tokens",
      mode: "graduated",
      tiers: [
        { up_to: 100_000, unit_price: "0.0008" },
        { up_to: null, unit_price: "0.0005" },
      ],
    },
  ]);
  await customer(tenant, "acme");
}

beforeEach(async () => {
  tenant = await createTenant();
  a = api(tenant);
  await clockSettled(tenant);
  await catalog();
});

const invoicesOf = async (query = "") => (await ok(a.get(`/api/invoices?${query}`))).data;

describe("invoices at period close", () => {
  it("bills each closed period once: flat fee plus the rated usage, equal to the events' revenue", async () => {
    const sub = await subscribe(tenant, "acme", "starter", S);
    await send(tenant, [
      tokens("acme", S + 2 * DAY, 6_000),
      tokens("acme", S + 5 * DAY, 7_000),
      tokens("acme", P2 + DAY, 4_000),
    ]);
    const run = await ok(a.post("/api/invoices/run", {}));
    // Periods 1, 2 and 3 have closed (the current one has not).
    expect(run.created).toBe(3);
    expect((await ok(a.post("/api/invoices/run", {}))).created).toBe(0); // idempotent

    const list = await invoicesOf(`subscription=${sub.id}`);
    expect(list.map((i: { period: { start: string } }) => i.period.start)).toEqual([
      isoOf(P3),
      isoOf(P2),
      isoOf(S),
    ]);
    const first = await ok(a.get(`/api/invoices/${list[2].id}`));
    // 13,000 tokens − 10,000 included = 3,000 × $0.001 = $3.00, + $50 flat.
    expect(first).toMatchObject({
      status: "open",
      total: "53.00",
      usage_total: "3.00",
      subtotal: "53.00",
      customer: "acme",
      product: "chat-api",
      currency: "USD",
      issued_at: isoOf(P2),
      due_at: isoOf(P2 + 30 * DAY),
    });
    expect(first.lines.map((l: { type: string; amount: string }) => [l.type, l.amount])).toEqual([
      ["flat", "50.00"],
      ["included", "0.00"],
      ["per_unit", "3.00"],
    ]);
    // Invoice = the period's events' revenue + the flat fee, to the cent.
    const revenue = await eventRevenue(tenant, "acme", S, P2);
    expect(toCents(revenue + nanos("50"))).toBe(toCents(nanos(first.total)));
    // Period 2: 4,000 tokens, inside the quota.
    expect(list[1].total).toBe("50.00");
  });

  it("prices a mid-period upgrade as two stretches: each plan its own usage, flat fees prorated", async () => {
    const sub = await subscribe(tenant, "acme", "starter", S);
    const change = P2 + 10 * DAY;
    const changed = await ok(
      a.post(`/api/subscriptions/${sub.id}/change`, { plan: "pro", at: isoOf(change) }),
    );
    expect(changed.phases).toEqual([
      { plan: "starter", start: isoOf(S), end: isoOf(change), billing_anchor: isoOf(S) },
      { plan: "pro", start: isoOf(change), end: null, billing_anchor: isoOf(S) },
    ]);
    await send(tenant, [
      tokens("acme", P2 + DAY, 15_000), // starter: 5,000 over the quota → $5.00
      tokens("acme", change + DAY, 60_000), // pro: 60,000 × 0.0008 = $48.00
      tokens("acme", change + 2 * DAY, 60_000), // pro: 40,000 × 0.0008 + 20,000 × 0.0005 = $42.00
      tokens("acme", P3 + DAY, 1_000), // next period: pro from its first tier, $0.80
    ]);
    await ok(a.post("/api/invoices/run", { as_of: isoOf(P3 + DAY) }));
    const [inv] = await invoicesOf(
      `subscription=${sub.id}&period_from=${encodeURIComponent(isoOf(P2))}&period_to=${encodeURIComponent(isoOf(P3))}`,
    );
    const full = await ok(a.get(`/api/invoices/${inv.id}`));
    const len = P3 - P2;
    const starterFlat = (50n * 1_000_000_000n * BigInt(change - P2)) / BigInt(len);
    const proFlat = (200n * 1_000_000_000n * BigInt(P3 - change)) / BigInt(len);
    const expected = toCents(starterFlat + proFlat + nanos("95"));
    expect(toCents(nanos(full.total))).toBe(expected);
    expect(full.usage_total).toBe("95.00");
    const kinds = full.lines
      .filter((l: { type: string }) => l.type !== "rounding")
      .map((l: { plan: string; type: string }) => `${l.plan}:${l.type}`);
    expect(kinds).toEqual([
      "starter:flat",
      "starter:included",
      "starter:per_unit",
      "pro:flat",
      "pro:tiered",
    ]);
    const revenue = await eventRevenue(tenant, "acme", P2, P3);
    expect(revenue).toBe(nanos("95"));
    // The next period's invoice is not closed at P3 + 1 day.
    expect((await invoicesOf(`subscription=${sub.id}`)).length).toBe(2);
  });
});

describe("cancel and interval changes", () => {
  it("closes the last period at the cancel instant with the flat fee prorated", async () => {
    const sub = await subscribe(tenant, "acme", "starter", S);
    const cancelAt = P2 + 10 * DAY;
    const canceled = await ok(
      a.post(`/api/subscriptions/${sub.id}/cancel`, { at: isoOf(cancelAt) }),
    );
    expect(canceled).toMatchObject({ status: "canceled", end: isoOf(cancelAt) });
    expect(canceled.phases).toEqual([
      { plan: "starter", start: isoOf(S), end: isoOf(cancelAt), billing_anchor: isoOf(S) },
    ]);
    await send(tenant, [
      tokens("acme", P2 + DAY, 12_000),
      tokens("acme", cancelAt + DAY, 50_000, { id: "after-cancel" }),
    ]);
    const run = await ok(a.post("/api/invoices/run", {}));
    expect(run.created).toBe(2);
    const [last] = await invoicesOf(`subscription=${sub.id}`);
    expect(last.period).toEqual({ start: isoOf(P2), end: isoOf(P3) });
    expect(last.closes_at).toBe(isoOf(cancelAt));
    expect(last.issued_at).toBe(isoOf(cancelAt));
    const flat = (50n * 1_000_000_000n * 10n * BigInt(DAY)) / BigInt(P3 - P2);
    // 12,000 − 10,000 included = 2,000 × $0.001; usage after the cancel is not billed.
    expect(toCents(nanos(last.total))).toBe(toCents(flat + nanos("2")));
    const events = await ok(a.get("/api/customers/acme/events?limit=10"));
    const late = events.data.find((e: { id: string }) => e.id === "after-cancel");
    expect(late).toMatchObject({ revenue: "0", flags: ["uncosted", "no_subscription"] });
  });

  it("restarts the billing periods at a change to another interval", async () => {
    await plan(tenant, "yearly", [{ type: "flat", amount: "1200" }], { period: "year" });
    const sub = await subscribe(tenant, "acme", "starter", S);
    const at = P2 + 10 * DAY;
    const changed = await ok(
      a.post(`/api/subscriptions/${sub.id}/change`, { plan: "yearly", at: isoOf(at) }),
    );
    expect(changed.phases[1]).toEqual({
      plan: "yearly",
      start: isoOf(at),
      end: null,
      billing_anchor: isoOf(at),
    });
    await ok(a.post("/api/invoices/run", {}));
    const list = await invoicesOf(`subscription=${sub.id}`);
    // [S, P2) whole; [P2, P3) cut short at the change; the annual period has not closed.
    expect(
      list.map((i: { period: { start: string }; closes_at: string }) => [
        i.period.start,
        i.closes_at,
      ]),
    ).toEqual([
      [isoOf(P2), isoOf(at)],
      [isoOf(S), isoOf(P2)],
    ]);
    const flat = (50n * 1_000_000_000n * 10n * BigInt(DAY)) / BigInt(P3 - P2);
    expect(toCents(nanos(list[0].total))).toBe(toCents(flat));
  });

  it("validates changes and cancels", async () => {
    await ok(a.post("/api/products", { id: "other", name: "Other" }));
    await ok(
      a.post("/api/plans", {
        id: "other-plan",
        product: "other",
        name: "x",
        currency: "USD",
        period: "month",
        components: [{ type: "flat", amount: "1" }],
      }),
    );
    await plan(tenant, "old", [{ type: "flat", amount: "1" }]);
    await ok(
      call("PATCH", "/api/plans/old", {
        token: tenant.operator_token,
        body: { status: "archived" },
      }),
    );
    await plan(tenant, "euro", [{ type: "flat", amount: "1" }], { currency: "EUR" });
    const sub = await subscribe(tenant, "acme", "starter", S);
    const change = (body: unknown) => a.post(`/api/subscriptions/${sub.id}/change`, body);
    expectProblem(await change({ plan: "nope", at: isoOf(P2) }), 400, "validation_failed");
    expectProblem(await change({ plan: "other-plan", at: isoOf(P2) }), 400, "validation_failed");
    expectProblem(await change({ plan: "old", at: isoOf(P2) }), 400, "validation_failed");
    expectProblem(await change({ plan: "euro", at: isoOf(P2) }), 400, "validation_failed");
    expectProblem(await change({ plan: "pro", at: isoOf(S - DAY) }), 400, "validation_failed");
    expectProblem(await change({ plan: "pro" }), 400, "validation_failed");
    expectProblem(await change({ plan: "starter", at: isoOf(P2) }), 409, "conflict");
    await ok(change({ plan: "pro", at: isoOf(P3) }));
    // Not before the latest change…
    expectProblem(await change({ plan: "starter", at: isoOf(P2) }), 409, "conflict");
    // …but at it, it replaces it (here: back to starter, which simply continues).
    const back = await ok(change({ plan: "starter", at: isoOf(P3) }));
    expect(back.phases).toHaveLength(1);
    await ok(a.post(`/api/subscriptions/${sub.id}/cancel`, { at: isoOf(P3 + DAY) }));
    expectProblem(await change({ plan: "pro", at: isoOf(P3 + 2 * DAY) }), 400, "validation_failed");
    expectProblem(
      await a.post(`/api/subscriptions/${sub.id}/cancel`, { at: isoOf(P3) }),
      409,
      "conflict",
    );
    expectProblem(await a.post("/api/subscriptions/nope/cancel", {}), 404, "not_found");
    expectProblem(
      await a.post("/api/subscriptions/nope/change", { plan: "pro", at: isoOf(P2) }),
      404,
      "not_found",
    );
  });

  it("refuses to rewrite an invoiced period until its invoice is voided, then reissues it", async () => {
    const sub = await subscribe(tenant, "acme", "starter", S);
    await ok(a.post("/api/invoices/run", { as_of: isoOf(P2) }));
    const [first] = await invoicesOf(`subscription=${sub.id}`);
    const change = { plan: "pro", at: isoOf(S + 5 * DAY) };
    expectProblem(await a.post(`/api/subscriptions/${sub.id}/change`, change), 409, "conflict");
    expectProblem(
      await a.post(`/api/subscriptions/${sub.id}/cancel`, { at: isoOf(S + DAY) }),
      409,
      "conflict",
    );
    await ok(a.post(`/api/invoices/${first.id}/void`, { reason: "plan corrected" }));
    await ok(a.post(`/api/subscriptions/${sub.id}/change`, change));
    expect((await ok(a.post("/api/invoices/run", { as_of: isoOf(P2) }))).created).toBe(0);
    const again = await ok(a.post("/api/invoices/run", { as_of: isoOf(P2), reissue_voided: true }));
    expect(again.created).toBe(1);
    const fresh = await ok(a.get(`/api/invoices/${again.invoice_ids[0]}`));
    expect(
      fresh.lines
        .filter((l: { type: string }) => l.type === "flat")
        .map((l: { plan: string }) => l.plan),
    ).toEqual(["starter", "pro"]);
  });
});

describe("invoice states", () => {
  async function openInvoice() {
    const sub = await subscribe(tenant, "acme", "starter", S);
    await ok(a.post("/api/invoices/run", { as_of: isoOf(P2) }));
    return { sub, inv: (await invoicesOf(`subscription=${sub.id}`))[0] };
  }

  it("goes open → paid once, and returns a past_due subscription to active", async () => {
    const { sub, inv } = await openInvoice();
    expect(inv).toMatchObject({ status: "open", amount_due: "50.00", paid_at: null });
    // Overdue since P2 + 30 days: dunning made the subscription past_due then.
    await ok(a.post("/api/invoices/run", {}));
    expect((await ok(a.get(`/api/subscriptions/${sub.id}`))).status).toBe("past_due");
    expectProblem(
      await a.post(`/api/invoices/${inv.id}/pay`, { at: isoOf(P2 - DAY) }),
      400,
      "validation_failed",
    );
    expectProblem(
      await a.post(`/api/invoices/${inv.id}/pay`, { at: isoOf(NOW + 30 * DAY) }),
      400,
      "validation_failed",
    );
    const paidAt = P2 + 40 * DAY;
    const paid = await ok(
      a.post(`/api/invoices/${inv.id}/pay`, { at: isoOf(paidAt), reference: "pi_123" }),
    );
    expect(paid).toMatchObject({
      status: "paid",
      paid_at: isoOf(paidAt),
      payment_reference: "pi_123",
      amount_due: "0.00",
    });
    expectProblem(await a.post(`/api/invoices/${inv.id}/pay`, {}), 409, "conflict");
    expectProblem(await a.post(`/api/invoices/${inv.id}/void`, {}), 409, "conflict");
    expectProblem(await a.post(`/api/invoices/${inv.id}/finalize`), 409, "conflict");
    const s = await ok(a.get(`/api/subscriptions/${sub.id}?include=history`));
    // Only the first invoice existed (as_of P2), so paying it settles the dunning.
    expect(s.status).toBe("active");
    expect(s.status_changes.map((c: { status: string; at: string }) => [c.status, c.at])).toEqual([
      ["past_due", isoOf(P2 + 30 * DAY)],
      ["active", isoOf(paidAt)],
    ]);
  });

  it("goes open → void, and a void invoice cannot be paid", async () => {
    const { inv } = await openInvoice();
    const voided = await ok(a.post(`/api/invoices/${inv.id}/void`, { reason: "goodwill" }));
    expect(voided).toMatchObject({ status: "void", void_reason: "goodwill", amount_due: "0.00" });
    expectProblem(await a.post(`/api/invoices/${inv.id}/pay`, {}), 409, "conflict");
    expectProblem(await a.post(`/api/invoices/${inv.id}/void`, {}), 409, "conflict");
  });

  it("keeps an invoice draft while usage may still arrive, refreshes it, then finalises it", async () => {
    const sub = await subscribe(tenant, "acme", "starter", S);
    const end = Date.now() - 10 * 60_000; // canceled 10 minutes ago: the period just closed
    await ok(a.post(`/api/subscriptions/${sub.id}/cancel`, { at: isoOf(end) }));
    await send(tenant, [tokens("acme", end - 60_000, 11_000)]);
    await ok(a.post("/api/invoices/run", {}));
    const [draft] = await invoicesOf(`subscription=${sub.id}&status=draft`);
    expect(draft).toMatchObject({ issued_at: null, due_at: null, closes_at: isoOf(end) });
    const usage1 = draft.usage_total;
    expect(usage1).toBe("1.00"); // 1,000 over the quota
    expectProblem(await a.post(`/api/invoices/${draft.id}/pay`, {}), 409, "conflict");
    // A late event inside the period: the next run refreshes the draft.
    await send(tenant, [tokens("acme", end - 120_000, 2_000)]);
    const run = await ok(a.post("/api/invoices/run", {}));
    expect(run.refreshed).toBe(1);
    const refreshed = await ok(a.get(`/api/invoices/${draft.id}`));
    expect(refreshed.usage_total).toBe("3.00");
    const open = await ok(a.post(`/api/invoices/${draft.id}/finalize`));
    expect(open).toMatchObject({
      status: "open",
      issued_at: isoOf(end),
      due_at: isoOf(end + 30 * DAY),
    });
    expect(open.finalized_at).not.toBeNull();
  });

  it("bills nothing for a period wholly in the trial (paid at zero) and prorates the first paid one", async () => {
    await plan(tenant, "trialing", [{ type: "flat", amount: "100" }], { trial_days: 45 });
    const sub = await subscribe(tenant, "acme", "trialing", S);
    await send(tenant, [tokens("acme", S + DAY, 5_000)]);
    await ok(a.post("/api/invoices/run", {}));
    const [p3, p2, p1] = await invoicesOf(`subscription=${sub.id}`);
    expect(p1).toMatchObject({ status: "paid", total: "0.00" });
    const trialEnd = S + 45 * DAY;
    const share = (100n * 1_000_000_000n * BigInt(P3 - trialEnd)) / BigInt(P3 - P2);
    expect(toCents(nanos(p2.total))).toBe(toCents(share));
    expect(p3.total).toBe("100.00");
    const events = await ok(a.get("/api/customers/acme/events"));
    expect(events.data[0]).toMatchObject({ revenue: "0", flags: ["uncosted", "trial"] });
  });

  it("applies the ladder's coupons in force at the period close", async () => {
    const sub = await subscribe(tenant, "acme", "starter", S);
    await env.DB.prepare(
      `INSERT INTO coupons (tenant_id, id, customer_id, subscription_id, percent_off, amount_off,
         valid_from, valid_to, created_at) VALUES (?, 'cpn_1', 'acme', NULL, '10', '2', ?, ?, ?)`,
    )
      .bind(tenant.tenant_id, S, P3, Date.now())
      .run();
    await ok(a.post("/api/invoices/run", {}));
    const [p3, p2, p1] = await invoicesOf(`subscription=${sub.id}`);
    // $50 − 10 % − $2 = $43 for the periods closing while it is valid (P2 and P3 closes).
    expect(p1.total).toBe("43.00");
    expect(p2.total).toBe("50.00"); // closes at P3, the coupon's end (exclusive)
    expect(p3.total).toBe("50.00");
    const full = await ok(a.get(`/api/invoices/${p1.id}`));
    expect(full.lines.at(-1)).toMatchObject({ type: "coupon", amount: "-7.00" });
    expect(full.discount_total).toBe("-7.00");
  });
});

describe("who moved an invoice (issue 13)", () => {
  /** Signs `email` in as a member of `role` by a magic link; what the dashboard sends. */
  async function memberSession(email: string, role: string) {
    await ok(a.post("/api/members", { email, role }));
    const link = await call("POST", `/admin/tenants/${tenant.tenant_id}/sign-in-links`, {
      token: ADMIN_TOKEN,
      body: { email },
    });
    const { exports } = await import("cloudflare:workers");
    const res = await exports.default.fetch("http://aforo.test/auth/magic-link/verify", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token: new URL(link.body.url).searchParams.get("link") }),
    });
    expect(res.status).toBe(200);
    const { csrf_token } = (await res.json()) as { csrf_token: string };
    const headers = {
      cookie: (res.headers.get("set-cookie") ?? "").split(";")[0] ?? "",
      "x-csrf-token": csrf_token,
      origin: "http://aforo.test",
    };
    return { post: (path: string, body: unknown = {}) => call("POST", path, { headers, body }) };
  }

  it("names the member who paid, the token that voided, the run that finalised; a viewer's pay is refused and names no one", async () => {
    await customer(tenant, "bolt");
    const first = await subscribe(tenant, "acme", "starter", S);
    const second = await subscribe(tenant, "bolt", "starter", S);
    await ok(a.post("/api/invoices/run", { as_of: isoOf(P2) }));
    const [toPay] = await invoicesOf(`subscription=${first.id}`);
    const [toVoid] = await invoicesOf(`subscription=${second.id}`);
    // Past its grace hour when the run made it: the run finalised it, no person did.
    for (const inv of [toPay, toVoid]) {
      expect(inv).toMatchObject({
        status: "open",
        finalized_by: "system",
        paid_by: null,
        voided_by: null,
      });
    }

    const viewer = await memberSession("vera@example.com", "viewer");
    expectProblem(await viewer.post(`/api/invoices/${toPay.id}/pay`, {}), 403, "forbidden");
    expect(await ok(a.get(`/api/invoices/${toPay.id}`))).toMatchObject({
      status: "open",
      paid_at: null,
      paid_by: null,
    });

    const finance = await memberSession("fay@example.com", "finance");
    const paid = await ok(finance.post(`/api/invoices/${toPay.id}/pay`, { reference: "pi_9" }));
    expect(paid).toMatchObject({ status: "paid", paid_by: "member:fay@example.com" });
    expect(await ok(a.get(`/api/invoices/${toPay.id}`))).toMatchObject({
      paid_by: "member:fay@example.com",
      voided_by: null,
      finalized_by: "system",
    });

    const issued = await ok(a.post("/api/keys", { kind: "operator", role: "finance" }));
    const voided = await call("POST", `/api/invoices/${toVoid.id}/void`, {
      token: issued.key,
      body: { reason: "duplicate" },
    });
    expect(voided.status).toBe(200);
    expect(voided.body).toMatchObject({ status: "void", voided_by: `token:${issued.id}` });
    const list = await invoicesOf(`subscription=${second.id}`);
    expect(list[0]).toMatchObject({ voided_by: `token:${issued.id}`, paid_by: null });
    // The same names the audit log gives these actions.
    const trail = await ok(a.get("/api/audit?action=invoice&limit=50"));
    const actorOf = (action: string, target: string) =>
      trail.data.find(
        (e: { action: string; target_id: string | null }) =>
          e.action === action && e.target_id === target,
      )?.actor;
    expect(actorOf("invoice.pay", toPay.id)).toBe("member:fay@example.com");
    expect(actorOf("invoice.void", toVoid.id)).toBe(`token:${issued.id}`);
  });

  it("names who finalised a draft by hand", async () => {
    const sub = await subscribe(tenant, "acme", "starter", S);
    await ok(a.post(`/api/subscriptions/${sub.id}/cancel`, { at: isoOf(Date.now() - 600_000) }));
    await ok(a.post("/api/invoices/run", {}));
    const [draft] = await invoicesOf(`subscription=${sub.id}&status=draft`);
    expect(draft.finalized_by).toBeNull();
    const me = await ok(a.get("/api/me"));
    const open = await ok(a.post(`/api/invoices/${draft.id}/finalize`));
    expect(open).toMatchObject({ status: "open", finalized_by: me.actor });
    expect(me.actor).toMatch(/^token:[0-9a-f]+$/);
    // A later run does not claim it.
    await ok(a.post("/api/invoices/run", {}));
    expect((await ok(a.get(`/api/invoices/${draft.id}`))).finalized_by).toBe(me.actor);
  });
});

describe("GET /api/invoices", () => {
  it("filters by customer, status and period, newest first, with a cursor", async () => {
    await customer(tenant, "beta");
    await subscribe(tenant, "acme", "starter", S);
    await subscribe(tenant, "beta", "pro", S);
    await ok(a.post("/api/invoices/run", {}));
    expect(await invoicesOf()).toHaveLength(6);
    expect(await invoicesOf("customer=beta")).toHaveLength(3);
    const month = new Date(P2).toISOString().slice(0, 7);
    const inMonth = await invoicesOf(`period=${month}`);
    expect(inMonth.map((i: { period: { start: string } }) => i.period.start)).toEqual([
      isoOf(P2),
      isoOf(P2),
    ]);
    const page1 = await ok(a.get("/api/invoices?limit=4"));
    const page2 = await ok(a.get(`/api/invoices?limit=4&cursor=${page1.next_cursor}`));
    expect(page1.data).toHaveLength(4);
    expect(page2.data).toHaveLength(2);
    expect(page2.next_cursor).toBeNull();
    const ids = [...page1.data, ...page2.data].map((i: { id: string }) => i.id);
    expect(new Set(ids).size).toBe(6);
    const first = page1.data[0];
    await ok(a.post(`/api/invoices/${first.id}/pay`, {}));
    expect((await invoicesOf("status=paid")).map((i: { id: string }) => i.id)).toEqual([first.id]);
    expectProblem(await a.get("/api/invoices?status=late"), 400, "validation_failed");
    expectProblem(await a.get("/api/invoices?period=2026-13"), 400, "validation_failed");
    expectProblem(await a.get("/api/invoices?cursor=zzz"), 400, "validation_failed");
  });
});

describe("security", () => {
  it("needs an operator token on every billing route; an ingest key is refused", async () => {
    const sub = await subscribe(tenant, "acme", "starter", S);
    const routes: [string, string][] = [
      ["GET", "/api/invoices"],
      ["GET", "/api/invoices/inv_x"],
      ["POST", "/api/invoices/inv_x/pay"],
      ["POST", "/api/invoices/inv_x/void"],
      ["POST", "/api/invoices/inv_x/finalize"],
      ["POST", "/api/invoices/run"],
      ["POST", `/api/subscriptions/${sub.id}/change`],
      ["POST", `/api/subscriptions/${sub.id}/cancel`],
      ["POST", `/api/subscriptions/${sub.id}/status`],
    ];
    for (const [method, path] of routes) {
      const body = method === "GET" ? {} : { body: {} };
      expectProblem(await call(method, path, body), 401, "unauthorized");
      expectProblem(
        await call(method, path, { token: tenant.ingest_key, ...body }),
        403,
        "wrong_key_kind",
      );
    }
  });

  it("answers 404 for another tenant's subscriptions and invoices, and leaves them alone", async () => {
    const sub = await subscribe(tenant, "acme", "starter", S);
    await ok(a.post("/api/invoices/run", { as_of: isoOf(P2) }));
    const [inv] = await invoicesOf();
    const other = await createTenant("Other");
    const o = api(other);
    await product(other);
    await plan(other, "pro", [{ type: "flat", amount: "1" }]);
    expectProblem(await o.get(`/api/invoices/${inv.id}`), 404, "not_found");
    expectProblem(await o.post(`/api/invoices/${inv.id}/pay`, {}), 404, "not_found");
    expectProblem(await o.post(`/api/invoices/${inv.id}/void`, {}), 404, "not_found");
    expectProblem(await o.post(`/api/subscriptions/${sub.id}/cancel`, {}), 404, "not_found");
    expectProblem(
      await o.post(`/api/subscriptions/${sub.id}/change`, { plan: "pro", at: isoOf(P2) }),
      404,
      "not_found",
    );
    expectProblem(
      await o.post(`/api/subscriptions/${sub.id}/status`, { status: "suspended" }),
      404,
      "not_found",
    );
    expectProblem(await o.post("/api/invoices/run", { subscription: sub.id }), 404, "not_found");
    expect((await ok(o.get("/api/invoices"))).data).toEqual([]);
    expect((await ok(a.get(`/api/invoices/${inv.id}`))).status).toBe("open");
    expect((await ok(a.get(`/api/subscriptions/${sub.id}`))).status).not.toBe("canceled");
  });
});

describe("recordStatusChange (for the action ladder)", () => {
  it("records an effective-dated state once, idempotently, and only in its tenant", async () => {
    const sub = await subscribe(tenant, "acme", "starter", S);
    const at = NOW - DAY;
    const first = await recordStatusChange(
      env.DB,
      tenant.tenant_id,
      sub.id,
      "suspended",
      at,
      "ladder:BLOCK sig_1",
    );
    expect(first).toEqual({ subscription_id: sub.id, status: "suspended", recorded: true });
    const again = await recordStatusChange(
      env.DB,
      tenant.tenant_id,
      sub.id,
      "suspended",
      at + 1,
      "ladder:BLOCK sig_1",
    );
    expect(again?.recorded).toBe(false);
    const other = await createTenant("Other");
    expect(
      await recordStatusChange(env.DB, other.tenant_id, sub.id, "active", at, null),
    ).toBeNull();
    const back = await recordCustomerStatusChange(
      env.DB,
      tenant.tenant_id,
      "acme",
      "chat-api",
      "active",
      NOW - 60_000,
      "ladder:unblock",
    );
    expect(back).toEqual([{ subscription_id: sub.id, status: "active", recorded: true }]);
    const got = await ok(a.get(`/api/subscriptions/${sub.id}?include=history`));
    expect(got.status_changes.map((c: { status: string }) => c.status)).toEqual([
      "suspended",
      "active",
    ]);
    // The cockpit between the two shows it suspended.
    const c = await ok(
      a.get(`/api/metrics/cockpit?as_of=${encodeURIComponent(isoOf(NOW - DAY / 2))}`),
    );
    expect(c.health.slices.suspended).toBe(1);
  });

  it("keeps a suspension written straight into subscriptions.status (no history) and shows it", async () => {
    const sub = await subscribe(tenant, "acme", "starter", S);
    await env.DB.prepare(
      "UPDATE subscriptions SET status = 'suspended', updated_at = ? WHERE tenant_id = ? AND id = ?",
    )
      .bind(NOW - DAY, tenant.tenant_id, sub.id)
      .run();
    await settleSubscriptions(env.DB, tenant.tenant_id, Date.now());
    expect((await ok(a.get(`/api/subscriptions/${sub.id}`))).status).toBe("suspended");
    const c = await ok(a.get("/api/metrics/cockpit"));
    expect(c.health.slices.suspended).toBe(1);
  });
});
