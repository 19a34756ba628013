import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { insertShare } from "../../store/report-shares";
import { signShare } from "../../workers/report-share-token";
import { customer, DAY, isoOf, ok, plan, product, subscribe } from "./billing-helpers";
import { call, createTenant, expectProblem, type Tenant } from "./helpers";

// Share links of saved reports (issue 15 item 6, docs/reports.md "Share links"): a link opens
// without any credential and shows the report's rows as a run of its query would; it stops
// opening when it expires or is revoked; a token altered in any part (report, tenant, expiry,
// signature) is the same bare 404; the expiry is capped at 90 days; only reports:share makes
// links; and an over-used link is refused with 429.

let tenant: Tenant;
let other: Tenant;
let reportId: string;
let otherReportId: string;

const TODAY = Math.floor(Date.now() / DAY) * DAY;
const QUERY = {
  dataset: "subscriptions",
  measures: ["count"],
  dimensions: ["plan", "customer"],
  time: { from: isoOf(TODAY - 30 * DAY), to: isoOf(TODAY + DAY) },
};

const asOwner = (t: Tenant = tenant) => ({ token: t.operator_token });
const tokenOf = (url: string) => url.slice(url.lastIndexOf("/shared/") + "/shared/".length);
const open = (token: string) => call("GET", `/auth/share/reports/${token}`);

function fromB64(s: string) {
  return new TextDecoder().decode(
    Uint8Array.from(atob(s.replaceAll("-", "+").replaceAll("_", "/")), (ch) => ch.charCodeAt(0)),
  );
}
const toB64 = (s: string) =>
  btoa(String.fromCharCode(...new TextEncoder().encode(s)))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replace(/=+$/, "");

/** The token with its claims changed, its signature kept. */
function altered(token: string, change: (claims: unknown[]) => unknown[]) {
  const [payload, sig] = token.split(".") as [string, string];
  return `${toB64(JSON.stringify(change(JSON.parse(fromB64(payload)))))}.${sig}`;
}

async function share(id = reportId, body: unknown = {}) {
  const res = await call("POST", `/api/reports/${id}/share`, { ...asOwner(), body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string; url: string; expires_at: string; status: string };
}

function expectBare404(res: Awaited<ReturnType<typeof open>>) {
  expectProblem(res, 404, "not_found");
  expect(res.body.errors).toBeUndefined();
  expect(JSON.stringify(res.body)).not.toMatch(/rpt_|shr_|ten_|Shared Plans/);
}

beforeAll(async () => {
  tenant = await createTenant("Shares AI");
  other = await createTenant("Other Shares");
  for (const t of [tenant, other]) {
    await product(t);
    await plan(t, "payg", [{ type: "per_unit", metric: "input_tokens", unit_price: "0.001" }]);
    await customer(t, "acme");
    await subscribe(t, "acme", "payg", TODAY - 10 * DAY);
  }
  await customer(tenant, "globex");
  await subscribe(tenant, "globex", "payg", TODAY - 5 * DAY);
  const saved = await call("POST", "/api/reports", {
    ...asOwner(),
    body: { name: "Shared Plans", description: "Who is on which plan", query: QUERY, view: "bar" },
  });
  expect(saved.status).toBe(201);
  reportId = saved.body.id;
  const theirs = await call("POST", "/api/reports", {
    ...asOwner(other),
    body: { name: "Theirs", query: QUERY },
  });
  otherReportId = theirs.body.id;
});

describe("report share links", () => {
  it("open without a credential and show the rows a run of the report's query gives", async () => {
    const link = await share(reportId, { expires_in: 3600 });
    expect(link.url).toMatch(/^http:\/\/aforo\.test\/shared\/[\w-]+\.[\w-]+$/);
    expect(link.status).toBe("active");
    const expires = Date.parse(link.expires_at) - Date.now();
    expect(expires).toBeGreaterThan(3590_000);
    expect(expires).toBeLessThanOrEqual(3600_000);

    const res = await open(tokenOf(link.url));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({
      name: "Shared Plans",
      description: "Who is on which plan",
      view: "bar",
      currency: "USD",
      expires_at: link.expires_at,
    });
    const run = await call("POST", "/api/reports/run", { ...asOwner(), body: QUERY });
    expect(run.status).toBe(200);
    expect(res.body.result.rows).toEqual(run.body.rows);
    expect(res.body.result.rows).toHaveLength(2);
    expect(res.body.result.totals).toEqual(run.body.totals);
    // Only that report: no settings, no other report, no tenant id.
    expect(Object.keys(res.body).sort()).toEqual(
      ["currency", "description", "expires_at", "name", "result", "shared_by", "view"].sort(),
    );
    expect(JSON.stringify(res.body)).not.toContain(tenant.tenant_id);
  });

  it("lists the report's links and stops opening one the moment it is revoked", async () => {
    const link = await share();
    const token = tokenOf(link.url);
    expect((await open(token)).status).toBe(200);
    const listed = await call("GET", `/api/reports/${reportId}/shares`, asOwner());
    expect(listed.status).toBe(200);
    expect(listed.body.data.map((s: { id: string }) => s.id)).toContain(link.id);

    const revoked = await call(
      "POST",
      `/api/reports/${reportId}/shares/${link.id}/revoke`,
      asOwner(),
    );
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ id: link.id, status: "revoked" });
    expectBare404(await open(token));
    const after = await call("GET", `/api/reports/${reportId}/shares`, asOwner());
    expect(after.body.data.find((s: { id: string }) => s.id === link.id).status).toBe("revoked");
    // Both writes are in the audit log, against the report.
    for (const action of ["report.share", "report.unshare"]) {
      const audit = await call(
        "GET",
        `/api/audit?action=${action}&target_id=${reportId}`,
        asOwner(),
      );
      expect(audit.status).toBe(200);
      expect(audit.body.data.length, action).toBeGreaterThan(0);
    }
    // Revoking through another report's path does not find it.
    expectProblem(
      await call("POST", `/api/reports/${otherReportId}/shares/${link.id}/revoke`, asOwner()),
      404,
      "not_found",
    );
  });

  it("stops opening after it expires", async () => {
    const expiresAt = Date.now() - 1000;
    await insertShare(env.DB, tenant.tenant_id, {
      id: "shr_expired",
      report_id: reportId,
      expires_at: expiresAt,
      revoked_at: null,
      revoked_by: null,
      created_by: "member:owner@example.com",
      created_by_name: "Owner",
      created_at: expiresAt - 3600_000,
    });
    const token = await signShare(env, {
      tenant: tenant.tenant_id,
      report: reportId,
      share: "shr_expired",
      expiresAt,
    });
    expectBare404(await open(token as string));
    const listed = await call("GET", `/api/reports/${reportId}/shares`, asOwner());
    expect(listed.body.data.find((s: { id: string }) => s.id === "shr_expired").status).toBe(
      "expired",
    );
  });

  it("cannot be altered into another report, another tenant or a later expiry", async () => {
    const link = await share(reportId, { expires_in: 600 });
    const token = tokenOf(link.url);
    expect((await open(token)).status).toBe(200);
    const attempts = [
      altered(token, ([t, _r, s, e]) => [t, otherReportId, s, e]),
      altered(token, ([_t, r, s, e]) => [other.tenant_id, r, s, e]),
      altered(token, ([t, r, s, e]) => [t, r, s, (e as number) + 90 * DAY]),
      `${token.slice(0, -2)}${token.at(-2) === "A" ? "B" : "A"}${token.at(-1)}`,
      token.split(".")[0] as string,
      "not-a-token",
    ];
    for (const bad of attempts) expectBare404(await open(bad));
    // Even correctly signed, a token must match its stored row: another expiry does not open.
    const resigned = await signShare(env, {
      tenant: tenant.tenant_id,
      report: reportId,
      share: link.id,
      expiresAt: Date.parse(link.expires_at) + DAY,
    });
    expectBare404(await open(resigned as string));
  });

  it("refuses an expiry over 90 days, naming expires_in, and an unknown report", async () => {
    const res = await call("POST", `/api/reports/${reportId}/share`, {
      ...asOwner(),
      body: { expires_in: 90 * 24 * 3600 + 1 },
    });
    expectProblem(res, 400, "validation_failed");
    expect(res.body.errors.map((e: { path: string }) => e.path)).toEqual(["expires_in"]);
    const at90 = await share(reportId, { expires_in: 90 * 24 * 3600 });
    expect(Date.parse(at90.expires_at) - Date.now()).toBeGreaterThan(90 * DAY - 60_000);
    const dflt = await share(reportId, {});
    expect(Date.parse(dflt.expires_at) - Date.now()).toBeGreaterThan(7 * DAY - 60_000);
    expectProblem(
      await call("POST", `/api/reports/${otherReportId}/share`, { ...asOwner(), body: {} }),
      404,
      "not_found",
    );
  });

  it("is refused to a viewer (403 naming reports:share), who cannot list links either", async () => {
    const viewer = await ok(
      call("POST", "/api/keys", { ...asOwner(), body: { kind: "operator", role: "viewer" } }),
    );
    const res = await call("POST", `/api/reports/${reportId}/share`, {
      token: (viewer as { key: string }).key,
      body: {},
    });
    expectProblem(res, 403, "forbidden");
    expect(res.body.detail).toContain("reports:share");
    expectProblem(
      await call("GET", `/api/reports/${reportId}/shares`, {
        token: (viewer as { key: string }).key,
      }),
      403,
      "forbidden",
    );
  });

  it("answers 429 once a link is opened more than 60 times in a minute", async () => {
    const link = await share();
    const token = tokenOf(link.url);
    expect((await open(token)).status).toBe(200);
    // Fill this minute's window, then open once more (again if a minute boundary came between).
    let res = await open(token);
    for (let i = 0; i < 3; i++) {
      const now = Date.now();
      await env.DB.prepare(
        "UPDATE report_shares SET window_start = ?, window_hits = 60 WHERE tenant_id = ? AND id = ?",
      )
        .bind(now - (now % 60_000), tenant.tenant_id, link.id)
        .run();
      res = await open(token);
      if (Math.floor(Date.now() / 60_000) === Math.floor(now / 60_000)) break;
    }
    expectProblem(res, 429, "rate_limited");
    // Another link of the same report has its own window.
    expect((await open(tokenOf((await share()).url))).status).toBe(200);
  });
});
