import { beforeEach, describe, expect, it } from "vitest";
import { retryPlan } from "../../domain/dunning";
import {
  api,
  clockSettled,
  customer,
  DAY,
  HOUR,
  isoOf,
  monthStart,
  ok,
  plan,
  product,
  subscribe,
} from "./billing-helpers";
import { type Call, call, createTenant, expectProblem, type Tenant } from "./helpers";

// Settings → Payments (issue 14): the tenant's Adaptive Retry policy after creation.
// GET /api/payments/retry-policy answers the effective policy; PUT replaces it for retries
// planned from then on, behind invoices:write, recorded in the audit log.

let tenant: Tenant;
let a: ReturnType<typeof api>;
let invoiceId: string;
const NOW = Date.now();
const PATH = "/api/payments/retry-policy";

beforeEach(async () => {
  tenant = await createTenant();
  a = api(tenant);
  await clockSettled(tenant);
  await product(tenant);
  await plan(tenant, "starter", [{ type: "flat", amount: "50" }]);
  await customer(tenant, "acme");
  await subscribe(tenant, "acme", "starter", monthStart(NOW, -3));
  invoiceId = (await ok(a.post("/api/invoices/run", { as_of: isoOf(monthStart(NOW, -2)) })))
    .invoice_ids[0];
});

const put = (body: unknown, token = tenant.operator_token) => call("PUT", PATH, { token, body });
const fail = async (reference: string, at: number) => {
  const res = await call("POST", `/api/invoices/${invoiceId}/payments`, {
    token: tenant.operator_token,
    body: { status: "failed", decline_code: "insufficient_funds", at: isoOf(at), reference },
  });
  expect(res.status).toBe(201);
  return res.body.retries as { planned_by: string; attempts: { due_at: string }[] };
};
async function tokenFor(role: string): Promise<string> {
  const issued = await call("POST", "/api/keys", {
    token: tenant.operator_token,
    body: { kind: "operator", role, name: `${role} token` },
  });
  expect(issued.status).toBe(201);
  return issued.body.key;
}
const fieldsOf = (res: Call) => (res.body.errors ?? []).map((e: { path: string }) => e.path);

const DEFAULTS = { max_attempts: 8, window_days: 28, time_zone: "UTC", default_hour: 10 };

describe("GET /api/payments/retry-policy", () => {
  it("answers the defaults, each marked as the default, for a tenant created without a policy", async () => {
    const res = await call("GET", PATH, { token: tenant.operator_token });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      ...DEFAULTS,
      defaults: DEFAULTS,
      is_default: { max_attempts: true, window_days: true, time_zone: true, default_hour: true },
    });
  });
});

describe("PUT /api/payments/retry-policy", () => {
  it("replaces the policy for retries planned afterwards; a schedule already planned keeps its own", async () => {
    const before = await fail("pi_before", NOW - 2 * HOUR);
    expect(before.attempts.length).toBeGreaterThanOrEqual(6);

    const res = await put({
      max_attempts: 2,
      window_days: 14,
      time_zone: "Asia/Tokyo",
      default_hour: 15,
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      max_attempts: 2,
      window_days: 14,
      time_zone: "Asia/Tokyo",
      default_hour: 15,
      defaults: DEFAULTS,
      is_default: {
        max_attempts: false,
        window_days: false,
        time_zone: false,
        default_hour: false,
      },
    });
    expect((await call("GET", PATH, { token: tenant.operator_token })).body).toEqual(res.body);

    // The schedule planned before the change is untouched.
    const kept = await ok(a.get(`/api/invoices/${invoiceId}/retries`));
    expect(kept.planned_by).toBe(before.planned_by);
    expect(kept.attempts.map((r: { due_at: string }) => r.due_at)).toEqual(
      before.attempts.map((r) => r.due_at),
    );

    // A new failure is planned with the new policy: at most 2 retries, within 14 days, at
    // 15:00 Tokyo on weekdays.
    const failedAt = NOW - HOUR;
    const after = await fail("pi_after", failedAt);
    expect(after.planned_by).not.toBe(before.planned_by);
    expect(after.attempts.length).toBeGreaterThanOrEqual(1);
    expect(after.attempts.length).toBeLessThanOrEqual(2);
    expect(after.attempts.map((r) => r.due_at)).toEqual(
      retryPlan({
        failedAt,
        declineCode: "insufficient_funds",
        policy: { max_attempts: 2, window_days: 14, time_zone: "Asia/Tokyo", default_hour: 15 },
      }).attempts.map(isoOf),
    );
    const tokyo = new Intl.DateTimeFormat("en-US", {
      timeZone: "Asia/Tokyo",
      weekday: "short",
      hour: "numeric",
      minute: "numeric",
      hourCycle: "h23",
    });
    for (const { due_at } of after.attempts) {
      const t = Date.parse(due_at);
      expect(t).toBeGreaterThan(failedAt);
      expect(t).toBeLessThanOrEqual(failedAt + 14 * DAY);
      const parts = Object.fromEntries(tokyo.formatToParts(t).map((p) => [p.type, p.value]));
      expect([parts.hour, parts.minute]).toEqual(["15", "00"]);
      expect(["Mon", "Tue", "Wed", "Thu", "Fri"]).toContain(parts.weekday);
    }

    // The audit log says who changed it, and to what.
    const audit = await call("GET", "/api/audit?action=payments.retry_policy", {
      token: tenant.operator_token,
    });
    expect(audit.status).toBe(200);
    expect(audit.body.data).toHaveLength(1);
    expect(audit.body.data[0]).toMatchObject({
      action: "payments.retry_policy",
      detail: { body: { max_attempts: 2, time_zone: "Asia/Tokyo" }, status: 200 },
    });
  });

  it("a field left out returns to its default (PUT replaces the whole policy)", async () => {
    expect((await put({ max_attempts: 3, default_hour: 7 })).status).toBe(200);
    const res = await put({ max_attempts: 5 });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ ...DEFAULTS, max_attempts: 5 });
    expect(res.body.is_default).toEqual({
      max_attempts: false,
      window_days: true,
      time_zone: true,
      default_hour: true,
    });
  });

  it("refuses bad input with a 400 problem+json naming each field, and keeps the policy", async () => {
    expect((await put({ max_attempts: 4 })).status).toBe(200);

    const zone = await put({ time_zone: "Mars/Olympus_Mons" });
    expectProblem(zone, 400, "validation_failed");
    expect(fieldsOf(zone)).toEqual(["time_zone"]);
    expect(zone.body.detail).toMatch(/IANA time zone/);

    const negative = await put({ max_attempts: -1 });
    expectProblem(negative, 400, "validation_failed");
    expect(fieldsOf(negative)).toEqual(["max_attempts"]);

    const several = await put({ max_attempts: 9, window_days: 0, default_hour: 24 });
    expectProblem(several, 400, "validation_failed");
    expect(fieldsOf(several).sort()).toEqual(["default_hour", "max_attempts", "window_days"]);

    // A misspelt field is refused, not silently replaced by the default.
    const typo = await put({ max_attempt: 2 });
    expectProblem(typo, 400, "validation_failed");
    expect(JSON.stringify(typo.body.errors)).toContain("max_attempt");

    const now = await call("GET", PATH, { token: tenant.operator_token });
    expect(now.body).toMatchObject({ ...DEFAULTS, max_attempts: 4 });
  });

  it("is refused to a viewer (403, naming invoices:write) and allowed to finance", async () => {
    const viewer = await tokenFor("viewer");
    expect((await call("GET", PATH, { token: viewer })).status).toBe(200);
    const refused = await put({ max_attempts: 1 }, viewer);
    expectProblem(refused, 403, "forbidden");
    expect(refused.body.detail).toContain("invoices:write");
    expect((await call("GET", PATH, { token: viewer })).body.max_attempts).toBe(8);

    const finance = await tokenFor("finance");
    const allowed = await put({ max_attempts: 1 }, finance);
    expect(allowed.status).toBe(200);
    expect(allowed.body.max_attempts).toBe(1);
  });
});
