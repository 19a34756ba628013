import { createExecutionContext, env } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  BACKOFF_CAP_S,
  backoffSeconds,
  enqueueDeliveries,
  GIVE_UP_AFTER_MS,
  pendingDeliveryStatements,
  requeueStalledDeliveries,
} from "../../workers/deliveries";
import { alertEmailContent, buildMime } from "../../workers/deliveries/email";
import { loadSignal } from "../../workers/deliveries/signal";
import worker from "../../workers/index";
import {
  anomalySignal,
  createChannel,
  deliveriesOf,
  ensureSignalsTable,
  newHook,
  runConsumer,
  storeSignal,
  verifyStandardWebhook,
} from "./deliveries-helpers";
import { call, createTenant, type Tenant } from "./helpers";

// Delivery of signals to Slack, e-mail and signed webhooks (SPEC §6 ALERT), against a real HTTP
// receiver (test/global-setup-receiver.ts). Signals are written the way the events consumer
// writes them: the signal row and pendingDeliveryStatements in one D1 batch.
//
// Standard Webhooks signatures are checked by `standardwebhooks` when installed; it is not a
// devDependency yet, so verifyStandardWebhook falls back to a hand-written verifier of the same
// spec (clearly marked in deliveries-helpers.ts) and the test reports which one ran.

let tenant: Tenant;

beforeEach(async () => {
  await ensureSignalsTable();
  tenant = await createTenant();
});

afterEach(() => {
  vi.useRealTimers();
});

/** Moves the consumer's clock (Date only: fetch, timers and timeouts stay real). */
function travel(ms: number) {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(Date.now() + ms);
}

describe("pending deliveries are written with the signal", () => {
  it("one per enabled channel, idempotent, none for a disabled channel", async () => {
    const on = await createChannel(tenant, { type: "webhook", name: "on", url: newHook().url });
    const slack = await createChannel(tenant, { type: "slack", name: "s", url: newHook().url });
    const off = await createChannel(tenant, {
      type: "webhook",
      name: "off",
      url: newHook().url,
      enabled: false,
    });
    const signal = await storeSignal(tenant.tenant_id, anomalySignal());
    // The same statements again (a replayed batch) change nothing.
    await env.DB.batch(pendingDeliveryStatements(env.DB, tenant.tenant_id, signal.id, Date.now()));
    const rows = await deliveriesOf(tenant.tenant_id, signal.id);
    expect(rows.map((r) => r.channel_id).sort()).toEqual([on.id, slack.id].sort());
    expect(rows.map((r) => r.channel_id)).not.toContain(off.id);
    for (const r of rows) {
      expect(r).toMatchObject({ status: "pending", attempts: 0, created_at: signal.created_at });
      expect(r.id).toBe(`dlv_${r.channel_id.slice(3)}_${signal.id}`);
    }
  });

  it("another tenant's channels get nothing", async () => {
    const other = await createTenant("Other");
    await createChannel(other, { type: "webhook", name: "theirs", url: newHook().url });
    const signal = await storeSignal(tenant.tenant_id, anomalySignal());
    expect(await deliveriesOf(tenant.tenant_id, signal.id)).toEqual([]);
    expect(await deliveriesOf(other.tenant_id, signal.id)).toEqual([]);
  });
});

describe("Slack", () => {
  it("posts a Block Kit message with the signal, its magnitude, source events and a link", async () => {
    const hook = newHook("slack");
    await createChannel(tenant, { type: "slack", name: "#alerts", url: hook.url });
    const signal = await storeSignal(tenant.tenant_id, anomalySignal());
    const [delivery] = await deliveriesOf(tenant.tenant_id, signal.id);
    const result = await runConsumer(tenant.tenant_id, [delivery?.id ?? ""]);
    expect(result.explicitAcks).toEqual(result.messages.map((m) => m.id));

    const [request, ...more] = await hook.log();
    expect(more).toEqual([]);
    expect(request?.method).toBe("POST");
    expect(request?.headers["content-type"]).toContain("application/json");
    const message = JSON.parse(request?.body ?? "{}");
    expect(message.text).toContain("Usage spike: acme · input_tokens");
    const types = message.blocks.map((b: { type: string }) => b.type);
    expect(types).toEqual(["header", "section", "context", "actions"]);
    const [header, section, context, actions] = message.blocks;
    expect(header.text).toEqual({
      type: "plain_text",
      text: "Usage spike: acme · input_tokens",
      emoji: true,
    });
    const fields = section.fields.map((f: { type: string; text: string }) => {
      expect(f.type).toBe("mrkdwn");
      return f.text;
    });
    expect(fields).toEqual([
      "*Detector*\nBillableUnitAnomalyDetector",
      "*Customer*\nacme",
      "*Product / metric*\nchat-api / input_tokens",
      "*Window*\n2026-11-27T10:00:00Z → 2026-11-27T11:00:00Z",
      "*Magnitude*\n+4.2σ (+180%): 2,800 observed vs 1,000 expected",
    ]);
    expect(context.elements[0].text).toBe("Source events: `evt_1`, `evt_2`");
    expect(context.elements[1].text).toBe(`Signal \`${signal.id}\``);
    // AFORO_PUBLIC_URL is empty in wrangler.toml: the link uses the origin that created the
    // channel.
    expect(actions.elements[0]).toMatchObject({
      type: "button",
      text: { type: "plain_text", text: "Open in Aforo" },
      url: `http://aforo.test/signals/${signal.id}`,
    });
    expect((await deliveriesOf(tenant.tenant_id, signal.id))[0]).toMatchObject({
      status: "delivered",
      attempts: 1,
      last_status: 200,
      last_error: null,
      leased_until: null,
    });
  });

  it("uses AFORO_PUBLIC_URL for the link when set, and escapes mrkdwn in customer ids", async () => {
    const hook = newHook("slack-public");
    await createChannel(tenant, { type: "slack", name: "#alerts", url: hook.url });
    const signal = await storeSignal(
      tenant.tenant_id,
      anomalySignal({
        detector: "QuotaPacingProjectionService",
        customer_id: "a<b>&c",
        direction: null,
        magnitude: 1.25,
        details: { pct_of_quota: 125, projection: 12500, quota: 10000, usage: 5000, method: "dow" },
        source_event_ids: ["evt_9"],
      }),
    );
    const [delivery] = await deliveriesOf(tenant.tenant_id, signal.id);
    await runConsumer(tenant.tenant_id, [delivery?.id ?? ""], {
      env: { ...env, AFORO_PUBLIC_URL: "https://aforo.example.com/" } as unknown as Env,
    });
    const message = JSON.parse((await hook.log())[0]?.body ?? "{}");
    const [header, section, context, actions] = message.blocks;
    expect(header.text.text).toBe(
      "Quota pacing: a<b>&c projected at 125% of the input_tokens quota",
    );
    expect(section.fields[1].text).toBe("*Customer*\na&lt;b&gt;&amp;c");
    expect(section.fields[4].text).toBe(
      "*Magnitude*\n125% of quota: 12,500 projected of 10,000 included; 5,000 used so far (method: dow)",
    );
    expect(context.elements[0].text).toBe("Source event: `evt_9`");
    expect(actions.elements[0].url).toBe(`https://aforo.example.com/signals/${signal.id}`);
  });

  it("a 4xx from Slack (revoked or archived webhook) is permanent: dead at once", async () => {
    const hook = newHook("slack-404");
    await hook.mode(404);
    await createChannel(tenant, { type: "slack", name: "#gone", url: hook.url });
    const signal = await storeSignal(tenant.tenant_id, anomalySignal());
    const [delivery] = await deliveriesOf(tenant.tenant_id, signal.id);
    const result = await runConsumer(tenant.tenant_id, [delivery?.id ?? ""]);
    expect(result.retryMessages).toEqual([]);
    expect(result.explicitAcks).toHaveLength(1);
    const [row] = await deliveriesOf(tenant.tenant_id, signal.id);
    expect(row).toMatchObject({ status: "dead", attempts: 1, last_status: 404 });
    expect(row?.last_error).toContain("HTTP 404");
    expect(row?.last_error).not.toContain(hook.name);
    const dead = await env.DB.prepare(
      "SELECT queue, tenant_id, body FROM dead_letters WHERE tenant_id = ?",
    )
      .bind(tenant.tenant_id)
      .all();
    expect(dead.results).toEqual([
      {
        queue: "aforo-deliveries-dlq",
        tenant_id: tenant.tenant_id,
        body: JSON.stringify({ tenant_id: tenant.tenant_id, delivery_id: delivery?.id }),
      },
    ]);
    // Counted once in the pipeline telemetry, flushed at the end of the consumer's batch.
    const counted = await env.DB.prepare(
      `SELECT SUM(count) AS n, SUM(errors) AS errors FROM pipeline_hourly
       WHERE tenant_id = ? AND series = 'dead_letter' AND outcome = 'deliveries'`,
    )
      .bind(tenant.tenant_id)
      .first();
    expect(counted).toEqual({ n: 1, errors: 1 });
  });
});

describe("signed webhooks (Standard Webhooks)", () => {
  it("signs each delivery; the signature verifies and the id is the delivery id", async () => {
    const hook = newHook("webhook");
    const channel = await createChannel(tenant, { type: "webhook", name: "ops", url: hook.url });
    const secret = channel.secret ?? "";
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const signal = await storeSignal(
      tenant.tenant_id,
      anomalySignal({
        detector: "MarginGuard",
        metric_id: null,
        direction: null,
        magnitude: 310.5,
        details: { level: "L2", level_threshold: 0.1, margin_pct: 4.2, shortfall: 310.5 },
      }),
    );
    const [delivery] = await deliveriesOf(tenant.tenant_id, signal.id);
    await runConsumer(tenant.tenant_id, [delivery?.id ?? ""]);
    const [request] = await hook.log();
    const headers = request?.headers ?? {};
    expect(headers["webhook-id"]).toBe(delivery?.id);
    expect(headers["webhook-timestamp"]).toMatch(/^\d{10}$/);
    expect(headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    const verifier = await verifyStandardWebhook(secret, headers, request?.body ?? "");
    console.info(`Standard Webhooks signature checked by the ${verifier} verifier`);
    // A tampered body or another secret does not verify.
    await expect(
      verifyStandardWebhook(secret, headers, `${request?.body ?? ""} `),
    ).rejects.toThrow();
    await expect(
      verifyStandardWebhook(`whsec_${btoa("x".repeat(32))}`, headers, request?.body ?? ""),
    ).rejects.toThrow();

    const body = JSON.parse(request?.body ?? "{}");
    expect(body).toEqual({
      type: "signal.created",
      timestamp: expect.any(String),
      data: {
        id: signal.id,
        detector: "MarginGuard",
        customer: "acme",
        product: "chat-api",
        metric: null,
        window: { start: "2026-11-27T10:00:00.000Z", end: "2026-11-27T11:00:00.000Z" },
        magnitude: 310.5,
        direction: null,
        details: signal.details,
        source_event_ids: ["evt_1", "evt_2"],
        created_at: new Date(signal.created_at).toISOString(),
        summary: "Margin below L2: acme · chat-api",
        magnitude_text: "margin 4.2% (L2 is 10%); shortfall 310.5",
        url: `http://aforo.test/signals/${signal.id}`,
        delivery_id: delivery?.id,
      },
    });
  });

  it("receiver down for a while → delivered later, exactly once, with backoff", async () => {
    const hook = newHook("flaky");
    const channel = await createChannel(tenant, { type: "webhook", name: "ops", url: hook.url });
    const signal = await storeSignal(tenant.tenant_id, anomalySignal());
    const [delivery] = await deliveriesOf(tenant.tenant_id, signal.id);
    const id = delivery?.id ?? "";

    // 1. Nobody listening (connection reset): retried in 30 s.
    await hook.mode("down");
    let result = await runConsumer(tenant.tenant_id, [id]);
    expect(result.retryMessages).toEqual([{ msgId: result.messages[0]?.id, delaySeconds: 30 }]);
    let [row] = await deliveriesOf(tenant.tenant_id, signal.id);
    expect(row).toMatchObject({ status: "pending", attempts: 1, leased_until: null });
    expect(row?.last_error).toMatch(/^network error/);
    expect(row?.next_attempt_at).toBeGreaterThan(Date.now() + 25_000);

    // A duplicate wake-up before the delivery is due is dropped without sending.
    result = await runConsumer(tenant.tenant_id, [id]);
    expect(result.explicitAcks).toHaveLength(1);
    expect(await hook.log()).toHaveLength(1);

    // 2. 30 s later the receiver is up but failing: retried in 60 s.
    await hook.mode(503);
    travel(31_000);
    result = await runConsumer(tenant.tenant_id, [id], { attempts: 2 });
    expect(result.retryMessages).toEqual([{ msgId: result.messages[0]?.id, delaySeconds: 60 }]);
    [row] = await deliveriesOf(tenant.tenant_id, signal.id);
    expect(row).toMatchObject({ status: "pending", attempts: 2, last_status: 503 });
    expect(row?.last_error).toContain("HTTP 503");

    // 3. 60 s later it is back: delivered.
    await hook.mode("ok");
    travel(61_000);
    result = await runConsumer(tenant.tenant_id, [id], { attempts: 3 });
    expect(result.explicitAcks).toHaveLength(1);
    [row] = await deliveriesOf(tenant.tenant_id, signal.id);
    expect(row).toMatchObject({ status: "delivered", attempts: 3, last_error: null });
    expect(row?.delivered_at).toBeGreaterThan(0);

    // 4. The queue delivers the message again (at least once): nothing is sent again.
    result = await runConsumer(tenant.tenant_id, [id], { attempts: 4, copies: 2 });
    expect(result.explicitAcks).toHaveLength(2);

    const log = await hook.log();
    expect(log.map((r) => r.answered)).toEqual(["reset", 503, 200]);
    expect(new Set(log.map((r) => r.headers["webhook-id"]))).toEqual(new Set([id]));
    const successes = log.filter((r) => r.answered === 200);
    expect(successes).toHaveLength(1);
    // Every attempt is signed afresh (its own timestamp) and verifies.
    for (const r of log) {
      await verifyStandardWebhook(
        channel.secret ?? "",
        r.headers,
        r.body,
        Number(r.headers["webhook-timestamp"]),
      );
    }
  });

  it("two copies of a message at once send once (the lease)", async () => {
    const hook = newHook("twins");
    await createChannel(tenant, { type: "webhook", name: "ops", url: hook.url });
    const signal = await storeSignal(tenant.tenant_id, anomalySignal());
    const [delivery] = await deliveriesOf(tenant.tenant_id, signal.id);
    const result = await runConsumer(tenant.tenant_id, [delivery?.id ?? ""], { copies: 3 });
    expect(await hook.log()).toHaveLength(1);
    // The copies that lost the race come back later and find it delivered.
    expect(result.explicitAcks.length + result.retryMessages.length).toBe(3);
    expect((await deliveriesOf(tenant.tenant_id, signal.id))[0]).toMatchObject({
      status: "delivered",
      attempts: 1,
    });
  });

  it("a webhook's 4xx is retried (its own endpoint), 410 Gone is permanent", async () => {
    const flaky = newHook("wh-404");
    const gone = newHook("wh-410");
    await flaky.mode(404);
    await gone.mode(410);
    await createChannel(tenant, { type: "webhook", name: "a", url: flaky.url });
    await createChannel(tenant, { type: "webhook", name: "b", url: gone.url });
    const signal = await storeSignal(tenant.tenant_id, anomalySignal());
    const rows = await deliveriesOf(tenant.tenant_id, signal.id);
    const result = await runConsumer(
      tenant.tenant_id,
      rows.map((r) => r.id),
    );
    expect(result.retryMessages).toHaveLength(1);
    expect(result.explicitAcks).toHaveLength(1);
    const after = await deliveriesOf(tenant.tenant_id, signal.id);
    expect(after.map((r) => [r.status, r.last_status]).sort()).toEqual([
      ["dead", 410],
      ["pending", 404],
    ]);
  });

  it("gives up 48 hours after the delivery was created: dead", async () => {
    const hook = newHook("never");
    await hook.mode(503);
    await createChannel(tenant, { type: "webhook", name: "ops", url: hook.url });
    const signal = await storeSignal(tenant.tenant_id, anomalySignal());
    const [delivery] = await deliveriesOf(tenant.tenant_id, signal.id);
    let result = await runConsumer(tenant.tenant_id, [delivery?.id ?? ""]);
    expect(result.retryMessages).toHaveLength(1);
    travel(GIVE_UP_AFTER_MS - 10 * 60_000);
    result = await runConsumer(tenant.tenant_id, [delivery?.id ?? ""], { attempts: 50 });
    expect(result.retryMessages).toEqual([{ msgId: result.messages[0]?.id, delaySeconds: 60 }]);
    travel(BACKOFF_CAP_S * 1000);
    result = await runConsumer(tenant.tenant_id, [delivery?.id ?? ""], { attempts: 51 });
    expect(result.retryMessages).toEqual([]);
    const [row] = await deliveriesOf(tenant.tenant_id, signal.id);
    expect(row).toMatchObject({ status: "dead", attempts: 3, last_status: 503 });
    expect(row?.last_error).toMatch(/^gave up after 48 h and 3 attempts: HTTP 503/);
    expect(await hook.log()).toHaveLength(3);
  });
});

describe("channel secrets at rest", () => {
  const storedSecret = async (id: string) =>
    (
      await env.DB.prepare(
        "SELECT secret FROM notification_channels WHERE tenant_id = ? AND id = ?",
      )
        .bind(tenant.tenant_id, id)
        .first<{ secret: string | null }>()
    )?.secret ?? null;

  it("are sealed in D1, and open only in their own row", async () => {
    const hook = newHook("sealed");
    const webhook = await createChannel(tenant, { type: "webhook", name: "w", url: hook.url });
    const slackUrl = `${newHook("slack-sealed").url}/T0/B0/secret-token`;
    const slack = await createChannel(tenant, { type: "slack", name: "s", url: slackUrl });
    const sealedWebhook = (await storedSecret(webhook.id)) ?? "";
    const sealedSlack = (await storedSecret(slack.id)) ?? "";
    for (const [sealed, plain] of [
      [sealedWebhook, webhook.secret ?? ""],
      [sealedSlack, slackUrl],
    ] as const) {
      expect(sealed).toMatch(/^v1:[A-Za-z0-9_-]+$/);
      expect(sealed).not.toContain(plain);
      expect(sealed).not.toContain(plain.slice(6, 20));
    }
    // Still signs with the secret the tenant was shown.
    const signal = await storeSignal(tenant.tenant_id, anomalySignal());
    const own = (await deliveriesOf(tenant.tenant_id, signal.id)).find(
      (d) => d.channel_id === webhook.id,
    );
    await runConsumer(tenant.tenant_id, [own?.id ?? ""]);
    const [request] = await hook.log();
    await verifyStandardWebhook(webhook.secret ?? "", request?.headers ?? {}, request?.body ?? "");

    // The webhook's sealed secret copied into the Slack row does not open there: nothing is
    // sent, and the delivery says why.
    await env.DB.prepare(
      "UPDATE notification_channels SET secret = ? WHERE tenant_id = ? AND id = ?",
    )
      .bind(sealedWebhook, tenant.tenant_id, slack.id)
      .run();
    const other = await storeSignal(tenant.tenant_id, anomalySignal());
    const toSlack = (await deliveriesOf(tenant.tenant_id, other.id)).find(
      (d) => d.channel_id === slack.id,
    );
    const result = await runConsumer(tenant.tenant_id, [toSlack?.id ?? ""]);
    expect(result.retryMessages).toHaveLength(1);
    expect(
      (await deliveriesOf(tenant.tenant_id, other.id)).find((d) => d.id === toSlack?.id),
    ).toMatchObject({ status: "pending", last_error: expect.stringContaining("does not open") });
  });

  it("a secret stored before sealing still sends, and is sealed when rotated", async () => {
    const hook = newHook("legacy");
    const channel = await createChannel(tenant, { type: "webhook", name: "old", url: hook.url });
    const plain = channel.secret ?? "";
    await env.DB.prepare(
      "UPDATE notification_channels SET secret = ? WHERE tenant_id = ? AND id = ?",
    )
      .bind(plain, tenant.tenant_id, channel.id)
      .run();
    const signal = await storeSignal(tenant.tenant_id, anomalySignal());
    const [delivery] = await deliveriesOf(tenant.tenant_id, signal.id);
    await runConsumer(tenant.tenant_id, [delivery?.id ?? ""]);
    const [request] = await hook.log();
    await verifyStandardWebhook(plain, request?.headers ?? {}, request?.body ?? "");
    const rotated = await call("PATCH", `/api/channels/${channel.id}`, {
      token: tenant.operator_token,
      body: { rotate_secret: true },
    });
    expect(await storedSecret(channel.id)).toMatch(/^v1:/);
    expect(await storedSecret(channel.id)).not.toContain(rotated.body.secret);
  });

  it("without AFORO_SECRETS_KEY a channel with a secret is refused, and nothing is stored", async () => {
    const keyless = { ...env, AFORO_SECRETS_KEY: "" } as Env;
    const res = await worker.fetch(
      new Request("http://aforo.test/api/channels", {
        method: "POST",
        headers: {
          authorization: `Bearer ${tenant.operator_token}`,
          "content-type": "application/json",
        },
        body: JSON.stringify({ type: "webhook", name: "w", url: newHook().url }),
      }),
      keyless,
      createExecutionContext(),
    );
    expect(res.status).toBe(503);
    expect(((await res.json()) as { detail: string }).detail).toContain("AFORO_SECRETS_KEY");
    const { results } = await env.DB.prepare(
      "SELECT id FROM notification_channels WHERE tenant_id = ?",
    )
      .bind(tenant.tenant_id)
      .all();
    expect(results).toEqual([]);
  });
});

describe("retry schedule", () => {
  it("30 s doubling, capped at 1 h; 48 h of it fits the queue's max_retries (100)", () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 9, 60].map(backoffSeconds)).toEqual([
      30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600,
    ]);
    let elapsed = 0;
    let retries = 0;
    while (elapsed < GIVE_UP_AFTER_MS / 1000) elapsed += backoffSeconds(++retries);
    // The attempt at or after 48 h is the last; the queue must allow that many retries.
    expect(retries).toBe(54);
    expect(retries).toBeLessThan(100);
  });
});

describe("disabled and deleted channels", () => {
  it("a channel disabled while a delivery is pending gets nothing: canceled", async () => {
    const hook = newHook("disabled");
    const channel = await createChannel(tenant, { type: "webhook", name: "ops", url: hook.url });
    const signal = await storeSignal(tenant.tenant_id, anomalySignal());
    const patched = await call("PATCH", `/api/channels/${channel.id}`, {
      token: tenant.operator_token,
      body: { enabled: false },
    });
    expect(patched.status).toBe(200);
    const [delivery] = await deliveriesOf(tenant.tenant_id, signal.id);
    const result = await runConsumer(tenant.tenant_id, [delivery?.id ?? ""]);
    expect(result.explicitAcks).toHaveLength(1);
    expect((await deliveriesOf(tenant.tenant_id, signal.id))[0]).toMatchObject({
      status: "canceled",
      attempts: 0,
      last_error: "the channel is disabled",
    });
    // And a signal after that creates no delivery for it at all.
    const later = await storeSignal(tenant.tenant_id, anomalySignal());
    expect(await deliveriesOf(tenant.tenant_id, later.id)).toEqual([]);
    expect(await hook.log()).toEqual([]);
  });

  it("deleting a channel cancels its pending deliveries", async () => {
    const hook = newHook("deleted");
    const channel = await createChannel(tenant, { type: "webhook", name: "ops", url: hook.url });
    const signal = await storeSignal(tenant.tenant_id, anomalySignal());
    const res = await call("DELETE", `/api/channels/${channel.id}`, {
      token: tenant.operator_token,
    });
    expect(res.status).toBe(204);
    const [delivery] = await deliveriesOf(tenant.tenant_id, signal.id);
    expect(delivery).toMatchObject({ status: "canceled", last_error: "the channel was deleted" });
    await runConsumer(tenant.tenant_id, [delivery?.id ?? ""]);
    expect(await hook.log()).toEqual([]);
  });
});

describe("e-mail", () => {
  it("sends a MIME message through the send_email binding", async () => {
    await createChannel(tenant, {
      type: "email",
      name: "oncall",
      to: "oncall@example.com",
      from: "alerts@aforo.example",
    });
    const signal = await storeSignal(
      tenant.tenant_id,
      anomalySignal({
        detector: "WeeklyChurnSignalDetector",
        customer_id: "Zoë GmbH",
        metric_id: null,
        direction: "drop",
        magnitude: 62.5,
        details: { drop_pct: 62.5 },
      }),
    );
    const sent: { from: string; to: string }[] = [];
    const capturing = {
      ...env,
      EMAIL: {
        send: (message: EmailMessage) => {
          sent.push({ from: message.from, to: message.to });
          return env.EMAIL.send(message);
        },
      },
    } as unknown as Env;
    const [delivery] = await deliveriesOf(tenant.tenant_id, signal.id);
    await runConsumer(tenant.tenant_id, [delivery?.id ?? ""], { env: capturing });
    expect(sent).toEqual([{ from: "alerts@aforo.example", to: "oncall@example.com" }]);
    // The local binding parses the message (postal-mime) and refuses a malformed one, so
    // `delivered` means the MIME was accepted.
    expect((await deliveriesOf(tenant.tenant_id, signal.id))[0]).toMatchObject({
      status: "delivered",
      attempts: 1,
    });
  });

  it("tells an account owner why an escalation reached them", async () => {
    const signal = await storeSignal(
      tenant.tenant_id,
      anomalySignal({
        detector: "WeeklyChurnSignalDetector",
        customer_id: "acme",
        direction: "drop",
      }),
    );
    const loaded = await loadSignal(env.DB, tenant.tenant_id, signal.id);
    if (!loaded) throw new Error("signal not stored");
    const owner = alertEmailContent(loaded, null, "account_owner");
    expect(owner.subject).toMatch(/^\[Aforo\] Escalated to you: /);
    expect(owner.text).toContain("you are the account owner of acme");
    expect(owner.html).toContain("you are the account owner of acme");
    expect(alertEmailContent(loaded, null).text).toContain(
      "an alert channel of your Aforo workspace",
    );
  });

  it("builds RFC 5322 headers and a text + HTML multipart/alternative body", () => {
    const raw = buildMime({
      from: "alerts@aforo.example",
      fromName: "Aforo alerts",
      to: "oncall@example.com",
      subject: "[Aforo] Churn risk: Zoë GmbH\r\nBcc: evil@example.com",
      text: "plain ✓",
      html: "<p>html ✓</p>",
      messageId: "dlv_1@aforo.example",
      date: Date.UTC(2026, 10, 27, 10, 3, 11),
    });
    const [folded = "", ...rest] = raw.split("\r\n\r\n");
    // Every line is at most 78 characters; unfold before reading headers (RFC 5322 §2.2.3).
    for (const line of raw.split("\r\n")) expect(line.length).toBeLessThanOrEqual(78);
    const head = folded.replace(/\r\n /g, " ");
    const headers = head.split("\r\n");
    expect(headers.slice(0, 6)).toEqual([
      "From: Aforo alerts <alerts@aforo.example>",
      "To: oncall@example.com",
      expect.stringMatching(/^Subject: =\?UTF-8\?B\?[A-Za-z0-9+/=]+\?=/),
      "Date: Fri, 27 Nov 2026 10:03:11 +0000",
      "Message-ID: <dlv_1@aforo.example>",
      "MIME-Version: 1.0",
    ]);
    // The CR/LF in the subject could not start a header of its own.
    expect(headers.some((h) => h.startsWith("Bcc:"))).toBe(false);
    const subject = headers
      .find((l) => l.startsWith("Subject:"))
      ?.match(/=\?UTF-8\?B\?([^?]+)\?=/g)
      ?.map((w) => new TextDecoder().decode(b64(w.slice(10, -2))))
      .join("");
    expect(subject).toBe("[Aforo] Churn risk: Zoë GmbH  Bcc: evil@example.com");
    const boundary = /boundary="([^"]+)"/.exec(head)?.[1] ?? "";
    expect(head).toContain(`Content-Type: multipart/alternative; boundary="${boundary}"`);
    const body = rest.join("\r\n\r\n");
    const parts = body.split(`--${boundary}`).slice(1, -1);
    expect(parts).toHaveLength(2);
    const decoded = parts.map((p) => {
      const [partHead = "", content = ""] = p.replace(/^\r\n/, "").split("\r\n\r\n");
      expect(partHead).toContain("Content-Transfer-Encoding: base64");
      return [
        /Content-Type: ([^;]+)/.exec(partHead)?.[1],
        new TextDecoder().decode(b64(content.replace(/\r\n/g, ""))),
      ];
    });
    expect(decoded).toEqual([
      ["text/plain", "plain ✓"],
      ["text/html", "<p>html ✓</p>"],
    ]);
    expect(body.endsWith(`--${boundary}--\r\n`)).toBe(true);
  });
});

const b64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

describe("through the real queue", () => {
  it("enqueueDeliveries → the deliveries consumer → the receiver, once per channel", async () => {
    const a = newHook("queue-a");
    const b = newHook("queue-b");
    await createChannel(tenant, { type: "webhook", name: "a", url: a.url });
    await createChannel(tenant, { type: "slack", name: "b", url: b.url });
    const signal = await storeSignal(tenant.tenant_id, anomalySignal());
    await enqueueDeliveries(env, tenant.tenant_id, [signal.id]);
    // Enqueuing again (a retried events batch) sends nothing twice.
    await enqueueDeliveries(env, tenant.tenant_id, [signal.id]);
    let rows = await deliveriesOf(tenant.tenant_id, signal.id);
    for (let i = 0; i < 100 && rows.some((r) => r.status !== "delivered"); i++) {
      await new Promise((r) => setTimeout(r, 100));
      rows = await deliveriesOf(tenant.tenant_id, signal.id);
    }
    expect(rows.map((r) => r.status)).toEqual(["delivered", "delivered"]);
    await new Promise((r) => setTimeout(r, 300));
    expect(await a.log()).toHaveLength(1);
    expect(await b.log()).toHaveLength(1);
  });
});

describe("a lost enqueue", () => {
  it("is repaired by requeueStalledDeliveries (periodic work)", async () => {
    const hook = newHook("stalled");
    await createChannel(tenant, { type: "webhook", name: "a", url: hook.url });
    // Stored, but the enqueue after the commit never happened (a crash in between).
    const signal = await storeSignal(
      tenant.tenant_id,
      anomalySignal({ created_at: Date.now() - 20 * 60_000 }),
    );
    const fresh = await storeSignal(tenant.tenant_id, anomalySignal());
    expect(await requeueStalledDeliveries(env, Date.now(), tenant.tenant_id)).toBe(1);
    let rows = await deliveriesOf(tenant.tenant_id, signal.id);
    for (let i = 0; i < 100 && rows[0]?.status !== "delivered"; i++) {
      await new Promise((r) => setTimeout(r, 100));
      rows = await deliveriesOf(tenant.tenant_id, signal.id);
    }
    expect(rows[0]?.status).toBe("delivered");
    // The recent one is left to its own (not lost) message.
    expect((await deliveriesOf(tenant.tenant_id, fresh.id))[0]?.status).toBe("pending");
    expect(await hook.log()).toHaveLength(1);
  });
});

describe("GET /api/deliveries", () => {
  it("lists deliveries with status, attempts, last error; filters; other tenants see none", async () => {
    const ok = newHook("list-ok");
    const bad = newHook("list-bad");
    await bad.mode(500);
    const good = await createChannel(tenant, { type: "webhook", name: "ok", url: ok.url });
    await createChannel(tenant, { type: "webhook", name: "bad", url: bad.url });
    const signal = await storeSignal(tenant.tenant_id, anomalySignal());
    const other = await storeSignal(tenant.tenant_id, anomalySignal());
    await runConsumer(
      tenant.tenant_id,
      (await deliveriesOf(tenant.tenant_id, signal.id)).map((r) => r.id),
    );
    const op = { token: tenant.operator_token };
    const all = await call("GET", "/api/deliveries", op);
    expect(all.status).toBe(200);
    expect(all.body.data).toHaveLength(4);
    const bySignal = await call("GET", `/api/deliveries?signal=${signal.id}`, op);
    expect(bySignal.body.data).toHaveLength(2);
    const delivered = bySignal.body.data.find(
      (d: { channel_id: string }) => d.channel_id === good.id,
    );
    expect(delivered).toMatchObject({
      signal_id: signal.id,
      channel_type: "webhook",
      status: "delivered",
      attempts: 1,
      last_status: 200,
      last_error: null,
      next_attempt_at: null,
      delivered_at: expect.any(String),
    });
    const failing = await call("GET", `/api/deliveries?signal=${signal.id}&status=pending`, op);
    expect(failing.body.data).toEqual([
      expect.objectContaining({
        status: "pending",
        attempts: 1,
        last_status: 500,
        last_error: expect.stringContaining("HTTP 500"),
        next_attempt_at: expect.any(String),
        delivered_at: null,
      }),
    ]);
    const untouched = await call("GET", `/api/deliveries?signal=${other.id}&status=pending`, op);
    expect(untouched.body.data).toHaveLength(2);
    // Pages.
    const first = await call("GET", "/api/deliveries?limit=3", op);
    expect(first.body.data).toHaveLength(3);
    const second = await call(
      "GET",
      `/api/deliveries?limit=3&cursor=${first.body.next_cursor}`,
      op,
    );
    expect(second.body.data).toHaveLength(1);
    expect(second.body.next_cursor).toBeNull();
    const ids = [...first.body.data, ...second.body.data].map((d: { id: string }) => d.id);
    expect(new Set(ids).size).toBe(4);

    const stranger = await createTenant("Stranger");
    const theirs = await call("GET", "/api/deliveries", { token: stranger.operator_token });
    expect(theirs.body.data).toEqual([]);
    const bad400 = await call("GET", "/api/deliveries?status=lost", op);
    expect(bad400.status).toBe(400);
  });
});
