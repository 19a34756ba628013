import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import {
  anomalySignal,
  createChannel,
  ensureSignalsTable,
  newHook,
  runConsumer,
  storeSignal,
  verifyStandardWebhook,
} from "./deliveries-helpers";
import { type Call, call, createTenant, expectProblem, type Tenant } from "./helpers";

// Route tests for /api/channels (alert channels): happy paths, validation, tenant isolation, and
// the rule that a secret is shown once, when it is created, and never again.

let tenant: Tenant;
const SLACK_TOKEN = "T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX";

const api = (t: Tenant) => {
  const token = t.operator_token;
  return {
    get: (path: string) => call("GET", `/api${path}`, { token }),
    post: (path: string, body?: unknown) => call("POST", `/api${path}`, { token, body }),
    patch: (path: string, body: unknown) => call("PATCH", `/api${path}`, { token, body }),
    del: (path: string) => call("DELETE", `/api${path}`, { token }),
  };
};

function expectValidation(res: Call, path: string) {
  expectProblem(res, 400, "validation_failed");
  const paths = res.body.errors.map((e: { path: string }) => e.path);
  expect(paths, JSON.stringify(res.body.errors)).toContain(path);
}

beforeEach(async () => {
  await ensureSignalsTable();
  tenant = await createTenant();
});

describe("POST /api/channels", () => {
  it("creates each type; a webhook's secret is generated and shown once", async () => {
    const op = api(tenant);
    const hook = newHook();
    const webhook = await op.post("/channels", { type: "webhook", name: "Ops", url: hook.url });
    expect(webhook.status).toBe(201);
    expect(webhook.body).toEqual({
      id: expect.stringMatching(/^ch_[0-9a-f]{16}$/),
      type: "webhook",
      name: "Ops",
      enabled: true,
      url: hook.url,
      to: null,
      from: null,
      secret_set: true,
      secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]{43}=$/),
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
    const slack = await op.post("/channels", {
      type: "slack",
      name: "#revenue",
      url: `https://hooks.slack.com/services/${SLACK_TOKEN}`,
    });
    expect(slack.status).toBe(201);
    // The Slack URL is a credential: only a hint is ever shown.
    expect(slack.body).toMatchObject({ type: "slack", url: "https://hooks.slack.com/…/…XXXX" });
    expect(slack.body.secret).toBeUndefined();
    const email = await op.post("/channels", {
      type: "email",
      name: "On call",
      to: "oncall@example.com",
      enabled: false,
    });
    expect(email.status).toBe(201);
    expect(email.body).toMatchObject({
      type: "email",
      to: "oncall@example.com",
      from: null,
      enabled: false,
      secret_set: false,
    });
    const list = await op.get("/channels");
    expect(list.body.data.map((c: { id: string }) => c.id)).toEqual([
      webhook.body.id,
      slack.body.id,
      email.body.id,
    ]);
  });

  it("keeps a given whsec_ secret and signs with it", async () => {
    const secret = `whsec_${btoa("0123456789abcdef0123456789abcdef")}`;
    const hook = newHook("given");
    const res = await api(tenant).post("/channels", {
      type: "webhook",
      name: "Mine",
      url: hook.url,
      secret,
    });
    expect(res.status).toBe(201);
    expect(res.body.secret).toBe(secret);
    const test = await api(tenant).post(`/channels/${res.body.id}/test`);
    expect(test.body).toMatchObject({ ok: true, status: 200, error: null });
    const [request] = await hook.log();
    await verifyStandardWebhook(secret, request?.headers ?? {}, request?.body ?? "");
  });

  it("validates type, URLs, addresses and secrets (problem+json)", async () => {
    const op = api(tenant);
    expectValidation(await op.post("/channels", { type: "pager", name: "x" }), "type");
    expectValidation(
      await op.post("/channels", { type: "webhook", name: "x", url: "http://example.com/hook" }),
      "url",
    );
    expectValidation(
      await op.post("/channels", { type: "slack", name: "x", url: "http://hooks.slack.com/x" }),
      "url",
    );
    expectValidation(
      await op.post("/channels", { type: "webhook", name: "x", url: "ftp://example.com/x" }),
      "url",
    );
    expectValidation(
      await op.post("/channels", { type: "webhook", name: "x", url: "https://u:p@example.com/" }),
      "url",
    );
    expectValidation(
      await op.post("/channels", { type: "webhook", name: "x", url: "nope" }),
      "url",
    );
    expectValidation(await op.post("/channels", { type: "email", name: "x", to: "nobody" }), "to");
    expectValidation(
      await op.post("/channels", {
        type: "webhook",
        name: "x",
        url: "https://example.com/h",
        secret: "not-a-secret",
      }),
      "secret",
    );
    expectValidation(
      await op.post("/channels", {
        type: "webhook",
        name: "x",
        url: "https://example.com/h",
        secret: `whsec_${btoa("short")}`,
      }),
      "secret",
    );
    // Fields of another type are refused, not ignored.
    expectValidation(
      await op.post("/channels", { type: "email", name: "x", to: "a@example.com", url: "x" }),
      "",
    );
    expectValidation(await op.post("/channels", { type: "slack", url: "https://x.test/" }), "name");
    // http is fine to a loopback receiver (local development).
    const local = await op.post("/channels", {
      type: "slack",
      name: "local",
      url: "http://localhost:9/hook",
    });
    expect(local.status).toBe(201);
    const malformed = await call("POST", "/api/channels", {
      token: tenant.operator_token,
      rawBody: "{",
      headers: { "content-type": "application/json" },
    });
    expectProblem(malformed, 400, "malformed_json");
  });

  it("caps a tenant at 20 channels (409)", async () => {
    const op = api(tenant);
    for (let i = 0; i < 20; i++) {
      const res = await op.post("/channels", { type: "email", name: `c${i}`, to: "a@example.com" });
      expect(res.status).toBe(201);
    }
    expectProblem(
      await op.post("/channels", { type: "email", name: "one too many", to: "a@example.com" }),
      409,
      "conflict",
    );
  });
});

describe("PATCH /api/channels/:id", () => {
  it("renames, disables, re-points and rotates the secret (shown once)", async () => {
    const op = api(tenant);
    const first = newHook("first");
    const second = newHook("second");
    const created = await createChannel(tenant, { type: "webhook", name: "Ops", url: first.url });
    const renamed = await op.patch(`/channels/${created.id}`, { name: "Ops 2", enabled: false });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ name: "Ops 2", enabled: false, url: first.url });
    expect(renamed.body.secret).toBeUndefined();
    const moved = await op.patch(`/channels/${created.id}`, { url: second.url, enabled: true });
    expect(moved.body).toMatchObject({ url: second.url, enabled: true });
    const rotated = await op.patch(`/channels/${created.id}`, { rotate_secret: true });
    expect(rotated.body.secret).toMatch(/^whsec_/);
    expect(rotated.body.secret).not.toBe(created.secret);
    // Deliveries now go to the new URL, signed with the new secret.
    const signal = await storeSignal(tenant.tenant_id, anomalySignal());
    const { results } = await env.DB.prepare(
      "SELECT id FROM deliveries WHERE tenant_id = ? AND signal_id = ?",
    )
      .bind(tenant.tenant_id, signal.id)
      .all<{ id: string }>();
    await runConsumer(
      tenant.tenant_id,
      results.map((r) => r.id),
    );
    expect(await first.log()).toEqual([]);
    const [request] = await second.log();
    await verifyStandardWebhook(rotated.body.secret, request?.headers ?? {}, request?.body ?? "");
    await expect(
      verifyStandardWebhook(created.secret ?? "", request?.headers ?? {}, request?.body ?? ""),
    ).rejects.toThrow();
  });

  it("refuses fields of another channel type, unknown fields and empty bodies", async () => {
    const op = api(tenant);
    const email = await createChannel(tenant, { type: "email", name: "e", to: "a@example.com" });
    const slack = await createChannel(tenant, {
      type: "slack",
      name: "s",
      url: "https://hooks.slack.com/services/x",
    });
    expectValidation(await op.patch(`/channels/${email.id}`, { url: "https://x.test/" }), "url");
    expectValidation(
      await op.patch(`/channels/${slack.id}`, { rotate_secret: true }),
      "rotate_secret",
    );
    expectValidation(await op.patch(`/channels/${slack.id}`, { to: "a@example.com" }), "to");
    expectValidation(
      await op.patch(`/channels/${slack.id}`, { url: "http://example.com/" }),
      "url",
    );
    expectValidation(await op.patch(`/channels/${slack.id}`, { colour: "red" }), "");
    expectValidation(await op.patch(`/channels/${slack.id}`, {}), "");
    const changed = await op.patch(`/channels/${email.id}`, {
      to: "b@example.com",
      from: "alerts@aforo.example",
    });
    expect(changed.body).toMatchObject({ to: "b@example.com", from: "alerts@aforo.example" });
    const cleared = await op.patch(`/channels/${email.id}`, { from: null });
    expect(cleared.body.from).toBeNull();
  });
});

describe("POST /api/channels/:id/test", () => {
  it("sends now and reports the receiver's answer", async () => {
    const op = api(tenant);
    const hook = newHook("test");
    const channel = await createChannel(tenant, { type: "webhook", name: "t", url: hook.url });
    const ok = await op.post(`/channels/${channel.id}/test`);
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({
      ok: true,
      status: 200,
      error: null,
      duration_ms: expect.any(Number),
    });
    const [request] = await hook.log();
    expect(JSON.parse(request?.body ?? "{}")).toMatchObject({
      type: "aforo.test",
      data: { channel_id: channel.id },
    });
    expect(request?.headers["webhook-id"]).toMatch(/^test_[0-9a-f]{24}$/);
    await verifyStandardWebhook(channel.secret ?? "", request?.headers ?? {}, request?.body ?? "");

    await hook.mode(503);
    const failing = await op.post(`/channels/${channel.id}/test`);
    expect(failing.body).toMatchObject({ ok: false, status: 503 });
    expect(failing.body.error).toContain("HTTP 503");
    await hook.mode("down");
    const down = await op.post(`/channels/${channel.id}/test`);
    expect(down.body).toMatchObject({ ok: false, status: null });
    expect(down.body.error).toMatch(/^network error/);

    const slackHook = newHook("slack-test");
    const slack = await createChannel(tenant, { type: "slack", name: "s", url: slackHook.url });
    expect((await op.post(`/channels/${slack.id}/test`)).body.ok).toBe(true);
    expect(JSON.parse((await slackHook.log())[0]?.body ?? "{}").text).toContain("Test message");
    const email = await createChannel(tenant, { type: "email", name: "e", to: "a@example.com" });
    expect((await op.post(`/channels/${email.id}/test`)).body).toMatchObject({ ok: true });
  });
});

describe("DELETE /api/channels/:id", () => {
  it("deletes; the channel is gone", async () => {
    const op = api(tenant);
    const channel = await createChannel(tenant, { type: "email", name: "e", to: "a@example.com" });
    expect((await op.del(`/channels/${channel.id}`)).status).toBe(204);
    expectProblem(await op.get(`/channels/${channel.id}`), 404, "not_found");
    expectProblem(await op.del(`/channels/${channel.id}`), 404, "not_found");
    expect((await op.get("/channels")).body.data).toEqual([]);
  });
});

describe("security", () => {
  it("401 without a token, 403 with an ingest key", async () => {
    for (const [method, path] of [
      ["GET", "/api/channels"],
      ["POST", "/api/channels"],
      ["GET", "/api/deliveries"],
    ] as const) {
      expectProblem(await call(method, path), 401, "unauthorized");
      expectProblem(
        await call(method, path, {
          token: tenant.ingest_key,
          ...(method === "POST" ? { body: {} } : {}),
        }),
        403,
        "wrong_key_kind",
      );
    }
  });

  it("another tenant's channel is 404 everywhere and absent from lists", async () => {
    const channel = await createChannel(tenant, {
      type: "webhook",
      name: "mine",
      url: newHook().url,
    });
    const stranger = api(await createTenant("Stranger"));
    expectProblem(await stranger.get(`/channels/${channel.id}`), 404, "not_found");
    expectProblem(await stranger.patch(`/channels/${channel.id}`, { name: "x" }), 404, "not_found");
    expectProblem(await stranger.post(`/channels/${channel.id}/test`), 404, "not_found");
    expectProblem(await stranger.del(`/channels/${channel.id}`), 404, "not_found");
    expect((await stranger.get("/channels")).body.data).toEqual([]);
    // Still there and unchanged for its owner.
    expect((await api(tenant).get(`/channels/${channel.id}`)).body.name).toBe("mine");
  });

  it("secrets never appear in any answer after creation", async () => {
    const op = api(tenant);
    const hook = newHook("secrets");
    const slackHook = newHook(`slack-${SLACK_TOKEN.replaceAll("/", "-")}`);
    const webhook = await createChannel(tenant, { type: "webhook", name: "w", url: hook.url });
    const slack = await createChannel(tenant, { type: "slack", name: "s", url: slackHook.url });
    const secrets = [
      webhook.secret ?? "",
      (webhook.secret ?? "").slice(6),
      slackHook.url,
      SLACK_TOKEN.replaceAll("/", "-"),
    ];
    await slackHook.mode(500);
    const signal = await storeSignal(tenant.tenant_id, anomalySignal());
    const { results } = await env.DB.prepare(
      "SELECT id FROM deliveries WHERE tenant_id = ? AND signal_id = ?",
    )
      .bind(tenant.tenant_id, signal.id)
      .all<{ id: string }>();
    await runConsumer(
      tenant.tenant_id,
      results.map((r) => r.id),
    );
    const answers = [
      await op.get("/channels"),
      await op.get(`/channels/${webhook.id}`),
      await op.get(`/channels/${slack.id}`),
      await op.patch(`/channels/${webhook.id}`, { name: "renamed" }),
      await op.patch(`/channels/${slack.id}`, { enabled: true }),
      await op.post(`/channels/${webhook.id}/test`),
      await op.post(`/channels/${slack.id}/test`),
      await op.get("/deliveries"),
      await call("GET", "/openapi.json"),
    ];
    // The Slack delivery failed (500): its last_error is shown, without the URL.
    const failed = answers[7]?.body.data.find(
      (d: { channel_id: string }) => d.channel_id === slack.id,
    );
    expect(failed.last_error).toContain("HTTP 500");
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200]);
    for (const answer of answers) {
      const text = JSON.stringify(answer.body);
      for (const secret of secrets) expect(text).not.toContain(secret);
    }
    expect(answers[0]?.body.data.every((c: { secret_set: boolean }) => c.secret_set)).toBe(true);
  });
});
