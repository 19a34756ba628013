// Security headers on a real `wrangler dev` (issue 11, defect 6): the dashboard's come from
// pages/public/_headers through the static-assets router (which answers before the worker), the
// API's from the worker; and the dashboard still renders every page under its CSP in chromium.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  applyMigrations,
  buildDashboard,
  ensureDevVars,
  ROOT,
  request,
  type Stack,
  startWrangler,
} from "../../scripts/lib/stack.mjs";
import { launchBrowser } from "../browser/browser";

const PORT = 8798;
const persistTo = mkdtempSync(join(tmpdir(), "aforo-headers-"));
let stack: Stack | undefined;
let operatorToken = "";

beforeAll(async () => {
  // The build copies pages/public/_headers into pages/dist; rebuild when dist has another one.
  const source = readFileSync(join(ROOT, "pages", "public", "_headers"), "utf8");
  const built = join(ROOT, "pages", "dist", "_headers");
  if (!existsSync(built) || readFileSync(built, "utf8") !== source) buildDashboard(true);
  const { adminToken } = ensureDevVars();
  applyMigrations(persistTo, true);
  stack = await startWrangler({ port: PORT, persistTo, quiet: true });
  const tenant = await request(`${stack.url}/admin/tenants`, {
    method: "POST",
    token: adminToken,
    body: { name: "Headers" },
  });
  operatorToken = tenant.operator_token;
});

afterAll(async () => {
  await stack?.stop();
  rmSync(persistTo, { recursive: true, force: true });
});

const COMMON = {
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
};

async function headersOf(path: string, init: RequestInit = {}) {
  const res = await fetch(`${stack?.url}${path}`, init);
  const body = await res.text();
  return { status: res.status, headers: res.headers, body };
}

describe("security headers under wrangler dev", () => {
  it("serves the dashboard (index, SPA routes, bundles) with _headers' CSP and no HSTS", async () => {
    const index = await headersOf("/");
    expect(index.status).toBe(200);
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(index.body)?.[1];
    const style = /href="(\/assets\/[^"]+\.css)"/.exec(index.body)?.[1];
    expect(script && style, index.body).toBeTruthy();
    for (const path of ["/", "/cockpit?months=12", "/signals", script, style]) {
      const res = await headersOf(path as string);
      expect(res.status, path).toBe(200);
      for (const [name, value] of Object.entries(COMMON)) {
        expect(res.headers.get(name), `${path} ${name}`).toBe(value);
      }
      const csp = res.headers.get("content-security-policy") ?? "";
      expect(csp, path).toContain("default-src 'none'");
      expect(csp, path).toContain("script-src 'self'");
      expect(csp, path).toContain("connect-src 'self'");
      expect(csp, path).toContain("frame-ancestors 'none'");
      expect(csp, path).not.toContain("unsafe");
      expect(res.headers.get("strict-transport-security"), path).toBeNull();
    }
    // _headers itself is configuration, not an asset.
    const file = await headersOf("/_headers");
    expect(file.body).not.toContain("Content-Security-Policy");
  });

  it("answers /api, /v1, /admin and /healthz with the worker's headers, errors included", async () => {
    const auth = { authorization: `Bearer ${operatorToken}` };
    const cases: [string, RequestInit, number][] = [
      ["/healthz", {}, 200],
      ["/openapi.json", {}, 200],
      ["/api/products", { headers: auth }, 200],
      ["/api/products", {}, 401],
      ["/v1/gate", { method: "POST" }, 401],
      ["/admin/tenants", { method: "POST" }, 401],
      [
        "/api/products",
        {
          method: "POST",
          headers: { ...auth, "content-type": "application/json" },
          body: JSON.stringify({ id: "big", name: "x".repeat(2 * 1024 * 1024) }),
        },
        413,
      ],
    ];
    for (const [path, init, status] of cases) {
      const res = await headersOf(path, init);
      const what = `${init.method ?? "GET"} ${path}`;
      expect(res.status, `${what} ${res.body.slice(0, 200)}`).toBe(status);
      for (const [name, value] of Object.entries(COMMON)) {
        expect(res.headers.get(name), `${what} ${name}`).toBe(value);
      }
      const csp = res.headers.get("content-security-policy") ?? "";
      expect(csp, what).toContain("default-src 'none'");
      expect(csp, what).toContain("sandbox");
      expect(res.headers.get("strict-transport-security"), what).toBeNull();
      if (status >= 400) expect(res.headers.get("content-type")).toBe("application/problem+json");
    }
  });

  it("renders every dashboard page in chromium without a CSP violation or console error", async () => {
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage();
      const violations: string[] = [];
      await page.exposeFunction("reportViolation", (v: string) => violations.push(v));
      // A page script (a string: this file is compiled without the DOM's types).
      await page.addInitScript(`document.addEventListener("securitypolicyviolation", (e) =>
        window.reportViolation(e.violatedDirective + " " + e.blockedURI));`);
      await page.goto(`${stack?.url}/#token=${operatorToken}`);
      await page.waitForSelector("nav", { timeout: 30_000 });
      for (const path of ["/cockpit", "/margin", "/signals", "/live", "/catalog", "/policies"]) {
        await page.goto(`${stack?.url}${path}`);
        await page.waitForSelector("main", { timeout: 30_000 });
        // Charts load on first use (a dynamic import and its stylesheet): let them arrive.
        await page.waitForLoadState("networkidle", { timeout: 10_000 }).catch(() => {});
      }
      expect(violations).toEqual([]);
      expect(browser.errors).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
