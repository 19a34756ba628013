import { describe, expect, it } from "vitest";
import {
  type Call,
  call,
  createCatalog,
  createTenant,
  expectProblem,
  type Tenant,
} from "./helpers";

// DRAFT plans (issue 18 §2): a draft is priced and previewed but no customer goes onto it until
// POST /api/plans/:id/publish; its terms may be replaced until then, never after.

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

function api(tenant: Tenant) {
  const token = tenant.operator_token;
  return {
    get: (path: string) => call("GET", `/api${path}`, { token }),
    post: (path: string, body?: unknown) =>
      call("POST", `/api${path}`, { token, body: body ?? {} }),
    patch: (path: string, body: unknown) => call("PATCH", `/api${path}`, { token, body }),
  };
}

function ok(res: Call, status = 200) {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  return res.body;
}

const draftBody = {
  id: "chat-next",
  product: "chat-api",
  name: "Chat Next",
  status: "draft",
  components: [
    { type: "flat", amount: "49" },
    { type: "per_unit", metric: "input_tokens", unit_price: "0.000002" },
  ],
};

/** A tenant with the helpers' catalog (plan chat-pro, customer acme subscribed) and a draft. */
async function withDraft() {
  const tenant = await createTenant();
  const { subscription } = await createCatalog(tenant);
  const a = api(tenant);
  const draft = ok(await a.post("/plans", draftBody), 201);
  return { tenant, a, draft, subscription };
}

describe("draft plans", () => {
  it("creates a draft with no publication date; plans are created active by default", async () => {
    const { a, draft } = await withDraft();
    expect(draft).toMatchObject({ id: "chat-next", status: "draft", published_at: null });
    const existing = ok(await a.get("/plans/chat-pro"));
    expect(existing.status).toBe("active");
    expect(existing.published_at).toMatch(ISO);
    expect(existing.published_at).toBe(existing.created_at);
  });

  it("filters plans by status", async () => {
    const { a } = await withDraft();
    const drafts = ok(await a.get("/plans?status=draft"));
    expect(drafts.data.map((p: { id: string }) => p.id)).toEqual(["chat-next"]);
    const active = ok(await a.get("/plans?status=active"));
    expect(active.data.map((p: { id: string }) => p.id)).toEqual(["chat-pro"]);
    expectProblem(await a.get("/plans?status=published"), 400, "validation_failed");
  });

  it("refuses to subscribe a customer to a draft, naming the plan and its status", async () => {
    const { a } = await withDraft();
    ok(await a.post("/customers", { id: "globex", name: "Globex" }), 201);
    const res = await a.post("/subscriptions", {
      customer: "globex",
      plan: "chat-next",
      start: "2026-11-01T00:00:00Z",
    });
    expectProblem(res, 409, "conflict");
    expect(res.body.detail).toContain("'chat-next'");
    expect(res.body.detail).toContain("draft");
    expect(ok(await a.get("/subscriptions?customer=globex")).data).toEqual([]);
  });

  it("refuses to change a subscription onto a draft", async () => {
    const { a, subscription } = await withDraft();
    const res = await a.post(`/subscriptions/${subscription.id}/change`, {
      plan: "chat-next",
      at: "2026-11-15T00:00:00Z",
    });
    expectProblem(res, 409, "conflict");
    expect(res.body.detail).toContain("'chat-next'");
    expect(res.body.detail).toContain("draft");
    const history = ok(await a.get(`/subscriptions/${subscription.id}?include=history`));
    expect(history.phases.map((p: { plan: string }) => p.plan)).toEqual(["chat-pro"]);
  });

  it("publishes a draft once (idempotent), audited; then customers can go onto it", async () => {
    const { a, subscription } = await withDraft();
    const published = ok(await a.post("/plans/chat-next/publish"));
    expect(published).toMatchObject({ id: "chat-next", status: "active" });
    expect(published.published_at).toMatch(ISO);
    const again = ok(await a.post("/plans/chat-next/publish"));
    expect(again.published_at).toBe(published.published_at);
    expect(again.components).toEqual(draftBody.components);

    const trail = ok(await a.get("/audit?action=plan.publish"));
    expect(trail.data[0]).toMatchObject({ action: "plan.publish", target_id: "chat-next" });

    const changed = ok(
      await a.post(`/subscriptions/${subscription.id}/change`, {
        plan: "chat-next",
        at: "2026-11-15T00:00:00Z",
      }),
    );
    expect(changed.phases.map((p: { plan: string }) => p.plan)).toEqual(["chat-pro", "chat-next"]);
  });

  it("answers 404 problem+json for an unknown plan, and another tenant's draft is unknown", async () => {
    const { a } = await withDraft();
    expectProblem(await a.post("/plans/no-such-plan/publish"), 404, "not_found");
    const other = api(await createTenant("Other Co"));
    expectProblem(await other.post("/plans/chat-next/publish"), 404, "not_found");
    expect(ok(await a.get("/plans/chat-next")).status).toBe("draft");
  });

  it("refuses to publish an archived plan", async () => {
    const { a } = await withDraft();
    ok(await a.patch("/plans/chat-next", { status: "archived" }));
    expectProblem(await a.post("/plans/chat-next/publish"), 409, "conflict");
  });

  it("replaces a draft's terms, validated like a new plan; fixed once published", async () => {
    const { a } = await withDraft();
    const components = [
      { type: "flat", amount: "59" },
      {
        type: "tiered",
        metric: "output_tokens",
        mode: "graduated",
        tiers: [
          { up_to: "1000000", unit_price: "0.00001" },
          { up_to: null, unit_price: "0.000008" },
        ],
      },
    ];
    const replaced = ok(
      await a.patch("/plans/chat-next", { name: "Chat Next 2", currency: "EUR", components }),
    );
    expect(replaced).toMatchObject({
      name: "Chat Next 2",
      currency: "EUR",
      status: "draft",
      components,
    });
    expect(ok(await a.get("/plans/chat-next")).components).toEqual(components);

    const bad = await a.patch("/plans/chat-next", {
      components: [{ type: "per_unit", metric: "images", unit_price: "1" }],
    });
    expectProblem(bad, 400, "validation_failed");
    expect(bad.body.errors.map((e: { path: string }) => e.path)).toContain("components.0.metric");
    expect(ok(await a.get("/plans/chat-next")).components).toEqual(components);

    ok(await a.post("/plans/chat-next/publish"));
    expectProblem(
      await a.patch("/plans/chat-next", { components: [{ type: "flat", amount: "1" }] }),
      409,
      "conflict",
    );
    expectProblem(await a.patch("/plans/chat-next", { status: "draft" }), 409, "conflict");
    expectProblem(await a.patch("/plans/chat-pro", { status: "draft" }), 409, "conflict");
    expect(ok(await a.patch("/plans/chat-next", { name: "Chat Next GA" })).name).toBe(
      "Chat Next GA",
    );
  });
});
