import { env } from "cloudflare:test";
import PostalMime from "postal-mime";
import { beforeAll, describe, expect, it } from "vitest";
import { runTenantJobs } from "../../workers/periodic";
import {
  api,
  clockSettled,
  customer,
  DAY,
  HOUR,
  ok,
  plan,
  product,
  send,
  settle,
  subscribe,
  tokens,
} from "./billing-helpers";
import { createChannel, type Hook, newHook, verifyStandardWebhook } from "./deliveries-helpers";
import { call, createTenant, expectProblem, type Tenant } from "./helpers";

// Scheduled reports (issue 15 item 5, docs/reports.md "Schedules") through the public API and
// the tenant clock's periodic job: a schedule delivers its report once per slot to a webhook
// channel pointed at the tests' real HTTP receiver, signed (verified with `standardwebhooks`),
// with the rows of the window resolved at the slot; a failing receiver is retried on the next
// tick, never sent twice; the run history says what happened.

let tenant: Tenant;
let a: ReturnType<typeof api>;
let reportId: string;
const TODAY = Math.floor(Date.now() / DAY) * DAY;
const MINUTE = 60_000;

beforeAll(async () => {
  tenant = await createTenant("Schedules AI");
  a = api(tenant);
  await clockSettled(tenant);
  await product(tenant);
  await plan(tenant, "payg", [{ type: "per_unit", metric: "input_tokens", unit_price: "0.001" }]);
  await customer(tenant, "acme");
  await customer(tenant, "globex");
  await subscribe(tenant, "acme", "payg", TODAY - 20 * DAY);
  await subscribe(tenant, "globex", "payg", TODAY - 20 * DAY);
  // acme $1.00 two days ago, globex $2.00 three days ago: both inside "last_7_days" of any slot
  // in the next hour; an older $5.00 of acme's is outside it.
  await send(tenant, [
    tokens("acme", TODAY - 2 * DAY + 3 * HOUR, 1_000),
    tokens("globex", TODAY - 3 * DAY + 3 * HOUR, 2_000),
    tokens("acme", TODAY - 15 * DAY + 3 * HOUR, 5_000),
  ]);
  await settle(tenant, ["acme", "globex"], 3);
  const saved = await ok(
    a.post("/api/reports", {
      name: "Revenue by customer",
      query: {
        dataset: "usage",
        measures: ["revenue"],
        dimensions: ["customer"],
        time: { from: new Date(TODAY - 30 * DAY).toISOString(), to: new Date(TODAY).toISOString() },
      },
    }),
  );
  reportId = saved.id;
});

async function hookChannel(hook: Hook) {
  const channel = await createChannel(tenant, { type: "webhook", name: hook.name, url: hook.url });
  return { id: channel.id, secret: channel.secret ?? "" };
}

const schedule = (body: Record<string, unknown>, t: Tenant = tenant) =>
  call("POST", `/api/reports/${reportId}/schedules`, { token: t.operator_token, body });
const runs = async (sid: string) =>
  (await ok(a.get(`/api/reports/${reportId}/schedules/${sid}/runs`))).data as {
    status: string;
    row_count: number | null;
    attempts: number;
    error: string | null;
    delivery_id: string;
    scheduled_for: string;
  }[];
const reportHooks = async (hook: Hook) =>
  (await hook.log()).filter((r) => r.body.startsWith('{"type":"report.delivered"'));

describe("report schedules", () => {
  it("delivers once at the due time, signed, with the rows of the window resolved at the slot", async () => {
    const hook = newHook("report");
    const channel = await hookChannel(hook);
    const created = await schedule({
      cron: "0 * * * *",
      destination: { channel: channel.id },
      range: "last_7_days",
    });
    expect(created.status).toBe(201);
    const s = created.body;
    expect(s.runs_in).toBe("UTC");
    expect(s.destination).toEqual({ channel: channel.id, type: "webhook", name: hook.name });
    expect(s.next_runs).toHaveLength(3);
    const due = Date.parse(s.next_runs[0]);
    expect(Date.parse(s.next_runs[1]) - due).toBe(HOUR);

    // Before the slot: nothing.
    await runTenantJobs(env, tenant.tenant_id, due - MINUTE);
    expect(await reportHooks(hook)).toHaveLength(0);

    await runTenantJobs(env, tenant.tenant_id, due + MINUTE);
    const [request, ...more] = await reportHooks(hook);
    expect(more).toHaveLength(0);
    if (!request) throw new Error("no report delivered");
    expect(await verifyStandardWebhook(channel.secret, request.headers, request.body)).toBe(
      "standardwebhooks",
    );
    const event = JSON.parse(request.body);
    const dayStart = Math.floor(due / DAY) * DAY;
    expect(event.data).toMatchObject({
      schedule: s.id,
      report: { id: reportId, name: "Revenue by customer" },
      scheduled_for: new Date(due).toISOString(),
      time: {
        from: new Date(dayStart - 7 * DAY).toISOString(),
        to: new Date(dayStart).toISOString(),
        time_zone: "UTC",
      },
      row_count: 2,
      rows: [
        { customer: "globex", revenue: "2.00" },
        { customer: "acme", revenue: "1.00" },
      ],
    });
    expect(request.headers["webhook-id"]).toBe(event.data.delivery_id);

    // The same tick again, and a later one before the next slot: nothing new.
    await runTenantJobs(env, tenant.tenant_id, due + MINUTE);
    await runTenantJobs(env, tenant.tenant_id, due + 30 * MINUTE);
    expect(await reportHooks(hook)).toHaveLength(1);

    const history = await runs(s.id);
    expect(history).toEqual([
      expect.objectContaining({
        status: "succeeded",
        row_count: 2,
        attempts: 1,
        error: null,
        delivery_id: event.data.delivery_id,
        scheduled_for: new Date(due).toISOString(),
      }),
    ]);
    // The schedule now waits for the slot after the one it ran.
    const listed = await ok(a.get(`/api/reports/${reportId}/schedules`));
    expect(listed.data[0].next_runs[0]).toBe(new Date(due + HOUR).toISOString());
  });

  it("retries a receiver that failed on the next tick and delivers once; missed slots run once", async () => {
    const hook = newHook("report-retry");
    const channel = await hookChannel(hook);
    const s = await ok(schedule({ cron: "0 * * * *", destination: { channel: channel.id } }));
    const due = Date.parse(s.next_runs[0]);
    await hook.mode(500);
    // Three hours late: the three slots that have come are one run, for the latest.
    const late = due + 2 * HOUR + MINUTE;
    await runTenantJobs(env, tenant.tenant_id, late);
    let history = await runs(s.id);
    expect(history).toHaveLength(1);
    expect(history[0]).toMatchObject({
      status: "retrying",
      attempts: 1,
      scheduled_for: new Date(due + 2 * HOUR).toISOString(),
      error: expect.stringContaining("HTTP 500"),
    });

    await hook.mode("ok");
    await runTenantJobs(env, tenant.tenant_id, late + 5 * MINUTE);
    await runTenantJobs(env, tenant.tenant_id, late + 10 * MINUTE);
    const log = await reportHooks(hook);
    expect(log.map((r) => r.answered)).toEqual([500, 200]);
    expect(log[0]?.headers["webhook-id"]).toBe(log[1]?.headers["webhook-id"]);
    history = await runs(s.id);
    expect(history).toEqual([
      expect.objectContaining({ status: "succeeded", attempts: 2, row_count: 2, error: null }),
    ]);
  });

  it("e-mails the CSV as an attachment with a link to the report", async () => {
    const mails: string[] = [];
    const captured = {
      ...env,
      EMAIL: {
        send: (message: unknown) => {
          mails.push(String((message as Record<string, unknown>)["EmailMessage::raw"]));
          return env.EMAIL.send(message as never);
        },
      },
    } as unknown as Env;
    const mail = await createChannel(tenant, {
      type: "email",
      name: "finance mail",
      to: "finance@schedules.example",
    });
    const s = await ok(
      schedule({
        cron: "30 9 * * *",
        time_zone: "Europe/Berlin",
        destination: { channel: mail.id },
      }),
    );
    const due = Date.parse(s.next_runs[0]);
    await runTenantJobs(captured, tenant.tenant_id, due);
    expect(mails).toHaveLength(1);
    const parsed = await PostalMime.parse(mails[0] ?? "");
    expect(parsed.subject).toBe("[Aforo] Revenue by customer: 2 rows");
    expect(parsed.text).toContain(`/reports/${reportId}`);
    const csv = parsed.attachments[0];
    expect(csv?.mimeType).toBe("text/csv");
    const content = csv?.content;
    const text =
      typeof content === "string" ? content : new TextDecoder().decode(content as ArrayBuffer);
    // The report's own range (no `range`): acme's $5.00 of 15 days ago is in it.
    expect(text).toBe("customer,revenue\r\nacme,6.00\r\nglobex,2.00\r\n");
    expect((await runs(s.id))[0]).toMatchObject({ status: "succeeded", row_count: 2 });
  });

  it("a paused schedule does not run; resumed, it waits for its next slot", async () => {
    const hook = newHook("report-paused");
    const channel = await hookChannel(hook);
    const s = await ok(schedule({ cron: "0 * * * *", destination: { channel: channel.id } }));
    const path = `/api/reports/${reportId}/schedules/${s.id}`;
    const paused = await ok(
      call("PATCH", path, { token: tenant.operator_token, body: { enabled: false } }),
    );
    expect(paused).toMatchObject({ enabled: false, next_runs: [] });
    await runTenantJobs(env, tenant.tenant_id, Date.parse(s.next_runs[0]) + MINUTE);
    expect(await runs(s.id)).toEqual([]);
    const resumed = await ok(
      call("PATCH", path, {
        token: tenant.operator_token,
        body: { enabled: true, range: "yesterday" },
      }),
    );
    expect(resumed).toMatchObject({ enabled: true, range: "yesterday" });
    expect(resumed.next_runs[0]).toBe(s.next_runs[0]);
    const bad = await call("PATCH", path, {
      token: tenant.operator_token,
      body: { cron: "*/5 * * * *" },
    });
    expect(bad.body.errors[0]).toMatchObject({ path: "cron" });
    expect((await call("DELETE", path, { token: tenant.operator_token })).status).toBe(204);
    expect((await call("GET", `${path}/runs`, { token: tenant.operator_token })).status).toBe(404);
  });

  it("a schedule of a deleted report fails its run once, says why and stops", async () => {
    const hook = newHook("report-gone");
    const channel = await hookChannel(hook);
    const doomed = await ok(
      a.post("/api/reports", {
        name: "Doomed",
        query: {
          dataset: "usage",
          measures: ["units"],
          dimensions: [],
          time: { from: new Date(TODAY - DAY).toISOString(), to: new Date(TODAY).toISOString() },
        },
      }),
    );
    const created = await call("POST", `/api/reports/${doomed.id}/schedules`, {
      token: tenant.operator_token,
      body: { cron: "0 * * * *", destination: { channel: channel.id } },
    });
    expect(created.status).toBe(201);
    const due = Date.parse(created.body.next_runs[0]);
    expect(
      (await call("DELETE", `/api/reports/${doomed.id}`, { token: tenant.operator_token })).status,
    ).toBe(204);
    await runTenantJobs(env, tenant.tenant_id, due + MINUTE);
    await runTenantJobs(env, tenant.tenant_id, due + HOUR + MINUTE);
    const rows = (
      await env.DB.prepare(
        "SELECT status, error FROM report_runs WHERE tenant_id = ? AND schedule_id = ?",
      )
        .bind(tenant.tenant_id, created.body.id)
        .all<{ status: string; error: string }>()
    ).results;
    expect(rows).toEqual([
      { status: "failed", error: `report ${doomed.id} was deleted; the schedule is disabled` },
    ]);
    expect(await reportHooks(hook)).toHaveLength(0);
  });

  it("refuses a bad cron naming `cron` with croner's message, too frequent runs, unknown zones", async () => {
    const hook = newHook("report-bad");
    const channel = await hookChannel(hook);
    const bad = await schedule({ cron: "61 * * * *", destination: { channel: channel.id } });
    expectProblem(bad, 400, "validation_failed");
    expect(bad.body.errors).toEqual([
      { path: "cron", message: expect.stringContaining("Invalid value for minute: 61") },
    ]);
    const often = await schedule({ cron: "*/5 * * * *", destination: { channel: channel.id } });
    expect(often.status).toBe(400);
    expect(often.body.errors[0]).toMatchObject({ path: "cron", message: /every 15 minutes/ });
    const zone = await schedule({
      cron: "0 8 * * *",
      time_zone: "Mars/Olympus",
      destination: { channel: channel.id },
    });
    expect(zone.body.errors[0]).toMatchObject({ path: "time_zone" });
    const nowhere = await schedule({ cron: "0 8 * * *", destination: { channel: "ch_nope" } });
    expect(nowhere.body.errors[0]).toMatchObject({ path: "destination.channel" });
  });

  it("answers 404 for another tenant's report", async () => {
    const other = await createTenant("Elsewhere");
    const hook = newHook("report-other");
    const channel = await createChannel(other, { type: "webhook", name: "x", url: hook.url });
    const res = await schedule({ cron: "0 8 * * *", destination: { channel: channel.id } }, other);
    expectProblem(res, 404, "not_found");
  });
});
