// Operator accounts in a real browser (issue 13), on a seeded stack at http://localhost (passkeys
// need a domain name, not 127.0.0.1): an invited member signs in by the link in the e-mail the
// local send_email binding wrote (.eml, parsed with postal-mime), the session survives a reload
// and dies at sign-out; the member adds a passkey through Chromium's virtual authenticator and
// signs in with it; a revops member executes a case's rung and the trail names them; a viewer
// finds the auto-action switches disabled with the reason and the API refuses them too; the
// owner manages members and reads the audit log. Screenshots: sign-in-email, account, members,
// audit, case-trail-person, policies-viewer.

import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import PostalMime from "postal-mime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, request } from "../../scripts/lib/stack.mjs";
import { type Browser, launchBrowser, screenshot, signInWithToken } from "./browser";
import { type Stack, startSeededStack } from "./stack";

let stack: Stack;
/** The stack's address on `localhost` (the WebAuthn relying party is the host name). */
let url: string;
const started = Date.now();

const REVOPS = { email: "rosa@example.com", name: "Rosa Revops", role: "revops" };
const VIEWER = { email: "vic@example.com", name: "Vic Viewer", role: "viewer" };

// biome-ignore lint/suspicious/noExplicitAny: JSON answers of the API under test
const api = (path: string, init: { method?: string; body?: unknown } = {}): Promise<any> =>
  request(`${url}${path}`, { ...init, token: stack.operatorToken });

/** Where miniflare writes what the send_email binding sends: one .eml per message. */
const MAIL_DIR = join(ROOT, ".wrangler", "tmp", "email");

function emlFiles(): { path: string; mtime: number }[] {
  const out: { path: string; mtime: number }[] = [];
  let instances: string[] = [];
  try {
    instances = readdirSync(MAIL_DIR);
  } catch {
    return out;
  }
  for (const instance of instances) {
    const dir = join(MAIL_DIR, instance, "email");
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      if (!name.endsWith(".eml")) continue;
      const path = join(dir, name);
      out.push({ path, mtime: statSync(path).mtimeMs });
    }
  }
  return out;
}

/** The sign-in link of the newest message to `to` written after `since` (polls: the binding
 * writes the file just after it answers). */
async function mailedLink(to: string, since: number): Promise<string> {
  const deadline = Date.now() + 20_000;
  const seen = new Set<string>();
  while (Date.now() < deadline) {
    const fresh = emlFiles()
      .filter((f) => f.mtime >= since - 1000 && !seen.has(f.path))
      .sort((a, b) => b.mtime - a.mtime);
    for (const f of fresh) {
      const mail = await PostalMime.parse(readFileSync(f.path));
      if (!mail.to?.some((a) => a.address === to)) {
        seen.add(f.path);
        continue;
      }
      const link = /https?:\/\/\S+\/sign-in\?link=[A-Za-z0-9_-]+/.exec(mail.text ?? "")?.[0];
      expect(link, `the e-mail to ${to} carries a sign-in link`).toBeTruthy();
      return link ?? "";
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`no e-mail to ${to} since ${new Date(since).toISOString()} in ${MAIL_DIR}`);
}

async function signInByLink(page: Page, link: string, who: { name: string; role: string }) {
  await page.goto(link);
  const whoami = page.getByTestId("whoami");
  await whoami.waitFor();
  expect(await whoami.textContent()).toContain(who.name);
  expect(await whoami.textContent()).toContain(who.role);
  // The link is spent and taken out of the address.
  expect(new URL(page.url()).pathname).toBe("/cockpit");
}

async function sessionCookie(context: BrowserContext) {
  return (await context.cookies(url)).find((c) => c.name === "aforo_session");
}

/** A case whose ladder waits for an operator at THROTTLE (margin L2 or pacing 120 %). */
async function caseWithQueuedThrottle() {
  const all = await api("/api/cases?status=open&sort=level&limit=200");
  for (const c of all.data) {
    const d = await api(`/api/cases/${c.id}`);
    const queued = d.ladder.some(
      (s: { rung: string; state: string }) => s.rung === "THROTTLE" && s.state === "queued",
    );
    if (queued) return d as { id: string; customer: string };
  }
  throw new Error("the demo slice has no case with a queued THROTTLE");
}

let revops: Browser;
let viewer: Browser;
let owner: Browser;

beforeAll(async () => {
  stack = await startSeededStack((line) => console.log(`[accounts browser tests] ${line}`));
  url = stack.url.replace("//127.0.0.1:", "//localhost:");
  for (const m of [REVOPS, VIEWER]) {
    const invited = await api("/api/members", { method: "POST", body: m });
    expect(invited).toMatchObject({ email: m.email, role: m.role, status: "invited" });
  }
  [revops, viewer, owner] = await Promise.all([launchBrowser(), launchBrowser(), launchBrowser()]);
}, 600_000);

afterAll(async () => {
  await Promise.all([revops?.close(), viewer?.close(), owner?.close()]);
  await stack?.stop();
});

describe("operator accounts in the browser", () => {
  it("an invited member signs in by the e-mailed link; the session survives a reload and dies at sign-out", async () => {
    const page = await revops.newPage();
    const link = await mailedLink(REVOPS.email, started);
    await signInByLink(page, link, REVOPS);

    const cookie = await sessionCookie(revops.context);
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: "Strict", path: "/" });
    // The page cannot read it: it is HttpOnly.
    expect(
      await page.evaluate(
        () => (globalThis as unknown as { document: { cookie: string } }).document.cookie,
      ),
    ).not.toContain("aforo_session");

    await page.reload();
    await page.getByTestId("whoami").waitFor();
    expect(await page.getByTestId("whoami").textContent()).toContain(REVOPS.name);

    // The link worked once.
    const again = await revops.newPage({ track: false });
    await again.goto(link);
    await again.getByText("already used or expired").waitFor();
    await again.close();

    await page.getByRole("button", { name: "Sign out", exact: true }).click();
    await page.getByText("Signed out.").waitFor();
    await page.reload();
    await page.getByRole("heading", { name: "Sign in with your e-mail" }).waitFor();
    // The old cookie is dead on the server, not just forgotten by the browser.
    const replay = await fetch(`${url}/api/me`, {
      headers: { cookie: `aforo_session=${cookie?.value}` },
    });
    expect(replay.status).toBe(401);

    // Asking for a new link on the sign-in page: the answer does not say whether the address
    // is known; the message arrives.
    const asked = Date.now();
    await page.getByLabel("E-mail address").fill(REVOPS.email);
    await page.getByRole("button", { name: "E-mail me a sign-in link" }).click();
    await page.getByTestId("link-sent").waitFor();
    await screenshot(page, "sign-in-email");
    await signInByLink(page, await mailedLink(REVOPS.email, asked), REVOPS);
    await page.close();
  });

  it("a member adds a passkey with Chromium's virtual authenticator and signs in with it", async () => {
    const page = await revops.newPage();
    const cdp = await revops.context.newCDPSession(page);
    await cdp.send("WebAuthn.enable");
    const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
      options: {
        protocol: "ctap2",
        transport: "internal",
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    });
    await page.goto(`${url}/settings/account`);
    await page.getByRole("heading", { name: "Passkeys" }).waitFor();
    await page.getByText("No passkey yet").waitFor();
    await page.getByLabel("Passkey name (optional)").fill("Test laptop");
    await page.getByRole("button", { name: "Add a passkey" }).click();
    await page.getByText("Passkey Test laptop added").waitFor();
    await page.getByTestId("passkeys").getByText("Test laptop").waitFor();
    await screenshot(page, "account");
    // The authenticator holds one discoverable credential for this relying party.
    const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
    expect(credentials.map((c) => [c.rpId, c.isResidentCredential])).toEqual([["localhost", true]]);

    await page.getByRole("button", { name: "Sign out", exact: true }).click();
    await page.getByText("Signed out.").waitFor();
    await page.getByRole("button", { name: "Sign in with a passkey" }).click();
    await page.getByTestId("whoami").waitFor();
    expect(await page.getByTestId("whoami").textContent()).toContain(REVOPS.name);

    const audit = await api(`/api/audit?actor=${encodeURIComponent(REVOPS.email)}&limit=200`);
    const actions = audit.data.map((e: { action: string }) => e.action);
    expect(actions).toContain("passkey.register");
    expect(
      audit.data.some(
        (e: { action: string; detail: { method?: string } }) =>
          e.action === "session.sign_in" && e.detail.method === "passkey",
      ),
    ).toBe(true);
    await page.close();
  });

  it("a revops member executes a case's rung and the trail names them", async () => {
    const target = await caseWithQueuedThrottle();
    const page = await revops.newPage();
    await page.goto(`${url}/signals?case=${target.id}`);
    const panel = page.getByTestId("case-panel");
    await panel.waitFor();
    const throttle = panel.locator('[data-testid="case-ladder"] li[data-rung="THROTTLE"]');
    await throttle.getByRole("button", { name: "Execute" }).first().click();
    const dialog = page.getByRole("dialog");
    await dialog.getByText("under your name").waitFor();
    await dialog.getByRole("button", { name: "Execute" }).click();
    await throttle.getByTestId("step-state").filter({ hasText: "executed" }).waitFor();
    const trail = panel.getByTestId("trail");
    await trail.getByText(REVOPS.email).first().waitFor();
    await trail.scrollIntoViewIfNeeded();
    await screenshot(page, "case-trail-person");

    const steps = await api(`/api/actions?customer=${encodeURIComponent(target.customer)}`);
    expect(
      steps.data.some(
        (s: { actor: string; step: string }) =>
          s.actor === `member:${REVOPS.email}` && s.step === "executed",
      ),
      "orchestration_actions names the member who executed",
    ).toBe(true);
    const audit = await api("/api/audit?action=action.execute");
    expect(audit.data[0]).toMatchObject({
      actor: `member:${REVOPS.email}`,
      actor_name: REVOPS.name,
      actor_role: "revops",
    });

    // Back as it was, for the tests after this one.
    await throttle.getByRole("button", { name: "Reverse" }).first().click();
    await dialog.getByRole("button", { name: "Reverse" }).click();
    await panel.getByTestId("gate-tier").filter({ hasText: "normal" }).waitFor();
    await page.close();
  });

  it("a viewer cannot flip an auto-action, work a case or manage members, and is told why", async () => {
    const page = await viewer.newPage();
    await signInByLink(page, await mailedLink(VIEWER.email, started), VIEWER);

    await page.goto(`${url}/policies`);
    const alert = page.getByRole("switch").first();
    await alert.waitFor();
    expect(await alert.isDisabled()).toBe(true);
    const before = await alert.isChecked();
    await alert.click({ force: true });
    expect(await alert.isChecked()).toBe(before);
    expect(await page.getByRole("button", { name: "Save policy" }).isDisabled()).toBe(true);
    expect(await page.getByTestId("refused").textContent()).toContain(
      "may not change detector policies and switch auto-actions on or off",
    );
    await screenshot(page, "policies-viewer");

    // The API says the same, whatever the page shows: a 403 naming the permission.
    const me = (await page.evaluate(async () => (await fetch("/api/me")).json())) as {
      csrf_token: string;
      permissions: string[];
    };
    expect(me.permissions).toEqual(["read"]);
    const refused = (await page.evaluate(async (csrf) => {
      const res = await fetch("/api/policies", {
        method: "PUT",
        headers: { "content-type": "application/json", "x-csrf-token": csrf },
        body: JSON.stringify({ scope: "tenant", policy: { auto_actions: { ALERT: true } } }),
      });
      return { status: res.status, type: res.headers.get("content-type"), body: await res.json() };
    }, me.csrf_token)) as { status: number; type: string; body: { code: string; detail: string } };
    expect(refused.status).toBe(403);
    expect(refused.type).toContain("application/problem+json");
    expect(refused.body.code).toBe("forbidden");
    expect(refused.body.detail).toContain("policies:write");

    const target = await caseWithQueuedThrottle();
    await page.goto(`${url}/signals?case=${target.id}`);
    const panel = page.getByTestId("case-panel");
    await panel.waitFor();
    const execute = panel
      .locator('[data-testid="case-ladder"] li[data-rung="THROTTLE"]')
      .getByRole("button", { name: "Execute" })
      .first();
    expect(await execute.isDisabled()).toBe(true);
    expect(await execute.getAttribute("title")).toContain("may not resolve and reopen cases");
    expect(await panel.getByRole("button", { name: "Resolve…" }).isDisabled()).toBe(true);

    await page.goto(`${url}/settings/members`);
    await page.getByTestId("refused-members").waitFor();
    expect(await page.getByRole("button", { name: "Send invitation" }).count()).toBe(0);
    await page.goto(`${url}/settings/audit`);
    await page.getByTestId("refused-audit").waitFor();
    await page.close();
  });

  it("the owner invites, changes a role and reads who did what in the audit log", async () => {
    const page = await owner.newPage();
    await page.goto(`${url}/settings/members`);
    await signInWithToken(page, stack.operatorToken);
    const table = page.getByTestId("members");
    await table.locator(`[data-member="${VIEWER.email}"]`).waitFor();

    const asked = Date.now();
    await page.getByLabel("E-mail").fill("not-an-address");
    await page.getByRole("button", { name: "Send invitation" }).click();
    await page.locator("#err-email").waitFor();
    await page.getByLabel("E-mail").fill("fin@example.com");
    await page.locator(".invite-form select[name=role]").selectOption("finance");
    await page.getByRole("button", { name: "Send invitation" }).click();
    await page.getByText("Invited fin@example.com as finance").waitFor();
    await table.locator('[data-member="fin@example.com"]').waitFor();
    expect(await mailedLink("fin@example.com", asked)).toContain("/sign-in?link=");

    // The viewer becomes finance; their open session follows at once.
    await page.getByLabel(`Role of ${VIEWER.email}`).selectOption("finance");
    await page.waitForFunction(async (email) => {
      const res = await fetch("/api/members", {
        headers: {
          authorization: `Bearer ${(globalThis as unknown as { sessionStorage: Storage }).sessionStorage.getItem("aforo.operator_token")}`,
        },
      });
      const list = (await res.json()) as { data: { email: string; role: string }[] };
      return list.data.find((m) => m.email === email)?.role === "finance";
    }, VIEWER.email);
    await screenshot(page, "members");

    await page.goto(`${url}/settings/audit?action=action`);
    const audit = page.getByTestId("audit");
    await audit.waitFor();
    const executed = audit.locator('tr[data-action="action.execute"]').first();
    await executed.waitFor();
    expect(await executed.textContent()).toContain(REVOPS.email);
    await page.goto(`${url}/settings/audit`);
    await audit.locator('tr[data-action="member.update"]').first().waitFor();
    expect(await audit.locator('tr[data-action="member.invite"]').count()).toBeGreaterThanOrEqual(
      3,
    );
    await screenshot(page, "audit");
    // The only console errors are the browser's notes of the refusals the test asked for.
    expect(owner.errors.filter((e) => !/status of 400/.test(e))).toEqual([]);
    expect(revops.errors.filter((e) => !/status of 40[13]/.test(e))).toEqual([]);
    expect(viewer.errors.filter((e) => !/status of 403/.test(e))).toEqual([]);
    await page.close();
  });
});
