import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import { beforeEach, describe, expect, inject, it } from "vitest";
import type { Signal } from "../../domain/detectors";
import type { OutboxMessage } from "../../durable-objects/customer-actor";
import worker from "../../workers/index";
import { keyLog, scriptKey } from "../messages-api/client";
import type { Step } from "../messages-api/server";
import { call, createCatalog, createTenant, expectProblem, type Tenant } from "./helpers";

// The signal explainer on a case (issue 18 item 4): POST /api/cases/:id/explain gives the case in
// words with the detector's numbers and the sums behind them, and proposes the next rung — the
// queued action an operator may execute, never executed by the explainer. With a key the model
// words it (against the local Messages API server), offered no tool; a wording with a number of
// its own, no key, or a spent budget fall back to the template's paragraph and say why.

let tenant: Tenant;
let seq = 0;
const op = () => ({ token: tenant.operator_token });
const messagesApi = () => `http://127.0.0.1:${inject("messagesApiPort")}`;

beforeEach(async () => {
  tenant = await createTenant();
  await createCatalog(tenant);
});

async function consume(signals: Signal[]) {
  const body: OutboxMessage = {
    batch_id: `explain-${++seq}`,
    tenant_id: tenant.tenant_id,
    customer_id: "acme",
    deltas: [],
    signals,
  };
  const batch = createMessageBatch<OutboxMessage>("aforo-events", [
    { id: `m-${++seq}`, timestamp: new Date(), attempts: 1, body },
  ]);
  const ctx = createExecutionContext();
  await worker.queue(batch, env, ctx);
  expect((await getQueueResult(batch, ctx)).ackAll).toBe(true);
}

const PERIOD = { start: Date.UTC(2026, 10, 1), end: Date.UTC(2026, 11, 1) };
const margin = (level: "L1" | "L2"): Signal => ({
  detector: "MarginGuard",
  idempotency_key: `explain|margin|${level}`,
  customer: "acme",
  product: "chat-api",
  window: PERIOD,
  magnitude: level === "L1" ? 90 : 210,
  details: {
    level,
    level_threshold: level === "L1" ? 0.2 : 0.3,
    margin: 0.125,
    margin_pct: 12.5,
    revenue: 1200,
    cogs: 1050,
    shortfall: level === "L1" ? 90 : 210,
  },
  source_event_ids: [],
});

async function marginCase(): Promise<string> {
  await consume([margin("L1"), margin("L2")]);
  const list = (await call("GET", "/api/cases?detector=MarginGuard", op())).body;
  expect(list.data).toHaveLength(1);
  return list.data[0].id;
}

const explain = (id: string) => call("POST", `/api/cases/${id}/explain`, op());

async function withKey(steps: Step[]): Promise<string> {
  const key = `sk-ant-test-${crypto.randomUUID()}`;
  const put = await call("PUT", "/api/ai/settings", { ...op(), body: { api_key: key } });
  expect(put.status).toBe(200);
  await scriptKey(messagesApi(), key, steps);
  return key;
}

const serverLog = (key: string) => keyLog(messagesApi(), key);

describe("POST /api/cases/:id/explain", () => {
  it("with no key: the numbers, the margin arithmetic and the queued rung, from templates", async () => {
    const id = await marginCase();
    const res = await explain(id);
    expect(res.status).toBe(200);
    const e = res.body;
    expect(e).toMatchObject({ case_id: id, source: "template" });
    expect(e.note).toMatch(/key/i);
    expect(e.figures).toContainEqual({ label: "Revenue, period to date", value: "$1,200.00" });
    expect(e.figures).toContainEqual({ label: "COGS, period to date", value: "$1,050.00" });
    expect(e.arithmetic[0]).toBe(
      "margin = (revenue − COGS) / revenue = ($1,200.00 − $1,050.00) / $1,200.00 = 12.5 %",
    );
    expect(e.narrative).toContain("margin 12.5%");
    // The proposal is the ladder's own next rung: the same step GET /api/cases/:id shows.
    const detail = (await call("GET", `/api/cases/${id}`, op())).body;
    const next = detail.ladder.find(
      (s: { state: string }) => !["executed", "no_channel", "failed", "reversed"].includes(s.state),
    );
    expect(e.next_step.rung).toBe(next?.rung ?? null);
    if (next?.state === "queued") {
      expect(e.next_step).toMatchObject({
        proposal: "execute_queued",
        action_id: next.action_ids[0],
      });
    }
    // Explaining executed nothing: every action is as the ladder left it.
    const after = (await call("GET", `/api/cases/${id}`, op())).body;
    expect(after.actions).toEqual(detail.actions);
  });

  it("with a key: the model words the figures, offered no tool", async () => {
    const id = await marginCase();
    const words =
      "Acme's chat-api margin is 12.5 % this month: $1,050.00 of COGS against $1,200.00 of revenue, below the 30 % floor.";
    const key = await withKey([{ content: [{ type: "text", text: words }] }]);
    const res = await explain(id);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ source: "ai", narrative: words, note: null });
    const log = await serverLog(key);
    expect(log).toHaveLength(1);
    const [sent] = log;
    expect(sent?.body.tools ?? []).toEqual([]);
    expect(JSON.stringify(sent?.body.messages)).toContain("$1,200.00");
    const usage = (await call("GET", "/api/ai/usage?feature=signal_explainer", op())).body;
    expect(JSON.stringify(usage)).toContain("signal_explainer");
  });

  it("drops a wording with a number that is not Aforo's for the template's", async () => {
    const id = await marginCase();
    await withKey([
      {
        content: [{ type: "text", text: "The margin fell 40 % since last month; block them now." }],
      },
    ]);
    const res = await explain(id);
    expect(res.body.source).toBe("template");
    expect(res.body.note).toContain("not among Aforo's figures");
    expect(res.body.narrative).toContain("margin 12.5%");
  });

  it("answers with the template when the API fails, and 404s another tenant's case", async () => {
    const id = await marginCase();
    await withKey([{ error: 400, message: "bad request" }]);
    const res = await explain(id);
    expect(res.status).toBe(200);
    expect(res.body.source).toBe("template");
    expect(res.body.note).toBeTruthy();
    const other = await createTenant("Other");
    expectProblem(
      await call("POST", `/api/cases/${id}/explain`, { token: other.operator_token }),
      404,
      "not_found",
    );
  });
});
